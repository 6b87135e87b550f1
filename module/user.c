// SPDX-License-Identifier: GPL-2.0
/*
 * The per-user ceiling: bytes of message memory queued across all the
 * channels one user has opened, as pipes count pipe-user-pages and mqueue
 * counts RLIMIT_MSGQUEUE.
 *
 * A channel is charged to the real uid that opened /dev/mpsc, like a pipe
 * to its creator, whoever sends into it.  A charge is the memory really
 * held for a message, header and allocator rounding included, and it is
 * taken before anything is allocated, so a refused send costs nothing.
 * The counter is an atomic, raised by compare-and-exchange only when the
 * new total stays within the limit, so it never passes it.  A channel whose opener had
 * CAP_SYS_RESOURCE is counted but never refused, as pipes exempt it.
 */

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>

#include "mpsc_internal.h"

/**
 * struct mpsc_user - one user's queued message memory
 * @node: entry in mpsc_users (mpsc_users_lock).
 * @uid: the user (constant).
 * @ref: one reference per channel the user opened.
 * @bytes: memory queued in those channels, in bytes.
 */
struct mpsc_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;
	atomic_long_t bytes;
};

/* mpsc_users_lock protects mpsc_users and the 1 -> 0 step of each ->ref. */
static DEFINE_SPINLOCK(mpsc_users_lock);
static DEFINE_HASHTABLE(mpsc_users, 6);

static struct mpsc_user *mpsc_user_find(kuid_t uid)
{
	struct mpsc_user *u;

	lockdep_assert_held(&mpsc_users_lock);
	hash_for_each_possible(mpsc_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/**
 * mpsc_user_get() - the calling task's real user, with a reference
 *
 * Return: the user, or NULL when out of memory.
 */
struct mpsc_user *mpsc_user_get(void)
{
	kuid_t uid = current_uid();
	struct mpsc_user *u, *new;

	spin_lock(&mpsc_users_lock);
	u = mpsc_user_find(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&mpsc_users_lock);
	if (u)
		return u;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	new->uid = uid;
	refcount_set(&new->ref, 1);
	atomic_long_set(&new->bytes, 0);

	spin_lock(&mpsc_users_lock);
	u = mpsc_user_find(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hash_add(mpsc_users, &new->node, __kuid_val(uid));
		u = new;
		new = NULL;
	}
	spin_unlock(&mpsc_users_lock);
	kfree(new);
	return u;
}

/**
 * mpsc_user_put() - drop a reference from mpsc_user_get()
 * @u: the user; freed with its last channel, when nothing is charged
 */
void mpsc_user_put(struct mpsc_user *u)
{
	if (refcount_dec_not_one(&u->ref))
		return;
	spin_lock(&mpsc_users_lock);
	if (!refcount_dec_and_test(&u->ref)) {
		spin_unlock(&mpsc_users_lock);
		return;
	}
	hash_del(&u->node);
	spin_unlock(&mpsc_users_lock);
	WARN_ON_ONCE(atomic_long_read(&u->bytes));
	kfree(u);
}

/**
 * mpsc_user_charge() - charge @bytes of queued memory to @u
 * @u: the channel's user
 * @bytes: what the message will really hold
 * @exempt: the channel's opener had CAP_SYS_RESOURCE
 *
 * Return: 0, or -EDQUOT when the charge would pass max_user_bytes (a
 * limit of 0 means none); nothing is charged then.
 */
int mpsc_user_charge(struct mpsc_user *u, size_t bytes, bool exempt)
{
	unsigned long limit = READ_ONCE(mpsc_max_user_bytes);
	long old = atomic_long_read(&u->bytes);

	/* A refused charge never shows, so it cannot refuse another. */
	do {
		if (limit && !exempt && (unsigned long)old + bytes > limit)
			return -EDQUOT;
	} while (!atomic_long_try_cmpxchg(&u->bytes, &old, old + bytes));
	return 0;
}

/**
 * mpsc_user_uncharge() - give back a charge of mpsc_user_charge()
 * @u: the channel's user
 * @bytes: the amount charged
 */
void mpsc_user_uncharge(struct mpsc_user *u, size_t bytes)
{
	WARN_ON_ONCE(atomic_long_sub_return(bytes, &u->bytes) < 0);
}
