/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pci/cfg.h"

static struct pcicfg cfg;

static void setup_dev(void)
{
	struct pcicfg_ids ids = {
	    .vendor = 0x4e58, .device = 0x0001, .class_code = 0x010802, .intx_pin = 0};
	pcicfg_init(&cfg, &ids);
}

static uint32_t rd32(unsigned off)
{
	uint32_t v;
	pcicfg_read(&cfg, off, &v, 4);
	return v;
}

static void wr32(unsigned off, uint32_t v)
{
	pcicfg_write(&cfg, off, &v, 4);
}

static void test_ids_and_class_are_read_only(void **state)
{
	(void)state;
	setup_dev();
	assert_int_equal(rd32(0), 0x00014e58);
	assert_int_equal(rd32(8) >> 8, 0x010802);
	wr32(0, 0xffffffff);
	wr32(8, 0);
	assert_int_equal(rd32(0), 0x00014e58);
	assert_int_equal(rd32(8) >> 8, 0x010802);
}

static void test_bar_sizing_reads_back_the_size_mask(void **state)
{
	(void)state;
	setup_dev();
	assert_int_equal(pcicfg_set_bar(&cfg, 0, 0x4000, PCI_BAR_MEM_64), 0);
	assert_int_equal(rd32(PCI_BAR0) & 0xf, PCI_BAR_MEM_64);
	wr32(PCI_BAR0, 0xffffffff);
	wr32(PCI_BAR0 + 4, 0xffffffff);
	/* Sizing: the low bits below the size read zero, type bits stay. */
	assert_int_equal(rd32(PCI_BAR0), 0xffffc004);
	assert_int_equal(rd32(PCI_BAR0 + 4), 0xffffffff);
	wr32(PCI_BAR0, 0xfebf0000);
	wr32(PCI_BAR0 + 4, 0);
	assert_int_equal(rd32(PCI_BAR0), 0xfebf0004);
	assert_int_equal(pcicfg_set_bar(&cfg, 5, 0x1000, PCI_BAR_MEM_64), -22);
	assert_int_equal(pcicfg_set_bar(&cfg, 1, 0x3000, 0), -22); /* not a power of two */
}

static void test_capabilities_are_chained(void **state)
{
	int a, b;

	(void)state;
	setup_dev();
	a = pcicfg_add_cap(&cfg, PCI_CAP_ID_PM, 8);
	b = pcicfg_add_cap(&cfg, PCI_CAP_ID_MSIX, 12);
	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x48);
	assert_int_equal(cfg.cfg[PCI_CAP_PTR], 0x40);
	assert_int_equal(cfg.cfg[0x41], 0x48);
	assert_int_equal(cfg.cfg[0x49], 0);
	assert_true(pcicfg_get16(&cfg, PCI_STATUS) & PCI_STATUS_CAP_LIST);
	assert_true(pcicfg_add_cap(&cfg, 0x10, 250) < 0);
}

static void test_command_bits_are_writable_and_status_errors_w1c(void **state)
{
	uint16_t v = 0xffff;

	(void)state;
	setup_dev();
	pcicfg_write(&cfg, PCI_COMMAND, &v, 2);
	/* I/O, memory, bus master, Parity Error Response (6), SERR# Enable
	 * (8), INTx disable (10): RW in PCIe; the rest reads 0. */
	assert_int_equal(pcicfg_get16(&cfg, PCI_COMMAND), 0x0547);
	v = 0;
	pcicfg_write(&cfg, PCI_COMMAND, &v, 2);
	assert_int_equal(pcicfg_get16(&cfg, PCI_COMMAND), 0);
	pcicfg_put16(&cfg, PCI_STATUS, 0x8010);
	v = 0x8000;
	pcicfg_write(&cfg, PCI_STATUS, &v, 2);
	assert_int_equal(pcicfg_get16(&cfg, PCI_STATUS), 0x0010);
	pcicfg_set_intx_status(&cfg, true);
	assert_true(pcicfg_get16(&cfg, PCI_STATUS) & PCI_STATUS_INTERRUPT);
	pcicfg_set_intx_status(&cfg, false);
	assert_false(pcicfg_get16(&cfg, PCI_STATUS) & PCI_STATUS_INTERRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids_and_class_are_read_only),
	    cmocka_unit_test(test_bar_sizing_reads_back_the_size_mask),
	    cmocka_unit_test(test_capabilities_are_chained),
	    cmocka_unit_test(test_command_bits_are_writable_and_status_errors_w1c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
