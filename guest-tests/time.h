/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time from the TSC, calibrated once against the ACPI PM timer. rdtsc is
 * native in ring 3 (trapped in ring 0 on PVM), so waits spin in ring 3.
 */
#ifndef GUEST_TIME_H
#define GUEST_TIME_H

#include "guest.h"

extern u64 tsc_hz;
extern bool tsc_calibrated;	/* false: no PM timer, tsc_hz is a guess */

void time_init(void);
u64 time_us(void);		/* microseconds since an arbitrary origin */
void udelay(u64 us);		/* from either ring; the wait is in ring 3 */

#endif
