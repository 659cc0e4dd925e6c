/* SPDX-License-Identifier: MIT */
/*
 * The host-protocol sanitizer (docs/sanitizer.md): with
 * nvme_ctrl_opts.sanitize, the controller checks what the host does against
 * the rules of NVMe Base 2.0c and reports each violation once per kind and
 * queue, readably (the queue, CID, the offending field, its value, what the
 * spec allows, and the queue's last doorbell and SQE events), to the log
 * (a "guest:" warning, rate-limited) and to the statistics, where every
 * occurrence counts. The device's answer does not change: where it returns
 * a status for the mistake, it still does.
 *
 * Cost: nothing per command while off (the I/O fast path never looks);
 * while on, a controller's I/O commands take the general path, where the
 * checks live.
 */
#ifndef VN_NVME_SANITIZE_H
#define VN_NVME_SANITIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Violation kinds; nvme_san_kind_name() gives each its stable name (RPC,
 * vnvme-ctl, docs). */
enum nvme_san_kind {
	NVME_SAN_SQ_TAIL_RANGE,     /* SQ tail doorbell >= the queue's size */
	NVME_SAN_SQ_TAIL_BACKWARD,  /* SQ tail moved back over unfetched entries */
	NVME_SAN_CQ_HEAD_RANGE,     /* CQ head doorbell >= the queue's size */
	NVME_SAN_CQ_HEAD_PAST_TAIL, /* CQ head moved over entries not posted */
	NVME_SAN_CID_REUSE,         /* a CID reused while outstanding on its SQ */
	NVME_SAN_DPTR,              /* a PRP or SGL outside the maps, or malformed */
	NVME_SAN_DELETE_ORDER,      /* a CQ deleted before its SQs */
	NVME_SAN_DELETE_BUSY,       /* an SQ deleted with commands outstanding */
	NVME_SAN_SHADOW,            /* shadow doorbell / EventIdx misuse */
	NVME_SAN_DB_DISABLED,       /* a doorbell written while CC.EN = 0 */
	NVME_SAN_DB_SHUTDOWN,       /* a doorbell written after a shutdown (CC.SHN) */
	NVME_SAN_ADMIN_QSIZE,       /* AQA outside the spec's limits at CC.EN = 1 */
	NVME_SAN_KINDS
};

const char *nvme_san_kind_name(unsigned kind);

/* The first report of a kind as the statistics keep it (longer ones are cut). */
#define NVME_SAN_TEXT_MAX 480

struct nvme_san_stats {
	uint64_t count[NVME_SAN_KINDS];
	char first[NVME_SAN_KINDS][NVME_SAN_TEXT_MAX]; /* "" until the kind is seen */
};

struct nvme_ctrl;

/* Whether the controller sanitizes (nvme_ctrl_opts.sanitize). */
bool nvme_ctrl_sanitizing(const struct nvme_ctrl *c);
/*
 * Counts since the controller was created, and each kind's first report.
 * Any thread. -ENOTSUP (out untouched) when the controller does not
 * sanitize, else 0.
 */
int nvme_ctrl_get_sanitizer(struct nvme_ctrl *c, struct nvme_san_stats *out);

#endif
