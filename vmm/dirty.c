// SPDX-License-Identifier: Apache-2.0
#include "vmm/dirty.h"

#include <errno.h>
#include <stdlib.h>

#include "vmm/err.h"

struct dirty_log *_Atomic dirty_log_active;
static struct dirty_log the_log;

void dirty_log_mark_slow(struct dirty_log *log, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t first, last;

	if (b < log->base || (uint64_t)(b - log->base) >= log->size)
		return;
	first = (uint64_t)(b - log->base) >> DIRTY_PAGE_SHIFT;
	last = ((uint64_t)(b - log->base) + len - 1) >> DIRTY_PAGE_SHIFT;
	if (last >= log->npages)
		last = log->npages - 1;
	for (uint64_t pg = first; pg <= last; pg++)
		atomic_fetch_or_explicit(&log->bits[pg / 64], 1ULL << (pg % 64),
					 memory_order_release);
}

void dirty_mark_iov(const struct iovec *iov, unsigned n)
{
	struct dirty_log *log = atomic_load_explicit(&dirty_log_active, memory_order_acquire);

	for (unsigned i = 0; log && i < n; i++)
		if (iov[i].iov_len)
			dirty_log_mark_slow(log, iov[i].iov_base, iov[i].iov_len);
}

int dirty_log_start(const struct guest_mem *mem)
{
	uint64_t words = (mem->size / 4096 + 63) / 64;

	if (the_log.bits && the_log.size != mem->size)
		dirty_log_free();
	if (!the_log.bits) {
		the_log.bits = calloc(words, sizeof(uint64_t));
		if (!the_log.bits)
			return err_set(ENOMEM, "migration: out of memory for the dirty log");
	} else {
		for (uint64_t i = 0; i < words; i++)
			atomic_store_explicit(&the_log.bits[i], 0, memory_order_relaxed);
	}
	the_log.base = mem->base;
	the_log.size = mem->size;
	the_log.npages = mem->size / 4096;
	atomic_store_explicit(&dirty_log_active, &the_log, memory_order_release);
	return 0;
}

void dirty_log_stop(void)
{
	atomic_store_explicit(&dirty_log_active, NULL, memory_order_release);
}

void dirty_log_free(void)
{
	dirty_log_stop();
	free((void *)the_log.bits);
	the_log.bits = NULL;
	the_log.size = the_log.npages = 0;
}

uint64_t dirty_log_take(uint64_t first, uint64_t n, uint64_t *out)
{
	uint64_t count = 0;

	if (!the_log.bits || first >= the_log.npages)
		return 0;
	if (n > the_log.npages - first)
		n = the_log.npages - first;
	for (uint64_t i = 0; i < n; i += 64) {
		uint64_t pg = first + i, w;

		if (pg % 64 == 0 && n - i >= 64) {
			w = atomic_exchange_explicit(&the_log.bits[pg / 64], 0,
						     memory_order_acq_rel);
		} else {
			/* An unaligned run: bit by bit. */
			w = 0;
			for (unsigned b = 0; b < 64 && i + b < n; b++) {
				uint64_t p = pg + b, m = 1ULL << (p % 64);

				if (atomic_fetch_and_explicit(&the_log.bits[p / 64], ~m,
							      memory_order_acq_rel) & m)
					w |= 1ULL << b;
			}
		}
		out[i / 64] |= w;
		count += (uint64_t)__builtin_popcountll(w);
	}
	return count;
}
