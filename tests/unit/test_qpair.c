/* SPDX-License-Identifier: MIT */
/*
 * The driver's inline hot path (vnvme.h) on a queue pair laid out in plain
 * memory, with the controller's side played by the test: CQEs a broken
 * controller may write are skipped without an out-of-bounds access.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vnvme/vnvme.h"

#define SIZE 4u

struct fake {
	struct vnvme_hot h;
	struct vnvme_sqe sq[SIZE];
	struct vnvme_cqe cq[SIZE];
	struct vnvme_req reqs[SIZE];
	uint16_t free_cids[SIZE + 4]; /* canaries past the end */
	int tags[SIZE];
	struct vnvme_rw rw;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->h.sq = f->sq;
	f->h.cq = f->cq;
	f->h.reqs = f->reqs;
	f->h.free_cids = f->free_cids;
	for (unsigned i = 0; i < SIZE; i++)
		f->reqs[i].busy = VNVME_CID_FREE;
	f->h.size = SIZE;
	f->h.phase = 1;
	for (unsigned i = 0; i < SIZE - 1; i++)
		f->free_cids[i] = (uint16_t)(SIZE - 2 - i);
	f->h.nfree = SIZE - 1;
	for (unsigned i = SIZE; i < SIZE + 4; i++)
		f->free_cids[i] = 0xdead;
	f->rw.sqe.opc = VNVME_NVM_READ;
	f->rw.sqe.nsid = 1;
}

/* What vnvme_qpair_ring() does to the hot state for the SQ doorbell: the
 * commands queued so far may complete from now on. */
static void rung(struct fake *f)
{
	f->h.sq_rung = f->h.sq_tail;
	f->h.epoch++;
}

/* The controller posts a CQE at slot `slot` with the given phase. */
static void post(struct fake *f, unsigned slot, uint16_t cid, uint16_t sf, unsigned phase)
{
	f->cq[slot] = (struct vnvme_cqe){.cid = cid, .status = (uint16_t)(sf << 1 | phase)};
}

/* Every byte of the slot: the prepared entry's, but CID and cdw10-11 (the
 * x86-64 path merges those into 16-byte words in registers). */
static void test_sqe_fill_writes_every_byte_of_the_slot(void **state)
{
	struct vnvme_sqe tmpl, slot, want;
	uint8_t *p = (uint8_t *)&tmpl;

	(void)state;
	for (unsigned i = 0; i < sizeof(tmpl); i++)
		p[i] = (uint8_t)(i * 7 + 3);
	memset(&slot, 0xaa, sizeof(slot));
	vnvme_sqe_fill(&slot, &tmpl, 0xbeef, 0x0123456789abcdefull);
	want = tmpl;
	want.cid = 0xbeef;
	want.cdw10 = 0x89abcdef;
	want.cdw11 = 0x01234567;
	assert_memory_equal(&slot, &want, sizeof(slot));
	assert_int_equal(slot.opc, tmpl.opc);
	assert_int_equal(slot.cdw12, tmpl.cdw12);
}

static void test_hot_submit_fills_the_sqe_and_the_slot(void **state)
{
	struct fake f;

	fake_init(&f);
	f.rw.arg = &f.tags[1];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0x123456789abull), 0);
	assert_int_equal(f.sq[0].opc, VNVME_NVM_READ);
	assert_int_equal(f.sq[0].nsid, 1);
	assert_int_equal(f.sq[0].cdw10, 0x456789ab);
	assert_int_equal(f.sq[0].cdw11, 0x123);
	assert_ptr_equal(f.reqs[f.sq[0].cid].arg, &f.tags[1]);
	assert_int_equal(f.h.sq_tail, 1);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 1), 0);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 2), 0);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 3), -EBUSY);
	assert_int_equal(f.h.sq_tail, 3);
}

static void test_hot_ready_sees_only_the_current_phase(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];

	fake_init(&f);
	assert_false(vnvme_hot_ready(&f.h));
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	rung(&f);
	post(&f, 0, f.sq[0].cid, 0, 1);
	assert_true(vnvme_hot_ready(&f.h));
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 1);
	/* Slot 1 still holds phase 0, an old lap's. */
	assert_false(vnvme_hot_ready(&f.h));
}

static void test_hot_reap_skips_a_cid_beyond_the_ring(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];

	fake_init(&f);
	f.rw.arg = &f.tags[0];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	rung(&f);
	post(&f, 0, 0xffff, 0, 1);
	post(&f, 1, SIZE, 0, 1);
	post(&f, 2, f.sq[0].cid, 2, 1);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 1);
	assert_ptr_equal(cpl[0].arg, &f.tags[0]);
	assert_int_equal(vnvme_cqe_sf(&cpl[0].cqe), 2);
	assert_int_equal(f.h.cq_head, 3);
	assert_int_equal(f.h.nfree, SIZE - 1);
	/* Nothing more with this phase. */
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 0);
}

static void test_hot_reap_ignores_more_completions_than_commands(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];
	int total = 0;

	fake_init(&f);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	rung(&f);
	/* The same CID completed again and again, over several laps of the
	 * ring: the free-CID stack never grows past its size. */
	for (unsigned lap = 0; lap < 3; lap++) {
		for (unsigned i = 0; i < SIZE; i++)
			post(&f, i, f.sq[0].cid, 0, f.h.phase);
		total += vnvme_hot_reap(&f.h, cpl, SIZE);
		assert_true(f.h.nfree <= SIZE - 1);
	}
	assert_int_equal(total, 1);
	for (unsigned i = SIZE; i < SIZE + 4; i++)
		assert_int_equal(f.free_cids[i], 0xdead);
}

static void test_hot_reap_skips_a_cid_completed_twice_or_never_submitted(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];
	uint16_t a, b;

	fake_init(&f);
	f.rw.arg = &f.tags[0];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	f.rw.arg = &f.tags[1];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 1), 0);
	a = f.sq[0].cid;
	b = f.sq[1].cid;
	rung(&f);
	/* a twice while b is still outstanding; then the one CID never handed
	 * out; then b. */
	post(&f, 0, a, 0, 1);
	post(&f, 1, a, 0, 1);
	post(&f, 2, f.free_cids[0], 0, 1);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 1);
	assert_ptr_equal(cpl[0].arg, &f.tags[0]);
	assert_int_equal(f.h.nfree, SIZE - 2);
	post(&f, 3, b, 0, 1);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 1);
	assert_ptr_equal(cpl[0].arg, &f.tags[1]);
	assert_int_equal(f.h.nfree, SIZE - 1);
	/* Every CID once on the stack. */
	assert_int_not_equal(f.free_cids[0], f.free_cids[1]);
	assert_int_not_equal(f.free_cids[1], f.free_cids[2]);
	assert_int_not_equal(f.free_cids[0], f.free_cids[2]);
}

static void test_hot_reap_skips_a_cid_before_its_doorbell(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];

	fake_init(&f);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	/* Completed before the SQ doorbell told the controller about it. */
	post(&f, 0, f.sq[0].cid, 0, 1);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 0);
	assert_int_equal(f.h.nfree, SIZE - 2);
}

static void test_hot_batch_resubmits_on_the_cid_it_took(void **state)
{
	struct fake f;
	struct vnvme_hot_batch b;
	struct vnvme_hot_cpl c = {0};
	uint16_t cid;

	fake_init(&f);
	f.rw.arg = &f.tags[0];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 7), 0);
	cid = f.sq[0].cid;
	rung(&f);
	post(&f, 0, cid, 0, 1);
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 1);
	assert_true(vnvme_hot_batch_take(&b, &c));
	assert_ptr_equal(c.arg, &f.tags[0]);
	assert_int_equal(c.cid, cid);
	assert_int_equal(c.dw3, 1u << 16 | cid);
	assert_int_equal(vnvme_hot_cpl_sf(&c), 0);
	f.rw.arg = &f.tags[1]; /* not used: the CID keeps its arg */
	assert_int_equal(vnvme_hot_batch_resubmit(&b, c.cid, &f.rw, 8), 0);
	vnvme_hot_batch_end(&b);
	assert_int_equal(f.h.sq_tail, 2);
	assert_int_equal(f.sq[1].cid, cid);
	assert_int_equal(f.sq[1].cdw10, 8);
	assert_ptr_equal(f.reqs[cid].arg, &f.tags[0]);
	assert_int_equal(f.h.nfree, SIZE - 2); /* the CID never went back */
	assert_int_equal(f.h.cq_head, 1);
	/* Released at the next completion. */
	rung(&f);
	post(&f, 1, cid, 3, 1);
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 1);
	assert_true(vnvme_hot_batch_take(&b, &c));
	assert_ptr_equal(c.arg, &f.tags[0]);
	assert_int_equal(vnvme_hot_cpl_sf(&c), 3);
	assert_int_equal(vnvme_hot_batch_release(&b, c.cid), 0);
	assert_int_equal(vnvme_hot_batch_release(&b, c.cid), -EINVAL); /* twice */
	vnvme_hot_batch_end(&b);
	assert_int_equal(f.h.nfree, SIZE - 1);
}

static void test_hot_batch_skips_a_cid_completed_twice_or_never_submitted(void **state)
{
	struct fake f;
	struct vnvme_hot_batch b;
	struct vnvme_hot_cpl c = {0};
	uint16_t a, x;
	unsigned n, got = 0;

	fake_init(&f);
	f.rw.arg = &f.tags[0];
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 1), 0);
	a = f.sq[0].cid;
	x = f.free_cids[0]; /* never handed out */
	rung(&f);
	/* a, then a again (after it was resubmitted in this batch, before
	 * any doorbell), the CID never submitted, one beyond the ring. */
	post(&f, 0, a, 0, 1);
	post(&f, 1, a, 0, 1);
	post(&f, 2, x, 0, 1);
	n = vnvme_hot_batch_begin(&b, &f.h, SIZE);
	assert_int_equal(n, 2); /* no more than the 2 outstanding */
	while (n--) {
		if (!vnvme_hot_batch_take(&b, &c))
			continue;
		got++;
		assert_int_equal(c.cid, a);
		assert_int_equal(vnvme_hot_batch_resubmit(&b, c.cid, &f.rw, 2), 0);
	}
	vnvme_hot_batch_end(&b);
	assert_int_equal(got, 1);
	rung(&f);
	post(&f, 3, SIZE, 0, 1);
	/* Two CQEs ready (slots 2 and 3), but one SQ slot left before the SQ
	 * wraps (tail 3): one per batch. */
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 1);
	assert_false(vnvme_hot_batch_take(&b, &c)); /* never submitted */
	vnvme_hot_batch_end(&b);
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 1);
	assert_false(vnvme_hot_batch_take(&b, &c)); /* beyond the ring */
	vnvme_hot_batch_end(&b);
	assert_int_equal(f.h.cq_head, 0);
	assert_int_equal(f.h.phase, 0);
	assert_int_equal(f.h.nfree, SIZE - 3);
	for (unsigned i = SIZE; i < SIZE + 4; i++)
		assert_int_equal(f.free_cids[i], 0xdead);
}

static void test_hot_batch_stops_where_a_ring_wraps(void **state)
{
	struct fake f;
	struct vnvme_hot_batch b;
	struct vnvme_hot_cpl c = {0};

	fake_init(&f);
	for (unsigned i = 0; i < 3; i++) {
		f.rw.arg = &f.tags[i];
		assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, i), 0);
		post(&f, i, f.sq[i].cid, 0, 1);
	}
	rung(&f);
	/* SQ tail 3: one slot before it wraps. */
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 1);
	assert_true(vnvme_hot_batch_take(&b, &c));
	assert_int_equal(vnvme_hot_batch_resubmit(&b, c.cid, &f.rw, 9), 0);
	vnvme_hot_batch_end(&b);
	assert_int_equal(f.h.sq_tail, 0);
	assert_int_equal(f.sq[3].cid, c.cid);
	assert_int_equal(f.h.cq_head, 1);
	/* Then the other two. */
	assert_int_equal(vnvme_hot_batch_begin(&b, &f.h, SIZE), 2);
	for (int i = 0; i < 2; i++) {
		assert_true(vnvme_hot_batch_take(&b, &c));
		assert_int_equal(vnvme_hot_batch_release(&b, c.cid), 0);
	}
	vnvme_hot_batch_end(&b);
	assert_int_equal(f.h.cq_head, 3);
	assert_int_equal(f.h.nfree, SIZE - 2);
}

static void test_hot_reap_stops_at_max_and_at_the_phase(void **state)
{
	struct fake f;
	struct vnvme_cpl cpl[SIZE];

	fake_init(&f);
	for (unsigned i = 0; i < 3; i++) {
		f.rw.arg = &f.tags[i];
		assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, i), 0);
		post(&f, i, f.sq[i].cid, 0, 1);
	}
	rung(&f);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, 0), 0);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, 2), 2);
	assert_ptr_equal(cpl[0].arg, &f.tags[0]);
	assert_ptr_equal(cpl[1].arg, &f.tags[1]);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 1);
	assert_ptr_equal(cpl[0].arg, &f.tags[2]);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 0);
	/* The wrap: slot 3, then slot 0 with the phase flipped. */
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	assert_int_equal(vnvme_hot_rw_submit(&f.h, &f.rw, 0), 0);
	rung(&f);
	post(&f, 3, f.sq[3].cid, 0, 1);
	post(&f, 0, f.sq[0].cid, 0, 0);
	assert_int_equal(vnvme_hot_reap(&f.h, cpl, SIZE), 2);
	assert_int_equal(f.h.cq_head, 1);
	assert_int_equal(f.h.phase, 0);
	assert_int_equal(f.h.nfree, SIZE - 1);
}

/* The trace table's header (vnvme/trace.h) as a hostile device may
 * write it: every field that could put a record outside the mapping, or
 * make the index wrong, is refused. */
static void test_trace_header_checks_refuse_what_reads_out_of_bounds(void **state)
{
	const struct vnvme_trace_hdr good = {
	    .magic = VNVME_TRACE_MAGIC,
	    .version = VNVME_TRACE_VERSION,
	    .hdr_size = sizeof(struct vnvme_trace_hdr),
	    .rec_size = sizeof(struct vnvme_trace_rec),
	    .nr_queues = 9,
	    .entries = 1024,
	    .rec_offset = VNVME_TRACE_REC_OFFSET,
	};
	const uint64_t len = VNVME_TRACE_REC_OFFSET + 9ull * 1024 * 32;
	struct vnvme_trace_hdr h;

	(void)state;
	assert_true(vnvme_trace_hdr_ok(&good, len));
	assert_false(vnvme_trace_hdr_ok(&good, len - 1));          /* the last record cut */
	assert_false(vnvme_trace_hdr_ok(&good, sizeof(good) - 1)); /* not even a header */
	h = good, h.magic ^= 1;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.version = 2;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.rec_size = 16; /* records overlapping: the index would be wrong */
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.entries = 1000; /* not a power of 2: cid & (entries - 1) is no index */
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.entries = 0;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.nr_queues = 0;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.nr_queues = 0xffffffff, h.entries = 0x80000000; /* a product past 2^32 */
	assert_false(vnvme_trace_hdr_ok(&h, UINT64_MAX));
	h = good, h.rec_offset = len + 4096;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.rec_offset = UINT64_MAX - 7;
	assert_false(vnvme_trace_hdr_ok(&h, len));
	h = good, h.rec_offset = 4097; /* misaligned records */
	assert_false(vnvme_trace_hdr_ok(&h, len + 1));
}

/* A record is a command's only with its CID and SQID and stamps in order. */
static void test_trace_get_takes_only_the_commands_own_record(void **state)
{
	struct vnvme_trace_rec recs[8] = {0}, out;

	(void)state;
	recs[5] =
	    (struct vnvme_trace_rec){.fetch = 10, .done = 20, .post = 30, .cid = 13, .sqid = 1};
	assert_true(vnvme_trace_get(recs, 8, 1, 13, &out)); /* 13 & 7 = 5 */
	assert_int_equal(out.post, 30);
	assert_false(vnvme_trace_get(recs, 8, 1, 5, &out));  /* same slot, other CID */
	assert_false(vnvme_trace_get(recs, 8, 2, 13, &out)); /* other queue */
	recs[5].fetch = 0;                                   /* an admin command completed later */
	assert_false(vnvme_trace_get(recs, 8, 1, 13, &out));
	recs[5].fetch = 25; /* fetch after done */
	assert_false(vnvme_trace_get(recs, 8, 1, 13, &out));
	recs[5].fetch = 10, recs[5].done = 31; /* done after post */
	assert_false(vnvme_trace_get(recs, 8, 1, 13, &out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sqe_fill_writes_every_byte_of_the_slot),
	    cmocka_unit_test(test_hot_submit_fills_the_sqe_and_the_slot),
	    cmocka_unit_test(test_hot_ready_sees_only_the_current_phase),
	    cmocka_unit_test(test_hot_reap_skips_a_cid_beyond_the_ring),
	    cmocka_unit_test(test_hot_reap_ignores_more_completions_than_commands),
	    cmocka_unit_test(test_hot_reap_skips_a_cid_completed_twice_or_never_submitted),
	    cmocka_unit_test(test_hot_reap_skips_a_cid_before_its_doorbell),
	    cmocka_unit_test(test_hot_batch_resubmits_on_the_cid_it_took),
	    cmocka_unit_test(test_hot_batch_skips_a_cid_completed_twice_or_never_submitted),
	    cmocka_unit_test(test_hot_batch_stops_where_a_ring_wraps),
	    cmocka_unit_test(test_hot_reap_stops_at_max_and_at_the_phase),
	    cmocka_unit_test(test_trace_header_checks_refuse_what_reads_out_of_bounds),
	    cmocka_unit_test(test_trace_get_takes_only_the_commands_own_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
