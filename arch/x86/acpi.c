// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI tables (ACPI 6.0): RSDP, XSDT (and an RSDT for ACPI 1.0 readers),
 * FADT, FACS, DSDT, MADT, MCFG. Byte layouts follow the spec's tables,
 * written field by field in little-endian so the code is free of packed
 * structs and host-endianness assumptions.
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

#define OEM_ID		"KITE  "
#define OEM_TABLE_ID	"KITEVM  "
#define OEM_REVISION	1
#define CREATOR_ID	"KITE"
#define CREATOR_REV	1

#define HDR_LEN		36
#define RSDP_LEN	36
#define RSDP_V1_LEN	20
#define FACS_LEN	64
#define FADT_LEN	276	/* revision 6 */
#define MCFG_LEN	(44 + 16)
#define NTABLES		3	/* FADT, MADT, MCFG in the XSDT/RSDT */

/* MADT (5.2.12) */
#define MADT_PCAT_COMPAT	0x1
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MADT_LAPIC_ENABLED	0x1
#define MPS_ACTIVE_HIGH		0x1	/* polarity, bits 1:0 */
#define MPS_EDGE		(0x1 << 2)	/* trigger mode, bits 3:2 */
#define MPS_LEVEL		(0x3 << 2)
#define ACPI_ALL_PROCESSORS	0xff
#define MAX_XAPIC_CPUS		254	/* LAPIC ids 0..253; 255 is broadcast */

/* FADT flags (5.2.9, table 5-35) */
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)
#define FADT_RESET_REG_SUP	(1u << 10)
/* IA-PC boot architecture flags (5.2.9.3) */
#define BOOT_LEGACY_DEVICES	(1u << 0)
#define BOOT_8042		(1u << 1)
#define BOOT_VGA_NOT_PRESENT	(1u << 2)
#define BOOT_CMOS_RTC_ABSENT	(1u << 5)
/* Generic Address Structure (5.2.3.2) */
#define GAS_SYSTEM_IO		1
#define GAS_BYTE		1
#define GAS_WORD		2
#define GAS_DWORD		3

#define RESET_VALUE		0x06	/* 0xcf9: full reset + reset CPU */
#define PM1_EVT_LEN		4
#define PM1_CNT_LEN		2
#define PM_TMR_LEN		4
#define GPE0_LEN		4

static void put8(uint8_t *p, uint8_t v)
{
	p[0] = v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

/* Where the tables go: a bump allocator over the caller's buffer. */
struct acpi_out {
	uint8_t *buf;
	uint64_t base;
	size_t len;
	size_t off;
};

/* Offset of `size` zeroed bytes aligned to `align`, or -1 if full. */
static long out_alloc(struct acpi_out *o, size_t size, size_t align)
{
	size_t at = (o->off + align - 1) & ~(align - 1);

	if (at > o->len || size > o->len - at)
		return -1;
	memset(o->buf + at, 0, size);
	o->off = at + size;
	return (long)at;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	put8(t + 8, rev);
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, CREATOR_REV);
}

static void seal(uint8_t *t)
{
	uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;

	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

static void gas_io(uint8_t *p, uint8_t bytes, uint8_t access, uint16_t port)
{
	put8(p, GAS_SYSTEM_IO);
	put8(p + 1, bytes * 8);	/* bit width */
	put8(p + 2, 0);		/* bit offset */
	put8(p + 3, access);
	put64(p + 4, port);
}

/* DSDT body: the PCIe host bridge, COM1, motherboard resources, \_S5. */
static void dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	uint64_t mmio64 = pci_mmio64_start(cfg->ram_size);
	unsigned slot, pin;

	aml_scope(a, "\\_SB");

	aml_device(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_buffer(a);
	aml_res_word_bus(a, 0, PCI_ECAM_BUSES - 1);
	aml_res_io(a, PORT_PCI_CONFIG_ADDR, 8);
	aml_res_word_io(a, 0, PORT_PCI_CONFIG_ADDR - 1);
	aml_res_word_io(a, 0xd00, 0xffff);
	aml_res_dword_mem(a, PCI_MMIO32_START, PCI_MMIO32_START + PCI_MMIO32_SIZE - 1, false);
	aml_res_qword_mem(a, mmio64, mmio64 + PCI_MMIO64_SIZE - 1, true);
	aml_res_end(a);
	aml_end(a);
	/* Each slot's INTA-INTD straight to IOAPIC pins (Source 0 = GSI),
	 * level-triggered active-low as PCI requires. */
	aml_name(a, "_PRT");
	aml_package(a, 32 * 4);
	for (slot = 0; slot < 32; slot++) {
		for (pin = 0; pin < 4; pin++) {
			aml_package(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci_intx_gsi(slot, pin));
			aml_end(a);
		}
	}
	aml_end(a);
	aml_end(a);	/* PCI0 */

	aml_device(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_buffer(a);
	aml_res_io(a, PORT_COM1, 8);
	aml_res_irq(a, COM1_IRQ);
	aml_res_end(a);
	aml_end(a);
	aml_end(a);	/* COM1 */

	/* Ranges the OS must leave alone: ECAM (Linux checks that the MCFG
	 * area is reserved here) and the ACPI PM registers. */
	aml_device(a, "MRES");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_buffer(a);
	aml_res_mem32_fixed(a, PCI_ECAM_START, PCI_ECAM_SIZE);
	aml_res_io(a, PORT_ACPI_PM1A_EVT, PORT_ACPI_PM_TMR + PM_TMR_LEN - PORT_ACPI_PM1A_EVT);
	aml_res_io(a, PORT_ACPI_GPE0, GPE0_LEN);
	aml_res_end(a);
	aml_end(a);
	aml_end(a);	/* MRES */

	aml_end(a);	/* \_SB */

	/* Soft-off: SLP_TYP values for PM1a and PM1b, then two reserved. */
	aml_name(a, "\\_S5");
	aml_package(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);
}

static long build_dsdt(struct acpi_out *o, const struct acpi_config *cfg)
{
	long at = out_alloc(o, HDR_LEN, 16);
	struct aml a;
	long n;

	if (at < 0)
		return -1;
	aml_init(&a, o->buf + o->off, o->len - o->off);
	dsdt_body(&a, cfg);
	n = aml_finish(&a);
	if (n < 0)
		return -1;
	o->off += n;
	/* Revision 2: 64-bit AML integers. */
	header(o->buf + at, "DSDT", HDR_LEN + n, 2);
	seal(o->buf + at);
	return at;
}

static long build_facs(struct acpi_out *o)
{
	long at = out_alloc(o, FACS_LEN, 64);	/* 64-byte aligned (5.2.10) */
	uint8_t *t;

	if (at < 0)
		return -1;
	t = o->buf + at;
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_LEN);
	put8(t + 32, 2);	/* version */
	return at;
}

static long build_fadt(struct acpi_out *o, uint64_t facs, uint64_t dsdt)
{
	long at = out_alloc(o, FADT_LEN, 16);
	uint8_t *t;

	if (at < 0)
		return -1;
	t = o->buf + at;
	header(t, "FACP", FADT_LEN, 6);
	/* FIRMWARE_CTRL and X_FIRMWARE_CTRL: only one may be non-zero. */
	put32(t + 36, facs);
	put32(t + 40, dsdt);
	put16(t + 46, ACPI_SCI_IRQ);
	/* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE stay 0: no SMM, ACPI is always on. */
	put32(t + 56, PORT_ACPI_PM1A_EVT);
	put32(t + 64, PORT_ACPI_PM1A_CNT);
	put32(t + 76, PORT_ACPI_PM_TMR);
	put32(t + 80, PORT_ACPI_GPE0);
	put8(t + 88, PM1_EVT_LEN);
	put8(t + 89, PM1_CNT_LEN);
	put8(t + 91, PM_TMR_LEN);
	put8(t + 92, GPE0_LEN);
	/* Latencies above 100 and 1000 us mean C2 and C3 are unsupported. */
	put16(t + 96, 101);
	put16(t + 98, 1001);
	put16(t + 109, BOOT_LEGACY_DEVICES | BOOT_8042 | BOOT_VGA_NOT_PRESENT |
			BOOT_CMOS_RTC_ABSENT);
	/* TMR_VAL_EXT stays clear: the PM timer is 24 bits wide. PWR_BUTTON
	 * stays clear too: the power button is the fixed-feature one. */
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP);
	gas_io(t + 116, 1, GAS_BYTE, PORT_RESET_CF9);
	put8(t + 128, RESET_VALUE);
	put8(t + 131, 0);	/* FADT minor version: ACPI 6.0 */
	put64(t + 140, dsdt);	/* X_DSDT */
	gas_io(t + 148, PM1_EVT_LEN, GAS_WORD, PORT_ACPI_PM1A_EVT);
	gas_io(t + 172, PM1_CNT_LEN, GAS_WORD, PORT_ACPI_PM1A_CNT);
	gas_io(t + 208, PM_TMR_LEN, GAS_DWORD, PORT_ACPI_PM_TMR);
	gas_io(t + 220, GPE0_LEN, GAS_BYTE, PORT_ACPI_GPE0);
	memcpy(t + 268, "KITE", 4);	/* hypervisor vendor identity */
	seal(t);
	return at;
}

static size_t madt_len(unsigned ncpus)
{
	return 44 + 8 * ncpus + 12 + 2 * 10 + 6;
}

static void madt_iso(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	put8(p, MADT_ISO);
	put8(p + 1, 10);
	put8(p + 2, 0);		/* bus: ISA */
	put8(p + 3, irq);
	put32(p + 4, gsi);
	put16(p + 8, flags);
}

static long build_madt(struct acpi_out *o, unsigned ncpus)
{
	size_t len = madt_len(ncpus);
	long at = out_alloc(o, len, 16);
	uint8_t *t, *p;

	if (at < 0)
		return -1;
	t = o->buf + at;
	header(t, "APIC", len, 4);
	put32(t + 36, LAPIC_ADDR);
	put32(t + 40, MADT_PCAT_COMPAT);	/* KVM emulates the dual 8259 */
	p = t + 44;
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		put8(p, MADT_LAPIC);
		put8(p + 1, 8);
		put8(p + 2, i);		/* ACPI processor UID */
		put8(p + 3, i);		/* APIC id */
		put32(p + 4, MADT_LAPIC_ENABLED);
	}
	/* IOAPIC id 0, what KVM's in-kernel IOAPIC reports in its own ID
	 * register (IOAPIC and LAPIC ids are separate spaces on xAPIC
	 * systems, as on QEMU's machines); its pins are GSIs 0-23. */
	put8(p, MADT_IOAPIC);
	put8(p + 1, 12);
	put8(p + 2, 0);
	put32(p + 4, IOAPIC_ADDR);
	put32(p + 8, 0);
	p += 12;
	/* The PIT's IRQ0 is wired to IOAPIC pin 2 (pin 0 is the 8259's INTR). */
	madt_iso(p, 0, 2, 0);
	p += 10;
	/* The SCI is level-triggered, active-high (5.2.12.5). */
	madt_iso(p, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_LEVEL | MPS_ACTIVE_HIGH);
	p += 10;
	/* NMI comes in on LINT1 of every local APIC. */
	put8(p, MADT_LAPIC_NMI);
	put8(p + 1, 6);
	put8(p + 2, ACPI_ALL_PROCESSORS);
	put16(p + 3, MPS_EDGE | MPS_ACTIVE_HIGH);
	put8(p + 5, 1);
	seal(t);
	return at;
}

static long build_mcfg(struct acpi_out *o)
{
	long at = out_alloc(o, MCFG_LEN, 16);
	uint8_t *t;

	if (at < 0)
		return -1;
	t = o->buf + at;
	header(t, "MCFG", MCFG_LEN, 1);
	put64(t + 44, PCI_ECAM_START);
	put16(t + 52, 0);			/* segment */
	put8(t + 54, 0);			/* first bus */
	put8(t + 55, PCI_ECAM_BUSES - 1);	/* last bus */
	seal(t);
	return at;
}

/* XSDT (8-byte entries) or RSDT (4-byte entries) listing `tables`. */
static long build_sdt(struct acpi_out *o, const char *sig, unsigned width,
		      const uint64_t *tables, unsigned n)
{
	long at = out_alloc(o, HDR_LEN + width * n, 16);

	if (at < 0)
		return -1;
	header(o->buf + at, sig, HDR_LEN + width * n, 1);
	for (unsigned i = 0; i < n; i++) {
		if (width == 8)
			put64(o->buf + at + HDR_LEN + 8 * i, tables[i]);
		else
			put32(o->buf + at + HDR_LEN + 4 * i, (uint32_t)tables[i]);
	}
	seal(o->buf + at);
	return at;
}

static void build_rsdp(uint8_t *t, uint64_t rsdt, uint64_t xsdt)
{
	memset(t, 0, RSDP_LEN);
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	put8(t + 15, 2);		/* revision: ACPI 2.0+, has the XSDT */
	put32(t + 16, rsdt);
	put32(t + 20, RSDP_LEN);
	put64(t + 24, xsdt);
	t[8] = acpi_checksum(t, RSDP_V1_LEN);
	t[32] = acpi_checksum(t, RSDP_LEN);
}

int acpi_build(uint8_t *buf, uint64_t base, size_t len, const struct acpi_config *cfg)
{
	struct acpi_out o = { .buf = buf, .base = base, .len = len };
	long facs, dsdt, fadt, madt, mcfg, xsdt, rsdt;
	uint64_t tables[NTABLES];

	if (cfg->ncpus < 1 || cfg->ncpus > MAX_XAPIC_CPUS)
		return err_set(EINVAL, "ACPI: %u vCPUs: the MADT describes 1 to %u",
			       cfg->ncpus, MAX_XAPIC_CPUS);
	/* Every table sits below 4 GiB: the 32-bit pointers must reach it. */
	if (base + len > MMIO_HOLE_END || base & 15)
		return err_set(EINVAL, "ACPI: tables at 0x%llx+0x%zx: need a 16-byte "
			       "aligned area below 4 GiB", (unsigned long long)base, len);
	if (out_alloc(&o, RSDP_LEN, 16) < 0)
		goto nospace;
	/* The rest from ACPI_TABLES_ADDR on, so the FACS is 64-byte aligned. */
	o.off = ACPI_TABLES_ADDR - ACPI_RSDP_ADDR;
	facs = build_facs(&o);
	if (facs < 0 || (dsdt = build_dsdt(&o, cfg)) < 0 ||
	    (fadt = build_fadt(&o, base + facs, base + dsdt)) < 0 ||
	    (madt = build_madt(&o, cfg->ncpus)) < 0 ||
	    (mcfg = build_mcfg(&o)) < 0)
		goto nospace;
	tables[0] = base + fadt;
	tables[1] = base + madt;
	tables[2] = base + mcfg;
	xsdt = build_sdt(&o, "XSDT", 8, tables, NTABLES);
	if (xsdt < 0 || (rsdt = build_sdt(&o, "RSDT", 4, tables, NTABLES)) < 0)
		goto nospace;
	build_rsdp(buf, base + rsdt, base + xsdt);
	return (int)o.off;

nospace:
	return err_set(ENOSPC, "ACPI: the tables do not fit in %zu bytes", len);
}
