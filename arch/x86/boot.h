/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel loading: detect the kernel format, place kernel, initrd, command
 * line and the boot information the protocol wants in guest RAM, and say how
 * the boot vCPU enters it.
 */
#ifndef KITE_ARCH_X86_BOOT_H
#define KITE_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "arch/x86/e820.h"

enum boot_proto {
	BOOT_AUTO = 0,
	BOOT_PVH,	/* ELF with XEN_ELFNOTE_PHYS32_ENTRY, 32-bit entry, %ebx = start_info */
	BOOT_LINUX64,	/* ELF entered in 64-bit mode at e_entry, %rsi = boot_params */
	BOOT_BZIMAGE,	/* bzImage, Linux 64-bit boot protocol */
	BOOT_MULTIBOOT,	/* Multiboot v1 ELF (no a.out kludge) */
};

const char *boot_proto_name(enum boot_proto p);

struct boot_input {
	const char *kernel_path;	/* for messages */
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;		/* NULL if none */
	size_t initrd_size;
	const char *cmdline;		/* never NULL ("" if none) */
	enum boot_proto proto;		/* BOOT_AUTO or what --boot asked for */
	uint64_t rsdp_addr;		/* guest-physical RSDP */
	const struct e820_entry *e820;
	unsigned e820_count;
};

/* How the boot vCPU starts. */
struct boot_entry {
	enum boot_proto proto;	/* the protocol used */
	int long_mode;		/* 1: 64-bit with paging (cr3 valid), 0: 32-bit flat protected mode */
	uint64_t rip;
	uint64_t rsp;
	uint64_t rsi;
	uint64_t rbx;
	uint64_t rax;
	uint64_t cr3;
	/*
	 * Flat 4 GiB GDT at gdt_addr. Selectors the vCPU code loads:
	 *   0x08 32-bit code: CS when !long_mode (PVH, Multiboot)
	 *   0x10 64-bit code: CS when long_mode (Linux's __BOOT_CS, boot.rst)
	 *   0x18 data:        DS, ES, FS, GS, SS in both modes (__BOOT_DS)
	 * Descriptors have the accessed bit set. Paging is on (cr3) only in
	 * long mode, with the low 4 GiB identity-mapped in 2 MiB pages.
	 */
	uint64_t gdt_addr;
	uint64_t gdt_limit;
};

/* What a kernel image is, from its headers only (no guest memory needed). */
struct kernel_info {
	int has_pvh;		/* ELF with a PVH note */
	int is_elf;		/* ELF32 or ELF64 */
	int is_elf64;
	int has_multiboot;	/* Multiboot v1 header in the first 8 KiB */
	int is_bzimage;
	uint64_t pvh_entry;	/* 32-bit physical entry from the note */
	uint64_t elf_entry;	/* e_entry (physical for our loaders) */
	uint32_t mb_flags;	/* Multiboot header flags */
	uint16_t bz_version;	/* boot protocol version */
};

/* Parse headers; -ENOEXEC with a message naming the accepted formats if the
 * image is none of them, -EINVAL for a malformed header of a known format. */
int kernel_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki);

/* Choose the protocol for `requested` (BOOT_AUTO picks: bzImage -> BOOT_BZIMAGE,
 * ELF with PVH note -> BOOT_PVH, Multiboot -> BOOT_MULTIBOOT, other ELF64 -> BOOT_LINUX64). */
int boot_choose(const char *path, const struct kernel_info *ki, enum boot_proto requested,
		enum boot_proto *chosen);

/* Load everything into guest memory and fill `entry`. */
int boot_load(struct guest_mem *mem, const struct boot_input *in, struct boot_entry *entry);

#endif
