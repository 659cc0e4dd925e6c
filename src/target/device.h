/* SPDX-License-Identifier: MIT */
/* An NVMe controller served as a vfio-user PCI device: the glue between
 * src/vu (the protocol) and src/nvme (the controller). */
#ifndef VN_TARGET_DEVICE_H
#define VN_TARGET_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"
#include "nvme/nvme.h"
#include "util/evloop.h"
#include "util/poller.h"
#include "util/qsbr.h"

struct vnvme_ns_conf {
	struct vn_be_opts be;
	uint32_t lba_size;
};

struct vnvme_dev_conf {
	char socket[108];
	char serial[21];
	uint16_t vendor, device; /* PCI IDs; default 4e58:0001 */
	uint32_t queues;         /* I/O queue pairs */
	uint32_t qdepth;         /* entries per I/O queue, at most */
	uint32_t nr_ns;
	struct vnvme_ns_conf ns[NVME_MAX_NS];
	unsigned first_poller;  /* this controller's queues start on this poller */
	uint64_t max_dma_bytes; /* the client's DMA maps, at most; 0: the default */
};

struct vnvme_dev;

int vnvme_dev_create(const struct vnvme_dev_conf *conf, unsigned index, struct vn_evloop *loop,
		     struct vn_qsbr *qsbr, struct vn_poller **pollers, unsigned nr_pollers,
		     struct vnvme_dev **out, char *err, size_t errlen);
void vnvme_dev_destroy(struct vnvme_dev *d);
void vnvme_dev_print_stats(struct vnvme_dev *d, FILE *f);
struct nvme_ctrl *vnvme_dev_ctrl(struct vnvme_dev *d);
/* A vfio-user client is attached. */
bool vnvme_dev_connected(struct vnvme_dev *d);

#endif
