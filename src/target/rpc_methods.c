/* SPDX-License-Identifier: MIT */
/*
 * The target's controllers and its JSON-RPC methods (docs/rpc.md). Every
 * method runs on the control thread; none touches a polling thread's state
 * but through the controller's own calls (nvme_ctrl_get_stats reads the
 * counters the pollers publish; creation and destruction go through
 * vnvme_dev_create/destroy as at start).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>

#include "target/target.h"
#include "util/compiler.h"
#include "util/hist.h"
#include "util/log.h"
#include "util/tsc.h"
#include "vnvme/spec.h"

#ifndef VNVME_VERSION
#define VNVME_VERSION "unknown"
#endif

/* A namespace's model, as the object it was given as (canonical text). */
static void model_add(struct json_object *e, const char *model)
{
	struct json_object *m;

	if (model && (m = json_tokener_parse(model)))
		json_object_object_add(e, "model", m);
}

static void conf_free_paths(struct vnvme_dev_conf *c)
{
	for (unsigned n = 0; n < c->nr_ns; n++)
		vn_ns_conf_clear(&c->ns[n]);
}

int target_add_ctrl(struct target *t, const struct vnvme_dev_conf *conf, char *err, size_t errlen)
{
	struct target_ctrl *tc;
	int ret;

	if (t->nr_ctrls == VN_MAX_CTRLS) {
		snprintf(err, errlen, "%u controllers already, the most a target serves",
			 VN_MAX_CTRLS);
		return -ENOSPC;
	}
	if (t->next_index >= 0xffff) { /* CNTLID is index + 1, 16 bits, never reused */
		snprintf(err, errlen, "%s", "65535 controllers created: restart the target");
		return -ENOSPC;
	}
	if (t->nr_ctrls == t->cap_ctrls) {
		unsigned cap = t->cap_ctrls ? t->cap_ctrls * 2 : 8;
		struct target_ctrl *p = realloc(t->ctrls, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->ctrls = p;
		t->cap_ctrls = cap;
	}
	tc = &t->ctrls[t->nr_ctrls];
	memset(tc, 0, sizeof(*tc));
	tc->conf = *conf;
	for (unsigned n = 0; n < conf->nr_ns; n++) {
		tc->conf.ns[n].be.path = NULL;
		tc->conf.ns[n].model = NULL;
	}
	for (unsigned n = 0; n < conf->nr_ns; n++) {
		tc->conf.ns[n].be.path = conf->ns[n].be.path;
		tc->conf.ns[n].model = conf->ns[n].model;
		if (vn_ns_conf_dup_strings(&tc->conf.ns[n])) {
			conf_free_paths(&tc->conf);
			return -ENOMEM;
		}
	}
	tc->index = t->next_index;
	tc->conf.first_poller = tc->index % t->nr_pollers;
	err[0] = '\0';
	ret = vnvme_dev_create(&tc->conf, tc->index, t->loop, &t->qsbr, t->pollers, t->nr_pollers,
			       &tc->dev, err, errlen);
	if (ret) {
		conf_free_paths(&tc->conf);
		return ret;
	}
	t->next_index++;
	t->nr_ctrls++;
	return 0;
}

void target_del_ctrl(struct target *t, unsigned i)
{
	struct target_ctrl *tc = &t->ctrls[i];

	vnvme_dev_destroy(tc->dev);
	conf_free_paths(&tc->conf);
	memmove(tc, tc + 1, (t->nr_ctrls - i - 1) * sizeof(*tc));
	t->nr_ctrls--;
}

void target_del_all(struct target *t)
{
	while (t->nr_ctrls)
		target_del_ctrl(t, t->nr_ctrls - 1);
	free(t->ctrls);
	t->ctrls = NULL;
	t->cap_ctrls = 0;
}

/* ---- parameters ---- */

#define INVALID VN_RPC_INVALID_PARAMS

static int perr(char *err, size_t len, const char *fmt, ...) VN_PRINTF(3, 4);

static int perr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return INVALID;
}

/* Refuse keys a method does not take: a typo should not pass for a default. */
static int only_keys(struct json_object *p, const char *const *keys, char *err, size_t len)
{
	char list[160];
	const char *key = p ? vn_conf_unknown_key(p, keys, list, sizeof(list)) : NULL;

	return key ? perr(err, len, "unknown parameter \"%.64s\": this method takes %s", key,
			  keys[0] ? list : "none")
		   : 0;
}

static int opt_str(struct json_object *p, const char *key, const char **out, char *err, size_t len)
{
	struct json_object *v;

	*out = NULL;
	if (!p || !json_object_object_get_ex(p, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
		return perr(err, len, "\"%s\" must be a non-empty string", key);
	*out = json_object_get_string(v);
	return 0;
}

/* The controller named by "socket" or "name"; -1 with a message if none. */
static int find_ctrl(struct target *t, struct json_object *p, char *err, size_t len)
{
	const char *sock, *name;
	int ret;

	if ((ret = opt_str(p, "socket", &sock, err, len)) ||
	    (ret = opt_str(p, "name", &name, err, len)))
		return -1;
	if (!sock && !name) {
		perr(err, len, "%s",
		     "give the controller: \"socket\": \"/path\" or \"name\": \"nvme0\"");
		return -1;
	}
	for (unsigned i = 0; i < t->nr_ctrls; i++) {
		char n[32];
		snprintf(n, sizeof(n), "nvme%u", t->ctrls[i].index);
		if ((!sock || !strcmp(sock, t->ctrls[i].conf.socket)) &&
		    (!name || !strcmp(name, n)))
			return (int)i;
	}
	perr(err, len, "no controller%s%s%s%s (list_controllers shows them)", sock ? " on " : "",
	     sock ? sock : "", name ? " named " : "", name ? name : "");
	return -1;
}

/* Params of the methods that take every controller or one: none, or
 * "socket" / "name". *one is its index, or -1 for all. */
static int all_or_one(struct target *t, struct json_object *p, int *one, char *err, size_t len)
{
	static const char *const keys[] = {"socket", "name", NULL};
	int ret;

	*one = -1;
	if ((ret = only_keys(p, keys, err, len)))
		return ret;
	if (p && json_object_object_length(p) && (*one = find_ctrl(t, p, err, len)) < 0)
		return INVALID;
	return 0;
}

/* ---- methods ---- */

static const struct vn_rpc_method methods[];

static int m_get_version(void *ctx, struct json_object *p, struct json_object **res, char *err,
			 size_t len)
{
	static const char *const none[] = {NULL};
	static const char *const caps[] = {
	    "null", "ram", "file", "multi-namespace", "sgl", "shadow-doorbells", NULL};
	int ret;

	if ((ret = only_keys(p, none, err, len)))
		return ret;
	struct json_object *r = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(r, "version", json_object_new_string(VNVME_VERSION));
	for (unsigned i = 0; caps[i]; i++)
		json_object_array_add(a, json_object_new_string(caps[i]));
	json_object_object_add(r, "capabilities", a);
	a = json_object_new_array();
	for (const struct vn_rpc_method *m = methods; m->name; m++)
		json_object_array_add(a, json_object_new_string(m->name));
	json_object_object_add(r, "methods", a);
	*res = r;
	return 0;
}

static const char *be_name(enum vn_be_type type)
{
	return type == VN_BE_NULL ? "null" : type == VN_BE_FILE ? "file" : "ram";
}

static uint64_t ns_size(const struct vnvme_ns_conf *ns)
{
	struct stat st;

	if (ns->be.size || !ns->be.path || stat(ns->be.path, &st))
		return ns->be.size;
	return (uint64_t)st.st_size;
}

static struct json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static int m_list_controllers(void *ctx, struct json_object *p, struct json_object **res, char *err,
			      size_t len)
{
	static const char *const none[] = {NULL};
	struct target *t = ctx;
	int ret;

	if ((ret = only_keys(p, none, err, len)))
		return ret;
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; i < t->nr_ctrls; i++) {
		struct target_ctrl *tc = &t->ctrls[i];
		struct nvme_ctrl_stats st;
		struct json_object *o = json_object_new_object(), *ns = json_object_new_array();
		char name[32];

		nvme_ctrl_get_stats(vnvme_dev_ctrl(tc->dev), &st);
		snprintf(name, sizeof(name), "nvme%u", tc->index);
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "cntlid", json_object_new_int((int)tc->index + 1));
		json_object_object_add(o, "socket", json_object_new_string(tc->conf.socket));
		json_object_object_add(o, "connected",
				       json_object_new_boolean(vnvme_dev_connected(tc->dev)));
		json_object_object_add(o, "csts", json_object_new_int64(st.csts));
		json_object_object_add(o, "ready", json_object_new_boolean(st.csts & 1));
		json_object_object_add(o, "queues", json_object_new_int64(tc->conf.queues));
		json_object_object_add(o, "qdepth", json_object_new_int64(tc->conf.qdepth));
		json_object_object_add(o, "trace", json_object_new_boolean(tc->conf.trace));
		json_object_object_add(o, "sanitize", json_object_new_boolean(tc->conf.sanitize));
		json_object_object_add(o, "io_sqs", json_object_new_int64(st.nr_io_sq));
		json_object_object_add(o, "io_cqs", json_object_new_int64(st.nr_io_cq));
		const struct vnvme_dev_conf *live = vnvme_dev_conf(tc->dev);
		for (unsigned n = 0; n < live->nr_ns; n++) {
			const struct vnvme_ns_conf *c = &live->ns[n];
			struct json_object *e = json_object_new_object();
			json_object_object_add(
			    e, "nsid", json_object_new_int((int)(c->nsid ? c->nsid : n + 1)));
			json_object_object_add(e, "backend",
					       json_object_new_string(be_name(c->be.type)));
			json_object_object_add(e, "size", json_u64(ns_size(c)));
			json_object_object_add(e, "lba", json_object_new_int64(c->lba_size));
			if (c->be.path)
				json_object_object_add(e, "path",
						       json_object_new_string(c->be.path));
			model_add(e, c->model);
			json_object_array_add(ns, e);
		}
		json_object_object_add(o, "namespaces", ns);
		json_object_array_add(a, o);
	}
	*res = a;
	return 0;
}

static int m_create_controller(void *ctx, struct json_object *p, struct json_object **res,
			       char *err, size_t len)
{
	struct target *t = ctx;
	struct vnvme_dev_conf c;
	char name[32];
	int ret;

	if (!p)
		return perr(err, len, "%s",
			    "params: a controller object as in the JSON configuration, at least "
			    "{\"socket\": \"/path\"}");
	ret = vn_conf_parse_ctrl(p, &c, err, len);
	if (ret)
		return ret == -ENOMEM ? VN_RPC_INTERNAL_ERROR : INVALID;
	ret = vn_conf_check_ctrl(&c, err, len) ? INVALID : 0;
	for (unsigned i = 0; !ret && i < t->nr_ctrls; i++) {
		if (!strcmp(t->ctrls[i].conf.socket, c.socket))
			ret = perr(err, len, "%s is nvme%u's socket already: choose another path",
				   c.socket, t->ctrls[i].index);
		else if (c.serial[0] && !strcmp(t->ctrls[i].conf.serial, c.serial))
			ret = perr(err, len,
				   "serial \"%s\" is nvme%u's already (Linux rejects duplicates)",
				   c.serial, t->ctrls[i].index);
	}
	if (!ret) {
		unsigned index = t->next_index;
		ret = target_add_ctrl(t, &c, err, len);
		if (ret) {
			char e2[400];
			snprintf(e2, sizeof(e2), "%s", err);
			snprintf(err, len, "cannot create the controller: %s", e2);
			ret = ret == -ENOMEM ? VN_RPC_INTERNAL_ERROR : INVALID;
		} else {
			snprintf(name, sizeof(name), "nvme%u", index);
			vn_info("rpc: created %s on %s", name, c.socket);
			struct json_object *r = json_object_new_object();
			json_object_object_add(r, "name", json_object_new_string(name));
			json_object_object_add(r, "socket", json_object_new_string(c.socket));
			*res = r;
		}
	}
	conf_free_paths(&c);
	return ret;
}

static int m_delete_controller(void *ctx, struct json_object *p, struct json_object **res,
			       char *err, size_t len)
{
	static const char *const keys[] = {"socket", "name", NULL};
	struct target *t = ctx;
	int i, ret;

	if ((ret = only_keys(p, keys, err, len)))
		return ret;
	if ((i = find_ctrl(t, p, err, len)) < 0)
		return INVALID;
	vn_info("rpc: deleting nvme%u on %s%s", t->ctrls[i].index, t->ctrls[i].conf.socket,
		vnvme_dev_connected(t->ctrls[i].dev) ? " (its client is disconnected)" : "");
	target_del_ctrl(t, (unsigned)i);
	*res = json_object_new_boolean(1);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Service times (TSC ticks) as "service_ns": the count, mean, percentiles
 * and max in nanoseconds; with buckets, also the sum and every non-empty
 * bucket as [index, upper end in ns, count], so that a client can subtract
 * two snapshots (same index, counts subtracted) and take an interval's
 * percentiles: the upper end of the bucket where the running count first
 * reaches p % of the total, as here.
 */
/*
 * Per-queue buckets in one get_stats reply, at most: about 20 bytes each,
 * so that with the rest the reply stays well within what a client may
 * have queued (VN_RPC_DEFAULT_MAX_OUTPUT, 4 MiB). A queue's service times
 * fill a few hundred at most; the controllers' are not counted.
 */
#define SVC_QUEUE_BUCKETS_MAX 65536

/* svc_json's buckets: every non-empty one, or none with buckets_omitted
 * when more than *budget are left (NULL: no bound). */
static struct json_object *svc_json(const struct vn_hist *h, bool buckets, size_t *budget)
{
	static const struct {
		const char *key;
		double p;
	} pct[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}};
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "count", json_u64(h->count));
	json_object_object_add(o, "mean",
			       json_u64(vn_tsc_to_ns((uint64_t)(vn_hist_mean(h) + 0.5))));
	for (unsigned i = 0; i < VN_ARRAY_SIZE(pct); i++)
		json_object_object_add(o, pct[i].key,
				       json_u64(vn_tsc_to_ns(vn_hist_percentile(h, pct[i].p))));
	json_object_object_add(o, "max", json_u64(vn_tsc_to_ns(h->count ? h->max : 0)));
	if (!buckets)
		return o;
	json_object_object_add(o, "sum", json_u64(vn_tsc_to_ns(h->sum)));
	if (budget) {
		size_t n = 0;

		for (unsigned i = 0; i < VN_HIST_BUCKETS; i++)
			n += h->b[i] != 0;
		if (n > *budget) {
			json_object_object_add(o, "buckets_omitted", json_object_new_boolean(1));
			return o;
		}
		*budget -= n;
	}
	struct json_object *a = json_object_new_array();
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++) {
		uint64_t hi;

		if (!h->b[i])
			continue;
		hi = i + 1 < VN_HIST_BUCKETS ? vn_hist_bucket_low(i + 1) - 1 : h->max;
		struct json_object *b = json_object_new_array();
		json_object_array_add(b, json_object_new_int((int)i));
		json_object_array_add(b, json_u64(vn_tsc_to_ns(hi)));
		json_object_array_add(b, json_u64(h->b[i]));
		json_object_array_add(a, b);
	}
	json_object_object_add(o, "buckets", a);
	return o;
}

/*
 * The host-protocol sanitizer's counts, every kind by name, and the first
 * report of each kind seen (docs/sanitizer.md); NULL when the controller
 * does not sanitize.
 */
static struct json_object *sanitizer_json(struct nvme_ctrl *c, struct json_object **reports)
{
	struct nvme_san_stats *st = malloc(sizeof(*st));
	struct json_object *o;

	*reports = NULL;
	if (!st || nvme_ctrl_get_sanitizer(c, st)) {
		free(st);
		return NULL;
	}
	o = json_object_new_object();
	*reports = json_object_new_object();
	for (unsigned k = 0; k < NVME_SAN_KINDS; k++) {
		json_object_object_add(o, nvme_san_kind_name(k), json_u64(st->count[k]));
		if (st->first[k][0])
			json_object_object_add(*reports, nvme_san_kind_name(k),
					       json_object_new_string(st->first[k]));
	}
	free(st);
	return o;
}

/* Per queue (admin first): the counters since the last reset_stats, the
 * occupancy now, errors by status, service times. */
static struct json_object *queues_json(struct nvme_ctrl *c, bool buckets, size_t *budget)
{
	struct nvme_queue_stats *q = calloc(NVME_MAX_QUEUES + 1, sizeof(*q));
	struct json_object *a = json_object_new_array();
	int n = q ? nvme_ctrl_get_queue_stats(c, q, NVME_MAX_QUEUES + 1) : 0;

	for (int i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object(), *e = json_object_new_array();

		json_object_object_add(o, "qid", json_object_new_int(q[i].qid));
		json_object_object_add(o, "cqid", json_object_new_int(q[i].cqid));
		json_object_object_add(o, "poller", json_object_new_int((int)q[i].poller));
		json_object_object_add(o, "size", json_object_new_int64(q[i].size));
		json_object_object_add(o, "inflight", json_object_new_int64(q[i].inflight));
		json_object_object_add(o, "cmds", json_u64(q[i].cmds));
		json_object_object_add(o, "read_cmds", json_u64(q[i].read_cmds));
		json_object_object_add(o, "write_cmds", json_u64(q[i].write_cmds));
		json_object_object_add(o, "bytes_read", json_u64(q[i].bytes_read));
		json_object_object_add(o, "bytes_written", json_u64(q[i].bytes_written));
		json_object_object_add(o, "errors", json_u64(q[i].errors));
		for (unsigned k = 0; k < q[i].nr_err; k++) {
			struct json_object *x = json_object_new_object();
			char sf[8];

			snprintf(sf, sizeof(sf), "0x%03x", q[i].err[k].status);
			json_object_object_add(x, "status", json_object_new_string(sf));
			json_object_object_add(
			    x, "name",
			    json_object_new_string(vnvme_spec_status_name(q[i].err[k].status)));
			json_object_object_add(x, "count", json_u64(q[i].err[k].count));
			json_object_array_add(e, x);
		}
		json_object_object_add(o, "errors_by_status", e);
		json_object_object_add(o, "errors_other", json_u64(q[i].err_other));
		json_object_object_add(o, "irqs", json_u64(q[i].irqs));
		json_object_object_add(o, "polls", json_u64(q[i].polls));
		json_object_object_add(o, "busy_polls", json_u64(q[i].busy_polls));
		json_object_object_add(o, "service_ns", svc_json(&q[i].svc, buckets, budget));
		json_object_array_add(a, o);
	}
	free(q);
	return a;
}

static int m_get_stats(void *ctx, struct json_object *p, struct json_object **res, char *err,
		       size_t len)
{
	static const char *const keys[] = {"socket", "name", "histogram", NULL};
	struct target *t = ctx;
	struct json_object *v;
	bool buckets = false;
	size_t budget = SVC_QUEUE_BUCKETS_MAX;
	int one = -1, ret;

	if ((ret = only_keys(p, keys, err, len)))
		return ret;
	if (p && json_object_object_get_ex(p, "histogram", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return perr(err, len, "%s", "\"histogram\" must be true or false");
		buckets = json_object_get_boolean(v);
	}
	if (p &&
	    (json_object_object_get_ex(p, "socket", NULL) ||
	     json_object_object_get_ex(p, "name", NULL)) &&
	    (one = find_ctrl(t, p, err, len)) < 0)
		return INVALID;
	struct json_object *r = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(r, "time_ns", json_u64(now_ns()));
	for (unsigned i = 0; i < t->nr_ctrls; i++) {
		struct target_ctrl *tc = &t->ctrls[i];
		struct nvme_ctrl_stats st;
		char name[32];

		if (one >= 0 && (unsigned)one != i)
			continue;
		nvme_ctrl_get_stats(vnvme_dev_ctrl(tc->dev), &st);
		struct json_object *o = json_object_new_object();
		snprintf(name, sizeof(name), "nvme%u", tc->index);
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "socket", json_object_new_string(tc->conf.socket));
		json_object_object_add(o, "admin_cmds", json_u64(st.admin_cmds));
		json_object_object_add(o, "io_cmds", json_u64(st.io_cmds));
		json_object_object_add(o, "io_errors", json_u64(st.io_errors));
		json_object_object_add(o, "bytes_read", json_u64(st.bytes_read));
		json_object_object_add(o, "bytes_written", json_u64(st.bytes_written));
		json_object_object_add(o, "irqs", json_u64(st.irqs));
		json_object_object_add(o, "service_ns", svc_json(&st.svc, buckets, NULL));
		json_object_object_add(o, "queues",
				       queues_json(vnvme_dev_ctrl(tc->dev), buckets, &budget));
		struct json_object *rep, *san = sanitizer_json(vnvme_dev_ctrl(tc->dev), &rep);
		if (san) {
			json_object_object_add(o, "sanitizer", san);
			json_object_object_add(o, "sanitizer_reports", rep);
		}
		json_object_array_add(a, o);
	}
	json_object_object_add(r, "controllers", a);
	a = json_object_new_array();
	for (unsigned i = 0; i < t->nr_pollers; i++) {
		struct vn_poller_stats st;
		struct json_object *o = json_object_new_object();

		vn_poller_get_stats(t->pollers[i], &st);
		json_object_object_add(o, "name",
				       json_object_new_string(vn_poller_name(t->pollers[i])));
		json_object_object_add(o, "cpu", json_object_new_int(vn_poller_cpu(t->pollers[i])));
		json_object_object_add(o, "rounds", json_u64(st.rounds));
		json_object_object_add(o, "busy_rounds", json_u64(st.busy_rounds));
		json_object_object_add(o, "busy_ns", json_u64(st.busy_ns));
		json_object_object_add(o, "idle_ns", json_u64(st.idle_ns));
		json_object_object_add(o, "sleeps", json_u64(st.sleeps));
		json_object_array_add(a, o);
	}
	json_object_object_add(r, "pollers", a);
	*res = r;
	return 0;
}

static struct json_object *conf_json(struct target *t)
{
	struct json_object *r = json_object_new_object(), *a = json_object_new_array();

	if (t->rpc_path[0])
		json_object_object_add(r, "rpc", json_object_new_string(t->rpc_path));
	for (unsigned i = 0; i < t->nr_pollers; i++)
		json_object_array_add(a, json_object_new_int(t->cpus[i]));
	json_object_object_add(r, "cpus", a);
	a = json_object_new_array();
	for (unsigned i = 0; i < t->nr_ctrls; i++) {
		const struct vnvme_dev_conf *c = &t->ctrls[i].conf;
		struct json_object *o = json_object_new_object(), *ns = json_object_new_array();

		json_object_object_add(o, "socket", json_object_new_string(c->socket));
		json_object_object_add(o, "queues", json_object_new_int64(c->queues));
		json_object_object_add(o, "qdepth", json_object_new_int64(c->qdepth));
		if (c->serial[0])
			json_object_object_add(o, "serial", json_object_new_string(c->serial));
		if (c->vendor) {
			char id[16];
			snprintf(id, sizeof(id), "%04x:%04x", c->vendor, c->device);
			json_object_object_add(o, "pci_id", json_object_new_string(id));
		}
		if (c->max_dma_bytes)
			json_object_object_add(o, "max_dma_bytes", json_u64(c->max_dma_bytes));
		if (c->trace)
			json_object_object_add(o, "trace", json_object_new_boolean(1));
		if (c->sanitize)
			json_object_object_add(o, "sanitize", json_object_new_boolean(1));
		const struct vnvme_dev_conf *live = vnvme_dev_conf(t->ctrls[i].dev);
		for (unsigned n = 0; n < live->nr_ns; n++) {
			const struct vnvme_ns_conf *nc = &live->ns[n];
			struct json_object *e = json_object_new_object();
			json_object_object_add(
			    e, "nsid", json_object_new_int((int)(nc->nsid ? nc->nsid : n + 1)));
			json_object_object_add(e, "backend",
					       json_object_new_string(be_name(nc->be.type)));
			if (nc->be.size)
				json_object_object_add(e, "size", json_u64(nc->be.size));
			json_object_object_add(e, "lba", json_object_new_int64(nc->lba_size));
			if (nc->be.path)
				json_object_object_add(e, "path",
						       json_object_new_string(nc->be.path));
			if (nc->be.hugepages || nc->be.no_hugepages)
				json_object_object_add(e, "hugepages",
						       json_object_new_boolean(nc->be.hugepages));
			if (nc->be.direct)
				json_object_object_add(e, "direct", json_object_new_boolean(1));
			model_add(e, nc->model);
			json_object_array_add(ns, e);
		}
		json_object_object_add(o, "namespaces", ns);
		json_object_array_add(a, o);
	}
	json_object_object_add(r, "controllers", a);
	return r;
}

static int m_save_config(void *ctx, struct json_object *p, struct json_object **res, char *err,
			 size_t len)
{
	static const char *const keys[] = {"path", NULL};
	struct target *t = ctx;
	const char *path;
	int ret;

	if ((ret = only_keys(p, keys, err, len)) || (ret = opt_str(p, "path", &path, err, len)))
		return ret;
	if (!t->nr_ctrls)
		return perr(err, len, "%s",
			    "no controller to save: a configuration needs one at least");
	struct json_object *r = conf_json(t);
	if (path && json_object_to_file_ext(
			path, r, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) {
		snprintf(err, len, "cannot write %s: %s", path, strerror(errno));
		json_object_put(r);
		return INVALID;
	}
	*res = r;
	return 0;
}

static int m_reset_stats(void *ctx, struct json_object *p, struct json_object **res, char *err,
			 size_t len)
{
	struct target *t = ctx;
	int one, ret;

	if ((ret = all_or_one(t, p, &one, err, len)))
		return ret;
	for (unsigned i = 0; i < t->nr_ctrls; i++)
		if (one < 0 || (unsigned)one == i)
			nvme_ctrl_reset_stats(vnvme_dev_ctrl(t->ctrls[i].dev));
	*res = json_object_new_boolean(1);
	return 0;
}

static int m_add_namespace(void *ctx, struct json_object *p, struct json_object **res, char *err,
			   size_t len)
{
	static const char *const keys[] = {"socket", "name", "namespace", NULL};
	struct target *t = ctx;
	struct json_object *o;
	struct vnvme_ns_conf ns;
	char where[48];
	uint32_t nsid = 0;
	int i, ret;

	if ((ret = only_keys(p, keys, err, len)))
		return ret;
	if ((i = find_ctrl(t, p, err, len)) < 0)
		return INVALID;
	if (!json_object_object_get_ex(p, "namespace", &o))
		return perr(err, len, "%s",
			    "\"namespace\": a namespace object as in the configuration, e.g. "
			    "{\"backend\": \"ram\", \"size\": \"64M\"}");
	ret = vn_conf_parse_ns(o, &ns, err, len);
	if (ret)
		return ret == -ENOMEM ? VN_RPC_INTERNAL_ERROR : INVALID;
	/* The configuration's checks of a namespace (sizes, LBA, path). */
	snprintf(where, sizeof(where), "nvme%u's new namespace", t->ctrls[i].index);
	ret = vn_conf_check_ns(&ns, where, err, len) ? INVALID : 0;
	if (!ret) {
		char e[400];

		ret = vnvme_dev_ns_add(t->ctrls[i].dev, &ns, ns.nsid, &nsid, e, sizeof(e));
		if (ret) {
			snprintf(err, len, "cannot add the namespace to nvme%u: %s",
				 t->ctrls[i].index, e);
			ret = ret == -ENOMEM ? VN_RPC_INTERNAL_ERROR : INVALID;
		}
	}
	vn_ns_conf_clear(&ns);
	if (ret)
		return ret;
	vn_info("rpc: nvme%u: namespace %u added", t->ctrls[i].index, nsid);
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "nsid", json_object_new_int((int)nsid));
	*res = r;
	return 0;
}

static int m_remove_namespace(void *ctx, struct json_object *p, struct json_object **res, char *err,
			      size_t len)
{
	static const char *const keys[] = {"socket", "name", "nsid", NULL};
	struct target *t = ctx;
	struct json_object *v;
	int i, ret;
	int64_t nsid;
	char e[400];

	if ((ret = only_keys(p, keys, err, len)))
		return ret;
	if ((i = find_ctrl(t, p, err, len)) < 0)
		return INVALID;
	if (!json_object_object_get_ex(p, "nsid", &v) || !json_object_is_type(v, json_type_int) ||
	    (nsid = json_object_get_int64(v)) < 1 || nsid > NVME_MAX_NS)
		return perr(err, len,
			    "\"nsid\": the namespace to remove, 1..%u (list_controllers "
			    "shows them)",
			    NVME_MAX_NS);
	ret = vnvme_dev_ns_remove(t->ctrls[i].dev, (uint32_t)nsid, e, sizeof(e));
	if (ret) {
		snprintf(err, len, "cannot remove namespace %u of nvme%u: %s", (unsigned)nsid,
			 t->ctrls[i].index, e);
		return ret == -ENOMEM ? VN_RPC_INTERNAL_ERROR : INVALID;
	}
	vn_info("rpc: nvme%u: namespace %u removed", t->ctrls[i].index, (unsigned)nsid);
	*res = json_object_new_boolean(1);
	return 0;
}

static int m_shutdown(void *ctx, struct json_object *p, struct json_object **res, char *err,
		      size_t len)
{
	static const char *const none[] = {NULL};
	struct target *t = ctx;
	int ret;

	if ((ret = only_keys(p, none, err, len)))
		return ret;
	vn_info("rpc: shutdown asked for");
	vn_evloop_stop(t->loop);
	*res = json_object_new_boolean(1);
	return 0;
}

static const struct vn_rpc_method methods[] = {
    {"get_version", m_get_version},
    {"list_controllers", m_list_controllers},
    {"create_controller", m_create_controller},
    {"delete_controller", m_delete_controller},
    {"get_stats", m_get_stats},
    {"reset_stats", m_reset_stats},
    {"add_namespace", m_add_namespace},
    {"remove_namespace", m_remove_namespace},
    {"save_config", m_save_config},
    {"shutdown", m_shutdown},
    {NULL, NULL},
};

int target_rpc_start(struct target *t, const char *path, char *err, size_t errlen)
{
	struct vn_rpc_opts o = {.path = path, .loop = t->loop, .methods = methods, .ctx = t};
	int ret = vn_rpc_server_create(&o, &t->rpc);

	if (!ret)
		snprintf(t->rpc_path, sizeof(t->rpc_path), "%s", path);
	if (ret)
		snprintf(err, errlen, "--rpc %s: %s%s", path, strerror(-ret),
			 ret == -EADDRINUSE
			     ? " (a live target serves it; stop it or choose another "
			       "path)"
			 : ret == -EEXIST ? " (a file that is not a socket is in the way)"
					  : "");
	return ret;
}

void target_rpc_stop(struct target *t)
{
	vn_rpc_server_destroy(t->rpc);
	t->rpc = NULL;
}
