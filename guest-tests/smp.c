// SPDX-License-Identifier: Apache-2.0
/*
 * AP bring-up (Intel SDM vol. 3, "MP initialization"): INIT, 10 ms, SIPI,
 * 200 us, SIPI, one AP at a time, so a single boot stack pointer suffices.
 * The BSP drives it from ring 3: the LAPIC is MMIO, mapped user-accessible,
 * and waiting in ring 3 is cheap where ring 0 is emulated.
 */
#include "smp.h"
#include "acpi.h"
#include "bootinfo.h"
#include "console.h"
#include "cpu.h"
#include "time.h"

struct smp_info smp;

/* Read by the AP on its way up (head.S, ap_main). */
volatile u32 ap_boot_cpu;
volatile u64 ap_boot_stack;
volatile u64 ap_boot_gs;	/* &percpu[i]: %gs base before any C runs */

extern char ap_trampoline[], ap_trampoline_end[];
extern u8 kstacks[MAX_CPUS][KSTACK_SIZE];

#define LAPIC_ID	0x020
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define ICR_BUSY	(1 << 12)
#define ICR_INIT	0x00004500	/* INIT, level assert */
#define ICR_SIPI	0x00004600
#define ICR_FIXED	0x00004000

#define AP_START_TIMEOUT_US	2000000

u32 lapic_read(u32 reg) { return mmio_read32(smp.lapic + reg); }
void lapic_write(u32 reg, u32 val) { mmio_write32(smp.lapic + reg, val); }
void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

static void send_ipi(u32 apic_id, u32 icr)
{
	for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
}

static bool page_is_free_ram(u64 page)
{
	bool ram = false;

	for (unsigned i = 0; i < boot.nmap; i++) {
		const struct mem_range *r = &boot.map[i];

		if (r->type == E820_RAM && page >= r->addr && page + PAGE_SIZE <= r->addr + r->size)
			ram = true;
		else if (page < r->addr + r->size && r->addr < page + PAGE_SIZE)
			return false;	/* also covered by something that is not RAM */
	}
	for (unsigned i = 0; i < boot.nmods; i++)
		if (page < boot.mods[i].addr + boot.mods[i].size && boot.mods[i].addr < page + PAGE_SIZE)
			return false;
	return ram;
}

/* The SIPI vector is a page number below 1 MiB: prefer 0x70000, else any. */
static u64 pick_trampoline_page(void)
{
	if (page_is_free_ram(0x70000))
		return 0x70000;
	for (u64 p = 0x9f000; p >= 0x1000; p -= PAGE_SIZE)
		if (page_is_free_ram(p))
			return p;
	return 0;
}

static bool wait_flag(volatile bool *flag, u64 timeout_us)
{
	u64 end = time_us() + timeout_us;

	while (!*flag)
		if (time_us() > end)
			return false;
	return true;
}

static bool start_ap(unsigned i)
{
	struct cpu *c = &smp.cpus[i];
	u32 vector = smp.trampoline >> 12;

	ap_boot_cpu = i;
	ap_boot_stack = (u64)(uintptr_t)(kstacks[i] + KSTACK_SIZE);
	ap_boot_gs = (u64)(uintptr_t)&percpu[i];
	barrier();
	send_ipi(c->apic_id, ICR_INIT);
	udelay(10000);
	send_ipi(c->apic_id, ICR_SIPI | vector);
	udelay(200);
	/* The second SIPI is ignored by an AP that already left wait-for-SIPI. */
	if (!c->online)
		send_ipi(c->apic_id, ICR_SIPI | vector);
	return wait_flag(&c->online, AP_START_TIMEOUT_US);
}

void smp_init(void)
{
	smp.lapic = acpi.lapic_addr ? acpi.lapic_addr : 0xfee00000;
	smp.ncpus = 1;
	smp.online = 1;
	smp.bsp_apic = lapic_read(LAPIC_ID) >> 24;
	smp.cpus[0].apic_id = smp.bsp_apic;
	smp.cpus[0].reported_apic = smp.bsp_apic;
	smp.cpus[0].online = true;
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);	/* software-enable */

	bool bsp_listed = false;

	for (unsigned i = 0; i < acpi.ncpus; i++) {
		if (acpi.apic_ids[i] == smp.bsp_apic) {
			bsp_listed = true;
			continue;
		}
		if (smp.ncpus < MAX_CPUS)
			smp.cpus[smp.ncpus++].apic_id = acpi.apic_ids[i];
	}
	if (acpi.madt && !bsp_listed)
		snprintf(smp.error, sizeof(smp.error), "BSP APIC id %u is not in the MADT", smp.bsp_apic);
	if (smp.ncpus == 1)
		return;

	smp.trampoline = pick_trampoline_page();
	if (!smp.trampoline) {
		snprintf(smp.error, sizeof(smp.error), "no free RAM page below 1 MiB for the AP trampoline");
		return;
	}
	memcpy(phys(smp.trampoline), ap_trampoline, ap_trampoline_end - ap_trampoline);

	for (unsigned i = 1; i < smp.ncpus; i++) {
		if (start_ap(i))
			smp.online++;
		else if (!smp.error[0])
			snprintf(smp.error, sizeof(smp.error), "AP %u (APIC id %u) did not check in",
				 i, smp.cpus[i].apic_id);
	}
}

bool smp_start(unsigned i, long (*fn)(void *), void *arg)
{
	struct cpu *c = &smp.cpus[i];

	if (i == 0 || i >= smp.ncpus || !c->online)
		return false;
	c->fn = fn;
	c->arg = arg;
	__atomic_store_n(&c->posted, c->posted + 1, __ATOMIC_RELEASE);
	send_ipi(c->apic_id, ICR_FIXED | VEC_WAKE);
	return true;
}

struct wait_args {
	struct cpu *c;
	u64 end;
};

static long wait_done(void *arg)
{
	struct wait_args *w = arg;

	while (__atomic_load_n(&w->c->done, __ATOMIC_ACQUIRE) != w->c->posted)
		if (time_us() > w->end)
			return 0;
	return 1;
}

bool smp_wait(unsigned i, u64 timeout_us, long *result)
{
	struct wait_args w = { &smp.cpus[i], time_us() + timeout_us };

	if (i == 0 || i >= smp.ncpus || !user_call(wait_done, &w))
		return false;
	*result = smp.cpus[i].result;
	return true;
}

unsigned smp_online_count(void)
{
	unsigned online = 0;

	for (unsigned c = 0; c < smp.ncpus; c++)
		online += smp.cpus[c].online;
	return MAX(online, 1u);
}

unsigned smp_online_cpu(unsigned k)
{
	k %= smp_online_count();
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (smp.cpus[c].online && !k--)
			return c;
	return 0;
}

/* Ring 0 on the AP, from head.S on our stack, GDT and page tables. */
void ap_main(void)
{
	unsigned i = ap_boot_cpu;
	struct cpu *c = &smp.cpus[i];

	cpu_init(i);
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);	/* to receive the wake IPI */
	c->reported_apic = lapic_read(LAPIC_ID) >> 24;
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	for (;;) {
		u32 seq;

		/* Interrupts are only ever on inside this hlt. */
		while ((seq = __atomic_load_n(&c->posted, __ATOMIC_ACQUIRE)) == c->done)
			cpu_idle_once();
		c->result = run_user(c->fn, c->arg);
		__atomic_store_n(&c->done, seq, __ATOMIC_RELEASE);
	}
}
