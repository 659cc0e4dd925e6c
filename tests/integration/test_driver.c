/* SPDX-License-Identifier: MIT */
/* libvnvme against an in-process vnvme-target over vfio-user: bring-up, every
 * I/O command, PRP lists, interrupts, raw passthrough, statuses by name. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "target/config.h"
#include "target/device.h"
#include "util/log.h"
#include "util/tsc.h"
#include "vnvme/vnvme.h"
#include "target_env.h"

struct dfx {
	struct target_env e;
	char path[100];
	struct vnvme_dev *dev;
	struct vnvme_ctrl *c;
	struct vnvme_qpair *q;
	struct vnvme_ns_info ns;
};

/* Waits are bounded by the clock, not by a count of polls that a loaded
 * machine makes slower. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	struct dfx *f = calloc(1, sizeof(*f));
	struct vnvme_dev_conf conf;
	char err[256] = "";

	tenv_init(&f->e, "drv", 1);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	vn_dev_conf_defaults(&conf);
	memcpy(conf.socket, f->path, strlen(f->path) + 1);
	conf.queues = 4;
	conf.qdepth = 65536; /* MQES 0xffff: the driver must refuse what it cannot hold */
	conf.ns[0].be.size = 8u << 20;
	assert_int_equal(vnvme_dev_create(&conf, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 1, &f->dev,
					  err, sizeof(err)),
			 0);
	tenv_run(&f->e);
	assert_int_equal(vnvme_ctrl_open(f->path, NULL, &f->c), 0);
	assert_int_equal(vnvme_ns_info(f->c, 1, &f->ns), 0);
	*state = f;
	return 0;
}

/* A controller with the trace table (BAR2, docs/attribution.md). */
static int setup_trace(void **state)
{
	struct dfx *f = calloc(1, sizeof(*f));
	struct vnvme_dev_conf conf;
	char err[256] = "";

	tenv_init(&f->e, "drv", 1);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	vn_dev_conf_defaults(&conf);
	memcpy(conf.socket, f->path, strlen(f->path) + 1);
	conf.queues = 2;
	conf.qdepth = 200;
	conf.trace = true;
	conf.ns[0].be.type = VN_BE_NULL;
	conf.ns[0].be.size = 8u << 20;
	assert_int_equal(vnvme_dev_create(&conf, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 1, &f->dev,
					  err, sizeof(err)),
			 0);
	tenv_run(&f->e);
	assert_int_equal(vnvme_ctrl_open(f->path, NULL, &f->c), 0);
	assert_int_equal(vnvme_ns_info(f->c, 1, &f->ns), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct dfx *f = *state;

	if (f->q)
		vnvme_qpair_destroy(f->q);
	vnvme_ctrl_close(f->c);
	vnvme_dev_destroy(f->dev);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

struct result {
	int done;
	uint16_t sf;
	uint32_t dw0;
};

static void cb(void *arg, const struct vnvme_cqe *cqe)
{
	struct result *r = arg;
	r->done++;
	r->sf = vnvme_cqe_sf(cqe);
	r->dw0 = cqe->dw0;
}

static void wait_done(struct vnvme_qpair *q, struct result *r, int n)
{
	for (long i = 0; i < 5000000 && r->done < n; i++)
		assert_true(vnvme_qpair_poll(q, 0) >= 0);
	assert_int_equal(r->done, n);
}

/* What a completion callback found in the trace table. */
struct traced {
	const struct vnvme_trace_rec *recs;
	uint32_t entries;
	uint16_t sqid;
	int done, ours;
	uint64_t t0;
};

static void trace_cb(void *arg, const struct vnvme_cqe *cqe)
{
	struct traced *t = arg;
	struct vnvme_trace_rec rec;

	t->done++;
	/* The CQE is seen: the record of its command is complete. */
	if (vnvme_trace_get(t->recs, t->entries, t->sqid, cqe->cid, &rec) && rec.fetch >= t->t0 &&
	    rec.opc == VNVME_NVM_READ && rec.status == 0)
		t->ours++;
}

/* The driver maps BAR2 and gives each queue pair its records: each of 512
 * Reads, 16 at a time, finds its own in its completion callback. */
static void test_trace_table_gives_each_completion_its_record(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts qo = {.depth = 32};
	void *buf = vnvme_dma_alloc(f->c, 4096);
	struct traced t = {0};
	uint64_t hz = 0;

	assert_int_equal(vnvme_qpair_create(f->c, &qo, &f->q), 0);
	t.recs = vnvme_qpair_trace(f->q, &t.entries, &hz);
	assert_non_null(t.recs);
	assert_int_equal(t.entries, 256); /* qdepth 200, rounded up */
	assert_true(hz > 1000000);
	t.sqid = vnvme_qpair_id(f->q);
	t.t0 = vn_tsc();
	for (int sent = 0; sent < 512;) {
		for (int k = 0; k < 16; k++, sent++)
			assert_int_equal(
			    vnvme_read(f->q, 1, buf, (uint64_t)sent, 1, 512, trace_cb, &t), 0);
		for (long i = 0; i < 5000000 && t.done < sent; i++)
			assert_true(vnvme_qpair_poll(f->q, 0) >= 0);
	}
	assert_int_equal(t.done, 512);
	assert_int_equal(t.ours, 512);
	vnvme_dma_free(f->c, buf);
}

/* Without "trace", no records. */
static void test_no_trace_table_without_trace(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts qo = {.depth = 32};
	uint32_t entries = 7;
	uint64_t hz = 7;

	assert_int_equal(vnvme_qpair_create(f->c, &qo, &f->q), 0);
	assert_null(vnvme_qpair_trace(f->q, &entries, &hz));
	assert_int_equal(entries, 7);
}

static void test_bring_up_identifies_the_controller(void **state)
{
	struct dfx *f = *state;
	const struct vnvme_id_ctrl *id = vnvme_ctrl_id(f->c);

	assert_int_equal(id->vid, 0x4e58);
	assert_int_equal(id->nn, 32); /* NVME_MAX_NS: namespaces may be attached later */
	assert_int_equal(vnvme_ctrl_max_qpairs(f->c), 4);
	assert_int_equal(f->ns.lba_size, 512);
	assert_int_equal(f->ns.nlb, (8u << 20) / 512);
	assert_int_equal(vnvme_ns_info(f->c, 2, &f->ns), -ENODEV); /* inactive: all zeroes */
	assert_int_equal(vnvme_ns_info(f->c, 33, &f->ns), -EIO);   /* beyond NN: invalid */
	assert_non_null(strstr(vnvme_ctrl_errmsg(f->c), "Invalid Namespace or Format"));
	assert_int_equal(vnvme_ctrl_check(f->c), 0);
}

static void test_every_io_command_through_the_driver(void **state)
{
	struct dfx *f = *state;
	struct result r = {0};
	uint8_t *w = vnvme_dma_alloc(f->c, 128 * 1024), *rd = vnvme_dma_alloc(f->c, 128 * 1024);
	struct vnvme_dsm_range *ranges = vnvme_dma_alloc(f->c, 4096);

	assert_non_null(w);
	assert_int_equal(vnvme_qpair_create(f->c, NULL, &f->q), 0);
	for (int i = 0; i < 128 * 1024; i++)
		w[i] = (uint8_t)(i * 31 + 7);
	/* 128 KiB: a PRP list built by the driver. */
	assert_int_equal(vnvme_write(f->q, 1, w, 64, 256, 512, cb, &r), 0);
	wait_done(f->q, &r, 1);
	assert_int_equal(r.sf, 0);
	assert_int_equal(vnvme_read(f->q, 1, rd, 64, 256, 512, cb, &r), 0);
	wait_done(f->q, &r, 2);
	assert_memory_equal(rd, w, 128 * 1024);
	/* An unaligned buffer start inside the DMA memory. */
	assert_int_equal(vnvme_read(f->q, 1, rd + 520, 64, 16, 512, cb, &r), 0);
	wait_done(f->q, &r, 3);
	assert_memory_equal(rd + 520, w, 16 * 512);
	assert_int_equal(vnvme_compare(f->q, 1, w, 64, 8, 512, cb, &r), 0);
	wait_done(f->q, &r, 4);
	assert_int_equal(r.sf, 0);
	assert_int_equal(vnvme_compare(f->q, 1, w + 100, 64, 1, 512, cb, &r), 0);
	wait_done(f->q, &r, 5);
	assert_string_equal(vnvme_status_name(r.sf), "Compare Failure");
	assert_int_equal(vnvme_write_zeroes(f->q, 1, 64, 8, cb, &r), 0);
	wait_done(f->q, &r, 6);
	ranges[0] = (struct vnvme_dsm_range){.slba = 72, .nlb = 8};
	assert_int_equal(vnvme_deallocate(f->q, 1, ranges, 1, cb, &r), 0);
	wait_done(f->q, &r, 7);
	assert_int_equal(vnvme_read(f->q, 1, rd, 64, 16, 512, cb, &r), 0);
	wait_done(f->q, &r, 8);
	for (int i = 0; i < 16 * 512; i++)
		assert_int_equal(rd[i], 0);
	assert_int_equal(vnvme_flush(f->q, 1, cb, &r), 0);
	wait_done(f->q, &r, 9);
	assert_int_equal(r.sf, 0);
	/* Errors come back by name. */
	assert_int_equal(vnvme_read(f->q, 1, rd, f->ns.nlb, 1, 512, cb, &r), 0);
	wait_done(f->q, &r, 10);
	assert_string_equal(vnvme_status_name(r.sf), "LBA Out of Range");
	assert_int_equal(vnvme_read(f->q, 9, rd, 0, 1, 512, cb, &r), 0);
	wait_done(f->q, &r, 11);
	assert_string_equal(vnvme_status_name(r.sf), "Invalid Namespace or Format");
	/* Buffers not from the DMA memory are refused before submission. */
	uint8_t stack[512];
	assert_int_equal(vnvme_read(f->q, 1, stack, 0, 1, 512, cb, &r), -EFAULT);
	/* Beyond the driver's PRP list room (64 entries). */
	assert_int_equal(vnvme_read(f->q, 1, rd, 0, 1024, 512, cb, &r), -E2BIG);
	/* NLB 1..65536; a buffer that runs past the end of the DMA memory. */
	assert_int_equal(vnvme_read(f->q, 1, rd, 0, 0, 512, cb, &r), -EINVAL);
	assert_int_equal(vnvme_read(f->q, 1, rd, 0, 65537, 512, cb, &r), -EINVAL);
	assert_int_equal(vnvme_read(f->q, 1, rd, 0, 65536, 4096, cb, &r), -EFAULT);
	assert_int_equal(vnvme_read(f->q, 1, stack + 256, 0, 1, 512, cb, &r), -EFAULT);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	vnvme_dma_free(f->c, w);
	vnvme_dma_free(f->c, rd);
	vnvme_dma_free(f->c, ranges);
}

static void test_raw_admin_passthrough(void **state)
{
	struct dfx *f = *state;
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_FEATURES, .cdw10 = VNVME_FID_NUM_QUEUES};
	struct vnvme_cqe cqe;
	uint8_t *buf = vnvme_dma_alloc(f->c, 4096);

	assert_int_equal(vnvme_admin(f->c, &s, NULL, 0, &cqe), 0);
	assert_int_equal(vnvme_cqe_sf(&cqe), 0);
	assert_int_equal(cqe.dw0, 0x00030003);
	s = (struct vnvme_sqe){.opc = VNVME_ADM_GET_LOG_PAGE,
			       .nsid = VNVME_NSID_ALL,
			       .cdw10 = VNVME_LID_SMART | (512 / 4 - 1) << 16};
	assert_int_equal(vnvme_admin(f->c, &s, buf, 512, &cqe), 0);
	assert_int_equal(vnvme_cqe_sf(&cqe), 0);
	assert_int_equal(((struct vnvme_smart_log *)(void *)buf)->avail_spare, 100);
	s = (struct vnvme_sqe){.opc = 0x55};
	assert_int_equal(vnvme_admin(f->c, &s, NULL, 0, &cqe), 0);
	assert_string_equal(vnvme_status_name(vnvme_cqe_sf(&cqe)), "Invalid Command Opcode");
	vnvme_dma_free(f->c, buf);
}

static void test_interrupt_mode_signals_the_eventfd(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 32, .interrupts = true};
	struct result r = {0};
	struct pollfd p;

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	p = (struct pollfd){.fd = vnvme_qpair_eventfd(f->q), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_int_equal(vnvme_flush(f->q, 1, cb, &r), 0);
	vnvme_qpair_flush(f->q);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(vnvme_qpair_poll(f->q, 0), 1);
	assert_int_equal(r.done, 1);
}

static void test_queue_pairs_run_out_and_come_back(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair *qs[5];

	for (int i = 0; i < 4; i++)
		assert_int_equal(vnvme_qpair_create(f->c, NULL, &qs[i]), 0);
	assert_int_equal(vnvme_qpair_create(f->c, NULL, &qs[4]), -EBUSY);
	vnvme_qpair_destroy(qs[2]);
	assert_int_equal(vnvme_qpair_create(f->c, NULL, &qs[2]), 0);
	for (int i = 0; i < 4; i++)
		vnvme_qpair_destroy(qs[i]);
	struct vnvme_qpair_opts o = {.depth = 100000};
	assert_int_equal(vnvme_qpair_create(f->c, &o, &qs[0]), -EINVAL);
	/* The controller takes 65536 entries; the driver's 16-bit ring
	 * indices do not (its ring would have been size 0). */
	o.depth = 65536;
	assert_int_equal(vnvme_qpair_create(f->c, &o, &qs[0]), -EINVAL);
}

static void test_a_full_queue_says_busy_and_drains(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 8};
	struct result r = {0};
	int n = 0;

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	/* An 8-entry ring holds 7 commands. */
	while (vnvme_flush(f->q, 1, cb, &r) == 0)
		n++;
	assert_int_equal(n, 7);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 7);
	wait_done(f->q, &r, 7);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
}

static void test_reap_hands_out_a_batch_without_callbacks(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 16};
	struct vnvme_cpl cpl[16];
	uint8_t *buf = vnvme_dma_alloc(f->c, 8 * 4096);
	int tags[8], got[8] = {0}, n = 0;

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	assert_int_equal(vnvme_qpair_reap(f->q, cpl, 16), 0);
	/* Several rounds: the CQ wraps and the phase flips. */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 8; i++) {
			tags[i] = i;
			assert_int_equal(vnvme_read(f->q, 1, buf + i * 4096, (uint64_t)i * 8, 8,
						    512, NULL, &tags[i]),
					 0);
		}
		assert_int_equal(vnvme_qpair_outstanding(f->q), 8);
		/* At most max at a time. */
		for (uint64_t end = now_ms() + 20000; (n < 8 * (round + 1)) && now_ms() < end;) {
			int k = vnvme_qpair_reap(f->q, cpl, 3);
			assert_true(k >= 0 && k <= 3);
			for (int i = 0; i < k; i++) {
				assert_int_equal(vnvme_cqe_sf(&cpl[i].cqe), 0);
				got[*(int *)cpl[i].arg]++;
			}
			n += k;
		}
		assert_int_equal(n, 8 * (round + 1));
		assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(got[i], 5);
	assert_int_equal(vnvme_qpair_reap(f->q, cpl, 16), 0);
	vnvme_dma_free(f->c, buf);
}

static void test_prepared_reads_and_writes_need_only_the_lba(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 4};
	struct vnvme_rw wr, rd, small;
	struct result r = {0};
	uint8_t *w = vnvme_dma_alloc(f->c, 128 * 1024), *b = vnvme_dma_alloc(f->c, 128 * 1024);
	uint8_t stack[512];

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	for (int i = 0; i < 128 * 1024; i++)
		w[i] = (uint8_t)(i * 13 + 5);
	/* 128 KiB: the PRP list is written at each submission. */
	assert_int_equal(vnvme_rw_prep(f->c, &wr, VNVME_NVM_WRITE, 1, w, 256, 512, cb, &r), 0);
	assert_int_equal(vnvme_rw_prep(f->c, &rd, VNVME_NVM_READ, 1, b, 256, 512, cb, &r), 0);
	for (uint64_t lba = 0; lba < 3 * 256; lba += 256) {
		memset(b, 0, 128 * 1024);
		assert_int_equal(vnvme_rw_submit(f->q, &wr, lba), 0);
		wait_done(f->q, &r, r.done + 1);
		assert_int_equal(r.sf, 0);
		assert_int_equal(vnvme_rw_submit(f->q, &rd, lba), 0);
		wait_done(f->q, &r, r.done + 1);
		assert_int_equal(r.sf, 0);
		assert_memory_equal(b, w, 128 * 1024);
	}
	/* Within one page and across two; an LBA beyond 32 bits reaches the
	 * controller intact. */
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_READ, 1, b + 3584, 2, 512, cb, &r),
			 0);
	assert_int_equal(vnvme_rw_submit(f->q, &small, 256), 0);
	wait_done(f->q, &r, r.done + 1);
	assert_memory_equal(b + 3584, w, 1024);
	assert_int_equal(vnvme_rw_submit(f->q, &small, 1ull << 32), 0);
	wait_done(f->q, &r, r.done + 1);
	assert_string_equal(vnvme_status_name(r.sf), "LBA Out of Range");
	/* A full queue (4 entries hold 3) says busy; the ring drains. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vnvme_rw_submit(f->q, &small, 0), 0);
	assert_int_equal(vnvme_rw_submit(f->q, &small, 0), -EBUSY);
	wait_done(f->q, &r, r.done + 3);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	/* Refused at preparation. */
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_FLUSH, 1, b, 1, 512, cb, &r),
			 -EINVAL);
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_READ, 1, b, 0, 512, cb, &r),
			 -EINVAL);
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_READ, 1, stack, 1, 512, cb, &r),
			 -EFAULT);
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_READ, 1, b, 65536, 4096, cb, &r),
			 -EFAULT);
	assert_int_equal(vnvme_rw_prep(f->c, &small, VNVME_NVM_READ, 1, b, 1024, 512, cb, &r),
			 -E2BIG);
	vnvme_dma_free(f->c, w);
	vnvme_dma_free(f->c, b);
}

/* The inline hot path reaps and resubmits in the caller's loop; it mixes
 * with the out-of-line calls on the same queue pair. */
static void test_the_inline_hot_path_reaps_and_resubmits(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 8};
	struct vnvme_rw rw[7], big;
	struct vnvme_cpl cpl[8];
	struct vnvme_hot *h;
	struct result r = {0};
	uint8_t *buf = vnvme_dma_alloc(f->c, 7 * 4096), *w = vnvme_dma_alloc(f->c, 64 * 1024);
	int tags[7], got[7] = {0}, done = 0, submitted = 0;

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	assert_null(vnvme_qpair_hot(f->q, VNVME_HOT_VERSION + 1));
	h = vnvme_qpair_hot(f->q, VNVME_HOT_VERSION);
	assert_non_null(h);
	for (int i = 0; i < 7; i++) {
		tags[i] = i;
		assert_int_equal(vnvme_rw_prep(f->c, &rw[i], VNVME_NVM_READ, 1, buf + i * 4096, 8,
					       512, NULL, &tags[i]),
				 0);
		assert_int_equal(vnvme_hot_rw_submit(h, &rw[i], (uint64_t)i * 8), 0);
	}
	/* 8 entries hold 7 commands. */
	assert_int_equal(vnvme_hot_rw_submit(h, &rw[0], 0), -EBUSY);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 7);
	submitted = 7;
	/* Each completion resubmits its slot until 100 have been sent: the
	 * rings wrap many times and the phase flips. */
	for (uint64_t end = now_ms() + 20000; (done < 100) && now_ms() < end;) {
		int n = vnvme_hot_reap(h, cpl, 8);

		for (int i = 0; i < n; i++) {
			int k = *(int *)cpl[i].arg;

			assert_int_equal(vnvme_cqe_sf(&cpl[i].cqe), 0);
			got[k]++;
			done++;
			if (submitted < 100) {
				assert_int_equal(vnvme_hot_rw_submit(h, &rw[k], (uint64_t)k * 8),
						 0);
				submitted++;
			}
		}
		vnvme_hot_ring(h);
	}
	assert_int_equal(done, 100);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	for (int i = 0; i < 7; i++)
		assert_true(got[i] > 0);
	/* A preparation with a PRP list goes through the library; the
	 * callback path then reaps it. */
	memset(w, 0xa5, 64 * 1024);
	assert_int_equal(vnvme_rw_prep(f->c, &big, VNVME_NVM_WRITE, 1, w, 128, 512, cb, &r), 0);
	assert_int_equal(vnvme_hot_rw_submit(h, &big, 0), 0);
	wait_done(f->q, &r, 1);
	assert_int_equal(r.sf, 0);
	/* And an out-of-line submission is reaped inline. */
	assert_int_equal(vnvme_read(f->q, 1, buf, 0, 8, 512, NULL, &tags[3]), 0);
	vnvme_hot_ring(h);
	done = 0;
	for (uint64_t end = now_ms() + 20000; (!done) && now_ms() < end;) {
		done = vnvme_hot_reap(h, cpl, 8);
		vnvme_hot_ring(h);
	}
	assert_int_equal(done, 1);
	assert_ptr_equal(cpl[0].arg, &tags[3]);
	assert_memory_equal(buf, w, 4096);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	vnvme_dma_free(f->c, buf);
	vnvme_dma_free(f->c, w);
}

/* The batch path against a real target: each completion's CID goes
 * straight to the slot's next command (with a PRP list for one slot), the
 * rest are released at the end; nothing is left outstanding. */
static void test_a_batch_resubmits_on_the_cids_it_takes(void **state)
{
	struct dfx *f = *state;
	struct vnvme_qpair_opts o = {.depth = 8};
	struct vnvme_rw rw[7];
	struct vnvme_hot *h;
	uint8_t *buf = vnvme_dma_alloc(f->c, 7 * 16384);
	int tags[7], got[7] = {0}, done = 0, submitted = 0;

	assert_int_equal(vnvme_qpair_create(f->c, &o, &f->q), 0);
	h = vnvme_qpair_hot(f->q, VNVME_HOT_VERSION);
	assert_non_null(h);
	for (int i = 0; i < 7; i++) {
		tags[i] = i;
		/* Slot 6: 16 KiB, a PRP list. */
		assert_int_equal(vnvme_rw_prep(f->c, &rw[i], VNVME_NVM_READ, 1, buf + i * 16384,
					       i == 6 ? 32 : 8, 512, NULL, &tags[i]),
				 0);
		assert_int_equal(vnvme_hot_rw_submit(h, &rw[i], (uint64_t)i * 32), 0);
	}
	submitted = 7;
	vnvme_hot_ring(h);
	for (uint64_t end = now_ms() + 20000; (done < 200) && now_ms() < end;) {
		struct vnvme_hot_batch b;
		unsigned n;

		if (!vnvme_hot_ready(h))
			continue;
		n = vnvme_hot_batch_begin(&b, h, 8);
		while (n--) {
			struct vnvme_hot_cpl c = {0};
			int k;

			assert_true(vnvme_hot_batch_take(&b, &c));
			assert_int_equal(vnvme_hot_cpl_sf(&c), 0);
			k = *(int *)c.arg;
			got[k]++;
			done++;
			if (submitted < 200) {
				assert_int_equal(
				    vnvme_hot_batch_resubmit(&b, c.cid, &rw[k], (uint64_t)k * 32),
				    0);
				submitted++;
			} else {
				assert_int_equal(vnvme_hot_batch_release(&b, c.cid), 0);
			}
		}
		vnvme_hot_batch_end(&b);
		vnvme_hot_ring(h);
	}
	assert_int_equal(done, 200);
	assert_int_equal(vnvme_qpair_outstanding(f->q), 0);
	for (int i = 0; i < 7; i++)
		assert_true(got[i] > 0);
	vnvme_dma_free(f->c, buf);
}

static void test_open_errors_say_what_to_do(void **state)
{
	struct dfx *f = *state;
	struct vnvme_ctrl *c2;

	(void)f;
	assert_int_equal(vnvme_ctrl_open("/tmp/vnvme-no-such-socket", NULL, &c2), -ENOENT);
	/* The target serves one client at a time. */
	assert_int_equal(vnvme_ctrl_open(f->path, NULL, &c2), -ECONNRESET);
}

struct ns_op {
	struct vnvme_dev *d;
	uint32_t nsid; /* 0: add at the lowest free */
	bool add;
	int ret;
	char err[256];
};

static void ns_op_fn(void *arg)
{
	struct ns_op *o = arg;
	struct vnvme_ns_conf nc = {.be = {.type = VN_BE_RAM, .size = 4u << 20}, .lba_size = 4096};

	o->ret = o->add ? vnvme_dev_ns_add(o->d, &nc, o->nsid, &o->nsid, o->err, sizeof(o->err))
			: vnvme_dev_ns_remove(o->d, o->nsid, o->err, sizeof(o->err));
}

/*
 * A namespace added while the driver holds the controller: the driver
 * finds it by Identify (the host side of the Namespace Attribute Changed
 * event), writes and reads it; once removed, Identify says it is gone and
 * I/O to it fails with Invalid Namespace or Format, namespace 1 unharmed.
 */
static void test_the_driver_sees_a_namespace_come_and_go(void **state)
{
	struct dfx *f = *state;
	struct vnvme_sqe s = {.opc = VNVME_ADM_IDENTIFY, .cdw10 = VNVME_CNS_ACTIVE_NS_LIST};
	struct ns_op op = {.d = f->dev, .add = true};
	struct vnvme_ns_info ns2;
	struct result r = {0};
	uint32_t *list = vnvme_dma_alloc(f->c, 4096);
	uint8_t *buf = vnvme_dma_alloc(f->c, 8192);

	assert_non_null(list);
	assert_non_null(buf);
	assert_int_equal(vnvme_qpair_create(f->c, NULL, &f->q), 0);
	assert_int_equal(vnvme_ns_info(f->c, 2, &ns2), -ENODEV);
	assert_int_equal(vn_evloop_call(f->e.loop, ns_op_fn, &op), 0);
	assert_int_equal(op.ret, 0);
	assert_int_equal(op.nsid, 2);
	assert_int_equal(vnvme_admin(f->c, &s, list, 4096, NULL), 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 0);
	assert_int_equal(vnvme_ns_info(f->c, 2, &ns2), 0);
	assert_int_equal(ns2.lba_size, 4096);
	assert_int_equal(ns2.nlb, (4u << 20) / 4096);
	memset(buf, 0x6e, 4096);
	assert_int_equal(vnvme_write(f->q, 2, buf, 5, 1, 4096, cb, &r), 0);
	wait_done(f->q, &r, 1);
	assert_int_equal(r.sf, 0);
	memset(buf, 0, 4096);
	assert_int_equal(vnvme_read(f->q, 2, buf, 5, 1, 4096, cb, &r), 0);
	wait_done(f->q, &r, 2);
	assert_int_equal(r.sf, 0);
	assert_int_equal(buf[4095], 0x6e);

	op = (struct ns_op){.d = f->dev, .nsid = 2};
	assert_int_equal(vn_evloop_call(f->e.loop, ns_op_fn, &op), 0);
	assert_int_equal(op.ret, 0);
	assert_int_equal(vnvme_ns_info(f->c, 2, &ns2), -ENODEV);
	assert_int_equal(vnvme_read(f->q, 2, buf, 5, 1, 4096, cb, &r), 0);
	wait_done(f->q, &r, 3);
	assert_int_equal(r.sf & 0x7ff, VNVME_SC_INVALID_NS_OR_FORMAT);
	assert_int_equal(vnvme_read(f->q, 1, buf, 5, 1, 512, cb, &r), 0);
	wait_done(f->q, &r, 4);
	assert_int_equal(r.sf, 0);
	vnvme_dma_free(f->c, buf);
	vnvme_dma_free(f->c, list);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bring_up_identifies_the_controller),
	    T(test_every_io_command_through_the_driver),
	    T(test_raw_admin_passthrough),
	    T(test_interrupt_mode_signals_the_eventfd),
	    T(test_queue_pairs_run_out_and_come_back),
	    T(test_a_full_queue_says_busy_and_drains),
	    T(test_reap_hands_out_a_batch_without_callbacks),
	    T(test_prepared_reads_and_writes_need_only_the_lba),
	    T(test_the_inline_hot_path_reaps_and_resubmits),
	    T(test_a_batch_resubmits_on_the_cids_it_takes),
	    T(test_open_errors_say_what_to_do),
	    T(test_the_driver_sees_a_namespace_come_and_go),
	    T(test_no_trace_table_without_trace),
	    cmocka_unit_test_setup_teardown(test_trace_table_gives_each_completion_its_record,
					    setup_trace, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("VNVME_LOG"))
		vn_log_set_level(VN_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
