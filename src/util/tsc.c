/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <time.h>

#include "util/tsc.h"

static double ns_per_tick = 1.0;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void calibrate(void)
{
#if defined(__x86_64__)
	struct timespec nap = {0, 5000000};
	uint64_t n0 = mono_ns(), t0 = vn_tsc(), n1, t1;

	nanosleep(&nap, NULL);
	n1 = mono_ns();
	t1 = vn_tsc();
	if (t1 > t0 && n1 > n0)
		ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
#endif
}

double vn_tsc_ns_per_tick(void)
{
	pthread_once(&once, calibrate);
	return ns_per_tick;
}

uint64_t vn_tsc_from_ns(uint64_t ns)
{
	uint64_t t = (uint64_t)((double)ns / vn_tsc_ns_per_tick());

	return t ? t : (ns ? 1 : 0);
}

uint64_t vn_tsc_to_ns(uint64_t ticks)
{
	double ns = (double)ticks * vn_tsc_ns_per_tick() + 0.5;

	/* Saturated: a difference from a clock that went back can be near
	 * 2^64 ticks, and a double beyond uint64_t converts undefined. */
	return ns < 0x1p64 ? (uint64_t)ns : UINT64_MAX;
}
