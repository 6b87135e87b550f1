// SPDX-License-Identifier: GPL-2.0
/*
 * Sender handles inside messages, and batches of messages.
 *
 * A send may attach mpsc sender fds; each rides in the message as a sender
 * role of its channel, keeping that channel connected, until a batch
 * receive that asks for handles installs it as a new fd (all of the
 * message's handles or none), or the message is freed.  Only senders
 * travel.  A batch moves many packed records per call, each exactly once.
 */

#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "mpsc_test.h"

/* Open fds of this process. */
static int count_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

FIXTURE(hd) {
	int a;		/* the channel messages travel in */
	int b;		/* the channel whose senders travel */
	int tx_b;
	char buf[4096];
};

FIXTURE_SETUP(hd)
{
	self->a = mpsc_open_chan(0);
	self->b = mpsc_open_chan(0);
	self->tx_b = mpsc_clone(self->b, 0);
	ASSERT_LE(0, self->tx_b);
}

FIXTURE_TEARDOWN(hd)
{
	close(self->tx_b);
	close(self->b);
	close(self->a);
}

/* A sender travels, and arrives as a working sender of its channel. */
TEST_F(hd, sender_arrives_working)
{
	struct mpsc_rec *rec = (void *)self->buf;
	int fd, flags;

	ASSERT_EQ(5, send_fds(self->a, "reply", 5, &self->tx_b, 1));
	EXPECT_EQ(1, info_of(self->a).queued_handles);
	EXPECT_EQ(1, fdinfo_value(self->a, "mpsc-queued-handles"));
	/* The role in flight counts: rx_b's own, tx_b's, and this one. */
	EXPECT_EQ(3, info_of(self->b).senders);
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				MPSC_XFER_HANDLES, 0));
	EXPECT_EQ(5, rec->len);
	EXPECT_EQ(1, rec->nfds);
	EXPECT_EQ(0, rec->flags);
	EXPECT_EQ(0, memcmp(rec_data(rec), "reply", 5));
	fd = rec_fds(rec)[0];
	ASSERT_LE(0, fd);
	flags = fcntl(fd, F_GETFD);
	EXPECT_EQ(0, flags & FD_CLOEXEC);
	EXPECT_EQ(info_of(self->b).id, info_of(fd).id);
	EXPECT_EQ(MPSC_STATE_SENDER | MPSC_STATE_RX_OPEN, info_of(fd).state);
	EXPECT_EQ(3, info_of(self->b).senders);
	EXPECT_EQ(0, info_of(self->a).queued_handles);
	EXPECT_EQ(2, send_msg(fd, "hi", 2));
	EXPECT_EQ(2, recv_msg(self->b, self->buf, sizeof(self->buf)));
	close(fd);
	EXPECT_EQ(2, info_of(self->b).senders);
}

/* Asked for, installed fds are close-on-exec. */
TEST_F(hd, cloexec_on_request)
{
	ASSERT_EQ(1, send_fds(self->a, "x", 1, &self->tx_b, 1));
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				MPSC_XFER_HANDLES | MPSC_XFER_CLOEXEC, 0));
	EXPECT_EQ(FD_CLOEXEC, fcntl(rec_fds(self->buf)[0], F_GETFD));
	close(rec_fds(self->buf)[0]);
}

/* Several handles, of several channels, the receiver's own among them. */
TEST_F(hd, several_handles_in_one_message)
{
	int fds[3] = { self->tx_b, self->b, self->a }, i;
	int *got;

	ASSERT_EQ(3, send_fds(self->a, "abc", 3, fds, 3));
	EXPECT_EQ(3, info_of(self->a).queued_handles);
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				MPSC_XFER_HANDLES, 0));
	got = rec_fds(self->buf);
	EXPECT_EQ(info_of(self->b).id, info_of(got[0]).id);
	EXPECT_EQ(info_of(self->b).id, info_of(got[1]).id);
	EXPECT_EQ(info_of(self->a).id, info_of(got[2]).id);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, info_of(got[i]).state & MPSC_STATE_RECEIVER);
		close(got[i]);
	}
}

/* Only senders travel; anything else is refused, and nothing is queued. */
TEST_F(hd, refused_fd_kinds)
{
	int p[2], sv[2], dead, tx;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	dead = mpsc_clone(self->b, 0);
	ASSERT_LE(0, dead);
	ASSERT_EQ(0, mpsc_disc(dead));
	tx = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_disc(tx));
	EXPECT_EQ(-EINVAL, send_fds(self->a, "x", 1, &p[0], 1));
	EXPECT_EQ(-EINVAL, send_fds(self->a, "x", 1, &p[1], 1));
	EXPECT_EQ(-EINVAL, send_fds(self->a, "x", 1, &sv[0], 1));
	EXPECT_EQ(-EBADF, send_fds(self->a, "x", 1, (int[]){ 999 }, 1));
	EXPECT_EQ(-EBADF, send_fds(self->a, "x", 1, (int[]){ -1 }, 1));
	/* A sender whose role is gone, a receiver without its own. */
	EXPECT_EQ(-EPIPE, send_fds(self->a, "x", 1, &dead, 1));
	EXPECT_EQ(-EPIPE, send_fds(self->a, "x", 1, &tx, 1));
	/* One bad fd among good ones refuses the whole message. */
	EXPECT_EQ(-EINVAL, send_fds(self->a, "x", 1,
				    (int[]){ self->tx_b, p[0] }, 2));
	EXPECT_EQ(0, info_of(self->a).queued_msgs);
	EXPECT_EQ(0, info_of(self->a).sent);
	EXPECT_EQ(2, info_of(self->b).senders);
	close(tx);
	close(dead);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* At most MPSC_MAX_HANDLES per message. */
TEST_F(hd, too_many_handles_einval)
{
	int fds[MPSC_MAX_HANDLES + 1], i;
	char buf[512];

	for (i = 0; i <= MPSC_MAX_HANDLES; i++)
		fds[i] = self->tx_b;
	EXPECT_EQ(-EINVAL, send_batch(self->a, buf,
				      rec_put(buf, "x", 1, fds,
					      MPSC_MAX_HANDLES + 1), 1, 0));
	EXPECT_EQ(1, send_fds(self->a, "x", 1, fds, MPSC_MAX_HANDLES));
	EXPECT_EQ(MPSC_MAX_HANDLES, info_of(self->a).queued_handles);
}

/*
 * A handle in flight keeps its channel connected: no end-of-file until it
 * is received and closed.
 */
TEST_F(hd, in_flight_keeps_connected)
{
	int fd;

	ASSERT_EQ(1, send_fds(self->a, "x", 1, &self->tx_b, 1));
	close(self->tx_b);
	self->tx_b = -1;
	ASSERT_EQ(0, mpsc_disc(self->b));
	EXPECT_EQ(1, info_of(self->b).senders);
	EXPECT_EQ(-EAGAIN, xfer(self->b, MPSC_IOC_RECV, self->buf, 16, 0));
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				MPSC_XFER_HANDLES, 0));
	fd = rec_fds(self->buf)[0];
	EXPECT_EQ(-EAGAIN, xfer(self->b, MPSC_IOC_RECV, self->buf, 16, 0));
	close(fd);
	EXPECT_EQ(0, recv_msg(self->b, self->buf, 16));
}

/*
 * A receiver that does not ask for handles drops them: read() and a plain
 * MPSC_IOC_RECV say nothing, a batch record says so.  The reply channel
 * then disconnects, so the requester is not left waiting.
 */
TEST_F(hd, not_asked_for_dropped)
{
	struct mpsc_rec *rec = (void *)self->buf;

	close(self->tx_b);
	self->tx_b = -1;
	ASSERT_EQ(1, send_fds(self->a, "r", 1, &self->b, 1));
	ASSERT_EQ(0, mpsc_disc(self->b));
	EXPECT_EQ(-EPIPE, send_fds(self->a, "r", 1, &self->b, 1));
	EXPECT_EQ(1, info_of(self->b).senders);
	ASSERT_EQ(1, recv_msg(self->a, self->buf, sizeof(self->buf)));
	EXPECT_EQ(0, info_of(self->b).senders);
	EXPECT_EQ(0, recv_msg(self->b, self->buf, 16));

	self->tx_b = mpsc_open_chan(0);
	ASSERT_EQ(1, send_fds(self->a, "s", 1, &self->tx_b, 1));
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0, 0,
				0));
	EXPECT_EQ(1, rec->nfds);
	EXPECT_EQ(MPSC_REC_HANDLES_DROPPED, rec->flags);
	EXPECT_EQ(-1, rec_fds(rec)[0]);
	EXPECT_EQ(1, info_of(self->tx_b).senders);
}

/* A channel's own sender in its own queue: freed with the receiver. */
TEST_F(hd, self_cycle_freed_with_receiver)
{
	int rx = mpsc_open_chan(0), tx = mpsc_clone(rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(2, send_fds(rx, "me", 2, &rx, 1));
	ASSERT_EQ(2, send_fds(rx, "me", 2, &tx, 1));
	ASSERT_EQ(2, send_fds(tx, "me", 2, (int[]){ rx, tx }, 2));
	ASSERT_EQ(0, mpsc_disc(rx));
	close(tx);
	/* Its own roles in flight keep it connected... */
	EXPECT_EQ(4, info_of(rx).senders);
	EXPECT_EQ(4, info_of(rx).queued_handles);
	/* ... and closing the receiver frees them all (kmemleak, unload). */
	close(rx);
}

/* The receiver's close purges messages with handles: roles released. */
TEST_F(hd, receiver_close_releases_handles)
{
	ASSERT_EQ(1, send_fds(self->a, "x", 1, &self->tx_b, 1));
	ASSERT_EQ(1, send_fds(self->a, "y", 1, &self->tx_b, 1));
	EXPECT_EQ(4, info_of(self->b).senders);
	close(self->a);
	self->a = mpsc_open_chan(0);
	EXPECT_EQ(2, info_of(self->b).senders);
}

/*
 * Installing fails part-way (RLIMIT_NOFILE): nothing is installed, the
 * message stays queued with its handles, and the error says why.
 */
TEST_F(hd, install_fails_nothing_installed)
{
	int fds[3] = { self->tx_b, self->tx_b, self->tx_b };
	struct rlimit old, rl;
	int before, i;

	ASSERT_EQ(3, send_fds(self->a, "abc", 3, fds, 3));
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	before = count_fds();
	/* Room for one more fd, not three. */
	for (i = 1023; i >= 0 && fcntl(i, F_GETFD) < 0; i--)
		;
	rl.rlim_cur = i + 2;
	rl.rlim_max = old.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	EXPECT_EQ(-EMFILE, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				      MPSC_XFER_HANDLES, 0));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(before, count_fds());
	EXPECT_EQ(1, info_of(self->a).queued_msgs);
	EXPECT_EQ(3, info_of(self->a).queued_handles);
	EXPECT_EQ(5, info_of(self->b).senders);
	ASSERT_EQ(1, recv_batch(self->a, self->buf, sizeof(self->buf), 0,
				MPSC_XFER_HANDLES, 0));
	EXPECT_EQ(before + 3, count_fds());
	for (i = 0; i < 3; i++)
		close(rec_fds(self->buf)[i]);
	EXPECT_EQ(2, info_of(self->b).senders);
}

/* Handles are charged to the channel owner's per-user memory. */
TEST_F(hd, handles_charged)
{
	struct mpsc_info plain, with;

	ASSERT_EQ(1, send_msg(self->a, "x", 1));
	plain = info_of(self->a);
	ASSERT_EQ(1, recv_msg(self->a, self->buf, 16));
	ASSERT_EQ(1, send_fds(self->a, "x", 1, &self->tx_b, 1));
	with = info_of(self->a);
	EXPECT_LT(plain.queued_mem, with.queued_mem);
}

/* A batch: many records in one call each way, in order. */
TEST_F(hd, batch_send_and_receive)
{
	char out[64 * 80], in[64 * 80];
	size_t off = 0;
	int i, n = 0;

	for (i = 0; i < 64; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "message %d", i);

		off += rec_put(out + off, msg, len, NULL, 0);
	}
	EXPECT_EQ(64, send_batch(self->a, out, off, 64, 0));
	EXPECT_EQ(64, info_of(self->a).queued_msgs);
	/* At most 10, then as many as fit. */
	EXPECT_EQ(10, recv_batch(self->a, in, sizeof(in), 10, 0, 0));
	n = 10;
	off = 0;
	for (i = 0; i < 10; i++) {
		struct mpsc_rec *rec = (void *)(in + off);
		char want[32];

		snprintf(want, sizeof(want), "message %d", i);
		EXPECT_EQ(strlen(want), rec->len);
		EXPECT_EQ(0, memcmp(rec_data(rec), want, rec->len));
		off += MPSC_REC_SIZE(rec->len, rec->nfds);
	}
	/* Each record is 24 bytes: 100 bytes hold 4 of them. */
	EXPECT_EQ(4, recv_batch(self->a, in, 100, 0, 0, 0));
	n += 4;
	EXPECT_EQ(64 - n, recv_batch(self->a, in, sizeof(in), 0, 0, 0));
	EXPECT_EQ(64, info_of(self->a).received);
	EXPECT_EQ(-EAGAIN, recv_batch(self->a, in, sizeof(in), 0, 0, 0));
}

/* The first record does not fit: EMSGSIZE, len says what it needs. */
TEST_F(hd, batch_first_too_big)
{
	struct mpsc_xfer x = {
		.buf = (uintptr_t)self->buf, .len = 8,
		.flags = MPSC_XFER_BATCH,
	};

	ASSERT_EQ(10, send_msg(self->a, "0123456789", 10));
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(MPSC_REC_SIZE(10, 0), x.len);
	EXPECT_EQ(1, info_of(self->a).queued_msgs);
}

/* A batch receive that faults part-way: what moved is counted, the rest stays. */
TEST_F(hd, batch_receive_fault_part_way)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(1000, send_msg(self->a, memset(self->buf, 'a' + i,
							 1000), 1000));
	/* Records of 1008 bytes: 4 fit the page, the 5th faults. */
	EXPECT_EQ(4, recv_batch(self->a, map, 2 * page, 0, 0, 0));
	EXPECT_EQ(4, info_of(self->a).queued_msgs);
	EXPECT_EQ(-EFAULT, recv_batch(self->a, map + page, page, 0, 0, 0));
	EXPECT_EQ(4, recv_batch(self->a, self->buf, sizeof(self->buf), 0, 0,
				0));
	EXPECT_EQ('e', rec_data(self->buf)[0]);
	EXPECT_EQ(8, info_of(self->a).received);
	munmap(map, page);
}

/* A bad record part-way: the ones before it are sent and counted. */
TEST_F(hd, batch_send_bad_record_part_way)
{
	char out[256];
	size_t off = 0;

	off += rec_put(out + off, "one", 3, NULL, 0);
	off += rec_put(out + off, "two", 3, NULL, 0);
	((struct mpsc_rec *)(out + off))->len = 1;
	((struct mpsc_rec *)(out + off))->nfds = 0;
	((struct mpsc_rec *)(out + off))->flags = 1;
	off += MPSC_REC_SIZE(1, 0);
	EXPECT_EQ(2, send_batch(self->a, out, off, 3, 0));
	EXPECT_EQ(-EINVAL, send_batch(self->a, out + MPSC_REC_SIZE(3, 0) * 2,
				      MPSC_REC_SIZE(1, 0), 1, 0));
	/* A count beyond the buffer. */
	EXPECT_EQ(1, send_batch(self->a, out, MPSC_REC_SIZE(3, 0), 2, 0));
	EXPECT_EQ(3, info_of(self->a).queued_msgs);
}

/* A bounded channel takes what fits; a full one refuses the batch. */
TEST_F(hd, batch_send_bounded)
{
	char out[256];
	size_t off = 0;
	int i;

	ASSERT_EQ(0, mpsc_set_cap(self->a, 2));
	for (i = 0; i < 3; i++)
		off += rec_put(out + off, "msg", 3, NULL, 0);
	EXPECT_EQ(2, send_batch(self->a, out, off, 3, 0));
	EXPECT_EQ(-EAGAIN, send_batch(self->a, out, off, 3, 0));
}

/* Rendezvous: each record of a batch is its own hand-off. */
TEST_F(hd, batch_send_rendezvous)
{
	struct op r1 = { .kind = OP_READ, .len = 16 };
	char out[256];
	size_t off = 0;

	ASSERT_EQ(0, mpsc_set_cap(self->a, 0));
	off += rec_put(out + off, "first", 5, NULL, 0);
	off += rec_put(out + off, "second", 6, NULL, 0);
	r1.fd = self->a;
	ASSERT_TRUE(op_start(&r1));
	/* A non-blocking batch hands one record to the waiting reader. */
	EXPECT_EQ(1, send_batch(self->a, out, off, 2, 0));
	EXPECT_EQ(5, op_join(&r1));
	EXPECT_EQ(0, info_of(self->a).queued_msgs);
}

/* Invalid flag combinations. */
TEST_F(hd, batch_flags_checked)
{
	struct mpsc_xfer x = { .buf = (uintptr_t)self->buf, .len = 64 };

	x.flags = MPSC_XFER_HANDLES;
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EINVAL, errno);
	x.flags = MPSC_XFER_BATCH | MPSC_XFER_CLOEXEC;
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EINVAL, errno);
	x.flags = MPSC_XFER_BATCH | MPSC_XFER_HANDLES;
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_SEND, &x));
	EXPECT_EQ(EINVAL, errno);
	x.flags = MPSC_XFER_BATCH;
	x.count = 0;
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_SEND, &x));
	EXPECT_EQ(EINVAL, errno);
	x.flags = 0;
	x.count = 1;
	EXPECT_EQ(-1, ioctl(self->a, MPSC_IOC_RECV, &x));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * Handles passed along chains of processes and channels, some dropped at
 * random: every channel ends connected exactly as its live roles say, and
 * everything is freed at the end (kmemleak, module unload).
 */
TEST(handle_chains)
{
	enum { PROCS = 4, ROUNDS = 200 };
	int rx[PROCS], i, r;
	pid_t pids[PROCS];
	char buf[512];

	for (i = 0; i < PROCS; i++)
		rx[i] = mpsc_open_chan(0);
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			int next = rx[(i + 1) % PROCS], got = 0;
			unsigned int seed = i + 1;

			/* Hold only our receiver and the next one's sender. */
			for (r = 0; r < PROCS; r++)
				if (r != i && rx[r] != next)
					close(rx[r]);
			for (r = 0; r < ROUNDS; r++) {
				int fds[2] = { next, next };
				int n = rand_r(&seed) % 3;

				if (send_fds(next, "h", 1, fds, n) != 1)
					_exit(1);
				if (recv_batch(rx[i], buf, sizeof(buf), 1,
					       rand_r(&seed) % 2 ?
					       MPSC_XFER_HANDLES : 0,
					       MPSC_TIMEOUT_FOREVER) != 1)
					_exit(2);
				got = ((struct mpsc_rec *)buf)->nfds;
				if (((struct mpsc_rec *)buf)->flags)
					continue;
				while (got--)
					close(rec_fds(buf)[got]);
			}
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++)
		close(rx[i]);
	for (i = 0; i < PROCS; i++) {
		int status;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("process %d", i);
	}
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
