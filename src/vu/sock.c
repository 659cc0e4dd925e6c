/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/unixsock.h"
#include "vu/proto.h"
#include "vu/sock.h"

void vu_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

int vu_sock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = make_addr(path, &sa);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int vu_sock_listen(const char *path)
{
	return vn_unix_listen(path, 0, 8);
}

int vu_sock_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int ret;

	do {
		ret = poll(&p, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret > 0;
}

/* Room for the descriptors one message may carry, aligned for cmsghdr. */
union vu_cmsg_fds {
	char buf[CMSG_SPACE(sizeof(int) * VU_MAX_MSG_FDS)];
	struct cmsghdr align;
};

/* Attach nfds (<= VU_MAX_MSG_FDS) descriptors to mh as SCM_RIGHTS. */
static void fds_attach(struct msghdr *mh, union vu_cmsg_fds *u, const int *fds, unsigned nfds)
{
	struct cmsghdr *cm;

	if (!nfds)
		return;
	memset(u, 0, sizeof(*u));
	mh->msg_control = u->buf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
}

int vu_sock_send(int fd, struct iovec *iov, int iovcnt, const int *fds, unsigned nfds,
		 int timeout_ms)
{
	union vu_cmsg_fds u;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};

	if (nfds > VU_MAX_MSG_FDS)
		return -EINVAL;
	fds_attach(&mh, &u, fds, nfds);
	while (mh.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			int ret;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = vu_sock_wait(fd, POLLOUT, timeout_ms);
			if (ret < 0)
				return ret;
			if (ret == 0)
				return -ETIMEDOUT;
			continue;
		}
		/* Descriptors travel with the first byte only. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

ssize_t vu_sock_send_some(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union vu_cmsg_fds u;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	size_t done = 0;

	if (nfds > VU_MAX_MSG_FDS)
		return -EINVAL;
	fds_attach(&mh, &u, fds, nfds);
	while (done < len) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		/* Descriptors travel with the first byte only. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		done += (size_t)n;
		iov.iov_base = (char *)buf + done;
		iov.iov_len = len - done;
	}
	return (ssize_t)done;
}

ssize_t vu_sock_recv(int fd, void *buf, size_t len, int *fds, unsigned *nfds, unsigned max_fds,
		     int *overflow)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (VU_MAX_MSG_FDS + 16))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	ssize_t n;

	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t cnt;
		int *in;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		in = (int *)(void *)CMSG_DATA(cm);
		for (size_t i = 0; i < cnt; i++) {
			int rfd;
			memcpy(&rfd, &in[i], sizeof(rfd));
			if (*nfds < max_fds) {
				fds[(*nfds)++] = rfd;
			} else {
				close(rfd);
				*overflow = 1;
			}
		}
	}
	/* The kernel closed what did not fit in our control buffer. */
	if (mh.msg_flags & MSG_CTRUNC)
		*overflow = 1;
	return n;
}
