/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test inputs for the boot loaders, built in memory: ELF kernels (ELF32 or
 * ELF64, with or without a PVH note and a Multiboot header), bzImages from a
 * made-up setup header, and a fake guest memory (anonymous mapping, fd -1).
 */
#ifndef KITE_TESTS_BOOT_FIXTURES_H
#define KITE_TESTS_BOOT_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

enum note_where { NOTE_NONE, NOTE_SEGMENT, NOTE_SECTION };

struct load_spec {
	uint64_t offset, paddr, vaddr, filesz, memsz;
};

struct elf_spec {
	int is64;
	uint16_t machine;		/* 0: EM_X86_64 / EM_386 by class */
	uint16_t type;			/* 0: ET_EXEC */
	uint64_t entry;
	unsigned nload;
	struct load_spec load[3];
	/* PVH note */
	enum note_where note;
	const char *note_name;		/* "Xen" */
	uint32_t note_type;		/* 18 */
	uint32_t note_descsz;		/* 4 or 8 */
	uint64_t note_entry;
	int note_after_other;		/* a GNU note comes first */
	uint64_t note_area_cut;		/* shrink the note area by this much */
	/* Multiboot header */
	long mb_offset;			/* -1: none */
	uint32_t mb_flags;
	int mb_bad_checksum;
	size_t file_len;		/* total image size */
};

/* Defaults: one PT_LOAD of 0x2000 file bytes (+0x1000 bss) from file offset
 * 0x1000 to 1 MiB, entry 1 MiB + 0x10, PVH note (entry 1 MiB + 0x20) in a
 * PT_NOTE at 0x200, no Multiboot header, 0x3000 bytes. */
void elf_spec_default(struct elf_spec *s, int is64);
/* A malloc'd image of exactly s->file_len bytes; segment bytes are
 * (offset & 0xff) ^ 0x5a so tests can check what landed where. */
uint8_t *elf_make(const struct elf_spec *s, size_t *len);
#define ELF_BYTE(off) ((uint8_t)(((off) & 0xff) ^ 0x5a))

struct bz_spec {
	uint8_t setup_sects;		/* as stored: 0 means 4 */
	uint16_t version;
	uint16_t xloadflags;
	uint16_t boot_flag;
	uint32_t header;
	uint8_t jump_len;		/* byte 0x201: header ends at 0x202 + this */
	uint64_t pm_size;
	int no_syssize;			/* leave syssize 0 */
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	size_t cut;			/* drop this many bytes from the end */
};

/* Defaults: protocol 2.15, 64-bit entry, 4 setup sectors, 0x4000 bytes of
 * kernel, relocatable with 2 MiB alignment, pref_address 16 MiB, init_size
 * 32 MiB, initrd_addr_max 0x7fffffff, cmdline_size 2047. */
void bz_spec_default(struct bz_spec *s);
/* Kernel byte i (after the setup sectors) is BZ_BYTE(i). */
uint8_t *bz_make(const struct bz_spec *s, size_t *len);
#define BZ_BYTE(i) ((uint8_t)(((i) * 7 + 3) & 0xff))

/* Fake guest RAM of `size` bytes laid out like guest_mem_layout() (low
 * region below the MMIO hole, the rest from 4 GiB); the first MiB is filled
 * with 0xee so tests see what the loader zeroed. */
void fake_mem_init(struct guest_mem *m, uint64_t size);
void fake_mem_free(struct guest_mem *m);
/* Host pointer for a test's reads; aborts the test if out of RAM. */
uint8_t *gpa(const struct guest_mem *m, uint64_t addr, uint64_t len);

#endif
