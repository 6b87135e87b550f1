// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking: readers that sleep and what wakes them (a message, a signal,
 * the last sender going away), O_NONBLOCK, end-of-file, and writers that
 * sleep on a full channel.  With threads and with processes.
 */

#include "mpsc_test.h"

/* A reader thread, asleep in mpsc once this returns true. */
static bool start_reader(struct op *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->kind = OP_READ;
	r->fd = fd;
	r->len = sizeof(r->data);
	return op_start(r);
}

FIXTURE(blk) {
	int rx;
	int tx;		/* a cloned sender; rx's own role is dropped */
};

FIXTURE_SETUP(blk)
{
	self->rx = mpsc_open_chan(0);
	self->tx = mpsc_clone(self->rx, O_CLOEXEC);
	ASSERT_LE(0, self->tx);
	ASSERT_EQ(0, mpsc_disc(self->rx));
}

FIXTURE_TEARDOWN(blk)
{
	close(self->tx);
	close(self->rx);
}

/* O_NONBLOCK on an empty, connected channel is EAGAIN (Empty). */
TEST_F(blk, nonblock_empty_eagain)
{
	char c;

	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, recv_msg(self->rx, &c, 1));
}

/* open(O_NONBLOCK) gives a non-blocking receiver too. */
TEST(open_nonblock_eagain)
{
	int fd = mpsc_open_chan(O_NONBLOCK);
	char c;

	EXPECT_EQ(-EAGAIN, recv_msg(fd, &c, 1));
	close(fd);
}

/* A reader asleep on an empty channel wakes up with the message. */
TEST_F(blk, reader_woken_by_message)
{
	struct op r;

	ASSERT_TRUE(start_reader(&r, self->rx));
	ASSERT_EQ(4, send_str(self->tx, "ping"));
	pthread_join(r.thread, NULL);
	ASSERT_EQ(4, r.ret);
	EXPECT_EQ(0, memcmp(r.data, "ping", 4));
}

/* The same across processes: a child asleep in read(), woken by a send. */
TEST_F(blk, reader_process_woken_by_message)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[16];

		close(self->tx);
		_exit(recv_msg(self->rx, buf, sizeof(buf)) == 5 &&
		      !memcmp(buf, "hello", 5) ? 0 : 1);
	}
	ASSERT_TRUE(wait_asleep_in_mpsc(pid, pid));
	ASSERT_EQ(5, send_str(self->tx, "hello"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A signal without SA_RESTART interrupts the sleeper: EINTR, nothing lost. */
TEST_F(blk, signal_interrupts_reader_eintr)
{
	struct op r;
	char buf[16];

	catch_signal(SIGUSR1, false);
	ASSERT_TRUE(start_reader(&r, self->rx));
	ASSERT_EQ(0, pthread_kill(r.thread, SIGUSR1));
	pthread_join(r.thread, NULL);
	EXPECT_EQ(-EINTR, r.ret);
	ASSERT_EQ(5, send_str(self->tx, "after"));
	ASSERT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "after", 5));
}

/* With SA_RESTART the read is restarted and still gets the message. */
static int handled;
static void count_handler(int sig)
{
	__atomic_fetch_add(&handled, 1, __ATOMIC_SEQ_CST);
}

TEST_F(blk, signal_with_sa_restart_restarts)
{
	struct sigaction sa = { .sa_handler = count_handler,
				.sa_flags = SA_RESTART };
	struct op r;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	store(&handled, 0);
	ASSERT_TRUE(start_reader(&r, self->rx));
	ASSERT_EQ(0, pthread_kill(r.thread, SIGUSR1));
	while (!load(&handled))
		sleep_ms(1);
	/* The reader handled the signal and went back to sleep in mpsc. */
	ASSERT_TRUE(wait_asleep_in_mpsc(getpid(), r.tid));
	ASSERT_EQ(3, send_str(self->tx, "msg"));
	pthread_join(r.thread, NULL);
	EXPECT_EQ(3, r.ret);
	EXPECT_EQ(1, load(&handled));
}

/* A reader process interrupted by kill(): EINTR in the child. */
TEST_F(blk, signal_interrupts_reader_process)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		catch_signal(SIGUSR1, false);
		_exit(recv_msg(self->rx, &c, 1) == -EINTR ? 0 : 1);
	}
	ASSERT_TRUE(wait_asleep_in_mpsc(pid, pid));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* No sender left and nothing queued: read() returns 0 at once. */
TEST_F(blk, eof_when_last_sender_gone)
{
	char c;

	ASSERT_EQ(0, mpsc_disc(self->tx));
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
}

/* End-of-file is checked before O_NONBLOCK: 0, not EAGAIN. */
TEST_F(blk, eof_under_nonblock_is_zero)
{
	char c;

	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, close(self->tx));
	self->tx = -1;
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
}

/* Queued messages are drained before end-of-file. */
TEST_F(blk, messages_drained_before_eof)
{
	char buf[8];

	ASSERT_EQ(1, send_str(self->tx, "a"));
	ASSERT_EQ(1, send_str(self->tx, "b"));
	ASSERT_EQ(0, mpsc_disc(self->tx));
	ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ('a', buf[0]);
	ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ('b', buf[0]);
	EXPECT_EQ(0, recv_msg(self->rx, buf, sizeof(buf)));
}

/* Every sleeping reader wakes to end-of-file when the last sender goes. */
TEST_F(blk, eof_wakes_every_reader)
{
	struct op r[4];
	int i;

	for (i = 0; i < 4; i++)
		if (!start_reader(&r[i], self->rx))
			break;
	ASSERT_EQ(4, i);
	ASSERT_EQ(0, close(self->tx));
	self->tx = -1;
	for (i = 0; i < 4; i++) {
		pthread_join(r[i].thread, NULL);
		EXPECT_EQ(0, r[i].ret);
	}
}

/* A sender process exiting is the last close: the reader sees EOF. */
TEST_F(blk, last_close_by_exit_wakes_reader)
{
	struct op r;
	int status, go[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Hold the only sender until the parent's reader sleeps. */
		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 1);
	}
	close(go[0]);
	close(self->tx);
	self->tx = -1;
	ASSERT_TRUE(start_reader(&r, self->rx));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	pthread_join(r.thread, NULL);
	EXPECT_EQ(0, r.ret);
}

/* A reader in another process wakes to EOF when we close the last sender. */
TEST_F(blk, eof_wakes_reader_process)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;

		close(self->tx);
		_exit(recv_msg(self->rx, &c, 1) == 0 ? 0 : 1);
	}
	ASSERT_TRUE(wait_asleep_in_mpsc(pid, pid));
	ASSERT_EQ(0, close(self->tx));
	self->tx = -1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The receiver's own sender role keeps the channel connected. */
TEST(own_role_keeps_channel_open)
{
	int fd = mpsc_open_chan(O_NONBLOCK);
	char c;

	EXPECT_EQ(-EAGAIN, recv_msg(fd, &c, 1));
	ASSERT_EQ(0, mpsc_disc(fd));
	EXPECT_EQ(0, recv_msg(fd, &c, 1));
	close(fd);
}

/* Fill a channel with max-size messages; return how many fit. */
static int fill(int fd, size_t len)
{
	char *buf = calloc(1, len);
	int n = 0, flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (send_msg(fd, buf, len) == (ssize_t)len)
		n++;
	fcntl(fd, F_SETFL, flags);
	free(buf);
	return n;
}

/* A writer thread of @len bytes of 'w', asleep in mpsc on success. */
static bool start_writer(struct op *w, int fd, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->kind = OP_WRITE;
	w->fd = fd;
	w->len = len;
	memset(w->data, 'w', len);
	return op_start(w);
}

/* A full channel: O_NONBLOCK writes are EAGAIN, nothing queued. */
TEST_F(blk, full_channel_nonblock_eagain)
{
	struct mpsc_info before, after;
	int n;

	ASSERT_EQ(0, mpsc_get_info(self->rx, &before));
	n = fill(self->tx, before.max_msg_size);
	EXPECT_EQ(before.max_queue_bytes / before.max_msg_size, n);
	ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, send_str(self->tx, "x"));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(n, after.queued_msgs);
}

/* A writer asleep on a full channel resumes when the reader frees room. */
TEST_F(blk, writer_sleeps_until_room)
{
	struct mpsc_info info;
	struct op w;
	char *buf;
	int n, i;

	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	buf = malloc(info.max_msg_size);
	n = fill(self->tx, info.max_msg_size);
	ASSERT_TRUE(start_writer(&w, self->tx, 100));
	ASSERT_EQ(info.max_msg_size, recv_msg(self->rx, buf, info.max_msg_size));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(100, w.ret);
	for (i = 1; i < n; i++) {
		ASSERT_EQ(info.max_msg_size,
			  recv_msg(self->rx, buf, info.max_msg_size));
	}
	ASSERT_EQ(100, recv_msg(self->rx, buf, info.max_msg_size));
	EXPECT_EQ('w', buf[0]);
	free(buf);
}

/* A writer interrupted by a signal gets EINTR and queues nothing. */
TEST_F(blk, writer_signal_queues_nothing)
{
	struct mpsc_info info, after;
	struct op w;
	int n;

	catch_signal(SIGUSR1, false);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	n = fill(self->tx, info.max_msg_size);
	ASSERT_TRUE(start_writer(&w, self->tx, 10));
	ASSERT_EQ(0, pthread_kill(w.thread, SIGUSR1));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EINTR, w.ret);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &after));
	EXPECT_EQ(n, after.queued_msgs);
	EXPECT_EQ(n, after.sent);
}

/* Several threads reading one receiver: each message comes out once. */
struct pool {
	int fd;
	unsigned char seen[2000];
	int count;
	pthread_mutex_t lock;
};

static void *pool_reader(void *arg)
{
	struct pool *p = arg;
	unsigned int v;

	while (recv_msg(p->fd, &v, sizeof(v)) == sizeof(v)) {
		pthread_mutex_lock(&p->lock);
		if (v < 2000)
			p->seen[v]++;
		p->count++;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

TEST_F(blk, reader_pool_each_message_once)
{
	static struct pool p;
	pthread_t t[4];
	unsigned int i, n;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	p.fd = self->rx;
	for (n = 0; n < 4; n++)
		if (pthread_create(&t[n], NULL, pool_reader, &p))
			break;
	for (i = 0; i < 2000; i++)
		if (send_msg(self->tx, &i, sizeof(i)) != sizeof(i))
			break;
	ASSERT_EQ(0, close(self->tx));
	self->tx = -1;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(4, n);
	EXPECT_EQ(2000, p.count);
	for (i = 0; i < 2000; i++)
		if (p.seen[i] != 1)
			break;
	EXPECT_EQ(2000, i) TH_LOG("message %u seen %u times", i, p.seen[i]);
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
