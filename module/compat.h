/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, all here, as WireGuard's compat layer keeps
 * them: the code is written against the newest kernel mpsc supports (6.12
 * LTS), and each shim below brings an older one (6.1 LTS) up to it, naming
 * the upstream change that made it necessary.
 *
 * Shims are chosen by probing the kernel's headers, not by version: Kbuild
 * greps them and defines MPSC_HAVE_* (so a distribution kernel with a
 * backport gets the right one).  Nothing outside this file tests a kernel
 * version or an MPSC_HAVE_* macro.
 *
 * Differences that need no shim:
 *
 * - no_llseek is gone in v6.12, commit cb787f4ac0c2 ("[tree-wide] finally
 *   take no_llseek out"); it has been NULL since v6.0, commit 868941b14441
 *   ("fs: remove no_llseek"), so the fops leave .llseek unset and
 *   stream_open() makes lseek(2) fail with ESPIPE on both.
 */
#ifndef MPSC_COMPAT_H
#define MPSC_COMPAT_H

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sysctl.h>
#include <linux/uio.h>

/*
 * import_ubuf() appeared in v6.3, commit 2ad9bd8332ac ("iov: add
 * import_ubuf()"), and import_single_range() went away in v6.8 ("iov_iter:
 * remove import_single_range()").  The fallback is upstream's body; the
 * ITER_UBUF iterator it builds exists since v6.0, commit fcb14cb1bdac
 * ("new iov_iter flavour - ITER_UBUF").
 */
#ifndef MPSC_HAVE_IMPORT_UBUF
static inline int import_ubuf(int rw, void __user *buf, size_t len,
			      struct iov_iter *i)
{
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (unlikely(!access_ok(buf, len)))
		return -EFAULT;
	iov_iter_ubuf(i, rw, buf, len);
	return 0;
}
#endif

/*
 * receive_fd() gained a user pointer for the fd in v6.7, commit
 * 4e94ddfe2aab ("file: remove __receive_fd()"); before, that was
 * __receive_fd() and receive_fd() took none.
 */
#ifdef MPSC_HAVE_RECEIVE_FD_UFD
#define mpsc_receive_fd(file, o_flags)	receive_fd(file, NULL, o_flags)
#else
#define mpsc_receive_fd(file, o_flags)	receive_fd(file, o_flags)
#endif

/*
 * Sysctl tables: since v6.6, commit "sysctl: Add size to register_sysctl",
 * register_sysctl() takes a table's size from ARRAY_SIZE(), and since
 * v6.11 ("sysctl: Remove check for sentinel element in ctl_table arrays")
 * an empty terminating entry is an error ("procname is null").  Before
 * v6.6 the table must end with that entry.  Tables end with
 * MPSC_SYSCTL_SENTINEL: the entry, or nothing.
 */
#ifdef MPSC_HAVE_REGISTER_SYSCTL_SZ
#define MPSC_SYSCTL_SENTINEL
#else
#define MPSC_SYSCTL_SENTINEL	{ }
#endif

#endif /* MPSC_COMPAT_H */
