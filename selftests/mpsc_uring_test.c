// SPDX-License-Identifier: GPL-2.0
/*
 * Rendezvous from event loops and io_uring.
 *
 * Every pairing of a blocking, an epoll-driven and an io_uring side
 * completes a capacity-0 hand-off, in both directions, and keeps the
 * rendezvous rule: a send completes only once a receive has returned its
 * message.  An io_uring write waits as a queued request, not through poll;
 * an io_uring read is retried through poll (EPOLLIN) when an offer comes.
 * Two non-blocking, readiness-driven sides can never meet: neither is
 * reported ready, so neither spins.
 */

#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>

#include "mpsc_test.h"

FIXTURE(ur) {
	int rx;
	int tx;
	int tx_nb;
	struct io_uring ring;
	struct io_uring ring2;
	char wbuf[16];
	char rbuf[16];
};

FIXTURE_SETUP(ur)
{
	int ret;

	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	self->tx_nb = mpsc_clone(self->rx, O_NONBLOCK);
	ASSERT_LE(0, self->tx);
	ASSERT_LE(0, self->tx_nb);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 0));
	ret = io_uring_queue_init(8, &self->ring, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", strerror(-ret));
	ASSERT_EQ(0, io_uring_queue_init(8, &self->ring2, 0));
	memcpy(self->wbuf, "rendezvous", 10);
	catch_signal(SIGUSR1, false);
}

FIXTURE_TEARDOWN(ur)
{
	io_uring_queue_exit(&self->ring2);
	io_uring_queue_exit(&self->ring);
	close(self->tx_nb);
	close(self->tx);
	close(self->rx);
}

static void submit_write(struct io_uring *ring, int fd, const void *buf,
			 unsigned int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_write(sqe, fd, buf, len, -1);
	sqe->user_data = 1;
	io_uring_submit(ring);
}

static void submit_read(struct io_uring *ring, int fd, void *buf,
			unsigned int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_read(sqe, fd, buf, len, -1);
	sqe->user_data = 2;
	io_uring_submit(ring);
}

/*
 * The result of the completion for @user_data, waiting up to @ms; -ETIME
 * when there is none.  Other completions seen meanwhile are stored in
 * *@other (if not NULL) by their user_data.
 */
static int wait_res(struct io_uring *ring, __u64 user_data, unsigned int ms,
		    int *other)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	int ret;

	for (;;) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret)
			return ret;
		ret = cqe->res;
		if (cqe->user_data == user_data) {
			io_uring_cqe_seen(ring, cqe);
			return ret;
		}
		if (other)
			*other = ret;
		io_uring_cqe_seen(ring, cqe);
	}
}

/* io_uring write, blocking read. */
TEST_F(ur, uring_write_blocking_read)
{
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 16 };

	ASSERT_TRUE(op_start(&r));
	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(10, op_join(&r));
	EXPECT_EQ(0, memcmp(r.data, "rendezvous", 10));
}

/* The blocking reader comes second: the write waits queued for it. */
TEST_F(ur, uring_write_waits_for_reader)
{
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 16 };

	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 200, NULL));
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).sent);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, op_thread, &r));
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(10, op_join(&r));
	EXPECT_EQ(1, info_of(self->rx).sent);
}

/* Blocking write, io_uring read. */
TEST_F(ur, blocking_write_uring_read)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx, .buf = "rendezvous",
			.len = 10 };

	ASSERT_TRUE(op_start(&w));
	submit_read(&self->ring, self->rx, self->rbuf, 16);
	EXPECT_EQ(10, wait_res(&self->ring, 2, 5000, NULL));
	EXPECT_EQ(0, memcmp(self->rbuf, "rendezvous", 10));
	EXPECT_EQ(10, op_join(&w));
}

/* The io_uring read comes first and is retried when the offer comes. */
TEST_F(ur, uring_read_waits_for_writer)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx, .buf = "rendezvous",
			.len = 10 };

	submit_read(&self->ring, self->rx, self->rbuf, 16);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 2, 200, NULL));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, op_thread, &w));
	EXPECT_EQ(10, wait_res(&self->ring, 2, 5000, NULL));
	EXPECT_EQ(10, op_join(&w));
}

/* io_uring on both sides, one ring, write first then read first. */
TEST_F(ur, uring_both_sides_one_ring)
{
	int order, other;

	for (order = 0; order < 2; order++) {
		other = INT32_MIN;
		if (order) {
			submit_read(&self->ring, self->rx, self->rbuf, 16);
			submit_write(&self->ring, self->tx, self->wbuf, 10);
		} else {
			submit_write(&self->ring, self->tx, self->wbuf, 10);
			submit_read(&self->ring, self->rx, self->rbuf, 16);
		}
		/* Both complete, in whatever order. */
		EXPECT_EQ(10, wait_res(&self->ring, 2, 5000, &other));
		if (other == INT32_MIN)
			other = wait_res(&self->ring, 1, 5000, NULL);
		EXPECT_EQ(10, other) TH_LOG("order %d", order);
		EXPECT_EQ(0, memcmp(self->rbuf, "rendezvous", 10));
	}
	EXPECT_EQ(2, info_of(self->rx).sent);
	EXPECT_EQ(2, info_of(self->rx).received);
}

/* io_uring on both sides, two rings. */
TEST_F(ur, uring_both_sides_two_rings)
{
	submit_read(&self->ring2, self->rx, self->rbuf, 16);
	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(10, wait_res(&self->ring2, 2, 5000, NULL));
	EXPECT_EQ(0, memcmp(self->rbuf, "rendezvous", 10));
}

/* Many queued io_uring writes, each completed by its own read, in order. */
TEST_F(ur, uring_writes_complete_in_order)
{
	char bufs[8][4];
	int i;

	for (i = 0; i < 8; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&self->ring);

		snprintf(bufs[i], sizeof(bufs[i]), "m%d", i);
		io_uring_prep_write(sqe, self->tx, bufs[i], 3, -1);
		sqe->user_data = 100 + i;
	}
	io_uring_submit(&self->ring);
	EXPECT_EQ(8, info_of(self->rx).queued_msgs);
	for (i = 0; i < 8; i++) {
		char buf[4];

		ASSERT_EQ(3, recv_msg(self->rx, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, bufs[i], 3));
		EXPECT_EQ(3, wait_res(&self->ring, 100 + i, 5000, NULL));
	}
}

/* A reader that cannot take the message leaves the io_uring write queued. */
TEST_F(ur, uring_write_survives_small_read)
{
	char buf[16];

	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(-EMSGSIZE, recv_msg(self->rx, buf, 1));
	EXPECT_EQ(-EFAULT, recv_msg(self->rx, opaque(NULL), 16));
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 100, NULL));
	EXPECT_EQ(10, recv_msg(self->rx, buf, 16));
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
}

/* A queued io_uring write fails with EPIPE when the receiver closes... */
TEST_F(ur, uring_write_epipe_on_close)
{
	char buf[16];

	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 100, NULL));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(-EPIPE, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
}

/* ... and when it goes away. */
TEST_F(ur, uring_write_epipe_on_receiver_release)
{
	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 100, NULL));
	close(self->rx);
	EXPECT_EQ(-EPIPE, wait_res(&self->ring, 1, 5000, NULL));
	self->rx = open("/dev/null", O_RDONLY);
}

/*
 * On an O_NONBLOCK sender an io_uring write is not queued: io_uring polls
 * for EPOLLOUT, which a reader asleep in read() brings, and then hands
 * the message to that reader.
 */
TEST_F(ur, uring_write_nonblocking_sender_polls)
{
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 16 };

	submit_write(&self->ring, self->tx_nb, self->wbuf, 10);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 200, NULL));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, op_thread, &r));
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(10, op_join(&r));
	EXPECT_EQ(0, memcmp(r.data, "rendezvous", 10));
}

/* A bounded channel: an io_uring write on a full channel waits for room. */
TEST_F(ur, uring_write_bounded_waits_for_room)
{
	char buf[16];

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(5, send_msg(self->tx, "first", 5));
	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(-ETIME, wait_res(&self->ring, 1, 100, NULL));
	EXPECT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
	EXPECT_EQ(10, recv_msg(self->rx, buf, sizeof(buf)));
}

/* Wait up to @ms for @events on @fd with epoll: the events seen. */
static unsigned int epoll_once(int fd, unsigned int events, int ms)
{
	struct epoll_event ev = { .events = events }, out = { 0 };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	n = epoll_wait(ep, &out, 1, ms);
	close(ep);
	return n == 1 ? out.events : 0;
}

/* epoll-driven writer, blocking reader. */
TEST_F(ur, epoll_write_blocking_read)
{
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 16 };

	EXPECT_EQ(0, epoll_once(self->tx_nb, EPOLLOUT, 0));
	ASSERT_TRUE(op_start(&r));
	EXPECT_EQ(EPOLLOUT, epoll_once(self->tx_nb, EPOLLOUT, 5000));
	EXPECT_EQ(10, send_msg(self->tx_nb, "rendezvous", 10));
	EXPECT_EQ(10, op_join(&r));
	EXPECT_EQ(0, memcmp(r.data, "rendezvous", 10));
}

/* Blocking writer, epoll-driven reader. */
TEST_F(ur, blocking_write_epoll_read)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx, .buf = "rendezvous",
			.len = 10 };
	char buf[16];

	EXPECT_EQ(0, epoll_once(self->rx, EPOLLIN, 0));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, op_thread, &w));
	EXPECT_EQ(EPOLLIN, epoll_once(self->rx, EPOLLIN, 5000));
	EXPECT_EQ(10, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	EXPECT_EQ(10, op_join(&w));
}

/* epoll-driven writer, io_uring reader: the queued write meets the read. */
TEST_F(ur, uring_write_epoll_read)
{
	char buf[16];

	submit_write(&self->ring, self->tx, self->wbuf, 10);
	EXPECT_EQ(EPOLLIN, epoll_once(self->rx, EPOLLIN, 5000));
	EXPECT_EQ(10, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	EXPECT_EQ(10, wait_res(&self->ring, 1, 5000, NULL));
}

/*
 * Both sides non-blocking and readiness-driven: no hand-off is possible
 * without breaking the rendezvous rule, so neither side is told it is
 * ready, and neither spins.
 */
TEST_F(ur, epoll_both_sides_never_ready)
{
	char buf[16];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[2], in = { .events = EPOLLIN };
	struct epoll_event out = { .events = EPOLLOUT };

	in.data.fd = self->rx;
	out.data.fd = self->tx_nb;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->rx, &in));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->tx_nb, &out));
	EXPECT_EQ(0, epoll_wait(ep, ev, 2, 300));
	EXPECT_EQ(-EAGAIN, send_msg(self->tx_nb, "rendezvous", 10));
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, buf, 16, 0));
	EXPECT_EQ(0, epoll_wait(ep, ev, 2, 100));
	close(ep);
}

/*
 * On a rendezvous channel EPOLLIN means "an offer is waiting", and an
 * offer can be withdrawn: readiness can go away without a receive.
 */
TEST_F(ur, withdrawn_offer_clears_epollin)
{
	struct op w = { .kind = OP_SEND, .fd = self->tx, .buf = "rendezvous",
			.len = 10, .timeout_ns = 300000000 };
	char buf[16];

	ASSERT_EQ(0, pthread_create(&w.thread, NULL, op_thread, &w));
	EXPECT_EQ(EPOLLIN, epoll_once(self->rx, EPOLLIN, 5000));
	EXPECT_EQ(-ETIMEDOUT, op_join(&w));
	EXPECT_EQ(0, epoll_once(self->rx, EPOLLIN, 0));
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, buf, 16, 0));
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
