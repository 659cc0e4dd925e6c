/* SPDX-License-Identifier: MIT */
/* The slowest and fastest of a run's whole 50 ms windows (bench/ceiling's
 * window_ops_min/max, the bench's steadiness check). A window with no
 * operation at all is a stall and must show as the minimum, so "no window
 * yet" is a count, never a zero rate. */
#ifndef VNVME_BENCH_WINDOW_H
#define VNVME_BENCH_WINDOW_H

#include <stdint.h>

struct window_range {
	uint64_t n;      /* windows seen */
	double min, max; /* ops/s; both 0 while n == 0 */
};

static inline void window_range_add(struct window_range *w, double ops)
{
	if (!w->n++ || ops < w->min)
		w->min = ops;
	if (w->n == 1 || ops > w->max)
		w->max = ops;
}

#endif
