// SPDX-License-Identifier: Apache-2.0
/*
 * PVH boot (Xen's arch-x86/hvm/start_info.h): load the ELF's segments, build
 * hvm_start_info version 1 with the module list (the initrd) and the memory
 * map, and enter the note's 32-bit entry in flat protected mode, paging off,
 * with %ebx = the start_info address.
 */
#include <inttypes.h>

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

#define HVM_START_MAGIC		0x336ec578u
#define HVM_START_VERSION	1	/* has memmap_paddr/memmap_entries */

/* struct hvm_start_info field offsets (56 bytes in version 1) */
#define SI_MAGIC		0
#define SI_VERSION		4
#define SI_FLAGS		8
#define SI_NR_MODULES		12
#define SI_MODLIST_PADDR	16
#define SI_CMDLINE_PADDR	24
#define SI_RSDP_PADDR		32
#define SI_MEMMAP_PADDR		40
#define SI_MEMMAP_ENTRIES	48

/* Layout of the BOOT_START_INFO_ADDR page. */
#define SI_AREA_SIZE		0x1000
#define SI_OFF_MODLIST		0x40	/* hvm_modlist_entry: 32 bytes */
#define SI_OFF_MEMMAP		0x80	/* hvm_memmap_table_entry: 24 bytes each */

int pvh_load(const struct boot_ctx *c, struct boot_entry *e)
{
	uint64_t initrd, memmap_len = (uint64_t)c->e820_count * 24;
	uint8_t *si;
	int r;

	if (!c->ki.has_pvh)
		return err_set(EINVAL, "%s: no PVH note", c->path);
	r = elf_load_with_cmdline_initrd(c, ELF_ENTRY_IN_SEGMENT, c->ki.pvh_entry, &initrd);
	if (r)
		return r;
	if (SI_OFF_MEMMAP + memmap_len > SI_AREA_SIZE)
		return err_set(E2BIG, "%s: %u memory map entries overflow the PVH start_info page",
			       c->path, c->e820_count);
	si = boot_zeroed(c, BOOT_START_INFO_ADDR, SI_AREA_SIZE, "PVH start_info");
	if (!si)
		return -ENOSPC;

	st32(si + SI_MAGIC, HVM_START_MAGIC);
	st32(si + SI_VERSION, HVM_START_VERSION);
	st32(si + SI_FLAGS, 0);
	st64(si + SI_CMDLINE_PADDR, BOOT_CMDLINE_ADDR);
	st64(si + SI_RSDP_PADDR, c->in->rsdp_addr);
	if (initrd) {
		uint8_t *mod = si + SI_OFF_MODLIST;

		st64(mod, initrd);			/* paddr */
		st64(mod + 8, c->in->initrd_size);	/* size */
		/* cmdline_paddr and reserved stay 0 */
		st32(si + SI_NR_MODULES, 1);
		st64(si + SI_MODLIST_PADDR, BOOT_START_INFO_ADDR + SI_OFF_MODLIST);
	}
	/* hvm_memmap_table_entry types are the e820 types. */
	for (unsigned i = 0; i < c->e820_count; i++) {
		uint8_t *m = si + SI_OFF_MEMMAP + 24 * i;

		st64(m, c->e820[i].addr);
		st64(m + 8, c->e820[i].size);
		st32(m + 16, c->e820[i].type);
	}
	st64(si + SI_MEMMAP_PADDR, BOOT_START_INFO_ADDR + SI_OFF_MEMMAP);
	st32(si + SI_MEMMAP_ENTRIES, c->e820_count);

	e->long_mode = 0;
	e->rip = c->ki.pvh_entry;
	e->rbx = BOOT_START_INFO_ADDR;
	return 0;
}
