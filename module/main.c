// SPDX-License-Identifier: GPL-2.0
/*
 * mpsc: Rust-style multi-producer, single-consumer channels, served as the
 * misc device /dev/mpsc.  Opening it creates a channel.
 *
 * Limits live in /proc/sys/mpsc/; the module parameters of the same names
 * only give their values at load time.
 */

#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sysctl.h>

#include "compat.h"
#include "mpsc_internal.h"

/* Load-time defaults (module parameters, read-only afterwards). */
static unsigned int param_max_msg_size = SZ_64K;
static unsigned int param_max_queue_bytes = SZ_1M;
static unsigned long param_max_user_bytes = SZ_64M;

/* The live limits (sysctls): read with READ_ONCE(), no lock. */
unsigned int mpsc_max_msg_size;
unsigned int mpsc_max_queue_bytes;
unsigned long mpsc_max_user_bytes;

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

module_param_cb(max_msg_size, &mpsc_msg_size_ops, &param_max_msg_size, 0444);
MODULE_PARM_DESC(max_msg_size,
		 "Initial /proc/sys/mpsc/max_msg_size: largest message in bytes, 1 to 64 MiB (default 65536)");
module_param_cb(max_queue_bytes, &mpsc_queue_bytes_ops,
		&param_max_queue_bytes, 0444);
MODULE_PARM_DESC(max_queue_bytes,
		 "Initial /proc/sys/mpsc/max_queue_bytes: payload bytes a channel may hold, 1 to 1 GiB (default 1 MiB)");
module_param_named(max_user_bytes, param_max_user_bytes, ulong, 0444);
MODULE_PARM_DESC(max_user_bytes,
		 "Initial /proc/sys/mpsc/max_user_bytes: message memory one user may have queued across channels, 0 for no limit (default 64 MiB)");

static unsigned int mpsc_one = 1;
static unsigned int mpsc_msg_size_limit = MPSC_MSG_SIZE_LIMIT;
static unsigned int mpsc_queue_bytes_limit = MPSC_QUEUE_BYTES_LIMIT;

static struct ctl_table mpsc_sysctls[] = {
	{
		.procname	= "max_msg_size",
		.data		= &mpsc_max_msg_size,
		.maxlen		= sizeof(unsigned int),
		.mode		= 0644,
		.proc_handler	= proc_douintvec_minmax,
		.extra1		= &mpsc_one,
		.extra2		= &mpsc_msg_size_limit,
	},
	{
		.procname	= "max_queue_bytes",
		.data		= &mpsc_max_queue_bytes,
		.maxlen		= sizeof(unsigned int),
		.mode		= 0644,
		.proc_handler	= proc_douintvec_minmax,
		.extra1		= &mpsc_one,
		.extra2		= &mpsc_queue_bytes_limit,
	},
	{
		.procname	= "max_user_bytes",
		.data		= &mpsc_max_user_bytes,
		.maxlen		= sizeof(unsigned long),
		.mode		= 0644,
		.proc_handler	= proc_doulongvec_minmax,
	},
	MPSC_SYSCTL_SENTINEL
};

static struct ctl_table_header *mpsc_sysctl_header;

static struct miscdevice mpsc_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mpsc",
	.fops	= &mpsc_fops,
	.mode	= 0666,
};

static int __init mpsc_init(void)
{
	int ret;

	mpsc_max_msg_size = param_max_msg_size;
	mpsc_max_queue_bytes = param_max_queue_bytes;
	mpsc_max_user_bytes = param_max_user_bytes;

	ret = mpsc_chan_init();
	if (ret)
		return ret;
	mpsc_sysctl_header = register_sysctl("mpsc", mpsc_sysctls);
	if (!mpsc_sysctl_header) {
		ret = -ENOMEM;
		goto out_chan_exit;
	}
	ret = misc_register(&mpsc_misc);
	if (ret)
		goto out_unregister_sysctl;
	return 0;

out_unregister_sysctl:
	unregister_sysctl_table(mpsc_sysctl_header);
out_chan_exit:
	mpsc_chan_exit();
	return ret;
}

static void __exit mpsc_exit(void)
{
	misc_deregister(&mpsc_misc);
	unregister_sysctl_table(mpsc_sysctl_header);
	mpsc_chan_exit();
}

module_init(mpsc_init);
module_exit(mpsc_exit);
MODULE_DESCRIPTION("Rust-style multi-producer, single-consumer channels (/dev/mpsc)");
MODULE_LICENSE("GPL");
