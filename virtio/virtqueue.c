// SPDX-License-Identifier: Apache-2.0
/*
 * Split virtqueue, device side. The guest can rewrite any ring word at any
 * moment, so every guest value is loaded once into a local, checked, and only
 * the local is used. Ordering (the guest runs on other CPUs):
 *  - avail->idx is loaded with acquire before the ring entries and the
 *    descriptors it covers are read;
 *  - used entries are plain stores, published by a release store of used->idx;
 *  - between a store the guest must see (used->idx, the kick-suppression
 *    word) and a load of what the guest wrote in reply (its interrupt
 *    suppression word, avail->idx) sits a full fence: store-to-load order is
 *    the one x86 does not give for free, and both sides' "re-check after
 *    enabling" handshakes rely on it.
 */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

#include "vmm/dirty.h"
#include "vmm/err.h"

/* Ring words are little-endian (VERSION_1); kite is x86-only, so they are
 * used as they are. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host assumed");

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];		/* then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];	/* then avail_event */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor layout");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "used element layout");

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

static uint16_t *used_event(const struct virtq *q)
{
	return &q->avail->ring[q->size];
}

/* avail_event follows the used ring: a u16 at offset 4 + 8 * size. */
static uint16_t *avail_event(const struct virtq *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

static void *map_ring(const struct guest_mem *mem, const char *what, uint64_t gpa,
		      uint64_t len, unsigned align, int *err)
{
	void *p;

	if (gpa & (align - 1)) {
		*err = err_set(EINVAL, "virtqueue: %s at 0x%llx is not %u-byte aligned",
			       what, (unsigned long long)gpa, align);
		return NULL;
	}
	p = guest_mem_ptr(mem, gpa, len);
	if (!p) {
		*err = err_set(EFAULT, "virtqueue: %s 0x%llx+0x%llx is outside guest RAM",
			       what, (unsigned long long)gpa, (unsigned long long)len);
		return NULL;
	}
	/* Atomic accesses need host alignment too; only a test's odd region
	 * base could break it, real RAM is page-aligned both sides. */
	if ((uintptr_t)p & (align - 1)) {
		*err = err_set(EINVAL, "virtqueue: %s at 0x%llx is misaligned in host memory",
			       what, (unsigned long long)gpa);
		return NULL;
	}
	return p;
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		 uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		 uint64_t features)
{
	void *desc, *avail, *used;
	int err = 0;

	virtq_reset(q);
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return err_set(EINVAL, "virtqueue: size %u is not a power of two in 1..%u",
			       size, VIRTQ_MAX_SIZE);
	desc = map_ring(mem, "descriptor table", desc_gpa, 16ULL * size, 16, &err);
	if (!desc)
		return err;
	avail = map_ring(mem, "available ring", avail_gpa, 6 + 2ULL * size, 2, &err);
	if (!avail)
		return err;
	used = map_ring(mem, "used ring", used_gpa, 6 + 8ULL * size, 4, &err);
	if (!used)
		return err;

	q->mem = mem;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->desc_gpa = desc_gpa;
	q->avail_gpa = avail_gpa;
	q->used_gpa = used_gpa;
	q->event_idx = features & (1ULL << VIRTQ_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTQ_F_INDIRECT_DESC);
	/* The driver zeroed the rings: used->flags 0 and avail_event 0 already
	 * mean "kick me", matching last_avail_idx 0. */
	q->kick_notify = true;
	q->used_checked_valid = true;
	q->size = size;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

void virtq_set_indices(struct virtq *q, uint16_t last_avail_idx, uint16_t used_idx)
{
	q->last_avail_idx = last_avail_idx;
	q->avail_idx = last_avail_idx;
	q->used_idx = used_idx;
	q->used_published = used_idx;
	q->used_checked = used_idx;
	q->used_checked_valid = false;
}

/* Copy one descriptor out of guest memory. The table may be an unaligned
 * indirect one, hence memcpy; the compiler barrier stops the compiler from
 * re-reading guest memory in place of the copy (no double fetch). */
static void desc_read(const uint8_t *table, unsigned idx, struct virtq_desc *d)
{
	memcpy(d, table + 16 * (size_t)idx, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
}

/* Number of new avail entries, refreshed from the guest only when the last
 * read is used up, so a batch of pops costs one shared-cache-line load. */
static int avail_pending(struct virtq *q)
{
	uint16_t idx, n;

	if (q->avail_idx != q->last_avail_idx)
		return (uint16_t)(q->avail_idx - q->last_avail_idx);
	idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	n = idx - q->last_avail_idx;
	if (n > q->size)
		return err_set(EIO, "virtqueue: avail idx jumped from %u to %u (size %u)",
			       q->last_avail_idx, idx, q->size);
	q->avail_idx = idx;
	return n;
}

static int bad_chain(uint16_t head, const char *why, unsigned idx)
{
	return err_set(EBADMSG, "virtqueue: chain %u: descriptor %u: %s", head, idx, why);
}

int virtq_pop(struct virtq *q, struct iovec *iov, unsigned max_iov,
	      struct virtq_chain *c)
{
	const uint8_t *table = (const uint8_t *)q->desc;
	unsigned table_size = q->size, walked = 0, n = 0, nin = 0;
	uint64_t out_len = 0, in_len = 0;
	bool in_indirect = false;
	uint16_t head, idx;
	int ret;

	if (!q->size)
		return 0;
	ret = avail_pending(q);
	if (ret <= 0)
		return ret;
	head = LOAD(&q->avail->ring[q->last_avail_idx & (q->size - 1)]);
	if (head >= q->size)
		return err_set(EIO, "virtqueue: avail entry %u: head %u out of range (size %u)",
			       q->last_avail_idx, head, q->size);
	/* From here the chain is consumed whatever its shape: the device owes
	 * the guest a used entry for it. */
	q->last_avail_idx++;
	c->head = head;

	for (idx = head;;) {
		struct virtq_desc d;
		void *p;

		/* No valid chain visits more descriptors than its table holds,
		 * so this bounds loops too. */
		if (++walked > table_size)
			return bad_chain(head, in_indirect ? "indirect chain longer than its table (loop?)"
					 : "chain longer than the queue (loop?)", idx);
		desc_read(table, idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect)
				return bad_chain(head, "INDIRECT without VIRTIO_F_INDIRECT_DESC", idx);
			if (in_indirect)
				return bad_chain(head, "INDIRECT inside an indirect table", idx);
			/* 2.7.5.3.1: the driver MUST NOT set both INDIRECT and NEXT. */
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return bad_chain(head, "INDIRECT together with NEXT", idx);
			if (!d.len || d.len % 16)
				return bad_chain(head, "indirect table length not a non-zero multiple of 16", idx);
			table = guest_mem_ptr(q->mem, d.addr, d.len);
			if (!table)
				return bad_chain(head, "indirect table outside guest RAM", idx);
			/* The WRITE flag of this descriptor is ignored (2.7.5.3.2). */
			table_size = d.len / 16;
			in_indirect = true;
			walked = 0;
			idx = 0;
			continue;
		}

		if (!d.len)
			return bad_chain(head, "zero-length buffer", idx);
		p = guest_mem_ptr(q->mem, d.addr, d.len);
		if (!p)
			return bad_chain(head, "buffer outside guest RAM", idx);
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			nin++;
			in_len += d.len;
		} else if (nin) {
			return bad_chain(head, "readable buffer after a writable one", idx);
		} else {
			out_len += d.len;
		}
		/* Drivers keep a chain within 2^32 bytes (2.7.5); we stop one
		 * byte short so every total, and used.len, fits 32 bits. */
		if (out_len + in_len > UINT32_MAX)
			return bad_chain(head, "chain of 4 GiB or more", idx);
		if (n == max_iov)
			return err_set(ENOBUFS, "virtqueue: chain %u: more than %u buffers",
				       head, max_iov);
		iov[n].iov_base = p;
		iov[n].iov_len = d.len;
		n++;

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return bad_chain(head, "next index out of range", idx);
		idx = d.next;
	}

	c->nout = n - nin;
	c->nin = nin;
	c->out_len = out_len;
	c->in_len = in_len;
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e;

	if (!q->size)
		return;
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	STORE(&e->id, head);
	STORE(&e->len, len);
	q->used_idx++;
}

void virtq_flush(struct virtq *q)
{
	if (!q->size || q->used_published == q->used_idx)
		return;
	/* Release: the entries reach the guest before the index that shows them. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	q->used_published = q->used_idx;
	/* For a migration in progress: the ring's entries and index. */
	dirty_mark(q->used, 6 + 8 * (size_t)q->size + 2);
}

bool virtq_need_interrupt(struct virtq *q)
{
	uint16_t new_idx = q->used_published, old_idx = q->used_checked;
	bool valid = q->used_checked_valid;

	if (!q->size || new_idx == old_idx)
		return false;
	/* Each decision covers what was published since the previous one, as
	 * vhost does: the ranges never overlap, so no spurious interrupts, and
	 * the driver re-checks used->idx after moving used_event, so none is
	 * lost either. */
	q->used_checked = new_idx;
	q->used_checked_valid = true;
	/* Our used->idx store before the load of the guest's suppression word;
	 * pairs with the driver's barrier between writing used_event and
	 * re-reading used->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(LOAD(&q->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	return !valid || virtq_need_event(LOAD(used_event(q)), new_idx, old_idx);
}

void virtq_set_kick_notify(struct virtq *q, bool enable)
{
	if (!q->size)
		return;
	q->kick_notify = enable;
	if (!q->event_idx)
		STORE(&q->used->flags, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	else if (enable)
		/* "Kick me when you add the entry at last_avail_idx." */
		STORE(avail_event(q), q->last_avail_idx);
	dirty_mark(q->used, 6 + 8 * (size_t)q->size + 2);
}

bool virtq_kick_enable_and_check(struct virtq *q)
{
	if (!q->size)
		return false;
	virtq_set_kick_notify(q, true);
	/* The guest writes avail->idx then reads our suppression word; we write
	 * the word then read avail->idx. With a full fence on both sides at
	 * least one of us sees the other's store: a buffer added meanwhile is
	 * either kicked or found here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail_idx;
}

/* Copy between buf and the iovecs from byte `off` on; to_iov picks the way. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint8_t *p;
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		p = (uint8_t *)iov[i].iov_base + off;
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov) {
			memcpy(p, buf + done, chunk);
			dirty_mark(p, chunk);
		} else
			memcpy(buf + done, p, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t virtq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

size_t virtq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *buf,
		       size_t len)
{
	return iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}
