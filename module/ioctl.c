// SPDX-License-Identifier: GPL-2.0
/*
 * ioctls.  Each copies its argument struct in, rejects unknown flags and
 * non-zero reserved bytes with EINVAL, and copies results out only where
 * a failed copy cannot lose or duplicate a message.
 */

#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "mpsc.h"

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
	mpsc_info(h, &info);
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
	}
	return -ENOTTY;
}
