// SPDX-License-Identifier: Apache-2.0
/*
 * x86 vCPU and VM state (arch/x86/state.h) against a fake KVM that hands
 * out known structures and records what is set, in order: a round trip
 * between two fake VMs, the orders KVM needs, and the cases where the
 * destination's KVM differs from the source's (MSRs refused, xsave sizes,
 * no SREGS2, no SMM, clock flags, TSC frequency).
 */
#include <check.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/state.h"
#include "tests/state_util.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define NCPU		2
#define MAX_MSR		16
#define TSC		0x10
#define TSC_DEADLINE	0x6e0

struct fake_cpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_sregs2 sregs2;
	uint8_t xsave[8192];
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_cpuid_entry2 cpuid[4];
	unsigned ncpuid;
	uint32_t msr_idx[MAX_MSR];
	uint64_t msr_val[MAX_MSR];
	unsigned nmsr;
	int tsc_khz;
	unsigned long set_tsc_khz;
};

struct fake {
	struct fake_cpu cpu[NCPU];
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	bool clock_set;
	int caps[256];
	uint32_t list[MAX_MSR];			/* KVM_GET_MSR_INDEX_LIST */
	unsigned nlist;
	uint32_t no_read, no_write;		/* an MSR KVM refuses */
	struct { int cpu; unsigned long req; uint32_t first_msr; unsigned nmsrs; } log[128];
	unsigned nlog;
	unsigned warnings;
	char last_warning[200];
};

static struct fake A, B;

static void note(struct fake *f, int cpu, unsigned long req, const struct kvm_msrs *m)
{
	ck_assert_uint_lt(f->nlog, 128);
	f->log[f->nlog].cpu = cpu;
	f->log[f->nlog].req = req;
	f->log[f->nlog].first_msr = m && m->nmsrs ? m->entries[0].index : 0;
	f->log[f->nlog++].nmsrs = m ? m->nmsrs : 0;
}

static int msr_slot(struct fake_cpu *c, uint32_t idx, bool create)
{
	for (unsigned i = 0; i < c->nmsr; i++)
		if (c->msr_idx[i] == idx)
			return (int)i;
	if (!create || c->nmsr == MAX_MSR)
		return -1;
	c->msr_idx[c->nmsr] = idx;
	return (int)c->nmsr++;
}

static uint64_t msr(struct fake_cpu *c, uint32_t idx)
{
	int s = msr_slot(c, idx, false);

	return s < 0 ? ~0ULL : c->msr_val[s];
}

static size_t xsave_size(struct fake *f)
{
	return f->caps[KVM_CAP_XSAVE2] >= 4096 ? (size_t)f->caps[KVM_CAP_XSAVE2] : 4096;
}

static int f_vcpu(void *ctx, unsigned cpu, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	struct fake_cpu *c = &f->cpu[cpu];
	struct kvm_msrs *m = arg;
	struct kvm_cpuid2 *cp = arg;
	int n = 0;

	ck_assert_uint_lt(cpu, NCPU);
	switch (req) {
#define GET(r, field) case r: memcpy(arg, &c->field, sizeof(c->field)); return 0;
#define SET(r, field) \
	case r: note(f, cpu, req, NULL); memcpy(&c->field, arg, sizeof(c->field)); return 0;
	GET(KVM_GET_REGS, regs) SET(KVM_SET_REGS, regs)
	GET(KVM_GET_SREGS, sregs) SET(KVM_SET_SREGS, sregs)
	GET(KVM_GET_SREGS2, sregs2) SET(KVM_SET_SREGS2, sregs2)
	GET(KVM_GET_FPU, fpu) SET(KVM_SET_FPU, fpu)
	GET(KVM_GET_XCRS, xcrs) SET(KVM_SET_XCRS, xcrs)
	GET(KVM_GET_DEBUGREGS, dregs) SET(KVM_SET_DEBUGREGS, dregs)
	GET(KVM_GET_LAPIC, lapic) SET(KVM_SET_LAPIC, lapic)
	GET(KVM_GET_VCPU_EVENTS, ev) SET(KVM_SET_VCPU_EVENTS, ev)
	GET(KVM_GET_MP_STATE, mp) SET(KVM_SET_MP_STATE, mp)
#undef GET
#undef SET
	case KVM_GET_XSAVE:
		memcpy(arg, c->xsave, 4096);
		return 0;
	case KVM_GET_XSAVE2:
		memcpy(arg, c->xsave, xsave_size(f));
		return 0;
	case KVM_SET_XSAVE:
		note(f, cpu, req, NULL);
		memcpy(c->xsave, arg, xsave_size(f));
		return 0;
	case KVM_GET_CPUID2:
		if (cp->nent < c->ncpuid)
			return -E2BIG;
		cp->nent = c->ncpuid;
		memcpy(cp->entries, c->cpuid, c->ncpuid * sizeof(c->cpuid[0]));
		return 0;
	case KVM_SET_CPUID2:
		note(f, cpu, req, NULL);
		ck_assert_uint_le(cp->nent, 4);
		c->ncpuid = cp->nent;
		memcpy(c->cpuid, cp->entries, cp->nent * sizeof(c->cpuid[0]));
		return 0;
	case KVM_GET_MSRS:
		/* As KVM: stop at the first it cannot read. */
		for (; n < (int)m->nmsrs; n++) {
			int s = msr_slot(c, m->entries[n].index, false);

			if (s < 0 || m->entries[n].index == f->no_read)
				break;
			m->entries[n].data = c->msr_val[s];
		}
		return n;
	case KVM_SET_MSRS:
		note(f, cpu, req, m);
		for (; n < (int)m->nmsrs; n++) {
			int s;

			if (m->entries[n].index == f->no_write)
				break;
			s = msr_slot(c, m->entries[n].index, true);
			ck_assert_int_ge(s, 0);
			c->msr_val[s] = m->entries[n].data;
		}
		return n;
	case KVM_GET_TSC_KHZ:
		return c->tsc_khz ? c->tsc_khz : -EIO;
	case KVM_SET_TSC_KHZ:
		note(f, cpu, req, NULL);
		c->set_tsc_khz = (unsigned long)arg;
		return 0;
	}
	ck_abort_msg("unexpected vCPU ioctl 0x%lx", req);
	return -ENOTTY;
}

static int f_sys(void *ctx, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	struct kvm_msr_list *l = arg;

	ck_assert_uint_eq(req, KVM_GET_MSR_INDEX_LIST);
	if (l->nmsrs < f->nlist) {
		l->nmsrs = f->nlist;
		return -E2BIG;
	}
	l->nmsrs = f->nlist;
	memcpy(l->indices, f->list, f->nlist * sizeof(f->list[0]));
	return 0;
}

static int f_vm(void *ctx, unsigned long req, void *arg)
{
	struct fake *f = ctx;
	struct kvm_irqchip *chip = arg;

	switch (req) {
	case KVM_GET_IRQCHIP:
		ck_assert_uint_lt(chip->chip_id, 3);
		*chip = f->chip[chip->chip_id];
		return 0;
	case KVM_SET_IRQCHIP:
		note(f, -1, req, NULL);
		f->chip[chip->chip_id] = *chip;
		return 0;
	case KVM_GET_PIT2:
		memcpy(arg, &f->pit, sizeof(f->pit));
		return 0;
	case KVM_SET_PIT2:
		note(f, -1, req, NULL);
		memcpy(&f->pit, arg, sizeof(f->pit));
		return 0;
	case KVM_GET_CLOCK:
		memcpy(arg, &f->clock, sizeof(f->clock));
		return 0;
	case KVM_SET_CLOCK:
		note(f, -1, req, NULL);
		memcpy(&f->clock, arg, sizeof(f->clock));
		f->clock_set = true;
		return 0;
	}
	ck_abort_msg("unexpected VM ioctl 0x%lx", req);
	return -ENOTTY;
}

static int f_cap(void *ctx, long cap)
{
	return cap >= 0 && cap < 256 ? ((struct fake *)ctx)->caps[cap] : 0;
}

static void f_warn(void *ctx, const char *msg)
{
	struct fake *f = ctx;

	f->warnings++;
	snprintf(f->last_warning, sizeof(f->last_warning), "%s", msg);
}

static const struct x86_kvm_ops fake_ops = {
	.vcpu_ioctl = f_vcpu, .sys_ioctl = f_sys, .vm_ioctl = f_vm,
	.check_extension = f_cap, .warn = f_warn,
};

static void fill(void *p, size_t len, unsigned seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

static void caps_all(struct fake *f)
{
	static const int caps[] = { KVM_CAP_SREGS2, KVM_CAP_XSAVE, KVM_CAP_XCRS,
				    KVM_CAP_DEBUGREGS, KVM_CAP_VCPU_EVENTS, KVM_CAP_GET_TSC_KHZ,
				    KVM_CAP_X86_SMM, KVM_CAP_INTR_SHADOW, KVM_CAP_TSC_CONTROL };

	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		f->caps[caps[i]] = 1;
	f->caps[KVM_CAP_XSAVE2] = 5120;
	f->caps[KVM_CAP_ADJUST_CLOCK] = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME |
					KVM_CLOCK_HOST_TSC;
}

static void setup(void)
{
	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	caps_all(&A);
	caps_all(&B);
	/* The index list: a few MSRs, TSC and its deadline among them. */
	A.nlist = 6;
	memcpy(A.list, (uint32_t[]){ 0x174, TSC, 0x1b, TSC_DEADLINE, 0x4b564d01, 0xc0000080 },
	       sizeof(uint32_t) * 6);
	for (unsigned c = 0; c < NCPU; c++) {
		struct fake_cpu *p = &A.cpu[c];

		fill(&p->regs, sizeof(p->regs), 1 + c);
		fill(&p->sregs2, sizeof(p->sregs2), 2 + c);
		p->sregs2.flags = KVM_SREGS2_FLAGS_PDPTRS_VALID;
		fill(p->xsave, 5120, 3 + c);
		fill(&p->xcrs, sizeof(p->xcrs), 4 + c);
		p->xcrs.nr_xcrs = 1;
		fill(&p->dregs, sizeof(p->dregs), 5 + c);
		fill(&p->lapic, sizeof(p->lapic), 6 + c);
		fill(&p->ev, sizeof(p->ev), 7 + c);
		p->ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
			      KVM_VCPUEVENT_VALID_SMM;
		memset(&p->ev.smi, 0, sizeof(p->ev.smi));
		p->mp.mp_state = c ? KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE;
		p->ncpuid = 2;
		fill(p->cpuid, sizeof(p->cpuid[0]) * 2, 8 + c);
		p->tsc_khz = 2500000;
		for (unsigned i = 0; i < 6; i++) {
			p->msr_idx[i] = A.list[i];
			p->msr_val[i] = 0x1000 * (c + 1) + i;
		}
		/* kvmclock's MSR is in the index list here; PAT is not, and
		 * is saved anyway (kite's extra list). */
		p->msr_idx[6] = 0x277;
		p->msr_val[6] = 0x0007040600070406ULL;
		p->nmsr = 7;
	}
	for (unsigned i = 0; i < 3; i++) {
		fill(&A.chip[i], sizeof(A.chip[i]), 9 + i);
		A.chip[i].chip_id = i;
	}
	fill(&A.pit, sizeof(A.pit), 12);
	A.clock = (struct kvm_clock_data){ .clock = 123456789, .realtime = 55,
		.flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC };
	for (unsigned c = 0; c < NCPU; c++)
		B.cpu[c].tsc_khz = 2500000;
}

/* Save A (all of it) and hand back the checked tree; caller frees. */
static void *save_a(int expect)
{
	struct state_tree st;
	size_t len;
	void *t;

	ck_assert_int_eq(state_begin(&st), 0);
	ck_assert_int_eq(x86_state_save(&fake_ops, &A, NCPU, &st, state_add_node(&st, 0, "x86")),
			 expect);
	if (expect) {
		state_free(&st);
		return NULL;
	}
	t = state_copy(&st, &len);
	state_free(&st);
	return t;
}

static int restore_b(const void *t, unsigned ncpus, bool realtime)
{
	struct x86_restore_opts o = { .clock_realtime = realtime };

	return x86_state_restore(&fake_ops, &B, ncpus, t, state_node(t, 0, "x86"), &o);
}

/* Index in B's log of the first request `req` for cpu, or -1. */
static int logged(unsigned long req, int cpu, unsigned from)
{
	for (unsigned i = from; i < B.nlog; i++)
		if (B.log[i].req == req && B.log[i].cpu == cpu)
			return (int)i;
	return -1;
}

START_TEST(round_trip)
{
	void *t = save_a(0);

	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	for (unsigned c = 0; c < NCPU; c++) {
		struct fake_cpu *a = &A.cpu[c], *b = &B.cpu[c];

		ck_assert_mem_eq(&b->regs, &a->regs, sizeof(a->regs));
		ck_assert_mem_eq(&b->sregs2, &a->sregs2, sizeof(a->sregs2));
		ck_assert_mem_eq(b->xsave, a->xsave, 5120);
		ck_assert_mem_eq(&b->xcrs, &a->xcrs, sizeof(a->xcrs));
		ck_assert_mem_eq(b->dregs.db, a->dregs.db, sizeof(a->dregs.db));
		ck_assert_uint_eq(b->dregs.dr7, a->dregs.dr7);
		ck_assert_uint_eq(b->dregs.flags, 0);		/* "must be cleared" */
		ck_assert_mem_eq(&b->lapic, &a->lapic, sizeof(a->lapic));
		ck_assert_uint_eq(b->mp.mp_state, a->mp.mp_state);
		ck_assert_uint_eq(b->ncpuid, 2);
		ck_assert_mem_eq(b->cpuid, a->cpuid, 2 * sizeof(a->cpuid[0]));
		ck_assert_mem_eq(&b->ev.exception, &a->ev.exception, sizeof(a->ev.exception));
		ck_assert_mem_eq(&b->ev.nmi, &a->ev.nmi, sizeof(a->ev.nmi));
		ck_assert_uint_eq(b->ev.sipi_vector, a->ev.sipi_vector);
		ck_assert_uint_eq(b->ev.flags, KVM_VCPUEVENT_VALID_NMI_PENDING |
				  KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
				  KVM_VCPUEVENT_VALID_SMM);
		for (unsigned i = 0; i < a->nmsr; i++)
			ck_assert_uint_eq(msr(b, a->msr_idx[i]), a->msr_val[i]);
		ck_assert_uint_eq(b->nmsr, a->nmsr);
		ck_assert_uint_eq(b->set_tsc_khz, 0);	/* same frequency: left alone */
	}
	for (unsigned i = 0; i < 3; i++)
		ck_assert_mem_eq(&B.chip[i], &A.chip[i], sizeof(A.chip[i]));
	ck_assert_mem_eq(&B.pit, &A.pit, sizeof(A.pit));
	/* kvmclock goes on from its saved value; no flag is passed. */
	ck_assert(B.clock_set);
	ck_assert_uint_eq(B.clock.clock, 123456789);
	ck_assert_uint_eq(B.clock.flags, 0);
	ck_assert_uint_eq(B.warnings, 0);
	free(t);
}
END_TEST

START_TEST(restore_orders)
{
	void *t = save_a(0);
	int cpuid, sregs, regs, lapic, msrs, last_msrs = -1, events, clock;

	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	for (int c = 0; c < NCPU; c++) {
		cpuid = logged(KVM_SET_CPUID2, c, 0);
		regs = logged(KVM_SET_REGS, c, 0);
		sregs = logged(KVM_SET_SREGS2, c, 0);
		lapic = logged(KVM_SET_LAPIC, c, 0);
		msrs = logged(KVM_SET_MSRS, c, 0);
		events = logged(KVM_SET_VCPU_EVENTS, c, 0);
		for (int i = msrs; i >= 0; i = logged(KVM_SET_MSRS, c, i + 1))
			last_msrs = i;
		ck_assert_int_ge(cpuid, 0);
		ck_assert_int_lt(cpuid, regs);
		ck_assert_int_lt(sregs, lapic);		/* APIC base, then the LAPIC */
		ck_assert_int_lt(lapic, msrs);		/* the LAPIC, then its deadline */
		ck_assert_int_lt(regs, events);		/* events last */
		ck_assert_int_lt(last_msrs, events);
		/* The TSC deadline alone, after the TSC. */
		ck_assert_int_gt(last_msrs, msrs);
		ck_assert_uint_eq(B.log[last_msrs].nmsrs, 1);
		ck_assert_uint_eq(B.log[last_msrs].first_msr, TSC_DEADLINE);
		ck_assert_uint_eq(B.log[msrs].nmsrs, 6);
	}
	/* irqchip first, clock last. */
	ck_assert_int_lt(logged(KVM_SET_PIT2, -1, 0), logged(KVM_SET_CPUID2, 0, 0));
	clock = logged(KVM_SET_CLOCK, -1, 0);
	ck_assert_int_eq(clock, (int)B.nlog - 1);
	free(t);
}
END_TEST

START_TEST(msrs_kvm_refuses)
{
	void *t;

	/* Not readable on the source: skipped, the rest saved. */
	A.no_read = 0x1b;
	t = save_a(0);
	/* Not writable on the destination: said, skipped, the rest set. */
	B.no_write = 0x174;
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	ck_assert_uint_eq(msr(&B.cpu[0], 0x1b), ~0ULL);
	ck_assert_uint_eq(msr(&B.cpu[0], 0x174), ~0ULL);
	ck_assert_uint_eq(msr(&B.cpu[0], TSC), A.cpu[0].msr_val[1]);
	ck_assert_uint_eq(msr(&B.cpu[1], 0x4b564d01), A.cpu[1].msr_val[4]);
	ck_assert_uint_eq(msr(&B.cpu[0], 0x277), 0x0007040600070406ULL);
	ck_assert_uint_eq(B.warnings, NCPU);
	ck_assert_str_eq(B.last_warning, "vCPU 1: KVM refused MSR 0x174 = 0x2000; left at its "
			 "default");
	free(t);
}
END_TEST

START_TEST(xsave_sizes)
{
	void *t = save_a(0);

	/* A host with a smaller area: the excess is in use, refused. */
	B.caps[KVM_CAP_XSAVE2] = 4096;
	ck_assert_int_eq(restore_b(t, NCPU, false), -ENOTSUP);
	ck_assert_str_eq(err_msg(), "vCPU 0: xsave state of 5120 bytes in use, this host takes "
			 "4096");
	free(t);
	/* ... unless the excess is zeros (no dynamic feature enabled). */
	for (unsigned c = 0; c < NCPU; c++)
		memset(A.cpu[c].xsave + 4096, 0, 1024);
	t = save_a(0);
	B.caps[KVM_CAP_XSAVE2] = 0;		/* KVM_SET_XSAVE, 4096 bytes */
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	ck_assert_mem_eq(B.cpu[1].xsave, A.cpu[1].xsave, 4096);
	free(t);
	/* A source without XSAVE saves the FPU. */
	A.caps[KVM_CAP_XSAVE2] = A.caps[KVM_CAP_XSAVE] = 0;
	fill(&A.cpu[0].fpu, sizeof(A.cpu[0].fpu), 77);
	t = save_a(0);
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	ck_assert_mem_eq(&B.cpu[0].fpu, &A.cpu[0].fpu, sizeof(A.cpu[0].fpu));
	free(t);
}
END_TEST

START_TEST(no_sregs2_no_smm)
{
	void *t = save_a(0);

	B.caps[KVM_CAP_SREGS2] = 0;
	B.caps[KVM_CAP_X86_SMM] = 0;
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	/* The common part of sregs2 through KVM_SET_SREGS. */
	ck_assert_mem_eq(&B.cpu[0].sregs, &A.cpu[0].sregs2,
			 offsetof(struct kvm_sregs, interrupt_bitmap));
	ck_assert_uint_eq(B.cpu[0].ev.flags & KVM_VCPUEVENT_VALID_SMM, 0);
	free(t);
	/* A vCPU inside SMM cannot go to a KVM without it. */
	memset(&B, 0, sizeof(B));
	caps_all(&B);
	B.caps[KVM_CAP_X86_SMM] = 0;
	A.cpu[1].ev.smi.smm = 1;
	t = save_a(0);
	ck_assert_int_eq(restore_b(t, NCPU, false), -ENOTSUP);
	ck_assert_str_eq(err_msg(), "vCPU 1 was in SMM; KVM here has no SMM");
	free(t);
}
END_TEST

START_TEST(clock_flags)
{
	void *t = save_a(0);

	ck_assert_int_eq(restore_b(t, NCPU, true), 0);
	ck_assert_uint_eq(B.clock.flags, KVM_CLOCK_REALTIME);
	ck_assert_uint_eq(B.clock.realtime, 55);
	/* Asked for, but this KVM cannot. */
	B.caps[KVM_CAP_ADJUST_CLOCK] = KVM_CLOCK_TSC_STABLE;
	ck_assert_int_eq(restore_b(t, NCPU, true), 0);
	ck_assert_uint_eq(B.clock.flags, 0);
	free(t);
	/* A source whose clock has no realtime: never passed on. */
	A.clock.flags = 0;
	B.caps[KVM_CAP_ADJUST_CLOCK] = KVM_CLOCK_REALTIME;
	t = save_a(0);
	ck_assert_int_eq(restore_b(t, NCPU, true), 0);
	ck_assert_uint_eq(B.clock.flags, 0);
	free(t);
}
END_TEST

START_TEST(tsc_frequency_and_deadline)
{
	uint32_t lvtt = 2u << 17 | 0xec;		/* TSC-deadline mode, unmasked */
	void *t;

	memcpy(&A.cpu[0].lapic.regs[0x320], &lvtt, 4);
	A.cpu[0].msr_val[3] = 0;			/* deadline 0: it fired */
	t = save_a(0);
	B.cpu[0].tsc_khz = 3000000;			/* another host */
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	ck_assert_uint_eq(B.cpu[0].set_tsc_khz, 2500000);
	ck_assert_uint_eq(B.cpu[1].set_tsc_khz, 0);
	/* The deadline is re-armed at the saved TSC: the timer the guest
	 * waits for fires at once rather than never. */
	ck_assert_uint_eq(msr(&B.cpu[0], TSC_DEADLINE), A.cpu[0].msr_val[1]);
	ck_assert_uint_eq(msr(&B.cpu[1], TSC_DEADLINE), A.cpu[1].msr_val[3]);
	free(t);
	/* No TSC scaling: carried on, with a word. */
	memset(&B, 0, sizeof(B));
	caps_all(&B);
	B.caps[KVM_CAP_TSC_CONTROL] = 0;
	B.cpu[0].tsc_khz = 3000000;
	B.cpu[1].tsc_khz = 2500000;
	t = save_a(0);
	ck_assert_int_eq(restore_b(t, NCPU, false), 0);
	ck_assert_uint_eq(B.warnings, 1);
	free(t);
}
END_TEST

START_TEST(vcpu_count_and_bad_trees)
{
	void *t = save_a(0);
	int cpu;

	ck_assert_int_eq(restore_b(t, 1, false), -EINVAL);
	ck_assert_str_eq(err_msg(), "the stream has more than this VM's 1 vCPUs");
	ck_assert_int_eq(restore_b(t, 3, false), -ENOENT);
	ck_assert_str_eq(err_msg(), "state /x86: no node 'cpu@2'");
	/* A struct of the wrong size. */
	cpu = state_node(t, state_node(t, 0, "x86"), "cpu@1");
	ck_assert_int_eq(fdt_setprop(t, cpu, "lapic", "short", 5), 0);
	memset(&B, 0, sizeof(B));
	caps_all(&B);
	ck_assert_int_eq(restore_b(t, NCPU, false), -EINVAL);
	ck_assert_str_eq(err_msg(), "state /x86/cpu@1: property 'lapic' is 5 bytes, expected 1024");
	free(t);
}
END_TEST

Suite *cpu_state_suite(void)
{
	Suite *s = suite_create("cpu_state");
	TCase *tc = tcase_create("x86");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, restore_orders);
	tcase_add_test(tc, msrs_kvm_refuses);
	tcase_add_test(tc, xsave_sizes);
	tcase_add_test(tc, no_sregs2_no_smm);
	tcase_add_test(tc, clock_flags);
	tcase_add_test(tc, tsc_frequency_and_deadline);
	tcase_add_test(tc, vcpu_count_and_bad_trees);
	suite_add_tcase(s, tc);
	return s;
}
