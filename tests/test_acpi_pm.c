// SPDX-License-Identifier: Apache-2.0
/* ACPI PM registers: PM1 event/control, the PM timer, GPE0, the SCI. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "tests/fake_vm.h"
#include "vmm/err.h"

static struct bus pio;
static struct acpi_pm pm;

static void setup(void)
{
	fake_vm_reset();
	bus_init(&pio, "pio");
	ck_assert_int_eq(acpi_pm_init(&pm, FAKE_VM, &pio), 0);
}

static void teardown(void)
{
	acpi_pm_destroy(&pm);
	bus_destroy(&pio);
}

static uint32_t in(uint16_t port, unsigned len)
{
	uint8_t d[4] = { 0 };

	ck_assert(bus_access(&pio, port, d, len, false));
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static void out(uint16_t port, unsigned len, uint32_t v)
{
	uint8_t d[4] = { v, v >> 8, v >> 16, v >> 24 };

	ck_assert(bus_access(&pio, port, d, len, true));
}

#define PM1_STS	PORT_ACPI_PM1A_EVT
#define PM1_EN	(PORT_ACPI_PM1A_EVT + 2)
#define PM1_CNT	PORT_ACPI_PM1A_CNT
#define GPE_STS	PORT_ACPI_GPE0
#define GPE_EN	(PORT_ACPI_GPE0 + 2)

static int sci(void)
{
	return fake_vm_get().irq_level[ACPI_SCI_IRQ];
}

START_TEST(ports)
{
	struct bus_range r;

	ck_assert(bus_find(&pio, PORT_ACPI_PM1A_EVT + 3, &r));
	ck_assert(bus_find(&pio, PORT_ACPI_PM1A_CNT + 1, &r));
	ck_assert(bus_find(&pio, PORT_ACPI_PM_TMR + 3, &r));
	ck_assert(bus_find(&pio, PORT_ACPI_GPE0 + 3, &r));
	ck_assert(!bus_find(&pio, PORT_ACPI_PM_TMR + 4, &r));
	ck_assert(!bus_find(&pio, PORT_ACPI_GPE0 + 4, &r));
}
END_TEST

START_TEST(sci_en_reads_one)
{
	ck_assert_uint_eq(in(PM1_CNT, 2), ACPI_PM1_SCI_EN);
	out(PM1_CNT, 2, 0);		/* cannot be turned off: no SMM */
	ck_assert_uint_eq(in(PM1_CNT, 2) & ACPI_PM1_SCI_EN, ACPI_PM1_SCI_EN);
}
END_TEST

START_TEST(power_off)
{
	/* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	out(PM1_CNT, 2, ACPI_S5_SLP_TYP << 10 | ACPI_PM1_SCI_EN);
	ck_assert_int_eq(fake_vm_get().stops, 0);
	ck_assert_uint_eq(in(PM1_CNT, 2), ACPI_S5_SLP_TYP << 10 | ACPI_PM1_SCI_EN);
	out(PM1_CNT, 2, ACPI_S5_SLP_TYP << 10 | ACPI_PM1_SLP_EN | ACPI_PM1_SCI_EN);
	ck_assert_int_eq(fake_vm_get().stops, 1);
	ck_assert_int_eq(fake_vm_get().stop_status, 0);
	ck_assert_str_eq(fake_vm_get().stop_why, "guest ACPI power-off");
	/* SLP_EN reads 0. */
	ck_assert_uint_eq(in(PM1_CNT, 2) & ACPI_PM1_SLP_EN, 0);
}
END_TEST

START_TEST(power_off_byte_write)
{
	/* The high byte alone: SLP_TYP in bits 2-4, SLP_EN in bit 5. */
	out(PM1_CNT + 1, 1, ACPI_S5_SLP_TYP << 2 | 0x20);
	ck_assert_int_eq(fake_vm_get().stops, 1);
}
END_TEST

START_TEST(other_sleep_states_ignored)
{
	for (unsigned typ = 0; typ < 8; typ++)
		if (typ != ACPI_S5_SLP_TYP)
			out(PM1_CNT, 2, typ << 10 | ACPI_PM1_SLP_EN);
	ck_assert_int_eq(fake_vm_get().stops, 0);
	/* S5 in SLP_TYP without SLP_EN does nothing either. */
	out(PM1_CNT, 2, ACPI_S5_SLP_TYP << 10);
	ck_assert_int_eq(fake_vm_get().stops, 0);
}
END_TEST

START_TEST(status_enable_and_sci)
{
	ck_assert_uint_eq(in(PM1_EN, 2), 0);
	out(PM1_EN, 2, 0xffff);
	ck_assert_uint_eq(in(PM1_EN, 2), ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN |
					 ACPI_PM1_SLPBTN | ACPI_PM1_RTC);
	out(PM1_EN, 2, 0);

	/* A press nobody listens to: status set, no SCI. */
	ck_assert(!acpi_pm_power_button(&pm));
	ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_PWRBTN, ACPI_PM1_PWRBTN);
	ck_assert_int_eq(sci(), 0);
	/* Enabling the pending event raises the SCI (level). */
	out(PM1_EN, 2, ACPI_PM1_PWRBTN);
	ck_assert_int_eq(sci(), 1);
	ck_assert(acpi_pm_power_button(&pm));
	/* Writing 0 clears nothing; writing 1 clears and drops the SCI. */
	out(PM1_STS, 2, 0);
	ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_PWRBTN, ACPI_PM1_PWRBTN);
	out(PM1_STS + 1, 1, ACPI_PM1_PWRBTN >> 8);
	ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_PWRBTN, 0);
	ck_assert_int_eq(sci(), 0);
	/* A dword access covers status and enable at once. */
	ck_assert_uint_eq(in(PM1_STS, 4) >> 16, ACPI_PM1_PWRBTN);
}
END_TEST

START_TEST(timer_status)
{
	/* TMR_STS follows bit 23 of the counter: pretend it flipped. */
	pm.tmr_msb_epoch--;
	ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_TMR, ACPI_PM1_TMR);
	out(PM1_STS, 2, ACPI_PM1_TMR);
	ck_assert_uint_eq(in(PM1_STS, 2) & ACPI_PM1_TMR, 0);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(timer_counts_at_3_58_mhz)
{
	struct timespec ten_ms = { 0, 10000000L };
	uint32_t a, b, diff;
	double t0, t1, want;

	t0 = now_s();
	a = in(PORT_ACPI_PM_TMR, 4);
	nanosleep(&ten_ms, NULL);
	b = in(PORT_ACPI_PM_TMR, 4);
	t1 = now_s();
	ck_assert_uint_le(a, 0xffffff);		/* 24 bits, the rest reads 0 */
	ck_assert_uint_le(b, 0xffffff);
	diff = (b - a) & 0xffffff;		/* wraps at 2^24 */
	want = (t1 - t0) * 3579545.0;
	/* About 35795 ticks; more if the sleep overran, never fewer. */
	ck_assert_uint_ge(diff, 35795 - 50);
	ck_assert_msg(diff <= want + 50, "%u ticks in %.6f s", diff, t1 - t0);
	/* Read-only. */
	out(PORT_ACPI_PM_TMR, 4, 0);
	ck_assert_uint_lt((in(PORT_ACPI_PM_TMR, 4) - b) & 0xffffff, 3579545);
	/* Byte reads see the same counter. */
	a = in(PORT_ACPI_PM_TMR, 4);
	b = in(PORT_ACPI_PM_TMR + 2, 1);
	ck_assert_uint_le((b - (a >> 16)) & 0xff, 1);
	ck_assert_uint_eq(in(PORT_ACPI_PM_TMR + 3, 1), 0);
}
END_TEST

START_TEST(gpe0)
{
	ck_assert_uint_eq(in(GPE_STS, 4), 0);
	out(GPE_EN, 2, 0x8001);
	ck_assert_uint_eq(in(GPE_EN, 2), 0x8001);
	ck_assert_int_eq(sci(), 0);
	pm.gpe0_sts = 0x0003;		/* nothing raises GPEs yet: pretend */
	out(GPE_EN, 1, 0x01);		/* any write re-evaluates the SCI */
	ck_assert_int_eq(sci(), 1);
	out(GPE_STS, 1, 0x01);		/* write 1 to clear */
	ck_assert_uint_eq(in(GPE_STS, 2), 0x0002);
	ck_assert_int_eq(sci(), 0);
}
END_TEST

START_TEST(reset_clears)
{
	out(PM1_EN, 2, ACPI_PM1_PWRBTN);
	acpi_pm_power_button(&pm);
	out(PM1_CNT, 2, 3 << 10);
	ck_assert_int_eq(sci(), 1);
	acpi_pm_reset(&pm);
	ck_assert_int_eq(sci(), 0);
	ck_assert_uint_eq(in(PM1_EN, 2), 0);
	ck_assert_uint_eq(in(PM1_STS, 2) & ~ACPI_PM1_TMR, 0);
	ck_assert_uint_eq(in(PM1_CNT, 2), ACPI_PM1_SCI_EN);
}
END_TEST

static void dummy_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w)
{
	(void)o, (void)off, (void)d, (void)len, (void)w;
}

START_TEST(port_clash)
{
	struct acpi_pm other;
	struct bus b;
	struct bus_range r;

	bus_init(&b, "pio");
	ck_assert_int_eq(bus_register(&b, PORT_ACPI_PM_TMR, 1, dummy_io, NULL, "x"), 0);
	ck_assert_int_eq(acpi_pm_init(&other, FAKE_VM, &b), -EEXIST);
	/* What was registered before the clash is gone again. */
	ck_assert(!bus_find(&b, PORT_ACPI_PM1A_EVT, &r));
	ck_assert(!bus_find(&b, PORT_ACPI_PM1A_CNT, &r));
	bus_destroy(&b);
}
END_TEST

Suite *acpi_pm_suite(void)
{
	Suite *s = suite_create("acpi_pm");
	TCase *tc = tcase_create("pm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ports);
	tcase_add_test(tc, sci_en_reads_one);
	tcase_add_test(tc, power_off);
	tcase_add_test(tc, power_off_byte_write);
	tcase_add_test(tc, other_sleep_states_ignored);
	tcase_add_test(tc, status_enable_and_sci);
	tcase_add_test(tc, timer_status);
	tcase_add_test(tc, timer_counts_at_3_58_mhz);
	tcase_add_test(tc, gpe0);
	tcase_add_test(tc, reset_clears);
	tcase_add_test(tc, port_clash);
	suite_add_tcase(s, tc);
	return s;
}
