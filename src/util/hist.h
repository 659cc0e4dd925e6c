/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histogram: 16 linear buckets per power of two (relative
 * error under 6.25 %), over the whole uint64_t range (values are TSC ticks).
 * Recording is a bucket index without a branch (a conversion to double and
 * a shift), a bucket increment, two compares for min/max that are rarely
 * taken once the run is warm, and the sums (the 128-bit sum of squares keeps
 * the standard deviation exact).
 *
 * vnvme-perf keeps one per job for its latencies; the NVMe controller one per
 * submission queue for its service times (a batch of commands that took the
 * same time is one vn_hist_add_n). Single writer; a reader on another thread
 * sees a racy snapshot (vn_hist_copy).
 */
#ifndef VN_UTIL_HIST_H
#define VN_UTIL_HIST_H

#include <stdint.h>
#include <string.h>

#define VN_HIST_SUB_BITS 4
#define VN_HIST_SUB      (1u << VN_HIST_SUB_BITS)
/* 16 per power of two from 2^0 to 2^63, and one for values that round up to
 * 2^64 in the conversion (vn_hist_index). */
#define VN_HIST_BUCKETS (64 * VN_HIST_SUB + 1)

struct vn_hist {
	uint64_t count;    /* not kept by vn_hist_add: vn_hist_merge sums the buckets */
	uint64_t min, max; /* min is UINT64_MAX while empty: use vn_hist_min() */
	uint64_t sum;      /* integers: no conversion per sample */
	unsigned __int128 sumsq;
	uint64_t b[VN_HIST_BUCKETS];
};

/*
 * IEEE 754 does the work. The double nearest w has the exponent e =
 * floor(log2(w)) in bits 62:52 (biased by 1023) and the fraction below, so
 * bits 62:48 are 16 * (e + 1023) + the top four fraction bits: 16 * e + k
 * for w in [(16 + k) * 2^e / 16, (17 + k) * 2^e / 16). Taking w = 2v + 1
 * (never 0) puts 0 in bucket 0, and from v = 16 on (e >= 5) bucket 16e + k
 * holds the 2^(e-5) integers from (16 + k) << (e - 5): the same buckets as
 * a bit scan would give. Below, some buckets hold no integer. The conversion
 * is exact for v below 2^52; above, v may round into the next bucket. The
 * conversion is signed (no test for the top bit, as an unsigned one has):
 * v from 2^62 ticks on (a clock that went back: decades ahead otherwise)
 * wraps to a negative w, whose magnitude picks a bucket once the sign bit
 * is masked off; it stays in range, and max still shows it.
 */
static inline unsigned vn_hist_index(uint64_t v)
{
	double d = (double)(int64_t)(2 * v + 1);
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return (unsigned)((bits >> (52 - VN_HIST_SUB_BITS)) & 0x7fff) - (1023u << VN_HIST_SUB_BITS);
}

static inline void vn_hist_add(struct vn_hist *h, uint64_t v)
{
	h->b[vn_hist_index(v)]++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += v;
	h->sumsq += (unsigned __int128)v * v;
}

/* n samples of value v (n >= 1): a batch that took the same time. */
static inline void vn_hist_add_n(struct vn_hist *h, uint64_t v, uint64_t n)
{
	h->b[vn_hist_index(v)] += n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += v * n;
	h->sumsq += (unsigned __int128)v * v * n;
}

void vn_hist_init(struct vn_hist *h);
/* Empty h again, writing only the buckets between its min and max (those
 * it can have counted): pages of a large, lazily mapped array of
 * histograms that were never touched stay so. */
void vn_hist_clear(struct vn_hist *h);
/* dst = src as another thread sees it while src's writer runs: each field
 * read once (relaxed), count set to the sum of the buckets read. */
void vn_hist_copy(struct vn_hist *dst, const struct vn_hist *src);
/* The samples of a since b, for b an earlier copy of the same histogram
 * (an interval's view): buckets and sums subtracted, count recomputed
 * (buckets below b's read as 0: b was not earlier); min and max can only
 * be bounded, as the bucket range of what is left (max within a's). */
void vn_hist_sub(struct vn_hist *dst, const struct vn_hist *a, const struct vn_hist *b);
void vn_hist_merge(struct vn_hist *dst, const struct vn_hist *src);
/* The smallest sample, 0 when empty. */
uint64_t vn_hist_min(const struct vn_hist *h);
/* The smallest integer bucket i holds (buckets below 16 may hold none). */
uint64_t vn_hist_bucket_low(unsigned i);
/* The p-th percentile (0 < p <= 100), as the upper end of its bucket. */
uint64_t vn_hist_percentile(const struct vn_hist *h, double p);
double vn_hist_mean(const struct vn_hist *h);
double vn_hist_stdev(const struct vn_hist *h);

#endif
