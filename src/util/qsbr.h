/* SPDX-License-Identifier: MIT */
/*
 * Quiescent-state-based reclamation (QSBR), the scheme that makes DMA map
 * changes and eventfd swaps safe against polling threads without any lock or
 * atomic read-modify-write on the polling side.
 *
 * Readers (polling threads) register once. Between two calls of
 * vn_qsbr_quiescent() a reader may hold pointers it loaded from shared,
 * published state (a DMA table, a host pointer it translated, an eventfd
 * number). A writer (the control thread) that unpublishes something first
 * publishes the replacement, then calls vn_qsbr_synchronize(), which returns
 * only once every online reader has announced a quiescent state after the
 * replacement became visible; only then is the old object freed, munmapped or
 * closed. A reader about to sleep goes offline (it holds nothing), and comes
 * back online before it touches shared state again; an offline reader never
 * delays a writer.
 *
 * Cost on the reader side: vn_qsbr_quiescent() is one acquire load and one
 * release store to the reader's own cache line (no fence: see qsbr.c).
 */
#ifndef VN_UTIL_QSBR_H
#define VN_UTIL_QSBR_H

#include <pthread.h>
#include <stdint.h>

#include "util/compiler.h"

struct vn_qsbr_reader {
	/* 0: offline; otherwise the grace-period counter last observed. */
	VN_CACHE_ALIGNED uint64_t ctr;
	struct vn_qsbr_reader *next;
	const char *name;
};

struct vn_qsbr {
	VN_CACHE_ALIGNED uint64_t gp; /* starts at 1, only grows */
	pthread_mutex_t lock;         /* writers and (un)registration */
	struct vn_qsbr_reader *readers;
};

void vn_qsbr_init(struct vn_qsbr *q);
void vn_qsbr_destroy(struct vn_qsbr *q);

/* Register a reader; it starts online. */
void vn_qsbr_register(struct vn_qsbr *q, struct vn_qsbr_reader *r, const char *name);
void vn_qsbr_unregister(struct vn_qsbr *q, struct vn_qsbr_reader *r);

/* Reader: "I hold no pointer into published state right now." */
static inline void vn_qsbr_quiescent(struct vn_qsbr *q, struct vn_qsbr_reader *r)
{
	/* Pairs with the fetch-add in vn_qsbr_synchronize(): once we see the new
	 * counter, every load we issue afterwards sees what the writer published
	 * before it advanced the counter. */
	uint64_t gp = vn_load_acquire(&q->gp);
	/* Release: our loads from the previous critical section complete before
	 * the writer can observe this announcement. */
	vn_store_release(&r->ctr, gp);
}

/* Reader: going to sleep, holding nothing. */
static inline void vn_qsbr_offline(struct vn_qsbr_reader *r)
{
	vn_store_release(&r->ctr, 0);
}

/* Reader: waking up; must be called before touching published state. */
static inline void vn_qsbr_online(struct vn_qsbr *q, struct vn_qsbr_reader *r)
{
	vn_store_relaxed(&r->ctr, vn_load_acquire(&q->gp));
	/* Full fence: the writer must see us online before we load any published
	 * pointer, or it could take us for offline and free what we then load
	 * (store->load order is the one x86 does not keep by itself). */
	vn_smp_mb();
}

/*
 * Writer: wait until every online reader has passed a quiescent state.
 * Call after publishing the replacement; then free the old object.
 * Sleeps (never spins hot); returns at once when no reader is online.
 */
void vn_qsbr_synchronize(struct vn_qsbr *q);

#endif
