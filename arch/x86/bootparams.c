// SPDX-License-Identifier: Apache-2.0
/* Loader-owned fields of Linux's zero page, shared by bzImage and linux64. */
#include "arch/x86/bootparams.h"

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"

void bp_set_loader_fields(uint8_t *zp, const struct boot_ctx *c, uint64_t initrd_addr)
{
	unsigned n = c->e820_count < BP_E820_MAX ? c->e820_count : BP_E820_MAX;
	uint64_t initrd_size = initrd_addr ? c->in->initrd_size : 0;
	uint64_t cmdline_addr = BOOT_CMDLINE_ADDR;

	st8(zp + HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
	/* 64-bit fields split in two halves: the header keeps the low 32 bits
	 * for older readers, the ext_* fields hold the high ones. */
	st32(zp + HDR_CMD_LINE_PTR, (uint32_t)cmdline_addr);
	st32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(cmdline_addr >> 32));
	st32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	st32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
	st32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	st32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	st64(zp + BP_ACPI_RSDP_ADDR, c->in->rsdp_addr);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = zp + BP_E820_TABLE + 20 * i;

		st64(p, c->e820[i].addr);
		st64(p + 8, c->e820[i].size);
		st32(p + 16, c->e820[i].type);
	}
	st8(zp + BP_E820_ENTRIES, (uint8_t)n);
}
