/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk driver (virtio 1.2, 5.2) on virtio_pci.h, for the blk-* cases.
 *
 * A request is a struct blk_io the caller owns (from blk_io_alloc: its
 * header, status byte, discard segment and indirect table are read and
 * written by the device). By default header, data and status sit in
 * descriptors of their own, which every device accepts; with
 * layout=merged the header shares the first data descriptor (OUT, DISCARD,
 * WRITE_ZEROES) or the status byte shares the last one (IN, GET_ID), which
 * devices must accept too (VERSION_1 implies ANY_LAYOUT). Data buffers must
 * come from dma_alloc(), whose guard bytes make room for that.
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "virtio_pci.h"

#define VIRTIO_ID_BLOCK			2

#define VIRTIO_BLK_F_SIZE_MAX		1
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_TOPOLOGY		10
#define VIRTIO_BLK_F_MQ			12
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13

#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2
#define VIRTIO_BLK_ID_BYTES		20

#define SECTOR_SIZE			512
#define BLK_IO_MAX_SEGS			16	/* data descriptors per request */
#define BLK_TIMEOUT_US			VQ_TIMEOUT_US

struct blk_config {
	u64 capacity;		/* 512-byte sectors */
	u32 size_max, seg_max, blk_size;
	u8 phys_block_exp;
	u16 min_io_size;
	u32 opt_io_size;
	u16 num_queues;
	u32 max_discard_sectors, max_discard_seg, discard_sector_alignment;
	u32 max_write_zeroes_sectors, max_write_zeroes_seg;
	u8 write_zeroes_may_unmap;
};

struct blk {
	struct virtio_dev v;
	struct virtio_opts o;
	struct blk_config cfg;
	unsigned nq;		/* queues set up: min(num_queues, VIRTIO_MAX_QUEUES) */
	bool ro, flush, discard, write_zeroes, indirect, event_idx;
};

struct blk_hdr {
	u32 type;
	u32 ioprio;
	u64 sector;
};

struct blk_seg {
	u64 sector;
	u32 num_sectors;
	u32 flags;
};

struct blk_io {
	struct vq_req vq;	/* first: done, used_len, the caller's ctx */
	/* read or written by the device */
	struct blk_hdr hdr;
	struct blk_seg seg;
	struct vring_desc table[BLK_IO_MAX_SEGS + 2];
	u8 status;
	/* ours */
	u8 *status_at;		/* where the status byte is for this request */
	u32 writable;		/* bytes the device may write (used len bound) */
};

#define BLK_IO_INDIRECT	1	/* submit through an indirect table */

/* The first virtio-blk function: 1 found, 0 none, -1 unusable (why). */
int blk_probe(struct blk *b, char *why, size_t whylen);
/*
 * (Re)initialise: reset, negotiate, read the config, set up every queue
 * (queue i interrupts CPU i % online CPUs), DRIVER_OK.
 */
bool blk_init(struct blk *b, const struct virtio_opts *o, char *why, size_t whylen);

struct blk_io *blk_io_alloc(void);

/*
 * Queue one request on queue qi (not yet kicked): type, sector, data
 * buf/len split into nseg descriptors of equal size (len % nseg == 0),
 * flags BLK_IO_INDIRECT. DISCARD / WRITE_ZEROES take their single segment
 * from sector and len (bytes) and buf is ignored. 0, or -1 when the queue
 * is full or the request does not fit.
 */
int blk_submit(struct blk *b, unsigned qi, struct blk_io *io, u32 type, u64 sector,
	       void *buf, u32 len, unsigned nseg, unsigned flags);
/* Reap every completed request of queue qi (io->vq.done, used_len); the
 * number reaped. */
unsigned blk_reap(struct blk *b, unsigned qi);
/*
 * One request, start to finish: submit, kick, wait. The status byte, or
 * -1 timeout, -2 completed without its interrupt, -3 not submitted.
 */
int blk_do(struct blk *b, unsigned qi, struct blk_io *io, u32 type, u64 sector, void *buf,
	   u32 len, unsigned nseg, unsigned flags);

const char *blk_status_name(int st);

#endif
