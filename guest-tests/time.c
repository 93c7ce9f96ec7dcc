// SPDX-License-Identifier: Apache-2.0
#include "time.h"
#include "acpi.h"
#include "cpu.h"

#define PM_TIMER_HZ	3579545ULL

u64 tsc_hz = 2000000000ULL;	/* used only if there is no PM timer */
bool tsc_calibrated;

static u32 pm_timer_read(void)
{
	u32 v = inl(acpi.pm_tmr);

	return acpi.pm_tmr_32bit ? v : v & 0xffffff;
}

/* 20 ms of PM timer; every read is a VM exit, so few and short. */
void time_init(void)
{
	u32 mask = acpi.pm_tmr_32bit ? 0xffffffff : 0xffffff;
	u32 p0, p1, ticks;
	u64 t0, t1;

	if (!acpi.pm_tmr)
		return;
	p0 = pm_timer_read();
	t0 = rdtsc();
	do {
		p1 = pm_timer_read();
		t1 = rdtsc();
		ticks = (p1 - p0) & mask;
		if (t1 - t0 > 50000000000ULL)	/* a stuck timer: keep the guess */
			return;
	} while (ticks < PM_TIMER_HZ / 50);
	if ((t1 - t0) * PM_TIMER_HZ / ticks < 1000000)	/* nonsense: keep the guess */
		return;
	tsc_hz = (t1 - t0) * PM_TIMER_HZ / ticks;
	tsc_calibrated = true;
}

u64 time_us(void)
{
	return rdtsc() / (tsc_hz / 1000000);
}

static long spin_until(void *arg)
{
	u64 end = (u64)(uintptr_t)arg;

	while (rdtsc() < end)
		cpu_relax();
	return 0;
}

void udelay(u64 us)
{
	u64 end = rdtsc() + us * (tsc_hz / 1000000);

	user_call(spin_until, (void *)(uintptr_t)end);
}
