/* SPDX-License-Identifier: MIT */
/*
 * The PCI transport through uio_pci_generic (or, in tr_vfio.c, vfio-pci): an
 * NVMe function of this OS
 * (inside a QEMU guest: the 4e58:0001 device from vfio-user-pci, QEMU's
 * built-in nvme, or a real SSD), addressed by its BDF. BAR0 is mmapped from
 * sysfs (registers and doorbells are plain MMIO), bus mastering is switched
 * on in config space, DMA memory is 2 MiB hugepages whose physical addresses
 * come from /proc/self/pagemap (root only). Polled queues only: uio gives
 * one INTx-style interrupt, not MSI-X vectors.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/priv.h"

#define HUGE_2M (2u << 20)
/* PCI class code of an NVM Express I/O controller: base 01h, sub 08h, PI 02h. */
#define VNVME_PCI_CLASS_NVME 0x010802ul

struct pci_tr {
	struct drv_mmio mmio; /* first: see struct drv_mmio */
	int cfg_fd;
};

int drv_mmio_reg_read(struct vnvme_ctrl *c, uint32_t off, void *buf, uint32_t len)
{
	const struct drv_mmio *m = c->tr_priv;
	uint32_t *out = buf;

	if (len % 4 || off % 4 || off + len > m->len)
		return -EINVAL;
	/* Dword accesses, low first: what every NVMe controller accepts. */
	for (uint32_t i = 0; i < len / 4; i++)
		out[i] = m->bar[off / 4 + i];
	return 0;
}

int drv_mmio_reg_write(struct vnvme_ctrl *c, uint32_t off, const void *buf, uint32_t len)
{
	const struct drv_mmio *m = c->tr_priv;
	const uint32_t *in = buf;

	if (len % 4 || off % 4 || off + len > m->len)
		return -EINVAL;
	for (uint32_t i = 0; i < len / 4; i++)
		m->bar[off / 4 + i] = in[i];
	return 0;
}

static int pci_set_irq(struct vnvme_ctrl *c, uint16_t vec, int fd)
{
	(void)vec;
	if (fd < 0)
		return 0;
	drv_err(c, "the PCI transport (uio_pci_generic) runs polled queues only");
	return -ENOTSUP;
}

static void pci_close(struct vnvme_ctrl *c)
{
	struct pci_tr *t = c->tr_priv;

	if (!t)
		return;
	if (t->mmio.bar)
		munmap((void *)t->mmio.bar, t->mmio.len);
	if (c->dma)
		munmap(c->dma, c->dma_size);
	if (t->cfg_fd >= 0)
		close(t->cfg_fd);
	free(c->pa2m);
	c->pa2m = NULL;
	free(t);
	c->tr_priv = NULL;
}

static const struct drv_transport pci_transport = {
    .reg_read = drv_mmio_reg_read,
    .reg_write = drv_mmio_reg_write,
    .set_irq = pci_set_irq,
    .close = pci_close,
};

/* "0000:01:00.0", "01:00.0", or either behind "pci:". */
bool drv_is_bdf(const char *addr)
{
	unsigned d, b, s, f;
	char tail;

	if (!strncmp(addr, "pci:", 4))
		return true;
	return sscanf(addr, "%x:%x:%x.%x%c", &d, &b, &s, &f, &tail) == 4 ||
	       sscanf(addr, "%x:%x.%x%c", &b, &s, &f, &tail) == 3;
}

static int sysfs_read(const char *dir, const char *file, char *buf, size_t len)
{
	char p[256];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return 0;
}

/* Physical address of a virtual address (root: PFNs are hidden otherwise). */
static int virt_to_phys(int pagemap, const void *va, uint64_t *pa)
{
	uint64_t ent, vpn = (uint64_t)(uintptr_t)va / 4096;

	if (pread(pagemap, &ent, sizeof(ent), (off_t)(vpn * 8)) != sizeof(ent))
		return -errno;
	if (!(ent & (1ull << 63)) || !(ent & ((1ull << 55) - 1)))
		return -EPERM; /* not present, or PFN hidden (not root) */
	*pa = (ent & ((1ull << 55) - 1)) * 4096 + (uint64_t)(uintptr_t)va % 4096;
	return 0;
}

int drv_pci_open(struct vnvme_ctrl *c, const char *addr)
{
	struct pci_tr *t = calloc(1, sizeof(*t));
	char dir[96], bdf[48], buf[256], link[256], vendor[16] = "", device[16] = "",
						    class[16] = "";
	const char *a = strncmp(addr, "pci:", 4) ? addr : addr + 4;
	struct stat st;
	uint16_t cmd;
	ssize_t n;
	int fd, pm;

	if (!t)
		return -ENOMEM;
	t->cfg_fd = -1;
	c->tr = &pci_transport;
	c->tr_priv = t;
	snprintf(bdf, sizeof(bdf), "%s%s", strchr(a, '.') && strlen(a) < 10 ? "0000:" : "", a);
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", bdf);
	if (stat(dir, &st) < 0) {
		drv_err(c, "%s: no such PCI device (see lspci or /sys/bus/pci/devices)", bdf);
		return -ENODEV;
	}
	/*
	 * Before anything else, and before any message that names a command:
	 * an NVMe controller's class code is 01:08:02 (mass storage, NVM
	 * Express, NVM Express I/O controller; NVMe over PCIe Transport 1.0c
	 * §2.1.5 "CC - Class Code"). Another device (the host's root disk,
	 * a NIC) is refused without a word about rebinding it.
	 */
	if (sysfs_read(dir, "class", class, sizeof(class)) ||
	    strtoul(class, NULL, 16) != VNVME_PCI_CLASS_NVME) {
		drv_err(c,
			"%s: class %s is not an NVMe controller (01:08:02): refusing to touch "
			"it (lspci -nn -s %s says what it is)",
			bdf, class[0] ? class : "unknown", bdf);
		return -ENODEV;
	}
	sysfs_read(dir, "vendor", vendor, sizeof(vendor));
	sysfs_read(dir, "device", device, sizeof(device));
	snprintf(buf, sizeof(buf), "%s/driver", dir);
	n = readlink(buf, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (n > 0 && !strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 : link, "vfio-pci")) {
		free(t);
		c->tr_priv = NULL;
		return drv_vfio_open(c, bdf, dir);
	}
	if (n <= 0 ||
	    strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 : link, "uio_pci_generic")) {
		char unbind[200] = "";
		if (n > 0)
			snprintf(unbind, sizeof(unbind),
				 "echo %s > /sys/bus/pci/devices/%s/driver/unbind; ", bdf, bdf);
		drv_err(c,
			"%s (%s:%s) is bound to %s, not uio_pci_generic or vfio-pci; if nothing on "
			"it is in use (no mounted filesystem), bind it with: "
			"%smodprobe uio_pci_generic; "
			"echo %s %s > /sys/bus/pci/drivers/uio_pci_generic/new_id",
			bdf, vendor + 2, device + 2, n > 0 ? strrchr(link, '/') + 1 : "no driver",
			unbind, vendor + 2, device + 2);
		return -ENODEV;
	}
	/* Memory decoding and bus mastering (uio_pci_generic sets neither). */
	snprintf(buf, sizeof(buf), "%s/config", dir);
	t->cfg_fd = open(buf, O_RDWR | O_CLOEXEC);
	if (t->cfg_fd < 0 || pread(t->cfg_fd, &cmd, 2, 4) != 2) {
		drv_err(c, "%s: cannot read config space: %s (root?)", bdf, strerror(errno));
		return -errno ? -errno : -EIO;
	}
	cmd |= 0x6;
	if (pwrite(t->cfg_fd, &cmd, 2, 4) != 2) {
		drv_err(c, "%s: cannot enable bus mastering: %s", bdf, strerror(errno));
		return -errno;
	}
	snprintf(buf, sizeof(buf), "%s/resource0", dir);
	fd = open(buf, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0x2000) {
		drv_err(c, "%s: cannot open BAR0 (%s)", bdf, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ENODEV;
	}
	t->mmio.len = (size_t)st.st_size;
	t->mmio.bar = mmap(NULL, t->mmio.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (t->mmio.bar == MAP_FAILED) {
		t->mmio.bar = NULL;
		drv_err(c, "%s: mmap of BAR0: %s", bdf, strerror(errno));
		return -errno;
	}
	c->doorbells = (uint32_t *)(uintptr_t)(t->mmio.bar + 0x1000 / 4);
	c->db_len = t->mmio.len - 0x1000;

	/* DMA memory: pinned hugepages, each physically contiguous. */
	c->dma_size = (c->dma_size + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
	c->dma = mmap(NULL, c->dma_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED, -1, 0);
	if (c->dma == MAP_FAILED) {
		c->dma = NULL;
		drv_err(c,
			"no hugepages for %zu MiB of DMA memory: echo %zu > "
			"/proc/sys/vm/nr_hugepages",
			c->dma_size >> 20, c->dma_size / HUGE_2M + 8);
		return -ENOMEM;
	}
	c->pa2m = calloc(c->dma_size / HUGE_2M, sizeof(*c->pa2m));
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (!c->pa2m || pm < 0) {
		if (pm >= 0)
			close(pm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->dma_size / HUGE_2M; i++) {
		int ret = virt_to_phys(pm, c->dma + i * HUGE_2M, &c->pa2m[i]);
		if (ret) {
			close(pm);
			drv_err(c, "physical addresses from /proc/self/pagemap: %s (run as root)",
				strerror(-ret));
			return ret;
		}
	}
	close(pm);
	c->dma_iova = c->pa2m[0];
	return 0;
}
