/* SPDX-License-Identifier: MIT */
/* vnvme-perf's command line: parsing, checks that need no device, --help. */
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf/opts.h"

static const char *const rw_names[] = {"randread", "randwrite", "read", "write", "randrw"};

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
	    "  --queue-size N    ring entries per queue pair, above --qd (default --qd and\n"
	    "                    a quarter, rounded up to 32, at most the controller's\n"
	    "                    MQES + 1; Linux's driver takes 1024: slower here,\n"
	    "                    docs/perf.md)\n"
	    "  --batch N         completions taken per batch at most, then resubmitted\n"
	    "                    and the doorbells rung (default 32; the whole --qd can\n"
	    "                    be slower: docs/perf.md)\n"
	    "  --jobs N          threads; each has a queue pair on every device (default 1)\n"
	    "  --cpus LIST       pin jobs to these CPUs, e.g. 1 or 0,2 or 0-3\n"
	    "  --runtime SEC     how long                                      (default 10)\n"
	    "  --ios N           stop after N I/Os per job instead of a time\n"
	    "  --ns NSID         namespace                                     (default 1)\n"
	    "  --range LBAS      use only the first LBAS blocks of the namespace\n"
	    "  --verify          write every block of the range with a pattern carrying\n"
	    "                    its LBA, read it all back and compare; mismatches by LBA\n"
	    "  --interrupts      MSI-X interrupts to an eventfd (default: polled queues)\n"
	    "  --attribute       split each I/O's latency into host submit -> device fetch,\n"
	    "                    device service and device post -> host reap, from the\n"
	    "                    device's trace table (vnvme-target --trace; see\n"
	    "                    docs/attribution.md)\n"
	    "  --json            print the result as JSON (docs/perf.md has the schema)\n"
	    "  --plot FILE       write a latency histogram PNG with gnuplot (needs it in $PATH)\n"
	    "  --seed N          random seed and verify generation             (default 1)\n"
	    "  --quiet           no progress line\n"
	    "  --timeline MS     the progress every MS ms (10..3600000) instead of every\n"
	    "                    second, and with --json each interval's IOPS in the\n"
	    "                    result (\"timeline\"): stalls and changes of speed\n"
	    "                    inside a run (docs/perf.md)\n"
	    "  -h, --help        this text\n"
	    "\n"
	    "Exit status: 0; 1 on any I/O error, verify mismatch or device failure; 2 on\n"
	    "bad options.\n");
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

/* *v = s, a decimal number (strtoull's: "" is 0) in [lo, hi]? */
static bool num_in(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;

	*v = strtoull(s, &end, 10);
	return !*end && *v >= lo && *v <= hi;
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

const char *opts_run_name(const struct opts *o)
{
	return o->verify ? "verify" : rw_names[o->rw];
}

int opts_parse(struct opts *o, int argc, char **argv)
{
	enum {
		O_SOCKET = 256,
		O_RW,
		O_MIX,
		O_BS,
		O_QD,
		O_QSIZE,
		O_BATCH,
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
		O_IRQ,
		O_ATTR,
		O_TIMELINE
	};
	static const struct option lo[] = {
	    {"socket", 1, NULL, O_SOCKET},
	    {"pci", 1, NULL, O_SOCKET},
	    {"rw", 1, NULL, O_RW},
	    {"mix", 1, NULL, O_MIX},
	    {"bs", 1, NULL, O_BS},
	    {"qd", 1, NULL, O_QD},
	    {"queue-size", 1, NULL, O_QSIZE},
	    {"batch", 1, NULL, O_BATCH},
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
	    {"attribute", 0, NULL, O_ATTR},
	    {"timeline", 1, NULL, O_TIMELINE},
	    {"help", 0, NULL, 'h'},
	    {0},
	};
	uint64_t v;
	int opt;
	char *end;
	bool mix_set = false;

	*o = (struct opts){
	    .rw = RW_RANDREAD,
	    .mix = 70,
	    .bs = 4096,
	    .qd = 16,
	    .batch = 32,
	    .jobs = 1,
	    .runtime = 10,
	    .nsid = 1,
	    .seed = 1,
	};

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET:
			if (o->nr_devs == MAX_DEVS)
				return bad("too many devices (64 at most)", optarg);
			o->devs[o->nr_devs++] = optarg;
			break;
		case O_RW: {
			unsigned i;
			for (i = 0; i < 5 && strcmp(optarg, rw_names[i]); i++)
				;
			if (i == 5)
				return bad("--rw wants randread, randwrite, read, write or randrw",
					   optarg);
			o->rw = (enum rw)i;
			break;
		}
		case O_MIX:
			if (!num_in(optarg, 0, 100, &v))
				return bad("--mix wants 0..100", optarg);
			o->mix = (unsigned)v;
			mix_set = true;
			break;
		case O_BS:
			if (parse_size(optarg, &v) || !v || v > (1u << 20) || v % 512)
				return bad("--bs wants a multiple of 512 up to 1M", optarg);
			o->bs = (uint32_t)v;
			break;
		case O_QD:
			if (!num_in(optarg, 1, 4095, &v))
				return bad("--qd wants 1..4095", optarg);
			o->qd = (uint32_t)v;
			break;
		case O_QSIZE:
			if (!num_in(optarg, 2, 65536, &v))
				return bad("--queue-size wants 2..65536", optarg);
			o->qsize = (uint32_t)v;
			break;
		case O_BATCH:
			if (!num_in(optarg, 1, 65535, &v))
				return bad("--batch wants 1..65535", optarg);
			o->batch = (uint32_t)v;
			break;
		case O_JOBS:
			if (!num_in(optarg, 1, MAX_JOBS, &v))
				return bad("--jobs wants 1..64", optarg);
			o->jobs = (unsigned)v;
			break;
		case O_CPUS: {
			char *p = optarg;
			o->nr_cpus = 0;
			while (*p && o->nr_cpus < MAX_JOBS) {
				long a = strtol(p, &end, 10), b = a;
				if (end == p || a < 0)
					return bad("--cpus wants a list such as 1 or 0,2 or 0-3",
						   optarg);
				if (*end == '-')
					b = strtol(end + 1, &end, 10);
				if (b < a || b >= CPU_SETSIZE)
					return bad("--cpus wants CPU numbers 0..1023, low-high",
						   optarg);
				for (long c = a; c <= b && o->nr_cpus < MAX_JOBS; c++)
					o->cpus[o->nr_cpus++] = (int)c;
				p = *end == ',' ? end + 1 : end;
				if (*end && *end != ',')
					return bad("--cpus wants a list such as 1 or 0,2 or 0-3",
						   optarg);
			}
			break;
		}
		case O_RUNTIME:
			o->runtime = strtod(optarg, &end);
			if (*end || o->runtime <= 0 || o->runtime > 86400)
				return bad("--runtime wants seconds, 0 < s <= 86400", optarg);
			break;
		case O_IOS:
			if (!num_in(optarg, 1, UINT64_MAX, &o->ios))
				return bad("--ios wants a positive count", optarg);
			break;
		case O_NS:
			if (!num_in(optarg, 1, 0xfffffffeull, &v))
				return bad("--ns wants a namespace ID", optarg);
			o->nsid = (uint32_t)v;
			break;
		case O_RANGE:
			if (!num_in(optarg, 1, UINT64_MAX, &o->range_lbas))
				return bad("--range wants a block count", optarg);
			break;
		case O_VERIFY:
			o->verify = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_SEED:
			o->seed = strtoull(optarg, &end, 0);
			if (*end || !o->seed)
				return bad("--seed wants a non-zero number", optarg);
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case O_IRQ:
			o->interrupts = true;
			break;
		case O_ATTR:
			o->attribute = true;
			break;
		case O_TIMELINE:
			if (!num_in(optarg, 10, 3600000, &v))
				return bad("--timeline wants milliseconds, 10..3600000", optarg);
			o->timeline_ms = (uint32_t)v;
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
	if (!o->nr_devs) {
		fprintf(stderr, "vnvme-perf: no device: give --socket PATH (see --help)\n");
		return 2;
	}
	if (mix_set && o->rw != RW_RANDRW) {
		fprintf(stderr, "vnvme-perf: --mix is the read share of --rw randrw, not of %s\n",
			rw_names[o->rw]);
		return 2;
	}
	if (o->plot && !in_path("gnuplot")) {
		fprintf(stderr,
			"vnvme-perf: --plot needs gnuplot, which is not in $PATH (apt-get install "
			"gnuplot)\n");
		return 2;
	}
	if (o->nr_cpus) {
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
			for (unsigned i = 0; i < o->nr_cpus; i++)
				if (!CPU_ISSET(o->cpus[i], &allowed)) {
					fprintf(stderr,
						"vnvme-perf: --cpus: CPU %d is not one this "
						"process may run on (%ld online; see nproc, "
						"taskset -p $$)\n",
						o->cpus[i], sysconf(_SC_NPROCESSORS_ONLN));
					return 2;
				}
	}
	if (o->attribute && o->verify) {
		fprintf(stderr, "vnvme-perf: --attribute measures a workload, not --verify\n");
		return 2;
	}
	if (o->qsize && o->qsize <= o->qd) {
		fprintf(stderr,
			"vnvme-perf: --queue-size %u must be more than --qd %u (one entry "
			"of a ring always stays empty)\n",
			o->qsize, o->qd);
		return 2;
	}
	return -1;
}
