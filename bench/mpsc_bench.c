// SPDX-License-Identifier: GPL-2.0
/*
 * mpsc against its peers, in one run on one machine: a pipe, an AF_UNIX
 * SOCK_SEQPACKET socketpair and a POSIX message queue.  Absolute numbers
 * mean little in an emulated guest; the ratios to the pipe are the result.
 *
 *   stream   one producer thread, one consumer thread, N messages of S
 *            bytes each, one message per syscall: messages per second
 *   pingpong two threads, a request and a reply each round: round trips
 *            per second
 *   refused  one thread, a full transport and a non-blocking writer:
 *            nanoseconds per send refused with EAGAIN, at 1 B and at
 *            64 KiB, and their ratio.  A refusal that checks for room
 *            first costs the same at any size (ratio about 1); one that
 *            allocates and copies the message first grows with it.
 *
 *   mpsc_bench [-n MESSAGES] [-r ROUNDS]
 *
 * The refused workload makes MESSAGES / 20 sends of each size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/mpsc.h>

enum peer { MPSC, PIPE, SEQPACKET, MQUEUE, NPEERS };
static const char *const peer_name[NPEERS] = {
	"mpsc", "pipe", "unix seqpacket", "posix mqueue",
};

/* One direction of transport: where the writer writes, the reader reads. */
struct link {
	enum peer kind;
	int wfd, rfd;		/* fds, or mqd_t for MQUEUE */
	char mq_name[32];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int link_open(struct link *l, enum peer kind, size_t size)
{
	static int seq;
	int fds[2];

	memset(l, 0, sizeof(*l));
	l->kind = kind;
	switch (kind) {
	case MPSC: {
		struct mpsc_clone_args args = { .flags = O_CLOEXEC };

		l->rfd = open("/dev/mpsc", O_RDWR | O_CLOEXEC);
		if (l->rfd < 0)
			return -1;
		l->wfd = ioctl(l->rfd, MPSC_IOC_CLONE_SENDER, &args);
		ioctl(l->rfd, MPSC_IOC_DISCONNECT, 0);
		return l->wfd < 0 ? -1 : 0;
	}
	case PIPE:
		if (pipe2(fds, O_CLOEXEC))
			return -1;
		l->rfd = fds[0];
		l->wfd = fds[1];
		return 0;
	case SEQPACKET:
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds))
			return -1;
		l->rfd = fds[0];
		l->wfd = fds[1];
		return 0;
	default: {
		/* The default per-queue limit, as most systems run it. */
		struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = size };
		mqd_t q;

		snprintf(l->mq_name, sizeof(l->mq_name), "/mpsc-bench-%d-%d",
			 getpid(), seq++);
		q = mq_open(l->mq_name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
		if (q == (mqd_t)-1)
			return -1;
		mq_unlink(l->mq_name);
		l->rfd = q;
		l->wfd = q;
		return 0;
	}
	}
}

static void link_close_writer(struct link *l)
{
	if (l->kind != MQUEUE)
		close(l->wfd);
}

static void link_close(struct link *l)
{
	if (l->kind == MQUEUE)
		mq_close(l->rfd);
	else
		close(l->rfd);
}

static int link_send(struct link *l, const void *buf, size_t len)
{
	if (l->kind == MQUEUE)
		return mq_send(l->wfd, buf, len, 0);
	return write(l->wfd, buf, len) == (ssize_t)len ? 0 : -1;
}

static ssize_t link_recv(struct link *l, void *buf, size_t len)
{
	if (l->kind == MQUEUE)
		return mq_receive(l->rfd, buf, len, NULL);
	if (l->kind == PIPE) {
		/* A pipe is a byte stream: read a whole record. */
		size_t got = 0;

		while (got < len) {
			ssize_t n = read(l->rfd, (char *)buf + got, len - got);

			if (n <= 0)
				return got ? (ssize_t)got : n;
			got += n;
		}
		return got;
	}
	return read(l->rfd, buf, len);
}

struct stream {
	struct link l;
	size_t size;
	long n;
};

static void *producer(void *arg)
{
	struct stream *s = arg;
	char *buf = calloc(1, s->size);
	long i;

	for (i = 0; i < s->n; i++)
		if (link_send(&s->l, buf, s->size))
			break;
	link_close_writer(&s->l);
	free(buf);
	return NULL;
}

static double stream(enum peer peer, size_t size, long n)
{
	struct stream s = { .size = size, .n = n };
	char *buf = malloc(size);
	pthread_t t;
	double t0;
	long i;

	if (link_open(&s.l, peer, size))
		return -1;
	t0 = now();
	pthread_create(&t, NULL, producer, &s);
	for (i = 0; i < n; i++)
		if (link_recv(&s.l, buf, size) != (ssize_t)size)
			break;
	pthread_join(t, NULL);
	t0 = now() - t0;
	link_close(&s.l);
	free(buf);
	return i == n ? n / t0 : -1;
}

struct pong {
	struct link req, rep;
	long rounds;
};

static void *ponger(void *arg)
{
	struct pong *p = arg;
	char buf[64];
	long i;

	for (i = 0; i < p->rounds; i++) {
		if (link_recv(&p->req, buf, sizeof(buf)) != sizeof(buf) ||
		    link_send(&p->rep, buf, sizeof(buf)))
			break;
	}
	return NULL;
}

static double pingpong(enum peer peer, long rounds)
{
	struct pong p = { .rounds = rounds };
	char buf[64] = "ping";
	pthread_t t;
	double t0;
	long i;

	if (link_open(&p.req, peer, sizeof(buf)) ||
	    link_open(&p.rep, peer, sizeof(buf)))
		return -1;
	pthread_create(&t, NULL, ponger, &p);
	t0 = now();
	for (i = 0; i < rounds; i++) {
		if (link_send(&p.req, buf, sizeof(buf)) ||
		    link_recv(&p.rep, buf, sizeof(buf)) != sizeof(buf))
			break;
	}
	t0 = now() - t0;
	pthread_join(t, NULL);
	link_close_writer(&p.req);
	link_close_writer(&p.rep);
	link_close(&p.req);
	link_close(&p.rep);
	return i == rounds ? rounds / t0 : -1;
}

/*
 * Make @l's writer non-blocking and fill @l until a 1-byte send is
 * refused.  An mpsc channel is first bounded to one message
 * (MPSC_IOC_SET_CAPACITY), so one message fills it; a POSIX mqueue takes
 * its limit of messages; a pipe or a socketpair takes what it buffers.
 */
static int link_fill(struct link *l)
{
	long i;

	if (l->kind == MQUEUE) {
		struct mq_attr attr = { .mq_flags = O_NONBLOCK };

		if (mq_setattr(l->wfd, &attr, NULL))
			return -1;
	} else if (fcntl(l->wfd, F_SETFL,
			 fcntl(l->wfd, F_GETFL) | O_NONBLOCK)) {
		return -1;
	}
	if (l->kind == MPSC) {
		struct mpsc_capacity_args args = { .capacity = 1 };

		if (ioctl(l->rfd, MPSC_IOC_SET_CAPACITY, &args))
			return -1;
	}
	for (i = 0; i < (1L << 22); i++)
		if (link_send(l, "f", 1))
			return errno == EAGAIN ? 0 : -1;
	return -1;
}

/* Nanoseconds per send of @size bytes refused by a full @peer. */
static double refused(enum peer peer, size_t size, long n)
{
	char *buf = calloc(1, size);
	double t0, ns = -1;
	struct link l;
	long i;

	if (!buf)
		return -1;
	if (link_open(&l, peer, size))
		goto out_free;
	if (link_fill(&l))
		goto out_close;
	t0 = now();
	for (i = 0; i < n; i++)
		if (!link_send(&l, buf, size) || errno != EAGAIN)
			break;
	t0 = now() - t0;
	if (i == n)
		ns = t0 * 1e9 / n;
out_close:
	link_close_writer(&l);
	link_close(&l);
out_free:
	free(buf);
	return ns;
}

static void row(const char *what, double v[NPEERS])
{
	int i;

	printf("%-22s", what);
	for (i = 0; i < NPEERS; i++)
		printf(" %11.0f", v[i]);
	printf("   mpsc/pipe %.2f  mpsc/seqpacket %.2f  mpsc/mqueue %.2f\n",
	       v[MPSC] / v[PIPE], v[MPSC] / v[SEQPACKET], v[MPSC] / v[MQUEUE]);
}

/* A row of costs (lower is better), @prec decimals; "-" for a failure. */
static void ns_row(const char *what, double v[NPEERS], int prec)
{
	int i;

	printf("%-22s", what);
	for (i = 0; i < NPEERS; i++) {
		if (v[i] < 0)
			printf(" %11s", "-");
		else
			printf(" %11.*f", prec, v[i]);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	long n = 200000, rounds = 50000;
	double v[NPEERS], small[NPEERS], big[NPEERS];
	int i, c;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		if (c == 'n')
			n = atol(optarg);
		else if (c == 'r')
			rounds = atol(optarg);
		else
			return 2;
	}
	if (access("/dev/mpsc", F_OK)) {
		fprintf(stderr, "/dev/mpsc is absent: load mpsc.ko\n");
		return 1;
	}
	printf("%-22s", "per second");
	for (i = 0; i < NPEERS; i++)
		printf(" %11s", peer_name[i]);
	printf("\n");
	for (i = 0; i < NPEERS; i++)
		v[i] = stream(i, 64, n);
	row("stream, 64 B", v);
	for (i = 0; i < NPEERS; i++)
		v[i] = stream(i, 1024, n / 2);
	row("stream, 1 KiB", v);
	for (i = 0; i < NPEERS; i++)
		v[i] = pingpong(i, rounds);
	row("ping-pong, 64 B", v);

	printf("\n%-22s", "ns per refused send");
	for (i = 0; i < NPEERS; i++)
		printf(" %11s", peer_name[i]);
	printf("\n");
	for (i = 0; i < NPEERS; i++) {
		small[i] = refused(i, 1, n / 20);
		big[i] = refused(i, 65536, n / 20);
	}
	ns_row("refused send, 1 B", small, 0);
	ns_row("refused send, 64 KiB", big, 0);
	for (i = 0; i < NPEERS; i++)
		v[i] = small[i] > 0 && big[i] > 0 ? big[i] / small[i] : -1;
	ns_row("64 KiB / 1 B", v, 2);
	printf("mpsc refused send: %.0f ns at 1 B, %.0f ns at 64 KiB, x%.2f\n",
	       small[MPSC], big[MPSC], v[MPSC]);
	return 0;
}
