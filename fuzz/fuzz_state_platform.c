// SPDX-License-Identifier: Apache-2.0
/*
 * Restore of the fixed devices from a hostile state tree: byte 0 of the
 * state input (fuzz/state_devs.h) picks, % 5, platform_restore (PCI host
 * address register and bridge, COM1, ACPI PM, reset/i8042, as a VM has
 * them), uart_restore, acpi_pm_restore, reset_dev_restore or
 * pci_func_restore (a function with a memory BAR, an I/O BAR and a
 * capability), each on node "dev" of the tree.
 *
 * Each run: state_check, the reader's walk over the whole tree, the
 * restore into fresh devices; a refused one must say why. An accepted
 * state is one the device can be in: saved again it must restore into
 * another fresh instance. Either way a guest then uses the devices
 * through their ports (every register read, the usual writes, a frame of
 * input, the power button, resets) and they are freed.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/reset.h"
#include "devices/uart.h"
#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"
#include "tests/fake_vm.h"
#include "vmm/config.h"
#include "vmm/err.h"
#include "vmm/platform.h"
#include "vmm/state.h"
#include "vmm/vm.h"

enum which { W_PLATFORM, W_UART, W_ACPI, W_RESET, W_PCI, W_N };

/* One of each, on its own buses; only the ones `which` needs are made. */
struct devs {
	enum which which;
	struct vm_config cfg;
	struct vm vm;		/* for the platform: buses and the platform */
	struct bus pio, mmio;
	struct uart uart;
	struct acpi_pm pm;
	struct reset_dev reset;
	struct pci_host host;
	struct pci_func fn;
};

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque, (void)off;
	if (!is_write)
		memset(data, 0xab, len);
}

static void make(struct devs *d, enum which w)
{
	uint8_t body[6] = { 1, 2, 3, 4, 5, 6 }, wm[6] = { 0, 0, 0xff, 0xff, 0, 0 };

	memset(d, 0, sizeof(*d));
	d->which = w;
	fake_vm_reset();
	bus_init(&d->pio, "pio");
	bus_init(&d->mmio, "mmio");
	switch (w) {
	case W_PLATFORM:
		d->cfg.console.kind = CONSOLE_NONE;
		d->vm.cfg = &d->cfg;
		bus_init(&d->vm.pio, "pio");
		bus_init(&d->vm.mmio, "mmio");
		FUZZ_CHECK(platform_create(&d->vm) == 0, "%s", err_msg());
		break;
	case W_UART:
		FUZZ_CHECK(uart_init(&d->uart, FAKE_VM, &d->pio, PORT_COM1, COM1_IRQ) == 0, "%s",
			   err_msg());
		break;
	case W_ACPI:
		FUZZ_CHECK(acpi_pm_init(&d->pm, FAKE_VM, &d->pio) == 0, "%s", err_msg());
		break;
	case W_RESET:
		FUZZ_CHECK(reset_dev_init(&d->reset, FAKE_VM, &d->pio) == 0, "%s", err_msg());
		break;
	default:
		FUZZ_CHECK(pci_host_init(&d->host, &d->pio, &d->mmio) == 0, "%s", err_msg());
		pci_func_init(&d->fn, "fuzz-fn", 0x1234, 0x42, 0xff0000, 1, 0x1234, 1);
		d->fn.cfg[PCI_INTERRUPT_PIN] = 1;
		pci_func_set_bar(&d->fn, 0, PCI_BAR_MEM32, 0x1000, bar_io, &d->fn);
		pci_func_set_bar(&d->fn, 1, PCI_BAR_IO, 0x20, bar_io, &d->fn);
		FUZZ_CHECK(pci_func_add_cap(&d->fn, 0x09, body, wm, sizeof(body)) >= 0, "%s",
			   err_msg());
		FUZZ_CHECK(pci_add(&d->host, &d->fn) == 0, "%s", err_msg());
		break;
	}
}

static void unmake(struct devs *d)
{
	switch (d->which) {
	case W_PLATFORM:
		platform_destroy(&d->vm);
		bus_destroy(&d->vm.pio);
		bus_destroy(&d->vm.mmio);
		break;
	case W_UART:
		uart_destroy(&d->uart);
		break;
	case W_ACPI:
		acpi_pm_destroy(&d->pm);
		break;
	case W_RESET:
		reset_dev_destroy(&d->reset);
		break;
	default:
		pthread_mutex_destroy(&d->host.lock);
		break;
	}
	bus_destroy(&d->pio);
	bus_destroy(&d->mmio);
}

static int restore(struct devs *d, const void *fdt, int node)
{
	switch (d->which) {
	case W_PLATFORM: return platform_restore(&d->vm, fdt, node);
	case W_UART: return uart_restore(&d->uart, fdt, node);
	case W_ACPI: return acpi_pm_restore(&d->pm, fdt, node);
	case W_RESET: return reset_dev_restore(&d->reset, fdt, node);
	default: return pci_func_restore(&d->fn, fdt, node);
	}
}

static int save(struct devs *d, struct state_tree *st, int node)
{
	switch (d->which) {
	case W_PLATFORM: return platform_save(&d->vm, st, node);
	case W_UART: return uart_save(&d->uart, st, node);
	case W_ACPI: return acpi_pm_save(&d->pm, st, node);
	case W_RESET: return reset_dev_save(&d->reset, st, node);
	default: return pci_func_save(&d->fn, st, node);
	}
}

static struct bus *pio_of(struct devs *d)
{
	return d->which == W_PLATFORM ? &d->vm.pio : &d->pio;
}

static uint32_t in(struct devs *d, uint16_t port, unsigned len)
{
	uint32_t v = 0;

	bus_access(pio_of(d), port, (uint8_t *)&v, len, false);
	return v;
}

static void out(struct devs *d, uint16_t port, uint32_t v, unsigned len)
{
	bus_access(pio_of(d), port, (uint8_t *)&v, len, true);
}

/* Every register read, then what a guest's drivers write. */
static void exercise(struct devs *d)
{
	static const uint8_t frame[] = "kite fuzz input\n";

	for (int round = 0; round < 2; round++) {
		for (uint16_t p = PORT_COM1; p < PORT_COM1 + 8; p++)
			in(d, p, 1);
		in(d, PORT_I8042_CMD, 1);
		in(d, PORT_I8042_DATA, 1);
		in(d, PORT_ACPI_PM1A_EVT, 2);
		in(d, PORT_ACPI_PM1A_EVT + 2, 2);
		in(d, PORT_ACPI_PM1A_CNT, 2);
		in(d, PORT_ACPI_PM_TMR, 4);
		in(d, PORT_ACPI_GPE0, 2);
		in(d, PORT_ACPI_GPE0 + 2, 2);
		in(d, PORT_RESET_CF9, 1);
		for (unsigned off = 0; off < 256; off += 4) {
			out(d, PORT_PCI_CONFIG_ADDR, 0x80000000u | off, 4);
			in(d, PORT_PCI_CONFIG_DATA, 4);
		}
		in(d, PORT_PCI_CONFIG_ADDR, 4);
	}
	if (d->which == W_PCI) {
		uint32_t v;

		for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4) {
			v = 0;
			pci_config_access(&d->host, 0, d->fn.slot << 3, off, (uint8_t *)&v, 4,
					  false);
		}
		for (unsigned b = 0; b < 2; b++)
			if (d->fn.bars[b].mapped)
				bus_access(b ? &d->pio : &d->mmio, d->fn.bars[b].addr,
					   (uint8_t *)&v, 4, false);
		/* The guest moves BAR 0 and turns decoding back on. */
		v = 0xd0000000;
		pci_config_access(&d->host, 0, d->fn.slot << 3, PCI_BASE_ADDRESS_0,
				  (uint8_t *)&v, 4, true);
		v = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
		pci_config_access(&d->host, 0, d->fn.slot << 3, PCI_COMMAND, (uint8_t *)&v, 2,
				  true);
		bus_access(&d->mmio, 0xd0000000, (uint8_t *)&v, 4, false);
	}
	/* COM1: 8n1 at 115200, FIFO, interrupts; input arrives, is read. */
	out(d, PORT_COM1 + 3, 0x80, 1);
	out(d, PORT_COM1 + 0, 0x01, 1);
	out(d, PORT_COM1 + 3, 0x03, 1);
	out(d, PORT_COM1 + 2, 0xc7, 1);
	out(d, PORT_COM1 + 1, 0x0f, 1);
	out(d, PORT_COM1 + 4, 0x1b, 1);		/* loopback */
	out(d, PORT_COM1, 'k', 1);
	if (d->which == W_UART)
		uart_receive(&d->uart, frame, sizeof(frame));
	for (unsigned i = 0; i < 20; i++)
		in(d, PORT_COM1, 1), in(d, PORT_COM1 + 5, 1), in(d, PORT_COM1 + 2, 1);
	/* ACPI: enable, the power button, acknowledge. */
	out(d, PORT_ACPI_PM1A_EVT + 2, 0xffff, 2);
	out(d, PORT_ACPI_GPE0 + 2, 0xffff, 2);
	if (d->which == W_ACPI)
		acpi_pm_power_button(&d->pm);
	out(d, PORT_ACPI_PM1A_EVT, 0xffff, 2);
	out(d, PORT_ACPI_GPE0, 0xffff, 2);
	/* i8042: read and write the controller configuration. */
	out(d, PORT_I8042_CMD, 0x20, 1);
	in(d, PORT_I8042_DATA, 1);
	out(d, PORT_I8042_CMD, 0x60, 1);
	out(d, PORT_I8042_DATA, 0x45, 1);
	in(d, PORT_I8042_CMD, 1);
	/* Resets, as a VM reset does them. */
	switch (d->which) {
	case W_UART: uart_reset(&d->uart); break;
	case W_ACPI: acpi_pm_reset(&d->pm); break;
	case W_RESET: reset_dev_reset(&d->reset); break;
	default: break;
	}
	in(d, PORT_COM1 + 5, 1);
	in(d, PORT_ACPI_PM1A_EVT, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct devs a, b;
	struct state_tree st;
	size_t len, len2;
	void *t = state_input_tree(data, size, &len), *t2 = NULL;
	enum which w;
	int r;

	if (!t)
		return 0;
	w = (enum which)(data[0] % W_N);
	make(&a, w);
	err_clear();
	r = restore(&a, t, state_node(t, 0, STATE_NODE));
	if (state_restored("restore", r)) {
		FUZZ_CHECK(state_begin(&st) == 0, "%s", err_msg());
		FUZZ_CHECK(save(&a, &st, state_add_node(&st, 0, STATE_NODE)) == 0,
			   "save after a restore: %s", err_msg());
		t2 = state_tree_copy(&st, &len2);
		state_free(&st);
	}
	exercise(&a);
	unmake(&a);
	free(t);
	if (t2) {
		make(&b, w);
		r = restore(&b, t2, state_node(t2, 0, STATE_NODE));
		FUZZ_CHECK(r == 0, "a tree saved from a restored device is refused: %s",
			   err_msg());
		exercise(&b);
		unmake(&b);
		free(t2);
	}
	return 0;
}
