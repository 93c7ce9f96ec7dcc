// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's emulated CPU (emu.h): fetch, decode, execute, one instruction
 * at a time, one thread a vCPU. A CPU's state lives in its struct ecpu
 * (E, through a thread-local pointer); the LAPIC, MSR store and control
 * registers are the native CPU's (ncpu.h), so ndev.c serves both. Faults
 * unwind with longjmp to the run loop, which delivers them through the
 * guest's IDT (SDM vol. 3, 6.14: 64-bit mode) with RIP still at the
 * faulting instruction; a LOCKed write that lost a race unwinds the same
 * way and runs again.
 *
 * Arithmetic flags are the host's own: each ALU, shift and bit operation
 * runs the same instruction on the host with the guest's flags loaded, so
 * CF/PF/AF/ZF/SF/OF come out exactly as the hardware sets them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "fake.h"
#include "model.h"
#include "ncpu.h"

enum { ES, CS, SS, DS, FS, GS };

#define F_CF	0x1ULL
#define F_PF	0x4ULL
#define F_AF	0x10ULL
#define F_ZF	0x40ULL
#define F_SF	0x80ULL
#define F_TF	0x100ULL
#define F_IF	0x200ULL
#define F_DF	0x400ULL
#define F_OF	0x800ULL
#define F_ARITH	0x8d5ULL
#define F_POPF	0x257fd5ULL	/* what POPF may change at CPL 0 */

#define CR0_PE	0x1ULL
#define CR0_TS	0x8ULL
#define CR0_PG	0x80000000ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define TLB_N	1024
#define ACC_W	2
#define ACC_F	16

/* Exceptions */
#define X_DE	0
#define X_DB	1
#define X_BP	3
#define X_UD	6
#define X_NM	7
#define X_DF	8
#define X_GP	13
#define X_PF	14
#define X_RETRY	256	/* not an exception: a LOCKed write lost its race, run it again */

struct tlbe {
	uint64_t tag;		/* linear page | 1, 0: empty */
	uint8_t *host;		/* the page in RAM, or NULL (not RAM: MMIO) */
	uint64_t pa;		/* its guest-physical page */
	bool write;		/* writable by this CPL-class and dirty already */
	bool user;		/* user-accessible */
};

/* One CPU's state; each CPU thread has its own (E). */
struct ecpu {
	uint64_t r[16];
	uint64_t rip, fl;
	uint64_t seg_base[6];
	uint16_t sel[6];
	bool lm;		/* executing 64-bit code (CS.L with EFER.LMA) */
	bool d32;		/* outside it: CS.D */
	bool ss32;		/* outside it: SS.B (a 32-bit stack pointer) */
	unsigned cpl;
	uint64_t dr[8];
	uint64_t kgs_base, tsc_aux;
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	bool shadow;		/* the instruction after STI / MOV SS */
	bool delivering;
	jmp_buf jb;
	unsigned xvec;		/* the exception being raised, or X_RETRY */
	bool xerr;
	uint64_t xcode;
	/* A LOCKed read-modify-write: its first read, written back by CAS */
	bool lk;
	uint8_t *lk_ptr;
	unsigned lk_n;
	uint64_t lk_val, lk_fl;
	struct tlbe tlb[TLB_N];
	uint64_t insns, halts, every, next_sample;
	uint64_t systime_msr, wall_msr;	/* kvmclock's, per CPU */
	uint64_t tr_base;	/* the TSS, as LTR (or kite's KVM_SET_SREGS) loaded it */
	uint32_t tr_limit;
	bool entered;		/* its state is live here, not in kite's fk_vcpu */
};

/* Every CPU's state, for kite's KVM_GET_* while it is stopped */
static struct ecpu *ecpus[FK_MAX_VCPUS];

static __thread struct ecpu *ecur __attribute__((tls_model("initial-exec")));
#define E (*ecur)

/* The host TSC's rate and the VM's time zero, for kvmclock */
static uint64_t tsc_hz, start_ns;

static bool wanted = false, wanted_known = false;

bool fk_emu_wanted(void)
{
	if (!wanted_known) {
		const char *m = getenv("KVMFAKE_GUEST");

		wanted = m && !strcmp(m, "emu");
		wanted_known = true;
	}
	return wanted;
}

static void shut(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void shut(const char *fmt, ...)
{
	va_list ap;
	char why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kvmfake: emulated CPU: %s at rip 0x%llx after %llu instructions\n", why,
		(unsigned long long)E.rip, (unsigned long long)E.insns);
	for (unsigned i = 0; i < 16; i += 4)
		fprintf(stderr, "  r%-2u %016llx %016llx %016llx %016llx\n", i,
			(unsigned long long)E.r[i], (unsigned long long)E.r[i + 1],
			(unsigned long long)E.r[i + 2], (unsigned long long)E.r[i + 3]);
	fprintf(stderr, "  rflags %llx cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx cs %x\n",
		(unsigned long long)E.fl, (unsigned long long)nc.cr0, (unsigned long long)nc.cr2,
		(unsigned long long)nc.cr3, (unsigned long long)nc.cr4, (unsigned long long)nc.efer,
		E.sel[CS]);
	nc_shut_down(why);
}

static void raise_exc(unsigned vec, bool has_err, uint64_t err) __attribute__((noreturn));

static void raise_exc(unsigned vec, bool has_err, uint64_t err)
{
	E.xvec = vec;
	E.xerr = has_err;
	E.xcode = err;
	longjmp(E.jb, 1);
}

#define GP0() raise_exc(X_GP, true, 0)
#define UD() raise_exc(X_UD, false, 0)

/* ---- memory ---- */

static void tlb_flush(void)
{
	memset(E.tlb, 0, sizeof(E.tlb));
}

/* Accessed and dirty bits: or'ed in atomically, as other CPUs (and the
 * guest's own page-table code) may be changing the entry meanwhile. */
static void set_bits(uint64_t pte_gpa, uint64_t bits)
{
	uint64_t *p = nc_ram(pte_gpa, 8);

	if (p && !(pte_gpa & 7)) {
		__atomic_fetch_or(p, bits, __ATOMIC_SEQ_CST);
		if (fk_logging)
			fk_dirty_page(pte_gpa);
	}
}

/* Linear to physical through the guest's page tables (SDM vol. 3, 4.5,
 * 4.6): *pa, and whether the page may be written and reached from CPL 3.
 * Sets the accessed bits on the way, and the dirty bit for a write.
 * 0 if the page is there, else the #PF error code's P bit (1: it is there
 * but the access is not allowed). */
static int walk(uint64_t va, uint64_t *pa, unsigned acc, bool *w, bool *u)
{
	const uint64_t frame = 0x000ffffffffff000ULL;
	uint64_t t, ent, ea;
	bool wr = true, us = true;

	*w = *u = true;
	if (!(nc.cr0 & CR0_PG)) {
		*pa = E.lm ? va : (uint32_t)va;
		return 0;
	}
	if (!(nc.efer & EFER_LMA))
		shut("paging outside long mode is not emulated");
	t = nc.cr3 & frame;
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		bool leaf;

		ea = t + ((va >> shift) & 511) * 8;
		if (!nc_read(ea, &ent, 8) || !(ent & 1))
			return -1;
		wr = wr && (ent & 2);
		us = us && (ent & 4);
		leaf = level == 1 || ((level == 2 || level == 3) && (ent & 0x80));
		if (!leaf) {
			if (!(ent & 0x20))
				set_bits(ea, 0x20);
			t = ent & frame;
			continue;
		}
		/* Write: CPL 3 needs R/W, CPL 0 too when CR0.WP; user: U/S. */
		if (E.cpl == 3 && !us)
			return 1;
		if ((acc & ACC_W) && !wr && (E.cpl == 3 || (nc.cr0 & 0x10000)))
			return 1;
		if (!(ent & 0x20) || ((acc & ACC_W) && !(ent & 0x40))) {
			ent |= 0x20 | ((acc & ACC_W) ? 0x40 : 0);
			set_bits(ea, 0x20 | ((acc & ACC_W) ? 0x40 : 0));
		}
		*pa = (ent & frame & ~((1ULL << shift) - 1)) | (va & ((1ULL << shift) - 1));
		*w = (ent & 0x40) && (wr || (E.cpl < 3 && !(nc.cr0 & 0x10000)));
		*u = us;
		return 0;
	}
	return -1;
}

static void page_fault(uint64_t va, unsigned acc, int present) __attribute__((noreturn));

static void page_fault(uint64_t va, unsigned acc, int present)
{
	nc.cr2 = va;
	raise_exc(X_PF, true, acc | (present > 0 ? 1 : 0) | (E.cpl == 3 ? 4 : 0));
}

static struct tlbe *tlb_fill(uint64_t va, unsigned acc)
{
	struct tlbe *t = &E.tlb[(va >> 12) & (TLB_N - 1)];
	uint64_t pa;
	bool w, u;
	int r = walk(va, &pa, acc, &w, &u);

	if (r)
		page_fault(va, acc, r);
	t->tag = (va & ~0xfffULL) | 1;
	t->pa = pa & ~0xfffULL;
	t->host = nc_ram(t->pa, 4096);
	t->write = w;
	t->user = u;
	return t;
}

/* Host pointer to linear va (RAM), or NULL with *pa set (not RAM). */
static inline uint8_t *xlate(uint64_t va, uint64_t *pa, unsigned acc)
{
	struct tlbe *t = &E.tlb[(va >> 12) & (TLB_N - 1)];

	if (__builtin_expect(t->tag != ((va & ~0xfffULL) | 1) || ((acc & ACC_W) && !t->write) ||
			     (E.cpl == 3 && !t->user), 0))
		t = tlb_fill(va, acc);
	*pa = t->pa | (va & 0xfff);
	return t->host ? t->host + (va & 0xfff) : NULL;
}

/* A guest write to RAM at pa: marked in the dirty log while kite logs. */
static inline void dirty(uint64_t pa)
{
	if (__builtin_expect(__atomic_load_n(&fk_logging, __ATOMIC_RELAXED) != 0, 0))
		fk_dirty_page(pa);
}

static uint64_t rd(uint64_t va, unsigned n)
{
	uint64_t pa, v = 0;
	uint8_t *h;

	if (__builtin_expect((va & 0xfff) + n > 0x1000, 0)) {
		for (unsigned i = 0; i < n; i++)
			v |= rd(va + i, 1) << (8 * i);
		return v;
	}
	h = xlate(va, &pa, E.lk ? ACC_W : 0);
	if (h) {
		memcpy(&v, h, n);
		if (E.lk && !E.lk_ptr) {
			E.lk_ptr = h;
			E.lk_n = n;
			E.lk_val = v;
		}
		return v;
	}
	return nc_phys(pa, n, false, 0);
}

/* The write of a LOCKed read-modify-write: a compare-and-swap against what
 * the read saw; if another CPU wrote in between, the instruction runs again. */
static void wr_locked(uint8_t *h, unsigned n, uint64_t v)
{
	uint64_t old = E.lk_val;
	bool ok;

	switch (n) {
	case 1: { uint8_t o = (uint8_t)old; ok = __atomic_compare_exchange_n(h, &o, (uint8_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	case 2: { uint16_t o = (uint16_t)old; ok = __atomic_compare_exchange_n((uint16_t *)(void *)h, &o, (uint16_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	case 4: { uint32_t o = (uint32_t)old; ok = __atomic_compare_exchange_n((uint32_t *)(void *)h, &o, (uint32_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	default: ok = __atomic_compare_exchange_n((uint64_t *)(void *)h, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break;
	}
	E.lk_ptr = NULL;
	if (!ok)
		raise_exc(X_RETRY, false, 0);
}

static void wr(uint64_t va, unsigned n, uint64_t v)
{
	uint64_t pa;
	uint8_t *h;

	if (__builtin_expect((va & 0xfff) + n > 0x1000, 0)) {
		xlate(va + n - 1, &pa, ACC_W);	/* both pages present before any write */
		for (unsigned i = 0; i < n; i++)
			wr(va + i, 1, v >> (8 * i));
		return;
	}
	h = xlate(va, &pa, ACC_W);
	if (h) {
		if (E.lk && h == E.lk_ptr && n == E.lk_n)
			wr_locked(h, n, v);
		else
			memcpy(h, &v, n);
		dirty(pa);
		return;
	}
	nc_phys(pa, n, true, v);
}

/* ---- decoding ---- */

struct dec {
	const uint8_t *p, *start;
	unsigned osz, asz;
	int seg, dseg;
	uint8_t rex;
	bool rep, repne;
	uint8_t mod, reg, rm;	/* reg and rm with REX's extensions */
	bool mem, riprel;
	uint64_t ea;
};

static inline uint64_t mask(unsigned n)
{
	return n == 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
}

static inline uint64_t sext(uint64_t v, unsigned n)
{
	switch (n) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	}
	return v;
}

static inline uint64_t imm(struct dec *d, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, d->p, n);
	d->p += n;
	return v;
}

/* An immediate of the operand size, 64-bit ones sign-extended from 32. */
static inline uint64_t immz(struct dec *d)
{
	return d->osz == 8 ? sext(imm(d, 4), 4) : imm(d, d->osz);
}

static void modrm(struct dec *d)
{
	uint8_t m = *d->p++;
	uint64_t ea = 0;

	d->mod = m >> 6;
	d->reg = (uint8_t)(((m >> 3) & 7) | ((d->rex & 4) << 1));
	d->rm = m & 7;
	d->mem = d->mod != 3;
	d->riprel = false;
	d->dseg = DS;
	if (!d->mem) {
		d->rm |= (uint8_t)((d->rex & 1) << 3);
		return;
	}
	if (d->asz == 2) {
		static const int8_t b16[8] = { 3, 3, 5, 5, -1, -1, 5, 3 };
		static const int8_t i16[8] = { 6, 7, 6, 7, 6, 7, -1, -1 };

		if (d->mod == 0 && d->rm == 6) {
			ea = imm(d, 2);
		} else {
			if (b16[d->rm] >= 0)
				ea += (uint16_t)E.r[b16[d->rm]];
			if (i16[d->rm] >= 0)
				ea += (uint16_t)E.r[i16[d->rm]];
			if (d->rm == 2 || d->rm == 3 || d->rm == 6)
				d->dseg = SS;
		}
		if (d->mod == 1)
			ea += sext(imm(d, 1), 1);
		else if (d->mod == 2)
			ea += imm(d, 2);
		d->ea = ea & 0xffff;
		return;
	}
	if (d->rm == 4) {
		uint8_t s = *d->p++;
		unsigned idx = ((s >> 3) & 7) | ((d->rex & 2) << 2);
		unsigned base = (s & 7) | ((d->rex & 1) << 3);

		if (idx != 4)
			ea = E.r[idx] << (s >> 6);
		if ((s & 7) == 5 && d->mod == 0) {
			ea += sext(imm(d, 4), 4);
		} else {
			ea += E.r[base];
			if ((base & 7) == 4 || (base & 7) == 5)
				d->dseg = SS;
		}
	} else if (d->rm == 5 && d->mod == 0) {
		ea = sext(imm(d, 4), 4);
		d->riprel = E.lm;
	} else {
		ea = E.r[d->rm | ((d->rex & 1) << 3)];
		if (d->rm == 5)
			d->dseg = SS;
	}
	if (d->mod == 1)
		ea += sext(imm(d, 1), 1);
	else if (d->mod == 2)
		ea += sext(imm(d, 4), 4);
	d->ea = ea;
}

/* The operand's offset (LEA's result); every byte must be decoded by now. */
static inline uint64_t offset(const struct dec *d)
{
	uint64_t a = d->ea;

	if (d->riprel)
		a += E.rip + (uint64_t)(d->p - d->start);
	return d->asz == 8 ? a : a & mask(d->asz);
}

static inline uint64_t lin_of(const struct dec *d, uint64_t off, int dseg)
{
	int s = d->seg >= 0 ? d->seg : dseg;

	if (E.lm)
		return s == FS || s == GS ? off + E.seg_base[s] : off;
	return (uint32_t)(off + E.seg_base[s]);
}

static inline uint64_t lin(const struct dec *d)
{
	return lin_of(d, offset(d), d->dseg);
}

static inline uint64_t getr(const struct dec *d, unsigned r, unsigned n)
{
	if (n == 1 && !d->rex && r >= 4 && r < 8)
		return (E.r[r - 4] >> 8) & 0xff;
	return E.r[r] & mask(n);
}

static inline void setr(const struct dec *d, unsigned r, unsigned n, uint64_t v)
{
	switch (n) {
	case 1:
		if (!d->rex && r >= 4 && r < 8)
			E.r[r - 4] = (E.r[r - 4] & ~0xff00ULL) | (v & 0xff) << 8;
		else
			E.r[r] = (E.r[r] & ~0xffULL) | (v & 0xff);
		break;
	case 2: E.r[r] = (E.r[r] & ~0xffffULL) | (v & 0xffff); break;
	case 4: E.r[r] = (uint32_t)v; break;
	default: E.r[r] = v;
	}
}

static inline uint64_t rm_get(const struct dec *d, unsigned n)
{
	return d->mem ? rd(lin(d), n) : getr(d, d->rm, n);
}

static inline void rm_set(const struct dec *d, unsigned n, uint64_t v)
{
	if (d->mem)
		wr(lin(d), n, v);
	else
		setr(d, d->rm, n, v);
}

/* ---- the stack ---- */

/* The stack pointer's width: 64 bits in 64-bit mode, else SS.B's 32 or 16 */
static inline uint64_t sp_mask(uint64_t v)
{
	return E.lm ? v : E.ss32 ? (uint32_t)v : (uint16_t)v;
}

static inline void sp_set(uint64_t sp)
{
	uint64_t m = E.lm ? ~0ULL : E.ss32 ? 0xffffffffULL : 0xffffULL;

	E.r[4] = (E.r[4] & ~m) | (sp & m);
}

static void push(uint64_t v, unsigned n)
{
	uint64_t sp = sp_mask(E.r[4] - n);

	wr(lin_of(&(struct dec){ .seg = -1 }, sp, SS), n, v);
	sp_set(sp);
}

static uint64_t pop(unsigned n)
{
	uint64_t v = rd(lin_of(&(struct dec){ .seg = -1 }, sp_mask(E.r[4]), SS), n);

	sp_set(E.r[4] + n);
	return v;
}

/* ---- flags through the host's own instructions ---- */

#define PRE	"lea -128(%%rsp),%%rsp\n\tpush %1\n\tpopfq\n\t"
#define POST	"\n\tpushfq\n\tpop %1\n\tlea 128(%%rsp),%%rsp"

#define BYSIZE(CASE)							\
	switch (n) {							\
	case 1: CASE(uint8_t, "q"); break;				\
	case 2: CASE(uint16_t, "r"); break;				\
	case 4: CASE(uint32_t, "r"); break;				\
	default: CASE(uint64_t, "r"); break;				\
	}

static inline void setfl(uint64_t f)
{
	E.fl = (E.fl & ~F_ARITH) | (f & F_ARITH);
}

/* op: 0 add, 1 or, 2 adc, 3 sbb, 4 and, 5 sub, 6 xor, 7 cmp, 8 test */
static uint64_t alu(unsigned op, unsigned n, uint64_t a, uint64_t b)
{
	uint64_t f = E.fl & F_ARITH, r = a;

#define BIN(MN)								\
	do {								\
		_Pragma("GCC diagnostic push")				\
		_Pragma("GCC diagnostic ignored \"-Wconversion\"")	\
		BYSIZE(BIN1_##MN)					\
		_Pragma("GCC diagnostic pop")				\
	} while (0)
#define BINX(T, C, MN) { T x = (T)a, y = (T)b;				\
		__asm__(PRE MN " %2,%0" POST : "+" C(x), "+r"(f) : C(y) : "cc", "memory"); r = x; }
#define BIN1_add(T, C) BINX(T, C, "add")
#define BIN1_or(T, C) BINX(T, C, "or")
#define BIN1_adc(T, C) BINX(T, C, "adc")
#define BIN1_sbb(T, C) BINX(T, C, "sbb")
#define BIN1_and(T, C) BINX(T, C, "and")
#define BIN1_sub(T, C) BINX(T, C, "sub")
#define BIN1_xor(T, C) BINX(T, C, "xor")
	switch (op) {
	case 0: BIN(add); break;
	case 1: BIN(or); break;
	case 2: BIN(adc); break;
	case 3: BIN(sbb); break;
	case 4: case 8: BIN(and); break;
	case 5: case 7: BIN(sub); break;
	case 6: BIN(xor); break;
	}
	setfl(f);
	return op >= 7 ? a : r;
}

/* op: 0 rol 1 ror 2 rcl 3 rcr 4 shl 5 shr 6 shl 7 sar */
static uint64_t shift(unsigned op, unsigned n, uint64_t a, uint8_t c)
{
	uint64_t f = E.fl & F_ARITH, r = a;

#define SHX(T, C, MN) { T x = (T)a;					\
		__asm__(PRE MN " %%cl,%0" POST : "+" C(x), "+r"(f) : "c"(c) : "cc", "memory"); r = x; }
#define SH1_rol(T, C) SHX(T, C, "rol")
#define SH1_ror(T, C) SHX(T, C, "ror")
#define SH1_rcl(T, C) SHX(T, C, "rcl")
#define SH1_rcr(T, C) SHX(T, C, "rcr")
#define SH1_shl(T, C) SHX(T, C, "shl")
#define SH1_shr(T, C) SHX(T, C, "shr")
#define SH1_sar(T, C) SHX(T, C, "sar")
#define SH(MN) BYSIZE(SH1_##MN)
	switch (op) {
	case 0: SH(rol); break;
	case 1: SH(ror); break;
	case 2: SH(rcl); break;
	case 3: SH(rcr); break;
	case 4: case 6: SH(shl); break;
	case 5: SH(shr); break;
	case 7: SH(sar); break;
	}
	setfl(f);
	return r;
}

/* SHLD (left) / SHRD of a by c, filling from b. */
static uint64_t dshift(bool left, unsigned n, uint64_t a, uint64_t b, uint8_t c)
{
	uint64_t f = E.fl & F_ARITH, r = a;

#define DSX(T, C, MN) { T x = (T)a, y = (T)b;				\
		__asm__(PRE MN " %%cl,%2,%0" POST : "+r"(x), "+r"(f) : "r"(y), "c"(c) : "cc", "memory"); r = x; }
#define DS1_shld(T, C) DSX(T, C, "shld")
#define DS1_shrd(T, C) DSX(T, C, "shrd")
	if (n == 1)
		return a;
	if (left) {
		BYSIZE(DS1_shld)
	} else {
		BYSIZE(DS1_shrd)
	}
	setfl(f);
	return r;
}

/* op: 0 inc 1 dec 2 neg */
static uint64_t unary(unsigned op, unsigned n, uint64_t a)
{
	uint64_t f = E.fl & F_ARITH, r = a;

#define UNX(T, C, MN) { T x = (T)a;					\
		__asm__(PRE MN " %0" POST : "+" C(x), "+r"(f) :: "cc", "memory"); r = x; }
#define UN1_inc(T, C) UNX(T, C, "inc")
#define UN1_dec(T, C) UNX(T, C, "dec")
#define UN1_neg(T, C) UNX(T, C, "neg")
	switch (op) {
	case 0: BYSIZE(UN1_inc) break;
	case 1: BYSIZE(UN1_dec) break;
	default: BYSIZE(UN1_neg) break;
	}
	setfl(f);
	return r;
}

static bool cond(unsigned cc)
{
	uint64_t f = E.fl;
	bool r;

	switch ((cc >> 1) & 7) {
	case 0: r = f & F_OF; break;
	case 1: r = f & F_CF; break;
	case 2: r = f & F_ZF; break;
	case 3: r = f & (F_CF | F_ZF); break;
	case 4: r = f & F_SF; break;
	case 5: r = f & F_PF; break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default: r = (f & F_ZF) || !(f & F_SF) != !(f & F_OF); break;
	}
	return r ^ (cc & 1);
}

/* ---- segments, descriptors, control registers ---- */

/* A system-table read (GDT, IDT, TSS): a supervisor access at any CPL. */
static uint64_t rd_sys(uint64_t va)
{
	unsigned cpl = E.cpl;
	uint64_t v;

	E.cpl = 0;
	v = rd(va, 8);
	E.cpl = cpl;
	return v;
}

static uint64_t desc(uint16_t sel)
{
	if ((uint32_t)(sel | 7) > nc.gdt_limit)
		raise_exc(X_GP, true, sel & ~3u);
	return rd_sys(nc.gdt_base + (sel & ~7u));
}

static uint64_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
}

static void set_cs(uint16_t sel)
{
	uint64_t d;

	if (!(nc.cr0 & CR0_PE)) {	/* real mode */
		E.sel[CS] = sel;
		E.seg_base[CS] = (uint64_t)sel << 4;
		E.cpl = 0;
		E.lm = E.d32 = false;
		nc.cs = sel;
		return;
	}
	d = desc(sel);

	E.sel[CS] = sel;
	E.cpl = sel & 3;
	E.lm = (nc.efer & EFER_LMA) && ((d >> 53) & 1);
	E.d32 = (d >> 54) & 1;
	E.seg_base[CS] = E.lm ? 0 : desc_base(d);
	nc.cs = sel;
}

static void set_seg(unsigned s, uint16_t sel)
{
	if (s == CS) {
		set_cs(sel);
		return;
	}
	E.sel[s] = sel;
	if (s == SS)
		nc.ss = sel;
	if (!(nc.cr0 & CR0_PE)) {	/* real mode */
		E.seg_base[s] = (uint64_t)sel << 4;
		if (s == SS)
			E.ss32 = false;
		return;
	}
	if (!(sel & ~3u)) {
		if (!E.lm && s == SS)
			GP0();
		if (!E.lm || s == FS || s == GS)
			E.seg_base[s] = 0;
		return;
	}
	if (E.lm && s != FS && s != GS) {
		E.seg_base[s] = 0;
		return;
	}
	{
		uint64_t d = desc(sel);

		E.seg_base[s] = desc_base(d);
		if (s == SS)
			E.ss32 = (d >> 54) & 1;
	}
}

static void update_lma(void)
{
	bool lma = (nc.cr0 & CR0_PG) && (nc.efer & EFER_LME);

	nc.efer = lma ? nc.efer | EFER_LMA : nc.efer & ~EFER_LMA;
	if (lma && !(nc.cr4 & 0x20))
		GP0();
}

static void set_cr(unsigned cr, uint64_t v)
{
	switch (cr) {
	case 0:
		v |= 0x10;		/* ET */
		nc.cr0 = v;
		update_lma();
		tlb_flush();
		break;
	case 2: nc.cr2 = v; break;
	case 3: nc.cr3 = v; tlb_flush(); break;
	case 4: nc.cr4 = v; tlb_flush(); break;
	case 8: nc.tpr = (uint32_t)(v & 15) << 4; break;
	default: UD();
	}
}

static uint64_t get_cr(unsigned cr)
{
	switch (cr) {
	case 0: return nc.cr0;
	case 2: return nc.cr2;
	case 3: return nc.cr3;
	case 4: return nc.cr4;
	case 8: return nc.tpr >> 4;
	}
	UD();
}

/* ---- MSRs, CPUID, kvmclock ---- */

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void measure_tsc(void)
{
	uint64_t t0 = tsc(), n0 = nc_now_ns(), t1, n1;
	struct timespec ts = { 0, 20000000 };

	nanosleep(&ts, NULL);
	t1 = tsc(), n1 = nc_now_ns();
	tsc_hz = (t1 - t0) * 1000000000ULL / (n1 - n0 ? n1 - n0 : 1);
	if (!tsc_hz)
		tsc_hz = 1000000000ULL;
	start_ns = n0;
	nc_tsc_hz = tsc_hz;
}

/* kvmclock's time: the VM's KVM clock (KVM_GET/SET_CLOCK: irq.c), so it
 * goes on across a migration or a restore. */
static uint64_t kvm_clock_ns(void)
{
	struct kvm_clock_data c;

	pthread_mutex_lock(&fk.lock);
	fk_clock(KVM_GET_CLOCK, &c);
	pthread_mutex_unlock(&fk.lock);
	return c.clock;
}

/* pvclock_vcpu_time_info (KVM's msr.rst): the time at tsc_timestamp and
 * the scale from TSC ticks to ns: ns = ((delta << shift) * mul) >> 32. */
static void kvmclock_fill(uint64_t msr)
{
	uint8_t pv[32] = { 0 };
	uint64_t t = tsc(), ns = kvm_clock_ns(), hz = tsc_hz;
	int shift = 0;
	uint32_t mul, ver = 2;

	if (!(msr & 1))
		return;
	while (hz > 2000000000ULL)	/* mul < 2^32: the ns per tick below 1 */
		hz >>= 1, shift--;
	while (hz < 1000000000ULL)
		hz <<= 1, shift++;
	mul = (uint32_t)((1000000000ULL << 32) / hz);
	memcpy(pv, &ver, 4);
	memcpy(pv + 8, &t, 8);
	memcpy(pv + 16, &ns, 8);
	memcpy(pv + 24, &mul, 4);
	pv[28] = (uint8_t)(int8_t)shift;
	pv[29] = 1;			/* PVCLOCK_TSC_STABLE_BIT */
	if (!nc_write(msr & ~1ULL, pv, sizeof(pv)))
		fprintf(stderr, "kvmfake: emulated CPU: kvmclock area 0x%llx is not RAM\n",
			(unsigned long long)msr);
	else if (fk_logging)
		fk_dirty_page(msr & ~0xfffULL);
}

static void wallclock_fill(uint64_t gpa)
{
	struct timespec rt;
	uint64_t boot_ns;
	uint32_t w[3];

	clock_gettime(CLOCK_REALTIME, &rt);
	boot_ns = (uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec - kvm_clock_ns();
	w[0] = 2;
	w[1] = (uint32_t)(boot_ns / 1000000000ULL);
	w[2] = (uint32_t)(boot_ns % 1000000000ULL);
	if (nc_write(gpa, w, sizeof(w)) && fk_logging)
		fk_dirty_page(gpa & ~0xfffULL);
}

static uint64_t rdmsr(uint32_t i)
{
	switch (i) {
	case 0xc0000100: return E.seg_base[FS];
	case 0xc0000101: return E.seg_base[GS];
	case 0xc0000102: return E.kgs_base;
	case 0xc0000103: return E.tsc_aux;
	case 0x10: return tsc();
	case 0x11: case 0x4b564d00: return E.wall_msr;
	case 0x12: case 0x4b564d01: return E.systime_msr;
	}
	return nc_rdmsr(i);
}

static void wrmsr(uint32_t i, uint64_t v)
{
	switch (i) {
	case 0xc0000080:
		nc.efer = (v & ~EFER_LMA) | (nc.efer & EFER_LMA);
		return;
	case 0xc0000100: E.seg_base[FS] = v; return;
	case 0xc0000101: E.seg_base[GS] = v; return;
	case 0xc0000102: E.kgs_base = v; return;
	case 0xc0000103: E.tsc_aux = (uint32_t)v; return;
	case 0x11: case 0x4b564d00:
		E.wall_msr = v;
		wallclock_fill(v);
		return;
	case 0x12: case 0x4b564d01:
		E.systime_msr = v;
		kvmclock_fill(v);
		return;
	}
	nc_wrmsr(i, v);
}

static void cpuid(void)
{
	uint32_t o[4] = { 0 };
	uint32_t leaf = (uint32_t)E.r[0], sub = (uint32_t)E.r[1];

	fk_cpuid(nc.cpu, leaf, sub, o);	/* this vCPU's: APIC ids differ */
	if (leaf == 1)
		o[2] = (o[2] & ~(1u << 27)) | (nc.cr4 & 0x40000 ? 1u << 27 : 0);
	E.r[0] = o[0], E.r[3] = o[1], E.r[1] = o[2], E.r[2] = o[3];
}

/* Leave in kite's CPUID only what this interpreter does. */
void fk_emu_cpuid(struct kvm_cpuid_entry2 *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		switch (e[i].function) {
		case 1:
			/* EDX: FPU TSC MSR PAE? PSE CX8 APIC SEP PGE CMOV PAT
			 * PSE36 CLFSH MMX FXSR SSE SSE2 HTT; no VME DE MCE MTRR MCA */
			e[i].edx &= 0x178bab79u;
			e[i].ecx &= (1u << 13) | (1u << 31);	/* CX16, hypervisor */
			break;
		case 6: case 7: case 0xa: case 0xd: case 0x14:
		case 0x8000001f: case 0x80000020: case 0x80000021:
			e[i].eax = e[i].ebx = e[i].ecx = e[i].edx = 0;
			break;
		case 0x80000001:
			/* SYSCALL NX PDPE1GB RDTSCP LM; LAHF */
			e[i].edx &= (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
			e[i].ecx &= 1u;
			break;
		case 0x80000007:
			e[i].edx &= 1u << 8;		/* invariant TSC */
			e[i].eax = e[i].ebx = e[i].ecx = 0;
			break;
		case 0x80000008:
			e[i].ebx = 0;
			break;
		case 0x8000000a:
			e[i].eax = e[i].ebx = e[i].ecx = e[i].edx = 0;
			break;
		}
	}
}

/* ---- exceptions and interrupts (64-bit IDT, SDM vol. 3, 6.14) ---- */

static uint64_t tss_base(void)
{
	return E.tr_base;
}

static void ltr(uint16_t sel)
{
	uint64_t lo = desc(sel), hi = E.lm ? rd_sys(nc.gdt_base + (sel & ~7u) + 8) : 0;
	uint32_t lim = (uint32_t)((lo & 0xffff) | ((lo >> 32) & 0xf0000));

	nc.tr = sel;
	E.tr_base = desc_base(lo) | (hi & 0xffffffff) << 32;
	E.tr_limit = (lo >> 55) & 1 ? lim << 12 | 0xfff : lim;
}

static void deliver(unsigned vec, bool has_err, uint64_t err, bool soft, uint64_t ret)
{
	uint64_t lo, hi, target, rsp, old_rsp = E.r[4], fl = E.fl;
	unsigned type, dpl, ist, cpl = E.cpl;
	uint16_t sel, old_ss = E.sel[SS], old_cs = E.sel[CS];

	if (!E.lm)
		shut("exception %u outside 64-bit mode (not emulated)", vec);
	if ((uint32_t)vec * 16 + 15 > nc.idt_limit)
		raise_exc(X_GP, true, vec * 8 + 2);
	lo = rd_sys(nc.idt_base + vec * 16);
	hi = rd_sys(nc.idt_base + vec * 16 + 8);
	type = (lo >> 40) & 0xf;
	dpl = (lo >> 45) & 3;
	ist = (lo >> 32) & 7;
	if (!((lo >> 47) & 1) || (type != 0xe && type != 0xf))
		raise_exc(X_GP, true, vec * 8 + 2);
	if (soft && dpl < cpl)
		raise_exc(X_GP, true, vec * 8 + 2);
	sel = (uint16_t)(lo >> 16);
	target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ULL) | (hi & 0xffffffff) << 32;
	if (ist)
		rsp = rd_sys(tss_base() + 36 + 8 * (ist - 1));
	else if (cpl)
		rsp = rd_sys(tss_base() + 4);
	else
		rsp = old_rsp;
	rsp &= ~15ULL;
	E.r[4] = rsp;
	E.cpl = 0;		/* the pushes go to the handler's (supervisor) stack */
	push(old_ss, 8);
	push(old_rsp, 8);
	push(fl, 8);
	push(old_cs, 8);
	push(ret, 8);
	if (has_err)
		push(err, 8);
	set_cs(sel);
	if (cpl != E.cpl) {
		E.sel[SS] = (uint16_t)E.cpl;
		nc.ss = E.sel[SS];
	}
	E.fl &= ~(F_TF | 0x4000ULL | 0x10000ULL);	/* TF NT RF */
	if (type == 0xe)
		E.fl &= ~F_IF;
	E.rip = target;
}

static void iret(unsigned n)
{
	uint64_t rip = pop(n), cs = pop(n), fl = pop(n), rsp, ss;
	unsigned old_cpl = E.cpl;

	if (!E.lm)
		shut("IRET outside 64-bit mode (not emulated)");
	rsp = pop(n);
	ss = pop(n);
	set_cs((uint16_t)cs);
	if (n == 2)
		fl = (E.fl & ~0xffffULL) | (fl & 0xffff);
	E.fl = (E.fl & ~F_POPF) | (fl & F_POPF) | 2;
	if (old_cpl && E.cpl < old_cpl)
		GP0();
	E.r[4] = rsp;
	E.sel[SS] = (uint16_t)ss;
	nc.ss = E.sel[SS];
	E.rip = E.lm ? rip : (uint32_t)rip;
}

/* ---- string instructions ---- */

static inline uint64_t areg(const struct dec *d, unsigned r)
{
	return E.r[r] & mask(d->asz);
}

static inline void areg_add(const struct dec *d, unsigned r, int64_t by)
{
	if (d->asz == 8)
		E.r[r] += (uint64_t)by;
	else if (d->asz == 4)
		E.r[r] = (uint32_t)(E.r[r] + (uint64_t)by);
	else
		E.r[r] = (E.r[r] & ~0xffffULL) | ((E.r[r] + (uint64_t)by) & 0xffff);
}

/* A run of REP MOVS/STOS within one RAM page each, forwards: done by the
 * host in one go. Returns the elements done (0: take the slow path). */
static uint64_t string_fast(const struct dec *d, bool movs, unsigned n)
{
	uint64_t cnt = areg(d, 1), dst = lin_of(d, areg(d, 7), ES), src, pa, k;
	uint8_t *hd, *hs = NULL;

	if (E.fl & F_DF || !cnt)
		return 0;
	hd = xlate(dst, &pa, ACC_W);
	if (!hd)
		return 0;
	dirty(pa);
	k = (0x1000 - (dst & 0xfff)) / n;
	if (movs) {
		src = lin_of(d, areg(d, 6), DS);
		hs = xlate(src, &pa, 0);
		if (!hs)
			return 0;
		if ((0x1000 - (src & 0xfff)) / n < k)
			k = (0x1000 - (src & 0xfff)) / n;
	}
	if (k > cnt)
		k = cnt;
	if (!k)
		return 0;
	if (movs) {
		memmove(hd, hs, k * n);
		areg_add(d, 6, (int64_t)(k * n));
	} else if (n == 1) {
		memset(hd, (int)(E.r[0] & 0xff), k);
	} else {
		for (uint64_t i = 0; i < k; i++)
			memcpy(hd + i * n, &E.r[0], n);
	}
	areg_add(d, 7, (int64_t)(k * n));
	areg_add(d, 1, -(int64_t)k);
	return k;
}

/* One string instruction; with REP, up to 64 Ki elements (or fast-path
 * pages) at a time: false if it is not done yet, and RIP stays on it, so
 * the vCPU can stop and take interrupts in between, as on hardware. */
static bool string_op(const struct dec *d, uint8_t op)
{
	unsigned n = (op & 1) ? d->osz : 1;
	int64_t step = (E.fl & F_DF) ? -(int64_t)n : (int64_t)n;
	bool rep = d->rep || d->repne;
	bool cmp = op == 0xa6 || op == 0xa7 || op == 0xae || op == 0xaf;

	for (unsigned budget = 65536;; budget--) {
		uint64_t a, b;

		if (rep && !areg(d, 1))
			return true;
		if (!budget)
			return false;
		if (rep && !cmp && (op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab) &&
		    string_fast(d, op < 0xa8, n))
			continue;
		switch (op) {
		case 0xa4: case 0xa5:		/* MOVS */
			wr(lin_of(d, areg(d, 7), ES), n, rd(lin_of(d, areg(d, 6), DS), n));
			areg_add(d, 6, step);
			areg_add(d, 7, step);
			break;
		case 0xa6: case 0xa7:		/* CMPS */
			a = rd(lin_of(d, areg(d, 6), DS), n);
			b = rd(lin_of(d, areg(d, 7), ES), n);
			alu(7, n, a, b);
			areg_add(d, 6, step);
			areg_add(d, 7, step);
			break;
		case 0xaa: case 0xab:		/* STOS */
			wr(lin_of(d, areg(d, 7), ES), n, E.r[0]);
			areg_add(d, 7, step);
			break;
		case 0xac: case 0xad:		/* LODS */
			setr(d, 0, n, rd(lin_of(d, areg(d, 6), DS), n));
			areg_add(d, 6, step);
			break;
		default:			/* SCAS */
			b = rd(lin_of(d, areg(d, 7), ES), n);
			alu(7, n, E.r[0] & mask(n), b);
			areg_add(d, 7, step);
			break;
		}
		if (!rep)
			return true;
		areg_add(d, 1, -1);
		if (cmp && (d->rep ? !(E.fl & F_ZF) : (E.fl & F_ZF)))
			return true;
	}
}

/* ---- multiply and divide ---- */

static void mul_div(const struct dec *d, unsigned sub, unsigned n)
{
	uint64_t s = rm_get(d, n), m = mask(n);
	unsigned bits = 8 * n;

	if (sub == 4 || sub == 5) {		/* MUL, IMUL: rDX:rAX = rAX * src */
		unsigned __int128 p;
		bool over;

		if (sub == 4) {
			p = (unsigned __int128)(E.r[0] & m) * s;
			over = (p >> bits) != 0;
		} else {
			__int128 sp = (__int128)(int64_t)sext(E.r[0], n) * (int64_t)sext(s, n);

			p = (unsigned __int128)sp;
			over = sp != (__int128)(int64_t)sext((uint64_t)sp, n);
		}
		if (n == 1) {
			setr(d, 0, 2, (uint64_t)p & 0xffff);
		} else {
			setr(d, 0, n, (uint64_t)p & m);
			setr(d, 2, n, (uint64_t)(p >> bits) & m);
		}
		E.fl = over ? E.fl | F_CF | F_OF : E.fl & ~(F_CF | F_OF);
		return;
	}
	/* DIV, IDIV: rDX:rAX / src */
	{
		unsigned __int128 num;

		if (!s)
			raise_exc(X_DE, false, 0);
		if (n == 1)
			num = E.r[0] & 0xffff;
		else
			num = (unsigned __int128)(E.r[2] & m) << bits | (E.r[0] & m);
		if (sub == 6) {
			unsigned __int128 q = num / s, r = num % s;

			if (q >> bits)
				raise_exc(X_DE, false, 0);
			if (n == 1) {
				setr(d, 0, 2, (uint64_t)(r << 8 | q));
			} else {
				setr(d, 0, n, (uint64_t)q);
				setr(d, 2, n, (uint64_t)r);
			}
		} else {
			__int128 sn, sd = (int64_t)sext(s, n), q, r;

			if (n == 8)
				sn = (__int128)num;
			else if (n == 1)
				sn = (int16_t)num;
			else
				sn = (__int128)(int64_t)sext((uint64_t)num, 2 * n);
			q = sn / sd;
			r = sn % sd;
			if (q != (__int128)(int64_t)sext((uint64_t)q, n))
				raise_exc(X_DE, false, 0);
			if (n == 1) {
				setr(d, 0, 2, ((uint64_t)r & 0xff) << 8 | ((uint64_t)q & 0xff));
			} else {
				setr(d, 0, n, (uint64_t)q & m);
				setr(d, 2, n, (uint64_t)r & m);
			}
		}
	}
}

static uint64_t imul2(unsigned n, uint64_t a, uint64_t b)
{
	__int128 p = (__int128)(int64_t)sext(a, n) * (int64_t)sext(b, n);
	bool over = p != (__int128)(int64_t)sext((uint64_t)p, n);

	E.fl = over ? E.fl | F_CF | F_OF : E.fl & ~(F_CF | F_OF);
	return (uint64_t)p & mask(n);
}

/* ---- bit tests ---- */

/* BT/BTS/BTR/BTC (op 0-3) of bit off in the operand (a register, or the
 * memory at its address plus the offset's whole units). */
static void bit_op(const struct dec *d, unsigned op, uint64_t off, bool off_is_reg)
{
	unsigned n = d->osz, bits = 8 * n;
	uint64_t v, a = 0;
	unsigned bit;

	if (d->mem) {
		a = lin(d);
		if (off_is_reg)
			a += (uint64_t)((int64_t)sext(off, n) >> (n == 8 ? 6 : n == 4 ? 5 : 4)) * n;
		v = rd(a, n);
	} else {
		v = getr(d, d->rm, n);
	}
	bit = (unsigned)(off & (bits - 1));
	E.fl = (v >> bit) & 1 ? E.fl | F_CF : E.fl & ~F_CF;
	switch (op) {
	case 0: return;
	case 1: v |= 1ULL << bit; break;
	case 2: v &= ~(1ULL << bit); break;
	default: v ^= 1ULL << bit; break;
	}
	if (d->mem)
		wr(a, n, v);
	else
		setr(d, d->rm, n, v);
}

/* ---- HLT ---- */

/* Until an interrupt can be taken, or 10 ms at most with IF set (HLT may
 * end early on hardware too; a guest polling its clock goes on). */
static void halt(void)
{
	uint64_t now, until;
	struct timespec ts;

	E.halts++;
	pthread_mutex_lock(&fk.lock);
	nc_stop_running();
	now = nc_now_ns();
	until = now + 10000000;
	for (;;) {
		nc_timer_poll(now);
		if (fk.dead || ((E.fl & F_IF) && nc_next_vector() >= 0))
			break;
		if ((E.fl & F_IF) && now >= until)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t wait = until > now ? until - now : 1000000;

			if (nc.timer_at_ns && nc.timer_at_ns > now && nc.timer_at_ns - now < wait)
				wait = nc.timer_at_ns - now;
			ts.tv_sec += (time_t)(wait / 1000000000ULL);
			ts.tv_nsec += (long)(wait % 1000000000ULL);
			if (ts.tv_nsec >= 1000000000L)
				ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
		now = nc_now_ns();
	}
	nc_start_running();
	pthread_mutex_unlock(&fk.lock);
}

/* ---- one instruction ---- */

static void port_in(unsigned port, unsigned n, unsigned reg, const struct dec *d)
{
	setr(d, reg, n == 4 ? 4 : n, nc_port((uint16_t)port, n, false, 0));
}

static void complain_insn(const struct dec *d)
{
	fprintf(stderr, "kvmfake: emulated CPU: unknown instruction at 0x%llx:",
		(unsigned long long)E.rip);
	for (unsigned i = 0; i < 12; i++)
		fprintf(stderr, " %02x", d->start[i]);
	fprintf(stderr, "\n");
}

static void x87(const struct dec *d, uint8_t op)
{
	if (nc.cr0 & (CR0_TS | 4))
		raise_exc(X_NM, false, 0);
	if (op == 0xdb && !d->mem && (d->rm & 7) == 3 && d->reg % 8 == 4) {	/* FNINIT */
		E.fcw = 0x37f, E.fsw = 0;
		return;
	}
	if (op == 0xdb && !d->mem && (d->rm & 7) == 2 && d->reg % 8 == 4) {	/* FNCLEX */
		E.fsw &= 0x7f00;
		return;
	}
	if (op == 0xdf && !d->mem && d->reg % 8 == 4 && (d->rm & 7) == 0) {	/* FNSTSW AX */
		setr(d, 0, 2, E.fsw);
		return;
	}
	if (d->mem && op == 0xd9 && d->reg % 8 == 7) {	/* FNSTCW */
		wr(lin(d), 2, E.fcw);
		return;
	}
	if (d->mem && op == 0xd9 && d->reg % 8 == 5) {	/* FLDCW */
		E.fcw = (uint16_t)rd(lin(d), 2);
		return;
	}
	if (d->mem && op == 0xdb && d->reg % 8 == 0) {	/* FILD m32 (the AMD FXSAVE-leak fix) */
		rd(lin(d), 4);
		return;
	}
	if (op == 0xdd && !d->mem && d->reg % 8 == 3) {	/* FSTP st(i): the x87 stack is not kept */
		return;
	}
	if (d->mem && op == 0xdd && d->reg % 8 == 7) {	/* FNSTSW m16 */
		wr(lin(d), 2, E.fsw);
		return;
	}
	complain_insn(d);
	UD();
}

/* 0F AE: FXSAVE FXRSTOR LDMXCSR STMXCSR, fences, CLFLUSH */
static void grp15(const struct dec *d)
{
	uint64_t a;

	if (!d->mem)
		return;			/* LFENCE MFENCE SFENCE */
	a = lin(d);
	switch (d->reg & 7) {
	case 0:				/* FXSAVE: the init image */
		for (unsigned i = 0; i < 512; i += 8)
			wr(a + i, 8, 0);
		wr(a, 2, E.fcw);
		wr(a + 2, 2, E.fsw);
		wr(a + 24, 4, E.mxcsr);
		wr(a + 28, 4, 0xffff);
		return;
	case 1:
		E.fcw = (uint16_t)rd(a, 2);
		E.mxcsr = (uint32_t)rd(a + 24, 4);
		return;
	case 2: E.mxcsr = (uint32_t)rd(a, 4); return;
	case 3: wr(a, 4, E.mxcsr); return;
	case 7: return;			/* CLFLUSH */
	}
	complain_insn(d);
	UD();
}

static void grp7(struct dec *d)
{
	uint64_t a;

	if (!d->mem) {
		uint8_t b = (uint8_t)(0xc0 | (d->reg & 7) << 3 | (d->rm & 7));

		switch (b) {
		case 0xf8:		/* SWAPGS */
			if (!E.lm)
				UD();
			a = E.seg_base[GS];
			E.seg_base[GS] = E.kgs_base;
			E.kgs_base = a;
			return;
		case 0xf9:		/* RDTSCP */
			a = tsc();
			E.r[0] = (uint32_t)a, E.r[2] = a >> 32, E.r[1] = E.tsc_aux;
			return;
		case 0xca: case 0xcb:	/* CLAC STAC */
			E.fl = b == 0xcb ? E.fl | 0x40000 : E.fl & ~0x40000ULL;
			return;
		}
		complain_insn(d);
		UD();
	}
	switch (d->reg & 7) {
	case 0: case 1:			/* SGDT SIDT */
		a = lin(d);
		wr(a, 2, (d->reg & 7) ? nc.idt_limit : nc.gdt_limit);
		wr(a + 2, E.lm ? 8 : 4, (d->reg & 7) ? nc.idt_base : nc.gdt_base);
		return;
	case 2: case 3:			/* LGDT LIDT */
		a = lin(d);
		if (E.cpl)
			GP0();
		{
			uint16_t lim = (uint16_t)rd(a, 2);
			uint64_t base = rd(a + 2, E.lm ? 8 : 4);

			if (!E.lm && d->osz == 2)
				base &= 0xffffff;
			if (d->reg & 1)
				nc.idt_base = base, nc.idt_limit = lim;
			else
				nc.gdt_base = base, nc.gdt_limit = lim;
		}
		return;
	case 4:				/* SMSW */
		rm_set(d, d->mem ? 2 : d->osz, nc.cr0);
		return;
	case 6:				/* LMSW */
		set_cr(0, (nc.cr0 & ~0xeULL) | (rm_get(d, 2) & 0xf));
		return;
	case 7:				/* INVLPG */
		lin(d);
		tlb_flush();
		return;
	}
	complain_insn(d);
	UD();
}

static void grp6(const struct dec *d)
{
	switch (d->reg & 7) {
	case 0: rm_set(d, d->mem ? 2 : d->osz, 0); return;	/* SLDT */
	case 1: rm_set(d, d->mem ? 2 : d->osz, nc.tr); return;	/* STR */
	case 2: rm_get(d, 2); return;				/* LLDT */
	case 3: ltr((uint16_t)rm_get(d, 2)); return;		/* LTR */
	}
	complain_insn(d);
	UD();
}

static void far_jump(uint16_t sel, uint64_t off)
{
	set_cs(sel);
	E.rip = E.lm ? off : E.d32 ? (uint32_t)off : (uint16_t)off;
}

static bool twobyte(struct dec *d, uint64_t *next, bool *jumped)
{
	uint8_t op = *d->p++;
	unsigned n = d->osz;
	uint64_t a, b;

	switch (op) {
	case 0x00: modrm(d); grp6(d); break;
	case 0x01: modrm(d); grp7(d); break;
	case 0x05:						/* SYSCALL */
		if (!E.lm || !(nc.efer & 1))
			UD();
		a = nc_rdmsr(0xc0000081);			/* STAR */
		E.r[1] = E.rip + (uint64_t)(d->p - d->start);
		E.r[11] = E.fl & ~0x10000ULL;
		E.fl &= ~nc_rdmsr(0xc0000084) & ~0x10000ULL;	/* FMASK, RF */
		E.fl |= 2;
		E.sel[CS] = (uint16_t)((a >> 32) & 0xfffc);
		E.sel[SS] = (uint16_t)(E.sel[CS] + 8);
		nc.cs = E.sel[CS], nc.ss = E.sel[SS];
		E.cpl = 0;
		*next = nc_rdmsr(0xc0000082);			/* LSTAR */
		*jumped = true;
		break;
	case 0x07:						/* SYSRET (64-bit only) */
		if (!E.lm || !(nc.efer & 1) || n != 8)
			UD();
		if (E.cpl)
			GP0();
		a = nc_rdmsr(0xc0000081);
		E.sel[CS] = (uint16_t)(((a >> 48) + 16) | 3);
		E.sel[SS] = (uint16_t)(((a >> 48) + 8) | 3);
		nc.cs = E.sel[CS], nc.ss = E.sel[SS];
		E.cpl = 3;
		E.fl = (E.r[11] & 0x3c7fd7ULL) | 2;
		*next = E.r[1];
		*jumped = true;
		break;
	case 0x77: break;					/* EMMS */
	case 0x06: nc.cr0 &= ~CR0_TS; break;			/* CLTS */
	case 0x08: case 0x09: break;				/* INVD WBINVD */
	case 0x0b: UD();					/* UD2 */
	case 0x0d: case 0x18: case 0x19: case 0x1a: case 0x1b:
	case 0x1c: case 0x1d: case 0x1e: case 0x1f:		/* prefetch, hints, NOP Ev */
		modrm(d);
		break;
	case 0x20: case 0x22:					/* MOV cr */
		modrm(d);
		if (E.cpl)
			GP0();
		if (op == 0x20)
			setr(d, d->rm, E.lm ? 8 : 4, get_cr(d->reg));
		else
			set_cr(d->reg, getr(d, d->rm, E.lm ? 8 : 4));
		break;
	case 0x21: case 0x23:					/* MOV dr */
		modrm(d);
		if (op == 0x21)
			setr(d, d->rm, E.lm ? 8 : 4, E.dr[d->reg & 7]);
		else
			E.dr[d->reg & 7] = getr(d, d->rm, E.lm ? 8 : 4);
		break;
	case 0x30:						/* WRMSR */
		if (E.cpl)
			GP0();
		wrmsr((uint32_t)E.r[1], (E.r[2] << 32) | (uint32_t)E.r[0]);
		break;
	case 0x31:						/* RDTSC */
		a = tsc();
		E.r[0] = (uint32_t)a, E.r[2] = a >> 32;
		break;
	case 0x32:						/* RDMSR */
		if (E.cpl)
			GP0();
		a = rdmsr((uint32_t)E.r[1]);
		E.r[0] = (uint32_t)a, E.r[2] = a >> 32;
		break;
	case 0xa2: cpuid(); break;
	case 0x40 ... 0x4f:					/* CMOVcc */
		modrm(d);
		a = rm_get(d, n);
		if (cond(op & 15))
			setr(d, d->reg, n, a);
		else if (n == 4)
			setr(d, d->reg, 4, getr(d, d->reg, 4));
		break;
	case 0x80 ... 0x8f:					/* Jcc rel16/32 */
		a = !E.lm && n == 2 ? sext(imm(d, 2), 2) : sext(imm(d, 4), 4);
		if (cond(op & 15)) {
			*next = E.rip + (uint64_t)(d->p - d->start) + a;
			*jumped = true;
		}
		break;
	case 0x90 ... 0x9f:					/* SETcc */
		modrm(d);
		rm_set(d, 1, cond(op & 15));
		break;
	case 0xa0: case 0xa8:					/* PUSH FS/GS */
		push(E.sel[op == 0xa0 ? FS : GS], E.lm ? (n == 2 ? 2 : 8) : n);
		break;
	case 0xa1: case 0xa9:					/* POP FS/GS */
		set_seg(op == 0xa1 ? FS : GS, (uint16_t)pop(E.lm ? (n == 2 ? 2 : 8) : n));
		break;
	case 0xa3: case 0xab: case 0xb3: case 0xbb:		/* BT BTS BTR BTC */
		modrm(d);
		bit_op(d, (op >> 3) & 3, getr(d, d->reg, n), true);
		break;
	case 0xba:						/* BT* Ev, Ib */
		modrm(d);
		if ((d->reg & 7) < 4) {
			complain_insn(d);
			UD();
		}
		b = imm(d, 1);
		bit_op(d, d->reg & 3, b, false);
		break;
	case 0xa4: case 0xa5: case 0xac: case 0xad:		/* SHLD SHRD */
		modrm(d);
		b = (op & 1) ? E.r[1] & 0xff : imm(d, 1);
		a = rm_get(d, n);
		rm_set(d, n, dshift(op < 0xa8, n, a, getr(d, d->reg, n), (uint8_t)b));
		break;
	case 0xaf:						/* IMUL Gv, Ev */
		modrm(d);
		setr(d, d->reg, n, imul2(n, getr(d, d->reg, n), rm_get(d, n)));
		break;
	case 0xae: modrm(d); grp15(d); break;
	case 0xb0: case 0xb1:					/* CMPXCHG */
		if (op == 0xb0)
			n = 1;
		modrm(d);
		a = rm_get(d, n);
		alu(7, n, E.r[0] & mask(n), a);
		if (E.fl & F_ZF) {
			rm_set(d, n, getr(d, d->reg, n));
		} else {
			if (d->mem)
				rm_set(d, n, a);
			setr(d, 0, n, a);
		}
		break;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:		/* MOVZX MOVSX */
		modrm(d);
		a = rm_get(d, (op & 1) ? 2 : 1);
		if (op >= 0xbe)
			a = sext(a, (op & 1) ? 2 : 1);
		setr(d, d->reg, n, a & mask(n));
		break;
	case 0xb8:						/* POPCNT */
		modrm(d);
		a = rm_get(d, n);
		setr(d, d->reg, n, (uint64_t)__builtin_popcountll(a));
		E.fl = (E.fl & ~F_ARITH) | (a ? 0 : F_ZF);
		break;
	case 0xbc: case 0xbd:					/* BSF BSR (TZCNT/LZCNT: not offered) */
		modrm(d);
		a = rm_get(d, n);
		if (!a) {
			E.fl |= F_ZF;
		} else {
			E.fl &= ~F_ZF;
			setr(d, d->reg, n, op == 0xbc ? (uint64_t)__builtin_ctzll(a) :
						       (uint64_t)(63 - __builtin_clzll(a)));
		}
		break;
	case 0xc0: case 0xc1:					/* XADD */
		if (op == 0xc0)
			n = 1;
		modrm(d);
		a = rm_get(d, n);
		b = getr(d, d->reg, n);
		rm_set(d, n, alu(0, n, a, b));
		setr(d, d->reg, n, a);
		break;
	case 0xc7:						/* CMPXCHG8B/16B */
		modrm(d);
		if ((d->reg & 7) != 1 || !d->mem) {
			complain_insn(d);
			UD();
		}
		{
			unsigned h = n == 8 ? 8 : 4;
			uint64_t la = lin(d), pa, lo, hi;
			uint8_t *p = (la & 0xfff) + 2 * h <= 0x1000 ? xlate(la, &pa, ACC_W) : NULL;
			bool ok;

			E.lk = false;
			if (h == 8 && (la & 15))
				GP0();
			if (p)
				dirty(pa);
			if (p && h == 4) {		/* CMPXCHG8B, atomically */
				uint64_t exp = (E.r[2] & 0xffffffff) << 32 | (E.r[0] & 0xffffffff);

				ok = __atomic_compare_exchange_n((uint64_t *)(void *)p, &exp,
								 (E.r[1] & 0xffffffff) << 32 | (E.r[3] & 0xffffffff),
								 false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
				lo = (uint32_t)exp, hi = exp >> 32;
			} else if (p) {			/* CMPXCHG16B */
				uint64_t rax = E.r[0], rdx = E.r[2];
				uint8_t z;

				__asm__ volatile("lock cmpxchg16b %2\n\tsetz %3"
						 : "+a"(rax), "+d"(rdx), "+m"(*(volatile unsigned __int128 *)(void *)p), "=q"(z)
						 : "b"(E.r[3]), "c"(E.r[1]) : "cc", "memory");
				ok = z, lo = rax, hi = rdx;
			} else {			/* not RAM, or across pages: not atomic */
				lo = rd(la, h), hi = rd(la + h, h);
				ok = lo == (E.r[0] & mask(h)) && hi == (E.r[2] & mask(h));
				if (ok) {
					wr(la, h, E.r[3]);
					wr(la + h, h, E.r[1]);
				}
			}
			if (ok) {
				E.fl |= F_ZF;
			} else {
				setr(d, 0, h, lo);
				setr(d, 2, h, hi);
				E.fl &= ~F_ZF;
			}
		}
		break;
	case 0xc8 ... 0xcf:					/* BSWAP */
		a = (op & 7) | ((d->rex & 1) << 3);
		if (n == 8)
			E.r[a] = __builtin_bswap64(E.r[a]);
		else
			E.r[a] = __builtin_bswap32((uint32_t)E.r[a]);
		break;
	default:
		d->p -= 2;
		return false;
	}
	return true;
}

static void step(void)
{
	struct dec d;
	uint8_t buf[16];
	uint64_t pa, next = 0, a, b, ip;
	const uint8_t *h;
	bool jumped = false, opsz = false, adsz = false;
	uint8_t op;
	unsigned n;

	E.lk = false;
	E.lk_ptr = NULL;
	ip = E.lm ? E.rip : (uint32_t)(E.seg_base[CS] + E.rip);
	h = xlate(ip, &pa, ACC_F);
	if (!h)
		shut("instruction fetch from non-RAM 0x%llx", (unsigned long long)pa);
	if ((ip & 0xfff) > 0x1000 - 16) {
		unsigned k = 0x1000 - (unsigned)(ip & 0xfff);
		uint8_t *h2;
		bool w, u;

		memcpy(buf, h, k);
		memset(buf + k, 0xff, 16 - k);
		if (!walk(ip + k, &pa, ACC_F, &w, &u) && (h2 = nc_ram(pa, 16 - k)))
			memcpy(buf + k, h2, 16 - k);
		h = buf;
	}
	d.start = d.p = h;
	d.seg = -1;
	d.rex = 0;
	d.rep = d.repne = false;
	d.mem = d.riprel = false;
	for (;; d.p++) {
		switch (*d.p) {
		case 0x26: d.seg = E.lm ? -1 : ES; continue;
		case 0x2e: d.seg = E.lm ? -1 : CS; continue;
		case 0x36: d.seg = E.lm ? -1 : SS; continue;
		case 0x3e: d.seg = E.lm ? -1 : DS; continue;
		case 0x64: d.seg = FS; continue;
		case 0x65: d.seg = GS; continue;
		case 0x66: opsz = true; continue;
		case 0x67: adsz = true; continue;
		case 0xf0:
			E.lk = true;
			E.lk_fl = E.fl;
			continue;
		case 0xf2: d.repne = true, d.rep = false; continue;
		case 0xf3: d.rep = true, d.repne = false; continue;
		}
		break;
	}
	if (E.lm && (*d.p & 0xf0) == 0x40)
		d.rex = *d.p++;
	if (E.lm) {
		d.osz = (d.rex & 8) ? 8 : opsz ? 2 : 4;
		d.asz = adsz ? 4 : 8;
	} else {
		d.osz = (E.d32 != opsz) ? 4 : 2;
		d.asz = (E.d32 != adsz) ? 4 : 2;
	}
	n = d.osz;
	op = *d.p++;

	switch (op) {
	case 0x00 ... 0x3f:
		if ((op & 7) > 5 || op == 0x0f) {
			if (op == 0x0f && twobyte(&d, &next, &jumped))
				break;
			goto unknown;
		}
		{
			unsigned alu_op = op >> 3, w = (op & 1) ? n : 1;

			switch (op & 7) {
			case 0: case 1:		/* Ev, Gv */
				modrm(&d);
				a = alu(alu_op, w, rm_get(&d, w), getr(&d, d.reg, w));
				if (alu_op != 7)
					rm_set(&d, w, a);
				break;
			case 2: case 3:		/* Gv, Ev */
				modrm(&d);
				a = alu(alu_op, w, getr(&d, d.reg, w), rm_get(&d, w));
				if (alu_op != 7)
					setr(&d, d.reg, w, a);
				break;
			case 4:			/* AL, Ib */
				b = imm(&d, 1);
				a = alu(alu_op, 1, E.r[0] & 0xff, b);
				if (alu_op != 7)
					setr(&d, 0, 1, a);
				break;
			case 5:			/* eAX, Iz */
				b = immz(&d);
				a = alu(alu_op, n, E.r[0] & mask(n), b);
				if (alu_op != 7)
					setr(&d, 0, n, a);
				break;
			}
		}
		break;
	case 0x40 ... 0x4f:		/* INC/DEC r (outside 64-bit mode) */
		setr(&d, op & 7, n, unary(op >= 0x48, n, getr(&d, op & 7, n)));
		break;
	case 0x50 ... 0x57:		/* PUSH r */
		a = (op & 7) | ((d.rex & 1) << 3);
		if (E.lm)
			push(n == 2 ? E.r[a] & 0xffff : E.r[a], n == 2 ? 2 : 8);
		else
			push(E.r[a] & mask(n), n);
		break;
	case 0x58 ... 0x5f:		/* POP r */
		a = (op & 7) | ((d.rex & 1) << 3);
		b = pop(E.lm ? (n == 2 ? 2 : 8) : n);
		setr(&d, (unsigned)a, E.lm ? (n == 2 ? 2 : 8) : n, b);
		break;
	case 0x63:			/* MOVSXD */
		if (!E.lm)
			goto unknown;
		modrm(&d);
		setr(&d, d.reg, n, sext(rm_get(&d, 4), 4) & mask(n));
		break;
	case 0x68:			/* PUSH Iz */
		a = n == 2 ? imm(&d, 2) : sext(imm(&d, 4), 4);
		push(a, E.lm ? (n == 2 ? 2 : 8) : n);
		break;
	case 0x6a:			/* PUSH Ib */
		a = sext(imm(&d, 1), 1);
		push(E.lm ? a : a & mask(n), E.lm ? (n == 2 ? 2 : 8) : n);
		break;
	case 0x69: case 0x6b:		/* IMUL Gv, Ev, imm */
		modrm(&d);
		b = op == 0x69 ? immz(&d) : sext(imm(&d, 1), 1);
		setr(&d, d.reg, n, imul2(n, rm_get(&d, n), b));
		break;
	case 0x70 ... 0x7f:		/* Jcc rel8 */
		a = sext(imm(&d, 1), 1);
		if (cond(op & 15)) {
			next = E.rip + (uint64_t)(d.p - d.start) + a;
			jumped = true;
		}
		break;
	case 0x80: case 0x81: case 0x83: {	/* grp1 */
		unsigned w = op == 0x80 ? 1 : n;

		modrm(&d);
		b = op == 0x81 ? immz(&d) : sext(imm(&d, 1), 1) & mask(w);
		a = alu(d.reg & 7, w, rm_get(&d, w), b & mask(w));
		if ((d.reg & 7) != 7)
			rm_set(&d, w, a);
		break;
	}
	case 0x84: case 0x85: {		/* TEST */
		unsigned w = op == 0x84 ? 1 : n;

		modrm(&d);
		alu(8, w, rm_get(&d, w), getr(&d, d.reg, w));
		break;
	}
	case 0x86: case 0x87: {		/* XCHG (with memory: locked) */
		unsigned w = op == 0x86 ? 1 : n;

		modrm(&d);
		if (d.mem && !E.lk) {
			E.lk = true;
			E.lk_fl = E.fl;
		}
		a = rm_get(&d, w);
		rm_set(&d, w, getr(&d, d.reg, w));
		setr(&d, d.reg, w, a);
		break;
	}
	case 0x88: modrm(&d); rm_set(&d, 1, getr(&d, d.reg, 1)); break;
	case 0x89: modrm(&d); rm_set(&d, n, getr(&d, d.reg, n)); break;
	case 0x8a: modrm(&d); setr(&d, d.reg, 1, rm_get(&d, 1)); break;
	case 0x8b: modrm(&d); setr(&d, d.reg, n, rm_get(&d, n)); break;
	case 0x8c:			/* MOV Ev, Sreg */
		modrm(&d);
		if ((d.reg & 7) > 5)
			UD();
		rm_set(&d, d.mem ? 2 : n, E.sel[d.reg & 7]);
		break;
	case 0x8d:			/* LEA */
		modrm(&d);
		if (!d.mem)
			UD();
		setr(&d, d.reg, n, offset(&d) & mask(n));
		break;
	case 0x8e:			/* MOV Sreg, Ev */
		modrm(&d);
		if ((d.reg & 7) > 5 || (d.reg & 7) == CS)
			UD();
		set_seg(d.reg & 7, (uint16_t)rm_get(&d, 2));
		if ((d.reg & 7) == SS)
			E.shadow = true;
		break;
	case 0x8f:			/* POP Ev */
		modrm(&d);
		a = pop(E.lm ? (n == 2 ? 2 : 8) : n);
		rm_set(&d, E.lm ? (n == 2 ? 2 : 8) : n, a);
		break;
	case 0x90:
		if (!(d.rex & 1))
			break;		/* NOP, PAUSE */
		__attribute__((fallthrough));	/* XCHG r8, rAX */
	case 0x91 ... 0x97:
		a = (op & 7) | ((d.rex & 1) << 3);
		b = getr(&d, (unsigned)a, n);
		setr(&d, (unsigned)a, n, E.r[0]);
		setr(&d, 0, n, b);
		break;
	case 0x98:			/* CBW CWDE CDQE */
		setr(&d, 0, n, sext(E.r[0], n / 2) & mask(n));
		break;
	case 0x99:			/* CWD CDQ CQO */
		setr(&d, 2, n, (E.r[0] >> (8 * n - 1)) & 1 ? mask(n) : 0);
		break;
	case 0x9b: break;		/* FWAIT */
	case 0x9c:			/* PUSHF */
		push((E.fl & 0xfcffffULL) | 2, E.lm ? (n == 2 ? 2 : 8) : n);
		break;
	case 0x9d:			/* POPF */
		a = pop(E.lm ? (n == 2 ? 2 : 8) : n);
		if (n == 2)
			a = (E.fl & ~0xffffULL) | (a & 0xffff);
		if (!(E.fl & F_IF) && (a & F_IF))
			E.shadow = true;
		E.fl = (E.fl & ~F_POPF) | (a & F_POPF) | 2;
		break;
	case 0x9e:			/* SAHF */
		E.fl = (E.fl & ~0xd5ULL) | ((E.r[0] >> 8) & 0xd5);
		break;
	case 0x9f:			/* LAHF */
		E.r[0] = (E.r[0] & ~0xff00ULL) | ((E.fl & 0xd7) | 2) << 8;
		break;
	case 0xa0 ... 0xa3: {		/* MOV AL/rAX <-> moffs */
		unsigned w = (op & 1) ? n : 1;
		uint64_t off = imm(&d, d.asz);

		if (op < 0xa2)
			setr(&d, 0, w, rd(lin_of(&d, off, DS), w));
		else
			wr(lin_of(&d, off, DS), w, E.r[0]);
		break;
	}
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
		if (!string_op(&d, op)) {
			next = E.rip;		/* not done: run it again */
			jumped = true;
		}
		break;
	case 0xa8: alu(8, 1, E.r[0] & 0xff, imm(&d, 1)); break;
	case 0xa9: alu(8, n, E.r[0] & mask(n), immz(&d)); break;
	case 0xb0 ... 0xb7:
		setr(&d, (op & 7) | ((d.rex & 1) << 3), 1, imm(&d, 1));
		break;
	case 0xb8 ... 0xbf:
		setr(&d, (op & 7) | ((d.rex & 1) << 3), n, imm(&d, n));
		break;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3: {	/* grp2 */
		unsigned w = (op & 1) ? n : 1;
		uint8_t c;

		modrm(&d);
		c = op <= 0xc1 ? (uint8_t)imm(&d, 1) : op <= 0xd1 ? 1 : (uint8_t)E.r[1];
		rm_set(&d, w, shift(d.reg & 7, w, rm_get(&d, w), c));
		break;
	}
	case 0xc2: case 0xc3:		/* RET */
		b = op == 0xc2 ? imm(&d, 2) : 0;
		next = pop(E.lm ? 8 : n);
		sp_set(E.r[4] + b);
		jumped = true;
		break;
	case 0xc6: modrm(&d); a = imm(&d, 1); rm_set(&d, 1, a); break;
	case 0xc7: modrm(&d); a = immz(&d); rm_set(&d, n, a); break;
	case 0xc9:			/* LEAVE */
		sp_set(E.r[5]);
		setr(&d, 5, E.lm ? (n == 2 ? 2 : 8) : n, pop(E.lm ? (n == 2 ? 2 : 8) : n));
		break;
	case 0xca: case 0xcb: {		/* LRET */
		uint16_t sel;

		b = op == 0xca ? imm(&d, 2) : 0;
		a = pop(n);
		sel = (uint16_t)pop(n);
		sp_set(E.r[4] + b);
		far_jump(sel, a);
		return;
	}
	case 0xcc:			/* INT3 */
		deliver(X_BP, false, 0, true, E.rip + (uint64_t)(d.p - d.start));
		return;
	case 0xcd:			/* INT n */
		a = imm(&d, 1);
		deliver((unsigned)a, false, 0, true, E.rip + (uint64_t)(d.p - d.start));
		return;
	case 0xcf:			/* IRET */
		iret(n);
		return;
	case 0xd8 ... 0xdf:
		modrm(&d);
		x87(&d, op);
		break;
	case 0xe0 ... 0xe3: {		/* LOOPNE LOOPE LOOP JrCXZ */
		bool take;

		a = sext(imm(&d, 1), 1);
		if (op == 0xe3) {
			take = !areg(&d, 1);
		} else {
			areg_add(&d, 1, -1);
			take = areg(&d, 1) != 0;
			if (op == 0xe0)
				take = take && !(E.fl & F_ZF);
			else if (op == 0xe1)
				take = take && (E.fl & F_ZF);
		}
		if (take) {
			next = E.rip + (uint64_t)(d.p - d.start) + a;
			jumped = true;
		}
		break;
	}
	case 0xe4: case 0xe5:		/* IN imm8 */
		port_in((unsigned)imm(&d, 1), op == 0xe4 ? 1 : (n == 2 ? 2 : 4), 0, &d);
		break;
	case 0xe6: case 0xe7:		/* OUT imm8 */
		a = imm(&d, 1);
		nc_port((uint16_t)a, op == 0xe6 ? 1 : (n == 2 ? 2 : 4), true,
			E.r[0] & mask(op == 0xe6 ? 1 : (n == 2 ? 2 : 4)));
		break;
	case 0xec: case 0xed:
		port_in(E.r[2] & 0xffff, op == 0xec ? 1 : (n == 2 ? 2 : 4), 0, &d);
		break;
	case 0xee: case 0xef:
		nc_port((uint16_t)E.r[2], op == 0xee ? 1 : (n == 2 ? 2 : 4), true,
			E.r[0] & mask(op == 0xee ? 1 : (n == 2 ? 2 : 4)));
		break;
	case 0xe8:			/* CALL rel */
		a = E.lm ? sext(imm(&d, 4), 4) : sext(imm(&d, n), n);
		b = E.rip + (uint64_t)(d.p - d.start);
		push(b, E.lm ? 8 : n);
		next = b + a;
		jumped = true;
		break;
	case 0xe9:			/* JMP rel */
		a = E.lm ? sext(imm(&d, 4), 4) : sext(imm(&d, n), n);
		next = E.rip + (uint64_t)(d.p - d.start) + a;
		jumped = true;
		break;
	case 0xea:			/* JMP ptr16:16/32 */
		if (E.lm)
			goto unknown;
		a = imm(&d, n);
		b = imm(&d, 2);
		far_jump((uint16_t)b, a);
		return;
	case 0xeb:
		a = sext(imm(&d, 1), 1);
		next = E.rip + (uint64_t)(d.p - d.start) + a;
		jumped = true;
		break;
	case 0xf4:			/* HLT */
		if (E.cpl)
			GP0();
		E.rip += (uint64_t)(d.p - d.start);
		halt();
		return;
	case 0xf5: E.fl ^= F_CF; break;
	case 0xf6: case 0xf7: {		/* grp3 */
		unsigned w = op == 0xf6 ? 1 : n;

		modrm(&d);
		switch (d.reg & 7) {
		case 0: case 1:
			b = w == 8 ? sext(imm(&d, 4), 4) : imm(&d, w);
			alu(8, w, rm_get(&d, w), b);
			break;
		case 2: rm_set(&d, w, ~rm_get(&d, w)); break;
		case 3: rm_set(&d, w, unary(2, w, rm_get(&d, w))); break;
		default: mul_div(&d, d.reg & 7, w); break;
		}
		break;
	}
	case 0xf8: E.fl &= ~F_CF; break;
	case 0xf9: E.fl |= F_CF; break;
	case 0xfa:
		if (E.cpl)
			GP0();
		E.fl &= ~F_IF;
		break;
	case 0xfb:
		if (E.cpl)
			GP0();
		if (!(E.fl & F_IF))
			E.shadow = true;
		E.fl |= F_IF;
		break;
	case 0xfc: E.fl &= ~F_DF; break;
	case 0xfd: E.fl |= F_DF; break;
	case 0xfe: case 0xff: {		/* grp4, grp5 */
		unsigned w = op == 0xfe ? 1 : n;

		modrm(&d);
		switch (d.reg & 7) {
		case 0: case 1:
			rm_set(&d, w, unary(d.reg & 1, w, rm_get(&d, w)));
			break;
		case 2:			/* CALL Ev */
			if (op == 0xfe)
				goto unknown;
			a = rm_get(&d, E.lm ? 8 : n);
			push(E.rip + (uint64_t)(d.p - d.start), E.lm ? 8 : n);
			next = a;
			jumped = true;
			break;
		case 3: case 5: {	/* CALL/JMP m16:xx */
			uint64_t la;
			uint16_t sel;

			if (op == 0xfe || !d.mem)
				goto unknown;
			la = lin(&d);
			a = rd(la, n == 8 ? 8 : n);
			sel = (uint16_t)rd(la + (n == 8 ? 8 : n), 2);
			if ((d.reg & 7) == 3) {
				push(E.sel[CS], E.lm ? 8 : n);
				push(E.rip + (uint64_t)(d.p - d.start), E.lm ? 8 : n);
			}
			far_jump(sel, a);
			return;
		}
		case 4:			/* JMP Ev */
			if (op == 0xfe)
				goto unknown;
			next = rm_get(&d, E.lm ? 8 : n);
			jumped = true;
			break;
		case 6:			/* PUSH Ev */
			if (op == 0xfe)
				goto unknown;
			a = rm_get(&d, E.lm ? (n == 2 ? 2 : 8) : n);
			push(a, E.lm ? (n == 2 ? 2 : 8) : n);
			break;
		default:
			goto unknown;
		}
		break;
	}
	default:
	unknown:
		complain_insn(&d);
		UD();
	}
	if (!jumped)
		next = E.rip + (uint64_t)(d.p - d.start);
	E.rip = E.lm ? next : E.d32 ? (uint32_t)next : (uint16_t)next;
	E.lk = false;
}

/* ---- kite's view: KVM_GET_* and KVM_SET_* of a stopped CPU ---- */

/* What KVM_SET_MSRS and KVM_SET_LAPIC gave (a restore, a migration's
 * destination, or kite's own boot values), into the running state. */
static void import_rest(void)
{
	struct fk_vcpu *v = &fk.vcpus[nc.cpu];
	struct kvm_lapic_state lapic;
	struct fk_msr m[FK_MAX_MSRS];
	unsigned n;

	pthread_mutex_lock(&fk.lock);
	n = v->nmsrs;
	memcpy(m, v->msrs, sizeof(m));
	lapic = v->lapic;
	pthread_mutex_unlock(&fk.lock);
	nc_lapic_in(&lapic);
	for (unsigned i = 0; i < n; i++) {
		switch (m[i].index) {
		case 0x10: case 0x1b: case 0xc0000080: case 0xc0000100: case 0xc0000101:
			break;		/* the host's TSC; in the sregs */
		case 0x11: case 0x4b564d00:
			E.wall_msr = m[i].value;
			break;
		case 0x12: case 0x4b564d01:
			E.systime_msr = m[i].value;
			kvmclock_fill(m[i].value);	/* as KVM does after a restore */
			break;
		default:
			wrmsr(m[i].index, m[i].value);
		}
	}
}

static void seg_out(struct kvm_segment *o, const struct ecpu *c, unsigned s, bool pe)
{
	memset(o, 0, sizeof(*o));
	o->selector = c->sel[s];
	o->base = c->seg_base[s];
	o->present = 1;
	o->s = 1;
	o->type = s == CS ? 11 : 3;
	if (!pe) {		/* real mode */
		o->limit = 0xffff;
		return;
	}
	o->limit = 0xffffffff;
	o->g = 1;
	if (s == CS) {
		o->dpl = (uint8_t)c->cpl;
		o->l = c->lm;
		o->db = !c->lm && c->d32;
		return;
	}
	o->dpl = (uint8_t)(s == SS ? c->cpl : c->sel[s] & 3);
	o->db = s == SS ? c->lm || c->ss32 : 1;
	if (!(c->sel[s] & ~3u))		/* a null selector */
		o->unusable = 1, o->present = 0;
}

/* fk.lock held, the CPU stopped: its live state into kite's fk_vcpu. */
void fk_emu_state_out(struct fk_vcpu *v)
{
	struct ecpu *c = v->id < FK_MAX_VCPUS ? __atomic_load_n(&ecpus[v->id], __ATOMIC_ACQUIRE) : NULL;
	struct ncpu *n = &ncpus[v->id];
	struct kvm_regs *r = &v->regs;
	struct kvm_sregs *sr = &v->sregs;
	struct kvm_segment *seg[6] = { &sr->es, &sr->cs, &sr->ss, &sr->ds, &sr->fs, &sr->gs };
	struct ncpu *self = nc_self;
	bool pe;

	if (!c || !c->entered || n->running)
		return;
	r->rax = c->r[0], r->rcx = c->r[1], r->rdx = c->r[2], r->rbx = c->r[3];
	r->rsp = c->r[4], r->rbp = c->r[5], r->rsi = c->r[6], r->rdi = c->r[7];
	r->r8 = c->r[8], r->r9 = c->r[9], r->r10 = c->r[10], r->r11 = c->r[11];
	r->r12 = c->r[12], r->r13 = c->r[13], r->r14 = c->r[14], r->r15 = c->r[15];
	r->rip = c->rip;
	r->rflags = c->fl;
	pe = n->cr0 & CR0_PE;
	for (unsigned i = 0; i < 6; i++)
		seg_out(seg[i], c, i, pe);
	if (n->tr) {
		memset(&sr->tr, 0, sizeof(sr->tr));
		sr->tr.selector = n->tr;
		sr->tr.base = c->tr_base;
		sr->tr.limit = c->tr_limit;
		sr->tr.type = 11;	/* a busy TSS */
		sr->tr.present = 1;
	}
	sr->gdt.base = n->gdt_base, sr->gdt.limit = n->gdt_limit;
	sr->idt.base = n->idt_base, sr->idt.limit = n->idt_limit;
	sr->cr0 = n->cr0, sr->cr2 = n->cr2, sr->cr3 = n->cr3, sr->cr4 = n->cr4;
	sr->cr8 = n->tpr >> 4;
	sr->efer = n->efer;
	memset(sr->interrupt_bitmap, 0, sizeof(sr->interrupt_bitmap));
	for (unsigned i = 0; i < n->nmsrs; i++)
		fk_msr_put(v, n->msrs[i].index, n->msrs[i].value);
	fk_msr_put(v, 0xc0000080, n->efer);
	fk_msr_put(v, 0xc0000100, c->seg_base[FS]);
	fk_msr_put(v, 0xc0000101, c->seg_base[GS]);
	fk_msr_put(v, 0xc0000102, c->kgs_base);
	fk_msr_put(v, 0xc0000103, c->tsc_aux);
	fk_msr_put(v, 0x4b564d00, c->wall_msr);
	fk_msr_put(v, 0x4b564d01, c->systime_msr);
	fk_msr_put(v, 0x6e0, n->tsc_deadline);
	fk_msr_put(v, 0x10, tsc());
	v->fpu.fcw = c->fcw, v->fpu.fsw = c->fsw, v->fpu.mxcsr = c->mxcsr;
	memcpy(&v->xsave.region[0], &c->fcw, 2);
	memcpy(&v->xsave.region[6], &c->mxcsr, 4);
	nc_self = n;		/* ndev.c's LAPIC code works on "this" CPU */
	nc_lapic_out(&v->lapic);
	nc_self = self;
	if (v->id == 0 || n->sipi >= 0)
		v->mp.mp_state = KVM_MP_STATE_RUNNABLE;
}

/* ---- running ---- */

static void enter(void)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	const struct kvm_segment *seg[6];

	if (nc.cpu == 0 || nc.sipi < 0)	/* as kite set it (an AP: restored) */
		fk_vcpu_state(nc.cpu, &r, &s);
	else				/* an AP at its SIPI vector, in real mode */
		nc_sipi_state(&r, &s);
	E.r[0] = r.rax, E.r[1] = r.rcx, E.r[2] = r.rdx, E.r[3] = r.rbx;
	E.r[4] = r.rsp, E.r[5] = r.rbp, E.r[6] = r.rsi, E.r[7] = r.rdi;
	E.r[8] = r.r8, E.r[9] = r.r9, E.r[10] = r.r10, E.r[11] = r.r11;
	E.r[12] = r.r12, E.r[13] = r.r13, E.r[14] = r.r14, E.r[15] = r.r15;
	E.rip = r.rip;
	E.fl = r.rflags | 2;
	nc.cr0 = s.cr0, nc.cr2 = s.cr2, nc.cr3 = s.cr3, nc.cr4 = s.cr4, nc.efer = s.efer;
	nc.gdt_base = s.gdt.base, nc.gdt_limit = s.gdt.limit;
	nc.idt_base = s.idt.base, nc.idt_limit = s.idt.limit;
	nc.tr = s.tr.selector, nc.ss = s.ss.selector, nc.cs = s.cs.selector;
	seg[0] = &s.es, seg[1] = &s.cs, seg[2] = &s.ss, seg[3] = &s.ds, seg[4] = &s.fs, seg[5] = &s.gs;
	for (unsigned i = 0; i < 6; i++)
		E.seg_base[i] = seg[i]->base, E.sel[i] = seg[i]->selector;
	E.lm = s.cs.l && (s.efer & EFER_LMA);
	E.d32 = s.cs.db;
	E.ss32 = s.ss.db;
	E.cpl = s.cs.selector & 3;
	E.tr_base = s.tr.base;
	E.tr_limit = s.tr.limit;
	E.fcw = 0x37f;
	E.mxcsr = 0x1f80;
	nc_lapic_reset();
	tlb_flush();
	if (nc.cpu == 0 || nc.sipi < 0)
		import_rest();
	__atomic_store_n(&ecpus[nc.cpu], ecur, __ATOMIC_RELEASE);
	E.entered = true;
}

/* Stop while kite holds the vCPU out of KVM_RUN; take an interrupt. */
static void events(void)
{
	int v = -1;

	pthread_mutex_lock(&fk.lock);
	__atomic_store_n(&nc.kick, false, __ATOMIC_RELAXED);
	if (fk.dead || !fk.vcpus[nc.cpu].in_run) {
		nc_stop_running();
		nc_start_running();
	}
	nc_timer_poll(nc_now_ns());
	if ((E.fl & F_IF) && !E.shadow) {
		v = nc_next_vector();
		if (v >= 0)
			nc_take_vector(v);
	}
	pthread_mutex_unlock(&fk.lock);
	if (v >= 0)
		deliver((unsigned)v, false, 0, false, E.rip);
}

static void trace_insn(void)
{
	uint64_t ip = E.lm ? E.rip : (uint32_t)(E.seg_base[CS] + E.rip), pa;
	uint8_t b[6] = { 0 };
	const uint8_t *h;
	bool w, u;

	if (!walk(ip, &pa, 0, &w, &u) && (h = nc_ram(pa, sizeof(b))))
		memcpy(b, h, sizeof(b));
	fprintf(stderr, "emu %u %llu: %04x:%llx [%02x %02x %02x %02x %02x %02x] rsp %llx rax %llx rcx %llx fl %llx\n",
		nc.cpu, (unsigned long long)E.insns, E.sel[CS], (unsigned long long)E.rip, b[0], b[1], b[2],
		b[3], b[4], b[5], (unsigned long long)E.r[4], (unsigned long long)E.r[0],
		(unsigned long long)E.r[1], (unsigned long long)E.fl);
}

static void run(void)
{
	/* Debugging: KVMFAKE_EMU_TRACE=N prints every instruction from the
	 * Nth on; KVMFAKE_EMU_SAMPLE=N prints RIP every N instructions. */
	const char *trace = getenv("KVMFAKE_EMU_TRACE"), *sample = getenv("KVMFAKE_EMU_SAMPLE");
	const char *tcpu = getenv("KVMFAKE_EMU_TRACE_CPU");	/* which CPU (default 0) */
	unsigned long long trace_from = trace && nc.cpu == (tcpu ? strtoul(tcpu, NULL, 0) : 0) ?
					strtoull(trace, NULL, 0) : ~0ULL;
	E.every = E.next_sample = sample ? strtoull(sample, NULL, 0) : 0;

	if (setjmp(E.jb)) {
		unsigned vec = E.xvec;

		E.lk = false;
		E.lk_ptr = NULL;
		if (vec == X_RETRY) {		/* run the LOCKed instruction again */
			E.fl = E.lk_fl;
			goto again;
		}
		if (E.delivering)
			shut("exception %u while delivering an exception", vec);
		E.delivering = true;
		if (getenv("KVMFAKE_EMU_EXC"))
			fprintf(stderr, "kvmfake: emulated CPU: exception %u (err %llx, cr2 %llx) at 0x%llx, insn %llu\n",
				vec, (unsigned long long)E.xcode, (unsigned long long)nc.cr2,
				(unsigned long long)E.rip, (unsigned long long)E.insns);
		deliver(vec, E.xerr, E.xcode, false, E.rip);
		E.delivering = false;
	}
again:
	for (;;) {
		events();
		if (E.every && E.insns >= E.next_sample) {
			fprintf(stderr, "emu sample %llu: rip %llx, %llu HLTs, %llu ms\n",
				(unsigned long long)E.insns, (unsigned long long)E.rip,
				(unsigned long long)E.halts,
				(unsigned long long)((nc_now_ns() - start_ns) / 1000000));
			E.next_sample = E.insns + E.every;
		}
		for (unsigned i = 0; i < 100000; i++) {
			if (__builtin_expect(E.insns >= trace_from, 0))
				trace_insn();
			E.shadow = false;
			step();
			E.insns++;
			if (__atomic_load_n(&nc.kick, __ATOMIC_RELAXED) && !E.shadow)
				break;
			if (!(i & 1023) && nc.timer_at_ns && nc_now_ns() >= nc.timer_at_ns)
				break;
		}
	}
}

/* A CPU's thread: CPU 0 at once, an AP once INIT and SIPI started it. */
static void cpu_main(struct ncpu *c)
{
	nc_self = c;
	ecur = calloc(1, sizeof(*ecur));
	if (!ecur)
		nc_shut_down("out of memory");
	nc_wait_start(c);
	enter();
	run();
}

void emu_main(void)
{
	unsigned n = nc_vcpu_count();

	fprintf(stderr, "kvmfake: emulated CPU: interpreting the guest kite loaded (%u vCPU%s)\n", n,
		n == 1 ? "" : "s, one thread each");
	measure_tsc();
	nc_begin(n, true);
	nc_start_aps(cpu_main, "kvmfake-emu");
	cpu_main(&ncpus[0]);
}
