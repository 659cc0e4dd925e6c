/* SPDX-License-Identifier: MIT */
/* A namespace's "model" object (docs/models.md) into nvme/model.h's
 * struct nvme_model_conf, every field checked. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "nvme/model.h"
#include "target/config.h"
#include "vnvme/spec.h"

static int perr(char *err, size_t len, const char *fmt, ...) VN_PRINTF(3, 4);

static int perr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int keys_only(struct json_object *o, const char *const *known, const char *where, char *err,
		     size_t len)
{
	char list[256];
	const char *key = vn_conf_unknown_key(o, known, list, sizeof(list));

	return key ? perr(err, len, "model: unknown key \"%s\" in %s: the keys are %s", key, where,
			  list)
		   : 0;
}

/* A number (integer or not) member; *set tells whether it was there. */
static int get_num(struct json_object *o, const char *key, const char *where, double *out,
		   bool *set, char *err, size_t len)
{
	struct json_object *v;

	if (set)
		*set = false;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return perr(err, len, "model: %s \"%s\" must be a number", where, key);
	*out = json_object_get_double(v);
	if (!isfinite(*out))
		return perr(err, len, "model: %s \"%s\" must be a finite number", where, key);
	if (set)
		*set = true;
	return 0;
}

/* A non-negative integer member. */
static int get_uint(struct json_object *o, const char *key, const char *where, uint64_t max,
		    uint64_t *out, char *err, size_t len)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return perr(err, len, "model: %s \"%s\" must be an integer", where, key);
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max)
		return perr(err, len, "model: %s \"%s\" must be 0..%llu, not %lld", where, key,
			    (unsigned long long)max, (long long)x);
	*out = (uint64_t)x;
	return 0;
}

static const struct {
	const char *name;
	enum nvme_dist dist;
	const char *p1, *p2; /* its parameters' keys */
} dists[] = {
    {"fixed", NVME_DIST_FIXED, NULL, NULL},
    {"uniform", NVME_DIST_UNIFORM, "min_us", "max_us"},
    {"normal", NVME_DIST_NORMAL, "mean_us", "stddev_us"},
    {"lognormal", NVME_DIST_LOGNORMAL, "median_us", "sigma"},
    {"empirical", NVME_DIST_EMPIRICAL, NULL, NULL},
};

static int parse_lat(struct json_object *o, const char *cl, struct nvme_lat *l, char *err,
		     size_t len)
{
	static const char *const keys[] = {"dist",      "fixed_us",  "min_us", "max_us", "mean_us",
					   "stddev_us", "median_us", "sigma",  "file",   NULL};
	struct json_object *v;
	unsigned d = 0;
	bool set;
	int ret;

	if (!json_object_is_type(o, json_type_object))
		return perr(err, len, "model: \"%s\" must be an object such as {\"fixed_us\": 80}",
			    cl);
	if ((ret = keys_only(o, keys, cl, err, len)))
		return ret;
	if ((ret = get_num(o, "fixed_us", cl, &l->fixed_us, NULL, err, len)))
		return ret;
	if (json_object_object_get_ex(o, "dist", &v)) {
		const char *name =
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		for (d = 0; d < VN_ARRAY_SIZE(dists) && strcmp(dists[d].name, name); d++)
			;
		if (d == VN_ARRAY_SIZE(dists))
			return perr(err, len,
				    "model: %s \"dist\" must be fixed, uniform, normal, lognormal "
				    "or empirical",
				    cl);
		l->dist = dists[d].dist;
	} else {
		l->dist = NVME_DIST_NONE;
	}
	/* Each parameter belongs to one distribution: any other is a mistake. */
	for (unsigned k = 0; k < VN_ARRAY_SIZE(dists); k++) {
		const char *p[2] = {dists[k].p1, dists[k].p2};
		for (unsigned i = 0; i < 2; i++) {
			if (!p[i])
				continue;
			if (l->dist != NVME_DIST_NONE && k == d) {
				double *dst = i ? &l->p2 : &l->p1;
				if ((ret = get_num(o, p[i], cl, dst, &set, err, len)))
					return ret;
				if (!set)
					return perr(err, len, "model: %s: %s needs \"%s\"", cl,
						    dists[k].name, p[i]);
			} else if (json_object_object_get_ex(o, p[i], NULL)) {
				return perr(err, len,
					    "model: %s \"%s\" belongs to \"dist\": \"%s\"", cl,
					    p[i], dists[k].name);
			}
		}
	}
	if (json_object_object_get_ex(o, "file", &v)) {
		if (l->dist != NVME_DIST_EMPIRICAL)
			return perr(err, len,
				    "model: %s \"file\" belongs to \"dist\": \"empirical\"", cl);
		if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
			return perr(err, len, "model: %s \"file\" must be a path", cl);
		if ((ret = nvme_lat_load(l, json_object_get_string(v), err, len)))
			return ret == -ENOMEM ? ret : -EINVAL;
		if (!(l->file = strdup(json_object_get_string(v))))
			return -ENOMEM;
	} else if (l->dist == NVME_DIST_EMPIRICAL) {
		return perr(err, len, "model: %s: empirical needs \"file\"", cl);
	}
	return 0;
}

static const struct {
	const char *name;
	uint8_t opc;
} opcodes[] = {
    {"flush", VNVME_NVM_FLUSH},
    {"write", VNVME_NVM_WRITE},
    {"read", VNVME_NVM_READ},
    {"compare", VNVME_NVM_COMPARE},
    {"write_zeroes", VNVME_NVM_WRITE_ZEROES},
    {"dsm", VNVME_NVM_DSM},
};

/* [a, b] of two non-negative integers. */
static int get_pair(struct json_object *o, const char *key, const char *where, uint64_t *a,
		    uint64_t *b, bool *set, char *err, size_t len)
{
	struct json_object *v, *x, *y;

	*set = false;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2 ||
	    !json_object_is_type(x = json_object_array_get_idx(v, 0), json_type_int) ||
	    !json_object_is_type(y = json_object_array_get_idx(v, 1), json_type_int) ||
	    json_object_get_int64(x) < 0 || json_object_get_int64(y) < 0)
		return perr(err, len, "model: %s \"%s\" must be [from, to], integers >= 0", where,
			    key);
	*a = (uint64_t)json_object_get_int64(x);
	*b = (uint64_t)json_object_get_int64(y);
	*set = true;
	return 0;
}

static int parse_rule(struct json_object *o, const char *where, struct nvme_err_rule *r, char *err,
		      size_t len)
{
	static const char *const keys[] = {"status", "rate",      "opcodes", "lba",
					   "after",  "window_ms", NULL};
	struct json_object *v;
	bool set;
	int ret;

	if (!json_object_is_type(o, json_type_object))
		return perr(err, len, "model: %s must be an object", where);
	if ((ret = keys_only(o, keys, where, err, len)))
		return ret;
	if (!json_object_object_get_ex(o, "status", &v))
		return perr(err, len, "model: %s needs \"status\", e.g. \"media:0x81\"", where);
	if (json_object_is_type(v, json_type_int)) {
		int64_t s = json_object_get_int64(v);
		if (s <= 0 || s > 0x7ff)
			return perr(err, len,
				    "model: %s \"status\" %lld: SCT << 8 | SC, 0x001..0x7ff", where,
				    (long long)s);
		r->status = (uint16_t)s;
	} else if (!json_object_is_type(v, json_type_string) ||
		   nvme_model_status_parse(json_object_get_string(v), &r->status)) {
		return perr(err, len,
			    "model: %s \"status\" %s: use \"media:0x81\", \"generic:0x06\" "
			    "(generic, command, media, path, vendor or a number : SC), 0x281, or "
			    "a status name such as \"Unrecovered Read Error\"",
			    where, json_object_to_json_string(v));
	}
	r->rate = 1.0;
	if ((ret = get_num(o, "rate", where, &r->rate, NULL, err, len)))
		return ret;
	if (r->rate < 0 || r->rate > 1)
		return perr(err, len, "model: %s \"rate\" must be 0..1, not %g", where, r->rate);
	if (json_object_object_get_ex(o, "opcodes", &v)) {
		size_t n;
		if (!json_object_is_type(v, json_type_array) || !(n = json_object_array_length(v)))
			return perr(err, len, "model: %s \"opcodes\" must be a non-empty array",
				    where);
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			int64_t opc = -1;

			if (json_object_is_type(e, json_type_int)) {
				opc = json_object_get_int64(e);
			} else if (json_object_is_type(e, json_type_string)) {
				for (unsigned k = 0; k < VN_ARRAY_SIZE(opcodes); k++)
					if (!strcmp(opcodes[k].name, json_object_get_string(e)))
						opc = opcodes[k].opc;
			}
			if (opc < 0 || opc > 63)
				return perr(err, len,
					    "model: %s opcode %s: use read, write, flush, compare, "
					    "write_zeroes, dsm or a number 0..63",
					    where, json_object_to_json_string(e));
			r->opc_mask |= 1ull << opc;
		}
	}
	if ((ret = get_pair(o, "lba", where, &r->lba_lo, &r->lba_hi, &r->lba_set, err, len)) ||
	    (ret = get_pair(o, "window_ms", where, &r->win_lo, &r->win_hi, &set, err, len)) ||
	    (ret = get_uint(o, "after", where, UINT64_MAX >> 1, &r->after, err, len)))
		return ret;
	r->win_set = set;
	return 0;
}

int vn_model_parse(struct json_object *o, struct nvme_model_conf *c, char *err, size_t len)
{
	static const char *const keys[] = {"seed",      "read",  "write",  "flush", "iops",
					   "bandwidth", "qd_ns", "errors", NULL};
	static const char *const cls[NVME_MODEL_NCLASS] = {"read", "write", "flush"};
	struct json_object *v;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!json_object_is_type(o, json_type_object)) {
		ret = perr(err, len, "%s", "\"model\" must be an object (docs/models.md)");
		goto fail;
	}
	if ((ret = keys_only(o, keys, "the model", err, len)) ||
	    (ret = get_uint(o, "seed", "the model's", UINT64_MAX >> 1, &c->seed, err, len)) ||
	    (ret = get_uint(o, "iops", "the model's", NVME_MODEL_MAX_IOPS, &c->iops, err, len)) ||
	    (ret = get_uint(o, "qd_ns", "the model's", 10000000000ull, &c->qd_ns, err, len)))
		goto fail;
	if (json_object_object_get_ex(o, "bandwidth", &v)) {
		if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
			c->bw = (uint64_t)json_object_get_int64(v);
		} else if (!json_object_is_type(v, json_type_string) ||
			   vn_parse_size(json_object_get_string(v), &c->bw)) {
			ret = perr(err, len, "%s",
				   "model: \"bandwidth\" must be bytes per second: 400000000 or "
				   "\"400M\"");
			goto fail;
		}
	}
	for (unsigned k = 0; k < NVME_MODEL_NCLASS; k++)
		if (json_object_object_get_ex(o, cls[k], &v) &&
		    (ret = parse_lat(v, cls[k], &c->lat[k], err, len)))
			goto fail;
	if (json_object_object_get_ex(o, "errors", &v)) {
		size_t n;
		if (!json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(v)) > NVME_MODEL_MAX_RULES) {
			ret =
			    perr(err, len, "model: \"errors\" must be an array of %u rules at most",
				 NVME_MODEL_MAX_RULES);
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			char where[32];
			snprintf(where, sizeof(where), "errors[%zu]", i);
			if ((ret = parse_rule(json_object_array_get_idx(v, i), where, &c->rules[i],
					      err, len)))
				goto fail;
			c->nrules++;
		}
	}
	if ((ret = nvme_model_conf_check(c, err, len))) {
		/* Its sentences name the field but not the model. */
		char msg[200];
		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, len, "model: %s", msg);
		goto fail;
	}
	return 0;
fail:
	nvme_model_conf_free(c);
	return ret;
}

/* Text (JSON, or @FILE) into an object. */
static struct json_object *model_json(const char *text, char *err, size_t len)
{
	struct json_object *o;
	enum json_tokener_error je;

	if (text[0] == '@') {
		FILE *f = fopen(text + 1, "re");
		char *buf;
		size_t n;

		if (!f) {
			perr(err, len, "model file %s: %s", text + 1, strerror(errno));
			return NULL;
		}
		buf = malloc(1u << 20);
		n = buf ? fread(buf, 1, (1u << 20) - 1, f) : 0;
		fclose(f);
		if (!buf) {
			perr(err, len, "%s", "model: out of memory");
			return NULL;
		}
		buf[n] = '\0';
		o = json_tokener_parse_verbose(buf, &je);
		free(buf);
	} else {
		o = json_tokener_parse_verbose(text, &je);
	}
	if (!o)
		perr(err, len, "model: not JSON: %s", json_tokener_error_desc(je));
	return o;
}

int vn_model_parse_text(const char *text, struct nvme_model_conf *c, char *err, size_t len)
{
	struct json_object *o = model_json(text, err, len);
	int ret;

	memset(c, 0, sizeof(*c));
	if (!o)
		return -EINVAL;
	ret = vn_model_parse(o, c, err, len);
	json_object_put(o);
	return ret;
}

/*
 * Empirical files by absolute path in the canonical text: a configuration
 * saved from it (save_config) starts the same model from any directory.
 * The model parsed already, so each file exists.
 */
static int files_absolute(struct json_object *o)
{
	static const char *const cls[] = {"read", "write", "flush"};

	for (unsigned k = 0; k < VN_ARRAY_SIZE(cls); k++) {
		struct json_object *l, *f;
		char *abs;

		if (!json_object_object_get_ex(o, cls[k], &l) ||
		    !json_object_object_get_ex(l, "file", &f) ||
		    json_object_get_string(f)[0] == '/')
			continue;
		abs = realpath(json_object_get_string(f), NULL);
		if (!abs)
			return -errno;
		json_object_object_add(l, "file", json_object_new_string(abs));
		free(abs);
	}
	return 0;
}

int vn_model_canon(struct json_object *o, char **out, char *err, size_t len)
{
	struct nvme_model_conf c;
	int ret = vn_model_parse(o, &c, err, len);

	if (ret)
		return ret;
	nvme_model_conf_free(&c);
	if ((ret = files_absolute(o))) {
		snprintf(err, len, "model: an empirical file's absolute path: %s", strerror(-ret));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	*out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	return *out ? 0 : -ENOMEM;
}

int vn_model_canon_text(const char *text, char **out, char *err, size_t len)
{
	struct json_object *o = model_json(text, err, len);
	int ret;

	if (!o)
		return -EINVAL;
	ret = vn_model_canon(o, out, err, len);
	json_object_put(o);
	return ret;
}
