/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf's engine: the devices, the jobs (one thread each, a queue pair
 * on every device) and their I/O loops. It owns all of that state, in
 * engine.c; the rest of the program sees the calls below and, at the end,
 * a struct result.
 *
 * Calls: engine_calibrate, engine_open, engine_start, then (any thread)
 * engine_running/engine_counts, engine_wait, engine_result, engine_close.
 * engine_stop may come at any time, from a signal handler too.
 */
#ifndef VN_PERF_ENGINE_H
#define VN_PERF_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/hist.h"
#include "perf/opts.h"

/*
 * --attribute: each I/O's latency (host submit to host reap) split at the
 * device's stamps; in TSC ticks, of the I/Os that succeeded and whose
 * record was found (an I/O's parts sum to its total exactly).
 */
enum {
	AT_SUBMIT_FETCH, /* host submit -> device fetch */
	AT_FETCH_DONE,   /* device fetch -> backend done */
	AT_DONE_POST,    /* backend done -> CQE post */
	AT_POST_REAP,    /* device post -> host reap */
	AT_SERVICE,      /* device fetch -> post: the two above */
	AT_TOTAL,        /* submit -> reap */
	AT_NR
};

struct attribution {
	struct vn_hist h[AT_NR];
	uint64_t missed;   /* I/Os whose record was not theirs (another CID in the slot) */
	uint64_t clamped;  /* I/Os whose stamps fell outside [submit, reap], clamped (engine.c) */
	uint64_t skew_max; /* ... by this much at most, in ticks */
};

/* What the jobs did, merged. */
struct result {
	struct vn_hist rd, wr;   /* latencies in TSC ticks, of the I/Os that succeeded */
	double tsc_ns;           /* ns per TSC tick */
	double secs;             /* the time I/O ran: first start to last completion */
	uint32_t ring;           /* entries per ring (the first queue pair's) */
	uint64_t errors;         /* failed and lost I/Os, failed submissions */
	uint64_t mismatches;     /* --verify: blocks that read back wrong */
	uint64_t first_bad;      /* ... the first one's LBA */
	const char *first_error; /* NULL, or the first job's first error (engine-owned) */
	int fatal;               /* -errno of a job that lost its device, or 0 */
	struct attribution *at;  /* --attribute: the split (engine-owned), else NULL */
};

/* Measure the TSC against CLOCK_MONOTONIC (20 ms). */
void engine_calibrate(void);

/* Open the devices of *o (copied) and set up every job's queue pairs and
 * buffers. 0, or the exit status (1: a device failed, 2: options that do
 * not fit it), said on stderr. */
int engine_open(const struct opts *o);

/* Start the jobs' threads. */
void engine_start(void);

/* Ask every job to stop submitting. Async-signal-safe. */
void engine_stop(void);

/* CLOCK_MONOTONIC in ns. */
uint64_t engine_now_ns(void);

/* Is any job still running? (acquire: its counters are final once not) */
bool engine_running(void);

/* The completions and errors of all jobs so far (relaxed reads). */
void engine_counts(uint64_t *done, uint64_t *errors);

/* Join the jobs' threads. */
void engine_wait(void);

/* The merged results, once engine_wait returned. */
void engine_result(struct result *r);

/* Destroy the queue pairs and close the devices, unless one failed. */
void engine_close(const struct result *r);

#endif
