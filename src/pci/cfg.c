/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "pci/cfg.h"

void pcicfg_set_wmask(struct pcicfg *c, unsigned off, unsigned len, uint32_t mask)
{
	for (unsigned i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		c->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

void pcicfg_init(struct pcicfg *c, const struct pcicfg_ids *ids)
{
	memset(c, 0, sizeof(*c));
	pcicfg_put16(c, PCI_VENDOR_ID, ids->vendor);
	pcicfg_put16(c, PCI_DEVICE_ID, ids->device);
	c->cfg[PCI_REVISION_ID] = ids->revision;
	c->cfg[PCI_CLASS_PROG] = (uint8_t)ids->class_code;
	c->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(ids->class_code >> 8);
	c->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(ids->class_code >> 16);
	c->cfg[PCI_HEADER_TYPE] = 0;
	pcicfg_put16(c, PCI_SUBSYS_VENDOR, ids->subsys_vendor);
	pcicfg_put16(c, PCI_SUBSYS_ID, ids->subsys);
	c->cfg[PCI_INTERRUPT_PIN] = ids->intx_pin;
	/*
	 * Command: I/O, memory, bus master, Parity Error Response, SERR#
	 * Enable and INTx disable are writable (PCIe Base 6.0 §7.5.1.1.3
	 * "Command Register": Parity Error Response and SERR# Enable are RW
	 * for every Function; the device never reports either error).
	 */
	pcicfg_set_wmask(c, PCI_COMMAND, 2,
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			     PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	c->wmask[PCI_INTERRUPT_LINE] = 0xff;
	/* Status error bits are RW1C (bits 8, 11..15). */
	pcicfg_set_wmask(c, PCI_STATUS, 0, 0);
	c->w1cmask[PCI_STATUS + 1] = 0xf9;
	c->next_cap = 0x40;
}

int pcicfg_set_bar(struct pcicfg *c, unsigned bar, uint64_t size, uint8_t flags)
{
	unsigned off = PCI_BAR0 + 4 * bar;
	uint64_t mask;

	if (bar > 5 || size < 16 || (size & (size - 1)))
		return -EINVAL;
	if ((flags & PCI_BAR_MEM_64) && bar == 5)
		return -EINVAL;
	if (!(flags & PCI_BAR_MEM_64) && size > 0x80000000ull)
		return -EINVAL;
	c->bar_size[bar] = size;
	c->bar_flags[bar] = flags;
	pcicfg_put32(c, off, flags & (PCI_BAR_MEM_64 | PCI_BAR_PREFETCH));
	/* BAR sizing (PCI 3.0 §6.2.5.1): address bits below the size read 0. */
	mask = ~(size - 1);
	pcicfg_set_wmask(c, off, 4, (uint32_t)mask & ~0xfu);
	if (flags & PCI_BAR_MEM_64) {
		pcicfg_put32(c, off + 4, 0);
		pcicfg_set_wmask(c, off + 4, 4, (uint32_t)(mask >> 32));
	}
	return 0;
}

int pcicfg_add_cap(struct pcicfg *c, uint8_t id, uint8_t len)
{
	unsigned off = c->next_cap;

	if (len < 2 || off + len > PCI_CFG_STD_SIZE)
		return -ENOSPC;
	c->cfg[off] = id;
	c->cfg[off + 1] = 0;
	if (c->last_cap)
		c->cfg[c->last_cap + 1] = (uint8_t)off;
	else
		c->cfg[PCI_CAP_PTR] = (uint8_t)off;
	c->last_cap = (uint8_t)off;
	c->next_cap = (uint8_t)((off + len + 3) & ~3u);
	pcicfg_put16(c, PCI_STATUS, pcicfg_get16(c, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	return (int)off;
}

void pcicfg_read(const struct pcicfg *c, uint64_t off, void *buf, uint32_t len)
{
	memcpy(buf, &c->cfg[off], len);
}

void pcicfg_write(struct pcicfg *c, uint64_t off, const void *buf, uint32_t len)
{
	const uint8_t *b = buf;

	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint8_t wm = c->wmask[o], w1c = c->w1cmask[o];

		c->cfg[o] = (uint8_t)((c->cfg[o] & ~wm) | (b[i] & wm));
		c->cfg[o] &= (uint8_t) ~(b[i] & w1c);
	}
}

void pcicfg_set_intx_status(struct pcicfg *c, bool asserted)
{
	uint16_t st = pcicfg_get16(c, PCI_STATUS);

	if (asserted)
		st |= PCI_STATUS_INTERRUPT;
	else
		st &= (uint16_t)~PCI_STATUS_INTERRUPT;
	pcicfg_put16(c, PCI_STATUS, st);
}
