// SPDX-License-Identifier: GPL-2.0
/*
 * The channel state machine: the message queue, sender roles, the receiver,
 * and who sleeps and wakes when.  mpsc_internal.h says what chan->lock
 * protects.
 *
 * The store: messages are records in the channel's ring of recycled pages
 * (ring.c), in the order their sends were admitted.  A record is reserved
 * (its writer copies it in), ready, busy (a reader copies it out) or
 * dead; the head moves past dead records and gives their pages back.
 *
 * Capacity: an unbounded channel is limited by bytes only: its payload
 * bytes, at most max_queue_bytes, and the ring bytes its records take
 * (header and padded payload), at most max_ring, a sixty-fourth (or a
 * page) more: many small messages cost what they really hold.  A
 * bounded one (capacity N) is also limited to N held messages.  Every send is first
 * admitted under the lock (room, and the per-user charge for the handles
 * it carries), then placed at the ring's tail (with the pages it needs,
 * allocated and charged without the lock), then copied in without the
 * lock, and finally made ready under it: a refused send costs the same at
 * any size, and a writer asleep for room holds no message memory.
 *
 * Writers and room: the room that sleeping writers wait for is theirs
 * (chan->dem_*): a running writer takes only what is left beyond it, so it
 * need not sleep behind them, and it cannot starve them.  Sleepers are
 * woken in arrival order and in batches, each with its room already
 * admitted, once half the channel is free or nothing is held: a writer
 * on a full channel sleeps once per half channel, not once per message.
 *
 * Exactly once: a receive takes the first ready record under the lock
 * (busy), copies it out without the lock, and then commits it (dead)
 * under the lock, or makes it ready again where it was when the copy
 * faulted.  Until the commit, the message still counts in nr_msgs, so the
 * limits stay exact and no other reader sees end of file while it can
 * still come back.
 *
 * Rendezvous (capacity 0): a send is an offer.  Its message is queued
 * together with its writer (ext->sender, on chan->offers), and the send
 * succeeds only when a reader has copied the message out and committed
 * it.  Until then the message is the writer's: a reader whose buffer is
 * too small, or whose copy faults, leaves it to the writer, who keeps
 * waiting.  A writer that gives up (a signal, its deadline, the receiver
 * closed or gone) withdraws its offer under the lock; if a reader is
 * copying it out at that moment, the reader finds it orphaned at commit
 * time, frees it and does not deliver it.  So each offer is delivered or
 * withdrawn, never both and never neither.
 *
 * Three kinds of writer make offers:
 *   blocking   sleeps until its offer is committed or withdrawn.
 *   one-shot   a non-blocking send (O_NONBLOCK, a timeout of 0) offers
 *              only when a reader is asleep in read() with nothing on its
 *              way to it, then waits for the verdict of the reader that
 *              takes it: if that reader cannot hold it (buffer too small,
 *              fault), or a signal comes first, or every reader has left
 *              without taking it, the offer is withdrawn and the send
 *              fails with EAGAIN.  The wait lasts as long as that reader's
 *              copy, as a pipe writer waits for the pipe's mutex.
 *   async      the non-blocking first attempt of an asynchronous request
 *              (io_uring) on a file without O_NONBLOCK is queued with its
 *              offer, at most MPSC_MAX_ASYNC per channel, and completed
 *              when the offer is committed (its length), or withdrawn by
 *              the receiver closing or going away (EPIPE).  It cannot be
 *              cancelled otherwise: io_uring waits for it when its task
 *              exits.  An asynchronous request that may block (io_uring's
 *              worker, aio) is a blocking writer.
 *
 * Wake-ups of wait queues (readers, pollers) are decided under chan->lock
 * and issued after it is dropped.  The decision may look at
 * waitqueue_active() without a barrier because every waiter on those
 * queues adds itself before it reads the channel's state under
 * chan->lock: a reader calls prepare_to_wait_exclusive() with the lock
 * held, a poller calls poll_wait() and then takes the lock.  So a waker
 * that holds the lock either sees the waiter on the queue, or the waiter
 * has yet to take the lock and will see the new state itself.  Writers
 * are woken with wake_up_process() under the lock: they set their task
 * state before dropping it (mpsc_sleep()), so no wake-up is lost.
 */

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "mpsc_internal.h"

/* mpsc_tx_waiter.status while its offer waits for a reader. */
#define MPSC_OFFERED	1

/*
 * A writer: on the writer's stack for a blocking or one-shot send,
 * allocated for an async one.  While it waits for room it sits on
 * chan->tx_waiters; on a rendezvous channel it then sits on chan->offers
 * until its message is committed or withdrawn.  Every field but the
 * constant ones is under chan->lock.
 */
struct mpsc_tx_waiter {
	struct list_head node;
	struct task_struct *task;	/* NULL for an async writer */
	struct kiocb *iocb;		/* an async writer's request */
	struct mpsc_handle *h;
	struct mpsc_ext *ext;		/* the offer's; NULL once not ours */
	u64 off;			/* its record, once placed */
	size_t len;			/* payload bytes */
	size_t size;			/* ring bytes */
	unsigned int nr_handles;
	int status;			/* MPSC_OFFERED, 0 taken, or -errno */
	bool once;			/* one-shot: one reader, one try */
	bool granted;			/* woken with its room admitted */
};

/* Wake-ups to issue once chan->lock is dropped. */
#define MPSC_WAKE_RX		BIT(0)	/* one reader and the receiver's pollers */
#define MPSC_WAKE_RX_ALL	BIT(1)	/* every reader: end of file */
#define MPSC_WAKE_TX		BIT(2)	/* sender pollers: room */
#define MPSC_WAKE_TX_ERR	BIT(3)	/* sender pollers: sends fail now */

/*
 * Messages up to this size are copied through the stack: a send copies
 * it in before it takes the lock, and a receive copies it out without
 * page faults before it lets go of the lock, so each holds the lock once.
 */
#define MPSC_SMALL		256

/*
 * Room freed for sleeping writers is granted at once when half the channel
 * is free (or nothing is held), else after this long.
 */
#define MPSC_GRANT_DELAY	msecs_to_jiffies(20)

/* Room for this many messages per writer woken, beyond the first. */
#define MPSC_GRANT_SHARE	128

/* Rendezvous writes queued asynchronously, at most, per channel. */
#define MPSC_MAX_ASYNC		64

/* Extras freed between two cond_resched() calls when a queue is purged. */
#define MPSC_PURGE_BATCH	64

static atomic64_t mpsc_last_id = ATOMIC64_INIT(0);

/*
 * Channels and handles have caches of their own: memory is charged to the
 * creator's cgroup, and kmem_cache_destroy() at unload complains about any
 * object leaked.
 */
static struct kmem_cache *mpsc_chan_cachep;
static struct kmem_cache *mpsc_handle_cachep;

/**
 * mpsc_chan_init() - create the slab caches, at module load
 *
 * Return: 0 or -ENOMEM.
 */
int mpsc_chan_init(void)
{
	mpsc_chan_cachep = KMEM_CACHE(mpsc_chan, SLAB_ACCOUNT);
	mpsc_handle_cachep = KMEM_CACHE(mpsc_handle, SLAB_ACCOUNT);
	if (!mpsc_chan_cachep || !mpsc_handle_cachep) {
		mpsc_chan_exit();
		return -ENOMEM;
	}
	return 0;
}

/**
 * mpsc_chan_exit() - destroy the slab caches, at module unload
 */
void mpsc_chan_exit(void)
{
	kmem_cache_destroy(mpsc_handle_cachep);
	kmem_cache_destroy(mpsc_chan_cachep);
}

/*
 * What the extras of a message with @nr_handles sender roles really hold:
 * the struct mpsc_ext as kmalloc rounds it, and a handle per role.  A
 * rendezvous offer's ext without handles belongs to its waiting writer and
 * is not counted.  The per-user ceiling counts this, and the ring's pages.
 */
static size_t mpsc_ext_cost(unsigned int nr_handles)
{
	if (!nr_handles)
		return 0;
	return kmalloc_size_roundup(struct_size((struct mpsc_ext *)NULL,
						handles, nr_handles)) +
	       nr_handles * kmem_cache_size(mpsc_handle_cachep);
}

/* The extras of a message, charged to the caller's memory cgroup. */
static struct mpsc_ext *mpsc_ext_alloc(unsigned int nr_handles)
{
	struct mpsc_ext *ext;

	ext = kmalloc(struct_size(ext, handles, nr_handles),
		      GFP_KERNEL_ACCOUNT);
	if (!ext)
		return NULL;
	INIT_LIST_HEAD(&ext->node);
	ext->off = 0;
	ext->sender = NULL;
	ext->orphan = false;
	ext->nr_handles = 0;
	return ext;
}

/*
 * Free @ext, releasing the sender roles it carries: never under a
 * channel's lock, since releasing a role takes its channel's.
 */
static void mpsc_ext_free(struct mpsc_ext *ext)
{
	unsigned int i;

	if (!ext)
		return;
	for (i = 0; i < ext->nr_handles; i++)
		mpsc_handle_release(ext->handles[i]);
	kfree(ext);
}

/* Free the extras on @list, yielding now and then. */
static void mpsc_ext_free_list(struct list_head *list)
{
	struct mpsc_ext *ext, *next;
	unsigned int n = 0;

	list_for_each_entry_safe(ext, next, list, node) {
		mpsc_ext_free(ext);
		if (!(++n % MPSC_PURGE_BATCH))
			cond_resched();
	}
}

/* The extras of the held record at @off. */
static struct mpsc_ext *mpsc_ext_find(struct mpsc_chan *chan, u64 off)
{
	struct mpsc_ext *ext;

	lockdep_assert_held(&chan->lock);
	list_for_each_entry(ext, &chan->exts, node)
		if (ext->off == off)
			return ext;
	WARN_ON_ONCE(1);
	return NULL;
}

static void mpsc_grant_work(struct work_struct *work);

static void mpsc_chan_free(struct kref *ref)
{
	struct mpsc_chan *chan = container_of(ref, struct mpsc_chan, ref);

	/* The receiver's release emptied the queue; waiters hold files. */
	WARN_ON_ONCE(!list_empty(&chan->exts));
	WARN_ON_ONCE(!list_empty(&chan->tx_waiters));
	WARN_ON_ONCE(!list_empty(&chan->offers));
	WARN_ON_ONCE(chan->nr_msgs || chan->mem || chan->resv_msgs);
	WARN_ON_ONCE(chan->ring.nr_pages || chan->ring.nr_reserved);
	/* No writer is left to grant, but the work may be pending. */
	cancel_delayed_work_sync(&chan->grant_work);
	kvfree(chan->ring.slots);
	mpsc_user_put(chan->user);
	kmem_cache_free(mpsc_chan_cachep, chan);
}

/**
 * mpsc_chan_create() - create a channel and its receiver handle
 *
 * The receiver also holds the channel's first sender role.  The limits
 * are sampled from the sysctls now and stay fixed for the channel's life;
 * its queued memory is charged to the calling task's real user.  The
 * ring gets its memory with the first send.
 *
 * Return: the receiver's handle, or ERR_PTR(-ENOMEM).
 */
struct mpsc_handle *mpsc_chan_create(void)
{
	struct mpsc_chan *chan;
	struct mpsc_handle *h;

	chan = kmem_cache_zalloc(mpsc_chan_cachep, GFP_KERNEL);
	if (!chan)
		return ERR_PTR(-ENOMEM);
	h = kmem_cache_zalloc(mpsc_handle_cachep, GFP_KERNEL);
	if (!h)
		goto out_free_chan;
	chan->user = mpsc_user_get();
	if (!chan->user)
		goto out_free_handle;

	spin_lock_init(&chan->lock);
	INIT_LIST_HEAD(&chan->exts);
	INIT_LIST_HEAD(&chan->tx_waiters);
	INIT_LIST_HEAD(&chan->offers);
	chan->senders = 1;
	chan->rx_open = true;
	chan->capacity = MPSC_CAPACITY_UNBOUNDED;
	chan->id = atomic64_inc_return(&mpsc_last_id);
	chan->max_bytes = READ_ONCE(mpsc_max_queue_bytes);
	chan->max_msg = min_t(size_t, READ_ONCE(mpsc_max_msg_size),
			      chan->max_bytes);
	chan->max_ring = chan->max_bytes +
			 max_t(size_t, chan->max_bytes / 64, PAGE_SIZE);
	mpsc_ring_init(&chan->ring, chan->max_ring);
	chan->exempt = has_capability_noaudit(current, CAP_SYS_RESOURCE);
	init_waitqueue_head(&chan->rx_wait);
	init_waitqueue_head(&chan->tx_poll);
	INIT_DELAYED_WORK(&chan->grant_work, mpsc_grant_work);
	kref_init(&chan->ref);

	h->chan = chan;
	h->rx = true;
	h->tx = true;
	return h;

out_free_handle:
	kmem_cache_free(mpsc_handle_cachep, h);
out_free_chan:
	kmem_cache_free(mpsc_chan_cachep, chan);
	return ERR_PTR(-ENOMEM);
}

/**
 * mpsc_handle_alloc() - a new handle on @chan with no role yet
 * @chan: the channel, which gains a reference
 *
 * mpsc_sender_attach() gives it a sender role once its file exists.
 *
 * Return: the handle, or NULL when out of memory.
 */
struct mpsc_handle *mpsc_handle_alloc(struct mpsc_chan *chan)
{
	struct mpsc_handle *h;

	h = kmem_cache_zalloc(mpsc_handle_cachep, GFP_KERNEL);
	if (!h)
		return NULL;
	kref_get(&chan->ref);
	h->chan = chan;
	return h;
}

/*
 * Is anyone waiting on @wq, one of @chan's wait queues?  Only with
 * chan->lock held: then the barrier-less look is safe, see the top of
 * this file.
 */
static bool mpsc_waiting(struct mpsc_chan *chan, struct wait_queue_head *wq)
{
	lockdep_assert_held(&chan->lock);
	/* Waiters enqueue before they read state under chan->lock. */
	return waitqueue_active(wq);
}

/*
 * Readers are woken as a pipe wakes its reader: with a sync wake-up, a
 * hint that the waker is about to yield, so that on one CPU the reader
 * does not preempt a writer that still has messages to send.
 */
static void mpsc_wake(struct mpsc_chan *chan, unsigned int wake)
{
	if (wake & MPSC_WAKE_RX_ALL)
		__wake_up(&chan->rx_wait, TASK_INTERRUPTIBLE, 0,
			  poll_to_key(EPOLLIN | EPOLLRDNORM | EPOLLHUP));
	else if (wake & MPSC_WAKE_RX)
		wake_up_interruptible_sync_poll(&chan->rx_wait,
						EPOLLIN | EPOLLRDNORM);
	if (wake & MPSC_WAKE_TX_ERR)
		wake_up_interruptible_poll(&chan->tx_poll,
					   EPOLLOUT | EPOLLWRNORM | EPOLLERR);
	else if (wake & MPSC_WAKE_TX)
		wake_up_interruptible_poll(&chan->tx_poll,
					   EPOLLOUT | EPOLLWRNORM);
}

/*
 * Drop chan->lock, issue @wake, sleep until woken, signalled or past
 * @expires (absolute CLOCK_MONOTONIC, or NULL for no deadline), and take
 * the lock again.  Return: true once @expires has passed.
 */
static bool mpsc_sleep(struct mpsc_chan *chan, unsigned int wake,
		       ktime_t *expires)
	__must_hold(&chan->lock)
{
	bool expired;

	/*
	 * Whoever wakes a writer holds chan->lock: with the state set
	 * before the lock is dropped, no wake_up_process() can be lost.
	 */
	__set_current_state(TASK_INTERRUPTIBLE);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	expired = !schedule_hrtimeout_range(expires, current->timer_slack_ns,
					    HRTIMER_MODE_ABS);
	spin_lock(&chan->lock);
	return expired;
}

/* Ring bytes held, placed or only admitted. */
static size_t mpsc_used(const struct mpsc_chan *chan)
{
	return chan->ring.tail - chan->ring.head + chan->unplaced;
}

/*
 * Could a message of @w->len bytes (@w->size ring bytes) be admitted now?
 * @dem: leave alone the room sleeping writers wait for (a running
 * writer), or not (the sleepers themselves, granted in arrival order).
 */
static bool mpsc_room(const struct mpsc_chan *chan,
		      const struct mpsc_tx_waiter *w, bool dem)
{
	size_t bytes = chan->nr_bytes + chan->resv_bytes;
	size_t used = mpsc_used(chan);
	u64 msgs = chan->nr_msgs + chan->resv_msgs;

	lockdep_assert_held(&chan->lock);
	if (dem) {
		bytes += chan->dem_len;
		used += chan->dem_size;
		msgs += chan->dem_msgs;
	}
	/* w->len <= max_msg <= max_bytes, w->size < max_ring. */
	if (bytes > chan->max_bytes - w->len ||
	    used > chan->max_ring - w->size)
		return false;
	/*
	 * A rendezvous channel counts bytes only: each of its messages has
	 * a writer waiting until it is taken.
	 */
	return !chan->capacity || msgs < chan->capacity;
}

/*
 * Time to wake sleeping writers: half the channel is free, or nothing is
 * held (so a writer wanting more than half is not kept waiting).
 */
static bool mpsc_refill(const struct mpsc_chan *chan)
{
	u64 msgs = chan->nr_msgs + chan->resv_msgs;

	if (!msgs)
		return true;
	if (chan->nr_bytes + chan->resv_bytes > chan->max_bytes / 2 ||
	    mpsc_used(chan) > chan->max_ring / 2)
		return false;
	return chan->capacity == MPSC_CAPACITY_UNBOUNDED ||
	       msgs <= chan->capacity / 2;
}

/*
 * Rendezvous: is a reader asleep in read() with no message on its way to
 * it?  Held and reserved messages all count against the idle readers.
 */
static bool mpsc_rx_free(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return chan->rx_idle > chan->nr_msgs + chan->resv_msgs;
}

/* Would a write of any valid size succeed without sleeping for room? */
static bool mpsc_tx_ready(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	struct mpsc_tx_waiter biggest = {
		.len = chan->max_msg,
		.size = mpsc_rec_size(chan->max_msg),
	};

	if (!mpsc_room(chan, &biggest, true))
		return false;
	return chan->capacity || mpsc_rx_free(chan);
}

/* Why a send through @h must fail now, or 0. */
static int mpsc_tx_error(const struct mpsc_handle *h)
{
	const struct mpsc_chan *chan = h->chan;

	lockdep_assert_held(&chan->lock);
	if (!h->tx || !chan->rx_open || chan->closed)
		return -EPIPE;
	return 0;
}

/*
 * Nothing is held and nothing more can be: end of file.  A message being
 * copied out still counts, since a fault puts it back; a reservation does
 * not, since it can no longer be queued.
 */
static bool mpsc_eof(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return !chan->nr_msgs && (!chan->senders || chan->closed);
}

/*
 * Admit a send of @w->size ring bytes and the handles it carries, both
 * charged to the channel's user.  Return: 0, or -EDQUOT with nothing
 * admitted.
 */
static int mpsc_reserve(struct mpsc_chan *chan, struct mpsc_tx_waiter *w)
{
	int ret;

	lockdep_assert_held(&chan->lock);
	ret = mpsc_user_charge(chan->user,
			       w->size + mpsc_ext_cost(w->nr_handles),
			       chan->exempt);
	if (ret)
		return ret;
	chan->resv_msgs++;
	chan->resv_bytes += w->len;
	chan->unplaced += w->size;
	return 0;
}

/* Pollers to wake now that a write may no longer sleep. */
static unsigned int mpsc_tx_room_wake(struct mpsc_chan *chan)
{
	if (mpsc_waiting(chan, &chan->tx_poll) && mpsc_tx_ready(chan))
		return MPSC_WAKE_TX;
	return 0;
}

/*
 * Is there room, beyond what is held and admitted, for @n messages like
 * @w's?
 */
static bool mpsc_room_n(const struct mpsc_chan *chan,
			const struct mpsc_tx_waiter *w, unsigned int n)
{
	if (chan->nr_bytes + chan->resv_bytes + (u64)n * w->len >
	    chan->max_bytes ||
	    mpsc_used(chan) + (u64)n * w->size > chan->max_ring)
		return false;
	return !chan->capacity ||
	       chan->nr_msgs + chan->resv_msgs + n <= chan->capacity;
}

/*
 * Wake sleeping writers in arrival order: each wakes with its room
 * admitted (or -EDQUOT), so no running writer can take it meanwhile.  The
 * first that fits is woken, and each next one only while there is room
 * for MPSC_GRANT_SHARE more of its messages: a woken writer can go on
 * sending, so few writers sleep and wake per message; the others wait
 * their turn in the FIFO.  Unless @now, only when it is time (mpsc_refill()); if room
 * is waiting for them before that, chan->grant_work grants it a little
 * later, so a writer is never kept asleep for long by a reader that has
 * stopped reading.
 */
static void mpsc_tx_grant(struct mpsc_chan *chan, bool now)
{
	struct mpsc_tx_waiter *w, *next, *first;
	bool granted = false;

	lockdep_assert_held(&chan->lock);
	first = list_first_entry_or_null(&chan->tx_waiters,
					 struct mpsc_tx_waiter, node);
	if (!first)
		return;
	if (!now && !mpsc_refill(chan)) {
		if (mpsc_room(chan, first, false))
			schedule_delayed_work(&chan->grant_work,
					      MPSC_GRANT_DELAY);
		return;
	}
	list_for_each_entry_safe(w, next, &chan->tx_waiters, node) {
		/* Wake another only if it has room to keep sending. */
		if (granted && !mpsc_room_n(chan, w, MPSC_GRANT_SHARE))
			break;
		if (!mpsc_room(chan, w, false))
			break;
		list_del_init(&w->node);
		chan->dem_msgs--;
		chan->dem_len -= w->len;
		chan->dem_size -= w->size;
		w->status = mpsc_reserve(chan, w);
		w->granted = true;
		granted |= !w->status;
		wake_up_process(w->task);
	}
}

/* chan->grant_work: room has waited for sleeping writers long enough. */
static void mpsc_grant_work(struct work_struct *work)
{
	struct mpsc_chan *chan = container_of(to_delayed_work(work),
					      struct mpsc_chan, grant_work);
	unsigned int wake;

	spin_lock(&chan->lock);
	mpsc_tx_grant(chan, true);
	wake = mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
}

/*
 * Room was given back (a message committed or withdrawn, a reservation
 * dropped): pass it to sleeping writers, tell pollers, and wake every
 * reader if that was the last thing standing between them and end of
 * file.  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_room_freed(struct mpsc_chan *chan)
{
	unsigned int wake;

	mpsc_tx_grant(chan, false);
	wake = mpsc_tx_room_wake(chan);
	if (mpsc_eof(chan) && mpsc_waiting(chan, &chan->rx_wait))
		wake |= MPSC_WAKE_RX_ALL;
	return wake;
}

/* Move the ring's head past the dead records at its head. */
static void mpsc_reclaim(struct mpsc_chan *chan)
{
	struct mpsc_ring *r = &chan->ring;
	struct mpsc_rec *hdr;
	u64 head = r->head;

	lockdep_assert_held(&chan->lock);
	while (head < r->tail) {
		hdr = mpsc_ring_rec(r, head);
		if (!(hdr->flags & MPSC_SLOT_DEAD))
			break;
		head += mpsc_rec_size(hdr->len);
	}
	if (head != r->head)
		mpsc_ring_advance(r, head);
}

/*
 * Once the receiver is gone and no send is copying in, the ring's records
 * are all garbage: its pages go to @pages, to free without the lock.
 */
static void mpsc_ring_gone(struct mpsc_chan *chan, struct list_head *pages)
{
	lockdep_assert_held(&chan->lock);
	if (!chan->rx_open && !chan->ring.nr_reserved)
		mpsc_ring_detach(&chan->ring, pages);
}

/*
 * Give back an admission that was never placed.  Return: the wake-ups it
 * calls for.
 */
static unsigned int mpsc_unreserve(struct mpsc_chan *chan,
				   struct mpsc_tx_waiter *w,
				   struct list_head *pages)
{
	lockdep_assert_held(&chan->lock);
	chan->resv_msgs--;
	chan->resv_bytes -= w->len;
	chan->unplaced -= w->size;
	mpsc_user_uncharge(chan->user, w->size + mpsc_ext_cost(w->nr_handles));
	mpsc_ring_gone(chan, pages);
	return mpsc_room_freed(chan);
}

/*
 * Get @n pages (and the slot array, the first time) for the ring's spares,
 * charged to the caller's memory cgroup, with chan->lock dropped around
 * the allocation.  Return: 0 or -ENOMEM.
 */
static int mpsc_grow(struct mpsc_chan *chan, unsigned int n)
	__must_hold(&chan->lock)
{
	struct mpsc_ring *r = &chan->ring;
	struct page **slots = NULL;
	struct page *page, *next;
	LIST_HEAD(pages);
	unsigned int i;
	int ret = 0;

	spin_unlock(&chan->lock);
	if (!READ_ONCE(r->slots)) {
		ret = mpsc_ring_alloc_slots(r, &slots);
		if (ret)
			goto out_lock;
		/* Another send may have installed one meanwhile. */
		if (cmpxchg(&r->slots, NULL, slots))
			kvfree(slots);
	}
	for (i = 0; i < n; i++) {
		page = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!page) {
			list_for_each_entry_safe(page, next, &pages, lru)
				__free_page(page);
			ret = -ENOMEM;
			goto out_lock;
		}
		list_add(&page->lru, &pages);
	}
out_lock:
	spin_lock(&chan->lock);
	if (!ret && n) {
		list_splice(&pages, &r->spare);
		r->nr_spare += n;
		r->nr_pages += n;
	}
	return ret;
}

/*
 * Place the admitted send @w at the ring's tail, as a reserved record with
 * its header written, its pages taken from the spares, which are refilled
 * without the lock when short.  Return: 0, or -ENOMEM with @w still only
 * admitted.
 */
static int mpsc_place(struct mpsc_chan *chan, struct mpsc_tx_waiter *w)
	__must_hold(&chan->lock)
{
	struct mpsc_ring *r = &chan->ring;
	static const u64 zero;
	struct mpsc_rec *hdr;
	unsigned int need;
	int ret;

	for (;;) {
		need = 0;
		if (r->slots) {
			need = mpsc_ring_need(r, w->size);
			if (need <= r->nr_spare)
				break;
			need -= r->nr_spare;
		}
		ret = mpsc_grow(chan, need);
		if (ret)
			return ret;
	}
	chan->unplaced -= w->size;
	w->off = mpsc_ring_place(r, w->size);
	hdr = mpsc_ring_rec(r, w->off);
	hdr->len = w->len;
	hdr->nfds = w->nr_handles;
	hdr->flags = 0;
	/*
	 * The padding goes out with a batch receive: never what the page
	 * held before.  The last word is 8-aligned, so it is in one page.
	 */
	if (w->len & 7)
		mpsc_ring_write(r, w->off + w->size - sizeof(zero), &zero,
				sizeof(zero));
	return 0;
}

/*
 * A placed send that will not be queued: its record dies.  Return: the
 * wake-ups it calls for.
 */
static unsigned int mpsc_unplace(struct mpsc_chan *chan,
				 struct mpsc_tx_waiter *w,
				 struct list_head *pages)
{
	lockdep_assert_held(&chan->lock);
	if (!mpsc_ring_unplace(&chan->ring, w->off, w->size))
		mpsc_ring_rec(&chan->ring, w->off)->flags = MPSC_SLOT_DEAD;
	mpsc_reclaim(chan);
	chan->ring.nr_reserved--;
	chan->resv_msgs--;
	chan->resv_bytes -= w->len;
	mpsc_user_uncharge(chan->user, w->size + mpsc_ext_cost(w->nr_handles));
	mpsc_ring_gone(chan, pages);
	return mpsc_room_freed(chan);
}

/*
 * Make @w's record ready, with @ext (or NULL), turning its reservation
 * into a held message.  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_enqueue(struct mpsc_chan *chan,
				 struct mpsc_tx_waiter *w, struct mpsc_ext *ext)
{
	struct mpsc_ring *r = &chan->ring;
	struct mpsc_rec *hdr = mpsc_ring_rec(r, w->off);
	size_t cost;

	lockdep_assert_held(&chan->lock);
	r->nr_reserved--;
	chan->resv_msgs--;
	chan->resv_bytes -= w->len;
	chan->nr_msgs++;
	chan->nr_bytes += w->len;
	chan->mem += w->size;
	hdr->flags = MPSC_SLOT_READY;
	if (ext) {
		cost = mpsc_ext_cost(ext->nr_handles);
		ext->off = w->off;
		list_add_tail(&ext->node, &chan->exts);
		chan->nr_handles += ext->nr_handles;
		chan->mem += cost;
		hdr->flags |= MPSC_SLOT_EXT;
	}
	r->scan = min(r->scan, w->off);
	/* A rendezvous send is counted when a reader commits it. */
	if (!ext || !ext->sender)
		chan->sent++;
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

/*
 * The held record at @off, with its extras @ext (or NULL), no longer
 * queued nor being copied out, dies and stops counting; @ext leaves
 * chan->exts for its owner to free.  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_uncount(struct mpsc_chan *chan, u64 off,
				 struct mpsc_ext *ext)
{
	struct mpsc_rec *hdr = mpsc_ring_rec(&chan->ring, off);
	size_t cost = mpsc_rec_size(hdr->len);

	lockdep_assert_held(&chan->lock);
	chan->nr_msgs--;
	chan->nr_bytes -= hdr->len;
	hdr->flags = MPSC_SLOT_DEAD;
	if (ext) {
		cost += mpsc_ext_cost(ext->nr_handles);
		list_del_init(&ext->node);
		chan->nr_handles -= ext->nr_handles;
	}
	chan->mem -= cost;
	mpsc_user_uncharge(chan->user, cost);
	mpsc_reclaim(chan);
	return mpsc_room_freed(chan);
}

/* Is the record at @off being copied out? */
static bool mpsc_busy(const struct mpsc_chan *chan, u64 off)
{
	return mpsc_ring_rec(&chan->ring, off)->flags & MPSC_SLOT_BUSY;
}

/*
 * Withdraw the offer of writer @w: its send fails with @err.  The message
 * dies; a blocking writer frees its extras itself, an async one is moved
 * to @done for mpsc_complete() to finish.  If a reader is copying it out
 * (only the writer itself withdraws such an offer), the message is
 * orphaned: the reader drops it at commit time and does not deliver it.
 * Return: the wake-ups it calls for.
 */
static unsigned int mpsc_withdraw(struct mpsc_chan *chan,
				  struct mpsc_tx_waiter *w, int err,
				  struct list_head *done)
{
	struct mpsc_ext *ext = w->ext;

	lockdep_assert_held(&chan->lock);
	list_del_init(&w->node);
	ext->sender = NULL;
	if (w->once)
		chan->nr_once--;
	if (!w->task)
		chan->nr_async--;
	w->status = err;
	if (w->task)
		wake_up_process(w->task);
	else
		list_add_tail(&w->node, done);
	if (mpsc_busy(chan, w->off)) {
		/* Still held, and still counted, until that reader lets go. */
		WARN_ON_ONCE(!w->task);
		ext->orphan = true;
		w->ext = NULL;
		return 0;
	}
	return mpsc_uncount(chan, w->off, ext);
}

/*
 * Finish the async writers on @done, with chan->lock dropped: free what
 * they still own and complete their requests with their status.
 */
static void mpsc_complete(struct list_head *done)
{
	struct mpsc_tx_waiter *w, *next;
	unsigned int n = 0;

	list_for_each_entry_safe(w, next, done, node) {
		mpsc_ext_free(w->ext);
		w->iocb->ki_complete(w->iocb, w->status);
		kfree(w);
		if (!(++n % MPSC_PURGE_BATCH))
			cond_resched();
	}
}

/*
 * Sleep in the writers' FIFO until a reader grants @w its room, or the
 * send must fail.  Returns 0 with room admitted, or a negative errno with
 * nothing (those behind @w have then had their chance).
 */
static int mpsc_tx_wait(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
			ktime_t *expires)
	__must_hold(&chan->lock)
{
	bool expired = false;
	int ret;

	list_add_tail(&w->node, &chan->tx_waiters);
	chan->dem_msgs++;
	chan->dem_len += w->len;
	chan->dem_size += w->size;
	mpsc_tx_grant(chan, false);
	for (;;) {
		if (w->granted) {
			/* The status is the offer's from here on. */
			ret = w->status;
			w->status = MPSC_OFFERED;
			return ret;
		}
		ret = mpsc_tx_error(w->h);
		if (ret)
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (expired) {
			ret = -ETIMEDOUT;
			break;
		}
		expired = mpsc_sleep(chan, 0, expires);
	}
	list_del_init(&w->node);
	chan->dem_msgs--;
	chan->dem_len -= w->len;
	chan->dem_size -= w->size;
	mpsc_tx_grant(chan, false);
	return ret;
}

/*
 * Admit a send: take room beyond what sleeping writers wait for, or wait
 * for a grant unless @nowait.  A one-shot rendezvous send also needs an
 * idle reader.  Return: 0 with room admitted, or a negative errno with
 * nothing.
 */
static int mpsc_admit(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
		      ktime_t *expires, bool nowait, bool *waited)
	__must_hold(&chan->lock)
{
	int ret;

	ret = mpsc_tx_error(w->h);
	if (ret)
		return ret;
	if (mpsc_room(chan, w, true)) {
		if (w->once && !mpsc_rx_free(chan))
			return -EAGAIN;
		if (!w->task && chan->nr_async >= MPSC_MAX_ASYNC)
			return -EAGAIN;
		return mpsc_reserve(chan, w);
	}
	if (nowait)
		return -EAGAIN;
	*waited = true;
	return mpsc_tx_wait(chan, w, expires);
}

/*
 * Rendezvous: wait until a reader commits the offer of @w, or withdraw it
 * when the send must give up.  A one-shot writer's offer may also be
 * bounced by the reader it was made to.  *@wake holds wake-ups still to
 * issue.  Return: 0 once taken, or a negative errno once withdrawn.
 */
static int mpsc_offer_wait(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
			   ktime_t *expires, unsigned int *wake)
	__must_hold(&chan->lock)
{
	bool expired = false;
	int ret;

	for (;;) {
		if (w->status != MPSC_OFFERED)
			return w->status;
		/* An offer being copied out is decided by that copy. */
		if ((!chan->rx_open || chan->closed) &&
		    !mpsc_busy(chan, w->off))
			ret = -EPIPE;
		else if (signal_pending(current))
			/* A non-blocking send never reports EINTR. */
			ret = w->once ? -EAGAIN : -ERESTARTSYS;
		else if (expired)
			ret = -ETIMEDOUT;
		else
			ret = 0;
		if (ret)
			break;
		expired = mpsc_sleep(chan, *wake, expires);
		*wake = 0;
	}
	*wake |= mpsc_withdraw(chan, w, ret, NULL);
	return ret;
}

/*
 * Give @ext a sender role for each of the @nfds fds of @fds.  Return: 0,
 * or a negative errno with the roles taken so far left on @ext for
 * mpsc_ext_free() to release.
 */
static int mpsc_ext_attach(struct mpsc_ext *ext, const int *fds,
			   unsigned int nfds)
{
	struct mpsc_handle *nh;

	while (ext->nr_handles < nfds) {
		nh = mpsc_sender_fd_get(fds[ext->nr_handles]);
		if (IS_ERR(nh))
			return PTR_ERR(nh);
		ext->handles[ext->nr_handles++] = nh;
	}
	return 0;
}

/**
 * mpsc_send() - send one message through sender handle @h (any sender)
 * @h: a handle that holds a sender role
 * @from: the whole message, 1 to max_msg bytes
 * @fds: sender fds to attach, as mpsc_sender_fd_check() accepts them
 * @nfds: how many, at most MPSC_MAX_HANDLES
 * @expires: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @nowait: fail with -EAGAIN rather than sleep
 * @iocb: an asynchronous request that may be completed later, or NULL
 *
 * Room is admitted first, and the handles charged to the channel's user;
 * then the record is placed in the ring (pages charged to the user and
 * to the caller's memory cgroup, only when the ring has no spare ones),
 * copied in without the lock, and each fd of @fds gives it a new sender
 * role of its channel; then it is made ready whole.  On a rendezvous
 * channel the call returns once a reader has received the message:
 * without sleeping that is possible only when a reader is already waiting
 * in read(), and an asynchronous @iocb is queued with its message and
 * completed later.
 *
 * Return: the message length; -EIOCBQUEUED when @iocb was queued; 0 for an
 * empty @from, which queues nothing; -EMSGSIZE, -EFAULT, -ENOMEM; -EBADF,
 * -EINVAL or -EPIPE for an fd of @fds that is not a sender; -EDQUOT
 * when the channel's user is over max_user_bytes; -EPIPE when @h has no
 * sender role or the receiver is closed or gone; -EAGAIN, -ETIMEDOUT or
 * -ERESTARTSYS when there was no room (or, on a rendezvous channel, no
 * taker).  On every error nothing was queued, or the message was
 * withdrawn untaken.
 */
ssize_t mpsc_send(struct mpsc_handle *h, struct iov_iter *from,
		  const int *fds, unsigned int nfds, ktime_t *expires,
		  bool nowait, struct kiocb *iocb)
{
	struct mpsc_chan *chan = h->chan;
	size_t len = iov_iter_count(from);
	struct mpsc_tx_waiter w = {
		.node = LIST_HEAD_INIT(w.node),
		.task = current,
		.h = h,
		.len = len,
		.size = mpsc_rec_size(len),
		.nr_handles = nfds,
		.status = MPSC_OFFERED,
	};
	struct mpsc_tx_waiter *aw = NULL;
	struct mpsc_ext *ext = NULL;
	struct iov_iter kfrom;
	u8 small[MPSC_SMALL];
	unsigned int wake = 0;
	bool waited = false;
	bool offer, async;
	LIST_HEAD(pages);
	struct kvec kv;
	ssize_t ret;

	if (!len)
		return 0;
	if (len > chan->max_msg)
		return -EMSGSIZE;
	/*
	 * Unlocked early exit, so a dead sender does not even lock: these
	 * only ever change one way, and are checked again under the lock.
	 */
	if (!READ_ONCE(h->tx) || !READ_ONCE(chan->rx_open) ||
	    READ_ONCE(chan->closed))
		return -EPIPE;
	/*
	 * A small message is copied in first, to the stack: then a buffered
	 * one is queued with one hold of the lock.  From here on @from is
	 * that copy.
	 */
	if (len <= MPSC_SMALL && !nfds && copy_from_iter_full(small, len, from)) {
		/* A fault leaves @from as it was, for the copy after room. */
		kv.iov_base = small;
		kv.iov_len = len;
		iov_iter_kvec(&kfrom, ITER_SOURCE, &kv, 1, len);
		from = &kfrom;
	}

	spin_lock(&chan->lock);
	offer = !chan->capacity;
	async = offer && iocb;
	w.once = offer && nowait && !async;
	ret = mpsc_admit(chan, &w, expires, nowait || async, &waited);
	if (ret)
		goto out_unlock;
	/*
	 * The capacity may have changed while this writer slept (only a
	 * blocking one sleeps there).  What it is now decides: a send
	 * admitted before a switch to 0 stays a buffered message, even if
	 * the switch comes while mpsc_place() gets pages.
	 */
	offer = !chan->capacity;
	ret = mpsc_place(chan, &w);
	if (ret) {
		wake |= mpsc_unreserve(chan, &w, &pages);
		goto out_unlock;
	}
	/* The receiver may have closed while mpsc_place() got pages. */
	if (from == &kfrom && !offer) {
		ret = mpsc_tx_error(h);
		if (ret) {
			wake |= mpsc_unplace(chan, &w, &pages);
			goto out_unlock;
		}
		mpsc_ring_write(&chan->ring, w.off + sizeof(struct mpsc_rec),
				small, len);
		wake |= mpsc_enqueue(chan, &w, NULL);
		ret = len;
		goto out_unlock;
	}
	spin_unlock(&chan->lock);

	if (offer || nfds) {
		ext = mpsc_ext_alloc(nfds);
		if (!ext)
			ret = -ENOMEM;
	}
	if (!ret && offer && async) {
		aw = kmalloc(sizeof(*aw), GFP_KERNEL_ACCOUNT);
		if (!aw)
			ret = -ENOMEM;
	}
	if (!ret && mpsc_ring_copy_in(&chan->ring,
				      w.off + sizeof(struct mpsc_rec), from,
				      len) != len)
		ret = -EFAULT;
	if (!ret && nfds)
		ret = mpsc_ext_attach(ext, fds, nfds);

	spin_lock(&chan->lock);
	if (!ret)
		ret = mpsc_tx_error(h);
	/* The reader it was meant for may have left meanwhile. */
	if (!ret && w.once && chan->rx_idle < chan->nr_msgs + chan->resv_msgs)
		ret = -EAGAIN;
	if (ret) {
		wake |= mpsc_unplace(chan, &w, &pages);
		goto out_unlock;
	}
	if (!offer) {
		wake |= mpsc_enqueue(chan, &w, ext);
		ext = NULL;
		ret = len;
		goto out_unlock;
	}
	if (async) {
		*aw = w;
		aw->task = NULL;
		aw->iocb = iocb;
		aw->ext = ext;
		ext->sender = aw;
		list_add_tail(&aw->node, &chan->offers);
		chan->nr_async++;
		wake |= mpsc_enqueue(chan, aw, ext);
		/* From here on a reader may complete and free both. */
		ext = NULL;
		aw = NULL;
		ret = -EIOCBQUEUED;
		goto out_unlock;
	}
	w.ext = ext;
	ext->sender = &w;
	list_add_tail(&w.node, &chan->offers);
	if (w.once)
		chan->nr_once++;
	wake |= mpsc_enqueue(chan, &w, ext);
	/* A one-shot offer waits for its reader's verdict, not a deadline. */
	ret = mpsc_offer_wait(chan, &w, w.once ? NULL : expires, &wake);
	/* Taken: the reader frees it.  Orphaned: the reader will. */
	ext = w.ext;
	if (!ret)
		ret = len;
out_unlock:
	/* A writer that left the FIFO can make the channel writable. */
	if (waited)
		wake |= mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_ext_free(ext);
	kfree(aw);
	mpsc_ring_free_pages(&pages);
	return ret;
}

/* Records a batch send moves with one lock round trip, at most. */
#define MPSC_SEND_RUN	16

/*
 * Read the headers of the plain records (no fds) at the start of the
 * batch at @ubuf (@avail bytes, @max records at most) into @lens, until
 * one is not plain or not valid.  Without the lock: what is read here is
 * what gets sent, whatever the user does to the headers meanwhile.
 * Return: how many.
 */
static unsigned int mpsc_run_headers(struct mpsc_chan *chan,
				     const u8 __user *ubuf, size_t avail,
				     unsigned int max, u32 *lens)
{
	struct mpsc_rec rec;
	unsigned int n = 0;
	size_t pos = 0, size;

	while (n < min_t(unsigned int, max, MPSC_SEND_RUN) &&
	       avail - pos >= sizeof(rec)) {
		if (copy_from_user(&rec, ubuf + pos, sizeof(rec)) ||
		    rec.flags || rec.nfds || !rec.len ||
		    rec.len > chan->max_msg)
			break;
		size = mpsc_rec_size(rec.len);
		if (size > avail - pos)
			break;
		lens[n++] = rec.len;
		pos += size;
	}
	return n;
}

/**
 * mpsc_send_run() - send the plain records at the start of a batch
 * @h: a handle that holds a sender role
 * @ubuf: the batch's next record
 * @avail: bytes left in the batch
 * @max: records left to send
 * @expires: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @nowait: fail with -EAGAIN rather than sleep
 * @used: set to the batch bytes of the records sent
 *
 * A record without fds is laid out in a batch as in the ring, so a run of
 * them is admitted (the first as mpsc_send() admits a message, the rest
 * while they fit without waiting), placed, copied in and made ready with
 * two lock round trips, not two per message.  Each message is sent whole
 * or not at all: a fault part-way sends those before it.
 *
 * Return: the number of messages sent; 0 when the batch does not start
 * with a valid plain record or the channel is a rendezvous one (the
 * caller sends one record at a time then); or, when none was sent, the
 * errors of mpsc_send().
 */
ssize_t mpsc_send_run(struct mpsc_handle *h, const u8 __user *ubuf,
		      size_t avail, unsigned int max, ktime_t *expires,
		      bool nowait, size_t *used)
{
	struct mpsc_chan *chan = h->chan;
	u32 lens[MPSC_SEND_RUN];
	struct mpsc_tx_waiter w = {
		.node = LIST_HEAD_INIT(w.node),
		.task = current,
		.h = h,
		.status = MPSC_OFFERED,
	};
	unsigned int n, k, i, wake = 0;
	size_t total = 0, size, copied;
	bool waited = false;
	struct iov_iter from;
	LIST_HEAD(pages);
	u64 start, off;
	ssize_t ret;

	n = mpsc_run_headers(chan, ubuf, avail, max, lens);
	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		total += mpsc_rec_size(lens[i]);
	if (import_ubuf(ITER_SOURCE, (void __user *)ubuf, total, &from))
		return -EFAULT;

	spin_lock(&chan->lock);
	if (!chan->capacity) {
		spin_unlock(&chan->lock);
		return 0;
	}
	w.len = lens[0];
	w.size = mpsc_rec_size(lens[0]);
	ret = mpsc_admit(chan, &w, expires, nowait, &waited);
	if (ret)
		goto out_unlock;
	/* It may have become a rendezvous channel while this writer slept. */
	if (!chan->capacity) {
		wake |= mpsc_unreserve(chan, &w, &pages);
		goto out_unlock;
	}
	/* The rest, as far as they fit now; nobody waits for a run. */
	for (k = 1; k < n; k++) {
		w.len = lens[k];
		w.size = mpsc_rec_size(lens[k]);
		if (!mpsc_room(chan, &w, true) || mpsc_reserve(chan, &w))
			break;
	}
	/* Placed as one block, then cut into its records. */
	w.len = 0;
	w.size = 0;
	for (i = 0; i < k; i++) {
		w.len += lens[i];
		w.size += mpsc_rec_size(lens[i]);
	}
	ret = mpsc_place(chan, &w);
	if (ret) {
		chan->resv_msgs -= k - 1;
		wake |= mpsc_unreserve(chan, &w, &pages);
		goto out_unlock;
	}
	/*
	 * While it is copied in, the run is one reserved record to those
	 * walking the ring: the headers inside it are the user's until they
	 * are written anew under the lock.
	 */
	chan->ring.nr_reserved += k - 1;
	start = w.off;
	size = w.size;
	mpsc_ring_rec(&chan->ring, start)->len = size - sizeof(struct mpsc_rec);
	spin_unlock(&chan->lock);

	iov_iter_advance(&from, sizeof(struct mpsc_rec));
	copied = sizeof(struct mpsc_rec) +
		 mpsc_ring_copy_in(&chan->ring, start + sizeof(struct mpsc_rec),
				   &from, size - sizeof(struct mpsc_rec));

	spin_lock(&chan->lock);
	/* Records copied in whole are sent; the rest die. */
	for (i = 0, n = 0, off = start; i < k; i++) {
		struct mpsc_rec *hdr = mpsc_ring_rec(&chan->ring, off);

		hdr->len = lens[i];
		hdr->nfds = 0;
		hdr->flags = 0;
		off += mpsc_rec_size(lens[i]);
		if (off - start <= copied)
			n++;
	}
	if (mpsc_tx_error(h))
		n = 0;
	for (i = 0, off = start, *used = 0; i < n; i++) {
		w.off = off;
		w.len = lens[i];
		w.size = mpsc_rec_size(lens[i]);
		off += w.size;
		wake |= mpsc_enqueue(chan, &w, NULL);
		*used += w.size;
	}
	/* The rest die last first, so that the tail can move back. */
	for (i = k, off = start + size; i-- > n;) {
		w.off = off -= mpsc_rec_size(lens[i]);
		w.len = lens[i];
		w.size = mpsc_rec_size(lens[i]);
		wake |= mpsc_unplace(chan, &w, &pages);
	}
	ret = n;
	if (!n)
		ret = mpsc_tx_error(h) ?: -EFAULT;
out_unlock:
	if (waited)
		wake |= mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	/* One reader woken per message, as @n sends would have. */
	if (ret > 1 && (wake & MPSC_WAKE_RX))
		__wake_up(&chan->rx_wait, TASK_INTERRUPTIBLE, ret - 1,
			  poll_to_key(EPOLLIN | EPOLLRDNORM));
	mpsc_ring_free_pages(&pages);
	return ret;
}

/*
 * The first ready record, or NULL: at or after the ring's scan mark, which
 * it moves up to that record, so a reader walks past records that are
 * reserved, busy or dead at most once between two changes of theirs.
 */
static struct mpsc_rec *mpsc_first_ready(struct mpsc_chan *chan, u64 *offp)
{
	struct mpsc_ring *r = &chan->ring;
	struct mpsc_rec *hdr;
	u64 off;

	lockdep_assert_held(&chan->lock);
	for (off = r->scan; off < r->tail; off += mpsc_rec_size(hdr->len)) {
		hdr = mpsc_ring_rec(r, off);
		if (hdr->flags & MPSC_SLOT_READY) {
			r->scan = off;
			*offp = off;
			return hdr;
		}
	}
	r->scan = off;
	return NULL;
}

/*
 * Wait until a message is queued, or end of file, or the receive must
 * fail.  Return: 0 with *@hdrp the first ready record (at *@offp), or NULL
 * at end of file; or a negative errno.
 */
static int mpsc_rx_wait(struct mpsc_chan *chan, struct mpsc_rec **hdrp,
			u64 *offp, ktime_t *expires, bool nowait,
			bool *expired)
	__must_hold(&chan->lock)
{
	DEFINE_WAIT(wait);
	unsigned int wake;
	int ret;

	for (;;) {
		/* A dying reader takes nothing: it could not deliver it. */
		ret = -ERESTARTSYS;
		if (fatal_signal_pending(current))
			break;
		*hdrp = mpsc_first_ready(chan, offp);
		ret = 0;
		if (*hdrp || mpsc_eof(chan))
			break;
		ret = -EAGAIN;
		if (nowait)
			break;
		ret = -ERESTARTSYS;
		if (signal_pending(current))
			break;
		ret = -ETIMEDOUT;
		if (*expired)
			break;
		prepare_to_wait_exclusive(&chan->rx_wait, &wait,
					  TASK_INTERRUPTIBLE);
		/* An idle reader makes a rendezvous channel writable. */
		chan->rx_idle++;
		wake = chan->capacity ? 0 : mpsc_tx_room_wake(chan);
		*expired = mpsc_sleep(chan, wake, expires);
		chan->rx_idle--;
	}
	finish_wait(&chan->rx_wait, &wait);
	return ret;
}

/* A reader takes the ready record at @off: busy until committed. */
static void mpsc_take(struct mpsc_chan *chan, u64 off, struct mpsc_rec *hdr)
{
	lockdep_assert_held(&chan->lock);
	hdr->flags = (hdr->flags & ~MPSC_SLOT_READY) | MPSC_SLOT_BUSY;
	chan->ring.scan = off + mpsc_rec_size(hdr->len);
}

/* The busy record at @off is not being copied out any more. */
static void mpsc_untake(struct mpsc_chan *chan, u64 off)
{
	struct mpsc_rec *hdr = mpsc_ring_rec(&chan->ring, off);

	hdr->flags = (hdr->flags & ~MPSC_SLOT_BUSY) | MPSC_SLOT_READY;
	chan->ring.scan = min(chan->ring.scan, off);
}

/*
 * Commit the record at @off (with @ext, or NULL) of @len bytes, copied out
 * whole: it leaves the channel, and a rendezvous writer's send completes
 * (an async one through @done).  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_commit(struct mpsc_chan *chan, u64 off, size_t len,
				struct mpsc_ext *ext, struct list_head *done)
{
	struct mpsc_tx_waiter *w = ext ? ext->sender : NULL;

	lockdep_assert_held(&chan->lock);
	chan->received++;
	if (w) {
		chan->sent++;
		if (w->once)
			chan->nr_once--;
		if (!w->task)
			chan->nr_async--;
		list_del_init(&w->node);
		ext->sender = NULL;
		w->ext = NULL;
		w->status = 0;
		if (w->task) {
			wake_up_process(w->task);
		} else {
			w->status = len;
			list_add_tail(&w->node, done);
		}
	}
	return mpsc_uncount(chan, off, ext);
}

/*
 * The record at @off could not be copied out (the copy faulted): it is
 * ready again, where it was.  A one-shot offer is withdrawn instead (its
 * writer gets EAGAIN), and so is any offer once the receiver has closed
 * (EPIPE).  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_putback(struct mpsc_chan *chan, u64 off,
				 struct mpsc_ext *ext, struct list_head *done)
{
	struct mpsc_tx_waiter *w = ext ? ext->sender : NULL;

	lockdep_assert_held(&chan->lock);
	mpsc_untake(chan, off);
	if (w && (w->once || chan->closed))
		return mpsc_withdraw(chan, w, w->once ? -EAGAIN : -EPIPE, done);
	/* The wake-up that brought us here must not die with us. */
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

/*
 * Write the busy record at @off (@len bytes, @ext or NULL) as a record of
 * batch @b, at @b->buf + @pos: its header, its fds
 * (installed when @b asks for handles, else -1), and its payload.
 * Without the lock.  Return: 0 with *@ninst fds installed in @fds, or a
 * negative errno with none.
 */
static int mpsc_put_record(const struct mpsc_ring *r, u64 off, size_t len,
			   struct mpsc_ext *ext, struct mpsc_batch *b,
			   size_t pos, int *fds, unsigned int *ninst)
{
	unsigned int nr = ext ? ext->nr_handles : 0;
	u8 __user *rec = b->buf + pos;
	u8 __user *ufds = rec + sizeof(struct mpsc_rec);
	u8 __user *data = ufds + MPSC_REC_FDS_SIZE(nr);
	struct mpsc_rec hdr = {
		.len = len,
		.nfds = nr,
	};
	size_t fsize = nr * sizeof(int);
	unsigned int i;
	int ret;

	*ninst = 0;
	if (nr && !b->handles)
		hdr.flags = MPSC_REC_HANDLES_DROPPED;
	for (i = 0; i < nr; i++)
		fds[i] = -1;
	if (copy_to_user(rec, &hdr, sizeof(hdr)) ||
	    (nr && copy_to_user(ufds, fds, fsize)) ||
	    mpsc_ring_to_user(r, off + sizeof(hdr), data, len))
		return -EFAULT;
	if (!nr || !b->handles)
		return 0;
	ret = mpsc_handles_install(ext->handles, nr, b->o_flags, fds);
	if (ret)
		return ret;
	if (copy_to_user(ufds, fds, fsize)) {
		mpsc_handles_uninstall(fds, nr);
		return -EFAULT;
	}
	*ninst = nr;
	return 0;
}

/*
 * A reader is leaving.  If none is left asleep in read(), the one-shot
 * offers still queued were made to readers that took something else (a
 * message ahead of them that they then could not hold, say): nobody is
 * coming for them, so withdraw them (EAGAIN) rather than let a
 * non-blocking send wait.  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_strand_check(struct mpsc_chan *chan,
				      struct list_head *done)
{
	struct mpsc_tx_waiter *w, *next;
	unsigned int wake = 0;

	lockdep_assert_held(&chan->lock);
	if (!chan->nr_once || chan->rx_idle)
		return 0;
	list_for_each_entry_safe(w, next, &chan->offers, node)
		if (w->once && !mpsc_busy(chan, w->off))
			wake |= mpsc_withdraw(chan, w, -EAGAIN, done);
	return wake;
}

/*
 * Copy a small message out with the lock held: without page faults, so
 * that it cannot sleep.  Return: true when it was copied whole; else
 * nothing was, and the reader copies it after dropping the lock.
 */
static bool mpsc_copy_out_nofault(const struct mpsc_ring *r, u64 off,
				  struct iov_iter *to, size_t len)
{
	size_t count = iov_iter_count(to);
	bool ok;

	pagefault_disable();
	ok = mpsc_ring_copy_out(r, off + sizeof(struct mpsc_rec), to, len);
	pagefault_enable();
	if (!ok)
		iov_iter_revert(to, count - iov_iter_count(to));
	return ok;
}

/* A record a reader has taken, and the size of its copy. */
struct mpsc_taken {
	u64 off;
	u32 len;
	u32 size;
};

/* Records a batch receive takes under one hold of the lock, at most. */
#define MPSC_RUN	16

/*
 * Write the plain busy records of @run (@n of them) as the next records of
 * batch @b.  A plain record is laid out in the ring as in a batch, so
 * records next to each other in the ring go out in one copy, and then
 * get their flags cleared.  Without the lock.  Return: how many records
 * were written whole, from the first.
 */
static unsigned int mpsc_put_run(const struct mpsc_ring *r,
				 const struct mpsc_taken *run, unsigned int n,
				 struct mpsc_batch *b)
{
	u8 __user *dst = b->buf + b->used;
	unsigned int i, j;
	size_t size;

	for (i = 0; i < n; i = j) {
		size = run[i].size;
		for (j = i + 1; j < n && run[j].off == run[j - 1].off +
						       run[j - 1].size; j++)
			size += run[j].size;
		/* A fault in a block: find the records before it, one by one. */
		if (mpsc_ring_to_user(r, run[i].off, dst, size)) {
			j = i + 1;
			if (mpsc_ring_to_user(r, run[i].off, dst, run[i].size))
				return i;
		}
		for (; i < j; dst += run[i++].size)
			if (put_user(0, (u16 __user *)(dst +
					offsetof(struct mpsc_rec, flags))))
				return i;
	}
	return n;
}

/*
 * A batch: after its first record (@run[0], taken), take the plain ready
 * records behind it that fit and @b allows, up to MPSC_RUN in all, so
 * that they are copied out and committed with one lock round trip.
 * Return: how many @run holds now.
 */
static unsigned int mpsc_take_run(struct mpsc_chan *chan,
				  struct mpsc_batch *b,
				  struct mpsc_taken *run)
{
	size_t room = b->size - b->used - run[0].size;
	unsigned int n = 1;
	struct mpsc_rec *hdr;
	size_t size;
	u64 off;

	while (n < MPSC_RUN && !(b->max && b->count + n >= b->max)) {
		hdr = mpsc_first_ready(chan, &off);
		if (!hdr || (hdr->flags & MPSC_SLOT_EXT))
			break;
		size = MPSC_REC_SIZE(hdr->len, 0);
		if (size > room)
			break;
		room -= size;
		run[n++] = (struct mpsc_taken){ off, hdr->len, size };
		mpsc_take(chan, off, hdr);
	}
	return n;
}

/*
 * The receive loop behind mpsc_recv() (@b NULL: one message into @to) and
 * mpsc_recv_batch() (records into @b).  Messages are taken under the
 * lock, copied out without it, and committed under it, or put back.  A
 * batch waits only for its first message, and takes plain messages in
 * runs (mpsc_take_run()).
 */
static ssize_t mpsc_recv_loop(struct mpsc_handle *h, struct iov_iter *to,
			      struct mpsc_batch *b, ktime_t *expires,
			      bool nowait, size_t *need)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_taken run[MPSC_RUN];
	int fds[MPSC_MAX_HANDLES];
	unsigned int wake = 0, ninst, nrun, i, j;
	struct mpsc_ext *ext;
	struct mpsc_rec *hdr;
	bool expired = false;
	size_t len, size, room, copied = 0;
	LIST_HEAD(done);
	LIST_HEAD(dead);
	bool first;
	ssize_t ret;
	u64 off;

	spin_lock(&chan->lock);
	for (;;) {
		first = !b || !b->count;
		if (first) {
			ret = mpsc_rx_wait(chan, &hdr, &off, expires, nowait,
					   &expired);
			if (ret || !hdr)
				break;
		} else {
			if (b->max && b->count >= b->max)
				break;
			hdr = mpsc_first_ready(chan, &off);
			if (!hdr)
				break;
		}
		len = hdr->len;
		ext = hdr->flags & MPSC_SLOT_EXT ? mpsc_ext_find(chan, off) :
						   NULL;
		if (b) {
			size = MPSC_REC_SIZE(len, ext ? ext->nr_handles : 0);
			room = b->size - b->used;
		} else {
			size = len;
			room = iov_iter_count(to);
		}
		if (size > room) {
			if (!first)
				break;
			if (need)
				*need = size;
			if (ext && ext->sender && ext->sender->once)
				wake |= mpsc_withdraw(chan, ext->sender,
						      -EAGAIN, &done);
			else if (mpsc_waiting(chan, &chan->rx_wait))
				wake |= MPSC_WAKE_RX;
			ret = -EMSGSIZE;
			break;
		}
		mpsc_take(chan, off, hdr);
		run[0] = (struct mpsc_taken){ off, len, size };
		nrun = b && !ext ? mpsc_take_run(chan, b, run) : 1;
		if (!b && len <= MPSC_SMALL &&
		    mpsc_copy_out_nofault(&chan->ring, off, to, len)) {
			i = 1;
			ret = 0;
			goto commit;
		}
		spin_unlock(&chan->lock);

		/* The records stay put while busy; @hdr is not read again. */
		ninst = 0;
		ret = 0;
		if (b && ext) {
			i = 0;
			ret = mpsc_put_record(&chan->ring, off, len, ext, b,
					      b->used, fds, &ninst);
			if (!ret)
				i = 1;
		} else if (b) {
			i = mpsc_put_run(&chan->ring, run, nrun, b);
			ret = i < nrun ? -EFAULT : 0;
		} else {
			i = 1;
			copied = iov_iter_count(to);
			if (!mpsc_ring_copy_out(&chan->ring,
						off + sizeof(struct mpsc_rec),
						to, len)) {
				ret = -EFAULT;
				i = 0;
			}
			copied -= iov_iter_count(to);
		}

		spin_lock(&chan->lock);
		if (ext && ext->orphan) {
			/* Its writer gave up meanwhile: not delivered. */
			wake |= mpsc_uncount(chan, off, ext);
			spin_unlock(&chan->lock);
			mpsc_handles_uninstall(fds, ninst);
			mpsc_ext_free(ext);
			if (!b)
				iov_iter_revert(to, copied);
			spin_lock(&chan->lock);
			continue;
		}
commit:
		/* Copied out whole: committed, in order. */
		for (j = 0; j < i; j++) {
			wake |= mpsc_commit(chan, run[j].off, run[j].len,
					    j ? NULL : ext, &done);
			if (b) {
				b->count++;
				b->used += run[j].size;
			}
		}
		if (ext && i)
			list_add_tail(&ext->node, &dead);
		/* The rest are put back where they were. */
		for (j = i; j < nrun; j++)
			wake |= mpsc_putback(chan, run[j].off, j ? NULL : ext,
					     &done);
		if (ret)
			break;
		if (!b) {
			ret = len;
			break;
		}
	}
	wake |= mpsc_strand_check(chan, &done);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_complete(&done);
	/* Their roles are installed anew, or dropped: release theirs. */
	mpsc_ext_free_list(&dead);
	/* A batch that moved messages reports them; the error comes next. */
	if (b && b->count)
		return b->count;
	return ret;
}

/**
 * mpsc_recv() - receive one message (the receiver only)
 * @h: the receiver's handle
 * @to: where the message goes; it must hold the whole message
 * @expires: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @nowait: fail with -EAGAIN rather than sleep
 * @need: if not NULL, set to the message's length on -EMSGSIZE
 *
 * The first ready message is taken under the lock, copied out after it,
 * and committed under it again.  If the copy faults, it is ready again
 * where it was, so it is neither lost nor delivered twice; meanwhile it
 * still counts against the limits, and other readers do not see end of
 * file.  (With several threads reading one receiver, one of them may
 * meanwhile receive the message behind it.)  Committing a rendezvous
 * message completes its writer's send.  Sender roles the message carries
 * are dropped: only a batch receive that asks for them installs them.
 *
 * Return: the message length; 0 at end of file (nothing held, and no
 * sender left or the receiver closed); -EMSGSIZE, leaving the message at
 * the head (a one-shot rendezvous offer is withdrawn instead); -EFAULT;
 * -EAGAIN, -ETIMEDOUT or -ERESTARTSYS when the queue stayed empty.
 */
ssize_t mpsc_recv(struct mpsc_handle *h, struct iov_iter *to,
		  ktime_t *expires, bool nowait, size_t *need)
{
	return mpsc_recv_loop(h, to, NULL, expires, nowait, need);
}

/**
 * mpsc_recv_batch() - receive messages as packed records (the receiver only)
 * @h: the receiver's handle
 * @b: the batch: where, how many at most, whether to install handles
 * @expires: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @nowait: fail with -EAGAIN rather than sleep
 * @need: if not NULL, set to the first record's size on -EMSGSIZE
 *
 * Waits for one message as mpsc_recv() does, then takes as many more as
 * are queued, fit and @b allows, each exactly once (tokio's recv_many).
 * When @b asks for handles, the sender roles of each message are installed
 * as new fds, all or none; otherwise they are dropped and the record says
 * so.  A fault or a failed install part-way puts that message back and
 * ends the batch.
 *
 * Return: the number of messages received; 0 at end of file; or, when
 * none was, the errors of mpsc_recv(), -EMFILE, -ENOMEM or an LSM's.
 */
ssize_t mpsc_recv_batch(struct mpsc_handle *h, struct mpsc_batch *b,
			ktime_t *expires, bool nowait, size_t *need)
{
	return mpsc_recv_loop(h, NULL, b, expires, nowait, need);
}

/**
 * mpsc_peek_len() - length of the next message (the receiver only)
 * @h: the receiver's handle
 * @len: set to the length, or to 0 at end of file
 *
 * Return: 0, or -EAGAIN when the queue is empty but not at end of file.
 */
int mpsc_peek_len(struct mpsc_handle *h, size_t *len)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_rec *hdr;
	int ret = 0;
	u64 off;

	spin_lock(&chan->lock);
	hdr = mpsc_first_ready(chan, &off);
	if (hdr)
		*len = hdr->len;
	else if (mpsc_eof(chan))
		*len = 0;
	else
		ret = -EAGAIN;
	spin_unlock(&chan->lock);
	return ret;
}

/**
 * mpsc_set_capacity() - bound the channel to @capacity held messages
 * @h: the receiver's handle
 * @capacity: N >= 1, 0 for a rendezvous channel, or MPSC_CAPACITY_UNBOUNDED
 *
 * Nothing held is ever dropped: shrinking only makes writers wait, and
 * growing wakes the writers it makes room for.  Writers waiting for a
 * rendezvous hand-off keep waiting until their message is taken, and
 * messages buffered before a switch to 0 are still received; every send
 * admitted while the capacity is 0 is a rendezvous.
 */
void mpsc_set_capacity(struct mpsc_handle *h, u64 capacity)
{
	struct mpsc_chan *chan = h->chan;
	unsigned int wake;

	spin_lock(&chan->lock);
	chan->capacity = capacity;
	mpsc_tx_grant(chan, false);
	wake = mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
}

/*
 * Withdraw every rendezvous offer with EPIPE, except one a reader is
 * copying out: that reader's commit decides it.  Only offers are walked,
 * never the whole queue.
 */
static unsigned int mpsc_withdraw_offers(struct mpsc_chan *chan,
					 struct list_head *done)
{
	struct mpsc_tx_waiter *w, *next;
	unsigned int wake = 0;

	lockdep_assert_held(&chan->lock);
	list_for_each_entry_safe(w, next, &chan->offers, node)
		if (!mpsc_busy(chan, w->off))
			wake |= mpsc_withdraw(chan, w, -EPIPE, done);
	return wake;
}

/**
 * mpsc_close() - close the channel to senders (the receiver only)
 * @h: the receiver's handle
 *
 * Every send from now on fails with EPIPE, and so do the sends asleep
 * now, including rendezvous offers not yet taken, which are withdrawn
 * here (an offer being copied out is decided by that copy).  Messages
 * already queued can still be received; then read() returns 0.  Closing
 * twice is harmless.
 */
void mpsc_close(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_tx_waiter *w;
	unsigned int wake = 0;
	LIST_HEAD(done);

	spin_lock(&chan->lock);
	if (!chan->closed) {
		/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
		WRITE_ONCE(chan->closed, true);
		list_for_each_entry(w, &chan->tx_waiters, node)
			wake_up_process(w->task);
		wake |= mpsc_withdraw_offers(chan, &done);
		/* Readers asleep with nothing left to come must see EOF. */
		if (mpsc_eof(chan) && mpsc_waiting(chan, &chan->rx_wait))
			wake |= MPSC_WAKE_RX_ALL;
		if (mpsc_waiting(chan, &chan->tx_poll))
			wake |= MPSC_WAKE_TX_ERR;
	}
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_complete(&done);
}

/**
 * mpsc_sender_attach() - give @to a sender role, cloned from @from's
 * @from: a handle of the channel that should hold a sender role
 * @to: a handle from mpsc_handle_alloc() on the same channel
 *
 * Since @from's role keeps the sender count above zero, a channel that has
 * been disconnected can never be connected again.
 *
 * Return: 0, or -EPIPE when @from's role is gone.
 */
int mpsc_sender_attach(struct mpsc_handle *from, struct mpsc_handle *to)
{
	struct mpsc_chan *chan = from->chan;
	int ret = -EPIPE;

	spin_lock(&chan->lock);
	if (from->tx) {
		to->tx = true;
		chan->senders++;
		ret = 0;
	}
	spin_unlock(&chan->lock);
	return ret;
}

/* Drop @h's sender role.  Return: the wake-ups it calls for. */
static unsigned int mpsc_drop_sender(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_tx_waiter *w;
	unsigned int wake = 0;

	lockdep_assert_held(&chan->lock);
	if (!h->tx)
		return 0;
	/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
	WRITE_ONCE(h->tx, false);
	/* Readers asleep with nothing left to come must see EOF. */
	if (!--chan->senders && mpsc_eof(chan) &&
	    mpsc_waiting(chan, &chan->rx_wait))
		wake |= MPSC_WAKE_RX_ALL;
	/*
	 * Writers asleep on this handle for room now fail with EPIPE.  A
	 * rendezvous offer already made stays: it was sent before.
	 */
	list_for_each_entry(w, &chan->tx_waiters, node)
		if (w->h == h)
			wake_up_process(w->task);
	if (mpsc_waiting(chan, &chan->tx_poll))
		wake |= MPSC_WAKE_TX_ERR;
	return wake;
}

/**
 * mpsc_disconnect() - drop @h's sender role, as Rust's drop(tx)
 * @h: any handle; without a role this does nothing
 *
 * Later sends through @h fail with EPIPE, and so do sends asleep on it.
 * When the last role goes, every reader wakes to end of file once the
 * queue is drained.
 */
void mpsc_disconnect(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	unsigned int wake;

	spin_lock(&chan->lock);
	wake = mpsc_drop_sender(h);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
}

/*
 * The receiver's file is going away: fail every send, pending or new, with
 * EPIPE, and free what is queued.  No reader can be left (it would hold
 * the file), so no message is being copied out.  The counts drop at once;
 * the ring's pages are detached in one step (or by the last send still
 * copying in, see mpsc_ring_gone()) and freed after the lock, as are the
 * extras, yielding the CPU now and then: a long queue holds neither the
 * lock nor the CPU, and nothing walks its records.
 */
static void mpsc_rx_release(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_tx_waiter *w;
	unsigned int wake;
	LIST_HEAD(pages);
	LIST_HEAD(done);
	LIST_HEAD(dead);

	spin_lock(&chan->lock);
	/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
	WRITE_ONCE(chan->rx_open, false);
	wake = mpsc_drop_sender(h);
	wake |= mpsc_withdraw_offers(chan, &done);
	WARN_ON_ONCE(!list_empty(&chan->offers));
	/* What is left is buffered messages only. */
	list_splice_init(&chan->exts, &dead);
	mpsc_user_uncharge(chan->user, chan->mem);
	chan->mem = 0;
	chan->nr_msgs = 0;
	chan->nr_bytes = 0;
	chan->nr_handles = 0;
	mpsc_ring_gone(chan, &pages);
	list_for_each_entry(w, &chan->tx_waiters, node)
		wake_up_process(w->task);
	if (mpsc_waiting(chan, &chan->tx_poll))
		wake |= MPSC_WAKE_TX_ERR;
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_complete(&done);
	mpsc_ext_free_list(&dead);
	mpsc_ring_free_pages(&pages);
}

/**
 * mpsc_handle_release() - the file holding @h is being released
 * @h: the handle, freed here with its channel reference
 */
void mpsc_handle_release(struct mpsc_handle *h)
{
	if (h->rx)
		mpsc_rx_release(h);
	else
		mpsc_disconnect(h);
	kref_put(&h->chan->ref, mpsc_chan_free);
	kmem_cache_free(mpsc_handle_cachep, h);
}

/**
 * mpsc_poll_mask() - poll events of the file holding @h
 * @h: any handle
 *
 * The receiver is readable when a message is queued, and readable and
 * hung up at end of file.  A sender is writable when a write of any size
 * up to max_msg would not sleep (on a rendezvous channel: a reader is
 * asleep in read() with nothing on its way to it), and writable with an
 * error when writes fail at once (EPIPE).  The receiver's own sender role
 * reports nothing once the receiver has closed the channel: closing must
 * not look like an error to the event loop that is draining it.
 *
 * Return: the EPOLL* mask.
 */
__poll_t mpsc_poll_mask(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	__poll_t mask = 0;
	u64 off;

	spin_lock(&chan->lock);
	if (h->rx) {
		if (mpsc_first_ready(chan, &off))
			mask |= EPOLLIN | EPOLLRDNORM;
		else if (mpsc_eof(chan))
			mask |= EPOLLIN | EPOLLRDNORM | EPOLLHUP;
	}
	if (!h->rx || (h->tx && !chan->closed)) {
		if (mpsc_tx_error(h))
			mask |= EPOLLOUT | EPOLLWRNORM | EPOLLERR;
		else if (mpsc_tx_ready(chan))
			mask |= EPOLLOUT | EPOLLWRNORM;
	}
	spin_unlock(&chan->lock);
	return mask;
}

/**
 * mpsc_get_info() - snapshot of @h's channel, for MPSC_IOC_INFO and fdinfo
 * @h: any handle
 * @info: filled in whole; flags and reserved are zeroed
 */
void mpsc_get_info(struct mpsc_handle *h, struct mpsc_info *info)
{
	struct mpsc_chan *chan = h->chan;

	memset(info, 0, sizeof(*info));
	info->id = chan->id;
	info->max_queue_bytes = chan->max_bytes;
	info->max_msg_size = chan->max_msg;

	spin_lock(&chan->lock);
	if (h->rx)
		info->state |= MPSC_STATE_RECEIVER;
	if (h->tx)
		info->state |= MPSC_STATE_SENDER;
	if (chan->rx_open)
		info->state |= MPSC_STATE_RX_OPEN;
	if (chan->closed)
		info->state |= MPSC_STATE_CLOSED;
	info->queued_msgs = chan->nr_msgs;
	info->queued_bytes = chan->nr_bytes;
	info->queued_mem = chan->mem;
	info->queued_handles = chan->nr_handles;
	info->capacity = chan->capacity;
	info->senders = chan->senders;
	info->sent = chan->sent;
	info->received = chan->received;
	spin_unlock(&chan->lock);
}
