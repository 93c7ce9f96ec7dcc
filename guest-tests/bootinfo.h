/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the loader told us, whichever protocol it used, copied out of the
 * loader's memory into our image first thing (its boot data may be anywhere
 * below 1 MiB, and later code reuses low memory).
 */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include "guest.h"

#define E820_RAM	1
#define CMDLINE_MAX	8192
#define MAX_MEMMAP	64
#define MAX_MODS	8

struct mem_range {
	u64 addr, size;
	u32 type;
};

struct boot_info {
	int proto;		/* BOOT_PVH, BOOT_LINUX64, BOOT_MULTIBOOT */
	u64 info_addr;		/* start_info / boot_params / multiboot_info */
	u32 magic;		/* PVH start_info magic or Multiboot %eax */
	bool has_cmdline;
	bool cmdline_truncated;
	char cmdline[CMDLINE_MAX];
	u64 rsdp;		/* 0 if the loader did not say */
	unsigned nmap;
	struct mem_range map[MAX_MEMMAP];
	bool map_truncated;
	unsigned nmods;		/* modules (initrd): never overwritten by tests */
	struct mem_range mods[MAX_MODS];
	const char *error;	/* why the boot info was unusable, or NULL */
};

extern struct boot_info boot;

const char *boot_proto_name(int proto);
/* Parse the boot info the entry code recorded (boot_proto, boot_info_addr). */
void bootinfo_parse(void);
/* Sum of E820_RAM bytes. */
u64 bootinfo_ram_total(void);

#endif
