// SPDX-License-Identifier: GPL-2.0
/*
 * Rendezvous channels (capacity 0, Rust's sync_channel(0), Go's
 * unbuffered channel): a send returns only once a receiver has taken the
 * message, and a send that gives up withdraws it: delivered or withdrawn,
 * never both and never neither.
 */

#include <poll.h>

#include "mpsc_test.h"

FIXTURE(rv) {
	int rx;
	int tx;
};

FIXTURE_SETUP(rv)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	ASSERT_EQ(0, mpsc_set_cap(self->rx, 0));
}

FIXTURE_TEARDOWN(rv)
{
	close(self->tx);
	close(self->rx);
}

TEST_F(rv, capacity_zero_reported)
{
	EXPECT_EQ(0, info_of(self->rx).capacity);
}

/* The send sleeps, with its message offered, until a receiver takes it. */
TEST_F(rv, send_returns_after_take)
{
	struct op w = { .kind = OP_WRITE, .buf = "hand", .len = 4 };
	char buf[8];

	w.fd = self->tx;
	ASSERT_TRUE(op_start(&w));
	EXPECT_EQ(1, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).sent);
	ASSERT_EQ(4, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hand", 4));
	EXPECT_EQ(4, op_join(&w));
	EXPECT_EQ(1, info_of(self->rx).sent);
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
}

/* Without a receiver waiting, a non-blocking send is EAGAIN. */
TEST_F(rv, nonblock_without_receiver_eagain)
{
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, send_str(self->tx, "x"));
	EXPECT_EQ(-EAGAIN, xfer(self->tx, MPSC_IOC_SEND, "x", 1, 0));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
}

/* With a receiver already waiting, it succeeds and hands the message over. */
TEST_F(rv, nonblock_hands_to_waiting_receiver)
{
	char buf[8];
	struct op r = { .kind = OP_READ, .buf = buf, .len = sizeof(buf) };

	r.fd = self->rx;
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	ASSERT_TRUE(op_start(&r));
	EXPECT_EQ(3, send_str(self->tx, "now"));
	/* One waiting receiver takes one message, not two. */
	EXPECT_EQ(-EAGAIN, send_str(self->tx, "two"));
	EXPECT_EQ(3, op_join(&r));
	EXPECT_EQ(0, memcmp(buf, "now", 3));
}

/* A signal before the hand-off withdraws the message: never delivered. */
TEST_F(rv, signal_withdraws)
{
	struct op w = { .kind = OP_WRITE, .buf = "gone", .len = 4 };
	char c;

	w.fd = self->tx;
	catch_signal(SIGUSR1, false);
	ASSERT_TRUE(op_start(&w));
	ASSERT_EQ(0, pthread_kill(w.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, op_join(&w));
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(0, info_of(self->rx).sent);
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 0));
}

/* So does a timeout. */
TEST_F(rv, timeout_withdraws)
{
	uint64_t start = now_ns();
	char c;

	EXPECT_EQ(-ETIMEDOUT, xfer(self->tx, MPSC_IOC_SEND, "late", 4,
				   50000000));
	EXPECT_LE(50000000, now_ns() - start);
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
	EXPECT_EQ(-EAGAIN, xfer(self->rx, MPSC_IOC_RECV, &c, 1, 0));
}

/* A send whose message was taken succeeds, whatever signal comes after. */
TEST_F(rv, taken_then_signal_succeeds)
{
	char buf[8];
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		catch_signal(SIGUSR1, false);
		_exit(send_str(self->tx, "kept") == 4 ? 0 : 1);
	}
	ASSERT_TRUE(wait_asleep_in_mpsc(pid, pid));
	ASSERT_EQ(4, recv_msg(self->rx, buf, sizeof(buf)));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The receiver going away wakes the sender with EPIPE. */
TEST_F(rv, receiver_gone_epipe)
{
	struct op w = { .kind = OP_WRITE, .buf = "x", .len = 1 };

	w.fd = self->tx;
	ASSERT_TRUE(op_start(&w));
	close(self->rx);
	self->rx = -1;
	EXPECT_EQ(-EPIPE, op_join(&w));
}

/* A sender is writable only while a receiver waits. */
TEST_F(rv, pollout_only_with_waiting_receiver)
{
	struct pollfd p = { .fd = self->tx, .events = POLLOUT };
	char buf[8];
	struct op r = { .kind = OP_READ, .buf = buf, .len = sizeof(buf) };

	r.fd = self->rx;
	EXPECT_EQ(0, poll(&p, 1, 0));
	ASSERT_TRUE(op_start(&r));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
	EXPECT_EQ(1, send_str(self->tx, "x"));
	EXPECT_EQ(1, op_join(&r));
}

/* A poller waiting to send is woken when a receiver starts waiting. */
TEST_F(rv, poll_wakes_when_receiver_arrives)
{
	struct pollfd p = { .fd = self->tx, .events = POLLOUT };
	char buf[8];
	struct op r = { .kind = OP_READ, .buf = buf, .len = sizeof(buf) };
	uint64_t start = now_ns();

	r.fd = self->rx;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, op_thread, &r));
	EXPECT_EQ(1, poll(&p, 1, 5000));
	EXPECT_GT(5000000000ULL, now_ns() - start);
	EXPECT_EQ(1, send_str(self->tx, "x"));
	EXPECT_EQ(1, op_join(&r));
}

/*
 * Races between withdrawal and hand-off: a sender that gives up (a short
 * deadline, or a signal) against a receiver that keeps taking.  Each
 * message is received exactly when its send reported success.  A race
 * proves nothing unless both outcomes happen, so each test makes at least
 * RACE_MIN sends and goes on until it has seen RACE_EACH withdrawn and
 * RACE_EACH delivered (up to RACE_MAX sends, or RACE_SECONDS), and
 * asserts both were seen.
 * The receiver pauses now and then, so that some sends must wait long
 * enough to give up whatever the timing of the machine.
 */
#define RACE_MIN 300
#define RACE_MAX 4096
#define RACE_EACH 20
#define RACE_SECONDS 20

struct race {
	int rx;
	int tx;
	int stop;
	unsigned char sent[RACE_MAX];
	unsigned char got[RACE_MAX];
	int dup;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	unsigned int id, k = 0;

	while (!load(&r->stop)) {
		ssize_t n = xfer(r->rx, MPSC_IOC_RECV, &id, sizeof(id),
				 (k % 3) * 400000);

		if (n == sizeof(id) && id < RACE_MAX) {
			if (r->got[id])
				r->dup++;
			r->got[id] = 1;
		}
		if (++k % 8 == 0)
			sleep_ms(2);
	}
	return NULL;
}

/* Enough of both outcomes, or out of messages or time? */
static bool race_done(unsigned int id, unsigned int withdrawn,
		      unsigned int delivered, uint64_t start)
{
	if (id >= RACE_MIN && withdrawn >= RACE_EACH &&
	    delivered >= RACE_EACH)
		return true;
	return id >= RACE_MAX ||
	       now_ns() - start > RACE_SECONDS * 1000000000ULL;
}

/* Every message received exactly when its send succeeded, once. */
static unsigned int race_first_mismatch(const struct race *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (r->sent[i] != r->got[i])
			break;
	return i;
}

TEST_F(rv, timeout_race_never_both_never_neither)
{
	unsigned int id, withdrawn = 0, delivered = 0, i;
	uint64_t start = now_ns();
	static struct race r;
	ssize_t unexpected = 0;
	pthread_t t;

	memset(&r, 0, sizeof(r));
	r.rx = self->rx;
	r.tx = self->tx;
	ASSERT_EQ(0, pthread_create(&t, NULL, race_reader, &r));
	for (id = 0; !race_done(id, withdrawn, delivered, start); id++) {
		ssize_t n = xfer(r.tx, MPSC_IOC_SEND, &id, sizeof(id),
				 (id % 4) * 300000);

		r.sent[id] = n == sizeof(id);
		if (n == sizeof(id))
			delivered++;
		else if (n == -ETIMEDOUT)
			withdrawn++;
		else if (n != -EAGAIN)
			unexpected = n;
		if (unexpected)
			break;
	}
	store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%u sends: %u timed out and withdrawn, %u delivered",
	       id, withdrawn, delivered);
	ASSERT_EQ(0, unexpected) TH_LOG("send %u: %zd", id, unexpected);
	EXPECT_LE(1, withdrawn);
	EXPECT_LE(1, delivered);
	EXPECT_EQ(0, r.dup);
	i = race_first_mismatch(&r, id);
	EXPECT_EQ(id, i) TH_LOG("message %u: sent %d, received %d",
				i, r.sent[i], r.got[i]);
	EXPECT_EQ(0, info_of(self->rx).queued_msgs);
}

/* The same with signals interrupting blocking sends. */
struct pinger {
	pthread_t target;
	int stop;
};

static void *pinger_fn(void *arg)
{
	struct pinger *p = arg;

	while (!load(&p->stop)) {
		pthread_kill(p->target, SIGUSR1);
		usleep(300);
	}
	return NULL;
}

TEST_F(rv, signal_race_never_both_never_neither)
{
	unsigned int id, withdrawn = 0, delivered = 0, i;
	struct pinger p = { .target = pthread_self() };
	uint64_t start = now_ns();
	static struct race r;
	ssize_t unexpected = 0;
	pthread_t t, pt;

	catch_signal(SIGUSR1, false);
	memset(&r, 0, sizeof(r));
	r.rx = self->rx;
	r.tx = self->tx;
	ASSERT_EQ(0, pthread_create(&t, NULL, race_reader, &r));
	ASSERT_EQ(0, pthread_create(&pt, NULL, pinger_fn, &p));
	for (id = 0; !race_done(id, withdrawn, delivered, start); id++) {
		ssize_t n = send_msg(r.tx, &id, sizeof(id));

		r.sent[id] = n == sizeof(id);
		if (n == sizeof(id))
			delivered++;
		else if (n == -EINTR)
			withdrawn++;
		else
			unexpected = n;
		if (unexpected)
			break;
	}
	store(&p.stop, 1);
	pthread_join(pt, NULL);
	store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%u sends: %u interrupted and withdrawn, %u delivered",
	       id, withdrawn, delivered);
	ASSERT_EQ(0, unexpected) TH_LOG("send %u: %zd", id, unexpected);
	EXPECT_LE(1, withdrawn);
	EXPECT_LE(1, delivered);
	EXPECT_EQ(0, r.dup);
	i = race_first_mismatch(&r, id);
	EXPECT_EQ(id, i) TH_LOG("message %u: sent %d, received %d",
				i, r.sent[i], r.got[i]);
}

/* Many senders and a slow receiver: all delivered, each sender in order. */
#define RV_WRITERS 6
#define RV_PER_WRITER 60

struct rv_writer {
	pthread_t thread;
	int fd;
	unsigned int id;
};

static void *rv_writer_fn(void *arg)
{
	struct rv_writer *w = arg;
	unsigned int i, msg[2];

	for (i = 0; i < RV_PER_WRITER; i++) {
		msg[0] = w->id;
		msg[1] = i;
		if (send_msg(w->fd, msg, sizeof(msg)) != sizeof(msg))
			break;
	}
	close(w->fd);
	return NULL;
}

TEST_F(rv, many_senders_slow_receiver)
{
	unsigned int next[RV_WRITERS] = { 0 }, msg[2], most = 0;
	struct rv_writer w[RV_WRITERS];
	int i, total = 0;
	ssize_t ret;

	for (i = 0; i < RV_WRITERS; i++) {
		w[i].id = i;
		w[i].fd = mpsc_clone(self->tx, 0);
		if (w[i].fd < 0 ||
		    pthread_create(&w[i].thread, NULL, rv_writer_fn, &w[i]))
			break;
	}
	ASSERT_EQ(RV_WRITERS, i);
	close(self->tx);
	self->tx = -1;
	while ((ret = recv_msg(self->rx, msg, sizeof(msg))) == sizeof(msg)) {
		unsigned long long q = info_of(self->rx).queued_msgs;

		if (q > most)
			most = q;
		if (msg[0] >= RV_WRITERS || next[msg[0]] != msg[1])
			break;
		next[msg[0]]++;
		if (++total % 20 == 0)
			sleep_ms(2);
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(RV_WRITERS * RV_PER_WRITER, total);
	/* At most one offered message per sleeping sender. */
	EXPECT_GE(RV_WRITERS, most);
	for (i = 0; i < RV_WRITERS; i++)
		pthread_join(w[i].thread, NULL);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
