// SPDX-License-Identifier: Apache-2.0
/*
 * VM-wide x86 state (the in-kernel PIC pair, IOAPIC and PIT, kvmclock)
 * and the walk over the vCPUs. See state.h.
 */
#include "arch/x86/state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/err.h"
#include "vmm/state.h"

static const struct {
	const char *name;
	uint32_t id;
} chips[] = {
	{ "pic-master", KVM_IRQCHIP_PIC_MASTER },
	{ "pic-slave", KVM_IRQCHIP_PIC_SLAVE },
	{ "ioapic", KVM_IRQCHIP_IOAPIC },
};
#define NCHIPS (sizeof(chips) / sizeof(chips[0]))

static int vm_call(const struct x86_kvm_ops *ops, void *ctx, unsigned long req, const char *what,
		   void *arg)
{
	int r = ops->vm_ioctl(ctx, req, arg);

	if (r < 0)
		return err_set(-r, "%s: %s", what, strerror(-r));
	return r;
}
#define VM(req, arg) vm_call(ops, ctx, req, #req, arg)

static int save_vm(const struct x86_kvm_ops *ops, void *ctx, struct state_tree *st, int node)
{
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chip;
	int r = 0;

	/* The clock first: the vCPUs are paused from here on, and this is
	 * the instant the guest's time stops. */
	if (ops->check_extension(ctx, KVM_CAP_ADJUST_CLOCK) > 0) {
		memset(&clock, 0, sizeof(clock));
		r = VM(KVM_GET_CLOCK, &clock);
		if (r >= 0) {
			state_put_u64(st, node, "clock", clock.clock);
			state_put_u32(st, node, "clock-flags", clock.flags);
			state_put_u64(st, node, "clock-realtime", clock.realtime);
			state_put_u64(st, node, "clock-host-tsc", clock.host_tsc);
		}
	}
	for (unsigned i = 0; r >= 0 && i < NCHIPS; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = chips[i].id;
		r = VM(KVM_GET_IRQCHIP, &chip);
		if (r >= 0)
			r = state_put_bytes(st, node, chips[i].name, &chip, sizeof(chip));
	}
	if (r >= 0 && (r = VM(KVM_GET_PIT2, &pit)) >= 0)
		r = state_put_bytes(st, node, "pit2", &pit, sizeof(pit));
	return r < 0 ? r : state_error(st);
}

static int restore_irqchips(const struct x86_kvm_ops *ops, void *ctx, const void *fdt, int node)
{
	struct kvm_irqchip chip[NCHIPS];
	struct kvm_pit_state2 pit;
	int r = 0;

	for (unsigned i = 0; !r && i < NCHIPS; i++) {
		r = state_get_bytes(fdt, node, chips[i].name, &chip[i], sizeof(chip[i]));
		if (!r && chip[i].chip_id != chips[i].id)
			r = err_set(EINVAL, "state: %s holds irqchip %u", chips[i].name,
				    chip[i].chip_id);
	}
	if (!r)
		r = state_get_bytes(fdt, node, "pit2", &pit, sizeof(pit));
	for (unsigned i = 0; !r && i < NCHIPS; i++)
		if ((r = VM(KVM_SET_IRQCHIP, &chip[i])) > 0)
			r = 0;
	if (!r && (r = VM(KVM_SET_PIT2, &pit)) > 0)
		r = 0;
	return r;
}

/*
 * api.rst 4.29/4.30: with KVM_CLOCK_TSC_STABLE the saved value is exactly
 * what every vCPU saw; without it, it is CLOCK_MONOTONIC plus an offset
 * and the vCPUs' views may have differed a little: kvmclock still goes on
 * from it. KVM_SET_CLOCK takes only KVM_CLOCK_REALTIME (the others are
 * accepted and ignored; kite clears them), and only when asked and both
 * the stream and this KVM have it.
 */
static int restore_clock(const struct x86_kvm_ops *ops, void *ctx, const void *fdt, int node,
			 const struct x86_restore_opts *o)
{
	struct kvm_clock_data clock;
	int caps = ops->check_extension(ctx, KVM_CAP_ADJUST_CLOCK);
	uint64_t ns, realtime;
	uint32_t flags;
	int r;

	if (!state_has(fdt, node, "clock"))
		return 0;
	if (caps <= 0)
		return err_set(ENOTSUP, "the stream has kvmclock state; KVM here has no "
			       "KVM_SET_CLOCK");
	memset(&clock, 0, sizeof(clock));
	r = state_get_u64(fdt, node, "clock", &ns);
	if (!r)
		r = state_get_u32(fdt, node, "clock-flags", &flags);
	if (!r)
		r = state_get_u64(fdt, node, "clock-realtime", &realtime);
	if (r)
		return r;
	clock.clock = ns;
	clock.realtime = realtime;
	if (o && o->clock_realtime && (flags & KVM_CLOCK_REALTIME) && (caps & KVM_CLOCK_REALTIME))
		clock.flags = KVM_CLOCK_REALTIME;
	r = VM(KVM_SET_CLOCK, &clock);
	return r < 0 ? r : 0;
}

int x86_state_save(const struct x86_kvm_ops *ops, void *ctx, unsigned ncpus,
		   struct state_tree *st, int node)
{
	int r = save_vm(ops, ctx, st, state_add_node(st, node, "vm"));

	for (unsigned i = 0; !r && i < ncpus; i++) {
		char name[24];

		snprintf(name, sizeof(name), "cpu@%u", i);
		r = x86_vcpu_state_save(ops, ctx, i, st, state_add_node(st, node, name));
	}
	return r;
}

int x86_state_restore(const struct x86_kvm_ops *ops, void *ctx, unsigned ncpus,
		      const void *fdt, int node, const struct x86_restore_opts *o)
{
	int vm = state_node(fdt, node, "vm");
	char name[24];
	int r;

	if (vm < 0)
		return vm;
	/* As many vCPUs in the stream as here, no more. */
	snprintf(name, sizeof(name), "cpu@%u", ncpus);
	if (state_has_node(fdt, node, name))
		return err_set(EINVAL, "the stream has more than this VM's %u vCPUs", ncpus);
	r = restore_irqchips(ops, ctx, fdt, vm);
	for (unsigned i = 0; !r && i < ncpus; i++) {
		snprintf(name, sizeof(name), "cpu@%u", i);
		r = x86_vcpu_state_restore(ops, ctx, i, fdt, state_node(fdt, node, name));
	}
	if (!r)
		r = restore_clock(ops, ctx, fdt, vm, o);
	return r;
}
