/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf's engine: a load generator that keeps up with the device. Each
 * job is a thread with its own queue pair on every device. The I/O loop is
 * specialised per --rw mode at compile time (run_io); it reaps completions in
 * batches (perf_batch_<mode>, out of line) and reads the TSC twice per batch
 * (its completions, then its end after the doorbells).
 * Per I/O it costs one SQE write and a compare for the latency histogram,
 * which takes runs of equal latencies as one update: no allocation,
 * syscall, lock or mode switch. --verify takes a simpler path with callbacks
 * and a TSC read per event.
 *
 * All its state is file-local: the options (a copy), the devices, the jobs,
 * the stop flag and the TSC factor; engine.h is the way in.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf/engine.h"
#include "util/hist.h"
#include "util/tsc.h"
#include "perf/opts.h"
#include "vnvme/vnvme.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

/* The options, copied by engine_open: read on every path of the I/O loops,
 * which thus need no pointer to them. */
static struct opts O;
static volatile sig_atomic_t stop_flag;

/* ------------------------------------------------------------------------ */
/* Time: TSC, converted to ns once per sample with a calibrated factor. */

static double tsc_ns;

/* The device's clock too (src/util/tsc.h): its trace stamps and ours compare. */
static inline uint64_t now_ticks(void)
{
	return vn_tsc();
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void calibrate(void)
{
	tsc_ns = vn_tsc_ns_per_tick();
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

/*
 * One I/O slot. The hot part, what a completion and its resubmission
 * read and write, is two cache lines for either direction: rd's SQE
 * (line 0), rd's prp_n with start and lba (line 1), wr's SQE and prp_n
 * (lines 1-2). At QD128 the slots' lines are most of the L1 (128 x 3 lines
 * were 24 KiB of the AMD type's 32).
 */
struct io {
	struct vnvme_rw rd; /* the read and the write, prepared once for buf */
	uint64_t start;
	uint64_t lba;
	struct vnvme_rw wr;
	struct job *j;
	struct qp *qp;
	void *buf;
	bool write;
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct io, start) / 64 == 1 && offsetof(struct io, lba) / 64 == 1 &&
		   offsetof(struct io, rd.prp_n) / 64 == 1,
	       "a read touches lines 0 and 1 of its slot");
_Static_assert(offsetof(struct io, wr.sqe) / 64 == 1 &&
		   (offsetof(struct io, wr.prp_n) + sizeof(uint32_t) - 1) / 64 == 2,
	       "a write touches lines 1 and 2 of its slot");

struct qp {
	struct vnvme_qpair *q;
	struct vnvme_hot *h; /* its inline hot path */
	struct dev *d;
	struct io *ios;
	uint64_t last_progress;
	uint64_t seq_next; /* sequential workloads */
	/* --attribute: the device's trace records of this queue pair's SQ. */
	const struct vnvme_trace_rec *trace;
	uint32_t tr_entries;
	uint16_t sqid;
	uint64_t issued, limit; /* --verify: one pass over the range per phase */
};

struct job {
	unsigned id;
	pthread_t thread;
	struct qp qps[MAX_DEVS];
	struct vnvme_cpl *cpl; /* O.qd completions, for vnvme_hot_reap */
	uint64_t rng;
	/* results */
	struct vn_hist rd, wr;
	struct attribution *at; /* --attribute, else NULL */
	uint64_t done_ios;      /* read by the progress thread, relaxed */
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
		vn_hist_add(io->write ? &j->wr : &j->rd, lat);
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
	return rw_writes(rw, io) ? &io->wr : &io->rd;
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

/*
 * --attribute: split the latency of the I/O on CID cid, submitted at start
 * and reaped at reap, at the device's stamps in its trace record (complete:
 * its CQE was seen). Each part is a difference of two stamps, so the parts
 * sum to reap - start exactly. A record of another command in the slot is
 * counted as missed, never attributed.
 */
static __attribute__((noinline)) void attribute(struct job *j, const struct qp *qp, uint16_t cid,
						uint64_t start, uint64_t reap)
{
	struct attribution *a = j->at;
	struct vnvme_trace_rec rec;
	uint64_t f, d, p;

	if (!vnvme_trace_get(qp->trace, qp->tr_entries, qp->sqid, cid, &rec)) {
		a->missed++;
		return;
	}
	f = rec.fetch;
	d = rec.done;
	p = rec.post;
	if (unlikely(f < start || p > reap)) {
		/* The device's CPU reads a TSC a little apart from ours (seen:
		 * up to ~100 ns on a VM): clamp into [start, reap], so that no
		 * part is negative and they still sum to the total. */
		uint64_t skew = f < start ? start - f : p - reap;
		a->clamped++;
		if (skew > a->skew_max)
			a->skew_max = skew;
		f = f < start ? start : f > reap ? reap : f;
		p = p < f ? f : p > reap ? reap : p;
		d = d < f ? f : d > p ? p : d;
	}
	vn_hist_add(&a->h[AT_SUBMIT_FETCH], f - start);
	vn_hist_add(&a->h[AT_FETCH_DONE], d - f);
	vn_hist_add(&a->h[AT_DONE_POST], p - d);
	vn_hist_add(&a->h[AT_POST_REAP], reap - p);
	vn_hist_add(&a->h[AT_SERVICE], p - f);
	vn_hist_add(&a->h[AT_TOTAL], reap - start);
}

/*
 * A batch's latencies, in runs: every completion of a batch ends at the
 * batch's one TSC read, and the I/Os one batch submitted start at its one
 * TSC read, so consecutive completions usually have the same latency. A
 * run of them is one histogram update (vn_hist_add_n, exact: the same
 * buckets, sums and extremes as one update each), at QD16 one per batch.
 * The updates' chains through memory (bucket, sum, sum of squares) cost
 * more than their instructions say: one update per I/O took the AMD type's
 * null 512 B QD16 from 10 M to 7 M IOPS in its slow mode
 * (docs/performance.md, "Where the cycles go").
 */
struct lat_run {
	uint64_t start; /* the run's submission stamp */
	uint64_t n;     /* completions in the run; 0: none yet */
	bool write;
};

static inline __attribute__((always_inline)) void lat_flush(struct job *j, struct lat_run *lr,
							    uint64_t t)
{
	if (lr->n)
		vn_hist_add_n(lr->write ? &j->wr : &j->rd, t - lr->start, lr->n);
	lr->n = 0;
}

/* Account a completion (dw3: its CQE's dword 3, cid its CID) that arrived
 * by t: its latency joins the batch's run lr; attr (a constant): --attribute. */
static inline __attribute__((always_inline)) void io_done(struct job *j, const struct qp *qp,
							  const struct io *io, enum rw rw,
							  uint32_t dw3, uint16_t cid, uint64_t t,
							  struct lat_run *lr, const bool attr)
{
	bool write = rw_writes(rw, io);

	/* The Status Field is non-zero: bits 31:17, above the phase. A failed
	 * I/O is an error, not a result: the histograms (IOPS, bandwidth,
	 * latency) count the I/Os that succeeded. */
	if (unlikely(dw3 & 0xfffe0000u)) { /* one test, no shift */
		io_failed(j, io, write, dw3);
	} else { /* in TSC ticks; converted to ns once, at the end */
		if (io->start == lr->start && write == lr->write) {
			lr->n++;
		} else {
			lat_flush(j, lr, t);
			*lr = (struct lat_run){.start = io->start, .n = 1, .write = write};
		}
		if (attr)
			attribute(j, qp, cid, io->start, t);
	}
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
							uint64_t t, struct lba_gen *g,
							struct lat_run *lr, const bool attr)
{
	struct io *io = c->arg;
	const struct vnvme_rw *cmd;
	int ret;

	io_done(j, qp, io, rw, c->dw3, c->cid, t, lr, attr);
	cmd = io_next(io, rw, t, g);
	ret = vnvme_hot_batch_resubmit(b, c->cid, cmd, io->lba);
	if (unlikely(ret)) {
		submit_failed(j, io, ret);
		r->inflight--;
	}
}

static inline __attribute__((always_inline)) void batch(struct job *j, struct qp *qp, struct run *r,
							enum rw rw, const bool attr)
{
	struct vnvme_hot_batch b;
	unsigned n = vnvme_hot_batch_begin(&b, qp->h, O.batch), k;
	uint64_t skipped = 0, t, end;
	struct lba_gen g;
	struct lat_run lr = {0};

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
		again(j, qp, r, &b, &c, rw, t, &g, &lr, attr);
	}
	while (n--) {
		struct vnvme_hot_cpl c;

		if (unlikely(!vnvme_hot_batch_take(&b, &c))) {
			skipped++;
			continue;
		}
		if (r->left) {
			r->left--;
			again(j, qp, r, &b, &c, rw, t, &g, &lr, attr);
		} else {
			io_done(j, qp, c.arg, rw, c.dw3, c.cid, t, &lr, attr);
			vnvme_hot_batch_release(&b, c.cid);
			r->inflight--;
		}
	}
	lat_flush(j, &lr, t);
	gen_store(&g, j, qp);
	vnvme_hot_batch_end(&b);
	/* One doorbell write each for the batch; the CQ head moved, so
	 * without vnvme_hot_ring()'s check. */
	vnvme_qpair_ring(qp->q);
	/*
	 * The batch's end, read after the doorbells: the stall check's
	 * progress stamp. Read here rather than reusing t, because the read
	 * also holds back the loop's first poll of the CQ after a ring: null
	 * 512 B QD128 on the AMD type went from 63 to 71-76 M IOPS with it (and
	 * from 17.8 to 21.2 M in its slow mode; an empty loop of the same
	 * length gave half of that, a PAUSE nothing; docs/performance.md).
	 */
	end = now_ticks();
	r->done += b.taken - skipped;
	/* Progress is a completion of ours: a broken controller that only
	 * posts CQEs nobody asked for still looks stalled. */
	if (b.taken != skipped)
		qp->last_progress = end;
	/* Read by the progress thread, relaxed: once per batch. */
	__atomic_store_n(&j->done_ios, r->done, __ATOMIC_RELAXED);
}

/* One instance per mode, out of line: the unit a profiler counts. */
static __attribute__((noinline)) void perf_batch_randread(struct job *j, struct qp *qp,
							  struct run *r)
{
	batch(j, qp, r, RW_RANDREAD, false);
}
static __attribute__((noinline)) void perf_batch_randwrite(struct job *j, struct qp *qp,
							   struct run *r)
{
	batch(j, qp, r, RW_RANDWRITE, false);
}
static __attribute__((noinline)) void perf_batch_read(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_READ, false);
}
static __attribute__((noinline)) void perf_batch_write(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_WRITE, false);
}
static __attribute__((noinline)) void perf_batch_randrw(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, RW_RANDRW, false);
}
/* --attribute: one instance, every mode (rw is not a constant here). */
static __attribute__((noinline)) void perf_batch_attr(struct job *j, struct qp *qp, struct run *r)
{
	batch(j, qp, r, O.rw, true);
}

/* rw is a constant in every run_io instance: the switch folds away. */
static inline __attribute__((always_inline)) void
perf_batch(struct job *j, struct qp *qp, struct run *r, enum rw rw, const bool attr)
{
	if (attr) {
		perf_batch_attr(j, qp, r);
		return;
	}
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
							 enum rw rw, const bool attr)
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
				perf_batch(j, qp, &r, rw, attr);
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
	run_io(j, dl, RW_RANDREAD, false);
}
static void run_randwrite(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_RANDWRITE, false);
}
static void run_read(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_READ, false);
}
static void run_write(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_WRITE, false);
}
static void run_randrw(struct job *j, uint64_t dl)
{
	run_io(j, dl, RW_RANDRW, false);
}
static void run_attr(struct job *j, uint64_t dl)
{
	run_io(j, dl, O.rw, true);
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
	(O.attribute ? run_attr : run_mode[O.rw])(j, deadline);
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

/*
 * Ring entries per queue pair on controller c: --queue-size, else the
 * queue depth and a quarter more, rounded up to 32 (QD16: 32, QD128: 160),
 * at most the controller's MQES + 1. Not Linux's 1024: the rings' lines
 * share the L1 with the I/O slots, and null 512 B randread QD128 on the
 * AMD type ran at 61 % of the ceiling with 256 entries against 86 % with
 * 160, QD16 at 52 % with 256 against 84 % with 32, each ceiling on the
 * same ring (docs/performance.md, "Ring size").
 */
static uint32_t ring_entries; /* the first queue pair's, for the report */

static uint32_t queue_entries(const struct vnvme_ctrl *c)
{
	uint32_t max = vnvme_ctrl_max_qdepth(c), n = (O.qd + O.qd / 4 + 31) / 32 * 32;

	if (O.qsize)
		n = O.qsize;
	else if (n > max)
		n = max;
	if (n <= O.qd)
		n = O.qd + 1;
	if (!ring_entries)
		ring_entries = n;
	return n;
}

void engine_calibrate(void)
{
	calibrate();
}

int engine_open(const struct opts *o)
{
	int ret;

	O = *o;
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
		vn_hist_init(&j->rd);
		vn_hist_init(&j->wr);
		if (O.attribute) {
			j->at = calloc(1, sizeof(*j->at));
			if (!j->at)
				return 1;
			for (unsigned k = 0; k < AT_NR; k++)
				vn_hist_init(&j->at->h[k]);
		}
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
			if (O.attribute) {
				uint64_t hz;
				qp->trace = vnvme_qpair_trace(qp->q, &qp->tr_entries, &hz);
				qp->sqid = vnvme_qpair_id(qp->q);
				if (!qp->trace) {
					fprintf(stderr,
						"vnvme-perf: %s: --attribute needs the device's "
						"trace table: start vnvme-target with --trace (or "
						"\"trace\": true)\n",
						O.devs[d]);
					return 2;
				}
			}
			qp->ios = aligned_alloc(64, O.qd * sizeof(*qp->ios));
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
					ret = vnvme_rw_prep(
					    devs[d].c, w ? &qp->ios[k].wr : &qp->ios[k].rd,
					    w ? VNVME_NVM_WRITE : VNVME_NVM_READ, devs[d].ns.nsid,
					    qp->ios[k].buf, devs[d].lbas, devs[d].ns.lba_size, NULL,
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

	return 0;
}

void engine_start(void)
{
	for (unsigned i = 0; i < O.jobs; i++)
		pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]);
}

void engine_stop(void)
{
	stop_flag = 1;
}

uint64_t engine_now_ns(void)
{
	return mono_ns();
}

bool engine_running(void)
{
	for (unsigned i = 0; i < O.jobs; i++)
		if (!__atomic_load_n(&jobs[i].finished, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

void engine_counts(uint64_t *done, uint64_t *errors)
{
	*done = *errors = 0;
	for (unsigned i = 0; i < O.jobs; i++) {
		*done += __atomic_load_n(&jobs[i].done_ios, __ATOMIC_RELAXED);
		*errors += __atomic_load_n(&jobs[i].errors, __ATOMIC_RELAXED);
	}
}

void engine_wait(void)
{
	for (unsigned i = 0; i < O.jobs; i++)
		pthread_join(jobs[i].thread, NULL);
}

void engine_result(struct result *r)
{
	uint64_t tb = UINT64_MAX, te = 0;

	*r = (struct result){.tsc_ns = tsc_ns};
	vn_hist_init(&r->rd);
	vn_hist_init(&r->wr);
	if (O.attribute) {
		static struct attribution at;
		for (unsigned k = 0; k < AT_NR; k++)
			vn_hist_init(&at.h[k]);
		at.missed = at.clamped = at.skew_max = 0;
		for (unsigned i = 0; i < O.jobs; i++) {
			if (!jobs[i].at)
				continue;
			for (unsigned k = 0; k < AT_NR; k++)
				vn_hist_merge(&at.h[k], &jobs[i].at->h[k]);
			at.missed += jobs[i].at->missed;
			at.clamped += jobs[i].at->clamped;
			if (jobs[i].at->skew_max > at.skew_max)
				at.skew_max = jobs[i].at->skew_max;
		}
		r->at = &at;
	}
	for (unsigned i = 0; i < O.jobs; i++) {
		vn_hist_merge(&r->rd, &jobs[i].rd);
		vn_hist_merge(&r->wr, &jobs[i].wr);
		r->errors += jobs[i].errors;
		if (jobs[i].mismatches && !r->mismatches)
			r->first_bad = jobs[i].first_bad_lba;
		r->mismatches += jobs[i].mismatches;
		if (jobs[i].first_error[0] && !r->first_error)
			r->first_error = jobs[i].first_error;
		if (jobs[i].fatal)
			r->fatal = jobs[i].fatal;
	}
	/* The time I/O ran: first job's start to last job's last completion. */
	for (unsigned i = 0; i < O.jobs; i++) {
		if (jobs[i].t_begin_ns && jobs[i].t_begin_ns < tb)
			tb = jobs[i].t_begin_ns;
		if (jobs[i].t_end_ns > te)
			te = jobs[i].t_end_ns;
	}
	r->secs = te > tb ? (double)(te - tb) / 1e9 : 0;
	r->ring = ring_entries;
}

void engine_close(const struct result *r)
{
	if (r->fatal)
		return;
	for (unsigned i = 0; i < O.jobs; i++)
		for (unsigned d = 0; d < O.nr_devs; d++)
			vnvme_qpair_destroy(jobs[i].qps[d].q);
	for (unsigned d = 0; d < O.nr_devs; d++)
		vnvme_ctrl_close(devs[d].c);
}
