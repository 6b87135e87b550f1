// SPDX-License-Identifier: GPL-2.0
/*
 * The channel state machine: the message queue, sender roles, the receiver,
 * and who sleeps and wakes when.  mpsc.h says what chan->lock protects.
 *
 * Wake-ups of wait queues (readers, pollers) are decided under chan->lock
 * and issued after it is dropped.  The decision may look at
 * waitqueue_active() without a barrier because every waiter on those
 * queues adds itself before it reads the channel's state under
 * chan->lock: a reader calls prepare_to_wait_exclusive() with the lock
 * held, a poller calls poll_wait() and then takes the lock.  So a waker
 * that holds the lock either sees the waiter on the queue, or the waiter
 * has yet to take the lock and will see the new state itself.
 */

#include <linux/atomic.h>
#include <linux/hrtimer.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mpsc.h"

/*
 * A writer asleep for room.  It lives on the writer's stack and sits on
 * chan->tx_waiters (chan->lock) for as long as it sleeps there.
 */
struct mpsc_tx_waiter {
	struct list_head node;
	struct task_struct *task;
	struct mpsc_handle *h;
	size_t len;
};

/* Wake-ups to issue once chan->lock is dropped. */
#define MPSC_WAKE_RX		BIT(0)	/* one reader and the receiver's pollers */
#define MPSC_WAKE_RX_ALL	BIT(1)	/* every reader: end of file */
#define MPSC_WAKE_TX		BIT(2)	/* sender pollers: room, or an error */

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
 * A message of @len bytes, charged to the caller's memory cgroup.  Small
 * payloads live inline.  One that would push the allocation past a page
 * gets a buffer of exactly @len bytes: a 64 KiB message then costs
 * 64 KiB, not the 128 KiB of the next allocation size up.
 */
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
	INIT_LIST_HEAD(&msg->node);
	return msg;
}

static void mpsc_msg_free(struct mpsc_msg *msg)
{
	if (!msg)
		return;
	if (msg->data != msg->inline_data)
		kvfree(msg->data);
	kfree(msg);
}

static void mpsc_chan_free(struct kref *ref)
{
	struct mpsc_chan *chan = container_of(ref, struct mpsc_chan, ref);

	/* The receiver's release emptied the queue; sleepers hold files. */
	WARN_ON_ONCE(!list_empty(&chan->msgs));
	WARN_ON_ONCE(!list_empty(&chan->tx_waiters));
	kmem_cache_free(mpsc_chan_cachep, chan);
}

/**
 * mpsc_chan_create() - create a channel and its receiver handle
 *
 * The receiver also holds the channel's first sender role, as
 * `let (tx, rx) = channel()` in one handle.  The limits are sampled from
 * the module parameters now and stay fixed for the channel's life.
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
	if (!h) {
		kmem_cache_free(mpsc_chan_cachep, chan);
		return ERR_PTR(-ENOMEM);
	}

	spin_lock_init(&chan->lock);
	INIT_LIST_HEAD(&chan->msgs);
	INIT_LIST_HEAD(&chan->tx_waiters);
	chan->senders = 1;
	chan->rx_open = true;
	chan->capacity = MPSC_CAPACITY_UNBOUNDED;
	chan->id = atomic64_inc_return(&mpsc_last_id);
	chan->max_bytes = READ_ONCE(mpsc_max_queue_bytes);
	chan->max_msg = min_t(size_t, READ_ONCE(mpsc_max_msg_size),
			      chan->max_bytes);
	init_waitqueue_head(&chan->rx_wait);
	init_waitqueue_head(&chan->tx_poll);
	kref_init(&chan->ref);

	h->chan = chan;
	h->rx = true;
	h->tx = true;
	return h;
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
	if (wake & MPSC_WAKE_TX)
		wake_up_interruptible_poll(&chan->tx_poll,
					   EPOLLOUT | EPOLLWRNORM | EPOLLERR);
}

/* Could a message of @len bytes be queued now, ignoring the FIFO? */
static bool mpsc_room(const struct mpsc_chan *chan, size_t len)
{
	lockdep_assert_held(&chan->lock);
	/* len <= max_msg <= max_bytes, so the subtraction cannot wrap. */
	if (chan->nr_bytes > chan->max_bytes - len)
		return false;
	return chan->nr_msgs < chan->capacity;
}

/* Would a write of any valid size succeed without sleeping? */
static bool mpsc_tx_ready(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return list_empty(&chan->tx_waiters) && mpsc_room(chan, chan->max_msg);
}

/* Why a send through @h must fail now, or 0. */
static int mpsc_tx_error(const struct mpsc_handle *h)
{
	lockdep_assert_held(&h->chan->lock);
	if (!h->tx || !h->chan->rx_open)
		return -EPIPE;
	return 0;
}

/* Wake the writers' FIFO head if its message fits: one wake per slot. */
static void mpsc_tx_kick(struct mpsc_chan *chan)
{
	struct mpsc_tx_waiter *w;

	lockdep_assert_held(&chan->lock);
	w = list_first_entry_or_null(&chan->tx_waiters,
				     struct mpsc_tx_waiter, node);
	if (w && mpsc_room(chan, w->len))
		wake_up_process(w->task);
}

/* Pollers to wake after room was freed. */
static unsigned int mpsc_tx_room_wake(struct mpsc_chan *chan)
{
	if (mpsc_waiting(chan, &chan->tx_poll) && mpsc_tx_ready(chan))
		return MPSC_WAKE_TX;
	return 0;
}

/* Queue @msg at the tail.  Return: the wake-ups it calls for. */
static unsigned int mpsc_enqueue(struct mpsc_chan *chan, struct mpsc_msg *msg)
{
	lockdep_assert_held(&chan->lock);
	list_add_tail(&msg->node, &chan->msgs);
	chan->nr_msgs++;
	chan->nr_bytes += msg->len;
	chan->sent++;
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

/*
 * Sleep in the writers' FIFO until @w is its head and its message fits,
 * or the send must fail.  Returns 0 with @w off the FIFO and room for the
 * caller to queue its message, or a negative errno (the next writer has
 * been given its chance).  @expires is an absolute CLOCK_MONOTONIC
 * deadline, or NULL to wait without one.
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
		/*
		 * Wakers hold chan->lock, so setting the state before
		 * dropping the lock means no wake_up_process() is lost.
		 */
		__set_current_state(TASK_INTERRUPTIBLE);
		spin_unlock(&chan->lock);
		expired = !schedule_hrtimeout_range(expires,
						    current->timer_slack_ns,
						    HRTIMER_MODE_ABS);
		spin_lock(&chan->lock);
	}
	list_del(&w->node);
	if (ret)
		mpsc_tx_kick(chan);
	return ret;
}

/**
 * mpsc_send() - send one message through sender handle @h (any sender)
 * @h: a handle that holds a sender role
 * @from: the whole message, 1 to max_msg bytes
 * @expires: absolute CLOCK_MONOTONIC deadline, or NULL for none
 * @nowait: fail with -EAGAIN rather than sleep
 *
 * The message is copied in and charged to the caller's memory cgroup
 * before the lock is taken, then queued whole or not at all.
 *
 * Return: the message length; 0 for an empty @from, which queues nothing;
 * -EMSGSIZE, -EFAULT, -ENOMEM; -EPIPE when @h has no sender role or the
 * receiver is gone; -EAGAIN, -ETIMEDOUT, -ERESTARTSYS when there was no
 * room.  On every error nothing was queued.
 */
ssize_t mpsc_send(struct mpsc_handle *h, struct iov_iter *from,
		  ktime_t *expires, bool nowait)
{
	struct mpsc_chan *chan = h->chan;
	size_t len = iov_iter_count(from);
	unsigned int wake = 0;
	struct mpsc_msg *msg;
	bool waited = false;
	ssize_t ret;

	if (!len)
		return 0;
	if (len > chan->max_msg)
		return -EMSGSIZE;
	/*
	 * Unlocked early exit, so a dead sender does not allocate: both
	 * bits only ever go from true to false, and they are checked again
	 * under the lock below.
	 */
	if (!READ_ONCE(h->tx) || !READ_ONCE(chan->rx_open))
		return -EPIPE;

	msg = mpsc_msg_alloc(len);
	if (!msg)
		return -ENOMEM;
	if (!copy_from_iter_full(msg->data, len, from)) {
		ret = -EFAULT;
		goto out_free_msg;
	}

	spin_lock(&chan->lock);
	ret = mpsc_tx_error(h);
	if (ret)
		goto out_unlock;
	/* Never overtake a sleeping writer: that is what keeps the FIFO fair. */
	if (!list_empty(&chan->tx_waiters) || !mpsc_room(chan, len)) {
		struct mpsc_tx_waiter w = {
			.task = current,
			.h = h,
			.len = len,
		};

		ret = -EAGAIN;
		if (nowait)
			goto out_unlock;
		waited = true;
		ret = mpsc_tx_wait(chan, &w, expires);
		if (ret)
			goto out_unlock;
	}
	wake = mpsc_enqueue(chan, msg);
	msg = NULL;
	/* Room may be left over for the next writer in line. */
	mpsc_tx_kick(chan);
	ret = len;
out_unlock:
	/* An emptied FIFO can make the channel writable for pollers. */
	if (waited)
		wake |= mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
out_free_msg:
	mpsc_msg_free(msg);
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
 * The message is unlinked under the lock and copied out after it.  If the
 * copy faults it goes back to the head of the queue, so it is neither lost
 * nor delivered twice.  (With several threads reading one receiver, one of
 * them may meanwhile have received the message behind it.)
 *
 * Return: the message length; 0 at end of file (no sender left, queue
 * drained); -EMSGSIZE, leaving the message at the head; -EFAULT;
 * -EAGAIN, -ETIMEDOUT or -ERESTARTSYS when the queue stayed empty.
 */
ssize_t mpsc_recv(struct mpsc_handle *h, struct iov_iter *to,
		  ktime_t *expires, bool nowait, size_t *need)
{
	struct mpsc_chan *chan = h->chan;
	size_t room = iov_iter_count(to);
	unsigned int wake = 0;
	struct mpsc_msg *msg;
	bool expired = false;
	DEFINE_WAIT(wait);
	ssize_t ret;

	spin_lock(&chan->lock);
	for (;;) {
		msg = list_first_entry_or_null(&chan->msgs, struct mpsc_msg,
					       node);
		if (msg)
			break;
		ret = 0;
		if (!chan->senders)
			goto out_unlock;
		ret = -EAGAIN;
		if (nowait)
			goto out_unlock;
		ret = -ERESTARTSYS;
		if (signal_pending(current))
			goto out_unlock;
		ret = -ETIMEDOUT;
		if (expired)
			goto out_unlock;
		prepare_to_wait_exclusive(&chan->rx_wait, &wait,
					  TASK_INTERRUPTIBLE);
		spin_unlock(&chan->lock);
		expired = !schedule_hrtimeout_range(expires,
						    current->timer_slack_ns,
						    HRTIMER_MODE_ABS);
		spin_lock(&chan->lock);
	}
	finish_wait(&chan->rx_wait, &wait);

	if (msg->len > room) {
		if (need)
			*need = msg->len;
		ret = -EMSGSIZE;
		goto out_pass_wake;
	}
	list_del_init(&msg->node);
	chan->nr_msgs--;
	chan->nr_bytes -= msg->len;
	chan->received++;
	mpsc_tx_kick(chan);
	wake = mpsc_tx_room_wake(chan);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);

	if (copy_to_iter(msg->data, msg->len, to) != msg->len) {
		spin_lock(&chan->lock);
		list_add(&msg->node, &chan->msgs);
		chan->nr_msgs++;
		chan->nr_bytes += msg->len;
		chan->received--;
		ret = -EFAULT;
		goto out_pass_wake;
	}
	ret = msg->len;
	mpsc_msg_free(msg);
	return ret;

out_pass_wake:
	/* A wake-up meant for one reader must not die with us. */
	wake = mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
out_unlock:
	finish_wait(&chan->rx_wait, &wait);
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
	return ret;
}

/**
 * mpsc_peek_len() - length of the next message (the receiver only)
 * @h: the receiver's handle
 * @len: set to the length, or to 0 at end of file
 *
 * Return: 0, or -EAGAIN when the queue is empty but a sender is left.
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
	else if (!chan->senders)
		*len = 0;
	else
		ret = -EAGAIN;
	spin_unlock(&chan->lock);
	return ret;
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
	if (!--chan->senders && mpsc_waiting(chan, &chan->rx_wait))
		wake |= MPSC_WAKE_RX_ALL;
	/* Writers asleep on this handle now fail with EPIPE. */
	list_for_each_entry(w, &chan->tx_waiters, node)
		if (w->h == h)
			wake_up_process(w->task);
	if (mpsc_waiting(chan, &chan->tx_poll))
		wake |= MPSC_WAKE_TX;
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
 * The receiver's file is going away: free what is queued and fail every
 * send, pending or new, with EPIPE.  No reader can be asleep: it would
 * hold the file.
 */
static void mpsc_rx_release(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_msg *msg, *next;
	struct mpsc_tx_waiter *w;
	unsigned int wake;
	LIST_HEAD(dead);

	spin_lock(&chan->lock);
	/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
	WRITE_ONCE(chan->rx_open, false);
	wake = mpsc_drop_sender(h);
	list_splice_init(&chan->msgs, &dead);
	chan->nr_msgs = 0;
	chan->nr_bytes = 0;
	list_for_each_entry(w, &chan->tx_waiters, node)
		wake_up_process(w->task);
	if (mpsc_waiting(chan, &chan->tx_poll))
		wake |= MPSC_WAKE_TX;
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);

	list_for_each_entry_safe(msg, next, &dead, node)
		mpsc_msg_free(msg);
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
 * hung up once the channel is disconnected and drained.  A sender is
 * writable when a write of any size up to max_msg would not sleep, and
 * writable with an error when writes fail at once (EPIPE).
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
		else if (!chan->senders)
			mask |= EPOLLIN | EPOLLRDNORM | EPOLLHUP;
	}
	if (h->tx || !h->rx) {
		if (mpsc_tx_error(h))
			mask |= EPOLLOUT | EPOLLWRNORM | EPOLLERR;
		else if (mpsc_tx_ready(chan))
			mask |= EPOLLOUT | EPOLLWRNORM;
	}
	spin_unlock(&chan->lock);
	return mask;
}

/**
 * mpsc_info() - snapshot of @h's channel, for MPSC_IOC_INFO and fdinfo
 * @h: any handle
 * @info: filled in whole; flags and reserved are zeroed
 */
void mpsc_info(struct mpsc_handle *h, struct mpsc_info *info)
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
	info->queued_msgs = chan->nr_msgs;
	info->queued_bytes = chan->nr_bytes;
	info->capacity = chan->capacity;
	info->senders = chan->senders;
	info->sent = chan->sent;
	info->received = chan->received;
	spin_unlock(&chan->lock);
}
