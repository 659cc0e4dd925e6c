/* SPDX-License-Identifier: MIT */
/*
 * Cheap timestamps for per-round and per-I/O accounting: the CPU's time-stamp
 * counter on x86-64 (one instruction, no syscall or vDSO call), CLOCK_MONOTONIC
 * nanoseconds elsewhere. Ticks become nanoseconds with vn_tsc_ns_per_tick(),
 * measured once per process against CLOCK_MONOTONIC.
 */
#ifndef VN_UTIL_TSC_H
#define VN_UTIL_TSC_H

#include <stdint.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#else
#include <time.h>
#endif

static inline uint64_t vn_tsc(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/* Nanoseconds per tick; the first call measures it (about 5 ms), once. */
double vn_tsc_ns_per_tick(void);

/* Ticks in ns nanoseconds (ns > 0 gives at least 1). */
uint64_t vn_tsc_from_ns(uint64_t ns);
/* Nanoseconds in ticks ticks (UINT64_MAX if they do not fit). */
uint64_t vn_tsc_to_ns(uint64_t ticks);

#endif
