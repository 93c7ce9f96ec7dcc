/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AP start-up code, copied to a page below 1 MiB whose number is the SIPI
 * vector. The AP starts here in real mode with %cs = page << 8, %ip = 0. It
 * loads our GDT (whose address is a link-time constant below 4 GiB), turns
 * on protection and jumps into the image, where ap_entry32 takes it on to
 * long mode. Nothing in it depends on where it was copied.
 */
#include "guest.h"

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_gdt_desc - ap_trampoline
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $KERNEL_CS32, $ap_entry32

	.balign 8
ap_gdt_desc:
	.word GDT_ENTRIES * 8 - 1
	.long gdt
ap_trampoline_end:

	.code64
	.section .note.GNU-stack, "", @progbits
