// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libmpsc tests: each function's results and errors, against the device.
 * Linked with libmpsc.a; the shared library is checked through dlopen().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../mpsc.h"
#include "kselftest_harness.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

FIXTURE(lib) {
	int rx;
};

FIXTURE_SETUP(lib)
{
	self->rx = mpsc_channel(O_CLOEXEC);
	ASSERT_LE(0, self->rx) TH_LOG("mpsc_channel: %s", strerror(-self->rx));
}

FIXTURE_TEARDOWN(lib)
{
	close(self->rx);
}

/* Flags other than O_CLOEXEC and O_NONBLOCK are -EINVAL. */
TEST(channel_bad_flags)
{
	EXPECT_EQ(-EINVAL, mpsc_channel(O_RDONLY | O_APPEND));
	EXPECT_EQ(-EINVAL, mpsc_channel(O_WRONLY));
	EXPECT_EQ(-EINVAL, mpsc_channel(1 << 30));
}

TEST(channel_flags_applied)
{
	int fd = mpsc_channel(O_CLOEXEC | O_NONBLOCK);

	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	fd = mpsc_channel(0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* The seed's first example: send from a thread, receive in main. */
static void *hello_thread(void *arg)
{
	int tx = *(int *)arg;

	mpsc_send(tx, "Hello from the thread!", 22);
	close(tx);
	return NULL;
}

TEST_F(lib, send_recv_roundtrip)
{
	char buf[64];
	pthread_t t;
	int tx = mpsc_sender_clone(self->rx, O_CLOEXEC);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disconnect(self->rx));
	ASSERT_EQ(0, pthread_create(&t, NULL, hello_thread, &tx));
	ASSERT_EQ(22, mpsc_recv(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "Hello from the thread!", 22));
	pthread_join(t, NULL);
	EXPECT_EQ(0, mpsc_recv(self->rx, buf, sizeof(buf)));
}

TEST_F(lib, send_zero_length)
{
	struct mpsc_info info;

	EXPECT_EQ(0, mpsc_send(self->rx, "", 0));
	ASSERT_EQ(0, mpsc_info(self->rx, &info));
	EXPECT_EQ(0, info.queued_msgs);
}

TEST_F(lib, send_after_receiver_closed_epipe)
{
	int tx = mpsc_sender_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	close(self->rx);
	self->rx = -1;
	signal(SIGPIPE, SIG_DFL);
	EXPECT_EQ(-EPIPE, mpsc_send(tx, "x", 1));
	close(tx);
}

TEST_F(lib, recv_short_buffer_emsgsize)
{
	char buf[4];

	ASSERT_EQ(6, mpsc_send(self->rx, "abcdef", 6));
	EXPECT_EQ(-EMSGSIZE, mpsc_recv(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(6, mpsc_peek_len(self->rx));
}

/* try_recv never sleeps, even on a blocking fd: Empty vs Disconnected. */
TEST_F(lib, try_recv_empty_then_disconnected)
{
	char buf[8];

	EXPECT_EQ(-EAGAIN, mpsc_try_recv(self->rx, buf, sizeof(buf)));
	ASSERT_EQ(2, mpsc_send(self->rx, "ok", 2));
	EXPECT_EQ(2, mpsc_try_recv(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(self->rx, buf, sizeof(buf)));
	ASSERT_EQ(0, mpsc_disconnect(self->rx));
	EXPECT_EQ(0, mpsc_try_recv(self->rx, buf, sizeof(buf)));
}

TEST_F(lib, recv_timeout_expires)
{
	uint64_t start = now_ns(), took;
	char buf[8];

	EXPECT_EQ(-ETIMEDOUT,
		  mpsc_recv_timeout(self->rx, buf, sizeof(buf), 50000000));
	took = now_ns() - start;
	EXPECT_LE(50000000, took);
	EXPECT_GT(5000000000ULL, took);
}

TEST_F(lib, recv_timeout_zero_is_timeout)
{
	char buf[8];

	EXPECT_EQ(-ETIMEDOUT, mpsc_recv_timeout(self->rx, buf, sizeof(buf), 0));
	ASSERT_EQ(1, mpsc_send(self->rx, "x", 1));
	EXPECT_EQ(1, mpsc_recv_timeout(self->rx, buf, sizeof(buf), 0));
}

struct later {
	int fd;
	unsigned int ms;
	const char *msg;
};

static void *send_later(void *arg)
{
	struct later *l = arg;

	sleep_ms(l->ms);
	if (l->msg)
		mpsc_send(l->fd, l->msg, strlen(l->msg));
	else
		close(l->fd);
	return NULL;
}

TEST_F(lib, recv_timeout_gets_message)
{
	struct later l = { .fd = self->rx, .ms = 50, .msg = "late" };
	char buf[8];
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, send_later, &l));
	EXPECT_EQ(4, mpsc_recv_timeout(self->rx, buf, sizeof(buf),
				       MPSC_WAIT_FOREVER));
	pthread_join(t, NULL);
}

TEST_F(lib, recv_timeout_sees_disconnect)
{
	int tx = mpsc_sender_clone(self->rx, 0);
	struct later l = { .fd = tx, .ms = 50 };
	char buf[8];
	pthread_t t;

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disconnect(self->rx));
	ASSERT_EQ(0, pthread_create(&t, NULL, send_later, &l));
	EXPECT_EQ(0, mpsc_recv_timeout(self->rx, buf, sizeof(buf),
				       5000000000ULL));
	pthread_join(t, NULL);
}

TEST_F(lib, peek_len)
{
	EXPECT_EQ(-EAGAIN, mpsc_peek_len(self->rx));
	ASSERT_EQ(3, mpsc_send(self->rx, "abc", 3));
	EXPECT_EQ(3, mpsc_peek_len(self->rx));
	ASSERT_EQ(0, mpsc_disconnect(self->rx));
	EXPECT_EQ(3, mpsc_peek_len(self->rx));
}

TEST_F(lib, peek_len_on_sender_ebadf)
{
	int tx = mpsc_sender_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	EXPECT_EQ(-EBADF, mpsc_peek_len(tx));
	close(tx);
}

TEST_F(lib, info)
{
	struct mpsc_info info;
	int tx = mpsc_sender_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_info(tx, &info));
	EXPECT_EQ(2, info.senders);
	EXPECT_EQ(MPSC_STATE_SENDER | MPSC_STATE_RX_OPEN, info.state);
	close(tx);
}

TEST_F(lib, clone_flags)
{
	int tx;

	EXPECT_EQ(-EINVAL, mpsc_sender_clone(self->rx, O_RDWR));
	tx = mpsc_sender_clone(self->rx, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, tx);
	EXPECT_EQ(FD_CLOEXEC, fcntl(tx, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(tx, F_GETFL) & O_NONBLOCK);
	close(tx);
}

TEST_F(lib, clone_after_disconnect_epipe)
{
	EXPECT_EQ(0, mpsc_disconnect(self->rx));
	EXPECT_EQ(0, mpsc_disconnect(self->rx));
	EXPECT_EQ(-EPIPE, mpsc_sender_clone(self->rx, 0));
}

/* sync_channel(N): N sends fit, the next is Full. */
TEST(sync_channel_bounded)
{
	struct mpsc_info info;
	int rx = mpsc_sync_channel(2, O_CLOEXEC);

	ASSERT_LE(0, rx);
	ASSERT_EQ(0, mpsc_info(rx, &info));
	EXPECT_EQ(2, info.capacity);
	EXPECT_EQ(1, mpsc_try_send(rx, "a", 1));
	EXPECT_EQ(1, mpsc_try_send(rx, "b", 1));
	EXPECT_EQ(-EAGAIN, mpsc_try_send(rx, "c", 1));
	EXPECT_EQ(-ETIMEDOUT, mpsc_send_timeout(rx, "c", 1, 20000000));
	EXPECT_EQ(-ETIMEDOUT, mpsc_send_timeout(rx, "c", 1, 0));
	close(rx);
}

TEST(sync_channel_bad_flags)
{
	EXPECT_EQ(-EINVAL, mpsc_sync_channel(4, O_APPEND));
}

/* sync_channel(0): no receiver waiting, no try_send. */
TEST(sync_channel_rendezvous)
{
	int rx = mpsc_sync_channel(0, O_CLOEXEC);

	ASSERT_LE(0, rx);
	EXPECT_EQ(-EAGAIN, mpsc_try_send(rx, "x", 1));
	close(rx);
}

struct rendezvous_reader {
	int fd;
	ssize_t ret;
	char buf[16];
};

static void *rendezvous_read(void *arg)
{
	struct rendezvous_reader *r = arg;

	sleep_ms(50);
	r->ret = mpsc_recv(r->fd, r->buf, sizeof(r->buf));
	return NULL;
}

TEST(rendezvous_send_timeout_handed_over)
{
	struct rendezvous_reader r = { 0 };
	pthread_t t;
	int rx = mpsc_sync_channel(0, O_CLOEXEC);

	ASSERT_LE(0, rx);
	r.fd = rx;
	ASSERT_EQ(0, pthread_create(&t, NULL, rendezvous_read, &r));
	EXPECT_EQ(5, mpsc_send_timeout(rx, "relay", 5, 5000000000ULL));
	pthread_join(t, NULL);
	EXPECT_EQ(5, r.ret);
	close(rx);
}

TEST_F(lib, set_capacity_on_sender_ebadf)
{
	int tx = mpsc_sender_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	EXPECT_EQ(-EBADF, mpsc_set_capacity(tx, 1));
	EXPECT_EQ(-EBADF, mpsc_close(tx));
	close(tx);
}

/* close: sends fail, the queue drains, then end-of-file. */
TEST_F(lib, close_drains_then_eof)
{
	struct mpsc_info info;
	char buf[8];

	ASSERT_EQ(2, mpsc_send(self->rx, "hi", 2));
	ASSERT_EQ(0, mpsc_close(self->rx));
	EXPECT_EQ(-EPIPE, mpsc_send(self->rx, "x", 1));
	EXPECT_EQ(-EPIPE, mpsc_try_send(self->rx, "x", 1));
	ASSERT_EQ(0, mpsc_info(self->rx, &info));
	EXPECT_EQ(MPSC_STATE_CLOSED, info.state & MPSC_STATE_CLOSED);
	EXPECT_EQ(2, mpsc_recv(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, mpsc_recv(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, mpsc_try_recv(self->rx, buf, sizeof(buf)));
}

/* select: the ready case is reported, with its index. */
TEST(select_reports_ready_case)
{
	int a = mpsc_channel(O_CLOEXEC), b = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it[2] = {
		{ .fd = a, .events = MPSC_SELECT_RECV },
		{ .fd = b, .events = MPSC_SELECT_RECV },
	};

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(-EAGAIN, mpsc_select(it, 2, 0));
	EXPECT_EQ(-ETIMEDOUT, mpsc_select(it, 2, 20000000));
	ASSERT_EQ(1, mpsc_send(b, "b", 1));
	EXPECT_EQ(1, mpsc_select(it, 2, MPSC_WAIT_FOREVER));
	EXPECT_EQ(0, it[0].ready);
	EXPECT_EQ(MPSC_SELECT_RECV, it[1].ready);
	close(a);
	close(b);
}

struct delayed {
	int fd;
	unsigned int ms;
};

static void *send_after(void *arg)
{
	struct delayed *d = arg;

	sleep_ms(d->ms);
	mpsc_send(d->fd, "!", 1);
	return NULL;
}

/* select sleeps until a case becomes ready. */
TEST(select_waits)
{
	int a = mpsc_channel(O_CLOEXEC), b = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it[2] = {
		{ .fd = a, .events = MPSC_SELECT_RECV },
		{ .fd = b, .events = MPSC_SELECT_RECV },
	};
	struct delayed d = { .fd = a, .ms = 50 };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, send_after, &d));
	EXPECT_EQ(0, mpsc_select(it, 2, 5000000000ULL));
	pthread_join(t, NULL);
	close(a);
	close(b);
}

/* End-of-file makes a receive ready (it returns 0 at once). */
TEST(select_eof_is_ready)
{
	int a = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it = { .fd = a, .events = MPSC_SELECT_RECV };
	char c;

	ASSERT_EQ(0, mpsc_disconnect(a));
	EXPECT_EQ(0, mpsc_select(&it, 1, 0));
	EXPECT_EQ(0, mpsc_try_recv(a, &c, 1));
	close(a);
}

/* Send readiness follows room on a bounded channel. */
TEST(select_send_readiness)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC), tx;
	struct mpsc_select_item it = { .events = MPSC_SELECT_SEND };
	char c;

	ASSERT_LE(0, rx);
	tx = mpsc_sender_clone(rx, O_CLOEXEC);
	ASSERT_LE(0, tx);
	it.fd = tx;
	EXPECT_EQ(0, mpsc_select(&it, 1, 0));
	EXPECT_EQ(MPSC_SELECT_SEND, it.ready);
	ASSERT_EQ(1, mpsc_send(tx, "x", 1));
	EXPECT_EQ(-EAGAIN, mpsc_select(&it, 1, 0));
	ASSERT_EQ(1, mpsc_recv(rx, &c, 1));
	EXPECT_EQ(0, mpsc_select(&it, 1, 0));
	close(tx);
	close(rx);
}

/* Any pollable fd can be a case; -1 disables one. */
TEST(select_mixed_fds)
{
	int ch = mpsc_channel(O_CLOEXEC), p[2];
	struct mpsc_select_item it[3] = {
		{ .fd = -1, .events = MPSC_SELECT_RECV },
		{ .fd = ch, .events = MPSC_SELECT_RECV },
	};

	ASSERT_EQ(0, pipe(p));
	it[2].fd = p[0];
	it[2].events = MPSC_SELECT_RECV;
	EXPECT_EQ(-EAGAIN, mpsc_select(it, 3, 0));
	ASSERT_EQ(1, write(p[1], "p", 1));
	EXPECT_EQ(2, mpsc_select(it, 3, 0));
	EXPECT_EQ(0, it[0].ready);
	close(p[0]);
	close(p[1]);
	close(ch);
}

/* One fd in two cases, receiving and sending. */
TEST(select_same_fd_twice)
{
	int ch = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it[2] = {
		{ .fd = ch, .events = MPSC_SELECT_RECV },
		{ .fd = ch, .events = MPSC_SELECT_SEND },
	};

	EXPECT_EQ(1, mpsc_select(it, 2, 0));
	EXPECT_EQ(0, it[0].ready);
	EXPECT_EQ(MPSC_SELECT_SEND, it[1].ready);
	close(ch);
}

/* With two cases always ready, both get their turn. */
TEST(select_is_fair)
{
	int a = mpsc_channel(O_CLOEXEC), b = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it[2] = {
		{ .fd = a, .events = MPSC_SELECT_RECV },
		{ .fd = b, .events = MPSC_SELECT_RECV },
	};
	int counts[2] = { 0 }, i, r;

	ASSERT_EQ(1, mpsc_send(a, "a", 1));
	ASSERT_EQ(1, mpsc_send(b, "b", 1));
	for (i = 0; i < 10; i++) {
		r = mpsc_select(it, 2, 0);
		ASSERT_LE(0, r);
		counts[r]++;
	}
	EXPECT_EQ(5, counts[0]);
	EXPECT_EQ(5, counts[1]);
	close(a);
	close(b);
}

TEST(select_bad_events_einval)
{
	int ch = mpsc_channel(O_CLOEXEC);
	struct mpsc_select_item it = { .fd = ch, .events = 0 };

	EXPECT_EQ(-EINVAL, mpsc_select(&it, 1, 0));
	it.events = 4;
	EXPECT_EQ(-EINVAL, mpsc_select(&it, 1, 0));
	EXPECT_EQ(-EINVAL, mpsc_select(NULL, 1, 0));
	close(ch);
}

TEST(select_closed_fd_ebadf)
{
	struct mpsc_select_item it = { .fd = 1000, .events = MPSC_SELECT_RECV };

	EXPECT_EQ(-EBADF, mpsc_select(&it, 1, 0));
}

/*
 * Signals.  A call that sleeps returns -EINTR when a handler installed
 * without SA_RESTART interrupts it, with nothing sent or consumed; under
 * SA_RESTART the kernel restarts it and it completes as if no signal had
 * come, a _timeout call at its first deadline.  mpsc_select() waits in
 * epoll, which is never restarted: -EINTR either way.
 */
static int signals;

static void on_signal(int sig)
{
	__atomic_fetch_add(&signals, 1, __ATOMIC_SEQ_CST);
}

static int signals_seen(void)
{
	return __atomic_load_n(&signals, __ATOMIC_SEQ_CST);
}

/* Count SIGUSR1 in on_signal(), installed with @flags (SA_RESTART or 0). */
static int catch_sigusr1(int flags)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&signals, 0, __ATOMIC_SEQ_CST);
	return sigaction(SIGUSR1, &sa, NULL);
}

/*
 * Wait until thread @tid of this process sleeps in a kernel function
 * whose name contains @where (its wchan); false after about five seconds.
 */
static bool asleep_in(pid_t tid, const char *where)
{
	char path[64], buf[128];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", getpid(), tid);
	for (i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, where))
				return true;
		}
		sleep_ms(1);
	}
	return false;
}

enum blocking_call { SEND, RECV, SEND_TIMEOUT, RECV_TIMEOUT, SELECT };

/* One blocking libmpsc call, made in a thread of its own. */
struct blocked {
	enum blocking_call call;
	int fd;
	const char *msg;	/* the sends: what to send */
	uint64_t timeout_ns;	/* the _timeout calls and select */
	struct mpsc_select_item item;
	pthread_t thread;
	pid_t tid;
	int done;
	ssize_t ret;
	char buf[16];		/* the receives: what came */
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	ssize_t ret = -ENOSYS;

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_SEQ_CST);
	switch (b->call) {
	case SEND:
		ret = mpsc_send(b->fd, b->msg, strlen(b->msg));
		break;
	case RECV:
		ret = mpsc_recv(b->fd, b->buf, sizeof(b->buf));
		break;
	case SEND_TIMEOUT:
		ret = mpsc_send_timeout(b->fd, b->msg, strlen(b->msg),
					b->timeout_ns);
		break;
	case RECV_TIMEOUT:
		ret = mpsc_recv_timeout(b->fd, b->buf, sizeof(b->buf),
					b->timeout_ns);
		break;
	case SELECT:
		ret = mpsc_select(&b->item, 1, b->timeout_ns);
		break;
	}
	b->ret = ret;
	__atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static bool blocked_asleep(struct blocked *b)
{
	/* do_epoll_wait or ep_poll; the module's waits are all mpsc_*. */
	return asleep_in(b->tid, b->call == SELECT ? "poll" : "mpsc_");
}

/* Start @b's call and wait until it sleeps in the kernel. */
static bool start_blocked(struct blocked *b)
{
	if (pthread_create(&b->thread, NULL, blocked_fn, b))
		return false;
	while (!__atomic_load_n(&b->tid, __ATOMIC_SEQ_CST))
		sleep_ms(1);
	return blocked_asleep(b);
}

/* pthread_kill() @b's thread once and wait until the handler has run. */
static bool interrupt(struct blocked *b)
{
	int before = signals_seen(), i;

	if (pthread_kill(b->thread, SIGUSR1))
		return false;
	for (i = 0; i < 5000 && signals_seen() == before; i++)
		sleep_ms(1);
	return signals_seen() != before;
}

static bool blocked_done(struct blocked *b)
{
	return __atomic_load_n(&b->done, __ATOMIC_SEQ_CST);
}

/* Wait for @b's call to return: what it returned. */
static ssize_t blocked_result(struct blocked *b)
{
	pthread_join(b->thread, NULL);
	return b->ret;
}

/* How many messages @rx's channel holds, or -errno. */
static ssize_t queued_msgs(int rx)
{
	struct mpsc_info info;
	int ret = mpsc_info(rx, &info);

	return ret < 0 ? ret : (ssize_t)info.queued_msgs;
}

TEST(recv_signal_eintr)
{
	int rx = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = RECV };
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	/* The channel is as it was: a message sent now is received. */
	ASSERT_EQ(1, mpsc_send(rx, "x", 1));
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

TEST(recv_signal_sa_restart_goes_on)
{
	int rx = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = RECV };

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	ASSERT_TRUE(blocked_asleep(&b));
	EXPECT_FALSE(blocked_done(&b));
	ASSERT_EQ(5, mpsc_send(rx, "hello", 5));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(5, b.ret);
	EXPECT_EQ(0, memcmp(b.buf, "hello", 5));
	EXPECT_EQ(0, queued_msgs(rx));
	close(rx);
}

/* A send to a full channel: interrupted, the message is not queued. */
TEST(send_signal_eintr)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC);
	struct blocked b = { .call = SEND, .msg = "b" };
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(1, mpsc_send(rx, "a", 1));
	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_EQ(1, queued_msgs(rx));
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

TEST(send_signal_sa_restart_goes_on)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC);
	struct blocked b = { .call = SEND, .msg = "b" };
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(1, mpsc_send(rx, "a", 1));
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	ASSERT_TRUE(blocked_asleep(&b));
	EXPECT_FALSE(blocked_done(&b));
	EXPECT_EQ(1, queued_msgs(rx));
	ASSERT_EQ(1, mpsc_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('a', buf[0]);
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('b', buf[0]);
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

/* A rendezvous send interrupted before the hand-off is withdrawn. */
TEST(rendezvous_send_signal_eintr_withdrawn)
{
	int rx = mpsc_sync_channel(0, O_CLOEXEC);
	struct blocked b = { .call = SEND, .msg = "r" };
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_EQ(0, queued_msgs(rx));
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

TEST(recv_timeout_signal_eintr)
{
	int rx = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = RECV_TIMEOUT,
			     .timeout_ns = 20000000000ULL };
	uint64_t start;
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(0));
	start = now_ns();
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_GT(10000000000ULL, now_ns() - start);
	ASSERT_EQ(1, mpsc_send(rx, "x", 1));
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

TEST(recv_timeout_signal_sa_restart_goes_on)
{
	int rx = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = RECV_TIMEOUT,
			     .timeout_ns = 20000000000ULL };

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	ASSERT_TRUE(blocked_asleep(&b));
	EXPECT_FALSE(blocked_done(&b));
	ASSERT_EQ(4, mpsc_send(rx, "late", 4));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(4, b.ret);
	EXPECT_EQ(0, memcmp(b.buf, "late", 4));
	close(rx);
}

TEST(send_timeout_signal_eintr)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC);
	struct blocked b = { .call = SEND_TIMEOUT, .msg = "b",
			     .timeout_ns = 20000000000ULL };
	uint64_t start;
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(1, mpsc_send(rx, "a", 1));
	ASSERT_EQ(0, catch_sigusr1(0));
	start = now_ns();
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_GT(10000000000ULL, now_ns() - start);
	EXPECT_EQ(1, queued_msgs(rx));
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ(-EAGAIN, mpsc_try_recv(rx, buf, sizeof(buf)));
	close(rx);
}

TEST(send_timeout_signal_sa_restart_goes_on)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC);
	struct blocked b = { .call = SEND_TIMEOUT, .msg = "b",
			     .timeout_ns = 20000000000ULL };
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(1, mpsc_send(rx, "a", 1));
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	ASSERT_TRUE(blocked_asleep(&b));
	EXPECT_FALSE(blocked_done(&b));
	ASSERT_EQ(1, mpsc_recv(rx, buf, sizeof(buf)));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('b', buf[0]);
	close(rx);
}

/*
 * Under SA_RESTART a _timeout call ends at the deadline it started with,
 * however many signals restart it.  A pinger signals it every 10 ms for
 * up to 1.5 s: a restart that took a fresh timeout would run until the
 * pinger stops and then a whole timeout more.
 */
struct pinger {
	pthread_t target;
	int stop;
};

static void *pinger_fn(void *arg)
{
	struct pinger *p = arg;
	int i;

	for (i = 0; i < 150 && !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST);
	     i++) {
		pthread_kill(p->target, SIGUSR1);
		sleep_ms(10);
	}
	return NULL;
}

#define DEADLINE_NS	300000000ULL	/* the timeout */
#define LATE_NS		500000000ULL	/* what we allow past it */

/* Run @b's _timeout call in this thread under the pinger: its duration. */
static uint64_t timed_under_pinger(struct blocked *b)
{
	struct pinger p = { .target = pthread_self() };
	uint64_t start, took;
	pthread_t t;

	if (pthread_create(&t, NULL, pinger_fn, &p))
		return 0;
	start = now_ns();
	blocked_fn(b);
	took = now_ns() - start;
	__atomic_store_n(&p.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	return took;
}

TEST(recv_timeout_sa_restart_keeps_deadline)
{
	int rx = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = RECV_TIMEOUT, .timeout_ns = DEADLINE_NS };
	uint64_t took;

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	took = timed_under_pinger(&b);
	EXPECT_EQ(-ETIMEDOUT, b.ret);
	EXPECT_LE(DEADLINE_NS, took);
	EXPECT_GT(DEADLINE_NS + LATE_NS, took);
	EXPECT_LT(2, signals_seen());
	TH_LOG("timeout %llu ms: -ETIMEDOUT after %llu ms, %d signals",
	       DEADLINE_NS / 1000000, (unsigned long long)took / 1000000,
	       signals_seen());
	close(rx);
}

TEST(send_timeout_sa_restart_keeps_deadline)
{
	int rx = mpsc_sync_channel(1, O_CLOEXEC);
	struct blocked b = { .call = SEND_TIMEOUT, .msg = "y",
			     .timeout_ns = DEADLINE_NS };
	uint64_t took;
	char buf[8];

	ASSERT_LE(0, rx);
	b.fd = rx;
	ASSERT_EQ(1, mpsc_send(rx, "x", 1));
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	took = timed_under_pinger(&b);
	EXPECT_EQ(-ETIMEDOUT, b.ret);
	EXPECT_LE(DEADLINE_NS, took);
	EXPECT_GT(DEADLINE_NS + LATE_NS, took);
	EXPECT_LT(2, signals_seen());
	TH_LOG("timeout %llu ms: -ETIMEDOUT after %llu ms, %d signals",
	       DEADLINE_NS / 1000000, (unsigned long long)took / 1000000,
	       signals_seen());
	EXPECT_EQ(1, queued_msgs(rx));
	EXPECT_EQ(1, mpsc_try_recv(rx, buf, sizeof(buf)));
	EXPECT_EQ('x', buf[0]);
	close(rx);
}

/* select: -EINTR without SA_RESTART, nothing ready, nothing taken. */
TEST(select_signal_eintr)
{
	int ch = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = SELECT, .timeout_ns = 20000000000ULL };
	char buf[8];

	ASSERT_LE(0, ch);
	b.item.fd = ch;
	b.item.events = MPSC_SELECT_RECV;
	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_EQ(0, b.item.ready);
	ASSERT_EQ(1, mpsc_send(ch, "x", 1));
	EXPECT_EQ(0, mpsc_select(&b.item, 1, 0));
	EXPECT_EQ(1, mpsc_try_recv(ch, buf, sizeof(buf)));
	close(ch);
}

/* ... and with SA_RESTART too: the kernel never restarts an epoll wait. */
TEST(select_signal_eintr_even_with_sa_restart)
{
	int ch = mpsc_channel(O_CLOEXEC);
	struct blocked b = { .call = SELECT, .timeout_ns = MPSC_WAIT_FOREVER };

	ASSERT_LE(0, ch);
	b.item.fd = ch;
	b.item.events = MPSC_SELECT_RECV;
	ASSERT_EQ(0, catch_sigusr1(SA_RESTART));
	ASSERT_TRUE(start_blocked(&b));
	ASSERT_TRUE(interrupt(&b));
	EXPECT_EQ(-EINTR, blocked_result(&b));
	EXPECT_EQ(0, b.item.ready);
	close(ch);
}

/* The try_ functions never sleep, so signals never make them fail. */
TEST(try_calls_never_eintr)
{
	struct pinger p = { .target = pthread_self() };
	int rx = mpsc_sync_channel(1, O_CLOEXEC), wrong = 0, calls = 0;
	pthread_t t;
	char buf[8];

	ASSERT_LE(0, rx);
	ASSERT_EQ(1, mpsc_send(rx, "x", 1));
	ASSERT_EQ(0, catch_sigusr1(0));
	ASSERT_EQ(0, pthread_create(&t, NULL, pinger_fn, &p));
	/* Full, then empty: each call fails at once, never with -EINTR. */
	while (signals_seen() < 10 && !wrong) {
		wrong += mpsc_try_send(rx, "y", 1) != -EAGAIN;
		wrong += mpsc_send_timeout(rx, "y", 1, 0) != -ETIMEDOUT;
		wrong += mpsc_try_recv(rx, buf, sizeof(buf)) != 1;
		wrong += mpsc_try_recv(rx, buf, sizeof(buf)) != -EAGAIN;
		wrong += mpsc_recv_timeout(rx, buf, sizeof(buf), 0) != -ETIMEDOUT;
		wrong += mpsc_try_send(rx, "x", 1) != 1;
		calls += 6;
	}
	__atomic_store_n(&p.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	EXPECT_EQ(0, wrong) TH_LOG("after %d calls", calls);
	EXPECT_LE(10, signals_seen());
	close(rx);
}

/* On an fd that is not an mpsc channel: -ENOTTY, or -EBADF if closed. */
TEST(wrong_fd)
{
	struct mpsc_info info;
	int p[2];
	char c;

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-ENOTTY, mpsc_disconnect(p[1]));
	EXPECT_EQ(-ENOTTY, mpsc_sender_clone(p[1], 0));
	EXPECT_EQ(-ENOTTY, mpsc_info(p[0], &info));
	EXPECT_EQ(-ENOTTY, mpsc_peek_len(p[0]));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(-EBADF, mpsc_send(p[1], "x", 1));
	EXPECT_EQ(-EBADF, mpsc_recv(p[0], &c, 1));
	EXPECT_EQ(-EBADF, mpsc_try_recv(p[0], &c, 1));
	EXPECT_EQ(-EBADF, mpsc_info(p[0], &info));
}

/* mpsc_pipe(): fds[0] only receives, fds[1] is the one sender. */
TEST(pipe_receiver_and_sender)
{
	struct mpsc_info info;
	char buf[8];
	int fds[2];

	ASSERT_EQ(0, mpsc_pipe(fds, O_CLOEXEC));
	ASSERT_EQ(0, mpsc_info(fds[0], &info));
	EXPECT_TRUE(info.state & MPSC_STATE_RECEIVER);
	EXPECT_FALSE(info.state & MPSC_STATE_SENDER);
	EXPECT_EQ(1, info.senders);
	EXPECT_EQ(-EPIPE, mpsc_send(fds[0], "x", 1));
	EXPECT_EQ(2, mpsc_send(fds[1], "hi", 2));
	EXPECT_EQ(2, mpsc_recv(fds[0], buf, sizeof(buf)));
	close(fds[1]);
	/* No mpsc_disconnect(): closing the sender ends the loop. */
	EXPECT_EQ(0, mpsc_recv(fds[0], buf, sizeof(buf)));
	close(fds[0]);
}

TEST(pipe_flags_applied_to_both)
{
	int fds[2];

	ASSERT_EQ(0, mpsc_pipe(fds, O_CLOEXEC | O_NONBLOCK));
	EXPECT_TRUE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	EXPECT_TRUE(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	close(fds[0]);
	close(fds[1]);
}

TEST(pipe_bad_flags_leaves_fds)
{
	int fds[2] = { -7, -7 };

	EXPECT_EQ(-EINVAL, mpsc_pipe(fds, O_APPEND));
	EXPECT_EQ(-7, fds[0]);
	EXPECT_EQ(-7, fds[1]);
}

/* A selector waits again and again on one epoll set, made once. */
TEST(selector_reused)
{
	struct mpsc_select_item items[2];
	struct rlimit old, lim;
	int a[2], b[2], sel, i;
	char c;

	ASSERT_EQ(0, mpsc_pipe(a, O_CLOEXEC));
	ASSERT_EQ(0, mpsc_pipe(b, O_CLOEXEC));
	items[0] = (struct mpsc_select_item){ .fd = a[0], .events = MPSC_SELECT_RECV };
	items[1] = (struct mpsc_select_item){ .fd = b[0], .events = MPSC_SELECT_RECV };
	sel = mpsc_selector_create(items, 2, O_CLOEXEC);
	ASSERT_LE(0, sel);
	EXPECT_TRUE(fcntl(sel, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-EAGAIN, mpsc_selector_wait(sel, items, 2, 0));
	EXPECT_EQ(-ETIMEDOUT, mpsc_selector_wait(sel, items, 2, 10000000));
	for (i = 0; i < 100; i++) {
		int tx = i % 2 ? b[1] : a[1], rx = i % 2 ? b[0] : a[0];

		ASSERT_EQ(1, mpsc_send(tx, "m", 1));
		ASSERT_EQ(i % 2, mpsc_selector_wait(sel, items, 2,
						    MPSC_WAIT_FOREVER));
		EXPECT_EQ(MPSC_SELECT_RECV, items[i % 2].ready);
		EXPECT_EQ(0, items[1 - i % 2].ready);
		ASSERT_EQ(1, mpsc_recv(rx, &c, 1));
	}
	/* With no fd left to open, mpsc_select() fails; the selector works. */
	i = dup(0);
	ASSERT_LE(0, i);
	close(i);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	lim = old;
	lim.rlim_cur = i;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	ASSERT_EQ(1, mpsc_send(a[1], "m", 1));
	EXPECT_EQ(-EMFILE, mpsc_select(items, 2, 0));
	EXPECT_EQ(0, mpsc_selector_wait(sel, items, 2, 0));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	close(sel);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

TEST(selector_bad_arguments)
{
	struct mpsc_select_item item = { .fd = 0, .events = 0 };

	EXPECT_EQ(-EINVAL, mpsc_selector_create(&item, 1, 0));
	item.events = MPSC_SELECT_RECV;
	EXPECT_EQ(-EINVAL, mpsc_selector_create(&item, 1, O_NONBLOCK));
	EXPECT_EQ(-EINVAL, mpsc_selector_wait(0, &item, 1, 0));
	item.fd = 1000000;
	EXPECT_EQ(-EBADF, mpsc_selector_create(&item, 1, 0));
}

/* A sender travels to another process over a Unix socket and works there. */
TEST(sock_fd_passes_a_sender)
{
	int sv[2], fds[2], st;
	char buf[16];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, mpsc_pipe(fds, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int tx;

		close(fds[1]);
		close(fds[0]);
		tx = mpsc_sock_recv_fd(sv[1], O_CLOEXEC);
		if (tx < 0 || !(fcntl(tx, F_GETFD) & FD_CLOEXEC))
			_exit(1);
		_exit(mpsc_send(tx, "via socket", 10) == 10 ? 0 : 2);
	}
	ASSERT_EQ(0, mpsc_sock_send_fd(sv[0], fds[1]));
	close(fds[1]);		/* the child's copy is its own */
	EXPECT_EQ(10, mpsc_recv(fds[0], buf, sizeof(buf)));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, st);
	EXPECT_EQ(0, mpsc_recv(fds[0], buf, sizeof(buf)));
	close(fds[0]);
	close(sv[0]);
	close(sv[1]);
}

TEST(sock_fd_refuses_other_fds)
{
	int sv[2], p[2], fds[2];
	char byte = 'x';

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-ENOTTY, mpsc_sock_send_fd(sv[0], p[0]));
	EXPECT_EQ(-EBADF, mpsc_sock_send_fd(sv[0], 1000000));
	/* Bytes without an fd, then an fd that is not mpsc: -EPROTO. */
	ASSERT_EQ(1, write(sv[0], &byte, 1));
	EXPECT_EQ(-EPROTO, mpsc_sock_recv_fd(sv[1], 0));
	EXPECT_EQ(-EINVAL, mpsc_sock_recv_fd(sv[1], O_NONBLOCK));
	ASSERT_EQ(0, mpsc_pipe(fds, O_CLOEXEC));
	ASSERT_EQ(0, mpsc_sock_send_fd(sv[0], fds[1]));
	close(fds[1]);
	EXPECT_LE(0, mpsc_sock_recv_fd(sv[1], O_CLOEXEC));
	/* The peer gone: -EPIPE, and no SIGPIPE on a send. */
	close(sv[0]);
	EXPECT_EQ(-EPIPE, mpsc_sock_recv_fd(sv[1], 0));
	EXPECT_EQ(-EPIPE, mpsc_sock_send_fd(sv[1], fds[0]));
	close(sv[1]);
	close(fds[0]);
	close(p[0]);
	close(p[1]);
}

/* The shared library exports the API and nothing else. */
/* A reply channel travels in a request, and the reply comes back on it. */
TEST(handles_request_reply)
{
	int requests = mpsc_channel(O_CLOEXEC), reply = mpsc_channel(0);
	int fds[MPSC_MAX_HANDLES], flags;
	unsigned int nfds = 0;
	char buf[64];

	ASSERT_LE(0, requests);
	ASSERT_LE(0, reply);
	ASSERT_EQ(4, mpsc_send_handles(requests, "ping", 4, &reply, 1));
	ASSERT_EQ(0, mpsc_disconnect(reply));
	ASSERT_EQ(4, mpsc_recv_handles(requests, buf, sizeof(buf), fds, &nfds,
				       O_CLOEXEC));
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	ASSERT_EQ(1, nfds);
	flags = fcntl(fds[0], F_GETFD);
	EXPECT_EQ(FD_CLOEXEC, flags & FD_CLOEXEC);
	EXPECT_EQ(4, mpsc_send(fds[0], "pong", 4));
	close(fds[0]);
	EXPECT_EQ(4, mpsc_recv(reply, buf, sizeof(buf)));
	EXPECT_EQ(0, mpsc_recv(reply, buf, sizeof(buf)));
	/* Only senders travel; bad arguments are refused. */
	EXPECT_EQ(-EINVAL, mpsc_send_handles(requests, "x", 1, (int[]){ 0 },
					     1));
	EXPECT_EQ(-EINVAL, mpsc_send_handles(requests, "x", 1, fds,
					     MPSC_MAX_HANDLES + 1));
	EXPECT_EQ(-EINVAL, mpsc_recv_handles(requests, buf, sizeof(buf), fds,
					     &nfds, O_NONBLOCK));
	close(reply);
	close(requests);
}

/* A batch each way; the first record too big says EMSGSIZE. */
TEST(batch_send_and_receive)
{
	int rx = mpsc_channel(O_CLOEXEC), i;
	char recs[512], *p = recs;
	struct mpsc_rec *rec;

	ASSERT_LE(0, rx);
	for (i = 0; i < 4; i++) {
		rec = (struct mpsc_rec *)p;
		rec->len = 3;
		rec->nfds = 0;
		rec->flags = 0;
		memcpy(p + sizeof(*rec), "abc", 3);
		p += MPSC_REC_SIZE(3, 0);
	}
	EXPECT_EQ(4, mpsc_send_batch(rx, recs, p - recs, 4, 0));
	EXPECT_EQ(-EMSGSIZE, mpsc_recv_batch(rx, recs, 8, 0, 0, 0));
	EXPECT_EQ(2, mpsc_recv_batch(rx, recs, sizeof(recs), 2, 0, 0));
	EXPECT_EQ(2, mpsc_recv_batch(rx, recs, sizeof(recs), 0, 0,
				     MPSC_WAIT_FOREVER));
	EXPECT_EQ(-EAGAIN, mpsc_recv_batch(rx, recs, sizeof(recs), 0, 0, 0));
	EXPECT_EQ(-EINVAL, mpsc_recv_batch(rx, recs, sizeof(recs), 0,
					   O_NONBLOCK, 0));
	close(rx);
}

TEST(shared_library_exports)
{
	static const char *const api[] = {
		"mpsc_channel", "mpsc_sync_channel", "mpsc_set_capacity",
		"mpsc_close", "mpsc_sender_clone", "mpsc_disconnect",
		"mpsc_send", "mpsc_try_send", "mpsc_send_timeout",
		"mpsc_recv", "mpsc_try_recv", "mpsc_recv_timeout",
		"mpsc_peek_len", "mpsc_info", "mpsc_select",
		"mpsc_pipe", "mpsc_selector_create", "mpsc_selector_wait",
		"mpsc_sock_send_fd", "mpsc_sock_recv_fd",
		"mpsc_send_batch", "mpsc_recv_batch", "mpsc_send_handles",
		"mpsc_recv_handles",
	};
	char path[PATH_MAX], *slash;
	ssize_t n;
	void *h;
	unsigned int i;

	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	ASSERT_LT(0, n);
	path[n] = '\0';
	slash = strrchr(path, '/');
	ASSERT_NE(NULL, slash);
	strcpy(slash, "/../libmpsc.so");
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ASSERT_NE(NULL, h) TH_LOG("dlopen %s: %s", path, dlerror());
	for (i = 0; i < ARRAY_SIZE(api); i++)
		if (!dlsym(h, api[i]))
			break;
	EXPECT_EQ(ARRAY_SIZE(api), i) TH_LOG("%s is missing", api[i]);
	EXPECT_EQ(NULL, dlsym(h, "neg_errno"));
	EXPECT_EQ(NULL, dlsym(h, "mono_ns"));
	EXPECT_EQ(NULL, dlsym(h, "xfer"));
	EXPECT_EQ(NULL, dlsym(h, "select_ready"));
	dlclose(h);
}

int main(int argc, char **argv)
{
	if (access("/dev/mpsc", F_OK)) {
		ksft_print_header();
		ksft_exit_skip("/dev/mpsc is absent: mpsc.ko is not loaded\n");
	}
	return test_harness_run(argc, argv);
}
