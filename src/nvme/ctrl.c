/* SPDX-License-Identifier: MIT */
/*
 * Controller registers and lifecycle (NVMe Base 2.0c §3.1 "Controller
 * Properties", §3.5 "Controller Initialization", §3.6 "Shutdown"). Runs on
 * the control thread. Queues are stopped through their pollers: a flag, then
 * a wait until each poller has let go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvme/priv.h"
#include "util/tsc.h"

#define CAP_TO 20 /* CAP.TO: 10 s in 500 ms units */

const char *nvme_ctrl_name(const struct nvme_ctrl *c)
{
	return c->name;
}

static void wake_noop(void *arg)
{
	(void)arg;
}

/* Wait until a queue's poller has let go of it (flag set by the poller). */
static bool wait_flag(struct nvme_ctrl *c, uint32_t *flag, unsigned poller)
{
	vn_poller_post(c->o.pollers[poller], wake_noop, NULL);
	for (unsigned i = 0; i < 1000000; i++) {
		if (vn_load_acquire(flag))
			return true;
		if (vn_poller_step(c->o.pollers[poller]))
			continue; /* an inline poller: its round ran here */
		struct timespec ts = {0, 10000};
		nanosleep(&ts, NULL);
	}
	vn_err("%s: a queue did not stop within 10 s", c->name);
	return false;
}

static void fence_fn(void *arg)
{
	vn_store_release((uint32_t *)arg, 1u);
}

/*
 * Wait until every message posted to the controller's pollers so far has
 * run: a poller runs its messages in order, so once one more posted now has
 * run, the earlier ones have. False if a poller did not answer (then what
 * the messages name must not be freed, nor the flags they set).
 */
static bool fence_pollers(struct nvme_ctrl *c)
{
	uint32_t *done = calloc(c->o.nr_pollers, sizeof(*done));
	bool ok = true;

	if (!done)
		return false;
	for (unsigned p = 0; p < c->o.nr_pollers; p++) {
		if (vn_poller_post(c->o.pollers[p], fence_fn, &done[p])) {
			done[p] = 1; /* nothing of ours to wait for there ... */
			ok = false;  /* ... but no fence either */
		}
	}
	for (unsigned p = 0; p < c->o.nr_pollers; p++) {
		if (!wait_flag(c, &done[p], p))
			return false; /* leak: a queued message still names done */
	}
	free(done);
	return ok;
}

/* Stop every queue; admin first, so no admin command creates more meanwhile. */
static void stop_queues(struct nvme_ctrl *c)
{
	struct nvme_cq *acq = c->cqs[0];

	if (acq) {
		vn_store_release(&acq->stopping, 1u);
		if (!wait_flag(c, &acq->gone, acq->poller))
			return; /* leak rather than free what a poller may use */
	}
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		if (c->cqs[q])
			vn_store_release(&c->cqs[q]->stopping, 1u);
	}
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		if (c->cqs[q] && !wait_flag(c, &c->cqs[q]->gone, c->cqs[q]->poller))
			return;
	}
	/*
	 * A CQ that let go may still have messages queued on its poller: an
	 * SQ's attach (sq_attach_fn) posted by a Create I/O SQ just before
	 * CC.EN = 0, behind the CQ's own attach that saw `stopping` and set
	 * `gone`. A poller runs its messages in order, so one more message
	 * that we wait for, on each poller, runs after all of them: only then
	 * is nothing queued that names these queues.
	 */
	if (!fence_pollers(c))
		return; /* leak rather than free what a message may still use */
	for (uint32_t q = 0; q <= c->o.max_ioqpairs; q++) {
		struct nvme_sq *sq = c->sqs[q];
		struct nvme_cq *cq = c->cqs[q];

		if (!sq && !cq)
			continue;
		pthread_mutex_lock(&c->qlock); /* the statistics may be reading them */
		nvme_queue_retire(c, sq, cq);
		c->sqs[q] = NULL;
		c->cqs[q] = NULL;
		pthread_mutex_unlock(&c->qlock);
		nvme_sq_free(sq);
		nvme_cq_free(cq);
	}
	memset(c->o.doorbells, 0, nvme_doorbell_bytes(c->o.max_ioqpairs));
	for (uint32_t i = 1; i <= NVME_MAX_NS; i++) {
		struct nvme_ns *ns = c->ns[i];
		if (ns && ns->model)
			nvme_model_restart(ns->model);
	}
	nvme_admin_reset_state(c);
}

static bool enable(struct nvme_ctrl *c, uint32_t cc)
{
	uint32_t asqs = VNVME_FIELD_GET(c->aqa, VNVME_AQA_ASQS) + 1;
	uint32_t acqs = VNVME_FIELD_GET(c->aqa, VNVME_AQA_ACQS) + 1;
	struct nvme_cq *cq;
	struct nvme_sq *sq;

	if (VNVME_FIELD_GET(cc, VNVME_CC_CSS) != VNVME_CC_CSS_NVM) {
		vn_warn_rl(&c->rl_cc, "%s: guest: CC.CSS %u not supported (CAP.CSS: NVM only)",
			   c->name, VNVME_FIELD_GET(cc, VNVME_CC_CSS));
		return false;
	}
	if (VNVME_FIELD_GET(cc, VNVME_CC_MPS) != 0) {
		vn_warn_rl(&c->rl_cc, "%s: guest: CC.MPS %u outside CAP.MPSMIN..MPSMAX (0..0)",
			   c->name, VNVME_FIELD_GET(cc, VNVME_CC_MPS));
		return false;
	}
	if (asqs < 2 || acqs < 2) {
		vn_warn_rl(&c->rl_cc, "%s: guest: admin queues of %u/%u entries (AQA 0x%x)",
			   c->name, asqs, acqs, c->aqa);
		return false;
	}
	nvme_admin_reset_state(c);
	if (nvme_cq_create(c, 0, c->acq, acqs, true, 0, &cq)) {
		vn_warn_rl(&c->rl_cc, "%s: guest: ACQ 0x%llx (%u entries) is not in the DMA map",
			   c->name, (unsigned long long)c->acq, acqs);
		return false;
	}
	if (nvme_sq_create(c, 0, c->asq, asqs, cq, &sq)) {
		vn_warn_rl(&c->rl_cc, "%s: guest: ASQ 0x%llx (%u entries) is not in the DMA map",
			   c->name, (unsigned long long)c->asq, asqs);
		nvme_cq_free(cq);
		return false;
	}
	pthread_mutex_lock(&c->qlock);
	c->cqs[0] = cq;
	c->sqs[0] = sq;
	pthread_mutex_unlock(&c->qlock);
	nvme_cq_start(cq);
	nvme_sq_start(sq);
	return true;
}

/* Shutdown processing complete (CSTS.SHST): the host may only reset now. */
static bool shut_down(struct nvme_ctrl *c)
{
	return VNVME_FIELD_GET(vn_load_acquire(&c->csts), VNVME_CSTS_SHST) ==
	       VNVME_CSTS_SHST_COMPLETE;
}

static void cc_write(struct nvme_ctrl *c, uint32_t val)
{
	uint32_t old = c->cc;

	if (!(old & VNVME_CC_EN) && (val & VNVME_CC_EN)) {
		if (c->san)
			nvme_san_enable(c);
		c->cc = val;
		if (enable(c, val)) {
			c->enabled = true;
			__atomic_fetch_or(&c->csts, VNVME_CSTS_RDY, __ATOMIC_ACQ_REL);
			vn_info_rl(&c->rl_cc, "%s: enabled (admin queues %u/%u)", c->name,
				   VNVME_FIELD_GET(c->aqa, VNVME_AQA_ASQS) + 1,
				   VNVME_FIELD_GET(c->aqa, VNVME_AQA_ACQS) + 1);
		} else {
			nvme_ctrl_fatal(c, "invalid configuration at CC.EN = 1");
		}
		return;
	}
	if ((old & VNVME_CC_EN) && !(val & VNVME_CC_EN)) {
		/* §3.7.2 "Controller Reset": queues deleted, registers other
		 * than AQA/ASQ/ACQ reset, RDY cleared. */
		if (c->san && shut_down(c))
			nvme_san_quiet(c, true);
		stop_queues(c);
		c->enabled = false;
		c->cc = val;
		vn_store_release(&c->csts, 0u);
		vn_info_rl(&c->rl_cc, "%s: disabled", c->name);
		return;
	}
	if ((val & VNVME_CC_EN) && VNVME_FIELD_GET(val, VNVME_CC_SHN) &&
	    !VNVME_FIELD_GET(old, VNVME_CC_SHN)) {
		/* §3.6 "Shutdown": stop processing, then report complete. */
		uint32_t cs = vn_load_acquire(&c->csts);
		stop_queues(c);
		cs &= ~(VNVME_CSTS_SHST_MASK << VNVME_CSTS_SHST_SHIFT);
		cs |= VNVME_CSTS_SHST_COMPLETE << VNVME_CSTS_SHST_SHIFT;
		vn_store_release(&c->csts, cs);
		c->cc = val;
		vn_info_rl(&c->rl_cc, "%s: shutdown (%s)", c->name,
			   VNVME_FIELD_GET(val, VNVME_CC_SHN) == VNVME_CC_SHN_ABRUPT ? "abrupt"
										     : "normal");
		return;
	}
	/* While enabled only SHN may change; while disabled every field is R/W
	 * (Linux reads CC back before it sets EN). */
	c->cc = (old & VNVME_CC_EN) ? (old & ~(VNVME_CC_SHN_MASK << VNVME_CC_SHN_SHIFT)) |
					  (val & (VNVME_CC_SHN_MASK << VNVME_CC_SHN_SHIFT))
				    : val;
}

static uint32_t read32(struct nvme_ctrl *c, uint32_t off)
{
	switch (off) {
	case VNVME_REG_CAP:
		return (uint32_t)c->cap;
	case VNVME_REG_CAP + 4:
		return (uint32_t)(c->cap >> 32);
	case VNVME_REG_VS:
		return c->vs;
	case VNVME_REG_INTMS:
	case VNVME_REG_INTMC:
		return c->intms;
	case VNVME_REG_CC:
		return c->cc;
	case VNVME_REG_CSTS:
		return vn_load_acquire(&c->csts);
	case VNVME_REG_AQA:
		return c->aqa;
	case VNVME_REG_ASQ:
		return (uint32_t)c->asq;
	case VNVME_REG_ASQ + 4:
		return (uint32_t)(c->asq >> 32);
	case VNVME_REG_ACQ:
		return (uint32_t)c->acq;
	case VNVME_REG_ACQ + 4:
		return (uint32_t)(c->acq >> 32);
	default:
		return 0; /* CMBLOC, CMBSZ, BPINFO ...: not supported; reserved */
	}
}

/* One dword of a 64-bit queue base register; the low 12 bits are reserved
 * (the queues are page aligned). */
static void set_half(uint64_t *reg, uint32_t half, uint32_t v)
{
	if (half)
		*reg = (*reg & 0xffffffffull) | (uint64_t)v << 32;
	else
		*reg = (*reg & ~0xffffffffull) | (v & ~0xfffu);
}

static void write32(struct nvme_ctrl *c, uint32_t off, uint32_t v)
{
	switch (off) {
	case VNVME_REG_INTMS:
		c->intms |= v;
		break;
	case VNVME_REG_INTMC:
		c->intms &= ~v;
		break;
	case VNVME_REG_CC:
		cc_write(c, v);
		break;
	case VNVME_REG_AQA:
		if (!c->enabled) {
			c->aqa_raw = v; /* the sanitizer looks at the reserved bits */
			c->aqa =
			    v & (VNVME_AQA_ASQS_MASK | VNVME_AQA_ACQS_MASK << VNVME_AQA_ACQS_SHIFT);
		}
		break;
	case VNVME_REG_ASQ:
	case VNVME_REG_ASQ + 4:
		if (!c->enabled)
			set_half(&c->asq, off - VNVME_REG_ASQ, v);
		break;
	case VNVME_REG_ACQ:
	case VNVME_REG_ACQ + 4:
		if (!c->enabled)
			set_half(&c->acq, off - VNVME_REG_ACQ, v);
		break;
	default:
		break; /* read-only (CAP, VS, CSTS), NSSR (NSSRS = 0), reserved */
	}
}

int nvme_ctrl_reg_read(struct nvme_ctrl *c, uint64_t off, void *buf, uint32_t len)
{
	uint8_t *b = buf;

	if (!vn_range_ok(off, len, VNVME_REG_DBS))
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = (uint32_t)(off + i);
		b[i] = (uint8_t)(read32(c, o & ~3u) >> (8 * (o & 3)));
	}
	return 0;
}

int nvme_ctrl_reg_write(struct nvme_ctrl *c, uint64_t off, const void *buf, uint32_t len)
{
	const uint8_t *b = buf;

	if (!vn_range_ok(off, len, VNVME_REG_DBS))
		return -EINVAL;
	/* Dword by dword, in address order (a 64-bit ASQ write: low then high).
	 * A partial dword merges with the current value. */
	for (uint64_t d = off & ~3ull; d < off + len; d += 4) {
		uint32_t v = read32(c, (uint32_t)d);
		bool touched = false;

		if (d == VNVME_REG_INTMS || d == VNVME_REG_INTMC)
			v = 0; /* write-1-to-set/clear: no merge */
		for (unsigned k = 0; k < 4; k++) {
			uint64_t a = d + k;
			if (a >= off && a < off + len) {
				v = (v & ~(0xffu << (8 * k))) | (uint32_t)b[a - off] << (8 * k);
				touched = true;
			}
		}
		if (touched)
			write32(c, (uint32_t)d, v);
	}
	return 0;
}

void nvme_queue_retire(struct nvme_ctrl *c, const struct nvme_sq *sq, const struct nvme_cq *cq)
{
	if (sq && sq->qid) {
		c->gone_cmds += sq->cmds;
		c->gone_errors += sq->errors;
		c->gone_bytes_read += sq->dir_bytes[NVME_DIR_READ];
		c->gone_bytes_written += sq->dir_bytes[NVME_DIR_WRITE];
		c->gone_read_cmds += sq->dir_cmds[NVME_DIR_READ];
		c->gone_write_cmds += sq->dir_cmds[NVME_DIR_WRITE];
		/* Its poller let go: no race. Not if cleared by a reset since. */
		if (sq->svc_gen == c->stats_gen)
			vn_hist_merge(c->gone_svc, sq->svc);
	}
	if (cq && cq->qid)
		c->gone_irqs += cq->irqs;
}

void nvme_ctrl_reset(struct nvme_ctrl *c)
{
	if (c->san && (!c->enabled || shut_down(c)))
		nvme_san_quiet(c, c->enabled);
	if (c->cqs[0] || c->enabled)
		stop_queues(c);
	if (c->enabled &&
	    !(vn_load_acquire(&c->csts) & (VNVME_CSTS_SHST_COMPLETE << VNVME_CSTS_SHST_SHIFT)))
		c->unsafe_shutdowns++;
	c->enabled = false;
	c->cc = 0;
	c->aqa = c->aqa_raw = 0;
	c->asq = c->acq = 0;
	c->intms = 0;
	vn_store_release(&c->csts, 0u);
}

/* ------------------------------------------------------------------------ */

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Whether the backend completes through vn_be_poll (file), not inline. */
static bool be_async(const struct vn_be *be)
{
	uint8_t *mem;

	return vn_be_direct(be, &mem) == VN_BE_DIRECT_NONE;
}

static void ns_free(struct nvme_ctrl *c, struct nvme_ns *ns)
{
	for (unsigned p = 0; p < c->o.nr_pollers; p++)
		vn_be_chan_close(ns->chan[p]);
	nvme_model_free(ns->model);
	free(ns);
}

/* A namespace of c, complete but not published. */
static int ns_new(struct nvme_ctrl *c, const struct nvme_ns_opts *no, struct nvme_ns **out,
		  const char **err)
{
	struct nvme_ns *ns;
	uint64_t h;

	if (no->lba_size != 512 && no->lba_size != 4096) {
		*err = "the LBA size must be 512 or 4096";
		return -EINVAL;
	}
	if (!no->be || vn_be_size(no->be) < no->lba_size) {
		*err = "a namespace needs a backend of at least one LBA";
		return -EINVAL;
	}
	if (no->model) {
		char why[8];
		if (nvme_model_conf_check(no->model, why, sizeof(why))) {
			*err = "the device model is invalid (nvme_model_conf_check)";
			return -EINVAL;
		}
	}
	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	if (no->model && nvme_model_new(no->model, no->nsid, c->o.max_ioqpairs,
					vn_tsc_ns_per_tick(), &ns->model)) {
		free(ns);
		return -ENOMEM;
	}
	ns->nsid = no->nsid;
	ns->lbads = no->lba_size == 4096 ? 12 : 9;
	ns->lba_size = no->lba_size;
	ns->nlb = vn_be_size(no->be) >> ns->lbads;
	ns->be = no->be;
	ns->mem_size = vn_be_size(no->be);
	vn_be_direct(ns->be, &ns->mem);
	/* Unique per serial and NSID: Linux rejects duplicate NGUIDs. */
	h = fnv1a(c->serial, strlen(c->serial), 0xcbf29ce484222325ull);
	h = fnv1a(&ns->nsid, sizeof(ns->nsid), h);
	memcpy(ns->nguid, "vnvme\0\0\0", 8);
	memcpy(ns->nguid + 8, &h, 8);
	memcpy(ns->eui64, &h, 8);
	ns->eui64[0] = 0x02; /* locally administered */
	for (unsigned p = 0; p < c->o.nr_pollers; p++) {
		int ret = vn_be_chan_open(ns->be, &ns->chan[p]);
		if (ret) {
			*err = "cannot open a backend channel";
			for (unsigned q = 0; q < p; q++)
				vn_be_chan_close(ns->chan[q]);
			nvme_model_free(ns->model);
			free(ns);
			return ret;
		}
	}
	*out = ns;
	return 0;
}

/*
 * Make ns visible to the pollers: what they test before they use it
 * (async_ns, fast_ns, ns_hi, io_ns) first, then the pointer commands look
 * up, with a release store (pairs with ns_get's acquire): a poller that
 * finds it finds it complete, and finds the rest too.
 */
static void ns_publish(struct nvme_ctrl *c, struct nvme_ns *ns)
{
	uint32_t nsid = ns->nsid;

	/* A namespace with a model takes the general path for every command
	 * (its delays and errors are decided there): never a fast one. */
	if (be_async(ns->be))
		vn_store_relaxed(&c->async_ns, true);
	else if (!ns->model)
		vn_store_relaxed(&c->fast_ns[nsid], ns);
	if (nsid > c->ns_hi)
		vn_store_relaxed(&c->ns_hi, nsid);
	vn_store_release(&c->io_ns[nsid], ns);
	vn_store_release(&c->ns[nsid], ns);
}

static void wake_admin(struct nvme_ctrl *c)
{
	vn_poller_post(c->o.pollers[0], wake_noop, NULL);
}

/* The host is told: the Changed Namespace List log gets nsid, the admin
 * poller raises the event (admin.c, nvme_admin_poll_pending). */
static void ns_changed(struct nvme_ctrl *c, uint32_t nsid)
{
	__atomic_fetch_or(&c->ns_changed, 1ull << (nsid - 1), __ATOMIC_RELAXED);
	__atomic_fetch_or(&c->aen_raise, NVME_AEN_NS_CHANGED, __ATOMIC_RELEASE);
	wake_admin(c);
}

struct ns_quiesce {
	struct nvme_ctrl *c;
	const struct nvme_ns *ns;
	unsigned poller;
	uint32_t busy;
	uint32_t done;
};

static void ns_quiesce_fn(void *arg)
{
	struct ns_quiesce *q = arg;

	q->busy = nvme_ns_quiesce_local(q->c, q->ns, q->poller);
	vn_store_release(&q->done, 1u);
}

/*
 * Wait until no poller holds ns (unpublished already): each runs
 * nvme_ns_quiesce_local, which makes it forget ns as a fast-path kind and
 * counts its I/O still in flight there, until every count is 0. A poller
 * runs posted messages between rounds, so a round that found ns before it
 * was unpublished has ended when the message runs, and what it left in
 * flight is counted; nothing new starts. In-flight I/O completes in the
 * pollers' next rounds (ram staged I/O right away, file I/O when the
 * kernel completes it). 0, or -EBUSY after 10 s, or at once when the
 * controller is in fatal state (CSTS.CFS: until a reset, no poller
 * completes anything).
 */
static int ns_drain(struct nvme_ctrl *c, const struct nvme_ns *ns)
{
	unsigned n = c->o.nr_pollers;
	struct ns_quiesce *q = calloc(n, sizeof(*q));

	if (!q)
		return -ENOMEM;
	for (unsigned round = 0; round < 100000; round++) {
		uint32_t busy = 0;

		for (unsigned p = 0; p < n; p++) {
			q[p] = (struct ns_quiesce){.c = c, .ns = ns, .poller = p};
			if (vn_poller_post(c->o.pollers[p], ns_quiesce_fn, &q[p])) {
				for (unsigned k = 0; k < p; k++)
					if (!wait_flag(c, &q[k].done, k))
						return -EBUSY; /* leak: a message names q */
				free(q);
				return -ENOMEM;
			}
		}
		for (unsigned p = 0; p < n; p++) {
			if (!wait_flag(c, &q[p].done, p))
				return -EBUSY; /* leak: a message still names q */
			busy += q[p].busy;
		}
		if (!busy) {
			free(q);
			return 0;
		}
		/* Fatal state: nothing completes before a reset; do not hold
		 * up the control thread for it. */
		if (vn_load_acquire(&c->csts) & VNVME_CSTS_CFS)
			break;
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	free(q);
	return -EBUSY;
}

int nvme_ctrl_ns_attach(struct nvme_ctrl *c, const struct nvme_ns_opts *o, const char **err)
{
	struct nvme_ns *ns;
	int ret;

	*err = NULL;
	if (o->nsid < 1 || o->nsid > NVME_MAX_NS) {
		*err = "namespace IDs are 1..32";
		return -EINVAL;
	}
	if (c->ns[o->nsid]) {
		*err = "a namespace is attached at this NSID already";
		return -EEXIST;
	}
	if (c->io_ns[o->nsid]) {
		*err = "the namespace detached from this NSID still has I/O in flight; detach it "
		       "again first";
		return -EBUSY;
	}
	ret = ns_new(c, o, &ns, err);
	if (ret)
		return ret;
	ns_publish(c, ns);
	ns_changed(c, ns->nsid);
	vn_info("%s: namespace %u attached (%llu blocks of %u bytes, %s)", c->name, ns->nsid,
		(unsigned long long)ns->nlb, ns->lba_size, vn_be_name(ns->be));
	return 0;
}

int nvme_ctrl_ns_detach(struct nvme_ctrl *c, uint32_t nsid, const char **err)
{
	struct nvme_ns *ns;
	bool async = false;
	int ret;

	*err = NULL;
	if (nsid < 1 || nsid > NVME_MAX_NS) {
		*err = "namespace IDs are 1..32";
		return -EINVAL;
	}
	ns = c->io_ns[nsid];
	if (!ns) {
		*err = "no namespace is attached at this NSID";
		return -ENOENT;
	}
	if (c->ns[nsid]) {
		/* Lookups fail from now on: Invalid Namespace or Format. */
		vn_store_relaxed(&c->fast_ns[nsid], NULL);
		vn_store_release(&c->ns[nsid], NULL);
		ns_changed(c, nsid);
	}
	ret = ns_drain(c, ns);
	if (ret) {
		*err = "the namespace's I/O in flight did not complete (within 10 s, or the "
		       "controller is in fatal state until a reset): the host no longer sees it, "
		       "but its backend is still in use";
		vn_warn("%s: namespace %u: %s", c->name, nsid, *err);
		return ret;
	}
	/* Unpublished for the reaping loops too; once every poller has run a
	 * round more, none is inside them with ns. */
	vn_store_release(&c->io_ns[nsid], NULL);
	if (!fence_pollers(c)) {
		*err = "a polling thread did not answer: the namespace's memory is left alone";
		return -EBUSY;
	}
	ns_free(c, ns);
	for (uint32_t i = 1; i <= c->ns_hi; i++)
		if (c->io_ns[i] && be_async(c->io_ns[i]->be))
			async = true;
	/* Clearing it only spares the pollers the reaping loop: a poller
	 * that still sees it set finds nothing to reap. */
	vn_store_relaxed(&c->async_ns, async);
	vn_info("%s: namespace %u detached", c->name, nsid);
	return 0;
}

int nvme_ctrl_create(const struct nvme_ctrl_opts *o, struct nvme_ctrl **out, const char **err)
{
	struct nvme_ctrl *c;
	int ret = -EINVAL;

	*err = NULL;
	if (o->max_ioqpairs < 1 || o->max_ioqpairs > NVME_MAX_QUEUES) {
		*err = "queues must be 1..1024";
		return -EINVAL;
	}
	if (o->mqes < 2 || o->mqes > 65536) {
		*err = "queue depth must be 2..65536";
		return -EINVAL;
	}
	if (o->trace &&
	    (o->trace_entries < o->mqes || (o->trace_entries & (o->trace_entries - 1)))) {
		*err =
		    "trace table: entries per queue must be a power of 2, at least the queue depth";
		return -EINVAL;
	}
	if (o->nr_pollers < 1 || o->nr_pollers > NVME_MAX_POLLERS || !o->pollers) {
		*err = "1..64 polling threads";
		return -EINVAL;
	}
	if (o->nr_ns > NVME_MAX_NS || !o->doorbells || !o->dma || !o->irq || o->nr_vectors < 1) {
		*err = "bad controller options";
		return -EINVAL;
	}
	if (posix_memalign((void **)&c, VN_CACHELINE, sizeof(*c)))
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->qlock, NULL);
	c->o = *o;
	snprintf(c->name, sizeof(c->name), "%s", o->name ? o->name : "nvme");
	snprintf(c->serial, sizeof(c->serial), "%s", o->serial ? o->serial : "VNVME0000");
	snprintf(c->model, sizeof(c->model), "%s", o->model ? o->model : "vnvme emulated NVMe");
	c->mdts = o->mdts ? o->mdts : 5;
	c->sqs = calloc(o->max_ioqpairs + 1, sizeof(*c->sqs));
	c->cqs = calloc(o->max_ioqpairs + 1, sizeof(*c->cqs));
	c->feat.ivc = calloc(o->nr_vectors, sizeof(*c->feat.ivc));
	if (!c->sqs || !c->cqs || !c->feat.ivc) {
		ret = -ENOMEM;
		goto err;
	}
	c->nn = NVME_MAX_NS;
	if (nvme_san_init(c)) {
		ret = -ENOMEM;
		goto err;
	}
	c->qbase = calloc(o->max_ioqpairs + 1, sizeof(*c->qbase));
	c->gone_svc = malloc(sizeof(*c->gone_svc));
	if (!c->qbase || !c->gone_svc) {
		ret = -ENOMEM;
		goto err;
	}
	vn_hist_init(c->gone_svc);
	for (uint32_t i = 0; i < o->nr_ns; i++) {
		struct nvme_ns *ns;

		if (o->ns[i].nsid < 1 || o->ns[i].nsid > NVME_MAX_NS || c->ns[o->ns[i].nsid]) {
			*err = "namespace IDs must be unique, 1..32";
			ret = -EINVAL;
			goto err;
		}
		ret = ns_new(c, &o->ns[i], &ns, err);
		if (ret)
			goto err;
		ns_publish(c, ns);
	}
	/* §3.1.3.1: MQES (0's based), CQR, TO, DSTRD 0, CSS NVM, MPSMIN = MPSMAX = 0. */
	c->cap = (uint64_t)(o->mqes - 1) | VNVME_CAP_CQR | (uint64_t)CAP_TO << VNVME_CAP_TO_SHIFT |
		 (uint64_t)VNVME_CAP_CSS_NVM << VNVME_CAP_CSS_SHIFT;
	c->vs = VNVME_VS(1, 4, 0);
	nvme_admin_reset_state(c);
	*out = c;
	return 0;
err:
	for (uint32_t i = 1; i <= NVME_MAX_NS; i++)
		if (c->io_ns[i])
			ns_free(c, c->io_ns[i]);
	nvme_san_fini(c);
	free(c->qbase);
	free(c->gone_svc);
	free(c->sqs);
	free(c->cqs);
	free(c->feat.ivc);
	pthread_mutex_destroy(&c->qlock);
	free(c);
	return ret;
}

void nvme_ctrl_destroy(struct nvme_ctrl *c)
{
	if (!c)
		return;
	nvme_ctrl_reset(c);
	/* The queues are stopped (their I/O reaped): detached namespaces
	 * still draining (io_ns only) go too. */
	for (uint32_t i = 1; i <= NVME_MAX_NS; i++)
		if (c->io_ns[i])
			ns_free(c, c->io_ns[i]);
	nvme_san_fini(c);
	free(c->qbase);
	free(c->gone_svc);
	free(c->sqs);
	free(c->cqs);
	free(c->feat.ivc);
	pthread_mutex_destroy(&c->qlock);
	free(c);
}

/*
 * Statistics. They run on the control thread (or any thread) while the
 * admin poller creates and deletes queues: qlock keeps every queue found in
 * c->sqs / c->cqs alive while it is read; the counters themselves are
 * single-writer, read racily (a snapshot, not a transaction). A reset
 * (nvme_ctrl_reset_stats) writes none of them: it records a baseline that
 * reads subtract.
 */

/* A queue's counters as they are (qlock held). */
static void qstat_raw(const struct nvme_sq *sq, struct nvme_qstat_base *b)
{
	const struct nvme_cq *cq = sq->cq;

	b->sq_serial = sq->serial;
	b->cq_serial = cq->serial;
	b->cmds = vn_load_relaxed(&sq->cmds);
	b->errors = vn_load_relaxed(&sq->errors);
	b->bytes_read = vn_load_relaxed(&sq->dir_bytes[NVME_DIR_READ]);
	b->bytes_written = vn_load_relaxed(&sq->dir_bytes[NVME_DIR_WRITE]);
	b->read_cmds = vn_load_relaxed(&sq->dir_cmds[NVME_DIR_READ]);
	b->write_cmds = vn_load_relaxed(&sq->dir_cmds[NVME_DIR_WRITE]);
	for (unsigned i = 0; i < NVME_QSTAT_ERR_SLOTS; i++)
		b->err_cnt[i] = vn_load_acquire(&sq->err_cnt[i]); /* then err_sts[i] */
	b->err_other = vn_load_relaxed(&sq->err_other);
	b->irqs = vn_load_relaxed(&cq->irqs);
	b->polls = vn_load_relaxed(&cq->polls);
	b->busy_polls = vn_load_relaxed(&cq->busy_polls);
}

/*
 * An SQ's service times since the last reset (qlock held): empty while its
 * poller has not yet cleared them for the reset (stats_gen: it does when it
 * next records). Acquire pairs with nvme_svc_reset's release: seen
 * current, the histogram is cleared; and no reset comes while we hold
 * qlock, so no clear starts while we copy.
 */
static void svc_get(struct nvme_ctrl *c, const struct nvme_sq *sq, struct vn_hist *h)
{
	if (vn_load_acquire(&sq->svc_gen) == c->stats_gen)
		vn_hist_copy(h, sq->svc);
	else
		vn_hist_init(h);
}

/* One queue's statistics: raw minus its baseline, where the baseline is of
 * the same queue (serials), not of one deleted since. */
static void qstat_get(struct nvme_ctrl *c, const struct nvme_sq *sq, struct nvme_queue_stats *o)
{
	const struct nvme_qstat_base *b = &c->qbase[sq->qid];
	struct nvme_qstat_base r;
	bool sb, cb;

	qstat_raw(sq, &r);
	sb = b->sq_serial == r.sq_serial;
	cb = b->cq_serial == r.cq_serial;
	memset(o, 0, sizeof(*o));
	o->qid = sq->qid;
	o->cqid = sq->cqid;
	o->poller = sq->cq->poller;
	o->size = sq->size;
	o->inflight = vn_load_relaxed(&sq->inflight);
	o->cmds = r.cmds - (sb ? b->cmds : 0);
	o->errors = r.errors - (sb ? b->errors : 0);
	o->bytes_read = r.bytes_read - (sb ? b->bytes_read : 0);
	o->bytes_written = r.bytes_written - (sb ? b->bytes_written : 0);
	o->read_cmds = r.read_cmds - (sb ? b->read_cmds : 0);
	o->write_cmds = r.write_cmds - (sb ? b->write_cmds : 0);
	for (unsigned i = 0; i < NVME_QSTAT_ERR_SLOTS; i++) {
		uint64_t n = r.err_cnt[i] - (sb ? b->err_cnt[i] : 0);
		if (n)
			o->err[o->nr_err++] = (struct nvme_queue_err){
			    .status = vn_load_relaxed(&sq->err_sts[i]), .count = n};
	}
	o->err_other = r.err_other - (sb ? b->err_other : 0);
	o->irqs = r.irqs - (cb ? b->irqs : 0);
	o->polls = r.polls - (cb ? b->polls : 0);
	o->busy_polls = r.busy_polls - (cb ? b->busy_polls : 0);
	svc_get(c, sq, &o->svc);
}

/* The controller's totals as they are (qlock held): those of the queues
 * deleted so far, and of the live ones. */
static void totals_raw(struct nvme_ctrl *c, struct nvme_ctrl_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->admin_cmds = vn_load_relaxed(&c->admin_cmds);
	out->io_cmds = c->gone_cmds;
	out->io_errors = c->gone_errors;
	out->bytes_read = c->gone_bytes_read;
	out->bytes_written = c->gone_bytes_written;
	out->irqs = c->gone_irqs;
	out->csts = vn_load_acquire(&c->csts);
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		struct nvme_sq *sq = c->sqs[q];
		struct nvme_cq *cq = c->cqs[q];

		if (sq) {
			out->nr_io_sq++;
			out->io_cmds += vn_load_relaxed(&sq->cmds);
			out->io_errors += vn_load_relaxed(&sq->errors);
			out->bytes_read += vn_load_relaxed(&sq->dir_bytes[NVME_DIR_READ]);
			out->bytes_written += vn_load_relaxed(&sq->dir_bytes[NVME_DIR_WRITE]);
		}
		if (cq) {
			out->nr_io_cq++;
			out->irqs += vn_load_relaxed(&cq->irqs);
		}
	}
}

void nvme_ctrl_get_stats(struct nvme_ctrl *c, struct nvme_ctrl_stats *out)
{
	const struct nvme_ctrl_stats *b = &c->base_tot;

	pthread_mutex_lock(&c->qlock);
	totals_raw(c, out);
	/* Totals only grow: the baseline is never above them. */
	out->admin_cmds -= b->admin_cmds;
	out->io_cmds -= b->io_cmds;
	out->io_errors -= b->io_errors;
	out->bytes_read -= b->bytes_read;
	out->bytes_written -= b->bytes_written;
	out->irqs -= b->irqs;
	/* Service times: the deleted queues' and the live ones', each as it
	 * is since the reset (no baseline). */
	vn_hist_init(&out->svc);
	vn_hist_merge(&out->svc, c->gone_svc);
	for (uint32_t q = 1; q <= c->o.max_ioqpairs; q++) {
		struct vn_hist h;

		if (!c->sqs[q])
			continue;
		svc_get(c, c->sqs[q], &h);
		vn_hist_merge(&out->svc, &h);
	}
	pthread_mutex_unlock(&c->qlock);
}

int nvme_ctrl_get_queue_stats(struct nvme_ctrl *c, struct nvme_queue_stats *out, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->qlock);
	for (uint32_t q = 0; q <= c->o.max_ioqpairs && n < max; q++)
		if (c->sqs[q])
			qstat_get(c, c->sqs[q], &out[n++]);
	pthread_mutex_unlock(&c->qlock);
	return (int)n;
}

void nvme_ctrl_reset_stats(struct nvme_ctrl *c)
{
	pthread_mutex_lock(&c->qlock);
	/* The service-time histograms: a new generation (priv.h, stats_gen). */
	vn_store_release(&c->stats_gen, c->stats_gen + 1);
	vn_hist_init(c->gone_svc);
	totals_raw(c, &c->base_tot);
	for (uint32_t q = 0; q <= c->o.max_ioqpairs; q++) {
		if (c->sqs[q])
			qstat_raw(c->sqs[q], &c->qbase[q]);
		else
			memset(&c->qbase[q], 0, sizeof(c->qbase[q]));
	}
	pthread_mutex_unlock(&c->qlock);
}

/* A service-time percentile in nanoseconds (0 when empty). */
static unsigned long long svc_ns(const struct vn_hist *h, double p)
{
	return (unsigned long long)vn_tsc_to_ns(vn_hist_percentile(h, p));
}

void nvme_ctrl_print_stats(struct nvme_ctrl *c, FILE *f)
{
	struct nvme_ctrl_stats st;
	/* Printed after qlock is released: a slow stdout never holds up the
	 * admin poller. */
	struct nvme_queue_stats *qs = calloc(c->o.max_ioqpairs + 1, sizeof(*qs));
	int n = qs ? nvme_ctrl_get_queue_stats(c, qs, c->o.max_ioqpairs + 1) : 0;

	nvme_ctrl_get_stats(c, &st);
	fprintf(f,
		"%s: csts 0x%x admin %llu io %llu errors %llu read %llu B written %llu B irqs "
		"%llu queues %u/%u p50 %llu ns p99 %llu ns\n",
		c->name, st.csts, (unsigned long long)st.admin_cmds, (unsigned long long)st.io_cmds,
		(unsigned long long)st.io_errors, (unsigned long long)st.bytes_read,
		(unsigned long long)st.bytes_written, (unsigned long long)st.irqs, st.nr_io_sq,
		st.nr_io_cq, svc_ns(&st.svc, 50), svc_ns(&st.svc, 99));
	for (int i = 0; i < n; i++) {
		const struct nvme_queue_stats *q = &qs[i];

		if (!q->qid)
			continue; /* the admin queue: in the line above */
		fprintf(f,
			"%s sq%u: cq%u poller %u cmds %llu errors %llu read %llu B written %llu B "
			"polls %llu busy %.1f%% irqs %llu p50 %llu ns p99 %llu ns\n",
			c->name, q->qid, q->cqid, q->poller, (unsigned long long)q->cmds,
			(unsigned long long)q->errors, (unsigned long long)q->bytes_read,
			(unsigned long long)q->bytes_written, (unsigned long long)q->polls,
			q->polls ? 100.0 * (double)q->busy_polls / (double)q->polls : 0.0,
			(unsigned long long)q->irqs, svc_ns(&q->svc, 50), svc_ns(&q->svc, 99));
	}
	free(qs);
	nvme_san_print(c, f);
}
