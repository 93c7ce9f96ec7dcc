/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XEN_ELFNOTE_PHYS32_ENTRY: tells a PVH loader (kite, QEMU -kernel) to enter
 * pvh_entry in 32-bit protected mode. Linked into testguest.elf only: QEMU
 * prefers a Multiboot header over this note, so the two builds each carry one.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
1:	.asciz "Xen"
2:	.balign 4
3:	.quad pvh_entry
4:	.balign 4

	.section .note.GNU-stack, "", @progbits
