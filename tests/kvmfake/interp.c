// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's native CPU: an interpreter for the real-mode and 32-bit code a
 * guest starts in (an AP's trampoline after SIPI, a PVH or Multiboot entry).
 * 16- and 32-bit code cannot run in ring 3 here (the host offers no 32-bit
 * user code segment), so these few instructions are interpreted, one at a
 * time, until a far transfer lands in a 64-bit code segment; from there
 * the guest runs natively. It knows the instructions such start-up stubs
 * use: moves (register, immediate, memory, segment and control registers),
 * the ALU immediates, jumps, LGDT/LIDT, RDMSR/WRMSR, port I/O and flag
 * instructions. Anything else ends the run with its bytes on stderr.
 */
#include <string.h>

#include "fake.h"
#include "model.h"
#include "ncpu.h"

struct op {
	uint64_t lin;		/* linear address of the instruction */
	unsigned i;		/* bytes consumed */
	unsigned osz, asz;	/* operand and address size: 2 or 4 */
	int seg;		/* override: 0 es 1 cs 2 ss 3 ds 4 fs 5 gs, -1 none */
	bool mem;
	uint8_t mod, reg, rm;
	uint64_t ea;		/* linear, for mem */
};

static bool fetch(struct op *o, void *dst, unsigned n)
{
	if (!nc_read(o->lin + o->i, dst, n))
		return false;
	o->i += n;
	return true;
}

static uint64_t fetch_imm(struct op *o, unsigned n, bool *ok)
{
	uint64_t v = 0;

	*ok = *ok && fetch(o, &v, n);
	return v;
}

static bool modrm(ucontext_t *uc, struct op *o)
{
	uint8_t m;
	uint64_t ea = 0;
	int dseg = 3;
	bool ok = true;

	if (!fetch(o, &m, 1))
		return false;
	o->mod = m >> 6, o->reg = (m >> 3) & 7, o->rm = m & 7;
	o->mem = o->mod != 3;
	if (!o->mem)
		return true;
	if (o->asz == 2) {
		static const int8_t b16[8] = { 3, 3, 5, 5, -1, -1, 5, 3 };
		static const int8_t i16[8] = { 6, 7, 6, 7, 6, 7, -1, -1 };

		if (o->mod == 0 && o->rm == 6) {
			ea = fetch_imm(o, 2, &ok);
		} else {
			if (b16[o->rm] >= 0)
				ea += (uint16_t)*nc_reg(uc, (unsigned)b16[o->rm]);
			if (i16[o->rm] >= 0)
				ea += (uint16_t)*nc_reg(uc, (unsigned)i16[o->rm]);
			if (o->rm == 2 || o->rm == 3 || o->rm == 6)
				dseg = 2;	/* bp-based: ss */
		}
		if (o->mod == 1)
			ea += (uint64_t)(int64_t)(int8_t)fetch_imm(o, 1, &ok);
		else if (o->mod == 2)
			ea += fetch_imm(o, 2, &ok);
		ea &= 0xffff;
	} else {
		if (o->rm == 4) {
			uint8_t s = (uint8_t)fetch_imm(o, 1, &ok);
			unsigned idx = (s >> 3) & 7, b = s & 7;

			if (idx != 4)
				ea += (uint32_t)*nc_reg(uc, idx) << (s >> 6);
			if (b == 5 && o->mod == 0)
				ea += fetch_imm(o, 4, &ok);
			else
				ea += (uint32_t)*nc_reg(uc, b);
		} else if (o->mod == 0 && o->rm == 5) {
			ea = fetch_imm(o, 4, &ok);
		} else {
			ea = (uint32_t)*nc_reg(uc, o->rm);
		}
		if (o->mod == 1)
			ea += (uint64_t)(int64_t)(int8_t)fetch_imm(o, 1, &ok);
		else if (o->mod == 2)
			ea += fetch_imm(o, 4, &ok);
		ea &= 0xffffffffULL;
	}
	o->ea = nc.seg_base[o->seg >= 0 ? o->seg : dseg] + ea;
	return ok;
}

static bool rm_get(ucontext_t *uc, const struct op *o, unsigned n, uint64_t *v)
{
	*v = 0;
	if (!o->mem) {
		*v = nc_get_reg(uc, o->rm, n, false);
		return true;
	}
	return nc_read(o->ea, v, n);
}

static bool rm_set(ucontext_t *uc, const struct op *o, unsigned n, uint64_t v)
{
	if (!o->mem) {
		nc_set_reg(uc, o->rm, n, false, v);
		return true;
	}
	return nc_write(o->ea, &v, n);
}

/* Base of selector sel: sel << 4 in real mode, its descriptor's otherwise. */
static bool seg_load(unsigned seg, uint16_t sel)
{
	uint64_t d;

	if (!(nc.cr0 & 1)) {
		nc.seg_base[seg] = (uint64_t)sel << 4;
		return true;
	}
	if (!(sel & ~7u)) {
		nc.seg_base[seg] = 0;
		return seg != 1 && seg != 2;
	}
	if ((uint32_t)(sel | 7) > nc.gdt_limit || !nc_read(nc.gdt_base + (sel & ~7u), &d, 8))
		return false;
	nc.seg_base[seg] = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
	if (seg == 1)
		nc.code32 = (d >> 54) & 1;
	if (seg == 2)
		nc.ss = sel;
	return true;
}

/* A far transfer: into 64-bit code (long mode active) ends interpretation. */
static bool far_jump(ucontext_t *uc, uint16_t sel, uint64_t off)
{
	uint64_t d = 0;

	if ((nc.cr0 & 1) && (nc.efer & 0x400) && (sel & ~7u) &&
	    (uint32_t)(sel | 7) <= nc.gdt_limit && nc_read(nc.gdt_base + (sel & ~7u), &d, 8) &&
	    ((d >> 53) & 1)) {
		nc_set_cs(uc, sel);
		NC_RIP(uc) = (greg_t)off;
		return true;
	}
	if (!seg_load(1, sel))
		return false;
	nc.cs = sel;
	NC_RIP(uc) = (greg_t)(uint32_t)off;
	return true;
}

bool nc_alu(ucontext_t *uc, unsigned op, uint64_t *dst, uint64_t src, unsigned n)
{
	uint64_t a = *dst & nc_mask(n), b = src & nc_mask(n), r, sb = 1ULL << (8 * n - 1);
	uint64_t f = (uint64_t)NC_EFL(uc) & ~0x8d5ULL;	/* CF PF AF ZF SF OF */

	switch (op) {
	case 0: r = a + b; break;
	case 1: r = a | b; break;
	case 4: r = a & b; break;
	case 5: case 7: r = a - b; break;
	case 6: r = a ^ b; break;
	default: return false;			/* adc, sbb: not here */
	}
	r &= nc_mask(n);
	if (op == 0) {
		f |= (r < a ? 1 : 0) | (((a ^ r) & (b ^ r) & sb) ? 0x800 : 0) | ((a ^ b ^ r) & 0x10);
	} else if (op == 5 || op == 7) {
		f |= (a < b ? 1 : 0) | (((a ^ b) & (a ^ r) & sb) ? 0x800 : 0) | ((a ^ b ^ r) & 0x10);
	}
	if (!r)
		f |= 0x40;
	if (r & sb)
		f |= 0x80;
	if (!(__builtin_popcount((unsigned)(r & 0xff)) & 1))
		f |= 0x4;
	NC_EFL(uc) = (greg_t)f;
	if (op != 7)
		*dst = r;
	return true;
}

/* One instruction; false if it is not one this interpreter knows. */
static bool step(ucontext_t *uc)
{
	struct op o = { .seg = -1 };
	uint8_t b, b2;
	uint64_t v, w;
	bool ok = true, code32 = nc.code32;
	const uint64_t ipmask = code32 ? 0xffffffffULL : 0xffff;	/* EIP or IP */

	o.lin = nc.seg_base[1] + (uint64_t)NC_RIP(uc);
	o.osz = o.asz = code32 ? 4 : 2;
	for (;;) {
		if (!fetch(&o, &b, 1))
			return false;
		if (b == 0x66)
			o.osz = code32 ? 2 : 4;
		else if (b == 0x67)
			o.asz = code32 ? 2 : 4;
		else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e)
			o.seg = (b >> 3) & 3;
		else if (b == 0x64 || b == 0x65)
			o.seg = b - 0x60;
		else
			break;
	}
#define NEXT() (NC_RIP(uc) = (greg_t)(((uint64_t)NC_RIP(uc) + o.i) & ipmask))
	switch (b) {
	case 0xfa: nc.vif = false; NEXT(); return true;
	case 0xfb: nc.vif = true; NEXT(); return true;
	case 0xfc: NC_EFL(uc) &= ~0x400; NEXT(); return true;
	case 0xfd: NC_EFL(uc) |= 0x400; NEXT(); return true;
	case 0x90: NEXT(); return true;
	case 0xf4: NEXT(); nc_halt(); return true;
	case 0xeb:
		v = (uint64_t)(int64_t)(int8_t)fetch_imm(&o, 1, &ok);
		NEXT();
		NC_RIP(uc) = (greg_t)(((uint64_t)NC_RIP(uc) + v) & ipmask);
		return ok;
	case 0xe9:
		v = fetch_imm(&o, o.osz, &ok);
		if (o.osz == 4)
			v = (uint64_t)(int64_t)(int32_t)v;
		NEXT();
		NC_RIP(uc) = (greg_t)(((uint64_t)NC_RIP(uc) + v) & ipmask);
		return ok;
	case 0xea:
		v = fetch_imm(&o, o.osz, &ok);
		w = fetch_imm(&o, 2, &ok);
		return ok && far_jump(uc, (uint16_t)w, v);
	case 0xa1: case 0xa3:			/* mov eAX <-> moffs */
		v = fetch_imm(&o, o.asz, &ok) + nc.seg_base[o.seg >= 0 ? o.seg : 3];
		if (!ok)
			return false;
		if (b == 0xa3) {
			w = nc_get_reg(uc, 0, o.osz, false);
			ok = nc_write(v, &w, o.osz);
		} else {
			w = 0;
			ok = nc_read(v, &w, o.osz);
			nc_set_reg(uc, 0, o.osz, false, w);
		}
		NEXT();
		return ok;
	case 0x05: case 0x0d: case 0x25: case 0x2d: case 0x35: case 0x3d:	/* op eAX, imm */
		v = nc_get_reg(uc, 0, o.osz, false);
		w = fetch_imm(&o, o.osz, &ok);
		ok = ok && nc_alu(uc, b >> 3, &v, w, o.osz);
		nc_set_reg(uc, 0, o.osz, false, v);
		NEXT();
		return ok;
	case 0x01: case 0x09: case 0x21: case 0x29: case 0x31: case 0x39:	/* op r/m, r */
	case 0x03: case 0x0b: case 0x23: case 0x2b: case 0x33: case 0x3b:	/* op r, r/m */
		if (!modrm(uc, &o) || !rm_get(uc, &o, o.osz, &v))
			return false;
		w = nc_get_reg(uc, o.reg, o.osz, false);
		if (b & 2) {
			ok = nc_alu(uc, b >> 3, &w, v, o.osz);
			nc_set_reg(uc, o.reg, o.osz, false, w);
		} else {
			ok = nc_alu(uc, b >> 3, &v, w, o.osz) && rm_set(uc, &o, o.osz, v);
		}
		NEXT();
		return ok;
	case 0x81: case 0x83:
		if (!modrm(uc, &o) || !rm_get(uc, &o, o.osz, &v))
			return false;
		w = fetch_imm(&o, b == 0x83 ? 1 : o.osz, &ok);
		if (b == 0x83)
			w = (uint64_t)(int64_t)(int8_t)w;
		ok = ok && nc_alu(uc, o.reg, &v, w, o.osz) && rm_set(uc, &o, o.osz, v);
		NEXT();
		return ok;
	case 0x88: case 0x89: case 0x8a: case 0x8b: {
		unsigned n = b & 1 ? o.osz : 1;

		if (!modrm(uc, &o))
			return false;
		if (b & 2)
			ok = rm_get(uc, &o, n, &v), nc_set_reg(uc, o.reg, n, false, v);
		else
			ok = rm_set(uc, &o, n, nc_get_reg(uc, o.reg, n, false));
		NEXT();
		return ok;
	}
	case 0xc6: case 0xc7: {
		unsigned n = b & 1 ? o.osz : 1;

		if (!modrm(uc, &o) || o.reg)
			return false;
		v = fetch_imm(&o, n, &ok);
		ok = ok && rm_set(uc, &o, n, v);
		NEXT();
		return ok;
	}
	case 0x8c:				/* mov r/m, sreg */
		if (!modrm(uc, &o) || o.reg > 5)
			return false;
		v = o.reg == 1 ? nc.cs : o.reg == 2 ? nc.ss : nc.sel[o.reg];
		ok = rm_set(uc, &o, o.mem ? 2 : o.osz, v);
		NEXT();
		return ok;
	case 0x8e:				/* mov sreg, r/m */
		if (!modrm(uc, &o) || o.reg == 1 || o.reg > 5 || !rm_get(uc, &o, 2, &v))
			return false;
		if (!seg_load(o.reg, (uint16_t)v))
			return false;
		nc.sel[o.reg] = (uint16_t)v;
		NEXT();
		return true;
	case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef: {
		unsigned n = b & 1 ? o.osz : 1;
		uint16_t port = b & 8 ? (uint16_t)*nc_reg(uc, 2) : (uint16_t)fetch_imm(&o, 1, &ok);

		if (!ok)
			return false;
		if (b & 2)
			nc_port(port, n, true, nc_get_reg(uc, 0, n, false));
		else
			nc_set_reg(uc, 0, n, false, nc_port(port, n, false, 0));
		NEXT();
		return true;
	}
	}
	if (b >= 0xb8 && b <= 0xbf) {
		nc_set_reg(uc, b - 0xb8, o.osz, false, fetch_imm(&o, o.osz, &ok));
		NEXT();
		return ok;
	}
	if (b >= 0xb0 && b <= 0xb7) {
		nc_set_reg(uc, b - 0xb0, 1, false, fetch_imm(&o, 1, &ok));
		NEXT();
		return ok;
	}
	if (b != 0x0f || !fetch(&o, &b2, 1))
		return false;
	switch (b2) {
	case 0x01: {
		uint16_t limit = 0;
		uint64_t base = 0;

		if (!modrm(uc, &o) || !o.mem || (o.reg != 2 && o.reg != 3))
			return false;
		if (!nc_read(o.ea, &limit, 2) || !nc_read(o.ea + 2, &base, 4))
			return false;
		if (o.osz == 2)
			base &= 0xffffff;
		if (o.reg == 2)
			nc.gdt_base = base, nc.gdt_limit = limit;
		else
			nc.idt_base = base, nc.idt_limit = limit;
		NEXT();
		return true;
	}
	case 0x20: case 0x22: {
		uint64_t *cr;

		if (!modrm(uc, &o))
			return false;
		cr = o.reg == 0 ? &nc.cr0 : o.reg == 2 ? &nc.cr2 : o.reg == 3 ? &nc.cr3 :
		     o.reg == 4 ? &nc.cr4 : NULL;
		if (!cr)
			return false;
		if (b2 == 0x20) {
			nc_set_reg(uc, o.rm, 4, false, *cr);
		} else {
			*cr = (uint32_t)*nc_reg(uc, o.rm);
			if (o.reg == 0 && (nc.cr0 & 0x80000001u) == 0x80000001u && (nc.efer & 0x100))
				nc.efer |= 0x400;		/* EFER.LMA */
		}
		NEXT();
		return true;
	}
	case 0x30:
		nc_wrmsr((uint32_t)*nc_reg(uc, 1),
			 (uint32_t)*nc_reg(uc, 0) | (uint64_t)(uint32_t)*nc_reg(uc, 2) << 32);
		NEXT();
		return true;
	case 0x32:
		v = nc_rdmsr((uint32_t)*nc_reg(uc, 1));
		nc_set_reg(uc, 0, 4, false, v);
		nc_set_reg(uc, 2, 4, false, v >> 32);
		NEXT();
		return true;
	}
	return false;
#undef NEXT
}

bool nc_interpret(ucontext_t *uc)
{
	/* The stubs are short; a loop this long is a guest gone wrong. */
	for (unsigned n = 0; n < 100000; n++) {
		if (nc.lm)
			return true;
		if (!step(uc)) {
			uint8_t bytes[8] = { 0 };
			uint64_t lin = nc.seg_base[1] + (uint64_t)NC_RIP(uc);

			for (unsigned i = 0; i < 8; i++)
				nc_read(lin + i, &bytes[i], 1);
			fk_complain("native CPU %u: cannot interpret the %s instruction at %04x:%llx "
				    "(%02x %02x %02x %02x %02x %02x %02x %02x)", nc.cpu,
				    nc.cr0 & 1 ? "32-bit" : "real-mode", nc.cs,
				    (unsigned long long)NC_RIP(uc), bytes[0], bytes[1], bytes[2],
				    bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
			return false;
		}
	}
	fk_complain("native CPU %u: still not in 64-bit code after 100000 instructions", nc.cpu);
	return false;
}
