// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded channels: MPSC_IOC_SET_CAPACITY, writers that wait for a slot,
 * first-come first-served service, one wake-up per freed slot, and
 * capacity changes that never drop a message.
 */

#include <sys/mman.h>

#include "mpsc_test.h"

FIXTURE(bnd) {
	int rx;
	int tx;
};

FIXTURE_SETUP(bnd)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(0, mpsc_disc(self->rx));
}

FIXTURE_TEARDOWN(bnd)
{
	close(self->tx);
	close(self->rx);
}

static unsigned long long queued(int fd)
{
	struct mpsc_info info;

	return mpsc_get_info(fd, &info) ? ~0ULL : info.queued_msgs;
}

/* The default is unbounded; a capacity, once set, is reported. */
TEST_F(bnd, capacity_reported)
{
	struct mpsc_info info;

	ASSERT_EQ(0, mpsc_get_info(self->tx, &info));
	EXPECT_EQ(MPSC_CAPACITY_UNBOUNDED, info.capacity);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 32));
	ASSERT_EQ(0, mpsc_get_info(self->tx, &info));
	EXPECT_EQ(32, info.capacity);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, MPSC_CAPACITY_UNBOUNDED));
	ASSERT_EQ(0, mpsc_get_info(self->tx, &info));
	EXPECT_EQ(MPSC_CAPACITY_UNBOUNDED, info.capacity);
}

/* A full bounded channel: O_NONBLOCK sends are EAGAIN (TrySendError::Full). */
TEST_F(bnd, full_nonblock_eagain)
{
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 3));
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(1, send_str(self->tx, "a"));
	EXPECT_EQ(1, send_str(self->tx, "b"));
	EXPECT_EQ(1, send_str(self->tx, "c"));
	EXPECT_EQ(-EAGAIN, send_str(self->tx, "d"));
	EXPECT_EQ(3, queued(self->rx));
}

/* A blocking send on a full channel sleeps until a slot frees. */
TEST_F(bnd, writer_waits_for_slot)
{
	struct op w = { .kind = OP_WRITE, .buf = "second", .len = 6 };
	char buf[8];

	w.fd = self->tx;
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(5, send_str(self->tx, "first"));
	ASSERT_TRUE(op_start(&w));
	EXPECT_EQ(1, queued(self->rx));
	ASSERT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(6, op_join(&w));
	ASSERT_EQ(6, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "second", 6));
}

/* The byte limit still applies under a large capacity. */
TEST_F(bnd, byte_limit_still_applies)
{
	struct mpsc_info info;
	char *buf;
	int n = 0;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1000));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	buf = calloc(1, info.max_msg_size);
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	while (send_msg(self->tx, buf, info.max_msg_size) > 0)
		n++;
	EXPECT_EQ(info.max_queue_bytes / info.max_msg_size, n);
	EXPECT_GT(1000, n);
	free(buf);
}

/* Shrinking below the queue drops nothing; writers just wait. */
TEST_F(bnd, shrink_drops_nothing)
{
	unsigned int i, v;

	for (i = 0; i < 5; i++)
		if (send_msg(self->tx, &i, sizeof(i)) != sizeof(i))
			break;
	ASSERT_EQ(5, i);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 2));
	EXPECT_EQ(5, queued(self->rx));
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, send_msg(self->tx, &i, sizeof(i)));
	for (i = 0; i < 4; i++)
		if (recv_msg(self->rx, &v, sizeof(v)) != sizeof(v) || v != i)
			break;
	ASSERT_EQ(4, i);
	/* One left, capacity two: there is a slot again. */
	EXPECT_EQ(sizeof(i), send_msg(self->tx, &i, sizeof(i)));
	EXPECT_EQ(-EAGAIN, send_msg(self->tx, &i, sizeof(i)));
}

/* Growing the capacity wakes the writer at the head of the line. */
TEST_F(bnd, grow_wakes_writer)
{
	struct op w = { .kind = OP_WRITE, .buf = "w", .len = 1 };

	w.fd = self->tx;
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->tx, "f"));
	ASSERT_TRUE(op_start(&w));
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 2));
	EXPECT_EQ(1, op_join(&w));
	EXPECT_EQ(2, queued(self->rx));
}

/* Writers asleep on a full channel are served first come, first served. */
TEST_F(bnd, blocked_writers_served_in_order)
{
	static const char *const names[] = { "w0", "w1", "w2", "w3", "w4" };
	struct op w[5];
	char buf[8];
	int i;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->tx, "f"));
	for (i = 0; i < 5; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].kind = OP_WRITE;
		w[i].fd = mpsc_clone(self->tx, 0);
		w[i].buf = (void *)names[i];
		w[i].len = 2;
		if (w[i].fd < 0 || !op_start(&w[i]))
			break;
	}
	ASSERT_EQ(5, i);
	ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	for (i = 0; i < 5; i++) {
		if (recv_msg(self->rx, buf, sizeof(buf)) != 2 ||
		    memcmp(buf, names[i], 2))
			break;
		if (op_join(&w[i]) != 2)
			break;
		close(w[i].fd);
	}
	EXPECT_EQ(5, i);
}

/*
 * A freed slot wakes one writer, not all of them: the writers behind the
 * head do not run at all while the head takes the slot.
 */
TEST_F(bnd, one_wakeup_per_slot)
{
	long long before[4], after[4];
	struct op w[4];
	char buf[8];
	int i;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 1));
	ASSERT_EQ(1, send_str(self->tx, "f"));
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].kind = OP_WRITE;
		w[i].fd = self->tx;
		w[i].buf = "x";
		w[i].len = 1;
		if (!op_start(&w[i]))
			break;
	}
	ASSERT_EQ(4, i);
	for (i = 1; i < 4; i++)
		before[i] = vol_switches(w[i].tid);
	ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(1, op_join(&w[0]));
	for (i = 1; i < 4; i++) {
		after[i] = vol_switches(w[i].tid);
		EXPECT_EQ(before[i], after[i]) TH_LOG("writer %d woke", i);
	}
	/* Drain: each read lets exactly the next writer in. */
	for (i = 1; i < 4; i++) {
		ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
		EXPECT_EQ(1, op_join(&w[i]));
	}
}

/* A sleeping writer is never overtaken, even by a smaller message. */
TEST_F(bnd, no_overtaking_sleeping_writer)
{
	struct mpsc_info info;
	struct op big = { .kind = OP_WRITE };
	size_t max, n, i;
	char *buf;

	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	max = info.max_msg_size;
	n = info.max_queue_bytes / max;
	ASSERT_LE(2, n);
	buf = calloc(1, max);
	/* Fill all but 10 bytes, with messages of at most max bytes. */
	for (i = 0; i + 1 < n; i++)
		if (send_msg(self->tx, buf, max) != (ssize_t)max)
			break;
	ASSERT_EQ(n - 1, i);
	ASSERT_EQ(info.max_queue_bytes - (n - 1) * max - 10,
		  send_msg(self->tx, buf,
			   info.max_queue_bytes - (n - 1) * max - 10));
	big.fd = self->tx;
	big.buf = buf;
	big.len = max;
	ASSERT_TRUE(op_start(&big));
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	/* One byte would fit, but the sleeping writer came first. */
	EXPECT_EQ(-EAGAIN, send_str(self->tx, "s"));
	EXPECT_EQ(n, queued(self->rx));
	ASSERT_EQ(max, recv_msg(self->rx, buf, max));
	EXPECT_EQ(max, op_join(&big));
	EXPECT_EQ(1, send_str(self->tx, "s"));
	free(buf);
}

/*
 * Many writers blocked on a small channel: every message is delivered
 * once, in each writer's order.
 */
#define WRITERS 8
#define PER_WRITER 300

struct seq_writer {
	pthread_t thread;
	int fd;
	unsigned int id;
};

static void *seq_writer_fn(void *arg)
{
	struct seq_writer *w = arg;
	unsigned int i, msg[2];

	for (i = 0; i < PER_WRITER; i++) {
		msg[0] = w->id;
		msg[1] = i;
		if (send_msg(w->fd, msg, sizeof(msg)) != sizeof(msg))
			break;
	}
	close(w->fd);
	return NULL;
}

/* Read until EOF; check per-writer order; return the count, or -1. */
static int drain_in_order(int rx, int writers, unsigned int slow_every)
{
	unsigned int next[WRITERS] = { 0 }, msg[2];
	int total = 0;
	ssize_t ret;

	while ((ret = recv_msg(rx, msg, sizeof(msg))) == sizeof(msg)) {
		if (msg[0] >= (unsigned int)writers || next[msg[0]] != msg[1])
			return -1;
		next[msg[0]]++;
		if (++total % (slow_every ?: ~0U) == 0)
			sleep_ms(1);
	}
	return ret == 0 ? total : -1;
}

static void run_writers(struct __test_metadata *_metadata, int rx, int tx,
			unsigned int slow_every)
{
	struct seq_writer w[WRITERS];
	int i;

	for (i = 0; i < WRITERS; i++) {
		w[i].id = i;
		w[i].fd = mpsc_clone(tx, 0);
		if (w[i].fd < 0 ||
		    pthread_create(&w[i].thread, NULL, seq_writer_fn, &w[i]))
			break;
	}
	ASSERT_EQ(WRITERS, i);
	close(tx);
	EXPECT_EQ(WRITERS * PER_WRITER, drain_in_order(rx, WRITERS, slow_every));
	for (i = 0; i < WRITERS; i++)
		pthread_join(w[i].thread, NULL);
}

TEST_F(bnd, many_blocked_writers_all_delivered)
{
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 2));
	run_writers(_metadata, self->rx, self->tx, 50);
	self->tx = -1;
}

/* Capacity changes under load drop and duplicate nothing. */
struct resizer {
	int fd;
	int stop;
};

static void *resizer_fn(void *arg)
{
	static const __u64 caps[] = { 1, 3, MPSC_CAPACITY_UNBOUNDED, 2, 0, 5 };
	struct resizer *r = arg;
	unsigned int i = 0;

	while (!load(&r->stop)) {
		mpsc_set_cap(r->fd, caps[i++ % ARRAY_SIZE(caps)]);
		usleep(200);
	}
	return NULL;
}

TEST_F(bnd, capacity_changes_under_load)
{
	struct resizer r = { .fd = self->rx };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, resizer_fn, &r));
	run_writers(_metadata, self->rx, self->tx, 0);
	self->tx = -1;
	store(&r.stop, 1);
	pthread_join(t, NULL);
}

/* Only the receiver sets the capacity; bad arguments are refused. */
TEST_F(bnd, set_capacity_on_sender_ebadf)
{
	EXPECT_EQ(-EBADF, mpsc_set_cap(self->tx, 4));
}

TEST_F(bnd, set_capacity_flags_einval)
{
	struct mpsc_capacity_args args = { .capacity = 4, .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_SET_CAPACITY, &args));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(bnd, set_capacity_reserved_einval)
{
	struct mpsc_capacity_args args = { .capacity = 4, .reserved = 1 };
	struct mpsc_info info;

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_SET_CAPACITY, &args));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(MPSC_CAPACITY_UNBOUNDED, info.capacity);
}

TEST_F(bnd, set_capacity_bad_pointer_efault)
{
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_SET_CAPACITY, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_SET_CAPACITY, none));
	EXPECT_EQ(EFAULT, errno);
	munmap(none, 4096);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
