// SPDX-License-Identifier: MIT
/* Backpressure: a bounded channel of 2; the third send waits for room. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsc.h>

struct consumer {
	int rx;
	int got[8];
	int n;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	int v;

	usleep(100 * 1000);
	while (c->n < 8 && mpsc_recv(c->rx, &v, sizeof(v)) > 0)
		c->got[c->n++] = v;
	return NULL;
}

int main(void)
{
	struct consumer c = { 0 };
	pthread_t thread;
	int tx, i, v;

	c.rx = mpsc_sync_channel(2, O_CLOEXEC);
	if (c.rx < 0) {
		fprintf(stderr, "mpsc_sync_channel: %s\n", strerror(-c.rx));
		return 1;
	}
	tx = mpsc_sender_clone(c.rx, O_CLOEXEC);
	mpsc_disconnect(c.rx);
	pthread_create(&thread, NULL, consume, &c);

	v = 1;
	mpsc_try_send(tx, &v, sizeof(v));
	printf("sent 1\n");
	v = 2;
	mpsc_try_send(tx, &v, sizeof(v));
	printf("sent 2\n");
	v = 3;
	if (mpsc_try_send(tx, &v, sizeof(v)) == -EAGAIN)
		printf("channel full: 3 must wait (backpressure)\n");
	mpsc_send(tx, &v, sizeof(v));
	printf("sent 3 once the receiver made room\n");
	close(tx);
	pthread_join(thread, NULL);
	for (i = 0; i < c.n; i++)
		printf("received %d\n", c.got[i]);
	return 0;
}
