// SPDX-License-Identifier: GPL-2.0
/*
 * Exactly once, when the copy goes wrong.
 *
 * A rendezvous send succeeds only once a receiver's read has returned its
 * message: a reader whose buffer is too small or whose copy faults leaves
 * the message to its writer.  A receive that is copying a message out
 * keeps it counted, so the limits stay exact and no other reader sees end
 * of file while it can still come back.  A refused send touches no
 * memory.  userfaultfd holds a reader in the middle of its copy, so that
 * signals, deadlines and closes can be aimed at that moment.
 */

#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/mman.h>

#include "mpsc_test.h"

/* Has the thread of @o returned? */
static bool op_done(struct op *o)
{
	return pthread_tryjoin_np(o->thread, NULL) == 0;
}

/* Wait up to @ms for the thread of @o to return. */
static bool op_done_within(struct op *o, unsigned int ms)
{
	while (ms--) {
		if (op_done(o))
			return true;
		sleep_ms(1);
	}
	return op_done(o);
}

FIXTURE(rv) {
	int rx;
	int tx;
	int tx_nb;
	struct uffd_page u;
};

FIXTURE_SETUP(rv)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	self->tx_nb = mpsc_clone(self->rx, O_NONBLOCK);
	ASSERT_LE(0, self->tx);
	ASSERT_LE(0, self->tx_nb);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 0));
	self->u.uffd = -1;
	catch_signal(SIGUSR1, false);
}

FIXTURE_TEARDOWN(rv)
{
	close(self->tx_nb);
	close(self->tx);
	close(self->rx);
	uffd_teardown(&self->u);
}

/* The three ways to send without sleeping. */
enum { NB_WRITE, NB_SEND0, NB_ABSTIME };

static ssize_t send_nowait(int tx_nb, int tx, int how, const void *buf,
			   size_t len)
{
	struct mpsc_xfer x = { .buf = (uintptr_t)buf, .len = len };
	ssize_t ret;

	switch (how) {
	case NB_WRITE:
		return send_msg(tx_nb, buf, len);
	case NB_ABSTIME:
		x.flags = MPSC_XFER_ABSTIME;
		break;
	}
	ret = ioctl(tx, MPSC_IOC_SEND, &x);
	return ret < 0 ? -errno : ret;
}

/*
 * A non-blocking send to a reader asleep with a 1-byte buffer: the reader
 * cannot take it, so the send fails (EAGAIN, or ETIMEDOUT for a deadline
 * already past) and nothing is queued in its name.
 */
TEST_F(rv, nowait_send_small_reader_buffer_not_sent)
{
	int how;

	for (how = NB_WRITE; how <= NB_ABSTIME; how++) {
		struct op r = { .kind = OP_READ, .fd = self->rx, .len = 1 };
		struct mpsc_info info;
		ssize_t ret;

		ASSERT_TRUE(op_start(&r));
		ret = send_nowait(self->tx_nb, self->tx, how, "8 bytes!", 8);
		EXPECT_EQ(how == NB_ABSTIME ? -ETIMEDOUT : -EAGAIN, ret)
			TH_LOG("method %d", how);
		EXPECT_EQ(-EMSGSIZE, op_join(&r));
		info = info_of(self->rx);
		EXPECT_EQ(0, info.capacity);
		EXPECT_EQ(0, info.queued_msgs);
		EXPECT_EQ(0, info.queued_bytes);
		EXPECT_EQ(0, info.sent);
		EXPECT_EQ(0, info.received);
	}
}

/* A non-blocking send to a reader with room: delivered, and so reported. */
TEST_F(rv, nowait_send_to_waiting_reader_delivered)
{
	int how;

	for (how = NB_WRITE; how <= NB_ABSTIME; how++) {
		struct op r = { .kind = OP_READ, .fd = self->rx, .len = 64 };

		ASSERT_TRUE(op_start(&r));
		EXPECT_EQ(8, send_nowait(self->tx_nb, self->tx, how,
					 "8 bytes!", 8)) TH_LOG("method %d", how);
		EXPECT_EQ(8, op_join(&r));
		EXPECT_EQ(0, memcmp(r.data, "8 bytes!", 8));
	}
	EXPECT_EQ(3, info_of(self->rx).sent);
	EXPECT_EQ(3, info_of(self->rx).received);
}

/* A non-blocking send whose reader's copy faults: not sent. */
TEST_F(rv, nowait_send_reader_fault_not_sent)
{
	char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 8 };

	ASSERT_NE(MAP_FAILED, bad);
	r.buf = bad;
	ASSERT_TRUE(op_start(&r));
	EXPECT_EQ(-EAGAIN, send_msg(self->tx_nb, "8 bytes!", 8));
	EXPECT_EQ(-EFAULT, op_join(&r));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).sent);
	munmap(bad, 4096);
}

/*
 * A blocking writer whose reader faults keeps waiting, with its message
 * still offered; the next good read takes it and completes the send.
 */
TEST_F(rv, blocking_send_survives_reader_fault)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx, .buf = "abcdefgh",
			.len = 8 };
	char buf[8];

	ASSERT_TRUE(op_start(&w));
	EXPECT_EQ(-EFAULT, recv_msg(self->rx, opaque(NULL), 8));
	EXPECT_EQ(-EMSGSIZE, recv_msg(self->rx, buf, 1));
	EXPECT_FALSE(op_done_within(&w, 100));
	EXPECT_TRUE(wait_asleep_in_mpsc(getpid(), w.tid));
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).sent);
	EXPECT_EQ(0, info_of(self->rx).received);
	ASSERT_EQ(8, recv_msg(self->rx, buf, 8));
	EXPECT_EQ(0, memcmp(buf, "abcdefgh", 8));
	EXPECT_EQ(8, op_join(&w));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(1, info_of(self->rx).sent);
}

/*
 * Start a writer (@w, prepared by the caller) and wait until it sleeps
 * with its message offered; then start a blocking reader whose copy is
 * held on a userfaultfd page.  Returns 0 once the reader is stuck in the
 * middle of copying the message out and the writer still waits, 1 when
 * userfaultfd is not available, -1 on failure.
 */
static int hold_copy(int rx, struct uffd_page *u, struct op *r, struct op *w)
{
	int ret = uffd_setup(u);

	if (ret == -ENOSYS || ret == -EPERM)
		return 1;
	if (ret)
		return -1;
	r->kind = OP_READ;
	r->fd = rx;
	r->buf = u->page;
	r->len = 8;
	if (!op_start(w))
		return -1;
	if (pthread_create(&r->thread, NULL, op_thread, r))
		return -1;
	if (!uffd_wait_fault(u))
		return -1;
	/* The writer must still be waiting for the copy's outcome. */
	sleep_ms(50);
	return op_done(w) ? -1 : 0;
}

/*
 * The writer gives up (a signal, or its deadline) while the reader is
 * copying its message out: the send fails, the reader does not return
 * that message, and goes on to receive the next one.
 */
static void withdraw_mid_copy(struct __test_metadata *_metadata,
			      FIXTURE_DATA(rv) * self, bool by_signal)
{
	struct op w = { .kind = by_signal ? OP_WRITE : OP_SEND, .fd = self->tx,
			.buf = "AAAAAAAA", .len = 8, .timeout_ns = 3000000000ULL };
	struct op r = { 0 };
	int held;

	held = hold_copy(self->rx, &self->u, &r, &w);
	if (held > 0)
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ(0, held) TH_LOG("could not hold the copy mid-way");
	if (by_signal)
		pthread_kill(w.thread, SIGUSR1);
	EXPECT_EQ(by_signal ? -EINTR : -ETIMEDOUT, op_join(&w));
	/* Withdrawn, but held and counted until the reader lets go of it. */
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).queued_handles);
	ASSERT_EQ(0, uffd_resolve(&self->u));
	/* The orphaned message is not delivered: the reader waits on. */
	EXPECT_TRUE(wait_asleep_in_mpsc(getpid(), r.tid));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).queued_mem);
	EXPECT_FALSE(op_done(&r));
	EXPECT_EQ(8, send_msg(self->tx_nb, "BBBBBBBB", 8));
	EXPECT_EQ(8, op_join(&r));
	EXPECT_EQ(0, memcmp(self->u.page, "BBBBBBBB", 8));
	EXPECT_EQ(1, info_of(self->rx).sent);
	EXPECT_EQ(1, info_of(self->rx).received);
}

TEST_F(rv, signal_mid_copy_withdraws)
{
	withdraw_mid_copy(_metadata, self, true);
}

TEST_F(rv, timeout_mid_copy_withdraws)
{
	withdraw_mid_copy(_metadata, self, false);
}

/*
 * The receiver closes the channel while a reader copies an offer out: the
 * copy decides.  If it completes, the message is delivered and the send
 * succeeds; if it faults, the send fails with EPIPE.  Never both.
 */
static void close_mid_copy(struct __test_metadata *_metadata,
			   FIXTURE_DATA(rv) * self, bool copy_ok)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx, .buf = "AAAAAAAA",
			.len = 8 };
	struct op r = { 0 };
	int held;

	held = hold_copy(self->rx, &self->u, &r, &w);
	if (held > 0)
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ(0, held) TH_LOG("could not hold the copy mid-way");
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_FALSE(op_done_within(&w, 100));
	if (copy_ok) {
		ASSERT_EQ(0, uffd_resolve(&self->u));
		EXPECT_EQ(8, op_join(&r));
		EXPECT_EQ(0, memcmp(self->u.page, "AAAAAAAA", 8));
		EXPECT_EQ(8, op_join(&w));
		EXPECT_EQ(1, info_of(self->rx).sent);
	} else {
		uffd_fail(&self->u);
		EXPECT_EQ(-EFAULT, op_join(&r));
		EXPECT_EQ(-EPIPE, op_join(&w));
		EXPECT_EQ(0, info_of(self->rx).sent);
	}
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, recv_msg(self->rx, r.data, 8));
}

TEST_F(rv, close_mid_copy_delivered)
{
	close_mid_copy(_metadata, self, true);
}

TEST_F(rv, close_mid_copy_faulted_epipe)
{
	close_mid_copy(_metadata, self, false);
}

/*
 * A one-shot (non-blocking) send waits only for the verdict of the reader
 * it was made to; a signal meanwhile withdraws it, and the send fails with
 * EAGAIN, never EINTR: a non-blocking call does not report signals.
 */
TEST_F(rv, nowait_send_signal_mid_copy_withdraws)
{
	struct op w = { .kind = OP_WRITE, .fd = self->tx_nb, .buf = "AAAAAAAA",
			.len = 8 };
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 8 };
	int ret = uffd_setup(&self->u);

	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "userfaultfd: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	r.buf = self->u.page;
	ASSERT_TRUE(op_start(&r));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, op_thread, &w));
	ASSERT_TRUE(uffd_wait_fault(&self->u));
	/* It waits for that reader's verdict... */
	EXPECT_FALSE(op_done_within(&w, 50));
	/* ... until the signal withdraws it. */
	pthread_kill(w.thread, SIGUSR1);
	EXPECT_EQ(-EAGAIN, op_join(&w));
	ASSERT_EQ(0, uffd_resolve(&self->u));
	EXPECT_TRUE(wait_asleep_in_mpsc(getpid(), r.tid));
	EXPECT_EQ(0, info_of(self->rx).sent);
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, mpsc_close_rx(self->rx));
	EXPECT_EQ(0, op_join(&r));
}

/* A capacity-0 channel never reports a buffered message. */
TEST_F(rv, never_holds_a_buffered_message)
{
	struct op r = { .kind = OP_READ, .fd = self->rx, .len = 1 };
	int i;

	for (i = 0; i < 20; i++) {
		ASSERT_TRUE(op_start(&r));
		EXPECT_EQ(-EAGAIN, send_msg(self->tx_nb, "12345678", 8));
		EXPECT_EQ(-EMSGSIZE, op_join(&r));
		EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	}
	EXPECT_EQ(0, info_of(self->rx).sent);
}

FIXTURE(buf) {
	int rx;
	struct uffd_page u;
};

FIXTURE_SETUP(buf)
{
	self->rx = mpsc_open_chan(0);
	self->u.uffd = -1;
}

FIXTURE_TEARDOWN(buf)
{
	close(self->rx);
	uffd_teardown(&self->u);
}

/*
 * Start reader @r on the uffd page: 0 once its copy is stuck, 1 when
 * userfaultfd is not available, -1 on failure.
 */
static int start_held_reader(FIXTURE_DATA(buf) * self, struct op *r)
{
	int ret = uffd_setup(&self->u);

	if (ret == -ENOSYS || ret == -EPERM)
		return 1;
	if (ret)
		return -1;
	r->kind = OP_READ;
	r->fd = self->rx;
	r->buf = self->u.page;
	r->len = 8;
	if (pthread_create(&r->thread, NULL, op_thread, r))
		return -1;
	return uffd_wait_fault(&self->u) ? 0 : -1;
}

/*
 * End of file is final: while reader A's copy of the last message can
 * still fault and put it back, reader B sees "empty", never end of file.
 */
TEST_F(buf, no_eof_while_a_taken_message_can_come_back)
{
	struct op a = { 0 };
	char buf[8];
	int held;

	ASSERT_EQ(8, send_msg(self->rx, "lastmsg!", 8));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	held = start_held_reader(self, &a);
	if (held > 0)
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ(0, held) TH_LOG("could not hold the copy mid-way");
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, buf, 8, 0));
	EXPECT_EQ(-EAGAIN, mpsc_peek(self->rx));
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	uffd_fail(&self->u);
	EXPECT_EQ(-EFAULT, op_join(&a));
	EXPECT_EQ(8, recv_msg(self->rx, buf, 8));
	EXPECT_EQ(0, memcmp(buf, "lastmsg!", 8));
	EXPECT_EQ(0, recv_msg(self->rx, buf, 8));
	EXPECT_EQ(1, info_of(self->rx).received);
}

/* A reader asleep behind a taken message wakes to EOF once it commits. */
TEST_F(buf, sleeping_reader_sees_eof_after_commit)
{
	struct op a = { 0 }, b = { .kind = OP_READ, .len = 8 };
	int held;

	ASSERT_EQ(8, send_msg(self->rx, "lastmsg!", 8));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	held = start_held_reader(self, &a);
	if (held > 0)
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ(0, held) TH_LOG("could not hold the copy mid-way");
	b.fd = self->rx;
	ASSERT_TRUE(op_start(&b));
	ASSERT_EQ(0, uffd_resolve(&self->u));
	EXPECT_EQ(8, op_join(&a));
	EXPECT_EQ(0, op_join(&b));
}

/* A message being copied out still counts against the capacity. */
TEST_F(buf, limits_exact_while_copying_out)
{
	struct op a = { 0 };
	struct mpsc_info info;
	char buf[8];
	int held;
	int tx = mpsc_clone(self->rx, O_NONBLOCK);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(8, send_msg(tx, "first!!!", 8));
	held = start_held_reader(self, &a);
	if (held > 0)
		SKIP(return, "userfaultfd is not available");
	ASSERT_EQ(0, held) TH_LOG("could not hold the copy mid-way");
	EXPECT_EQ(-EAGAIN, send_msg(tx, "second!!", 8));
	uffd_fail(&self->u);
	EXPECT_EQ(-EFAULT, op_join(&a));
	info = info_of(self->rx);
	EXPECT_EQ(1, info.queued_msgs);
	EXPECT_EQ(8, info.queued_bytes);
	EXPECT_EQ(-EAGAIN, send_msg(tx, "second!!", 8));
	EXPECT_EQ(8, recv_msg(self->rx, buf, 8));
	EXPECT_EQ(0, memcmp(buf, "first!!!", 8));
	close(tx);
}

/* A refused send never reads its buffer: EAGAIN, not EFAULT. */
TEST_F(buf, refused_send_reads_nothing)
{
	size_t sizes[] = { 1, 65536 };
	char *bad = mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	int tx = mpsc_clone(self->rx, O_NONBLOCK);
	unsigned int i;

	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_msg(tx, "x", 1));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EAGAIN, send_msg(tx, bad, sizes[i]));
		EXPECT_EQ(-EAGAIN, xfer(tx, MPSC_IOC_SEND, bad, sizes[i], 0));
	}
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	close(tx);
	munmap(bad, 65536);
}

/*
 * A writer asleep for room holds no message memory: its buffer is read
 * only once room is there (so a bad one fails only then), and the memory
 * the channel reports stays that of the queued message.
 */
TEST_F(buf, sleeping_writer_holds_no_memory)
{
	char *bad = mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	struct op w = { .kind = OP_WRITE, .len = 65536 };
	struct mpsc_info before;
	char buf[8];

	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_msg(self->rx, "x", 1));
	before = info_of(self->rx);
	w.fd = self->rx;
	w.buf = bad;
	ASSERT_TRUE(op_start(&w));
	EXPECT_EQ(before.queued_mem, info_of(self->rx).queued_mem);
	EXPECT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(-EFAULT, op_join(&w));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).queued_mem);
	munmap(bad, 65536);
}

/* The receiver's own closing is not an error on its fd. */
TEST_F(buf, receiver_close_no_epollerr)
{
	struct pollfd pfd = { .fd = self->rx, .events = POLLIN | POLLOUT };
	char c;

	ASSERT_EQ(1, send_msg(self->rx, "x", 1));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & (POLLIN | POLLOUT | POLLERR | POLLHUP));
	EXPECT_EQ(1, recv_msg(self->rx, &c, 1));
	pfd.revents = 0;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLHUP, pfd.revents & (POLLIN | POLLOUT | POLLERR |
						   POLLHUP));
}

/*
 * An absolute deadline already past tries once: it succeeds when it can,
 * and fails with ETIMEDOUT (a relative 0 fails with EAGAIN).
 */
TEST_F(buf, abstime_past_tries_once)
{
	struct mpsc_xfer x = { .len = 8, .flags = MPSC_XFER_ABSTIME };
	char buf[8] = "abcdefgh";

	x.buf = (uintptr_t)buf;
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_EQ(8, ioctl(self->rx, MPSC_IOC_SEND, &x));
	x.timeout_ns = 1;
	EXPECT_EQ(8, ioctl(self->rx, MPSC_IOC_RECV, &x));
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	x.timeout_ns = 0;
	EXPECT_EQ(8, ioctl(self->rx, MPSC_IOC_SEND, &x));
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_SEND, &x));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_SEND, buf, 8, 0));
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
