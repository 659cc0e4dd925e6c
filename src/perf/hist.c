/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "perf/hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		dst->count += src->b[i];
		dst->b[i] += src->b[i];
	}
}

uint64_t hist_min(const struct hist *h)
{
	return h->count ? h->min : 0;
}

/* The inverse of hist_index(): bucket 16e + k holds the v whose 2v + 1 is
 * at least (16 + k) * 2^e / 16, the smallest being ceil(((16 + k) << e) - 16)
 * / 32); the last bucket holds what rounded up to 2^64. */
uint64_t hist_bucket_low(unsigned i)
{
	unsigned e = i / HIST_SUB, k = i % HIST_SUB;

	if (e >= 64)
		return UINT64_MAX;
	if (e >= HIST_SUB_BITS + 1)
		return (uint64_t)(HIST_SUB + k) << (e - HIST_SUB_BITS - 1);
	return (((uint64_t)(HIST_SUB + k) << e) + 15) >> (HIST_SUB_BITS + 1);
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t hi = i + 1 < HIST_BUCKETS ? hist_bucket_low(i + 1) - 1 : h->max;
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double hist_stdev(const struct hist *h)
{
	double m, v;

	if (h->count < 2)
		return 0.0;
	m = hist_mean(h);
	v = (double)h->sumsq / (double)h->count - m * m;
	return v > 0 ? sqrt(v) : 0.0;
}
