// SPDX-License-Identifier: GPL-2.0
/*
 * File operations, shared by the receiver (opened from /dev/mpsc) and by
 * cloned senders (anonymous-inode files that are write-only, so the VFS
 * refuses to read them with EBADF).
 */

#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/seq_file.h>

#include "mpsc_internal.h"

/*
 * A new channel.  The fd is its receiver and its first sender, so it must
 * be opened for reading and writing; any other access mode is EINVAL.
 */
static int mpsc_open(struct inode *inode, struct file *file)
{
	struct mpsc_handle *h;

	if ((file->f_flags & O_ACCMODE) != O_RDWR)
		return -EINVAL;
	h = mpsc_chan_create();
	if (IS_ERR(h))
		return PTR_ERR(h);
	file->private_data = h;
	file->f_mode |= FMODE_NOWAIT;
	return stream_open(inode, file);
}

static int mpsc_release(struct inode *inode, struct file *file)
{
	mpsc_handle_release(file->private_data);
	return 0;
}

/* O_NONBLOCK, or IOCB_NOWAIT from io_uring and preadv2(RWF_NOWAIT). */
static bool mpsc_nowait(const struct kiocb *iocb)
{
	return (iocb->ki_filp->f_flags & O_NONBLOCK) ||
	       (iocb->ki_flags & IOCB_NOWAIT);
}

static ssize_t mpsc_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct mpsc_handle *h = iocb->ki_filp->private_data;

	if (!h->rx)
		return -EBADF;
	return mpsc_recv(h, to, NULL, mpsc_nowait(iocb), NULL);
}

/*
 * An asynchronous request (io_uring, aio) on a file without O_NONBLOCK may
 * be queued and completed later: a rendezvous send then waits for its
 * reader without blocking the submitter or being retried through poll.
 */
static ssize_t mpsc_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mpsc_handle *h = iocb->ki_filp->private_data;
	bool async = !is_sync_kiocb(iocb) &&
		     !(iocb->ki_filp->f_flags & O_NONBLOCK);

	return mpsc_send(h, from, NULL, mpsc_nowait(iocb),
			 async ? iocb : NULL);
}

static __poll_t mpsc_poll(struct file *file, poll_table *pt)
{
	struct mpsc_handle *h = file->private_data;

	if (h->rx)
		poll_wait(file, &h->chan->rx_wait, pt);
	poll_wait(file, &h->chan->tx_poll, pt);
	return mpsc_poll_mask(h);
}

static void mpsc_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct mpsc_info info;

	mpsc_get_info(file->private_data, &info);
	seq_printf(m, "mpsc-id:\t%llu\n", info.id);
	seq_printf(m, "mpsc-receiver:\t%u\n",
		   !!(info.state & MPSC_STATE_RECEIVER));
	seq_printf(m, "mpsc-sender:\t%u\n", !!(info.state & MPSC_STATE_SENDER));
	seq_printf(m, "mpsc-receiver-open:\t%u\n",
		   !!(info.state & MPSC_STATE_RX_OPEN));
	seq_printf(m, "mpsc-closed:\t%u\n", !!(info.state & MPSC_STATE_CLOSED));
	seq_printf(m, "mpsc-senders:\t%llu\n", info.senders);
	seq_printf(m, "mpsc-queued-msgs:\t%llu\n", info.queued_msgs);
	seq_printf(m, "mpsc-queued-bytes:\t%llu\n", info.queued_bytes);
	seq_printf(m, "mpsc-queued-mem:\t%llu\n", info.queued_mem);
	seq_printf(m, "mpsc-max-queue-bytes:\t%llu\n", info.max_queue_bytes);
	seq_printf(m, "mpsc-max-msg-size:\t%llu\n", info.max_msg_size);
	if (info.capacity == MPSC_CAPACITY_UNBOUNDED)
		seq_puts(m, "mpsc-capacity:\tunbounded\n");
	else
		seq_printf(m, "mpsc-capacity:\t%llu\n", info.capacity);
	seq_printf(m, "mpsc-sent:\t%llu\n", info.sent);
	seq_printf(m, "mpsc-received:\t%llu\n", info.received);
}

const struct file_operations mpsc_fops = {
	.owner		= THIS_MODULE,
	.open		= mpsc_open,
	.release	= mpsc_release,
	.read_iter	= mpsc_read_iter,
	.write_iter	= mpsc_write_iter,
	.poll		= mpsc_poll,
	.unlocked_ioctl	= mpsc_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
	.show_fdinfo	= mpsc_show_fdinfo,
};

/**
 * mpsc_sender_file() - a write-only file for a cloned sender
 * @h: the new handle; the file owns it from now on
 * @flags: O_NONBLOCK, or 0
 *
 * Return: the file, or an ERR_PTR (the caller still owns @h then).
 */
struct file *mpsc_sender_file(struct mpsc_handle *h, unsigned int flags)
{
	struct file *file;

	file = anon_inode_getfile("[mpsc-sender]", &mpsc_fops, h,
				  O_WRONLY | (flags & O_NONBLOCK));
	if (IS_ERR(file))
		return file;
	file->f_mode |= FMODE_NOWAIT;
	stream_open(file_inode(file), file);
	return file;
}
