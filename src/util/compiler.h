/* SPDX-License-Identifier: MIT */
/*
 * Compiler helpers shared by every layer: branch hints, cache-line alignment,
 * and the acquire/release accessors for memory shared with another thread or
 * another process (doorbells, queue entries, DMA tables).
 */
#ifndef VN_UTIL_COMPILER_H
#define VN_UTIL_COMPILER_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vnvme assumes a little-endian host: NVMe and vfio-user wire data are little endian"
#endif

#define VN_CACHELINE 64

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define VN_COLD          __attribute__((cold, noinline))
#define VN_NOINLINE      __attribute__((noinline))
#define VN_INLINE        inline __attribute__((always_inline))
#define VN_UNUSED        __attribute__((unused))
#define VN_PRINTF(a, b)  __attribute__((format(printf, a, b)))
#define VN_CACHE_ALIGNED alignas(VN_CACHELINE)

#define VN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define vn_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define VN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VN_MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * Shared-index accessors. Every use names, in a comment, the other side it
 * orders against (STYLE.md "Hot path").
 */
#define vn_load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define vn_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define vn_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define vn_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define vn_smp_mb()            __atomic_thread_fence(__ATOMIC_SEQ_CST)

/*
 * Word views of wire structures (an SQE's first dword, a CQE's second
 * qword), for reading or writing several fields with one access.
 */
typedef uint16_t __attribute__((may_alias)) vn_u16_alias;
typedef uint32_t __attribute__((may_alias)) vn_u32_alias;
typedef uint64_t __attribute__((may_alias)) vn_u64_alias;

static inline void vn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Overflow-safe range check: does [off, off + len) fit in [0, lim)? */
static inline int vn_range_ok(uint64_t off, uint64_t len, uint64_t lim)
{
	return len <= lim && off <= lim - len;
}

#endif
