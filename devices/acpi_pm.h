/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI fixed-hardware power management (ACPI 6.0, 4.8): the PM1a event and
 * control blocks, the 24-bit PM timer and GPE0, at the ports of layout.h
 * that the FADT names. Writing SLP_TYP = ACPI_S5_SLP_TYP with SLP_EN stops
 * the VM with KITE_EXIT_OK. There is no SMM: SCI_EN always reads 1.
 */
#ifndef KITE_DEVICES_ACPI_PM_H
#define KITE_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus;
struct vm;

/* PM1 status/enable bits (4.8.3.1) */
#define ACPI_PM1_TMR		(1u << 0)
#define ACPI_PM1_GBL		(1u << 5)
#define ACPI_PM1_PWRBTN		(1u << 8)
#define ACPI_PM1_SLPBTN		(1u << 9)
#define ACPI_PM1_RTC		(1u << 10)
#define ACPI_PM1_WAK		(1u << 15)	/* status only */
/* PM1 control bits (4.8.3.2) */
#define ACPI_PM1_SCI_EN		(1u << 0)
#define ACPI_PM1_BM_RLD		(1u << 1)
#define ACPI_PM1_GBL_RLS	(1u << 2)
#define ACPI_PM1_SLP_TYP_SHIFT	10
#define ACPI_PM1_SLP_TYP_MASK	(7u << 10)
#define ACPI_PM1_SLP_EN		(1u << 13)

#define ACPI_PM_TIMER_HZ	3579545ULL
#define ACPI_PM_TIMER_MASK	0xffffffu	/* 24 bits: TMR_VAL_EXT is clear */

struct acpi_pm {
	pthread_mutex_t lock;	/* vCPU threads, and the power button */
	struct vm *vm;
	struct bus *pio;
	uint16_t pm1_sts;
	uint16_t pm1_en;
	uint16_t pm1_cnt;	/* the readable bits: BM_RLD, SLP_TYP */
	uint16_t gpe0_sts;
	uint16_t gpe0_en;
	uint64_t tmr_msb_epoch;	/* timer ticks >> 23 when TMR_STS was cleared */
	bool sci_level;
};

/*
 * Initialise `pm` and register its four port ranges on `pio`. Errors
 * (-EEXIST on a port clash) are recorded with err_set; nothing stays
 * registered then.
 */
int acpi_pm_init(struct acpi_pm *pm, struct vm *vm, struct bus *pio);
/* Unregister the ports and free the lock. */
void acpi_pm_destroy(struct acpi_pm *pm);
/* Power-on state: status, enables and control cleared, SCI low. */
void acpi_pm_reset(struct acpi_pm *pm);

/*
 * Press the fixed-feature power button: sets PWRBTN_STS and raises the
 * SCI if the guest enabled it. Returns whether the guest listens
 * (PWRBTN_EN set), so a caller can fall back to a hard stop.
 */
bool acpi_pm_power_button(struct acpi_pm *pm);

/* The PM timer's current value (24 bits), as the guest would read it. */
uint32_t acpi_pm_timer_read(void);

struct state_tree;
/*
 * Snapshot: status, enable and control registers as properties of `node`
 * (vmm/state.h). Restore into a block fresh from acpi_pm_init(); values are
 * checked first. The PM timer runs on the host's clock and is not carried
 * (a guest sees it jump, as after a wrap); a pending TMR_STS is. The SCI is
 * level-triggered, so restore drives the line to the level the registers
 * call for.
 */
int acpi_pm_save(struct acpi_pm *pm, struct state_tree *st, int node);
int acpi_pm_restore(struct acpi_pm *pm, const void *fdt, int node);

#endif
