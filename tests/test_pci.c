// SPDX-License-Identifier: Apache-2.0
#include <check.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/pci.h"

static struct bus pio, mmio;
static struct pci_host host;
static int bar_hits;

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque; (void)off; (void)is_write;
	bar_hits++;
	memset(data, 0x11, len);
}

static void setup(void)
{
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio), 0);
	bar_hits = 0;
}

static void teardown(void)
{
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

static uint32_t cfg_read_cf8(unsigned slot, unsigned reg)
{
	uint8_t d[4];
	uint32_t a = 0x80000000U | slot << 11 | reg;

	memcpy(d, &a, 4);
	bus_access(&pio, PORT_PCI_CONFIG_ADDR, d, 4, true);
	bus_access(&pio, PORT_PCI_CONFIG_DATA, d, 4, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static void cfg_write_ecam(unsigned slot, unsigned reg, uint32_t v, unsigned len)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	bus_access(&mmio, PCI_ECAM_START + (slot << 15) + reg, d, len, true);
}

static uint32_t cfg_read_ecam(unsigned bus, unsigned slot, unsigned reg)
{
	uint8_t d[4];

	bus_access(&mmio, PCI_ECAM_START + ((uint64_t)bus << 20) + (slot << 15) + reg, d, 4, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

START_TEST(host_bridge_both_mechanisms)
{
	ck_assert_uint_eq(cfg_read_cf8(0, 0), 0x00081b36);
	ck_assert_uint_eq(cfg_read_cf8(0, 8) >> 8, 0x060000);
	ck_assert_uint_eq(cfg_read_ecam(0, 0, 0), 0x00081b36);
	/* Empty slots, other buses, other functions: all ones. */
	ck_assert_uint_eq(cfg_read_cf8(5, 0), 0xffffffff);
	ck_assert_uint_eq(cfg_read_ecam(1, 0, 0), 0xffffffff);
	ck_assert_uint_eq(cfg_read_ecam(0, 0, 0x100), 0);	/* no extended caps */
	/* Identity is read-only. */
	cfg_write_ecam(0, 0, 0x12345678, 4);
	ck_assert_uint_eq(cfg_read_cf8(0, 0), 0x00081b36);
}
END_TEST

START_TEST(cf8_register)
{
	uint8_t d[4] = { 0x04, 0x00, 0x00, 0x80 };

	bus_access(&pio, PORT_PCI_CONFIG_ADDR, d, 4, true);
	memset(d, 0, 4);
	bus_access(&pio, PORT_PCI_CONFIG_ADDR, d, 4, false);
	ck_assert_uint_eq(d[0], 0x04);
	ck_assert_uint_eq(d[3], 0x80);
	/* Disabled address register: data reads all ones. */
	memset(d, 0, 4);
	bus_access(&pio, PORT_PCI_CONFIG_ADDR, d, 4, true);
	bus_access(&pio, PORT_PCI_CONFIG_DATA, d, 4, false);
	ck_assert_uint_eq(d[0], 0xff);
}
END_TEST

START_TEST(bar_assign_size_move)
{
	struct pci_func f;
	uint32_t bar;

	pci_func_init(&f, "test", 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2);
	f.cfg[PCI_INTERRUPT_PIN] = 1;
	pci_func_set_bar(&f, 0, PCI_BAR_MEM64, 0x4000, bar_io, &f);
	pci_func_set_bar(&f, 2, PCI_BAR_IO, 0x40, bar_io, &f);
	ck_assert_int_eq(pci_add(&host, &f), 0);
	ck_assert_uint_eq(f.slot, 1);
	ck_assert_uint_eq(f.cfg[PCI_INTERRUPT_LINE], pci_intx_gsi(1, 0));
	bar = cfg_read_cf8(1, PCI_BASE_ADDRESS_0);
	ck_assert_uint_eq(bar & 0xf, 0x4);
	ck_assert_uint_eq(bar & ~0xfU, PCI_MMIO32_START);
	ck_assert_uint_eq(cfg_read_cf8(1, PCI_BASE_ADDRESS_0 + 4), 0);
	ck_assert(f.bars[0].mapped);
	{
		uint8_t d[4];

		ck_assert(bus_access(&mmio, PCI_MMIO32_START + 0x10, d, 4, false));
		ck_assert_int_eq(bar_hits, 1);
	}
	/* Sizing with decode off, as Linux does: ~(size-1) | type comes back. */
	cfg_write_ecam(1, PCI_COMMAND, 0, 2);
	ck_assert(!f.bars[0].mapped);
	cfg_write_ecam(1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	ck_assert_uint_eq(cfg_read_cf8(1, PCI_BASE_ADDRESS_0), 0xffffc004);
	cfg_write_ecam(1, PCI_BASE_ADDRESS_0 + 8, 0xffffffff, 4);
	ck_assert_uint_eq(cfg_read_cf8(1, PCI_BASE_ADDRESS_0 + 8), 0xffffffc1);
	/* Move the BAR and turn decode back on: the bus follows. */
	cfg_write_ecam(1, PCI_BASE_ADDRESS_0, 0xc0100000, 4);
	cfg_write_ecam(1, PCI_BASE_ADDRESS_0 + 8, 0xd000, 4);
	cfg_write_ecam(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	ck_assert(f.bars[0].mapped);
	ck_assert_uint_eq(f.bars[0].addr, 0xc0100000);
	ck_assert_uint_eq(f.bars[2].addr, 0xd000);
	{
		uint8_t d[4];

		ck_assert(!bus_access(&mmio, PCI_MMIO32_START + 0x10, d, 4, false));
		ck_assert(bus_access(&mmio, 0xc0100010, d, 4, false));
		ck_assert(bus_access(&pio, 0xd004, d, 4, false));
	}
	/* A BAR moved onto the ECAM window stays unmapped; nothing breaks. */
	cfg_write_ecam(1, PCI_BASE_ADDRESS_0, (uint32_t)PCI_ECAM_START, 4);
	ck_assert(!f.bars[0].mapped);
	ck_assert_uint_eq(cfg_read_ecam(0, 0, 0), 0x00081b36);
}
END_TEST

START_TEST(capabilities_chain)
{
	struct pci_func f;
	uint8_t body[6] = { 1, 2, 3, 4, 5, 6 };

	pci_func_init(&f, "caps", 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1);
	ck_assert_int_eq(pci_func_add_cap(&f, 0x09, body, NULL, 6), 0x40);
	ck_assert_int_eq(pci_func_add_cap(&f, 0x11, body, NULL, 2), 0x48);
	ck_assert_uint_eq(f.cfg[PCI_CAPABILITY_LIST], 0x40);
	ck_assert_uint_eq(f.cfg[0x41], 0x48);
	ck_assert_uint_eq(f.cfg[0x49], 0);
	ck_assert(f.cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST);
	ck_assert_int_lt(pci_func_add_cap(&f, 0x09, body, NULL, 250), 0);
}
END_TEST

START_TEST(full_bus)
{
	static struct pci_func f[PCI_MAX_SLOTS];

	for (unsigned i = 1; i < PCI_MAX_SLOTS; i++) {
		pci_func_init(&f[i], "f", 0x1af4, 0x1042, 0x010000, 1, 0, 0);
		ck_assert_int_eq(pci_add(&host, &f[i]), 0);
	}
	pci_func_init(&f[0], "one-too-many", 0x1af4, 0x1042, 0x010000, 1, 0, 0);
	ck_assert_int_eq(pci_add(&host, &f[0]), -ENOSPC);
}
END_TEST

Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, host_bridge_both_mechanisms);
	tcase_add_test(tc, cf8_register);
	tcase_add_test(tc, bar_assign_size_move);
	tcase_add_test(tc, capabilities_chain);
	tcase_add_test(tc, full_bus);
	suite_add_tcase(s, tc);
	return s;
}
