// SPDX-License-Identifier: Apache-2.0
/*
 * Boot information of the three protocols, normalised into struct boot_info:
 *   PVH        struct hvm_start_info (Xen public/arch-x86/hvm/start_info.h)
 *   linux64    struct boot_params, the Linux "zero page" (x86/boot.rst)
 *   Multiboot  struct multiboot_info (Multiboot 0.6.96)
 */
#include "bootinfo.h"

struct boot_info boot;

/* Entry code (head.S, mbheader.S) fills these in. */
extern u32 boot_proto, boot_magic;
extern u64 boot_info_addr;

#define PVH_MAGIC	0x336ec578

struct hvm_start_info {
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr;
	u64 memmap_paddr;		/* version >= 1 */
	u32 memmap_entries, reserved;
};

struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	u64 addr, size;
	u32 type, reserved;
};

struct mb_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
};

struct mb_mod {
	u32 start, end, string, reserved;
};

#define MBI_MEM		(1 << 0)
#define MBI_CMDLINE	(1 << 2)
#define MBI_MODS	(1 << 3)
#define MBI_MMAP	(1 << 6)

const char *boot_proto_name(int proto)
{
	switch (proto) {
	case BOOT_PVH: return "pvh";
	case BOOT_LINUX64: return "linux64";
	case BOOT_MULTIBOOT: return "multiboot";
	}
	return "unknown";
}

static void copy_cmdline(u64 addr)
{
	const char *s = phys(addr);
	size_t n;

	if (!addr || !phys_ok(addr, 1))
		return;
	boot.has_cmdline = true;
	n = strnlen(s, MIN(CMDLINE_MAX, MAPPED_LIMIT - addr));
	if (n >= CMDLINE_MAX) {
		n = CMDLINE_MAX - 1;
		boot.cmdline_truncated = true;
	}
	memcpy(boot.cmdline, s, n);
	boot.cmdline[n] = 0;
}

static void add_range(u64 addr, u64 size, u32 type)
{
	if (boot.nmap == MAX_MEMMAP) {
		boot.map_truncated = true;
		return;
	}
	boot.map[boot.nmap++] = (struct mem_range){ addr, size, type };
}

static void add_module(u64 addr, u64 size)
{
	if (boot.nmods < MAX_MODS && size)
		boot.mods[boot.nmods++] = (struct mem_range){ addr, size, 0 };
}

static void parse_pvh(u64 addr)
{
	const struct hvm_start_info *si = phys(addr);

	if (!phys_ok(addr, sizeof(*si)) || si->magic != PVH_MAGIC) {
		boot.error = "hvm_start_info magic is not 0x336ec578";
		return;
	}
	boot.magic = si->magic;
	copy_cmdline(si->cmdline_paddr);
	boot.rsdp = si->rsdp_paddr;
	if (si->nr_modules && phys_ok(si->modlist_paddr, si->nr_modules * 32ULL)) {
		const struct hvm_modlist_entry *m = phys(si->modlist_paddr);

		for (u32 i = 0; i < si->nr_modules; i++)
			add_module(m[i].paddr, m[i].size);
	}
	if (si->version < 1 || !si->memmap_entries) {
		boot.error = "hvm_start_info has no memory map (version 0)";
		return;
	}
	if (!phys_ok(si->memmap_paddr, si->memmap_entries * 24ULL)) {
		boot.error = "hvm_start_info memory map outside the mapped range";
		return;
	}
	const struct hvm_memmap_entry *e = phys(si->memmap_paddr);

	for (u32 i = 0; i < si->memmap_entries; i++)
		add_range(e[i].addr, e[i].size, e[i].type);
}

static u64 rd64(const u8 *p, unsigned off) { return *(const u64 *)(p + off); }
static u32 rd32(const u8 *p, unsigned off) { return *(const u32 *)(p + off); }

static void parse_linux64(u64 addr)
{
	const u8 *bp = phys(addr);
	unsigned n;

	if (!phys_ok(addr, 4096)) {
		boot.error = "boot_params outside the mapped range";
		return;
	}
	copy_cmdline(rd32(bp, 0x228) | (u64)rd32(bp, 0x0c8) << 32);
	boot.rsdp = rd64(bp, 0x070);
	add_module(rd32(bp, 0x218) | (u64)rd32(bp, 0x0c0) << 32,
		   rd32(bp, 0x21c) | (u64)rd32(bp, 0x0c4) << 32);
	n = bp[0x1e8];
	if (n > 128) {	/* the zero page has room for 128 entries */
		boot.error = "boot_params e820_entries > 128";
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const u8 *e = bp + 0x2d0 + 20 * i;

		add_range(rd64(e, 0), rd64(e, 8), rd32(e, 16));
	}
	if (!n)
		boot.error = "boot_params has an empty e820 table";
}

static void parse_multiboot(u64 addr)
{
	const struct mb_info *mbi = phys(addr);

	if (boot.magic != MB_BOOT_MAGIC) {
		boot.error = "Multiboot entry without 0x2badb002 in %eax";
		return;
	}
	if (!phys_ok(addr, sizeof(*mbi))) {
		boot.error = "multiboot_info outside the mapped range";
		return;
	}
	if (mbi->flags & MBI_CMDLINE)
		copy_cmdline(mbi->cmdline);
	if ((mbi->flags & MBI_MODS) && phys_ok(mbi->mods_addr, mbi->mods_count * 16ULL)) {
		const struct mb_mod *m = phys(mbi->mods_addr);

		for (u32 i = 0; i < mbi->mods_count; i++)
			add_module(m[i].start, m[i].end - m[i].start);
	}
	if ((mbi->flags & MBI_MMAP) && phys_ok(mbi->mmap_addr, mbi->mmap_length)) {
		/* Entries are {u32 size, u64 addr, u64 len, u32 type}; size excludes itself. */
		u64 p = mbi->mmap_addr, end = p + mbi->mmap_length;

		while (p + 24 <= end) {
			const u8 *e = phys(p);
			u32 size = rd32(e, 0);

			add_range(rd64(e, 4), rd64(e, 12), rd32(e, 20));
			if (size < 20)
				break;
			p += size + 4;
		}
	} else if (mbi->flags & MBI_MEM) {
		add_range(0, mbi->mem_lower * 1024ULL, E820_RAM);
		add_range(MiB, mbi->mem_upper * 1024ULL, E820_RAM);
	}
	if (!boot.nmap)
		boot.error = "multiboot_info has no memory information";
}

void bootinfo_parse(void)
{
	boot.proto = boot_proto;
	boot.info_addr = boot_info_addr;
	boot.magic = boot_magic;
	switch (boot.proto) {
	case BOOT_PVH:
		parse_pvh(boot.info_addr);
		break;
	case BOOT_LINUX64:
		parse_linux64(boot.info_addr);
		break;
	case BOOT_MULTIBOOT:
		parse_multiboot(boot.info_addr);
		break;
	default:
		boot.error = "no entry point recorded a protocol";
	}
}

u64 bootinfo_ram_total(void)
{
	u64 sum = 0;

	for (unsigned i = 0; i < boot.nmap; i++)
		if (boot.map[i].type == E820_RAM)
			sum += boot.map[i].size;
	return sum;
}
