/* SPDX-License-Identifier: Apache-2.0 */
/* Per-vCPU x86 set-up: CPUID, MSRs, LAPIC, boot registers, and the
 * register dump printed when a vCPU dies. */
#ifndef KITE_ARCH_X86_CPU_H
#define KITE_ARCH_X86_CPU_H

#include <stdio.h>

#include "arch/x86/boot.h"

struct kvm_cpuid2;
struct vm;
struct vcpu;

/* KVM_GET_SUPPORTED_CPUID, grown until it fits. Caller frees. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd);

/* Rewrite the topology leaves of `c` (a copy of the template) for vCPU `id`
 * of `ncpus`: one package, ncpus cores, one thread each; APIC id = id.
 * `c` must have room for X86_CPUID_EXTRA entries beyond c->nent. */
#define X86_CPUID_EXTRA 3
void x86_cpuid_for_vcpu(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus);

int x86_vcpu_init(struct vcpu *vcpu);
int x86_vcpu_set_boot_regs(struct vcpu *vcpu, const struct boot_entry *e);
void x86_vcpu_dump(struct vcpu *vcpu, FILE *out);
/* VM-wide: TSS and identity-map pages, in-kernel irqchip and PIT. */
int x86_vm_init(struct vm *vm);

#endif
