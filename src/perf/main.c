/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf: a load generator that keeps up with the device. Each job is a
 * thread with its own queue pair on every device. The I/O loop is specialised
 * per --rw mode at compile time (run_io); it reaps completions in batches
 * (perf_batch_<mode>, out of line) and reads the TSC once per batch. Per I/O
 * it costs one SQE write and a histogram update: no allocation, syscall, lock
 * or mode switch. --verify
 * takes a simpler path with callbacks and a TSC read per event.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "perf/hist.h"
#include "vnvme/vnvme.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

#define MAX_DEVS 64
#define MAX_JOBS 64

enum rw { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_RANDRW };
static const char *const rw_names[] = {"randread", "randwrite", "read", "write", "randrw"};

struct opts {
	const char *devs[MAX_DEVS];
	unsigned nr_devs;
	enum rw rw;
	unsigned mix; /* read percentage for randrw */
	uint32_t bs;
	uint32_t qd;
	uint32_t qsize; /* ring entries per queue pair, 0: see queue_entries() */
	unsigned jobs;
	int cpus[MAX_JOBS];
	unsigned nr_cpus;
	double runtime;
	uint64_t ios; /* per job, 0: by time */
	uint32_t nsid;
	uint64_t range_lbas; /* 0: whole namespace */
	bool verify, json, quiet, interrupts;
	const char *plot;
	uint64_t seed;
};

static struct opts O = {
    .rw = RW_RANDREAD,
    .mix = 70,
    .bs = 4096,
    .qd = 16,
    .jobs = 1,
    .runtime = 10,
    .nsid = 1,
    .seed = 1,
};
static volatile sig_atomic_t stop_flag;

/* ------------------------------------------------------------------------ */
/* Time: TSC, converted to ns once per sample with a calibrated factor. */

static double tsc_ns;

static inline uint64_t now_ticks(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void calibrate(void)
{
#if defined(__x86_64__)
	uint64_t n0 = mono_ns(), t0 = now_ticks(), n1, t1;
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	n1 = mono_ns();
	t1 = now_ticks();
	tsc_ns = (double)(n1 - n0) / (double)(t1 - t0);
#else
	tsc_ns = 1.0;
#endif
}

/* ------------------------------------------------------------------------ */

struct dev {
	struct vnvme_ctrl *c;
	struct vnvme_ns_info ns;
	uint64_t first_lba, nr_lbas; /* the range I/O goes to */
	uint32_t lbas;               /* blocks per I/O */
	uint64_t slots;              /* I/O-sized slots in the range */
};

static struct dev devs[MAX_DEVS];

struct job;

struct io {
	struct vnvme_rw rw[2]; /* read, write: prepared once for buf */
	struct job *j;
	struct qp *qp;
	void *buf;
	uint64_t start;
	uint64_t lba;
	bool write;
};

struct qp {
	struct vnvme_qpair *q;
	struct vnvme_hot *h; /* its inline hot path */
	struct dev *d;
	struct io *ios;
	uint64_t last_progress;
	uint64_t seq_next;      /* sequential workloads */
	uint64_t issued, limit; /* --verify: one pass over the range per phase */
};

struct job {
	unsigned id;
	pthread_t thread;
	struct qp qps[MAX_DEVS];
	struct vnvme_cpl *cpl; /* O.qd completions, for vnvme_hot_reap */
	uint64_t rng;
	/* results */
	struct hist rd, wr;
	uint64_t done_ios; /* read by the progress thread, relaxed */
	uint64_t errors;
	uint64_t mismatches;
	uint64_t first_bad_lba;
	char first_error[96];
	int fatal;
	uint64_t issued;
	bool verify_phase_read;
	/* When its I/O ran: from the first submission to the last completion
	 * (a dead device's stall is not run time). */
	uint64_t t_begin_ns, t_end_ns;
	uint64_t t_begin_tk;
	bool finished; /* job_main is done (the progress loop's stop) */
};

static struct job jobs[MAX_JOBS];

/* j->errors += n; read by the progress thread, relaxed (errors are rare). */
static void count_error(struct job *j, uint64_t n)
{
	__atomic_store_n(&j->errors, j->errors + n, __ATOMIC_RELAXED);
}

/*
 * A 64-bit LCG: Knuth's MMIX multiplier, and an odd increment small enough
 * for an instruction's immediate (any odd one gives the full 2^64 period;
 * the increment only shifts the sequence). One multiply and one add. Its
 * high bits are good and its low bits are not, so every use takes the high
 * bits by multiply-shift (lcg_below), never a remainder.
 */
#define LCG_MUL 6364136223846793005ull
#define LCG_INC 0x2545f491ull

/* The next state of generator *x, uniform in [0, n) from its high bits,
 * without a division. */
static inline uint64_t lcg_below(uint64_t *x, uint64_t n)
{
	*x = *x * LCG_MUL + LCG_INC;
	return (uint64_t)(((unsigned __int128)*x * n) >> 64);
}

static inline uint64_t rnd_below(struct job *j, uint64_t n)
{
	return lcg_below(&j->rng, n);
}

static void fill_pattern(void *buf, uint64_t lba, uint32_t lbas, uint32_t lba_size, uint64_t gen)
{
	for (uint32_t i = 0; i < lbas; i++) {
		uint64_t *p = (uint64_t *)(void *)((uint8_t *)buf + (size_t)i * lba_size);
		for (uint32_t k = 0; k < lba_size / 8; k++)
			p[k] = (lba + i) * 0x9e3779b97f4a7c15ull ^ gen ^ ((uint64_t)k << 48);
	}
}

static uint64_t check_pattern(const void *buf, uint64_t lba, uint32_t lbas, uint32_t lba_size,
			      uint64_t gen)
{
	for (uint32_t i = 0; i < lbas; i++) {
		const uint64_t *p =
		    (const uint64_t *)(const void *)((const uint8_t *)buf + (size_t)i * lba_size);
		for (uint32_t k = 0; k < lba_size / 8; k++)
			if (p[k] != ((lba + i) * 0x9e3779b97f4a7c15ull ^ gen ^ ((uint64_t)k << 48)))
				return lba + i + 1; /* 1-based: 0 means fine */
	}
	return 0;
}

static int submit(struct io *io);
static void submit_failed(struct job *j, const struct io *io, int ret);

/* --verify's submission: a failure is an error of the job, where it happens. */
static void submit_or_count(struct io *io)
{
	int ret = submit(io);

	if (ret)
		submit_failed(io->j, io, ret);
}

static inline bool can_issue(const struct job *j, const struct qp *qp)
{
	if (stop_flag)
		return false;
	if (O.verify)
		return qp->issued < qp->limit;
	return !O.ios || j->issued < O.ios;
}

static void complete(void *arg, const struct vnvme_cqe *cqe)
{
	struct io *io = arg;
	struct job *j = io->j;
	uint64_t t = now_ticks();
	uint64_t lat = t - io->start; /* in TSC ticks; converted to ns once, at the end */
	uint16_t sf = vnvme_cqe_sf(cqe);

	io->qp->last_progress = t;
	if (sf) {
		if (!j->errors)
			snprintf(j->first_error, sizeof(j->first_error), "%s at LBA %llu: %s",
				 io->write ? "write" : "read", (unsigned long long)io->lba,
				 vnvme_status_name(sf));
		count_error(j, 1);
	} else if (O.verify && !io->write) {
		uint32_t lbas = O.bs / io->qp->d->ns.lba_size;
		uint64_t bad =
		    check_pattern(io->buf, io->lba, lbas, io->qp->d->ns.lba_size, O.seed);
		if (bad) {
			if (!j->mismatches)
				j->first_bad_lba = bad - 1;
			j->mismatches++;
		}
	}
	if (!sf) /* the histograms count what succeeded: IOPS, bandwidth */
		hist_add(io->write ? &j->wr : &j->rd, lat);
	__atomic_store_n(&j->done_ios, j->done_ios + 1, __ATOMIC_RELAXED);
	if (can_issue(j, io->qp))
		submit_or_count(io);
}

static int submit(struct io *io)
{
	struct qp *qp = io->qp;
	struct job *j = io->j;
	struct dev *d = qp->d;
	uint32_t lbas = d->lbas;
	uint64_t slots = d->slots, lba;
	bool write;

	switch (O.rw) {
	case RW_RANDREAD:
		write = false;
		break;
	case RW_RANDWRITE:
	case RW_WRITE:
		write = true;
		break;
	case RW_RANDRW:
		write = rnd_below(j, 100) >= O.mix;
		break;
	default:
		write = false;
	}
	if (O.verify)
		write = !j->verify_phase_read;
	if (O.rw == RW_READ || O.rw == RW_WRITE || O.verify) {
		lba = d->first_lba + qp->seq_next * lbas;
		if (++qp->seq_next == slots)
			qp->seq_next = 0;
	} else {
		lba = d->first_lba + rnd_below(j, slots) * lbas;
	}
	io->lba = lba;
	io->write = write;
	if (write && O.verify)
		fill_pattern(io->buf, lba, lbas, d->ns.lba_size, O.seed);
	io->start = now_ticks();
	j->issued++;
	qp->issued++;
	return write ? vnvme_write(qp->q, d->ns.nsid, io->buf, lba, lbas, d->ns.lba_size, complete,
				   io)
		     : vnvme_read(qp->q, d->ns.nsid, io->buf, lba, lbas, d->ns.lba_size, complete,
				  io);
}

/*
 * The device failed under job j: every I/O still outstanding is an error
 * (it will never complete), and the job's I/O stopped running at its last
 * completion, not after the 5 s it took to notice.
 */
static __attribute__((cold)) void job_lost(struct job *j)
{
	uint64_t last = j->t_begin_tk;

	for (unsigned d = 0; d < O.nr_devs; d++) {
		struct qp *qp = &j->qps[d];
		count_error(j, vnvme_qpair_outstanding(qp->q));
		if (qp->last_progress > last)
			last = qp->last_progress;
	}
	j->t_end_ns = j->t_begin_ns + (uint64_t)((double)(last - j->t_begin_tk) * tsc_ns);
}

static void run_phase(struct job *j, uint64_t deadline_ns)
{
	uint64_t stall = (uint64_t)(5e9 / tsc_ns); /* 5 s without a completion */

	for (unsigned d = 0; d < O.nr_devs; d++) {
		struct qp *qp = &j->qps[d];
		qp->last_progress = now_ticks();
		for (uint32_t k = 0; k < O.qd && can_issue(j, qp); k++)
			submit_or_count(&qp->ios[k]);
	}
	for (unsigned iter = 0;; iter++) {
		unsigned outstanding = 0;

		for (unsigned d = 0; d < O.nr_devs; d++) {
			struct qp *qp = &j->qps[d];
			int n = vnvme_qpair_poll(qp->q, 0);
			if (n < 0) {
				j->fatal = n;
				job_lost(j);
				return;
			}
			outstanding += vnvme_qpair_outstanding(qp->q);
			if (!n && vnvme_qpair_outstanding(qp->q) &&
			    now_ticks() - qp->last_progress > stall) {
				int r = vnvme_ctrl_check(qp->d->c);
				snprintf(j->first_error, sizeof(j->first_error),
					 "device %u: no completion for 5 s: %s", d,
					 r ? vnvme_ctrl_errmsg(qp->d->c)
					   : "the controller is stuck");
				j->fatal = r ? r : -ETIMEDOUT;
				job_lost(j);
				return;
			}
		}
		/* Every completion resubmits while it can: nothing outstanding
		 * is the end, or submissions that failed (counted): waiting on
		 * would spin forever. */
		if (!outstanding)
			return;
		if ((iter & 1023) == 0 && deadline_ns && mono_ns() >= deadline_ns)
			stop_flag = stop_flag ? stop_flag : 2;
	}
}

/* ------------------------------------------------------------------------ */
/*
 * The I/O loop without --verify, instantiated once per --rw mode: rw is a
 * constant in every instance, so the mode's switches fold away.
 *
 * Timestamps: the TSC is read once per batch, right after
 * vnvme_hot_batch_begin() counted the completions ready (before any is
 * taken). That read is the completion time of every I/O in the batch and the
 * submit time of the I/Os resubmitted from it. So a latency runs from the TSC
 * read of the batch that submitted the I/O (taken before its SQE is written;
 * the doorbell follows at the end of the batch) to the TSC read just after the
 * batch that saw its completion counted it. Both ends are off
 * by at most the time it takes to process one batch, and both errors make
 * the latency longer, never shorter.
 */

/* dw3: the CQE's dword 3 (struct vnvme_hot_cpl). */
static __attribute__((cold, noinline)) void io_failed(struct job *j, const struct io *io,
						      bool write, uint32_t dw3)
{
	uint16_t sf = (uint16_t)(dw3 >> 17);

	if (!j->errors)
		snprintf(j->first_error, sizeof(j->first_error), "%s at LBA %llu: %s",
			 write ? "write" : "read", (unsigned long long)io->lba,
			 vnvme_status_name(sf));
	count_error(j, 1);
}

static __attribute__((cold, noinline)) void submit_failed(struct job *j, const struct io *io,
							  int ret)
{
	if (!j->errors)
		snprintf(j->first_error, sizeof(j->first_error), "submit at LBA %llu: %s",
			 (unsigned long long)io->lba, strerror(-ret));
	count_error(j, 1);
}

static inline __attribute__((always_inline)) bool rw_writes(enum rw rw, const struct io *io)
{
	if (rw == RW_RANDRW)
		return io->write;
	return rw == RW_RANDWRITE || rw == RW_WRITE;
}

/*
 * What io_next() reads and writes for every I/O, copied out of the job and
 * the device for a batch: in registers, where the stores into the SQ ring
 * (which may alias any integer as far as the compiler knows) leave them.
 */
struct lba_gen {
	uint64_t rng;
	uint64_t first_lba, slots, lbas, seq_next;
};

static inline __attribute__((always_inline)) void gen_load(struct lba_gen *g, const struct job *j,
							   const struct qp *qp)
{
	*g = (struct lba_gen){.rng = j->rng,
			      .first_lba = qp->d->first_lba,
			      .slots = qp->d->slots,
			      .lbas = qp->d->lbas,
			      .seq_next = qp->seq_next};
}

static inline __attribute__((always_inline)) void gen_store(const struct lba_gen *g, struct job *j,
							    struct qp *qp)
{
	j->rng = g->rng;
	qp->seq_next = g->seq_next;
}

/* The rnd_below() of a copy of the job's generator. */
static inline uint64_t gen_below(struct lba_gen *g, uint64_t n)
{
	return lcg_below(&g->rng, n);
}

/* The next I/O of the slot, its start t: io->lba, and the command to queue. */
static inline __attribute__((always_inline)) const struct vnvme_rw *
io_next(struct io *io, enum rw rw, uint64_t t, struct lba_gen *g)
{
	uint64_t lba;

	if (rw == RW_READ || rw == RW_WRITE) {
		lba = g->first_lba + g->seq_next * g->lbas;
		if (++g->seq_next == g->slots)
			g->seq_next = 0;
	} else {
		lba = g->first_lba + gen_below(g, g->slots) * g->lbas;
	}
	if (rw == RW_RANDRW)
		io->write = gen_below(g, 100) >= O.mix;
	io->lba = lba;
	io->start = t;
	return &io->rw[rw_writes(rw, io)];
}

/* Every 1024 turns of the loop: the deadline, signals and stalled devices.
 * 0: go on; 1: stop submitting; -1: stop now (j->fatal is set). */
static int io_check(struct job *j, uint64_t deadline_ns)
{
	uint64_t stall = (uint64_t)(5e9 / tsc_ns); /* 5 s without a completion */
	uint64_t now = now_ticks();

	for (unsigned d = 0; d < O.nr_devs; d++) {
		struct qp *qp = &j->qps[d];
		if (vnvme_qpair_outstanding(qp->q) && now - qp->last_progress > stall) {
			int r = vnvme_ctrl_check(qp->d->c);
			snprintf(j->first_error, sizeof(j->first_error),
				 "device %u: no completion for 5 s: %s", d,
				 r ? vnvme_ctrl_errmsg(qp->d->c) : "the controller is stuck");
			j->fatal = r ? r : -ETIMEDOUT;
			job_lost(j);
			return -1;
		}
	}
	if (deadline_ns && mono_ns() >= deadline_ns)
		stop_flag = stop_flag ? stop_flag : 2;
	return stop_flag ? 1 : 0;
}

/* Account a completion (dw3: its CQE's dword 3) that arrived by t. */
static inline __attribute__((always_inline)) void io_done(struct job *j, const struct io *io,
							  enum rw rw, uint32_t dw3, uint64_t t)
{
	bool write = rw_writes(rw, io);

	/* The Status Field is non-zero: bits 31:17, above the phase. A failed
	 * I/O is an error, not a result: the histograms (IOPS, bandwidth,
	 * latency) count the I/Os that succeeded. */
	if (unlikely(dw3 & 0xfffe0000u)) /* one test, no shift */
		io_failed(j, io, write, dw3);
	else /* in TSC ticks; converted to ns once, at the end */
		hist_add(write ? &j->wr : &j->rd, t - io->start);
}

/* The loop's counters, shared by its batches. */
struct run {
	uint64_t left;     /* I/Os still to submit */
	uint64_t inflight; /* submitted and not completed */
	uint64_t done;     /* completed */
};

/*
 * One batch on one queue pair, called once vnvme_hot_ready() saw a
 * completion there: reap, record the latencies, resubmit, ring both
 * doorbells, and count. Everything per I/O happens here and nothing while
 * the loop waits for the target, so a profiler that counts only inside
 * perf_batch_* (callgrind's --toggle-collect='perf_batch_*', see
 * docs/perf.md) measures the per-I/O cost without the empty polls.
 */
/* A completion taken: account it, then queue the slot's next I/O. */
static inline __attribute__((always_inline)) void again(struct job *j, struct qp *qp, struct run *r,
							struct vnvme_hot_batch *b,
							const struct vnvme_hot_cpl *c, enum rw rw,
							uint64_t t, struct lba_gen *g)
{
	struct io *io = c->arg;
	const struct vnvme_rw *cmd;
	int ret;

	io_done(j, io, rw, c->dw3, t);
	cmd = io_next(io, rw, t, g);
	ret = vnvme_hot_batch_resubmit(b, c->cid, cmd, io->lba);
	if (unlikely(ret)) {
		submit_failed(j, io, ret);
		r->inflight--;
	}
}

static inline __attribute__((always_inline)) void batch(struct job *j, struct qp *qp, struct run *r,
							enum rw rw)
{
	struct vnvme_hot_batch b;
	unsigned n = vnvme_hot_batch_begin(&b, qp->h, O.qd), k;
	uint64_t skipped = 0, t;
	struct lba_gen g;

	/* Nothing counted: a CQE with the phase, but no command outstanding
	 * (a broken controller's); nothing consumed either. */
	if (unlikely(!n))
		return;
	t = now_ticks(); /* the batch's completion time, see above */
	gen_load(&g, j, qp);
	/* The first `k` completions resubmit their slot: no check per I/O
	 * but the CQE's. One that is skipped leaves its I/O to be issued. */
	k = r->left < n ? (unsigned)r->left : n;
	r->left -= k;
	n -= k;
	for (; k; k--) {
		struct vnvme_hot_cpl c;

		if (unlikely(!vnvme_hot_batch_take(&b, &c))) {
			skipped++;
			r->left++;
			continue; /* a broken controller's CQE */
		}
		again(j, qp, r, &b, &c, rw, t, &g);
	}
	while (n--) {
		struct vnvme_hot_cpl c;

		if (unlikely(!vnvme_hot_batch_take(&b, &c))) {
			skipped++;
			continue;
		}
		if (r->left) {
			r->left--;
			again(j, qp, r, &b, &c, rw, t, &g);
		} else {
			io_done(j, c.arg, rw, c.dw3, t);
			vnvme_hot_batch_release(&b, c.cid);
			r->inflight--;
		}
	}
	gen_store(&g, j, qp);
	vnvme_hot_batch_end(&b);
	/* One doorbell write each for the batch; the CQ head moved, so
	 * without vnvme_hot_ring()'s check. */
	vnvme_qpair_ring(qp->q);
	r->done += b.taken - skipped;
	/* Progress is a completion of ours: a broken controller that only
	 * posts CQEs nobody asked for still looks stalled. */
	if (b.taken != skipped)
		qp->last_progress = t;
	/* Read by the progress thread, relaxed: once per batch. */
	__atomic_store_n(&j->done_ios, r->done, __ATOMIC_RELAXED);
}

/* One instance per mode, out of line: the unit a profiler counts. */
static __attribute__((noinline)) void perf_batch_randread(struct job *j, struct qp *qp,
							  struct run *r)
{
	batch(j, qp, r, RW_RANDREAD);
}
static __attribute__((noinline)) void perf_batch_randwrite(struct job *j, struct qp *qp,
							   struct run *r)
{
	batch(j, qp, r, RW_RANDWRITE);
}
static __attribute__((noinline)) void perf_batch_read(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_READ);
}
static __attribute__((noinline)) void perf_batch_write(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_WRITE);
}
static __attribute__((noinline)) void perf_batch_randrw(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_RANDRW);
}

/* rw is a constant in every run_io instance: the switch folds away. */
static inline __attribute__((always_inline)) void perf_batch(struct job *j, struct qp *qp,
							     struct run *r, enum rw rw)
{
	switch (rw) {
	case RW_RANDREAD:
		perf_batch_randread(j, qp, r);
		break;
	case RW_RANDWRITE:
		perf_batch_randwrite(j, qp, r);
		break;
	case RW_READ:
		perf_batch_read(j, qp, r);
		break;
	case RW_WRITE:
		perf_batch_write(j, qp, r);
		break;
	case RW_RANDRW:
		perf_batch_randrw(j, qp, r);
		break;
	}
}

static inline __attribute__((always_inline)) void run_io(struct job *j, uint64_t deadline_ns,
							 enum rw rw)
{
	struct run r = {.left = O.ios ? O.ios : UINT64_MAX};
	uint64_t t = now_ticks();

	for (unsigned d = 0; d < O.nr_devs; d++) {
		struct qp *qp = &j->qps[d];
		struct lba_gen g;

		qp->last_progress = t;
		gen_load(&g, j, qp);
		for (uint32_t k = 0; k < O.qd && r.left && !stop_flag; k++, r.left--) {
			struct io *io = &qp->ios[k];
			const struct vnvme_rw *cmd = io_next(io, rw, now_ticks(), &g);
			int ret = vnvme_hot_rw_submit(qp->h, cmd, io->lba);
			if (unlikely(ret))
				submit_failed(j, &qp->ios[k], ret);
			else
				r.inflight++;
		}
		gen_store(&g, j, qp);
	}
	for (unsigned d = 0; d < O.nr_devs; d++)
		vnvme_hot_ring(j->qps[d].h);
	for (unsigned iter = 1; r.inflight; iter++) {
		for (unsigned d = 0; d < O.nr_devs; d++) {
			struct qp *qp = &j->qps[d];

			/* An empty poll is this check alone. */
			if (vnvme_hot_ready(qp->h))
				perf_batch(j, qp, &r, rw);
		}
		if ((iter & 1023) == 0) {
			int ret = io_check(j, deadline_ns);
			if (ret < 0)
				return;
			if (ret)
				r.left = 0;
		}
	}
}

/* One instance per mode; chosen once, at the start of the job. */
static void run_randread(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_RANDREAD);
}
static void run_randwrite(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_RANDWRITE);
}
static void run_read(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_READ);
}
static void run_write(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_WRITE);
}
static void run_randrw(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_RANDRW);
}

static void (*const run_mode[])(struct job *, uint64_t) = {
    [RW_RANDREAD] = run_randread, [RW_RANDWRITE] = run_randwrite, [RW_READ] = run_read,
    [RW_WRITE] = run_write,       [RW_RANDRW] = run_randrw,
};

static void job_run(struct job *j)
{
	uint64_t deadline;

	if (O.nr_cpus) {
		int cpu = O.cpus[j->id % O.nr_cpus], ret;
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (ret) {
			snprintf(j->first_error, sizeof(j->first_error),
				 "job %u: cannot run on CPU %d (--cpus): %s", j->id, cpu,
				 strerror(ret));
			j->fatal = -ret;
			return;
		}
	}
	j->t_begin_ns = mono_ns();
	j->t_begin_tk = now_ticks();
	deadline = O.ios ? 0 : j->t_begin_ns + (uint64_t)(O.runtime * 1e9);
	if (O.verify) {
		/* Write every block of the range, then read it all back and compare. */
		for (unsigned d = 0; d < O.nr_devs; d++)
			j->qps[d].limit = devs[d].slots;
		run_phase(j, 0);
		j->verify_phase_read = true;
		for (unsigned d = 0; d < O.nr_devs; d++)
			j->qps[d].seq_next = j->qps[d].issued = 0;
		if (!j->fatal && !stop_flag)
			run_phase(j, 0);
		if (!j->fatal)
			j->t_end_ns = mono_ns();
		return;
	}
	run_mode[O.rw](j, deadline);
	if (!j->fatal)
		j->t_end_ns = mono_ns();
}

static void *job_main(void *arg)
{
	struct job *j = arg;

	job_run(j);
	/* For the progress loop, which joins no thread before the end: a
	 * thread joined twice (pthread_tryjoin_np once per look) is undefined,
	 * and was seen to loop forever once the jobs had ended. */
	__atomic_store_n(&j->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: vnvme-perf --socket PATH [--socket PATH ...] [options]\n"
	    "\n"
	    "Drives NVMe controllers over vfio-user (vnvme-target, SPDK's vfio-user target)\n"
	    "with libvnvme and reports IOPS, bandwidth and latency like fio.\n"
	    "\n"
	    "  --socket PATH     a controller's vfio-user socket; repeat for several devices\n"
	    "  --pci BDF         an NVMe PCI function (0000:01:00.0, class 01:08:02) bound to\n"
	    "                    uio_pci_generic (DMA from hugepages, as root) or vfio-pci (an\n"
	    "                    IOMMU); polled; mixes with --socket\n"
	    "  --rw MODE         randread | randwrite | read | write | randrw  (default randread)\n"
	    "  --mix PCT         reads in percent, with --rw randrw only       (default 70)\n"
	    "  --bs SIZE         block size, a multiple of the LBA size, at most what the\n"
	    "                    controller takes in one command (MDTS)        (default 4k)\n"
	    "  --qd N            queue depth per queue pair                    (default 16)\n"
	    "  --queue-size N    ring entries per queue pair, above --qd      (default 1024, as\n"
	    "                    Linux's driver, or --qd + 1 if more; at most the controller's\n"
	    "                    MQES + 1)\n"
	    "  --jobs N          threads; each has a queue pair on every device (default 1)\n"
	    "  --cpus LIST       pin jobs to these CPUs, e.g. 1 or 0,2 or 0-3\n"
	    "  --runtime SEC     how long                                      (default 10)\n"
	    "  --ios N           stop after N I/Os per job instead of a time\n"
	    "  --ns NSID         namespace                                     (default 1)\n"
	    "  --range LBAS      use only the first LBAS blocks of the namespace\n"
	    "  --verify          write every block of the range with a pattern carrying\n"
	    "                    its LBA, read it all back and compare; mismatches by LBA\n"
	    "  --interrupts      MSI-X interrupts to an eventfd (default: polled queues)\n"
	    "  --json            print the result as JSON (docs/perf.md has the schema)\n"
	    "  --plot FILE       write a latency histogram PNG with gnuplot (needs it in $PATH)\n"
	    "  --seed N          random seed and verify generation             (default 1)\n"
	    "  --quiet           no progress line\n"
	    "  -h, --help        this text\n"
	    "\n"
	    "Exit status: 0; 1 on any I/O error, verify mismatch or device failure; 2 on\n"
	    "bad options.\n");
}

/* Ring entries for a queue pair on controller c: --queue-size, or 1024 (as
 * Linux's nvme driver) capped by the controller, and never below --qd + 1.
 * Past --qd the entries cost memory only: the rings wrap less often. */
static uint32_t queue_entries(const struct vnvme_ctrl *c)
{
	uint32_t max = vnvme_ctrl_max_qdepth(c), n = max < 1024u ? max : 1024u;

	if (O.qsize)
		return O.qsize;
	return n > O.qd ? n : O.qd + 1;
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "vnvme-perf: %s: '%s' (see --help)\n", what, arg);
	return 2;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	if (*end == 'i')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v << shift;
	return 0;
}

/* Histograms hold TSC ticks; reports are in nanoseconds. */
static unsigned long long tns(uint64_t ticks)
{
	return (unsigned long long)((double)ticks * tsc_ns + 0.5);
}

static void print_lat(FILE *f, const char *name, const struct hist *h, double secs, uint32_t bs)
{
	static const double pct[] = {50, 90, 99, 99.9, 99.99};
	double iops = secs > 0 ? (double)h->count / secs : 0;

	fprintf(f, "  %s: IOPS=%.3fM, BW=%.1fMiB/s, ios=%llu\n", name, iops / 1e6,
		iops * bs / 1048576.0, (unsigned long long)h->count);
	fprintf(f, "    lat (ns): min=%llu, max=%llu, avg=%.1f, stdev=%.1f\n", tns(hist_min(h)),
		tns(h->max), hist_mean(h) * tsc_ns, hist_stdev(h) * tsc_ns);
	fprintf(f, "    lat percentiles (ns):");
	for (unsigned i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		fprintf(f, " %.2fth=[%llu]", pct[i], tns(hist_percentile(h, pct[i])));
	fprintf(f, "\n");
}

static struct json_object *json_lat(const struct hist *h, double secs, uint32_t bs)
{
	static const double pct[] = {50, 90, 99, 99.9, 99.99};
	struct json_object *o = json_object_new_object(), *l = json_object_new_object(),
			   *p = json_object_new_object();
	double iops = secs > 0 ? (double)h->count / secs : 0;

	json_object_object_add(o, "ios", json_object_new_int64((int64_t)h->count));
	json_object_object_add(o, "iops", json_object_new_double(iops));
	json_object_object_add(o, "bw_bytes", json_object_new_double(iops * bs));
	json_object_object_add(l, "min", json_object_new_int64((int64_t)tns(hist_min(h))));
	json_object_object_add(l, "max", json_object_new_int64((int64_t)tns(h->max)));
	json_object_object_add(l, "mean", json_object_new_double(hist_mean(h) * tsc_ns));
	json_object_object_add(l, "stdev", json_object_new_double(hist_stdev(h) * tsc_ns));
	for (unsigned i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		char k[16];
		snprintf(k, sizeof(k), "%g", pct[i]);
		json_object_object_add(
		    p, k, json_object_new_int64((int64_t)tns(hist_percentile(h, pct[i]))));
	}
	json_object_object_add(l, "percentiles", p);
	json_object_object_add(o, "lat_ns", l);
	return o;
}

/* Is prog an executable in $PATH? */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? path : ".", prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* The run's name: what --rw says, or "verify". */
static const char *run_name(void)
{
	return O.verify ? "verify" : rw_names[O.rw];
}

/* 0, or -1 when no PNG was written (said on stderr). */
static int plot(const char *file, const struct hist *h)
{
	char dat[] = "/tmp/vnvme-perf-XXXXXX";
	int fd = mkstemp(dat), ret;
	FILE *f, *g;

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "vnvme-perf: --plot: cannot write a temporary file\n");
		return -1;
	}
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		if (h->b[i])
			fprintf(f, "%llu %llu\n", tns(hist_bucket_low(i)),
				(unsigned long long)h->b[i]);
	fclose(f);
	g = popen("gnuplot", "w");
	if (!g) {
		fprintf(stderr, "vnvme-perf: --plot: cannot run gnuplot: %s\n", strerror(errno));
		unlink(dat);
		return -1;
	}
	fprintf(g,
		"set terminal png size 900,500\nset output '%s'\nset logscale x\n"
		"set xlabel 'latency (ns)'\nset ylabel 'I/Os'\nset title 'vnvme-perf %s bs=%u "
		"qd=%u'\nplot '%s' using 1:2 with steps title 'latency histogram'\n",
		file, run_name(), O.bs, O.qd, dat);
	ret = pclose(g);
	unlink(dat);
	if (ret != 0) {
		fprintf(stderr, "vnvme-perf: --plot: gnuplot failed to write %s\n", file);
		return -1;
	}
	return 0;
}

static void on_sig(int s)
{
	(void)s;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	enum {
		O_SOCKET = 256,
		O_RW,
		O_MIX,
		O_BS,
		O_QD,
		O_QSIZE,
		O_JOBS,
		O_CPUS,
		O_RUNTIME,
		O_IOS,
		O_NS,
		O_RANGE,
		O_VERIFY,
		O_JSON,
		O_PLOT,
		O_SEED,
		O_QUIET,
		O_IRQ
	};
	static const struct option lo[] = {
	    {"socket", 1, NULL, O_SOCKET},
	    {"pci", 1, NULL, O_SOCKET},
	    {"rw", 1, NULL, O_RW},
	    {"mix", 1, NULL, O_MIX},
	    {"bs", 1, NULL, O_BS},
	    {"qd", 1, NULL, O_QD},
	    {"queue-size", 1, NULL, O_QSIZE},
	    {"jobs", 1, NULL, O_JOBS},
	    {"cpus", 1, NULL, O_CPUS},
	    {"runtime", 1, NULL, O_RUNTIME},
	    {"ios", 1, NULL, O_IOS},
	    {"ns", 1, NULL, O_NS},
	    {"range", 1, NULL, O_RANGE},
	    {"verify", 0, NULL, O_VERIFY},
	    {"json", 0, NULL, O_JSON},
	    {"plot", 1, NULL, O_PLOT},
	    {"seed", 1, NULL, O_SEED},
	    {"quiet", 0, NULL, O_QUIET},
	    {"interrupts", 0, NULL, O_IRQ},
	    {"help", 0, NULL, 'h'},
	    {0},
	};
	struct hist rd, wr;
	uint64_t errors = 0, mismatches = 0, t0, v;
	int opt, ret = 0;
	char *end;
	bool mix_set = false;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET:
			if (O.nr_devs == MAX_DEVS)
				return bad("too many devices (64 at most)", optarg);
			O.devs[O.nr_devs++] = optarg;
			break;
		case O_RW: {
			unsigned i;
			for (i = 0; i < 5 && strcmp(optarg, rw_names[i]); i++)
				;
			if (i == 5)
				return bad("--rw wants randread, randwrite, read, write or randrw",
					   optarg);
			O.rw = (enum rw)i;
			break;
		}
		case O_MIX:
			v = strtoull(optarg, &end, 10);
			if (*end || v > 100)
				return bad("--mix wants 0..100", optarg);
			O.mix = (unsigned)v;
			mix_set = true;
			break;
		case O_BS:
			if (parse_size(optarg, &v) || !v || v > (1u << 20) || v % 512)
				return bad("--bs wants a multiple of 512 up to 1M", optarg);
			O.bs = (uint32_t)v;
			break;
		case O_QD:
			v = strtoull(optarg, &end, 10);
			if (*end || !v || v > 4095)
				return bad("--qd wants 1..4095", optarg);
			O.qd = (uint32_t)v;
			break;
		case O_QSIZE:
			v = strtoull(optarg, &end, 10);
			if (*end || v < 2 || v > 65536)
				return bad("--queue-size wants 2..65536", optarg);
			O.qsize = (uint32_t)v;
			break;
		case O_JOBS:
			v = strtoull(optarg, &end, 10);
			if (*end || !v || v > MAX_JOBS)
				return bad("--jobs wants 1..64", optarg);
			O.jobs = (unsigned)v;
			break;
		case O_CPUS: {
			char *p = optarg;
			O.nr_cpus = 0;
			while (*p && O.nr_cpus < MAX_JOBS) {
				long a = strtol(p, &end, 10), b = a;
				if (end == p || a < 0)
					return bad("--cpus wants a list such as 1 or 0,2 or 0-3",
						   optarg);
				if (*end == '-')
					b = strtol(end + 1, &end, 10);
				if (b < a || b >= CPU_SETSIZE)
					return bad("--cpus wants CPU numbers 0..1023, low-high",
						   optarg);
				for (long c = a; c <= b && O.nr_cpus < MAX_JOBS; c++)
					O.cpus[O.nr_cpus++] = (int)c;
				p = *end == ',' ? end + 1 : end;
				if (*end && *end != ',')
					return bad("--cpus wants a list such as 1 or 0,2 or 0-3",
						   optarg);
			}
			break;
		}
		case O_RUNTIME:
			O.runtime = strtod(optarg, &end);
			if (*end || O.runtime <= 0 || O.runtime > 86400)
				return bad("--runtime wants seconds, 0 < s <= 86400", optarg);
			break;
		case O_IOS:
			O.ios = strtoull(optarg, &end, 10);
			if (*end || !O.ios)
				return bad("--ios wants a positive count", optarg);
			break;
		case O_NS:
			v = strtoull(optarg, &end, 10);
			if (*end || !v || v > 0xfffffffeull)
				return bad("--ns wants a namespace ID", optarg);
			O.nsid = (uint32_t)v;
			break;
		case O_RANGE:
			O.range_lbas = strtoull(optarg, &end, 10);
			if (*end || !O.range_lbas)
				return bad("--range wants a block count", optarg);
			break;
		case O_VERIFY:
			O.verify = true;
			break;
		case O_JSON:
			O.json = true;
			break;
		case O_PLOT:
			O.plot = optarg;
			break;
		case O_SEED:
			O.seed = strtoull(optarg, &end, 0);
			if (*end || !O.seed)
				return bad("--seed wants a non-zero number", optarg);
			break;
		case O_QUIET:
			O.quiet = true;
			break;
		case O_IRQ:
			O.interrupts = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument", argv[optind]);
	if (!O.nr_devs) {
		fprintf(stderr, "vnvme-perf: no device: give --socket PATH (see --help)\n");
		return 2;
	}
	if (mix_set && O.rw != RW_RANDRW) {
		fprintf(stderr, "vnvme-perf: --mix is the read share of --rw randrw, not of %s\n",
			rw_names[O.rw]);
		return 2;
	}
	if (O.plot && !in_path("gnuplot")) {
		fprintf(stderr,
			"vnvme-perf: --plot needs gnuplot, which is not in $PATH (apt-get install "
			"gnuplot)\n");
		return 2;
	}
	if (O.nr_cpus) {
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
			for (unsigned i = 0; i < O.nr_cpus; i++)
				if (!CPU_ISSET(O.cpus[i], &allowed)) {
					fprintf(stderr,
						"vnvme-perf: --cpus: CPU %d is not one this "
						"process may run on (%ld online; see nproc, "
						"taskset -p $$)\n",
						O.cpus[i], sysconf(_SC_NPROCESSORS_ONLN));
					return 2;
				}
	}
	if (O.qsize && O.qsize <= O.qd) {
		fprintf(stderr,
			"vnvme-perf: --queue-size %u must be more than --qd %u (one entry "
			"of a ring always stays empty)\n",
			O.qsize, O.qd);
		return 2;
	}
	calibrate();
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned d = 0; d < O.nr_devs; d++) {
		struct vnvme_ctrl_opts co = {
		    .io_queues = O.jobs, .dma_size = (size_t)O.jobs * O.qd * O.bs + (16u << 20)};
		ret = vnvme_ctrl_open(O.devs[d], &co, &devs[d].c);
		if (ret) {
			fprintf(stderr, "vnvme-perf: %s: cannot open: %s\n", O.devs[d],
				strerror(-ret));
			return 1;
		}
		ret = vnvme_ns_info(devs[d].c, O.nsid, &devs[d].ns);
		if (ret) {
			fprintf(stderr, "vnvme-perf: %s: namespace %u: %s\n", O.devs[d], O.nsid,
				vnvme_ctrl_errmsg(devs[d].c));
			return 1;
		}
		if (O.bs % devs[d].ns.lba_size) {
			fprintf(stderr,
				"vnvme-perf: %s: --bs %u is not a multiple of the LBA size %u\n",
				O.devs[d], O.bs, devs[d].ns.lba_size);
			return 2;
		}
		uint64_t mx = vnvme_ctrl_max_xfer(devs[d].c);
		if (mx && O.bs > mx) {
			fprintf(stderr,
				"vnvme-perf: %s: --bs %u is more than the controller takes in one "
				"command: %llu KiB (its MDTS); use --bs %lluk or less\n",
				O.devs[d], O.bs, (unsigned long long)(mx >> 10),
				(unsigned long long)(mx >> 10));
			return 2;
		}
		devs[d].nr_lbas =
		    O.range_lbas && O.range_lbas < devs[d].ns.nlb ? O.range_lbas : devs[d].ns.nlb;
		devs[d].lbas = O.bs / devs[d].ns.lba_size;
		devs[d].slots = devs[d].nr_lbas / devs[d].lbas;
		if (devs[d].nr_lbas < O.bs / devs[d].ns.lba_size) {
			fprintf(stderr, "vnvme-perf: %s: the range is smaller than one block\n",
				O.devs[d]);
			return 2;
		}
	}
	for (unsigned i = 0; i < O.jobs; i++) {
		struct job *j = &jobs[i];
		j->id = i;
		j->rng = O.seed * 0x9e3779b97f4a7c15ull + i + 1;
		hist_init(&j->rd);
		hist_init(&j->wr);
		j->cpl = calloc(O.qd, sizeof(*j->cpl));
		if (!j->cpl)
			return 1;
		for (unsigned d = 0; d < O.nr_devs; d++) {
			struct vnvme_qpair_opts qo = {.depth = queue_entries(devs[d].c),
						      .interrupts = O.interrupts};
			struct qp *qp = &j->qps[d];
			qp->d = &devs[d];
			ret = vnvme_qpair_create(devs[d].c, &qo, &qp->q);
			if (ret) {
				fprintf(stderr, "vnvme-perf: %s: queue pair for job %u: %s\n",
					O.devs[d], i, vnvme_ctrl_errmsg(devs[d].c));
				return 1;
			}
			qp->h = vnvme_qpair_hot(qp->q, VNVME_HOT_VERSION);
			if (!qp->h) {
				fprintf(stderr,
					"vnvme-perf: libvnvme's hot path is not version %u\n",
					VNVME_HOT_VERSION);
				return 1;
			}
			qp->ios = calloc(O.qd, sizeof(*qp->ios));
			if (!qp->ios)
				return 1;
			/* Jobs split sequential ranges so verify covers each block once. */
			qp->seq_next = 0;
			for (uint32_t k = 0; k < O.qd; k++) {
				qp->ios[k] = (struct io){.j = j, .qp = qp};
				qp->ios[k].buf = vnvme_dma_alloc(devs[d].c, O.bs);
				if (!qp->ios[k].buf) {
					fprintf(stderr, "vnvme-perf: out of DMA memory\n");
					return 1;
				}
				for (int w = 0; w < 2; w++) {
					ret = vnvme_rw_prep(devs[d].c, &qp->ios[k].rw[w],
							    w ? VNVME_NVM_WRITE : VNVME_NVM_READ,
							    devs[d].ns.nsid, qp->ios[k].buf,
							    devs[d].lbas, devs[d].ns.lba_size, NULL,
							    &qp->ios[k]);
					if (ret == -E2BIG) {
						fprintf(stderr,
							"vnvme-perf: --bs %u: more than libvnvme's "
							"PRP list holds (256 KiB)\n",
							O.bs);
						return 2;
					}
					if (ret) {
						fprintf(stderr, "vnvme-perf: %s: --bs %u: %s\n",
							O.devs[d], O.bs, strerror(-ret));
						return 1;
					}
				}
			}
		}
	}
	if (O.verify && O.jobs > 1) {
		fprintf(stderr,
			"vnvme-perf: --verify runs with one job (each block written once)\n");
		return 2;
	}

	t0 = mono_ns();
	for (unsigned i = 0; i < O.jobs; i++)
		pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]);
	if (!O.quiet) {
		uint64_t last = 0, tl = t0;
		for (unsigned sec = 1;; sec++) {
			bool alive = false;
			for (unsigned w = 0; w < 10; w++) {
				struct timespec ts = {0, 100000000};
				nanosleep(&ts, NULL);
				alive = false;
				for (unsigned i = 0; i < O.jobs; i++)
					if (!__atomic_load_n(&jobs[i].finished, __ATOMIC_ACQUIRE))
						alive = true;
				if (!alive)
					break;
			}
			uint64_t done = 0, errs = 0, tn = mono_ns();
			for (unsigned i = 0; i < O.jobs; i++) {
				done += __atomic_load_n(&jobs[i].done_ios, __ATOMIC_RELAXED);
				errs += __atomic_load_n(&jobs[i].errors, __ATOMIC_RELAXED);
			}
			/* As the summary: the I/Os that succeeded. Errors also count
			 * I/Os that never completed, hence the floor. */
			done = done > errs ? done - errs : 0;
			if (done < last)
				done = last;
			double iops = (double)(done - last) * 1e9 / (double)(tn - tl);
			fprintf(stderr, "[%4us] %.3fM IOPS, %.1f MiB/s\n", sec, iops / 1e6,
				iops * O.bs / 1048576.0);
			last = done;
			tl = tn;
			if (!alive)
				break;
		}
	}
	for (unsigned i = 0; i < O.jobs; i++)
		pthread_join(jobs[i].thread, NULL);
	ret = 0;

	hist_init(&rd);
	hist_init(&wr);
	const char *first_error = NULL;
	uint64_t first_bad = 0;
	int fatal = 0;
	for (unsigned i = 0; i < O.jobs; i++) {
		hist_merge(&rd, &jobs[i].rd);
		hist_merge(&wr, &jobs[i].wr);
		errors += jobs[i].errors;
		if (jobs[i].mismatches && !mismatches)
			first_bad = jobs[i].first_bad_lba;
		mismatches += jobs[i].mismatches;
		if (jobs[i].first_error[0] && !first_error)
			first_error = jobs[i].first_error;
		if (jobs[i].fatal)
			fatal = jobs[i].fatal;
	}
	/* The time I/O ran: first job's start to last job's last completion. */
	uint64_t tb = UINT64_MAX, te = 0;
	for (unsigned i = 0; i < O.jobs; i++) {
		if (jobs[i].t_begin_ns && jobs[i].t_begin_ns < tb)
			tb = jobs[i].t_begin_ns;
		if (jobs[i].t_end_ns > te)
			te = jobs[i].t_end_ns;
	}
	double secs = te > tb ? (double)(te - tb) / 1e9 : 0;
	if (O.json) {
		struct json_object *r = json_object_new_object(), *cfg = json_object_new_object();
		json_object_object_add(r, "version", json_object_new_int(1));
		json_object_object_add(cfg, "rw", json_object_new_string(run_name()));
		json_object_object_add(cfg, "bs", json_object_new_int64(O.bs));
		json_object_object_add(cfg, "qd", json_object_new_int64(O.qd));
		json_object_object_add(cfg, "jobs", json_object_new_int64(O.jobs));
		json_object_object_add(cfg, "devices", json_object_new_int64(O.nr_devs));
		json_object_object_add(cfg, "verify", json_object_new_boolean(O.verify));
		json_object_object_add(r, "config", cfg);
		json_object_object_add(r, "runtime_s", json_object_new_double(secs));
		json_object_object_add(r, "read", json_lat(&rd, secs, O.bs));
		json_object_object_add(r, "write", json_lat(&wr, secs, O.bs));
		json_object_object_add(r, "errors", json_object_new_int64((int64_t)errors));
		json_object_object_add(r, "verify_mismatches",
				       json_object_new_int64((int64_t)mismatches));
		if (first_error)
			json_object_object_add(r, "first_error",
					       json_object_new_string(first_error));
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
		json_object_put(r);
	} else {
		printf("vnvme-perf: %s bs=%u qd=%u jobs=%u devices=%u runtime=%.1fs\n", run_name(),
		       O.bs, O.qd, O.jobs, O.nr_devs, secs);
		if (rd.count)
			print_lat(stdout, "read", &rd, secs, O.bs);
		if (wr.count)
			print_lat(stdout, "write", &wr, secs, O.bs);
		printf("  errors=%llu", (unsigned long long)errors);
		if (O.verify)
			printf(" verify_mismatches=%llu", (unsigned long long)mismatches);
		printf("\n");
	}
	if (first_error)
		fprintf(stderr, "vnvme-perf: first error: %s\n", first_error);
	if (mismatches)
		fprintf(stderr, "vnvme-perf: verify: %llu block(s) mismatched, first at LBA %llu\n",
			(unsigned long long)mismatches, (unsigned long long)first_bad);
	if (O.plot) {
		struct hist all = rd;
		hist_merge(&all, &wr);
		if (plot(O.plot, &all))
			ret = 1;
	}
	if (!fatal) {
		for (unsigned i = 0; i < O.jobs; i++)
			for (unsigned d = 0; d < O.nr_devs; d++)
				vnvme_qpair_destroy(jobs[i].qps[d].q);
		for (unsigned d = 0; d < O.nr_devs; d++)
			vnvme_ctrl_close(devs[d].c);
	}
	return (errors || mismatches || fatal || ret) ? 1 : 0;
}
