// SPDX-License-Identifier: Apache-2.0
/*
 * PCI enumeration. Mechanism #1 works on every PC-compatible machine, so the
 * scan uses it; ECAM is read separately and the pci test compares the two.
 * Only buses that exist are scanned (bus 0 and bridges' secondary buses):
 * every config access is a VM exit, and 256 blind buses would be 16k of them.
 */
#include "pci.h"
#include "acpi.h"

struct pci_info pci;

#define PCI_CONFIG_ADDR	0xcf8
#define PCI_CONFIG_DATA	0xcfc

static u32 cf8_addr(u8 bus, u8 dev, u8 fn, u16 off)
{
	return 0x80000000u | bus << 16 | (dev & 31) << 11 | (fn & 7) << 8 | (off & 0xfc);
}

u32 pci_cf8_read32(u8 bus, u8 dev, u8 fn, u16 off)
{
	outl(PCI_CONFIG_ADDR, cf8_addr(bus, dev, fn, off));
	return inl(PCI_CONFIG_DATA);
}

void pci_cf8_write32(u8 bus, u8 dev, u8 fn, u16 off, u32 val)
{
	outl(PCI_CONFIG_ADDR, cf8_addr(bus, dev, fn, off));
	outl(PCI_CONFIG_DATA, val);
}

bool pci_ecam_read32(u8 bus, u8 dev, u8 fn, u16 off, u32 *val)
{
	u64 addr;

	if (!acpi.mcfg || !acpi.ecam_base || bus < acpi.ecam_bus_start ||
	    bus > acpi.ecam_bus_end || off > 4092)
		return false;
	addr = acpi.ecam_base + ((u64)(bus - acpi.ecam_bus_start) << 20 |
				 (dev & 31) << 15 | (fn & 7) << 12 | (off & ~3u));
	if (!phys_ok(addr, 4))
		return false;
	*val = mmio_read32(addr);
	return true;
}

static u8 scanned[256 / 8];

static void scan_bus(u8 bus)
{
	if (scanned[bus / 8] & (1 << bus % 8))
		return;
	scanned[bus / 8] |= 1 << bus % 8;

	for (u8 dev = 0; dev < 32; dev++) {
		unsigned nfn = 1;

		for (u8 fn = 0; fn < nfn; fn++) {
			u32 id = pci_cf8_read32(bus, dev, fn, 0x00);
			u32 cls, hdr;
			struct pci_dev *d;

			if ((id & 0xffff) == 0xffff)
				continue;
			cls = pci_cf8_read32(bus, dev, fn, 0x08);
			hdr = pci_cf8_read32(bus, dev, fn, 0x0c) >> 16 & 0xff;
			if (fn == 0 && (hdr & 0x80))	/* multi-function device */
				nfn = 8;
			if (pci.ndevs == PCI_MAX_DEVS) {
				pci.truncated = true;
				return;
			}
			d = &pci.devs[pci.ndevs++];
			*d = (struct pci_dev){
				.bus = bus, .dev = dev, .fn = fn,
				.vendor = id, .device = id >> 16,
				.class = cls >> 24, .subclass = cls >> 16, .progif = cls >> 8,
				.hdr_type = hdr,
			};
			/* PCI-to-PCI bridge: scan what is behind it. */
			if ((hdr & 0x7f) == 1) {
				u8 secondary = pci_cf8_read32(bus, dev, fn, 0x18) >> 8;

				if (secondary > bus)
					scan_bus(secondary);
			}
		}
	}
}

void pci_scan(void)
{
	memset(&pci, 0, sizeof(pci));
	memset(scanned, 0, sizeof(scanned));
	scan_bus(0);
}

const struct pci_dev *pci_find_class(u8 class, u8 subclass)
{
	for (unsigned i = 0; i < pci.ndevs; i++)
		if (pci.devs[i].class == class && pci.devs[i].subclass == subclass)
			return &pci.devs[i];
	return NULL;
}

const char *pci_class_name(u8 class, u8 subclass)
{
	static const struct { u8 class, subclass; const char *name; } names[] = {
		{ 0x01, 0x00, "SCSI controller" }, { 0x01, 0x01, "IDE controller" },
		{ 0x01, 0x06, "SATA controller" }, { 0x01, 0x08, "NVMe controller" },
		{ 0x01, 0xff, "storage controller" }, { 0x02, 0x00, "Ethernet controller" },
		{ 0x02, 0xff, "network controller" }, { 0x03, 0xff, "display controller" },
		{ 0x06, 0x00, "host bridge" }, { 0x06, 0x01, "ISA bridge" },
		{ 0x06, 0x04, "PCI bridge" }, { 0x06, 0xff, "bridge" },
		{ 0x07, 0x00, "serial controller" }, { 0x0c, 0x03, "USB controller" },
		{ 0x0c, 0x05, "SMBus controller" }, { 0x00, 0xff, "unclassified device" },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].class == class && (names[i].subclass == subclass ||
						names[i].subclass == 0xff))
			return names[i].name;
	return "device";
}
