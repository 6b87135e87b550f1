// SPDX-License-Identifier: GPL-2.0
/*
 * The channel state machine: the message queue, sender roles, the receiver,
 * and who sleeps and wakes when.  mpsc_internal.h says what chan->lock
 * protects.
 *
 * Capacity: an unbounded channel is limited by bytes only; a bounded one
 * (capacity N) also by N held messages.  Every send first reserves its
 * room (and its owner's per-user charge) under the lock, and only then
 * allocates and copies its message in: a refused send costs the same at
 * any size, and a writer asleep for room holds no message memory.
 *
 * Exactly once: a receive takes the head message under the lock, copies it
 * out without the lock, and then commits it under the lock, or puts it
 * back at the head when the copy faulted.  Until the commit, the message
 * still counts in nr_msgs, so the limits stay exact and no other reader
 * sees end of file while it can still come back.
 *
 * Rendezvous (capacity 0): a send is an offer.  Its message is queued
 * together with its writer (msg->sender, on chan->offers), and the send
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

#include "mpsc_internal.h"

/* mpsc_tx_waiter.status while its offer waits for a reader. */
#define MPSC_OFFERED	1

/*
 * A writer that waits: on the writer's stack for a blocking or one-shot
 * send, allocated for an async one.  While it waits for room it sits on
 * chan->tx_waiters; on a rendezvous channel it then sits on chan->offers
 * until its message is committed or withdrawn.  Every field but the
 * constant ones is under chan->lock.
 */
struct mpsc_tx_waiter {
	struct list_head node;
	struct task_struct *task;	/* NULL for an async writer */
	struct kiocb *iocb;		/* an async writer's request */
	struct mpsc_handle *h;
	struct mpsc_msg *msg;		/* the offer; NULL once not ours */
	size_t len;
	unsigned int nr_handles;
	int status;			/* MPSC_OFFERED, 0 taken, or -errno */
	bool once;			/* one-shot: one reader, one try */
};

/* Wake-ups to issue once chan->lock is dropped. */
#define MPSC_WAKE_RX		BIT(0)	/* one reader and the receiver's pollers */
#define MPSC_WAKE_RX_ALL	BIT(1)	/* every reader: end of file */
#define MPSC_WAKE_TX		BIT(2)	/* sender pollers: room */
#define MPSC_WAKE_TX_ERR	BIT(3)	/* sender pollers: sends fail now */

/* Rendezvous writes queued asynchronously, at most, per channel. */
#define MPSC_MAX_ASYNC		64

/* Messages freed between two cond_resched() calls when a queue is purged. */
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
 * What a message of @len bytes really holds, as mpsc_msg_alloc() gets it
 * from kmalloc: the header and a small payload in one object rounded up to
 * its slab size; a larger payload in a buffer of its own, which kvmalloc
 * takes from kmalloc when it can, rounded up to a power-of-two number of
 * pages (a 64 KiB + 1 byte payload holds 128 KiB), or else from vmalloc,
 * whole pages, which is less.  Each sender role it carries adds a handle
 * and a pointer to it.  This is what the per-user ceiling counts.
 */
static size_t mpsc_msg_cost(size_t len, unsigned int nr_handles)
{
	size_t size = struct_size((struct mpsc_msg *)NULL, inline_data, len);
	size_t cost;

	if (size <= PAGE_SIZE)
		cost = kmalloc_size_roundup(size);
	else
		cost = kmalloc_size_roundup(sizeof(struct mpsc_msg)) +
		       kmalloc_size_roundup(len);
	if (nr_handles)
		cost += kmalloc_size_roundup(nr_handles * sizeof(void *)) +
			nr_handles * kmem_cache_size(mpsc_handle_cachep);
	return cost;
}

static size_t mpsc_msg_mem(const struct mpsc_msg *msg)
{
	return mpsc_msg_cost(msg->len, msg->nr_handles);
}

/* A message of @len bytes, charged to the caller's memory cgroup. */
static struct mpsc_msg *mpsc_msg_alloc(size_t len)
{
	struct mpsc_msg *msg;
	size_t size = struct_size(msg, inline_data, len);

	if (size <= PAGE_SIZE) {
		msg = kmalloc(size, GFP_KERNEL_ACCOUNT);
		if (!msg)
			return NULL;
		msg->data = msg->inline_data;
	} else {
		msg = kmalloc(sizeof(*msg), GFP_KERNEL_ACCOUNT);
		if (!msg)
			return NULL;
		msg->data = kvmalloc(len, GFP_KERNEL_ACCOUNT);
		if (!msg->data) {
			kfree(msg);
			return NULL;
		}
	}
	msg->len = len;
	msg->sender = NULL;
	msg->handles = NULL;
	msg->nr_handles = 0;
	msg->busy = false;
	msg->orphan = false;
	INIT_LIST_HEAD(&msg->node);
	return msg;
}

/*
 * Free @msg, releasing the sender roles it carries: never under a
 * channel's lock, since releasing a role takes its channel's.
 */
static void mpsc_msg_free(struct mpsc_msg *msg)
{
	unsigned int i;

	if (!msg)
		return;
	for (i = 0; i < msg->nr_handles; i++)
		mpsc_handle_release(msg->handles[i]);
	kfree(msg->handles);
	if (msg->data != msg->inline_data)
		kvfree(msg->data);
	kfree(msg);
}

static void mpsc_chan_free(struct kref *ref)
{
	struct mpsc_chan *chan = container_of(ref, struct mpsc_chan, ref);

	/* The receiver's release emptied the queue; waiters hold files. */
	WARN_ON_ONCE(!list_empty(&chan->msgs));
	WARN_ON_ONCE(!list_empty(&chan->tx_waiters));
	WARN_ON_ONCE(!list_empty(&chan->offers));
	WARN_ON_ONCE(chan->nr_msgs || chan->mem || chan->resv_msgs);
	mpsc_user_put(chan->user);
	kmem_cache_free(mpsc_chan_cachep, chan);
}

/**
 * mpsc_chan_create() - create a channel and its receiver handle
 *
 * The receiver also holds the channel's first sender role.  The limits
 * are sampled from the sysctls now and stay fixed for the channel's life;
 * its queued memory is charged to the calling task's real user.
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
	INIT_LIST_HEAD(&chan->msgs);
	INIT_LIST_HEAD(&chan->tx_waiters);
	INIT_LIST_HEAD(&chan->offers);
	chan->senders = 1;
	chan->rx_open = true;
	chan->capacity = MPSC_CAPACITY_UNBOUNDED;
	chan->id = atomic64_inc_return(&mpsc_last_id);
	chan->max_bytes = READ_ONCE(mpsc_max_queue_bytes);
	chan->max_msg = min_t(size_t, READ_ONCE(mpsc_max_msg_size),
			      chan->max_bytes);
	chan->exempt = has_capability_noaudit(current, CAP_SYS_RESOURCE);
	init_waitqueue_head(&chan->rx_wait);
	init_waitqueue_head(&chan->tx_poll);
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

static void mpsc_wake(struct mpsc_chan *chan, unsigned int wake)
{
	if (wake & MPSC_WAKE_RX_ALL)
		__wake_up(&chan->rx_wait, TASK_INTERRUPTIBLE, 0,
			  poll_to_key(EPOLLIN | EPOLLRDNORM | EPOLLHUP));
	else if (wake & MPSC_WAKE_RX)
		wake_up_interruptible_poll(&chan->rx_wait,
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

/* Could a message of @len bytes be reserved now, ignoring the FIFO? */
static bool mpsc_room(const struct mpsc_chan *chan, size_t len)
{
	lockdep_assert_held(&chan->lock);
	/* len <= max_msg <= max_bytes, and so is what is held. */
	if (chan->nr_bytes + chan->resv_bytes > chan->max_bytes - len)
		return false;
	/*
	 * A rendezvous channel counts bytes only: each of its messages has
	 * a writer waiting until it is taken.
	 */
	return !chan->capacity ||
	       chan->nr_msgs + chan->resv_msgs < chan->capacity;
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
	if (!list_empty(&chan->tx_waiters) || !mpsc_room(chan, chan->max_msg))
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
 * Wake the writers' FIFO head if its message fits.  Only the head, and
 * only when it can proceed: each freed slot wakes exactly one writer, in
 * arrival order (the explicit FIFO plays the part of an exclusive wait),
 * and a writer that proceeds passes the turn on the same way.
 */
static void mpsc_tx_kick(struct mpsc_chan *chan)
{
	struct mpsc_tx_waiter *w;

	lockdep_assert_held(&chan->lock);
	w = list_first_entry_or_null(&chan->tx_waiters,
				     struct mpsc_tx_waiter, node);
	if (w && mpsc_room(chan, w->len))
		wake_up_process(w->task);
}

/* Pollers to wake now that a write may no longer sleep. */
static unsigned int mpsc_tx_room_wake(struct mpsc_chan *chan)
{
	if (mpsc_waiting(chan, &chan->tx_poll) && mpsc_tx_ready(chan))
		return MPSC_WAKE_TX;
	return 0;
}

/*
 * Room was given back (a message committed or withdrawn, a reservation
 * dropped): pass it to the next writer, tell pollers, and wake every
 * reader if that was the last thing standing between them and end of
 * file.  Return: the wake-ups it calls for.
 */
static unsigned int mpsc_room_freed(struct mpsc_chan *chan)
{
	unsigned int wake = mpsc_tx_room_wake(chan);

	mpsc_tx_kick(chan);
	if (mpsc_eof(chan) && mpsc_waiting(chan, &chan->rx_wait))
		wake |= MPSC_WAKE_RX_ALL;
	return wake;
}

/*
 * Reserve room for a message of @len bytes and @nr_handles sender roles,
 * and charge its memory to the channel's user.  Return: 0, or -EDQUOT
 * with nothing reserved.
 */
static int mpsc_reserve(struct mpsc_chan *chan, size_t len,
			unsigned int nr_handles)
{
	int ret;

	lockdep_assert_held(&chan->lock);
	ret = mpsc_user_charge(chan->user, mpsc_msg_cost(len, nr_handles),
			       chan->exempt);
	if (ret)
		return ret;
	chan->resv_msgs++;
	chan->resv_bytes += len;
	return 0;
}

/* Give back a reservation that will not be queued. */
static unsigned int mpsc_unreserve(struct mpsc_chan *chan, size_t len,
				   unsigned int nr_handles)
{
	lockdep_assert_held(&chan->lock);
	chan->resv_msgs--;
	chan->resv_bytes -= len;
	mpsc_user_uncharge(chan->user, mpsc_msg_cost(len, nr_handles));
	return mpsc_room_freed(chan);
}

/*
 * Queue @msg at the tail, turning its reservation into a held message.
 * Return: the wake-ups it calls for.
 */
static unsigned int mpsc_enqueue(struct mpsc_chan *chan, struct mpsc_msg *msg)
{
	lockdep_assert_held(&chan->lock);
	chan->resv_msgs--;
	chan->resv_bytes -= msg->len;
	chan->nr_msgs++;
	chan->nr_bytes += msg->len;
	chan->nr_handles += msg->nr_handles;
	chan->mem += mpsc_msg_mem(msg);
	list_add_tail(&msg->node, &chan->msgs);
	/* A rendezvous send is counted when a reader commits it. */
	if (!msg->sender)
		chan->sent++;
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

/*
 * @msg, no longer queued nor being copied out, stops counting.  Return:
 * the wake-ups it calls for.
 */
static unsigned int mpsc_uncount(struct mpsc_chan *chan, struct mpsc_msg *msg)
{
	size_t cost = mpsc_msg_mem(msg);

	lockdep_assert_held(&chan->lock);
	chan->nr_msgs--;
	chan->nr_bytes -= msg->len;
	chan->nr_handles -= msg->nr_handles;
	chan->mem -= cost;
	mpsc_user_uncharge(chan->user, cost);
	return mpsc_room_freed(chan);
}

/*
 * Withdraw the offer of writer @w: its send fails with @err.  The message
 * leaves the queue; a blocking writer frees it itself, an async one is
 * moved to @done for mpsc_complete() to finish.  If a reader is copying it
 * out (only the writer itself withdraws such an offer), the message is
 * orphaned: the reader frees it at commit time and does not deliver it.
 * Return: the wake-ups it calls for.
 */
static unsigned int mpsc_withdraw(struct mpsc_chan *chan,
				  struct mpsc_tx_waiter *w, int err,
				  struct list_head *done)
{
	struct mpsc_msg *msg = w->msg;

	lockdep_assert_held(&chan->lock);
	list_del_init(&w->node);
	msg->sender = NULL;
	if (w->once)
		chan->nr_once--;
	if (!w->task)
		chan->nr_async--;
	w->status = err;
	if (w->task)
		wake_up_process(w->task);
	else
		list_add_tail(&w->node, done);
	if (msg->busy) {
		/* Still held, and still counted, until that reader lets go. */
		WARN_ON_ONCE(!w->task);
		msg->orphan = true;
		w->msg = NULL;
		return 0;
	}
	list_del_init(&msg->node);
	return mpsc_uncount(chan, msg);
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
		mpsc_msg_free(w->msg);
		w->iocb->ki_complete(w->iocb, w->status);
		kfree(w);
		if (!(++n % MPSC_PURGE_BATCH))
			cond_resched();
	}
}

/*
 * Sleep in the writers' FIFO until @w is its head and its message fits,
 * or the send must fail.  Returns 0 with @w off the FIFO and room for the
 * caller to reserve, or a negative errno (the next writer has then been
 * given its chance).
 */
static int mpsc_tx_wait(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
			ktime_t *expires)
	__must_hold(&chan->lock)
{
	bool expired = false;
	int ret;

	list_add_tail(&w->node, &chan->tx_waiters);
	for (;;) {
		ret = mpsc_tx_error(w->h);
		if (ret)
			break;
		if (list_first_entry(&chan->tx_waiters, struct mpsc_tx_waiter,
				     node) == w && mpsc_room(chan, w->len))
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
	if (ret)
		mpsc_tx_kick(chan);
	return ret;
}

/*
 * Admit a send of @w->len bytes: wait for room unless @nowait, then
 * reserve it.  A one-shot rendezvous send also needs an idle reader.
 * Return: 0 with room reserved, or a negative errno with nothing.
 */
static int mpsc_admit(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
		      ktime_t *expires, bool nowait, bool *waited)
	__must_hold(&chan->lock)
{
	int ret;

	ret = mpsc_tx_error(w->h);
	if (ret)
		return ret;
	if (nowait) {
		/* Never overtake a sleeping writer: that keeps the FIFO fair. */
		if (!list_empty(&chan->tx_waiters) || !mpsc_room(chan, w->len))
			return -EAGAIN;
		if (w->once && !mpsc_rx_free(chan))
			return -EAGAIN;
		if (!w->task && chan->nr_async >= MPSC_MAX_ASYNC)
			return -EAGAIN;
	} else if (!list_empty(&chan->tx_waiters) ||
		   !mpsc_room(chan, w->len)) {
		*waited = true;
		ret = mpsc_tx_wait(chan, w, expires);
		if (ret)
			return ret;
	}
	ret = mpsc_reserve(chan, w->len, w->nr_handles);
	/* What is left over is for the next writer in line. */
	mpsc_tx_kick(chan);
	return ret;
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
		if ((!chan->rx_open || chan->closed) && !w->msg->busy)
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
 * Give @msg a sender role for each of the @nfds fds of @fds.  Return: 0,
 * or a negative errno with the roles taken so far left on @msg for
 * mpsc_msg_free() to release.
 */
static int mpsc_msg_attach(struct mpsc_msg *msg, const int *fds,
			   unsigned int nfds)
{
	struct mpsc_handle *nh;

	msg->handles = kmalloc_array(nfds, sizeof(*msg->handles),
				     GFP_KERNEL_ACCOUNT);
	if (!msg->handles)
		return -ENOMEM;
	while (msg->nr_handles < nfds) {
		nh = mpsc_sender_fd_get(fds[msg->nr_handles]);
		if (IS_ERR(nh))
			return PTR_ERR(nh);
		msg->handles[msg->nr_handles++] = nh;
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
 * Room is reserved first, and charged to the channel's user; only then is
 * the message allocated (charged to the caller's memory cgroup) and copied
 * in, without the lock, and each fd of @fds gives it a new sender role of
 * its channel; then it is queued whole.  On a rendezvous channel the
 * call returns once a reader has received the message: without sleeping
 * that is possible only when a reader is already waiting in read(), and
 * an asynchronous @iocb is queued with its message and completed later.
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
		.nr_handles = nfds,
		.status = MPSC_OFFERED,
	};
	struct mpsc_tx_waiter *aw = NULL;
	unsigned int wake = 0;
	struct mpsc_msg *msg = NULL;
	bool waited = false;
	bool offer, async;
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

	spin_lock(&chan->lock);
	offer = !chan->capacity;
	async = offer && iocb;
	w.once = offer && nowait && !async;
	ret = mpsc_admit(chan, &w, expires, nowait || async, &waited);
	if (ret)
		goto out_unlock;
	/* The capacity may have changed while this writer slept. */
	offer = !chan->capacity;
	spin_unlock(&chan->lock);

	msg = mpsc_msg_alloc(len);
	if (async && msg) {
		aw = kmalloc(sizeof(*aw), GFP_KERNEL_ACCOUNT);
		if (!aw) {
			mpsc_msg_free(msg);
			msg = NULL;
		}
	}
	if (!msg)
		ret = -ENOMEM;
	else if (!copy_from_iter_full(msg->data, len, from))
		ret = -EFAULT;
	else if (nfds)
		ret = mpsc_msg_attach(msg, fds, nfds);

	spin_lock(&chan->lock);
	if (!ret)
		ret = mpsc_tx_error(h);
	/* The reader it was meant for may have left meanwhile. */
	if (!ret && w.once && chan->rx_idle < chan->nr_msgs + chan->resv_msgs)
		ret = -EAGAIN;
	if (ret) {
		wake |= mpsc_unreserve(chan, len, nfds);
		goto out_unlock;
	}
	if (!offer) {
		wake |= mpsc_enqueue(chan, msg);
		msg = NULL;
		ret = len;
		goto out_unlock;
	}
	if (async) {
		*aw = w;
		aw->task = NULL;
		aw->iocb = iocb;
		aw->msg = msg;
		msg->sender = aw;
		list_add_tail(&aw->node, &chan->offers);
		chan->nr_async++;
		wake |= mpsc_enqueue(chan, msg);
		/* From here on a reader may complete and free both. */
		msg = NULL;
		aw = NULL;
		ret = -EIOCBQUEUED;
		goto out_unlock;
	}
	w.msg = msg;
	msg->sender = &w;
	list_add_tail(&w.node, &chan->offers);
	if (w.once)
		chan->nr_once++;
	wake |= mpsc_enqueue(chan, msg);
	/* A one-shot offer waits for its reader's verdict, not a deadline. */
	ret = mpsc_offer_wait(chan, &w, w.once ? NULL : expires, &wake);
	/* Taken: the reader freed it.  Orphaned: the reader will. */
	msg = w.msg;
	if (!ret)
		ret = len;
out_unlock:
	/* An emptied FIFO can make the channel writable for pollers. */
	if (waited)
		wake |= mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_msg_free(msg);
	kfree(aw);
	return ret;
}

/*
 * Wait until a message is queued, or end of file, or the receive must
 * fail.  Return: 0 with *@msgp the head message, or NULL at end of file;
 * or a negative errno.
 */
static int mpsc_rx_wait(struct mpsc_chan *chan, struct mpsc_msg **msgp,
			ktime_t *expires, bool nowait, bool *expired)
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
		*msgp = list_first_entry_or_null(&chan->msgs, struct mpsc_msg,
						 node);
		ret = 0;
		if (*msgp || mpsc_eof(chan))
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

/*
 * Commit @msg, copied out whole: it leaves the channel, and a rendezvous
 * writer's send completes (an async one through @done).  Return: the
 * wake-ups it calls for.
 */
static unsigned int mpsc_commit(struct mpsc_chan *chan, struct mpsc_msg *msg,
				struct list_head *done)
{
	struct mpsc_tx_waiter *w = msg->sender;

	lockdep_assert_held(&chan->lock);
	chan->received++;
	if (w) {
		chan->sent++;
		if (w->once)
			chan->nr_once--;
		if (!w->task)
			chan->nr_async--;
		list_del_init(&w->node);
		msg->sender = NULL;
		w->msg = NULL;
		w->status = 0;
		if (w->task) {
			wake_up_process(w->task);
		} else {
			w->status = msg->len;
			list_add_tail(&w->node, done);
		}
	}
	return mpsc_uncount(chan, msg);
}

/*
 * @msg could not be copied out (the copy faulted): put it back at the head,
 * where it was.  A one-shot offer is withdrawn instead (its writer gets
 * EAGAIN), and so is any offer once the receiver has closed (EPIPE).
 * Return: the wake-ups it calls for.
 */
static unsigned int mpsc_putback(struct mpsc_chan *chan, struct mpsc_msg *msg,
				 struct list_head *done)
{
	struct mpsc_tx_waiter *w = msg->sender;

	lockdep_assert_held(&chan->lock);
	if (w && (w->once || chan->closed))
		return mpsc_withdraw(chan, w, w->once ? -EAGAIN : -EPIPE, done);
	list_add(&msg->node, &chan->msgs);
	/* The wake-up that brought us here must not die with us. */
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

/*
 * Write @msg as the next record of batch @b, at @b->buf + @b->used: its
 * header, its fds (installed when @b asks for handles, else -1), and its
 * payload.  Without the lock; @msg is busy, so it stays put.  Return: 0
 * with *@ninst fds installed in @fds, or a negative errno with none.
 */
static int mpsc_put_record(struct mpsc_msg *msg, struct mpsc_batch *b,
			   int *fds, unsigned int *ninst)
{
	u8 __user *rec = b->buf + b->used;
	u8 __user *ufds = rec + sizeof(struct mpsc_rec);
	u8 __user *data = ufds + MPSC_REC_FDS_SIZE(msg->nr_handles);
	struct mpsc_rec hdr = {
		.len = msg->len,
		.nfds = msg->nr_handles,
	};
	size_t fsize = msg->nr_handles * sizeof(int);
	unsigned int i;
	int ret;

	*ninst = 0;
	if (msg->nr_handles && !b->handles)
		hdr.flags = MPSC_REC_HANDLES_DROPPED;
	for (i = 0; i < msg->nr_handles; i++)
		fds[i] = -1;
	if (copy_to_user(rec, &hdr, sizeof(hdr)) ||
	    copy_to_user(ufds, fds, fsize) ||
	    copy_to_user(data, msg->data, msg->len))
		return -EFAULT;
	if (!msg->nr_handles || !b->handles)
		return 0;
	ret = mpsc_handles_install(msg->handles, msg->nr_handles, b->o_flags,
				   fds);
	if (ret)
		return ret;
	if (copy_to_user(ufds, fds, fsize)) {
		mpsc_handles_uninstall(fds, msg->nr_handles);
		return -EFAULT;
	}
	*ninst = msg->nr_handles;
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
		if (w->once && !w->msg->busy)
			wake |= mpsc_withdraw(chan, w, -EAGAIN, done);
	return wake;
}

/*
 * The receive loop behind mpsc_recv() (@b NULL: one message into @to) and
 * mpsc_recv_batch() (records into @b).  Each message is taken under the
 * lock, copied out without it, and committed under it, or put back.  A
 * batch waits only for its first message.
 */
static ssize_t mpsc_recv_loop(struct mpsc_handle *h, struct iov_iter *to,
			      struct mpsc_batch *b, ktime_t *expires,
			      bool nowait, size_t *need)
{
	struct mpsc_chan *chan = h->chan;
	int fds[MPSC_MAX_HANDLES];
	unsigned int wake = 0, ninst;
	struct mpsc_msg *msg, *next;
	bool expired = false;
	LIST_HEAD(done);
	LIST_HEAD(dead);
	size_t size, room, copied = 0;
	bool first;
	ssize_t ret;

	spin_lock(&chan->lock);
	for (;;) {
		first = !b || !b->count;
		if (first) {
			ret = mpsc_rx_wait(chan, &msg, expires, nowait,
					   &expired);
			if (ret || !msg)
				break;
		} else {
			msg = list_first_entry_or_null(&chan->msgs,
						       struct mpsc_msg, node);
			if (!msg || (b->max && b->count >= b->max))
				break;
		}
		if (b) {
			size = MPSC_REC_SIZE(msg->len, msg->nr_handles);
			room = b->size - b->used;
		} else {
			size = msg->len;
			room = iov_iter_count(to);
		}
		if (size > room) {
			if (!first)
				break;
			if (need)
				*need = size;
			if (msg->sender && msg->sender->once)
				wake |= mpsc_withdraw(chan, msg->sender,
						      -EAGAIN, &done);
			else if (mpsc_waiting(chan, &chan->rx_wait))
				wake |= MPSC_WAKE_RX;
			ret = -EMSGSIZE;
			break;
		}
		list_del_init(&msg->node);
		msg->busy = true;
		spin_unlock(&chan->lock);

		ninst = 0;
		if (b) {
			ret = mpsc_put_record(msg, b, fds, &ninst);
		} else {
			copied = copy_to_iter(msg->data, msg->len, to);
			ret = copied == msg->len ? 0 : -EFAULT;
		}

		spin_lock(&chan->lock);
		msg->busy = false;
		if (msg->orphan) {
			/* Its writer gave up meanwhile: not delivered. */
			wake |= mpsc_uncount(chan, msg);
			spin_unlock(&chan->lock);
			mpsc_handles_uninstall(fds, ninst);
			mpsc_msg_free(msg);
			if (!b)
				iov_iter_revert(to, copied);
			spin_lock(&chan->lock);
			continue;
		}
		if (ret) {
			wake |= mpsc_putback(chan, msg, &done);
			break;
		}
		wake |= mpsc_commit(chan, msg, &done);
		list_add_tail(&msg->node, &dead);
		if (!b) {
			ret = msg->len;
			break;
		}
		b->count++;
		b->used += size;
	}
	wake |= mpsc_strand_check(chan, &done);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_complete(&done);
	/* Their roles are installed anew, or dropped: release theirs. */
	list_for_each_entry_safe(msg, next, &dead, node)
		mpsc_msg_free(msg);
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
 * The head message is taken under the lock, copied out after it, and
 * committed under it again.  If the copy faults, it goes back to the head
 * of the queue, so it is neither lost nor delivered twice; meanwhile it
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
	struct mpsc_msg *msg;
	int ret = 0;

	spin_lock(&chan->lock);
	msg = list_first_entry_or_null(&chan->msgs, struct mpsc_msg, node);
	if (msg)
		*len = msg->len;
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
 * growing wakes the writer at the head of the line.  Writers waiting for
 * a rendezvous hand-off keep waiting until their message is taken, and
 * messages buffered before a switch to 0 are still received; every send
 * admitted while the capacity is 0 is a rendezvous.
 */
void mpsc_set_capacity(struct mpsc_handle *h, u64 capacity)
{
	struct mpsc_chan *chan = h->chan;
	unsigned int wake;

	spin_lock(&chan->lock);
	chan->capacity = capacity;
	mpsc_tx_kick(chan);
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
		if (!w->msg->busy)
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
 * the file), so no message is being copied out.  The queue is detached
 * under the lock in one step and freed after it, yielding the CPU every
 * MPSC_PURGE_BATCH messages, so a long queue holds neither the lock nor
 * the CPU.
 */
static void mpsc_rx_release(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_msg *msg, *next;
	struct mpsc_tx_waiter *w;
	unsigned int wake, n = 0;
	LIST_HEAD(done);
	LIST_HEAD(dead);

	spin_lock(&chan->lock);
	/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
	WRITE_ONCE(chan->rx_open, false);
	wake = mpsc_drop_sender(h);
	wake |= mpsc_withdraw_offers(chan, &done);
	WARN_ON_ONCE(!list_empty(&chan->offers));
	/* What is left is buffered messages only. */
	list_splice_init(&chan->msgs, &dead);
	mpsc_user_uncharge(chan->user, chan->mem);
	chan->nr_msgs = 0;
	chan->nr_bytes = 0;
	chan->nr_handles = 0;
	chan->mem = 0;
	list_for_each_entry(w, &chan->tx_waiters, node)
		wake_up_process(w->task);
	if (mpsc_waiting(chan, &chan->tx_poll))
		wake |= MPSC_WAKE_TX_ERR;
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	mpsc_complete(&done);

	list_for_each_entry_safe(msg, next, &dead, node) {
		mpsc_msg_free(msg);
		if (!(++n % MPSC_PURGE_BATCH))
			cond_resched();
	}
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

	spin_lock(&chan->lock);
	if (h->rx) {
		if (!list_empty(&chan->msgs))
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
