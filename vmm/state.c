// SPDX-License-Identifier: Apache-2.0
/* The state tree over libfdt: see state.h. */
#include "vmm/state.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/err.h"

#define VERSION_PROP	"kite-state-version"
#define INITIAL_SIZE	(64u << 10)

/* ---- writing ---- */

static int fail(struct state_tree *st, int err)
{
	if (!st->err)
		st->err = err;
	return st->err;
}

int state_begin(struct state_tree *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	st->fdt = malloc(INITIAL_SIZE);
	if (!st->fdt)
		return fail(st, err_set(ENOMEM, "state tree: out of memory"));
	st->cap = INITIAL_SIZE;
	r = fdt_create_empty_tree(st->fdt, st->cap);
	if (r < 0)
		return fail(st, err_set(EINVAL, "state tree: %s", fdt_strerror(r)));
	return state_put_u32(st, 0, VERSION_PROP, KITE_STATE_VERSION);
}

void state_free(struct state_tree *st)
{
	free(st->fdt);
	st->fdt = NULL;
	st->cap = 0;
}

/* Move the tree into a buffer twice as big. Offsets of nodes and
 * properties are relative to the structure block, which fdt_open_into
 * keeps in order, so callers' node offsets stay valid. */
static int grow(struct state_tree *st, const char *what)
{
	size_t cap = st->cap * 2;
	void *p;
	int r;

	if (cap > STATE_MAX_SIZE)
		return fail(st, err_set(E2BIG, "state tree: %s: the tree would exceed %u MiB",
					what, STATE_MAX_SIZE >> 20));
	p = malloc(cap);
	if (!p)
		return fail(st, err_set(ENOMEM, "state tree: out of memory"));
	r = fdt_open_into(st->fdt, p, cap);
	if (r < 0) {
		free(p);
		return fail(st, err_set(EINVAL, "state tree: %s: %s", what, fdt_strerror(r)));
	}
	free(st->fdt);
	st->fdt = p;
	st->cap = cap;
	return 0;
}

int state_add_node(struct state_tree *st, int parent, const char *name)
{
	int r;

	if (st->err)
		return st->err;
	if (parent < 0)
		return fail(st, parent);
	for (;;) {
		r = fdt_add_subnode(st->fdt, parent, name);
		if (r != -FDT_ERR_NOSPACE)
			break;
		if (grow(st, name))
			return st->err;
	}
	if (r < 0)
		return fail(st, err_set(EINVAL, "state tree: node '%s': %s", name,
					fdt_strerror(r)));
	return r;
}

int state_put_bytes(struct state_tree *st, int node, const char *name, const void *p, size_t len)
{
	int r;

	if (st->err)
		return st->err;
	if (node < 0)
		return fail(st, node);
	if (len > STATE_MAX_SIZE)
		return fail(st, err_set(E2BIG, "state tree: property '%s' of %zu bytes", name,
					len));
	for (;;) {
		r = fdt_setprop(st->fdt, node, name, p, (int)len);
		if (r != -FDT_ERR_NOSPACE)
			break;
		if (grow(st, name))
			return st->err;
	}
	if (r < 0)
		return fail(st, err_set(EINVAL, "state tree: property '%s': %s", name,
					fdt_strerror(r)));
	return 0;
}

int state_put_u32(struct state_tree *st, int node, const char *name, uint32_t v)
{
	fdt32_t be = cpu_to_fdt32(v);

	return state_put_bytes(st, node, name, &be, sizeof(be));
}

int state_put_u64(struct state_tree *st, int node, const char *name, uint64_t v)
{
	fdt64_t be = cpu_to_fdt64(v);

	return state_put_bytes(st, node, name, &be, sizeof(be));
}

int state_put_u64_array(struct state_tree *st, int node, const char *name, const uint64_t *v,
			size_t n)
{
	fdt64_t *be;
	int r;

	if (st->err)
		return st->err;
	if (n > STATE_MAX_SIZE / 8)
		return fail(st, err_set(E2BIG, "state tree: property '%s' of %zu u64s", name, n));
	be = malloc(n ? n * sizeof(*be) : 1);
	if (!be)
		return fail(st, err_set(ENOMEM, "state tree: out of memory"));
	for (size_t i = 0; i < n; i++)
		be[i] = cpu_to_fdt64(v[i]);
	r = state_put_bytes(st, node, name, be, n * sizeof(*be));
	free(be);
	return r;
}

int state_finish(struct state_tree *st, const void **blob, size_t *len)
{
	int r;

	if (st->err)
		return st->err;
	r = fdt_pack(st->fdt);
	if (r < 0)
		return fail(st, err_set(EINVAL, "state tree: %s", fdt_strerror(r)));
	*blob = st->fdt;
	*len = fdt_totalsize(st->fdt);
	return 0;
}

/* ---- reading ---- */

/* "/devices/virtio-blk@0" for messages; the tree passed state_check.
 * fdt_get_path, handed an offset that is not a node's (a caller's slip),
 * walks off the start of buf (libfdt 1.6): only nodes go to it. */
static const char *path_of(const void *fdt, int node, char *buf, int len)
{
	if (!fdt_get_name(fdt, node, NULL) || fdt_get_path(fdt, node, buf, len) < 0)
		snprintf(buf, len, "(node at %d)", node);
	return buf;
}

int state_check(const void *fdt, size_t len)
{
	const fdt32_t *v;
	fdt32_t ver;
	int r, plen;

	if (len < sizeof(struct fdt_header))
		return err_set(EINVAL, "state tree: %zu bytes, too short for a header", len);
	if (len > STATE_MAX_SIZE)
		return err_set(EINVAL, "state tree: %zu bytes, more than the %u MiB allowed", len,
			       STATE_MAX_SIZE >> 20);
	/* kite writes version 17. Before 16 nodes were named by their whole
	 * path, and libfdt 1.6's fdt_check_full dereferences the NULL name it
	 * gets for such a tree's root without a '/': refuse them unread. */
	if (fdt_magic(fdt) == FDT_MAGIC && fdt_version(fdt) < 16)
		return err_set(EINVAL, "state tree: corrupt: FDT format version %u, kite reads "
			       "16 and later", fdt_version(fdt));
	r = fdt_check_full(fdt, len);
	if (r < 0)
		return err_set(EINVAL, "state tree: corrupt: %s", fdt_strerror(r));
	if (fdt_totalsize(fdt) > len)
		return err_set(EINVAL, "state tree: header says %u bytes, have %zu",
			       fdt_totalsize(fdt), len);
	v = fdt_getprop(fdt, 0, VERSION_PROP, &plen);
	if (!v || plen != sizeof(*v))
		return err_set(EINVAL, "state tree: no %s (not a kite state tree?)", VERSION_PROP);
	/* A crafted header can put the structure block at an odd offset:
	 * read the value byte-wise, as the getters below do. */
	memcpy(&ver, v, sizeof(ver));
	if (fdt32_to_cpu(ver) != KITE_STATE_VERSION)
		return err_set(EINVAL, "state tree: version %u, this kite reads version %u",
			       fdt32_to_cpu(ver), KITE_STATE_VERSION);
	return 0;
}

int state_node(const void *fdt, int parent, const char *name)
{
	char path[256];
	int r;

	if (parent < 0)
		return parent;
	r = fdt_subnode_offset(fdt, parent, name);
	if (r < 0)
		return err_set(ENOENT, "state %s: no node '%s'", path_of(fdt, parent, path,
									  sizeof(path)), name);
	return r;
}

bool state_has(const void *fdt, int node, const char *name)
{
	return node >= 0 && fdt_getprop(fdt, node, name, NULL) != NULL;
}

bool state_has_node(const void *fdt, int parent, const char *name)
{
	return parent >= 0 && fdt_subnode_offset(fdt, parent, name) >= 0;
}

int state_get_blob(const void *fdt, int node, const char *name, size_t min, size_t max,
		   const void **p, size_t *len)
{
	char path[256];
	int plen;

	if (node < 0)
		return node;
	*p = fdt_getprop(fdt, node, name, &plen);
	if (!*p)
		return err_set(ENOENT, "state %s: no property '%s'",
			       path_of(fdt, node, path, sizeof(path)), name);
	if ((size_t)plen < min || (size_t)plen > max) {
		if (min == max)
			return err_set(EINVAL, "state %s: property '%s' is %d bytes, expected %zu",
				       path_of(fdt, node, path, sizeof(path)), name, plen, min);
		return err_set(EINVAL, "state %s: property '%s' is %d bytes, expected %zu to %zu",
			       path_of(fdt, node, path, sizeof(path)), name, plen, min, max);
	}
	*len = plen;
	return 0;
}

int state_get_bytes(const void *fdt, int node, const char *name, void *buf, size_t len)
{
	const void *p;
	size_t n;
	int r = state_get_blob(fdt, node, name, len, len, &p, &n);

	if (!r)
		memcpy(buf, p, n);
	return r;
}

int state_get_bytes_max(const void *fdt, int node, const char *name, void *buf, size_t max,
			size_t *len)
{
	const void *p;
	int r = state_get_blob(fdt, node, name, 0, max, &p, len);

	if (!r)
		memcpy(buf, p, *len);
	return r;
}

int state_get_u32(const void *fdt, int node, const char *name, uint32_t *v)
{
	fdt32_t be;
	int r = state_get_bytes(fdt, node, name, &be, sizeof(be));

	if (!r)
		*v = fdt32_to_cpu(be);
	return r;
}

int state_get_u64(const void *fdt, int node, const char *name, uint64_t *v)
{
	fdt64_t be;
	int r = state_get_bytes(fdt, node, name, &be, sizeof(be));

	if (!r)
		*v = fdt64_to_cpu(be);
	return r;
}

int state_get_u32_range(const void *fdt, int node, const char *name, uint32_t min, uint32_t max,
			uint32_t *v)
{
	char path[256];
	uint32_t x;
	int r = state_get_u32(fdt, node, name, &x);

	if (r)
		return r;
	if (x < min || x > max)
		return err_set(EINVAL, "state %s: '%s' is %u, expected %u to %u",
			       path_of(fdt, node, path, sizeof(path)), name, x, min, max);
	*v = x;
	return 0;
}

int state_get_bool(const void *fdt, int node, const char *name, bool *v)
{
	uint32_t x;
	int r = state_get_u32_range(fdt, node, name, 0, 1, &x);

	if (!r)
		*v = x;
	return r;
}

int state_get_u64_array(const void *fdt, int node, const char *name, uint64_t *v, size_t max,
			size_t *n)
{
	char path[256];
	const fdt64_t *p;
	size_t len;
	int r = state_get_blob(fdt, node, name, 0, max * sizeof(*p), (const void **)&p, &len);

	if (r)
		return r;
	if (len % sizeof(*p))
		return err_set(EINVAL, "state %s: property '%s' is %zu bytes, not a multiple of 8",
			       path_of(fdt, node, path, sizeof(path)), name, len);
	*n = len / sizeof(*p);
	for (size_t i = 0; i < *n; i++) {
		fdt64_t be;

		memcpy(&be, &p[i], sizeof(be));	/* properties are only 4-aligned */
		v[i] = fdt64_to_cpu(be);
	}
	return 0;
}

/* ---- field tables ---- */

static uint64_t field_load(const void *obj, const struct state_field *f)
{
	const uint8_t *p = (const uint8_t *)obj + f->off;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (f->size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	default: memcpy(&u64, p, 8); return u64;
	}
}

static void field_store(void *obj, const struct state_field *f, uint64_t v)
{
	uint8_t *p = (uint8_t *)obj + f->off;
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;

	switch (f->size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &v, 8); break;
	}
}

int state_put_fields(struct state_tree *st, int node, const void *obj,
		     const struct state_field *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = field_load(obj, &f[i]);

		if (f[i].size <= 4)
			state_put_u32(st, node, f[i].name, (uint32_t)v);
		else
			state_put_u64(st, node, f[i].name, v);
	}
	return st->err;
}

int state_get_fields(const void *fdt, int node, void *obj, const struct state_field *f,
		     unsigned n)
{
	uint64_t vals[n ? n : 1];
	char path[256];
	int r;

	for (unsigned i = 0; i < n; i++) {
		uint32_t v32;

		if (f[i].size <= 4) {
			r = state_get_u32(fdt, node, f[i].name, &v32);
			vals[i] = v32;
		} else {
			r = state_get_u64(fdt, node, f[i].name, &vals[i]);
		}
		if (r)
			return r;
		if (f[i].bits && (vals[i] & ~f[i].limit))
			return err_set(EINVAL, "state %s: '%s' is 0x%llx, only bits 0x%llx allowed",
				       path_of(fdt, node, path, sizeof(path)), f[i].name,
				       (unsigned long long)vals[i], (unsigned long long)f[i].limit);
		if (!f[i].bits && vals[i] > f[i].limit)
			return err_set(EINVAL, "state %s: '%s' is %llu, at most %llu allowed",
				       path_of(fdt, node, path, sizeof(path)), f[i].name,
				       (unsigned long long)vals[i], (unsigned long long)f[i].limit);
	}
	for (unsigned i = 0; i < n; i++)
		field_store(obj, &f[i], vals[i]);
	return 0;
}
