// SPDX-License-Identifier: GPL-2.0
/*
 * MPSC_IOC_SEND and MPSC_IOC_RECV: timeouts (relative, absolute, none,
 * zero), restart after signals with the deadline kept, and every
 * rejection path.
 */

#include <sys/mman.h>

#include "mpsc_test.h"

#define MS 1000000ULL

FIXTURE(xf) {
	int rx;
	int tx;
};

FIXTURE_SETUP(xf)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(xf)
{
	close(self->tx);
	close(self->rx);
}

TEST_F(xf, recv_timeout_expires)
{
	uint64_t start = now_ns(), took;
	char c;

	EXPECT_EQ(-ETIMEDOUT, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 50 * MS));
	took = now_ns() - start;
	EXPECT_LE(50 * MS, took);
	EXPECT_GT(5000 * MS, took);
}

TEST_F(xf, recv_zero_timeout_eagain)
{
	char buf[4];

	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, buf, 4, 0));
	ASSERT_EQ(2, send_str(self->tx, "ok"));
	EXPECT_EQ(2, xfer(self->rx, MPSC_IOC_RECV, buf, 4, 0));
}

TEST_F(xf, recv_forever_gets_message)
{
	char buf[8];
	struct op r = { .kind = OP_RECV, .buf = buf, .len = sizeof(buf),
			.timeout_ns = MPSC_TIMEOUT_FOREVER };

	r.fd = self->rx;
	ASSERT_TRUE(op_start(&r));
	ASSERT_EQ(5, send_str(self->tx, "wakey"));
	EXPECT_EQ(5, op_join(&r));
	EXPECT_EQ(0, memcmp(buf, "wakey", 5));
}

TEST_F(xf, recv_absolute_deadline)
{
	struct mpsc_xfer x = { .len = 1, .flags = MPSC_XFER_ABSTIME };
	uint64_t start = now_ns();
	char c;

	x.buf = (uintptr_t)&c;
	x.timeout_ns = start + 50 * MS;
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_LE(50 * MS, now_ns() - start);
	/* A deadline in the past expires at once. */
	x.timeout_ns = 1;
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(ETIMEDOUT, errno);
}

TEST_F(xf, recv_end_of_file)
{
	char c;

	ASSERT_EQ(0, mpsc_disc(self->tx));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(0, xfer(self->rx, MPSC_IOC_RECV, &c, 1, MPSC_TIMEOUT_FOREVER));
	EXPECT_EQ(0, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 0));
}

/* The fd's O_NONBLOCK does not apply: the timeout says how long. */
TEST_F(xf, ignores_o_nonblock)
{
	uint64_t start = now_ns();
	char c;

	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-ETIMEDOUT, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 30 * MS));
	EXPECT_LE(30 * MS, now_ns() - start);
}

/* Interrupted, the call leaves its deadline in the struct. */
TEST_F(xf, signal_leaves_deadline)
{
	char c;
	struct op r = { .kind = OP_RECV, .buf = &c, .len = 1,
			.timeout_ns = 10000 * MS };
	uint64_t start;

	r.fd = self->rx;
	catch_signal(SIGUSR1, false);
	start = now_ns();
	ASSERT_TRUE(op_start(&r));
	ASSERT_EQ(0, pthread_kill(r.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, op_join(&r));
	EXPECT_EQ(MPSC_XFER_ABSTIME, r.x.flags);
	EXPECT_LE(start + 10000 * MS, r.x.timeout_ns);
	EXPECT_GE(now_ns() + 10000 * MS, r.x.timeout_ns);
}

/* With SA_RESTART the restarted call ends at the first deadline. */
struct pinger {
	pthread_t target;
	int stop;
};

static int pings;
static void count_ping(int sig)
{
	__atomic_fetch_add(&pings, 1, __ATOMIC_SEQ_CST);
}

static void *pinger_fn(void *arg)
{
	struct pinger *p = arg;

	while (!load(&p->stop)) {
		pthread_kill(p->target, SIGUSR1);
		sleep_ms(20);
	}
	return NULL;
}

TEST_F(xf, sa_restart_keeps_deadline)
{
	struct sigaction sa = { .sa_handler = count_ping,
				.sa_flags = SA_RESTART };
	struct pinger p = { .target = pthread_self() };
	uint64_t start, took;
	pthread_t t;
	char c;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	store(&pings, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, pinger_fn, &p));
	start = now_ns();
	EXPECT_EQ(-ETIMEDOUT, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 300 * MS));
	took = now_ns() - start;
	store(&p.stop, 1);
	pthread_join(t, NULL);
	EXPECT_LE(300 * MS, took);
	EXPECT_GT(2000 * MS, took);
	EXPECT_LT(3, load(&pings));
}

TEST_F(xf, send_timeout_on_full)
{
	struct mpsc_info info;
	uint64_t start;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->tx, "a"));
	start = now_ns();
	EXPECT_EQ(-ETIMEDOUT, xfer(self->tx, MPSC_IOC_SEND, "b", 1, 40 * MS));
	EXPECT_LE(40 * MS, now_ns() - start);
	EXPECT_EQ(-EAGAIN, xfer(self->tx, MPSC_IOC_SEND, "b", 1, 0));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(1, info.queued_msgs);
}

TEST_F(xf, send_waits_for_slot)
{
	struct op w = { .kind = OP_SEND, .buf = "b", .len = 1,
			.timeout_ns = 5000 * MS };
	char c;

	w.fd = self->tx;
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->tx, "a"));
	ASSERT_TRUE(op_start(&w));
	ASSERT_EQ(1, recv_msg(self->rx, &c, 1));
	EXPECT_EQ(1, op_join(&w));
}

/* EMSGSIZE says how long the message is; it stays queued. */
TEST_F(xf, recv_emsgsize_reports_length)
{
	struct mpsc_xfer x = { .len = 3 };
	char buf[16];

	x.buf = (uintptr_t)buf;
	ASSERT_EQ(11, send_str(self->tx, "hello world"));
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(11, x.len);
	x.len = sizeof(buf);
	EXPECT_EQ(11, ioctl(self->rx, MPSC_IOC_RECV, &x));
}

/* Rejections, each on otherwise valid input. */
FIXTURE(xbad) {
	int rx;
	int tx;
	char buf[16];
};

FIXTURE_VARIANT(xbad) {
	unsigned long cmd;
};

FIXTURE_VARIANT_ADD(xbad, send) {
	.cmd = MPSC_IOC_SEND
};

FIXTURE_VARIANT_ADD(xbad, recv) {
	.cmd = MPSC_IOC_RECV
};

FIXTURE_SETUP(xbad)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(3, send_str(self->tx, "msg"));
}

FIXTURE_TEARDOWN(xbad)
{
	close(self->tx);
	close(self->rx);
}

/* Issue a well-formed call, changed by @bad; return -errno or the result. */
static long call(int fd, unsigned long cmd, char *buf,
		 void (*bad)(struct mpsc_xfer *))
{
	struct mpsc_xfer x = { .buf = (uintptr_t)buf, .len = 3 };

	if (bad)
		bad(&x);
	return ioctl(fd, cmd, &x) < 0 ? -errno : 0;
}

static void flag1(struct mpsc_xfer *x) { x->flags = 1U << 4; }
static void flag31(struct mpsc_xfer *x) { x->flags = 1U << 31; }
static void res0(struct mpsc_xfer *x) { x->count = 1; }
static void res1(struct mpsc_xfer *x) { x->reserved[0] = 1; }
static void res2(struct mpsc_xfer *x) { x->reserved[1] = 1; }

static int fd_for(int rx, int tx, unsigned long cmd)
{
	return cmd == MPSC_IOC_SEND ? tx : rx;
}

static unsigned long long nqueued(int fd)
{
	struct mpsc_info info;

	return mpsc_get_info(fd, &info) ? ~0ULL : info.queued_msgs;
}

TEST_F(xbad, unknown_flag_einval)
{
	int fd = fd_for(self->rx, self->tx, variant->cmd);

	EXPECT_EQ(-EINVAL, call(fd, variant->cmd, self->buf, flag1));
	EXPECT_EQ(-EINVAL, call(fd, variant->cmd, self->buf, flag31));
	EXPECT_EQ(1, nqueued(self->rx));
}

TEST_F(xbad, reserved_einval)
{
	int fd = fd_for(self->rx, self->tx, variant->cmd);

	EXPECT_EQ(-EINVAL, call(fd, variant->cmd, self->buf, res0));
	EXPECT_EQ(-EINVAL, call(fd, variant->cmd, self->buf, res1));
	EXPECT_EQ(-EINVAL, call(fd, variant->cmd, self->buf, res2));
	EXPECT_EQ(1, nqueued(self->rx));
}

TEST_F(xbad, bad_struct_efault)
{
	int fd = fd_for(self->rx, self->tx, variant->cmd);

	EXPECT_EQ(-1, ioctl(fd, variant->cmd, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, nqueued(self->rx));
}

/* A bad buffer: nothing queued by a send, nothing lost by a receive. */
TEST_F(xbad, bad_buffer_efault)
{
	int fd = fd_for(self->rx, self->tx, variant->cmd);
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	char buf[8];

	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(-EFAULT, call(fd, variant->cmd, none, NULL));
	EXPECT_EQ(1, nqueued(self->rx));
	ASSERT_EQ(3, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "msg", 3));
	munmap(none, 4096);
}

TEST_F(xf, recv_on_sender_ebadf)
{
	char c;

	EXPECT_EQ(-EBADF, xfer(self->tx, MPSC_IOC_RECV, &c, 1, 0));
}

TEST_F(xf, send_without_role_epipe)
{
	ASSERT_EQ(0, mpsc_disc(self->tx));
	EXPECT_EQ(-EPIPE, xfer(self->tx, MPSC_IOC_SEND, "x", 1, 0));
}

TEST_F(xf, send_oversize_emsgsize)
{
	struct mpsc_info info;
	char *buf;

	ASSERT_EQ(0, mpsc_get_info(self->tx, &info));
	buf = calloc(1, info.max_msg_size + 1);
	EXPECT_EQ(-EMSGSIZE, xfer(self->tx, MPSC_IOC_SEND, buf,
				  info.max_msg_size + 1, 0));
	EXPECT_EQ(info.max_msg_size, xfer(self->tx, MPSC_IOC_SEND, buf,
					  info.max_msg_size, 0));
	free(buf);
}

TEST_F(xf, send_empty_queues_nothing)
{
	struct mpsc_info info;

	EXPECT_EQ(0, xfer(self->tx, MPSC_IOC_SEND, "", 0, 0));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(0, info.queued_msgs);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
