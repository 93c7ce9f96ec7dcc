// SPDX-License-Identifier: Apache-2.0
/* Helpers of the virtio device tests: see state_fake.h. */
#include "tests/state_fake.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fake_vm.h"

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

void sides_init(struct side *a, struct side *b, struct vq_fake *ram, uint16_t qsize,
		struct state_tree *st)
{
	sf_reset();
	fake_vm_reset();
	vq_fake_init(ram, qsize);
	side_init(a);
	side_init(b);
	ck_assert_int_eq(state_begin(st), 0);
}

void sides_free(struct side *a, struct side *b, struct vq_fake *ram, struct state_tree *st)
{
	state_free(st);
	side_free(a);
	side_free(b);
	vq_fake_free(ram);
}

#define NPEND	256
#define NWATCH	16
#define NHOOKS	8

static struct { int fd; struct io_op *op; } watches[NWATCH];
static struct { iothread_hook_fn fn; void *opaque; } hooks[NHOOKS], idle[NHOOKS];
static struct { struct io_op *op; int res; } pend[NPEND];
static char token;

struct sf_state sf;
struct iothread *sf_thread = (struct iothread *)&token;

static void queue_done(struct io_op *op, int res)
{
	ck_assert_uint_lt(sf.npend, NPEND);
	pend[sf.npend].op = op;
	pend[sf.npend++].res = res;
}

static int f_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		   uint64_t off, struct io_op *op)
{
	(void)t;
	if (sf.null_mode)
		return 1;
	queue_done(op, (int)preadv(d->fd, iov, n, off));
	return 0;
}

static int f_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t off, struct io_op *op)
{
	(void)t;
	if (sf.null_mode)
		return 1;
	queue_done(op, (int)pwritev(d->fd, iov, n, off));
	return 0;
}

static int f_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	(void)t;
	queue_done(op, fdatasync(d->fd));
	return 0;
}

static int zero_range(struct disk *d, uint64_t off, uint64_t len, struct io_op *op)
{
	static const char z[512];

	for (uint64_t o = 0; o < len; o += 512)
		ck_assert_int_eq(pwrite(d->fd, z, 512, off + o), 512);
	queue_done(op, 0);
	return 0;
}

static int f_discard(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
		     struct io_op *op)
{
	(void)t;
	sf.ndiscard++;
	return zero_range(d, off, len, op);
}

static int f_zero(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
		  struct io_op *op)
{
	(void)t;
	sf.nzero++;
	return zero_range(d, off, len, op);
}

static void f_null_fill(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static int f_watch(struct iothread *t, int fd, struct io_op *op)
{
	(void)t;
	ck_assert_uint_lt(sf.nwatch, NWATCH);
	watches[sf.nwatch].fd = fd;
	watches[sf.nwatch++].op = op;
	return 0;
}

static int f_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	ck_assert_uint_lt(sf.nhooks, NHOOKS);
	sf.hook_thread[sf.nhooks] = t;
	hooks[sf.nhooks].fn = fn;
	hooks[sf.nhooks++].opaque = opaque;
	return 0;
}

static int f_idle_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	ck_assert_uint_lt(sf.nidle, NHOOKS);
	idle[sf.nidle].fn = fn;
	idle[sf.nidle++].opaque = opaque;
	return 0;
}

static bool f_polling(void)
{
	return sf.polling;
}

const struct blk_io_ops sf_io = {
	.readv = f_readv, .writev = f_writev, .flush = f_flush,
	.discard = f_discard, .write_zeroes = f_zero, .null_fill = f_null_fill,
	.watch_eventfd = f_watch, .add_batch_hook = f_hook,
	.add_idle_hook = f_idle_hook, .polling = f_polling,
};

void sf_reset(void)
{
	memset(&sf, 0, sizeof(sf));
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
		for (unsigned i = 0; i < sf.nwatch; i++)
			if (sf_efd_read(watches[i].fd)) {
				watches[i].op->complete(watches[i].op, 1, 0);
				again = true;
			}
		while (!sf.hold && sf.npend) {
			struct io_op *op = pend[0].op;
			int res = pend[0].res;

			memmove(pend, pend + 1, --sf.npend * sizeof(pend[0]));
			op->complete(op, res, 0);
			again = true;
		}
		for (unsigned i = 0; i < sf.nhooks; i++)
			again |= hooks[i].fn(hooks[i].opaque);
	}
}

bool sf_run_idle(void)
{
	bool work = false;

	for (unsigned i = 0; i < sf.nidle; i++)
		work |= idle[i].fn(idle[i].opaque);
	return work;
}
