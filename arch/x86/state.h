/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 vCPU and VM state for snapshots and migration, saved into and
 * restored from the state tree (vmm/state.h), written to KVM's API
 * documentation (Documentation/virt/kvm/api.rst).
 *
 * Tree layout under the node given (kite puts it at /x86):
 *
 *   vm {
 *       pic-master, pic-slave, ioapic	struct kvm_irqchip (KVM_GET_IRQCHIP)
 *       pit2				struct kvm_pit_state2 (KVM_GET_PIT2)
 *       clock, clock-flags, clock-realtime, clock-host-tsc   (KVM_GET_CLOCK)
 *   }
 *   cpu@N {
 *       mp-state			u32 (KVM_GET_MP_STATE)
 *       regs				struct kvm_regs
 *       sregs2 | sregs			struct kvm_sregs2 (KVM_CAP_SREGS2) or kvm_sregs
 *       xsave | fpu			KVM_GET_XSAVE2 (KVM_CAP_XSAVE2 bytes),
 *					KVM_GET_XSAVE (4096) or struct kvm_fpu
 *       xcrs				struct kvm_xcrs (KVM_CAP_XCRS)
 *       debugregs			struct kvm_debugregs (KVM_CAP_DEBUGREGS)
 *       lapic				struct kvm_lapic_state
 *       tsc-khz			u32, 0 if KVM could not say
 *       cpuid				kvm_cpuid_entry2[] (KVM_GET_CPUID2)
 *       msrs				u64 pairs: index, value
 *       events				struct kvm_vcpu_events (KVM_CAP_VCPU_EVENTS)
 *   }
 *
 * KVM structures are stored as the kernel lays them out (x86-64 ABI, kite
 * runs nowhere else) and their sizes are checked exactly on restore.
 *
 * Every KVM call goes through struct x86_kvm_ops, so unit tests run the
 * save/restore logic against a fake that hands out known structures.
 * Both need every vCPU outside KVM_RUN (paused, or not yet started).
 */
#ifndef KITE_ARCH_X86_STATE_H
#define KITE_ARCH_X86_STATE_H

#include <stdbool.h>

struct state_tree;

struct x86_kvm_ops {
	/* An ioctl on vCPU `cpu`'s fd, /dev/kvm's fd or the VM's fd: the
	 * ioctl's result (>= 0) or -errno. */
	int (*vcpu_ioctl)(void *ctx, unsigned cpu, unsigned long req, void *arg);
	int (*sys_ioctl)(void *ctx, unsigned long req, void *arg);
	int (*vm_ioctl)(void *ctx, unsigned long req, void *arg);
	/* KVM_CHECK_EXTENSION on the VM fd: 0 if absent, else its value. */
	int (*check_extension)(void *ctx, long cap);
	/* Something restore carried on without (an MSR KVM refused). */
	void (*warn)(void *ctx, const char *msg);
};

/* The real calls; ctx is the struct vm. */
extern const struct x86_kvm_ops x86_kvm_ioctl_ops;

struct x86_restore_opts {
	/* Pass the saved host realtime to KVM_SET_CLOCK (KVM_CLOCK_REALTIME),
	 * so kvmclock also counts the time between save and restore: right
	 * for a migration between hosts with synchronised clocks. Off (a
	 * snapshot restored later), kvmclock goes on from its saved value. */
	bool clock_realtime;
};

/* Save the VM-wide state and every vCPU's as children of `node`. */
int x86_state_save(const struct x86_kvm_ops *ops, void *ctx, unsigned ncpus,
		   struct state_tree *st, int node);
/*
 * Restore into a VM created with the same vCPU count (irqchip and PIT
 * created, vCPUs created, none run): irqchip and PIT, then each vCPU, then
 * the clock last, so as little host time as possible passes between
 * setting kvmclock and the vCPUs running.
 */
int x86_state_restore(const struct x86_kvm_ops *ops, void *ctx, unsigned ncpus,
		      const void *fdt, int node, const struct x86_restore_opts *o);

/* One vCPU, for the above and for tests. */
int x86_vcpu_state_save(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			struct state_tree *st, int node);
int x86_vcpu_state_restore(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			   const void *fdt, int node);

#endif
