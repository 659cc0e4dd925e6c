/* SPDX-License-Identifier: MIT */
/* Controller internals shared by ctrl.c, queue.c, dptr.c, admin.c, io.c. */
#ifndef VN_NVME_PRIV_H
#define VN_NVME_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme/model.h"
#include "nvme/nvme.h"
#include "nvme/sanitize.h"
#include "util/compiler.h"
#include "util/hist.h"
#include "util/log.h"
#include "util/tsc.h"
#include "vnvme/spec.h"
#include "vnvme/trace.h"

#define NVME_ADMIN_QSIZE_MAX 4096
#define NVME_MAX_IOV         40 /* 2^MDTS pages + 1 for an offset, merged when contiguous */
#define NVME_SQ_BATCH        32 /* SQEs fetched per queue per round */
#define NVME_STAGE_MAX       64 /* ram I/Os staged per SQ: a batch plus the lag, power of 2 */
#define NVME_STAGE_LAG       4  /* staged ram I/Os left for the next round while more arrive */
/* How long a queue waits for its unmapped memory to come back (cq_unmapped). */
#define NVME_UNMAPPED_GRACE_NS 1000000000ull
#define NVME_AERL              3 /* 0's based: 4 Asynchronous Event Requests outstanding */
#define NVME_ERRLOG_ENTRIES    64
#define NVME_PAGE_SHIFT        12 /* CAP.MPSMIN = MPSMAX = 0: 4 KiB pages */
#define NVME_PAGE_SIZE         (1u << NVME_PAGE_SHIFT)
/*
 * The work one SGL may cost (dptr.c): descriptors read, of every type and
 * the SQE's included, and segments entered. A segment list longer than the
 * descriptors left is refused before it is read, so a command reads at most
 * NVME_SGL_MAX_DESC x 16 bytes of lists. Linux puts up to 128 data
 * descriptors in one segment, SPDK up to 250: both fit. Beyond either
 * bound: Invalid Number of SGL Descriptors.
 */
#define NVME_SGL_MAX_DESC 512
#define NVME_SGL_MAX_SEGS 64

struct nvme_ctrl;
struct nvme_cq;
struct nvme_san_q;

struct nvme_ns {
	uint32_t nsid;
	uint8_t lbads;
	uint32_t lba_size; /* 1 << lbads */
	uint64_t nlb;      /* namespace size in logical blocks */
	struct vn_be *be;
	uint8_t *mem;      /* ram (VN_BE_DIRECT_MEM): the namespace's bytes; else NULL */
	uint64_t mem_size; /* ... and how many: fixed, whatever the LBA format */
	struct vn_be_chan *chan[NVME_MAX_POLLERS]; /* one per poller */
	uint8_t nguid[16];
	uint8_t eui64[8];
	/* The device model (model.h), or NULL: then Read and Write may take the
	 * fast path (ctrl->fast_ns); with one, every command takes the general
	 * path and may be held (nvme_req.hold). */
	struct nvme_model *model;
};

/* One command in flight. Owned by its SQ; slots are preallocated. */
struct nvme_req {
	struct vn_be_io io;
	struct nvme_sq *sq;
	struct nvme_ns *ns;
	uint16_t cid;
	uint8_t opc;
	uint8_t dsm_flags;    /* DSM: the SQE's flags (PSDT: PRPs or SGL) */
	uint16_t dsm_nr;      /* DSM: ranges in the list */
	uint16_t dsm_left;    /* DSM: ranges still to deallocate */
	uint64_t dsm_dptr[2]; /* DSM: the range list's data pointer (PRP1/2 or SGL1) */
	uint8_t dsm_fua;      /* DSM: VN_BE_FUA for each deallocation */
	uint32_t nsid;        /* the command's, and the LBA it failed at: for the error log */
	uint64_t slba;
	uint64_t tsc;             /* taken from the SQ: its batch's stamp (nvme_sq.t_batch) */
	uint64_t t_fetch, t_done; /* trace: TSC stamps (nvme_sq.trace set) */
	/*
	 * A model's delay (ns->model): when hold is set, nvme_req_complete
	 * keeps the completion (status and dw0) in the SQ's heap (nvme_sq.held)
	 * until due = max(completion + hold_delay, hold_nb), TSC ticks.
	 */
	bool hold;
	vnvme_status hold_st;
	uint32_t hold_dw0;
	uint64_t hold_delay, hold_nb, due;
	struct iovec iov[NVME_MAX_IOV];
};

/*
 * A ram Read or Write that passed every check and waits, its memory
 * prefetched, to be copied and completed (queue.c, sq_drain).
 */
struct nvme_stage {
	uint8_t *host; /* the host's buffer; NULL once its mapping is gone */
	uint8_t *mem;  /* the namespace's bytes */
	uint64_t iova; /* PRP1, to translate again after a DMA map change */
	uint32_t len;
	uint16_t cid;
	uint8_t write;
	uint8_t rsvd;
};

/* Counter index: Read and Compare are reads, Write and Write Zeroes writes. */
enum { NVME_DIR_READ = 0, NVME_DIR_WRITE = 1 };

struct nvme_sq {
	/* Hot: the owning poller only. */
	VN_CACHE_ALIGNED struct vnvme_sqe *ring;
	uint32_t *db;           /* tail doorbell */
	uint32_t *shadow;       /* shadow tail doorbell (Doorbell Buffer Config), or NULL */
	uint32_t *ei;           /* its EventIdx */
	struct nvme_san_q *san; /* the sanitizer's state (sanitize.c), or NULL */
	/* Sizes up to 65536 entries (CAP.MQES 0xffff): 32 bits, as are the
	 * indices, so that every legal size fits and no ring is 0 bytes. */
	uint32_t head;
	uint32_t size;
	uint16_t qid;
	uint16_t cqid;
	uint32_t inflight; /* fetched, not yet completed */
	struct nvme_cq *cq;
	struct nvme_sq *next;           /* in cq->sqs */
	const struct vn_dma_table *tbl; /* ring translated with this table */
	struct nvme_req *reqs;          /* anonymous mapping of reqs_len bytes (reqs_map) */
	size_t reqs_len;
	uint16_t *free;
	uint32_t nfree;
	uint32_t rsvd;
	/*
	 * The DMA region the fast path used last (sq_dma_refill): a read-write
	 * mapping of tbl, so valid as long as the ring is; dc_len 0 when empty.
	 */
	uint64_t dc_iova, dc_len;
	uint8_t *dc_vaddr;
	struct nvme_stage *stage; /* ring of NVME_STAGE_MAX */
	uint32_t st_head, st_n;
	/* Completions a model holds back (nvme_req.hold): a min-heap of request
	 * slot indices by due time, nheld of them (size entries at most). */
	uint16_t *held;
	uint32_t nheld;
	/*
	 * The fast path's command kind of last time (sq_fast_kind): the first
	 * qword of a Read SQE (opcode 02h, flags 0, CID 0, NSID) and its
	 * namespace. A Write's is the same but for the opcode, 01h = 02h ^ 3.
	 */
	uint64_t fk_read;
	const struct nvme_ns *fk_ns;
	/*
	 * Service time (queue.c, "Service time"): from when a command is taken
	 * from the SQ to when its CQE is posted, in TSC ticks, one sample per
	 * command. t_batch: vn_tsc() when the current batch was taken, every
	 * command's stamp. Staged ram I/Os: the first st_old of them carry the
	 * stamp st_tsc (an earlier batch), the rest t_batch. The histogram
	 * (svc) is an anonymous mapping (svc_map): its pages cost nothing until
	 * a bucket on them counts. Single writer (the poller); svc_gen is the
	 * ctrl->stats_gen it was last cleared for (nvme_ctrl_reset_stats).
	 */
	uint64_t t_batch;
	uint64_t st_tsc;
	uint32_t st_old;
	uint32_t svc_gen;
	struct vn_hist *svc;
	/* The trace table's records of this SQ (nvme_ctrl_opts.trace), indexed
	 * by CID & trace_mask; NULL when off. On, null namespaces' Reads and
	 * Writes write theirs on the fast path (queue.c, trace_fast), the rest
	 * on the general way. */
	struct vnvme_trace_rec *trace;
	uint32_t trace_mask;
	uint64_t tr_fetch; /* the fast path's fetch stamp of its current run */
	/* Counters: single writer (the poller). By direction (NVME_DIR_*):
	 * SMART's host read and write commands and the bytes moved. */
	uint64_t cmds, errors;
	uint64_t dir_cmds[2], dir_bytes[2];

	/* Set once at creation. */
	struct nvme_ctrl *ctrl;
	uint64_t iova;
	uint16_t qprio;
	uint32_t serial; /* unique per controller: the statistics' baselines follow it */

	/*
	 * Errors by status (cq_post's error branch, cold): the first
	 * NVME_QSTAT_ERR_SLOTS distinct statuses (SCT and SC) each get a slot
	 * for the queue's life, the rest count in err_other. Single writer
	 * (the poller): err_sts[i] is stored before err_cnt[i] first leaves 0.
	 */
	uint16_t err_sts[NVME_QSTAT_ERR_SLOTS];
	uint64_t err_cnt[NVME_QSTAT_ERR_SLOTS];
	uint64_t err_other;

	/* Deletion handshake: the admin poller sets deleting; the owning
	 * poller stops fetching, waits for inflight == 0, unlinks and sets
	 * gone. */
	VN_CACHE_ALIGNED uint32_t deleting;
	uint32_t gone;
};

struct nvme_cq {
	struct vn_pollable pl;
	/* Hot: the owning poller only. */
	VN_CACHE_ALIGNED struct vnvme_cqe *ring;
	uint32_t *db;     /* head doorbell */
	uint32_t *shadow; /* shadow head doorbell, or NULL */
	uint32_t *ei;
	struct nvme_san_q *san; /* the sanitizer's state (sanitize.c), or NULL */
	uint32_t dbbuf_gen;     /* ctrl->dbbuf_gen this CQ's shadows follow */
	uint32_t tail;
	uint32_t head; /* cached; re-read only when the ring looks full */
	uint32_t size; /* 2..65536: 32 bits (see nvme_sq) */
	uint16_t qid;
	uint8_t phase;
	bool ien;
	uint16_t iv;
	uint32_t inflight; /* commands fetched for this CQ, not yet posted */
	uint32_t nheld;    /* its SQs' held completions (nvme_sq.held) */
	uint32_t irq_pending;
	uint64_t irq_since;      /* interrupt coalescing: first pending completion, ns */
	uint64_t unmapped_since; /* ns: our memory left the DMA table (cq_unmapped) */
	struct nvme_sq *sqs;
	const struct vn_dma_table *tbl;
	unsigned poller; /* index in ctrl->pollers */
	uint64_t irqs;
	uint64_t polls, busy_polls; /* rounds this CQ was polled / found work */

	/* Set once at creation. */
	struct nvme_ctrl *ctrl;
	uint64_t iova;
	uint32_t serial; /* as nvme_sq's */

	VN_CACHE_ALIGNED uint32_t stopping; /* set by other threads */
	uint32_t attached;
	uint32_t gone;
};

/* An admin command whose completion waits for another thread, or for its
 * backend I/O (Format NVM's erase). */
struct nvme_pending {
	bool active;
	bool done; /* Format NVM: finished, with status st */
	uint16_t cid;
	uint8_t opc;
	vnvme_status st;
	uint64_t tsc;       /* taken from the admin SQ: for its service time */
	struct nvme_sq *sq; /* Delete SQ */
	struct nvme_cq *cq; /* Delete CQ */
};

/* Format NVM between its steps (admin.c): the namespaces still to do. */
struct nvme_format {
	uint32_t nsid, last;
	uint8_t lbads; /* the new LBA format */
	bool erase;    /* Secure Erase Settings: user data erase */
	bool erased;   /* nsid's erase is done */
};

struct nvme_features {
	uint32_t arbitration;
	uint32_t power_mgmt;
	uint16_t temp_over[9]; /* per TMPSEL: composite and 8 sensors */
	uint16_t temp_under[9];
	uint32_t error_recovery;
	uint32_t vwc;
	uint32_t nq; /* granted NSQR/NCQR, 0's based, as returned */
	bool nq_set;
	uint32_t irq_coalescing;
	uint32_t write_atomicity;
	uint32_t aec;
	uint32_t sw_progress;
	uint64_t timestamp_ms;     /* host-set time ... */
	uint64_t timestamp_set_ns; /* ... at this monotonic time */
	bool timestamp_set;
	uint32_t *ivc; /* per vector: coalescing disable bit */
};

struct nvme_ctrl {
	struct nvme_ctrl_opts o;
	char name[32];
	char serial[21];
	char model[41];
	uint8_t mdts;

	/* Registers: written by the control thread; csts also by pollers
	 * (CFS), hence atomic. */
	uint64_t cap;
	uint32_t vs;
	uint32_t intms;
	uint32_t cc;
	uint32_t csts;
	uint32_t aqa;
	uint32_t aqa_raw; /* as the host wrote it, reserved bits included (sanitizer) */
	uint64_t asq, acq;
	bool enabled;

	/*
	 * Namespaces, attached and detached on the control thread while the
	 * pollers run (nvme_ctrl_ns_attach/detach). A pointer is published with
	 * a release store once the namespace is complete and read with
	 * ns_get() (acquire: a plain load on x86); detaching clears it, then
	 * waits until no poller holds the namespace (ctrl.c, ns_drain) before
	 * freeing it. A poller holds one only within a poll round, but for
	 * what it left in flight: backend I/O on its channel, ram I/O staged
	 * (nvme_stage), the fast path's kind (nvme_sq.fk_ns).
	 */
	struct nvme_ns *ns[NVME_MAX_NS + 1]; /* by nsid: the active ones */
	uint32_t nn;                         /* Identify NN: NVME_MAX_NS, fixed */
	bool async_ns;                       /* a namespace completes through vn_be_poll (file) */
	/* By nsid, the namespaces whose Read/Write run inline (null, ram). */
	struct nvme_ns *fast_ns[NVME_MAX_NS + 1];
	/* By nsid, the namespaces whose backend channels the pollers reap and
	 * flush: the active ones, and a detached one until its I/O is done. */
	struct nvme_ns *io_ns[NVME_MAX_NS + 1];
	uint32_t ns_hi; /* the highest NSID ever attached: loops over io_ns stop there */
	/* Changed Namespace List (log 04h): bit nsid - 1, set by the control
	 * thread, taken by Get Log Page on the admin poller (atomics). */
	uint64_t ns_changed;

	/* Queues: created and deleted by the admin poller (or the control
	 * thread while the admin queue is stopped). Whoever stores or clears a
	 * pointer here, or folds a deleted queue's counters into gone_*, holds
	 * qlock; so does a reader on another thread (the statistics), which
	 * then may dereference what it finds until it lets go. Never taken on
	 * the I/O path, and held only for copies, never while waiting. */
	pthread_mutex_t qlock;
	struct nvme_sq **sqs; /* by qid, 0 = admin */
	struct nvme_cq **cqs;
	uint32_t next_poller;

	/* Admin state: admin poller only. */
	struct nvme_features feat;
	struct nvme_pending pending;
	struct nvme_format fmt;
	/*
	 * The backend I/O of an admin command (Format's erase), on the admin
	 * poller's channel: reaped with that poller's other I/O and told apart
	 * by its NULL sq (nvme_io_done). The admin CQ stops only once none is
	 * in flight.
	 */
	struct nvme_req admin_req;
	uint32_t admin_io_inflight;
	uint16_t aer_cids[NVME_AERL + 1];
	unsigned aer_count;
	uint32_t aen_pending[8]; /* queued events (dw0), FIFO */
	unsigned aen_count;
	uint32_t aen_masked; /* event types awaiting a Get Log Page with RAE=0 */
	struct vnvme_error_log_entry errlog[NVME_ERRLOG_ENTRIES];
	uint64_t error_count;
	uint64_t media_errors; /* SMART: completions with media status 80h..84h */
	uint64_t admin_cmds;
	/* Counters of deleted I/O queues, so totals survive queue deletion. */
	uint64_t gone_cmds, gone_errors, gone_bytes_read, gone_bytes_written, gone_irqs;
	uint64_t gone_read_cmds, gone_write_cmds;
	/* Their service times since the last reset (under qlock, both ways:
	 * only nvme_queue_retire and nvme_ctrl_reset_stats write it). */
	struct vn_hist *gone_svc;
	uint64_t power_on_ns;
	uint64_t unsafe_shutdowns;

	/*
	 * Statistics baselines (nvme_ctrl_reset_stats): what the counters read
	 * at the last reset, subtracted at read time, so that no thread but a
	 * counter's poller ever writes it. Under qlock. Per qid, valid while
	 * the queue's serial matches.
	 */
	struct nvme_qstat_base *qbase;
	struct nvme_ctrl_stats base_tot;
	uint32_t q_serial; /* the last serial given to a queue */
	/*
	 * The histograms are not baselined (8 KiB a queue to copy and keep):
	 * a reset bumps stats_gen instead, and each SQ's poller clears its own
	 * histogram when it next records and finds it changed (queue.c,
	 * svc_add: one load per batch). Until then readers take an SQ whose
	 * svc_gen differs for empty. Written under qlock; read by pollers.
	 */
	uint32_t stats_gen;

	/* Doorbell Buffer Config (§5.8): set by the admin poller, followed by
	 * every CQ's poller when dbbuf_gen changes. */
	uint64_t dbbuf_iova, ei_iova; /* 0: not configured */
	uint32_t dbbuf_gen;

	/* Raised by I/O pollers, consumed by the admin poller. */
	VN_CACHE_ALIGNED uint32_t aen_raise; /* bitmask of NVME_AEN_* */

	struct nvme_san *san; /* the sanitizer (sanitize.c), or NULL when off */

	struct vn_ratelimit rl; /* pollers' guest warnings */
	struct vn_ratelimit
	    rl_cc; /* the control thread's CC lines: a host may toggle CC.EN in a loop */
};

/* Events pollers and the control thread raise for the admin poller (bits
 * of aen_raise). */
#define NVME_AEN_INVALID_DB (1u << 0)
#define NVME_AEN_NS_CHANGED (1u << 1) /* a namespace was attached or detached */

_Static_assert(NVME_MAX_NS <= 64, "ns_changed holds one bit per NSID");

/* The namespace nsid (1..NVME_MAX_NS) names, or NULL when it is inactive.
 * Pairs with the release store that publishes it (ctrl.c, ns_publish):
 * its fields are complete once the pointer is seen. */
static inline struct nvme_ns *ns_get(const struct nvme_ctrl *c, uint32_t nsid)
{
	return vn_load_acquire(&c->ns[nsid]);
}

/* One queue's counters at the last nvme_ctrl_reset_stats (ctrl.c). */
struct nvme_qstat_base {
	uint32_t sq_serial, cq_serial; /* 0: none */
	uint64_t cmds, errors, bytes_read, bytes_written, read_cmds, write_cmds;
	uint64_t err_cnt[NVME_QSTAT_ERR_SLOTS], err_other;
	uint64_t irqs, polls, busy_polls;
};

/* status.c */
const char *nvme_status_name(vnvme_status s);
vnvme_status nvme_status_from_errno(int err);
/* A status with DNR decided per status (status.c: set only where a retry
 * cannot succeed). Errors only: cold. */
vnvme_status nvme_status(unsigned sct, unsigned sc);
#define NVME_OK ((vnvme_status){0})
static inline vnvme_status nvme_sc(unsigned sc)
{
	return nvme_status(VNVME_SCT_GENERIC, sc);
}
static inline vnvme_status nvme_sc_cmd(unsigned sc)
{
	return nvme_status(VNVME_SCT_CMD_SPECIFIC, sc);
}
static inline vnvme_status nvme_sc_media(unsigned sc)
{
	return nvme_status(VNVME_SCT_MEDIA, sc);
}
/* A status handler return that means "completes later". */
#define NVME_PENDING ((vnvme_status){0xffff})
static inline bool nvme_is_pending(vnvme_status s)
{
	return s.v == 0xffff;
}

/* dptr.c: a data pointer refused with status sc (generic), and for the
 * sanitizer the field at fault, its value and what the spec allows
 * (nvme_dptr_fault). Cold. */
vnvme_status nvme_dptr_refuse(unsigned sc, const char *field, uint64_t val, const char *rule);
#define NVME_DPTR_NOT_MAPPED "not inside one of the host's DMA maps allowing the access"
/* dptr.c: map the command's data pointer (PRP or SGL) for len bytes. */
vnvme_status nvme_dptr_map(const struct vn_dma_table *t, const struct vnvme_sqe *sqe, uint64_t len,
			   uint32_t prot, struct iovec *iov, unsigned *iovcnt, unsigned max_iov,
			   bool sgl_ok);
/* Copy between a flat buffer and the command's data (admin data in and out,
 * DSM's range list); sgl_ok: an I/O command, which may use SGLs. */
vnvme_status nvme_dptr_copy_out(const struct vn_dma_table *t, const struct vnvme_sqe *sqe,
				const void *buf, uint64_t len, bool sgl_ok);
vnvme_status nvme_dptr_copy_in(const struct vn_dma_table *t, const struct vnvme_sqe *sqe, void *buf,
			       uint64_t len, bool sgl_ok);

/* queue.c */
unsigned nvme_cq_poll(struct vn_pollable *pl);
/* Clear sq's histogram for statistics generation gen (its poller; cold). */
void nvme_svc_reset(struct nvme_sq *sq, uint32_t gen);
/* n commands of sq completed, each ticks after it was taken (its poller).
 * The generation check is a load of a line the pollers only read. */
static inline void nvme_svc_add(struct nvme_sq *sq, uint64_t ticks, uint64_t n)
{
	uint32_t gen = vn_load_relaxed(&sq->ctrl->stats_gen);

	if (unlikely(gen != sq->svc_gen))
		nvme_svc_reset(sq, gen);
	vn_hist_add_n(sq->svc, ticks, n);
}
void nvme_cq_post(struct nvme_cq *cq, struct nvme_sq *sq, uint16_t cid, vnvme_status st,
		  uint32_t dw0);
void nvme_req_complete(struct nvme_req *r, vnvme_status st, uint32_t dw0);
int nvme_sq_create(struct nvme_ctrl *c, uint16_t qid, uint64_t iova, uint32_t size,
		   struct nvme_cq *cq, struct nvme_sq **out);
int nvme_cq_create(struct nvme_ctrl *c, uint16_t qid, uint64_t iova, uint32_t size, bool ien,
		   uint16_t iv, struct nvme_cq **out);
/* Hand a CQ to its poller / an SQ to its CQ's poller (asynchronous). */
int nvme_cq_start(struct nvme_cq *cq);
int nvme_sq_start(struct nvme_sq *sq);
void nvme_sq_free(struct nvme_sq *sq);
void nvme_cq_free(struct nvme_cq *cq);
void nvme_ctrl_fatal(struct nvme_ctrl *c, const char *why);
/* Fold a deleted queue's counters into the controller's totals. */
void nvme_queue_retire(struct nvme_ctrl *c, const struct nvme_sq *sq, const struct nvme_cq *cq);
/* On poller `poller` (a posted message): forget ns as this poller's SQs'
 * fast-path kind, and count what it still has in flight there (backend
 * I/O on its channel, staged ram I/O). */
uint32_t nvme_ns_quiesce_local(struct nvme_ctrl *c, const struct nvme_ns *ns, unsigned poller);

/*
 * sanitize.c: the host-protocol sanitizer's internals. Per controller: the
 * counts (atomic: pollers and the control thread add), the first report of
 * each kind and the log's rate limiter (under lock, taken only to report).
 */
struct nvme_san {
	pthread_mutex_t lock;
	struct vn_ratelimit rl;
	uint32_t reported; /* kinds reported for the controller itself (registers) */
	uint64_t count[NVME_SAN_KINDS];
	char first[NVME_SAN_KINDS][NVME_SAN_TEXT_MAX];
};

#define NVME_SAN_EVENTS    8
#define NVME_SAN_CID_WORDS (65536 / 64)
enum {
	NVME_SAN_EV_TAIL = 1, /* a new SQ tail doorbell value */
	NVME_SAN_EV_HEAD,     /* a new CQ head doorbell value */
	NVME_SAN_EV_MMIO,     /* a new MMIO SQ tail while shadow doorbells are on */
	NVME_SAN_EV_FETCH,    /* an SQE fetched: opcode and CID */
	NVME_SAN_EV_POST,     /* a CQE posted: SQ and CID */
};

/* Per queue, written by its poller (reported: by any thread, atomically). */
struct nvme_san_q {
	uint32_t last;      /* SQ: the last tail seen; CQ: the last head */
	uint32_t last_mmio; /* SQ: the MMIO tail doorbell's last value */
	uint32_t reported;  /* bit per kind: reported for this queue */
	bool del_checked;   /* SQ: its deletion was looked at */
	uint32_t ev_next;   /* events recorded so far; ev[] keeps the last NVME_SAN_EVENTS */
	uint64_t ev[NVME_SAN_EVENTS];
	uint64_t cid_busy[]; /* SQ: a bit per CID outstanding, NVME_SAN_CID_WORDS */
};

/* Where dptr.c last refused a data pointer, on this thread: set on its
 * error paths only; the sanitizer clears it before a command and reads it
 * after. */
struct nvme_dptr_fault {
	const char *field; /* "PRP1", "PRP list entry", "SGL Data Block descriptor" ... */
	const char *rule;  /* what the spec allows */
	uint64_t val;
};
extern __thread struct nvme_dptr_fault nvme_dptr_fault;

int nvme_san_init(struct nvme_ctrl *c);
void nvme_san_fini(struct nvme_ctrl *c);
/* One line of counts for nvme_ctrl_print_stats; nothing when off. */
void nvme_san_print(struct nvme_ctrl *c, FILE *f);
/* A queue's state, or NULL when the controller does not sanitize (or out
 * of memory: that queue is then not checked). */
struct nvme_san_q *nvme_san_q_new(const struct nvme_ctrl *c, bool sq);
/* Queue poller, every round: the doorbells (tail as sq_take read it). */
void nvme_san_sq_round(struct nvme_sq *sq, uint32_t tail);
void nvme_san_cq_round(struct nvme_cq *cq);
/* Around a command on the general path: fetched (copied out), executed. */
void nvme_san_fetch(struct nvme_sq *sq, const struct vnvme_sqe *sqe);
void nvme_san_exec(struct nvme_sq *sq, const struct vnvme_sqe *sqe);
/* A CQE posted for the command cid of sq. */
void nvme_san_post(struct nvme_sq *sq, uint16_t cid);
/* Admin poller: Delete I/O CQ cqid refused, I/O SQ sqid still uses it. */
void nvme_san_delete_order(struct nvme_ctrl *c, uint16_t cid, uint32_t cqid, uint32_t sqid);
/* Queue poller: sq is being deleted (each round until it is gone). */
void nvme_san_sq_deleting(struct nvme_sq *sq);
/* Control thread: at CC.EN = 1 (AQA, doorbells written while disabled);
 * at CC.EN = 0 or a reset after a shutdown (shutdown) or while disabled. */
void nvme_san_enable(struct nvme_ctrl *c);
void nvme_san_quiet(struct nvme_ctrl *c, bool shutdown);

/* admin.c */
vnvme_status nvme_admin_exec(struct nvme_ctrl *c, struct nvme_sq *sq, const struct vnvme_sqe *sqe,
			     uint32_t *dw0);
void nvme_admin_poll_pending(struct nvme_ctrl *c, struct nvme_sq *asq);
void nvme_admin_reset_state(struct nvme_ctrl *c);
void nvme_errlog_add(struct nvme_ctrl *c, uint16_t sqid, uint16_t cid, vnvme_status st,
		     uint32_t nsid, uint64_t lba);
/* A backend completion for c->admin_req (admin poller). */
void nvme_admin_io_done(struct nvme_req *r);

/* io.c: start an I/O command; NVME_PENDING when the backend completes it later. */
vnvme_status nvme_io_exec(struct nvme_sq *sq, struct nvme_req *r, const struct vnvme_sqe *sqe,
			  const struct vn_dma_table *t);
/* A backend completion for r. */
void nvme_io_done(struct nvme_req *r);

#endif
