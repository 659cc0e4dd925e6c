/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: PRP and SGL walks (src/nvme/dptr.c) against a DMA table
 * built from the input.
 *
 * Guest memory is an arena mapped one to one from IOVA 0 (IOVA == offset in
 * the arena), so PRP lists and SGL segments written into it can point at
 * themselves, at each other, into holes, across region edges, into
 * read-only regions or regions without a host pointer; one more region may
 * end at the very top of the address space. The command's data pointer, the
 * transfer length, the direction and whether SGLs are allowed come from the
 * input too.
 *
 * Oracle, beyond ASan/UBSan (the arena, the iovec array and the copy buffer
 * are exact-size heap blocks): a successful map covers exactly the transfer
 * length, and every iovec lies inside regions that allow the access (or,
 * writing to the host, is the SGL Bit Bucket scratch).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "nvme/priv.h"

#define ARENA    (256u * 1024) /* IOVA 0 .. 256 KiB */
#define TOP_SIZE 0x2000u
#define MAX_REG  8
#define MAX_LEN  (1u << 20)

static uint8_t *arena, *top;

/* Does [p, p + len) lie in regions that allow prot? (Several: dptr.c merges
 * iovecs that are contiguous in host memory, as adjacent regions here are.) */
static bool iov_ok(const struct vn_dma_table *t, const uint8_t *p, size_t len, uint32_t prot)
{
	while (len) {
		const struct vn_dma_region *r = NULL;
		for (uint32_t i = 0; i < t->nr && !r; i++) {
			const struct vn_dma_region *c = &t->r[i];
			if (c->vaddr && p >= c->vaddr && (uint64_t)(p - c->vaddr) < c->len)
				r = c;
		}
		if (!r || (r->prot & prot) != prot)
			return false;
		uint64_t in_r = r->len - (uint64_t)(p - r->vaddr);
		if (in_r >= len)
			return true;
		p += in_r;
		len -= in_r;
	}
	return true;
}

static bool in_buf(const uint8_t *p, size_t len, const uint8_t *b, size_t blen)
{
	return p >= b && p <= b + blen && len <= (size_t)(b + blen - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct vn_dma_table *t;
	struct vnvme_sqe sqe;
	uint64_t page = 0;

	if (!arena) {
		arena = malloc(ARENA);
		top = malloc(TOP_SIZE);
		if (!arena || !top)
			abort();
	}

	/* Header: region count, top-of-space region, operation, length. */
	unsigned hdr = (unsigned)take(&in, 1);
	unsigned nr = hdr % (MAX_REG + 1);
	bool want_top = hdr & 0x10;
	unsigned mode = (unsigned)take(&in, 1);
	uint64_t len = take(&in, 3) % (MAX_LEN + 1);

	t = calloc(1, sizeof(*t) + (MAX_REG + 1) * sizeof(t->r[0]));
	if (!t)
		abort();
	/* Regions in IOVA order: a gap (maybe none: adjacent edges), a length
	 * (maybe not a whole number of pages), a protection, maybe no pointer. */
	for (unsigned i = 0; i < nr; i++) {
		uint64_t gap = take(&in, 1) % 8, pages = 1 + take(&in, 1) % 16;
		unsigned fl = (unsigned)take(&in, 1);
		uint64_t start = (page + gap) * 4096 + (fl >> 4) * 8;
		uint64_t rlen = pages * 4096 - (fl & 0x80 ? 0x100 : 0);

		if (start >= ARENA)
			break;
		if (rlen > ARENA - start)
			rlen = ARENA - start;
		struct vn_dma_region *r = &t->r[t->nr++];
		r->iova = start;
		r->len = rlen;
		r->prot = (fl & 3) ? (fl & 3) : VN_DMA_READ | VN_DMA_WRITE;
		r->vaddr = (fl & 4) ? NULL : arena + start;
		page = (start + rlen + 4095) / 4096;
	}
	if (want_top) {
		struct vn_dma_region *r = &t->r[t->nr++];
		r->iova = UINT64_MAX - TOP_SIZE; /* the highest end vn_dma_add allows */
		r->len = TOP_SIZE;
		r->prot = VN_DMA_READ | VN_DMA_WRITE;
		r->vaddr = top;
	}

	/* The command: flags (PSDT) and the data pointer. */
	memset(&sqe, 0, sizeof(sqe));
	sqe.flags = (uint8_t)take(&in, 1);
	sqe.dptr.prp1 = take(&in, 8);
	sqe.dptr.prp2 = take(&in, 8);

	/* Guest memory: zeroes, then patches (offset, length, bytes). */
	memset(arena, 0, ARENA);
	memset(top, 0, TOP_SIZE);
	while (in.n >= 4) {
		uint64_t off = take(&in, 3), plen = take(&in, 1) * 8 + 8;
		uint8_t *dst = (off & 0x800000) ? top + (off % TOP_SIZE) : arena + (off % ARENA);
		uint8_t *end = (off & 0x800000) ? top + TOP_SIZE : arena + ARENA;
		if (plen > (uint64_t)(end - dst))
			plen = (uint64_t)(end - dst);
		if (plen > in.n)
			plen = in.n;
		memcpy(dst, in.p, plen);
		in.p += plen;
		in.n -= plen;
	}

	uint32_t prot = (mode & 1) ? VN_DMA_WRITE : VN_DMA_READ;
	if (mode & 2) {
		/* The I/O path: an iovec array of exactly NVME_MAX_IOV. */
		struct iovec *iov = malloc(NVME_MAX_IOV * sizeof(*iov));
		unsigned n = 0;
		if (!iov)
			abort();
		vnvme_status st =
		    nvme_dptr_map(t, &sqe, len, prot, iov, &n, NVME_MAX_IOV, mode & 4);
		if (n > NVME_MAX_IOV)
			abort();
		if (vnvme_status_ok(st)) {
			uint64_t sum = 0;
			for (unsigned i = 0; i < n; i++) {
				const uint8_t *p = iov[i].iov_base;
				sum += iov[i].iov_len;
				if (!iov_ok(t, p, iov[i].iov_len, prot) &&
				    !(prot == VN_DMA_WRITE && !in_buf(p, 1, arena, ARENA) &&
				      !in_buf(p, 1, top, TOP_SIZE)))
					abort(); /* outside the map, or against its protection */
			}
			if (sum != len)
				abort();
		}
		free(iov);
	} else {
		/* The admin path (PRPs only) and DSM's range list (SGLs too):
		 * copy to or from a buffer of exactly len bytes. */
		uint64_t clen = len % (64 * 1024 + 1);
		uint8_t *buf = malloc(clen ? clen : 1);
		if (!buf)
			abort();
		memset(buf, 0xa5, clen);
		if (mode & 1)
			nvme_dptr_copy_out(t, &sqe, buf, clen, mode & 4);
		else
			nvme_dptr_copy_in(t, &sqe, buf, clen, mode & 4);
		free(buf);
	}
	free(t);
	return 0;
}
