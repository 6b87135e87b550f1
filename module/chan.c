// SPDX-License-Identifier: GPL-2.0
/*
 * The channel state machine: the message queue, sender roles, the receiver,
 * and who sleeps and wakes when.  mpsc.h says what chan->lock protects.
 *
 * Capacity: an unbounded channel is limited by bytes only; a bounded one
 * (capacity N) also by N queued messages.  A rendezvous channel (capacity
 * 0) queues each message together with its writer, who sleeps until a
 * reader takes it; the take and a writer's withdrawal (on a signal, a
 * deadline, or the receiver closing) both happen under chan->lock, so a
 * message is either delivered or withdrawn, never both and never neither.
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
 * A writer that sleeps: on the writer's stack, for the length of one send.
 * While it waits for room it sits on chan->tx_waiters; on a rendezvous
 * channel it then waits for a reader to take its message, which points
 * back to it with msg->sender.  Every field is under chan->lock.
 */
struct mpsc_tx_waiter {
	struct list_head node;
	struct task_struct *task;
	struct mpsc_handle *h;
	size_t len;
	bool taken;
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
	msg->sender = NULL;
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

/* Could a message of @len bytes be queued now, ignoring the FIFO? */
static bool mpsc_room(const struct mpsc_chan *chan, size_t len)
{
	lockdep_assert_held(&chan->lock);
	/* len <= max_msg <= max_bytes, so the subtraction cannot wrap. */
	if (chan->nr_bytes > chan->max_bytes - len)
		return false;
	/*
	 * A rendezvous channel counts bytes only: each of its messages has
	 * a writer asleep until it is taken.
	 */
	return !chan->capacity || chan->nr_msgs < chan->capacity;
}

/* Rendezvous: is a reader asleep with no message yet on its way to it? */
static bool mpsc_rx_free(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return chan->rx_idle > chan->nr_msgs;
}

/* Would a write of any valid size succeed without sleeping? */
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

/* Nothing is queued and nothing more can be: end of file. */
static bool mpsc_eof(const struct mpsc_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return list_empty(&chan->msgs) && (!chan->senders || chan->closed);
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

/* Queue @msg at the tail.  Return: the wake-ups it calls for. */
static unsigned int mpsc_enqueue(struct mpsc_chan *chan, struct mpsc_msg *msg)
{
	lockdep_assert_held(&chan->lock);
	list_add_tail(&msg->node, &chan->msgs);
	chan->nr_msgs++;
	chan->nr_bytes += msg->len;
	/* A rendezvous send is counted when a reader takes it. */
	if (!msg->sender)
		chan->sent++;
	return mpsc_waiting(chan, &chan->rx_wait) ? MPSC_WAKE_RX : 0;
}

static void mpsc_unlink(struct mpsc_chan *chan, struct mpsc_msg *msg)
{
	lockdep_assert_held(&chan->lock);
	list_del_init(&msg->node);
	chan->nr_msgs--;
	chan->nr_bytes -= msg->len;
}

/*
 * Sleep in the writers' FIFO until @w is its head and its message fits,
 * or the send must fail.  Returns 0 with @w off the FIFO and room for the
 * caller to queue its message, or a negative errno (the next writer has
 * then been given its chance).
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
 * Rendezvous: queue @msg on behalf of @w and sleep until a reader takes
 * it.  A writer that must give up (a signal, its deadline, the receiver
 * closed or gone) withdraws the message here, under the lock, before the
 * reader can take it.  Returns 0 when it was taken (the reader owns @msg
 * then), or a negative errno with @msg withdrawn (the caller frees it).
 * *@wake collects the wake-ups still to issue.
 */
static int mpsc_handoff(struct mpsc_chan *chan, struct mpsc_tx_waiter *w,
			struct mpsc_msg *msg, ktime_t *expires,
			unsigned int *wake)
	__must_hold(&chan->lock)
{
	bool expired = false;
	int ret;

	w->taken = false;
	msg->sender = w;
	*wake |= mpsc_enqueue(chan, msg);
	/* The next writer in line may rendezvous too. */
	mpsc_tx_kick(chan);
	for (;;) {
		if (w->taken)
			return 0;
		if (!chan->rx_open || chan->closed)
			ret = -EPIPE;
		else if (signal_pending(current))
			ret = -ERESTARTSYS;
		else if (expired)
			ret = -ETIMEDOUT;
		else
			ret = 0;
		if (ret)
			break;
		expired = mpsc_sleep(chan, *wake, expires);
		*wake = 0;
	}
	/* Closing or releasing the receiver may have unlinked it already. */
	msg->sender = NULL;
	if (!list_empty(&msg->node)) {
		mpsc_unlink(chan, msg);
		mpsc_tx_kick(chan);
		*wake |= mpsc_tx_room_wake(chan);
	}
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
 * before the lock is taken, then queued whole or not at all.  On a
 * rendezvous channel the call returns once a reader has taken it; without
 * sleeping that is possible only when a reader is already waiting.
 *
 * Return: the message length; 0 for an empty @from, which queues nothing;
 * -EMSGSIZE, -EFAULT, -ENOMEM; -EPIPE when @h has no sender role or the
 * receiver is closed or gone; -EAGAIN, -ETIMEDOUT or -ERESTARTSYS when
 * there was no room (or, on a rendezvous channel, no taker).  On every
 * error nothing was queued, or the message was withdrawn untaken.
 */
ssize_t mpsc_send(struct mpsc_handle *h, struct iov_iter *from,
		  ktime_t *expires, bool nowait)
{
	struct mpsc_chan *chan = h->chan;
	size_t len = iov_iter_count(from);
	struct mpsc_tx_waiter w = {
		.node = LIST_HEAD_INIT(w.node),
		.task = current,
		.h = h,
		.len = len,
	};
	unsigned int wake = 0;
	struct mpsc_msg *msg;
	bool waited = false;
	ssize_t ret;

	if (!len)
		return 0;
	if (len > chan->max_msg)
		return -EMSGSIZE;
	/*
	 * Unlocked early exit, so a dead sender does not allocate: these
	 * only ever change one way, and are checked again under the lock.
	 */
	if (!READ_ONCE(h->tx) || !READ_ONCE(chan->rx_open) ||
	    READ_ONCE(chan->closed))
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
	if (nowait) {
		/* Never overtake a sleeping writer: that keeps the FIFO fair. */
		ret = -EAGAIN;
		if (!list_empty(&chan->tx_waiters) || !mpsc_room(chan, len))
			goto out_unlock;
		/* Rendezvous without sleeping: only to a reader that waits. */
		if (!chan->capacity && !mpsc_rx_free(chan))
			goto out_unlock;
	} else if (!list_empty(&chan->tx_waiters) || !mpsc_room(chan, len)) {
		waited = true;
		ret = mpsc_tx_wait(chan, &w, expires);
		if (ret)
			goto out_unlock;
	}
	if (!chan->capacity && !nowait) {
		ret = mpsc_handoff(chan, &w, msg, expires, &wake);
		if (ret)
			goto out_unlock;
	} else {
		wake |= mpsc_enqueue(chan, msg);
		/* Room may be left over for the next writer in line. */
		mpsc_tx_kick(chan);
	}
	msg = NULL;
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
 * them may meanwhile have received the message behind it.)  Taking a
 * rendezvous message completes its writer's send.
 *
 * Return: the message length; 0 at end of file (queue drained, and no
 * sender left or the receiver closed); -EMSGSIZE, leaving the message at
 * the head; -EFAULT; -EAGAIN, -ETIMEDOUT or -ERESTARTSYS when the queue
 * stayed empty.
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
		if (mpsc_eof(chan))
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
		/* An idle reader makes a rendezvous channel writable. */
		chan->rx_idle++;
		wake = chan->capacity ? 0 : mpsc_tx_room_wake(chan);
		expired = mpsc_sleep(chan, wake, expires);
		chan->rx_idle--;
	}
	finish_wait(&chan->rx_wait, &wait);

	if (msg->len > room) {
		if (need)
			*need = msg->len;
		ret = -EMSGSIZE;
		goto out_pass_wake;
	}
	mpsc_unlink(chan, msg);
	chan->received++;
	if (msg->sender) {
		/* Rendezvous: the writer's send completes here. */
		msg->sender->taken = true;
		wake_up_process(msg->sender->task);
		msg->sender = NULL;
		chan->sent++;
	}
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
	goto out_unlock_wake;
out_unlock:
	wake = 0;
out_unlock_wake:
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
 * mpsc_set_capacity() - bound the channel to @capacity queued messages
 * @h: the receiver's handle
 * @capacity: N >= 1, 0 for a rendezvous channel, or MPSC_CAPACITY_UNBOUNDED
 *
 * Nothing queued is ever dropped: shrinking only makes writers wait, and
 * growing wakes the writer at the head of the line.  Writers already
 * waiting for a rendezvous hand-off keep waiting until their message is
 * taken.
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

/**
 * mpsc_close() - close the channel to senders (the receiver only)
 * @h: the receiver's handle
 *
 * tokio's Receiver::close(): every send from now on fails with EPIPE, and
 * so do the sends asleep now, including rendezvous sends not yet taken,
 * whose messages are withdrawn here.  Messages already queued can still
 * be received; then read() returns 0.  Closing twice is harmless.
 */
void mpsc_close(struct mpsc_handle *h)
{
	struct mpsc_chan *chan = h->chan;
	struct mpsc_msg *msg, *next;
	struct mpsc_tx_waiter *w;
	unsigned int wake = 0;

	spin_lock(&chan->lock);
	if (!chan->closed) {
		/* WRITE_ONCE: mpsc_send() peeks at it without the lock. */
		WRITE_ONCE(chan->closed, true);
		list_for_each_entry(w, &chan->tx_waiters, node)
			wake_up_process(w->task);
		list_for_each_entry_safe(msg, next, &chan->msgs, node) {
			if (!msg->sender)
				continue;
			mpsc_unlink(chan, msg);
			wake_up_process(msg->sender->task);
		}
		/* Readers asleep behind a queued message must see EOF too. */
		if (mpsc_waiting(chan, &chan->rx_wait))
			wake |= MPSC_WAKE_RX_ALL;
		if (mpsc_waiting(chan, &chan->tx_poll))
			wake |= MPSC_WAKE_TX;
	}
	spin_unlock(&chan->lock);
	mpsc_wake(chan, wake);
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
	/* Readers asleep behind a queued message must see EOF too. */
	if (!--chan->senders && mpsc_waiting(chan, &chan->rx_wait))
		wake |= MPSC_WAKE_RX_ALL;
	/*
	 * Writers asleep on this handle for room now fail with EPIPE.  A
	 * rendezvous message already queued stays: it was sent before.
	 */
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
 * send, pending or new, with EPIPE.  A rendezvous message is unlinked but
 * left to its writer to free.  No reader can be asleep: it would hold the
 * file.
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
	list_for_each_entry_safe(msg, next, &chan->msgs, node) {
		mpsc_unlink(chan, msg);
		if (msg->sender)
			wake_up_process(msg->sender->task);
		else
			list_add_tail(&msg->node, &dead);
	}
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
 * hung up at end of file.  A sender is writable when a write of any size
 * up to max_msg would not sleep (on a rendezvous channel: a reader is
 * waiting), and writable with an error when writes fail at once (EPIPE).
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
	if (chan->closed)
		info->state |= MPSC_STATE_CLOSED;
	info->queued_msgs = chan->nr_msgs;
	info->queued_bytes = chan->nr_bytes;
	info->capacity = chan->capacity;
	info->senders = chan->senders;
	info->sent = chan->sent;
	info->received = chan->received;
	spin_unlock(&chan->lock);
}
