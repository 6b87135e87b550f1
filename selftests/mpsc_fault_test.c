// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: make every allocation of an operation fail in turn
 * (failslab and fail_page_alloc, driven by /proc/thread-self/fail-nth).
 * Each failure must surface as ENOMEM with nothing half done: no message
 * queued or lost, no sender counted, no fd left behind.  Leaks are caught
 * by kmemleak after the run (scripts/vm-run on a debug kernel).
 *
 * Needs CONFIG_FAULT_INJECTION with FAILSLAB and FAIL_PAGE_ALLOC and their
 * debugfs: the debug kernel of make check-debug.  Skipped elsewhere.
 */

#include <sys/epoll.h>

#include "mpsc_test.h"

#define DBG "/sys/kernel/debug/"

/*
 * This thread's fail-nth, opened in the test's own process: the harness
 * forks a child per test, and fail-nth belongs to one task.
 */
static int fail_nth_fd = -1;
static pid_t fail_nth_pid;

/* Let every allocation, sleeping or not, be made to fail. */
static bool setup_fault_injection(void)
{
	if (write_file(DBG "failslab/ignore-gfp-wait", "N") ||
	    write_file(DBG "failslab/verbose", "0") ||
	    write_file(DBG "fail_page_alloc/ignore-gfp-wait", "N") ||
	    write_file(DBG "fail_page_alloc/ignore-gfp-highmem", "N") ||
	    write_file(DBG "fail_page_alloc/min-order", "0") ||
	    write_file(DBG "fail_page_alloc/verbose", "0"))
		return false;
	return access("/proc/thread-self/fail-nth", W_OK) == 0;
}

/* Open this task's fail-nth once, before a test counts its fds. */
static void nth_open(void)
{
	if (fail_nth_fd < 0 || fail_nth_pid != getpid()) {
		fail_nth_fd = open("/proc/thread-self/fail-nth",
				   O_RDWR | O_CLOEXEC);
		fail_nth_pid = getpid();
	}
}

/* Arm: the n-th fault point of this thread from now on fails. */
static void arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	nth_open();
	if (pwrite(fail_nth_fd, buf, len, 0) != len)
		abort();
}

/* Disarm, and say whether the fault was injected. */
static bool disarm(void)
{
	char buf[16] = "";

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) < 0)
		abort();
	if (pwrite(fail_nth_fd, "0", 1, 0) != 1)
		abort();
	return atoi(buf) == 0;
}

static int lowest_free_fd(void)
{
	int fd;

	nth_open();
	fd = dup(0);

	close(fd);
	return fd;
}

#define MAX_NTH 200

/* Opening a channel: an fd, or ENOMEM and no fd. */
TEST(open_fails_cleanly)
{
	int n, fd, free_fd = lowest_free_fd();
	bool injected = true;

	for (n = 1; injected && n < MAX_NTH; n++) {
		arm(n);
		fd = open(MPSC_DEV, O_RDWR | O_CLOEXEC);
		injected = disarm();
		if (fd >= 0) {
			EXPECT_EQ(1, info_of(fd).senders);
			close(fd);
		} else {
			EXPECT_TRUE(injected);
			EXPECT_EQ(ENOMEM, errno);
			EXPECT_EQ(free_fd, lowest_free_fd());
		}
	}
	EXPECT_FALSE(injected) TH_LOG("still injecting after %d", MAX_NTH);
	TH_LOG("open: %d fault points", n - 1);
}

/* A send: queued whole, or ENOMEM and nothing queued. */
static void send_fails_cleanly(struct __test_metadata *_metadata, size_t len,
			       bool use_ioctl)
{
	unsigned char *out = malloc(len), *in = malloc(len);
	int rx = mpsc_open_chan(0), n;
	bool injected = true;
	__u64 queued = 0;
	ssize_t ret;

	memset(out, 0x5a, len);
	for (n = 1; injected && n < MAX_NTH; n++) {
		out[0] = n;
		arm(n);
		if (use_ioctl)
			ret = xfer(rx, MPSC_IOC_SEND, out, len, 0);
		else
			ret = send_msg(rx, out, len);
		injected = disarm();
		if (ret == (ssize_t)len) {
			queued++;
		} else {
			EXPECT_TRUE(injected);
			EXPECT_EQ(-ENOMEM, ret);
		}
		ASSERT_EQ(queued, info_of(rx).queued_msgs);
		/* What was queued is intact; take it back out. */
		if (ret == (ssize_t)len) {
			ASSERT_EQ(len, recv_msg(rx, in, len));
			EXPECT_EQ(0, memcmp(in, out, len));
			queued--;
		}
	}
	EXPECT_FALSE(injected);
	TH_LOG("send of %zu bytes: %d fault points", len, n - 1);
	close(rx);
	free(out);
	free(in);
}

TEST(write_small_fails_cleanly)
{
	send_fails_cleanly(_metadata, 100, false);
}

TEST(write_large_fails_cleanly)
{
	send_fails_cleanly(_metadata, 60000, false);
}

TEST(ioctl_send_fails_cleanly)
{
	send_fails_cleanly(_metadata, 3000, true);
}

/* A clone: a new sender, or ENOMEM, no fd and no extra sender. */
TEST(clone_fails_cleanly)
{
	int rx = mpsc_open_chan(0), n, tx, free_fd;
	bool injected = true;

	free_fd = lowest_free_fd();
	for (n = 1; injected && n < MAX_NTH; n++) {
		arm(n);
		tx = mpsc_clone(rx, O_CLOEXEC);
		injected = disarm();
		if (tx >= 0) {
			EXPECT_EQ(2, info_of(rx).senders);
			ASSERT_EQ(1, send_str(tx, "x"));
			close(tx);
		} else {
			EXPECT_TRUE(injected);
			EXPECT_EQ(-ENOMEM, tx);
			EXPECT_EQ(free_fd, lowest_free_fd());
		}
		EXPECT_EQ(1, info_of(rx).senders);
	}
	EXPECT_FALSE(injected);
	TH_LOG("clone: %d fault points", n - 1);
	close(rx);
}

/*
 * A send carrying sender handles: queued with all of them, or ENOMEM with
 * nothing queued and no sender role left behind.
 */
TEST(send_with_handles_fails_cleanly)
{
	int rx = mpsc_open_chan(0), other = mpsc_open_chan(0), n;
	int fds[3] = { other, other, rx };
	bool injected = true;
	char buf[256];
	ssize_t ret;

	for (n = 1; injected && n < MAX_NTH; n++) {
		arm(n);
		ret = send_fds(rx, "abc", 3, fds, 3);
		injected = disarm();
		if (ret == 3) {
			EXPECT_EQ(1, info_of(rx).queued_msgs);
			EXPECT_EQ(3, info_of(other).senders);
			ASSERT_EQ(1, recv_batch(rx, buf, sizeof(buf), 0, 0, 0));
		} else {
			EXPECT_TRUE(injected);
			EXPECT_EQ(-ENOMEM, ret);
		}
		EXPECT_EQ(0, info_of(rx).queued_msgs);
		EXPECT_EQ(0, info_of(rx).queued_handles);
		EXPECT_EQ(1, info_of(other).senders);
		EXPECT_EQ(1, info_of(rx).senders);
	}
	EXPECT_FALSE(injected);
	TH_LOG("send with handles: %d fault points", n - 1);
	close(other);
	close(rx);
}

/*
 * Installing a message's handles: all of them, or ENOMEM with none
 * installed and the message still queued with its handles.
 */
TEST(recv_with_handles_fails_cleanly)
{
	int rx = mpsc_open_chan(0), other = mpsc_open_chan(0), n, i;
	int fds[3] = { other, other, other }, free_fd;
	bool injected = true;
	char buf[256];
	ssize_t ret;

	free_fd = lowest_free_fd();
	for (n = 1; injected && n < MAX_NTH; n++) {
		ASSERT_EQ(3, send_fds(rx, "abc", 3, fds, 3));
		arm(n);
		ret = recv_batch(rx, buf, sizeof(buf), 0, MPSC_XFER_HANDLES, 0);
		injected = disarm();
		if (ret == 1) {
			EXPECT_EQ(0, info_of(rx).queued_msgs);
			EXPECT_EQ(4, info_of(other).senders);
			for (i = 0; i < 3; i++)
				close(rec_fds(buf)[i]);
		} else {
			EXPECT_TRUE(injected);
			EXPECT_EQ(-ENOMEM, ret);
			EXPECT_EQ(free_fd, lowest_free_fd());
			EXPECT_EQ(1, info_of(rx).queued_msgs);
			EXPECT_EQ(3, info_of(rx).queued_handles);
			/* Drop it: the next round starts clean. */
			ASSERT_EQ(3, recv_msg(rx, buf, sizeof(buf)));
		}
		EXPECT_EQ(1, info_of(other).senders);
	}
	EXPECT_FALSE(injected);
	TH_LOG("receive with handles: %d fault points", n - 1);
	close(other);
	close(rx);
}

/* Receiving allocates nothing: no fault point may fail it. */
TEST(recv_does_not_allocate)
{
	int rx = mpsc_open_chan(0);
	char buf[8];
	ssize_t ret;

	ASSERT_EQ(3, send_str(rx, "abc"));
	arm(1);
	ret = recv_msg(rx, buf, sizeof(buf));
	EXPECT_FALSE(disarm());
	EXPECT_EQ(3, ret);
	close(rx);
}

/* Registering with epoll may fail; the channel is unharmed either way. */
TEST(epoll_register_fails_cleanly)
{
	int rx = mpsc_open_chan(0), n, ep, ret;
	struct epoll_event ev = { .events = EPOLLIN };
	bool injected = true;

	for (n = 1; injected && n < MAX_NTH; n++) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_LE(0, ep);
		arm(n);
		ret = epoll_ctl(ep, EPOLL_CTL_ADD, rx, &ev);
		injected = disarm();
		if (ret)
			EXPECT_EQ(ENOMEM, errno);
		close(ep);
		ASSERT_EQ(1, send_str(rx, "y"));
		ASSERT_EQ(1, recv_msg(rx, &ret, sizeof(ret)));
	}
	EXPECT_FALSE(injected);
	close(rx);
}

int main(int argc, char **argv)
{
	if (access(MPSC_DEV, F_OK)) {
		ksft_print_header();
		ksft_exit_skip(MPSC_DEV " is absent: mpsc.ko is not loaded\n");
	}
	if (!setup_fault_injection()) {
		ksft_print_header();
		ksft_exit_skip("no failslab, fail_page_alloc or fail-nth\n");
	}
	return test_harness_run(argc, argv);
}
