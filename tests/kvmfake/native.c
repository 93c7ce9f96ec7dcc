// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's native CPU (ncpu.h): the set-up, the CPU threads, the trap
 * handler, interrupt delivery through the guest's IDT, and stopping when
 * kite takes a vCPU out of KVM_RUN.
 *
 * Threads: one a vCPU; CPU 0 is the fake's guest thread, an AP's thread
 * starts the guest at INIT/SIPI. Every trap runs its handler on that
 * thread's signal stack; the handler may block there (a port read waits
 * for kite's KVM_RUN to complete it, HLT waits for an interrupt). A CPU's
 * `running` (under fk.lock) says it may execute guest code or touch guest
 * RAM: it is only set while its vCPU is inside KVM_RUN, and the vCPU does
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

/* A standard signal: repeated kicks coalesce (realtime ones would queue). */
#define KICK_SIG	SIGSTKFLT
#define ALT_SIZE	(256 * 1024)	/* a CPU's signal stack; host %fs base at its start */

struct ncpu ncpus[FK_MAX_VCPUS];
unsigned ncpu_count;
__thread struct ncpu *nc_self;

/* Read by the signal entry stub below: where the CPUs' signal stacks are. */
__attribute__((visibility("hidden"))) uint64_t nat_alt_lo, nat_alt_hi;

static bool active, emu;
static unsigned parked;
static unsigned stop_waiters;	/* in fk_native_stop: the only ones who care */
static struct sigaction chained[_NSIG];
static const int our_sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS };

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
	"	cmpq nat_alt_lo(%rip), %rsp\n"
	"	jb 1f\n"
	"	cmpq nat_alt_hi(%rip), %rsp\n"
	"	jae 1f\n"
	"	pushq %rdi\n"
	"	pushq %rsi\n"
	"	pushq %rdx\n"
	"	movq %rsp, %rsi\n"		/* this CPU's stack: its %fs base */
	"	andq $-262144, %rsi\n"
	"	movq (%rsi), %rsi\n"
	"	movl $158, %eax\n"		/* arch_prctl(ARCH_SET_FS, base) */
	"	movl $0x1002, %edi\n"
	"	syscall\n"
	"	popq %rdx\n"
	"	popq %rsi\n"
	"	popq %rdi\n"
	"	jmp nat_trap\n"
	"1:	jmp nat_chain\n");
_Static_assert(ALT_SIZE == 262144, "nat_sig_entry's signal stack size and alignment");

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

/* kite's memfds and its shared mappings of them, to map RAM a second time
 * (mremap cannot alias hugetlbfs mappings). Only noted, never changed. */
static struct { void *addr; size_t len; int fd; off_t off; } shm[FK_MAX_SLOTS];
static int memfds[8];
static unsigned nshm, nmemfd;
static pthread_mutex_t shm_lock = PTHREAD_MUTEX_INITIALIZER;

int memfd_create(const char *name, unsigned flags)
{
	int fd = (int)syscall(SYS_memfd_create, name, flags);

	pthread_mutex_lock(&shm_lock);
	if (fd >= 0 && nmemfd < sizeof(memfds) / sizeof(memfds[0]))
		memfds[nmemfd++] = fd;
	pthread_mutex_unlock(&shm_lock);
	return fd;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	void *p;

	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	p = real(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && fd >= 0 && (flags & MAP_SHARED)) {
		pthread_mutex_lock(&shm_lock);
		for (unsigned i = 0; i < nmemfd; i++)
			if (memfds[i] == fd && nshm < FK_MAX_SLOTS)
				shm[nshm].addr = p, shm[nshm].len = len, shm[nshm].fd = fd,
				shm[nshm++].off = off;
		pthread_mutex_unlock(&shm_lock);
	}
	return p;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

/* A second mapping of host..host+len at want, of the memfd behind it. */
static bool map_again(uint8_t *host, size_t len, void *want)
{
	int fd = -1;
	off_t off = 0;

	pthread_mutex_lock(&shm_lock);
	for (unsigned i = 0; i < nshm && fd < 0; i++) {
		uint8_t *a = shm[i].addr;

		if (host >= a && host + len <= a + shm[i].len)
			fd = shm[i].fd, off = shm[i].off + (host - a);
	}
	pthread_mutex_unlock(&shm_lock);
	return fd >= 0 && mmap(want, len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_FIXED,
			       fd, off) == want;
}

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

/* The guest's 4-level page walk (only when an access faulted here). */
bool nc_translate(uint64_t va, uint64_t *pa)
{
	const uint64_t frame = 0x000ffffffffff000ULL;
	uint64_t t = nc.cr3 & frame, e;

	if (!(nc.cr0 & 0x80000000u)) {
		*pa = va;
		return true;
	}
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);

		if (!nc_read(t + ((va >> shift) & 511) * 8, &e, 8) || !(e & 1))
			return false;
		if ((level == 2 || level == 3) && (e & 0x80)) {	/* 2 MiB, 1 GiB page */
			*pa = (e & frame & ~((1ULL << shift) - 1)) | (va & ((1ULL << shift) - 1));
			return true;
		}
		t = e & frame;
	}
	*pa = t | (va & 0xfff);
	return true;
}

/* ---- running and stopping (fk.lock held) ---- */

/* kite let go of vCPU 0: this CPU stops for good, before RAM goes. */
static void park(void)
{
	if (++parked == ncpu_count)
		fk.guest_parked = true;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
	for (;;)
		pause();
}

void nc_stop_running(void)
{
	nc.running = false;
	if (stop_waiters)
		pthread_cond_broadcast(&fk.cond);
}

/* Wait until this CPU's vCPU is in KVM_RUN, then run. */
void nc_start_running(void)
{
	while (!fk.dead && !fk.vcpus[nc.cpu].in_run) {
		if (nc.running)
			nc_stop_running();
		pthread_cond_wait(&fk.cond, &fk.lock);
	}
	if (fk.dead)
		park();
	nc.running = true;
}

/* Make CPU cpu look at fk: a flag the interpreter polls, a signal for
 * code running natively. */
static void kick(unsigned cpu)
{
	__atomic_store_n(&ncpus[cpu].kick, true, __ATOMIC_RELAXED);
	if (!emu)
		pthread_kill(ncpus[cpu].thread, KICK_SIG);
}

void fk_native_poke(unsigned cpu)
{
	if (active && cpu < ncpu_count)
		kick(cpu);
}

void fk_native_stop(unsigned cpu)
{
	struct timespec ts;

	if (!active || cpu >= ncpu_count)
		return;
	stop_waiters++;
	while (ncpus[cpu].running) {
		kick(cpu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 2000000;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
	}
	stop_waiters--;
}

bool fk_native_active(void)
{
	return active;
}

/* An access kite serves: the CPU does not run while it is out as an exit. */
uint64_t nc_exit_access(bool pio, uint64_t addr, unsigned len, bool write, uint64_t val)
{
	uint64_t r;

	pthread_mutex_lock(&fk.lock);
	nc_stop_running();
	pthread_mutex_unlock(&fk.lock);
	r = fk_access(nc.cpu, pio ? KVM_EXIT_IO : KVM_EXIT_MMIO, addr, len, write, val);
	pthread_mutex_lock(&fk.lock);
	/* The emulated CPU finishes the instruction before it stops, as KVM
	 * does in the KVM_RUN that completes the access: kite's KVM_GET_*
	 * then see it done (fk_access returns inside that KVM_RUN). */
	if (emu && !fk.dead)
		nc.running = true;
	else
		nc_start_running();
	pthread_mutex_unlock(&fk.lock);
	return r;
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

/* The host's selectors the signal return loads: its 64-bit or 32-bit user
 * code segment, and SS __USER_DS. */
static void host_cs(ucontext_t *uc, bool lm)
{
	greg_t *csgsfs = &uc->uc_mcontext.gregs[REG_CSGSFS];

	*csgsfs = (greg_t)(((uint64_t)*csgsfs & 0x0000ffffffff0000ULL) | (lm ? 0x33 : 0x23) |
			   0x2bULL << 48);
}

void nc_set_cs(ucontext_t *uc, uint16_t sel)
{
	uint64_t d = 0;

	nc.cs = sel;
	nc.lm = gdt_desc(sel, &d) ? (d >> 53) & 1 : true;
	host_cs(uc, nc.lm);
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
	nc_stop_running();
	/* Up to 10 ms: a guest with no interrupt coming polls its clock
	 * afterwards (this CPU has no LAPIC timer to wake it). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	while (!fk.dead && !(nc.vif && nc_next_vector() >= 0))
		if (pthread_cond_timedwait(&fk.cond, &fk.lock, &ts) == ETIMEDOUT && nc.vif)
			break;
	nc_start_running();
	pthread_mutex_unlock(&fk.lock);
}

/* ---- the trap handler ---- */

void nc_complain_insn(const ucontext_t *uc, const char *what)
{
	uint8_t b[8] = { 0 };
	uint64_t rip = (uint64_t)NC_RIP(uc);

	for (unsigned i = 0; i < sizeof(b); i++)
		nc_read(rip + i, &b[i], 1);
	fk_complain("native CPU %u: %s at rip 0x%llx (%02x %02x %02x %02x %02x %02x %02x %02x)",
		    nc.cpu, what, (unsigned long long)rip, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

void nc_shut_down(const char *why)
{
	fprintf(stderr, "kvmfake: native CPU %u: %s: triple fault (KVM_EXIT_SHUTDOWN)\n", nc.cpu, why);
	fk_access(nc.cpu, KVM_EXIT_SHUTDOWN, 0, 0, true, 0);
	pthread_mutex_lock(&fk.lock);
	nc_stop_running();
	for (;;) {
		if (fk.dead)
			park();
		pthread_cond_wait(&fk.cond, &fk.lock);
	}
}

static __thread bool entering;

void nc_sipi_state(struct kvm_regs *r, struct kvm_sregs *s)
{
	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	r->rflags = 2;
	s->cr0 = 0x60000010;
	s->cs.selector = (uint16_t)(nc.sipi << 8);
	s->cs.base = (uint64_t)nc.sipi << 12;
	s->gdt.limit = s->idt.limit = 0xffff;
}

/* vCPU 0 as kite set it up; an AP in real mode at its SIPI vector. */
static void enter(ucontext_t *uc)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	const struct kvm_segment *seg[6];

	if (nc.cpu == 0)
		g_boot_state(&r, &s);
	else
		nc_sipi_state(&r, &s);
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
	nc.tr = s.tr.selector, nc.ss = s.ss.selector, nc.cs = s.cs.selector;
	nc.gs_base = s.gs.base, nc.fs_base = s.fs.base;
	seg[0] = &s.es, seg[1] = &s.cs, seg[2] = &s.ss, seg[3] = &s.ds, seg[4] = &s.fs, seg[5] = &s.gs;
	for (unsigned i = 0; i < 6; i++)
		nc.seg_base[i] = seg[i]->base, nc.sel[i] = seg[i]->selector;
	nc.code32 = s.cs.db;
	nc_lapic_reset();
	nc_set_rflags(uc, r.rflags);
	/* In the guest: only our signals get through. */
	sigfillset(&uc->uc_sigmask);
	for (unsigned i = 0; i < sizeof(our_sigs) / sizeof(our_sigs[0]); i++)
		sigdelset(&uc->uc_sigmask, our_sigs[i]);
	sigdelset(&uc->uc_sigmask, KICK_SIG);
	syscall(SYS_arch_prctl, ARCH_SET_GS, nc.gs_base);
	/* 64-bit code runs natively from here; anything else is interpreted
	 * until it far-jumps into 64-bit code. */
	nc.lm = s.cs.l;
	host_cs(uc, true);	/* what interp.c leaves for: 64-bit code */
	if (!nc.lm && !nc_interpret(uc))
		nc_shut_down("start-up code it cannot interpret");
}

void nat_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	enum nc_result r = NC_DONE;

	pthread_mutex_lock(&fk.lock);
	if (fk.dead || !fk.vcpus[nc.cpu].in_run) {	/* kite wants this CPU stopped */
		nc_stop_running();
		nc_start_running();
	}
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
			nc_shut_down("#BP not delivered");
		}
		break;
	case SIGSYS:				/* int $0x80: our seccomp filter */
		*nc_reg(uc, 0) = (greg_t)(uint32_t)si->si_syscall;
		if (!nc_deliver(uc, 0x80, false, 0, true))
			nc_shut_down("INT 0x80 not delivered");
		break;
	case SIGILL:
		if (!nc_deliver(uc, 6, false, 0, false))
			nc_shut_down("#UD not delivered");
		break;
	case SIGFPE:
		if (!nc_deliver(uc, 0, false, 0, false))
			nc_shut_down("#DE not delivered");
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
			uint64_t a = (uint64_t)(uintptr_t)si->si_addr, pa;
			bool fetch = a == (uint64_t)NC_RIP(uc);

			if (fetch || !nc_translate(a, &pa)) {
				/* Not present in the guest's page tables: its #PF. */
				nc.cr2 = a;
				if (!nc_deliver(uc, 14, true, (fetch ? 0x10 : 0) | ((nc.cs & 3) ? 4 : 0) |
						((uint64_t)uc->uc_mcontext.gregs[REG_ERR] & 2), false))
					nc_shut_down("#PF not delivered");
				break;
			}
			r = nc_emulate_access(uc, pa);
			if (r == NC_UNKNOWN) {
				nc_complain_insn(uc, "an MMIO access by an instruction not emulated");
				nc.cr2 = a;
				if (!nc_deliver(uc, 14, true, 4, false))
					nc_shut_down("#PF not delivered");
				r = NC_DONE;
			}
		}
		if (r == NC_FAULT_GP && !nc_deliver(uc, 13, true, 0, false))
			nc_shut_down("#GP not delivered");
		if (r == NC_HALT)
			nc_halt();
		break;
	default:				/* KICK_SIG: look for interrupts below */
		break;
	}
	pthread_mutex_lock(&fk.lock);
	nc_start_running();
	if (nc.vif && !nc.sti_step) {
		int v = nc_next_vector();

		if (v >= 0) {
			nc_take_vector(v);
			if (!nc_deliver(uc, (unsigned)v, false, 0, false)) {
				pthread_mutex_unlock(&fk.lock);
				nc_shut_down("an interrupt not delivered");
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

/* kite's RAM slots as they are now (nc_ram's table). */
static void note_ram(void)
{
	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++)
		if (fk.slots[i].used && nram < FK_MAX_SLOTS)
			ram[nram].gpa = fk.slots[i].gpa, ram[nram].size = fk.slots[i].size,
			ram[nram++].host = fk.slots[i].host;
	pthread_mutex_unlock(&fk.lock);
}

void nc_begin(unsigned n, bool interpreted)
{
	note_ram();
	for (unsigned i = 0; i < n; i++)
		ncpus[i] = (struct ncpu){ .cpu = i, .sipi = -1 };
	ncpu_count = n;
	nc_self = &ncpus[0];
	ncpus[0].thread = pthread_self();
	emu = interpreted;
	__atomic_store_n(&active, true, __ATOMIC_RELEASE);
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
	for (unsigned i = 0; i < nram; i++) {
		uint64_t skip = ram[i].gpa < min ? (min - ram[i].gpa + 4095) & ~4095ULL : 0;
		void *want = (void *)(uintptr_t)(ram[i].gpa + skip), *p;
		bool ok;

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
		/* hugetlbfs RAM maps only from a hugepage boundary: what lies
		 * below it is reached through the emulation (nc_phys). */
		ok = map_again(ram[i].host + skip, ram[i].size - skip, want);
		for (uint64_t hp = 2ULL << 20; !ok && hp <= 1ULL << 30; hp <<= 9) {
			uint64_t s2 = ((ram[i].gpa + skip + hp - 1) & ~(hp - 1)) - ram[i].gpa;

			if (s2 >= ram[i].size)
				break;
			munmap(want, s2 - skip);
			skip = s2;
			want = (void *)(uintptr_t)(ram[i].gpa + skip);
			ok = map_again(ram[i].host + skip, ram[i].size - skip, want);
		}
		if (!ok) {
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

/* A CPU's thread: CPU 0 at once, an AP once INIT and SIPI started it. */
static void cpu_main(struct ncpu *c)
{
	uint64_t fs = 0;
	stack_t ss = { .ss_sp = c->alt + 4096, .ss_size = ALT_SIZE - 4096 };
	sigset_t trap;

	nc_self = c;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	memcpy(c->alt, &fs, sizeof(fs));	/* for nat_sig_entry */
	if (sigaltstack(&ss, NULL)) {
		fk_complain("native CPU %u: sigaltstack: %s", c->cpu, strerror(errno));
		nc_shut_down("set-up failed");
	}
	nc_wait_start(c);
	/* The int3 enters the guest (enter()) and never comes back. */
	entering = true;
	sigemptyset(&trap);
	sigaddset(&trap, SIGTRAP);
	pthread_sigmask(SIG_UNBLOCK, &trap, NULL);
	__asm__ volatile("int3" ::: "memory");
	fk_complain("native CPU %u: the guest returned to the fake", c->cpu);
	for (;;)
		pause();
}

/* CPU 0 at once, an AP once INIT and SIPI started it; then, until its
 * vCPU is in KVM_RUN. */
void nc_wait_start(struct ncpu *c)
{
	pthread_mutex_lock(&fk.lock);
	/* An AP kite restored as running (the emulated CPU takes its state
	 * from kite's KVM_SET_*) goes at once. */
	while (c->cpu && !fk.dead && c->sipi < 0 &&
	       !(emu && (fk.vcpus[c->cpu].mp.mp_state == KVM_MP_STATE_RUNNABLE ||
			 fk.vcpus[c->cpu].mp.mp_state == KVM_MP_STATE_HALTED)))
		pthread_cond_wait(&fk.cond, &fk.lock);
	nc_start_running();
	pthread_mutex_unlock(&fk.lock);
}

unsigned nc_vcpu_count(void)
{
	unsigned n;

	pthread_mutex_lock(&fk.lock);
	n = fk.nvcpus ? fk.nvcpus : 1;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

static void (*ap_main)(struct ncpu *c);
static const char *ap_name;

static void *ap_thread(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "%s%u", ap_name, ((struct ncpu *)arg)->cpu);
	pthread_setname_np(pthread_self(), name);
	ap_main(arg);
	return NULL;
}

void nc_start_aps(void (*cpu)(struct ncpu *c), const char *name)
{
	ap_main = cpu;
	ap_name = name;
	for (unsigned i = 1; i < ncpu_count; i++)
		if (pthread_create(&ncpus[i].thread, NULL, ap_thread, &ncpus[i])) {
			fk_complain("%s: cannot start CPU %u's thread", name, i);
			nc_shut_down("set-up failed");
		}
}

void native_main(void)
{
	struct sigaction sa;
	uint8_t *alt;
	unsigned n;

	fprintf(stderr, "kvmfake: native CPU: running the guest kite loaded\n");
	nc_self = &ncpus[0];
	n = nc_vcpu_count();
	/* Signal stacks aligned to their size: nat_sig_entry finds a CPU's
	 * %fs base at the start of the one it is on. */
	note_ram();
	alt = mmap(NULL, (size_t)(n + 1) * ALT_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt == MAP_FAILED || !map_identity() || !trap_compat_syscalls()) {
		fk_complain("native CPU: set-up failed (%s)", strerror(errno));
		nc_shut_down("set-up failed");
	}
	alt = (uint8_t *)(((uintptr_t)alt + ALT_SIZE - 1) & ~(uintptr_t)(ALT_SIZE - 1));
	nat_alt_lo = (uint64_t)(uintptr_t)alt;
	nat_alt_hi = nat_alt_lo + (uint64_t)n * ALT_SIZE;
	for (unsigned i = 0; i < n; i++)
		ncpus[i] = (struct ncpu){ .cpu = i, .sipi = -1, .alt = alt + (size_t)i * ALT_SIZE };
	ncpu_count = n;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = nat_sig_entry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(our_sigs) / sizeof(our_sigs[0]); i++)
		real_sigaction(our_sigs[i], &sa, &chained[our_sigs[i]]);
	real_sigaction(KICK_SIG, &sa, &chained[KICK_SIG]);
	/* The APs inherit this thread's seccomp filter and blocked signals. */
	nc_start_aps(cpu_main, "kvmfake-cpu");
	ncpus[0].thread = pthread_self();
	__atomic_store_n(&active, true, __ATOMIC_RELEASE);
	cpu_main(&ncpus[0]);
}
