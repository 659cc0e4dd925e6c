/* SPDX-License-Identifier: MIT */
/*
 * The host-protocol sanitizer (docs/sanitizer.md): a deliberately wrong
 * host, built on the minimal host of nvme_host.h, makes each mistake the
 * sanitizer knows; each is counted (nvme_ctrl_get_sanitizer) and reported
 * once per kind and queue, in a log line (captured by a sink) that names
 * the field. A correct host triggers none, and a controller without the
 * sanitizer has none.
 */
#include "nvme_host.h"
#include "target_env.h"

#include <pthread.h>
#include <signal.h>

#include "../test_filter.h"
#include "target/config.h"
#include "nvme/priv.h"

struct sfx {
	struct target_env e;
	char path[100];
	struct vnvme_dev *dev;
	struct host h;
};

/* ------------------------------------------------------------------------ */
/* The log, captured: the sanitizer's lines */

#define MAX_LINES 64

static pthread_mutex_t lines_lock = PTHREAD_MUTEX_INITIALIZER;
static char lines[MAX_LINES][1024];
static unsigned nr_lines;

static void sink(enum vn_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (level != VN_LOG_WARN || !strstr(line, "guest: sanitizer "))
		return;
	pthread_mutex_lock(&lines_lock);
	if (nr_lines < MAX_LINES)
		snprintf(lines[nr_lines], sizeof(lines[0]), "%s", line);
	nr_lines++;
	pthread_mutex_unlock(&lines_lock);
}

/* The lines of one kind ("sanitizer cid_reuse:"); the first in *first. */
static unsigned lines_of(const char *kind, char *first, size_t len)
{
	char tag[64];
	unsigned n = 0;

	snprintf(tag, sizeof(tag), "sanitizer %s:", kind);
	if (first)
		first[0] = 0;
	pthread_mutex_lock(&lines_lock);
	for (unsigned i = 0; i < nr_lines && i < MAX_LINES; i++) {
		if (!strstr(lines[i], tag))
			continue;
		if (!n && first)
			snprintf(first, len, "%.1000s", lines[i]);
		n++;
	}
	pthread_mutex_unlock(&lines_lock);
	return n;
}

/* ------------------------------------------------------------------------ */

static int setup_san(void **state, bool sanitize)
{
	struct sfx *f = calloc(1, sizeof(*f));
	struct vnvme_dev_conf c;
	char err[256] = "";

	tenv_init(&f->e, "san", 2);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	vn_dev_conf_defaults(&c);
	memcpy(c.socket, f->path, strlen(f->path) + 1);
	c.queues = 4;
	c.qdepth = 256;
	c.ns[0].be.size = 16u << 20;
	c.sanitize = sanitize;
	assert_int_equal(vnvme_dev_create(&c, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 2, &f->dev,
					  err, sizeof(err)),
			 0);
	tenv_run(&f->e);
	pthread_mutex_lock(&lines_lock);
	nr_lines = 0;
	pthread_mutex_unlock(&lines_lock);
	vn_log_set_sink(sink, NULL);
	assert_int_equal(h_connect(&f->h, f->path), 0);
	h_enable(&f->h, 32);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_san(state, true);
}

static int setup_off(void **state)
{
	return setup_san(state, false);
}

static int teardown(void **state)
{
	struct sfx *f = *state;

	h_close(&f->h);
	vnvme_dev_destroy(f->dev);
	vn_log_set_sink(NULL, NULL);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

static struct nvme_ctrl *ctrl(struct sfx *f)
{
	return vnvme_dev_ctrl(f->dev);
}

static uint64_t count(struct sfx *f, unsigned kind)
{
	struct nvme_san_stats *st = malloc(sizeof(*st));
	uint64_t n;

	assert_non_null(st);
	assert_int_equal(nvme_ctrl_get_sanitizer(ctrl(f), st), 0);
	n = st->count[kind];
	free(st);
	return n;
}

/* Wait (by the clock, 5 s at most) until the kind has been counted n times. */
static void wait_count(struct sfx *f, unsigned kind, uint64_t n)
{
	uint64_t deadline = h_now_ms() + 5000;

	while (count(f, kind) < n && h_now_ms() < deadline)
		usleep(50);
	assert_int_equal(count(f, kind), n);
}

/* Every kind but `except` counted 0 times (NVME_SAN_KINDS: every kind). */
static void assert_no_other(struct sfx *f, unsigned except)
{
	for (unsigned k = 0; k < NVME_SAN_KINDS; k++) {
		if (k == except)
			continue;
		if (count(f, k))
			fprintf(stderr, "kind %s counted %llu times\n", nvme_san_kind_name(k),
				(unsigned long long)count(f, k));
		assert_int_equal(count(f, k), 0);
	}
}

/* The one line of `kind`, and that it contains each of the strings. */
static void assert_line(const char *kind, const char *const *has)
{
	char line[1024];

	assert_int_equal(lines_of(kind, line, sizeof(line)), 1);
	for (; *has; has++) {
		if (!strstr(line, *has))
			fprintf(stderr, "no \"%s\" in: %s\n", *has, line);
		assert_non_null(strstr(line, *has));
	}
}

/* I/O queue pair qid with an SQ and a CQ of their own sizes. */
static void create_pair(struct host *h, uint16_t qid, uint32_t sqsize, uint32_t cqsize)
{
	uint8_t *base = h->mem + H_IOQ + (size_t)(qid - 1) * 0x10000;
	struct vnvme_sqe s = {.opc = VNVME_ADM_CREATE_CQ};

	hq_init(h, &h->io[qid - 1], qid, sqsize, base, base + 0x8000);
	s.dptr.prp1 = h_iova(h, base + 0x8000);
	s.cdw10 = qid | (cqsize - 1) << 16;
	s.cdw11 = VNVME_CREATE_Q_PC;
	assert_sc(h_admin(h, &s, NULL), 0);
	memset(&s, 0, sizeof(s));
	s.opc = VNVME_ADM_CREATE_SQ;
	s.dptr.prp1 = h_iova(h, base);
	s.cdw10 = qid | (sqsize - 1) << 16;
	s.cdw11 = VNVME_CREATE_Q_PC | (uint32_t)qid << 16;
	assert_sc(h_admin(h, &s, NULL), 0);
}

/* A Read of LBA i into the data area, queued without the doorbell. */
static void queue_read(struct host *h, struct hq *q, uint64_t lba)
{
	struct vnvme_sqe r = h_rw(VNVME_NVM_READ, 1, lba, 1);

	r.dptr.prp1 = h_iova(h, h->mem + H_DATA);
	hq_queue(q, &r);
}

/* The SQ's tail as the sanitizer last saw it (the test reads the
 * controller's internals: the only way to know the device saw a value). */
static void wait_tail_seen(struct sfx *f, uint16_t qid, uint32_t tail)
{
	uint64_t deadline = h_now_ms() + 5000;
	struct nvme_sq *sq = ctrl(f)->sqs[qid];

	assert_non_null(sq);
	assert_non_null(sq->san);
	while (__atomic_load_n(&sq->san->last, __ATOMIC_ACQUIRE) != tail && h_now_ms() < deadline)
		usleep(50);
	assert_int_equal(__atomic_load_n(&sq->san->last, __ATOMIC_ACQUIRE), tail);
}

/* The same for a CQ's head. */
static void wait_head_seen(struct sfx *f, uint16_t qid, uint32_t head)
{
	uint64_t deadline = h_now_ms() + 5000;
	struct nvme_cq *cq = ctrl(f)->cqs[qid];

	assert_non_null(cq);
	assert_non_null(cq->san);
	while (__atomic_load_n(&cq->san->last, __ATOMIC_ACQUIRE) != head && h_now_ms() < deadline)
		usleep(50);
	assert_int_equal(__atomic_load_n(&cq->san->last, __ATOMIC_ACQUIRE), head);
}

/* ------------------------------------------------------------------------ */

static void test_sq_tail_past_the_size_is_reported_once_and_counted_1000_times(void **state)
{
	struct sfx *f = *state;
	struct hq *q = &f->h.io[0];

	create_pair(&f->h, 1, 16, 16);
	/* 1000 different bad values, each seen before the next. */
	for (uint32_t i = 0; i < 1000; i++) {
		__atomic_store_n(q->sqdb, 16 + i, __ATOMIC_RELEASE);
		wait_count(f, NVME_SAN_SQ_TAIL_RANGE, i + 1);
	}
	assert_line("sq_tail_range",
		    (const char *const[]){"nvme0 sq1:", "SQ tail doorbell 16:", "takes 0..15",
					  "last events: tail 16", NULL});
	assert_no_other(f, NVME_SAN_SQ_TAIL_RANGE);
}

static void test_sq_tail_moving_back_over_unfetched_entries_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];

	/* A CQ of 2 entries holds one completion: the host reaps none, so
	 * after the first command the SQ's entries wait, unfetched. */
	create_pair(h, 1, 16, 2);
	for (int i = 0; i < 4; i++)
		queue_read(h, q, (uint64_t)i);
	hq_ring(q);
	wait_tail_seen(f, 1, 4);
	__atomic_store_n(q->sqdb, 2u, __ATOMIC_RELEASE); /* back over entries 2 and 3 */
	wait_count(f, NVME_SAN_SQ_TAIL_BACKWARD, 1);
	assert_line("sq_tail_backward",
		    (const char *const[]){"nvme0 sq1:", "SQ tail doorbell 2 moves back from 4",
					  "head 1", "tail 4, fetch opc 0x02 cid 0, tail 2", NULL});
	assert_no_other(f, NVME_SAN_SQ_TAIL_BACKWARD);
}

static void test_cq_head_past_the_size_is_reported(void **state)
{
	struct sfx *f = *state;
	struct hq *q = &f->h.io[0];

	create_pair(&f->h, 1, 16, 16);
	__atomic_store_n(q->cqdb, 100u, __ATOMIC_RELEASE);
	wait_count(f, NVME_SAN_CQ_HEAD_RANGE, 1);
	__atomic_store_n(q->cqdb, 101u, __ATOMIC_RELEASE);
	wait_count(f, NVME_SAN_CQ_HEAD_RANGE, 2);
	assert_line("cq_head_range", (const char *const[]){"nvme0 cq1:", "CQ head doorbell 100:",
							   "takes 0..15", "head 100", NULL});
	assert_no_other(f, NVME_SAN_CQ_HEAD_RANGE);
}

static void test_cq_head_past_the_tail_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_cqe cqe = {0};

	create_pair(h, 1, 16, 16);
	queue_read(h, q, 0);
	hq_ring(q);
	assert_int_equal(hq_reap(q, &cqe, 5000), 0); /* head 1: fine */
	wait_head_seen(f, 1, 1);
	__atomic_store_n(q->cqdb, 3u, __ATOMIC_RELEASE); /* two never posted */
	wait_count(f, NVME_SAN_CQ_HEAD_PAST_TAIL, 1);
	assert_line(
	    "cq_head_past_tail",
	    (const char *const[]){"nvme0 cq1:", "CQ head doorbell 3 moves from 1 past the tail 1",
				  "2 entries consumed", "post sq1 cid 0, head 1, head 3", NULL});
	assert_no_other(f, NVME_SAN_CQ_HEAD_PAST_TAIL);
}

static void test_cid_reused_while_outstanding_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	uint8_t *buf = h->mem + H_DATA;
	uint16_t cid;

	/* An Asynchronous Event Request stays outstanding: its CID too. */
	cid = hq_submit(&h->admin, &aer);
	h->admin.cid = cid; /* the next command takes the same CID */
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0); /* served all the same */
	wait_count(f, NVME_SAN_CID_REUSE, 1);
	char cidstr[32];
	snprintf(cidstr, sizeof(cidstr), "sq0 cid %u:", cid);
	assert_line("cid_reuse", (const char *const[]){cidstr, "(opcode 0x06) is reused",
						       "fetch opc 0x0c", "fetch opc 0x06", NULL});
	/* Once its AER completes (it never does here), the CID is free:
	 * a command after the Identify's completion reuses nothing. */
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	assert_int_equal(count(f, NVME_SAN_CID_REUSE), 1);
	assert_no_other(f, NVME_SAN_CID_REUSE);
}

static void test_data_pointers_outside_the_maps_or_misaligned_are_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_sqe w = h_rw(VNVME_NVM_WRITE, 1, 0, 1);

	create_pair(h, 1, 16, 16);
	w.dptr.prp1 = 0x1000; /* below the host's map */
	/* The status stays the device's: a Data Transfer Error. */
	assert_sc(hq_cmd(q, &w, NULL), VNVME_SC_DATA_XFER_ERROR);
	wait_count(f, NVME_SAN_DPTR, 1);
	w.dptr.prp1 = h_iova(h, h->mem + H_DATA) + 2; /* not dword aligned */
	assert_sc(hq_cmd(q, &w, NULL), VNVME_SC_PRP_OFFSET_INVALID);
	wait_count(f, NVME_SAN_DPTR, 2);
	assert_line("dptr",
		    (const char *const[]){"nvme0 sq1 cid 0:", "PRP1 0x1000", "opcode 0x01, PRPs",
					  "DMA maps", "fetch opc 0x01 cid 0", NULL});
	/* An admin command's PRP counts too (reported once per queue). */
	struct vnvme_sqe id = {.opc = VNVME_ADM_IDENTIFY, .cdw10 = VNVME_CNS_CTRL};
	id.dptr.prp1 = 0x2000;
	assert_sc(h_admin(h, &id, NULL), VNVME_SC_DATA_XFER_ERROR);
	wait_count(f, NVME_SAN_DPTR, 3);
	char line[1024];
	assert_int_equal(lines_of("dptr", line, sizeof(line)), 2);
	assert_no_other(f, NVME_SAN_DPTR);
}

static void test_sgl_malformed_is_reported_with_its_field(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe w = h_rw(VNVME_NVM_WRITE, 1, 0, 1);

	create_pair(h, 1, 16, 16);
	w.flags = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	w.dptr.sgl1.addr = h_iova(h, h->mem + H_DATA);
	w.dptr.sgl1.length = 256; /* half of the 512 bytes the Write moves */
	w.dptr.sgl1.type = VNVME_SGL_TYPE_DATA_BLOCK << 4;
	assert_sc(hq_cmd(&h->io[0], &w, NULL), VNVME_SC_DATA_SGL_LEN_INVALID);
	wait_count(f, NVME_SAN_DPTR, 1);
	assert_line("dptr", (const char *const[]){"SGL length (bytes missing) 0x100", "SGL",
						  "describe the whole transfer", NULL});
}

static void test_cq_deleted_before_its_sq_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe s = {.opc = VNVME_ADM_DELETE_CQ, .cdw10 = 1};

	create_pair(h, 1, 16, 16);
	assert_sc(h_admin(h, &s, NULL),
		  VNVME_SC_INVALID_QUEUE_DELETION | VNVME_SCT_CMD_SPECIFIC << 8);
	wait_count(f, NVME_SAN_DELETE_ORDER, 1);
	assert_line("delete_order", (const char *const[]){"nvme0 sq0 cid", "Delete I/O CQ QID 1",
							  "I/O SQ 1", "fetch opc 0x04", NULL});
	/* The right order is fine. */
	s.opc = VNVME_ADM_DELETE_SQ;
	assert_sc(h_admin(h, &s, NULL), 0);
	s.opc = VNVME_ADM_DELETE_CQ;
	assert_sc(h_admin(h, &s, NULL), 0);
	assert_int_equal(count(f, NVME_SAN_DELETE_ORDER), 1);
	assert_no_other(f, NVME_SAN_DELETE_ORDER);
}

static void test_sq_deleted_with_commands_outstanding_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_sqe s = {.opc = VNVME_ADM_DELETE_SQ, .cdw10 = 1};

	create_pair(h, 1, 16, 2); /* as above: entries wait behind a full CQ */
	for (int i = 0; i < 4; i++)
		queue_read(h, q, (uint64_t)i);
	hq_ring(q);
	wait_tail_seen(f, 1, 4);
	assert_sc(h_admin(h, &s, NULL), 0);
	wait_count(f, NVME_SAN_DELETE_BUSY, 1);
	assert_line("delete_busy",
		    (const char *const[]){"nvme0 sq1:", "Delete I/O SQ QID 1",
					  "3 commands outstanding", "3 not fetched", NULL});
	assert_no_other(f, NVME_SAN_DELETE_BUSY);
}

static void test_shadow_doorbell_misuse_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	uint32_t *shadow = (void *)(h->mem + H_DATA + 0x500000);
	uint32_t *ei = (void *)(h->mem + H_DATA + 0x501000);
	struct vnvme_sqe s = {.opc = VNVME_ADM_DBBUF_CONFIG};
	struct hq *q = &h->io[0];
	struct vnvme_cqe cqe = {0};

	s.dptr.prp1 = h_iova(h, shadow);
	s.dptr.prp2 = h_iova(h, ei);
	assert_sc(h_admin(h, &s, NULL), 0);
	create_pair(h, 1, 16, 16);
	/* One command through the shadow: the shadows are in use. */
	queue_read(h, q, 0);
	__atomic_store_n(&shadow[2], q->tail, __ATOMIC_RELEASE);
	assert_int_equal(hq_reap(q, &cqe, 5000), 0);
	__atomic_store_n(&shadow[3], q->head, __ATOMIC_RELEASE);
	/* The MMIO doorbell ahead of the shadow: the host forgot the shadow. */
	queue_read(h, q, 1);
	__atomic_store_n(q->sqdb, q->tail, __ATOMIC_RELEASE);
	wait_count(f, NVME_SAN_SHADOW, 1);
	assert_line("shadow_doorbell",
		    (const char *const[]){"nvme0 sq1:",
					  "MMIO SQ tail doorbell 2 while the shadow "
					  "doorbell holds 1",
					  "mmio 2", NULL});
	/* A shadow value beyond the queue: the same kind, counted. */
	__atomic_store_n(&shadow[2], 40u, __ATOMIC_RELEASE);
	wait_count(f, NVME_SAN_SHADOW, 2);
	assert_int_equal(lines_of("shadow_doorbell", NULL, 0), 1);
	assert_no_other(f, NVME_SAN_SHADOW);
}

static void test_doorbell_written_while_disabled_is_reported_at_enable(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;

	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0) & VNVME_CSTS_RDY, 0);
	__atomic_store_n(h->admin.sqdb, 1u, __ATOMIC_RELEASE); /* a command, before CC.EN */
	h_enable(h, 32);
	wait_count(f, NVME_SAN_DB_DISABLED, 1);
	assert_line("doorbell_while_disabled",
		    (const char *const[]){
			"nvme0 regs:", "SQ0 tail doorbell 1 written while CC.EN = 0", NULL});
	/* The controller works from a clean start. */
	uint8_t *buf = h->mem + H_DATA;
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	assert_no_other(f, NVME_SAN_DB_DISABLED);
}

static void test_doorbell_written_after_shutdown_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	uint32_t csts = 0;

	create_pair(h, 1, 16, 16);
	h_wreg32(h, VNVME_REG_CC,
		 h_reg32(h, VNVME_REG_CC) | VNVME_CC_SHN_NORMAL << VNVME_CC_SHN_SHIFT);
	for (int i = 0; i < 5000; i++) {
		csts = h_reg32(h, VNVME_REG_CSTS);
		if (VNVME_FIELD_GET(csts, VNVME_CSTS_SHST) == VNVME_CSTS_SHST_COMPLETE)
			break;
		usleep(1000);
	}
	assert_int_equal(VNVME_FIELD_GET(csts, VNVME_CSTS_SHST), VNVME_CSTS_SHST_COMPLETE);
	queue_read(h, &h->io[0], 0);
	hq_ring(&h->io[0]); /* after the shutdown */
	h_wreg32(h, VNVME_REG_CC, 0);
	wait_count(f, NVME_SAN_DB_SHUTDOWN, 1);
	assert_line("doorbell_after_shutdown",
		    (const char *const[]){
			"nvme0 regs:", "SQ1 tail doorbell 1 written after the shutdown", NULL});
	assert_no_other(f, NVME_SAN_DB_SHUTDOWN);
}

static void test_admin_queue_size_outside_the_limits_is_reported(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;

	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0) & VNVME_CSTS_RDY, 0);
	/* One entry each: the device refuses it (CFS), as before. */
	h_wreg32(h, VNVME_REG_AQA, 0);
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 6u << 16 | 4u << 20);
	assert_true(h_wait_rdy(h, 1) & VNVME_CSTS_CFS);
	wait_count(f, NVME_SAN_ADMIN_QSIZE, 1);
	assert_line("admin_queue_size",
		    (const char *const[]){"nvme0 regs:", "AQA 0x00000000", "ASQS 1 and ACQS 1",
					  "2..4096", NULL});
	/* Reserved bits: accepted (masked), reported under the same kind. */
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0) & VNVME_CSTS_RDY, 0);
	h_wreg32(h, VNVME_REG_AQA, 0xf01ff01f);
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 6u << 16 | 4u << 20);
	assert_int_equal(h_wait_rdy(h, 1), VNVME_CSTS_RDY);
	wait_count(f, NVME_SAN_ADMIN_QSIZE, 2);
	assert_int_equal(lines_of("admin_queue_size", NULL, 0), 1);
	assert_no_other(f, NVME_SAN_ADMIN_QSIZE);
}

/* A correct host: I/O of every kind, PRP lists and SGLs, shadow
 * doorbells, an AER outstanding, queues deleted in order, disable and
 * shutdown: nothing reported. */
static void test_a_correct_host_triggers_nothing(void **state)
{
	struct sfx *f = *state;
	struct host *h = &f->h;
	uint32_t *shadow = (void *)(h->mem + H_DATA + 0x500000);
	uint32_t *ei = (void *)(h->mem + H_DATA + 0x501000);
	uint8_t *buf = h->mem + H_DATA;
	uint64_t *list = (void *)(h->mem + H_DATA + 0x400000);
	struct vnvme_sqe s = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_cqe cqe = {0};

	hq_submit(&h->admin, &s);
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	create_pair(h, 1, 16, 16);
	create_pair(h, 2, 8, 8);        /* nvme_host.h's queues: one size for both */
	for (int i = 0; i < 200; i++) { /* wraps both queues many times */
		struct hq *q = &h->io[i & 1];
		struct vnvme_sqe w =
		    h_rw(i % 3 ? VNVME_NVM_WRITE : VNVME_NVM_READ, 1, (uint64_t)i * 8, 8);
		w.dptr.prp1 = h_iova(h, buf);
		if (i % 5 == 0) { /* 3 pages through a PRP list */
			w.cdw12 = 23;
			list[0] = h_iova(h, buf) + 4096;
			list[1] = h_iova(h, buf) + 8192;
			w.dptr.prp2 = h_iova(h, list);
		}
		assert_sc(hq_cmd(q, &w, NULL), 0);
	}
	/* A batch of 3, one doorbell. */
	for (int i = 0; i < 3; i++)
		queue_read(h, &h->io[1], (uint64_t)i);
	hq_ring(&h->io[1]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hq_reap(&h->io[1], &cqe, 5000), 0);
	/* SGL. */
	struct vnvme_sqe r = h_rw(VNVME_NVM_READ, 1, 0, 1);
	r.flags = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	r.dptr.sgl1.addr = h_iova(h, buf);
	r.dptr.sgl1.length = 512;
	r.dptr.sgl1.type = VNVME_SGL_TYPE_DATA_BLOCK << 4;
	assert_sc(hq_cmd(&h->io[0], &r, NULL), 0);
	/* Delete in order. */
	for (uint16_t qid = 1; qid <= 2; qid++) {
		struct vnvme_sqe d = {.opc = VNVME_ADM_DELETE_SQ, .cdw10 = qid};
		assert_sc(h_admin(h, &d, NULL), 0);
		d.opc = VNVME_ADM_DELETE_CQ;
		assert_sc(h_admin(h, &d, NULL), 0);
	}
	/* Shadow doorbells, the MMIO doorbell written as EventIdx asks. */
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DBBUF_CONFIG};
	s.dptr.prp1 = h_iova(h, shadow);
	s.dptr.prp2 = h_iova(h, ei);
	assert_sc(h_admin(h, &s, NULL), 0);
	create_pair(h, 1, 16, 16);
	struct hq *q = &h->io[0];
	for (int i = 0; i < 40; i++) {
		queue_read(h, q, (uint64_t)i);
		__atomic_store_n(&shadow[2], q->tail, __ATOMIC_RELEASE);
		if (i % 7 == 0) /* as Linux does when EventIdx says so */
			__atomic_store_n(q->sqdb, q->tail, __ATOMIC_RELEASE);
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
		__atomic_store_n(&shadow[3], q->head, __ATOMIC_RELEASE);
	}
	/* Disable and enable, then a shutdown. */
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0) & VNVME_CSTS_RDY, 0);
	h_enable(h, 32);
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	h_wreg32(h, VNVME_REG_CC,
		 h_reg32(h, VNVME_REG_CC) | VNVME_CC_SHN_NORMAL << VNVME_CC_SHN_SHIFT);
	usleep(20000);
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0) & VNVME_CSTS_RDY, 0);
	h_enable(h, 32);
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	assert_no_other(f, NVME_SAN_KINDS);
	assert_int_equal(nr_lines, 0);
}

/* Without --sanitize: nothing to read, nothing reported, the fast path. */
static void test_without_the_sanitizer_nothing_is_checked(void **state)
{
	struct sfx *f = *state;
	struct nvme_san_stats st;
	struct hq *q = &f->h.io[0];

	assert_false(nvme_ctrl_sanitizing(ctrl(f)));
	assert_int_equal(nvme_ctrl_get_sanitizer(ctrl(f), &st), -ENOTSUP);
	create_pair(&f->h, 1, 16, 16);
	assert_null(ctrl(f)->sqs[1]->san);
	__atomic_store_n(q->cqdb, 100u, __ATOMIC_RELEASE);
	__atomic_store_n(q->sqdb, 100u, __ATOMIC_RELEASE);
	usleep(20000);
	assert_int_equal(nr_lines, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_sq_tail_past_the_size_is_reported_once_and_counted_1000_times),
	    T(test_sq_tail_moving_back_over_unfetched_entries_is_reported),
	    T(test_cq_head_past_the_size_is_reported),
	    T(test_cq_head_past_the_tail_is_reported),
	    T(test_cid_reused_while_outstanding_is_reported),
	    T(test_data_pointers_outside_the_maps_or_misaligned_are_reported),
	    T(test_sgl_malformed_is_reported_with_its_field),
	    T(test_cq_deleted_before_its_sq_is_reported),
	    T(test_sq_deleted_with_commands_outstanding_is_reported),
	    T(test_shadow_doorbell_misuse_is_reported),
	    T(test_doorbell_written_while_disabled_is_reported_at_enable),
	    T(test_doorbell_written_after_shutdown_is_reported),
	    T(test_admin_queue_size_outside_the_limits_is_reported),
	    T(test_a_correct_host_triggers_nothing),
	    cmocka_unit_test_setup_teardown(test_without_the_sanitizer_nothing_is_checked,
					    setup_off, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	/* The sanitizer's lines are warnings: the sink must see them. */
	vn_log_set_level(VN_LOG_WARN);
	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
