/* SPDX-License-Identifier: MIT */
/* Shared fixture for the vfio-user integration tests: a test device served
 * on a socket in a fresh temporary directory, from a control-loop thread. */
#ifndef VN_TESTS_VU_FIXTURE_H
#define VN_TESTS_VU_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdev/testdev.h"
#include "util/log.h"
#include "vu/client.h"
#include "vu/sock.h"

struct fx {
	char dir[64];
	char path[128];
	struct vn_evloop *loop;
	struct testdev *td;
	struct vu_client *c;
};

static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vnvme-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sub/dir/dev.sock", f->dir);
	assert_int_equal(vn_evloop_create(&f->loop), 0);
	assert_int_equal(testdev_create(f->path, f->loop, true, &f->td), 0);
	assert_int_equal(vn_evloop_start_thread(f->loop, "vu-ctl"), 0);
	assert_int_equal(vu_client_connect(f->path, 5000, &f->c), 0);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];

	vu_client_close(f->c);
	testdev_destroy(f->td);
	vn_evloop_join(f->loop);
	vn_evloop_destroy(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Wait until the server has noticed the client left (it serves one at a time). */
static inline void fx_wait_disconnected(struct fx *f)
{
	for (int i = 0; i < 5000 && vu_server_connected(testdev_server(f->td)); i++)
		usleep(1000);
	assert_false(vu_server_connected(testdev_server(f->td)));
}

static inline int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Raw peer for malformed traffic. */
static inline int raw_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return vu_sock_send(fd, &iov, 1, fds, nfds, 2000);
}

/* Read one reply: header and body; returns body length or -errno (-ECONNRESET at EOF). */
static inline int raw_reply(int fd, struct vu_hdr *h, void *body, size_t room, int *rfd)
{
	int fds[VU_MAX_MSG_FDS];
	unsigned nfds = 0;
	int ovf = 0;
	size_t got = 0, blen;

	while (got < sizeof(*h)) {
		if (vu_sock_wait(fd, POLLIN, 5000) <= 0)
			return -ETIMEDOUT;
		ssize_t n = vu_sock_recv(fd, (uint8_t *)h + got, sizeof(*h) - got, fds, &nfds,
					 VU_MAX_MSG_FDS, &ovf);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		got += (size_t)n;
	}
	blen = h->size - sizeof(*h);
	assert_true(blen <= room);
	got = 0;
	while (got < blen) {
		if (vu_sock_wait(fd, POLLIN, 5000) <= 0)
			return -ETIMEDOUT;
		ssize_t n = vu_sock_recv(fd, (uint8_t *)body + got, blen - got, fds, &nfds,
					 VU_MAX_MSG_FDS, &ovf);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		got += (size_t)n;
	}
	if (rfd)
		*rfd = nfds ? fds[0] : -1;
	for (unsigned i = rfd ? 1 : 0; i < nfds; i++)
		close(fds[i]);
	return (int)blen;
}

/* A negotiated raw connection. */
static inline int raw_connect(const char *path)
{
	uint8_t buf[256];
	struct vu_hdr h = {.id = 1, .cmd = VU_CMD_VERSION, .size = 16 + 4};
	int fd = vu_sock_connect(path);

	assert_true(fd >= 0);
	memcpy(buf, &h, sizeof(h));
	memset(buf + 16, 0, 4);
	assert_int_equal(raw_send(fd, buf, 20, NULL, 0), 0);
	assert_true(raw_reply(fd, &h, buf, sizeof(buf), NULL) > 4);
	assert_false(h.flags & VU_F_ERROR);
	return fd;
}

/* Send one request with the given payload; return the error carried (0 if none). */
static inline int raw_request(int fd, uint16_t cmd, const void *payload, size_t len, const int *fds,
			      unsigned nfds, void *reply, size_t room)
{
	static uint8_t buf[VU_MAX_MSG_SIZE + 64];
	static uint8_t scratch[VU_MAX_MSG_SIZE];
	struct vu_hdr h = {.id = 42, .cmd = cmd, .size = (uint32_t)(16 + len)};
	int n;

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + 16, payload, len);
	assert_int_equal(raw_send(fd, buf, 16 + len, fds, nfds), 0);
	n = raw_reply(fd, &h, reply ? reply : scratch, reply ? room : sizeof(scratch), NULL);
	if (n < 0)
		return n;
	assert_int_equal(h.id, 42);
	assert_int_equal(h.flags & VU_F_TYPE_MASK, VU_F_TYPE_REPLY);
	return (h.flags & VU_F_ERROR) ? (int)h.error : 0;
}

#endif
