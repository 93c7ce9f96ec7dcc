// SPDX-License-Identifier: Apache-2.0
/*
 * disk.h on virtio-blk (virtio_blk.h). Each request is one data buffer:
 * header, data and status in three descriptors (two with layout=merged)
 * when `depth` such chains fit in the ring, else one descriptor each
 * through an indirect table, as Linux's driver does for every request.
 */
#include "disk.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "virtio_blk.h"

static struct blk blk;
static bool indirect;		/* every request through an indirect table */

static bool req_init(struct disk *d, struct disk_req *r)
{
	struct blk_io *io = blk_io_alloc();

	(void)d;
	if (!io)
		return false;
	io->ctx = r;
	r->drv = io;
	return true;
}

static bool submit(struct disk *d, unsigned q, struct disk_req *r)
{
	static const u32 types[] = {
		[DISK_READ] = VIRTIO_BLK_T_IN, [DISK_WRITE] = VIRTIO_BLK_T_OUT,
		[DISK_FLUSH] = VIRTIO_BLK_T_FLUSH,
	};
	bool data = r->op != DISK_FLUSH;

	(void)d;
	return !blk_submit(&blk, q, r->drv, types[r->op], data ? r->offset / SECTOR_SIZE : 0,
			   data ? r->buf : NULL, data ? r->len : 0, data, indirect ? BLK_IO_INDIRECT : 0);
}

static void kick(struct disk *d, unsigned q)
{
	(void)d;
	vq_kick(&blk.v.vq[q]);
}

static struct disk_req *complete(struct disk *d, unsigned q)
{
	void *token;
	u32 len;
	u16 head;

	(void)d;
	while (vq_get_used(&blk.v.vq[q], &token, &len, &head)) {
		struct blk_io *io = token;
		struct disk_req *r;

		if (!io)
			continue;	/* names no request of ours: counted in bad_used */
		r = io->ctx;
		io->used_len = len;
		r->status = *(volatile u8 *)io->status_at;
		r->ok = r->status == VIRTIO_BLK_S_OK && len <= io->writable;
		return r;
	}
	return NULL;
}

static int wait(struct disk *d, unsigned q, u64 timeout_us)
{
	(void)d;
	return vq_wait(&blk.v.vq[q], timeout_us);
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
	printf("%s%s, requests %s, %s layout\n", prefix,
	       blk.o.irq ? "completions by MSI-X interrupt" : "completions polled",
	       indirect ? "through indirect tables" : "as direct descriptor chains",
	       blk.o.merged ? "merged" : "split");
}

static void counters(struct disk *d, unsigned q, u64 *kicks, u64 *skipped, u64 *irqs)
{
	struct virtq *vq = &blk.v.vq[q];

	(void)d;
	*kicks = vq->kicks;
	*skipped = vq->kicks_skipped;
	*irqs = vq_irqs(vq);
}

static const struct disk_ops blk_ops = {
	.iface = "blk",
	.req_init = req_init,
	.submit = submit,
	.kick = kick,
	.complete = complete,
	.wait = wait,
	.describe = describe,
	.counters = counters,
	.status_name = blk_status_name,
};

/* GET_ID, for describe(); "" when the device has no ID to give. */
static void read_serial(struct disk *d)
{
	struct disk_req r = { .op = DISK_READ };
	struct blk_io *io = blk_io_alloc();
	char *id = dma_alloc(VIRTIO_BLK_ID_BYTES + 1, 64);	/* +1: a merged status byte */

	if (!io || !id)
		return;
	io->ctx = &r;
	r.drv = io;
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

int disk_blk_open(struct disk *d, unsigned depth, char *why, size_t whylen)
{
	struct blk_opts o = {
		.irq = !cmdline_is("blk_wait", "poll"),
		.event_idx = cmdline_flag("event_idx", true),
		.indirect = cmdline_flag("indirect", true),
		.merged = cmdline_is("layout", "merged"),
	};
	unsigned per_req = o.merged ? 2 : 3, size = VIRTQ_MAX_SIZE;
	int r = blk_probe(&blk, why, whylen);

	if (r <= 0)
		return r;
	user_irqs(true);
	if (!blk_init(&blk, &o, why, whylen))
		return -1;
	for (unsigned i = 0; i < blk.nq; i++)
		size = MIN(size, blk.v.vq[i].size);
	indirect = depth * per_req > size;
	if (indirect && !blk.indirect) {
		snprintf(why, whylen, "%u requests of %u descriptors do not fit a queue of %u, "
			 "and INDIRECT_DESC is %s", depth, per_req, size,
			 o.indirect ? "not offered" : "off (indirect=0)");
		return -1;
	}
	if (indirect && depth > size) {
		snprintf(why, whylen, "%u requests in flight do not fit a queue of %u", depth, size);
		return -1;
	}
	d->ops = &blk_ops;
	d->size = blk.cfg.capacity * SECTOR_SIZE;
	d->nqueues = MIN(blk.nq, (unsigned)DISK_MAX_QUEUES);
	for (unsigned i = 0; i < d->nqueues; i++)
		d->cpu[i] = blk.v.vq[i].cpu;
	d->irq = o.irq;
	d->flush = blk.flush;
	d->ro = blk.ro;
	d->buf_guard = o.merged ? sizeof(struct blk_hdr) : 0;	/* header in front, status behind */
	d->priv = &blk;
	read_serial(d);
	return 1;
}
