// SPDX-License-Identifier: Apache-2.0
/*
 * One vCPU's state: see state.h for the layout. The orders below follow
 * what KVM's ioctls do to each other (api.rst, and the kernel's behaviour
 * behind it):
 *
 * Save: KVM_GET_MP_STATE first (it lets the LAPIC accept pending INIT/SIPI,
 * which may change other state); KVM_GET_VCPU_EVENTS last (the other GETs
 * may move a pending event).
 *
 * Restore: CPUID first (other state is checked against it); KVM_SET_SREGS
 * before KVM_SET_LAPIC (sregs carries APIC_BASE, and the LAPIC's layout
 * depends on its mode); KVM_SET_REGS before KVM_SET_VCPU_EVENTS (setting
 * registers drops a pending exception that events restore); the LAPIC
 * before the MSRs, and IA32_TSC_DEADLINE after IA32_TSC in a call of its
 * own (KVM arms the deadline timer from the LAPIC's mode and the TSC).
 */
#include "arch/x86/state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/err.h"
#include "vmm/state.h"

#define MSR_IA32_TSC		0x10
#define MSR_IA32_TSC_DEADLINE	0x6e0
#define MSR_CHUNK		128	/* KVM takes fewer than 256 per call */
#define MSRS_MAX		4096
#define CPUID_MAX		512
#define XSAVE_LEGACY		4096
#define APIC_LVTT		0x320
#define APIC_LVT_MASKED		(1u << 16)
#define APIC_TIMER_TSC_DEADLINE	(2u << 17)
#define APIC_TIMER_MODE_MASK	(3u << 17)
/* How far the TSC frequencies of two hosts may differ before the guest's
 * must be scaled (parts per million). */
#define TSC_KHZ_TOLERANCE_PPM	250

/* MSRs saved even when KVM_GET_MSR_INDEX_LIST leaves them out (KVM refuses
 * the ones it does not have, and those are skipped): the ones kite sets at
 * boot, the TSC and its deadline, the APIC base, PAT, EFER and kvmclock's. */
static const uint32_t extra_msrs[] = {
	0x10, 0x1b, 0x3b, 0x174, 0x175, 0x176, 0x1a0, 0x277, 0x2ff, 0x6e0,
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102,
	0x11, 0x12,					/* kvmclock, old numbers */
	0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04,
};

static int call(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu, unsigned long req,
		const char *what, void *arg)
{
	int r = ops->vcpu_ioctl(ctx, cpu, req, arg);

	if (r < 0)
		return err_set(-r, "vCPU %u: %s: %s", cpu, what, strerror(-r));
	return r;
}
#define VCPU(req, arg) call(ops, ctx, cpu, req, #req, arg)

static void warn(const struct x86_kvm_ops *ops, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(const struct x86_kvm_ops *ops, void *ctx, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (!ops->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ops->warn(ctx, msg);
}

/* ---- MSRs ---- */

static bool listed(const uint32_t *idx, unsigned n, uint32_t msr)
{
	for (unsigned i = 0; i < n; i++)
		if (idx[i] == msr)
			return true;
	return false;
}

/* KVM_GET_MSR_INDEX_LIST (a first call with room for none says how many),
 * then the extras it lacks. Caller frees *out. */
static int msr_indices(const struct x86_kvm_ops *ops, void *ctx, uint32_t **out, unsigned *n)
{
	unsigned nextra = sizeof(extra_msrs) / sizeof(extra_msrs[0]);
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
	uint32_t *idx;
	int r;

	r = ops->sys_ioctl(ctx, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG)
		return err_set(-r, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-r));
	if (probe.nmsrs > MSRS_MAX)
		return err_set(E2BIG, "KVM_GET_MSR_INDEX_LIST: %u MSRs", probe.nmsrs);
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	idx = calloc(probe.nmsrs + nextra, sizeof(*idx));
	if (!l || !idx) {
		free(l);
		free(idx);
		return err_set(ENOMEM, "MSRs: out of memory");
	}
	l->nmsrs = probe.nmsrs;
	r = probe.nmsrs ? ops->sys_ioctl(ctx, KVM_GET_MSR_INDEX_LIST, l) : 0;
	if (r < 0) {
		free(l);
		free(idx);
		return err_set(-r, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-r));
	}
	*n = 0;
	for (unsigned i = 0; i < l->nmsrs && i < probe.nmsrs; i++)
		if (!listed(idx, *n, l->indices[i]))
			idx[(*n)++] = l->indices[i];
	for (unsigned i = 0; i < nextra; i++)
		if (!listed(idx, *n, extra_msrs[i]))
			idx[(*n)++] = extra_msrs[i];
	free(l);
	*out = idx;
	return 0;
}

static struct kvm_msrs *msrs_alloc(unsigned n)
{
	return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

/*
 * KVM_GET_MSRS returns how many entries it read, stopping at the first it
 * cannot (api.rst 4.18): keep those, skip that one, go on after it. What
 * KVM will not read it cannot restore either.
 */
static int save_msrs(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
		     struct state_tree *st, int node)
{
	struct kvm_msrs *m = msrs_alloc(MSR_CHUNK);
	uint64_t *pairs = NULL;
	uint32_t *idx = NULL;
	unsigned n = 0, np = 0;
	int r;

	r = m ? msr_indices(ops, ctx, &idx, &n) : err_set(ENOMEM, "MSRs: out of memory");
	if (!r && !(pairs = calloc(2 * (size_t)n + 1, sizeof(*pairs))))
		r = err_set(ENOMEM, "MSRs: out of memory");
	for (unsigned i = 0; !r && i < n;) {
		unsigned chunk = n - i < MSR_CHUNK ? n - i : MSR_CHUNK;

		m->nmsrs = chunk;
		for (unsigned k = 0; k < chunk; k++)
			m->entries[k] = (struct kvm_msr_entry){ .index = idx[i + k] };
		r = VCPU(KVM_GET_MSRS, m);
		if (r < 0)
			break;
		for (int k = 0; k < r && (unsigned)k < chunk; k++) {
			pairs[2 * np] = m->entries[k].index;
			pairs[2 * np++ + 1] = m->entries[k].data;
		}
		i += (unsigned)r < chunk ? (unsigned)r + 1 : chunk;
		r = 0;
	}
	if (!r)
		r = state_put_u64_array(st, node, "msrs", pairs, 2 * (size_t)np);
	free(m);
	free(idx);
	free(pairs);
	return r;
}

/* KVM_SET_MSRS stops at the first entry it refuses (api.rst 4.19): say
 * which, skip it, set the rest. */
static int set_msrs(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu, struct kvm_msrs *m)
{
	struct kvm_msr_entry *e = m->entries;
	unsigned left = m->nmsrs;

	while (left) {
		int r;

		m->nmsrs = left;
		if (e != m->entries)
			memmove(m->entries, e, left * sizeof(*e));
		e = m->entries;
		r = VCPU(KVM_SET_MSRS, m);
		if (r < 0)
			return r;
		if ((unsigned)r >= left)
			break;
		warn(ops, ctx, "vCPU %u: KVM refused MSR 0x%x = 0x%llx; left at its default",
		     cpu, e[r].index, (unsigned long long)e[r].data);
		e += r + 1;
		left -= r + 1;
	}
	return 0;
}

/* A deadline of 0 with the timer in TSC-deadline mode and unmasked means
 * the timer fired and was cleared: if its interrupt did not make it into
 * the LAPIC before the save, the guest would wait for it forever. A
 * deadline already past fires at once, so this costs at worst one early
 * timer interrupt, which guests take as spurious. */
static uint64_t deadline_fix(const struct kvm_lapic_state *l, uint64_t deadline, uint64_t tsc)
{
	uint32_t lvtt;

	memcpy(&lvtt, &l->regs[APIC_LVTT], sizeof(lvtt));
	if (deadline || (lvtt & APIC_LVT_MASKED) ||
	    (lvtt & APIC_TIMER_MODE_MASK) != APIC_TIMER_TSC_DEADLINE)
		return deadline;
	return tsc;
}

static int restore_msrs(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			const void *fdt, int node, const struct kvm_lapic_state *lapic)
{
	uint64_t *pairs = calloc(2 * MSRS_MAX, sizeof(*pairs));
	struct kvm_msrs *m = msrs_alloc(MSRS_MAX);
	uint64_t deadline = 0, tsc = 0;
	bool has_deadline = false;
	size_t n = 0;
	int r;

	r = pairs && m ? state_get_u64_array(fdt, node, "msrs", pairs, 2 * MSRS_MAX, &n)
		       : err_set(ENOMEM, "MSRs: out of memory");
	if (!r && n % 2)
		r = err_set(EINVAL, "vCPU %u: msrs: %zu values, not pairs", cpu, n);
	for (size_t i = 0; !r && i < n; i += 2) {
		if (pairs[i] > UINT32_MAX) {
			r = err_set(EINVAL, "vCPU %u: MSR index 0x%llx", cpu,
				    (unsigned long long)pairs[i]);
		} else if (pairs[i] == MSR_IA32_TSC_DEADLINE) {
			deadline = pairs[i + 1];
			has_deadline = true;
		} else {
			if (pairs[i] == MSR_IA32_TSC)
				tsc = pairs[i + 1];
			m->entries[m->nmsrs++] = (struct kvm_msr_entry){
				.index = (uint32_t)pairs[i], .data = pairs[i + 1],
			};
		}
	}
	if (!r)
		r = set_msrs(ops, ctx, cpu, m);
	if (!r && has_deadline) {
		m->nmsrs = 1;
		m->entries[0] = (struct kvm_msr_entry){
			.index = MSR_IA32_TSC_DEADLINE, .data = deadline_fix(lapic, deadline, tsc),
		};
		r = set_msrs(ops, ctx, cpu, m);
	}
	free(pairs);
	free(m);
	return r;
}

/* ---- the rest ---- */

static int save_cpuid(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
		      struct state_tree *st, int node)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX * sizeof(c->entries[0]));
	int r;

	if (!c)
		return err_set(ENOMEM, "CPUID: out of memory");
	c->nent = CPUID_MAX;
	r = VCPU(KVM_GET_CPUID2, c);
	if (r >= 0 && c->nent > CPUID_MAX)
		r = err_set(E2BIG, "vCPU %u: KVM_GET_CPUID2: %u entries", cpu, c->nent);
	if (r >= 0)
		r = state_put_bytes(st, node, "cpuid", c->entries, c->nent * sizeof(c->entries[0]));
	free(c);
	return r < 0 ? r : 0;
}

static int save_fpu(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
		    struct state_tree *st, int node)
{
	int size = ops->check_extension(ctx, KVM_CAP_XSAVE2);
	struct kvm_fpu fpu;
	void *x;
	int r;

	if (size < XSAVE_LEGACY && ops->check_extension(ctx, KVM_CAP_XSAVE) > 0)
		size = 0;	/* KVM_GET_XSAVE, the legacy 4096 bytes */
	else if (size < XSAVE_LEGACY) {
		r = VCPU(KVM_GET_FPU, &fpu);
		return r < 0 ? r : state_put_bytes(st, node, "fpu", &fpu, sizeof(fpu));
	}
	x = calloc(1, size ? size : XSAVE_LEGACY);
	if (!x)
		return err_set(ENOMEM, "xsave: out of memory");
	r = size ? VCPU(KVM_GET_XSAVE2, x) : VCPU(KVM_GET_XSAVE, x);
	if (r >= 0)
		r = state_put_bytes(st, node, "xsave", x, size ? size : XSAVE_LEGACY);
	free(x);
	return r < 0 ? r : 0;
}

int x86_vcpu_state_save(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			struct state_tree *st, int node)
{
	struct kvm_mp_state mp = { 0 };
	struct kvm_regs regs;
	struct kvm_sregs2 sregs2;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	int r, khz;

	r = VCPU(KVM_GET_MP_STATE, &mp);
	if (r >= 0)
		r = state_put_u32(st, node, "mp-state", mp.mp_state);
	if (r >= 0 && (r = VCPU(KVM_GET_REGS, &regs)) >= 0)
		r = state_put_bytes(st, node, "regs", &regs, sizeof(regs));
	if (r >= 0 && ops->check_extension(ctx, KVM_CAP_SREGS2) > 0) {
		if ((r = VCPU(KVM_GET_SREGS2, &sregs2)) >= 0)
			r = state_put_bytes(st, node, "sregs2", &sregs2, sizeof(sregs2));
	} else if (r >= 0 && (r = VCPU(KVM_GET_SREGS, &sregs)) >= 0) {
		r = state_put_bytes(st, node, "sregs", &sregs, sizeof(sregs));
	}
	if (r >= 0)
		r = save_fpu(ops, ctx, cpu, st, node);
	if (r >= 0 && ops->check_extension(ctx, KVM_CAP_XCRS) > 0 &&
	    (r = VCPU(KVM_GET_XCRS, &xcrs)) >= 0)
		r = state_put_bytes(st, node, "xcrs", &xcrs, sizeof(xcrs));
	/* api.rst lists KVM_GET_DEBUGREGS as a vm ioctl; it is a vCPU's. */
	if (r >= 0 && ops->check_extension(ctx, KVM_CAP_DEBUGREGS) > 0 &&
	    (r = VCPU(KVM_GET_DEBUGREGS, &dregs)) >= 0)
		r = state_put_bytes(st, node, "debugregs", &dregs, sizeof(dregs));
	if (r >= 0 && (r = VCPU(KVM_GET_LAPIC, &lapic)) >= 0)
		r = state_put_bytes(st, node, "lapic", &lapic, sizeof(lapic));
	if (r >= 0) {
		/* -EIO when the host's TSC is unstable: then nothing to keep. */
		khz = ops->check_extension(ctx, KVM_CAP_GET_TSC_KHZ) > 0 ?
		      ops->vcpu_ioctl(ctx, cpu, KVM_GET_TSC_KHZ, NULL) : 0;
		r = state_put_u32(st, node, "tsc-khz", khz > 0 ? (uint32_t)khz : 0);
	}
	if (r >= 0)
		r = save_cpuid(ops, ctx, cpu, st, node);
	if (r >= 0)
		r = save_msrs(ops, ctx, cpu, st, node);
	if (r >= 0 && ops->check_extension(ctx, KVM_CAP_VCPU_EVENTS) > 0 &&
	    (r = VCPU(KVM_GET_VCPU_EVENTS, &ev)) >= 0)
		r = state_put_bytes(st, node, "events", &ev, sizeof(ev));
	return r < 0 ? r : state_error(st);
}

/* ---- restore ---- */

static int restore_cpuid(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			 const void *fdt, int node)
{
	struct kvm_cpuid2 *c;
	const void *p;
	size_t len;
	int r = state_get_blob(fdt, node, "cpuid", sizeof(c->entries[0]),
			       CPUID_MAX * sizeof(c->entries[0]), &p, &len);

	if (r)
		return r;
	if (len % sizeof(c->entries[0]))
		return err_set(EINVAL, "vCPU %u: cpuid: %zu bytes", cpu, len);
	c = calloc(1, sizeof(*c) + len);
	if (!c)
		return err_set(ENOMEM, "CPUID: out of memory");
	c->nent = len / sizeof(c->entries[0]);
	memcpy(c->entries, p, len);
	/* The guest chose its code paths by this CPUID: it must not change
	 * under it. Allowed on a vCPU that has not run (api.rst 4.20). */
	r = VCPU(KVM_SET_CPUID2, c);
	free(c);
	return r < 0 ? r : 0;
}

static int restore_tsc_khz(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			   const void *fdt, int node)
{
	uint32_t want;
	int have, r = state_get_u32(fdt, node, "tsc-khz", &want);

	if (r || !want)
		return r;
	have = ops->check_extension(ctx, KVM_CAP_GET_TSC_KHZ) > 0 ?
	       ops->vcpu_ioctl(ctx, cpu, KVM_GET_TSC_KHZ, NULL) : 0;
	if (have > 0 && (uint64_t)(have > (int)want ? have - want : want - have) * 1000000 <=
			(uint64_t)want * TSC_KHZ_TOLERANCE_PPM)
		return 0;
	if (ops->check_extension(ctx, KVM_CAP_TSC_CONTROL) <= 0) {
		warn(ops, ctx, "vCPU %u: the guest's TSC ran at %u kHz, this host's at %d kHz "
		     "and KVM cannot scale it", cpu, want, have);
		return 0;
	}
	r = VCPU(KVM_SET_TSC_KHZ, (void *)(uintptr_t)want);
	return r < 0 ? r : 0;
}

/* xsave of `len` bytes into a buffer of this host's size: a shorter one is
 * padded with zeros (state components it lacks are in their initial
 * state); a longer one fits only if the excess is all zeros. */
static int restore_fpu(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
		       const void *fdt, int node)
{
	int host = ops->check_extension(ctx, KVM_CAP_XSAVE2);
	const uint8_t *p;
	struct kvm_fpu fpu;
	size_t len;
	uint8_t *x;
	int r;

	if (!state_has(fdt, node, "xsave")) {
		r = state_get_bytes(fdt, node, "fpu", &fpu, sizeof(fpu));
		if (!r)
			r = VCPU(KVM_SET_FPU, &fpu);
		return r < 0 ? r : 0;
	}
	if (host < XSAVE_LEGACY)
		host = ops->check_extension(ctx, KVM_CAP_XSAVE) > 0 ? XSAVE_LEGACY : 0;
	if (!host)
		return err_set(ENOTSUP, "vCPU %u: the stream has xsave state; KVM here has no "
			       "KVM_SET_XSAVE", cpu);
	r = state_get_blob(fdt, node, "xsave", XSAVE_LEGACY, STATE_MAX_SIZE,
			   (const void **)&p, &len);
	if (r)
		return r;
	for (size_t i = host; i < len; i++)
		if (p[i])
			return err_set(ENOTSUP, "vCPU %u: xsave state of %zu bytes in use, this "
				       "host takes %d", cpu, len, host);
	x = calloc(1, host);
	if (!x)
		return err_set(ENOMEM, "xsave: out of memory");
	memcpy(x, p, len < (size_t)host ? len : (size_t)host);
	r = VCPU(KVM_SET_XSAVE, x);
	free(x);
	return r < 0 ? r : 0;
}

static int restore_sregs(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			 const void *fdt, int node)
{
	struct kvm_sregs2 s2;
	struct kvm_sregs s;
	int r;

	if (!state_has(fdt, node, "sregs2")) {
		r = state_get_bytes(fdt, node, "sregs", &s, sizeof(s));
		if (!r)
			r = VCPU(KVM_SET_SREGS, &s);
		return r < 0 ? r : 0;
	}
	r = state_get_bytes(fdt, node, "sregs2", &s2, sizeof(s2));
	if (r)
		return r;
	if (s2.flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID)
		return err_set(EINVAL, "vCPU %u: sregs2 flags 0x%llx", cpu,
			       (unsigned long long)s2.flags);
	if (ops->check_extension(ctx, KVM_CAP_SREGS2) > 0) {
		r = VCPU(KVM_SET_SREGS2, &s2);
		return r < 0 ? r : 0;
	}
	/* The common part; KVM reloads PAE PDPTRs from CR3, and a pending
	 * interrupt travels in the events, not the bitmap. */
	memset(&s, 0, sizeof(s));
	memcpy(&s, &s2, offsetof(struct kvm_sregs, interrupt_bitmap));
	r = VCPU(KVM_SET_SREGS, &s);
	return r < 0 ? r : 0;
}

static int restore_events(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			  const void *fdt, int node)
{
	struct kvm_vcpu_events ev;
	int r;

	if (!state_has(fdt, node, "events"))
		return 0;
	r = state_get_bytes(fdt, node, "events", &ev, sizeof(ev));
	if (r)
		return r;
	/* Transfer what api.rst 4.32 lets us: NMI pending and the SIPI
	 * vector always (the vCPUs are stopped), the interrupt shadow when
	 * it was saved, SMM state only where KVM has SMM. Payload and
	 * triple-fault state need capabilities kite does not enable. */
	ev.flags &= KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ops->check_extension(ctx, KVM_CAP_X86_SMM) <= 0) {
		if ((ev.flags & KVM_VCPUEVENT_VALID_SMM) && (ev.smi.smm || ev.smi.pending))
			return err_set(ENOTSUP, "vCPU %u was in SMM; KVM here has no SMM", cpu);
		ev.flags &= ~KVM_VCPUEVENT_VALID_SMM;
	}
	if (ops->check_extension(ctx, KVM_CAP_INTR_SHADOW) <= 0)
		ev.flags &= ~KVM_VCPUEVENT_VALID_SHADOW;
	ev.exception_has_payload = 0;
	ev.exception_payload = 0;
	ev.triple_fault.pending = 0;
	r = VCPU(KVM_SET_VCPU_EVENTS, &ev);
	return r < 0 ? r : 0;
}

int x86_vcpu_state_restore(const struct x86_kvm_ops *ops, void *ctx, unsigned cpu,
			   const void *fdt, int node)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	int r;

	/* Everything that must be there, checked before the vCPU changes. */
	r = state_get_u32_range(fdt, node, "mp-state", 0, KVM_MP_STATE_SUSPENDED, &mp.mp_state);
	if (!r)
		r = state_get_bytes(fdt, node, "regs", &regs, sizeof(regs));
	if (!r)
		r = state_get_bytes(fdt, node, "lapic", &lapic, sizeof(lapic));
	if (r)
		return r;
	r = restore_cpuid(ops, ctx, cpu, fdt, node);
	if (!r)
		r = restore_tsc_khz(ops, ctx, cpu, fdt, node);
	if (!r && (r = VCPU(KVM_SET_MP_STATE, &mp)) > 0)
		r = 0;
	if (!r && (r = VCPU(KVM_SET_REGS, &regs)) > 0)
		r = 0;
	if (!r)
		r = restore_sregs(ops, ctx, cpu, fdt, node);
	if (!r)
		r = restore_fpu(ops, ctx, cpu, fdt, node);
	if (!r && state_has(fdt, node, "xcrs")) {
		r = state_get_bytes(fdt, node, "xcrs", &xcrs, sizeof(xcrs));
		if (!r && xcrs.nr_xcrs > KVM_MAX_XCRS)
			r = err_set(EINVAL, "vCPU %u: %u XCRs", cpu, xcrs.nr_xcrs);
		if (!r && (r = VCPU(KVM_SET_XCRS, &xcrs)) > 0)
			r = 0;
	}
	if (!r && state_has(fdt, node, "debugregs")) {
		r = state_get_bytes(fdt, node, "debugregs", &dregs, sizeof(dregs));
		dregs.flags = 0;	/* "must be cleared on entry" */
		if (!r && (r = VCPU(KVM_SET_DEBUGREGS, &dregs)) > 0)
			r = 0;
	}
	if (!r && (r = VCPU(KVM_SET_LAPIC, &lapic)) > 0)
		r = 0;
	if (!r)
		r = restore_msrs(ops, ctx, cpu, fdt, node, &lapic);
	if (!r)
		r = restore_events(ops, ctx, cpu, fdt, node);
	return r;
}
