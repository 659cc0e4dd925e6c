/* SPDX-License-Identifier: MIT */
/*
 * The protocol ceiling: an NVMe submission/completion queue pair over shared
 * memory between two pinned threads that do nothing but the protocol. The
 * "host" writes 64-byte SQEs and the tail doorbell, and consumes 16-byte CQEs
 * by their phase bit, writing the head doorbell; the "device" reads the tail,
 * copies SQEs out and posts CQEs, phase dword last. An emulated controller
 * plus driver that beats it shows that it is not a ceiling (at QD16 and
 * QD128 none does since the host reaps in batches; at QD1 in the machine's
 * slow mode vnvme does, by about 10 %: docs/performance.md).
 *
 * With --copy SIZE it measures instead what a ram namespace of SIZE bytes
 * can give on one core with no protocol at all: 512-byte copies from random
 * 512-byte blocks of a populated SIZE-byte buffer into a small buffer, in
 * batches of 16 whose sources are prefetched first (as vnvme-target does).
 *
 * With --driver HOW the host also does what an NVMe driver does per command
 * and the bare loop does not. It checks each completion's CID against a
 * table and marks it there (one load, one store, as libvnvme's
 * vnvme_hot_batch_take), and it writes a real entry rather than the opcode
 * and the CID: HOW is how much of it. full: the whole 64-byte entry, a
 * prepared one per CID with its own PRP1, CID and LBA merged in (four
 * 16-byte stores: vnvme_sqe_fill, as libvnvme does). fields: the CID,
 * PRP1 and LBA over an entry of the same shape already in the slot (a
 * driver that knows what each slot holds). slot: the LBA alone (a driver
 * whose CIDs and buffers belong to SQ slots). What those stores cost is the
 * account of docs/performance.md, "What a driver's stores cost".
 *
 * The rings have qd + qd/4 entries rounded up to 32 (vnvme-perf's default),
 * or --queue-size N: their size moves the rate (docs/performance.md). The
 * host reaps at most --batch completions (default 32, as vnvme-perf) before
 * it refills: reaping the whole QD128 at once halved the rate.
 *
 *   bench/ceiling [--cpus A,B] [--seconds S] [--qd N ...] [--queue-size N] [--batch N]
 *                 [--driver full|fields|slot] [--json]
 *   bench/ceiling --copy SIZE_MIB [--huge] [--cpus A,B] [--seconds S] [--json]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vnvme/spec.h"
#include "vnvme/vnvme.h"
#include "window.h"

#define QSIZE 1024

struct ring {
	_Alignas(64) struct vnvme_sqe sq[QSIZE];
	_Alignas(64) struct vnvme_cqe cq[QSIZE];
	_Alignas(64) uint32_t sq_tail; /* doorbells, each on its own line */
	_Alignas(64) uint32_t cq_head;
	_Alignas(64) uint32_t stop;
};

static struct ring R;
static int cpu_host = 1, cpu_dev = 0;
static uint32_t qsize;       /* ring entries in use: --queue-size, else ring_for(qd) */
static uint32_t qsize_given; /* --queue-size, or 0 */
static unsigned batch = 32;  /* completions reaped at most before refilling */
enum { DRV_NONE, DRV_FULL, DRV_FIELDS, DRV_SLOT };
static int driver; /* --driver HOW */
static const char *const driver_names[] = {"none", "full", "fields", "slot"};
/* --driver: the prepared entries, one per CID, and the CID table: the epoch
 * (doorbell write count) in which each CID was last taken, or first
 * submitted, CID_NEVER before that. A CQE is counted as an error when its
 * CID was never submitted or was taken already since the last doorbell. */
#define CID_NEVER UINT32_MAX
static struct vnvme_sqe prepared[QSIZE] __attribute__((aligned(64)));
static uint32_t cid_epoch[QSIZE];

/* Once in 2^32 - 1 doorbells: renumber, keeping the order. */
static __attribute__((cold, noinline)) uint32_t epoch_wrap(void)
{
	for (uint32_t i = 0; i < QSIZE; i++)
		if (cid_epoch[i] != CID_NEVER)
			cid_epoch[i] = 0;
	return 1;
}

/* The ring vnvme-perf takes by default for a queue depth (its
 * queue_entries(): qd + qd / 4 rounded up to 32), so that the ceiling
 * and a row compare like with like: the ring's size moves both, vnvme
 * more (docs/performance.md, "Ring size"). */
static uint32_t ring_for(unsigned qd)
{
	uint32_t n = (qd + qd / 4 + 31) / 32 * 32;
	return n > QSIZE ? QSIZE : n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *device(void *arg)
{
	uint32_t head = 0, tail = 0, cq_tail = 0, cq_head = 0;
	uint16_t phase = 1;

	(void)arg;
	pin(cpu_dev);
	while (!__atomic_load_n(&R.stop, __ATOMIC_RELAXED)) {
		uint32_t t = __atomic_load_n(&R.sq_tail, __ATOMIC_ACQUIRE);
		if (t == head)
			continue;
		tail = t;
		while (head != tail) {
			struct vnvme_sqe sqe;
			struct vnvme_cqe *e;

			/* Room in the CQ: re-read the head only when it looks full. */
			while ((cq_tail + 1 == qsize ? 0 : cq_tail + 1) == cq_head)
				cq_head = __atomic_load_n(&R.cq_head, __ATOMIC_ACQUIRE);
			memcpy(&sqe, &R.sq[head], sizeof(sqe));
			head = head + 1 == qsize ? 0 : head + 1;
			e = &R.cq[cq_tail];
			e->dw0 = 0;
			e->sqhd = (uint16_t)head;
			e->sqid = 1;
			e->cid = sqe.cid;
			__atomic_store_n(&e->status, phase, __ATOMIC_RELEASE);
			if (++cq_tail == qsize) {
				cq_tail = 0;
				phase ^= 1;
			}
		}
	}
	return NULL;
}

#define WINDOW_NS 50000000ull /* the steadiness windows: 50 ms */

struct result {
	unsigned qd;
	unsigned ring; /* entries per ring */
	double ops;
	double rtt_median_ns;    /* qd 1 only */
	double win_min, win_max; /* ops/s of the slowest and fastest whole 50 ms window */
	uint64_t cid_errors;     /* --driver: CQEs whose CID was never submitted or
				  * was taken twice between two doorbells (0) */
};

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The host side: keep qd commands in flight for `secs`. */
static struct result host(unsigned qd, double secs)
{
	struct result r = {.qd = qd};
	uint32_t tail = 0, head = 0, outstanding = 0;
	uint16_t phase = 1;
	uint64_t done = 0, t0, deadline, *samples = NULL;
	size_t ns = 0, cap = 0;

	qsize = qsize_given ? qsize_given : ring_for(qd);
	r.ring = qsize;

	memset(&R, 0, sizeof(R));
	memset(cid_epoch, 0xff, sizeof(cid_epoch)); /* CID_NEVER */
	for (uint32_t i = 0; i < QSIZE; i++)
		prepared[i] = (struct vnvme_sqe){
		    .opc = VNVME_NVM_READ, .nsid = 1, .dptr.prp1 = 0x100000ull + 4096ull * i};
	if (qd == 1) {
		cap = 1 << 20;
		samples = malloc(cap * sizeof(*samples));
	}
	pthread_t th;
	pthread_create(&th, NULL, device, NULL);
	t0 = now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	uint64_t start = 0, win_t = t0, win_done = 0, rng = 1, submitted = 0;
	uint32_t epoch = 1;
	struct window_range win = {0};
	for (uint64_t iter = 0;; iter++) {
		bool rung = false;
		while (outstanding < qd) {
			struct vnvme_sqe *s = &R.sq[tail];
			if (driver) {
				bool first =
				    submitted < qsize; /* the first lap: whole, CIDs marked */
				uint64_t slba;

				rng = rng * 6364136223846793005ull + 0x2545f491ull;
				slba = rng >> 24;
				if (first) {
					submitted++;
					cid_epoch[tail] = epoch;
				}
				if (first || driver == DRV_FULL) {
					vnvme_sqe_fill(s, &prepared[tail], (uint16_t)tail, slba);
				} else {
					if (driver == DRV_FIELDS) {
						s->cid = (uint16_t)tail;
						s->dptr.prp1 = prepared[tail].dptr.prp1;
					}
					memcpy(&s->cdw10, &slba, sizeof(slba));
				}
			} else {
				s->opc = VNVME_NVM_READ;
				s->cid = (uint16_t)tail;
			}
			tail = tail + 1 == qsize ? 0 : tail + 1;
			outstanding++;
			rung = true;
		}
		/* Time one round trip in 64, so timing does not slow the rest. */
		bool timed = samples && (iter & 63) == 0;
		if (rung) {
			if (timed)
				start = now_ns();
			__atomic_store_n(&R.sq_tail, tail, __ATOMIC_RELEASE);
			/* What was rung may complete from now on. */
			if (++epoch == CID_NEVER)
				epoch = epoch_wrap();
		}
		unsigned reaped = 0;
		while (reaped < batch) {
			struct vnvme_cqe *e = &R.cq[head];
			if ((__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) & 1) != phase)
				break;
			if (driver) {
				uint32_t cid = __atomic_load_n(&e->cid, __ATOMIC_RELAXED);

				if (cid >= qsize || cid_epoch[cid] >= epoch)
					r.cid_errors++;
				else
					cid_epoch[cid] = epoch;
			}
			if (++head == qsize) {
				head = 0;
				phase ^= 1;
			}
			reaped++;
		}
		if (reaped) {
			if (timed && start && ns < cap)
				samples[ns++] = now_ns() - start;
			start = 0;
			__atomic_store_n(&R.cq_head, head, __ATOMIC_RELEASE);
			outstanding -= reaped;
			done += reaped;
		}
		if ((iter & 4095) == 0) {
			uint64_t t = now_ns();
			if (t - win_t >= WINDOW_NS) {
				double w = (double)(done - win_done) * 1e9 / (double)(t - win_t);
				window_range_add(&win, w);
				win_t = t;
				win_done = done;
			}
			if (t >= deadline)
				break;
		}
	}
	double el = (double)(now_ns() - t0) / 1e9;
	__atomic_store_n(&R.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	r.ops = (double)done / el;
	r.win_min = win.min;
	r.win_max = win.max;
	if (samples && ns) {
		qsort(samples, ns, sizeof(*samples), cmp);
		r.rtt_median_ns = (double)samples[ns / 2];
	}
	free(samples);
	return r;
}

/* Random 512-byte copies out of a size-byte buffer, per second (one core). */
/* With huge: on 2 MiB hugepages when the pool has them (as a ram namespace
 * takes them by default), else 4 KiB pages; *on_huge says which. */
static double copy_rate(size_t size, double secs, bool huge, bool *on_huge)
{
	static uint8_t dst[16][512] __attribute__((aligned(64)));
	uint8_t *m = MAP_FAILED;
	uint64_t x = 88172645463325252ull, blocks = size / 512, done = 0, t0, deadline;
	uint64_t off[16];

	*on_huge = false;
	if (huge && !(size & ((2u << 20) - 1))) {
		m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		*on_huge = m != MAP_FAILED;
	}
	if (m == MAP_FAILED)
		m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m == MAP_FAILED)
		return 0;
	memset(m, 1, size);
	t0 = now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	for (;;) {
		for (int i = 0; i < 1024; i++) {
			for (int b = 0; b < 16; b++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				off[b] = (x % blocks) * 512;
				for (int k = 0; k < 512; k += 64)
					__builtin_prefetch(m + off[b] + k);
			}
			for (int b = 0; b < 16; b++)
				memcpy(dst[b], m + off[b], 512);
			__asm__ __volatile__("" : : "r"(dst) : "memory");
		}
		done += 16 * 1024;
		if (now_ns() >= deadline)
			break;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	munmap(m, size);
	return (double)done / el;
}

int main(int argc, char **argv)
{
	unsigned qds[8] = {1, 16, 128}, nqd = 3;
	double secs = 2;
	bool json = false, qd_given = false, huge = false;
	size_t copy_mib = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
			if (sscanf(argv[++i], "%d,%d", &cpu_dev, &cpu_host) != 2) {
				fprintf(stderr, "ceiling: --cpus wants DEVICE,HOST e.g. 0,1\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			secs = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--qd") && i + 1 < argc) {
			if (!qd_given)
				nqd = 0;
			qd_given = true;
			unsigned q = (unsigned)atoi(argv[++i]);
			if (q < 1 || q >= QSIZE || nqd == 8) {
				fprintf(stderr, "ceiling: --qd wants 1..1023 (8 values at most)\n");
				return 2;
			}
			qds[nqd++] = q;
		} else if (!strcmp(argv[i], "--queue-size") && i + 1 < argc) {
			unsigned q = (unsigned)atoi(argv[++i]);
			if (q < 2 || q > QSIZE) {
				fprintf(stderr, "ceiling: --queue-size wants 2..1024\n");
				return 2;
			}
			qsize_given = q;
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			batch = (unsigned)atoi(argv[++i]);
			if (batch < 1 || batch > QSIZE) {
				fprintf(stderr, "ceiling: --batch wants 1..1024\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--copy") && i + 1 < argc) {
			copy_mib = (size_t)strtoul(argv[++i], NULL, 10);
			if (copy_mib < 1 || copy_mib > (1u << 20)) {
				fprintf(stderr,
					"ceiling: --copy wants a size in MiB, 1..1048576\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--driver") && i + 1 < argc) {
			i++;
			for (driver = DRV_FULL; driver <= DRV_SLOT; driver++)
				if (!strcmp(argv[i], driver_names[driver]))
					break;
			if (driver > DRV_SLOT) {
				fprintf(stderr, "ceiling: --driver wants full, fields or slot\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--huge")) {
			huge = true;
		} else {
			fprintf(
			    stderr,
			    "usage: ceiling [--cpus DEVICE,HOST] [--seconds S] [--qd N]... "
			    "[--queue-size N] [--batch N] [--driver HOW] [--json]\n"
			    "       ceiling --copy SIZE_MIB [--huge] [--cpus DEVICE,HOST] "
			    "[--seconds S] "
			    "[--json]\n"
			    "Measures an NVMe SQ/CQ pair over shared memory between two pinned\n"
			    "threads doing nothing else: the protocol's ceiling on this "
			    "machine.\n"
			    "--queue-size: ring entries (2..1024, above every --qd); default\n"
			    "qd + qd/4 rounded up to 32, vnvme-perf's default ring.\n"
			    "--batch: completions reaped at most before refilling (default 32).\n"
			    "--driver HOW: the host checks and marks each completion's CID in a\n"
			    "table and writes real entries, as a driver does. full: whole 64-byte\n"
			    "entries (as libvnvme); fields: CID, PRP1 and LBA over an entry of "
			    "the\n"
			    "same shape; slot: the LBA alone (CIDs and buffers bound to slots).\n"
			    "--copy: random 512-byte copies out of a SIZE_MIB buffer on the "
			    "DEVICE\n"
			    "CPU, batches of 16 prefetched: what a ram namespace can give.\n"
			    "--huge: the buffer on 2 MiB hugepages when there are enough (a ram\n"
			    "namespace takes them by default), else 4 KiB pages.\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (copy_mib && driver) {
		fprintf(stderr, "ceiling: --driver measures the queue pair, not --copy\n");
		return 2;
	}
	if (copy_mib) {
		pin(cpu_dev);
		bool on_huge;
		double r = copy_rate(copy_mib << 20, secs, huge, &on_huge);
		if (r == 0) {
			fprintf(stderr, "ceiling: cannot map %zu MiB\n", copy_mib);
			return 1;
		}
		if (json)
			printf("{\"cpu\": %d, \"size_mib\": %zu, \"bs\": 512, \"ops\": %.0f, "
			       "\"pages\": \"%s\"}\n",
			       cpu_dev, copy_mib, r, on_huge ? "2M" : "4K");
		else
			printf("copy ceiling: %.2f M random 512 B copies/s out of %zu MiB on %s "
			       "pages\n",
			       r / 1e6, copy_mib, on_huge ? "2 MiB" : "4 KiB");
		return 0;
	}
	for (unsigned i = 0; i < nqd; i++)
		if (qsize_given && qds[i] >= qsize_given) {
			fprintf(stderr, "ceiling: --queue-size %u must be above --qd %u\n",
				qsize_given, qds[i]);
			return 2;
		}
	pin(cpu_host);
	if (json)
		printf("{\"cpus\": [%d, %d], \"seconds\": %.1f, \"driver\": \"%s\", \"results\": [",
		       cpu_dev, cpu_host, secs, driver_names[driver]);
	for (unsigned i = 0; i < nqd; i++) {
		struct result r = host(qds[i], secs);
		if (json)
			printf(
			    "%s{\"qd\": %u, \"ring\": %u, \"ops\": %.0f, \"rtt_median_ns\": %.0f, "
			    "\"window_ops_min\": %.0f, \"window_ops_max\": %.0f, \"cid_errors\": "
			    "%llu}",
			    i ? ", " : "", r.qd, r.ring, r.ops, r.rtt_median_ns, r.win_min,
			    r.win_max, (unsigned long long)r.cid_errors);
		else
			printf("ceiling qd=%-4u ring %-4u %8.2f M ops/s%s%s%s", r.qd, r.ring,
			       r.ops / 1e6, driver ? " (driver " : "",
			       driver ? driver_names[driver] : "", driver ? ")" : "");
		if (!json && r.qd == 1)
			printf("  (median round trip %.0f ns)", r.rtt_median_ns);
		if (!json && r.cid_errors)
			printf("  %llu CQEs with a CID not outstanding",
			       (unsigned long long)r.cid_errors);
		if (!json)
			printf("\n");
	}
	if (json)
		printf("]}\n");
	return 0;
}
