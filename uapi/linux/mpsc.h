/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * mpsc: multi-producer, single-consumer message channels, /dev/mpsc.
 *
 * open("/dev/mpsc", O_RDWR) creates a channel; the fd is its receiver and
 * one sender.  write() sends one message, read() receives one.  Further
 * senders are cloned with MPSC_IOC_CLONE_SENDER.  When no sender is left
 * and the queue is drained, read() returns 0.
 *
 * Every argument struct has a flags word and reserved space: unknown flags
 * and non-zero reserved bytes are rejected with EINVAL, so they can be
 * given a meaning later.  Structs are a multiple of 8 bytes with no
 * implicit padding; pointers travel as __u64.
 */
#ifndef _UAPI_LINUX_MPSC_H
#define _UAPI_LINUX_MPSC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MPSC_IOC_MAGIC 0xB8

/**
 * struct mpsc_clone_args - argument of %MPSC_IOC_CLONE_SENDER
 * @flags: O_CLOEXEC and/or O_NONBLOCK (the values of <fcntl.h>) for the
 *	new file; any other bit is rejected with EINVAL.
 * @fd: out: the new sender fd, which is also the ioctl's return value.
 * @reserved: must be zero.
 */
struct mpsc_clone_args {
	__u32 flags;
	__s32 fd;
	__u64 reserved[2];
};

/* struct mpsc_info.state bits */
#define MPSC_STATE_RECEIVER	(1U << 0) /* this handle is the receiver */
#define MPSC_STATE_SENDER	(1U << 1) /* this handle holds a sender role */
#define MPSC_STATE_RX_OPEN	(1U << 2) /* the receiver has not been released */
#define MPSC_STATE_CLOSED	(1U << 3) /* the receiver called MPSC_IOC_CLOSE */

/* struct mpsc_info.capacity of a channel bounded only by bytes */
#define MPSC_CAPACITY_UNBOUNDED	(~(__u64)0)

/**
 * struct mpsc_info - argument of %MPSC_IOC_INFO, a snapshot of a channel
 * @flags: in: must be zero.
 * @state: out: %MPSC_STATE_* bits.
 * @id: out: channel id, unique for the life of the system; two fds are
 *	handles of one channel exactly when their ids are equal.
 * @queued_msgs: out: messages held: waiting to be received, or being
 *	copied out by a receive that has not returned yet.
 * @queued_bytes: out: payload bytes of those messages.
 * @max_queue_bytes: out: the channel's byte limit: payload bytes; its
 *	records (an 8-byte header, the payload padded to 8) may take a 64th
 *	more, or a page.
 * @max_msg_size: out: the largest message the channel accepts.
 * @capacity: out: the message-count limit, 0 for a rendezvous channel,
 *	%MPSC_CAPACITY_UNBOUNDED when only the byte limit applies.
 * @senders: out: live sender roles.
 * @sent: out: messages sent since the channel was created.
 * @received: out: messages received since the channel was created.
 * @queued_mem: out: kernel memory those queued messages really hold (their
 *	records: an 8-byte header and the payload padded to 8 bytes; and
 *	the sender handles in flight): what the per-user limit
 *	(/proc/sys/mpsc/max_user_bytes) counts.
 * @queued_handles: out: sender handles riding in those messages (each a
 *	sender role of some channel, in flight).
 * @reserved: in: must be zero; out: zero.
 */
struct mpsc_info {
	__u32 flags;
	__u32 state;
	__u64 id;
	__u64 queued_msgs;
	__u64 queued_bytes;
	__u64 max_queue_bytes;
	__u64 max_msg_size;
	__u64 capacity;
	__u64 senders;
	__u64 sent;
	__u64 received;
	__u64 queued_mem;
	__u64 queued_handles;
	__u64 reserved[4];
};

/**
 * struct mpsc_peek_args - argument of %MPSC_IOC_PEEK_LEN
 * @len: out: length of the next message; 0 when the channel is
 *	disconnected and drained.  An empty channel that still has a sender
 *	fails with EAGAIN instead.
 * @flags: in: must be zero.
 * @reserved: must be zero.
 */
struct mpsc_peek_args {
	__u64 len;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct mpsc_capacity_args - argument of %MPSC_IOC_SET_CAPACITY
 * @capacity: at most this many queued messages; 0 makes the channel a
 *	rendezvous channel; %MPSC_CAPACITY_UNBOUNDED removes the limit.
 * @flags: must be zero.
 * @reserved: must be zero.
 */
struct mpsc_capacity_args {
	__u64 capacity;
	__u32 flags;
	__u32 reserved;
};

/* struct mpsc_xfer.flags */
#define MPSC_XFER_ABSTIME	(1U << 0) /* timeout_ns is a CLOCK_MONOTONIC time */
#define MPSC_XFER_BATCH		(1U << 1) /* buf holds packed struct mpsc_rec */
#define MPSC_XFER_HANDLES	(1U << 2) /* receive: install sender handles */
#define MPSC_XFER_CLOEXEC	(1U << 3) /* receive: installed fds get FD_CLOEXEC */

/* Sender handles one message may carry. */
#define MPSC_MAX_HANDLES	16

/**
 * struct mpsc_rec - one message in a batch (%MPSC_XFER_BATCH)
 * @len: payload bytes.
 * @nfds: send: sender fds attached, at most %MPSC_MAX_HANDLES.  Receive:
 *	handles the message carried.
 * @flags: send: must be zero.  Receive: %MPSC_REC_* bits.
 *
 * Followed by @nfds __s32 fds (send: the fds to attach; receive: the fds
 * installed, or -1 where handles were not asked for), padded to 8 bytes,
 * then the payload, padded to 8 bytes.  MPSC_REC_SIZE() is the size of
 * the whole record; the next one starts right after it.
 */
struct mpsc_rec {
	__u32 len;
	__u16 nfds;
	__u16 flags;
};

/* struct mpsc_rec.flags on receive */
#define MPSC_REC_HANDLES_DROPPED (1U << 0) /* handles were closed, not installed */

#define MPSC_REC_ALIGN(x)	(((x) + 7) & ~(__u64)7)
#define MPSC_REC_FDS_SIZE(nfds)	MPSC_REC_ALIGN(4 * (__u64)(nfds))
#define MPSC_REC_SIZE(len, nfds) \
	(sizeof(struct mpsc_rec) + MPSC_REC_FDS_SIZE(nfds) + MPSC_REC_ALIGN(len))

/* struct mpsc_xfer.timeout_ns: wait as long as it takes */
#define MPSC_TIMEOUT_FOREVER	(~(__u64)0)

/**
 * struct mpsc_xfer - argument of %MPSC_IOC_SEND and %MPSC_IOC_RECV
 * @buf: user pointer to the message (send) or to the buffer (receive).
 * @len: send: message length.  Receive: buffer size; on EMSGSIZE it is
 *	set to the length of the message that did not fit.
 * @timeout_ns: nanoseconds to wait, relative unless %MPSC_XFER_ABSTIME;
 *	%MPSC_TIMEOUT_FOREVER waits without limit.  A relative 0 tries once
 *	and fails with EAGAIN, as O_NONBLOCK does; an absolute deadline that
 *	has already passed (0, say) also tries once, and fails with
 *	ETIMEDOUT.
 *	When a signal interrupts the wait, the kernel rewrites a relative
 *	timeout as its absolute deadline and sets %MPSC_XFER_ABSTIME, so a
 *	restart, automatic (SA_RESTART) or by calling again with the same
 *	struct, ends at the original deadline.
 * @flags: %MPSC_XFER_ABSTIME, %MPSC_XFER_BATCH, %MPSC_XFER_HANDLES (batch
 *	receive only), %MPSC_XFER_CLOEXEC (with %MPSC_XFER_HANDLES); other
 *	bits are reserved.
 * @count: without %MPSC_XFER_BATCH must be zero.  Batch send: the number
 *	of records in @buf (at least 1).  Batch receive: at most this many
 *	messages, 0 for as many as fit.
 * @reserved: must be zero.
 *
 * Success returns the message length; receive returns 0 when the channel
 * is disconnected (or closed) and drained.  With %MPSC_XFER_BATCH, @buf
 * holds packed struct mpsc_rec records, @len is its size, and success
 * returns the number of messages moved: the first that many records of
 * @buf, each whole and exactly once.  A batch receive waits for one
 * message, then takes as many more as are queued and fit.  The fd's
 * O_NONBLOCK flag does not apply: @timeout_ns says how long to wait.
 */
struct mpsc_xfer {
	__aligned_u64 buf;
	__aligned_u64 len;
	__aligned_u64 timeout_ns;
	__u32 flags;
	__u32 count;
	__u64 reserved[2];
};

/* Numbers are never reused: a retired ioctl keeps its number. */
#define MPSC_IOC_CLONE_SENDER	_IOWR(MPSC_IOC_MAGIC, 0x01, struct mpsc_clone_args)
#define MPSC_IOC_DISCONNECT	_IO(MPSC_IOC_MAGIC, 0x02)
#define MPSC_IOC_INFO		_IOWR(MPSC_IOC_MAGIC, 0x03, struct mpsc_info)
#define MPSC_IOC_PEEK_LEN	_IOWR(MPSC_IOC_MAGIC, 0x04, struct mpsc_peek_args)
#define MPSC_IOC_SET_CAPACITY	_IOW(MPSC_IOC_MAGIC, 0x05, struct mpsc_capacity_args)
#define MPSC_IOC_CLOSE		_IO(MPSC_IOC_MAGIC, 0x06)
#define MPSC_IOC_SEND		_IOWR(MPSC_IOC_MAGIC, 0x07, struct mpsc_xfer)
#define MPSC_IOC_RECV		_IOWR(MPSC_IOC_MAGIC, 0x08, struct mpsc_xfer)

#endif /* _UAPI_LINUX_MPSC_H */
