// SPDX-License-Identifier: Apache-2.0
#include <check.h>
#include <string.h>

#include "vmm/err.h"

START_TEST(set_and_prefix)
{
	int r = err_set(ENOENT, "cannot open %s", "x.img");

	ck_assert_int_eq(r, -ENOENT);
	ck_assert_str_eq(err_msg(), "cannot open x.img");
	r = err_prefix(r, "--disk path=%s", "x.img");
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_str_eq(err_msg(), "--disk path=x.img: cannot open x.img");
}
END_TEST

START_TEST(sys_appends_strerror)
{
	int r = err_sys(ENOENT, "cannot open %s", "y");

	ck_assert_int_eq(r, -ENOENT);
	ck_assert_str_eq(err_msg(), "cannot open y: No such file or directory");
	err_clear();
	ck_assert_str_eq(err_msg(), "");
	err_prefix(-EACCES, "ctx");
	ck_assert_str_eq(err_msg(), "ctx: Permission denied");
}
END_TEST

Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, set_and_prefix);
	tcase_add_test(tc, sys_appends_strerror);
	suite_add_tcase(s, tc);
	return s;
}
