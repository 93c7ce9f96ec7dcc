// SPDX-License-Identifier: Apache-2.0
/*
 * The disk part of mode=demo: what the first virtio-blk disk and the first
 * virtio-scsi disk look like, then on each a few 4 KiB blocks written
 * (first, a third and two thirds in, last), flushed, read back and
 * compared. The data is new on every run, so an old image cannot pass for
 * this one.
 */
#include "modes.h"
#include "console.h"
#include "disk.h"
#include "tests.h"
#include "virtio_pci.h"

#define BLOCK	4096
#define NBLOCKS	4

static u64 word(u64 seed, u64 offset, unsigned i)
{
	return disk_mix(seed ^ (offset + 8 * i));
}

/* Write, flush, read back and compare; false with why filled in. */
static bool write_read_verify(struct disk *d, u64 *where, char *why)
{
	struct disk_req r = { .len = BLOCK };
	u8 *wbuf = dma_alloc(BLOCK, PAGE_SIZE), *rbuf = dma_alloc(BLOCK, PAGE_SIZE);
	u64 seed = disk_mix(rdtsc());
	u64 nblocks = d->size / BLOCK;

	if (!wbuf || !rbuf || !d->ops->req_init(d, &r))
		fail("out of DMA memory");
	for (unsigned k = 0; k < NBLOCKS; k++)
		where[k] = nblocks * k / (NBLOCKS - 1) - (k == NBLOCKS - 1);
	for (unsigned k = 0; k < NBLOCKS; k++) {
		r.op = DISK_WRITE;
		r.offset = where[k] * BLOCK;
		r.buf = wbuf;
		for (unsigned i = 0; i < BLOCK / 8; i++)
			((u64 *)wbuf)[i] = word(seed, r.offset, i);
		if (disk_do(d, 0, &r) || !r.ok)
			fail("write of block %lu: %s", where[k], d->ops->status_name(r.status));
	}
	if (d->flush) {
		r.op = DISK_FLUSH;
		if (disk_do(d, 0, &r) || !r.ok)
			fail("flush: %s", d->ops->status_name(r.status));
	}
	for (unsigned k = 0; k < NBLOCKS; k++) {
		r.op = DISK_READ;
		r.offset = where[k] * BLOCK;
		r.buf = rbuf;
		memset(rbuf, 0xa5, BLOCK);
		if (disk_do(d, 0, &r) || !r.ok)
			fail("read of block %lu: %s", where[k], d->ops->status_name(r.status));
		for (unsigned i = 0; i < BLOCK / 8; i++)
			if (((u64 *)rbuf)[i] != word(seed, r.offset, i))
				fail("block %lu: byte %u reads back different", where[k], 8 * i);
	}
	return true;
}

/* One interface's first disk; prefix starts every line ("disk: "). */
static void demo_one(const char *iface, const char *prefix)
{
	static struct disk disks[2];
	struct disk *d = &disks[iface[0] == 's'];
	char why[WHY_LEN];
	u64 where[NBLOCKS];
	int r = disk_open(d, iface, 1, why, sizeof(why));

	if (r == 0) {
		printf("%snone (no virtio-%s device)\n", prefix, iface);
		return;
	}
	if (r < 0) {
		printf("%svirtio-%s device unusable: %s\n", prefix, iface, why);
		return;
	}
	d->ops->describe(d, prefix);
	if (d->ro) {
		printf("%sread-only: nothing written\n", prefix);
		return;
	}
	if (d->size < NBLOCKS * BLOCK) {
		printf("%ssmaller than %u blocks: nothing written\n", prefix, NBLOCKS);
		return;
	}
	if (!write_read_verify(d, where, why)) {
		printf("%swrite/read/verify FAILED: %s\n", prefix, why);
		return;
	}
	printf("%swrote%s and read back %u blocks of 4 KiB (numbers %lu, %lu, %lu, %lu): OK\n",
	       prefix, d->flush ? ", flushed" : "", NBLOCKS, where[0], where[1], where[2], where[3]);
}

void demo_disk(void)
{
	demo_one("blk", "disk: ");
	demo_one("scsi", "scsi: ");
}
