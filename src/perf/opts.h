/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf's command line: the options struct, parsing with every check
 * that needs no device, and --help. Owned by main.c; the engine keeps its
 * own copy (engine_open) and the report reads it.
 */
#ifndef VN_PERF_OPTS_H
#define VN_PERF_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_DEVS 64
#define MAX_JOBS 64

enum rw { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_RANDRW };

struct opts {
	const char *devs[MAX_DEVS];
	unsigned nr_devs;
	enum rw rw;
	unsigned mix; /* read percentage for randrw */
	uint32_t bs;
	uint32_t qd;
	uint32_t qsize; /* ring entries per queue pair, 0: see queue_entries() */
	uint32_t batch; /* completions taken per batch at most (--batch) */
	unsigned jobs;
	int cpus[MAX_JOBS];
	unsigned nr_cpus;
	double runtime;
	uint64_t ios; /* per job, 0: by time */
	uint32_t nsid;
	uint64_t range_lbas; /* 0: whole namespace */
	bool verify, json, quiet, interrupts;
	bool attribute;       /* split each I/O's latency with the device's trace table */
	uint32_t timeline_ms; /* --timeline: progress every this many ms, in the JSON too; 0: 1 s */
	const char *plot;
	uint64_t seed;
};

/* Fill *o from the command line (defaults first). Returns -1 when the run
 * goes on, else the exit status: 0 after --help, 2 on bad options (said on
 * stderr). */
int opts_parse(struct opts *o, int argc, char **argv);

/* The run's name: what --rw says, or "verify". */
const char *opts_run_name(const struct opts *o);

#endif
