// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk driven through its PCI transport by a test driver, on fake
 * guest RAM (vq_fake), with the disk and I/O thread calls replaced by the
 * synchronous backend of state_fake.h (pread/pwrite on a memfd,
 * completions queued and run by sf_run(), like an I/O thread's batch).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/state_fake.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/blk.h"

#define DISK_SIZE	(1024 * 1024)
#define QSIZE		16
#define HDR_GPA(i)	(0x30000ULL + (i) * 0x100)	/* headers and statuses */
#define ST_GPA(i)	(0x30080ULL + (i) * 0x100)

/* ---- the test driver's rings ---- */

static struct side vm;		/* buses, PCI host, IRQ router, the driver */
static struct vq_fake vf;
static struct disk disk;
static struct virtio_blk *blk;
static struct dq q0, q1;
static uint64_t features;
static bool poll_mode;
static char thread_a, thread_b;

static void *host_ptr(uint64_t gpa)
{
	return vq_fake_host(&vf, gpa);
}

static uint16_t chain(struct dq *q, const struct seg *s, unsigned n)
{
	return vq_fake_dq_chain(&vf, q, s, n);
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *p = host_ptr(gpa);

	memcpy(p, &type, 4);
	memset(p + 4, 0, 4);
	memcpy(p + 8, &sector, 8);
}

/* Next used element; fails the test if there is none. */
static void used(struct dq *q, uint32_t *id, uint32_t *len)
{
	vq_fake_dq_used(&vf, q, id, len);
}

static uint8_t status(unsigned i)
{
	return *(uint8_t *)host_ptr(ST_GPA(i));
}

/* A request in the usual layout: header, data (if len), status. */
static uint16_t simple(struct dq *q, unsigned i, uint32_t type, uint64_t sector, uint64_t data,
		       uint32_t len, int data_w)
{
	struct seg s[3] = { { HDR_GPA(i), 16, 0 } };
	unsigned n = 1;

	put_hdr(HDR_GPA(i), type, sector);
	*(uint8_t *)host_ptr(ST_GPA(i)) = 0xee;
	if (len)
		s[n++] = (struct seg){ data, len, data_w };
	s[n++] = (struct seg){ ST_GPA(i), 1, 1 };
	return chain(q, s, n);
}

/* Take n used elements from q0, then check slots 0 to n - 1 ended with
 * the statuses given. */
static void expect_statuses(unsigned n, const uint8_t *want)
{
	uint32_t id, len;

	for (unsigned i = 0; i < n; i++)
		used(&q0, &id, &len);
	for (unsigned i = 0; i < n; i++)
		ck_assert_msg(status(i) == want[i], "slot %u: status %u, expected %u", i,
			      status(i), want[i]);
}

static void kick(struct dq *q)
{
	vpd_notify(&vm.d, q->idx);
	sf_run();
}

/* Kick q and take its one completion, which must be the chain at head:
 * the length the device wrote. */
static uint32_t kick_one(struct dq *q, uint16_t head)
{
	uint32_t id, len;

	kick(q);
	used(q, &id, &len);
	ck_assert_uint_eq(id, head);
	return len;
}

static void driver_up(void)
{
	ck_assert_uint_eq(vpd_negotiate(&vm.d, features) & 8, 8);
	vpd_queue_setup(&vm.d, 0, QSIZE, q0.desc, q0.avail, q0.used);
	vpd_queue_setup(&vm.d, 1, QSIZE, q1.desc, q1.avail, q1.used);
	vpd_cc_write(&vm.d, VPD_STATUS, 0xf, 1);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1), 0xf);
}

static void make_blk(bool readonly)
{
	struct iothread *threads[2] = { (struct iothread *)&thread_a,
					(struct iothread *)&thread_b };
	struct virtio_blk_opts o = {
		.disk = &disk, .threads = threads, .nthreads = 2, .num_queues = 2,
		.queue_size = QSIZE, .io = &sf_io, .poll = poll_mode,
	};

	disk.readonly = readonly;
	ck_assert_int_eq(virtio_blk_create(&blk, FAKE_VM, &vm.host, &vm.ir, &vf.mem, &o), 0);
	vpd_attach(&vm.d, &vm.host, &vm.mmio, virtio_pci_func(virtio_blk_transport(blk))->slot);
	features = vpd_device_features(&vm.d);
	driver_up();
}

static void setup_common(bool readonly)
{
	side_init(&vm);
	vq_fake_init(&vf, QSIZE);
	fake_vm_reset();
	sf_reset();
	memset(&disk, 0, sizeof(disk));
	disk.fd = memfd_create("kite-test-disk", MFD_CLOEXEC);
	ck_assert_int_ge(disk.fd, 0);
	ck_assert_int_eq(ftruncate(disk.fd, DISK_SIZE), 0);
	disk.size = DISK_SIZE;
	disk.block_size = 512;
	disk.phys_block_size = 4096;
	disk.can_discard = disk.can_zero = true;
	strcpy(disk.serial, "KITE-SERIAL-0001");
	disk.path = "test.img";
	q0 = (struct dq){ 0, VQF_DESC, VQF_AVAIL, VQF_USED, 0, 0, 0 };
	q1 = (struct dq){ 1, 0x8000, 0x9000, 0xa000, 0, 0, 0 };
	make_blk(readonly);
}

static void setup(void) { poll_mode = false; setup_common(false); }
static void setup_ro(void) { poll_mode = false; setup_common(true); }
static void setup_poll(void) { poll_mode = true; setup_common(false); }

static void teardown(void)
{
	virtio_blk_destroy(blk);
	close(disk.fd);
	vq_fake_free(&vf);
	side_free(&vm);
}

/* ---- tests ---- */

START_TEST(config_and_features)
{
	uint64_t want = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
			1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_TOPOLOGY |
			1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_MQ |
			1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES |
			1ULL << 28 | 1ULL << 29 | 1ULL << 32;

	ck_assert_uint_eq(features, want);
	ck_assert_uint_eq(vpd_cfg_read(&vm.d, PCI_DEVICE_ID, 2), 0x1042);
	ck_assert_uint_eq(vm.d.device_len, VIRTIO_BLK_CONFIG_LEN);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 0, 8), DISK_SIZE / 512);	/* capacity */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 8, 4), VIRTIO_BLK_SIZE_MAX);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 12, 4), QSIZE - 2);		/* seg_max */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 20, 4), 512);		/* blk_size */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 24, 1), 3);			/* 4096/512 */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 34, 2), 2);			/* num_queues */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 40, 4), VIRTIO_BLK_DWZ_SEG_MAX);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 44, 4), 8);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 52, 4), VIRTIO_BLK_DWZ_SEG_MAX);
	ck_assert_uint_eq(sf.nwatch, 2);
	ck_assert_uint_eq(sf.nhooks, 2);
}
END_TEST

START_TEST(write_then_read)
{
	uint8_t *w = host_ptr(VQF_DATA(0)), *r = host_ptr(VQF_DATA(2)), file[1024];
	uint16_t h;

	for (int i = 0; i < 1024; i++)
		w[i] = i * 7;
	h = simple(&q0, 0, VIRTIO_BLK_T_OUT, 3, VQF_DATA(0), 1024, 0);
	ck_assert_uint_eq(kick_one(&q0, h), 1);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(disk.fd, file, 1024, 3 * 512), 1024);
	ck_assert_mem_eq(file, w, 1024);
	ck_assert_int_eq(fake_vm_get().irq_edges[pci_intx_gsi(vm.d.slot, 0)], 1);

	h = simple(&q0, 1, VIRTIO_BLK_T_IN, 3, VQF_DATA(2), 1024, 1);
	ck_assert_uint_eq(kick_one(&q0, h), 1025);
	ck_assert_uint_eq(status(1), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(r, w, 1024);
}
END_TEST

START_TEST(any_layout)
{
	uint8_t *buf = host_ptr(VQF_DATA(0)), file[512];
	uint32_t id, len;
	struct seg s[4];

	/* OUT: header and data in one descriptor; status alone. */
	put_hdr(VQF_DATA(0), VIRTIO_BLK_T_OUT, 5);
	memset(buf + 16, 0x5a, 512);
	s[0] = (struct seg){ VQF_DATA(0), 16 + 512, 0 };
	s[1] = (struct seg){ ST_GPA(0), 1, 1 };
	chain(&q0, s, 2);
	/* IN: header split over two descriptors; data and status share one. */
	put_hdr(HDR_GPA(1), VIRTIO_BLK_T_IN, 5);
	s[0] = (struct seg){ HDR_GPA(1), 9, 0 };
	s[1] = (struct seg){ HDR_GPA(1) + 9, 7, 0 };
	s[2] = (struct seg){ VQF_DATA(4), 512 + 1, 1 };
	chain(&q0, s, 3);
	kick(&q0);
	used(&q0, &id, &len);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(disk.fd, file, 512, 5 * 512), 512);
	ck_assert_mem_eq(file, buf + 16, 512);
	used(&q0, &id, &len);
	ck_assert_uint_eq(len, 513);
	ck_assert_mem_eq(host_ptr(VQF_DATA(4)), buf + 16, 512);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(4) + 512), VIRTIO_BLK_S_OK);
	/* Both completions came in one batch: one interrupt. */
	ck_assert_int_eq(fake_vm_get().irq_edges[pci_intx_gsi(vm.d.slot, 0)], 1);
}
END_TEST

START_TEST(flush_and_get_id)
{
	uint32_t id, len;

	uint16_t h;

	simple(&q0, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	h = simple(&q0, 1, VIRTIO_BLK_T_GET_ID, 0, VQF_DATA(0), 20, 1);
	kick(&q0);
	/* GET_ID completes at once, before the flush's CQE. */
	used(&q0, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(len, 21);
	ck_assert_uint_eq(status(1), VIRTIO_BLK_S_OK);
	used(&q0, &id, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(host_ptr(VQF_DATA(0)), "KITE-SERIAL-0001\0\0\0\0", 20);
}
END_TEST

START_TEST(request_errors)
{
	struct seg s[2];

	simple(&q0, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, VQF_DATA(0), 1024, 1);
	simple(&q0, 1, VIRTIO_BLK_T_OUT, ~0ULL / 256, VQF_DATA(0), 512, 0);
	simple(&q0, 2, VIRTIO_BLK_T_IN, 0, VQF_DATA(0), 100, 1);
	kick(&q0);	/* 16 descriptors: let the ring drain */
	simple(&q0, 3, 99, 0, VQF_DATA(0), 512, 1);
	simple(&q0, 4, 0x100, 0, VQF_DATA(0), 512, 1);	/* not IN: all 32 bits count */
	/* A header shorter than 16 bytes. */
	put_hdr(HDR_GPA(5), VIRTIO_BLK_T_FLUSH, 0);
	s[0] = (struct seg){ HDR_GPA(5), 8, 0 };
	s[1] = (struct seg){ ST_GPA(5), 1, 1 };
	chain(&q0, s, 2);
	kick(&q0);
	expect_statuses(6, (const uint8_t[]){ VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR,
					      VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP,
					      VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR });
}
END_TEST

static void put_seg(uint64_t gpa, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint8_t *p = host_ptr(gpa);

	memcpy(p, &sector, 8);
	memcpy(p + 8, &n, 4);
	memcpy(p + 12, &flags, 4);
}

static uint16_t dwz(unsigned i, uint32_t type, unsigned nseg, uint32_t payload)
{
	struct seg s[3] = {
		{ HDR_GPA(i), 16, 0 }, { VQF_DATA(8 + i), payload, 0 }, { ST_GPA(i), 1, 1 },
	};

	(void)nseg;
	put_hdr(HDR_GPA(i), type, 0);
	return chain(&q0, s, 3);
}

START_TEST(discard_and_write_zeroes)
{
	uint8_t ones[4096], file[4096];
	uint32_t id, len;

	memset(ones, 0xff, sizeof(ones));
	ck_assert_int_eq(pwrite(disk.fd, ones, 4096, 0), 4096);
	/* Two write-zeroes segments (unmap allowed), then checks. */
	put_seg(VQF_DATA(8), 2, 2, VIRTIO_BLK_DWZ_F_UNMAP);
	put_seg(VQF_DATA(8) + 16, 6, 1, 0);
	dwz(0, VIRTIO_BLK_T_WRITE_ZEROES, 2, 32);
	put_seg(VQF_DATA(9), 0, 1, VIRTIO_BLK_DWZ_F_UNMAP);	/* unmap on discard */
	dwz(1, VIRTIO_BLK_T_DISCARD, 1, 16);
	kick(&q0);	/* 16 descriptors: let the ring drain */
	put_seg(VQF_DATA(10), 0, 1, 2);				/* reserved flag */
	dwz(2, VIRTIO_BLK_T_WRITE_ZEROES, 1, 16);
	put_seg(VQF_DATA(11), DISK_SIZE / 512 - 1, 2, 0);	/* past the end */
	dwz(3, VIRTIO_BLK_T_DISCARD, 1, 16);
	dwz(4, VIRTIO_BLK_T_DISCARD, 17, 17 * 16);		/* too many segments */
	kick(&q0);
	dwz(5, VIRTIO_BLK_T_DISCARD, 1, 15);			/* not whole segments */
	put_seg(VQF_DATA(14), 8, 0x4000000, 0);			/* above max sectors */
	dwz(6, VIRTIO_BLK_T_DISCARD, 1, 16);
	kick(&q0);
	expect_statuses(7, (const uint8_t[]){ VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
					      VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR,
					      VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR,
					      VIRTIO_BLK_S_IOERR });
	ck_assert_int_eq(pread(disk.fd, file, 4096, 0), 4096);
	for (int s = 0; s < 8; s++)
		ck_assert_uint_eq(file[s * 512], (s == 2 || s == 3 || s == 6) ? 0 : 0xff);
	/* A valid discard. */
	put_seg(VQF_DATA(8), 0, 1, 0);
	dwz(0, VIRTIO_BLK_T_DISCARD, 1, 16);
	kick(&q0);
	used(&q0, &id, &len);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(malformed_chains)
{
	uint32_t id, len;
	struct seg s[2];
	uint16_t h;

	/* A buffer outside RAM: given back with length 0. */
	put_hdr(HDR_GPA(0), VIRTIO_BLK_T_IN, 0);
	s[0] = (struct seg){ HDR_GPA(0), 16, 0 };
	s[1] = (struct seg){ 0x80000000ULL, 512, 1 };
	h = chain(&q0, s, 2);
	ck_assert_uint_eq(kick_one(&q0, h), 0);
	/* No writable byte for the status. */
	put_hdr(HDR_GPA(1), VIRTIO_BLK_T_FLUSH, 0);
	s[0] = (struct seg){ HDR_GPA(1), 16, 0 };
	h = chain(&q0, s, 1);
	ck_assert_uint_eq(kick_one(&q0, h), 0);
	/* The queue still works. */
	simple(&q0, 2, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	kick(&q0);
	used(&q0, &id, &len);
	ck_assert_uint_eq(status(2), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
}
END_TEST

START_TEST(corrupt_ring_needs_reset)
{
	/* avail->idx jumps by more than the queue size. */
	__atomic_store_n((uint16_t *)host_ptr(q0.avail + 2), QSIZE + 5, __ATOMIC_RELEASE);
	kick(&q0);
	ck_assert(vpd_cc_read(&vm.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

START_TEST(multiqueue)
{
	uint16_t h;

	ck_assert(sf.hook_thread[0] != sf.hook_thread[1]);
	h = simple(&q1, 0, VIRTIO_BLK_T_GET_ID, 0, VQF_DATA(0), 20, 1);
	kick_one(&q1, h);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
	/* Nothing on queue 0. */
	ck_assert_uint_eq(*(uint16_t *)host_ptr(q0.used + 2), 0);
}
END_TEST

START_TEST(msix_per_queue)
{
	uint64_t v;

	vpd_cc_write(&vm.d, VPD_STATUS, 0, 1);
	vpd_msix_control(&vm.d, 0x8000);
	vpd_msix_entry(&vm.d, 0, 0xfee00000, 0x40, 0);
	vpd_msix_entry(&vm.d, 1, 0xfee00000, 0x41, 0);
	ck_assert_uint_eq(vpd_negotiate(&vm.d, features) & 8, 8);
	vpd_cc_write(&vm.d, VPD_QSEL, 0, 2);
	vpd_cc_write(&vm.d, VPD_QMSIX, 0, 2);
	vpd_cc_write(&vm.d, VPD_QSEL, 1, 2);
	vpd_cc_write(&vm.d, VPD_QMSIX, 1, 2);
	q0.aidx = q0.next = q0.last_used = 0;
	q1.aidx = q1.next = q1.last_used = 0;
	memset(host_ptr(q0.avail), 0, 4);
	memset(host_ptr(q1.avail), 0, 4);
	vpd_queue_setup(&vm.d, 0, QSIZE, q0.desc, q0.avail, q0.used);
	vpd_queue_setup(&vm.d, 1, QSIZE, q1.desc, q1.avail, q1.used);
	vpd_cc_write(&vm.d, VPD_STATUS, 0xf, 1);
	simple(&q1, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	kick(&q1);
	/* Vector 1's irqfd fired; vector 0's did not. */
	ck_assert_uint_eq(vm.k->nirqfd, 2);
	for (unsigned i = 0; i < 2; i++) {
		int fd = vm.k->irqfd[i].fd;
		uint32_t data = fake_kvm_route(vm.k, vm.k->irqfd[i].gsi, 0)->msi.data;
		ssize_t n = read(fd, &v, 8);

		ck_assert_int_eq(n == 8, data == 0x41);
	}
}
END_TEST

START_TEST(reset_and_reuse)
{
	uint32_t id, len;

	simple(&q0, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	kick(&q0);
	vpd_cc_write(&vm.d, VPD_STATUS, 0, 1);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1), 0);
	/* A kick while reset does nothing. */
	kick(&q0);
	memset(host_ptr(q0.avail), 0, 4);
	memset(host_ptr(q0.used), 0, 4);
	memset(host_ptr(q1.avail), 0, 4);
	q0.aidx = q0.next = q0.last_used = 0;
	driver_up();
	simple(&q0, 1, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	kick(&q0);
	used(&q0, &id, &len);
	ck_assert_uint_eq(status(1), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(readonly_disk)
{
	ck_assert(features & 1ULL << VIRTIO_BLK_F_RO);
	ck_assert(!(features & 1ULL << VIRTIO_BLK_F_DISCARD));
	ck_assert(!(features & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	simple(&q0, 0, VIRTIO_BLK_T_OUT, 0, VQF_DATA(0), 512, 0);
	simple(&q0, 1, VIRTIO_BLK_T_IN, 0, VQF_DATA(0), 512, 1);
	put_seg(VQF_DATA(9), 0, 1, 0);
	dwz(2, VIRTIO_BLK_T_DISCARD, 1, 16);
	kick(&q0);
	/* Discard: not negotiated. */
	expect_statuses(3, (const uint8_t[]){ VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
					      VIRTIO_BLK_S_UNSUPP });
}
END_TEST

static uint16_t avail_event(const struct dq *q)
{
	return *(uint16_t *)host_ptr(q->used + 4 + 8 * QSIZE);
}

/* poll_us: while the thread polls, requests are found without a kick and
 * kicks stay off; the idle hook turns them back on and picks up what
 * arrived in between. */
START_TEST(polling_serves_without_kicks)
{
	uint32_t id, len;
	uint16_t h;

	ck_assert_uint_eq(sf.nidle, 2);		/* one per thread */
	ck_assert(features & (1ULL << 29));	/* EVENT_IDX: kicks via avail_event */
	sf.polling = true;
	h = simple(&q0, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	sf_run();				/* a poll round, no kick */
	used(&q0, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_OK);
	ck_assert_uint_ne(avail_event(&q0), q0.aidx);	/* kicks still off */

	sf.polling = false;
	ck_assert(!sf_run_idle());			/* nothing new: the thread may sleep */
	ck_assert_uint_eq(avail_event(&q0), q0.aidx);	/* kicks back on */

	/* A request that lands after the last poll round, before the idle
	 * hook: the idle hook starts it and says so. */
	sf.polling = true;
	h = simple(&q0, 1, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
	sf.polling = false;
	ck_assert(sf_run_idle());
	sf_run();
	used(&q0, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(status(1), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(avail_event(&q0), q0.aidx);
}
END_TEST

/* A read whose data sits in device-readable buffers, or a write whose data
 * sits in device-writable ones, is refused and nothing reaches the disk. */
START_TEST(data_on_the_wrong_side)
{
	uint8_t *buf = host_ptr(VQF_DATA(0)), file[512];
	uint16_t h;

	memset(buf, 0x5a, 512);
	h = simple(&q0, 0, VIRTIO_BLK_T_IN, 0, VQF_DATA(0), 512, 0);
	kick_one(&q0, h);
	ck_assert_uint_eq(status(0), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(buf[0], 0x5a);

	h = simple(&q0, 1, VIRTIO_BLK_T_OUT, 0, VQF_DATA(0), 512, 1);
	kick_one(&q0, h);
	ck_assert_uint_eq(status(1), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(pread(disk.fd, file, 512, 0), 512);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(file[i], 0);
}
END_TEST

START_TEST(no_idle_hooks_without_poll)
{
	ck_assert_uint_eq(sf.nidle, 0);
}
END_TEST

Suite *blk_suite(void)
{
	Suite *s = suite_create("blk");
	TCase *tc = tcase_create("requests");
	TCase *ro = tcase_create("readonly");
	TCase *poll = tcase_create("polling");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_and_features);
	tcase_add_test(tc, write_then_read);
	tcase_add_test(tc, any_layout);
	tcase_add_test(tc, flush_and_get_id);
	tcase_add_test(tc, request_errors);
	tcase_add_test(tc, discard_and_write_zeroes);
	tcase_add_test(tc, malformed_chains);
	tcase_add_test(tc, corrupt_ring_needs_reset);
	tcase_add_test(tc, multiqueue);
	tcase_add_test(tc, msix_per_queue);
	tcase_add_test(tc, reset_and_reuse);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, no_idle_hooks_without_poll);
	tcase_add_test(tc, data_on_the_wrong_side);
	tcase_add_checked_fixture(ro, setup_ro, teardown);
	tcase_add_test(ro, readonly_disk);
	suite_add_tcase(s, ro);
	tcase_add_checked_fixture(poll, setup_poll, teardown);
	tcase_add_test(poll, polling_serves_without_kicks);
	suite_add_tcase(s, poll);
	return s;
}
