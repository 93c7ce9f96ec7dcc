// SPDX-License-Identifier: Apache-2.0
/* A fake tap and I/O thread for virtio-net tests: see net_fake.h. */
#include "tests/net_fake.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct net_fake nf;

void net_fake_reset(void)
{
	for (unsigned i = 0; i < nf.nframes; i++)
		free(nf.frames[i].data);
	memset(&nf, 0, sizeof(nf));
	nf.sq_space = 256;
	nf.offload = -1;
	nf.link_state = true;
}

static void queue_done(struct io_op *op, int res)
{
	ck_assert_uint_lt(nf.npend, 256);
	nf.pend[nf.npend].op = op;
	nf.pend[nf.npend++].res = res;
}

/* Hand waiting frames to waiting reads, oldest to oldest, as a tap does:
 * a frame bigger than the buffers is cut, the full length reported. */
static void tap_match(void)
{
	for (unsigned r = 0; r < nf.nreads;) {
		unsigned f = 0;

		while (f < nf.nframes && nf.frames[f].fd != nf.reads[r].fd)
			f++;
		if (f == nf.nframes) {
			r++;
			continue;
		}
		size_t off = 0;

		for (unsigned i = 0; i < nf.reads[r].n && off < nf.frames[f].len; i++) {
			size_t k = nf.frames[f].len - off < nf.reads[r].iov[i].iov_len
				   ? nf.frames[f].len - off : nf.reads[r].iov[i].iov_len;

			memcpy(nf.reads[r].iov[i].iov_base, nf.frames[f].data + off, k);
			off += k;
		}
		queue_done(nf.reads[r].op, (int)nf.frames[f].len);
		free(nf.frames[f].data);
		memmove(&nf.frames[f], &nf.frames[f + 1], (--nf.nframes - f) * sizeof(nf.frames[0]));
		memmove(&nf.reads[r], &nf.reads[r + 1], (--nf.nreads - r) * sizeof(nf.reads[0]));
	}
}

static int fake_readv(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		      struct io_op *op)
{
	(void)t;
	ck_assert_uint_lt(nf.nreads, 32);
	nf.reads[nf.nreads].op = op;
	nf.reads[nf.nreads].fd = fd;
	nf.reads[nf.nreads].iov = iov;
	nf.reads[nf.nreads++].n = n;
	tap_match();
	return 0;
}

static int fake_writev(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		       struct io_op *op, bool link)
{
	size_t len = 0;
	int res;

	(void)t;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (nf.link_open && nf.link_failed) {
		res = -ECANCELED;
	} else if (nf.nwrites < 32 && nf.write_fail[nf.nwrites]) {
		res = nf.write_fail[nf.nwrites];
		nf.write_fail[nf.nwrites] = 0;
	} else {
		ck_assert_uint_lt(nf.nsent, 32);
		ck_assert_uint_le(len, sizeof(nf.sent[0].data));
		nf.sent[nf.nsent].fd = fd;
		nf.sent[nf.nsent].len = 0;
		for (unsigned i = 0; i < n; i++) {
			memcpy(nf.sent[nf.nsent].data + nf.sent[nf.nsent].len, iov[i].iov_base, iov[i].iov_len);
			nf.sent[nf.nsent].len += iov[i].iov_len;
		}
		nf.nsent++;
		res = (int)len;
	}
	nf.nwrites++;
	nf.link_failed = nf.link_open && nf.link_failed ? true : res < 0;
	nf.link_open = link;
	if (!link)
		nf.link_failed = false;
	queue_done(op, res);
	return 0;
}

static int fake_poll(struct iothread *t, int fd, unsigned events, struct io_op *op)
{
	(void)t;
	ck_assert_uint_lt(nf.npolls, 8);
	nf.polls[nf.npolls].fd = fd;
	nf.polls[nf.npolls].events = events;
	nf.polls[nf.npolls++].op = op;
	return 0;
}

static int fake_cancel(struct iothread *t, struct io_op *op)
{
	(void)t;
	for (unsigned i = 0; i < nf.nreads; i++)
		if (nf.reads[i].op == op) {
			queue_done(op, -ECANCELED);
			memmove(&nf.reads[i], &nf.reads[i + 1], (--nf.nreads - i) * sizeof(nf.reads[0]));
			return 0;
		}
	for (unsigned i = 0; i < nf.npolls; i++)
		if (nf.polls[i].op == op) {
			queue_done(op, -ECANCELED);
			memmove(&nf.polls[i], &nf.polls[i + 1], (--nf.npolls - i) * sizeof(nf.polls[0]));
			return 0;
		}
	return 0;
}

static unsigned fake_sq_space(struct iothread *t) { (void)t; return nf.sq_space; }

static int fake_watch(struct iothread *t, int fd, struct io_op *op)
{
	(void)t;
	nf.watches[nf.nwatch].fd = fd;
	nf.watches[nf.nwatch++].op = op;
	return 0;
}

static int fake_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	nf.hooks[nf.nhooks].fn = fn;
	nf.hooks[nf.nhooks++].opaque = opaque;
	return 0;
}

static int fake_hdr(struct tap *tap, int size) { (void)tap; nf.hdr_size = size; return 0; }
static int fake_offload(struct tap *tap, unsigned f) { (void)tap; nf.offload = f; return 0; }

static int fake_queue(struct tap *tap, unsigned idx, bool attach)
{
	(void)tap;
	ck_assert_uint_lt(idx, NET_FAKE_PAIRS);
	nf.queue_calls++;
	nf.detached[idx] = !attach;
	return 0;
}

static int fake_link_up(struct tap *tap, bool *up) { (void)tap; *up = nf.link_state; return 0; }
static int fake_link_events(struct tap *tap, bool *up) { (void)tap; *up = nf.link_state; return 1; }

const struct net_io_ops net_fake_io = {
	.readv = fake_readv, .writev = fake_writev, .poll = fake_poll, .cancel = fake_cancel,
	.sq_space = fake_sq_space, .watch_eventfd = fake_watch, .add_batch_hook = fake_hook,
	.set_vnet_hdr = fake_hdr, .set_offload = fake_offload, .set_queue = fake_queue,
	.link_up = fake_link_up, .link_events = fake_link_events,
};

/* What an I/O thread does: kicks, then completions, then the batch nf.hooks;
 * until quiet. */
void net_fake_run(void)
{
	bool again = true;

	while (again) {
		again = false;
		for (unsigned i = 0; i < nf.nwatch; i++) {
			uint64_t v;

			if (read(nf.watches[i].fd, &v, 8) == 8) {
				nf.watches[i].op->complete(nf.watches[i].op, 1, 0);
				again = true;
			}
		}
		while (nf.npend) {
			struct io_op *op = nf.pend[0].op;
			int res = nf.pend[0].res;

			memmove(nf.pend, nf.pend + 1, --nf.npend * sizeof(nf.pend[0]));
			op->complete(op, res, 0);
			again = true;
		}
		for (unsigned i = 0; i < nf.nhooks; i++)
			if (nf.hooks[i].fn(nf.hooks[i].opaque))
				again = true;
		again |= nf.npend > 0;	/* the nf.hooks submitted work */
	}
}

/* A frame arrives at tap queue fd: header (flags, gso) + len bytes. */
void net_fake_frame(int fd, uint8_t flags, uint8_t gso, size_t len, uint8_t fill)
{
	uint8_t *d = calloc(1, 12 + len);

	ck_assert_uint_lt(nf.nframes, 16);
	d[0] = flags;
	d[1] = gso;
	memset(d + 12, fill, len);
	nf.frames[nf.nframes].fd = fd;
	nf.frames[nf.nframes].len = 12 + len;
	nf.frames[nf.nframes++].data = d;
	tap_match();
	net_fake_run();
}

void net_fake_fire_poll(int fd, int res)
{
	for (unsigned i = 0; i < nf.npolls; i++)
		if (nf.polls[i].fd == fd) {
			struct io_op *op = nf.polls[i].op;

			memmove(&nf.polls[i], &nf.polls[i + 1], (--nf.npolls - i) * sizeof(nf.polls[0]));
			op->complete(op, res, 0);
			net_fake_run();
			return;
		}
	ck_abort_msg("no poll on fd %d", fd);
}
