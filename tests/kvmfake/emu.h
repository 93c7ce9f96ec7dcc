/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmfake's emulated CPU (KVMFAKE_GUEST=emu): an x86-64 interpreter for
 * guests the native CPU cannot run, above all a Linux kernel, which maps
 * itself at addresses no user process can have. Every instruction is
 * decoded and executed here, every memory access goes through the guest's
 * own page tables (a software TLB in front), and exceptions are delivered
 * through the guest's IDT. The devices are the native CPU's (ndev.c: the
 * LAPIC, IOAPIC, PIC and PIT ports, the MSRs; everything else an exit to
 * kite), and so is the way it stops and starts with kite's KVM_RUN.
 *
 * What it is for: running Linux's early boot under the real kite far
 * enough to see what kite gave it (command line, e820 map, ACPI tables,
 * CPU count), on hosts without /dev/kvm. What it is not:
 *  - it runs the boot vCPU only: INIT/SIPI to the others are not served;
 *  - no x87 beyond FNINIT/FNSTSW/FNSTCW/FLDCW, no SSE, no XSAVE: the CPUID
 *    kite gets under it (fk_emu_cpuid) offers none of them;
 *  - no segment limits, no page protection checks (only "not present"
 *    becomes a #PF), accessed/dirty bits are not set;
 *  - no real mode and no 32-bit paging: protected mode without paging,
 *    then long mode;
 *  - LOCK is honoured by running one CPU;
 *  - no LAPIC timer; kvmclock is served (MSRs 0x11/0x12, 0x4b564d00/01).
 */
#ifndef KITE_TESTS_KVMFAKE_EMU_H
#define KITE_TESTS_KVMFAKE_EMU_H

#include <linux/kvm.h>
#include <stdbool.h>

/* KVMFAKE_GUEST=emu was asked for. */
bool fk_emu_wanted(void);
/* Clear from a supported-CPUID table the features the interpreter lacks. */
void fk_emu_cpuid(struct kvm_cpuid_entry2 *e, unsigned n);
/* The guest thread's body in this mode; never returns. */
void emu_main(void);

#endif
