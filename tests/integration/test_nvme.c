/* SPDX-License-Identifier: MIT */
/* The NVMe controller through vfio-user, driven by the minimal host in
 * nvme_host.h: admin commands and their error statuses, I/O with PRPs and
 * SGLs, interrupts, resets. */
#include "nvme_host.h"
#include "target_env.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../proc_field.h"
#include "../test_filter.h"
#include "target/config.h"
#include "nvme/priv.h"

struct tfx {
	struct target_env e; /* two polling threads */
	char path[100];
	char file[2][100]; /* file namespaces' backing files */
	struct vnvme_dev *dev;
	struct host h;
	uint32_t qdepth;    /* the controller's MQES + 1; 0: 256 */
	unsigned be_qdepth; /* the file backend's io_uring entries; 0: its default */
};

static int make_target(struct tfx *f, enum vn_be_type type, uint32_t nr_ns)
{
	struct vnvme_dev_conf c;
	char err[256] = "";

	vn_dev_conf_defaults(&c);
	memcpy(c.socket, f->path, strlen(f->path) + 1); /* < 108: see setup() */
	c.queues = type == VN_BE_FILE ? 8 : 4;
	c.qdepth = f->qdepth ? f->qdepth : 256;
	c.nr_ns = nr_ns;
	for (uint32_t i = 0; i < nr_ns; i++) {
		c.ns[i].be.type = type;
		c.ns[i].be.size = 16u << 20;
		c.ns[i].lba_size = 512;
		if (type == VN_BE_FILE) {
			snprintf(f->file[i], sizeof(f->file[i]), "%s/ns%u.img", f->e.dir, i + 1);
			c.ns[i].be.path = f->file[i];
			c.ns[i].be.qdepth = f->be_qdepth;
		}
	}
	return vnvme_dev_create(&c, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 2, &f->dev, err,
				sizeof(err));
}

static int setup_be(void **state, uint32_t qdepth, enum vn_be_type type, unsigned be_qdepth,
		    uint32_t nr_ns)
{
	struct tfx *f = calloc(1, sizeof(*f));

	f->qdepth = qdepth;
	f->be_qdepth = be_qdepth;
	tenv_init(&f->e, "nvme", 2);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	assert_int_equal(make_target(f, type, nr_ns), 0);
	tenv_run(&f->e);
	assert_int_equal(h_connect(&f->h, f->path), 0);
	h_enable(&f->h, 32);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_be(state, 0, VN_BE_RAM, 0, 2);
}

/* A controller whose queues may have the largest legal size: MQES 0xffff. */
static int setup_mqes_max(void **state)
{
	return setup_be(state, 65536, VN_BE_RAM, 0, 2);
}

/* One namespace on the file backend, whose io_uring takes 8 requests. */
static int setup_file(void **state)
{
	return setup_be(state, 0, VN_BE_FILE, 8, 1);
}

/* Two file namespaces (io_uring: completions come later). */
static int setup_file2(void **state)
{
	return setup_be(state, 0, VN_BE_FILE, 0, 2);
}

static int teardown(void **state)
{
	struct tfx *f = *state;

	h_close(&f->h);
	vnvme_dev_destroy(f->dev);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

/* After a storm of hostile commands: ready, never fatal, and a Write then
 * Read of LBA 3 on I/O queue 1 still round-trips. */
static void h_still_correct(struct host *h)
{
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe w = h_rw(VNVME_NVM_WRITE, 1, 3, 1);

	assert_int_equal(h_reg32(h, VNVME_REG_CSTS) & (VNVME_CSTS_RDY | VNVME_CSTS_CFS),
			 VNVME_CSTS_RDY);
	memset(buf, 0x3c, 512);
	w.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &w, NULL), 0);
	memset(buf, 0, 512);
	w.opc = VNVME_NVM_READ;
	assert_sc(hq_cmd(&h->io[0], &w, NULL), 0);
	assert_int_equal(buf[0], 0x3c);
	assert_int_equal(buf[511], 0x3c);
}

static void test_registers_after_enable(void **state)
{
	struct tfx *f = *state;
	uint64_t cap = 0;

	assert_int_equal(vu_client_region_read(f->h.c, 0, VNVME_REG_CAP, &cap, 8), 0);
	assert_int_equal(VNVME_FIELD_GET(cap, VNVME_CAP_MQES), 255);
	assert_true(cap & VNVME_CAP_CQR);
	assert_int_equal(VNVME_FIELD_GET(cap, VNVME_CAP_TO), 20);
	assert_int_equal(VNVME_FIELD_GET(cap, VNVME_CAP_DSTRD), 0);
	assert_int_equal(VNVME_FIELD_GET(cap, VNVME_CAP_CSS), VNVME_CAP_CSS_NVM);
	assert_int_equal(VNVME_FIELD_GET(cap, VNVME_CAP_MPSMIN), 0);
	assert_int_equal(h_reg32(&f->h, VNVME_REG_VS), VNVME_VS(1, 4, 0));
	assert_int_equal(h_reg32(&f->h, VNVME_REG_CC) & VNVME_CC_EN, VNVME_CC_EN);
	/* Registers are read-only while enabled where the spec says so. */
	h_wreg32(&f->h, VNVME_REG_AQA, 0x00030003);
	assert_int_equal(h_reg32(&f->h, VNVME_REG_AQA), 0x001f001f);
}

static void test_identify_controller_and_namespaces(void **state)
{
	struct tfx *f = *state;
	uint8_t *buf = f->h.mem + H_DATA;
	struct vnvme_id_ctrl *ic = (void *)buf;
	struct vnvme_id_ns *ns = (void *)buf;
	uint32_t *list = (void *)buf;

	assert_sc(h_identify(&f->h, VNVME_CNS_CTRL, 0, 0, buf), 0);
	assert_int_equal(ic->vid, 0x4e58);
	assert_int_equal(ic->sqes, 0x66);
	assert_int_equal(ic->cqes, 0x44);
	assert_int_equal(ic->nn, NVME_MAX_NS); /* any NSID a namespace may be attached at */
	assert_int_equal(ic->oaes, VNVME_OAES_NS_ATTR);
	assert_int_equal(ic->mdts, 5);
	assert_int_equal(ic->cntlid, 1);
	assert_int_equal(ic->ver, VNVME_VS(1, 4, 0));
	assert_true(ic->oncs & VNVME_ONCS_DSM);
	assert_int_equal(ic->vwc, 0); /* ram: no volatile write cache */
	assert_memory_equal(ic->sn, "VNVME", 5);
	assert_non_null(strstr(ic->subnqn, "nqn.2026-11.io.vnvme:"));

	assert_sc(h_identify(&f->h, VNVME_CNS_NS, 1, 0, buf), 0);
	assert_int_equal(ns->nsze, (16u << 20) / 512);
	assert_int_equal(ns->ncap, ns->nsze);
	assert_int_equal(ns->lbaf[ns->flbas & 0xf].lbads, 9);
	uint8_t nguid1[16];
	memcpy(nguid1, ns->nguid, 16);
	assert_sc(h_identify(&f->h, VNVME_CNS_NS, 2, 0, buf), 0);
	assert_memory_not_equal(nguid1, ns->nguid, 16); /* unique per namespace */

	assert_sc(h_identify(&f->h, VNVME_CNS_ACTIVE_NS_LIST, 0, 0, buf), 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 0);
	assert_sc(h_identify(&f->h, VNVME_CNS_ACTIVE_NS_LIST, 1, 0, buf), 0);
	assert_int_equal(list[0], 2);
	assert_sc(h_identify(&f->h, VNVME_CNS_CSI_ACTIVE_NS_LIST, 0, VNVME_CSI_NVM, buf), 0);
	assert_int_equal(list[0], 1);

	/* Descriptors: NGUID first, matching CNS 00h; the CSI descriptor. */
	assert_sc(h_identify(&f->h, VNVME_CNS_NS_DESC_LIST, 1, 0, buf), 0);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[1], 16);
	assert_memory_equal(buf + 4, nguid1, 16);
	assert_int_equal(buf[32], 4);

	assert_sc(h_identify(&f->h, VNVME_CNS_CSI_CTRL, 0, VNVME_CSI_NVM, buf), 0);
	assert_sc(h_identify(&f->h, VNVME_CNS_CSI_NS, 1, VNVME_CSI_NVM, buf), 0);
	assert_sc(h_identify(&f->h, VNVME_CNS_IOCS, 0, 0, buf), 0);
	assert_int_equal(buf[0], 1);

	/* Errors. */
	assert_sc(h_identify(&f->h, VNVME_CNS_NS, 0, 0, buf), VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_sc(h_identify(&f->h, VNVME_CNS_NS, NVME_MAX_NS + 1, 0, buf),
		  VNVME_SC_INVALID_NS_OR_FORMAT);
	/* An inactive NSID within NN: all zeroes (NVMe Base 2.0c §5.17.2.1). */
	memset(buf, 0xa5, 4096);
	assert_sc(h_identify(&f->h, VNVME_CNS_NS, 3, 0, buf), 0);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	assert_sc(h_identify(&f->h, VNVME_CNS_NS_DESC_LIST, 9, 0, buf),
		  VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_sc(h_identify(&f->h, VNVME_CNS_CSI_CTRL, 0, VNVME_CSI_ZNS, buf),
		  VNVME_SC_INVALID_FIELD);
	assert_sc(h_identify(&f->h, 0x42, 0, 0, buf), VNVME_SC_INVALID_FIELD);
	/* A data pointer outside the DMA map. */
	struct vnvme_sqe s = {.opc = VNVME_ADM_IDENTIFY, .cdw10 = VNVME_CNS_CTRL};
	s.dptr.prp1 = 0x7000000000ull;
	assert_sc(h_admin(&f->h, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	/* SGLs are not for admin commands. */
	s.dptr.prp1 = h_iova(&f->h, buf);
	s.flags = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	assert_sc(h_admin(&f->h, &s, NULL), VNVME_SC_INVALID_FIELD);
	/* Unknown opcode. */
	struct vnvme_sqe u = {.opc = 0x55};
	assert_sc(h_admin(&f->h, &u, NULL), VNVME_SC_INVALID_OPCODE);
}

static uint16_t create_cq_raw(struct host *h, uint32_t qid, uint32_t size, uint32_t cdw11,
			      uint64_t prp1)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_CREATE_CQ};
	s.dptr.prp1 = prp1;
	s.cdw10 = qid | (size - 1) << 16;
	s.cdw11 = cdw11;
	return h_admin(h, &s, NULL);
}

static uint16_t create_sq_raw(struct host *h, uint32_t qid, uint32_t size, uint32_t cqid,
			      uint32_t flags, uint64_t prp1)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_CREATE_SQ};
	s.dptr.prp1 = prp1;
	s.cdw10 = qid | (size - 1) << 16;
	s.cdw11 = flags | cqid << 16;
	return h_admin(h, &s, NULL);
}

static uint16_t delete_q(struct host *h, uint8_t opc, uint32_t qid)
{
	struct vnvme_sqe s = {.opc = opc, .cdw10 = qid};
	return h_admin(h, &s, NULL);
}

static void test_queue_creation_errors(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint64_t q = H_IOVA + H_IOQ;
	const uint32_t PC = VNVME_CREATE_Q_PC;

	/* CQ: qid 0, beyond the maximum, size 1, beyond MQES, not contiguous,
	 * bad vector, misaligned or unmapped memory. */
	assert_sc(create_cq_raw(h, 0, 16, PC, q), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(create_cq_raw(h, 5, 16, PC, q), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(create_cq_raw(h, 1, 1, PC, q), SC(1, VNVME_SC_INVALID_QSIZE));
	assert_sc(create_cq_raw(h, 1, 257, PC, q), SC(1, VNVME_SC_INVALID_QSIZE));
	assert_sc(create_cq_raw(h, 1, 16, 0, q), VNVME_SC_INVALID_FIELD);
	assert_sc(create_cq_raw(h, 1, 16, PC | VNVME_CREATE_CQ_IEN | 5u << 16, q),
		  SC(1, VNVME_SC_INVALID_INTERRUPT_VECTOR));
	assert_sc(create_cq_raw(h, 1, 16, PC, q + 8), VNVME_SC_INVALID_FIELD);
	assert_sc(create_cq_raw(h, 1, 16, PC, 0x7000000000ull), VNVME_SC_DATA_XFER_ERROR);
	assert_sc(create_cq_raw(h, 1, 16, PC, q), 0);
	assert_sc(create_cq_raw(h, 1, 16, PC, q), SC(1, VNVME_SC_INVALID_QID)); /* exists */

	/* SQ: bad qid, size, CQ, not contiguous. */
	assert_sc(create_sq_raw(h, 0, 16, 1, PC, q + 0x1000), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(create_sq_raw(h, 1, 1, 1, PC, q + 0x1000), SC(1, VNVME_SC_INVALID_QSIZE));
	assert_sc(create_sq_raw(h, 1, 16, 2, PC, q + 0x1000), SC(1, VNVME_SC_CQ_INVALID));
	assert_sc(create_sq_raw(h, 1, 16, 0, PC, q + 0x1000), SC(1, VNVME_SC_CQ_INVALID));
	assert_sc(create_sq_raw(h, 1, 16, 1, 0, q + 0x1000), VNVME_SC_INVALID_FIELD);
	/* The ring must fit in the map: 256 x 64 bytes in the last page do not. */
	assert_sc(create_sq_raw(h, 1, 256, 1, PC, H_IOVA + H_MEMSZ - 4096),
		  VNVME_SC_DATA_XFER_ERROR);
	assert_sc(create_sq_raw(h, 1, 16, 1, PC, q + 0x1000), 0);

	/* Delete: the CQ while its SQ exists, unknown queues, then in order. */
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), SC(1, VNVME_SC_INVALID_QUEUE_DELETION));
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 2), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 0), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 0), SC(1, VNVME_SC_INVALID_QID));
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 1), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), SC(1, VNVME_SC_INVALID_QID));
	/* And again: the IDs are free. */
	h_create_ioq(h, 1, 16, false, 0);
}

static uint16_t feat(struct host *h, uint8_t opc, uint32_t cdw10, uint32_t cdw11, uint32_t *dw0)
{
	struct vnvme_sqe s = {.opc = opc, .cdw10 = cdw10, .cdw11 = cdw11};
	s.dptr.prp1 = H_IOVA + H_DATA;
	return h_admin(h, &s, dw0);
}

static void test_features(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint32_t dw0 = 0;

	/* Number of queues: grants at most the maximum (4 pairs: 3, 0's based). */
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_NUM_QUEUES, 0, &dw0), 0);
	assert_int_equal(dw0, 0x00030003);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_NUM_QUEUES, 0x00400001, &dw0), 0);
	assert_int_equal(dw0, 0x00030001);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_NUM_QUEUES, 0xffff, &dw0),
		  VNVME_SC_INVALID_FIELD);
	/* qid 3 > granted NSQR + 1 = 2. */
	assert_sc(create_cq_raw(h, 1, 16, VNVME_CREATE_Q_PC, H_IOVA + H_IOQ), 0);
	assert_sc(create_sq_raw(h, 3, 16, 1, VNVME_CREATE_Q_PC, H_IOVA + H_IOQ + 0x1000),
		  SC(1, VNVME_SC_INVALID_QID));
	/* Once queues exist, the count cannot change. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_NUM_QUEUES, 0, &dw0),
		  VNVME_SC_CMD_SEQ_ERROR);

	/* Temperature threshold: per sensor and kind. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_TEMP_THRESHOLD, 350, NULL), 0);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_TEMP_THRESHOLD, 0, &dw0), 0);
	assert_int_equal(dw0, 350);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_TEMP_THRESHOLD | 1u << 8, 0, &dw0), 0);
	assert_int_equal(dw0, 343); /* default */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_TEMP_THRESHOLD, 3u << 20, NULL),
		  VNVME_SC_INVALID_FIELD);
	/* No volatile write cache on ram namespaces: no Feature 06h. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_VOLATILE_WC, 0, NULL),
		  VNVME_SC_INVALID_FIELD);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_VOLATILE_WC, 0, &dw0),
		  VNVME_SC_INVALID_FIELD);
	/* Arbitration, async event config, coalescing. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_ASYNC_EVENT_CONFIG, 0x1ff, NULL), 0);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ASYNC_EVENT_CONFIG, 0, &dw0), 0);
	assert_int_equal(dw0, 0x1ff);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_IRQ_COALESCING, 0x0a04, NULL), 0);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_IRQ_VECTOR_CONFIG, 2 | 1u << 16, NULL),
		  0);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_IRQ_VECTOR_CONFIG, 0, &dw0), 0);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_IRQ_VECTOR_CONFIG, 2, &dw0), 0);
	assert_int_equal(dw0, 2 | 1u << 16);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_IRQ_VECTOR_CONFIG, 99, NULL),
		  VNVME_SC_INVALID_FIELD);
	/* Power management: power state 0 only. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_POWER_MGMT, 1, NULL),
		  VNVME_SC_INVALID_FIELD);
	/* Timestamp: set, then read back a time at least as late. */
	uint64_t ts = 1700000000000ull;
	memcpy(h->mem + H_DATA, &ts, 8);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_TIMESTAMP, 0, NULL), 0);
	memset(h->mem + H_DATA, 0, 8);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_TIMESTAMP, 0, NULL), 0);
	uint64_t back = 0;
	memcpy(&back, h->mem + H_DATA, 6);
	assert_true(back >= ts && back < ts + 10000);
	/* Save is not supported; select "supported capabilities"; unknown IDs. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_ARBITRATION | VNVME_FEAT_SV, 0, NULL),
		  SC(1, VNVME_SC_FEATURE_NOT_SAVEABLE));
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ARBITRATION | 3u << 8, 0, &dw0), 0);
	assert_int_equal(dw0, VNVME_FEAT_CAP_CHANGEABLE);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ARBITRATION | 5u << 8, 0, &dw0),
		  VNVME_SC_INVALID_FIELD);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, 0x77, 0, &dw0), VNVME_SC_INVALID_FIELD);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_KATO, 1000, NULL),
		  VNVME_SC_INVALID_FIELD);
}

static uint16_t get_log(struct host *h, uint8_t lid, uint32_t nsid, uint32_t bytes, uint64_t off)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_LOG_PAGE, .nsid = nsid};
	uint32_t numd = bytes / 4 - 1;
	s.dptr.prp1 = H_IOVA + H_DATA;
	s.dptr.prp2 = H_IOVA + H_DATA + 4096;
	s.cdw10 = lid | (numd & 0xffff) << 16;
	s.cdw11 = numd >> 16;
	s.cdw12 = (uint32_t)off;
	s.cdw13 = (uint32_t)(off >> 32);
	return h_admin(h, &s, NULL);
}

static void test_log_pages_and_error_log(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_smart_log *sl = (void *)(h->mem + H_DATA);
	struct vnvme_error_log_entry *el = (void *)(h->mem + H_DATA);
	struct vnvme_fw_slot_log *fw = (void *)(h->mem + H_DATA);
	struct vnvme_effects_log *ef = (void *)(h->mem + H_DATA);

	assert_sc(get_log(h, VNVME_LID_SMART, VNVME_NSID_ALL, 512, 0), 0);
	assert_int_equal(sl->temperature[0] | sl->temperature[1] << 8, 313);
	assert_int_equal(sl->avail_spare, 100);
	assert_int_equal(sl->spare_thresh, 10);
	assert_sc(get_log(h, VNVME_LID_SMART, 1, 512, 0), VNVME_SC_INVALID_FIELD);
	assert_sc(get_log(h, VNVME_LID_FW_SLOT, 0, 512, 0), 0);
	assert_int_equal(fw->afi, 1);
	assert_sc(get_log(h, VNVME_LID_CMD_EFFECTS, 0, 4096, 0), 0);
	assert_true(ef->acs[VNVME_ADM_IDENTIFY] & 1);
	assert_true(ef->iocs[VNVME_NVM_WRITE] & 1);
	assert_sc(get_log(h, 0x42, 0, 512, 0), SC(1, VNVME_SC_INVALID_LOG_PAGE));
	assert_sc(get_log(h, VNVME_LID_SMART, 0, 512, 513), VNVME_SC_INVALID_FIELD); /* unaligned */
	assert_sc(get_log(h, VNVME_LID_SMART, 0, 512, 1024), VNVME_SC_INVALID_FIELD); /* beyond */
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, (128u << 10) + 4, 0),
		  VNVME_SC_INVALID_FIELD); /* beyond MDTS (io_check_mdts) */
	/* An offset into the log. */
	assert_sc(get_log(h, VNVME_LID_FW_SLOT, 0, 8, 8), 0);
	assert_memory_equal(h->mem + H_DATA, "0.1     ", 8);

	/* Errors land in the error log, newest first. */
	struct vnvme_sqe bad = {.opc = 0x55};
	uint16_t cid;
	assert_sc(h_admin(h, &bad, NULL), VNVME_SC_INVALID_OPCODE);
	cid = (uint16_t)(h->admin.cid - 1);
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, 4096, 0), 0);
	assert_true(el[0].error_count >= 1);
	assert_int_equal(el[0].cid, cid);
	assert_int_equal(el[0].sqid, 0);
	assert_int_equal((el[0].status >> 1) & 0xff, VNVME_SC_INVALID_OPCODE);
}

/*
 * Error log entries of I/O commands name the namespace and the first LBA
 * of the command (for DSM, the range) that failed; an admin command's, the
 * namespace it named.
 */
static void test_error_log_entries_carry_namespace_and_lba(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_error_log_entry *el = (void *)(h->mem + H_DATA);
	struct vnvme_dsm_range *r = (void *)(h->mem + H_DATA + 0x100000);
	uint8_t *buf = h->mem + H_DATA + 0x200000;
	const uint64_t nlb = (16u << 20) / 512;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	/* LBA out of range on namespace 2 (the general path and the fast one). */
	s = h_rw(VNVME_NVM_READ, 2, nlb - 1, 2);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, 4096, 0), 0);
	assert_int_equal(el[0].sqid, 1);
	assert_int_equal(el[0].cid, s.cid);
	assert_int_equal(el[0].nsid, 2);
	assert_int_equal(el[0].lba, nlb - 1);
	/* A Compare that fails, from the backend's answer. */
	memset(buf, 0x11, 512);
	s = h_rw(VNVME_NVM_WRITE, 1, 4242, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	buf[7] = 0x12;
	s.opc = VNVME_NVM_COMPARE;
	assert_sc(hq_cmd(q, &s, NULL), SC(2, VNVME_SC_COMPARE_FAILURE));
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, 4096, 0), 0);
	assert_int_equal(el[0].cid, s.cid);
	assert_int_equal(el[0].nsid, 1);
	assert_int_equal(el[0].lba, 4242);
	/* A DSM whose second range is out of bounds: that range's SLBA. */
	r[0] = (struct vnvme_dsm_range){.nlb = 1, .slba = 10};
	r[1] = (struct vnvme_dsm_range){.nlb = 8, .slba = nlb - 2};
	s = (struct vnvme_sqe){.opc = VNVME_NVM_DSM, .nsid = 2, .cdw10 = 1, .cdw11 = VNVME_DSM_AD};
	s.dptr.prp1 = h_iova(h, r);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, 4096, 0), 0);
	assert_int_equal(el[0].nsid, 2);
	assert_int_equal(el[0].lba, nlb - 2);
	/* An admin command: the namespace it named, no LBA. */
	assert_sc(h_identify(h, VNVME_CNS_NS, 77, 0, buf), VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_sc(get_log(h, VNVME_LID_ERROR, 0, 4096, 0), 0);
	assert_int_equal(el[0].sqid, 0);
	assert_int_equal(el[0].nsid, 77);
	assert_int_equal(el[0].lba, 0);
}

/*
 * The Commands Supported and Effects log lists exactly the commands the
 * controller executes: every admin and I/O opcode is sent (with fields that
 * fail harmlessly or do nothing), and Invalid Command Opcode comes back for
 * exactly those the log leaves out. Keep Alive is not supported (KAS = 0).
 */
static void test_effects_log_lists_exactly_the_commands_executed(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_effects_log ef;
	struct vnvme_id_ctrl *ic = (void *)(h->mem + H_DATA + 0x100000);

	h_create_ioq(h, 1, 64, false, 0);
	assert_sc(get_log(h, VNVME_LID_CMD_EFFECTS, 0, 4096, 0), 0);
	memcpy(&ef, h->mem + H_DATA, sizeof(ef));
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, ic), 0);
	assert_int_equal(ic->kas, 0);
	assert_int_equal(ef.acs[VNVME_ADM_KEEP_ALIVE], 0);
	for (unsigned opc = 0; opc < 256; opc++) {
		struct vnvme_sqe s = {.opc = (uint8_t)opc};
		uint16_t st;

		if (opc == VNVME_ADM_ASYNC_EVENT_REQ) /* completes only on an event */
			continue;
		st = h_admin(h, &s, NULL);
		if (ef.acs[opc] & 1)
			assert_int_not_equal(st & 0x7ff, VNVME_SC_INVALID_OPCODE);
		else
			assert_int_equal(st & 0x7ff, VNVME_SC_INVALID_OPCODE);
	}
	assert_true(ef.acs[VNVME_ADM_ASYNC_EVENT_REQ] & 1);
	for (unsigned opc = 0; opc < 256; opc++) {
		/* NSID 1, LBA 0, one block, PRP1 0 (outside the map): data
		 * commands fail on the data pointer, the others do nothing
		 * or zero LBA 0. */
		struct vnvme_sqe s = h_rw((uint8_t)opc, 1, 0, 1);
		uint16_t st = hq_cmd(&h->io[0], &s, NULL);

		if (ef.iocs[opc] & 1)
			assert_int_not_equal(st & 0x7ff, VNVME_SC_INVALID_OPCODE);
		else
			assert_int_equal(st & 0x7ff, VNVME_SC_INVALID_OPCODE);
	}
}

/*
 * Firmware: Identify (FR, FRMW, OACS) and the Firmware Slot Information
 * log agree: one read-only slot, active, holding the revision Identify
 * reports; no update commands.
 */
static void test_firmware_slot_log_agrees_with_identify(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_id_ctrl *ic = (void *)(h->mem + H_DATA + 0x100000);
	struct vnvme_fw_slot_log *fw = (void *)(h->mem + H_DATA);
	static const char zero[8];
	unsigned nofs;

	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, ic), 0);
	assert_sc(get_log(h, VNVME_LID_FW_SLOT, 0, 512, 0), 0);
	nofs = VNVME_FIELD_GET(ic->frmw, VNVME_FRMW_NOFS);
	assert_int_equal(nofs, 1);
	assert_true(ic->frmw & VNVME_FRMW_SLOT1_RO);
	assert_false(ic->oacs & VNVME_OACS_FW);
	assert_int_equal(fw->afi & 0x7, 1);        /* running from slot 1 */
	assert_int_equal((fw->afi >> 4) & 0x7, 0); /* nothing pending */
	assert_memory_equal(fw->frs[0], ic->fr, 8);
	for (unsigned i = nofs; i < 7; i++)
		assert_memory_equal(fw->frs[i], zero, 8);
	struct vnvme_sqe s = {.opc = VNVME_ADM_FW_COMMIT};
	assert_sc(h_admin(h, &s, NULL), VNVME_SC_INVALID_OPCODE);
	s = (struct vnvme_sqe){.opc = VNVME_ADM_FW_DOWNLOAD};
	assert_sc(h_admin(h, &s, NULL), VNVME_SC_INVALID_OPCODE);
}

/* Fill the data area with a pattern of the LBA. */
static void pattern(uint8_t *p, uint64_t slba, uint32_t bytes, uint8_t seed)
{
	for (uint32_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)(slba * 7 + i * 13 + seed);
}

static void pattern_check(const uint8_t *p, uint64_t slba, uint32_t bytes, uint8_t seed)
{
	for (uint32_t i = 0; i < bytes; i++)
		if (p[i] != (uint8_t)(slba * 7 + i * 13 + seed))
			fail_msg("byte %u: 0x%02x, expected 0x%02x", i, p[i],
				 (uint8_t)(slba * 7 + i * 13 + seed));
}

static void test_io_prp_variants_write_then_read_back(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *wbuf = h->mem + H_DATA, *rbuf = h->mem + H_DATA + 0x100000;
	uint64_t *list = (void *)(h->mem + H_DATA + 0x200000 + 0x100); /* mid-page list */

	h_create_ioq(h, 1, 64, false, 0);
	/* 1 block, PRP1 only, with an offset in the page. */
	{
		struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, 10, 1);
		pattern(wbuf + 0x200, 10, 512, 1);
		s.dptr.prp1 = h_iova(h, wbuf + 0x200);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		s = h_rw(VNVME_NVM_READ, 1, 10, 1);
		s.dptr.prp1 = h_iova(h, rbuf + 0x600);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		assert_memory_equal(rbuf + 0x600, wbuf + 0x200, 512);
	}
	/* 4 KiB across two pages: PRP1 with an offset, PRP2 the next page. */
	{
		struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, 100, 8);
		pattern(wbuf + 0xa00, 100, 4096, 2);
		s.dptr.prp1 = h_iova(h, wbuf + 0xa00);
		s.dptr.prp2 = h_iova(h, wbuf + 0x1000);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		s = h_rw(VNVME_NVM_READ, 1, 100, 8);
		s.dptr.prp1 = h_iova(h, rbuf + 0x800);
		s.dptr.prp2 = h_iova(h, rbuf + 0x1000);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		assert_memory_equal(rbuf + 0x800, wbuf + 0xa00, 4096);
	}
	/* 64 KiB through a PRP list that starts mid-page, pages scattered. */
	{
		struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, 1000, 128);
		uint8_t *src = h->mem + H_DATA + 0x300000;
		pattern(src, 1000, 65536, 3);
		/* Write from 16 pages in reverse order. */
		s.dptr.prp1 = h_iova(h, src + 15 * 4096);
		for (int i = 1; i < 16; i++)
			list[i - 1] = h_iova(h, src + (15 - i) * 4096);
		s.dptr.prp2 = h_iova(h, list);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		/* Read into contiguous memory with a proper list. */
		s = h_rw(VNVME_NVM_READ, 1, 1000, 128);
		s.dptr.prp1 = h_iova(h, rbuf);
		for (int i = 1; i < 16; i++)
			list[i - 1] = h_iova(h, rbuf + i * 4096);
		s.dptr.prp2 = h_iova(h, list);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		for (int i = 0; i < 16; i++)
			assert_memory_equal(rbuf + i * 4096, src + (15 - i) * 4096, 4096);
	}
	/* A chained list: the list starts in the last two slots of a page. */
	{
		uint64_t *l1 = (void *)(h->mem + H_DATA + 0x400000 + 4096 - 16);
		uint64_t *l2 = (void *)(h->mem + H_DATA + 0x410000);
		uint8_t *src = h->mem + H_DATA + 0x300000;
		struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, 1000, 128);
		memset(rbuf, 0, 65536);
		s.dptr.prp1 = h_iova(h, rbuf);
		l1[0] = h_iova(h, rbuf + 4096);
		l1[1] = h_iova(h, l2); /* the page's last entry chains */
		for (int i = 2; i < 16; i++)
			l2[i - 2] = h_iova(h, rbuf + i * 4096);
		s.dptr.prp2 = h_iova(h, l1);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		for (int i = 0; i < 16; i++)
			assert_memory_equal(rbuf + i * 4096, src + (15 - i) * 4096, 4096);
	}
}

static void test_io_errors(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	uint64_t nlb = (16u << 20) / 512;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	/* LBA range: the last block is fine, one past is not, nor a wrap. */
	s = h_rw(VNVME_NVM_READ, 1, nlb - 1, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s = h_rw(VNVME_NVM_READ, 1, nlb - 1, 2);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	s = h_rw(VNVME_NVM_WRITE, 1, UINT64_MAX, 2);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	/* Beyond MDTS (128 KiB = 256 blocks). */
	s = h_rw(VNVME_NVM_READ, 1, 0, 257);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_FIELD);
	/* Namespaces: 0, missing, broadcast. */
	s = h_rw(VNVME_NVM_READ, 0, 0, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
	s.nsid = 3;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
	s.nsid = VNVME_NSID_ALL;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
	/* Opcode. */
	s = h_rw(0x7e, 1, 0, 1);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_OPCODE);
	/* PRPs: outside the map, misaligned PRP1, PRP2 with an offset, a list
	 * entry outside the map. */
	s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	s.dptr.prp1 = 0x10000;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	s.dptr.prp1 = h_iova(h, buf) + 2;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_PRP_OFFSET_INVALID);
	s = h_rw(VNVME_NVM_READ, 1, 0, 16);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, buf) + 0x1010;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_PRP_OFFSET_INVALID);
	uint64_t *list = (void *)(buf + 0x10000);
	s = h_rw(VNVME_NVM_READ, 1, 0, 24);
	s.dptr.prp1 = h_iova(h, buf);
	list[0] = h_iova(h, buf + 4096);
	list[1] = 0x7000000000ull;
	s.dptr.prp2 = h_iova(h, list);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	/* The ring at the end of the map: a read that would spill past it. */
	s = h_rw(VNVME_NVM_READ, 1, 0, 2);
	s.dptr.prp1 = H_IOVA + H_MEMSZ - 512;
	s.dptr.prp2 = H_IOVA + H_MEMSZ;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	/* Fused operations are not supported. */
	s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	s.dptr.prp1 = h_iova(h, buf);
	s.flags = VNVME_FUSE_FIRST;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_FIELD);
	/* Still healthy. */
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

/*
 * The same commands, valid and not, on every path an I/O command can take:
 * the fast loop that completes at once (null), the one that stages its
 * copy (ram), and the general way (file: the fast loop declines its
 * namespace), each sent alone and in the middle of a batch of fast Reads
 * (the fast loop stops its run there). Every path gives the same status,
 * DNR included, which is also pinned.
 */
enum { NCHK = 17 };

static void io_check_sqe(struct host *h, unsigned i, struct vnvme_sqe *s)
{
	uint8_t *buf = h->mem + H_DATA;
	uint64_t nlb = (16u << 20) / 512;

	*s = h_rw(i == 1 || i == 14 ? VNVME_NVM_WRITE : VNVME_NVM_READ, 1, 8, 1);
	s->dptr.prp1 = h_iova(h, buf);
	switch (i) {
	case 0:
		break; /* a valid plain Read */
	case 1:
		s->cdw12 |= VNVME_RW_FUA;
		break; /* a valid Write with FUA */
	case 2:
		s->nsid = 0;
		break;
	case 3:
		s->nsid = 3;
		break; /* two namespaces */
	case 4:
		s->nsid = VNVME_NSID_ALL;
		break;
	case 5:
		*s = h_rw(VNVME_NVM_READ, 1, nlb - 1, 2), s->dptr.prp1 = h_iova(h, buf);
		break;
	case 6:
		*s = h_rw(VNVME_NVM_READ, 1, UINT64_MAX, 1), s->dptr.prp1 = h_iova(h, buf);
		break;
	case 7:
		*s = h_rw(VNVME_NVM_READ, 1, 0, 257), s->dptr.prp1 = h_iova(h, buf);
		break; /* > MDTS */
	case 8:
		s->flags = 3 << VNVME_SQE_PSDT_SHIFT;
		break; /* reserved PSDT */
	case 9:
		s->flags = VNVME_FUSE_FIRST;
		break;
	case 10:
		s->opc = 0x7e;
		break;
	case 11:
		s->dptr.prp1 += 2;
		break; /* not dword aligned */
	case 12:
		s->dptr.prp1 = 0x10000;
		break; /* outside the map */
	case 13:       /* two pages, PRP2 not page aligned */
		*s = h_rw(VNVME_NVM_READ, 1, 0, 16), s->dptr.prp1 = h_iova(h, buf);
		s->dptr.prp2 = h_iova(h, buf) + 0x1010;
		break;
	case 14:
		s->cdw10 = (uint32_t)nlb, s->cdw12 |= VNVME_RW_FUA;
		break; /* FUA, past the end */
	case 15:
		s->dptr.prp1 = H_IOVA + H_MEMSZ - 256;
		break; /* spills past the map */
	case 16:
		*s = h_rw(VNVME_NVM_COMPARE, 1, nlb, 1), s->dptr.prp1 = h_iova(h, buf);
		break;
	}
}

/* Run the cases on a fresh controller of type be: st[0] alone, st[1] in a batch. */
static void io_check_run(enum vn_be_type be, uint16_t st[2][NCHK])
{
	void *state;
	struct tfx *f;
	struct host *h;
	struct hq *q;

	setup_be(&state, 0, be, 0, 2);
	f = state;
	h = &f->h;
	q = &h->io[0];
	h_create_ioq(h, 1, 64, false, 0);
	for (unsigned i = 0; i < NCHK; i++) {
		struct vnvme_sqe s, r;
		struct vnvme_cqe cqe = {0};
		uint16_t cid = 0;

		io_check_sqe(h, i, &s);
		st[0][i] = hq_cmd(q, &s, NULL) & 0x7fff;
		/* Fast Reads, the case, fast Reads: one doorbell. */
		for (unsigned k = 0; k < 5; k++) {
			io_check_sqe(h, 0, &r);
			r.cdw10 = 100 + k;
			if (k == 2) {
				io_check_sqe(h, i, &s);
				cid = hq_queue(q, &s);
			}
			hq_queue(q, &r);
		}
		hq_ring(q);
		for (unsigned k = 0; k < 6; k++) {
			assert_int_equal(hq_reap(q, &cqe, 5000), 0);
			if (cqe.cid == cid)
				st[1][i] = vnvme_cqe_status(&cqe).v & 0x7fff;
			else
				assert_int_equal(vnvme_cqe_status(&cqe).v & 0x7fff, 0);
		}
	}
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
	teardown(&state);
}

static void test_io_checks_agree_on_every_path(void **state)
{
	static const uint16_t expect[NCHK] = {
	    0,
	    0,
	    VNVME_SC_INVALID_NS_OR_FORMAT,
	    VNVME_SC_INVALID_NS_OR_FORMAT,
	    VNVME_SC_INVALID_NS_OR_FORMAT,
	    VNVME_SC_LBA_OUT_OF_RANGE,
	    VNVME_SC_LBA_OUT_OF_RANGE,
	    VNVME_SC_INVALID_FIELD,
	    VNVME_SC_INVALID_FIELD,
	    VNVME_SC_INVALID_FIELD,
	    VNVME_SC_INVALID_OPCODE,
	    VNVME_SC_PRP_OFFSET_INVALID,
	    VNVME_SC_DATA_XFER_ERROR,
	    VNVME_SC_PRP_OFFSET_INVALID,
	    VNVME_SC_LBA_OUT_OF_RANGE,
	    VNVME_SC_DATA_XFER_ERROR,
	    VNVME_SC_LBA_OUT_OF_RANGE,
	};
	static const enum vn_be_type bes[] = {VN_BE_NULL, VN_BE_RAM, VN_BE_FILE};
	uint16_t st[3][2][NCHK];

	(void)state;
	for (unsigned b = 0; b < 3; b++)
		io_check_run(bes[b], st[b]);
	for (unsigned i = 0; i < NCHK; i++) {
		print_message("case %u: %#x\n", i, st[0][0][i]);
		assert_sc(st[0][0][i], expect[i]);
		for (unsigned b = 0; b < 3; b++)
			for (unsigned w = 0; w < 2; w++)
				assert_int_equal(st[b][w][i], st[0][0][i]);
	}
}

/*
 * The Read/Write fast path remembers the DMA region it used last: I/O that
 * alternates between two mappings lands in the right one, a read-only mapping
 * takes no device writes, and a mapping that was removed is never touched.
 */
static void test_io_fast_path_follows_dma_map_changes(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	const uint64_t iova2 = 0x300000000ull, iova_ro = 0x400000000ull;
	uint8_t *a = h->mem + H_DATA, *b = h->mem + H_DATA + 0x10000;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	/* The same memory again at iova2, read-write, and at iova_ro read-only. */
	assert_int_equal(vu_client_dma_map(h->c, iova2, 1u << 20, h->memfd, H_DATA, 3), 0);
	assert_int_equal(vu_client_dma_map(h->c, iova_ro, 1u << 20, h->memfd, H_DATA, 1), 0);
	pattern(a, 0, 4096, 11);
	s = h_rw(VNVME_NVM_WRITE, 1, 100, 8);
	s.dptr.prp1 = h_iova(h, a);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	pattern(a, 0, 4096, 12);
	s = h_rw(VNVME_NVM_WRITE, 1, 200, 8);
	s.dptr.prp1 = iova_ro; /* the device reads: allowed */
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (int i = 0; i < 4; i++) {
		/* Alternate mappings: LBA 100 into b through iova2, LBA 200
		 * into b + 4096 through the first map. */
		memset(b, 0, 8192);
		s = h_rw(VNVME_NVM_READ, 1, 100, 8);
		s.dptr.prp1 = iova2 + 0x10000;
		assert_sc(hq_cmd(q, &s, NULL), 0);
		s = h_rw(VNVME_NVM_READ, 1, 200, 8);
		s.dptr.prp1 = h_iova(h, b + 4096);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		pattern_check(b, 0, 4096, 11);
		pattern_check(b + 4096, 0, 4096, 12);
	}
	/* A Read into the read-only map: the device may not write there. */
	memset(b, 0xee, 512);
	s = h_rw(VNVME_NVM_READ, 1, 100, 1);
	s.dptr.prp1 = iova_ro + 0x10000;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	assert_int_equal(b[0], 0xee);
	/* Use iova2, unmap it, then use it again: an error, nothing written. */
	s.dptr.prp1 = iova2 + 0x10000;
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(vu_client_dma_unmap(h->c, iova2, 1u << 20), 0);
	memset(b, 0xee, 512);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	assert_int_equal(b[0], 0xee);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

/*
 * Ram I/Os of a batch are staged and copied later (queue.c): 32 writes and
 * then 32 reads handed over at once all complete once, with the data in
 * place; a queue deleted with a batch in flight still deletes, and what it
 * completed completed well.
 */
static void test_io_batches_complete_once_with_their_data(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *wbuf = h->mem + H_DATA, *rbuf = h->mem + H_DATA + 0x100000;
	uint32_t seen = 0;
	struct vnvme_sqe s;
	struct vnvme_cqe cqe = {0};

	h_create_ioq(h, 1, 64, false, 0);
	for (int pass = 0; pass < 2; pass++) {
		uint16_t first = q->cid;
		for (uint32_t i = 0; i < 32; i++) {
			uint8_t *b = (pass ? rbuf : wbuf) + i * 4096;
			if (!pass)
				pattern(b, 1000 + i * 8, 4096, (uint8_t)i);
			else
				memset(b, 0, 4096);
			s = h_rw(pass ? VNVME_NVM_READ : VNVME_NVM_WRITE, 1, 1000 + i * 8, 8);
			s.dptr.prp1 = h_iova(h, b);
			hq_queue(q, &s);
		}
		hq_ring(q);
		seen = 0;
		for (uint32_t i = 0; i < 32; i++) {
			assert_int_equal(hq_reap(q, &cqe, 5000), 0);
			assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
			uint16_t k = (uint16_t)(cqe.cid - first);
			assert_true(k < 32 && !(seen & 1u << k));
			seen |= 1u << k;
		}
		assert_int_equal(hq_reap(q, &cqe, 50), -ETIMEDOUT);
	}
	for (uint32_t i = 0; i < 32; i++)
		pattern_check(rbuf + i * 4096, 1000 + i * 8, 4096, (uint8_t)i);

	/* Delete the SQ right after handing it 16 reads. */
	for (uint32_t i = 0; i < 16; i++) {
		s = h_rw(VNVME_NVM_READ, 1, 1000 + i * 8, 8);
		s.dptr.prp1 = h_iova(h, rbuf + i * 4096);
		hq_queue(q, &s);
	}
	hq_ring(q);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 1), 0);
	while (hq_reap(q, &cqe, 50) == 0)
		assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

/*
 * Batches that mix what the fast path takes (Reads and Writes on two
 * namespaces, so its remembered command kind keeps changing) with what it
 * hands to the general way (Flush, a missing namespace, an LBA out of
 * range, a transfer over two pages, a misaligned PRP1), on a ring of 7 so
 * that every batch starts elsewhere and wraps both rings, the SQ's last
 * slot included. Each command completes once, with its own status, and
 * the data written reads back.
 */
static void test_io_mixed_batches_on_a_small_ring(void **state)
{
	enum { SIZE = 7, BATCH = SIZE - 1, BATCHES = 9, KINDS = 8 };
	static const uint16_t expect[KINDS] = {
	    0, 0,
	    0, VNVME_SC_INVALID_NS_OR_FORMAT,
	    0, VNVME_SC_LBA_OUT_OF_RANGE,
	    0, VNVME_SC_PRP_OFFSET_INVALID,
	};
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	uint64_t nlb = (16u << 20) / 512;
	uint16_t status[BATCHES * BATCH];
	bool seen[BATCHES * BATCH] = {false};
	struct vnvme_cqe cqe = {0};
	uint16_t first;

	h_create_ioq(h, 1, SIZE, false, 0);
	first = q->cid;
	for (uint32_t b = 0; b < BATCHES; b++) {
		for (uint32_t i = 0; i < BATCH; i++) {
			uint32_t g = b * BATCH + i;
			uint8_t *p = buf + (size_t)g * 8192;
			struct vnvme_sqe s;

			switch (g % KINDS) {
			case 0: /* Write ns 1, 4 KiB */
				pattern(p, 100 + g * 8, 4096, 1);
				s = h_rw(VNVME_NVM_WRITE, 1, 100 + g * 8, 8);
				s.dptr.prp1 = h_iova(h, p);
				break;
			case 1: /* Read ns 2, 512 B inside a page */
				memset(p + 512, 0xee, 512);
				s = h_rw(VNVME_NVM_READ, 2, 5000 + g, 1);
				s.dptr.prp1 = h_iova(h, p + 512);
				break;
			case 2:
				s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
				break;
			case 3:
				s = h_rw(VNVME_NVM_READ, 9, 0, 1);
				s.dptr.prp1 = h_iova(h, p);
				break;
			case 4: /* Write ns 2, 1 KiB */
				pattern(p, 6000 + g * 2, 1024, 2);
				s = h_rw(VNVME_NVM_WRITE, 2, 6000 + g * 2, 2);
				s.dptr.prp1 = h_iova(h, p);
				break;
			case 5:
				s = h_rw(VNVME_NVM_READ, 1, nlb, 1);
				s.dptr.prp1 = h_iova(h, p);
				break;
			case 6: /* Write ns 1, 4 KiB from the middle of a page: PRP2 */
				pattern(p + 2048, 200 + g * 8, 4096, 3);
				s = h_rw(VNVME_NVM_WRITE, 1, 200 + g * 8, 8);
				s.dptr.prp1 = h_iova(h, p + 2048);
				s.dptr.prp2 = h_iova(h, p + 4096);
				break;
			default:
				s = h_rw(VNVME_NVM_WRITE, 1, 0, 1);
				s.dptr.prp1 = h_iova(h, p) + 2;
				break;
			}
			hq_queue(q, &s);
		}
		hq_ring(q);
		for (uint32_t i = 0; i < BATCH; i++) {
			uint16_t k;

			assert_int_equal(hq_reap(q, &cqe, 5000), 0);
			k = (uint16_t)(cqe.cid - first);
			assert_true(k < BATCHES * BATCH && k / BATCH == b && !seen[k]);
			assert_int_equal(cqe.sqid, 1);
			assert_true(cqe.sqhd < SIZE);
			seen[k] = true;
			status[k] = vnvme_cqe_status(&cqe).v;
		}
		assert_int_equal(hq_reap(q, &cqe, 20), -ETIMEDOUT);
	}
	for (uint32_t g = 0; g < BATCHES * BATCH; g++) {
		uint8_t *p = buf + (size_t)g * 8192;

		assert_sc(status[g], expect[g % KINDS]);
		if (g % KINDS == 1)
			for (int i = 0; i < 512; i++)
				assert_int_equal(p[512 + i], 0); /* never written */
	}
	/* Read back what was written, into a fresh area. */
	for (uint32_t g = 0; g < BATCHES * BATCH; g++) {
		uint8_t *r = buf + 0x100000;
		struct vnvme_sqe s;

		if (g % KINDS != 0 && g % KINDS != 4 && g % KINDS != 6)
			continue;
		memset(r, 0, 4096);
		if (g % KINDS == 4)
			s = h_rw(VNVME_NVM_READ, 2, 6000 + g * 2, 2);
		else
			s = h_rw(VNVME_NVM_READ, 1, (g % KINDS ? 200 : 100) + g * 8, 8);
		s.dptr.prp1 = h_iova(h, r);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		if (g % KINDS == 4)
			pattern_check(r, 6000 + g * 2, 1024, 2);
		else if (g % KINDS == 6)
			pattern_check(r, 200 + g * 8, 4096, 3);
		else
			pattern_check(r, 100 + g * 8, 4096, 1);
	}
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

static void test_io_sgl_data_block_segments_and_bit_bucket(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *src = h->mem + H_DATA, *dst = h->mem + H_DATA + 0x100000;
	struct vnvme_sgl_desc *seg = (void *)(h->mem + H_DATA + 0x200000);
	const uint8_t SGL = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	pattern(src, 50, 8192, 9);
	/* One data block in the SQE. */
	s = h_rw(VNVME_NVM_WRITE, 1, 50, 16);
	s.flags = SGL;
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.addr = h_iova(h, src), .length = 8192};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	/* Read back through a last segment of three descriptors: 1 KiB, a
	 * 1 KiB bit bucket, 6 KiB. */
	memset(dst, 0xee, 8192);
	seg[0] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 1024};
	seg[1] = (struct vnvme_sgl_desc){.length = 1024, .type = VNVME_SGL_TYPE_BIT_BUCKET << 4};
	seg[2] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst + 2048), .length = 6144};
	s = h_rw(VNVME_NVM_READ, 1, 50, 16);
	s.flags = SGL;
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 48, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_memory_equal(dst, src, 1024);
	assert_int_equal(dst[1024], 0xee); /* discarded */
	assert_memory_equal(dst + 2048, src + 2048, 6144);
	/* A segment chaining to a last segment. */
	struct vnvme_sgl_desc *seg2 = seg + 16;
	seg[0] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 4096};
	seg[1] = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg2), .length = 16, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	seg2[0] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst + 4096), .length = 4096};
	memset(dst, 0, 8192);
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 32, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_memory_equal(dst, src, 8192);
	/* Errors: length too short, a bit bucket on a write, an unknown type,
	 * a last segment that chains, a segment of 0 bytes. */
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 4096};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_SGL_LEN_INVALID);
	s = h_rw(VNVME_NVM_WRITE, 1, 50, 16);
	s.flags = SGL;
	s.dptr.sgl1 =
	    (struct vnvme_sgl_desc){.length = 8192, .type = VNVME_SGL_TYPE_BIT_BUCKET << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_SGL_DESC_TYPE_INVALID);
	s.dptr.sgl1 =
	    (struct vnvme_sgl_desc){.addr = h_iova(h, src), .length = 8192, .type = 0x7 << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_SGL_DESC_TYPE_INVALID);
	seg[0] = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg2), .length = 16, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 16, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_SGL_SEG_DESC);
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 0, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_SGL_SEG_DESC);
	/* A segment pointing to itself ends (bounded), with an error. */
	seg[0] = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 16, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	s.dptr.sgl1 = seg[0];
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NUM_SGL_DESC);
}

/*
 * The work one SGL may cost is bounded (NVME_SGL_MAX_DESC = 512 descriptors,
 * the SQE's included): zero-length Data Blocks move nothing, yet each
 * counts. A list of 511 (510 empty, then the data) is served; one more
 * descriptor is refused, as is a 16 MiB segment of empty descriptors that
 * chains back to itself (which kept the polling thread walking 256 times
 * through a million descriptors). Each ends with Invalid Number of SGL
 * Descriptors.
 */
static void test_io_sgl_walks_are_bounded(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *src = h->mem + H_DATA, *dst = h->mem + H_DATA + 0x10000;
	struct vnvme_sgl_desc *seg = (void *)(h->mem + H_DATA + 0x20000);
	struct vnvme_sgl_desc *big = (void *)(h->mem + H_DATA + 0x400000);
	const size_t big_n = (16u << 20) / sizeof(*big);
	const uint8_t SGL = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	pattern(src, 80, 4096, 4);
	s = h_rw(VNVME_NVM_WRITE, 1, 80, 8);
	s.dptr.prp1 = h_iova(h, src);
	assert_sc(hq_cmd(q, &s, NULL), 0);

	/* 510 empty descriptors, then the data: 512 with the SQE's. */
	memset(seg, 0, 512 * sizeof(*seg));
	seg[510] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 4096};
	memset(dst, 0, 4096);
	s = h_rw(VNVME_NVM_READ, 1, 80, 8);
	s.flags = SGL;
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 511 * 16, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	pattern_check(dst, 80, 4096, 4);
	/* One more empty descriptor: 513. */
	seg[510] = (struct vnvme_sgl_desc){.length = 0};
	seg[511] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 4096};
	s.dptr.sgl1.length = 512 * 16;
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NUM_SGL_DESC);
	/* The same across a chain: 300 + 300 descriptors. */
	memset(seg, 0, 600 * sizeof(*seg));
	seg[299] = (struct vnvme_sgl_desc){.addr = h_iova(h, seg + 300),
					   .length = 300 * 16,
					   .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	seg[599] = (struct vnvme_sgl_desc){.addr = h_iova(h, dst), .length = 4096};
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 300 * 16, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NUM_SGL_DESC);
	/* A 16 MiB segment of empty descriptors chaining back to itself. */
	memset(big, 0, big_n * sizeof(*big));
	big[big_n - 1] = (struct vnvme_sgl_desc){.addr = h_iova(h, big),
						 .length = (uint32_t)(big_n * sizeof(*big)),
						 .type = VNVME_SGL_TYPE_SEGMENT << 4};
	s.dptr.sgl1 = big[big_n - 1];
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NUM_SGL_DESC);
	/* Small self-chaining segments of empty descriptors: the same. */
	memset(seg, 0, 8 * sizeof(*seg));
	seg[7] = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 8 * 16, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	s.dptr.sgl1 = seg[7];
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_NUM_SGL_DESC);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

static void test_compare_write_zeroes_dsm_flush(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_dsm_range *r = (void *)(h->mem + H_DATA + 0x100000);
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	pattern(buf, 0, 4096, 5);
	s = h_rw(VNVME_NVM_WRITE, 2, 64, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s.opc = VNVME_NVM_COMPARE;
	assert_sc(hq_cmd(q, &s, NULL), 0);
	buf[4095] ^= 1;
	assert_sc(hq_cmd(q, &s, NULL), SC(2, VNVME_SC_COMPARE_FAILURE));
	/* Write Zeroes then read zeroes. */
	s = h_rw(VNVME_NVM_WRITE_ZEROES, 2, 64, 4);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s = h_rw(VNVME_NVM_READ, 2, 64, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (int i = 0; i < 2048; i++)
		assert_int_equal(buf[i], 0);
	assert_int_not_equal(buf[2048] | buf[2049] | buf[2050], 0);
	/* DSM deallocate two ranges; the second covers the rest. */
	r[0] = (struct vnvme_dsm_range){.nlb = 2, .slba = 68};
	r[1] = (struct vnvme_dsm_range){.nlb = 2, .slba = 70};
	s = (struct vnvme_sqe){.opc = VNVME_NVM_DSM, .nsid = 2, .cdw10 = 1, .cdw11 = VNVME_DSM_AD};
	s.dptr.prp1 = h_iova(h, r);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s = h_rw(VNVME_NVM_READ, 2, 64, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	/* A range out of bounds; hints only (no AD) do nothing. */
	r[0] = (struct vnvme_dsm_range){.nlb = 8, .slba = (16u << 20) / 512 - 4};
	s = (struct vnvme_sqe){.opc = VNVME_NVM_DSM, .nsid = 2, .cdw11 = VNVME_DSM_AD};
	s.dptr.prp1 = h_iova(h, r);
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	s.cdw11 = VNVME_DSM_IDR;
	assert_sc(hq_cmd(q, &s, NULL), 0);
	/* Flush. */
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(q, &s, NULL), 0);

	/* SMART: Compare and Read count as host reads (4, 16 KiB), Write and
	 * Write Zeroes as host writes (2, only the Write's 4 KiB as data). */
	struct vnvme_smart_log *sl = (void *)(h->mem + H_DATA);
	uint64_t v;
	assert_sc(get_log(h, VNVME_LID_SMART, VNVME_NSID_ALL, 512, 0), 0);
	memcpy(&v, sl->host_reads, 8);
	assert_int_equal(v, 4);
	memcpy(&v, sl->host_writes, 8);
	assert_int_equal(v, 2);
	memcpy(&v, sl->data_units_read, 8);
	assert_int_equal(v, 1); /* thousands of 512 bytes, rounded up */
	memcpy(&v, sl->data_units_written, 8);
	assert_int_equal(v, 1);
}

/*
 * Dataset Management's range list through an SGL (SPDK's driver uses SGLs
 * for every command): one Data Block in the SQE, and a Segment chaining
 * to a Last Segment that splits the list; an SGL that describes less than
 * the list is refused, and a Bit Bucket (the controller reads the list).
 */
static void test_dsm_with_sgl_data_pointers(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_dsm_range *r = (void *)(h->mem + H_DATA + 0x100000);
	struct vnvme_sgl_desc *seg = (void *)(h->mem + H_DATA + 0x200000);
	const uint8_t SGL = VNVME_PSDT_SGL_MPTR_CONTIG << VNVME_SQE_PSDT_SHIFT;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	memset(buf, 0x77, 16 * 512);
	s = h_rw(VNVME_NVM_WRITE, 1, 300, 16);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, buf + 4096);
	assert_sc(hq_cmd(q, &s, NULL), 0);

	/* One Data Block: ranges 300+2 and 304+2. */
	r[0] = (struct vnvme_dsm_range){.nlb = 2, .slba = 300};
	r[1] = (struct vnvme_dsm_range){.nlb = 2, .slba = 304};
	s = (struct vnvme_sqe){
	    .opc = VNVME_NVM_DSM, .flags = SGL, .nsid = 1, .cdw10 = 1, .cdw11 = VNVME_DSM_AD};
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.addr = h_iova(h, r), .length = 32};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	/* A Segment (range 308+2) chaining to a Last Segment (range 312+2),
	 * the list in two places. */
	r[2] = (struct vnvme_dsm_range){.nlb = 2, .slba = 308};
	r[8] = (struct vnvme_dsm_range){.nlb = 2, .slba = 312};
	seg[0] = (struct vnvme_sgl_desc){.addr = h_iova(h, &r[2]), .length = 16};
	seg[1] = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg + 4), .length = 16, .type = VNVME_SGL_TYPE_LAST_SEGMENT << 4};
	seg[4] = (struct vnvme_sgl_desc){.addr = h_iova(h, &r[8]), .length = 16};
	s.dptr.sgl1 = (struct vnvme_sgl_desc){
	    .addr = h_iova(h, seg), .length = 32, .type = VNVME_SGL_TYPE_SEGMENT << 4};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	/* Blocks 300-301, 304-305, 308-309, 312-313 read zeroes; the others not. */
	memset(buf, 0xee, 16 * 512);
	s = h_rw(VNVME_NVM_READ, 1, 300, 16);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, buf + 4096);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (int b = 0; b < 16; b++)
		assert_int_equal(buf[b * 512 + 17], (b % 4) < 2 ? 0 : 0x77);

	/* Errors: an SGL shorter than the list, a Bit Bucket, PSDT 10b (not
	 * advertised: SGLS bit 19 clear). */
	s = (struct vnvme_sqe){
	    .opc = VNVME_NVM_DSM, .flags = SGL, .nsid = 1, .cdw10 = 1, .cdw11 = VNVME_DSM_AD};
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.addr = h_iova(h, r), .length = 16};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_DATA_SGL_LEN_INVALID);
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.length = 32, .type = VNVME_SGL_TYPE_BIT_BUCKET << 4};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_SGL_DESC_TYPE_INVALID);
	s.flags = VNVME_PSDT_SGL_MPTR_SGL << VNVME_SQE_PSDT_SHIFT;
	s.dptr.sgl1 = (struct vnvme_sgl_desc){.addr = h_iova(h, r), .length = 32};
	assert_sc(hq_cmd(q, &s, NULL), VNVME_SC_INVALID_FIELD);
}

static void test_interrupts_on_msix_eventfds(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t cnt = 0;

	assert_int_equal(vu_client_set_irqs(h->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 2,
					    1, &efd, NULL),
			 0);
	h_create_ioq(h, 1, 64, true, 2);
	h_create_ioq(h, 2, 64, false, 0); /* polled: never raises */
	struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(&h->io[1], &s, NULL), 0);
	assert_int_equal(poll(&p, 1, 100), 0);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(read(efd, &cnt, 8), 8);
	assert_true(cnt >= 1);
	close(efd);
}

/* Drain an eventfd: the interrupts signalled since the last read. */
static uint64_t efd_take(int efd)
{
	uint64_t cnt = 0;

	if (read(efd, &cnt, 8) != 8)
		return 0; /* EAGAIN: none */
	return cnt;
}

/*
 * N commands, each submitted only once the previous one's CQE is seen, so
 * each completes in a poll round of its own: without coalescing that is one
 * interrupt each (the controller raises one per CQ per round with
 * completions). With Aggregation Threshold 99 and Time 25.5 ms the
 * interrupts are held: fewer than N arrive, and the last held one still
 * arrives once the time is up. No time is asserted: the pause only lets
 * what is due arrive (fewer than N could fail only if each of the N
 * round trips took longer than 25.5 ms).
 */
static void test_interrupt_coalescing_holds_then_delivers(void **state)
{
	enum { N = 16 };
	struct tfx *f = *state;
	struct host *h = &f->h;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd p = {.fd = efd, .events = POLLIN};
	struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
	uint64_t cnt;

	assert_int_equal(vu_client_set_irqs(h->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 1,
					    1, &efd, NULL),
			 0);
	h_create_ioq(h, 1, 64, true, 1);
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_IRQ_COALESCING, 99 | 255u << 8, NULL),
		  0);
	for (int i = 0; i < N; i++)
		assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	assert_int_equal(poll(&p, 1, 5000), 1); /* the held interrupt comes */
	usleep(60000);                          /* past the aggregation time */
	cnt = efd_take(efd);
	assert_true(cnt >= 1);
	assert_true(cnt < N); /* held: not one per round */

	/* Coalescing Disable for the vector: one interrupt per round again. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_IRQ_VECTOR_CONFIG, 1 | 1u << 16, NULL),
		  0);
	for (int i = 0; i < N; i++)
		assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	cnt = 0;
	for (uint64_t end = h_now_ms() + 5000; cnt < N && h_now_ms() < end;) {
		poll(&p, 1, 100);
		cnt += efd_take(efd);
	}
	assert_int_equal(cnt, N);
	close(efd);
}

static void test_disable_reenable_and_shutdown(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	pattern(buf, 7, 512, 7);
	s = h_rw(VNVME_NVM_WRITE, 1, 7, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	/* CC.EN = 0: queues gone, RDY clears; CC fields stay readable. */
	h_wreg32(h, VNVME_REG_CC, 6u << 16 | 4u << 20);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	assert_int_equal(h_reg32(h, VNVME_REG_CC), 6u << 16 | 4u << 20);
	/* Enable again with a different admin queue size; the data is still there. */
	h_enable(h, 8);
	h_create_ioq(h, 1, 64, false, 0);
	memset(buf + 4096, 0, 512);
	s = h_rw(VNVME_NVM_READ, 1, 7, 1);
	s.dptr.prp1 = h_iova(h, buf + 4096);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	assert_memory_equal(buf + 4096, buf, 512);
	/* Admin queue wrap-around: more commands than entries. */
	for (int i = 0; i < 20; i++)
		assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ARBITRATION, 0, NULL), 0);
	/* Normal shutdown: SHST becomes "complete". */
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 6u << 16 | 4u << 20 | VNVME_CC_SHN_NORMAL << 14);
	assert_int_equal(VNVME_FIELD_GET(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_SHST),
			 VNVME_CSTS_SHST_COMPLETE);
	/* vfio-user DEVICE_RESET: back to reset state. */
	assert_int_equal(vu_client_reset(h->c), 0);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), 0);
	assert_int_equal(h_reg32(h, VNVME_REG_CC), 0);
	h_enable(h, 16);
}

static void test_enable_with_bad_configuration_sets_cfs(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;

	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	/* Admin queues outside the DMA map. */
	h_wreg64(h, VNVME_REG_ASQ, 0x7000000000ull);
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 6u << 16 | 4u << 20);
	assert_true(h_reg32(h, VNVME_REG_CSTS) & VNVME_CSTS_CFS);
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), 0);
	/* A memory page size the controller does not support. */
	h_wreg64(h, VNVME_REG_ASQ, H_IOVA + H_ASQ);
	h_wreg32(h, VNVME_REG_CC, VNVME_CC_EN | 1u << 7);
	assert_true(h_reg32(h, VNVME_REG_CSTS) & VNVME_CSTS_CFS);
	h_wreg32(h, VNVME_REG_CC, 0);
	h_enable(h, 32);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ARBITRATION, 0, NULL), 0);
}

static void test_invalid_doorbell_raises_an_async_event(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_cqe cqe = {0};
	uint16_t cid;

	h_create_ioq(h, 1, 16, false, 0);
	cid = hq_submit(&h->admin, &aer);
	/* A tail beyond the queue size: ignored, reported. */
	__atomic_store_n(h->io[0].sqdb, 99u, __ATOMIC_RELEASE);
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(cqe.dw0 & 0x7, 0);          /* error event */
	assert_int_equal((cqe.dw0 >> 8) & 0xff, 1);  /* invalid doorbell write value */
	assert_int_equal((cqe.dw0 >> 16) & 0xff, 1); /* see the error log */
	__atomic_store_n(h->io[0].sqdb, 0u, __ATOMIC_RELEASE);
	/* AERL + 1 = 4 outstanding at most. */
	for (int i = 0; i < 4; i++)
		hq_submit(&h->admin, &aer);
	struct vnvme_sqe k = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	assert_sc(h_admin(h, &k, NULL), SC(1, VNVME_SC_AER_LIMIT_EXCEEDED));
}

static void test_unmapping_a_live_queue_sets_cfs_without_crashing(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};

	h_create_ioq(h, 1, 64, false, 0);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	assert_int_equal(vu_client_dma_unmap(h->c, H_IOVA, H_MEMSZ), 0);
	hq_submit(&h->io[0], &s); /* the ring is gone: nothing may touch it */
	for (int i = 0; i < 5000 && !(h_reg32(h, VNVME_REG_CSTS) & VNVME_CSTS_CFS); i++)
		usleep(1000);
	assert_true(h_reg32(h, VNVME_REG_CSTS) & VNVME_CSTS_CFS);
	/* The host resets; with memory back, the controller works again. */
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(vu_client_dma_map(h->c, H_IOVA, H_MEMSZ, h->memfd, 0, 3), 0);
	h_enable(h, 32);
	h_create_ioq(h, 1, 64, false, 0);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
}

/*
 * QEMU replaces a mapping by an unmap and then a map (SeaBIOS's read-only
 * BIOS area): a queue whose memory is gone for a moment waits for it,
 * touching nothing, and then goes on; the controller is not failed.
 */
static void test_a_queue_waits_for_its_memory_to_be_mapped_again(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe s;
	struct vnvme_cqe cqe = {0};
	uint16_t cid;

	h_create_ioq(h, 1, 64, false, 0);
	memset(buf, 0x5a, 512);
	s = h_rw(VNVME_NVM_WRITE, 1, 77, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vu_client_dma_unmap(h->c, H_IOVA, H_MEMSZ), 0);
		memset(buf + 4096, 0, 512);
		s = h_rw(VNVME_NVM_READ, 1, 77, 1);
		s.dptr.prp1 = h_iova(h, buf + 4096);
		cid = hq_submit(q, &s); /* waits: its ring is not mapped */
		assert_int_equal(hq_reap(q, &cqe, 30), -ETIMEDOUT);
		assert_int_equal(vu_client_dma_map(h->c, H_IOVA, H_MEMSZ, h->memfd, 0, 3), 0);
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_int_equal(cqe.cid, cid);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
		assert_int_equal(buf[4096], 0x5a);
		assert_int_equal(buf[4096 + 511], 0x5a);
	}
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

static void test_killed_host_then_the_next_one_connects(void **state)
{
	struct tfx *f = *state;
	pid_t pid;
	int status;

	h_close(&f->h);
	usleep(50000); /* the server notices the close */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct host h2;
		if (h_connect(&h2, f->path))
			_exit(1);
		h_enable(&h2, 32);
		h_create_ioq(&h2, 1, 64, false, 0);
		for (int i = 0; i < 16; i++) {
			struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, (uint64_t)i, 1);
			s.dptr.prp1 = h_iova(&h2, h2.mem + H_DATA);
			hq_submit(&h2.io[0], &s);
		}
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	int ret = -1;
	for (int i = 0; i < 500 && ret; i++) {
		ret = h_connect(&f->h, f->path);
		if (ret)
			usleep(10000);
	}
	assert_int_equal(ret, 0);
	/* The controller came back in reset state. */
	assert_int_equal(h_reg32(&f->h, VNVME_REG_CSTS), 0);
	h_enable(&f->h, 32);
	h_create_ioq(&f->h, 1, 64, false, 0);
	struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(&f->h.io[0], &s, NULL), 0);
}

static void test_format_switches_lba_size_and_erases(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_id_ns *ns = (void *)(h->mem + H_DATA + 0x100000);
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	memset(buf, 0xab, 4096);
	s = h_rw(VNVME_NVM_WRITE, 1, 0, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	/* LBA format 1 (4 KiB), user data erase. */
	s = (struct vnvme_sqe){.opc = VNVME_ADM_FORMAT_NVM, .nsid = 1, .cdw10 = 1 | 1u << 9};
	assert_sc(h_admin(h, &s, NULL), 0);
	assert_sc(h_identify(h, VNVME_CNS_NS, 1, 0, ns), 0);
	assert_int_equal(ns->lbaf[ns->flbas & 0xf].lbads, 12);
	assert_int_equal(ns->nsze, (16u << 20) / 4096);
	s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	/* Bad formats. */
	s = (struct vnvme_sqe){.opc = VNVME_ADM_FORMAT_NVM, .nsid = 1, .cdw10 = 5};
	assert_sc(h_admin(h, &s, NULL), SC(1, VNVME_SC_INVALID_FORMAT));
	s = (struct vnvme_sqe){.opc = VNVME_ADM_FORMAT_NVM, .nsid = 1, .cdw10 = 1u << 5};
	assert_sc(h_admin(h, &s, NULL), SC(1, VNVME_SC_INVALID_FORMAT)); /* PI */
	s = (struct vnvme_sqe){.opc = VNVME_ADM_FORMAT_NVM, .nsid = 7};
	assert_sc(h_admin(h, &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
}

/*
 * Format NVM with a user data erase on file namespaces, whose erase (an
 * io_uring fallocate) completes later, on the channel the admin poller
 * shares with I/O queue 1: with Flushes of that queue in flight, every
 * Flush completes once and well, the Format completes after its erase, and
 * the namespaces read zeroes. (The admin handler used to busy-poll the
 * channel for any completion: it took a Flush's, which then never
 * completed, and returned with its erase still in flight.)
 */
static void test_format_erase_completes_later_without_taking_io_completions(void **state)
{
	enum { FLUSHES = 48, ROUNDS = 4 };
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_cqe cqe = {0};
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	for (int round = 0; round < ROUNDS; round++) {
		uint16_t first, fcid;
		bool seen[FLUSHES] = {false};

		for (uint32_t ns = 1; ns <= 2; ns++) {
			memset(buf, 0x5a, 65536);
			s = h_rw(VNVME_NVM_WRITE, ns, 0, 128);
			s.dptr.prp1 = h_iova(h, buf);
			uint64_t *list = (void *)(buf + 0x20000);
			for (int i = 1; i < 16; i++)
				list[i - 1] = h_iova(h, buf + i * 4096);
			s.dptr.prp2 = h_iova(h, list);
			assert_sc(hq_cmd(q, &s, NULL), 0);
		}
		first = q->cid;
		for (int i = 0; i < FLUSHES; i++) {
			s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH,
					       .nsid = 1 + (uint32_t)(i & 1)};
			hq_queue(q, &s);
		}
		hq_ring(q);
		s = (struct vnvme_sqe){
		    .opc = VNVME_ADM_FORMAT_NVM, .nsid = VNVME_NSID_ALL, .cdw10 = 1u << 9};
		fcid = hq_submit(&h->admin, &s);
		for (int i = 0; i < FLUSHES; i++) {
			assert_int_equal(hq_reap(q, &cqe, 5000), 0);
			assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
			uint16_t k = (uint16_t)(cqe.cid - first);
			assert_true(k < FLUSHES && !seen[k]);
			seen[k] = true;
		}
		assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
		assert_int_equal(cqe.cid, fcid);
		assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
		for (uint32_t ns = 1; ns <= 2; ns++) {
			memset(buf, 0xee, 4096);
			s = h_rw(VNVME_NVM_READ, ns, 0, 8);
			s.dptr.prp1 = h_iova(h, buf);
			assert_sc(hq_cmd(q, &s, NULL), 0);
			for (int i = 0; i < 4096; i++)
				assert_int_equal(buf[i], 0);
		}
	}
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
	/* A reset while an erase may be in flight: the controller comes back. */
	s = (struct vnvme_sqe){
	    .opc = VNVME_ADM_FORMAT_NVM, .nsid = VNVME_NSID_ALL, .cdw10 = 1u << 9};
	hq_submit(&h->admin, &s);
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	h_enable(h, 32);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_ARBITRATION, 0, NULL), 0);
}

/* Dirty (or under writeback) pages of a file range, by cachestat(2) (Linux
 * 6.5); -1 where the kernel lacks it. */
static int file_dirty(const char *path, uint64_t off, uint64_t len, uint64_t *dirty)
{
	struct {
		uint64_t off, len;
	} r = {off, len};
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
	} cs = {0};
	int fd = open(path, O_RDONLY), rc;

	assert_true(fd >= 0);
	rc = (int)syscall(451 /* __NR_cachestat */, fd, &r, &cs, 0);
	close(fd);
	*dirty = cs.nr_dirty + cs.nr_writeback;
	return rc;
}

/*
 * Durability on file namespaces, checked where a power cut would bite: the
 * backing file's dirty pages. Identify says there is a volatile write cache
 * and Feature 06h starts enabled; a Write with FUA leaves nothing dirty when
 * it completes, a Flush cleans what earlier writes left; with the cache
 * disabled every Write is durable at completion; enabled again, Writes are
 * cached (not asserted: the kernel may write back at any time).
 */
static void test_fua_and_a_disabled_write_cache_make_writes_durable(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_id_ctrl *ic = (void *)(h->mem + H_DATA + 0x100000);
	uint8_t *buf = h->mem + H_DATA;
	uint64_t *list = (void *)(h->mem + H_DATA + 0x80000);
	uint64_t dirty = 0;
	uint32_t dw0 = 0;
	struct vnvme_sqe s;

	if (file_dirty(f->file[0], 0, 1, &dirty) != 0)
		skip(); /* no cachestat(2): nothing to observe */
	h_create_ioq(h, 1, 64, false, 0);
	assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, ic), 0);
	assert_true(ic->vwc & VNVME_VWC_PRESENT);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_VOLATILE_WC, 0, &dw0), 0);
	assert_int_equal(dw0, VNVME_FEAT_VWC_WCE);
	for (int i = 1; i < 16; i++)
		list[i - 1] = h_iova(h, buf + i * 4096);
	pattern(buf, 0, 65536, 6);
	/* 64 KiB at LBA 0 (cached), 64 KiB with FUA at LBA 1024. */
	s = h_rw(VNVME_NVM_WRITE, 1, 0, 128);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, list);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s = h_rw(VNVME_NVM_WRITE, 1, 1024, 128);
	s.cdw12 |= VNVME_RW_FUA;
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, list);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(file_dirty(f->file[0], 1024 * 512, 65536, &dirty), 0);
	assert_int_equal(dirty, 0);
	/* Flush: the whole file is clean. */
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(file_dirty(f->file[0], 0, 16u << 20, &dirty), 0);
	assert_int_equal(dirty, 0);
	/* The cache disabled: a plain Write is durable at completion. */
	assert_sc(feat(h, VNVME_ADM_SET_FEATURES, VNVME_FID_VOLATILE_WC, 0, NULL), 0);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_VOLATILE_WC, 0, &dw0), 0);
	assert_int_equal(dw0, 0);
	s = h_rw(VNVME_NVM_WRITE, 1, 2048, 128);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, list);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(file_dirty(f->file[0], 2048 * 512, 65536, &dirty), 0);
	assert_int_equal(dirty, 0);
	/* Write Zeroes and DSM still do their work (and an fdatasync each). */
	s = h_rw(VNVME_NVM_WRITE_ZEROES, 1, 2048, 8);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	/* Data reads back. */
	memset(buf, 0, 65536);
	s = h_rw(VNVME_NVM_READ, 1, 1024, 128);
	s.dptr.prp1 = h_iova(h, buf);
	s.dptr.prp2 = h_iova(h, list);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	pattern_check(buf, 0, 65536, 6);
	/* A reset brings the default (enabled) back. */
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	h_enable(h, 32);
	assert_sc(feat(h, VNVME_ADM_GET_FEATURES, VNVME_FID_VOLATILE_WC, 0, &dw0), 0);
	assert_int_equal(dw0, VNVME_FEAT_VWC_WCE);
}

static void test_shadow_doorbells_replace_mmio_doorbells(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint32_t *shadow = (void *)(h->mem + H_DATA + 0x500000);
	uint32_t *ei = (void *)(h->mem + H_DATA + 0x501000);
	struct vnvme_sqe s = {.opc = VNVME_ADM_DBBUF_CONFIG};
	struct vnvme_cqe cqe = {0};
	uint8_t *buf = h->mem + H_DATA;

	/* Misaligned or unmapped buffers are refused. */
	s.dptr.prp1 = h_iova(h, shadow) + 8;
	s.dptr.prp2 = h_iova(h, ei);
	assert_sc(h_admin(h, &s, NULL), VNVME_SC_INVALID_FIELD);
	s.dptr.prp1 = 0x7000000000ull;
	assert_sc(h_admin(h, &s, NULL), VNVME_SC_DATA_XFER_ERROR);
	s.dptr.prp1 = h_iova(h, shadow);
	assert_sc(h_admin(h, &s, NULL), 0);
	h_create_ioq(h, 1, 16, false, 0);
	/* Ring through the shadow only; the MMIO doorbell stays 0. */
	struct hq *q = &h->io[0];
	for (int i = 0; i < 40; i++) { /* wraps the 16-entry queue */
		struct vnvme_sqe r = h_rw(VNVME_NVM_READ, 1, (uint64_t)i, 1);
		r.dptr.prp1 = h_iova(h, buf);
		r.cid = q->cid++;
		q->sq[q->tail] = r;
		q->tail = (uint16_t)((q->tail + 1) % q->size);
		__atomic_store_n(&shadow[2], q->tail, __ATOMIC_RELEASE);
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_int_equal(cqe.cid, r.cid);
		assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
		/* CQ head through the shadow too. */
		__atomic_store_n(&shadow[3], q->head, __ATOMIC_RELEASE);
		/* EventIdx stays one behind what the controller saw: no MMIO needed. */
		assert_int_equal(__atomic_load_n(&ei[2], __ATOMIC_ACQUIRE),
				 (q->tail - 1u) & 0xffff);
	}
	assert_int_equal(*q->sqdb, 0);
}

/* xorshift64: the seed is printed, so a failure can be replayed. */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_random_commands_never_hurt_the_controller(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint64_t x = getenv("VNVME_SEED") ? strtoull(getenv("VNVME_SEED"), NULL, 0) : 0x5eedc0de;
	struct vnvme_cqe cqe;

	printf("# seed 0x%llx\n", (unsigned long long)x);
	h_create_ioq(h, 1, 64, false, 0);
	/* Random data pointers land inside the map, outside it, or at its edge. */
	for (int i = 0; i < 3000; i++) {
		struct vnvme_sqe s;
		uint64_t w[8];
		bool admin = i % 3 == 0;

		for (unsigned k = 0; k < 8; k++)
			w[k] = rng_next(&x);
		memcpy(&s, w, sizeof(s)); /* not through a uint64_t alias of s */
		switch (rng_next(&x) % 4) {
		case 0:
			s.dptr.prp1 = H_IOVA + rng_next(&x) % H_MEMSZ;
			break;
		case 1:
			s.dptr.prp1 = H_IOVA + H_MEMSZ - (rng_next(&x) % 8192);
			s.dptr.prp2 = H_IOVA + (rng_next(&x) % H_MEMSZ & ~7ull);
			break;
		default:
			break; /* anything at all */
		}
		if (admin) {
			/* Not the commands that would take the test's own queues or
			 * memory away (they are tested on purpose elsewhere). */
			static const uint8_t keep[] = {
			    VNVME_ADM_DELETE_SQ,      VNVME_ADM_DELETE_CQ,  VNVME_ADM_CREATE_SQ,
			    VNVME_ADM_CREATE_CQ,      VNVME_ADM_FORMAT_NVM, VNVME_ADM_DBBUF_CONFIG,
			    VNVME_ADM_ASYNC_EVENT_REQ};
			for (unsigned k = 0; k < sizeof(keep); k++)
				if (s.opc == keep[k])
					s.opc = VNVME_ADM_ABORT;
			if (s.opc == VNVME_ADM_SET_FEATURES &&
			    (s.cdw10 & 0xff) == VNVME_FID_IRQ_COALESCING)
				s.cdw10 = VNVME_FID_ARBITRATION;
		} else {
			s.nsid = 1 + (uint32_t)(rng_next(&x) % 3); /* mostly valid namespaces */
			s.opc = (uint8_t)(rng_next(&x) % 12);      /* mostly NVM opcodes */
			s.cdw10 = (uint32_t)(rng_next(&x) % ((16u << 20) / 512));
			s.cdw11 = 0;
			s.cdw12 &= 0xffff00ffu; /* at most 256 blocks */
		}
		struct hq *q = admin ? &h->admin : &h->io[0];
		uint16_t cid = hq_submit(q, &s);
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_int_equal(cqe.cid, cid);
	}
	h_still_correct(h);
}

/* ------------------------------------------------------------------------ */
/* Queues of any geometry: sizes up to 65536, SQ and CQ sizes apart, several
 * SQs on one CQ, anywhere in the host's memory. */

#define G_DATA 0x800000  /* data buffers: 1 MiB */
#define G_CQS  0x900000  /* 4 CQ slots of 1 MiB (65536 x 16 bytes) */
#define G_SQS  0xd00000  /* 4 SQ slots of 4 MiB (65536 x 64 bytes) */
#define G_END  0x1d00000 /* canary bytes from here */

struct gcq {
	uint16_t qid;
	uint32_t size, head;
	uint8_t phase;
	struct vnvme_cqe *ring;
	uint32_t *db;
};

struct gsq {
	uint16_t qid;
	uint32_t size, tail, head; /* head: as the last CQE's SQHD says */
	struct vnvme_sqe *ring;
	uint32_t *db;
	struct gcq *cq;
	uint16_t cid;
	uint32_t out;     /* submitted, not completed */
	uint16_t *expect; /* by CID: the status expected (0xffff: any) */
	uint8_t *busy;    /* by CID: outstanding */
};

/* Where the large layout puts a queue: a slot per qid 1..4 for any size. */
#define G_CQ_OFF(qid) (G_CQS + (uint64_t)((qid)-1) * 0x100000)
#define G_SQ_OFF(qid) (G_SQS + (uint64_t)((qid)-1) * 0x400000)
/* And the small one (h_create_ioq's): up to 8 pairs of at most 128 entries. */
#define S_SQ_OFF(qid) (H_IOQ + (uint64_t)((qid)-1) * 0x10000)
#define S_CQ_OFF(qid) (S_SQ_OFF(qid) + 0x8000)

static void gcq_create(struct host *h, struct gcq *q, uint16_t qid, uint32_t size, uint64_t off)
{
	q->qid = qid;
	q->size = size;
	q->head = 0;
	q->phase = 1;
	q->ring = (void *)(h->mem + off);
	q->db = (uint32_t *)(void *)(h->bar + 8 * qid + 4);
	memset(q->ring, 0, (size_t)size * 16);
	assert_sc(create_cq_raw(h, qid, size, VNVME_CREATE_Q_PC, H_IOVA + off), 0);
}

static void gsq_create(struct host *h, struct gsq *q, uint16_t qid, uint32_t size, struct gcq *cq,
		       uint64_t off)
{
	q->qid = qid;
	q->size = size;
	q->tail = q->head = 0;
	q->ring = (void *)(h->mem + off);
	q->db = (uint32_t *)(void *)(h->bar + 8 * qid);
	q->cq = cq;
	q->out = 0;
	if (!q->expect) {
		q->expect = calloc(65536, sizeof(*q->expect));
		q->busy = calloc(65536, 1);
		assert_non_null(q->expect);
		assert_non_null(q->busy);
	}
	assert_sc(create_sq_raw(h, qid, size, cq->qid, VNVME_CREATE_Q_PC, H_IOVA + off), 0);
}

static void gsq_free(struct gsq *q)
{
	free(q->expect);
	free(q->busy);
	q->expect = NULL;
	q->busy = NULL;
}

/* Free entries in the SQ, as far as the host knows (SQHD of the last CQE). */
static uint32_t gsq_room(const struct gsq *q)
{
	uint32_t used = q->tail >= q->head ? q->tail - q->head : q->tail + q->size - q->head;

	return q->size - 1 - used;
}

static void gsq_queue(struct gsq *q, struct vnvme_sqe *s, uint16_t expect)
{
	s->cid = q->cid++;
	assert_false(q->busy[s->cid]);
	q->busy[s->cid] = 1;
	q->expect[s->cid] = expect;
	q->ring[q->tail] = *s;
	if (++q->tail == q->size)
		q->tail = 0;
	q->out++;
}

static void gsq_ring(struct gsq *q)
{
	/* Release: the SQEs before the doorbell. */
	__atomic_store_n(q->db, q->tail, __ATOMIC_RELEASE);
}

/* The next CQE of cq, if there is one: 1, else 0. */
static int gcq_peek(struct gcq *q, struct vnvme_cqe *out)
{
	struct vnvme_cqe *e = &q->ring[q->head];
	uint16_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);

	if ((st & 1) != q->phase)
		return 0;
	*out = *e;
	if (++q->head == q->size) {
		q->head = 0;
		q->phase ^= 1;
	}
	__atomic_store_n(q->db, q->head, __ATOMIC_RELEASE);
	return 1;
}

/* Check a CQE against the SQ it names (one of sqs[0..n)); returns that SQ. */
static struct gsq *gcq_account(struct gcq *cq, struct gsq *sqs, unsigned n,
			       const struct vnvme_cqe *e)
{
	struct gsq *q = NULL;

	for (unsigned i = 0; i < n; i++)
		if (sqs[i].qid == e->sqid && sqs[i].cq == cq)
			q = &sqs[i];
	if (!q)
		fail_msg("cq%u: a completion for sq%u, which does not post here", cq->qid, e->sqid);
	if (e->sqhd >= q->size)
		fail_msg("sq%u: SQHD %u beyond its %u entries", q->qid, e->sqhd, q->size);
	if (!q->busy[e->cid])
		fail_msg("sq%u: CID %u completed but not outstanding", q->qid, e->cid);
	if (q->expect[e->cid] != 0xffff && (vnvme_cqe_status(e).v & 0x7ff) != q->expect[e->cid])
		fail_msg("sq%u CID %u: status 0x%x, expected 0x%x", q->qid, e->cid,
			 vnvme_cqe_status(e).v, q->expect[e->cid]);
	q->busy[e->cid] = 0;
	q->head = e->sqhd;
	q->out--;
	return q;
}

/* Reap from every CQ until no SQ has a command outstanding. */
static void g_reap_all(struct gcq *cqs, unsigned ncq, struct gsq *sqs, unsigned nsq)
{
	uint64_t deadline = h_now_ms() + 10000;

	for (;;) {
		unsigned out = 0, got = 0;
		struct vnvme_cqe e;

		for (unsigned i = 0; i < nsq; i++)
			out += sqs[i].out;
		if (!out)
			return;
		for (unsigned i = 0; i < ncq; i++)
			while (gcq_peek(&cqs[i], &e)) {
				gcq_account(&cqs[i], sqs, nsq, &e);
				got++;
			}
		if (!got) {
			if (h_now_ms() > deadline) {
				for (unsigned i = 0; i < nsq; i++)
					printf("# sq%u size %u on cq%u size %u: %u outstanding, "
					       "tail %u head %u\n",
					       sqs[i].qid, sqs[i].size, sqs[i].cq->qid,
					       sqs[i].cq->size, sqs[i].out, sqs[i].tail,
					       sqs[i].head);
				fail_msg("%u commands never completed", out);
			}
			usleep(10);
		}
	}
}

static void canary_set(struct host *h)
{
	memset(h->mem + G_END, 0xa5, 0x10000);
}

static void canary_check(struct host *h)
{
	for (unsigned i = 0; i < 0x10000; i++)
		if (h->mem[G_END + i] != 0xa5)
			fail_msg("the controller wrote at 0x%x, past every queue", G_END + i);
}

/*
 * MQES 0xffff: an I/O queue pair of 65536 entries (4 MiB of SQ, 1 MiB of
 * CQ), filled to the last entry at once, then wrapped: every completion
 * arrives, in the CQ's memory and nowhere else (the sizes once lived in 16
 * bits: a 65536-entry ring was checked for 0 bytes and written past).
 */
static void test_queues_of_65536_entries_fill_wrap_and_stay_in_their_memory(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct gcq cq = {0};
	struct gsq sq = {0};
	uint64_t cap = (uint64_t)h_reg32(h, VNVME_REG_CAP) | (uint64_t)h_reg32(h, 4) << 32;

	assert_int_equal(cap & 0xffff, 0xffff);
	/* Canaries right after the CQ slot and the SQ slot of qid 1. */
	memset(h->mem + G_CQS + 0x100000, 0xa5, 4096);
	canary_set(h);
	gcq_create(h, &cq, 1, 65536, G_CQ_OFF(1));
	/* SQ slot 4 ends where the canary begins (G_END). */
	gsq_create(h, &sq, 4, 65536, &cq, G_SQ_OFF(4));
	for (unsigned round = 0; round < 2; round++) {
		/* 65535 (the whole ring), then 1000 more: both rings wrap. */
		uint32_t n = round ? 1000 : 65535;

		for (uint32_t i = 0; i < n; i++) {
			struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, i % 64, 1);
			s.dptr.prp1 = H_IOVA + G_DATA + (i % 8) * 512;
			gsq_queue(&sq, &s, 0);
		}
		gsq_ring(&sq);
		g_reap_all(&cq, 1, &sq, 1);
	}
	assert_int_equal(cq.phase, 0); /* the CQ wrapped once */
	assert_int_equal(sq.head, (65535 + 1000) % 65536);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(h->mem[G_CQS + 0x100000 + i], 0xa5);
	canary_check(h);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS) & (VNVME_CSTS_RDY | VNVME_CSTS_CFS),
			 VNVME_CSTS_RDY);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 4), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
	gsq_free(&sq);
}

/* Random sizes, skewed to the edges: 2, 65536, small, anything. */
static uint32_t g_size(uint64_t *x)
{
	switch (rng_next(x) % 4) {
	case 0:
		return 2;
	case 1:
		return 65536;
	case 2:
		return 2 + (uint32_t)(rng_next(x) % 64);
	default:
		return 2 + (uint32_t)(rng_next(x) % 65535);
	}
}

/*
 * Random queue geometries: in each round 1..4 CQs and 1..4 SQs of random
 * legal sizes (2 to 65536, SQ and CQ sizes apart, SQs smaller and larger
 * than their CQ, several SQs on one CQ), random commands on them (valid
 * ones, whose success is checked, and hostile ones: random opcodes, flags,
 * namespaces and fields, data pointers in the data area), some batches
 * larger than a CQ can hold, random Create/Delete commands beside the live
 * queues (any QID, size, flags, vector, CQ), then deletion in random order
 * (a CQ before its SQs is refused). Every CQE names a live SQ, an outstanding CID and an
 * SQHD inside the SQ; nothing is written outside the rings and buffers.
 */
static void test_random_queue_geometries_never_hurt_the_controller(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint64_t x = getenv("VNVME_SEED") ? strtoull(getenv("VNVME_SEED"), NULL, 0) : 0x9e0c0de5;
	struct gcq cqs[4];
	struct gsq sqs[4];

	printf("# seed 0x%llx\n", (unsigned long long)x);
	memset(sqs, 0, sizeof(sqs));
	canary_set(h);
	for (unsigned round = 0; round < 24; round++) {
		unsigned ncq = 1 + (unsigned)(rng_next(&x) % 4);
		unsigned nsq = 1 + (unsigned)(rng_next(&x) % 4);

		memset(cqs, 0, sizeof(cqs));
		for (unsigned i = 0; i < ncq; i++)
			gcq_create(h, &cqs[i], (uint16_t)(i + 1), g_size(&x), G_CQ_OFF(i + 1));
		for (unsigned i = 0; i < nsq; i++)
			gsq_create(h, &sqs[i], (uint16_t)(i + 1), g_size(&x),
				   &cqs[rng_next(&x) % ncq], G_SQ_OFF(i + 1));
		for (unsigned batch = 0; batch < 6; batch++) {
			for (unsigned i = 0; i < nsq; i++) {
				struct gsq *q = &sqs[i];
				/* Up to 3 times the CQ: the controller must wait for
				 * room, never overrun. */
				uint32_t n = (uint32_t)(rng_next(&x) % (3 * q->cq->size + 1));
				uint32_t room = gsq_room(q);

				n = VN_MIN(VN_MIN(n, room), 2000u);
				for (uint32_t k = 0; k < n; k++) {
					uint64_t r = rng_next(&x);
					struct vnvme_sqe s;
					uint16_t expect = 0;

					if (r % 4 == 0) {
						/* Hostile: any fields, PRPs into the data area,
						 * at most 4 KiB (no PRP list to follow). */
						uint64_t *w = (uint64_t *)(void *)&s;
						for (unsigned j = 0; j < 8; j++)
							w[j] = rng_next(&x);
						s.flags &= (uint8_t) ~(VNVME_SQE_PSDT_MASK
								       << VNVME_SQE_PSDT_SHIFT);
						s.nsid = (uint32_t)(rng_next(&x) % 4);
						s.cdw12 &= 0xffff0007u;
						s.dptr.prp1 =
						    H_IOVA + G_DATA + (rng_next(&x) % 0x80000);
						s.dptr.prp2 = H_IOVA + G_DATA + 0x80000;
						expect = 0xffff;
					} else {
						static const uint8_t ops[] = {
						    VNVME_NVM_READ, VNVME_NVM_WRITE,
						    VNVME_NVM_FLUSH, VNVME_NVM_WRITE_ZEROES};
						s = h_rw(ops[r / 4 % 4], 1 + (uint32_t)(r / 16 % 2),
							 rng_next(&x) % 1000,
							 1 + (uint32_t)(r / 32 % 8));
						s.dptr.prp1 =
						    H_IOVA + G_DATA + (r / 256 % 64) * 4096;
					}
					gsq_queue(q, &s, expect);
				}
				gsq_ring(q);
			}
			g_reap_all(cqs, ncq, sqs, nsq);
		}
		/* Random queue admin commands beside the live queues: any
		 * QID (1..5; 4 are granted), size, flags, vector and CQ, rings
		 * in the data area, some misaligned. What they create is
		 * deleted below, SQs first. */
		bool xsq[6] = {false}, xcq[6] = {false};
		for (unsigned k = 0; k < 6; k++) {
			bool is_cq = rng_next(&x) % 2;
			uint32_t qid = 1 + (uint32_t)(rng_next(&x) % 5);
			uint32_t size = rng_next(&x) % 8 ? g_size(&x) : 1;
			uint32_t cdw11 = (uint32_t)rng_next(&x);
			uint64_t prp1 = H_IOVA + G_DATA + 0xa0000 + (rng_next(&x) % 16) * 4096 +
					(rng_next(&x) % 8 ? 0 : 8);
			uint16_t st;

			if (is_cq) {
				cdw11 = (cdw11 & ~0xffff0000u) | (uint32_t)(rng_next(&x) % 8) << 16;
				st = create_cq_raw(h, qid, size, cdw11, prp1);
			} else {
				st = create_sq_raw(h, qid, size, 1 + (uint32_t)(rng_next(&x) % 5),
						   cdw11 & 0xffff, prp1);
			}
			if ((st & 0x7ff) == 0)
				(is_cq ? xcq : xsq)[qid] = true;
		}
		for (uint32_t qid = 1; qid <= 5; qid++)
			if (xsq[qid])
				assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, qid), 0);
		for (uint32_t qid = 1; qid <= 5; qid++)
			if (xcq[qid])
				assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, qid), 0);
		/* Delete: maybe a CQ that still has SQs first (refused). */
		if (rng_next(&x) % 2)
			assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, sqs[0].cq->qid),
				  SC(1, VNVME_SC_INVALID_QUEUE_DELETION));
		for (unsigned i = 0; i < nsq; i++)
			assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, sqs[(i + round) % nsq].qid), 0);
		for (unsigned i = 0; i < ncq; i++)
			assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, cqs[(i + round) % ncq].qid), 0);
	}
	for (unsigned i = 0; i < 4; i++)
		gsq_free(&sqs[i]);
	canary_check(h);
	/* And still correct. */
	h_create_ioq(h, 1, 64, false, 0);
	h_still_correct(h);
}

/*
 * Do Not Retry only where a retry cannot succeed (as QEMU's hw/nvme decides
 * it): the host's own errors carry it, a transfer that met unmapped memory
 * (QEMU unmaps and maps again) and an internal error do not. It was once set
 * for every generic status.
 */
static void test_dnr_is_set_only_where_a_retry_cannot_help(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe s;
	uint16_t st;

	h_create_ioq(h, 1, 16, false, 0);
	s = (struct vnvme_sqe){.opc = 0x7f, .nsid = 1}; /* no such opcode */
	st = hq_cmd(q, &s, NULL);
	assert_sc(st, VNVME_SC_INVALID_OPCODE);
	assert_true(st & VNVME_SF_DNR);
	s = h_rw(VNVME_NVM_READ, 1, (16u << 20) / 512, 1); /* past the end */
	s.dptr.prp1 = h_iova(h, buf);
	st = hq_cmd(q, &s, NULL);
	assert_sc(st, VNVME_SC_LBA_OUT_OF_RANGE);
	assert_true(st & VNVME_SF_DNR);
	s = h_rw(VNVME_NVM_READ, 9, 0, 1); /* no such namespace */
	s.dptr.prp1 = h_iova(h, buf);
	st = hq_cmd(q, &s, NULL);
	assert_sc(st, VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_true(st & VNVME_SF_DNR);
	/* Compare that does not match: DNR (media and data integrity). */
	memset(buf, 0x11, 512);
	s = h_rw(VNVME_NVM_WRITE, 1, 5, 1);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	buf[7] = 0x12;
	s.opc = VNVME_NVM_COMPARE;
	st = hq_cmd(q, &s, NULL);
	assert_sc(st, SC(2, VNVME_SC_COMPARE_FAILURE));
	assert_true(st & VNVME_SF_DNR);
	/* Memory that is not mapped (now): no DNR, the host may retry. */
	s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	s.dptr.prp1 = 0x7000000000ull;
	st = hq_cmd(q, &s, NULL);
	assert_sc(st, VNVME_SC_DATA_XFER_ERROR);
	assert_false(st & VNVME_SF_DNR);
	/* Command specific: an invalid queue ID, DNR. */
	st = create_cq_raw(h, 9, 16, VNVME_CREATE_Q_PC, H_IOVA + H_IOQ);
	assert_sc(st, SC(1, VNVME_SC_INVALID_QID));
	assert_true(st & VNVME_SF_DNR);
}

/* A message a test posts to a poller: it holds the poller until opened. */
struct gate {
	uint32_t open;
};

static void gate_wait(void *arg)
{
	struct gate *g = arg;

	/* Bounded: 10 s, whatever happens to the test. */
	for (int i = 0; i < 100000 && !__atomic_load_n(&g->open, __ATOMIC_ACQUIRE); i++)
		usleep(100);
}

struct gates {
	struct gate a, b;
};

static void *gates_open(void *arg)
{
	struct gates *g = arg;

	usleep(20000);
	__atomic_store_n(&g->a.open, 1u, __ATOMIC_RELEASE);
	usleep(20000);
	__atomic_store_n(&g->b.open, 1u, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * CC.EN = 0 right after Create I/O SQ, while the SQ's attach is still queued
 * on its poller, behind the CQ's own attach: the reset must not free the SQ
 * before that message has run (a use-after-free that ASan reports). The
 * second poller is held by gates so the messages run in the order that hurt:
 * the CQ's attach (which sees the reset and lets go), then, 20 ms later, the
 * SQ's.
 */
static void test_disable_right_after_create_sq_waits_for_the_pollers(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	uint64_t q = H_IOVA + H_IOQ;
	const uint32_t PC = VNVME_CREATE_Q_PC;

	for (unsigned i = 0; i < 4; i++) {
		struct gates g = {{0}, {0}};
		pthread_t t;

		/* I/O CQs go round robin over the two pollers, from the first
		 * (the admin poller's): qid 1 on it, qid 2 on the other. */
		assert_sc(create_cq_raw(h, 1, 16, PC, q), 0);
		assert_int_equal(vn_poller_post(f->e.pollers[1], gate_wait, &g.a), 0);
		assert_sc(create_cq_raw(h, 2, 16, PC, q + 0x1000), 0);
		assert_int_equal(vn_poller_post(f->e.pollers[1], gate_wait, &g.b), 0);
		assert_sc(create_sq_raw(h, 2, 16, 2, PC, q + 0x2000), 0);
		assert_int_equal(pthread_create(&t, NULL, gates_open, &g), 0);
		h_wreg32(h, VNVME_REG_CC, 0);
		assert_int_equal(h_wait_rdy(h, 0), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		h_enable(h, 32);
	}
	h_create_ioq(h, 1, 16, false, 0);
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe r = h_rw(VNVME_NVM_READ, 1, 0, 1);
	r.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &r, NULL), 0);
}

/*
 * Four SQs of 65536 entries: their request slots (about 49 MiB a queue) are
 * memory only once used. Every slot was once written when the SQ was
 * created, so four such queues made the process 196 MiB larger before a
 * command ran, and a host could repeat it on every controller.
 */
static void test_deep_sqs_cost_memory_only_as_they_are_used(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct gcq cq = {0};
	struct gsq sq[4];
	unsigned long before, after;

	memset(sq, 0, sizeof(sq));
	gcq_create(h, &cq, 1, 65536, G_CQ_OFF(1));
	before = proc_field("/proc/self/status", "VmRSS:");
	for (unsigned i = 0; i < 4; i++)
		gsq_create(h, &sq[i], (uint16_t)(i + 1), 65536, &cq, G_SQ_OFF(i + 1));
	after = proc_field("/proc/self/status", "VmRSS:");
	printf("# 4 SQs of 65536 entries: RSS %lu -> %lu KiB\n", before, after);
	assert_true(after < before + 24 * 1024);
	for (unsigned i = 0; i < 4; i++) {
		struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
		gsq_queue(&sq[i], &s, 0);
		gsq_ring(&sq[i]);
	}
	g_reap_all(&cq, 1, sq, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, (uint16_t)(i + 1)), 0);
		gsq_free(&sq[i]);
	}
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
}

/*
 * An SQ of 2 entries on a CQ of 64, on the file backend, with DSMs of 256
 * ranges (each range one fallocate: they stay in flight for a while). The
 * host writes the next command as soon as the controller has fetched the
 * previous one (read off the controller's SQ head, which a real host
 * cannot see: it keeps the test free of timing), so more commands are in
 * flight than the SQ has entries: request slots, sized by the SQ, once ran
 * out and underflowed the pool (a crash). The controller must leave the
 * SQE in the ring until a slot is free, and complete everything it
 * fetched, successfully.
 */
static uint32_t sq_device_head(struct tfx *f, uint16_t qid, uint32_t *inflight)
{
	struct nvme_ctrl *c = vnvme_dev_ctrl(f->dev);
	struct nvme_sq *sq = __atomic_load_n(&c->sqs[qid], __ATOMIC_ACQUIRE);

	assert_non_null(sq);
	*inflight = __atomic_load_n(&sq->inflight, __ATOMIC_RELAXED);
	return __atomic_load_n(&sq->head, __ATOMIC_RELAXED);
}

static void test_an_sq_smaller_than_its_cq_waits_for_request_slots(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_dsm_range *r = (void *)(h->mem + G_DATA + 0x90000);
	struct gcq cq = {0};
	struct gsq sq = {0};
	struct vnvme_cqe e;
	unsigned done = 0, most = 0;
	const unsigned N = 40;

	for (unsigned i = 0; i < 256; i++)
		r[i] = (struct vnvme_dsm_range){.nlb = 1, .slba = 2 * i};
	gcq_create(h, &cq, 1, 64, S_CQ_OFF(1));
	gsq_create(h, &sq, 1, 2, &cq, S_SQ_OFF(1));
	for (unsigned k = 0; k < N; k++) {
		struct vnvme_sqe s = {.opc = VNVME_NVM_DSM, .nsid = 1, .cdw11 = VNVME_DSM_AD};
		uint32_t inflight;

		s.cdw10 = 255;
		s.dptr.prp1 = h_iova(h, r);
		s.cid = sq.cid++;
		sq.ring[sq.tail] = s;
		sq.tail ^= 1;
		gsq_ring(&sq);
		/* Until the controller fetched it (bounded: 10 s). */
		for (uint64_t end = h_now_ms() + 10000;;) {
			uint32_t head = sq_device_head(f, 1, &inflight);

			most = inflight > most ? inflight : most;
			if (head == sq.tail)
				break;
			if (h_now_ms() > end)
				fail_msg("command %u not fetched in 10 s (%u done)", k, done);
			while (gcq_peek(&cq, &e)) {
				assert_sc(vnvme_cqe_status(&e).v, 0);
				done++;
			}
			usleep(50);
		}
	}
	for (uint64_t end = h_now_ms() + 10000; done < N;) {
		if (gcq_peek(&cq, &e)) {
			assert_int_equal(e.sqid, 1);
			assert_sc(vnvme_cqe_status(&e).v, 0);
			assert_true(e.sqhd < 2);
			done++;
		} else {
			if (h_now_ms() > end)
				fail_msg("%u of %u DSMs completed in 10 s", done, N);
			usleep(100);
		}
	}
	printf("# %u DSMs completed, at most %u in flight at once\n", done, most);
	assert_false(gcq_peek(&cq, &e)); /* nothing twice */
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS) & (VNVME_CSTS_RDY | VNVME_CSTS_CFS),
			 VNVME_CSTS_RDY);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 1), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
	gsq_free(&sq);
}

/*
 * Eight queues issuing sixty Flushes each (two SQs on each of four CQs) on a
 * file namespace whose io_uring takes 8: a busy device applies
 * back-pressure, it never fails a command it would serve when idle (they
 * once completed with Internal Error and DNR, 0x4006).
 */
static void test_eight_queues_of_sixty_flushes_all_succeed_on_a_busy_file(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct gcq cqs[4];
	struct gsq sqs[8];

	memset(cqs, 0, sizeof(cqs));
	memset(sqs, 0, sizeof(sqs));
	for (unsigned i = 0; i < 4; i++)
		gcq_create(h, &cqs[i], (uint16_t)(i + 1), 128, S_CQ_OFF(i + 1));
	for (unsigned i = 0; i < 8; i++)
		gsq_create(h, &sqs[i], (uint16_t)(i + 1), 64, &cqs[i % 4], S_SQ_OFF(i + 1));
	for (unsigned i = 0; i < 8; i++) {
		for (unsigned k = 0; k < 60; k++) {
			struct vnvme_sqe s = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
			gsq_queue(&sqs[i], &s, 0);
		}
	}
	for (unsigned i = 0; i < 8; i++)
		gsq_ring(&sqs[i]);
	g_reap_all(cqs, 4, sqs, 8);
	for (unsigned i = 0; i < 8; i++) {
		assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, (uint16_t)(i + 1)), 0);
		gsq_free(&sqs[i]);
	}
	for (unsigned i = 0; i < 4; i++)
		assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, (uint16_t)(i + 1)), 0);
}

struct dumper {
	struct vnvme_dev *dev;
	FILE *out;
	uint32_t stop;
	unsigned dumps, bad;
};

static void *dump_loop(void *arg)
{
	struct dumper *d = arg;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		vnvme_dev_print_stats(d->dev, d->out);
		/* And the control socket's reads and resets (every 8th). */
		struct nvme_queue_stats qs[5];
		int n = nvme_ctrl_get_queue_stats(vnvme_dev_ctrl(d->dev), qs, 5);
		for (int i = 0; i < n; i++)
			d->bad += qs[i].errors || qs[i].nr_err ||
				  qs[i].inflight > qs[i].size; /* none fails */
		if (!(d->dumps & 7))
			nvme_ctrl_reset_stats(vnvme_dev_ctrl(d->dev));
		d->dumps++;
	}
	return NULL;
}

/*
 * The SIGUSR1 counter dump (vnvme_dev_print_stats, on the control thread),
 * the per-queue statistics and their reset, while the admin poller creates
 * and deletes queues: they must never read a queue the admin path has
 * freed (ASan reports a use-after-free).
 */
static void test_counter_dumps_race_queue_creation_and_deletion(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct dumper d = {.dev = f->dev};
	pthread_t t;

	d.out = fopen("/dev/null", "w");
	assert_non_null(d.out);
	assert_int_equal(pthread_create(&t, NULL, dump_loop, &d), 0);
	for (unsigned i = 0; i < 150; i++) {
		for (uint16_t qid = 1; qid <= 4; qid++)
			h_create_ioq(h, qid, 16, false, 0);
		for (uint16_t qid = 1; qid <= 4; qid++) {
			assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, qid), 0);
			assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, qid), 0);
		}
	}
	__atomic_store_n(&d.stop, 1u, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	fclose(d.out);
	printf("# %u dumps\n", d.dumps);
	assert_true(d.dumps > 0);
	assert_int_equal(d.bad, 0);
}

static unsigned cc_lines;

static void count_cc_lines(enum vn_log_level level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(line, ": enabled") || strstr(line, ": disabled"))
		__atomic_fetch_add(&cc_lines, 1, __ATOMIC_RELAXED);
}

/* A host that toggles CC.EN in a loop cannot flood the target's log. */
static void test_a_cc_en_loop_does_not_flood_the_log(void **state)
{
	struct tfx *f = *state;
	enum vn_log_level lvl = vn_log_get_level();

	cc_lines = 0;
	vn_log_set_level(VN_LOG_INFO);
	vn_log_set_sink(count_cc_lines, NULL);
	for (int i = 0; i < 500; i++) {
		h_wreg32(&f->h, VNVME_REG_CC, 0);
		assert_int_equal(h_wait_rdy(&f->h, 0) & VNVME_CSTS_RDY, 0);
		h_enable(&f->h, 32);
	}
	vn_log_set_sink(NULL, NULL);
	vn_log_set_level(lvl);
	/* Two lines a cycle unlimited; 10 a second, 1000 would take 100 s. */
	assert_true(cc_lines >= 1);
	assert_true(cc_lines < 1000);
}

/* ------------------------------------------------------------------------ */
/* Namespaces added and removed while the controller runs */

/* vnvme_dev_ns_add / _remove, on the control thread (the event loop's), as
 * the RPC server calls them. */
struct ns_call {
	struct vnvme_dev *d;
	bool add;
	struct vnvme_ns_conf nc;
	uint32_t nsid, out;
	int ret;
	char err[256];
};

static void ns_call_fn(void *arg)
{
	struct ns_call *c = arg;

	c->ret = c->add ? vnvme_dev_ns_add(c->d, &c->nc, c->nsid, &c->out, c->err, sizeof(c->err))
			: vnvme_dev_ns_remove(c->d, c->nsid, c->err, sizeof(c->err));
}

static int dev_ns_add(struct tfx *f, enum vn_be_type type, const char *path, uint32_t lba_size,
		      uint32_t nsid, uint32_t *out, char *err)
{
	struct ns_call c = {.d = f->dev, .add = true, .nsid = nsid};

	c.nc.be.type = type;
	c.nc.be.size = 8u << 20;
	c.nc.be.path = path;
	c.nc.lba_size = lba_size;
	assert_int_equal(vn_evloop_call(f->e.loop, ns_call_fn, &c), 0);
	if (out)
		*out = c.out;
	if (err)
		memcpy(err, c.err, sizeof(c.err));
	return c.ret;
}

static int dev_ns_remove(struct tfx *f, uint32_t nsid, char *err)
{
	struct ns_call c = {.d = f->dev, .nsid = nsid};

	assert_int_equal(vn_evloop_call(f->e.loop, ns_call_fn, &c), 0);
	if (err)
		memcpy(err, c.err, sizeof(c.err));
	return c.ret;
}

/*
 * A host thread that keeps I/O going on one queue to one namespace:
 * batches of 7 Writes and Reads and a Flush, every completion sorted by
 * status. Read
 * before a batch is submitted, `removed` says the namespace was detached
 * before: that batch must fail whole.
 */
struct io_loop {
	struct host *h;
	struct hq *q;
	uint32_t nsid;
	uint8_t *buf;
	pthread_t t;
	uint32_t stop, removed;
	uint64_t batches; /* written by the thread, read by the test */
	uint64_t ok, invalid_ns, ok_after_removed, other, timeouts;
};

static void *io_loop_fn(void *arg)
{
	struct io_loop *l = arg;

	for (uint32_t b = 0; !__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE); b++) {
		bool removed = __atomic_load_n(&l->removed, __ATOMIC_ACQUIRE);

		for (uint32_t i = 0; i < 8; i++) {
			struct vnvme_sqe s = h_rw(i & 1 ? VNVME_NVM_READ : VNVME_NVM_WRITE, l->nsid,
						  (b * 8 + i) % 4096, 1);
			s.dptr.prp1 = h_iova(l->h, l->buf + 512 * i);
			if (i == 7) /* one for the general path among the fast ones */
				s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = l->nsid};
			hq_queue(l->q, &s);
		}
		hq_ring(l->q);
		for (uint32_t i = 0; i < 8; i++) {
			struct vnvme_cqe cqe;
			unsigned st;

			if (hq_reap(l->q, &cqe, 20000)) {
				l->timeouts++;
				return NULL;
			}
			st = vnvme_cqe_status(&cqe).v & 0x7ff;
			if (st == 0) {
				l->ok++;
				l->ok_after_removed += removed;
			} else if (st == VNVME_SC_INVALID_NS_OR_FORMAT) {
				l->invalid_ns++;
			} else {
				l->other++;
			}
		}
		__atomic_store_n(&l->batches, l->batches + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void io_loop_start(struct io_loop *l, struct host *h, struct hq *q, uint32_t nsid)
{
	memset(l, 0, sizeof(*l));
	l->h = h;
	l->q = q;
	l->nsid = nsid;
	l->buf = h->mem + H_DATA + 0x300000;
	assert_int_equal(pthread_create(&l->t, NULL, io_loop_fn, l), 0);
}

/* Wait (20 s at most, by the clock) for n more batches, or the loop's end. */
static void io_loop_wait(struct io_loop *l, uint64_t n)
{
	uint64_t until = __atomic_load_n(&l->batches, __ATOMIC_ACQUIRE) + n;
	uint64_t deadline = h_now_ms() + 20000;

	while (__atomic_load_n(&l->batches, __ATOMIC_ACQUIRE) < until && !l->timeouts &&
	       h_now_ms() < deadline)
		usleep(100);
	if (__atomic_load_n(&l->batches, __ATOMIC_ACQUIRE) < until) {
		/* Stopped before failing: the teardown unmaps its memory. */
		__atomic_store_n(&l->stop, 1u, __ATOMIC_RELEASE);
		pthread_join(l->t, NULL);
		fail_msg("the I/O loop stalled: %llu timeouts", (unsigned long long)l->timeouts);
	}
}

static void io_loop_stop(struct io_loop *l)
{
	__atomic_store_n(&l->stop, 1u, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(l->t, NULL), 0);
	assert_int_equal(l->timeouts, 0);
	assert_int_equal(l->other, 0);
}

#define AEN_NS_CHANGED                                                                             \
	(VNVME_AER_TYPE_NOTICE | VNVME_AER_NOTICE_NS_ATTR_CHANGED << VNVME_AER_INFO_SHIFT |        \
	 VNVME_LID_CHANGED_NS_LIST << VNVME_AER_LID_SHIFT)

static void set_aec(struct host *h, uint32_t v)
{
	struct vnvme_sqe s = {
	    .opc = VNVME_ADM_SET_FEATURES, .cdw10 = VNVME_FID_ASYNC_EVENT_CONFIG, .cdw11 = v};
	assert_sc(h_admin(h, &s, NULL), 0);
}

/* A log page read with RAE set: its events stay masked. */
static uint16_t get_log_rae(struct host *h, uint8_t lid, uint32_t bytes)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_LOG_PAGE};

	s.dptr.prp1 = H_IOVA + H_DATA;
	s.dptr.prp2 = H_IOVA + H_DATA + 4096;
	s.cdw10 = lid | VNVME_GET_LOG_RAE | (bytes / 4 - 1) << 16;
	return h_admin(h, &s, NULL);
}

/* The Changed Namespace List (RAE as asked), copied to list[1024]. */
static void changed_ns_log(struct host *h, bool rae, uint32_t *list)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_LOG_PAGE, .nsid = VNVME_NSID_ALL};

	memset(h->mem + H_DATA, 0xa5, 4096);
	s.dptr.prp1 = H_IOVA + H_DATA;
	s.cdw10 = VNVME_LID_CHANGED_NS_LIST | 1023u << 16 | (rae ? VNVME_GET_LOG_RAE : 0);
	assert_sc(h_admin(h, &s, NULL), 0);
	memcpy(list, h->mem + H_DATA, 4096);
	for (unsigned i = 0; i < 1024 && list[i]; i++) /* ascending, no junk after the end */
		assert_true(i == 0 || list[i] > list[i - 1]);
}

/* The active namespace list (CNS 02h), up to 0: its length. */
static unsigned active_ns(struct host *h, uint32_t *list)
{
	unsigned n = 0;

	assert_sc(h_identify(h, VNVME_CNS_ACTIVE_NS_LIST, 0, 0, h->mem + H_DATA), 0);
	memcpy(list, h->mem + H_DATA, 4096);
	while (n < 1024 && list[n])
		n++;
	return n;
}

/* Write a pattern to LBA 7 of nsid through q, read it back. */
static void rw_round_trip(struct host *h, struct hq *q, uint32_t nsid, uint8_t pat)
{
	uint8_t *buf = h->mem + H_DATA + 0x200000;
	struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, nsid, 7, 1);

	memset(buf, pat, 512);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	memset(buf, 0, 512);
	s.opc = VNVME_NVM_READ;
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(buf[0], pat);
	assert_int_equal(buf[511], pat);
}

/*
 * A namespace attached while I/O runs on namespace 1: the host gets the
 * Namespace Attribute Changed event, the Changed Namespace List names it
 * once, Identify lists it, and it serves I/O; namespace 1's I/O never
 * notices.
 */
static void test_ns_attached_under_io_is_announced_and_serves_io(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_id_ns *idns = (void *)(h->mem + H_DATA);
	struct vnvme_cqe cqe = {0};
	uint32_t list[1024], nsid = 0;
	struct io_loop l;
	char err[256];
	uint16_t cid;

	h_create_ioq(h, 1, 64, false, 0);
	h_create_ioq(h, 2, 64, false, 0);
	set_aec(h, VNVME_OAES_NS_ATTR);
	cid = hq_submit(&h->admin, &aer);
	io_loop_start(&l, h, &h->io[0], 1);
	io_loop_wait(&l, 50);

	assert_int_equal(dev_ns_add(f, VN_BE_RAM, NULL, 4096, 0, &nsid, err), 0);
	io_loop_wait(&l, 50);
	io_loop_stop(&l);
	assert_int_equal(l.invalid_ns, 0);
	assert_true(l.ok >= 100 * 8);
	assert_int_equal(nsid, 3); /* the lowest free */
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(vnvme_cqe_status(&cqe).v, 0);
	assert_int_equal(cqe.dw0, AEN_NS_CHANGED); /* 0x00040002 */
	changed_ns_log(h, false, list);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 0);
	changed_ns_log(h, false, list); /* read: cleared */
	assert_int_equal(list[0], 0);
	assert_int_equal(active_ns(h, list), 3);
	assert_int_equal(list[2], 3);
	assert_sc(h_identify(h, VNVME_CNS_NS, 3, 0, idns), 0);
	assert_int_equal(idns->nsze, (8u << 20) / 4096);
	assert_int_equal(idns->lbaf[idns->flbas & 0xf].lbads, 12);
	rw_round_trip(h, &h->io[1], 3, 0x5b);
	/* The device's record of its namespaces, in NSID order. */
	const struct vnvme_dev_conf *dc = vnvme_dev_conf(f->dev);
	assert_int_equal(dc->nr_ns, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(dc->ns[i].nsid, i + 1);
	assert_int_equal(dc->ns[2].lba_size, 4096);
	assert_int_equal(dc->ns[2].be.type, VN_BE_RAM);
}

/*
 * A namespace detached while a host thread keeps 8 commands at a time
 * going to it: every command completes (success before, Invalid Namespace
 * or Format after, never a hang), a batch submitted after the detach
 * returned fails whole, the event and log say so; the NSID can be attached
 * again. Under ASan, a poller that touched the freed namespace or its
 * backend would abort here.
 */
static void ns_detach_under_io(struct tfx *f, enum vn_be_type type)
{
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	uint8_t *zero = h->mem + H_DATA + 0x100000;
	struct vnvme_cqe cqe = {0};
	uint32_t list[1024], nsid = 0;
	char err[256], path[128];
	struct io_loop l;
	uint16_t cid;

	h_create_ioq(h, 1, 64, false, 0);
	h_create_ioq(h, 2, 64, false, 0);
	set_aec(h, VNVME_OAES_NS_ATTR);
	cid = hq_submit(&h->admin, &aer);
	io_loop_start(&l, h, &h->io[0], 2);
	io_loop_wait(&l, 50);

	assert_int_equal(dev_ns_remove(f, 2, err), 0);
	__atomic_store_n(&l.removed, 1u, __ATOMIC_RELEASE);
	io_loop_wait(&l, 20);
	io_loop_stop(&l);
	assert_int_equal(l.ok_after_removed, 0);
	assert_true(l.invalid_ns >= 20 * 8);
	assert_true(l.ok >= 50 * 8);

	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(cqe.dw0, AEN_NS_CHANGED);
	changed_ns_log(h, false, list);
	assert_int_equal(list[0], 2);
	assert_int_equal(list[1], 0);
	assert_int_equal(active_ns(h, list), 1);
	memset(zero, 0xa5, 4096);
	assert_sc(h_identify(h, VNVME_CNS_NS, 2, 0, zero), 0); /* inactive: zeroes */
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(zero[i], 0);
	assert_int_equal(vnvme_dev_conf(f->dev)->nr_ns, 1);
	assert_int_equal(vnvme_dev_conf(f->dev)->ns[0].nsid, 1);
	rw_round_trip(h, &h->io[1], 1, 0x71);

	/* The NSID is free again, on another backend; and again, each time
	 * removed under I/O (more chances to catch I/O in flight). */
	for (unsigned k = 0; k < 8; k++) {
		snprintf(path, sizeof(path), "%s/again%u.img", f->e.dir, k);
		assert_int_equal(
		    dev_ns_add(f, type, type == VN_BE_FILE ? path : NULL, 512, 0, &nsid, err), 0);
		assert_int_equal(nsid, 2);
		rw_round_trip(h, &h->io[0], 2, (uint8_t)(0x3d + k));
		assert_int_equal(active_ns(h, list), 2);
		io_loop_start(&l, h, &h->io[0], 2);
		io_loop_wait(&l, 10);
		assert_int_equal(dev_ns_remove(f, 2, err), 0);
		__atomic_store_n(&l.removed, 1u, __ATOMIC_RELEASE);
		io_loop_wait(&l, 2);
		io_loop_stop(&l);
		assert_int_equal(l.ok_after_removed, 0);
	}
	assert_int_equal(active_ns(h, list), 1);
}

static void test_ns_detached_under_io_completes_every_command(void **state)
{
	ns_detach_under_io(*state, VN_BE_RAM);
}

static void test_ns_detached_under_file_io_completes_every_command(void **state)
{
	ns_detach_under_io(*state, VN_BE_FILE);
}

/* Feature 0Bh bit 8 clear: no Namespace Attribute Changed event, though
 * the log still records the change. An error event raised afterwards is
 * the first the host gets. */
static void test_ns_change_event_is_not_sent_when_feature_0bh_disables_it(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_cqe cqe = {0};
	uint32_t list[1024];
	uint16_t cid;

	h_create_ioq(h, 1, 16, false, 0);
	set_aec(h, 0x1ff & ~VNVME_OAES_NS_ATTR);
	cid = hq_submit(&h->admin, &aer);
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 5, NULL, NULL), 0);
	assert_int_equal(dev_ns_remove(f, 1, NULL), 0);
	/* An admin round trip: the admin poller has seen the change (an
	 * event would now come before this completion and fail hq_cmd). */
	assert_int_equal(active_ns(h, list), 2);
	__atomic_store_n(h->io[0].sqdb, 99u, __ATOMIC_RELEASE); /* invalid: error event */
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(cqe.dw0 & VNVME_AER_TYPE_MASK, VNVME_AER_TYPE_ERROR);
	__atomic_store_n(h->io[0].sqdb, 0u, __ATOMIC_RELEASE);
	changed_ns_log(h, false, list);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 5);
	assert_int_equal(list[2], 0);

	/* Enabled: told, even when a masked error event (its log unread) was
	 * queued before it. */
	struct vnvme_error_log_entry *el = (void *)(h->mem + H_DATA);
	uint64_t errors, deadline = h_now_ms() + 10000;
	set_aec(h, VNVME_OAES_NS_ATTR);
	assert_sc(get_log_rae(h, VNVME_LID_ERROR, 4096), 0);
	errors = el[0].error_count;
	__atomic_store_n(h->io[0].sqdb, 99u, __ATOMIC_RELEASE);
	do { /* until the admin poller queued the error event (and logged it) */
		assert_true(h_now_ms() < deadline);
		assert_sc(get_log_rae(h, VNVME_LID_ERROR, 4096), 0);
	} while (el[0].error_count == errors);
	__atomic_store_n(h->io[0].sqdb, 0u, __ATOMIC_RELEASE);
	cid = hq_submit(&h->admin, &aer);
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 6, NULL, NULL), 0);
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal(cqe.dw0, AEN_NS_CHANGED);
}

/*
 * Once a Namespace Attribute Changed event is posted, no other comes until
 * the host reads log 04h with RAE cleared (NVMe Base 2.0c §5.2 "Asynchronous
 * Event Request command"); what changed meanwhile is in that log. RAE set
 * leaves the log and the mask as they are. Other event types still come.
 */
static void test_ns_change_events_wait_for_the_log_to_be_read(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_cqe cqe = {0};
	uint32_t list[1024];
	uint16_t cid[3];

	h_create_ioq(h, 1, 16, false, 0);
	set_aec(h, VNVME_OAES_NS_ATTR);
	cid[0] = hq_submit(&h->admin, &aer);
	cid[1] = hq_submit(&h->admin, &aer);
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 3, NULL, NULL), 0);
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid[1]); /* the last submitted first: a stack */
	assert_int_equal(cqe.dw0, AEN_NS_CHANGED);
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 4, NULL, NULL), 0);
	assert_int_equal(active_ns(h, list), 4); /* the admin poller saw it */
	/* Masked: the next event is the error one. */
	__atomic_store_n(h->io[0].sqdb, 99u, __ATOMIC_RELEASE);
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid[0]);
	assert_int_equal(cqe.dw0 & VNVME_AER_TYPE_MASK, VNVME_AER_TYPE_ERROR);
	__atomic_store_n(h->io[0].sqdb, 0u, __ATOMIC_RELEASE);
	/* RAE set: read, kept. */
	changed_ns_log(h, true, list);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 4);
	assert_int_equal(list[2], 0);
	cid[2] = hq_submit(&h->admin, &aer);
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 9, NULL, NULL), 0);
	assert_int_equal(active_ns(h, list), 5); /* still masked: no event before this */
	changed_ns_log(h, false, list);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 4);
	assert_int_equal(list[2], 9);
	assert_int_equal(list[3], 0);
	/* No event for what that log already said (it would complete before
	 * this command and fail its hq_cmd). */
	assert_int_equal(active_ns(h, list), 5);
	/* Unmasked: the next change is told. */
	assert_int_equal(dev_ns_remove(f, 4, NULL), 0);
	assert_int_equal(hq_reap(&h->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid[2]);
	assert_int_equal(cqe.dw0, AEN_NS_CHANGED);
	changed_ns_log(h, false, list);
	assert_int_equal(list[0], 4);
	assert_int_equal(list[1], 0);
}

/* Bad NSIDs, refused with a sentence, at the device and the controller;
 * nothing changes. */
static void test_ns_add_and_remove_refuse_bad_nsids(void **state)
{
	struct tfx *f = *state;
	struct nvme_ctrl *c = vnvme_dev_ctrl(f->dev);
	struct nvme_ns_opts o = {.lba_size = 512};
	const char *e = NULL;
	char err[256];
	uint32_t nsid = 0, list[1024];

	assert_int_equal(dev_ns_remove(f, 0, err), -ENOENT);
	assert_non_null(strstr(err, "no such namespace"));
	assert_int_equal(dev_ns_remove(f, 33, err), -ENOENT);
	assert_int_equal(dev_ns_remove(f, 5, err), -ENOENT);
	assert_int_equal(dev_ns_add(f, VN_BE_RAM, NULL, 512, 1, NULL, err), -EEXIST);
	assert_non_null(strstr(err, "exists already"));
	assert_int_equal(dev_ns_add(f, VN_BE_RAM, NULL, 512, 33, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "1..32"));
	assert_int_equal(dev_ns_add(f, VN_BE_RAM, NULL, 1000, 0, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "512 or 4096"));
	assert_int_equal(dev_ns_add(f, VN_BE_FILE, "/nonexistent/dir/x.img", 512, 0, NULL, err),
			 -ENOENT);
	assert_non_null(strstr(err, "namespace 3"));

	/* The controller's own checks. */
	o.nsid = 0;
	assert_int_equal(nvme_ctrl_ns_attach(c, &o, &e), -EINVAL);
	assert_non_null(e);
	o.nsid = NVME_MAX_NS + 1;
	assert_int_equal(nvme_ctrl_ns_attach(c, &o, &e), -EINVAL);
	o.nsid = 2;
	assert_int_equal(nvme_ctrl_ns_attach(c, &o, &e), -EEXIST);
	assert_non_null(strstr(e, "attached"));
	o.nsid = 3; /* no backend */
	assert_int_equal(nvme_ctrl_ns_attach(c, &o, &e), -EINVAL);
	assert_int_equal(nvme_ctrl_ns_detach(c, 0, &e), -EINVAL);
	assert_int_equal(nvme_ctrl_ns_detach(c, NVME_MAX_NS + 1, &e), -EINVAL);
	assert_int_equal(nvme_ctrl_ns_detach(c, 7, &e), -ENOENT);
	assert_non_null(strstr(e, "no namespace"));
	assert_int_equal(vnvme_dev_conf(f->dev)->nr_ns, 2);
	assert_int_equal(active_ns(&f->h, list), 2);

	/* Every NSID taken: none left to give. */
	for (uint32_t i = 3; i <= NVME_MAX_NS; i++) {
		assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 0, &nsid, err), 0);
		assert_int_equal(nsid, i);
	}
	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 0, &nsid, err), -ENOSPC);
	assert_int_equal(active_ns(&f->h, list), NVME_MAX_NS);
	assert_int_equal(vnvme_dev_conf(f->dev)->nr_ns, NVME_MAX_NS);
}

/* Per-queue statistics: counts and errors by status; a reset reads zero
 * (controller totals too) and counting goes on from there; the host's
 * SMART counters are not reset. */
static void test_queue_stats_count_reset_and_count_again(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct nvme_ctrl *c = vnvme_dev_ctrl(f->dev);
	struct nvme_queue_stats qs[8];
	struct nvme_ctrl_stats st;
	uint8_t *buf = h->mem + H_DATA + 0x200000;
	struct vnvme_sqe s;
	int n;

	h_create_ioq(h, 1, 64, false, 0);
	h_create_ioq(h, 2, 64, false, 0);
	for (int i = 0; i < 10; i++)
		rw_round_trip(h, &h->io[0], 1, (uint8_t)i);
	s = h_rw(VNVME_NVM_READ, 9, 0, 1); /* inactive NSID */
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), VNVME_SC_INVALID_NS_OR_FORMAT);
	s = h_rw(VNVME_NVM_READ, 1, 1u << 30, 1); /* past the end */
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);

	n = nvme_ctrl_get_queue_stats(c, qs, 8);
	assert_int_equal(n, 3);
	assert_int_equal(qs[0].qid, 0);
	assert_true(qs[0].cmds >= 4); /* the queue creations at least */
	assert_int_equal(qs[1].qid, 1);
	assert_int_equal(qs[1].cqid, 1);
	assert_int_equal(qs[1].size, 64);
	assert_int_equal(qs[1].inflight, 0);
	assert_int_equal(qs[1].cmds, 23);
	assert_int_equal(qs[1].read_cmds, 10);
	assert_int_equal(qs[1].write_cmds, 10);
	assert_int_equal(qs[1].bytes_read, 10 * 512);
	assert_int_equal(qs[1].bytes_written, 10 * 512);
	assert_int_equal(qs[1].errors, 3);
	assert_int_equal(qs[1].nr_err, 2);
	assert_int_equal(qs[1].err[0].status, VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_int_equal(qs[1].err[0].count, 2);
	assert_int_equal(qs[1].err[1].status, VNVME_SC_LBA_OUT_OF_RANGE);
	assert_int_equal(qs[1].err[1].count, 1);
	assert_string_equal(vnvme_spec_status_name(qs[1].err[1].status), "LBA Out of Range");
	assert_int_equal(qs[2].qid, 2);
	assert_int_equal(qs[2].cmds, 0);
	assert_int_equal(nvme_ctrl_get_queue_stats(c, qs, 1), 1); /* max respected */

	nvme_ctrl_reset_stats(c);
	n = nvme_ctrl_get_queue_stats(c, qs, 8);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		assert_int_equal(qs[i].cmds, 0);
		assert_int_equal(qs[i].errors, 0);
		assert_int_equal(qs[i].nr_err, 0);
		assert_int_equal(qs[i].bytes_read + qs[i].bytes_written, 0);
	}
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.io_cmds, 0);
	assert_int_equal(st.io_errors, 0);
	assert_int_equal(st.bytes_read, 0);
	assert_int_equal(st.nr_io_sq, 2);

	rw_round_trip(h, &h->io[1], 1, 0x42);
	assert_sc(hq_cmd(&h->io[1], &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	n = nvme_ctrl_get_queue_stats(c, qs, 8);
	assert_int_equal(qs[1].cmds, 0);
	assert_int_equal(qs[2].cmds, 3);
	assert_int_equal(qs[2].errors, 1);
	assert_int_equal(qs[2].nr_err, 1);
	assert_int_equal(qs[2].err[0].status, VNVME_SC_LBA_OUT_OF_RANGE);
	assert_int_equal(qs[2].bytes_written, 512);
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.io_cmds, 3);
	assert_int_equal(st.io_errors, 1);
	/* The host's SMART log counts from the start: 11 reads, 11 writes. */
	struct vnvme_smart_log *sl = (void *)(h->mem + H_DATA);
	assert_sc(get_log(h, VNVME_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(sl->host_reads[0], 11);
	assert_int_equal(sl->host_writes[0], 11);

	/* A queue deleted and created again starts at zero, its baseline gone. */
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 2), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 2), 0);
	h_create_ioq(h, 2, 32, false, 0);
	rw_round_trip(h, &h->io[1], 1, 0x43);
	n = nvme_ctrl_get_queue_stats(c, qs, 8);
	assert_int_equal(qs[2].cmds, 2);
	assert_int_equal(qs[2].size, 32);
	assert_int_equal(qs[2].errors, 0);
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.io_cmds, 5);
}

/* qid's statistics once its service-time samples reach cmds: the poller
 * records a batch's samples just after posting its CQEs (and counts cmds
 * at the batch's end), so the host may see a CQE a moment earlier. The
 * wait only bounds a failure; nothing is timed. */
static void svc_settled(struct nvme_ctrl *c, uint16_t qid, uint64_t cmds,
			struct nvme_queue_stats *out)
{
	struct nvme_queue_stats qs[4];
	uint64_t deadline = h_now_ms() + 5000;

	for (;;) {
		int n = nvme_ctrl_get_queue_stats(c, qs, 4);
		for (int i = 0; i < n; i++) {
			if (qs[i].qid != qid)
				continue;
			*out = qs[i];
			if ((out->cmds >= cmds && out->svc.count >= cmds) || h_now_ms() > deadline)
				return;
		}
		usleep(100);
	}
}

/* Percentiles in order, within the samples' range. */
static void assert_svc_ordered(const struct vn_hist *h)
{
	uint64_t p50 = vn_hist_percentile(h, 50), p90 = vn_hist_percentile(h, 90);
	uint64_t p99 = vn_hist_percentile(h, 99), p999 = vn_hist_percentile(h, 99.9);

	assert_true(h->count > 0);
	assert_true(vn_hist_min(h) <= p50);
	assert_true(p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= h->max);
	assert_true(vn_hist_mean(h) >= (double)vn_hist_min(h));
	assert_true(vn_hist_mean(h) <= (double)h->max);
}

/*
 * Service times (nvme_queue_stats.svc): one sample per command completed,
 * whichever way it went: a batch of null Reads on the fast path (one
 * stamp per batch), ram Writes staged and drained a round later, a Flush
 * and an error on the general path. The admin queue's commands count on
 * the admin queue, not in the controller's I/O total. A reset empties the
 * histograms (the poller clears its own when it next records); a deleted
 * queue's samples stay in the controller's total until the next reset.
 */
static void test_service_times_count_every_command_and_reset(void **state)
{
	struct tfx *f = *state;
	struct host *h = &f->h;
	struct nvme_ctrl *c = vnvme_dev_ctrl(f->dev);
	struct nvme_queue_stats q, qs[4];
	struct nvme_ctrl_stats st;
	uint8_t *buf = h->mem + H_DATA + 0x200000;
	struct vnvme_cqe cqe = {0};
	struct vnvme_sqe s;
	uint32_t nsid;
	char err[256];

	assert_int_equal(dev_ns_add(f, VN_BE_NULL, NULL, 512, 0, &nsid, err), 0);
	h_create_ioq(h, 1, 64, false, 0);
	/* 16 null Reads in one doorbell: the fast path, posted in one batch. */
	for (int i = 0; i < 16; i++) {
		s = h_rw(VNVME_NVM_READ, nsid, (uint64_t)i, 1);
		s.dptr.prp1 = h_iova(h, buf + 512 * i);
		hq_queue(&h->io[0], &s);
	}
	hq_ring(&h->io[0]);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(hq_reap(&h->io[0], &cqe, 5000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
	}
	svc_settled(c, 1, 16, &q);
	assert_int_equal(q.cmds, 16);
	assert_int_equal(q.svc.count, 16);
	assert_svc_ordered(&q.svc);
	/* 8 ram Writes at once (staged, the last NVME_STAGE_LAG drained a
	 * round later), then a Flush and an error: the general way. */
	for (int i = 0; i < 8; i++) {
		s = h_rw(VNVME_NVM_WRITE, 1, (uint64_t)i, 1);
		s.dptr.prp1 = h_iova(h, buf + 512 * i);
		hq_queue(&h->io[0], &s);
	}
	hq_ring(&h->io[0]);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(hq_reap(&h->io[0], &cqe, 5000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
	}
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	s = h_rw(VNVME_NVM_READ, 1, 1u << 30, 1); /* past the end */
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(&h->io[0], &s, NULL), VNVME_SC_LBA_OUT_OF_RANGE);
	svc_settled(c, 1, 26, &q);
	assert_int_equal(q.cmds, 26);
	assert_int_equal(q.svc.count, 26);
	assert_svc_ordered(&q.svc);
	/* The controller's: the I/O queues'. */
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.svc.count, 26);
	assert_svc_ordered(&st.svc);
	/* The admin queue: its commands but the AERs the host left waiting. */
	assert_int_equal(nvme_ctrl_get_queue_stats(c, qs, 4), 2);
	assert_int_equal(qs[0].qid, 0);
	assert_true(qs[0].svc.count >= 2); /* Create I/O CQ and SQ at least */
	assert_true(qs[0].svc.count <= qs[0].cmds);
	assert_svc_ordered(&qs[0].svc);

	/* A reset: empty at once, though the poller clears only when it
	 * next records; then counting again from zero. */
	nvme_ctrl_reset_stats(c);
	assert_int_equal(nvme_ctrl_get_queue_stats(c, qs, 4), 2);
	assert_int_equal(qs[0].svc.count, 0);
	assert_int_equal(qs[1].svc.count, 0);
	assert_int_equal(qs[1].svc.max, 0);
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.svc.count, 0);
	for (int i = 0; i < 3; i++) {
		s = h_rw(VNVME_NVM_READ, nsid, 0, 1);
		s.dptr.prp1 = h_iova(h, buf);
		assert_sc(hq_cmd(&h->io[0], &s, NULL), 0);
	}
	svc_settled(c, 1, 3, &q);
	assert_int_equal(q.cmds, 3);
	assert_int_equal(q.svc.count, 3);
	assert_svc_ordered(&q.svc);

	/* Deleted, the queue's samples stay in the controller's total. */
	assert_sc(delete_q(h, VNVME_ADM_DELETE_SQ, 1), 0);
	assert_sc(delete_q(h, VNVME_ADM_DELETE_CQ, 1), 0);
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.io_cmds, 3);
	assert_int_equal(st.svc.count, 3);
	assert_int_equal(nvme_ctrl_get_queue_stats(c, qs, 4), 1);
	assert_true(qs[0].svc.count >= 2); /* the two deletions */
	nvme_ctrl_reset_stats(c);
	nvme_ctrl_get_stats(c, &st);
	assert_int_equal(st.svc.count, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_registers_after_enable),
	    T(test_identify_controller_and_namespaces),
	    T(test_queue_creation_errors),
	    T(test_features),
	    T(test_log_pages_and_error_log),
	    T(test_error_log_entries_carry_namespace_and_lba),
	    T(test_effects_log_lists_exactly_the_commands_executed),
	    T(test_firmware_slot_log_agrees_with_identify),
	    T(test_io_prp_variants_write_then_read_back),
	    T(test_io_errors),
	    cmocka_unit_test(test_io_checks_agree_on_every_path),
	    T(test_io_fast_path_follows_dma_map_changes),
	    T(test_io_batches_complete_once_with_their_data),
	    T(test_io_mixed_batches_on_a_small_ring),
	    T(test_io_sgl_data_block_segments_and_bit_bucket),
	    T(test_io_sgl_walks_are_bounded),
	    T(test_dsm_with_sgl_data_pointers),
	    T(test_compare_write_zeroes_dsm_flush),
	    T(test_interrupts_on_msix_eventfds),
	    T(test_interrupt_coalescing_holds_then_delivers),
	    T(test_disable_reenable_and_shutdown),
	    T(test_enable_with_bad_configuration_sets_cfs),
	    T(test_invalid_doorbell_raises_an_async_event),
	    T(test_unmapping_a_live_queue_sets_cfs_without_crashing),
	    T(test_a_queue_waits_for_its_memory_to_be_mapped_again),
	    T(test_killed_host_then_the_next_one_connects),
	    T(test_format_switches_lba_size_and_erases),
	    cmocka_unit_test_setup_teardown(
		test_format_erase_completes_later_without_taking_io_completions, setup_file2,
		teardown),
	    cmocka_unit_test_setup_teardown(test_fua_and_a_disabled_write_cache_make_writes_durable,
					    setup_file2, teardown),
	    T(test_shadow_doorbells_replace_mmio_doorbells),
	    T(test_random_commands_never_hurt_the_controller),
	    cmocka_unit_test_setup_teardown(
		test_queues_of_65536_entries_fill_wrap_and_stay_in_their_memory, setup_mqes_max,
		teardown),
	    cmocka_unit_test_setup_teardown(test_deep_sqs_cost_memory_only_as_they_are_used,
					    setup_mqes_max, teardown),
	    cmocka_unit_test_setup_teardown(test_random_queue_geometries_never_hurt_the_controller,
					    setup_mqes_max, teardown),
	    T(test_dnr_is_set_only_where_a_retry_cannot_help),
	    T(test_a_cc_en_loop_does_not_flood_the_log),
	    T(test_disable_right_after_create_sq_waits_for_the_pollers),
	    T(test_counter_dumps_race_queue_creation_and_deletion),
	    cmocka_unit_test_setup_teardown(test_an_sq_smaller_than_its_cq_waits_for_request_slots,
					    setup_file, teardown),
	    cmocka_unit_test_setup_teardown(
		test_eight_queues_of_sixty_flushes_all_succeed_on_a_busy_file, setup_file,
		teardown),
	    T(test_ns_attached_under_io_is_announced_and_serves_io),
	    T(test_ns_detached_under_io_completes_every_command),
	    cmocka_unit_test_setup_teardown(test_ns_detached_under_file_io_completes_every_command,
					    setup_file2, teardown),
	    T(test_ns_change_event_is_not_sent_when_feature_0bh_disables_it),
	    T(test_ns_change_events_wait_for_the_log_to_be_read),
	    T(test_ns_add_and_remove_refuse_bad_nsids),
	    T(test_queue_stats_count_reset_and_count_again),
	    T(test_service_times_count_every_command_and_reset),
	};
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("VNVME_LOG"))
		vn_log_set_level(VN_LOG_ERR);
	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
