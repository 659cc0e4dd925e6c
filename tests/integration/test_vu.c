/* SPDX-License-Identifier: MIT */
/* Every vfio-user command, through the project's client and server, over a
 * real UNIX socket, against the test device. */
#include "vu_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define IOVA  0x200000000ull
#define MEMSZ (1u << 20)

static int memfd_sized(size_t size)
{
	int fd = memfd_create("vu-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static uint64_t efd_count(int efd, int timeout_ms)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	assert_int_equal(read(efd, &v, 8), 8);
	return v;
}

static void test_version_negotiates_capabilities(void **state)
{
	struct fx *f = *state;
	const struct vu_caps *c = vu_client_server_caps(f->c);

	assert_int_equal(c->max_msg_fds, 16);
	assert_int_equal(c->max_data_xfer_size, 1 << 20);
	assert_int_equal(c->pgsizes, 4096);
	assert_int_equal(c->max_dma_maps, 4096);
	assert_false(c->migration);
}

static void test_device_info_reports_pci_reset_regions_and_irqs(void **state)
{
	struct fx *f = *state;
	struct vu_device_info di;

	assert_int_equal(vu_client_device_info(f->c, &di), 0);
	assert_int_equal(di.argsz, 16);
	assert_int_equal(di.flags, VU_DEV_F_PCI | VU_DEV_F_RESET);
	assert_int_equal(di.num_regions, 9);
	assert_int_equal(di.num_irqs, 5);
}

static void test_region_info_reports_sparse_mmap_with_an_fd(void **state)
{
	struct fx *f = *state;
	struct vu_client_region r;

	assert_int_equal(vu_client_region_info(f->c, 2, &r), 0);
	assert_int_equal(r.size, TD_BAR2_SIZE);
	assert_int_equal(r.flags, VU_REGION_F_READ | VU_REGION_F_WRITE | VU_REGION_F_MMAP |
				      VU_REGION_F_CAPS);
	assert_int_equal(r.nr_sparse, 1);
	assert_int_equal(r.sparse[0].offset, TD_DB_PAGE);
	assert_int_equal(r.sparse[0].size, 4096);
	assert_true(r.fd >= 0);
	close(r.fd);

	assert_int_equal(vu_client_region_info(f->c, 0, &r), 0);
	assert_int_equal(r.flags, VU_REGION_F_READ | VU_REGION_F_WRITE);
	assert_int_equal(r.fd, -1);
	assert_int_equal(vu_client_region_info(f->c, VU_PCI_CONFIG_REGION, &r), 0);
	assert_int_equal(r.size, 4096);
	assert_int_equal(vu_client_region_info(f->c, 1, &r), 0); /* absent BAR */
	assert_int_equal(r.size, 0);
	assert_int_equal(r.flags, 0);
	assert_int_equal(vu_client_region_info(f->c, 9, &r), -EINVAL);
}

static void test_region_info_with_small_argsz_returns_needed_size_and_no_fd(void **state)
{
	struct fx *f = *state;
	struct vu_region_info in = {.argsz = 32, .index = 2}, out;
	size_t rlen;
	int fd;

	assert_int_equal(vu_client_request(f->c, VU_CMD_DEVICE_GET_REGION_INFO, &in, sizeof(in),
					   NULL, 0, &out, sizeof(out), &rlen, &fd),
			 0);
	assert_int_equal(rlen, 32);
	assert_int_equal(out.argsz, 32 + 16 + 16);
	assert_true(out.flags & VU_REGION_F_CAPS);
	assert_int_equal(out.cap_offset, 32); /* QEMU insists on cap_offset >= 32 */
	assert_int_equal(fd, -1);
}

static void test_config_space_has_ids_bars_and_msix(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[4096];
	uint32_t v = 0xffffffff;

	/* QEMU reads all 4 KiB of config space in one message. */
	assert_int_equal(vu_client_region_read(f->c, VU_PCI_CONFIG_REGION, 0, cfg, 4096), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, TD_VENDOR);
	assert_int_equal(cfg[2] | cfg[3] << 8, TD_DEVICE);
	assert_int_equal(cfg[0x3d], 1);
	assert_int_equal(cfg[0x34], 0x40);
	assert_int_equal(cfg[0x40], 0x11); /* MSI-X */
	/* BAR sizing through REGION_WRITE. */
	assert_int_equal(vu_client_region_write(f->c, VU_PCI_CONFIG_REGION, 0x10, &v, 4), 0);
	assert_int_equal(vu_client_region_read(f->c, VU_PCI_CONFIG_REGION, 0x10, &v, 4), 0);
	assert_int_equal(v, 0xfffff000);
}

static void test_register_writes_read_back_at_every_width(void **state)
{
	struct fx *f = *state;
	uint8_t b = 0x5a, buf[256], back[256];
	uint16_t w = 0x1234;
	uint32_t d = 0xdeadbeef, id = 0;
	uint64_t q = 0x0123456789abcdefull, q2 = 0;

	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_FILE, &b, 1), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_FILE + 2, &w, 2), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_FILE + 4, &d, 4), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_FILE + 8, &q, 8), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_FILE + 8, &q2, 8), 0);
	assert_int_equal(q2, q);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_FILE, buf, 4), 0);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[2] | buf[3] << 8, 0x1234);
	for (int i = 0; i < 256; i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_FILE, buf, 256), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_FILE, back, 256), 0);
	assert_memory_equal(buf, back, 256);
	/* A read-only register keeps its value. */
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_ID, &d, 4), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &id, 4), 0);
	assert_int_equal(id, TD_ID);
}

static void test_region_access_outside_a_region_fails(void **state)
{
	struct fx *f = *state;
	uint32_t v = 0;

	assert_int_equal(vu_client_region_read(f->c, 0, TD_BAR0_SIZE - 2, &v, 4), -EINVAL);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_BAR0_SIZE, &v, 4), -EINVAL);
	assert_int_equal(vu_client_region_read(f->c, 0, UINT64_MAX - 1, &v, 4), -EINVAL);
	assert_int_equal(vu_client_region_write(f->c, 1, 0, &v, 4), -EINVAL); /* absent */
	assert_int_equal(vu_client_region_read(f->c, 12, 0, &v, 4), -EINVAL);
	/* The connection still serves. */
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
	assert_int_equal(v, TD_ID);
}

static void test_sparse_area_is_shared_memory_with_message_access(void **state)
{
	struct fx *f = *state;
	struct vu_client_region r;
	uint8_t *p;
	size_t len;
	uint32_t v = 0, w = 0xcafe;

	assert_int_equal(vu_client_region_info(f->c, 2, &r), 0);
	assert_int_equal(vu_client_region_mmap(&r, 0, (void **)&p, &len), 0);
	assert_int_equal(len, 4096);
	assert_int_equal(vu_client_region_mmap(&r, 1, (void **)&p, &len), -EINVAL);
	close(r.fd);
	memcpy(p + 0x100, &(uint32_t){0xfeedf00d}, 4);
	assert_int_equal(vu_client_region_read(f->c, 2, TD_DB_PAGE + 0x100, &v, 4), 0);
	assert_int_equal(v, 0xfeedf00d);
	assert_int_equal(vu_client_region_write(f->c, 2, TD_DB_PAGE + 0x104, &w, 4), 0);
	memcpy(&v, p + 0x104, 4);
	assert_int_equal(v, 0xcafe);
	munmap(p, len);
}

static void map_mem(struct fx *f, uint8_t **mem)
{
	int fd = memfd_sized(MEMSZ);

	*mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*mem != MAP_FAILED);
	assert_int_equal(
	    vu_client_dma_map(f->c, IOVA, MEMSZ, fd, 0, VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE), 0);
	close(fd);
}

static uint32_t dev_dma(struct fx *f, uint32_t cmd, uint64_t iova, uint32_t len, uint32_t seed)
{
	uint32_t sts = 0xffff;

	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_SCRATCH, &seed, 4), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_DMA_ADDR, &iova, 8), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_DMA_LEN, &len, 4), 0);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_DMA_CMD, &cmd, 4), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_DMA_STS, &sts, 4), 0);
	return sts;
}

static void test_dma_map_lets_the_device_read_and_write_client_memory(void **state)
{
	struct fx *f = *state;
	uint8_t *mem;
	uint32_t sum = 0, want = 0;

	map_mem(f, &mem);
	assert_int_equal(dev_dma(f, TD_DMA_FILL, IOVA + 0x1000, 512, 3), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(mem[0x1000 + i], (uint8_t)(i + 3));
	assert_int_equal(mem[0x1000 + 512], 0);
	for (int i = 0; i < 4096; i++)
		want += (mem[0x8000 + i] = (uint8_t)(i ^ 0x55));
	assert_int_equal(dev_dma(f, TD_DMA_SUM, IOVA + 0x8000, 4096, 0), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_DMA_SUM, &sum, 4), 0);
	assert_int_equal(sum, want);
	/* Past the end of the map, and across it. */
	assert_int_equal(dev_dma(f, TD_DMA_FILL, IOVA + MEMSZ, 1, 0), EFAULT);
	assert_int_equal(dev_dma(f, TD_DMA_FILL, IOVA + MEMSZ - 8, 16, 0), EFAULT);
	munmap(mem, MEMSZ);
}

static void test_dma_map_errors_and_unmap(void **state)
{
	struct fx *f = *state;
	uint8_t *mem;
	int fd = memfd_sized(4096);

	map_mem(f, &mem);
	/* Overlap: EEXIST, as the specification asks. */
	assert_int_equal(vu_client_dma_map(f->c, IOVA + 4096, 4096, fd, 0, VU_DMA_MAP_F_READ),
			 -EEXIST);
	/* Beyond the end of the file. */
	assert_int_equal(vu_client_dma_map(f->c, 0x1000, 8192, fd, 0, VU_DMA_MAP_F_READ), -ERANGE);
	/* Unmap: a range that cuts a map is refused; one that holds none is a no-op. */
	assert_int_equal(vu_client_dma_unmap(f->c, IOVA, 4096), -EINVAL);
	assert_int_equal(vu_client_dma_unmap(f->c, 0x5000, 4096), 0);
	assert_non_null(
	    vn_dma_lookup(vn_dma_table_get(vu_server_dma(testdev_server(f->td))), IOVA));
	assert_int_equal(vu_client_dma_unmap(f->c, IOVA, MEMSZ), 0);
	assert_int_equal(dev_dma(f, TD_DMA_FILL, IOVA, 8, 0), EFAULT);
	/* A map without an fd is recorded but not reachable. */
	assert_int_equal(vu_client_dma_map(f->c, 0x10000, 4096, -1, 0, VU_DMA_MAP_F_READ), 0);
	assert_int_equal(dev_dma(f, TD_DMA_SUM, 0x10000, 8, 0), EFAULT);
	assert_int_equal(vu_client_dma_map(f->c, 0x20000, 4096, fd, 0, VU_DMA_MAP_F_READ), 0);
	assert_int_equal(vn_dma_table_get(vu_server_dma(testdev_server(f->td)))->nr, 2);
	/* A range holding both maps removes both (QEMU with a vIOMMU does this). */
	assert_int_equal(vu_client_dma_unmap(f->c, 0, 0x100000), 0);
	assert_int_equal(vn_dma_table_get(vu_server_dma(testdev_server(f->td)))->nr, 0);
	assert_int_equal(vu_client_dma_map(f->c, 0x20000, 4096, fd, 0, VU_DMA_MAP_F_READ), 0);
	assert_int_equal(vu_client_dma_unmap_all(f->c), 0);
	assert_int_equal(vn_dma_table_get(vu_server_dma(testdev_server(f->td)))->nr, 0);
	close(fd);
	munmap(mem, MEMSZ);
}

static uint8_t *map_doorbell(struct fx *f)
{
	struct vu_client_region r;
	uint8_t *p;
	size_t len;

	assert_int_equal(vu_client_region_info(f->c, 2, &r), 0);
	assert_int_equal(vu_client_region_mmap(&r, 0, (void **)&p, &len), 0);
	close(r.fd);
	return p;
}

static uint32_t ring(uint8_t *db, uint32_t seq)
{
	uint32_t sts;

	__atomic_store_n((uint32_t *)(void *)(db + TD_DB_DOORBELL), seq, __ATOMIC_RELEASE);
	while (__atomic_load_n((uint32_t *)(void *)(db + TD_DB_DONE), __ATOMIC_ACQUIRE) != seq)
		usleep(1);
	memcpy(&sts, db + TD_DB_STATUS, 4);
	return sts;
}

static void test_doorbell_in_shared_memory_is_polled_and_raises_msix(void **state)
{
	struct fx *f = *state;
	uint8_t *mem, *db = map_doorbell(f);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t iova = IOVA + 64, ctr;
	uint32_t vec = 2;

	map_mem(f, &mem);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 2,
					    1, &efd, NULL),
			 0);
	memcpy(db + TD_DB_IOVA, &iova, 8);
	memcpy(db + TD_DB_VECTOR, &vec, 4);
	for (uint32_t i = 1; i <= 100; i++)
		assert_int_equal(ring(db, i), 0);
	memcpy(&ctr, mem + 64, 8);
	assert_int_equal(ctr, 100);
	/* eventfd counts: 100 signals, possibly merged by the reader. */
	assert_int_equal(efd_count(efd, 2000), 100);
	close(efd);
	munmap(db, 4096);
	munmap(mem, MEMSZ);
}

static void test_unmapping_memory_the_device_polls_is_safe(void **state)
{
	struct fx *f = *state;
	uint8_t *mem, *db = map_doorbell(f);
	uint64_t iova = IOVA;
	uint32_t seq = 0, ok = 0, faults = 0;

	map_mem(f, &mem);
	memcpy(db + TD_DB_IOVA, &iova, 8);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 20; i++)
			ring(db, ++seq) ? faults++ : ok++;
		/* Unmap the memory the device is using; it must notice, not crash. */
		assert_int_equal(vu_client_dma_unmap(f->c, IOVA, MEMSZ), 0);
		munmap(mem, MEMSZ);
		for (int i = 0; i < 5; i++)
			assert_int_equal(ring(db, ++seq), EFAULT), faults++;
		map_mem(f, &mem);
	}
	assert_int_equal(ok, 1000);
	assert_int_equal(faults, 250);
	struct testdev_stats st;
	testdev_get_stats(f->td, &st);
	assert_true(st.unmaps >= 50);
	munmap(db, 4096);
	munmap(mem, MEMSZ);
}

static void set_efd(struct fx *f, uint32_t index, uint32_t vec, int efd)
{
	assert_int_equal(vu_client_set_irqs(f->c, index,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER,
					    vec, 1, &efd, NULL),
			 0);
}

static void raise_vec(struct fx *f, uint32_t vec)
{
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_IRQ, &vec, 4), 0);
}

static void test_masked_vector_is_pending_until_unmasked(void **state)
{
	struct fx *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	set_efd(f, VU_PCI_MSIX_IRQ, 0, efd);
	raise_vec(f, 0);
	assert_int_equal(efd_count(efd, 2000), 1);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_MASK, 0, 1,
					    NULL, NULL),
			 0);
	assert_false(vu_server_irq_enabled(testdev_server(f->td), VU_PCI_MSIX_IRQ, 0));
	raise_vec(f, 0);
	raise_vec(f, 0);
	assert_int_equal(efd_count(efd, 0), 0);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_UNMASK, 0, 1,
					    NULL, NULL),
			 0);
	/* The pending interrupt fires once on unmask. */
	assert_int_equal(efd_count(efd, 2000), 1);
	assert_true(vu_server_irq_enabled(testdev_server(f->td), VU_PCI_MSIX_IRQ, 0));
	close(efd);
}

static void test_client_triggers_with_none_and_bool_data(void **state)
{
	struct fx *f = *state;
	int e0 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
	    e1 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int fds[2] = {e0, e1};
	uint8_t bools[2] = {0, 1};

	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 0,
					    2, fds, NULL),
			 0);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_TRIGGER, 0, 2,
					    NULL, NULL),
			 0);
	assert_int_equal(efd_count(e0, 2000), 1);
	assert_int_equal(efd_count(e1, 2000), 1);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_BOOL | VU_IRQ_SET_ACTION_TRIGGER, 0, 2,
					    NULL, bools),
			 0);
	assert_int_equal(efd_count(e1, 2000), 1);
	assert_int_equal(efd_count(e0, 0), 0);
	close(e0);
	close(e1);
}

static void test_deassign_and_disable_all_stop_interrupts(void **state)
{
	struct fx *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	set_efd(f, VU_PCI_MSIX_IRQ, 3, efd);
	/* DATA_EVENTFD without descriptors de-assigns. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 3,
					    1, NULL, NULL),
			 0);
	raise_vec(f, 3);
	assert_int_equal(efd_count(efd, 0), 0);
	set_efd(f, VU_PCI_MSIX_IRQ, 3, efd);
	raise_vec(f, 3);
	assert_int_equal(efd_count(efd, 2000), 1);
	/* count 0 + DATA_NONE|TRIGGER disables the whole index. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_TRIGGER, 0, 0,
					    NULL, NULL),
			 0);
	raise_vec(f, 3);
	assert_int_equal(efd_count(efd, 0), 0);
	close(efd);
}

static void test_intx_and_err_irqs_and_bad_irq_requests(void **state)
{
	struct fx *f = *state;
	struct vu_irq_info ii;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), p[2];
	uint16_t status;

	assert_int_equal(vu_client_irq_info(f->c, VU_PCI_INTX_IRQ, &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(ii.flags,
			 VU_IRQ_INFO_EVENTFD | VU_IRQ_INFO_MASKABLE | VU_IRQ_INFO_AUTOMASKED);
	assert_int_equal(vu_client_irq_info(f->c, VU_PCI_MSI_IRQ, &ii), 0);
	assert_int_equal(ii.count, 0);
	assert_int_equal(vu_client_irq_info(f->c, VU_PCI_MSIX_IRQ, &ii), 0);
	assert_int_equal(ii.count, TD_MSIX_VECTORS);
	assert_int_equal(vu_client_irq_info(f->c, VU_PCI_ERR_IRQ, &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(ii.flags, VU_IRQ_INFO_EVENTFD);
	assert_int_equal(vu_client_irq_info(f->c, 5, &ii), -EINVAL);

	set_efd(f, VU_PCI_INTX_IRQ, 0, efd);
	raise_vec(f, TD_IRQ_INTX);
	assert_int_equal(efd_count(efd, 2000), 1);
	assert_int_equal(vu_client_region_read(f->c, VU_PCI_CONFIG_REGION, 6, &status, 2), 0);
	assert_true(status & 0x8); /* Interrupt Status */
	set_efd(f, VU_PCI_ERR_IRQ, 0, efd);

	/* Out of range, not an eventfd, mask notifications: refused. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_MASK, 3, 2,
					    NULL, NULL),
			 -EINVAL);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSI_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_TRIGGER, 0, 1,
					    NULL, NULL),
			 -EINVAL);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 0,
					    1, &p[1], NULL),
			 -EINVAL);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_INTX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_MASK, 0, 1,
					    &efd, NULL),
			 -ENOTSUP);
	assert_int_equal(vu_client_set_irqs(f->c, 7, VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_MASK,
					    0, 1, NULL, NULL),
			 -EINVAL);
	close(p[0]);
	close(p[1]);
	close(efd);
}

static void test_intx_automasks_until_the_unmask_eventfd_fires(void **state)
{
	struct fx *f = *state;
	int trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int unmask = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1;

	/* QEMU under KVM: TRIGGER eventfd, then UNMASK with a resample eventfd. */
	set_efd(f, VU_PCI_INTX_IRQ, 0, trig);
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_INTX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_UNMASK, 0,
					    1, &unmask, NULL),
			 0);
	raise_vec(f, TD_IRQ_INTX);
	raise_vec(f, TD_IRQ_INTX);
	/* The first fired and masked the line; the second waits. */
	assert_int_equal(efd_count(trig, 2000), 1);
	assert_int_equal(efd_count(trig, 0), 0);
	/* EOI: the resample eventfd unmasks, and the pending one fires. */
	assert_int_equal(write(unmask, &one, 8), 8);
	assert_int_equal(efd_count(trig, 2000), 1);
	/* Unmask by message with nothing pending: no interrupt. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_INTX_IRQ,
					    VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_UNMASK, 0, 1,
					    NULL, NULL),
			 0);
	assert_int_equal(efd_count(trig, 0), 0);
	raise_vec(f, TD_IRQ_INTX);
	assert_int_equal(efd_count(trig, 2000), 1);
	close(trig);
	close(unmask);
}

static void test_device_reset_reaches_the_device(void **state)
{
	struct fx *f = *state;
	struct testdev_stats before, after;
	uint32_t v = 77;

	testdev_get_stats(f->td, &before);
	assert_int_equal(vu_client_region_write(f->c, 0, TD_REG_SCRATCH, &v, 4), 0);
	assert_int_equal(vu_client_reset(f->c), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_SCRATCH, &v, 4), 0);
	assert_int_equal(v, 0);
	testdev_get_stats(f->td, &after);
	assert_int_equal(after.resets, before.resets + 1);
}

static void test_unsupported_and_unknown_commands_get_error_replies(void **state)
{
	struct fx *f = *state;
	uint8_t payload[32] = {0};
	static const uint16_t unsupported[] = {
	    VU_CMD_DEVICE_GET_REGION_IO_FDS,
	    VU_CMD_DMA_READ,
	    VU_CMD_DMA_WRITE,
	    VU_CMD_DIRTY_PAGES,
	    VU_CMD_REGION_WRITE_MULTI,
	    VU_CMD_DEVICE_FEATURE,
	    VU_CMD_MIG_DATA_READ,
	    VU_CMD_MIG_DATA_WRITE,
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		assert_int_equal(vu_client_request(f->c, unsupported[i], payload, sizeof(payload),
						   NULL, 0, NULL, 0, NULL, NULL),
				 -ENOTSUP);
	assert_int_equal(vu_client_request(f->c, 200, payload, 8, NULL, 0, NULL, 0, NULL, NULL),
			 -ENOSYS);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
}

static void test_posted_write_needs_no_reply_and_keeps_order(void **state)
{
	struct fx *f = *state;
	uint8_t buf[20];
	struct vu_region_rw rw = {.offset = TD_REG_FILE + 16, .region = 0, .count = 4};
	uint32_t v = 0x600dcafe, back = 0;

	memcpy(buf, &rw, 16);
	memcpy(buf + 16, &v, 4);
	assert_int_equal(vu_client_post(f->c, VU_CMD_REGION_WRITE, buf, 20), 0);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_FILE + 16, &back, 4), 0);
	assert_int_equal(back, v);
}

static void test_one_client_at_a_time_and_the_next_after_it_leaves(void **state)
{
	struct fx *f = *state;
	struct vu_client *c2;
	struct vu_server_stats st;

	/* A second client is turned away while the first is connected. */
	assert_int_equal(vu_client_connect(f->path, 2000, &c2), -ECONNRESET);
	vu_server_get_stats(testdev_server(f->td), &st);
	assert_int_equal(st.refused_busy, 1);
	vu_client_close(f->c);
	f->c = NULL;
	fx_wait_disconnected(f);
	assert_int_equal(vu_client_connect(f->path, 2000, &f->c), 0);
	uint32_t v;
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
	assert_int_equal(v, TD_ID);
}

static void test_a_killed_client_releases_its_maps_and_irqs(void **state)
{
	struct fx *f = *state;
	struct testdev_stats before, after;
	int status;
	pid_t pid;

	vu_client_close(f->c);
	f->c = NULL;
	fx_wait_disconnected(f);
	testdev_get_stats(f->td, &before);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vu_client *c;
		int fd = memfd_create("child", 0), efd = eventfd(0, 0);
		if (fd < 0 || ftruncate(fd, MEMSZ) < 0 || vu_client_connect(f->path, 2000, &c))
			_exit(1);
		if (vu_client_dma_map(c, IOVA, MEMSZ, fd, 0, 3) ||
		    vu_client_set_irqs(c, VU_PCI_MSIX_IRQ,
				       VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 0, 1,
				       &efd, NULL))
			_exit(2);
		/* Die in the middle of a message. */
		struct vu_hdr h = {.id = 9, .cmd = VU_CMD_REGION_READ, .size = 32};
		if (write(vu_client_fd(c), &h, sizeof(h)) != sizeof(h))
			_exit(3);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	fx_wait_disconnected(f);
	assert_int_equal(vn_dma_table_get(vu_server_dma(testdev_server(f->td)))->nr, 0);
	assert_false(vu_server_irq_enabled(testdev_server(f->td), VU_PCI_MSIX_IRQ, 0));
	testdev_get_stats(f->td, &after);
	assert_int_equal(after.resets, before.resets + 1);
	assert_int_equal(vu_client_connect(f->path, 2000, &f->c), 0);
}

static void test_socket_path_rules(void **state)
{
	struct fx *f = *state;
	struct testdev *td2;
	char p[200];
	int fd;

	/* A live server's socket is not clobbered. */
	assert_int_equal(testdev_create(f->path, f->loop, false, &td2), -EADDRINUSE);
	/* Neither is a file that is not a socket. */
	snprintf(p, sizeof(p), "%s/regular", f->dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(testdev_create(p, f->loop, false, &td2), -EEXIST);
	/* A stale socket (its server died without unlinking) is replaced. */
	snprintf(p, sizeof(p), "%s/stale.sock", f->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(p) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(testdev_create(p, f->loop, false, &td2), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	testdev_destroy(td2);
	/* Removed on exit. */
	assert_int_equal(stat(p, &st), -1);
	/* Too long for sun_path. */
	memset(p, 'a', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	assert_int_equal(testdev_create(p, f->loop, false, &td2), -ENAMETOOLONG);
}

/* ------------------------------------------------------------------------ */
/* A hostile client hurts only itself (issue 11). */

/* A second test device on the fixture's control loop, and its socket path. */
static struct testdev *second_dev(struct fx *f, const char *name, const struct vu_server_opts *o,
				  bool poller, char *path, size_t room)
{
	struct testdev *td;

	snprintf(path, room, "%s/%s.sock", f->dir, name);
	assert_int_equal(testdev_create_opts(path, f->loop, poller, o, &td), 0);
	return td;
}

/* Queue `n` REGION_READs of 4 KiB of config space, reading no reply. */
static int flood(int fd, unsigned n)
{
	struct {
		struct vu_hdr h;
		struct vu_region_rw rw;
	} m = {
	    .h = {.cmd = VU_CMD_REGION_READ, .size = sizeof(m)},
	    .rw = {.region = VU_PCI_CONFIG_REGION, .count = 4096},
	};

	for (unsigned i = 0; i < n; i++) {
		int ret;
		m.h.id = (uint16_t)i;
		ret = raw_send(fd, &m, sizeof(m), NULL, 0);
		if (ret)
			return ret;
	}
	return 0;
}

static void wait_disconnected(struct testdev *td)
{
	for (int i = 0; i < 10000 && vu_server_connected(testdev_server(td)); i++)
		usleep(1000);
	assert_false(vu_server_connected(testdev_server(td)));
}

static void test_a_client_that_reads_no_reply_delays_no_other_device(void **state)
{
	struct fx *f = *state;
	/* Long enough that a control loop blocked on this client's socket
	 * would make the other client's requests time out (5 s). */
	struct vu_server_opts o = {.reply_timeout_ms = 60000, .txq_max_msgs = 1000};
	struct vu_server_stats st;
	struct vu_device_info di;
	char path[200];
	struct testdev *td2 = second_dev(f, "flood", &o, false, path, sizeof(path));
	int fd = raw_connect(path);
	uint32_t v;

	/* 200 replies of 4 KiB: more than the socket holds (208 KiB by default),
	 * fewer than the queue's bound. */
	assert_int_equal(flood(fd, 200), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(vu_client_device_info(f->c, &di), 0);
		assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
		assert_int_equal(v, TD_ID);
	}
	/* All 200 were handled, their replies wait in the queue. */
	for (int i = 0; i < 10000; i++) {
		vu_server_get_stats(testdev_server(td2), &st);
		if (st.msgs == 201)
			break;
		usleep(1000);
	}
	assert_int_equal(st.msgs, 201); /* VERSION too */
	assert_true(vu_server_connected(testdev_server(td2)));

	/* Over the bound: disconnected; the send may fail once it is. */
	flood(fd, 2000);
	wait_disconnected(td2);
	vu_server_get_stats(testdev_server(td2), &st);
	assert_int_equal(st.slow_disconnects, 1);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
	assert_int_equal(v, TD_ID);
	close(fd);

	/* The device serves the next client. */
	fd = raw_connect(path);
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_GET_INFO,
				     &(struct vu_device_info){.argsz = sizeof(di)}, sizeof(di),
				     NULL, 0, &di, sizeof(di)),
			 0);
	close(fd);
	testdev_destroy(td2);
}

static void test_queued_replies_that_make_no_progress_end_the_connection(void **state)
{
	struct fx *f = *state;
	struct vu_server_opts o = {.reply_timeout_ms = 100};
	struct vu_server_stats st;
	char path[200];
	struct testdev *td2 = second_dev(f, "stall", &o, false, path, sizeof(path));
	int fd = raw_connect(path);
	uint32_t v;

	/* Under the queue's bound: only the timer can end it. */
	assert_int_equal(flood(fd, 60), 0);
	wait_disconnected(td2);
	vu_server_get_stats(testdev_server(td2), &st);
	assert_int_equal(st.slow_disconnects, 1);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
	close(fd);
	testdev_destroy(td2);
}

static void test_a_sealable_memfd_is_sealed_against_shrinking(void **state)
{
	struct fx *f = *state;
	int fd = memfd_sized(MEMSZ);

	assert_int_equal(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK, 0);
	assert_int_equal(vu_client_dma_map(f->c, IOVA, MEMSZ, fd, 0, VU_DMA_MAP_F_READ), 0);
	assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	close(fd);
}

static void test_memory_truncated_under_the_device_fails_that_device_only(void **state)
{
	struct fx *f = *state;
	char path[200];
	struct testdev *td2 = second_dev(f, "other", NULL, false, path, sizeof(path));
	struct fx g = {.td = td2};
	struct testdev_stats st;
	/* No MFD_ALLOW_SEALING: it cannot be sealed, as a hugetlbfs file. */
	int fd = memfd_create("unsealable", MFD_CLOEXEC), fd2 = memfd_sized(MEMSZ);
	uint8_t *db = map_doorbell(f), *mem;
	uint64_t iova = IOVA, ctr;
	uint32_t seq = 0;

	assert_int_equal(vu_client_connect(path, 5000, &g.c), 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEMSZ), 0);
	mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(
	    vu_client_dma_map(f->c, IOVA, MEMSZ, fd, 0, VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE), 0);
	assert_int_equal(
	    vu_client_dma_map(g.c, IOVA, MEMSZ, fd2, 0, VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE), 0);
	memcpy(db + TD_DB_IOVA, &iova, 8);
	assert_int_equal(ring(db, ++seq), 0);
	memcpy(&ctr, mem, 8);
	assert_int_equal(ctr, 1);
	munmap(mem, MEMSZ);

	/* The client shrinks its memory; the polling thread touches it. */
	assert_int_equal(ftruncate(fd, 0), 0);
	ring(db, ++seq); /* survives: zero pages, or EFAULT once taken away */
	for (int i = 0; i < 10000; i++) {
		testdev_get_stats(f->td, &st);
		if (st.failed)
			break;
		usleep(1000);
	}
	assert_int_equal(st.failed, 1);
	vu_server_get_stats(testdev_server(f->td), &(struct vu_server_stats){0});
	/* The mapping is gone for the device: every access fails cleanly. */
	assert_int_equal(ring(db, ++seq), EFAULT);
	assert_int_equal(dev_dma(f, TD_DMA_SUM, IOVA, 4096, 0), EFAULT);

	/* The other device on the same loop works on. */
	assert_int_equal(dev_dma(&g, TD_DMA_FILL, IOVA, 4096, 7), 0);
	assert_int_equal(dev_dma(&g, TD_DMA_SUM, IOVA, 4096, 0), 0);
	testdev_get_stats(td2, &st);
	assert_int_equal(st.failed, 0);

	/* Unmapping the poisoned map and mapping new memory works again. */
	assert_int_equal(vu_client_dma_unmap(f->c, IOVA, MEMSZ), 0);
	map_mem(f, &mem);
	assert_int_equal(ring(db, ++seq), 0);
	munmap(mem, MEMSZ);
	munmap(db, 4096);
	close(fd);
	close(fd2);
	vu_client_close(g.c);
	testdev_destroy(td2);
}

static void test_dma_map_bytes_are_capped_per_client(void **state)
{
	struct fx *f = *state;
	struct vu_server_opts o = {.max_dma_bytes = 2 * MEMSZ};
	char path[200];
	struct testdev *td2 = second_dev(f, "capped", &o, false, path, sizeof(path));
	struct vu_client *c2;
	int fd = memfd_create("sparse", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	/* The default: 1 TiB of sparse memfd is refused, and maps nothing. */
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1ll << 40), 0);
	assert_int_equal(vu_client_dma_map(f->c, IOVA, 1ull << 40, fd, 0, VU_DMA_MAP_F_READ),
			 -EDQUOT);
	assert_int_equal(vn_dma_table_get(vu_server_dma(testdev_server(f->td)))->nr, 0);
	/* Under it, fine. */
	assert_int_equal(vu_client_dma_map(f->c, IOVA, 1ull << 30, fd, 0, VU_DMA_MAP_F_READ), 0);

	/* A configured cap counts every map of the client. */
	assert_int_equal(vu_client_connect(path, 5000, &c2), 0);
	assert_int_equal(vu_client_dma_map(c2, IOVA, MEMSZ, fd, 0, VU_DMA_MAP_F_READ), 0);
	assert_int_equal(vu_client_dma_map(c2, IOVA + MEMSZ, MEMSZ, fd, 0, VU_DMA_MAP_F_READ), 0);
	assert_int_equal(vu_client_dma_map(c2, IOVA + 2 * MEMSZ, 4096, fd, 0, VU_DMA_MAP_F_READ),
			 -EDQUOT);
	assert_int_equal(vu_client_dma_unmap(c2, IOVA, MEMSZ), 0);
	assert_int_equal(vu_client_dma_map(c2, IOVA + 2 * MEMSZ, 4096, fd, 0, VU_DMA_MAP_F_READ),
			 0);
	/* It is per client: the next one starts from zero. */
	vu_client_close(c2);
	wait_disconnected(td2);
	assert_int_equal(vu_client_connect(path, 5000, &c2), 0);
	assert_int_equal(vu_client_dma_map(c2, IOVA, 2 * MEMSZ, fd, 0, VU_DMA_MAP_F_READ), 0);
	vu_client_close(c2);
	close(fd);
	testdev_destroy(td2);
}

static unsigned reset_lines;

static void count_reset_lines(enum vn_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (level == VN_LOG_INFO && strstr(line, "DEVICE_RESET"))
		__atomic_fetch_add(&reset_lines, 1, __ATOMIC_RELAXED);
}

static void test_a_reset_loop_does_not_flood_the_log(void **state)
{
	struct fx *f = *state;
	enum vn_log_level lvl = vn_log_get_level();

	reset_lines = 0;
	vn_log_set_level(VN_LOG_INFO);
	vn_log_set_sink(count_reset_lines, NULL);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(vu_client_reset(f->c), 0);
	vn_log_set_sink(NULL, NULL);
	vn_log_set_level(lvl);
	/* 10 a second: 2000 resets would have to take 100 s to print 1000. */
	assert_true(reset_lines >= 1);
	assert_true(reset_lines < 1000);
}

static unsigned lifecycle_lines;

static void count_lifecycle_lines(enum vn_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (level == VN_LOG_INFO && strstr(line, "vu testdev: client"))
		__atomic_fetch_add(&lifecycle_lines, 1, __ATOMIC_RELAXED);
}

static void test_a_reconnect_loop_does_not_flood_the_log(void **state)
{
	struct fx *f = *state;
	enum vn_log_level lvl = vn_log_get_level();

	vu_client_close(f->c);
	f->c = NULL;
	fx_wait_disconnected(f);
	lifecycle_lines = 0;
	vn_log_set_level(VN_LOG_INFO);
	vn_log_set_sink(count_lifecycle_lines, NULL);
	/* connected, negotiated, disconnected: three lines a cycle. */
	for (int i = 0; i < 300; i++) {
		assert_int_equal(vu_client_connect(f->path, 5000, &f->c), 0);
		vu_client_close(f->c);
		f->c = NULL;
		fx_wait_disconnected(f);
	}
	vn_log_set_sink(NULL, NULL);
	vn_log_set_level(lvl);
	/* 10 a second: 300 cycles would have to take 45 s to print 450. */
	assert_true(lifecycle_lines >= 1);
	assert_true(lifecycle_lines < 450);
	assert_int_equal(vu_client_connect(f->path, 5000, &f->c), 0);
}

static void test_set_irqs_holds_at_most_one_eventfd_per_vector(void **state)
{
	struct fx *f = *state;
	int efds[TD_MSIX_VECTORS], before;

	for (int i = 0; i < TD_MSIX_VECTORS; i++)
		efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	before = count_open_fds();
	for (int round = 0; round < 200; round++) {
		assert_int_equal(
		    vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
				       VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 0,
				       TD_MSIX_VECTORS, efds, NULL),
		    0);
		assert_int_equal(
		    vu_client_set_irqs(f->c, VU_PCI_INTX_IRQ,
				       VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_UNMASK, 0, 1,
				       efds, NULL),
		    0);
	}
	/* The server holds one duplicate per vector and one unmask fd. */
	assert_true(count_open_fds() <= before + TD_MSIX_VECTORS + 1);
	/* Unmask eventfds are for INTx (resample) only, as in Linux VFIO. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_UNMASK, 0,
					    TD_MSIX_VECTORS, efds, NULL),
			 -EINVAL);
	assert_true(count_open_fds() <= before + TD_MSIX_VECTORS + 1);
	/* More than the device has: refused, nothing kept. */
	assert_int_equal(vu_client_set_irqs(f->c, VU_PCI_MSIX_IRQ,
					    VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER, 1,
					    TD_MSIX_VECTORS, efds, NULL),
			 -EINVAL);
	assert_true(count_open_fds() <= before + TD_MSIX_VECTORS + 1);
	for (int i = 0; i < TD_MSIX_VECTORS; i++)
		close(efds[i]);
}

static void test_out_of_descriptors_the_server_pauses_accepting_rather_than_spin(void **state)
{
	struct fx *f = *state;
	struct vu_server_stats st;
	struct rlimit old, low;
	struct timespec t0, t1;
	char path[200];
	struct testdev *td2 = second_dev(f, "nofd", NULL, false, path, sizeof(path));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), probe;
	uint64_t ms;

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* No descriptor left: the lowest free number is the limit. */
	probe = dup(0);
	assert_true(probe >= 0);
	close(probe);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* In the backlog; the server's accept() fails with EMFILE. */
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(300000);
	vu_server_get_stats(testdev_server(td2), &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
	     (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* One attempt per 100 ms pause at most (a busy retry makes millions). */
	assert_true(st.accept_errors >= 1);
	assert_true(st.accept_errors <= ms / 100 + 2);
	/* Descriptors back: the waiting client is served. */
	for (int i = 0; i < 10000 && !vu_server_connected(testdev_server(td2)); i++)
		usleep(1000);
	assert_true(vu_server_connected(testdev_server(td2)));
	close(fd);
	testdev_destroy(td2);
}

static void test_a_connection_flood_is_turned_away_and_holds_nothing(void **state)
{
	struct fx *f = *state;
	struct vu_server_stats st;
	int before = count_open_fds();
	uint32_t v;

	for (int i = 0; i < 500; i++) {
		int fd = vu_sock_connect(f->path);
		char c;
		if (fd < 0)
			continue; /* backlog full: the kernel refused it */
		/* Accepted and closed at once: EOF. */
		assert_int_equal(vu_sock_wait(fd, POLLIN, 5000), 1);
		assert_int_equal(read(fd, &c, 1), 0);
		close(fd);
	}
	vu_server_get_stats(testdev_server(f->td), &st);
	assert_true(st.refused_busy >= 1);
	assert_int_equal(count_open_fds(), before);
	assert_int_equal(vu_client_region_read(f->c, 0, TD_REG_ID, &v, 4), 0);
	assert_int_equal(v, TD_ID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_version_negotiates_capabilities, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_device_info_reports_pci_reset_regions_and_irqs,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_region_info_reports_sparse_mmap_with_an_fd,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_region_info_with_small_argsz_returns_needed_size_and_no_fd, fx_setup,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_config_space_has_ids_bars_and_msix, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_register_writes_read_back_at_every_width, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_region_access_outside_a_region_fails, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sparse_area_is_shared_memory_with_message_access,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_dma_map_lets_the_device_read_and_write_client_memory, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dma_map_errors_and_unmap, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_doorbell_in_shared_memory_is_polled_and_raises_msix, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unmapping_memory_the_device_polls_is_safe,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_masked_vector_is_pending_until_unmasked, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_client_triggers_with_none_and_bool_data, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_deassign_and_disable_all_stop_interrupts, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_intx_and_err_irqs_and_bad_irq_requests, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_intx_automasks_until_the_unmask_eventfd_fires,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_device_reset_reaches_the_device, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_unsupported_and_unknown_commands_get_error_replies,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_posted_write_needs_no_reply_and_keeps_order,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_one_client_at_a_time_and_the_next_after_it_leaves,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_a_killed_client_releases_its_maps_and_irqs,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_socket_path_rules, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_client_that_reads_no_reply_delays_no_other_device, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_queued_replies_that_make_no_progress_end_the_connection, fx_setup,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_a_sealable_memfd_is_sealed_against_shrinking,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_memory_truncated_under_the_device_fails_that_device_only, fx_setup,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dma_map_bytes_are_capped_per_client, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_a_reset_loop_does_not_flood_the_log, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_a_reconnect_loop_does_not_flood_the_log, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_set_irqs_holds_at_most_one_eventfd_per_vector,
					    fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_out_of_descriptors_the_server_pauses_accepting_rather_than_spin, fx_setup,
		fx_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_connection_flood_is_turned_away_and_holds_nothing, fx_setup, fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
