/* SPDX-License-Identifier: MIT */
/*
 * A tiny PCI device served over vfio-user, to prove every message end to end
 * before the NVMe controller exists, and to serve the protocol demo.
 *
 * BAR0 (4 KiB, by message): registers, see TD_REG_*.
 * BAR2 (8 KiB, 64-bit, memfd): page 0 by message only, page 1 sparse-mmapped
 *   shared memory: a doorbell page a polling thread watches (TD_DB_*).
 * BAR4 (4 KiB): MSI-X table (emulated by QEMU) and PBA.
 * Config space: 4 KiB, IDs 4e58:0fff, class ff0000, INTA pin, MSI-X cap.
 * IRQs: INTx 1, MSI 0, MSI-X 4, ERR 1, REQ 0.
 */
#ifndef VN_TESTS_TESTDEV_H
#define VN_TESTS_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "util/evloop.h"
#include "vu/server.h"

#define TD_VENDOR 0x4e58
#define TD_DEVICE 0x0fff

#define TD_BAR0_SIZE    4096
#define TD_BAR2_SIZE    8192
#define TD_BAR4_SIZE    4096
#define TD_MSIX_VECTORS 4

#define TD_REG_ID       0x000 /* RO: TD_ID */
#define TD_REG_SCRATCH  0x004 /* RW */
#define TD_REG_IRQ      0x008 /* W: raise MSI-X vector N; TD_IRQ_INTX raises INTx */
#define TD_REG_DMA_ADDR 0x010 /* RW 64-bit iova */
#define TD_REG_DMA_LEN  0x018 /* RW */
#define TD_REG_DMA_CMD  0x01c /* W: TD_DMA_SUM or TD_DMA_FILL */
#define TD_REG_DMA_STS  0x020 /* RO: 0 or an errno */
#define TD_REG_DMA_SUM  0x024 /* RO: byte sum of the last TD_DMA_SUM */
#define TD_REG_FILE     0x100 /* 256 bytes RW */
#define TD_ID           0x76755444u
#define TD_IRQ_INTX     0xffffffffu
#define TD_DMA_SUM      1u /* sum the bytes at DMA_ADDR */
#define TD_DMA_FILL     2u /* write (i + SCRATCH) & 0xff at DMA_ADDR */

/* Doorbell page: BAR2 offset 0x1000, shared memory polled by the device. */
#define TD_DB_PAGE     0x1000
#define TD_DB_DOORBELL 0x00 /* u32: client writes a new sequence number */
#define TD_DB_IOVA     0x08 /* u64: counter the device increments per ring */
#define TD_DB_DONE     0x10 /* u32: device writes the sequence number handled */
#define TD_DB_STATUS   0x14 /* u32: 0, or EFAULT if the iova was not mapped */
#define TD_DB_VECTOR   0x18 /* u32: MSI-X vector raised per ring, or ~0 */

struct testdev;

struct testdev_stats {
	uint64_t rings;
	uint64_t dma_faults;
	uint64_t resets;
	uint64_t unmaps;
	uint64_t sleeps;
	uint64_t failed; /* dma_fault calls: the device would fail */
};

/* poller: run the doorbell polling thread. */
int testdev_create(const char *path, struct vn_evloop *loop, bool poller, struct testdev **out);
/* The same, with the limits of `limits` (its reply_timeout_ms, txq_*,
 * max_dma_bytes; the other fields are ignored). */
int testdev_create_opts(const char *path, struct vn_evloop *loop, bool poller,
			const struct vu_server_opts *limits, struct testdev **out);
void testdev_destroy(struct testdev *t);
struct vu_server *testdev_server(struct testdev *t);
void testdev_get_stats(struct testdev *t, struct testdev_stats *out);

#endif
