// SPDX-License-Identifier: GPL-2.0
/*
 * File operations, shared by the receiver (opened from /dev/mpsc) and by
 * cloned senders (anonymous-inode files that are write-only, so the VFS
 * refuses to read them with EBADF).
 */

#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/seq_file.h>

#include "compat.h"
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
 * An asynchronous request's non-blocking attempt (io_uring's first issue)
 * on a file without O_NONBLOCK may be queued and completed later: a
 * rendezvous send then waits for its reader without blocking the
 * submitter or being retried through poll.  An asynchronous request that
 * may block (io_uring's worker, aio) simply blocks, interruptibly.
 */
static ssize_t mpsc_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mpsc_handle *h = iocb->ki_filp->private_data;
	bool async = !is_sync_kiocb(iocb) &&
		     (iocb->ki_flags & IOCB_NOWAIT) &&
		     !(iocb->ki_filp->f_flags & O_NONBLOCK);

	return mpsc_send(h, from, NULL, 0, NULL, mpsc_nowait(iocb),
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
	seq_printf(m, "mpsc-queued-handles:\t%llu\n", info.queued_handles);
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

/**
 * mpsc_sender_fd_check() - may @fd ride in a message?
 * @fd: a file descriptor of the caller
 *
 * Only mpsc sender roles travel: a cloned sender, or a receiver's fd for
 * its own sender role.  A message can therefore never carry a receiver,
 * so a queue can never keep its own receiver alive: no reference cycle
 * outlives the receiver's file, and no garbage collector is needed.
 *
 * Return: 0; -EBADF when @fd is not open; -EINVAL when it is not an mpsc
 * fd; -EPIPE when it holds no sender role.
 */
int mpsc_sender_fd_check(int fd)
{
	struct mpsc_handle *h;
	struct file *file;
	int ret = 0;

	file = fget(fd);
	if (!file)
		return -EBADF;
	if (file->f_op != &mpsc_fops) {
		ret = -EINVAL;
	} else {
		h = file->private_data;
		/* Checked again under the lock when the role is cloned. */
		if (!READ_ONCE(h->tx))
			ret = -EPIPE;
	}
	fput(file);
	return ret;
}

/**
 * mpsc_sender_fd_get() - a new sender role, cloned from the one of @fd
 * @fd: a sender fd, as mpsc_sender_fd_check() accepts
 *
 * The role belongs to no file: it rides in a message, keeping its channel
 * connected, until it is installed in a receiving process or released.
 * Its memory is charged to the caller's memory cgroup.
 *
 * Return: the handle, or an ERR_PTR: -EBADF, -EINVAL, -EPIPE, -ENOMEM.
 */
struct mpsc_handle *mpsc_sender_fd_get(int fd)
{
	struct mpsc_handle *h, *nh;
	struct file *file;
	int ret;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	ret = -EINVAL;
	if (file->f_op != &mpsc_fops)
		goto out_fput;
	h = file->private_data;
	ret = -ENOMEM;
	nh = mpsc_handle_alloc(h->chan);
	if (!nh)
		goto out_fput;
	ret = mpsc_sender_attach(h, nh);
	if (ret) {
		mpsc_handle_release(nh);
		goto out_fput;
	}
	fput(file);
	return nh;

out_fput:
	fput(file);
	return ERR_PTR(ret);
}

/**
 * mpsc_handles_install() - install @n sender roles as fds, all or none
 * @hs: roles riding in a message; they stay with the message
 * @n: how many, at most MPSC_MAX_HANDLES
 * @o_flags: O_CLOEXEC, or 0
 * @fds: out: the fds installed
 *
 * Each role is cloned into a new sender file of the caller.  First every
 * file is built and as many fds are reserved, so that a lack of memory or
 * of fds (RLIMIT_NOFILE) fails before anything is installed.  Then each
 * file goes through receive_fd(), which applies the LSM's file_receive
 * check as SCM_RIGHTS does; if one is refused, those installed before it
 * are closed again.  The caller releases the message's own roles once it
 * has committed the message, so the channel's sender count only ever
 * rises meanwhile, and a failure changes nothing.
 *
 * Return: 0, or -ENOMEM, -EMFILE, or the LSM's error.
 */
int mpsc_handles_install(struct mpsc_handle **hs, unsigned int n,
			 unsigned int o_flags, int *fds)
{
	struct file *files[MPSC_MAX_HANDLES];
	unsigned int i, built = 0, installed = 0;
	struct mpsc_handle *nh;
	int ret = 0;

	for (built = 0; built < n; built++) {
		nh = mpsc_handle_alloc(hs[built]->chan);
		if (!nh) {
			ret = -ENOMEM;
			goto out_put_files;
		}
		/* A role in flight never drops, so this cannot fail. */
		WARN_ON_ONCE(mpsc_sender_attach(hs[built], nh));
		files[built] = mpsc_sender_file(nh, 0);
		if (IS_ERR(files[built])) {
			ret = PTR_ERR(files[built]);
			mpsc_handle_release(nh);
			goto out_put_files;
		}
	}
	/* Fail on RLIMIT_NOFILE before installing anything. */
	for (i = 0; i < n; i++) {
		fds[i] = get_unused_fd_flags(o_flags);
		if (fds[i] < 0) {
			ret = fds[i];
			while (i--)
				put_unused_fd(fds[i]);
			goto out_put_files;
		}
	}
	for (i = 0; i < n; i++)
		put_unused_fd(fds[i]);
	for (installed = 0; installed < n; installed++) {
		/* receive_fd() takes its own reference on success. */
		ret = mpsc_receive_fd(files[installed], o_flags);
		if (ret < 0) {
			mpsc_handles_uninstall(fds, installed);
			installed = 0;
			goto out_put_files;
		}
		fds[installed] = ret;
	}
	ret = 0;
out_put_files:
	for (i = 0; i < built; i++)
		fput(files[i]);
	return ret;
}

/**
 * mpsc_handles_uninstall() - close fds that mpsc_handles_install() made
 * @fds: the fds
 * @n: how many
 */
void mpsc_handles_uninstall(const int *fds, unsigned int n)
{
	while (n--)
		close_fd(fds[n]);
}
