// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's native CPU: the instructions that trap in ring 3, decoded and
 * emulated (ncpu.h). The decoder knows the legacy and REX prefixes, one-
 * and two-byte opcodes with ModRM/SIB/displacement/immediate, and computes
 * effective addresses (RIP-relative in 64-bit code); it emulates only what
 * a kernel-style guest does that ring 3 may not, and the plain moves a
 * compiler emits for MMIO. Anything else is named on stderr with its bytes.
 */
#include <string.h>

#include "fake.h"
#include "model.h"
#include "ncpu.h"

struct insn {
	uint8_t b[15];
	unsigned len;
	bool o16, rep;
	uint8_t rex;			/* 0: none */
	int seg;			/* override: 4 fs, 5 gs, -1 none */
	bool two;			/* 0x0f escape */
	uint8_t op;
	bool has_modrm, mem;
	uint8_t mod, reg, rm;		/* reg and rm include REX.R / REX.B */
	uint64_t ea;
	uint64_t imm;
};

static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

greg_t *nc_reg(ucontext_t *uc, unsigned r)
{
	return &uc->uc_mcontext.gregs[greg_of[r & 15]];
}

uint64_t nc_mask(unsigned sz)
{
	return sz >= 8 ? ~0ULL : (1ULL << (8 * sz)) - 1;
}

uint64_t nc_get_reg(ucontext_t *uc, unsigned r, unsigned sz, bool rex)
{
	if (sz == 1 && !rex && r >= 4 && r < 8)
		return ((uint64_t)*nc_reg(uc, r - 4) >> 8) & 0xff;
	return (uint64_t)*nc_reg(uc, r) & nc_mask(sz);
}

void nc_set_reg(ucontext_t *uc, unsigned r, unsigned sz, bool rex, uint64_t v)
{
	greg_t *g;

	if (sz == 1 && !rex && r >= 4 && r < 8) {
		g = nc_reg(uc, r - 4);
		*g = (greg_t)(((uint64_t)*g & ~0xff00ULL) | (v & 0xff) << 8);
		return;
	}
	g = nc_reg(uc, r);
	if (sz == 1 || sz == 2)
		*g = (greg_t)(((uint64_t)*g & ~nc_mask(sz)) | (v & nc_mask(sz)));
	else
		*g = (greg_t)(v & nc_mask(sz));
}

static uint64_t sext(uint64_t v, unsigned sz)
{
	unsigned sh = 64 - 8 * sz;

	return sz >= 8 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

/* One-byte opcodes with a ModRM byte (of those decoded at all). */
static bool modrm1(uint8_t op)
{
	if (op < 0x40)
		return (op & 7) < 4;
	switch (op) {
	case 0x63: case 0x69: case 0x6b: case 0x80: case 0x81: case 0x83:
	case 0x84: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89:
	case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f:
	case 0xc0: case 0xc1: case 0xc6: case 0xc7: case 0xd0: case 0xd1:
	case 0xd2: case 0xd3: case 0xf6: case 0xf7: case 0xfe: case 0xff:
		return true;
	}
	return false;
}

static bool modrm2(uint8_t op)
{
	switch (op) {
	case 0x00: case 0x01: case 0x20: case 0x21: case 0x22: case 0x23:
	case 0xb6: case 0xb7: case 0xbe: case 0xbf: case 0xaf: case 0xa3:
	case 0xab: case 0xb3: case 0xbb: case 0xba: case 0xc7:
		return true;
	}
	return (op >= 0x40 && op < 0x50) || (op >= 0x90 && op < 0xa0);
}

/* Bytes of immediate after ModRM, for the opcodes emulated here. */
static unsigned imm_len(const struct insn *in)
{
	unsigned z = in->o16 ? 2 : 4;

	if (in->two)
		return in->op == 0xba ? 1 : 0;
	switch (in->op) {
	case 0xc6: case 0x80: case 0x83: case 0xc0: case 0xc1: case 0x6b:
	case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xcd:
		return 1;
	case 0xc7: case 0x81: case 0x69:
		return z;
	case 0xf6:
		return in->reg % 8 < 2 ? 1 : 0;
	case 0xf7:
		return in->reg % 8 < 2 ? z : 0;
	case 0xea:
		return in->o16 ? 4 : 6;		/* ptr16:16 / ptr16:32, compat only */
	}
	return 0;
}

static bool decode(ucontext_t *uc, struct insn *in)
{
	uint64_t rip = (uint64_t)NC_RIP(uc);
	unsigned i = 0, n = 0;
	uint64_t base = 0, disp = 0;
	bool rip_rel = false;

	memset(in, 0, sizeof(*in));
	in->seg = -1;
	/* Up to 15 bytes, fewer at the end of RAM. */
	while (n < 15 && nc_read(rip + n, &in->b[n], 1))
		n++;
	for (; i < n; i++) {
		uint8_t c = in->b[i];

		if (c == 0x66)
			in->o16 = true;
		else if (c == 0xf3 || c == 0xf2)
			in->rep = true;
		else if (c == 0x64 || c == 0x65)
			in->seg = c - 0x60;
		else if (c == 0x2e || c == 0x36 || c == 0x3e || c == 0x26 || c == 0xf0)
			;
		else if (c == 0x67)
			return false;		/* 32-bit addressing in 64-bit code: not emulated */
		else
			break;
	}
	if (i < n && nc.lm && (in->b[i] & 0xf0) == 0x40)
		in->rex = in->b[i++];
	if (i >= n)
		return false;
	in->op = in->b[i++];
	if (in->op == 0x0f) {
		if (i >= n)
			return false;
		in->two = true;
		in->op = in->b[i++];
	}
	in->has_modrm = in->two ? modrm2(in->op) : modrm1(in->op);
	if (in->has_modrm) {
		uint8_t m;

		if (i >= n)
			return false;
		m = in->b[i++];
		in->mod = m >> 6;
		in->reg = ((m >> 3) & 7) | (in->rex & 4 ? 8 : 0);
		in->rm = (m & 7) | (in->rex & 1 ? 8 : 0);
		if (in->mod != 3) {
			bool disp32 = in->mod == 2;

			in->mem = true;
			if ((m & 7) == 4) {		/* SIB */
				uint8_t sib, idx, b;

				if (i >= n)
					return false;
				sib = in->b[i++];
				idx = ((sib >> 3) & 7) | (in->rex & 2 ? 8 : 0);
				b = (sib & 7) | (in->rex & 1 ? 8 : 0);
				if (idx != 4)
					base += (uint64_t)*nc_reg(uc, idx) << (sib >> 6);
				if ((sib & 7) == 5 && in->mod == 0)
					disp32 = true;		/* no base */
				else
					base += (uint64_t)*nc_reg(uc, b);
			} else if ((m & 7) == 5 && in->mod == 0) {
				disp32 = true;
				rip_rel = nc.lm;
			} else {
				base += (uint64_t)*nc_reg(uc, in->rm);
			}
			if (in->mod == 1) {
				if (i + 1 > n)
					return false;
				disp = (uint64_t)(int64_t)(int8_t)in->b[i++];
			} else if (disp32) {
				int32_t d;

				if (i + 4 > n)
					return false;
				memcpy(&d, &in->b[i], 4);
				disp = (uint64_t)(int64_t)d;
				i += 4;
			}
		}
	}
	unsigned il = imm_len(in);

	if (i + il > n)
		return false;
	for (unsigned k = 0; k < il; k++)
		in->imm |= (uint64_t)in->b[i + k] << (8 * k);
	i += il;
	in->len = i;
	in->ea = base + disp + (rip_rel ? rip + i : 0);
	if (!nc.lm)
		in->ea &= 0xffffffffULL;
	if (in->seg == 5)
		in->ea += nc.gs_base;
	else if (in->seg == 4)
		in->ea += nc.fs_base;
	return true;
}

static unsigned opsize(const struct insn *in)
{
	return in->rex & 8 ? 8 : in->o16 ? 2 : 4;
}

static void next(ucontext_t *uc, const struct insn *in)
{
	NC_RIP(uc) += in->len;
}

/* ---- memory accesses that faulted ---- */

/* ALU, CMP and TEST with a memory operand (RAM reached by emulation). */
static enum nc_result alu_mem(ucontext_t *uc, const struct insn *in, uint64_t gpa)
{
	unsigned op, osz = opsize(in), n;
	bool to_reg = false, test = false;
	uint64_t src, m, d;

	if (in->two)
		return NC_UNKNOWN;
	if (in->op < 0x40 && (in->op & 7) < 4) {
		op = in->op >> 3;
		n = in->op & 1 ? osz : 1;
		to_reg = in->op & 2;
		src = nc_get_reg(uc, in->reg, n, in->rex);
	} else if (in->op == 0x80 || in->op == 0x81 || in->op == 0x83) {
		op = in->reg & 7;
		n = in->op == 0x80 ? 1 : osz;
		src = in->op == 0x81 ? sext(in->imm, in->o16 ? 2 : 4) : sext(in->imm, 1);
	} else if (in->op == 0x84 || in->op == 0x85) {
		op = 4, test = true;
		n = in->op & 1 ? osz : 1;
		src = nc_get_reg(uc, in->reg, n, in->rex);
	} else if ((in->op == 0xf6 || in->op == 0xf7) && (in->reg & 7) == 0) {
		op = 4, test = true;
		n = in->op & 1 ? osz : 1;
		src = in->op == 0xf7 ? sext(in->imm, in->o16 ? 2 : 4) : in->imm;
	} else {
		return NC_UNKNOWN;
	}
	if (op == 2 || op == 3)			/* adc, sbb */
		return NC_UNKNOWN;
	m = nc_phys(gpa, n, false, 0) & nc_mask(n);
	if (to_reg) {
		d = nc_get_reg(uc, in->reg, n, in->rex);
		nc_alu(uc, op, &d, m, n);
		if (op != 7)
			nc_set_reg(uc, in->reg, n, in->rex, d);
	} else {
		d = m;
		nc_alu(uc, op, &d, src, n);
		if (!test && op != 7)
			nc_phys(gpa, n, true, d);
	}
	next(uc, in);
	return NC_DONE;
}

enum nc_result nc_emulate_access(ucontext_t *uc, uint64_t gpa)
{
	struct insn in;
	unsigned sz = 0, osz;
	bool write = false, sign = false;
	uint64_t v = 0;

	if (!decode(uc, &in) || !in.mem)
		return NC_UNKNOWN;
	osz = opsize(&in);
	if (in.rep)
		return NC_UNKNOWN;
	if (!in.two) {
		switch (in.op) {
		case 0x88: write = true, sz = 1, v = nc_get_reg(uc, in.reg, 1, in.rex); break;
		case 0x89: write = true, sz = osz, v = nc_get_reg(uc, in.reg, osz, in.rex); break;
		case 0xc6: write = true, sz = 1, v = in.imm; break;
		case 0xc7: write = true, sz = osz, v = sext(in.imm, in.o16 ? 2 : 4); break;
		case 0x8a: sz = 1; break;
		case 0x8b: sz = osz; break;
		case 0x63: sz = 4, sign = true; break;		/* movsxd */
		default: return alu_mem(uc, &in, gpa);
		}
	} else {
		switch (in.op) {
		case 0xb6: sz = 1; break;
		case 0xb7: sz = 2; break;
		case 0xbe: sz = 1, sign = true; break;
		case 0xbf: sz = 2, sign = true; break;
		default: return NC_UNKNOWN;
		}
	}
	if (write) {
		nc_phys(gpa, sz, true, v & nc_mask(sz));
	} else {
		v = nc_phys(gpa, sz, false, 0) & nc_mask(sz);
		if (sign)
			v = sext(v, sz);
		nc_set_reg(uc, in.reg, (in.two || in.op == 0x63) ? osz : sz, in.rex, v);
	}
	next(uc, &in);
	return NC_DONE;
}

/* ---- privileged instructions (#GP in ring 3) ---- */

static bool pop64(ucontext_t *uc, unsigned sz, uint64_t *v)
{
	uint64_t rsp = (uint64_t)NC_RSP(uc);

	*v = 0;
	if (!nc_read(rsp, v, sz))
		return false;
	NC_RSP(uc) = (greg_t)(rsp + sz);
	return true;
}

static enum nc_result do_iret(ucontext_t *uc, const struct insn *in)
{
	uint64_t rip, cs, fl, rsp, ss;
	unsigned sz = in->rex & 8 ? 8 : 4;

	if (!nc.lm && sz == 4) {	/* 32-bit IRET: same ring only */
		if (!pop64(uc, 4, &rip) || !pop64(uc, 4, &cs) || !pop64(uc, 4, &fl))
			return NC_FAULT_GP;
		nc_set_rflags(uc, fl);
		nc_set_cs(uc, (uint16_t)cs);
		NC_RIP(uc) = (greg_t)rip;
		return NC_DONE;
	}
	if (!pop64(uc, sz, &rip) || !pop64(uc, sz, &cs) || !pop64(uc, sz, &fl) ||
	    !pop64(uc, sz, &rsp) || !pop64(uc, sz, &ss))
		return NC_FAULT_GP;
	nc_set_rflags(uc, fl);
	nc_set_cs(uc, (uint16_t)cs);
	nc.ss = (uint16_t)ss;
	NC_RSP(uc) = (greg_t)rsp;
	NC_RIP(uc) = (greg_t)rip;
	return NC_DONE;
}

static enum nc_result do_0f01(ucontext_t *uc, const struct insn *in)
{
	uint16_t limit;
	uint64_t base = 0;

	if (!in->mem) {
		switch (in->b[in->len - 1]) {
		case 0xd1:			/* xsetbv: the host's XCR0 stays */
		case 0xca: case 0xcb:		/* clac, stac */
			next(uc, in);
			return NC_DONE;
		case 0xf8: {			/* swapgs */
			uint64_t t = nc.gs_base;

			nc_wrmsr(0xc0000101, nc.kgs_base);
			nc.kgs_base = t;
			next(uc, in);
			return NC_DONE;
		}
		}
		return NC_UNKNOWN;
	}
	switch (in->reg & 7) {
	case 0: case 1:			/* sgdt, sidt (UMIP hosts) */
		limit = (in->reg & 7) ? nc.idt_limit : nc.gdt_limit;
		base = (in->reg & 7) ? nc.idt_base : nc.gdt_base;
		if (!nc_write(in->ea, &limit, 2) || !nc_write(in->ea + 2, &base, nc.lm ? 8 : 4))
			return NC_FAULT_GP;
		break;
	case 2: case 3:			/* lgdt, lidt */
		if (!nc_read(in->ea, &limit, 2) || !nc_read(in->ea + 2, &base, nc.lm ? 8 : 4))
			return NC_FAULT_GP;
		if ((in->reg & 7) == 2)
			nc.gdt_limit = limit, nc.gdt_base = base;
		else
			nc.idt_limit = limit, nc.idt_base = base;
		break;
	case 7:				/* invlpg: nothing cached here */
		break;
	default:
		return NC_UNKNOWN;
	}
	next(uc, in);
	return NC_DONE;
}

static enum nc_result do_cr(ucontext_t *uc, const struct insn *in, bool to_cr)
{
	unsigned cr = in->reg;
	uint64_t *p;
	greg_t *r = nc_reg(uc, in->rm);

	switch (cr) {
	case 0: p = &nc.cr0; break;
	case 2: p = &nc.cr2; break;
	case 3: p = &nc.cr3; break;
	case 4: p = &nc.cr4; break;
	case 8:
		if (to_cr)
			nc.tpr = (uint32_t)((uint64_t)*r & 15) << 4;
		else
			*r = nc.tpr >> 4;
		next(uc, in);
		return NC_DONE;
	default:
		return NC_UNKNOWN;
	}
	if (to_cr) {
		*p = nc.lm ? (uint64_t)*r : (uint32_t)*r;
		if (cr == 0 && (nc.cr0 & 0x80000000u) && (nc.efer & 0x100))
			nc.efer |= 0x400;	/* EFER.LMA */
	} else {
		*r = (greg_t)(nc.lm ? *p : (uint32_t)*p);
	}
	next(uc, in);
	return NC_DONE;
}

static enum nc_result do_io(ucontext_t *uc, const struct insn *in)
{
	uint8_t op = in->op;
	unsigned sz = (op & 1) ? (in->o16 ? 2 : 4) : 1;
	uint16_t port = (op & 8) ? (uint16_t)*nc_reg(uc, 2) : (uint16_t)in->imm;
	greg_t *rax = nc_reg(uc, 0);

	if (in->rep)
		return NC_UNKNOWN;
	if (op & 2) {
		nc_port(port, sz, true, (uint64_t)*rax & nc_mask(sz));
	} else {
		uint64_t v = nc_port(port, sz, false, 0);

		nc_set_reg(uc, 0, sz, in->rex, v);
	}
	next(uc, in);
	return NC_DONE;
}

/* A segment load, LTR or LLDT: the selector from r/m, kept in *dst if dst. */
static enum nc_result load_selector(ucontext_t *uc, const struct insn *in, uint16_t *dst)
{
	uint64_t v = in->mem ? 0 : (uint16_t)*nc_reg(uc, in->rm);

	if (in->mem && !nc_read(in->ea, &v, 2))
		return NC_FAULT_GP;
	if (dst)
		*dst = (uint16_t)v;
	next(uc, in);
	return NC_DONE;
}

enum nc_result nc_emulate_gp(ucontext_t *uc)
{
	struct insn in;
	uint64_t v;

	if (!decode(uc, &in))
		return NC_UNKNOWN;
	if (!in.two) {
		switch (in.op) {
		case 0xfa:			/* cli */
			nc.vif = false;
			next(uc, &in);
			return NC_DONE;
		case 0xfb:			/* sti: interrupts after the next instruction */
			next(uc, &in);
			if (!nc.vif) {
				uint8_t b;

				nc.vif = true;
				if (nc_read((uint64_t)NC_RIP(uc), &b, 1) && b == 0xf4) {
					NC_RIP(uc) += 1;	/* sti; hlt */
					return NC_HALT;
				}
				nc.sti_step = true;
				NC_EFL(uc) |= 0x100;	/* TF: trap after it */
			}
			return NC_DONE;
		case 0xf4:			/* hlt */
			next(uc, &in);
			return NC_HALT;
		case 0xe4: case 0xe5: case 0xe6: case 0xe7:
		case 0xec: case 0xed: case 0xee: case 0xef:
			return do_io(uc, &in);
		case 0xcd:			/* int n through a DPL 0 host gate */
			next(uc, &in);
			return nc_deliver(uc, (uint8_t)in.imm, false, 0, true) ? NC_DONE : NC_UNKNOWN;
		case 0xcf:
			return do_iret(uc, &in);
		case 0xcb: {			/* lret */
			unsigned sz = in.rex & 8 ? 8 : 4;
			uint64_t rip, cs;

			if (!pop64(uc, sz, &rip) || !pop64(uc, sz, &cs))
				return NC_FAULT_GP;
			nc_set_cs(uc, (uint16_t)cs);
			NC_RIP(uc) = (greg_t)rip;
			return NC_DONE;
		}
		case 0xea:			/* ljmp ptr16:32 (compat code) */
			if (nc.lm)
				return NC_UNKNOWN;
			nc_set_cs(uc, (uint16_t)(in.imm >> (in.o16 ? 16 : 32)));
			NC_RIP(uc) = (greg_t)(in.imm & (in.o16 ? 0xffff : 0xffffffffULL));
			return NC_DONE;
		case 0x8e:			/* mov to a segment register */
			return load_selector(uc, &in, (in.reg & 7) == 2 ? &nc.ss : NULL);
		}
		return NC_UNKNOWN;
	}
	switch (in.op) {
	case 0x00:
		if ((in.reg & 7) == 3 || (in.reg & 7) == 2)	/* ltr, lldt */
			return load_selector(uc, &in, (in.reg & 7) == 3 ? &nc.tr : NULL);
		return NC_UNKNOWN;
	case 0x01:
		return do_0f01(uc, &in);
	case 0x20:
		return do_cr(uc, &in, false);
	case 0x22:
		return do_cr(uc, &in, true);
	case 0x30:				/* wrmsr */
		nc_wrmsr((uint32_t)*nc_reg(uc, 1),
			 (uint32_t)*nc_reg(uc, 0) | (uint64_t)(uint32_t)*nc_reg(uc, 2) << 32);
		next(uc, &in);
		return NC_DONE;
	case 0x32:				/* rdmsr */
		v = nc_rdmsr((uint32_t)*nc_reg(uc, 1));
		*nc_reg(uc, 0) = (greg_t)(uint32_t)v;
		*nc_reg(uc, 2) = (greg_t)(v >> 32);
		next(uc, &in);
		return NC_DONE;
	case 0x06: case 0x08: case 0x09:	/* clts, invd, wbinvd */
		next(uc, &in);
		return NC_DONE;
	}
	return NC_UNKNOWN;
}
