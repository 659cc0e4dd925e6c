/* SPDX-License-Identifier: MIT */
/*
 * The checks of an I/O command, in one place for every path that executes
 * one: the general one (nvme_io_exec in io.c, with its straight-line case
 * for Reads and Writes of at most two pages) and the fast loop of queue.c
 * (io_fast / io_fast_dir in sq_run and sq_one, whose ram I/Os sq_stage and
 * sq_drain then copy). Always inline: in the fast loop they compile to the
 * instructions written there before.
 *
 * The fast loop uses them as yes/no: whatever it does not take, errors
 * included, goes to nvme_io_exec before any side effect, and only
 * nvme_io_exec turns a failed check into a status. A command therefore
 * gets the same status (and DNR) whichever path sees it first.
 */
#pragma once

#include "nvme/priv.h"

/* The active namespace NSID names, or NULL: Invalid Namespace or Format
 * (0, the broadcast value, beyond NN, or not attached). */
static VN_INLINE struct nvme_ns *io_check_ns(const struct nvme_ctrl *c, uint32_t nsid)
{
	if (unlikely(nsid == 0 || nsid > NVME_MAX_NS))
		return NULL;
	return ns_get(c, nsid); /* NULL once detached (nvme_ctrl_ns_detach) */
}

/* The form every fast path takes: Read or Write with flags 0 (no fused
 * operation, PSDT 0: PRPs). */
static VN_INLINE bool io_check_rw_plain(uint8_t opc, uint8_t flags)
{
	return (opc == VNVME_NVM_READ || opc == VNVME_NVM_WRITE) && !flags;
}

/* SLBA and NLB (1-based) inside the namespace, without wrapping. */
static VN_INLINE vnvme_status io_check_lba(const struct nvme_ns *ns, uint64_t slba, uint64_t nlb)
{
	if (unlikely(slba >= ns->nlb || nlb > ns->nlb - slba))
		return nvme_sc(VNVME_SC_LBA_OUT_OF_RANGE);
	return NVME_OK;
}

/* The transfer within MDTS (in CAP.MPSMIN pages; c->mdts is never 0), for
 * I/O and Get Log Page alike. A
 * transfer that io_check_prp1_page accepts is at most one page, within
 * any MDTS: the fast paths need not call this. */
static VN_INLINE vnvme_status io_check_mdts(const struct nvme_ctrl *c, uint64_t len)
{
	if (unlikely(len > ((uint64_t)NVME_PAGE_SIZE << c->mdts)))
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	return NVME_OK;
}

/* The data pointer form of the fast paths: PRP1 dword aligned (PRP Offset
 * Invalid otherwise, NVMe Base 2.0c §4.1.1) and the whole transfer within
 * its page, so that PRP2 is not used. */
static VN_INLINE bool io_check_prp1_page(uint64_t prp1, uint64_t len)
{
	return (prp1 & (NVME_PAGE_SIZE - 1)) + len <= NVME_PAGE_SIZE && !(prp1 & 3);
}

/* The same for data in PRP1's page and, when it spills over, the next one,
 * which PRP2 names (page aligned: PRP Offset Invalid otherwise). Returns
 * the bytes in PRP1's page, or 0 when the transfer needs a PRP list or
 * PRP1 is not dword aligned (the general mapping then decides). */
static VN_INLINE uint64_t io_check_prp_two_pages(uint64_t prp1, uint64_t len)
{
	uint64_t first = NVME_PAGE_SIZE - (prp1 & (NVME_PAGE_SIZE - 1));

	if (unlikely(len > first + NVME_PAGE_SIZE || (prp1 & 3)))
		return 0;
	return first;
}
