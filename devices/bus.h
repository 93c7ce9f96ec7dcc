/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PIO and MMIO buses: address ranges -> handler + opaque, in a sorted table.
 * The vCPU exit loop dispatches KVM_EXIT_IO and KVM_EXIT_MMIO here.
 * Registration refuses overlapping ranges. Lookups may run on every vCPU
 * thread while a guest moves a PCI BAR, so the table is guarded by a rwlock.
 */
#ifndef KITE_DEVICES_BUS_H
#define KITE_DEVICES_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* `offset` is relative to the range's base; `data` holds `len` bytes
 * (1, 2, 4 or 8), little-endian; reads fill it, writes consume it. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			  bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;	/* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges;	/* sorted by base, no overlaps */
	size_t count;
	size_t cap;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);
/* -EEXIST (with err_set naming both ranges) on overlap, -EINVAL on len 0 or wrap. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		 const char *name);
/* Remove the range that starts at `base` and was registered with `opaque`. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque);
/* Dispatch an access. Returns false if no range covers [addr, addr + len):
 * reads are then filled with 0xff. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);
/* Lookup only (for tests): the range containing addr, copied into *out. */
bool bus_find(struct bus *bus, uint64_t addr, struct bus_range *out);

#endif
