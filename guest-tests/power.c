// SPDX-License-Identifier: Apache-2.0
#include "power.h"
#include "acpi.h"
#include "console.h"
#include "cpu.h"
#include "time.h"

#define SLP_EN		(1 << 13)
#define SLP_TYP_SHIFT	10
#define I8042_STATUS	0x64
#define I8042_IBF	0x02
#define STATUS_DID_NOT_END 4

static const char *const names[] = {
	[EXIT_DEBUG] = "debug", [EXIT_POWEROFF] = "poweroff",
	[EXIT_RESET] = "reset", [EXIT_RESET_KBD] = "reset-kbd",
};

bool exit_method_parse(const char *s, enum exit_method *m)
{
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*m = i;
			return true;
		}
	}
	return false;
}

const char *exit_method_name(enum exit_method m)
{
	return names[m];
}

static void poweroff(void)
{
	if (!acpi.pm1a_cnt || !acpi.s5) {
		printf("exit: cannot power off: %s\n",
		       !acpi.pm1a_cnt ? "no PM1a_CNT_BLK in the FADT" : "no \\_S5_ in the DSDT");
		return;
	}
	printf("exit: ACPI power-off (PM1a_CNT 0x%x, SLP_TYP %u)\n", acpi.pm1a_cnt, acpi.s5_typa);
	if (acpi.pm1b_cnt)
		outw(acpi.pm1b_cnt, acpi.s5_typb << SLP_TYP_SHIFT | SLP_EN);
	outw(acpi.pm1a_cnt, acpi.s5_typa << SLP_TYP_SHIFT | SLP_EN);
}

static void reset(void)
{
	if (acpi.reset_reg) {
		printf("exit: reset through the FADT reset register (port 0x%x <- 0x%x)\n",
		       acpi.reset_port, acpi.reset_value);
		outb(acpi.reset_port, acpi.reset_value);
	} else {
		printf("exit: reset through port 0xcf9\n");
		outb(0xcf9, 0x06);
	}
}

static void reset_kbd(void)
{
	printf("exit: reset through the i8042 (0xfe to port 0x64)\n");
	/* Wait (bounded) for the controller's input buffer to drain. */
	for (int i = 0; i < 1000 && (inb(I8042_STATUS) & I8042_IBF); i++)
		cpu_relax();
	outb(I8042_STATUS, 0xfe);
}

void guest_finish(enum exit_method m, unsigned status)
{
	switch (m) {
	case EXIT_DEBUG:
		guest_exit(status);
	case EXIT_POWEROFF:
		poweroff();
		break;
	case EXIT_RESET:
		reset();
		break;
	case EXIT_RESET_KBD:
		reset_kbd();
		break;
	}
	udelay(500000);
	printf("exit: %s did not end the run\n", names[m]);
	guest_exit(STATUS_DID_NOT_END);
}
