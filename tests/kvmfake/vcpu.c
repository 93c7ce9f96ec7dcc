// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: a vCPU's state ioctls. Each SET is checked as KVM checks it
 * (arch/x86/kvm/x86.c's validity tests, as api.rst describes them) and the
 * state is kept, so a GET returns what was set: a snapshot taken here and
 * restored into another kite must give back the same bytes.
 */
#include <errno.h>
#include <string.h>

#include "emu.h"
#include "model.h"

#define CR0_PE	(1ULL << 0)
#define CR0_NW	(1ULL << 29)
#define CR0_CD	(1ULL << 30)
#define CR0_PG	(1ULL << 31)
#define CR0_ET	(1ULL << 4)
#define CR4_PAE	(1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define CR0_RESERVED	0xffffffff1ffaffc0ULL	/* everything but PE MP EM TS ET NE WP AM NW CD PG */
#define CR4_RESERVED	0xffffffffff000000ULL

static void put32(char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* The architectural state after RESET (SDM vol. 3, 10.1.1). */
void fk_vcpu_reset(struct fk_vcpu *v)
{
	struct kvm_segment data = { .limit = 0xffff, .type = 3, .present = 1, .s = 1 };

	memset(&v->regs, 0, sizeof(v->regs));
	v->regs.rip = 0xfff0;
	v->regs.rflags = 2;
	memset(&v->sregs, 0, sizeof(v->sregs));
	v->sregs.cs = (struct kvm_segment){ .base = 0xffff0000, .limit = 0xffff, .selector = 0xf000,
					    .type = 11, .present = 1, .s = 1 };
	v->sregs.ds = v->sregs.es = v->sregs.fs = v->sregs.gs = v->sregs.ss = data;
	v->sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 11, .present = 1 };
	v->sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	v->sregs.gdt.limit = v->sregs.idt.limit = 0xffff;
	v->sregs.cr0 = 0x60000010;
	v->sregs.apic_base = 0xfee00800 | (v->id == 0 ? 0x100 : 0);
	memset(&v->fpu, 0, sizeof(v->fpu));
	v->fpu.fcw = 0x37f;
	v->fpu.mxcsr = 0x1f80;
	memset(&v->lapic, 0, sizeof(v->lapic));
	put32(&v->lapic.regs[0x20], v->id << 24);	/* APIC ID */
	put32(&v->lapic.regs[0x30], 0x50014);		/* version */
	put32(&v->lapic.regs[0xf0], 0xff);		/* spurious vector, off */
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		put32(&v->lapic.regs[off], 0x10000);	/* LVTs masked */
	memset(&v->events, 0, sizeof(v->events));
	v->mp.mp_state = v->id == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
	memset(&v->debugregs, 0, sizeof(v->debugregs));
	v->debugregs.dr6 = 0xffff0ff0;
	v->debugregs.dr7 = 0x400;
	memset(&v->xcrs, 0, sizeof(v->xcrs));
	v->xcrs.nr_xcrs = 1;
	v->xcrs.xcrs[0].value = 1;
	memset(&v->xsave, 0, sizeof(v->xsave));
	v->xsave.region[0] = 0x37f;				/* FCW, FSW 0 */
	v->xsave.region[6] = 0x1f80;				/* MXCSR at byte 24 */
	/* PAT's power-up value (SDM vol. 3, 13.12.4), as KVM resets it */
	v->msrs[0] = (struct fk_msr){ .index = 0x277, .value = 0x0007040600070406ULL };
	v->nmsrs = 1;
	v->ncpuid = 0;
	v->tsc_khz = 2000000;
	v->ran = v->checked = false;
	v->taken = 0;
}

static const char *sregs_problem(uint64_t cr0, uint64_t cr4, uint64_t efer, bool cs_l)
{
	if ((efer & EFER_LME) && (cr0 & CR0_PG)) {
		if (!(cr4 & CR4_PAE))
			return "long mode paging (EFER.LME and CR0.PG) without CR4.PAE";
		if (!(efer & EFER_LMA))
			return "EFER.LME and CR0.PG without EFER.LMA";
	} else if ((efer & EFER_LMA) || cs_l) {
		return "EFER.LMA or CS.L without long mode paging";
	}
	if (cr0 & CR0_RESERVED)
		return "reserved CR0 bits set";
	if ((cr0 & CR0_NW) && !(cr0 & CR0_CD))
		return "CR0.NW without CR0.CD";
	if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
		return "CR0.PG without CR0.PE";
	if (cr4 & CR4_RESERVED)
		return "reserved CR4 bits set";
	if (efer & ~0xd01ULL)	/* SCE LME LMA NXE */
		return "EFER bits KVM does not offer";
	return NULL;
}

static long set_sregs(struct fk_vcpu *v, const struct kvm_sregs *s, const char *what)
{
	const char *p = sregs_problem(s->cr0, s->cr4, s->efer, s->cs.l);

	if (p) {
		fk_complain("%s on vCPU %u: %s (cr0 0x%llx cr4 0x%llx efer 0x%llx)", what, v->id, p,
			    (unsigned long long)s->cr0, (unsigned long long)s->cr4,
			    (unsigned long long)s->efer);
		return -EINVAL;
	}
	v->sregs = *s;
	v->checked = false;
	return 0;
}

static long sregs2(struct fk_vcpu *v, struct kvm_sregs2 *s2, bool set)
{
	struct kvm_sregs s;

	if (!set) {
		memset(s2, 0, sizeof(*s2));
		s = v->sregs;
		s2->cs = s.cs, s2->ds = s.ds, s2->es = s.es, s2->fs = s.fs, s2->gs = s.gs;
		s2->ss = s.ss, s2->tr = s.tr, s2->ldt = s.ldt, s2->gdt = s.gdt, s2->idt = s.idt;
		s2->cr0 = s.cr0, s2->cr2 = s.cr2, s2->cr3 = s.cr3, s2->cr4 = s.cr4, s2->cr8 = s.cr8;
		s2->efer = s.efer, s2->apic_base = s.apic_base;
		return 0;
	}
	if (s2->flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID) {
		fk_complain("KVM_SET_SREGS2 on vCPU %u: flags 0x%llx", v->id,
			    (unsigned long long)s2->flags);
		return -EINVAL;
	}
	s = v->sregs;
	s.cs = s2->cs, s.ds = s2->ds, s.es = s2->es, s.fs = s2->fs, s.gs = s2->gs;
	s.ss = s2->ss, s.tr = s2->tr, s.ldt = s2->ldt, s.gdt = s2->gdt, s.idt = s2->idt;
	s.cr0 = s2->cr0, s.cr2 = s2->cr2, s.cr3 = s2->cr3, s.cr4 = s2->cr4, s.cr8 = s2->cr8;
	s.efer = s2->efer, s.apic_base = s2->apic_base;
	return set_sregs(v, &s, "KVM_SET_SREGS2");
}

bool fk_msr_put(struct fk_vcpu *v, uint32_t index, uint64_t value)
{
	unsigned j = 0;

	if (!fk_msr_known(index))
		return false;
	while (j < v->nmsrs && v->msrs[j].index != index)
		j++;
	if (j == v->nmsrs) {
		if (v->nmsrs == FK_MAX_MSRS)
			return false;
		v->nmsrs++;
	}
	v->msrs[j] = (struct fk_msr){ index, value };
	return true;
}

static long set_msrs(struct fk_vcpu *v, const struct kvm_msrs *m)
{
	for (unsigned i = 0; i < m->nmsrs; i++)
		if (!fk_msr_put(v, m->entries[i].index, m->entries[i].data))
			return i;	/* KVM stops at the first it refuses */
	return m->nmsrs;
}

static long get_msrs(struct fk_vcpu *v, struct kvm_msrs *m)
{
	for (unsigned i = 0; i < m->nmsrs; i++) {
		uint32_t idx = m->entries[i].index;
		unsigned j = 0;

		if (!fk_msr_known(idx))
			return i;
		while (j < v->nmsrs && v->msrs[j].index != idx)
			j++;
		m->entries[i].data = j < v->nmsrs ? v->msrs[j].value : 0;
	}
	return m->nmsrs;
}

static long set_cpuid(struct fk_vcpu *v, const struct kvm_cpuid2 *c)
{
	if (c->nent > 256) {
		fk_complain("KVM_SET_CPUID2 on vCPU %u: %u entries (KVM takes 256)", v->id, c->nent);
		return -E2BIG;
	}
	/* Since Linux 5.16 a vCPU that has run keeps its CPUID. */
	if (v->ran && (c->nent != v->ncpuid ||
		       memcmp(c->entries, v->cpuid, c->nent * sizeof(c->entries[0])))) {
		fk_complain("KVM_SET_CPUID2 on vCPU %u after KVM_RUN, with other values", v->id);
		return -EINVAL;
	}
	memcpy(v->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
	v->ncpuid = c->nent;
	return 0;
}

static long set_xcrs(struct fk_vcpu *v, const struct kvm_xcrs *x)
{
	uint64_t host = fk_host_xcr0();

	if (x->nr_xcrs > KVM_MAX_XCRS || x->flags) {
		fk_complain("KVM_SET_XCRS on vCPU %u: %u xcrs, flags 0x%x", v->id, x->nr_xcrs,
			    x->flags);
		return -EINVAL;
	}
	for (unsigned i = 0; i < x->nr_xcrs; i++) {
		uint64_t val = x->xcrs[i].value;

		if (x->xcrs[i].xcr != 0 || !(val & 1) || (val & ~host) || ((val & 4) && !(val & 2))) {
			fk_complain("KVM_SET_XCRS on vCPU %u: XCR%u = 0x%llx (host offers 0x%llx)",
				    v->id, x->xcrs[i].xcr, (unsigned long long)val,
				    (unsigned long long)host);
			return -EINVAL;
		}
	}
	v->xcrs = *x;
	return 0;
}

static long set_xsave(struct fk_vcpu *v, const struct kvm_xsave *x)
{
	uint32_t mxcsr = x->region[6];
	uint64_t bv;

	memcpy(&bv, (const uint8_t *)x->region + 512, 8);
	if ((mxcsr & ~0xffffU) || (bv & ~fk_host_xcr0())) {
		fk_complain("KVM_SET_XSAVE on vCPU %u: MXCSR 0x%x, XSTATE_BV 0x%llx", v->id, mxcsr,
			    (unsigned long long)bv);
		return -EINVAL;
	}
	v->xsave = *x;
	return 0;
}

static long set_events(struct fk_vcpu *v, const struct kvm_vcpu_events *e)
{
	uint32_t valid = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
			 KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

	if ((e->flags & ~valid) ||
	    ((e->exception.injected || e->exception.pending) &&
	     (e->exception.nr > 31 || e->exception.nr == 2))) {
		fk_complain("KVM_SET_VCPU_EVENTS on vCPU %u: flags 0x%x, exception %u", v->id,
			    e->flags, e->exception.nr);
		return -EINVAL;
	}
	if ((e->flags & KVM_VCPUEVENT_VALID_PAYLOAD)) {
		fk_complain("KVM_SET_VCPU_EVENTS on vCPU %u: exception payloads need "
			    "KVM_CAP_EXCEPTION_PAYLOAD, not offered", v->id);
		return -EINVAL;
	}
	v->events = *e;
	return 0;
}

static long mp_state(struct fk_vcpu *v, struct kvm_mp_state *m, bool set)
{
	if (!set) {
		*m = v->mp;
		return 0;
	}
	if (m->mp_state > KVM_MP_STATE_AP_RESET_HOLD ||
	    (v->id == 0 && (m->mp_state == KVM_MP_STATE_INIT_RECEIVED ||
			    m->mp_state == KVM_MP_STATE_SIPI_RECEIVED))) {
		fk_complain("KVM_SET_MP_STATE on vCPU %u: state %u", v->id, m->mp_state);
		return -EINVAL;
	}
	v->mp = *m;
	v->checked = false;
	return 0;
}

static long get_cpuid(struct fk_vcpu *v, struct kvm_cpuid2 *c)
{
	if (c->nent < v->ncpuid) {
		c->nent = v->ncpuid;
		return -E2BIG;
	}
	memcpy(c->entries, v->cpuid, v->ncpuid * sizeof(c->entries[0]));
	c->nent = v->ncpuid;
	return 0;
}

/* State read while an exit is half done is not the guest's state. */
static void check_complete(struct fk_vcpu *v, const char *what)
{
	if (v->taken && v->req.done < v->taken && !fk.dead &&
	    (v->req.reason == KVM_EXIT_IO || v->req.reason == KVM_EXIT_MMIO))
		fk_complain("%s on vCPU %u with its %s exit not completed: re-enter KVM_RUN (with "
			    "immediate_exit set) first, or the guest state is not consistent "
			    "(api.rst, KVM_RUN)", what, v->id,
			    v->req.reason == KVM_EXIT_IO ? "I/O" : "MMIO");
}

long fk_vcpu_ioctl(struct fk_vcpu *v, unsigned long req, void *arg)
{
	/* The emulated CPU keeps its live state itself: a stopped one's goes
	 * to v first, for every KVM_GET_* below. */
	if (fk_emu_wanted() && fk_native_active() && (_IOC_DIR(req) & _IOC_READ))
		fk_emu_state_out(v);
	switch (req) {
	case KVM_GET_REGS:
		check_complete(v, "KVM_GET_REGS");
		*(struct kvm_regs *)arg = v->regs;
		return 0;
	case KVM_SET_REGS:
		v->regs = *(struct kvm_regs *)arg;
		v->checked = false;
		return 0;
	case KVM_GET_SREGS:
		*(struct kvm_sregs *)arg = v->sregs;
		return 0;
	case KVM_SET_SREGS:
		return set_sregs(v, arg, "KVM_SET_SREGS");
	case KVM_GET_SREGS2:
		return sregs2(v, arg, false);
	case KVM_SET_SREGS2:
		return sregs2(v, arg, true);
	case KVM_GET_FPU:
		*(struct kvm_fpu *)arg = v->fpu;
		return 0;
	case KVM_SET_FPU:
		v->fpu = *(struct kvm_fpu *)arg;
		return 0;
	case KVM_GET_LAPIC:
		*(struct kvm_lapic_state *)arg = v->lapic;
		return 0;
	case KVM_SET_LAPIC:
		v->lapic = *(struct kvm_lapic_state *)arg;
		return 0;
	case KVM_GET_VCPU_EVENTS:
		*(struct kvm_vcpu_events *)arg = v->events;
		((struct kvm_vcpu_events *)arg)->flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
			KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
			KVM_VCPUEVENT_VALID_SMM;
		return 0;
	case KVM_SET_VCPU_EVENTS:
		return set_events(v, arg);
	case KVM_GET_MP_STATE:
	case KVM_SET_MP_STATE:
		return mp_state(v, arg, req == KVM_SET_MP_STATE);
	case KVM_GET_DEBUGREGS:
		*(struct kvm_debugregs *)arg = v->debugregs;
		return 0;
	case KVM_SET_DEBUGREGS: {
		const struct kvm_debugregs *d = arg;

		if (d->flags || (d->dr6 | d->dr7) >> 32) {
			fk_complain("KVM_SET_DEBUGREGS on vCPU %u: flags 0x%llx, dr6 0x%llx, dr7 0x%llx",
				    v->id, (unsigned long long)d->flags, (unsigned long long)d->dr6,
				    (unsigned long long)d->dr7);
			return -EINVAL;
		}
		v->debugregs = *d;
		return 0;
	}
	case KVM_GET_XCRS:
		*(struct kvm_xcrs *)arg = v->xcrs;
		return 0;
	case KVM_SET_XCRS:
		return set_xcrs(v, arg);
	case KVM_GET_XSAVE:
		*(struct kvm_xsave *)arg = v->xsave;
		return 0;
	case KVM_SET_XSAVE:
		return set_xsave(v, arg);
	case KVM_GET_MSRS:
		return get_msrs(v, arg);
	case KVM_SET_MSRS:
		return set_msrs(v, arg);
	case KVM_SET_CPUID2:
		return set_cpuid(v, arg);
	case KVM_GET_CPUID2:
		return get_cpuid(v, arg);
	case KVM_GET_TSC_KHZ:
		return v->tsc_khz;
	case KVM_SET_TSC_KHZ:
		if (!(unsigned long)arg || (unsigned long)arg > 0xffffffffUL) {
			fk_complain("KVM_SET_TSC_KHZ on vCPU %u: %lu", v->id, (unsigned long)arg);
			return -EINVAL;
		}
		v->tsc_khz = (uint32_t)(unsigned long)arg;
		return 0;
	default:
		fk_complain("vCPU %u: ioctl 0x%lx is not known here", v->id, req);
		return -ENOTTY;
	}
}
