/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multiboot v1 header and entry, linked into testguest-mb.elf only (placed
 * first in .text, so within the file's first 8 KiB). Flags ask for page
 * aligned modules and the memory info; bit 16 is clear, so the loader takes
 * the load addresses and entry point from the ELF headers.
 */
#include "guest.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000003

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl mb_entry
mb_entry:
	cli
	movl $BOOT_MULTIBOOT, boot_proto
	movl %eax, boot_magic
	movl %ebx, boot_info_addr
	jmp enter_long_mode

	.section .note.GNU-stack, "", @progbits
