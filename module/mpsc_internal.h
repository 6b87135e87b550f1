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
#include <linux/workqueue.h>
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
 * struct mpsc_ring - a channel's store: packed records in recycled pages
 * @slots: @nr_slots page pointers, NULL where no page is needed (lazily
 *	allocated by the first send, freed with the channel).
 * @nr_slots: the ring's size in pages, a power of two that holds the
 *	channel's max_ring.
 * @head: logical offset of the oldest record still held.
 * @scan: no ready record lies before it.
 * @tail: where the next record goes.
 * @spare: pages for the tail, linked through page->lru: one kept, more
 *	while a send that raced another for pages has some left over.
 * @nr_spare: how many.
 * @nr_pages: pages held: in @slots and on @spare.
 * @nr_reserved: records placed and still being copied in.
 *
 * Records are struct mpsc_rec headers (8 bytes, the batch uapi's) each
 * followed by its payload padded to 8 bytes, at logical offsets that grow
 * for the life of the channel; offset o lives in slot (o / PAGE_SIZE) %
 * nr_slots.  A header never straddles a page; a payload may.  The
 * kernel's record states live in the header's flags (MPSC_SLOT_*).  No
 * kernel pointer is stored in the pages: the sender handles and the
 * rendezvous writer of a record are in a struct mpsc_ext.  Every field is
 * under chan->lock; the bytes of a record belong to the one copying it in
 * or out, without the lock, while it is reserved or busy.
 */
struct mpsc_ring {
	struct page **slots;
	unsigned int nr_slots;
	u64 head;
	u64 scan;
	u64 tail;
	struct list_head spare;
	unsigned int nr_spare;
	unsigned int nr_pages;
	unsigned int nr_reserved;
};

/*
 * Record states, in the flags of a stored struct mpsc_rec.  A record with
 * none is reserved: its writer is copying it in.
 */
#define MPSC_SLOT_READY		0x1	/* queued, for a reader to take */
#define MPSC_SLOT_BUSY		0x2	/* a reader is copying it out */
#define MPSC_SLOT_DEAD		0x4	/* gone: received, withdrawn or failed */
#define MPSC_SLOT_EXT		0x8	/* it has a struct mpsc_ext */

/**
 * struct mpsc_ext - what a record carries besides bytes
 * @node: entry in chan->exts while its record is held (chan->lock).
 * @off: its record's offset (constant).
 * @sender: on a rendezvous offer, the writer waiting until a reader
 *	commits it (chan->lock); NULL for a buffered message.
 * @orphan: its writer withdrew it while a reader was copying it out; that
 *	reader drops it and does not deliver it (chan->lock).
 * @nr_handles: sender roles it carries, at most MPSC_MAX_HANDLES.
 * @handles: the roles, released when the ext is freed.
 */
struct mpsc_ext {
	struct list_head node;
	u64 off;
	struct mpsc_tx_waiter *sender;
	bool orphan;
	unsigned int nr_handles;
	struct mpsc_handle *handles[];
};

/**
 * struct mpsc_chan - a channel
 * @lock: protects every field up to @received, and each handle's ->tx.
 * @ring: the records.
 * @exts: the extras of held records that have them.
 * @nr_msgs: messages held: queued, or taken by a reader that has not yet
 *	committed them.  While a taken message can still come back, the
 *	channel is not at end of file.
 * @nr_bytes: their payload bytes.
 * @mem: the memory held: the ring bytes of held messages (their records:
 *	header and padded payload) and the sender roles in flight, charged
 *	to @user.  A record is charged when its send is admitted, and given
 *	back when it is received.  The ring's pages follow its records (at
 *	most two partly used, and four spares, beyond them) and are charged
 *	to the memory cgroup of the writer that brought them in.
 * @nr_handles: sender roles riding in them.
 * @resv_msgs: room reserved by sends that are copying their message in.
 * @resv_bytes: payload bytes of those reservations.
 * @unplaced: ring bytes of reservations not yet placed in the ring.
 * @tx_waiters: writers sleeping for room, in arrival order.
 * @dem_msgs: how many.
 * @dem_len: the payload bytes they wait for,
 * @dem_size: and the ring bytes: room no other writer takes.
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
 * @max_bytes: limit of the payload bytes held, from max_queue_bytes at
 *	creation (constant).
 * @max_ring: limit of the ring bytes held (records with their headers and
 *	padding): @max_bytes and a sixty-fourth, or a page (constant).
 * @max_msg: largest payload, at most @max_bytes (constant).
 * @user: the user charged for @mem (constant).
 * @exempt: its opener had CAP_SYS_RESOURCE (constant).
 * @rx_wait: readers (exclusive waits) and receiver pollers.
 * @tx_poll: sender pollers.
 * @grant_work: grants room to sleeping writers a little later.
 * @ref: one reference per file.
 */
struct mpsc_chan {
	spinlock_t lock;	/* see above and the top of this file */
	struct mpsc_ring ring;
	struct list_head exts;
	size_t nr_msgs;
	size_t nr_bytes;
	size_t mem;
	size_t nr_handles;
	size_t resv_msgs;
	size_t resv_bytes;
	size_t unplaced;
	struct list_head tx_waiters;
	size_t dem_msgs;
	size_t dem_len;
	size_t dem_size;
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
	size_t max_ring;
	size_t max_msg;
	struct mpsc_user *user;
	bool exempt;
	wait_queue_head_t rx_wait;
	wait_queue_head_t tx_poll;
	struct delayed_work grant_work;
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

/* ring.c: the store's pages */
void mpsc_ring_init(struct mpsc_ring *r, size_t max_bytes);
int mpsc_ring_alloc_slots(struct mpsc_ring *r, struct page ***slots);
unsigned int mpsc_ring_need(const struct mpsc_ring *r, size_t size);
u64 mpsc_ring_place(struct mpsc_ring *r, size_t size);
bool mpsc_ring_unplace(struct mpsc_ring *r, u64 off, size_t size);
void mpsc_ring_advance(struct mpsc_ring *r, u64 head);
void mpsc_ring_detach(struct mpsc_ring *r, struct list_head *pages);
void mpsc_ring_free_pages(struct list_head *pages);
struct mpsc_rec *mpsc_ring_rec(const struct mpsc_ring *r, u64 off);
size_t mpsc_ring_copy_in(const struct mpsc_ring *r, u64 off,
			 struct iov_iter *from, size_t len);
void mpsc_ring_write(const struct mpsc_ring *r, u64 off, const void *src,
		     size_t len);
bool mpsc_ring_copy_out(const struct mpsc_ring *r, u64 off,
			struct iov_iter *to, size_t len);
int mpsc_ring_to_user(const struct mpsc_ring *r, u64 off, u8 __user *dst,
		      size_t len);

/* The ring bytes of a record with @len payload bytes. */
static inline size_t mpsc_rec_size(size_t len)
{
	return sizeof(struct mpsc_rec) + MPSC_REC_ALIGN(len);
}

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
ssize_t mpsc_send_run(struct mpsc_handle *h, const u8 __user *ubuf,
		      size_t avail, unsigned int max, ktime_t *expires,
		      bool nowait, size_t *used);
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
