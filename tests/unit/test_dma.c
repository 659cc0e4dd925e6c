/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/dma.h"
#include "util/qsbr.h"

#define RW (VN_DMA_READ | VN_DMA_WRITE)

static int memfd_of(size_t size)
{
	int fd = memfd_create("test-dma", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_find_translates_inside_and_fails_outside(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x4000);
	uint8_t *p, *q;

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x3000, RW, fd, 0x1000), 0);
	p = vn_dma_find(vn_dma_table_get(&d), 0x10000, 0x3000, RW);
	assert_non_null(p);
	/* Writes through the map land at file offset 0x1000. */
	p[0] = 0xab;
	uint8_t b = 0;
	assert_int_equal(pread(fd, &b, 1, 0x1000), 1);
	assert_int_equal(b, 0xab);
	q = vn_dma_find(vn_dma_table_get(&d), 0x12fff, 1, VN_DMA_READ);
	assert_ptr_equal(q, p + 0x2fff);
	/* One byte past either end, and a range that straddles the end. */
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0xffff, 1, VN_DMA_READ));
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x13000, 1, VN_DMA_READ));
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x12fff, 2, VN_DMA_READ));
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x10000, UINT64_MAX, VN_DMA_READ));
	vn_dma_fini(&d);
	close(fd);
}

static void test_add_rejects_overlaps_but_takes_neighbours(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x10000);

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x2000, RW, fd, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x11000, 0x1000, RW, fd, 0), -EEXIST); /* inside */
	assert_int_equal(vn_dma_add(&d, 0xf000, 0x2000, RW, fd, 0), -EEXIST);  /* start */
	assert_int_equal(vn_dma_add(&d, 0x11fff, 0x2000, RW, fd, 0), -EEXIST); /* end */
	assert_int_equal(vn_dma_add(&d, 0x0, 0x100000, RW, -1, 0), -EEXIST);   /* around */
	assert_int_equal(vn_dma_add(&d, 0x12000, 0x1000, RW, fd, 0x2000), 0);  /* after */
	assert_int_equal(vn_dma_add(&d, 0xf000, 0x1000, RW, fd, 0x3000), 0);   /* before */
	assert_int_equal(vn_dma_table_get(&d)->nr, 3);
	/* Sorted: lookups find each. */
	assert_non_null(vn_dma_find(vn_dma_table_get(&d), 0xf800, 8, RW));
	assert_non_null(vn_dma_find(vn_dma_table_get(&d), 0x11800, 8, RW));
	assert_non_null(vn_dma_find(vn_dma_table_get(&d), 0x12800, 8, RW));
	/* A range across two adjacent maps is not one mapping. */
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x11ff8, 16, RW));
	vn_dma_fini(&d);
	close(fd);
}

static void test_add_checks_sizes_files_and_limits(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x2000);
	int pfd[2];

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 2), 0);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0, RW, fd, 0), -EINVAL);
	assert_int_equal(vn_dma_add(&d, UINT64_MAX - 0xfff, 0x1000, RW, fd, 0), -EOVERFLOW);
	/* Past the end of the file: touching it would raise SIGBUS. */
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x3000, RW, fd, 0), -ERANGE);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, RW, fd, 0x1001), -ERANGE);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, RW, fd, UINT64_MAX), -ERANGE);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, RW, pfd[0], 0), -EBADF);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, 0x80, fd, 0), -EINVAL);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, RW, fd, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x2000, 0x1000, RW, fd, 0x1000), 0);
	assert_int_equal(vn_dma_add(&d, 0x3000, 0x1000, RW, fd, 0), -ENOSPC);
	vn_dma_fini(&d);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
}

static void test_prot_and_fdless_maps_limit_access(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x1000);

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x1000, VN_DMA_READ, fd, 0), 0);
	assert_non_null(vn_dma_find(vn_dma_table_get(&d), 0x1000, 8, VN_DMA_READ));
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x1000, 8, VN_DMA_WRITE));
	/* Recorded without a descriptor: known, overlap-checked, not reachable. */
	assert_int_equal(vn_dma_add(&d, 0x100000, 0x1000, RW, -1, 0), 0);
	assert_non_null(vn_dma_lookup(vn_dma_table_get(&d), 0x100000));
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x100000, 8, VN_DMA_READ));
	assert_int_equal(vn_dma_add(&d, 0x100800, 0x1000, RW, fd, 0), -EEXIST);
	/* Each failure says why. */
	const struct vn_dma_table *t = vn_dma_table_get(&d);
	assert_null(vn_dma_explain(t, 0x1000, 8, VN_DMA_READ));
	assert_string_equal(vn_dma_explain(t, 0x1000, 8, VN_DMA_WRITE), "not writable");
	assert_string_equal(vn_dma_explain(t, 0x1ff8, 16, VN_DMA_READ),
			    "crosses the end of its mapping");
	assert_string_equal(vn_dma_explain(t, 0x3000, 8, VN_DMA_READ), "not mapped");
	assert_non_null(strstr(vn_dma_explain(t, 0x100000, 8, VN_DMA_READ), "without a file"));
	vn_dma_fini(&d);
	close(fd);
}

static void test_remove_needs_an_exact_match(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x2000);

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x1000, 0x2000, RW, fd, 0), 0);
	assert_int_equal(vn_dma_remove(&d, 0x1000, 0x1000), -ENOENT);
	assert_int_equal(vn_dma_remove(&d, 0x2000, 0x1000), -ENOENT);
	assert_int_equal(vn_dma_remove(&d, 0x1000, 0x2000), 0);
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x1000, 1, VN_DMA_READ));
	assert_int_equal(vn_dma_remove(&d, 0x1000, 0x2000), -ENOENT);
	assert_int_equal(d.mapped_bytes, 0);
	vn_dma_fini(&d);
	close(fd);
}

/* A polling thread translating and touching memory while the control thread
 * maps and unmaps it: with QSBR no access may hit unmapped memory (which
 * would crash this test). */
struct race {
	struct vn_dma *d;
	struct vn_qsbr *q;
	int stop;
	uint64_t hits, misses;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct vn_qsbr_reader rd;
	unsigned n = 0;

	vn_qsbr_register(r->q, &rd, "test-reader");
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		const struct vn_dma_table *t = vn_dma_table_get(r->d);
		volatile uint64_t *p = vn_dma_find(t, 0x40000, 0x10000, RW);

		if (p) {
			/* Touch first and last page, as a queue poller would. */
			p[0]++;
			p[0x10000 / 8 - 1]++;
			__atomic_fetch_add(&r->hits, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_add(&r->misses, 1, __ATOMIC_RELAXED);
		}
		/* Sometimes sleep offline, as idle pollers do. */
		if (++n % 4096 == 0) {
			vn_qsbr_offline(&rd);
			usleep(50);
			vn_qsbr_online(r->q, &rd);
		}
		vn_qsbr_quiescent(r->q, &rd);
	}
	vn_qsbr_unregister(r->q, &rd);
	return NULL;
}

static void test_unmap_under_concurrent_translation_is_safe(void **state)
{
	struct vn_qsbr q;
	struct vn_dma d;
	struct race r = {.d = &d, .q = &q};
	pthread_t th;
	int fd = memfd_of(0x10000);

	(void)state;
	vn_qsbr_init(&q);
	assert_int_equal(vn_dma_init(&d, &q, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, race_reader, &r), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(vn_dma_add(&d, 0x40000, 0x10000, RW, fd, 0), 0);
		usleep(100);
		if (i % 2)
			assert_int_equal(vn_dma_remove(&d, 0x40000, 0x10000), 0);
		else
			vn_dma_remove_all(&d);
	}
	/* Let the reader see both states at least once. */
	while (__atomic_load_n(&r.misses, __ATOMIC_RELAXED) == 0)
		usleep(100);
	assert_int_equal(vn_dma_add(&d, 0x40000, 0x10000, RW, fd, 0), 0);
	while (__atomic_load_n(&r.hits, __ATOMIC_RELAXED) == 0)
		usleep(100);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_true(r.hits > 0);
	assert_true(r.misses > 0);
	vn_dma_fini(&d);
	vn_qsbr_destroy(&q);
	close(fd);
}

static void test_synchronize_waits_for_an_online_reader(void **state)
{
	struct vn_qsbr q;
	struct vn_qsbr_reader rd;

	(void)state;
	vn_qsbr_init(&q);
	vn_qsbr_register(&q, &rd, "r");
	uint64_t before = rd.ctr;
	/* Offline readers never delay a writer. */
	vn_qsbr_offline(&rd);
	vn_qsbr_synchronize(&q);
	vn_qsbr_online(&q, &rd);
	assert_true(rd.ctr > before);
	vn_qsbr_unregister(&q, &rd);
	vn_qsbr_synchronize(&q);
	vn_qsbr_destroy(&q);
}

static void test_byte_limit_counts_every_map_and_frees_on_remove(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x10000);
	static uint8_t host[0x1000];

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	vn_dma_set_max_bytes(&d, 0x3000);
	assert_int_equal(vn_dma_add(&d, 0x0, 0x2000, RW, fd, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x2000, RW, fd, 0), -EDQUOT);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x1000, RW, -1, 0), 0); /* fd-less counts */
	assert_int_equal(vn_dma_add_host(&d, 0x20000, 0x1000, RW, host), -EDQUOT);
	assert_int_equal(vn_dma_table_get(&d)->nr, 2);
	assert_int_equal(vn_dma_remove(&d, 0x0, 0x2000), 0);
	assert_int_equal(vn_dma_add(&d, 0x0, 0x2000, RW, fd, 0), 0);
	vn_dma_remove_all(&d);
	assert_int_equal(vn_dma_add(&d, 0x0, 0x3000, RW, fd, 0), 0);
	/* A sparse terabyte: refused before any address space is spent. */
	vn_dma_set_max_bytes(&d, 1ull << 30);
	assert_int_equal(ftruncate(fd, 1ll << 40), 0);
	assert_int_equal(vn_dma_add(&d, 1ull << 40, 1ull << 40, RW, fd, 0), -EDQUOT);
	vn_dma_fini(&d);
	close(fd);
}

static void test_a_memfd_that_allows_sealing_is_sealed_against_shrinking(void **state)
{
	struct vn_dma d;
	int fd = memfd_create("sealable", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int fd2 = memfd_create("seal-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)state;
	assert_int_equal(ftruncate(fd, 0x4000), 0);
	assert_int_equal(ftruncate(fd2, 0x4000), 0);
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x0, 0x4000, RW, fd, 0), 0);
	assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(fd, 0), -1);
	/* Sealed against more seals but not against shrinking: it cannot be
	 * sealed; accepted, and left to the SIGBUS containment. */
	assert_int_equal(fcntl(fd2, F_ADD_SEALS, F_SEAL_SEAL), 0);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x4000, RW, fd2, 0), 0);
	assert_int_equal(fcntl(fd2, F_GET_SEALS) & F_SEAL_SHRINK, 0);
	vn_dma_fini(&d);
	close(fd);
	close(fd2);
}

static unsigned faults_seen;

static void on_fault(void *arg, uint64_t iova, uint64_t len)
{
	(void)arg;
	assert_int_equal(iova, 0x10000);
	assert_int_equal(len, 0x4000);
	faults_seen++;
}

static void test_a_truncated_map_faults_into_zero_pages_and_is_taken_away(void **state)
{
	struct vn_dma d, other;
	int fd = memfd_of(0x4000), fd2 = memfd_of(0x1000);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	volatile uint8_t *p;
	uint64_t n = 0;

	(void)state;
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_init(&other, NULL, 0), 0);
	vn_dma_set_fault_fd(&d, efd);
	assert_int_equal(vn_dma_add(&d, 0x10000, 0x4000, RW, fd, 0), 0);
	assert_int_equal(vn_dma_add(&other, 0x10000, 0x1000, RW, fd2, 0), 0);
	p = vn_dma_find(vn_dma_table_get(&d), 0x10000, 0x4000, RW);
	assert_non_null((void *)p);
	p[0x2000] = 1;
	assert_int_equal(vn_dma_reap_faults(&d, on_fault, NULL), 0);

	assert_int_equal(ftruncate(fd, 0), 0);
	/* Would be SIGBUS: reads zero, writes go nowhere, the owner hears. */
	assert_int_equal(p[0x2000], 0);
	p[0x3000] = 5;
	assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
	assert_true(n >= 1);
	faults_seen = 0;
	assert_int_equal(vn_dma_reap_faults(&d, on_fault, NULL), 1);
	assert_int_equal(faults_seen, 1);
	assert_null(vn_dma_find(vn_dma_table_get(&d), 0x10000, 1, VN_DMA_READ));
	assert_string_equal(vn_dma_explain(vn_dma_table_get(&d), 0x10000, 1, VN_DMA_READ),
			    "gone: the client truncated the memory behind it");
	/* Once only; the other map is untouched. */
	assert_int_equal(vn_dma_reap_faults(&d, on_fault, NULL), 0);
	assert_int_equal(faults_seen, 1);
	assert_non_null(vn_dma_find(vn_dma_table_get(&other), 0x10000, 0x1000, RW));
	/* Removing it unmaps the zero pages. */
	assert_int_equal(vn_dma_remove(&d, 0x10000, 0x4000), 0);
	vn_dma_fini(&other);
	vn_dma_fini(&d);
	close(efd);
	close(fd);
	close(fd2);
}

static void test_a_sigbus_outside_every_map_still_ends_the_process(void **state)
{
	struct vn_dma d;
	int fd = memfd_of(0x1000), status;
	pid_t pid;

	(void)state;
	/* The handler is in place (a map was added) ... */
	assert_int_equal(vn_dma_init(&d, NULL, 0), 0);
	assert_int_equal(vn_dma_add(&d, 0x0, 0x1000, RW, fd, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* ... but a fault in memory no map holds is not swallowed. */
		int f = memfd_create("stray", MFD_CLOEXEC);
		volatile uint8_t *q;
		signal(SIGBUS, SIG_DFL);
		vn_dma_add(&d, 0x1000, 0x1000, RW, fd, 0); /* installs ours over SIG_DFL */
		if (f < 0 || ftruncate(f, 0x1000) < 0)
			_exit(1);
		q = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, f, 0);
		if (q == MAP_FAILED || ftruncate(f, 0) < 0)
			_exit(2);
		(void)q[0];
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
	vn_dma_fini(&d);
	close(fd);
}

static volatile sig_atomic_t prev_calls;

/* A handler another component installed first: it recovers its own faults. */
static void prev_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t pg = (uintptr_t)si->si_addr & ~(uintptr_t)0xfff;

	(void)sig;
	(void)uc;
	prev_calls++;
	mmap((void *)pg, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static void test_a_foreign_sigbus_goes_to_the_handler_before_ours_which_stays(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = {.sa_sigaction = prev_handler, .sa_flags = SA_SIGINFO};
		struct vn_dma d;
		int fd = memfd_create("dma", MFD_CLOEXEC),
		    stray = memfd_create("stray", MFD_CLOEXEC);
		volatile uint8_t *q, *p;

		sigemptyset(&sa.sa_mask);
		if (fd < 0 || stray < 0 || ftruncate(fd, 0x1000) || ftruncate(stray, 0x1000) ||
		    sigaction(SIGBUS, &sa, NULL) || vn_dma_init(&d, NULL, 0) ||
		    vn_dma_add(&d, 0x0, 0x1000, RW, fd, 0))
			_exit(1);
		q = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, stray, 0);
		if (q == MAP_FAILED || ftruncate(stray, 0))
			_exit(2);
		(void)q[0]; /* not a DMA map: the earlier handler's */
		if (prev_calls != 1)
			_exit(3);
		p = vn_dma_find(vn_dma_table_get(&d), 0x0, 1, VN_DMA_READ);
		if (!p || ftruncate(fd, 0))
			_exit(4);
		(void)p[0]; /* a DMA map: still ours */
		if (prev_calls != 1 || vn_dma_reap_faults(&d, NULL, NULL) != 1)
			_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_translates_inside_and_fails_outside),
	    cmocka_unit_test(test_add_rejects_overlaps_but_takes_neighbours),
	    cmocka_unit_test(test_add_checks_sizes_files_and_limits),
	    cmocka_unit_test(test_prot_and_fdless_maps_limit_access),
	    cmocka_unit_test(test_remove_needs_an_exact_match),
	    cmocka_unit_test(test_unmap_under_concurrent_translation_is_safe),
	    cmocka_unit_test(test_synchronize_waits_for_an_online_reader),
	    cmocka_unit_test(test_byte_limit_counts_every_map_and_frees_on_remove),
	    cmocka_unit_test(test_a_memfd_that_allows_sealing_is_sealed_against_shrinking),
	    cmocka_unit_test(test_a_truncated_map_faults_into_zero_pages_and_is_taken_away),
	    cmocka_unit_test(test_a_sigbus_outside_every_map_still_ends_the_process),
	    cmocka_unit_test(test_a_foreign_sigbus_goes_to_the_handler_before_ours_which_stays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
