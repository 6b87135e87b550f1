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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
 *
 * Example:
 *	#include <fcntl.h>
 *	#include <pthread.h>
 *	#include <stdio.h>
 *	#include <unistd.h>
 *	#include <mpsc.h>
 *
 *	static void *produce(void *arg)
 *	{
 *		int tx = *(int *)arg;
 *
 *		mpsc_send(tx, "hello", 5);
 *		close(tx);	// drop(tx)
 *		return NULL;
 *	}
 *
 *	int main(void)
 *	{
 *		pthread_t t[3];
 *		int tx[3], rx, i;
 *		char buf[64];
 *		ssize_t n;
 *
 *		rx = mpsc_channel(O_CLOEXEC);
 *		if (rx < 0)
 *			return 1;
 *		for (i = 0; i < 3; i++) {
 *			tx[i] = mpsc_sender_clone(rx, O_CLOEXEC);
 *			pthread_create(&t[i], NULL, produce, &tx[i]);
 *		}
 *		mpsc_disconnect(rx);	// rx only receives from now on
 *		while ((n = mpsc_recv(rx, buf, sizeof(buf))) > 0)
 *			printf("%.*s\n", (int)n, buf);
 *		for (i = 0; i < 3; i++)
 *			pthread_join(t[i], NULL);
 *		return 0;
 *	}
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
 * mpsc_pipe() - create a channel as a receiver fd and a separate sender fd
 * @fds: out: @fds[0] the receiver, @fds[1] a sender, as pipe2(2) fills
 *	its read and write ends
 * @flags: O_CLOEXEC and/or O_NONBLOCK, or 0, applied to both fds
 *
 * Rust's `let (tx, rx) = channel()` as two handles: the receiver's own
 * sender role is dropped at once and @fds[1] is the only sender, so
 * closing it (and every clone of it) ends the receive loop; no
 * mpsc_disconnect() is needed.  mpsc_set_capacity(@fds[0], n) bounds the
 * channel.  mpsc_channel() still returns one fd that is both.
 *
 * Return: 0 with @fds filled; on error @fds is untouched: -EINVAL for
 * other flags; -ENOENT when mpsc.ko is not loaded; -EMFILE, -ENOMEM.
 */
MPSC_API int mpsc_pipe(int fds[2], int flags)
{
	int rx, tx, ret;

	rx = mpsc_channel(flags);
	if (rx < 0)
		return rx;
	tx = mpsc_sender_clone(rx, flags);
	if (tx < 0) {
		close(rx);
		return tx;
	}
	ret = mpsc_disconnect(rx);
	if (ret < 0) {
		close(tx);
		close(rx);
		return ret;
	}
	fds[0] = rx;
	fds[1] = tx;
	return 0;
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

/* The cases are valid: -EINVAL if not. */
static int select_check(const struct mpsc_select_item *items, size_t n)
{
	size_t i;

	if (n > INT_MAX || (n && !items))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (items[i].fd < 0)
			continue;
		if (!items[i].events ||
		    (items[i].events & ~(MPSC_SELECT_RECV | MPSC_SELECT_SEND)))
			return -EINVAL;
	}
	return 0;
}

/*
 * Add every case to the epoll set @ep: one registration per fd, for what
 * all its cases want, keyed by the index of its first case.
 */
static int select_register(int ep, const struct mpsc_select_item *items,
			   size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		struct epoll_event e = { .data.u64 = i };

		if (items[i].fd < 0)
			continue;
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
		if (epoll_ctl(ep, EPOLL_CTL_ADD, items[i].fd, &e) < 0)
			return neg_errno();
	}
	return 0;
}

/*
 * Wait on @ep, registered by select_register() for @items, until a case
 * is ready; set every @ready and return one ready case, in turn.
 */
static int select_wait(int ep, struct mpsc_select_item *items, size_t n,
		       uint64_t timeout_ns)
{
	static __thread unsigned int turn;
	uint64_t deadline = UINT64_MAX;
	struct epoll_event ev[16];
	size_t i, j;
	int ret;

	for (i = 0; i < n; i++)
		items[i].ready = 0;
	if (timeout_ns != MPSC_WAIT_FOREVER) {
		deadline = mono_ns() + timeout_ns;
		if (deadline < timeout_ns)
			deadline = UINT64_MAX;
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
		if (ret < 0)
			return neg_errno();
		/* Timed out: done, unless epoll_wait() had to clip a long wait. */
		if (mono_ns() >= deadline)
			return timeout_ns ? -ETIMEDOUT : -EAGAIN;
	}

	/* Mark every case of every ready fd, then pick one in turn. */
	for (i = 0; i < (size_t)ret; i++) {
		size_t k = ev[i].data.u64;
		int fd;

		if (k >= n)	/* a selector waited on with fewer items */
			continue;
		fd = items[k].fd;
		for (j = 0; j < n; j++)
			if (items[j].fd == fd)
				items[j].ready = select_ready(items[j].events,
							      ev[i].events);
	}
	for (i = 0; i < n; i++) {
		j = (turn + i) % n;
		if (items[j].ready) {
			turn = j + 1;
			return (int)j;
		}
	}
	return -EAGAIN;
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
	int ep, ret;

	ret = select_check(items, n);
	if (ret < 0)
		return ret;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return neg_errno();
	ret = select_register(ep, items, n);
	if (!ret)
		ret = select_wait(ep, items, n, timeout_ns);
	close(ep);
	return ret;
}

/**
 * mpsc_selector_create() - an epoll set for mpsc_selector_wait(), made once
 * @items: the cases, as for mpsc_select(); only @fd and @events are read
 * @n: how many
 * @flags: O_CLOEXEC, or 0
 *
 * mpsc_select() builds an epoll set, waits and drops it on every call.
 * A loop that selects over the same cases again and again makes the set
 * once here and waits on it with mpsc_selector_wait(), which costs one
 * epoll_wait(2) a call.  The selector is an epoll fd: close(2) it when
 * done.  Its cases are fixed: when they change, create a new selector.
 * A case's fd that is closed leaves the set (epoll forgets it), and that
 * case is never reported again.
 *
 * Return: the selector fd; -EINVAL for other flags, for an empty @events
 * or an unknown bit; -errno from epoll (-EBADF for a closed fd, -EPERM
 * for a regular file).
 */
MPSC_API int mpsc_selector_create(const struct mpsc_select_item *items,
				  size_t n, int flags)
{
	int ep, ret;

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	ret = select_check(items, n);
	if (ret < 0)
		return ret;
	ep = epoll_create1(flags & O_CLOEXEC ? EPOLL_CLOEXEC : 0);
	if (ep < 0)
		return neg_errno();
	ret = select_register(ep, items, n);
	if (ret < 0) {
		close(ep);
		return ret;
	}
	return ep;
}

/**
 * mpsc_selector_wait() - wait on a selector until one of its cases is ready
 * @sel: a selector from mpsc_selector_create()
 * @items: the cases it was created with, the same array or a copy in the
 *	same order; each @ready is set as by mpsc_select()
 * @n: how many
 * @timeout_ns: nanoseconds to wait; 0 checks once; MPSC_WAIT_FOREVER
 *	waits without limit
 *
 * mpsc_select() without its set-up: the same readiness rules, the same
 * fair choice among ready cases, the same signal behaviour (-EINTR with
 * or without SA_RESTART, as epoll_wait(2)).
 *
 * Return: the index of a ready case; -EAGAIN when @timeout_ns is 0 and
 * none is ready; -ETIMEDOUT; -EINTR; -EINVAL for bad @items or when @sel
 * is not an epoll fd; -EBADF.
 */
MPSC_API int mpsc_selector_wait(int sel, struct mpsc_select_item *items,
				size_t n, uint64_t timeout_ns)
{
	int ret = select_check(items, n);

	if (ret < 0)
		return ret;
	return select_wait(sel, items, n, timeout_ns);
}

/**
 * mpsc_sock_send_fd() - pass a channel handle over a Unix socket
 * @sock: a connected AF_UNIX socket (stream, datagram or seqpacket)
 * @fd: an mpsc handle, a sender or a receiver
 *
 * Sends one byte with @fd attached as SCM_RIGHTS, so that another process
 * can receive the handle with mpsc_sock_recv_fd().  The peer gets a
 * duplicate: @fd stays open here, and closing it does not close the
 * peer's copy.  A sender passed this way is the same sender (it is not a
 * clone): to give a process a sender of its own, pass a
 * mpsc_sender_clone() and close it here.  No SIGPIPE is raised.
 *
 * Signals: a handler installed without SA_RESTART that interrupts a full
 * socket's wait makes it return -EINTR, with nothing sent.
 *
 * Return: 0; -ENOTTY when @fd is not an mpsc handle; -EBADF; -EPIPE when
 * the peer is gone; -EAGAIN on a full non-blocking socket; -EINTR; or
 * sendmsg(2)'s -errno.
 */
MPSC_API int mpsc_sock_send_fd(int sock, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct mpsc_info info;
	char byte = 'M';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	int ret;

	ret = mpsc_info(fd, &info);
	if (ret < 0)
		return ret;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? neg_errno() : 0;
}

/**
 * mpsc_sock_recv_fd() - receive a channel handle passed over a Unix socket
 * @sock: the AF_UNIX socket mpsc_sock_send_fd() sends on
 * @flags: O_CLOEXEC for a close-on-exec fd, or 0
 *
 * Receives what one mpsc_sock_send_fd() sent and returns the handle's new
 * fd in this process.  Anything that is not exactly one mpsc handle is
 * refused, and every fd that came with it is closed, so a confused or
 * hostile peer cannot leave fds behind.
 *
 * Signals, as recvmsg(2): a handler installed without SA_RESTART ends the
 * wait with -EINTR.
 *
 * Return: the fd; -EPIPE when the peer closed the socket; -EPROTO when
 * the message carried no fd, several, or an fd that is not an mpsc
 * handle; -EINVAL for other flags; -EAGAIN on an empty non-blocking
 * socket; -EINTR; or recvmsg(2)'s -errno.
 */
MPSC_API int mpsc_sock_recv_fd(int sock, int flags)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct mpsc_info info;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	int fd = -1, nfds = 0;
	ssize_t n;
	size_t i;

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	n = recvmsg(sock, &msg, flags & O_CLOEXEC ? MSG_CMSG_CLOEXEC : 0);
	if (n < 0)
		return neg_errno();
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (!nfds++)
				fd = got;
			else
				close(got);
		}
	}
	if (!nfds)
		return n || (msg.msg_flags & MSG_CTRUNC) ? -EPROTO : -EPIPE;
	if (nfds > 1 || (msg.msg_flags & MSG_CTRUNC) || mpsc_info(fd, &info)) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/**
 * mpsc_send_batch() - send many messages in one call
 * @fd: a sender
 * @recs: packed struct mpsc_rec records (MPSC_REC_SIZE() each)
 * @size: bytes of @recs
 * @count: records in @recs, at least 1
 * @timeout_ns: how long to wait for room: 0 tries once; MPSC_WAIT_FOREVER
 *	waits without limit
 *
 * MPSC_IOC_SEND with MPSC_XFER_BATCH.  The records are sent in order, each
 * a message of its own, with the sender fds it lists attached.  The call
 * returns once all are sent, or the first that cannot be (no room within
 * the timeout, a signal, a bad record or fd): the records sent are the
 * first that many, each exactly once, and the next call, from the first
 * unsent record, reports the error.
 *
 * Return: the number of records sent; or, when none was, -EAGAIN (a
 * @timeout_ns of 0), -ETIMEDOUT, -EINTR, -EPIPE, -EMSGSIZE, -EFAULT,
 * -EINVAL (a bad record, or an fd that is not an mpsc sender), -EBADF,
 * -EDQUOT or -ENOMEM.
 */
MPSC_API ssize_t mpsc_send_batch(int fd, const void *recs, size_t size,
				 unsigned int count, uint64_t timeout_ns)
{
	struct mpsc_xfer x;
	ssize_t ret;

	memset(&x, 0, sizeof(x));
	x.buf = (uintptr_t)recs;
	x.len = size;
	x.timeout_ns = timeout_ns;
	x.flags = MPSC_XFER_BATCH;
	x.count = count;
	ret = ioctl(fd, MPSC_IOC_SEND, &x);
	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_recv_batch() - receive many messages in one call
 * @fd: the receiver
 * @recs: where the records go
 * @size: bytes of @recs
 * @max: at most this many messages; 0 for as many as fit
 * @flags: MPSC_RECV_HANDLES to install the sender handles messages carry,
 *	with O_CLOEXEC for close-on-exec fds; or 0 to drop them
 * @timeout_ns: how long to wait for the first message: 0 tries once;
 *	MPSC_WAIT_FOREVER waits without limit
 *
 * tokio's `Receiver::recv_many()`: waits for one message, then takes every
 * further one that is already queued and fits.  Each record is a struct
 * mpsc_rec, its fds and its payload (see MPSC_REC_SIZE()); a message that
 * does not fit, or whose copy faults, stays queued for the next call.
 *
 * Return: the number of messages received; 0 when every sender is gone
 * and the queue is drained; -EMSGSIZE when the first record does not fit
 * @size; -EAGAIN (a @timeout_ns of 0), -ETIMEDOUT, -EINTR, -EFAULT,
 * -EMFILE or -ENOMEM (handles could not be installed: the message stays).
 */
MPSC_API ssize_t mpsc_recv_batch(int fd, void *recs, size_t size,
				 unsigned int max, int flags,
				 uint64_t timeout_ns)
{
	struct mpsc_xfer x;
	ssize_t ret;

	if (flags & ~(MPSC_RECV_HANDLES | O_CLOEXEC))
		return -EINVAL;
	memset(&x, 0, sizeof(x));
	x.buf = (uintptr_t)recs;
	x.len = size;
	x.timeout_ns = timeout_ns;
	x.flags = MPSC_XFER_BATCH;
	if (flags & MPSC_RECV_HANDLES)
		x.flags |= MPSC_XFER_HANDLES;
	if (flags & O_CLOEXEC)
		x.flags |= MPSC_XFER_CLOEXEC;
	x.count = max;
	ret = ioctl(fd, MPSC_IOC_RECV, &x);
	return ret < 0 ? neg_errno() : ret;
}

/**
 * mpsc_send_handles() - send one message carrying sender handles
 * @fd: a sender
 * @buf: the message
 * @len: its length, 1 to max_msg_size
 * @fds: mpsc sender fds to attach: cloned senders, or receivers for their
 *	own sender role
 * @nfds: how many, 0 to MPSC_MAX_HANDLES
 *
 * As mpsc_send(), and each fd of @fds travels in the message as a new
 * sender role of its channel, keeping that channel connected until the
 * message is received and the handle closed, or the message is freed.
 * @fds stay open here: close or disconnect them to leave only the ones in
 * flight.
 *
 * Return: @len; -EINVAL when an fd is not an mpsc fd; -EBADF when it is
 * not open; -EPIPE when it (or @fd) holds no sender role, or the receiver
 * is closed; and the errors of mpsc_send().  Nothing is queued on error.
 */
MPSC_API ssize_t mpsc_send_handles(int fd, const void *buf, size_t len,
				   const int *fds, unsigned int nfds)
{
	size_t size;
	char *rec;
	ssize_t ret;

	if (nfds > MPSC_MAX_HANDLES || len > UINT32_MAX)
		return -EINVAL;
	size = MPSC_REC_SIZE(len, nfds);
	rec = malloc(size);
	if (!rec)
		return -ENOMEM;
	memset(rec, 0, size);
	((struct mpsc_rec *)rec)->len = len;
	((struct mpsc_rec *)rec)->nfds = nfds;
	if (nfds)
		memcpy(rec + sizeof(struct mpsc_rec), fds, nfds * sizeof(int));
	memcpy(rec + sizeof(struct mpsc_rec) + MPSC_REC_FDS_SIZE(nfds), buf,
	       len);
	ret = mpsc_send_batch(fd, rec, size, 1, MPSC_WAIT_FOREVER);
	free(rec);
	return ret == 1 ? (ssize_t)len : ret;
}

/**
 * mpsc_recv_handles() - receive one message and the handles it carries
 * @fd: the receiver
 * @buf: where the message goes
 * @cap: size of @buf
 * @fds: out: the sender fds installed; room for MPSC_MAX_HANDLES
 * @nfds: out: how many
 * @flags: O_CLOEXEC for close-on-exec fds, or 0
 *
 * As mpsc_recv(), and each sender handle the message carries is installed
 * as a new sender fd of this process, all of them or none.  If they
 * cannot be (-EMFILE, -ENOMEM), nothing is installed and the message
 * stays queued.
 *
 * Return: the message's length (with *@nfds set); 0 when every sender is
 * gone and the queue is drained; -EMSGSIZE when @cap is too small (the
 * message stays); -EMFILE; -ENOMEM; -EAGAIN; -EINTR; -EFAULT.
 */
MPSC_API ssize_t mpsc_recv_handles(int fd, void *buf, size_t cap, int *fds,
				   unsigned int *nfds, int flags)
{
	size_t size = MPSC_REC_SIZE(cap, MPSC_MAX_HANDLES);
	struct mpsc_rec *rec;
	ssize_t ret;

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	rec = malloc(size);
	if (!rec)
		return -ENOMEM;
	ret = mpsc_recv_batch(fd, rec, size, 1, MPSC_RECV_HANDLES | flags,
			      MPSC_WAIT_FOREVER);
	if (ret == 1) {
		memcpy(buf, (char *)rec + sizeof(*rec) +
		       MPSC_REC_FDS_SIZE(rec->nfds), rec->len);
		memcpy(fds, rec + 1, rec->nfds * sizeof(int));
		*nfds = rec->nfds;
		ret = rec->len;
	}
	free(rec);
	return ret;
}
