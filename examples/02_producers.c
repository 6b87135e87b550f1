// SPDX-License-Identifier: MIT
/*
 * The seed's multiple producers: each thread gets its own clone of the
 * sender; dropping the original lets the loop end with the last clone.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsc.h>

struct producer {
	pthread_t thread;
	int tx;
	int i;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char msg[64];

	snprintf(msg, sizeof(msg), "Message from thread %d", p->i);
	mpsc_send(p->tx, msg, strlen(msg));
	close(p->tx);
	return NULL;
}

int main(void)
{
	struct producer p[5];
	char received[64];
	int rx, i;
	ssize_t n;

	rx = mpsc_channel(O_CLOEXEC);
	if (rx < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-rx));
		return 1;
	}
	/* Spawn several threads; each thread clones the sender. */
	for (i = 0; i < 5; i++) {
		p[i].i = i;
		p[i].tx = mpsc_sender_clone(rx, O_CLOEXEC);
		pthread_create(&p[i].thread, NULL, produce, &p[i]);
	}
	/* Drop the original sender: no more messages will come from it. */
	mpsc_disconnect(rx);

	/* Receive and print each message; 0 means every sender is gone. */
	while ((n = mpsc_recv(rx, received, sizeof(received))) > 0)
		printf("%.*s\n", (int)n, received);
	for (i = 0; i < 5; i++)
		pthread_join(p[i].thread, NULL);
	return 0;
}
