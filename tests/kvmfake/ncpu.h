/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmfake's native CPU (KVMFAKE_GUEST=native), shared by native.c (traps,
 * interrupts, CPU threads, entry and stop), ndev.c (the LAPIC, IOAPIC,
 * legacy ports and MSRs), insn.c (decoding and emulating the instructions
 * that trapped) and interp.c (16/32-bit start-up code).
 *
 * The guest image kite loaded runs for real, one thread a vCPU, in
 * ring 3 of this process, on a second mapping of kite's guest RAM at
 * virtual address = guest-physical address (the test guest identity-maps
 * its RAM, so its linear addresses are physical ones). What ring 3 may not
 * do traps, and is emulated here: port I/O, privileged instructions
 * (#GP -> SIGSEGV), MMIO (a fault in the MMIO hole -> SIGSEGV at that
 * address), int $0x80 (a compat syscall -> SIGSYS from the CPU threads'
 * own seccomp filter), ud2 (SIGILL), int3 and single steps (SIGTRAP).
 * Interrupt delivery, IRET and far transfers follow the SDM's 64-bit rules
 * on the guest's own IDT, GDT and TSS, so its ring 0 / ring 3 split works.
 *
 * What it cannot do: real mode beyond what interp.c knows (start-up stubs),
 * a guest whose linear addresses are not physical (its page tables are
 * walked only to tell a #PF), CPUID (executes natively: the host's leaves,
 * not kite's; CPUID faulting is not offered here), and reading %cs (always
 * ring 3's selector).
 */
#ifndef KITE_TESTS_KVMFAKE_NCPU_H
#define KITE_TESTS_KVMFAKE_NCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "model.h"

struct ncpu {
	unsigned cpu;			/* = its vCPU's id and APIC id */
	pthread_t thread;
	bool running;			/* may run guest code now (fk.lock) */
	bool kick;			/* emu.c: look at fk (set without the lock) */
	bool init_seen;			/* an AP: INIT received, waiting for SIPI */
	int sipi;			/* an AP: the SIPI vector to start at, or -1 */
	uint8_t *alt;			/* its signal stack (host %fs base at alt[0]) */
	/* Outside 64-bit code (interp.c): segment bases, D bit, selectors. */
	bool code32;
	uint64_t seg_base[6];		/* es cs ss ds fs gs */
	uint16_t sel[6];
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
	uint16_t tr, cs, ss;		/* the selectors as the guest sees them */
	bool lm;			/* CS.L: executing 64-bit code */
	bool vif;			/* the guest's RFLAGS.IF */
	uint64_t flags_hi;		/* the guest's IOPL and NT */
	bool sti_step;			/* single-stepping the instruction after STI */
	uint64_t fs_base, gs_base, kgs_base;
	/* LAPIC */
	uint32_t apic_id, tpr, svr, ldr, dfr, esr, icr_hi, lvt[7], timer_div;
	uint64_t isr[4];		/* in service (pending ones: its fk_vcpu's vec_pending) */
	/* The LAPIC timer (ndev.c; only a CPU that polls it has one: emu.c) */
	uint32_t timer_init;		/* initial count */
	uint64_t timer_at_ns;		/* CLOCK_MONOTONIC when it fires next, 0: never */
	uint64_t tsc_deadline;		/* IA32_TSC_DEADLINE as written */
	/* MSRs the guest wrote (others read kite's KVM_SET_MSRS values) */
	struct { uint32_t index; uint64_t value; } msrs[64];
	unsigned nmsrs;
};

extern struct ncpu ncpus[FK_MAX_VCPUS];
extern unsigned ncpu_count;
/* The CPU this thread is (valid in the trap handler: %fs is restored). */
extern __thread struct ncpu *nc_self;
#define nc (*nc_self)

/* General registers by x86 number (0 rax .. 15 r15), RIP, RFLAGS. */
greg_t *nc_reg(ucontext_t *uc, unsigned r);
/* An operand of sz bytes of register r (without REX, 4-7 at byte size are
 * AH..BH); writes of 8 and 16 bits merge, 32-bit ones zero-extend. */
uint64_t nc_mask(unsigned sz);
uint64_t nc_get_reg(ucontext_t *uc, unsigned r, unsigned sz, bool rex);
void nc_set_reg(ucontext_t *uc, unsigned r, unsigned sz, bool rex, uint64_t v);
#define NC_RIP(uc) ((uc)->uc_mcontext.gregs[REG_RIP])
#define NC_RSP(uc) ((uc)->uc_mcontext.gregs[REG_RSP])
#define NC_EFL(uc) ((uc)->uc_mcontext.gregs[REG_EFL])

/* Guest-physical memory: a pointer to gpa..gpa+len in RAM, or NULL. */
void *nc_ram(uint64_t gpa, uint64_t len);
bool nc_read(uint64_t gpa, void *dst, unsigned len);
bool nc_write(uint64_t gpa, const void *src, unsigned len);
/* Virtual to physical through the guest's page tables; false if not present. */
bool nc_translate(uint64_t va, uint64_t *pa);

/* ndev.c: what KVM's kernel serves (LAPIC, IOAPIC, PIC, PIT, MSRs), and
 * the accesses that become exits to kite */
uint64_t nc_port(uint16_t port, unsigned len, bool write, uint64_t val);
uint64_t nc_phys(uint64_t gpa, unsigned len, bool write, uint64_t val);
uint64_t nc_rdmsr(uint32_t index);
void nc_wrmsr(uint32_t index, uint64_t val);
void nc_lapic_reset(void);
void nc_lapic_out(struct kvm_lapic_state *st);		/* fk.lock held */
void nc_lapic_in(const struct kvm_lapic_state *st);
/* A line of the IOAPIC changed (fk.lock held): delivered by the guest's
 * redirection entry on a rising edge. */
void nc_ioapic_line(unsigned pin, bool rising);
int nc_next_vector(void);		/* fk.lock held: the vector to take now, or -1 */
/* The timer: fire it if due (fk.lock held; false if it is not armed), and
 * the host's TSC rate the TSC-deadline mode converts with (0: unknown). */
bool nc_timer_poll(uint64_t now_ns);
extern uint64_t nc_tsc_hz;
uint64_t nc_now_ns(void);
void nc_take_vector(int v);		/* fk.lock held */

/* native.c */
/* Set up n CPUs (emu: interpreted, no signals or second RAM mapping) with
 * this thread as CPU 0's, and mark the CPU active. */
void nc_begin(unsigned n, bool emu);
unsigned nc_vcpu_count(void);		/* the VM's vCPUs (kite made them by now) */
/* Start CPUs 1.. (of nc_begin's n), each a thread named NAME<n> running cpu. */
void nc_start_aps(void (*cpu)(struct ncpu *c), const char *name);
void nc_wait_start(struct ncpu *c);
/* This AP as SIPI leaves it: real mode at its vector's page. */
void nc_sipi_state(struct kvm_regs *r, struct kvm_sregs *s);	/* an AP: until SIPI; then until in KVM_RUN */
void nc_start_running(void);		/* fk.lock held */
void nc_stop_running(void);		/* fk.lock held */
void nc_shut_down(const char *why) __attribute__((noreturn));
uint64_t nc_exit_access(bool pio, uint64_t addr, unsigned len, bool write, uint64_t val);
void nc_halt(void);
/* Deliver vector (exception, interrupt or INT n) through the guest's IDT;
 * false if it cannot be delivered at all (the caller shuts down). */
bool nc_deliver(ucontext_t *uc, unsigned vec, bool has_err, uint64_t err, bool soft);
uint64_t nc_rflags(const ucontext_t *uc);
void nc_set_rflags(ucontext_t *uc, uint64_t f);
/* Switch to code selector sel (64-bit or compat by its descriptor). */
void nc_set_cs(ucontext_t *uc, uint16_t sel);
void nc_complain_insn(const ucontext_t *uc, const char *what);

/* interp.c: run real-mode / 32-bit code until a far jump into 64-bit code */
bool nc_interpret(ucontext_t *uc);
/* ALU op n bytes wide (0 add, 1 or, 4 and, 5 sub, 6 xor, 7 cmp), flags as
 * the hardware sets them; cmp leaves *dst. False for adc/sbb. */
bool nc_alu(ucontext_t *uc, unsigned op, uint64_t *dst, uint64_t src, unsigned n);

/* insn.c */
enum nc_result { NC_DONE, NC_FAULT_GP, NC_UNKNOWN, NC_HALT };
/* After #GP from ring 3: emulate the privileged instruction at RIP. */
enum nc_result nc_emulate_gp(ucontext_t *uc);
/* After a fault at gpa (MMIO, or RAM this mapping lacks): emulate the access. */
enum nc_result nc_emulate_access(ucontext_t *uc, uint64_t gpa);

#endif
