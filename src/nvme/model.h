/* SPDX-License-Identifier: MIT */
/*
 * Deterministic device models (docs/models.md): per namespace, an added
 * service time per command class (a fixed part plus a sample of a
 * distribution), an IOPS and a bandwidth cap, a queue-depth term, and error
 * injection rules. Pure: no JSON (the target parses its configuration into
 * struct nvme_model_conf), no clock of its own (the caller passes the time),
 * so it is unit-testable as it is.
 *
 * Reproducible: each queue draws from its own generator, seeded from (seed,
 * NSID, QID) when the queue is created, so the same seed gives the same
 * sequence of delays and errors for the same commands on a queue.
 */
#ifndef VN_NVME_MODEL_H
#define VN_NVME_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define NVME_MODEL_MAX_RULES  16
#define NVME_MODEL_MAX_POINTS 65536      /* lines of an empirical file */
#define NVME_MODEL_MAX_US     10000000.0 /* any one latency setting: 10 s */
#define NVME_MODEL_MAX_IOPS   100000000ull
#define NVME_MODEL_MAX_WIN_MS 86400000ull /* a day */

enum nvme_dist {
	NVME_DIST_NONE = 0, /* only fixed_us, if any */
	NVME_DIST_FIXED,    /* as NONE: the fixed part alone */
	NVME_DIST_UNIFORM,  /* p1 = min_us, p2 = max_us */
	NVME_DIST_NORMAL,   /* p1 = mean_us, p2 = stddev_us; below 0 counts as 0 */
	NVME_DIST_LOGNORMAL,
	/* p1 = median_us, p2 = sigma (of the logarithm) */
	NVME_DIST_EMPIRICAL, /* val[]/cdf[] from a file of "latency_us weight" lines */
};

/* Command classes with a latency setting of their own. */
/* The lowest bandwidth cap, bytes per second: below, a 2 MiB command would
 * cost days (a cap in MB by mistake). */
#define NVME_MODEL_MIN_BW 4096u

enum { NVME_MODEL_READ, NVME_MODEL_WRITE, NVME_MODEL_FLUSH, NVME_MODEL_NCLASS };

struct nvme_lat {
	enum nvme_dist dist;
	double fixed_us; /* added to every sample */
	double p1, p2;
	/* Empirical: n points, val ascending, cdf[i] the weight of val[0..i]
	 * over the total (cdf[n-1] = 1); file is where they came from. */
	uint32_t n;
	double *val, *cdf;
	char *file;
};

struct nvme_err_rule {
	uint16_t status;         /* SCT << 8 | SC, not 0 */
	double rate;             /* 0..1 */
	uint64_t opc_mask;       /* bit per opcode 0..63; 0: every I/O command */
	uint64_t lba_lo, lba_hi; /* inclusive; a command matches when it overlaps */
	bool lba_set;            /* else any command, with or without LBAs */
	uint64_t after;          /* the first `after` commands of a queue pass */
	uint64_t win_lo, win_hi; /* ms since the namespace's first command: [lo, hi) */
	bool win_set;
};

struct nvme_model_conf {
	uint64_t seed;
	struct nvme_lat lat[NVME_MODEL_NCLASS];
	uint64_t iops;  /* commands per second at most; 0: no cap */
	uint64_t bw;    /* bytes per second at most; 0: no cap */
	uint64_t qd_ns; /* added per other command outstanding on the queue */
	unsigned nrules;
	struct nvme_err_rule rules[NVME_MODEL_MAX_RULES];
};

/* The class of an NVM opcode (Compare reads, Write Zeroes and DSM write). */
static inline unsigned nvme_model_class(uint8_t opc)
{
	switch (opc) {
	case 0x00: /* Flush */
		return NVME_MODEL_FLUSH;
	case 0x02: /* Read */
	case 0x05: /* Compare */
		return NVME_MODEL_READ;
	default:
		return NVME_MODEL_WRITE;
	}
}

/* Check every value (NaN, negative, out of range, min > max ...): 0, or
 * -EINVAL with a sentence in err. */
int nvme_model_conf_check(const struct nvme_model_conf *c, char *err, size_t errlen);
/* Read an empirical file into l (dist, n, val, cdf; file is the caller's):
 * "latency_us weight" per line, '#' comments and blank lines skipped. 0 or
 * -errno with a sentence naming the file and line. */
int nvme_lat_load(struct nvme_lat *l, const char *path, char *err, size_t errlen);
/* Free what a conf owns (empirical tables, file names). */
void nvme_model_conf_free(struct nvme_model_conf *c);
/* A deep copy. */
int nvme_model_conf_dup(const struct nvme_model_conf *src, struct nvme_model_conf *dst);

/* A status by name: "media:0x81", "generic:6", "2:0x81", "0x281", or a
 * spec name ("Unrecovered Read Error", any case). 0 or -EINVAL. */
int nvme_model_status_parse(const char *s, uint16_t *out);

/* The generator: xoshiro256** seeded by splitmix64. */
struct nvme_rng {
	uint64_t s[4];
};
void nvme_rng_seed(struct nvme_rng *r, uint64_t seed, uint32_t nsid, uint32_t qid);
uint64_t nvme_rng_next(struct nvme_rng *r);
/* Uniform in [0, 1). */
double nvme_rng_unit(struct nvme_rng *r);
/* One sample of l, in microseconds, fixed part included, clamped to
 * 0..NVME_MODEL_MAX_US. */
double nvme_lat_sample_us(const struct nvme_lat *l, struct nvme_rng *r);

/* Per queue: written only by the queue's poller. */
struct nvme_model_q {
	VN_CACHE_ALIGNED struct nvme_rng rng;
	uint64_t cmds;   /* this namespace's commands on the queue so far */
	uint32_t serial; /* the queue it was seeded for; 0: none yet */
};

/* A namespace's model as it runs. */
struct nvme_model {
	struct nvme_model_conf c;
	uint32_t nsid;
	uint32_t nq; /* q[0..nq] by QID */
	double ticks_per_us;
	uint64_t cost_iops;    /* ticks per command at the IOPS cap */
	double ticks_per_byte; /* at the bandwidth cap */
	uint64_t qd_ticks;
	uint64_t win_ticks[NVME_MODEL_MAX_RULES][2];
	struct nvme_model_q *q;
	/* Shared by the pollers. */
	VN_CACHE_ALIGNED uint64_t tat; /* the caps' virtual clock (GCRA), ticks */
	uint64_t t0;                   /* the first command's time, ticks; 0: none yet */
};

/* A copy of c for namespace nsid, QIDs 0..nq, with ns_per_tick the clock's
 * unit (1.0: the caller passes nanoseconds). */
int nvme_model_new(const struct nvme_model_conf *c, uint32_t nsid, uint32_t nq, double ns_per_tick,
		   struct nvme_model **out);
void nvme_model_free(struct nvme_model *m);

struct nvme_model_cmd {
	uint16_t qid;
	uint32_t serial; /* the queue's (nvme_sq.serial): a new queue is seeded again */
	uint8_t opc;
	bool has_lba; /* slba and nlb mean something */
	uint64_t slba, nlb;
	uint64_t bytes;       /* data moved, for the bandwidth cap */
	uint32_t outstanding; /* commands in flight on the queue, this one included */
	uint64_t now;         /* ticks, > 0 */
};

struct nvme_model_out {
	uint64_t delay;      /* ticks to add from completion */
	uint64_t not_before; /* ticks: the caps' slot; 0: none */
	uint16_t status;     /* 0, or the injected SCT << 8 | SC */
	uint64_t err_lba;    /* for the error log */
};

/* Decide one command: the error (first matching rule that fires), then the
 * delay. The generator advances the same way for the same commands. */
/* A controller reset (no queue left, no command in flight): the caps' clock
 * and the error windows start again, so that what one host ran before
 * holds back none of the next host's commands. */
void nvme_model_restart(struct nvme_model *m);
void nvme_model_decide(struct nvme_model *m, const struct nvme_model_cmd *cmd,
		       struct nvme_model_out *o);

#endif
