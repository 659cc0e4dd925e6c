/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc/server.h"
#include "util/log.h"
#include "util/unixsock.h"

struct rpc_conn {
	struct vn_rpc_server *s;
	struct rpc_conn *next;
	int fd;
	struct vn_ev *ev;
	struct json_tokener *tok;
	size_t in_bytes; /* bytes of the request being parsed */
	char *out;       /* replies not yet written: out[out_off..out_len) */
	size_t out_off, out_len, out_cap;
	bool want_out;
	uint64_t active_ms; /* last byte read or written */
};

struct vn_rpc_server {
	char path[108];
	struct vn_evloop *loop;
	const struct vn_rpc_method *methods;
	void *ctx;
	size_t max_request, max_output;
	unsigned max_conns, nr_conns;
	int listen_fd;
	struct vn_ev *listen_ev;
	struct rpc_conn *conns;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_close(struct rpc_conn *c)
{
	struct vn_rpc_server *s = c->s;

	for (struct rpc_conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	s->nr_conns--;
	vn_evloop_del(s->loop, c->ev);
	close(c->fd);
	json_tokener_free(c->tok);
	free(c->out);
	free(c);
}

/* Write what is queued without blocking. Returns 0, or -1 if the peer is gone. */
static int conn_flush(struct rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
		c->active_ms = now_ms();
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	bool want = c->out_len != 0;
	if (want != c->want_out) {
		vn_evloop_mod(c->s->loop, c->ev, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0));
		c->want_out = want;
	}
	return 0;
}

/* Queue one reply. Returns 0, or -1 if the client must go: it does not read
 * what it asked for (more than max_output queued). */
static int conn_queue(struct rpc_conn *c, struct json_object *reply)
{
	const char *txt = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(txt) + 1;

	if (c->out_len - c->out_off + n > c->s->max_output) {
		vn_warn("rpc: a client does not read its replies (%zu bytes queued): disconnected",
			c->out_len - c->out_off);
		return -1;
	}
	if (c->out_off && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (!p)
			return -1;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, txt, n - 1);
	c->out[c->out_len + n - 1] = '\n';
	c->out_len += n;
	return conn_flush(c);
}

static int reply_error(struct rpc_conn *c, struct json_object *id, int code, const char *msg)
{
	struct json_object *r = json_object_new_object(), *e = json_object_new_object();
	int ret;

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(r, "error", e);
	json_object_object_add(r, "id", id ? json_object_get(id) : NULL);
	ret = conn_queue(c, r);
	json_object_put(r);
	return ret;
}

static const char *rpc_code_name(int code)
{
	switch (code) {
	case VN_RPC_PARSE_ERROR:
		return "parse error";
	case VN_RPC_INVALID_REQUEST:
		return "invalid request";
	case VN_RPC_METHOD_NOT_FOUND:
		return "method not found";
	case VN_RPC_INVALID_PARAMS:
		return "invalid params";
	default:
		return "error";
	}
}

/* One request object. Returns 0, or -1 if the connection must close. */
static int handle(struct rpc_conn *c, struct json_object *req)
{
	struct json_object *id = NULL, *v, *params = NULL, *result = NULL;
	const struct vn_rpc_method *m;
	char err[512] = "";
	const char *name;
	int ret;

	if (json_object_is_type(req, json_type_array))
		return reply_error(c, NULL, VN_RPC_INVALID_REQUEST,
				   "batch requests are not supported: send one request object at "
				   "a time");
	if (!json_object_is_type(req, json_type_object))
		return reply_error(c, NULL, VN_RPC_INVALID_REQUEST,
				   "a request must be a JSON object with \"jsonrpc\": \"2.0\", "
				   "\"method\" and \"id\"");
	if (json_object_object_get_ex(req, "id", &id) && id &&
	    !json_object_is_type(id, json_type_int) && !json_object_is_type(id, json_type_string))
		return reply_error(c, NULL, VN_RPC_INVALID_REQUEST,
				   "\"id\" must be a number or a string");
	if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0"))
		return reply_error(c, id, VN_RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
	if (!json_object_object_get_ex(req, "method", &v) ||
	    !json_object_is_type(v, json_type_string))
		return reply_error(c, id, VN_RPC_INVALID_REQUEST,
				   "\"method\" must be a string (the method's name)");
	name = json_object_get_string(v);
	if (json_object_object_get_ex(req, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object))
		return reply_error(c, id, VN_RPC_INVALID_PARAMS,
				   "\"params\" must be an object of named parameters");
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		if (strcmp(key, "jsonrpc") && strcmp(key, "method") && strcmp(key, "params") &&
		    strcmp(key, "id")) {
			snprintf(err, sizeof(err),
				 "unknown member \"%.64s\": a request has jsonrpc, method, params "
				 "and id",
				 key);
			return reply_error(c, id, VN_RPC_INVALID_REQUEST, err);
		}
	}
	for (m = c->s->methods; m->name; m++)
		if (!strcmp(m->name, name))
			break;
	if (!m->name) {
		snprintf(err, sizeof(err), "no method \"%.64s\" (get_version lists them)", name);
		return reply_error(c, id, VN_RPC_METHOD_NOT_FOUND, err);
	}
	vn_debug("rpc: %s", name);
	ret = m->fn(c->s->ctx, params, &result, err, sizeof(err));
	if (!json_object_object_get_ex(req, "id", NULL)) { /* a notification: no reply */
		json_object_put(result);
		return 0;
	}
	if (ret) {
		json_object_put(result);
		if (!err[0])
			snprintf(err, sizeof(err), "%s", rpc_code_name(ret));
		return reply_error(c, id, ret, err);
	}
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(r, "result", result);
	json_object_object_add(r, "id", json_object_get(id));
	ret = conn_queue(c, r);
	json_object_put(r);
	return ret;
}

/* Feed what arrived to the tokener; handle every complete request. */
static int conn_input(struct rpc_conn *c, const char *buf, size_t len)
{
	while (len) {
		/* Whitespace between requests is no part of one. */
		if (c->in_bytes == 0 &&
		    (*buf == ' ' || *buf == '\n' || *buf == '\r' || *buf == '\t')) {
			buf++;
			len--;
			continue;
		}
		size_t chunk = len > INT_MAX ? INT_MAX : len;
		struct json_object *o = json_tokener_parse_ex(c->tok, buf, (int)chunk);
		enum json_tokener_error je = json_tokener_get_error(c->tok);
		/* A complete value: an object, or NULL for JSON's null. */
		bool done = o || je == json_tokener_success;
		size_t used = done ? json_tokener_get_parse_end(c->tok) : chunk;

		if (!done && je != json_tokener_continue) {
			char msg[160];
			snprintf(msg, sizeof(msg), "not JSON: %s; closing the connection",
				 json_tokener_error_desc(je));
			reply_error(c, NULL, VN_RPC_PARSE_ERROR, msg);
			return -1;
		}
		if (used > chunk || (done && used == 0))
			used = chunk;
		c->in_bytes += used;
		if (c->in_bytes > c->s->max_request) {
			char msg[160];
			json_object_put(o);
			snprintf(msg, sizeof(msg),
				 "request larger than %zu bytes; closing the connection",
				 c->s->max_request);
			reply_error(c, NULL, VN_RPC_INVALID_REQUEST, msg);
			return -1;
		}
		buf += used;
		len -= used;
		if (!done)
			continue;
		c->in_bytes = 0;
		json_tokener_reset(c->tok);
		int ret = handle(c, o);
		json_object_put(o);
		if (ret)
			return ret;
	}
	return 0;
}

static void conn_event(void *arg, uint32_t events)
{
	struct rpc_conn *c = arg;
	char buf[65536];

	if (events & EPOLLOUT && conn_flush(c)) {
		conn_close(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return;
	/* A bounded amount per event: one client cannot hold the loop. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n > 0)
			c->active_ms = now_ms();
		if (n <= 0 || conn_input(c, buf, (size_t)n)) {
			conn_flush(c);
			conn_close(c);
			return;
		}
	}
}

static void listen_event(void *arg, uint32_t events)
{
	struct vn_rpc_server *s = arg;

	(void)events;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				vn_warn("rpc: accept: %s", strerror(errno));
			return;
		}
		/* At the bound, the connection idle the longest makes room if it
		 * has been idle long enough: idle clients cannot lock others out. */
		if (s->nr_conns >= s->max_conns) {
			struct rpc_conn *idle = NULL;
			uint64_t now = now_ms();
			for (struct rpc_conn *c = s->conns; c; c = c->next)
				if (!idle || c->active_ms < idle->active_ms)
					idle = c;
			if (idle && now - idle->active_ms >= VN_RPC_IDLE_EVICT_MS) {
				vn_warn(
				    "rpc: %u connections: one idle for %llu ms closed to make room",
				    s->nr_conns, (unsigned long long)(now - idle->active_ms));
				conn_close(idle);
			}
		}
		if (s->nr_conns >= s->max_conns) {
			static const char busy[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-"
						   "32000,\"message\":\"too many "
						   "RPC connections; close one\"},\"id\":null}\n";
			vn_warn("rpc: %u connections already: one refused", s->nr_conns);
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				(void)0;
			close(fd);
			continue;
		}
		struct rpc_conn *c = calloc(1, sizeof(*c));
		if (!c || !(c->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH))) {
			free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		c->active_ms = now_ms();
		if (vn_evloop_add(s->loop, fd, EPOLLIN | EPOLLRDHUP, conn_event, c, &c->ev)) {
			json_tokener_free(c->tok);
			free(c);
			close(fd);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->nr_conns++;
	}
}

int vn_rpc_server_create(const struct vn_rpc_opts *o, struct vn_rpc_server **out)
{
	struct vn_rpc_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	if (strlen(o->path) >= sizeof(s->path)) {
		free(s);
		return -ENAMETOOLONG;
	}
	snprintf(s->path, sizeof(s->path), "%s", o->path);
	s->loop = o->loop;
	s->methods = o->methods;
	s->ctx = o->ctx;
	s->max_request = o->max_request ? o->max_request : VN_RPC_DEFAULT_MAX_REQUEST;
	s->max_output = o->max_output ? o->max_output : VN_RPC_DEFAULT_MAX_OUTPUT;
	s->max_conns = o->max_conns ? o->max_conns : VN_RPC_DEFAULT_MAX_CONNS;
	s->listen_fd = vn_unix_listen(s->path, 0600, 16);
	if (s->listen_fd < 0) {
		ret = s->listen_fd;
		free(s);
		return ret;
	}
	ret = vn_evloop_add(s->loop, s->listen_fd, EPOLLIN, listen_event, s, &s->listen_ev);
	if (ret) {
		close(s->listen_fd);
		unlink(s->path);
		free(s);
		return ret;
	}
	vn_info("rpc: listening on %s", s->path);
	*out = s;
	return 0;
}

void vn_rpc_server_destroy(struct vn_rpc_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	vn_evloop_del(s->loop, s->listen_ev);
	close(s->listen_fd);
	unlink(s->path);
	free(s);
}
