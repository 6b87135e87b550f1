// SPDX-License-Identifier: GPL-2.0
/*
 * Senders: cloning, sharing through dup/fork/SCM_RIGHTS, disconnecting,
 * and what senders see when the receiver goes away.
 */

#include <sys/mman.h>
#include <sys/socket.h>

#include "mpsc_test.h"

FIXTURE(snd) {
	int rx;
};

FIXTURE_SETUP(snd)
{
	self->rx = mpsc_open_chan(0);
}

FIXTURE_TEARDOWN(snd)
{
	close(self->rx);
}

static unsigned long long senders(int fd)
{
	struct mpsc_info info;

	if (mpsc_get_info(fd, &info))
		return ~0ULL;
	return info.senders;
}

/* A clone is a sender of the same channel. */
TEST_F(snd, clone_sends_to_receiver)
{
	struct mpsc_info a, b;
	int tx = mpsc_clone(self->rx, 0);
	char buf[8];

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &a));
	ASSERT_EQ(0, mpsc_get_info(tx, &b));
	EXPECT_EQ(a.id, b.id);
	ASSERT_EQ(5, send_str(tx, "clone"));
	ASSERT_EQ(5, recv_msg(self->rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "clone", 5));
	close(tx);
}

/* The ioctl returns the fd and also reports it in the struct. */
TEST_F(snd, clone_reports_fd)
{
	struct mpsc_clone_args args = { .flags = O_CLOEXEC, .fd = -1 };
	int fd = ioctl(self->rx, MPSC_IOC_CLONE_SENDER, &args);

	ASSERT_LE(0, fd);
	EXPECT_EQ(fd, args.fd);
	close(fd);
}

/* A clone is write-only: reading it is EBADF. */
TEST_F(snd, clone_is_write_only)
{
	int tx = mpsc_clone(self->rx, 0);
	char c;

	ASSERT_LE(0, tx);
	EXPECT_EQ(O_WRONLY, fcntl(tx, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(-EBADF, recv_msg(tx, &c, 1));
	close(tx);
}

/* Without flags a clone is neither close-on-exec nor non-blocking. */
TEST_F(snd, clone_default_flags)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	EXPECT_EQ(0, fcntl(tx, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(tx, F_GETFL) & O_NONBLOCK);
	close(tx);
}

TEST_F(snd, clone_cloexec)
{
	int tx = mpsc_clone(self->rx, O_CLOEXEC);

	ASSERT_LE(0, tx);
	EXPECT_EQ(FD_CLOEXEC, fcntl(tx, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(tx, F_GETFL) & O_NONBLOCK);
	close(tx);
}

TEST_F(snd, clone_nonblock)
{
	int tx = mpsc_clone(self->rx, O_NONBLOCK);

	ASSERT_LE(0, tx);
	EXPECT_EQ(0, fcntl(tx, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_NONBLOCK, fcntl(tx, F_GETFL) & O_NONBLOCK);
	close(tx);
}

/* Any flag but O_CLOEXEC and O_NONBLOCK is EINVAL, and no fd appears. */
FIXTURE(clone_flags) {
	int rx;
};

FIXTURE_VARIANT(clone_flags) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(clone_flags, rdwr) { .flags = O_RDWR };
FIXTURE_VARIANT_ADD(clone_flags, wronly) { .flags = O_WRONLY };
FIXTURE_VARIANT_ADD(clone_flags, append) { .flags = O_APPEND };
FIXTURE_VARIANT_ADD(clone_flags, trunc) { .flags = O_TRUNC };
FIXTURE_VARIANT_ADD(clone_flags, noctty) { .flags = O_NOCTTY };
FIXTURE_VARIANT_ADD(clone_flags, direct) { .flags = O_DIRECT };
FIXTURE_VARIANT_ADD(clone_flags, top_bit) { .flags = 1U << 31 };
FIXTURE_VARIANT_ADD(clone_flags, cloexec_plus_sync) {
	.flags = O_CLOEXEC | O_SYNC
};

FIXTURE_SETUP(clone_flags)
{
	self->rx = mpsc_open_chan(0);
}

FIXTURE_TEARDOWN(clone_flags)
{
	close(self->rx);
}

TEST_F(clone_flags, rejected)
{
	int probe;

	EXPECT_EQ(-EINVAL, mpsc_clone(self->rx, variant->flags));
	EXPECT_EQ(1, senders(self->rx));
	/* The lowest free fd is unchanged: nothing leaked. */
	probe = dup(0);
	EXPECT_EQ(self->rx + 1, probe);
	close(probe);
}

/* Each reserved word must be zero. */
TEST_F(snd, clone_reserved_nonzero_einval)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct mpsc_clone_args args = { 0 };

		args.reserved[i] = 1;
		EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_CLONE_SENDER, &args));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(1, senders(self->rx));
}

/* A bad argument pointer is EFAULT and leaves no sender behind. */
TEST_F(snd, clone_bad_pointer_efault)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_CLONE_SENDER, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* Readable but not writable: the fd cannot be reported back. */
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_CLONE_SENDER, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, senders(self->rx));
	EXPECT_EQ(self->rx + 1, dup(0));
	munmap(ro, 4096);
}

/* A clone can be cloned. */
TEST_F(snd, clone_of_clone)
{
	int a = mpsc_clone(self->rx, 0), b;
	char buf[4];

	ASSERT_LE(0, a);
	b = mpsc_clone(a, 0);
	ASSERT_LE(0, b);
	EXPECT_EQ(3, senders(self->rx));
	ASSERT_EQ(1, send_str(b, "b"));
	ASSERT_EQ(1, recv_msg(self->rx, buf, sizeof(buf)));
	close(a);
	close(b);
}

/* Each clone is its own sender; closing one removes only it. */
TEST_F(snd, each_clone_is_a_sender)
{
	int a, b;

	EXPECT_EQ(1, senders(self->rx));
	a = mpsc_clone(self->rx, 0);
	b = mpsc_clone(self->rx, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(3, senders(self->rx));
	close(a);
	EXPECT_EQ(2, senders(self->rx));
	close(b);
	EXPECT_EQ(1, senders(self->rx));
}

/* dup() shares one sender, as it shares one pipe end. */
TEST_F(snd, dup_shares_one_sender)
{
	int tx = mpsc_clone(self->rx, 0), d;
	char c;

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	d = dup(tx);
	ASSERT_LE(0, d);
	EXPECT_EQ(1, senders(self->rx));
	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	close(tx);
	EXPECT_EQ(-EAGAIN, recv_msg(self->rx, &c, 1));
	close(d);
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
}

/* fork() shares a sender too: the child's exit does not disconnect. */
TEST_F(snd, fork_shares_one_sender)
{
	int tx = mpsc_clone(self->rx, 0), status;
	pid_t pid;
	char c;

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(self->rx));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(tx);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(1, senders(self->rx));
	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, recv_msg(self->rx, &c, 1));
	close(tx);
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
}

/* Disconnecting drops the role: later writes are EPIPE. */
TEST_F(snd, disconnect_then_write_epipe)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(tx));
	EXPECT_EQ(-EPIPE, send_str(tx, "x"));
	EXPECT_EQ(1, senders(self->rx));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(-EPIPE, send_str(self->rx, "x"));
	EXPECT_EQ(0, senders(self->rx));
	close(tx);
}

/* Disconnecting twice is harmless. */
TEST_F(snd, disconnect_twice_harmless)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	EXPECT_EQ(0, mpsc_disc(tx));
	EXPECT_EQ(0, mpsc_disc(tx));
	EXPECT_EQ(1, senders(self->rx));
	close(tx);
	EXPECT_EQ(1, senders(self->rx));
}

/* The argument is reserved: anything but 0 is EINVAL and does nothing. */
TEST_F(snd, disconnect_nonzero_arg_einval)
{
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_DISCONNECT, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, senders(self->rx));
}

/* Releasing a clone's last reference drops its role. */
TEST_F(snd, close_drops_role)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	EXPECT_EQ(2, senders(self->rx));
	close(tx);
	EXPECT_EQ(1, senders(self->rx));
}

/* A handle whose role is gone cannot clone: EPIPE. */
TEST_F(snd, clone_from_disconnected_epipe)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(tx));
	EXPECT_EQ(-EPIPE, mpsc_clone(tx, 0));
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(-EPIPE, mpsc_clone(self->rx, 0));
	close(tx);
}

/* Once disconnected, a channel stays disconnected. */
TEST_F(snd, disconnected_stays_disconnected)
{
	char c;

	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
	EXPECT_EQ(-EPIPE, mpsc_clone(self->rx, 0));
	EXPECT_EQ(-EPIPE, send_str(self->rx, "x"));
	EXPECT_EQ(0, recv_msg(self->rx, &c, 1));
	EXPECT_EQ(0, senders(self->rx));
}

/* The receiver gone: EPIPE, and no SIGPIPE even at its default action. */
TEST_F(snd, receiver_gone_epipe_no_sigpipe)
{
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	signal(SIGPIPE, SIG_DFL);
	close(self->rx);
	self->rx = -1;
	EXPECT_EQ(-EPIPE, send_str(tx, "x"));
	EXPECT_EQ(-EPIPE, send_str(tx, "y"));
	close(tx);
}

/* Queued messages are freed with the receiver. */
TEST_F(snd, receiver_gone_frees_queue)
{
	struct mpsc_info info;
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(3, send_str(tx, "one"));
	ASSERT_EQ(3, send_str(tx, "two"));
	close(self->rx);
	self->rx = -1;
	ASSERT_EQ(0, mpsc_get_info(tx, &info));
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.queued_bytes);
	EXPECT_EQ(0, info.state & MPSC_STATE_RX_OPEN);
	EXPECT_EQ(MPSC_STATE_SENDER, info.state);
	close(tx);
}

/* A writer of "late", asleep in mpsc once this returns true. */
static bool start_blocked_writer(struct op *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->kind = OP_WRITE;
	w->fd = fd;
	w->buf = "late";
	w->len = 4;
	return op_start(w);
}

static void fill_channel(int fd)
{
	struct mpsc_info info;
	char *buf;
	int flags = fcntl(fd, F_GETFL);

	mpsc_get_info(fd, &info);
	buf = calloc(1, info.max_msg_size);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (send_msg(fd, buf, info.max_msg_size) > 0)
		;
	fcntl(fd, F_SETFL, flags);
	free(buf);
}

/* A writer asleep on a full channel fails with EPIPE when the receiver goes. */
TEST_F(snd, receiver_gone_wakes_writer_epipe)
{
	struct op w;
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	fill_channel(tx);
	ASSERT_TRUE(start_blocked_writer(&w, tx));
	close(self->rx);
	self->rx = -1;
	pthread_join(w.thread, NULL);
	EXPECT_EQ(-EPIPE, w.ret);
	close(tx);
}

/* Disconnecting a handle fails the writes asleep on it, and only those. */
TEST_F(snd, disconnect_wakes_its_writers_only)
{
	struct op a, b;
	struct mpsc_info info;
	int ta = mpsc_clone(self->rx, 0), tb = mpsc_clone(self->rx, 0);
	char *buf;

	ASSERT_LE(0, ta);
	ASSERT_LE(0, tb);
	fill_channel(ta);
	ASSERT_TRUE(start_blocked_writer(&a, ta));
	ASSERT_TRUE(start_blocked_writer(&b, tb));
	ASSERT_EQ(0, mpsc_disc(ta));
	pthread_join(a.thread, NULL);
	EXPECT_EQ(-EPIPE, a.ret);
	/* b still sleeps, and completes once there is room. */
	EXPECT_TRUE(wait_asleep_in_mpsc(getpid(), b.tid));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	buf = malloc(info.max_msg_size);
	ASSERT_LT(0, recv_msg(self->rx, buf, info.max_msg_size));
	pthread_join(b.thread, NULL);
	EXPECT_EQ(4, b.ret);
	free(buf);
	close(ta);
	close(tb);
}

static int send_fd(int sock, int fd)
{
	char data = 'F';
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

/*
 * A producer in an unrelated process (forked before the channel existed)
 * gets its sender over SCM_RIGHTS.
 */
TEST(scm_rights_sender)
{
	int sv[2], rx, tx, status;
	char buf[32];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		close(sv[0]);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(2);
		_exit(send_str(fd, "via SCM_RIGHTS") == 14 ? 0 : 3);
	}
	close(sv[1]);
	rx = mpsc_open_chan(0);
	tx = mpsc_clone(rx, 0);
	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_disc(rx));
	ASSERT_EQ(0, send_fd(sv[0], tx));
	close(tx);
	ASSERT_EQ(14, recv_msg(rx, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "via SCM_RIGHTS", 14));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child's exit closed the last sender. */
	EXPECT_EQ(0, recv_msg(rx, buf, sizeof(buf)));
	close(sv[0]);
	close(rx);
}

/* The receiver itself can be handed to another process. */
TEST(scm_rights_receiver)
{
	int sv[2], rx, status;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char buf[8];
		int fd;

		close(sv[0]);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(2);
		if (recv_msg(fd, buf, sizeof(buf)) != 2 || memcmp(buf, "hi", 2))
			_exit(3);
		_exit(recv_msg(fd, buf, sizeof(buf)) == 0 ? 0 : 4);
	}
	close(sv[1]);
	rx = mpsc_open_chan(0);
	ASSERT_EQ(2, send_str(rx, "hi"));
	ASSERT_EQ(0, send_fd(sv[0], rx));
	/* Our copy's sender role is the channel's only one: drop it. */
	ASSERT_EQ(0, mpsc_disc(rx));
	close(rx);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
}

/* Producers, each with its own clone: every message once, in its order. */
#define PRODUCERS 8
#define PER_PRODUCER 500

struct producer {
	int fd;
	unsigned int id;
};

static void *producer_fn(void *arg)
{
	struct producer *p = arg;
	unsigned int i, msg[2];

	for (i = 0; i < PER_PRODUCER; i++) {
		msg[0] = p->id;
		msg[1] = i;
		if (send_msg(p->fd, msg, sizeof(msg)) != sizeof(msg))
			break;
	}
	close(p->fd);
	return NULL;
}

static int check_producers(struct __test_metadata *_metadata, int rx, int n)
{
	unsigned int next[PRODUCERS] = { 0 }, msg[2];
	int total = 0;
	ssize_t ret;

	while ((ret = recv_msg(rx, msg, sizeof(msg))) == sizeof(msg)) {
		ASSERT_GT(n, msg[0]);
		ASSERT_EQ(next[msg[0]], msg[1]);
		next[msg[0]]++;
		total++;
	}
	EXPECT_EQ(0, ret);
	return total;
}

TEST_F(snd, producer_threads_in_order)
{
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS];
	int i;

	for (i = 0; i < PRODUCERS; i++) {
		p[i].id = i;
		p[i].fd = mpsc_clone(self->rx, 0);
		ASSERT_LE(0, p[i].fd);
	}
	ASSERT_EQ(0, mpsc_disc(self->rx));
	for (i = 0; i < PRODUCERS; i++)
		if (pthread_create(&t[i], NULL, producer_fn, &p[i]))
			break;
	ASSERT_EQ(PRODUCERS, i);
	EXPECT_EQ(PRODUCERS * PER_PRODUCER,
		  check_producers(_metadata, self->rx, PRODUCERS));
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
}

TEST_F(snd, producer_processes_in_order)
{
	int i, status;

	for (i = 0; i < 4; i++) {
		struct producer p = { .id = i };
		pid_t pid;

		p.fd = mpsc_clone(self->rx, 0);
		ASSERT_LE(0, p.fd);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(self->rx);
			producer_fn(&p);
			_exit(0);
		}
		close(p.fd);
	}
	ASSERT_EQ(0, mpsc_disc(self->rx));
	EXPECT_EQ(4 * PER_PRODUCER, check_producers(_metadata, self->rx, 4));
	for (i = 0; i < 4; i++) {
		ASSERT_LT(0, wait(&status));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

/* Clones racing the receiver's release: no crash, no leak, no stray role. */
struct racer {
	int fd;
	int stop;
	int clones;
};

static void *clone_racer(void *arg)
{
	struct racer *r = arg;

	while (!load(&r->stop)) {
		int fd = mpsc_clone(r->fd, 0);

		if (fd >= 0) {
			send_str(fd, "r");
			close(fd);
			r->clones++;
		}
	}
	return NULL;
}

TEST(clone_races_receiver_close)
{
	int round;

	for (round = 0; round < 50; round++) {
		struct racer r = { 0 };
		pthread_t t;
		int rx = mpsc_open_chan(0);

		r.fd = mpsc_clone(rx, 0);
		ASSERT_LE(0, r.fd);
		ASSERT_EQ(0, pthread_create(&t, NULL, clone_racer, &r));
		sleep_ms(1);
		close(rx);
		sleep_ms(1);
		store(&r.stop, 1);
		pthread_join(t, NULL);
		EXPECT_EQ(1, senders(r.fd));
		EXPECT_EQ(-EPIPE, send_str(r.fd, "x"));
		close(r.fd);
	}
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
