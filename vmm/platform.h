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

#endif
