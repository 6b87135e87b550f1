// SPDX-License-Identifier: MIT
/* The seed's try_recv: poll without blocking, telling Empty from Disconnected. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsc.h>

static void *produce(void *arg)
{
	int tx = *(int *)arg;
	int i;

	for (i = 0; i < 3; i++) {
		mpsc_send(tx, &i, sizeof(i));
		usleep(500 * 1000);
	}
	close(tx);
	return NULL;
}

int main(void)
{
	pthread_t thread;
	int rx, tx, value;
	ssize_t n;

	rx = mpsc_channel(O_CLOEXEC);
	if (rx < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-rx));
		return 1;
	}
	tx = mpsc_sender_clone(rx, O_CLOEXEC);
	mpsc_disconnect(rx);
	pthread_create(&thread, NULL, produce, &tx);

	for (;;) {
		n = mpsc_try_recv(rx, &value, sizeof(value));
		if (n > 0) {
			printf("Received: %d\n", value);
		} else if (n == -EAGAIN) {
			/* TryRecvError::Empty */
			printf("No message yet, performing other work...\n");
			usleep(200 * 1000);
		} else {
			/* 0: TryRecvError::Disconnected */
			printf("Channel closed, no further messages.\n");
			break;
		}
	}
	pthread_join(thread, NULL);
	return 0;
}
