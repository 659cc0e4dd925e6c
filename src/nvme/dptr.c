/* SPDX-License-Identifier: MIT */
/*
 * Data pointers: PRP lists and SGLs, translated through the DMA map into host
 * iovecs. Every guest address goes through vn_dma_find(); a miss is a Data
 * Transfer Error, never an access. Loops the guest controls are bounded:
 * PRP list pages by the transfer length (itself bounded by MDTS) and 64
 * list pages, SGLs by NVME_SGL_MAX_DESC descriptors and NVME_SGL_MAX_SEGS
 * segments per command, and both by the iovec count.
 *
 * One routine, nvme_dptr_map(), maps every data pointer: Read, Write and
 * Compare through it directly, the rest (Dataset Management's range list,
 * admin data) through nvme_dptr_copy_in/out. sgl_ok says whether the
 * command may use SGLs: I/O commands may, admin commands may not (NVMe Base
 * 2.0c §4.1 "Submission Queue Entry": PSDT, "PRPs shall be used for all
 * Admin commands for NVMe over PCIe").
 */
#include <string.h>

#include "nvme/priv.h"

VN_COLD vnvme_status nvme_dptr_refuse(unsigned sc, const char *field, uint64_t val,
				      const char *rule)
{
	nvme_dptr_fault = (struct nvme_dptr_fault){.field = field, .rule = rule, .val = val};
	return nvme_sc(sc);
}

#define fault      nvme_dptr_refuse
#define NOT_MAPPED NVME_DPTR_NOT_MAPPED

/* Append [addr, addr + len) to the iovec, merging with the previous entry
 * when the host memory is contiguous; field names the pointer for a fault. */
static vnvme_status iov_add(const struct vn_dma_table *t, uint64_t addr, uint64_t len,
			    uint32_t prot, struct iovec *iov, unsigned *n, unsigned max,
			    const char *field)
{
	uint8_t *p = vn_dma_find(t, addr, len, prot);

	if (unlikely(!p))
		return fault(VNVME_SC_DATA_XFER_ERROR, field, addr, NOT_MAPPED);
	if (*n && (uint8_t *)iov[*n - 1].iov_base + iov[*n - 1].iov_len == p) {
		iov[*n - 1].iov_len += len;
		return NVME_OK;
	}
	if (unlikely(*n == max))
		return fault(VNVME_SC_DATA_XFER_ERROR, field, addr,
			     "the data is in more pieces than the controller takes (MDTS pages)");
	iov[*n].iov_base = p;
	iov[*n].iov_len = len;
	(*n)++;
	return NVME_OK;
}

/*
 * NVMe Base 2.0c §4.1.1 "Physical Region Page Entry and List": PRP1 may carry
 * a dword-aligned offset; PRP2 is the second page, or a list (qword aligned,
 * any offset) whose entries are page addresses and whose last entry chains to
 * the next list page.
 */
static vnvme_status prp_map(const struct vn_dma_table *t, uint64_t prp1, uint64_t prp2,
			    uint64_t len, uint32_t prot, struct iovec *iov, unsigned *n,
			    unsigned max)
{
	const uint64_t pg = NVME_PAGE_SIZE;
	uint64_t first = pg - (prp1 & (pg - 1));
	vnvme_status st;

	if (unlikely(prp1 & 3))
		return fault(VNVME_SC_PRP_OFFSET_INVALID, "PRP1", prp1,
			     "dword aligned (bits 1:0 clear)");
	if (len <= first)
		return iov_add(t, prp1, len, prot, iov, n, max, "PRP1");
	st = iov_add(t, prp1, first, prot, iov, n, max, "PRP1");
	if (unlikely(!vnvme_status_ok(st)))
		return st;
	len -= first;
	if (len <= pg) {
		if (unlikely(prp2 & (pg - 1)))
			return fault(VNVME_SC_PRP_OFFSET_INVALID, "PRP2", prp2,
				     "page aligned when it is the second page of data");
		return iov_add(t, prp2, len, prot, iov, n, max, "PRP2");
	}

	/* A PRP list. */
	if (unlikely(prp2 & 7))
		return fault(VNVME_SC_PRP_OFFSET_INVALID, "PRP2 (PRP list pointer)", prp2,
			     "qword aligned (bits 2:0 clear)");
	uint64_t list = prp2;
	unsigned lists = 0;
	while (len) {
		/* A list page that holds only its chain entry consumes no data:
		 * bound the walk so a self-referencing chain ends. */
		if (unlikely(++lists > 64))
			return fault(VNVME_SC_DATA_XFER_ERROR, "PRP list pointer", list,
				     "at most 64 chained PRP list pages (a chain that consumes "
				     "no data loops)");
		/* Entries left in this list page. */
		uint64_t in_page = (pg - (list & (pg - 1))) / 8;
		const uint64_t *ent = vn_dma_find(t, list, in_page * 8, VN_DMA_READ);

		if (unlikely(!ent))
			return fault(VNVME_SC_DATA_XFER_ERROR, "PRP list", list, NOT_MAPPED);
		for (uint64_t i = 0; i < in_page && len; i++) {
			uint64_t e = vn_load_relaxed(&ent[i]);

			if (i == in_page - 1 && len > pg) {
				/* The last entry chains to the next list page. */
				if (unlikely(e & 7))
					return fault(VNVME_SC_PRP_OFFSET_INVALID,
						     "PRP list chain entry", e,
						     "qword aligned (bits 2:0 clear)");
				list = e;
				goto next_list;
			}
			if (unlikely(e & (pg - 1)))
				return fault(VNVME_SC_PRP_OFFSET_INVALID, "PRP list entry", e,
					     "page aligned (offset 0)");
			uint64_t chunk = VN_MIN(len, pg);
			st = iov_add(t, e, chunk, prot, iov, n, max, "PRP list entry");
			if (unlikely(!vnvme_status_ok(st)))
				return st;
			len -= chunk;
		}
		break;
	next_list:;
	}
	return NVME_OK;
}

/* Scratch for SGL Bit Bucket descriptors: read data the host discards. */
static __thread uint8_t bit_bucket[64 * 1024];

/*
 * One SGL walk: what is left of the command's transfer, and what is left of
 * the work it may cost. Zero-length Data Block descriptors move no data and
 * use no iovec, so the transfer length alone does not bound the walk: every
 * descriptor read, of any type, counts against NVME_SGL_MAX_DESC, and every
 * segment against NVME_SGL_MAX_SEGS.
 */
struct sgl_walk {
	const struct vn_dma_table *t;
	uint64_t left; /* bytes of the transfer not yet described */
	uint32_t prot;
	unsigned desc; /* descriptors used, the SQE's included */
	unsigned segs; /* segments entered */
	struct iovec *iov;
	unsigned *n;
	unsigned max;
};

/*
 * NVMe Base 2.0c §4.1.2 "Scatter Gather List (SGL)": the SQE holds one
 * descriptor; a (Last) Segment descriptor points to a list of descriptors in
 * host memory, whose last entry may chain to the next segment.
 */
static vnvme_status sgl_desc(struct sgl_walk *w, const struct vnvme_sgl_desc *d)
{
	unsigned type = vnvme_sgl_type(d), sub = vnvme_sgl_subtype(d);
	uint64_t len = d->length;

	if (unlikely(sub != VNVME_SGL_SUBTYPE_ADDRESS))
		return fault(VNVME_SC_SGL_DESC_TYPE_INVALID, "SGL descriptor subtype", sub,
			     "0h (Address)");
	if (type == VNVME_SGL_TYPE_DATA_BLOCK) {
		if (len > w->left) /* more than the command transfers */
			return fault(VNVME_SC_DATA_SGL_LEN_INVALID, "SGL Data Block length", len,
				     "no more than the command transfers");
		if (!len)
			return NVME_OK;
		w->left -= len;
		return iov_add(w->t, d->addr, len, w->prot, w->iov, w->n, w->max,
			       "SGL Data Block address");
	}
	if (type == VNVME_SGL_TYPE_BIT_BUCKET) {
		/* Only meaningful when the controller writes to the host. */
		if (unlikely(!(w->prot & VN_DMA_WRITE)))
			return fault(VNVME_SC_SGL_DESC_TYPE_INVALID, "SGL descriptor type", type,
				     "a Bit Bucket only where the controller writes to the host");
		if (len > w->left)
			return fault(VNVME_SC_DATA_SGL_LEN_INVALID, "SGL Bit Bucket length", len,
				     "no more than the command transfers");
		w->left -= len;
		while (len) {
			uint64_t c = VN_MIN(len, (uint64_t)sizeof(bit_bucket));
			if (*w->n == w->max)
				return fault(VNVME_SC_DATA_XFER_ERROR, "SGL Bit Bucket length", len,
					     "the data is in more pieces than the controller "
					     "takes");
			w->iov[*w->n].iov_base = bit_bucket;
			w->iov[*w->n].iov_len = c;
			(*w->n)++;
			len -= c;
		}
		return NVME_OK;
	}
	return fault(VNVME_SC_SGL_DESC_TYPE_INVALID, "SGL descriptor type", type,
		     "Data Block (0h), Bit Bucket (1h), Segment (2h) or Last Segment (3h)");
}

static vnvme_status sgl_map(const struct vn_dma_table *t, const struct vnvme_sgl_desc *first,
			    uint64_t len, uint32_t prot, struct iovec *iov, unsigned *n,
			    unsigned max)
{
	struct sgl_walk w = {
	    .t = t, .left = len, .prot = prot, .desc = 1, .iov = iov, .n = n, .max = max};
	struct vnvme_sgl_desc d = *first;
	vnvme_status st;

	for (;;) {
		unsigned type = vnvme_sgl_type(&d);

		if (type != VNVME_SGL_TYPE_SEGMENT && type != VNVME_SGL_TYPE_LAST_SEGMENT) {
			st = sgl_desc(&w, &d);
			if (unlikely(!vnvme_status_ok(st)))
				return st;
			break;
		}
		/* A segment: a list of descriptors in host memory. */
		if (unlikely(vnvme_sgl_subtype(&d) != VNVME_SGL_SUBTYPE_ADDRESS))
			return fault(VNVME_SC_SGL_DESC_TYPE_INVALID, "SGL segment subtype",
				     vnvme_sgl_subtype(&d), "0h (Address)");
		if (unlikely(d.length == 0 || d.length % 16))
			return fault(VNVME_SC_INVALID_SGL_SEG_DESC, "SGL segment length", d.length,
				     "a non-zero multiple of 16 bytes (whole descriptors)");
		unsigned cnt = d.length / 16;
		/* The whole list must fit the budget: refused before it is read. */
		if (unlikely(++w.segs > NVME_SGL_MAX_SEGS || cnt > NVME_SGL_MAX_DESC - w.desc))
			return fault(VNVME_SC_INVALID_NUM_SGL_DESC, "SGL segment length", d.length,
				     "at most 512 descriptors and 64 segments per command");
		w.desc += cnt;
		const struct vnvme_sgl_desc *list = vn_dma_find(t, d.addr, d.length, VN_DMA_READ);
		bool last_seg = type == VNVME_SGL_TYPE_LAST_SEGMENT;
		bool chained = false;

		if (unlikely(!list))
			return fault(VNVME_SC_DATA_XFER_ERROR, "SGL segment address", d.addr,
				     NOT_MAPPED);
		for (unsigned i = 0; i < cnt; i++) {
			struct vnvme_sgl_desc e;
			unsigned et;

			memcpy(&e, &list[i], sizeof(e)); /* copy once: the host may change it */
			et = vnvme_sgl_type(&e);
			if (et == VNVME_SGL_TYPE_SEGMENT || et == VNVME_SGL_TYPE_LAST_SEGMENT) {
				/* Only the last descriptor of a non-last segment chains. */
				if (unlikely(last_seg || i != cnt - 1))
					return fault(VNVME_SC_INVALID_SGL_SEG_DESC,
						     "SGL segment descriptor index", i,
						     "only the last descriptor of a (non-last) "
						     "Segment chains to the next");
				d = e;
				chained = true;
				break;
			}
			st = sgl_desc(&w, &e);
			if (unlikely(!vnvme_status_ok(st)))
				return st;
		}
		if (!chained) {
			if (unlikely(!last_seg))
				return fault(VNVME_SC_INVALID_SGL_SEG_DESC, "SGL segment type",
					     type,
					     "a Segment ends with a descriptor to the next; the "
					     "last is a Last Segment (3h)");
			break;
		}
	}
	if (unlikely(w.left))
		return fault(VNVME_SC_DATA_SGL_LEN_INVALID, "SGL length (bytes missing)", w.left,
			     "the descriptors describe the whole transfer");
	return NVME_OK;
}

vnvme_status nvme_dptr_map(const struct vn_dma_table *t, const struct vnvme_sqe *sqe, uint64_t len,
			   uint32_t prot, struct iovec *iov, unsigned *iovcnt, unsigned max_iov,
			   bool sgl_ok)
{
	unsigned psdt = vnvme_sqe_psdt(sqe);

	*iovcnt = 0;
	if (likely(psdt == VNVME_PSDT_PRP))
		return prp_map(t, sqe->dptr.prp1, sqe->dptr.prp2, len, prot, iov, iovcnt, max_iov);
	if (psdt == VNVME_PSDT_SGL_MPTR_CONTIG && sgl_ok)
		return sgl_map(t, &sqe->dptr.sgl1, len, prot, iov, iovcnt, max_iov);
	return fault(VNVME_SC_INVALID_FIELD, "PSDT", psdt,
		     sgl_ok ? "0 (PRPs) or 1 (SGL, contiguous metadata)"
			    : "0 (PRPs): admin commands use PRPs");
}

static vnvme_status copy(const struct vn_dma_table *t, const struct vnvme_sqe *sqe, void *buf,
			 uint64_t len, bool out, bool sgl_ok)
{
	struct iovec iov[NVME_MAX_IOV];
	unsigned n;
	uint8_t *b = buf;
	vnvme_status st = nvme_dptr_map(t, sqe, len, out ? VN_DMA_WRITE : VN_DMA_READ, iov, &n,
					NVME_MAX_IOV, sgl_ok);

	if (!vnvme_status_ok(st))
		return st;
	for (unsigned i = 0; i < n; i++) {
		if (out)
			memcpy(iov[i].iov_base, b, iov[i].iov_len);
		else
			memcpy(b, iov[i].iov_base, iov[i].iov_len);
		b += iov[i].iov_len;
	}
	return NVME_OK;
}

vnvme_status nvme_dptr_copy_out(const struct vn_dma_table *t, const struct vnvme_sqe *sqe,
				const void *buf, uint64_t len, bool sgl_ok)
{
	return copy(t, sqe, (void *)buf, len, true, sgl_ok);
}

vnvme_status nvme_dptr_copy_in(const struct vn_dma_table *t, const struct vnvme_sqe *sqe, void *buf,
			       uint64_t len, bool sgl_ok)
{
	return copy(t, sqe, buf, len, false, sgl_ok);
}
