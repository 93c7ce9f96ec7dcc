// SPDX-License-Identifier: Apache-2.0
#include "tests/vq_fake.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

void vq_fake_init(struct vq_fake *f, uint16_t size)
{
	memset(f, 0, sizeof(*f));
	/* One host block for both regions: host-adjacent, guest-apart, so a
	 * buffer crossing the region boundary would look fine to a careless
	 * host-side check. */
	f->ram = calloc(1, VQF_LOW_SIZE + VQF_HIGH_SIZE);
	ck_assert_ptr_nonnull(f->ram);
	f->size = size;
	f->mem.fd = -1;
	f->mem.base = f->ram;
	f->mem.size = VQF_LOW_SIZE + VQF_HIGH_SIZE;
	f->mem.page_size = 4096;
	f->mem.nregions = 2;
	f->mem.regions[0] = (struct guest_region){ 0, VQF_LOW_SIZE, f->ram, 0 };
	f->mem.regions[1] = (struct guest_region){
		VQF_HIGH_GPA, VQF_HIGH_SIZE, f->ram + VQF_LOW_SIZE, VQF_LOW_SIZE,
	};
}

void vq_fake_free(struct vq_fake *f)
{
	free(f->ram);
	f->ram = NULL;
}

int vq_fake_enable(struct vq_fake *f, struct virtq *q, uint64_t features)
{
	return virtq_enable(q, &f->mem, f->size, VQF_DESC, VQF_AVAIL, VQF_USED, features);
}

void *vq_fake_host(struct vq_fake *f, uint64_t gpa)
{
	void *p = guest_mem_ptr(&f->mem, gpa, 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void put16(struct vq_fake *f, uint64_t gpa, uint16_t v)
{
	memcpy(vq_fake_host(f, gpa), &v, 2);
}

static uint16_t get16(struct vq_fake *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, vq_fake_host(f, gpa), 2);
	return v;
}

void vq_fake_desc(struct vq_fake *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		  uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = vq_fake_host(f, table_gpa + 16ULL * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void vq_fake_add(struct vq_fake *f, uint16_t head)
{
	put16(f, VQF_AVAIL + 4 + 2ULL * (f->avail_idx % f->size), head);
	f->avail_idx++;
	__atomic_store_n((uint16_t *)vq_fake_host(f, VQF_AVAIL + 2), f->avail_idx,
			 __ATOMIC_RELEASE);
}

void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx)
{
	f->avail_idx = idx;
	put16(f, VQF_AVAIL + 2, idx);
}

void vq_fake_set_avail_flags(struct vq_fake *f, uint16_t flags)
{
	put16(f, VQF_AVAIL, flags);
}

void vq_fake_set_used_event(struct vq_fake *f, uint16_t v)
{
	put16(f, VQF_AVAIL + 4 + 2ULL * f->size, v);
}

uint16_t vq_fake_used_flags(struct vq_fake *f)
{
	return get16(f, VQF_USED);
}

uint16_t vq_fake_used_idx(struct vq_fake *f)
{
	return __atomic_load_n((uint16_t *)vq_fake_host(f, VQF_USED + 2), __ATOMIC_ACQUIRE);
}

uint16_t vq_fake_avail_event(struct vq_fake *f)
{
	return get16(f, VQF_USED + 4 + 8ULL * f->size);
}

void vq_fake_used_elem(struct vq_fake *f, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint8_t *e = vq_fake_host(f, VQF_USED + 4 + 8ULL * (i % f->size));

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

uint16_t vq_fake_dq_chain(struct vq_fake *f, struct dq *q, const struct seg *s, unsigned n)
{
	uint16_t head = q->next;

	for (unsigned i = 0; i < n; i++) {
		uint16_t me = (head + i) % f->size;

		vq_fake_desc(f, q->desc, me, s[i].gpa, s[i].len,
			     (s[i].w ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
			     (me + 1) % f->size);
	}
	q->next = (head + n) % f->size;
	put16(f, q->avail + 4 + 2ULL * (q->aidx % f->size), head);
	q->aidx++;
	__atomic_store_n((uint16_t *)vq_fake_host(f, q->avail + 2), q->aidx, __ATOMIC_RELEASE);
	return head;
}

bool vq_fake_dq_has_used(struct vq_fake *f, const struct dq *q)
{
	return __atomic_load_n((uint16_t *)vq_fake_host(f, q->used + 2), __ATOMIC_ACQUIRE) !=
	       q->last_used;
}

void vq_fake_dq_used(struct vq_fake *f, struct dq *q, uint32_t *id, uint32_t *len)
{
	uint8_t *e;

	ck_assert_msg(vq_fake_dq_has_used(f, q), "no used buffer on queue %u", q->idx);
	e = vq_fake_host(f, q->used + 4 + 8ULL * (q->last_used % f->size));
	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
	q->last_used++;
}
