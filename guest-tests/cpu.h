/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-CPU ring-0 state: GDT/TSS/IDT, the trap and syscall handlers, and the
 * way into ring 3 and back.
 */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include "guest.h"

struct tss {
	u32 reserved0;
	u64 rsp0, rsp1, rsp2;
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iopb;
} __attribute__((packed));

struct percpu {
	u64 krsp;		/* PC_KRSP: kernel %rsp to resume when ring 3 exits */
	struct tss *tss;	/* PC_TSS */
	u32 cpl;		/* PC_CPL: see cpl() */
	struct percpu *self;
	unsigned index;
	bool in_user;
	volatile u32 irqs[NR_DEV_VECS];	/* device interrupts taken, by vector - VEC_DEV */
};

#define RFLAGS_IF	0x200

struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};

extern struct percpu percpu[MAX_CPUS];

/* Load this CPU's GDT/TSS/IDT and per-CPU pointer (ring 0). */
void cpu_init(unsigned index);

/* Ring 0 only: run fn(arg) in ring 3 on this CPU's user stack, return its result. */
long run_user(long (*fn)(void *), void *arg);
/* From either ring: run fn(arg) in ring 3. */
long user_call(long (*fn)(void *), void *arg);

/* End the run: a 32-bit write to the debug-exit port, then stop for good. */
__attribute__((noreturn)) void guest_exit(unsigned status);
/* Stop this CPU (ring 0 or 3). */
__attribute__((noreturn)) void cpu_halt_forever(void);

/* Device interrupts (vector VEC_DEV + i) CPU `cpu` has taken; any ring. */
static inline u32 irq_count(unsigned cpu, unsigned i)
{
	return __atomic_load_n(&percpu[cpu].irqs[i], __ATOMIC_ACQUIRE);
}

/* From ring 3: let interrupts in (on) or keep them out (off) until this
 * run_user() ends. */
static inline void user_irqs(bool on)
{
	syscall3(SYS_IRQS, on, 0, 0);
}

/* Ring 0, interrupts off: sleep until an interrupt (the wake IPI) arrives. */
static inline void cpu_idle_once(void)
{
	asm volatile("sti; hlt; cli" ::: "memory");
}

#endif
