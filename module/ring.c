// SPDX-License-Identifier: GPL-2.0
/*
 * The store of a channel: packed records in a ring of recycled pages.
 *
 * A channel's messages are struct mpsc_rec headers, each followed by its
 * payload padded to 8 bytes, one after the other at logical offsets that
 * only grow; the ring maps offset o to slot (o / PAGE_SIZE) % nr_slots.  A
 * page is put in a slot when the tail first needs it, and taken out when
 * the head has passed it: it then becomes the spare for the tail, so a
 * channel of messages up to a page in steady state allocates nothing, or
 * it is freed when the ring already has one.  A message costs its payload, padded to 8 bytes, plus
 * an 8-byte header; a channel holds at most its limit in records, plus
 * the partial pages at both ends and its spares.
 *
 * The records are the batch uapi's (struct mpsc_rec), and nothing in the
 * pages is a kernel pointer, so the pages could one day be mapped
 * read-only into the receiver, as io_uring maps its rings (see
 * docs/performance.rst).
 *
 * Everything here runs under chan->lock, except the copies in and out of
 * a record's bytes, which its copier owns while the record is reserved or
 * busy: the head never passes such a record, so its pages stay put.
 */

#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "mpsc_internal.h"

/*
 * Spare pages a channel keeps: four, which the tail takes when the head
 * gives them back, as a pipe keeps its tmp_page: enough that a channel
 * whose reader keeps up, with messages or batch runs of up to a few
 * pages, allocates nothing.  More would be memory that no per-user limit
 * sees (the memory cgroup still does).
 */
#define MPSC_MAX_SPARE	4

/**
 * mpsc_ring_init() - an empty ring for at most @max_bytes of records
 * @r: the ring
 * @max_bytes: the most its records may take
 *
 * Nothing is allocated until the first send.
 */
void mpsc_ring_init(struct mpsc_ring *r, size_t max_bytes)
{
	/*
	 * @max_bytes of records from a head in the middle of a page touch
	 * one page more than they fill: every page they touch needs a slot
	 * of its own.
	 */
	r->nr_slots = roundup_pow_of_two(DIV_ROUND_UP(max_bytes, PAGE_SIZE) + 1);
	INIT_LIST_HEAD(&r->spare);
}

/**
 * mpsc_ring_alloc_slots() - the slot array, for the first send
 * @r: the ring
 * @slots: set to the array, charged to the caller's memory cgroup
 *
 * Without the lock.  The caller installs it under the lock, or frees it
 * with kvfree() when another send did first.
 *
 * Return: 0 or -ENOMEM.
 */
int mpsc_ring_alloc_slots(struct mpsc_ring *r, struct page ***slots)
{
	*slots = kvcalloc(r->nr_slots, sizeof(**slots), GFP_KERNEL_ACCOUNT);
	return *slots ? 0 : -ENOMEM;
}

static struct page **mpsc_ring_slot(const struct mpsc_ring *r, u64 off)
{
	return &r->slots[(off >> PAGE_SHIFT) & (r->nr_slots - 1)];
}

/**
 * mpsc_ring_need() - pages a record of @size bytes at the tail needs
 * @r: the ring, with its slots
 * @size: the record's size
 *
 * Return: how many of its slots are empty.
 */
unsigned int mpsc_ring_need(const struct mpsc_ring *r, size_t size)
{
	u64 first = r->tail >> PAGE_SHIFT;
	u64 last = (r->tail + size - 1) >> PAGE_SHIFT;
	unsigned int need = 0;
	u64 p;

	for (p = first; p <= last; p++)
		need += !*mpsc_ring_slot(r, p << PAGE_SHIFT);
	return need;
}

/**
 * mpsc_ring_place() - put a record of @size bytes at the tail
 * @r: the ring; its spares hold at least mpsc_ring_need() pages
 * @size: the record's size, its header's included
 *
 * Return: the record's offset.
 */
u64 mpsc_ring_place(struct mpsc_ring *r, size_t size)
{
	u64 off = r->tail, p, last = (off + size - 1) >> PAGE_SHIFT;
	struct page **slot, *page;

	for (p = off >> PAGE_SHIFT; p <= last; p++) {
		slot = mpsc_ring_slot(r, p << PAGE_SHIFT);
		if (*slot)
			continue;
		page = list_first_entry(&r->spare, struct page, lru);
		list_del(&page->lru);
		r->nr_spare--;
		*slot = page;
	}
	r->tail += size;
	r->nr_reserved++;
	return off;
}

/* Free the spares beyond the one kept.  Allowed under a spinlock. */
static void mpsc_ring_trim(struct mpsc_ring *r)
{
	struct page *page;

	while (r->nr_spare > MPSC_MAX_SPARE) {
		page = list_first_entry(&r->spare, struct page, lru);
		list_del(&page->lru);
		r->nr_spare--;
		r->nr_pages--;
		__free_page(page);
	}
}

/* Take the page out of @slot, if any, as a spare. */
static void mpsc_ring_unslot(struct mpsc_ring *r, struct page **slot)
{
	if (!*slot)
		return;
	list_add(&(*slot)->lru, &r->spare);
	r->nr_spare++;
	*slot = NULL;
}

/**
 * mpsc_ring_unplace() - take back the record at the tail
 * @r: the ring
 * @off: a reserved record's offset
 * @size: its size
 *
 * A send whose copy in failed gives its room back at once when its record
 * is the last one: the tail moves back, and the pages beyond it become
 * spares.  Otherwise the record dies in place, and the head gives its
 * room back when it passes it.
 *
 * Return: true when the tail moved back.
 */
bool mpsc_ring_unplace(struct mpsc_ring *r, u64 off, size_t size)
{
	u64 p, last = (r->tail - 1) >> PAGE_SHIFT;

	if (off + size != r->tail)
		return false;
	r->tail = off;
	for (p = (off + PAGE_SIZE - 1) >> PAGE_SHIFT; p <= last; p++)
		mpsc_ring_unslot(r, mpsc_ring_slot(r, p << PAGE_SHIFT));
	if (r->head == r->tail)
		mpsc_ring_unslot(r, mpsc_ring_slot(r, off));
	r->scan = min(r->scan, r->tail);
	mpsc_ring_trim(r);
	return true;
}

/**
 * mpsc_ring_advance() - move the head to @head, past dead records
 * @r: the ring
 * @head: the new head, at most the tail
 *
 * The pages the head has left become spares (and so does its own page
 * once the ring is empty); the spares beyond the one kept are freed,
 * which is allowed under a spinlock.
 *
 */
void mpsc_ring_advance(struct mpsc_ring *r, u64 head)
{
	u64 p, last = head >> PAGE_SHIFT;

	for (p = r->head >> PAGE_SHIFT; p < last; p++)
		mpsc_ring_unslot(r, mpsc_ring_slot(r, p << PAGE_SHIFT));
	if (head == r->tail)
		mpsc_ring_unslot(r, mpsc_ring_slot(r, head));
	r->head = head;
	r->scan = max(r->scan, head);
	mpsc_ring_trim(r);
}

/**
 * mpsc_ring_detach() - take every page out of a ring that holds nothing
 * @r: the ring, whose records are all dead and none reserved
 * @pages: where the pages go, for mpsc_ring_free_pages() after the lock
 *
 * The ring is left empty at its tail, its slot array kept.
 */
void mpsc_ring_detach(struct mpsc_ring *r, struct list_head *pages)
{
	struct page **slot;
	u64 p, last;

	if (r->slots) {
		last = (r->tail + PAGE_SIZE - 1) >> PAGE_SHIFT;
		for (p = r->head >> PAGE_SHIFT; p < last; p++) {
			slot = mpsc_ring_slot(r, p << PAGE_SHIFT);
			if (*slot)
				list_add(&(*slot)->lru, pages);
			*slot = NULL;
		}
	}
	list_splice_init(&r->spare, pages);
	r->nr_spare = 0;
	r->nr_pages = 0;
	r->head = r->tail;
	r->scan = r->tail;
}

/**
 * mpsc_ring_free_pages() - free pages mpsc_ring_detach() took
 * @pages: the list, emptied
 *
 * Without the lock; it yields the CPU now and then, so a large ring
 * neither holds a lock nor the CPU for long.
 */
void mpsc_ring_free_pages(struct list_head *pages)
{
	struct page *page, *next;
	unsigned int n = 0;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		__free_page(page);
		if (!(++n % 64))
			cond_resched();
	}
}

static struct page *mpsc_ring_page(const struct mpsc_ring *r, u64 off)
{
	return *mpsc_ring_slot(r, off);
}

/**
 * mpsc_ring_rec() - the header of the record at @off
 * @r: the ring
 * @off: a record's offset, below the tail
 *
 * Return: the header, which never straddles a page.
 */
struct mpsc_rec *mpsc_ring_rec(const struct mpsc_ring *r, u64 off)
{
	return page_address(mpsc_ring_page(r, off)) + offset_in_page(off);
}

/* The next piece of a copy at @off: up to the end of its page. */
static size_t mpsc_ring_chunk(u64 off, size_t len)
{
	return min_t(size_t, len, PAGE_SIZE - offset_in_page(off));
}

/*
 * The copies go page by page, as a pipe's do (copy_page_*_iter()): the
 * pages are the ring's own, so hardened usercopy has nothing to check.
 */

/**
 * mpsc_ring_copy_in() - copy bytes in from @from
 * @r: the ring
 * @off: where they go (reserved records' bytes)
 * @from: the source
 * @len: bytes to copy
 *
 * Return: the number of bytes copied, @len unless the source faulted.
 */
size_t mpsc_ring_copy_in(const struct mpsc_ring *r, u64 off,
			 struct iov_iter *from, size_t len)
{
	size_t n, done = 0, copied;

	while (done < len) {
		n = mpsc_ring_chunk(off, len - done);
		copied = copy_page_from_iter(mpsc_ring_page(r, off),
					     offset_in_page(off), n, from);
		done += copied;
		if (copied != n)
			break;
		off += n;
	}
	return done;
}

/**
 * mpsc_ring_write() - copy bytes in from kernel memory
 * @r: the ring
 * @off: where they go (a reserved record's bytes)
 * @src: the source
 * @len: bytes to copy
 */
void mpsc_ring_write(const struct mpsc_ring *r, u64 off, const void *src,
		     size_t len)
{
	size_t n;

	while (len) {
		n = mpsc_ring_chunk(off, len);
		memcpy(page_address(mpsc_ring_page(r, off)) +
		       offset_in_page(off), src, n);
		src += n;
		off += n;
		len -= n;
	}
}

/**
 * mpsc_ring_copy_out() - copy a payload out to @to
 * @r: the ring
 * @off: where the payload is (a busy record's, after its header)
 * @to: the destination
 * @len: bytes to copy
 *
 * Return: true when all @len bytes were copied.
 */
bool mpsc_ring_copy_out(const struct mpsc_ring *r, u64 off,
			struct iov_iter *to, size_t len)
{
	size_t n;

	while (len) {
		n = mpsc_ring_chunk(off, len);
		if (copy_page_to_iter(mpsc_ring_page(r, off),
				      offset_in_page(off), n, to) != n)
			return false;
		off += n;
		len -= n;
	}
	return true;
}

/**
 * mpsc_ring_to_user() - copy a payload out to user memory at @dst
 * @r: the ring
 * @off: where the payload is (a busy record's, after its header)
 * @dst: the destination
 * @len: bytes to copy
 *
 * Return: 0 or -EFAULT.
 */
int mpsc_ring_to_user(const struct mpsc_ring *r, u64 off, u8 __user *dst,
		      size_t len)
{
	struct iov_iter to;

	if (import_ubuf(ITER_DEST, dst, len, &to))
		return -EFAULT;
	return mpsc_ring_copy_out(r, off, &to, len) ? 0 : -EFAULT;
}
