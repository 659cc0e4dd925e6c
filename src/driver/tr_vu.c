/* SPDX-License-Identifier: MIT */
/*
 * The vfio-user transport: registers by message, doorbells written into the
 * mmapped BAR0 sparse area, DMA memory one sealed memfd mapped at IOVA =
 * 0x100000000, MSI-X vectors wired to eventfds with SET_IRQS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver/priv.h"
#include "vu/client.h"

#define DMA_IOVA 0x100000000ull

struct vu_tr {
	struct vu_client *cl;
	int memfd;
	void *bar_map;
	size_t bar_len;
	void *trace_map; /* BAR2: the device's trace table, or NULL */
	size_t trace_len;
};

static int vu_reg_read(struct vnvme_ctrl *c, uint32_t off, void *buf, uint32_t len)
{
	struct vu_tr *t = c->tr_priv;
	return vu_client_region_read(t->cl, VU_PCI_BAR0_REGION, off, buf, len);
}

static int vu_reg_write(struct vnvme_ctrl *c, uint32_t off, const void *buf, uint32_t len)
{
	struct vu_tr *t = c->tr_priv;
	return vu_client_region_write(t->cl, VU_PCI_BAR0_REGION, off, buf, len);
}

static int vu_set_irq(struct vnvme_ctrl *c, uint16_t vec, int fd)
{
	struct vu_tr *t = c->tr_priv;
	return vu_client_set_irqs(t->cl, VU_PCI_MSIX_IRQ,
				  VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, vec, 1,
				  fd >= 0 ? &fd : NULL, NULL);
}

static void vu_close(struct vnvme_ctrl *c)
{
	struct vu_tr *t = c->tr_priv;

	if (!t)
		return;
	vu_client_close(t->cl);
	if (t->bar_map)
		munmap(t->bar_map, t->bar_len);
	if (t->trace_map)
		munmap(t->trace_map, t->trace_len);
	if (c->dma)
		munmap(c->dma, c->dma_size);
	if (t->memfd >= 0)
		close(t->memfd);
	free(t);
	c->tr_priv = NULL;
}

static const struct drv_transport vu_transport = {
    .reg_read = vu_reg_read,
    .reg_write = vu_reg_write,
    .set_irq = vu_set_irq,
    .close = vu_close,
};

/*
 * The trace table, if the device offers one (BAR2, include/vnvme/trace.h):
 * mapped read-only, its header checked once against the mapping. Absent or
 * malformed, the controller works as without it (c->trace NULL).
 */
static void vu_map_trace(struct vnvme_ctrl *c, struct vu_tr *t, const char *path)
{
	struct vu_client_region r;
	struct vnvme_trace_hdr h;
	void *p;
	size_t len;

	if (vu_client_region_info(t->cl, VNVME_TRACE_BAR, &r) || !r.size)
		return;
	if (vu_client_region_mmap(&r, 0, &p, &len)) {
		if (r.fd >= 0)
			close(r.fd);
		return;
	}
	close(r.fd);
	if (len < sizeof(h)) {
		munmap(p, len);
		return;
	}
	memcpy(&h, p, sizeof(h));
	if (!vnvme_trace_hdr_ok(&h, len)) {
		/* Said by vnvme_ctrl_errmsg(), not an error: I/O works. */
		drv_err(c, "%s: BAR2 is no trace table vnvme knows: ignored", path);
		munmap(p, len);
		return;
	}
	t->trace_map = p;
	t->trace_len = len;
	c->trace =
	    (const struct vnvme_trace_rec *)(const void *)((const uint8_t *)p + h.rec_offset);
	c->trace_queues = h.nr_queues;
	c->trace_entries = h.entries;
	c->trace_hz = h.tsc_hz;
}

int drv_vu_open(struct vnvme_ctrl *c, const char *path)
{
	struct vu_tr *t = calloc(1, sizeof(*t));
	struct vu_client_region r;
	struct vu_device_info di;
	void *p;
	int ret;

	if (!t)
		return -ENOMEM;
	t->memfd = -1;
	c->tr = &vu_transport;
	c->tr_priv = t;
	ret = vu_client_connect(path, c->o.timeout_ms, &t->cl);
	if (ret) {
		drv_err(c, "%s: %s%s", path, strerror(-ret),
			ret == -ENOENT ? " (is vnvme-target running with this --socket?)"
			: ret == -ECONNREFUSED
			    ? " (nothing serves this socket: a vnvme-target that is gone left it; "
			      "start the target again with this --socket, it replaces the file)"
			: ret == -ECONNRESET ? " (another client is connected to it)"
					     : "");
		return ret;
	}
	ret = vu_client_device_info(t->cl, &di);
	if (ret || !(di.flags & VU_DEV_F_PCI) || di.num_regions <= VU_PCI_BAR0_REGION) {
		drv_err(c, "%s: not a vfio-user PCI device", path);
		return ret ? ret : -ENODEV;
	}
	ret = vu_client_region_info(t->cl, VU_PCI_BAR0_REGION, &r);
	if (ret)
		return ret;
	/* The doorbells must be mmappable: one sparse area from 0x1000. */
	if (!(r.flags & VU_REGION_F_MMAP) || r.nr_sparse < 1 || r.sparse[0].offset != 0x1000) {
		if (r.fd >= 0)
			close(r.fd);
		drv_err(c, "%s: BAR0 offers no mmappable doorbell area at 0x1000", path);
		return -ENOTSUP;
	}
	ret = vu_client_region_mmap(&r, 0, &p, &t->bar_len);
	close(r.fd);
	if (ret) {
		drv_err(c, "%s: mmap of the doorbells: %s", path, strerror(-ret));
		return ret;
	}
	t->bar_map = p;
	c->doorbells = p;
	c->db_len = t->bar_len;
	if (di.num_regions > VNVME_TRACE_BAR)
		vu_map_trace(c, t, path);

	/* DMA memory: a memfd sealed against resizing, shared with the device. */
	t->memfd = memfd_create("vnvme-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (t->memfd < 0 || ftruncate(t->memfd, (off_t)c->dma_size) < 0)
		return -errno;
	fcntl(t->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	c->dma =
	    mmap(NULL, c->dma_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->memfd, 0);
	if (c->dma == MAP_FAILED) {
		c->dma = NULL;
		return -errno;
	}
	c->dma_iova = DMA_IOVA;
	ret = vu_client_dma_map(t->cl, DMA_IOVA, c->dma_size, t->memfd, 0,
				VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE);
	if (ret) {
		drv_err(c, "%s: DMA_MAP of %zu bytes: %s", path, c->dma_size, strerror(-ret));
		return ret;
	}
	return 0;
}
