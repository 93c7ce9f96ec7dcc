// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: the checks VMX makes of the guest state on VM entry (Intel SDM
 * vol. 3C, 27.3.1.2 to 27.3.1.4), for an unrestricted guest, which is how
 * KVM runs one on hardware with EPT. A state that fails them makes real
 * hardware refuse the entry (KVM_EXIT_FAIL_ENTRY, reason 0x80000021), so
 * it does here, with the reason named.
 */
#include <stdio.h>

#include "model.h"

static char why[160];

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Limit and granularity agree: a limit with any of bits 11:0 clear needs
 * G = 0, one with any of bits 31:20 set needs G = 1. */
static bool limit_ok(const struct kvm_segment *s)
{
	if ((s->limit & 0xfff) != 0xfff && s->g)
		return false;
	if ((s->limit & 0xfff00000) && !s->g)
		return false;
	return true;
}

static const char *seg(const char *name, const struct kvm_segment *s, const char *fmt)
{
	snprintf(why, sizeof(why), "%s (sel 0x%x type %u s %u dpl %u p %u db %u l %u g %u "
		 "limit 0x%x base 0x%llx): %s", name, s->selector, s->type, s->s, s->dpl,
		 s->present, s->db, s->l, s->g, s->limit, (unsigned long long)s->base, fmt);
	return why;
}

static const char *data_seg(const char *name, const struct kvm_segment *s, bool base32)
{
	if (!s->present || s->unusable)
		return NULL;	/* unusable: not checked */
	if (!s->s)
		return seg(name, s, "a system descriptor type");
	if (!(s->type & 1))
		return seg(name, s, "the accessed bit (type bit 0) is clear");
	if ((s->type & 8) && !(s->type & 2))
		return seg(name, s, "an execute-only code segment");
	if (!limit_ok(s))
		return seg(name, s, "limit and granularity disagree");
	if (base32 && s->base >> 32)
		return seg(name, s, "base above 4 GiB");
	return NULL;
}

const char *fk_entry_problem(const struct fk_vcpu *v)
{
	const struct kvm_sregs *s = &v->sregs;
	const struct kvm_regs *r = &v->regs;
	bool ia32e = s->efer & (1ULL << 10);
	bool pe = s->cr0 & 1;
	const char *p;

	/* RFLAGS: bit 1 set; 3, 5, 15 and 22-63 clear; VM clear in IA-32e
	 * mode or without protection. */
	if (!(r->rflags & 2) || (r->rflags & 0xffffffffffc08028ULL))
		return "RFLAGS: bit 1 must be set and bits 3, 5, 15, 22-63 clear";
	if ((r->rflags & (1 << 17)) && (ia32e || !pe))
		return "RFLAGS.VM outside protected mode";
	if (!(ia32e && s->cs.l) && r->rip >> 32)
		return "RIP above 4 GiB outside 64-bit code";
	if (ia32e && s->cs.l && !canonical(r->rip))
		return "RIP not canonical";

	/* CS */
	if (!s->cs.present || s->cs.unusable)
		return seg("CS", &s->cs, "not usable");
	if (!(s->cs.type == 9 || s->cs.type == 11 || s->cs.type == 13 || s->cs.type == 15 ||
	      s->cs.type == 3))
		return seg("CS", &s->cs, "type must be accessed code (9, 11, 13, 15) or, "
			   "unrestricted, 3");
	if (!s->cs.s)
		return seg("CS", &s->cs, "S must be 1");
	if (s->cs.type == 3 && s->cs.dpl)
		return seg("CS", &s->cs, "type 3 needs DPL 0");
	if ((s->cs.type == 9 || s->cs.type == 11) && s->cs.dpl != s->ss.dpl)
		return seg("CS", &s->cs, "non-conforming code needs DPL = SS.DPL");
	if (ia32e && s->cs.l && s->cs.db)
		return seg("CS", &s->cs, "L and D both set");
	if (!limit_ok(&s->cs))
		return seg("CS", &s->cs, "limit and granularity disagree");
	if (s->cs.base >> 32)
		return seg("CS", &s->cs, "base above 4 GiB");

	/* SS */
	if (s->ss.present && !s->ss.unusable) {
		if (s->ss.type != 3 && s->ss.type != 7)
			return seg("SS", &s->ss, "type must be 3 or 7 (read/write, accessed)");
		if (!pe && s->ss.dpl)
			return seg("SS", &s->ss, "DPL must be 0 without CR0.PE");
	}
	if ((p = data_seg("SS", &s->ss, true)) || (p = data_seg("DS", &s->ds, true)) ||
	    (p = data_seg("ES", &s->es, true)) || (p = data_seg("FS", &s->fs, false)) ||
	    (p = data_seg("GS", &s->gs, false)))
		return p;
	if (!canonical(s->fs.base) || !canonical(s->gs.base))
		return "FS or GS base not canonical";

	/* TR: usable, a busy TSS (32/64-bit; 16-bit only outside IA-32e). */
	if (!s->tr.present || s->tr.unusable)
		return seg("TR", &s->tr, "not usable");
	if (s->tr.s || !(s->tr.type == 11 || (s->tr.type == 3 && !ia32e)))
		return seg("TR", &s->tr, "must be a busy TSS (type 11, S 0)");
	if (s->tr.selector & 4)
		return seg("TR", &s->tr, "selector TI set");
	if (!limit_ok(&s->tr) || !canonical(s->tr.base))
		return seg("TR", &s->tr, "limit/granularity or base");

	/* LDTR, if usable. */
	if (s->ldt.present && !s->ldt.unusable &&
	    (s->ldt.s || s->ldt.type != 2 || (s->ldt.selector & 4) || !limit_ok(&s->ldt)))
		return seg("LDTR", &s->ldt, "must be an LDT (type 2, S 0) with TI clear");

	if (!canonical(s->gdt.base) || !canonical(s->idt.base))
		return "GDTR or IDTR base not canonical";
	if (s->cr3 >> 52)
		return "CR3 beyond any physical address width";
	return NULL;
}
