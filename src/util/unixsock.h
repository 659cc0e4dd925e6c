/* SPDX-License-Identifier: MIT */
/*
 * Listening UNIX stream sockets for the target's servers (vfio-user,
 * JSON-RPC): parents created, a stale socket replaced, a live one or a file
 * that is not a socket never touched.
 */
#ifndef VN_UTIL_UNIXSOCK_H
#define VN_UTIL_UNIXSOCK_H

#include <sys/types.h>

/*
 * A non-blocking, close-on-exec listening socket at path, created with
 * permissions mode (0: as the umask gives), with a backlog of backlog.
 * -EADDRINUSE when a server answers there, -EEXIST when path is not a
 * socket, -ENAMETOOLONG, -EINVAL for an empty path, or another -errno.
 */
int vn_unix_listen(const char *path, mode_t mode, int backlog);

#endif
