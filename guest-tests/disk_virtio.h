/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What disk_blk.c and disk_scsi.c share: both put each disk.h request on a
 * virtqueue, so opening, kicking, waiting, counting and taking completions
 * are the same but for which virtqueues serve the disk's queues. A driver
 * describes itself in a struct disk_virtio_drv; struct disk's priv points
 * at the struct disk_virtio it is opened with.
 */
#ifndef GUEST_DISK_VIRTIO_H
#define GUEST_DISK_VIRTIO_H

#include "disk.h"
#include "virtio_pci.h"

struct disk_virtio_drv {
	/* iface, submit, complete, describe, status_name; the rest is ours */
	struct disk_ops ops;
	const char *wait_key;		/* its irq|poll switch: blk_wait, scsi_wait */
	struct virtio_dev *dev;
	unsigned q0;			/* its first request queue */
	const unsigned *nq;		/* how many it set up */
	/* 1 found, 0 no such device, -1 unusable (why) */
	int (*probe)(char *why, size_t whylen);
	/* Start the device with o (reset, negotiate, queues, DRIVER_OK). */
	bool (*start)(const struct virtio_opts *o, char *why, size_t whylen);
	size_t req_size;		/* its request, which starts with a struct vq_req */
	/* The rest of d (size, ro, flush, buf_guard, serial); false if unusable. */
	bool (*learn)(struct disk *d, char *why, size_t whylen);
};

struct disk_virtio {
	const struct disk_virtio_drv *drv;
	struct disk_ops ops;
	struct virtio_opts o;			/* from the command line */
	struct virtq *vq[VIRTIO_MAX_QUEUES];	/* serving disk queue i */
	bool indirect;				/* every request through an indirect table */
};

/*
 * disk_open() for drv, with dv for its state: the command line's queue
 * settings, indirect tables when `depth` requests of their descriptors do
 * not fit a queue. 1 ready, 0 no such device, -1 unusable (why says so).
 */
int disk_virtio_open(struct disk *d, struct disk_virtio *dv, const struct disk_virtio_drv *drv,
		     unsigned depth, char *why, size_t whylen);

/* r's driver request is the one vr heads. */
void disk_virtio_req(struct disk_req *r, struct vq_req *vr);
/* The next completed request of queue q, its used_len set; NULL if none. */
struct disk_req *disk_virtio_used(struct disk *d, unsigned q);
/* describe()'s last line: how completions are waited for, the layout. */
void disk_virtio_describe(struct disk *d, const char *prefix);

#endif
