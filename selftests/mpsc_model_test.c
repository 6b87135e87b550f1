// SPDX-License-Identifier: GPL-2.0
/*
 * Model-based random testing: random sequences of operations (open,
 * clone, dup, write and read with short, long and bad buffers, disconnect,
 * close, poll, info, peek, capacity changes, receiver close), each checked
 * step by step against a small reference model of the contract.
 *
 *   mpsc_model_test [-s SEED] [-n SEEDS] [-k STEPS] [-v]
 *
 * SEEDS and STEPS default to $MPSC_MODEL_SEEDS and $MPSC_MODEL_STEPS, or
 * 40 and 3000.
 * Every call is non-blocking, so one thread can drive any state.  A
 * failure prints the seed and the step; "-s SEED -n 1" replays it.
 */

#include <getopt.h>
#include <stdarg.h>
#include <poll.h>
#include <sys/mman.h>

#include "mpsc_test.h"
#include "kselftest.h"

#define MAX_CHANS	6
#define MAX_FILES	32
#define MAX_FDS		48
#define MAX_QUEUE	4096
#define UNBOUNDED	MPSC_CAPACITY_UNBOUNDED

struct mmsg {
	unsigned int len;
	unsigned int tag;	/* the payload is a function of tag */
};

struct mchan {
	bool live;
	__u64 id;
	struct mmsg q[MAX_QUEUE];
	unsigned int head, n;
	__u64 bytes;
	unsigned int senders;
	bool rx_open, closed;
	__u64 capacity, sent, received;
};

struct mfile {
	bool live;
	int chan;
	bool rx, tx;
	int fds;	/* descriptors sharing this open file */
};

static struct mchan chans[MAX_CHANS];
static struct mfile files[MAX_FILES];
static int fd_file[1024];	/* fd -> file index, or -1 */
static int fds[MAX_FDS], nfds;
static __u64 max_msg, max_bytes;
static unsigned int next_tag;
static unsigned long long rng;
static unsigned char *big, *bad;
static bool verbose;
static char why[256];

static unsigned int rnd(unsigned int n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

static void fill(unsigned char *p, unsigned int len, unsigned int tag)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(tag * 31 + i * 7 + (i >> 8));
}

/* Record why the kernel and the model parted; false, for returning. */
/* (userspace: no __printf() here) */
static bool fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

static bool expect(long long got, long long want, const char *op)
{
	if (got == want)
		return true;
	return fail("%s: got %lld, model says %lld", op, got, want);
}

static bool eof(const struct mchan *c)
{
	return !c->n && (!c->senders || c->closed);
}

static bool tx_fails(const struct mfile *f)
{
	const struct mchan *c = &chans[f->chan];

	return !f->tx || !c->rx_open || c->closed;
}

static bool room(const struct mchan *c, __u64 len)
{
	if (c->bytes + len > max_bytes)
		return false;
	return c->capacity == 0 || c->n < c->capacity;
}

static int new_file(int chan, bool rx, bool tx)
{
	int i;

	for (i = 0; i < MAX_FILES; i++)
		if (!files[i].live)
			break;
	if (i == MAX_FILES)
		return -1;
	files[i] = (struct mfile){ .live = true, .chan = chan, .rx = rx,
				   .tx = tx, .fds = 0 };
	return i;
}

static void add_fd(int fd, int file)
{
	fd_file[fd] = file;
	files[file].fds++;
	fds[nfds++] = fd;
}

static void model_drop_tx(struct mfile *f)
{
	if (f->tx) {
		f->tx = false;
		chans[f->chan].senders--;
	}
}

/* The last fd of an open file went away. */
static void model_release(int file)
{
	struct mfile *f = &files[file];
	struct mchan *c = &chans[f->chan];

	model_drop_tx(f);
	if (f->rx) {
		c->rx_open = false;
		c->n = 0;
		c->bytes = 0;
	}
	f->live = false;
	/* The channel lives on while any file refers to it. */
	for (file = 0; file < MAX_FILES; file++)
		if (files[file].live && files[file].chan == f->chan)
			return;
	c->live = false;
}

static int pick_fd(void)
{
	return nfds ? fds[rnd(nfds)] : -1;
}

static bool check_info(int fd)
{
	struct mfile *f = &files[fd_file[fd]];
	struct mchan *c = &chans[f->chan];
	struct mpsc_info info;
	__u32 state = 0;

	if (!expect(mpsc_get_info(fd, &info), 0, "info"))
		return false;
	if (f->rx)
		state |= MPSC_STATE_RECEIVER;
	if (f->tx)
		state |= MPSC_STATE_SENDER;
	if (c->rx_open)
		state |= MPSC_STATE_RX_OPEN;
	if (c->closed)
		state |= MPSC_STATE_CLOSED;
	if (!expect(info.id, c->id, "info.id"))
		return false;
	if (!expect(info.state, state, "info.state"))
		return false;
	if (!expect(info.queued_msgs, c->n, "info.queued_msgs"))
		return false;
	if (!expect(info.queued_bytes, c->bytes, "info.queued_bytes"))
		return false;
	if (!expect(info.capacity, c->capacity, "info.capacity"))
		return false;
	if (!expect(info.senders, c->senders, "info.senders"))
		return false;
	if (!expect(info.sent, c->sent, "info.sent"))
		return false;
	if (!expect(info.received, c->received, "info.received"))
		return false;
	if (!expect(info.max_msg_size, max_msg, "info.max_msg_size"))
		return false;
	if (!expect(info.max_queue_bytes, max_bytes, "info.max_queue_bytes"))
		return false;
	return true;
}

static bool check_poll(int fd)
{
	struct mfile *f = &files[fd_file[fd]];
	struct mchan *c = &chans[f->chan];
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	short want = 0;

	if (!expect(poll(&p, 1, 0) >= 0, 1, "poll"))
		return false;
	if (f->rx) {
		if (c->n)
			want |= POLLIN;
		else if (eof(c))
			want |= POLLIN | POLLHUP;
	}
	/* The receiver's own role reports nothing once it has closed. */
	if (!f->rx || (f->tx && !c->closed)) {
		if (tx_fails(f))
			want |= POLLOUT | POLLERR;
		/* A rendezvous channel has no waiting reader here. */
		else if (c->capacity && room(c, max_msg))
			want |= POLLOUT;
	}
	if (!expect(p.revents, want, "poll mask"))
		return false;
	return true;
}

static bool op_open(void)
{
	struct mpsc_info info;
	int i, fd, file;

	for (i = 0; i < MAX_CHANS; i++)
		if (!chans[i].live)
			break;
	if (i == MAX_CHANS || nfds >= MAX_FDS)
		return true;
	if (rnd(8) == 0) {
		if (!expect(open(MPSC_DEV, O_WRONLY) < 0 ? -errno : 0,
			    -EINVAL, "open O_WRONLY"))
			return false;
		return true;
	}
	fd = open(MPSC_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fd >= 1024)
		return fail("open: %s", strerror(errno));
	file = new_file(i, true, true);
	if (file < 0) {
		close(fd);
		return true;
	}
	memset(&chans[i], 0, sizeof(chans[i]));
	chans[i].live = true;
	chans[i].senders = 1;
	chans[i].rx_open = true;
	chans[i].capacity = UNBOUNDED;
	if (!expect(mpsc_get_info(fd, &info), 0, "info after open"))
		return false;
	chans[i].id = info.id;
	add_fd(fd, file);
	return true;
}

static bool op_clone(int fd)
{
	struct mfile *f = &files[fd_file[fd]];
	unsigned int flags = O_NONBLOCK | (rnd(2) ? O_CLOEXEC : 0);
	int nfd, file;

	if (nfds >= MAX_FDS)
		return true;
	if (rnd(6) == 0) {
		if (!expect(mpsc_clone(fd, O_NONBLOCK | O_APPEND),
			    -EINVAL, "clone bad flags"))
			return false;
		return true;
	}
	nfd = mpsc_clone(fd, flags);
	if (!f->tx) {
		if (!expect(nfd, -EPIPE, "clone without role"))
			return false;
		return true;
	}
	if (nfd < 0 || nfd >= 1024)
		return fail("clone: %d", nfd);
	file = new_file(f->chan, false, true);
	if (file < 0) {
		/* No room in the model: closing it drops its role again. */
		close(nfd);
		return true;
	}
	chans[f->chan].senders++;
	add_fd(nfd, file);
	return true;
}

static bool op_dup(int fd)
{
	int nfd;

	if (nfds >= MAX_FDS)
		return true;
	nfd = dup(fd);
	if (nfd < 0 || nfd >= 1024)
		return fail("dup: %s", strerror(errno));
	add_fd(nfd, fd_file[fd]);
	return true;
}

static bool op_close(int fd)
{
	int file = fd_file[fd], i;

	if (!expect(close(fd), 0, "close"))
		return false;
	fd_file[fd] = -1;
	for (i = 0; i < nfds; i++)
		if (fds[i] == fd)
			fds[i] = fds[--nfds];
	if (--files[file].fds == 0)
		model_release(file);
	return true;
}

static bool op_disconnect(int fd)
{
	struct mfile *f = &files[fd_file[fd]];

	if (rnd(8) == 0) {
		if (!expect(ioctl(fd, MPSC_IOC_DISCONNECT, 1) < 0 ? -errno : 0,
			    -EINVAL, "disconnect with arg"))
			return false;
		return true;
	}
	if (!expect(mpsc_disc(fd), 0, "disconnect"))
		return false;
	model_drop_tx(f);
	return true;
}

static unsigned int pick_len(void)
{
	switch (rnd(10)) {
	case 0:
		return 0;
	case 1:
		return max_msg;
	case 2:
		return max_msg + 1;
	case 3:
		return rnd(max_msg) + 1;
	default:
		return rnd(64) + 1;
	}
}

static bool op_write(int fd, bool ioctl_path)
{
	struct mfile *f = &files[fd_file[fd]];
	struct mchan *c = &chans[f->chan];
	unsigned int len = pick_len(), tag = next_tag++;
	bool bad_ptr = rnd(12) == 0;
	long long got, want;

	fill(big, len, tag);
	if (ioctl_path)
		got = xfer(fd, MPSC_IOC_SEND, bad_ptr ? bad : big, len, 0);
	else
		got = send_msg(fd, bad_ptr ? bad : big, len);

	if (!len)
		want = 0;
	else if (len > max_msg)
		want = -EMSGSIZE;
	else if (tx_fails(f))
		want = -EPIPE;
	/* Room is checked before the buffer is read. */
	else if (!room(c, len) || !c->capacity)
		want = -EAGAIN;
	else if (bad_ptr)
		want = -EFAULT;
	else
		want = len;
	if (!expect(got, want, ioctl_path ? "MPSC_IOC_SEND" : "write"))
		return false;
	if (want > 0) {
		if (c->n == MAX_QUEUE)
			return fail("model queue full");
		c->q[(c->head + c->n++) % MAX_QUEUE] =
			(struct mmsg){ .len = len, .tag = tag };
		c->bytes += len;
		c->sent++;
	}
	return true;
}

static bool op_read(int fd, bool ioctl_path)
{
	struct mfile *f = &files[fd_file[fd]];
	struct mchan *c = &chans[f->chan];
	struct mmsg *m = c->n ? &c->q[c->head] : NULL;
	unsigned int cap;
	bool bad_ptr = rnd(10) == 0;
	static unsigned char buf[1 << 17], want_buf[1 << 17];
	long long got, want;

	switch (rnd(5)) {
	case 0:
		cap = m && m->len ? m->len - 1 : 0;
		break;
	case 1:
		cap = m ? m->len : 1;
		break;
	default:
		cap = max_msg;
	}
	if (ioctl_path)
		got = xfer(fd, MPSC_IOC_RECV, bad_ptr ? bad : buf, cap, 0);
	else
		got = recv_msg(fd, bad_ptr ? bad : buf, cap);

	if (!f->rx)
		want = -EBADF;
	else if (m && m->len > cap)
		want = -EMSGSIZE;
	else if (m && bad_ptr)
		want = -EFAULT;
	else if (m)
		want = m->len;
	else if (eof(c))
		want = 0;
	else
		want = -EAGAIN;
	if (!expect(got, want, ioctl_path ? "MPSC_IOC_RECV" : "read"))
		return false;
	if (want > 0) {
		fill(want_buf, m->len, m->tag);
		if (memcmp(buf, want_buf, m->len))
			return fail("read: payload of message tag %u differs", m->tag);
		c->head = (c->head + 1) % MAX_QUEUE;
		c->n--;
		c->bytes -= m->len;
		c->received++;
	}
	return true;
}

static bool op_peek(int fd)
{
	struct mfile *f = &files[fd_file[fd]];
	struct mchan *c = &chans[f->chan];
	long long want;

	if (!f->rx)
		want = -EBADF;
	else if (c->n)
		want = c->q[c->head].len;
	else if (eof(c))
		want = 0;
	else
		want = -EAGAIN;
	if (!expect(mpsc_peek(fd), want, "peek"))
		return false;
	return true;
}

static bool op_capacity(int fd)
{
	static const __u64 caps[] = { UNBOUNDED, 0, 1, 2, 5, 100 };
	struct mfile *f = &files[fd_file[fd]];
	__u64 cap = caps[rnd(ARRAY_SIZE(caps))];

	if (!expect(mpsc_set_cap(fd, cap), f->rx ? 0 : -EBADF, "set capacity"))
		return false;
	if (f->rx)
		chans[f->chan].capacity = cap;
	return true;
}

static bool op_close_rx(int fd)
{
	struct mfile *f = &files[fd_file[fd]];

	if (!expect(mpsc_close_rx(fd), f->rx ? 0 : -EBADF, "MPSC_IOC_CLOSE"))
		return false;
	if (f->rx)
		chans[f->chan].closed = true;
	return true;
}

static bool step(void)
{
	int fd = pick_fd();
	unsigned int r = rnd(100);

	if (fd < 0 || r < 4)
		return op_open();
	if (r < 12)
		return op_clone(fd);
	if (r < 15)
		return op_dup(fd);
	if (r < 20 || nfds > MAX_FDS - 4)
		return op_close(fd);
	if (r < 24)
		return op_disconnect(fd);
	if (r < 44)
		return op_write(fd, r & 1);
	if (r < 64)
		return op_read(fd, r & 1);
	if (r < 70)
		return op_peek(fd);
	if (r < 76)
		return check_info(fd);
	if (r < 84)
		return check_poll(fd);
	if (r < 90)
		return op_capacity(fd);
	if (r < 92)
		return op_close_rx(fd);
	return check_info(fd) && check_poll(fd);
}

static void reset(void)
{
	while (nfds)
		close(fds[--nfds]);
	memset(chans, 0, sizeof(chans));
	memset(files, 0, sizeof(files));
	memset(fd_file, -1, sizeof(fd_file));
}

static bool run_seed(unsigned long long seed, unsigned int steps)
{
	unsigned int i;

	rng = seed * 2654435761ULL + 1;
	next_tag = 0;
	reset();
	for (i = 0; i < steps; i++) {
		if (!step()) {
			ksft_print_msg("seed %llu, step %u: %s\n", seed, i, why);
			ksft_print_msg("replay: mpsc_model_test -s %llu -n 1 -k %u\n",
				       seed, steps);
			reset();
			return false;
		}
	}
	reset();
	return true;
}

static long long param(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/mpsc/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return atoll(buf);
}

int main(int argc, char **argv)
{
	const char *env_seeds = getenv("MPSC_MODEL_SEEDS");
	const char *env_steps = getenv("MPSC_MODEL_STEPS");
	unsigned long long seed = 1;
	unsigned int seeds = env_seeds ? atoi(env_seeds) : 40;
	unsigned int steps = env_steps ? atoi(env_steps) : 3000, i;
	int c;

	while ((c = getopt(argc, argv, "s:n:k:v")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			seeds = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			steps = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-s seed] [-n seeds] [-k steps]\n",
				argv[0]);
			return 2;
		}
	}
	ksft_print_header();
	if (access(MPSC_DEV, F_OK))
		ksft_exit_skip(MPSC_DEV " is absent: mpsc.ko is not loaded\n");
	max_msg = param("max_msg_size");
	max_bytes = param("max_queue_bytes");
	if (max_msg > max_bytes)
		max_msg = max_bytes;
	big = malloc(max_msg + 2);
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!big || bad == MAP_FAILED)
		ksft_exit_fail_msg("out of memory\n");
	ksft_set_plan(seeds);
	for (i = 0; i < seeds; i++)
		ksft_test_result(run_seed(seed + i, steps),
				 "model: seed %llu, %u steps\n", seed + i, steps);
	ksft_finished();
}
