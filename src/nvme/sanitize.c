/* SPDX-License-Identifier: MIT */
/*
 * The host-protocol sanitizer (sanitize.h, docs/sanitizer.md). Its state
 * exists only when the controller sanitizes: a per-controller record of
 * counts and first reports (struct nvme_san) and, per queue, the last
 * doorbell values seen, a ring of the last NVME_SAN_EVENTS doorbell and
 * SQE events, and for an SQ the CIDs outstanding (struct nvme_san_q).
 *
 * Each check runs where the device already looks: the doorbells once per
 * round on the queue's poller, the SQE where the general path copies it out
 * (sq_exec_one), the data pointer where dptr.c refuses it, the registers
 * on the control thread. The rules are those of NVMe Base 2.0c §3.3.1
 * "Memory-Based Transport Queue Model" (doorbells, queue order), §4.2
 * "Submission Queue Entry" (CID), §4.1 "Data Layout" (PRP and SGL),
 * §5.8 "Doorbell Buffer Config" and §3.1.4 "Controller Properties" (AQA,
 * CC).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/priv.h"

__thread struct nvme_dptr_fault nvme_dptr_fault;

static const char *const kind_names[NVME_SAN_KINDS] = {
    [NVME_SAN_SQ_TAIL_RANGE] = "sq_tail_range",
    [NVME_SAN_SQ_TAIL_BACKWARD] = "sq_tail_backward",
    [NVME_SAN_CQ_HEAD_RANGE] = "cq_head_range",
    [NVME_SAN_CQ_HEAD_PAST_TAIL] = "cq_head_past_tail",
    [NVME_SAN_CID_REUSE] = "cid_reuse",
    [NVME_SAN_DPTR] = "dptr",
    [NVME_SAN_DELETE_ORDER] = "delete_order",
    [NVME_SAN_DELETE_BUSY] = "delete_busy",
    [NVME_SAN_SHADOW] = "shadow_doorbell",
    [NVME_SAN_DB_DISABLED] = "doorbell_while_disabled",
    [NVME_SAN_DB_SHUTDOWN] = "doorbell_after_shutdown",
    [NVME_SAN_ADMIN_QSIZE] = "admin_queue_size",
};

_Static_assert(NVME_SAN_KINDS <= 32, "nvme_san_q.reported holds one bit per kind");

const char *nvme_san_kind_name(unsigned kind)
{
	return kind < NVME_SAN_KINDS ? kind_names[kind] : "unknown";
}

int nvme_san_init(struct nvme_ctrl *c)
{
	struct nvme_san *s;

	if (!c->o.sanitize)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	c->san = s;
	vn_info("%s: host-protocol sanitizer on", c->name);
	return 0;
}

void nvme_san_fini(struct nvme_ctrl *c)
{
	if (!c->san)
		return;
	pthread_mutex_destroy(&c->san->lock);
	free(c->san);
	c->san = NULL;
}

struct nvme_san_q *nvme_san_q_new(const struct nvme_ctrl *c, bool sq)
{
	size_t n = sizeof(struct nvme_san_q) + (sq ? NVME_SAN_CID_WORDS * sizeof(uint64_t) : 0);

	if (!c->san)
		return NULL;
	return calloc(1, n);
}

bool nvme_ctrl_sanitizing(const struct nvme_ctrl *c)
{
	return c->san != NULL;
}

int nvme_ctrl_get_sanitizer(struct nvme_ctrl *c, struct nvme_san_stats *out)
{
	struct nvme_san *s = c->san;

	if (!s)
		return -ENOTSUP;
	pthread_mutex_lock(&s->lock);
	for (unsigned k = 0; k < NVME_SAN_KINDS; k++) {
		out->count[k] = __atomic_load_n(&s->count[k], __ATOMIC_ACQUIRE);
		memcpy(out->first[k], s->first[k], NVME_SAN_TEXT_MAX);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void nvme_san_print(struct nvme_ctrl *c, FILE *f)
{
	struct nvme_san_stats *st = malloc(sizeof(*st));
	uint64_t total = 0;

	if (!st || nvme_ctrl_get_sanitizer(c, st)) {
		free(st);
		return;
	}
	for (unsigned k = 0; k < NVME_SAN_KINDS; k++)
		total += st->count[k];
	fprintf(f, "%s sanitizer: %llu host protocol violations", c->name,
		(unsigned long long)total);
	for (unsigned k = 0; k < NVME_SAN_KINDS; k++)
		if (st->count[k])
			fprintf(f, " %s %llu", kind_names[k], (unsigned long long)st->count[k]);
	fputc('\n', f);
	free(st);
}

/* ------------------------------------------------------------------------ */
/* Events: packed in one qword each, so that a report from another thread
 * (the admin poller about an I/O queue) reads whole ones. */

static uint64_t ev_pack(unsigned type, uint8_t opc, uint16_t cid, uint32_t val)
{
	return (uint64_t)type | (uint64_t)opc << 8 | (uint64_t)cid << 16 | (uint64_t)val << 32;
}

static void ev_push(struct nvme_san_q *q, uint64_t ev)
{
	uint32_t n = q->ev_next;

	vn_store_relaxed(&q->ev[n % NVME_SAN_EVENTS], ev);
	vn_store_release(&q->ev_next, n + 1);
}

/* The queue's events, oldest first, as text: "tail 3, fetch opc 0x01 cid 7". */
static void ev_format(const struct nvme_san_q *q, char *buf, size_t len)
{
	uint32_t end = vn_load_acquire(&q->ev_next);
	uint32_t start = end > NVME_SAN_EVENTS ? end - NVME_SAN_EVENTS : 0;
	size_t off = 0;

	buf[0] = 0;
	if (start == end) {
		snprintf(buf, len, "none");
		return;
	}
	for (uint32_t i = start; i < end && off < len; i++) {
		uint64_t e = vn_load_relaxed(&q->ev[i % NVME_SAN_EVENTS]);
		unsigned type = (unsigned)(e & 0xff), opc = (unsigned)(e >> 8 & 0xff);
		unsigned cid = (unsigned)(e >> 16 & 0xffff), val = (unsigned)(e >> 32);
		const char *sep = i == start ? "" : ", ";
		int w;

		switch (type) {
		case NVME_SAN_EV_TAIL:
			w = snprintf(buf + off, len - off, "%stail %u", sep, val);
			break;
		case NVME_SAN_EV_HEAD:
			w = snprintf(buf + off, len - off, "%shead %u", sep, val);
			break;
		case NVME_SAN_EV_MMIO:
			w = snprintf(buf + off, len - off, "%smmio %u", sep, val);
			break;
		case NVME_SAN_EV_FETCH:
			w = snprintf(buf + off, len - off, "%sfetch opc 0x%02x cid %u", sep, opc,
				     cid);
			break;
		case NVME_SAN_EV_POST:
			w = snprintf(buf + off, len - off, "%spost sq%u cid %u", sep, val, cid);
			break;
		default:
			w = 0;
			break;
		}
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/*
 * Count one violation of `kind`; the first on queue q (or, q NULL, on the
 * controller) is also reported: a "guest:" warning (rate-limited: a host
 * creating queue after queue must not flood the log) and, if the first of
 * its kind, kept for the statistics. `where` names the queue (W_SQ, W_CQ) or
 * W_REGS, cid
 * is -1 when no command is concerned.
 */
/* The object of a report: an SQ, a CQ, or the registers. */
#define W_SQ(qid) ((int32_t)(qid))
#define W_CQ(qid) ((int32_t)(qid) | 0x10000)
#define W_REGS    (-1)

static VN_COLD VN_PRINTF(6, 7) void san_report(struct nvme_ctrl *c, struct nvme_san_q *q,
					       int32_t where, int cid, unsigned kind,
					       const char *fmt, ...)
{
	struct nvme_san *s = c->san;
	uint32_t bit = 1u << kind;
	uint32_t *reported = q ? &q->reported : &s->reported;
	char msg[256], evs[200], line[NVME_SAN_TEXT_MAX + 64], obj[80], wq[16];
	va_list ap;

	if (__atomic_fetch_or(reported, bit, __ATOMIC_RELAXED) & bit) {
		__atomic_fetch_add(&s->count[kind], 1, __ATOMIC_RELAXED);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where < 0)
		snprintf(wq, sizeof(wq), "regs");
	else
		snprintf(wq, sizeof(wq), "%s%u", where & 0x10000 ? "cq" : "sq",
			 (unsigned)(where & 0xffff));
	if (cid >= 0)
		snprintf(obj, sizeof(obj), "%s %s cid %d", c->name, wq, cid);
	else
		snprintf(obj, sizeof(obj), "%s %s", c->name, wq);
	if (q) {
		ev_format(q, evs, sizeof(evs));
		snprintf(line, sizeof(line), "%s: guest: sanitizer %s: %s; last events: %s", obj,
			 kind_names[kind], msg, evs);
	} else {
		snprintf(line, sizeof(line), "%s: guest: sanitizer %s: %s", obj, kind_names[kind],
			 msg);
	}
	pthread_mutex_lock(&s->lock);
	if (!s->first[kind][0]) {
		size_t n = strnlen(line, NVME_SAN_TEXT_MAX - 1); /* cut, if longer */

		memcpy(s->first[kind], line, n);
		s->first[kind][n] = 0;
	}
	vn_warn_rl(&s->rl, "%s", line);
	pthread_mutex_unlock(&s->lock);
	/* Counted once reported: a reader that sees the count finds the
	 * report (the statistics, a test's log sink). */
	__atomic_fetch_add(&s->count[kind], 1, __ATOMIC_RELEASE);
}

/* Entries from `from` up to `to` in a ring of `size` (as queue.c's). */
static uint32_t dist(uint32_t from, uint32_t to, uint32_t size)
{
	return to >= from ? to - from : to + size - from;
}

/* ------------------------------------------------------------------------ */
/* Doorbells, once per round on the queue's poller */

void nvme_san_sq_round(struct nvme_sq *sq, uint32_t tail)
{
	struct nvme_san_q *q = sq->san;
	struct nvme_ctrl *c = sq->ctrl;

	/*
	 * With shadow doorbells (Doorbell Buffer Config) the host writes the
	 * shadow first and the MMIO doorbell, when it writes it at all, with
	 * a value the shadow held: never ahead of it. Read the MMIO doorbell,
	 * then the shadow (both acquire, the host's order reversed), so a
	 * legal pair never looks like one ahead.
	 */
	if (sq->shadow) {
		uint32_t mmio = vn_load_acquire(sq->db);

		if (mmio != q->last_mmio) {
			uint32_t sh = vn_load_acquire(sq->shadow);

			q->last_mmio = mmio;
			ev_push(q, ev_pack(NVME_SAN_EV_MMIO, 0, 0, mmio));
			if (mmio >= sq->size || (sh < sq->size && dist(sq->head, mmio, sq->size) >
								      dist(sq->head, sh, sq->size)))
				san_report(c, q, W_SQ(sq->qid), -1, NVME_SAN_SHADOW,
					   "MMIO SQ tail doorbell %u while the shadow doorbell "
					   "holds %u (head %u, %u entries): with a shadow "
					   "buffer, the MMIO doorbell is written only with a "
					   "value the shadow already holds",
					   mmio, sh, sq->head, sq->size);
		}
	} else {
		q->last_mmio = tail;
	}
	if (tail == q->last)
		return;
	ev_push(q, ev_pack(NVME_SAN_EV_TAIL, 0, 0, tail));
	if (tail >= sq->size) {
		if (sq->shadow)
			san_report(c, q, W_SQ(sq->qid), -1, NVME_SAN_SHADOW,
				   "shadow SQ tail doorbell %u: a queue of %u entries takes 0..%u",
				   tail, sq->size, sq->size - 1);
		else
			san_report(c, q, W_SQ(sq->qid), -1, NVME_SAN_SQ_TAIL_RANGE,
				   "SQ tail doorbell %u: a queue of %u entries takes 0..%u", tail,
				   sq->size, sq->size - 1);
	} else if (q->last < sq->size &&
		   dist(sq->head, tail, sq->size) < dist(sq->head, q->last, sq->size)) {
		san_report(c, q, W_SQ(sq->qid), -1, NVME_SAN_SQ_TAIL_BACKWARD,
			   "SQ tail doorbell %u moves back from %u over %u entries not yet "
			   "fetched (head %u): the tail only moves forward, by the entries added",
			   tail, q->last, dist(tail, q->last, sq->size), sq->head);
	}
	q->last = tail;
}

void nvme_san_cq_round(struct nvme_cq *cq)
{
	struct nvme_san_q *q = cq->san;
	uint32_t h = vn_load_acquire(cq->shadow ? cq->shadow : cq->db);

	if (h == q->last)
		return;
	ev_push(q, ev_pack(NVME_SAN_EV_HEAD, 0, 0, h));
	if (h >= cq->size) {
		san_report(cq->ctrl, q, W_CQ(cq->qid), -1,
			   cq->shadow ? NVME_SAN_SHADOW : NVME_SAN_CQ_HEAD_RANGE,
			   "%sCQ head doorbell %u: a queue of %u entries takes 0..%u",
			   cq->shadow ? "shadow " : "", h, cq->size, cq->size - 1);
	} else if (q->last < cq->size &&
		   dist(q->last, h, cq->size) > dist(q->last, cq->tail, cq->size)) {
		san_report(cq->ctrl, q, W_CQ(cq->qid), -1, NVME_SAN_CQ_HEAD_PAST_TAIL,
			   "CQ head doorbell %u moves from %u past the tail %u: %u entries "
			   "consumed that the controller has not posted",
			   h, q->last, cq->tail, dist(cq->tail, h, cq->size));
	}
	q->last = h;
}

/* ------------------------------------------------------------------------ */
/* Commands, on the general path */

void nvme_san_fetch(struct nvme_sq *sq, const struct vnvme_sqe *sqe)
{
	struct nvme_san_q *q = sq->san;
	uint64_t bit = 1ull << (sqe->cid & 63), *w = &q->cid_busy[sqe->cid >> 6];

	nvme_dptr_fault.field = NULL;
	ev_push(q, ev_pack(NVME_SAN_EV_FETCH, sqe->opc, sqe->cid, 0));
	if (unlikely(*w & bit)) {

		san_report(sq->ctrl, q, W_SQ(sq->qid), sqe->cid, NVME_SAN_CID_REUSE,
			   "CID %u (opcode 0x%02x) is reused while a command with that CID is "
			   "outstanding on the queue: a CID is unique among the queue's "
			   "outstanding commands",
			   sqe->cid, sqe->opc);
	}
	*w |= bit;
}

void nvme_san_exec(struct nvme_sq *sq, const struct vnvme_sqe *sqe)
{
	const struct nvme_dptr_fault *f = &nvme_dptr_fault;

	if (likely(!f->field))
		return;
	san_report(sq->ctrl, sq->san, W_SQ(sq->qid), sqe->cid, NVME_SAN_DPTR,
		   "%s 0x%llx (opcode 0x%02x, %s): %s", f->field, (unsigned long long)f->val,
		   sqe->opc, vnvme_sqe_psdt(sqe) == VNVME_PSDT_PRP ? "PRPs" : "SGL", f->rule);
	nvme_dptr_fault.field = NULL;
}

void nvme_san_post(struct nvme_sq *sq, uint16_t cid)
{
	struct nvme_san_q *q = sq->san;

	q->cid_busy[cid >> 6] &= ~(1ull << (cid & 63));
	if (sq->cq->san)
		ev_push(sq->cq->san, ev_pack(NVME_SAN_EV_POST, 0, cid, sq->qid));
}

/* ------------------------------------------------------------------------ */
/* Queue deletion */

void nvme_san_delete_order(struct nvme_ctrl *c, uint16_t cid, uint32_t cqid, uint32_t sqid)
{
	san_report(c, c->sqs[0] ? c->sqs[0]->san : NULL, W_SQ(0), cid, NVME_SAN_DELETE_ORDER,
		   "Delete I/O CQ QID %u while I/O SQ %u still posts to it: the host deletes "
		   "a CQ's SQs first",
		   cqid, sqid);
}

void nvme_san_sq_deleting(struct nvme_sq *sq)
{
	struct nvme_san_q *q = sq->san;
	uint32_t tail, unfetched = 0, fetched;

	if (q->del_checked)
		return;
	q->del_checked = true;
	tail = vn_load_acquire(sq->shadow ? sq->shadow : sq->db);
	if (tail < sq->size)
		unfetched = dist(sq->head, tail, sq->size);
	fetched = sq->inflight;
	if (!fetched && !unfetched)
		return;
	san_report(sq->ctrl, q, W_SQ(sq->qid), -1, NVME_SAN_DELETE_BUSY,
		   "Delete I/O SQ QID %u with %u commands outstanding (%u in flight, %u not "
		   "fetched): the host waits for its commands' completions before deleting "
		   "the queue (those not fetched are dropped)",
		   sq->qid, fetched + unfetched, fetched, unfetched);
}

/* ------------------------------------------------------------------------ */
/* Registers, on the control thread */

/* The first doorbell that is not 0, as "SQ1 tail doorbell 3"; false if none. */
static bool doorbell_set(struct nvme_ctrl *c, char *buf, size_t len)
{
	for (uint32_t i = 0; i < 2 * (c->o.max_ioqpairs + 1); i++) {
		uint32_t v = vn_load_relaxed(&c->o.doorbells[i]);

		if (v) {
			snprintf(buf, len, "%s%u %s doorbell %u", i & 1 ? "CQ" : "SQ", i / 2,
				 i & 1 ? "head" : "tail", v);
			return true;
		}
	}
	return false;
}

void nvme_san_quiet(struct nvme_ctrl *c, bool shutdown)
{
	char db[64];

	if (!doorbell_set(c, db, sizeof(db)))
		return;
	if (shutdown)
		san_report(c, NULL, W_REGS, -1, NVME_SAN_DB_SHUTDOWN,
			   "%s written after the shutdown (CC.SHN, CSTS.SHST complete): after a "
			   "shutdown the host submits nothing until it resets the controller",
			   db);
	else
		san_report(c, NULL, W_REGS, -1, NVME_SAN_DB_DISABLED,
			   "%s written while CC.EN = 0: doorbells are written only while the "
			   "controller is enabled and ready (CSTS.RDY = 1)",
			   db);
	/* Counted once: the queues a doorbell belongs to do not exist; the
	 * next ones start from 0 whatever it holds. */
	memset(c->o.doorbells, 0, nvme_doorbell_bytes(c->o.max_ioqpairs));
}

void nvme_san_enable(struct nvme_ctrl *c)
{
	uint32_t asqs = VNVME_FIELD_GET(c->aqa_raw, VNVME_AQA_ASQS) + 1;
	uint32_t acqs = VNVME_FIELD_GET(c->aqa_raw, VNVME_AQA_ACQS) + 1;

	nvme_san_quiet(c, false);
	if (asqs < 2 || acqs < 2)
		san_report(c, NULL, W_REGS, -1, NVME_SAN_ADMIN_QSIZE,
			   "AQA 0x%08x at CC.EN = 1: ASQS %u and ACQS %u entries, where an admin "
			   "queue has 2..%u (AQA.ASQS, AQA.ACQS are 0's based, 1..4095)",
			   c->aqa_raw, asqs, acqs, NVME_ADMIN_QSIZE_MAX);
	else if (c->aqa_raw & ~(VNVME_AQA_ASQS_MASK | VNVME_AQA_ACQS_MASK << VNVME_AQA_ACQS_SHIFT))
		san_report(c, NULL, W_REGS, -1, NVME_SAN_ADMIN_QSIZE,
			   "AQA 0x%08x at CC.EN = 1: reserved bits 0x%08x set (AQA holds ASQS in "
			   "bits 11:0 and ACQS in 27:16)",
			   c->aqa_raw,
			   c->aqa_raw & ~(VNVME_AQA_ASQS_MASK | VNVME_AQA_ACQS_MASK
								    << VNVME_AQA_ACQS_SHIFT));
}
