/* SPDX-License-Identifier: MIT */
/* src/nvme/model.c and src/target/model_conf.c: distributions against their
 * settings, reproducible sequences, caps, error rules, and the "model"
 * object's checks. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "nvme/model.h"
#include "target/config.h"
#include "../test_filter.h"

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vnvme-model-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define N_SAMPLES 20000

/* Median and 99th percentile of N_SAMPLES samples of l. */
static void sample_stats(const struct nvme_lat *l, double *med, double *p99, double *lo, double *hi)
{
	static double v[N_SAMPLES];
	struct nvme_rng r;

	nvme_rng_seed(&r, 1, 1, 1);
	for (unsigned i = 0; i < N_SAMPLES; i++)
		v[i] = nvme_lat_sample_us(l, &r);
	qsort(v, N_SAMPLES, sizeof(v[0]), cmp_d);
	*med = v[N_SAMPLES / 2];
	*p99 = v[N_SAMPLES * 99 / 100];
	*lo = v[0];
	*hi = v[N_SAMPLES - 1];
}

static void assert_near(double got, double want, double tol, const char *what)
{
	if (fabs(got - want) > tol)
		fail_msg("%s: %g, expected %g +- %g", what, got, want, tol);
}

static void test_fixed_adds_exactly_its_time(void **state)
{
	struct nvme_lat l = {.dist = NVME_DIST_NONE, .fixed_us = 80};
	double med, p99, lo, hi;

	(void)state;
	sample_stats(&l, &med, &p99, &lo, &hi);
	assert_true(lo == 80 && hi == 80);
}

static void test_uniform_spans_its_range(void **state)
{
	struct nvme_lat l = {.dist = NVME_DIST_UNIFORM, .p1 = 100, .p2 = 300};
	double med, p99, lo, hi;

	(void)state;
	sample_stats(&l, &med, &p99, &lo, &hi);
	assert_near(med, 200, 15, "uniform 100..300 median");
	assert_near(p99, 298, 5, "uniform 100..300 p99");
	assert_true(lo >= 100 && hi <= 300);
	assert_true(lo < 105 && hi > 295);
}

static void test_normal_median_and_tail_follow_mean_and_stddev(void **state)
{
	/* With a fixed part: it shifts the whole distribution. */
	struct nvme_lat l = {.dist = NVME_DIST_NORMAL, .fixed_us = 10, .p1 = 100, .p2 = 10};
	double med, p99, lo, hi;

	(void)state;
	sample_stats(&l, &med, &p99, &lo, &hi);
	assert_near(med, 110, 2, "normal 100/10 + 10 median");
	assert_near(p99, 110 + 23.26, 4, "normal 100/10 + 10 p99");
}

static void test_normal_never_goes_below_zero(void **state)
{
	struct nvme_lat l = {.dist = NVME_DIST_NORMAL, .p1 = 0, .p2 = 50};
	double med, p99, lo, hi;

	(void)state;
	sample_stats(&l, &med, &p99, &lo, &hi);
	assert_true(lo == 0);
	assert_true(med < 2); /* half the samples clamp to 0 */
	assert_near(p99, 116.3, 12, "normal 0/50 p99");
}

static void test_lognormal_median_and_tail_follow_median_and_sigma(void **state)
{
	struct nvme_lat l = {.dist = NVME_DIST_LOGNORMAL, .p1 = 30, .p2 = 0.5};
	double med, p99, lo, hi;

	(void)state;
	sample_stats(&l, &med, &p99, &lo, &hi);
	assert_near(med, 30, 1.5, "lognormal 30/0.5 median");
	assert_near(p99, 30 * exp(0.5 * 2.3263), 8, "lognormal 30/0.5 p99");
	assert_true(lo > 0);
}

static void test_empirical_file_is_sampled_by_its_weights(void **state)
{
	char path[128], err[256] = "";
	struct nvme_lat l = {0};
	struct nvme_rng r;
	unsigned n10 = 0, n100 = 0, n1000 = 0;

	(void)state;
	/* Out of order, with comments and a zero weight. */
	write_file(path, sizeof(path), "lat.txt",
		   "# latency_us weight\n1000 2\n\n10 1   # fast\n100 1\n5000 0\n");
	assert_int_equal(nvme_lat_load(&l, path, err, sizeof(err)), 0);
	assert_int_equal(l.n, 4);
	nvme_rng_seed(&r, 7, 1, 1);
	for (unsigned i = 0; i < N_SAMPLES; i++) {
		double v = nvme_lat_sample_us(&l, &r);
		if (v == 10)
			n10++;
		else if (v == 100)
			n100++;
		else if (v == 1000)
			n1000++;
		else
			fail_msg("empirical sample %g is none of the file's points", v);
	}
	assert_near(n10 / (double)N_SAMPLES, 0.25, 0.02, "weight of 10 us");
	assert_near(n100 / (double)N_SAMPLES, 0.25, 0.02, "weight of 100 us");
	assert_near(n1000 / (double)N_SAMPLES, 0.5, 0.02, "weight of 1000 us");
	free(l.val);
	free(l.cdf);
}

static void test_empirical_file_errors_name_file_and_line(void **state)
{
	char path[128], err[256] = "";
	struct nvme_lat l = {0};

	(void)state;
	write_file(path, sizeof(path), "bad.txt", "10 1\n20 x\n");
	assert_int_equal(nvme_lat_load(&l, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	write_file(path, sizeof(path), "neg.txt", "-5 1\n");
	assert_int_equal(nvme_lat_load(&l, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1"));
	write_file(path, sizeof(path), "zero.txt", "5 0\n");
	assert_int_equal(nvme_lat_load(&l, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "weight above 0"));
	assert_true(nvme_lat_load(&l, "/nonexistent/lat.txt", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/lat.txt"));
	assert_null(l.val);
}

/* A model from JSON text, checked. */
static struct nvme_model *model_from(const char *json, uint32_t nsid)
{
	struct nvme_model_conf c;
	struct nvme_model *m;
	char err[256] = "";

	if (vn_model_parse_text(json, &c, err, sizeof(err)))
		fail_msg("%s: %s", json, err);
	/* ns_per_tick 1: ticks are nanoseconds. */
	assert_int_equal(nvme_model_new(&c, nsid, 4, 1.0, &m), 0);
	nvme_model_conf_free(&c);
	return m;
}

/* n commands (reads of LBA i) on queue qid; delays and statuses out. */
static void run(struct nvme_model *m, uint16_t qid, uint32_t serial, unsigned n, uint64_t *delay,
		uint16_t *st)
{
	for (unsigned i = 0; i < n; i++) {
		struct nvme_model_cmd cmd = {.qid = qid,
					     .serial = serial,
					     .opc = 0x02,
					     .has_lba = true,
					     .slba = i,
					     .nlb = 1,
					     .bytes = 512,
					     .outstanding = 1,
					     .now = 1000 + i};
		struct nvme_model_out o;
		nvme_model_decide(m, &cmd, &o);
		delay[i] = o.delay;
		st[i] = o.status;
	}
}

static void test_same_seed_same_sequence_other_seed_other(void **state)
{
#define SEQ_FMT                                                                                    \
	"{\"seed\": %d, \"read\": {\"dist\": \"lognormal\", \"median_us\": 50, \"sigma\": 1},"     \
	" \"errors\": [{\"status\": \"media:0x81\", \"rate\": 0.3}]}"
	char json[256];
	uint64_t d[4][200];
	uint16_t s[4][200];
	struct nvme_model *m;
	unsigned nerr = 0;

	(void)state;
	for (int k = 0; k < 3; k++) {
		snprintf(json, sizeof(json), SEQ_FMT, k == 2 ? 43 : 42);
		m = model_from(json, 1);
		run(m, 1, 5, 200, d[k], s[k]);
		nvme_model_free(m);
	}
	/* The same seed on another queue: another stream. */
	snprintf(json, sizeof(json), SEQ_FMT, 42);
	m = model_from(json, 1);
	run(m, 2, 6, 200, d[3], s[3]);
	nvme_model_free(m);
	assert_memory_equal(d[0], d[1], sizeof(d[0]));
	assert_memory_equal(s[0], s[1], sizeof(s[0]));
	assert_memory_not_equal(d[0], d[2], sizeof(d[0]));
	assert_memory_not_equal(d[0], d[3], sizeof(d[0]));
	for (unsigned i = 0; i < 200; i++)
		nerr += s[0][i] == 0x281;
	assert_true(nerr > 30 && nerr < 90); /* 0.3 of 200 */
}

static void test_a_new_queue_starts_its_sequence_again(void **state)
{
	struct nvme_model *m =
	    model_from("{\"seed\": 9, \"write\": {\"dist\": \"uniform\", \"min_us\": 1, "
		       "\"max_us\": 1000}, \"read\": {\"dist\": \"uniform\", \"min_us\": 1, "
		       "\"max_us\": 1000}}",
		       3);
	uint64_t a[50], b[50];
	uint16_t s[50];

	(void)state;
	run(m, 1, 10, 50, a, s);
	run(m, 1, 11, 50, b, s); /* the queue deleted and created again */
	assert_memory_equal(a, b, sizeof(a));
	nvme_model_free(m);
}

static void test_error_rules_select_opcode_lba_after_and_window(void **state)
{
	struct nvme_model *m = model_from(
	    "{\"errors\": [{\"status\": \"media:0x81\", \"opcodes\": [\"read\"], \"lba\": [100, "
	    "199],"
	    " \"after\": 3}, {\"status\": 6, \"opcodes\": [\"flush\"], \"window_ms\": [2, 4]}]}",
	    1);
	struct nvme_model_out o;
	struct nvme_model_cmd c = {
	    .qid = 1, .serial = 1, .opc = 0x02, .has_lba = true, .nlb = 8, .outstanding = 1};

	(void)state;
	/* Three commands pass first ("after"), inside the range or not. */
	for (unsigned i = 0; i < 3; i++) {
		c.slba = 150;
		c.now = 1;
		nvme_model_decide(m, &c, &o);
		assert_int_equal(o.status, 0);
	}
	c.slba = 150;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0x281);
	assert_int_equal(o.err_lba, 150);
	c.slba = 95; /* overlaps from 100 */
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0x281);
	assert_int_equal(o.err_lba, 100);
	c.slba = 200; /* past the range */
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0);
	c.slba = 150;
	c.opc = 0x01; /* a write: not in "opcodes" */
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0);
	/* Flush fails only 2..4 ms after the first command (at t = 1 ns). */
	c.opc = 0x00;
	c.has_lba = false;
	c.now = 1 + 1000000;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0);
	c.now = 1 + 2500000;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0x006);
	c.now = 1 + 4000000;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.status, 0);
	nvme_model_free(m);
}

static void test_iops_cap_spaces_commands_and_bandwidth_cap_counts_bytes(void **state)
{
	struct nvme_model *m = model_from("{\"iops\": 1000}", 1);
	struct nvme_model_out o;
	struct nvme_model_cmd c = {.qid = 1, .serial = 1, .opc = 0x02, .outstanding = 1};

	(void)state;
	/* Ten at once: slots 1 ms apart, the first at once. */
	for (unsigned i = 0; i < 10; i++) {
		c.now = 5;
		nvme_model_decide(m, &c, &o);
		assert_int_equal(o.not_before, 5 + i * 1000000ull);
		assert_int_equal(o.delay, 0);
	}
	/* Idle for long: no credit saved up, the next takes now. */
	c.now = 1000000000;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.not_before, 1000000000);
	nvme_model_free(m);

	m = model_from("{\"bandwidth\": \"1M\"}", 1);
	c.bytes = 4096;
	c.now = 5;
	nvme_model_decide(m, &c, &o);
	nvme_model_decide(m, &c, &o);
	/* 4 KiB at 1 MiB/s: 3.9 ms per command. */
	assert_int_equal(o.not_before, 5 + (uint64_t)(4096 * 1e9 / 1048576));
	nvme_model_free(m);
}

/* A controller reset (nvme_model_restart): the caps' clock that a host ran
 * far ahead holds back none of the next host's commands; and a clock at
 * the end of time saturates rather than wrap to the past. */
static void test_a_restart_forgets_the_caps_clock_which_never_wraps(void **state)
{
	struct nvme_model *m = model_from("{\"iops\": 10}", 1);
	struct nvme_model_out o;
	struct nvme_model_cmd c = {.qid = 1, .serial = 1, .opc = 0x02, .outstanding = 1};

	(void)state;
	c.now = 5;
	for (unsigned i = 0; i < 50; i++) /* 5 s of slots */
		nvme_model_decide(m, &c, &o);
	assert_int_equal(o.not_before, 5 + 49 * 100000000ull);
	nvme_model_restart(m);
	c.now = 1000;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.not_before, 1000);

	m->tat = UINT64_MAX - 10;
	nvme_model_decide(m, &c, &o);
	assert_true(o.not_before == UINT64_MAX - 10);
	nvme_model_decide(m, &c, &o);
	assert_true(o.not_before == UINT64_MAX); /* not 1e8 - 11 */
	nvme_model_free(m);
}

static void test_qd_ns_adds_per_other_outstanding_command(void **state)
{
	struct nvme_model *m = model_from("{\"read\": {\"fixed_us\": 10}, \"qd_ns\": 500}", 1);
	struct nvme_model_out o;
	struct nvme_model_cmd c = {.qid = 1, .serial = 1, .opc = 0x02, .now = 1};

	(void)state;
	c.outstanding = 1;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.delay, 10000);
	c.outstanding = 9;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.delay, 10000 + 8 * 500);
	/* Writes have no latency setting: only the queue-depth term. */
	c.opc = 0x01;
	nvme_model_decide(m, &c, &o);
	assert_int_equal(o.delay, 8 * 500);
	nvme_model_free(m);
}

static void test_status_names_and_numbers(void **state)
{
	uint16_t s;

	(void)state;
	assert_int_equal(nvme_model_status_parse("media:0x81", &s), 0);
	assert_int_equal(s, 0x281);
	assert_int_equal(nvme_model_status_parse("generic:6", &s), 0);
	assert_int_equal(s, 0x006);
	assert_int_equal(nvme_model_status_parse("2:0x80", &s), 0);
	assert_int_equal(s, 0x280);
	assert_int_equal(nvme_model_status_parse("0x281", &s), 0);
	assert_int_equal(s, 0x281);
	assert_int_equal(nvme_model_status_parse("unrecovered read error", &s), 0);
	assert_int_equal(s, 0x281);
	assert_int_equal(nvme_model_status_parse("media", &s), -EINVAL);
	assert_int_equal(nvme_model_status_parse("disk:1", &s), -EINVAL);
	assert_int_equal(nvme_model_status_parse("media:0x100", &s), -EINVAL);
	assert_int_equal(nvme_model_status_parse("generic:0", &s), -EINVAL);
	assert_int_equal(nvme_model_status_parse("0", &s), -EINVAL);
}

static void test_bad_models_are_refused_with_a_reason(void **state)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"sead\": 1}", "unknown key \"sead\""},
	    {"{\"bandwidth\": 100}", "at least 4096 bytes per second, not 100"},
	    {"{\"read\": {\"fixed_us\": -1}}", "fixed_us must be 0..10000000"},
	    {"{\"read\": {\"fixed_us\": \"80\"}}", "\"fixed_us\" must be a number"},
	    {"{\"read\": {\"fixed_us\": NaN}}", "\"fixed_us\" must be a finite number"},
	    {"{\"read\": {\"dist\": \"normal\", \"mean_us\": 1e400, \"stddev_us\": 1}}",
	     "\"mean_us\" must be a finite number"},
	    {"{\"errors\": [{\"status\": 1, \"rate\": NaN}]}", "\"rate\" must be a finite number"},
	    {"{\"read\": {\"dist\": \"gamma\"}}", "must be fixed, uniform"},
	    {"{\"read\": {\"dist\": \"uniform\", \"min_us\": 5}}", "needs \"max_us\""},
	    {"{\"read\": {\"dist\": \"uniform\", \"min_us\": 5, \"max_us\": 1}}",
	     "min_us <= max_us"},
	    {"{\"read\": {\"median_us\": 5}}", "belongs to \"dist\": \"lognormal\""},
	    {"{\"read\": {\"dist\": \"lognormal\", \"median_us\": 5, \"sigma\": -1}}",
	     "sigma 0..10"},
	    {"{\"read\": {\"dist\": \"empirical\"}}", "needs \"file\""},
	    {"{\"read\": {\"dist\": \"empirical\", \"file\": \"/nonexistent\"}}", "/nonexistent"},
	    {"{\"write\": {\"dist\": \"normal\", \"mean_us\": 1, \"stddev_us\": 1e300}}",
	     "stddev_us"},
	    {"{\"iops\": -5}", "\"iops\" must be 0.."},
	    {"{\"iops\": 1.5}", "\"iops\" must be an integer"},
	    {"{\"bandwidth\": \"fast\"}", "bytes per second"},
	    {"{\"errors\": [{\"rate\": 0.5}]}", "needs \"status\""},
	    {"{\"errors\": [{\"status\": \"media:0x81\", \"rate\": 1.5}]}", "rate\" must be 0..1"},
	    {"{\"errors\": [{\"status\": \"media:0x81\", \"rate\": -0.1}]}", "rate\" must be 0..1"},
	    {"{\"errors\": [{\"status\": \"broken\"}]}", "\"status\" \"broken\""},
	    {"{\"errors\": [{\"status\": 0}]}", "0x001..0x7ff"},
	    {"{\"errors\": [{\"status\": 1, \"opcodes\": [\"erase\"]}]}", "opcode \"erase\""},
	    {"{\"errors\": [{\"status\": 1, \"lba\": [10, 5]}]}", "is empty"},
	    {"{\"errors\": [{\"status\": 1, \"lba\": [-1, 5]}]}", "integers >= 0"},
	    {"{\"errors\": [{\"status\": 1, \"window_ms\": [4, 4]}]}", "from < to"},
	    {"{\"errors\": [{\"status\": 1, \"after\": -1}]}", "\"after\" must be 0.."},
	    {"{\"errors\": [{\"status\": 1, \"often\": 1}]}", "unknown key \"often\""},
	    {"[1]", "must be an object"},
	    {"{\"read\": ", "not JSON"},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nvme_model_conf c;
		err[0] = '\0';
		if (vn_model_parse_text(bad[i].json, &c, err, sizeof(err)) != -EINVAL)
			fail_msg("%s: accepted", bad[i].json);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].json, err, bad[i].msg);
	}
}

static void test_the_issue_example_parses(void **state)
{
	char path[128], json[1024], err[256] = "";
	struct nvme_model_conf c;

	(void)state;
	write_file(path, sizeof(path), "ssd.txt", "70 5\n90 3\n400 1\n");
	snprintf(
	    json, sizeof(json),
	    "{\"seed\": 42, \"read\": {\"fixed_us\": 80}, \"write\": {\"dist\": \"lognormal\", "
	    "\"median_us\": 30, \"sigma\": 0.5}, \"flush\": {\"dist\": \"empirical\", "
	    "\"file\": \"%s\"}, \"iops\": 100000, \"bandwidth\": \"400M\", \"qd_ns\": 500, "
	    "\"errors\": [{\"status\": \"media:0x81\", \"rate\": 0.001, \"opcodes\": "
	    "[\"read\"], \"lba\": [0, 4095], \"after\": 1000, \"window_ms\": [2000, 4000]}]}",
	    path);
	assert_int_equal(vn_model_parse_text(json, &c, err, sizeof(err)), 0);
	assert_int_equal(c.seed, 42);
	assert_true(c.lat[NVME_MODEL_READ].fixed_us == 80);
	assert_int_equal(c.lat[NVME_MODEL_WRITE].dist, NVME_DIST_LOGNORMAL);
	assert_int_equal(c.lat[NVME_MODEL_FLUSH].n, 3);
	assert_int_equal(c.bw, 400u << 20);
	assert_int_equal(c.nrules, 1);
	assert_int_equal(c.rules[0].status, 0x281);
	assert_int_equal(c.rules[0].opc_mask, 1u << 2);
	assert_int_equal(c.rules[0].after, 1000);
	nvme_model_conf_free(&c);
	/* And from a file, as --model @FILE reads it. */
	char at[140], *canon = NULL;
	write_file(path, sizeof(path), "model.json", "{\"read\": {\"fixed_us\": 5}}\n");
	snprintf(at, sizeof(at), "@%s", path);
	assert_int_equal(vn_model_canon_text(at, &canon, err, sizeof(err)), 0);
	assert_string_equal(canon, "{\"read\":{\"fixed_us\":5}}");
	free(canon);
	/* A relative empirical file: by absolute path in the canonical text,
	 * so that a saved configuration works from any directory. */
	char cwd[256], want[256], *real;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(vn_model_canon_text("{\"flush\": {\"dist\": \"empirical\", \"file\": "
					     "\"ssd.txt\"}}",
					     &canon, err, sizeof(err)),
			 0);
	assert_int_equal(chdir(cwd), 0);
	real = realpath(tmpdir, NULL);
	assert_non_null(real);
	snprintf(want, sizeof(want), "\"file\":\"%s/ssd.txt\"", real);
	free(real);
	if (!strstr(canon, want))
		fail_msg("%s does not hold %s", canon, want);
	free(canon);
}

/* The configuration file keeps a namespace's model as canonical text; it
 * parses back to the same model (save_config writes that text's object). */
static void test_config_namespace_model_round_trips(void **state)
{
	char path[128], err[256] = "";
	struct vnvme_target_conf conf;
	struct nvme_model_conf c;

	(void)state;
	write_file(
	    path, sizeof(path), "conf.json",
	    "{\"controllers\": [{\"socket\": \"/tmp/x%d.sock\", \"count\": 2, \"namespaces\": "
	    "[{\"backend\": \"null\", \"size\": \"1G\", \"model\": {\"seed\": 3, \"read\": "
	    "{\"fixed_us\": 2000}, \"iops\": 500}}, {\"backend\": \"null\"}]}]}");
	assert_int_equal(vn_conf_load_json(path, &conf, err, sizeof(err)), 0);
	assert_int_equal(conf.nr_ctrls, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_non_null(conf.ctrls[i].ns[0].model);
		assert_null(conf.ctrls[i].ns[1].model);
		assert_int_equal(
		    vn_model_parse_text(conf.ctrls[i].ns[0].model, &c, err, sizeof(err)), 0);
		assert_int_equal(c.seed, 3);
		assert_int_equal(c.iops, 500);
		assert_true(c.lat[NVME_MODEL_READ].fixed_us == 2000);
	}
	/* Each controller has its own copy (vn_conf_free frees each once). */
	assert_ptr_not_equal(conf.ctrls[0].ns[0].model, conf.ctrls[1].ns[0].model);
	vn_conf_free(&conf);

	write_file(path, sizeof(path), "bad.json",
		   "{\"controllers\": [{\"socket\": \"/tmp/x.sock\", \"namespaces\": "
		   "[{\"model\": {\"read\": {\"fixed_us\": -3}}}]}]}");
	assert_int_equal(vn_conf_load_json(path, &conf, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fixed_us must be"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed_adds_exactly_its_time),
	    cmocka_unit_test(test_uniform_spans_its_range),
	    cmocka_unit_test(test_normal_median_and_tail_follow_mean_and_stddev),
	    cmocka_unit_test(test_normal_never_goes_below_zero),
	    cmocka_unit_test(test_lognormal_median_and_tail_follow_median_and_sigma),
	    cmocka_unit_test(test_empirical_file_is_sampled_by_its_weights),
	    cmocka_unit_test(test_empirical_file_errors_name_file_and_line),
	    cmocka_unit_test(test_same_seed_same_sequence_other_seed_other),
	    cmocka_unit_test(test_a_new_queue_starts_its_sequence_again),
	    cmocka_unit_test(test_error_rules_select_opcode_lba_after_and_window),
	    cmocka_unit_test(test_iops_cap_spaces_commands_and_bandwidth_cap_counts_bytes),
	    cmocka_unit_test(test_a_restart_forgets_the_caps_clock_which_never_wraps),
	    cmocka_unit_test(test_qd_ns_adds_per_other_outstanding_command),
	    cmocka_unit_test(test_status_names_and_numbers),
	    cmocka_unit_test(test_bad_models_are_refused_with_a_reason),
	    cmocka_unit_test(test_the_issue_example_parses),
	    cmocka_unit_test(test_config_namespace_model_round_trips),
	};

	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
