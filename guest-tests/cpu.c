// SPDX-License-Identifier: Apache-2.0
/*
 * Ring-0 CPU state: descriptor tables, traps, syscalls, ring-3 entry.
 *
 * Every CPU gets its own TSS (rsp0 for traps from ring 3, an IST stack for
 * double faults) and its own kernel and user stacks. Interrupts stay off
 * everywhere except in an idle AP's hlt and in ring-3 code that asked for
 * them (SYS_IRQS, the virtio drivers): the wake IPI, device vectors (only
 * counted, per CPU) and the spurious vector are all that may arrive.
 */
#include "cpu.h"
#include "console.h"
#include "smp.h"

struct percpu percpu[MAX_CPUS];
static struct tss tss[MAX_CPUS];
/* kstacks[0] is also the boot stack the entry code starts C on. */
u8 kstacks[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
static u8 ustacks[MAX_CPUS][USTACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
static u8 istacks[MAX_CPUS][ISTACK_SIZE] __attribute__((aligned(PAGE_SIZE)));

struct idt_gate {
	u16 off0;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off1;
	u32 off2;
	u32 zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

extern u64 gdt[GDT_ENTRIES];		/* head.S */
extern char isr_stubs[];		/* isr.S: 256 stubs, 16 bytes apart */
long enter_user(long (*fn)(void *), void *arg, u64 user_rsp);	/* isr.S */

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF",
	"#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP",
};

_Static_assert(offsetof(struct percpu, krsp) == PC_KRSP && offsetof(struct percpu, tss) == PC_TSS &&
	       offsetof(struct percpu, cpl) == PC_CPL, "isr.S and guest.h's PC_* offsets");

static struct percpu *this_cpu(void)
{
	struct percpu *pc;

	asm volatile("mov %%gs:%c1, %0" : "=r"(pc) : "i"(offsetof(struct percpu, self)));
	return pc;
}

static void set_gate(unsigned vec, unsigned dpl, unsigned ist)
{
	u64 off = (u64)(uintptr_t)(isr_stubs + 16 * vec);

	idt[vec] = (struct idt_gate){
		.off0 = off, .sel = KERNEL_CS, .ist = ist,
		.type = 0x8e | dpl << 5,	/* present, 64-bit interrupt gate */
		.off1 = off >> 16, .off2 = off >> 32,
	};
}

void cpu_init(unsigned index)
{
	struct percpu *pc = &percpu[index];
	struct tss *t = &tss[index];
	u64 base = (u64)(uintptr_t)t, limit = sizeof(*t) - 1;
	struct { u16 limit; u64 base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (u64)(uintptr_t)idt,
	};
	u64 gs = (u64)(uintptr_t)pc;

	if (index == 0) {
		for (unsigned v = 0; v < 256; v++)
			set_gate(v, 0, 0);
		set_gate(8, 0, 1);		/* double fault on its own stack */
		set_gate(VEC_SYSCALL, 3, 0);	/* reachable from ring 3 */
	}
	t->iopb = sizeof(*t);	/* no I/O bitmap: ring-3 port I/O faults */
	t->ist[0] = (u64)(uintptr_t)(istacks[index] + ISTACK_SIZE);
	t->rsp0 = (u64)(uintptr_t)(kstacks[index] + KSTACK_SIZE);
	/* 64-bit available TSS descriptor (type 9, present). */
	gdt[6 + 2 * index] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ULL << 40 |
			     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[7 + 2 * index] = base >> 32;

	pc->tss = t;
	pc->self = pc;
	pc->index = index;
	asm volatile("ltr %w0" :: "r"(TSS_SEL0 + 16 * index));
	asm volatile("lidt %0" :: "m"(idtr));
	/* %gs stays a null selector, so returning to ring 3 keeps its base. */
	asm volatile("wrmsr" :: "c"(0xc0000101), "a"((u32)gs), "d"((u32)(gs >> 32)));
}

long run_user(long (*fn)(void *), void *arg)
{
	struct percpu *pc = this_cpu();
	long ret;

	if (pc->in_user) {
		printf("FATAL: run_user nested on cpu %u\n", pc->index);
		guest_exit(3);
	}
	pc->in_user = true;
	ret = enter_user(fn, arg, (u64)(uintptr_t)(ustacks[pc->index] + USTACK_SIZE));
	pc->in_user = false;
	return ret;
}

long user_call(long (*fn)(void *), void *arg)
{
	return cpl() ? fn(arg) : run_user(fn, arg);
}

void cpu_halt_forever(void)
{
	if (cpl())
		syscall3(SYS_HALT, 0, 0, 0);
	for (;;)
		asm volatile("cli; hlt");
}

void guest_exit(unsigned status)
{
	outl(0xf4, status);
	printf("guest: the debug-exit port (0xf4) did not end the run (status %u)\n", status);
	cpu_halt_forever();
}

static long do_syscall(struct trap_frame *f)
{
	switch (f->rax) {
	case SYS_WRITE:
		if (!phys_ok(f->rdi, f->rsi))
			return -1;
		console_write_kernel(phys(f->rdi), f->rsi);
		return 0;
	case SYS_IN:
		if (f->rsi != 1 && f->rsi != 2 && f->rsi != 4)
			return -1;
		return port_in(f->rdi, f->rsi);
	case SYS_OUT:
		if (f->rsi != 1 && f->rsi != 2 && f->rsi != 4)
			return -1;
		port_out(f->rdi, f->rsi, f->rdx);
		return 0;
	case SYS_IRQS:
		/* Takes effect at the iretq back to ring 3, and lasts until
		 * that run_user() ends (enter_user starts with IF clear). */
		if (f->rdi)
			f->rflags |= RFLAGS_IF;
		else
			f->rflags &= ~RFLAGS_IF;
		return 0;
	case SYS_WRMSR:
		/* Only kvmclock's system-time MSRs: nothing else is asked for. */
		if (f->rdi != 0x12 && f->rdi != 0x4b564d01)
			return -1;
		asm volatile("wrmsr" :: "c"((u32)f->rdi), "a"((u32)f->rsi), "d"((u32)(f->rsi >> 32)));
		return 0;
	case SYS_HALT:
		cpu_halt_forever();
	case SYS_TRIPLE_FAULT: {
		/* No IDT: #UD cannot be delivered, nor the #DF after it. */
		struct { u16 limit; u64 base; } __attribute__((packed)) none = { 0, 0 };

		asm volatile("lidt %0; ud2" : : "m"(none));
		return -1;
	}
	}
	return -1;
}

/* Called by isr.S for every vector except the ring-3 exit syscall. */
void trap(struct trap_frame *f)
{
	u64 cr2;
	char name[8];

	if (f->vector == VEC_SYSCALL && (f->cs & 3)) {
		f->rax = do_syscall(f);
		return;
	}
	if (f->vector == VEC_WAKE) {
		lapic_eoi();
		return;
	}
	if (f->vector >= VEC_DEV && f->vector < VEC_DEV + NR_DEV_VECS) {
		struct percpu *pc = this_cpu();

		pc->irqs[f->vector - VEC_DEV]++;
		lapic_eoi();
		return;
	}
	if (f->vector == VEC_SPURIOUS)	/* no EOI for a spurious interrupt */
		return;
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	console_set_panic();
	if (f->vector < 32 && exc_names[f->vector])
		snprintf(name, sizeof(name), "%s", exc_names[f->vector]);
	else
		snprintf(name, sizeof(name), "%s", f->vector < 32 ? "exc" : "irq");
	printf("FATAL: exception %lu (%s) error 0x%lx rip 0x%lx cr2 0x%lx rsp 0x%lx cpl %lu cpu %u\n",
	       f->vector, name, f->error, f->rip, cr2, f->rsp, f->cs & 3, this_cpu()->index);
	printf("  rax %lx rbx %lx rcx %lx rdx %lx rsi %lx rdi %lx rbp %lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
	guest_exit(3);
}
