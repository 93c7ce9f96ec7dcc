// SPDX-License-Identifier: Apache-2.0
#include <check.h>
#include <errno.h>
#include <string.h>

#include "devices/bus.h"
#include "vmm/err.h"

struct rec {
	uint64_t off;
	unsigned len;
	bool write;
	int calls;
};

static void handler(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct rec *r = opaque;

	r->off = off;
	r->len = len;
	r->write = is_write;
	r->calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

START_TEST(register_lookup_dispatch)
{
	struct bus b;
	struct rec a = { 0 }, c = { 0 };
	struct bus_range out;
	uint8_t d[8];

	bus_init(&b, "mmio");
	ck_assert_int_eq(bus_register(&b, 0x2000, 0x100, handler, &c, "c"), 0);
	ck_assert_int_eq(bus_register(&b, 0x1000, 0x10, handler, &a, "a"), 0);
	ck_assert(bus_find(&b, 0x100f, &out));
	ck_assert_ptr_eq(out.opaque, &a);
	ck_assert(!bus_find(&b, 0x1010, &out));
	ck_assert(!bus_find(&b, 0xfff, &out));
	ck_assert(bus_access(&b, 0x2010, d, 4, false));
	ck_assert_uint_eq(c.off, 0x10);
	ck_assert_uint_eq(d[0], 0x5a);
	/* An access that runs past the end of a range is not dispatched. */
	ck_assert(!bus_access(&b, 0x100e, d, 4, false));
	ck_assert_uint_eq(d[0], 0xff);
	ck_assert_int_eq(a.calls, 0);
	ck_assert(bus_access(&b, 0x100c, d, 4, true));
	ck_assert(a.write);
	ck_assert_int_eq(a.calls, 1);
	bus_destroy(&b);
}
END_TEST

static const struct { uint64_t base, len; int want; } overlaps[] = {
	{ 0x1000, 0x10, -EEXIST },	/* same */
	{ 0x0ff0, 0x11, -EEXIST },	/* last byte overlaps */
	{ 0x100f, 0x1, -EEXIST },	/* inside */
	{ 0x0f00, 0x1000, -EEXIST },	/* covers */
	{ 0x0ff0, 0x10, 0 },		/* touches below */
	{ 0x1010, 0x10, 0 },		/* touches above */
	{ 0x5000, 0, -EINVAL },		/* empty */
	{ ~0ULL - 4, 0x10, -EINVAL },	/* wraps */
	{ ~0ULL - 0xf, 0x10, 0 },	/* ends at the top */
};

START_TEST(overlap_table)
{
	struct bus b;
	struct rec a = { 0 };

	bus_init(&b, "pio");
	ck_assert_int_eq(bus_register(&b, 0x1000, 0x10, handler, &a, "first"), 0);
	ck_assert_int_eq(bus_register(&b, overlaps[_i].base, overlaps[_i].len, handler, &a, "second"),
			 overlaps[_i].want);
	if (overlaps[_i].want == -EEXIST)
		ck_assert_ptr_nonnull(strstr(err_msg(), "second at"));
	bus_destroy(&b);
}
END_TEST

START_TEST(unregister)
{
	struct bus b;
	struct rec a = { 0 }, x = { 0 };
	struct bus_range out;

	bus_init(&b, "mmio");
	for (uint64_t i = 0; i < 40; i++)	/* grows the table past its first size */
		ck_assert_int_eq(bus_register(&b, 0x10000 - i * 0x100, 0x80, handler, &a, "r"), 0);
	ck_assert_int_eq(bus_unregister(&b, 0x10000, &x), -ENOENT);
	ck_assert_int_eq(bus_unregister(&b, 0x10000, &a), 0);
	ck_assert(!bus_find(&b, 0x10000, &out));
	ck_assert(bus_find(&b, 0xff00, &out));
	ck_assert_int_eq(bus_register(&b, 0x10000, 0x100, handler, &x, "again"), 0);
	bus_destroy(&b);
}
END_TEST

Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, register_lookup_dispatch);
	tcase_add_loop_test(tc, overlap_table, 0, sizeof(overlaps) / sizeof(overlaps[0]));
	tcase_add_test(tc, unregister);
	suite_add_tcase(s, tc);
	return s;
}
