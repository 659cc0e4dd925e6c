/* SPDX-License-Identifier: MIT */
/* NVM command set I/O commands (NVM Command Set 1.0c §3). */
#include <errno.h>
#include <string.h>

#include "nvme/io_check.h"
#include "nvme/priv.h"
#include "nvme/probes.h"
#include "util/tsc.h"

static inline vnvme_status be_result(const struct nvme_req *r)
{
	if (likely(r->io.result == 0))
		return NVME_OK;
	if (r->io.result == -EIO && r->io.op == VN_BE_READ)
		return nvme_sc_media(VNVME_SC_UNRECOVERED_READ_ERROR);
	return nvme_status_from_errno(r->io.result);
}

static inline void account(struct nvme_sq *sq, const struct nvme_req *r)
{
	/* SMART (Base 2.0 §5.16.1.3): Compare counts as a read, Write Zeroes
	 * as a write command without data units. */
	switch (r->io.op) {
	case VN_BE_READ:
	case VN_BE_COMPARE:
		sq->dir_cmds[NVME_DIR_READ]++;
		sq->dir_bytes[NVME_DIR_READ] += r->io.len;
		break;
	case VN_BE_WRITE:
		sq->dir_cmds[NVME_DIR_WRITE]++;
		sq->dir_bytes[NVME_DIR_WRITE] += r->io.len;
		break;
	case VN_BE_WRITE_ZEROES:
		sq->dir_cmds[NVME_DIR_WRITE]++;
		break;
	}
}

/*
 * VN_BE_FUA for a write of this command (NVMe Base 2.0c §5.27.1.4 "Volatile
 * Write Cache", NVM Command Set 1.0c §3.2.6 "Write command", FUA): when it
 * asks for Force Unit Access, or the volatile write cache is disabled (then
 * every write is durable at completion). Only namespaces with a volatile
 * cache (file) need it: on null and ram a completed write is in the medium.
 * Controllers without one (c->async_ns clear) pay one predictable branch.
 */
static inline uint16_t write_flags(const struct nvme_ctrl *c, const struct nvme_ns *ns,
				   uint32_t cdw12)
{
	if (likely(!vn_load_relaxed(&c->async_ns)) || !vn_be_volatile_cache(ns->be))
		return 0;
	if ((cdw12 & VNVME_RW_FUA) || !(vn_load_relaxed(&c->feat.vwc) & VNVME_FEAT_VWC_WCE))
		return VN_BE_FUA;
	return 0;
}

/* Submit r->io; the status if it finished inline, NVME_PENDING otherwise. */
static inline vnvme_status submit(struct nvme_sq *sq, struct nvme_req *r)
{
	int ret = vn_be_submit(r->ns->chan[sq->cq->poller], &r->io);

	if (likely(ret == 1)) {
		if (unlikely(sq->trace))
			r->t_done = vn_tsc();
		NVME_PROBE4(cmd_done, sq->ctrl->name, sq->qid, r->cid, r->io.result);
		account(sq, r);
		return be_result(r);
	}
	if (ret == 0)
		return NVME_PENDING;
	return nvme_status_from_errno(ret);
}

/* DSM: read the range list (at most 256 x 16 bytes) through the command's
 * data pointer, PRPs or SGL, as every I/O command's data. */
static vnvme_status dsm_ranges(struct nvme_req *r, const struct vn_dma_table *t,
			       struct vnvme_dsm_range *ranges, uint32_t nr)
{
	struct vnvme_sqe sqe = {.flags = r->dsm_flags};

	sqe.dptr.prp1 = r->dsm_dptr[0];
	sqe.dptr.prp2 = r->dsm_dptr[1];
	return nvme_dptr_copy_in(t, &sqe, ranges, (uint64_t)nr * sizeof(*ranges), true);
}

/* Start deallocating the next range of a DSM command. */
static vnvme_status dsm_next(struct nvme_sq *sq, struct nvme_req *r, const struct vn_dma_table *t)
{
	struct vnvme_dsm_range ranges[VNVME_DSM_MAX_RANGES];
	vnvme_status st;

	/* Re-read the list each step: between steps the host memory may have
	 * moved, and a request keeps no host pointer across poll rounds. */
	st = dsm_ranges(r, t, ranges, r->dsm_nr);
	if (!vnvme_status_ok(st))
		return st;
	while (r->dsm_left) {
		const struct vnvme_dsm_range *d = &ranges[r->dsm_nr - r->dsm_left];
		r->dsm_left--;
		if (!d->nlb)
			continue;
		r->slba = d->slba; /* the range an error is about */
		st = io_check_lba(r->ns, d->slba, d->nlb);
		if (!vnvme_status_ok(st))
			return st;
		r->io.op = VN_BE_DISCARD;
		r->io.flags = r->dsm_fua;
		r->io.off = d->slba << r->ns->lbads;
		r->io.len = (uint64_t)d->nlb << r->ns->lbads;
		r->io.iovcnt = 0;
		int ret = vn_be_submit(r->ns->chan[sq->cq->poller], &r->io);
		if (ret == 0)
			return NVME_PENDING;
		if (ret < 0)
			return nvme_status_from_errno(ret);
		if (r->io.result)
			return be_result(r);
	}
	return NVME_OK;
}

static vnvme_status dsm(struct nvme_sq *sq, struct nvme_req *r, const struct vnvme_sqe *sqe,
			const struct vn_dma_table *t)
{
	uint32_t nr = VNVME_FIELD_GET(sqe->cdw10, VNVME_DSM_NR) + 1;

	if (!(sqe->cdw11 & VNVME_DSM_AD))
		return NVME_OK; /* only hints: nothing to do */
	r->dsm_flags = sqe->flags & (VNVME_SQE_PSDT_MASK << VNVME_SQE_PSDT_SHIFT);
	r->dsm_dptr[0] = sqe->dptr.prp1;
	r->dsm_dptr[1] = sqe->dptr.prp2;
	r->dsm_nr = (uint16_t)nr;
	r->dsm_left = (uint16_t)nr;
	/* A deallocation is a write: durable at completion without the cache. */
	r->dsm_fua = (uint8_t)write_flags(sq->ctrl, r->ns, 0);
	return dsm_next(sq, r, t);
}

/*
 * A namespace with a device model (model.h): decide the command's delay
 * and injected error. The delay holds the completion (nvme_req_complete),
 * whatever its status; an injected error fails the command before it does
 * any I/O. Only namespaces with a model come here: the fast path never
 * sees them (ctrl.c, ns_publish).
 */
static VN_NOINLINE vnvme_status io_model(struct nvme_sq *sq, struct nvme_req *r,
					 const struct vnvme_sqe *sqe, struct nvme_ns *ns)
{
	struct nvme_model_cmd cmd = {
	    .qid = sq->qid,
	    .serial = sq->serial,
	    .opc = sqe->opc,
	    .outstanding = sq->inflight,
	    .now = vn_tsc(),
	};
	struct nvme_model_out o;

	switch (sqe->opc) {
	case VNVME_NVM_READ:
	case VNVME_NVM_WRITE:
	case VNVME_NVM_COMPARE:
	case VNVME_NVM_WRITE_ZEROES:
		cmd.has_lba = true;
		cmd.slba = vnvme_sqe_slba(sqe);
		cmd.nlb = vnvme_sqe_nlb(sqe);
		if (sqe->opc != VNVME_NVM_WRITE_ZEROES && cmd.nlb <= ns->nlb)
			cmd.bytes = cmd.nlb << ns->lbads;
		break;
	}
	nvme_model_decide(ns->model, &cmd, &o);
	r->ns = ns; /* for a detach: which namespace a held completion is of */
	r->hold_delay = o.delay;
	r->hold_nb = o.not_before;
	r->hold = o.delay || o.not_before;
	if (o.status) {
		r->slba = o.err_lba;
		return nvme_status(o.status >> 8, o.status & 0xff);
	}
	return NVME_OK;
}

vnvme_status nvme_io_exec(struct nvme_sq *sq, struct nvme_req *r, const struct vnvme_sqe *sqe,
			  const struct vn_dma_table *t)
{
	struct nvme_ctrl *c = sq->ctrl;
	uint32_t nsid = sqe->nsid;
	struct nvme_ns *ns;
	uint64_t slba, nlb, len;
	uint32_t prot;
	unsigned cnt;
	vnvme_status st;

	r->opc = sqe->opc;
	r->nsid = nsid;
	r->slba = 0;
	r->hold = false;
	if (unlikely(!(ns = io_check_ns(c, nsid))))
		return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
	if (unlikely(ns->model)) {
		st = io_model(sq, r, sqe, ns);
		if (unlikely(!vnvme_status_ok(st)))
			return st;
	}

	/*
	 * Read or Write whose data fits PRP1 and PRP2 (at most two pages), the
	 * common case at small block sizes: the checks of io_check.h, as
	 * below, straight-line (within two pages: within MDTS).
	 */
	if (likely(io_check_rw_plain(sqe->opc, sqe->flags))) {
		uint64_t prp1 = sqe->dptr.prp1, first;
		uint8_t *p1;

		slba = vnvme_sqe_slba(sqe);
		nlb = (sqe->cdw12 & 0xffff) + 1u;
		r->slba = slba;
		st = io_check_lba(ns, slba, nlb);
		if (unlikely(!vnvme_status_ok(st)))
			return st;
		len = nlb << ns->lbads;
		first = io_check_prp_two_pages(prp1, len);
		if (likely(first)) {
			bool rd = sqe->opc == VNVME_NVM_READ;
			prot = rd ? VN_DMA_WRITE : VN_DMA_READ;
			r->io.op = rd ? VN_BE_READ : VN_BE_WRITE;
			r->io.flags = rd ? 0 : write_flags(c, ns, sqe->cdw12);
			if (len <= first) {
				p1 = vn_dma_find(t, prp1, len, prot);
				if (unlikely(!p1))
					return nvme_dptr_refuse(VNVME_SC_DATA_XFER_ERROR, "PRP1",
								prp1, NVME_DPTR_NOT_MAPPED);
				r->iov[0].iov_base = p1;
				r->iov[0].iov_len = len;
				r->io.iovcnt = 1;
			} else {
				uint64_t prp2 = sqe->dptr.prp2;
				uint8_t *p2;
				if (unlikely(prp2 & (NVME_PAGE_SIZE - 1)))
					return nvme_dptr_refuse(
					    VNVME_SC_PRP_OFFSET_INVALID, "PRP2", prp2,
					    "page aligned when it is the second page of data");
				p1 = vn_dma_find(t, prp1, first, prot);
				p2 = vn_dma_find(t, prp2, len - first, prot);
				if (unlikely(!p1 || !p2))
					return nvme_dptr_refuse(
					    VNVME_SC_DATA_XFER_ERROR, p1 ? "PRP2" : "PRP1",
					    p1 ? prp2 : prp1, NVME_DPTR_NOT_MAPPED);
				r->iov[0].iov_base = p1;
				if (p1 + first == p2) {
					r->iov[0].iov_len = len;
					r->io.iovcnt = 1;
				} else {
					r->iov[0].iov_len = first;
					r->iov[1].iov_base = p2;
					r->iov[1].iov_len = len - first;
					r->io.iovcnt = 2;
				}
			}
			r->ns = ns;
			r->io.off = slba << ns->lbads;
			r->io.len = len;
			r->io.iov = r->iov;
			return submit(sq, r);
		}
	}
	if (unlikely(vnvme_sqe_fuse(sqe)))
		return nvme_sc(VNVME_SC_INVALID_FIELD); /* no fused operations (FUSES = 0) */
	r->ns = ns;
	r->io.flags = 0;

	switch (sqe->opc) {
	case VNVME_NVM_READ:
		r->io.op = VN_BE_READ;
		prot = VN_DMA_WRITE; /* the controller writes host memory */
		break;
	case VNVME_NVM_WRITE:
		r->io.op = VN_BE_WRITE;
		r->io.flags = write_flags(c, ns, sqe->cdw12);
		prot = VN_DMA_READ;
		break;
	case VNVME_NVM_COMPARE:
		r->io.op = VN_BE_COMPARE;
		prot = VN_DMA_READ;
		break;
	case VNVME_NVM_FLUSH:
		r->io.op = VN_BE_FLUSH;
		r->io.off = 0;
		r->io.len = 0;
		r->io.iovcnt = 0;
		return submit(sq, r);
	case VNVME_NVM_WRITE_ZEROES:
		slba = vnvme_sqe_slba(sqe);
		nlb = vnvme_sqe_nlb(sqe);
		r->slba = slba;
		st = io_check_lba(ns, slba, nlb);
		if (unlikely(!vnvme_status_ok(st)))
			return st;
		r->io.op = (sqe->cdw12 & VNVME_WZ_DEAC) ? VN_BE_DISCARD : VN_BE_WRITE_ZEROES;
		r->io.flags = write_flags(c, ns, sqe->cdw12);
		r->io.off = slba << ns->lbads;
		r->io.len = nlb << ns->lbads;
		r->io.iovcnt = 0;
		return submit(sq, r);
	case VNVME_NVM_DSM:
		return dsm(sq, r, sqe, t);
	default:
		return nvme_sc(VNVME_SC_INVALID_OPCODE);
	}

	slba = vnvme_sqe_slba(sqe);
	nlb = vnvme_sqe_nlb(sqe);
	r->slba = slba;
	st = io_check_lba(ns, slba, nlb);
	if (unlikely(!vnvme_status_ok(st)))
		return st;
	len = nlb << ns->lbads;
	st = io_check_mdts(c, len);
	if (unlikely(!vnvme_status_ok(st)))
		return st;
	st = nvme_dptr_map(t, sqe, len, prot, r->iov, &cnt, NVME_MAX_IOV, true);
	if (unlikely(!vnvme_status_ok(st)))
		return st;
	r->io.off = slba << ns->lbads;
	r->io.len = len;
	r->io.iov = r->iov;
	r->io.iovcnt = (uint8_t)cnt;
	return submit(sq, r);
}

void nvme_io_done(struct nvme_req *r)
{
	struct nvme_sq *sq = r->sq;
	vnvme_status st;

	if (unlikely(!sq)) { /* an admin command's (Format NVM's erase) */
		nvme_admin_io_done(r);
		return;
	}
	if (unlikely(sq->trace))
		r->t_done = vn_tsc();
	NVME_PROBE4(cmd_done, sq->ctrl->name, sq->qid, r->cid, r->io.result);
	st = be_result(r);

	if (r->opc == VNVME_NVM_DSM && vnvme_status_ok(st) && r->dsm_left &&
	    !vn_load_relaxed(&sq->cq->stopping)) {
		st = dsm_next(sq, r, vn_dma_table_get(sq->ctrl->o.dma));
		if (nvme_is_pending(st))
			return;
	} else if (vnvme_status_ok(st)) {
		account(sq, r);
	}
	nvme_req_complete(r, st, 0);
}
