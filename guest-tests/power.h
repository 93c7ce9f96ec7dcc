/* SPDX-License-Identifier: Apache-2.0 */
/* Ending the run: debug-exit port, ACPI S5 power-off, or reset. */
#ifndef GUEST_POWER_H
#define GUEST_POWER_H

#include "guest.h"

enum exit_method {
	EXIT_DEBUG,		/* 32-bit write of the status to port 0xf4 */
	EXIT_POWEROFF,		/* ACPI S5 through the FADT's PM1 control block(s) */
	EXIT_RESET,		/* FADT reset register, else 0x06 to port 0xcf9 */
	EXIT_RESET_KBD,		/* i8042: 0xfe to port 0x64 */
};

/* Parse an exit= value; false if unknown. */
bool exit_method_parse(const char *s, enum exit_method *m);
const char *exit_method_name(enum exit_method m);

/*
 * End the run. Status matters only for EXIT_DEBUG; if a power-off or reset
 * does not take effect the guest says so and falls back to the debug-exit
 * port with status 4.
 */
__attribute__((noreturn)) void guest_finish(enum exit_method m, unsigned status);

#endif
