// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: what this "KVM" offers. Capabilities as a current x86 KVM with
 * an in-kernel irqchip reports them; CPUID from the host's own CPUID
 * instruction (KVM filters it further; kite must not care); MSR lists
 * holding what a guest of kite uses.
 */
#include <cpuid.h>
#include <errno.h>
#include <string.h>

#include "emu.h"
#include "model.h"

long fk_check_extension(long cap)
{
	switch (cap) {
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_SET_TSS_ADDR:
	case KVM_CAP_PIT2:
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_IRQ_ROUTING:
	case KVM_CAP_IRQFD:
	case KVM_CAP_IOEVENTFD:
	case KVM_CAP_XSAVE:
	case KVM_CAP_XCRS:
	case KVM_CAP_DEBUGREGS:
	case KVM_CAP_VCPU_EVENTS:
	case KVM_CAP_INTR_SHADOW:
	case KVM_CAP_X86_SMM:
	case KVM_CAP_GET_TSC_KHZ:
	case KVM_CAP_TSC_CONTROL:
	case KVM_CAP_SREGS2:
	case KVM_CAP_CHECK_EXTENSION_VM:
	case KVM_CAP_SET_IDENTITY_MAP_ADDR:
	case KVM_CAP_SIGNAL_MSI:
	case KVM_CAP_TSC_DEADLINE_TIMER:
		return 1;
	case KVM_CAP_NR_VCPUS:
	case KVM_CAP_MAX_VCPUS:
		return FK_MAX_VCPUS;
	case KVM_CAP_ADJUST_CLOCK:
		return KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
	case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
		return KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
	case KVM_CAP_NR_MEMSLOTS:
		return FK_MAX_SLOTS;
	default:
		return 0;	/* XSAVE2 among them: kite must cope with 4 KiB xsave */
	}
}

/* ---- CPUID ---- */

static bool indexed(uint32_t leaf)
{
	return leaf == 4 || leaf == 7 || leaf == 0xb || leaf == 0xd || leaf == 0xf ||
	       leaf == 0x10 || leaf == 0x12 || leaf == 0x14 || leaf == 0x17 ||
	       leaf == 0x18 || leaf == 0x1d || leaf == 0x1e || leaf == 0x1f ||
	       leaf == 0x8000001d || leaf == 0x80000020;
}

static unsigned add(struct kvm_cpuid_entry2 *e, unsigned n, unsigned max, uint32_t leaf,
		    uint32_t sub, bool idx)
{
	unsigned a, b, c, d;

	if (n >= max)
		return n + 1;
	__cpuid_count(leaf, sub, a, b, c, d);
	e[n] = (struct kvm_cpuid_entry2){ .function = leaf, .index = idx ? sub : 0,
					  .flags = idx ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
					  .eax = a, .ebx = b, .ecx = c, .edx = d };
	return n + 1;
}

static unsigned host_cpuid(struct kvm_cpuid_entry2 *e, unsigned max)
{
	unsigned n = 0, a, b, c, d, top, xtop;

	__cpuid(0, top, b, c, d);
	if (top > 0x1f)
		top = 0x1f;
	for (uint32_t leaf = 0; leaf <= top; leaf++) {
		if (!indexed(leaf)) {
			n = add(e, n, max, leaf, 0, false);
			continue;
		}
		for (uint32_t sub = 0; sub < 64; sub++) {
			__cpuid_count(leaf, sub, a, b, c, d);
			if (sub && !a && !b && !c && !d)
				break;
			n = add(e, n, max, leaf, sub, true);
		}
	}
	/* KVM's own leaves: the signature and the paravirt features
	 * (clocksource2, async PF off, stable clock bit). */
	if (n < max)
		e[n] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001,
			.ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d };
	n++;
	if (n < max)
		e[n] = (struct kvm_cpuid_entry2){ .function = 0x40000001,
			.eax = (1u << 3) | (1u << 24) };
	n++;
	__cpuid(0x80000000, xtop, b, c, d);
	if (xtop > 0x80000021)
		xtop = 0x80000021;
	for (uint32_t leaf = 0x80000000; leaf <= xtop; leaf++)
		n = add(e, n, max, leaf, 0, indexed(leaf));
	return n;
}

long fk_supported_cpuid(void *arg)
{
	struct kvm_cpuid2 *c = arg;
	unsigned n = host_cpuid(c->entries, c->nent);

	if (n > c->nent)
		return -E2BIG;
	if (fk_emu_wanted())
		fk_emu_cpuid(c->entries, n);
	c->nent = n;
	return 0;
}

/* ---- MSRs ---- */

static const uint32_t msr_list[] = {
	0x10,		/* TSC */
	0x1b,		/* APIC base */
	0x3a,		/* feature control */
	0x174, 0x175, 0x176,	/* SYSENTER */
	0x1a0,		/* misc enable */
	0x277,		/* PAT */
	0xc0000080,	/* EFER */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,	/* STAR LSTAR CSTAR FMASK */
	0xc0000100, 0xc0000101, 0xc0000102,	/* FS, GS, kernel GS base */
	0xc0000103,	/* TSC_AUX */
	0x4b564d00, 0x4b564d01,	/* kvmclock: wall clock, system time */
	0x4b564d02, 0x4b564d03, 0x4b564d04,	/* async PF, steal time, PV EOI */
	0x6e0,		/* TSC deadline */
	0x3b,		/* TSC adjust */
};

static const struct fk_msr feature_msrs[] = {
	{ 0x10a, 0x0 },		/* ARCH_CAPABILITIES */
	{ 0x8b, 0x1 },		/* microcode revision */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* MSRs KVM accepts but does not list (api.rst: the index list is what a
 * VMM should save, not all KVM emulates): the MTRRs, like kvm_set_msr_common. */
static bool unlisted(uint32_t index)
{
	return index == 0x2ff || (index >= 0x200 && index < 0x210) || index == 0x250 ||
	       index == 0x258 || index == 0x259 || (index >= 0x268 && index < 0x270);
}

bool fk_msr_known(uint32_t index)
{
	if (unlisted(index))
		return true;
	for (unsigned i = 0; i < N(msr_list); i++)
		if (msr_list[i] == index)
			return true;
	for (unsigned i = 0; i < N(feature_msrs); i++)
		if (feature_msrs[i].index == index)
			return true;
	return false;
}

long fk_msr_list(void *arg, bool features)
{
	struct kvm_msr_list *l = arg;
	unsigned want = features ? N(feature_msrs) : N(msr_list);
	unsigned have = l->nmsrs;

	l->nmsrs = want;
	if (have < want)
		return -E2BIG;
	for (unsigned i = 0; i < want; i++)
		l->indices[i] = features ? feature_msrs[i].index : msr_list[i];
	return 0;
}

/* KVM_GET_MSRS on /dev/kvm: feature MSRs only; returns how many were read. */
long fk_feature_msrs(void *arg)
{
	struct kvm_msrs *m = arg;

	for (unsigned i = 0; i < m->nmsrs; i++) {
		unsigned j = 0;

		while (j < N(feature_msrs) && feature_msrs[j].index != m->entries[i].index)
			j++;
		if (j == N(feature_msrs))
			return i;
		m->entries[i].data = feature_msrs[j].value;
	}
	return m->nmsrs;
}

uint64_t fk_host_xcr0(void)
{
	unsigned a, b, c, d;

	__cpuid_count(0xd, 0, a, b, c, d);
	return ((uint64_t)d << 32 | a) & 0x2e7;	/* x87 SSE AVX, AVX-512; no AMX */
}
