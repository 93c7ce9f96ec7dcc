// SPDX-License-Identifier: Apache-2.0
/*
 * The seeds of the ring harnesses (virtqueue, blk, net) for gen_seeds:
 * ring inputs laid out as fuzz.h describes, by a tiny driver that writes
 * the body as the harness will see it from RING_GPA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/gen_seeds.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

/* ---- ring inputs: a tiny driver writing the body seen from RING_GPA ---- */

struct ring {
	struct ring_hdr h;
	uint8_t body[0x8000];
	size_t len;		/* body bytes in use */
	uint16_t size;
	uint16_t next_desc;
	uint16_t avail_idx;
};

struct seg {
	uint64_t gpa;
	uint32_t len;
	int write;
};

static uint64_t avail_gpa(const struct ring *r)
{
	return RING_GPA + 16ULL * r->size;
}

static uint8_t *at(struct ring *r, uint64_t gpa)
{
	if (gpa < RING_GPA || gpa - RING_GPA >= sizeof(r->body)) {
		fprintf(stderr, "gen_seeds: gpa 0x%llx outside the seed body\n",
			(unsigned long long)gpa);
		exit(1);
	}
	return r->body + (gpa - RING_GPA);
}

static void ring_init(struct ring *r, unsigned log2, uint8_t features)
{
	memset(r, 0, sizeof(*r));
	r->h.size_log2 = (uint8_t)log2;
	r->h.features = features;
	r->size = (uint16_t)(1u << log2);
	/* Descriptors, avail ring with used_event, rounded up to 16. */
	r->len = (16u * r->size + 6 + 2u * r->size + 15) & ~15u;
}

/* Room for n bytes after the rings (filled with `fill`); its gpa. */
static uint64_t ring_alloc(struct ring *r, size_t n, int fill)
{
	uint64_t gpa = RING_GPA + r->len;

	memset(at(r, gpa), fill, n);
	r->len += (n + 15) & ~(size_t)15;
	return gpa;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void desc(struct ring *r, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint8_t *d = at(r, table + 16ULL * i);

	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void ring_add(struct ring *r, uint16_t head)
{
	put16(at(r, avail_gpa(r) + 4 + 2ULL * (r->avail_idx % r->size)), head);
	r->avail_idx++;
	put16(at(r, avail_gpa(r) + 2), r->avail_idx);
}

/* Start the indices at `start` (the virtqueue harness's flags bit 0). */
static void ring_start(struct ring *r, uint16_t start)
{
	r->h.flags |= 1;
	r->h.start = start;
	r->avail_idx = start;
	put16(at(r, avail_gpa(r) + 2), start);
}

/* Segments as consecutive descriptors; the head. */
static uint16_t chain(struct ring *r, const struct seg *s, unsigned n)
{
	uint16_t head = r->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t me = (uint16_t)((head + i) % r->size);

		desc(r, RING_GPA, me, s[i].gpa, s[i].len,
		     (s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
		     (uint16_t)((me + 1) % r->size));
	}
	r->next_desc = (uint16_t)((head + n) % r->size);
	ring_add(r, head);
	return head;
}

/* Segments in an indirect table, behind one descriptor. */
static uint16_t chain_indirect(struct ring *r, const struct seg *s, unsigned n)
{
	uint64_t table = ring_alloc(r, 16 * n, 0);
	uint16_t head = r->next_desc;

	for (unsigned i = 0; i < n; i++)
		desc(r, table, (uint16_t)i, s[i].gpa, s[i].len,
		     (s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
		     (uint16_t)(i + 1));
	desc(r, RING_GPA, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	r->next_desc = (uint16_t)((head + 1) % r->size);
	ring_add(r, head);
	return head;
}

static void ring_write(struct ring *r, const char *harness, const char *name)
{
	write_seed(harness, name, &r->h, sizeof(r->h), r->body, r->len);
}

/* ---- virtqueue ---- */

static void vq_seeds(void)
{
	const uint8_t ind = RING_F_INDIRECT, evi = RING_F_EVENT_IDX;
	struct ring r;
	uint64_t a, b, c;

	ring_init(&r, 3, 0);
	a = ring_alloc(&r, 64, 0x11);
	b = ring_alloc(&r, 128, 0);
	chain(&r, (struct seg[]){ { a, 64, 0 }, { b, 128, 1 } }, 2);
	ring_write(&r, "virtqueue", "one-chain");

	ring_init(&r, 4, evi);
	a = ring_alloc(&r, 256, 0x22);
	for (unsigned i = 0; i < 5; i++)
		chain(&r, (struct seg[]){ { a, 16, 0 }, { a + 16, 32 * i + 1, 0 },
					  { a + 128, 8, 1 }, { a + 200, 1, 1 } }, 1 + i % 4);
	ring_write(&r, "virtqueue", "batch-event-idx");

	ring_init(&r, 3, ind);
	a = ring_alloc(&r, 512, 0x33);
	chain_indirect(&r, (struct seg[]){ { a, 16, 0 }, { a + 16, 256, 0 }, { a + 300, 1, 1 } }, 3);
	ring_write(&r, "virtqueue", "indirect");

	/* Two direct descriptors, then an indirect one ending the chain. */
	ring_init(&r, 3, ind);
	a = ring_alloc(&r, 256, 0x44);
	b = ring_alloc(&r, 32, 0);
	desc(&r, b, 0, a + 64, 64, VIRTQ_DESC_F_WRITE, 0);
	desc(&r, RING_GPA, 0, a, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&r, RING_GPA, 1, a + 16, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(&r, RING_GPA, 2, b, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_add(&r, 0);
	ring_write(&r, "virtqueue", "direct-then-indirect");

	ring_init(&r, 2, ind);
	a = ring_alloc(&r, 32, 0);
	desc(&r, a, 0, a, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(&r, RING_GPA, 0, a, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ring_add(&r, 0);
	ring_write(&r, "virtqueue", "indirect-in-indirect");

	ring_init(&r, 3, 0);
	chain(&r, (struct seg[]){ { RAM_HIGH_GPA, 4096, 0 },
				  { RAM_HIGH_GPA + RAM_HIGH_SIZE - 512, 512, 1 } }, 2);
	ring_write(&r, "virtqueue", "high-region");

	ring_init(&r, 2, evi);
	ring_start(&r, 0xfffe);
	a = ring_alloc(&r, 64, 0x55);
	for (unsigned i = 0; i < 3; i++)
		chain(&r, (struct seg[]){ { a, 8, 0 }, { a + 8, 8, 1 } }, 2);
	put16(at(&r, avail_gpa(&r) + 4 + 2 * 4), 0xffff);	/* used_event */
	ring_write(&r, "virtqueue", "index-wrap");

	ring_init(&r, 2, 0);
	a = ring_alloc(&r, 64, 0);
	desc(&r, RING_GPA, 0, a, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(&r, RING_GPA, 1, a, 8, VIRTQ_DESC_F_NEXT, 0);
	ring_add(&r, 0);
	ring_write(&r, "virtqueue", "loop");

	ring_init(&r, 2, 0);
	chain(&r, (struct seg[]){ { RAM_LOW_SIZE + 0x100, 64, 0 } }, 1);
	chain(&r, (struct seg[]){ { RAM_LOW_SIZE - 0x100, 0x200, 0 } }, 1);
	chain(&r, (struct seg[]){ { RAM_HIGH_GPA - 8, 16, 1 } }, 1);
	chain(&r, (struct seg[]){ { UINT64_MAX - 8, 16, 1 } }, 1);
	ring_write(&r, "virtqueue", "outside-ram");

	ring_init(&r, 2, 0);
	a = ring_alloc(&r, 64, 0);
	chain(&r, (struct seg[]){ { a, 0, 0 } }, 1);
	chain(&r, (struct seg[]){ { a, 8, 1 }, { a + 8, 8, 0 } }, 2);
	ring_write(&r, "virtqueue", "zero-len-and-read-after-write");

	ring_init(&r, 2, 0);
	a = ring_alloc(&r, 64, 0);
	chain(&r, (struct seg[]){ { a, 8, 0 } }, 1);
	put16(at(&r, avail_gpa(&r) + 2), 9);			/* idx jumps past size */
	ring_write(&r, "virtqueue", "avail-idx-jump");

	ring_init(&r, 2, 0);
	ring_add(&r, 7);					/* head out of range */
	ring_write(&r, "virtqueue", "bad-head");

	ring_init(&r, 3, 0);
	r.h.extra = 2;						/* two iovecs per pop */
	a = ring_alloc(&r, 64, 0);
	chain(&r, (struct seg[]){ { a, 8, 0 }, { a + 8, 8, 0 }, { a + 16, 8, 1 }, { a + 24, 8, 1 } }, 4);
	chain(&r, (struct seg[]){ { a, 8, 0 }, { a + 8, 8, 1 } }, 2);
	ring_write(&r, "virtqueue", "too-many-iovecs");

	/* A device-writable buffer over the avail ring: our writes move idx. */
	ring_init(&r, 2, 0);
	c = avail_gpa(&r);
	chain(&r, (struct seg[]){ { c, 6, 1 } }, 1);
	ring_write(&r, "virtqueue", "buffer-over-ring");

	ring_init(&r, 0, 0);
	a = ring_alloc(&r, 16, 0);
	chain(&r, (struct seg[]){ { a, 16, 1 } }, 1);
	ring_write(&r, "virtqueue", "size-1");

	ring_init(&r, 7, ind | evi);
	a = ring_alloc(&r, 1024, 0x66);
	for (unsigned i = 0; i < 40; i++) {
		struct seg s[3] = { { a + i, 16, 0 }, { a + 512, i + 1, 1 }, { a + 900, 1, 1 } };

		if (i % 5 == 4)
			chain_indirect(&r, s, 3);
		else
			chain(&r, s, 3);
	}
	ring_write(&r, "virtqueue", "size-128-mixed");
}

/* ---- virtio-blk ---- */

#define BLK_RO		0x01	/* the harness's flags, see fuzz_blk.c */
#define BLK_NULL	0x02
#define BLK_FAIL	0x04
#define BLK_SHORT	0x08
#define BLK_POLL	0x10
#define BLK_NO_DZ	0x20

enum layout { SPLIT, MERGED, HDR_SPLIT, INDIRECT };

/* A header (and segments for discard / write-zeroes) in RAM; its gpa. */
static uint64_t blk_hdr(struct ring *r, uint32_t type, uint64_t sector, unsigned nseg)
{
	uint64_t g = ring_alloc(r, 16 + 16 * nseg, 0);

	put32(at(r, g), type);
	put64(at(r, g + 8), sector);
	for (unsigned i = 0; i < nseg; i++) {
		put64(at(r, g + 16 + 16 * i), 8 * i);			/* sector */
		put32(at(r, g + 24 + 16 * i), 4);			/* num_sectors */
		put32(at(r, g + 28 + 16 * i), type == VIRTIO_BLK_T_WRITE_ZEROES);	/* unmap */
	}
	return g;
}

/* One request: header, data (if len; device-writable for IN and GET_ID),
 * status, laid out as asked. */
static void blk_req(struct ring *r, uint32_t type, uint64_t sector, uint32_t len,
		    enum layout l)
{
	unsigned nseg = type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES ? 2 : 0;
	uint64_t h = blk_hdr(r, type, sector, nseg);
	int w = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint32_t hlen = 16 + 16 * nseg;
	struct seg s[4];
	unsigned n = 0;

	if (l == MERGED && !w && len) {
		/* Header and data in one buffer. */
		uint64_t m = ring_alloc(r, hlen + len, 0x5a);

		memcpy(at(r, m), at(r, h), hlen);
		s[n++] = (struct seg){ m, hlen + len, 0 };
	} else if (l == HDR_SPLIT) {
		s[n++] = (struct seg){ h, 9, 0 };
		s[n++] = (struct seg){ h + 9, hlen - 9, 0 };
	} else {
		s[n++] = (struct seg){ h, hlen, 0 };
	}
	if (len && !(l == MERGED && !w)) {
		/* MERGED: the status byte ends the data buffer. */
		uint32_t dlen = len + (l == MERGED);

		s[n++] = (struct seg){ ring_alloc(r, dlen, w ? 0 : 0x5a), dlen, w };
	}
	if (!(l == MERGED && w && len))
		s[n++] = (struct seg){ ring_alloc(r, 1, 0xee), 1, 1 };
	if (l == INDIRECT)
		chain_indirect(r, s, n);
	else
		chain(r, s, n);
}

static void blk_one(const char *name, uint8_t features, uint8_t flags, uint32_t type,
		    uint64_t sector, uint32_t len, enum layout l)
{
	struct ring r;

	ring_init(&r, 4, features);
	r.h.flags = flags;
	blk_req(&r, type, sector, len, l);
	ring_write(&r, "blk", name);
}

static void blk_seeds(void)
{
	const uint8_t ind = RING_F_INDIRECT, evi = RING_F_EVENT_IDX;
	struct ring r;
	uint64_t a;

	blk_one("write", 0, 0, VIRTIO_BLK_T_OUT, 3, 1024, SPLIT);
	blk_one("read", 0, 0, VIRTIO_BLK_T_IN, 3, 1024, SPLIT);
	blk_one("write-merged", 0, 0, VIRTIO_BLK_T_OUT, 5, 512, MERGED);
	blk_one("read-merged", 0, 0, VIRTIO_BLK_T_IN, 5, 512, MERGED);
	blk_one("read-header-split", 0, 0, VIRTIO_BLK_T_IN, 0, 512, HDR_SPLIT);
	blk_one("write-indirect", ind, 0, VIRTIO_BLK_T_OUT, 8, 2048, INDIRECT);
	blk_one("flush", 0, 0, VIRTIO_BLK_T_FLUSH, 0, 0, SPLIT);
	blk_one("get-id", 0, 0, VIRTIO_BLK_T_GET_ID, 0, 20, SPLIT);
	blk_one("discard", 0, 0, VIRTIO_BLK_T_DISCARD, 0, 0, SPLIT);
	blk_one("write-zeroes", 0, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, HDR_SPLIT);
	blk_one("unknown-type", 0, 0, 99, 0, 512, SPLIT);
	blk_one("read-past-end", 0, 0, VIRTIO_BLK_T_IN, 255, 1024, SPLIT);
	blk_one("write-read-only", 0, BLK_RO, VIRTIO_BLK_T_OUT, 0, 512, SPLIT);
	blk_one("discard-read-only", 0, BLK_RO, VIRTIO_BLK_T_DISCARD, 0, 0, SPLIT);
	blk_one("read-null", 0, BLK_NULL, VIRTIO_BLK_T_IN, 2, 4096, SPLIT);
	blk_one("write-fails", 0, BLK_FAIL, VIRTIO_BLK_T_OUT, 2, 512, SPLIT);
	blk_one("read-short", 0, BLK_SHORT, VIRTIO_BLK_T_IN, 2, 512, SPLIT);
	blk_one("zeroes-unsupported", 0, BLK_NO_DZ, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, SPLIT);

	/* A batch of everything, with EVENT_IDX, then the same polled. */
	for (int poll = 0; poll < 2; poll++) {
		ring_init(&r, 4, evi | ind);
		r.h.flags = poll ? BLK_POLL : 0;
		blk_req(&r, VIRTIO_BLK_T_OUT, 1, 512, SPLIT);
		blk_req(&r, VIRTIO_BLK_T_IN, 1, 512, MERGED);
		blk_req(&r, VIRTIO_BLK_T_FLUSH, 0, 0, SPLIT);
		blk_req(&r, VIRTIO_BLK_T_GET_ID, 0, 20, INDIRECT);
		blk_req(&r, VIRTIO_BLK_T_DISCARD, 0, 0, SPLIT);
		ring_write(&r, "blk", poll ? "batch-polled" : "batch");
	}

	/* Features the driver refused: FLUSH, DISCARD, WRITE_ZEROES. */
	ring_init(&r, 3, 0);
	r.h.extra = 7;
	blk_req(&r, VIRTIO_BLK_T_FLUSH, 0, 0, SPLIT);
	blk_req(&r, VIRTIO_BLK_T_DISCARD, 0, 0, SPLIT);
	blk_req(&r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, SPLIT);
	ring_write(&r, "blk", "features-refused");

	/* A read scattered over eight buffers, two of them in high RAM. */
	ring_init(&r, 4, 0);
	{
		struct seg s[10] = { { blk_hdr(&r, VIRTIO_BLK_T_IN, 4, 0), 16, 0 } };

		for (unsigned i = 1; i < 7; i++)
			s[i] = (struct seg){ ring_alloc(&r, 512, 0), 512, 1 };
		s[7] = (struct seg){ RAM_HIGH_GPA, 512, 1 };
		s[8] = (struct seg){ RAM_HIGH_GPA + 4096, 512, 1 };
		s[9] = (struct seg){ ring_alloc(&r, 1, 0xee), 1, 1 };
		chain(&r, s, 10);
	}
	ring_write(&r, "blk", "read-scattered");

	/* No status byte; and a header shorter than 16 bytes. */
	ring_init(&r, 3, 0);
	a = blk_hdr(&r, VIRTIO_BLK_T_OUT, 0, 0);
	chain(&r, (struct seg[]){ { a, 16, 0 } }, 1);
	chain(&r, (struct seg[]){ { a, 8, 0 }, { a + 16, 1, 1 } }, 2);
	ring_write(&r, "blk", "no-status-short-header");
}

/* ---- virtio-net ---- */

#define NET_CTRL	0x01	/* fuzz_net.c's flags */
#define NET_AGAIN	0x02
#define NET_FAIL	0x04
#define NET_SQ_SMALL	0x08
#define NET_NO_QUEUE	0x10

/* A frame: 12-byte header (flags, gso_type, then zeroes), `len` bytes of
 * Ethernet frame; in one buffer or two (header apart). */
static void net_frame(struct ring *r, uint8_t hflags, uint8_t gso, uint32_t len, bool split)
{
	uint64_t g = ring_alloc(r, 12 + len, 0x77);

	memset(at(r, g), 0, 12);
	at(r, g)[0] = hflags;
	at(r, g)[1] = gso;
	if (gso)
		put16(at(r, g + 4), 1448);			/* gso_size */
	if (split)
		chain(r, (struct seg[]){ { g, 12, 0 }, { g + 12, len, 0 } }, 2);
	else
		chain(r, (struct seg[]){ { g, 12 + len, 0 } }, 1);
}

/* A control command: class, command, data; then the ack byte. */
static void net_ctrl(struct ring *r, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint64_t g = ring_alloc(r, 2 + len, 0);
	struct seg s[3] = { { g, 2, 0 } };
	unsigned n = 1;

	at(r, g)[0] = cls;
	at(r, g)[1] = cmd;
	if (len) {
		memcpy(at(r, g + 2), data, len);
		s[n++] = (struct seg){ g + 2, len, 0 };
	}
	s[n++] = (struct seg){ ring_alloc(r, 1, 0xee), 1, 1 };
	chain(r, s, n);
}

static void net_one(const char *name, uint8_t features, uint8_t flags, uint8_t refuse,
		    uint8_t hflags, uint8_t gso, uint32_t len, bool split)
{
	struct ring r;

	ring_init(&r, 4, features);
	r.h.flags = flags;
	r.h.extra = refuse;
	net_frame(&r, hflags, gso, len, split);
	ring_write(&r, "net", name);
}

static void net_seeds(void)
{
	static const uint8_t macs[] = { 1, 0, 0, 0, 0x52, 0x54, 0, 1, 2, 3,
					2, 0, 0, 0, 1, 0, 0x5e, 0, 0, 1, 0x33, 0x33, 0, 0, 0, 1 };
	const uint8_t on = 1, off = 0, two[2] = { 2, 0 }, three[2] = { 3, 0 };
	struct ring r;
	uint64_t a;

	net_one("frame", 0, 0, 0, 0, 0, 60, true);
	net_one("frame-one-buffer", RING_F_INDIRECT, 0, 0, 0, 0, 1514, false);
	net_one("needs-csum", 0, 0, 0, 1, 0, 60, true);
	net_one("needs-csum-refused", 0, 0, 0x04, 1, 0, 60, true);
	net_one("tso4", 0, 0, 0, 1, 1, 4000, true);
	net_one("tso6-ecn", 0, 0, 0, 1, 0x84, 4000, false);
	net_one("tso-refused", 0, 0, 0x08, 1, 4, 4000, true);
	net_one("udp-gso", 0, 0, 0, 1, 3, 4000, true);
	net_one("bad-flags", 0, 0, 0, 0x82, 0, 60, true);
	net_one("too-short", 0, 0, 0, 0, 0, 13, true);
	net_one("tap-fails", 0, NET_FAIL, 0, 0, 0, 60, true);

	/* Eight frames: batched, with EVENT_IDX; the same with a tap that
	 * first says -EAGAIN; and with room for three SQEs only. */
	for (int k = 0; k < 3; k++) {
		static const char *const names[] = { "batch", "batch-again", "batch-small-sq" };
		static const uint8_t fl[] = { 0, NET_AGAIN, NET_SQ_SMALL };

		ring_init(&r, 4, RING_F_EVENT_IDX);
		r.h.flags = fl[k];
		for (unsigned i = 0; i < 8; i++)
			net_frame(&r, 0, 0, 60 + 100 * i, i & 1);
		ring_write(&r, "net", names[k]);
	}

	/* A device-writable buffer in a transmit chain. */
	ring_init(&r, 3, 0);
	a = ring_alloc(&r, 80, 0);
	chain(&r, (struct seg[]){ { a, 12, 0 }, { a + 12, 60, 1 } }, 2);
	ring_write(&r, "net", "tx-writable");

	ring_init(&r, 4, 0);
	r.h.flags = NET_CTRL;
	net_ctrl(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1);
	net_ctrl(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &off, 1);
	net_ctrl(&r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, macs, sizeof(macs));
	net_ctrl(&r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two, 2);
	ring_write(&r, "net", "ctrl");

	ring_init(&r, 4, RING_F_INDIRECT);
	r.h.flags = NET_CTRL;
	net_ctrl(&r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, three, 2);
	net_ctrl(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, two, 2);
	net_ctrl(&r, 9, 0, NULL, 0);
	net_ctrl(&r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, macs + 4, 6);
	ring_write(&r, "net", "ctrl-refused");

	ring_init(&r, 3, 0);
	r.h.flags = NET_CTRL | NET_NO_QUEUE;
	net_ctrl(&r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two, 2);
	ring_write(&r, "net", "ctrl-queue-fails");

	/* Without MQ the control queue is queue 2; without CTRL_RX, RX is refused. */
	ring_init(&r, 3, 0);
	r.h.flags = NET_CTRL;
	r.h.extra = 0x03;
	net_ctrl(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1);
	net_ctrl(&r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, two, 2);
	ring_write(&r, "net", "ctrl-no-mq");

	/* No ack buffer; a command of one byte. */
	ring_init(&r, 3, 0);
	r.h.flags = NET_CTRL;
	a = ring_alloc(&r, 16, 0);
	chain(&r, (struct seg[]){ { a, 3, 0 } }, 1);
	chain(&r, (struct seg[]){ { a, 1, 0 }, { a + 8, 1, 1 } }, 2);
	ring_write(&r, "net", "ctrl-malformed");
}

void ring_seeds(void)
{
	vq_seeds();
	blk_seeds();
	net_seeds();
}
