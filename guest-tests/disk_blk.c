// SPDX-License-Identifier: Apache-2.0
/*
 * disk.h on virtio-blk (virtio_blk.h). Each request is one data buffer:
 * header, data and status in three descriptors (two with layout=merged)
 * when `depth` such chains fit in the ring, else one descriptor each
 * through an indirect table, as Linux's driver does for every request.
 */
#include "disk_virtio.h"
#include "console.h"
#include "virtio_blk.h"

static struct blk blk;
static struct disk_virtio dv;

static bool submit(struct disk *d, unsigned q, struct disk_req *r)
{
	static const u32 types[] = {
		[DISK_READ] = VIRTIO_BLK_T_IN, [DISK_WRITE] = VIRTIO_BLK_T_OUT,
		[DISK_FLUSH] = VIRTIO_BLK_T_FLUSH,
	};
	bool data = r->op != DISK_FLUSH;

	(void)d;
	return !blk_submit(&blk, q, r->drv, types[r->op], data ? r->offset / SECTOR_SIZE : 0,
			   data ? r->buf : NULL, data ? r->len : 0, data,
			   dv.indirect ? BLK_IO_INDIRECT : 0);
}

static struct disk_req *complete(struct disk *d, unsigned q)
{
	struct disk_req *r = disk_virtio_used(d, q);
	struct blk_io *io;

	if (!r)
		return NULL;
	io = r->drv;
	r->status = *(volatile u8 *)io->status_at;
	r->ok = r->status == VIRTIO_BLK_S_OK && io->vq.used_len <= io->writable;
	return r;
}

static void describe(struct disk *d, const char *prefix)
{
	struct virtq *q = &blk.v.vq[0];

	printf("%svirtio-blk at %02x:%02x.%x: %lu MiB (%lu sectors), serial '%s', %s\n", prefix,
	       blk.v.bus, blk.v.dev, blk.v.fn, d->size >> 20, blk.cfg.capacity, d->serial,
	       d->ro ? "read-only" : "read-write");
	printf("%s%u queue%s of %u (device has %u), features 0x%lx: EVENT_IDX %s, "
	       "INDIRECT_DESC %s%s%s%s\n", prefix, blk.nq, blk.nq == 1 ? "" : "s", q->size, blk.cfg.num_queues, blk.v.features,
	       blk.event_idx ? "on" : "off", blk.indirect ? "on" : "off", blk.flush ? ", FLUSH" : "",
	       blk.discard ? ", DISCARD" : "", blk.write_zeroes ? ", WRITE_ZEROES" : "");
	disk_virtio_describe(d, prefix);
}

/* GET_ID, for describe(); "" when the device has no ID to give. */
static void read_serial(struct disk *d)
{
	struct disk_req r = { .op = DISK_READ };
	struct blk_io *io = blk_io_alloc();
	char *id = dma_alloc(VIRTIO_BLK_ID_BYTES + 1, 64);	/* +1: a merged status byte */

	if (!io || !id)
		return;
	disk_virtio_req(&r, &io->vq);
	if (blk_submit(&blk, 0, io, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, 1, 0))
		return;
	vq_kick(&blk.v.vq[0]);
	while (!d->ops->wait(d, 0, DISK_TIMEOUT_US))
		if (complete(d, 0) == &r)
			break;
	/* NUL-padded, or all 20 bytes used. */
	if (r.ok)
		memcpy(d->serial, id, strnlen(id, VIRTIO_BLK_ID_BYTES));
}

static int probe(char *why, size_t whylen)
{
	return blk_probe(&blk, why, whylen);
}

static bool start(const struct virtio_opts *o, char *why, size_t whylen)
{
	return blk_init(&blk, o, why, whylen);
}

static bool learn(struct disk *d, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	d->size = blk.cfg.capacity * SECTOR_SIZE;
	d->flush = blk.flush;
	d->ro = blk.ro;
	/* merged: the header in front of the data, the status byte behind */
	d->buf_guard = dv.o.merged ? sizeof(struct blk_hdr) : 0;
	read_serial(d);
	return true;
}

static const struct disk_virtio_drv blk_drv = {
	.ops = { .iface = "blk", .submit = submit, .complete = complete, .describe = describe,
		 .status_name = blk_status_name },
	.wait_key = "blk_wait",
	.dev = &blk.v,
	.q0 = 0,
	.nq = &blk.nq,
	.probe = probe,
	.start = start,
	.req_size = sizeof(struct blk_io),
	.learn = learn,
};

int disk_blk_open(struct disk *d, unsigned depth, char *why, size_t whylen)
{
	return disk_virtio_open(d, &dv, &blk_drv, depth, why, whylen);
}
