/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "target/config.h"
#include "util/compiler.h"

int vn_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end) {
		end++;
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int vn_parse_cpus(const char *s, int *cpus, unsigned max, unsigned *n)
{
	const char *p = s;

	*n = 0;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 0 || a > 4095)
			return -EINVAL;
		b = a;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || b < a || b > 4095)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++) {
			if (*n == max)
				return -E2BIG;
			cpus[(*n)++] = (int)c;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return *n ? 0 : -EINVAL;
}

void vn_dev_conf_defaults(struct vnvme_dev_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->queues = 8;
	c->qdepth = 1024;
	c->nr_ns = 1;
	c->ns[0].be.type = VN_BE_RAM;
	c->ns[0].be.size = 1ull << 30;
	c->ns[0].lba_size = 512;
}

#include <stdarg.h>

static int jerr(char *err, size_t len, const char *fmt, ...) VN_PRINTF(3, 4);

static int jerr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string member, or NULL with an error message if present and not a string. */
static int get_str(struct json_object *o, const char *key, const char **out, char *err, size_t len)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return jerr(err, len, "\"%s\" must be a string", key);
	*out = json_object_get_string(v);
	return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *out, char *err, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return jerr(err, len, "\"%s\" must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_u32(struct json_object *o, const char *key, uint32_t min, uint32_t max,
		   uint32_t *out, char *err, size_t len)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return jerr(err, len, "\"%s\" must be an integer", key);
	x = json_object_get_int64(v);
	if (x < min || x > max) {
		snprintf(err, len, "\"%s\" must be %u..%u, not %lld", key, min, max, (long long)x);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int get_size(struct json_object *o, const char *key, uint64_t *out, char *err, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
		*out = (uint64_t)json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string) &&
	    vn_parse_size(json_object_get_string(v), out) == 0)
		return 0;
	return jerr(err, len, "\"%s\" must be a size such as 4096, \"64M\" or \"1G\"", key);
}

const char *vn_conf_unknown_key(struct json_object *o, const char *const *known, char *list,
				size_t len)
{
	json_object_object_foreach(o, key, val)
	{
		const char *const *k = known;
		size_t at = 0;

		(void)val;
		while (*k && strcmp(key, *k))
			k++;
		if (*k)
			continue;
		if (len)
			list[0] = '\0';
		for (k = known; *k; k++)
			at += (size_t)snprintf(list + at, at < len ? len - at : 0, "%s%s",
					       k == known ? "" : ", ", *k);
		return key;
	}
	return NULL;
}

/*
 * A key we do not know is a typo more often than not ("qdeth"): refuse it
 * and name the keys that fit, rather than run with a default in its place.
 */
static int check_keys(struct json_object *o, const char *const *known, const char *where, char *err,
		      size_t len)
{
	char list[256];
	const char *key = vn_conf_unknown_key(o, known, list, sizeof(list));

	return key ? jerr(err, len, "unknown key \"%s\" in %s: the keys are %s", key, where, list)
		   : 0;
}

static int parse_ns(struct json_object *o, struct vnvme_ns_conf *ns, char *err, size_t len)
{
	const char *b, *path;
	int ret;

	static const char *const keys[] = {"backend",   "size",   "lba",   "path", "nsid",
					   "hugepages", "direct", "model", NULL};
	struct json_object *mo;
	char *model = NULL;

	if (!json_object_is_type(o, json_type_object))
		return jerr(err, len, "%s", "each namespace must be an object");
	if ((ret = check_keys(o, keys, "a namespace", err, len)))
		return ret;
	if ((ret = get_str(o, "backend", &b, err, len)))
		return ret;
	if (b) {
		if (!strcmp(b, "null"))
			ns->be.type = VN_BE_NULL;
		else if (!strcmp(b, "ram"))
			ns->be.type = VN_BE_RAM;
		else if (!strcmp(b, "file"))
			ns->be.type = VN_BE_FILE;
		else
			return jerr(err, len, "backend \"%s\": use null, ram or file", b);
	}
	/* A file without "size" keeps its own size, as on the command line. */
	if (ns->be.type == VN_BE_FILE)
		ns->be.size = 0;
	if ((ret = get_size(o, "size", &ns->be.size, err, len)))
		return ret;
	if ((ret = get_u32(o, "lba", 512, 4096, &ns->lba_size, err, len)) ||
	    (ret = get_u32(o, "nsid", 1, NVME_MAX_NS, &ns->nsid, err, len)))
		return ret;
	/* "hugepages": true requires them, false refuses them; left out,
	 * the ram backend takes them when enough are free. */
	bool huge = false, huge_set = json_object_object_get_ex(o, "hugepages", NULL);
	if ((ret = get_bool(o, "hugepages", &huge, err, len)) ||
	    (ret = get_bool(o, "direct", &ns->be.direct, err, len)))
		return ret;
	if (huge_set) {
		ns->be.hugepages = huge;
		ns->be.no_hugepages = !huge;
	}
	/* Last: the only allocations, so no earlier error leaks them. */
	if ((ret = get_str(o, "path", &path, err, len)))
		return ret;
	if (json_object_object_get_ex(o, "model", &mo) &&
	    (ret = vn_model_canon(mo, &model, err, len)))
		return ret;
	if (path && !(ns->be.path = strdup(path))) {
		free(model);
		return -ENOMEM;
	}
	ns->model = model;
	return 0;
}

void vn_ns_conf_clear(struct vnvme_ns_conf *ns)
{
	free((char *)ns->be.path);
	free((char *)ns->model);
	ns->be.path = NULL;
	ns->model = NULL;
}

int vn_ns_conf_dup_strings(struct vnvme_ns_conf *ns)
{
	const char *path = ns->be.path, *model = ns->model;

	ns->be.path = NULL;
	ns->model = NULL;
	if ((path && !(ns->be.path = strdup(path))) || (model && !(ns->model = strdup(model)))) {
		vn_ns_conf_clear(ns);
		return -ENOMEM;
	}
	return 0;
}

static int parse_ctrl(struct json_object *o, struct vnvme_dev_conf *c, uint32_t *count, char *err,
		      size_t len)
{
	struct json_object *v;
	int ret;

	vn_dev_conf_defaults(c);
	*count = 1;
	static const char *const keys[] = {
	    "socket",        "count",    "queues",     "qdepth", "serial", "pci_id",
	    "max_dma_bytes", "sanitize", "namespaces", "trace",  NULL};

	if (!json_object_is_type(o, json_type_object))
		return jerr(err, len, "%s", "each controller must be an object");
	if ((ret = check_keys(o, keys, "a controller", err, len)))
		return ret;
	const char *str;
	if ((ret = get_str(o, "socket", &str, err, len)))
		return ret;
	if (!str)
		return jerr(err, len, "%s", "each controller needs \"socket\": \"/path\"");
	if (strlen(str) >= sizeof(c->socket))
		return jerr(err, len, "socket path too long: %s", str);
	snprintf(c->socket, sizeof(c->socket), "%s", str);
	if ((ret = get_u32(o, "count", 1, VN_MAX_CTRLS, count, err, len)))
		return ret;
	if (*count > 1 && !strstr(c->socket, "%d"))
		return jerr(err, len, "\"count\" > 1 needs %%d in \"socket\" (%s)", c->socket);
	if ((ret = get_u32(o, "queues", 1, NVME_MAX_QUEUES, &c->queues, err, len)) ||
	    (ret = get_u32(o, "qdepth", 2, 65536, &c->qdepth, err, len)) ||
	    (ret = get_size(o, "max_dma_bytes", &c->max_dma_bytes, err, len)) ||
	    (ret = get_bool(o, "trace", &c->trace, err, len)) ||
	    (ret = get_bool(o, "sanitize", &c->sanitize, err, len)))
		return ret;
	if ((ret = get_str(o, "serial", &str, err, len)))
		return ret;
	if (str) {
		if (strlen(str) > 16)
			return jerr(err, len,
				    "serial \"%s\": 16 characters at most (a suffix "
				    "makes it unique per controller)",
				    str);
		snprintf(c->serial, sizeof(c->serial), "%s", str);
	}
	if ((ret = get_str(o, "pci_id", &str, err, len)))
		return ret;
	if (str) {
		unsigned vid, did;
		if (sscanf(str, "%x:%x", &vid, &did) != 2 || vid > 0xffff || did > 0xffff)
			return jerr(err, len, "pci_id \"%s\": use VVVV:DDDD in hex", str);
		c->vendor = (uint16_t)vid;
		c->device = (uint16_t)did;
	}
	if (json_object_object_get_ex(o, "namespaces", &v)) {
		size_t n;
		if (!json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(v)) < 1 || n > NVME_MAX_NS)
			return jerr(err, len, "%s",
				    "\"namespaces\" must be an array of 1..32 objects");
		c->nr_ns = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			c->ns[i] = (struct vnvme_ns_conf){
			    .be = {.type = VN_BE_RAM, .size = 1ull << 30}, .lba_size = 512};
			if ((ret =
				 parse_ns(json_object_array_get_idx(v, i), &c->ns[i], err, len))) {
				for (size_t k = 0; k < i; k++)
					vn_ns_conf_clear(&c->ns[k]);
				return ret;
			}
		}
	}
	return 0;
}

#define VN_CONF_MAX_BYTES (4u << 20)

/*
 * Parse the file at path, or say where it stops being JSON: "line 3,
 * column 17: unexpected character" (json-c's own message for a file names
 * the tokener's state, "continue", and no place).
 */
static struct json_object *parse_file(const char *path, char *err, size_t errlen)
{
	struct json_object *root = NULL;
	struct json_tokener *tok = NULL;
	enum json_tokener_error je;
	size_t len = 0, end;
	char *text = NULL;
	FILE *f = fopen(path, "re");
	unsigned line = 1, col = 1;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(VN_CONF_MAX_BYTES + 1);
	if (text)
		len = fread(text, 1, VN_CONF_MAX_BYTES + 1, f);
	if (!text || ferror(f) || len > VN_CONF_MAX_BYTES) {
		snprintf(err, errlen, "%s: %s", path,
			 !text                     ? strerror(ENOMEM)
			 : len > VN_CONF_MAX_BYTES ? "larger than 4 MiB: not a configuration"
						   : strerror(errno));
		goto out;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* Only white space may follow the value. */
	if (root && je == json_tokener_success) {
		while (end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (end == len)
			goto out;
	}
	for (size_t i = 0; i < end && i < len; i++, col++)
		if (text[i] == '\n')
			line++, col = 0;
	snprintf(err, errlen, "%s: line %u, column %u: %s", path, line, col,
		 je == json_tokener_continue  ? "the text ends inside a value (a missing ] or }?)"
		 : je == json_tokener_success ? "text after the configuration's closing }"
					      : json_tokener_error_desc(je));
	json_object_put(root);
	root = NULL;
out:
	if (tok)
		json_tokener_free(tok);
	free(text);
	fclose(f);
	return root;
}

int vn_conf_load_json(const char *path, struct vnvme_target_conf *out, char *err, size_t errlen)
{
	static const char *const top_keys[] = {"cpus", "controllers", "rpc", NULL};
	struct json_object *root, *v;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	root = parse_file(path, err, errlen);
	if (!root)
		return -EINVAL;
	if (!json_object_is_type(root, json_type_object)) {
		ret = jerr(err, errlen, "%s: the top level must be an object", path);
		goto out;
	}
	if ((ret = check_keys(root, top_keys, "the top level", err, errlen)))
		goto out;
	if (json_object_object_get_ex(root, "cpus", &v)) {
		if (json_object_is_type(v, json_type_string)) {
			if (vn_parse_cpus(json_object_get_string(v), out->cpus, VN_MAX_CPUS,
					  &out->nr_cpus)) {
				ret = jerr(err, errlen, "\"cpus\": bad CPU list \"%s\"",
					   json_object_get_string(v));
				goto out;
			}
		} else if (json_object_is_type(v, json_type_array)) {
			size_t n = json_object_array_length(v);
			if (n < 1 || n > VN_MAX_CPUS) {
				ret = jerr(err, errlen, "%s", "\"cpus\": 1..64 entries");
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				struct json_object *e = json_object_array_get_idx(v, i);
				if (!json_object_is_type(e, json_type_int) ||
				    json_object_get_int(e) < -1) {
					ret = jerr(err, errlen, "%s", "\"cpus\": integers >= -1");
					goto out;
				}
				out->cpus[out->nr_cpus++] = json_object_get_int(e);
			}
		} else {
			ret = jerr(err, errlen, "%s", "\"cpus\" must be \"0-1\" or [0, 1]");
			goto out;
		}
	}
	if (json_object_object_get_ex(root, "rpc", &v)) {
		if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v) ||
		    (size_t)json_object_get_string_len(v) >= sizeof(out->rpc)) {
			ret = jerr(err, errlen, "%s",
				   "\"rpc\" must be a socket path (107 bytes at most)");
			goto out;
		}
		snprintf(out->rpc, sizeof(out->rpc), "%s", json_object_get_string(v));
	}
	/* With a control socket, controllers may come later (create_controller). */
	if (out->rpc[0] && !json_object_object_get_ex(root, "controllers", &v))
		goto out;
	if (!json_object_object_get_ex(root, "controllers", &v) ||
	    !json_object_is_type(v, json_type_array) ||
	    (json_object_array_length(v) < 1 && !out->rpc[0])) {
		ret = jerr(err, errlen, "%s", "\"controllers\" must be a non-empty array");
		goto out;
	}
	out->ctrls = calloc(VN_MAX_CTRLS, sizeof(*out->ctrls));
	if (!out->ctrls) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct vnvme_dev_conf c;
		uint32_t count;

		ret = parse_ctrl(json_object_array_get_idx(v, i), &c, &count, err, errlen);
		if (ret)
			goto out;
		for (uint32_t k = 0; k < count; k++) {
			char sock[sizeof(c.socket) + 16];
			struct vnvme_dev_conf *d;

			if (count > 1) {
				/* Replace the one %d by hand: the path is no format. */
				const char *pct = strstr(c.socket, "%d");
				snprintf(sock, sizeof(sock), "%.*s%u%s", (int)(pct - c.socket),
					 c.socket, k, pct + 2);
			} else {
				memcpy(sock, c.socket, sizeof(c.socket));
			}
			if (out->nr_ctrls == VN_MAX_CTRLS || strlen(sock) >= sizeof(c.socket)) {
				if (out->nr_ctrls == VN_MAX_CTRLS)
					ret = jerr(err, errlen, "%s", "at most 256 controllers");
				else
					ret = jerr(err, errlen, "socket path too long: %s", sock);
				if (k == 0) /* c's strings are nobody's yet */
					for (uint32_t n = 0; n < c.nr_ns; n++)
						vn_ns_conf_clear(&c.ns[n]);
				goto out;
			}
			d = &out->ctrls[out->nr_ctrls++];
			*d = c;
			memcpy(d->socket, sock, strlen(sock) + 1);
			/* The first copy owns c's strings; the others get their own. */
			for (uint32_t n = 0; n < d->nr_ns; n++)
				if (k && vn_ns_conf_dup_strings(&d->ns[n]))
					ret = -ENOMEM;
			if (ret)
				goto out;
			/* One serial per controller: Linux rejects duplicates. */
			if (count > 1 && c.serial[0])
				snprintf(d->serial, sizeof(d->serial), "%.16s-%u", c.serial, k);
		}
	}
out:
	json_object_put(root);
	if (ret)
		vn_conf_free(out);
	return ret;
}

int vn_conf_parse_ctrl(struct json_object *o, struct vnvme_dev_conf *c, char *err, size_t errlen)
{
	uint32_t count;
	int ret = parse_ctrl(o, c, &count, err, errlen);

	if (!ret && count != 1) {
		for (uint32_t n = 0; n < c->nr_ns; n++)
			vn_ns_conf_clear(&c->ns[n]);
		return jerr(err, errlen, "%s",
			    "\"count\" must be 1 here: one controller at a time");
	}
	return ret;
}

int vn_conf_parse_ns(struct json_object *o, struct vnvme_ns_conf *ns, char *err, size_t errlen)
{
	*ns =
	    (struct vnvme_ns_conf){.be = {.type = VN_BE_RAM, .size = 1ull << 30}, .lba_size = 512};
	return parse_ns(o, ns, err, errlen);
}

int vn_conf_check(const struct vnvme_target_conf *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->nr_ctrls; i++) {
		const struct vnvme_dev_conf *d = &c->ctrls[i];
		int ret;

		if (!d->socket[0]) {
			snprintf(err, errlen, "controller %u: no socket path (--socket PATH)", i);
			return -EINVAL;
		}
		for (unsigned k = 0; k < i; k++) {
			if (!strcmp(c->ctrls[k].socket, d->socket)) {
				snprintf(err, errlen, "two controllers on %s", d->socket);
				return -EINVAL;
			}
			if (d->serial[0] && !strcmp(c->ctrls[k].serial, d->serial)) {
				snprintf(err, errlen,
					 "two controllers with serial \"%s\" (Linux rejects "
					 "duplicates)",
					 d->serial);
				return -EINVAL;
			}
		}
		if ((ret = vn_conf_check_ctrl(d, err, errlen)))
			return ret;
	}
	return 0;
}

int vn_conf_check_ns(const struct vnvme_ns_conf *ns, const char *where, char *err, size_t errlen)
{
	if (ns->lba_size != 512 && ns->lba_size != 4096) {
		snprintf(err, errlen, "%s: lba must be 512 or 4096", where);
		return -EINVAL;
	}
	/* A file's size 0 is its own size. Otherwise a size that is no whole
	 * number of blocks ("--size 1000") or below 1 MiB is a unit
	 * forgotten, not a wish. */
	if (ns->be.size && ns->be.size % ns->lba_size) {
		snprintf(err, errlen,
			 "%s: size %llu is not a multiple of the LBA size %u (sizes take a unit: "
			 "64M, 1G)",
			 where, (unsigned long long)ns->be.size, ns->lba_size);
		return -EINVAL;
	}
	if ((ns->be.type != VN_BE_FILE || ns->be.size) && ns->be.size < VN_MIN_NS_SIZE) {
		snprintf(err, errlen,
			 "%s: size %llu is below 1 MiB, surely a mistake (sizes take a unit: 64M, "
			 "1G)",
			 where, (unsigned long long)ns->be.size);
		return -EINVAL;
	}
	if (ns->be.type == VN_BE_FILE && !ns->be.path) {
		snprintf(err, errlen, "%s: the file backend needs a path", where);
		return -EINVAL;
	}
	return 0;
}

int vn_conf_check_ctrl(const struct vnvme_dev_conf *d, char *err, size_t errlen)
{
	if (d->queues < 1 || d->queues > NVME_MAX_QUEUES || d->qdepth < 2 || d->qdepth > 65536) {
		snprintf(err, errlen, "%s: queues must be 1..1024, qdepth 2..65536", d->socket);
		return -EINVAL;
	}
	for (unsigned n = 0; n < d->nr_ns; n++) {
		const struct vnvme_ns_conf *ns = &d->ns[n];
		char where[140];
		int ret;

		snprintf(where, sizeof(where), "%s ns %u", d->socket, n + 1);
		if ((ret = vn_conf_check_ns(ns, where, err, errlen)))
			return ret;
		/* "nsid" left out: the namespace's position, 1-based. */
		for (unsigned k = 0; k < n; k++) {
			uint32_t a = d->ns[k].nsid ? d->ns[k].nsid : k + 1;
			uint32_t b = ns->nsid ? ns->nsid : n + 1;
			if (a == b) {
				snprintf(err, errlen,
					 "%s: namespaces %u and %u both have NSID %u (\"nsid\" "
					 "left out is the position in the list)",
					 d->socket, k + 1, n + 1, a);
				return -EINVAL;
			}
		}
	}
	return 0;
}

void vn_conf_free(struct vnvme_target_conf *c)
{
	if (c->ctrls)
		for (unsigned i = 0; i < c->nr_ctrls; i++)
			for (unsigned n = 0; n < c->ctrls[i].nr_ns; n++)
				vn_ns_conf_clear(&c->ctrls[i].ns[n]);
	free(c->ctrls);
	c->ctrls = NULL;
	c->nr_ctrls = 0;
}
