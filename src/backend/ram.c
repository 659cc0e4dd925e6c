/* SPDX-License-Identifier: MIT */
/*
 * RAM backend: a sealed memfd mapped shared, on 2 MiB hugetlb pages when
 * enough are free (or when asked to: then it fails without them). Every request completes inline
 * with a memcpy, memset or memcmp; only DISCARD makes a syscall, to give whole pages back to the
 * system.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/be_impl.h"
#include "util/log.h"

#define HUGE_2M (UINT64_C(2) << 20)
#ifndef MFD_HUGE_2MB /* <linux/memfd.h> has it, but clashes with <sys/mman.h> */
#define MFD_HUGE_2MB (21u << 26)
#endif

/* The number after `key` in /proc/meminfo ("MemAvailable:" is in kB,
 * "HugePages_Free:" in pages), or 0 if unknown. */
static uint64_t meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			v = strtoull(line + strlen(key), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * The memory, on hugetlb pages or not: a sealed memfd of map_len bytes,
 * mapped and populated. 0, or -errno with *err.
 */
static int ram_map(struct vn_be *be, const struct vn_be_opts *o, bool huge, const char **err)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	uint64_t page = huge ? HUGE_2M : (uint64_t)sysconf(_SC_PAGESIZE);
	void *mem;
	int fd, rc;

	if (huge)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	/*
	 * hugetlbfs sizes files in whole huge pages: round the memory up and
	 * keep the namespace at the size asked for.
	 */
	be->ram.map_len = (size_t)((o->size + page - 1) & ~(page - 1));
	be->ram.page = (size_t)page;
	be->ram.huge = huge;

	fd = memfd_create("vnvme-ram", flags);
	if (fd < 0) {
		rc = -errno;
		*err = huge ? "ram: memfd_create(MFD_HUGETLB) failed: no 2 MiB hugetlb support?"
			    : "ram: memfd_create failed";
		return rc;
	}
	if (ftruncate(fd, (off_t)be->ram.map_len) < 0) {
		rc = -errno;
		*err = "ram: cannot size the memfd";
		goto err_close;
	}
	/*
	 * Whoever holds the fd (through /proc/<pid>/fd too) cannot shrink it
	 * under the mapping and turn our accesses into SIGBUS.
	 */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		rc = -errno;
		*err = "ram: cannot seal the memfd";
		goto err_close;
	}
	/*
	 * Populated up front: an I/O must never wait for a page fault (the
	 * device's latency is meant to be deterministic), and a size beyond the
	 * memory there is fails here with a message instead of an OOM kill or a
	 * SIGBUS later. hugetlb reserves every page at mmap as well.
	 */
	uint64_t avail = meminfo("MemAvailable:") * 1024;
	if (!huge && avail && be->ram.map_len > avail) {
		rc = -ENOMEM;
		*err = "ram: larger than the memory available (MemAvailable): use a smaller size "
		       "or the null backend";
		goto err_close;
	}
	mem = mmap(NULL, be->ram.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (mem == MAP_FAILED) {
		rc = -errno;
		*err = huge ? "ram: cannot reserve the hugepages: raise /proc/sys/vm/nr_hugepages"
			    : "ram: cannot map the memory";
		goto err_close;
	}
	be->ram.mem = mem;
	be->ram.fd = fd;
	return 0;

err_close:
	close(fd);
	return rc;
}

int be_ram_create(struct vn_be *be, const struct vn_be_opts *o, const char **err)
{
	static uint32_t warned;
	uint64_t page = o->no_hugepages ? (uint64_t)sysconf(_SC_PAGESIZE) : HUGE_2M;
	int rc;

	if (o->size == 0 || o->size > (uint64_t)INT64_MAX - page) {
		*err = "ram: size must be between 1 byte and 2^63 bytes less a page";
		return -EINVAL;
	}
	if (o->hugepages && o->no_hugepages) {
		*err = "ram: hugepages and no_hugepages exclude each other";
		return -EINVAL;
	}
	if (o->hugepages || o->no_hugepages) {
		rc = ram_map(be, o, o->hugepages, err);
	} else {
		/* By default: hugepages when the pool has enough free (fewer TLB
		 * misses on random I/O), 4 KiB pages otherwise, never a failure. */
		uint64_t want = (o->size + HUGE_2M - 1) / HUGE_2M;
		const char *herr = NULL;

		rc = meminfo("HugePages_Free:") >= want ? ram_map(be, o, true, &herr) : -ENOMEM;
		if (rc) {
			if (!__atomic_exchange_n(&warned, 1u, __ATOMIC_RELAXED))
				vn_warn("be ram: %" PRIu64 " bytes on 4 KiB pages: not enough free "
					"2 MiB hugepages (%" PRIu64 " needed, %" PRIu64 " free; "
					"reserve them with echo N > /proc/sys/vm/nr_hugepages, or "
					"silence this with --no-hugepages or \"hugepages\": false)",
					o->size, want, meminfo("HugePages_Free:"));
			rc = ram_map(be, o, false, err);
		}
	}
	if (rc)
		return rc;
	be->size = o->size;
	vn_info("be ram: %" PRIu64 " bytes%s", be->size,
		be->ram.huge ? " on 2 MiB hugepages" : " on 4 KiB pages");
	return 0;
}

void be_ram_destroy(struct vn_be *be)
{
	munmap(be->ram.mem, be->ram.map_len);
	close(be->ram.fd);
}

/*
 * Zero [off, off + len): punch the whole pages out of the memfd, so their
 * memory really goes back to the system and reads fault in zeroes, and
 * memset the partial pages at the edges.
 */
static void ram_discard(struct vn_be *be, uint64_t off, uint64_t len)
{
	uint8_t *mem = be->ram.mem;
	uint64_t pg = be->ram.page, end = off + len;
	uint64_t a = (off + pg - 1) & ~(pg - 1), b = end & ~(pg - 1);

	if (a >= b) {
		memset(mem + off, 0, len);
		return;
	}
	memset(mem + off, 0, a - off);
	if (fallocate(be->ram.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a,
		      (off_t)(b - a)) < 0)
		memset(mem + a, 0, b - a);
	memset(mem + b, 0, end - b);
}

int be_ram_submit(struct vn_be_chan *ch, struct vn_be_io *io)
{
	struct vn_be *be = ch->be;
	uint8_t *p = be->ram.mem + io->off;
	int r = 0;

	switch (io->op) {
	case VN_BE_READ:
	case VN_BE_WRITE:
	case VN_BE_COMPARE:
		if (unlikely(!be_iov_ok(io)))
			return -EINVAL;
		for (unsigned i = 0; i < io->iovcnt; i++) {
			void *b = io->iov[i].iov_base;
			size_t n = io->iov[i].iov_len;

			if (io->op == VN_BE_READ) {
				memcpy(b, p, n);
			} else if (io->op == VN_BE_WRITE) {
				memcpy(p, b, n);
			} else if (memcmp(p, b, n)) {
				r = -EILSEQ;
				break;
			}
			p += n;
		}
		break;
	case VN_BE_WRITE_ZEROES:
		memset(p, 0, io->len);
		break;
	case VN_BE_DISCARD:
		ram_discard(be, io->off, io->len);
		break;
	case VN_BE_FLUSH:
		/* Memory is as durable as it gets. */
		break;
	default:
		return -EINVAL;
	}
	io->result = r;
	return 1;
}
