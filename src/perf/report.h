/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf's output: the progress line once a second or every
 * --timeline interval (stderr), the result as text or JSON (stdout;
 * docs/perf.md has the schema; with --timeline the intervals' IOPS), its
 * errors (stderr), and the --plot PNG.
 */
#ifndef VN_PERF_REPORT_H
#define VN_PERF_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perf/engine.h"
#include "perf/opts.h"

/* Intervals a timeline keeps at most (16 MiB); later ones are dropped and
 * the JSON says so. */
#define TIMELINE_MAX (1u << 20)

/* --timeline with --json: the IOPS of each interval, as the progress line
 * showed them (the I/Os that succeeded). */
struct timeline {
	double *end_s; /* each interval's end, seconds after the jobs started */
	double *iops;  /* completions per second inside it */
	size_t n, cap;
	bool truncated; /* past TIMELINE_MAX: the rest were not kept */
};

/* One line a second (every --timeline ms) while the engine runs; returns
 * once no job does. t0: when the jobs started (engine_now_ns). With
 * --timeline and --json each interval goes into *tl, which
 * report_print shows and frees. */
void report_progress(const struct opts *o, uint64_t t0, struct timeline *tl);

/* The result, as text or JSON (with the timeline, when one was kept), and
 * its errors. Frees the timeline's arrays. */
void report_print(const struct opts *o, const struct result *r, struct timeline *tl);

/* 0, or -1 when no PNG was written to o->plot (said on stderr). */
int report_plot(const struct opts *o, const struct result *r);

#endif
