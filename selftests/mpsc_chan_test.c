// SPDX-License-Identifier: GPL-2.0
/*
 * Channels and messages: opening /dev/mpsc, message boundaries and
 * limits, writev/readv, short buffers and bad pointers.
 */

#include <sys/mman.h>
#include <sys/uio.h>

#include "mpsc_test.h"

/* A page that faults on any access. */
static void *bad_page(void)
{
	return mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

FIXTURE(chan) {
	int fd;
	struct mpsc_info info;
};

FIXTURE_SETUP(chan)
{
	self->fd = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(chan)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The node is a world-usable character device. */
TEST(node_is_char_device_0666)
{
	struct stat st;
	int fd = mpsc_open_chan(0);

	close(fd);
	ASSERT_EQ(0, stat(MPSC_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 0777);
}

/* open() with anything but O_RDWR is EINVAL. */
FIXTURE(accmode) {
};

FIXTURE_VARIANT(accmode) {
	int flags;
};

FIXTURE_VARIANT_ADD(accmode, rdonly) {
	.flags = O_RDONLY
};

FIXTURE_VARIANT_ADD(accmode, wronly) {
	.flags = O_WRONLY
};

FIXTURE_VARIANT_ADD(accmode, accmode3) {
	.flags = O_ACCMODE
};

FIXTURE_SETUP(accmode)
{
}

FIXTURE_TEARDOWN(accmode)
{
}

TEST_F(accmode, open_rejected)
{
	int fd = mpsc_open_chan(0);

	close(fd);
	fd = open(MPSC_DEV, variant->flags);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EINVAL, errno);
	if (fd >= 0)
		close(fd);
}

/* Each open is a new, private channel. */
TEST(each_open_is_a_new_channel)
{
	struct mpsc_info a, b;
	char buf[8];
	int fa = mpsc_open_chan(O_NONBLOCK);
	int fb = mpsc_open_chan(O_NONBLOCK);

	ASSERT_EQ(0, mpsc_get_info(fa, &a));
	ASSERT_EQ(0, mpsc_get_info(fb, &b));
	EXPECT_NE(a.id, b.id);
	EXPECT_NE(0, a.id);
	ASSERT_EQ(3, send_str(fa, "one"));
	EXPECT_EQ(-EAGAIN, recv_msg(fb, buf, sizeof(buf)));
	EXPECT_EQ(3, recv_msg(fa, buf, sizeof(buf)));
	close(fa);
	close(fb);
}

/* The receiver is a stream: it has no file position. */
TEST_F(chan, no_seek_no_pread)
{
	char buf[4];

	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	ASSERT_EQ(2, send_str(self->fd, "hi"));
	EXPECT_EQ(-1, pread(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ESPIPE, errno);
}

/* One write is one message; one read takes exactly one. */
TEST_F(chan, boundaries_kept)
{
	char buf[64];

	ASSERT_EQ(5, send_str(self->fd, "hello"));
	ASSERT_EQ(1, send_str(self->fd, "x"));
	ASSERT_EQ(5, send_str(self->fd, "world"));
	ASSERT_EQ(5, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(1, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ('x', buf[0]);
	ASSERT_EQ(5, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "world", 5));
}

/* Messages come out in the order they went in. */
TEST_F(chan, fifo_order)
{
	unsigned int i, v;

	for (i = 0; i < 1000; i++)
		if (send_msg(self->fd, &i, sizeof(i)) != sizeof(i))
			break;
	ASSERT_EQ(1000, i);
	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(sizeof(v), recv_msg(self->fd, &v, sizeof(v)));
		ASSERT_EQ(i, v);
	}
}

/* A message of exactly max_msg_size bytes is accepted, whole. */
TEST_F(chan, max_size_message)
{
	size_t max = self->info.max_msg_size;
	unsigned char *out = malloc(max), *in = malloc(max + 1);
	size_t i;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	for (i = 0; i < max; i++)
		out[i] = i * 7 + 3;
	ASSERT_EQ(max, send_msg(self->fd, out, max));
	ASSERT_EQ(max, recv_msg(self->fd, in, max + 1));
	EXPECT_EQ(0, memcmp(in, out, max));
	free(out);
	free(in);
}

/* One byte more is EMSGSIZE, and nothing is queued. */
TEST_F(chan, oversize_message_emsgsize)
{
	size_t len = self->info.max_msg_size + 1;
	char *buf = calloc(1, len);
	struct mpsc_info info;

	ASSERT_NE(NULL, buf);
	EXPECT_EQ(-EMSGSIZE, send_msg(self->fd, buf, len));
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.sent);
	free(buf);
}

/* A zero-byte write returns 0 and queues nothing. */
TEST_F(chan, zero_byte_write_queues_nothing)
{
	struct mpsc_info info;
	char c;

	EXPECT_EQ(0, send_msg(self->fd, "", 0));
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.sent);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, recv_msg(self->fd, &c, 1));
}

/* writev() gathers its segments into one message. */
TEST_F(chan, writev_is_one_message)
{
	struct iovec iov[3] = {
		{ "ab", 2 }, { "", 0 }, { "cdef", 4 },
	};
	char buf[16];

	ASSERT_EQ(6, writev(self->fd, iov, 3));
	ASSERT_EQ(6, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "abcdef", 6));
}

/* readv() scatters one message over its segments. */
TEST_F(chan, readv_scatters_one_message)
{
	char a[3], b[10];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	ASSERT_EQ(7, send_str(self->fd, "1234567"));
	ASSERT_EQ(2, send_str(self->fd, "89"));
	ASSERT_EQ(7, readv(self->fd, iov, 2));
	EXPECT_EQ(0, memcmp(a, "123", 3));
	EXPECT_EQ(0, memcmp(b, "4567", 4));
	ASSERT_EQ(2, recv_msg(self->fd, a, sizeof(a)));
	EXPECT_EQ(0, memcmp(a, "89", 2));
}

/* A short buffer is EMSGSIZE and the message stays at the head. */
TEST_F(chan, short_buffer_keeps_message)
{
	char buf[16];

	ASSERT_EQ(10, send_str(self->fd, "0123456789"));
	ASSERT_EQ(2, send_str(self->fd, "ab"));
	EXPECT_EQ(-EMSGSIZE, recv_msg(self->fd, buf, 9));
	EXPECT_EQ(10, mpsc_peek(self->fd));
	EXPECT_EQ(-EMSGSIZE, recv_msg(self->fd, buf, 0));
	ASSERT_EQ(10, recv_msg(self->fd, buf, 10));
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	ASSERT_EQ(2, recv_msg(self->fd, buf, sizeof(buf)));
}

/* A short readv() is EMSGSIZE too, and nothing is consumed. */
TEST_F(chan, short_readv_keeps_message)
{
	char a[2], b[2], buf[8];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	ASSERT_EQ(5, send_str(self->fd, "hello"));
	EXPECT_EQ(-1, readv(self->fd, iov, 2));
	EXPECT_EQ(EMSGSIZE, errno);
	ASSERT_EQ(5, recv_msg(self->fd, buf, sizeof(buf)));
}

/* The peek ioctl reports the next message's length without taking it. */
TEST_F(chan, peek_len)
{
	char buf[8];

	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mpsc_peek(self->fd));
	ASSERT_EQ(3, send_str(self->fd, "abc"));
	ASSERT_EQ(1, send_str(self->fd, "d"));
	EXPECT_EQ(3, mpsc_peek(self->fd));
	EXPECT_EQ(3, mpsc_peek(self->fd));
	ASSERT_EQ(3, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(1, mpsc_peek(self->fd));
	ASSERT_EQ(1, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(-EAGAIN, mpsc_peek(self->fd));
	ASSERT_EQ(0, mpsc_disc(self->fd));
	EXPECT_EQ(0, mpsc_peek(self->fd));
}

/* A bad source pointer is EFAULT and nothing is queued. */
TEST_F(chan, write_bad_pointer_efault)
{
	struct mpsc_info info;
	void *bad = bad_page();

	ASSERT_NE(MAP_FAILED, bad);
	EXPECT_EQ(-EFAULT, send_msg(self->fd, bad, 16));
	EXPECT_EQ(-EFAULT, send_msg(self->fd, opaque((void *)8), 16));
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.sent);
	munmap(bad, 4096);
}

/* A writev() with one bad segment is EFAULT and queues nothing. */
TEST_F(chan, writev_bad_segment_efault)
{
	struct mpsc_info info;
	void *bad = bad_page();
	struct iovec iov[2] = { { "good", 4 }, { bad, 4 } };

	ASSERT_NE(MAP_FAILED, bad);
	EXPECT_EQ(-1, writev(self->fd, iov, 2));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(0, info.queued_msgs);
	munmap(bad, 4096);
}

/* A bad destination is EFAULT; the message stays and comes out once. */
TEST_F(chan, read_bad_pointer_keeps_message)
{
	struct mpsc_info info;
	void *bad = bad_page();
	char buf[16];

	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(5, send_str(self->fd, "first"));
	ASSERT_EQ(6, send_str(self->fd, "second"));
	EXPECT_EQ(-EFAULT, recv_msg(self->fd, bad, 16));
	EXPECT_EQ(-EFAULT, recv_msg(self->fd, opaque((void *)8), 16));
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(2, info.queued_msgs);
	EXPECT_EQ(0, info.received);
	ASSERT_EQ(5, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "first", 5));
	ASSERT_EQ(6, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "second", 6));
	ASSERT_EQ(0, mpsc_get_info(self->fd, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(2, info.received);
	munmap(bad, 4096);
}

/* A readv() whose second segment faults keeps the message too. */
TEST_F(chan, readv_bad_segment_keeps_message)
{
	void *bad = bad_page();
	char a[4], buf[16];
	struct iovec iov[2] = { { a, sizeof(a) }, { bad, 16 } };

	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(10, send_str(self->fd, "0123456789"));
	EXPECT_EQ(-1, readv(self->fd, iov, 2));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(10, recv_msg(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
	munmap(bad, 4096);
}

/* The message bytes arrive intact for every length up to a few pages. */
TEST_F(chan, payload_integrity_many_sizes)
{
	static unsigned char out[20000], in[20000];
	size_t len, i;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (i * 131) ^ (i >> 8);
	for (len = 1; len <= sizeof(out); len = len * 3 + 1) {
		ASSERT_EQ(len, send_msg(self->fd, out, len));
		memset(in, 0, sizeof(in));
		ASSERT_EQ(len, recv_msg(self->fd, in, sizeof(in)));
		ASSERT_EQ(0, memcmp(in, out, len)) TH_LOG("len %zu", len);
	}
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
