/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration space emulation for a type-0 function: byte-wise write
 * masks, BAR sizing, a capability list builder, and INTx status. Used by the
 * vfio-user config region (index 7) of every emulated device.
 */
#ifndef VN_PCI_CFG_H
#define VN_PCI_CFG_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_CFG_SIZE     4096 /* PCI Express extended configuration space */
#define PCI_CFG_STD_SIZE 256

/* PCI Local Bus 3.0 §6.1 "Configuration Space Organization" */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_ROM_ADDRESS    0x30
#define PCI_CAP_PTR        0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT     0x0008
#define PCI_STATUS_CAP_LIST      0x0010

#define PCI_BAR_MEM_64   0x04
#define PCI_BAR_PREFETCH 0x08

#define PCI_CAP_ID_PM   0x01
#define PCI_CAP_ID_MSI  0x05
#define PCI_CAP_ID_EXP  0x10
#define PCI_CAP_ID_MSIX 0x11

struct pcicfg {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the host may write */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits cleared by writing 1 */
	uint64_t bar_size[6];
	uint8_t bar_flags[6];
	uint8_t next_cap; /* where the next capability goes */
	uint8_t last_cap;
};

struct pcicfg_ids {
	uint16_t vendor, device, subsys_vendor, subsys;
	uint8_t revision;
	uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
	uint8_t intx_pin;    /* 0: none, 1..4: INTA..INTD */
};

void pcicfg_init(struct pcicfg *c, const struct pcicfg_ids *ids);
/* A memory BAR of `size` (a power of two >= 16) with PCI_BAR_MEM_64 /
 * PCI_BAR_PREFETCH flags; a 64-bit BAR takes bar and bar + 1. */
int pcicfg_set_bar(struct pcicfg *c, unsigned bar, uint64_t size, uint8_t flags);
/* Append a capability of `len` bytes; returns its offset or -ENOSPC. The
 * caller fills the body and sets write masks with pcicfg_set_wmask(). */
int pcicfg_add_cap(struct pcicfg *c, uint8_t id, uint8_t len);
void pcicfg_set_wmask(struct pcicfg *c, unsigned off, unsigned len, uint32_t mask);

/* Config region access; the caller has checked off + len <= PCI_CFG_SIZE. */
void pcicfg_read(const struct pcicfg *c, uint64_t off, void *buf, uint32_t len);
void pcicfg_write(struct pcicfg *c, uint64_t off, const void *buf, uint32_t len);

static inline uint16_t pcicfg_get16(const struct pcicfg *c, unsigned off)
{
	return (uint16_t)(c->cfg[off] | c->cfg[off + 1] << 8);
}

static inline void pcicfg_put16(struct pcicfg *c, unsigned off, uint16_t v)
{
	c->cfg[off] = (uint8_t)v;
	c->cfg[off + 1] = (uint8_t)(v >> 8);
}

static inline void pcicfg_put32(struct pcicfg *c, unsigned off, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		c->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t pcicfg_get32(const struct pcicfg *c, unsigned off)
{
	return (uint32_t)c->cfg[off] | (uint32_t)c->cfg[off + 1] << 8 |
	       (uint32_t)c->cfg[off + 2] << 16 | (uint32_t)c->cfg[off + 3] << 24;
}

/* Set or clear the Interrupt Status bit (what uio_pci_generic reads). */
void pcicfg_set_intx_status(struct pcicfg *c, bool asserted);

#endif
