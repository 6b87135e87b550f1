// SPDX-License-Identifier: GPL-2.0
/*
 * The channel's store: records in recycled pages.  What a message costs,
 * that the limits count that cost, that a channel in steady state
 * allocates nothing, that records crossing pages and the ring's end stay
 * whole, and how sleeping writers are woken: in batches, in order, none
 * starved, none kept asleep for long by a reader that stopped.
 */
#include <sys/mman.h>

#include "mpsc_test.h"

/* A record: an 8-byte header and the payload padded to 8 bytes. */
static unsigned long long rec_cost(unsigned long long len)
{
	return 8 + ((len + 7) & ~7ULL);
}

/* Room for records: the payload limit and a 64th of it, or a page. */
static unsigned long long max_ring(const struct mpsc_info *info)
{
	unsigned long long extra = info->max_queue_bytes / 64;

	return info->max_queue_bytes + (extra > 4096 ? extra : 4096);
}

FIXTURE(store) {
	int rx;
	int tx;
};

FIXTURE_SETUP(store)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(store)
{
	close(self->tx);
	close(self->rx);
}

/* Queued messages of @len bytes cost their record, and pages round it. */
static void check_cost(struct __test_metadata *_metadata, int rx, int tx,
		       size_t len, int n)
{
	unsigned long long mem, want = rec_cost(len) * n;
	char buf[2048] = { 0 };
	int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ((ssize_t)len, send_msg(tx, buf, len));
	mem = info_of(rx).queued_mem;
	ksft_print_msg("%zu-byte messages: %.1f bytes each\n", len,
		       (double)mem / n);
	EXPECT_LE(want, mem);
	/* At most the partial pages at both ends on top. */
	EXPECT_GE(want + 2 * 4096, mem);
	for (i = 0; i < n; i++)
		ASSERT_EQ((ssize_t)len, recv_msg(rx, buf, sizeof(buf)));
	/* Drained: the pages are given back (one is kept, uncounted). */
	EXPECT_EQ(0, info_of(rx).queued_mem);
}

TEST_F(store, sixteen_bytes_cost_at_most_32)
{
	check_cost(_metadata, self->rx, self->tx, 16, 20000);
}

TEST_F(store, one_byte_costs_16)
{
	check_cost(_metadata, self->rx, self->tx, 1, 20000);
}

TEST_F(store, one_kib_costs_payload_and_header)
{
	check_cost(_metadata, self->rx, self->tx, 1024, 800);
}

/*
 * A channel of 1-byte messages holds as many as its records fit, not
 * max_queue_bytes of them: the limit counts what they really hold, so the
 * channel never pins more than 1.1 times it.
 */
TEST_F(store, small_messages_fill_by_memory)
{
	struct mpsc_info info = info_of(self->rx);
	unsigned long long n = 0, limit = max_ring(&info);

	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	while (send_msg(self->tx, "x", 1) == 1)
		n++;
	EXPECT_EQ(-EAGAIN, send_msg(self->tx, "x", 1));
	info = info_of(self->rx);
	ksft_print_msg("%llu one-byte messages in %llu bytes (limit %llu)\n",
		       n, info.queued_mem, info.max_queue_bytes);
	EXPECT_EQ(n, info.queued_msgs);
	EXPECT_EQ(limit / 16, n);
	EXPECT_GE(info.max_queue_bytes * 11 / 10, info.queued_mem);
}

/* Whole pages of allocations, system-wide, from /proc/vmstat. */
static long long pgalloc(void)
{
	char name[64];
	long long v, sum = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strncmp(name, "pgalloc_", 8))
			sum += v;
	fclose(f);
	return sum;
}

/*
 * A channel in steady state reuses its pages: 5000 messages of 1 KiB
 * (1250 pages of records) move with a few pages allocated, where a
 * store without recycling would allocate one page per four messages.
 */
TEST_F(store, steady_state_allocates_nothing)
{
	char buf[1024] = { 0 };
	long long before, after;
	int i;

	/* Warm up: the slot array and the first pages. */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(1024, send_msg(self->tx, buf, sizeof(buf)));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(1024, recv_msg(self->rx, buf, sizeof(buf)));
		ASSERT_EQ(1024, send_msg(self->tx, buf, sizeof(buf)));
	}
	before = pgalloc();
	ASSERT_LE(0, before);
	for (i = 0; i < 5000; i++) {
		ASSERT_EQ(1024, recv_msg(self->rx, buf, sizeof(buf)));
		ASSERT_EQ(1024, send_msg(self->tx, buf, sizeof(buf)));
	}
	after = pgalloc();
	ksft_print_msg("5000 messages of 1 KiB: %lld pages allocated\n",
		       after - before);
	EXPECT_GT(300, after - before);
}

/* The payload of message @seq: its length and its bytes, from @seq. */
static size_t msg_len(unsigned int seq)
{
	static const size_t lens[] = { 1, 7, 8, 9, 4088, 4096, 4097, 12345,
				       65536, 100, 3000, 65535 };

	return lens[(seq * 7) % ARRAY_SIZE(lens)];
}

static void msg_fill(char *buf, unsigned int seq, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(seq * 31 + i);
}

static bool msg_ok(const char *buf, unsigned int seq, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != (char)(seq * 31 + i))
			return false;
	return true;
}

struct writer {
	pthread_t thread;
	int fd;
	unsigned int n;
	ssize_t ret;
};

static void *write_seq(void *arg)
{
	struct writer *w = arg;
	char *buf = malloc(65536);
	unsigned int seq;

	for (seq = 0; seq < w->n; seq++) {
		msg_fill(buf, seq, msg_len(seq));
		w->ret = send_msg(w->fd, buf, msg_len(seq));
		if (w->ret != (ssize_t)msg_len(seq))
			break;
	}
	free(buf);
	return NULL;
}

/*
 * Records of every size cross pages and the ring's end, many times over,
 * with a writer and a reader running at once; each arrives whole, in
 * order, some by read() and some in batches.
 */
TEST_F(store, records_cross_pages_and_wrap)
{
	struct writer w = { .fd = self->tx, .n = 600 };
	char *buf = malloc(65536), *batch = malloc(1 << 18);
	unsigned int seq = 0, i;
	ssize_t ret;
	char *p;

	ASSERT_EQ(0, pthread_create(&w.thread, NULL, write_seq, &w));
	while (seq < w.n) {
		if (seq % 3) {
			ret = recv_msg(self->rx, buf, 65536);
			ASSERT_EQ((ssize_t)msg_len(seq), ret);
			ASSERT_TRUE(msg_ok(buf, seq, ret)) TH_LOG("seq %u", seq);
			seq++;
			continue;
		}
		ret = recv_batch(self->rx, batch, 1 << 18, 0, 0,
				 MPSC_TIMEOUT_FOREVER);
		ASSERT_LT(0, ret);
		for (p = batch, i = 0; i < ret; i++, seq++) {
			struct mpsc_rec *rec = (struct mpsc_rec *)p;

			ASSERT_EQ(msg_len(seq), rec->len);
			ASSERT_TRUE(msg_ok(rec_data(p), seq, rec->len));
			p += MPSC_REC_SIZE(rec->len, rec->nfds);
		}
	}
	pthread_join(w.thread, NULL);
	EXPECT_EQ((ssize_t)msg_len(w.n - 1), w.ret);
	EXPECT_EQ(0, info_of(self->rx).queued_mem);
	free(batch);
	free(buf);
}

/*
 * A receive whose copy faults on the second page of a record leaves it
 * whole, where it was; a send whose copy faults queues nothing and holds
 * nothing.
 */
TEST_F(store, fault_mid_record_loses_nothing)
{
	char *area = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(6000);
	struct mpsc_info before;

	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, mprotect(area + 4096, 4096, PROT_NONE));
	msg_fill(buf, 5, 6000);
	ASSERT_EQ(6000, send_msg(self->tx, buf, 6000));
	ASSERT_EQ(3, send_msg(self->tx, "abc", 3));
	before = info_of(self->rx);
	/* 6000 bytes from 100 bytes before the hole. */
	EXPECT_EQ(-EFAULT, send_msg(self->tx, area + 4096 - 100, 6000));
	EXPECT_EQ(before.queued_mem, info_of(self->rx).queued_mem);
	EXPECT_EQ(before.queued_msgs, info_of(self->rx).queued_msgs);
	EXPECT_EQ(-EFAULT, recv_msg(self->rx, area + 4096 - 100, 6000));
	EXPECT_EQ(before.queued_msgs, info_of(self->rx).queued_msgs);
	memset(buf, 0, 6000);
	ASSERT_EQ(6000, recv_msg(self->rx, buf, 6000));
	EXPECT_TRUE(msg_ok(buf, 5, 6000));
	ASSERT_EQ(3, recv_msg(self->rx, buf, 6000));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ(0, info_of(self->rx).queued_mem);
	munmap(area, 3 * 4096);
	free(buf);
}

/*
 * A batch send moves runs of plain records together; a fault part-way
 * sends exactly the records before the faulting one, whole and in order,
 * and nothing of the rest.
 */
TEST_F(store, batch_send_fault_sends_a_prefix)
{
	size_t size = 16 * 4096, pos = 0, fault_at;
	char *area = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char data[700], buf[1024];
	unsigned int i, n = 0;
	ssize_t ret;

	ASSERT_NE(MAP_FAILED, area);
	/* Records of 1 to 700 bytes until the hole at the end of area. */
	for (i = 0; pos + MPSC_REC_SIZE(700, 0) <= size; i++) {
		msg_fill(data, i, 1 + i % 700);
		pos += rec_put(area + pos, data, 1 + i % 700, NULL, 0);
		n++;
	}
	/* One more, whose payload runs into the hole. */
	fault_at = n;
	ASSERT_EQ(0, mprotect(area + size, 4096, PROT_NONE));
	((struct mpsc_rec *)(area + pos))->len = 4000;
	((struct mpsc_rec *)(area + pos))->nfds = 0;
	((struct mpsc_rec *)(area + pos))->flags = 0;
	ret = send_batch(self->tx, area, size + 4096, n + 1, 0);
	EXPECT_EQ((ssize_t)fault_at, ret);
	EXPECT_EQ(fault_at, info_of(self->rx).queued_msgs);
	/* The faulting record alone: EFAULT, nothing queued. */
	EXPECT_EQ(-EFAULT, send_batch(self->tx, area + pos, size + 4096 - pos,
				      1, 0));
	EXPECT_EQ(fault_at, info_of(self->rx).queued_msgs);
	for (i = 0; i < fault_at; i++) {
		ASSERT_EQ(1 + i % 700, recv_msg(self->rx, buf, sizeof(buf)));
		ASSERT_TRUE(msg_ok(buf, i, 1 + i % 700)) TH_LOG("msg %u", i);
	}
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).queued_mem);
	munmap(area, size + 4096);
}

/*
 * A full ring whose head is in the middle of a page touches one page more
 * than it fills: each page needs its own slot.  A send held in its copy
 * keeps the head (a record at offset 16 of a 4096-byte channel, whose
 * ring takes 8192 bytes) while 200-byte messages go through behind it
 * until the ring is full, the last one ending 8 bytes into a third page;
 * each must arrive intact, and so must the held one.
 */
TEST(ring_pages_never_share_a_slot)
{
	long long limit = read_sysctl("max_queue_bytes");
	struct uffd_page u = { .uffd = -1 };
	char msg[200], buf[1024];
	int rx, tx, i, n;
	struct op a;

	ASSERT_LT(0, limit);
	ASSERT_EQ(0, write_sysctl("max_queue_bytes", 4096));
	rx = mpsc_open_chan(0);
	ASSERT_EQ(0, write_sysctl("max_queue_bytes", limit));
	tx = mpsc_clone(rx, 0);
	ASSERT_LE(0, tx);
	if (uffd_setup(&u))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	/* The head in the middle of a page. */
	ASSERT_EQ(1, send_msg(tx, "x", 1));
	ASSERT_EQ(1, recv_msg(rx, buf, sizeof(buf)));
	/* An 896-byte send held in its copy: a reserved record at the head. */
	memset(&a, 0, sizeof(a));
	a.kind = OP_WRITE;
	a.fd = tx;
	a.buf = u.page;
	a.len = 896;
	store(&a.started, 0);
	ASSERT_EQ(0, pthread_create(&a.thread, NULL, op_thread, &a));
	ASSERT_TRUE(uffd_wait_fault(&u));
	/* Messages behind it until the ring is full, one kept queued. */
	ASSERT_EQ(0, fcntl(tx, F_SETFL, O_NONBLOCK));
	for (n = 0;; n++) {
		msg_fill(msg, n, sizeof(msg));
		if (send_msg(tx, msg, sizeof(msg)) != sizeof(msg))
			break;
		if (!n)
			continue;
		ASSERT_EQ(sizeof(msg), recv_msg(rx, buf, sizeof(buf)));
		ASSERT_TRUE(msg_ok(buf, n - 1, sizeof(msg))) TH_LOG("msg %d", n);
	}
	/* 16 + 904 + 36 * 208 = 8408 > 16 + 8192: 35 fit, to 8200. */
	EXPECT_EQ(35, n);
	ASSERT_EQ(0, uffd_resolve(&u));
	EXPECT_EQ(896, op_join(&a));
	/* The held message (zero-filled), then the last one sent. */
	ASSERT_EQ(896, recv_msg(rx, buf, sizeof(buf)));
	for (i = 0; i < 896; i++)
		ASSERT_EQ(0, buf[i]);
	ASSERT_EQ(sizeof(msg), recv_msg(rx, buf, sizeof(buf)));
	EXPECT_TRUE(msg_ok(buf, n - 1, sizeof(msg)));
	EXPECT_EQ(0, info_of(rx).queued_msgs);
	uffd_teardown(&u);
	close(tx);
	close(rx);
}

#define WRITERS 4
#define PER_WRITER 5000

struct seq_writer {
	pthread_t thread;
	int fd;
	int id;
	unsigned int n;
	pid_t tid;
	long long sleeps;
	int done;
};

static void *write_ids(void *arg)
{
	struct seq_writer *w = arg;
	unsigned int msg[16] = { 0 }, i;
	long long start;

	w->tid = gettid_();
	start = vol_switches(w->tid);
	msg[0] = w->id;
	for (i = 0; i < w->n; i++) {
		msg[1] = i;
		if (send_msg(w->fd, msg, sizeof(msg)) != sizeof(msg))
			break;
	}
	w->sleeps = vol_switches(w->tid) - start;
	store(&w->done, 1);
	return NULL;
}

/*
 * Writers on a full channel sleep once per half channel, not once per
 * message, and each writer's messages arrive in its order.
 */
TEST_F(store, writers_sleep_in_batches)
{
	struct seq_writer w[WRITERS];
	unsigned int next[WRITERS] = { 0 }, msg[16];
	long long sleeps = 0;
	int i, n;

	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct seq_writer){
			.fd = self->tx, .id = i, .n = PER_WRITER,
		};
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, write_ids,
					    &w[i]));
	}
	/* Let them fill the channel, then drain it. */
	sleep_ms(200);
	for (n = 0; n < WRITERS * PER_WRITER; n++) {
		ASSERT_EQ(sizeof(msg), recv_msg(self->rx, msg, sizeof(msg)));
		ASSERT_GT(WRITERS, msg[0]);
		ASSERT_EQ(next[msg[0]], msg[1]);
		next[msg[0]]++;
	}
	for (i = 0; i < WRITERS; i++) {
		pthread_join(w[i].thread, NULL);
		sleeps += w[i].sleeps;
	}
	ksft_print_msg("%d writers, %d messages: %lld writer sleeps\n",
		       WRITERS, n, sleeps);
	/* Woken one message at a time, they would sleep n times. */
	EXPECT_GT(n / 20, sleeps);
}

/*
 * A writer that never sleeps cannot starve those that do: the room they
 * wait for is theirs.  A greedy writer keeps a small channel full while
 * four others each send 200 messages; all four finish.
 */
TEST_F(store, no_writer_starves)
{
	struct seq_writer w[WRITERS];
	unsigned int msg[16];
	int greedy = mpsc_clone(self->rx, 0), i, done = 0;
	uint64_t deadline = now_ns() + 60ULL * 1000000000;
	pid_t pid;

	ASSERT_LE(0, greedy);
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 8));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		memset(msg, 0xff, sizeof(msg));
		while (send_msg(greedy, msg, sizeof(msg)) == sizeof(msg))
			;
		_exit(0);
	}
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct seq_writer){
			.fd = self->tx, .id = i, .n = 200,
		};
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, write_ids,
					    &w[i]));
	}
	while (done < WRITERS && now_ns() < deadline) {
		ASSERT_EQ(sizeof(msg), recv_msg(self->rx, msg, sizeof(msg)));
		for (done = 0, i = 0; i < WRITERS; i++)
			done += load(&w[i].done);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_EQ(WRITERS, done);
	for (i = 0; i < WRITERS; i++)
		pthread_join(w[i].thread, NULL);
	close(greedy);
}

/*
 * A writer asleep on a channel more than half full is woken by a grant
 * a little later (MPSC_GRANT_DELAY) when the reader takes one message and
 * then stops: it is never kept asleep for long while its room waits.
 */
TEST_F(store, room_waits_not_long)
{
	unsigned int msg[16] = { 0 };
	struct op wr;
	uint64_t t0;
	int i;

	ASSERT_EQ(0, mpsc_set_cap(self->rx, 16));
	for (i = 0; i < 16; i++)
		ASSERT_EQ(sizeof(msg), send_msg(self->tx, msg, sizeof(msg)));
	memset(&wr, 0, sizeof(wr));
	wr.kind = OP_WRITE;
	wr.fd = self->tx;
	wr.len = 5;
	memcpy(wr.data, "hello", 5);
	ASSERT_TRUE(op_start(&wr));
	t0 = now_ns();
	ASSERT_EQ(sizeof(msg), recv_msg(self->rx, msg, sizeof(msg)));
	EXPECT_EQ(5, op_join(&wr));
	ksft_print_msg("woken after %llu ms\n",
		       (unsigned long long)(now_ns() - t0) / 1000000);
	EXPECT_EQ(16, info_of(self->rx).queued_msgs);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
