/* SPDX-License-Identifier: Apache-2.0 */
/* PCI configuration space through mechanism #1 (0xcf8/0xcfc) and ECAM (MCFG). */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "guest.h"

#define PCI_MAX_DEVS	64

struct pci_dev {
	u8 bus, dev, fn;
	u16 vendor, device;
	u8 class, subclass, progif, hdr_type;
};

struct pci_info {
	unsigned ndevs;
	struct pci_dev devs[PCI_MAX_DEVS];
	bool truncated;
};

extern struct pci_info pci;

u32 pci_cf8_read32(u8 bus, u8 dev, u8 fn, u16 off);
void pci_cf8_write32(u8 bus, u8 dev, u8 fn, u16 off, u32 val);
/* ECAM access, if the MCFG gave a window covering `bus`; false otherwise. */
bool pci_ecam_read32(u8 bus, u8 dev, u8 fn, u16 off, u32 *val);

/* Enumerate every function (bus 0 and the buses behind bridges) via 0xcf8. */
void pci_scan(void);
const struct pci_dev *pci_find_class(u8 class, u8 subclass);
const char *pci_class_name(u8 class, u8 subclass);

#endif
