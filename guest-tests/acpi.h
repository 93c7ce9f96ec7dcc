/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables: found, checked (every checksum and length) and boiled down to
 * the few facts the guest needs: CPUs (MADT), ECAM (MCFG), power-off and
 * reset (FADT, DSDT \_S5_) and the PM timer.
 */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "guest.h"

#define ACPI_MAX_TABLES	32
#define ACPI_MAX_ERRORS	8

struct acpi_table {
	char sig[5];
	char oem[7];
	u64 addr;
	u32 len;
	u8 rev;
};

struct acpi_info {
	bool found;
	u64 rsdp_addr;
	const char *rsdp_source;	/* "boot info", "EBDA", "BIOS area" */
	u8 rsdp_rev;
	char oem[7];
	bool xsdt;			/* root is the XSDT (else the RSDT) */
	u64 root_addr;

	unsigned ntables;		/* root, every table it lists, DSDT, FACS */
	struct acpi_table tables[ACPI_MAX_TABLES];

	unsigned nerrors;		/* malformed things, first few kept */
	char errors[ACPI_MAX_ERRORS][96];

	/* FADT */
	bool fadt;
	u16 pm1a_cnt, pm1b_cnt;		/* I/O ports, 0 if none */
	u16 pm_tmr;
	bool pm_tmr_32bit;
	bool reset_reg;			/* FADT RESET_REG usable (system I/O) */
	u16 reset_port;
	u8 reset_value;
	/* DSDT */
	bool dsdt;
	bool s5;
	u8 s5_typa, s5_typb;
	/* MADT */
	bool madt;
	u64 lapic_addr;
	u64 ioapic_addr;
	unsigned ncpus;			/* enabled processors */
	unsigned ncpus_disabled;
	u32 apic_ids[MAX_CPUS];
	bool cpus_truncated;
	/* MCFG: the first segment-0 entry */
	bool mcfg;
	u64 ecam_base;
	u8 ecam_bus_start, ecam_bus_end;
};

extern struct acpi_info acpi;

/* Find and check everything, starting from the loader's RSDP address if nonzero. */
void acpi_init(u64 rsdp_hint);
const struct acpi_table *acpi_find(const char *sig);

#endif
