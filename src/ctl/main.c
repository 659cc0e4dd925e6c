/* SPDX-License-Identifier: MIT */
/*
 * vnvme-ctl: drive a running vnvme-target through its JSON-RPC socket
 * (vnvme-target --rpc PATH; the methods are in docs/rpc.md).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "rpc/path.h"

#define REPLY_TIMEOUT_MS (300 * 1000) /* a RAM controller of many GiB takes seconds */

static const char *sock_path;
static bool json_out;

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: vnvme-ctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	       "\n"
	       "Drives a running vnvme-target through its JSON-RPC socket. SOCKET defaults\n"
	       "to $VNVME_RPC, else to where vnvme-target serves it unless told otherwise:\n"
	       "$XDG_RUNTIME_DIR/vnvme/rpc.sock, /run/vnvme/rpc.sock for root, else\n"
	       "/tmp/vnvme-UID/rpc.sock.\n"
	       "\n"
	       "Commands (COMMAND --help for each):\n"
	       "  list                  controllers: socket, client, state, queues, namespaces\n"
	       "  create --socket PATH [options]   a new controller, served when it returns\n"
	       "  delete NAME|SOCKET    delete a controller (its client is disconnected)\n"
	       "  stats [--watch SECS]  counters and p50/p99 service times; with --watch, IOPS,\n"
	       "                        bandwidth and p50/p99 of each interval\n"
	       "  reset-stats [NAME]    zero the counters (all controllers, or one)\n"
	       "  sanitizer [NAME]      host protocol violations seen by --sanitize controllers\n"
	       "  ns-add NAME [options] add a namespace to a live controller (the host is told)\n"
	       "  ns-remove NAME NSID   remove a namespace from a live controller\n"
	       "  save FILE             the running configuration, as vnvme-target --config reads\n"
	       "  version               the target's version, capabilities and methods\n"
	       "  shutdown              stop the target\n"
	       "  call METHOD [JSON]    any method, params as a JSON object; prints the result\n"
	       "\n"
	       "Options:\n"
	       "  -s, --socket SOCKET   the target's JSON-RPC socket\n"
	       "  --json                print the raw JSON result (for scripts)\n"
	       "  -h, --help            this text\n");
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vnvme-ctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

static int connect_rpc(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vnvme-ctl: socket path too long: %s\n", sock_path);
		return -1;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr,
			"vnvme-ctl: cannot connect to %s: %s: is a vnvme-target serving it "
			"(its default path, or --rpc %s)? Else give -s SOCKET\n",
			sock_path, strerror(errno), sock_path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * One call: 0 and the result (a new reference, maybe NULL for null), 1 if
 * the target answered an error (printed), 2 if it could not be reached.
 */
static int call(const char *method, struct json_object *params, struct json_object **result)
{
	struct json_object *req = json_object_new_object(), *reply = NULL, *v;
	struct json_tokener *tok = json_tokener_new();
	const char *txt;
	size_t len, off = 0;
	int fd, ret = 2;

	*result = NULL;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", json_object_get(params));
	json_object_object_add(req, "id", json_object_new_int(1));
	txt = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(txt);
	fd = connect_rpc();
	if (fd < 0)
		goto out;
	while (off < len) {
		ssize_t n = send(fd, txt + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vnvme-ctl: %s: %s\n", sock_path, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	while (!reply) {
		char buf[65536];
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, REPLY_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			fprintf(stderr, "vnvme-ctl: %s: no reply to %s in %d s\n", sock_path,
				method, REPLY_TIMEOUT_MS / 1000);
			goto out;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vnvme-ctl: %s closed the connection without a reply\n",
				sock_path);
			goto out;
		}
		reply = json_tokener_parse_ex(tok, buf, (int)n);
		if (!reply && json_tokener_get_error(tok) != json_tokener_continue) {
			fprintf(stderr, "vnvme-ctl: %s: the reply is not JSON\n", sock_path);
			goto out;
		}
	}
	if (json_object_object_get_ex(reply, "error", &v) && v) {
		struct json_object *m = NULL, *c = NULL;
		json_object_object_get_ex(v, "message", &m);
		json_object_object_get_ex(v, "code", &c);
		fprintf(stderr, "vnvme-ctl: %s: %s (error %d)\n", method,
			m ? json_object_get_string(m) : "error", c ? json_object_get_int(c) : 0);
		ret = 1;
		goto out;
	}
	if (json_object_object_get_ex(reply, "result", &v))
		*result = json_object_get(v);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	json_object_put(reply);
	json_object_put(req);
	json_tokener_free(tok);
	return ret;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static uint64_t ju64(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void human_size(uint64_t b, char *out, size_t len)
{
	static const char units[] = "BKMGTP";
	unsigned u = 0;
	while (u < 5 && b >= 1024 && b % 1024 == 0) {
		b /= 1024;
		u++;
	}
	if (u)
		snprintf(out, len, "%llu%c", (unsigned long long)b, units[u]);
	else
		snprintf(out, len, "%llu", (unsigned long long)b);
}

/* Each subcommand: parse its own options; "--help" prints its text. */
static bool want_help(int argc, char **argv, const char *text)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(text, stdout);
			return true;
		}
	return false;
}

static int finish(int ret, struct json_object *r, void (*table)(struct json_object *))
{
	if (ret == 0) {
		if (json_out || !table)
			print_json(r);
		else
			table(r);
	}
	json_object_put(r);
	return ret;
}

static void list_table(struct json_object *r)
{
	size_t n = json_object_array_length(r);

	if (!n) {
		printf("no controllers\n");
		return;
	}
	printf("%-8s %-32s %-6s %-6s %-9s %s\n", "NAME", "SOCKET", "CLIENT", "STATE", "IO SQ/CQ",
	       "NAMESPACES");
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(r, i), *ns, *v;
		char q[32], nss[256] = "";
		size_t at = 0;
		uint64_t csts = ju64(c, "csts");

		snprintf(q, sizeof(q), "%llu/%llu", (unsigned long long)ju64(c, "io_sqs"),
			 (unsigned long long)ju64(c, "io_cqs"));
		if (json_object_object_get_ex(c, "namespaces", &ns))
			for (size_t k = 0; k < json_object_array_length(ns); k++) {
				char sz[32];
				v = json_object_array_get_idx(ns, k);
				human_size(ju64(v, "size"), sz, sizeof(sz));
				at += (size_t)snprintf(
				    nss + at, at < sizeof(nss) ? sizeof(nss) - at : 0,
				    "%s%llu:%s %s/%llu%s", k ? ", " : "",
				    (unsigned long long)ju64(v, "nsid"), jstr(v, "backend"), sz,
				    (unsigned long long)ju64(v, "lba"),
				    json_object_object_get_ex(v, "model", NULL) ? " +model" : "");
			}
		printf("%-8s %-32s %-6s %-6s %-9s %s\n", jstr(c, "name"), jstr(c, "socket"),
		       json_object_get_boolean(json_object_object_get(c, "connected")) ? "yes"
										       : "no",
		       csts & 2   ? "fatal"
		       : csts & 1 ? "ready"
				  : "off",
		       q, nss);
	}
}

static int cmd_list(int argc, char **argv)
{
	struct json_object *r;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl list\n"
		      "Every controller: name, socket, whether a client is attached, state (off,\n"
		      "ready, fatal from CSTS), I/O queues created, namespaces (nsid:backend\n"
		      "size/LBA size). --json prints list_controllers' result.\n"))
		return 0;
	if (argc > 1)
		return die("list takes no argument: %s", argv[1]);
	int ret = call("list_controllers", NULL, &r);
	return finish(ret, r, list_table);
}

static const char create_help[] =
    "Usage: vnvme-ctl create --socket PATH [options]\n"
    "A controller, as vnvme-target's flags make one; it is served when this returns.\n"
    "  --socket PATH      vfio-user socket of the new controller (required)\n"
    "  --backend TYPE     null | ram | file              (default ram)\n"
    "  --size SIZE        namespace size: 64M, 1G        (default 1G; file: its size)\n"
    "  --file PATH        file or block device for --backend file\n"
    "  --lba BYTES        512 | 4096                     (default 512)\n"
    "  --namespaces N     N namespaces alike, 1..32      (default 1)\n"
    "  --queues N         I/O queue pairs, 1..1024       (default 8)\n"
    "  --qdepth N         entries per I/O queue, 2..65536 (default 1024)\n"
    "  --serial STR       serial number, 16 characters at most\n"
    "  --pci-id VVVV:DDDD PCI vendor:device\n"
    "  --max-dma-bytes SIZE  guest memory the client may map\n"
    "  --hugepages        back ram namespaces with 2 MiB hugepages, or fail\n"
    "  --no-hugepages     back ram namespaces with 4 KiB pages (default: hugepages\n"
    "                     when enough are free)\n"
    "  --direct           open files with O_DIRECT\n"
    "  --model JSON|@FILE a device model for the namespaces (docs/models.md)\n"
    "  --sanitize         check the host's use of the protocol (docs/sanitizer.md;\n"
    "                     vnvme-ctl sanitizer shows what it found)\n";

/* A number where it parses as one, else the string: the target says what is wrong. */
static struct json_object *num_or_str(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!errno && *s && !*end)
		return json_object_new_int64(v);
	return json_object_new_string(s);
}

/* --model JSON or @FILE: the object, or NULL after saying why. The target
 * checks its fields (docs/models.md). */
static struct json_object *model_arg(const char *s)
{
	struct json_object *o = s[0] == '@' ? json_object_from_file(s + 1) : json_tokener_parse(s);

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		fprintf(stderr, "vnvme-ctl: --model wants a JSON object or @FILE holding one: %s\n",
			s);
		return NULL;
	}
	return o;
}

static int cmd_create(int argc, char **argv)
{
	enum {
		C_SOCKET = 256,
		C_BACKEND,
		C_SIZE,
		C_FILE,
		C_LBA,
		C_NS,
		C_QUEUES,
		C_QDEPTH,
		C_SERIAL,
		C_PCIID,
		C_MAXDMA,
		C_HUGE,
		C_NOHUGE,
		C_DIRECT,
		C_MODEL,
		C_SANITIZE
	};
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, C_SOCKET},
	    {"backend", required_argument, NULL, C_BACKEND},
	    {"size", required_argument, NULL, C_SIZE},
	    {"file", required_argument, NULL, C_FILE},
	    {"lba", required_argument, NULL, C_LBA},
	    {"namespaces", required_argument, NULL, C_NS},
	    {"queues", required_argument, NULL, C_QUEUES},
	    {"qdepth", required_argument, NULL, C_QDEPTH},
	    {"serial", required_argument, NULL, C_SERIAL},
	    {"pci-id", required_argument, NULL, C_PCIID},
	    {"max-dma-bytes", required_argument, NULL, C_MAXDMA},
	    {"hugepages", no_argument, NULL, C_HUGE},
	    {"no-hugepages", no_argument, NULL, C_NOHUGE},
	    {"direct", no_argument, NULL, C_DIRECT},
	    {"model", required_argument, NULL, C_MODEL},
	    {"sanitize", no_argument, NULL, C_SANITIZE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct json_object *p = json_object_new_object(), *ns = json_object_new_object(), *r;
	long nr_ns = 1;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case C_SOCKET:
			json_object_object_add(p, "socket", json_object_new_string(optarg));
			break;
		case C_BACKEND:
			json_object_object_add(ns, "backend", json_object_new_string(optarg));
			break;
		case C_SIZE:
			json_object_object_add(ns, "size", num_or_str(optarg));
			break;
		case C_FILE:
			json_object_object_add(ns, "path", json_object_new_string(optarg));
			break;
		case C_LBA:
			json_object_object_add(ns, "lba", num_or_str(optarg));
			break;
		case C_NS: {
			char *end;
			nr_ns = strtol(optarg, &end, 10);
			if (*end || nr_ns < 1 || nr_ns > 32) {
				json_object_put(p);
				json_object_put(ns);
				return die("--namespaces wants 1..32, not %s", optarg);
			}
			break;
		}
		case C_QUEUES:
			json_object_object_add(p, "queues", num_or_str(optarg));
			break;
		case C_QDEPTH:
			json_object_object_add(p, "qdepth", num_or_str(optarg));
			break;
		case C_SERIAL:
			json_object_object_add(p, "serial", json_object_new_string(optarg));
			break;
		case C_PCIID:
			json_object_object_add(p, "pci_id", json_object_new_string(optarg));
			break;
		case C_MAXDMA:
			json_object_object_add(p, "max_dma_bytes", num_or_str(optarg));
			break;
		case C_HUGE:
			json_object_object_add(ns, "hugepages", json_object_new_boolean(1));
			break;
		case C_NOHUGE:
			json_object_object_add(ns, "hugepages", json_object_new_boolean(0));
			break;
		case C_DIRECT:
			json_object_object_add(ns, "direct", json_object_new_boolean(1));
			break;
		case C_MODEL: {
			struct json_object *m = model_arg(optarg);
			if (!m) {
				json_object_put(p);
				json_object_put(ns);
				return 2;
			}
			json_object_object_add(ns, "model", m);
			break;
		}
		case C_SANITIZE:
			json_object_object_add(p, "sanitize", json_object_new_boolean(1));
			break;
		case 'h':
			fputs(create_help, stdout);
			json_object_put(p);
			json_object_put(ns);
			return 0;
		default:
			json_object_put(p);
			json_object_put(ns);
			fputs(create_help, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		json_object_put(p);
		json_object_put(ns);
		return die("create: unexpected argument %s (see vnvme-ctl create --help)",
			   argv[optind]);
	}
	if (!json_object_object_get_ex(p, "socket", NULL)) {
		json_object_put(p);
		json_object_put(ns);
		return die("%s", "create needs --socket PATH (see vnvme-ctl create --help)");
	}
	struct json_object *a = json_object_new_array();
	for (long i = 0; i < nr_ns; i++)
		json_object_array_add(a, i ? json_object_get(ns) : ns);
	json_object_object_add(p, "namespaces", a);
	ret = call("create_controller", p, &r);
	json_object_put(p);
	if (ret == 0 && !json_out)
		printf("%s on %s\n", jstr(r, "name"), jstr(r, "socket"));
	else if (ret == 0)
		print_json(r);
	json_object_put(r);
	return ret;
}

static int cmd_delete(int argc, char **argv)
{
	struct json_object *p, *r;
	int ret;

	if (want_help(
		argc, argv,
		"Usage: vnvme-ctl delete NAME|SOCKET\n"
		"Delete a controller, by name (nvme0) or socket path. A client attached to it\n"
		"is disconnected; other controllers are not disturbed.\n"))
		return 0;
	if (argc != 2)
		return die("%s", "delete wants one controller: a name (nvme0) or a socket path");
	p = json_object_new_object();
	json_object_object_add(p, strchr(argv[1], '/') ? "socket" : "name",
			       json_object_new_string(argv[1]));
	ret = call("delete_controller", p, &r);
	json_object_put(p);
	if (ret == 0 && !json_out)
		printf("deleted %s\n", argv[1]);
	else if (ret == 0)
		print_json(r);
	json_object_put(r);
	return ret;
}

/* A duration for a table: 834ns, 12.3us, 4.56ms, 1.20s; "-" without samples. */
static const char *fmt_ns(uint64_t ns, bool any, char *buf, size_t len)
{
	if (!any)
		snprintf(buf, len, "-");
	else if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	return buf;
}

/* An object's service_ns percentile key ("p50"), as fmt_ns. */
static const char *svc_pct(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *s;

	if (!json_object_object_get_ex(o, "service_ns", &s))
		return fmt_ns(0, false, buf, len);
	return fmt_ns(ju64(s, key), ju64(s, "count") > 0, buf, len);
}

/* The sum of a controller's sanitizer counts, and in buf ("kind n, ...")
 * the kinds seen; -1 when the controller does not sanitize. */
static long long violations(struct json_object *c, char *buf, size_t len)
{
	struct json_object *san;
	long long total = 0;
	size_t off = 0;

	buf[0] = 0;
	if (!json_object_object_get_ex(c, "sanitizer", &san))
		return -1;
	json_object_object_foreach(san, kind, n)
	{
		uint64_t v = json_object_get_uint64(n);

		if (!v)
			continue;
		total += (long long)v;
		if (off < len) {
			int w = snprintf(buf + off, len - off, "%s%s %llu", off ? ", " : "", kind,
					 (unsigned long long)v);
			off += w > 0 ? (size_t)w : 0;
		}
	}
	return total;
}

static void stats_table(struct json_object *r)
{
	struct json_object *a;

	printf("%-8s %-32s %12s %8s %14s %14s %10s %9s %9s\n", "NAME", "SOCKET", "IO CMDS",
	       "ERRORS", "BYTES READ", "BYTES WRITTEN", "ADMIN", "P50", "P99");
	if (json_object_object_get_ex(r, "controllers", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *c = json_object_array_get_idx(a, i);
			char p50[16], p99[16];

			printf("%-8s %-32s %12llu %8llu %14llu %14llu %10llu %9s %9s\n",
			       jstr(c, "name"), jstr(c, "socket"),
			       (unsigned long long)ju64(c, "io_cmds"),
			       (unsigned long long)ju64(c, "io_errors"),
			       (unsigned long long)ju64(c, "bytes_read"),
			       (unsigned long long)ju64(c, "bytes_written"),
			       (unsigned long long)ju64(c, "admin_cmds"),
			       svc_pct(c, "p50", p50, sizeof(p50)),
			       svc_pct(c, "p99", p99, sizeof(p99)));
		}
	/* Host protocol violations, where a controller sanitizes and saw some. */
	if (json_object_object_get_ex(r, "controllers", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *c = json_object_array_get_idx(a, i);
			char kinds[512];
			long long n = violations(c, kinds, sizeof(kinds));

			if (n > 0)
				printf("%s: sanitizer: %lld host protocol violations (%s): "
				       "vnvme-ctl sanitizer %s\n",
				       jstr(c, "name"), n, kinds, jstr(c, "name"));
		}
	if (json_object_object_get_ex(r, "pollers", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *p = json_object_array_get_idx(a, i);
			uint64_t b = ju64(p, "busy_ns"), t = b + ju64(p, "idle_ns");
			printf("poller %s (cpu %d): busy %.1f%%\n", jstr(p, "name"),
			       json_object_get_int(json_object_object_get(p, "cpu")),
			       t ? 100.0 * (double)b / (double)t : 0.0);
		}
}

static struct json_object *find_by_name(struct json_object *arr, const char *name)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *c = json_object_array_get_idx(arr, i);
		if (!strcmp(jstr(c, "name"), name))
			return c;
	}
	return NULL;
}

/* b - a of one counter, 0 if it went back (a reset_stats between). */
static uint64_t delta(struct json_object *a, struct json_object *b, const char *key)
{
	uint64_t x = ju64(a, key), y = ju64(b, key);

	return y > x ? y - x : 0;
}

/* The histogram's buckets in get_stats: [index, upper end in ns, count]. */
#define SVC_BUCKETS 1025

/* Counts by bucket index of a service_ns object's buckets into n[]; the
 * upper ends into hi[] (when given). */
static void svc_buckets(struct json_object *o, uint64_t *n, uint64_t *hi)
{
	struct json_object *s, *b;

	if (!json_object_object_get_ex(o, "service_ns", &s) ||
	    !json_object_object_get_ex(s, "buckets", &b))
		return;
	for (size_t i = 0; i < json_object_array_length(b); i++) {
		struct json_object *e = json_object_array_get_idx(b, i);
		int64_t k = json_object_get_int64(json_object_array_get_idx(e, 0));

		if (json_object_array_length(e) != 3 || k < 0 || k >= SVC_BUCKETS)
			continue; /* not a bucket we know */
		n[k] = json_object_get_uint64(json_object_array_get_idx(e, 2));
		if (hi)
			hi[k] = json_object_get_uint64(json_object_array_get_idx(e, 1));
	}
}

/*
 * The p50 and p99 service times of the interval between two samples: the
 * buckets' counts subtracted index by index (a bucket that went down, after
 * a reset, counts 0), then, as the target computes them, the upper end of
 * the first bucket where the running count reaches p % of the interval's.
 * False if no command completed in between.
 */
static bool svc_interval(struct json_object *a, struct json_object *b, uint64_t *p50, uint64_t *p99)
{
	static uint64_t na[SVC_BUCKETS], nb[SVC_BUCKETS], hi[SVC_BUCKETS];
	const uint64_t permille[2] = {500, 990};
	uint64_t *out[2] = {p50, p99}, total = 0;

	memset(na, 0, sizeof(na));
	memset(nb, 0, sizeof(nb));
	svc_buckets(a, na, NULL);
	svc_buckets(b, nb, hi);
	for (unsigned k = 0; k < SVC_BUCKETS; k++) {
		nb[k] = nb[k] > na[k] ? nb[k] - na[k] : 0;
		total += nb[k];
	}
	if (!total)
		return false;
	for (unsigned p = 0; p < 2; p++) {
		/* ceil(p % of total), at least 1 */
		uint64_t want = (total * permille[p] + 999) / 1000, seen = 0;

		for (unsigned k = 0; k < SVC_BUCKETS; k++) {
			seen += nb[k];
			if (nb[k] && seen >= want) {
				*out[p] = hi[k];
				break;
			}
		}
	}
	return true;
}

/* One line per controller, from two samples: IOPS, MiB/s and the p50 and
 * p99 service times over the interval. */
static void rates(struct json_object *a, struct json_object *b)
{
	struct json_object *ca, *cb;
	double dt = (double)(ju64(b, "time_ns") - ju64(a, "time_ns")) / 1e9;

	json_object_object_get_ex(a, "controllers", &ca);
	json_object_object_get_ex(b, "controllers", &cb);
	printf("%-8s %12s %12s %12s %10s %9s %9s\n", "NAME", "IOPS", "READ MiB/s", "WRITE MiB/s",
	       "ERRORS/s", "P50", "P99");
	for (size_t i = 0; dt > 0 && i < json_object_array_length(cb); i++) {
		struct json_object *y = json_object_array_get_idx(cb, i);
		struct json_object *x = find_by_name(ca, jstr(y, "name"));
		uint64_t p50 = 0, p99 = 0;
		char s50[16], s99[16];
		bool any;

		if (!x)
			continue;
		any = svc_interval(x, y, &p50, &p99);
		printf("%-8s %12.0f %12.1f %12.1f %10.0f %9s %9s\n", jstr(y, "name"),
		       (double)delta(x, y, "io_cmds") / dt,
		       (double)delta(x, y, "bytes_read") / dt / 1048576.0,
		       (double)delta(x, y, "bytes_written") / dt / 1048576.0,
		       (double)delta(x, y, "io_errors") / dt, fmt_ns(p50, any, s50, sizeof(s50)),
		       fmt_ns(p99, any, s99, sizeof(s99)));
	}
	fflush(stdout);
}

static void queues_table(struct json_object *r);

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"watch", required_argument, NULL, 'w'},
	    {"count", required_argument, NULL, 'c'},
	    {"queues", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char help[] =
	    "Usage: vnvme-ctl stats [--queues] [--watch SECONDS [--count N]] [NAME|SOCKET]\n"
	    "Counters per controller (I/O commands, errors, bytes, admin commands), the\n"
	    "p50 and p99 service times of its I/O commands (from the device taking a\n"
	    "command to posting its completion), and each polling thread's busy share.\n"
	    "--queues adds one line per queue: its CQ and polling thread, size, commands\n"
	    "in flight now, commands, errors, p50 and p99, and the statuses errors had.\n"
	    "With --watch, every SECONDS: IOPS, read and write bandwidth, errors per\n"
	    "second and the p50 and p99 service times of that interval, per controller,\n"
	    "until Ctrl-C or N lines of samples (--count). --json prints get_stats' result\n"
	    "(each sample; with --watch, with the histograms' buckets).\n";
	double watch = 0;
	long count = 0;
	bool per_queue = false;
	int opt, ret;
	struct json_object *p = NULL, *prev = NULL, *r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'w':
			watch = strtod(optarg, &end);
			if (*end || !(watch >= 0.1 && watch <= 3600))
				return die("--watch wants seconds, 0.1..3600, not %s", optarg);
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1)
				return die("--count wants a positive number, not %s", optarg);
			break;
		case 'q':
			per_queue = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind < argc - 1)
		return die("stats: unexpected argument %s", argv[optind + 1]);
	if (optind == argc - 1 || watch)
		p = json_object_new_object();
	if (optind == argc - 1)
		json_object_object_add(p, strchr(argv[optind], '/') ? "socket" : "name",
				       json_object_new_string(argv[optind]));
	if (watch) /* the buckets, for each interval's percentiles */
		json_object_object_add(p, "histogram", json_object_new_boolean(1));
	if (!watch) {
		ret = call("get_stats", p, &r);
		json_object_put(p);
		return finish(ret, r, per_queue ? queues_table : stats_table);
	}
	/* The first sample only starts the interval (but is printed with --json). */
	for (long n = 0;;) {
		ret = call("get_stats", p, &r);
		if (ret)
			break;
		if (json_out) {
			printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
			fflush(stdout);
			n++;
		} else if (prev) {
			rates(prev, r);
			n++;
		}
		json_object_put(prev);
		prev = r;
		if (count && n >= count)
			break;
		usleep((useconds_t)(watch * 1e6));
	}
	json_object_put(prev);
	json_object_put(p);
	return ret;
}

/* {"name": NAME} or {"socket": PATH}: a controller named on the command line. */
static struct json_object *ctrl_param(const char *which)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, strchr(which, '/') ? "socket" : "name",
			       json_object_new_string(which));
	return p;
}

static int cmd_ns_add(int argc, char **argv)
{
	enum {
		N_NSID = 256,
		N_BACKEND,
		N_SIZE,
		N_FILE,
		N_LBA,
		N_HUGE,
		N_NOHUGE,
		N_DIRECT,
		N_MODEL
	};
	static const struct option opts[] = {
	    {"nsid", required_argument, NULL, N_NSID},
	    {"backend", required_argument, NULL, N_BACKEND},
	    {"size", required_argument, NULL, N_SIZE},
	    {"file", required_argument, NULL, N_FILE},
	    {"lba", required_argument, NULL, N_LBA},
	    {"hugepages", no_argument, NULL, N_HUGE},
	    {"no-hugepages", no_argument, NULL, N_NOHUGE},
	    {"direct", no_argument, NULL, N_DIRECT},
	    {"model", required_argument, NULL, N_MODEL},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char help[] =
	    "Usage: vnvme-ctl ns-add NAME|SOCKET [options]\n"
	    "Add a namespace to a live controller. An attached host gets a Namespace\n"
	    "Attribute Changed event and finds the NSID in the Changed Namespace List log\n"
	    "(Linux rescans and shows a new block device). Prints the NSID.\n"
	    "  --nsid N           1..32                          (default: the lowest free)\n"
	    "  --backend TYPE     null | ram | file              (default ram)\n"
	    "  --size SIZE        64M, 1G                        (default 1G; file: its size)\n"
	    "  --file PATH        file or block device for --backend file\n"
	    "  --lba BYTES        512 | 4096                     (default 512)\n"
	    "  --hugepages        ram on 2 MiB hugepages, or fail\n"
	    "  --no-hugepages     ram on 4 KiB pages (default: hugepages when enough are free)\n"
	    "  --direct           open the file with O_DIRECT\n"
	    "  --model JSON|@FILE a device model: latency, caps, errors (docs/models.md)\n";
	struct json_object *ns = json_object_new_object(), *p, *r;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case N_NSID:
			json_object_object_add(ns, "nsid", num_or_str(optarg));
			break;
		case N_BACKEND:
			json_object_object_add(ns, "backend", json_object_new_string(optarg));
			break;
		case N_SIZE:
			json_object_object_add(ns, "size", num_or_str(optarg));
			break;
		case N_FILE:
			json_object_object_add(ns, "path", json_object_new_string(optarg));
			break;
		case N_LBA:
			json_object_object_add(ns, "lba", num_or_str(optarg));
			break;
		case N_HUGE:
		case N_NOHUGE:
			json_object_object_add(ns, "hugepages",
					       json_object_new_boolean(opt == N_HUGE));
			break;
		case N_DIRECT:
			json_object_object_add(ns, "direct", json_object_new_boolean(1));
			break;
		case N_MODEL: {
			struct json_object *m = model_arg(optarg);
			if (!m) {
				json_object_put(ns);
				return 2;
			}
			json_object_object_add(ns, "model", m);
			break;
		}
		case 'h':
			fputs(help, stdout);
			json_object_put(ns);
			return 0;
		default:
			fputs(help, stderr);
			json_object_put(ns);
			return 2;
		}
	}
	if (optind != argc - 1) {
		json_object_put(ns);
		return die("%s", "ns-add wants one controller: a name (nvme0) or a socket path "
				 "(see vnvme-ctl ns-add --help)");
	}
	p = ctrl_param(argv[optind]);
	json_object_object_add(p, "namespace", ns);
	ret = call("add_namespace", p, &r);
	json_object_put(p);
	if (ret == 0 && !json_out)
		printf("%s: namespace %d added\n", argv[optind],
		       json_object_get_int(json_object_object_get(r, "nsid")));
	else if (ret == 0)
		print_json(r);
	json_object_put(r);
	return ret;
}

static int cmd_ns_remove(int argc, char **argv)
{
	struct json_object *p, *r;
	char *end;
	long nsid;
	int ret;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl ns-remove NAME|SOCKET NSID\n"
		      "Remove a namespace from a live controller. Commands in flight to it\n"
		      "complete; later ones get Invalid Namespace; an attached host gets a\n"
		      "Namespace Attribute Changed event.\n"))
		return 0;
	if (argc != 3)
		return die("%s", "ns-remove wants a controller and an NSID: ns-remove nvme0 2");
	nsid = strtol(argv[2], &end, 10);
	if (*end || nsid < 1 || nsid > 32)
		return die("ns-remove: the NSID is 1..32, not %s", argv[2]);
	p = ctrl_param(argv[1]);
	json_object_object_add(p, "nsid", json_object_new_int((int)nsid));
	ret = call("remove_namespace", p, &r);
	json_object_put(p);
	if (ret == 0 && !json_out)
		printf("%s: namespace %ld removed\n", argv[1], nsid);
	else if (ret == 0)
		print_json(r);
	json_object_put(r);
	return ret;
}

static int cmd_reset_stats(int argc, char **argv)
{
	struct json_object *p = NULL, *r;
	int ret;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl reset-stats [NAME|SOCKET]\n"
		      "Zero the counters get_stats reports, of every controller or of one (the\n"
		      "host's SMART log is not touched).\n"))
		return 0;
	if (argc > 2)
		return die("reset-stats: unexpected argument %s", argv[2]);
	if (argc == 2)
		p = ctrl_param(argv[1]);
	ret = call("reset_stats", p, &r);
	json_object_put(p);
	if (ret == 0 && !json_out)
		printf("counters reset\n");
	else if (ret == 0)
		print_json(r);
	json_object_put(r);
	return ret;
}

/* sanitizer: per controller, its counts by kind and each kind's first report. */
static void sanitizer_table(struct json_object *r)
{
	struct json_object *a;

	if (!json_object_object_get_ex(r, "controllers", &a))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *c = json_object_array_get_idx(a, i), *san, *rep;
		char kinds[512];
		long long n = violations(c, kinds, sizeof(kinds));

		if (n < 0) {
			printf("%s: sanitizer off (create it with --sanitize)\n", jstr(c, "name"));
			continue;
		}
		printf("%s: %lld host protocol violations\n", jstr(c, "name"), n);
		if (!n)
			continue;
		json_object_object_get_ex(c, "sanitizer", &san);
		json_object_object_get_ex(c, "sanitizer_reports", &rep);
		printf("  %-26s %12s  %s\n", "KIND", "COUNT", "FIRST REPORT");
		json_object_object_foreach(san, kind, cnt)
		{
			struct json_object *t;

			if (!json_object_get_uint64(cnt))
				continue;
			printf("  %-26s %12llu  %s\n", kind,
			       (unsigned long long)json_object_get_uint64(cnt),
			       rep && json_object_object_get_ex(rep, kind, &t)
				   ? json_object_get_string(t)
				   : "");
		}
	}
}

static int cmd_sanitizer(int argc, char **argv)
{
	struct json_object *p = NULL, *r, *out;
	int ret;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl sanitizer [NAME|SOCKET]\n"
		      "The host protocol violations a controller created with --sanitize has\n"
		      "seen (docs/sanitizer.md): a count per kind and the first report of each\n"
		      "(queue, CID, field, value, what the spec allows, the queue's last\n"
		      "events). --json prints, per controller, \"name\", \"socket\",\n"
		      "\"sanitizer\" {kind: count} and \"sanitizer_reports\" {kind: text}.\n"))
		return 0;
	if (argc > 2)
		return die("sanitizer: unexpected argument %s", argv[2]);
	if (argc == 2)
		p = ctrl_param(argv[1]);
	ret = call("get_stats", p, &r);
	json_object_put(p);
	if (ret || !json_out)
		return finish(ret, r, sanitizer_table);
	/* --json: get_stats' controllers, with only what concerns the sanitizer. */
	out = json_object_new_array();
	struct json_object *a;
	if (json_object_object_get_ex(r, "controllers", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *c = json_object_array_get_idx(a, i), *o, *v;

			o = json_object_new_object();
			static const char *const keys[] = {"name", "socket", "sanitizer",
							   "sanitizer_reports"};
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
				if (json_object_object_get_ex(c, keys[k], &v))
					json_object_object_add(o, keys[k], json_object_get(v));
			json_object_array_add(out, o);
		}
	json_object_put(r);
	return finish(0, out, NULL);
}

/* With stats --queues: one line per queue of each controller. */
static void queues_table(struct json_object *r)
{
	struct json_object *a;

	stats_table(r);
	if (!json_object_object_get_ex(r, "controllers", &a))
		return;
	printf("\n%-8s %4s %4s %6s %6s %8s %12s %8s %9s %9s %s\n", "NAME", "QID", "CQID", "POLLER",
	       "SIZE", "INFLIGHT", "CMDS", "ERRORS", "P50", "P99", "BY STATUS");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *c = json_object_array_get_idx(a, i), *qs;

		if (!json_object_object_get_ex(c, "queues", &qs))
			continue;
		for (size_t k = 0; k < json_object_array_length(qs); k++) {
			struct json_object *q = json_object_array_get_idx(qs, k), *e;
			char p50[16], p99[16];

			printf("%-8s %4llu %4llu %6llu %6llu %8llu %12llu %8llu %9s %9s ",
			       jstr(c, "name"), (unsigned long long)ju64(q, "qid"),
			       (unsigned long long)ju64(q, "cqid"),
			       (unsigned long long)ju64(q, "poller"),
			       (unsigned long long)ju64(q, "size"),
			       (unsigned long long)ju64(q, "inflight"),
			       (unsigned long long)ju64(q, "cmds"),
			       (unsigned long long)ju64(q, "errors"),
			       svc_pct(q, "p50", p50, sizeof(p50)),
			       svc_pct(q, "p99", p99, sizeof(p99)));
			if (json_object_object_get_ex(q, "errors_by_status", &e))
				for (size_t x = 0; x < json_object_array_length(e); x++) {
					struct json_object *s = json_object_array_get_idx(e, x);
					printf("%s%s %s x%llu", x ? ", " : "", jstr(s, "status"),
					       jstr(s, "name"),
					       (unsigned long long)ju64(s, "count"));
				}
			printf("\n");
		}
	}
}

static int cmd_save(int argc, char **argv)
{
	struct json_object *r;
	int ret;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl save FILE\n"
		      "Write the running configuration to FILE (by this command, not the target),\n"
		      "as JSON that vnvme-target --config FILE reads back to the same devices.\n"
		      "FILE - prints it.\n"))
		return 0;
	if (argc != 2)
		return die("%s", "save wants one FILE (- for the standard output)");
	ret = call("save_config", NULL, &r);
	if (ret)
		return ret;
	if (!strcmp(argv[1], "-")) {
		print_json(r);
	} else if (json_object_to_file_ext(
		       argv[1], r, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) {
		fprintf(stderr, "vnvme-ctl: cannot write %s: %s\n", argv[1], strerror(errno));
		ret = 1;
	} else if (!json_out) {
		printf("saved %zu controller(s) to %s\n",
		       json_object_array_length(json_object_object_get(r, "controllers")), argv[1]);
	}
	json_object_put(r);
	return ret;
}

static void version_table(struct json_object *r)
{
	printf("vnvme-target %s\ncapabilities: ", jstr(r, "version"));
	struct json_object *a = json_object_object_get(r, "capabilities");
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		printf("%s%s", i ? " " : "",
		       json_object_get_string(json_object_array_get_idx(a, i)));
	printf("\nmethods: ");
	a = json_object_object_get(r, "methods");
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		printf("%s%s", i ? " " : "",
		       json_object_get_string(json_object_array_get_idx(a, i)));
	printf("\n");
}

static int cmd_version(int argc, char **argv)
{
	struct json_object *r;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl version\nThe target's version, capabilities and "
		      "methods.\n"))
		return 0;
	int ret = call("get_version", NULL, &r);
	return finish(ret, r, version_table);
}

static int cmd_shutdown(int argc, char **argv)
{
	struct json_object *r;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl shutdown\nStop the target (as SIGTERM does); returns once "
		      "it is gone.\n"))
		return 0;
	int ret = call("shutdown", NULL, &r);
	json_object_put(r);
	if (ret)
		return ret;
	/* Return once it is gone (its sockets go before this one), so that
	 * a new target may take the same paths straight away. */
	for (int i = 0; i < 600; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
		int up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (!up) {
			printf("the target stopped\n");
			return 0;
		}
		usleep(50000);
	}
	fprintf(stderr, "vnvme-ctl: the target still serves %s 30 s after shutdown\n", sock_path);
	return 1;
	return ret;
}

static int cmd_call(int argc, char **argv)
{
	struct json_object *p = NULL, *r;
	int ret;

	if (want_help(argc, argv,
		      "Usage: vnvme-ctl call METHOD [JSON]\n"
		      "Call any method with params JSON (an object); prints the result as JSON.\n"
		      "  vnvme-ctl call get_stats '{\"name\": \"nvme0\"}'\n"))
		return 0;
	if (argc < 2 || argc > 3)
		return die("%s", "call wants METHOD and, optionally, params as a JSON object");
	if (argc == 3) {
		enum json_tokener_error je;
		p = json_tokener_parse_verbose(argv[2], &je);
		if (!p)
			return die("call: params are not JSON: %s", json_tokener_error_desc(je));
	}
	ret = call(argv[1], p, &r);
	json_object_put(p);
	return finish(ret, r, NULL);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"list", cmd_list},
	    {"create", cmd_create},
	    {"delete", cmd_delete},
	    {"stats", cmd_stats},
	    {"save", cmd_save},
	    {"version", cmd_version},
	    {"call", cmd_call},
	    {"shutdown", cmd_shutdown},
	    {"ns-add", cmd_ns_add},
	    {"ns-remove", cmd_ns_remove},
	    {"reset-stats", cmd_reset_stats},
	    {"sanitizer", cmd_sanitizer},
	};
	int i = 1;

	static char def_path[108];

	sock_path = vn_rpc_default_path(def_path, sizeof(def_path));
	if (!sock_path)
		sock_path = getenv("VNVME_RPC"); /* too long: connect_rpc says so */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json_out = true;
		} else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) &&
			   i + 1 < argc) {
			sock_path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock_path = argv[i] + 9;
		} else {
			fprintf(stderr, "vnvme-ctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (!strcmp(argv[i], cmds[k].name))
			return cmds[k].fn(argc - i, argv + i);
	fprintf(stderr, "vnvme-ctl: unknown command %s (see vnvme-ctl --help)\n", argv[i]);
	return 2;
}
