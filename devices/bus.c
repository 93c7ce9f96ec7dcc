// SPDX-License-Identifier: Apache-2.0
#include "devices/bus.h"

#include <stdlib.h>
#include <string.h>

#include "vmm/err.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->count = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose end lies above addr (ranges are sorted and
 * disjoint, so that is the only candidate to contain addr). */
static size_t lower_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		 const char *name)
{
	struct bus_range *r;
	size_t i;
	int ret = 0;

	if (!len || base + (len - 1) < base)
		return err_set(EINVAL, "%s bus: bad range 0x%llx+0x%llx for %s", bus->name,
			       (unsigned long long)base, (unsigned long long)len, name);
	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->count && bus->ranges[i].base <= base + (len - 1)) {
		r = &bus->ranges[i];
		ret = err_set(EEXIST, "%s bus: %s at 0x%llx-0x%llx overlaps %s at 0x%llx-0x%llx",
			      bus->name, name, (unsigned long long)base,
			      (unsigned long long)(base + len - 1), r->name,
			      (unsigned long long)r->base,
			      (unsigned long long)(r->base + r->len - 1));
		goto out;
	}
	if (bus->count == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n) {
			ret = err_set(ENOMEM, "%s bus: out of memory", bus->name);
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->count - i) * sizeof(*r));
	bus->ranges[i] = (struct bus_range){ base, len, fn, opaque, name };
	bus->count++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	size_t i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->count && bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->count - i - 1) * sizeof(bus->ranges[0]));
		bus->count--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

static bool lookup(struct bus *bus, uint64_t addr, uint64_t len, struct bus_range *out)
{
	size_t i = lower_bound(bus, addr);
	const struct bus_range *r;

	if (i >= bus->count)
		return false;
	r = &bus->ranges[i];
	if (addr < r->base || addr - r->base + len > r->len)
		return false;
	*out = *r;
	return true;
}

bool bus_find(struct bus *bus, uint64_t addr, struct bus_range *out)
{
	bool found;

	pthread_rwlock_rdlock(&bus->lock);
	found = lookup(bus, addr, 1, out);
	pthread_rwlock_unlock(&bus->lock);
	return found;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	struct bus_range r;
	bool found;

	/* Call the handler outside the lock: a PCI config write may move a BAR
	 * (re-registering ranges) from inside a handler. Devices live as long
	 * as the VM, so the copied range stays valid. */
	pthread_rwlock_rdlock(&bus->lock);
	found = lookup(bus, addr, len, &r);
	pthread_rwlock_unlock(&bus->lock);
	if (found)
		r.fn(r.opaque, addr - r.base, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	return found;
}
