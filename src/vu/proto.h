/* SPDX-License-Identifier: MIT */
/*
 * vfio-user wire format, written from QEMU's docs/interop/vfio-user.rst
 * (protocol version 0.1) and <linux/vfio.h> for the shared structures.
 * All fields are host (little) endian. Offsets below are from the start of
 * the payload, i.e. after the 16-byte header, as in the specification.
 */
#ifndef VN_VU_PROTO_H
#define VN_VU_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define VU_VERSION_MAJOR 0
#define VU_VERSION_MINOR 1

/* vfio-user.rst "Commands" */
enum vu_cmd {
	VU_CMD_VERSION = 1,
	VU_CMD_DMA_MAP = 2,
	VU_CMD_DMA_UNMAP = 3,
	VU_CMD_DEVICE_GET_INFO = 4,
	VU_CMD_DEVICE_GET_REGION_INFO = 5,
	VU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VU_CMD_DEVICE_SET_IRQS = 8,
	VU_CMD_REGION_READ = 9,
	VU_CMD_REGION_WRITE = 10,
	VU_CMD_DMA_READ = 11,
	VU_CMD_DMA_WRITE = 12,
	VU_CMD_DEVICE_RESET = 13,
	VU_CMD_DIRTY_PAGES = 14,
	VU_CMD_REGION_WRITE_MULTI = 15,
	VU_CMD_DEVICE_FEATURE = 16,
	VU_CMD_MIG_DATA_READ = 17,
	VU_CMD_MIG_DATA_WRITE = 18,
	VU_CMD_MAX,
};

/* vfio-user.rst "Header" */
struct vu_hdr {
	uint16_t id;
	uint16_t cmd;
	uint32_t size; /* whole message, header included */
	uint32_t flags;
	uint32_t error; /* positive errno, valid when VU_F_ERROR */
};
_Static_assert(sizeof(struct vu_hdr) == 16, "vfio-user header is 16 bytes");

#define VU_F_TYPE_MASK  0xfu
#define VU_F_TYPE_CMD   0x0u
#define VU_F_TYPE_REPLY 0x1u
#define VU_F_NO_REPLY   (1u << 4)
#define VU_F_ERROR      (1u << 5)

/* VFIO_USER_VERSION: followed by optional NUL-terminated JSON */
struct vu_version {
	uint16_t major;
	uint16_t minor;
	/* char data[] */
};
_Static_assert(sizeof(struct vu_version) == 4, "version payload");

/* VFIO_USER_DMA_MAP */
struct vu_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset;
	uint64_t addr;
	uint64_t size;
};
_Static_assert(sizeof(struct vu_dma_map) == 32, "dma map payload");
_Static_assert(offsetof(struct vu_dma_map, addr) == 16, "dma map addr");
#define VU_DMA_MAP_F_READ  (1u << 0)
#define VU_DMA_MAP_F_WRITE (1u << 1)

/* VFIO_USER_DMA_UNMAP */
struct vu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
_Static_assert(sizeof(struct vu_dma_unmap) == 24, "dma unmap payload");
#define VU_DMA_UNMAP_F_GET_DIRTY_BITMAP (1u << 0)
#define VU_DMA_UNMAP_F_ALL              (1u << 1)

/* VFIO_USER_DEVICE_GET_INFO */
struct vu_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};
_Static_assert(sizeof(struct vu_device_info) == 16, "device info payload");
#define VU_DEV_F_RESET (1u << 0)
#define VU_DEV_F_PCI   (1u << 1)

/* VFIO_USER_DEVICE_GET_REGION_INFO (struct vfio_region_info) */
struct vu_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct vu_region_info) == 32, "region info payload");
#define VU_REGION_F_READ  (1u << 0)
#define VU_REGION_F_WRITE (1u << 1)
#define VU_REGION_F_MMAP  (1u << 2)
#define VU_REGION_F_CAPS  (1u << 3)

/* struct vfio_info_cap_header */
struct vu_cap_hdr {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};
_Static_assert(sizeof(struct vu_cap_hdr) == 8, "cap header");
#define VU_CAP_SPARSE_MMAP 1

struct vu_sparse_area {
	uint64_t offset;
	uint64_t size;
};
_Static_assert(sizeof(struct vu_sparse_area) == 16, "sparse area");

struct vu_cap_sparse_mmap {
	struct vu_cap_hdr hdr;
	uint32_t nr_areas;
	uint32_t rsvd;
	/* struct vu_sparse_area areas[] */
};
_Static_assert(sizeof(struct vu_cap_sparse_mmap) == 16, "sparse mmap cap");

/* VFIO_USER_DEVICE_GET_IRQ_INFO (struct vfio_irq_info) */
struct vu_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
_Static_assert(sizeof(struct vu_irq_info) == 16, "irq info payload");
#define VU_IRQ_INFO_EVENTFD    (1u << 0)
#define VU_IRQ_INFO_MASKABLE   (1u << 1)
#define VU_IRQ_INFO_AUTOMASKED (1u << 2)
#define VU_IRQ_INFO_NORESIZE   (1u << 3)

/* VFIO_USER_DEVICE_SET_IRQS (struct vfio_irq_set) */
struct vu_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	/* uint8_t data[] for DATA_BOOL */
};
_Static_assert(sizeof(struct vu_irq_set) == 20, "irq set payload");
#define VU_IRQ_SET_DATA_NONE       (1u << 0)
#define VU_IRQ_SET_DATA_BOOL       (1u << 1)
#define VU_IRQ_SET_DATA_EVENTFD    (1u << 2)
#define VU_IRQ_SET_DATA_MASK       0x7u
#define VU_IRQ_SET_ACTION_MASK     (1u << 3)
#define VU_IRQ_SET_ACTION_UNMASK   (1u << 4)
#define VU_IRQ_SET_ACTION_TRIGGER  (1u << 5)
#define VU_IRQ_SET_ACTION_MASK_ALL 0x38u

/* VFIO_USER_REGION_READ / _WRITE */
struct vu_region_rw {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* uint8_t data[] */
};
_Static_assert(sizeof(struct vu_region_rw) == 16, "region rw payload");

/* VFIO_USER_DMA_READ / _WRITE (specification layout) */
struct vu_dma_rw {
	uint64_t addr;
	uint64_t count;
	/* uint8_t data[] */
};
_Static_assert(sizeof(struct vu_dma_rw) == 16, "dma rw payload");

/* PCI region and IRQ indices (<linux/vfio.h>) */
enum {
	VU_PCI_BAR0_REGION = 0,
	VU_PCI_BAR5_REGION = 5,
	VU_PCI_ROM_REGION = 6,
	VU_PCI_CONFIG_REGION = 7,
	VU_PCI_VGA_REGION = 8,
	VU_PCI_NUM_REGIONS = 9,
};

enum {
	VU_PCI_INTX_IRQ = 0,
	VU_PCI_MSI_IRQ = 1,
	VU_PCI_MSIX_IRQ = 2,
	VU_PCI_ERR_IRQ = 3,
	VU_PCI_REQ_IRQ = 4,
	VU_PCI_NUM_IRQS = 5,
};

/* Limits this implementation advertises and enforces. */
#define VU_MAX_MSG_FDS       16 /* QEMU's client refuses more than 16 */
#define VU_MAX_DATA_XFER     (1u << 20)
#define VU_MAX_MSG_SIZE      (sizeof(struct vu_hdr) + sizeof(struct vu_region_rw) + VU_MAX_DATA_XFER)
#define VU_MAX_DMA_MAPS      4096 /* each change copies the table: keep it O(small) */
#define VU_PGSIZES           4096
#define VU_MAX_VERSION_JSON  4096 /* we read no longer capability strings */
#define VU_MAX_IRQS_PER_TYPE 2048 /* MSI-X allows at most 2048 vectors */

#endif
