// SPDX-License-Identifier: Apache-2.0
/*
 * An uncompressed 64-bit kernel (Linux's vmlinux, or any ELF64 that follows
 * the 64-bit boot protocol) without a PVH note: load its segments at p_paddr
 * and enter e_entry in long mode with %rsi = a boot_params built from
 * scratch, since there is no setup header in the image to copy.
 */
#include "arch/x86/boot_impl.h"
#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

/* The protocol version kite's boot_params follow: every field up to 2.15
 * is either filled or validly zero. */
#define LINUX64_HDR_VERSION	0x020f

int linux64_load(const struct boot_ctx *c, struct boot_entry *e)
{
	uint64_t initrd;
	uint8_t *zp;
	int r;

	if (!c->ki.is_elf64)
		return err_set(EINVAL, "%s: linux64 needs an ELF64 kernel", c->path);
	r = elf_load_with_cmdline_initrd(c, ELF_ENTRY_IN_SEGMENT, c->ki.elf_entry, &initrd);
	if (r)
		return r;

	zp = boot_zeroed(c, BOOT_ZERO_PAGE_ADDR, BP_SIZE, "zero page");
	if (!zp)
		return -ENOSPC;
	st16(zp + HDR_BOOT_FLAG, BOOT_FLAG_MAGIC);
	st32(zp + HDR_HEADER, HDR_MAGIC);
	st16(zp + HDR_VERSION, LINUX64_HDR_VERSION);
	st8(zp + HDR_LOADFLAGS, LOADFLAGS_LOADED_HIGH);
	st32(zp + HDR_CMDLINE_SIZE, (uint32_t)(BOOT_CMDLINE_MAX - 1));
	bp_set_loader_fields(zp, c, initrd);

	e->long_mode = 1;
	e->rip = c->ki.elf_entry;
	e->rsi = BOOT_ZERO_PAGE_ADDR;
	return 0;
}
