/* SPDX-License-Identifier: MIT */
/*
 * Polling threads. A poller is a thread (optionally pinned to a CPU) that
 * calls the poll functions of the pollables it owns, round after round, and
 * backs off into a sleep when a stretch of rounds found no work, so an idle
 * target burns no CPU.
 *
 * Only the poller thread touches its pollable list. Other threads change it,
 * or anything else the poller owns, by posting a function to run on the
 * poller thread (vn_poller_post: asynchronous; vn_poller_call: waits). A post
 * wakes a sleeping poller at once.
 *
 * Idle back-off: after VN_POLLER_SPIN_NS of rounds without work the poller
 * sleeps 50 us, then doubles the sleep up to VN_POLLER_MAX_SLEEP_US; any work
 * resets it. So the first I/O after an idle stretch waits at most
 * VN_POLLER_MAX_SLEEP_US (plus the scheduler's wake-up), and a poller that
 * sees steady work never sleeps. While asleep the poller is offline for QSBR.
 */
#ifndef VN_UTIL_POLLER_H
#define VN_UTIL_POLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"
#include "util/qsbr.h"

#define VN_POLLER_SPIN_NS      200000ull /* 200 us of empty rounds before sleeping */
#define VN_POLLER_MAX_SLEEP_US 1000u

struct vn_poller;
struct vn_pollable;

/* Returns the amount of work done (0: nothing to do). Runs on the poller. */
typedef unsigned (*vn_poll_fn)(struct vn_pollable *p);

/* A slow pollable is polled once every VN_POLLER_SLOW_EVERY rounds while
 * the poller finds work, and every round once it finds none: for queues
 * whose latency matters little (admin), so busy rounds stay short. */
#define VN_POLLER_SLOW_EVERY 64u

struct vn_pollable {
	vn_poll_fn poll;
	struct vn_pollable *next; /* the poller's list */
	struct vn_poller *owner;
	bool slow; /* set before vn_poller_add */
};

struct vn_poller_stats {
	uint64_t rounds;
	uint64_t busy_rounds;
	uint64_t busy_ns; /* time in rounds that found work */
	uint64_t idle_ns; /* time in rounds that found none, sleeping included */
	uint64_t sleeps;
	uint64_t posts;
};

/* cpu < 0: not pinned. The poller registers with qsbr (may be NULL). */
int vn_poller_create(int cpu, struct vn_qsbr *qsbr, const char *name, struct vn_poller **out);
/* A poller without a thread of its own, for harnesses that want every run
 * deterministic (fuzz_nvme_ctrl): its creator is its thread
 * (vn_poller_is_current, vn_poller_call run inline) and drives it with
 * vn_poller_step. Not registered with QSBR: a DMA table it reads must not
 * change. */
int vn_poller_create_inline(const char *name, struct vn_poller **out);
/* On an inline poller, from its thread: run the posted messages, then one
 * round of every pollable (slow ones included), and return true. On a
 * threaded poller: nothing, false. Code that waits for a poller to act
 * calls it in its wait loop, so that it also works inline. */
bool vn_poller_step(struct vn_poller *p);
/* Stops the thread; pollables still attached are left alone (their owner
 * frees them). Must not be called from the poller itself. */
void vn_poller_destroy(struct vn_poller *p);

/* Run fn(arg) on the poller thread, soon. Thread-safe; never blocks long. */
int vn_poller_post(struct vn_poller *p, void (*fn)(void *), void *arg);
/* Run fn(arg) on the poller thread and wait for it (not from the poller). */
int vn_poller_call(struct vn_poller *p, void (*fn)(void *), void *arg);
bool vn_poller_is_current(const struct vn_poller *p);

/* Poller thread only (from a pollable or a posted function). */
void vn_poller_add(struct vn_poller *p, struct vn_pollable *pl);
void vn_poller_remove(struct vn_poller *p, struct vn_pollable *pl);

void vn_poller_get_stats(const struct vn_poller *p, struct vn_poller_stats *out);
int vn_poller_cpu(const struct vn_poller *p);
const char *vn_poller_name(const struct vn_poller *p);

#endif
