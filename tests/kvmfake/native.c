// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's native CPU (ncpu.h): the set-up, the trap handler, interrupt
 * delivery through the guest's IDT, the in-kernel devices KVM would serve
 * (LAPIC, IOAPIC, PIC and PIT ports), and stopping when kite pauses vCPU 0.
 *
 * Threads: the CPU is the fake's guest thread. Every trap runs its handler
 * on that thread's signal stack; the handler may block there (a port read
 * waits for kite's KVM_RUN to complete it, HLT waits for an interrupt).
 * `running` (under fk.lock) says the CPU may execute guest code or touch
 * guest RAM: it is only set while vCPU 0 is inside KVM_RUN, and vCPU 0 does
 * not leave KVM_RUN on a kick until the CPU has stopped (fk_native_stop),
 * so kite's view of a paused vCPU holds here as it does under KVM.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "fake.h"
#include "model.h"
#include "ncpu.h"

#define KICK_SIG	(SIGRTMAX - 2)
#define ALT_SIZE	(256 * 1024)
#define LAPIC_BASE	0xfee00000ULL
#define IOAPIC_BASE	0xfec00000ULL

struct ncpu nc;

/* Read by the signal entry stub below. */
__attribute__((visibility("hidden"), aligned(64))) char nat_altstack[ALT_SIZE];
__attribute__((visibility("hidden"))) uint64_t nat_host_fs;

static bool active, running;
static pthread_t cpu_thread;
static struct sigaction chained[_NSIG];
static const int our_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS };
static bool entering;

static struct { uint64_t gpa, size; uint8_t *host; } ram[FK_MAX_SLOTS];
static unsigned nram;

/*
 * Every handler enters here. On the CPU's signal stack, the guest may have
 * loaded a null %fs (which clears its base on Intel), so this thread's TLS
 * base is put back before any C runs; other threads' signals go to whoever
 * kite installed.
 */
__asm__(".text\n"
	".globl nat_sig_entry\n"
	".hidden nat_sig_entry\n"
	"nat_sig_entry:\n"
	"	leaq nat_altstack(%rip), %rax\n"
	"	cmpq %rax, %rsp\n"
	"	jb 1f\n"
	"	addq $" "262144" ", %rax\n"
	"	cmpq %rax, %rsp\n"
	"	jae 1f\n"
	"	pushq %rdi\n"
	"	pushq %rsi\n"
	"	pushq %rdx\n"
	"	movl $158, %eax\n"		/* arch_prctl(ARCH_SET_FS, nat_host_fs) */
	"	movl $0x1002, %edi\n"
	"	movq nat_host_fs(%rip), %rsi\n"
	"	syscall\n"
	"	popq %rdx\n"
	"	popq %rsi\n"
	"	popq %rdi\n"
	"	jmp nat_trap\n"
	"1:	jmp nat_chain\n");
_Static_assert(ALT_SIZE == 262144, "nat_sig_entry's signal stack size");

void nat_sig_entry(int sig, siginfo_t *si, void *ctx);
__attribute__((visibility("hidden"))) void nat_trap(int sig, siginfo_t *si, void *ctx);
__attribute__((visibility("hidden"))) void nat_chain(int sig, siginfo_t *si, void *ctx);

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static int (*real)(int, const struct sigaction *, struct sigaction *);

	if (!real)
		real = (int (*)(int, const struct sigaction *, struct sigaction *))
			dlsym(RTLD_NEXT, "sigaction");
	return real(sig, act, old);
}

static bool ours(int sig)
{
	for (unsigned i = 0; i < sizeof(our_sigs) / sizeof(our_sigs[0]); i++)
		if (our_sigs[i] == sig)
			return true;
	return sig == KICK_SIG;
}

/* kite's sigaction() for one of ours, once the CPU runs: kept for chaining. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE) && sig > 0 && sig < _NSIG && ours(sig)) {
		if (old)
			*old = chained[sig];
		if (act)
			chained[sig] = *act;
		return 0;
	}
	return real_sigaction(sig, act, old);
}

void nat_chain(int sig, siginfo_t *si, void *ctx)
{
	const struct sigaction *o = &chained[sig];

	if (o->sa_flags & SA_SIGINFO) {
		if (o->sa_sigaction)
			o->sa_sigaction(sig, si, ctx);
	} else if (o->sa_handler == SIG_IGN) {
		return;
	} else if (o->sa_handler != SIG_DFL) {
		o->sa_handler(sig);
	} else {
		/* Default action: a fault happens again and ends the process. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		real_sigaction(sig, &dfl, NULL);
		if (si->si_code <= 0)
			raise(sig);
	}
}

/* ---- guest memory ---- */

void *nc_ram(uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < nram; i++)
		if (gpa >= ram[i].gpa && len <= ram[i].size && gpa - ram[i].gpa <= ram[i].size - len)
			return ram[i].host + (gpa - ram[i].gpa);
	return NULL;
}

bool nc_read(uint64_t gpa, void *dst, unsigned len)
{
	void *p = nc_ram(gpa, len);

	if (p)
		memcpy(dst, p, len);
	return p != NULL;
}

bool nc_write(uint64_t gpa, const void *src, unsigned len)
{
	void *p = nc_ram(gpa, len);

	if (p)
		memcpy(p, src, len);
	return p != NULL;
}

/* ---- running and stopping (fk.lock held) ---- */

static void park(void)
{
	fk.guest_parked = true;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
	for (;;)
		pause();
}

static void stop_running(void)
{
	running = false;
	pthread_cond_broadcast(&fk.cond);
}

/* Wait until vCPU 0 is in KVM_RUN, then run. */
static void start_running(void)
{
	while (!fk.dead && !fk.vcpu0_in)
		pthread_cond_wait(&fk.cond, &fk.lock);
	if (fk.dead)
		park();
	running = true;
}

void fk_native_poke(void)
{
	if (active)
		pthread_kill(cpu_thread, KICK_SIG);
}

void fk_native_stop(void)
{
	struct timespec ts;

	if (!active)
		return;
	while (running) {
		pthread_kill(cpu_thread, KICK_SIG);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 2000000;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
	}
}

bool fk_native_active(void)
{
	return active;
}

/* An access kite serves: the CPU does not run while it is out as an exit. */
static uint64_t exit_access(bool pio, uint64_t addr, unsigned len, bool write, uint64_t val)
{
	uint64_t r;

	pthread_mutex_lock(&fk.lock);
	stop_running();
	pthread_mutex_unlock(&fk.lock);
	r = pio ? g_pio((uint16_t)addr, len, write, val) : g_mmio(addr, len, write, val);
	pthread_mutex_lock(&fk.lock);
	start_running();
	pthread_mutex_unlock(&fk.lock);
	return r;
}

/* ---- the LAPIC, IOAPIC, PIC and PIT: in KVM's kernel, so here ---- */

static int highest(const uint64_t bits[4])
{
	for (int w = 3; w >= 0; w--)
		if (bits[w])
			return w * 64 + 63 - __builtin_clzll(bits[w]);
	return -1;
}

/* The vector to take now, or -1 (fk.lock held). */
static int next_vector(void)
{
	int in = highest(nc.isr);

	for (int v = 255; v >= 16; v--) {
		if (!fk.vec_pending[v] && !nc.ipi[v])
			continue;
		if ((in >= 0 && (v >> 4) <= (in >> 4)) || (unsigned)(v >> 4) <= (nc.tpr >> 4))
			return -1;
		return v;
	}
	return -1;
}

static void take_vector(int v)
{
	if (nc.ipi[v])
		nc.ipi[v]--;
	else
		fk.vec_pending[v]--;
	nc.isr[v / 64] |= 1ULL << (v % 64);
}

static uint32_t lapic_read(unsigned off)
{
	uint64_t irr[4] = { 0 };

	switch (off) {
	case 0x20: return nc.apic_id << 24;
	case 0x30: return 0x00050014;
	case 0x80: return nc.tpr;
	case 0xa0: return nc.tpr;
	case 0xd0: return nc.ldr;
	case 0xe0: return nc.dfr;
	case 0xf0: return nc.svr;
	case 0x280: return nc.esr;
	case 0x300: return 0;			/* ICR: delivery done */
	case 0x310: return nc.icr_hi;
	case 0x3e0: return nc.timer_div;
	}
	if (off >= 0x320 && off <= 0x380 && off % 16 == 0 && off != 0x380)
		return nc.lvt[(off - 0x320) / 16];
	if (off >= 0x100 && off < 0x180)
		return (uint32_t)(nc.isr[(off - 0x100) / 0x20] >> ((off / 0x10) % 2 * 32));
	if (off >= 0x200 && off < 0x280) {
		pthread_mutex_lock(&fk.lock);
		for (unsigned v = 0; v < 256; v++)
			if (fk.vec_pending[v] || nc.ipi[v])
				irr[v / 64] |= 1ULL << (v % 64);
		pthread_mutex_unlock(&fk.lock);
		return (uint32_t)(irr[(off - 0x200) / 0x20] >> ((off / 0x10) % 2 * 32));
	}
	return 0;
}

static void lapic_write(unsigned off, uint32_t v)
{
	int in;

	switch (off) {
	case 0x80: nc.tpr = v & 0xff; return;
	case 0xb0:				/* EOI */
		in = highest(nc.isr);
		if (in >= 0)
			nc.isr[in / 64] &= ~(1ULL << (in % 64));
		return;
	case 0xd0: nc.ldr = v; return;
	case 0xe0: nc.dfr = v; return;
	case 0xf0: nc.svr = v & 0x13ff; return;
	case 0x280: nc.esr = 0; return;
	case 0x310: nc.icr_hi = v; return;
	case 0x300: {
		unsigned sh = (v >> 18) & 3, mode = (v >> 8) & 7, dest = nc.icr_hi >> 24;
		bool me = sh == 1 || sh == 2 || (sh == 0 && (dest == nc.apic_id || dest == 0xff));

		if (mode == 0 && me && (v & 0xff) >= 16) {
			pthread_mutex_lock(&fk.lock);
			nc.ipi[v & 0xff]++;
			pthread_mutex_unlock(&fk.lock);
		}
		/* INIT and SIPI go to APs, which this CPU cannot start (real mode). */
		return;
	}
	case 0x380:
		if (v)
			fk_complain("native CPU: the LAPIC timer is not emulated (initial count %u)", v);
		return;
	case 0x3e0: nc.timer_div = v; return;
	}
	if (off >= 0x320 && off < 0x380 && off % 16 == 0)
		nc.lvt[(off - 0x320) / 16] = v;
}

static uint64_t ioapic_access(unsigned off, bool write, uint32_t v)
{
	unsigned r = nc.ioregsel;

	if (off == 0) {
		if (write)
			nc.ioregsel = v & 0xff;
		return write ? 0 : nc.ioregsel;
	}
	if (off != 0x10)
		return 0;
	if (r >= 0x10 && r < 0x10 + 48) {
		uint64_t *e = &nc.redir[(r - 0x10) / 2];
		unsigned sh = (r & 1) * 32;

		if (write)
			*e = (*e & ~(0xffffffffULL << sh)) | (uint64_t)v << sh;
		return (uint32_t)(*e >> sh);
	}
	if (r == 0) {
		if (write)
			nc.ioapic_id = v & 0x0f000000;
		return nc.ioapic_id;
	}
	return r == 1 ? 0x00170011 : 0;	/* 24 entries, version 0x11 */
}

uint64_t nc_phys(uint64_t gpa, unsigned len, bool write, uint64_t val)
{
	void *p;

	if (gpa >= LAPIC_BASE && gpa < LAPIC_BASE + 0x1000) {
		if (write)
			lapic_write(gpa & 0xfff, (uint32_t)val);
		return write ? 0 : lapic_read(gpa & 0xfff);
	}
	if (gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + 0x1000)
		return ioapic_access(gpa & 0xfff, write, (uint32_t)val);
	p = nc_ram(gpa, len);
	if (p) {			/* RAM below mmap_min_addr, through kite's mapping */
		if (write) {
			memcpy(p, &val, len);
			return 0;
		}
		val = 0;
		memcpy(&val, p, len);
		return val;
	}
	return exit_access(false, gpa, len, write, val);
}

uint64_t nc_port(uint16_t port, unsigned len, bool write, uint64_t val)
{
	static uint8_t pic_imr[2] = { 0xff, 0xff };

	/* KVM's PIC, ELCR, PIT and the PIT's port 0x61: nothing reaches kite. */
	if (port == 0x21 || port == 0xa1) {
		if (write)
			pic_imr[port == 0xa1] = (uint8_t)val;
		return write ? 0 : pic_imr[port == 0xa1];
	}
	if (port == 0x20 || port == 0xa0 || port == 0x4d0 || port == 0x4d1 ||
	    (port >= 0x40 && port <= 0x43) || port == 0x61)
		return 0;
	return exit_access(true, port, len, write, val);
}

/* ---- MSRs ---- */

uint64_t nc_rdmsr(uint32_t index)
{
	uint32_t lo, hi;

	switch (index) {
	case 0xc0000080: return nc.efer;
	case 0xc0000100: return nc.fs_base;
	case 0xc0000101: return nc.gs_base;
	case 0xc0000102: return nc.kgs_base;
	case 0x1b: return LAPIC_BASE | 0x900;	/* enabled, BSP */
	case 0x10:
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return (uint64_t)hi << 32 | lo;
	}
	for (unsigned i = 0; i < nc.nmsrs; i++)
		if (nc.msrs[i].index == index)
			return nc.msrs[i].value;
	return g_msr(index);
}

void nc_wrmsr(uint32_t index, uint64_t val)
{
	unsigned i;

	switch (index) {
	case 0xc0000080:
		nc.efer = (val & ~0x400ULL) | (nc.efer & 0x400);
		return;
	case 0xc0000100:
		nc.fs_base = val;
		return;
	case 0xc0000101:
		nc.gs_base = val;
		syscall(SYS_arch_prctl, ARCH_SET_GS, val);
		return;
	case 0xc0000102:
		nc.kgs_base = val;
		return;
	}
	for (i = 0; i < nc.nmsrs && nc.msrs[i].index != index; i++)
		;
	if (i == nc.nmsrs) {
		if (nc.nmsrs == sizeof(nc.msrs) / sizeof(nc.msrs[0])) {
			fk_complain("native CPU: too many MSRs written (0x%x)", index);
			return;
		}
		nc.nmsrs++;
	}
	nc.msrs[i].index = index;
	nc.msrs[i].value = val;
}

/* ---- RFLAGS, CS, delivery ---- */

#define FL_USER	0x40dd5ULL	/* CF PF AF ZF SF TF DF OF AC: ring 3 keeps these */

uint64_t nc_rflags(const ucontext_t *uc)
{
	uint64_t f = ((uint64_t)NC_EFL(uc) & FL_USER) | 2 | nc.flags_hi | (nc.vif ? 0x200 : 0);

	if (nc.sti_step)
		f &= ~0x100ULL;
	return f;
}

void nc_set_rflags(ucontext_t *uc, uint64_t f)
{
	NC_EFL(uc) = (greg_t)(((uint64_t)NC_EFL(uc) & ~FL_USER) | (f & FL_USER));
	nc.vif = f & 0x200;
	nc.flags_hi = f & 0x7000;
	nc.sti_step = false;
}

/* The 8-byte descriptor of sel in the guest's GDT, or false. */
static bool gdt_desc(uint16_t sel, uint64_t *d)
{
	return (sel & ~7u) && (uint32_t)(sel | 7) <= nc.gdt_limit &&
	       nc_read(nc.gdt_base + (sel & ~7u), d, 8);
}

void nc_set_cs(ucontext_t *uc, uint16_t sel)
{
	uint64_t d = 0;
	greg_t *csgsfs = &uc->uc_mcontext.gregs[REG_CSGSFS];

	nc.cs = sel;
	nc.lm = gdt_desc(sel, &d) ? (d >> 53) & 1 : true;
	/* The host's 64-bit and 32-bit user code segments; SS __USER_DS. */
	*csgsfs = (greg_t)(((uint64_t)*csgsfs & 0x0000ffffffff0000ULL) | (nc.lm ? 0x33 : 0x23) |
			   0x2bULL << 48);
}

static bool tss_stack(unsigned ist, uint64_t *rsp)
{
	uint64_t lo, hi, base;

	if (!gdt_desc(nc.tr, &lo) || !nc_read(nc.gdt_base + (nc.tr & ~7u) + 8, &hi, 8))
		return false;
	base = ((lo >> 16) & 0xffffff) | ((lo >> 56) & 0xff) << 24 | (hi & 0xffffffff) << 32;
	return nc_read(base + (ist ? 36 + 8 * (ist - 1) : 4), rsp, 8);
}

static bool push(uint64_t *rsp, uint64_t v)
{
	*rsp -= 8;
	return nc_write(*rsp, &v, 8);
}

bool nc_deliver(ucontext_t *uc, unsigned vec, bool has_err, uint64_t err, bool soft)
{
	uint8_t g[16];
	uint64_t rsp, old_rsp = (uint64_t)NC_RSP(uc), fl = nc_rflags(uc);
	unsigned type, dpl, ist, cpl = nc.cs & 3;
	uint16_t sel;

	if ((uint32_t)vec * 16 + 15 > nc.idt_limit || !nc_read(nc.idt_base + vec * 16, g, 16))
		goto gp;
	type = g[5] & 0xf;
	dpl = (g[5] >> 5) & 3;
	ist = g[4] & 7;
	if (!(g[5] & 0x80) || (type != 0xe && type != 0xf))
		goto gp;
	if (soft && dpl < cpl)
		goto gp;
	sel = (uint16_t)(g[2] | g[3] << 8);
	if (ist) {
		if (!tss_stack(ist, &rsp))
			goto gp;
	} else if (cpl) {
		if (!tss_stack(0, &rsp))
			goto gp;
	} else {
		rsp = old_rsp;
	}
	rsp &= ~15ULL;
	if (!push(&rsp, nc.ss) || !push(&rsp, old_rsp) || !push(&rsp, fl) ||
	    !push(&rsp, nc.cs) || !push(&rsp, (uint64_t)NC_RIP(uc)) ||
	    (has_err && !push(&rsp, err)))
		goto gp;
	if (cpl)
		nc.ss = 0;
	if (type == 0xe)
		nc.vif = false;
	nc.sti_step = false;
	NC_EFL(uc) &= ~0x100;			/* TF */
	nc_set_cs(uc, sel);
	NC_RSP(uc) = (greg_t)rsp;
	NC_RIP(uc) = (greg_t)((uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 |
			      (uint64_t)g[7] << 24 | (uint64_t)g[8] << 32 | (uint64_t)g[9] << 40 |
			      (uint64_t)g[10] << 48 | (uint64_t)g[11] << 56);
	return true;
gp:
	/* #GP on the way to #GP is a double fault; no #DF is the end. */
	if (vec == 8)
		return false;
	if (vec == 13)
		return nc_deliver(uc, 8, true, 0, false);
	return nc_deliver(uc, 13, true, vec * 8 + 2 + (soft ? 0 : 1), false);
}

/* ---- HLT ---- */

void nc_halt(void)
{
	struct timespec ts;

	pthread_mutex_lock(&fk.lock);
	stop_running();
	/* Up to 10 ms: a guest with no interrupt coming polls its clock
	 * afterwards (this CPU has no LAPIC timer to wake it). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	while (!fk.dead && !(nc.vif && next_vector() >= 0))
		if (pthread_cond_timedwait(&fk.cond, &fk.lock, &ts) == ETIMEDOUT && nc.vif)
			break;
	start_running();
	pthread_mutex_unlock(&fk.lock);
}

/* ---- the trap handler ---- */

void nc_complain_insn(const ucontext_t *uc, const char *what)
{
	uint8_t b[8] = { 0 };
	uint64_t rip = (uint64_t)NC_RIP(uc);

	for (unsigned i = 0; i < sizeof(b); i++)
		nc_read(rip + i, &b[i], 1);
	fk_complain("native CPU: %s at rip 0x%llx (%02x %02x %02x %02x %02x %02x %02x %02x)",
		    what, (unsigned long long)rip, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

static void shut_down(const char *why)
{
	fprintf(stderr, "kvmfake: native CPU: %s: triple fault (KVM_EXIT_SHUTDOWN)\n", why);
	g_special_exit(KVM_EXIT_SHUTDOWN);
	pthread_mutex_lock(&fk.lock);
	stop_running();
	for (;;) {
		if (fk.dead)
			park();
		pthread_cond_wait(&fk.cond, &fk.lock);
	}
}

static void enter(ucontext_t *uc)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	g_boot_state(&r, &s);
	if (!(s.cr0 & 1)) {
		fk_complain("native CPU: vCPU 0 starts in real mode, which it cannot run");
		shut_down("real mode");
	}
	*nc_reg(uc, 0) = (greg_t)r.rax, *nc_reg(uc, 1) = (greg_t)r.rcx;
	*nc_reg(uc, 2) = (greg_t)r.rdx, *nc_reg(uc, 3) = (greg_t)r.rbx;
	*nc_reg(uc, 4) = (greg_t)r.rsp, *nc_reg(uc, 5) = (greg_t)r.rbp;
	*nc_reg(uc, 6) = (greg_t)r.rsi, *nc_reg(uc, 7) = (greg_t)r.rdi;
	*nc_reg(uc, 8) = (greg_t)r.r8, *nc_reg(uc, 9) = (greg_t)r.r9;
	*nc_reg(uc, 10) = (greg_t)r.r10, *nc_reg(uc, 11) = (greg_t)r.r11;
	*nc_reg(uc, 12) = (greg_t)r.r12, *nc_reg(uc, 13) = (greg_t)r.r13;
	*nc_reg(uc, 14) = (greg_t)r.r14, *nc_reg(uc, 15) = (greg_t)r.r15;
	NC_RIP(uc) = (greg_t)r.rip;
	nc.cr0 = s.cr0, nc.cr3 = s.cr3, nc.cr4 = s.cr4, nc.efer = s.efer;
	nc.gdt_base = s.gdt.base, nc.gdt_limit = s.gdt.limit;
	nc.idt_base = s.idt.base, nc.idt_limit = s.idt.limit;
	nc.tr = s.tr.selector, nc.ss = s.ss.selector;
	nc.gs_base = s.gs.base, nc.fs_base = s.fs.base;
	nc.svr = 0xff, nc.dfr = 0xffffffff;
	for (unsigned i = 0; i < 7; i++)
		nc.lvt[i] = 0x10000;
	for (unsigned i = 0; i < 24; i++)
		nc.redir[i] = 0x10000;
	nc_set_rflags(uc, r.rflags);
	nc_set_cs(uc, s.cs.selector);
	nc.lm = s.cs.l;			/* as KVM_SET_SREGS said, not our GDT lookup */
	uc->uc_mcontext.gregs[REG_CSGSFS] = (greg_t)(((uint64_t)uc->uc_mcontext.gregs[REG_CSGSFS] &
						      0x0000ffffffff0000ULL) | (nc.lm ? 0x33 : 0x23) | 0x2bULL << 48);
	syscall(SYS_arch_prctl, ARCH_SET_GS, nc.gs_base);
	/* In the guest: only our signals get through. */
	sigfillset(&uc->uc_sigmask);
	for (unsigned i = 0; i < sizeof(our_sigs) / sizeof(our_sigs[0]); i++)
		sigdelset(&uc->uc_sigmask, our_sigs[i]);
	sigdelset(&uc->uc_sigmask, KICK_SIG);
}

void nat_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	enum nc_result r = NC_DONE;

	pthread_mutex_lock(&fk.lock);
	stop_running();
	start_running();
	pthread_mutex_unlock(&fk.lock);

	if (nc.sti_step && !(sig == SIGTRAP && si->si_code == TRAP_TRACE)) {
		/* The instruction after STI trapped: it was the shadowed one. */
		nc.sti_step = false;
		NC_EFL(uc) &= ~0x100;
	}
	switch (sig) {
	case SIGTRAP:
		if (entering) {
			entering = false;
			enter(uc);
		} else if (si->si_code == TRAP_TRACE && nc.sti_step) {
			nc.sti_step = false;
			NC_EFL(uc) &= ~0x100;
		} else if (!nc_deliver(uc, 3, false, 0, true)) {	/* int3 */
			shut_down("#BP not delivered");
		}
		break;
	case SIGSYS:				/* int $0x80: our seccomp filter */
		*nc_reg(uc, 0) = (greg_t)(uint32_t)si->si_syscall;
		if (!nc_deliver(uc, 0x80, false, 0, true))
			shut_down("INT 0x80 not delivered");
		break;
	case SIGILL:
		if (!nc_deliver(uc, 6, false, 0, false))
			shut_down("#UD not delivered");
		break;
	case SIGFPE:
		if (!nc_deliver(uc, 0, false, 0, false))
			shut_down("#DE not delivered");
		break;
	case SIGSEGV:
	case SIGBUS:
		if (si->si_code == SI_KERNEL) {
			r = nc_emulate_gp(uc);
			if (r == NC_UNKNOWN) {
				nc_complain_insn(uc, "#GP on an instruction not emulated");
				r = NC_FAULT_GP;
			}
		} else {
			uint64_t a = (uint64_t)(uintptr_t)si->si_addr;

			if (a == (uint64_t)NC_RIP(uc)) {
				nc.cr2 = a;
				if (!nc_deliver(uc, 14, true, 0x10 | 4, false))
					shut_down("#PF not delivered");
				break;
			}
			r = nc_emulate_access(uc, a);
			if (r == NC_UNKNOWN) {
				nc_complain_insn(uc, "an MMIO access by an instruction not emulated");
				nc.cr2 = a;
				if (!nc_deliver(uc, 14, true, 4, false))
					shut_down("#PF not delivered");
				r = NC_DONE;
			}
		}
		if (r == NC_FAULT_GP && !nc_deliver(uc, 13, true, 0, false))
			shut_down("#GP not delivered");
		if (r == NC_HALT)
			nc_halt();
		break;
	default:				/* KICK_SIG: look for interrupts below */
		break;
	}
	pthread_mutex_lock(&fk.lock);
	start_running();
	if (nc.vif && !nc.sti_step) {
		int v = next_vector();

		if (v >= 0) {
			take_vector(v);
			if (!nc_deliver(uc, (unsigned)v, false, 0, false)) {
				pthread_mutex_unlock(&fk.lock);
				shut_down("an interrupt not delivered");
			}
		}
	}
	pthread_mutex_unlock(&fk.lock);
}

/* ---- set-up ---- */

/* This thread's int $0x80 (a compat syscall) traps instead of running. */
static bool trap_compat_syscalls(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

/* A second mapping of each RAM slot at its guest-physical address. */
static bool map_identity(void)
{
	unsigned long min = 65536;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");

	if (f) {
		if (fscanf(f, "%lu", &min) != 1)
			min = 65536;
		fclose(f);
	}
	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++)
		if (fk.slots[i].used)
			ram[nram].gpa = fk.slots[i].gpa, ram[nram].size = fk.slots[i].size,
			ram[nram++].host = fk.slots[i].host;
	pthread_mutex_unlock(&fk.lock);
	for (unsigned i = 0; i < nram; i++) {
		uint64_t skip = ram[i].gpa < min ? (min - ram[i].gpa + 4095) & ~4095ULL : 0;
		void *want = (void *)(uintptr_t)(ram[i].gpa + skip), *p;

		if (skip >= ram[i].size)
			continue;
		/* Refuse to land on anything of this process's. */
		p = mmap(want, ram[i].size - skip, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != want) {
			fk_complain("native CPU: guest-physical 0x%llx.. is taken in this process",
				    (unsigned long long)ram[i].gpa);
			return false;
		}
		p = mremap(ram[i].host + skip, 0, ram[i].size - skip, MREMAP_MAYMOVE | MREMAP_FIXED, want);
		if (p != want || mprotect(want, ram[i].size - skip, PROT_READ | PROT_WRITE | PROT_EXEC)) {
			fk_complain("native CPU: cannot map guest RAM at 0x%llx: %s",
				    (unsigned long long)ram[i].gpa, strerror(errno));
			return false;
		}
	}
	/* Keep the rest of the low 4 GiB (the MMIO hole) ours: accesses fault. */
	for (uint64_t a = 1ULL << 20; a < 1ULL << 32; a += 1ULL << 20)
		if (!nc_ram(a, 1))
			mmap((void *)(uintptr_t)a, 1ULL << 20, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	return true;
}

void native_main(void)
{
	struct sigaction sa;
	stack_t ss = { .ss_sp = nat_altstack, .ss_size = ALT_SIZE };
	sigset_t none;

	fprintf(stderr, "kvmfake: native CPU: running the guest kite loaded\n");
	if (!map_identity() || !trap_compat_syscalls()) {
		fk_complain("native CPU: set-up failed (%s)", strerror(errno));
		shut_down("set-up failed");
	}
	syscall(SYS_arch_prctl, ARCH_GET_FS, &nat_host_fs);
	cpu_thread = pthread_self();
	if (sigaltstack(&ss, NULL)) {
		fk_complain("native CPU: sigaltstack: %s", strerror(errno));
		shut_down("set-up failed");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = nat_sig_entry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(our_sigs) / sizeof(our_sigs[0]); i++)
		real_sigaction(our_sigs[i], &sa, &chained[our_sigs[i]]);
	real_sigaction(KICK_SIG, &sa, &chained[KICK_SIG]);
	pthread_mutex_lock(&fk.lock);
	start_running();
	__atomic_store_n(&active, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fk.lock);
	/* The int3 below enters the guest (enter()) and never comes back. */
	entering = true;
	sigemptyset(&none);
	sigaddset(&none, SIGTRAP);
	pthread_sigmask(SIG_UNBLOCK, &none, NULL);
	__asm__ volatile("int3" ::: "memory");
	fk_complain("native CPU: the guest returned to the fake");
	for (;;)
		pause();
}
