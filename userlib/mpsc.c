// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libmpsc: thin wrappers over /dev/mpsc.  Each returns >= 0 or -errno.
 *
 * Signals: each call that sleeps is one system call that the kernel
 * restarts under SA_RESTART, or that fails with EINTR without it (epoll
 * for mpsc_select(): EINTR either way).  No wrapper retries on EINTR, so
 * a handler installed without SA_RESTART always reaches the caller, as it
 * does from read(2) and write(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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
 * mpsc_sync_channel() - create a bounded or rendezvous channel
 * @capacity: at most this many queued messages; 0 for a rendezvous
 *	channel, where a send returns only once a receiver has taken it
 * @flags: O_CLOEXEC and/or O_NONBLOCK, or 0
 *
 * Rust's `sync_channel(capacity)`, tokio's `channel(capacity)`, Go's
 * `make(chan T, capacity)`: mpsc_channel() followed by
 * mpsc_set_capacity().  The byte limit applies as well.
 *
 * Return: the receiver fd, or -errno as mpsc_channel().
 */
MPSC_API int mpsc_sync_channel(uint64_t capacity, int flags)
{
	int fd = mpsc_channel(flags), ret;

	if (fd < 0)
		return fd;
	ret = mpsc_set_capacity(fd, capacity);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/**
 * mpsc_set_capacity() - bound a channel's queue to a number of messages
 * @fd: the receiver
 * @capacity: N >= 1; 0 for rendezvous; MPSC_CAPACITY_UNBOUNDED for no
 *	limit but the byte limit (the default)
 *
 * A send to a full channel sleeps until a slot frees (or fails with
 * -EAGAIN when non-blocking); sleeping senders are served in arrival
 * order.  Changing the capacity never drops a queued message: shrinking
 * only makes senders wait.
 *
 * Return: 0; -EBADF on a sender; -errno.
 */
MPSC_API int mpsc_set_capacity(int fd, uint64_t capacity)
{
	struct mpsc_capacity_args args;

	memset(&args, 0, sizeof(args));
	args.capacity = capacity;
	return ioctl(fd, MPSC_IOC_SET_CAPACITY, &args) < 0 ? neg_errno() : 0;
}

/**
 * mpsc_close() - close a channel to its senders, keeping what is queued
 * @fd: the receiver
 *
 * tokio's `Receiver::close()`: every send from now on fails with -EPIPE,
 * and so do sends asleep now (a rendezvous send not yet taken is
 * withdrawn).  Messages already queued can still be received; then
 * mpsc_recv() returns 0.  This is not close(2): the fd stays open.
 *
 * Return: 0; -EBADF on a sender; -errno.
 */
MPSC_API int mpsc_close(int fd)
{
	return ioctl(fd, MPSC_IOC_CLOSE, 0) < 0 ? neg_errno() : 0;
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
 * non-blocking.  Room is checked before @buf is read, so a refused send
 * costs the same at any size.
 *
 * On a rendezvous channel (capacity 0) the hand-off rule holds: the send
 * succeeds only once a receiver's read has returned the message.  A
 * receiver whose buffer is too small or whose copy faults leaves it to
 * this call, which keeps waiting.
 *
 * Signals, as write(2): a signal whose handler was installed without
 * SA_RESTART ends the sleep with -EINTR and nothing is queued (on a
 * rendezvous channel the message is withdrawn, never delivered later);
 * under SA_RESTART the kernel restarts the send, which goes on waiting.
 * libmpsc never retries by itself.
 *
 * Return: @len; -EPIPE when @fd's sender role is gone or the receiver is
 * closed (no SIGPIPE is raised); -EMSGSIZE; -EFAULT; -EAGAIN; -EDQUOT
 * when the channel's owner is over the per-user limit
 * (/proc/sys/mpsc/max_user_bytes; nothing is queued); -ENOMEM; -EINTR.
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
 * Signals, as read(2): a signal whose handler was installed without
 * SA_RESTART ends the sleep with -EINTR and nothing is consumed; under
 * SA_RESTART the kernel restarts the receive, which goes on waiting.
 * libmpsc never retries by itself.
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

/*
 * MPSC_IOC_SEND or MPSC_IOC_RECV, once.  A timeout of 0 never sleeps.  On
 * a signal the kernel rewrites a relative timeout in x as its absolute
 * deadline, so the SA_RESTART restart of this very ioctl ends when the
 * first attempt would have; without SA_RESTART the -EINTR is returned.
 */
static ssize_t xfer(int fd, unsigned long cmd, const void *buf, size_t len,
		    uint64_t timeout_ns)
{
	struct mpsc_xfer x;
	ssize_t ret;

	memset(&x, 0, sizeof(x));
	x.buf = (uintptr_t)buf;
	x.len = len;
	x.timeout_ns = timeout_ns;
	ret = ioctl(fd, cmd, &x);
	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_try_send() - send one message without sleeping
 * @fd: a sender, blocking or not
 * @buf: the message
 * @len: its length
 *
 * Rust's `SyncSender::try_send()`: -EAGAIN is TrySendError::Full.  On a
 * rendezvous channel it succeeds only when a receiver is already waiting
 * in mpsc_recv() and that receive returns the message; it waits for that
 * one receiver's verdict, and if the receiver cannot take the message
 * (its buffer is too small, its copy faults) it fails with -EAGAIN and
 * nothing stays queued.  It never sleeps for room, and a signal never
 * makes it fail with -EINTR (one that comes while it waits for that
 * verdict withdraws the message: -EAGAIN).
 *
 * Return: @len; -EAGAIN when full; -EPIPE (TrySendError::Disconnected);
 * -EDQUOT over the per-user limit; -EMSGSIZE; -EFAULT.
 */
MPSC_API ssize_t mpsc_try_send(int fd, const void *buf, size_t len)
{
	return xfer(fd, MPSC_IOC_SEND, buf, len, 0);
}

/**
 * mpsc_send_timeout() - send one message, waiting a bounded time for room
 * @fd: a sender
 * @buf: the message
 * @len: its length
 * @timeout_ns: nanoseconds to wait; 0 tries once; MPSC_WAIT_FOREVER waits
 *	without limit
 *
 * On a rendezvous channel the wait lasts until a receiver's read has
 * returned the message; if the time runs out first the message is
 * withdrawn, never delivered later, even if a receiver was copying it out.
 *
 * Signals, as mpsc_send(): a handler installed without SA_RESTART ends
 * the wait with -EINTR and nothing is queued (a rendezvous message is
 * withdrawn).  Under SA_RESTART the kernel restarts the wait, and it
 * still ends at the deadline fixed when the call started: signals
 * neither shorten nor extend it.  Calling again after -EINTR starts a
 * new @timeout_ns.
 *
 * Return: @len; -ETIMEDOUT when the deadline passed (a @timeout_ns of 0
 * included); -EINTR; -EPIPE; -EMSGSIZE; -EFAULT.
 */
MPSC_API ssize_t mpsc_send_timeout(int fd, const void *buf, size_t len,
				   uint64_t timeout_ns)
{
	ssize_t ret = xfer(fd, MPSC_IOC_SEND, buf, len, timeout_ns);

	return ret == -EAGAIN ? -ETIMEDOUT : ret;
}

/**
 * mpsc_try_recv() - receive one message without sleeping
 * @fd: the receiver, blocking or not
 * @buf: where the message goes
 * @cap: size of @buf
 *
 * Rust's `try_recv()`: -EAGAIN is TryRecvError::Empty and 0 is
 * TryRecvError::Disconnected.  It never sleeps, so a signal never makes
 * it fail with -EINTR.
 *
 * Return: the message's length; 0 when disconnected and drained; -EAGAIN
 * when empty; -EMSGSIZE as mpsc_recv().
 */
MPSC_API ssize_t mpsc_try_recv(int fd, void *buf, size_t cap)
{
	return xfer(fd, MPSC_IOC_RECV, buf, cap, 0);
}

/**
 * mpsc_recv_timeout() - receive one message, waiting a bounded time
 * @fd: the receiver
 * @buf: where the message goes
 * @cap: size of @buf
 * @timeout_ns: nanoseconds to wait; 0 tries once; MPSC_WAIT_FOREVER waits
 *	without limit
 *
 * Rust's `recv_timeout()`.
 *
 * Signals, as mpsc_recv(): a handler installed without SA_RESTART ends
 * the wait with -EINTR and nothing is consumed.  Under SA_RESTART the
 * kernel restarts the wait, and it still ends at the deadline fixed when
 * the call started: signals neither shorten nor extend it.  Calling
 * again after -EINTR starts a new @timeout_ns.
 *
 * Return: the message's length; 0 when disconnected and drained;
 * -ETIMEDOUT when the deadline passed with the channel empty (a
 * @timeout_ns of 0 included, as in Rust); -EINTR; -EMSGSIZE as
 * mpsc_recv().
 */
MPSC_API ssize_t mpsc_recv_timeout(int fd, void *buf, size_t cap,
				   uint64_t timeout_ns)
{
	ssize_t ret = xfer(fd, MPSC_IOC_RECV, buf, cap, timeout_ns);

	return ret == -EAGAIN ? -ETIMEDOUT : ret;
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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* epoll_wait() with a nanosecond timeout (NULL: none). */
static int epoll_wait_ns(int ep, struct epoll_event *ev, int n,
			 const struct timespec *ts)
{
	int ret = epoll_pwait2(ep, ev, n, ts, NULL);

	if (ret < 0 && errno == ENOSYS) {
		long ms = -1;

		if (ts)	/* round up, so as not to wake before the deadline */
			ms = ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
		ret = epoll_wait(ep, ev, n, ms > INT_MAX ? INT_MAX : (int)ms);
	}
	return ret;
}

/*
 * Which of @events a poll result @revents makes ready.  An error or a
 * hang-up means the call would not sleep (it would fail or return 0 at
 * once), so it readies both directions.
 */
static unsigned int select_ready(unsigned int events, uint32_t revents)
{
	unsigned int ready = 0;

	if (revents & (EPOLLERR | EPOLLHUP))
		return events;
	if ((events & MPSC_SELECT_RECV) && (revents & EPOLLIN))
		ready |= MPSC_SELECT_RECV;
	if ((events & MPSC_SELECT_SEND) && (revents & EPOLLOUT))
		ready |= MPSC_SELECT_SEND;
	return ready;
}

/**
 * mpsc_select() - wait until one of several channels is ready
 * @items: the cases: an fd and what to wait for on it
 * @n: how many
 * @timeout_ns: nanoseconds to wait; 0 checks once (Go's select with a
 *	default case); MPSC_WAIT_FOREVER waits without limit
 *
 * Like Go's select and crossbeam's Select: waits, on epoll, until a
 * receive (MPSC_SELECT_RECV) or a send (MPSC_SELECT_SEND) on one of the
 * fds would not sleep, then sets every item's @ready and returns one
 * ready case, chosen in turn among the ready ones so that none starves.
 * A receive is ready on a message or at end-of-file (it returns 0); a
 * send is ready when there is room or when it would fail at once
 * (-EPIPE).  Any pollable fd may be a case (a pipe, a socket, an
 * eventfd): RECV then means readable, SEND writable.  Cases with an fd of
 * -1 are skipped.  An fd may appear in several cases.
 *
 * A channel has one consumer: when only this thread receives from a
 * channel, a RECV it reports stays ready until this thread receives, and
 * mpsc_try_recv() will not fail with -EAGAIN.  A SEND report can be used
 * up by another sender of the same channel; follow it with
 * mpsc_try_send() and select again on -EAGAIN.
 *
 * Signals, as poll(2) and epoll_wait(2): a signal handler ends the wait
 * with -EINTR, with or without SA_RESTART, since the kernel never
 * restarts an epoll wait.  Nothing is received or sent, and every @ready
 * is 0.  To wait on, call again with the time that is left.
 *
 * Return: the index of a ready case; -EAGAIN when @timeout_ns is 0 and
 * none is ready; -ETIMEDOUT when the time ran out; -EINTR; -EINVAL for an
 * empty @events or an unknown bit; -errno from epoll.
 */
MPSC_API int mpsc_select(struct mpsc_select_item *items, size_t n,
			 uint64_t timeout_ns)
{
	static __thread unsigned int turn;
	uint64_t deadline = UINT64_MAX;
	struct epoll_event ev[16];
	size_t i, j;
	int ep, ret;

	if (n > INT_MAX || (n && !items))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		items[i].ready = 0;
		if (items[i].fd < 0)
			continue;
		if (!items[i].events ||
		    (items[i].events & ~(MPSC_SELECT_RECV | MPSC_SELECT_SEND)))
			return -EINVAL;
	}
	if (timeout_ns != MPSC_WAIT_FOREVER) {
		deadline = mono_ns() + timeout_ns;
		if (deadline < timeout_ns)
			deadline = UINT64_MAX;
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return neg_errno();
	for (i = 0; i < n; i++) {
		struct epoll_event e = { .data.u64 = i };

		if (items[i].fd < 0)
			continue;
		/* One registration per fd, for what all its cases want. */
		for (j = 0; j < i; j++)
			if (items[j].fd == items[i].fd)
				break;
		if (j < i)
			continue;
		for (j = i; j < n; j++) {
			if (items[j].fd != items[i].fd)
				continue;
			if (items[j].events & MPSC_SELECT_RECV)
				e.events |= EPOLLIN;
			if (items[j].events & MPSC_SELECT_SEND)
				e.events |= EPOLLOUT;
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, items[i].fd, &e) < 0) {
			ret = neg_errno();
			goto out_close;
		}
	}

	for (;;) {
		struct timespec ts, *tsp = NULL;
		uint64_t now = mono_ns();

		if (deadline != UINT64_MAX) {
			uint64_t left = deadline > now ? deadline - now : 0;

			ts.tv_sec = left / 1000000000u;
			ts.tv_nsec = left % 1000000000u;
			tsp = &ts;
		}
		ret = epoll_wait_ns(ep, ev, 16, tsp);
		if (ret > 0)
			break;
		if (ret < 0) {
			ret = neg_errno();
			goto out_close;
		}
		/* Timed out: done, unless epoll_wait() had to clip a long wait. */
		if (mono_ns() >= deadline) {
			ret = timeout_ns ? -ETIMEDOUT : -EAGAIN;
			goto out_close;
		}
	}

	/* Mark every case of every ready fd, then pick one in turn. */
	for (i = 0; i < (size_t)ret; i++) {
		int fd = items[ev[i].data.u64].fd;

		for (j = 0; j < n; j++)
			if (items[j].fd == fd)
				items[j].ready = select_ready(items[j].events,
							      ev[i].events);
	}
	ret = -EAGAIN;
	for (i = 0; i < n; i++) {
		j = (turn + i) % n;
		if (items[j].ready) {
			turn = j + 1;
			ret = (int)j;
			break;
		}
	}
out_close:
	close(ep);
	return ret;
}
