/* SPDX-License-Identifier: MIT */
/*
 * vnvme-vu-demo: the vfio-user protocol end to end, in one process. A server
 * thread serves the test device on a UNIX socket; the client connects,
 * negotiates, shares memory, maps the doorbell page, wires an interrupt, and
 * compares a doorbell through shared memory with a register access through a
 * socket message.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testdev/testdev.h"
#include "util/log.h"
#include "vu/client.h"

#define DMA_IOVA 0x100000000ull
#define DMA_SIZE (2u << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vnvme-vu-demo [--socket PATH] [--rings N] [--serve] [--verbose]\n"
		"\n"
		"Runs the vfio-user protocol end to end in one process: a server thread serves a\n"
		"small test device (registers, a shared-memory doorbell page, MSI-X) on a UNIX\n"
		"socket, and a client connects, shares a memfd as DMA memory, mmaps the doorbell\n"
		"page, wires an eventfd interrupt, and measures a doorbell round trip through\n"
		"shared memory against a register read through a socket message.\n"
		"\n"
		"  --socket PATH  socket to serve (default: a fresh directory under /tmp)\n"
		"  --rings N      doorbell round trips to time (default 100000)\n"
		"  --serve        only serve the test device until SIGINT/SIGTERM (for a\n"
		"                 client of your own, e.g. QEMU's vfio-user-pci)\n"
		"  --verbose      log every vfio-user message\n"
		"  -h, --help     this text\n");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

#define CHECK(expr, what)                                                                          \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ < 0) {                                                                      \
			fprintf(stderr, "vnvme-vu-demo: %s: %s\n", what, strerror(-r_));           \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int run_client(const char *path, unsigned rings)
{
	struct vu_client *c;
	struct vu_device_info di;
	struct vu_client_region bar2;
	struct vu_irq_info ii;
	uint8_t *db, *dma;
	size_t dblen;
	int memfd, efd;
	uint32_t id, seq = 0, samples = 1000;
	uint64_t *lat_db, *lat_msg, eventcount = 0;

	CHECK(vu_client_connect(path, 5000, &c), "connect");
	const struct vu_caps *caps = vu_client_server_caps(c);
	/* The client accepts only major VU_VERSION_MAJOR and a minor up to ours. */
	printf("connected to %s: vfio-user %u.%u, server max_msg_fds %u, max_data_xfer_size %llu\n",
	       path, VU_VERSION_MAJOR, VU_VERSION_MINOR, caps->max_msg_fds,
	       (unsigned long long)caps->max_data_xfer_size);

	CHECK(vu_client_device_info(c, &di), "DEVICE_GET_INFO");
	printf("device: %u regions, %u irq types, flags 0x%x\n", di.num_regions, di.num_irqs,
	       di.flags);
	for (uint32_t i = 0; i < di.num_regions; i++) {
		struct vu_client_region r;
		CHECK(vu_client_region_info(c, i, &r), "GET_REGION_INFO");
		if (r.size)
			printf("  region %u: %llu bytes%s%s%s, %u sparse mmap areas\n", i,
			       (unsigned long long)r.size, r.flags & VU_REGION_F_READ ? " R" : "",
			       r.flags & VU_REGION_F_WRITE ? " W" : "",
			       r.flags & VU_REGION_F_MMAP ? " mmap" : "", r.nr_sparse);
		if (r.fd >= 0)
			close(r.fd);
	}
	CHECK(vu_client_region_read(c, VU_PCI_CONFIG_REGION, 0, &id, 4), "config read");
	printf("config space: vendor %04x device %04x\n", id & 0xffff, id >> 16);

	/* DMA memory: a sealed memfd, as QEMU's memory-backend-memfd. */
	memfd = memfd_create("vu-demo-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, DMA_SIZE) < 0)
		CHECK(-errno, "memfd");
	fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	dma = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (dma == MAP_FAILED)
		CHECK(-errno, "mmap dma");
	CHECK(vu_client_dma_map(c, DMA_IOVA, DMA_SIZE, memfd, 0,
				VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE),
	      "DMA_MAP");
	close(memfd);

	/* Device-initiated DMA through a register command. */
	uint64_t iova = DMA_IOVA + 4096;
	uint32_t len = 4096, cmd = TD_DMA_FILL, seed = 7, sts, sum, want = 0;
	CHECK(vu_client_region_write(c, 0, TD_REG_SCRATCH, &seed, 4), "write SCRATCH");
	CHECK(vu_client_region_write(c, 0, TD_REG_DMA_ADDR, &iova, 8), "write DMA_ADDR");
	CHECK(vu_client_region_write(c, 0, TD_REG_DMA_LEN, &len, 4), "write DMA_LEN");
	CHECK(vu_client_region_write(c, 0, TD_REG_DMA_CMD, &cmd, 4), "write DMA_CMD");
	CHECK(vu_client_region_read(c, 0, TD_REG_DMA_STS, &sts, 4), "read DMA_STS");
	for (uint32_t i = 0; i < len; i++)
		want += (uint8_t)(i + seed);
	cmd = TD_DMA_SUM;
	CHECK(vu_client_region_write(c, 0, TD_REG_DMA_CMD, &cmd, 4), "write DMA_CMD");
	CHECK(vu_client_region_read(c, 0, TD_REG_DMA_SUM, &sum, 4), "read DMA_SUM");
	printf("device DMA: filled 4 KiB of shared memory (status %u), checksum %u (expected %u)\n",
	       sts, sum, want);
	if (sts || sum != want)
		return 1;

	/* Interrupt: MSI-X vector 1 on an eventfd. */
	CHECK(vu_client_irq_info(c, VU_PCI_MSIX_IRQ, &ii), "GET_IRQ_INFO");
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(vu_client_set_irqs(c, VU_PCI_MSIX_IRQ,
				 VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 1, 1, &efd,
				 NULL),
	      "SET_IRQS");

	/* The doorbell page, mmapped. */
	CHECK(vu_client_region_info(c, 2, &bar2), "GET_REGION_INFO 2");
	CHECK(vu_client_region_mmap(&bar2, 0, (void **)&db, &dblen), "mmap doorbell page");
	close(bar2.fd);
	uint64_t ctr_iova = DMA_IOVA;
	uint32_t vec = 1;
	memcpy(db + TD_DB_IOVA, &ctr_iova, 8);
	memcpy(db + TD_DB_VECTOR, &vec, 4);

	lat_db = calloc(samples, sizeof(*lat_db));
	lat_msg = calloc(samples, sizeof(*lat_msg));
	if (!lat_db || !lat_msg)
		return 1;
	uint64_t t0 = vn_now_ns();
	for (unsigned i = 0; i < rings && !stop; i++) {
		uint64_t s0 = vn_now_ns();
		seq++;
		/* Release: the iova above is visible before the new sequence. */
		__atomic_store_n((uint32_t *)(void *)(db + TD_DB_DOORBELL), seq, __ATOMIC_RELEASE);
		while (__atomic_load_n((uint32_t *)(void *)(db + TD_DB_DONE), __ATOMIC_ACQUIRE) !=
		       seq)
			;
		if (i < samples)
			lat_db[i] = vn_now_ns() - s0;
		if (i == 0)
			vec = 0xffffffffu, memcpy(db + TD_DB_VECTOR, &vec, 4);
	}
	uint64_t t1 = vn_now_ns();
	struct pollfd pfd = {.fd = efd, .events = POLLIN};
	if (poll(&pfd, 1, 1000) == 1 && read(efd, &eventcount, 8) != 8)
		eventcount = 0;
	uint64_t ctr;
	memcpy(&ctr, dma, 8);
	printf("doorbell through shared memory: %u round trips in %.1f ms, counter in DMA memory = "
	       "%llu, MSI-X eventfd fired %llu time(s)\n",
	       seq, (double)(t1 - t0) / 1e6, (unsigned long long)ctr,
	       (unsigned long long)eventcount);

	for (unsigned i = 0; i < samples && !stop; i++) {
		uint64_t s0 = vn_now_ns();
		CHECK(vu_client_region_read(c, 0, TD_REG_ID, &id, 4), "REGION_READ");
		lat_msg[i] = vn_now_ns() - s0;
	}
	unsigned n = VN_MIN(samples, seq);
	printf("median round trip: doorbell via shared memory %llu ns, register read via socket "
	       "message %llu ns (%.0fx)\n",
	       (unsigned long long)median(lat_db, n), (unsigned long long)median(lat_msg, samples),
	       (double)median(lat_msg, samples) / (double)VN_MAX(median(lat_db, n), 1));

	CHECK(vu_client_reset(c), "DEVICE_RESET");
	CHECK(vu_client_dma_unmap(c, DMA_IOVA, DMA_SIZE), "DMA_UNMAP");
	vu_client_close(c);
	munmap(db, dblen);
	munmap(dma, DMA_SIZE);
	close(efd);
	free(lat_db);
	free(lat_msg);
	if (ctr != seq || eventcount < 1) {
		fprintf(stderr, "vnvme-vu-demo: FAILED: counter %llu != rings %u or no interrupt\n",
			(unsigned long long)ctr, seq);
		return 1;
	}
	printf("vfio-user demo: OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'}, {"rings", required_argument, NULL, 'r'},
	    {"serve", no_argument, NULL, 'S'},        {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},         {0},
	};
	char dir[] = "/tmp/vnvme-demo-XXXXXX", path[256] = "";
	unsigned rings = 100000;
	bool serve = false;
	struct vn_evloop *loop;
	struct testdev *td;
	int opt, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("VNVME_LOG"))
		vn_log_set_level(VN_LOG_WARN);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case 'r': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);
			if (*end || v == 0 || v > 100000000) {
				fprintf(stderr,
					"vnvme-vu-demo: --rings wants 1..100000000, got '%s'\n",
					optarg);
				return 2;
			}
			rings = (unsigned)v;
			break;
		}
		case 'S':
			serve = true;
			if (!getenv("VNVME_LOG"))
				vn_log_set_level(VN_LOG_INFO);
			break;
		case 'v':
			vn_log_set_level(VN_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vnvme-vu-demo: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return 2;
	}
	if (!path[0]) {
		if (!mkdtemp(dir)) {
			perror("vnvme-vu-demo: mkdtemp");
			return 1;
		}
		snprintf(path, sizeof(path), "%s/testdev.sock", dir);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if ((ret = vn_evloop_create(&loop)) < 0 ||
	    (ret = testdev_create(path, loop, true, &td)) < 0) {
		fprintf(stderr, "vnvme-vu-demo: cannot serve %s: %s\n", path, strerror(-ret));
		return 1;
	}
	vn_evloop_start_thread(loop, "vu-ctl");
	if (serve) {
		printf("serving the test device on %s; Ctrl-C stops\n", path);
		fflush(stdout);
		while (!stop)
			pause();
		ret = 0;
	} else {
		ret = run_client(path, rings);
	}
	testdev_destroy(td);
	vn_evloop_join(loop);
	vn_evloop_destroy(loop);
	if (!strncmp(path, "/tmp/vnvme-demo-", 16))
		rmdir(dir);
	return ret;
}
