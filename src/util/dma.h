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
 *
 * Memory the peer can shrink under us. Touching a page of a shared file
 * mapping past the file's end raises SIGBUS, which would kill every device
 * of the process. Two defences (docs/vfio-user.md "Guest memory"):
 *  - a memfd that allows sealing gets F_SEAL_SHRINK (added here if the peer
 *    has not); a memfd sealed with F_SEAL_SEAL but not against shrinking
 *    cannot be sealed and is treated as below;
 *  - any other mapping is contained: a process-wide SIGBUS handler finds the
 *    mapping holding the faulting address (lock-free, through the published
 *    tables), maps anonymous zero pages over all of it with MAP_FIXED so the
 *    access completes, marks it poisoned and signals the owner's fault
 *    eventfd. The control thread then calls vn_dma_reap_faults(), which
 *    republishes the table with the mapping inaccessible (vn_dma_find() fails
 *    on it), and fails the one device that owns it.
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

#define VN_DMA_POISON_SLOTS 16

struct vn_dma_region {
	uint64_t iova;
	uint64_t len;
	uint8_t *vaddr; /* NULL: shared without an fd, not directly accessible */
	uint32_t prot;
	uint32_t poisoned; /* truncated under us: vaddr is NULL (vn_dma_reap_faults()) */
	void *map_base;    /* what to munmap */
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
	uint64_t max_bytes; /* 0: no limit */
	uint64_t gen;
	uint64_t mapped_bytes;
	int fault_fd;     /* eventfd the SIGBUS handler signals, or -1 */
	uint32_t reg_idx; /* slot in the fault registry */
	/* map_base of mappings the SIGBUS handler replaced, for the control
	 * thread to take away (0: free slot); when all are taken,
	 * poison_overflow makes it take every file mapping. */
	uintptr_t poison[VN_DMA_POISON_SLOTS];
	uint32_t poison_overflow;
};

/* At most this many vn_dma objects live at once in a process (a server each). */
#define VN_DMA_MAX_DOMAINS 1024

/*
 * max_maps: 0 means 65535. The map is registered for SIGBUS containment
 * (-EMFILE when VN_DMA_MAX_DOMAINS are registered already).
 */
int vn_dma_init(struct vn_dma *d, struct vn_qsbr *qsbr, uint32_t max_maps);
/* Cap on the bytes mapped at once (vn_dma_add() fails with -EDQUOT beyond). */
void vn_dma_set_max_bytes(struct vn_dma *d, uint64_t max_bytes);
/* The eventfd to signal when a mapping of this map is poisoned (-1: none). */
void vn_dma_set_fault_fd(struct vn_dma *d, int efd);

/*
 * Control thread: make every poisoned mapping inaccessible (a new table in
 * which its vaddr is NULL; its zero pages are unmapped when it is removed)
 * and call cb for each. Returns how many.
 */
int vn_dma_reap_faults(struct vn_dma *d, void (*cb)(void *arg, uint64_t iova, uint64_t len),
		       void *arg);
/* Unmaps everything (after a grace period) and frees the table. */
void vn_dma_fini(struct vn_dma *d);

/*
 * Map [iova, iova + len) to `fd` at `offset` (fd < 0: record a mapping with no
 * host pointer). Checks: len > 0, no wrap-around, offset + len inside a
 * regular file's size, no overlap with an existing map (-EEXIST), at most
 * max_maps (-ENOSPC) and max_bytes (-EDQUOT). A memfd that allows sealing
 * is sealed against shrinking (F_SEAL_SHRINK). The fd is not consumed: the caller closes it (the
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
