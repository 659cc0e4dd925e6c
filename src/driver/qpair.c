/* SPDX-License-Identifier: MIT */
/*
 * Queue pairs, the driver's hot path: one thread per queue pair, no lock,
 * no syscall, no allocation per command. Submissions only write the SQE;
 * the SQ doorbell is rung once per batch (vnvme_qpair_flush). Completions
 * are reaped on the phase tag with one CQ doorbell write per batch. With
 * shadow doorbells (Doorbell Buffer Config) the MMIO doorbell is written only
 * when the controller's EventIdx asks for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/priv.h"

#define PRP_LIST_BYTES 512u /* per command: 64 entries, 256 KiB + an offset */

int drv_qpair_alloc(struct vnvme_ctrl *c, uint16_t qid, uint16_t size, struct vnvme_qpair **out)
{
	struct vnvme_qpair *q;
	size_t sq_bytes = ((size_t)size * 64 + DRV_PAGE - 1) & ~(size_t)(DRV_PAGE - 1);
	size_t cq_bytes = ((size_t)size * 16 + DRV_PAGE - 1) & ~(size_t)(DRV_PAGE - 1);
	size_t list_bytes = (size_t)size * PRP_LIST_BYTES;
	uint8_t *mem;
	size_t stride = (size_t)1 << c->dstrd; /* in dwords */

	if (posix_memalign((void **)&q, VN_CACHELINE, sizeof(*q)))
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	q->efd = -1;
	q->c = c;
	q->qid = qid;
	q->h.q = q;
	q->h.size = size;
	q->h.phase = 1;
	mem = vnvme_dma_alloc(c, sq_bytes + cq_bytes + list_bytes);
	q->h.reqs = calloc(size, sizeof(*q->h.reqs));
	q->h.free_cids = calloc(size, sizeof(*q->h.free_cids));
	q->prp = calloc(size, sizeof(*q->prp));
	if (!mem || !q->h.reqs || !q->h.free_cids || !q->prp) {
		if (mem)
			vnvme_dma_free(c, mem);
		free(q->h.reqs);
		free(q->h.free_cids);
		free(q->prp);
		free(q);
		return -ENOMEM;
	}
	memset(mem, 0, sq_bytes + cq_bytes);
	q->mem = mem;
	q->h.sq = (struct vnvme_sqe *)(void *)mem;
	q->h.cq = (struct vnvme_cqe *)(void *)(mem + sq_bytes);
	for (uint32_t i = 0; i < size; i++) {
		uint8_t *l = mem + sq_bytes + cq_bytes + (size_t)i * PRP_LIST_BYTES;
		q->prp[i].list = (uint64_t *)(void *)l;
		q->prp[i].iova = drv_iova(c, l);
		q->h.free_cids[i] = (uint16_t)(size - 1 - i);
		q->h.reqs[i].busy = VNVME_CID_FREE;
	}
	/* A ring of `size` entries holds size - 1 commands: a full ring would
	 * look empty (head == tail). The last slot is never handed out. */
	q->h.nfree = size - 1u;
	q->sqdb = &c->doorbells[2 * qid * stride];
	q->cqdb = &c->doorbells[(2 * qid + 1) * stride];
	if (c->dbbuf && qid) {
		q->sq_shadow = &c->dbbuf[2 * qid];
		q->cq_shadow = &c->dbbuf[2 * qid + 1];
		q->sq_ei = &c->dbbuf_ei[2 * qid];
		q->cq_ei = &c->dbbuf_ei[2 * qid + 1];
	}
	*out = q;
	return 0;
}

void drv_qpair_free(struct vnvme_qpair *q)
{
	if (!q)
		return;
	vnvme_dma_free(q->c, q->mem);
	if (q->efd >= 0)
		close(q->efd);
	free(q->h.reqs);
	free(q->h.free_cids);
	free(q->prp);
	free(q);
}

/* Linux nvme_dbbuf_need_event(): did the host move past EventIdx? */
static inline bool need_event(uint16_t ei, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - ei - 1) < (uint16_t)(new_idx - old);
}

static inline void ring(uint32_t *db, uint32_t *shadow, uint32_t *ei, uint16_t val, uint16_t old)
{
	if (shadow) {
		/* The shadow first; a full fence so that our EventIdx read is
		 * not older than the controller's view of the shadow. */
		vn_store_release(shadow, (uint32_t)val);
		vn_smp_mb();
		if (!need_event((uint16_t)vn_load_relaxed(ei), val, old))
			return;
	}
	/* Release: the SQEs (or the consumed CQEs) before the doorbell. */
	vn_store_release(db, (uint32_t)val);
}

/* Once in 2^32 - 1 SQ doorbell writes, before the epoch reaches
 * VNVME_CID_FREE: every outstanding CID was rung. */
static __attribute__((cold, noinline)) void epoch_wrap(struct vnvme_hot *h)
{
	for (uint32_t i = 0; i < h->size; i++)
		if (h->reqs[i].busy != VNVME_CID_FREE)
			h->reqs[i].busy = 0;
	h->epoch = 1;
}

/* Inline in the poll functions: an exported function is not (-fPIC). */
static inline void sq_flush(struct vnvme_qpair *q)
{
	if (q->h.sq_tail == q->h.sq_rung)
		return;
	ring(q->sqdb, q->sq_shadow, q->sq_ei, q->h.sq_tail, q->h.sq_rung);
	q->h.sq_rung = q->h.sq_tail;
	/* The commands of this epoch may complete from now on. */
	if (unlikely(++q->h.epoch == VNVME_CID_FREE))
		epoch_wrap(&q->h);
}

/* The CQ doorbell for what was reaped since its last write. */
static inline void cq_ring(struct vnvme_qpair *q)
{
	if (q->h.cq_head == q->h.cq_rung)
		return;
	ring(q->cqdb, q->cq_shadow, q->cq_ei, q->h.cq_head, q->h.cq_rung);
	q->h.cq_rung = q->h.cq_head;
}

void vnvme_qpair_flush(struct vnvme_qpair *q)
{
	sq_flush(q);
}

void vnvme_qpair_ring(struct vnvme_qpair *q)
{
	cq_ring(q);
	sq_flush(q);
}

/* The layout applications compile in (vnvme.h): a change here is a new
 * VNVME_HOT_VERSION. */
_Static_assert(VNVME_HOT_VERSION == 2, "check the layout below, then bump these");
_Static_assert(sizeof(struct vnvme_hot) == 64, "vnvme_hot size");
_Static_assert(offsetof(struct vnvme_hot, reqs) == 16, "vnvme_hot reqs");
_Static_assert(offsetof(struct vnvme_hot, q) == 32, "vnvme_hot q");
_Static_assert(offsetof(struct vnvme_hot, nfree) == 40, "vnvme_hot nfree");
_Static_assert(offsetof(struct vnvme_hot, epoch) == 44, "vnvme_hot epoch");
_Static_assert(offsetof(struct vnvme_hot, cq_rung) == 56, "vnvme_hot cq_rung");
_Static_assert(offsetof(struct vnvme_hot, phase) == 58, "vnvme_hot phase");
_Static_assert(sizeof(struct vnvme_req) == 32, "vnvme_req size");
/* vnvme_sqe_fill() merges CID and cdw10-11 into 16-byte words. */
_Static_assert(offsetof(struct vnvme_sqe, cid) == 2, "SQE CID at word 1");
_Static_assert(offsetof(struct vnvme_sqe, cdw10) == 40, "SQE cdw10 at byte 40");
_Static_assert(offsetof(struct vnvme_req, arg) == 8, "vnvme_req arg");
_Static_assert(offsetof(struct vnvme_req, busy) == 16, "vnvme_req busy");
/* vnvme_hot_rw_submit() copies cb and arg as one vnvme_req. */
_Static_assert(offsetof(struct vnvme_rw, arg) == offsetof(struct vnvme_rw, cb) + 8, "rw cb, arg");

struct vnvme_hot *vnvme_qpair_hot(struct vnvme_qpair *q, unsigned version)
{
	return version == VNVME_HOT_VERSION ? &q->h : NULL;
}

int vnvme_submit(struct vnvme_qpair *q, struct vnvme_sqe *sqe, void *buf, size_t len, vnvme_cb cb,
		 void *arg)
{
	struct vnvme_req *r;
	uint16_t cid;

	if (unlikely(!q->h.nfree))
		return -EBUSY;
	if (len) {
		uint64_t iova = drv_iova(q->c, buf), first;

		if (unlikely(!iova || !drv_iova(q->c, (uint8_t *)buf + len - 1)))
			return -EFAULT; /* not from vnvme_dma_alloc */
		first = DRV_PAGE - (iova & (DRV_PAGE - 1));
		sqe->dptr.prp1 = iova;
		if (len <= first) {
			sqe->dptr.prp2 = 0;
		} else if (len <= first + DRV_PAGE) {
			sqe->dptr.prp2 = iova + first;
		} else {
			uint64_t n = (len - first + DRV_PAGE - 1) / DRV_PAGE;
			if (unlikely(n > PRP_LIST_BYTES / 8))
				return -E2BIG;
			const struct drv_prp *p = &q->prp[q->h.free_cids[q->h.nfree - 1]];
			for (uint64_t i = 0; i < n; i++)
				p->list[i] = iova + first + i * DRV_PAGE;
			sqe->dptr.prp2 = p->iova;
		}
	}
	cid = q->h.free_cids[--q->h.nfree];
	q->h.reqs[cid].busy = q->h.epoch;
	r = &q->h.reqs[cid];
	r->cb = cb;
	r->arg = arg;
	sqe->cid = cid;
	memcpy(&q->h.sq[q->h.sq_tail], sqe, sizeof(*sqe));
	if (++q->h.sq_tail == q->h.size)
		q->h.sq_tail = 0;
	return 0;
}

int vnvme_qpair_poll(struct vnvme_qpair *q, unsigned max)
{
	/* Fixed at creation: a callback cannot change these. */
	const struct vnvme_cqe *cq = q->h.cq;
	const struct vnvme_req *reqs = q->h.reqs;
	uint16_t *free_cids = q->h.free_cids;
	uint16_t size = q->h.size;
	unsigned n = 0;

	if (!max)
		max = UINT_MAX;
	sq_flush(q);
	/* cq_head, phase and nfree stay in q: a callback may submit (nfree)
	 * or even poll this queue pair again (cq_head, phase). */
	for (; n < max; n++) {
		const struct vnvme_cqe *e = &cq[q->h.cq_head];
		struct vnvme_cqe cqe;
		const struct vnvme_req *r;

		/* Pairs with the controller's phase write, made last. */
		if ((vn_load_acquire(&e->status) & 1) != q->h.phase)
			break;
		memcpy(&cqe, e, sizeof(cqe));
		if (++q->h.cq_head == size) {
			q->h.cq_head = 0;
			q->h.phase ^= 1;
		}
		/* A broken controller's CQE (a CID beyond the ring, or one
		 * not outstanding: see vnvme_req.busy): nothing of ours. */
		if (unlikely(cqe.cid >= size || q->h.reqs[cqe.cid].busy >= q->h.epoch))
			continue;
		q->h.reqs[cqe.cid].busy = VNVME_CID_FREE;
		r = &reqs[cqe.cid];
		free_cids[q->h.nfree++] = cqe.cid;
		if (r->cb)
			r->cb(r->arg, &cqe);
	}
	cq_ring(q);
	return (int)n;
}

int vnvme_qpair_reap(struct vnvme_qpair *q, struct vnvme_cpl *cpl, unsigned max)
{
	int n;

	sq_flush(q);
	n = vnvme_hot_reap(&q->h, cpl, max); /* an empty poll: its phase check */
	cq_ring(q);
	return n;
}

uint16_t vnvme_qpair_id(const struct vnvme_qpair *q)
{
	return q->qid;
}

int vnvme_qpair_eventfd(const struct vnvme_qpair *q)
{
	return q->efd;
}

const struct vnvme_trace_rec *vnvme_qpair_trace(const struct vnvme_qpair *q, uint32_t *entries,
						uint64_t *tsc_hz)
{
	const struct vnvme_ctrl *c = q->c;

	if (!c->trace || q->qid >= c->trace_queues)
		return NULL;
	*entries = c->trace_entries;
	*tsc_hz = c->trace_hz;
	return c->trace + (size_t)q->qid * c->trace_entries;
}

uint32_t vnvme_qpair_outstanding(const struct vnvme_qpair *q)
{
	/* Every CID is either free or outstanding; one slot is never used. */
	return q->h.size - 1u - q->h.nfree;
}

/*
 * Read, Write and Compare: the SQE is written in place in the ring (no copy),
 * as eight 64-bit stores, with PRP1/PRP2 or this slot's PRP list. The common
 * case, a buffer within two pages, is one range check, one translation and
 * the stores. Each input check is a single compare.
 */
static inline __attribute__((always_inline)) int
submit_rw(struct vnvme_qpair *q, uint8_t opc, uint32_t nsid, const void *buf, uint64_t slba,
	  uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg)
{
	const struct vnvme_ctrl *c = q->c;
	uint64_t len = (uint64_t)nlb * lba_size;
	/* Below the region wraps to a huge offset: one compare for both ends. */
	uint64_t off = (uint64_t)((uintptr_t)buf - (uintptr_t)c->dma), iova, first, prp2 = 0;
	uint32_t nfree = q->h.nfree;
	uint64_t *s;
	const struct drv_prp *p;
	struct vnvme_req *r;
	uint16_t cid, tail;

	if (unlikely(nlb - 1u >= 65536u)) /* nlb 0 wraps */
		return -EINVAL;
	if (unlikely(!nfree))
		return -EBUSY;
	/* [off, off + len) within the region; len 0 wraps and fails too. */
	if (unlikely(off >= c->dma_size || len - 1 >= c->dma_size - off))
		return -EFAULT;
	iova = drv_iova_off(c, off);
	cid = q->h.free_cids[nfree - 1];
	first = DRV_PAGE - (iova & (DRV_PAGE - 1));
	if (len > first) {
		if (len <= first + DRV_PAGE) {
			prp2 = iova + first;
		} else {
			uint64_t n = (len - first + DRV_PAGE - 1) / DRV_PAGE;
			if (unlikely(n > PRP_LIST_BYTES / 8))
				return -E2BIG;
			p = &q->prp[cid];
			for (uint64_t i = 0; i < n; i++)
				p->list[i] = iova + first + i * DRV_PAGE;
			prp2 = p->iova;
		}
	}
	q->h.nfree = nfree - 1;
	q->h.reqs[cid].busy = q->h.epoch;
	r = &q->h.reqs[cid];
	r->cb = cb;
	r->arg = arg;
	/* NVMe Base 2.0c §4.2 "Submission Queue Entry": dword 0 is opcode,
	 * flags (0: PRPs, not fused) and CID; the SQE layout is asserted in
	 * spec.h and the host is little endian. */
	tail = q->h.sq_tail;
	s = (uint64_t *)(void *)&q->h.sq[tail];
	s[0] = opc | (uint32_t)cid << 16 | (uint64_t)nsid << 32;
	s[1] = 0;       /* cdw2, cdw3 */
	s[2] = 0;       /* mptr */
	s[3] = iova;    /* prp1 */
	s[4] = prp2;    /* prp2 */
	s[5] = slba;    /* cdw10, cdw11 */
	s[6] = nlb - 1; /* cdw12: 0's based NLB, no flags; cdw13 0 */
	s[7] = 0;       /* cdw14, cdw15 */
	if (++tail == q->h.size)
		tail = 0;
	q->h.sq_tail = tail;
	return 0;
}

int vnvme_read(struct vnvme_qpair *q, uint32_t nsid, void *buf, uint64_t slba, uint32_t nlb,
	       uint32_t lba_size, vnvme_cb cb, void *arg)
{
	return submit_rw(q, VNVME_NVM_READ, nsid, buf, slba, nlb, lba_size, cb, arg);
}

int vnvme_write(struct vnvme_qpair *q, uint32_t nsid, const void *buf, uint64_t slba, uint32_t nlb,
		uint32_t lba_size, vnvme_cb cb, void *arg)
{
	return submit_rw(q, VNVME_NVM_WRITE, nsid, buf, slba, nlb, lba_size, cb, arg);
}

int vnvme_compare(struct vnvme_qpair *q, uint32_t nsid, const void *buf, uint64_t slba,
		  uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg)
{
	return submit_rw(q, VNVME_NVM_COMPARE, nsid, buf, slba, nlb, lba_size, cb, arg);
}

int vnvme_rw_prep(struct vnvme_ctrl *c, struct vnvme_rw *rw, uint8_t opc, uint32_t nsid,
		  const void *buf, uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg)
{
	uint64_t len = (uint64_t)nlb * lba_size;
	uint64_t off = (uint64_t)((uintptr_t)buf - (uintptr_t)c->dma), iova, first;

	if (opc != VNVME_NVM_READ && opc != VNVME_NVM_WRITE && opc != VNVME_NVM_COMPARE)
		return -EINVAL;
	if (nlb - 1u >= 65536u)
		return -EINVAL;
	if (off >= c->dma_size || len - 1 >= c->dma_size - off)
		return -EFAULT;
	iova = drv_iova_off(c, off);
	first = DRV_PAGE - (iova & (DRV_PAGE - 1));
	*rw = (struct vnvme_rw){
	    .sqe = {.opc = opc, .nsid = nsid, .cdw12 = nlb - 1},
	    .cb = cb,
	    .arg = arg,
	};
	rw->sqe.dptr.prp1 = iova;
	if (len <= first)
		return 0;
	if (len <= first + DRV_PAGE) {
		rw->sqe.dptr.prp2 = iova + first;
		return 0;
	}
	/* The list goes into the submitting slot's PRP list page. */
	rw->prp_n = (uint32_t)((len - first + DRV_PAGE - 1) / DRV_PAGE);
	if (rw->prp_n > PRP_LIST_BYTES / 8)
		return -E2BIG;
	return 0;
}

/*
 * A copy of the prepared SQE with the CID and the SLBA put in: no input to
 * check but the free slot. PRP lists are the uncommon case (more than two
 * pages): the entries are written into the slot's list page. The same code
 * as the inline vnvme_hot_rw_submit(), for callers that do not use vnvme.h's
 * inline functions.
 */
int vnvme_rw_submit(struct vnvme_qpair *q, const struct vnvme_rw *rw, uint64_t slba)
{
	return vnvme_hot_rw_submit(&q->h, rw, slba);
}

void vnvme_hot_prp_list(struct vnvme_qpair *q, uint16_t cid, const struct vnvme_rw *rw,
			struct vnvme_sqe *s)
{
	const struct drv_prp *p = &q->prp[cid];
	uint64_t page = (rw->sqe.dptr.prp1 & ~(uint64_t)(DRV_PAGE - 1)) + DRV_PAGE;

	for (uint32_t i = 0; i < rw->prp_n; i++)
		p->list[i] = page + (uint64_t)i * DRV_PAGE;
	s->dptr.prp2 = p->iova;
}

int vnvme_flush(struct vnvme_qpair *q, uint32_t nsid, vnvme_cb cb, void *arg)
{
	struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = nsid};

	return vnvme_submit(q, &s, NULL, 0, cb, arg);
}

int vnvme_write_zeroes(struct vnvme_qpair *q, uint32_t nsid, uint64_t slba, uint32_t nlb,
		       vnvme_cb cb, void *arg)
{
	struct vnvme_sqe s = {.opc = VNVME_NVM_WRITE_ZEROES, .nsid = nsid};

	if (unlikely(!nlb || nlb > 65536))
		return -EINVAL;
	s.cdw10 = (uint32_t)slba;
	s.cdw11 = (uint32_t)(slba >> 32);
	s.cdw12 = nlb - 1;
	return vnvme_submit(q, &s, NULL, 0, cb, arg);
}

int vnvme_deallocate(struct vnvme_qpair *q, uint32_t nsid, struct vnvme_dsm_range *ranges,
		     uint32_t nr, vnvme_cb cb, void *arg)
{
	struct vnvme_sqe s = {.opc = VNVME_NVM_DSM, .nsid = nsid};

	if (unlikely(!nr || nr > VNVME_DSM_MAX_RANGES))
		return -EINVAL;
	s.cdw10 = nr - 1;
	s.cdw11 = VNVME_DSM_AD;
	return vnvme_submit(q, &s, ranges, nr * sizeof(*ranges), cb, arg);
}
