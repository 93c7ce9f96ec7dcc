// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci transport driven as a guest driver would (config space and
 * BAR accesses only), with a fake device, fake guest RAM (vq_fake), fake KVM
 * calls (fake_kvm) and fake INTx (fake_vm).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/pci.h"

#define NQ	2
#define QMAX	64
#define F_DEV	(1ULL << 3 | 1ULL << 40)	/* two device/transport bits */
#define V1	(1ULL << 32)

static struct bus pio, mmio;
static struct pci_host host;
static struct fake_kvm *k;
static struct irq_router ir;
static struct vq_fake vf;
static struct virtio_pci *t;
static struct vpci_drv d;
static uint8_t devcfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static int enables[NQ], resets, cfg_writes;
static struct virtq *enabled_q[NQ];

static int dev_queue_enable(void *dev, unsigned idx, struct virtq *q)
{
	(void)dev;
	enables[idx]++;
	enabled_q[idx] = q;
	return 0;
}

static void dev_reset(void *dev)
{
	(void)dev;
	resets++;
}

static void dev_config_write(void *dev, unsigned off, const uint8_t *data, unsigned len)
{
	(void)dev;
	memcpy(devcfg + off, data, len);
	cfg_writes++;
}

static const struct virtio_dev_ops dev_ops = {
	.queue_enable = dev_queue_enable,
	.reset = dev_reset,
	.config_write = dev_config_write,
};

static void setup(void)
{
	struct virtio_pci_opts o = {
		.name = "virtio-test", .device_id = 2, .class_code = 0x018000,
		.features = F_DEV, .num_queues = NQ, .queue_size = QMAX,
		.config = devcfg, .config_len = sizeof(devcfg), .ops = &dev_ops,
	};

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio), 0);
	k = calloc(1, sizeof(*k));
	ck_assert_int_eq(irq_router_init(&ir, &fake_kvm_ops, fake_kvm_reset(k)), 0);
	vq_fake_init(&vf, 16);
	fake_vm_reset();
	memset(enables, 0, sizeof(enables));
	resets = cfg_writes = 0;
	ck_assert_int_eq(virtio_pci_create(&t, FAKE_VM, &host, &ir, &vf.mem, &o), 0);
	vpd_attach(&d, &host, &mmio, virtio_pci_func(t)->slot);
}

static void teardown(void)
{
	virtio_pci_destroy(t);
	vq_fake_free(&vf);
	irq_router_destroy(&ir);
	free(k);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

static uint64_t efd_read(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, 8) != 8)
		return 0;
	return v;
}

static unsigned intx_gsi(void)
{
	return pci_intx_gsi(d.slot, 0);
}

START_TEST(identity_and_caps)
{
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_DEVICE_ID, 2), 0x1042);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_REVISION_ID, 1), 1);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_CLASS_DEVICE, 2), 0x0180);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_INTERRUPT_PIN, 1), 1);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_INTERRUPT_LINE, 1), intx_gsi());
	ck_assert_uint_eq(d.notify_mult, 4);
	ck_assert_uint_eq(d.nvec, NQ + 1);
	ck_assert_uint_eq(d.device_len, sizeof(devcfg));
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_NUMQ, 2), NQ);
	/* Each capability's region lies inside the BAR. */
	ck_assert_uint_le(d.msix_pba + 8, VIRTIO_PCI_BAR_SIZE);
	ck_assert_uint_le(d.notify + 4 * NQ, VIRTIO_PCI_BAR_SIZE);
}
END_TEST

START_TEST(feature_negotiation)
{
	uint64_t f = vpd_device_features(&d);

	ck_assert_uint_eq(f, F_DEV | V1);
	/* A bit that was not offered: FEATURES_OK does not stick. */
	ck_assert_uint_eq(vpd_negotiate(&d, V1 | 1ULL << 5) & 8, 0);
	/* No VERSION_1: refused too. */
	ck_assert_uint_eq(vpd_negotiate(&d, 1ULL << 3) & 8, 0);
	/* A subset with VERSION_1 is accepted. */
	ck_assert_uint_eq(vpd_negotiate(&d, V1 | 1ULL << 3), 0xb);
	ck_assert_uint_eq(virtio_pci_features(t), V1 | 1ULL << 3);
	/* Features are frozen once FEATURES_OK is set. */
	vpd_cc_write(&d, VPD_GFSELECT, 0, 4);
	vpd_cc_write(&d, VPD_GF, 0, 4);
	ck_assert_uint_eq(virtio_pci_features(t), V1 | 1ULL << 3);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_GF, 4), 1ULL << 3);
}
END_TEST

START_TEST(status_and_reset)
{
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_queue_setup(&d, 0, 16, VQF_DESC, VQF_AVAIL, VQF_USED);
	ck_assert_int_eq(enables[0], 1);
	vpd_cc_write(&d, VPD_MSIX, 0, 2);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1), 0xf);
	resets = 0;
	vpd_cc_write(&d, VPD_STATUS, 0, 1);
	ck_assert_int_eq(resets, 1);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1), 0);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	vpd_cc_write(&d, VPD_QSEL, 0, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QENABLE, 2), 0);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), QMAX);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QDESC, 4), 0);
	ck_assert(!virtq_enabled(enabled_q[0]));
	/* Usable again after the reset. */
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_queue_setup(&d, 0, 16, VQF_DESC, VQF_AVAIL, VQF_USED);
	ck_assert_int_eq(enables[0], 2);
}
END_TEST

START_TEST(queue_setup_rules)
{
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_cc_write(&d, VPD_QSEL, 1, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), QMAX);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QNOTIFY, 2), 1);
	vpd_cc_write(&d, VPD_QSIZE, QMAX * 2, 2);		/* above the max: ignored */
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), QMAX);
	vpd_cc_write(&d, VPD_QSIZE, 16, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), 16);
	/* A 64-bit write of an address works as well as two halves. */
	vpd_cc_write(&d, VPD_QDESC, VQF_DESC, 8);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QDESC, 8), VQF_DESC);
	vpd_queue_setup(&d, 1, 16, VQF_DESC, VQF_AVAIL, VQF_USED);
	ck_assert_int_eq(enables[1], 1);
	ck_assert(virtq_enabled(enabled_q[1]));
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QENABLE, 2), 1);
	/* While enabled, size and addresses do not change. */
	vpd_cc_write(&d, VPD_QSIZE, 8, 2);
	vpd_cc_write(&d, VPD_QDESC, 0x8000, 4);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), 16);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QDESC, 4), VQF_DESC);
	/* A second enable does not re-enable. */
	vpd_cc_write(&d, VPD_QENABLE, 1, 2);
	ck_assert_int_eq(enables[1], 1);
	/* An out-of-range queue_select reads as an absent queue. */
	vpd_cc_write(&d, VPD_QSEL, NQ, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QSIZE, 2), 0);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
}
END_TEST

START_TEST(bad_queue_needs_reset)
{
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
	/* Rings outside RAM: refused, the device asks for a reset. */
	vpd_queue_setup(&d, 0, 16, 0x80000000ULL, VQF_AVAIL, VQF_USED);
	ck_assert_int_eq(enables[0], 0);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QENABLE, 2), 0);
	ck_assert(vpd_cc_read(&d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* INTx (MSI-X off): the config change shows in the ISR. */
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 2);
	/* Only a reset clears NEEDS_RESET. */
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
	ck_assert(vpd_cc_read(&d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	vpd_cc_write(&d, VPD_STATUS, 0, 1);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1), 0);
}
END_TEST

START_TEST(queue_before_features_ok)
{
	vpd_cc_write(&d, VPD_STATUS, 3, 1);
	vpd_queue_setup(&d, 0, 16, VQF_DESC, VQF_AVAIL, VQF_USED);
	ck_assert_int_eq(enables[0], 0);
	ck_assert(vpd_cc_read(&d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

START_TEST(intx_and_isr)
{
	struct fake_vm r;
	unsigned g = intx_gsi();

	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
	virtio_pci_notify(t, 0);
	r = fake_vm_get();
	ck_assert_int_eq(r.irq_level[g], 1);
	ck_assert(vpd_cfg_read(&d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Read-to-clear, and the line drops. */
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 1);
	ck_assert_int_eq(fake_vm_get().irq_level[g], 0);
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 0);
	ck_assert_uint_eq(vpd_cfg_read(&d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	/* INTx disabled in the command register: ISR set, line untouched. */
	vpd_cfg_write(&d, PCI_COMMAND, vpd_cfg_read(&d, PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE, 2);
	virtio_pci_notify(t, 1);
	ck_assert_int_eq(fake_vm_get().irq_level[g], 0);
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 1);
}
END_TEST

START_TEST(config_generation)
{
	uint8_t gen = vpd_cc_read(&d, VPD_GEN, 1);

	/* Before DRIVER_OK: generation moves, no interrupt. */
	virtio_pci_config_changed(t);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_GEN, 1), (uint8_t)(gen + 1));
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 0);
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
	devcfg[0] = 0x55;
	virtio_pci_config_changed(t);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_GEN, 1), (uint8_t)(gen + 2));
	ck_assert_uint_eq(vpd_read(&d, d.isr, 1), 2);
	ck_assert_int_eq(fake_vm_get().irq_level[intx_gsi()], 0);
	/* Device config reads and writes. */
	ck_assert_uint_eq(vpd_read(&d, d.device, 4), 0x04030255);
	vpd_write(&d, d.device + 4, 0xaa, 1);
	ck_assert_int_eq(cfg_writes, 1);
	ck_assert_uint_eq(devcfg[4], 0xaa);
}
END_TEST

START_TEST(msix_delivery_and_masking)
{
	int fd;

	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_msix_control(&d, 0x8000);
	vpd_msix_entry(&d, 1, 0xfee00000, 0x4041, 0);
	vpd_msix_entry(&d, 2, 0xfee01000, 0x4042, 1);
	vpd_cc_write(&d, VPD_QSEL, 0, 2);
	vpd_cc_write(&d, VPD_QMSIX, 1, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QMSIX, 2), 1);
	vpd_cc_write(&d, VPD_MSIX, 2, 2);
	/* An out-of-range vector reads back as NO_VECTOR. */
	vpd_cc_write(&d, VPD_QSEL, 1, 2);
	vpd_cc_write(&d, VPD_QMSIX, NQ + 1, 2);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_QMSIX, 2), VIRTIO_MSI_NO_VECTOR);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);

	/* Vector 1 is unmasked: routed (GSI >= 24) with an irqfd. */
	ck_assert_ptr_nonnull(fake_kvm_route(k, 24, 0));
	ck_assert_uint_eq(fake_kvm_route(k, 24, 0)->msi.data, 0x4041);
	ck_assert_uint_eq(k->nirqfd, 1);
	fd = k->irqfd[0].fd;
	virtio_pci_notify(t, 0);
	ck_assert_uint_eq(efd_read(fd), 1);
	ck_assert_int_eq(fake_vm_get().irq_calls, 0);	/* no INTx under MSI-X */

	/* Masked: pending bit, no interrupt; unmask delivers it. */
	vpd_msix_mask(&d, 1, 1);
	virtio_pci_notify(t, 0);
	ck_assert_uint_eq(efd_read(fd), 0);
	ck_assert_int_eq(vpd_msix_pending(&d, 1), 1);
	vpd_msix_mask(&d, 1, 0);
	ck_assert_uint_eq(efd_read(fd), 1);
	ck_assert_int_eq(vpd_msix_pending(&d, 1), 0);

	/* The function mask works the same way. */
	vpd_msix_control(&d, 0xc000);
	virtio_pci_notify(t, 0);
	ck_assert_uint_eq(efd_read(fd), 0);
	ck_assert_int_eq(vpd_msix_pending(&d, 1), 1);
	vpd_msix_control(&d, 0x8000);
	ck_assert_uint_eq(efd_read(fd), 1);

	/* Config vector 2 is masked: the config change waits in the PBA; a
	 * new message written while masked is routed at unmask. */
	virtio_pci_config_changed(t);
	ck_assert_int_eq(vpd_msix_pending(&d, 2), 1);
	vpd_msix_entry(&d, 2, 0xfee02000, 0x4043, 1);
	vpd_msix_mask(&d, 2, 0);
	ck_assert_int_eq(vpd_msix_pending(&d, 2), 0);
	ck_assert_uint_eq(fake_kvm_route(k, 25, 0)->msi.data, 0x4043);
	/* PBA is read-only. */
	vpd_write(&d, d.msix_pba, ~0ULL, 8);
	ck_assert_int_eq(vpd_msix_pending(&d, 0), 0);
	/* Table reads back what was written; reserved control bits stay 0. */
	vpd_write(&d, d.msix_table + 16 + 12, 0xfffffffe, 4);
	ck_assert_uint_eq(vpd_read(&d, d.msix_table + 16 + 12, 4), 0);
	ck_assert_uint_eq(vpd_read(&d, d.msix_table + 16 + 8, 4), 0x4041);
}
END_TEST

START_TEST(msix_without_irqfd_uses_signal_msi)
{
	/* A message changed while unmasked is re-routed at once. */
	ck_assert_uint_eq(vpd_negotiate(&d, V1), 0xb);
	vpd_msix_control(&d, 0x8000);
	vpd_msix_entry(&d, 0, 0xfee00000, 0x4050, 0);
	vpd_write(&d, d.msix_table + 8, 0x4051, 4);
	ck_assert_uint_eq(fake_kvm_route(k, 24, 0)->msi.data, 0x4051);
}
END_TEST

START_TEST(notify_paths)
{
	uint64_t notify0 = d.bar + d.notify;
	uint64_t newbar = 0xd0000000ULL;

	/* One ioeventfd per queue on its notify address. */
	ck_assert_uint_eq(k->nioev, NQ);
	ck_assert_int_eq(fake_kvm_ioev_fd(k, notify0), virtio_pci_kick_fd(t, 0));
	ck_assert_int_eq(fake_kvm_ioev_fd(k, notify0 + 4), virtio_pci_kick_fd(t, 1));
	/* The MMIO path (no ioeventfd) reaches the same eventfd. */
	vpd_notify(&d, 1);
	ck_assert_uint_eq(efd_read(virtio_pci_kick_fd(t, 1)), 1);
	ck_assert_uint_eq(efd_read(virtio_pci_kick_fd(t, 0)), 0);
	/* The guest moves the BAR: the ioeventfds follow. */
	vpd_cfg_write(&d, PCI_BASE_ADDRESS_0, (uint32_t)newbar | 4, 4);
	ck_assert_uint_eq(k->nioev, NQ);
	ck_assert_int_eq(fake_kvm_ioev_fd(k, newbar + d.notify), virtio_pci_kick_fd(t, 0));
	ck_assert_int_eq(fake_kvm_ioev_fd(k, notify0), -1);
	/* Memory decoding off: none left. */
	vpd_cfg_write(&d, PCI_COMMAND, 0, 2);
	ck_assert_uint_eq(k->nioev, 0);
}
END_TEST

START_TEST(pci_cfg_window)
{
	unsigned c = d.cap_pcicfg;

	/* Read num_queues through the config-space window. */
	vpd_cfg_write(&d, c + 4, 0, 1);
	vpd_cfg_write(&d, c + 8, d.common + VPD_NUMQ, 4);
	vpd_cfg_write(&d, c + 12, 2, 4);
	ck_assert_uint_eq(vpd_cfg_read(&d, c + 16, 2), NQ);
	/* And write status through it. */
	vpd_cfg_write(&d, c + 8, d.common + VPD_STATUS, 4);
	vpd_cfg_write(&d, c + 12, 1, 4);
	vpd_cfg_write(&d, c + 16, 1, 1);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1), 1);
}
END_TEST

Suite *virtio_pci_suite(void)
{
	Suite *s = suite_create("virtio_pci");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identity_and_caps);
	tcase_add_test(tc, feature_negotiation);
	tcase_add_test(tc, status_and_reset);
	tcase_add_test(tc, queue_setup_rules);
	tcase_add_test(tc, bad_queue_needs_reset);
	tcase_add_test(tc, queue_before_features_ok);
	tcase_add_test(tc, intx_and_isr);
	tcase_add_test(tc, config_generation);
	tcase_add_test(tc, msix_delivery_and_masking);
	tcase_add_test(tc, msix_without_irqfd_uses_signal_msi);
	tcase_add_test(tc, notify_paths);
	tcase_add_test(tc, pci_cfg_window);
	suite_add_tcase(s, tc);
	return s;
}
