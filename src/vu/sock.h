/* SPDX-License-Identifier: MIT */
/*
 * UNIX socket plumbing shared by the vfio-user server and client: socket
 * paths, sendmsg/recvmsg with SCM_RIGHTS, timeouts.
 */
#ifndef VN_VU_SOCK_H
#define VN_VU_SOCK_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Create a listening socket at `path`: parent directories are created
 * (mode 0755); an existing socket that a live process serves is left alone
 * (-EADDRINUSE), a stale one is replaced; anything else at `path` is not
 * clobbered (-EEXIST). Returns the fd or -errno.
 */
int vu_sock_listen(const char *path);
/* Connect to `path`; returns the fd (blocking, close-on-exec) or -errno. */
int vu_sock_connect(const char *path);

/*
 * Send the whole iovec, with `nfds` descriptors attached to the first byte.
 * Waits up to timeout_ms for room when the socket is non-blocking and full.
 * Returns 0 or -errno (-ETIMEDOUT, -EPIPE ...).
 */
int vu_sock_send(int fd, struct iovec *iov, int iovcnt, const int *fds, unsigned nfds,
		 int timeout_ms);

/*
 * Send what the socket takes now (never waits), with `nfds` descriptors
 * attached to the first byte. Returns the byte count (0: no room) or -errno.
 */
ssize_t vu_sock_send_some(int fd, const void *buf, size_t len, const int *fds, unsigned nfds);

/*
 * One recvmsg() of at most `len` bytes. Received descriptors are appended to
 * fds[*nfds] up to max_fds; any beyond that are closed and *overflow is set.
 * Returns the byte count (0 at EOF) or -errno (-EAGAIN when non-blocking).
 */
ssize_t vu_sock_recv(int fd, void *buf, size_t len, int *fds, unsigned *nfds, unsigned max_fds,
		     int *overflow);

/* Wait until fd is readable: 1 ready, 0 timed out, -errno. timeout_ms < 0: forever. */
int vu_sock_wait(int fd, short events, int timeout_ms);

void vu_close_fds(int *fds, unsigned n);

#endif
