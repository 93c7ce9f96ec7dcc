// SPDX-License-Identifier: Apache-2.0
/* kernel_probe and boot_choose: every format's header checks, table-driven
 * over made-up images. boot_load's tests are in test_boot_load.c. */
#include <check.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "tests/boot_fixtures.h"
#include "vmm/err.h"

TCase *boot_load_tcase(void);

#define assert_msg_has(s) \
	ck_assert_msg(strstr(err_msg(), (s)) != NULL, "message '%s' lacks '%s'", err_msg(), (s))

static int probe_spec(const struct elf_spec *s, struct kernel_info *ki)
{
	size_t len;
	uint8_t *img = elf_make(s, &len);
	int r;

	err_clear();
	r = kernel_probe("k.elf", img, len, ki);
	free(img);
	return r;
}

/* --- PVH notes --- */

START_TEST(pvh_note_elf64_and_elf32)
{
	for (int is64 = 0; is64 <= 1; is64++) {
		struct elf_spec s;
		struct kernel_info ki;
		enum boot_proto p;

		elf_spec_default(&s, is64);
		ck_assert_int_eq(probe_spec(&s, &ki), 0);
		ck_assert(ki.is_elf && ki.has_pvh && !ki.is_bzimage && !ki.has_multiboot);
		ck_assert_int_eq(ki.is_elf64, is64);
		ck_assert_uint_eq(ki.pvh_entry, 0x100020);
		ck_assert_uint_eq(ki.elf_entry, 0x100010);
		ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_AUTO, &p), 0);
		ck_assert_int_eq(p, BOOT_PVH);
	}
}
END_TEST

struct note_case {
	const char *what;
	int is64;
	enum note_where where;
	const char *name;
	uint32_t type, descsz;
	int after_other;
	uint64_t cut;
	int want_ret, want_pvh;
	const char *want_msg;
};

static const struct note_case note_cases[] = {
	{ "4-byte value in ELF64", 1, NOTE_SEGMENT, "Xen", 18, 4, 0, 0, 0, 1, NULL },
	{ "8-byte value in ELF32", 0, NOTE_SEGMENT, "Xen", 18, 8, 0, 0, 0, 1, NULL },
	{ "after another note", 1, NOTE_SEGMENT, "Xen", 18, 8, 1, 0, 0, 1, NULL },
	{ "in a section, 64", 1, NOTE_SECTION, "Xen", 18, 8, 0, 0, 0, 1, NULL },
	{ "in a section, 32", 0, NOTE_SECTION, "Xen", 18, 4, 1, 0, 0, 1, NULL },
	{ "missing", 1, NOTE_NONE, "Xen", 18, 8, 0, 0, 0, 0, NULL },
	{ "other Xen note type", 1, NOTE_SEGMENT, "Xen", 17, 8, 0, 0, 0, 0, NULL },
	{ "bad name Xem", 1, NOTE_SEGMENT, "Xem", 18, 8, 0, 0, 0, 0, NULL },
	{ "bad name XEN", 0, NOTE_SEGMENT, "XEN", 18, 4, 0, 0, 0, 0, NULL },
	{ "name Xe (short)", 1, NOTE_SEGMENT, "Xe", 18, 8, 0, 0, 0, 0, NULL },
	{ "name Xenon (long)", 1, NOTE_SEGMENT, "Xenon", 18, 8, 0, 0, 0, 0, NULL },
	{ "6-byte value", 1, NOTE_SEGMENT, "Xen", 18, 6, 0, 0, -EINVAL, 0, "expected 4 or 8" },
	{ "truncated value", 1, NOTE_SEGMENT, "Xen", 18, 8, 0, 4, -EINVAL, 0, "runs past" },
	{ "truncated name", 0, NOTE_SEGMENT, "Xen", 18, 4, 0, 6, -EINVAL, 0, "runs past" },
	{ "truncated in a section", 1, NOTE_SECTION, "Xen", 18, 8, 1, 3, -EINVAL, 0, "runs past" },
};

START_TEST(pvh_note_table)
{
	const struct note_case *c = &note_cases[_i];
	struct elf_spec s;
	struct kernel_info ki;
	int r;

	elf_spec_default(&s, c->is64);
	s.note = c->where;
	s.note_name = c->name;
	s.note_type = c->type;
	s.note_descsz = c->descsz;
	s.note_after_other = c->after_other;
	s.note_area_cut = c->cut;
	r = probe_spec(&s, &ki);
	ck_assert_msg(r == c->want_ret, "%s: got %d (%s)", c->what, r, err_msg());
	if (!r) {
		ck_assert_msg(ki.has_pvh == c->want_pvh, "%s: has_pvh %d", c->what, ki.has_pvh);
		if (ki.has_pvh)
			ck_assert_uint_eq(ki.pvh_entry, 0x100020);
	}
	if (c->want_msg) {
		assert_msg_has(c->want_msg);
		assert_msg_has("k.elf");
	}
}
END_TEST

START_TEST(pvh_entry_above_4g)
{
	struct elf_spec s;
	struct kernel_info ki;

	elf_spec_default(&s, 1);
	s.note_entry = 0x100000000ULL;
	ck_assert_int_eq(probe_spec(&s, &ki), -EINVAL);
	assert_msg_has("above 4 GiB");
}
END_TEST

/* --- ELF header and segment validation --- */

enum elf_mut {
	M_SEG_PAST_FILE, M_FILESZ_GT_MEMSZ, M_PADDR_WRAP, M_VADDR_WRAP, M_ELF32_PAST_4G,
	M_NO_LOAD, M_BAD_MACHINE, M_NOT_EXEC, M_NOTE_PAST_FILE,
};

struct elf_case {
	const char *what;
	int is64;
	enum elf_mut m;
	int want;
	const char *msg;
};

static const struct elf_case elf_cases[] = {
	{ "segment beyond file", 1, M_SEG_PAST_FILE, -EINVAL, "runs past the end of the file" },
	{ "segment beyond file 32", 0, M_SEG_PAST_FILE, -EINVAL, "runs past the end of the file" },
	{ "filesz > memsz", 1, M_FILESZ_GT_MEMSZ, -EINVAL, "only" },
	{ "filesz > memsz 32", 0, M_FILESZ_GT_MEMSZ, -EINVAL, "only" },
	{ "paddr wraps", 1, M_PADDR_WRAP, -EINVAL, "wraps" },
	{ "vaddr wraps", 1, M_VADDR_WRAP, -EINVAL, "wraps" },
	{ "ELF32 past 4 GiB", 0, M_ELF32_PAST_4G, -EINVAL, "wraps" },
	{ "no PT_LOAD", 1, M_NO_LOAD, -EINVAL, "no PT_LOAD" },
	{ "ARM64 ELF", 1, M_BAD_MACHINE, -ENOEXEC, "machine 183" },
	{ "shared object", 1, M_NOT_EXEC, -EINVAL, "not an executable" },
	{ "note beyond file", 1, M_NOTE_PAST_FILE, -EINVAL, "note" },
};

START_TEST(elf_validation_table)
{
	const struct elf_case *c = &elf_cases[_i];
	struct elf_spec s;
	struct kernel_info ki;
	size_t len;
	uint8_t *img;
	int r;

	elf_spec_default(&s, c->is64);
	switch (c->m) {
	case M_SEG_PAST_FILE:	s.load[0].filesz = 0x2001; s.load[0].memsz = 0x3000; break;
	case M_FILESZ_GT_MEMSZ:	s.load[0].memsz = 0x1fff; break;
	case M_PADDR_WRAP:	s.load[0].paddr = 0xfffffffffffff000ULL; break;
	case M_VADDR_WRAP:	s.load[0].vaddr = 0xffffffffffffe000ULL; break;
	case M_ELF32_PAST_4G:	s.load[0].paddr = 0xffffe000ULL; break;
	case M_NO_LOAD:		s.nload = 0; break;
	case M_BAD_MACHINE:	s.machine = 183; break;
	case M_NOT_EXEC:	s.type = ET_DYN; break;
	case M_NOTE_PAST_FILE:	break;
	}
	img = elf_make(&s, &len);
	if (c->m == M_NOTE_PAST_FILE) {
		Elf64_Phdr ph;	/* the PT_NOTE is the second program header */

		memcpy(&ph, img + sizeof(Elf64_Ehdr) + sizeof(ph), sizeof(ph));
		ph.p_offset = len - 8;
		memcpy(img + sizeof(Elf64_Ehdr) + sizeof(ph), &ph, sizeof(ph));
	}
	err_clear();
	r = kernel_probe("k.elf", img, len, &ki);
	free(img);
	ck_assert_msg(r == c->want, "%s: got %d (%s)", c->what, r, err_msg());
	assert_msg_has(c->msg);
}
END_TEST

START_TEST(elf_bad_headers)
{
	struct elf_spec s;
	struct kernel_info ki;
	size_t len;
	uint8_t *img;

	elf_spec_default(&s, 1);
	img = elf_make(&s, &len);
	/* truncated ELF header */
	ck_assert_int_eq(kernel_probe("k", img, 40, &ki), -EINVAL);
	assert_msg_has("truncated ELF64 header");
	/* program headers beyond the file */
	ck_assert_int_eq(kernel_probe("k", img, 64 + 56 + 10, &ki), -EINVAL);
	assert_msg_has("program headers");
	/* big-endian */
	img[EI_DATA] = ELFDATA2MSB;
	ck_assert_int_eq(kernel_probe("k", img, len, &ki), -EINVAL);
	assert_msg_has("big-endian");
	img[EI_DATA] = ELFDATA2LSB;
	/* odd class */
	img[EI_CLASS] = 7;
	ck_assert_int_eq(kernel_probe("k", img, len, &ki), -EINVAL);
	assert_msg_has("class 7");
	img[EI_CLASS] = ELFCLASS64;
	/* wrong program header size */
	img[54] = 40;	/* e_phentsize */
	ck_assert_int_eq(kernel_probe("k", img, len, &ki), -EINVAL);
	assert_msg_has("program header size");
	free(img);
}
END_TEST

START_TEST(elf_virtual_entry_translated)
{
	struct elf_spec s;
	struct kernel_info ki;

	elf_spec_default(&s, 1);
	s.load[0].vaddr = 0xffffffff81000000ULL;
	s.entry = 0xffffffff81000040ULL;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_uint_eq(ki.elf_entry, 0x100040);
}
END_TEST

/* --- Multiboot header --- */

struct mb_case {
	const char *what;
	long offset;
	int bad_checksum;
	int found;
};

static const struct mb_case mb_cases[] = {
	{ "at 0x400", 0x400, 0, 1 },
	{ "at 0x104", 0x104, 0, 1 },
	{ "at 0x1ff0", 0x1ff0, 0, 1 },
	{ "last slot 8192-12", 8192 - 12, 0, 1 },
	{ "straddling 8 KiB", 8192 - 8, 0, 0 },
	{ "at 8 KiB", 8192, 0, 0 },
	{ "beyond 8 KiB", 0x2400, 0, 0 },
	{ "unaligned", 0x402, 0, 0 },
	{ "bad checksum", 0x400, 1, 0 },
};

START_TEST(multiboot_header_table)
{
	const struct mb_case *c = &mb_cases[_i];
	struct elf_spec s;
	struct kernel_info ki;

	elf_spec_default(&s, 0);
	s.note = NOTE_NONE;
	s.mb_offset = c->offset;
	s.mb_flags = 0x3;
	s.mb_bad_checksum = c->bad_checksum;
	s.file_len = 0x3000;
	s.load[0].offset = 0x2800;	/* keep segment bytes clear of the header */
	s.load[0].filesz = 0x800;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_msg(ki.has_multiboot == c->found, "%s: found %d", c->what, ki.has_multiboot);
	if (c->found)
		ck_assert_uint_eq(ki.mb_flags, 0x3);
}
END_TEST

struct mbflag_case {
	uint32_t flags;
	int want;
	const char *msg;
};

static const struct mbflag_case mbflag_cases[] = {
	{ 0x0, 0, NULL },
	{ 0x1, 0, NULL },
	{ 0x3, 0, NULL },
	{ 0x00020003, 0, NULL },	/* optional bits beyond 16 are fine */
	{ 0x00010003, -EINVAL, "a.out kludge" },
	{ 0x00000007, -EINVAL, "video" },
	{ 0x00000013, -EINVAL, "unknown required bits 0x0010" },
};

START_TEST(multiboot_flags_table)
{
	const struct mbflag_case *c = &mbflag_cases[_i];
	struct elf_spec s;
	struct kernel_info ki;
	enum boot_proto p = BOOT_AUTO;
	int r;

	elf_spec_default(&s, 0);
	s.note = NOTE_NONE;
	s.mb_offset = 0x400;
	s.mb_flags = c->flags;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert(ki.has_multiboot);
	err_clear();
	r = boot_choose("k.elf", &ki, BOOT_AUTO, &p);
	ck_assert_msg(r == c->want, "flags 0x%x: got %d (%s)", c->flags, r, err_msg());
	if (!r)
		ck_assert_int_eq(p, BOOT_MULTIBOOT);
	else
		assert_msg_has(c->msg);
}
END_TEST

START_TEST(multiboot_without_elf)
{
	uint8_t img[0x1000] = { 0 };
	uint32_t hdr[3] = { 0x1BADB002u, 0x00010000u, 0 };
	struct kernel_info ki;

	hdr[2] = -(hdr[0] + hdr[1]);
	memcpy(img + 0x20, hdr, sizeof(hdr));
	ck_assert_int_eq(kernel_probe("k.bin", img, sizeof(img), &ki), -EINVAL);
	assert_msg_has("a.out kludge");
	hdr[1] = 0x3;
	hdr[2] = -(hdr[0] + hdr[1]);
	memcpy(img + 0x20, hdr, sizeof(hdr));
	ck_assert_int_eq(kernel_probe("k.bin", img, sizeof(img), &ki), -EINVAL);
	assert_msg_has("not an ELF image");
}
END_TEST

/* --- bzImage --- */

enum bz_mut {
	BZ_OK, BZ_SETUP0, BZ_NO_SYSSIZE, BZ_BAD_FLAG, BZ_BAD_MAGIC, BZ_V205, BZ_V20B,
	BZ_NO_XLF, BZ_TRUNC_KERNEL, BZ_TRUNC_SETUP, BZ_TRUNC_HDR, BZ_SHORT_HDR, BZ_TINY,
};

struct bz_case {
	const char *what;
	enum bz_mut m;
	int want;
	const char *msg;
};

static const struct bz_case bz_cases[] = {
	{ "good", BZ_OK, 0, NULL },
	{ "setup_sects 0 means 4", BZ_SETUP0, 0, NULL },
	{ "no syssize", BZ_NO_SYSSIZE, 0, NULL },
	{ "wrong boot flag", BZ_BAD_FLAG, -ENOEXEC, "not a kernel kite can boot" },
	{ "wrong HdrS", BZ_BAD_MAGIC, -ENOEXEC, "not a kernel kite can boot" },
	{ "protocol 2.05", BZ_V205, -EINVAL, "protocol 2.05 is too old: kite needs 2.06" },
	{ "protocol 2.11", BZ_V20B, -EINVAL, "2.11 has no xloadflags" },
	{ "no XLF_KERNEL_64", BZ_NO_XLF, -EINVAL, "XLF_KERNEL_64" },
	{ "truncated kernel", BZ_TRUNC_KERNEL, -EINVAL, "truncated" },
	{ "truncated in setup", BZ_TRUNC_SETUP, -EINVAL, "no room for a kernel" },
	{ "truncated in header", BZ_TRUNC_HDR, -EINVAL, "past the end of the file" },
	{ "header too short", BZ_SHORT_HDR, -EINVAL, "too short" },
	{ "tiny file", BZ_TINY, -ENOEXEC, "not a kernel kite can boot" },
};

START_TEST(bzimage_header_table)
{
	const struct bz_case *c = &bz_cases[_i];
	struct bz_spec s;
	struct kernel_info ki;
	enum boot_proto p;
	size_t len;
	uint8_t *img;
	int r;

	bz_spec_default(&s);
	switch (c->m) {
	case BZ_OK:		break;
	case BZ_SETUP0:		s.setup_sects = 0; break;
	case BZ_NO_SYSSIZE:	s.no_syssize = 1; break;
	case BZ_BAD_FLAG:	s.boot_flag = 0x55aa; break;
	case BZ_BAD_MAGIC:	s.header = 0x53726449; break;
	case BZ_V205:		s.version = 0x0205; break;
	case BZ_V20B:		s.version = 0x020b; break;
	case BZ_NO_XLF:		s.xloadflags = 0x2; break;
	case BZ_TRUNC_KERNEL:	s.cut = 0x10; break;
	case BZ_TRUNC_SETUP:	s.cut = s.pm_size + 0x100; break;
	case BZ_TRUNC_HDR:	s.cut = s.pm_size + 5 * 512 - 0x250; break;
	case BZ_SHORT_HDR:	s.jump_len = 0x40; break;	/* ends at 0x242 */
	case BZ_TINY:		s.cut = s.pm_size + 5 * 512 - 0x100; break;
	}
	img = bz_make(&s, &len);
	err_clear();
	r = kernel_probe("bz", img, len, &ki);
	free(img);
	ck_assert_msg(r == c->want, "%s: got %d (%s)", c->what, r, err_msg());
	if (c->msg)
		assert_msg_has(c->msg);
	if (!r) {
		ck_assert(ki.is_bzimage && !ki.is_elf);
		ck_assert_uint_eq(ki.bz_version, 0x020f);
		ck_assert_int_eq(boot_choose("bz", &ki, BOOT_AUTO, &p), 0);
		ck_assert_int_eq(p, BOOT_BZIMAGE);
	}
}
END_TEST

/* --- anything else, and never reading outside the buffer --- */

START_TEST(not_a_kernel)
{
	static const char *want = "junk: not a kernel kite can boot (expected a bzImage, an ELF "
				  "with a PVH note, a Multiboot ELF, or a 64-bit ELF)";
	uint8_t junk[4096];
	struct kernel_info ki;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(kernel_probe("junk", junk, sizeof(junk), &ki), -ENOEXEC);
	ck_assert_str_eq(err_msg(), want);
	ck_assert_int_eq(kernel_probe("junk", junk, 0, &ki), -ENOEXEC);
	ck_assert_int_eq(kernel_probe("junk", (const uint8_t *)"\177EL", 3, &ki), -ENOEXEC);
}
END_TEST

/* Every prefix of each valid image probes without reading past its end
 * (exact-size heap copies, so ASan sees any overrun). */
START_TEST(every_truncation_is_safe)
{
	struct elf_spec es;
	struct bz_spec bs;
	uint8_t *imgs[4];
	size_t lens[4];

	elf_spec_default(&es, 1);
	es.note_after_other = 1;
	es.mb_offset = 0x600;
	imgs[0] = elf_make(&es, &lens[0]);
	elf_spec_default(&es, 0);
	es.note = NOTE_SECTION;
	imgs[1] = elf_make(&es, &lens[1]);
	bz_spec_default(&bs);
	imgs[2] = bz_make(&bs, &lens[2]);
	elf_spec_default(&es, 0);
	es.note = NOTE_NONE;
	es.mb_offset = 0x1ff0;
	es.load[0].offset = 0x2000;
	es.load[0].filesz = 0x1000;
	imgs[3] = elf_make(&es, &lens[3]);
	for (int k = 0; k < 4; k++) {
		for (size_t n = 0; n <= lens[k]; n++) {
			uint8_t *cp = malloc(n ? n : 1);
			struct kernel_info ki;
			int r;

			memcpy(cp, imgs[k], n);
			r = kernel_probe("t", cp, n, &ki);
			ck_assert(r == 0 || r == -EINVAL || r == -ENOEXEC);
			if (n == lens[k])
				ck_assert_int_eq(r, 0);
			free(cp);
		}
		free(imgs[k]);
	}
}
END_TEST

/* --- boot_choose --- */

START_TEST(choose_refusals)
{
	struct elf_spec s;
	struct kernel_info ki;
	enum boot_proto p;

	/* pvh for an ELF without a note */
	elf_spec_default(&s, 1);
	s.note = NOTE_NONE;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_AUTO, &p), 0);
	ck_assert_int_eq(p, BOOT_LINUX64);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_PVH, &p), -EINVAL);
	ck_assert_str_eq(err_msg(), "k.elf: cannot boot with pvh: the image is an ELF64 without "
			 "a PVH note or Multiboot header");
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_MULTIBOOT, &p), -EINVAL);
	assert_msg_has("multiboot");
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_BZIMAGE, &p), -EINVAL);
	assert_msg_has("bzimage");

	/* linux64 for an ELF32 */
	elf_spec_default(&s, 0);
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_LINUX64, &p), -EINVAL);
	ck_assert_str_eq(err_msg(), "k.elf: cannot boot with linux64: the image is an ELF32 with "
			 "a PVH note");

	/* an ELF32 with nothing to go by */
	s.note = NOTE_NONE;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_AUTO, &p), -ENOEXEC);
	assert_msg_has("ELF32");

	/* an ELF64 with a note may still be entered as linux64 on request */
	elf_spec_default(&s, 1);
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_LINUX64, &p), 0);
	ck_assert_int_eq(p, BOOT_LINUX64);
	/* PVH wins over Multiboot in AUTO */
	s.mb_offset = 0x600;
	s.mb_flags = 0x3;
	ck_assert_int_eq(probe_spec(&s, &ki), 0);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_AUTO, &p), 0);
	ck_assert_int_eq(p, BOOT_PVH);
	ck_assert_int_eq(boot_choose("k.elf", &ki, BOOT_MULTIBOOT, &p), 0);
	ck_assert_int_eq(p, BOOT_MULTIBOOT);
}
END_TEST

START_TEST(proto_names)
{
	ck_assert_str_eq(boot_proto_name(BOOT_AUTO), "auto");
	ck_assert_str_eq(boot_proto_name(BOOT_PVH), "pvh");
	ck_assert_str_eq(boot_proto_name(BOOT_LINUX64), "linux64");
	ck_assert_str_eq(boot_proto_name(BOOT_BZIMAGE), "bzimage");
	ck_assert_str_eq(boot_proto_name(BOOT_MULTIBOOT), "multiboot");
}
END_TEST

#define N(a) (sizeof(a) / sizeof((a)[0]))

Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("probe");

	tcase_add_test(tc, pvh_note_elf64_and_elf32);
	tcase_add_loop_test(tc, pvh_note_table, 0, N(note_cases));
	tcase_add_test(tc, pvh_entry_above_4g);
	tcase_add_loop_test(tc, elf_validation_table, 0, N(elf_cases));
	tcase_add_test(tc, elf_bad_headers);
	tcase_add_test(tc, elf_virtual_entry_translated);
	tcase_add_loop_test(tc, multiboot_header_table, 0, N(mb_cases));
	tcase_add_loop_test(tc, multiboot_flags_table, 0, N(mbflag_cases));
	tcase_add_test(tc, multiboot_without_elf);
	tcase_add_loop_test(tc, bzimage_header_table, 0, N(bz_cases));
	tcase_add_test(tc, not_a_kernel);
	tcase_add_test(tc, every_truncation_is_safe);
	tcase_add_test(tc, choose_refusals);
	tcase_add_test(tc, proto_names);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, boot_load_tcase());
	return s;
}
