// SPDX-License-Identifier: MIT
/*
 * The seed's tokio example, event-loop style: a bounded channel of 32, a
 * task that sends, and a receiver driven by epoll.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <mpsc.h>

static void *async_task(void *arg)
{
	int tx = *(int *)arg;
	const char *message = "Hello from an async task!";

	mpsc_send(tx, message, strlen(message));
	close(tx);
	return NULL;
}

int main(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char received[64];
	pthread_t thread;
	int rx, tx, ep;
	ssize_t n;

	/* A bounded channel with a capacity of 32 messages. */
	rx = mpsc_sync_channel(32, O_CLOEXEC | O_NONBLOCK);
	if (rx < 0) {
		fprintf(stderr, "mpsc_sync_channel: %s\n", strerror(-rx));
		return 1;
	}
	tx = mpsc_sender_clone(rx, O_CLOEXEC);
	mpsc_disconnect(rx);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = rx;
	epoll_ctl(ep, EPOLL_CTL_ADD, rx, &ev);

	pthread_create(&thread, NULL, async_task, &tx);

	/* The event loop: wait for readiness, then receive without blocking. */
	for (;;) {
		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			return 1;
		n = mpsc_try_recv(rx, received, sizeof(received));
		if (n == -EAGAIN)
			continue;
		if (n > 0)
			printf("Async received: %.*s\n", (int)n, received);
		break;
	}
	pthread_join(thread, NULL);
	return 0;
}
