/* SPDX-License-Identifier: MIT */
/*
 * The JSON-RPC control socket of a real vnvme-target process (docs/rpc.md):
 * a round trip of every method, the errors of each parameter, hostile
 * clients (garbage, 2 MiB without an end, one that never reads its replies,
 * too many connections), a controller created, attached by libvnvme, used
 * and deleted under its client, save_config read back by a new target, and
 * concurrent clients.
 *
 * Usage: test_rpc VNVME_TARGET  (meson passes the build's binary)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../target_spawn.h"
#include "vnvme/vnvme.h"

static const char *target_bin;

static struct {
	pid_t pid;
	char dir[64];
	char rpc[128], log[128], c0[128];
} T;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_sock(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Start the target with these arguments after its binary; ready on --ready-fd. */
static void target_start_args(const char *const *args)
{
	T.pid = target_spawn(target_bin, args, T.log, O_APPEND);
}

static void target_start(void)
{
	char cfg[160];
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/target.json", T.dir);
	f = fopen(cfg, "w");
	assert_non_null(f);
	/* "rpc" in the configuration, one controller from the start. */
	fprintf(f,
		"{ \"rpc\": \"%s\", \"controllers\": [ { \"socket\": \"%s\", \"queues\": 2,\n"
		"  \"namespaces\": [ { \"backend\": \"null\", \"size\": \"1G\" } ] } ] }\n",
		T.rpc, T.c0);
	fclose(f);
	const char *args[] = {"--config", cfg, "--log", "info", NULL};
	target_start_args(args);
	assert_true(is_sock(T.rpc) && is_sock(T.c0));
}

/* Wait for the target to exit; its status, or -1 if it did not within 10 s. */
static int target_wait(void)
{
	int st = 0;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(T.pid, &st, WNOHANG) == T.pid) {
			T.pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		}
		usleep(10000);
	}
	return -1;
}

static void target_stop(void)
{
	if (T.pid <= 0)
		return;
	kill(T.pid, SIGTERM);
	int rc = target_wait();
	if (rc < 0) {
		kill(T.pid, SIGKILL);
		waitpid(T.pid, NULL, 0);
		T.pid = 0;
		fail_msg("vnvme-target did not stop on SIGTERM");
	}
	/* 0: a clean stop (under ASan, no leak either). */
	if (rc != 0)
		fail_msg("vnvme-target exited with %d (log: %s)", rc, T.log);
}

/* The client side ---------------------------------------------------------- */

static int rpc_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", T.rpc);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", T.rpc, strerror(errno));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail_msg("send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* One reply object from fd, within 30 s; NULL if the connection closed first. */
static struct json_object *read_reply(int fd)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	uint64_t end = now_ms() + 30000;
	char c;

	/* A byte at a time: the next reply stays in the socket for the next call. */
	while (!o) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		if (poll(&p, 1, left) != 1)
			fail_msg("no reply within 30 s");
		ssize_t n = recv(fd, &c, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (c == '\n' && !o)
			continue;
		o = json_tokener_parse_ex(tok, &c, 1);
		if (!o && json_tokener_get_error(tok) != json_tokener_continue)
			fail_msg("a reply that is not JSON");
	}
	json_tokener_free(tok);
	return o;
}

/*
 * Call method with params (JSON text or NULL) on fd. Returns 0 and the
 * result (a new reference), or the error code with its message in msg.
 */
static int call_fd(int fd, const char *method, const char *params, struct json_object **res,
		   char *msg, size_t len)
{
	char req[4096];
	struct json_object *r, *v, *e;
	int code = 0;

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"%s\"%s%s,\"id\":7}\n", method,
		 params ? ",\"params\":" : "", params ? params : "");
	send_all(fd, req, strlen(req));
	r = read_reply(fd);
	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "id", &v));
	/* null: an error before the request was read (too many connections) */
	assert_true(v ? json_object_get_int(v) == 7 : json_object_object_get_ex(r, "error", NULL));
	if (res)
		*res = NULL;
	if (json_object_object_get_ex(r, "error", &e)) {
		code = json_object_get_int(json_object_object_get(e, "code"));
		if (msg)
			snprintf(msg, len, "%s",
				 json_object_get_string(json_object_object_get(e, "message")));
	} else {
		assert_true(json_object_object_get_ex(r, "result", &v));
		if (res)
			*res = json_object_get(v);
	}
	json_object_put(r);
	return code;
}

static int call(const char *method, const char *params, struct json_object **res, char *msg,
		size_t len)
{
	int fd = rpc_connect(), ret = call_fd(fd, method, params, res, msg, len);

	close(fd);
	return ret;
}

/* A call that must succeed. */
static struct json_object *ok(const char *method, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct json_object *ok(const char *method, const char *fmt, ...)
{
	char params[2048], msg[512] = "";
	struct json_object *r;
	va_list ap;
	int code;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(params, sizeof(params), fmt, ap);
		va_end(ap);
	}
	code = call(method, fmt ? params : NULL, &r, msg, sizeof(msg));
	if (code)
		fail_msg("%s %s: error %d: %s", method, fmt ? params : "", code, msg);
	return r;
}

static struct json_object *find_ctrl(struct json_object *list, const char *socket)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		if (!strcmp(json_object_get_string(json_object_object_get(c, "socket")), socket))
			return c;
	}
	return NULL;
}

/* Tests --------------------------------------------------------------------- */

static void test_every_method_round_trips(void **state)
{
	struct json_object *r, *v, *c;
	char a[160], saved[160];

	(void)state;
	r = ok("get_version", NULL);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "version")), "0.1.0");
	v = json_object_object_get(r, "methods");
	assert_true(json_object_array_length(v) >= 7);
	assert_true(json_object_array_length(json_object_object_get(r, "capabilities")) > 0);
	json_object_put(r);

	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	c = find_ctrl(r, T.c0);
	assert_non_null(c);
	assert_string_equal(json_object_get_string(json_object_object_get(c, "name")), "nvme0");
	assert_false(json_object_get_boolean(json_object_object_get(c, "connected")));
	assert_int_equal(json_object_get_int(json_object_object_get(c, "queues")), 2);
	v = json_object_array_get_idx(json_object_object_get(c, "namespaces"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "backend")), "null");
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "size")), 1ll << 30);
	json_object_put(r);

	snprintf(a, sizeof(a), "%s/a", T.dir);
	r = ok("create_controller",
	       "{\"socket\": \"%s\", \"queues\": 3, \"qdepth\": 64, \"serial\": \"RPC1\","
	       " \"pci_id\": \"1b36:0010\", \"max_dma_bytes\": \"1G\", \"trace\": true,"
	       " \"namespaces\": ["
	       " {\"backend\": \"ram\", \"size\": \"16M\"},"
	       " {\"backend\": \"null\", \"size\": 1073741824, \"lba\": 4096} ] }",
	       a);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "name")), "nvme1");
	json_object_put(r);
	assert_true(is_sock(a)); /* served when the reply comes */

	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 2);
	c = find_ctrl(r, a);
	assert_non_null(c);
	assert_int_equal(json_object_array_length(json_object_object_get(c, "namespaces")), 2);
	assert_true(json_object_get_boolean(json_object_object_get(c, "trace")));
	v = json_object_array_get_idx(json_object_object_get(c, "namespaces"), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(v, "lba")), 4096);
	json_object_put(r);

	r = ok("get_stats", NULL);
	assert_int_equal(json_object_array_length(json_object_object_get(r, "controllers")), 2);
	assert_true(json_object_array_length(json_object_object_get(r, "pollers")) >= 1);
	assert_true(json_object_get_uint64(json_object_object_get(r, "time_ns")) > 0);
	json_object_put(r);
	r = ok("get_stats", "{\"name\": \"nvme1\"}");
	v = json_object_object_get(r, "controllers");
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(json_object_get_string(
				json_object_object_get(json_object_array_get_idx(v, 0), "socket")),
			    a);
	json_object_put(r);

	snprintf(saved, sizeof(saved), "%s/saved.json", T.dir);
	r = ok("save_config", "{\"path\": \"%s\"}", saved);
	assert_int_equal(json_object_array_length(json_object_object_get(r, "controllers")), 2);
	json_object_put(r);
	r = json_object_from_file(saved);
	assert_non_null(r);
	assert_int_equal(json_object_array_length(json_object_object_get(r, "controllers")), 2);
	c = find_ctrl(json_object_object_get(r, "controllers"), a);
	assert_non_null(c); /* "trace" kept by save_config */
	assert_true(json_object_get_boolean(json_object_object_get(c, "trace")));
	json_object_put(r);

	r = ok("delete_controller", "{\"socket\": \"%s\"}", a);
	json_object_put(r);
	assert_false(is_sock(a));
	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);
}

struct bad {
	const char *method, *params;
	int code;
	const char *says;
};

static void test_bad_requests_get_errors_that_say_what_to_fix(void **state)
{
	char a[160], p[40][512];
	const struct bad bad[] = {
	    {"no_such_method", NULL, -32601, "no method \"no_such_method\""},
	    {"create_controller", NULL, -32602, "\"socket\""},
	    {"create_controller", "{}", -32602, "needs \"socket\""},
	    {"create_controller", "{\"socket\": 5}", -32602, "\"socket\" must be a string"},
	    {"create_controller", p[0], -32602, "\"queues\" must be 1..1024, not 0"},
	    {"create_controller", p[1], -32602, "\"queues\" must be an integer"},
	    {"create_controller", p[2], -32602, "\"qdepth\" must be 2..65536, not 1"},
	    {"create_controller", p[3], -32602, "not a multiple of the LBA size"},
	    {"create_controller", p[4], -32602, "below 1 MiB"},
	    {"create_controller", p[5], -32602, "unknown key \"qdeth\""},
	    {"create_controller", p[6], -32602, "backend \"tape\": use null, ram or file"},
	    {"create_controller", p[7], -32602, "is nvme0's socket already"},
	    {"create_controller", p[8], -32602, "\"count\" must be 1"},
	    {"create_controller", p[9], -32602, "the file backend needs a path"},
	    {"create_controller", p[10], -32602, "namespaces\" must be an array of 1..32"},
	    {"create_controller", p[11], -32602, "\"lba\" must be 512..4096"},
	    {"create_controller", p[12], -32602, "pci_id"},
	    {"create_controller", p[13], -32602, "serial"},
	    {"create_controller", p[14], -32602, "cannot create the controller"},
	    {"delete_controller", NULL, -32602, "give the controller"},
	    {"delete_controller", "{}", -32602, "give the controller"},
	    {"delete_controller", "{\"name\": \"nvme99\"}", -32602, "no controller named nvme99"},
	    {"delete_controller", "{\"socket\": \"/nowhere\"}", -32602,
	     "no controller on /nowhere"},
	    {"delete_controller", "{\"name\": 1}", -32602, "\"name\" must be a non-empty string"},
	    {"delete_controller", "{\"nam\": \"nvme0\"}", -32602, "unknown parameter \"nam\""},
	    {"get_stats", "{\"name\": \"nvme99\"}", -32602, "no controller"},
	    {"get_stats", "{\"socket\": []}", -32602, "\"socket\" must be a non-empty string"},
	    {"get_stats", "{\"histogram\": 1}", -32602, "\"histogram\" must be true or false"},
	    {"get_stats", "{\"histo\": true}", -32602, "takes socket, name, histogram"},
	    {"save_config", "{\"path\": 3}", -32602, "\"path\" must be a non-empty string"},
	    {"save_config", "{\"path\": \"/nonexistent/dir/x.json\"}", -32602, "cannot write"},
	    {"get_version", "{\"x\": 1}", -32602, "takes none"},
	    {"list_controllers", "[1]", -32602, "\"params\" must be an object"},
	    {"shutdown", "{\"now\": true}", -32602, "unknown parameter"},
	};
	struct json_object *r;

	(void)state;
	snprintf(a, sizeof(a), "%s/bad", T.dir);
	snprintf(p[0], sizeof(p[0]), "{\"socket\": \"%s\", \"queues\": 0}", a);
	snprintf(p[1], sizeof(p[1]), "{\"socket\": \"%s\", \"queues\": \"8\"}", a);
	snprintf(p[2], sizeof(p[2]), "{\"socket\": \"%s\", \"qdepth\": 1}", a);
	snprintf(p[3], sizeof(p[3]),
		 "{\"socket\": \"%s\", \"namespaces\": [{\"backend\": \"ram\", \"size\": 1000}]}",
		 a);
	snprintf(
	    p[4], sizeof(p[4]),
	    "{\"socket\": \"%s\", \"namespaces\": [{\"backend\": \"ram\", \"size\": \"64k\"}]}", a);
	snprintf(p[5], sizeof(p[5]), "{\"socket\": \"%s\", \"qdeth\": 8}", a);
	snprintf(p[6], sizeof(p[6]),
		 "{\"socket\": \"%s\", \"namespaces\": [{\"backend\": \"tape\"}]}", a);
	snprintf(p[7], sizeof(p[7]), "{\"socket\": \"%s\"}", T.c0);
	snprintf(p[8], sizeof(p[8]), "{\"socket\": \"%s%%d\", \"count\": 2}", a);
	snprintf(p[9], sizeof(p[9]),
		 "{\"socket\": \"%s\", \"namespaces\": [{\"backend\": \"file\"}]}", a);
	snprintf(p[10], sizeof(p[10]), "{\"socket\": \"%s\", \"namespaces\": []}", a);
	snprintf(p[11], sizeof(p[11]), "{\"socket\": \"%s\", \"namespaces\": [{\"lba\": 9000}]}",
		 a);
	snprintf(p[12], sizeof(p[12]), "{\"socket\": \"%s\", \"pci_id\": \"xyz\"}", a);
	snprintf(p[13], sizeof(p[13]), "{\"socket\": \"%s\", \"serial\": \"%s\"}", a,
		 "AAAAAAAAAAAAAAAAAAAAAA");
	/* A backing file that cannot be opened: the backend's own message. */
	snprintf(p[14], sizeof(p[14]),
		 "{\"socket\": \"%s\", \"namespaces\": [{\"backend\": \"file\", \"path\": "
		 "\"/nonexistent/dir/disk.img\"}]}",
		 a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[512] = "";
		int code = call(bad[i].method, bad[i].params, &r, msg, sizeof(msg));
		if (code != bad[i].code || !strstr(msg, bad[i].says))
			fail_msg("%s %s: error %d \"%s\", wanted %d \"%s\"", bad[i].method,
				 bad[i].params ? bad[i].params : "", code, msg, bad[i].code,
				 bad[i].says);
		json_object_put(r);
	}
	assert_false(is_sock(a)); /* nothing was left behind */
	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);
}

/* Requests that are no JSON-RPC request: an error each, the connection kept. */
static void test_malformed_requests_keep_the_connection(void **state)
{
	static const struct {
		const char *req;
		const char *says;
	} bad[] = {
	    {"{\"method\": \"get_version\", \"id\": 1}", "\"jsonrpc\" must be \"2.0\""},
	    {"{\"jsonrpc\": \"1.0\", \"method\": \"get_version\", \"id\": 1}", "\"2.0\""},
	    {"{\"jsonrpc\": \"2.0\", \"method\": 5, \"id\": 1}", "\"method\" must be a string"},
	    {"{\"jsonrpc\": \"2.0\", \"id\": 1}", "\"method\" must be a string"},
	    {"{\"jsonrpc\": \"2.0\", \"method\": \"get_version\", \"id\": {}}",
	     "\"id\" must be a number or a string"},
	    {"[{\"jsonrpc\": \"2.0\", \"method\": \"get_version\", \"id\": 1}]",
	     "batch requests are not supported"},
	    {"42", "must be a JSON object"},
	    {"null", "must be a JSON object"},
	    {"\"get_version\"", "must be a JSON object"},
	    {"{\"jsonrpc\": \"2.0\", \"method\": \"get_version\", \"id\": 1, \"x\": 2}",
	     "unknown member \"x\""},
	};
	int fd = rpc_connect();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_all(fd, bad[i].req, strlen(bad[i].req));
		send_all(fd, "\n", 1);
		struct json_object *r = read_reply(fd), *e;
		assert_non_null(r);
		assert_true(json_object_object_get_ex(r, "error", &e));
		assert_int_equal(json_object_get_int(json_object_object_get(e, "code")), -32600);
		const char *m = json_object_get_string(json_object_object_get(e, "message"));
		if (!strstr(m, bad[i].says))
			fail_msg("%s: \"%s\", wanted \"%s\"", bad[i].req, m, bad[i].says);
		json_object_put(r);
	}
	/* A notification (no id) gets no reply; the next request does. */
	const char *note = "{\"jsonrpc\": \"2.0\", \"method\": \"get_version\"}";
	send_all(fd, note, strlen(note));
	struct json_object *r;
	assert_int_equal(call_fd(fd, "get_version", NULL, &r, NULL, 0), 0);
	json_object_put(r);
	/* Requests back to back in one write, no delimiter: as rpc.py sends. */
	const char *two = "{\"jsonrpc\":\"2.0\",\"method\":\"get_version\",\"id\":1}"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"get_version\",\"id\":2}";
	send_all(fd, two, strlen(two));
	for (int i = 1; i <= 2; i++) {
		r = read_reply(fd);
		assert_non_null(r);
		assert_int_equal(json_object_get_int(json_object_object_get(r, "id")), i);
		json_object_put(r);
	}
	close(fd);
}

/* Garbage: a parse error, then the connection closes; others are served. */
static void test_garbage_gets_a_parse_error_and_is_disconnected(void **state)
{
	int fd = rpc_connect();
	struct json_object *r, *e;

	(void)state;
	send_all(fd, "}{ this is not json", 19);
	r = read_reply(fd);
	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "error", &e));
	assert_int_equal(json_object_get_int(json_object_object_get(e, "code")), -32700);
	json_object_put(r);
	assert_null(read_reply(fd)); /* closed */
	close(fd);
	r = ok("get_version", NULL);
	json_object_put(r);
}

/* 2 MiB of one request that never ends: an error past 1 MiB, then closed. */
static void test_a_request_past_1_mib_is_refused_and_disconnected(void **state)
{
	int fd = rpc_connect(), other = rpc_connect();
	static char chunk[65536];
	const char *head = "{\"jsonrpc\":\"2.0\",\"method\":\"get_version\",\"params\":{\"x\":\"";
	struct json_object *r, *e;
	size_t sent = 0;

	(void)state;
	memset(chunk, 'A', sizeof(chunk));
	send_all(fd, head, strlen(head));
	while (sent < (2u << 20)) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break; /* the target closed it: expected past 1 MiB */
		sent += (size_t)n;
		/* Another client is answered meanwhile. */
		if ((sent & ((1u << 18) - 1)) < sizeof(chunk)) {
			assert_int_equal(call_fd(other, "get_version", NULL, &r, NULL, 0), 0);
			json_object_put(r);
		}
	}
	assert_true(sent >= (1u << 20));
	r = read_reply(fd);
	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "error", &e));
	assert_int_equal(json_object_get_int(json_object_object_get(e, "code")), -32600);
	assert_non_null(
	    strstr(json_object_get_string(json_object_object_get(e, "message")), "larger than"));
	json_object_put(r);
	close(fd);
	assert_int_equal(call_fd(other, "get_version", NULL, &r, NULL, 0), 0);
	json_object_put(r);
	close(other);
}

/*
 * A client that sends requests and never reads the replies: disconnected
 * past the bound of queued replies; another client is answered all along.
 */
static void test_a_client_that_never_reads_is_disconnected(void **state)
{
	int fd = rpc_connect(), other = rpc_connect();
	const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"list_controllers\",\"id\":1}";
	size_t len = strlen(req);
	struct json_object *r;
	bool gone = false;

	(void)state;
	/* Each reply is about 300 bytes: 4 MiB queued is some 15000. */
	for (long i = 0; i < 400000 && !gone; i++) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		size_t off = 0;
		while (off < len) {
			if (poll(&p, 1, 30000) != 1)
				fail_msg("the target stopped reading a client without closing it");
			ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				gone = true; /* EPIPE / ECONNRESET: disconnected */
				break;
			}
			off += (size_t)n;
		}
		if (i % 2000 == 0) {
			assert_int_equal(call_fd(other, "get_version", NULL, &r, NULL, 0), 0);
			json_object_put(r);
		}
	}
	assert_true(gone);
	close(fd);
	assert_int_equal(call_fd(other, "get_version", NULL, &r, NULL, 0), 0);
	json_object_put(r);
	close(other);
}

/* Connections past the bound get an error and are closed, unless one has
 * been idle long enough: then it makes room. */
static void test_connections_are_bounded(void **state)
{
	int fds[64], extra;
	struct json_object *r, *e;

	(void)state;
	for (int i = 0; i < 64; i++)
		fds[i] = rpc_connect();
	/* The loop has accepted them all once one of them is answered. */
	assert_int_equal(call_fd(fds[63], "get_version", NULL, &r, NULL, 0), 0);
	json_object_put(r);
	extra = rpc_connect();
	r = read_reply(extra);
	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "error", &e));
	assert_non_null(
	    strstr(json_object_get_string(json_object_object_get(e, "message")), "too many"));
	json_object_put(r);
	close(extra);
	/* Idle past VN_RPC_IDLE_EVICT_MS (10 s): a new client closes the
	 * connection idle the longest, and is served. */
	sleep(11);
	assert_int_equal(call("get_version", NULL, &r, NULL, 0), 0);
	json_object_put(r);
	int evicted = 0;
	for (int i = 0; i < 64; i++) {
		char c;
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		if (poll(&p, 1, 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) == 0)
			evicted++;
	}
	/* At most the one: the new client above was served at the bound (the
	 * "too many" before the sleep), which takes an eviction; which of our
	 * sockets shows it at once is left to the scheduler on a loaded machine
	 * (it was seen at 0 once in three full runs). */
	print_message("# evicted %d\n", evicted);
	assert_true(evicted <= 1);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
	/* Closed ones are freed: a new client is served (the loop may need
	 * a moment to see the closes: retry on "too many", bounded). */
	for (int i = 0;; i++) {
		char msg[256] = "";
		int code = call("get_version", NULL, &r, msg, sizeof(msg));
		json_object_put(r);
		if (code == 0)
			break;
		assert_true(i < 1000);
		usleep(10000);
	}
}

struct io_done {
	bool done;
	uint16_t status;
};

static void io_cb(void *arg, const struct vnvme_cqe *cqe)
{
	struct io_done *d = arg;

	d->done = true;
	d->status = (uint16_t)(cqe->status >> 1);
}

/* Write then read back one block of namespace nsid; 0 or the status / -errno. */
static int rw_block_ns(struct vnvme_ctrl *c, struct vnvme_qpair *q, uint32_t nsid, uint8_t *buf,
		       uint64_t lba, uint32_t lbasz)
{
	for (int w = 1; w >= 0; w--) {
		struct io_done d = {0};
		int ret = w ? vnvme_write(q, nsid, buf, lba, 1, lbasz, io_cb, &d)
			    : vnvme_read(q, nsid, buf, lba, 1, lbasz, io_cb, &d);
		if (ret < 0)
			return ret;
		uint64_t end = now_ms() + 20000;
		while (!d.done) {
			if (vnvme_qpair_poll(q, 0) < 0 || (ret = vnvme_ctrl_check(c)) < 0)
				return ret < 0 ? ret : -EIO;
			if (now_ms() > end)
				return -ETIMEDOUT;
		}
		if (d.status)
			return d.status;
	}
	return 0;
}

static int rw_block(struct vnvme_ctrl *c, struct vnvme_qpair *q, uint8_t *buf, uint64_t lba,
		    uint32_t lbasz)
{
	return rw_block_ns(c, q, 1, buf, lba, lbasz);
}

/*
 * create → attach with libvnvme → I/O → delete while attached: the client
 * sees the device go away (an error, not a hang); the other controller on
 * the same polling thread keeps serving its own client.
 */
static void test_delete_while_attached(void **state)
{
	struct vnvme_ctrl *ca, *c0;
	struct vnvme_qpair *qa, *q0;
	struct vnvme_ns_info ni;
	struct json_object *r;
	char a[160];
	uint8_t *ba, *b0;
	int ret = 0;

	(void)state;
	snprintf(a, sizeof(a), "%s/attached", T.dir);
	r = ok("create_controller",
	       "{\"socket\": \"%s\", \"queues\": 2, \"namespaces\": [{\"backend\": \"ram\", "
	       "\"size\": \"8M\"}]}",
	       a);
	json_object_put(r);
	assert_int_equal(vnvme_ctrl_open(a, NULL, &ca), 0);
	assert_int_equal(vnvme_ctrl_open(T.c0, NULL, &c0), 0);
	assert_int_equal(vnvme_qpair_create(ca, NULL, &qa), 0);
	assert_int_equal(vnvme_qpair_create(c0, NULL, &q0), 0);
	assert_int_equal(vnvme_ns_info(ca, 1, &ni), 0);
	ba = vnvme_dma_alloc(ca, 4096);
	b0 = vnvme_dma_alloc(c0, 4096);
	assert_non_null(ba);
	assert_non_null(b0);
	for (uint64_t lba = 0; lba < 64; lba++) {
		memset(ba, (int)lba, ni.lba_size);
		assert_int_equal(rw_block(ca, qa, ba, lba, ni.lba_size), 0);
		assert_int_equal(ba[0], (uint8_t)lba);
	}
	r = ok("list_controllers", NULL);
	assert_true(json_object_get_boolean(json_object_object_get(find_ctrl(r, a), "connected")));
	assert_int_equal(json_object_get_int(json_object_object_get(find_ctrl(r, a), "io_sqs")), 1);
	json_object_put(r);
	r = ok("get_stats", "{\"socket\": \"%s\"}", a);
	struct json_object *st =
	    json_object_array_get_idx(json_object_object_get(r, "controllers"), 0);
	assert_true(json_object_get_uint64(json_object_object_get(st, "io_cmds")) >= 128);
	assert_int_equal(json_object_get_uint64(json_object_object_get(st, "bytes_written")),
			 64 * ni.lba_size);
	json_object_put(r);

	r = ok("delete_controller", "{\"socket\": \"%s\"}", a);
	json_object_put(r);
	/* The client finds out: an I/O fails or the controller check does,
	 * within the 20 s every wait here has (by the clock). */
	for (uint64_t lba = 0; lba < 1000000 && ret == 0; lba++)
		ret = rw_block(ca, qa, ba, lba % 64, ni.lba_size);
	assert_true(ret != 0);
	assert_true(vnvme_ctrl_check(ca) != 0);
	print_message("# the deleted controller's client saw %d (%s)\n", ret,
		      vnvme_ctrl_errmsg(ca));
	/* The other controller, same polling thread, is undisturbed. */
	for (uint64_t lba = 0; lba < 64; lba++)
		assert_int_equal(rw_block(c0, q0, b0, lba, 512), 0);
	vnvme_qpair_destroy(qa);
	vnvme_ctrl_close(ca);
	vnvme_qpair_destroy(q0);
	vnvme_ctrl_close(c0);
	assert_false(is_sock(a));
	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);
}

static uint64_t ju(struct json_object *o, const char *key)
{
	return json_object_get_uint64(json_object_object_get(o, key));
}

/*
 * A controller created with "sanitize": true (docs/sanitizer.md): libvnvme
 * runs correct I/O (nothing counted), then a raw Delete I/O CQ before its
 * SQ: get_stats counts it under "sanitizer" with the report under
 * "sanitizer_reports"; list_controllers and save_config say "sanitize".
 */
static void test_sanitizer_counts_reach_get_stats(void **state)
{
	struct vnvme_sqe del = {.opc = VNVME_ADM_DELETE_CQ, .cdw10 = 1};
	struct vnvme_cqe cqe = {0};
	struct vnvme_ctrl *c;
	struct vnvme_qpair *q;
	struct json_object *r, *st, *san, *rep;
	char a[160];
	uint8_t *b;

	(void)state;
	snprintf(a, sizeof(a), "%s/san", T.dir);
	json_object_put(ok("create_controller",
			   "{\"socket\": \"%s\", \"queues\": 1, \"sanitize\": true, "
			   "\"namespaces\": [{\"backend\": \"ram\", \"size\": \"8M\"}]}",
			   a));
	assert_int_equal(vnvme_ctrl_open(a, NULL, &c), 0);
	assert_int_equal(vnvme_qpair_create(c, NULL, &q), 0);
	b = vnvme_dma_alloc(c, 4096);
	assert_non_null(b);
	for (uint64_t lba = 0; lba < 64; lba++)
		assert_int_equal(rw_block(c, q, b, lba, 512), 0);
	assert_int_equal(vnvme_admin(c, &del, NULL, 0, &cqe), 0);
	assert_int_equal(vnvme_cqe_status(&cqe).v & 0x7ff,
			 VNVME_SCT_CMD_SPECIFIC << 8 | VNVME_SC_INVALID_QUEUE_DELETION);

	r = ok("get_stats", "{\"socket\": \"%s\"}", a);
	st = json_object_array_get_idx(json_object_object_get(r, "controllers"), 0);
	san = json_object_object_get(st, "sanitizer");
	rep = json_object_object_get(st, "sanitizer_reports");
	assert_non_null(san);
	assert_non_null(rep);
	json_object_object_foreach(san, kind, n)
	{
		if (strcmp(kind, "delete_order") && json_object_get_uint64(n))
			fail_msg("libvnvme triggered %s: %s", kind,
				 json_object_get_string(json_object_object_get(rep, kind)));
	}
	assert_int_equal(ju(san, "delete_order"), 1);
	assert_int_equal(json_object_object_length(san), 12);
	assert_non_null(strstr(json_object_get_string(json_object_object_get(rep, "delete_order")),
			       "Delete I/O CQ QID 1"));
	json_object_put(r);
	/* Without it: no "sanitizer" object. */
	r = ok("get_stats", "{\"socket\": \"%s\"}", T.c0);
	st = json_object_array_get_idx(json_object_object_get(r, "controllers"), 0);
	assert_null(json_object_object_get(st, "sanitizer"));
	json_object_put(r);
	r = ok("list_controllers", NULL);
	assert_true(json_object_get_boolean(json_object_object_get(find_ctrl(r, a), "sanitize")));
	assert_false(
	    json_object_get_boolean(json_object_object_get(find_ctrl(r, T.c0), "sanitize")));
	json_object_put(r);
	r = ok("save_config", NULL);
	struct json_object *cs = json_object_object_get(r, "controllers");
	assert_true(json_object_get_boolean(json_object_object_get(find_ctrl(cs, a), "sanitize")));
	assert_null(json_object_object_get(find_ctrl(cs, T.c0), "sanitize"));
	json_object_put(r);
	vnvme_qpair_destroy(q);
	vnvme_ctrl_close(c);
}

/* The I/O queue qid of get_stats' one controller. */
static struct json_object *stat_queue(struct json_object *r, int qid)
{
	struct json_object *c =
	    json_object_array_get_idx(json_object_object_get(r, "controllers"), 0);
	struct json_object *qs = json_object_object_get(c, "queues");

	for (size_t i = 0; qs && i < json_object_array_length(qs); i++) {
		struct json_object *q = json_object_array_get_idx(qs, i);
		if ((int)ju(q, "qid") == qid)
			return q;
	}
	fail_msg("no queue %d in get_stats", qid);
	return NULL;
}

/*
 * A "service_ns" object: its percentiles in order; with buckets, those
 * ascending by index, their counts adding up to count. Returns count.
 */
static uint64_t check_service_ns(struct json_object *o, bool buckets)
{
	struct json_object *s = json_object_object_get(o, "service_ns"), *b;
	uint64_t n = ju(s, "count"), sum = 0;
	int last = -1;

	assert_non_null(s);
	assert_true(ju(s, "p50") <= ju(s, "p90"));
	assert_true(ju(s, "p90") <= ju(s, "p99"));
	assert_true(ju(s, "p99") <= ju(s, "p999"));
	assert_true(ju(s, "p999") <= ju(s, "max"));
	assert_true(ju(s, "mean") <= ju(s, "max"));
	if (!n)
		assert_int_equal(ju(s, "max"), 0);
	b = json_object_object_get(s, "buckets");
	assert_true(!b == !buckets);
	for (size_t i = 0; b && i < json_object_array_length(b); i++) {
		struct json_object *e = json_object_array_get_idx(b, i);
		int idx = json_object_get_int(json_object_array_get_idx(e, 0));

		assert_int_equal(json_object_array_length(e), 3);
		assert_true(idx > last && idx <= 1024);
		last = idx;
		assert_true(json_object_get_uint64(json_object_array_get_idx(e, 2)) > 0);
		sum += json_object_get_uint64(json_object_array_get_idx(e, 2));
	}
	if (b) {
		assert_int_equal(sum, n);
		assert_non_null(json_object_object_get(s, "sum"));
	}
	return n;
}

/*
 * Namespaces added and removed through the socket while libvnvme is
 * attached: the driver finds the new one by Identify and uses it; once
 * removed, its I/O fails with Invalid Namespace and namespace 1 carries on.
 * get_stats counts per queue with errors by status and service times
 * (with their buckets when asked); reset_stats zeroes them; save_config
 * keeps the NSIDs. Each bad parameter gets its error.
 */
static void test_namespaces_come_and_go_under_a_client(void **state)
{
	struct vnvme_ctrl *c;
	struct vnvme_qpair *q;
	struct vnvme_ns_info ni;
	struct json_object *r, *qs;
	char a[160], msg[512];
	uint8_t *b;

	(void)state;
	snprintf(a, sizeof(a), "%s/hot", T.dir);
	json_object_put(ok("create_controller",
			   "{\"socket\": \"%s\", \"queues\": 1, \"namespaces\": [{\"backend\": "
			   "\"ram\", \"size\": \"8M\"}]}",
			   a));
	assert_int_equal(vnvme_ctrl_open(a, NULL, &c), 0);
	assert_int_equal(vnvme_qpair_create(c, NULL, &q), 0);
	b = vnvme_dma_alloc(c, 4096);
	assert_non_null(b);
	assert_int_equal(vnvme_ns_info(c, 3, &ni), -ENODEV);

	r = ok("add_namespace",
	       "{\"socket\": \"%s\", \"namespace\": {\"nsid\": 3, \"backend\": \"ram\", "
	       "\"size\": \"4M\", \"lba\": 4096}}",
	       a);
	assert_int_equal(ju(r, "nsid"), 3);
	json_object_put(r);
	assert_int_equal(vnvme_ns_info(c, 3, &ni), 0);
	assert_int_equal(ni.lba_size, 4096);
	assert_int_equal(ni.nlb, 1024);
	for (uint64_t lba = 0; lba < 16; lba++) {
		memset(b, (int)(lba + 7), 4096);
		assert_int_equal(rw_block_ns(c, q, 3, b, lba, 4096), 0);
		assert_int_equal(b[4095], (uint8_t)(lba + 7));
	}

	r = ok("get_stats", "{\"socket\": \"%s\"}", a);
	qs = stat_queue(r, 1);
	assert_int_equal(ju(qs, "cmds"), 32);
	assert_int_equal(ju(qs, "bytes_written"), 16 * 4096);
	assert_int_equal(ju(qs, "inflight"), 0);
	assert_int_equal(ju(qs, "errors"), 0);
	assert_int_equal(check_service_ns(qs, false), 32);
	assert_int_equal(
	    check_service_ns(json_object_array_get_idx(json_object_object_get(r, "controllers"), 0),
			     false),
	    32);
	assert_true(check_service_ns(stat_queue(r, 0), false) > 0); /* admin */
	json_object_put(r);
	r = ok("get_stats", "{\"socket\": \"%s\", \"histogram\": true}", a);
	assert_int_equal(check_service_ns(stat_queue(r, 1), true), 32);
	assert_int_equal(
	    check_service_ns(json_object_array_get_idx(json_object_object_get(r, "controllers"), 0),
			     true),
	    32);
	json_object_put(r);

	json_object_put(ok("remove_namespace", "{\"socket\": \"%s\", \"nsid\": 3}", a));
	assert_int_equal(rw_block_ns(c, q, 3, b, 0, 4096) & 0x7ff, VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_int_equal(rw_block_ns(c, q, 1, b, 0, 512), 0);
	r = ok("get_stats", "{\"socket\": \"%s\"}", a);
	qs = stat_queue(r, 1);
	assert_int_equal(ju(qs, "errors"), 1);
	struct json_object *e =
	    json_object_array_get_idx(json_object_object_get(qs, "errors_by_status"), 0);
	assert_non_null(e);
	assert_int_equal(ju(e, "count"), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(e, "status")), "0x00b");
	json_object_put(r);

	json_object_put(ok("reset_stats", "{\"socket\": \"%s\"}", a));
	r = ok("get_stats", "{\"socket\": \"%s\"}", a);
	qs = stat_queue(r, 1);
	assert_int_equal(ju(qs, "cmds"), 0);
	assert_int_equal(ju(qs, "errors"), 0);
	assert_int_equal(check_service_ns(qs, false), 0);
	json_object_put(r);

	/* Gaps are kept: a saved file brings NSID 5 back as 5. */
	json_object_put(ok("add_namespace",
			   "{\"socket\": \"%s\", \"namespace\": {\"nsid\": 5, \"backend\": "
			   "\"null\", \"size\": \"1G\"}}",
			   a));
	r = ok("save_config", NULL);
	assert_non_null(
	    strstr(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), "\"nsid\":5"));
	json_object_put(r);

	/* Errors that say what to fix. */
	assert_int_equal(call("add_namespace", "{\"name\": \"nvme0\"}", &r, msg, sizeof(msg)),
			 -32602);
	assert_non_null(strstr(msg, "\"namespace\""));
	snprintf(msg, sizeof(msg), "%s", "");
	{
		char p[300];
		snprintf(p, sizeof(p), "{\"socket\": \"%s\", \"namespace\": {\"nsid\": 5}}", a);
		assert_int_equal(call("add_namespace", p, &r, msg, sizeof(msg)), -32602);
		assert_non_null(strstr(msg, "exists already"));
		snprintf(p, sizeof(p), "{\"socket\": \"%s\", \"namespace\": {\"colour\": 1}}", a);
		assert_int_equal(call("add_namespace", p, &r, msg, sizeof(msg)), -32602);
		assert_non_null(strstr(msg, "colour"));
		snprintf(p, sizeof(p), "{\"socket\": \"%s\", \"nsid\": 33}", a);
		assert_int_equal(call("remove_namespace", p, &r, msg, sizeof(msg)), -32602);
		assert_non_null(strstr(msg, "1..32"));
		snprintf(p, sizeof(p), "{\"socket\": \"%s\", \"nsid\": 4}", a);
		assert_int_equal(call("remove_namespace", p, &r, msg, sizeof(msg)), -32602);
		assert_non_null(strstr(msg, "no such namespace"));
	}
	assert_int_equal(call("reset_stats", "{\"name\": \"nvme99\"}", &r, msg, sizeof(msg)),
			 -32602);
	vnvme_qpair_destroy(q);
	vnvme_ctrl_close(c);
	json_object_put(ok("delete_controller", "{\"socket\": \"%s\"}", a));
}

struct conc {
	pthread_t th;
	int id;
	char err[320];
};

/* Each thread: its own controller created and deleted, stats in between. */
static void *conc_main(void *arg)
{
	struct conc *c = arg;
	char sock[200], params[400], msg[256];
	struct json_object *r;

	snprintf(sock, sizeof(sock), "%s/conc%d", T.dir, c->id);
	for (int round = 0; round < 10 && !c->err[0]; round++) {
		snprintf(params, sizeof(params),
			 "{\"socket\": \"%s\", \"queues\": 1, \"namespaces\": [{\"backend\": "
			 "\"null\", \"size\": \"1G\"}]}",
			 sock);
		int fd = rpc_connect();
		if (call_fd(fd, "create_controller", params, &r, msg, sizeof(msg)))
			snprintf(c->err, sizeof(c->err), "create: %s", msg);
		json_object_put(r);
		for (int i = 0; i < 10 && !c->err[0]; i++) {
			if (call_fd(fd, i & 1 ? "get_stats" : "list_controllers", NULL, &r, msg,
				    sizeof(msg)))
				snprintf(c->err, sizeof(c->err), "stats: %s", msg);
			json_object_put(r);
		}
		snprintf(params, sizeof(params), "{\"socket\": \"%s\"}", sock);
		if (!c->err[0] && call_fd(fd, "delete_controller", params, &r, msg, sizeof(msg)))
			snprintf(c->err, sizeof(c->err), "delete: %s", msg);
		json_object_put(r);
		close(fd);
	}
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	struct conc c[4];
	struct json_object *r;

	(void)state;
	for (int i = 0; i < 4; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].id = i;
		assert_int_equal(pthread_create(&c[i].th, NULL, conc_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(c[i].th, NULL);
		if (c[i].err[0])
			fail_msg("client %d: %s", i, c[i].err);
	}
	r = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(r), 1);
	json_object_put(r);
}

/* save_config, stop, start from the saved file: the same devices. */
static void test_save_then_restart_gives_the_same_devices(void **state)
{
	char a[160], b[160], saved[160], img[160];
	struct json_object *r, *before, *after;
	int fd;

	(void)state;
	snprintf(a, sizeof(a), "%s/sa", T.dir);
	snprintf(b, sizeof(b), "%s/sb", T.dir);
	snprintf(img, sizeof(img), "%s/disk.img", T.dir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	r = ok("create_controller",
	       "{\"socket\": \"%s\", \"queues\": 4, \"qdepth\": 128, \"serial\": \"SAVED\","
	       " \"namespaces\": [{\"backend\": \"ram\", \"size\": \"4M\", \"lba\": 4096},"
	       " {\"backend\": \"file\", \"path\": \"%s\"}]}",
	       a, img);
	json_object_put(r);
	r = ok("create_controller", "{\"socket\": \"%s\", \"pci_id\": \"1234:5678\"}", b);
	json_object_put(r);
	snprintf(saved, sizeof(saved), "%s/restart.json", T.dir);
	before = ok("save_config", NULL);
	assert_int_equal(json_object_to_file(saved, before), 0);
	r = ok("list_controllers", NULL);
	json_object_put(before);
	before = r;

	r = ok("shutdown", NULL);
	json_object_put(r);
	assert_int_equal(target_wait(), 0);
	assert_false(is_sock(T.rpc));
	/* The saved file names the control socket too. */
	const char *args[] = {"--config", saved, NULL};
	target_start_args(args);
	after = ok("list_controllers", NULL);
	assert_int_equal(json_object_array_length(after), json_object_array_length(before));
	for (size_t i = 0; i < json_object_array_length(before); i++) {
		struct json_object *x = json_object_array_get_idx(before, i);
		struct json_object *y = json_object_array_get_idx(after, i);
		static const char *const keys[] = {"socket", "queues", "qdepth", "namespaces"};
		for (size_t k = 0; k < 4; k++) {
			const char *sx =
			    json_object_to_json_string(json_object_object_get(x, keys[k]));
			const char *sy =
			    json_object_to_json_string(json_object_object_get(y, keys[k]));
			if (strcmp(sx, sy))
				fail_msg("controller %zu %s: %s before, %s after", i, keys[k], sx,
					 sy);
		}
	}
	json_object_put(before);
	json_object_put(after);
	/* The serial given survived (the controller's own identity). */
	struct vnvme_ctrl *c;
	assert_int_equal(vnvme_ctrl_open(a, NULL, &c), 0);
	vnvme_ctrl_close(c);
	r = ok("save_config", NULL);
	assert_non_null(strstr(json_object_to_json_string(r), "\"SAVED\""));
	assert_non_null(strstr(json_object_to_json_string(r), "1234:5678"));
	json_object_put(r);
}

/* A live target's RPC socket is refused to a second target; a dead one's is
 * replaced. */
static void test_rpc_socket_live_refused_stale_replaced(void **state)
{
	char out[4096] = "";
	int p[2], st;
	pid_t pid;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(p[1], 1);
		execl(target_bin, target_bin, "--rpc", T.rpc, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	waitpid(pid, &st, 0);
	assert_true(n > 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_non_null(strstr(out, "a live target serves it"));
	struct stat sst;
	assert_int_equal(stat(T.rpc, &sst), 0);
	assert_int_equal(sst.st_mode & 0777, 0600);

	/* Killed: its socket stays behind, and the next target replaces it. */
	kill(T.pid, SIGKILL);
	waitpid(T.pid, NULL, 0);
	T.pid = 0;
	assert_true(is_sock(T.rpc));
	target_start();
	struct json_object *r = ok("get_version", NULL);
	json_object_put(r);
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	snprintf(T.dir, sizeof(T.dir), "/tmp/vnvme-rpc-XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	snprintf(T.rpc, sizeof(T.rpc), "%s/rpc.sock", T.dir);
	snprintf(T.log, sizeof(T.log), "%s/target.log", T.dir);
	snprintf(T.c0, sizeof(T.c0), "%s/c0", T.dir);
	target_start();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	target_stop();
	if (getenv("VNVME_KEEP_LOG")) {
		fprintf(stderr, "target log kept in %s\n", T.log);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", T.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", T.dir);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_method_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests_get_errors_that_say_what_to_fix,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_requests_keep_the_connection, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_gets_a_parse_error_and_is_disconnected,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_request_past_1_mib_is_refused_and_disconnected,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_client_that_never_reads_is_disconnected, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_connections_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_while_attached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sanitizer_counts_reach_get_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespaces_come_and_go_under_a_client, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_then_restart_gives_the_same_devices, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rpc_socket_live_refused_stale_replaced, setup,
					    teardown),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VNVME_TARGET\n", argv[0]);
		return 2;
	}
	target_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (getenv("VNVME_TEST_FILTER"))
		cmocka_set_test_filter(getenv("VNVME_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
