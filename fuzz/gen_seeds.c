// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the seed corpora, fuzz/seeds/NAME/, one small valid (or
 * instructively broken) input per file: `make -f fuzz/fuzz.mk seeds`.
 * Ring inputs (virtqueue, blk, net) are laid out as fuzz.h describes; kernels
 * come from the unit tests' fixtures (tests/boot_fixtures.c), which assert
 * with check and so run inside a check test case here.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "tests/boot_fixtures.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

static const char *out_dir;
static unsigned written;

static void write_seed(const char *harness, const char *name, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, harness);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f)) {
		perror(path);
		exit(1);
	}
	written++;
}

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

/* ---- SCSI CDBs ---- */

#define SCSI_NO_LUN	0x01	/* fuzz_scsi.c's LUN flags */
#define SCSI_RO		0x02
#define SCSI_BS4K	0x04
#define SCSI_NO_UNMAP	0x08
#define SCSI_NO_ZERO	0x10
#define SCSI_FAIL	0x20
#define SCSI_BUSY_IO	0x40
#define SCSI_SHORT	0x80
#define CMD_IN		0x01	/* ... and command control bits */
#define CMD_LU_RESET	0x02
#define CMD_PIECE(n)	((n) << 4)

struct cdbs {
	uint8_t buf[8192];
	size_t len;
};

#define CDB(...) ((const uint8_t[16]){ __VA_ARGS__ })

/* One command record: control, data length, reserved, CDB, data-out. */
static void cmd(struct cdbs *c, uint8_t ctl, uint16_t len, const uint8_t *cdb,
		const uint8_t *data)
{
	uint8_t *r = c->buf + c->len;

	r[0] = ctl;
	r[1] = (uint8_t)len;
	r[2] = (uint8_t)(len >> 8);
	r[3] = 0;
	memcpy(r + 4, cdb, 16);
	c->len += 20;
	if (!(ctl & CMD_IN)) {
		if (data)
			memcpy(c->buf + c->len, data, len);
		else
			memset(c->buf + c->len, 0x5a, len);
		c->len += len;
	}
}

/* The input starts with the LUN flags; then come the records. */
static void cdbs_begin(struct cdbs *c, uint8_t lun_flags)
{
	memset(c, 0, sizeof(*c));
	c->buf[0] = lun_flags;
	c->len = 1;
}

static void cdbs_write(struct cdbs *c, const char *name)
{
	write_seed("scsi", name, c->buf, c->len, NULL, 0);
	cdbs_begin(c, 0);
}

static void scsi_seeds(void)
{
	static const uint8_t zero[512], caching_off[24] = {
		0, 0, 0, 0,			/* mode parameter header (6) */
		0x08, 0x12,			/* caching page, WCE 0 */
	};
	static const uint8_t unmap[40] = {
		0, 38, 0, 32, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0,		/* lba 8, 4 blocks */
		0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0, 0, 0,	/* lba 64, 16 */
	};
	static struct cdbs c;

	cdbs_begin(&c, 0);
	cmd(&c, CMD_IN, 0, CDB(0x00), NULL);					/* TEST UNIT READY */
	cmd(&c, CMD_IN, 96, CDB(0x12, 0, 0, 0, 96), NULL);			/* INQUIRY */
	cmd(&c, CMD_IN, 8, CDB(0x25), NULL);					/* READ CAPACITY (10) */
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x10, [13] = 32), NULL);		/* READ CAPACITY (16) */
	cdbs_write(&c, "inquiry-capacity");

	for (unsigned i = 0; i < 6; i++) {
		static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

		cmd(&c, CMD_IN | CMD_PIECE(i), 252, CDB(0x12, 1, pages[i], 0, 252), NULL);
	}
	cdbs_write(&c, "inquiry-vpd");

	cmd(&c, CMD_IN, 255, CDB(0x1a, 0, 0x3f, 0, 255), NULL);		/* MODE SENSE (6) */
	cmd(&c, CMD_IN, 255, CDB(0x5a, 0x10, 0x08, 0, [8] = 255), NULL);	/* (10), LLBAA */
	cmd(&c, CMD_IN, 64, CDB(0x1a, 0x08, 0x4a, 0, 64), NULL);		/* changeable */
	cdbs_write(&c, "mode-sense");

	cmd(&c, 0, 24, CDB(0x15, 0x10, 0, 0, 24), caching_off);		/* MODE SELECT (6) */
	cmd(&c, CMD_PIECE(3), 1024, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 2), NULL);	/* write-through */
	cdbs_write(&c, "mode-select-write-through");

	cmd(&c, CMD_PIECE(2), 1024, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 2), NULL);	/* WRITE (10) */
	cmd(&c, CMD_IN | CMD_PIECE(5), 1024, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 2), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x08, 0, 0, 2, 1), NULL);			/* READ (6) */
	cmd(&c, 0, 512, CDB(0x0a, 0, 0, 3, 1), NULL);				/* WRITE (6) */
	cdbs_write(&c, "read-write");

	cmd(&c, 0, 512, CDB(0xaa, 0, 0, 0, 0, 9, 0, 0, 0, 1), NULL);		/* WRITE (12) */
	cmd(&c, CMD_IN, 512, CDB(0xa8, 0, 0, 0, 0, 9, 0, 0, 0, 1), NULL);	/* READ (12) */
	cmd(&c, 0, 1024, CDB(0x8a, 0x08, [9] = 20, [13] = 2), NULL);		/* WRITE (16) FUA */
	cmd(&c, CMD_IN, 1024, CDB(0x88, 0, [9] = 20, [13] = 2), NULL);	/* READ (16) */
	cdbs_write(&c, "read-write-12-16-fua");

	cmd(&c, CMD_IN, 0, CDB(0x2f, 0, 0, 0, 0, 4, 0, 0, 8), NULL);		/* VERIFY (10) */
	cmd(&c, CMD_IN, 0, CDB(0x8f, 0x02, [9] = 4, [13] = 8), NULL);		/* BYTCHK: refused */
	cmd(&c, CMD_IN, 0, CDB(0x35), NULL);					/* SYNCHRONIZE CACHE */
	cmd(&c, CMD_IN, 0, CDB(0x91), NULL);
	cdbs_write(&c, "verify-sync");

	cmd(&c, 0, 512, CDB(0x93, 0x08, [9] = 10, [13] = 20), zero);		/* WRITE SAME unmap */
	cmd(&c, CMD_IN, 0, CDB(0x93, 0x09, [9] = 40, [13] = 8), NULL);	/* NDOB */
	cmd(&c, 0, 512, CDB(0x41, 0, 0, 0, 0, 50, 0, 0, 20), NULL);		/* a pattern */
	cdbs_write(&c, "write-same");

	c.buf[0] = SCSI_NO_UNMAP | SCSI_NO_ZERO;
	cmd(&c, CMD_PIECE(4), 512, CDB(0x93, 0x08, [9] = 10, [13] = 40), zero);
	cdbs_write(&c, "write-same-zero-loop");

	cmd(&c, 0, 40, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 40), unmap);		/* UNMAP */
	cdbs_write(&c, "unmap");

	cmd(&c, CMD_IN, 64, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64), NULL);	/* REPORT LUNS */
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);			/* REQUEST SENSE */
	cmd(&c, CMD_IN, 0, CDB(0x1b, 0, 0, 0, 1), NULL);			/* START STOP UNIT */
	cmd(&c, CMD_IN, 0, CDB(0x1e, 0, 0, 0, 1), NULL);			/* PREVENT ALLOW */
	cmd(&c, CMD_IN, 1024, CDB(0xa3, 0x0c, 0x80, [8] = 4), NULL);		/* REPORT OPCODES */
	cmd(&c, CMD_IN, 64, CDB(0xa3, 0x0c, 0x01, 0x28, [9] = 64), NULL);
	cdbs_write(&c, "small-commands");

	cmd(&c, CMD_IN | CMD_LU_RESET, 0, CDB(0x00), NULL);			/* unit attention */
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);
	cmd(&c, CMD_IN, 0, CDB(0xff), NULL);					/* unknown opcode */
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x1f, [13] = 32), NULL);		/* unknown SA */
	cmd(&c, CMD_IN, 0, CDB(0x00, 0, 0, 0, 0, 0x04), NULL);		/* NACA */
	cdbs_write(&c, "reset-and-refusals");

	c.buf[0] = SCSI_NO_LUN;
	cmd(&c, CMD_IN, 96, CDB(0x12, 0, 0, 0, 96), NULL);
	cmd(&c, CMD_IN, 64, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64), NULL);
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cdbs_write(&c, "no-lun");

	c.buf[0] = SCSI_RO;
	cmd(&c, 0, 512, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 255, CDB(0x1a, 0, 0x3f, 0, 255), NULL);
	cdbs_write(&c, "read-only");

	c.buf[0] = SCSI_BS4K;
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x10, [13] = 32), NULL);
	cmd(&c, CMD_IN | CMD_PIECE(8), 4096, CDB(0x28, 0, 0, 0, 0, 3, 0, 0, 1), NULL);
	cdbs_write(&c, "4k-blocks");

	c.buf[0] = SCSI_FAIL;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, 0, 512, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 0, CDB(0x35), NULL);
	cdbs_write(&c, "io-errors");

	c.buf[0] = SCSI_BUSY_IO;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cdbs_write(&c, "busy");

	c.buf[0] = SCSI_SHORT;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 4), NULL);	/* overrun */
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 1, 0, 0, 0, 1), NULL);	/* past the end */
	cdbs_write(&c, "short-overrun-range");
}

/* ---- kernels ---- */

static void boot_elf(const char *name, const struct elf_spec *e)
{
	size_t len;
	uint8_t *img = elf_make(e, &len);

	write_seed("boot", name, img, len, NULL, 0);
	free(img);
}

static void boot_bz(const char *name, const struct bz_spec *b)
{
	size_t len;
	uint8_t *img = bz_make(b, &len);

	write_seed("boot", name, img, len, NULL, 0);
	free(img);
}

/* Small images: one page of segment instead of the fixtures' two. */
static void small_elf(struct elf_spec *s, int is64)
{
	elf_spec_default(s, is64);
	s->load[0].filesz = 0x400;
	s->load[0].memsz = 0x1000;
	s->file_len = 0x1400;
}

START_TEST(boot_seeds)
{
	struct elf_spec e;
	struct bz_spec b;

	small_elf(&e, 1);
	boot_elf("pvh-elf64", &e);
	small_elf(&e, 0);
	boot_elf("pvh-elf32", &e);
	small_elf(&e, 0);
	e.note = NOTE_SECTION;
	e.note_after_other = 1;
	boot_elf("pvh-note-in-section", &e);
	small_elf(&e, 1);
	e.note = NOTE_NONE;
	boot_elf("linux64-elf64", &e);
	small_elf(&e, 0);
	e.note = NOTE_NONE;
	e.mb_offset = 0x400;
	e.mb_flags = 0x3;
	boot_elf("multiboot-elf32", &e);
	small_elf(&e, 1);
	e.mb_offset = 0x600;
	e.mb_flags = 0x2;
	boot_elf("multiboot-pvh-elf64", &e);
	small_elf(&e, 0);
	e.note = NOTE_NONE;
	e.mb_offset = 0x400;
	e.mb_flags = 0x10004;		/* a.out kludge and video: refused */
	boot_elf("multiboot-refused-flags", &e);
	small_elf(&e, 1);
	e.nload = 3;
	e.load[1] = (struct load_spec){ 0x1400, 0x200000, 0x200000, 0x100, 0x2000 };
	e.load[2] = (struct load_spec){ 0x1500, 0x400000, 0x400000, 0x100, 0x100 };
	e.file_len = 0x1600;
	boot_elf("pvh-three-segments", &e);

	bz_spec_default(&b);
	b.pm_size = 0x800;
	boot_bz("bzimage", &b);
	bz_spec_default(&b);
	b.pm_size = 0x800;
	b.version = 0x0206;
	b.relocatable = 0;
	b.xloadflags = 0;
	boot_bz("bzimage-2.06-fixed", &b);
	bz_spec_default(&b);
	b.pm_size = 0x800;
	b.setup_sects = 0;
	b.cmdline_size = 16;
	b.initrd_addr_max = 0x100000;
	boot_bz("bzimage-tight-limits", &b);
	bz_spec_default(&b);
	b.pm_size = 0x800;
	b.cut = 0x10;
	boot_bz("bzimage-truncated", &b);
}
END_TEST

static void kernel_seeds(void)
{
	Suite *s = suite_create("seeds");
	TCase *tc = tcase_create("boot");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, boot_seeds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed) {
		fprintf(stderr, "gen_seeds: the kernel fixtures failed\n");
		exit(1);
	}
	write_seed("boot", "not-a-kernel", "MZ\x90\0this is not a kernel", 24, NULL, 0);
}

/* ---- command lines ---- */

static void text(const char *harness, const char *name, const char *s)
{
	write_seed(harness, name, s, strlen(s), NULL, 0);
}

static void text_seeds(void)
{
	static const char *const disks[][2] = {
		{ "path", "path=disk.img" },
		{ "null", "null=1G" },
		{ "all-keys", "path=/var/lib/x.img,iface=blk,queues=4,queue_size=128,readonly=on,"
			      "cache=writeback,serial=KITE-0001,iothreads=2,poll_us=50" },
		{ "comma-in-path", "path=a,,b.img,readonly=off" },
		{ "null-fraction", "null=4.5G,cache=none,iface=scsi" },
		{ "bad-queue-size", "path=x.img,queue_size=100" },
		{ "path-and-null", "path=x.img,null=512" },
		{ "twice", "path=x.img,queues=1,queues=2" },
		{ "trailing-comma", "null=512K," },
		{ "serial-long", "null=1M,serial=ABCDEFGHIJKLMNOPQRSTU" },
		{ "unknown-key", "path=x.img,speed=fast" },
	};
	static const char *const runs[][2] = {
		{ "minimal", "--kernel\n/proc/self/exe" },
		{ "equals", "--kernel=/proc/self/exe\n--memory=512M\n--cpus=2" },
		{ "all-options", "--kernel\n/proc/self/exe\n--initrd\n/proc/self/exe\n--cmdline\n"
				 "console=ttyS0\n--cpus\n4\n--memory\n4.5G\n--hugepages\n2M\n"
				 "--numa-node\n0\n--console\nfile=/tmp/x\n--boot\nlinux64\n--verbose" },
		{ "disks", "--kernel\n/proc/self/exe\n--disk\nnull=1G,queues=2\n--disk\n"
			   "path=x.img,readonly=on" },
		{ "help", "--help" },
		{ "bad-memory", "--kernel\n/proc/self/exe\n--memory\nlots" },
		{ "hugepages-mismatch", "--kernel\n/proc/self/exe\n--memory\n17M\n--hugepages\n2M" },
		{ "missing-value", "--kernel\n/proc/self/exe\n--cpus" },
		{ "not-a-file", "--kernel\n/dev/null" },
		{ "no-kernel", "--memory\n1G" },
		{ "unknown", "--kernel\n/proc/self/exe\n--turbo" },
		{ "size-suffixes", "--kernel\n/proc/self/exe\n--memory\n1GiB\n--cpus\n254" },
	};

	static const char *const requests[][2] = {
		{ "info", "{\"cmd\": \"info\"}" },
		{ "pause-twice-resume", "{\"cmd\":\"pause\"}\n{\"cmd\":\"pause\"}\n"
					"{\"cmd\":\"resume\"}\n{\"cmd\":\"resume\"}\n" },
		{ "stop", "{\"cmd\": \"stop\"}\n" },
		{ "not-json", "cmd=info\n" },
		{ "not-an-object", "[\"info\"]\n\"info\"\n42\n" },
		{ "cmd-not-string", "{\"cmd\": 5}\n{\"cmd\": null}\n{}\n" },
		{ "unknown-cmd", "{\"cmd\": \"reboot\"}\n" },
		{ "extra-fields", "{\"cmd\":\"info\",\"x\":{\"a\":[1,2.5,{\"b\":null}],\"c\":true}}\n" },
		{ "escapes", "{\"cmd\": \"in\\u0066o\"}\n{\"cmd\": \"\\ud83d\\ude00\"}\n" },
		{ "empty-lines", "\n\n\n" },
		{ "nested", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{\"cmd\":\"info\"}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n" },
		{ "split-request", "{\"cmd\":" },
	};
	static char longline[4200];

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		text("control", requests[i][0], requests[i][1]);
	/* One line longer than the server takes: it answers and hangs up. */
	memset(longline, ' ', sizeof(longline) - 1);
	memcpy(longline, "{\"cmd\": \"info\"", 14);
	text("control", "too-long", longline);

	for (size_t i = 0; i < sizeof(disks) / sizeof(disks[0]); i++)
		text("disk_opts", disks[i][0], disks[i][1]);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		text("config", runs[i][0], runs[i][1]);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	vq_seeds();
	blk_seeds();
	net_seeds();
	scsi_seeds();
	kernel_seeds();
	text_seeds();
	printf("gen_seeds: %u seeds in %s\n", written, out_dir);
	return 0;
}
