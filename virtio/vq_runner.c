// SPDX-License-Identifier: Apache-2.0
/* Request queues shared by virtio-blk and virtio-scsi: see vq_runner.h. */
#include "virtio/vq_runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vmm/err.h"

struct vqr_thread {
	struct vq_runner *r;
	struct iothread *t;
};

struct vq_runner {
	const struct vqr_ops *ops;
	const struct blk_io_ops *io;
	struct virtio_pci *t;
	const char *subject;
	unsigned nq, nside;
	struct vqr_queue *q;
	unsigned nthreads;
	struct vqr_thread *threads;
	bool poll;
	_Atomic unsigned warnings;
};

void vqr_vwarn(struct vq_runner *r, const char *fmt, va_list ap)
{
	unsigned n = atomic_fetch_add(&r->warnings, 1);

	/* A guest can trigger these at will: log the first few only. */
	if (n >= 16)
		return;
	if (r->subject)
		fprintf(stderr, "kite: %s %s: ", r->ops->name, r->subject);
	else
		fprintf(stderr, "kite: %s: ", r->ops->name);
	vfprintf(stderr, fmt, ap);
	fputs(n == 15 ? " (further warnings suppressed)\n" : "\n", stderr);
}

void vqr_warn(struct vq_runner *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vqr_vwarn(r, fmt, ap);
	va_end(ap);
}

static struct vqr_req *slot_at(struct vqr_queue *q, unsigned i)
{
	return (struct vqr_req *)((char *)q->slots + (size_t)i * q->r->ops->slot_size);
}

/* ---- completion (I/O thread) ---- */

void vqr_complete(struct vqr_req *req, uint32_t len)
{
	struct vqr_queue *q = req->q;

	virtq_push(atomic_load(&q->vq), req->head, len);
	atomic_store(&q->dirty, true);
	q->free_slots[q->nfree++] = req->slot;
	/* Last: once inflight drops, a reset may free the slots. */
	atomic_fetch_sub(&q->inflight, 1);
}

void vqr_push(struct vqr_queue *q, struct virtq *vq, uint16_t head, uint32_t len)
{
	virtq_push(vq, head, len);
	atomic_store(&q->dirty, true);
}

void vqr_set_broken(struct vqr_queue *q)
{
	q->broken = true;
	virtio_pci_set_needs_reset(q->r->t);
}

/* ---- the queue loop (I/O thread) ---- */

/* Pop and start requests until the ring is empty or the slots run out.
 * Kicks are off meanwhile and come back on at the end, unless the I/O
 * thread is polling: then they stay off until its idle hook. */
static bool drain(struct vqr_queue *q, struct virtq *vq, bool keep_kicks_off)
{
	const struct vqr_ops *ops = q->r->ops;
	struct virtq_chain c;
	bool work = false;

	if (q->broken)
		return false;
	virtq_set_kick_notify(vq, false);
	do {
		while (q->nfree) {
			struct vqr_req *req = slot_at(q, q->free_slots[q->nfree - 1]);
			struct iovec *iov = (struct iovec *)((char *)req + ops->iov_offset);
			int r = virtq_pop(vq, iov, ops->iov_max, &c);

			if (r == 0)
				break;
			if (r == -EIO) {
				vqr_warn(q->r, "queue %u: %s", q->idx, err_msg());
				vqr_set_broken(q);
				return true;
			}
			work = true;
			q->nfree--;
			atomic_fetch_add(&q->inflight, 1);
			req->head = c.head;
			if (r < 0) {
				/* Malformed chain: nothing in it can be trusted. */
				vqr_warn(q->r, "queue %u: %s", q->idx, err_msg());
				ops->reject(q, req);
				continue;
			}
			ops->start(q, req, &c);
		}
		if (!q->nfree) {
			/* Kicks stay off; the batch hook resumes when a slot frees. */
			q->starved = true;
			return work;
		}
	} while (!keep_kicks_off && virtq_kick_enable_and_check(vq));
	return work;
}

static void kick(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct vqr_queue *q = (struct vqr_queue *)((char *)op - offsetof(struct vqr_queue, kick_op));
	struct virtq *vq;

	(void)res;
	(void)cqe_flags;
	atomic_store(&q->busy, true);
	vq = atomic_load(&q->vq);
	if (vq && !atomic_load(&q->stopping) && !q->broken) {
		if (q->idx < q->r->nside)
			q->r->ops->side_kick(q, vq);
		else
			drain(q, vq, false);
	}
	atomic_store(&q->busy, false);
}

/* Publish what q pushed; at most one interrupt. */
static bool flush(struct vq_runner *r, struct vqr_queue *q, struct virtq *vq)
{
	bool pushed = atomic_exchange(&q->dirty, false);

	if (pushed) {
		virtq_flush(vq);
		if (virtq_need_interrupt(vq))
			virtio_pci_notify(r->t, q->idx);
	}
	if (r->ops->flushed)
		r->ops->flushed(q);
	return pushed;
}

typedef bool (*queue_fn)(struct vqr_queue *q, struct virtq *vq, bool poll);

/* fn on each queue of thread th from index `from` on whose ring is
 * published and which is not stopping, with `busy` up meanwhile (the
 * I/O thread's half of the handshake of vqr_reset). */
static bool each_queue(struct vqr_thread *th, unsigned from, queue_fn fn, bool poll)
{
	struct vq_runner *r = th->r;
	bool work = false;

	for (unsigned i = from; i < r->nq; i++) {
		struct vqr_queue *q = &r->q[i];
		struct virtq *vq;

		if (q->thread != th->t)
			continue;
		atomic_store(&q->busy, true);
		vq = atomic_load(&q->vq);
		if (vq && !atomic_load(&q->stopping))
			work |= fn(q, vq, poll);
		atomic_store(&q->busy, false);
	}
	return work;
}

static bool batch_queue(struct vqr_queue *q, struct virtq *vq, bool poll)
{
	bool work = false;

	if (q->starved && q->nfree) {
		q->starved = false;
		work = drain(q, vq, poll);
	} else if (poll && !q->starved && q->idx >= q->r->nside) {
		work = drain(q, vq, true);
	}
	work |= flush(q->r, q, vq);
	return work;
}

/* After each batch of completions: one flush and at most one interrupt
 * per queue of this thread. */
static bool batch(void *opaque)
{
	struct vqr_thread *th = opaque;

	return each_queue(th, 0, batch_queue, th->r->poll && th->r->io->polling());
}

static bool idle_queue(struct vqr_queue *q, struct virtq *vq, bool poll)
{
	(void)poll;
	if (q->starved || q->broken || !virtq_kick_enable_and_check(vq))
		return false;
	return drain(q, vq, false);
}

/* The poll window is over: kicks back on for every request queue of this
 * thread; requests that arrived meanwhile are started (and keep the
 * thread up). */
static bool idle(void *opaque)
{
	struct vqr_thread *th = opaque;

	return each_queue(th, th->r->nside, idle_queue, false);
}

/* ---- transport and device ops (vCPU thread) ---- */

static void free_queue(struct vq_runner *r, struct vqr_queue *q)
{
	free(q->slots);
	free(q->free_slots);
	q->slots = NULL;
	q->free_slots = NULL;
	q->nfree = 0;
	if (r->ops->release)
		r->ops->release(q);
}

static int alloc_queue(struct vq_runner *r, struct vqr_queue *q, uint16_t size)
{
	if (r->ops->alloc && r->ops->alloc(q, size))
		return -ENOMEM;
	if (q->idx < r->nside)
		return 0;
	q->slots = calloc(size, r->ops->slot_size);
	q->free_slots = calloc(size, sizeof(*q->free_slots));
	if (!q->slots || !q->free_slots)
		return -ENOMEM;
	for (unsigned i = 0; i < size; i++) {
		struct vqr_req *req = slot_at(q, i);

		req->op.complete = r->ops->complete;
		req->q = q;
		req->slot = (uint16_t)i;
		q->free_slots[i] = size - 1 - i;
	}
	q->nfree = size;
	return 0;
}

int vqr_enable(struct vq_runner *r, unsigned idx, struct virtq *vq)
{
	struct vqr_queue *q = &r->q[idx];

	free_queue(r, q);
	if (alloc_queue(r, q, vq->size)) {
		free_queue(r, q);
		return err_set(ENOMEM, "queue %u: %u request slots", idx, vq->size);
	}
	q->broken = q->starved = false;
	atomic_store(&q->dirty, false);
	atomic_store(&q->inflight, 0);
	atomic_store(&q->stopping, false);
	/* Publish last: the I/O thread starts using the queue from here. */
	atomic_store(&q->vq, vq);
	return 0;
}

/* Wait for queue q to be off its thread with nothing in flight; false
 * once *waited reaches the limit. */
static bool wait_idle(struct vqr_queue *q, unsigned *waited)
{
	struct timespec ts = { 0, 50 * 1000 };

	while (atomic_load(&q->busy) || atomic_load(&q->inflight)) {
		/* >=: the budget is shared by every queue of the device, so one
		 * that used it up makes the next give up at once, not never. */
		if (++*waited >= VQR_WAIT_MAX)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

/*
 * Device reset: keep the I/O threads off every queue and wait for the
 * requests in flight, so no completion writes a ring after the transport
 * resets it.
 */
void vqr_reset(struct vq_runner *r)
{
	unsigned waited = 0;

	for (unsigned i = 0; i < r->nq; i++)
		atomic_store(&r->q[i].stopping, true);
	for (unsigned i = 0; i < r->nq; i++)
		/* A wedged backend must not hang the vCPU forever. */
		if (!wait_idle(&r->q[i], &waited))
			vqr_warn(r, "reset: queue %u still has %u requests in flight", i,
				 atomic_load(&r->q[i].inflight));
	for (unsigned i = 0; i < r->nq; i++) {
		struct vqr_queue *q = &r->q[i];

		atomic_store(&q->vq, NULL);
		if (!atomic_load(&q->inflight))
			free_queue(r, q);
	}
}

int vqr_stop(struct vq_runner *r, unsigned from, unsigned to, unsigned *waited)
{
	for (unsigned i = from; i < to; i++)
		atomic_store(&r->q[i].stopping, true);
	for (unsigned i = from; i < to; i++)
		if (!wait_idle(&r->q[i], waited))
			return err_set(EBUSY, "queue %u still has %u %s in flight", i,
				       atomic_load(&r->q[i].inflight), r->ops->what);
	return 0;
}

void vqr_flush(struct vq_runner *r, unsigned idx)
{
	struct vqr_queue *q = &r->q[idx];
	struct virtq *vq = atomic_load(&q->vq);

	if (vq)
		flush(r, q, vq);
}

int vqr_quiesce(struct vq_runner *r, unsigned from, unsigned to, unsigned *waited)
{
	int err = vqr_stop(r, from, to, waited);

	if (err)
		return err;
	for (unsigned i = from; i < to; i++)
		vqr_flush(r, i);
	return 0;
}

void vqr_unstop(struct vq_runner *r, unsigned idx)
{
	atomic_store(&r->q[idx].stopping, false);
}

void vqr_resume(struct vq_runner *r)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < r->nq; i++)
		atomic_store(&r->q[i].stopping, false);
	/* Kicks that came while stopped were dropped: look at every ring. */
	for (unsigned i = 0; i < r->nq; i++)
		if (atomic_load(&r->q[i].vq) &&
		    write(virtio_pci_kick_fd(r->t, i), &one, sizeof(one)) != sizeof(one))
			vqr_warn(r, "queue %u: cannot signal its thread", i);
}

unsigned vqr_inflight(struct vq_runner *r, unsigned idx)
{
	return atomic_load(&r->q[idx].inflight);
}

/* ---- creation ---- */

int vqr_create(struct vq_runner **out, const struct vqr_opts *o)
{
	struct vq_runner *r;

	if (!o->nthreads || o->nq <= o->nside)
		return err_set(EINVAL, "%u queues on %u I/O threads", o->nq, o->nthreads);
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(ENOMEM, "out of memory");
	r->ops = o->ops;
	r->io = o->io;
	r->subject = o->subject;
	r->nq = o->nq;
	r->nside = o->nside;
	r->poll = o->poll;
	r->nthreads = o->nthreads < o->nq - o->nside ? o->nthreads : o->nq - o->nside;
	r->q = calloc(r->nq, sizeof(*r->q));
	r->threads = calloc(r->nthreads, sizeof(*r->threads));
	if (!r->q || !r->threads) {
		vqr_destroy(r);
		return err_set(ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < r->nthreads; i++)
		r->threads[i] = (struct vqr_thread){ r, o->threads[i] };
	for (unsigned i = 0; i < r->nq; i++) {
		struct vqr_queue *q = &r->q[i];

		q->dev = o->dev;
		q->r = r;
		q->idx = i;
		q->thread = o->threads[i < r->nside ? 0 : (i - r->nside) % r->nthreads];
		q->kick_op.complete = kick;
	}
	*out = r;
	return 0;
}

int vqr_attach(struct vq_runner *r, struct virtio_pci *t)
{
	int err;

	r->t = t;
	for (unsigned i = 0; i < r->nthreads; i++) {
		err = r->io->add_batch_hook(r->threads[i].t, batch, &r->threads[i]);
		if (err >= 0 && r->poll)
			err = r->io->add_idle_hook(r->threads[i].t, idle, &r->threads[i]);
		if (err < 0)
			return err;
	}
	for (unsigned i = 0; i < r->nq; i++) {
		struct vqr_queue *q = &r->q[i];

		err = r->io->watch_eventfd(q->thread, virtio_pci_kick_fd(t, i), &q->kick_op);
		if (err < 0)
			return err;
	}
	return 0;
}

void vqr_destroy(struct vq_runner *r)
{
	if (!r)
		return;
	for (unsigned i = 0; r->q && i < r->nq; i++)
		free_queue(r, &r->q[i]);
	free(r->q);
	free(r->threads);
	free(r);
}
