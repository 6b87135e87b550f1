/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mpsc internals: the channel, its messages and the handles that files hold.
 *
 * Locking
 * -------
 * Each channel has one spinlock, chan->lock.  It protects the message queue
 * and its counters, the writers' FIFO, the rendezvous offers, the sender
 * count, the receiver's state, the statistics, and every handle's ->tx bit.
 * Nothing sleeps, allocates or touches user memory under it: a send
 * reserves room under the lock, then allocates and copies its message in
 * after dropping it; a receive takes a message under the lock and copies
 * it out after dropping it, then commits (or puts it back) under the lock.
 *
 * Lock order: chan->lock, then the scheduler's locks (wake_up_process() of
 * a writer, always under chan->lock).  Wait-queue wake-ups (readers,
 * pollers) are decided under chan->lock and issued after dropping it.  The
 * per-user counters (user.c) are atomics, and mpsc_users_lock is never
 * taken under chan->lock.
 *
 * Who sleeps where:
 *   readers         chan->rx_wait, exclusively: one wake per message.
 *   writers         chan->tx_waiters, an explicit FIFO.  Only its head may
 *                   take room, and a freed slot wakes only the head, so
 *                   writers are served in arrival order and none starves.
 *   rendezvous      after that, on chan->offers, each until a reader has
 *   writers         copied its message out and committed it.
 *   pollers         chan->rx_wait (receiver) and chan->tx_poll (senders).
 *
 * Lifetime: every file (the receiver and each cloned sender) holds one
 * reference on its channel.  A sleeper holds its file, and so does an
 * asynchronous write that waits on chan->offers (the kiocb's file), so a
 * channel never goes away under a waiter.
 */
#ifndef MPSC_INTERNAL_H
#define MPSC_INTERNAL_H

#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/mpsc.h>

struct file;
struct kiocb;
struct mpsc_tx_waiter;
struct mpsc_user;
struct seq_file;

/* Upper bounds for the limits. */
#define MPSC_MSG_SIZE_LIMIT	SZ_64M
#define MPSC_QUEUE_BYTES_LIMIT	SZ_1G

/* The sysctls of /proc/sys/mpsc/ (main.c). */
extern unsigned int mpsc_max_msg_size;
extern unsigned int mpsc_max_queue_bytes;
extern unsigned long mpsc_max_user_bytes;

/**
 * struct mpsc_msg - one message
 * @node: entry in chan->msgs while queued (chan->lock); empty while it is
 *	being copied in or out, or once it is withdrawn.
 * @sender: on a rendezvous offer, the writer waiting until a reader
 *	commits it (chan->lock); NULL for a buffered message.
 * @handles: the sender roles it carries (constant once queued), released
 *	when the message is freed.
 * @len: payload length, at least 1.
 * @nr_handles: how many, at most MPSC_MAX_HANDLES.
 * @busy: a reader is copying it out (chan->lock).
 * @orphan: its writer withdrew it while a reader was copying it out; that
 *	reader frees it and does not deliver it (chan->lock).
 * @data: the payload: @inline_data, or a buffer of its own.
 * @inline_data: the payload of a message that fits a page with its header.
 */
struct mpsc_msg {
	struct list_head node;
	struct mpsc_tx_waiter *sender;
	struct mpsc_handle **handles;
	u32 len;
	u8 nr_handles;
	bool busy;
	bool orphan;
	u8 *data;
	u8 inline_data[];
};

/**
 * struct mpsc_chan - a channel
 * @lock: protects every field up to @received, and each handle's ->tx.
 * @msgs: queued messages, oldest first.
 * @nr_msgs: messages held: queued, or taken by a reader that has not yet
 *	committed them.  While a taken message can still come back, the
 *	channel is not at end of file.
 * @nr_bytes: their payload bytes.
 * @mem: the memory they really hold, charged to @user.
 * @nr_handles: sender roles riding in them.
 * @resv_msgs: room reserved by sends that are copying their message in.
 * @resv_bytes: payload bytes of those reservations.
 * @tx_waiters: writers sleeping for room, in arrival order.
 * @offers: rendezvous writers waiting for their message to be taken.
 * @nr_once: one-shot (non-blocking) writers among them.
 * @nr_async: asynchronous requests among them.
 * @senders: handles whose ->tx is set.  Once it reaches 0 it stays 0.
 * @rx_idle: readers asleep in mpsc_recv() on an empty queue.
 * @rx_open: the receiver's file has not been released.
 * @closed: the receiver called MPSC_IOC_CLOSE; sends fail from then on.
 * @capacity: message-count limit, 0 for rendezvous, or
 *	MPSC_CAPACITY_UNBOUNDED.
 * @sent: messages accepted so far.
 * @received: messages handed to the receiver so far.
 * @id: unique channel id (constant).
 * @max_bytes: byte limit, from max_queue_bytes at creation (constant).
 * @max_msg: largest message, at most @max_bytes (constant).
 * @user: the user charged for @mem (constant).
 * @exempt: its opener had CAP_SYS_RESOURCE (constant).
 * @rx_wait: readers (exclusive waits) and receiver pollers.
 * @tx_poll: sender pollers.
 * @ref: one reference per file.
 */
struct mpsc_chan {
	spinlock_t lock;	/* see above and the top of this file */
	struct list_head msgs;
	size_t nr_msgs;
	size_t nr_bytes;
	size_t mem;
	size_t nr_handles;
	size_t resv_msgs;
	size_t resv_bytes;
	struct list_head tx_waiters;
	struct list_head offers;
	unsigned int nr_once;
	unsigned int nr_async;
	unsigned int senders;
	unsigned int rx_idle;
	bool rx_open;
	bool closed;
	u64 capacity;
	u64 sent;
	u64 received;

	u64 id;
	size_t max_bytes;
	size_t max_msg;
	struct mpsc_user *user;
	bool exempt;
	wait_queue_head_t rx_wait;
	wait_queue_head_t tx_poll;
	struct kref ref;
};

/**
 * struct mpsc_handle - what a file holds: file->private_data
 * @chan: the channel (one reference).
 * @rx: this file is the receiver (constant).
 * @tx: this file holds a sender role (chan->lock).
 */
struct mpsc_handle {
	struct mpsc_chan *chan;
	bool rx;
	bool tx;
};

/**
 * struct mpsc_batch - a batch receive into packed struct mpsc_rec records
 * @buf: the user buffer.
 * @size: its size.
 * @used: bytes of whole records written so far.
 * @max: at most this many messages, 0 for no limit.
 * @count: messages received so far.
 * @handles: install the sender roles messages carry (else drop them).
 * @o_flags: O_CLOEXEC for installed fds, or 0.
 */
struct mpsc_batch {
	u8 __user *buf;
	size_t size;
	size_t used;
	unsigned int max;
	unsigned int count;
	bool handles;
	unsigned int o_flags;
};

/* chan.c: the channel state machine */
int mpsc_chan_init(void);
void mpsc_chan_exit(void);
struct mpsc_handle *mpsc_chan_create(void);
struct mpsc_handle *mpsc_handle_alloc(struct mpsc_chan *chan);
void mpsc_handle_release(struct mpsc_handle *h);
int mpsc_sender_attach(struct mpsc_handle *from, struct mpsc_handle *to);
void mpsc_disconnect(struct mpsc_handle *h);
/* any sender */
ssize_t mpsc_send(struct mpsc_handle *h, struct iov_iter *from,
		  const int *fds, unsigned int nfds, ktime_t *expires,
		  bool nowait, struct kiocb *iocb);
/* the receiver only */
ssize_t mpsc_recv(struct mpsc_handle *h, struct iov_iter *to,
		  ktime_t *expires, bool nowait, size_t *need);
ssize_t mpsc_recv_batch(struct mpsc_handle *h, struct mpsc_batch *b,
			ktime_t *expires, bool nowait, size_t *need);
int mpsc_peek_len(struct mpsc_handle *h, size_t *len);
void mpsc_set_capacity(struct mpsc_handle *h, u64 capacity);
void mpsc_close(struct mpsc_handle *h);
__poll_t mpsc_poll_mask(struct mpsc_handle *h);
void mpsc_get_info(struct mpsc_handle *h, struct mpsc_info *info);

/* user.c: the per-user ceiling */
struct mpsc_user *mpsc_user_get(void);
void mpsc_user_put(struct mpsc_user *u);
int mpsc_user_charge(struct mpsc_user *u, size_t bytes, bool exempt);
void mpsc_user_uncharge(struct mpsc_user *u, size_t bytes);

/* file.c */
extern const struct file_operations mpsc_fops;
struct file *mpsc_sender_file(struct mpsc_handle *h, unsigned int flags);
int mpsc_sender_fd_check(int fd);
struct mpsc_handle *mpsc_sender_fd_get(int fd);
int mpsc_handles_install(struct mpsc_handle **hs, unsigned int n,
			 unsigned int o_flags, int *fds);
void mpsc_handles_uninstall(const int *fds, unsigned int n);

/* ioctl.c */
long mpsc_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* MPSC_INTERNAL_H */
