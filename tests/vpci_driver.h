/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-side virtio-pci driver: finds the capabilities by walking the PCI
 * capability list and reaches every register through config space and the
 * MMIO bus, as a guest driver would. Shared by the transport and device tests.
 */
#ifndef KITE_TESTS_VPCI_DRIVER_H
#define KITE_TESTS_VPCI_DRIVER_H

#include <stdint.h>

#include "devices/pci.h"

/* Common configuration field offsets (virtio 1.2, 4.1.4.3). */
enum {
	VPD_DFSELECT = 0, VPD_DF = 4, VPD_GFSELECT = 8, VPD_GF = 12, VPD_MSIX = 16,
	VPD_NUMQ = 18, VPD_STATUS = 20, VPD_GEN = 21, VPD_QSEL = 22, VPD_QSIZE = 24,
	VPD_QMSIX = 26, VPD_QENABLE = 28, VPD_QNOTIFY = 30, VPD_QDESC = 32,
	VPD_QDRIVER = 40, VPD_QDEVICE = 48,
};

struct vpci_drv {
	struct pci_host *host;
	struct bus *mmio;
	unsigned slot;
	uint64_t bar;			/* BAR 0 address */
	unsigned cap_common, cap_notify, cap_isr, cap_device, cap_pcicfg, cap_msix;
	uint32_t common, notify, isr, device, device_len;	/* BAR offsets */
	uint32_t notify_mult;
	uint32_t msix_table, msix_pba;
	unsigned nvec;
};

/* Find the function in `slot` and parse its capabilities (asserts on error). */
void vpd_attach(struct vpci_drv *d, struct pci_host *host, struct bus *mmio, unsigned slot);
uint32_t vpd_cfg_read(struct vpci_drv *d, unsigned off, unsigned len);
void vpd_cfg_write(struct vpci_drv *d, unsigned off, uint32_t v, unsigned len);
uint64_t vpd_read(struct vpci_drv *d, uint64_t off, unsigned len);
void vpd_write(struct vpci_drv *d, uint64_t off, uint64_t v, unsigned len);
uint64_t vpd_cc_read(struct vpci_drv *d, unsigned field, unsigned len);
void vpd_cc_write(struct vpci_drv *d, unsigned field, uint64_t v, unsigned len);
uint64_t vpd_device_features(struct vpci_drv *d);
/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read back. */
uint8_t vpd_negotiate(struct vpci_drv *d, uint64_t features);
/* Select, size, the three addresses (as 32-bit halves), enable. */
void vpd_queue_setup(struct vpci_drv *d, unsigned idx, uint16_t size, uint64_t desc,
		     uint64_t avail, uint64_t used);
void vpd_notify(struct vpci_drv *d, unsigned idx);
/* MSI-X: message control; one table entry. */
void vpd_msix_control(struct vpci_drv *d, uint16_t ctrl);
void vpd_msix_entry(struct vpci_drv *d, unsigned v, uint64_t addr, uint32_t data, int masked);
void vpd_msix_mask(struct vpci_drv *d, unsigned v, int masked);
int vpd_msix_pending(struct vpci_drv *d, unsigned v);

#endif
