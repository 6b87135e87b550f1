// SPDX-License-Identifier: GPL-2.0
/*
 * MPSC_IOC_CLOSE, tokio's Receiver::close(): sends fail from then on,
 * sleeping senders wake with EPIPE, queued messages can still be read,
 * then read() returns 0.
 */

#include <poll.h>

#include "mpsc_test.h"

FIXTURE(cls) {
	int rx;
	int tx;
};

FIXTURE_SETUP(cls)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(cls)
{
	close(self->tx);
	close(self->rx);
}

TEST_F(cls, sends_fail_after_close)
{
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(-EPIPE, send_str(self->tx, "x"));
	EXPECT_EQ(-EPIPE, xfer(self->tx, MPSC_IOC_SEND, "x", 1, 0));
	/* The receiver's own sender role too. */
	EXPECT_EQ(-EPIPE, send_str(self->rx, "x"));
}

TEST_F(cls, queued_messages_then_eof)
{
	char buf[8];

	ASSERT_EQ(3, send_str(self->tx, "one"));
	ASSERT_EQ(3, send_str(self->tx, "two"));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(3, mpsc_peek(self->rx));
	ASSERT_EQ(3, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	ASSERT_EQ(3, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, mpsc_peek(self->rx));
	/* The senders are still alive: end-of-file comes from the close. */
	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
}

TEST_F(cls, wakes_blocked_writer_epipe)
{
	struct op w = { .kind = OP_WRITE, .buf = "blocked", .len = 7 };
	char buf[8];

	w.fd = self->tx;
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(5, send_str(self->tx, "first"));
	ASSERT_TRUE(op_start(&w));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(-EPIPE, op_join(&w));
	ASSERT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
}

TEST_F(cls, wakes_sleeping_readers_eof)
{
	char b1[8], b2[8];
	struct op r1 = { .kind = OP_READ, .buf = b1, .len = 8 };
	struct op r2 = { .kind = OP_READ, .buf = b2, .len = 8 };

	r1.fd = self->rx;
	r2.fd = self->rx;
	ASSERT_TRUE(op_start(&r1));
	ASSERT_TRUE(op_start(&r2));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(0, op_join(&r1));
	EXPECT_EQ(0, op_join(&r2));
}

/* A rendezvous send not yet taken is withdrawn: EPIPE, never delivered. */
TEST_F(cls, withdraws_rendezvous_send)
{
	struct op w = { .kind = OP_WRITE, .buf = "offer", .len = 5 };
	struct mpsc_info info;
	char buf[8];

	w.fd = self->tx;
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 0));
	ASSERT_TRUE(op_start(&w));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(-EPIPE, op_join(&w));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
}

TEST_F(cls, twice_harmless)
{
	EXPECT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(0, mpsc_close_rx(self->rx));
}

TEST_F(cls, on_sender_ebadf)
{
	struct mpsc_info info;

	EXPECT_EQ(-EBADF, mpsc_close_rx(self->tx));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(0, info.state & MPSC_STATE_CLOSED);
}

TEST_F(cls, nonzero_arg_einval)
{
	struct mpsc_info info;

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_CLOSE, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(0, info.state & MPSC_STATE_CLOSED);
}

/* Cloning still works, as in tokio; the clone cannot send either. */
TEST_F(cls, clone_after_close_cannot_send)
{
	int c;

	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	c = mpsc_clone(self->tx, 0);
	ASSERT_LE(0, c);
	EXPECT_EQ(-EPIPE, send_str(c, "x"));
	close(c);
}

TEST_F(cls, state_reported)
{
	struct mpsc_info info;

	EXPECT_EQ(0, fdinfo_value(self->tx, "mpsc-closed"));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	ASSERT_EQ(0, mpsc_get_info(self->tx, &info));
	EXPECT_EQ(MPSC_STATE_CLOSED,
		  info.state & (MPSC_STATE_CLOSED | MPSC_STATE_RECEIVER));
	EXPECT_EQ(1, fdinfo_value(self->tx, "mpsc-closed"));
	EXPECT_EQ(1, fdinfo_value(self->rx, "mpsc-closed"));
}

TEST_F(cls, poll_after_close)
{
	struct pollfd p[2] = {
		{ .fd = self->rx, .events = POLLIN },
		{ .fd = self->tx, .events = POLLOUT },
	};

	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	/*
	 * Its own closing is no error for the receiver, even while it holds
	 * its own sender role; senders see the error.
	 */
	ASSERT_EQ(2, poll(p, 2, 0));
	EXPECT_EQ(POLLIN | POLLHUP, p[0].revents);
	EXPECT_EQ(POLLOUT | POLLERR, p[1].revents);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_EQ(2, poll(p, 2, 0));
	EXPECT_EQ(POLLIN | POLLHUP, p[0].revents);
}

/*
 * Close racing with blocked writers and a draining reader: each message
 * is received exactly when its send reported success.
 */
#define CW 6
#define CW_MSGS 400

struct cwriter {
	pthread_t thread;
	int fd;
	unsigned int id;
	unsigned int ok;	/* sends that succeeded: messages 0..ok-1 */
	ssize_t last;
};

static void *cwriter_fn(void *arg)
{
	struct cwriter *w = arg;
	unsigned int msg[2];

	for (w->ok = 0; w->ok < CW_MSGS; w->ok++) {
		msg[0] = w->id;
		msg[1] = w->ok;
		w->last = send_msg(w->fd, msg, sizeof(msg));
		if (w->last != sizeof(msg))
			break;
	}
	return NULL;
}

TEST_F(cls, close_races_blocked_writers)
{
	unsigned int got[CW] = { 0 }, msg[2];
	struct cwriter w[CW];
	int i, n = 0;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	for (i = 0; i < CW; i++) {
		w[i].id = i;
		w[i].fd = mpsc_clone(self->tx, 0);
		if (w[i].fd < 0 ||
		    pthread_create(&w[i].thread, NULL, cwriter_fn, &w[i]))
			break;
	}
	ASSERT_EQ(CW, i);
	while (n < CW * CW_MSGS / 3 &&
	       recv_msg(self->rx, msg, sizeof(msg)) == sizeof(msg)) {
		ASSERT_GT(CW, msg[0]);
		ASSERT_EQ(got[msg[0]], msg[1]);
		got[msg[0]]++;
		n++;
	}
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	while (recv_msg(self->rx, msg, sizeof(msg)) == sizeof(msg)) {
		ASSERT_GT(CW, msg[0]);
		ASSERT_EQ(got[msg[0]], msg[1]);
		got[msg[0]]++;
	}
	for (i = 0; i < CW; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(-EPIPE, w[i].last);
		EXPECT_EQ(w[i].ok, got[i]) TH_LOG("writer %d", i);
		close(w[i].fd);
	}
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
