// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI fixed-hardware PM registers (ACPI 6.0, 4.8). Every block is handled
 * byte by byte so that any access width a guest picks (the GAS in the FADT
 * says word or dword, but byte accesses are legal) behaves the same.
 */
#include "devices/acpi_pm.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "devices/bus.h"
#include "vmm/err.h"
#include "vmm/state.h"
#include "vmm/vm.h"

#define EVT_LEN		4
#define CNT_LEN		2
#define TMR_LEN		4
#define GPE0_LEN	4

#define PM1_EN_MASK	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
			 ACPI_PM1_RTC)
/* PM1_CNT bits that read back what was written. */
#define PM1_CNT_RW	(ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK)

static uint64_t timer_ticks(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Split so nothing overflows: nsec * 3579545 < 2^62. */
	return (uint64_t)ts.tv_sec * ACPI_PM_TIMER_HZ +
	       (uint64_t)ts.tv_nsec * ACPI_PM_TIMER_HZ / 1000000000ULL;
}

uint32_t acpi_pm_timer_read(void)
{
	return timer_ticks() & ACPI_PM_TIMER_MASK;
}

/* TMR_STS is set each time bit 23 of the counter flips (4.8.3.3); rather
 * than a thread to watch it, compare the flip count with the one at the
 * last clear. */
static uint16_t pm1_sts_now(struct acpi_pm *pm)
{
	uint16_t sts = pm->pm1_sts;

	if ((timer_ticks() >> 23) != pm->tmr_msb_epoch)
		sts |= ACPI_PM1_TMR;
	return sts;
}

/*
 * The SCI is level-triggered (the MADT says so): high while an enabled
 * event is pending. The timer carry is left out: nothing would raise it
 * at the moment it happens, and OSes do not use it.
 */
static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->pm1_sts & pm->pm1_en & ~ACPI_PM1_TMR) ||
		     (pm->gpe0_sts & pm->gpe0_en);

	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_irq_line(pm->vm, ACPI_SCI_IRQ, level);
	}
}

static void evt_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint8_t img[EVT_LEN];

	pthread_mutex_lock(&pm->lock);
	if (!is_write) {
		uint16_t sts = pm1_sts_now(pm);

		img[0] = sts;
		img[1] = sts >> 8;
		img[2] = pm->pm1_en;
		img[3] = pm->pm1_en >> 8;
		memcpy(data, img + off, len);
		pthread_mutex_unlock(&pm->lock);
		return;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned reg = off + i;
		uint16_t v = (uint16_t)data[i] << (8 * (reg & 1));

		if (reg < 2) {
			/* Write 1 to clear. */
			if (v & ACPI_PM1_TMR)
				pm->tmr_msb_epoch = timer_ticks() >> 23;
			pm->pm1_sts &= ~v;
		} else {
			uint16_t keep = reg & 1 ? 0x00ff : 0xff00;

			pm->pm1_en = ((pm->pm1_en & keep) | v) & PM1_EN_MASK;
		}
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void cnt_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint16_t v, mask = 0;
	bool power_off = false;

	pthread_mutex_lock(&pm->lock);
	if (!is_write) {
		/* SLP_EN and GBL_RLS are write-only; SCI_EN is hard-wired. */
		v = pm->pm1_cnt | ACPI_PM1_SCI_EN;
		for (unsigned i = 0; i < len; i++)
			data[i] = v >> (8 * (off + i));
		pthread_mutex_unlock(&pm->lock);
		return;
	}
	v = 0;
	for (unsigned i = 0; i < len; i++) {
		v |= (uint16_t)data[i] << (8 * (off + i));
		mask |= 0xff << (8 * (off + i));
	}
	pm->pm1_cnt = (pm->pm1_cnt & ~(mask & PM1_CNT_RW)) | (v & mask & PM1_CNT_RW);
	/* Sleep types other than S5 are not offered in the DSDT: ignored. */
	if ((v & mask & ACPI_PM1_SLP_EN) &&
	    (pm->pm1_cnt & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT == ACPI_S5_SLP_TYP)
		power_off = true;
	pthread_mutex_unlock(&pm->lock);
	if (power_off)
		vm_request_stop(pm->vm, KITE_EXIT_OK, "guest ACPI power-off");
}

static void tmr_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	uint32_t v;

	(void)opaque;
	if (is_write)
		return;		/* read-only */
	v = acpi_pm_timer_read();
	for (unsigned i = 0; i < len; i++)
		data[i] = v >> (8 * (off + i));
}

static void gpe_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned reg = off + i, shift = 8 * (reg & 1);
		uint16_t *r = reg < 2 ? &pm->gpe0_sts : &pm->gpe0_en;

		if (!is_write)
			data[i] = *r >> shift;
		else if (reg < 2)
			*r &= ~((uint16_t)data[i] << shift);	/* write 1 to clear */
		else
			*r = (*r & ~(0xff << shift)) | (uint16_t)data[i] << shift;
	}
	if (is_write)
		update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct {
	uint16_t port;
	uint16_t len;
	bus_io_fn fn;
	const char *name;
} blocks[] = {
	{ PORT_ACPI_PM1A_EVT, EVT_LEN, evt_io, "acpi-pm1a-evt" },
	{ PORT_ACPI_PM1A_CNT, CNT_LEN, cnt_io, "acpi-pm1a-cnt" },
	{ PORT_ACPI_PM_TMR, TMR_LEN, tmr_io, "acpi-pm-tmr" },
	{ PORT_ACPI_GPE0, GPE0_LEN, gpe_io, "acpi-gpe0" },
};

void acpi_pm_reset(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts = 0;
	pm->pm1_en = 0;
	pm->pm1_cnt = 0;
	pm->gpe0_sts = 0;
	pm->gpe0_en = 0;
	pm->tmr_msb_epoch = timer_ticks() >> 23;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_init(struct acpi_pm *pm, struct vm *vm, struct bus *pio)
{
	unsigned i;
	int r = 0;

	memset(pm, 0, sizeof(*pm));
	pm->vm = vm;
	pm->pio = pio;
	pm->tmr_msb_epoch = timer_ticks() >> 23;
	pthread_mutex_init(&pm->lock, NULL);
	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		r = bus_register(pio, blocks[i].port, blocks[i].len, blocks[i].fn, pm,
				 blocks[i].name);
		if (r)
			break;
	}
	if (r) {
		while (i--)
			bus_unregister(pio, blocks[i].port, pm);
		pthread_mutex_destroy(&pm->lock);
	}
	return r;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	for (unsigned i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		bus_unregister(pm->pio, blocks[i].port, pm);
	pthread_mutex_destroy(&pm->lock);
}

bool acpi_pm_power_button(struct acpi_pm *pm)
{
	bool listening;

	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts |= ACPI_PM1_PWRBTN;
	listening = pm->pm1_en & ACPI_PM1_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return listening;
}

/* ---- snapshot ---- */

static const struct state_field pm_fields[] = {
	STATE_BITS(struct acpi_pm, pm1_sts, "pm1-sts", 0xffff),
	STATE_BITS(struct acpi_pm, pm1_en, "pm1-en", PM1_EN_MASK),
	STATE_BITS(struct acpi_pm, pm1_cnt, "pm1-cnt", PM1_CNT_RW),
	STATE_BITS(struct acpi_pm, gpe0_sts, "gpe0-sts", 0xffff),
	STATE_BITS(struct acpi_pm, gpe0_en, "gpe0-en", 0xffff),
};
#define NFIELDS (sizeof(pm_fields) / sizeof(pm_fields[0]))

int acpi_pm_save(struct acpi_pm *pm, struct state_tree *st, int node)
{
	pthread_mutex_lock(&pm->lock);
	state_put_fields(st, node, pm, pm_fields, NFIELDS);
	state_put_u32(st, node, "tmr-sts", !!(pm1_sts_now(pm) & ACPI_PM1_TMR));
	pthread_mutex_unlock(&pm->lock);
	return state_error(st);
}

int acpi_pm_restore(struct acpi_pm *pm, const void *fdt, int node)
{
	struct acpi_pm v;
	bool tmr;
	int r;

	memset(&v, 0, sizeof(v));
	r = state_get_fields(fdt, node, &v, pm_fields, NFIELDS);
	if (!r)
		r = state_get_bool(fdt, node, "tmr-sts", &tmr);
	if (r)
		return r;
	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts = v.pm1_sts & ~ACPI_PM1_TMR;	/* TMR_STS is derived, below */
	pm->pm1_en = v.pm1_en;
	pm->pm1_cnt = v.pm1_cnt;
	pm->gpe0_sts = v.gpe0_sts;
	pm->gpe0_en = v.gpe0_en;
	/* One flip behind the counter: TMR_STS reads set until cleared. */
	pm->tmr_msb_epoch = (timer_ticks() >> 23) - tmr;
	/* A new VM's line is low; raise it if an event is pending. */
	pm->sci_level = false;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
