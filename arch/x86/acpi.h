/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables built at start: RSDP, XSDT, FADT (+FACS), DSDT, MADT, MCFG.
 * All live in the BIOS area (layout.h): the RSDP at ACPI_RSDP_ADDR, where
 * legacy scanners look, and the tables right after it.
 */
#ifndef KITE_ARCH_X86_ACPI_H
#define KITE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct acpi_config {
	unsigned ncpus;		/* LAPIC ids 0..ncpus-1 */
	uint64_t ram_size;	/* for the PCI 64-bit window placement */
};

/*
 * Build the tables into `buf`, which the guest sees at guest-physical
 * `base` (the RSDP goes at offset 0). Returns the bytes used, or -ENOSPC
 * (with err_set) if `len` is too small.
 */
int acpi_build(uint8_t *buf, uint64_t base, size_t len, const struct acpi_config *cfg);

/* The checksum byte that makes `len` bytes sum to zero. */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
