/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request queues of virtio-blk and virtio-scsi: the machinery both
 * share, with the device supplying what a request is (struct vqr_ops).
 *
 * Each queue belongs to one I/O thread, which watches its kick eventfd,
 * pops chains into request slots (an array per queue, sized to the queue
 * and allocated when the driver enables it, with a stack of free ones) and
 * hands each to ops->start. A request ends with vqr_complete(), which
 * pushes its chain; after each batch of completions the thread's batch
 * hook flushes each of its queues once and raises at most one interrupt
 * per queue, and resumes a queue that stopped popping for want of slots.
 * With `poll` the batch hook also pops while the thread polls, kicks off,
 * and its idle hook turns kicks back on when the poll window ends.
 *
 * The first `nside` queues (virtio-scsi's control and event queues) have
 * no slots: their kicks go to ops->side_kick, under the same handshake.
 *
 * Reset and snapshots (vCPU thread): a queue is stopped Dekker-style, the
 * vCPU thread setting `stopping` then reading `busy`, the I/O thread
 * setting `busy` then reading `stopping` (all sequentially consistent),
 * and then waited for until nothing is in flight.
 *
 * No allocation and no lock per request.
 */
#ifndef KITE_VIRTIO_VQ_RUNNER_H
#define KITE_VIRTIO_VQ_RUNNER_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/blk.h"
#include "virtio/pci.h"
#include "virtio/virtqueue.h"
#include "vmm/iothread.h"

/* How long a stop waits for a queue, in naps of 50 us (10 s). */
#define VQR_WAIT_MAX	200000

struct vq_runner;
struct vqr_queue;

/* The head of every request slot. */
struct vqr_req {
	struct io_op op;		/* what the backend completes: first */
	struct vqr_queue *q;
	uint16_t slot;			/* its index among the queue's slots */
	uint16_t head;			/* the chain to give back */
};

/* One queue. Devices may read dev, idx, thread and broken; the rest is
 * the runner's. */
struct vqr_queue {
	void *dev;			/* vqr_opts.dev */
	struct vq_runner *r;
	unsigned idx;
	struct iothread *thread;
	struct io_op kick_op;
	struct virtq *_Atomic vq;	/* NULL while disabled */
	void *slots;			/* ops->slot_size bytes each */
	uint16_t *free_slots;
	unsigned nfree;
	_Atomic unsigned inflight;
	_Atomic bool stopping;
	_Atomic bool busy;
	_Atomic bool dirty;		/* pushed but not flushed */
	bool broken;			/* ring corrupt: wait for a reset */
	bool starved;			/* stopped popping for want of slots */
};

struct vqr_ops {
	const char *name;		/* "virtio-blk": begins every warning */
	const char *what;		/* "requests": in errors of a stop */
	size_t slot_size;		/* bytes per slot; it starts with struct vqr_req */
	size_t iov_offset;		/* where a slot's iovec array is */
	unsigned iov_max;		/* ... and how many iovecs it has */
	io_complete_fn complete;	/* every slot's op.complete */
	/* I/O thread: start the chain just popped into req (req->head is
	 * set); it ends with vqr_complete(). */
	void (*start)(struct vqr_queue *q, struct vqr_req *req, const struct virtq_chain *c);
	/* I/O thread: a malformed chain was popped into req (req->head is
	 * set, the reason logged; iov garbage): give it back through
	 * vqr_complete() without trusting the chain. */
	void (*reject)(struct vqr_queue *q, struct vqr_req *req);
	/* Optional: after q was flushed by the batch hook or vqr_flush(). */
	void (*flushed)(struct vqr_queue *q);
	/* Side queues: a kick (I/O thread; ring enabled and not broken). */
	void (*side_kick)(struct vqr_queue *q, struct virtq *vq);
	/* Optional, vCPU thread: the device's own state of a queue, made when
	 * the driver enables it (size entries; 0 or -ENOMEM) and released at
	 * reset, at the next enable and at destruction (also when never made). */
	int (*alloc)(struct vqr_queue *q, uint16_t size);
	void (*release)(struct vqr_queue *q);
};

struct vqr_opts {
	const struct vqr_ops *ops;
	void *dev;
	const char *subject;		/* after the name in warnings (a path), or NULL */
	const struct blk_io_ops *io;	/* its watch_eventfd, add_*_hook, polling */
	struct iothread **threads;	/* not yet started */
	unsigned nthreads;		/* >= 1; only as many used as there are
					 * request queues */
	unsigned nq;			/* all queues */
	unsigned nside;			/* the first nside have no slots */
	bool poll;			/* poll request queues in the poll window */
};

/* Queue i >= nside goes to thread (i - nside) % nthreads, side queues to
 * thread 0. Nothing is registered with the threads yet. */
int vqr_create(struct vq_runner **out, const struct vqr_opts *o);
/* Register the batch (and with poll, idle) hooks and watch every queue's
 * kick eventfd of t. Before the threads start. */
int vqr_attach(struct vq_runner *r, struct virtio_pci *t);
/* The threads must be stopped first. NULL is fine. */
void vqr_destroy(struct vq_runner *r);

/* Rate-limited warnings of the device: "kite: NAME SUBJECT: ...". */
void vqr_warn(struct vq_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vqr_vwarn(struct vq_runner *r, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* ---- I/O thread ---- */

/* The request in req is done: push its chain with `len` bytes written
 * and free its slot (last: a reset may free the slots after this). */
void vqr_complete(struct vqr_req *req, uint32_t len);
/* Side queues: push a chain, to be flushed by the batch hook. */
void vqr_push(struct vqr_queue *q, struct virtq *vq, uint16_t head, uint32_t len);
/* The ring is corrupt: stop serving q and set DEVICE_NEEDS_RESET. */
void vqr_set_broken(struct vqr_queue *q);

/* ---- transport and device ops (vCPU thread) ---- */

/* virtio_dev_ops.queue_enable: fresh slots, then publish vq. */
int vqr_enable(struct vq_runner *r, unsigned idx, struct virtq *vq);
/* virtio_dev_ops.reset: stop every queue and wait for what is in flight
 * (a warning after 10 s), unpublish every ring, free idle queues' slots. */
void vqr_reset(struct vq_runner *r);
/* Stop queues [from, to) and wait until they are idle; *waited counts the
 * naps across calls. -EBUSY (err_set) once it reaches VQR_WAIT_MAX. */
int vqr_stop(struct vq_runner *r, unsigned from, unsigned to, unsigned *waited);
/* What the batch hook would have done for stopped queue idx. */
void vqr_flush(struct vq_runner *r, unsigned idx);
/* vqr_stop, then vqr_flush of each: device_ops.quiesce. */
int vqr_quiesce(struct vq_runner *r, unsigned from, unsigned to, unsigned *waited);
/* Let the threads serve queue idx again (its kicks are not replayed). */
void vqr_unstop(struct vq_runner *r, unsigned idx);
/* device_ops.resume: every queue serves again and looks at its ring. */
void vqr_resume(struct vq_runner *r);
/* Requests of queue idx not yet completed. */
unsigned vqr_inflight(struct vq_runner *r, unsigned idx);

#endif
