// SPDX-License-Identifier: GPL-2.0
/*
 * What else an attacker tries: argument structs at odd, kernel and
 * half-mapped addresses; message buffers that fault; every reserved byte
 * and every unknown flag bit, one at a time; timeouts at their extremes;
 * iovec arrays that overflow; a clone storm; thousands of rendezvous
 * senders killed while they wait; capacity changed under blocked writers;
 * close, disconnect and the last sender's exit racing; and one receiver
 * read from two processes.  Each case checks the exact errno and that
 * every message is delivered exactly once: counted on both sides, and
 * against MPSC_IOC_INFO's totals.
 */

#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "mpsc_test.h"

#define PAGE_SZ		4096
/* The start of the x86-64 kernel text: never a user address. */
#define KERNEL_ADDR	0xffffffff81000000UL

/* Two pages whose second one is unmapped; NULL on failure. */
static char *map_edge(void)
{
	char *p = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (munmap(p + PAGE_SZ, PAGE_SZ)) {
		munmap(p, 2 * PAGE_SZ);
		return NULL;
	}
	return p;
}

/* A 64-byte message whose bytes say which message and which byte. */
#define PAT_LEN 64

static void pattern(unsigned char *buf, unsigned int seed)
{
	int i;

	for (i = 0; i < PAT_LEN; i++)
		buf[i] = seed * 31 + i;
}

static bool is_pattern(const unsigned char *buf, unsigned int seed)
{
	unsigned char want[PAT_LEN];

	pattern(want, seed);
	return !memcmp(buf, want, PAT_LEN);
}

/*
 * 1. Argument structs at hostile addresses.  A NULL struct and one whose
 * last 8 bytes are unmapped are rows of mpsc_badarg_test; here: an odd
 * address (copy_from_user() does not care, so the call works), a kernel
 * address (EFAULT), and a struct of which only its very last byte is
 * unmapped (EFAULT, nothing changed).
 */
enum where { AT_ODD, AT_KERNEL, AT_EDGE };

FIXTURE(ptr) {
	int rx, tx;
	char *page;
};

FIXTURE_VARIANT(ptr) {
	unsigned long cmd;
	enum where where;
};

FIXTURE_VARIANT_ADD(ptr, clone_odd) { MPSC_IOC_CLONE_SENDER, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, clone_kernel) { MPSC_IOC_CLONE_SENDER, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, clone_edge) { MPSC_IOC_CLONE_SENDER, AT_EDGE };
FIXTURE_VARIANT_ADD(ptr, info_odd) { MPSC_IOC_INFO, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, info_kernel) { MPSC_IOC_INFO, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, info_edge) { MPSC_IOC_INFO, AT_EDGE };
FIXTURE_VARIANT_ADD(ptr, peek_odd) { MPSC_IOC_PEEK_LEN, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, peek_kernel) { MPSC_IOC_PEEK_LEN, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, peek_edge) { MPSC_IOC_PEEK_LEN, AT_EDGE };
FIXTURE_VARIANT_ADD(ptr, capacity_odd) { MPSC_IOC_SET_CAPACITY, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, capacity_kernel) { MPSC_IOC_SET_CAPACITY, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, capacity_edge) { MPSC_IOC_SET_CAPACITY, AT_EDGE };
FIXTURE_VARIANT_ADD(ptr, send_odd) { MPSC_IOC_SEND, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, send_kernel) { MPSC_IOC_SEND, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, send_edge) { MPSC_IOC_SEND, AT_EDGE };
FIXTURE_VARIANT_ADD(ptr, recv_odd) { MPSC_IOC_RECV, AT_ODD };
FIXTURE_VARIANT_ADD(ptr, recv_kernel) { MPSC_IOC_RECV, AT_KERNEL };
FIXTURE_VARIANT_ADD(ptr, recv_edge) { MPSC_IOC_RECV, AT_EDGE };

FIXTURE_SETUP(ptr)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(2, send_str(self->tx, "hi"));
	self->page = map_edge();
	ASSERT_NE(NULL, self->page);
}

FIXTURE_TEARDOWN(ptr)
{
	close(self->tx);
	close(self->rx);
	munmap(self->page, PAGE_SZ);
}

union any_arg {
	struct mpsc_clone_args clone;
	struct mpsc_info info;
	struct mpsc_peek_args peek;
	struct mpsc_capacity_args cap;
	struct mpsc_xfer x;
};

TEST_F(ptr, hostile_struct_address)
{
	unsigned long cmd = variant->cmd;
	size_t size = _IOC_SIZE(cmd);
	int fd = cmd == MPSC_IOC_SEND ? self->tx : self->rx;
	struct mpsc_info before, after;
	union any_arg u;
	char buf[16], *arg;
	long ret;

	/* A valid argument. */
	memset(&u, 0, sizeof(u));
	memset(buf, 0, sizeof(buf));
	if (cmd == MPSC_IOC_SEND) {
		u.x.buf = (uintptr_t)"yo";
		u.x.len = 2;
	} else if (cmd == MPSC_IOC_RECV) {
		u.x.buf = (uintptr_t)buf;
		u.x.len = sizeof(buf);
	} else if (cmd == MPSC_IOC_SET_CAPACITY) {
		u.cap.capacity = 5;
	}
	switch (variant->where) {
	case AT_ODD:
		arg = self->page + 1;
		memcpy(arg, &u, size);
		break;
	case AT_KERNEL:
		arg = (char *)KERNEL_ADDR;
		break;
	default:
		arg = self->page + PAGE_SZ - (size - 1);
		memcpy(arg, &u, size - 1);
	}

	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));
	ret = ioctl(fd, cmd, arg);
	if (variant->where != AT_ODD) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, errno);
		ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
		EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
		return;
	}

	/* At an odd address the struct is read and written like any other. */
	ASSERT_LE(0, ret) TH_LOG("odd address: %s", strerror(errno));
	memcpy(&u, arg, size);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	switch (cmd) {
	case MPSC_IOC_CLONE_SENDER:
		EXPECT_EQ(ret, u.clone.fd);
		EXPECT_EQ(before.senders + 1, after.senders);
		close(ret);
		break;
	case MPSC_IOC_INFO:
		EXPECT_EQ(0, ret);
		EXPECT_EQ(before.id, u.info.id);
		EXPECT_EQ(1, u.info.queued_msgs);
		EXPECT_EQ(2, u.info.senders);
		break;
	case MPSC_IOC_PEEK_LEN:
		EXPECT_EQ(0, ret);
		EXPECT_EQ(2, u.peek.len);
		break;
	case MPSC_IOC_SET_CAPACITY:
		EXPECT_EQ(0, ret);
		EXPECT_EQ(5, after.capacity);
		break;
	case MPSC_IOC_SEND:
		EXPECT_EQ(2, ret);
		EXPECT_EQ(2, after.queued_msgs);
		EXPECT_EQ(before.sent + 1, after.sent);
		break;
	case MPSC_IOC_RECV:
		EXPECT_EQ(2, ret);
		EXPECT_EQ(0, memcmp(buf, "hi", 2));
		EXPECT_EQ(0, after.queued_msgs);
		EXPECT_EQ(before.received + 1, after.received);
		break;
	}
}

/*
 * 1b. A valid struct whose .buf is NULL, a kernel address, or runs into an
 * unmapped page: EFAULT; a send queues nothing, a receive loses nothing
 * and the next good receive gets the message whole.
 */
FIXTURE(badbuf) {
	int rx, tx;
	char *page;
};

FIXTURE_VARIANT(badbuf) {
	unsigned long cmd;
	enum { BUF_NULL, BUF_KERNEL, BUF_EDGE } buf;
};

FIXTURE_VARIANT_ADD(badbuf, send_null) { MPSC_IOC_SEND, BUF_NULL };
FIXTURE_VARIANT_ADD(badbuf, send_kernel) { MPSC_IOC_SEND, BUF_KERNEL };
FIXTURE_VARIANT_ADD(badbuf, send_edge) { MPSC_IOC_SEND, BUF_EDGE };
FIXTURE_VARIANT_ADD(badbuf, recv_null) { MPSC_IOC_RECV, BUF_NULL };
FIXTURE_VARIANT_ADD(badbuf, recv_kernel) { MPSC_IOC_RECV, BUF_KERNEL };
FIXTURE_VARIANT_ADD(badbuf, recv_edge) { MPSC_IOC_RECV, BUF_EDGE };

FIXTURE_SETUP(badbuf)
{
	unsigned char msg[PAT_LEN];

	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	pattern(msg, 1);
	ASSERT_EQ(PAT_LEN, send_msg(self->tx, msg, PAT_LEN));
	self->page = map_edge();
	ASSERT_NE(NULL, self->page);
}

FIXTURE_TEARDOWN(badbuf)
{
	close(self->tx);
	close(self->rx);
	munmap(self->page, PAGE_SZ);
}

TEST_F(badbuf, efault_nothing_lost)
{
	bool send = variant->cmd == MPSC_IOC_SEND;
	struct mpsc_info before, after;
	unsigned char buf[2 * PAT_LEN];
	struct mpsc_xfer x = { .len = PAT_LEN };

	switch (variant->buf) {
	case BUF_NULL:
		x.buf = 0;
		break;
	case BUF_KERNEL:
		x.buf = KERNEL_ADDR;
		break;
	default:
		/* Half the message mapped, half not. */
		x.buf = (uintptr_t)(self->page + PAGE_SZ - PAT_LEN / 2);
		memset(self->page + PAGE_SZ - PAT_LEN / 2, 'e', PAT_LEN / 2);
	}

	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));
	EXPECT_EQ(-1, ioctl(send ? self->tx : self->rx, variant->cmd, &x));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ(1, after.queued_msgs);
	EXPECT_EQ(1, after.sent);
	EXPECT_EQ(0, after.received);

	/* The one good message, whole, then nothing. */
	ASSERT_EQ(PAT_LEN, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	EXPECT_TRUE(is_pattern(buf, 1));
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(1, after.sent);
	EXPECT_EQ(1, after.received);
	EXPECT_EQ(0, after.queued_msgs);
}

/*
 * 2. Every reserved byte, alone, with two values, and every unknown flag
 * bit, alone and next to the valid ones: EINVAL and no change at all.
 * (mpsc_badarg_test sets one word of some reserved fields and one flag.)
 */
/* The largest argument struct, struct mpsc_info, fits. */
#define RESV_ARG_SIZE 128

FIXTURE(resv) {
	int rx, tx;
};

/* Known struct mpsc_xfer flags; their combinations are checked elsewhere. */
#define XFER_FLAGS (MPSC_XFER_ABSTIME | MPSC_XFER_BATCH | MPSC_XFER_HANDLES | \
		    MPSC_XFER_CLOEXEC)

FIXTURE_VARIANT(resv) {
	unsigned long cmd;
	size_t flags_off;	/* of the __u32 flags word */
	__u32 valid_flags;
	size_t res_off;		/* the reserved bytes run from here ... */
	size_t res_end;		/* ... to here */
};

FIXTURE_VARIANT_ADD(resv, clone) {
	MPSC_IOC_CLONE_SENDER, offsetof(struct mpsc_clone_args, flags),
	O_CLOEXEC | O_NONBLOCK, offsetof(struct mpsc_clone_args, reserved),
	sizeof(struct mpsc_clone_args)
};

FIXTURE_VARIANT_ADD(resv, info) {
	MPSC_IOC_INFO, offsetof(struct mpsc_info, flags), 0,
	offsetof(struct mpsc_info, reserved), sizeof(struct mpsc_info)
};

FIXTURE_VARIANT_ADD(resv, peek) {
	MPSC_IOC_PEEK_LEN, offsetof(struct mpsc_peek_args, flags), 0,
	offsetof(struct mpsc_peek_args, reserved),
	sizeof(struct mpsc_peek_args)
};

FIXTURE_VARIANT_ADD(resv, capacity) {
	MPSC_IOC_SET_CAPACITY, offsetof(struct mpsc_capacity_args, flags), 0,
	offsetof(struct mpsc_capacity_args, reserved),
	sizeof(struct mpsc_capacity_args)
};

FIXTURE_VARIANT_ADD(resv, send) {
	MPSC_IOC_SEND, offsetof(struct mpsc_xfer, flags), XFER_FLAGS,
	offsetof(struct mpsc_xfer, count), sizeof(struct mpsc_xfer)
};

FIXTURE_VARIANT_ADD(resv, recv) {
	MPSC_IOC_RECV, offsetof(struct mpsc_xfer, flags), XFER_FLAGS,
	offsetof(struct mpsc_xfer, count), sizeof(struct mpsc_xfer)
};

FIXTURE_SETUP(resv)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(2, send_str(self->tx, "hi"));
}

FIXTURE_TEARDOWN(resv)
{
	close(self->tx);
	close(self->rx);
}

/* A valid argument for @cmd in @arg; @buf is a receive's buffer. */
static void resv_valid_arg(unsigned long cmd, __u64 *arg, char *buf)
{
	memset(arg, 0, RESV_ARG_SIZE);
	if (cmd == MPSC_IOC_SEND || cmd == MPSC_IOC_RECV) {
		struct mpsc_xfer *x = (struct mpsc_xfer *)arg;

		x->buf = (uintptr_t)(cmd == MPSC_IOC_SEND ? "xx" : buf);
		x->len = cmd == MPSC_IOC_SEND ? 2 : 16;
	} else if (cmd == MPSC_IOC_SET_CAPACITY) {
		((struct mpsc_capacity_args *)arg)->capacity = 7;
	}
}

/*
 * Issue @cmd with @arg.  Returns the errno (0 for success) and says
 * whether the channel changed.
 */
static int resv_call(int rx, int tx, unsigned long cmd, __u64 *arg,
		     bool *changed)
{
	struct mpsc_info before, after;
	int ret;

	*changed = true;
	if (mpsc_get_info(rx, &before))
		return -1;
	ret = ioctl(cmd == MPSC_IOC_SEND ? tx : rx, cmd, arg);
	if (ret >= 0 && cmd == MPSC_IOC_CLONE_SENDER)
		close(ret);
	ret = ret < 0 ? errno : 0;
	if (mpsc_get_info(rx, &after))
		return -1;
	*changed = !!memcmp(&before, &after, sizeof(before));
	return ret;
}

/* Issue the variant's ioctl with its flags word set to @flags. */
static int resv_flags_call(int rx, int tx, unsigned long cmd,
			   size_t flags_off, __u32 flags, bool *changed)
{
	__u64 arg[RESV_ARG_SIZE / 8];
	char buf[16];

	resv_valid_arg(cmd, arg, buf);
	memcpy((char *)arg + flags_off, &flags, sizeof(flags));
	return resv_call(rx, tx, cmd, arg, changed);
}

TEST_F(resv, every_reserved_byte_einval)
{
	static const unsigned char vals[] = { 0x01, 0x80 };
	__u64 arg[RESV_ARG_SIZE / 8];
	size_t off, i;
	bool changed;
	char buf[16];

	ASSERT_LT(variant->res_off, variant->res_end);
	ASSERT_GE(RESV_ARG_SIZE, variant->res_end);
	for (off = variant->res_off; off < variant->res_end; off++) {
		for (i = 0; i < sizeof(vals); i++) {
			resv_valid_arg(variant->cmd, arg, buf);
			((unsigned char *)arg)[off] = vals[i];
			EXPECT_EQ(EINVAL, resv_call(self->rx, self->tx,
						    variant->cmd, arg,
						    &changed))
				TH_LOG("byte %zu = 0x%02x", off, vals[i]);
			EXPECT_FALSE(changed)
				TH_LOG("byte %zu = 0x%02x", off, vals[i]);
		}
	}
}

TEST_F(resv, every_unknown_flag_einval)
{
	__u32 valid = variant->valid_flags, bit;
	unsigned long cmd = variant->cmd;
	size_t off = variant->flags_off;
	int rx = self->rx, tx = self->tx;
	bool changed;
	int b;

	for (b = 0; b < 32; b++) {
		bit = 1U << b;
		if (bit & valid)
			continue;
		EXPECT_EQ(EINVAL, resv_flags_call(rx, tx, cmd, off, bit,
						  &changed))
			TH_LOG("flag bit %d", b);
		EXPECT_FALSE(changed) TH_LOG("flag bit %d", b);
		/* Valid flags do not make an unknown one acceptable. */
		EXPECT_EQ(EINVAL, resv_flags_call(rx, tx, cmd, off,
						  bit | valid, &changed))
			TH_LOG("flag bit %d with the valid flags", b);
		EXPECT_FALSE(changed) TH_LOG("flag bit %d + valid", b);
	}
	EXPECT_EQ(EINVAL, resv_flags_call(rx, tx, cmd, off, ~valid, &changed));
	EXPECT_FALSE(changed);
	/* The valid flags alone are accepted: the table is right. */
	if (cmd == MPSC_IOC_SEND || cmd == MPSC_IOC_RECV)
		valid = 0;	/* ABSTIME 0 times out; BATCH needs records */
	EXPECT_EQ(0, resv_flags_call(rx, tx, cmd, off, valid, &changed));
}

/* MPSC_IOC_DISCONNECT and MPSC_IOC_CLOSE take no argument: each bit, EINVAL. */
TEST(no_arg_ioctls_every_bit_einval)
{
	static const unsigned long cmds[] = {
		MPSC_IOC_DISCONNECT, MPSC_IOC_CLOSE,
	};
	struct mpsc_info before, after;
	int rx = mpsc_open_chan(0);
	unsigned int c, b;

	ASSERT_EQ(2, send_str(rx, "hi"));
	ASSERT_EQ(0, mpsc_get_info(rx, &before));
	for (c = 0; c < 2; c++) {
		for (b = 0; b < 8 * sizeof(long); b++) {
			EXPECT_EQ(-1, ioctl(rx, cmds[c], 1UL << b))
				TH_LOG("cmd %u bit %u", c, b);
			EXPECT_EQ(EINVAL, errno) TH_LOG("cmd %u bit %u", c, b);
		}
	}
	ASSERT_EQ(0, mpsc_get_info(rx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	EXPECT_EQ(1, after.senders);
	EXPECT_EQ(0, after.state & MPSC_STATE_CLOSED);
	close(rx);
}

/*
 * 3. Timeouts at their extremes, on a send to a full channel and a
 * receive from an empty one: 0 fails at once with EAGAIN, 1 ns with
 * ETIMEDOUT, INT64_MAX and MPSC_TIMEOUT_FOREVER wait until a signal
 * (EINTR) or until the other side moves; an absolute deadline long past
 * (1 ns, or 0, after boot) is ETIMEDOUT.
 */
enum tmo_end { END_EAGAIN, END_ETIMEDOUT, END_SIGNAL, END_PARTNER };

FIXTURE(tmo) {
	int rx, tx;
};

FIXTURE_VARIANT(tmo) {
	bool send;
	__u64 timeout_ns;
	__u32 flags;
	enum tmo_end end;
};

FIXTURE_VARIANT_ADD(tmo, recv_0_eagain) { false, 0, 0, END_EAGAIN };

FIXTURE_VARIANT_ADD(tmo, send_0_eagain) { true, 0, 0, END_EAGAIN };

FIXTURE_VARIANT_ADD(tmo, recv_1ns_etimedout) { false, 1, 0, END_ETIMEDOUT };

FIXTURE_VARIANT_ADD(tmo, send_1ns_etimedout) { true, 1, 0, END_ETIMEDOUT };

FIXTURE_VARIANT_ADD(tmo, recv_int64_max_eintr) {
	false, INT64_MAX, 0, END_SIGNAL
};

FIXTURE_VARIANT_ADD(tmo, send_int64_max_eintr) {
	true, INT64_MAX, 0, END_SIGNAL
};

FIXTURE_VARIANT_ADD(tmo, recv_forever_eintr) {
	false, MPSC_TIMEOUT_FOREVER, 0, END_SIGNAL
};

FIXTURE_VARIANT_ADD(tmo, send_forever_eintr) {
	true, MPSC_TIMEOUT_FOREVER, 0, END_SIGNAL
};

FIXTURE_VARIANT_ADD(tmo, recv_int64_max_gets_message) {
	false, INT64_MAX, 0, END_PARTNER
};

FIXTURE_VARIANT_ADD(tmo, send_int64_max_gets_room) {
	true, INT64_MAX, 0, END_PARTNER
};

FIXTURE_VARIANT_ADD(tmo, recv_forever_gets_message) {
	false, MPSC_TIMEOUT_FOREVER, 0, END_PARTNER
};

FIXTURE_VARIANT_ADD(tmo, send_forever_gets_room) {
	true, MPSC_TIMEOUT_FOREVER, 0, END_PARTNER
};

FIXTURE_VARIANT_ADD(tmo, recv_abstime_1_etimedout) {
	false, 1, MPSC_XFER_ABSTIME, END_ETIMEDOUT
};

FIXTURE_VARIANT_ADD(tmo, send_abstime_1_etimedout) {
	true, 1, MPSC_XFER_ABSTIME, END_ETIMEDOUT
};

FIXTURE_VARIANT_ADD(tmo, recv_abstime_0_etimedout) {
	false, 0, MPSC_XFER_ABSTIME, END_ETIMEDOUT
};

FIXTURE_VARIANT_ADD(tmo, send_abstime_0_etimedout) {
	true, 0, MPSC_XFER_ABSTIME, END_ETIMEDOUT
};

FIXTURE_SETUP(tmo)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	/* A send waits on a full channel: one message, capacity 1. */
	if (variant->send) {
		ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
		ASSERT_EQ(5, send_str(self->tx, "first"));
	}
	catch_signal(SIGUSR1, false);
}

FIXTURE_TEARDOWN(tmo)
{
	close(self->tx);
	close(self->rx);
}

TEST_F(tmo, extreme_timeouts)
{
	struct mpsc_info before, after;
	struct op o;
	char buf[16];
	uint64_t t0;
	ssize_t ret;

	memset(&o, 0, sizeof(o));
	o.kind = variant->send ? OP_SEND : OP_RECV;
	o.fd = variant->send ? self->tx : self->rx;
	o.len = variant->send ? 6 : sizeof(o.data);
	memcpy(o.data, "second", 6);
	o.timeout_ns = variant->timeout_ns;
	o.x.flags = variant->flags;
	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));

	if (variant->end == END_EAGAIN || variant->end == END_ETIMEDOUT) {
		t0 = now_ns();
		op_thread(&o);
		EXPECT_EQ(variant->end == END_EAGAIN ? -EAGAIN : -ETIMEDOUT,
			  o.ret);
		/* "At once", generously: a slow emulated guest is slow. */
		EXPECT_GT(2000000000ULL, now_ns() - t0);
	} else if (variant->end == END_SIGNAL) {
		ASSERT_TRUE(op_start(&o));
		ASSERT_EQ(0, pthread_kill(o.thread, SIGUSR1));
		EXPECT_EQ(-EINTR, op_join(&o));
		if (variant->timeout_ns == MPSC_TIMEOUT_FOREVER) {
			/* No deadline: nothing to rewrite. */
			EXPECT_EQ(MPSC_TIMEOUT_FOREVER, o.x.timeout_ns);
			EXPECT_EQ(0, o.x.flags);
		} else {
			/* The deadline saturated; it did not wrap. */
			EXPECT_EQ(INT64_MAX, o.x.timeout_ns);
			EXPECT_EQ(MPSC_XFER_ABSTIME, o.x.flags);
		}
	} else {
		/* The other side moves: the waiting call goes through. */
		ASSERT_TRUE(op_start(&o));
		if (variant->send) {
			ASSERT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
			EXPECT_EQ(0, memcmp(buf, "first", 5));
			EXPECT_EQ(6, op_join(&o));
			ASSERT_EQ(6, recv_msg(self->rx, buf, sizeof(buf)));
			EXPECT_EQ(0, memcmp(buf, "second", 6));
		} else {
			ASSERT_EQ(4, send_str(self->tx, "late"));
			EXPECT_EQ(4, op_join(&o));
			EXPECT_EQ(0, memcmp(o.data, "late", 4));
		}
		ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
		EXPECT_EQ(variant->send ? 2 : 1, after.sent);
		EXPECT_EQ(after.sent, after.received);
		EXPECT_EQ(0, after.queued_msgs);
		return;
	}
	/* Failed: nothing sent, nothing received. */
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ret = xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0);
	if (variant->send) {
		EXPECT_EQ(5, ret);
		EXPECT_EQ(0, memcmp(buf, "first", 5));
		ret = xfer(self->rx, MPSC_IOC_RECV, buf, sizeof(buf), 0);
	}
	EXPECT_EQ(-EAGAIN, ret);
}

/*
 * 4. iovec arrays an attacker builds.  Linux checks each segment's
 * range with access_ok() before it adds the lengths (and caps the sum at
 * MAX_RW_COUNT), so lengths whose sum overflows ssize_t fail with EFAULT:
 * no one segment of 2^62 bytes fits in user space.  A length that is
 * negative as ssize_t, and more than IOV_MAX segments, are EINVAL.  A sum
 * past MAX_RW_COUNT is capped, then too long for a message: EMSGSIZE.
 * writev() queues nothing; readv() takes nothing.
 */
enum iov_kind { IOV_SUM_OVERFLOWS, IOV_LEN_SIZE_MAX, IOV_TOO_MANY,
		IOV_PAST_MAX_RW_COUNT, IOV_MAX_SEGMENTS };

FIXTURE(iov) {
	int rx;
	char buf[PAT_LEN];
	struct iovec iov[IOV_MAX + 1];
};

FIXTURE_VARIANT(iov) {
	bool read;
	enum iov_kind kind;
	int want;	/* errno, or 0 for success */
};

FIXTURE_VARIANT_ADD(iov, writev_sum_overflows) {
	false, IOV_SUM_OVERFLOWS, EFAULT
};

FIXTURE_VARIANT_ADD(iov, readv_sum_overflows) {
	true, IOV_SUM_OVERFLOWS, EFAULT
};

FIXTURE_VARIANT_ADD(iov, writev_len_size_max) {
	false, IOV_LEN_SIZE_MAX, EINVAL
};

FIXTURE_VARIANT_ADD(iov, readv_len_size_max) {
	true, IOV_LEN_SIZE_MAX, EINVAL
};

FIXTURE_VARIANT_ADD(iov, writev_too_many) { false, IOV_TOO_MANY, EINVAL };
FIXTURE_VARIANT_ADD(iov, readv_too_many) { true, IOV_TOO_MANY, EINVAL };

FIXTURE_VARIANT_ADD(iov, writev_past_max_rw_count) {
	false, IOV_PAST_MAX_RW_COUNT, EMSGSIZE
};

FIXTURE_VARIANT_ADD(iov, writev_iov_max_segments) {
	false, IOV_MAX_SEGMENTS, 0
};

FIXTURE_VARIANT_ADD(iov, readv_iov_max_segments) {
	true, IOV_MAX_SEGMENTS, 0
};

FIXTURE_SETUP(iov)
{
	self->rx = mpsc_open_chan(0);
	/* A reader has a message it must not lose. */
	if (variant->read) {
		pattern((unsigned char *)self->buf, 3);
		ASSERT_EQ(PAT_LEN, send_msg(self->rx, self->buf, PAT_LEN));
	}
}

FIXTURE_TEARDOWN(iov)
{
	close(self->rx);
}

TEST_F(iov, hostile_iovec)
{
	struct mpsc_info before, after;
	unsigned char out[PAT_LEN];
	int i, n = 2;
	ssize_t ret;

	for (i = 0; i <= IOV_MAX; i++) {
		self->iov[i].iov_base = self->buf + i % PAT_LEN;
		self->iov[i].iov_len = 1;
	}
	switch (variant->kind) {
	case IOV_SUM_OVERFLOWS:
		self->iov[0].iov_len = SSIZE_MAX / 2 + 1;
		self->iov[1].iov_len = SSIZE_MAX / 2 + 1;
		break;
	case IOV_LEN_SIZE_MAX:
		self->iov[1].iov_len = SIZE_MAX;
		break;
	case IOV_TOO_MANY:
		n = IOV_MAX + 1;
		break;
	case IOV_PAST_MAX_RW_COUNT:
		/* Within user space, so access_ok() passes; never touched. */
		self->iov[0].iov_base = (void *)PAGE_SZ;
		self->iov[0].iov_len = 3UL << 30;
		self->iov[1].iov_base = (void *)PAGE_SZ;
		self->iov[1].iov_len = 3UL << 30;
		break;
	case IOV_MAX_SEGMENTS:
		n = IOV_MAX;
		/* Each segment one byte of its own. */
		for (i = 0; i < n; i++)
			self->iov[i].iov_base = out + i % PAT_LEN;
		break;
	}

	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));
	if (variant->kind == IOV_MAX_SEGMENTS && variant->read) {
		/* A message of IOV_MAX bytes is scattered one byte apiece. */
		char big[IOV_MAX], back[IOV_MAX];

		for (i = 0; i < IOV_MAX; i++) {
			big[i] = i * 7;
			self->iov[i].iov_base = back + i;
		}
		ASSERT_EQ(PAT_LEN, recv_msg(self->rx, out, sizeof(out)));
		ASSERT_EQ(IOV_MAX, send_msg(self->rx, big, IOV_MAX));
		EXPECT_EQ(IOV_MAX, readv(self->rx, self->iov, n));
		EXPECT_EQ(0, memcmp(big, back, IOV_MAX));
		return;
	}
	if (variant->kind == IOV_MAX_SEGMENTS) {
		memset(out, 'z', sizeof(out));
		EXPECT_EQ(IOV_MAX, writev(self->rx, self->iov, n));
		ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
		EXPECT_EQ(1, after.queued_msgs);
		EXPECT_EQ(IOV_MAX, after.queued_bytes);
		return;
	}

	if (variant->read)
		ret = readv(self->rx, self->iov, n);
	else
		ret = writev(self->rx, self->iov, n);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(variant->want, errno) TH_LOG("got %s", strerror(errno));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)));
	if (variant->read) {
		ASSERT_EQ(PAT_LEN, recv_msg(self->rx, out, sizeof(out)));
		EXPECT_TRUE(is_pattern(out, 3));
	} else {
		EXPECT_EQ(0, after.queued_msgs);
		EXPECT_EQ(0, after.sent);
	}
}

/*
 * 5. readv() whose first segment is fine and whose second is unmapped,
 * wholly or from its middle: EFAULT, and the message stays at the head,
 * counted as received once, by the read that gets it whole.
 */
FIXTURE(readv_fault) {
	int rx;
	char *page;
};

FIXTURE_VARIANT(readv_fault) {
	size_t second_mapped;	/* bytes of the second segment mapped */
};

FIXTURE_VARIANT_ADD(readv_fault, second_unmapped) { 0 };
FIXTURE_VARIANT_ADD(readv_fault, second_half_mapped) { 24 };

FIXTURE_SETUP(readv_fault)
{
	unsigned char msg[PAT_LEN];

	self->rx = mpsc_open_chan(0);
	pattern(msg, 4);
	ASSERT_EQ(PAT_LEN, send_msg(self->rx, msg, PAT_LEN));
	pattern(msg, 5);
	ASSERT_EQ(PAT_LEN, send_msg(self->rx, msg, PAT_LEN));
	self->page = map_edge();
	ASSERT_NE(NULL, self->page);
}

FIXTURE_TEARDOWN(readv_fault)
{
	close(self->rx);
	munmap(self->page, PAGE_SZ);
}

TEST_F(readv_fault, message_not_lost)
{
	unsigned char first[16], whole[PAT_LEN];
	struct iovec iov[2] = {
		{ first, sizeof(first) },
		{ self->page + PAGE_SZ - variant->second_mapped,
		  PAT_LEN - sizeof(first) },
	};
	struct mpsc_info info;

	EXPECT_EQ(-1, readv(self->rx, iov, 2));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(2, info.queued_msgs);
	EXPECT_EQ(2 * PAT_LEN, info.queued_bytes);
	EXPECT_EQ(2, info.sent);
	EXPECT_EQ(0, info.received);

	/* Again, to be sure a failure does not count or consume. */
	EXPECT_EQ(-1, readv(self->rx, iov, 2));
	EXPECT_EQ(EFAULT, errno);

	ASSERT_EQ(PAT_LEN, recv_msg(self->rx, whole, sizeof(whole)));
	EXPECT_TRUE(is_pattern(whole, 4));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(1, info.queued_msgs);
	EXPECT_EQ(1, info.received);
	ASSERT_EQ(PAT_LEN, recv_msg(self->rx, whole, sizeof(whole)));
	EXPECT_TRUE(is_pattern(whole, 5));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(2, info.sent);
	EXPECT_EQ(2, info.received);
}

/*
 * 6. A clone storm: 10,000 senders, each counted; closed, each uncounted;
 * then the last one goes and the receiver reads end of file.
 */
#define STORM 10000

TEST(clone_storm)
{
	struct mpsc_info info;
	struct rlimit rl;
	int *fds, rx, i, v;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < STORM + 64) {
		rl.rlim_cur = STORM + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			SKIP(return, "RLIMIT_NOFILE %d: %s", STORM + 64,
			     strerror(errno));
	}
	fds = calloc(STORM, sizeof(*fds));
	ASSERT_NE(NULL, fds);
	rx = mpsc_open_chan(0);
	for (i = 0; i < STORM; i++) {
		fds[i] = mpsc_clone(rx, O_CLOEXEC);
		if (fds[i] < 0)
			break;
	}
	ASSERT_EQ(STORM, i) TH_LOG("clone %d: %s", i, strerror(-fds[i]));
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(STORM + 1, info.senders);

	/* Every tenth of them speaks, in order. */
	for (i = 0; i < STORM; i += STORM / 10)
		ASSERT_EQ(sizeof(i), send_msg(fds[i], &i, sizeof(i)));
	for (i = 0; i < STORM; i += STORM / 10) {
		ASSERT_EQ(sizeof(v), recv_msg(rx, &v, sizeof(v)));
		EXPECT_EQ(i, v);
	}

	for (i = 0; i < STORM; i++)
		ASSERT_EQ(0, close(fds[i]));
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(1, info.senders);
	EXPECT_EQ(10, info.sent);
	EXPECT_EQ(10, info.received);
	EXPECT_EQ(0, info.queued_msgs);

	ASSERT_EQ(0, mpsc_disc(rx));
	EXPECT_EQ(0, recv_msg(rx, &v, sizeof(v)));
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(0, info.senders);
	close(rx);
	free(fds);
}

/*
 * 7. 2,000 rendezvous senders asleep in write(), in 20 processes of 100
 * threads, all SIGKILLed: each withdraws its message.  Nothing is left
 * queued, nothing counted or received, and the channel still works.
 * MPSC_KILLED_SENDERS sets another number (a multiple of 100): the debug
 * kernel's lane uses fewer, to stay within the test's time.
 */
#define KILL_PROCS	20
#define KILL_THREADS	100
#define KILL_MSG	8

static void *doomed_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;

	/* Nobody reads: only SIGKILL ends this. */
	send_msg(fd, "doomed!", KILL_MSG);
	return NULL;
}

static void doomed_process(int tx)
{
	pthread_attr_t attr;
	pthread_t t;
	int i;

	/* Die with the test, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < KILL_THREADS; i++)
		if (pthread_create(&t, &attr, doomed_writer,
				   (void *)(intptr_t)tx))
			_exit(2);
	for (;;)
		pause();
}

TEST(killed_rendezvous_senders)
{
	const char *env = getenv("MPSC_KILLED_SENDERS");
	const int procs = env && atoi(env) >= KILL_THREADS &&
			  atoi(env) <= KILL_PROCS * KILL_THREADS ?
			  atoi(env) / KILL_THREADS : KILL_PROCS;
	const int n = procs * KILL_THREADS;
	pid_t pids[KILL_PROCS];
	struct mpsc_info info;
	int rx, tx, tx2, i, status;
	struct op reader;
	char buf[16];

	rx = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_set_cap(rx, 0));
	tx = mpsc_clone(rx, 0);
	ASSERT_LE(0, tx);
	for (i = 0; i < procs; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			close(rx);
			doomed_process(tx);
		}
	}
	/* Every writer's message waits for a reader that never comes. */
	for (i = 0; i < 3000; i++) {
		ASSERT_EQ(0, mpsc_get_info(rx, &info));
		if (info.queued_msgs == n)
			break;
		sleep_ms(10);
	}
	ASSERT_EQ(n, info.queued_msgs);
	EXPECT_EQ(n * KILL_MSG, info.queued_bytes);
	EXPECT_EQ(0, info.sent);

	for (i = 0; i < procs; i++)
		ASSERT_EQ(0, kill(pids[i], SIGKILL));
	for (i = 0; i < procs; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("process %d: status %#x", i, status);
	}

	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.queued_bytes);
	EXPECT_EQ(0, info.sent);
	EXPECT_EQ(0, info.received);
	EXPECT_EQ(2, info.senders);
	EXPECT_EQ(-EAGAIN, xfer(rx, MPSC_IOC_RECV, buf, sizeof(buf), 0));
	ASSERT_EQ(0, fcntl(rx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, recv_msg(rx, buf, sizeof(buf)));
	ASSERT_EQ(0, fcntl(rx, F_SETFL, 0));

	/* Still a working rendezvous channel. */
	memset(&reader, 0, sizeof(reader));
	reader.kind = OP_READ;
	reader.fd = rx;
	reader.len = sizeof(reader.data);
	ASSERT_TRUE(op_start(&reader));
	tx2 = mpsc_clone(tx, 0);
	ASSERT_LE(0, tx2);
	EXPECT_EQ(5, send_str(tx2, "alive"));
	EXPECT_EQ(5, op_join(&reader));
	EXPECT_EQ(0, memcmp(reader.data, "alive", 5));
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(1, info.sent);
	EXPECT_EQ(1, info.received);
	EXPECT_EQ(0, info.queued_msgs);
	close(tx2);
	close(tx);
	close(rx);
}

/*
 * 8. The capacity shrinks and grows (64, 1, 0, unbounded, again and
 * again) while writers wait on a full channel and a reader drains: every
 * message written is read exactly once, in each writer's order.
 */
#define CHURN_WRITERS	4
#define CHURN_MSGS	1000

struct churn_writer {
	pthread_t thread;
	pid_t tid;
	int fd;
	unsigned int id;
	int sent;
	int err;
};

static void *churn_write(void *arg)
{
	struct churn_writer *w = arg;
	unsigned int msg[2] = { w->id, 0 };
	ssize_t ret;

	store(&w->tid, gettid_());
	for (msg[1] = 0; msg[1] < CHURN_MSGS; msg[1]++) {
		ret = send_msg(w->fd, msg, sizeof(msg));
		if (ret != sizeof(msg)) {
			w->err = ret;
			break;
		}
		w->sent++;
	}
	close(w->fd);
	return NULL;
}

struct churn_ctl {
	int rx;
	int stop;
	int changes;
	int err;
};

static void *churn_capacity(void *arg)
{
	static const __u64 caps[] = { 64, 1, 0, MPSC_CAPACITY_UNBOUNDED };
	struct timespec pause = { 0, 100 * 1000 };
	struct churn_ctl *c = arg;
	unsigned int i = 0;
	int ret;

	while (!load(&c->stop)) {
		ret = mpsc_set_cap(c->rx, caps[i++ % 4]);
		if (ret)
			c->err = ret;
		c->changes++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

TEST(capacity_churn_under_blocked_writers)
{
	struct churn_writer w[CHURN_WRITERS];
	unsigned int next[CHURN_WRITERS] = { 0 }, msg[2];
	struct churn_ctl ctl = { 0 };
	pthread_t churner;
	struct mpsc_info info;
	long total = 0, got = 0;
	ssize_t ret;
	int rx, i;

	rx = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_set_cap(rx, 1));
	for (i = 0; i < CHURN_WRITERS; i++) {
		w[i].fd = mpsc_clone(rx, 0);
		ASSERT_LE(0, w[i].fd);
		w[i].id = i;
		w[i].sent = 0;
		w[i].err = 0;
		w[i].tid = 0;
	}
	ASSERT_EQ(0, mpsc_disc(rx));
	for (i = 0; i < CHURN_WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, churn_write,
					    &w[i]));
	/* One message fills the channel; then every writer waits for room. */
	for (i = 0; i < CHURN_WRITERS; i++) {
		while (!load(&w[i].tid))
			sleep_ms(1);
		ASSERT_TRUE(wait_asleep_in_mpsc(getpid(), w[i].tid));
	}
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	ASSERT_EQ(1, info.queued_msgs);
	ctl.rx = rx;
	ASSERT_EQ(0, pthread_create(&churner, NULL, churn_capacity, &ctl));

	for (;;) {
		ret = recv_msg(rx, msg, sizeof(msg));
		if (ret == 0)
			break;
		ASSERT_EQ(sizeof(msg), ret) TH_LOG("read: %zd", ret);
		ASSERT_GT(CHURN_WRITERS, msg[0]);
		ASSERT_EQ(next[msg[0]], msg[1])
			TH_LOG("writer %u: got %u, expected %u", msg[0],
			       msg[1], next[msg[0]]);
		next[msg[0]]++;
		got++;
	}
	store(&ctl.stop, 1);
	pthread_join(churner, NULL);
	for (i = 0; i < CHURN_WRITERS; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(0, w[i].err) TH_LOG("writer %d", i);
		EXPECT_EQ(CHURN_MSGS, w[i].sent);
		EXPECT_EQ(w[i].sent, next[i]);
		total += w[i].sent;
	}
	EXPECT_EQ(0, ctl.err);
	EXPECT_EQ(total, got);
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(total, info.sent);
	EXPECT_EQ(total, info.received);
	EXPECT_EQ(0, info.queued_msgs);
	TH_LOG("%ld messages across %d capacity changes", got, ctl.changes);
	close(rx);
}

/*
 * 9. The receiver's MPSC_IOC_CLOSE and MPSC_IOC_DISCONNECT, from two
 * threads, race the exit of a child that holds the last cloned sender and
 * is sending: whatever the child's write() reported as sent is received
 * exactly once, in order, then read() returns 0.
 */
#define RACE_ITERS	200
#define RACE_MSGS	8

struct race_op {
	int fd;
	unsigned long cmd;
	int *go;
	int ret;
};

static void *race_ioctl(void *arg)
{
	struct race_op *r = arg;

	while (!load(r->go))
		sched_yield();
	r->ret = ioctl(r->fd, r->cmd, 0) < 0 ? -errno : 0;
	return NULL;
}

/* The child: send until refused, then report how many went, and why not. */
static void race_child(int tx, int report)
{
	int res[2] = { 0, 0 };
	unsigned int i;

	for (i = 0; i < RACE_MSGS; i++) {
		if (write(tx, &i, sizeof(i)) != sizeof(i)) {
			res[1] = errno;
			break;
		}
		res[0]++;
	}
	_exit(write(report, res, sizeof(res)) == sizeof(res) ? 0 : 2);
}

TEST(close_disconnect_last_sender_race)
{
	int iter, cut_short = 0;

	for (iter = 0; iter < RACE_ITERS; iter++) {
		struct race_op dis = { .cmd = MPSC_IOC_DISCONNECT };
		struct race_op cls = { .cmd = MPSC_IOC_CLOSE };
		pthread_t t1, t2;
		struct mpsc_info info;
		int rx, tx, p[2], res[2], go = 0, status;
		unsigned int v, n = 0;
		ssize_t ret;
		pid_t pid;

		rx = mpsc_open_chan(0);
		tx = mpsc_clone(rx, 0);
		ASSERT_LE(0, tx);
		ASSERT_EQ(0, pipe(p));
		dis.fd = rx;
		cls.fd = rx;
		dis.go = &go;
		cls.go = &go;
		ASSERT_EQ(0, pthread_create(&t1, NULL, race_ioctl, &dis));
		ASSERT_EQ(0, pthread_create(&t2, NULL, race_ioctl, &cls));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(rx);
			close(p[0]);
			race_child(tx, p[1]);
		}
		close(tx);
		close(p[1]);
		/* Vary the head start the child gets. */
		if (iter % 4)
			sleep_ms(iter % 4 - 1);
		store(&go, 1);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		EXPECT_EQ(0, dis.ret);
		EXPECT_EQ(0, cls.ret);

		/* Closed: what is queued, then end of file; never a wait. */
		for (;;) {
			ret = recv_msg(rx, &v, sizeof(v));
			if (ret <= 0)
				break;
			ASSERT_EQ(sizeof(v), ret);
			ASSERT_EQ(n, v) TH_LOG("iteration %d", iter);
			n++;
		}
		EXPECT_EQ(0, ret) TH_LOG("iteration %d", iter);
		ASSERT_EQ(sizeof(res), read(p[0], res, sizeof(res)));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		EXPECT_EQ(res[0], n) TH_LOG("iteration %d: child sent %d",
					    iter, res[0]);
		if (res[0] < RACE_MSGS) {
			EXPECT_EQ(EPIPE, res[1]) TH_LOG("iteration %d", iter);
			cut_short++;
		}
		EXPECT_EQ(0, recv_msg(rx, &v, sizeof(v)));
		ASSERT_EQ(0, mpsc_get_info(rx, &info));
		EXPECT_EQ(res[0], info.sent);
		EXPECT_EQ(res[0], info.received);
		EXPECT_EQ(0, info.queued_msgs);
		EXPECT_EQ(0, info.senders);
		EXPECT_TRUE(info.state & MPSC_STATE_CLOSED);
		close(p[0]);
		close(rx);
	}
	TH_LOG("%d of %d children were cut short by the close", cut_short,
	       RACE_ITERS);
}

/*
 * 10. The receiver, passed over SCM_RIGHTS, is read from two processes at
 * once while a sender sends N numbered messages: together they get each
 * number exactly once, and each sees its share in increasing order.
 */
#define SHARE_MSGS	2000

struct share {
	int count[SHARE_MSGS];
	int got[2];
	int out_of_order;
	int bad;
};

static int send_fd(int sock, int fd)
{
	char data = 'f';
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Read @rx to end of file, tallying into @s as reader @who. */
static void share_read(int rx, struct share *s, int who)
{
	unsigned int v;
	long last = -1;
	ssize_t ret;

	while ((ret = recv_msg(rx, &v, sizeof(v))) != 0) {
		if (ret != sizeof(v) || v >= SHARE_MSGS) {
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_SEQ_CST);
			return;
		}
		__atomic_fetch_add(&s->count[v], 1, __ATOMIC_SEQ_CST);
		if ((long)v <= last)
			__atomic_fetch_add(&s->out_of_order, 1,
					   __ATOMIC_SEQ_CST);
		last = v;
		s->got[who]++;
	}
}

struct share_reader {
	int rx;
	struct share *s;
};

static void *share_thread(void *arg)
{
	struct share_reader *r = arg;

	share_read(r->rx, r->s, 0);
	return NULL;
}

TEST(scm_rights_receiver_two_readers)
{
	struct share_reader reader;
	struct mpsc_info info;
	int sv[2], rx, tx, status, i;
	unsigned int v;
	struct share *s;
	pthread_t t;
	char ready;
	pid_t pid;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	/* Forked before the channel exists: the fd can only come by socket. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		close(sv[0]);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(2);
		if (write(sv[1], "r", 1) != 1)
			_exit(3);
		share_read(fd, s, 1);
		_exit(0);
	}
	close(sv[1]);
	rx = mpsc_open_chan(0);
	/* Small enough that both readers find work while the sender runs. */
	ASSERT_EQ(0, mpsc_set_cap(rx, 8));
	tx = mpsc_clone(rx, 0);
	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(rx));
	ASSERT_EQ(0, send_fd(sv[0], rx));
	ASSERT_EQ(1, read(sv[0], &ready, 1));
	reader.rx = rx;
	reader.s = s;
	ASSERT_EQ(0, pthread_create(&t, NULL, share_thread, &reader));

	for (v = 0; v < SHARE_MSGS; v++)
		ASSERT_EQ(sizeof(v), send_msg(tx, &v, sizeof(v)));
	close(tx);
	pthread_join(t, NULL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	EXPECT_EQ(0, s->bad);
	EXPECT_EQ(0, s->out_of_order);
	EXPECT_EQ(SHARE_MSGS, s->got[0] + s->got[1]);
	for (i = 0; i < SHARE_MSGS; i++)
		EXPECT_EQ(1, s->count[i]) TH_LOG("message %d", i);
	ASSERT_EQ(0, mpsc_get_info(rx, &info));
	EXPECT_EQ(SHARE_MSGS, info.sent);
	EXPECT_EQ(SHARE_MSGS, info.received);
	TH_LOG("this process read %d, the other %d", s->got[0], s->got[1]);
	close(sv[0]);
	close(rx);
	munmap(s, sizeof(*s));
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
