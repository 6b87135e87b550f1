// SPDX-License-Identifier: GPL-2.0
/*
 * ioctls.  Each copies its argument struct in, rejects unknown flags and
 * non-zero reserved bytes with EINVAL, and copies results out only where
 * a failed copy cannot lose or duplicate a message.
 */

#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "compat.h"
#include "mpsc_internal.h"

#define MPSC_CLONE_FLAGS	(O_CLOEXEC | O_NONBLOCK)

/*
 * MPSC_IOC_CLONE_SENDER: reserve an fd, build the file, report the fd,
 * take the sender role, and only then install the fd.  Each step that
 * fails undoes the earlier ones, so a failure leaves no trace.
 */
static long mpsc_ioctl_clone(struct mpsc_handle *h,
			     struct mpsc_clone_args __user *uargs)
{
	struct mpsc_clone_args args;
	struct mpsc_handle *nh;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, uargs, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~MPSC_CLONE_FLAGS)
		return -EINVAL;
	if (memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;

	fd = get_unused_fd_flags(args.flags & O_CLOEXEC);
	if (fd < 0)
		return fd;
	nh = mpsc_handle_alloc(h->chan);
	if (!nh) {
		ret = -ENOMEM;
		goto out_put_fd;
	}
	file = mpsc_sender_file(nh, args.flags);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_release_handle;
	}
	/* The file owns nh now: fput() releases both. */
	if (put_user(fd, &uargs->fd)) {
		ret = -EFAULT;
		goto out_put_file;
	}
	ret = mpsc_sender_attach(h, nh);
	if (ret)
		goto out_put_file;
	fd_install(fd, file);
	return fd;

out_put_file:
	fput(file);
	goto out_put_fd;
out_release_handle:
	mpsc_handle_release(nh);
out_put_fd:
	put_unused_fd(fd);
	return ret;
}

static long mpsc_ioctl_info(struct mpsc_handle *h,
			    struct mpsc_info __user *uinfo)
{
	struct mpsc_info info;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;
	if (info.flags || memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;
	mpsc_get_info(h, &info);
	if (copy_to_user(uinfo, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long mpsc_ioctl_peek_len(struct mpsc_handle *h,
				struct mpsc_peek_args __user *uargs)
{
	struct mpsc_peek_args args;
	size_t len;
	int ret;

	if (copy_from_user(&args, uargs, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.reserved)
		return -EINVAL;
	if (!h->rx)
		return -EBADF;
	ret = mpsc_peek_len(h, &len);
	if (ret)
		return ret;
	if (put_user(len, &uargs->len))
		return -EFAULT;
	return 0;
}

static long mpsc_ioctl_set_capacity(struct mpsc_handle *h,
				    struct mpsc_capacity_args __user *uargs)
{
	struct mpsc_capacity_args args;

	if (copy_from_user(&args, uargs, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.reserved)
		return -EINVAL;
	if (!h->rx)
		return -EBADF;
	mpsc_set_capacity(h, args.capacity);
	return 0;
}

/*
 * The deadline @x asks for: NULL to wait without one, or @deadline filled
 * in.  *@nowait is set when the call must not sleep at all: a relative
 * timeout of 0, or an absolute deadline already past; in the second case
 * *@late is set too, and the caller reports ETIMEDOUT for EAGAIN.
 */
static ktime_t *mpsc_xfer_deadline(const struct mpsc_xfer *x,
				   ktime_t *deadline, bool *nowait, bool *late)
{
	*nowait = false;
	*late = false;
	if (x->timeout_ns == MPSC_TIMEOUT_FOREVER || x->timeout_ns > KTIME_MAX)
		return NULL;
	if (x->flags & MPSC_XFER_ABSTIME) {
		*deadline = ns_to_ktime(x->timeout_ns);
		*late = ktime_compare(*deadline, ktime_get()) <= 0;
		*nowait = *late;
		return deadline;
	}
	if (!x->timeout_ns) {
		*nowait = true;
		return NULL;
	}
	*deadline = ktime_add_safe(ktime_get(), ns_to_ktime(x->timeout_ns));
	return deadline;
}

#define MPSC_XFER_FLAGS \
	(MPSC_XFER_ABSTIME | MPSC_XFER_BATCH | MPSC_XFER_HANDLES | \
	 MPSC_XFER_CLOEXEC)

/* Flags that make no sense alone, or in this direction: EINVAL. */
static bool mpsc_xfer_valid(const struct mpsc_xfer *x, bool send)
{
	if ((x->flags & ~MPSC_XFER_FLAGS) ||
	    memchr_inv(x->reserved, 0, sizeof(x->reserved)))
		return false;
	if (!(x->flags & MPSC_XFER_BATCH))
		return !x->count && !(x->flags & (MPSC_XFER_HANDLES |
						  MPSC_XFER_CLOEXEC));
	if (send)
		return x->count && !(x->flags & (MPSC_XFER_HANDLES |
						 MPSC_XFER_CLOEXEC));
	return (x->flags & MPSC_XFER_HANDLES) || !(x->flags & MPSC_XFER_CLOEXEC);
}

/*
 * One record of a batch send, at @ubuf + *@off with @size bytes left:
 * check it, attach its fds and send it.  Return: as mpsc_send(), and
 * *@off moved past the record once it was sent.
 */
static ssize_t mpsc_send_record(struct mpsc_handle *h, u8 __user *ubuf,
				u64 size, u64 *off, ktime_t *expires,
				bool nowait)
{
	int fds[MPSC_MAX_HANDLES];
	struct iov_iter iter;
	struct mpsc_rec rec;
	unsigned int i;
	u64 rsize;
	ssize_t ret;

	if (size - *off < sizeof(rec))
		return -EINVAL;
	if (copy_from_user(&rec, ubuf + *off, sizeof(rec)))
		return -EFAULT;
	if (rec.flags || !rec.len || rec.nfds > MPSC_MAX_HANDLES)
		return -EINVAL;
	rsize = MPSC_REC_SIZE((u64)rec.len, rec.nfds);
	if (rsize > size - *off)
		return -EINVAL;
	if (rec.len > h->chan->max_msg)
		return -EMSGSIZE;
	if (copy_from_user(fds, ubuf + *off + sizeof(rec),
			   rec.nfds * sizeof(int)))
		return -EFAULT;
	/* Refuse what cannot travel before waiting for room. */
	for (i = 0; i < rec.nfds; i++) {
		ret = mpsc_sender_fd_check(fds[i]);
		if (ret)
			return ret;
	}
	ret = import_ubuf(ITER_SOURCE, ubuf + *off + sizeof(rec) +
			  MPSC_REC_FDS_SIZE(rec.nfds), rec.len, &iter);
	if (ret)
		return ret;
	ret = mpsc_send(h, &iter, fds, rec.nfds, expires, nowait, NULL);
	if (ret > 0)
		*off += rsize;
	return ret;
}

/* MPSC_IOC_SEND with MPSC_XFER_BATCH: the records sent, or an error. */
static ssize_t mpsc_send_batch(struct mpsc_handle *h, const struct mpsc_xfer *x,
			       ktime_t *expires, bool nowait)
{
	u8 __user *ubuf = u64_to_user_ptr(x->buf);
	unsigned int sent;
	ssize_t ret = 0;
	u64 off = 0;

	size_t used;

	for (sent = 0; sent < x->count;) {
		/* Runs of plain records move together; others one by one. */
		ret = mpsc_send_run(h, ubuf + off, x->len - off,
				    x->count - sent, expires, nowait, &used);
		if (ret > 0) {
			sent += ret;
			off += used;
			continue;
		}
		if (ret < 0)
			break;
		ret = mpsc_send_record(h, ubuf, x->len, &off, expires, nowait);
		if (ret <= 0)
			break;
		sent++;
	}
	/* Records sent are reported; the error comes with the next call. */
	return sent ? sent : ret;
}

/*
 * MPSC_IOC_SEND and MPSC_IOC_RECV: write() and read() with a timeout, or
 * batches of records.  Nothing is written back after a message has
 * moved, so a bad struct pointer cannot lose one; on a signal the
 * relative timeout is rewritten as its deadline so that the restarted call
 * ends when the first would have.
 */
static long mpsc_ioctl_xfer(struct mpsc_handle *h, struct mpsc_xfer __user *ux,
			    bool send)
{
	ktime_t deadline, *expires;
	struct mpsc_batch b = { };
	struct iov_iter iter;
	struct mpsc_xfer x;
	size_t need = 0;
	bool nowait, late;
	long ret;

	if (copy_from_user(&x, ux, sizeof(x)))
		return -EFAULT;
	if (!mpsc_xfer_valid(&x, send))
		return -EINVAL;
	if (!send && !h->rx)
		return -EBADF;
	expires = mpsc_xfer_deadline(&x, &deadline, &nowait, &late);

	if (x.flags & MPSC_XFER_BATCH) {
		if (send) {
			ret = mpsc_send_batch(h, &x, expires, nowait);
		} else {
			b.buf = u64_to_user_ptr(x.buf);
			b.size = min_t(u64, x.len, MAX_RW_COUNT);
			if (!access_ok(b.buf, b.size))
				return -EFAULT;
			b.max = x.count;
			b.handles = x.flags & MPSC_XFER_HANDLES;
			b.o_flags = x.flags & MPSC_XFER_CLOEXEC ? O_CLOEXEC : 0;
			ret = mpsc_recv_batch(h, &b, expires, nowait, &need);
		}
	} else {
		if (send && x.len > h->chan->max_msg)
			return -EMSGSIZE;
		ret = import_ubuf(send ? ITER_SOURCE : ITER_DEST,
				  u64_to_user_ptr(x.buf),
				  min_t(u64, x.len, MAX_RW_COUNT), &iter);
		if (ret)
			return ret;
		if (send)
			ret = mpsc_send(h, &iter, NULL, 0, expires, nowait,
					NULL);
		else
			ret = mpsc_recv(h, &iter, expires, nowait, &need);
	}
	if (ret == -EAGAIN && late)
		ret = -ETIMEDOUT;

	if (ret == -ERESTARTSYS && expires && !(x.flags & MPSC_XFER_ABSTIME)) {
		if (put_user(ktime_to_ns(deadline), &ux->timeout_ns) ||
		    put_user(x.flags | MPSC_XFER_ABSTIME, &ux->flags))
			return -EFAULT;
	}
	if (ret == -EMSGSIZE && !send && put_user(need, &ux->len))
		return -EFAULT;
	return ret;
}

/**
 * mpsc_ioctl() - dispatch an mpsc ioctl
 * @file: a receiver or sender file
 * @cmd: an MPSC_IOC_* command
 * @arg: its argument: a user pointer, or 0 for the _IO commands
 *
 * Return: as each command documents; -ENOTTY for an unknown command,
 * -EBADF for a receiver's command on a sender.
 */
long mpsc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mpsc_handle *h = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MPSC_IOC_CLONE_SENDER:
		return mpsc_ioctl_clone(h, uarg);
	case MPSC_IOC_DISCONNECT:
		/* The argument is reserved for flags. */
		if (arg)
			return -EINVAL;
		mpsc_disconnect(h);
		return 0;
	case MPSC_IOC_INFO:
		return mpsc_ioctl_info(h, uarg);
	case MPSC_IOC_PEEK_LEN:
		return mpsc_ioctl_peek_len(h, uarg);
	case MPSC_IOC_SET_CAPACITY:
		return mpsc_ioctl_set_capacity(h, uarg);
	case MPSC_IOC_CLOSE:
		if (arg)
			return -EINVAL;
		if (!h->rx)
			return -EBADF;
		mpsc_close(h);
		return 0;
	case MPSC_IOC_SEND:
		return mpsc_ioctl_xfer(h, uarg, true);
	case MPSC_IOC_RECV:
		return mpsc_ioctl_xfer(h, uarg, false);
	}
	return -ENOTTY;
}
