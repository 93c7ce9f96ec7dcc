/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for the three callbacks devices make into the VM (vmm/vm.h):
 * vm_irq_line, vm_irq_pulse and vm_request_stop record what they were
 * asked instead of talking to KVM. tests/fake_vm.c defines them for the
 * unit-test binary, which therefore must not link vmm/vm.o; build with
 * -DKITE_NO_FAKE_VM to drop them if it ever has to.
 */
#ifndef KITE_TESTS_FAKE_VM_H
#define KITE_TESTS_FAKE_VM_H

#include <stdbool.h>

struct vm;

#define FAKE_GSIS 32

struct fake_vm {
	int irq_calls;			/* vm_irq_line calls, pulses count as two */
	int irq_level[FAKE_GSIS];	/* last level per GSI */
	int irq_edges[FAKE_GSIS];	/* 0 -> 1 transitions per GSI */
	int stops;			/* vm_request_stop calls */
	int stop_status;		/* of the first one (the one that wins) */
	char stop_why[128];
};

/* The vm pointer to hand to devices under test. */
#define FAKE_VM ((struct vm *)&fake_vm_token)
extern char fake_vm_token;

/* Clear the record. */
void fake_vm_reset(void);
/* A snapshot of the record (the fakes are thread-safe). */
struct fake_vm fake_vm_get(void);

#endif
