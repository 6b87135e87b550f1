// SPDX-License-Identifier: GPL-2.0
/*
 * poll, select and epoll: readiness of the receiver and of senders, and
 * the wake-ups that move it.
 */

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "mpsc_test.h"

static short revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

FIXTURE(pl) {
	int rx;
	int tx;
};

FIXTURE_SETUP(pl)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(pl)
{
	close(self->tx);
	close(self->rx);
}

/* Empty and connected: not readable. */
TEST_F(pl, empty_receiver_not_readable)
{
	EXPECT_EQ(0, revents(self->rx) & (POLLIN | POLLHUP | POLLERR));
}

/* A queued message makes the receiver readable. */
TEST_F(pl, message_makes_readable)
{
	ASSERT_EQ(1, send_str(self->tx, "m"));
	EXPECT_EQ(POLLIN, revents(self->rx) & (POLLIN | POLLHUP | POLLERR));
}

/* Disconnected with messages left: readable, not yet hung up. */
TEST_F(pl, disconnected_with_messages_no_hup)
{
	ASSERT_EQ(1, send_str(self->tx, "m"));
	ASSERT_EQ(0, mpsc_disc(self->tx));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(POLLIN, revents(self->rx) & (POLLIN | POLLHUP | POLLERR));
}

/* Disconnected and drained: readable (read returns 0) and hung up. */
TEST_F(pl, disconnected_drained_in_hup)
{
	char c;

	ASSERT_EQ(1, send_str(self->tx, "m"));
	ASSERT_EQ(0, mpsc_disc(self->tx));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_EQ(1, recv_msg(self->rx, &c, 1));
	EXPECT_EQ(POLLIN | POLLHUP, revents(self->rx));
}

/* A sender with room is writable, and never readable. */
TEST_F(pl, sender_writable)
{
	EXPECT_EQ(POLLOUT, revents(self->tx));
	ASSERT_EQ(1, send_str(self->tx, "m"));
	EXPECT_EQ(POLLOUT, revents(self->tx));
}

/* The receiver's own sender role is writable too, until dropped. */
TEST_F(pl, receiver_role_pollout)
{
	EXPECT_EQ(POLLOUT, revents(self->rx) & POLLOUT);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(0, revents(self->rx) & (POLLOUT | POLLERR));
}

static void fill(int fd)
{
	struct mpsc_info info;
	char *buf;

	mpsc_get_info(fd, &info);
	buf = calloc(1, info.max_msg_size);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (send_msg(fd, buf, info.max_msg_size) > 0)
		;
	fcntl(fd, F_SETFL, 0);
	free(buf);
}

/* A full channel: the sender is not writable. */
TEST_F(pl, full_sender_not_writable)
{
	fill(self->tx);
	EXPECT_EQ(0, revents(self->tx));
}

/* Receiver gone: the sender reports an error (and writes fail at once). */
TEST_F(pl, receiver_gone_pollerr)
{
	close(self->rx);
	self->rx = -1;
	EXPECT_EQ(POLLOUT | POLLERR, revents(self->tx));
}

/* A disconnected sender reports an error too. */
TEST_F(pl, disconnected_sender_pollerr)
{
	ASSERT_EQ(0, mpsc_disc(self->tx));
	EXPECT_EQ(POLLOUT | POLLERR, revents(self->tx));
}

/* select() agrees with poll(). */
TEST_F(pl, select_readable)
{
	struct timeval tv = { 0, 0 };
	fd_set rd;

	FD_ZERO(&rd);
	FD_SET(self->rx, &rd);
	EXPECT_EQ(0, select(self->rx + 1, &rd, NULL, NULL, &tv));
	ASSERT_EQ(1, send_str(self->tx, "m"));
	FD_ZERO(&rd);
	FD_SET(self->rx, &rd);
	EXPECT_EQ(1, select(self->rx + 1, &rd, NULL, NULL, &tv));
	EXPECT_TRUE(FD_ISSET(self->rx, &rd));
}

struct waiter {
	pthread_t thread;
	pid_t tid;
	int ep;
	int n;
	struct epoll_event ev;
	int started;
};

static void *epoll_waiter(void *arg)
{
	struct waiter *w = arg;

	w->tid = gettid_();
	store(&w->started, 1);
	w->n = epoll_wait(w->ep, &w->ev, 1, 10000);
	return NULL;
}

/* Wait until the thread sleeps in epoll_wait. */
static bool start_waiter(struct waiter *w, int ep)
{
	memset(w, 0, sizeof(*w));
	w->ep = ep;
	if (pthread_create(&w->thread, NULL, epoll_waiter, w))
		return false;
	while (!load(&w->started))
		sleep_ms(1);
	return wait_asleep_in(getpid(), w->tid, "poll");	/* ep_poll, do_epoll_wait */
}

static int epoll_for(int fd, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	return ep;
}

/* epoll_wait() asleep on the receiver wakes when a message arrives. */
TEST_F(pl, epoll_wakes_on_message)
{
	int ep = epoll_for(self->rx, EPOLLIN);
	struct waiter w;

	ASSERT_LE(0, ep);
	ASSERT_TRUE(start_waiter(&w, ep));
	ASSERT_EQ(1, send_str(self->tx, "m"));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n);
	EXPECT_EQ(EPOLLIN, w.ev.events);
	close(ep);
}

/* ... and when the last sender goes: EPOLLIN | EPOLLHUP. */
TEST_F(pl, epoll_wakes_on_disconnect)
{
	int ep = epoll_for(self->rx, EPOLLIN);
	struct waiter w;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_TRUE(start_waiter(&w, ep));
	close(self->tx);
	self->tx = -1;
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n);
	EXPECT_EQ(EPOLLIN | EPOLLHUP, w.ev.events);
	close(ep);
}

/* A writer waiting in epoll for room wakes when the reader frees some. */
TEST_F(pl, epoll_wakes_writer_on_room)
{
	int ep = epoll_for(self->tx, EPOLLOUT);
	struct mpsc_info info;
	struct waiter w;
	char *buf;

	ASSERT_LE(0, ep);
	fill(self->tx);
	ASSERT_TRUE(start_waiter(&w, ep));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	buf = malloc(info.max_msg_size);
	ASSERT_LT(0, recv_msg(self->rx, buf, info.max_msg_size));
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n);
	EXPECT_EQ(EPOLLOUT, w.ev.events);
	free(buf);
	close(ep);
}

/* A writer waiting in epoll wakes with EPOLLERR when the receiver goes. */
TEST_F(pl, epoll_wakes_writer_on_receiver_gone)
{
	int ep = epoll_for(self->tx, EPOLLOUT);
	struct waiter w;

	ASSERT_LE(0, ep);
	fill(self->tx);
	ASSERT_TRUE(start_waiter(&w, ep));
	close(self->rx);
	self->rx = -1;
	pthread_join(w.thread, NULL);
	ASSERT_EQ(1, w.n);
	EXPECT_EQ(EPOLLOUT | EPOLLERR, w.ev.events);
	close(ep);
}

/* Edge-triggered: one event per new message, none while nothing changes. */
TEST_F(pl, epoll_edge_triggered)
{
	int ep = epoll_for(self->rx, EPOLLIN | EPOLLET);
	struct epoll_event ev;
	char c;

	ASSERT_LE(0, ep);
	ASSERT_EQ(1, send_str(self->tx, "a"));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(1, recv_msg(self->rx, &c, 1));
	ASSERT_EQ(1, send_str(self->tx, "b"));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	close(ep);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
