/* SPDX-License-Identifier: MIT */
/*
 * An emulated NVMe controller (NVMe Base 2.0, PCIe transport), independent of
 * how it is exposed: the target glues it to a vfio-user server (registers by
 * message, doorbells in shared memory, DMA map, MSI-X eventfds).
 *
 * Threads:
 *  - the control thread calls nvme_ctrl_reg_read/write and nvme_ctrl_reset;
 *  - polling threads (util/poller.h) run the queues: each completion queue,
 *    with the submission queues that post to it, belongs to one poller; the
 *    admin queue pair belongs to the controller's first poller.
 * The per-command path takes no lock, makes no syscall (null and ram
 * backends) and allocates nothing.
 */
#ifndef VN_NVME_H
#define VN_NVME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/backend.h"
#include "nvme/sanitize.h" /* the host-protocol sanitizer's counts and reports */
#include "util/dma.h"
#include "util/hist.h"
#include "util/poller.h"

struct vnvme_trace_rec;

#define NVME_MAX_NS      32
#define NVME_MAX_POLLERS 64
#define NVME_MAX_QUEUES  1024 /* I/O queue pairs per controller, at most */

struct nvme_model_conf;

struct nvme_ns_opts {
	uint32_t nsid;     /* 1..NVME_MAX_NS */
	uint32_t lba_size; /* 512 or 4096 */
	struct vn_be *be;  /* owned by the caller */
	/* A device model (nvme/model.h, checked), copied; NULL: none. */
	const struct nvme_model_conf *model;
};

struct nvme_ctrl_opts {
	const char *name; /* log prefix, e.g. "nvme0" */
	uint16_t cntlid;
	const char *serial; /* unique per controller (Linux rejects duplicates) */
	const char *model;
	uint16_t vid, ssvid;
	uint32_t max_ioqpairs; /* I/O SQ/CQ pairs granted, 1..NVME_MAX_QUEUES */
	uint32_t mqes;         /* entries per I/O queue, at most; 2..65536 */
	uint32_t nr_vectors;   /* MSI-X vectors */
	uint8_t mdts;          /* 2^mdts pages per command; 0: default 5 */
	bool sanitize;         /* check the host's use of the protocol (nvme/sanitize.h) */
	uint32_t nr_ns;
	struct nvme_ns_opts ns[NVME_MAX_NS];

	struct vn_poller **pollers; /* queues are spread over these */
	unsigned nr_pollers;
	const struct vn_dma *dma;
	/* Doorbell memory (BAR0 + 0x1000), 2 * (max_ioqpairs + 1) dwords,
	 * shared with the host; polled, never trapped. */
	uint32_t *doorbells;
	/* Raise MSI-X vector `iv`; called on polling threads. */
	void (*irq)(void *arg, uint16_t iv);
	void *irq_arg;
	/*
	 * The trace table's records (include/vnvme/trace.h): trace_entries (a
	 * power of 2, at least mqes) per SQID 0..max_ioqpairs, in memory the
	 * host may read. NULL: no tracing, and the fast path as without it.
	 */
	struct vnvme_trace_rec *trace;
	uint32_t trace_entries;
};

/* Size of the doorbell area for max_ioqpairs I/O queue pairs, in bytes. */
static inline uint64_t nvme_doorbell_bytes(uint32_t max_ioqpairs)
{
	return 8ull * (max_ioqpairs + 1);
}

struct nvme_ctrl;

/*
 * Errors by status, per queue: the first NVME_QSTAT_ERR_SLOTS distinct
 * statuses a queue completes with each get a slot for the queue's life
 * (typically all it ever sees: a host repeats its mistakes); statuses
 * beyond those count in err_other.
 */
#define NVME_QSTAT_ERR_SLOTS 8

struct nvme_queue_err {
	uint16_t status; /* SCT << 8 | SC (vnvme_spec_status_name() names it) */
	uint64_t count;
};

/* One submission queue's counters (nvme_ctrl_get_queue_stats), since the
 * queue was created or the last nvme_ctrl_reset_stats. */
struct nvme_queue_stats {
	uint16_t qid;      /* 0: the admin queue */
	uint16_t cqid;     /* the CQ it posts to */
	unsigned poller;   /* that CQ's polling thread, an index in the controller's */
	uint32_t size;     /* entries */
	uint32_t inflight; /* occupancy: commands fetched and not yet completed, now */
	uint64_t cmds, errors, bytes_read, bytes_written, read_cmds, write_cmds;
	/* Its CQ's: shared by the SQs of one CQ. */
	uint64_t irqs, polls, busy_polls;
	unsigned nr_err; /* entries of err[], count > 0 */
	struct nvme_queue_err err[NVME_QSTAT_ERR_SLOTS];
	uint64_t err_other;
	/* Service times in TSC ticks (vn_tsc_to_ns): from when the controller
	 * took a command from the SQ to when it posted its CQE, one sample per
	 * command; svc.count is the samples. The fast path (null and ram Read
	 * and Write) stamps per batch of up to 32 commands, not per command
	 * (queue.c, sq_process_io): an upper bound, by the batch's duration.
	 * Asynchronous Event Requests are not counted (they wait for an event,
	 * not for the device). */
	struct vn_hist svc;
};

struct nvme_ctrl_stats {
	uint64_t admin_cmds;
	uint64_t io_cmds, io_errors, bytes_read, bytes_written, irqs;
	uint32_t nr_io_sq, nr_io_cq;
	uint32_t csts;
	/* The I/O queues' service times (as nvme_queue_stats.svc), deleted
	 * queues' included; nvme_ctrl_get_stats only (not the baseline). */
	struct vn_hist svc;
};

int nvme_ctrl_create(const struct nvme_ctrl_opts *o, struct nvme_ctrl **out, const char **err);
/* Stops the queues first. */
void nvme_ctrl_destroy(struct nvme_ctrl *c);

/* Controller registers, BAR0 offsets 0x0..0xfff (doorbells are memory). */
int nvme_ctrl_reg_read(struct nvme_ctrl *c, uint64_t off, void *buf, uint32_t len);
int nvme_ctrl_reg_write(struct nvme_ctrl *c, uint64_t off, const void *buf, uint32_t len);

/* Back to the state after power-on: queues deleted, registers reset. For
 * vfio-user DEVICE_RESET and for a client that disconnected. */
void nvme_ctrl_reset(struct nvme_ctrl *c);
/* Controller Fatal Status (CSTS.CFS) until the next reset, from any thread:
 * for a failure outside the controller (the host's memory vanished). */
void nvme_ctrl_fatal(struct nvme_ctrl *c, const char *why);

/* Totals since creation or the last nvme_ctrl_reset_stats. Any thread. */
void nvme_ctrl_get_stats(struct nvme_ctrl *c, struct nvme_ctrl_stats *out);
/*
 * Up to max submission queues' counters into out[], by qid, the admin
 * queue first. Returns the count. Any thread (qlock, never waited for by a
 * poller's I/O path); the counters are read racily, a snapshot.
 */
int nvme_ctrl_get_queue_stats(struct nvme_ctrl *c, struct nvme_queue_stats *out, unsigned max);
/* Counters read as zero from now on (controller totals and per queue).
 * Takes a baseline: the pollers' counters are never written from here. The
 * host's view (SMART log) is not affected. */
void nvme_ctrl_reset_stats(struct nvme_ctrl *c);
/* One line per I/O queue, for SIGUSR1 and exit reports. */
void nvme_ctrl_print_stats(struct nvme_ctrl *c, FILE *f);

const char *nvme_ctrl_name(const struct nvme_ctrl *c);

/*
 * Namespace management on a live controller, as a device under NVMe
 * namespace attachment behaves (NVMe Base 2.0c §8.11 "Namespace
 * Management"): control thread only, while the pollers run I/O.
 *
 * Attach: o->nsid 1..NVME_MAX_NS, not attached; o->be stays the caller's
 * and must outlive the attachment. Detach: commands that look the NSID up
 * afterwards complete with Invalid Namespace or Format; those in flight
 * complete first (returns once no poller holds the namespace), so the
 * caller may then destroy the backend. -EBUSY when its I/O did not drain
 * within 10 s, or at once with I/O in flight on a controller in fatal state
 * (CSTS.CFS, until a reset): the host no longer sees it, but the backend
 * must stay; detach again later (after the reset), or destroy the
 * controller first.
 * Either way the host gets a Namespace Attribute Changed event (if Feature
 * 0Bh enables it) and the NSID in the Changed Namespace List log.
 * Return 0 or -errno, with a sentence in *err.
 */
int nvme_ctrl_ns_attach(struct nvme_ctrl *c, const struct nvme_ns_opts *o, const char **err);
int nvme_ctrl_ns_detach(struct nvme_ctrl *c, uint32_t nsid, const char **err);

#endif
