// SPDX-License-Identifier: Apache-2.0
/* Helpers of the device snapshot tests: see state_fake.h. */
#include "tests/state_fake.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void side_init(struct side *s)
{
	memset(s, 0, sizeof(*s));
	bus_init(&s->pio, "pio");
	bus_init(&s->mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&s->host, &s->pio, &s->mmio), 0);
	s->k = calloc(1, sizeof(*s->k));
	ck_assert_ptr_nonnull(s->k);
	ck_assert_int_eq(irq_router_init(&s->ir, &fake_kvm_ops, fake_kvm_reset(s->k)), 0);
}

void side_free(struct side *s)
{
	irq_router_destroy(&s->ir);
	free(s->k);
	bus_destroy(&s->pio);
	bus_destroy(&s->mmio);
}

static struct { int fd; struct io_op *op; } watches[16];
static struct { iothread_hook_fn fn; void *opaque; } hooks[8];
static struct { struct io_op *op; int res; } pend[64];
static unsigned nwatch, nhooks, npend;
static char token;

bool sf_hold;
struct iothread *sf_thread = (struct iothread *)&token;

static void queue_done(struct io_op *op, int res)
{
	ck_assert_uint_lt(npend, 64);
	pend[npend].op = op;
	pend[npend++].res = res;
}

static int f_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		   uint64_t off, struct io_op *op)
{
	(void)t;
	queue_done(op, (int)preadv(d->fd, iov, n, off));
	return 0;
}

static int f_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t off, struct io_op *op)
{
	(void)t;
	queue_done(op, (int)pwritev(d->fd, iov, n, off));
	return 0;
}

static int f_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	(void)t;
	queue_done(op, fdatasync(d->fd));
	return 0;
}

static int f_watch(struct iothread *t, int fd, struct io_op *op)
{
	(void)t;
	ck_assert_uint_lt(nwatch, 16);
	watches[nwatch].fd = fd;
	watches[nwatch++].op = op;
	return 0;
}

static int f_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	ck_assert_uint_lt(nhooks, 8);
	hooks[nhooks].fn = fn;
	hooks[nhooks++].opaque = opaque;
	return 0;
}

const struct blk_io_ops sf_io = {
	.readv = f_readv, .writev = f_writev, .flush = f_flush,
	.watch_eventfd = f_watch, .add_batch_hook = f_hook,
};

void sf_reset(void)
{
	nwatch = nhooks = npend = 0;
	sf_hold = false;
}

unsigned sf_pending(void)
{
	return npend;
}

uint64_t sf_efd_read(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, 8) == 8 ? v : 0;
}

void sf_run(void)
{
	for (bool again = true; again;) {
		again = false;
		for (unsigned i = 0; i < nwatch; i++)
			if (sf_efd_read(watches[i].fd)) {
				watches[i].op->complete(watches[i].op, 1, 0);
				again = true;
			}
		while (!sf_hold && npend) {
			struct io_op *op = pend[0].op;
			int res = pend[0].res;

			memmove(pend, pend + 1, --npend * sizeof(pend[0]));
			op->complete(op, res, 0);
			again = true;
		}
		for (unsigned i = 0; i < nhooks; i++)
			again |= hooks[i].fn(hooks[i].opaque);
	}
}
