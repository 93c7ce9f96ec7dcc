/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the boot loaders in arch/x86 (boot.c and one file per
 * format or protocol). Not a contract for other modules: they use boot.h.
 */
#ifndef KITE_ARCH_X86_BOOT_IMPL_H
#define KITE_ARCH_X86_BOOT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "vmm/memory.h"

/* Little-endian field access into images and guest structures; kite runs on
 * x86 hosts only, and memcpy keeps unaligned offsets legal. */
static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st8(uint8_t *p, uint8_t v) { *p = v; }
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void st64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

#define BOOT_PAGE		0x1000ULL
#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((uint64_t)(a) - 1))

/* GDT selectors (boot.h's struct boot_entry documents them for vCPU code). */
#define BOOT_SEL_CODE32		0x08
#define BOOT_SEL_CODE64		0x10	/* Linux's __BOOT_CS */
#define BOOT_SEL_DATA		0x18	/* Linux's __BOOT_DS */

/* Everything one boot_load() call works with. */
struct boot_ctx {
	struct guest_mem *mem;
	const struct boot_input *in;
	const char *path;		/* in->kernel_path, or "kernel" */
	struct kernel_info ki;
	const struct e820_entry *e820;
	unsigned e820_count;
	uint64_t low_end;		/* end of RAM below the MMIO hole */
};

/* --- boot_common.c --- */
uint64_t boot_low_end(const struct guest_mem *mem);
/* Refuse [gpa, gpa + size) unless it is all RAM and clear of the boot data
 * and the EBDA/BIOS area; `what` names it in the message. */
int boot_check_range(const struct boot_ctx *c, uint64_t gpa, uint64_t size, const char *what);
/* Copy into guest RAM; `fill` zero bytes follow `len` bytes of `src`. */
int boot_copy(const struct boot_ctx *c, uint64_t gpa, const void *src, uint64_t len, uint64_t fill);
/* Host pointer to [gpa, gpa+len), zeroed; NULL (with err_set) if not RAM. */
uint8_t *boot_zeroed(const struct boot_ctx *c, uint64_t gpa, uint64_t len, const char *what);
int boot_setup_gdt(const struct boot_ctx *c, struct boot_entry *e);
int boot_setup_page_tables(const struct boot_ctx *c, struct boot_entry *e);
/* Copy the command line to BOOT_CMDLINE_ADDR; `max_len` excludes the NUL. */
int boot_put_cmdline(const struct boot_ctx *c, uint64_t max_len);
/* Place the initrd (if any) page-aligned at the top of RAM below `limit`
 * (exclusive) and above `kernel_end`; *addr = 0 if there is none. */
int boot_put_initrd(const struct boot_ctx *c, uint64_t kernel_end, uint64_t limit, uint64_t *addr);

/* --- elf.c --- */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
/* Validate an ELF image and fill the ELF and PVH fields of `ki`. */
int elf_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki);
/* Load every PT_LOAD at p_paddr, after checking them all. *end = the
 * highest byte + 1 loaded below the MMIO hole. */
#define ELF_BELOW_4G		0x1	/* segments must end below 4 GiB (32-bit entry) */
#define ELF_ENTRY_IN_SEGMENT	0x2	/* `entry` must lie in a loaded segment */
int elf_load(const struct boot_ctx *c, unsigned flags, uint64_t entry, uint64_t *end);
/* What every ELF protocol does first: elf_load, the command line (up to
 * BOOT_CMDLINE_MAX), and the initrd below 4 GiB above the kernel; *initrd
 * is its address (0 if none). */
int elf_load_with_cmdline_initrd(const struct boot_ctx *c, unsigned flags, uint64_t entry,
				 uint64_t *initrd);

/* --- bzimage.c --- */
int bz_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki);
int bz_load(const struct boot_ctx *c, struct boot_entry *e);

/* --- multiboot.c --- */
#define MB_HEADER_MAGIC		0x1BADB002u
#define MB_BOOT_MAGIC		0x2BADB002u
#define MB_SEARCH_LEN		8192
/* Finds a valid header (magic + checksum) in the first 8 KiB; returns its
 * offset or -1. */
long mb_find_header(const uint8_t *img, size_t len);
/* Refuse header flags kite cannot honour. */
int mb_check_flags(const char *path, uint32_t flags);
int mb_load(const struct boot_ctx *c, struct boot_entry *e);

/* --- pvh.c, linux64.c --- */
int pvh_load(const struct boot_ctx *c, struct boot_entry *e);
int linux64_load(const struct boot_ctx *c, struct boot_entry *e);

#endif
