/* SPDX-License-Identifier: Apache-2.0 */
/* The devices every kite VM has: PCI host bridge, COM1 and its console,
 * ACPI power management, reset and the debug-exit port. */
#ifndef KITE_VMM_PLATFORM_H
#define KITE_VMM_PLATFORM_H

struct vm;
struct pci_host;

int platform_create(struct vm *vm);
/* The VM has stopped: flush the console, restore the terminal. */
void platform_stop(struct vm *vm);
void platform_destroy(struct vm *vm);
struct pci_host *platform_pci(struct vm *vm);

struct state_tree;
/* Snapshot of the fixed devices as children of `node` (vmm/state.h):
 * "pci-host" (address register, host bridge config space), "uart@3f8",
 * "acpi-pm", "reset" (0xcf9 and the i8042). The vCPUs must be paused. */
int platform_save(struct vm *vm, struct state_tree *st, int node);
int platform_restore(struct vm *vm, const void *fdt, int node);

#endif
