// SPDX-License-Identifier: GPL-2.0
/*
 * Introspection and limits: MPSC_IOC_INFO, fdinfo, the byte limit, the
 * sysctls, and memory charged to the writer's cgroup.
 */

#include <sys/mman.h>
#include <sys/uio.h>

#include "mpsc_test.h"

#define PARAM_DIR "/proc/sys/mpsc/"

static long long read_param(const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return atoll(buf);
}

/* Write a parameter: 0 or -errno. */
static int write_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return write_file(path, val);
}

FIXTURE(inf) {
	int rx;
};

FIXTURE_SETUP(inf)
{
	self->rx = mpsc_open_chan(0);
}

FIXTURE_TEARDOWN(inf)
{
	close(self->rx);
}

/* A new channel, as MPSC_IOC_INFO reports it. */
TEST_F(inf, fresh_channel)
{
	struct mpsc_info info;
	unsigned int i;

	memset(&info, 0, sizeof(info));
	info.queued_msgs = 1234;	/* out fields may hold anything */
	ASSERT_EQ(0, ioctl(self->rx, MPSC_IOC_INFO, &info));
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(MPSC_STATE_RECEIVER | MPSC_STATE_SENDER | MPSC_STATE_RX_OPEN,
		  info.state);
	EXPECT_NE(0, info.id);
	EXPECT_EQ(0, info.queued_msgs);
	EXPECT_EQ(0, info.queued_bytes);
	EXPECT_EQ(read_param("max_queue_bytes"), info.max_queue_bytes);
	EXPECT_EQ(read_param("max_msg_size"), info.max_msg_size);
	EXPECT_EQ(MPSC_CAPACITY_UNBOUNDED, info.capacity);
	EXPECT_EQ(1, info.senders);
	EXPECT_EQ(0, info.sent);
	EXPECT_EQ(0, info.received);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, info.reserved[i]);
}

/* Counters follow sends and receives. */
TEST_F(inf, counters)
{
	struct mpsc_info info;
	char buf[16];

	ASSERT_EQ(3, send_str(self->rx, "abc"));
	ASSERT_EQ(5, send_str(self->rx, "defgh"));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(2, info.queued_msgs);
	EXPECT_EQ(8, info.queued_bytes);
	EXPECT_EQ(2, info.sent);
	EXPECT_EQ(0, info.received);
	ASSERT_EQ(3, recv_msg(self->rx, buf, sizeof(buf)));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(1, info.queued_msgs);
	EXPECT_EQ(5, info.queued_bytes);
	EXPECT_EQ(2, info.sent);
	EXPECT_EQ(1, info.received);
}

/* A clone sees the same channel, from a sender's side. */
TEST_F(inf, clone_view)
{
	struct mpsc_info a, b;
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(0, mpsc_get_info(self->rx, &a));
	ASSERT_EQ(0, mpsc_get_info(tx, &b));
	EXPECT_EQ(a.id, b.id);
	EXPECT_EQ(MPSC_STATE_SENDER | MPSC_STATE_RX_OPEN, b.state);
	EXPECT_EQ(2, b.senders);
	ASSERT_EQ(0, mpsc_disc(tx));
	ASSERT_EQ(0, mpsc_get_info(tx, &b));
	EXPECT_EQ(MPSC_STATE_RX_OPEN, b.state);
	close(tx);
}

/* Ids are unique across channels. */
TEST(ids_unique)
{
	unsigned long long ids[64];
	int fds[64], i, j;

	for (i = 0; i < 64; i++) {
		struct mpsc_info info;

		fds[i] = mpsc_open_chan(0);
		ASSERT_EQ(0, mpsc_get_info(fds[i], &info));
		ids[i] = info.id;
		for (j = 0; j < i; j++)
			if (ids[j] == ids[i])
				break;
		ASSERT_EQ(i, j) TH_LOG("channels %d and %d share id %llu",
				       j, i, ids[i]);
	}
	for (i = 0; i < 64; i++)
		close(fds[i]);
}

/* Unknown flags, non-zero reserved words and bad pointers are refused. */
TEST_F(inf, info_flags_einval)
{
	struct mpsc_info info = { .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	info.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(inf, info_reserved_einval)
{
	int i;

	for (i = 0; i < 4; i++) {
		struct mpsc_info info = { 0 };

		info.reserved[i] = 1;
		EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, &info));
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(inf, info_bad_pointer_efault)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->rx, MPSC_IOC_INFO, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
}

/* fdinfo shows what MPSC_IOC_INFO shows. */
TEST_F(inf, fdinfo_matches_info)
{
	struct mpsc_info info;
	int tx = mpsc_clone(self->rx, 0);

	ASSERT_LE(0, tx);
	ASSERT_EQ(4, send_str(tx, "four"));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(info.id, fdinfo_value(self->rx, "mpsc-id"));
	EXPECT_EQ(info.id, fdinfo_value(tx, "mpsc-id"));
	EXPECT_EQ(1, fdinfo_value(self->rx, "mpsc-receiver"));
	EXPECT_EQ(0, fdinfo_value(tx, "mpsc-receiver"));
	EXPECT_EQ(1, fdinfo_value(tx, "mpsc-sender"));
	EXPECT_EQ(1, fdinfo_value(tx, "mpsc-receiver-open"));
	EXPECT_EQ(2, fdinfo_value(self->rx, "mpsc-senders"));
	EXPECT_EQ(1, fdinfo_value(self->rx, "mpsc-queued-msgs"));
	EXPECT_EQ(4, fdinfo_value(self->rx, "mpsc-queued-bytes"));
	EXPECT_EQ(info.max_queue_bytes,
		  fdinfo_value(self->rx, "mpsc-max-queue-bytes"));
	EXPECT_EQ(info.max_msg_size, fdinfo_value(self->rx, "mpsc-max-msg-size"));
	EXPECT_EQ(1, fdinfo_value(self->rx, "mpsc-sent"));
	EXPECT_EQ(0, fdinfo_value(self->rx, "mpsc-received"));
	close(self->rx);
	self->rx = -1;
	EXPECT_EQ(0, fdinfo_value(tx, "mpsc-receiver-open"));
	EXPECT_EQ(0, fdinfo_value(tx, "mpsc-queued-msgs"));
	close(tx);
}

/*
 * The byte limit: max-size messages fill the channel exactly, then even a
 * one-byte message must wait; a message that fits the remainder exactly
 * is accepted.
 */
TEST_F(inf, byte_limit)
{
	struct mpsc_info info;
	size_t max, left;
	char *buf;
	int n = 0;

	ASSERT_EQ(0, fcntl(self->rx, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	max = info.max_msg_size;
	buf = calloc(1, max);
	ASSERT_NE(NULL, buf);
	/* Start with a small message so the remainder is not a multiple. */
	ASSERT_EQ(7, send_msg(self->rx, buf, 7));
	while (info.max_queue_bytes - 7 - n * max >= max) {
		ASSERT_EQ(max, send_msg(self->rx, buf, max));
		n++;
	}
	left = info.max_queue_bytes - 7 - n * max;
	if (left) {
		EXPECT_EQ(-EAGAIN, send_msg(self->rx, buf, left + 1));
		ASSERT_EQ(left, send_msg(self->rx, buf, left));
	}
	EXPECT_EQ(-EAGAIN, send_msg(self->rx, buf, 1));
	ASSERT_EQ(0, mpsc_get_info(self->rx, &info));
	EXPECT_EQ(info.max_queue_bytes, info.queued_bytes);
	/* Taking the 7-byte message makes room for 7 bytes, not 8. */
	ASSERT_EQ(7, recv_msg(self->rx, buf, max));
	EXPECT_EQ(-EAGAIN, send_msg(self->rx, buf, 8));
	EXPECT_EQ(7, send_msg(self->rx, buf, 7));
	free(buf);
}

/* Restore the sysctls whatever a test did to them. */
FIXTURE(param) {
	long long msg, bytes;
};

FIXTURE_SETUP(param)
{
	self->msg = read_param("max_msg_size");
	self->bytes = read_param("max_queue_bytes");
	ASSERT_LT(0, self->msg);
	ASSERT_LT(0, self->bytes);
}

FIXTURE_TEARDOWN(param)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", self->msg);
	write_param("max_msg_size", v);
	snprintf(v, sizeof(v), "%lld", self->bytes);
	write_param("max_queue_bytes", v);
}

/* New values apply to channels created afterwards, not to existing ones. */
TEST_F(param, apply_to_new_channels)
{
	struct mpsc_info info;
	char buf[101] = { 0 };
	int old = mpsc_open_chan(0), fd;

	ASSERT_EQ(0, write_param("max_msg_size", "100"));
	ASSERT_EQ(0, write_param("max_queue_bytes", "1000"));
	fd = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_get_info(fd, &info));
	EXPECT_EQ(100, info.max_msg_size);
	EXPECT_EQ(1000, info.max_queue_bytes);
	EXPECT_EQ(100, send_msg(fd, buf, 100));
	EXPECT_EQ(-EMSGSIZE, send_msg(fd, buf, 101));
	ASSERT_EQ(0, mpsc_get_info(old, &info));
	EXPECT_EQ(self->msg, info.max_msg_size);
	EXPECT_EQ(101, send_msg(old, buf, 101));
	close(fd);
	close(old);
}

/* A message can never be larger than the queue itself. */
TEST_F(param, msg_size_capped_by_queue_bytes)
{
	struct mpsc_info info;
	int fd;

	ASSERT_EQ(0, write_param("max_msg_size", "65536"));
	ASSERT_EQ(0, write_param("max_queue_bytes", "1000"));
	fd = mpsc_open_chan(0);
	ASSERT_EQ(0, mpsc_get_info(fd, &info));
	EXPECT_EQ(1000, info.max_msg_size);
	close(fd);
}

/* Out-of-range values are refused and change nothing. */
TEST_F(param, out_of_range_refused)
{
	EXPECT_EQ(-EINVAL, write_param("max_msg_size", "0"));
	EXPECT_EQ(-EINVAL, write_param("max_msg_size", "67108865"));
	EXPECT_EQ(-EINVAL, write_param("max_queue_bytes", "0"));
	EXPECT_EQ(-EINVAL, write_param("max_queue_bytes", "1073741825"));
	EXPECT_EQ(-EINVAL, write_param("max_msg_size", "lots"));
	EXPECT_EQ(self->msg, read_param("max_msg_size"));
	EXPECT_EQ(self->bytes, read_param("max_queue_bytes"));
}

/* Message memory is charged to the writer's memory cgroup. */
#define CG_ROOT "/sys/fs/cgroup"

/* One "key value" line of a cgroup's memory.stat. */
static long long cg_stat(const char *cg, const char *key)
{
	char path[256], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = atoll(line + klen + 1);
	fclose(f);
	return v;
}

/*
 * memory.stat is flushed lazily (every 2 s on 6.12): read "kernel" until
 * it is at least (@dir 1) or at most (@dir -1) @want, for up to 5 s, and
 * return the last reading.
 */
static long long cg_wait(const char *cg, long long want, int dir)
{
	long long v = -1;
	int i;

	for (i = 0; i < 50; i++) {
		v = cg_stat(cg, "kernel");
		if (v >= 0 && (dir > 0 ? v >= want : v <= want))
			break;
		sleep_ms(100);
	}
	return v;
}

TEST(memcg_charges_writer)
{
	char cg[128], procs[160], pidbuf[16];
	long long full, drained;
	int rx, tx, status, i;
	size_t len = 64 << 10;
	char *buf;
	pid_t pid;

	if (access(CG_ROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no writable cgroup2 at " CG_ROOT);
	ASSERT_EQ(0, write_file(CG_ROOT "/cgroup.subtree_control", "+memory"));
	snprintf(cg, sizeof(cg), CG_ROOT "/mpsc-test-%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);

	rx = mpsc_open_chan(0);
	tx = mpsc_clone(rx, 0);
	ASSERT_LE(0, tx);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The writer joins the cgroup; the receiver stays outside. */
		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (write_file(procs, pidbuf))
			_exit(2);
		buf = calloc(1, len);
		for (i = 0; i < 12; i++)
			if (send_msg(tx, buf, len) != (ssize_t)len)
				_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/*
	 * memory.stat's "kernel" counts charged kernel memory page by page;
	 * memory.current also holds per-CPU charge batches, which blur it
	 * by hundreds of KiB.
	 */
	full = cg_wait(cg, 12LL * len, 1);
	buf = malloc(len);
	for (i = 0; i < 12; i++)
		if (recv_msg(rx, buf, len) != (ssize_t)len)
			break;
	ASSERT_EQ(12, i);
	drained = cg_wait(cg, full - 12LL * len + 3 * 4096, -1);
	TH_LOG("kernel memory: %lld with 768 KiB queued, %lld drained",
	       full, drained);
	ASSERT_LE(0, drained);
	/*
	 * The 768 KiB of payload was charged here, and given back as it was
	 * received, but for the two pages the channel keeps to reuse and
	 * its slot array (a page), which go with the channel.
	 */
	EXPECT_LE(12LL * len - 3 * 4096, full - drained);
	EXPECT_GE(12LL * len + 64 * 1024, full - drained);
	free(buf);
	close(tx);
	close(rx);
	EXPECT_EQ(0, rmdir(cg));
}

int main(int argc, char **argv)
{
	return mpsc_test_main(argc, argv);
}
