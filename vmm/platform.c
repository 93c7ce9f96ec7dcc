// SPDX-License-Identifier: Apache-2.0
#include "vmm/platform.h"

#include <signal.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "devices/pci.h"
#include "devices/reset.h"
#include "devices/uart.h"
#include "vmm/console.h"
#include "vmm/err.h"
#include "vmm/state.h"
#include "vmm/vm.h"

struct platform {
	struct pci_host pci;
	struct uart com1;
	struct acpi_pm pm;
	struct reset_dev reset;
	struct console *console;
	bool pci_ok, com1_ok, pm_ok, reset_ok;
};

int platform_create(struct vm *vm)
{
	struct platform *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return err_set(ENOMEM, "out of memory");
	vm->platform = p;
	/* A console reader that went away must not kill kite. */
	signal(SIGPIPE, SIG_IGN);

	r = pci_host_init(&p->pci, &vm->pio, &vm->mmio);
	if (r)
		return r;
	p->pci_ok = true;
	r = reset_dev_init(&p->reset, vm, &vm->pio);
	if (r)
		return r;
	p->reset_ok = true;
	p->pci.cf9_fn = reset_cf9_io;
	p->pci.cf9_opaque = &p->reset;
	r = acpi_pm_init(&p->pm, vm, &vm->pio);
	if (r)
		return r;
	p->pm_ok = true;
	r = uart_init(&p->com1, vm, &vm->pio, PORT_COM1, COM1_IRQ);
	if (r)
		return r;
	p->com1_ok = true;
	r = console_open(&p->console, &vm->cfg->console, vm);
	if (r)
		return r;
	return console_attach(p->console, &p->com1);
}

struct pci_host *platform_pci(struct vm *vm)
{
	return &vm->platform->pci;
}

int platform_save(struct vm *vm, struct state_tree *st, int node)
{
	struct platform *p = vm->platform;
	int n = state_add_node(st, node, "pci-host");

	state_put_u32(st, n, "cf8", p->pci.cf8);
	pci_func_save(&p->pci.bridge, st, n);
	uart_save(&p->com1, st, state_add_node(st, node, "uart@3f8"));
	acpi_pm_save(&p->pm, st, state_add_node(st, node, "acpi-pm"));
	reset_dev_save(&p->reset, st, state_add_node(st, node, "reset"));
	return state_error(st);
}

int platform_restore(struct vm *vm, const void *fdt, int node)
{
	struct platform *p = vm->platform;
	int n = state_node(fdt, node, "pci-host");
	uint32_t cf8;
	int r = state_get_u32(fdt, n, "cf8", &cf8);

	if (!r)
		r = pci_func_restore(&p->pci.bridge, fdt, n);
	if (!r)
		r = uart_restore(&p->com1, fdt, state_node(fdt, node, "uart@3f8"));
	if (!r)
		r = acpi_pm_restore(&p->pm, fdt, state_node(fdt, node, "acpi-pm"));
	if (!r)
		r = reset_dev_restore(&p->reset, fdt, state_node(fdt, node, "reset"));
	if (!r)
		p->pci.cf8 = cf8 & 0x80fffffcU;	/* what a guest write keeps */
	return r;
}

void platform_stop(struct vm *vm)
{
	struct platform *p = vm->platform;

	if (p && p->console) {
		console_close(p->console);
		p->console = NULL;
	}
}

void platform_destroy(struct vm *vm)
{
	struct platform *p = vm->platform;

	if (!p)
		return;
	platform_stop(vm);
	if (p->com1_ok)
		uart_destroy(&p->com1);
	if (p->pm_ok)
		acpi_pm_destroy(&p->pm);
	if (p->reset_ok)
		reset_dev_destroy(&p->reset);
	free(p);
	vm->platform = NULL;
}
