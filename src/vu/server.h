/* SPDX-License-Identifier: MIT */
/*
 * vfio-user server: serves one emulated PCI device on one UNIX socket, one
 * client at a time, from a control event loop (util/evloop.h) that never runs
 * on a polling thread. Many servers share one loop: nothing a client does
 * blocks it (replies are queued, bounded, without blocking; see vu/conn.c).
 *
 * What the device model gets:
 *  - region access callbacks for REGION_READ/WRITE (already bounds-checked);
 *  - a DMA map (util/dma.h) its polling threads translate through without
 *    locks; map changes are QSBR-protected (util/qsbr.h);
 *  - vu_server_irq_trigger() to signal the client's eventfds from any thread;
 *  - a reset callback on DEVICE_RESET and on client disconnect.
 */
#ifndef VN_VU_SERVER_H
#define VN_VU_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/dma.h"
#include "util/evloop.h"
#include "util/qsbr.h"
#include "vu/proto.h"

#define VU_MAX_SPARSE 8

struct vu_region {
	uint64_t size;  /* 0: region absent (all access fails) */
	uint32_t flags; /* VU_REGION_F_READ | _WRITE | _MMAP */
	int fd;         /* for VU_REGION_F_MMAP: the client mmaps it */
	uint64_t fd_offset;
	uint32_t nr_sparse; /* 0 with MMAP: the whole region is mappable */
	struct vu_sparse_area sparse[VU_MAX_SPARSE];
};

enum vu_reset_reason {
	VU_RESET_DEVICE_RESET, /* VFIO_USER_DEVICE_RESET */
	VU_RESET_DISCONNECT,   /* the client left or crashed */
};

struct vu_device {
	const char *name; /* log prefix, e.g. "nvme0" */
	void *opaque;
	bool reset_supported;
	uint32_t num_regions; /* <= VU_PCI_NUM_REGIONS */
	struct vu_region regions[VU_PCI_NUM_REGIONS];
	uint32_t num_irqs; /* <= VU_PCI_NUM_IRQS */
	uint32_t irq_count[VU_PCI_NUM_IRQS];

	/* REGION_READ/WRITE: [off, off + count) is inside the region and the
	 * region allows the access. Return 0 or -errno (sent to the client). */
	int (*region_access)(void *opaque, uint32_t region, uint64_t off, void *buf, uint32_t count,
			     bool is_write);
	/* Optional. Called on the control thread. */
	void (*reset)(void *opaque, enum vu_reset_reason why);
	/* Optional: a mapping is about to go away (it is still valid now). */
	void (*dma_unmap)(void *opaque, uint64_t iova, uint64_t len);
	/* Optional: SET_IRQS changed the eventfds or masks of `index`. */
	void (*irqs_changed)(void *opaque, uint32_t index);
	/* Optional, on the control thread: the client truncated the memory
	 * behind [iova, iova + len) and the device touched it (SIGBUS,
	 * contained: the mapping is now inaccessible). The device should fail
	 * (NVMe: CSTS.CFS); the connection stays up. */
	void (*dma_fault)(void *opaque, uint64_t iova, uint64_t len);
};

/* Defaults of struct vu_server_opts (docs/vfio-user.md "Limits"). */
#define VU_DEFAULT_MAX_DMA_BYTES (128ull << 30) /* 256 controllers: 32 TiB of 128 */
#define VU_DEFAULT_TXQ_BYTES     (4u << 20)     /* four of the largest replies */
#define VU_DEFAULT_TXQ_MSGS      64
#define VU_DEFAULT_REPLY_TIMEOUT 5000 /* ms without progress on queued replies */

struct vu_server_opts {
	const char *path;       /* UNIX socket path */
	struct vn_evloop *loop; /* control loop that serves the socket */
	struct vn_qsbr *qsbr;   /* domain of the device's polling threads; NULL: none */
	const struct vu_device *dev;
	/* A client whose queued replies make no progress for this long is
	 * disconnected; 0: VU_DEFAULT_REPLY_TIMEOUT. */
	int reply_timeout_ms;
	/* Replies queued for a client that does not read, at most (0: the
	 * VU_DEFAULT_TXQ_* values); beyond, the client is disconnected. */
	uint32_t txq_max_msgs;
	size_t txq_max_bytes;
	/* Bytes the client may have DMA-mapped at once (0: the default,
	 * VU_DEFAULT_MAX_DMA_BYTES); DMA_MAP beyond fails with EDQUOT. */
	uint64_t max_dma_bytes;
};

struct vu_server_stats {
	uint64_t connections;
	uint64_t refused_busy;
	uint64_t msgs;
	uint64_t errors;
	uint64_t slow_disconnects; /* clients that did not read their replies */
	uint64_t dma_faults;       /* mappings truncated under the device */
	uint64_t accept_errors;    /* accept() failed (out of descriptors ...) */
};

struct vu_server;

/* Listen on opts->path. The device description is copied. */
int vu_server_create(const struct vu_server_opts *opts, struct vu_server **out);
/* Disconnect the client, unlink the socket, free. Safe from any thread. */
void vu_server_destroy(struct vu_server *s);

/* For tests and fuzzing: serve an already connected socket as the client. */
int vu_server_attach(struct vu_server *s, int fd);

bool vu_server_connected(struct vu_server *s);
const struct vn_dma *vu_server_dma(const struct vu_server *s);
void vu_server_get_stats(const struct vu_server *s, struct vu_server_stats *out);

/*
 * Signal interrupt `vec` of type `index` (VU_PCI_MSIX_IRQ ...). Lock-free,
 * callable from polling threads registered with the server's QSBR domain
 * (or from the control thread). Returns 1 if an eventfd was signalled, 0 if
 * the vector is masked (it becomes pending and fires on unmask) or has no
 * eventfd, -EINVAL for a vector out of range.
 */
int vu_server_irq_trigger(struct vu_server *s, uint32_t index, uint32_t vec);
/* Whether vector `vec` has an eventfd and is unmasked. */
bool vu_server_irq_enabled(struct vu_server *s, uint32_t index, uint32_t vec);

#endif
