/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.2, 5.2) on the virtio-pci transport, multiqueue,
 * served by I/O threads through the disk backend (virtio/disk.h).
 *
 * Each queue belongs to one I/O thread (queue i to thread i % nthreads),
 * which watches the queue's kick eventfd, pops chains, hands the guest's
 * data buffers straight to disk_prep_readv/writev (no bounce copy) and, at
 * the end of each batch of completions, flushes the used ring and raises at
 * most one interrupt per queue. Request state lives in a slot array per
 * queue, sized to the queue and allocated when the driver enables it. That
 * machinery is virtio/vq_runner.h, shared with virtio-scsi; this device
 * adds request parsing, segments, discard and write-zeroes.
 */
#ifndef KITE_VIRTIO_BLK_H
#define KITE_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/disk.h"
#include "virtio/pci.h"
#include "vmm/device.h"
#include "vmm/iothread.h"

#define VIRTIO_ID_BLOCK		2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX		1
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_GEOMETRY		4
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_TOPOLOGY		10
#define VIRTIO_BLK_F_CONFIG_WCE		11
#define VIRTIO_BLK_F_MQ			12
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13
#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2
#define VIRTIO_BLK_DWZ_F_UNMAP		1
#define VIRTIO_BLK_ID_BYTES		20

/* Limits kite advertises. */
#define VIRTIO_BLK_IOV_MAX		128	/* iovecs per request: seg_max + header + status */
#define VIRTIO_BLK_SEG_MAX		(VIRTIO_BLK_IOV_MAX - 2)
#define VIRTIO_BLK_SIZE_MAX		(1U << 20)
#define VIRTIO_BLK_DWZ_SEG_MAX		16
#define VIRTIO_BLK_DWZ_SECTORS_MAX	0x3fffffU	/* 2 GiB - 512 per segment */
#define VIRTIO_BLK_CONFIG_LEN		60	/* up to write_zeroes_may_unmap + pad */

/*
 * The calls into the disk backend and the I/O threads, replaceable so unit
 * tests can run the device without io_uring. Same contracts as disk.h and
 * iothread.h.
 */
struct blk_io_ops {
	int (*readv)(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		     uint64_t offset, struct io_op *op);
	int (*writev)(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		      uint64_t offset, struct io_op *op);
	int (*flush)(struct disk *d, struct iothread *t, struct io_op *op);
	int (*discard)(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
		       struct io_op *op);
	int (*write_zeroes)(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
			    struct io_op *op);
	void (*null_fill)(const struct iovec *iov, unsigned n);
	int (*watch_eventfd)(struct iothread *t, int fd, struct io_op *op);
	int (*add_batch_hook)(struct iothread *t, iothread_hook_fn fn, void *opaque);
	int (*add_idle_hook)(struct iothread *t, iothread_hook_fn fn, void *opaque);
	bool (*polling)(void);
};

/* disk_prep_* and iothread_* themselves. */
extern const struct blk_io_ops virtio_blk_io_default;

struct virtio_blk_opts {
	struct disk *disk;		/* opened; outlives the device */
	struct iothread **threads;	/* created, not yet started */
	unsigned nthreads;		/* >= 1 */
	unsigned num_queues;		/* 1..VIRTIO_PCI_MAX_QUEUES */
	unsigned queue_size;		/* power of two, <= VIRTQ_MAX_SIZE; 0: 256 */
	bool poll;			/* the threads have poll_us: poll the avail
					 * rings in their poll window, kicks off */
	const struct blk_io_ops *io;	/* NULL: virtio_blk_io_default */
};

struct virtio_blk;

/* Create the device and its PCI function, watch every queue's kick
 * eventfd and register the batch hooks. Call before the threads start. */
int virtio_blk_create(struct virtio_blk **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_blk_opts *o);
/* For vm_add_device(): reset (device reset as by the driver), free. */
struct device *virtio_blk_device(struct virtio_blk *b);
struct virtio_pci *virtio_blk_transport(struct virtio_blk *b);
/* The I/O threads must be stopped first. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif
