/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry points and the switch to long mode.
 *
 *   pvh_entry     32-bit, paging off, %ebx = hvm_start_info (PVH ELF note)
 *   linux64_entry 64-bit on the loader's page tables, %rsi = boot_params (e_entry)
 *   mb_entry      32-bit, %eax = 0x2badb002, %ebx = multiboot_info (mbheader.S)
 *   ap_entry32    32-bit, reached from the real-mode AP trampoline
 *
 * All of them end on our own GDT and page tables, on a stack in our image,
 * before any C runs. The loader's boot data is only read later, by C, which
 * copies what it needs first thing.
 */
#include "guest.h"

#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
/* Every page is user-accessible, so ring 0 must not have SMEP/SMAP on. */
#define CR4_SMEP_SMAP	0x00300000
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

/* PAE on, our page tables, EFER.LME, paging on, then a far jump to 64-bit code. */
.macro LONG_MODE target
	movl %cr4, %eax
	andl $~CR4_SMEP_SMAP, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $KERNEL_CS, $\target
.endm

/* MSR_GS_BASE = %rax (clobbers %ecx, %edx) */
.macro SET_GS_BASE
	movl $0xc0000101, %ecx
	movq %rax, %rdx
	shrq $32, %rdx
	wrmsr
.endm

	.data
	.balign 8
	.globl boot_proto, boot_magic, boot_info_addr
boot_proto:	.long 0
boot_magic:	.long 0
boot_info_addr:	.quad 0

	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08 kernel code, 32-bit */
	.quad 0x00af9a000000ffff	/* 0x10 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x18 kernel data */
	.quad 0x00cff2000000ffff	/* 0x20 user data (DPL 3) */
	.quad 0x00affa000000ffff	/* 0x28 user code, 64-bit (DPL 3) */
	.fill 2 * MAX_CPUS, 8, 0	/* 0x30: TSS descriptors, filled by cpu_init */
gdt_end:

	/* 32-bit lgdt reads the first 6 bytes, 64-bit lgdt all 10. */
	.balign 8
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.text
	.code32

	.globl pvh_entry
pvh_entry:
	cli
	movl $BOOT_PVH, boot_proto
	movl %ebx, boot_info_addr
	jmp enter_long_mode

/* Shared by the 32-bit entries: %eax and %ebx are free here. */
	.globl enter_long_mode
enter_long_mode:
	lgdt gdt_desc
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	ljmp $KERNEL_CS32, $1f
1:	LONG_MODE bsp_entry64

/* APs arrive here in flat 32-bit protected mode with our GDT loaded. */
	.globl ap_entry32
ap_entry32:
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	LONG_MODE ap_entry64

	.code64

/* ELF e_entry: already in long mode on the loader's tables, which identity
 * map the low 4 GiB, so our image is reachable before and after the switch. */
	.globl linux64_entry
linux64_entry:
	cli
	movq %rsi, boot_info_addr(%rip)
	movl $BOOT_LINUX64, boot_proto(%rip)
	leaq kstacks + KSTACK_SIZE(%rip), %rsp
	lgdt gdt_desc(%rip)
	movq %cr4, %rax
	andq $~CR4_SMEP_SMAP, %rax
	movq %rax, %cr4
	leaq pml4(%rip), %rax
	movq %rax, %cr3
	pushq $KERNEL_CS
	leaq bsp_entry64(%rip), %rax
	pushq %rax
	lretq

bsp_entry64:
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	leaq percpu(%rip), %rax		/* %gs: CPU 0's block (cpl() reads it) */
	SET_GS_BASE
	leaq kstacks + KSTACK_SIZE(%rip), %rsp
	xorl %ebp, %ebp
	cld
	call kmain
2:	cli
	hlt
	jmp 2b

ap_entry64:
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq ap_boot_gs(%rip), %rax	/* %gs: this AP's block */
	SET_GS_BASE
	movq ap_boot_stack(%rip), %rsp
	xorl %ebp, %ebp
	cld
	call ap_main
3:	cli
	hlt
	jmp 3b

	.section .note.GNU-stack, "", @progbits
