/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pci/cfg.h"
#include "testdev/testdev.h"
#include "util/dma.h"
#include "util/log.h"
#include "util/qsbr.h"

struct testdev {
	struct vu_server *srv;
	struct pcicfg cfg;
	uint8_t regs[TD_BAR0_SIZE];
	int shm_fd;
	uint8_t *shm;
	struct vn_qsbr qsbr;
	pthread_t poller;
	bool has_poller;
	bool stop;
	struct testdev_stats st;
};

static void regs_reset(struct testdev *t)
{
	uint32_t id = TD_ID;

	memset(t->regs, 0, sizeof(t->regs));
	memcpy(&t->regs[TD_REG_ID], &id, sizeof(id));
}

static uint32_t reg32(struct testdev *t, unsigned off)
{
	uint32_t v;
	memcpy(&v, &t->regs[off], sizeof(v));
	return v;
}

static void set_reg32(struct testdev *t, unsigned off, uint32_t v)
{
	memcpy(&t->regs[off], &v, sizeof(v));
}

static void do_dma(struct testdev *t, uint32_t cmd)
{
	const struct vn_dma_table *tbl = vn_dma_table_get(vu_server_dma(t->srv));
	uint64_t iova;
	uint32_t len = reg32(t, TD_REG_DMA_LEN), sum = 0;
	uint8_t *p;

	memcpy(&iova, &t->regs[TD_REG_DMA_ADDR], sizeof(iova));
	p = vn_dma_find(tbl, iova, len, cmd == TD_DMA_FILL ? VN_DMA_WRITE : VN_DMA_READ);
	if (!p || !len) {
		set_reg32(t, TD_REG_DMA_STS, EFAULT);
		__atomic_fetch_add(&t->st.dma_faults, 1, __ATOMIC_RELAXED);
		return;
	}
	if (cmd == TD_DMA_SUM) {
		for (uint32_t i = 0; i < len; i++)
			sum += p[i];
		set_reg32(t, TD_REG_DMA_SUM, sum);
	} else {
		uint8_t seed = (uint8_t)reg32(t, TD_REG_SCRATCH);
		for (uint32_t i = 0; i < len; i++)
			p[i] = (uint8_t)(i + seed);
	}
	set_reg32(t, TD_REG_DMA_STS, 0);
}

static int bar0_access(struct testdev *t, uint64_t off, uint8_t *buf, uint32_t n, bool wr)
{
	if (!wr) {
		memcpy(buf, &t->regs[off], n);
		return 0;
	}
	/* RO registers keep their value whatever the write covers. */
	uint8_t ro[8];
	memcpy(ro, &t->regs[TD_REG_ID], 4);
	memcpy(ro + 4, &t->regs[TD_REG_DMA_STS], 4);
	uint32_t sum = reg32(t, TD_REG_DMA_SUM);
	memcpy(&t->regs[off], buf, n);
	memcpy(&t->regs[TD_REG_ID], ro, 4);
	memcpy(&t->regs[TD_REG_DMA_STS], ro + 4, 4);
	set_reg32(t, TD_REG_DMA_SUM, sum);

	if (off <= TD_REG_IRQ && off + n >= TD_REG_IRQ + 4) {
		uint32_t v = reg32(t, TD_REG_IRQ);
		if (v == TD_IRQ_INTX) {
			pcicfg_set_intx_status(&t->cfg, true);
			vu_server_irq_trigger(t->srv, VU_PCI_INTX_IRQ, 0);
		} else {
			vu_server_irq_trigger(t->srv, VU_PCI_MSIX_IRQ, v);
		}
	}
	if (off <= TD_REG_DMA_CMD && off + n >= TD_REG_DMA_CMD + 4) {
		uint32_t cmd = reg32(t, TD_REG_DMA_CMD);
		if (cmd == TD_DMA_SUM || cmd == TD_DMA_FILL)
			do_dma(t, cmd);
		else
			set_reg32(t, TD_REG_DMA_STS, EINVAL);
	}
	return 0;
}

static int region_access(void *opaque, uint32_t region, uint64_t off, void *buf, uint32_t n,
			 bool wr)
{
	struct testdev *t = opaque;

	switch (region) {
	case VU_PCI_CONFIG_REGION:
		if (wr)
			pcicfg_write(&t->cfg, off, buf, n);
		else
			pcicfg_read(&t->cfg, off, buf, n);
		return 0;
	case 0:
		return bar0_access(t, off, buf, n, wr);
	case 2:
		if (wr)
			memcpy(t->shm + off, buf, n);
		else
			memcpy(buf, t->shm + off, n);
		return 0;
	case 4:
		if (!wr)
			memset(buf, 0, n); /* table emulated by the VMM; PBA: nothing pending */
		return 0;
	default:
		return -EINVAL;
	}
}

static void dev_reset(void *opaque, enum vu_reset_reason why)
{
	struct testdev *t = opaque;

	(void)why;
	regs_reset(t);
	pcicfg_set_intx_status(&t->cfg, false);
	__atomic_fetch_add(&t->st.resets, 1, __ATOMIC_RELAXED);
}

static void dev_dma_unmap(void *opaque, uint64_t iova, uint64_t len)
{
	struct testdev *t = opaque;

	(void)iova;
	(void)len;
	__atomic_fetch_add(&t->st.unmaps, 1, __ATOMIC_RELAXED);
}

static void dev_dma_fault(void *opaque, uint64_t iova, uint64_t len)
{
	struct testdev *t = opaque;

	(void)iova;
	(void)len;
	__atomic_fetch_add(&t->st.failed, 1, __ATOMIC_RELAXED);
}

/* The doorbell poller: a stand-in for an NVMe queue poller. */
static void *poll_thread(void *arg)
{
	struct testdev *t = arg;
	struct vn_qsbr_reader rd;
	uint8_t *db = t->shm + TD_DB_PAGE;
	uint32_t last = 0;
	unsigned idle = 0;

	vn_qsbr_register(&t->qsbr, &rd, "testdev-poller");
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		/* Pairs with the client's store to the doorbell: the iova it
		 * wrote before ringing is visible once we see the new value. */
		uint32_t ring = vn_load_acquire((uint32_t *)(void *)(db + TD_DB_DOORBELL));

		vn_qsbr_quiescent(&t->qsbr, &rd);
		if (ring == last) {
			if (++idle < 2000) {
				vn_cpu_relax();
				continue;
			}
			/* Idle: go offline and sleep, so a map change never waits
			 * for us and an idle device burns no CPU. */
			vn_qsbr_offline(&rd);
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			__atomic_fetch_add(&t->st.sleeps, 1, __ATOMIC_RELAXED);
			vn_qsbr_online(&t->qsbr, &rd);
			continue;
		}
		idle = 0;
		last = ring;

		const struct vn_dma_table *tbl = vn_dma_table_get(vu_server_dma(t->srv));
		uint64_t iova;
		uint32_t vec, status = 0;
		uint64_t *ctr;

		memcpy(&iova, db + TD_DB_IOVA, sizeof(iova));
		ctr = vn_dma_find(tbl, iova, sizeof(*ctr), VN_DMA_READ | VN_DMA_WRITE);
		if (ctr) {
			(*ctr)++;
		} else {
			status = EFAULT;
			__atomic_fetch_add(&t->st.dma_faults, 1, __ATOMIC_RELAXED);
		}
		memcpy(db + TD_DB_STATUS, &status, sizeof(status));
		/* The client sees the status and counter once it sees DONE. */
		vn_store_release((uint32_t *)(void *)(db + TD_DB_DONE), ring);
		__atomic_fetch_add(&t->st.rings, 1, __ATOMIC_RELAXED);
		memcpy(&vec, db + TD_DB_VECTOR, sizeof(vec));
		if (vec != 0xffffffffu)
			vu_server_irq_trigger(t->srv, VU_PCI_MSIX_IRQ, vec);
	}
	vn_qsbr_unregister(&t->qsbr, &rd);
	return NULL;
}

static void cfg_setup(struct testdev *t)
{
	struct pcicfg_ids ids = {
	    .vendor = TD_VENDOR,
	    .device = TD_DEVICE,
	    .subsys_vendor = TD_VENDOR,
	    .subsys = TD_DEVICE,
	    .class_code = 0xff0000,
	    .intx_pin = 1,
	};
	int off;

	pcicfg_init(&t->cfg, &ids);
	pcicfg_set_bar(&t->cfg, 0, TD_BAR0_SIZE, 0);
	pcicfg_set_bar(&t->cfg, 2, TD_BAR2_SIZE, PCI_BAR_MEM_64);
	pcicfg_set_bar(&t->cfg, 4, TD_BAR4_SIZE, 0);
	off = pcicfg_add_cap(&t->cfg, PCI_CAP_ID_MSIX, 12);
	if (off > 0) {
		pcicfg_put16(&t->cfg, (unsigned)off + 2, TD_MSIX_VECTORS - 1);
		pcicfg_set_wmask(&t->cfg, (unsigned)off + 2, 2, 0xc000); /* enable, mask all */
		pcicfg_put32(&t->cfg, (unsigned)off + 4, 0x000 | 4);     /* table: BAR4 + 0 */
		pcicfg_put32(&t->cfg, (unsigned)off + 8, 0x800 | 4);     /* PBA: BAR4 + 0x800 */
	}
}

int testdev_create(const char *path, struct vn_evloop *loop, bool poller, struct testdev **out)
{
	return testdev_create_opts(path, loop, poller, NULL, out);
}

int testdev_create_opts(const char *path, struct vn_evloop *loop, bool poller,
			const struct vu_server_opts *limits, struct testdev **out)
{
	struct testdev *t = calloc(1, sizeof(*t));
	struct vu_device dev = {
	    .name = "testdev",
	    .reset_supported = true,
	    .num_regions = VU_PCI_NUM_REGIONS,
	    .num_irqs = VU_PCI_NUM_IRQS,
	    .region_access = region_access,
	    .reset = dev_reset,
	    .dma_unmap = dev_dma_unmap,
	    .dma_fault = dev_dma_fault,
	};
	struct vu_server_opts o = {0};
	int ret;

	if (limits)
		o = *limits;
	o.path = path;
	o.loop = loop;
	o.dev = &dev;

	if (!t)
		return -ENOMEM;
	t->shm_fd = -1;
	vn_qsbr_init(&t->qsbr);
	regs_reset(t);
	cfg_setup(t);
	t->shm_fd = memfd_create("testdev-bar2", MFD_CLOEXEC);
	if (t->shm_fd < 0 || ftruncate(t->shm_fd, TD_BAR2_SIZE) < 0) {
		ret = -errno;
		goto err;
	}
	t->shm = mmap(NULL, TD_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->shm_fd, 0);
	if (t->shm == MAP_FAILED) {
		t->shm = NULL;
		ret = -errno;
		goto err;
	}
	memset(t->shm + TD_DB_PAGE + TD_DB_VECTOR, 0xff, 4);

	dev.opaque = t;
	dev.regions[0] =
	    (struct vu_region){.size = TD_BAR0_SIZE, .flags = VU_REGION_F_READ | VU_REGION_F_WRITE};
	dev.regions[2] = (struct vu_region){
	    .size = TD_BAR2_SIZE,
	    .flags = VU_REGION_F_READ | VU_REGION_F_WRITE | VU_REGION_F_MMAP,
	    .fd = t->shm_fd,
	    .nr_sparse = 1,
	    .sparse = {{.offset = TD_DB_PAGE, .size = 4096}},
	};
	dev.regions[4] =
	    (struct vu_region){.size = TD_BAR4_SIZE, .flags = VU_REGION_F_READ | VU_REGION_F_WRITE};
	dev.regions[VU_PCI_CONFIG_REGION] =
	    (struct vu_region){.size = PCI_CFG_SIZE, .flags = VU_REGION_F_READ | VU_REGION_F_WRITE};
	for (unsigned i = 0; i < VU_PCI_NUM_REGIONS; i++)
		if (!(dev.regions[i].flags & VU_REGION_F_MMAP))
			dev.regions[i].fd = -1;
	dev.irq_count[VU_PCI_INTX_IRQ] = 1;
	dev.irq_count[VU_PCI_MSIX_IRQ] = TD_MSIX_VECTORS;
	dev.irq_count[VU_PCI_ERR_IRQ] = 1;
	o.qsbr = &t->qsbr;

	ret = vu_server_create(&o, &t->srv);
	if (ret)
		goto err;
	if (poller) {
		ret = -pthread_create(&t->poller, NULL, poll_thread, t);
		if (ret)
			goto err;
		t->has_poller = true;
	}
	*out = t;
	return 0;
err:
	vu_server_destroy(t->srv);
	if (t->shm)
		munmap(t->shm, TD_BAR2_SIZE);
	if (t->shm_fd >= 0)
		close(t->shm_fd);
	vn_qsbr_destroy(&t->qsbr);
	free(t);
	return ret;
}

void testdev_destroy(struct testdev *t)
{
	if (!t)
		return;
	if (t->has_poller) {
		__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
		pthread_join(t->poller, NULL);
	}
	vu_server_destroy(t->srv);
	munmap(t->shm, TD_BAR2_SIZE);
	close(t->shm_fd);
	vn_qsbr_destroy(&t->qsbr);
	free(t);
}

struct vu_server *testdev_server(struct testdev *t)
{
	return t->srv;
}

void testdev_get_stats(struct testdev *t, struct testdev_stats *out)
{
	out->rings = __atomic_load_n(&t->st.rings, __ATOMIC_RELAXED);
	out->dma_faults = __atomic_load_n(&t->st.dma_faults, __ATOMIC_RELAXED);
	out->resets = __atomic_load_n(&t->st.resets, __ATOMIC_RELAXED);
	out->unmaps = __atomic_load_n(&t->st.unmaps, __ATOMIC_RELAXED);
	out->sleeps = __atomic_load_n(&t->st.sleeps, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&t->st.failed, __ATOMIC_RELAXED);
}
