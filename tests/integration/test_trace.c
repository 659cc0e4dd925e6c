/* SPDX-License-Identifier: MIT */
/*
 * The trace table (include/vnvme/trace.h, docs/attribution.md) through
 * vfio-user with the minimal host of nvme_host.h: BAR2 absent without
 * "trace"; with it, a record for every completed command, of that command
 * (its CID, SQID, opcode, status), with fetch <= done <= post between the
 * host's stamps around it, complete as soon as the CQE is seen; a CID that
 * shares a slot with another is told apart, never misattributed.
 */
#include "nvme_host.h"

#include <fcntl.h>
#include <sys/mman.h>
#include "target_env.h"

#include "target/config.h"
#include "util/tsc.h"
#include "vnvme/trace.h"

struct tfx {
	struct target_env e;
	char path[100];
	char file[100];
	struct vnvme_dev *dev;
	struct host h;
	const struct vnvme_trace_hdr *hdr;
	size_t len;
};

static void make(struct tfx *f, enum vn_be_type type, bool trace)
{
	struct vnvme_dev_conf c;
	char err[256] = "";

	tenv_init(&f->e, "trace", 1);
	snprintf(f->path, sizeof(f->path), "%s/nvme0", f->e.dir);
	vn_dev_conf_defaults(&c);
	memcpy(c.socket, f->path, strlen(f->path) + 1);
	c.queues = 2;
	c.qdepth = 64;
	c.trace = trace;
	c.nr_ns = 1;
	c.ns[0].be.type = type;
	c.ns[0].be.size = 16u << 20;
	c.ns[0].lba_size = 512;
	if (type == VN_BE_FILE) {
		snprintf(f->file, sizeof(f->file), "%s/ns1.img", f->e.dir);
		c.ns[0].be.path = f->file;
	}
	assert_int_equal(vnvme_dev_create(&c, 0, f->e.loop, &f->e.qsbr, f->e.pollers, 1, &f->dev,
					  err, sizeof(err)),
			 0);
	tenv_run(&f->e);
	assert_int_equal(h_connect(&f->h, f->path), 0);
	h_enable(&f->h, 32);
	h_create_ioq(&f->h, 1, 64, false, 0);
}

/* Map BAR2 as a host would: region info, then mmap of its fd. */
static void map_table(struct tfx *f)
{
	struct vu_client_region r;
	void *p;

	assert_int_equal(vu_client_region_info(f->h.c, VNVME_TRACE_BAR, &r), 0);
	assert_true(r.size >= VNVME_TRACE_REC_OFFSET);
	assert_true(r.flags & VU_REGION_F_MMAP);
	assert_false(r.flags & VU_REGION_F_WRITE);
	assert_int_equal(vu_client_region_mmap(&r, 0, &p, &f->len), 0);
	close(r.fd);
	f->hdr = p;
	assert_int_equal(f->hdr->magic, VNVME_TRACE_MAGIC);
	assert_int_equal(f->hdr->version, VNVME_TRACE_VERSION);
	assert_int_equal(f->hdr->hdr_size, sizeof(struct vnvme_trace_hdr));
	assert_int_equal(f->hdr->rec_size, sizeof(struct vnvme_trace_rec));
	assert_int_equal(f->hdr->nr_queues, 3); /* admin + 2 */
	assert_int_equal(f->hdr->entries, 64);
	assert_int_equal(f->hdr->rec_offset, VNVME_TRACE_REC_OFFSET);
	assert_true(f->hdr->size <= f->len);
	assert_true(f->hdr->tsc_hz > 1000000);
}

static const struct vnvme_trace_rec *recs(const struct tfx *f, uint16_t sqid)
{
	return (const struct vnvme_trace_rec *)(const void *)((const uint8_t *)f->hdr +
							      f->hdr->rec_offset) +
	       (size_t)sqid * f->hdr->entries;
}

static int teardown(void **state)
{
	struct tfx *f = *state;

	if (f->hdr)
		munmap((void *)(uintptr_t)f->hdr, f->len);
	h_close(&f->h);
	vnvme_dev_destroy(f->dev);
	tenv_fini(&f->e);
	free(f);
	return 0;
}

static int setup_ram(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));

	make(f, VN_BE_RAM, true);
	map_table(f);
	*state = f;
	return 0;
}

static int setup_null(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));

	make(f, VN_BE_NULL, true);
	map_table(f);
	*state = f;
	return 0;
}

static int setup_file(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));

	make(f, VN_BE_FILE, true);
	map_table(f);
	*state = f;
	return 0;
}

static int setup_off(void **state)
{
	struct tfx *f = calloc(1, sizeof(*f));

	make(f, VN_BE_NULL, false);
	*state = f;
	return 0;
}

/* Without "trace": region 2 is absent, BAR2 and BAR3 are not implemented. */
static void test_no_trace_no_region(void **state)
{
	struct tfx *f = *state;
	struct vu_client_region r;
	uint32_t bar = 0xffffffff;

	assert_int_equal(vu_client_region_info(f->h.c, VNVME_TRACE_BAR, &r), 0);
	assert_int_equal(r.size, 0);
	assert_false(r.flags & VU_REGION_F_MMAP);
	assert_int_equal(vu_client_region_write(f->h.c, VU_PCI_CONFIG_REGION, 0x18, &bar, 4), 0);
	assert_int_equal(vu_client_region_read(f->h.c, VU_PCI_CONFIG_REGION, 0x18, &bar, 4), 0);
	assert_int_equal(bar, 0);
}

/*
 * Each command alone: host TSC before its doorbell (t0) and right after
 * its CQE was seen (t1); the record, read at once, is that command's, with
 * t0 <= fetch <= done <= post <= t1. Were the record written after the
 * CQE, the host would often find the previous use of the slot there (a
 * fetch before t0): the slots are reused every 64 commands.
 */
static void one_by_one(struct tfx *f, uint8_t opc, unsigned n)
{
	struct hq *q = &f->h.io[0];
	const struct vnvme_trace_rec *tr = recs(f, 1);
	uint8_t *buf = f->h.mem + H_DATA;

	for (unsigned i = 0; i < n; i++) {
		struct vnvme_sqe s = h_rw(opc, 1, i % 1000, 1);
		struct vnvme_trace_rec rec;
		struct vnvme_cqe cqe = {0};
		uint64_t t0, t1;
		uint16_t cid;

		s.dptr.prp1 = h_iova(&f->h, buf);
		t0 = vn_tsc();
		cid = hq_submit(q, &s);
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		t1 = vn_tsc();
		assert_int_equal(cqe.cid, cid);
		assert_true(vnvme_trace_get(tr, f->hdr->entries, 1, cid, &rec));
		assert_int_equal(rec.opc, opc);
		assert_int_equal(rec.status, 0);
		assert_int_equal(rec.flags, 0);
		assert_true(t0 <= rec.fetch);
		assert_true(rec.fetch <= rec.done && rec.done <= rec.post);
		assert_true(rec.post <= t1);
	}
}

static void test_every_command_has_its_record_when_its_cqe_is_seen(void **state)
{
	struct tfx *f = *state;

	one_by_one(f, VNVME_NVM_WRITE, 300);
	one_by_one(f, VNVME_NVM_READ, 300);
	one_by_one(f, VNVME_NVM_FLUSH, 100);
}

/* Batches of 32 behind one doorbell, and an error's status recorded. */
static void test_batches_and_errors_are_recorded(void **state)
{
	struct tfx *f = *state;
	struct hq *q = &f->h.io[0];
	const struct vnvme_trace_rec *tr = recs(f, 1);
	uint8_t *buf = f->h.mem + H_DATA;

	for (unsigned round = 0; round < 20; round++) {
		uint16_t cids[32];
		uint64_t t0 = vn_tsc(), t1;

		for (unsigned i = 0; i < 32; i++) {
			/* The last of each batch: an LBA past the end. */
			struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, i == 31 ? 1ull << 40 : i, 1);
			s.dptr.prp1 = h_iova(&f->h, buf + 512 * i);
			cids[i] = hq_queue(q, &s);
		}
		hq_ring(q);
		for (unsigned i = 0; i < 32; i++) {
			struct vnvme_trace_rec rec;
			struct vnvme_cqe cqe = {0};

			assert_int_equal(hq_reap(q, &cqe, 5000), 0);
			t1 = vn_tsc();
			assert_true(vnvme_trace_get(tr, f->hdr->entries, 1, cqe.cid, &rec));
			assert_true(t0 <= rec.fetch && rec.post <= t1);
			if (cqe.cid == cids[31])
				assert_int_equal(rec.status & 0x7ff, VNVME_SC_LBA_OUT_OF_RANGE);
			else
				assert_int_equal(rec.status, 0);
		}
	}
}

/* Admin commands have records in SQID 0; an AER completed later has no
 * fetch time (flag). */
static void test_admin_commands_are_recorded(void **state)
{
	struct tfx *f = *state;
	const struct vnvme_trace_rec *tr = recs(f, 0);
	struct vnvme_trace_rec rec;
	uint64_t t0 = vn_tsc();
	struct vnvme_sqe s = {.opc = VNVME_ADM_GET_FEATURES, .cdw10 = VNVME_FID_NUM_QUEUES};
	uint16_t cid;

	assert_sc(h_admin(&f->h, &s, NULL), 0);
	cid = s.cid;
	assert_true(vnvme_trace_get(tr, f->hdr->entries, 0, cid, &rec));
	assert_int_equal(rec.opc, VNVME_ADM_GET_FEATURES);
	assert_true(t0 <= rec.fetch && rec.post <= vn_tsc());
}

/*
 * CIDs 64 apart share a slot of a 64-entry table: with both in one batch,
 * the slot holds the one posted last, and the other is refused by its CID
 * (vnvme_trace_get), never taken for the other's.
 */
static void test_a_shared_slot_is_never_misattributed(void **state)
{
	struct tfx *f = *state;
	struct hq *q = &f->h.io[0];
	const struct vnvme_trace_rec *tr = recs(f, 1);
	uint8_t *buf = f->h.mem + H_DATA;
	struct vnvme_sqe s = h_rw(VNVME_NVM_READ, 1, 0, 1);
	struct vnvme_trace_rec rec;
	struct vnvme_cqe cqe = {0};
	uint16_t a, b, last = 0;
	unsigned ok = 0;

	s.dptr.prp1 = h_iova(&f->h, buf);
	q->cid = 5;
	a = hq_queue(q, &s);
	q->cid = 5 + 64;
	b = hq_queue(q, &s);
	hq_ring(q);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hq_reap(q, &cqe, 5000), 0);
		last = cqe.cid;
	}
	ok += vnvme_trace_get(tr, f->hdr->entries, 1, a, &rec);
	ok += vnvme_trace_get(tr, f->hdr->entries, 1, b, &rec);
	assert_int_equal(ok, 1);
	assert_true(vnvme_trace_get(tr, f->hdr->entries, 1, last, &rec));
	assert_int_equal(rec.cid, last);
	/* And another queue's record is not this one's. */
	assert_false(vnvme_trace_get(tr, f->hdr->entries, 2, last, &rec));
}

/* A client that disconnects leaves no records to the next one. */
static void test_the_next_client_finds_no_records(void **state)
{
	struct tfx *f = *state;
	const struct vnvme_trace_rec *tr;
	struct vnvme_trace_rec rec;

	one_by_one(f, VNVME_NVM_READ, 10);
	munmap((void *)(uintptr_t)f->hdr, f->len);
	f->hdr = NULL;
	h_close(&f->h);
	assert_int_equal(h_connect(&f->h, f->path), 0);
	map_table(f);
	tr = recs(f, 1);
	for (uint16_t cid = 0; cid < 64; cid++) {
		assert_false(vnvme_trace_get(tr, f->hdr->entries, 1, cid, &rec));
		assert_int_equal(rec.post, 0);
	}
	/* And the new client's commands are recorded. */
	h_enable(&f->h, 32);
	h_create_ioq(&f->h, 1, 64, false, 0);
	one_by_one(f, VNVME_NVM_READ, 10);
}

/*
 * The descriptors a client gets cannot hurt the process: the trace table's
 * is read-only (no writable shared mapping, no truncation, no hole), and
 * neither it nor BAR0's doorbell memory can change size. A truncated one
 * made the pollers' next store fault (SIGBUS) and killed every controller.
 * The commands after the attempts still run and are recorded.
 */
static void test_the_client_cannot_resize_or_write_the_device_memory(void **state)
{
	struct tfx *f = *state;
	struct vu_client_region r;
	void *p;

	assert_int_equal(vu_client_region_info(f->h.c, VNVME_TRACE_BAR, &r), 0);
	assert_true(r.fd >= 0);
	assert_true(ftruncate(r.fd, 0) < 0);
	assert_true(fallocate(r.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) < 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	assert_true(p == MAP_FAILED);
	close(r.fd);

	assert_int_equal(vu_client_region_info(f->h.c, 0, &r), 0);
	assert_true(r.fd >= 0);
	assert_true(ftruncate(r.fd, 0) < 0);
	assert_int_equal(errno, EPERM); /* sealed */
	assert_true(ftruncate(r.fd, (off_t)r.size * 2) < 0);
	close(r.fd);

	map_table(f);
	one_by_one(f, VNVME_NVM_READ, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_trace_no_region, setup_off, teardown),
	    cmocka_unit_test_setup_teardown(
		test_the_client_cannot_resize_or_write_the_device_memory, setup_null, teardown),
	    cmocka_unit_test_setup_teardown(test_every_command_has_its_record_when_its_cqe_is_seen,
					    setup_null, teardown),
	    cmocka_unit_test_setup_teardown(test_every_command_has_its_record_when_its_cqe_is_seen,
					    setup_ram, teardown),
	    cmocka_unit_test_setup_teardown(test_every_command_has_its_record_when_its_cqe_is_seen,
					    setup_file, teardown),
	    cmocka_unit_test_setup_teardown(test_batches_and_errors_are_recorded, setup_null,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_admin_commands_are_recorded, setup_ram, teardown),
	    cmocka_unit_test_setup_teardown(test_a_shared_slot_is_never_misattributed, setup_ram,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_the_next_client_finds_no_records, setup_null,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
