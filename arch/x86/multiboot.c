// SPDX-License-Identifier: Apache-2.0
/*
 * Multiboot v1 (specification 0.6.96) for ELF kernels: the header is found
 * in the first 8 KiB, the kernel's ELF program headers say where it goes (the
 * a.out kludge, header address fields, is not supported), and the kernel is
 * entered in 32-bit protected mode with %eax = 0x2BADB002 and %ebx = the
 * multiboot_info structure built here.
 */
#include <inttypes.h>

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

/* Header flags (bits 0-15 are requirements, 16-31 are optional). */
#define MBH_PAGE_ALIGN		(1u << 0)	/* modules page-aligned: always true here */
#define MBH_MEMORY_INFO		(1u << 1)	/* mem_* and mmap_*: always given */
#define MBH_VIDEO_MODE		(1u << 2)	/* a video mode table: kite has no display */
#define MBH_REQUIRED_MASK	0xffffu
#define MBH_AOUT_KLUDGE		(1u << 16)

/* multiboot_info flags and field offsets */
#define MBI_MEM			(1u << 0)
#define MBI_CMDLINE		(1u << 2)
#define MBI_MODS		(1u << 3)
#define MBI_MMAP		(1u << 6)
#define MBI_LOADER_NAME		(1u << 9)
#define MBI_FLAGS		0
#define MBI_MEM_LOWER		4
#define MBI_MEM_UPPER		8
#define MBI_CMDLINE_PTR		16
#define MBI_MODS_COUNT		20
#define MBI_MODS_ADDR		24
#define MBI_MMAP_LENGTH		44
#define MBI_MMAP_ADDR		48
#define MBI_LOADER_NAME_PTR	64

/* Where things go inside the BOOT_MBI_ADDR area. */
#define MBI_OFF_NAME		0x100	/* "kite" */
#define MBI_OFF_MOD_STRING	0x110	/* the module's string */
#define MBI_OFF_MODS		0x200	/* 16-byte module entries */
#define MBI_OFF_MMAP		0x400	/* 24-byte mmap entries (size field + 20) */

long mb_find_header(const uint8_t *img, size_t len)
{
	size_t lim = len < MB_SEARCH_LEN ? len : MB_SEARCH_LEN;

	for (size_t off = 0; off + 12 <= lim; off += 4) {
		uint32_t magic = ld32(img + off);

		if (magic == MB_HEADER_MAGIC &&
		    (uint32_t)(magic + ld32(img + off + 4) + ld32(img + off + 8)) == 0)
			return (long)off;
	}
	return -1;
}

int mb_check_flags(const char *path, uint32_t flags)
{
	uint32_t unknown = flags & MBH_REQUIRED_MASK &
			   ~(MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE);

	if (flags & MBH_AOUT_KLUDGE)
		return err_set(EINVAL, "%s: Multiboot header asks for the a.out kludge (flags bit "
			       "16: load addresses in the header); kite loads Multiboot kernels "
			       "from their ELF program headers only", path);
	if (flags & MBH_VIDEO_MODE)
		return err_set(EINVAL, "%s: Multiboot header requires video mode information "
			       "(flags bit 2); kite has no display to offer", path);
	if (unknown)
		return err_set(EINVAL, "%s: Multiboot header requires features kite does not know "
			       "(flags 0x%08x, unknown required bits 0x%04x)", path, flags, unknown);
	return 0;
}

int mb_load(const struct boot_ctx *c, struct boot_entry *e)
{
	const struct boot_input *in = c->in;
	long hoff = mb_find_header(in->kernel, in->kernel_size);
	uint64_t initrd, mmap_len = (uint64_t)c->e820_count * 24;
	uint64_t lower = c->low_end < LOW_RAM_END ? c->low_end : LOW_RAM_END;
	uint64_t upper = c->low_end > HIGH_RAM_START ? c->low_end - HIGH_RAM_START : 0;
	uint8_t *mbi;
	int r;

	if (hoff < 0)
		return err_set(EINVAL, "%s: no Multiboot header in the first %u bytes", c->path,
			       MB_SEARCH_LEN);
	r = mb_check_flags(c->path, ld32(in->kernel + hoff + 4));
	if (!r)
		r = elf_load_with_cmdline_initrd(c, ELF_BELOW_4G | ELF_ENTRY_IN_SEGMENT, c->ki.elf_entry, &initrd);
	if (r)
		return r;
	if (MBI_OFF_MMAP + mmap_len > BOOT_MBI_SIZE)
		return err_set(E2BIG, "%s: %u memory map entries overflow the Multiboot info area",
			       c->path, c->e820_count);
	mbi = boot_zeroed(c, BOOT_MBI_ADDR, BOOT_MBI_SIZE, "Multiboot info");
	if (!mbi)
		return -ENOSPC;

	st32(mbi + MBI_FLAGS, MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
	/* KiB below 640 K, and KiB from 1 MiB to the first hole. */
	st32(mbi + MBI_MEM_LOWER, (uint32_t)(lower >> 10));
	st32(mbi + MBI_MEM_UPPER, (uint32_t)(upper >> 10));
	/* GRUB passes the kernel's path followed by its arguments; kite passes
	 * the command line alone, which is what --cmdline says. */
	st32(mbi + MBI_CMDLINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);

	memcpy(mbi + MBI_OFF_NAME, "kite", 5);
	st32(mbi + MBI_LOADER_NAME_PTR, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_NAME));

	if (initrd) {
		uint8_t *mod = mbi + MBI_OFF_MODS;

		memcpy(mbi + MBI_OFF_MOD_STRING, "initrd", 7);
		st32(mod, (uint32_t)initrd);				/* mod_start */
		st32(mod + 4, (uint32_t)(initrd + in->initrd_size));	/* mod_end, exclusive */
		st32(mod + 8, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MOD_STRING));
		st32(mbi + MBI_MODS_COUNT, 1);
	}
	st32(mbi + MBI_MODS_ADDR, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MODS));

	for (unsigned i = 0; i < c->e820_count; i++) {
		uint8_t *m = mbi + MBI_OFF_MMAP + 24 * i;

		st32(m, 20);	/* size of the entry, not counting this field */
		st64(m + 4, c->e820[i].addr);
		st64(m + 12, c->e820[i].size);
		st32(m + 20, c->e820[i].type);
	}
	st32(mbi + MBI_MMAP_LENGTH, (uint32_t)mmap_len);
	st32(mbi + MBI_MMAP_ADDR, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MMAP));

	e->long_mode = 0;
	e->rip = c->ki.elf_entry;
	e->rax = MB_BOOT_MAGIC;
	e->rbx = BOOT_MBI_ADDR;
	return 0;
}
