// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime: mpsc.ko cannot be unloaded while any channel fd exists,
 * and unloads cleanly once the last one is closed.  The reload test needs
 * the module's path in $MPSC_MODULE (scripts/vm-run sets it).
 */

#include "mpsc_test.h"

static int rmmod(void)
{
	return syscall(SYS_delete_module, "mpsc", O_NONBLOCK) ? -errno : 0;
}

static bool loaded(void)
{
	return access("/sys/module/mpsc", F_OK) == 0;
}

static int insmod(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		ret = -errno;
	close(fd);
	return ret;
}

/* An open receiver pins the module. */
TEST(rmmod_refused_with_receiver_open)
{
	int fd = mpsc_open_chan(0), ret;

	ret = rmmod();
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY) TH_LOG("%d", ret);
	EXPECT_TRUE(loaded());
	close(fd);
}

/* So does a cloned sender that outlived its receiver. */
TEST(rmmod_refused_with_sender_open)
{
	int rx = mpsc_open_chan(0), tx = mpsc_clone(rx, 0), ret;

	ASSERT_LE(0, tx);
	close(rx);
	ret = rmmod();
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY) TH_LOG("%d", ret);
	EXPECT_TRUE(loaded());
	close(tx);
}

/* With every fd closed the module unloads, and it loads again. */
TEST(unload_after_last_close)
{
	const char *ko = getenv("MPSC_MODULE");
	int rx = mpsc_open_chan(0), tx = mpsc_clone(rx, 0);

	if (!ko || !*ko)
		SKIP(return, "MPSC_MODULE does not name mpsc.ko");
	ASSERT_LE(0, tx);
	ASSERT_EQ(2, send_str(tx, "hi"));
	close(tx);
	close(rx);
	EXPECT_EQ(0, rmmod());
	EXPECT_FALSE(loaded());
	EXPECT_NE(0, access(MPSC_DEV, F_OK));
	ASSERT_EQ(0, insmod(ko));
	EXPECT_TRUE(loaded());
	EXPECT_EQ(0, access(MPSC_DEV, F_OK));
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
