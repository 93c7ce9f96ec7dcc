/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Application processors: started with INIT/SIPI/SIPI through the xAPIC,
 * taken to long mode on our page tables, then parked in hlt. Work is handed
 * to an AP through its mailbox plus a wake IPI; it runs the work in ring 3.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include "guest.h"

struct cpu {
	u32 apic_id;			/* from the MADT */
	volatile bool online;		/* checked in from long mode */
	volatile u32 reported_apic;	/* what the CPU read from its own LAPIC */
	/* mailbox */
	long (*fn)(void *);
	void *arg;
	volatile long result;
	volatile u32 posted, done;
};

struct smp_info {
	unsigned ncpus;			/* cpus[0] is the BSP */
	unsigned online;		/* including the BSP */
	u32 bsp_apic;
	u64 lapic;
	u64 trampoline;			/* page the APs started at */
	struct cpu cpus[MAX_CPUS];
	char error[128];
};

extern struct smp_info smp;

/* Start every enabled processor of the MADT. */
void smp_init(void);
/* Run fn(arg) in ring 3 on AP `cpu` (asynchronously). */
bool smp_start(unsigned cpu, long (*fn)(void *), void *arg);
/* Wait for it; false on timeout. */
bool smp_wait(unsigned cpu, u64 timeout_us, long *result);

/* CPUs online (at least 1), and the kth of them counting round: the CPU
 * the kth queue of a device interrupts. */
unsigned smp_online_count(void);
unsigned smp_online_cpu(unsigned k);

u32 lapic_read(u32 reg);
void lapic_write(u32 reg, u32 val);
void lapic_eoi(void);

#endif
