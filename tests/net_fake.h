/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake tap and I/O thread for virtio-net tests (struct net_io_ops):
 * reads wait until the test hands the tap a frame (as io_uring does on a
 * real tap) and then get it, cut to the buffers with the full length
 * reported, as the tap does; writes are recorded and complete at once,
 * honouring IOSQE_IO_LINK; polls and cancels are recorded; completions are
 * run by net_fake_run() like an I/O thread's batch.
 */
#ifndef KITE_TESTS_NET_FAKE_H
#define KITE_TESTS_NET_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/net.h"

#define NET_FAKE_PAIRS	2

struct net_fake {
	struct { struct io_op *op; int res; } pend[256];	/* completions to run */
	unsigned npend;
	struct { int fd; struct io_op *op; } watches[2 * NET_FAKE_PAIRS + 1];
	unsigned nwatch;
	struct { iothread_hook_fn fn; void *opaque; } hooks[4];
	unsigned nhooks;
	struct { struct io_op *op; int fd; const struct iovec *iov; unsigned n; } reads[32];
	unsigned nreads;					/* armed, oldest first */
	struct { int fd; unsigned events; struct io_op *op; } polls[8];
	unsigned npolls;
	struct { int fd; size_t len; uint8_t *data; } frames[16];	/* waiting in the tap */
	unsigned nframes;
	struct { int fd; size_t len; uint8_t data[2048]; } sent[32];	/* written to it */
	unsigned nsent;
	int write_fail[32];		/* nonzero: the result of the k-th write */
	unsigned nwrites;
	bool link_open, link_failed;
	unsigned sq_space;
	int hdr_size, offload, queue_calls;
	bool detached[NET_FAKE_PAIRS];
	bool link_state;
};

extern struct net_fake nf;
extern const struct net_io_ops net_fake_io;

/* Forget everything (and free the frames still waiting). */
void net_fake_reset(void);
/* Kicks, then completions, then the batch hooks; until quiet. */
void net_fake_run(void);
/* A frame arrives at tap queue fd: a header with flags and gso_type, then
 * len bytes of fill; a waiting read gets it, then net_fake_run(). */
void net_fake_frame(int fd, uint8_t flags, uint8_t gso, size_t len, uint8_t fill);
/* The poll on fd fires with res, then net_fake_run(). */
void net_fake_fire_poll(int fd, int res);

#endif
