// SPDX-License-Identifier: Apache-2.0
#include "arch/x86/cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"
#include "vmm/err.h"
#include "vmm/vm.h"

#define CPUID_1_ECX_HYPERVISOR	(1U << 31)
#define CPUID_1_EDX_HTT		(1U << 28)

#define MSR_IA32_TSC		0x10
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102

#define X86_CR0_PE	0x1ULL
#define X86_CR0_ET	0x10ULL
#define X86_CR0_PG	0x80000000ULL
#define X86_CR4_PAE	0x20ULL
#define EFER_LME	0x100ULL
#define EFER_LMA	0x400ULL

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c) {
			err_set(ENOMEM, "CPUID: out of memory");
			return NULL;
		}
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			/* KVM before Linux 6.14 leaves the TSC-deadline timer
			 * (leaf 1 ECX[24]) out of the supported set; it is
			 * there when the capability is (api.rst, "Known KVM
			 * API problems"), and kite's LAPIC is KVM's. */
			bool deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
					      KVM_CAP_TSC_DEADLINE_TIMER) > 0;

			for (unsigned i = 0; deadline && i < c->nent; i++)
				if (c->entries[i].function == 1)
					c->entries[i].ecx |= 1U << 24;
			return c;
		}
		free(c);
		if (errno != E2BIG) {
			err_sys(errno, "KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	err_set(E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

static unsigned order_base2(unsigned n)
{
	unsigned o = 0;

	while ((1U << o) < n)
		o++;
	return o;
}

/*
 * Leaf 0xB describes the topology the guest sees: an SMT level of one
 * thread and a core level of ncpus, x2APIC id = vCPU id. KVM reports the
 * leaf mostly empty, so kite writes all three subleaves itself; leaf 0x1F
 * is dropped, and Linux then falls back to 0xB.
 */
static unsigned set_ext_topology(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
	unsigned n = 0, max_basic = 0;

	for (unsigned i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 0)
			max_basic = c->entries[i].eax;
		if (c->entries[i].function != 0xb && c->entries[i].function != 0x1f)
			c->entries[n++] = c->entries[i];
	}
	c->nent = n;
	if (max_basic < 0xb)
		return 0;
	for (unsigned sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

		memset(e, 0, sizeof(*e));
		e->function = 0xb;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = id;
		if (sub == 0) {
			e->ebx = 1;
			e->ecx = (1U << 8) | 0;
		} else if (sub == 1) {
			e->eax = order_base2(ncpus);
			e->ebx = ncpus;
			e->ecx = (2U << 8) | 1;
		} else {
			e->ecx = sub;	/* type 0: no more levels */
		}
	}
	return 3;
}

void x86_cpuid_for_vcpu(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
	/* The caller leaves room for X86_CPUID_EXTRA more entries. */
	unsigned pow2 = 1U << order_base2(ncpus);
	bool amd = false;

	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0)
			amd = c->entries[i].ebx == 0x68747541;	/* "Auth" */
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffffU) | ((pow2 > 255 ? 255 : pow2) << 16) | (id << 24);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			break;
		case 4:
			if (!(e->eax & 0x1f))
				break;	/* no cache at this subleaf */
			e->eax &= 0x3fffU;
			e->eax |= ((pow2 > 64 ? 63 : pow2 - 1) << 26);
			if (((e->eax >> 5) & 7) >= 3)	/* L3: shared by all */
				e->eax |= ((pow2 - 1) & 0xfff) << 14;
			break;
		case 0x80000008:
			if (amd)
				e->ecx = (e->ecx & ~0xf0ffU) | (order_base2(ncpus) << 12) |
					 ((ncpus - 1) & 0xff);
			break;
		case 0x8000001d:
			/* AMD's cache leaf, like leaf 4: threads sharing each
			 * cache; L1 and L2 per core, L3 shared by all. */
			if (amd && (e->eax & 0x1f)) {
				e->eax &= ~(0xfffU << 14);
				if (((e->eax >> 5) & 7) >= 3)
					e->eax |= ((pow2 - 1) & 0xfff) << 14;
			}
			break;
		case 0x8000001e:
			if (amd) {
				e->eax = id;
				e->ebx = id & 0xff;	/* core id; one thread per core */
				e->ecx = 0;
			}
			break;
		}
	}
	set_ext_topology(c, id, ncpus);
}

static int set_cpuid(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *t = vcpu->vm->cpuid;
	size_t sz = sizeof(*t) + t->nent * sizeof(t->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz + X86_CPUID_EXTRA * sizeof(t->entries[0]));
	int ret = 0;

	if (!c)
		return err_set(ENOMEM, "vCPU %u: CPUID: out of memory", vcpu->id);
	memcpy(c, t, sz);
	x86_cpuid_for_vcpu(c, vcpu->id, vcpu->vm->ncpus);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		ret = err_sys(errno, "vCPU %u: KVM_SET_CPUID2", vcpu->id);
	free(c);
	return ret;
}

static struct kvm_msr_list *get_msr_list(int kvm_fd, unsigned long req)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	/* The first call fails with E2BIG and tells the count. */
	if (ioctl(kvm_fd, req, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, req, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static bool msr_listed(const struct kvm_msr_list *l, uint32_t idx)
{
	for (unsigned i = 0; l && i < l->nmsrs; i++)
		if (l->indices[i] == idx)
			return true;
	return false;
}

/*
 * KVM_SET_MSRS returns how many entries it set, stopping at the first it
 * refuses. Drop that one, say so, and set the rest: a host that refuses an
 * MSR it listed (QEMU 7.2 aborts on 0x10a here) must not stop the VM.
 */
static int set_msrs_tolerant(struct vcpu *vcpu, struct kvm_msrs *m)
{
	while (m->nmsrs) {
		int n = ioctl(vcpu->fd, KVM_SET_MSRS, m);

		if (n < 0)
			return err_sys(errno, "vCPU %u: KVM_SET_MSRS", vcpu->id);
		if ((unsigned)n >= m->nmsrs)
			break;
		vm_log(vcpu->vm, "vCPU %u: KVM refused MSR 0x%x = 0x%llx; left at its default",
		       vcpu->id, m->entries[n].index, (unsigned long long)m->entries[n].data);
		memmove(&m->entries[0], &m->entries[n + 1],
			(m->nmsrs - n - 1) * sizeof(m->entries[0]));
		m->nmsrs -= n + 1;
	}
	return 0;
}

static int set_msrs(struct vcpu *vcpu)
{
	static const struct { uint32_t index; uint64_t value; } boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },			/* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1U << 11) | 6 },		/* MTRRs on, default WB */
	};
	int kvm_fd = vcpu->vm->kvm_fd;
	struct kvm_msr_list *list = get_msr_list(kvm_fd, KVM_GET_MSR_INDEX_LIST);
	struct kvm_msr_list *feat = get_msr_list(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST);
	unsigned cap = sizeof(boot_msrs) / sizeof(boot_msrs[0]) + (feat ? feat->nmsrs : 0);
	struct kvm_msrs *m = calloc(1, sizeof(*m) + cap * sizeof(m->entries[0]));
	int ret = 0;

	if (!list) {
		ret = err_sys(errno, "KVM_GET_MSR_INDEX_LIST");
		goto out;
	}
	if (!m) {
		ret = err_set(ENOMEM, "MSRs: out of memory");
		goto out;
	}
	/* Not filtered by the index list: KVM leaves some MSRs it accepts out
	 * of it (MTRR_DEF_TYPE among them); one KVM refuses is dropped by
	 * set_msrs_tolerant(). */
	for (size_t i = 0; i < sizeof(boot_msrs) / sizeof(boot_msrs[0]); i++) {
		m->entries[m->nmsrs].index = boot_msrs[i].index;
		m->entries[m->nmsrs++].data = boot_msrs[i].value;
	}
	/* Feature MSRs (e.g. ARCH_CAPABILITIES) get the value KVM reports it
	 * can offer, read on the system fd. */
	for (unsigned i = 0; feat && i < feat->nmsrs; i++) {
		struct { struct kvm_msrs h; struct kvm_msr_entry e; } one = {
			.h.nmsrs = 1, .e.index = feat->indices[i],
		};

		if (!msr_listed(list, feat->indices[i]))
			continue;
		if (ioctl(kvm_fd, KVM_GET_MSRS, &one) != 1)
			continue;
		m->entries[m->nmsrs].index = one.e.index;
		m->entries[m->nmsrs++].data = one.e.data;
	}
	ret = set_msrs_tolerant(vcpu, m);
out:
	free(list);
	free(feat);
	free(m);
	return ret;
}

static int set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state l;
	uint32_t *lint0, *lint1;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &l) < 0)
		return err_sys(errno, "vCPU %u: KVM_GET_LAPIC", vcpu->id);
	/* LINT0 carries the PIC (ExtINT), LINT1 is NMI, as firmware leaves them. */
	lint0 = (uint32_t *)&l.regs[0x350];
	lint1 = (uint32_t *)&l.regs[0x360];
	*lint0 = (*lint0 & ~0x700U & ~0x10000U) | (7U << 8);
	*lint1 = (*lint1 & ~0x700U & ~0x10000U) | (4U << 8);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &l) < 0)
		return err_sys(errno, "vCPU %u: KVM_SET_LAPIC", vcpu->id);
	return 0;
}

static int set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return err_sys(errno, "vCPU %u: KVM_SET_FPU", vcpu->id);
	return 0;
}

int x86_vcpu_init(struct vcpu *vcpu)
{
	int r = set_cpuid(vcpu);

	if (!r)
		r = set_msrs(vcpu);
	if (!r)
		r = set_fpu(vcpu);
	if (!r)
		r = set_lapic(vcpu);
	return r;
}

static struct kvm_segment flat_segment(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64, .g = 1,
	};
}

int x86_vcpu_set_boot_regs(struct vcpu *vcpu, const struct boot_entry *e)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_segment data = flat_segment(0x18, 3, false);

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return err_sys(errno, "vCPU %u: KVM_GET_SREGS", vcpu->id);
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = e->gdt_addr;
	s.gdt.limit = (uint16_t)e->gdt_limit;
	s.idt.base = 0;
	s.idt.limit = 0;
	/* A valid busy TSS and LDT as VMX wants them; the guest loads its own. */
	s.tr = (struct kvm_segment){ .limit = 0x67, .type = 11, .present = 1 };
	s.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	if (e->long_mode) {
		s.cs = flat_segment(0x10, 11, true);
		s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		s.cr3 = e->cr3;
		s.cr4 = X86_CR4_PAE;
		s.efer = EFER_LME | EFER_LMA;
	} else {
		s.cs = flat_segment(0x08, 11, false);
		s.cr0 = X86_CR0_PE | X86_CR0_ET;
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0)
		return err_sys(errno, "vCPU %u: KVM_SET_SREGS", vcpu->id);
	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = e->rip;
	r.rsp = e->rsp;
	r.rsi = e->rsi;
	r.rbx = e->rbx;
	r.rax = e->rax;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &r) < 0)
		return err_sys(errno, "vCPU %u: KVM_SET_REGS", vcpu->id);
	return 0;
}

static void dump_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%d dpl=%d db=%d l=%d g=%d\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->present,
		s->dpl, s->db, s->l, s->g);
}

void x86_vcpu_dump(struct vcpu *vcpu, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(out, "kite: vCPU %u registers:\n", vcpu->id);
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) == 0) {
		fprintf(out, "  rip=%016llx rsp=%016llx rflags=%016llx\n",
			r.rip, r.rsp, r.rflags);
		fprintf(out, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
			r.rax, r.rbx, r.rcx, r.rdx);
		fprintf(out, "  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n",
			r.rsi, r.rdi, r.rbp, r.r8);
		fprintf(out, "  r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n",
			r.r9, r.r10, r.r11, r.r12);
		fprintf(out, "  r13=%016llx r14=%016llx r15=%016llx\n", r.r13, r.r14, r.r15);
	}
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) == 0) {
		fprintf(out, "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n",
			s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
		dump_seg(out, "cs", &s.cs);
		dump_seg(out, "ds", &s.ds);
		dump_seg(out, "ss", &s.ss);
		dump_seg(out, "tr", &s.tr);
		fprintf(out, "  gdt=%016llx/%x idt=%016llx/%x\n", s.gdt.base, s.gdt.limit,
			s.idt.base, s.idt.limit);
	}
}

int x86_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

	/* Intel needs three pages for a real-mode TSS and one for an identity
	 * page table; both sit in the MMIO hole, away from RAM and devices. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return err_sys(errno, "KVM_SET_TSS_ADDR");
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return err_sys(errno, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_sys(errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_sys(errno, "KVM_CREATE_PIT2");
	return 0;
}
