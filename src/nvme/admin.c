/* SPDX-License-Identifier: MIT */
/*
 * Admin commands (NVMe Base 2.0c §5). They run on the controller's first
 * poller, one at a time, and return the status they decide; handlers add DNR
 * where the specification says a retry cannot succeed. Every field comes
 * from the host and is checked here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/io_check.h"
#include "nvme/priv.h"

/* Firmware: the revision Identify and the firmware slot log report, and the
 * slots there are (one, read-only: no firmware update). */
#define NVME_FW_REV   "0.1"
#define NVME_FW_SLOTS 1u

static pthread_mutex_t errlog_lock = PTHREAD_MUTEX_INITIALIZER;

VN_COLD void nvme_errlog_add(struct nvme_ctrl *c, uint16_t sqid, uint16_t cid, vnvme_status st,
			     uint32_t nsid, uint64_t lba)
{
	struct vnvme_error_log_entry *e;

	/* Errors come from any poller; a lock on this cold path only. */
	pthread_mutex_lock(&errlog_lock);
	e = &c->errlog[c->error_count % NVME_ERRLOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = ++c->error_count;
	/* SMART's Media and Data Integrity Errors: unrecovered data integrity
	 * errors (Write Fault, Unrecovered Read Error, end-to-end guard,
	 * application and reference tag checks, 80h..84h), not a Compare
	 * Failure or Access Denied. */
	if (vnvme_status_sct(st) == VNVME_SCT_MEDIA && vnvme_status_sc(st) >= 0x80 &&
	    vnvme_status_sc(st) <= 0x84)
		c->media_errors++;
	e->sqid = sqid;
	e->cid = cid;
	e->status = vnvme_cqe_status_word(st, 0);
	e->parm_error_location = 0xffff;
	e->lba = lba;
	e->nsid = nsid;
	pthread_mutex_unlock(&errlog_lock);
}

static void pad(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, l < n ? l : n);
}

/* ------------------------------------------------------------------------ */
/* Identify (NVMe Base 2.0c §5.17) */

/* Whether a namespace has a volatile write cache (Identify VWC, Feature 06h). */
static bool has_vwc(const struct nvme_ctrl *c)
{
	for (uint32_t i = 1; i <= c->nn; i++) {
		const struct nvme_ns *ns = ns_get(c, i);
		if (ns && vn_be_volatile_cache(ns->be))
			return true;
	}
	return false;
}

static void id_ctrl(struct nvme_ctrl *c, struct vnvme_id_ctrl *id)
{
	id->vid = c->o.vid;
	id->ssvid = c->o.ssvid;
	pad(id->sn, sizeof(id->sn), c->serial);
	pad(id->mn, sizeof(id->mn), c->model);
	pad(id->fr, sizeof(id->fr), NVME_FW_REV);
	id->rab = 6;
	id->mdts = c->mdts;
	id->cntlid = c->o.cntlid;
	id->ver = c->vs;
	id->cntrltype = 1; /* I/O controller */
	id->oacs = VNVME_OACS_FORMAT | VNVME_OACS_DBBUF;
	id->acl = 3;
	id->aerl = NVME_AERL;
	/* Namespaces come and go at run time (nvme_ctrl_ns_attach/detach). */
	id->oaes = VNVME_OAES_NS_ATTR;
	/* One firmware slot, read-only, holding the running revision (the
	 * Firmware Slot Information log says the same); no Firmware Image
	 * Download or Commit (OACS bit 2 clear). */
	id->frmw = VNVME_FRMW_SLOT1_RO | NVME_FW_SLOTS << VNVME_FRMW_NOFS_SHIFT;
	id->lpa = VNVME_LPA_CMD_EFFECTS | VNVME_LPA_EXT_DATA;
	id->elpe = NVME_ERRLOG_ENTRIES - 1;
	id->npss = 0;
	id->wctemp = 343; /* 70 C */
	id->cctemp = 373; /* 100 C */
	id->sqes = 0x66;
	id->cqes = 0x44;
	/* NN: the largest NSID a namespace may be attached at, whether or not
	 * one is (QEMU with namespace management reports its maximum too);
	 * the host finds the active ones with CNS 02h. */
	id->nn = c->nn;
	id->oncs = VNVME_ONCS_COMPARE | VNVME_ONCS_DSM | VNVME_ONCS_WRITE_ZEROES |
		   VNVME_ONCS_SAVE_SELECT | VNVME_ONCS_TIMESTAMP;
	/*
	 * A volatile write cache when a namespace has one (file: the page
	 * cache); Flush with NSID FFFFFFFFh not supported (10b). null and ram
	 * have none: a completed write is in their medium, so they need no
	 * Flush (which still succeeds) and no Feature 06h.
	 */
	id->vwc = has_vwc(c) ? VNVME_VWC_PRESENT | 0x2u << VNVME_VWC_FLUSH_BC_SHIFT : 0;
	/* SGLs without alignment requirement, and the Bit Bucket descriptor. */
	id->sgls = 0x1 | (1u << 16);
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2026-11.io.vnvme:%s", c->serial);
	id->psd[0].mp = 2500; /* 25 W */
	id->psd[0].enlat = 0;
	id->psd[0].exlat = 0;
}

static void id_ns(struct nvme_ctrl *c, const struct nvme_ns *ns, struct vnvme_id_ns *id)
{
	id->nsze = id->ncap = id->nuse = ns->nlb;
	id->nsfeat = 0;
	id->nlbaf = 1; /* two formats: 512 B and 4 KiB */
	id->flbas = ns->lbads == 12 ? 1 : 0;
	id->dlfeat = 0x1 | (1u << 3); /* deallocated blocks read as zeroes; WZ DEAC supported */
	id->lbaf[0].lbads = 9;
	id->lbaf[1].lbads = 12;
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	memcpy(id->eui64, ns->eui64, sizeof(id->eui64));
	(void)c;
}

static struct nvme_ns *active_ns(struct nvme_ctrl *c, uint32_t nsid)
{
	return nsid >= 1 && nsid <= c->nn ? ns_get(c, nsid) : NULL;
}

static vnvme_status identify(struct nvme_ctrl *c, const struct vnvme_sqe *sqe,
			     const struct vn_dma_table *t)
{
	unsigned cns = VNVME_FIELD_GET(sqe->cdw10, VNVME_IDENTIFY_CNS);
	unsigned csi = VNVME_FIELD_GET(sqe->cdw11, VNVME_IDENTIFY_CSI);
	uint32_t nsid = sqe->nsid;
	uint8_t buf[VNVME_IDENTIFY_DATA_SIZE];
	struct nvme_ns *ns;

	memset(buf, 0, sizeof(buf));
	switch (cns) {
	case VNVME_CNS_NS:
		if (nsid == 0 || nsid > c->nn)
			return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
		ns = active_ns(c, nsid);
		if (ns) /* an inactive NSID in range: all zeroes */
			id_ns(c, ns, (struct vnvme_id_ns *)(void *)buf);
		break;
	case VNVME_CNS_CTRL:
		id_ctrl(c, (struct vnvme_id_ctrl *)(void *)buf);
		break;
	case VNVME_CNS_CSI_ACTIVE_NS_LIST:
		if (csi != VNVME_CSI_NVM)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		__attribute__((fallthrough));
	case VNVME_CNS_ACTIVE_NS_LIST: {
		uint32_t *list = (uint32_t *)(void *)buf, n = 0;
		if (nsid >= 0xfffffffeu)
			return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
		for (uint32_t i = nsid + 1; i <= c->nn && n < 1024; i++)
			if (ns_get(c, i))
				list[n++] = i;
		break;
	}
	case VNVME_CNS_NS_DESC_LIST: {
		uint8_t *p = buf;
		ns = active_ns(c, nsid);
		if (!ns)
			return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
		/* NGUID (type 2, 16 bytes), EUI64 (type 1, 8 bytes), CSI (type 4). */
		p[0] = 2;
		p[1] = 16;
		memcpy(p + 4, ns->nguid, 16);
		p += 20;
		p[0] = 1;
		p[1] = 8;
		memcpy(p + 4, ns->eui64, 8);
		p += 12;
		p[0] = 4;
		p[1] = 1;
		p[4] = VNVME_CSI_NVM;
		break;
	}
	case VNVME_CNS_CSI_NS:
		if (csi != VNVME_CSI_NVM)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		if (!active_ns(c, nsid))
			return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
		break; /* NVM Command Set specific: no extended LBA formats, all zero */
	case VNVME_CNS_CSI_CTRL:
		if (csi != VNVME_CSI_NVM)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		break; /* NVM Command Set specific controller: no limits, all zero */
	case VNVME_CNS_CS_INDEP_NS:
		if (!active_ns(c, nsid))
			return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
		buf[13] = 1; /* NSTAT: namespace ready */
		break;
	case VNVME_CNS_IOCS:
		buf[0] = 1; /* combination 0: the NVM Command Set */
		break;
	default:
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	}
	return nvme_dptr_copy_out(t, sqe, buf, sizeof(buf), false);
}

/* ------------------------------------------------------------------------ */
/* Get Log Page (§5.16) */

static void put_u128(uint8_t *dst, uint64_t v)
{
	memset(dst, 0, 16);
	memcpy(dst, &v, sizeof(v));
}

static void smart_log(struct nvme_ctrl *c, struct vnvme_smart_log *s)
{
	uint64_t rd = c->gone_read_cmds, wr = c->gone_write_cmds;
	uint64_t rb = c->gone_bytes_read, wb = c->gone_bytes_written;

	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		struct nvme_sq *sq = c->sqs[q];
		if (!sq)
			continue;
		rb += vn_load_relaxed(&sq->dir_bytes[NVME_DIR_READ]);
		wb += vn_load_relaxed(&sq->dir_bytes[NVME_DIR_WRITE]);
		rd += vn_load_relaxed(&sq->dir_cmds[NVME_DIR_READ]);
		wr += vn_load_relaxed(&sq->dir_cmds[NVME_DIR_WRITE]);
	}
	s->temperature[0] = (uint8_t)(313 & 0xff); /* 40 C, in kelvin */
	s->temperature[1] = (uint8_t)(313 >> 8);
	s->avail_spare = 100;
	s->spare_thresh = 10;
	/* Data units are thousands of 512-byte units, rounded up. */
	put_u128(s->data_units_read, (rb + 511999) / 512000);
	put_u128(s->data_units_written, (wb + 511999) / 512000);
	put_u128(s->host_reads, rd);
	put_u128(s->host_writes, wr);
	put_u128(s->power_cycles, 1);
	put_u128(s->power_on_hours, (vn_now_ns() - c->power_on_ns) / 3600000000000ull);
	put_u128(s->unsafe_shutdowns, c->unsafe_shutdowns);
	put_u128(s->num_err_log_entries, c->error_count);
	pthread_mutex_lock(&errlog_lock); /* written by the pollers, under it */
	put_u128(s->media_errors, c->media_errors);
	pthread_mutex_unlock(&errlog_lock);
}

static vnvme_status get_log(struct nvme_ctrl *c, const struct vnvme_sqe *sqe,
			    const struct vn_dma_table *t)
{
	unsigned lid = VNVME_FIELD_GET(sqe->cdw10, VNVME_GET_LOG_LID);
	uint64_t len = vnvme_get_log_numd(sqe) * 4, off = vnvme_get_log_lpo(sqe);
	uint8_t *buf;
	size_t size = 4096;
	vnvme_status st;
	uint32_t clear_aen = 0;
	uint64_t changed = 0; /* log 04h: the NSIDs taken from c->ns_changed */

	if (off & 3)
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	st = io_check_mdts(c, len);
	if (!vnvme_status_ok(st))
		return st;
	buf = calloc(1, len > size ? len : size);
	if (!buf)
		return nvme_sc(VNVME_SC_INTERNAL);
	switch (lid) {
	case VNVME_LID_ERROR: {
		struct vnvme_error_log_entry *e = (void *)buf;
		uint64_t n = VN_MIN(c->error_count, (uint64_t)NVME_ERRLOG_ENTRIES);
		pthread_mutex_lock(&errlog_lock);
		for (uint64_t i = 0; i < n; i++) /* newest first */
			e[i] = c->errlog[(c->error_count - 1 - i) % NVME_ERRLOG_ENTRIES];
		pthread_mutex_unlock(&errlog_lock);
		size = NVME_ERRLOG_ENTRIES * sizeof(*e);
		clear_aen = 1u << 0;
		break;
	}
	case VNVME_LID_SMART:
		/* LPA bit 0 is clear: the log is controller-wide. */
		if (sqe->nsid != 0 && sqe->nsid != VNVME_NSID_ALL) {
			st = nvme_sc(VNVME_SC_INVALID_FIELD);
			goto out;
		}
		smart_log(c, (void *)buf);
		size = sizeof(struct vnvme_smart_log);
		clear_aen = 1u << 1;
		break;
	case VNVME_LID_FW_SLOT: {
		/* As Identify's FR and FRMW: slot 1 of NVME_FW_SLOTS is active
		 * and holds FR; no revision is pending for the next reset. */
		struct vnvme_fw_slot_log *fw = (void *)buf;
		fw->afi = 1;
		pad((char *)fw->frs[0], 8, NVME_FW_REV);
		size = sizeof(*fw);
		break;
	}
	case VNVME_LID_CHANGED_NS_LIST: {
		/* §5.16.1.5 "Changed Namespace List": the namespaces attached or
		 * detached since the log was last read with RAE cleared, which
		 * clears it (a host that reads it with RAE set leaves it, and
		 * the event, as they are: QEMU's rule too). More than 1024:
		 * FFFFFFFFh alone (not reachable while NVME_MAX_NS <= 1024). */
		uint32_t *list = (void *)buf, n = 0;
		bool rae = sqe->cdw10 & VNVME_GET_LOG_RAE;

		changed = rae ? vn_load_relaxed(&c->ns_changed)
			      : __atomic_exchange_n(&c->ns_changed, 0, __ATOMIC_ACQ_REL);
		if ((unsigned)__builtin_popcountll(changed) > VNVME_CHANGED_NS_LIST_MAX)
			list[n++] = 0xffffffffu;
		else
			for (uint32_t i = 0; i < 64; i++)
				if (changed & 1ull << i)
					list[n++] = i + 1;
		if (rae)
			changed = 0; /* nothing taken */
		size = VNVME_CHANGED_NS_LIST_MAX * sizeof(uint32_t);
		clear_aen = 1u << VNVME_AER_TYPE_NOTICE;
		break;
	}
	case VNVME_LID_CMD_EFFECTS: {
		struct vnvme_effects_log *e = (void *)buf;
		static const uint8_t admin[] = {
		    VNVME_ADM_DELETE_SQ,       VNVME_ADM_CREATE_SQ,    VNVME_ADM_GET_LOG_PAGE,
		    VNVME_ADM_DELETE_CQ,       VNVME_ADM_CREATE_CQ,    VNVME_ADM_IDENTIFY,
		    VNVME_ADM_ABORT,           VNVME_ADM_SET_FEATURES, VNVME_ADM_GET_FEATURES,
		    VNVME_ADM_ASYNC_EVENT_REQ, VNVME_ADM_FORMAT_NVM,   VNVME_ADM_DBBUF_CONFIG,
		};
		for (unsigned i = 0; i < sizeof(admin); i++)
			e->acs[admin[i]] = 1;                      /* CSUPP */
		e->acs[VNVME_ADM_FORMAT_NVM] |= 1u << 1 | 1u << 2; /* LBCC, NCC */
		e->iocs[VNVME_NVM_FLUSH] = 1;
		e->iocs[VNVME_NVM_READ] = 1;
		e->iocs[VNVME_NVM_WRITE] = 1 | 1u << 1;
		e->iocs[VNVME_NVM_COMPARE] = 1;
		e->iocs[VNVME_NVM_WRITE_ZEROES] = 1 | 1u << 1;
		e->iocs[VNVME_NVM_DSM] = 1 | 1u << 1;
		size = sizeof(*e);
		break;
	}
	default:
		st = nvme_sc_cmd(VNVME_SC_INVALID_LOG_PAGE);
		goto out;
	}
	if (off > size) {
		st = nvme_sc(VNVME_SC_INVALID_FIELD);
		goto out;
	}
	/* Bytes past the log read as zero. */
	memmove(buf, buf + off, size - off);
	memset(buf + (size - off), 0, (len > size ? len : size) - (size - off));
	st = nvme_dptr_copy_out(t, sqe, buf, len, false);
	if (vnvme_status_ok(st) && !(sqe->cdw10 & VNVME_GET_LOG_RAE))
		c->aen_masked &= ~clear_aen;
out:
	/* The host did not get the Changed Namespace List: it stays. */
	if (changed && !vnvme_status_ok(st))
		__atomic_fetch_or(&c->ns_changed, changed, __ATOMIC_RELAXED);
	free(buf);
	return st;
}

/* ------------------------------------------------------------------------ */
/* Features (§5.27, §5.15) */

static uint32_t nq_default(const struct nvme_ctrl *c)
{
	uint32_t n = c->o.max_ioqpairs - 1;
	return n | n << 16;
}

static bool any_io_queue(const struct nvme_ctrl *c)
{
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++)
		if (c->sqs[q] || c->cqs[q])
			return true;
	return false;
}

static vnvme_status set_features(struct nvme_ctrl *c, const struct vnvme_sqe *sqe,
				 const struct vn_dma_table *t, uint32_t *dw0)
{
	unsigned fid = VNVME_FIELD_GET(sqe->cdw10, VNVME_FEAT_FID);
	uint32_t v = sqe->cdw11;
	struct nvme_features *f = &c->feat;

	if (sqe->cdw10 & VNVME_FEAT_SV)
		return nvme_sc_cmd(VNVME_SC_FEATURE_NOT_SAVEABLE);
	switch (fid) {
	case VNVME_FID_ARBITRATION:
		f->arbitration = v;
		break;
	case VNVME_FID_POWER_MGMT:
		if ((v & 0x1f) > 0) /* NPSS = 0: only power state 0 */
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		f->power_mgmt = v & 0xff;
		break;
	case VNVME_FID_TEMP_THRESHOLD: {
		unsigned tmpsel = (v >> 16) & 0xf, thsel = (v >> 20) & 0x3;
		if (tmpsel > 8 || thsel > 1)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		(thsel ? f->temp_under : f->temp_over)[tmpsel] = (uint16_t)v;
		break;
	}
	case VNVME_FID_ERROR_RECOVERY:
		f->error_recovery = v & 0xffff; /* DULBE not supported */
		break;
	case VNVME_FID_VOLATILE_WC:
		/* Cleared: every later write is durable at completion (io.c);
		 * what earlier writes left in the cache needs a Flush. */
		if (!has_vwc(c))
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		vn_store_relaxed(&f->vwc, v & VNVME_FEAT_VWC_WCE);
		break;
	case VNVME_FID_NUM_QUEUES: {
		uint32_t nsq = v & 0xffff, ncq = v >> 16, max = c->o.max_ioqpairs - 1;
		if (nsq == 0xffff || ncq == 0xffff)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		if (any_io_queue(c))
			return nvme_sc(VNVME_SC_CMD_SEQ_ERROR);
		f->nq = VN_MIN(nsq, max) | VN_MIN(ncq, max) << 16;
		f->nq_set = true;
		*dw0 = f->nq;
		break;
	}
	case VNVME_FID_IRQ_COALESCING:
		f->irq_coalescing = v & 0xffff;
		break;
	case VNVME_FID_IRQ_VECTOR_CONFIG: {
		uint32_t iv = v & 0xffff;
		if (iv >= c->o.nr_vectors)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		f->ivc[iv] = v & VNVME_FEAT_IVC_CD;
		break;
	}
	case VNVME_FID_WRITE_ATOMICITY:
		f->write_atomicity = v & 1;
		break;
	case VNVME_FID_ASYNC_EVENT_CONFIG:
		f->aec = v;
		break;
	case VNVME_FID_TIMESTAMP: {
		uint64_t ts = 0;
		vnvme_status st = nvme_dptr_copy_in(t, sqe, &ts, 8, false);
		if (!vnvme_status_ok(st))
			return st;
		f->timestamp_ms = ts & 0xffffffffffffull;
		f->timestamp_set_ns = vn_now_ns();
		f->timestamp_set = true;
		break;
	}
	case VNVME_FID_SW_PROGRESS_MARKER:
		f->sw_progress = v & 0xff;
		break;
	default: /* KATO (KAS = 0), APST, HMB, host behavior, host identifier, ... */
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	}
	return NVME_OK;
}

static vnvme_status get_features(struct nvme_ctrl *c, const struct vnvme_sqe *sqe,
				 const struct vn_dma_table *t, uint32_t *dw0)
{
	unsigned fid = VNVME_FIELD_GET(sqe->cdw10, VNVME_FEAT_FID);
	unsigned sel = VNVME_FIELD_GET(sqe->cdw10, VNVME_FEAT_SEL);
	struct nvme_features def = {0}, *f = sel == VNVME_FEAT_SEL_CURRENT ? &c->feat : &def;
	uint32_t v = sqe->cdw11;

	if (sel > VNVME_FEAT_SEL_SUPPORTED)
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (fid == VNVME_FID_VOLATILE_WC && !has_vwc(c))
		return nvme_sc(VNVME_SC_INVALID_FIELD); /* no volatile write cache */
	switch (fid) {
	case VNVME_FID_ARBITRATION:
	case VNVME_FID_POWER_MGMT:
	case VNVME_FID_TEMP_THRESHOLD:
	case VNVME_FID_ERROR_RECOVERY:
	case VNVME_FID_VOLATILE_WC:
	case VNVME_FID_NUM_QUEUES:
	case VNVME_FID_IRQ_COALESCING:
	case VNVME_FID_IRQ_VECTOR_CONFIG:
	case VNVME_FID_WRITE_ATOMICITY:
	case VNVME_FID_ASYNC_EVENT_CONFIG:
	case VNVME_FID_TIMESTAMP:
	case VNVME_FID_SW_PROGRESS_MARKER:
		break;
	default:
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	}
	if (sel == VNVME_FEAT_SEL_SUPPORTED) {
		*dw0 = VNVME_FEAT_CAP_CHANGEABLE;
		return NVME_OK;
	}
	if (f == &def) { /* defaults (saved = default: nothing is saveable) */
		def.temp_over[0] = 343;
		def.vwc = VNVME_FEAT_VWC_WCE;
		def.nq = nq_default(c);
		def.arbitration = 0x7; /* no burst limit */
	}
	switch (fid) {
	case VNVME_FID_ARBITRATION:
		*dw0 = f->arbitration;
		break;
	case VNVME_FID_POWER_MGMT:
		*dw0 = f->power_mgmt;
		break;
	case VNVME_FID_TEMP_THRESHOLD: {
		unsigned tmpsel = (v >> 16) & 0xf, thsel = (v >> 20) & 0x3;
		if (tmpsel > 8 || thsel > 1)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		*dw0 = (thsel ? f->temp_under : f->temp_over)[tmpsel];
		break;
	}
	case VNVME_FID_ERROR_RECOVERY:
		*dw0 = f->error_recovery;
		break;
	case VNVME_FID_VOLATILE_WC:
		*dw0 = f->vwc;
		break;
	case VNVME_FID_NUM_QUEUES:
		*dw0 = f->nq_set || f == &def ? f->nq : nq_default(c);
		break;
	case VNVME_FID_IRQ_COALESCING:
		*dw0 = f->irq_coalescing;
		break;
	case VNVME_FID_IRQ_VECTOR_CONFIG: {
		uint32_t iv = v & 0xffff;
		if (iv >= c->o.nr_vectors)
			return nvme_sc(VNVME_SC_INVALID_FIELD);
		*dw0 = iv | (f == &def ? 0 : c->feat.ivc[iv]);
		break;
	}
	case VNVME_FID_WRITE_ATOMICITY:
		*dw0 = f->write_atomicity;
		break;
	case VNVME_FID_ASYNC_EVENT_CONFIG:
		*dw0 = f->aec;
		break;
	case VNVME_FID_TIMESTAMP: {
		uint8_t ts[8] = {0};
		uint64_t ms = 0;
		if (f->timestamp_set) {
			ms = f->timestamp_ms + (vn_now_ns() - f->timestamp_set_ns) / 1000000;
			ts[6] = 1u << 1; /* origin: set by Set Features */
		} else {
			ms = (vn_now_ns() - c->power_on_ns) / 1000000; /* since reset */
		}
		for (int i = 0; i < 6; i++)
			ts[i] = (uint8_t)(ms >> (8 * i));
		return nvme_dptr_copy_out(t, sqe, ts, sizeof(ts), false);
	}
	case VNVME_FID_SW_PROGRESS_MARKER:
		*dw0 = f->sw_progress;
		break;
	}
	return NVME_OK;
}

/* ------------------------------------------------------------------------ */
/* Queues (§5.4, §5.5, §5.6, §5.7) */

/* Posted to wake a sleeping poller so it sees a flag at once. */
static void wake_noop(void *arg)
{
	(void)arg;
}

static bool qid_ok(const struct nvme_ctrl *c, uint32_t qid, bool sq)
{
	uint32_t max = c->o.max_ioqpairs;

	if (c->feat.nq_set)
		max = VN_MIN(max, (sq ? (c->feat.nq & 0xffff) : (c->feat.nq >> 16)) + 1);
	return qid >= 1 && qid <= max;
}

static vnvme_status create_cq(struct nvme_ctrl *c, const struct vnvme_sqe *sqe)
{
	uint32_t qid = VNVME_FIELD_GET(sqe->cdw10, VNVME_CREATE_Q_QID);
	uint32_t qsize = vnvme_create_q_size(sqe);
	uint32_t iv = VNVME_FIELD_GET(sqe->cdw11, VNVME_CREATE_CQ_IV);
	bool ien = sqe->cdw11 & VNVME_CREATE_CQ_IEN;
	struct nvme_cq *cq;
	int ret;

	if (!qid_ok(c, qid, false) || c->cqs[qid])
		return nvme_sc_cmd(VNVME_SC_INVALID_QID);
	if (qsize < 2 || qsize > c->o.mqes)
		return nvme_sc_cmd(VNVME_SC_INVALID_QSIZE);
	if (!(sqe->cdw11 & VNVME_CREATE_Q_PC)) /* CAP.CQR = 1 */
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (iv >= c->o.nr_vectors)
		return nvme_sc_cmd(VNVME_SC_INVALID_INTERRUPT_VECTOR);
	if (vnvme_sqe_psdt(sqe) != VNVME_PSDT_PRP || (sqe->dptr.prp1 & (NVME_PAGE_SIZE - 1)))
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (VNVME_FIELD_GET(c->cc, VNVME_CC_IOCQES) != VNVME_CQES_LOG2)
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	ret = nvme_cq_create(c, (uint16_t)qid, sqe->dptr.prp1, qsize, ien, (uint16_t)iv, &cq);
	if (ret)
		return nvme_sc(ret == -EFAULT ? VNVME_SC_DATA_XFER_ERROR : VNVME_SC_INTERNAL);
	pthread_mutex_lock(&c->qlock);
	c->cqs[qid] = cq;
	pthread_mutex_unlock(&c->qlock);
	if (nvme_cq_start(cq)) {
		pthread_mutex_lock(&c->qlock);
		c->cqs[qid] = NULL;
		pthread_mutex_unlock(&c->qlock);
		nvme_cq_free(cq);
		return nvme_sc(VNVME_SC_INTERNAL);
	}
	return NVME_OK;
}

static vnvme_status create_sq(struct nvme_ctrl *c, const struct vnvme_sqe *sqe)
{
	uint32_t qid = VNVME_FIELD_GET(sqe->cdw10, VNVME_CREATE_Q_QID);
	uint32_t qsize = vnvme_create_q_size(sqe);
	uint32_t cqid = VNVME_FIELD_GET(sqe->cdw11, VNVME_CREATE_SQ_CQID);
	struct nvme_sq *sq;
	int ret;

	if (!qid_ok(c, qid, true) || c->sqs[qid])
		return nvme_sc_cmd(VNVME_SC_INVALID_QID);
	if (qsize < 2 || qsize > c->o.mqes)
		return nvme_sc_cmd(VNVME_SC_INVALID_QSIZE);
	if (cqid == 0 || cqid > c->o.max_ioqpairs || !c->cqs[cqid])
		return nvme_sc_cmd(VNVME_SC_CQ_INVALID);
	if (!(sqe->cdw11 & VNVME_CREATE_Q_PC))
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (vnvme_sqe_psdt(sqe) != VNVME_PSDT_PRP || (sqe->dptr.prp1 & (NVME_PAGE_SIZE - 1)))
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (VNVME_FIELD_GET(c->cc, VNVME_CC_IOSQES) != VNVME_SQES_LOG2)
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	ret = nvme_sq_create(c, (uint16_t)qid, sqe->dptr.prp1, qsize, c->cqs[cqid], &sq);
	if (ret)
		return nvme_sc(ret == -EFAULT ? VNVME_SC_DATA_XFER_ERROR : VNVME_SC_INTERNAL);
	sq->qprio = (uint16_t)VNVME_FIELD_GET(sqe->cdw11, VNVME_CREATE_SQ_QPRIO);
	pthread_mutex_lock(&c->qlock);
	c->sqs[qid] = sq;
	pthread_mutex_unlock(&c->qlock);
	if (nvme_sq_start(sq)) {
		pthread_mutex_lock(&c->qlock);
		c->sqs[qid] = NULL;
		pthread_mutex_unlock(&c->qlock);
		nvme_sq_free(sq);
		return nvme_sc(VNVME_SC_INTERNAL);
	}
	return NVME_OK;
}

static vnvme_status delete_sq(struct nvme_ctrl *c, const struct vnvme_sqe *sqe)
{
	uint32_t qid = VNVME_FIELD_GET(sqe->cdw10, VNVME_DELETE_Q_QID);
	struct nvme_sq *sq;

	if (qid == 0 || qid > c->o.max_ioqpairs || !(sq = c->sqs[qid]))
		return nvme_sc_cmd(VNVME_SC_INVALID_QID);
	/* The owning poller drains it and unlinks it; we complete when it is gone. */
	vn_store_release(&sq->deleting, 1u);
	vn_poller_post(c->o.pollers[sq->cq->poller], wake_noop, NULL);
	c->pending =
	    (struct nvme_pending){.active = true, .cid = sqe->cid, .opc = sqe->opc, .sq = sq};
	return NVME_PENDING;
}

static vnvme_status delete_cq(struct nvme_ctrl *c, const struct vnvme_sqe *sqe)
{
	uint32_t qid = VNVME_FIELD_GET(sqe->cdw10, VNVME_DELETE_Q_QID);
	struct nvme_cq *cq;

	if (qid == 0 || qid > c->o.max_ioqpairs || !(cq = c->cqs[qid]))
		return nvme_sc_cmd(VNVME_SC_INVALID_QID);
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		if (c->sqs[q] && c->sqs[q]->cq == cq) {
			if (c->san)
				nvme_san_delete_order(c, sqe->cid, qid, q);
			return nvme_sc_cmd(VNVME_SC_INVALID_QUEUE_DELETION);
		}
	}
	vn_store_release(&cq->stopping, 1u);
	vn_poller_post(c->o.pollers[cq->poller], wake_noop, NULL);
	c->pending =
	    (struct nvme_pending){.active = true, .cid = sqe->cid, .opc = sqe->opc, .cq = cq};
	return NVME_PENDING;
}

/* ------------------------------------------------------------------------ */
/* Asynchronous events (§5.2) */

/* Post queued events, oldest first, while Asynchronous Event Requests are
 * outstanding; one of a type still masked waits, without holding up the
 * events of other types behind it. */
static void aen_deliver(struct nvme_ctrl *c, struct nvme_sq *asq)
{
	for (unsigned i = 0; i < c->aen_count && c->aer_count;) {
		uint32_t ev = c->aen_pending[i];
		unsigned type = ev & VNVME_AER_TYPE_MASK;

		if (c->aen_masked & (1u << type)) {
			i++;
			continue;
		}
		memmove(c->aen_pending + i, c->aen_pending + i + 1,
			(--c->aen_count - i) * sizeof(uint32_t));
		/* Until the host reads the log, events of this type stay masked. */
		c->aen_masked |= 1u << type;
		nvme_cq_post(asq->cq, asq, c->aer_cids[--c->aer_count], NVME_OK, ev);
	}
}

static void aen_queue(struct nvme_ctrl *c, uint32_t ev)
{
	for (unsigned i = 0; i < c->aen_count; i++)
		if (c->aen_pending[i] == ev)
			return;
	if (c->aen_count < VN_ARRAY_SIZE(c->aen_pending))
		c->aen_pending[c->aen_count++] = ev;
}

void nvme_admin_poll_pending(struct nvme_ctrl *c, struct nvme_sq *asq)
{
	struct nvme_pending *p = &c->pending;
	uint32_t raised;

	if (unlikely(vn_load_relaxed(&c->aen_raise))) {
		raised = __atomic_exchange_n(&c->aen_raise, 0u, __ATOMIC_ACQ_REL);
		if (raised & NVME_AEN_INVALID_DB) {
			/* Error event, Invalid Doorbell Write Value, log 01h. */
			aen_queue(c, 0x0 | 0x1 << 8 | VNVME_LID_ERROR << 16);
			nvme_errlog_add(c, 0xffff, 0xffff, nvme_sc(VNVME_SC_INVALID_FIELD), 0, 0);
		}
		/* Notice, Namespace Attribute Changed, log 04h (§5.2.1, Figure
		 * "Asynchronous Event Information - Notice"), when Feature 0Bh
		 * enables it. Once one is posted, none is queued until the host
		 * reads the log with RAE cleared (then the masked type clears):
		 * the log it reads lists what changed meanwhile (QEMU: one
		 * event per bit newly set in its changed_nsids). Linux rescans
		 * its namespaces on it (nvme_handle_aen_notice). */
		if ((raised & NVME_AEN_NS_CHANGED) && (c->feat.aec & VNVME_OAES_NS_ATTR) &&
		    !(c->aen_masked & 1u << VNVME_AER_TYPE_NOTICE))
			aen_queue(c, VNVME_AER_TYPE_NOTICE |
					 VNVME_AER_NOTICE_NS_ATTR_CHANGED << VNVME_AER_INFO_SHIFT |
					 VNVME_LID_CHANGED_NS_LIST << VNVME_AER_LID_SHIFT);
	}
	if (c->aen_count && c->aer_count)
		aen_deliver(c, asq);
	if (!p->active)
		return;
	if (p->done) {
		p->active = false;
		nvme_cq_post(asq->cq, asq, p->cid, p->st, 0);
		nvme_svc_add(asq, vn_tsc() - p->tsc, 1);
		return;
	}
	/* Unpublished under qlock: a statistics reader on the control thread
	 * holds it while it reads the queue. */
	if (p->sq && vn_load_acquire(&p->sq->gone)) {
		pthread_mutex_lock(&c->qlock);
		nvme_queue_retire(c, p->sq, NULL);
		c->sqs[p->sq->qid] = NULL;
		pthread_mutex_unlock(&c->qlock);
		nvme_sq_free(p->sq);
	} else if (p->cq && vn_load_acquire(&p->cq->gone)) {
		pthread_mutex_lock(&c->qlock);
		nvme_queue_retire(c, NULL, p->cq);
		c->cqs[p->cq->qid] = NULL;
		pthread_mutex_unlock(&c->qlock);
		nvme_cq_free(p->cq);
	} else {
		return;
	}
	p->active = false;
	nvme_cq_post(asq->cq, asq, p->cid, NVME_OK, 0);
	nvme_svc_add(asq, vn_tsc() - p->tsc, 1);
}

/* ------------------------------------------------------------------------ */
/* Format NVM (§5.23) */

/*
 * The next steps of a Format NVM: for each namespace left, erase it (SES
 * 001b: deallocate everything, reads return zeroes) and switch its LBA
 * format. An erase the backend completes later (file: an io_uring
 * fallocate) returns NVME_PENDING; nvme_admin_io_done() goes on from there
 * when it is reaped, with the poller's other I/O. The admin poller never
 * waits on a channel it shares with I/O queues. The host has stopped I/O
 * to the namespaces (§5.23).
 */
static vnvme_status format_next(struct nvme_ctrl *c)
{
	struct nvme_format *fm = &c->fmt;

	for (; fm->nsid <= fm->last; fm->nsid++, fm->erased = false) {
		struct nvme_ns *ns = ns_get(c, fm->nsid); /* detached meanwhile: skipped */

		if (!ns)
			continue;
		if (fm->erase && !fm->erased) {
			struct nvme_req *r = &c->admin_req;
			int ret;

			r->io = (struct vn_be_io){
			    .op = VN_BE_DISCARD, .len = vn_be_size(ns->be), .ctx = r};
			fm->erased = true;
			ret = vn_be_submit(ns->chan[0], &r->io);
			if (ret == 0) {
				c->admin_io_inflight++;
				return NVME_PENDING;
			}
			if (ret < 0 || r->io.result)
				return nvme_sc_media(VNVME_SC_WRITE_FAULT);
		}
		ns->lbads = fm->lbads;
		ns->lba_size = 1u << ns->lbads;
		ns->nlb = vn_be_size(ns->be) >> ns->lbads;
	}
	return NVME_OK;
}

void nvme_admin_io_done(struct nvme_req *r)
{
	struct nvme_ctrl *c = vn_container_of(r, struct nvme_ctrl, admin_req);
	struct nvme_pending *p = &c->pending;
	vnvme_status st;

	c->admin_io_inflight--;
	/* A reset stops the admin queue: nobody waits for the rest. */
	if (!p->active || vn_load_relaxed(&c->cqs[0]->stopping))
		return;
	st = r->io.result ? nvme_sc_media(VNVME_SC_WRITE_FAULT) : format_next(c);
	if (nvme_is_pending(st))
		return;
	p->st = st;
	p->done = true; /* posted by nvme_admin_poll_pending, in order */
}

static vnvme_status format(struct nvme_ctrl *c, const struct vnvme_sqe *sqe)
{
	unsigned lbaf = sqe->cdw10 & 0xf, ses = (sqe->cdw10 >> 9) & 0x7;
	uint32_t first = sqe->nsid, last = sqe->nsid;
	vnvme_status st;

	if (lbaf > 1 || (sqe->cdw10 & ~(0xfu | 0x7u << 9)))
		return nvme_sc_cmd(VNVME_SC_INVALID_FORMAT); /* no metadata, no PI */
	if (ses > 1)
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (sqe->nsid == VNVME_NSID_ALL) {
		first = 1;
		last = c->nn;
	} else if (!active_ns(c, sqe->nsid)) {
		return nvme_sc(VNVME_SC_INVALID_NS_OR_FORMAT);
	}
	c->fmt = (struct nvme_format){
	    .nsid = first, .last = last, .lbads = lbaf ? 12 : 9, .erase = ses != 0};
	st = format_next(c);
	if (nvme_is_pending(st))
		c->pending =
		    (struct nvme_pending){.active = true, .cid = sqe->cid, .opc = sqe->opc};
	return st;
}

/* ------------------------------------------------------------------------ */
/* Doorbell Buffer Config (§5.8): shadow doorbells and EventIdx in host memory.
 * Emulated controllers poll the shadows, so the host need not write the
 * (trapped, in most emulations) doorbell registers. */

static vnvme_status dbbuf_config(struct nvme_ctrl *c, const struct vnvme_sqe *sqe,
				 const struct vn_dma_table *t)
{
	uint64_t dbbuf = sqe->dptr.prp1, ei = sqe->dptr.prp2;
	uint64_t need = 8ull * (c->o.max_ioqpairs + 1);

	if (!dbbuf || !ei || (dbbuf | ei) & (NVME_PAGE_SIZE - 1))
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	if (!vn_dma_find(t, dbbuf, need, VN_DMA_READ) || !vn_dma_find(t, ei, need, VN_DMA_WRITE))
		return nvme_sc(VNVME_SC_DATA_XFER_ERROR);
	c->dbbuf_iova = dbbuf;
	c->ei_iova = ei;
	/* Every CQ's poller re-translates its queues' shadows. */
	__atomic_fetch_add(&c->dbbuf_gen, 1u, __ATOMIC_RELEASE);
	return NVME_OK;
}

/* ------------------------------------------------------------------------ */

vnvme_status nvme_admin_exec(struct nvme_ctrl *c, struct nvme_sq *sq, const struct vnvme_sqe *sqe,
			     uint32_t *dw0)
{
	const struct vn_dma_table *t = vn_dma_table_get(c->o.dma);

	(void)sq;
	c->admin_cmds++;
	if (vnvme_sqe_fuse(sqe) || vnvme_sqe_psdt(sqe) != VNVME_PSDT_PRP)
		return nvme_sc(VNVME_SC_INVALID_FIELD); /* admin data uses PRPs only */
	switch (sqe->opc) {
	case VNVME_ADM_DELETE_SQ:
		return delete_sq(c, sqe);
	case VNVME_ADM_CREATE_SQ:
		return create_sq(c, sqe);
	case VNVME_ADM_GET_LOG_PAGE:
		return get_log(c, sqe, t);
	case VNVME_ADM_DELETE_CQ:
		return delete_cq(c, sqe);
	case VNVME_ADM_CREATE_CQ:
		return create_cq(c, sqe);
	case VNVME_ADM_IDENTIFY:
		return identify(c, sqe, t);
	case VNVME_ADM_ABORT:
		*dw0 = VNVME_ABORT_DW0_NOT_ABORTED; /* commands run to completion */
		return NVME_OK;
	case VNVME_ADM_SET_FEATURES:
		return set_features(c, sqe, t, dw0);
	case VNVME_ADM_GET_FEATURES:
		return get_features(c, sqe, t, dw0);
	case VNVME_ADM_ASYNC_EVENT_REQ:
		if (c->aer_count > NVME_AERL)
			return nvme_sc_cmd(VNVME_SC_AER_LIMIT_EXCEEDED);
		c->aer_cids[c->aer_count++] = sqe->cid;
		return NVME_PENDING;
	case VNVME_ADM_FORMAT_NVM:
		return format(c, sqe);
	case VNVME_ADM_DBBUF_CONFIG:
		return dbbuf_config(c, sqe, t);
	default:
		return nvme_sc(VNVME_SC_INVALID_OPCODE);
	}
}

void nvme_admin_reset_state(struct nvme_ctrl *c)
{
	uint32_t *ivc = c->feat.ivc;

	memset(&c->feat, 0, sizeof(c->feat));
	memset(ivc, 0, c->o.nr_vectors * sizeof(*ivc));
	c->feat.ivc = ivc;
	c->feat.temp_over[0] = 343;
	c->feat.vwc = VNVME_FEAT_VWC_WCE;
	c->feat.arbitration = 0x7;
	c->pending.active = false;
	c->dbbuf_iova = c->ei_iova = 0;
	__atomic_fetch_add(&c->dbbuf_gen, 1u, __ATOMIC_RELEASE);
	c->aer_count = 0;
	c->aen_count = 0;
	c->aen_masked = 0;
	vn_store_relaxed(&c->aen_raise, 0u);
	c->power_on_ns = vn_now_ns();
}
