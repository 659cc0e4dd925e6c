/* SPDX-License-Identifier: MIT */
/*
 * Device models (docs/models.md) through vfio-user, driven by the minimal
 * host in nvme_host.h: delays held by the poller, the IOPS cap, error
 * injection with its error log and SMART entries, a reproducible sequence,
 * and held completions across a reset, an SQ deletion and a detach. Only
 * lower bounds on time: a loaded machine only makes things slower.
 */
#include "nvme_host.h"
#include "target_env.h"

#include <time.h>

#include "../test_filter.h"
#include "target/config.h"

struct mfx {
	struct target_env e;
	char path[100];
	char file[100]; /* a file namespace's backing file */
	struct vnvme_dev *dev;
	struct host h;
};

/* ns 1: 16 MiB of `type` with the model; ns 2: ram 16 MiB without. */
static struct mfx *start_be(const char *model, enum vn_be_type type)
{
	struct mfx *f = calloc(1, sizeof(*f));
	struct vnvme_dev_conf c;
	char err[256] = "", *canon = NULL;

	assert_non_null(f);
	tenv_init(&f->e, "model", 2);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	vn_dev_conf_defaults(&c);
	memcpy(c.socket, f->path, strlen(f->path) + 1);
	c.queues = 4;
	c.qdepth = 256;
	c.nr_ns = 2;
	for (unsigned i = 0; i < 2; i++) {
		c.ns[i].be.type = VN_BE_RAM;
		c.ns[i].be.size = 16u << 20;
		c.ns[i].lba_size = 512;
	}
	if (vn_model_canon_text(model, &canon, err, sizeof(err)))
		fail_msg("model %s: %s", model, err);
	c.ns[0].model = canon;
	c.ns[0].be.type = type;
	if (type == VN_BE_FILE) {
		snprintf(f->file, sizeof(f->file), "%s/ns1.img", f->e.dir);
		c.ns[0].be.path = f->file;
	}
	if (vnvme_dev_create(&c, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 2, &f->dev, err,
			     sizeof(err)))
		fail_msg("vnvme_dev_create: %s", err);
	free(canon); /* the device keeps its own copy */
	tenv_run(&f->e);
	assert_int_equal(h_connect(&f->h, f->path), 0);
	h_enable(&f->h, 32);
	return f;
}

static struct mfx *start(const char *model)
{
	return start_be(model, VN_BE_RAM);
}

static int teardown(void **state)
{
	struct mfx *f = *state;

	if (!f)
		return 0;
	h_close(&f->h);
	vnvme_dev_destroy(f->dev);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint16_t get_log(struct host *h, uint8_t lid, uint32_t bytes)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_LOG_PAGE, .nsid = VNVME_NSID_ALL};

	s.dptr.prp1 = H_IOVA + H_DATA;
	s.dptr.prp2 = H_IOVA + H_DATA + 4096;
	s.cdw10 = lid | (bytes / 4 - 1) << 16;
	return h_admin(h, &s, NULL);
}

static uint64_t smart_media_errors(struct host *h)
{
	const struct vnvme_smart_log *sl = (const void *)(h->mem + H_DATA);
	uint64_t v;

	assert_sc(get_log(h, VNVME_LID_SMART, 512), 0);
	memcpy(&v, sl->media_errors, 8); /* the low 64 bits of 128 */
	return v;
}

static void delete_ioq(struct host *h, uint16_t qid)
{
	struct vnvme_sqe s = {.opc = VNVME_ADM_DELETE_SQ, .cdw10 = qid};

	assert_sc(h_admin(h, &s, NULL), 0);
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_CQ, .cdw10 = qid};
	assert_sc(h_admin(h, &s, NULL), 0);
}

/* A fixed 2 ms on reads: every Read, one at a time or eight at once, takes
 * 2 ms at least; the data is right; writes and the other namespace work. */
static void test_fixed_read_delay_holds_every_read(void **state)
{
	struct mfx *f = *state = start("{\"read\": {\"fixed_us\": 2000}}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe s;
	struct vnvme_cqe cqe = {0};
	uint64_t t0, min = UINT64_MAX, max = 0;

	h_create_ioq(h, 1, 64, false, 0);
	for (unsigned i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	s = h_rw(VNVME_NVM_WRITE, 1, 40, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	s.nsid = 2;
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (unsigned i = 0; i < 10; i++) {
		s = h_rw(VNVME_NVM_READ, 1, 40, 8);
		s.dptr.prp1 = h_iova(h, buf + 8192);
		memset(buf + 8192, 0, 4096);
		t0 = now_ns();
		assert_sc(hq_cmd(q, &s, NULL), 0);
		t0 = now_ns() - t0;
		min = VN_MIN(min, t0);
		max = VN_MAX(max, t0);
		assert_memory_equal(buf + 8192, buf, 4096);
	}
	print_message("# QD1 reads with fixed_us 2000: %.3f..%.3f ms\n", min / 1e6, max / 1e6);
	if (min < 2000000)
		fail_msg("a read took %llu ns, below the model's 2 ms", (unsigned long long)min);
	/* Eight at once: each 2 ms after its submission at least. */
	t0 = now_ns();
	for (unsigned i = 0; i < 8; i++) {
		s = h_rw(VNVME_NVM_READ, 1, i, 1);
		s.dptr.prp1 = h_iova(h, buf + 8192 + i * 512);
		hq_queue(q, &s);
	}
	hq_ring(q);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
		if (now_ns() - t0 < 2000000)
			fail_msg("read %u of a batch completed %llu ns after submission", i,
				 (unsigned long long)(now_ns() - t0));
	}
	/* The namespace without a model answers too (no bound: no timing). */
	s = h_rw(VNVME_NVM_READ, 2, 40, 8);
	s.dptr.prp1 = h_iova(h, buf + 8192);
	memset(buf + 8192, 0, 4096);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	assert_memory_equal(buf + 8192, buf, 4096);
}

/* On a file namespace the backend completes later (io_uring): the delay
 * is held from there, and a Flush of its own class too. */
static void test_file_backend_completions_are_held_too(void **state)
{
	struct mfx *f = *state = start_be(
	    "{\"read\": {\"fixed_us\": 2000}, \"flush\": {\"fixed_us\": 3000}}", VN_BE_FILE);
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	struct vnvme_sqe s;
	uint64_t t0;

	h_create_ioq(h, 1, 64, false, 0);
	memset(buf, 0x77, 4096);
	s = h_rw(VNVME_NVM_WRITE, 1, 8, 8);
	s.dptr.prp1 = h_iova(h, buf);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	for (unsigned i = 0; i < 5; i++) {
		memset(buf + 8192, 0, 4096);
		s = h_rw(VNVME_NVM_READ, 1, 8, 8);
		s.dptr.prp1 = h_iova(h, buf + 8192);
		t0 = now_ns();
		assert_sc(hq_cmd(q, &s, NULL), 0);
		if (now_ns() - t0 < 2000000)
			fail_msg("a file read took %llu ns, below the model's 2 ms",
				 (unsigned long long)(now_ns() - t0));
		assert_memory_equal(buf + 8192, buf, 4096);
	}
	s = (struct vnvme_sqe){.opc = VNVME_NVM_FLUSH, .nsid = 1};
	t0 = now_ns();
	assert_sc(hq_cmd(q, &s, NULL), 0);
	if (now_ns() - t0 < 3000000)
		fail_msg("a flush took %llu ns, below the model's 3 ms",
			 (unsigned long long)(now_ns() - t0));
}

/* 500 commands per second: 200 reads at queue depth 32 take 0.35 s at least. */
static void test_iops_cap_paces_commands(void **state)
{
	struct mfx *f = *state = start("{\"iops\": 500}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA;
	unsigned sent = 0, done = 0;
	struct vnvme_cqe cqe = {0};
	uint64_t t0;

	h_create_ioq(h, 1, 64, false, 0);
	t0 = now_ns();
	while (done < 200) {
		while (sent < 200 && sent - done < 32) {
			struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, sent, 1);
			s.dptr.prp1 = h_iova(h, buf + (sent % 32) * 512);
			hq_queue(q, &s);
			sent++;
		}
		hq_ring(q);
		assert_int_equal(hq_reap(q, &cqe, 10000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
		done++;
	}
	t0 = now_ns() - t0;
	print_message("# 200 reads at an IOPS cap of 500: %.3f s\n", t0 / 1e9);
	if (t0 < 350000000)
		fail_msg("200 reads took %.3f s at 500 IOPS", t0 / 1e9);
}

/*
 * Rate 1 in LBAs 100..199, reads only: exactly the reads overlapping the
 * range fail with Unrecovered Read Error, without touching the buffer;
 * writes there and the other namespace are fine; each failure is in the
 * error log with its namespace and LBA and in SMART's media errors.
 */
static void test_injected_media_errors_only_in_their_range(void **state)
{
	struct mfx *f = *state = start("{\"errors\": [{\"status\": \"media:0x81\", \"opcodes\": "
				       "[\"read\"], \"lba\": [100, 199]}]}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	uint8_t *buf = h->mem + H_DATA + 0x100000;
	const struct vnvme_error_log_entry *el = (const void *)(h->mem + H_DATA);
	uint64_t media0 = smart_media_errors(h), failed = 0;
	struct vnvme_sqe s;

	h_create_ioq(h, 1, 64, false, 0);
	for (uint64_t lba = 0; lba < 300; lba += 8) {
		bool in = lba + 7 >= 100 && lba <= 199;
		uint16_t st;

		s = h_rw(VNVME_NVM_WRITE, 1, lba, 8);
		s.dptr.prp1 = h_iova(h, buf);
		memset(buf, 0x5a, 4096);
		assert_sc(hq_cmd(q, &s, NULL), 0);
		memset(buf, 0xee, 4096);
		s.opc = VNVME_NVM_READ;
		st = hq_cmd(q, &s, NULL);
		if (!in) {
			assert_sc(st, 0);
			assert_int_equal(buf[0], 0x5a);
			continue;
		}
		assert_sc(st, SC(2, VNVME_SC_UNRECOVERED_READ_ERROR));
		assert_int_equal(buf[0], 0xee); /* no I/O was done */
		failed++;
		assert_sc(get_log(h, VNVME_LID_ERROR, 4096), 0);
		assert_int_equal(el[0].cid, s.cid);
		assert_int_equal(el[0].sqid, 1);
		assert_int_equal(el[0].nsid, 1);
		assert_int_equal(el[0].lba, lba < 100 ? 100 : lba);
		/* Namespace 2 has no model. */
		s.nsid = 2;
		assert_sc(hq_cmd(q, &s, NULL), 0);
	}
	assert_int_equal(failed, 13); /* 96, 104, ..., 192 */
	assert_int_equal(smart_media_errors(h) - media0, failed);
}

/* The same seed gives the same errors and order on a queue created again. */
static void test_same_seed_same_sequence_on_a_new_queue(void **state)
{
	struct mfx *f = *state =
	    start("{\"seed\": 42, \"read\": {\"dist\": \"uniform\", \"min_us\": 0, \"max_us\": 50},"
		  " \"errors\": [{\"status\": \"generic:0x06\", \"rate\": 0.5}]}");
	struct host *h = &f->h;
	uint8_t *buf = h->mem + H_DATA;
	uint16_t st[2][100];
	unsigned n = 0;

	for (unsigned run = 0; run < 2; run++) {
		h_create_ioq(h, 1, 64, false, 0);
		for (unsigned i = 0; i < 100; i++) {
			struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, i, 1);
			s.dptr.prp1 = h_iova(h, buf);
			st[run][i] = hq_cmd(&h->io[0], &s, NULL) & 0x7ff;
		}
		delete_ioq(h, 1);
	}
	assert_memory_equal(st[0], st[1], sizeof(st[0]));
	for (unsigned i = 0; i < 100; i++)
		n += st[0][i] == VNVME_SC_INTERNAL;
	assert_true(n > 20 && n < 80);
}

/* Submit n reads of namespace 1 on q without waiting. */
static void submit_reads(struct host *h, struct hq *q, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, i, 1);
		s.dptr.prp1 = h_iova(h, h->mem + H_DATA + i * 512);
		hq_queue(q, &s);
	}
	hq_ring(q);
}

/*
 * Held completions and the queues' life: deleting the SQ posts them at
 * once (the deletion waits for them), a controller reset drops them, and
 * the controller works afterwards. A 5 s delay: a deletion or reset that
 * waited for it would be seen.
 */
static void test_sq_deletion_and_reset_with_held_completions(void **state)
{
	struct mfx *f = *state = start("{\"read\": {\"fixed_us\": 5000000}}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_cqe cqe = {0};
	struct vnvme_sqe s;
	uint64_t t0;

	h_create_ioq(h, 1, 64, false, 0);
	submit_reads(h, q, 8);
	assert_int_equal(hq_reap(q, &cqe, 50), -ETIMEDOUT); /* fetched and held */
	t0 = now_ns();
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_SQ, .cdw10 = 1};
	assert_sc(h_admin(h, &s, NULL), 0);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
	}
	print_message("# SQ deletion with 8 held reads: %.3f s\n", (now_ns() - t0) / 1e9);
	assert_true(now_ns() - t0 < 4000000000ull);
	s = (struct vnvme_sqe){.opc = VNVME_ADM_DELETE_CQ, .cdw10 = 1};
	assert_sc(h_admin(h, &s, NULL), 0);

	/* A reset with reads held: dropped, the controller comes back. */
	h_create_ioq(h, 1, 64, false, 0);
	submit_reads(h, q, 8);
	assert_int_equal(hq_reap(q, &cqe, 50), -ETIMEDOUT);
	t0 = now_ns();
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	assert_true(now_ns() - t0 < 4000000000ull);
	h_enable(h, 16);
	h_create_ioq(h, 1, 64, false, 0);
	s = h_rw(VNVME_NVM_WRITE, 1, 0, 1);
	s.dptr.prp1 = h_iova(h, h->mem + H_DATA);
	assert_sc(hq_cmd(q, &s, NULL), 0);
}

/*
 * An IOPS cap of 10: 40 reads put the namespace's clock 4 s ahead; a
 * controller reset drops them, and the next host's first read is served
 * at once, not 4 s later (the clock starts again: nvme_model_restart).
 */
static void test_a_reset_starts_the_caps_clock_again(void **state)
{
	struct mfx *f = *state = start("{\"iops\": 10}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_cqe cqe = {0};
	struct vnvme_sqe s;
	uint64_t t0;

	h_create_ioq(h, 1, 64, false, 0);
	submit_reads(h, q, 40);
	assert_int_equal(hq_reap(q, &cqe, 200), 0); /* the first slot is now */
	h_wreg32(h, VNVME_REG_CC, 0);
	assert_int_equal(h_wait_rdy(h, 0), 0);
	h_enable(h, 16);
	h_create_ioq(h, 1, 64, false, 0);
	t0 = now_ns();
	s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	s.dptr.prp1 = h_iova(h, h->mem + H_DATA);
	assert_sc(hq_cmd(q, &s, NULL), 0);
	print_message("# the first read after the reset: %.3f s\n", (now_ns() - t0) / 1e9);
	/* Generous: the clock left behind was 3.9 s ahead. */
	assert_true(now_ns() - t0 < 2500000000ull);
}

/* A detach with completions held: they are posted, the detach returns. */
static void test_detach_completes_held_commands(void **state)
{
	struct mfx *f = *state = start("{\"read\": {\"fixed_us\": 5000000}}");
	struct host *h = &f->h;
	struct hq *q = &h->io[0];
	struct vnvme_cqe cqe = {0};
	char err[256];
	uint64_t t0;

	h_create_ioq(h, 1, 64, false, 0);
	submit_reads(h, q, 8);
	assert_int_equal(hq_reap(q, &cqe, 50), -ETIMEDOUT);
	t0 = now_ns();
	assert_int_equal(vnvme_dev_ns_remove(f->dev, 1, err, sizeof(err)), 0);
	assert_true(now_ns() - t0 < 4000000000ull);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(hq_reap(q, &cqe, 1000), 0);
		assert_sc(vnvme_cqe_status(&cqe).v, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_fixed_read_delay_holds_every_read, teardown),
	    cmocka_unit_test_teardown(test_file_backend_completions_are_held_too, teardown),
	    cmocka_unit_test_teardown(test_iops_cap_paces_commands, teardown),
	    cmocka_unit_test_teardown(test_injected_media_errors_only_in_their_range, teardown),
	    cmocka_unit_test_teardown(test_same_seed_same_sequence_on_a_new_queue, teardown),
	    cmocka_unit_test_teardown(test_sq_deletion_and_reset_with_held_completions, teardown),
	    cmocka_unit_test_teardown(test_a_reset_starts_the_caps_clock_again, teardown),
	    cmocka_unit_test_teardown(test_detach_completes_held_commands, teardown),
	};

	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
