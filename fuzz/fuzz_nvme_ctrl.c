/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the NVMe controller (src/nvme) driven by an untrusted
 * host. The input is a program of host actions: register writes and reads
 * (CC, AQA, ASQ/ACQ, anything in 0..0xfff and past it), doorbell writes with
 * any value (past the queue sizes included), guest memory writes, and
 * submissions of arbitrary 64-byte commands to the admin or an I/O queue,
 * with helpers that create and delete queue pairs and set up shadow doorbells
 * so the fuzzer reaches the I/O path quickly.
 *
 * The controller is created per input as the target creates it, with one
 * poller, a DMA table of guest memory with a hole, a read-only region, a
 * region without a host pointer and a region at the top of the address
 * space, a ram and a null namespace. The poller is inline by default
 * (vn_poller_create_inline): the harness runs its rounds itself, so a run
 * is deterministic, bounded (at most MAX_OPS actions per input, each
 * followed by a bounded number of rounds) and free of cross-thread waits,
 * about ten times faster. Build with -DFUZZ_THREADED for a polling thread
 * of its own, as in the target, to look for races between the control
 * thread and the poller (how the queue teardown race was found).
 *
 * The controller must never crash, leak, touch memory outside its DMA table
 * (ASan: the doorbell array and the guest buffers are exact-size heap blocks)
 * nor hang (libFuzzer -timeout).
 */
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "fuzz_input.h"
#include "backend/backend.h"
#include "nvme/model.h"
#include "nvme/nvme.h"
#include "util/dma.h"
#include "util/log.h"
#include "util/poller.h"
#include "util/qsbr.h"
#include "vnvme/spec.h"

#define NR_IOQ  4
#define NR_DB   (2 * (NR_IOQ + 1))
#define NR_VEC  4
#define MAX_OPS 96
#define PAGE    4096u

/* Largest I/O queue the controller offers (CAP.MQES + 1): the largest legal. */
#ifndef FUZZ_MQES
#define FUZZ_MQES 65536
#endif

/* Guest physical layout. */
#define G_BASE   0x100000ull /* read/write guest memory */
#define G_SIZE   (1u << 20)
#define RO_BASE  0x300000ull /* read-only to the device; a hole before it */
#define RO_SIZE  0x10000u
#define NOP_BASE 0x400000ull /* mapped without a host pointer */
#define NOP_SIZE 0x10000u
/* Up to the last byte of the address space a mapping may cover (the end,
 * iova + len, must be representable: UINT64_MAX). */
#define TOP_SIZE (0x10000u + 0xfffu)
#define TOP_BASE (UINT64_MAX - TOP_SIZE)

/* Where the queue helpers put rings: admin at the start, I/O pair q at q * 128 KiB. */
#define ASQ_OFF      0x0u
#define ACQ_OFF      0x1000u
#define SQ_OFF(q)    ((q)*0x20000u)
#define CQ_OFF(q)    ((q)*0x20000u + 0x10000u)
#define DATA_OFF     0xa0000u /* data pages the helpers point at */
#define DBBUF_OFF    0xf0000u
#define EVENTIDX_OFF 0xf1000u

static struct vn_qsbr qsbr;
static struct vn_poller *poller;
static struct vn_dma dma;
static uint8_t *gmem, *romem, *topmem;
static uint32_t *doorbells;
static struct vn_be *be_ram, *be_null, *be_model;

/* Namespace 3: a device model (nvme/model.h), so that its held completions
 * meet resets, deletions and hostile queues too. Delays of microseconds:
 * held a few rounds. */
static const struct nvme_model_conf fuzz_model = {
    .seed = 1,
    .lat = {[NVME_MODEL_READ] = {.dist = NVME_DIST_UNIFORM, .p1 = 0, .p2 = 5},
	    [NVME_MODEL_WRITE] = {.fixed_us = 1}},
    .iops = 1000000,
    .qd_ns = 100,
    .nrules = 1,
    .rules = {{.status = 0x281, .rate = 0.25, .opc_mask = 1u << 2}},
};
static uint64_t irqs;

/* The host's view of its queues. */
struct hq {
	uint64_t base; /* 0: none */
	uint32_t size; /* entries */
	uint32_t idx;  /* SQ tail or CQ head */
	uint32_t phase;
};
static struct hq hsq[NR_IOQ + 1], hcq[NR_IOQ + 1];
static bool shadow_on, autoreap;
static uint16_t next_cid;

static void irq_fn(void *arg, uint16_t iv)
{
	(void)arg;
	(void)iv;
	__atomic_fetch_add(&irqs, 1, __ATOMIC_RELAXED);
}

static void *xalloc(size_t n)
{
	void *p;

	if (posix_memalign(&p, PAGE, n))
		abort();
	return p;
}

static void init_once(void)
{
	struct vn_be_opts ram = {.type = VN_BE_RAM, .size = 1 << 20};
	struct vn_be_opts nul = {.type = VN_BE_NULL, .size = 1ull << 30};
	const char *e;

	vn_log_set_level(VN_LOG_ERR);
	/* 1 ns timer slack, inherited by the poller: the controller's own
	 * waits (nanosleep of 10 us) then take about that long. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	vn_qsbr_init(&qsbr);
#ifdef FUZZ_THREADED
	if (vn_poller_create(-1, &qsbr, "fuzz-poll", &poller))
		abort();
#else
	if (vn_poller_create_inline("fuzz-poll", &poller))
		abort();
#endif
	if (vn_dma_init(&dma, &qsbr, 16))
		abort();
	gmem = xalloc(G_SIZE);
	romem = xalloc(RO_SIZE);
	topmem = xalloc(TOP_SIZE);
	/* Exactly the doorbell area: any access past it is an ASan report. */
	doorbells = malloc(nvme_doorbell_bytes(NR_IOQ));
	if (!doorbells || vn_dma_add_host(&dma, G_BASE, G_SIZE, VN_DMA_READ | VN_DMA_WRITE, gmem) ||
	    vn_dma_add_host(&dma, RO_BASE, RO_SIZE, VN_DMA_READ, romem) ||
	    vn_dma_add(&dma, NOP_BASE, NOP_SIZE, VN_DMA_READ | VN_DMA_WRITE, -1, 0) ||
	    vn_dma_add_host(&dma, TOP_BASE, TOP_SIZE, VN_DMA_READ | VN_DMA_WRITE, topmem))
		abort();
	if (vn_be_create(&ram, &be_ram, &e) || vn_be_create(&nul, &be_null, &e) ||
	    vn_be_create(&nul, &be_model, &e))
		abort();
}

/* Host pointer for guest [iova, iova + len), or NULL: the harness (the host)
 * may write read-only memory; the device may not. */
static uint8_t *gptr(uint64_t iova, uint64_t len)
{
	if (iova >= G_BASE && vn_range_ok(iova - G_BASE, len, G_SIZE))
		return gmem + (iova - G_BASE);
	if (iova >= RO_BASE && vn_range_ok(iova - RO_BASE, len, RO_SIZE))
		return romem + (iova - RO_BASE);
	if (iova >= TOP_BASE && vn_range_ok(iova - TOP_BASE, len, TOP_SIZE))
		return topmem + (iova - TOP_BASE);
	return NULL;
}

#ifdef FUZZ_THREADED
static void mark(void *arg)
{
	vn_store_release((uint32_t *)arg, 1u);
}

/* Wait for the poller to run a posted function: like vn_poller_call, but
 * yielding instead of sleeping 10 us a turn. Two such waits bracket at least
 * one whole poller round. */
static void sync_rounds(unsigned n)
{
	for (unsigned i = 0; i < n + 1; i++) {
		uint32_t done = 0;
		if (vn_poller_post(poller, mark, &done))
			abort();
		while (!vn_load_acquire(&done))
			sched_yield();
	}
}
#else
/* Run n + 1 rounds of the inline poller, its posted messages first. */
static void sync_rounds(unsigned n)
{
	for (unsigned i = 0; i < n + 1; i++)
		vn_poller_step(poller);
}
#endif

static void db_write(unsigned idx, uint32_t v)
{
	vn_store_release(&doorbells[idx % NR_DB], v);
	if (shadow_on) {
		uint32_t *s = (uint32_t *)(void *)gptr(G_BASE + DBBUF_OFF, PAGE);
		vn_store_release(&s[idx % NR_DB], v);
	}
}

/* Consume the completions a CQ holds, then ring its head doorbell. */
static void reap(unsigned q)
{
	struct hq *cq = &hcq[q];
	unsigned n = 0;

	if (!cq->base || !cq->size)
		return;
	for (; n < cq->size; n++) {
		struct vnvme_cqe *e = (void *)gptr(cq->base + (uint64_t)cq->idx * 16, 16);
		if (!e || (vn_load_acquire(&e->status) & 1) != cq->phase)
			break;
		if (++cq->idx == cq->size) {
			cq->idx = 0;
			cq->phase ^= 1;
		}
	}
	if (n)
		db_write(2 * q + 1, cq->idx);
}

static void sync_and_reap(unsigned rounds)
{
	sync_rounds(rounds);
	if (autoreap)
		for (unsigned q = 0; q <= NR_IOQ; q++)
			reap(q);
}

/* Track what an admin command does to the host's queue model. */
static void model_admin(const struct vnvme_sqe *s)
{
	unsigned qid = s->cdw10 & 0xffff;

	if (qid == 0 || qid > NR_IOQ)
		return;
	switch (s->opc) {
	case VNVME_ADM_CREATE_SQ:
		hsq[qid] = (struct hq){.base = s->dptr.prp1, .size = (s->cdw10 >> 16) + 1};
		break;
	case VNVME_ADM_CREATE_CQ:
		hcq[qid] =
		    (struct hq){.base = s->dptr.prp1, .size = (s->cdw10 >> 16) + 1, .phase = 1};
		break;
	case VNVME_ADM_DELETE_SQ:
		hsq[qid] = (struct hq){0};
		break;
	case VNVME_ADM_DELETE_CQ:
		hcq[qid] = (struct hq){0};
		break;
	default:
		break;
	}
}

/* Write an SQE at the queue's tail and (unless told not to) ring its doorbell. */
static void submit(unsigned q, struct vnvme_sqe *s, bool ring)
{
	struct hq *sq = &hsq[q];
	uint8_t *slot;

	if (!sq->size)
		return;
	slot = gptr(sq->base + (uint64_t)sq->idx * 64, 64);
	if (slot)
		memcpy(slot, s, 64);
	if (q == 0)
		model_admin(s);
	if (++sq->idx >= sq->size)
		sq->idx = 0;
	if (ring)
		db_write(2 * q, sq->idx);
	else if (shadow_on) {
		uint32_t *sh = (uint32_t *)(void *)gptr(G_BASE + DBBUF_OFF, PAGE);
		vn_store_release(&sh[2 * q], sq->idx);
	}
}

static void admin(uint8_t opc, uint32_t cdw10, uint32_t cdw11, uint64_t prp1, uint64_t prp2)
{
	struct vnvme_sqe s = {.opc = opc, .cid = next_cid++, .cdw10 = cdw10, .cdw11 = cdw11};

	s.dptr.prp1 = prp1;
	s.dptr.prp2 = prp2;
	submit(0, &s, true);
	sync_and_reap(2);
}

static void take_buf(struct in *in, void *buf, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memset(buf, 0, len);
	memcpy(buf, in->p, k);
	in->p += k;
	in->n -= k;
}

enum op {
	OP_REG_WRITE32,
	OP_REG_WRITE,
	OP_REG_READ,
	OP_DOORBELL,
	OP_MEMWRITE,
	OP_ENABLE,
	OP_SUBMIT,
	OP_CREATE_PAIR,
	OP_DELETE,
	OP_REAP,
	OP_SYNC,
	OP_RESET,
	OP_DISABLE,
	OP_DBBUF,
	OP_IO_BURST,
	OP_ADMIN,
	NR_OPS
};

static struct nvme_ctrl *ctrl_new(bool sanitize)
{
	struct nvme_ctrl_opts o = {
	    .name = "fuzz",
	    .cntlid = 1,
	    .serial = "FUZZ0001",
	    .max_ioqpairs = NR_IOQ,
	    .mqes = FUZZ_MQES,
	    .nr_vectors = NR_VEC,
	    .nr_ns = 3,
	    .ns = {{.nsid = 1, .lba_size = 512, .be = be_ram},
		   {.nsid = 2, .lba_size = 4096, .be = be_null},
		   {.nsid = 3, .lba_size = 512, .be = be_model, .model = &fuzz_model}},
	    .pollers = &poller,
	    .nr_pollers = 1,
	    .dma = &dma,
	    .doorbells = doorbells,
	    .irq = irq_fn,
	    .sanitize = sanitize,
	};
	struct nvme_ctrl *c;
	const char *e;

	memset(doorbells, 0, nvme_doorbell_bytes(NR_IOQ));
	if (nvme_ctrl_create(&o, &c, &e)) {
		fprintf(stderr, "nvme_ctrl_create: %s\n", e ? e : "?");
		abort();
	}
	return c;
}

static void reg_write(struct nvme_ctrl *c, uint64_t off, const void *buf, uint32_t len)
{
	nvme_ctrl_reg_write(c, off, buf, len);
}

static void reg_write32(struct nvme_ctrl *c, uint32_t off, uint32_t v)
{
	reg_write(c, off, &v, 4);
}

static void run_op(struct nvme_ctrl *c, struct in *in)
{
	uint8_t buf[256];
	unsigned op = (unsigned)take(in, 1) % NR_OPS;

	switch (op) {
	case OP_REG_WRITE32: {
		uint32_t off = (uint32_t)take(in, 1) * 4;
		reg_write32(c, off, (uint32_t)take(in, 4));
		break;
	}
	case OP_REG_WRITE: { /* any offset and width, out of range included */
		uint64_t off = take(in, 2) % 0x1010;
		uint32_t len = (uint32_t)take(in, 1) % 9;
		take_buf(in, buf, len);
		reg_write(c, off, buf, len);
		break;
	}
	case OP_REG_READ: {
		uint64_t off = take(in, 2) % 0x1010;
		uint32_t len = (uint32_t)take(in, 1) % 9;
		nvme_ctrl_reg_read(c, off, buf, len);
		break;
	}
	case OP_DOORBELL: /* any value: past the queue size, backwards, huge */
		db_write((unsigned)take(in, 1), (uint32_t)take(in, 4));
		sync_and_reap(1);
		break;
	case OP_MEMWRITE: { /* read/write, read-only or top-of-space memory */
		unsigned r = (unsigned)take(in, 1) % 3;
		uint8_t *m = r == 0 ? gmem : r == 1 ? romem : topmem;
		uint32_t sz = r == 0 ? G_SIZE : r == 1 ? RO_SIZE : TOP_SIZE;
		uint32_t off = (uint32_t)take(in, 3) % sz;
		uint32_t len = (uint32_t)take(in, 1);
		if (len > sz - off)
			len = sz - off;
		take_buf(in, buf, len);
		memcpy(m + off, buf, len);
		break;
	}
	case OP_ENABLE: { /* AQA, ASQ, ACQ, then CC.EN; sizes from the input */
		uint32_t a = (uint32_t)take(in, 1), b = (uint32_t)take(in, 1);
		uint32_t asqs = a % 64, acqs = b % 64; /* 0's based */
		uint32_t cc =
		    VNVME_CC_EN | 6u << VNVME_CC_IOSQES_SHIFT | 4u << VNVME_CC_IOCQES_SHIFT;
		reg_write32(c, VNVME_REG_AQA, asqs | acqs << VNVME_AQA_ACQS_SHIFT);
		reg_write32(c, VNVME_REG_ASQ, (uint32_t)(G_BASE + ASQ_OFF));
		reg_write32(c, VNVME_REG_ASQ + 4, 0);
		reg_write32(c, VNVME_REG_ACQ, (uint32_t)(G_BASE + ACQ_OFF));
		reg_write32(c, VNVME_REG_ACQ + 4, 0);
		memset(gmem + ASQ_OFF, 0, 0x2000);
		memset(hsq, 0, sizeof(hsq));
		memset(hcq, 0, sizeof(hcq));
		shadow_on = false;
		hsq[0] = (struct hq){.base = G_BASE + ASQ_OFF, .size = asqs + 1};
		hcq[0] = (struct hq){.base = G_BASE + ACQ_OFF, .size = acqs + 1, .phase = 1};
		reg_write32(c, VNVME_REG_CC, cc | ((a & 0x80) ? (uint32_t)take(in, 4) : 0));
		break;
	}
	case OP_SUBMIT: { /* a raw command on any queue */
		struct vnvme_sqe s;
		unsigned q = (unsigned)take(in, 1);
		take_buf(in, &s, sizeof(s));
		submit(q % (NR_IOQ + 1), &s, !(q & 0x80));
		sync_and_reap(1);
		break;
	}
	case OP_CREATE_PAIR: { /* Create I/O CQ, then SQ; sizes and flags from the input */
		unsigned q = (unsigned)take(in, 1) % (NR_IOQ + 1);
		uint32_t sqs = (uint32_t)take(in, 2), cqs = (uint32_t)take(in, 2);
		uint32_t fl = (uint32_t)take(in, 1);
		/* The rings are 64 KiB apart: bound the sizes to what fits, unless
		 * the input asks for the raw value (the controller must refuse or
		 * bound it against the DMA map). */
		if (!(fl & 0x80)) {
			sqs %= 1024;
			cqs %= 4096;
		}
		uint32_t cq_dw11 = 1u /* PC */ | (fl & 2) /* IEN */ | (fl >> 2 & 7) << 16 /* IV */;
		admin(VNVME_ADM_CREATE_CQ, q | cqs << 16, cq_dw11, G_BASE + CQ_OFF(q), 0);
		admin(VNVME_ADM_CREATE_SQ, q | sqs << 16,
		      1u | (uint32_t)((fl & 0x40) ? q + 1 : q) << 16, G_BASE + SQ_OFF(q), 0);
		break;
	}
	case OP_DELETE: {
		unsigned v = (unsigned)take(in, 1);
		admin((v & 0x80) ? VNVME_ADM_DELETE_CQ : VNVME_ADM_DELETE_SQ, v % (NR_IOQ + 2), 0,
		      0, 0);
		break;
	}
	case OP_REAP:
		reap((unsigned)take(in, 1) % (NR_IOQ + 1));
		break;
	case OP_SYNC:
		sync_and_reap(1 + (unsigned)take(in, 1) % 4);
		break;
	case OP_RESET: /* vfio-user DEVICE_RESET or a client gone */
		nvme_ctrl_reset(c);
		memset(hsq, 0, sizeof(hsq));
		memset(hcq, 0, sizeof(hcq));
		shadow_on = false;
		break;
	case OP_DISABLE: { /* CC.EN = 0 or a shutdown notification */
		uint32_t v = (uint32_t)take(in, 1);
		uint32_t cc;
		nvme_ctrl_reg_read(c, VNVME_REG_CC, &cc, 4);
		if (v & 1) {
			cc &= ~VNVME_CC_EN;
			memset(hsq, 0, sizeof(hsq));
			memset(hcq, 0, sizeof(hcq));
			shadow_on = false;
		} else {
			cc |= (v >> 1 & 3) << VNVME_CC_SHN_SHIFT;
		}
		reg_write32(c, VNVME_REG_CC, cc);
		break;
	}
	case OP_DBBUF: { /* shadow doorbells and EventIdx, or junk addresses */
		unsigned v = (unsigned)take(in, 1);
		uint64_t sh = G_BASE + DBBUF_OFF, ei = G_BASE + EVENTIDX_OFF;
		if (v & 1)
			sh = take(in, 8);
		if (v & 2)
			ei = take(in, 8);
		memset(gmem + DBBUF_OFF, 0, 2 * PAGE);
		admin(VNVME_ADM_DBBUF_CONFIG, 0, 0, sh, ei);
		shadow_on = sh == G_BASE + DBBUF_OFF;
		break;
	}
	case OP_IO_BURST: { /* n copies of one command, CIDs and SLBAs stepping */
		struct vnvme_sqe s;
		unsigned q = 1 + (unsigned)take(in, 1) % NR_IOQ, n = 1 + (unsigned)take(in, 1) % 64;
		memset(&s, 0, sizeof(s));
		take_buf(in, &s, offsetof(struct vnvme_sqe, cdw13));
		s.cdw12 &= ~0xff00u; /* at most 256 blocks: within MDTS mostly */
		for (unsigned i = 0; i < n; i++) {
			s.cid = next_cid++;
			s.cdw10 += 1;
			submit(q, &s, i == n - 1);
		}
		sync_and_reap(2);
		break;
	}
	case OP_ADMIN: { /* an admin command with its data in guest pages */
		uint8_t opc = (uint8_t)take(in, 1);
		uint32_t d10 = (uint32_t)take(in, 4), d11 = (uint32_t)take(in, 4);
		unsigned pg = (unsigned)take(in, 1);
		admin(opc, d10, d11,
		      G_BASE + DATA_OFF + (pg & 15) * PAGE + ((pg & 0x10) ? 0x804 : 0),
		      G_BASE + DATA_OFF + ((pg >> 5) & 7) * PAGE);
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct nvme_ctrl *c;

	if (!poller)
		init_once();
	memset(gmem, 0, G_SIZE);
	memset(romem, 0, RO_SIZE);
	memset(topmem, 0, TOP_SIZE);
	memset(hsq, 0, sizeof(hsq));
	memset(hcq, 0, sizeof(hcq));
	shadow_on = false;
	next_cid = 0;
	/* The first byte: bit 0 reaps completions by itself, bit 1 turns the
	 * host-protocol sanitizer on (its checks see the same hostile host). */
	uint64_t mode = take(&in, 1);
	autoreap = !(mode & 1);
	c = ctrl_new(mode & 2);
	for (unsigned i = 0; i < MAX_OPS && in.n; i++)
		run_op(c, &in);
	sync_rounds(2);
	nvme_ctrl_destroy(c);
	return 0;
}
