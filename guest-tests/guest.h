/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kite test guest: constants shared by C and assembly, basic types and the
 * few CPU helpers every file wants.
 *
 * The guest is a tiny kernel: ring 0 only sets up the CPU and serves traps and
 * syscalls; the program itself runs in ring 3, because on the PVM hosts kite
 * is developed on guest ring-0 code is emulated and thousands of times slower.
 */
#ifndef GUEST_H
#define GUEST_H

#define MAX_CPUS	64
#define KSTACK_SIZE	8192	/* ring 0: traps and syscalls only */
#define USTACK_SIZE	32768	/* ring 3: the program itself */
#define ISTACK_SIZE	4096	/* double fault */

/* GDT layout; 0x08/0x10/0x18 match what a Linux-style loader gives too. */
#define KERNEL_CS32	0x08
#define KERNEL_CS	0x10
#define KERNEL_DS	0x18
#define USER_DS		(0x20 | 3)
#define USER_CS		(0x28 | 3)
#define TSS_SEL0	0x30	/* one 16-byte TSS descriptor per CPU */
#define GDT_ENTRIES	(6 + 2 * MAX_CPUS)

#define BOOT_PVH	1
#define BOOT_LINUX64	2
#define BOOT_MULTIBOOT	3

#define MB_BOOT_MAGIC	0x2badb002

/* int 0x80: %rax = number, %rdi/%rsi/%rdx = arguments, result in %rax. */
#define VEC_SYSCALL	0x80
#define VEC_WAKE	0x40	/* IPI that wakes an idle AP */
#define VEC_DEV		0x50	/* device interrupts (MSI-X), VEC_DEV + 0..NR_DEV_VECS-1: */
#define NR_DEV_VECS	16	/* only counted, per CPU (cpu.h irq_count) */
#define VEC_SPURIOUS	0xff
#define SYS_EXIT_USER	0	/* leave ring 3: run_user() returns %rdi */
#define SYS_WRITE	1	/* console: buf, len */
#define SYS_IN		2	/* port, size -> value */
#define SYS_OUT		3	/* port, size, value */
#define SYS_HALT	4	/* stop this CPU for good */
#define SYS_TRIPLE_FAULT 5	/* mode=triple: an empty IDT, then #UD */
#define SYS_IRQS	6	/* 1: take interrupts in ring 3 (RFLAGS.IF), 0: not */
#define SYS_WRMSR	7	/* msr, value: kvmclock's MSRs only (migrate_work.c) */

/* struct percpu offsets the assembly uses. */
#define PC_KRSP		0
#define PC_TSS		8
#define PC_CPL		16

#ifdef __ASSEMBLER__
#define _UL(x)		x
#else
#define _UL(x)		x##UL
#endif

#define PAGE_SIZE	4096
#define LARGE_PAGE	_UL(0x200000)
#define MAPPED_LIMIT	(_UL(64) << 30)	/* identity map covers [0, 64 GiB) */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((u64)(a) - 1))
#define MiB		(1UL << 20)

static inline void barrier(void) { asm volatile("" ::: "memory"); }
static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }

/*
 * The ring we run in, as the per-CPU copy the trap entry and exit code keep
 * (isr.S: 0 on every trap entry, the frame's CS RPL on the way out, 3 on the
 * way into ring 3). Not read from %cs: that read cannot be intercepted, and
 * a trap-and-emulate CPU (kvmfake's native mode) runs ring 0 code in ring 3.
 * %gs points at this CPU's block from the first 64-bit instruction (head.S).
 */
static inline unsigned cpl(void)
{
	u32 v;

	asm volatile("movl %%gs:%c1, %0" : "=r"(v) : "i"(PC_CPL));
	return v;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline long syscall3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "memory");
	return ret;
}

/*
 * Port I/O works from either ring: ring 0 does it directly, ring 3 asks ring 0
 * (IOPL=3 set by the guest itself is not honoured on PVM).
 */
static inline u32 port_in(u16 port, int size)
{
	u32 v = 0;

	if (cpl())
		return syscall3(SYS_IN, port, size, 0);
	if (size == 1) {
		u8 b;
		asm volatile("inb %1, %0" : "=a"(b) : "Nd"(port));
		v = b;
	} else if (size == 2) {
		u16 w;
		asm volatile("inw %1, %0" : "=a"(w) : "Nd"(port));
		v = w;
	} else {
		asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	}
	return v;
}

static inline void port_out(u16 port, int size, u32 v)
{
	if (cpl()) {
		syscall3(SYS_OUT, port, size, v);
		return;
	}
	if (size == 1)
		asm volatile("outb %b0, %1" :: "a"(v), "Nd"(port));
	else if (size == 2)
		asm volatile("outw %w0, %1" :: "a"(v), "Nd"(port));
	else
		asm volatile("outl %0, %1" :: "a"(v), "Nd"(port));
}

static inline u8 inb(u16 p) { return port_in(p, 1); }
static inline u16 inw(u16 p) { return port_in(p, 2); }
static inline u32 inl(u16 p) { return port_in(p, 4); }
static inline void outb(u16 p, u8 v) { port_out(p, 1, v); }
static inline void outw(u16 p, u16 v) { port_out(p, 2, v); }
static inline void outl(u16 p, u32 v) { port_out(p, 4, v); }

static inline u8 mmio_read8(u64 addr) { return *(volatile u8 *)(uintptr_t)addr; }
static inline u16 mmio_read16(u64 addr) { return *(volatile u16 *)(uintptr_t)addr; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)(uintptr_t)addr; }
static inline void mmio_write8(u64 addr, u8 v) { *(volatile u8 *)(uintptr_t)addr = v; }
static inline void mmio_write16(u64 addr, u16 v) { *(volatile u16 *)(uintptr_t)addr = v; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)(uintptr_t)addr = v; }

/* Big-endian fields (SCSI, network headers). */
static inline u16 be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static inline u32 be32(const u8 *p) { return (u32)be16(p) << 16 | be16(p + 2); }
static inline u64 be64(const u8 *p) { return (u64)be32(p) << 32 | be32(p + 4); }
static inline void put16(u8 *p, u16 v) { p[0] = v >> 8; p[1] = v; }
static inline void put32(u8 *p, u32 v) { put16(p, v >> 16); put16(p + 2, v); }
static inline void put64(u8 *p, u64 v) { put32(p, v >> 32); put32(p + 4, v); }

/* Physical memory is identity mapped below MAPPED_LIMIT. */
static inline bool phys_ok(u64 addr, u64 len)
{
	return addr < MAPPED_LIMIT && len <= MAPPED_LIMIT - addr;
}

/* The empty asm hides the constant from gcc, which otherwise warns about
 * dereferencing small fixed addresses (the BDA, the BIOS area). */
static inline void *phys(u64 addr)
{
	asm("" : "+r"(addr));
	return (void *)(uintptr_t)addr;
}

/* string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
u32 crc32(const void *buf, size_t len);

/* Image bounds from the linker script. */
extern char _image_start[], _image_end[];

#endif /* __ASSEMBLER__ */
#endif
