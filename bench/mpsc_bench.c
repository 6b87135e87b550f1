// SPDX-License-Identifier: GPL-2.0
/*
 * mpsc against its peers, in one run on one machine.  Absolute numbers
 * mean little in an emulated guest: every figure is a ratio to a pipe
 * measured in the same run, the median of several runs, with their
 * minimum and maximum.
 *
 * Peers (struct peer, peers[]): a pipe, a pipe in packet mode
 * (pipe2(O_DIRECT)), an AF_UNIX SOCK_SEQPACKET socketpair, a POSIX message
 * queue, and, as the ceiling, a ring in shared memory per producer with
 * eventfd wake-ups issued only when the other side sleeps.
 *
 * Workloads (struct workload, workloads[]): streams of 16 B to 64 KiB
 * messages from one producer, 4 and 16 producers on a bounded channel,
 * mpsc batches of 1 to 256 messages per call against a pipe at one
 * message per syscall, and ping-pong with its latency percentiles.  Each
 * runs with every thread on one CPU (CPU cost) and unpinned (two CPUs).
 * Then memory per queued message (the memory cgroup's memory.current
 * delta over N queued messages) and the cost of a refused send.
 *
 * Every message carries its producer and sequence number; the consumer
 * checks that each arrives exactly once and in its producer's order.
 *
 *   mpsc_bench [--smoke] [--runs N] [--ms MS] [--csv FILE]
 *
 * --smoke runs every workload and peer once with tiny counts, checks the
 * results and prints TAP.  Run as root, the bench moves itself into a
 * child memory cgroup (/sys/fs/cgroup/mpsc-bench/run) and raises the
 * POSIX queue limit /proc/sys/fs/mqueue/msg_max; both are undone at exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mpsc.h>

#define MAX_PROD	16
#define MAX_MSG		65536
#define MAX_BATCH	256
#define MAX_RUNS	15
#define NMODES		2
#define QUEUE_BYTES	(1 << 20)	/* mpsc's default per-channel bound */
#define BOUND		1024		/* messages, for the N->1 workloads */
#define MQ_HARD_MAX	65536		/* the kernel's HARD_MSGMAX */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const mode_name[NMODES] = { "1-vCPU", "2-vCPU" };

/*
 * One channel of some peer: a receiver, and one sender per producer
 * (mpsc clones a sender for each; the others share one fd).
 */
struct chan {
	const struct peer *peer;
	size_t size;		/* every message is this long */
	int nprod;
	long cap;		/* message bound; 0: the peer's default */
	bool nonblock;		/* sends fail with -EAGAIN when full */
	int rfd;
	int wfd[MAX_PROD];
	/* shm-ring only */
	struct shm_hdr *shm;
	struct ring *ring[MAX_PROD];
	uint64_t ring_bytes;
	int next;		/* the consumer's next ring to look at */
	int rx_efd;
	int tx_efd[MAX_PROD];
};

/*
 * A peer's operations.  send() and recv() block unless chan.nonblock;
 * both return -errno on failure, recv() the message length on success.
 * The batch operations exist for mpsc only; queued_mem for mpsc only.
 */
struct peer {
	const char *name;
	int (*open)(struct chan *c);
	int (*nonblock)(struct chan *c);
	int (*send)(struct chan *c, int p, const void *buf, size_t len);
	ssize_t (*recv)(struct chan *c, void *buf, size_t len);
	void (*close)(struct chan *c);
	int (*send_batch)(struct chan *c, int p, const void *recs,
			  size_t size, unsigned int n);
	int (*recv_batch)(struct chan *c, void *recs, size_t size,
			  unsigned int max);
	long (*queued_mem)(struct chan *c);
};

static int mq_max = 10;		/* /proc/sys/fs/mqueue/msg_max, raised */

/* fd peers */

static int fd_send(struct chan *c, int p, const void *buf, size_t len)
{
	ssize_t n = write(c->wfd[p], buf, len);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* A datagram: one read is one message. */
static ssize_t fd_recv(struct chan *c, void *buf, size_t len)
{
	ssize_t n = read(c->rfd, buf, len);

	return n < 0 ? -errno : n;
}

/* A byte stream, or packets of at most PIPE_BUF: read a whole record. */
static ssize_t pipe_recv(struct chan *c, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(c->rfd, (char *)buf + got, len - got);
		if (n < 0)
			return -errno;
		if (!n)
			break;
		got += n;
	}
	return got;
}

static int fd_nonblock(struct chan *c)
{
	int fl = fcntl(c->wfd[0], F_GETFL);

	if (fl < 0 || fcntl(c->wfd[0], F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

/* Closes every fd once: senders may share one fd, or the receiver's. */
static void fd_close(struct chan *c)
{
	int p, q;

	for (p = 0; p < MAX_PROD; p++) {
		if (c->wfd[p] < 0 || c->wfd[p] == c->rfd)
			continue;
		for (q = 0; q < p; q++)
			if (c->wfd[q] == c->wfd[p])
				break;
		if (q == p)
			close(c->wfd[p]);
	}
	if (c->rfd >= 0)
		close(c->rfd);
}

static void share_wfd(struct chan *c, int fd)
{
	int p;

	for (p = 0; p < c->nprod; p++)
		c->wfd[p] = fd;
}

/* mpsc: the fd is the receiver; each producer gets a cloned sender. */
static int mpsc_open(struct chan *c)
{
	struct mpsc_clone_args args = { .flags = O_CLOEXEC };
	struct mpsc_capacity_args cap = { .capacity = c->cap };
	int p;

	c->rfd = open("/dev/mpsc", O_RDWR | O_CLOEXEC);
	if (c->rfd < 0)
		return -errno;
	for (p = 0; p < c->nprod; p++) {
		c->wfd[p] = ioctl(c->rfd, MPSC_IOC_CLONE_SENDER, &args);
		if (c->wfd[p] < 0)
			return -errno;
	}
	if (ioctl(c->rfd, MPSC_IOC_DISCONNECT, 0))
		return -errno;
	if (c->cap && ioctl(c->rfd, MPSC_IOC_SET_CAPACITY, &cap))
		return -errno;
	return 0;
}

static int mpsc_nonblock(struct chan *c)
{
	int p, fl;

	for (p = 0; p < c->nprod; p++) {
		fl = fcntl(c->wfd[p], F_GETFL);
		if (fl < 0 || fcntl(c->wfd[p], F_SETFL, fl | O_NONBLOCK))
			return -errno;
	}
	return 0;
}

static int mpsc_xfer(int fd, unsigned long cmd, void *recs, size_t size,
		     unsigned int n)
{
	struct mpsc_xfer x = {
		.buf = (uintptr_t)recs,
		.len = size,
		.timeout_ns = MPSC_TIMEOUT_FOREVER,
		.flags = MPSC_XFER_BATCH,
		.count = n,
	};
	int ret = ioctl(fd, cmd, &x);

	return ret < 0 ? -errno : ret;
}

static int mpsc_send_batch(struct chan *c, int p, const void *recs,
			   size_t size, unsigned int n)
{
	return mpsc_xfer(c->wfd[p], MPSC_IOC_SEND, (void *)recs, size, n);
}

static int mpsc_recv_batch(struct chan *c, void *recs, size_t size,
			   unsigned int max)
{
	return mpsc_xfer(c->rfd, MPSC_IOC_RECV, recs, size, max);
}

static long mpsc_queued_mem(struct chan *c)
{
	struct mpsc_info info;

	memset(&info, 0, sizeof(info));
	if (ioctl(c->rfd, MPSC_IOC_INFO, &info))
		return -errno;
	return info.queued_mem;
}

static int do_pipe(struct chan *c, int flags)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | flags))
		return -errno;
	c->rfd = fds[0];
	share_wfd(c, fds[1]);
	return 0;
}

static int pipe_open(struct chan *c)
{
	return do_pipe(c, 0);
}

static int pipe_direct_open(struct chan *c)
{
	return do_pipe(c, O_DIRECT);
}

static int seqpacket_open(struct chan *c)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds))
		return -errno;
	c->rfd = fds[0];
	share_wfd(c, fds[1]);
	return 0;
}

/*
 * A POSIX queue of c->cap messages, or by default of as many as make
 * mpsc's 1 MiB (at least 10, at most msg_max).
 */
static int mq_open_chan(struct chan *c)
{
	static int seq;
	struct mq_attr attr = { .mq_msgsize = c->size };
	char name[64];
	long max = c->cap ? c->cap : QUEUE_BYTES / (long)c->size;
	mqd_t q;

	attr.mq_maxmsg = max < 10 && !c->cap ? 10 : max > mq_max ? mq_max : max;
	snprintf(name, sizeof(name), "/mpsc-bench-%d-%d", getpid(), seq++);
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q == (mqd_t)-1)
		return -errno;
	mq_unlink(name);
	c->rfd = q;
	share_wfd(c, q);
	return 0;
}

static int mq_nonblock(struct chan *c)
{
	struct mq_attr attr = { .mq_flags = O_NONBLOCK };

	return mq_setattr(c->rfd, &attr, NULL) ? -errno : 0;
}

static int mq_send_msg(struct chan *c, int p, const void *buf, size_t len)
{
	return mq_send(c->wfd[p], buf, len, 0) ? -errno : 0;
}

static ssize_t mq_recv_msg(struct chan *c, void *buf, size_t len)
{
	ssize_t n = mq_receive(c->rfd, buf, len, NULL);

	return n < 0 ? -errno : n;
}

/*
 * shm-ring: a single-producer ring of records per producer, in shared
 * memory (MAP_SHARED), 8-byte positions that only grow.  A record is a
 * 4-byte length, 4 bytes of padding and the payload padded to 8 bytes.
 * A side that finds nothing to do says so in its waiting flag, looks
 * once more and sleeps in read() on its eventfd; the other side writes
 * the eventfd only when it finds the flag set.  The flag store and the
 * position load on one side, and the position store and flag load on
 * the other, are ordered by full fences, so one of them always sees
 * the other: no lost wake-up, and no syscall while both are busy.
 */
struct ring {
	uint64_t head;		/* consumer's position; written by it only */
	char pad0[56];
	uint64_t tail;		/* producer's position; written by it only */
	char pad1[56];
	int tx_waiting;		/* the producer sleeps on its tx_efd */
	int dead;		/* the consumer gave up: fail sends */
	char pad2[56];
	char data[];
};

struct shm_hdr {
	int rx_waiting;		/* the consumer sleeps on rx_efd */
	char pad[60];
};

#define REC_SIZE(len)		(8 + (((uint64_t)(len) + 7) & ~7ULL))
#define load_acquire(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define store_once(p, v)	__atomic_store_n(p, v, __ATOMIC_RELAXED)
#define load_once(p)		__atomic_load_n(p, __ATOMIC_RELAXED)
#define full_fence()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xchg(p, v)		__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST)

static void efd_post(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void efd_wait(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		abort();
}

/* Wakes the side sleeping on @efd, if it said it sleeps. */
static void wake_if_waiting(int *waiting, int efd)
{
	full_fence();
	if (load_once(waiting) && xchg(waiting, 0))
		efd_post(efd);
}

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t r = 4096;

	while (r < n)
		r <<= 1;
	return r;
}

static int shm_open_chan(struct chan *c)
{
	uint64_t rec = REC_SIZE(c->size);
	int p;

	if (c->cap)
		c->ring_bytes = pow2_at_least(c->cap * rec / c->nprod);
	else
		c->ring_bytes = pow2_at_least(QUEUE_BYTES);
	if (c->ring_bytes < 2 * rec)
		c->ring_bytes = pow2_at_least(2 * rec);
	c->shm = mmap(NULL, sizeof(*c->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->shm == MAP_FAILED) {
		c->shm = NULL;
		return -errno;
	}
	c->rx_efd = eventfd(0, EFD_CLOEXEC);
	if (c->rx_efd < 0)
		return -errno;
	for (p = 0; p < c->nprod; p++) {
		c->ring[p] = mmap(NULL, sizeof(struct ring) + c->ring_bytes,
				  PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (c->ring[p] == MAP_FAILED) {
			c->ring[p] = NULL;
			return -errno;
		}
		c->tx_efd[p] = eventfd(0, EFD_CLOEXEC);
		if (c->tx_efd[p] < 0)
			return -errno;
	}
	return 0;
}

static int shm_nonblock(struct chan *c)
{
	c->nonblock = true;
	return 0;
}

static void ring_copy(struct chan *c, struct ring *r, uint64_t pos,
		      void *buf, size_t len, bool in)
{
	uint64_t off = pos & (c->ring_bytes - 1);
	size_t first = len;

	if (off + len > c->ring_bytes)
		first = c->ring_bytes - off;
	if (in) {
		memcpy(r->data + off, buf, first);
		memcpy(r->data, (char *)buf + first, len - first);
	} else {
		memcpy(buf, r->data + off, first);
		memcpy((char *)buf + first, r->data, len - first);
	}
}

/* The producer only. */
static int shm_send(struct chan *c, int p, const void *buf, size_t len)
{
	struct ring *r = c->ring[p];
	uint64_t need = REC_SIZE(len), tail = r->tail;
	uint32_t hdr[2] = { len, 0 };

	if (need > c->ring_bytes)
		return -EMSGSIZE;
	while (tail + need - load_acquire(&r->head) > c->ring_bytes) {
		if (c->nonblock)
			return -EAGAIN;
		if (load_once(&r->dead))
			return -EPIPE;
		store_once(&r->tx_waiting, 1);
		full_fence();
		if (tail + need - load_acquire(&r->head) <= c->ring_bytes) {
			store_once(&r->tx_waiting, 0);
			break;
		}
		efd_wait(c->tx_efd[p]);
	}
	memcpy(r->data + (tail & (c->ring_bytes - 1)), hdr, sizeof(hdr));
	ring_copy(c, r, tail + 8, (void *)buf, len, true);
	store_release(&r->tail, tail + need);
	wake_if_waiting(&c->shm->rx_waiting, c->rx_efd);
	return 0;
}

/* The first ring with a record, from c->next on; -1 if all are empty. */
static int shm_ready(struct chan *c)
{
	int i, p;

	for (i = 0; i < c->nprod; i++) {
		p = (c->next + i) % c->nprod;
		if (load_acquire(&c->ring[p]->tail) != c->ring[p]->head)
			return p;
	}
	return -1;
}

/* The consumer only. */
static ssize_t shm_recv(struct chan *c, void *buf, size_t len)
{
	struct ring *r;
	uint32_t hdr[2];
	uint64_t head;
	int p;

	while ((p = shm_ready(c)) < 0) {
		store_once(&c->shm->rx_waiting, 1);
		full_fence();
		p = shm_ready(c);
		if (p >= 0) {
			store_once(&c->shm->rx_waiting, 0);
			break;
		}
		efd_wait(c->rx_efd);
	}
	r = c->ring[p];
	head = r->head;
	memcpy(hdr, r->data + (head & (c->ring_bytes - 1)), sizeof(hdr));
	if (hdr[0] > len)
		return -EMSGSIZE;
	ring_copy(c, r, head + 8, buf, hdr[0], false);
	store_release(&r->head, head + REC_SIZE(hdr[0]));
	wake_if_waiting(&r->tx_waiting, c->tx_efd[p]);
	c->next = (p + 1) % c->nprod;
	return hdr[0];
}

static void shm_close(struct chan *c)
{
	int p;

	for (p = 0; p < MAX_PROD; p++) {
		if (c->ring[p])
			munmap(c->ring[p], sizeof(struct ring) + c->ring_bytes);
		if (c->tx_efd[p] >= 0)
			close(c->tx_efd[p]);
	}
	if (c->rx_efd >= 0)
		close(c->rx_efd);
	if (c->shm)
		munmap(c->shm, sizeof(*c->shm));
}

enum { MPSC, PIPE, PIPE_DIRECT, SEQPACKET, MQUEUE, SHM_RING, NPEERS };

static const struct peer peers[NPEERS] = {
	[MPSC] = {
		.name = "mpsc", .open = mpsc_open, .nonblock = mpsc_nonblock,
		.send = fd_send, .recv = fd_recv, .close = fd_close,
		.send_batch = mpsc_send_batch, .recv_batch = mpsc_recv_batch,
		.queued_mem = mpsc_queued_mem,
	},
	[PIPE] = {
		.name = "pipe", .open = pipe_open, .nonblock = fd_nonblock,
		.send = fd_send, .recv = pipe_recv, .close = fd_close,
	},
	[PIPE_DIRECT] = {
		.name = "pipe-direct", .open = pipe_direct_open,
		.nonblock = fd_nonblock, .send = fd_send, .recv = pipe_recv,
		.close = fd_close,
	},
	[SEQPACKET] = {
		.name = "seqpacket", .open = seqpacket_open,
		.nonblock = fd_nonblock, .send = fd_send, .recv = fd_recv,
		.close = fd_close,
	},
	[MQUEUE] = {
		.name = "mqueue", .open = mq_open_chan, .nonblock = mq_nonblock,
		.send = mq_send_msg, .recv = mq_recv_msg, .close = fd_close,
	},
	[SHM_RING] = {
		.name = "shm-ring", .open = shm_open_chan,
		.nonblock = shm_nonblock, .send = shm_send, .recv = shm_recv,
		.close = shm_close,
	},
};

static int chan_open(struct chan *c, int peer, size_t size, int nprod,
		     long cap)
{
	int p, ret;

	memset(c, 0, sizeof(*c));
	c->peer = &peers[peer];
	c->size = size;
	c->nprod = nprod;
	c->cap = cap;
	c->rfd = -1;
	c->rx_efd = -1;
	for (p = 0; p < MAX_PROD; p++) {
		c->wfd[p] = -1;
		c->tx_efd[p] = -1;
	}
	ret = c->peer->open(c);
	if (ret)
		c->peer->close(c);
	return ret;
}

/* The consumer gives up: make blocked and later sends fail. */
static void chan_abort(struct chan *c)
{
	int p;

	if (c->peer->close == shm_close) {
		for (p = 0; p < c->nprod; p++) {
			store_once(&c->ring[p]->dead, 1);
			efd_post(c->tx_efd[p]);
		}
	} else if (c->peer->close == fd_close && c->rfd != c->wfd[0]) {
		close(c->rfd);
		c->rfd = -1;
	}
}

/* Workloads */

enum kind { STREAM, PINGPONG };

struct workload {
	const char *name;
	enum kind kind;
	size_t size;
	int nprod;
	unsigned int batch;	/* mpsc records per call; 0: one per syscall */
	long cap;		/* message bound; 0: each peer's default */
};

static const struct workload workloads[] = {
	/* name			kind	  size	 nprod batch cap */
	{ "stream 16 B",	STREAM,   16,    1,  0,   0 },
	{ "stream 64 B",	STREAM,   64,    1,  0,   0 },
	{ "stream 1 KiB",	STREAM,   1024,  1,  0,   0 },
	{ "stream 4 KiB",	STREAM,   4096,  1,  0,   0 },
	{ "stream 64 KiB",	STREAM,   65536, 1,  0,   0 },
	{ "4->1 64 B",		STREAM,   64,    4,  0,   BOUND },
	{ "16->1 64 B",		STREAM,   64,    16, 0,   BOUND },
	{ "batch 1x64 B",	STREAM,   64,    1,  1,   0 },
	{ "batch 8x64 B",	STREAM,   64,    1,  8,   0 },
	{ "batch 64x64 B",	STREAM,   64,    1,  64,  0 },
	{ "batch 256x64 B",	STREAM,   64,    1,  256, 0 },
	{ "ping-pong 64 B",	PINGPONG, 64,    1,  0,   0 },
};

#define NWORK ARRAY_SIZE(workloads)

/*
 * A batch workload runs mpsc batched and the pipe at one message per
 * syscall (its baseline); other peers sit it out.
 */
static bool runs(const struct workload *w, int peer)
{
	return !w->batch || peer == PIPE || peers[peer].send_batch;
}

/* What one run of a workload measured. */
struct result {
	double rate;		/* messages or round trips per second */
	double p50, p99;	/* ping-pong: round trip, microseconds */
	double csw;		/* context switches per message */
	bool ok;
};

/* Each message starts with its producer and its sequence number. */
struct stamp {
	uint32_t prod;
	uint32_t seq;
};

struct stream {
	struct chan c;
	const struct workload *w;
	bool batched;
	long per_prod;
	int err;
	uint32_t next[MAX_PROD];	/* the consumer's expected seq */
};

struct prod_arg {
	struct stream *s;
	int p;
	pthread_t thread;
};

static char errmsg[256];

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (errmsg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long csw_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void stamp(void *buf, int p, long seq)
{
	struct stamp st = { p, seq };

	memcpy(buf, &st, sizeof(st));
}

/* The consumer: is this the next message of its producer? */
static bool check(struct stream *s, const void *buf, ssize_t len)
{
	struct stamp st;

	if (len != (ssize_t)s->w->size) {
		fail("%s: a %zd-byte message, %zu expected (%s)",
		     s->c.peer->name, len, s->w->size,
		     len < 0 ? strerror(-len) : "short");
		return false;
	}
	memcpy(&st, buf, sizeof(st));
	if (st.prod >= (uint32_t)s->c.nprod || st.seq != s->next[st.prod]) {
		fail("%s: message %u of producer %u arrived, %u expected",
		     s->c.peer->name, st.seq, st.prod,
		     st.prod < MAX_PROD ? s->next[st.prod] : 0);
		return false;
	}
	s->next[st.prod]++;
	return true;
}

static void *producer(void *arg)
{
	struct prod_arg *a = arg;
	struct stream *s = a->s;
	size_t size = s->w->size, rec = REC_SIZE(size);
	unsigned int n, k, i;
	char *buf, *recs;
	long seq;
	int ret;

	buf = calloc(1, s->batched ? s->w->batch * rec : size);
	if (!buf) {
		s->err = -ENOMEM;
		return NULL;
	}
	for (seq = 0; seq < s->per_prod; seq += n) {
		n = 1;
		if (!s->batched) {
			stamp(buf, a->p, seq);
			ret = s->c.peer->send(&s->c, a->p, buf, size);
			if (ret)
				goto out_err;
			continue;
		}
		if (s->per_prod - seq < s->w->batch)
			n = s->per_prod - seq;
		else
			n = s->w->batch;
		for (i = 0; i < n; i++) {
			struct mpsc_rec r = { .len = size };

			memcpy(buf + i * rec, &r, sizeof(r));
			stamp(buf + i * rec + sizeof(r), a->p, seq + i);
		}
		for (recs = buf, k = n; k; recs += ret * rec, k -= ret) {
			ret = s->c.peer->send_batch(&s->c, a->p, recs,
						    k * rec, k);
			if (ret <= 0)
				goto out_err;
		}
	}
	free(buf);
	return NULL;
out_err:
	s->err = ret ? ret : -EIO;
	free(buf);
	return NULL;
}

/* The consumer's side of a batched stream: records, parsed. */
static long consume_batch(struct stream *s, char *buf, size_t bufsize)
{
	struct mpsc_rec r;
	size_t off;
	int n, i;

	n = s->c.peer->recv_batch(&s->c, buf, bufsize, s->w->batch);
	if (n <= 0) {
		fail("mpsc: batch receive: %s", n ? strerror(-n) : "EOF");
		return -1;
	}
	for (i = 0, off = 0; i < n; i++) {
		memcpy(&r, buf + off, sizeof(r));
		if (r.nfds || !check(s, buf + off + sizeof(r), r.len))
			return -1;
		off += MPSC_REC_SIZE(r.len, r.nfds);
	}
	return n;
}

static int stream_run(int peer, const struct workload *w, long n,
		      struct result *res)
{
	struct prod_arg args[MAX_PROD];
	struct stream s = { .w = w };
	size_t bufsize = w->size;
	long got = 0, k, csw;
	double t0;
	char *buf;
	int p, ret;

	s.batched = w->batch && peers[peer].send_batch;
	if (s.batched)
		bufsize = w->batch * REC_SIZE(w->size);
	s.per_prod = n / w->nprod;
	n = s.per_prod * w->nprod;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	ret = chan_open(&s.c, peer, w->size, w->nprod, w->cap);
	if (ret) {
		fail("%s: cannot open: %s", peers[peer].name, strerror(-ret));
		free(buf);
		return ret;
	}
	csw = csw_now();
	t0 = now();
	for (p = 0; p < w->nprod; p++) {
		args[p].s = &s;
		args[p].p = p;
		pthread_create(&args[p].thread, NULL, producer, &args[p]);
	}
	while (got < n) {
		if (s.batched) {
			k = consume_batch(&s, buf, bufsize);
		} else {
			ret = s.c.peer->recv(&s.c, buf, bufsize);
			k = check(&s, buf, ret) ? 1 : -1;
		}
		if (k < 0) {
			chan_abort(&s.c);
			break;
		}
		got += k;
	}
	for (p = 0; p < w->nprod; p++)
		pthread_join(args[p].thread, NULL);
	t0 = now() - t0;
	res->csw = (double)(csw_now() - csw) / n;
	s.c.peer->close(&s.c);
	free(buf);
	if (s.err)
		fail("%s: send: %s", peers[peer].name, strerror(-s.err));
	for (p = 0; p < w->nprod; p++)
		if (s.next[p] != s.per_prod && got == n)
			fail("%s: producer %d: %u of %ld messages arrived",
			     peers[peer].name, p, s.next[p], s.per_prod);
	if (errmsg[0])
		return -EPROTO;
	res->rate = n / t0;
	res->ok = true;
	return 0;
}

struct pong {
	struct chan req, rep;
	long rounds;
	int err;
};

static void *ponger(void *arg)
{
	struct pong *pp = arg;
	char buf[64];
	long i;
	int ret = 0;

	for (i = 0; i < pp->rounds && !ret; i++) {
		ret = pp->req.peer->recv(&pp->req, buf, sizeof(buf));
		if (ret == sizeof(buf))
			ret = pp->rep.peer->send(&pp->rep, 0, buf, sizeof(buf));
		else if (ret >= 0)
			ret = -EIO;
	}
	pp->err = ret;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int pingpong_run(int peer, const struct workload *w, long rounds,
			struct result *res)
{
	struct pong pp = { .rounds = rounds };
	struct stamp st;
	char buf[64] = { 0 };
	double *lat, t0, t;
	pthread_t th;
	long i;
	int ret;

	lat = calloc(rounds, sizeof(*lat));
	if (!lat)
		return -ENOMEM;
	ret = chan_open(&pp.req, peer, w->size, 1, 0);
	if (!ret) {
		ret = chan_open(&pp.rep, peer, w->size, 1, 0);
		if (ret)
			pp.req.peer->close(&pp.req);
	}
	if (ret) {
		fail("%s: cannot open: %s", peers[peer].name, strerror(-ret));
		free(lat);
		return ret;
	}
	pthread_create(&th, NULL, ponger, &pp);
	t0 = now();
	for (i = 0; i < rounds; i++) {
		t = now();
		stamp(buf, 0, i);
		ret = pp.req.peer->send(&pp.req, 0, buf, sizeof(buf));
		if (!ret)
			ret = pp.rep.peer->recv(&pp.rep, buf, sizeof(buf));
		memcpy(&st, buf, sizeof(st));
		if (ret != sizeof(buf) || st.seq != i) {
			fail("%s: round %ld: %s", peers[peer].name, i,
			     ret < 0 ? strerror(-ret) : "a wrong reply");
			chan_abort(&pp.req);
			chan_abort(&pp.rep);
			break;
		}
		lat[i] = now() - t;
	}
	t0 = now() - t0;
	pthread_join(th, NULL);
	pp.req.peer->close(&pp.req);
	pp.rep.peer->close(&pp.rep);
	if (!errmsg[0] && pp.err)
		fail("%s: ponger: %s", peers[peer].name, strerror(-pp.err));
	if (errmsg[0]) {
		free(lat);
		return -EPROTO;
	}
	qsort(lat, rounds, sizeof(*lat), cmp_double);
	res->rate = rounds / t0;
	res->p50 = lat[rounds / 2] * 1e6;
	res->p99 = lat[rounds * 99 / 100] * 1e6;
	res->csw = 0;
	res->ok = true;
	free(lat);
	return 0;
}

static int run(int peer, const struct workload *w, long n,
	       struct result *res)
{
	memset(res, 0, sizeof(*res));
	if (w->kind == PINGPONG)
		return pingpong_run(peer, w, n, res);
	return stream_run(peer, w, n, res);
}

/* Memory cgroup: the bench in run/, a helper that drains it in drain/ */

#define CG_TOP "/sys/fs/cgroup/mpsc-bench"

static int cg_current_fd = -1;
static pid_t drainer;
static int drain_req = -1, drain_ack = -1;
static int ncpus;

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* memory.current of run/, from an fd kept open: reading allocates nothing. */
static long cg_current(void)
{
	char buf[32];
	ssize_t n;

	n = pread(cg_current_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atol(buf);
}

static void pin(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < ncpus; i++)
		if (cpu < 0 || i == cpu)
			CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The drainer, in a sibling cgroup: each request, it charges a page and
 * a kernel object on every CPU.  A CPU keeps a stock of pre-charged
 * pages and bytes for one cgroup only, so this hands back what run/
 * had in stock, and memory.current counts what run/ really holds.
 */
static void drain_loop(void)
{
	char *page;
	int cpu, fds[2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		efd_wait(drain_req);
		for (cpu = 0; cpu < ncpus; cpu++) {
			pin(cpu);
			page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (page != MAP_FAILED) {
				page[0] = 1;
				munmap(page, 4096);
			}
			if (!pipe(fds)) {
				close(fds[0]);
				close(fds[1]);
			}
		}
		efd_post(drain_ack);
	}
}

static void cg_drain(void)
{
	if (drainer <= 0)
		return;
	efd_post(drain_req);
	efd_wait(drain_ack);
}

static void cg_cleanup(void)
{
	char pid[16];

	if (drainer > 0) {
		kill(drainer, SIGKILL);
		waitpid(drainer, NULL, 0);
		drainer = 0;
	}
	if (cg_current_fd < 0)
		return;
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file("/sys/fs/cgroup/cgroup.procs", pid);
	rmdir(CG_TOP "/run");
	rmdir(CG_TOP "/drain");
	rmdir(CG_TOP);
}

/*
 * Mount cgroup2 if it is not, make mpsc-bench/{run,drain} with the
 * memory controller, start the drainer in drain/ and move this process
 * (no thread runs yet) into run/.
 */
static int cg_setup(void)
{
	char pid[16], buf[64];
	int ret;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) &&
	    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		return -errno;
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if ((mkdir(CG_TOP, 0755) && errno != EEXIST) ||
	    write_file(CG_TOP "/cgroup.subtree_control", "+memory") ||
	    (mkdir(CG_TOP "/run", 0755) && errno != EEXIST) ||
	    (mkdir(CG_TOP "/drain", 0755) && errno != EEXIST))
		return -errno;
	drain_req = eventfd(0, EFD_CLOEXEC);
	drain_ack = eventfd(0, EFD_CLOEXEC);
	if (drain_req < 0 || drain_ack < 0)
		return -errno;
	drainer = fork();
	if (drainer < 0)
		return -errno;
	if (!drainer) {
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (write_file(CG_TOP "/drain/cgroup.procs", pid))
			_exit(1);
		drain_loop();
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	ret = write_file(CG_TOP "/run/cgroup.procs", pid);
	if (ret)
		return ret;
	cg_current_fd = open(CG_TOP "/run/memory.current", O_RDONLY | O_CLOEXEC);
	if (cg_current_fd < 0)
		return -errno;
	/* The first read allocates the seq_file buffer. */
	if (cg_current() < 0 || read_file(CG_TOP "/run/memory.current", buf,
					  sizeof(buf)))
		return -EIO;
	return 0;
}

/*
 * Memory per queued message: fill @n messages of @size bytes into as
 * many channels as it takes, reading none, and divide the growth of
 * memory.current by @n.  *qmem gets mpsc's own count (MPSC_IOC_INFO
 * queued_mem) per message, or NAN.
 */
static int mem_run(int peer, size_t size, long n, double *per_msg,
		   double *qmem)
{
	struct chan *chans = malloc(n * sizeof(*chans));
	char *buf = malloc(size);
	long got = 0, nch = 0, k, m0, m1, q = 0, i;
	struct chan *c;
	int ret = 0;

	if (!chans || !buf) {
		free(chans);
		free(buf);
		return -ENOMEM;
	}
	/* Touch them now: their pages are not the queue's. */
	memset(chans, 0, n * sizeof(*chans));
	memset(buf, 0, size);
	cg_drain();
	m0 = cg_current();
	while (got < n) {
		c = &chans[nch];
		ret = chan_open(c, peer, size, 1, 0);
		if (ret)
			break;
		nch++;
		ret = c->peer->nonblock(c);
		for (k = 0; !ret && got < n; k++, got++) {
			ret = c->peer->send(c, 0, buf, size);
			if (ret)
				break;
		}
		if (ret == -EAGAIN && k)
			ret = 0;
		if (ret)
			break;
	}
	for (i = 0; !ret && peers[peer].queued_mem && i < nch; i++)
		q += peers[peer].queued_mem(&chans[i]);
	cg_drain();
	m1 = cg_current();
	for (i = 0; i < nch; i++)
		chans[i].peer->close(&chans[i]);
	free(chans);
	free(buf);
	if (ret) {
		fail("%s: queueing %zu B messages: %s", peers[peer].name, size,
		     strerror(-ret));
		return ret;
	}
	*per_msg = m0 < 0 || m1 < 0 ? NAN : (double)(m1 - m0) / n;
	*qmem = peers[peer].queued_mem ? (double)q / n : NAN;
	return 0;
}

/*
 * Nanoseconds per send of @size bytes refused with EAGAIN.  The channel
 * is opened with room for one message (mpsc: MPSC_IOC_SET_CAPACITY 1; a
 * POSIX queue: mq_maxmsg 1) and filled, 4 KiB then 1 byte at a time,
 * until a 1-byte send is refused; a pipe and a socketpair take what they
 * buffer.  Sends are timed for at least @budget seconds and @min sends.
 */
static int refused_run(int peer, size_t size, double budget, long min,
		       double *ns)
{
	char *buf = calloc(1, size);
	size_t len = size < 4096 ? size : 4096;
	long i, count = 0;
	struct chan c;
	double t0;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = chan_open(&c, peer, size, 1, 1);
	if (ret)
		goto out_free;
	ret = c.peer->nonblock(&c);
	for (i = 0; !ret && i < (1L << 22); i++) {
		ret = c.peer->send(&c, 0, buf, len);
		if (ret == -EAGAIN && len > 1) {
			len = 1;
			ret = 0;
		}
	}
	if (ret != -EAGAIN)
		goto out_close;
	t0 = now();
	do {
		for (i = 0; i < 16; i++, count++) {
			ret = c.peer->send(&c, 0, buf, size);
			if (ret != -EAGAIN)
				goto out_close;
		}
	} while (count < min || now() - t0 < budget);
	*ns = (now() - t0) * 1e9 / count;
	ret = 0;
out_close:
	c.peer->close(&c);
out_free:
	free(buf);
	if (ret)
		fail("%s: refused send of %zu B: %s", peers[peer].name, size,
		     ret > 0 ? "accepted" : strerror(-ret));
	return ret ? -EPROTO : 0;
}

/* Results, statistics and output */

static const size_t mem_sizes[] = { 16, 64, 1024, 4096, 65536 };
static const size_t refused_sizes[] = { 1, 65536 };

/* "16 B", "1 KiB", "64 KiB" */
static const char *size_label(size_t size)
{
	static char buf[4][24];
	static int i;
	char *b = buf[i++ % 4];

	if (size >= 1024 && !(size % 1024))
		snprintf(b, 24, "%zu KiB", size / 1024);
	else
		snprintf(b, 24, "%zu B", size);
	return b;
}

#define NSIZES ARRAY_SIZE(mem_sizes)

static struct result res[NMODES][NWORK][NPEERS][MAX_RUNS];
static double mem[NSIZES][NPEERS][MAX_RUNS], qmem[NSIZES][MAX_RUNS];
static double refns[2][NPEERS][MAX_RUNS];
static int nruns = 3;
static bool have_cg;
static FILE *csv;

/* Table columns: the pipe (the baseline) first. */
static const int column[NPEERS] = {
	PIPE, MPSC, PIPE_DIRECT, SEQPACKET, MQUEUE, SHM_RING,
};

enum metric { RATE, RATIO, P50, P99, CSW };

static const char *const metric_name[] = {
	[RATE] = "per_second", [RATIO] = "ratio_to_pipe",
	[P50] = "p50_us", [P99] = "p99_us", [CSW] = "csw_per_msg",
};

static double value(int m, int w, int p, int r, enum metric k)
{
	const struct result *x = &res[m][w][p][r], *pipe = &res[m][w][PIPE][r];

	if (!x->ok)
		return NAN;
	switch (k) {
	case RATE:
		return x->rate;
	case RATIO:
		return pipe->ok ? x->rate / pipe->rate : NAN;
	case P50:
		return x->p50;
	case P99:
		return x->p99;
	default:
		return x->csw;
	}
}

struct stat3 {
	double med, min, max;
	int n;
};

static struct stat3 summarize(const double *v, int n)
{
	struct stat3 s = { NAN, NAN, NAN, 0 };
	double x[MAX_RUNS];
	int i;

	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			x[s.n++] = v[i];
	if (!s.n)
		return s;
	qsort(x, s.n, sizeof(*x), cmp_double);
	s.min = x[0];
	s.max = x[s.n - 1];
	s.med = s.n % 2 ? x[s.n / 2] : (x[s.n / 2 - 1] + x[s.n / 2]) / 2;
	return s;
}

static struct stat3 stat_of(int m, int w, int p, enum metric k)
{
	double v[MAX_RUNS];
	int r;

	for (r = 0; r < nruns; r++)
		v[r] = value(m, w, p, r, k);
	return summarize(v, nruns);
}

/* "1.23 (1.20-1.31)", or "-" when nothing was measured. */
static const char *cell(struct stat3 s, int prec)
{
	static char buf[4][48];
	static int i;
	char *b = buf[i++ % 4];

	if (!s.n)
		return "-";
	if (s.n == 1)
		snprintf(b, 48, "%.*f", prec, s.med);
	else
		snprintf(b, 48, "%.*f (%.*f-%.*f)", prec, s.med, prec, s.min,
			 prec, s.max);
	return b;
}

static void csv_row(const char *kind, const char *mode, const char *what,
		    const char *peer, const char *metric, struct stat3 s,
		    const char *note)
{
	if (!csv || !s.n)
		return;
	fprintf(csv, "%s,%s,%s,%s,%s,%.6g,%.6g,%.6g,%s\n", kind, mode, what,
		peer, metric, s.med, s.min, s.max, note);
}

static void header(const char *label, const char *first, int width)
{
	int i;

	printf("%-18s %-24s", label, first);
	for (i = 1; i < NPEERS; i++)
		printf(" %-*s", width, peers[column[i]].name);
	printf("\n");
}

/* A row of one metric: the pipe's column in @k0, the others in @k. */
static void metric_row(int m, int w, const char *label, enum metric k0,
		       enum metric k, int prec0, int prec)
{
	int i, p;

	printf("%-18s %-24s", label, cell(stat_of(m, w, PIPE, k0), prec0));
	for (i = 1; i < NPEERS; i++) {
		p = column[i];
		printf(" %-20s", cell(stat_of(m, w, p, k), prec));
	}
	printf("\n");
}

/* Latency for ping-pong, context switches for streams. */
static bool reported(const struct workload *w, enum metric k)
{
	if (k == P50 || k == P99)
		return w->kind == PINGPONG;
	return k != CSW || w->kind == STREAM;
}

static void print_mode(int m)
{
	const struct workload *w;
	enum metric k;
	unsigned int i;
	int p;

	printf("\n%s (%s): ratio to a pipe, higher is better; median (min-max) of %d runs\n",
	       mode_name[m], m ? "threads unpinned on 2 CPUs" :
	       "every thread on CPU 0", nruns);
	header("workload", "pipe msg/s", 20);
	for (i = 0; i < NWORK; i++)
		metric_row(m, i, workloads[i].name, RATE, RATIO, 0, 2);
	for (i = 0; i < NWORK; i++) {
		w = &workloads[i];
		if (w->kind == PINGPONG) {
			metric_row(m, i, "  p50 latency, us", P50, P50, 1, 1);
			metric_row(m, i, "  p99 latency, us", P99, P99, 1, 1);
		} else if (w->nprod == MAX_PROD) {
			metric_row(m, i, "16->1 ctx sw/msg", CSW, CSW, 3, 3);
		}
		for (p = 0; p < NPEERS; p++) {
			for (k = RATE; k <= CSW; k++) {
				if (!reported(w, k))
					continue;
				csv_row(k == RATIO ? "ratio" : "measure",
					mode_name[m], w->name, peers[p].name,
					metric_name[k], stat_of(m, i, p, k), "");
			}
		}
	}
}

static void print_memory(void)
{
	char what[32];
	struct stat3 s;
	unsigned int i;
	int c;

	printf("\nmemory per queued message, bytes: memory.current growth / N");
	printf(", on CPU 0; median (min-max) of %d runs%s\n", nruns,
	       have_cg ? "" : " (no memory cgroup: not measured)");
	printf("%-18s", "message size");
	for (c = 0; c < NPEERS; c++)
		printf(" %-16s", peers[column[c]].name);
	printf(" %s\n", "mpsc queued_mem/N");
	for (i = 0; i < NSIZES; i++) {
		snprintf(what, sizeof(what), "queued %s", size_label(mem_sizes[i]));
		printf("%-18s", what);
		for (c = 0; c < NPEERS; c++) {
			s = summarize(mem[i][column[c]], nruns);
			printf(" %-16s", cell(s, 0));
			csv_row("memory", mode_name[0], what,
				peers[column[c]].name, "memcg_bytes_per_msg",
				s, "");
		}
		s = summarize(qmem[i], nruns);
		printf(" %s\n", cell(s, 0));
		csv_row("memory", mode_name[0], what, "mpsc",
			"queued_mem_per_msg", s, "");
	}
}

static void print_refused(void)
{
	static const char *const label[] = {
		"refused send, 1 B", "refused send, 64 KiB",
	};
	double v[MAX_RUNS];
	struct stat3 s[2][NPEERS], x[NPEERS];
	int i, p, r;

	printf("\nrefused sends, ns (lower is better), median of %d runs\n",
	       nruns);
	printf("%-21s", "ns per refused send");
	for (p = 0; p < NPEERS; p++)
		printf(" %11s", peers[p].name);
	printf("\n");
	for (i = 0; i < 2; i++) {
		printf("%-21s", label[i]);
		for (p = 0; p < NPEERS; p++) {
			s[i][p] = summarize(refns[i][p], nruns);
			printf(" %11.0f", s[i][p].med);
			csv_row("refused", mode_name[0], label[i],
				peers[p].name, "ns", s[i][p], "");
		}
		printf("\n");
	}
	printf("%-21s", "64 KiB / 1 B");
	for (p = 0; p < NPEERS; p++) {
		for (r = 0; r < nruns; r++)
			v[r] = refns[1][p][r] / refns[0][p][r];
		x[p] = summarize(v, nruns);
		printf(" %11.2f", x[p].med);
		csv_row("refused", mode_name[0], "64 KiB / 1 B", peers[p].name,
			"ratio", x[p], "");
	}
	printf("\n");
	printf("mpsc refused send: %.0f ns at 1 B, %.0f ns at 64 KiB, x%.2f\n",
	       s[0][MPSC].med, s[1][MPSC].med, x[MPSC].med);
}

/* The targets for mpsc, as ratios to a pipe in the same run. */
struct target {
	const char *name;
	const char *work;
	double need[NMODES];
};

static const struct target targets[] = {
	{ "64 B stream 1->1", "stream 64 B", { 1.3, 1.0 } },
	{ "1 KiB stream 1->1", "stream 1 KiB", { 1.5, 1.2 } },
	{ "16->1 at 64 B", "16->1 64 B", { 0.8, 1.5 } },
	{ "batch 64x64 B/call", "batch 64x64 B", { 8, 6 } },
	{ "ping-pong 64 B", "ping-pong 64 B", { 1.05, 1.0 } },
	{ "64 KiB stream", "stream 64 KiB", { 0.9, 0.9 } },
};

#define CSW_TARGET	0.01
#define MEM_TARGET	32

static int work_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < NWORK; i++)
		if (!strcmp(workloads[i].name, name))
			return i;
	abort();
}

/* "1.23 >=1.30 met" into the targets table and the CSV. */
static void target_cell(int m, const char *name, struct stat3 s,
			const char *op, double need, int prec)
{
	bool met = s.n && (!strcmp(op, ">=") ? s.med >= need :
			   !strcmp(op, "<") ? s.med < need : s.med <= need);
	char what[16];

	snprintf(what, sizeof(what), "%s%.*f", op, prec < 2 ? prec : 2, need);
	printf(" %8.*f %-7s %-8s", prec, s.med, what, met ? "met" : "not met");
	csv_row("target", mode_name[m], name, "mpsc", what, s,
		met ? "met" : "not met");
}

static void print_targets(void)
{
	unsigned int i;
	struct stat3 s;
	int m, w;

	printf("\ntargets: mpsc, median of %d runs%-10s %-25s %s\n", nruns, "",
	       mode_name[0], mode_name[1]);
	for (i = 0; i < ARRAY_SIZE(targets); i++) {
		w = work_index(targets[i].work);
		printf("%-38s", targets[i].name);
		for (m = 0; m < NMODES; m++)
			target_cell(m, targets[i].name,
				    stat_of(m, w, MPSC, RATIO), ">=",
				    targets[i].need[m], 2);
		printf("\n");
	}
	w = work_index("16->1 64 B");
	printf("%-38s", "ctx switches/msg at 16->1");
	for (m = 0; m < NMODES; m++)
		target_cell(m, "ctx switches/msg at 16->1",
			    stat_of(m, w, MPSC, CSW), "<", CSW_TARGET, 4);
	printf("\n%-38s", "memory per queued 16 B msg (memcg)");
	s = summarize(mem[0][MPSC], nruns);
	target_cell(0, "memory per queued 16 B msg", s, "<=", MEM_TARGET, 0);
	printf(" (pinned to CPU 0: one figure)\n");
}

/* Running */

static bool smoke;
static double run_ms = 300;

/*
 * Peer order alternates between runs, so that neither end of the list
 * always runs first (on a fresh cache) or last.
 */
static int order(int r, int i)
{
	return r % 2 ? NPEERS - 1 - i : i;
}

/* The warm-up: a short run whose rate sizes the timed ones. */
static long calibrate(int peer, const struct workload *w)
{
	struct result x;
	long n0, n;

	if (w->kind == PINGPONG)
		n0 = 200;
	else if (w->batch)
		n0 = 4096;
	else
		n0 = (4L << 20) / w->size;
	n0 = n0 < 256 ? 256 : n0 > 4096 ? 4096 : n0;
	if (run(peer, w, n0, &x))
		return -1;
	n = x.rate * run_ms / 1000;
	return n < n0 / 4 ? n0 / 4 : n;
}

static void die(const char *what)
{
	fprintf(stderr, "mpsc_bench: %s: %s\n", what, errmsg);
	exit(1);
}

static void bench(void)
{
	static long count[NMODES][NWORK][NPEERS];
	const struct workload *w;
	unsigned int i, j;
	int m, p, r, c;

	printf("mpsc_bench: %d CPUs, %d runs per figure, %.0f ms each after a warm-up; %s\n",
	       ncpus, nruns, run_ms, have_cg ?
	       "in memory cgroup " CG_TOP "/run" : "no memory cgroup");
	for (m = 0; m < NMODES; m++) {
		pin(m ? -1 : 0);
		for (i = 0; i < NWORK; i++) {
			for (p = 0; p < NPEERS; p++) {
				if (!runs(&workloads[i], p))
					continue;
				count[m][i][p] = calibrate(p, &workloads[i]);
				if (count[m][i][p] < 0)
					die(workloads[i].name);
			}
		}
		for (r = 0; r < nruns; r++) {
			for (i = 0; i < NWORK; i++) {
				w = &workloads[i];
				for (c = 0; c < NPEERS; c++) {
					p = order(r, c);
					if (runs(w, p) &&
					    run(p, w, count[m][i][p],
						&res[m][i][p][r]))
						die(w->name);
				}
			}
		}
	}
	pin(0);
	for (r = 0; r < nruns; r++) {
		for (j = 0; j < NSIZES; j++) {
			for (c = 0; c < NPEERS; c++) {
				long n = (8L << 20) / mem_sizes[j];

				p = order(r, c);
				n = n > 8192 ? 8192 : n < 128 ? 128 : n;
				mem[j][p][r] = NAN;
				if (p == MPSC)
					qmem[j][r] = NAN;
				if (have_cg &&
				    mem_run(p, mem_sizes[j], n, &mem[j][p][r],
					    p == MPSC ? &qmem[j][r] :
					    &(double){ 0 }))
					die("memory");
			}
		}
		for (j = 0; j < 2; j++) {
			for (c = 0; c < NPEERS; c++) {
				p = order(r, c);
				if (refused_run(p, refused_sizes[j], 0.03, 64,
						&refns[j][p][r]))
					die("refused send");
			}
		}
	}
	for (m = 0; m < NMODES; m++)
		print_mode(m);
	print_memory();
	print_refused();
	print_targets();
}

/* --smoke: TAP, one case per workload and mode, every peer once. */
static int tap_n, tap_failed;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		printf("# %s\n", errmsg);
		tap_failed++;
	}
	errmsg[0] = 0;
	fflush(stdout);
}

static bool sane(const struct workload *w, const struct result *x)
{
	if (!isfinite(x->rate) || x->rate <= 0 || !isfinite(x->csw) ||
	    x->csw < 0)
		fail("rate %g, %g context switches per message", x->rate,
		     x->csw);
	else if (w->kind == PINGPONG && !(x->p50 > 0 && x->p50 <= x->p99))
		fail("latency p50 %g us, p99 %g us", x->p50, x->p99);
	return !errmsg[0];
}

static int smoke_test(void)
{
	double per_msg, q, ns;
	struct result x;
	unsigned int i, j;
	bool ok;
	int m, p;

	nruns = 1;
	printf("TAP version 13\n");
	tap(have_cg, "memory cgroup set up");
	for (m = 0; m < NMODES; m++) {
		pin(m ? -1 : 0);
		for (i = 0; i < NWORK; i++) {
			const struct workload *w = &workloads[i];

			for (p = 0, ok = true; ok && p < NPEERS; p++) {
				if (!runs(w, p))
					continue;
				ok = !run(p, w, w->kind == PINGPONG ? 32 : 512,
					  &x) && sane(w, &x);
				if (!ok)
					fail("%s", peers[p].name);
			}
			tap(ok, "%s %s: every peer, each message once",
			    mode_name[m], w->name);
		}
	}
	pin(0);
	for (j = 0; j < NSIZES; j++) {
		for (p = 0, ok = have_cg; ok && p < NPEERS; p++) {
			ok = !mem_run(p, mem_sizes[j], 64, &per_msg, &q);
			/*
			 * A few small messages share a page: the memory
			 * cgroup's figure can be 0 here.  queued_mem is exact:
			 * the payload padded to 8 and an 8-byte header.
			 */
			if (ok && p == MPSC &&
			    !(q >= mem_sizes[j] && q <= mem_sizes[j] + 15))
				fail("mpsc: %g B per %zu B message, queued_mem %g",
				     per_msg, mem_sizes[j], q);
			ok = ok && !errmsg[0];
		}
		tap(ok, "memory per queued %s message", size_label(mem_sizes[j]));
	}
	for (j = 0; j < 2; j++) {
		for (p = 0, ok = true; ok && p < NPEERS; p++)
			ok = !refused_run(p, refused_sizes[j], 0, 8, &ns) &&
				ns > 0;
		tap(ok, "refused send of %s", size_label(refused_sizes[j]));
	}
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* Setup: limits, the POSIX queue ceiling, the cgroup; undone at exit. */
static char mq_saved[32];

static void cleanup(void)
{
	if (mq_saved[0])
		write_file("/proc/sys/fs/mqueue/msg_max", mq_saved);
	cg_cleanup();
}

static void setup(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char buf[32];
	int ret;

	signal(SIGPIPE, SIG_IGN);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > CPU_SETSIZE)
		ncpus = CPU_SETSIZE;
	setrlimit(RLIMIT_MSGQUEUE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_max < 65536) {
			rl.rlim_cur = 65536;
			rl.rlim_max = 65536;
		}
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (!read_file("/proc/sys/fs/mqueue/msg_max", buf, sizeof(buf))) {
		snprintf(buf, sizeof(buf), "%d", MQ_HARD_MAX);
		if (!read_file("/proc/sys/fs/mqueue/msg_max", mq_saved,
			       sizeof(mq_saved)) &&
		    write_file("/proc/sys/fs/mqueue/msg_max", buf))
			mq_saved[0] = 0;
		if (!read_file("/proc/sys/fs/mqueue/msg_max", buf, sizeof(buf)))
			mq_max = atoi(buf);
	}
	atexit(cleanup);
	fflush(stdout);
	ret = cg_setup();
	have_cg = !ret;
	if (ret)
		fprintf(stderr, "mpsc_bench: no memory cgroup (%s): memory is not measured\n",
			strerror(-ret));
}

static void help(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: mpsc_bench [--smoke] [--runs N] [--ms MS] [--csv FILE]\n");
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "csv", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *csv_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "sr:m:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			smoke = true;
			break;
		case 'r':
			nruns = atoi(optarg);
			if (nruns < 1 || nruns > MAX_RUNS)
				help(2);
			break;
		case 'm':
			run_ms = atof(optarg);
			break;
		case 'c':
			csv_path = optarg;
			break;
		case 'h':
			help(0);
			break;
		default:
			help(2);
		}
	}
	if (optind != argc)
		help(2);
	if (access("/dev/mpsc", F_OK)) {
		fprintf(stderr, "/dev/mpsc is absent: load mpsc.ko\n");
		return 1;
	}
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (!csv) {
			perror(csv_path);
			return 1;
		}
		fprintf(csv, "kind,mode,workload,peer,metric,median,min,max,note\n");
	}
	setup();
	if (smoke)
		return smoke_test();
	bench();
	if (csv && fclose(csv)) {
		perror(csv_path);
		return 1;
	}
	return 0;
}
