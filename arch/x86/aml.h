/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny AML byte-code writer, enough for kite's DSDT: names, integers,
 * strings, EISA ids, scopes, devices, methods, packages, buffers and the
 * resource descriptors of a _CRS (ACPI 6.0, sections 19.6 and 20; 6.4).
 *
 * Constructs with a PkgLength (scope, device, method, package, buffer) are
 * opened by one call and closed by aml_end(); the length is inserted when
 * the construct closes, since its encoding size depends on it. Writes past
 * the buffer are counted, not made: aml_finish() reports -ENOSPC then.
 */
#ifndef KITE_ARCH_X86_AML_H
#define KITE_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;		/* bytes written (or that would have been) */
	bool overflow;
	bool bad;		/* malformed: bad name or id, unbalanced aml_end, too deep */
	unsigned depth;
	struct {
		size_t start;	/* offset of the first byte after the opcode */
		uint8_t kind;
	} open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* The bytes written, or -ENOSPC if they did not fit, -EINVAL if a
 * construct is left open or was closed twice. */
long aml_finish(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_raw(struct aml *a, const void *p, size_t n);

/* NameString: "\\_SB.PCI0", "_HID", "^PCI0"; segments shorter than four
 * characters are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
/* Integer data in the shortest encoding (Zero, One, Byte ... QWord). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0A08"): the compressed 32-bit form. */
void aml_eisaid(struct aml *a, const char *id);

/* Name(path, <object that follows>). */
void aml_name(struct aml *a, const char *path);
void aml_name_integer(struct aml *a, const char *path, uint64_t v);
void aml_name_eisaid(struct aml *a, const char *path, const char *id);
void aml_name_string(struct aml *a, const char *path, const char *s);

/* Openers; each is closed by aml_end(). */
void aml_scope(struct aml *a, const char *path);
void aml_device(struct aml *a, const char *path);
void aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized);
void aml_package(struct aml *a, unsigned nelems);
void aml_buffer(struct aml *a);
void aml_end(struct aml *a);

/* Return(<term that follows>). */
void aml_return(struct aml *a);

/*
 * Resource descriptors, written inside aml_buffer() ... aml_end(), the
 * last one being aml_res_end(). Address-space descriptors describe a
 * bridge's window: producer, fixed minimum and maximum, positive decode.
 */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, unsigned irq);
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool cacheable);
void aml_res_end(struct aml *a);

#endif
