// SPDX-License-Identifier: Apache-2.0
/* Reset control (0xcf9), the i8042 and the debug-exit port. */
#include <check.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/bus.h"
#include "devices/reset.h"
#include "tests/fake_vm.h"

static struct bus pio;
static struct reset_dev rd;

static void setup(void)
{
	fake_vm_reset();
	bus_init(&pio, "pio");
	ck_assert_int_eq(reset_dev_init(&rd, FAKE_VM, &pio), 0);
}

static void teardown(void)
{
	reset_dev_destroy(&rd);
	bus_destroy(&pio);
}

static uint8_t inb(uint16_t port)
{
	uint8_t v;

	ck_assert(bus_access(&pio, port, &v, 1, false));
	return v;
}

static void outb(uint16_t port, uint8_t v)
{
	ck_assert(bus_access(&pio, port, &v, 1, true));
}

static void cf9(uint8_t *v, unsigned len, bool is_write)
{
	reset_cf9_io(&rd, 0, v, len, is_write);
}

START_TEST(cf9_reset)
{
	uint8_t v = 0x02, w[2] = { 0x06, 0x06 };

	cf9(&v, 1, true);			/* SYS_RST alone: no reset */
	ck_assert_int_eq(fake_vm_get().stops, 0);
	v = 0;
	cf9(&v, 1, false);
	ck_assert_uint_eq(v, 0x02);		/* reads the last write */
	cf9(w, 2, true);			/* not a byte access: ignored */
	ck_assert_int_eq(fake_vm_get().stops, 0);
	v = 0x06;				/* the FADT's RESET_VALUE */
	cf9(&v, 1, true);
	ck_assert_int_eq(fake_vm_get().stops, 1);
	ck_assert_int_eq(fake_vm_get().stop_status, 0);
	ck_assert_str_eq(fake_vm_get().stop_why, "guest reset (port 0xcf9)");
}
END_TEST

START_TEST(i8042_commands)
{
	uint8_t st = inb(PORT_I8042_CMD);

	ck_assert_uint_eq(st & 0x01, 0);	/* nothing to read */
	ck_assert_uint_eq(st & 0x02, 0);	/* ready for input */
	ck_assert_uint_eq(st & 0x04, 0x04);	/* self-test passed */

	outb(PORT_I8042_CMD, 0xaa);		/* self-test */
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x09, 0x09);	/* OBF, command */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x55);
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x01, 0);

	outb(PORT_I8042_CMD, 0x20);		/* read CTR */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x44);
	outb(PORT_I8042_CMD, 0x60);		/* write CTR */
	outb(PORT_I8042_DATA, 0x47);
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x08, 0);	/* last write: data */
	outb(PORT_I8042_CMD, 0x20);
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x47);

	outb(PORT_I8042_CMD, 0xab);		/* keyboard port test: fine */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x00);
	outb(PORT_I8042_CMD, 0xd0);		/* output port: reset line high, A20 */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x03);
	outb(PORT_I8042_CMD, 0xd2);		/* write keyboard output buffer */
	outb(PORT_I8042_DATA, 0x9c);
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x9c);

	/* A byte for the keyboard: nobody answers. */
	outb(PORT_I8042_DATA, 0xf2);
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x01, 0);
	outb(PORT_I8042_CMD, 0x12);		/* unknown: harmless */
	outb(PORT_I8042_CMD, 0xff);		/* pulse no line */
	ck_assert_int_eq(fake_vm_get().stops, 0);
}
END_TEST

/* What makes Linux give up on the AUX port at once, without timeouts. */
START_TEST(i8042_no_aux)
{
	outb(PORT_I8042_CMD, 0xd3);		/* AUX loopback of 0x5a */
	outb(PORT_I8042_DATA, 0x5a);
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x21, 0x01);	/* answered, not AUX data */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x5a);
	outb(PORT_I8042_CMD, 0xa9);		/* AUX port test: clock stuck */
	ck_assert_uint_eq(inb(PORT_I8042_DATA), 0x01);
	outb(PORT_I8042_CMD, 0xa7);
	outb(PORT_I8042_CMD, 0x20);
	ck_assert_uint_eq(inb(PORT_I8042_DATA) & 0x20, 0x20);	/* AUX disabled */
}
END_TEST

START_TEST(i8042_reset_pulse)
{
	outb(PORT_I8042_CMD, 0xfe);
	ck_assert_int_eq(fake_vm_get().stops, 1);
	ck_assert_int_eq(fake_vm_get().stop_status, 0);
	ck_assert_str_eq(fake_vm_get().stop_why, "guest reset (i8042)");
}
END_TEST

START_TEST(i8042_output_port_reset)
{
	outb(PORT_I8042_CMD, 0xd1);
	outb(PORT_I8042_DATA, 0xdf);		/* A20 on, reset line high */
	ck_assert_int_eq(fake_vm_get().stops, 0);
	outb(PORT_I8042_CMD, 0xd1);
	outb(PORT_I8042_DATA, 0x02);		/* reset line low */
	ck_assert_int_eq(fake_vm_get().stops, 1);
}
END_TEST

START_TEST(debug_exit)
{
	uint8_t d[4] = { 0x34, 0x12, 0, 0 };

	ck_assert(bus_access(&pio, PORT_DEBUG_EXIT, d, 1, true));
	ck_assert(bus_access(&pio, PORT_DEBUG_EXIT, d, 2, true));
	ck_assert(bus_access(&pio, PORT_DEBUG_EXIT + 1, d, 1, true));
	ck_assert_int_eq(fake_vm_get().stops, 0);	/* only 32-bit writes */
	ck_assert(bus_access(&pio, PORT_DEBUG_EXIT, d, 4, true));
	ck_assert_int_eq(fake_vm_get().stops, 1);
	ck_assert_int_eq(fake_vm_get().stop_status, 0x34);
	ck_assert_str_eq(fake_vm_get().stop_why, "debug-exit");
}
END_TEST

START_TEST(reset_restores)
{
	uint8_t v = 0x02;

	cf9(&v, 1, true);
	outb(PORT_I8042_CMD, 0x20);
	reset_dev_reset(&rd);
	ck_assert_uint_eq(inb(PORT_I8042_CMD) & 0x01, 0);
	cf9(&v, 1, false);
	ck_assert_uint_eq(v, 0);
}
END_TEST

Suite *reset_suite(void)
{
	Suite *s = suite_create("reset");
	TCase *tc = tcase_create("reset");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cf9_reset);
	tcase_add_test(tc, i8042_commands);
	tcase_add_test(tc, i8042_no_aux);
	tcase_add_test(tc, i8042_reset_pulse);
	tcase_add_test(tc, i8042_output_port_reset);
	tcase_add_test(tc, debug_exit);
	tcase_add_test(tc, reset_restores);
	suite_add_tcase(s, tc);
	return s;
}
