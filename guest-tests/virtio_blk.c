// SPDX-License-Identifier: Apache-2.0
/* virtio-blk driver: see virtio_blk.h. */
#include "virtio_blk.h"
#include "console.h"
#include "smp.h"

/* Device config layout (5.2.4), byte offsets. */
#define CFG_CAPACITY		0
#define CFG_SIZE_MAX		8
#define CFG_SEG_MAX		12
#define CFG_BLK_SIZE		20
#define CFG_PHYS_EXP		24
#define CFG_MIN_IO		26
#define CFG_OPT_IO		28
#define CFG_NUM_QUEUES		34
#define CFG_MAX_DISCARD		36
#define CFG_MAX_DISCARD_SEG	40
#define CFG_DISCARD_ALIGN	44
#define CFG_MAX_WZ		48
#define CFG_MAX_WZ_SEG		52
#define CFG_WZ_UNMAP		56

_Static_assert(sizeof(struct blk_hdr) == 16, "virtio_blk_req header");
_Static_assert(sizeof(struct blk_seg) == 16, "discard/write-zeroes segment");
_Static_assert(offsetof(struct blk_io, seg) == offsetof(struct blk_io, hdr) + sizeof(struct blk_hdr),
	       "merged layout sends header and segment as one buffer");
_Static_assert(offsetof(struct blk_io, vq) == 0, "the token of a chain is its struct vq_req");

int blk_probe(struct blk *b, char *why, size_t whylen)
{
	memset(b, 0, sizeof(*b));
	return virtio_find(&b->v, VIRTIO_ID_BLOCK, 0, why, whylen);
}

static void read_config(struct blk *b)
{
	struct virtio_dev *v = &b->v;
	struct blk_config *c = &b->cfg;
	u64 f = v->features;

	memset(c, 0, sizeof(*c));
	c->capacity = virtio_cfg64(v, CFG_CAPACITY);
	if (f & BIT(VIRTIO_BLK_F_SIZE_MAX))
		c->size_max = virtio_cfg32(v, CFG_SIZE_MAX);
	if (f & BIT(VIRTIO_BLK_F_SEG_MAX))
		c->seg_max = virtio_cfg32(v, CFG_SEG_MAX);
	c->blk_size = f & BIT(VIRTIO_BLK_F_BLK_SIZE) ? virtio_cfg32(v, CFG_BLK_SIZE) : 0;
	if (!c->blk_size)
		c->blk_size = SECTOR_SIZE;
	if (f & BIT(VIRTIO_BLK_F_TOPOLOGY)) {
		c->phys_block_exp = virtio_cfg8(v, CFG_PHYS_EXP);
		c->min_io_size = virtio_cfg16(v, CFG_MIN_IO);
		c->opt_io_size = virtio_cfg32(v, CFG_OPT_IO);
	}
	c->num_queues = f & BIT(VIRTIO_BLK_F_MQ) ? virtio_cfg16(v, CFG_NUM_QUEUES) : 1;
	if (f & BIT(VIRTIO_BLK_F_DISCARD)) {
		c->max_discard_sectors = virtio_cfg32(v, CFG_MAX_DISCARD);
		c->max_discard_seg = virtio_cfg32(v, CFG_MAX_DISCARD_SEG);
		c->discard_sector_alignment = virtio_cfg32(v, CFG_DISCARD_ALIGN);
	}
	if (f & BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		c->max_write_zeroes_sectors = virtio_cfg32(v, CFG_MAX_WZ);
		c->max_write_zeroes_seg = virtio_cfg32(v, CFG_MAX_WZ_SEG);
		c->write_zeroes_may_unmap = virtio_cfg8(v, CFG_WZ_UNMAP);
	}
}

bool blk_init(struct blk *b, const struct virtio_opts *o, char *why, size_t whylen)
{
	u64 want = BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_RO) |
		   BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_TOPOLOGY) |
		   BIT(VIRTIO_BLK_F_MQ) | BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);

	b->o = *o;
	if (!virtio_start_opts(&b->v, o, want, why, whylen))
		return false;
	b->ro = virtio_has(&b->v, VIRTIO_BLK_F_RO);
	b->flush = virtio_has(&b->v, VIRTIO_BLK_F_FLUSH);
	b->discard = virtio_has(&b->v, VIRTIO_BLK_F_DISCARD);
	b->write_zeroes = virtio_has(&b->v, VIRTIO_BLK_F_WRITE_ZEROES);
	b->indirect = virtio_has(&b->v, VIRTIO_F_INDIRECT_DESC);
	b->event_idx = virtio_has(&b->v, VIRTIO_F_EVENT_IDX);
	read_config(b);
	b->nq = MIN(MIN((unsigned)MAX(b->cfg.num_queues, 1), VIRTIO_MAX_QUEUES),
		    (unsigned)b->v.max_queues);
	if (!b->nq) {
		snprintf(why, whylen, "the device has no queues");
		return false;
	}
	for (unsigned i = 0; i < b->nq; i++)
		if (!virtq_setup(&b->v, i, o->irq, smp_online_cpu(i), why, whylen))
			return false;
	virtio_driver_ok(&b->v);
	return true;
}

struct blk_io *blk_io_alloc(void)
{
	return (struct blk_io *)vq_req_alloc(sizeof(struct blk_io));
}

int blk_submit(struct blk *b, unsigned qi, struct blk_io *io, u32 type, u64 sector,
	       void *buf, u32 len, unsigned nseg, unsigned flags)
{
	struct virtq *q = &b->v.vq[qi];
	struct vq_buf v[BLK_IO_MAX_SEGS + 2];
	bool dwz = type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES;
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	u8 *data = buf;
	unsigned n = 0, first = 0;
	u32 seglen;

	if (qi >= b->nq)
		return -1;
	io->hdr = (struct blk_hdr){ .type = type, .sector = dwz ? 0 : sector };
	io->status = 0xff;
	io->status_at = &io->status;
	io->vq.done = false;
	io->vq.used_len = 0;
	if (dwz) {
		io->seg = (struct blk_seg){ .sector = sector, .num_sectors = len / SECTOR_SIZE };
		data = (u8 *)&io->seg;
		len = sizeof(io->seg);
		nseg = 1;
	} else if (type == VIRTIO_BLK_T_FLUSH) {
		nseg = 0;
	} else if (type == VIRTIO_BLK_T_GET_ID) {
		len = VIRTIO_BLK_ID_BYTES;
		nseg = 1;
	}
	if (nseg > BLK_IO_MAX_SEGS || (nseg && (len % nseg || !len)))
		return -1;
	seglen = nseg ? len / nseg : 0;

	if (b->o.merged && nseg && !dev_writes) {
		/* The header in front of the first data segment: the segment
		 * of a discard follows hdr in blk_io, data buffers have room. */
		if (!dwz)
			memcpy(data - sizeof(io->hdr), &io->hdr, sizeof(io->hdr));
		v[n++] = (struct vq_buf){ data - sizeof(io->hdr), sizeof(io->hdr) + seglen, false };
		first = 1;
	} else {
		v[n++] = (struct vq_buf){ &io->hdr, sizeof(io->hdr), false };
	}
	for (unsigned k = first; k < nseg; k++)
		v[n++] = (struct vq_buf){ data + k * seglen, seglen, dev_writes };
	if (b->o.merged && nseg && dev_writes) {
		/* The status byte right behind the last data segment. */
		io->status_at = data + len;
		*io->status_at = 0xff;
		v[n - 1].len++;
	} else {
		v[n++] = (struct vq_buf){ &io->status, 1, true };
	}
	io->writable = vq_writable(v, n);
	return vq_add_req(q, io->table, flags & BLK_IO_INDIRECT, v, n, io);
}

unsigned blk_reap(struct blk *b, unsigned qi)
{
	return vq_reap(&b->v.vq[qi]);
}

int blk_do(struct blk *b, unsigned qi, struct blk_io *io, u32 type, u64 sector, void *buf,
	   u32 len, unsigned nseg, unsigned flags)
{
	int r;

	if (blk_submit(b, qi, io, type, sector, buf, len, nseg, flags) < 0)
		return -3;
	r = vq_kick_wait(&b->v.vq[qi], &io->vq, BLK_TIMEOUT_US);
	return r < 0 ? r : *(volatile u8 *)io->status_at;
}

const char *blk_status_name(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: return "OK";
	case VIRTIO_BLK_S_IOERR: return "IOERR";
	case VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
	case 0xff: return "status byte untouched";
	}
	return vq_error_name(st) ? vq_error_name(st) : "unknown status";
}
