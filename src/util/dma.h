/* SPDX-License-Identifier: MIT */
/*
 * DMA map: translation of the peer's I/O virtual addresses (guest physical
 * addresses under QEMU) to host pointers.
 *
 * The control thread owns a struct vn_dma and changes it with vn_dma_add() /
 * vn_dma_remove(). Every change builds a new, immutable, sorted table and
 * publishes it with one release store; polling threads load the current table
 * with vn_dma_table_get() and translate with vn_dma_find(), a binary search
 * with no lock, syscall or atomic read-modify-write. A removed mapping is
 * munmapped only after a QSBR grace period (util/qsbr.h), so a reader that
 * loaded the old table may use it, and every pointer it translated through
 * it, until its next quiescent state.
 *
 * A reader that keeps translated pointers across quiescent states (an NVMe
 * queue's ring, say) remembers the table it translated them with and
 * re-translates when vn_dma_table_get() returns another table: one load and
 * one compare per poll. If re-translation fails the memory is gone and the
 * device reports an error instead of touching it.
 */
#ifndef VN_UTIL_DMA_H
#define VN_UTIL_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"
#include "util/qsbr.h"

#define VN_DMA_READ  (1u << 0) /* the device may read (client's "readable") */
#define VN_DMA_WRITE (1u << 1) /* the device may write */

struct vn_dma_region {
	uint64_t iova;
	uint64_t len;
	uint8_t *vaddr; /* NULL: shared without an fd, not directly accessible */
	uint32_t prot;
	uint32_t rsvd;
	void *map_base; /* what to munmap */
	size_t map_len;
};

struct vn_dma_table {
	uint32_t nr;
	uint32_t rsvd;
	uint64_t gen;
	struct vn_dma_region r[]; /* sorted by iova, non-overlapping */
};

struct vn_dma {
	struct vn_dma_table *cur; /* published; see vn_dma_table_get() */
	struct vn_qsbr *qsbr;
	uint32_t max_maps;
	uint64_t gen;
	uint64_t mapped_bytes;
};

int vn_dma_init(struct vn_dma *d, struct vn_qsbr *qsbr, uint32_t max_maps);
/* Unmaps everything (after a grace period) and frees the table. */
void vn_dma_fini(struct vn_dma *d);

/*
 * Map [iova, iova + len) to `fd` at `offset` (fd < 0: record a mapping with no
 * host pointer). Checks: len > 0, no wrap-around, offset + len inside a
 * regular file's size, no overlap with an existing map (-EEXIST), at most
 * max_maps (-ENOSPC). The fd is not consumed: the caller closes it (the
 * mapping keeps the memory alive).
 */
int vn_dma_add(struct vn_dma *d, uint64_t iova, uint64_t len, uint32_t prot, int fd,
	       uint64_t offset);
/* Add host memory the caller owns (never munmapped by vn_dma). */
int vn_dma_add_host(struct vn_dma *d, uint64_t iova, uint64_t len, uint32_t prot, void *vaddr);

/* Remove the mapping that matches exactly (-ENOENT otherwise). */
int vn_dma_remove(struct vn_dma *d, uint64_t iova, uint64_t len);
void vn_dma_remove_all(struct vn_dma *d);

static inline const struct vn_dma_table *vn_dma_table_get(const struct vn_dma *d)
{
	/* Pairs with the release store in dma.c publish(): the table's contents
	 * are visible before its pointer. */
	return vn_load_acquire(&d->cur);
}

/* The region containing iova, or NULL. */
static inline const struct vn_dma_region *vn_dma_lookup(const struct vn_dma_table *t, uint64_t iova)
{
	uint32_t lo = 0, hi = t->nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct vn_dma_region *r = &t->r[mid];

		if (iova < r->iova)
			hi = mid;
		else if (iova - r->iova >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/*
 * Host pointer for [iova, iova + len) if the whole range lies in one mapping
 * that allows `prot` and has a host pointer; NULL otherwise.
 */
static inline void *vn_dma_find(const struct vn_dma_table *t, uint64_t iova, uint64_t len,
				uint32_t prot)
{
	const struct vn_dma_region *r = vn_dma_lookup(t, iova);
	uint64_t off;

	if (unlikely(!r || !r->vaddr || (r->prot & prot) != prot))
		return NULL;
	off = iova - r->iova;
	if (unlikely(!vn_range_ok(off, len, r->len)))
		return NULL;
	return r->vaddr + off;
}

/*
 * Why vn_dma_find() failed for this range, for error messages (slow path):
 * "not mapped", "shared without a file descriptor", "crosses the end of its
 * mapping", "not writable", "not readable"; NULL if it would succeed.
 */
const char *vn_dma_explain(const struct vn_dma_table *t, uint64_t iova, uint64_t len,
			   uint32_t prot);

#endif
