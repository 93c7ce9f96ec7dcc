// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's guest program, KVMFAKE_GUEST=bench: 4 KiB random reads (or
 * writes, KVMFAKE_RW=randwrite) on every virtio-blk disk and every
 * virtio-scsi target 0, one device at a time, on all of its queues with
 * KVMFAKE_DEPTH requests in flight on each (default 32), for KVMFAKE_SECS
 * seconds (default 5). The guest polls its used rings. What it measures is
 * kite's device path: notifications through ioeventfds, chain parsing,
 * io_uring submission and completion, used-ring updates and interrupts
 * through irqfds. No guest CPU and no VM exits are in it, so the figures
 * are an upper bound for a real guest's, and comparable between blk and
 * scsi on the same backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gprog.h"

#define BLK_F_MQ	(1ULL << 12)
#define MAX_DEPTH	64
#define REQ		4096

struct slot {
	uint64_t hdr, data, status;
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	return xorshift(&rng);
}

/* Descriptor i of q, chained to i + 1 where flags say NEXT. */
static void desc(struct vq *q, unsigned i, uint64_t a, uint32_t l, uint16_t flags)
{
	put_desc(q->desc, i, a, l, flags, (uint16_t)(i + 1));
}

/* Slot s of queue q: a request at head 4 * s, its header rewritten. */
static void post(struct vdev *d, struct vq *q, const struct slot *sl, unsigned s, uint64_t blocks,
		 bool write)
{
	uint64_t lba = (rnd() % (blocks / 8)) * 8;
	unsigned h = 4 * s;
	uint16_t head = (uint16_t)h;

	if (d->type == 2) {
		uint32_t hdr[4] = { write ? 1 : 0, 0, (uint32_t)lba, (uint32_t)(lba >> 32) };

		g_write(sl->hdr, hdr, 16);
		desc(q, h, sl->hdr, 16, 1);
		desc(q, h + 1, sl->data, REQ, write ? 1 : 3);
		desc(q, h + 2, sl->status, 1, 2);
	} else {
		uint8_t req[19 + 32] = { 1, 0, 0x40, 0 };
		uint8_t *cdb = req + 19;

		cdb[0] = write ? 0x2a : 0x28;
		cdb[2] = (uint8_t)(lba >> 24), cdb[3] = (uint8_t)(lba >> 16);
		cdb[4] = (uint8_t)(lba >> 8), cdb[5] = (uint8_t)lba;
		cdb[8] = REQ / 512;
		g_write(sl->hdr, req, sizeof(req));
		desc(q, h, sl->hdr, sizeof(req), 1);
		if (write) {
			desc(q, h + 1, sl->data, REQ, 1);
			desc(q, h + 2, sl->status, 108, 2);
		} else {
			desc(q, h + 1, sl->status, 108, 3);
			desc(q, h + 2, sl->data, REQ, 2);
		}
	}
	g_write(q->avail + 4 + 2 * (q->next_avail % q->size), &head, 2);
	q->next_avail++;
}

static void publish(struct vq *q)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	g_write(q->avail + 2, &q->next_avail, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	g_mmio(q->notify, 2, true, q->index);
}

static void bench_one(struct vdev *d, unsigned secs, unsigned depth, bool write)
{
	static struct slot slots[VQ_MAX][MAX_DEPTH];
	unsigned first = d->type == 8 ? 2 : 0, nq, errors = 0;
	uint64_t blocks, done = 0;
	struct timespec t0, t;
	char why[160];
	double el;

	if (d->type == 2) {
		if (!vdev_init(d, BLK_F_MQ, VQ_MAX, why))
			return fail("bench", "%s: %s", d->name, why);
		blocks = cfg_read(d, 0, 4) | cfg_read(d, 4, 4) << 32;
	} else {
		if (!vdev_init(d, 0, VQ_MAX, why))
			return fail("bench", "%s: %s", d->name, why);
		blocks = 0;
		/* READ CAPACITY(10) through the ordinary path. */
		uint64_t buf = galloc(8, 8), req = galloc(51, 8), resp = galloc(108, 8);
		uint8_t r[51] = { 1, 0, 0x40, 0 };
		struct buf b[3] = { { req, 51, false }, { resp, 108, true }, { buf, 8, true } };
		const uint8_t *p;

		r[19] = 0x25;
		g_write(req, r, sizeof(r));
		if (!vq_request(&d->q[2], b, 3, NULL, why))
			return fail("bench", "%s: READ CAPACITY: %s", d->name, why);
		p = g_ram(buf, 8);
		blocks = ((uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]) + 1;
	}
	nq = d->nq - first;
	if (depth * 4 > d->q[first].size)
		depth = d->q[first].size / 4;
	for (unsigned qi = 0; qi < nq; qi++) {
		struct vq *q = &d->q[first + qi];

		for (unsigned s = 0; s < depth; s++) {
			slots[qi][s] = (struct slot){ galloc(64, 64), galloc(REQ, 4096), galloc(112, 8) };
			if (write)
				gfill(slots[qi][s].data, REQ, s);
			post(d, q, &slots[qi][s], s, blocks, write);
		}
		publish(q);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (unsigned qi = 0; qi < nq; qi++) {
			struct vq *q = &d->q[first + qi];
			const uint8_t *used = g_ram(q->used, 4 + 8 * q->size);
			uint16_t idx;
			bool any = false;

			memcpy(&idx, used + 2, 2);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			while (q->used_seen != idx) {
				uint32_t id;
				unsigned s;

				memcpy(&id, used + 4 + 8 * (q->used_seen % q->size), 4);
				q->used_seen++;
				s = (id / 4) % depth;
				if (*(const uint8_t *)g_ram(slots[qi][s].status + (d->type == 8 ? 10 : 0), 1))
					errors++;
				done++;
				post(d, q, &slots[qi][s], s, blocks, write);
				any = true;
			}
			if (any)
				publish(q);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
	} while (el < secs);
	if (errors)
		return fail("bench", "%s: %u requests failed", d->name, errors);
	say("bench %s: %s 4 KiB, %u queue(s) x depth %u, %.1f s: %.0f IOPS\n", d->name,
	    write ? "randwrite" : "randread", nq, depth, el, done / el);
	pass("bench", "%s: %llu requests", d->name, (unsigned long long)done);
}

void mode_bench(struct vdev *devs, unsigned n)
{
	const char *s = getenv("KVMFAKE_SECS"), *dp = getenv("KVMFAKE_DEPTH");
	const char *rw = getenv("KVMFAKE_RW");
	unsigned secs = s ? (unsigned)atoi(s) : 5, depth = dp ? (unsigned)atoi(dp) : 32;

	if (depth < 1 || depth > MAX_DEPTH)
		depth = 32;
	for (unsigned i = 0; i < n; i++)
		if (devs[i].type == 2 || devs[i].type == 8)
			bench_one(&devs[i], secs, depth, rw && !strcmp(rw, "randwrite"));
}
