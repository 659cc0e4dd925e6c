/* SPDX-License-Identifier: MIT */
/* Deterministic device models: checks, distributions, caps, error rules. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvme/model.h"
#include "vnvme/spec.h"

static int merr(char *err, size_t len, const char *fmt, ...) VN_PRINTF(3, 4);

static int merr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool us_ok(double v)
{
	return isfinite(v) && v >= 0 && v <= NVME_MODEL_MAX_US;
}

static const char *const class_name[NVME_MODEL_NCLASS] = {"read", "write", "flush"};

static int lat_check(const struct nvme_lat *l, const char *cl, char *err, size_t len)
{
	if (!us_ok(l->fixed_us))
		return merr(err, len, "%s: fixed_us must be 0..10000000, not %g", cl, l->fixed_us);
	switch (l->dist) {
	case NVME_DIST_NONE:
	case NVME_DIST_FIXED:
		return 0;
	case NVME_DIST_UNIFORM:
		if (!us_ok(l->p1) || !us_ok(l->p2) || l->p1 > l->p2)
			return merr(err, len,
				    "%s: uniform needs 0 <= min_us <= max_us <= 10000000, not "
				    "%g..%g",
				    cl, l->p1, l->p2);
		return 0;
	case NVME_DIST_NORMAL:
		if (!isfinite(l->p1) || fabs(l->p1) > NVME_MODEL_MAX_US || !us_ok(l->p2))
			return merr(err, len,
				    "%s: normal needs mean_us within +-10000000 and stddev_us "
				    "0..10000000, not %g and %g",
				    cl, l->p1, l->p2);
		return 0;
	case NVME_DIST_LOGNORMAL:
		if (!us_ok(l->p1) || l->p1 <= 0 || !isfinite(l->p2) || l->p2 < 0 || l->p2 > 10)
			return merr(err, len,
				    "%s: lognormal needs median_us in (0, 10000000] and sigma "
				    "0..10, not %g and %g",
				    cl, l->p1, l->p2);
		return 0;
	case NVME_DIST_EMPIRICAL:
		if (!l->n || !l->val || !l->cdf)
			return merr(err, len, "%s: empirical needs a file of points", cl);
		return 0;
	}
	return merr(err, len, "%s: unknown distribution %d", cl, (int)l->dist);
}

int nvme_model_conf_check(const struct nvme_model_conf *c, char *err, size_t len)
{
	int ret;

	for (unsigned k = 0; k < NVME_MODEL_NCLASS; k++)
		if ((ret = lat_check(&c->lat[k], class_name[k], err, len)))
			return ret;
	if (c->iops > NVME_MODEL_MAX_IOPS)
		return merr(err, len, "iops must be 0..%llu, not %llu",
			    (unsigned long long)NVME_MODEL_MAX_IOPS, (unsigned long long)c->iops);
	if (c->bw && c->bw < NVME_MODEL_MIN_BW)
		return merr(err, len,
			    "bandwidth must be 0 (no cap) or at least %u bytes per second, not "
			    "%llu: it is bytes, not MB (\"400M\")",
			    NVME_MODEL_MIN_BW, (unsigned long long)c->bw);
	if (c->qd_ns > (uint64_t)(NVME_MODEL_MAX_US * 1000))
		return merr(err, len, "qd_ns must be 0..10000000000, not %llu",
			    (unsigned long long)c->qd_ns);
	if (c->nrules > NVME_MODEL_MAX_RULES)
		return merr(err, len, "at most %u error rules", NVME_MODEL_MAX_RULES);
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct nvme_err_rule *r = &c->rules[i];

		if (!r->status || (r->status >> 8) > 7)
			return merr(err, len, "errors[%u]: status 0x%x is no error status", i,
				    r->status);
		if (!isfinite(r->rate) || r->rate < 0 || r->rate > 1)
			return merr(err, len, "errors[%u]: rate must be 0..1, not %g", i, r->rate);
		if (r->lba_set && r->lba_lo > r->lba_hi)
			return merr(err, len, "errors[%u]: lba range %llu..%llu is empty", i,
				    (unsigned long long)r->lba_lo, (unsigned long long)r->lba_hi);
		if (r->win_set && (r->win_lo >= r->win_hi || r->win_hi > NVME_MODEL_MAX_WIN_MS))
			return merr(err, len,
				    "errors[%u]: window_ms [%llu, %llu] must be [from, to) with "
				    "from < to <= %llu",
				    i, (unsigned long long)r->win_lo, (unsigned long long)r->win_hi,
				    (unsigned long long)NVME_MODEL_MAX_WIN_MS);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Empirical files */

static int cmp_pt(const void *a, const void *b)
{
	const double *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

int nvme_lat_load(struct nvme_lat *l, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "re");
	double *pts = NULL; /* pairs: value, weight */
	uint32_t n = 0, cap = 0, line = 0;
	double total = 0, acc = 0;
	char buf[256];
	int ret = -EINVAL;

	if (!f) {
		int e = errno;
		snprintf(err, len, "empirical file %s: %s", path, strerror(e));
		return -e;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *p = buf, *end;
		double v, w;

		line++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		v = strtod(p, &end);
		if (end == p)
			goto bad;
		p = end;
		w = strtod(p, &end);
		if (end == p)
			goto bad;
		for (p = end; isspace((unsigned char)*p); p++)
			;
		if (*p && *p != '#')
			goto bad;
		if (!us_ok(v) || !isfinite(w) || w < 0) {
			snprintf(
			    err, len,
			    "empirical file %s line %u: latency_us must be 0..10000000 and the "
			    "weight >= 0",
			    path, line);
			goto out;
		}
		if (n == NVME_MODEL_MAX_POINTS) {
			snprintf(err, len, "empirical file %s: more than %u points", path,
				 NVME_MODEL_MAX_POINTS);
			goto out;
		}
		if (n == cap) {
			double *np;
			cap = cap ? cap * 2 : 64;
			np = realloc(pts, (size_t)cap * 2 * sizeof(*pts));
			if (!np) {
				ret = -ENOMEM;
				snprintf(err, len, "empirical file %s: out of memory", path);
				goto out;
			}
			pts = np;
		}
		pts[2 * n] = v;
		pts[2 * n + 1] = w;
		total += w;
		n++;
	}
	if (ferror(f)) {
		snprintf(err, len, "empirical file %s: read error", path);
		goto out;
	}
	if (!n || !(total > 0) || !isfinite(total)) {
		snprintf(err, len, "empirical file %s: no point with a weight above 0", path);
		goto out;
	}
	qsort(pts, n, 2 * sizeof(*pts), cmp_pt);
	l->val = malloc(n * sizeof(double));
	l->cdf = malloc(n * sizeof(double));
	if (!l->val || !l->cdf) {
		free(l->val);
		free(l->cdf);
		l->val = l->cdf = NULL;
		ret = -ENOMEM;
		snprintf(err, len, "empirical file %s: out of memory", path);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		acc += pts[2 * i + 1];
		l->val[i] = pts[2 * i];
		l->cdf[i] = acc / total;
	}
	l->cdf[n - 1] = 1.0;
	l->n = n;
	l->dist = NVME_DIST_EMPIRICAL;
	ret = 0;
	goto out;
bad:
	snprintf(err, len, "empirical file %s line %u: expected \"latency_us weight\"", path, line);
out:
	free(pts);
	fclose(f);
	return ret;
}

void nvme_model_conf_free(struct nvme_model_conf *c)
{
	for (unsigned k = 0; k < NVME_MODEL_NCLASS; k++) {
		free(c->lat[k].val);
		free(c->lat[k].cdf);
		free(c->lat[k].file);
		c->lat[k].val = c->lat[k].cdf = NULL;
		c->lat[k].file = NULL;
		c->lat[k].n = 0;
	}
}

int nvme_model_conf_dup(const struct nvme_model_conf *src, struct nvme_model_conf *dst)
{
	*dst = *src;
	for (unsigned k = 0; k < NVME_MODEL_NCLASS; k++) {
		struct nvme_lat *l = &dst->lat[k];
		l->val = l->cdf = NULL;
		l->file = NULL;
	}
	for (unsigned k = 0; k < NVME_MODEL_NCLASS; k++) {
		const struct nvme_lat *s = &src->lat[k];
		struct nvme_lat *l = &dst->lat[k];

		if (s->file && !(l->file = strdup(s->file)))
			goto nomem;
		if (!s->n)
			continue;
		l->val = malloc(s->n * sizeof(double));
		l->cdf = malloc(s->n * sizeof(double));
		if (!l->val || !l->cdf)
			goto nomem;
		memcpy(l->val, s->val, s->n * sizeof(double));
		memcpy(l->cdf, s->cdf, s->n * sizeof(double));
	}
	return 0;
nomem:
	nvme_model_conf_free(dst);
	return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Statuses by name */

static const char *const sct_name[8] = {"generic", "command", "media", "path",
					NULL,      NULL,      NULL,    "vendor"};

int nvme_model_status_parse(const char *s, uint16_t *out)
{
	const char *colon = strchr(s, ':');
	char *end;
	unsigned long sct, sc;

	if (colon) {
		size_t n = (size_t)(colon - s);

		sct = 8;
		for (unsigned i = 0; i < 8; i++)
			if (sct_name[i] && strlen(sct_name[i]) == n &&
			    !strncasecmp(s, sct_name[i], n))
				sct = i;
		if (sct == 8) {
			if (!isdigit((unsigned char)*s))
				return -EINVAL;
			sct = strtoul(s, &end, 0);
			if (end != colon)
				return -EINVAL;
		}
		if (!isdigit((unsigned char)colon[1]))
			return -EINVAL;
		errno = 0;
		sc = strtoul(colon + 1, &end, 0);
		if (*end || errno || sct > 7 || sc > 0xff)
			return -EINVAL;
		*out = (uint16_t)(sct << 8 | sc);
		return *out ? 0 : -EINVAL;
	}
	if (isdigit((unsigned char)*s)) {
		errno = 0;
		sc = strtoul(s, &end, 0);
		if (*end || errno || sc > 0x7ff || !sc)
			return -EINVAL;
		*out = (uint16_t)sc;
		return 0;
	}
	/* A name of the spec's table (vnvme_spec_status_name). */
	for (unsigned v = 1; v < 0x800; v++) {
		unsigned sf = (v >> 8) << VNVME_SF_SCT_SHIFT | (v & 0xff) << VNVME_SF_SC_SHIFT;
		if (!strcasecmp(vnvme_spec_status_name((uint16_t)sf), s)) {
			*out = (uint16_t)v;
			return 0;
		}
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Generator and samples */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void nvme_rng_seed(struct nvme_rng *r, uint64_t seed, uint32_t nsid, uint32_t qid)
{
	uint64_t x = seed;

	/* Mix the namespace and queue in through the generator itself, so
	 * that neighbouring NSIDs and QIDs give unrelated streams. */
	splitmix64(&x);
	x ^= (uint64_t)nsid << 32 | qid;
	for (unsigned i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t nvme_rng_next(struct nvme_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double nvme_rng_unit(struct nvme_rng *r)
{
	return (double)(nvme_rng_next(r) >> 11) * 0x1.0p-53;
}

/* A standard normal sample (Box-Muller, one of the pair). */
static double std_normal(struct nvme_rng *r)
{
	double u1 = 1.0 - nvme_rng_unit(r), u2 = nvme_rng_unit(r); /* u1 in (0, 1] */

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double nvme_lat_sample_us(const struct nvme_lat *l, struct nvme_rng *r)
{
	double v = l->fixed_us;

	switch (l->dist) {
	case NVME_DIST_NONE:
	case NVME_DIST_FIXED:
		break;
	case NVME_DIST_UNIFORM:
		v += l->p1 + (l->p2 - l->p1) * nvme_rng_unit(r);
		break;
	case NVME_DIST_NORMAL: {
		double x = l->p1 + l->p2 * std_normal(r);
		v += x > 0 ? x : 0;
		break;
	}
	case NVME_DIST_LOGNORMAL:
		v += l->p1 * exp(l->p2 * std_normal(r));
		break;
	case NVME_DIST_EMPIRICAL: {
		/* Inverse CDF: the first point whose cumulative weight is above u. */
		double u = nvme_rng_unit(r);
		uint32_t lo = 0, hi = l->n - 1;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (l->cdf[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		v += l->val[lo];
		break;
	}
	}
	if (!(v > 0))
		return 0;
	return v < NVME_MODEL_MAX_US ? v : NVME_MODEL_MAX_US;
}

/* ------------------------------------------------------------------------ */
/* The model as it runs */

int nvme_model_new(const struct nvme_model_conf *c, uint32_t nsid, uint32_t nq, double ns_per_tick,
		   struct nvme_model **out)
{
	struct nvme_model *m;

	if (posix_memalign((void **)&m, VN_CACHELINE, sizeof(*m)))
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	if (nvme_model_conf_dup(c, &m->c)) {
		free(m);
		return -ENOMEM;
	}
	if (posix_memalign((void **)&m->q, VN_CACHELINE, ((size_t)nq + 1) * sizeof(*m->q))) {
		nvme_model_conf_free(&m->c);
		free(m);
		return -ENOMEM;
	}
	memset(m->q, 0, ((size_t)nq + 1) * sizeof(*m->q));
	m->nsid = nsid;
	m->nq = nq;
	m->ticks_per_us = 1000.0 / ns_per_tick;
	m->cost_iops = c->iops ? (uint64_t)(1e9 / ns_per_tick / (double)c->iops) : 0;
	m->ticks_per_byte = c->bw ? 1e9 / ns_per_tick / (double)c->bw : 0;
	m->qd_ticks = (uint64_t)((double)c->qd_ns / ns_per_tick);
	for (unsigned i = 0; i < c->nrules; i++) {
		m->win_ticks[i][0] = (uint64_t)((double)c->rules[i].win_lo * 1e6 / ns_per_tick);
		m->win_ticks[i][1] = (uint64_t)((double)c->rules[i].win_hi * 1e6 / ns_per_tick);
	}
	*out = m;
	return 0;
}

void nvme_model_free(struct nvme_model *m)
{
	if (!m)
		return;
	nvme_model_conf_free(&m->c);
	free(m->q);
	free(m);
}

static bool rule_hits(struct nvme_model *m, unsigned i, const struct nvme_model_cmd *cmd,
		      struct nvme_model_q *q, uint64_t t0, uint64_t *lba)
{
	const struct nvme_err_rule *r = &m->c.rules[i];

	if (r->opc_mask && (cmd->opc >= 64 || !(r->opc_mask >> cmd->opc & 1)))
		return false;
	if (q->cmds < r->after)
		return false;
	if (r->lba_set) {
		uint64_t last;
		if (!cmd->has_lba || !cmd->nlb)
			return false;
		last = cmd->slba + cmd->nlb - 1;
		if (last < cmd->slba) /* wrapped: the caller checked the range */
			last = UINT64_MAX;
		if (last < r->lba_lo || cmd->slba > r->lba_hi)
			return false;
		*lba = VN_MAX(cmd->slba, r->lba_lo);
	} else {
		*lba = cmd->has_lba ? cmd->slba : 0;
	}
	if (r->win_set) {
		uint64_t since = cmd->now - t0;
		if (since < m->win_ticks[i][0] || since >= m->win_ticks[i][1])
			return false;
	}
	if (r->rate >= 1.0)
		return true;
	/* Drawn only for a rule that matched: the same commands draw the same. */
	return nvme_rng_unit(&q->rng) < r->rate;
}

void nvme_model_restart(struct nvme_model *m)
{
	vn_store_relaxed(&m->tat, 0);
	vn_store_relaxed(&m->t0, 0);
}

void nvme_model_decide(struct nvme_model *m, const struct nvme_model_cmd *cmd,
		       struct nvme_model_out *o)
{
	struct nvme_model_q *q = &m->q[cmd->qid <= m->nq ? cmd->qid : 0];
	uint64_t t0 = vn_load_relaxed(&m->t0), cost;
	const struct nvme_lat *l;

	o->status = 0;
	o->err_lba = 0;
	o->not_before = 0;
	if (q->serial != cmd->serial || !q->serial) {
		nvme_rng_seed(&q->rng, m->c.seed, m->nsid, cmd->qid);
		q->serial = cmd->serial;
		q->cmds = 0;
	}
	if (unlikely(!t0)) {
		/* The first command anywhere sets it; a race leaves the earliest
		 * of the candidates or a close one: either is a first command. */
		uint64_t expect = 0;
		__atomic_compare_exchange_n(&m->t0, &expect, cmd->now, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		t0 = vn_load_relaxed(&m->t0);
	}
	for (unsigned i = 0; i < m->c.nrules; i++) {
		uint64_t lba;
		if (rule_hits(m, i, cmd, q, t0, &lba)) {
			o->status = m->c.rules[i].status;
			o->err_lba = lba;
			break;
		}
	}
	q->cmds++;
	l = &m->c.lat[nvme_model_class(cmd->opc)];
	o->delay = (uint64_t)(nvme_lat_sample_us(l, &q->rng) * m->ticks_per_us);
	if (m->qd_ticks && cmd->outstanding > 1)
		o->delay += m->qd_ticks * (cmd->outstanding - 1);
	/*
	 * The caps: one virtual clock (GCRA) shared by the namespace's queues,
	 * one compare-and-swap per command. A command takes the slot that
	 * starts at the clock (or now, if the clock is behind: no credit is
	 * saved up while idle) and lasts the longer of its two costs, so that
	 * the stricter cap rules; it completes no earlier than its slot's
	 * start. A failed injected error moves no data.
	 */
	cost = m->cost_iops;
	if (m->ticks_per_byte > 0 && !o->status) {
		uint64_t bc = (uint64_t)((double)cmd->bytes * m->ticks_per_byte);
		cost = VN_MAX(cost, bc);
	}
	if (cost) {
		uint64_t old = vn_load_relaxed(&m->tat), start;
		do {
			start = VN_MAX(old, cmd->now);
			/* Saturated: a clock that far ahead is a cap nobody
			 * reaches, not one that wraps to the past. */
		} while (!__atomic_compare_exchange_n(
		    &m->tat, &old, start > UINT64_MAX - cost ? UINT64_MAX : start + cost, true,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
		o->not_before = start;
	}
}
