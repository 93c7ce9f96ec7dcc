// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk request handling against a hostile driver. The input is a ring
 * input (fuzz.h) for queue 0, of at most 32 entries. Each run builds the
 * device on a fresh PCI host, negotiates and enables the queue through the
 * transport (as tests/test_blk.c does), kicks once, runs the fake I/O
 * thread (fuzz.h) until quiet, then resets the device and frees everything.
 *
 * The backend is fake and synchronous: a 128 KiB disk in memory. It checks
 * what disk.h leaves to the device: every buffer lies in guest RAM, every
 * range lies inside the disk, no more than DISK_MAX_IOV iovecs. A request
 * that never completes makes the reset at the end hang: a libFuzzer timeout.
 *
 * Header use: `flags` picks the disk and backend (BLK_* below); `extra`
 * lists features the driver refuses (bit 0 FLUSH, 1 DISCARD, 2 WRITE_ZEROES).
 */
#include <errno.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "tests/fake_vm.h"
#include "virtio/blk.h"
#include "vmm/err.h"

#define BLK_RO		0x01	/* read-only disk */
#define BLK_NULL	0x02	/* null backend: done at once, reads are zeros */
#define BLK_FAIL	0x04	/* every request fails with -EIO */
#define BLK_SHORT	0x08	/* reads and writes move a byte less than asked */
#define BLK_POLL	0x10	/* the I/O thread polls (poll_us) */
#define BLK_NO_DZ	0x20	/* the image cannot discard or write zeroes */

#define DISK_BYTES	(128 * 1024)

static uint8_t disk_data[DISK_BYTES];
static struct disk disk;
static uint8_t flags;

/* ---- the fake backend ---- */

static int later(struct io_op *op, int res)
{
	return fio_later(op, flags & BLK_FAIL ? -EIO : res);
}

static void check_range(uint64_t off, uint64_t len)
{
	FUZZ_CHECK(off <= disk.size && len <= disk.size - off,
		   "disk range 0x%llx + 0x%llx, disk 0x%llx", (unsigned long long)off,
		   (unsigned long long)len, (unsigned long long)disk.size);
}

/* Check a data request; its byte count. */
static size_t check_rw(const struct iovec *iov, unsigned n, uint64_t off)
{
	size_t total = 0;

	FUZZ_CHECK(n >= 1 && n <= DISK_MAX_IOV, "%u iovecs", n);
	ram_check_iov(iov, n);
	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	check_range(off, total);
	return total;
}

static int moved(size_t total)
{
	return flags & BLK_SHORT ? (int)total - 1 : (int)total;
}

static int f_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		   uint64_t off, struct io_op *op)
{
	size_t total = check_rw(iov, n, off);

	(void)t;
	if (d->null)
		return 1;
	for (unsigned i = 0; i < n; off += iov[i].iov_len, i++)
		memcpy(iov[i].iov_base, disk_data + off, iov[i].iov_len);
	return later(op, moved(total));
}

static int f_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t off, struct io_op *op)
{
	size_t total = check_rw(iov, n, off);

	(void)t;
	if (d->readonly)
		return -EROFS;
	if (d->null)
		return 1;
	for (unsigned i = 0; i < n; off += iov[i].iov_len, i++)
		memcpy(disk_data + off, iov[i].iov_base, iov[i].iov_len);
	return later(op, moved(total));
}

static int f_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	(void)t;
	if (d->null || d->readonly)
		return 1;
	return later(op, 0);
}

static int f_zero(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
		  struct io_op *op)
{
	(void)t;
	check_range(off, len);
	if (!d->can_discard)	/* and !can_zero: BLK_NO_DZ sets both */
		return -EOPNOTSUPP;
	if (d->readonly)
		return -EROFS;
	if (d->null)
		return 1;
	memset(disk_data + off, 0, len);
	return later(op, 0);
}

static bool f_polling(void)
{
	return flags & BLK_POLL;
}

static const struct blk_io_ops fuzz_io = {
	.readv = f_readv, .writev = f_writev, .flush = f_flush, .discard = f_zero,
	.write_zeroes = f_zero, .null_fill = disk_null_fill, .watch_eventfd = fio_watch,
	.add_batch_hook = fio_batch_hook, .add_idle_hook = fio_idle_hook, .polling = f_polling,
};

/* ---- one run ---- */

static struct fuzz_host h;
static struct vdrv drv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char thread;
	struct iothread *threads[1] = { (struct iothread *)&thread };
	struct ring_input in;
	struct virtio_blk *blk;
	struct virtio_blk_opts o;
	uint64_t features;

	if (!ring_input_load(data, size, 5, &in))
		return 0;
	flags = in.flags;
	memset(disk_data, 0, sizeof(disk_data));
	disk = (struct disk){
		.fd = -1, .buffered_fd = -1, .null = flags & BLK_NULL, .readonly = flags & BLK_RO,
		.size = DISK_BYTES, .block_size = 512, .phys_block_size = 4096, .mem_align = 1,
		.can_discard = !(flags & BLK_NO_DZ), .can_zero = !(flags & BLK_NO_DZ),
		.serial = "KITE-FUZZ-0001", .path = "fuzz.img",
	};
	fuzz_host_init(&h);
	o = (struct virtio_blk_opts){
		.disk = &disk, .threads = threads, .nthreads = 1, .num_queues = 1,
		.queue_size = 128, .poll = flags & BLK_POLL, .io = &fuzz_io,
	};
	FUZZ_CHECK(virtio_blk_create(&blk, FAKE_VM, &h.host, &h.irq, &fuzz_ram, &o) == 0, "%s",
		   err_msg());
	vdrv_attach(&drv, &h.host, &h.mmio, virtio_pci_func(virtio_blk_transport(blk))->slot);

	features = ring_input_features(&in, vdrv_device_features(&drv));
	if (in.extra & 1)
		features &= ~(1ULL << VIRTIO_BLK_F_FLUSH);
	if (in.extra & 2)
		features &= ~(1ULL << VIRTIO_BLK_F_DISCARD);
	if (in.extra & 4)
		features &= ~(1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	vdrv_start(&drv, features, 0, &in);
	vdrv_kick(&drv, 0);
	fio_run();
	ring_check_used(&in);

	/* Reset waits until no request is in flight. */
	vdrv_reset(&drv);
	virtio_blk_destroy(blk);
	fuzz_host_destroy(&h);
	return 0;
}
