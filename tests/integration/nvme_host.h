/* SPDX-License-Identifier: MIT */
/*
 * A minimal NVMe host for the integration tests: it drives a vnvme-target
 * controller through the project's vfio-user client the way a user-space
 * driver does (registers by message, doorbells in the mmapped BAR0 area,
 * queues and data in a memfd shared as DMA memory). Deliberately small and
 * explicit so tests can build any command, valid or not.
 */
#ifndef VN_TESTS_NVME_HOST_H
#define VN_TESTS_NVME_HOST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "target/device.h"
#include "util/log.h"
#include "vnvme/spec.h"
#include "vu/client.h"

#define H_IOVA   0x100000000ull /* guest "physical" base of the shared memory */
#define H_MEMSZ  (32u << 20)
#define H_ASQ    0x0000 /* offsets in the shared memory */
#define H_ACQ    0x10000
#define H_IOQ    0x20000  /* I/O queues: 64 KiB per pair from here */
#define H_DATA   0x800000 /* data buffers from here */
#define H_QDEPTH 64

struct hq {
	uint16_t qid;
	uint32_t size, tail, head; /* up to 65536 entries */
	uint8_t phase;
	struct vnvme_sqe *sq;
	struct vnvme_cqe *cq;
	uint32_t *sqdb, *cqdb;
	uint16_t cid;
};

struct host {
	struct vu_client *c;
	uint8_t *mem;
	uint8_t *bar; /* BAR0 doorbell area, mmapped (BAR offset 0x1000 at bar[0]) */
	size_t barlen;
	struct hq admin;
	struct hq io[8];
	int memfd;
};

static inline uint64_t h_iova(const struct host *h, const void *p)
{
	return H_IOVA + (uint64_t)((const uint8_t *)p - h->mem);
}

static inline uint32_t h_reg32(struct host *h, uint32_t off)
{
	uint32_t v = 0;
	assert_int_equal(vu_client_region_read(h->c, 0, off, &v, 4), 0);
	return v;
}

static inline void h_wreg32(struct host *h, uint32_t off, uint32_t v)
{
	assert_int_equal(vu_client_region_write(h->c, 0, off, &v, 4), 0);
}

static inline void h_wreg64(struct host *h, uint32_t off, uint64_t v)
{
	assert_int_equal(vu_client_region_write(h->c, 0, off, &v, 8), 0);
}

static inline void hq_init(struct host *h, struct hq *q, uint16_t qid, uint32_t size, void *sq,
			   void *cq)
{
	memset(q, 0, sizeof(*q));
	q->qid = qid;
	q->size = size;
	q->phase = 1;
	q->sq = sq;
	q->cq = cq;
	q->sqdb = (uint32_t *)(void *)(h->bar + 8 * qid);
	q->cqdb = (uint32_t *)(void *)(h->bar + 8 * qid + 4);
	memset(cq, 0, (size_t)size * 16);
}

/* Wait until CSTS.RDY == rdy (or CFS). Returns CSTS. */
static inline uint32_t h_wait_rdy(struct host *h, uint32_t rdy)
{
	uint32_t csts = 0;
	for (int i = 0; i < 5000; i++) {
		csts = h_reg32(h, VNVME_REG_CSTS);
		if ((csts & VNVME_CSTS_RDY) == rdy || (csts & VNVME_CSTS_CFS))
			break;
		usleep(1000);
	}
	return csts;
}

static inline void h_enable(struct host *h, uint16_t asz)
{
	hq_init(h, &h->admin, 0, asz, h->mem + H_ASQ, h->mem + H_ACQ);
	h_wreg32(h, VNVME_REG_AQA, (uint32_t)(asz - 1) | (uint32_t)(asz - 1) << 16);
	h_wreg64(h, VNVME_REG_ASQ, H_IOVA + H_ASQ);
	h_wreg64(h, VNVME_REG_ACQ, H_IOVA + H_ACQ);
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 6u << 16 | 4u << 20);
	assert_int_equal(h_wait_rdy(h, 1), VNVME_CSTS_RDY);
}

static inline int h_connect(struct host *h, const char *path)
{
	struct vu_client_region r;
	void *p;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = vu_client_connect(path, 5000, &h->c);
	if (ret)
		return ret;
	h->memfd = memfd_create("nvme-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(h->memfd >= 0);
	assert_int_equal(ftruncate(h->memfd, H_MEMSZ), 0);
	fcntl(h->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	h->mem = mmap(NULL, H_MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
	assert_true(h->mem != MAP_FAILED);
	assert_int_equal(vu_client_dma_map(h->c, H_IOVA, H_MEMSZ, h->memfd, 0,
					   VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE),
			 0);
	assert_int_equal(vu_client_region_info(h->c, 0, &r), 0);
	assert_int_equal(r.nr_sparse, 1);
	assert_int_equal(r.sparse[0].offset, 0x1000);
	assert_int_equal(vu_client_region_mmap(&r, 0, &p, &h->barlen), 0);
	close(r.fd);
	h->bar = p;
	return 0;
}

static inline void h_close(struct host *h)
{
	if (h->c)
		vu_client_close(h->c);
	if (h->bar)
		munmap(h->bar, h->barlen);
	if (h->mem)
		munmap(h->mem, H_MEMSZ);
	if (h->memfd > 0)
		close(h->memfd);
	memset(h, 0, sizeof(*h));
}

/* Submit one command (cid filled in) and ring the doorbell. */
static inline uint16_t hq_submit(struct hq *q, struct vnvme_sqe *sqe)
{
	sqe->cid = q->cid++;
	q->sq[q->tail] = *sqe;
	if (++q->tail == q->size)
		q->tail = 0;
	/* Release: the SQE before the doorbell. */
	__atomic_store_n(q->sqdb, q->tail, __ATOMIC_RELEASE);
	return sqe->cid;
}

/* Place one command (cid filled in) without ringing the doorbell: a batch
 * of hq_queue calls, then one hq_ring, hands the controller all at once. */
static inline uint16_t hq_queue(struct hq *q, struct vnvme_sqe *sqe)
{
	sqe->cid = q->cid++;
	q->sq[q->tail] = *sqe;
	if (++q->tail == q->size)
		q->tail = 0;
	return sqe->cid;
}

static inline void hq_ring(struct hq *q)
{
	/* Release: the SQEs before the doorbell. */
	__atomic_store_n(q->sqdb, q->tail, __ATOMIC_RELEASE);
}

static inline uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for the next completion; returns 0 and the CQE, or -ETIMEDOUT once
 * timeout_ms have passed by the clock (not by counting sleeps, which a
 * loaded machine stretches). */
static inline int hq_reap(struct hq *q, struct vnvme_cqe *out, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms;

	for (long i = 0;; i++) {
		struct vnvme_cqe *e = &q->cq[q->head];
		uint16_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
		if ((st & 1) == q->phase) {
			*out = *e;
			if (++q->head == q->size) {
				q->head = 0;
				q->phase ^= 1;
			}
			__atomic_store_n(q->cqdb, q->head, __ATOMIC_RELEASE);
			return 0;
		}
		if ((i & 15) == 15 && h_now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(10);
	}
}

/* Run one command to completion; returns the status (SF layout), dw0 in *dw0. */
static inline uint16_t hq_cmd(struct hq *q, struct vnvme_sqe *sqe, uint32_t *dw0)
{
	struct vnvme_cqe cqe = {0};
	uint16_t cid = hq_submit(q, sqe);

	assert_int_equal(hq_reap(q, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(cqe.sqid, q->qid);
	if (dw0)
		*dw0 = cqe.dw0;
	return vnvme_cqe_status(&cqe).v;
}

#define SC(sct, sc) ((uint16_t)((sct) << 8 | (sc)))
/* Compare a status ignoring DNR and More. */
#define assert_sc(status, expect) assert_int_equal((status)&0x7ff, (expect))

static inline uint16_t h_admin(struct host *h, struct vnvme_sqe *sqe, uint32_t *dw0)
{
	return hq_cmd(&h->admin, sqe, dw0);
}

static inline uint16_t h_identify(struct host *h, unsigned cns, uint32_t nsid, unsigned csi,
				  void *buf)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_IDENTIFY, .nsid = nsid};
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, buf) + 4096;
	s.cdw10 = cns;
	s.cdw11 = (uint32_t)csi << 24;
	return h_admin(h, &s, NULL);
}

/* Create I/O queue pair qid (CQ and SQ), interrupts on vector iv if ien. */
static inline void h_create_ioq(struct host *h, uint16_t qid, uint16_t size, bool ien, uint16_t iv)
{
	uint8_t *base = h->mem + H_IOQ + (size_t)(qid - 1) * 0x10000;
	struct vnvme_sqe s = {.opc = VNVME_ADM_CREATE_CQ};

	hq_init(h, &h->io[qid - 1], qid, size, base, base + 0x8000);
	s.dptr.prp1 = h_iova(h, base + 0x8000);
	s.cdw10 = qid | (uint32_t)(size - 1) << 16;
	s.cdw11 = VNVME_CREATE_Q_PC | (ien ? VNVME_CREATE_CQ_IEN : 0) | (uint32_t)iv << 16;
	assert_sc(h_admin(h, &s, NULL), 0);
	memset(&s, 0, sizeof(s));
	s.opc = VNVME_ADM_CREATE_SQ;
	s.dptr.prp1 = h_iova(h, base);
	s.cdw10 = qid | (uint32_t)(size - 1) << 16;
	s.cdw11 = VNVME_CREATE_Q_PC | (uint32_t)qid << 16;
	assert_sc(h_admin(h, &s, NULL), 0);
}

static inline struct vnvme_sqe h_rw(uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	struct vnvme_sqe s = {.opc = opc, .nsid = nsid};
	s.cdw10 = (uint32_t)slba;
	s.cdw11 = (uint32_t)(slba >> 32);
	s.cdw12 = nlb - 1;
	return s;
}

#endif
