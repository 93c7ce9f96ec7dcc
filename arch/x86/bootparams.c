// SPDX-License-Identifier: Apache-2.0
/* Loader-owned fields of Linux's zero page, shared by bzImage and linux64. */
#include "arch/x86/bootparams.h"

#include "arch/x86/boot_impl.h"

void bp_set_loader_fields(uint8_t *zp, const struct bp_loader *l)
{
	unsigned n = l->e820_count < BP_E820_MAX ? l->e820_count : BP_E820_MAX;

	st8(zp + HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
	/* 64-bit fields split in two halves: the header keeps the low 32 bits
	 * for older readers, the ext_* fields hold the high ones. */
	st32(zp + HDR_CMD_LINE_PTR, (uint32_t)l->cmdline_addr);
	st32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(l->cmdline_addr >> 32));
	st32(zp + HDR_RAMDISK_IMAGE, (uint32_t)l->initrd_addr);
	st32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(l->initrd_addr >> 32));
	st32(zp + HDR_RAMDISK_SIZE, (uint32_t)l->initrd_size);
	st32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(l->initrd_size >> 32));
	st64(zp + BP_ACPI_RSDP_ADDR, l->rsdp_addr);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = zp + BP_E820_TABLE + 20 * i;

		st64(p, l->e820[i].addr);
		st64(p + 8, l->e820[i].size);
		st32(p + 16, l->e820[i].type);
	}
	st8(zp + BP_E820_ENTRIES, (uint8_t)n);
}
