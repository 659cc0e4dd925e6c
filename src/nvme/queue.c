/* SPDX-License-Identifier: MIT */
/*
 * Queue processing, the hot path. Each CQ with its SQs belongs to one poller
 * (single writer: no lock, no atomic read-modify-write). Per poll round and
 * per SQ: the tail doorbell is read once and bounds-checked, up to
 * NVME_SQ_BATCH entries are copied out of host memory and executed, CQEs are
 * posted with the phase dword written last, and one interrupt is raised per
 * CQ per round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nvme/io_check.h"
#include "nvme/priv.h"
#include "nvme/probes.h"
#include "util/tsc.h"

/* The USDT probes' semaphores (probes.h): a tracer raises them. */
volatile unsigned short vnvme_cmd_fetch_semaphore __attribute__((section(".probes")));
volatile unsigned short vnvme_cmd_done_semaphore __attribute__((section(".probes")));
volatile unsigned short vnvme_cqe_post_semaphore __attribute__((section(".probes")));

static bool sq_translate(struct nvme_sq *sq, const struct vn_dma_table *t)
{
	sq->ring =
	    vn_dma_find(t, sq->iova, (uint64_t)sq->size * sizeof(struct vnvme_sqe), VN_DMA_READ);
	sq->tbl = t;
	sq->dc_len = 0; /* the fast path's region belonged to the old table */
	return sq->ring != NULL;
}

static bool cq_translate(struct nvme_cq *cq, const struct vn_dma_table *t)
{
	cq->ring =
	    vn_dma_find(t, cq->iova, (uint64_t)cq->size * sizeof(struct vnvme_cqe), VN_DMA_WRITE);
	cq->tbl = t;
	return cq->ring != NULL;
}

VN_COLD void nvme_ctrl_fatal(struct nvme_ctrl *c, const char *why)
{
	uint32_t old = __atomic_fetch_or(&c->csts, VNVME_CSTS_CFS, __ATOMIC_ACQ_REL);

	if (!(old & VNVME_CSTS_CFS))
		vn_warn("%s: guest: controller fatal status: %s", c->name, why);
}

/* Entries from `from` up to `to` in a ring of `size`: no division. */
static inline uint32_t ring_dist(uint32_t from, uint32_t to, uint32_t size)
{
	return to >= from ? to - from : to + size - from;
}

/* Free CQ slots, re-reading the head doorbell only when it looks full. */
static inline uint32_t cq_room(struct nvme_cq *cq)
{
	uint32_t room = cq->size - 1u - ring_dist(cq->head, cq->tail, cq->size);

	if (room < NVME_SQ_BATCH) {
		/* Pairs with the host's doorbell write after it consumed CQEs. */
		uint32_t h = vn_load_acquire(cq->shadow ? cq->shadow : cq->db);
		if (unlikely(h >= cq->size)) {
			__atomic_fetch_or(&cq->ctrl->aen_raise, NVME_AEN_INVALID_DB,
					  __ATOMIC_RELAXED);
			return room;
		}
		cq->head = h;
		if (cq->ei) /* EventIdx one behind: the host need not ring MMIO */
			vn_store_release(cq->ei, (h - 1) & 0xffffu);
		room = cq->size - 1u - ring_dist(cq->head, cq->tail, cq->size);
	}
	return room;
}

VN_COLD void nvme_svc_reset(struct nvme_sq *sq, uint32_t gen)
{
	vn_hist_clear(sq->svc);
	/* Release: a reader that sees the new generation sees it cleared. */
	vn_store_release(&sq->svc_gen, gen);
}

/* Count an error by its status (nvme_sq.err_sts): the first
 * NVME_QSTAT_ERR_SLOTS distinct ones get a slot each. */
static VN_COLD void sq_count_error(struct nvme_sq *sq, vnvme_status st)
{
	uint16_t v =
	    (uint16_t)(st.v & (VNVME_SF_SCT_MASK << VNVME_SF_SCT_SHIFT | VNVME_SF_SC_MASK));

	for (unsigned i = 0; i < NVME_QSTAT_ERR_SLOTS; i++) {
		if (sq->err_cnt[i] && sq->err_sts[i] != v)
			continue;
		/* A free slot: its status first, then the count that makes it
		 * taken (release: a reader that sees the count sees the status). */
		if (!sq->err_cnt[i])
			vn_store_relaxed(&sq->err_sts[i], v);
		vn_store_release(&sq->err_cnt[i], sq->err_cnt[i] + 1);
		return;
	}
	sq->err_other++;
}

/* Post a CQE; an error also enters the error log, with the namespace and
 * LBA it concerns (0 when none). */
static void cq_post(struct nvme_cq *cq, struct nvme_sq *sq, uint16_t cid, vnvme_status st,
		    uint32_t dw0, uint32_t nsid, uint64_t lba)
{
	struct vnvme_cqe *e = &cq->ring[cq->tail];

	NVME_PROBE4(cqe_post, sq->ctrl->name, sq->qid, cid, st.v);
	e->dw0 = dw0;
	e->dw1 = 0;
	e->sqhd = (uint16_t)sq->head; /* < 65536 */
	e->sqid = sq->qid;
	e->cid = cid;
	/* The phase dword last: the host polls it, then reads the rest (after
	 * its read barrier). */
	vn_store_release(&e->status, vnvme_cqe_status_word(st, cq->phase));
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
	cq->irq_pending++;
	cq->inflight--;
	sq->inflight--;
	if (unlikely(sq->san))
		nvme_san_post(sq, cid);
	if (unlikely(!vnvme_status_ok(st))) {
		sq->errors++;
		sq_count_error(sq, st);
		nvme_errlog_add(sq->ctrl, sq->qid, cid, st, nsid, lba);
	}
}

/*
 * A command's trace record (include/vnvme/trace.h), written before its CQE:
 * cq_post's release store of the phase orders it for the host. fetch 0: not
 * known.
 */
static void trace_put(struct nvme_sq *sq, uint16_t cid, uint8_t opc, uint64_t fetch, uint64_t done,
		      vnvme_status st)
{
	struct vnvme_trace_rec *t = &sq->trace[cid & sq->trace_mask];
	uint64_t post = vn_tsc();

	t->fetch = fetch;
	t->done = done && done <= post ? done : post;
	t->post = post;
	t->cid = cid;
	t->sqid = sq->qid;
	t->status = st.v;
	t->opc = opc;
	t->flags = fetch ? 0 : VNVME_TRACE_F_NO_FETCH;
}

/* An admin command completed later (Asynchronous Event Request, Delete
 * SQ/CQ, Format NVM): its fetch time is not kept. */
void nvme_cq_post(struct nvme_cq *cq, struct nvme_sq *sq, uint16_t cid, vnvme_status st,
		  uint32_t dw0)
{
	if (unlikely(sq->trace))
		trace_put(sq, cid, 0, 0, 0, st);
	cq_post(cq, sq, cid, st, dw0, 0, 0);
}

/* A slot's links are set when it is taken, not when the SQ is created: the
 * slots of a large SQ (tens of MiB at 65536 entries) stay untouched pages
 * until used (reqs_map). */
static inline struct nvme_req *req_get(struct nvme_sq *sq)
{
	struct nvme_req *r = &sq->reqs[sq->free[--sq->nfree]];

	r->sq = sq;
	r->io.ctx = r;
	return r;
}

static inline void req_put(struct nvme_sq *sq, struct nvme_req *r)
{
	sq->free[sq->nfree++] = (uint16_t)(r - sq->reqs);
}

/* ------------------------------------------------------------------------ */
/* Completions a device model holds back (nvme_req.hold): a min-heap of
 * request slots per SQ by due time, drained by the CQ's poll rounds. */

static inline uint64_t held_due(const struct nvme_sq *sq, uint32_t i)
{
	return sq->reqs[sq->held[i]].due;
}

static void held_sift_down(struct nvme_sq *sq, uint32_t i)
{
	uint32_t n = sq->nheld;

	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		uint16_t x;

		if (l < n && held_due(sq, l) < held_due(sq, m))
			m = l;
		if (l + 1 < n && held_due(sq, l + 1) < held_due(sq, m))
			m = l + 1;
		if (m == i)
			return;
		x = sq->held[i];
		sq->held[i] = sq->held[m];
		sq->held[m] = x;
		i = m;
	}
}

static VN_NOINLINE void held_push(struct nvme_sq *sq, struct nvme_req *r, vnvme_status st,
				  uint32_t dw0, uint64_t due)
{
	uint32_t i = sq->nheld++;

	r->hold_st = st;
	r->hold_dw0 = dw0;
	r->due = due;
	sq->cq->nheld++;
	while (i) {
		uint32_t p = (i - 1) / 2;
		if (held_due(sq, p) <= due)
			break;
		sq->held[i] = sq->held[p];
		i = p;
	}
	sq->held[i] = (uint16_t)(r - sq->reqs);
}

/* Post the SQ's held completions due by now (all of them: UINT64_MAX). */
static unsigned held_release(struct nvme_sq *sq, struct nvme_cq *cq, uint64_t now)
{
	unsigned n = 0;

	while (sq->nheld && held_due(sq, 0) <= now) {
		struct nvme_req *r = &sq->reqs[sq->held[0]];

		sq->held[0] = sq->held[--sq->nheld];
		cq->nheld--;
		held_sift_down(sq, 0);
		/* The model's delay is the device's service: "done" when it ends
		 * (0: the post's stamp, trace_put). */
		if (unlikely(sq->trace))
			trace_put(sq, r->cid, r->opc, r->t_fetch, 0, r->hold_st);
		cq_post(cq, sq, r->cid, r->hold_st, r->hold_dw0, r->nsid, r->slba);
		nvme_svc_add(sq, vn_tsc() - r->tsc, 1);
		req_put(sq, r);
		n++;
	}
	return n;
}

/* A controller reset: held completions are dropped, nobody waits for them. */
static VN_COLD void held_drop(struct nvme_sq *sq, struct nvme_cq *cq)
{
	while (sq->nheld) {
		req_put(sq, &sq->reqs[sq->held[--sq->nheld]]);
		cq->nheld--;
		cq->inflight--;
		sq->inflight--;
	}
}

/* The CQ's poll round: what is due now. Nonzero while any is held, so that
 * the poller does not go to sleep on them. */
static VN_NOINLINE unsigned cq_release_held(struct nvme_cq *cq)
{
	uint64_t now = vn_tsc();
	unsigned n = 0;

	for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next)
		if (sq->nheld)
			n += held_release(sq, cq, now);
	return n + (cq->nheld != 0);
}

void nvme_req_complete(struct nvme_req *r, vnvme_status st, uint32_t dw0)
{
	struct nvme_sq *sq = r->sq;
	struct nvme_cq *cq = sq->cq;

	if (unlikely(r->hold) && !vn_load_relaxed(&cq->stopping)) {
		uint64_t due = vn_tsc() + r->hold_delay;

		r->hold = false;
		due = VN_MAX(due, r->hold_nb);
		held_push(sq, r, st, dw0, due);
		return;
	}
	if (unlikely(vn_load_relaxed(&cq->stopping))) {
		/* The controller is being reset: nobody waits for this one. */
		cq->inflight--;
		sq->inflight--;
	} else {
		if (unlikely(sq->trace))
			trace_put(sq, r->cid, r->opc, r->t_fetch, r->t_done, st);
		cq_post(cq, sq, r->cid, st, dw0, r->nsid, r->slba);
		nvme_svc_add(sq, vn_tsc() - r->tsc, 1);
	}
	req_put(sq, r);
}

/* The general way for one SQE: copy it out, then admin or I/O execution. */
static void sq_exec_one(struct nvme_sq *sq, struct nvme_cq *cq, const struct vn_dma_table *t)
{
	struct vnvme_sqe sqe;
	vnvme_status st;
	uint32_t dw0 = 0;
	uint64_t t0 = 0;

	/* Copy the entry out once: the host may rewrite it meanwhile. */
	memcpy(&sqe, &sq->ring[sq->head], sizeof(sqe));
	if (unlikely(sq->trace))
		t0 = vn_tsc();
	NVME_PROBE4(cmd_fetch, sq->ctrl->name, sq->qid, sqe.cid, sqe.opc);
	if (++sq->head == sq->size)
		sq->head = 0;
	sq->inflight++;
	cq->inflight++;
	/* The sanitizer: the CID, then (after it ran) what dptr.c refused. */
	if (unlikely(sq->san))
		nvme_san_fetch(sq, &sqe);
	if (unlikely(sq->qid == 0)) {
		st = nvme_admin_exec(sq->ctrl, sq, &sqe, &dw0);
		if (unlikely(sq->san))
			nvme_san_exec(sq, &sqe);
		if (nvme_is_pending(st)) {
			/* Completed later (nvme_admin_poll_pending). An AER
			 * waits for an event, not for the device: no sample. */
			if (sqe.opc != VNVME_ADM_ASYNC_EVENT_REQ)
				sq->ctrl->pending.tsc = sq->t_batch;
			return;
		}
		if (unlikely(sq->trace))
			trace_put(sq, sqe.cid, sqe.opc, t0, 0, st);
		cq_post(cq, sq, sqe.cid, st, dw0, sqe.nsid, 0);
		nvme_svc_add(sq, vn_tsc() - sq->t_batch, 1);
		return;
	}
	struct nvme_req *r = req_get(sq);
	r->cid = sqe.cid;
	r->tsc = sq->t_batch;
	r->t_fetch = t0;
	r->t_done = 0;
	st = nvme_io_exec(sq, r, &sqe, t);
	if (unlikely(sq->san))
		nvme_san_exec(sq, &sqe);
	if (!nvme_is_pending(st))
		nvme_req_complete(r, st, 0);
}

/* Load the fast path's DMA cache with the read-write region holding iova. */
static bool sq_dma_refill(struct nvme_sq *sq, const struct vn_dma_table *t, uint64_t iova)
{
	const struct vn_dma_region *r = vn_dma_lookup(t, iova);

	/* Page-aligned regions only: then an I/O within one page (io_fast
	 * checks that) is inside the region as soon as its first byte is. */
	if (!r || !r->vaddr || r->prot != (VN_DMA_READ | VN_DMA_WRITE) ||
	    ((r->iova | r->len) & (NVME_PAGE_SIZE - 1)))
		return false;
	sq->dc_iova = r->iova;
	sq->dc_len = r->len;
	sq->dc_vaddr = r->vaddr;
	return true;
}

enum { FAST_NO, FAST_DONE, FAST_STAGED };

/*
 * Stage a checked ram I/O and start loading its first 512 bytes on both
 * sides, so that the cache misses of several I/Os overlap instead of coming
 * one after another; sq_drain copies it later in the round, or a round
 * later. It holds a CQ slot meanwhile (inflight).
 */
static inline void sq_stage(struct nvme_sq *sq, uint8_t *host, uint8_t *mem, uint64_t iova,
			    uint32_t len, uint16_t cid, bool write)
{
	struct nvme_stage *e = &sq->stage[(sq->st_head + sq->st_n) & (NVME_STAGE_MAX - 1)];

	e->host = host;
	e->mem = mem;
	e->iova = iova;
	e->len = len;
	e->cid = cid;
	e->write = write;
	sq->st_n++;
	sq->inflight++;
	sq->cq->inflight++;
	/* The namespace's first 512 bytes (len >= 512: whole LBAs): the far
	 * side, for a Write as for a Read (the host's buffer was just written
	 * or is reused). A Write's destination fetched ahead spares the copy
	 * the wait for each line; a read prefetch measured faster here than
	 * PREFETCHW. */
	for (unsigned k = 0; k < 512; k += VN_CACHELINE)
		__builtin_prefetch(mem + k);
}

/* The second qword of a successful CQE but its SQHD and CID: SQID and the
 * CQ's phase tag. */
static inline uint64_t cqe_tag(const struct nvme_sq *sq, const struct nvme_cq *cq)
{
	return (uint64_t)sq->qid << 16 | (uint64_t)cq->phase << 48;
}

/* Write a successful CQE at e: dw0 and dw1 zero, then SQHD, SQID, CID and
 * the status with the phase tag (hi) in one 8-byte store, made last. */
static inline void cqe_store_ok(vn_u64_alias *e, uint64_t hi)
{
	vn_store_relaxed(&e[0], 0);
	/* Release: the CQE's first half and a Read's data before the phase
	 * tag the host polls. */
	vn_store_release(&e[1], hi);
}

/* Post a successful CQE at the CQ's tail. */
static inline void cq_post_ok(struct nvme_cq *cq, struct nvme_sq *sq, uint16_t cid)
{
	cqe_store_ok((vn_u64_alias *)(void *)&cq->ring[cq->tail],
		     cqe_tag(sq, cq) | sq->head | (uint64_t)cid << 32);
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
}

/* A staged I/O whose host memory went away: a Data Transfer Error, logged
 * with the namespace and LBA its bytes belong to. */
static VN_COLD void stage_post_error(struct nvme_sq *sq, struct nvme_cq *cq,
				     const struct nvme_stage *e)
{
	struct nvme_ctrl *c = sq->ctrl;
	uint32_t nsid = 0;
	uint64_t lba = 0;

	/* io_ns: a namespace being detached still has its staged I/O. */
	for (uint32_t i = 1; i <= vn_load_relaxed(&c->ns_hi); i++) {
		const struct nvme_ns *ns = vn_load_acquire(&c->io_ns[i]);
		if (ns && ns->mem && e->mem >= ns->mem && e->mem < ns->mem + ns->mem_size) {
			nsid = i;
			lba = (uint64_t)(e->mem - ns->mem) >> ns->lbads;
			break;
		}
	}
	cq_post(cq, sq, e->cid, nvme_sc(VNVME_SC_DATA_XFER_ERROR), 0, nsid, lba);
}

/*
 * Copy and complete staged I/Os, oldest first, until `keep` are left.
 * Returns the vn_tsc() their service times end at, 0 if none was.
 */
static VN_NOINLINE uint64_t sq_drain(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t keep)
{
	uint32_t n = sq->st_n - keep, h = sq->st_head, done = n, old;
	uint64_t now;

	if (sq->st_n <= keep)
		return 0;
	sq->st_n = keep;
	sq->st_head = (h + n) & (NVME_STAGE_MAX - 1);
	cq->irq_pending += n;
	cq->inflight -= n;
	sq->inflight -= n;
	for (; n; n--, h = (h + 1) & (NVME_STAGE_MAX - 1)) {
		const struct nvme_stage *e = &sq->stage[h];

		if (unlikely(!e->host)) {
			/* nvme_cq_post counts it out itself. */
			cq->irq_pending--;
			cq->inflight++;
			sq->inflight++;
			stage_post_error(sq, cq, e);
			continue;
		}
		if (e->write)
			memcpy(e->mem, e->host, e->len);
		else
			memcpy(e->host, e->mem, e->len);
		cq_post_ok(cq, sq, e->cid);
	}
	/* Service time: the first st_old of those were staged by an earlier
	 * batch (stamp st_tsc), the rest by the current one (t_batch). */
	now = vn_tsc();
	old = VN_MIN(done, sq->st_old);
	sq->st_old -= old;
	if (old)
		nvme_svc_add(sq, now - sq->st_tsc, old);
	if (done > old)
		nvme_svc_add(sq, now - sq->t_batch, done - old);
	return now;
}

/* A controller reset: staged I/Os are dropped, nobody waits for them. */
static VN_COLD void sq_stage_drop(struct nvme_sq *sq, struct nvme_cq *cq)
{
	cq->inflight -= sq->st_n;
	sq->inflight -= sq->st_n;
	sq->st_n = 0;
	sq->st_old = 0;
}

/* After a DMA map change: translate the staged host buffers again. */
static VN_COLD void sq_stage_translate(struct nvme_sq *sq, const struct vn_dma_table *t)
{
	for (uint32_t i = 0; i < sq->st_n; i++) {
		struct nvme_stage *e = &sq->stage[(sq->st_head + i) & (NVME_STAGE_MAX - 1)];
		e->host = vn_dma_find(t, e->iova, e->len, e->write ? VN_DMA_READ : VN_DMA_WRITE);
	}
}

/*
 * A fast-path command's trace record, before its CQE: fetch is the run's
 * (sq->tr_fetch, one TSC read per run of commands), done and post now (a
 * null namespace's command is done when it is checked).
 */
static VN_INLINE void trace_fast(struct nvme_sq *sq, uint16_t cid, uint8_t opc)
{
	struct vnvme_trace_rec *t = &sq->trace[cid & sq->trace_mask];
	uint64_t now = vn_tsc();

	t->fetch = sq->tr_fetch;
	t->done = now;
	t->post = now;
	t->cid = cid;
	t->sqid = sq->qid;
	t->status = 0;
	t->opc = opc;
	t->flags = 0;
}

/* The first qword of an SQE with its CID masked out: opcode, flags, NSID. */
#define FK_MASK 0xffffffff0000ffffull

/* A namespace no command fits (0 blocks): the fast path's kind before the
 * first Read or Write, which sends it the general way. */
static const struct nvme_ns fk_none;

/*
 * The fast path meets a command kind (opcode, flags, NSID: key) that is not
 * last time's: if it is a Read or Write with flags 0 on a null or ram
 * namespace, remember it and its namespace. A detach makes every poller
 * forget it (nvme_ns_quiesce_local) before the namespace is freed.
 */
static VN_NOINLINE bool sq_fast_kind(struct nvme_sq *sq, uint64_t key)
{
	uint32_t nsid = (uint32_t)(key >> 32), opf = (uint32_t)key;
	const struct nvme_ns *ns;

	/* A sanitizing controller's commands take the general path, where its
	 * checks are (sq_exec_one): the fast path stays as it is without. */
	if (sq->ctrl->san)
		return false;
	/* The key holds the opcode in bits 7:0 and flags in 15:8 (CID masked). */
	if (!io_check_rw_plain((uint8_t)opf, (uint8_t)(opf >> 8)) || !io_check_ns(sq->ctrl, nsid) ||
	    !(ns = vn_load_relaxed(&sq->ctrl->fast_ns[nsid])))
		return false;
	sq->fk_read = (key & ~0xffull) | VNVME_NVM_READ;
	sq->fk_ns = ns;
	return true;
}

/*
 * The fast path for a command of the kind of last time, in direction w
 * (NVME_DIR_*, a constant: the compiler makes one copy per direction).
 */
static VN_INLINE int io_fast_dir(struct nvme_sq *sq, const struct vnvme_sqe *s, uint32_t *cid,
				 const unsigned w, const bool tr)
{
	const struct nvme_ns *ns = sq->fk_ns;
	/* SLBA, NLB (16 bits of CDW12: the rest is flags, 0 here) and PRP1 once each. */
	uint64_t slba = vn_load_relaxed((const vn_u64_alias *)(const void *)&s->cdw10);
	uint64_t nlb = vn_load_relaxed((const vn_u16_alias *)(const void *)&s->cdw12) + 1u;
	uint64_t prp1 = vn_load_relaxed(&s->dptr.prp1);
	uint64_t len, off;

	/* The checks of io_check.h, as yes or no: nvme_io_exec makes the
	 * same ones and gives the status of what fails here. Opcode, flags
	 * and namespace: the kind (sq_fast_kind). MDTS: within one page. */
	if (unlikely(!vnvme_status_ok(io_check_lba(ns, slba, nlb))))
		return FAST_NO;
	len = nlb * ns->lba_size;
	if (unlikely(!io_check_prp1_page(prp1, len)))
		return FAST_NO;
	off = prp1 - sq->dc_iova;
	if (unlikely(off >= sq->dc_len)) {
		if (!sq_dma_refill(sq, sq->tbl, prp1))
			return FAST_NO;
		off = prp1 - sq->dc_iova;
	}
	*cid = vn_load_relaxed(&s->cid); /* not in the kind: read once, here */
	if (ns->mem) {
		/* Traced: ram I/O is not staged, it goes the general way. */
		if (tr)
			return FAST_NO;
		/* Loaded again here: the test above is then one compare. */
		uint8_t *mem = vn_load_relaxed(&ns->mem);
		uint64_t at = slba << ns->lbads;

		/* In bytes as well: a Format NVM on another thread may change
		 * lbads and nlb between our loads, never the memory's size. */
		if (unlikely(at + len > ns->mem_size))
			return FAST_NO;
		sq->dir_cmds[w]++;
		sq->dir_bytes[w] += len;
		sq_stage(sq, sq->dc_vaddr + off, mem + at, prp1, (uint32_t)len, (uint16_t)*cid,
			 w == NVME_DIR_WRITE);
		return FAST_STAGED;
	}
	sq->dir_cmds[w]++;
	sq->dir_bytes[w] += len;
	if (tr) /* before the caller's CQE store */
		trace_fast(sq, (uint16_t)*cid,
			   w == NVME_DIR_WRITE ? VNVME_NVM_WRITE : VNVME_NVM_READ);
	return FAST_DONE;
}

/*
 * The I/O fast path, for the common command: Read or Write (no fused
 * operation, PRPs) on a null or ram namespace, with the data in one memory
 * page of a read-write DMA region. Each SQE field it needs is read once
 * (the host may rewrite the entry meanwhile) and checked as
 * nvme_io_exec() would; opcode, flags and NSID in one compare against the
 * kind of last time (sq->fk_read). A null namespace's command is done
 * (FAST_DONE: the caller posts the CQE at once); a ram namespace's is
 * staged (FAST_STAGED: copied and completed by sq_drain). No request slot
 * either way. Anything else, errors included, returns FAST_NO before any
 * side effect and takes the general way.
 */
static VN_INLINE int io_fast(struct nvme_sq *sq, const struct vnvme_sqe *s, uint32_t *cid,
			     const bool tr)
{
	/* Opcode, flags and NSID: one load, one compare. */
	uint64_t key = vn_load_relaxed((const vn_u64_alias *)(const void *)s) & FK_MASK;

	_Static_assert(VNVME_NVM_WRITE == (VNVME_NVM_READ ^ 3), "Write's kind is Read's ^ 3");
	if (likely(key == sq->fk_read))
		return io_fast_dir(sq, s, cid, NVME_DIR_READ, tr);
	/* A load of its own (relaxed: only this thread writes it), so that
	 * the compiler compares Reads against memory, one instruction. */
	if ((key ^ 3) == vn_load_relaxed(&sq->fk_read))
		return io_fast_dir(sq, s, cid, NVME_DIR_WRITE, tr);
	if (!sq_fast_kind(sq, key))
		return FAST_NO;
	return io_fast_dir(sq, s, cid, key == sq->fk_read ? NVME_DIR_READ : NVME_DIR_WRITE, tr);
}

/*
 * Up to k (>= 1) commands of an I/O SQ, from its head: a run that reaches
 * neither the SQ's last slot nor past the CQ's end, so no index wraps
 * inside. Fast-path commands on null namespaces complete here, with a CQE
 * of dw0 and dw1 zero, then SQHD, SQID, CID and the status with the phase
 * tag in one 8-byte store, made last (cqe_store_ok); those on ram
 * namespaces are staged. Stops before a command for the general way.
 * Returns the commands consumed; adds the CQEs posted to *done.
 */
static VN_INLINE uint32_t sq_run(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t k, uint32_t *done,
				 const bool tr)
{
	uint32_t head = sq->head, tail = cq->tail, cid, posted, used;
	const struct vnvme_sqe *s = &sq->ring[head], *const s0 = s, *const stop = s + k;
	vn_u64_alias *e = (vn_u64_alias *)(void *)&cq->ring[tail], *const e0 = e;
	/* SQHD in the low 16 bits: head + k < size, so it never carries. */
	uint64_t hi = cqe_tag(sq, cq) | head;

	if (tr) /* the run's fetch time (trace_fast) */
		sq->tr_fetch = vn_tsc();
	for (; s != stop; s++) {
		int f;

		hi++; /* SQHD once this command is consumed */
		f = io_fast(sq, s, &cid, tr);
		if (unlikely(f != FAST_DONE)) {
			if (f == FAST_NO)
				break;
			continue; /* FAST_STAGED: the CQE comes from sq_drain */
		}
		cqe_store_ok(e, hi | (uint64_t)cid << 32);
		e += 2;
	}
	/* Unsigned byte distances: shifts, no signed division. */
	posted = (uint32_t)(((uintptr_t)e - (uintptr_t)e0) / sizeof(struct vnvme_cqe));
	cq->irq_pending += posted;
	*done += posted;
	tail += posted;
	if (tail == cq->size) {
		tail = 0;
		cq->phase ^= 1;
	}
	cq->tail = tail;
	used = (uint32_t)(((uintptr_t)s - (uintptr_t)s0) / sizeof(*s));
	sq->head = head + used;
	return used;
}

/* One command of an I/O SQ, at any slot: the fast path's, or the general
 * way when the fast path declines it. Returns 1 if the fast path posted its
 * CQE (the general way records its own service time). */
static VN_NOINLINE uint32_t sq_one(struct nvme_sq *sq, struct nvme_cq *cq)
{
	uint32_t cid;
	int f;

	/* A runtime test here: once per ring wrap or general command. */
	if (unlikely(sq->trace))
		sq->tr_fetch = vn_tsc();
	f = io_fast(sq, &sq->ring[sq->head], &cid, sq->trace != NULL);

	if (f == FAST_NO) {
		sq_exec_one(sq, cq, sq->tbl);
		return 0;
	}
	if (++sq->head == sq->size)
		sq->head = 0;
	if (f == FAST_DONE) {
		cq_post_ok(cq, sq, (uint16_t)cid);
		cq->irq_pending++;
		return 1;
	}
	return 0;
}

/*
 * How many new commands of the SQ to take now, up to budget: those the
 * host added (its tail doorbell, checked) that the CQ has room for.
 */
static VN_INLINE uint32_t sq_take(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t budget)
{
	/* Pairs with the host's doorbell write: the SQEs it wrote before are
	 * visible once we see the new tail. */
	uint32_t tail = vn_load_acquire(sq->shadow ? sq->shadow : sq->db);
	uint32_t n;

	if (unlikely(sq->san))
		nvme_san_sq_round(sq, tail);
	if (tail == sq->head)
		return 0;
	if (sq->ei) /* we poll the shadow: keep EventIdx behind so MMIO is never needed */
		vn_store_release(sq->ei, (tail - 1) & 0xffffu);
	if (unlikely(tail >= sq->size)) {
		__atomic_fetch_or(&sq->ctrl->aen_raise, NVME_AEN_INVALID_DB, __ATOMIC_RELAXED);
		vn_warn_rl(&sq->ctrl->rl, "%s sq%u: guest: tail doorbell %u >= queue size %u",
			   sq->ctrl->name, sq->qid, tail, sq->size);
		return 0;
	}
	n = cq_room(cq);
	n = n > cq->inflight ? n - cq->inflight : 0;
	/* And the free request slots (as QEMU's nvme_process_sq stops when
	 * sq->req_list is empty): fetched commands can outnumber the SQ's
	 * entries, since the host refills the entries we consumed while
	 * earlier commands are still in flight. What stays in the ring is
	 * fetched later (back-pressure, not an error). */
	n = VN_MIN(n, sq->nfree);
	return VN_MIN(VN_MIN(ring_dist(sq->head, tail, sq->size), n), budget);
}

/*
 * The SQ that the last CQ polled on this thread left staged ram I/Os in (the
 * NVME_STAGE_LAG whose prefetches were still under way), or NULL. The next
 * CQ poll on this thread, of any controller, completes them first
 * (lag_drain): a poller with many CQs visits each once per round, and the
 * lag would otherwise wait a whole round, holding back a quarter of a QD16
 * host's commands. The pointer never outlives that next poll, which takes
 * it whatever happens: the SQ cannot be freed before (its deletion unlinks
 * it in its own CQ's poll, on this thread, and an SQ being deleted keeps no
 * lag), and the staged host pointers are then still those of this round's
 * DMA table when the CQ's is the current one.
 */
static __thread struct nvme_sq *lag_sq;

/*
 * Fetch the SQ's next n entries (n <= NVME_SQ_BATCH < size; one line each),
 * all at once: the host wrote them last, and the loop reading them would
 * otherwise wait for one line after another, as far apart as a command's
 * checks are long (docs/performance.md, "Where the cycles go").
 */
static VN_INLINE void sq_prefetch(const struct nvme_sq *sq, uint32_t n)
{
	const struct vnvme_sqe *s = &sq->ring[sq->head], *end = &sq->ring[sq->size];

	for (; n; n--) {
		__builtin_prefetch(s);
		if (++s == end)
			s = sq->ring;
	}
}

/*
 * n (>= 1) commands of an I/O SQ, in runs (sq_run) between the rings' ends
 * and the commands for the general way (sq_one). Then the tail is read
 * once more: what the host added meanwhile joins the batch (up to
 * NVME_SQ_BATCH in all), so a busy queue costs fewer rounds per command.
 * Last, the staged ram I/Os are copied and completed: all of them, or all
 * but NVME_STAGE_LAG when the batch reached NVME_SQ_BATCH. Returns the
 * commands taken. tr (a constant): the SQ has trace records, written on the
 * fast path (trace_fast).
 *
 * Service time, on this path per batch, never per command: the commands
 * the fast path completed here (done) all count the time from the batch's
 * stamp (sq->t_batch, taken before the first was read) to the end of the
 * batch, one vn_tsc() for all (sq_drain's when it copied staged I/Os); an
 * upper bound for each, by at most the batch's own duration. Staged ram
 * I/Os count from the stamp of the batch that staged them (sq_drain).
 */
static VN_INLINE uint32_t sq_process_io(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t n,
					const bool tr)
{
	uint32_t total = 0, first = n, done = 0;
	uint64_t now = 0;

	sq_prefetch(sq, n);
	do {
		total += n;
		do {
			uint32_t k = VN_MIN(sq->size - 1u - sq->head, cq->size - cq->tail);

			k = VN_MIN(k, n);
			if (likely(k)) {
				uint32_t used = sq_run(sq, cq, k, &done, tr);

				n -= used;
				if (used == k)
					continue;
			}
			/* The SQ's last slot, or a command the fast path declined. */
			done += sq_one(sq, cq);
			n--;
		} while (n);
	} while (total < NVME_SQ_BATCH && total == first &&
		 (n = sq_take(sq, cq, NVME_SQ_BATCH - total)));
	if (sq->st_n) {
		/* The lag only when the batch was cut at NVME_SQ_BATCH: more
		 * commands wait, the next poll comes at once and the lag's
		 * prefetches have had the time. A batch that took all there was
		 * completes whole: its host is likely waiting for every one of
		 * them (ram 512 B QD16 on the AMD type: 76-79 % of the copy
		 * ceiling with the lag, 81-85 % without). */
		now = sq_drain(sq, cq, total >= NVME_SQ_BATCH ? NVME_STAGE_LAG : 0);
		if (sq->st_n)
			lag_sq = sq;
	}
	if (done)
		nvme_svc_add(sq, (now ? now : vn_tsc()) - sq->t_batch, done);
	return total;
}

/* Out of line, so that the loop has the registers to itself; one copy
 * without the trace table, one with (the compiler drops every test of tr). */
static VN_NOINLINE uint32_t sq_process_fast(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t n)
{
	return sq_process_io(sq, cq, n, false);
}

static VN_NOINLINE uint32_t sq_process_traced(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t n)
{
	return sq_process_io(sq, cq, n, true);
}

/*
 * n (>= 1) commands of an I/O SQ, each the general way (sq_exec_one), where
 * the trace table gets its records and the USDT probes fire per command;
 * ram I/O the fast path staged before a probe was attached completes too.
 */
static VN_NOINLINE uint32_t sq_process_general(struct nvme_sq *sq, struct nvme_cq *cq, uint32_t n,
					       const struct vn_dma_table *t)
{
	for (uint32_t i = 0; i < n; i++)
		sq_exec_one(sq, cq, t);
	if (sq->st_n)
		sq_drain(sq, cq, 0);
	return n;
}

/* Execute up to a batch (NVME_SQ_BATCH) of new commands from one SQ. */
static unsigned sq_process(struct nvme_sq *sq, struct nvme_cq *cq, const struct vn_dma_table *t)
{
	uint32_t n = sq_take(sq, cq, NVME_SQ_BATCH);

	if (!n) {
		/* Nothing new: the I/Os staged last round have waited enough. */
		if (unlikely(sq->st_n)) {
			sq_drain(sq, cq, 0);
			return 1;
		}
		return 0;
	}
	/*
	 * The batch's stamp. What is still staged was staged by earlier
	 * batches: from now on all of it counts from one stamp, the oldest
	 * one's (usually only the NVME_STAGE_LAG of the last batch are left:
	 * its stamp, t_batch). Where older ones are left beside those, the
	 * last batch's count from the older stamp too: an overestimate for
	 * them, by the time between the two batches. One stamp per SQ, none
	 * per staged entry.
	 */
	if (sq->st_n) {
		if (!sq->st_old)
			sq->st_tsc = sq->t_batch;
		sq->st_old = sq->st_n;
	}
	sq->t_batch = vn_tsc();
	if (likely(sq->qid)) {
		/* Traced or probed: one test per batch, which an untraced
		 * controller always fails. A USDT probe attached sends every
		 * command the general way, where the probes are. */
		if (likely(!sq->trace && !nvme_probes_on()))
			n = sq_process_fast(sq, cq, n);
		else if (!nvme_probes_on())
			n = sq_process_traced(sq, cq, n);
		else
			n = sq_process_general(sq, cq, n, t);
	} else {
		for (uint32_t i = 0; i < n; i++) {
			/* An admin command waiting for another thread holds up
			 * the admin queue: admin commands complete in order. */
			if (sq->ctrl->pending.active) {
				n = i;
				break;
			}
			sq_exec_one(sq, cq, t);
		}
	}
	sq->cmds += n;
	return n;
}

/* Point a queue's shadow doorbell and EventIdx into the host's buffers
 * (Doorbell Buffer Config; I/O queues only, as Linux uses it). */
static bool shadow_translate(struct nvme_ctrl *c, const struct vn_dma_table *t, uint16_t qid,
			     unsigned slot, uint32_t **shadow, uint32_t **ei)
{
	uint64_t dbbuf = c->dbbuf_iova, eib = c->ei_iova;
	uint64_t off = 8ull * qid + 4ull * slot;

	*shadow = *ei = NULL;
	if (!dbbuf || !qid)
		return true;
	*shadow = vn_dma_find(t, dbbuf + off, 4, VN_DMA_READ);
	*ei = vn_dma_find(t, eib + off, 4, VN_DMA_WRITE);
	return *shadow && *ei;
}

/*
 * A queue's memory (ring or shadow doorbells) is not in the DMA table. QEMU
 * replaces a mapping by an unmap and then new maps (SeaBIOS making its ROM
 * area read-only unmaps all RAM above 768 KiB for a moment), so the queue
 * first waits, touching nothing, for a table that has the memory again;
 * only when NVME_UNMAPPED_GRACE_NS pass without one is the controller
 * failed (CSTS.CFS).
 */
static VN_COLD void cq_unmapped(struct nvme_cq *cq, const char *why)
{
	uint64_t now = vn_now_ns();

	cq->tbl = NULL; /* translate again next round, with whatever table is current */
	if (!cq->unmapped_since) {
		cq->unmapped_since = now;
		vn_info("%s cq%u: %s: waiting up to %llu ms for it to be mapped again",
			cq->ctrl->name, cq->qid, why,
			(unsigned long long)(NVME_UNMAPPED_GRACE_NS / 1000000));
	} else if (now - cq->unmapped_since >= NVME_UNMAPPED_GRACE_NS) {
		nvme_ctrl_fatal(cq->ctrl, why);
	}
}

/* Re-translate rings after a DMA map change; false if one is gone. */
static VN_COLD bool cq_revalidate(struct nvme_cq *cq, const struct vn_dma_table *t)
{
	struct nvme_ctrl *c = cq->ctrl;

	cq->dbbuf_gen = vn_load_acquire(&c->dbbuf_gen);
	if (!shadow_translate(c, t, cq->qid, 1, &cq->shadow, &cq->ei)) {
		cq_unmapped(cq, "the shadow doorbell buffer is unmapped");
		return false;
	}
	for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next) {
		if (!shadow_translate(c, t, sq->qid, 0, &sq->shadow, &sq->ei)) {
			cq_unmapped(cq, "the shadow doorbell buffer is unmapped");
			return false;
		}
	}
	if (!cq_translate(cq, t)) {
		cq_unmapped(cq, "a completion queue's memory is unmapped");
		return false;
	}
	for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next) {
		if (!sq_translate(sq, t)) {
			cq_unmapped(cq, "a submission queue's memory is unmapped");
			return false;
		}
		sq_stage_translate(sq, t);
	}
	if (unlikely(cq->unmapped_since)) {
		vn_info("%s cq%u: mapped again after %llu us", c->name, cq->qid,
			(unsigned long long)((vn_now_ns() - cq->unmapped_since) / 1000));
		cq->unmapped_since = 0;
	}
	return true;
}

static unsigned reap(struct nvme_ctrl *c, unsigned poller)
{
	unsigned total = 0;

	for (uint32_t i = 1; i <= vn_load_relaxed(&c->ns_hi); i++) {
		/* Pairs with the release store in ns_publish (ctrl.c). */
		struct nvme_ns *ns = vn_load_acquire(&c->io_ns[i]);
		struct vn_be_io *done[32];
		int n;

		if (!ns || !vn_be_inflight(ns->chan[poller]))
			continue;
		n = vn_be_poll(ns->chan[poller], done, (int)VN_ARRAY_SIZE(done));
		for (int k = 0; k < n; k++)
			nvme_io_done(done[k]->ctx);
		total += (unsigned)n;
	}
	return total;
}

static void flush(struct nvme_ctrl *c, unsigned poller)
{
	for (uint32_t i = 1; i <= vn_load_relaxed(&c->ns_hi); i++) {
		struct nvme_ns *ns = vn_load_acquire(&c->io_ns[i]); /* as in reap */
		if (ns)
			vn_be_flush(ns->chan[poller]);
	}
}

/* The CQ's poller: stop when asked, once nothing is in flight. */
static VN_COLD unsigned cq_stop(struct nvme_cq *cq)
{
	struct nvme_ctrl *c = cq->ctrl;
	uint32_t io_inflight = 0;

	if (reap(c, cq->poller))
		flush(c, cq->poller);
	for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next) {
		sq_stage_drop(sq, cq);
		held_drop(sq, cq);
		if (sq->qid)
			io_inflight += sq->inflight;
	}
	if (!cq->qid)
		io_inflight += c->admin_io_inflight; /* Format NVM's erase */
	if (io_inflight)
		return 1;
	vn_poller_remove(cq->pl.owner, &cq->pl);
	vn_store_release(&cq->gone, 1u);
	return 0;
}

static VN_COLD void sq_unlink_deleted(struct nvme_cq *cq)
{
	for (struct nvme_sq **pp = &cq->sqs; *pp;) {
		struct nvme_sq *sq = *pp;
		if (vn_load_acquire(&sq->deleting) && sq->inflight == 0) {
			*pp = sq->next;
			vn_store_release(&sq->gone, 1u);
			continue;
		}
		pp = &sq->next;
	}
}

/*
 * Interrupt Coalescing (Set Features 08h): hold the interrupt until THR + 1
 * completions are pending or TIME x 100 us have passed since the first; not
 * for the admin queue, nor for a vector with Coalescing Disable (09h).
 */
static inline bool irq_due(struct nvme_ctrl *c, struct nvme_cq *cq)
{
	uint32_t co = vn_load_relaxed(&c->feat.irq_coalescing);
	uint64_t now, limit;

	if (likely(!co) || cq->qid == 0 ||
	    (vn_load_relaxed(&c->feat.ivc[cq->iv]) & VNVME_FEAT_IVC_CD))
		return true;
	if (cq->irq_pending >= (co & 0xff) + 1)
		goto due;
	limit = ((co >> 8) & 0xff) * 100000ull;
	now = vn_now_ns();
	if (!cq->irq_since)
		cq->irq_since = now;
	if (now - cq->irq_since < limit)
		return false;
due:
	cq->irq_since = 0;
	return true;
}

/*
 * Complete what the previous CQ poll on this thread left staged (lag_sq),
 * unless it is this CQ's own (sq_process does it in order) or its CQ no
 * longer runs as it did: stopping (cq_stop drops it), failed, or its DMA
 * table replaced (its next poll translates the staged buffers again). Its
 * CQ's interrupt, if any, is raised by that CQ's next poll.
 */
static VN_NOINLINE void lag_drain(struct nvme_sq *sq, struct nvme_cq *self)
{
	struct nvme_cq *cq = sq->cq;
	struct nvme_ctrl *c = sq->ctrl;

	if (cq == self || vn_load_relaxed(&cq->stopping) ||
	    (vn_load_relaxed(&c->csts) & VNVME_CSTS_CFS) || cq->tbl != vn_dma_table_get(c->o.dma))
		return;
	sq_drain(sq, cq, 0);
}

unsigned nvme_cq_poll(struct vn_pollable *pl)
{
	struct nvme_cq *cq = vn_container_of(pl, struct nvme_cq, pl);
	struct nvme_ctrl *c = cq->ctrl;
	const struct vn_dma_table *t;
	unsigned work = 0;
	bool deleting = false;

	if (unlikely(lag_sq)) {
		lag_drain(lag_sq, cq);
		lag_sq = NULL;
	}

	if (unlikely(vn_load_acquire(&cq->stopping)))
		return cq_stop(cq);
	if (unlikely(vn_load_relaxed(&c->csts) & VNVME_CSTS_CFS))
		return 0;
	t = vn_dma_table_get(c->o.dma);
	if (unlikely(t != cq->tbl || vn_load_relaxed(&c->dbbuf_gen) != cq->dbbuf_gen) &&
	    !cq_revalidate(cq, t))
		return 0;
	if (unlikely(cq->san))
		nvme_san_cq_round(cq);

	/* Completions may submit more (the next range of a DSM): flush those
	 * too, not only what the SQs brought. */
	if (unlikely(vn_load_relaxed(&c->async_ns)))
		work = reap(c, cq->poller);
	for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next) {
		if (unlikely(vn_load_relaxed(&sq->deleting))) {
			deleting = true;
			if (unlikely(sq->san))
				nvme_san_sq_deleting(sq);
			sq_drain(sq, cq, 0);
			/* Held completions go now: the deletion waits for them. */
			held_release(sq, cq, UINT64_MAX);
			continue;
		}
		work += sq_process(sq, cq, t);
	}
	if (unlikely(cq->nheld))
		work += cq_release_held(cq);
	if (work && unlikely(vn_load_relaxed(&c->async_ns)))
		flush(c, cq->poller);
	if (unlikely(deleting))
		sq_unlink_deleted(cq);
	if (cq->irq_pending) {
		if (!cq->ien) {
			cq->irq_pending = 0;
		} else if (irq_due(c, cq)) {
			c->o.irq(c->o.irq_arg, cq->iv);
			cq->irqs++;
			cq->irq_pending = 0;
		} else {
			work++; /* an interrupt is held back: do not go to sleep */
		}
	}
	if (unlikely(cq->qid == 0))
		nvme_admin_poll_pending(c, c->sqs[0]);
	cq->polls++;
	cq->busy_polls += work != 0;
	return work;
}

/* What of ns an SQ still has staged (ram: its bytes). */
static uint32_t sq_staged_in(const struct nvme_sq *sq, const struct nvme_ns *ns)
{
	uint32_t n = 0;

	if (!ns->mem)
		return 0;
	for (uint32_t i = 0; i < sq->st_n; i++) {
		const struct nvme_stage *e = &sq->stage[(sq->st_head + i) & (NVME_STAGE_MAX - 1)];
		n += e->mem >= ns->mem && e->mem < ns->mem + ns->mem_size;
	}
	return n;
}

/*
 * A detach: the SQ's completions held for ns. Posted now, as they would be
 * later (the host waits for them either way), unless count_only (the CQ is
 * not live: they wait for the poll that would post or drop them); returns
 * those left.
 */
static VN_COLD uint32_t held_release_ns(struct nvme_sq *sq, struct nvme_cq *cq,
					const struct nvme_ns *ns, bool count_only)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < sq->nheld; i++) {
		struct nvme_req *r = &sq->reqs[sq->held[i]];
		if (r->ns == ns) {
			n++;
			if (!count_only)
				r->due = 0;
		}
	}
	if (count_only || !n)
		return n;
	/* Due times changed: restore the heap order, then post what is due. */
	for (uint32_t i = sq->nheld / 2; i-- > 0;)
		held_sift_down(sq, i);
	held_release(sq, cq, 0);
	return 0;
}

uint32_t nvme_ns_quiesce_local(struct nvme_ctrl *c, const struct nvme_ns *ns, unsigned poller)
{
	const struct vn_dma_table *t = vn_dma_table_get(c->o.dma);
	uint32_t busy = vn_be_inflight(ns->chan[poller]);
	/* Under CFS the CQs are polled no more until a reset drops what they
	 * staged without touching it: those do not count. */
	bool dead = vn_load_relaxed(&c->csts) & VNVME_CSTS_CFS;

	/* qlock: the CQs in c->cqs stay while we look; their SQ lists are
	 * this poller's own (we run on it). */
	pthread_mutex_lock(&c->qlock);
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		struct nvme_cq *cq = c->cqs[q];

		if (!cq || cq->poller != poller)
			continue;
		for (struct nvme_sq *sq = cq->sqs; sq; sq = sq->next) {
			uint32_t staged;

			if (sq->fk_ns == ns) {
				sq->fk_read = VNVME_NVM_READ; /* as at creation */
				sq->fk_ns = &fk_none;
			}
			if (ns->model && sq->nheld)
				busy += held_release_ns(sq, cq, ns,
							dead || t != cq->tbl ||
							    vn_load_relaxed(&cq->stopping));
			if (dead || !(staged = sq_staged_in(sq, ns)))
				continue;
			/*
			 * Complete them now, as the next poll would: a host
			 * that keeps the SQ busy with commands for the general
			 * path could otherwise hold the last NVME_STAGE_LAG
			 * back round after round (sq_process_io). Only where
			 * that poll would (the CQ live, its host pointers of
			 * the current DMA table, which stays ours until this
			 * round ends: QSBR); else they wait for it.
			 */
			if (t == cq->tbl && !vn_load_relaxed(&cq->stopping))
				sq_drain(sq, cq, 0);
			else
				busy += staged;
		}
	}
	pthread_mutex_unlock(&c->qlock);
	return busy;
}

/* ------------------------------------------------------------------------ */
/* Creation and hand-over (admin poller or control thread) */

int nvme_cq_create(struct nvme_ctrl *c, uint16_t qid, uint64_t iova, uint32_t size, bool ien,
		   uint16_t iv, struct nvme_cq **out)
{
	struct nvme_cq *cq;

	if (posix_memalign((void **)&cq, VN_CACHELINE, sizeof(*cq)))
		return -ENOMEM;
	memset(cq, 0, sizeof(*cq));
	cq->pl.poll = nvme_cq_poll;
	cq->pl.slow = qid == 0; /* admin commands can wait a few rounds */
	cq->ctrl = c;
	cq->qid = qid;
	cq->iova = iova;
	cq->size = size;
	cq->phase = 1; /* the phase tag starts at 1 for a new queue */
	cq->ien = ien;
	cq->iv = iv;
	cq->serial = __atomic_add_fetch(&c->q_serial, 1u, __ATOMIC_RELAXED);
	cq->db = &c->o.doorbells[2 * qid + 1];
	vn_store_release(cq->db, 0u);
	cq->san = nvme_san_q_new(c, false);
	if (!cq_translate(cq, vn_dma_table_get(c->o.dma))) {
		nvme_cq_free(cq);
		return -EFAULT;
	}
	/* The admin queue on the first poller, I/O queues round robin. */
	cq->poller = qid ? c->next_poller++ % c->o.nr_pollers : 0;
	*out = cq;
	return 0;
}

/*
 * Request slots: an anonymous mapping of their own, not calloc, so that the
 * pages stay untouched until a slot is used whatever the allocator did
 * before (glibc serves a calloc the size of one it just freed from its heap,
 * and clears all of it), and go back to the system when the SQ is deleted.
 */
static struct nvme_req *reqs_map(uint32_t n, size_t *len)
{
	void *p;

	*len = (size_t)n * sizeof(struct nvme_req);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * The service-time histogram, mapped as the request slots are: 8 KiB of
 * buckets, of which a queue touches few (from 1 us to 1 s at 2-4 GHz: 20
 * powers of two, 320 buckets, 2.5 KiB); the page of its header is touched
 * at once (min).
 */
static struct vn_hist *svc_map(void)
{
	void *p = mmap(NULL, sizeof(struct vn_hist), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	((struct vn_hist *)p)->min = UINT64_MAX; /* vn_hist_init, but for the zeroes */
	return p;
}

int nvme_sq_create(struct nvme_ctrl *c, uint16_t qid, uint64_t iova, uint32_t size,
		   struct nvme_cq *cq, struct nvme_sq **out)
{
	struct nvme_sq *sq;

	if (posix_memalign((void **)&sq, VN_CACHELINE, sizeof(*sq)))
		return -ENOMEM;
	memset(sq, 0, sizeof(*sq));
	sq->ctrl = c;
	sq->qid = qid;
	sq->cqid = cq->qid;
	sq->cq = cq;
	sq->iova = iova;
	sq->size = size;
	sq->serial = __atomic_add_fetch(&c->q_serial, 1u, __ATOMIC_RELAXED);
	sq->svc_gen = vn_load_relaxed(&c->stats_gen);
	sq->db = &c->o.doorbells[2 * qid];
	vn_store_release(sq->db, 0u);
	if (c->o.trace) {
		sq->trace = c->o.trace + (size_t)qid * c->o.trace_entries;
		sq->trace_mask = c->o.trace_entries - 1;
	}
	sq->san = nvme_san_q_new(c, true);
	/* The ring first: a ring outside the host's maps is refused before
	 * its request slots are allocated. */
	if (!sq_translate(sq, vn_dma_table_get(c->o.dma))) {
		nvme_sq_free(sq);
		return -EFAULT;
	}
	sq->svc = svc_map();
	if (!sq->svc) {
		nvme_sq_free(sq);
		return -ENOMEM;
	}
	if (qid) {
		sq->reqs = reqs_map(size, &sq->reqs_len);
		sq->free = calloc(size, sizeof(*sq->free));
		sq->stage = calloc(NVME_STAGE_MAX, sizeof(*sq->stage));
		sq->held = calloc(size, sizeof(*sq->held));
		sq->fk_read = VNVME_NVM_READ; /* NSID 0: fits no command */
		sq->fk_ns = &fk_none;
		if (!sq->reqs || !sq->free || !sq->stage || !sq->held) {
			nvme_sq_free(sq);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < size; i++)
			sq->free[i] = (uint16_t)(size - 1 - i);
		sq->nfree = size;
	} else {
		/* The admin queue takes no request slot (sq_take's bound). */
		sq->nfree = UINT32_MAX;
	}
	*out = sq;
	return 0;
}

static void cq_attach_fn(void *arg)
{
	struct nvme_cq *cq = arg;

	if (vn_load_acquire(&cq->stopping)) {
		vn_store_release(&cq->gone, 1u);
		return;
	}
	vn_poller_add(cq->ctrl->o.pollers[cq->poller], &cq->pl);
	vn_store_release(&cq->attached, 1u);
}

static void sq_attach_fn(void *arg)
{
	struct nvme_sq *sq = arg;

	sq->next = sq->cq->sqs;
	sq->cq->sqs = sq;
	sq->cq->tbl = NULL; /* re-translate everything, shadows included, next round */
}

int nvme_cq_start(struct nvme_cq *cq)
{
	return vn_poller_post(cq->ctrl->o.pollers[cq->poller], cq_attach_fn, cq);
}

int nvme_sq_start(struct nvme_sq *sq)
{
	return vn_poller_post(sq->ctrl->o.pollers[sq->cq->poller], sq_attach_fn, sq);
}

void nvme_sq_free(struct nvme_sq *sq)
{
	if (!sq)
		return;
	if (sq->reqs)
		munmap(sq->reqs, sq->reqs_len);
	if (sq->svc)
		munmap(sq->svc, sizeof(*sq->svc));
	free(sq->free);
	free(sq->stage);
	free(sq->held);
	free(sq->san);
	free(sq);
}

void nvme_cq_free(struct nvme_cq *cq)
{
	if (cq)
		free(cq->san);
	free(cq);
}
