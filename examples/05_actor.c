// SPDX-License-Identifier: MIT
/*
 * The seed's actor, across processes: the actor is a process of its own
 * that owns its state and serves requests from a channel.  Each request
 * carries the sender of its reply channel inside the message, as Rust's
 * Sender<(Request, Sender<Response>)> does: no socket, no fd numbers.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsc.h>

/* The actor: answer each request on the channel that came with it. */
static int my_actor(int requests)
{
	char text[64], response[96];
	unsigned int nfds;
	int fds[MPSC_MAX_HANDLES];
	ssize_t n;

	/* The loop ends when every address is gone. */
	while ((n = mpsc_recv_handles(requests, text, sizeof(text), fds,
				      &nfds, O_CLOEXEC)) > 0) {
		if (nfds != 1)
			continue;
		snprintf(response, sizeof(response), "Actor received: %.*s",
			 (int)n, text);
		mpsc_send(fds[0], response, strlen(response));
		close(fds[0]);	/* the requester's channel disconnects */
	}
	return n < 0;
}

int main(void)
{
	int requests, addr, reply, status;
	char response[96];
	pid_t actor;
	ssize_t n;

	/* Start a new actor in its own process; addr is its address. */
	requests = mpsc_channel(O_CLOEXEC);
	if (requests < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-requests));
		return 1;
	}
	addr = mpsc_sender_clone(requests, O_CLOEXEC);
	mpsc_disconnect(requests);
	actor = fork();
	if (actor == 0) {
		close(addr);
		_exit(my_actor(requests));
	}
	close(requests);

	/* Send a message to the actor, with a channel for the response. */
	reply = mpsc_sync_channel(1, O_CLOEXEC);
	n = mpsc_send_handles(addr, "Hello, Actix!", 13, &reply, 1);
	if (n < 0)
		fprintf(stderr, "mpsc_send_handles: %s\n", strerror(-n));
	mpsc_disconnect(reply);	/* only the sender in the request is left */

	n = mpsc_recv(reply, response, sizeof(response));
	if (n > 0)
		printf("%.*s\n", (int)n, response);
	else
		printf("Failed to receive response from actor.\n");
	close(addr);		/* the actor's address is gone: it stops */
	waitpid(actor, &status, 0);
	return 0;
}
