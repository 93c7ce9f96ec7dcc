// SPDX-License-Identifier: Apache-2.0
/* The snapshot stream: see snapshot.h for the byte layout. */
#include "vmm/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/crc32c.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define HDR_FIXED	36	/* magic .. region count, and the device count */
#define SEC_HDR		16
#define RAM_META	16	/* gpa, page count, page size */
#define BITMAP_MAX	(SNAP_CHUNK_PAGES / 8)
#define HDR_MAX		(HDR_FIXED + 16 * SNAP_MAX_REGIONS + \
			 SNAP_MAX_DEVICES * (4 + SNAP_KIND_MAX + SNAP_OPTS_MAX) + 4)

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v); put32(p + 4, v >> 32); }
static uint16_t get16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* "512 MiB" when it is whole MiB, else bytes. */
static const char *size_str(uint64_t v, char *buf, size_t len)
{
	if (v && !(v & ((1ULL << 20) - 1)))
		snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)v);
	return buf;
}

void snapshot_shape_mem(struct snap_shape *s, const struct guest_mem *mem)
{
	s->mem_size = mem->size;
	s->nregions = mem->nregions;
	for (unsigned i = 0; i < mem->nregions && i < GUEST_MEM_MAX_REGIONS &&
			    i < SNAP_MAX_REGIONS; i++) {
		s->regions[i].gpa = mem->regions[i].gpa;
		s->regions[i].size = mem->regions[i].size;
	}
}

/* ---- writing ---- */

int stream_write_full(int fd, const void *buf, size_t len, const char *who)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(errno, "%s: write", who);
		if (n == 0)
			return err_set(EIO, "%s: write made no progress", who);
		p += n;
		len -= n;
	}
	return 0;
}

int stream_write_header(int fd, const char *magic, uint32_t version,
			const struct snap_shape *s, const char *who)
{
	uint8_t *h = malloc(HDR_MAX), *p;
	int r;

	if (!h)
		return err_set(ENOMEM, "%s: out of memory", who);
	if (!s->nregions || s->nregions > SNAP_MAX_REGIONS || s->ndevices > SNAP_MAX_DEVICES) {
		free(h);
		return err_set(EINVAL, "%s: %u regions, %u devices", who, s->nregions,
			       s->ndevices);
	}
	memcpy(h, magic, 8);
	put32(h + 8, version);
	put64(h + 16, s->mem_size);
	put32(h + 24, s->ncpus);
	put32(h + 28, s->nregions);
	p = h + 32;
	for (unsigned i = 0; i < s->nregions; i++, p += 16) {
		put64(p, s->regions[i].gpa);
		put64(p + 8, s->regions[i].size);
	}
	put32(p, s->ndevices);
	p += 4;
	for (unsigned i = 0; i < s->ndevices; i++) {
		size_t k = strnlen(s->devices[i].kind, SNAP_KIND_MAX - 1);
		size_t o = strnlen(s->devices[i].opts, SNAP_OPTS_MAX - 1);

		put16(p, k);
		memcpy(p + 2, s->devices[i].kind, k);
		p += 2 + k;
		put16(p, o);
		memcpy(p + 2, s->devices[i].opts, o);
		p += 2 + o;
	}
	put32(h + 12, (uint32_t)(p - h) + 4);
	put32(p, crc32c(0, h, p - h));
	r = stream_write_full(fd, h, p - h + 4, who);
	free(h);
	return r;
}

static void sec_header(uint8_t *h, uint32_t type, uint64_t len)
{
	put32(h, type);
	put32(h + 4, 0);
	put64(h + 8, len);
}

int stream_write_section(int fd, uint32_t type, const void *payload, size_t len,
			 const char *who)
{
	uint8_t h[SEC_HDR], c[4];
	int r;

	sec_header(h, type, len);
	put32(c, crc32c(crc32c(0, h, sizeof(h)), payload, len));
	r = stream_write_full(fd, h, sizeof(h), who);
	if (!r && len)
		r = stream_write_full(fd, payload, len, who);
	if (!r)
		r = stream_write_full(fd, c, sizeof(c), who);
	return r;
}

bool stream_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;	/* RAM is page-aligned */
	uint64_t acc = 0;

	for (unsigned i = 0; i < SNAP_PAGE / 8; i++)
		acc |= w[i];
	return !acc;
}

/* Around page i of the chunk at memfd offset `base` (n pages): the next
 * stretch of data, [*from, *to) in pages; pages before *from are a hole.
 * Where the memfd cannot say (hugetlbfs reports all data), all is data. */
void stream_hole_or_data(int memfd, uint64_t base, unsigned i, unsigned n, uint64_t *from,
			 uint64_t *to)
{
	off_t at = (off_t)(base + (uint64_t)i * SNAP_PAGE), d, h;

	*from = i;
	*to = n;
	d = lseek(memfd, at, SEEK_DATA);
	if (d < 0) {
		/* ENXIO: no data from here to the end of the file. */
		if (errno == ENXIO)
			*from = *to = n;
		return;
	}
	*from = ((uint64_t)d - base) / SNAP_PAGE;
	if (*from > n)
		*from = n;
	h = lseek(memfd, d, SEEK_HOLE);
	if (h > d)
		*to = ((uint64_t)h - base + SNAP_PAGE - 1) / SNAP_PAGE;
	if (*to > n)
		*to = n;
	if (*to <= *from)
		*to = *from + 1;
}

/* One RAM section: n pages from host address `host` (memfd offset
 * `foff`), guest address gpa. Pages in the memfd's holes are zero without
 * a look (reading them would allocate them); runs of non-zero pages go
 * out straight from guest memory. */
static int write_chunk(int fd, uint64_t gpa, const uint8_t *host, unsigned n, int memfd,
		       uint64_t foff)
{
	uint8_t head[SEC_HDR + RAM_META + BITMAP_MAX] = { 0 }, *bm = head + SEC_HDR + RAM_META;
	unsigned bmlen = (n + 7) / 8, nz = 0;
	uint64_t data_from = 0, data_to = memfd < 0 ? n : 0;
	uint32_t crc;
	uint8_t c[4];
	int r;

	for (unsigned i = 0; i < n; i++) {
		if (i >= data_to)
			stream_hole_or_data(memfd, foff, i, n, &data_from, &data_to);
		if (i >= data_from && !stream_page_is_zero(host + (size_t)i * SNAP_PAGE)) {
			bm[i / 8] |= 1 << (i % 8);
			nz++;
		}
	}
	sec_header(head, SNAP_SEC_RAM, RAM_META + bmlen + (uint64_t)nz * SNAP_PAGE);
	put64(head + SEC_HDR, gpa);
	put32(head + SEC_HDR + 8, n);
	put32(head + SEC_HDR + 12, SNAP_PAGE);
	crc = crc32c(0, head, SEC_HDR + RAM_META + bmlen);
	r = stream_write_full(fd, head, SEC_HDR + RAM_META + bmlen, "snapshot");
	for (unsigned i = 0; !r && i < n;) {
		unsigned run = 0;

		while (i + run < n && bm[(i + run) / 8] & (1 << ((i + run) % 8)))
			run++;
		if (run) {
			crc = crc32c(crc, host + (size_t)i * SNAP_PAGE, (size_t)run * SNAP_PAGE);
			r = stream_write_full(fd, host + (size_t)i * SNAP_PAGE,
					      (size_t)run * SNAP_PAGE, "snapshot");
		}
		i += run ? run : 1;
	}
	put32(c, crc);
	return r ? r : stream_write_full(fd, c, sizeof(c), "snapshot");
}

int snapshot_write_fd(int fd, const struct snap_shape *shape, const struct guest_mem *mem,
		      const void *tree, size_t tree_len)
{
	int r;

	if (mem->nregions != shape->nregions)
		return err_set(EINVAL, "snapshot: memory has %u regions, the shape %u",
			       mem->nregions, shape->nregions);
	r = stream_write_header(fd, SNAP_MAGIC, SNAP_VERSION, shape, "snapshot");
	if (!r)
		r = stream_write_section(fd, SNAP_SEC_ARGS, shape->args, shape->args_len,
					 "snapshot");
	for (unsigned i = 0; !r && i < mem->nregions; i++) {
		const struct guest_region *g = &mem->regions[i];

		if (g->size % SNAP_PAGE)
			return err_set(EINVAL, "snapshot: region %u is not whole pages", i);
		for (uint64_t off = 0; !r && off < g->size; off += SNAP_CHUNK_PAGES * SNAP_PAGE) {
			uint64_t left = (g->size - off) / SNAP_PAGE;

			unsigned n = left < SNAP_CHUNK_PAGES ? (unsigned)left : SNAP_CHUNK_PAGES;

			r = write_chunk(fd, g->gpa + off, g->host + off, n, mem->fd, g->offset + off);
		}
	}
	if (!r)
		r = stream_write_section(fd, SNAP_SEC_TREE, tree, tree_len, "snapshot");
	if (!r)
		r = stream_write_section(fd, SNAP_SEC_END, NULL, 0, "snapshot");
	return r;
}

/* ---- reading ---- */

int stream_read_full(struct stream_in *in, void *buf, size_t len, const char *what)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(in->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_set(ETIMEDOUT, "%s: the peer sent nothing for a minute in %s "
				       "(offset %llu)", in->who, what, (unsigned long long)in->pos);
		if (n < 0)
			return err_sys(errno, "%s: read at offset %llu", in->who,
				       (unsigned long long)in->pos);
		if (n == 0)
			return err_set(ENODATA, "%s: the stream ends in %s (offset %llu): "
				       "truncated", in->who, what, (unsigned long long)in->pos);
		p += n;
		len -= n;
		in->pos += n;
	}
	return 0;
}

static int check_devices(const struct snap_shape *a, const struct snap_shape *b)
{
	char la[256] = "", lb[256] = "";

	for (unsigned i = 0; i < a->ndevices && i < b->ndevices; i++) {
		if (strcmp(a->devices[i].kind, b->devices[i].kind) ||
		    strcmp(a->devices[i].opts, b->devices[i].opts))
			return err_set(EINVAL, "device list differs: device %u is %s (%s) in the "
				       "stream, %s (%s) in this VM", i, a->devices[i].kind,
				       a->devices[i].opts, b->devices[i].kind, b->devices[i].opts);
	}
	if (a->ndevices == b->ndevices)
		return 0;
	for (unsigned i = 0; i < a->ndevices; i++)
		snprintf(la + strlen(la), sizeof(la) - strlen(la), "%s%s", i ? ", " : "",
			 a->devices[i].kind);
	for (unsigned i = 0; i < b->ndevices; i++)
		snprintf(lb + strlen(lb), sizeof(lb) - strlen(lb), "%s%s", i ? ", " : "",
			 b->devices[i].kind);
	return err_set(EINVAL, "device list differs: the stream has %u devices (%s), this VM %u "
		       "(%s)", a->ndevices, la, b->ndevices, lb);
}

/* The stream's shape against the VM's; the first difference is named. */
int stream_check_shape(const struct snap_shape *s, const struct snap_shape *e)
{
	char a[32], b[32];

	if (s->mem_size != e->mem_size)
		return err_set(EINVAL, "memory size differs: stream %s, this VM %s",
			       size_str(s->mem_size, a, sizeof(a)),
			       size_str(e->mem_size, b, sizeof(b)));
	if (s->nregions != e->nregions)
		return err_set(EINVAL, "memory layout differs: stream %u regions, this VM %u",
			       s->nregions, e->nregions);
	for (unsigned i = 0; i < s->nregions; i++)
		if (s->regions[i].gpa != e->regions[i].gpa ||
		    s->regions[i].size != e->regions[i].size)
			return err_set(EINVAL, "memory layout differs: region %u is %s at 0x%llx "
				       "in the stream, %s at 0x%llx in this VM", i,
				       size_str(s->regions[i].size, a, sizeof(a)),
				       (unsigned long long)s->regions[i].gpa,
				       size_str(e->regions[i].size, b, sizeof(b)),
				       (unsigned long long)e->regions[i].gpa);
	if (s->ncpus != e->ncpus)
		return err_set(EINVAL, "vCPU count differs: stream %u, this VM %u", s->ncpus,
			       e->ncpus);
	return check_devices(s, e);
}

/* Take a length-prefixed string at *p (bounded by end) into out[max]. */
static int get_str(const uint8_t **p, const uint8_t *end, char *out, size_t max)
{
	uint16_t n;

	if (end - *p < 2)
		return -1;
	n = get16(*p);
	if (n >= max || end - *p - 2 < n)
		return -1;
	memcpy(out, *p + 2, n);
	out[n] = '\0';
	*p += 2 + n;
	return 0;
}

int stream_read_header(struct stream_in *in, const char *magic, uint32_t version,
		       struct snap_shape *s)
{
	uint8_t *h = malloc(HDR_MAX);
	const uint8_t *p, *end;
	uint32_t len;
	int r;

	if (!h)
		return err_set(ENOMEM, "%s: out of memory", in->who);
	memset(s, 0, sizeof(*s));
	r = stream_read_full(in, h, 16, "the header");
	if (r)
		goto out;
	if (memcmp(h, magic, 8)) {
		r = err_set(EINVAL, "%s: not a kite %s (bad magic)", in->who, in->who);
		goto out;
	}
	if (get32(h + 8) != version) {
		r = err_set(EINVAL, "%s: format version %u, this kite reads version %u",
			    in->who, get32(h + 8), version);
		goto out;
	}
	len = get32(h + 12);
	if (len < HDR_FIXED + 16 + 4 || len > HDR_MAX) {
		r = err_set(EINVAL, "%s: header length %u is impossible", in->who, len);
		goto out;
	}
	r = stream_read_full(in, h + 16, len - 16, "the header");
	if (r)
		goto out;
	if (crc32c(0, h, len - 4) != get32(h + len - 4)) {
		r = err_set(EBADMSG, "%s: header checksum mismatch (corrupt)", in->who);
		goto out;
	}
	end = h + len - 4;
	s->mem_size = get64(h + 16);
	s->ncpus = get32(h + 24);
	s->nregions = get32(h + 28);
	if (!s->nregions || s->nregions > SNAP_MAX_REGIONS || 32 + 16 * s->nregions + 4 > len - 4)
		goto bad;
	p = h + 32;
	for (unsigned i = 0; i < s->nregions; i++, p += 16) {
		s->regions[i].gpa = get64(p);
		s->regions[i].size = get64(p + 8);
	}
	s->ndevices = get32(p);
	p += 4;
	if (s->ndevices > SNAP_MAX_DEVICES)
		goto bad;
	for (unsigned i = 0; i < s->ndevices; i++)
		if (get_str(&p, end, s->devices[i].kind, SNAP_KIND_MAX) ||
		    get_str(&p, end, s->devices[i].opts, SNAP_OPTS_MAX))
			goto bad;
	if (p == end)
		goto out;
bad:
	r = err_set(EINVAL, "%s: header is malformed", in->who);
out:
	free(h);
	return r;
}

/* Where the next RAM section must start. */
struct ram_pos {
	unsigned region;
	uint64_t off;
};

static int read_chunk(struct stream_in *in, const uint8_t *sh, const struct guest_mem *mem,
		      struct ram_pos *rp, bool fresh)
{
	const struct guest_region *g = &mem->regions[rp->region];
	uint8_t meta[RAM_META + BITMAP_MAX], c[4];
	uint64_t len = get64(sh + 8), gpa, left = (g->size - rp->off) / SNAP_PAGE;
	uint32_t n, psize, crc = crc32c(0, sh, SEC_HDR);
	unsigned nz = 0, bmlen;
	uint8_t *host;
	int r = stream_read_full(in, meta, RAM_META, "a RAM section");

	if (r)
		return r;
	gpa = get64(meta);
	n = get32(meta + 8);
	psize = get32(meta + 12);
	if (gpa != g->gpa + rp->off)
		return err_set(EINVAL, "snapshot: RAM section at gpa 0x%llx, expected 0x%llx",
			       (unsigned long long)gpa, (unsigned long long)(g->gpa + rp->off));
	if (psize != SNAP_PAGE || !n || n > SNAP_CHUNK_PAGES || n > left)
		return err_set(EINVAL, "snapshot: RAM section at gpa 0x%llx: %u pages of %u bytes",
			       (unsigned long long)gpa, n, psize);
	bmlen = (n + 7) / 8;
	r = stream_read_full(in, meta + RAM_META, bmlen, "a RAM section");
	if (r)
		return r;
	for (unsigned i = 0; i < n; i++)
		nz += meta[RAM_META + i / 8] >> (i % 8) & 1;
	if (len != RAM_META + bmlen + (uint64_t)nz * SNAP_PAGE)
		return err_set(EINVAL, "snapshot: RAM section at gpa 0x%llx is %llu bytes, its "
			       "bitmap says %llu", (unsigned long long)gpa, (unsigned long long)len,
			       (unsigned long long)(RAM_META + bmlen + (uint64_t)nz * SNAP_PAGE));
	crc = crc32c(crc, meta, RAM_META + bmlen);
	host = g->host + rp->off;
	for (unsigned i = 0; i < n;) {
		bool set = meta[RAM_META + i / 8] >> (i % 8) & 1;
		unsigned run = 1;

		while (i + run < n &&
		       (meta[RAM_META + (i + run) / 8] >> ((i + run) % 8) & 1) == set)
			run++;
		if (set) {
			r = stream_read_full(in, host + (size_t)i * SNAP_PAGE, (size_t)run * SNAP_PAGE,
				      "a RAM section");
			if (r)
				return r;
			crc = crc32c(crc, host + (size_t)i * SNAP_PAGE, (size_t)run * SNAP_PAGE);
		} else if (!fresh) {
			memset(host + (size_t)i * SNAP_PAGE, 0, (size_t)run * SNAP_PAGE);
		}
		i += run;
	}
	r = stream_read_full(in, c, sizeof(c), "a RAM section");
	if (r)
		return r;
	if (crc != get32(c))
		return err_set(EBADMSG, "snapshot: checksum mismatch in the RAM section at gpa "
			       "0x%llx (corrupt)", (unsigned long long)gpa);
	rp->off += (uint64_t)n * SNAP_PAGE;
	if (rp->off == g->size) {
		rp->region++;
		rp->off = 0;
	}
	return 0;
}

int stream_read_payload(struct stream_in *in, const uint8_t *sh, void *buf, size_t len,
			const char *what)
{
	uint8_t c[4];
	int r = len ? stream_read_full(in, buf, len, what) : 0;

	if (!r)
		r = stream_read_full(in, c, sizeof(c), what);
	if (r)
		return r;
	if (crc32c(crc32c(0, sh, SEC_HDR), buf, len) != get32(c))
		return err_set(EBADMSG, "%s: checksum mismatch in %s (corrupt)", in->who, what);
	return 0;
}

/* The ARGS section, right after the header: read, checked, returned. */
static int read_args(struct stream_in *in, char **args, size_t *args_len)
{
	uint8_t sh[SEC_HDR];
	uint64_t len;
	char *a;
	int r = stream_read_full(in, sh, SEC_HDR, "the command-line section");

	if (r)
		return r;
	len = get64(sh + 8);
	if (get32(sh) != SNAP_SEC_ARGS || get32(sh + 4) || len > SNAP_ARGS_MAX)
		return err_set(EINVAL, "%s: no command-line section after the header", in->who);
	a = malloc(len + 1);
	if (!a)
		return err_set(ENOMEM, "%s: out of memory", in->who);
	r = stream_read_payload(in, sh, a, len, "the command-line section");
	if (!r && len && a[len - 1] != '\0')
		r = err_set(EINVAL, "%s: the command-line section is malformed", in->who);
	if (r) {
		free(a);
		return r;
	}
	a[len] = '\0';
	*args = a;
	*args_len = len;
	return 0;
}

static int skip_args(struct stream_in *in)
{
	char *a;
	size_t len;
	int r = read_args(in, &a, &len);

	if (!r)
		free(a);
	return r;
}

int snapshot_read_args_fd(int fd, struct snap_shape *shape, char **args, size_t *args_len)
{
	struct stream_in in = { .fd = fd, .who = "snapshot" };
	int r = stream_read_header(&in, SNAP_MAGIC, SNAP_VERSION, shape);

	return r ? r : read_args(&in, args, args_len);
}

int snapshot_read_fd(int fd, const struct snap_shape *expect, const struct guest_mem *mem,
		     bool fresh, void **tree, size_t *tree_len)
{
	struct snap_shape *s = malloc(sizeof(*s));
	struct stream_in in = { .fd = fd, .who = "snapshot" };
	struct ram_pos rp = { 0, 0 };
	uint8_t sh[SEC_HDR];
	void *t = NULL;
	uint64_t len, tlen = 0;
	int r;

	if (!s)
		return err_set(ENOMEM, "snapshot: out of memory");
	r = stream_read_header(&in, SNAP_MAGIC, SNAP_VERSION, s);
	if (!r)
		r = stream_check_shape(s, expect);
	free(s);
	if (!r)
		r = skip_args(&in);
	if (!r && mem->nregions != expect->nregions)
		r = err_set(EINVAL, "snapshot: guest memory has %u regions, the VM's shape %u",
			    mem->nregions, expect->nregions);
	while (!r) {
		bool ram_done = rp.region == mem->nregions;

		r = stream_read_full(&in, sh, SEC_HDR, !ram_done ? "RAM" : !t ? "the state tree"
			      : "the end marker");
		if (r)
			break;
		len = get64(sh + 8);
		if (get32(sh + 4)) {
			r = err_set(EINVAL, "snapshot: section header at offset %llu is malformed",
				    (unsigned long long)(in.pos - SEC_HDR));
		} else if (get32(sh) == SNAP_SEC_RAM && !ram_done) {
			r = read_chunk(&in, sh, mem, &rp, fresh);
		} else if (get32(sh) == SNAP_SEC_TREE && ram_done && !t) {
			if (len < 64 || len > STATE_MAX_SIZE) {
				r = err_set(EINVAL, "snapshot: state tree of %llu bytes",
					    (unsigned long long)len);
				break;
			}
			t = malloc(len);
			r = t ? stream_read_payload(&in, sh, t, len, "the state tree")
			      : err_set(ENOMEM, "snapshot: out of memory");
			if (!r)
				r = state_check(t, len);
			tlen = len;
		} else if (get32(sh) == SNAP_SEC_END && t) {
			r = len ? err_set(EINVAL, "snapshot: end marker with %llu bytes",
					  (unsigned long long)len)
				: stream_read_payload(&in, sh, NULL, 0, "the end marker");
			if (!r)
				break;
		} else if (!ram_done) {
			r = err_set(EINVAL, "snapshot: section 0x%08x where RAM at gpa 0x%llx was "
				    "expected (the stream's RAM is incomplete)", get32(sh),
				    (unsigned long long)(mem->regions[rp.region].gpa + rp.off));
		} else {
			r = err_set(EINVAL, "snapshot: unexpected section 0x%08x at offset %llu",
				    get32(sh), (unsigned long long)(in.pos - SEC_HDR));
		}
	}
	if (r) {
		free(t);
		return r;
	}
	*tree = t;
	*tree_len = tlen;
	return 0;
}
