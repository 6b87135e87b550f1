// SPDX-License-Identifier: MIT
/* The seed's basic example: a thread sends, the main thread receives. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsc.h>

static void *thread_main(void *arg)
{
	int tx = *(int *)arg;
	const char *message = "Hello from the thread!";

	/* Send the message using the sender. */
	mpsc_send(tx, message, strlen(message));
	close(tx);
	return NULL;
}

int main(void)
{
	char received[64];
	pthread_t thread;
	int rx, tx;
	ssize_t n;

	/* Create a channel; its fd is the receiver and the first sender. */
	rx = mpsc_channel(O_CLOEXEC);
	if (rx < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-rx));
		return 1;
	}
	tx = mpsc_sender_clone(rx, O_CLOEXEC);
	mpsc_disconnect(rx);	/* rx only receives from now on */

	/* Spawn a new thread which sends a message. */
	pthread_create(&thread, NULL, thread_main, &tx);

	/* The main thread receives the message. */
	n = mpsc_recv(rx, received, sizeof(received));
	if (n <= 0)
		return 1;
	printf("Received: %.*s\n", (int)n, received);
	pthread_join(thread, NULL);
	return 0;
}
