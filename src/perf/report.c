/* SPDX-License-Identifier: MIT */
/* vnvme-perf's output: progress, text or JSON results, --plot. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perf/engine.h"
#include "util/hist.h"
#include "perf/opts.h"
#include "perf/report.h"

/* Histograms hold TSC ticks; reports are in nanoseconds. */
static unsigned long long tns(uint64_t ticks, double tsc_ns)
{
	return (unsigned long long)((double)ticks * tsc_ns + 0.5);
}

static void print_lat(FILE *f, const char *name, const struct vn_hist *h, double secs, uint32_t bs,
		      double tsc_ns)
{
	static const double pct[] = {50, 90, 99, 99.9, 99.99};
	double iops = secs > 0 ? (double)h->count / secs : 0;

	fprintf(f, "  %s: IOPS=%.3fM, BW=%.1fMiB/s, ios=%llu\n", name, iops / 1e6,
		iops * bs / 1048576.0, (unsigned long long)h->count);
	fprintf(f, "    lat (ns): min=%llu, max=%llu, avg=%.1f, stdev=%.1f\n",
		tns(vn_hist_min(h), tsc_ns), tns(h->max, tsc_ns), vn_hist_mean(h) * tsc_ns,
		vn_hist_stdev(h) * tsc_ns);
	fprintf(f, "    lat percentiles (ns):");
	for (unsigned i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		fprintf(f, " %.2fth=[%llu]", pct[i], tns(vn_hist_percentile(h, pct[i]), tsc_ns));
	fprintf(f, "\n");
}

static struct json_object *json_lat(const struct vn_hist *h, double secs, uint32_t bs,
				    double tsc_ns)
{
	static const double pct[] = {50, 90, 99, 99.9, 99.99};
	struct json_object *o = json_object_new_object(), *l = json_object_new_object(),
			   *p = json_object_new_object();
	double iops = secs > 0 ? (double)h->count / secs : 0;

	json_object_object_add(o, "ios", json_object_new_int64((int64_t)h->count));
	json_object_object_add(o, "iops", json_object_new_double(iops));
	json_object_object_add(o, "bw_bytes", json_object_new_double(iops * bs));
	json_object_object_add(l, "min",
			       json_object_new_int64((int64_t)tns(vn_hist_min(h), tsc_ns)));
	json_object_object_add(l, "max", json_object_new_int64((int64_t)tns(h->max, tsc_ns)));
	json_object_object_add(l, "mean", json_object_new_double(vn_hist_mean(h) * tsc_ns));
	json_object_object_add(l, "stdev", json_object_new_double(vn_hist_stdev(h) * tsc_ns));
	for (unsigned i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		char k[16];
		snprintf(k, sizeof(k), "%g", pct[i]);
		json_object_object_add(
		    p, k,
		    json_object_new_int64((int64_t)tns(vn_hist_percentile(h, pct[i]), tsc_ns)));
	}
	json_object_object_add(l, "percentiles", p);
	json_object_object_add(o, "lat_ns", l);
	return o;
}

/* --attribute's parts, in report order, with their names (text, JSON). */
static const struct {
	unsigned k;
	const char *text, *json;
} at_parts[] = {
    {AT_SUBMIT_FETCH, "host submit -> device fetch", "submit_to_fetch"},
    {AT_FETCH_DONE, "device fetch -> done", "fetch_to_done"},
    {AT_DONE_POST, "device done -> post", "done_to_post"},
    {AT_POST_REAP, "device post -> host reap", "post_to_reap"},
    {AT_SERVICE, "device service (fetch -> post)", "device_service"},
    {AT_TOTAL, "total (submit -> reap)", "total"},
};

static const double at_pct[] = {50, 90, 99, 99.9};

/*
 * Which side the time goes to: the device's service (fetch -> post) or the
 * host's hand-offs (submit -> fetch: the SQE waits for the device to take
 * it, doorbell and polling included; post -> reap: the CQE waits for the
 * host), by their share of the mean latency. *dev_share in [0, 1].
 */
static const char *at_bottleneck(const struct attribution *a, double *dev_share)
{
	double total = (double)a->h[AT_TOTAL].sum;

	*dev_share = total > 0 ? (double)a->h[AT_SERVICE].sum / total : 0;
	return *dev_share > 0.5 ? "device" : "host";
}

static void print_attribution(FILE *f, const struct attribution *a, double tsc_ns)
{
	double dev;
	const char *side = at_bottleneck(a, &dev);
	const struct vn_hist *t = &a->h[AT_TOTAL];
	double sum = 0;

	fprintf(f,
		"  attribution (ns; %llu I/Os; %llu left out without their record; %llu clamped, "
		"their stamps up to %llu ns outside submit..reap):\n",
		(unsigned long long)t->count, (unsigned long long)a->missed,
		(unsigned long long)a->clamped, tns(a->skew_max, tsc_ns));
	fprintf(f, "    %-32s %10s", "part", "mean");
	for (unsigned i = 0; i < sizeof(at_pct) / sizeof(at_pct[0]); i++)
		fprintf(f, " %9gth", at_pct[i]);
	fprintf(f, "\n");
	for (unsigned p = 0; p < sizeof(at_parts) / sizeof(at_parts[0]); p++) {
		const struct vn_hist *h = &a->h[at_parts[p].k];
		fprintf(f, "    %-32s %10.1f", at_parts[p].text, vn_hist_mean(h) * tsc_ns);
		for (unsigned i = 0; i < sizeof(at_pct) / sizeof(at_pct[0]); i++)
			fprintf(f, " %11llu", tns(vn_hist_percentile(h, at_pct[i]), tsc_ns));
		fprintf(f, "\n");
		if (at_parts[p].k <= AT_POST_REAP)
			sum += vn_hist_mean(h) * tsc_ns;
	}
	fprintf(f, "    parts sum to %.1f ns, the total's mean %.1f ns\n", sum,
		vn_hist_mean(t) * tsc_ns);
	fprintf(f,
		"  bottleneck: %s (device service %.0f%% of the mean latency, host hand-offs "
		"%.0f%%)\n",
		side, dev * 100, (1 - dev) * 100);
}

static struct json_object *json_attribution(const struct attribution *a, double tsc_ns)
{
	struct json_object *o = json_object_new_object(), *parts = json_object_new_object();
	double dev;
	const char *side = at_bottleneck(a, &dev);

	json_object_object_add(o, "ios", json_object_new_int64((int64_t)a->h[AT_TOTAL].count));
	json_object_object_add(o, "missed", json_object_new_int64((int64_t)a->missed));
	json_object_object_add(o, "clamped", json_object_new_int64((int64_t)a->clamped));
	json_object_object_add(o, "clamp_max_ns",
			       json_object_new_int64((int64_t)tns(a->skew_max, tsc_ns)));
	for (unsigned p = 0; p < sizeof(at_parts) / sizeof(at_parts[0]); p++) {
		const struct vn_hist *h = &a->h[at_parts[p].k];
		struct json_object *e = json_object_new_object(), *pc = json_object_new_object();

		json_object_object_add(e, "mean", json_object_new_double(vn_hist_mean(h) * tsc_ns));
		json_object_object_add(e, "min",
				       json_object_new_int64((int64_t)tns(vn_hist_min(h), tsc_ns)));
		json_object_object_add(e, "max",
				       json_object_new_int64((int64_t)tns(h->max, tsc_ns)));
		for (unsigned i = 0; i < sizeof(at_pct) / sizeof(at_pct[0]); i++) {
			char k[16];
			snprintf(k, sizeof(k), "%g", at_pct[i]);
			json_object_object_add(pc, k,
					       json_object_new_int64((int64_t)tns(
						   vn_hist_percentile(h, at_pct[i]), tsc_ns)));
		}
		json_object_object_add(e, "percentiles", pc);
		json_object_object_add(parts, at_parts[p].json, e);
	}
	json_object_object_add(o, "parts_ns", parts);
	json_object_object_add(o, "bottleneck", json_object_new_string(side));
	json_object_object_add(o, "device_share", json_object_new_double(dev));
	return o;
}

/* 0, or -1 when no PNG was written (said on stderr). */
static int plot(const struct opts *o, double tsc_ns, const struct vn_hist *h)
{
	char dat[] = "/tmp/vnvme-perf-XXXXXX";
	int fd = mkstemp(dat), ret;
	FILE *f, *g;

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "vnvme-perf: --plot: cannot write a temporary file\n");
		return -1;
	}
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++)
		if (h->b[i])
			fprintf(f, "%llu %llu\n", tns(vn_hist_bucket_low(i), tsc_ns),
				(unsigned long long)h->b[i]);
	fclose(f);
	g = popen("gnuplot", "w");
	if (!g) {
		fprintf(stderr, "vnvme-perf: --plot: cannot run gnuplot: %s\n", strerror(errno));
		unlink(dat);
		return -1;
	}
	fprintf(g,
		"set terminal png size 900,500\nset output '%s'\nset logscale x\n"
		"set xlabel 'latency (ns)'\nset ylabel 'I/Os'\nset title 'vnvme-perf %s bs=%u "
		"qd=%u'\nplot '%s' using 1:2 with steps title 'latency histogram'\n",
		o->plot, opts_run_name(o), o->bs, o->qd, dat);
	ret = pclose(g);
	unlink(dat);
	if (ret != 0) {
		fprintf(stderr, "vnvme-perf: --plot: gnuplot failed to write %s\n", o->plot);
		return -1;
	}
	return 0;
}

static void timeline_add(struct timeline *tl, double end_s, double iops)
{
	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 256;
		double *e, *v;
		if (cap > TIMELINE_MAX || !(e = realloc(tl->end_s, cap * sizeof(*e)))) {
			tl->truncated = true;
			return;
		}
		tl->end_s = e;
		if (!(v = realloc(tl->iops, cap * sizeof(*v)))) {
			tl->truncated = true;
			return;
		}
		tl->iops = v;
		tl->cap = cap;
	}
	tl->end_s[tl->n] = end_s;
	tl->iops[tl->n++] = iops;
}

static void sleep_until_ns(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void report_progress(const struct opts *o, uint64_t t0, struct timeline *tl)
{
	const uint64_t look = 100000000ull; /* the end of the run is seen within 100 ms */
	uint64_t step = (o->timeline_ms ? o->timeline_ms : 1000) * 1000000ull;
	uint64_t last = 0, tl_ns = t0, next = t0 + step;
	bool keep = o->timeline_ms && o->json;

	if (o->quiet && !keep)
		return;
	for (unsigned k = 1;; k++) {
		bool alive;
		uint64_t done, errs, tn;

		do {
			uint64_t now = engine_now_ns();
			sleep_until_ns(next > now + look ? now + look : next);
			alive = engine_running();
		} while (alive && engine_now_ns() < next);
		tn = engine_now_ns();
		engine_counts(&done, &errs);
		/* As the summary: the I/Os that succeeded. Errors also count
		 * I/Os that never completed, hence the floor. */
		done = done > errs ? done - errs : 0;
		if (done < last)
			done = last;
		double iops = tn > tl_ns ? (double)(done - last) * 1e9 / (double)(tn - tl_ns) : 0;
		/* A last interval with no I/O is the jobs' end, not a stall. */
		if (keep && (alive || done > last))
			timeline_add(tl, (double)(tn - t0) / 1e9, iops);
		if (!o->quiet) {
			if (o->timeline_ms)
				fprintf(stderr, "[%9.3fs] ", (double)(tn - t0) / 1e9);
			else
				fprintf(stderr, "[%4us] ", k);
			fprintf(stderr, "%.3fM IOPS, %.1f MiB/s\n", iops / 1e6,
				iops * o->bs / 1048576.0);
		}
		last = done;
		tl_ns = tn;
		/* The next interval's end: on the grid, past now (a late wake-up
		 * makes one interval longer, not the ones after it shorter). */
		while (next <= tn)
			next += step;
		if (!alive)
			break;
	}
}

static struct json_object *json_timeline(const struct opts *o, const struct timeline *tl)
{
	struct json_object *t = json_object_new_object(), *e = json_object_new_array(),
			   *v = json_object_new_array();

	json_object_object_add(t, "interval_ms", json_object_new_int64(o->timeline_ms));
	for (size_t i = 0; i < tl->n; i++) {
		json_object_array_add(e, json_object_new_double(tl->end_s[i]));
		json_object_array_add(v, json_object_new_double(tl->iops[i]));
	}
	json_object_object_add(t, "end_s", e);
	json_object_object_add(t, "iops", v);
	json_object_object_add(t, "truncated", json_object_new_boolean(tl->truncated));
	return t;
}

void report_print(const struct opts *o, const struct result *r, struct timeline *tl)
{
	if (o->json) {
		struct json_object *j = json_object_new_object(), *cfg = json_object_new_object();
		json_object_object_add(j, "version", json_object_new_int(1));
		json_object_object_add(cfg, "rw", json_object_new_string(opts_run_name(o)));
		json_object_object_add(cfg, "bs", json_object_new_int64(o->bs));
		json_object_object_add(cfg, "qd", json_object_new_int64(o->qd));
		json_object_object_add(cfg, "queue_size", json_object_new_int64(r->ring));
		json_object_object_add(cfg, "batch", json_object_new_int64(o->batch));
		json_object_object_add(cfg, "jobs", json_object_new_int64(o->jobs));
		json_object_object_add(cfg, "devices", json_object_new_int64(o->nr_devs));
		json_object_object_add(cfg, "verify", json_object_new_boolean(o->verify));
		json_object_object_add(j, "config", cfg);
		json_object_object_add(j, "runtime_s", json_object_new_double(r->secs));
		json_object_object_add(j, "read", json_lat(&r->rd, r->secs, o->bs, r->tsc_ns));
		json_object_object_add(j, "write", json_lat(&r->wr, r->secs, o->bs, r->tsc_ns));
		json_object_object_add(j, "errors", json_object_new_int64((int64_t)r->errors));
		json_object_object_add(j, "verify_mismatches",
				       json_object_new_int64((int64_t)r->mismatches));
		if (r->first_error)
			json_object_object_add(j, "first_error",
					       json_object_new_string(r->first_error));
		if (r->at)
			json_object_object_add(j, "attribution",
					       json_attribution(r->at, r->tsc_ns));
		if (o->timeline_ms)
			json_object_object_add(j, "timeline", json_timeline(o, tl));
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
		json_object_put(j);
	} else {
		printf("vnvme-perf: %s bs=%u qd=%u jobs=%u devices=%u runtime=%.1fs\n",
		       opts_run_name(o), o->bs, o->qd, o->jobs, o->nr_devs, r->secs);
		if (r->rd.count)
			print_lat(stdout, "read", &r->rd, r->secs, o->bs, r->tsc_ns);
		if (r->wr.count)
			print_lat(stdout, "write", &r->wr, r->secs, o->bs, r->tsc_ns);
		printf("  errors=%llu", (unsigned long long)r->errors);
		if (o->verify)
			printf(" verify_mismatches=%llu", (unsigned long long)r->mismatches);
		printf("\n");
		if (r->at)
			print_attribution(stdout, r->at, r->tsc_ns);
	}
	free(tl->end_s);
	free(tl->iops);
	*tl = (struct timeline){0};
	if (r->first_error)
		fprintf(stderr, "vnvme-perf: first error: %s\n", r->first_error);
	if (r->mismatches)
		fprintf(stderr, "vnvme-perf: verify: %llu block(s) mismatched, first at LBA %llu\n",
			(unsigned long long)r->mismatches, (unsigned long long)r->first_bad);
}

int report_plot(const struct opts *o, const struct result *r)
{
	struct vn_hist all = r->rd;

	vn_hist_merge(&all, &r->wr);
	return plot(o, r->tsc_ns, &all);
}
