// SPDX-License-Identifier: Apache-2.0
/* The x86 state harness's fake KVM (struct x86_kvm_ops): see state_devs.h. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "arch/x86/state.h"
#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"

#define X86F_XSAVE2	5120
#define X86F_MSR_LIST	6
static const uint32_t x86f_msrs[X86F_MSR_LIST] = {
	0x174, 0x10, 0x1b, 0x6e0, 0x4b564d01, 0xc0000080,
};

void x86fake_init(struct x86fake *f, uint8_t flags)
{
	memset(f, 0, sizeof(*f));
	f->flags = flags;
}

static void fill(void *p, size_t len, unsigned seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

static int x86f_cap(void *ctx, long cap)
{
	const struct x86fake *f = ctx;

	switch (cap) {
	case KVM_CAP_SREGS2: return !(f->flags & X86F_NO_SREGS2);
	case KVM_CAP_XSAVE: return !(f->flags & X86F_NO_XSAVE);
	case KVM_CAP_XSAVE2:
		return f->flags & (X86F_NO_XSAVE | X86F_XSAVE_4K) ? 0 : X86F_XSAVE2;
	case KVM_CAP_X86_SMM: return !(f->flags & X86F_NO_SMM);
	case KVM_CAP_TSC_CONTROL: return !(f->flags & X86F_NO_TSCCTL);
	case KVM_CAP_XCRS: case KVM_CAP_DEBUGREGS: case KVM_CAP_VCPU_EVENTS:
	case KVM_CAP_GET_TSC_KHZ: case KVM_CAP_INTR_SHADOW:
		return 1;
	case KVM_CAP_ADJUST_CLOCK:
		return KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
	}
	return 0;
}

static size_t x86f_xsave_size(struct x86fake *f)
{
	int n = x86f_cap(f, KVM_CAP_XSAVE2);

	return n >= 4096 ? (size_t)n : 4096;
}

/* Read every byte KVM would (ASan checks the caller's buffer). */
static unsigned touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	unsigned acc = 0;

	for (size_t i = 0; i < len; i++)
		acc += b[i];
	return acc;
}

static int x86f_vcpu(void *ctx, unsigned cpu, unsigned long req, void *arg)
{
	struct x86fake *f = ctx;
	struct kvm_msrs *m = arg;
	struct kvm_cpuid2 *c = arg;

	FUZZ_CHECK(cpu < X86F_CPUS, "vCPU %u of %u", cpu, X86F_CPUS);
	switch (req) {
	case KVM_GET_MP_STATE:
		((struct kvm_mp_state *)arg)->mp_state = cpu ? KVM_MP_STATE_HALTED
							     : KVM_MP_STATE_RUNNABLE;
		return 0;
	case KVM_GET_REGS: fill(arg, sizeof(struct kvm_regs), 1 + cpu); return 0;
	case KVM_GET_SREGS: fill(arg, sizeof(struct kvm_sregs), 2 + cpu); return 0;
	case KVM_GET_SREGS2:
		fill(arg, sizeof(struct kvm_sregs2), 2 + cpu);
		((struct kvm_sregs2 *)arg)->flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
		return 0;
	case KVM_GET_XSAVE: fill(arg, 4096, 3 + cpu); return 0;
	case KVM_GET_XSAVE2: fill(arg, x86f_xsave_size(f), 3 + cpu); return 0;
	case KVM_GET_FPU: fill(arg, sizeof(struct kvm_fpu), 3 + cpu); return 0;
	case KVM_GET_XCRS:
		fill(arg, sizeof(struct kvm_xcrs), 4 + cpu);
		((struct kvm_xcrs *)arg)->nr_xcrs = 1;
		return 0;
	case KVM_GET_DEBUGREGS: fill(arg, sizeof(struct kvm_debugregs), 5 + cpu); return 0;
	case KVM_GET_LAPIC: {
		uint32_t lvtt = 2u << 17 | 0xec;	/* TSC-deadline mode */

		fill(arg, sizeof(struct kvm_lapic_state), 6 + cpu);
		memcpy(((struct kvm_lapic_state *)arg)->regs + 0x320, &lvtt, 4);
		return 0;
	}
	case KVM_GET_VCPU_EVENTS: {
		struct kvm_vcpu_events *ev = arg;

		fill(ev, sizeof(*ev), 7 + cpu);
		ev->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
			    KVM_VCPUEVENT_VALID_SMM;
		memset(&ev->smi, 0, sizeof(ev->smi));
		return 0;
	}
	case KVM_GET_TSC_KHZ:
		return 2500000;
	case KVM_GET_CPUID2:
		if (c->nent < 2)
			return -E2BIG;
		c->nent = 2;
		fill(c->entries, 2 * sizeof(c->entries[0]), 8 + cpu);
		return 0;
	case KVM_GET_MSRS:
		for (unsigned i = 0; i < m->nmsrs; i++)
			m->entries[i].data = 0x1000ULL * (cpu + 1) + m->entries[i].index;
		return (int)m->nmsrs;
	}
	/* The sets: what KVM checks, and then some. */
	f->sets++;
	switch (req) {
	case KVM_SET_MP_STATE:
		FUZZ_CHECK(((struct kvm_mp_state *)arg)->mp_state <= KVM_MP_STATE_SUSPENDED,
			   "mp_state %u", ((struct kvm_mp_state *)arg)->mp_state);
		return 0;
	case KVM_SET_REGS: touch(arg, sizeof(struct kvm_regs)); return 0;
	case KVM_SET_SREGS: touch(arg, sizeof(struct kvm_sregs)); return 0;
	case KVM_SET_SREGS2:
		FUZZ_CHECK(!(f->flags & X86F_NO_SREGS2), "KVM_SET_SREGS2 without the capability");
		touch(arg, sizeof(struct kvm_sregs2));
		FUZZ_CHECK(!(((struct kvm_sregs2 *)arg)->flags & ~KVM_SREGS2_FLAGS_PDPTRS_VALID),
			   "sregs2 flags 0x%llx",
			   (unsigned long long)((struct kvm_sregs2 *)arg)->flags);
		return 0;
	case KVM_SET_XSAVE:
		FUZZ_CHECK(!(f->flags & X86F_NO_XSAVE), "KVM_SET_XSAVE without the capability");
		touch(arg, x86f_xsave_size(f));
		return 0;
	case KVM_SET_FPU: touch(arg, sizeof(struct kvm_fpu)); return 0;
	case KVM_SET_XCRS:
		FUZZ_CHECK(((struct kvm_xcrs *)arg)->nr_xcrs <= KVM_MAX_XCRS, "%u XCRs",
			   ((struct kvm_xcrs *)arg)->nr_xcrs);
		return 0;
	case KVM_SET_DEBUGREGS:
		FUZZ_CHECK(((struct kvm_debugregs *)arg)->flags == 0, "debugregs flags set");
		return 0;
	case KVM_SET_LAPIC:
		touch(arg, sizeof(struct kvm_lapic_state));
		return (f->flags & X86F_FAIL) && cpu == 1 ? -EINVAL : 0;
	case KVM_SET_VCPU_EVENTS: {
		const struct kvm_vcpu_events *ev = arg;
		uint32_t ok = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			      KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;

		if (f->flags & X86F_NO_SMM)
			ok &= ~KVM_VCPUEVENT_VALID_SMM;
		FUZZ_CHECK(!(ev->flags & ~ok), "events flags 0x%x", ev->flags);
		FUZZ_CHECK(!ev->exception_has_payload && !ev->triple_fault.pending,
			   "events with a payload or a triple fault");
		return 0;
	}
	case KVM_SET_TSC_KHZ:
		FUZZ_CHECK(!(f->flags & X86F_NO_TSCCTL), "KVM_SET_TSC_KHZ without TSC_CONTROL");
		FUZZ_CHECK((uintptr_t)arg > 0 && (uintptr_t)arg <= UINT32_MAX, "TSC %lu kHz",
			   (unsigned long)(uintptr_t)arg);
		return 0;
	case KVM_SET_CPUID2:
		FUZZ_CHECK(c->nent >= 1 && c->nent <= 512, "%u CPUID entries", c->nent);
		touch(c->entries, c->nent * sizeof(c->entries[0]));
		return 0;
	case KVM_SET_MSRS:
		FUZZ_CHECK(m->nmsrs <= 4096, "%u MSRs", m->nmsrs);
		touch(m->entries, m->nmsrs * sizeof(m->entries[0]));
		if (f->flags & X86F_MSR_REFUSE)
			for (unsigned i = 0; i < m->nmsrs; i++)
				if (m->entries[i].index % 3 == 0)
					return (int)i;
		return (int)m->nmsrs;
	}
	FUZZ_CHECK(0, "unexpected vCPU ioctl 0x%lx", req);
	return -ENOTTY;
}

static int x86f_sys(void *ctx, unsigned long req, void *arg)
{
	struct kvm_msr_list *l = arg;

	(void)ctx;
	FUZZ_CHECK(req == KVM_GET_MSR_INDEX_LIST, "system ioctl 0x%lx", req);
	if (l->nmsrs < X86F_MSR_LIST) {
		l->nmsrs = X86F_MSR_LIST;
		return -E2BIG;
	}
	l->nmsrs = X86F_MSR_LIST;
	memcpy(l->indices, x86f_msrs, sizeof(x86f_msrs));
	return 0;
}

static int x86f_vm(void *ctx, unsigned long req, void *arg)
{
	struct x86fake *f = ctx;
	struct kvm_irqchip *chip = arg;
	struct kvm_clock_data *clock = arg;

	switch (req) {
	case KVM_GET_IRQCHIP: {
		uint32_t id = chip->chip_id;

		FUZZ_CHECK(id < 3, "irqchip %u", id);
		fill(chip, sizeof(*chip), 9 + id);
		chip->chip_id = id;
		return 0;
	}
	case KVM_GET_PIT2: fill(arg, sizeof(struct kvm_pit_state2), 12); return 0;
	case KVM_GET_CLOCK:
		*clock = (struct kvm_clock_data){ .clock = 123456789, .realtime = 55,
			.flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC };
		return 0;
	}
	f->sets++;
	switch (req) {
	case KVM_SET_IRQCHIP:
		FUZZ_CHECK(chip->chip_id < 3, "irqchip %u", chip->chip_id);
		touch(chip, sizeof(*chip));
		return 0;
	case KVM_SET_PIT2: touch(arg, sizeof(struct kvm_pit_state2)); return 0;
	case KVM_SET_CLOCK:
		FUZZ_CHECK(!(clock->flags & ~KVM_CLOCK_REALTIME), "clock flags 0x%x",
			   clock->flags);
		FUZZ_CHECK(!clock->flags || (f->flags & X86F_REALTIME),
			   "KVM_CLOCK_REALTIME not asked for");
		return 0;
	}
	FUZZ_CHECK(0, "unexpected VM ioctl 0x%lx", req);
	return -ENOTTY;
}

static void x86f_warn(void *ctx, const char *msg)
{
	struct x86fake *f = ctx;

	FUZZ_CHECK(msg && msg[0], "an empty warning");
	f->warnings++;
}

const struct x86_kvm_ops x86fake_ops = {
	.vcpu_ioctl = x86f_vcpu, .sys_ioctl = x86f_sys, .vm_ioctl = x86f_vm,
	.check_extension = x86f_cap, .warn = x86f_warn,
};
