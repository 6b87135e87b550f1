// SPDX-License-Identifier: GPL-2.0
/*
 * Built with -m32: every ioctl from a 32-bit process on a 64-bit kernel,
 * through compat_ptr_ioctl, with the same structs (pointers travel as
 * __u64, so nothing needs translating).
 */

#include "mpsc_test.h"

FIXTURE(c32) {
	int rx;
};

FIXTURE_SETUP(c32)
{
	ASSERT_EQ(4, sizeof(void *)) TH_LOG("build this test with -m32");
	self->rx = mpsc_open_chan(0);
}

FIXTURE_TEARDOWN(c32)
{
	close(self->rx);
}

TEST_F(c32, clone_disconnect_info)
{
	struct mpsc_info info;
	int tx = mpsc_clone(self->rx, O_CLOEXEC);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_get_info(tx, &info));
	EXPECT_EQ(2, info.senders);
	EXPECT_EQ(MPSC_CAPACITY_UNBOUNDED, info.capacity);
	EXPECT_EQ(MPSC_STATE_SENDER | MPSC_STATE_RX_OPEN, info.state);
	ASSERT_EQ(0, mpsc_disc(tx));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(1, info.senders);
	close(tx);
}

TEST_F(c32, send_recv_peek)
{
	char buf[32];
	struct mpsc_xfer x = { .len = 3 };

	ASSERT_EQ(5, xfer(self->rx, MPSC_IOC_SEND, "32bit", 5, 0));
	EXPECT_EQ(5, mpsc_peek(self->rx));
	x.buf = (uintptr_t)buf;
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(5, x.len);
	ASSERT_EQ(5, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "32bit", 5));
	EXPECT_EQ(-ETIMEDOUT, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf),
				   10000000));
}

TEST_F(c32, capacity_and_close)
{
	struct mpsc_info info;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->rx, "a"));
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_SEND, "b", 1, 0));
	ASSERT_EQ(0, mpsc_close_rx(self->rx));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(1, info.capacity);
	EXPECT_EQ(MPSC_STATE_CLOSED, info.state & MPSC_STATE_CLOSED);
}

TEST_F(c32, bad_arguments)
{
	struct mpsc_info info = { .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
