// SPDX-License-Identifier: Apache-2.0
/*
 * Save -> restore -> compare for the fixed devices: the UART, the ACPI PM
 * block, the reset device (i8042), and a PCI function's config space with
 * its BAR mapping. Each is driven through its ports as a guest would, saved
 * into a state tree, restored into a fresh instance on another bus, and
 * must then answer the guest exactly as the original does.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/reset.h"
#include "devices/uart.h"
#include "tests/fake_vm.h"
#include "tests/state_util.h"
#include "vmm/err.h"
#include "vmm/state.h"

static struct bus pio_a, pio_b, mmio_a, mmio_b;
static struct state_tree st;
static void *tree;

static void setup(void)
{
	fake_vm_reset();
	bus_init(&pio_a, "pio-a");
	bus_init(&pio_b, "pio-b");
	bus_init(&mmio_a, "mmio-a");
	bus_init(&mmio_b, "mmio-b");
	ck_assert_int_eq(state_begin(&st), 0);
	tree = NULL;
}

static void teardown(void)
{
	state_free(&st);
	free(tree);
	bus_destroy(&pio_a);
	bus_destroy(&pio_b);
	bus_destroy(&mmio_a);
	bus_destroy(&mmio_b);
}

/* Pack what was saved and check it as an incoming tree would be. */
static const void *saved(void)
{
	size_t len;

	tree = state_copy(&st, &len);
	return tree;
}

static uint8_t in8(struct bus *b, uint16_t port)
{
	uint8_t v = 0;

	ck_assert(bus_access(b, port, &v, 1, false));
	return v;
}

static void out8(struct bus *b, uint16_t port, uint8_t v)
{
	ck_assert(bus_access(b, port, &v, 1, true));
}

/* ---- UART ---- */

START_TEST(uart_round_trip)
{
	struct uart a, b;
	const uint8_t rx[] = "hello";
	const void *t;
	int calls;

	ck_assert_int_eq(uart_init(&a, FAKE_VM, &pio_a, PORT_COM1, COM1_IRQ), 0);
	ck_assert_int_eq(uart_init(&b, FAKE_VM, &pio_b, PORT_COM1, COM1_IRQ), 0);
	out8(&pio_a, PORT_COM1 + 3, 0x80);		/* DLAB */
	out8(&pio_a, PORT_COM1 + 0, 0x01);		/* 115200 */
	out8(&pio_a, PORT_COM1 + 1, 0x00);
	out8(&pio_a, PORT_COM1 + 3, 0x03);		/* 8n1 */
	out8(&pio_a, PORT_COM1 + 2, 0xc7);		/* FIFO on, trigger 14 */
	out8(&pio_a, PORT_COM1 + 4, 0x0b);		/* DTR RTS OUT2 */
	out8(&pio_a, PORT_COM1 + 7, 0x5a);
	out8(&pio_a, PORT_COM1 + 1, 0x05);		/* RDA + RLS interrupts */
	ck_assert_uint_eq(uart_receive(&a, rx, 5), 5);
	ck_assert_uint_eq(in8(&pio_a, PORT_COM1), 'h');	/* FIFO now "ello", head moved */
	ck_assert_int_eq(uart_save(&a, &st, state_add_node(&st, 0, "uart@3f8")), 0);
	t = saved();

	calls = fake_vm_get().irq_calls;
	ck_assert_int_eq(uart_restore(&b, t, state_node(t, 0, "uart@3f8")), 0);
	/* Edge-triggered: the line is left as the irqchip has it. */
	ck_assert_int_eq(fake_vm_get().irq_calls, calls);
	ck_assert_uint_eq(b.irq_level, a.irq_level);
	/* Every register reads the same, side effects included. */
	for (unsigned i = 0; i < 6; i++) {
		static const uint8_t regs[] = { 1, 2, 3, 4, 5, 6, 7 };

		for (unsigned r = 0; r < sizeof(regs); r++)
			ck_assert_uint_eq(in8(&pio_b, PORT_COM1 + regs[r]),
					  in8(&pio_a, PORT_COM1 + regs[r]));
		ck_assert_uint_eq(in8(&pio_b, PORT_COM1), in8(&pio_a, PORT_COM1));
	}
	out8(&pio_b, PORT_COM1 + 3, 0x83);
	ck_assert_uint_eq(in8(&pio_b, PORT_COM1), 0x01);	/* divisor came along */
	uart_destroy(&a);
	uart_destroy(&b);
}
END_TEST

START_TEST(uart_refuses_bad_state)
{
	struct uart a;
	int n = state_add_node(&st, 0, "fifo-too-long"), m;
	const void *t;
	static const char *const names[] = { "ier", "fcr", "lcr", "mcr", "scr", "dll", "dlm",
					     "overrun", "thr-int", "msr-delta", "rbr-last",
					     "irq-level" };

	for (unsigned i = 0; i < 12; i++)
		state_put_u32(&st, n, names[i], 0);
	state_put_bytes(&st, n, "rx-fifo", "ab", 2);	/* FIFO off: holds one */
	m = state_add_node(&st, 0, "ier-bits");
	for (unsigned i = 0; i < 12; i++)
		state_put_u32(&st, m, names[i], i == 0 ? 0x10 : 0);
	state_put_bytes(&st, m, "rx-fifo", "", 0);
	t = saved();
	ck_assert_int_eq(uart_init(&a, FAKE_VM, &pio_a, PORT_COM1, COM1_IRQ), 0);
	a.scr = 0x33;
	ck_assert_int_eq(uart_restore(&a, t, state_node(t, 0, "fifo-too-long")), -EINVAL);
	ck_assert_str_eq(err_msg(), "uart: 2 bytes in a receive FIFO of 1");
	ck_assert_int_eq(uart_restore(&a, t, state_node(t, 0, "ier-bits")), -EINVAL);
	ck_assert_str_eq(err_msg(), "state /ier-bits: 'ier' is 0x10, only bits 0xf allowed");
	ck_assert_uint_eq(a.scr, 0x33);		/* untouched */
	uart_destroy(&a);
}
END_TEST

/* ---- ACPI PM ---- */

static uint16_t in16(struct bus *b, uint16_t port)
{
	uint16_t v = 0;

	ck_assert(bus_access(b, port, (uint8_t *)&v, 2, false));
	return v;
}

static void out16(struct bus *b, uint16_t port, uint16_t v)
{
	ck_assert(bus_access(b, port, (uint8_t *)&v, 2, true));
}

START_TEST(acpi_pm_round_trip)
{
	struct acpi_pm a, b;
	const void *t;

	ck_assert_int_eq(acpi_pm_init(&a, FAKE_VM, &pio_a), 0);
	ck_assert_int_eq(acpi_pm_init(&b, FAKE_VM, &pio_b), 0);
	out16(&pio_a, PORT_ACPI_PM1A_EVT + 2, ACPI_PM1_PWRBTN);	/* enable */
	out16(&pio_a, PORT_ACPI_GPE0 + 2, 0x0003);
	out16(&pio_a, PORT_ACPI_PM1A_CNT, 3 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_BM_RLD);
	ck_assert(acpi_pm_power_button(&a));
	ck_assert_int_eq(fake_vm_get().irq_level[ACPI_SCI_IRQ], 1);
	ck_assert_int_eq(acpi_pm_save(&a, &st, state_add_node(&st, 0, "acpi-pm")), 0);
	t = saved();

	fake_vm_reset();	/* a new VM: its SCI line is low */
	ck_assert_int_eq(acpi_pm_restore(&b, t, state_node(t, 0, "acpi-pm")), 0);
	ck_assert_int_eq(fake_vm_get().irq_level[ACPI_SCI_IRQ], 1);	/* level: re-asserted */
	ck_assert_uint_eq(in16(&pio_b, PORT_ACPI_PM1A_EVT) & ~ACPI_PM1_TMR,
			  in16(&pio_a, PORT_ACPI_PM1A_EVT) & ~ACPI_PM1_TMR);
	ck_assert_uint_eq(in16(&pio_b, PORT_ACPI_PM1A_EVT + 2), ACPI_PM1_PWRBTN);
	ck_assert_uint_eq(in16(&pio_b, PORT_ACPI_PM1A_CNT), in16(&pio_a, PORT_ACPI_PM1A_CNT));
	ck_assert_uint_eq(in16(&pio_b, PORT_ACPI_GPE0 + 2), 3);
	/* The guest acknowledges: the SCI drops, on the restored block. */
	out16(&pio_b, PORT_ACPI_PM1A_EVT, ACPI_PM1_PWRBTN);
	ck_assert_int_eq(fake_vm_get().irq_level[ACPI_SCI_IRQ], 0);
	acpi_pm_destroy(&a);
	acpi_pm_destroy(&b);
}
END_TEST

/* ---- reset device and i8042 ---- */

START_TEST(reset_round_trip)
{
	struct reset_dev a, b;
	const void *t;

	ck_assert_int_eq(reset_dev_init(&a, FAKE_VM, &pio_a), 0);
	ck_assert_int_eq(reset_dev_init(&b, FAKE_VM, &pio_b), 0);
	out8(&pio_a, PORT_I8042_CMD, 0x60);		/* write the CTR */
	out8(&pio_a, PORT_I8042_DATA, 0x45);
	out8(&pio_a, PORT_I8042_CMD, 0x20);		/* read it back: OBF */
	ck_assert_int_eq(reset_dev_save(&a, &st, state_add_node(&st, 0, "reset")), 0);
	t = saved();
	ck_assert_int_eq(reset_dev_restore(&b, t, state_node(t, 0, "reset")), 0);
	ck_assert_uint_eq(in8(&pio_b, PORT_I8042_CMD), in8(&pio_a, PORT_I8042_CMD));
	ck_assert_uint_eq(in8(&pio_b, PORT_I8042_DATA), 0x45);
	ck_assert_uint_eq(in8(&pio_a, PORT_I8042_DATA), 0x45);
	ck_assert_uint_eq(in8(&pio_b, PORT_I8042_CMD), in8(&pio_a, PORT_I8042_CMD));
	reset_dev_destroy(&a);
	reset_dev_destroy(&b);
}
END_TEST

/* ---- a PCI function ---- */

static unsigned bar_hits;

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque;
	(void)off;
	bar_hits++;
	if (!is_write)
		memset(data, 0xab, len);
}

static void make_func(struct pci_func *f, uint16_t device)
{
	uint8_t body[6] = { 1, 2, 3, 4, 5, 6 }, wm[6] = { 0, 0, 0xff, 0xff, 0, 0 };

	pci_func_init(f, "test-fn", 0x1234, device, 0xff0000, 1, 0x1234, 1);
	f->cfg[PCI_INTERRUPT_PIN] = 1;
	pci_func_set_bar(f, 0, PCI_BAR_MEM32, 0x1000, bar_io, f);
	pci_func_set_bar(f, 1, PCI_BAR_IO, 0x20, bar_io, f);
	ck_assert_int_ge(pci_func_add_cap(f, 0x09, body, wm, sizeof(body)), 0);
}

static uint32_t cfg_read(struct pci_host *h, unsigned slot, unsigned off, unsigned len)
{
	uint32_t v = 0;

	pci_config_access(h, 0, slot << 3, off, (uint8_t *)&v, len, false);
	return v;
}

static void cfg_write(struct pci_host *h, unsigned slot, unsigned off, uint32_t v, unsigned len)
{
	pci_config_access(h, 0, slot << 3, off, (uint8_t *)&v, len, true);
}

START_TEST(pci_func_round_trip)
{
	struct pci_host ha, hb;
	struct pci_func fa, fb, fc;
	uint8_t d[4];
	const void *t;
	int n;

	ck_assert_int_eq(pci_host_init(&ha, &pio_a, &mmio_a), 0);
	ck_assert_int_eq(pci_host_init(&hb, &pio_b, &mmio_b), 0);
	make_func(&fa, 0x42);
	make_func(&fb, 0x42);
	ck_assert_int_eq(pci_add(&ha, &fa), 0);
	ck_assert_int_eq(pci_add(&hb, &fb), 0);
	/* The guest moves BAR 0, turns I/O decoding off, writes the line
	 * register and the capability's writable bytes. */
	cfg_write(&ha, fa.slot, PCI_BASE_ADDRESS_0, 0xd0000000, 4);
	cfg_write(&ha, fa.slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cfg_write(&ha, fa.slot, PCI_INTERRUPT_LINE, 11, 1);
	cfg_write(&ha, fa.slot, 0x40 + 4, 0xbeef, 2);
	n = state_add_node(&st, 0, "fn");
	ck_assert_int_eq(pci_func_save(&fa, &st, n), 0);
	t = saved();

	ck_assert_int_eq(pci_func_restore(&fb, t, state_node(t, 0, "fn")), 0);
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		ck_assert_uint_eq(cfg_read(&hb, fb.slot, off, 4), cfg_read(&ha, fa.slot, off, 4));
	/* The BAR follows the restored config space: mapped at the new
	 * address, not at the one pci_add gave; I/O decoding off. */
	bar_hits = 0;
	ck_assert(bus_access(&mmio_b, 0xd0000010, d, 4, false));
	ck_assert_uint_eq(bar_hits, 1);
	ck_assert(!bus_access(&mmio_b, PCI_MMIO32_START, d, 4, false));
	ck_assert(!bus_access(&pio_b, fb.bars[1].addr ? fb.bars[1].addr : 0xc000, d, 1, false));

	/* Another device id: a read-only byte differs, and says which. */
	make_func(&fc, 0x43);
	fc.host = &hb;
	fc.slot = fb.slot;
	ck_assert_int_eq(pci_func_restore(&fc, t, state_node(t, 0, "fn")), -EINVAL);
	ck_assert_str_eq(err_msg(), "PCI test-fn: read-only config byte 0x02 is 0x42 in the "
			 "stream, 0x43 here (the device is built differently)");
	fc.slot = fb.slot + 1;
	ck_assert_int_eq(pci_func_restore(&fc, t, state_node(t, 0, "fn")), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_msg(), "in slot 1 in the stream, slot 2 here"));
	pthread_mutex_destroy(&ha.lock);
	pthread_mutex_destroy(&hb.lock);
}
END_TEST

Suite *dev_state_suite(void)
{
	Suite *s = suite_create("dev_state");
	TCase *tc = tcase_create("fixed devices");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, uart_round_trip);
	tcase_add_test(tc, uart_refuses_bad_state);
	tcase_add_test(tc, acpi_pm_round_trip);
	tcase_add_test(tc, reset_round_trip);
	tcase_add_test(tc, pci_func_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
