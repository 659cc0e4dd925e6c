/* SPDX-License-Identifier: MIT */
/*
 * The PCI transport through vfio-pci (an IOMMU is needed: Debian's kernel has
 * no no-IOMMU mode). The device's IOMMU group goes into a type-1 container;
 * BAR0 is mmapped from the device fd; DMA memory is anonymous memory, 2 MiB
 * hugepages when there are some (fewer IOMMU pages, see below), mapped at
 * IOVA 0x100000000 with VFIO_IOMMU_MAP_DMA (contiguous in IOVA space, so no
 * root-only pagemap). Polled queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver/priv.h"

#define VFIO_DMA_IOVA 0x100000000ull

struct vfio_tr {
	struct drv_mmio mmio; /* first: see struct drv_mmio */
	int container, group, device;
	bool dma_mapped;
};

static int vfio_set_irq(struct vnvme_ctrl *c, uint16_t vec, int fd)
{
	(void)vec;
	if (fd < 0)
		return 0;
	drv_err(c, "the vfio-pci transport runs polled queues only (for now)");
	return -ENOTSUP;
}

static void vfio_close(struct vnvme_ctrl *c)
{
	struct vfio_tr *t = c->tr_priv;

	if (!t)
		return;
	if (t->dma_mapped) {
		struct vfio_iommu_type1_dma_unmap um = {
		    .argsz = sizeof(um), .iova = VFIO_DMA_IOVA, .size = c->dma_size};
		ioctl(t->container, VFIO_IOMMU_UNMAP_DMA, &um);
	}
	if (t->mmio.bar)
		munmap((void *)(uintptr_t)t->mmio.bar, t->mmio.len);
	if (c->dma)
		munmap(c->dma, c->dma_size);
	if (t->device >= 0)
		close(t->device);
	if (t->group >= 0)
		close(t->group);
	if (t->container >= 0)
		close(t->container);
	free(t);
	c->tr_priv = NULL;
}

static const struct drv_transport vfio_transport = {
    .reg_read = drv_mmio_reg_read,
    .reg_write = drv_mmio_reg_write,
    .set_irq = vfio_set_irq,
    .close = vfio_close,
};

int drv_vfio_open(struct vnvme_ctrl *c, const char *bdf, const char *dir)
{
	struct vfio_tr *t = calloc(1, sizeof(*t));
	struct vfio_group_status gs = {.argsz = sizeof(gs)};
	struct vfio_region_info ri = {.argsz = sizeof(ri)};
	struct vfio_iommu_type1_dma_map dm = {.argsz = sizeof(dm)};
	char path[200], link[160];
	const char *grp;
	uint16_t cmd;
	ssize_t n;

	if (!t)
		return -ENOMEM;
	t->container = t->group = t->device = -1;
	c->tr = &vfio_transport;
	c->tr_priv = t;
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		drv_err(c,
			"%s: no IOMMU group: vfio-pci needs an IOMMU (kernel intel_iommu=on; "
			"in QEMU -device intel-iommu); or use uio_pci_generic",
			bdf);
		return -ENODEV;
	}
	link[n] = '\0';
	grp = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	t->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (t->container < 0 || ioctl(t->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    !ioctl(t->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU)) {
		drv_err(
		    c,
		    "/dev/vfio/vfio: no type-1 IOMMU support (modprobe vfio-pci vfio_iommu_type1)");
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", grp);
	t->group = open(path, O_RDWR | O_CLOEXEC);
	if (t->group < 0 || ioctl(t->group, VFIO_GROUP_GET_STATUS, &gs) < 0) {
		drv_err(c, "%s: %s", path, strerror(errno));
		return -ENODEV;
	}
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		drv_err(c, "IOMMU group %s is not viable: bind every device in it to vfio-pci",
			grp);
		return -EBUSY;
	}
	if (ioctl(t->group, VFIO_GROUP_SET_CONTAINER, &t->container) < 0 ||
	    ioctl(t->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) {
		drv_err(c, "IOMMU group %s: cannot set up the container: %s", grp, strerror(errno));
		return -errno;
	}
	t->device = ioctl(t->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (t->device < 0) {
		drv_err(c, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", bdf, strerror(errno));
		return -errno;
	}
	/* Bus mastering and memory decoding, through the config region. */
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(t->device, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0 ||
	    pread(t->device, &cmd, 2, (off_t)ri.offset + 4) != 2)
		return -errno;
	cmd |= 0x6;
	if (pwrite(t->device, &cmd, 2, (off_t)ri.offset + 4) != 2)
		return -errno;
	ri = (struct vfio_region_info){.argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX};
	if (ioctl(t->device, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0 ||
	    !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || ri.size < 0x2000) {
		drv_err(c, "%s: BAR0 cannot be mmapped", bdf);
		return -ENODEV;
	}
	t->mmio.len = ri.size;
	void *bar = mmap(NULL, t->mmio.len, PROT_READ | PROT_WRITE, MAP_SHARED, t->device,
			 (off_t)ri.offset);
	if (bar == MAP_FAILED) {
		drv_err(c, "%s: mmap of BAR0: %s", bdf, strerror(errno));
		return -errno;
	}
	t->mmio.bar = bar;
	c->doorbells = (uint32_t *)bar + 0x1000 / 4;
	c->db_len = t->mmio.len - 0x1000;

	/* 2 MiB hugepages when there are some: an IOMMU then maps the memory
	 * with 2 MiB pages. Behind QEMU's emulated IOMMU every IOMMU page is a
	 * DMA map sent to a vfio-user device; 64 MiB in 4 KiB pages would be
	 * 16384 maps, past what a device accepts (vnvme-target: 4096). */
	size_t huge = (c->dma_size + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);

	c->dma = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (c->dma != MAP_FAILED) {
		c->dma_size = huge;
	} else {
		c->dma = mmap(NULL, c->dma_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (c->dma == MAP_FAILED) {
			c->dma = NULL;
			return -ENOMEM;
		}
	}
	dm.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	dm.vaddr = (uint64_t)(uintptr_t)c->dma;
	dm.iova = VFIO_DMA_IOVA;
	dm.size = c->dma_size;
	if (ioctl(t->container, VFIO_IOMMU_MAP_DMA, &dm) < 0) {
		drv_err(c, "VFIO_IOMMU_MAP_DMA of %zu MiB: %s (ulimit -l?)", c->dma_size >> 20,
			strerror(errno));
		return -errno;
	}
	t->dma_mapped = true;
	c->dma_iova = VFIO_DMA_IOVA;
	return 0;
}
