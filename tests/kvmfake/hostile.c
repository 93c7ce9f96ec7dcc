// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's guest program, KVMFAKE_GUEST=hostile: every virtio device but
 * the last virtio-blk disk is attacked for KVMFAKE_SECS seconds (default
 * 5) with malformed descriptor chains and rings, illegal feature and
 * status sequences, out-of-range register and configuration accesses,
 * MSI-X entries with bad addresses, and resets with requests in flight;
 * between attacks the last disk does a verified write and read. Then each
 * attacked device must reset, set up and serve a correct request. kite
 * must stay up throughout and write nothing outside guest RAM (the chains
 * point their writable buffers at a scratch area or outside RAM).
 * KVMFAKE_SEED picks another sequence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gprog.h"

#define SCRATCH		0x3000000ULL	/* 48 MiB: attacks' buffers and tables */
#define SCRATCH_LEN	0x400000ULL
#define D_NEXT		1
#define D_WRITE		2
#define D_INDIRECT	4

static uint64_t rng;

static uint64_t rnd(void)
{
	return xorshift(&rng);
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* An address for a buffer: mostly the scratch area, else past the end of
 * RAM, in the MMIO hole, or about to wrap past 2^64. */
static uint64_t addr(uint32_t len)
{
	switch (below(6)) {
	case 0:
		return g_ram_size() + below(0x10000) * 8ULL;
	case 1:
		return 0xfee00000ULL + below(0x1000);
	case 2:
		return ~0ULL - below(4096);
	default:
		return SCRATCH + (below((unsigned)(SCRATCH_LEN - (len & 0xffff))) & ~7u);
	}
}

static uint32_t len(void)
{
	static const uint32_t lens[] = { 0, 1, 7, 16, 512, 4096, 65536, 0x7fffffff, 0xffffffff };

	return below(3) ? lens[below(9)] : (uint32_t)rnd();
}

/* Publish head (which may be out of range) on q and kick. */
static void publish(struct vq *q, uint16_t head, uint16_t bump)
{
	uint16_t idx = (uint16_t)(q->next_avail + bump);

	g_write(q->avail + 4 + 2 * (q->next_avail % q->size), &head, 2);
	g_write(q->avail + 2, &idx, 2);
	q->next_avail = idx;
	g_mmio(q->notify, 2, true, q->index);
}

static const char *chain_attack(struct vq *q)
{
	unsigned n = 1 + below(6), head = below(q->size);
	uint64_t table = SCRATCH + SCRATCH_LEN - 4096;

	switch (below(7)) {
	case 0:		/* random descriptors, random links */
		for (unsigned i = 0; i < n; i++) {
			uint32_t l = len();

			put_desc(q->desc, (head + i) % q->size, addr(l), l, (uint16_t)(rnd() & 7),
			     (uint16_t)(below(3) ? (head + i + 1) % q->size : rnd()));
		}
		publish(q, (uint16_t)head, 1);
		return "random chain";
	case 1:		/* a loop */
		put_desc(q->desc, head, addr(16), 16, D_NEXT, (uint16_t)((head + 1) % q->size));
		put_desc(q->desc, (head + 1) % q->size, addr(16), 16, D_NEXT | D_WRITE, (uint16_t)head);
		publish(q, (uint16_t)head, 1);
		return "looped chain";
	case 2:		/* an indirect table: bad length, bad place, nested, looped */
		for (unsigned i = 0; i < 8; i++)
			put_desc(table, i, addr(64), 64, (uint16_t)(rnd() & 7), (uint16_t)below(9));
		put_desc(q->desc, head, below(2) ? table : addr(128),
		     below(2) ? 16 * (1 + below(8)) : len(), D_INDIRECT | (rnd() & 1), 0);
		publish(q, (uint16_t)head, 1);
		return "indirect table";
	case 3:		/* the available index far ahead */
		publish(q, (uint16_t)head, (uint16_t)(q->size + 1 + below(0x8000)));
		return "avail index jump";
	case 4:		/* a head past the ring */
		publish(q, (uint16_t)(q->size + below(0x10000 - q->size)), 1);
		return "head out of range";
	case 5:		/* the same head twice */
		put_desc(q->desc, head, addr(16), 16, D_WRITE, 0);
		publish(q, (uint16_t)head, 1);
		publish(q, (uint16_t)head, 1);
		return "head twice";
	default:	/* a long chain, longer than the ring */
		for (unsigned i = 0; i < q->size; i++)
			put_desc(q->desc, i, addr(8), 8, D_NEXT | (i > q->size / 2 ? D_WRITE : 0),
			     (uint16_t)((i + 1) % q->size));
		publish(q, (uint16_t)head, 1);
		return "chain as long as the ring, circular";
	}
}

static const char *reg_attack(struct vdev *d)
{
	unsigned off;

	switch (below(6)) {
	case 0:		/* features after FEATURES_OK / DRIVER_OK, status garbage */
		common_write(d, 0x08, 4, below(3));
		common_write(d, 0x0c, 4, (uint32_t)rnd());
		common_write(d, 0x14, 1, rnd() & 0xff);
		return "features and status out of order";
	case 1:		/* a queue out of range: select, size, enable, addresses */
		common_write(d, 0x16, 2, d->nq + below(0x10000 - d->nq));
		common_read(d, 0x18, 2);
		common_write(d, 0x18, 2, (uint16_t)rnd());
		common_write(d, 0x20, 8, rnd());
		common_write(d, 0x1c, 2, 1);
		return "queue select out of range";
	case 2:		/* device configuration far past its end, odd widths */
		off = below(0x1000);
		g_mmio(d->cfg + off, 1u << below(3), below(2), rnd());
		return "configuration access out of range";
	case 3:		/* MSI-X entries with addresses outside the LAPIC window */
		off = below(d->msix_n + 4);
		g_mmio(d->msix + 16 * off, 4, true, (uint32_t)rnd());
		g_mmio(d->msix + 16 * off + 8, 4, true, (uint32_t)rnd());
		g_mmio(d->msix + 16 * off + 12, 4, true, 0);
		return "MSI-X entry with a bad address";
	case 4:		/* the common configuration at odd offsets and widths */
		off = below(0x40);
		g_mmio(d->common + off, 1u << below(4), below(2), rnd());
		return "common configuration at odd offsets";
	default:	/* a reset with requests in flight */
		for (unsigned i = 0; i < 4; i++)
			chain_attack(&d->q[below(d->nq)]);
		common_write(d, 0x14, 1, 0);
		return "reset with requests in flight";
	}
}

static bool good_io(struct vdev *good, uint64_t wbuf, uint64_t rbuf, unsigned round, char *why)
{
	uint8_t st;
	uint64_t lba = 8 * (round % 64);

	gfill(wbuf, 4096, round);
	if (!blk_rw(good, 0, true, lba, wbuf, 4096, &st, why) || st)
		return st ? (snprintf(why, 160, "write status %u", st), false) : false;
	if (!blk_rw(good, 0, false, lba, rbuf, 4096, &st, why) || st)
		return st ? (snprintf(why, 160, "read status %u", st), false) : false;
	if (!gcheck(rbuf, 4096, round))
		return snprintf(why, 160, "read back other data"), false;
	return true;
}

void mode_hostile(struct vdev *devs, unsigned n)
{
	const char *s = getenv("KVMFAKE_SECS"), *seed = getenv("KVMFAKE_SEED");
	unsigned secs = s ? (unsigned)atoi(s) : 5, attacks = 0, pairs = 0, good_at = n;
	uint64_t wbuf = galloc(4096, 4096), rbuf = galloc(4096, 4096);
	bool trace = getenv("KVMFAKE_TRACE") != NULL;
	struct timespec t0, t;
	char why[160];

	rng = 0x9e3779b97f4a7c15ULL * (seed ? strtoull(seed, NULL, 0) + 1 : 2);
	for (unsigned i = 0; i < n; i++)
		if (devs[i].type == 2)
			good_at = i;
	if (good_at == n || n < 2)
		return fail("hostile", "needs a virtio-blk disk to keep well and a device to attack");
	for (unsigned i = 0; i < n; i++)
		if (!vdev_init(&devs[i], 0, devs[i].type == 8 ? 3 : devs[i].type == 1 ? 2 : 1, why))
			return fail("hostile", "%s: set-up: %s", devs[i].name, why);
	say("hostile: %u devices attacked for %u s, %s well-behaved\n", n - 1, secs,
	    devs[good_at].name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		unsigned v = below(n - 1);
		struct vdev *d = &devs[v >= good_at ? v + 1 : v];
		const char *what = below(2) ? chain_attack(&d->q[below(d->nq)]) : reg_attack(d);

		if (trace)
			say("hostile: %s: %s\n", d->name, what);
		attacks++;
		if (below(8) == 0 && !vdev_init(d, 0, d->nq, why) && trace)
			say("hostile: %s: set-up refused: %s\n", d->name, why);
		if (attacks % 4 == 0) {
			if (!good_io(&devs[good_at], wbuf, rbuf, pairs, why))
				return fail("hostile", "the well-behaved %s, after %u attacks: %s",
					    devs[good_at].name, attacks, why);
			pairs++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((unsigned)(t.tv_sec - t0.tv_sec) < secs);
	for (unsigned i = 0; i < n; i++)
		if (i != good_at && !device_check(&devs[i], why))
			return fail("hostile", "%s after the attacks: %s", devs[i].name, why);
	pass("hostile", "%u attacks on %u devices; the well-behaved %s verified %u write/read "
	     "pairs meanwhile; every attacked device reset and served a request after", attacks,
	     n - 1, devs[good_at].name, pairs);
}
