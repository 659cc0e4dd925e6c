/* SPDX-License-Identifier: MIT */
/*
 * libvnvme: a user-space NVMe driver.
 *
 * Transports:
 *  - vfio-user: the address is a UNIX socket path of a vfio-user NVMe
 *    controller (vnvme-target, SPDK's vfio-user target). Memory is shared as
 *    memfd DMA regions; doorbells are written into the mmapped BAR0 area.
 *
 * Threading: a controller's admin functions are serialised by the library;
 * each I/O queue pair belongs to one thread, which submits and polls on it
 * without locks.
 *
 * Return convention: 0 or a count on success, -errno on failure. An NVMe
 * error is not an errno: it arrives in the completion's status, which
 * vnvme_status_name() names.
 */
#ifndef VNVME_VNVME_H
#define VNVME_VNVME_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "vnvme/spec.h"
#include "vnvme/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vnvme_ctrl;
struct vnvme_qpair;

struct vnvme_ctrl_opts {
	int timeout_ms;           /* admin commands and transport requests; 0: 5000 */
	size_t dma_size;          /* DMA memory the library manages; 0: 64 MiB */
	uint16_t admin_qdepth;    /* 0: 32 */
	uint32_t io_queues;       /* I/O queue pairs to ask for; 0: 64 */
	bool no_shadow_doorbells; /* do not use Doorbell Buffer Config even if offered */
};

/* Open and enable a controller: disable, admin queue, enable, Identify
 * Controller, number of queues. */
int vnvme_ctrl_open(const char *addr, const struct vnvme_ctrl_opts *opts, struct vnvme_ctrl **out);
void vnvme_ctrl_close(struct vnvme_ctrl *c);

const struct vnvme_id_ctrl *vnvme_ctrl_id(const struct vnvme_ctrl *c);
/* I/O queue pairs the controller granted. */
uint32_t vnvme_ctrl_max_qpairs(const struct vnvme_ctrl *c);
/* Entries an I/O queue may have: CAP.MQES + 1. */
uint32_t vnvme_ctrl_max_qdepth(const struct vnvme_ctrl *c);
/* Bytes one command may transfer (MDTS, in CAP.MPSMIN pages); 0: no limit. */
uint64_t vnvme_ctrl_max_xfer(const struct vnvme_ctrl *c);
/* Is the controller alive? 0, -EIO (fatal status), or the transport's error
 * (-ECONNRESET ... when the target went away). For a stalled queue. */
int vnvme_ctrl_check(struct vnvme_ctrl *c);
/* The last error's explanation (for messages), or "". */
const char *vnvme_ctrl_errmsg(const struct vnvme_ctrl *c);

struct vnvme_ns_info {
	uint32_t nsid;
	uint32_t lba_size;
	uint64_t nlb;
};
/* Identify Namespace; -ENODEV for an inactive namespace. */
int vnvme_ns_info(struct vnvme_ctrl *c, uint32_t nsid, struct vnvme_ns_info *out);

/* Memory the controller can reach (page aligned). NULL when exhausted. */
void *vnvme_dma_alloc(struct vnvme_ctrl *c, size_t size);
void vnvme_dma_free(struct vnvme_ctrl *c, void *p);

/*
 * A raw admin command. buf (len bytes, from vnvme_dma_alloc or NULL) is put
 * in the data pointer as PRPs. Waits for the completion; *cqe gets it.
 * Returns 0 (look at the status), -ETIMEDOUT, -EIO (controller fatal).
 */
int vnvme_admin(struct vnvme_ctrl *c, struct vnvme_sqe *sqe, void *buf, size_t len,
		struct vnvme_cqe *cqe);

/* I/O queue pairs ------------------------------------------------------- */

typedef void (*vnvme_cb)(void *arg, const struct vnvme_cqe *cqe);

struct vnvme_qpair_opts {
	uint32_t depth;  /* entries; 0: 256; at most CAP.MQES + 1 and 65535 */
	bool interrupts; /* MSI-X to an eventfd (vnvme_qpair_eventfd) */
};

int vnvme_qpair_create(struct vnvme_ctrl *c, const struct vnvme_qpair_opts *opts,
		       struct vnvme_qpair **out);
void vnvme_qpair_destroy(struct vnvme_qpair *q);
uint16_t vnvme_qpair_id(const struct vnvme_qpair *q);
/* The eventfd signalled on completion (interrupt mode), or -1. */
int vnvme_qpair_eventfd(const struct vnvme_qpair *q);
/* Commands submitted and not yet completed. */
uint32_t vnvme_qpair_outstanding(const struct vnvme_qpair *q);
/*
 * The device's trace records of this queue pair's SQ (vnvme-target with
 * "trace", over vfio-user: include/vnvme/trace.h, docs/attribution.md):
 * *entries of them, the record of CID cid at [cid & (*entries - 1)], to be
 * read with vnvme_trace_get() once the command's CQE was seen; the stamps
 * count *tsc_hz TSC ticks per second. NULL when the controller has no trace
 * table (or a malformed one, or a PCI transport).
 */
const struct vnvme_trace_rec *vnvme_qpair_trace(const struct vnvme_qpair *q, uint32_t *entries,
						uint64_t *tsc_hz);

/*
 * Queue a command; -EBUSY when the queue is full. The doorbell is rung by
 * vnvme_qpair_flush() or vnvme_qpair_poll(), once for a whole batch. buf
 * must come from vnvme_dma_alloc; PRPs (and PRP lists) are built here.
 */
int vnvme_submit(struct vnvme_qpair *q, struct vnvme_sqe *sqe, void *buf, size_t len, vnvme_cb cb,
		 void *arg);
int vnvme_read(struct vnvme_qpair *q, uint32_t nsid, void *buf, uint64_t slba, uint32_t nlb,
	       uint32_t lba_size, vnvme_cb cb, void *arg);
int vnvme_write(struct vnvme_qpair *q, uint32_t nsid, const void *buf, uint64_t slba, uint32_t nlb,
		uint32_t lba_size, vnvme_cb cb, void *arg);
int vnvme_flush(struct vnvme_qpair *q, uint32_t nsid, vnvme_cb cb, void *arg);
int vnvme_write_zeroes(struct vnvme_qpair *q, uint32_t nsid, uint64_t slba, uint32_t nlb,
		       vnvme_cb cb, void *arg);
/* Deallocate `nr` ranges (ranges from vnvme_dma_alloc). */
int vnvme_deallocate(struct vnvme_qpair *q, uint32_t nsid, struct vnvme_dsm_range *ranges,
		     uint32_t nr, vnvme_cb cb, void *arg);
int vnvme_compare(struct vnvme_qpair *q, uint32_t nsid, const void *buf, uint64_t slba,
		  uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg);

/*
 * A Read, Write or Compare prepared once for a buffer that is used again and
 * again (an I/O slot): vnvme_rw_prep() checks the buffer and builds the SQE
 * and its PRPs; vnvme_rw_submit() then only adds a CID and the LBA. The
 * fields are the library's. The buffer must stay allocated while the
 * preparation is in use; one preparation may be submitted to any queue pair
 * of its controller, and again before it completes.
 */
struct vnvme_rw {
	struct vnvme_sqe sqe; /* CID 0, SLBA 0: filled in at submission */
	vnvme_cb cb;
	void *arg;
	uint32_t prp_n; /* PRP list entries to write at submission; 0: PRP2 in sqe */
	uint32_t rsvd;
};

/* opc is VNVME_NVM_READ, _WRITE or _COMPARE; buf (nlb * lba_size bytes) from
 * vnvme_dma_alloc(c). 0, -EINVAL (opcode; nlb 0 or above 65536), -EFAULT
 * (buf), -E2BIG (more than the driver's PRP list holds). */
int vnvme_rw_prep(struct vnvme_ctrl *c, struct vnvme_rw *rw, uint8_t opc, uint32_t nsid,
		  const void *buf, uint32_t nlb, uint32_t lba_size, vnvme_cb cb, void *arg);
/* Queue a prepared command at LBA slba; 0 or -EBUSY when the queue is full.
 * The doorbell is rung as for vnvme_submit(). */
int vnvme_rw_submit(struct vnvme_qpair *q, const struct vnvme_rw *rw, uint64_t slba);

/* Ring the SQ doorbell for what was queued since the last ring. */
void vnvme_qpair_flush(struct vnvme_qpair *q);
/* Flush, then reap up to max completions (0: all), calling their callbacks;
 * one CQ doorbell write for the batch. Returns the count. A controller that
 * stopped answering is found with vnvme_ctrl_check(). */
int vnvme_qpair_poll(struct vnvme_qpair *q, unsigned max);

/* A completion as vnvme_qpair_reap() hands it out. */
struct vnvme_cpl {
	struct vnvme_cqe cqe;
	void *arg; /* the arg given at submission */
};

/* Flush, then reap up to max completions into cpl[] instead of calling their
 * callbacks (they are not called; pass NULL at submission); one CQ doorbell
 * write for the batch. For callers that handle a batch in a loop of their
 * own. Returns the count in cpl[]. */
int vnvme_qpair_reap(struct vnvme_qpair *q, struct vnvme_cpl *cpl, unsigned max);

/*
 * The inline hot path, as liburing's io_uring_get_sqe() and
 * io_uring_cq_advance() are inline: a loop that reaps and resubmits in the
 * caller's own code, with no call per I/O. The doorbells stay out of line,
 * one call per batch:
 *
 *	struct vnvme_hot *h = vnvme_qpair_hot(q, VNVME_HOT_VERSION);
 *	for (;;) {
 *		int n = vnvme_hot_reap(h, cpl, max);  // no doorbell yet
 *		for (int i = 0; i < n; i++)
 *			... vnvme_hot_rw_submit(h, rw, lba) ...;
 *		vnvme_hot_ring(h);  // both doorbells, when they moved
 *	}
 *
 * The queue pair's state the functions below touch is this struct, which
 * the application's code therefore reads and writes in place: its layout
 * is part of the ABI, versioned by VNVME_HOT_VERSION (bumped whenever it
 * changes). vnvme_qpair_hot() refuses a version the library does not have,
 * so a program built against another layout finds out once, at setup, and
 * can use the out-of-line functions instead. The fields are the library's:
 * read none of them, write none of them.
 *
 * The hot functions mix freely with the out-of-line ones on the same queue
 * pair (vnvme_rw_submit(), vnvme_qpair_poll(), ...), all from its one
 * thread.
 */
#define VNVME_HOT_VERSION 2
#define VNVME_CID_FREE    UINT32_MAX /* vnvme_req.busy of a free CID */

/* What a command slot (CID) keeps until its completion. */
struct vnvme_req {
	vnvme_cb cb;
	void *arg;
	/* The epoch of its submission, VNVME_CID_FREE while it is free. A
	 * CQE is taken only for a CID with busy < vnvme_hot.epoch (one
	 * compare): submitted before the last SQ doorbell write and not
	 * completed since, so a broken controller's CQE for a CID it never
	 * got, or got once and completes again, is skipped. */
	uint32_t busy;
	uint32_t rsvd[3];
};

struct vnvme_hot {
	struct vnvme_sqe *sq;
	const struct vnvme_cqe *cq;
	struct vnvme_req *reqs; /* by CID */
	uint16_t *free_cids;    /* a stack of nfree CIDs */
	struct vnvme_qpair *q;
	uint32_t nfree;
	uint32_t epoch; /* SQ doorbell writes (renumbered before it wraps) */
	uint16_t size;  /* entries of each ring; CIDs are below it */
	uint16_t sq_tail;
	uint16_t sq_rung; /* sq_tail at the last SQ doorbell write */
	uint16_t cq_head;
	uint16_t cq_rung; /* cq_head at the last CQ doorbell write */
	uint8_t phase;    /* the phase tag a new CQE at cq_head carries */
};

/* The queue pair's hot state, or NULL when version is not the library's
 * layout (a program built against other headers). */
struct vnvme_hot *vnvme_qpair_hot(struct vnvme_qpair *q, unsigned version);
/* Ring the SQ doorbell for the commands queued, and the CQ doorbell for the
 * completions reaped, since the last ring; vnvme_hot_ring() checks first. */
void vnvme_qpair_ring(struct vnvme_qpair *q);
/* The PRP list of a prepared command that has one, for CID cid into SQE s:
 * the uncommon case of the hot submissions, out of line. */
void vnvme_hot_prp_list(struct vnvme_qpair *q, uint16_t cid, const struct vnvme_rw *rw,
			struct vnvme_sqe *s);

/*
 * Write SQ slot s: the prepared entry sqe with its CID and its starting LBA
 * (cdw10, cdw11). On x86-64, four 16-byte stores with CID and LBA merged
 * in registers first: the slot's line is usually on its way from the
 * controller, which read it last, and six stores (the entry, then CID and
 * LBA over it) fill the store buffer sooner while they wait for it (null
 * 512 B QD128 +7 % on the AMD type; docs/performance.md).
 */
static inline void vnvme_sqe_fill(struct vnvme_sqe *s, const struct vnvme_sqe *sqe, uint16_t cid,
				  uint64_t slba)
{
#if defined(__SSE2__) && defined(__x86_64__)
	const __m128i *src = (const __m128i *)(const void *)sqe;
	__m128i *dst = (__m128i *)(void *)s;
	/* CID: word 1 of the first 16 bytes; cdw10-11: the high half of the
	 * third (asserted in src/driver/qpair.c). */
	__m128i a = _mm_insert_epi16(_mm_loadu_si128(src), cid, 1);
	__m128i c =
	    _mm_unpacklo_epi64(_mm_loadu_si128(src + 2), _mm_cvtsi64_si128((long long)slba));

	_mm_storeu_si128(dst, a);
	_mm_storeu_si128(dst + 1, _mm_loadu_si128(src + 1));
	_mm_storeu_si128(dst + 2, c);
	_mm_storeu_si128(dst + 3, _mm_loadu_si128(src + 3));
#else
	*s = *sqe;
	s->cid = cid;
	memcpy(&s->cdw10, &slba, sizeof(slba));
#endif
}

/* vnvme_rw_submit(), inline (that is this): 0 or -EBUSY when the queue is
 * full. No doorbell: vnvme_hot_ring() (or any flush or poll) rings it for
 * the batch. */
static inline int vnvme_hot_rw_submit(struct vnvme_hot *h, const struct vnvme_rw *rw, uint64_t slba)
{
	struct vnvme_sqe *s;
	uint32_t nfree = h->nfree;
	uint16_t cid, tail = h->sq_tail;

	if (__builtin_expect(!nfree, 0))
		return -EBUSY;
	cid = h->free_cids[--nfree];
	h->nfree = nfree;
	h->reqs[cid].busy = h->epoch;
	/* cb and arg in one copy: they follow each other in both structs. */
	memcpy(&h->reqs[cid], (const char *)rw + offsetof(struct vnvme_rw, cb),
	       offsetof(struct vnvme_req, busy));
	s = &h->sq[tail];
	vnvme_sqe_fill(s, &rw->sqe, cid, slba);
	if (rw->prp_n) /* a PRP list to write: the uncommon case */
		vnvme_hot_prp_list(h->q, cid, rw, s);
	h->sq_tail = ++tail == h->size ? 0 : tail;
	return 0;
}

/* Is a completion waiting at the CQ head? The phase check an empty
 * vnvme_hot_reap() makes, alone: for a loop that polls in one place and
 * handles a batch in another. Acquire: as in vnvme_hot_reap(). */
static inline bool vnvme_hot_ready(const struct vnvme_hot *h)
{
	return (__atomic_load_n(&h->cq[h->cq_head].status, __ATOMIC_ACQUIRE) & VNVME_CQE_P) ==
	       h->phase;
}

/*
 * As vnvme_qpair_reap() without the doorbells: up to max completions into
 * cpl[] (their callbacks are not called), the count returned. The consumed
 * entries go back to the controller at vnvme_hot_ring(). A CQE whose CID is
 * not below the ring size is a broken controller's: it is consumed and
 * skipped, never used as an index; so is one whose CID is not outstanding
 * (never submitted, or completed already: see vnvme_req.busy), which
 * therefore cannot be freed twice.
 */
static inline int vnvme_hot_reap(struct vnvme_hot *h, struct vnvme_cpl *cpl, unsigned max)
{
	const struct vnvme_cqe *cq = h->cq, *e = &cq[h->cq_head], *end;
	struct vnvme_req *reqs;
	uint16_t *free_cids;
	uint32_t nfree, size, phase = (uint32_t)h->phase << 16, outstanding, epoch;
	struct vnvme_cpl *out = cpl, *out_end;

	if (!vnvme_hot_ready(h)) /* an empty poll is this check alone */
		return 0;
	end = &cq[h->size];
	reqs = h->reqs;
	free_cids = h->free_cids;
	epoch = h->epoch;
	nfree = h->nfree;
	size = h->size;
	outstanding = size - 1 - nfree;
	out_end = cpl + (max < outstanding ? max : outstanding);
	while (out < out_end) {
		uint32_t dw3;

		/* CID and status in one load. Acquire: pairs with the
		 * controller's write of the phase, made last (NVMe Base 2.0c
		 * §3.3.3.2 "Completion Queue Entry"). */
		dw3 = __atomic_load_n((const uint32_t *)(const void *)&e->cid, __ATOMIC_ACQUIRE);
		if ((dw3 & (uint32_t)VNVME_CQE_P << 16) != phase)
			break;
		memcpy(&out->cqe, e, sizeof(*e));
		memcpy(&out->cqe.cid, &dw3, 4); /* what the checks below saw */
		if (++e == end) {
			e = cq;
			phase ^= (uint32_t)VNVME_CQE_P << 16;
		}
		dw3 &= 0xffff; /* the CID */
		if (__builtin_expect(dw3 >= size, 0))
			continue; /* not ours: no slot to free */
		if (__builtin_expect(reqs[dw3].busy >= epoch, 0))
			continue; /* not outstanding: nothing to free */
		reqs[dw3].busy = VNVME_CID_FREE;
		out->arg = reqs[dw3].arg;
		out++;
		free_cids[nfree++] = (uint16_t)dw3;
	}
	h->nfree = nfree;
	h->cq_head = (uint16_t)(e - cq);
	h->phase = (uint8_t)(phase >> 16);
	return (int)(out - cpl);
}

/* Both doorbells, for what was queued and reaped since the last ring; a
 * compare when neither moved. */
static inline void vnvme_hot_ring(struct vnvme_hot *h)
{
	if (h->sq_tail != h->sq_rung || h->cq_head != h->cq_rung)
		vnvme_qpair_ring(h->q);
}

/*
 * A batch in the caller's own locals, for a loop that resubmits what
 * completes: the CID of a completion goes straight to its resubmission
 * (no trip through the free-CID stack), and the queue state stays in
 * registers while the SQEs are written.
 *
 *	struct vnvme_hot_batch b;
 *	unsigned n = vnvme_hot_batch_begin(&b, h, max);  // counts, takes none
 *	t = clock();  // later than every completion counted
 *	while (n--) {
 *		struct vnvme_hot_cpl c;
 *		if (!vnvme_hot_batch_take(&b, &c))
 *			continue;  // a broken controller's CQE, consumed
 *		... c.arg, c.status ...
 *		vnvme_hot_batch_resubmit(&b, c.cid, rw, lba);
 *		// or: vnvme_hot_batch_release(&b, c.cid);
 *	}
 *	vnvme_hot_batch_end(&b);
 *	vnvme_hot_ring(h);  // both doorbells
 *
 * Between begin and end, use no other function on the queue pair. Every
 * CID taken must be resubmitted or released before the end.
 */
struct vnvme_hot_batch {
	struct vnvme_hot *h;
	struct vnvme_sqe *s;       /* the SQ slot of the next command */
	const struct vnvme_cqe *e; /* the next CQE to take */
	struct vnvme_sqe *sq;
	struct vnvme_req *reqs;
	uint32_t epoch, size;
	unsigned taken; /* the count vnvme_hot_batch_begin() returned */
};

/* A completion taken from a batch. dw3 is the CQE's dword 3 as read:
 * the CID in bits 15:0, the phase in bit 16, the Status Field above
 * (vnvme_hot_cpl_sf()); a test of dw3 >> 17 needs no other shift. */
struct vnvme_hot_cpl {
	void *arg; /* the arg given at submission */
	uint32_t dw3;
	uint16_t cid;
};

/* The Status Field of a completion taken (0: success). */
static inline uint16_t vnvme_hot_cpl_sf(const struct vnvme_hot_cpl *c)
{
	return (uint16_t)(c->dw3 >> 17);
}

/*
 * Count the completions at the CQ head: up to max, no more than commands
 * are outstanding, and neither ring wraps within the batch (the CQ up to
 * its last entry, the SQ up to its last slot; the rest is the next
 * batch's), so that a take and a resubmission only step a pointer. Only
 * the phase tags are read; the CQEs counted are consumed (the CQ doorbell
 * goes with the next ring), to be taken one by one with
 * vnvme_hot_batch_take(). Returns the count; 0 leaves nothing to end.
 */
/* Fetch a cache line for writing (x86's PREFETCHW: older CPUs run it as a
 * NOP; a prefetch never faults). */
static inline void vnvme_prefetchw(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* How far ahead of the SQ slot it fills a resubmission fetches a slot for
 * writing (vnvme_hot_batch_resubmit). */
#define VNVME_SQ_PREFETCH 4

static inline unsigned vnvme_hot_batch_begin(struct vnvme_hot_batch *b, struct vnvme_hot *h,
					     unsigned max)
{
	const struct vnvme_cqe *cq = h->cq, *e = &cq[h->cq_head], *lim;
	uint32_t size = h->size, head = h->cq_head, tail = h->sq_tail;
	uint32_t outstanding = size - 1u - h->nfree;
	unsigned n;

	if (max > outstanding)
		max = outstanding;
	if (max > size - head)
		max = size - head;
	if (max > size - tail)
		max = size - tail;
	b->e = e;
	lim = e + max;
	/* Acquire: pairs with the controller's write of the phase, made last
	 * (NVMe Base 2.0c §3.3.3.2 "Completion Queue Entry"); the takes read
	 * the rest of each CQE after it. One loop per phase: a test of the
	 * bit, no compare. */
	if (h->phase)
		while (e < lim && (__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1))
			e++;
	else
		while (e < lim && !(__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1))
			e++;
	n = (unsigned)(e - b->e);
	head += n;
	if (head == size) {
		head = 0;
		h->phase ^= VNVME_CQE_P;
	}
	h->cq_head = (uint16_t)head;
	b->h = h;
	b->sq = h->sq;
	b->s = &h->sq[tail];
	b->reqs = h->reqs;
	b->epoch = h->epoch;
	b->size = size;
	b->taken = n;
	/* Every SQ slot the batch may fill (one line each, within the ring:
	 * see max above), fetched for writing now, all at once: the controller
	 * read them last, and an SQE store waits for its line. Their transfers
	 * then overlap one another and the takes, rather than following one
	 * another a few slots apart (docs/performance.md, "Where the cycles
	 * go": +10-18 % of null IOPS at QD16 and QD128 on the AMD type). */
	for (unsigned i = 0; i < n; i++)
		vnvme_prefetchw(b->s + i);
	return n;
}

/*
 * The next counted completion: true and *c filled in, or false for a CQE
 * that is not ours (a CID beyond the ring, or one not outstanding: never
 * submitted, completed already, or completed twice in this batch), which is
 * skipped. CID and status are read once, in one load, and checked before
 * use. Call it once per count vnvme_hot_batch_begin() returned.
 */
static inline bool vnvme_hot_batch_take(struct vnvme_hot_batch *b, struct vnvme_hot_cpl *c)
{
	/* Ordered after begin's acquire load of this CQE's phase. */
	uint32_t dw3 =
	    __atomic_load_n((const uint32_t *)(const void *)&b->e->cid, __ATOMIC_RELAXED);
	uint32_t cid = dw3 & 0xffff;

	b->e++; /* within the ring: see vnvme_hot_batch_begin() */
	if (__builtin_expect(cid >= b->size, 0))
		return false;
	if (__builtin_expect(b->reqs[cid].busy >= b->epoch, 0))
		return false;
	/* Taken: as if submitted in this epoch, so a second CQE for it in
	 * this batch is refused, and it stays out of the free-CID stack. */
	b->reqs[cid].busy = b->epoch;
	c->arg = b->reqs[cid].arg;
	c->cid = (uint16_t)cid;
	c->dw3 = dw3;
	return true;
}

/* Queue a prepared command on the CID of a completion just taken, for the
 * same request: it keeps that completion's cb and arg (rw's are not used).
 * No doorbell, no -EBUSY (the CID is the caller's). 0, or -EINVAL for a CID
 * beyond the ring. */
static inline int vnvme_hot_batch_resubmit(struct vnvme_hot_batch *b, uint16_t cid,
					   const struct vnvme_rw *rw, uint64_t slba)
{
	struct vnvme_sqe *s = b->s;

	if (__builtin_expect(cid >= b->size, 0))
		return -EINVAL;
	/* A slot a few ahead: the batch's own slots were fetched at
	 * vnvme_hot_batch_begin(), this reaches the next batch's first ones.
	 * Past the ring's end it touches the CQ's first lines, harmlessly,
	 * once per wrap. */
	vnvme_prefetchw(s + VNVME_SQ_PREFETCH);
	vnvme_sqe_fill(s, &rw->sqe, cid, slba);
	if (rw->prp_n) /* a PRP list to write: the uncommon case */
		vnvme_hot_prp_list(b->h->q, cid, rw, s);
	b->s = s + 1; /* within the ring: see vnvme_hot_batch_begin() */
	return 0;
}

/* Give the CID of a completion taken back to the free-CID stack. 0, or
 * -EINVAL for a CID not taken in this batch. */
static inline int vnvme_hot_batch_release(struct vnvme_hot_batch *b, uint16_t cid)
{
	struct vnvme_hot *h = b->h;

	if (__builtin_expect(cid >= b->size || b->reqs[cid].busy != b->epoch, 0))
		return -EINVAL;
	b->reqs[cid].busy = VNVME_CID_FREE;
	h->free_cids[h->nfree++] = cid;
	return 0;
}

/* Put the batch's state back; then vnvme_hot_ring() rings for it. */
static inline void vnvme_hot_batch_end(struct vnvme_hot_batch *b)
{
	uint32_t tail = (uint32_t)(b->s - b->sq);

	b->h->sq_tail = (uint16_t)(tail == b->size ? 0 : tail);
}

/* The specification's name of a CQE status (the Status Field, phase dropped). */
const char *vnvme_status_name(uint16_t status);
static inline uint16_t vnvme_cqe_sf(const struct vnvme_cqe *cqe)
{
	return (uint16_t)(cqe->status >> 1);
}

#ifdef __cplusplus
}
#endif

#endif
