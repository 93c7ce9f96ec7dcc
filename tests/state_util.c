// SPDX-License-Identifier: Apache-2.0
/* Helpers of the state, snapshot and migration tests: see state_util.h. */
#include "tests/state_util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

void *state_copy(struct state_tree *st, size_t *len)
{
	const void *blob;
	void *t;

	ck_assert_int_eq(state_finish(st, &blob, len), 0);
	t = malloc(*len);
	ck_assert_ptr_nonnull(t);
	memcpy(t, blob, *len);
	ck_assert_int_eq(state_check(t, *len), 0);
	return t;
}

void split_ram_init(struct split_ram *f, uint64_t r0_size, uint64_t r1_gpa, uint64_t r1_size)
{
	size_t total = r0_size + r1_size;

	f->ram = aligned_alloc(4096, total);
	ck_assert_ptr_nonnull(f->ram);
	memset(f->ram, 0, total);
	memset(&f->mem, 0, sizeof(f->mem));
	f->mem.fd = -1;
	f->mem.base = f->ram;
	f->mem.size = total;
	f->mem.page_size = 4096;
	f->mem.nregions = 2;
	f->mem.regions[0] = (struct guest_region){ 0, r0_size, f->ram, 0 };
	f->mem.regions[1] = (struct guest_region){ r1_gpa, r1_size, f->ram + r0_size, r0_size };
}
