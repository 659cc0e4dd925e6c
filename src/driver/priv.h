/* SPDX-License-Identifier: MIT */
#ifndef VN_DRIVER_PRIV_H
#define VN_DRIVER_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"
#include "vnvme/vnvme.h"

#define DRV_PAGE 4096u

struct vnvme_ctrl;

/* How registers, doorbells, DMA memory and interrupts reach the device. */
struct drv_transport {
	int (*reg_read)(struct vnvme_ctrl *c, uint32_t off, void *buf, uint32_t len);
	int (*reg_write)(struct vnvme_ctrl *c, uint32_t off, const void *buf, uint32_t len);
	/* Wire MSI-X vector `vec` to eventfd `fd` (-1: none). */
	int (*set_irq)(struct vnvme_ctrl *c, uint16_t vec, int fd);
	void (*close)(struct vnvme_ctrl *c);
};

/*
 * BAR0 mapped into our address space (the PCI transports). Each transport's
 * private state begins with this, so the register accessors below serve
 * both uio_pci_generic and vfio-pci.
 */
struct drv_mmio {
	volatile uint32_t *bar; /* accessed by dwords */
	size_t len;
};

int drv_mmio_reg_read(struct vnvme_ctrl *c, uint32_t off, void *buf, uint32_t len);
int drv_mmio_reg_write(struct vnvme_ctrl *c, uint32_t off, const void *buf, uint32_t len);

/* A command slot's PRP list page: written when a transfer spans more than
 * two pages. */
struct drv_prp {
	uint64_t *list; /* host pointer */
	uint64_t iova;
};

struct vnvme_qpair {
	/* Hot, the owning thread only; inline in applications (vnvme.h). */
	VN_CACHE_ALIGNED struct vnvme_hot h;
	uint32_t *sqdb, *cqdb;
	uint32_t *sq_shadow, *sq_ei, *cq_shadow, *cq_ei;
	uint16_t qid;
	struct drv_prp *prp; /* by CID */
	struct vnvme_ctrl *c;
	void *mem; /* rings and PRP lists, one DMA allocation */
	int efd;
};

struct vnvme_ctrl {
	const struct drv_transport *tr;
	void *tr_priv;
	struct vnvme_ctrl_opts o;
	char errmsg[512];

	uint64_t cap;
	uint32_t dstrd;
	uint32_t *doorbells; /* BAR0 + 0x1000, mmapped */
	size_t db_len;

	/* DMA memory: one region, page allocator. */
	uint8_t *dma;
	uint64_t dma_iova;
	uint64_t *pa2m; /* PCI transport: bus address of each 2 MiB page, or NULL */
	size_t dma_size;
	uint8_t *page_used; /* one byte per page: 0 free, else run length start mark */
	uint32_t *run_len;
	pthread_mutex_t dma_lock;

	/* Admin queue: serialised by admin_lock. */
	pthread_mutex_t admin_lock;
	struct vnvme_qpair *admin;
	struct vnvme_id_ctrl *id;
	uint32_t max_qpairs;
	uint8_t *qid_used;
	uint32_t *dbbuf, *dbbuf_ei; /* shadow doorbells, or NULL */

	/* The device's trace table (tr_vu.c), or NULL: its geometry checked
	 * and copied once at open (the device may rewrite the header). */
	const struct vnvme_trace_rec *trace;
	uint32_t trace_queues, trace_entries;
	uint64_t trace_hz;
};

void drv_err(struct vnvme_ctrl *c, const char *fmt, ...) VN_PRINTF(2, 3);

/* The IOVA of byte `off` of the DMA region (off < dma_size). An allocation
 * never crosses a 2 MiB page when the region is hugepages (vnvme_dma_alloc),
 * so an IOVA range is contiguous within one buffer. */
static inline uint64_t drv_iova_off(const struct vnvme_ctrl *c, uint64_t off)
{
	if (c->pa2m)
		return c->pa2m[off >> 21] + (off & ((2u << 20) - 1));
	return c->dma_iova + off;
}

/* Translate a pointer into the DMA region to its IOVA; 0 if outside. */
static inline uint64_t drv_iova(const struct vnvme_ctrl *c, const void *p)
{
	const uint8_t *b = p;

	if (b < c->dma || b >= c->dma + c->dma_size)
		return 0;
	return drv_iova_off(c, (uint64_t)(b - c->dma));
}

/* qpair.c */
int drv_qpair_alloc(struct vnvme_ctrl *c, uint16_t qid, uint16_t size, struct vnvme_qpair **out);
void drv_qpair_free(struct vnvme_qpair *q);

/* tr_vu.c */
int drv_vu_open(struct vnvme_ctrl *c, const char *path);
/* tr_pci.c */
bool drv_is_bdf(const char *addr);
int drv_pci_open(struct vnvme_ctrl *c, const char *bdf);
/* tr_vfio.c: bdf bound to vfio-pci; dir is its sysfs directory */
int drv_vfio_open(struct vnvme_ctrl *c, const char *bdf, const char *dir);

#endif
