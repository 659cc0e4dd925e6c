/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "util/hist.h"

void vn_hist_init(struct vn_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void vn_hist_merge(struct vn_hist *dst, const struct vn_hist *src)
{
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++) {
		dst->count += src->b[i];
		dst->b[i] += src->b[i];
	}
}

void vn_hist_clear(struct vn_hist *h)
{
	if (h->max >= 1ull << 62) {
		/* Past 2^62 vn_hist_index wraps: min and max no longer bound
		 * the buckets used. */
		memset(h->b, 0, sizeof(h->b));
	} else if (h->min <= h->max) {
		unsigned lo = vn_hist_index(h->min), hi = vn_hist_index(h->max);
		memset(&h->b[lo], 0, (size_t)(hi - lo + 1) * sizeof(h->b[0]));
	}
	h->count = h->max = h->sum = 0;
	h->sumsq = 0;
	h->min = UINT64_MAX;
}

void vn_hist_copy(struct vn_hist *dst, const struct vn_hist *src)
{
	dst->min = __atomic_load_n(&src->min, __ATOMIC_RELAXED);
	dst->max = __atomic_load_n(&src->max, __ATOMIC_RELAXED);
	dst->sum = __atomic_load_n(&src->sum, __ATOMIC_RELAXED);
	/* 128 bits: no atomic load; a torn read only skews the deviation. */
	dst->sumsq = *(const volatile unsigned __int128 *)&src->sumsq;
	dst->count = 0;
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++) {
		dst->b[i] = __atomic_load_n(&src->b[i], __ATOMIC_RELAXED);
		dst->count += dst->b[i];
	}
}

void vn_hist_sub(struct vn_hist *dst, const struct vn_hist *a, const struct vn_hist *b)
{
	unsigned lo = VN_HIST_BUCKETS, hi = 0;

	dst->count = 0;
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++) {
		dst->b[i] = a->b[i] > b->b[i] ? a->b[i] - b->b[i] : 0;
		dst->count += dst->b[i];
		if (dst->b[i]) {
			if (lo == VN_HIST_BUCKETS)
				lo = i;
			hi = i;
		}
	}
	if (!dst->count) {
		dst->min = UINT64_MAX;
		dst->max = dst->sum = 0;
		dst->sumsq = 0;
		return;
	}
	dst->sum = a->sum > b->sum ? a->sum - b->sum : 0;
	dst->sumsq = a->sumsq > b->sumsq ? a->sumsq - b->sumsq : 0;
	dst->min = vn_hist_bucket_low(lo);
	if (a->min > dst->min)
		dst->min = a->min;
	dst->max = hi + 1 < VN_HIST_BUCKETS ? vn_hist_bucket_low(hi + 1) - 1 : a->max;
	if (a->max < dst->max)
		dst->max = a->max;
}

uint64_t vn_hist_min(const struct vn_hist *h)
{
	return h->count ? h->min : 0;
}

/* The inverse of vn_hist_index(): bucket 16e + k holds the v whose 2v + 1 is
 * at least (16 + k) * 2^e / 16, the smallest being ceil(((16 + k) << e) - 16)
 * / 32); the last bucket holds what rounded up to 2^64. */
uint64_t vn_hist_bucket_low(unsigned i)
{
	unsigned e = i / VN_HIST_SUB, k = i % VN_HIST_SUB;

	if (e >= 64)
		return UINT64_MAX;
	if (e >= VN_HIST_SUB_BITS + 1)
		return (uint64_t)(VN_HIST_SUB + k) << (e - VN_HIST_SUB_BITS - 1);
	return (((uint64_t)(VN_HIST_SUB + k) << e) + 15) >> (VN_HIST_SUB_BITS + 1);
}

uint64_t vn_hist_percentile(const struct vn_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < VN_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t hi =
			    i + 1 < VN_HIST_BUCKETS ? vn_hist_bucket_low(i + 1) - 1 : h->max;
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

double vn_hist_mean(const struct vn_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double vn_hist_stdev(const struct vn_hist *h)
{
	double m, v;

	if (h->count < 2)
		return 0.0;
	m = vn_hist_mean(h);
	v = (double)h->sumsq / (double)h->count - m * m;
	return v > 0 ? sqrt(v) : 0.0;
}
