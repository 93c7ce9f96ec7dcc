// SPDX-License-Identifier: Apache-2.0
/*
 * The e820 map follows layout.h and must agree with guest_mem_layout():
 * RAM is [0, min(size, MMIO_HOLE_START)) plus, past 3 GiB, the rest from
 * 4 GiB. The EBDA..1 MiB stretch is RAM in the memfd but reported reserved
 * (the ACPI tables live there), the PCIe ECAM window is reported
 * reserved because Linux only trusts MMCONFIG areas that e820 reserves,
 * and so are the pages KVM keeps for itself in the hole (its TSS and
 * identity-map pages on Intel), so no guest puts a BAR under them.
 */
#include "arch/x86/e820.h"

#include "arch/x86/layout.h"

static unsigned add(struct e820_entry *out, unsigned n, unsigned max,
		    uint64_t start, uint64_t end, uint32_t type)
{
	if (end <= start || n >= max)
		return n;
	out[n].addr = start;
	out[n].size = end - start;
	out[n].type = type;
	return n + 1;
}

/* Writes at most `max` entries (kite's map has at most 6) and returns how
 * many it wrote. */
unsigned e820_build(uint64_t ram_size, struct e820_entry *out, unsigned max)
{
	uint64_t low_end = ram_size < MMIO_HOLE_START ? ram_size : MMIO_HOLE_START;
	unsigned n = 0;

	n = add(out, n, max, 0, low_end < LOW_RAM_END ? low_end : LOW_RAM_END, E820_RAM);
	n = add(out, n, max, EBDA_START, HIGH_RAM_START, E820_RESERVED);
	n = add(out, n, max, HIGH_RAM_START, low_end, E820_RAM);
	n = add(out, n, max, PCI_ECAM_START, PCI_ECAM_START + PCI_ECAM_SIZE, E820_RESERVED);
	n = add(out, n, max, KVM_IDENTITY_MAP_ADDR, KVM_TSS_ADDR + 3 * 0x1000, E820_RESERVED);
	if (ram_size > MMIO_HOLE_START)
		n = add(out, n, max, RAM_ABOVE_4G_START,
			RAM_ABOVE_4G_START + (ram_size - MMIO_HOLE_START), E820_RAM);
	return n;
}
