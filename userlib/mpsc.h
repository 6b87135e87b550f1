/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libmpsc: a small C library over /dev/mpsc, Rust-style channels between
 * threads and processes.
 *
 * Every function returns a value >= 0 on success and -errno on failure;
 * errno itself is left as the system call left it.  Flags arguments take
 * O_CLOEXEC and O_NONBLOCK from <fcntl.h>.
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

/* mpsc_recv_timeout(): wait without limit. */
#define MPSC_WAIT_FOREVER UINT64_MAX

int mpsc_channel(int flags);
int mpsc_sender_clone(int fd, int flags);
int mpsc_disconnect(int fd);
ssize_t mpsc_send(int fd, const void *buf, size_t len);
ssize_t mpsc_recv(int fd, void *buf, size_t cap);
ssize_t mpsc_try_recv(int fd, void *buf, size_t cap);
ssize_t mpsc_recv_timeout(int fd, void *buf, size_t cap, uint64_t timeout_ns);
ssize_t mpsc_peek_len(int fd);
int mpsc_info(int fd, struct mpsc_info *info);

#ifdef __cplusplus
}
#endif

#endif /* LIBMPSC_H */
