// SPDX-License-Identifier: MIT
/*
 * The seed's actor: a thread owns its state and serves requests from a
 * channel; each request carries a sender of a reply channel.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsc.h>

/* A request: where to reply (a sender fd, valid in this process), text. */
struct request {
	int reply_fd;
	char text[60];
};

static void *my_actor(void *arg)
{
	int requests = *(int *)arg;
	struct request req;
	char response[96];

	/* The actor's loop ends when every address is gone. */
	while (mpsc_recv(requests, &req, sizeof(req)) > 0) {
		snprintf(response, sizeof(response), "Actor received: %s",
			 req.text);
		mpsc_send(req.reply_fd, response, strlen(response));
		close(req.reply_fd);
	}
	return NULL;
}

int main(void)
{
	struct request req = { 0 };
	char response[96];
	pthread_t actor;
	int requests, addr, reply;
	ssize_t n;

	/* Start a new actor; addr is its address. */
	requests = mpsc_channel(O_CLOEXEC);
	if (requests < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-requests));
		return 1;
	}
	addr = mpsc_sender_clone(requests, O_CLOEXEC);
	mpsc_disconnect(requests);
	pthread_create(&actor, NULL, my_actor, &requests);

	/* Send a message to the actor, with a channel for the response. */
	reply = mpsc_sync_channel(1, O_CLOEXEC);
	req.reply_fd = mpsc_sender_clone(reply, O_CLOEXEC);
	mpsc_disconnect(reply);
	strcpy(req.text, "Hello, Actix!");
	mpsc_send(addr, &req, sizeof(req));

	n = mpsc_recv(reply, response, sizeof(response));
	if (n > 0)
		printf("%.*s\n", (int)n, response);
	else
		printf("Failed to receive response from actor.\n");
	close(addr);
	pthread_join(actor, NULL);
	return 0;
}
