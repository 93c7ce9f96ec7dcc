// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: memory slots and the dirty log, with the argument checks of
 * api.rst 4.35 (KVM_SET_USER_MEMORY_REGION), 4.8 (KVM_GET_DIRTY_LOG) and
 * 4.117 (KVM_CLEAR_DIRTY_LOG).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "model.h"

#define PAGE		4096ULL
#define WORDS(pages)	(((pages) + 63) / 64)

static uint64_t npages(const struct fk_slot *s)
{
	return s->size / PAGE;
}

unsigned fk_logging;	/* slots logging dirty pages */

static long start_log(struct fk_slot *s)
{
	size_t bytes = WORDS(npages(s)) * 8;

	s->dirty = malloc(bytes);
	if (!s->dirty)
		return -ENOMEM;
	/* INITIALLY_SET: every page starts dirty, the VMM clears as it goes. */
	memset(s->dirty, fk.manual_protect & KVM_DIRTY_LOG_INITIALLY_SET ? 0xff : 0, bytes);
	__atomic_fetch_add(&fk_logging, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Bitmaps a slot stopped logging into, while the emulated CPU may still
 * write them; freed with the slot (NULL: free them now). */
static struct { uint32_t slot; uint64_t *bits; } retired[64];

static void retire(uint32_t slot, uint64_t *bits)
{
	unsigned i;

	for (i = 0; i < sizeof(retired) / sizeof(retired[0]); i++) {
		if (!bits && retired[i].bits && retired[i].slot == slot) {
			free(retired[i].bits);
			retired[i].bits = NULL;
		} else if (bits && !retired[i].bits) {
			retired[i].slot = slot;
			retired[i].bits = bits;
			return;
		}
	}
	if (bits)		/* 64 migrations of one VM: this one goes now */
		free(bits);
}

long fk_set_memory(void *arg)
{
	const struct kvm_userspace_memory_region *r = arg;
	uint32_t slot = r->slot & 0xffff;
	struct fk_slot *s;

	if (r->slot >> 16 || slot >= FK_MAX_SLOTS) {
		fk_complain("KVM_SET_USER_MEMORY_REGION: slot 0x%x out of range", r->slot);
		return -EINVAL;
	}
	if (r->flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) {
		fk_complain("KVM_SET_USER_MEMORY_REGION slot %u: flags 0x%x", slot, r->flags);
		return -EINVAL;
	}
	if ((r->guest_phys_addr | r->memory_size | r->userspace_addr) & (PAGE - 1)) {
		fk_complain("KVM_SET_USER_MEMORY_REGION slot %u: gpa 0x%llx, size 0x%llx, "
			    "address 0x%llx must all be page-aligned", slot,
			    (unsigned long long)r->guest_phys_addr,
			    (unsigned long long)r->memory_size,
			    (unsigned long long)r->userspace_addr);
		return -EINVAL;
	}
	if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr) {
		fk_complain("KVM_SET_USER_MEMORY_REGION slot %u: wraps", slot);
		return -EINVAL;
	}
	s = &fk.slots[slot];
	if (!r->memory_size) {
		if (s->dirty)
			__atomic_fetch_sub(&fk_logging, 1, __ATOMIC_SEQ_CST);
		free(s->dirty);
		retire(slot, NULL);
		memset(s, 0, sizeof(*s));
		return 0;
	}
	if (s->used && (s->size != r->memory_size || (uint8_t *)(uintptr_t)r->userspace_addr !=
			s->host)) {
		fk_complain("KVM_SET_USER_MEMORY_REGION slot %u: a slot's size and address "
			    "cannot change (delete it first)", slot);
		return -EINVAL;
	}
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++) {
		const struct fk_slot *o = &fk.slots[i];

		if (i != slot && o->used && r->guest_phys_addr < o->gpa + o->size &&
		    o->gpa < r->guest_phys_addr + r->memory_size) {
			fk_complain("KVM_SET_USER_MEMORY_REGION slot %u overlaps slot %u", slot, i);
			return -EEXIST;
		}
	}
	s->used = true;
	s->gpa = r->guest_phys_addr;
	s->size = r->memory_size;
	s->host = (uint8_t *)(uintptr_t)r->userspace_addr;
	if ((r->flags & KVM_MEM_LOG_DIRTY_PAGES) && !(s->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
		long e = start_log(s);

		if (e)
			return e;
	} else if (!(r->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
		uint64_t *old = s->dirty;

		if (old)
			__atomic_fetch_sub(&fk_logging, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&s->dirty, NULL, __ATOMIC_SEQ_CST);
		/* The emulated CPU marks pages without fk.lock: one of its
		 * threads may still hold the old bitmap, kept (a few KiB a
		 * migration) until the slot goes. */
		if (old && fk_emu_wanted())
			retire(slot, old);
		else
			free(old);
	}
	s->flags = r->flags;
	return 0;
}

static struct fk_slot *logged_slot(uint32_t slot, const char *what)
{
	if (slot >= FK_MAX_SLOTS || !fk.slots[slot].used || !fk.slots[slot].dirty) {
		fk_complain("%s: slot %u %s", what, slot,
			    slot < FK_MAX_SLOTS && fk.slots[slot].used ? "does not log dirty pages"
								     : "does not exist");
		return NULL;
	}
	return &fk.slots[slot];
}

long fk_get_dirty_log(void *arg)
{
	const struct kvm_dirty_log *l = arg;
	struct fk_slot *s = logged_slot(l->slot, "KVM_GET_DIRTY_LOG");
	size_t bytes;

	if (!s)
		return -ENOENT;
	bytes = WORDS(npages(s)) * 8;
	/* The native CPU writes RAM without telling: every page may be dirty.
	 * The emulated one marks each page it writes (fk_dirty_page), from its
	 * own threads: the bitmap is read and cleared a word at a time,
	 * atomically, so no mark falls between the two. */
	if (fk_native_active() && !fk_emu_wanted())
		fk_mark_dirty(s->gpa, s->size);
	for (size_t w = 0; w < bytes / 8; w++)
		((uint64_t *)l->dirty_bitmap)[w] =
			fk.manual_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE ?
			__atomic_load_n(&s->dirty[w], __ATOMIC_SEQ_CST) :
			__atomic_exchange_n(&s->dirty[w], 0, __ATOMIC_SEQ_CST);
	return 0;
}

long fk_clear_dirty_log(void *arg)
{
	const struct kvm_clear_dirty_log *l = arg;
	struct fk_slot *s = logged_slot(l->slot, "KVM_CLEAR_DIRTY_LOG");
	const uint64_t *bits = l->dirty_bitmap;
	uint64_t n;

	if (!s)
		return -ENOENT;
	if (!(fk.manual_protect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		fk_complain("KVM_CLEAR_DIRTY_LOG without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
		return -EINVAL;
	}
	n = npages(s);
	if ((l->first_page & 63) || l->first_page > n || l->num_pages > n - l->first_page ||
	    (l->num_pages < n - l->first_page && (l->num_pages & 63))) {
		fk_complain("KVM_CLEAR_DIRTY_LOG slot %u: first page %llu, %u pages (of %llu): "
			    "the start and, short of the slot's end, the count must be multiples "
			    "of 64", l->slot, (unsigned long long)l->first_page, l->num_pages,
			    (unsigned long long)n);
		return -EINVAL;
	}
	for (uint64_t i = 0; i < l->num_pages; i++)
		if (bits[i / 64] >> (i % 64) & 1) {
			uint64_t p = l->first_page + i;

			__atomic_fetch_and(&s->dirty[p / 64], ~(1ULL << (p % 64)), __ATOMIC_SEQ_CST);
		}
	return 0;
}

long fk_enable_cap(void *arg)
{
	const struct kvm_enable_cap *c = arg;

	if (c->flags) {
		fk_complain("KVM_ENABLE_CAP %u: flags 0x%x", c->cap, c->flags);
		return -EINVAL;
	}
	if (c->cap == KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) {
		if (c->args[0] & ~(uint64_t)fk_check_extension(c->cap)) {
			fk_complain("KVM_ENABLE_CAP MANUAL_DIRTY_LOG_PROTECT2: flags 0x%llx",
				    (unsigned long long)c->args[0]);
			return -EINVAL;
		}
		fk.manual_protect = c->args[0];
		return 0;
	}
	fk_complain("KVM_ENABLE_CAP %u: not offered here", c->cap);
	return -EINVAL;
}

/* One page the emulated CPU wrote, without fk.lock: the slot table is
 * only read (slots are made before the guest runs), the bitmap or'ed
 * into atomically. */
void fk_dirty_page(uint64_t gpa)
{
	static int drop = -1;

	if (drop < 0)			/* KVMFAKE_DROP_DIRTY, as in fk_mark_dirty */
		drop = getenv("KVMFAKE_DROP_DIRTY") != NULL;
	if (drop)
		return;
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++) {
		struct fk_slot *s = &fk.slots[i];
		uint64_t *d, n;

		if (!s->used || gpa < s->gpa || gpa - s->gpa >= s->size)
			continue;
		d = __atomic_load_n(&s->dirty, __ATOMIC_SEQ_CST);
		if (!d)
			return;
		n = (gpa - s->gpa) / PAGE;
		__atomic_fetch_or(&d[n / 64], 1ULL << (n % 64), __ATOMIC_SEQ_CST);
		return;
	}
}

void fk_mark_dirty(uint64_t gpa, uint64_t len)
{
	static int drop = -1;

	/* KVMFAKE_DROP_DIRTY=1: a KVM that loses dirty pages, to show the
	 * migration checks catch one. */
	if (drop < 0)
		drop = getenv("KVMFAKE_DROP_DIRTY") != NULL;
	if (drop)
		return;
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++) {
		struct fk_slot *s = &fk.slots[i];

		if (!s->used || !s->dirty || !len || gpa + len <= s->gpa || gpa >= s->gpa + s->size)
			continue;
		for (uint64_t p = (gpa < s->gpa ? s->gpa : gpa) & ~(PAGE - 1);
		     p < gpa + len && p < s->gpa + s->size; p += PAGE) {
			uint64_t n = (p - s->gpa) / PAGE;

			s->dirty[n / 64] |= 1ULL << (n % 64);
		}
	}
}
