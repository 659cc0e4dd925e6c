/* SPDX-License-Identifier: MIT */
/* vnvme-target as a whole, in-process: many controllers on one polling
 * thread, the file and null backends behind real controllers, and one
 * misbehaving host that must not disturb the others. Driven by the minimal
 * host in nvme_host.h. */
#include "nvme_host.h"
#include "target_env.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "target/config.h"
#include "../test_filter.h"

#define SEED    0x5eed7a49u /* the data patterns; printed at start */
#define NR_MANY 24

struct tgt {
	struct target_env e; /* one polling thread for every controller */
	struct vnvme_dev *devs[NR_MANY];
	unsigned nr_devs;
	char file[100]; /* the file backend's image, when a test uses one */
	struct host hosts[NR_MANY];
};

/* Bytes that differ per tag (a controller, a command) at every offset: the
 * tag term, tag * 131 mod 256, differs for any two tags below 256. */
static void pattern(uint8_t *p, uint32_t bytes, unsigned tag, uint64_t off)
{
	for (uint32_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)((off + i) * 13 + tag * 131 + (SEED >> ((i & 3) * 8)));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void sock_path(const struct tgt *f, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/nvme%u", f->e.dir, i);
}

/* A controller's configuration: one namespace, 512-byte LBAs. */
static void conf_one(const struct tgt *f, struct vnvme_dev_conf *c, enum vn_be_type type,
		     uint64_t size, uint32_t queues)
{
	vn_dev_conf_defaults(c);
	sock_path(f, f->nr_devs, c->socket, sizeof(c->socket));
	c->queues = queues;
	c->qdepth = 256;
	c->nr_ns = 1;
	c->ns[0].be.type = type;
	c->ns[0].be.size = size;
	c->ns[0].lba_size = 512;
}

/* Controllers are created before the control loop starts (as main() does). */
static void tgt_add(struct tgt *f, const struct vnvme_dev_conf *c)
{
	char err[256] = "";
	unsigned i = f->nr_devs;
	int ret;

	assert_true(i < NR_MANY);
	ret = vnvme_dev_create(c, i, f->e.loop, &f->e.qsbr, f->e.pollers, 1, &f->devs[i], err,
			       sizeof(err));
	if (ret)
		fail_msg("controller %u: %d (%s)", i, ret, err);
	f->nr_devs++;
}

static void tgt_start(struct tgt *f)
{
	tenv_run(&f->e);
}

/* Host i connects, enables the controller and creates nr_ioq I/O queue pairs
 * of qsize entries, polled. */
static struct host *host_up(struct tgt *f, unsigned i, uint16_t nr_ioq, uint16_t qsize)
{
	struct host *h = &f->hosts[i];
	char path[108];

	sock_path(f, i, path, sizeof(path));
	assert_int_equal(h_connect(h, path), 0);
	h_enable(h, 32);
	for (uint16_t q = 1; q <= nr_ioq; q++)
		h_create_ioq(h, q, qsize, false, 0);
	return h;
}

static int setup(void **state)
{
	struct tgt *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tenv_init(&f->e, "target", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct tgt *f = *state;

	for (unsigned i = 0; i < NR_MANY; i++)
		h_close(&f->hosts[i]);
	for (unsigned i = 0; i < f->nr_devs; i++)
		vnvme_dev_destroy(f->devs[i]);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

/* Reap one completion and check it succeeded; returns its cid. */
static uint16_t reap_ok(struct hq *q)
{
	struct vnvme_cqe cqe = {0};

	assert_int_equal(hq_reap(q, &cqe, 5000), 0);
	assert_int_equal(cqe.sqid, q->qid);
	assert_sc(vnvme_cqe_status(&cqe).v, 0);
	return cqe.cid;
}

/* hq_reap with a deadline on the clock (hq_reap counts sleeps, which
 * oversleep): a bound on liveness, not an assertion on speed. */
static int reap_within(struct hq *q, struct vnvme_cqe *out, unsigned ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (hq_reap(q, out, 1) == 0)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			return -ETIMEDOUT;
	}
}

static uint16_t rw(struct host *h, struct hq *q, uint8_t opc, uint64_t slba, uint32_t nlb,
		   void *buf)
{
	struct vnvme_sqe s = h_rw(opc, 1, slba, nlb);

	s.dptr.prp1 = h_iova(h, buf);
	if (nlb * 512u > 4096)
		s.dptr.prp2 = h_iova(h, buf) + 4096; /* buf page-aligned, at most 8 KiB */
	return hq_cmd(q, &s, NULL);
}

/* ------------------------------------------------------------------------ */

static void test_24_controllers_on_one_poller_keep_their_data_and_identities_apart(void **state)
{
	struct tgt *f = *state;
	char sn[NR_MANY][VNVME_ID_SN_LEN];
	uint16_t cntlid[NR_MANY];

	for (unsigned i = 0; i < NR_MANY; i++) {
		struct vnvme_dev_conf c;
		conf_one(f, &c, VN_BE_RAM, 4u << 20, 2);
		tgt_add(f, &c);
	}
	tgt_start(f);
	for (unsigned i = 0; i < NR_MANY; i++)
		host_up(f, i, 2, 64);

	/* LBA 0..7 on every controller: all submitted first, then reaped, so
	 * the one poller has every controller's write in hand at once. */
	for (unsigned i = 0; i < NR_MANY; i++) {
		struct host *h = &f->hosts[i];
		struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, 0, 8);
		pattern(h->mem + H_DATA, 4096, i, 0);
		s.dptr.prp1 = h_iova(h, h->mem + H_DATA);
		hq_submit(&h->io[0], &s);
	}
	for (unsigned i = 0; i < NR_MANY; i++)
		reap_ok(&f->hosts[i].io[0]);

	/* Read back on the other queue pair, again all at once. */
	for (unsigned i = 0; i < NR_MANY; i++) {
		struct host *h = &f->hosts[i];
		struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, 0, 8);
		memset(h->mem + H_DATA + 0x10000, 0, 4096);
		s.dptr.prp1 = h_iova(h, h->mem + H_DATA + 0x10000);
		hq_submit(&h->io[1], &s);
	}
	for (unsigned i = 0; i < NR_MANY; i++) {
		struct host *h = &f->hosts[i];
		uint8_t other[4096];

		reap_ok(&h->io[1]);
		if (memcmp(h->mem + H_DATA + 0x10000, h->mem + H_DATA, 4096))
			fail_msg("controller %u: LBA 0..7 do not hold what its host wrote", i);
		pattern(other, sizeof(other), (i + 1) % NR_MANY, 0);
		assert_memory_not_equal(h->mem + H_DATA + 0x10000, other, sizeof(other));
	}

	/* Identify Controller: serial numbers unique, CNTLID = index + 1. */
	for (unsigned i = 0; i < NR_MANY; i++) {
		struct host *h = &f->hosts[i];
		struct vnvme_id_ctrl *id = (void *)(h->mem + H_DATA + 0x20000);

		assert_sc(h_identify(h, VNVME_CNS_CTRL, 0, 0, id), 0);
		memcpy(sn[i], id->sn, sizeof(sn[i]));
		cntlid[i] = id->cntlid;
		assert_int_equal(cntlid[i], i + 1);
		assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
	}
	for (unsigned i = 0; i < NR_MANY; i++) {
		for (unsigned k = 0; k < i; k++) {
			if (!memcmp(sn[i], sn[k], sizeof(sn[i])))
				fail_msg("controllers %u and %u share serial %.20s", k, i, sn[i]);
			assert_int_not_equal(cntlid[i], cntlid[k]);
		}
	}
}

static void test_file_backend_is_durable_after_flush_and_keeps_32_writes_in_flight(void **state)
{
	struct tgt *f = *state;
	struct vnvme_dev_conf c;
	struct host *h;
	struct hq *q;
	uint8_t *wbuf, *rbuf, disk[8192];
	struct vnvme_dsm_range *r;
	struct vnvme_sqe s;
	int fd;

	snprintf(f->file, sizeof(f->file), "%s/ns1.img", f->e.dir);
	conf_one(f, &c, VN_BE_FILE, 8u << 20, 2);
	c.ns[0].be.path = f->file;
	c.qdepth = 64;
	tgt_add(f, &c);
	tgt_start(f);
	h = host_up(f, 0, 1, 64);
	q = &h->io[0];
	wbuf = h->mem + H_DATA;
	rbuf = h->mem + H_DATA + 0x100000;
	r = (void *)(h->mem + H_DATA + 0x180000);
	fd = open(f->file, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);

	/* Write LBA 0..15, Flush: the bytes are in the file for another reader. */
	pattern(wbuf, 8192, 1, 0);
	assert_sc(rw(h, q, VNVME_NVM_WRITE, 0, 16, wbuf), 0);
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(pread(fd, disk, sizeof(disk), 0), sizeof(disk));
	assert_memory_equal(disk, wbuf, 8192);
	/* And through the controller. */
	memset(rbuf, 0xee, 8192);
	assert_sc(rw(h, q, VNVME_NVM_READ, 0, 16, rbuf), 0);
	assert_memory_equal(rbuf, wbuf, 8192);

	/* Write Zeroes on LBA 2..5, DSM deallocate on LBA 8..15: zeroes there,
	 * the pattern elsewhere, in the controller's view and in the file. */
	s = h_rw(VNVME_NVM_WRITE_ZEROES, 1, 2, 4);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	r[0] = (struct vnvme_dsm_range){.nlb = 8, .slba = 8};
	s = (struct vnvme_sqe){.opc = VNVME_NVM_DSM, .nsid = 1, .cdw11 = VNVME_DSM_AD};
	s.dptr.prp1 = h_iova(h, r);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	memset(rbuf, 0xee, 8192);
	assert_sc(rw(h, q, VNVME_NVM_READ, 0, 16, rbuf), 0);
	assert_memory_equal(rbuf, wbuf, 1024);
	assert_true(all_zero(rbuf + 1024, 2048));
	assert_memory_equal(rbuf + 3072, wbuf + 3072, 1024);
	assert_true(all_zero(rbuf + 4096, 4096));
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_int_equal(pread(fd, disk, sizeof(disk), 0), sizeof(disk));
	assert_memory_equal(disk, rbuf, 8192);

	/* 32 writes of 4 KiB in flight: placed, then one doorbell, then reaped. */
	bool seen[64] = {false};
	uint16_t first = q->cid;
	for (unsigned k = 0; k < 32; k++) {
		uint8_t *b = wbuf + 0x10000 + (size_t)k * 4096;
		pattern(b, 4096, 100 + k, 0);
		s = h_rw(VNVME_NVM_WRITE, 1, 64 + 8 * (uint64_t)k, 8);
		s.dptr.prp1 = h_iova(h, b);
		hq_queue(q, &s);
	}
	hq_ring(q);
	for (unsigned k = 0; k < 32; k++) {
		uint16_t cid = (uint16_t)(reap_ok(q) - first);
		assert_true(cid < 32);
		assert_false(seen[cid]);
		seen[cid] = true;
	}
	/* 32 reads in flight, one doorbell each. */
	first = q->cid;
	memset(seen, 0, sizeof(seen));
	memset(rbuf, 0, 32 * 4096);
	for (unsigned k = 0; k < 32; k++) {
		s = h_rw(VNVME_NVM_READ, 1, 64 + 8 * (uint64_t)k, 8);
		s.dptr.prp1 = h_iova(h, rbuf + (size_t)k * 4096);
		hq_submit(q, &s);
	}
	for (unsigned k = 0; k < 32; k++) {
		uint16_t cid = (uint16_t)(reap_ok(q) - first);
		assert_true(cid < 32);
		assert_false(seen[cid]);
		seen[cid] = true;
	}
	for (unsigned k = 0; k < 32; k++) {
		if (memcmp(rbuf + (size_t)k * 4096, wbuf + 0x10000 + (size_t)k * 4096, 4096))
			fail_msg("write %u (LBA %u..%u) did not read back", k, 64 + 8 * k,
				 71 + 8 * k);
		assert_int_equal(pread(fd, disk, 4096, (off_t)(64 + 8 * k) * 512), 4096);
		assert_memory_equal(disk, rbuf + (size_t)k * 4096, 4096);
	}
	close(fd);
	assert_int_equal(h_reg32(h, VNVME_REG_CSTS), VNVME_CSTS_RDY);
}

static void test_file_backend_deallocates_every_range_of_one_dsm(void **state)
{
	struct tgt *f = *state;
	struct vnvme_dev_conf c;
	struct host *h;
	struct hq *q;
	uint8_t *wbuf, *rbuf;
	struct vnvme_dsm_range *r;
	struct vnvme_cqe cqe = {0};
	struct vnvme_sqe s;
	uint16_t cid;

	snprintf(f->file, sizeof(f->file), "%s/ns1.img", f->e.dir);
	conf_one(f, &c, VN_BE_FILE, 8u << 20, 1);
	c.ns[0].be.path = f->file;
	tgt_add(f, &c);
	tgt_start(f);
	h = host_up(f, 0, 1, 64);
	q = &h->io[0];
	wbuf = h->mem + H_DATA;
	rbuf = h->mem + H_DATA + 0x100000;
	r = (void *)(h->mem + H_DATA + 0x180000);

	pattern(wbuf, 8192, 2, 0);
	assert_sc(rw(h, q, VNVME_NVM_WRITE, 0, 16, wbuf), 0);
	/* Three ranges: with a file, each is one fallocate, the next one
	 * submitted when the previous completes. */
	r[0] = (struct vnvme_dsm_range){.nlb = 2, .slba = 0};
	r[1] = (struct vnvme_dsm_range){.nlb = 2, .slba = 4};
	r[2] = (struct vnvme_dsm_range){.nlb = 2, .slba = 8};
	s = (struct vnvme_sqe){.opc = VNVME_NVM_DSM, .nsid = 1, .cdw10 = 2, .cdw11 = VNVME_DSM_AD};
	s.dptr.prp1 = h_iova(h, r);
	cid = hq_submit(q, &s);
	if (reap_within(q, &cqe, 10000)) {
		/* Each new command makes the poller push its io_uring: if the
		 * DSM then moves on, its next range sat there unsubmitted. */
		int kicks = 0;
		bool done = false;
		while (!done && kicks < 8) {
			struct vnvme_sqe fl = {.opc = VNVME_NVM_FLUSH, .nsid = 1};
			hq_submit(q, &fl);
			kicks++;
			while (reap_within(q, &cqe, 2000) == 0)
				done |= cqe.cid == cid;
		}
		if (done)
			fail_msg(
			    "a DSM of 3 ranges on a file completed only after %d more commands "
			    "arrived: each next range waited in the io_uring SQ ring, unsubmitted",
			    kicks);
		fail_msg("a DSM of 3 ranges on a file did not complete");
	}
	assert_int_equal(cqe.cid, cid);
	assert_sc(vnvme_cqe_status(&cqe).v, 0);
	memset(rbuf, 0xee, 8192);
	assert_sc(rw(h, q, VNVME_NVM_READ, 0, 16, rbuf), 0);
	for (unsigned lba = 0; lba < 16; lba++) {
		bool gone = lba < 2 || (lba >= 4 && lba < 6) || (lba >= 8 && lba < 10);
		if (gone)
			assert_true(all_zero(rbuf + 512 * lba, 512));
		else
			assert_memory_equal(rbuf + 512 * lba, wbuf + 512 * lba, 512);
	}
}

static void test_null_backend_of_1_tib_reports_its_size_and_bounds(void **state)
{
	struct tgt *f = *state;
	struct vnvme_dev_conf c;
	struct host *h;
	struct vnvme_id_ns *ns;
	const uint64_t nsze = (1ull << 40) / 512;
	uint8_t *buf;

	conf_one(f, &c, VN_BE_NULL, 1ull << 40, 1);
	tgt_add(f, &c);
	tgt_start(f);
	h = host_up(f, 0, 1, 64);
	buf = h->mem + H_DATA;
	ns = (void *)(h->mem + H_DATA + 0x100000);

	assert_sc(h_identify(h, VNVME_CNS_NS, 1, 0, ns), 0);
	assert_int_equal(ns->nsze, nsze);
	assert_int_equal(ns->ncap, nsze);
	assert_int_equal(ns->lbaf[ns->flbas & 0xf].lbads, 9);

	assert_sc(rw(h, &h->io[0], VNVME_NVM_READ, nsze - 1, 1, buf), 0);
	assert_sc(rw(h, &h->io[0], VNVME_NVM_WRITE, nsze - 1, 1, buf), 0);
	assert_sc(rw(h, &h->io[0], VNVME_NVM_READ, nsze, 1, buf), VNVME_SC_LBA_OUT_OF_RANGE);
	assert_sc(rw(h, &h->io[0], VNVME_NVM_READ, nsze - 1, 2, buf), VNVME_SC_LBA_OUT_OF_RANGE);
	assert_int_equal(VNVME_SC_LBA_OUT_OF_RANGE, 0x80);
}

/* The well-behaved host: write 8 blocks of a pattern per round, read back. */
static void good_round(struct host *h, unsigned round)
{
	uint8_t *w = h->mem + H_DATA, *r = h->mem + H_DATA + 0x10000;

	pattern(w, 4096, round, 0);
	assert_sc(rw(h, &h->io[0], VNVME_NVM_WRITE, 8 * (uint64_t)round, 8, w), 0);
	memset(r, 0, 4096);
	assert_sc(rw(h, &h->io[0], VNVME_NVM_READ, 8 * (uint64_t)round, 8, r), 0);
	if (memcmp(r, w, 4096))
		fail_msg("round %u: the good controller read back other data", round);
}

static void test_a_misbehaving_host_stops_its_controller_only(void **state)
{
	struct tgt *f = *state;
	struct vnvme_dev_conf c;
	struct host *bad, *good;
	struct vnvme_sqe aer = {.opc = VNVME_ADM_ASYNC_EVENT_REQ};
	struct vnvme_cqe cqe = {0};
	struct nvme_ctrl_stats st;
	unsigned round = 0;
	uint16_t cid;

	/* Both controllers on the one poller. */
	conf_one(f, &c, VN_BE_RAM, 4u << 20, 1);
	tgt_add(f, &c);
	conf_one(f, &c, VN_BE_RAM, 4u << 20, 1);
	tgt_add(f, &c);
	tgt_start(f);
	bad = host_up(f, 0, 1, 16);
	good = host_up(f, 1, 1, 64);
	good_round(good, round++);

	/* Good writes in flight while the bad host rings a tail of 99 on a
	 * 16-entry queue; its controller reports it by an async event. */
	for (unsigned k = 0; k < 8; k++) {
		struct vnvme_sqe s = h_rw(VNVME_NVM_WRITE, 1, 1000 + (uint64_t)k, 1);
		s.dptr.prp1 = h_iova(good, good->mem + H_DATA + 0x20000);
		hq_submit(&good->io[0], &s);
	}
	cid = hq_submit(&bad->admin, &aer);
	__atomic_store_n(bad->io[0].sqdb, 99u, __ATOMIC_RELEASE);
	for (unsigned k = 0; k < 8; k++)
		reap_ok(&good->io[0]);
	assert_int_equal(hq_reap(&bad->admin, &cqe, 5000), 0);
	assert_int_equal(cqe.cid, cid);
	assert_int_equal((cqe.dw0 >> 8) & 0xff, 1); /* invalid doorbell write value */
	good_round(good, round++);

	/* Then it takes its memory away under live queues: CSTS.CFS on its
	 * controller, with good I/O in flight meanwhile. */
	for (unsigned k = 0; k < 8; k++) {
		struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, (uint64_t)k, 1);
		s.dptr.prp1 = h_iova(good, good->mem + H_DATA + 0x20000 + 512 * k);
		hq_submit(&good->io[0], &s);
	}
	assert_int_equal(vu_client_dma_unmap(bad->c, H_IOVA, H_MEMSZ), 0);
	for (unsigned k = 0; k < 8; k++)
		reap_ok(&good->io[0]);
	for (int i = 0; i < 5000 && !(h_reg32(bad, VNVME_REG_CSTS) & VNVME_CSTS_CFS); i++) {
		good_round(good, round++ % 64);
		usleep(1000);
	}
	assert_true(h_reg32(bad, VNVME_REG_CSTS) & VNVME_CSTS_CFS);

	/* It keeps ringing garbage; the good controller carries on. */
	for (unsigned i = 0; i < 32; i++) {
		__atomic_store_n(bad->io[0].sqdb, 0xffff0000u + i, __ATOMIC_RELEASE);
		__atomic_store_n(bad->io[0].cqdb, 7u * i, __ATOMIC_RELEASE);
		__atomic_store_n(bad->admin.sqdb, i, __ATOMIC_RELEASE);
		good_round(good, round++ % 64);
	}
	assert_int_equal(h_reg32(good, VNVME_REG_CSTS), VNVME_CSTS_RDY);
	assert_true(h_reg32(bad, VNVME_REG_CSTS) & VNVME_CSTS_CFS);
	nvme_ctrl_get_stats(vnvme_dev_ctrl(f->devs[1]), &st);
	assert_int_equal(st.io_errors, 0);
	assert_int_equal(st.csts & VNVME_CSTS_CFS, 0);
}

static void test_a_host_that_truncates_its_memory_fails_its_controller_only(void **state)
{
	struct tgt *f = *state;
	struct vnvme_dev_conf c;
	struct host *bad, *good;
	struct vnvme_cqe cqe = {0};
	struct nvme_ctrl_stats st;
	const uint64_t iova = H_IOVA + 2 * (uint64_t)H_MEMSZ;
	/* No MFD_ALLOW_SEALING: it cannot be sealed (as a hugetlbfs file). */
	int fd = memfd_create("unsealable", MFD_CLOEXEC);
	unsigned round = 0;

	conf_one(f, &c, VN_BE_RAM, 4u << 20, 1);
	tgt_add(f, &c);
	conf_one(f, &c, VN_BE_RAM, 4u << 20, 1);
	tgt_add(f, &c);
	tgt_start(f);
	bad = host_up(f, 0, 1, 16);
	good = host_up(f, 1, 1, 64);
	good_round(good, round++);

	/* A data buffer in memory the host then shrinks to nothing. */
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(
	    vu_client_dma_map(bad->c, iova, 1 << 20, fd, 0, VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE),
	    0);
	assert_int_equal(ftruncate(fd, 0), 0);
	struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, 0, 8);
	s.dptr.prp1 = iova;
	hq_submit(&bad->io[0], &s);
	/* The polling thread copies into it: SIGBUS, contained. */
	assert_int_equal(hq_reap(&bad->io[0], &cqe, 5000), 0);
	for (int i = 0; i < 5000 && !(h_reg32(bad, VNVME_REG_CSTS) & VNVME_CSTS_CFS); i++) {
		good_round(good, round++ % 64);
		usleep(1000);
	}
	assert_true(h_reg32(bad, VNVME_REG_CSTS) & VNVME_CSTS_CFS);
	good_round(good, round++ % 64);
	assert_int_equal(h_reg32(good, VNVME_REG_CSTS), VNVME_CSTS_RDY);
	nvme_ctrl_get_stats(vnvme_dev_ctrl(f->devs[1]), &st);
	assert_int_equal(st.io_errors, 0);
	close(fd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_24_controllers_on_one_poller_keep_their_data_and_identities_apart),
	    T(test_file_backend_is_durable_after_flush_and_keeps_32_writes_in_flight),
	    T(test_file_backend_deallocates_every_range_of_one_dsm),
	    T(test_null_backend_of_1_tib_reports_its_size_and_bounds),
	    T(test_a_misbehaving_host_stops_its_controller_only),
	    T(test_a_host_that_truncates_its_memory_fails_its_controller_only),
	};
	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("VNVME_LOG"))
		vn_log_set_level(VN_LOG_ERR);
	print_message("# seed 0x%08x\n", SEED);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
