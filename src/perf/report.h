/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf's output: the progress line once a second (stderr), the
 * result as text or JSON (stdout; docs/perf.md has the schema), its errors
 * (stderr), and the --plot PNG.
 */
#ifndef VN_PERF_REPORT_H
#define VN_PERF_REPORT_H

#include <stdint.h>

#include "perf/engine.h"
#include "perf/opts.h"

/* One line a second while the engine runs; returns once no job does. t0:
 * when the jobs started (engine_now_ns). */
void report_progress(const struct opts *o, uint64_t t0);

/* The result, as text or JSON, and its errors. */
void report_print(const struct opts *o, const struct result *r);

/* 0, or -1 when no PNG was written to o->plot (said on stderr). */
int report_plot(const struct opts *o, const struct result *r);

#endif
