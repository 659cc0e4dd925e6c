/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../proc_field.h"
#include "backend/backend.h"

#define KiB 1024u
#define MiB (1024u * KiB)

/* Fills a buffer with bytes that differ per offset and per seed. */
static void pattern(void *buf, size_t len, uint64_t off, unsigned seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((off + i) * 131 + seed * 7 + 1);
}

static bool all_bytes(const void *buf, size_t len, uint8_t v)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static struct vn_be *create_ok(const struct vn_be_opts *o)
{
	struct vn_be *be = NULL;
	const char *err = NULL;
	int rc = vn_be_create(o, &be, &err);

	if (rc)
		fail_msg("vn_be_create: %d (%s)", rc, err ? err : "no reason");
	assert_non_null(be);
	return be;
}

static uint64_t elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Pushes and reaps until nothing is in flight; returns how many completed. */
static unsigned drain(struct vn_be_chan *ch)
{
	struct vn_be_io *done[16];
	struct timespec t0;
	unsigned total = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (vn_be_inflight(ch)) {
		assert_true(vn_be_flush(ch) >= 0);
		int n = vn_be_poll(ch, done, (int)(sizeof(done) / sizeof(done[0])));

		assert_true(n >= 0);
		total += (unsigned)n;
		if (!n) {
			if (elapsed_ms(&t0) > 30000)
				fail_msg("%u requests still in flight after 30 s",
					 vn_be_inflight(ch));
			sched_yield();
		}
	}
	return total;
}

/* One request, start to finish; returns its result. */
static int run(struct vn_be_chan *ch, uint8_t op, uint64_t off, uint64_t len, struct iovec *iov,
	       unsigned iovcnt)
{
	struct vn_be_io io = {
	    .op = op, .iovcnt = (uint8_t)iovcnt, .off = off, .len = len, .iov = iov};
	int rc;

	io.result = 12345;
	rc = vn_be_submit(ch, &io);
	assert_true(rc == 0 || rc == 1);
	if (rc == 0)
		assert_int_equal(drain(ch), 1);
	assert_int_not_equal(io.result, 12345);
	return io.result;
}

static int run1(struct vn_be_chan *ch, uint8_t op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = {buf, len};

	return run(ch, op, off, len, buf ? &iov : NULL, buf ? 1 : 0);
}

/* ---- null ---- */

static void test_null_completes_inline_and_never_touches_buffers(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_NULL, .size = (uint64_t)4 << 40};
	struct vn_be *be;
	struct vn_be_chan *ch;
	struct vn_be_io *done[4];
	uint8_t buf[4096];
	struct iovec iov = {buf, sizeof(buf)};

	(void)state;
	be = create_ok(&o);
	assert_int_equal(vn_be_size(be), (uint64_t)4 << 40);
	assert_string_equal(vn_be_name(be), "null");
	assert_true(vn_be_can_format(be));
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	for (uint8_t op = VN_BE_READ; op <= VN_BE_COMPARE; op++) {
		struct vn_be_io io = {.op = op,
				      .iovcnt = 1,
				      .off = (uint64_t)3 << 40,
				      .len = sizeof(buf),
				      .iov = &iov,
				      .result = -1};

		memset(buf, 0xa5, sizeof(buf));
		assert_int_equal(vn_be_submit(ch, &io), 1);
		assert_int_equal(io.result, 0);
		assert_true(all_bytes(buf, sizeof(buf), 0xa5));
	}
	assert_int_equal(vn_be_inflight(ch), 0);
	assert_int_equal(vn_be_flush(ch), 0);
	assert_int_equal(vn_be_poll(ch, done, 4), 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_null_takes_sizes_up_to_2_pow_63(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_NULL, .size = UINT64_C(1) << 63};
	struct vn_be *be;
	const char *err = NULL;

	(void)state;
	vn_be_destroy(create_ok(&o));
	o.size++;
	assert_int_equal(vn_be_create(&o, &be, &err), -EINVAL);
	assert_non_null(err);
	assert_null(be);
}

/* ---- ram ---- */

static void test_ram_reads_back_writes_across_iovecs_at_unaligned_offsets(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = MiB};
	uint8_t w[5173], r[5173];
	struct vn_be_chan *ch;
	struct vn_be *be;

	(void)state;
	be = create_ok(&o);
	assert_string_equal(vn_be_name(be), "ram");
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 4093, 1);
	struct iovec wv[3] = {{w, 1000}, {w + 1000, 4096}, {w + 5096, 77}};
	assert_int_equal(run(ch, VN_BE_WRITE, 4093, sizeof(w), wv, 3), 0);
	/* Split differently on the way back. */
	memset(r, 0, sizeof(r));
	struct iovec rv[2] = {{r, 2000}, {r + 2000, 3173}};
	assert_int_equal(run(ch, VN_BE_READ, 4093, sizeof(r), rv, 2), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* Around it, still zeroes; the last byte of the namespace is reachable. */
	assert_int_equal(run1(ch, VN_BE_READ, 4093 - 100, r, 100), 0);
	assert_true(all_bytes(r, 100, 0));
	assert_int_equal(run1(ch, VN_BE_WRITE, MiB - 1, w, 1), 0);
	assert_int_equal(run1(ch, VN_BE_READ, MiB - 1, r, 1), 0);
	assert_int_equal(r[0], w[0]);
	assert_int_equal(run1(ch, VN_BE_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(vn_be_inflight(ch), 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_ram_write_zeroes_and_discard_read_back_zeroes(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = 256 * KiB};
	static uint8_t buf[256 * KiB];
	struct vn_be_chan *ch;
	struct vn_be *be;

	(void)state;
	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(run1(ch, VN_BE_WRITE, 0, buf, sizeof(buf)), 0);
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 100, 5000, NULL, 0), 0);
	/* Unaligned at both ends, with whole pages in between to punch. */
	assert_int_equal(run(ch, VN_BE_DISCARD, 8 * KiB + 7, 64 * KiB, NULL, 0), 0);
	/* Inside one page: no whole page to punch. */
	assert_int_equal(run(ch, VN_BE_DISCARD, 200 * KiB + 1, 10, NULL, 0), 0);
	assert_int_equal(run1(ch, VN_BE_READ, 0, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 100, 0xff));
	assert_true(all_bytes(buf + 100, 5000, 0));
	assert_true(all_bytes(buf + 5100, 8 * KiB + 7 - 5100, 0xff));
	assert_true(all_bytes(buf + 8 * KiB + 7, 64 * KiB, 0));
	assert_true(all_bytes(buf + 72 * KiB + 7, 200 * KiB + 1 - (72 * KiB + 7), 0xff));
	assert_true(all_bytes(buf + 200 * KiB + 1, 10, 0));
	assert_true(all_bytes(buf + 200 * KiB + 11, 56 * KiB - 11, 0xff));
	/* Punched pages take writes again. */
	memset(buf, 0x5a, 4 * KiB);
	assert_int_equal(run1(ch, VN_BE_WRITE, 16 * KiB, buf, 4 * KiB), 0);
	memset(buf, 0, 4 * KiB);
	assert_int_equal(run1(ch, VN_BE_READ, 16 * KiB, buf, 4 * KiB), 0);
	assert_true(all_bytes(buf, 4 * KiB, 0x5a));
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_ram_compare_matches_and_reports_a_mismatch_as_eilseq(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = 64 * KiB};
	uint8_t w[6000], c[6000];
	struct vn_be_chan *ch;
	struct vn_be *be;

	(void)state;
	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 0, 2);
	assert_int_equal(run1(ch, VN_BE_WRITE, 333, w, sizeof(w)), 0);
	memcpy(c, w, sizeof(c));
	struct iovec cv[2] = {{c, 4000}, {c + 4000, 2000}};
	assert_int_equal(run(ch, VN_BE_COMPARE, 333, sizeof(c), cv, 2), 0);
	c[5999] ^= 1;
	assert_int_equal(run(ch, VN_BE_COMPARE, 333, sizeof(c), cv, 2), -EILSEQ);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_ram_refuses_bad_ranges_and_iovecs(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = 64 * KiB};
	struct vn_be_chan *ch;
	struct vn_be *be;
	uint8_t buf[512];
	struct iovec iov = {buf, sizeof(buf)};

	(void)state;
	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	struct vn_be_io past = {
	    .op = VN_BE_READ, .iovcnt = 1, .off = 64 * KiB - 511, .len = 512, .iov = &iov};
	assert_int_equal(vn_be_submit(ch, &past), -ERANGE);
	struct vn_be_io wrap = {.op = VN_BE_WRITE_ZEROES, .off = UINT64_MAX - 10, .len = 512};
	assert_int_equal(vn_be_submit(ch, &wrap), -ERANGE);
	/* The iovecs must add up to len. */
	struct vn_be_io shortv = {
	    .op = VN_BE_WRITE, .iovcnt = 1, .off = 0, .len = 1024, .iov = &iov};
	assert_int_equal(vn_be_submit(ch, &shortv), -EINVAL);
	struct vn_be_io many = {
	    .op = VN_BE_READ, .iovcnt = VN_BE_MAX_IOV + 1, .len = 512, .iov = &iov};
	assert_int_equal(vn_be_submit(ch, &many), -EINVAL);
	struct vn_be_io badop = {.op = 42, .len = 0};
	assert_int_equal(vn_be_submit(ch, &badop), -EINVAL);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static unsigned long read_ulong(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* A write at the end of the namespace reads back. */
static void round_trip(struct vn_be *be)
{
	struct vn_be_chan *ch;
	uint8_t w[512], r[512];
	uint64_t end = vn_be_size(be);

	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 0, 9);
	assert_int_equal(run1(ch, VN_BE_WRITE, end - sizeof(w), w, sizeof(w)), 0);
	assert_int_equal(run1(ch, VN_BE_READ, end - sizeof(r), r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(w));
	vn_be_chan_close(ch);
}

static unsigned long huge_free_now(void)
{
	return proc_field("/proc/meminfo", "HugePages_Free:");
}

/*
 * By default a ram namespace is on 2 MiB hugepages when enough are free,
 * and on 4 KiB pages (never a failure) when not: a namespace larger than
 * the free pool takes 4 KiB pages; so does one with no_hugepages. Whichever
 * it gets, the data is there.
 */
static void test_ram_takes_hugepages_by_default_and_falls_back(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = 4 * MiB};
	unsigned long free0 = huge_free_now();
	unsigned long own0 = proc_field("/proc/self/status", "HugetlbPages:"); /* KiB */
	struct vn_be *be = NULL;
	const char *err = NULL;

	(void)state;
	assert_int_equal(vn_be_create(&o, &be, &err), 0);
	print_message("# %lu hugepages free: 4 MiB namespace on %s pages\n", free0,
		      vn_be_hugepages(be) ? "2 MiB" : "4 KiB");
	if (free0 >= 2 + 8) /* room to spare for tests running beside */
		assert_true(vn_be_hugepages(be));
	else if (free0 < 2)
		assert_false(vn_be_hugepages(be));
	/* This process's own hugepages (HugetlbPages), not the pool's free
	 * count: tests running beside take and give back pages meanwhile. */
	if (vn_be_hugepages(be)) {
		unsigned long own = proc_field("/proc/self/status", "HugetlbPages:");

		if (!own0 && !own) /* before Linux 4.5: no such field */
			print_message("# no HugetlbPages in /proc/self/status: not counted\n");
		else
			assert_true(own >= own0 + 4096);
	}
	round_trip(be);
	vn_be_destroy(be);

	/* More than the pool holds: 4 KiB pages, no failure. */
	o.size = ((uint64_t)huge_free_now() + 1) * 2 * MiB;
	if (o.size <= 256 * MiB) {
		assert_int_equal(vn_be_create(&o, &be, &err), 0);
		assert_false(vn_be_hugepages(be));
		round_trip(be);
		vn_be_destroy(be);
	} else {
		print_message("# %lu hugepages free: the larger-than-the-pool case needs too much "
			      "memory here, left out\n",
			      huge_free_now());
	}

	o = (struct vn_be_opts){.type = VN_BE_RAM, .size = 4 * MiB, .no_hugepages = true};
	assert_int_equal(vn_be_create(&o, &be, &err), 0);
	assert_false(vn_be_hugepages(be));
	vn_be_destroy(be);

	o.hugepages = true;
	assert_int_equal(vn_be_create(&o, &be, &err), -EINVAL);
	assert_non_null(strstr(err, "exclude"));
}

static void test_ram_hugepages_fail_clearly_when_none_are_reserved(void **state)
{
	/* 3 MiB: not a multiple of 2 MiB, the memory is rounded up to 4 MiB. */
	struct vn_be_opts o = {.type = VN_BE_RAM, .size = 3 * MiB, .hugepages = true};
	unsigned long nr = read_ulong("/proc/sys/vm/nr_hugepages");
	unsigned long over = read_ulong("/proc/sys/vm/nr_overcommit_hugepages");
	struct vn_be *be = NULL;
	const char *err = NULL;
	int rc;

	(void)state;
	rc = vn_be_create(&o, &be, &err);
	print_message("# nr_hugepages %lu, overcommit %lu: create %d (%s)\n", nr, over, rc,
		      err ? err : "ok");
	if (rc == 0) {
		/* Hugepages were there after all: the namespace keeps its size. */
		struct vn_be_chan *ch;
		uint8_t w[100], r[100];

		assert_true(nr > 0 || over > 0);
		assert_int_equal(vn_be_size(be), 3 * MiB);
		assert_int_equal(vn_be_chan_open(be, &ch), 0);
		pattern(w, sizeof(w), 0, 3);
		assert_int_equal(run1(ch, VN_BE_WRITE, 3 * MiB - 100, w, sizeof(w)), 0);
		assert_int_equal(run1(ch, VN_BE_READ, 3 * MiB - 100, r, sizeof(r)), 0);
		assert_memory_equal(r, w, sizeof(w));
		assert_int_equal(run(ch, VN_BE_DISCARD, 0, 3 * MiB, NULL, 0), 0);
		assert_int_equal(run1(ch, VN_BE_READ, 3 * MiB - 100, r, sizeof(r)), 0);
		assert_true(all_bytes(r, sizeof(r), 0));
		vn_be_chan_close(ch);
		vn_be_destroy(be);
		return;
	}
	assert_true(rc < 0);
	assert_null(be);
	assert_non_null(err);
	/* With hugetlb in the kernel, the failure is the reservation: say how to fix it. */
	if (rc == -ENOMEM) {
		assert_non_null(strstr(err, "/proc/sys/vm/nr_hugepages"));
	} else {
		assert_non_null(strstr(err, "hugetlb"));
	}
	if (nr == 0 && over == 0)
		assert_int_equal(rc, -ENOMEM);
}

/* ---- create errors ---- */

struct tmp {
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
};

static int tmp_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/vnvme-be-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/disk", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void expect_create_error(const struct vn_be_opts *o, int want)
{
	struct vn_be *be = (struct vn_be *)(uintptr_t)1;
	const char *err = NULL;

	assert_int_equal(vn_be_create(o, &be, &err), want);
	assert_null(be);
	assert_non_null(err);
	print_message("# %s\n", err);
}

static void test_create_errors_return_errno_and_a_reason(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o;
	int fd;

	o = (struct vn_be_opts){.type = VN_BE_NULL, .size = 0};
	expect_create_error(&o, -EINVAL);
	o = (struct vn_be_opts){.type = VN_BE_RAM, .size = 0};
	expect_create_error(&o, -EINVAL);
	o = (struct vn_be_opts){.type = (enum vn_be_type)7, .size = 4096};
	expect_create_error(&o, -EINVAL);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .size = 4096};
	expect_create_error(&o, -EINVAL);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .size = 4096, .path = ""};
	expect_create_error(&o, -EINVAL);
	/* Without a size, a missing file is not created. */
	o = (struct vn_be_opts){.type = VN_BE_FILE, .path = t->path};
	expect_create_error(&o, -ENOENT);
	assert_int_equal(access(t->path, F_OK), -1);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .path = t->dir};
	expect_create_error(&o, -EISDIR);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .path = t->dir, .size = 4096};
	expect_create_error(&o, -EISDIR);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .path = "/dev/null"};
	expect_create_error(&o, -EINVAL);
	/* An empty file and no size: nothing to export. */
	fd = open(t->path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	o = (struct vn_be_opts){.type = VN_BE_FILE, .path = t->path};
	expect_create_error(&o, -EINVAL);
	o = (struct vn_be_opts){
	    .type = VN_BE_FILE, .path = t->path, .size = 4096, .qdepth = 1u << 20};
	expect_create_error(&o, -EINVAL);
}

/* ---- file ---- */

static void test_file_is_created_or_extended_to_the_size_given(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB};
	mode_t um = umask(022);
	struct stat st;
	struct vn_be *be;

	be = create_ok(&o);
	umask(um);
	assert_string_equal(vn_be_name(be), "file");
	assert_true(vn_be_can_format(be));
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, MiB);
	assert_int_equal(st.st_mode & 0777, 0644);
	vn_be_destroy(be);
	/* No size: the file's. */
	o.size = 0;
	be = create_ok(&o);
	assert_int_equal(vn_be_size(be), MiB);
	vn_be_destroy(be);
	/* Larger: grown. Smaller: a prefix, the file untouched. */
	o.size = 3 * MiB;
	vn_be_destroy(create_ok(&o));
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, 3 * MiB);
	o.size = MiB;
	be = create_ok(&o);
	assert_int_equal(vn_be_size(be), MiB);
	vn_be_destroy(be);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, 3 * MiB);
}

static void test_file_reads_back_writes_through_io_uring(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB, .qdepth = 8};
	uint8_t w[10000], r[10000];
	struct vn_be_chan *ch;
	struct vn_be *be;
	struct vn_be_io *done[2];

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 777, 4);
	struct iovec wv[4] = {{w, 1}, {w + 1, 4095}, {w + 4096, 5000}, {w + 9096, 904}};
	/* Queued, not yet in the kernel: nothing can complete before the flush. */
	struct vn_be_io io = {
	    .op = VN_BE_WRITE, .iovcnt = 4, .off = 777, .len = sizeof(w), .iov = wv};
	assert_int_equal(vn_be_submit(ch, &io), 0);
	assert_int_equal(vn_be_inflight(ch), 1);
	assert_int_equal(vn_be_poll(ch, done, 2), 0);
	assert_int_equal(vn_be_flush(ch), 1);
	assert_int_equal(vn_be_flush(ch), 0); /* nothing new */
	assert_int_equal(drain(ch), 1);
	assert_int_equal(io.result, 0);
	/* One iovec takes IORING_OP_READ, several readv. */
	assert_int_equal(run1(ch, VN_BE_READ, 777, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(w));
	memset(r, 0, sizeof(r));
	struct iovec rv[3] = {{r, 3}, {r + 3, 9000}, {r + 9003, 997}};
	assert_int_equal(run(ch, VN_BE_READ, 777, sizeof(r), rv, 3), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* A single-iovec write as well. */
	assert_int_equal(run1(ch, VN_BE_WRITE, MiB - 10, w, 10), 0);
	assert_int_equal(run1(ch, VN_BE_READ, MiB - 10, r, 10), 0);
	assert_memory_equal(r, w, 10);
	assert_int_equal(run1(ch, VN_BE_FLUSH, 0, NULL, 0), 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_file_keeps_64_requests_in_flight(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB, .qdepth = 64};
	static uint8_t w[64][4096], r[64][4096];
	struct vn_be_io ios[64], extra = {.op = VN_BE_FLUSH};
	struct iovec iov[64];
	struct vn_be_chan *ch;
	struct vn_be *be;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	for (unsigned i = 0; i < 64; i++) {
		pattern(w[i], sizeof(w[i]), i, 5);
		iov[i] = (struct iovec){w[i], sizeof(w[i])};
		/* Every other page, backwards, so nothing is sequential. */
		ios[i] = (struct vn_be_io){.op = VN_BE_WRITE,
					   .iovcnt = 1,
					   .off = (uint64_t)(63 - i) * 8192,
					   .len = 4096,
					   .iov = &iov[i],
					   .result = 1};
		assert_int_equal(vn_be_submit(ch, &ios[i]), 0);
	}
	assert_int_equal(vn_be_inflight(ch), 64);
	/* qdepth reached: accepted all the same, it waits for room (back-pressure). */
	extra.result = 1;
	assert_int_equal(vn_be_submit(ch, &extra), 0);
	assert_int_equal(vn_be_inflight(ch), 65);
	assert_int_equal(drain(ch), 65);
	assert_int_equal(extra.result, 0);
	for (unsigned i = 0; i < 64; i++) {
		assert_int_equal(ios[i].result, 0);
		iov[i] = (struct iovec){r[i], sizeof(r[i])};
		ios[i].op = VN_BE_READ;
		ios[i].result = 1;
		assert_int_equal(vn_be_submit(ch, &ios[i]), 0);
	}
	/* Reap in small batches: poll honours max. */
	struct vn_be_io *done[5];
	unsigned seen = 0;
	while (vn_be_inflight(ch)) {
		assert_true(vn_be_flush(ch) >= 0);
		int n = vn_be_poll(ch, done, 5);
		assert_true(n >= 0 && n <= 5);
		for (int k = 0; k < n; k++)
			assert_int_equal(done[k]->result, 0);
		seen += (unsigned)n;
		if (!n)
			sched_yield();
	}
	assert_int_equal(seen, 64);
	for (unsigned i = 0; i < 64; i++)
		assert_memory_equal(r[i], w[i], 4096);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void zeroes_read_back_zeroes(const char *path)
{
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = path, .size = 256 * KiB};
	static uint8_t buf[256 * KiB];
	struct vn_be_chan *ch;
	struct vn_be *be;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(run1(ch, VN_BE_WRITE, 0, buf, sizeof(buf)), 0);
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 4 * KiB, 28 * KiB, NULL, 0), 0);
	assert_int_equal(run(ch, VN_BE_DISCARD, 64 * KiB, 64 * KiB, NULL, 0), 0);
	/* Unaligned: the file system zeroes the partial blocks. */
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 150 * KiB + 1, 5000, NULL, 0), 0);
	assert_int_equal(run(ch, VN_BE_DISCARD, 200 * KiB + 3, 9000, NULL, 0), 0);
	assert_int_equal(run(ch, VN_BE_DISCARD, 0, 0, NULL, 0), 0);
	/* Again, now that any unsupported mode is known. */
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 240 * KiB, 4 * KiB, NULL, 0), 0);
	assert_int_equal(run1(ch, VN_BE_READ, 0, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 4 * KiB, 0xff));
	assert_true(all_bytes(buf + 4 * KiB, 28 * KiB, 0));
	assert_true(all_bytes(buf + 32 * KiB, 32 * KiB, 0xff));
	assert_true(all_bytes(buf + 64 * KiB, 64 * KiB, 0));
	assert_true(all_bytes(buf + 128 * KiB, 22 * KiB + 1, 0xff));
	assert_true(all_bytes(buf + 150 * KiB + 1, 5000, 0));
	assert_true(all_bytes(buf + 150 * KiB + 5001, 50 * KiB + 3 - 5001, 0xff));
	assert_true(all_bytes(buf + 200 * KiB + 3, 9000, 0));
	assert_true(all_bytes(buf + 200 * KiB + 9003, 36 * KiB - 9003, 0xff));
	assert_true(all_bytes(buf + 240 * KiB, 4 * KiB, 0));
	assert_true(all_bytes(buf + 244 * KiB, 12 * KiB, 0xff));
	vn_be_chan_close(ch);
	vn_be_destroy(be);
	unlink(path);
}

static void test_file_discard_and_write_zeroes_read_back_zeroes(void **state)
{
	struct tmp *t = *state;

	zeroes_read_back_zeroes(t->path);
}

static void test_file_zeroes_fall_back_to_punch_hole_on_tmpfs(void **state)
{
	char path[64];
	struct statfs sfs;

	(void)state;
	/* tmpfs has PUNCH_HOLE but no ZERO_RANGE: WRITE_ZEROES must take the other mode. */
	if (statfs("/dev/shm", &sfs) || sfs.f_type != 0x01021994 /* TMPFS_MAGIC */)
		skip();
	snprintf(path, sizeof(path), "/dev/shm/vnvme-be-%d", (int)getpid());
	zeroes_read_back_zeroes(path);
}

static void test_file_compare_matches_mismatches_and_limits_itself(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = 4 * MiB};
	static uint8_t w[8192], c[8192], big[2 * MiB + 512];
	struct vn_be_io ios[5];
	struct iovec iov[5];
	struct vn_be_chan *ch;
	struct vn_be *be;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 0, 6);
	assert_int_equal(run1(ch, VN_BE_WRITE, 4096, w, sizeof(w)), 0);
	memcpy(c, w, sizeof(c));
	struct iovec cv[2] = {{c, 100}, {c + 100, 8092}};
	assert_int_equal(run(ch, VN_BE_COMPARE, 4096, sizeof(c), cv, 2), 0);
	c[0] ^= 0x80;
	assert_int_equal(run(ch, VN_BE_COMPARE, 4096, sizeof(c), cv, 2), -EILSEQ);
	c[0] ^= 0x80;
	c[8191] ^= 0x01;
	assert_int_equal(run(ch, VN_BE_COMPARE, 4096, sizeof(c), cv, 2), -EILSEQ);
	/* Larger than a bounce buffer: refused, not truncated. */
	struct vn_be_io bigio = {.op = VN_BE_COMPARE,
				 .iovcnt = 1,
				 .len = sizeof(big),
				 .iov = &(struct iovec){big, sizeof(big)}};
	assert_int_equal(vn_be_submit(ch, &bigio), -E2BIG);
	/* Four compares in flight at once; the fifth waits for a slot, accepted. */
	for (unsigned i = 0; i < 5; i++) {
		iov[i] = (struct iovec){w, sizeof(w)};
		ios[i] = (struct vn_be_io){.op = VN_BE_COMPARE,
					   .iovcnt = 1,
					   .off = 4096,
					   .len = sizeof(w),
					   .iov = &iov[i],
					   .result = 1};
	}
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(vn_be_submit(ch, &ios[i]), 0);
	assert_int_equal(drain(ch), 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(ios[i].result, 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_file_reports_a_short_read_as_eio(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = 64 * KiB};
	uint8_t buf[8192];
	struct vn_be_chan *ch;
	struct vn_be *be;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	/* Someone truncates the file behind the backend's back. */
	assert_int_equal(truncate(t->path, 60 * KiB), 0);
	assert_int_equal(run1(ch, VN_BE_READ, 56 * KiB, buf, sizeof(buf)), -EIO);
	assert_int_equal(run1(ch, VN_BE_READ, 60 * KiB, buf, 4096), -EIO);
	assert_int_equal(run1(ch, VN_BE_COMPARE, 56 * KiB, buf, sizeof(buf)), -EIO);
	assert_int_equal(run1(ch, VN_BE_READ, 52 * KiB, buf, sizeof(buf)), 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_file_opens_with_o_direct_when_the_file_system_supports_it(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB, .direct = true};
	struct vn_be *be = NULL;
	struct vn_be_chan *ch;
	const char *err = NULL;
	uint8_t *w = NULL, *r = NULL;
	int rc;

	rc = vn_be_create(&o, &be, &err);
	if (rc == -EINVAL) {
		print_message("# %s\n", err);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(posix_memalign((void **)&w, 4096, 64 * KiB), 0);
	assert_int_equal(posix_memalign((void **)&r, 4096, 64 * KiB), 0);
	pattern(w, 64 * KiB, 0, 7);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	struct iovec wv[2] = {{w, 16 * KiB}, {w + 16 * KiB, 48 * KiB}};
	assert_int_equal(run(ch, VN_BE_WRITE, 128 * KiB, 64 * KiB, wv, 2), 0);
	assert_int_equal(run1(ch, VN_BE_READ, 128 * KiB, r, 64 * KiB), 0);
	assert_memory_equal(r, w, 64 * KiB);
	assert_int_equal(run1(ch, VN_BE_COMPARE, 128 * KiB, w, 64 * KiB), 0);
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 128 * KiB, 4 * KiB, NULL, 0), 0);
	assert_int_equal(run1(ch, VN_BE_READ, 128 * KiB, r, 8 * KiB), 0);
	assert_true(all_bytes(r, 4 * KiB, 0));
	assert_memory_equal(r + 4 * KiB, w + 4 * KiB, 4 * KiB);
	assert_int_equal(run1(ch, VN_BE_FLUSH, 0, NULL, 0), 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
	free(w);
	free(r);
}

static void test_file_data_is_in_the_file_once_flush_completes(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB};
	uint8_t w[12288], r[12288];
	struct vn_be_io wio, fio = {.op = VN_BE_FLUSH};
	struct vn_be_chan *ch;
	struct vn_be *be;
	int fd;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	pattern(w, sizeof(w), 0, 8);
	struct iovec wv[2] = {{w, 4096}, {w + 4096, 8192}};
	wio = (struct vn_be_io){
	    .op = VN_BE_WRITE, .iovcnt = 2, .off = 40960, .len = sizeof(w), .iov = wv, .result = 1};
	assert_int_equal(vn_be_submit(ch, &wio), 0);
	assert_int_equal(drain(ch), 1);
	assert_int_equal(wio.result, 0);
	fio.result = 1;
	assert_int_equal(vn_be_submit(ch, &fio), 0);
	assert_int_equal(drain(ch), 1);
	assert_int_equal(fio.result, 0);
	fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, sizeof(r), 40960), (ssize_t)sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	close(fd);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

/*
 * cachestat(2) (Linux 6.5): the page cache's state of a file range. Dirty
 * pages are what a power cut would lose: written to the cache, not yet to
 * the file's storage. -1 where the kernel lacks it.
 */
struct vn_cachestat_range {
	uint64_t off, len;
};
struct vn_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static int cachestat_dirty(const char *path, uint64_t off, uint64_t len, uint64_t *dirty)
{
	struct vn_cachestat_range r = {off, len};
	struct vn_cachestat cs = {0};
	int fd = open(path, O_RDONLY), rc;

	assert_true(fd >= 0);
	rc = (int)syscall(451 /* __NR_cachestat */, fd, &r, &cs, 0);
	close(fd);
	*dirty = cs.nr_dirty + cs.nr_writeback;
	return rc;
}

/*
 * VN_BE_FUA: a write is in the file's storage when it completes (RWF_DSYNC:
 * no page of it dirty in the cache), a write zeroes or discard is followed
 * by an fdatasync before it completes; without the flag neither happens.
 */
static void test_file_fua_requests_are_durable_when_they_complete(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB};
	struct vn_be_chan_stats st;
	struct vn_be_chan *ch;
	struct vn_be *be;
	uint8_t *w = malloc(64 * KiB), *r = malloc(64 * KiB);
	struct iovec wv = {w, 64 * KiB};
	uint64_t dirty;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	assert_true(vn_be_volatile_cache(be));
	pattern(w, 64 * KiB, 0, 9);
	/* Plain: no RWF_DSYNC. */
	assert_int_equal(run(ch, VN_BE_WRITE, 0, 64 * KiB, &wv, 1), 0);
	vn_be_chan_stats(ch, &st);
	assert_int_equal(st.dsync_writes, 0);
	/* FUA: RWF_DSYNC, and nothing of it is left dirty. */
	struct vn_be_io io = {.op = VN_BE_WRITE,
			      .flags = VN_BE_FUA,
			      .iovcnt = 1,
			      .off = 256 * KiB,
			      .len = 64 * KiB,
			      .iov = &wv,
			      .result = 1};
	assert_int_equal(vn_be_submit(ch, &io), 0);
	assert_int_equal(drain(ch), 1);
	assert_int_equal(io.result, 0);
	vn_be_chan_stats(ch, &st);
	assert_int_equal(st.dsync_writes, 1);
	if (cachestat_dirty(t->path, 256 * KiB, 64 * KiB, &dirty) == 0)
		assert_int_equal(dirty, 0);
	else
		print_message("cachestat(2) unavailable: the page cache is not checked\n");
	/* Write zeroes and discard with FUA: an fdatasync each, data zero. */
	for (int op = VN_BE_WRITE_ZEROES; op <= VN_BE_DISCARD; op++) {
		io = (struct vn_be_io){.op = (uint8_t)op,
				       .flags = VN_BE_FUA,
				       .off = 256 * KiB + (op == VN_BE_DISCARD ? 32 * KiB : 0),
				       .len = 32 * KiB,
				       .result = 1};
		assert_int_equal(vn_be_submit(ch, &io), 0);
		assert_int_equal(drain(ch), 1);
		assert_int_equal(io.result, 0);
	}
	vn_be_chan_stats(ch, &st);
	assert_int_equal(st.syncs, 2);
	assert_int_equal(run1(ch, VN_BE_READ, 256 * KiB, r, 64 * KiB), 0);
	assert_true(all_bytes(r, 64 * KiB, 0));
	/* Without FUA: no fdatasync. */
	assert_int_equal(run(ch, VN_BE_WRITE_ZEROES, 512 * KiB, 4 * KiB, NULL, 0), 0);
	vn_be_chan_stats(ch, &st);
	assert_int_equal(st.syncs, 2);
	/* Flush: everything written before is clean. */
	assert_int_equal(run1(ch, VN_BE_FLUSH, 0, NULL, 0), 0);
	vn_be_chan_stats(ch, &st);
	assert_int_equal(st.syncs, 3);
	if (cachestat_dirty(t->path, 0, MiB, &dirty) == 0)
		assert_int_equal(dirty, 0);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
	free(w);
	free(r);
}

/* null and ram: no cache between a request and the medium. */
static void test_null_and_ram_have_no_volatile_cache(void **state)
{
	struct vn_be_opts o = {.type = VN_BE_NULL, .size = MiB};
	struct vn_be *be = create_ok(&o);

	(void)state;
	assert_false(vn_be_volatile_cache(be));
	vn_be_destroy(be);
	o.type = VN_BE_RAM;
	be = create_ok(&o);
	assert_false(vn_be_volatile_cache(be));
	vn_be_destroy(be);
}

static void test_file_refuses_requests_past_the_end(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = 64 * KiB};
	struct vn_be_chan *ch;
	struct vn_be *be;
	uint8_t buf[512];
	struct iovec iov = {buf, sizeof(buf)};
	struct stat st;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	struct vn_be_io io = {
	    .op = VN_BE_WRITE, .iovcnt = 1, .off = 64 * KiB, .len = 512, .iov = &iov};
	assert_int_equal(vn_be_submit(ch, &io), -ERANGE);
	io.op = VN_BE_WRITE_ZEROES;
	io.off = 60 * KiB;
	io.len = 8 * KiB;
	assert_int_equal(vn_be_submit(ch, &io), -ERANGE);
	assert_int_equal(vn_be_inflight(ch), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_size, 64 * KiB);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

static void test_file_channel_close_waits_for_requests_in_flight(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB};
	static uint8_t w[8][4096], r[4096];
	struct vn_be_io ios[8];
	struct iovec iov[8];
	struct vn_be_chan *ch;
	struct vn_be *be;
	int fd;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	for (unsigned i = 0; i < 8; i++) {
		pattern(w[i], sizeof(w[i]), i, 9);
		iov[i] = (struct iovec){w[i], sizeof(w[i])};
		ios[i] = (struct vn_be_io){.op = VN_BE_WRITE,
					   .iovcnt = 1,
					   .off = i * 4096ull,
					   .len = 4096,
					   .iov = &iov[i]};
		assert_int_equal(vn_be_submit(ch, &ios[i]), 0);
	}
	/* Neither flushed nor reaped: close pushes them and waits (and logs an error). */
	vn_be_chan_close(ch);
	fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(pread(fd, r, sizeof(r), i * 4096), (ssize_t)sizeof(r));
		assert_memory_equal(r, w[i], sizeof(r));
	}
	close(fd);
	vn_be_destroy(be);
}

/*
 * Far more requests than the io_uring takes (qdepth 4): every one is
 * accepted and completes, writes and flushes alike, none fails for want of
 * room (the controller would have failed the command with Internal Error).
 */
static void test_file_accepts_requests_beyond_its_ring_and_completes_them_all(void **state)
{
	struct tmp *t = *state;
	struct vn_be_opts o = {.type = VN_BE_FILE, .path = t->path, .size = MiB, .qdepth = 4};
	enum { N = 200 };
	static uint8_t w[N][512], r[512];
	static struct vn_be_io ios[N];
	static struct iovec iov[N];
	struct vn_be_chan *ch;
	struct vn_be *be;
	int fd;

	be = create_ok(&o);
	assert_int_equal(vn_be_chan_open(be, &ch), 0);
	for (unsigned i = 0; i < N; i++) {
		pattern(w[i], sizeof(w[i]), i, 11);
		iov[i] = (struct iovec){w[i], sizeof(w[i])};
		/* Every fifth a flush, the others writes. */
		ios[i] = (struct vn_be_io){.op = i % 5 == 4 ? VN_BE_FLUSH : VN_BE_WRITE,
					   .iovcnt = i % 5 == 4 ? 0 : 1,
					   .off = i * 512ull,
					   .len = i % 5 == 4 ? 0 : 512,
					   .iov = &iov[i],
					   .result = 1};
		assert_int_equal(vn_be_submit(ch, &ios[i]), 0);
	}
	assert_int_equal(vn_be_inflight(ch), N);
	assert_int_equal(drain(ch), N);
	fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(ios[i].result, 0);
		if (i % 5 == 4)
			continue;
		assert_int_equal(pread(fd, r, sizeof(r), i * 512), (ssize_t)sizeof(r));
		assert_memory_equal(r, w[i], sizeof(r));
	}
	close(fd);
	vn_be_chan_close(ch);
	vn_be_destroy(be);
}

#define FILE_TEST(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_null_completes_inline_and_never_touches_buffers),
	    cmocka_unit_test(test_null_takes_sizes_up_to_2_pow_63),
	    cmocka_unit_test(test_ram_reads_back_writes_across_iovecs_at_unaligned_offsets),
	    cmocka_unit_test(test_ram_write_zeroes_and_discard_read_back_zeroes),
	    cmocka_unit_test(test_ram_compare_matches_and_reports_a_mismatch_as_eilseq),
	    cmocka_unit_test(test_ram_refuses_bad_ranges_and_iovecs),
	    cmocka_unit_test(test_ram_hugepages_fail_clearly_when_none_are_reserved),
	    cmocka_unit_test(test_ram_takes_hugepages_by_default_and_falls_back),
	    FILE_TEST(test_create_errors_return_errno_and_a_reason),
	    FILE_TEST(test_file_is_created_or_extended_to_the_size_given),
	    FILE_TEST(test_file_reads_back_writes_through_io_uring),
	    FILE_TEST(test_file_keeps_64_requests_in_flight),
	    FILE_TEST(test_file_accepts_requests_beyond_its_ring_and_completes_them_all),
	    FILE_TEST(test_file_discard_and_write_zeroes_read_back_zeroes),
	    cmocka_unit_test(test_file_zeroes_fall_back_to_punch_hole_on_tmpfs),
	    FILE_TEST(test_file_compare_matches_mismatches_and_limits_itself),
	    FILE_TEST(test_file_reports_a_short_read_as_eio),
	    FILE_TEST(test_file_opens_with_o_direct_when_the_file_system_supports_it),
	    FILE_TEST(test_file_data_is_in_the_file_once_flush_completes),
	    FILE_TEST(test_file_fua_requests_are_durable_when_they_complete),
	    cmocka_unit_test(test_null_and_ram_have_no_volatile_cache),
	    FILE_TEST(test_file_refuses_requests_past_the_end),
	    FILE_TEST(test_file_channel_close_waits_for_requests_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
