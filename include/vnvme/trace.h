/* SPDX-License-Identifier: MIT */
/*
 * vnvme's device trace table (docs/attribution.md): per command, when the
 * device took the SQE from the SQ, when its backend finished and when it
 * posted the CQE, on the TSC (the clock a host on the same machine reads).
 *
 * A controller created with "trace" exposes the table as PCI BAR2 (vfio-user
 * region 2, mmappable with the fd of its REGION_INFO reply): a header, then
 * from rec_offset nr_queues x entries records, queue by queue (SQID 0, the
 * admin queue, first). The record of a command is at
 *   rec_offset + (sqid * entries + (cid & (entries - 1))) * rec_size.
 * The device writes it before the CQE's phase tag (a release store), so a
 * host that has seen the CQE reads a complete record of its own command,
 * with no other synchronisation, until it submits that CID again. A
 * record's cid and sqid tell a record of another command that shares the
 * slot (a host using CIDs of entries or more) from its own: never use one
 * whose cid or sqid differs. Little-endian, fixed layout; a reader checks
 * magic, version and rec_size >= sizeof(struct vnvme_trace_rec), and
 * ignores fields it does not know (later versions only append).
 */
#ifndef VNVME_TRACE_H
#define VNVME_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#define VNVME_TRACE_MAGIC   0x52544e56u /* "VNTR" */
#define VNVME_TRACE_VERSION 1
#define VNVME_TRACE_BAR     2 /* PCI BAR (vfio-user region index) */

struct vnvme_trace_hdr {
	uint32_t magic;      /* VNVME_TRACE_MAGIC */
	uint16_t version;    /* VNVME_TRACE_VERSION */
	uint16_t hdr_size;   /* sizeof(struct vnvme_trace_hdr) */
	uint32_t rec_size;   /* bytes per record: 32 */
	uint32_t nr_queues;  /* SQIDs 0 .. nr_queues - 1 */
	uint32_t entries;    /* records per queue: a power of 2, at least the I/O queue size */
	uint32_t rsvd20;     /* 0 */
	uint64_t tsc_hz;     /* TSC ticks per second, as the device measured it */
	uint64_t rec_offset; /* the first record, from the start of the table: 4096 */
	uint64_t size;       /* bytes of the table, records included */
	uint8_t rsvd48[16];
};

/* Record flags. */
#define VNVME_TRACE_F_NO_FETCH 0x01 /* fetch unknown (0): an admin command completed later */

struct vnvme_trace_rec {
	uint64_t fetch;  /* TSC: the device copied the SQE out of the SQ */
	uint64_t done;   /* TSC: its backend finished (= post when it completed inline) */
	uint64_t post;   /* TSC: just before the CQE was written */
	uint16_t cid;    /* the command's CID, whole */
	uint16_t sqid;   /* its SQ */
	uint16_t status; /* the CQE's Status Field (DW3 31:17) */
	uint8_t opc;     /* its opcode */
	uint8_t flags;   /* VNVME_TRACE_F_* */
};

_Static_assert(sizeof(struct vnvme_trace_hdr) == 64, "trace header layout");
_Static_assert(sizeof(struct vnvme_trace_rec) == 32, "trace record layout");

/* Where records start in the table. */
#define VNVME_TRACE_REC_OFFSET 4096u

/*
 * Whether a table header, copied out of a mapping of len bytes, is one this
 * header describes, with every record inside the mapping: check it once,
 * on a copy (the device may rewrite the header), and keep the copy.
 */
static inline bool vnvme_trace_hdr_ok(const struct vnvme_trace_hdr *h, uint64_t len)
{
	if (len < sizeof(*h) || h->magic != VNVME_TRACE_MAGIC ||
	    h->version != VNVME_TRACE_VERSION || h->rec_size != sizeof(struct vnvme_trace_rec) ||
	    !h->entries || (h->entries & (h->entries - 1)) || !h->nr_queues ||
	    h->nr_queues > 65536 || h->rec_offset % 8 || h->rec_offset > len)
		return false;
	/* nr_queues and entries are below 2^32 each: the product fits. */
	return (uint64_t)h->nr_queues * h->entries <= (len - h->rec_offset) / h->rec_size;
}

/*
 * Copy the record of command cid on the queue whose records start at q
 * (entries: the header's) into *out, once its CQE was seen. True if it is
 * that command's: same CID and SQID, and stamps in order.
 */
static inline bool vnvme_trace_get(const struct vnvme_trace_rec *q, uint32_t entries, uint16_t sqid,
				   uint16_t cid, struct vnvme_trace_rec *out)
{
	*out = q[cid & (entries - 1)];
	return out->cid == cid && out->sqid == sqid && out->fetch && out->fetch <= out->done &&
	       out->done <= out->post;
}

#endif
