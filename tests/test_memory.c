// SPDX-License-Identifier: Apache-2.0
#include <check.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "vmm/err.h"
#include "vmm/memory.h"

static const struct {
	uint64_t size;
	unsigned n;
	uint64_t low, high;
} layouts[] = {
	{ MiB(64), 1, MiB(64), 0 },
	{ MiB(512), 1, MiB(512), 0 },
	{ GiB(3), 1, GiB(3), 0 },
	{ MiB(3584), 2, GiB(3), MiB(512) },
	{ MiB(4608), 2, GiB(3), MiB(1536) },
};

START_TEST(layout_table)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	unsigned n = guest_mem_layout(layouts[_i].size, r);

	ck_assert_uint_eq(n, layouts[_i].n);
	ck_assert_uint_eq(r[0].gpa, 0);
	ck_assert_uint_eq(r[0].size, layouts[_i].low);
	ck_assert_uint_eq(r[0].offset, 0);
	if (n == 2) {
		ck_assert_uint_eq(r[1].gpa, RAM_ABOVE_4G_START);
		ck_assert_uint_eq(r[1].size, layouts[_i].high);
		ck_assert_uint_eq(r[1].offset, layouts[_i].low);
	}
}
END_TEST

START_TEST(ptr_bounds)
{
	static uint8_t low[0x10000], high[0x1000];
	struct guest_mem m = {
		.fd = -1, .nregions = 2,
		.regions = {
			{ .gpa = 0, .size = sizeof(low), .host = low },
			{ .gpa = RAM_ABOVE_4G_START, .size = sizeof(high), .host = high },
		},
	};

	ck_assert_ptr_eq(guest_mem_ptr(&m, 0, 1), low);
	ck_assert_ptr_eq(guest_mem_ptr(&m, 0, sizeof(low)), low);
	ck_assert_ptr_eq(guest_mem_ptr(&m, sizeof(low) - 4, 4), low + sizeof(low) - 4);
	ck_assert_ptr_null(guest_mem_ptr(&m, sizeof(low) - 4, 5));
	ck_assert_ptr_null(guest_mem_ptr(&m, sizeof(low), 1));
	ck_assert_ptr_eq(guest_mem_ptr(&m, sizeof(low), 0), low + sizeof(low));
	ck_assert_ptr_null(guest_mem_ptr(&m, 0, ~0ULL));
	ck_assert_ptr_null(guest_mem_ptr(&m, ~0ULL, 2));
	ck_assert_ptr_null(guest_mem_ptr(&m, 0x20000, 1));
	ck_assert_ptr_eq(guest_mem_ptr(&m, RAM_ABOVE_4G_START + 0x10, 0x10), high + 0x10);
	/* A range may not span two regions even if both exist. */
	ck_assert_ptr_null(guest_mem_ptr(&m, RAM_ABOVE_4G_START - 1, 2));
	ck_assert_ptr_null(guest_mem_ptr(&m, RAM_ABOVE_4G_START + 0xfff, 2));
}
END_TEST

START_TEST(create_small)
{
	struct guest_mem m;
	struct guest_mem_opts o = { .size = MiB(16), .numa_node = -1 };
	char where[128];

	ck_assert_int_eq(guest_mem_create(&m, &o), 0);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_uint_eq(m.nregions, 1);
	ck_assert_uint_eq(guest_mem_low_end(&m), MiB(16));
	memset(guest_mem_ptr(&m, MiB(1), 4096), 0xab, 4096);
	ck_assert_int_eq(guest_mem_placement(&m, where, sizeof(where)), 0);
	ck_assert_ptr_nonnull(strstr(where, "resident"));
	guest_mem_destroy(&m);
	ck_assert_int_eq(m.fd, -1);
}
END_TEST

START_TEST(hugepages_shortfall_explained)
{
	struct guest_mem m;
	/* More 1 GiB pages than any test host has reserved. */
	struct guest_mem_opts o = { .size = GiB(512), .hugepage_size = GiB(1), .numa_node = -1 };
	int r = guest_mem_create(&m, &o);

	ck_assert_int_lt(r, 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "--hugepages 1G"));
	ck_assert_int_eq(m.fd, -1);
}
END_TEST

Suite *memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, layout_table, 0, sizeof(layouts) / sizeof(layouts[0]));
	tcase_add_test(tc, ptr_bounds);
	tcase_add_test(tc, create_small);
	tcase_add_test(tc, hugepages_shortfall_explained);
	suite_add_tcase(s, tc);
	return s;
}
