/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the tests that save state (tests/test_*_state.c) and those of
 * snapshots and migration: a saved tree as a restore gets it, and guest
 * RAM in two regions.
 */
#ifndef KITE_TESTS_STATE_UTIL_H
#define KITE_TESTS_STATE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "vmm/state.h"

/* The tree st holds, finished and copied into a buffer of its own (free()
 * it), which passes state_check() as an incoming tree must. st stays the
 * caller's. */
void *state_copy(struct state_tree *st, size_t *len);

/* Guest RAM: region 0 of r0_size bytes at 0, region 1 of r1_size bytes at
 * r1_gpa, zeroed, in one page-aligned block (free(f->ram)). */
struct split_ram {
	struct guest_mem mem;
	uint8_t *ram;
};

void split_ram_init(struct split_ram *f, uint64_t r0_size, uint64_t r1_gpa, uint64_t r1_size);

#endif
