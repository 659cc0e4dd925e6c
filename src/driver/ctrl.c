/* SPDX-License-Identifier: MIT */
/*
 * Controller bring-up and admin commands (NVMe Base 2.0c §3.5.1 "Memory-based
 * Controller Initialization"): disable, admin queue, enable, Identify
 * Controller, Number of Queues, Doorbell Buffer Config when offered.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "driver/priv.h"
#include "util/log.h"

void drv_err(struct vnvme_ctrl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

const char *vnvme_ctrl_errmsg(const struct vnvme_ctrl *c)
{
	return c->errmsg;
}

const char *vnvme_status_name(uint16_t status)
{
	return vnvme_spec_status_name(status);
}

/* ------------------------------------------------------------------------ */
/* DMA memory: a page allocator over the one registered region. Setup-time
 * only: queue pairs and I/O buffers are allocated once. */

void *vnvme_dma_alloc(struct vnvme_ctrl *c, size_t size)
{
	size_t pages = (size + DRV_PAGE - 1) / DRV_PAGE, total = c->dma_size / DRV_PAGE, run = 0;
	void *p = NULL;

	if (!size)
		return NULL;
	/* Hugepage-backed (PCI): a buffer may not cross a 2 MiB page. */
	if (c->pa2m && pages > 512)
		return NULL;
	pthread_mutex_lock(&c->dma_lock);
	for (size_t i = 0; i < total; i++) {
		if (c->pa2m && i % 512 == 0)
			run = 0;
		run = c->page_used[i] ? 0 : run + 1;
		if (run == pages) {
			size_t start = i + 1 - pages;
			memset(&c->page_used[start], 1, pages);
			c->run_len[start] = (uint32_t)pages;
			p = c->dma + start * DRV_PAGE;
			break;
		}
	}
	pthread_mutex_unlock(&c->dma_lock);
	return p;
}

void vnvme_dma_free(struct vnvme_ctrl *c, void *p)
{
	size_t start;

	if (!p || !drv_iova(c, p))
		return;
	start = (size_t)((uint8_t *)p - c->dma) / DRV_PAGE;
	pthread_mutex_lock(&c->dma_lock);
	memset(&c->page_used[start], 0, c->run_len[start]);
	c->run_len[start] = 0;
	pthread_mutex_unlock(&c->dma_lock);
}

/* ------------------------------------------------------------------------ */

static int reg32(struct vnvme_ctrl *c, uint32_t off, uint32_t *v)
{
	return c->tr->reg_read(c, off, v, 4);
}

static int wreg32(struct vnvme_ctrl *c, uint32_t off, uint32_t v)
{
	return c->tr->reg_write(c, off, &v, 4);
}

static void sleep_us(unsigned us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* Wait for CSTS.RDY == rdy within CAP.TO. */
static int wait_ready(struct vnvme_ctrl *c, uint32_t rdy)
{
	unsigned to_ms = (unsigned)VNVME_FIELD_GET(c->cap, VNVME_CAP_TO) * 500;
	uint32_t csts = 0;
	int ret;

	if (!to_ms)
		to_ms = 500;
	for (unsigned waited = 0;; waited++) {
		ret = reg32(c, VNVME_REG_CSTS, &csts);
		if (ret)
			return ret;
		if (csts == 0xffffffffu) {
			drv_err(c, "CSTS reads all ones: the device is gone");
			return -ENODEV;
		}
		if (csts & VNVME_CSTS_CFS) {
			drv_err(c, "controller fatal status (CSTS.CFS) while waiting for RDY=%u",
				rdy);
			return -EIO;
		}
		if ((csts & VNVME_CSTS_RDY) == rdy)
			return 0;
		if (waited >= to_ms) {
			drv_err(c, "CSTS.RDY did not become %u within CAP.TO (%u ms)", rdy, to_ms);
			return -ETIMEDOUT;
		}
		sleep_us(1000);
	}
}

struct admin_wait {
	struct vnvme_cqe cqe;
	bool done;
};

static void admin_cb(void *arg, const struct vnvme_cqe *cqe)
{
	struct admin_wait *w = arg;
	w->cqe = *cqe;
	w->done = true;
}

int vnvme_admin(struct vnvme_ctrl *c, struct vnvme_sqe *sqe, void *buf, size_t len,
		struct vnvme_cqe *cqe)
{
	struct admin_wait w = {.done = false};
	uint64_t deadline;
	int ret;

	pthread_mutex_lock(&c->admin_lock);
	ret = vnvme_submit(c->admin, sqe, buf, len, admin_cb, &w);
	if (ret)
		goto out;
	deadline = vn_now_ns() + (uint64_t)c->o.timeout_ms * 1000000ull;
	for (unsigned spins = 0; !w.done; spins++) {
		ret = vnvme_qpair_poll(c->admin, 0);
		if (w.done)
			break;
		if (spins > 1000)
			sleep_us(20);
		if (vn_now_ns() > deadline) {
			uint32_t csts = 0;
			int r = reg32(c, VNVME_REG_CSTS, &csts);
			if (r)
				drv_err(c,
					"admin opcode 0x%02x: no completion, and the transport "
					"failed: %s",
					sqe->opc, strerror(-r));
			else
				drv_err(
				    c,
				    "admin opcode 0x%02x: no completion within %d ms (CSTS 0x%x)",
				    sqe->opc, c->o.timeout_ms, csts);
			ret = r ? r : (csts & VNVME_CSTS_CFS) ? -EIO : -ETIMEDOUT;
			goto out;
		}
	}
	ret = 0;
	if (cqe)
		*cqe = w.cqe;
out:
	pthread_mutex_unlock(&c->admin_lock);
	return ret;
}

/* An admin command whose non-success status becomes -EIO with a message. */
static int admin_ok(struct vnvme_ctrl *c, struct vnvme_sqe *s, void *buf, size_t len, uint32_t *dw0,
		    const char *what)
{
	struct vnvme_cqe cqe;
	int ret = vnvme_admin(c, s, buf, len, &cqe);

	if (ret)
		return ret;
	if (vnvme_cqe_sf(&cqe)) {
		drv_err(c, "%s: %s (status 0x%x)", what, vnvme_status_name(vnvme_cqe_sf(&cqe)),
			vnvme_cqe_sf(&cqe));
		return -EIO;
	}
	if (dw0)
		*dw0 = cqe.dw0;
	return 0;
}

int vnvme_ns_info(struct vnvme_ctrl *c, uint32_t nsid, struct vnvme_ns_info *out)
{
	struct vnvme_id_ns *ns = vnvme_dma_alloc(c, sizeof(*ns));
	struct vnvme_sqe s = {.opc = VNVME_ADM_IDENTIFY, .nsid = nsid, .cdw10 = VNVME_CNS_NS};
	int ret;

	if (!ns)
		return -ENOMEM;
	ret = admin_ok(c, &s, ns, sizeof(*ns), NULL, "Identify Namespace");
	if (!ret && ns->nsze == 0) {
		drv_err(c, "namespace %u is not active", nsid);
		ret = -ENODEV;
	}
	if (!ret) {
		out->nsid = nsid;
		out->lba_size = 1u << ns->lbaf[ns->flbas & 0xf].lbads;
		out->nlb = ns->nsze;
	}
	vnvme_dma_free(c, ns);
	return ret;
}

static int enable(struct vnvme_ctrl *c)
{
	uint32_t cc = 0, aqa;
	uint64_t asq, acq;
	int ret;

	if ((ret = c->tr->reg_read(c, VNVME_REG_CAP, &c->cap, 8)))
		return ret;
	c->dstrd = (uint32_t)VNVME_FIELD_GET(c->cap, VNVME_CAP_DSTRD);
	if (VNVME_FIELD_GET(c->cap, VNVME_CAP_MPSMIN) != 0) {
		drv_err(c, "CAP.MPSMIN %u: only 4 KiB pages are supported",
			(unsigned)VNVME_FIELD_GET(c->cap, VNVME_CAP_MPSMIN));
		return -ENOTSUP;
	}
	/* Disable first (it may be enabled by a previous user). */
	if ((ret = reg32(c, VNVME_REG_CC, &cc)))
		return ret;
	if (cc & VNVME_CC_EN) {
		if ((ret = wreg32(c, VNVME_REG_CC, cc & ~VNVME_CC_EN)))
			return ret;
	}
	if ((ret = wait_ready(c, 0)))
		return ret;
	ret = drv_qpair_alloc(c, 0, c->o.admin_qdepth, &c->admin);
	if (ret)
		return ret;
	aqa = (uint32_t)(c->o.admin_qdepth - 1) | (uint32_t)(c->o.admin_qdepth - 1) << 16;
	asq = drv_iova(c, c->admin->h.sq);
	acq = drv_iova(c, c->admin->h.cq);
	if ((ret = wreg32(c, VNVME_REG_AQA, aqa)) ||
	    (ret = c->tr->reg_write(c, VNVME_REG_ASQ, &asq, 8)) ||
	    (ret = c->tr->reg_write(c, VNVME_REG_ACQ, &acq, 8)))
		return ret;
	cc = VNVME_CC_EN | VNVME_SQES_LOG2 << VNVME_CC_IOSQES_SHIFT |
	     VNVME_CQES_LOG2 << VNVME_CC_IOCQES_SHIFT;
	if ((ret = wreg32(c, VNVME_REG_CC, cc)))
		return ret;
	return wait_ready(c, 1);
}

int vnvme_ctrl_open(const char *addr, const struct vnvme_ctrl_opts *opts, struct vnvme_ctrl **out)
{
	struct vnvme_ctrl *c = calloc(1, sizeof(*c));
	struct vnvme_sqe s;
	uint32_t dw0 = 0;
	int ret;

	if (!c)
		return -ENOMEM;
	if (opts)
		c->o = *opts;
	if (!c->o.timeout_ms)
		c->o.timeout_ms = 5000;
	if (!c->o.dma_size)
		c->o.dma_size = 64u << 20;
	if (!c->o.admin_qdepth)
		c->o.admin_qdepth = 32;
	if (!c->o.io_queues)
		c->o.io_queues = 64;
	c->dma_size = (c->o.dma_size + DRV_PAGE - 1) & ~(size_t)(DRV_PAGE - 1);
	pthread_mutex_init(&c->dma_lock, NULL);
	pthread_mutex_init(&c->admin_lock, NULL);
	ret = drv_is_bdf(addr) ? drv_pci_open(c, addr) : drv_vu_open(c, addr);
	if (ret)
		goto err;
	/* After the transport: it may round the DMA size up (hugepages). */
	c->page_used = calloc(c->dma_size / DRV_PAGE, 1);
	c->run_len = calloc(c->dma_size / DRV_PAGE, sizeof(*c->run_len));
	if (!c->page_used || !c->run_len) {
		ret = -ENOMEM;
		goto err;
	}
	ret = enable(c);
	if (ret)
		goto err;
	c->id = malloc(sizeof(*c->id));
	void *idbuf = vnvme_dma_alloc(c, sizeof(*c->id));
	if (!c->id || !idbuf) {
		ret = -ENOMEM;
		goto err;
	}
	s = (struct vnvme_sqe){.opc = VNVME_ADM_IDENTIFY, .cdw10 = VNVME_CNS_CTRL};
	ret = admin_ok(c, &s, idbuf, sizeof(*c->id), NULL, "Identify Controller");
	if (!ret)
		memcpy(c->id, idbuf, sizeof(*c->id));
	vnvme_dma_free(c, idbuf);
	if (ret)
		goto err;
	/* Number of Queues; a controller that refuses it still takes queues
	 * (uPCIe never asks), so fall back to what we wanted. */
	s = (struct vnvme_sqe){.opc = VNVME_ADM_SET_FEATURES, .cdw10 = VNVME_FID_NUM_QUEUES};
	s.cdw11 = (c->o.io_queues - 1) | (c->o.io_queues - 1) << 16;
	if (admin_ok(c, &s, NULL, 0, &dw0, "Set Features (Number of Queues)") == 0)
		c->max_qpairs = VN_MIN(dw0 & 0xffff, dw0 >> 16) + 1;
	else
		c->max_qpairs = c->o.io_queues;
	c->max_qpairs = VN_MIN(c->max_qpairs, c->o.io_queues);
	c->qid_used = calloc(c->max_qpairs + 1, 1);
	if (!c->qid_used) {
		ret = -ENOMEM;
		goto err;
	}
	/* Shadow doorbells when offered (NVMe Base 2.0c §5.8). */
	if ((c->id->oacs & VNVME_OACS_DBBUF) && !c->o.no_shadow_doorbells) {
		uint8_t *b = vnvme_dma_alloc(c, 2 * DRV_PAGE);
		if (b) {
			memset(b, 0, 2 * DRV_PAGE);
			s = (struct vnvme_sqe){.opc = VNVME_ADM_DBBUF_CONFIG};
			s.dptr.prp1 = drv_iova(c, b);
			s.dptr.prp2 = drv_iova(c, b + DRV_PAGE);
			if (vnvme_admin(c, &s, NULL, 0, NULL) == 0) {
				c->dbbuf = (uint32_t *)(void *)b;
				c->dbbuf_ei = (uint32_t *)(void *)(b + DRV_PAGE);
			} else {
				vnvme_dma_free(c, b);
			}
		}
	}
	*out = c;
	return 0;
err:
	if (ret && !c->errmsg[0])
		drv_err(c, "%s", strerror(-ret));
	vn_err("vnvme: %s: %s", addr, c->errmsg);
	vnvme_ctrl_close(c);
	return ret;
}

void vnvme_ctrl_close(struct vnvme_ctrl *c)
{
	if (!c)
		return;
	if (c->admin && c->tr_priv) {
		/* Normal shutdown: SHN = 01b, wait for SHST = complete (bounded). */
		uint32_t cc = 0, csts = 0;
		if (!reg32(c, VNVME_REG_CC, &cc) && (cc & VNVME_CC_EN)) {
			wreg32(c, VNVME_REG_CC, cc | VNVME_CC_SHN_NORMAL << VNVME_CC_SHN_SHIFT);
			for (int i = 0; i < 1000; i++) {
				if (reg32(c, VNVME_REG_CSTS, &csts) ||
				    VNVME_FIELD_GET(csts, VNVME_CSTS_SHST) ==
					VNVME_CSTS_SHST_COMPLETE)
					break;
				sleep_us(1000);
			}
		}
	}
	drv_qpair_free(c->admin);
	if (c->tr)
		c->tr->close(c);
	free(c->id);
	free(c->qid_used);
	free(c->page_used);
	free(c->run_len);
	pthread_mutex_destroy(&c->dma_lock);
	pthread_mutex_destroy(&c->admin_lock);
	free(c);
}

const struct vnvme_id_ctrl *vnvme_ctrl_id(const struct vnvme_ctrl *c)
{
	return c->id;
}

uint32_t vnvme_ctrl_max_qpairs(const struct vnvme_ctrl *c)
{
	return c->max_qpairs;
}

uint32_t vnvme_ctrl_max_qdepth(const struct vnvme_ctrl *c)
{
	return (uint32_t)VNVME_FIELD_GET(c->cap, VNVME_CAP_MQES) + 1;
}

uint64_t vnvme_ctrl_max_xfer(const struct vnvme_ctrl *c)
{
	/* NVMe Base 2.0c §5.17.2.1 "Identify Controller": MDTS is a power of
	 * two in units of CAP.MPSMIN; 0 means no limit. */
	uint64_t mpsmin = 4096ull << VNVME_FIELD_GET(c->cap, VNVME_CAP_MPSMIN);

	if (!c->id || !c->id->mdts)
		return 0;
	return c->id->mdts >= 32 ? UINT64_MAX : mpsmin << c->id->mdts;
}

int vnvme_ctrl_check(struct vnvme_ctrl *c)
{
	uint32_t csts = 0;
	int ret = reg32(c, VNVME_REG_CSTS, &csts);

	if (ret) {
		drv_err(c, "the controller does not answer: %s", strerror(-ret));
		return ret;
	}
	if (csts == 0xffffffffu || (csts & VNVME_CSTS_CFS)) {
		drv_err(c, "controller fatal status (CSTS 0x%x)", csts);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */

int vnvme_qpair_create(struct vnvme_ctrl *c, const struct vnvme_qpair_opts *opts,
		       struct vnvme_qpair **out)
{
	struct vnvme_qpair_opts o = opts ? *opts : (struct vnvme_qpair_opts){0};
	uint32_t mqes = (uint32_t)VNVME_FIELD_GET(c->cap, VNVME_CAP_MQES) + 1;
	struct vnvme_qpair *q;
	struct vnvme_sqe s;
	uint16_t qid = 0;
	int ret;

	if (!o.depth)
		o.depth = 256;
	/* 65535 at most here: the rings' indices and size are 16 bits in
	 * struct vnvme_hot (a 65536-entry ring would be size 0). */
	if (o.depth < 2 || o.depth > mqes || o.depth > 65535) {
		drv_err(c, "queue depth %u: the controller takes 2..%u, this driver 2..65535",
			o.depth, mqes);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->admin_lock);
	for (uint32_t i = 1; i <= c->max_qpairs; i++) {
		if (!c->qid_used[i]) {
			c->qid_used[i] = 1;
			qid = (uint16_t)i;
			break;
		}
	}
	pthread_mutex_unlock(&c->admin_lock);
	if (!qid) {
		drv_err(c, "all %u I/O queue pairs are in use", c->max_qpairs);
		return -EBUSY;
	}
	ret = drv_qpair_alloc(c, qid, (uint16_t)o.depth, &q);
	if (ret)
		goto err_qid;
	if (o.interrupts) {
		q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->efd < 0 || (ret = c->tr->set_irq(c, qid, q->efd)) != 0) {
			ret = q->efd < 0 ? -errno : ret;
			goto err_free;
		}
	}
	s = (struct vnvme_sqe){.opc = VNVME_ADM_CREATE_CQ};
	s.dptr.prp1 = drv_iova(c, q->h.cq);
	s.cdw10 = qid | (o.depth - 1) << 16;
	/* IV only with interrupts: a polled CQ takes vector 0, as a controller
	 * whose MSI-X is off (uio_pci_generic never enables it) requires; QEMU's
	 * nvme fails IV != 0 then with Invalid Interrupt Vector. */
	s.cdw11 =
	    VNVME_CREATE_Q_PC | (o.interrupts ? VNVME_CREATE_CQ_IEN | (uint32_t)qid << 16 : 0);
	ret = admin_ok(c, &s, NULL, 0, NULL, "Create I/O Completion Queue");
	if (ret)
		goto err_free;
	s = (struct vnvme_sqe){.opc = VNVME_ADM_CREATE_SQ};
	s.dptr.prp1 = drv_iova(c, q->h.sq);
	s.cdw10 = qid | (o.depth - 1) << 16;
	s.cdw11 = VNVME_CREATE_Q_PC | (uint32_t)qid << 16;
	ret = admin_ok(c, &s, NULL, 0, NULL, "Create I/O Submission Queue");
	if (ret) {
		s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_CQ, .cdw10 = qid};
		vnvme_admin(c, &s, NULL, 0, NULL);
		goto err_free;
	}
	*out = q;
	return 0;
err_free:
	if (o.interrupts && q->efd >= 0)
		c->tr->set_irq(c, qid, -1);
	drv_qpair_free(q);
err_qid:
	c->qid_used[qid] = 0;
	return ret;
}

void vnvme_qpair_destroy(struct vnvme_qpair *q)
{
	struct vnvme_ctrl *c;
	struct vnvme_sqe s;

	if (!q)
		return;
	c = q->c;
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_SQ, .cdw10 = q->qid};
	vnvme_admin(c, &s, NULL, 0, NULL);
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_CQ, .cdw10 = q->qid};
	vnvme_admin(c, &s, NULL, 0, NULL);
	if (q->efd >= 0)
		c->tr->set_irq(c, q->qid, -1);
	c->qid_used[q->qid] = 0;
	drv_qpair_free(q);
}
