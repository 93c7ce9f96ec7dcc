// SPDX-License-Identifier: Apache-2.0
/* boot_load into a fake guest memory, for each protocol: what lands where,
 * the boot structures' fields, and the refusals. Part of the "boot" suite. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "tests/boot_fixtures.h"
#include "vmm/err.h"

TCase *boot_load_tcase(void);

#define assert_msg_has(s) \
	ck_assert_msg(strstr(err_msg(), (s)) != NULL, "message '%s' lacks '%s'", err_msg(), (s))

static uint16_t rd16(const struct guest_mem *m, uint64_t a) { uint16_t v; memcpy(&v, gpa(m, a, 2), 2); return v; }
static uint32_t rd32(const struct guest_mem *m, uint64_t a) { uint32_t v; memcpy(&v, gpa(m, a, 4), 4); return v; }
static uint64_t rd64(const struct guest_mem *m, uint64_t a) { uint64_t v; memcpy(&v, gpa(m, a, 8), 8); return v; }
static uint8_t rd8(const struct guest_mem *m, uint64_t a) { return *gpa(m, a, 1); }

/* One boot_load run: guest RAM, the inputs, the result. */
struct run {
	struct guest_mem mem;
	struct boot_input in;
	struct e820_entry e820[E820_MAX_ENTRIES];
	struct boot_entry entry;
	uint8_t *kernel;
	uint8_t *initrd;
};

static void run_init(struct run *t, uint64_t ram, uint8_t *kernel, size_t klen, size_t initrd_len,
		     const char *cmdline, enum boot_proto proto)
{
	memset(t, 0, sizeof(*t));
	fake_mem_init(&t->mem, ram);
	t->kernel = kernel;
	if (initrd_len) {
		t->initrd = malloc(initrd_len);
		ck_assert_ptr_nonnull(t->initrd);
		for (size_t i = 0; i < initrd_len; i++)
			t->initrd[i] = (uint8_t)(i * 11 + 1);
	}
	t->in = (struct boot_input){
		.kernel_path = "k", .kernel = kernel, .kernel_size = klen,
		.initrd = t->initrd, .initrd_size = initrd_len, .cmdline = cmdline,
		.proto = proto, .rsdp_addr = ACPI_RSDP_ADDR, .e820 = t->e820,
	};
	t->in.e820_count = e820_build(ram, t->e820, E820_MAX_ENTRIES);
	/* Garbage where segments land, to see bss zeroed. */
	if (ram >= MiB(2))
		memset(gpa(&t->mem, 0x100000, 0x4000), 0xee, 0x4000);
}

static int run_load(struct run *t)
{
	err_clear();
	return boot_load(&t->mem, &t->in, &t->entry);
}

/* Build s's image and load it, set up as run_init does: it must load. */
static void load_elf(struct run *t, const struct elf_spec *s, uint64_t ram, size_t initrd_len,
		     const char *cmdline, enum boot_proto proto)
{
	size_t len;
	uint8_t *kimg = elf_make(s, &len);

	run_init(t, ram, kimg, len, initrd_len, cmdline, proto);
	ck_assert_msg(run_load(t) == 0, "%s", err_msg());
}

/* The protocol the loader chose, and where and how the vCPU starts. */
static void check_entry(const struct run *t, enum boot_proto proto, int long_mode, uint64_t rip)
{
	ck_assert_int_eq(t->entry.proto, proto);
	ck_assert_int_eq(t->entry.long_mode, long_mode);
	ck_assert_uint_eq(t->entry.rip, rip);
}

static void run_free(struct run *t)
{
	fake_mem_free(&t->mem);
	free(t->kernel);
	free(t->initrd);
}

static void check_gdt(const struct run *t)
{
	ck_assert_uint_eq(t->entry.gdt_addr, BOOT_GDT_ADDR);
	ck_assert_uint_eq(t->entry.gdt_limit, 31);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_GDT_ADDR), 0);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_GDT_ADDR + 0x08), 0x00cf9b000000ffffULL);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_GDT_ADDR + 0x10), 0x00af9b000000ffffULL);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_GDT_ADDR + 0x18), 0x00cf93000000ffffULL);
}

static void check_page_tables(const struct run *t)
{
	ck_assert_uint_eq(t->entry.cr3, BOOT_PML4_ADDR);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_PML4_ADDR), BOOT_PDPT_ADDR | 3);
	for (unsigned i = 1; i < 512; i++)
		ck_assert_uint_eq(rd64(&t->mem, BOOT_PML4_ADDR + 8 * i), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(rd64(&t->mem, BOOT_PDPT_ADDR + 8 * i),
				  (BOOT_PD_ADDR + 0x1000 * i) | 3);
	ck_assert_uint_eq(rd64(&t->mem, BOOT_PDPT_ADDR + 8 * 4), 0);
	/* 2048 2 MiB pages: PD entry j maps j * 2 MiB, present, writable, large */
	for (uint64_t j = 0; j < 2048; j++)
		ck_assert_uint_eq(rd64(&t->mem, BOOT_PD_ADDR + 8 * j), (j << 21) | 0x83);
}

static void check_cmdline(const struct run *t, const char *want)
{
	ck_assert_str_eq((const char *)gpa(&t->mem, BOOT_CMDLINE_ADDR, strlen(want) + 1), want);
}

static void check_initrd_bytes(const struct run *t, uint64_t at)
{
	ck_assert_uint_eq(at & 0xfff, 0);
	ck_assert(!memcmp(gpa(&t->mem, at, t->in.initrd_size), t->initrd, t->in.initrd_size));
}

/* The default ELF's segment: 0x2000 bytes from file offset 0x1000 at 1 MiB,
 * then 0x1000 of bss. */
static void check_elf_segment(const struct run *t)
{
	const uint8_t *p = gpa(&t->mem, 0x100000, 0x3000);

	for (unsigned j = 0; j < 0x2000; j++)
		ck_assert_uint_eq(p[j], ELF_BYTE(0x1000 + j));
	for (unsigned j = 0x2000; j < 0x3000; j++)
		ck_assert_uint_eq(p[j], 0);
}

static void check_e820_table(const struct run *t, uint64_t at, unsigned stride, unsigned skip)
{
	for (unsigned i = 0; i < t->in.e820_count; i++) {
		uint64_t p = at + (uint64_t)stride * i + skip;

		ck_assert_uint_eq(rd64(&t->mem, p), t->e820[i].addr);
		ck_assert_uint_eq(rd64(&t->mem, p + 8), t->e820[i].size);
		ck_assert_uint_eq(rd32(&t->mem, p + 16), t->e820[i].type);
	}
}

/* --- PVH --- */

START_TEST(pvh_load)
{
	struct elf_spec s;
	struct run t;
	uint64_t si = BOOT_START_INFO_ADDR, initrd;

	elf_spec_default(&s, _i);
	load_elf(&t, &s, MiB(256), 0x5123, "console=ttyS0 root=/dev/vda", BOOT_AUTO);

	check_entry(&t, BOOT_PVH, 0, 0x100020);
	ck_assert_uint_eq(t.entry.rbx, si);
	ck_assert_uint_eq(t.entry.cr3, 0);
	check_gdt(&t);
	check_elf_segment(&t);
	check_cmdline(&t, "console=ttyS0 root=/dev/vda");

	ck_assert_uint_eq(rd32(&t.mem, si + 0), 0x336ec578);
	ck_assert_uint_eq(rd32(&t.mem, si + 4), 1);
	ck_assert_uint_eq(rd32(&t.mem, si + 8), 0);
	ck_assert_uint_eq(rd32(&t.mem, si + 12), 1);
	ck_assert_uint_eq(rd64(&t.mem, si + 24), BOOT_CMDLINE_ADDR);
	ck_assert_uint_eq(rd64(&t.mem, si + 32), ACPI_RSDP_ADDR);
	ck_assert_uint_eq(rd32(&t.mem, si + 48), t.in.e820_count);
	ck_assert_uint_eq(rd32(&t.mem, si + 52), 0);
	/* module 0 is the initrd, page-aligned at the top of low RAM */
	initrd = rd64(&t.mem, rd64(&t.mem, si + 16));
	ck_assert_uint_eq(initrd, (MiB(256) - 0x5123) & ~0xfffULL);
	ck_assert_uint_eq(rd64(&t.mem, rd64(&t.mem, si + 16) + 8), 0x5123);
	ck_assert_uint_eq(rd64(&t.mem, rd64(&t.mem, si + 16) + 16), 0);
	check_initrd_bytes(&t, initrd);
	check_e820_table(&t, rd64(&t.mem, si + 40), 24, 0);
	ck_assert_uint_eq(rd32(&t.mem, rd64(&t.mem, si + 40) + 20), 0);	/* reserved */
	run_free(&t);
}
END_TEST

START_TEST(pvh_without_initrd)
{
	struct elf_spec s;
	struct run t;
	size_t len;

	elf_spec_default(&s, 1);
	uint8_t *kimg = elf_make(&s, &len);
	run_init(&t, MiB(64), kimg, len, 0, "", BOOT_PVH);
	t.in.e820_count = 0;	/* boot_load builds the map itself */
	ck_assert_msg(run_load(&t) == 0, "%s", err_msg());
	ck_assert_uint_eq(rd32(&t.mem, BOOT_START_INFO_ADDR + 12), 0);
	ck_assert_uint_eq(rd64(&t.mem, BOOT_START_INFO_ADDR + 16), 0);
	ck_assert_uint_eq(rd8(&t.mem, BOOT_CMDLINE_ADDR), 0);
	/* RAM, EBDA..1M, RAM, ECAM, KVM's pages */
	ck_assert_uint_eq(rd32(&t.mem, BOOT_START_INFO_ADDR + 48), 5);
	ck_assert_uint_eq(rd64(&t.mem, rd64(&t.mem, BOOT_START_INFO_ADDR + 40) + 24 * 2 + 8),
			  MiB(64) - MiB(1));
	run_free(&t);
}
END_TEST

/* With RAM past the hole the initrd still goes below it. */
START_TEST(pvh_initrd_below_hole)
{
	struct elf_spec s;
	struct run t;
	uint64_t at;

	elf_spec_default(&s, 1);
	load_elf(&t, &s, GiB(4) + MiB(512), 0x3000, "x", BOOT_AUTO);
	at = rd64(&t.mem, BOOT_START_INFO_ADDR + 0x40);
	ck_assert_uint_eq(at, MMIO_HOLE_START - 0x3000);
	check_initrd_bytes(&t, at);
	ck_assert_uint_eq(rd32(&t.mem, BOOT_START_INFO_ADDR + 48), 6);
	run_free(&t);
}
END_TEST

/* --- linux64 --- */

static void check_zero_page_loader_fields(const struct run *t, uint64_t initrd_size)
{
	uint64_t zp = BOOT_ZERO_PAGE_ADDR;

	ck_assert_uint_eq(rd8(&t->mem, zp + 0x210), 0xff);		/* type_of_loader */
	ck_assert_uint_eq(rd32(&t->mem, zp + 0x228), BOOT_CMDLINE_ADDR);	/* cmd_line_ptr */
	ck_assert_uint_eq(rd32(&t->mem, zp + 0x0c8), 0);			/* ext_cmd_line_ptr */
	ck_assert_uint_eq(rd32(&t->mem, zp + 0x21c), initrd_size);	/* ramdisk_size */
	ck_assert_uint_eq(rd32(&t->mem, zp + 0x0c0), 0);			/* ext_ramdisk_image */
	ck_assert_uint_eq(rd32(&t->mem, zp + 0x0c4), 0);			/* ext_ramdisk_size */
	ck_assert_uint_eq(rd64(&t->mem, zp + 0x070), ACPI_RSDP_ADDR);	/* acpi_rsdp_addr */
	ck_assert_uint_eq(rd8(&t->mem, zp + 0x1e8), t->in.e820_count);	/* e820_entries */
	ck_assert_uint_eq(rd8(&t->mem, zp + 0x1ef), 0);			/* sentinel */
	check_e820_table(t, zp + 0x2d0, 20, 0);
	ck_assert_uint_eq(rd64(&t->mem, zp + 0x2d0 + 20 * t->in.e820_count), 0);
}

START_TEST(linux64_load)
{
	struct elf_spec s;
	struct run t;
	uint64_t zp = BOOT_ZERO_PAGE_ADDR, initrd;

	elf_spec_default(&s, 1);
	s.note = NOTE_NONE;
	s.load[0].vaddr = 0xffffffff80100000ULL;	/* like vmlinux: physical e_entry */
	load_elf(&t, &s, MiB(512), 0x10000, "quiet", BOOT_AUTO);

	check_entry(&t, BOOT_LINUX64, 1, 0x100010);
	ck_assert_uint_eq(t.entry.rsi, zp);
	check_gdt(&t);
	check_page_tables(&t);
	check_elf_segment(&t);
	check_cmdline(&t, "quiet");

	ck_assert_uint_eq(rd16(&t.mem, zp + 0x1fe), 0xAA55);
	ck_assert_uint_eq(rd32(&t.mem, zp + 0x202), 0x53726448);
	ck_assert_uint_eq(rd16(&t.mem, zp + 0x206), 0x020f);
	ck_assert_uint_eq(rd8(&t.mem, zp + 0x211) & 1, 1);		/* LOADED_HIGH */
	ck_assert_uint_eq(rd32(&t.mem, zp + 0x238), BOOT_CMDLINE_MAX - 1);
	check_zero_page_loader_fields(&t, 0x10000);
	initrd = rd32(&t.mem, zp + 0x218);
	ck_assert_uint_eq(initrd, MiB(512) - 0x10000);
	check_initrd_bytes(&t, initrd);
	/* the rest of the zero page was zeroed over the garbage */
	ck_assert_uint_eq(rd64(&t.mem, zp + 0x100), 0);
	ck_assert_uint_eq(rd64(&t.mem, zp + 0xff8), 0);
	run_free(&t);
}
END_TEST

START_TEST(linux64_virtual_entry)
{
	struct elf_spec s;
	struct run t;

	elf_spec_default(&s, 1);
	s.note = NOTE_NONE;
	s.load[0].vaddr = 0xffffffff81000000ULL;
	s.entry = 0xffffffff81000100ULL;
	load_elf(&t, &s, MiB(64), 0, "", BOOT_LINUX64);
	ck_assert_uint_eq(t.entry.rip, 0x100100);
	ck_assert_uint_eq(rd32(&t.mem, BOOT_ZERO_PAGE_ADDR + 0x218), 0);	/* no initrd */
	run_free(&t);
}
END_TEST

/* --- bzImage --- */

START_TEST(bzimage_load)
{
	struct bz_spec s;
	struct run t;
	size_t len;
	uint64_t zp = BOOT_ZERO_PAGE_ADDR, initrd;
	uint8_t *img;
	const uint8_t *k;

	bz_spec_default(&s);
	s.setup_sects = _i ? 0 : 4;	/* 0 means 4 */
	img = bz_make(&s, &len);
	run_init(&t, MiB(256), img, len, 0x8000, "console=ttyS0", BOOT_AUTO);
	ck_assert_msg(run_load(&t) == 0, "%s", err_msg());

	check_entry(&t, BOOT_BZIMAGE, 1, 0x100200);
	ck_assert_uint_eq(t.entry.rsi, zp);
	check_gdt(&t);
	check_page_tables(&t);
	check_cmdline(&t, "console=ttyS0");
	/* the protected-mode kernel at 1 MiB */
	k = gpa(&t.mem, 0x100000, s.pm_size);
	for (size_t i = 0; i < s.pm_size; i++)
		ck_assert_uint_eq(k[i], BZ_BYTE(i));
	/* the setup header copied as is, the loader's fields set */
	ck_assert(!memcmp(gpa(&t.mem, zp + 0x1f1, 0x210 - 0x1f1), img + 0x1f1, 0x210 - 0x1f1));
	ck_assert(!memcmp(gpa(&t.mem, zp + 0x22c, 0x26c - 0x22c), img + 0x22c, 0x26c - 0x22c));
	ck_assert_uint_eq(rd8(&t.mem, zp + 0x211), 0x01);
	ck_assert_uint_eq(rd32(&t.mem, zp + 0x214), 0x100000);
	ck_assert_uint_eq(rd8(&t.mem, zp + 0x26c), 0);	/* nothing past the header */
	check_zero_page_loader_fields(&t, 0x8000);
	/* initrd at the top of RAM, above the 16 MiB + 32 MiB decompression area */
	initrd = rd32(&t.mem, zp + 0x218);
	ck_assert_uint_eq(initrd, MiB(256) - 0x8000);
	check_initrd_bytes(&t, initrd);
	run_free(&t);
}
END_TEST

struct bz_place_case {
	const char *what;
	uint64_t ram;
	uint32_t initrd_addr_max;
	uint32_t init_size;
	uint8_t relocatable;
	uint64_t initrd_len;
	int want;
	uint64_t want_at;
	const char *msg;
};

static const struct bz_place_case bz_place_cases[] = {
	{ "below initrd_addr_max", MiB(512), 0x0fffffff, 0x2000000, 1, MiB(1), 0,
	  MiB(256) - MiB(1), NULL },
	{ "right above init_size", MiB(64), 0x7fffffff, 0x2000000, 1, MiB(16), 0, MiB(48), NULL },
	{ "initrd over init_size", MiB(64), 0x7fffffff, 0x2000000, 1, MiB(16) + 1, -ENOSPC, 0,
	  "initrd" },
	{ "fixed kernel, same area", MiB(64), 0x7fffffff, 0x2000000, 0, MiB(16), 0, MiB(48), NULL },
	{ "init_size beyond RAM", MiB(40), 0x7fffffff, 0x2000000, 1, 0, -ENOSPC, 0,
	  "decompression area" },
	{ "initrd larger than RAM", MiB(64), 0x7fffffff, 0x100000, 1, MiB(70), -ENOSPC, 0,
	  "give the VM more memory" },
};

START_TEST(bzimage_placement_table)
{
	const struct bz_place_case *c = &bz_place_cases[_i];
	struct bz_spec s;
	struct run t;
	size_t len;
	int r;

	bz_spec_default(&s);
	s.initrd_addr_max = c->initrd_addr_max;
	s.init_size = c->init_size;
	s.relocatable = c->relocatable;
	uint8_t *kimg = bz_make(&s, &len);
	run_init(&t, c->ram, kimg, len, c->initrd_len, "", BOOT_BZIMAGE);
	r = run_load(&t);
	ck_assert_msg(r == c->want, "%s: got %d (%s)", c->what, r, err_msg());
	if (!r && c->initrd_len) {
		ck_assert_uint_eq(rd32(&t.mem, BOOT_ZERO_PAGE_ADDR + 0x218), c->want_at);
		check_initrd_bytes(&t, c->want_at);
	}
	if (c->msg)
		assert_msg_has(c->msg);
	run_free(&t);
}
END_TEST

START_TEST(bzimage_cmdline_size)
{
	struct bz_spec s;
	struct run t;
	size_t len;

	bz_spec_default(&s);
	s.cmdline_size = 16;
	uint8_t *kimg = bz_make(&s, &len);
	run_init(&t, MiB(64), kimg, len, 0, "0123456789abcdef", BOOT_AUTO);
	ck_assert_msg(run_load(&t) == 0, "%s", err_msg());
	check_cmdline(&t, "0123456789abcdef");
	t.in.cmdline = "0123456789abcdefg";
	ck_assert_int_eq(run_load(&t), -E2BIG);
	ck_assert_str_eq(err_msg(), "k: command line is 17 bytes; this kernel accepts at most 16");
	run_free(&t);
}
END_TEST

/* --- Multiboot --- */

START_TEST(multiboot_load)
{
	struct elf_spec s;
	struct run t;
	uint64_t mbi = BOOT_MBI_ADDR, mod, mmap;

	elf_spec_default(&s, _i);
	s.note = NOTE_NONE;
	s.mb_offset = 0x400;
	s.mb_flags = 0x3;
	load_elf(&t, &s, MiB(128), 0x1800, "debug=1", BOOT_AUTO);

	check_entry(&t, BOOT_MULTIBOOT, 0, 0x100010);
	ck_assert_uint_eq(t.entry.rax, 0x2BADB002);
	ck_assert_uint_eq(t.entry.rbx, mbi);
	ck_assert_uint_eq(t.entry.cr3, 0);
	check_gdt(&t);
	check_elf_segment(&t);

	/* MEM | CMDLINE | MODS | MMAP | BOOT_LOADER_NAME */
	ck_assert_uint_eq(rd32(&t.mem, mbi), 0x1 | 0x4 | 0x8 | 0x40 | 0x200);
	ck_assert_uint_eq(rd32(&t.mem, mbi + 4), 639);
	ck_assert_uint_eq(rd32(&t.mem, mbi + 8), (MiB(128) - MiB(1)) >> 10);
	ck_assert_uint_eq(rd32(&t.mem, mbi + 16), BOOT_CMDLINE_ADDR);
	check_cmdline(&t, "debug=1");
	ck_assert_uint_eq(rd32(&t.mem, mbi + 20), 1);
	mod = rd32(&t.mem, mbi + 24);
	ck_assert_uint_eq(rd32(&t.mem, mod), MiB(128) - 0x2000);
	ck_assert_uint_eq(rd32(&t.mem, mod + 4), MiB(128) - 0x2000 + 0x1800);
	ck_assert_str_eq((const char *)gpa(&t.mem, rd32(&t.mem, mod + 8), 7), "initrd");
	check_initrd_bytes(&t, rd32(&t.mem, mod));
	ck_assert_uint_eq(rd32(&t.mem, mbi + 44), 24 * t.in.e820_count);
	mmap = rd32(&t.mem, mbi + 48);
	for (unsigned i = 0; i < t.in.e820_count; i++)
		ck_assert_uint_eq(rd32(&t.mem, mmap + 24 * i), 20);
	check_e820_table(&t, mmap, 24, 4);
	ck_assert_str_eq((const char *)gpa(&t.mem, rd32(&t.mem, mbi + 64), 5), "kite");
	run_free(&t);
}
END_TEST

START_TEST(multiboot_no_initrd)
{
	struct elf_spec s;
	struct run t;

	elf_spec_default(&s, 0);
	s.note = NOTE_NONE;
	s.mb_offset = 0x400;
	s.mb_flags = 0x2;
	load_elf(&t, &s, MiB(16), 0, "", BOOT_MULTIBOOT);
	ck_assert_uint_eq(rd32(&t.mem, BOOT_MBI_ADDR + 20), 0);
	ck_assert_uint_eq(rd8(&t.mem, rd32(&t.mem, BOOT_MBI_ADDR + 16)), 0);	/* "" */
	run_free(&t);
}
END_TEST

/* --- refusals --- */

enum refuse { R_OUTSIDE_RAM, R_BOOT_DATA, R_EBDA, R_ACROSS_HOLE, R_MB_ABOVE_4G, R_HIGH_OK,
	      R_ENTRY_OUTSIDE, R_PVH_ENTRY_OUTSIDE, R_INITRD_TOO_BIG, R_CMDLINE_TOO_LONG,
	      R_KERNEL_OVER_INITRD_ROOM };

struct refuse_case {
	const char *what;
	enum refuse k;
	int is64;
	int want;
	const char *msg;
};

static const struct refuse_case refuse_cases[] = {
	{ "segment outside RAM", R_OUTSIDE_RAM, 1, -ENOSPC, "does not fit in guest RAM" },
	{ "segment on boot data", R_BOOT_DATA, 0, -EINVAL, "overlaps kite's boot data" },
	{ "segment on EBDA/ACPI", R_EBDA, 1, -EINVAL, "EBDA" },
	{ "segment across the hole", R_ACROSS_HOLE, 1, -ENOSPC, "does not fit" },
	{ "multiboot above 4 GiB", R_MB_ABOVE_4G, 1, -EINVAL, "above 4 GiB" },
	{ "linux64 above 4 GiB is fine", R_HIGH_OK, 1, 0, NULL },
	{ "entry outside segments", R_ENTRY_OUTSIDE, 1, -EINVAL, "no loadable segment" },
	{ "PVH entry outside", R_PVH_ENTRY_OUTSIDE, 0, -EINVAL, "no loadable segment" },
	{ "initrd too large", R_INITRD_TOO_BIG, 1, -ENOSPC, "initrd: " },
	{ "cmdline too long", R_CMDLINE_TOO_LONG, 1, -E2BIG, "at most 65535" },
	{ "initrd no room above kernel", R_KERNEL_OVER_INITRD_ROOM, 1, -ENOSPC, "kernel's end" },
};

START_TEST(refusal_table)
{
	const struct refuse_case *c = &refuse_cases[_i];
	struct elf_spec s;
	struct run t;
	uint64_t ram = MiB(256), initrd = 0;
	enum boot_proto proto = BOOT_AUTO;
	char *longline = NULL;
	size_t len;
	int r;

	elf_spec_default(&s, c->is64);
	switch (c->k) {
	case R_OUTSIDE_RAM:	s.load[0].paddr = MiB(256) - 0x1000; break;
	case R_BOOT_DATA:	s.load[0].paddr = 0x8000; s.note_entry = 0x8020; break;
	case R_EBDA:		s.load[0].paddr = 0xfe000; s.note_entry = 0xfe020; break;
	case R_ACROSS_HOLE:
		ram = GiB(4) + MiB(16);
		s.load[0].paddr = MMIO_HOLE_START - 0x1000;
		break;
	case R_MB_ABOVE_4G:
	case R_HIGH_OK:
		ram = GiB(4) + MiB(16);
		s.note = NOTE_NONE;
		s.load[0].paddr = GiB(4);
		s.entry = GiB(4) + 0x10;
		s.mb_offset = c->k == R_MB_ABOVE_4G ? 0x400 : -1;
		s.mb_flags = 0x3;
		break;
	case R_ENTRY_OUTSIDE:	s.note = NOTE_NONE; s.entry = 0x200000; break;
	case R_PVH_ENTRY_OUTSIDE: s.note_entry = 0x200000; break;
	case R_INITRD_TOO_BIG:	ram = MiB(64); initrd = MiB(70); break;
	case R_CMDLINE_TOO_LONG:
		longline = malloc(BOOT_CMDLINE_MAX + 1);
		memset(longline, 'a', BOOT_CMDLINE_MAX);
		longline[BOOT_CMDLINE_MAX] = 0;
		break;
	case R_KERNEL_OVER_INITRD_ROOM:
		/* kernel ends at 62 MiB of 64: 1 MiB of initrd has no room */
		s.load[0].paddr = MiB(60);
		s.load[0].memsz = MiB(2);
		s.note_entry = MiB(60) + 0x20;
		ram = MiB(64);
		initrd = MiB(2) + 1;
		break;
	}
	run_init(&t, ram, NULL, 0, initrd, longline ? longline : "", proto);
	t.kernel = elf_make(&s, &len);
	t.in.kernel = t.kernel;
	t.in.kernel_size = len;
	r = run_load(&t);
	ck_assert_msg(r == c->want, "%s: got %d (%s)", c->what, r, err_msg());
	if (c->msg) {
		assert_msg_has(c->msg);
		ck_assert_msg(!strncmp(err_msg(), "k: ", 3) || !strncmp(err_msg(), "initrd: ", 8),
			      "message '%s' names neither kernel nor initrd", err_msg());
	}
	if (c->k == R_HIGH_OK) {
		ck_assert_uint_eq(t.entry.rip, GiB(4) + 0x10);
		ck_assert_uint_eq(rd8(&t.mem, GiB(4) + 1), ELF_BYTE(0x1001));
	}
	free(longline);
	run_free(&t);
}
END_TEST

START_TEST(load_probes_and_refuses)
{
	struct run t;
	uint8_t *junk = calloc(1, 4096);
	run_init(&t, MiB(16), junk, 4096, 0, "", BOOT_AUTO);
	ck_assert_int_eq(run_load(&t), -ENOEXEC);
	assert_msg_has("not a kernel kite can boot");
	run_free(&t);
}
END_TEST

#define N(a) (sizeof(a) / sizeof((a)[0]))

TCase *boot_load_tcase(void)
{
	TCase *tc = tcase_create("load");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, pvh_load, 0, 2);
	tcase_add_test(tc, pvh_without_initrd);
	tcase_add_test(tc, pvh_initrd_below_hole);
	tcase_add_test(tc, linux64_load);
	tcase_add_test(tc, linux64_virtual_entry);
	tcase_add_loop_test(tc, bzimage_load, 0, 2);
	tcase_add_loop_test(tc, bzimage_placement_table, 0, N(bz_place_cases));
	tcase_add_test(tc, bzimage_cmdline_size);
	tcase_add_loop_test(tc, multiboot_load, 0, 2);
	tcase_add_test(tc, multiboot_no_initrd);
	tcase_add_loop_test(tc, refusal_table, 0, N(refuse_cases));
	tcase_add_test(tc, load_probes_and_refuses);
	return tc;
}
