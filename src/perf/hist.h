/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram: 16 linear buckets per power of two (relative
 * error under 6.25 %), values in nanoseconds up to 2^44 (4.9 hours).
 * Recording is a few instructions and no division.
 */
#ifndef VN_PERF_HIST_H
#define VN_PERF_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (HIST_SUB + (44 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;
	uint64_t sum; /* integers: no conversion per sample */
	unsigned __int128 sumsq;
	uint64_t b[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= 44)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	if (v < h->min || h->count == 1)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += v;
	h->sumsq += (unsigned __int128)v * v;
}

void hist_init(struct hist *h);
void hist_merge(struct hist *dst, const struct hist *src);
/* Lower bound of bucket i, in ns. */
uint64_t hist_bucket_low(unsigned i);
/* The p-th percentile (0 < p <= 100), as the upper end of its bucket. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);

#endif
