/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test aid, not part of the guest: a Multiboot kernel that enters
 * testguest.elf (given as its module) the way kite's linux64 protocol does,
 * so that entry path can be exercised under QEMU, which has no such
 * protocol. It builds what kite builds: a flat GDT (0x08 code32, 0x10
 * code64, 0x18 data), identity page tables for the low 4 GiB in 2 MiB pages,
 * boot_params at 0x7000; then it jumps to the ELF's e_entry in long mode
 * with %rsi set. (The GDT and tables live in the shim, not at kite's 0x1000
 * and 0x9000: QEMU puts the Multiboot info at 0x9000.)
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003
#define PDPT		(shim_tables + 0x1000)
#define PD		(shim_tables + 0x2000)

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl shim_entry
shim_entry:
	cli
	movl %ebx, shim_mbi
	movl $shim_stack_top, %esp

	/* GDT: null, 0x08 code32, 0x10 code64, 0x18 data (kite's layout). */
	movl $shim_gdt, %edi
	movl $0, 0(%edi)
	movl $0, 4(%edi)
	movl $0x0000ffff, 8(%edi)
	movl $0x00cf9a00, 12(%edi)
	movl $0x0000ffff, 16(%edi)
	movl $0x00af9a00, 20(%edi)
	movl $0x0000ffff, 24(%edi)
	movl $0x00cf9200, 28(%edi)
	lgdt gdt_desc

	/* Page tables: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages. */
	movl $shim_tables, %edi
	xorl %eax, %eax
	movl $(6 * 4096 / 4), %ecx
	rep stosl
	movl $(PDPT + 3), shim_tables
	movl $PDPT, %edi
	movl $(PD + 3), %eax
	movl $4, %ecx
1:	movl %eax, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 1b
	movl $PD, %edi
	movl $0x83, %eax		/* present, writable, 2 MiB */
	xorl %edx, %edx
	movl $2048, %ecx
2:	movl %eax, (%edi)
	movl %edx, 4(%edi)
	addl $0x200000, %eax
	adcl $0, %edx
	addl $8, %edi
	loop 2b

	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $shim_tables, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x10, $3f

	.code64
3:	movl $0x18, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl shim_mbi(%rip), %edi
	call shim_main			/* loads the ELF, fills boot_params: returns e_entry */
	movq $0x7000, %rsi
	xorl %ebp, %ebp
	movq $0x8ff0, %rsp
	jmp *%rax

	.data
	.balign 8
gdt_desc:
	.word 4 * 8 - 1
	.quad shim_gdt
shim_mbi:
	.long 0

	.bss
	.balign 4096
shim_tables:				/* PML4, PDPT, 4 PDs */
	.skip 6 * 4096
shim_gdt:
	.skip 4 * 8
	.balign 16
	.skip 16384
shim_stack_top:

	.section .note.GNU-stack, "", @progbits
