/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state tree: device, vCPU and VM state as a flattened device tree
 * (libfdt), the format snapshots and migration carry. A thin layer that
 * keeps libfdt's sharp edges away from the devices:
 *
 * Writing: state_begin() makes an empty tree whose root carries
 * "kite-state-version"; nodes and properties are added with state_add_node()
 * and state_put_*(), the buffer grows (fdt_open_into a bigger one) as
 * needed. Errors are sticky: after the first failure every call is a no-op
 * that returns it, so a save function may put all its properties and check
 * once (state_error()).
 *
 * A node's offset survives growth, and additions to the node itself and to
 * its descendants, but not additions before it in the tree: libfdt puts a
 * new child first among its siblings, and a new property before every
 * child. So write a node whole before starting its next sibling, and never
 * go back to an older sibling (save functions do this naturally: fill the
 * node you were given, add children, fill each before the next). Children
 * therefore read back in reverse order; look them up by name.
 *
 * Reading: state_check() runs fdt_check_full() and checks the version, and
 * must pass before anything else reads the tree; then every getter checks
 * the property's size exactly (or against a maximum) and records an error
 * naming the node's path and the property: a corrupt or foreign tree gives
 * a clear message, never a crash.
 *
 * Integers are stored big-endian (the FDT convention, fdt32/fdt64); byte
 * blobs as they are. Booleans are u32 0 or 1.
 */
#ifndef KITE_VMM_STATE_H
#define KITE_VMM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a node or property changes meaning; a reader refuses
 * any other version. */
#define KITE_STATE_VERSION	1
/* Largest tree kite writes or reads (a few vCPUs' xsave areas and the
 * devices take well under 1 MiB; 1024 vCPUs would still fit). */
#define STATE_MAX_SIZE		(64u << 20)

struct state_tree {
	void *fdt;		/* the tree, in a buffer of `cap` bytes */
	size_t cap;
	int err;		/* first error (negative errno), sticky */
};

/* An empty tree with the version at the root. 0 or -ENOMEM. */
int state_begin(struct state_tree *st);
void state_free(struct state_tree *st);
/* The first error so far, 0 if none. */
static inline int state_error(const struct state_tree *st)
{
	return st->err;
}
/* Pack the tree; *blob and *len describe it (still owned by st). */
int state_finish(struct state_tree *st, const void **blob, size_t *len);

/* Add child `name` under node `parent` (0 is the root); returns its offset
 * or the sticky error. A negative parent (a failed add) propagates. */
int state_add_node(struct state_tree *st, int parent, const char *name);
int state_put_u32(struct state_tree *st, int node, const char *name, uint32_t v);
int state_put_u64(struct state_tree *st, int node, const char *name, uint64_t v);
int state_put_bytes(struct state_tree *st, int node, const char *name, const void *p, size_t len);
int state_put_u64_array(struct state_tree *st, int node, const char *name, const uint64_t *v,
			size_t n);

/*
 * Check an incoming tree of `len` bytes: fdt_check_full, the header's size
 * no larger than len, and kite-state-version == KITE_STATE_VERSION.
 * 0 or -EINVAL with the reason recorded.
 */
int state_check(const void *fdt, size_t len);

/* Offset of child `name` of `parent`, or -ENOENT ("state: /devices has no
 * node 'virtio-blk@0'"). */
int state_node(const void *fdt, int parent, const char *name);
/* Whether the node has the property, or the child (for optional ones). */
bool state_has(const void *fdt, int node, const char *name);
bool state_has_node(const void *fdt, int parent, const char *name);
int state_get_u32(const void *fdt, int node, const char *name, uint32_t *v);
int state_get_u64(const void *fdt, int node, const char *name, uint64_t *v);
/* A u32 that must lie in [min, max]; -EINVAL names the value and range. */
int state_get_u32_range(const void *fdt, int node, const char *name, uint32_t min, uint32_t max,
			uint32_t *v);
/* A u32 that must be 0 or 1. */
int state_get_bool(const void *fdt, int node, const char *name, bool *v);
/* Exactly len bytes into buf. */
int state_get_bytes(const void *fdt, int node, const char *name, void *buf, size_t len);
/* At most max bytes into buf; *len gets the size. */
int state_get_bytes_max(const void *fdt, int node, const char *name, void *buf, size_t max,
			size_t *len);
/* A pointer into the tree and its size, which must lie in [min, max]. */
int state_get_blob(const void *fdt, int node, const char *name, size_t min, size_t max,
		   const void **p, size_t *len);
/* At most max u64s into v; *n gets the count (the size must be a multiple of 8). */
int state_get_u64_array(const void *fdt, int node, const char *name, uint64_t *v, size_t max,
			size_t *n);

/*
 * Plain scalar fields of a struct, described once, saved and restored by
 * one loop each. `size` is the field's size (1, 2, 4 or 8). A restore
 * accepts values up to `limit` (STATE_FIELD: a count, an index; a bool has
 * limit 1) or, for a register, only the bits in `limit` (STATE_BITS).
 * Stored as u32 (size <= 4) or u64.
 */
struct state_field {
	const char *name;
	size_t off;
	unsigned size;
	uint64_t limit;
	bool bits;		/* limit is a mask of the bits allowed */
};
#define STATE_FIELD(type, member, name, max) \
	{ name, __builtin_offsetof(type, member), sizeof(((type *)0)->member), max, false }
#define STATE_BITS(type, member, name, mask) \
	{ name, __builtin_offsetof(type, member), sizeof(((type *)0)->member), mask, true }

int state_put_fields(struct state_tree *st, int node, const void *obj,
		     const struct state_field *f, unsigned n);
/* All fields are read and checked before any is written to obj: a bad
 * tree leaves obj untouched. */
int state_get_fields(const void *fdt, int node, void *obj, const struct state_field *f,
		     unsigned n);

#endif
