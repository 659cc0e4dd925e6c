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
	q->size = size;
	q->phase = 1;
	mem = vnvme_dma_alloc(c, sq_bytes + cq_bytes + list_bytes);
	q->reqs = calloc(size, sizeof(*q->reqs));
	q->free_cids = calloc(size, sizeof(*q->free_cids));
	if (!mem || !q->reqs || !q->free_cids) {
		if (mem)
			vnvme_dma_free(c, mem);
		free(q->reqs);
		free(q->free_cids);
		free(q);
		return -ENOMEM;
	}
	memset(mem, 0, sq_bytes + cq_bytes);
	q->mem = mem;
	q->sq = (struct vnvme_sqe *)(void *)mem;
	q->cq = (struct vnvme_cqe *)(void *)(mem + sq_bytes);
	for (uint32_t i = 0; i < size; i++) {
		uint8_t *l = mem + sq_bytes + cq_bytes + (size_t)i * PRP_LIST_BYTES;
		q->reqs[i].prp_list = (uint64_t *)(void *)l;
		q->reqs[i].prp_list_iova = drv_iova(c, l);
		q->free_cids[i] = (uint16_t)(size - 1 - i);
	}
	/* A ring of `size` entries holds size - 1 commands: a full ring would
	 * look empty (head == tail). The last slot is never handed out. */
	q->nfree = size - 1u;
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
	free(q->reqs);
	free(q->free_cids);
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

void vnvme_qpair_flush(struct vnvme_qpair *q)
{
	if (q->sq_tail == q->last_rung)
		return;
	ring(q->sqdb, q->sq_shadow, q->sq_ei, q->sq_tail, q->last_rung);
	q->last_rung = q->sq_tail;
}

int vnvme_submit(struct vnvme_qpair *q, struct vnvme_sqe *sqe, void *buf, size_t len, vnvme_cb cb,
		 void *arg)
{
	struct drv_req *r;
	uint16_t cid;

	if (unlikely(!q->nfree))
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
			cid = q->free_cids[q->nfree - 1];
			r = &q->reqs[cid];
			for (uint64_t i = 0; i < n; i++)
				r->prp_list[i] = iova + first + i * DRV_PAGE;
			sqe->dptr.prp2 = r->prp_list_iova;
		}
	}
	cid = q->free_cids[--q->nfree];
	r = &q->reqs[cid];
	r->cb = cb;
	r->arg = arg;
	sqe->cid = cid;
	memcpy(&q->sq[q->sq_tail], sqe, sizeof(*sqe));
	if (++q->sq_tail == q->size)
		q->sq_tail = 0;
	q->outstanding++;
	return 0;
}

int vnvme_qpair_poll(struct vnvme_qpair *q, unsigned max)
{
	unsigned n = 0;
	uint16_t old_head = q->cq_head;

	vnvme_qpair_flush(q);
	while (!max || n < max) {
		struct vnvme_cqe *e = &q->cq[q->cq_head];
		struct vnvme_cqe cqe;
		struct drv_req *r;

		/* Pairs with the controller's phase write, made last. */
		if ((vn_load_acquire(&e->status) & 1) != q->phase)
			break;
		memcpy(&cqe, e, sizeof(cqe));
		if (++q->cq_head == q->size) {
			q->cq_head = 0;
			q->phase ^= 1;
		}
		n++;
		if (unlikely(cqe.cid >= q->size))
			continue; /* a broken controller: nothing of ours */
		r = &q->reqs[cqe.cid];
		q->free_cids[q->nfree++] = cqe.cid;
		q->outstanding--;
		if (r->cb)
			r->cb(r->arg, &cqe);
	}
	if (n)
		ring(q->cqdb, q->cq_shadow, q->cq_ei, q->cq_head, old_head);
	return (int)n;
}

uint16_t vnvme_qpair_id(const struct vnvme_qpair *q)
{
	return q->qid;
}

int vnvme_qpair_eventfd(const struct vnvme_qpair *q)
{
	return q->efd;
}

uint32_t vnvme_qpair_outstanding(const struct vnvme_qpair *q)
{
	return q->outstanding;
}

/*
 * Read, Write and Compare: the SQE is written in place in the ring (no copy),
 * with PRP1/PRP2 or this slot's PRP list. The common case, a buffer within
 * two pages, is a handful of stores.
 */
static inline int submit_rw(struct vnvme_qpair *q, uint8_t opc, uint32_t nsid, const void *buf,
			    uint64_t slba, uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg)
{
	size_t len = (size_t)nlb * lba_size;
	uint64_t iova = drv_iova(q->c, buf), first, prp2 = 0;
	struct vnvme_sqe *s;
	struct drv_req *r;
	uint16_t cid;

	if (unlikely(!nlb || nlb > 65536))
		return -EINVAL;
	if (unlikely(!q->nfree))
		return -EBUSY;
	if (unlikely(!iova || !drv_iova(q->c, (const uint8_t *)buf + len - 1)))
		return -EFAULT;
	cid = q->free_cids[q->nfree - 1];
	r = &q->reqs[cid];
	first = DRV_PAGE - (iova & (DRV_PAGE - 1));
	if (len > first) {
		if (len <= first + DRV_PAGE) {
			prp2 = iova + first;
		} else {
			uint64_t n = (len - first + DRV_PAGE - 1) / DRV_PAGE;
			if (unlikely(n > PRP_LIST_BYTES / 8))
				return -E2BIG;
			for (uint64_t i = 0; i < n; i++)
				r->prp_list[i] = iova + first + i * DRV_PAGE;
			prp2 = r->prp_list_iova;
		}
	}
	q->nfree--;
	r->cb = cb;
	r->arg = arg;
	s = &q->sq[q->sq_tail];
	*s = (struct vnvme_sqe){
	    .opc = opc,
	    .cid = cid,
	    .nsid = nsid,
	    .cdw10 = (uint32_t)slba,
	    .cdw11 = (uint32_t)(slba >> 32),
	    .cdw12 = nlb - 1,
	};
	s->dptr.prp1 = iova;
	s->dptr.prp2 = prp2;
	if (++q->sq_tail == q->size)
		q->sq_tail = 0;
	q->outstanding++;
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
