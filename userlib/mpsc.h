/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmpsc: a small C library over /dev/mpsc, Rust-style channels between
 * threads and processes.
 *
 * Every function returns a value >= 0 on success and -errno on failure;
 * errno itself is left as the system call left it.  Flags arguments take
 * O_CLOEXEC and O_NONBLOCK from <fcntl.h>.
 *
 * Signals (EINTR): the calls that can sleep are mpsc_send(), mpsc_recv(),
 * mpsc_send_timeout(), mpsc_recv_timeout(), mpsc_select(),
 * mpsc_selector_wait() and, on a blocking socket, mpsc_sock_send_fd() and
 * mpsc_sock_recv_fd().  A signal
 * handler installed without SA_RESTART that interrupts one makes it
 * return -EINTR, with nothing sent or consumed, exactly as read(2) and
 * write(2) do; libmpsc never retries by itself.  With SA_RESTART the
 * kernel restarts the send or receive, and a _timeout call still ends at
 * the deadline it started with.  mpsc_select() and mpsc_selector_wait()
 * wait in epoll, which the kernel never restarts: they return -EINTR with
 * or without SA_RESTART, as poll(2) does.  The try_ functions and the rest never sleep, so they
 * never return -EINTR.
 */
#ifndef LIBMPSC_H
#define LIBMPSC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/mpsc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The _timeout functions and mpsc_select(): wait without limit. */
#define MPSC_WAIT_FOREVER UINT64_MAX

/* struct mpsc_select_item.events and .ready */
#define MPSC_SELECT_RECV 0x1u	/* a receive would not sleep */
#define MPSC_SELECT_SEND 0x2u	/* a send would not sleep */

/**
 * struct mpsc_select_item - one case of mpsc_select()
 * @fd: a receiver, a sender, or any pollable fd; -1 disables the case
 * @events: MPSC_SELECT_RECV and/or MPSC_SELECT_SEND
 * @ready: out: which of @events are ready
 */
struct mpsc_select_item {
	int fd;
	unsigned int events;
	unsigned int ready;
};

int mpsc_channel(int flags);
int mpsc_sync_channel(uint64_t capacity, int flags);
int mpsc_set_capacity(int fd, uint64_t capacity);
int mpsc_close(int fd);
int mpsc_sender_clone(int fd, int flags);
int mpsc_disconnect(int fd);
ssize_t mpsc_send(int fd, const void *buf, size_t len);
ssize_t mpsc_try_send(int fd, const void *buf, size_t len);
ssize_t mpsc_send_timeout(int fd, const void *buf, size_t len,
			  uint64_t timeout_ns);
ssize_t mpsc_recv(int fd, void *buf, size_t cap);
ssize_t mpsc_try_recv(int fd, void *buf, size_t cap);
ssize_t mpsc_recv_timeout(int fd, void *buf, size_t cap, uint64_t timeout_ns);
ssize_t mpsc_peek_len(int fd);
int mpsc_info(int fd, struct mpsc_info *info);
int mpsc_select(struct mpsc_select_item *items, size_t n, uint64_t timeout_ns);
int mpsc_pipe(int fds[2], int flags);
int mpsc_selector_create(const struct mpsc_select_item *items, size_t n,
			 int flags);
int mpsc_selector_wait(int sel, struct mpsc_select_item *items, size_t n,
		       uint64_t timeout_ns);
int mpsc_sock_send_fd(int sock, int fd);
int mpsc_sock_recv_fd(int sock, int flags);

/* mpsc_recv_batch() flags, beside O_CLOEXEC */
#define MPSC_RECV_HANDLES	0x1

ssize_t mpsc_send_batch(int fd, const void *recs, size_t size,
			unsigned int count, uint64_t timeout_ns);
ssize_t mpsc_recv_batch(int fd, void *recs, size_t size, unsigned int max,
			int flags, uint64_t timeout_ns);
ssize_t mpsc_send_handles(int fd, const void *buf, size_t len,
			  const int *fds, unsigned int nfds);
ssize_t mpsc_recv_handles(int fd, void *buf, size_t cap, int *fds,
			  unsigned int *nfds, int flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBMPSC_H */
