// SPDX-License-Identifier: Apache-2.0
/* Test-side virtio-pci driver: see vpci_driver.h. */
#include "tests/vpci_driver.h"

#include <check.h>
#include <string.h>

uint32_t vpd_cfg_read(struct vpci_drv *d, unsigned off, unsigned len)
{
	uint8_t b[4] = { 0 };
	uint32_t v = 0;

	pci_config_access(d->host, 0, d->slot << 3, off, b, len, false);
	memcpy(&v, b, len);
	return v;
}

void vpd_cfg_write(struct vpci_drv *d, unsigned off, uint32_t v, unsigned len)
{
	uint8_t b[4];

	memcpy(b, &v, 4);
	pci_config_access(d->host, 0, d->slot << 3, off, b, len, true);
}

uint64_t vpd_read(struct vpci_drv *d, uint64_t off, unsigned len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	ck_assert(bus_access(d->mmio, d->bar + off, b, len, false));
	memcpy(&v, b, len);
	return v;
}

void vpd_write(struct vpci_drv *d, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t b[8];

	memcpy(b, &v, 8);
	ck_assert(bus_access(d->mmio, d->bar + off, b, len, true));
}

uint64_t vpd_cc_read(struct vpci_drv *d, unsigned field, unsigned len)
{
	return vpd_read(d, d->common + field, len);
}

void vpd_cc_write(struct vpci_drv *d, unsigned field, uint64_t v, unsigned len)
{
	vpd_write(d, d->common + field, v, len);
}

void vpd_attach(struct vpci_drv *d, struct pci_host *host, struct bus *mmio, unsigned slot)
{
	unsigned cap;

	memset(d, 0, sizeof(*d));
	d->host = host;
	d->mmio = mmio;
	d->slot = slot;
	ck_assert_uint_eq(vpd_cfg_read(d, PCI_VENDOR_ID, 2), 0x1af4);
	ck_assert(vpd_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* BAR 0: 64-bit memory. */
	ck_assert_uint_eq(vpd_cfg_read(d, PCI_BASE_ADDRESS_0, 4) & 0x7, 0x4);
	d->bar = (vpd_cfg_read(d, PCI_BASE_ADDRESS_0, 4) & ~0xfULL) |
		 (uint64_t)vpd_cfg_read(d, PCI_BASE_ADDRESS_0 + 4, 4) << 32;
	for (cap = vpd_cfg_read(d, PCI_CAPABILITY_LIST, 1); cap; cap = vpd_cfg_read(d, cap + 1, 1)) {
		unsigned id = vpd_cfg_read(d, cap, 1);

		ck_assert_uint_ge(cap, 0x40);
		if (id == 0x11) {
			d->cap_msix = cap;
			d->nvec = (vpd_cfg_read(d, cap + 2, 2) & 0x7ff) + 1;
			d->msix_table = vpd_cfg_read(d, cap + 4, 4);
			d->msix_pba = vpd_cfg_read(d, cap + 8, 4);
			ck_assert_uint_eq(d->msix_table & 7, 0);	/* BIR 0 */
			ck_assert_uint_eq(d->msix_pba & 7, 0);
			continue;
		}
		ck_assert_uint_eq(id, 0x09);
		switch (vpd_cfg_read(d, cap + 3, 1)) {
		case 1:
			d->cap_common = cap;
			d->common = vpd_cfg_read(d, cap + 8, 4);
			break;
		case 2:
			d->cap_notify = cap;
			d->notify = vpd_cfg_read(d, cap + 8, 4);
			d->notify_mult = vpd_cfg_read(d, cap + 16, 4);
			ck_assert_uint_ge(vpd_cfg_read(d, cap + 2, 1), 20);
			break;
		case 3:
			d->cap_isr = cap;
			d->isr = vpd_cfg_read(d, cap + 8, 4);
			break;
		case 4:
			d->cap_device = cap;
			d->device = vpd_cfg_read(d, cap + 8, 4);
			d->device_len = vpd_cfg_read(d, cap + 12, 4);
			break;
		case 5:
			d->cap_pcicfg = cap;
			break;
		}
		if (vpd_cfg_read(d, cap + 3, 1) != 5)
			ck_assert_uint_eq(vpd_cfg_read(d, cap + 4, 1), 0);	/* BAR 0 */
	}
	ck_assert(d->cap_common && d->cap_notify && d->cap_isr && d->cap_msix && d->cap_pcicfg);
}

uint64_t vpd_device_features(struct vpci_drv *d)
{
	uint64_t f;

	vpd_cc_write(d, VPD_DFSELECT, 0, 4);
	f = vpd_cc_read(d, VPD_DF, 4);
	vpd_cc_write(d, VPD_DFSELECT, 1, 4);
	return f | vpd_cc_read(d, VPD_DF, 4) << 32;
}

uint8_t vpd_negotiate(struct vpci_drv *d, uint64_t features)
{
	vpd_cc_write(d, VPD_STATUS, 0, 1);
	vpd_cc_write(d, VPD_STATUS, 1, 1);
	vpd_cc_write(d, VPD_STATUS, 3, 1);
	vpd_cc_write(d, VPD_GFSELECT, 0, 4);
	vpd_cc_write(d, VPD_GF, (uint32_t)features, 4);
	vpd_cc_write(d, VPD_GFSELECT, 1, 4);
	vpd_cc_write(d, VPD_GF, features >> 32, 4);
	vpd_cc_write(d, VPD_STATUS, 3 | 8, 1);
	return vpd_cc_read(d, VPD_STATUS, 1);
}

void vpd_queue_setup(struct vpci_drv *d, unsigned idx, uint16_t size, uint64_t desc,
		     uint64_t avail, uint64_t used)
{
	vpd_cc_write(d, VPD_QSEL, idx, 2);
	vpd_cc_write(d, VPD_QSIZE, size, 2);
	vpd_cc_write(d, VPD_QDESC, (uint32_t)desc, 4);
	vpd_cc_write(d, VPD_QDESC + 4, desc >> 32, 4);
	vpd_cc_write(d, VPD_QDRIVER, (uint32_t)avail, 4);
	vpd_cc_write(d, VPD_QDRIVER + 4, avail >> 32, 4);
	vpd_cc_write(d, VPD_QDEVICE, (uint32_t)used, 4);
	vpd_cc_write(d, VPD_QDEVICE + 4, used >> 32, 4);
	vpd_cc_write(d, VPD_QENABLE, 1, 2);
}

void vpd_notify(struct vpci_drv *d, unsigned idx)
{
	uint16_t off;

	vpd_cc_write(d, VPD_QSEL, idx, 2);
	off = vpd_cc_read(d, VPD_QNOTIFY, 2);
	vpd_write(d, d->notify + (uint64_t)off * d->notify_mult, idx, 2);
}

void vpd_msix_control(struct vpci_drv *d, uint16_t ctrl)
{
	vpd_cfg_write(d, d->cap_msix + 2, ctrl, 2);
}

void vpd_msix_entry(struct vpci_drv *d, unsigned v, uint64_t addr, uint32_t data, int masked)
{
	uint64_t e = d->msix_table + 16ULL * v;

	vpd_write(d, e, (uint32_t)addr, 4);
	vpd_write(d, e + 4, addr >> 32, 4);
	vpd_write(d, e + 8, data, 4);
	vpd_write(d, e + 12, masked ? 1 : 0, 4);
}

void vpd_msix_mask(struct vpci_drv *d, unsigned v, int masked)
{
	vpd_write(d, d->msix_table + 16ULL * v + 12, masked ? 1 : 0, 4);
}

int vpd_msix_pending(struct vpci_drv *d, unsigned v)
{
	return (vpd_read(d, d->msix_pba + 8 * (v / 64), 8) >> (v % 64)) & 1;
}
