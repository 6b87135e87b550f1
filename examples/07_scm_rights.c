// SPDX-License-Identifier: MIT
/*
 * Beyond the seed: a producer in another process, forked before the
 * channel existed, receives its sender over a Unix socket (SCM_RIGHTS).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsc.h>

static int send_fd(int sock, int fd)
{
	char data = 'F';
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The producer: it knows nothing of the channel until it gets a sender. */
static int producer(int sock)
{
	const char *msg = "Hello over SCM_RIGHTS from another process";
	int tx = recv_fd(sock);

	if (tx < 0)
		return 1;
	return mpsc_send(tx, msg, strlen(msg)) > 0 ? 0 : 1;
}

int main(void)
{
	char buf[64];
	int sv[2], rx, tx, status;
	ssize_t n;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(producer(sv[1]));
	}
	close(sv[1]);

	rx = mpsc_channel(O_CLOEXEC);
	if (rx < 0) {
		fprintf(stderr, "mpsc_channel: %s\n", strerror(-rx));
		return 1;
	}
	tx = mpsc_sender_clone(rx, O_CLOEXEC);
	mpsc_disconnect(rx);
	send_fd(sv[0], tx);
	close(tx);	/* the producer holds the only sender now */

	while ((n = mpsc_recv(rx, buf, sizeof(buf))) > 0)
		printf("Received: %.*s\n", (int)n, buf);
	printf("Channel closed: the other process is done.\n");
	waitpid(pid, &status, 0);
	return 0;
}
