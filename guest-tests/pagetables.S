/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static identity page tables: [0, 64 GiB) in 2 MiB pages, all with U/S set
 * so ring 3 may touch RAM and MMIO alike. They are assembled complete into
 * the image, so no emulated ring-0 loop has to build them at start.
 */
#include "guest.h"

#define PTE_P	0x001
#define PTE_RW	0x002
#define PTE_US	0x004
#define PTE_PS	0x080

#define NR_PDS	(MAPPED_LIMIT >> 30)	/* one page directory per GiB */

	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0

pdpt:
	.set i, 0
	.rept NR_PDS
	.quad pds + i * 4096 + (PTE_P | PTE_RW | PTE_US)
	.set i, i + 1
	.endr
	.fill 512 - NR_PDS, 8, 0

pds:
	.set i, 0
	.rept NR_PDS * 512
	.quad (i << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set i, i + 1
	.endr

	.section .note.GNU-stack, "", @progbits
