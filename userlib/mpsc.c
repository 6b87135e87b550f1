// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libmpsc: thin wrappers over /dev/mpsc.  Each returns >= 0 or -errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mpsc.h"

#define MPSC_API __attribute__((visibility("default")))
#define MPSC_FD_FLAGS (O_CLOEXEC | O_NONBLOCK)

static inline int neg_errno(void)
{
	return -errno;
}

/**
 * mpsc_channel() - create a channel
 * @flags: O_CLOEXEC and/or O_NONBLOCK, or 0
 *
 * Opens /dev/mpsc.  The fd is the channel's receiver and also its first
 * sender, like `let (tx, rx) = channel()` in one handle: call
 * mpsc_disconnect() on it once its own sender role is no longer needed,
 * or the receiver never sees end-of-file.
 *
 * Return: the fd; -EINVAL for other flags; -ENOENT when mpsc.ko is not
 * loaded; or open(2)'s -errno.
 */
MPSC_API int mpsc_channel(int flags)
{
	int fd;

	if (flags & ~MPSC_FD_FLAGS)
		return -EINVAL;
	fd = open("/dev/mpsc", O_RDWR | flags);
	return fd < 0 ? neg_errno() : fd;
}

/**
 * mpsc_sender_clone() - add a sender: a new fd for the same channel
 * @fd: any handle of the channel that still holds a sender role
 * @flags: O_CLOEXEC and/or O_NONBLOCK, or 0
 *
 * The new fd is write-only and counts as one more sender until it is
 * closed or disconnected, like Rust's `tx.clone()`.  (dup(2) and fork(2)
 * share a sender instead of adding one.)
 *
 * Return: the new fd; -EPIPE when @fd's sender role is gone (the channel
 * never reconnects); -EINVAL for other flags; -EMFILE, -ENOMEM.
 */
MPSC_API int mpsc_sender_clone(int fd, int flags)
{
	struct mpsc_clone_args args;
	int ret;

	memset(&args, 0, sizeof(args));
	args.flags = flags;
	ret = ioctl(fd, MPSC_IOC_CLONE_SENDER, &args);
	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_disconnect() - drop a sender role now
 * @fd: a sender, or the receiver (which holds a sender role from birth)
 *
 * Rust's `drop(tx)`: later sends through @fd fail with -EPIPE.  When no
 * sender is left, the receiver drains the queue and then reads
 * end-of-file.  Calling it again is harmless.
 *
 * Return: 0, or -errno (-ENOTTY if @fd is not an mpsc fd).
 */
MPSC_API int mpsc_disconnect(int fd)
{
	return ioctl(fd, MPSC_IOC_DISCONNECT, 0) < 0 ? neg_errno() : 0;
}

/**
 * mpsc_send() - send one message
 * @fd: a sender
 * @buf: the message
 * @len: its length, 1 to max_msg_size; 0 sends nothing and returns 0
 *
 * The message is queued whole or not at all.  On a full channel this
 * sleeps until there is room, or fails with -EAGAIN if @fd is
 * non-blocking.
 *
 * Return: @len; -EPIPE when @fd's sender role is gone or the receiver is
 * closed (no SIGPIPE is raised); -EMSGSIZE; -EFAULT; -EAGAIN; -EINTR.
 */
MPSC_API ssize_t mpsc_send(int fd, const void *buf, size_t len)
{
	ssize_t ret = write(fd, buf, len);

	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_recv() - receive one message
 * @fd: the receiver
 * @buf: where the message goes
 * @cap: size of @buf
 *
 * Sleeps while the channel is empty and a sender is left (unless @fd is
 * non-blocking).
 *
 * Return: the message's length; 0 when every sender is gone and the queue
 * is drained (Rust's Disconnected); -EMSGSIZE when @cap is too small (the
 * message stays; mpsc_peek_len() tells its length); -EAGAIN; -EINTR.
 */
MPSC_API ssize_t mpsc_recv(int fd, void *buf, size_t cap)
{
	ssize_t ret = read(fd, buf, cap);

	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_try_recv() - receive one message without sleeping
 * @fd: the receiver, blocking or not
 * @buf: where the message goes
 * @cap: size of @buf
 *
 * Rust's `try_recv()`: -EAGAIN is TryRecvError::Empty and 0 is
 * TryRecvError::Disconnected.
 *
 * Return: the message's length; 0 when disconnected and drained; -EAGAIN
 * when empty; -EMSGSIZE as mpsc_recv().
 */
MPSC_API ssize_t mpsc_try_recv(int fd, void *buf, size_t cap)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	ssize_t ret = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);

	return ret < 0 ? neg_errno() : ret;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/**
 * mpsc_recv_timeout() - receive one message, waiting a bounded time
 * @fd: the receiver
 * @buf: where the message goes
 * @cap: size of @buf
 * @timeout_ns: nanoseconds to wait; 0 tries once; MPSC_WAIT_FOREVER waits
 *	without limit
 *
 * Rust's `recv_timeout()`.  The deadline is fixed on CLOCK_MONOTONIC when
 * the call starts: a signal that interrupts the wait does not end it, and
 * the wait goes on for only the time that remains.
 *
 * Return: the message's length; 0 when disconnected and drained;
 * -ETIMEDOUT when the deadline passed with the channel empty (a
 * @timeout_ns of 0 included, as in Rust); -EMSGSIZE as mpsc_recv().
 */
MPSC_API ssize_t mpsc_recv_timeout(int fd, void *buf, size_t cap,
				   uint64_t timeout_ns)
{
	uint64_t start = mono_ns(), deadline = start + timeout_ns;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t ret;

	if (timeout_ns == MPSC_WAIT_FOREVER || deadline < start)
		deadline = UINT64_MAX;
	for (;;) {
		struct timespec ts, *tsp = NULL;
		uint64_t now, left;

		ret = mpsc_try_recv(fd, buf, cap);
		if (ret != -EAGAIN)
			return ret;
		now = mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (deadline != UINT64_MAX) {
			left = deadline - now;
			ts.tv_sec = left / 1000000000u;
			ts.tv_nsec = left % 1000000000u;
			tsp = &ts;
		}
		/* Readable may be stolen by another thread: just try again. */
		if (ppoll(&pfd, 1, tsp, NULL) < 0 && errno != EINTR)
			return neg_errno();
	}
}

/**
 * mpsc_peek_len() - length of the next message, without taking it
 * @fd: the receiver
 *
 * Use it to size a buffer before mpsc_recv().  It never sleeps.
 *
 * Return: the length (>= 1); 0 when disconnected and drained; -EAGAIN when
 * the channel is empty; -EBADF on a sender.
 */
MPSC_API ssize_t mpsc_peek_len(int fd)
{
	struct mpsc_peek_args args;

	memset(&args, 0, sizeof(args));
	if (ioctl(fd, MPSC_IOC_PEEK_LEN, &args) < 0)
		return neg_errno();
	return args.len;
}

/**
 * mpsc_info() - a snapshot of a channel
 * @fd: any handle of the channel
 * @info: filled in; see <linux/mpsc.h> for the fields
 *
 * Two fds belong to one channel exactly when their @info->id are equal.
 *
 * Return: 0, or -errno.
 */
MPSC_API int mpsc_info(int fd, struct mpsc_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, MPSC_IOC_INFO, info) < 0 ? neg_errno() : 0;
}
