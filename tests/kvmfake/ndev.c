// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's native CPU: what KVM serves in the kernel with an in-kernel
 * irqchip and PIT, so a guest's accesses to them never reach kite (each
 * CPU's LAPIC with its IPIs, INIT and SIPI; the IOAPIC's registers; the
 * PIC, ELCR and PIT ports; the MSRs), and everything else as an exit.
 * Register layouts: Intel SDM vol. 3, 11.4 (LAPIC), 82093AA datasheet
 * (IOAPIC).
 */
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "fake.h"
#include "model.h"
#include "ncpu.h"

#define LAPIC_BASE	0xfee00000ULL
#define IOAPIC_BASE	0xfec00000ULL

static int highest(const uint64_t bits[4])
{
	for (int w = 3; w >= 0; w--)
		if (bits[w])
			return w * 64 + 63 - __builtin_clzll(bits[w]);
	return -1;
}

int nc_next_vector(void)
{
	const uint32_t *pend = fk.vcpus[nc.cpu].vec_pending;
	int in = highest(nc.isr);

	for (int v = 255; v >= 16; v--) {
		if (!pend[v])
			continue;
		if ((in >= 0 && (v >> 4) <= (in >> 4)) || (unsigned)(v >> 4) <= (nc.tpr >> 4))
			return -1;
		return v;
	}
	return -1;
}

void nc_take_vector(int v)
{
	fk.vcpus[nc.cpu].vec_pending[v]--;
	nc.isr[v / 64] |= 1ULL << (v % 64);
}

void nc_lapic_reset(void)
{
	nc.apic_id = nc.cpu;
	nc.svr = 0xff;
	nc.dfr = 0xffffffff;
	for (unsigned i = 0; i < 7; i++)
		nc.lvt[i] = 0x10000;
}

/* ---- the LAPIC timer (SDM vol. 3, 11.5.4): KVM's bus runs at 1 GHz ---- */

uint64_t nc_tsc_hz;

uint64_t nc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t host_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static unsigned timer_mode(void)	/* 0 one-shot, 1 periodic, 2 TSC-deadline */
{
	return (nc.lvt[0] >> 17) & 3;
}

/* ns a count lasts: the divide configuration's 1..128 bus cycles */
static uint64_t count_ns(void)
{
	unsigned d = (nc.timer_div & 3) | ((nc.timer_div >> 1) & 4);

	return d == 7 ? 1 : 2ULL << d;
}

static void timer_arm_count(void)
{
	nc.timer_at_ns = nc.timer_init && timer_mode() < 2 ?
			 nc_now_ns() + (uint64_t)nc.timer_init * count_ns() : 0;
}

static void timer_arm_deadline(void)
{
	uint64_t t = host_tsc();

	if (timer_mode() != 2 || !nc.tsc_deadline) {
		nc.timer_at_ns = 0;
		return;
	}
	if (nc.tsc_deadline <= t || !nc_tsc_hz)
		nc.timer_at_ns = nc_now_ns();
	else
		nc.timer_at_ns = nc_now_ns() + (uint64_t)((unsigned __int128)(nc.tsc_deadline - t) *
							  1000000000ULL / nc_tsc_hz);
}

bool nc_timer_poll(uint64_t now)
{
	if (!nc.timer_at_ns)
		return false;
	if (now < nc.timer_at_ns)
		return true;
	if (!(nc.lvt[0] & 0x10000) && (nc.lvt[0] & 0xff) >= 16)
		fk.vcpus[nc.cpu].vec_pending[nc.lvt[0] & 0xff] = 1;
	if (timer_mode() == 1) {
		uint64_t period = (uint64_t)nc.timer_init * count_ns();

		nc.timer_at_ns += period;
		if (nc.timer_at_ns <= now)	/* behind: no burst of catch-up ticks */
			nc.timer_at_ns = now + period;
	} else {
		nc.timer_at_ns = 0;
		nc.tsc_deadline = 0;
	}
	return nc.timer_at_ns != 0;
}

static uint32_t timer_current(void)
{
	uint64_t now = nc_now_ns();

	if (!nc.timer_at_ns || timer_mode() == 2 || now >= nc.timer_at_ns)
		return 0;
	return (uint32_t)((nc.timer_at_ns - now) / count_ns());
}

static uint32_t lapic_read(unsigned off);

/* This CPU's LAPIC as KVM_GET_LAPIC gives it (kvm_lapic_state: the
 * register page), IRR from its pending vectors; fk.lock held. */
void nc_lapic_out(struct kvm_lapic_state *st)
{
	static const unsigned regs[] = { 0x20, 0x30, 0x80, 0xd0, 0xe0, 0xf0, 0x280, 0x310,
					 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390,
					 0x3e0 };
	const uint32_t *pend = fk.vcpus[nc.cpu].vec_pending;

	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uint32_t v = regs[i] >= 0x200 && regs[i] < 0x280 ? 0 : lapic_read(regs[i]);

		memcpy(&st->regs[regs[i]], &v, 4);
	}
	for (unsigned w = 0; w < 8; w++) {
		uint32_t isr = (uint32_t)(nc.isr[w / 2] >> (w % 2 * 32)), irr = 0;

		for (unsigned b = 0; b < 32; b++)
			if (pend[w * 32 + b])
				irr |= 1u << b;
		memcpy(&st->regs[0x100 + w * 0x10], &isr, 4);
		memcpy(&st->regs[0x200 + w * 0x10], &irr, 4);
	}
}

/* ... and back (KVM_SET_LAPIC's page): the registers, ISR, and IRR as
 * pending vectors; the timer goes on with its current count. */
void nc_lapic_in(const struct kvm_lapic_state *st)
{
	uint32_t v[0x40];
	uint32_t *pend = fk.vcpus[nc.cpu].vec_pending;

	for (unsigned i = 0; i < 0x40; i++)
		memcpy(&v[i], &st->regs[i * 0x10], 4);
	if (!v[0x03])			/* never set: the reset state stays */
		return;
	nc.apic_id = v[0x02] >> 24;
	nc.tpr = v[0x08] & 0xff;
	nc.ldr = v[0x0d];
	nc.dfr = v[0x0e];
	nc.svr = v[0x0f] & 0x13ff;
	nc.icr_hi = v[0x31];
	for (unsigned i = 0; i < 6; i++)
		nc.lvt[i] = v[0x32 + i];
	nc.timer_div = v[0x3e];
	nc.timer_init = v[0x38];
	nc.timer_at_ns = 0;
	if (timer_mode() < 2 && v[0x39])
		nc.timer_at_ns = nc_now_ns() + (uint64_t)v[0x39] * count_ns();
	pthread_mutex_lock(&fk.lock);
	for (unsigned w = 0; w < 8; w++) {
		nc.isr[w / 2] = (nc.isr[w / 2] & ~(0xffffffffULL << (w % 2 * 32))) |
				(uint64_t)v[0x10 + w] << (w % 2 * 32);
		for (unsigned b = 0; b < 32; b++)
			if ((v[0x20 + w] >> b) & 1 && !pend[w * 32 + b])
				pend[w * 32 + b] = 1;
	}
	pthread_mutex_unlock(&fk.lock);
}

static uint32_t lapic_read(unsigned off)
{
	uint64_t irr[4] = { 0 };

	switch (off) {
	case 0x20: return nc.apic_id << 24;
	case 0x30: return 0x00050014;
	case 0x80: return nc.tpr;
	case 0xa0: return nc.tpr;
	case 0xd0: return nc.ldr;
	case 0xe0: return nc.dfr;
	case 0xf0: return nc.svr;
	case 0x280: return nc.esr;
	case 0x300: return 0;			/* ICR: delivery done */
	case 0x310: return nc.icr_hi;
	case 0x380: return nc.timer_init;
	case 0x390: return timer_current();
	case 0x3e0: return nc.timer_div;
	}
	if (off >= 0x320 && off < 0x380 && off % 16 == 0)
		return nc.lvt[(off - 0x320) / 16];
	if (off >= 0x100 && off < 0x180 && off % 16 == 0)
		return (uint32_t)(nc.isr[(off - 0x100) / 0x20] >> ((off / 0x10) % 2 * 32));
	if (off >= 0x200 && off < 0x280 && off % 16 == 0) {
		pthread_mutex_lock(&fk.lock);
		for (unsigned v = 0; v < 256; v++)
			if (fk.vcpus[nc.cpu].vec_pending[v])
				irr[v / 64] |= 1ULL << (v % 64);
		pthread_mutex_unlock(&fk.lock);
		return (uint32_t)(irr[(off - 0x200) / 0x20] >> ((off / 0x10) % 2 * 32));
	}
	return 0;
}

/* An ICR write: fixed IPIs through fk_deliver, INIT and SIPI to the APs. */
static void send_ipi(uint32_t lo)
{
	unsigned sh = (lo >> 18) & 3, mode = (lo >> 8) & 7, dest = nc.icr_hi >> 24;
	bool logical = (lo >> 11) & 1;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < ncpu_count; i++) {
		bool to = sh == 1 ? i == nc.cpu : sh == 2 ? true : sh == 3 ? i != nc.cpu :
			  logical ? i < 8 && ((dest >> i) & 1) : dest == 0xff || dest == i;
		struct ncpu *t = &ncpus[i];

		if (!to)
			continue;
		if (mode == 0 && (lo & 0xff) >= 16) {
			fk.vcpus[i].vec_pending[lo & 0xff]++;
			fk_native_poke(i);
		} else if (mode == 5 && ((lo >> 14) & 1) && i != nc.cpu) {
			t->init_seen = true;		/* INIT (assert) */
		} else if (mode == 6 && t->init_seen && t->sipi < 0 && i != nc.cpu) {
			t->sipi = (int)(lo & 0xff);	/* SIPI: start at vector << 12 */
		}
	}
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

static void ioapic_eoi(unsigned vec);

static void lapic_write(unsigned off, uint32_t v)
{
	int in;

	switch (off) {
	case 0x80: nc.tpr = v & 0xff; return;
	case 0xb0:				/* EOI */
		in = highest(nc.isr);
		if (in >= 0) {
			nc.isr[in / 64] &= ~(1ULL << (in % 64));
			pthread_mutex_lock(&fk.lock);
			ioapic_eoi((unsigned)in);
			pthread_mutex_unlock(&fk.lock);
		}
		return;
	case 0xd0: nc.ldr = v; return;
	case 0xe0: nc.dfr = v; return;
	case 0xf0: nc.svr = v & 0x13ff; return;
	case 0x280: nc.esr = 0; return;
	case 0x310: nc.icr_hi = v; return;
	case 0x300: send_ipi(v); return;
	case 0x380:
		if (!nc_tsc_hz && v)
			fk_complain("native CPU %u: the LAPIC timer is not emulated (initial count %u)",
				    nc.cpu, v);
		if (timer_mode() < 2) {
			pthread_mutex_lock(&fk.lock);
			nc.timer_init = v;
			timer_arm_count();
			pthread_mutex_unlock(&fk.lock);
		}
		return;
	case 0x3e0: nc.timer_div = v; return;
	}
	if (off >= 0x320 && off < 0x380 && off % 16 == 0) {
		pthread_mutex_lock(&fk.lock);
		if (off == 0x320 && ((v >> 17) & 3) != timer_mode()) {	/* a new mode stops it */
			nc.timer_at_ns = 0;
			nc.timer_init = 0;
			nc.tsc_deadline = 0;
		}
		nc.lvt[(off - 0x320) / 16] = v;
		pthread_mutex_unlock(&fk.lock);
	}
}

/* One IOAPIC: its registers, and delivery by its redirection table of the
 * lines kite raises (82093AA datasheet, 3.2.4): a rising edge sends the
 * entry's vector; a level-triggered line still high at the EOI of that
 * vector sends it again. All under fk.lock. */
static uint64_t redir[24];

static void ioapic_send(unsigned pin)
{
	uint64_t e = redir[pin];

	if ((e & 0x10000) || (e & 0xff) < 16 || ((e >> 8) & 7) > 1)	/* masked, or not fixed/lowest */
		return;
	fk_deliver((unsigned)(e >> 56), (e >> 11) & 1, e & 0xff);
}

void nc_ioapic_line(unsigned pin, bool rising)
{
	if (pin < 24 && rising)
		ioapic_send(pin);
}

static void ioapic_eoi(unsigned vec)
{
	for (unsigned pin = 0; pin < 24; pin++)
		if ((redir[pin] & 0xff) == vec && ((redir[pin] >> 15) & 1) && fk.line_level[pin])
			ioapic_send(pin);
}

static uint64_t ioapic_access(unsigned off, bool write, uint32_t v)
{
	static uint32_t sel, id;

	if (off == 0) {
		if (write)
			sel = v & 0xff;
		return write ? 0 : sel;
	}
	if (off != 0x10)
		return 0;
	if (sel >= 0x10 && sel < 0x10 + 48) {
		uint64_t *e = &redir[(sel - 0x10) / 2];
		unsigned sh = (sel & 1) * 32;

		if (write)
			*e = (*e & ~(0xffffffffULL << sh)) | (uint64_t)v << sh;
		return (uint32_t)(*e >> sh);
	}
	if (sel == 0) {
		if (write)
			id = v & 0x0f000000;
		return id;
	}
	return sel == 1 ? 0x00170011 : 0;	/* 24 entries, version 0x11 */
}

uint64_t nc_phys(uint64_t gpa, unsigned len, bool write, uint64_t val)
{
	void *p;

	if (gpa >= LAPIC_BASE && gpa < LAPIC_BASE + 0x1000) {
		if (write)
			lapic_write(gpa & 0xfff, (uint32_t)val);
		return write ? 0 : lapic_read(gpa & 0xfff);
	}
	if (gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + 0x1000) {
		uint64_t r;

		pthread_mutex_lock(&fk.lock);
		r = ioapic_access(gpa & 0xfff, write, (uint32_t)val);
		pthread_mutex_unlock(&fk.lock);
		return r;
	}
	p = nc_ram(gpa, len);
	if (p) {			/* RAM below mmap_min_addr, through kite's mapping */
		if (write) {
			memcpy(p, &val, len);
			return 0;
		}
		val = 0;
		memcpy(&val, p, len);
		return val;
	}
	return nc_exit_access(false, gpa, len, write, val);
}

uint64_t nc_port(uint16_t port, unsigned len, bool write, uint64_t val)
{
	static uint8_t pic_imr[2] = { 0xff, 0xff };

	/* KVM's PIC, ELCR, PIT and the PIT's port 0x61: nothing reaches kite. */
	if (port == 0x21 || port == 0xa1) {
		if (write)
			pic_imr[port == 0xa1] = (uint8_t)val;
		return write ? 0 : pic_imr[port == 0xa1];
	}
	if (port == 0x20 || port == 0xa0 || port == 0x4d0 || port == 0x4d1 ||
	    (port >= 0x40 && port <= 0x43) || port == 0x61)
		return 0;
	return nc_exit_access(true, port, len, write, val);
}

uint64_t nc_rdmsr(uint32_t index)
{
	uint32_t lo, hi;

	switch (index) {
	case 0x6e0: return nc.tsc_deadline;
	case 0xc0000080: return nc.efer;
	case 0xc0000100: return nc.fs_base;
	case 0xc0000101: return nc.gs_base;
	case 0xc0000102: return nc.kgs_base;
	case 0x1b: return LAPIC_BASE | 0x800 | (nc.cpu ? 0 : 0x100);	/* enabled, BSP */
	case 0x10:
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return (uint64_t)hi << 32 | lo;
	}
	for (unsigned i = 0; i < nc.nmsrs; i++)
		if (nc.msrs[i].index == index)
			return nc.msrs[i].value;
	return g_msr(index);
}

void nc_wrmsr(uint32_t index, uint64_t val)
{
	unsigned i;

	switch (index) {
	case 0x6e0:
		pthread_mutex_lock(&fk.lock);
		nc.tsc_deadline = val;
		timer_arm_deadline();
		pthread_mutex_unlock(&fk.lock);
		return;
	case 0xc0000080:
		nc.efer = (val & ~0x400ULL) | (nc.efer & 0x400);
		return;
	case 0xc0000100:
		nc.fs_base = val;
		return;
	case 0xc0000101:
		nc.gs_base = val;
		syscall(SYS_arch_prctl, ARCH_SET_GS, val);
		return;
	case 0xc0000102:
		nc.kgs_base = val;
		return;
	}
	for (i = 0; i < nc.nmsrs && nc.msrs[i].index != index; i++)
		;
	if (i == nc.nmsrs) {
		if (nc.nmsrs == sizeof(nc.msrs) / sizeof(nc.msrs[0])) {
			fk_complain("native CPU %u: too many MSRs written (0x%x)", nc.cpu, index);
			return;
		}
		nc.nmsrs++;
	}
	nc.msrs[i].index = index;
	nc.msrs[i].value = val;
}
