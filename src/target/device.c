/* SPDX-License-Identifier: MIT */
/*
 * The PCI face of an emulated NVMe controller:
 *  - config space: IDs (default 4e58:0001), class 01:08:02, no INTx pin,
 *    capabilities PCI power management, MSI-X, PCI Express (endpoint);
 *  - BAR0 (64-bit): controller registers by message at 0x0..0xfff, the
 *    doorbells from 0x1000 in a memfd the client mmaps (sparse mmap area), so a
 *    doorbell write is a plain store the pollers see;
 *  - BAR2 (64-bit, prefetchable), with "trace" only: the trace table
 *    (include/vnvme/trace.h, docs/attribution.md) in a memfd the client
 *    mmaps read-only;
 *  - BAR4: MSI-X table (0x0) and PBA, emulated by QEMU, kept here for other
 *    clients;
 *  - interrupts: MSI-X through the client's eventfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nvme/model.h"
#include "pci/cfg.h"
#include "target/config.h"
#include "target/device.h"
#include "util/log.h"
#include "util/tsc.h"
#include "vnvme/spec.h"
#include "vnvme/trace.h"
#include "vu/server.h"

struct vnvme_dev {
	char name[32];
	struct vnvme_dev_conf conf;
	struct pcicfg cfg;
	struct pcicfg cfg_init;
	int bar0_fd;
	uint8_t *bar0;
	uint64_t bar0_size;
	uint8_t *bar4;
	uint64_t bar4_size;
	int bar2_fd;    /* the trace table, or -1 */
	int bar2_ro_fd; /* ... opened again read-only: the client's */
	uint8_t *bar2;
	uint64_t bar2_size;
	uint32_t nr_vectors;
	/* By NSID: attached, or detached with I/O still in flight (kept until
	 * a later remove or the device's end). conf.ns lists the attached. */
	struct vn_be *be[NVME_MAX_NS + 1];
	struct nvme_ctrl *ctrl;
	struct vu_server *srv;
	struct vn_poller **pollers;
	unsigned nr_pollers;
};

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/*
 * A memfd whose size the client cannot change: sealed against shrinking and
 * growing once sized (a client that truncated it would make our own stores
 * into it fault, SIGBUS, and take every controller of the process down).
 */
static int sealed_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The trace table (include/vnvme/trace.h): a header and, per SQID, a record
 * per CID below the queue size rounded up to a power of 2, in a memfd: its
 * pages cost memory only once a command touches them (a 65536-entry queue's
 * records are 2 MiB, used as far as the host's CIDs reach).
 */
static int trace_setup(struct vnvme_dev *d, struct nvme_ctrl_opts *co)
{
	uint32_t entries = (uint32_t)pow2_at_least(VN_MAX(d->conf.qdepth, 2u));
	uint32_t nq = d->conf.queues + 1;
	uint64_t size =
	    VNVME_TRACE_REC_OFFSET + (uint64_t)nq * entries * sizeof(struct vnvme_trace_rec);
	struct vnvme_trace_hdr *h;

	char self[64];

	d->bar2_size = pow2_at_least(size);
	if ((d->bar2_fd = sealed_memfd("vnvme-trace", d->bar2_size)) < 0)
		return d->bar2_fd;
	/* The client's descriptor is read-only: it can map the table, neither
	 * write it (forge records) nor punch holes in it. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", d->bar2_fd);
	if ((d->bar2_ro_fd = open(self, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	d->bar2 = mmap(NULL, d->bar2_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->bar2_fd, 0);
	if (d->bar2 == MAP_FAILED) {
		d->bar2 = NULL;
		return -errno;
	}
	h = (struct vnvme_trace_hdr *)(void *)d->bar2;
	*h = (struct vnvme_trace_hdr){
	    .magic = VNVME_TRACE_MAGIC,
	    .version = VNVME_TRACE_VERSION,
	    .hdr_size = sizeof(*h),
	    .rec_size = sizeof(struct vnvme_trace_rec),
	    .nr_queues = nq,
	    .entries = entries,
	    .tsc_hz = (uint64_t)(1e9 / vn_tsc_ns_per_tick() + 0.5),
	    .rec_offset = VNVME_TRACE_REC_OFFSET,
	    .size = size,
	};
	co->trace = (struct vnvme_trace_rec *)(void *)(d->bar2 + VNVME_TRACE_REC_OFFSET);
	co->trace_entries = entries;
	return 0;
}

static void irq(void *arg, uint16_t iv)
{
	struct vnvme_dev *d = arg;

	vu_server_irq_trigger(d->srv, VU_PCI_MSIX_IRQ, iv);
}

/* The server listens before the controller exists: until it does, the
 * device answers nothing. */
static struct nvme_ctrl *ctrl_of(struct vnvme_dev *d)
{
	return __atomic_load_n(&d->ctrl, __ATOMIC_ACQUIRE);
}

static int region_access(void *opaque, uint32_t region, uint64_t off, void *buf, uint32_t n,
			 bool wr)
{
	struct vnvme_dev *d = opaque;

	if (!ctrl_of(d))
		return -EAGAIN;

	switch (region) {
	case VU_PCI_CONFIG_REGION:
		if (wr)
			pcicfg_write(&d->cfg, off, buf, n);
		else
			pcicfg_read(&d->cfg, off, buf, n);
		return 0;
	case 0:
		if (off < VNVME_REG_DBS) {
			if (off + n > VNVME_REG_DBS)
				return -EINVAL; /* an access straddling registers and doorbells */
			return wr ? nvme_ctrl_reg_write(d->ctrl, off, buf, n)
				  : nvme_ctrl_reg_read(d->ctrl, off, buf, n);
		}
		/* A doorbell by message (a client that could not mmap): the same
		 * memory the pollers read. */
		if (wr && n == 4 && !(off & 3))
			vn_store_release((uint32_t *)(void *)(d->bar0 + off), *(uint32_t *)buf);
		else if (wr)
			memcpy(d->bar0 + off, buf, n);
		else
			memcpy(buf, d->bar0 + off, n);
		return 0;
	case VNVME_TRACE_BAR:
		/* The trace table by message: read-only, as it is mapped. */
		if (wr || !d->bar2)
			return -EINVAL;
		memcpy(buf, d->bar2 + off, n);
		return 0;
	case 4:
		if (wr)
			memcpy(d->bar4 + off, buf, n);
		else
			memcpy(buf, d->bar4 + off, n);
		return 0;
	default:
		return -EINVAL;
	}
}

/* The client truncated memory the controller used (SIGBUS, contained by the
 * vfio-user server): this controller fails, the others carry on. */
static void dev_dma_fault(void *opaque, uint64_t iova, uint64_t len)
{
	struct vnvme_dev *d = opaque;

	(void)iova;
	(void)len;
	if (ctrl_of(d))
		nvme_ctrl_fatal(d->ctrl, "the host truncated its memory under a DMA map");
}

static void dev_reset(void *opaque, enum vu_reset_reason why)
{
	struct vnvme_dev *d = opaque;

	if (!ctrl_of(d))
		return;
	nvme_ctrl_reset(d->ctrl);
	if (why == VU_RESET_DISCONNECT) {
		/* The next client gets the device as after power-on. */
		d->cfg = d->cfg_init;
		memset(d->bar4, 0, d->bar4_size);
		/* And none of the last client's trace records: the queues are
		 * gone (the reset stopped them), so nothing writes the table.
		 * A hole, not a memset: the pages go back, untouched ones stay
		 * unallocated. */
		if (d->bar2 && fallocate(d->bar2_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 VNVME_TRACE_REC_OFFSET,
					 (off_t)(d->bar2_size - VNVME_TRACE_REC_OFFSET)) < 0)
			vn_warn("%s: trace table: cannot clear the last client's records: %s",
				d->name, strerror(errno));
	}
}

/* A namespace's backend, with the device's defaults. */
static int be_create(const struct vnvme_dev *d, const struct vnvme_ns_conf *nc, struct vn_be **out,
		     const char **e)
{
	struct vn_be_opts bo = nc->be;

	/* The file backend's io_uring per polling thread: room for all the
	 * controller's queues on one thread can have in flight (one per
	 * entry), 256..4096; past that, requests wait on its backlog
	 * (back-pressure, never an error). */
	if (bo.type == VN_BE_FILE && !bo.qdepth) {
		uint64_t per = (uint64_t)((d->conf.queues + d->nr_pollers - 1) / d->nr_pollers) *
			       d->conf.qdepth;
		bo.qdepth = (unsigned)VN_MIN(VN_MAX(per, 256u), 4096u);
	}
	return vn_be_create(&bo, out, e);
}

static int ns_conf_cmp(const void *a, const void *b)
{
	const struct vnvme_ns_conf *x = a, *y = b;

	return (x->nsid > y->nsid) - (x->nsid < y->nsid);
}

static void cfg_setup(struct vnvme_dev *d, uint64_t pba_off)
{
	struct pcicfg_ids ids = {
	    .vendor = d->conf.vendor,
	    .device = d->conf.device,
	    .subsys_vendor = d->conf.vendor,
	    .subsys = d->conf.device,
	    .class_code = 0x010802, /* mass storage, NVM, NVM Express */
	    .intx_pin = 0,          /* MSI-X only (see docs/target.md) */
	};
	int off;

	pcicfg_init(&d->cfg, &ids);
	pcicfg_set_bar(&d->cfg, 0, d->bar0_size, PCI_BAR_MEM_64);
	if (d->bar2)
		pcicfg_set_bar(&d->cfg, VNVME_TRACE_BAR, d->bar2_size,
			       PCI_BAR_MEM_64 | PCI_BAR_PREFETCH);
	pcicfg_set_bar(&d->cfg, 4, d->bar4_size, 0);
	/* PCI Power Management 1.2: D0 only; PMCSR power state writable. */
	off = pcicfg_add_cap(&d->cfg, PCI_CAP_ID_PM, 8);
	pcicfg_put16(&d->cfg, (unsigned)off + 2, 0x0003);
	pcicfg_set_wmask(&d->cfg, (unsigned)off + 4, 2, 0x0003);
	/* MSI-X: table at BAR4 + 0, PBA after it. */
	off = pcicfg_add_cap(&d->cfg, PCI_CAP_ID_MSIX, 12);
	pcicfg_put16(&d->cfg, (unsigned)off + 2, (uint16_t)(d->nr_vectors - 1));
	pcicfg_set_wmask(&d->cfg, (unsigned)off + 2, 2, 0xc000);
	pcicfg_put32(&d->cfg, (unsigned)off + 4, 0 | 4);
	pcicfg_put32(&d->cfg, (unsigned)off + 8, (uint32_t)pba_off | 4);
	/* PCI Express 2.0 capability, endpoint, x1 at 2.5 GT/s. */
	off = pcicfg_add_cap(&d->cfg, PCI_CAP_ID_EXP, 60);
	pcicfg_put16(&d->cfg, (unsigned)off + 2, 0x0002);        /* version 2, type 0: endpoint */
	pcicfg_put32(&d->cfg, (unsigned)off + 4, 0x00008000);    /* DevCap: role-based reset */
	pcicfg_set_wmask(&d->cfg, (unsigned)off + 8, 2, 0x7cff); /* DevCtl */
	pcicfg_put32(&d->cfg, (unsigned)off + 12, 0x00000011);   /* LinkCap: x1, 2.5 GT/s */
	pcicfg_put16(&d->cfg, (unsigned)off + 18, 0x0011);       /* LinkSta */
	d->cfg_init = d->cfg;
}

/* The models parsed for nvme_ctrl_create (it keeps copies). */
static void models_free(struct nvme_model_conf *mc)
{
	if (!mc)
		return;
	for (unsigned i = 0; i < NVME_MAX_NS; i++)
		nvme_model_conf_free(&mc[i]);
	free(mc);
}

int vnvme_dev_create(const struct vnvme_dev_conf *conf, unsigned index, struct vn_evloop *loop,
		     struct vn_qsbr *qsbr, struct vn_poller **pollers, unsigned nr_pollers,
		     struct vnvme_dev **out, char *err, size_t errlen)
{
	struct vnvme_dev *d = calloc(1, sizeof(*d));
	struct nvme_ctrl_opts co = {0};
	struct vu_device vd = {0};
	struct vu_server_opts so = {0};
	struct nvme_model_conf *mc = NULL; /* by position in conf->ns */
	const char *e = NULL;
	uint64_t pba_off;
	int ret;

	if (!d)
		return -ENOMEM;
	d->bar0_fd = -1;
	d->bar2_fd = -1;
	d->bar2_ro_fd = -1;
	d->conf = *conf;
	/* The device owns its configuration's strings (namespaces come and
	 * go), copied below: none is the caller's, whatever fails first. */
	for (uint32_t i = 0; i < NVME_MAX_NS; i++) {
		d->conf.ns[i].be.path = NULL;
		d->conf.ns[i].model = NULL;
	}
	snprintf(d->name, sizeof(d->name), "nvme%u", index);
	if (!d->conf.vendor) {
		d->conf.vendor = 0x4e58;
		d->conf.device = 0x0001;
	}
	if (!d->conf.serial[0])
		snprintf(d->conf.serial, sizeof(d->conf.serial), "VNVME%04x%08x", index,
			 (unsigned)getpid());
	d->nr_vectors = conf->queues + 1; /* one per I/O queue, plus admin */
	/* Rotate the controller's queues over the pollers from first_poller. */
	d->nr_pollers = nr_pollers;
	d->pollers = calloc(nr_pollers, sizeof(*d->pollers));
	if (!d->pollers) {
		ret = -ENOMEM;
		goto err;
	}
	for (unsigned i = 0; i < nr_pollers; i++)
		d->pollers[i] = pollers[(conf->first_poller + i) % nr_pollers];

	/* BAR0: registers page + doorbells, a power of two >= 16 KiB. */
	d->bar0_size =
	    pow2_at_least(VN_MAX(VNVME_REG_DBS + nvme_doorbell_bytes(conf->queues), 16384ull));
	if ((d->bar0_fd = sealed_memfd("vnvme-bar0", d->bar0_size)) < 0) {
		ret = d->bar0_fd;
		snprintf(err, errlen, "memfd for BAR0: %s", strerror(-ret));
		goto err;
	}
	d->bar0 = mmap(NULL, d->bar0_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->bar0_fd, 0);
	if (d->bar0 == MAP_FAILED) {
		d->bar0 = NULL;
		ret = -errno;
		goto err;
	}
	if (conf->trace && (ret = trace_setup(d, &co)) < 0) {
		snprintf(err, errlen, "trace table: %s", strerror(-ret));
		goto err;
	}
	pba_off = ((uint64_t)d->nr_vectors * 16 + 4095) & ~4095ull;
	d->bar4_size = pow2_at_least(VN_MAX(pba_off + ((d->nr_vectors + 63) / 64) * 8, 4096ull));
	d->bar4 = calloc(1, d->bar4_size);
	if (!d->bar4) {
		ret = -ENOMEM;
		goto err;
	}
	cfg_setup(d, pba_off);

	for (uint32_t i = 0; i < conf->nr_ns; i++) {
		struct vnvme_ns_conf *nc = &d->conf.ns[i];
		uint32_t nsid = conf->ns[i].nsid ? conf->ns[i].nsid : i + 1;

		if (nsid > NVME_MAX_NS || d->be[nsid]) {
			ret = -EINVAL;
			snprintf(err, errlen, "namespace %u: namespace IDs must be unique, 1..%u",
				 nsid, NVME_MAX_NS);
			goto err;
		}
		nc->nsid = nsid;
		nc->be.path = conf->ns[i].be.path;
		nc->model = conf->ns[i].model;
		if (vn_ns_conf_dup_strings(nc)) {
			ret = -ENOMEM;
			goto err;
		}
		ret = be_create(d, nc, &d->be[nsid], &e);
		if (ret) {
			snprintf(err, errlen, "namespace %u: %s", nsid, e ? e : strerror(-ret));
			goto err;
		}
		co.ns[i] = (struct nvme_ns_opts){
		    .nsid = nsid, .lba_size = conf->ns[i].lba_size, .be = d->be[nsid]};
		if (nc->model) {
			if (!mc && !(mc = calloc(NVME_MAX_NS, sizeof(*mc)))) {
				ret = -ENOMEM;
				goto err;
			}
			ret = vn_model_parse_text(nc->model, &mc[i], err, errlen);
			if (ret)
				goto err;
			co.ns[i].model = &mc[i];
		}
	}
	qsort(d->conf.ns, d->conf.nr_ns, sizeof(d->conf.ns[0]), ns_conf_cmp);
	co.nr_ns = conf->nr_ns;
	co.name = d->name;
	co.cntlid = (uint16_t)(index + 1);
	co.serial = d->conf.serial;
	co.vid = co.ssvid = d->conf.vendor;
	co.max_ioqpairs = conf->queues;
	co.mqes = conf->qdepth;
	co.sanitize = conf->sanitize;
	co.nr_vectors = d->nr_vectors;
	co.pollers = d->pollers;
	co.nr_pollers = nr_pollers;
	co.doorbells = (uint32_t *)(void *)(d->bar0 + VNVME_REG_DBS);
	co.irq = irq;
	co.irq_arg = d;

	vd.name = d->name;
	vd.opaque = d;
	vd.reset_supported = true;
	vd.num_regions = VU_PCI_NUM_REGIONS;
	vd.num_irqs = VU_PCI_NUM_IRQS;
	vd.region_access = region_access;
	vd.reset = dev_reset;
	vd.dma_fault = dev_dma_fault;
	for (unsigned i = 0; i < VU_PCI_NUM_REGIONS; i++)
		vd.regions[i].fd = -1;
	vd.regions[0] = (struct vu_region){
	    .size = d->bar0_size,
	    .flags = VU_REGION_F_READ | VU_REGION_F_WRITE | VU_REGION_F_MMAP,
	    .fd = d->bar0_fd,
	    .nr_sparse = 1,
	    .sparse = {{.offset = VNVME_REG_DBS, .size = d->bar0_size - VNVME_REG_DBS}},
	};
	if (d->bar2)
		vd.regions[VNVME_TRACE_BAR] = (struct vu_region){
		    .size = d->bar2_size,
		    .flags = VU_REGION_F_READ | VU_REGION_F_MMAP,
		    .fd = d->bar2_ro_fd,
		};
	vd.regions[4] = (struct vu_region){
	    .size = d->bar4_size, .flags = VU_REGION_F_READ | VU_REGION_F_WRITE, .fd = -1};
	vd.regions[VU_PCI_CONFIG_REGION] = (struct vu_region){
	    .size = PCI_CFG_SIZE, .flags = VU_REGION_F_READ | VU_REGION_F_WRITE, .fd = -1};
	vd.irq_count[VU_PCI_MSIX_IRQ] = d->nr_vectors;
	vd.irq_count[VU_PCI_ERR_IRQ] = 1;

	so.path = conf->socket;
	so.loop = loop;
	so.qsbr = qsbr;
	so.dev = &vd;
	so.max_dma_bytes = conf->max_dma_bytes;
	ret = vu_server_create(&so, &d->srv);
	if (ret) {
		snprintf(err, errlen, "%s: %s%s", conf->socket, strerror(-ret),
			 ret == -EADDRINUSE ? " (another vnvme-target serves it; stop it first)"
			 : ret == -EEXIST   ? " (a file that is not a socket is in the way)"
					    : "");
		goto err;
	}
	co.dma = vu_server_dma(d->srv);
	struct nvme_ctrl *ctrl;
	ret = nvme_ctrl_create(&co, &ctrl, &e);
	if (!ret)
		__atomic_store_n(&d->ctrl, ctrl, __ATOMIC_RELEASE);
	if (ret) {
		snprintf(err, errlen, "%s", e ? e : strerror(-ret));
		goto err;
	}
	models_free(mc);
	*out = d;
	return 0;
err:
	models_free(mc);
	if (err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-ret));
	vnvme_dev_destroy(d);
	return ret;
}

void vnvme_dev_destroy(struct vnvme_dev *d)
{
	if (!d)
		return;
	/* The server first: no client reaches the controller afterwards. */
	vu_server_destroy(d->srv);
	nvme_ctrl_destroy(d->ctrl);
	for (unsigned i = 1; i <= NVME_MAX_NS; i++)
		vn_be_destroy(d->be[i]);
	for (unsigned i = 0; i < d->conf.nr_ns; i++)
		vn_ns_conf_clear(&d->conf.ns[i]);
	if (d->bar0)
		munmap(d->bar0, d->bar0_size);
	if (d->bar0_fd >= 0)
		close(d->bar0_fd);
	if (d->bar2)
		munmap(d->bar2, d->bar2_size);
	if (d->bar2_fd >= 0)
		close(d->bar2_fd);
	if (d->bar2_ro_fd >= 0)
		close(d->bar2_ro_fd);
	free(d->bar4);
	free(d->pollers);
	free(d);
}

void vnvme_dev_print_stats(struct vnvme_dev *d, FILE *f)
{
	nvme_ctrl_print_stats(d->ctrl, f);
}

struct nvme_ctrl *vnvme_dev_ctrl(struct vnvme_dev *d)
{
	return d->ctrl;
}

const struct vnvme_dev_conf *vnvme_dev_conf(const struct vnvme_dev *d)
{
	return &d->conf;
}

int vnvme_dev_ns_add(struct vnvme_dev *d, const struct vnvme_ns_conf *ns, uint32_t nsid,
		     uint32_t *out_nsid, char *err, size_t errlen)
{
	struct vnvme_ns_conf nc = *ns;
	struct nvme_model_conf mc = {0};
	struct nvme_ns_opts no;
	const char *e = NULL;
	int ret;

	err[0] = '\0';
	if (nsid > NVME_MAX_NS) {
		snprintf(err, errlen, "namespace %u: namespace IDs are 1..%u", nsid, NVME_MAX_NS);
		return -EINVAL;
	}
	for (uint32_t i = 1; !nsid && i <= NVME_MAX_NS; i++)
		if (!d->be[i])
			nsid = i;
	if (!nsid) {
		snprintf(err, errlen, "no free namespace ID: all %u are in use", NVME_MAX_NS);
		return -ENOSPC;
	}
	if (d->be[nsid]) {
		snprintf(err, errlen, "namespace %u exists already%s", nsid,
			 d->conf.nr_ns && bsearch(&(struct vnvme_ns_conf){.nsid = nsid}, d->conf.ns,
						  d->conf.nr_ns, sizeof(nc), ns_conf_cmp)
			     ? ""
			     : " (removed, its I/O still in flight: remove it again)");
		return -EEXIST;
	}
	nc.nsid = nsid;
	if (vn_ns_conf_dup_strings(&nc))
		return -ENOMEM;
	if (nc.model && (ret = vn_model_parse_text(nc.model, &mc, err, errlen)))
		goto err;
	ret = be_create(d, &nc, &d->be[nsid], &e);
	if (ret) {
		snprintf(err, errlen, "namespace %u: %s", nsid, e ? e : strerror(-ret));
		goto err;
	}
	no = (struct nvme_ns_opts){.nsid = nsid, .lba_size = nc.lba_size, .be = d->be[nsid]};
	if (nc.model)
		no.model = &mc;
	ret = nvme_ctrl_ns_attach(d->ctrl, &no, &e);
	nvme_model_conf_free(&mc);
	if (ret) {
		snprintf(err, errlen, "namespace %u: %s", nsid, e ? e : strerror(-ret));
		vn_be_destroy(d->be[nsid]);
		d->be[nsid] = NULL;
		goto err;
	}
	d->conf.ns[d->conf.nr_ns++] = nc;
	qsort(d->conf.ns, d->conf.nr_ns, sizeof(nc), ns_conf_cmp);
	if (out_nsid)
		*out_nsid = nsid;
	return 0;
err:
	nvme_model_conf_free(&mc);
	vn_ns_conf_clear(&nc);
	return ret;
}

int vnvme_dev_ns_remove(struct vnvme_dev *d, uint32_t nsid, char *err, size_t errlen)
{
	const char *e = NULL;
	uint32_t i;
	int ret;

	err[0] = '\0';
	if (nsid < 1 || nsid > NVME_MAX_NS || !d->be[nsid]) {
		snprintf(err, errlen, "namespace %u: no such namespace", nsid);
		return -ENOENT;
	}
	ret = nvme_ctrl_ns_detach(d->ctrl, nsid, &e);
	/* The host no longer sees it, whether or not its I/O drained. */
	for (i = 0; i < d->conf.nr_ns && d->conf.ns[i].nsid != nsid; i++)
		;
	if (i < d->conf.nr_ns) {
		vn_ns_conf_clear(&d->conf.ns[i]);
		memmove(&d->conf.ns[i], &d->conf.ns[i + 1],
			(d->conf.nr_ns - i - 1) * sizeof(d->conf.ns[0]));
		d->conf.nr_ns--;
	}
	if (ret) {
		/* The backend stays: I/O may still reach it. */
		snprintf(err, errlen, "namespace %u: %s", nsid, e ? e : strerror(-ret));
		return ret;
	}
	vn_be_destroy(d->be[nsid]);
	d->be[nsid] = NULL;
	return 0;
}

bool vnvme_dev_connected(struct vnvme_dev *d)
{
	return vu_server_connected(d->srv);
}
