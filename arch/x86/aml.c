// SPDX-License-Identifier: Apache-2.0
/*
 * AML byte-code writer (ACPI 6.0 section 20, the AML grammar, and 6.4,
 * resource descriptors). See aml.h.
 */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes and prefixes used here (ACPI 6.0, 20.2). */
#define AML_ZERO		0x00
#define AML_ONE			0x01
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_STRING_PREFIX	0x0d
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_METHOD_OP		0x14
#define AML_DUAL_NAME		0x2e
#define AML_MULTI_NAME		0x2f
#define AML_EXT_PREFIX		0x5b
#define AML_DEVICE_OP		0x82	/* after AML_EXT_PREFIX */
#define AML_ROOT_CHAR		'\\'
#define AML_PARENT_CHAR		'^'
#define AML_RETURN_OP		0xa4

enum { KIND_PKG, KIND_BUFFER };

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

long aml_finish(struct aml *a)
{
	if (a->bad || a->depth)
		return -EINVAL;
	if (a->overflow)
		return -ENOSPC;
	return (long)a->len;
}

void aml_byte(struct aml *a, uint8_t b)
{
	if (!a->overflow && a->len < a->cap)
		a->buf[a->len] = b;
	else
		a->overflow = true;
	a->len++;
}

void aml_raw(struct aml *a, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		aml_byte(a, *b++);
}

static void aml_le(struct aml *a, uint64_t v, unsigned bytes)
{
	while (bytes--) {
		aml_byte(a, v & 0xff);
		v >>= 8;
	}
}

/* Insert `n` bytes at offset `at`, moving what follows. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (!a->overflow && a->len + n <= a->cap) {
		memmove(a->buf + at + n, a->buf + at, a->len - at);
		memcpy(a->buf + at, p, n);
	} else {
		a->overflow = true;
	}
	a->len += n;
}

/*
 * PkgLength (20.2.4) counts itself, so its size depends on its value:
 * one byte up to 63, else a lead byte holding the count of following
 * bytes and the low nibble, then up to three more bytes.
 */
static size_t pkglength_encode(size_t body, uint8_t *out)
{
	size_t n, total;

	if (body + 1 <= 0x3f) {
		out[0] = body + 1;
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		total = body + n;
		if (total < (1UL << (4 + 8 * (n - 1)))) {
			out[0] = ((n - 1) << 6) | (total & 0xf);
			for (size_t i = 1; i < n; i++)
				out[i] = (total >> (4 + 8 * (i - 1))) & 0xff;
			return n;
		}
	}
	return 0;
}

static void aml_open(struct aml *a, uint8_t kind)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->bad = true;
		return;
	}
	a->open[a->depth].start = a->len;
	a->open[a->depth].kind = kind;
	a->depth++;
}

void aml_end(struct aml *a)
{
	uint8_t hdr[4 + 9];
	size_t start, body, n = 0, m;
	uint64_t size;

	if (!a->depth) {
		a->bad = true;
		return;
	}
	a->depth--;
	start = a->open[a->depth].start;
	body = a->len - start;
	if (a->open[a->depth].kind == KIND_BUFFER) {
		/* BufferOp PkgLength BufferSize ByteList: the size is an
		 * integer term inside the package. */
		uint8_t num[9];

		size = body;
		if (size <= 0xff) {
			num[0] = AML_BYTE_PREFIX;
			num[1] = size;
			m = 2;
		} else if (size <= 0xffff) {
			num[0] = AML_WORD_PREFIX;
			num[1] = size & 0xff;
			num[2] = size >> 8;
			m = 3;
		} else {
			num[0] = AML_DWORD_PREFIX;
			for (int i = 0; i < 4; i++)
				num[1 + i] = (size >> (8 * i)) & 0xff;
			m = 5;
		}
		n = pkglength_encode(body + m, hdr);
		memcpy(hdr + n, num, m);
		n += m;
	} else {
		n = pkglength_encode(body, hdr);
	}
	if (!n) {
		a->bad = true;
		return;
	}
	aml_insert(a, start, hdr, n);
}

static bool name_char(char c, bool lead)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9');
}

/* One NameSeg from `s` (up to 4 characters before '.' or the end). */
static const char *aml_nameseg(struct aml *a, const char *s)
{
	int i;

	for (i = 0; i < 4 && *s && *s != '.'; i++, s++) {
		if (!name_char(*s, i == 0))
			a->bad = true;
		aml_byte(a, *s);
	}
	if (i == 0 || (*s && *s != '.'))
		a->bad = true;
	for (; i < 4; i++)
		aml_byte(a, '_');
	return *s == '.' ? s + 1 : s;
}

void aml_namestring(struct aml *a, const char *path)
{
	unsigned segs = 0;
	const char *p;

	if (*path == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
	} else {
		while (*path == AML_PARENT_CHAR)
			aml_byte(a, *path++);
	}
	if (!*path) {
		aml_byte(a, 0);		/* NullName */
		return;
	}
	for (segs = 1, p = path; *p; p++)
		segs += *p == '.';
	if (segs == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (segs > 2) {
		if (segs > 255)
			a->bad = true;
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, segs);
	}
	while (*path)
		path = aml_nameseg(a, path);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffULL) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		/* Needs a DSDT of revision 2 or later (64-bit integers). */
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_raw(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * EisaId (19.6.35): three letters of five bits each ('A' is 1) and four
 * hex digits, stored as a DWord whose bytes read in the id's order.
 */
void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;
	int i;

	if (strlen(id) != 7) {
		a->bad = true;
		return;
	}
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			a->bad = true;
		v = (v << 5) | ((id[i] - '@') & 0x1f);
	}
	for (i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0)
			a->bad = true;
		v = (v << 4) | (d & 0xf);
	}
	/* 31 bits so far, most significant first: bytes go out big-endian. */
	aml_byte(a, AML_DWORD_PREFIX);
	aml_byte(a, v >> 24);
	aml_byte(a, v >> 16);
	aml_byte(a, v >> 8);
	aml_byte(a, v);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

void aml_name_integer(struct aml *a, const char *path, uint64_t v)
{
	aml_name(a, path);
	aml_integer(a, v);
}

void aml_name_eisaid(struct aml *a, const char *path, const char *id)
{
	aml_name(a, path);
	aml_eisaid(a, id);
}

void aml_name_string(struct aml *a, const char *path, const char *s)
{
	aml_name(a, path);
	aml_string(a, s);
}

void aml_scope(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, KIND_PKG);
	aml_namestring(a, path);
}

void aml_device(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a, KIND_PKG);
	aml_namestring(a, path);
}

void aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized)
{
	if (nargs > 7)
		a->bad = true;
	aml_byte(a, AML_METHOD_OP);
	aml_open(a, KIND_PKG);
	aml_namestring(a, path);
	aml_byte(a, (nargs & 7) | (serialized ? 0x08 : 0));
}

void aml_package(struct aml *a, unsigned nelems)
{
	if (nelems > 255)
		a->bad = true;	/* would need VarPackageOp */
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, KIND_PKG);
	aml_byte(a, nelems);
}

void aml_buffer(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, KIND_BUFFER);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

/* --- resource descriptors (ACPI 6.0, 6.4) --- */

#define RES_SMALL(name, len)	(((name) << 3) | (len))
#define RES_IRQ			RES_SMALL(0x4, 2)
#define RES_IO			RES_SMALL(0x8, 7)
#define RES_END			RES_SMALL(0xf, 1)
#define RES_MEM32_FIXED		0x86
#define RES_DWORD_ADDR		0x87
#define RES_WORD_ADDR		0x88
#define RES_QWORD_ADDR		0x8a

#define ADDR_TYPE_MEM		0
#define ADDR_TYPE_IO		1
#define ADDR_TYPE_BUS		2
/* General flags: producer (bit 0 clear), positive decode (bit 1 clear),
 * minimum fixed (bit 2), maximum fixed (bit 3). */
#define ADDR_PRODUCER_FIXED	0x0c
#define MEM_RW			0x01
#define MEM_CACHEABLE		0x02	/* _MEM = 1 */
#define IO_ENTIRE_RANGE		0x03	/* _RNG = 3 */

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, RES_IO);
	aml_byte(a, 0x01);	/* decodes 16 address bits */
	aml_le(a, base, 2);	/* minimum */
	aml_le(a, base, 2);	/* maximum */
	aml_byte(a, 0x01);	/* alignment */
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	if (irq > 15)
		a->bad = true;
	/* Two-byte form: edge-triggered, active-high, exclusive (ISA). */
	aml_byte(a, RES_IRQ);
	aml_le(a, 1u << (irq & 15), 2);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	aml_byte(a, RES_MEM32_FIXED);
	aml_le(a, 9, 2);
	aml_byte(a, MEM_RW);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

/* Address-space descriptor of `width` bytes per field: granularity 0,
 * no translation, length max - min + 1. */
static void aml_res_addr(struct aml *a, uint8_t tag, unsigned width, uint8_t type,
			 uint8_t tflags, uint64_t min, uint64_t max)
{
	if (max < min)
		a->bad = true;
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2);
	aml_byte(a, type);
	aml_byte(a, ADDR_PRODUCER_FIXED);
	aml_byte(a, tflags);
	aml_le(a, 0, width);		/* granularity */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width);		/* translation offset */
	aml_le(a, max - min + 1, width);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, RES_WORD_ADDR, 2, ADDR_TYPE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, RES_WORD_ADDR, 2, ADDR_TYPE_IO, IO_ENTIRE_RANGE, min, max);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
	aml_res_addr(a, RES_DWORD_ADDR, 4, ADDR_TYPE_MEM,
		     MEM_RW | (cacheable ? MEM_CACHEABLE : 0), min, max);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable)
{
	aml_res_addr(a, RES_QWORD_ADDR, 8, ADDR_TYPE_MEM,
		     MEM_RW | (cacheable ? MEM_CACHEABLE : 0), min, max);
}

void aml_res_end(struct aml *a)
{
	/* A zero checksum byte means "treat the template as valid". */
	aml_byte(a, RES_END);
	aml_byte(a, 0);
}
