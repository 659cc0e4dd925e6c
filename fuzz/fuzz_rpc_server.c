/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a byte stream from an untrusted JSON-RPC client, fed to
 * the real server (src/rpc, control loop thread) over its UNIX socket. The
 * methods parse their params the way the target's do (typed members,
 * unknown keys refused) and return params back, so replies of every size
 * are built. The server must answer or disconnect, never crash, leak
 * (LeakSanitizer) or touch memory it does not own (ASan); the client end
 * reads everything, then the connection must end once the input has.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/server.h"
#include "util/log.h"

static struct vn_evloop *loop;
static struct vn_rpc_server *srv;
static char path[80];

static int m_echo(void *ctx, struct json_object *p, struct json_object **res, char *err, size_t len)
{
	struct json_object *v;

	(void)ctx;
	if (p && json_object_object_get_ex(p, "fail", &v)) {
		snprintf(err, len, "\"fail\": %s", json_object_to_json_string(v));
		return VN_RPC_INVALID_PARAMS;
	}
	*res = p ? json_object_get(p) : NULL;
	return 0;
}

static int m_size(void *ctx, struct json_object *p, struct json_object **res, char *err, size_t len)
{
	struct json_object *v;

	(void)ctx;
	if (!p || !json_object_object_get_ex(p, "n", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		snprintf(err, len, "%s", "\"n\" must be an integer");
		return VN_RPC_INVALID_PARAMS;
	}
	int64_t n = json_object_get_int64(v);
	if (n < 0 || n > 65536) {
		snprintf(err, len, "\"n\" must be 0..65536, not %lld", (long long)n);
		return VN_RPC_INVALID_PARAMS;
	}
	struct json_object *a = json_object_new_array();
	for (int64_t i = 0; i < n / 16; i++)
		json_object_array_add(a, json_object_new_int64(i));
	*res = a;
	return 0;
}

static const struct vn_rpc_method methods[] = {
    {"echo", m_echo},
    {"size", m_size},
    {NULL, NULL},
};

static void init_once(void)
{
	vn_log_set_level(VN_LOG_ERR);
	snprintf(path, sizeof(path), "/tmp/vnvme-fuzz-rpc-%d/rpc.sock", getpid());
	struct vn_rpc_opts o = {.path = path, .methods = methods, .max_request = 4096};
	if (vn_evloop_create(&loop))
		abort();
	o.loop = loop;
	if (vn_rpc_server_create(&o, &srv) || vn_evloop_start_thread(loop, "fuzz-ctl"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char buf[1 << 16];
	size_t off = 0;
	int fd;

	if (!loop)
		init_once();
	if (size > 65536)
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A blocking connect: it waits while the backlog is full. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		abort();
	/* Write the input while reading replies; then half-close and read to
	 * the end: the server must close its side (EOF seen); a server that
	 * does not is a hang, reported by libFuzzer's -timeout. */
	for (bool eof = false, wr_done = false; !eof;) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (wr_done ? 0 : POLLOUT)};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			abort();
		if (p.revents & POLLOUT && !wr_done) {
			ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 && errno != EAGAIN)
				wr_done = true; /* the server closed it */
			if (off == size && !wr_done) {
				shutdown(fd, SHUT_WR);
				wr_done = true;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				eof = true;
		}
	}
	close(fd);
	return 0;
}
