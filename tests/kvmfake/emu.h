/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmfake's emulated CPU (KVMFAKE_GUEST=emu): an x86-64 interpreter for
 * guests the native CPU cannot run, above all a Linux kernel, which maps
 * itself at addresses no user process can have. Every instruction is
 * decoded and executed here, one thread a vCPU; every memory access goes
 * through the guest's own page tables (a software TLB in front, faults for
 * not-present, read-only and supervisor pages, accessed/dirty bits set
 * atomically), and exceptions and interrupts are delivered through the
 * guest's IDT. The devices are the native CPU's (ndev.c: the LAPIC with
 * its timer, the IOAPIC, PIC and PIT ports, the MSRs; everything else an
 * exit to kite), and so is the way it stops and starts with kite's
 * KVM_RUN. APs start in real mode at their SIPI vector.
 *
 * What it is for: running Linux under the real kite, to its own user
 * space, on hosts without /dev/kvm, so that kite's boot path, ACPI and
 * devices meet a real kernel and its drivers. What it is not:
 *  - no x87 beyond its control and status words, no SSE, no XSAVE: the
 *    CPUID kite gets under it (fk_emu_cpuid) offers none of them;
 *  - no segment limits, no NX, no paging outside long mode;
 *  - LOCKed read-modify-writes are compare-and-swaps on guest RAM (run
 *    again if another CPU wrote in between), not bus locks;
 *  - kvmclock is served (MSRs 0x11/0x12, 0x4b564d00/01), from the host TSC.
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
/* fk.lock held: a stopped CPU's live state into its fk_vcpu, for kite's
 * KVM_GET_* (what KVM_SET_* gives is taken at the CPU's entry). */
struct fk_vcpu;
void fk_emu_state_out(struct fk_vcpu *v);

#endif
