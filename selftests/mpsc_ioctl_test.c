// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl rejection paths: unknown commands, receiver-only commands on a
 * sender, and bad arguments, each on otherwise valid input.
 */

#include <sys/mman.h>

#include "mpsc_test.h"

FIXTURE(ioc) {
	int rx;
	int tx;
};

FIXTURE_SETUP(ioc)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(ioc)
{
	close(self->tx);
	close(self->rx);
}

/* Commands the driver does not know are ENOTTY, on either kind of fd. */
FIXTURE_VARIANT(ioc) {
	unsigned long cmd;
};

FIXTURE_VARIANT_ADD(ioc, magic_unknown_nr) {
	.cmd = _IO(MPSC_IOC_MAGIC, 0x7f)
};

FIXTURE_VARIANT_ADD(ioc, magic_nr0) {
	.cmd = _IO(MPSC_IOC_MAGIC, 0)
};

FIXTURE_VARIANT_ADD(ioc, other_magic) {
	.cmd = _IOR('x', 1, int)
};

FIXTURE_VARIANT_ADD(ioc, info_wrong_size) {
	.cmd = _IOWR(MPSC_IOC_MAGIC, 0x03, __u64)
};

FIXTURE_VARIANT_ADD(ioc, clone_wrong_dir) {
	.cmd = _IOR(MPSC_IOC_MAGIC, 0x01, struct mpsc_clone_args)
};

FIXTURE_VARIANT_ADD(ioc, fionread) {
	.cmd = FIONREAD
};

TEST_F(ioc, unknown_enotty)
{
	int v = 0;

	EXPECT_EQ(-1, ioctl(self->rx, variant->cmd, &v));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->tx, variant->cmd, &v));
	EXPECT_EQ(ENOTTY, errno);
}

/* PEEK_LEN is the receiver's: EBADF on a sender. */
TEST_F(ioc, peek_on_sender_ebadf)
{
	EXPECT_EQ(-EBADF, mpsc_peek(self->tx));
}

TEST_F(ioc, peek_flags_einval)
{
	struct mpsc_peek_args args = { .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_PEEK_LEN, &args));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ioc, peek_reserved_einval)
{
	struct mpsc_peek_args args = { .reserved = 1 };

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_PEEK_LEN, &args));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ioc, peek_bad_pointer_efault)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(1, send_str(self->tx, "x"));
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_PEEK_LEN, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_PEEK_LEN, ro));
	EXPECT_EQ(EFAULT, errno);
	/* Peeking never consumed the message. */
	EXPECT_EQ(1, mpsc_peek(self->rx));
	munmap(ro, 4096);
}

/* mpsc ioctls on another kind of file are ENOTTY (the VFS says so). */
TEST(ioctl_on_pipe_enotty)
{
	struct mpsc_info info = { 0 };
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-1, ioctl(p[0], MPSC_IOC_INFO, &info));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(p[1], MPSC_IOC_DISCONNECT, 0));
	EXPECT_EQ(ENOTTY, errno);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
