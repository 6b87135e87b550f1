// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: producers as threads and as processes, random message sizes,
 * blocking, timed and non-blocking sends, clones handed over mid-stream,
 * early disconnects, signals at sleeping readers and writers, capacity
 * changes (bounded, unbounded, rendezvous) and receiver closes, all at
 * once.  Each round checks that every message a sender saw succeed is
 * received exactly once, in that sender's order, that nothing else is,
 * and that every blocked call ends (a watchdog fails a round that hangs).
 *
 *   mpsc_stress [-d SECONDS] [-t THREADS] [-p PROCESSES] [-s SEED]
 *
 * The duration defaults to $MPSC_STRESS_SECONDS, or 8 seconds.
 */

#include <getopt.h>
#include <poll.h>
#include <sys/mman.h>

#include "mpsc_test.h"
#include "kselftest.h"

#define MAX_PROD	16
#define MAX_PAYLOAD	(60 * 1024)
#define ROUND_LIMIT	120	/* seconds before a round counts as hung */

struct hdr {
	__u32 producer;
	__u32 seq;
	__u32 len;
	__u32 sum;
};

/* Shared with producer processes. */
struct shared {
	unsigned int acked[MAX_PROD];	/* sends that reported success */
	int ended[MAX_PROD];
	unsigned long long eintr, etimedout, eagain, epipe, handovers;
};

/* Totals over all rounds, for the summary. */
static unsigned long long t_msgs, t_eintr, t_etimedout, t_eagain, t_epipe,
	t_handovers, t_caps, t_closes, t_rx_eintr;

static void count(unsigned long long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

struct producer {
	pthread_t thread;
	pid_t pid;
	int fd;
	unsigned int id;
	unsigned int count;
	unsigned long long seed;
	struct shared *sh;
};

static unsigned int threads = 3, procs = 2;
static int hung;	/* set by the watchdog, which then exits */

static unsigned long long next_rand(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static __u32 payload_sum(const unsigned char *p, __u32 len)
{
	__u32 sum = 2166136261u, i;

	for (i = 0; i < len; i++)
		sum = (sum ^ p[i]) * 16777619u;
	return sum;
}

static void on_usr1(int sig)
{
}

/* The watchdog: a blocked call did not end.  Nothing can be joined now. */
static void on_alarm(int sig)
{
	static const char msg[] =
		"not ok - a blocked call did not end within the round's limit\n";

	store(&hung, 1);
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(KSFT_FAIL);
	_exit(KSFT_FAIL);
}

/* One message, retried until it is sent or the channel refuses for good. */
static int send_one(struct producer *p, void *msg, size_t len,
		    unsigned long long *rs)
{
	for (;;) {
		ssize_t ret;

		switch (next_rand(rs) % 4) {
		case 0:
			ret = send_msg(p->fd, msg, len);
			break;
		case 1:
			ret = xfer(p->fd, MPSC_IOC_SEND, msg, len, 0);
			break;
		case 2:
			ret = xfer(p->fd, MPSC_IOC_SEND, msg, len,
				   (next_rand(rs) % 2000) * 1000);
			break;
		default:
			ret = xfer(p->fd, MPSC_IOC_SEND, msg, len,
				   MPSC_TIMEOUT_FOREVER);
		}
		if (ret == (ssize_t)len)
			return 0;
		if (ret == -EPIPE) {
			count(&p->sh->epipe);
			return -EPIPE;
		}
		if (ret == -EINTR)
			count(&p->sh->eintr);
		else if (ret == -ETIMEDOUT)
			count(&p->sh->etimedout);
		else if (ret == -EAGAIN)
			count(&p->sh->eagain);
		else
			return (int)ret;
		if (ret == -EAGAIN)
			usleep(next_rand(rs) % 200);
	}
}

static __thread unsigned char produce_buf[sizeof(struct hdr) + MAX_PAYLOAD];

static void *produce(void *arg)
{
	struct producer *p = arg;
	unsigned long long rs = p->seed;
	unsigned char *buf = produce_buf;
	struct hdr *h = (struct hdr *)buf;
	unsigned int seq;

	for (seq = 0; seq < p->count; seq++) {
		unsigned int r = next_rand(&rs) % 100;
		__u32 len = r < 80 ? next_rand(&rs) % 256 :
			    r < 97 ? next_rand(&rs) % 4096 :
				     next_rand(&rs) % MAX_PAYLOAD;
		__u32 i;

		for (i = 0; i < len; i++)
			buf[sizeof(*h) + i] = (unsigned char)next_rand(&rs);
		h->producer = p->id;
		h->seq = seq;
		h->len = len;
		h->sum = payload_sum(buf + sizeof(*h), len);
		if (send_one(p, buf, sizeof(*h) + len, &rs))
			break;
		__atomic_store_n(&p->sh->acked[p->id], seq + 1, __ATOMIC_RELEASE);
		/* Now and then hand the role over to a fresh clone. */
		if (next_rand(&rs) % 50 == 0) {
			int nfd = mpsc_clone(p->fd, 0);

			if (nfd >= 0) {
				close(p->fd);
				p->fd = nfd;
				count(&p->sh->handovers);
			}
		}
		/* Now and then stop early: Rust's drop(tx). */
		if (next_rand(&rs) % 400 == 0) {
			mpsc_disc(p->fd);
			break;
		}
	}
	close(p->fd);
	__atomic_store_n(&p->sh->ended[p->id], 1, __ATOMIC_RELEASE);
	return NULL;
}

struct chaos {
	pthread_t thread;
	pthread_t reader;
	int rx;
	int stop;
	struct producer *prod;
	unsigned int nprod;
	unsigned long long seed;
	bool may_close;
};

static void *chaos_fn(void *arg)
{
	static const __u64 caps[] = { MPSC_CAPACITY_UNBOUNDED, 0, 1, 2, 8, 64 };
	struct chaos *c = arg;
	unsigned long long rs = c->seed;

	while (!load(&c->stop)) {
		unsigned int r = next_rand(&rs) % 100;
		struct producer *p = &c->prod[next_rand(&rs) % c->nprod];

		if (r < 10) {
			pthread_kill(c->reader, SIGUSR1);
		} else if (r < 40) {
			if (p->pid)
				kill(p->pid, SIGUSR1);
			else if (!__atomic_load_n(&p->sh->ended[p->id],
						  __ATOMIC_ACQUIRE))
				pthread_kill(p->thread, SIGUSR1);
		} else if (r < 44) {
			mpsc_set_cap(c->rx, caps[next_rand(&rs) % 6]);
			t_caps++;
		} else if (r == 44 && c->may_close) {
			mpsc_close_rx(c->rx);
			t_closes++;
		}
		usleep(next_rand(&rs) % 3000);
	}
	return NULL;
}

/* Receive one message by a random route; 0 at end of file. */
static ssize_t recv_one(int rx, unsigned char *buf, size_t cap,
			unsigned long long *rs)
{
	for (;;) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };
		ssize_t ret;

		switch (next_rand(rs) % 5) {
		case 0:
			ret = recv_msg(rx, buf, cap);
			break;
		case 1:
			/* Too small first: EMSGSIZE, then the message. */
			ret = recv_msg(rx, buf, sizeof(struct hdr) - 1);
			if (ret == -EMSGSIZE)
				ret = recv_msg(rx, buf, cap);
			break;
		case 2:
			ret = xfer(rx, MPSC_IOC_RECV, buf, cap,
				   (next_rand(rs) % 3000) * 1000);
			break;
		case 3:
			poll(&pfd, 1, 5);
			ret = xfer(rx, MPSC_IOC_RECV, buf, cap, 0);
			break;
		default:
			ret = xfer(rx, MPSC_IOC_RECV, buf, cap,
				   MPSC_TIMEOUT_FOREVER);
		}
		if (ret >= 0 || load(&hung))
			return ret;
		if (ret == -EINTR)
			t_rx_eintr++;
		if (ret != -EINTR && ret != -EAGAIN && ret != -ETIMEDOUT &&
		    ret != -EMSGSIZE)
			return ret;
	}
}

static bool round_ok(unsigned int round, unsigned long long seed, char *what,
		     size_t what_len)
{
	static unsigned char buf[sizeof(struct hdr) + MAX_PAYLOAD];
	struct producer prod[MAX_PROD];
	unsigned int got[MAX_PROD] = { 0 };
	unsigned int nprod = threads + procs, i, total = 0;
	unsigned long long rs = seed;
	struct chaos chaos = { 0 };
	struct shared *sh;
	bool ok = true;
	ssize_t n;
	int rx;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	rx = open(MPSC_DEV, O_RDWR | O_CLOEXEC);
	if (sh == MAP_FAILED || rx < 0) {
		snprintf(what, what_len, "setup: %s", strerror(errno));
		return false;
	}
	memset(sh, 0, sizeof(*sh));
	mpsc_set_cap(rx, next_rand(&rs) % 3 ? MPSC_CAPACITY_UNBOUNDED :
			 next_rand(&rs) % 2 ? 0 : 1 + next_rand(&rs) % 8);
	for (i = 0; i < nprod; i++) {
		prod[i] = (struct producer){
			.id = i, .sh = sh, .seed = next_rand(&rs) | 1,
			.count = 50 + next_rand(&rs) % 250,
			.fd = mpsc_clone(rx, O_CLOEXEC),
		};
		if (prod[i].fd < 0) {
			snprintf(what, what_len, "clone: %d", prod[i].fd);
			return false;
		}
	}
	mpsc_disc(rx);
	for (i = 0; i < nprod; i++) {
		if (i < threads) {
			pthread_create(&prod[i].thread, NULL, produce, &prod[i]);
			continue;
		}
		prod[i].pid = fork();
		if (prod[i].pid == 0) {
			unsigned int j;

			close(rx);
			for (j = 0; j < nprod; j++)
				if (j != i && j >= threads)
					close(prod[j].fd);
			produce(&prod[i]);
			_exit(0);
		}
		close(prod[i].fd);
	}
	chaos = (struct chaos){ .rx = rx, .prod = prod, .nprod = nprod,
				.reader = pthread_self(),
				.seed = next_rand(&rs) | 1,
				.may_close = next_rand(&rs) % 4 == 0 };
	pthread_create(&chaos.thread, NULL, chaos_fn, &chaos);

	alarm(ROUND_LIMIT);
	while ((n = recv_one(rx, buf, sizeof(buf), &rs)) > 0) {
		struct hdr *h = (struct hdr *)buf;

		if (n < (ssize_t)sizeof(*h) || h->producer >= nprod ||
		    n != (ssize_t)(sizeof(*h) + h->len)) {
			snprintf(what, what_len, "malformed message of %zd", n);
			ok = false;
			break;
		}
		if (h->seq != got[h->producer]) {
			snprintf(what, what_len,
				 "producer %u: message %u where %u was due",
				 h->producer, h->seq, got[h->producer]);
			ok = false;
			break;
		}
		if (h->sum != payload_sum(buf + sizeof(*h), h->len)) {
			snprintf(what, what_len, "producer %u, message %u corrupt",
				 h->producer, h->seq);
			ok = false;
			break;
		}
		got[h->producer]++;
		total++;
	}
	if (ok && n < 0) {
		snprintf(what, what_len, "receive: %s%s", strerror((int)-n),
			 load(&hung) ? " (hung)" : "");
		ok = false;
	}
	store(&chaos.stop, 1);
	pthread_join(chaos.thread, NULL);
	for (i = 0; i < nprod; i++) {
		if (prod[i].pid) {
			int status;

			waitpid(prod[i].pid, &status, 0);
		} else {
			pthread_join(prod[i].thread, NULL);
		}
	}
	alarm(0);
	if (load(&hung) && ok) {
		snprintf(what, what_len, "a call did not end in %d s",
			 ROUND_LIMIT);
		ok = false;
	}
	for (i = 0; ok && i < nprod; i++) {
		if (got[i] != sh->acked[i]) {
			snprintf(what, what_len,
				 "producer %u: %u sends succeeded, %u received",
				 i, sh->acked[i], got[i]);
			ok = false;
		}
	}
	t_msgs += total;
	t_eintr += sh->eintr;
	t_etimedout += sh->etimedout;
	t_eagain += sh->eagain;
	t_epipe += sh->epipe;
	t_handovers += sh->handovers;
	close(rx);
	munmap(sh, sizeof(*sh));
	return ok;
}

int main(int argc, char **argv)
{
	const char *env = getenv("MPSC_STRESS_SECONDS");
	unsigned int seconds = env ? atoi(env) : 8, round = 0, failed = 0;
	unsigned long long seed = 42;
	struct sigaction sa = { 0 };
	uint64_t end;
	char what[160];
	int c;

	while ((c = getopt(argc, argv, "d:t:p:s:")) != -1) {
		switch (c) {
		case 'd':
			seconds = atoi(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-d s] [-t n] [-p n] [-s seed]\n",
				argv[0]);
			return 2;
		}
	}
	if (!threads || threads + procs > MAX_PROD)
		return 2;
	ksft_print_header();
	if (access(MPSC_DEV, F_OK))
		ksft_exit_skip(MPSC_DEV " is absent: mpsc.ko is not loaded\n");
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	ksft_print_msg("stress: %u s, %u threads and %u processes a round\n",
		       seconds, threads, procs);
	ksft_print_msg("seed %llu\n", seed);

	end = now_ns() + seconds * 1000000000ULL;
	ksft_set_plan(1);
	do {
		if (!round_ok(round, seed + round, what, sizeof(what))) {
			ksft_print_msg("round %u failed: %s\n", round, what);
			ksft_print_msg("replay: mpsc_stress -s %llu -d 0\n",
				       seed + round);
			failed++;
		}
		round++;
	} while (now_ns() < end && !load(&hung));
	ksft_print_msg("%llu messages; senders saw %llu EINTR, %llu ETIMEDOUT,\n",
		       t_msgs, t_eintr, t_etimedout);
	ksft_print_msg("%llu EAGAIN, %llu EPIPE; %llu handovers, %llu capacity\n",
		       t_eagain, t_epipe, t_handovers, t_caps);
	ksft_print_msg("changes, %llu closes; the receiver saw %llu EINTR\n",
		       t_closes, t_rx_eintr);
	ksft_test_result(!failed, "stress: %u rounds, %u failed\n", round,
			 failed);
	ksft_finished();
}
