// SPDX-License-Identifier: GPL-2.0
/*
 * mpsc: Rust-style multi-producer, single-consumer channels, served as the
 * misc device /dev/mpsc.  Opening it creates a channel.
 */

#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "mpsc.h"

unsigned int mpsc_max_msg_size = 64 << 10;
unsigned int mpsc_max_queue_bytes = 1 << 20;

static int mpsc_param_set_msg_size(const char *val,
				   const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, MPSC_MSG_SIZE_LIMIT);
}

static int mpsc_param_set_queue_bytes(const char *val,
				      const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, MPSC_QUEUE_BYTES_LIMIT);
}

static const struct kernel_param_ops mpsc_msg_size_ops = {
	.set = mpsc_param_set_msg_size,
	.get = param_get_uint,
};

static const struct kernel_param_ops mpsc_queue_bytes_ops = {
	.set = mpsc_param_set_queue_bytes,
	.get = param_get_uint,
};

module_param_cb(max_msg_size, &mpsc_msg_size_ops, &mpsc_max_msg_size, 0644);
MODULE_PARM_DESC(max_msg_size,
		 "Largest message in bytes, 1 to 64 MiB (default 65536); applies to channels created afterwards");
module_param_cb(max_queue_bytes, &mpsc_queue_bytes_ops,
		&mpsc_max_queue_bytes, 0644);
MODULE_PARM_DESC(max_queue_bytes,
		 "Bytes a channel may hold queued, 1 to 1 GiB (default 1 MiB); applies to channels created afterwards");

static struct miscdevice mpsc_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mpsc",
	.fops	= &mpsc_fops,
	.mode	= 0666,
};

static int __init mpsc_init(void)
{
	int ret;

	ret = mpsc_chan_init();
	if (ret)
		return ret;
	ret = misc_register(&mpsc_misc);
	if (ret)
		mpsc_chan_exit();
	return ret;
}

static void __exit mpsc_exit(void)
{
	misc_deregister(&mpsc_misc);
	mpsc_chan_exit();
}

module_init(mpsc_init);
module_exit(mpsc_exit);
MODULE_DESCRIPTION("Rust-style multi-producer, single-consumer channels (/dev/mpsc)");
MODULE_LICENSE("GPL");
