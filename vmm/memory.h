/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: one memfd (so snapshot and migration can read it), mapped once
 * in the host, split into at most two guest-physical regions: below the
 * 32-bit MMIO hole and above 4 GiB.
 *
 * Device code reaches guest memory ONLY through guest_mem_ptr(), which returns
 * NULL unless [gpa, gpa + len) lies wholly inside one region.
 */
#ifndef KITE_VMM_MEMORY_H
#define KITE_VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	uint64_t offset;	/* offset in the memfd and in the host mapping */
};

struct guest_mem {
	int fd;			/* memfd, -1 for memory built by tests */
	uint8_t *base;		/* host mapping of the whole memfd */
	uint64_t size;		/* total RAM bytes */
	uint64_t page_size;	/* 4 KiB, 2 MiB or 1 GiB */
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

struct guest_mem_opts {
	uint64_t size;		/* bytes of guest RAM */
	uint64_t hugepage_size;	/* 0, 2 MiB or 1 GiB */
	int numa_node;		/* -1: no binding */
};

/* Compute the guest-physical regions for `size` bytes of RAM (no mapping). */
unsigned guest_mem_layout(uint64_t size, struct guest_region *regions);

/* Create the memfd, map it, bind it. Errors are recorded with err_set(). */
int guest_mem_create(struct guest_mem *mem, const struct guest_mem_opts *opts);
void guest_mem_destroy(struct guest_mem *mem);

/* Host pointer for [gpa, gpa + len) if it lies wholly inside one region. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

/* Describe where sampled, already-touched pages of guest RAM live
 * (read back with move_pages, not assumed), for --verbose. */
int guest_mem_placement(const struct guest_mem *mem, char *buf, size_t len);

/* Highest guest-physical address + 1 of RAM below the MMIO hole. */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
