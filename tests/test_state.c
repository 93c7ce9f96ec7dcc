// SPDX-License-Identifier: Apache-2.0
/* The state tree layer (vmm/state.h) and CRC-32C (vmm/crc32c.h). */
#include <check.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/crc32c.h"
#include "vmm/err.h"
#include "vmm/state.h"

static struct state_tree st;

static void setup(void)
{
	ck_assert_int_eq(state_begin(&st), 0);
}

static void teardown(void)
{
	state_free(&st);
}

/* Pack the tree and hand out a private copy of `len` bytes. */
static void *finish(size_t *len)
{
	const void *blob;
	void *copy;

	ck_assert_int_eq(state_finish(&st, &blob, len), 0);
	copy = malloc(*len);
	memcpy(copy, blob, *len);
	return copy;
}

START_TEST(round_trip)
{
	uint64_t arr[5] = { 1, 2, 0xffffffffffffffffULL, 0, 42 }, got[8];
	uint8_t blob[7] = { 1, 2, 3, 4, 5, 6, 7 }, b[7];
	int n = state_add_node(&st, 0, "dev@0"), m;
	size_t len, cnt;
	uint32_t v32;
	uint64_t v64;
	void *t;

	ck_assert_int_gt(n, 0);
	state_put_u32(&st, n, "a", 0xdeadbeef);
	state_put_u64(&st, n, "b", 0x0123456789abcdefULL);
	state_put_bytes(&st, n, "c", blob, sizeof(blob));
	state_put_u64_array(&st, n, "d", arr, 5);
	state_put_bytes(&st, n, "empty", NULL, 0);
	m = state_add_node(&st, n, "child");
	state_put_u32(&st, m, "x", 7);
	ck_assert_int_eq(state_error(&st), 0);
	t = finish(&len);

	ck_assert_int_eq(state_check(t, len), 0);
	n = state_node(t, 0, "dev@0");
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(state_get_u32(t, n, "a", &v32), 0);
	ck_assert_uint_eq(v32, 0xdeadbeef);
	ck_assert_int_eq(state_get_u64(t, n, "b", &v64), 0);
	ck_assert_uint_eq(v64, 0x0123456789abcdefULL);
	ck_assert_int_eq(state_get_bytes(t, n, "c", b, sizeof(b)), 0);
	ck_assert_mem_eq(b, blob, sizeof(b));
	ck_assert_int_eq(state_get_u64_array(t, n, "d", got, 8, &cnt), 0);
	ck_assert_uint_eq(cnt, 5);
	ck_assert_mem_eq(got, arr, sizeof(arr));
	ck_assert_int_eq(state_get_bytes_max(t, n, "empty", b, sizeof(b), &cnt), 0);
	ck_assert_uint_eq(cnt, 0);
	ck_assert(state_has(t, n, "a"));
	ck_assert(!state_has(t, n, "zz"));
	ck_assert(state_has_node(t, n, "child"));
	m = state_node(t, n, "child");
	ck_assert_int_eq(state_get_u32(t, m, "x", &v32), 0);
	ck_assert_uint_eq(v32, 7);
	/* Integers are big-endian in the tree, as FDT has them. */
	ck_assert_uint_eq(fdt32_to_cpu(*(const fdt32_t *)fdt_getprop(t, n, "a", NULL)), 0xdeadbeef);
	free(t);
}
END_TEST

START_TEST(grows_past_the_first_buffer)
{
	static uint8_t big[300 << 10];
	char name[32];
	size_t len;
	void *t;

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = i * 7;
	/* A node's offset survives the buffer moving under it, and additions
	 * to its own subtree. */
	int first = state_add_node(&st, 0, "first");

	for (unsigned i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "n@%u", i);
		state_put_u32(&st, state_add_node(&st, first, name), "i", i);
	}
	state_put_bytes(&st, first, "big", big, sizeof(big));
	state_put_u32(&st, first, "after", 99);
	ck_assert_int_eq(state_error(&st), 0);
	ck_assert_uint_gt(st.cap, 300 << 10);
	t = finish(&len);
	ck_assert_int_eq(state_check(t, len), 0);
	{
		const void *p;
		size_t n;
		uint32_t v;
		int f = state_node(t, 0, "first");

		ck_assert_int_eq(state_get_blob(t, f, "big", 0, sizeof(big), &p, &n), 0);
		ck_assert_uint_eq(n, sizeof(big));
		ck_assert_mem_eq(p, big, n);
		ck_assert_int_eq(state_get_u32(t, state_node(t, f, "n@499"), "i", &v), 0);
		ck_assert_uint_eq(v, 499);
		ck_assert_int_eq(state_get_u32(t, f, "after", &v), 0);
		ck_assert_uint_eq(v, 99);
	}
	free(t);
}
END_TEST

START_TEST(errors_name_node_and_property)
{
	int n = state_add_node(&st, 0, "uart@3f8");
	uint8_t b[8];
	uint32_t v;
	uint64_t w;
	size_t len;
	void *t;

	state_put_u64(&st, n, "eight", 1);
	state_put_u32(&st, n, "four", 5);
	t = finish(&len);
	ck_assert_int_eq(state_get_u32(t, n, "eight", &v), -EINVAL);
	ck_assert_str_eq(err_msg(), "state /uart@3f8: property 'eight' is 8 bytes, expected 4");
	ck_assert_int_eq(state_get_u64(t, n, "four", &w), -EINVAL);
	ck_assert_int_eq(state_get_u32(t, n, "none", &v), -ENOENT);
	ck_assert_str_eq(err_msg(), "state /uart@3f8: no property 'none'");
	ck_assert_int_eq(state_node(t, 0, "acpi-pm"), -ENOENT);
	ck_assert_str_eq(err_msg(), "state /: no node 'acpi-pm'");
	ck_assert_int_eq(state_get_u32_range(t, n, "four", 0, 4, &v), -EINVAL);
	ck_assert_str_eq(err_msg(), "state /uart@3f8: 'four' is 5, expected 0 to 4");
	ck_assert_int_eq(state_get_bool(t, n, "four", &(bool){ 0 }), -EINVAL);
	ck_assert_int_eq(state_get_bytes_max(t, n, "eight", b, 4, &len), -EINVAL);
	/* A failed lookup's offset makes every getter fail, not crash. */
	ck_assert_int_eq(state_get_u32(t, state_node(t, 0, "nope"), "x", &v), -ENOENT);
	free(t);
}
END_TEST

START_TEST(sticky_errors)
{
	int n = state_add_node(&st, 0, "a");

	ck_assert_int_gt(n, 0);
	/* The same node twice: libfdt says it exists; everything after fails. */
	ck_assert_int_lt(state_add_node(&st, 0, "a"), 0);
	ck_assert_int_lt(state_put_u32(&st, n, "x", 1), 0);
	ck_assert_int_lt(state_error(&st), 0);
	ck_assert_int_lt(state_add_node(&st, n, "b"), 0);
}
END_TEST

START_TEST(check_refuses_bad_trees)
{
	size_t len;
	uint8_t *t;
	struct state_tree other;

	state_put_u32(&st, state_add_node(&st, 0, "dev"), "x", 1);
	t = finish(&len);
	ck_assert_int_eq(state_check(t, len), 0);
	ck_assert_int_eq(state_check(t, 10), -EINVAL);
	ck_assert_int_eq(state_check(t, len - 1), -EINVAL);
	/* Any one byte changed, anywhere: a clean answer, never a crash
	 * (the asan build checks every access). */
	for (size_t off = 0; off < len; off++) {
		uint8_t *c = malloc(len);
		int r;

		memcpy(c, t, len);
		c[off] ^= 0x5a;
		r = state_check(c, len);
		ck_assert(r == 0 || r == -EINVAL);
		free(c);
	}
	/* The structure block's first token, and the total size. */
	t[fdt_off_dt_struct(t) + 3] ^= 0x40;
	ck_assert_int_eq(state_check(t, len), -EINVAL);
	t[fdt_off_dt_struct(t) + 3] ^= 0x40;
	t[7] ^= 0x10;
	ck_assert_int_eq(state_check(t, len), -EINVAL);
	t[7] ^= 0x10;
	/* Bad magic. */
	t[0] ^= 1;
	ck_assert_int_eq(state_check(t, len), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_msg(), "corrupt"));
	free(t);

	/* An FDT older than version 16 (nodes named by path), whose root
	 * has no '/': libfdt's own check crashed on it (fuzz_state_platform,
	 * fuzz/regressions/state_platform/fdt-version-7). */
	state_free(&st);
	ck_assert_int_eq(state_begin(&st), 0);
	state_put_u32(&st, state_add_node(&st, 0, "dev"), "x", 1);
	t = finish(&len);
	fdt_set_last_comp_version(t, 2);
	for (uint32_t v = 2; v < 16; v++) {
		fdt_set_version(t, v);
		ck_assert_int_eq(state_check(t, len), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err_msg(), "FDT format version"));
	}
	fdt_set_version(t, 17);
	fdt_set_last_comp_version(t, 16);
	ck_assert_int_eq(state_check(t, len), 0);
	free(t);

	/* Another version, or none. */
	ck_assert_int_eq(state_begin(&other), 0);
	ck_assert_int_eq(fdt_setprop_u32(other.fdt, 0, "kite-state-version", 2), 0);
	ck_assert_int_eq(state_check(other.fdt, fdt_totalsize(other.fdt)), -EINVAL);
	ck_assert_str_eq(err_msg(), "state tree: version 2, this kite reads version 1");
	ck_assert_int_eq(fdt_delprop(other.fdt, 0, "kite-state-version"), 0);
	ck_assert_int_eq(state_check(other.fdt, fdt_totalsize(other.fdt)), -EINVAL);
	state_free(&other);
}
END_TEST

/* A getter handed an offset that is not a node's (a caller's slip): a
 * clean error. libfdt's path lookup, which every error message uses, walks
 * off the start of its buffer (on the stack) for the offset of FDT_END,
 * as fuzz/fuzz_state_* found when its walk over a tree ran past the root. */
START_TEST(getters_on_offsets_not_nodes)
{
	size_t len;
	void *t;
	int end, depth = 0, off = 0;
	uint32_t v;

	state_put_u32(&st, state_add_node(&st, 0, "dev"), "x", 1);
	t = finish(&len);
	ck_assert_int_eq(state_check(t, len), 0);
	/* Past the root's end: fdt_next_node hands back the FDT_END offset. */
	do
		off = fdt_next_node(t, off, &depth);
	while (off >= 0 && depth >= 0);
	ck_assert_int_ge(off, 0);
	end = off;
	ck_assert_ptr_null(fdt_get_name(t, end, NULL));
	ck_assert_int_eq(state_get_u32(t, end, "x", &v), -ENOENT);
	{
		char want[64];

		snprintf(want, sizeof(want), "state (node at %d): no property 'x'", end);
		ck_assert_str_eq(err_msg(), want);
	}
	ck_assert_int_eq(state_node(t, end, "dev"), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "(node at "));
	/* The offset of a property, not a node. */
	off = fdt_first_property_offset(t, state_node(t, 0, "dev"));
	ck_assert_int_ge(off, 0);
	ck_assert_int_eq(state_get_u32(t, off, "x", &v), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "(node at "));
	free(t);
}
END_TEST

struct obj {
	uint8_t a;
	bool b;
	uint16_t c;
	uint32_t d;
	uint64_t e;
};

static const struct state_field fields[] = {
	STATE_FIELD(struct obj, a, "a", 16),
	STATE_FIELD(struct obj, b, "b", 1),
	STATE_BITS(struct obj, c, "c", 0x0f0f),
	STATE_FIELD(struct obj, d, "d", UINT32_MAX),
	STATE_FIELD(struct obj, e, "e", UINT64_MAX),
};

START_TEST(field_tables)
{
	struct obj in = { 16, true, 0x0f01, 0xfffffffe, 0x1122334455667788ULL }, out = { 0 };
	size_t len;
	void *t;

	state_put_fields(&st, state_add_node(&st, 0, "o"), &in, fields, 5);
	in.a = 17;		/* over the limit */
	in.c = 0x1001;		/* a bit outside the mask */
	state_put_fields(&st, state_add_node(&st, 0, "bad"), &in, fields, 5);
	t = finish(&len);
	ck_assert_int_eq(state_get_fields(t, state_node(t, 0, "o"), &out, fields, 5), 0);
	ck_assert_uint_eq(out.a, 16);
	ck_assert(out.b);
	ck_assert_uint_eq(out.c, 0x0f01);
	ck_assert_uint_eq(out.d, 0xfffffffe);
	ck_assert_uint_eq(out.e, 0x1122334455667788ULL);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(state_get_fields(t, state_node(t, 0, "bad"), &out, fields, 5), -EINVAL);
	ck_assert_str_eq(err_msg(), "state /bad: 'a' is 17, at most 16 allowed");
	/* Nothing was written: all are checked before any is stored. */
	ck_assert_uint_eq(out.c, 0);
	free(t);
}
END_TEST

START_TEST(crc32c_values)
{
	static uint8_t buf[10000];
	uint32_t a, b;

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	srand(1);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = rand();
	/* Every length and alignment: both paths agree, and the CRC is
	 * incremental. */
	for (unsigned off = 0; off < 9; off++)
		for (unsigned len = 0; len < 80; len++)
			ck_assert_uint_eq(crc32c(0, buf + off, len), crc32c_sw(0, buf + off, len));
	a = crc32c(0, buf, sizeof(buf));
	b = crc32c(crc32c(0, buf, 3333), buf + 3333, sizeof(buf) - 3333);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_eq(a, crc32c_sw(0, buf, sizeof(buf)));
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("tree");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, grows_past_the_first_buffer);
	tcase_add_test(tc, errors_name_node_and_property);
	tcase_add_test(tc, sticky_errors);
	tcase_add_test(tc, check_refuses_bad_trees);
	tcase_add_test(tc, getters_on_offsets_not_nodes);
	tcase_add_test(tc, field_tables);
	tcase_add_test(tc, crc32c_values);
	suite_add_tcase(s, tc);
	return s;
}
