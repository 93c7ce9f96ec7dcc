// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot of the virtio-pci transport and of virtio-blk: a device driven
 * by a test driver is saved, a fresh one is built on another PCI host and
 * IRQ router over the same guest RAM (as a restore does once RAM is back),
 * restored, and must look the same to the driver (config space, every
 * common-config field, MSI-X table, PBA, routes, ioeventfds) and keep
 * working: a request made after the restore completes with the next used
 * index.
 */
#include <check.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/state_fake.h"
#include "tests/state_util.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/blk.h"
#include "virtio/pci.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define NQ	3
#define QMAX	16
#define V1	(1ULL << 32)
#define Q1_DESC	0x8000ULL
#define Q1_AVAIL 0x9000ULL
#define Q1_USED	0xa000ULL

static struct side A, B;
/* What the stand-in device was handed on each side. */
static struct virtq *qa[NQ], *qb[NQ];
static int enables_b;
static struct vq_fake vf;
static struct state_tree st;
static void *tree;
static uint8_t devcfg[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void setup(void)
{
	enables_b = 0;
	sides_init(&A, &B, &vf, QMAX, &st);
	tree = NULL;
}

static void teardown(void)
{
	free(tree);
	sides_free(&A, &B, &vf, &st);
}

static const void *saved(void)
{
	size_t len;

	tree = state_copy(&st, &len);
	return tree;
}

/* ---- the transport with a stand-in device ---- */

static int fake_enable(void *dev, unsigned idx, struct virtq *q)
{
	if (dev == &B) {
		qb[idx] = q;
		enables_b++;
	} else {
		qa[idx] = q;
	}
	return 0;
}

static void fake_reset(void *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops fake_ops = { .queue_enable = fake_enable, .reset = fake_reset };

static struct virtio_pci *make_transport(struct side *s)
{
	struct virtio_pci_opts o = {
		.name = "virtio-test", .device_id = 2, .class_code = 0x018000,
		.features = 1ULL << 3 | 1ULL << VIRTQ_F_EVENT_IDX, .num_queues = NQ,
		.queue_size = QMAX, .config = devcfg, .config_len = sizeof(devcfg),
		.ops = &fake_ops, .dev = s,
	};
	struct virtio_pci *t;

	ck_assert_int_eq(virtio_pci_create(&t, FAKE_VM, &s->host, &s->ir, &vf.mem, &o), 0);
	vpd_attach(&s->d, &s->host, &s->mmio, virtio_pci_func(t)->slot);
	return t;
}

/* Every common-config field, for every queue select and feature select,
 * in the same order on both sides (the selectors are state too). */
static void compare_common(void)
{
	static const struct { unsigned off, len; } f[] = {
		{ VPD_DFSELECT, 4 }, { VPD_GFSELECT, 4 }, { VPD_GF, 4 }, { VPD_MSIX, 2 },
		{ VPD_NUMQ, 2 }, { VPD_STATUS, 1 }, { VPD_GEN, 1 }, { VPD_QSEL, 2 },
		{ VPD_QSIZE, 2 }, { VPD_QMSIX, 2 }, { VPD_QENABLE, 2 }, { VPD_QNOTIFY, 2 },
		{ VPD_QDESC, 8 }, { VPD_QDRIVER, 8 }, { VPD_QDEVICE, 8 },
	};

	/* As restored, before any selector moves. */
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		ck_assert_uint_eq(vpd_cc_read(&B.d, f[i].off, f[i].len),
				  vpd_cc_read(&A.d, f[i].off, f[i].len));
	for (unsigned sel = 0; sel < NQ + 1; sel++) {
		vpd_cc_write(&A.d, VPD_QSEL, sel, 2);
		vpd_cc_write(&B.d, VPD_QSEL, sel, 2);
		vpd_cc_write(&A.d, VPD_DFSELECT, sel % 2, 4);
		vpd_cc_write(&B.d, VPD_DFSELECT, sel % 2, 4);
		ck_assert_uint_eq(vpd_cc_read(&B.d, VPD_DF, 4), vpd_cc_read(&A.d, VPD_DF, 4));
		vpd_cc_write(&A.d, VPD_GFSELECT, sel % 2, 4);
		vpd_cc_write(&B.d, VPD_GFSELECT, sel % 2, 4);
		for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			ck_assert_msg(vpd_cc_read(&B.d, f[i].off, f[i].len) ==
				      vpd_cc_read(&A.d, f[i].off, f[i].len),
				      "queue %u field at %u", sel, f[i].off);
	}
}

/* The GSI whose route carries (addr, data), -1 if none. */
static int msi_gsi(const struct fake_kvm *k, uint64_t addr, uint32_t data)
{
	for (unsigned i = 0; i < k->nroutes; i++)
		if (k->routes[i].kind == IRQ_ROUTE_MSI && k->routes[i].msi.addr == addr &&
		    k->routes[i].msi.data == data)
			return (int)k->routes[i].gsi;
	return -1;
}

static int irqfd_of(const struct fake_kvm *k, int gsi)
{
	for (unsigned i = 0; i < k->nirqfd; i++)
		if ((int)k->irqfd[i].gsi == gsi)
			return k->irqfd[i].fd;
	return -1;
}

START_TEST(transport_round_trip)
{
	struct virtio_pci *ta = make_transport(&A), *tb;
	struct virtq_chain c;
	struct iovec iov[4];
	uint32_t id, len;
	int n, gsi;

	/* The driver: features, MSI-X (config vector 0, queue 0 -> 1,
	 * queue 1 -> 2 masked), queue 0 up, queue 1 configured but off,
	 * DRIVER_OK. */
	ck_assert_uint_eq(vpd_negotiate(&A.d, V1 | 1ULL << VIRTQ_F_EVENT_IDX) & 8, 8);
	vpd_msix_control(&A.d, 0x8000);
	vpd_msix_entry(&A.d, 0, 0xfee00000, 0x4030, 0);
	vpd_msix_entry(&A.d, 1, 0xfee01000, 0x4031, 0);
	vpd_msix_entry(&A.d, 2, 0xfee02000, 0x4032, 1);
	vpd_cc_write(&A.d, VPD_MSIX, 0, 2);
	vpd_cc_write(&A.d, VPD_QSEL, 0, 2);
	vpd_cc_write(&A.d, VPD_QMSIX, 1, 2);
	vpd_queue_setup(&A.d, 0, QMAX, VQF_DESC, VQF_AVAIL, VQF_USED);
	vpd_cc_write(&A.d, VPD_QSEL, 1, 2);
	vpd_cc_write(&A.d, VPD_QMSIX, 2, 2);
	vpd_cc_write(&A.d, VPD_QSIZE, 8, 2);
	vpd_cc_write(&A.d, VPD_QDESC, Q1_DESC, 8);
	vpd_cc_write(&A.d, VPD_QDRIVER, Q1_AVAIL, 8);
	vpd_cc_write(&A.d, VPD_QDEVICE, Q1_USED, 8);
	vpd_cc_write(&A.d, VPD_STATUS, 0xf, 1);
	vpd_cfg_write(&A.d, PCI_INTERRUPT_LINE, 10, 1);
	/* Traffic: two chains in, both completed and published. */
	for (unsigned i = 0; i < 3; i++)
		vq_fake_desc(&vf, VQF_DESC, i, VQF_DATA(i), 512, VIRTQ_DESC_F_WRITE, 0);
	vq_fake_add(&vf, 0);
	vq_fake_add(&vf, 1);
	ck_assert_int_eq(virtq_pop(qa[0], iov, 4, &c), 1);
	virtq_push(qa[0], c.head, 100);
	ck_assert_int_eq(virtq_pop(qa[0], iov, 4, &c), 1);
	virtq_push(qa[0], c.head, 200);
	virtq_flush(qa[0]);
	virtio_pci_notify(ta, 1);	/* queue 1: masked vector 2, pending */
	ck_assert_int_eq(vpd_msix_pending(&A.d, 2), 1);
	vpd_cc_write(&A.d, VPD_QSEL, 1, 2);	/* leave the selector on queue 1 */

	n = state_add_node(&st, 0, "transport");
	ck_assert_int_eq(virtio_pci_save(ta, &st, n), 0);
	saved();

	tb = make_transport(&B);
	ck_assert_int_eq(virtio_pci_restore(tb, tree, state_node(tree, 0, "transport")), 0);
	ck_assert_int_eq(enables_b, 1);		/* queue 0 only */
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		ck_assert_uint_eq(vpd_cfg_read(&B.d, off, 4), vpd_cfg_read(&A.d, off, 4));
	for (unsigned off = 0; off < 3 * 16; off += 4)
		ck_assert_uint_eq(vpd_read(&B.d, B.d.msix_table + off, 4),
				  vpd_read(&A.d, A.d.msix_table + off, 4));
	ck_assert_uint_eq(vpd_read(&B.d, B.d.msix_pba, 8), vpd_read(&A.d, A.d.msix_pba, 8));
	ck_assert_uint_eq(virtio_pci_features(tb), virtio_pci_features(ta));
	compare_common();
	/* Kicks go through an ioeventfd at the restored BAR. */
	ck_assert_int_eq(fake_kvm_ioev_fd(B.k, B.d.bar + B.d.notify), virtio_pci_kick_fd(tb, 0));
	/* Unmasked vectors are routed and have irqfds; the queue's
	 * interrupt reaches it. */
	gsi = msi_gsi(B.k, 0xfee01000, 0x4031);
	ck_assert_int_ge(gsi, IRQ_MSI_GSI_BASE);
	ck_assert_int_ge(msi_gsi(B.k, 0xfee00000, 0x4030), IRQ_MSI_GSI_BASE);
	ck_assert_int_eq(msi_gsi(B.k, 0xfee02000, 0x4032), -1);
	virtio_pci_notify(tb, 0);
	ck_assert_uint_eq(sf_efd_read(irqfd_of(B.k, gsi)), 1);

	/* The queue goes on where it was: the restored queue was kicked
	 * once, its indices are 2 and 2, and the next chain completes as
	 * used index 3. */
	ck_assert_uint_eq(sf_efd_read(virtio_pci_kick_fd(tb, 0)), 1);
	ck_assert_uint_eq(virtq_get_last_avail_idx(qb[0]), 2);
	ck_assert_uint_eq(virtq_get_used_idx(qb[0]), 2);
	vq_fake_add(&vf, 2);
	ck_assert_int_eq(virtq_pop(qb[0], iov, 4, &c), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_ptr_eq(iov[0].iov_base, vq_fake_host(&vf, VQF_DATA(2)));
	virtq_push(qb[0], c.head, 300);
	virtq_flush(qb[0]);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 3);
	vq_fake_used_elem(&vf, 2, &id, &len);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 300);
	/* After a restore the first interrupt decision says yes. */
	ck_assert(virtq_need_interrupt(qb[0]));
	virtio_pci_destroy(ta);
	virtio_pci_destroy(tb);
}
END_TEST

START_TEST(transport_intx_and_refusals)
{
	struct virtio_pci *ta = make_transport(&A), *tb = make_transport(&B);
	struct virtq_chain c;
	struct iovec iov[2];
	int n;

	ck_assert_uint_eq(vpd_negotiate(&A.d, V1) & 8, 8);
	vpd_queue_setup(&A.d, 0, QMAX, VQF_DESC, VQF_AVAIL, VQF_USED);
	vpd_cc_write(&A.d, VPD_STATUS, 0xf, 1);
	virtio_pci_notify(ta, 0);	/* no MSI-X: INTx and ISR */
	ck_assert_int_eq(fake_vm_get().irq_level[pci_intx_gsi(A.d.slot, 0)], 1);
	/* Not quiescent: a used entry pushed, not published. */
	vq_fake_desc(&vf, VQF_DESC, 0, VQF_DATA(0), 64, VIRTQ_DESC_F_WRITE, 0);
	vq_fake_add(&vf, 0);
	ck_assert_int_eq(virtq_pop(qa[0], iov, 2, &c), 1);
	virtq_push(qa[0], c.head, 1);
	ck_assert_int_eq(virtio_pci_save(ta, &st, state_add_node(&st, 0, "busy")), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err_msg(), "not yet published"));
	state_free(&st);
	ck_assert_int_eq(state_begin(&st), 0);
	virtq_flush(qa[0]);
	n = state_add_node(&st, 0, "t");
	ck_assert_int_eq(virtio_pci_save(ta, &st, n), 0);
	saved();

	fake_vm_reset();
	ck_assert_int_eq(virtio_pci_restore(tb, tree, state_node(tree, 0, "t")), 0);
	/* Level-triggered INTx: asserted again on the new VM's line (both
	 * transports sit in the same slot of their hosts). */
	ck_assert_int_eq(fake_vm_get().irq_level[pci_intx_gsi(B.d.slot, 0)], 1);
	ck_assert_uint_eq(vpd_read(&B.d, B.d.isr, 1), 1);
	ck_assert_int_eq(fake_vm_get().irq_level[pci_intx_gsi(B.d.slot, 0)], 0);
	/* Only into a fresh transport. */
	ck_assert_int_eq(virtio_pci_restore(tb, tree, state_node(tree, 0, "t")), -EBUSY);
	virtio_pci_destroy(ta);
	virtio_pci_destroy(tb);
}
END_TEST

START_TEST(transport_refuses_bad_trees)
{
	struct virtio_pci *ta = make_transport(&A), *tb;
	struct virtio_pci_opts o = {
		.name = "virtio-test", .device_id = 2, .class_code = 0x018000,
		.features = 1ULL << 3, .num_queues = NQ + 1, .queue_size = QMAX,
		.config = devcfg, .config_len = sizeof(devcfg), .ops = &fake_ops, .dev = &B,
	};
	int n, q;

	ck_assert_uint_eq(vpd_negotiate(&A.d, V1 | 1ULL << 3) & 8, 8);
	vpd_queue_setup(&A.d, 0, QMAX, VQF_DESC, VQF_AVAIL, VQF_USED);
	n = state_add_node(&st, 0, "t");
	ck_assert_int_eq(virtio_pci_save(ta, &st, n), 0);
	saved();
	/* A device with another queue count. */
	ck_assert_int_eq(virtio_pci_create(&tb, FAKE_VM, &B.host, &B.ir, &vf.mem, &o), 0);
	ck_assert_int_eq(virtio_pci_restore(tb, tree, state_node(tree, 0, "t")), -EINVAL);
	ck_assert_str_eq(err_msg(), "virtio-test: the stream has device type 2 with 3 queues of "
			 "16, this VM type 2 with 4 queues of 16");
	virtio_pci_destroy(tb);
	/* A new host for the next one: there is no pci_remove. */
	side_free(&B);
	side_init(&B);
	/* A ring outside RAM: refused by the same checks as a driver's
	 * enable, as an error rather than NEEDS_RESET. */
	q = state_node(tree, state_node(tree, 0, "t"), "queue@0");
	{
		fdt64_t bad = cpu_to_fdt64(0x7000000000ULL);

		ck_assert_int_eq(fdt_setprop_inplace(tree, q, "desc", &bad, 8), 0);
	}
	ck_assert_int_eq(virtio_pci_create(&tb, FAKE_VM, &B.host, &B.ir, &vf.mem,
					   &(struct virtio_pci_opts){
						   .name = "virtio-test", .device_id = 2,
						   .class_code = 0x018000, .features = 1ULL << 3,
						   .num_queues = NQ, .queue_size = QMAX,
						   .config = devcfg, .config_len = 8,
						   .ops = &fake_ops, .dev = &B }), 0);
	ck_assert_int_eq(virtio_pci_restore(tb, tree, state_node(tree, 0, "t")), -EFAULT);
	ck_assert_ptr_nonnull(strstr(err_msg(), "outside guest RAM"));
	virtio_pci_destroy(tb);
	virtio_pci_destroy(ta);
}
END_TEST

/* ---- virtio-blk, whole ---- */

#define DISK_SIZE	(256 * 1024)
#define HDR(i)		(0x30000ULL + (i) * 0x100)
#define STS(i)		(0x30080ULL + (i) * 0x100)

static struct virtio_blk *make_blk(struct side *s, struct disk *disk)
{
	struct virtio_blk_opts o = {
		.disk = disk, .threads = &sf_thread, .nthreads = 1, .num_queues = 1,
		.queue_size = QMAX, .io = &sf_io,
	};
	struct virtio_blk *b;

	sf_reset();
	ck_assert_int_eq(virtio_blk_create(&b, FAKE_VM, &s->host, &s->ir, &vf.mem, &o), 0);
	vpd_attach(&s->d, &s->host, &s->mmio, virtio_pci_func(virtio_blk_transport(b))->slot);
	return b;
}

/* Request i: header, data (512 bytes at VQF_DATA(i)), status; heads 3i..3i+2. */
static uint16_t blk_request(struct side *s, unsigned i, uint32_t type, uint64_t sector)
{
	uint8_t *h = vq_fake_host(&vf, HDR(i));
	uint16_t head = (3 * i) % QMAX;

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*(uint8_t *)vq_fake_host(&vf, STS(i)) = 0xff;
	vq_fake_desc(&vf, VQF_DESC, head, HDR(i), 16, VIRTQ_DESC_F_NEXT, (head + 1) % QMAX);
	vq_fake_desc(&vf, VQF_DESC, (head + 1) % QMAX, VQF_DATA(i), 512,
		     VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0),
		     (head + 2) % QMAX);
	vq_fake_desc(&vf, VQF_DESC, (head + 2) % QMAX, STS(i), 1, VIRTQ_DESC_F_WRITE, 0);
	vq_fake_add(&vf, head);
	vpd_notify(&s->d, 0);
	sf_run();
	return head;
}

static void blk_disk(struct disk *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = memfd_create("kite-test-blk-state", MFD_CLOEXEC);
	ck_assert_int_ge(d->fd, 0);
	ck_assert_int_eq(ftruncate(d->fd, DISK_SIZE), 0);
	d->size = DISK_SIZE;
	d->block_size = 512;
	d->buffered_fd = d->lock_fd = -1;
	d->path = "blk-state.img";
}

START_TEST(blk_keeps_working_after_restore)
{
	struct disk disk;
	struct virtio_blk *a, *b;
	uint32_t id, len;
	const struct device_ops *ops;
	int n;

	blk_disk(&disk);
	a = make_blk(&A, &disk);
	ck_assert_uint_eq(vpd_negotiate(&A.d, V1 | 1ULL << VIRTIO_BLK_F_FLUSH) & 8, 8);
	vpd_queue_setup(&A.d, 0, QMAX, VQF_DESC, VQF_AVAIL, VQF_USED);
	vpd_cc_write(&A.d, VPD_STATUS, 0xf, 1);
	memset(vq_fake_host(&vf, VQF_DATA(0)), 0x3c, 512);
	blk_request(&A, 0, VIRTIO_BLK_T_OUT, 8);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 1);
	/* A request still in flight: the device is not quiescent. */
	sf.hold = true;
	blk_request(&A, 1, VIRTIO_BLK_T_IN, 8);
	ops = virtio_blk_device(a)->ops;
	n = state_add_node(&st, 0, "virtio-blk@0");
	ck_assert_int_eq(ops->save(virtio_blk_device(a), &st, n), -EBUSY);
	ck_assert_str_eq(err_msg(), "virtio-blk blk-state.img: queue 0 has 1 requests in flight");
	sf.hold = false;
	sf_run();
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 2);
	state_free(&st);
	ck_assert_int_eq(state_begin(&st), 0);
	n = state_add_node(&st, 0, "virtio-blk@0");
	ck_assert_int_eq(ops->save(virtio_blk_device(a), &st, n), 0);
	saved();
	virtio_blk_destroy(a);

	/* A fresh device, as vm_create builds one; threads not started. */
	b = make_blk(&B, &disk);
	ck_assert_int_eq(ops->restore(virtio_blk_device(b), tree,
				      state_node(tree, 0, "virtio-blk@0")), 0);
	ck_assert_uint_eq(vpd_cc_read(&B.d, VPD_STATUS, 1), 0xf);
	sf_run();			/* the restore's kick: nothing new */
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 2);
	memset(vq_fake_host(&vf, VQF_DATA(2)), 0, 512);
	blk_request(&B, 2, VIRTIO_BLK_T_IN, 8);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 3);
	vq_fake_used_elem(&vf, 2, &id, &len);
	ck_assert_uint_eq(id, 6);
	ck_assert_uint_eq(len, 513);
	ck_assert_uint_eq(*(uint8_t *)vq_fake_host(&vf, STS(2)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(*(uint8_t *)vq_fake_host(&vf, VQF_DATA(2) + 100), 0x3c);
	virtio_blk_destroy(b);

	/* Another disk size is another device. */
	side_free(&B);
	side_init(&B);
	disk.size = DISK_SIZE / 2;
	b = make_blk(&B, &disk);
	ck_assert_int_eq(ops->restore(virtio_blk_device(b), tree,
				      state_node(tree, 0, "virtio-blk@0")), -EINVAL);
	ck_assert_str_eq(err_msg(), "virtio-blk blk-state.img: the stream's disk has 512 "
			 "sectors, this one 256");
	virtio_blk_destroy(b);
	close(disk.fd);
}
END_TEST

Suite *vpci_state_suite(void)
{
	Suite *s = suite_create("vpci_state");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, transport_round_trip);
	tcase_add_test(tc, transport_intx_and_refusals);
	tcase_add_test(tc, transport_refuses_bad_trees);
	tcase_add_test(tc, blk_keeps_working_after_restore);
	suite_add_tcase(s, tc);
	return s;
}
