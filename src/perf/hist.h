/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram: 16 linear buckets per power of two (relative
 * error under 6.25 %), over the whole uint64_t range (values are TSC ticks).
 * Recording is a bucket index without a branch (one bit scan, two shifts and
 * an add), a bucket increment, two compares for min/max that are rarely
 * taken once the run is warm, and the sums (the 128-bit sum of squares keeps
 * the standard deviation exact).
 */
#ifndef VN_PERF_HIST_H
#define VN_PERF_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;    /* not kept by hist_add: hist_merge sums the buckets */
	uint64_t min, max; /* min is UINT64_MAX while empty: use hist_min() */
	uint64_t sum;      /* integers: no conversion per sample */
	unsigned __int128 sumsq;
	uint64_t b[HIST_BUCKETS];
};

/*
 * s = floor(log2(max(v, 16))) - 4 is the bucket's shift: values below 32 have
 * buckets of width 1 (s = 0, index v); above, v >> s is in [16, 32), the
 * top five bits, so bucket 16 * s + (v >> s) spans 2^s values.
 */
static inline unsigned hist_index(uint64_t v)
{
	unsigned s = 63u - HIST_SUB_BITS - (unsigned)__builtin_clzll(v | HIST_SUB);

	return (s << HIST_SUB_BITS) + (unsigned)(v >> s);
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += v;
	h->sumsq += (unsigned __int128)v * v;
}

void hist_init(struct hist *h);
void hist_merge(struct hist *dst, const struct hist *src);
/* The smallest sample, 0 when empty. */
uint64_t hist_min(const struct hist *h);
/* Lower bound of bucket i. */
uint64_t hist_bucket_low(unsigned i);
/* The p-th percentile (0 < p <= 100), as the upper end of its bucket. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);

#endif
