/* SPDX-License-Identifier: Apache-2.0 */
/* The e820 memory map kite reports: the same map feeds e820 (bzImage,
 * linux64), the PVH memmap and the Multiboot mmap. */
#ifndef KITE_ARCH_X86_E820_H
#define KITE_ARCH_X86_E820_H

#include <stdint.h>

#define E820_RAM	1
#define E820_RESERVED	2
#define E820_ACPI	3
#define E820_NVS	4

#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Build the map for `ram_size` bytes of guest RAM (layout.h). Entries are
 * sorted and do not overlap. Returns the number of entries. */
unsigned e820_build(uint64_t ram_size, struct e820_entry *out, unsigned max);

#endif
