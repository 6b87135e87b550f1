/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the mpsc kselftests. */
#ifndef MPSC_TEST_H
#define MPSC_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/mpsc.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"

#define MPSC_DEV "/dev/mpsc"

/*
 * Open a new channel; for TEST and FIXTURE_SETUP bodies.  A missing
 * module is caught earlier, in main(): the 6.1 harness does not stop a
 * TEST_F whose setup calls SKIP().
 */
#define mpsc_open_chan(extra_flags) ({					\
	int __fd = open(MPSC_DEV, O_RDWR | O_CLOEXEC | (extra_flags));	\
	ASSERT_LE(0, __fd) TH_LOG("open " MPSC_DEV ": %s", strerror(errno)); \
	__fd;								\
})

/*
 * main() of every mpsc test program: the whole program is skipped, as
 * kselftest expects, when mpsc.ko is not loaded.
 */
static inline int mpsc_test_main(int argc, char **argv)
{
	if (access(MPSC_DEV, F_OK)) {
		ksft_print_header();
		ksft_exit_skip(MPSC_DEV " is absent: mpsc.ko is not loaded\n");
	}
	return test_harness_run(argc, argv);
}

/* ioctl wrappers: the result, or -errno. */
static inline int mpsc_clone(int fd, unsigned int flags)
{
	struct mpsc_clone_args args = { .flags = flags, .fd = -1 };
	int ret = ioctl(fd, MPSC_IOC_CLONE_SENDER, &args);

	return ret < 0 ? -errno : ret;
}

static inline int mpsc_disc(int fd)
{
	return ioctl(fd, MPSC_IOC_DISCONNECT, 0) < 0 ? -errno : 0;
}

static inline int mpsc_get_info(int fd, struct mpsc_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, MPSC_IOC_INFO, info) < 0 ? -errno : 0;
}

static inline long long mpsc_peek(int fd)
{
	struct mpsc_peek_args args = { 0 };

	if (ioctl(fd, MPSC_IOC_PEEK_LEN, &args) < 0)
		return -errno;
	return args.len;
}

/* write()/read() as one call: the result, or -errno. */
static inline ssize_t send_msg(int fd, const void *buf, size_t len)
{
	ssize_t ret = write(fd, buf, len);

	return ret < 0 ? -errno : ret;
}

static inline ssize_t recv_msg(int fd, void *buf, size_t len)
{
	ssize_t ret = read(fd, buf, len);

	return ret < 0 ? -errno : ret;
}

static inline ssize_t send_str(int fd, const char *s)
{
	return send_msg(fd, s, strlen(s));
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* @p, hidden from the compiler's view of what it points to. */
static inline void *opaque(void *p)
{
	__asm__("" : "+r" (p));
	return p;
}

/* An int shared with threads or signal handlers. */
static inline int load(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void store(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/*
 * Wait until task @tid sleeps in a function whose name contains @where
 * (its wchan), so a test acts on a reader or writer that is really
 * asleep.  Returns false after about five seconds.
 */
static inline bool wait_asleep_in(pid_t pid, pid_t tid, const char *where)
{
	char path[64], buf[128];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid, tid);
	for (i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, where))
				return true;
		}
		sleep_ms(1);
	}
	return false;
}

static inline bool wait_asleep_in_mpsc(pid_t pid, pid_t tid)
{
	return wait_asleep_in(pid, tid, "mpsc_");
}

/* Write @val to the file at @path: 0, or -errno. */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A snapshot of the channel of @fd (zeroed if the ioctl fails). */
static inline struct mpsc_info info_of(int fd)
{
	struct mpsc_info info;

	mpsc_get_info(fd, &info);
	return info;
}

/* /proc/sys/mpsc/@name: its value, or -errno when it cannot be opened. */
#define SYSCTL "/proc/sys/mpsc/"

static inline long long read_sysctl(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return atoll(buf);
}

/* Set /proc/sys/mpsc/@name: 0 or -errno. */
static inline int write_sysctl(const char *name, long long v)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SYSCTL "%s", name);
	snprintf(buf, sizeof(buf), "%lld", v);
	return write_file(path, buf);
}

/*
 * The value of "@key:" in /proc/self/fdinfo/@fd: -1 without it, -2 when
 * the file cannot be read.
 */
static inline long long fdinfo_value(int fd, const char *key)
{
	char path[64], line[256];
	long long v = -1;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtoll(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* A blocking call run in a thread, to be woken by the test. */
enum { OP_WRITE, OP_READ, OP_SEND, OP_RECV };

struct op {
	int kind;
	int fd;
	void *buf;		/* NULL: use data */
	size_t len;
	__u64 timeout_ns;	/* OP_SEND, OP_RECV */
	struct mpsc_xfer x;
	pthread_t thread;
	pid_t tid;
	int started;
	ssize_t ret;
	char data[256];
};

static void *op_thread(void *arg)
{
	struct op *o = arg;
	unsigned long cmd = o->kind == OP_SEND ? MPSC_IOC_SEND : MPSC_IOC_RECV;
	void *buf = o->buf ? o->buf : o->data;

	o->tid = gettid_();
	store(&o->started, 1);
	switch (o->kind) {
	case OP_WRITE:
		o->ret = send_msg(o->fd, buf, o->len);
		break;
	case OP_READ:
		o->ret = recv_msg(o->fd, buf, o->len);
		break;
	default:
		o->x.buf = (uintptr_t)buf;
		o->x.len = o->len;
		o->x.timeout_ns = o->timeout_ns;
		o->ret = ioctl(o->fd, cmd, &o->x);
		if (o->ret < 0)
			o->ret = -errno;
	}
	return NULL;
}

/* Run @o in a new thread; true once it sleeps inside mpsc. */
static inline bool op_start(struct op *o)
{
	store(&o->started, 0);
	if (pthread_create(&o->thread, NULL, op_thread, o))
		return false;
	while (!load(&o->started))
		sleep_ms(1);
	return wait_asleep_in_mpsc(getpid(), o->tid);
}

static inline ssize_t op_join(struct op *o)
{
	pthread_join(o->thread, NULL);
	return o->ret;
}

/* MPSC_IOC_SEND / MPSC_IOC_RECV in one call: the result, or -errno. */
static inline ssize_t xfer(int fd, unsigned long cmd, void *buf, size_t len,
			   __u64 timeout_ns)
{
	struct mpsc_xfer x = {
		.buf = (uintptr_t)buf, .len = len, .timeout_ns = timeout_ns,
	};
	ssize_t ret = ioctl(fd, cmd, &x);

	return ret < 0 ? -errno : ret;
}

/*
 * Pack a record of @len bytes of @data and @nfds fds of @fds at @p, as
 * MPSC_XFER_BATCH wants it.  Returns the record's size.
 */
static inline size_t rec_put(void *p, const void *data, __u32 len,
			     const int *fds, __u16 nfds)
{
	struct mpsc_rec rec = { .len = len, .nfds = nfds };
	char *c = p;

	memcpy(c, &rec, sizeof(rec));
	if (nfds)
		memcpy(c + sizeof(rec), fds, nfds * sizeof(int));
	memcpy(c + sizeof(rec) + MPSC_REC_FDS_SIZE(nfds), data, len);
	return MPSC_REC_SIZE(len, nfds);
}

/* The fds and the payload of the record at @p. */
static inline int *rec_fds(void *p)
{
	return (int *)((char *)p + sizeof(struct mpsc_rec));
}

static inline char *rec_data(void *p)
{
	struct mpsc_rec *rec = p;

	return (char *)p + sizeof(*rec) + MPSC_REC_FDS_SIZE(rec->nfds);
}

/* A batch send of @count records in @buf (@size bytes): sent, or -errno. */
static inline ssize_t send_batch(int fd, void *buf, size_t size,
				 unsigned int count, __u64 timeout_ns)
{
	struct mpsc_xfer x = {
		.buf = (uintptr_t)buf, .len = size, .timeout_ns = timeout_ns,
		.flags = MPSC_XFER_BATCH, .count = count,
	};
	ssize_t ret = ioctl(fd, MPSC_IOC_SEND, &x);

	return ret < 0 ? -errno : ret;
}

/* One message carrying @nfds sender fds: its length, or -errno. */
static inline ssize_t send_fds(int fd, const void *data, __u32 len,
			       const int *fds, __u16 nfds)
{
	char buf[256];
	ssize_t ret;

	if (MPSC_REC_SIZE(len, nfds) > sizeof(buf))
		return -E2BIG;
	ret = send_batch(fd, buf, rec_put(buf, data, len, fds, nfds), 1, 0);
	return ret == 1 ? (ssize_t)len : ret;
}

/* A batch receive into @buf: messages received, or -errno. */
static inline ssize_t recv_batch(int fd, void *buf, size_t size,
				 unsigned int count, __u32 flags,
				 __u64 timeout_ns)
{
	struct mpsc_xfer x = {
		.buf = (uintptr_t)buf, .len = size, .timeout_ns = timeout_ns,
		.flags = MPSC_XFER_BATCH | flags, .count = count,
	};
	ssize_t ret = ioctl(fd, MPSC_IOC_RECV, &x);

	return ret < 0 ? -errno : ret;
}

static inline int mpsc_set_cap(int fd, __u64 capacity)
{
	struct mpsc_capacity_args args = { .capacity = capacity };

	return ioctl(fd, MPSC_IOC_SET_CAPACITY, &args) < 0 ? -errno : 0;
}

static inline int mpsc_close_rx(int fd)
{
	return ioctl(fd, MPSC_IOC_CLOSE, 0) < 0 ? -errno : 0;
}

/* Voluntary context switches of one of our threads, or -1. */
static inline long long vol_switches(pid_t tid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "voluntary_ctxt_switches:", 24))
			v = atoll(line + 24);
	fclose(f);
	return v;
}

static void mpsc_test_nop_handler(int sig)
{
	(void)sig;
}

/* Install a no-op handler for @sig, with or without SA_RESTART. */
static inline void catch_signal(int sig, bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mpsc_test_nop_handler;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/*
 * A page whose first touch blocks the toucher, kernel copies included,
 * until the test lets it go on (uffd_resolve) or fail (uffd_fail).
 */
struct uffd_page {
	int uffd;
	char *page;
	size_t size;
};

static inline int uffd_setup(struct uffd_page *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	u->size = sysconf(_SC_PAGESIZE);
	u->page = mmap(NULL, u->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED)
		return -errno;
	u->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->uffd < 0)
		return -errno;
	if (ioctl(u->uffd, UFFDIO_API, &api))
		return -errno;
	reg.range.start = (unsigned long)u->page;
	reg.range.len = u->size;
	if (ioctl(u->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

/* Wait until a thread is stuck on the page: true, or false after 5 s. */
static inline bool uffd_wait_fault(struct uffd_page *u)
{
	struct pollfd pfd = { .fd = u->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 5000) != 1)
		return false;
	return read(u->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Let the stuck copy go on: the page appears, zero-filled. */
static inline int uffd_resolve(struct uffd_page *u)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (unsigned long)u->page, .len = u->size },
	};

	return ioctl(u->uffd, UFFDIO_ZEROPAGE, &zp) ? -errno : 0;
}

/* Make the stuck copy fail: the page goes away, then the copy retries. */
static inline void uffd_fail(struct uffd_page *u)
{
	munmap(u->page, u->size);
	close(u->uffd);
	u->uffd = -1;
}

static inline void uffd_teardown(struct uffd_page *u)
{
	if (u->uffd >= 0) {
		munmap(u->page, u->size);
		close(u->uffd);
	}
}

#endif /* MPSC_TEST_H */
