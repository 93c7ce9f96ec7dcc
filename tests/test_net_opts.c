// SPDX-License-Identifier: Apache-2.0
/* --net parsing (virtio/net_opts.c): every key, and every refusal. */
#include <check.h>
#include <string.h>

#include "virtio/net.h"
#include "vmm/err.h"

START_TEST(tap_with_every_key)
{
	static const uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 };
	struct net_opts o;

	ck_assert_int_eq(net_opts_parse("tap=kt0,mac=02:AB:cd:ef:01:23,queues=4,queue_size=512",
					&o), 0);
	ck_assert_str_eq(o.tap, "kt0");
	ck_assert(o.has_mac);
	ck_assert_mem_eq(o.mac, mac, 6);
	ck_assert_uint_eq(o.queues, 4);
	ck_assert_uint_eq(o.queue_size, 512);
	ck_assert_uint_eq(o.nfds, 0);
	net_opts_free(&o);
	ck_assert_ptr_null(o.tap);
}
END_TEST

START_TEST(tap_defaults)
{
	struct net_opts o;

	ck_assert_int_eq(net_opts_parse("tap=vm-net.0", &o), 0);
	ck_assert_str_eq(o.tap, "vm-net.0");
	ck_assert(!o.has_mac);
	ck_assert_uint_eq(o.queues, 0);		/* one pair per vCPU, decided later */
	ck_assert_uint_eq(o.queue_size, 256);
	net_opts_free(&o);
}
END_TEST

START_TEST(fd_list)
{
	struct net_opts o;

	ck_assert_int_eq(net_opts_parse("fd=3,fd=7,mac=52:54:00:00:00:01,fd=5", &o), 0);
	ck_assert_ptr_null(o.tap);
	ck_assert_uint_eq(o.nfds, 3);
	ck_assert_int_eq(o.fds[0], 3);
	ck_assert_int_eq(o.fds[1], 7);
	ck_assert_int_eq(o.fds[2], 5);
	ck_assert_uint_eq(o.queues, 3);		/* one pair per fd */
	net_opts_free(&o);
	ck_assert_int_eq(net_opts_parse("fd=4,queues=1", &o), 0);
	ck_assert_uint_eq(o.queues, 1);
	net_opts_free(&o);
}
END_TEST

/* Each bad value: refused, and the message names --net and the item. */
static const struct { const char *arg, *say; } bad[] = {
	{ "", "empty value" },
	{ "mac=02:00:00:00:00:01", "expected tap=NAME or fd=N" },
	{ "tap=a,fd=3", "exclude each other" },
	{ "tap=a,tap=b", "tap=b: tap given twice" },
	{ "tap=a,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "mac given twice" },
	{ "tap=a,queues=2,queues=2", "queues given twice" },
	{ "tap=a,queue_size=64,queue_size=64", "queue_size given twice" },
	{ "fd=3,fd=3", "fd=3: fd 3 given twice" },
	{ "fd=3,fd=4,queues=3", "queues=3 but 2 fd=" },
	{ "fd=-1", "fd=-1: expected a file descriptor number" },
	{ "fd=x", "fd=x: expected a file descriptor number" },
	{ "fd=99999999999", "expected a file descriptor number" },
	{ "tap=a,mac=01:00:5e:00:00:01", "mac=01:00:5e:00:00:01: a multicast address" },
	{ "tap=a,mac=ff:ff:ff:ff:ff:ff", "multicast" },
	{ "tap=a,mac=00:00:00:00:00:00", "all-zero" },
	{ "tap=a,mac=02:00:00:00:00", "mac=02:00:00:00:00: expected a MAC address" },
	{ "tap=a,mac=02:00:00:00:00:001", "expected a MAC address" },
	{ "tap=a,mac=02-00-00-00-00-01", "expected a MAC address" },
	{ "tap=a,mac=0g:00:00:00:00:01", "expected a MAC address" },
	{ "tap=a,queues=0", "queues=0: expected a number of queue pairs from 1 to 64" },
	{ "tap=a,queues=65", "queues=65: expected" },
	{ "tap=a,queues=two", "queues=two: expected" },
	{ "tap=a,queue_size=100", "queue_size=100: expected a power of two from 4 to 1024" },
	{ "tap=a,queue_size=2048", "queue_size=2048: expected a power of two" },
	{ "tap=a,queue_size=2", "queue_size=2: expected" },
	{ "tap=0123456789abcdef", "tap=0123456789abcdef: expected an interface name" },
	{ "tap=a/b", "expected an interface name" },
	{ "tap=tap%d", "expected an interface name" },
	{ "tap=..", "expected an interface name" },
	{ "tap=a b", "expected an interface name" },
	{ "tap=", "tap=: missing value" },
	{ "tap", "missing value" },
	{ "tap=a,speed=10", "unknown key 'speed'" },
	{ "tap=a,", "stray comma" },
	{ ",tap=a", "stray comma" },
	{ "tap=a,,queues=2", "stray comma" },
};

START_TEST(refused)
{
	struct net_opts o;

	err_clear();
	ck_assert_int_eq(net_opts_parse(bad[_i].arg, &o), -EINVAL);
	ck_assert_msg(strstr(err_msg(), "--net"), "'%s': %s", bad[_i].arg, err_msg());
	ck_assert_msg(strstr(err_msg(), bad[_i].say), "'%s': got '%s', want '%s'", bad[_i].arg,
		      err_msg(), bad[_i].say);
	ck_assert_ptr_null(o.tap);
}
END_TEST

START_TEST(default_mac)
{
	uint8_t a[6], b[6], c[6];

	net_default_mac("kt0", a);
	net_default_mac("kt0", b);
	net_default_mac("kt1", c);
	ck_assert_mem_eq(a, b, 6);		/* stable */
	ck_assert(memcmp(a, c, 6));		/* differs by tap */
	ck_assert_uint_eq(a[0] & 3, 2);		/* locally administered, unicast */
	ck_assert_uint_eq(c[0] & 3, 2);
}
END_TEST

START_TEST(parse_mac)
{
	uint8_t m[6];

	ck_assert_int_eq(net_parse_mac("0a:1B:2c:3D:4e:5F", m), 0);
	ck_assert_mem_eq(m, "\x0a\x1b\x2c\x3d\x4e\x5f", 6);
	ck_assert_int_eq(net_parse_mac("0a:1b:2c:3d:4e:5f:", m), -EINVAL);
	ck_assert_int_eq(net_parse_mac("0a:1b:2c:3d:4e", m), -EINVAL);
	ck_assert_int_eq(net_parse_mac("", m), -EINVAL);
}
END_TEST

Suite *net_opts_suite(void)
{
	Suite *s = suite_create("net_opts");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, tap_with_every_key);
	tcase_add_test(tc, tap_defaults);
	tcase_add_test(tc, fd_list);
	tcase_add_loop_test(tc, refused, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, default_mac);
	tcase_add_test(tc, parse_mac);
	suite_add_tcase(s, tc);
	return s;
}
