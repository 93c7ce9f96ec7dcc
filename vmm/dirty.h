/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest pages written by kite itself while a migration runs.
 *
 * KVM logs the pages vCPUs write; it does not see kite's own writes into
 * guest RAM (disk reads landing in guest buffers, received frames, used
 * rings, status bytes). Device code reports those here, after the write,
 * and the migration takes them together with KVM's log.
 *
 * One kite process runs one VM, so there is one log. Marking costs one
 * relaxed atomic load while no migration runs. The bitmap is indexed by
 * page offset in the guest RAM mapping (guest_mem.base): the same order
 * as the memfd, so region i starts at bit regions[i].offset / 4096.
 */
#ifndef KITE_VMM_DIRTY_H
#define KITE_VMM_DIRTY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

#define DIRTY_PAGE_SHIFT 12

struct dirty_log {
	uint8_t *base;			/* guest RAM mapping */
	uint64_t size;			/* bytes */
	uint64_t npages;
	_Atomic uint64_t *bits;		/* npages bits */
};

/* The log in use, or NULL. */
extern struct dirty_log *_Atomic dirty_log_active;

void dirty_log_mark_slow(struct dirty_log *log, const void *p, size_t len);

/* Record that kite wrote [p, p + len). Pointers outside guest RAM are
 * ignored, so callers need not check. */
static inline void dirty_mark(const void *p, size_t len)
{
	struct dirty_log *log = atomic_load_explicit(&dirty_log_active, memory_order_acquire);

	if (log && len)
		dirty_log_mark_slow(log, p, len);
}

/* The same for every buffer of an iovec array. */
void dirty_mark_iov(const struct iovec *iov, unsigned n);

/* Start logging kite's writes to `mem` (cleared bitmap). The bitmap stays
 * allocated until dirty_log_free(), so a writer that loaded the pointer
 * just before dirty_log_stop() still writes into valid memory. */
int dirty_log_start(const struct guest_mem *mem);
void dirty_log_stop(void);
void dirty_log_free(void);

/* OR the pages logged in [first, first + n) into out (bit i = page
 * first + i; n a multiple of 64 or the log's end) and clear them in the
 * log. Returns how many were set. */
uint64_t dirty_log_take(uint64_t first, uint64_t n, uint64_t *out);

#endif
