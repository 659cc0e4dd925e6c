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
	uint32_t nsid; /* 1..NVME_MAX_NS; 0: its position in vnvme_dev_conf.ns + 1 */
	/* A device model (docs/models.md) as canonical JSON text, owned as
	 * be.path is (strdup'ed, freed with it); NULL: none. */
	const char *model;
};

struct vnvme_dev_conf {
	char socket[108];
	char serial[21];
	uint16_t vendor, device; /* PCI IDs; default 4e58:0001 */
	uint32_t queues;         /* I/O queue pairs */
	uint32_t qdepth;         /* entries per I/O queue, at most */
	uint32_t nr_ns;
	struct vnvme_ns_conf ns[NVME_MAX_NS]; /* nr_ns, in NSID order once running */
	unsigned first_poller;                /* this controller's queues start on this poller */
	uint64_t max_dma_bytes;               /* the client's DMA maps, at most; 0: the default */
	bool trace;    /* the trace table as BAR2 (include/vnvme/trace.h, docs/attribution.md) */
	bool sanitize; /* the host-protocol sanitizer (docs/sanitizer.md) */
};

struct vnvme_dev;

int vnvme_dev_create(const struct vnvme_dev_conf *conf, unsigned index, struct vn_evloop *loop,
		     struct vn_qsbr *qsbr, struct vn_poller **pollers, unsigned nr_pollers,
		     struct vnvme_dev **out, char *err, size_t errlen);
void vnvme_dev_destroy(struct vnvme_dev *d);

/*
 * Namespaces added to and removed from the running controller (control
 * thread): the host sees them come and go as under NVMe namespace
 * attachment (nvme_ctrl_ns_attach/detach). Add creates the backend and
 * attaches it at nsid, or at the lowest free NSID when nsid is 0 (ns->nsid
 * is not looked at), and says which in *out_nsid (may be NULL). Remove detaches, waits for the
 * namespace's I/O in flight, then destroys the backend. 0 or -errno with a
 * sentence in err.
 */
int vnvme_dev_ns_add(struct vnvme_dev *d, const struct vnvme_ns_conf *ns, uint32_t nsid,
		     uint32_t *out_nsid, char *err, size_t errlen);
int vnvme_dev_ns_remove(struct vnvme_dev *d, uint32_t nsid, char *err, size_t errlen);
/*
 * The device's configuration as it runs: its namespaces as added and
 * removed since, each with its NSID, in NSID order (file paths owned by the
 * device, valid until the namespace is removed). To save the running
 * configuration from. Control thread.
 */
const struct vnvme_dev_conf *vnvme_dev_conf(const struct vnvme_dev *d);
void vnvme_dev_print_stats(struct vnvme_dev *d, FILE *f);
struct nvme_ctrl *vnvme_dev_ctrl(struct vnvme_dev *d);
/* A vfio-user client is attached. */
bool vnvme_dev_connected(struct vnvme_dev *d);

#endif
