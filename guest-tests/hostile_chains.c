// SPDX-License-Identifier: Apache-2.0
/*
 * mode=hostile, ring attacks (see hostile.h): a request of the kind the
 * queue carries, its descriptors mangled one way per attack: headers cut
 * short, zero and huge lengths, addresses past RAM, in the MMIO hole or
 * wrapping past 2^64, buffers over the queue's own rings, writable before
 * readable, loops,
 * next out of range, chains as long as the queue and longer, indirect
 * tables that are out of range, nested, mis-sized or loop, heads out of
 * range, the avail index far ahead or moved back, a head posted twice,
 * descriptors rewritten after the kick, and plain random descriptors.
 *
 * Everything in RAM that a device may write lies in hm.scratch (or the
 * queue's own rings, which a reset rebuilds); headers are rewritten before
 * each use, so what a device scribbled there never becomes a request.
 */
#include "hostile.h"
#include "console.h"

/* hm.scratch layout. */
#define S_DATA		0			/* data buffers, 64 KiB */
#define S_DATA_LEN	(64 * 1024)
#define S_HDR		(64 * 1024)		/* request headers, 128 slots */
#define S_HDR_SLOT	256
#define S_HDR_SLOTS	128
#define S_TABLE		(96 * 1024)		/* indirect tables, 128 KiB */
#define S_TABLE_LEN	(128 * 1024)
#define S_STATUS	(224 * 1024)		/* status bytes and responses, 32 KiB */
#define S_STATUS_LEN	(32 * 1024)
_Static_assert(S_STATUS + S_STATUS_LEN == HOSTILE_SCRATCH, "scratch layout");

#define MAX_SEGS	8
#define SETTLE_US	10000
#define WRAP_ADDR	0xfffffffffffff000ULL

struct seg {
	u64 addr;
	u32 len;
	u16 flags;	/* VIRTQ_DESC_F_WRITE or 0 */
};

enum mangle {
	M_NONE, M_ZERO_LEN, M_HUGE_LEN, M_UNMAPPED, M_WRAP, M_OWN_RING, M_WRITE_FIRST,
	M_FLIP_FLAGS, M_LOOP, M_NEXT_OOR, M_LONG, M_LONGER, M_IND, M_IND_OOR, M_IND_LEN,
	M_IND_NESTED, M_IND_NEXT, M_IND_LOOP, M_IND_BIG, M_HEAD_OOR, M_AVAIL_JUMP,
	M_AVAIL_BACK, M_DOUBLE, M_TOCTOU, M_RANDOM, M_SHORT, M_COUNT
};

const char *const hostile_chain_names[M_COUNT] = {
	"valid", "zero-len", "huge-len", "unmapped", "wrap", "own-ring", "write-first",
	"flip-flags", "loop", "next-oor", "long", "longer", "indirect", "ind-oor", "ind-len",
	"ind-nested", "ind-next", "ind-loop", "ind-big", "head-oor", "avail-jump",
	"avail-back", "double", "toctou", "random", "short",
};
const unsigned hostile_nchain = M_COUNT;
_Static_assert(M_COUNT <= 32, "hm.skip bits 0-31");

static u8 *at(u64 off)
{
	return hm.scratch + off;
}

static u64 phys_of(const void *p)
{
	return (u64)(uintptr_t)p;
}

static u64 data_buf(u32 len)
{
	return phys_of(at(S_DATA + ALIGN_UP(hrand_below(S_DATA_LEN - len), 8)));
}

static u64 status_buf(u32 len)
{
	return phys_of(at(S_STATUS + ALIGN_UP(hrand_below(S_STATUS_LEN - len - 8), 8)));
}

static u8 *hdr_slot(void)
{
	return at(S_HDR + hrand_below(S_HDR_SLOTS) * S_HDR_SLOT);
}

/* An address nothing is mapped at, or one that wraps past 2^64. */
static u64 bad_addr(void)
{
	if (hchance(4) || !hm.nunmapped)
		return WRAP_ADDR + 8 * hrand_below(64);
	return hm.unmapped[hrand_below(hm.nunmapped)] + 8 * hrand_below(512);
}

/* A length that takes a buffer from scratch past the end of RAM. */
static u32 huge_len(u64 addr)
{
	u64 need = hm.ram_end > addr ? hm.ram_end - addr : 0;

	if (need >= 0xffff0000ULL)
		return 0xffffffffu;
	return (u32)MAX(need + PAGE_SIZE + hrand_below(0xfff00000ULL - need), 0x80000000ULL);
}

/* ---- the requests each kind of queue carries ---- */

static unsigned blk_request(struct hdev *h, struct seg *s)
{
	static const u32 types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
		VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, 0x7fff,
	};
	struct blk_hdr *hd = (struct blk_hdr *)hdr_slot();
	u32 type = types[hrand_below(ARRAY_SIZE(types))];
	u64 half = MAX(h->sectors / 2, 16u);
	unsigned n = 0, nd = 1 + hrand_below(3);
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	/* Writes stay in the first half of the disk: the valid requests
	 * check the second. */
	hd->type = type;
	hd->ioprio = hrand();
	hd->sector = hchance(4) ? h->sectors + hrand_below(64) : hrand_below(half - 8);
	s[n++] = (struct seg){ phys_of(hd), sizeof(*hd), 0 };
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		struct blk_seg *sg = (struct blk_seg *)(hd + 1);

		*sg = (struct blk_seg){ hrand_below(half - 8), 1 + hrand_below(8), hrand() & 1 };
		s[n++] = (struct seg){ phys_of(sg), sizeof(*sg), 0 };
	} else if (type != VIRTIO_BLK_T_FLUSH) {
		for (unsigned k = 0; k < nd; k++) {
			u32 len = type == VIRTIO_BLK_T_GET_ID ? VIRTIO_BLK_ID_BYTES
							       : SECTOR_SIZE * (1 + hrand_below(4));

			s[n++] = (struct seg){ data_buf(len), len, dev_writes ? VIRTQ_DESC_F_WRITE : 0 };
		}
	}
	s[n++] = (struct seg){ status_buf(1), 1, VIRTQ_DESC_F_WRITE };
	return n;
}

static unsigned scsi_request(struct hdev *h, unsigned qi, struct seg *s)
{
	u8 *hd = hdr_slot();
	unsigned n = 0;

	memset(hd, 0, 64);
	if (qi == VSCSI_CTRL_Q) {
		/* A TMF or an AN request, sometimes of an unknown type. */
		u32 type = hchance(8) ? hrand() : hrand_below(2);

		memcpy(hd, &type, 4);
		hd[4] = hrand_below(9);
		vscsi_lun(hd + 8, hchance(4) ? hrand_below(4) : 0, 0);
		s[n++] = (struct seg){ phys_of(hd), type == VSCSI_T_TMF ? 24 : 16, 0 };
		s[n++] = (struct seg){ status_buf(8), type == VSCSI_T_TMF ? 1 : 8, VIRTQ_DESC_F_WRITE };
		return n;
	}
	if (qi == VSCSI_EVENT_Q) {
		s[n++] = (struct seg){ status_buf(16), 16, VIRTQ_DESC_F_WRITE };
		return n;
	}
	struct vscsi_req *r = (struct vscsi_req *)hd;
	u64 half = MAX(h->sectors / 2, 16u);
	u32 lba = hrand_below(half - 8), len = 512 * (1 + hrand_below(4));
	int dir = 0;	/* 1 data in, 2 data out */

	vscsi_lun(r->lun, hchance(4) ? hrand_below(8) : 0, hchance(8) ? hrand_below(4) : 0);
	r->id = hrand();
	r->task_attr = hrand_below(4);
	switch (hrand_below(7)) {
	case 0: break;						/* TEST UNIT READY */
	case 1: r->cdb[0] = 0x12; r->cdb[4] = 96; dir = 1; len = 96; break;	/* INQUIRY */
	case 2: r->cdb[0] = 0x25; dir = 1; len = 8; break;	/* READ CAPACITY (10) */
	case 3: r->cdb[0] = 0x03; r->cdb[4] = 96; dir = 1; len = 96; break; /* REQUEST SENSE */
	case 4: r->cdb[0] = 0x28; dir = 1; goto rw;		/* READ (10) */
	case 5: r->cdb[0] = 0x2a; dir = 2; goto rw;		/* WRITE (10) */
	default: r->cdb[0] = 0xc7; break;			/* vendor specific: unknown */
	rw:
		r->cdb[2] = lba >> 24;
		r->cdb[3] = lba >> 16;
		r->cdb[4] = lba >> 8;
		r->cdb[5] = lba;
		r->cdb[8] = 1 + hrand_below(4);
		break;
	}
	s[n++] = (struct seg){ phys_of(r), sizeof(*r), 0 };
	if (dir == 2)
		s[n++] = (struct seg){ data_buf(len), len, 0 };
	s[n++] = (struct seg){ status_buf(sizeof(struct vscsi_resp)), sizeof(struct vscsi_resp),
			       VIRTQ_DESC_F_WRITE };
	if (dir == 1)
		s[n++] = (struct seg){ data_buf(len), len, VIRTQ_DESC_F_WRITE };
	return n;
}

static unsigned net_request(struct hdev *h, unsigned qi, struct seg *s)
{
	u8 *hd = hdr_slot();
	unsigned n = 0;

	if (qi % 2 == 0 && qi < 2u * h->u.net.max_pairs) {		/* receive */
		s[n++] = (struct seg){ data_buf(1536), 1536, VIRTQ_DESC_F_WRITE };
		return n;
	}
	if (qi == 2u * h->u.net.max_pairs) {				/* control */
		hd[0] = hrand_below(6);
		hd[1] = hrand_below(3);
		for (unsigned k = 2; k < 16; k++)
			hd[k] = hrand();
		s[n++] = (struct seg){ phys_of(hd), 2, 0 };
		s[n++] = (struct seg){ phys_of(hd + 8), 1 + hrand_below(8), 0 };
		s[n++] = (struct seg){ status_buf(1), 1, VIRTQ_DESC_F_WRITE };
		return n;
	}
	/* transmit: header and a broadcast frame of an unused ethertype */
	memset(hd, 0, NET_HDR_LEN);
	if (hchance(4))
		for (unsigned k = 0; k < NET_HDR_LEN; k++)
			hd[k] = hrand();
	memset(hd + NET_HDR_LEN, 0xff, 6);
	memcpy(hd + NET_HDR_LEN + 6, "\x02\x6b\x74\x68\x6f\x73", 6);
	hd[NET_HDR_LEN + 12] = 0x88;
	hd[NET_HDR_LEN + 13] = 0xb5;
	for (unsigned k = NET_HDR_LEN + 14; k < NET_HDR_LEN + 64; k++)
		hd[k] = hrand();
	if (hchance(2)) {
		s[n++] = (struct seg){ phys_of(hd), NET_HDR_LEN, 0 };
		s[n++] = (struct seg){ phys_of(hd + NET_HDR_LEN), 64, 0 };
	} else {
		s[n++] = (struct seg){ phys_of(hd), NET_HDR_LEN + 64, 0 };
	}
	return n;
}

/* Which queue to attack: any the driver set up. */
static unsigned pick_queue(struct hdev *h)
{
	return hrand_below(MAX(h->v->nvqs, 1u));
}

static unsigned base_request(struct hdev *h, unsigned qi, struct seg *s)
{
	switch (h->kind) {
	case HK_BLK: return blk_request(h, s);
	case HK_SCSI: return scsi_request(h, qi, s);
	case HK_NET: return net_request(h, qi, s);
	}
	return 0;
}

/* ---- descriptors ---- */

static void fill_desc(struct vring_desc *d, const struct seg *s, bool more, u16 next)
{
	d->addr = s->addr;
	d->len = s->len;
	d->flags = s->flags | (more ? VIRTQ_DESC_F_NEXT : 0);
	d->next = more ? next : 0;
}

/* n segments as a direct chain in n free descriptors; head, -1 if full. */
static int put_chain(struct virtq *q, const struct seg *s, unsigned n, u16 *idx)
{
	if (!n || !vq_take(q, n, idx))
		return -1;
	for (unsigned k = 0; k < n; k++)
		fill_desc(&q->desc[idx[k]], &s[k], k + 1 < n, k + 1 < n ? idx[k + 1] : 0);
	return idx[0];
}

/* n segments as an indirect table in scratch. */
static struct vring_desc *put_table(const struct seg *s, unsigned n)
{
	unsigned slots = S_TABLE_LEN / 16;
	struct vring_desc *t = (struct vring_desc *)at(S_TABLE + 16 * hrand_below(slots - n + 1));

	for (unsigned k = 0; k < n; k++)
		fill_desc(&t[k], &s[k], k + 1 < n, k + 1);
	return t;
}

/* One ring descriptor pointing at table t of n entries; its index, -1 if full. */
static int put_indirect(struct virtq *q, struct vring_desc *t, u32 len, u16 flags)
{
	u16 i;

	if (!vq_take(q, 1, &i))
		return -1;
	q->desc[i] = (struct vring_desc){ phys_of(t), len, VIRTQ_DESC_F_INDIRECT | flags, 0 };
	return i;
}

/* Buffers over the queue's own rings: a device may write them all. */
static void own_ring(struct virtq *q, struct seg *s)
{
	switch (hrand_below(3)) {
	case 0: s->addr = phys_of(q->desc); s->len = MIN(s->len, 16u * q->size); break;
	case 1: s->addr = phys_of(q->avail); s->len = MIN(s->len, 6u + 2 * q->size); break;
	default: s->addr = phys_of(q->used); s->len = MIN(s->len, 6u + 8 * q->size); break;
	}
	if (!s->len)
		s->len = 1;
}

/* A random descriptor: any flags, next anywhere, a buffer in scratch, in
 * our rings, or where nothing is. */
static void random_desc(struct virtq *q, struct vring_desc *d, unsigned nnext)
{
	static const u32 lens[] = { 0, 1, 16, 512, 4096, 65536 };
	struct seg s = { 0, lens[hrand_below(ARRAY_SIZE(lens))], 0 };

	switch (hrand_below(4)) {
	case 0: s.addr = bad_addr(); break;
	case 1: own_ring(q, &s); break;
	default:
		s.len = MIN(s.len, (u32)S_DATA_LEN);
		s.addr = data_buf(s.len);
		if (hchance(8))
			s.len = huge_len(s.addr);
	}
	d->addr = s.addr;
	d->len = s.len;
	d->flags = hrand() & 7;
	d->next = hrand_below(nnext);
}

/* The longest chain the free descriptors allow: the request with its data
 * cut into many small pieces. */
static unsigned long_segs(const struct seg *s, unsigned n, struct seg *out, unsigned max)
{
	unsigned k = 0;

	if (max < n + 1)
		return 0;	/* no room to cut anything */
	out[k++] = s[0];
	for (unsigned i = 1; i < n && k < max; i++) {
		u32 piece = MAX(s[i].len / (max - n + 1), 1u);

		for (u32 o = 0; o < s[i].len && k < max - (n - 1 - i); o += piece)
			out[k++] = (struct seg){ s[i].addr + o, MIN(piece, s[i].len - o), s[i].flags };
	}
	return k;
}

/* ---- the attack ---- */

void hostile_chain(struct hdev *h)
{
	static struct seg big[2 * VIRTQ_MAX_SIZE];
	static u16 idx[VIRTQ_MAX_SIZE];
	unsigned qi = pick_queue(h), n, expect = 1, m = hostile_pick(M_COUNT, 0), k;
	struct virtq *q = &h->v->vq[qi];
	struct seg s[MAX_SEGS];
	struct vring_desc *t;
	int head = -1;
	bool holds;

	if (!q->size)
		return;
	if (hm.trace)
		printf("hostile: %s queue %u: %s\n", h->name, qi, hostile_chain_names[m]);
	/* Receive and event buffers are the device's to keep. */
	holds = (h->kind == HK_SCSI && qi == VSCSI_EVENT_Q) ||
		(h->kind == HK_NET && qi % 2 == 0 && qi < 2u * h->u.net.max_pairs);
	n = base_request(h, qi, s);
	k = hrand_below(n);
	switch (m) {
	case M_ZERO_LEN:
		s[k].len = 0;
		break;
	case M_HUGE_LEN:
		if (s[k].addr < hm.ram_end)
			s[k].len = huge_len(s[k].addr);
		break;
	case M_UNMAPPED:
		s[k].addr = hm.nunmapped ? hm.unmapped[hrand_below(hm.nunmapped)] + 8 * hrand_below(512)
					 : WRAP_ADDR;
		break;
	case M_WRAP:
		s[k].addr = WRAP_ADDR;
		s[k].len = 2 * PAGE_SIZE;
		break;
	case M_OWN_RING:
		own_ring(q, &s[k]);
		break;
	case M_WRITE_FIRST:
		for (unsigned i = 0; i < n; i++)
			if (s[i].flags & VIRTQ_DESC_F_WRITE) {
				struct seg w = s[i];

				memmove(&s[1], &s[0], i * sizeof(s[0]));
				s[0] = w;
				break;
			}
		break;
	case M_SHORT:
		/* A header cut short; a frame shorter than its own header. */
		if (h->kind == HK_NET && !holds && !(s[0].flags & VIRTQ_DESC_F_WRITE))
			n = 1;
		s[0].len = 1 + hrand_below(MIN(s[0].len, (u32)NET_HDR_LEN) - 1);
		break;
	case M_FLIP_FLAGS:
		for (unsigned i = 0; i < n; i++)
			s[i].flags = hchance(2) ? VIRTQ_DESC_F_WRITE : 0;
		break;
	}
	switch (m) {
	case M_LOOP:
	case M_NEXT_OOR:
		if ((head = put_chain(q, s, n, idx)) < 0)
			break;
		q->desc[idx[n - 1]].flags |= VIRTQ_DESC_F_NEXT;
		q->desc[idx[n - 1]].next = m == M_LOOP ? idx[hrand_below(n)] : q->size + hrand_below(1000);
		break;
	case M_LONG:
	case M_LONGER:
		n = long_segs(s, n, big, MIN(q->nfree, (unsigned)q->size));
		if (n < 2 || (head = put_chain(q, big, n, idx)) < 0)
			break;
		if (m == M_LONGER) {
			/* Past the last, on to the first: more than the queue holds. */
			q->desc[idx[n - 1]].flags |= VIRTQ_DESC_F_NEXT;
			q->desc[idx[n - 1]].next = idx[0];
		}
		break;
	case M_IND:
	case M_IND_OOR:
	case M_IND_LEN:
	case M_IND_NEXT:
		t = put_table(s, n);
		if (m == M_IND)
			head = put_indirect(q, t, 16 * n, 0);
		else if (m == M_IND_OOR)
			head = put_indirect(q, (struct vring_desc *)(uintptr_t)bad_addr(), 16 * n, 0);
		else if (m == M_IND_LEN) {
			static const u32 lens[] = { 0, 1, 15, 17, 0x7ffffff0, 0xfffffff0 };

			head = put_indirect(q, t, hchance(4) ? huge_len(phys_of(t))
							     : lens[hrand_below(ARRAY_SIZE(lens))], 0);
		} else if ((head = put_indirect(q, t, 16 * n, VIRTQ_DESC_F_NEXT)) >= 0) {
			/* INDIRECT with NEXT: on to a valid chain. */
			u16 i2[MAX_SEGS];

			if (put_chain(q, s, n, i2) >= 0)
				q->desc[head].next = i2[0];
		}
		break;
	case M_IND_NESTED:
		t = put_table(s, n);
		{
			struct vring_desc *outer = put_table(s, n);

			outer[k].addr = phys_of(t);
			outer[k].len = 16 * n;
			outer[k].flags |= VIRTQ_DESC_F_INDIRECT;
			head = put_indirect(q, outer, 16 * n, 0);
		}
		break;
	case M_IND_LOOP:
		t = put_table(s, n);
		t[n - 1].flags |= VIRTQ_DESC_F_NEXT;
		t[n - 1].next = hchance(2) ? hrand_below(n) : n + hrand_below(64);
		head = put_indirect(q, t, 16 * n, 0);
		break;
	case M_IND_BIG:
		/* More entries than the queue has descriptors. */
		n = long_segs(s, n, big, MIN(2u * q->size + 1, (unsigned)ARRAY_SIZE(big)));
		head = put_indirect(q, put_table(big, n), 16 * n, 0);
		break;
	case M_HEAD_OOR:
		vq_add_raw(q, q->size + hrand_below(0x10000 - q->size));
		head = 0;
		expect = 0;
		hq_publish(q);
		break;
	case M_RANDOM:
		k = 1 + hrand_below(MIN(q->nfree, 16u));
		if (!vq_take(q, k, idx))
			break;
		for (unsigned i = 0; i < k; i++)
			random_desc(q, &q->desc[idx[i]], hchance(4) ? 0x10000 : q->size);
		head = idx[0];
		break;
	default:
		head = hchance(8) ? put_indirect(q, put_table(s, n), 16 * n, 0) : put_chain(q, s, n, idx);
	}
	if (head < 0) {
		h->live = false;	/* out of descriptors: start afresh */
		return;
	}
	h->st.chains++;
	if (m == M_HEAD_OOR) {
		hdev_settle(h, q, expect, SETTLE_US);
		return;
	}
	vq_add_raw(q, head);
	if (m == M_DOUBLE) {
		vq_add_raw(q, head);
		expect = 2;
	}
	if (m == M_AVAIL_JUMP) {
		/* Far more entries than the ring holds appear at once. */
		q->avail_shadow += q->size + hrand_below(0x8000);
		expect = 0;
	}
	hq_publish(q);
	if (holds)
		expect = 0;
	if (m == M_AVAIL_BACK) {
		/* The index moves back under the device. */
		__atomic_store_n(&q->avail->idx, (u16)(q->avail_shadow - 1 - hrand_below(3)),
				 __ATOMIC_RELEASE);
		mmio_write16(q->notify, q->index);
		h->live = false;
	}
	if (m == M_TOCTOU && head < q->size) {
		/* Changed after the kick: the device sees one or the other. */
		q->desc[head].addr = bad_addr();
		q->desc[head].len = hrand();
		q->desc[head].flags = hrand() & 7;
	}
	hdev_settle(h, q, expect, SETTLE_US);
	if (m == M_AVAIL_JUMP || m == M_AVAIL_BACK)
		h->live = false;	/* our view of the ring is gone */
}
