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
 * Threading: the ring is single-producer. Only the I/O thread itself puts
 * SQEs on it once it runs (before iothread_start, the creating thread may).
 * Other threads reach the I/O thread through iothread_call (a control
 * path: it takes a lock and waits; never per request).
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
	const char *name;	/* thread name, e.g. "kite-io0" (cut to 15 bytes) */
	unsigned entries;	/* SQ size (CQ is twice that); 0: 256 */
	int numa_node;		/* pin to this node's CPUs; -1 none */
	unsigned poll_us;	/* busy-poll hooks for up to this long before sleeping */
	bool oneshot_polls;	/* never use multishot polls (tests; old kernels
				 * get this automatically) */
};

int iothread_create(struct iothread **out, const struct iothread_opts *o);
/* The ring, for devices to get SQEs from (only on the I/O thread itself,
 * or before iothread_start). */
struct io_uring *iothread_ring(struct iothread *t);
/* An SQE on the thread's ring; on the I/O thread, when the SQ is full,
 * submits what is queued and tries again. NULL if the ring is broken, or
 * before iothread_start when the SQ is full (nothing can be submitted yet). */
struct io_uring_sqe *iothread_get_sqe(struct iothread *t);

/* Watch an eventfd (a guest kick): each time it fires, op->complete runs on
 * the thread with res > 0 (the poll mask). Uses a multishot poll where the
 * kernel has it and re-arms otherwise; the thread drains the eventfd counter
 * (it sets O_NONBLOCK on fd) before calling op, so a kick that arrives while
 * op runs fires it again. Callable from any thread (after iothread_start it
 * goes through iothread_call). A watch lasts until the thread is destroyed. */
int iothread_watch_eventfd(struct iothread *t, int fd, struct io_op *op);

/* Called once after every batch of completions (and after each poll
 * round); return true if the hook found work (for poll_us). Callable from
 * any thread, like iothread_watch_eventfd. */
typedef bool (*iothread_hook_fn)(void *opaque);
int iothread_add_batch_hook(struct iothread *t, iothread_hook_fn fn, void *opaque);
/* With poll_us: called once each time the poll window ends, before the
 * thread sleeps. A device that kept guest kicks off while polling turns
 * them back on here; it returns true if work arrived meanwhile, and the
 * thread then polls on instead of sleeping. Never called without poll_us. */
int iothread_add_idle_hook(struct iothread *t, iothread_hook_fn fn, void *opaque);
/* True when called from a batch hook during the poll window. */
bool iothread_polling(void);

/* Run fn(opaque) on the I/O thread, between batches, and wait for it to
 * return: for device activation, reset and pause, which must not race the
 * thread. Runs fn at once when called on the I/O thread or before start.
 * Returns 0, or -EIO if the thread has stopped or its ring broke. */
int iothread_call(struct iothread *t, void (*fn)(void *opaque), void *opaque);

int iothread_start(struct iothread *t);

/*
 * Fixed files: before the thread starts, a device registers the fds its
 * requests will name (image, tap, eventfds; watched eventfds are
 * registered by iothread_watch_eventfd itself); SQEs prepared for them
 * then carry the table index (IOSQE_FIXED_FILE), so the kernel need not
 * look the fd up per request, and the ring names only what it was given.
 * After the start, or past IOTHREAD_MAX_FILES, or on kernels without
 * sparse tables, an fd is not registered and SQEs use it as it is.
 */
#define IOTHREAD_MAX_FILES 64
int iothread_register_file(struct iothread *t, int fd);
/* Turn sqe->fd into its table index if it was registered. */
void iothread_fixed_file(struct iothread *t, struct io_uring_sqe *sqe);
/* Stop the thread (after it finished the batch in hand) and join it.
 * Requests still in flight are not waited for: quiesce devices first. */
void iothread_stop(struct iothread *t);
/* Stops the thread if running; exiting the ring cancels what is in flight. */
void iothread_destroy(struct iothread *t);

/* The I/O threads of one device: created, started, stopped and destroyed
 * together. Threads are named "PREFIX.N" (the kernel keeps 15 bytes). */
struct iothread_group {
	struct iothread **threads;
	unsigned n;
};

int iothread_group_create(struct iothread_group *g, unsigned n, const char *prefix,
			  int numa_node, unsigned poll_us);
int iothread_group_start(struct iothread_group *g);
/* iothread_register_file on every thread of the group. */
int iothread_group_register_file(struct iothread_group *g, int fd);
/* Idempotent; call before freeing the device the threads serve. */
void iothread_group_stop(struct iothread_group *g);
void iothread_group_destroy(struct iothread_group *g);

#endif
