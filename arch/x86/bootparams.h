/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux's struct boot_params ("zero page", Documentation/arch/x86/zero-page.rst)
 * and the setup header inside it at 0x1f1 (boot.rst), as byte offsets: the
 * header is copied from a bzImage byte for byte, and offsets keep every
 * access explicit and bounds-checkable.
 */
#ifndef KITE_ARCH_X86_BOOTPARAMS_H
#define KITE_ARCH_X86_BOOTPARAMS_H

#include <stdint.h>

#include "arch/x86/e820.h"

#define BP_SIZE			0x1000

/* boot_params fields outside the setup header */
#define BP_ACPI_RSDP_ADDR	0x070	/* u64 */
#define BP_EXT_RAMDISK_IMAGE	0x0c0	/* u32, high half of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE	0x0c4	/* u32 */
#define BP_EXT_CMD_LINE_PTR	0x0c8	/* u32 */
#define BP_E820_ENTRIES		0x1e8	/* u8 */
#define BP_SENTINEL		0x1ef	/* u8, must stay 0 */
#define BP_E820_TABLE		0x2d0	/* 128 x 20-byte entries */
#define BP_E820_MAX		128

/* setup header (offsets in the image and in boot_params alike) */
#define HDR_START		0x1f1
#define HDR_SETUP_SECTS		0x1f1	/* u8, 0 means 4 */
#define HDR_SYSSIZE		0x1f4	/* u32, 16-byte paragraphs of protected-mode code */
#define HDR_VID_MODE		0x1fa	/* u16 */
#define HDR_BOOT_FLAG		0x1fe	/* u16, 0xAA55 */
#define HDR_JUMP		0x200	/* u16; byte 0x201 gives the header's end */
#define HDR_HEADER		0x202	/* u32, "HdrS" */
#define HDR_VERSION		0x206	/* u16 */
#define HDR_TYPE_OF_LOADER	0x210	/* u8 */
#define HDR_LOADFLAGS		0x211	/* u8 */
#define HDR_CODE32_START	0x214	/* u32 */
#define HDR_RAMDISK_IMAGE	0x218	/* u32 */
#define HDR_RAMDISK_SIZE	0x21c	/* u32 */
#define HDR_HEAP_END_PTR	0x224	/* u16 */
#define HDR_CMD_LINE_PTR	0x228	/* u32, 2.02+ */
#define HDR_INITRD_ADDR_MAX	0x22c	/* u32, 2.03+: highest byte the initrd may use */
#define HDR_KERNEL_ALIGNMENT	0x230	/* u32, 2.05+ */
#define HDR_RELOCATABLE		0x234	/* u8, 2.05+ */
#define HDR_XLOADFLAGS		0x236	/* u16, 2.12+ */
#define HDR_CMDLINE_SIZE	0x238	/* u32, 2.06+: max length without the NUL */
#define HDR_HARDWARE_SUBARCH	0x23c	/* u32, 2.07+ */
#define HDR_SETUP_DATA		0x250	/* u64, 2.09+ */
#define HDR_PREF_ADDRESS	0x258	/* u64, 2.10+ */
#define HDR_INIT_SIZE		0x260	/* u32, 2.10+ */
#define HDR_END_MAX		0x290	/* boot_params has room for the header up to here */

#define BOOT_FLAG_MAGIC		0xAA55
#define HDR_MAGIC		0x53726448u	/* "HdrS" */
#define LOADER_TYPE_UNDEFINED	0xff
#define LOADFLAGS_LOADED_HIGH	0x01
#define XLF_KERNEL_64		0x0001

/* What a loader fills in boot_params, the same for bzImage and linux64. */
/* Set type_of_loader, cmd_line_ptr, ramdisk, the e820 table and the RSDP in
 * the zero page `zp` (BP_SIZE bytes). */
struct boot_ctx;
/* Command line, initrd (0: none), RSDP and e820 from the loader context. */
void bp_set_loader_fields(uint8_t *zp, const struct boot_ctx *c, uint64_t initrd_addr);

#endif
