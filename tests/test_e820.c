// SPDX-License-Identifier: Apache-2.0
#include <check.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"

struct e820_case {
	uint64_t ram;
	unsigned n;
	struct e820_entry want[7];
};

#define RAM(a, b)	{ (a), (b) - (a), E820_RAM }
#define RSV(a, b)	{ (a), (b) - (a), E820_RESERVED }
#define LOW_RSV		RSV(0x9fc00, 0x100000)
#define ECAM		RSV(0xe0000000, 0xf0000000), KVMP
#define KVMP		RSV(0xfeffc000, 0xff000000)	/* KVM's TSS and identity map */

static const struct e820_case cases[] = {
	{ MiB(64), 5, { RAM(0, 0x9fc00), LOW_RSV, RAM(0x100000, MiB(64)), ECAM } },
	{ MiB(512), 5, { RAM(0, 0x9fc00), LOW_RSV, RAM(0x100000, MiB(512)), ECAM } },
	{ GiB(3), 5, { RAM(0, 0x9fc00), LOW_RSV, RAM(0x100000, GiB(3)), ECAM } },
	{ GiB(3) + MiB(512), 6, { RAM(0, 0x9fc00), LOW_RSV, RAM(0x100000, GiB(3)), ECAM,
				  RAM(GiB(4), GiB(4) + MiB(512)) } },
	{ GiB(4) + MiB(512), 6, { RAM(0, 0x9fc00), LOW_RSV, RAM(0x100000, GiB(3)), ECAM,
				  RAM(GiB(4), GiB(5) + MiB(512)) } },
};

START_TEST(map_for_size)
{
	const struct e820_case *c = &cases[_i];
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned n = e820_build(c->ram, e, E820_MAX_ENTRIES);
	uint64_t ram = 0;

	ck_assert_uint_eq(n, c->n);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(e[i].addr == c->want[i].addr && e[i].size == c->want[i].size &&
			      e[i].type == c->want[i].type,
			      "ram 0x%llx entry %u: got [0x%llx +0x%llx type %u]",
			      (unsigned long long)c->ram, i, (unsigned long long)e[i].addr,
			      (unsigned long long)e[i].size, e[i].type);
		ck_assert_uint_gt(e[i].size, 0);
		/* sorted, no overlaps */
		if (i)
			ck_assert_uint_le(e[i - 1].addr + e[i - 1].size, e[i].addr);
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	}
	/* Every byte of guest RAM is usable except the EBDA..1 MiB stretch. */
	ck_assert_uint_eq(ram, c->ram - (HIGH_RAM_START - EBDA_START));
}
END_TEST

START_TEST(ram_never_overlaps_the_hole)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned n = e820_build(GiB(16), e, E820_MAX_ENTRIES);

	for (unsigned i = 0; i < n; i++) {
		if (e[i].type != E820_RAM)
			continue;
		ck_assert(e[i].addr + e[i].size <= MMIO_HOLE_START || e[i].addr >= MMIO_HOLE_END);
	}
}
END_TEST

START_TEST(respects_max)
{
	struct e820_entry e[3] = { 0 };

	ck_assert_uint_eq(e820_build(GiB(8), e, 2), 2);
	ck_assert_uint_eq(e[2].size, 0);	/* nothing written past max */
	ck_assert_uint_eq(e820_build(GiB(8), e, 0), 0);
}
END_TEST

Suite *e820_suite(void)
{
	Suite *s = suite_create("e820");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, map_for_size, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, ram_never_overlaps_the_hole);
	tcase_add_test(tc, respects_max);
	suite_add_tcase(s, tc);
	return s;
}
