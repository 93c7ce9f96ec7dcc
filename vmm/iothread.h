/* SPDX-License-Identifier: Apache-2.0 */
/*
 * I/O threads. Each owns one io_uring and waits in one place for every
 * completion queue entry: guest kicks (polls or reads of ioeventfds), disk
 * completions, tap readiness. Each SQE's user_data is a `struct io_op *`;
 * when its CQE arrives the thread calls op->complete(op, res, flags). After
 * a batch of CQEs it calls every registered batch-end hook once (devices
 * flush used rings and raise one interrupt per queue there), then submits
 * everything prepared during the batch with one io_uring_submit.
 *
 * Nothing here allocates or locks per request.
 */
#ifndef KITE_VMM_IOTHREAD_H
#define KITE_VMM_IOTHREAD_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct io_op;
typedef void (*io_complete_fn)(struct io_op *op, int res, uint32_t cqe_flags);

/* Embed in a request; its address is the SQE's user_data. */
struct io_op {
	io_complete_fn complete;
};

struct iothread;

struct iothread_opts {
	const char *name;	/* thread name, e.g. "kite-io0" */
	unsigned entries;	/* SQ size (CQ is twice that) */
	int numa_node;		/* pin to this node's CPUs; -1 none */
	unsigned poll_us;	/* busy-poll hooks for up to this long before sleeping */
};

int iothread_create(struct iothread **out, const struct iothread_opts *o);
/* The ring, for devices to get SQEs from (only on the I/O thread itself,
 * or before iothread_start). */
struct io_uring *iothread_ring(struct iothread *t);
/* An SQE on the thread's ring; when the SQ is full, submits what is queued
 * and tries again. Never NULL once started unless the ring is broken. */
struct io_uring_sqe *iothread_get_sqe(struct iothread *t);

/* Watch an eventfd (a guest kick): each time it fires, op->complete runs on
 * the thread with res > 0. Uses a multishot poll where the kernel has it
 * and re-arms otherwise; the eventfd counter is drained by the thread. */
int iothread_watch_eventfd(struct iothread *t, int fd, struct io_op *op);

/* Called once after every batch of completions (and after each poll
 * round); return true if the hook found work (for poll_us). */
typedef bool (*iothread_hook_fn)(void *opaque);
int iothread_add_batch_hook(struct iothread *t, iothread_hook_fn fn, void *opaque);

int iothread_start(struct iothread *t);
/* Stop the thread (after it finished the batch in hand) and join it. */
void iothread_stop(struct iothread *t);
void iothread_destroy(struct iothread *t);

#endif
