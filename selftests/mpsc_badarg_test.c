// SPDX-License-Identifier: GPL-2.0
/*
 * The bad-input table: every ioctl with a bad pointer, a struct cut short
 * by an unmapped page, unknown flags, each non-zero reserved word, the
 * wrong kind of fd (a pipe; a sender where the receiver is needed, and a
 * receiver without its sender role where a sender is), and huge lengths.
 * One row, one error path; every other part of the input is valid, and
 * after the error the channel is checked to be unchanged.
 */

#include <sys/mman.h>

#include "mpsc_test.h"

enum fd_kind { RX, TX, RX_NO_ROLE, PIPE_FD };
enum arg_kind { ARG_OK, ARG_NULL, ARG_NO_ACCESS, ARG_SHORT, ARG_MUTATE };

static void flags_bit1(void *a, unsigned long cmd);
static void reserved_word(void *a, unsigned long cmd);

FIXTURE(bad) {
	int rx, tx, pipe_r, pipe_w;
	char *page;		/* two pages; the second one is unmapped */
};

FIXTURE_VARIANT(bad) {
	unsigned long cmd;
	enum fd_kind fd;
	enum arg_kind arg;
	int word;		/* ARG_MUTATE: which reserved word, or -1 */
	void (*mutate)(void *a, unsigned long cmd);
	unsigned long raw;	/* for the _IO commands: the raw argument */
	int want;		/* the errno */
};

/* Byte offsets of the flags word and of the reserved words of each struct. */
static int flags_offset(unsigned long cmd)
{
	switch (cmd) {
	case MPSC_IOC_CLONE_SENDER:
	case MPSC_IOC_INFO:
		return 0;
	case MPSC_IOC_PEEK_LEN:
	case MPSC_IOC_SET_CAPACITY:
		return 8;
	default:	/* struct mpsc_xfer */
		return 24;
	}
}

static int reserved_offset(unsigned long cmd, int word)
{
	switch (cmd) {
	case MPSC_IOC_CLONE_SENDER:
		return 8 + 8 * word;			/* reserved[2] */
	case MPSC_IOC_INFO:
		return 96 + 8 * word;			/* reserved[4] */
	case MPSC_IOC_PEEK_LEN:
	case MPSC_IOC_SET_CAPACITY:
		return 12;				/* reserved */
	default:
		return word == 0 ? 28 : 32 + 8 * (word - 1); /* count, reserved[2] */
	}
}

static int current_word;

static void flags_bit1(void *a, unsigned long cmd)
{
	/* Bits 0-3 are MPSC_XFER_* for SEND/RECV: take one unknown. */
	*(__u32 *)((char *)a + flags_offset(cmd)) = 1U << 4;
	if (cmd == MPSC_IOC_CLONE_SENDER)
		*(__u32 *)a = O_APPEND;
}

static void reserved_word(void *a, unsigned long cmd)
{
	*(__u32 *)((char *)a + reserved_offset(cmd, current_word)) = 1;
}

/* Rows: { cmd, fd, arg, word, mutate, raw, want }. */
/* Bad pointers. */
FIXTURE_VARIANT_ADD(bad, clone_null) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, info_null) {
	MPSC_IOC_INFO, RX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, peek_null) {
	MPSC_IOC_PEEK_LEN, RX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, capacity_null) {
	MPSC_IOC_SET_CAPACITY, RX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, send_null) {
	MPSC_IOC_SEND, TX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, recv_null) {
	MPSC_IOC_RECV, RX, ARG_NULL, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, clone_no_access) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, info_no_access) {
	MPSC_IOC_INFO, RX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, peek_no_access) {
	MPSC_IOC_PEEK_LEN, RX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, capacity_no_access) {
	MPSC_IOC_SET_CAPACITY, RX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, send_no_access) {
	MPSC_IOC_SEND, TX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, recv_no_access) {
	MPSC_IOC_RECV, RX, ARG_NO_ACCESS, -1, NULL, 0, EFAULT
};

/* Structs cut short by an unmapped page. */
FIXTURE_VARIANT_ADD(bad, clone_short) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_SHORT, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, info_short) {
	MPSC_IOC_INFO, RX, ARG_SHORT, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, peek_short) {
	MPSC_IOC_PEEK_LEN, RX, ARG_SHORT, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, capacity_short) {
	MPSC_IOC_SET_CAPACITY, RX, ARG_SHORT, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, send_short) {
	MPSC_IOC_SEND, TX, ARG_SHORT, -1, NULL, 0, EFAULT
};

FIXTURE_VARIANT_ADD(bad, recv_short) {
	MPSC_IOC_RECV, RX, ARG_SHORT, -1, NULL, 0, EFAULT
};

/* Unknown flags. */
FIXTURE_VARIANT_ADD(bad, clone_flags) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, info_flags) {
	MPSC_IOC_INFO, RX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, peek_flags) {
	MPSC_IOC_PEEK_LEN, RX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, capacity_flags) {
	MPSC_IOC_SET_CAPACITY, RX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, send_flags) {
	MPSC_IOC_SEND, TX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, recv_flags) {
	MPSC_IOC_RECV, RX, ARG_MUTATE, -1, flags_bit1, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, disconnect_arg) {
	MPSC_IOC_DISCONNECT, TX, ARG_OK, -1, NULL, 1, EINVAL
};

FIXTURE_VARIANT_ADD(bad, close_arg) {
	MPSC_IOC_CLOSE, RX, ARG_OK, -1, NULL, 1, EINVAL
};

/* Each reserved word non-zero. */
FIXTURE_VARIANT_ADD(bad, clone_reserved0) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, clone_reserved1) {
	MPSC_IOC_CLONE_SENDER, RX, ARG_MUTATE, 1, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, info_reserved0) {
	MPSC_IOC_INFO, RX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, info_reserved3) {
	MPSC_IOC_INFO, RX, ARG_MUTATE, 3, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, peek_reserved) {
	MPSC_IOC_PEEK_LEN, RX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, capacity_reserved) {
	MPSC_IOC_SET_CAPACITY, RX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, send_reserved0) {
	MPSC_IOC_SEND, TX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, send_reserved1) {
	MPSC_IOC_SEND, TX, ARG_MUTATE, 1, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, send_reserved2) {
	MPSC_IOC_SEND, TX, ARG_MUTATE, 2, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, recv_reserved0) {
	MPSC_IOC_RECV, RX, ARG_MUTATE, 0, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, recv_reserved1) {
	MPSC_IOC_RECV, RX, ARG_MUTATE, 1, reserved_word, 0, EINVAL
};

FIXTURE_VARIANT_ADD(bad, recv_reserved2) {
	MPSC_IOC_RECV, RX, ARG_MUTATE, 2, reserved_word, 0, EINVAL
};

/* The wrong fd: a pipe. */
FIXTURE_VARIANT_ADD(bad, clone_on_pipe) {
	MPSC_IOC_CLONE_SENDER, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, disconnect_on_pipe) {
	MPSC_IOC_DISCONNECT, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, info_on_pipe) {
	MPSC_IOC_INFO, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, peek_on_pipe) {
	MPSC_IOC_PEEK_LEN, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, capacity_on_pipe) {
	MPSC_IOC_SET_CAPACITY, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, close_on_pipe) {
	MPSC_IOC_CLOSE, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, send_on_pipe) {
	MPSC_IOC_SEND, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

FIXTURE_VARIANT_ADD(bad, recv_on_pipe) {
	MPSC_IOC_RECV, PIPE_FD, ARG_OK, -1, NULL, 0, ENOTTY
};

/* A sender where the receiver is needed ... */
FIXTURE_VARIANT_ADD(bad, peek_on_sender) {
	MPSC_IOC_PEEK_LEN, TX, ARG_OK, -1, NULL, 0, EBADF
};

FIXTURE_VARIANT_ADD(bad, capacity_on_sender) {
	MPSC_IOC_SET_CAPACITY, TX, ARG_OK, -1, NULL, 0, EBADF
};

FIXTURE_VARIANT_ADD(bad, close_on_sender) {
	MPSC_IOC_CLOSE, TX, ARG_OK, -1, NULL, 0, EBADF
};

FIXTURE_VARIANT_ADD(bad, recv_on_sender) {
	MPSC_IOC_RECV, TX, ARG_OK, -1, NULL, 0, EBADF
};

/* ... and back: the receiver, its sender role dropped, as a sender. */
FIXTURE_VARIANT_ADD(bad, clone_on_receiver_without_role) {
	MPSC_IOC_CLONE_SENDER, RX_NO_ROLE, ARG_OK, -1, NULL, 0, EPIPE
};

FIXTURE_VARIANT_ADD(bad, send_on_receiver_without_role) {
	MPSC_IOC_SEND, RX_NO_ROLE, ARG_OK, -1, NULL, 0, EPIPE
};

FIXTURE_SETUP(bad)
{
	int p[2];

	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(2, send_str(self->tx, "hi"));
	ASSERT_EQ(0, pipe(p));
	self->pipe_r = p[0];
	self->pipe_w = p[1];
	self->page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
	ASSERT_EQ(0, munmap(self->page + 4096, 4096));
}

FIXTURE_TEARDOWN(bad)
{
	close(self->rx);
	close(self->tx);
	close(self->pipe_r);
	close(self->pipe_w);
	munmap(self->page, 4096);
}

TEST_F(bad, rejected)
{
	unsigned long cmd = variant->cmd;
	size_t size = _IOC_SIZE(cmd);
	struct mpsc_info before, after;
	char buf[16];
	void *arg;
	int fd;

	/* A valid argument: a zeroed struct, with a buffer for SEND/RECV. */
	arg = self->page + 4096 - 256;
	memset(arg, 0, 256);
	if (cmd == MPSC_IOC_SEND || cmd == MPSC_IOC_RECV) {
		struct mpsc_xfer *x = arg;

		x->buf = (uintptr_t)buf;
		x->len = cmd == MPSC_IOC_SEND ? 2 : sizeof(buf);
		memcpy(buf, "xx", 2);
	}
	switch (variant->arg) {
	case ARG_NULL:
		arg = NULL;
		break;
	case ARG_NO_ACCESS:
		arg = self->page + 4096;
		break;
	case ARG_SHORT:
		/* All but its last 8 bytes are mapped. */
		memmove(self->page + 4096 - (size - 8), arg, size - 8);
		arg = self->page + 4096 - (size - 8);
		break;
	case ARG_MUTATE:
		current_word = variant->word;
		variant->mutate(arg, cmd);
		break;
	case ARG_OK:
		break;
	}
	if (_IOC_DIR(cmd) == _IOC_NONE)
		arg = (void *)variant->raw;

	switch (variant->fd) {
	case RX:
		fd = self->rx;
		break;
	case TX:
		fd = self->tx;
		break;
	case RX_NO_ROLE:
		fd = self->rx;
		ASSERT_EQ(0, mpsc_disc(self->rx));
		break;
	default:
		fd = cmd == MPSC_IOC_SEND ? self->pipe_w : self->pipe_r;
	}

	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));
	EXPECT_EQ(-1, ioctl(fd, cmd, arg));
	EXPECT_EQ(variant->want, errno);
	/* Nothing changed: queue, senders, totals, capacity, state. */
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ(1, after.queued_msgs);
}

/* Huge lengths: a message that long is refused before any copy. */
TEST(huge_length_send)
{
	int rx = mpsc_open_chan(0);
	char c = 'x';
	struct mpsc_xfer x = { .buf = (uintptr_t)&c, .len = 1ULL << 62 };

	EXPECT_EQ(-1, ioctl(rx, MPSC_IOC_SEND, &x));
	EXPECT_EQ(EMSGSIZE, errno);
	close(rx);
}

/* A huge buffer length reaching past user space is EFAULT, nothing lost. */
TEST(huge_length_recv_past_user_space)
{
	static char buf[8];
	int rx = mpsc_open_chan(0);
	struct mpsc_xfer x = { .buf = (uintptr_t)buf, .len = ~0ULL >> 1 };

	ASSERT_EQ(2, send_str(rx, "ok"));
	x.buf = 0x7ffffffff000ULL;
	EXPECT_EQ(-1, ioctl(rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EFAULT, errno);
	/* Overstating a good buffer's size writes only the message. */
	x.buf = (uintptr_t)buf;
	x.len = 1ULL << 40;
	EXPECT_EQ(2, ioctl(rx, MPSC_IOC_RECV, &x));
	EXPECT_EQ(0, memcmp(buf, "ok", 2));
	close(rx);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
