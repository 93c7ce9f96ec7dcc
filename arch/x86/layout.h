/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest-physical address map kite gives every x86 guest.
 *
 *   0x0000_0000  RAM (low)                       e820 RAM up to 0x9fc00
 *   0x0009_fc00  EBDA                            e820 reserved
 *   0x000a_0000  legacy VGA/ROM hole             e820 reserved (0xe0000: RSDP + ACPI tables)
 *   0x0010_0000  RAM                             up to min(ram, MMIO_HOLE_START)
 *   0xc000_0000  32-bit PCI MMIO window          BARs
 *   0xe000_0000  PCIe ECAM (256 buses)           e820 reserved
 *   0xfec0_0000  IOAPIC
 *   0xfee0_0000  LAPIC
 *   0x1_0000_0000 RAM (high), the part of guest RAM that did not fit below the hole
 *
 * Boot data in low RAM (all below 0x9fc00, above the real-mode IVT/BDA):
 * GDT, page tables, zero page / start_info, command line, Multiboot info.
 */
#ifndef KITE_ARCH_X86_LAYOUT_H
#define KITE_ARCH_X86_LAYOUT_H

#define KiB(x) ((unsigned long long)(x) << 10)
#define MiB(x) ((unsigned long long)(x) << 20)
#define GiB(x) ((unsigned long long)(x) << 30)

#define LOW_RAM_END		0x9fc00ULL	/* start of the EBDA */
#define EBDA_START		0x9fc00ULL
#define BIOS_AREA_START		0xe0000ULL	/* scanned for the RSDP */
#define BIOS_AREA_END		0x100000ULL
#define HIGH_RAM_START		0x100000ULL	/* 1 MiB */

#define MMIO_HOLE_START		0xc0000000ULL
#define MMIO_HOLE_END		0x100000000ULL
#define PCI_MMIO32_START	0xc0000000ULL
#define PCI_MMIO32_SIZE		0x20000000ULL
#define PCI_ECAM_START		0xe0000000ULL
#define PCI_ECAM_SIZE		0x10000000ULL
#define PCI_ECAM_BUSES		256
#define IOAPIC_ADDR		0xfec00000ULL
#define IOAPIC_SIZE		0x1000ULL
#define LAPIC_ADDR		0xfee00000ULL
#define LAPIC_SIZE		0x1000ULL
#define RAM_ABOVE_4G_START	0x100000000ULL

/* Pages KVM needs for its own use on Intel (TSS and identity map), in the hole. */
#define KVM_IDENTITY_MAP_ADDR	0xfeffc000ULL
#define KVM_TSS_ADDR		0xfeffd000ULL

/* Boot data, all in low RAM. */
#define BOOT_GDT_ADDR		0x1000ULL	/* 4 KiB: flat GDT */
#define BOOT_IDT_ADDR		0x1800ULL	/* empty IDT for the 64-bit entry */
#define BOOT_START_INFO_ADDR	0x6000ULL	/* PVH hvm_start_info, modlist, memmap */
#define BOOT_ZERO_PAGE_ADDR	0x7000ULL	/* Linux boot_params (4 KiB) */
#define BOOT_PML4_ADDR		0x9000ULL
#define BOOT_PDPT_ADDR		0xa000ULL
#define BOOT_PD_ADDR		0xb000ULL	/* 4 PDs: 4 GiB of 2 MiB pages */
#define BOOT_PD_COUNT		4
#define BOOT_MBI_ADDR		0x10000ULL	/* Multiboot info + mmap + module list */
#define BOOT_MBI_SIZE		0x10000ULL
#define BOOT_CMDLINE_ADDR	0x20000ULL
#define BOOT_CMDLINE_MAX	0x10000ULL	/* 64 KiB including the NUL */
#define BOOT_STACK_TOP		0x8ff0ULL	/* for entries that want a stack */

/* ACPI: RSDP at the start of the BIOS area, the tables after it. */
#define ACPI_RSDP_ADDR		0xe0000ULL
#define ACPI_TABLES_ADDR	0xe0040ULL
#define ACPI_TABLES_END		0x100000ULL

/* Fixed I/O ports. */
#define PORT_COM1		0x3f8
#define COM1_IRQ		4
#define PORT_I8042_DATA		0x60
#define PORT_I8042_CMD		0x64
#define PORT_RESET_CF9		0xcf9
#define PORT_DEBUG_EXIT		0xf4
#define PORT_PCI_CONFIG_ADDR	0xcf8
#define PORT_PCI_CONFIG_DATA	0xcfc
#define PORT_ACPI_PM1A_EVT	0x600	/* 4 bytes: PM1a status, enable */
#define PORT_ACPI_PM1A_CNT	0x604	/* 2 bytes */
#define PORT_ACPI_PM_TMR	0x608	/* 4 bytes, 24-bit counter at 3.579545 MHz */
#define PORT_ACPI_GPE0		0x620	/* 4 bytes: GPE0 status, enable */
#define ACPI_SCI_IRQ		9
#define ACPI_S5_SLP_TYP		5	/* value of \_S5 and of SLP_TYP on power-off */

/*
 * PCI INTx routing, shared by the DSDT's _PRT and the PCI host (which puts
 * the same GSI in each function's Interrupt Line register): the eight IOAPIC
 * pins above the ISA ones, rotated by slot so that the INTA pins of
 * neighbouring slots land on different GSIs. pin 0 is INTA.
 */
#define PCI_INTX_GSI_BASE	16
#define PCI_INTX_GSI_COUNT	8

static inline unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_GSI_COUNT;
}

/*
 * 64-bit PCI MMIO window, for 64-bit BARs: right above the end of guest RAM
 * (which continues at 4 GiB once it passes MMIO_HOLE_START), 1 GiB aligned.
 * The DSDT's PCI0._CRS and the PCI host's BAR allocator both use this.
 */
#define PCI_MMIO64_SIZE		GiB(64)
#define PCI_MMIO64_ALIGN	GiB(1)

static inline unsigned long long pci_mmio64_start(unsigned long long ram_size)
{
	unsigned long long top = RAM_ABOVE_4G_START;

	if (ram_size > MMIO_HOLE_START)
		top += ram_size - MMIO_HOLE_START;
	return (top + PCI_MMIO64_ALIGN - 1) & ~(PCI_MMIO64_ALIGN - 1);
}

#endif
