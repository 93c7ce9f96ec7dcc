// SPDX-License-Identifier: Apache-2.0
/*
 * Test aid (see linux64-shim.S): load the ELF64 module at its physical
 * addresses and describe the machine in a Linux boot_params, as kite does
 * for --boot linux64. Runs in long mode on identity-mapped low memory.
 */
#include <stddef.h>
#include <stdint.h>

#define BOOT_PARAMS	0x7000
#define CMDLINE		0x20000

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};

static void *ptr(uint64_t a) { asm("" : "+r"(a)); return (void *)(uintptr_t)a; }

static void copy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	while (n--)
		*dp++ = *sp++;
}

static void zero(void *d, size_t n)
{
	uint8_t *dp = d;

	while (n--)
		*dp++ = 0;
}

static void put32(uint64_t a, uint32_t v) { *(uint32_t *)ptr(a) = v; }
static void put64(uint64_t a, uint64_t v) { *(uint64_t *)ptr(a) = v; }

static void halt(const char *why)
{
	asm volatile("" : "+r"(why));
	while (*why)
		asm volatile("outb %b0, %w1" :: "a"(*why++), "Nd"((uint16_t)0x3f8));
	for (;;)
		asm volatile("cli; hlt");
}

uint64_t shim_main(uint32_t mbi_addr)
{
	const struct mb_info *mbi = ptr(mbi_addr);
	const uint32_t *mod = ptr(mbi->mods_addr);
	const uint8_t *elf = ptr(mod[0]);
	const char *cl = ptr(mbi->cmdline);
	uint64_t phoff = *(const uint64_t *)(elf + 32);
	uint16_t phnum = *(const uint16_t *)(elf + 56);
	unsigned n = 0;

	if (!(mbi->flags & (1 << 3)) || !mbi->mods_count || *(const uint32_t *)elf != 0x464c457f)
		halt("linux64-shim: need the ELF64 guest as Multiboot module\n");
	/* PT_LOAD segments at p_paddr, the rest of p_memsz zeroed. */
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = elf + phoff + 56 * i;
		uint64_t off = *(const uint64_t *)(ph + 8), paddr = *(const uint64_t *)(ph + 24);
		uint64_t filesz = *(const uint64_t *)(ph + 32), memsz = *(const uint64_t *)(ph + 40);

		if (*(const uint32_t *)ph != 1)
			continue;
		copy(ptr(paddr), elf + off, filesz);
		zero(ptr(paddr + filesz), memsz - filesz);
	}

	zero(ptr(BOOT_PARAMS), 4096);
	/* QEMU's Multiboot command line starts with the file name: drop it. */
	while (*cl && *cl != ' ')
		cl++;
	while (*cl == ' ')
		cl++;
	for (n = 0; cl[n]; n++)
		;
	copy(ptr(CMDLINE), cl, n + 1);
	put32(BOOT_PARAMS + 0x228, CMDLINE);
	/* e820 from the Multiboot memory map. */
	n = 0;
	for (uint64_t p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length && n < 128;
	     p += *(const uint32_t *)ptr(p) + 4, n++) {
		uint64_t e = BOOT_PARAMS + 0x2d0 + 20 * n;

		put64(e, *(const uint64_t *)ptr(p + 4));
		put64(e + 8, *(const uint64_t *)ptr(p + 12));
		put32(e + 16, *(const uint32_t *)ptr(p + 20));
	}
	*(uint8_t *)ptr(BOOT_PARAMS + 0x1e8) = n;
	/* acpi_rsdp_addr: what a VMM that knows its tables would pass. */
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (*(const uint64_t *)ptr(a) == 0x2052545020445352ULL) {	/* "RSD PTR " */
			put64(BOOT_PARAMS + 0x070, a);
			break;
		}
	return *(const uint64_t *)(elf + 24);	/* e_entry */
}
