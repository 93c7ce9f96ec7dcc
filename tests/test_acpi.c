// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI tables and the AML writer. With KITE_ACPI_DUMP=DIR set, the "dump"
 * case also writes every table to DIR/cpuN/SIG.dat for tests/acpi-iasl.sh.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

#define AREA (ACPI_TABLES_END - ACPI_RSDP_ADDR)

static uint8_t buf[AREA];
static int used;

static const unsigned cpu_counts[] = { 1, 2, 4, 64 };
static const uint64_t ram_sizes[] = { MiB(512), GiB(2), GiB(4), GiB(24) };

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static int build(unsigned ncpus, uint64_t ram)
{
	struct acpi_config cfg = { .ncpus = ncpus, .ram_size = ram };

	memset(buf, 0xa5, sizeof(buf));
	used = acpi_build(buf, ACPI_RSDP_ADDR, sizeof(buf), &cfg);
	ck_assert_msg(used > 0, "acpi_build: %d %s", used, err_msg());
	return used;
}

/* The table at guest-physical `gpa`, checked to lie inside what was built. */
static const uint8_t *table_at(uint64_t gpa)
{
	uint64_t off = gpa - ACPI_RSDP_ADDR;
	uint32_t len;

	ck_assert_msg(gpa >= ACPI_RSDP_ADDR && off + 36 <= (uint64_t)used,
		      "table pointer 0x%llx outside the tables", (unsigned long long)gpa);
	len = get(buf + off + 4, 4);
	ck_assert_uint_le(off + len, used);
	ck_assert_uint_eq(off % 16, 0);
	return buf + off;
}

static void check_header(const uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	ck_assert_mem_eq(t, sig, 4);
	if (len)
		ck_assert_uint_eq(get(t + 4, 4), len);
	ck_assert_uint_eq(t[8], rev);
	ck_assert_uint_eq(acpi_checksum(t, get(t + 4, 4)), 0);
	ck_assert_mem_eq(t + 10, "KITE  ", 6);
	ck_assert_mem_eq(t + 16, "KITEVM  ", 8);
	ck_assert_mem_eq(t + 28, "KITE", 4);
}

static const uint8_t *xsdt_find(const char *sig)
{
	const uint8_t *x = table_at(get(buf + 24, 8));
	uint32_t n = (get(x + 4, 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = table_at(get(x + 36 + 8 * i, 8));

		if (!memcmp(t, sig, 4))
			return t;
	}
	ck_abort_msg("%s not in the XSDT", sig);
	return NULL;
}

static const uint8_t *memfind(const uint8_t *h, size_t hn, const void *n, size_t nn)
{
	for (size_t i = 0; i + nn <= hn; i++)
		if (!memcmp(h + i, n, nn))
			return h + i;
	return NULL;
}

START_TEST(rsdp)
{
	unsigned ncpus = cpu_counts[_i];

	build(ncpus, ram_sizes[_i]);
	ck_assert_mem_eq(buf, "RSD PTR ", 8);
	ck_assert_uint_eq(acpi_checksum(buf, 20), 0);
	ck_assert_uint_eq(acpi_checksum(buf, 36), 0);
	ck_assert_uint_eq(buf[15], 2);
	ck_assert_uint_eq(get(buf + 20, 4), 36);
	ck_assert_mem_eq(buf + 9, "KITE  ", 6);
	check_header(table_at(get(buf + 24, 8)), "XSDT", 36 + 3 * 8, 1);
	check_header(table_at(get(buf + 16, 4)), "RSDT", 36 + 3 * 4, 1);
}
END_TEST

START_TEST(every_table)
{
	const uint8_t *x, *r, *fadt, *facs;
	unsigned ncpus = cpu_counts[_i];

	build(ncpus, ram_sizes[_i]);
	ck_assert_int_le(used, AREA);
	x = table_at(get(buf + 24, 8));
	r = table_at(get(buf + 16, 4));
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(get(x + 36 + 8 * i, 8), get(r + 36 + 4 * i, 4));
	fadt = xsdt_find("FACP");
	check_header(fadt, "FACP", 276, 6);
	check_header(xsdt_find("APIC"), "APIC", 44 + 8 * ncpus + 12 + 20 + 6, 4);
	check_header(xsdt_find("MCFG"), "MCFG", 60, 1);
	check_header(table_at(get(fadt + 140, 8)), "DSDT", 0, 2);
	facs = buf + (get(fadt + 36, 4) - ACPI_RSDP_ADDR);
	ck_assert_uint_eq(get(fadt + 36, 4) % 64, 0);
	ck_assert_mem_eq(facs, "FACS", 4);
	ck_assert_uint_eq(get(facs + 4, 4), 64);
	ck_assert_uint_eq(facs[32], 2);
	/* Everything past the RSDP starts at ACPI_TABLES_ADDR. */
	ck_assert_uint_eq(get(fadt + 36, 4), ACPI_TABLES_ADDR);
}
END_TEST

START_TEST(madt)
{
	unsigned ncpus = cpu_counts[_i], lapics = 0, isos = 0, nmis = 0, ioapics = 0;
	const uint8_t *t, *p, *end;

	build(ncpus, ram_sizes[_i]);
	t = xsdt_find("APIC");
	ck_assert_uint_eq(get(t + 36, 4), LAPIC_ADDR);
	ck_assert_uint_eq(get(t + 40, 4), 1);	/* PCAT_COMPAT */
	end = t + get(t + 4, 4);
	for (p = t + 44; p < end; p += p[1]) {
		ck_assert_uint_ge(p[1], 2);
		switch (p[0]) {
		case 0:
			ck_assert_uint_eq(p[1], 8);
			ck_assert_uint_eq(p[2], lapics);
			ck_assert_uint_eq(p[3], lapics);
			ck_assert_uint_eq(get(p + 4, 4), 1);
			lapics++;
			break;
		case 1:
			ck_assert_uint_eq(p[1], 12);
			ck_assert_uint_eq(p[2], 0);	/* as KVM's IOAPIC ID register reads */
			ck_assert_uint_eq(get(p + 4, 4), IOAPIC_ADDR);
			ck_assert_uint_eq(get(p + 8, 4), 0);
			ioapics++;
			break;
		case 2:
			ck_assert_uint_eq(p[1], 10);
			ck_assert_uint_eq(p[2], 0);
			if (p[3] == 0) {
				ck_assert_uint_eq(get(p + 4, 4), 2);
				ck_assert_uint_eq(get(p + 8, 2), 0);
			} else {
				ck_assert_uint_eq(p[3], ACPI_SCI_IRQ);
				ck_assert_uint_eq(get(p + 4, 4), ACPI_SCI_IRQ);
				ck_assert_uint_eq(get(p + 8, 2), 0xd);	/* level, high */
			}
			isos++;
			break;
		case 4:
			ck_assert_uint_eq(p[1], 6);
			ck_assert_uint_eq(p[2], 0xff);
			ck_assert_uint_eq(p[5], 1);	/* LINT1 */
			nmis++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %u", p[0]);
		}
	}
	ck_assert_ptr_eq(p, end);
	ck_assert_uint_eq(lapics, ncpus);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(isos, 2);
	ck_assert_uint_eq(nmis, 1);
}
END_TEST

static void check_gas(const uint8_t *g, unsigned bits, uint64_t port)
{
	ck_assert_uint_eq(g[0], 1);		/* system I/O */
	ck_assert_uint_eq(g[1], bits);
	ck_assert_uint_eq(g[2], 0);
	ck_assert_uint_eq(get(g + 4, 8), port);
}

START_TEST(fadt)
{
	const uint8_t *f;
	uint32_t flags;

	build(cpu_counts[_i], ram_sizes[_i]);
	f = xsdt_find("FACP");
	ck_assert_uint_eq(get(f + 40, 4), get(f + 140, 8));	/* DSDT == X_DSDT */
	ck_assert_uint_eq(get(f + 132, 8), 0);	/* X_FIRMWARE_CTRL: FACS is 32-bit */
	ck_assert_uint_eq(get(f + 46, 2), ACPI_SCI_IRQ);
	ck_assert_uint_eq(get(f + 48, 4), 0);	/* SMI_CMD */
	ck_assert_uint_eq(get(f + 56, 4), PORT_ACPI_PM1A_EVT);
	ck_assert_uint_eq(get(f + 60, 4), 0);
	ck_assert_uint_eq(get(f + 64, 4), PORT_ACPI_PM1A_CNT);
	ck_assert_uint_eq(get(f + 76, 4), PORT_ACPI_PM_TMR);
	ck_assert_uint_eq(get(f + 80, 4), PORT_ACPI_GPE0);
	ck_assert_uint_eq(f[88], 4);
	ck_assert_uint_eq(f[89], 2);
	ck_assert_uint_eq(f[91], 4);
	ck_assert_uint_eq(f[92], 4);
	ck_assert_uint_eq(get(f + 109, 2) & 0x2, 0x2);	/* 8042 */
	flags = get(f + 112, 4);
	ck_assert_uint_eq(flags & 0x1, 0x1);		/* WBINVD */
	ck_assert_uint_eq(flags & 0x4, 0x4);		/* PROC_C1 */
	ck_assert_uint_eq(flags & 0x20, 0x20);		/* SLP_BUTTON */
	ck_assert_uint_eq(flags & 0x400, 0x400);	/* RESET_REG_SUP */
	ck_assert_uint_eq(flags & 0x100, 0);		/* TMR_VAL_EXT: 24-bit */
	ck_assert_uint_eq(flags & (1u << 20), 0);	/* not hardware-reduced */
	check_gas(f + 116, 8, PORT_RESET_CF9);
	ck_assert_uint_eq(f[128], 6);
	check_gas(f + 148, 32, PORT_ACPI_PM1A_EVT);
	check_gas(f + 172, 16, PORT_ACPI_PM1A_CNT);
	check_gas(f + 208, 32, PORT_ACPI_PM_TMR);
	check_gas(f + 220, 32, PORT_ACPI_GPE0);
	ck_assert_mem_eq(f + 268, "KITE", 4);
}
END_TEST

START_TEST(mcfg)
{
	const uint8_t *m;

	build(cpu_counts[_i], ram_sizes[_i]);
	m = xsdt_find("MCFG");
	ck_assert_uint_eq(get(m + 44, 8), PCI_ECAM_START);
	ck_assert_uint_eq(get(m + 52, 2), 0);
	ck_assert_uint_eq(m[54], 0);
	ck_assert_uint_eq(m[55], 255);
}
END_TEST

/* A tiny AML reader for the checks below: integers and PkgLength. */
static uint64_t aml_int(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	static const unsigned sizes[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	uint64_t v;

	if (*p == 0x00 || *p == 0x01) {
		*pp = p + 1;
		return *p;
	}
	ck_assert_msg(*p < 0x0f && sizes[*p], "not an AML integer: 0x%x", *p);
	v = get(p + 1, sizes[*p]);
	*pp = p + 1 + sizes[*p];
	return v;
}

static size_t aml_pkglen(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	unsigned follow = p[0] >> 6;
	size_t len = follow ? p[0] & 0xf : p[0] & 0x3f;

	for (unsigned i = 0; i < follow; i++)
		len |= (size_t)p[1 + i] << (4 + 8 * i);
	*pp = p + 1 + follow;
	return len;
}

START_TEST(dsdt)
{
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t s5[] = { '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	const uint8_t *d, *p, *q, *end;
	uint64_t ram = ram_sizes[_i], w = pci_mmio64_start(ram);
	uint8_t qword[8];
	size_t len;

	build(cpu_counts[_i], ram);
	d = table_at(get(xsdt_find("FACP") + 140, 8));
	len = get(d + 4, 4);
	ck_assert_ptr_nonnull(memfind(d, len, s5, sizeof(s5)));
	ck_assert_ptr_nonnull(memfind(d, len, "PCI0", 4));
	ck_assert_ptr_nonnull(memfind(d, len, "COM1", 4));
	ck_assert_ptr_nonnull(memfind(d, len, pnp0a08, sizeof(pnp0a08)));
	ck_assert_ptr_nonnull(memfind(d, len, pnp0501, sizeof(pnp0501)));
	/* The 64-bit window starts above RAM, 1 GiB aligned. */
	ck_assert_uint_eq(w % GiB(1), 0);
	ck_assert_uint_ge(w, RAM_ABOVE_4G_START + (ram > MMIO_HOLE_START ?
						    ram - MMIO_HOLE_START : 0));
	for (int i = 0; i < 8; i++)
		qword[i] = w >> (8 * i);
	ck_assert_ptr_nonnull(memfind(d, len, qword, 8));

	/* _PRT: 128 entries {slot << 16 | 0xffff, pin, 0, pci_intx_gsi}. */
	p = memfind(d, len, "_PRT", 4);
	ck_assert_ptr_nonnull(p);
	p += 4;
	ck_assert_uint_eq(*p++, 0x12);
	q = p;
	end = q + aml_pkglen(&p);
	ck_assert_uint_eq(*p++, 128);
	for (unsigned i = 0; i < 128; i++) {
		unsigned slot = i / 4, pin = i % 4;

		ck_assert_uint_eq(*p++, 0x12);
		aml_pkglen(&p);
		ck_assert_uint_eq(*p++, 4);
		ck_assert_uint_eq(aml_int(&p), (uint64_t)slot << 16 | 0xffff);
		ck_assert_uint_eq(aml_int(&p), pin);
		ck_assert_uint_eq(aml_int(&p), 0);
		ck_assert_uint_eq(aml_int(&p), pci_intx_gsi(slot, pin));
	}
	ck_assert_ptr_eq(p, end);
}
END_TEST

START_TEST(intx_rule)
{
	ck_assert_uint_eq(pci_intx_gsi(0, 0), 16);
	ck_assert_uint_eq(pci_intx_gsi(1, 0), 17);
	ck_assert_uint_eq(pci_intx_gsi(1, 3), 20);
	ck_assert_uint_eq(pci_intx_gsi(7, 1), 16);
	ck_assert_uint_eq(pci_intx_gsi(31, 3), 18);
	ck_assert_uint_eq(pci_mmio64_start(GiB(1)), GiB(4));
	ck_assert_uint_eq(pci_mmio64_start(GiB(3)), GiB(4));
	ck_assert_uint_eq(pci_mmio64_start(GiB(3) + 1), GiB(5));
	ck_assert_uint_eq(pci_mmio64_start(GiB(8)), GiB(9));
}
END_TEST

START_TEST(short_buffer)
{
	struct acpi_config cfg = { .ncpus = 4, .ram_size = GiB(1) };
	size_t lens[] = { 0, 20, 36, 64, 200, 0 };
	int n;

	n = build(4, GiB(1));
	lens[5] = n - 1;
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		err_clear();
		ck_assert_int_eq(acpi_build(buf, ACPI_RSDP_ADDR, lens[i], &cfg), -ENOSPC);
		ck_assert_ptr_nonnull(strstr(err_msg(), "do not fit"));
	}
	ck_assert_int_eq(acpi_build(buf, ACPI_RSDP_ADDR, n, &cfg), n);
}
END_TEST

START_TEST(bad_config)
{
	struct acpi_config cfg = { .ncpus = 0, .ram_size = GiB(1) };

	ck_assert_int_eq(acpi_build(buf, ACPI_RSDP_ADDR, sizeof(buf), &cfg), -EINVAL);
	cfg.ncpus = 255;
	ck_assert_int_eq(acpi_build(buf, ACPI_RSDP_ADDR, sizeof(buf), &cfg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_msg(), "255 vCPUs"));
	cfg.ncpus = 254;
	ck_assert_int_gt(acpi_build(buf, ACPI_RSDP_ADDR, sizeof(buf), &cfg), 0);
}
END_TEST

/* --- the AML writer --- */

START_TEST(aml_encodings)
{
	uint8_t out[64];
	struct aml a;

	aml_init(&a, out, sizeof(out));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0x12);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x100000000ULL);
	ck_assert_int_eq(aml_finish(&a), 1 + 1 + 2 + 3 + 5 + 9);
	ck_assert_mem_eq(out, "\x00\x01\x0a\x12\x0b\x34\x12\x0c\x78\x56\x34\x12"
			 "\x0e\x00\x00\x00\x00\x01\x00\x00\x00", 21);

	aml_init(&a, out, sizeof(out));
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "_HI");
	aml_namestring(&a, "^^AB.C.D");
	aml_namestring(&a, "\\");
	ck_assert_int_eq(aml_finish(&a), 10 + 4 + 16 + 2);
	ck_assert_mem_eq(out, "\\\x2e_SB_PCI0_HI_^^\x2f\x03" "AB__C___D___\\\x00", 32);

	aml_init(&a, out, sizeof(out));
	aml_eisaid(&a, "PNP0A03");
	ck_assert_int_eq(aml_finish(&a), 5);
	ck_assert_mem_eq(out, "\x0c\x41\xd0\x0a\x03", 5);
}
END_TEST

START_TEST(aml_errors)
{
	uint8_t out[8];
	struct aml a;

	aml_init(&a, out, sizeof(out));
	aml_eisaid(&a, "pnp0a03");
	ck_assert_int_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, out, sizeof(out));
	aml_namestring(&a, "TOOLONG");
	ck_assert_int_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, out, sizeof(out));
	aml_package(&a, 1);
	ck_assert_int_eq(aml_finish(&a), -EINVAL);	/* left open */
	aml_init(&a, out, sizeof(out));
	aml_end(&a);
	ck_assert_int_eq(aml_finish(&a), -EINVAL);
	aml_init(&a, out, sizeof(out));
	aml_string(&a, "longer than eight");
	ck_assert_int_eq(aml_finish(&a), -ENOSPC);
}
END_TEST

/* PkgLength: 1 byte up to 63 in all, then 2 bytes up to 4095, 3 after. */
START_TEST(aml_pkglength)
{
	static uint8_t out[70000];
	static const size_t bodies[] = { 1, 61, 62, 63, 4093, 4094, 65536 };
	static const size_t want[] = { 1, 1, 1, 2, 2, 3, 3 };

	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		const uint8_t *p = out + 1;
		struct aml a;
		long n;

		aml_init(&a, out, sizeof(out));
		aml_scope(&a, "");	/* ScopeOp PkgLength NullName */
		for (size_t j = 1; j < bodies[i]; j++)
			aml_byte(&a, 0xaa);
		aml_end(&a);
		n = aml_finish(&a);
		ck_assert_int_eq(n, 1 + want[i] + bodies[i]);
		ck_assert_uint_eq(aml_pkglen(&p), want[i] + bodies[i]);
		ck_assert_ptr_eq(p, out + 1 + want[i]);
	}
}
END_TEST

START_TEST(aml_buffer_size)
{
	uint8_t out[400];
	const uint8_t *p = out + 1;
	struct aml a;

	aml_init(&a, out, sizeof(out));
	aml_buffer(&a);
	for (int j = 0; j < 300; j++)
		aml_byte(&a, j);
	aml_end(&a);
	/* BufferOp, 2-byte PkgLength, WordPrefix 300, then the bytes. */
	ck_assert_int_eq(aml_finish(&a), 1 + 2 + 3 + 300);
	ck_assert_uint_eq(out[0], 0x11);
	ck_assert_uint_eq(aml_pkglen(&p), 2 + 3 + 300);
	ck_assert_uint_eq(aml_int(&p), 300);
	ck_assert_uint_eq(p[299], 299 & 0xff);
}
END_TEST

/* Not a check: writes the tables for tests/acpi-iasl.sh when asked to. */
START_TEST(dump)
{
	static const char *const names[] = { "FACP", "APIC", "MCFG" };
	const char *dir = getenv("KITE_ACPI_DUMP");
	const uint8_t *f;
	char path[4096];
	FILE *out;

	if (!dir)
		return;
	build(cpu_counts[_i], ram_sizes[_i]);
	f = xsdt_find("FACP");
	struct { const char *name; const uint8_t *p; size_t len; } t[] = {
		{ "RSDP", buf, 36 },
		{ "XSDT", table_at(get(buf + 24, 8)), 0 },
		{ "RSDT", table_at(get(buf + 16, 4)), 0 },
		{ "FACS", buf + (get(f + 36, 4) - ACPI_RSDP_ADDR), 64 },
		{ "DSDT", table_at(get(f + 140, 8)), 0 },
		{ names[0], xsdt_find(names[0]), 0 },
		{ names[1], xsdt_find(names[1]), 0 },
		{ names[2], xsdt_find(names[2]), 0 },
	};
	snprintf(path, sizeof(path), "%s/cpu%u", dir, cpu_counts[_i]);
	mkdir(path, 0755);
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : get(t[i].p + 4, 4);

		snprintf(path, sizeof(path), "%s/cpu%u/%s.dat", dir, cpu_counts[_i], t[i].name);
		out = fopen(path, "wb");
		ck_assert_msg(out != NULL, "cannot write %s", path);
		ck_assert_uint_eq(fwrite(t[i].p, 1, len, out), len);
		fclose(out);
	}
}
END_TEST

Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("tables");
	int n = sizeof(cpu_counts) / sizeof(cpu_counts[0]);

	tcase_add_loop_test(tc, rsdp, 0, n);
	tcase_add_loop_test(tc, every_table, 0, n);
	tcase_add_loop_test(tc, madt, 0, n);
	tcase_add_loop_test(tc, fadt, 0, n);
	tcase_add_loop_test(tc, mcfg, 0, n);
	tcase_add_loop_test(tc, dsdt, 0, n);
	tcase_add_test(tc, intx_rule);
	tcase_add_test(tc, short_buffer);
	tcase_add_test(tc, bad_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("aml");
	tcase_add_test(tc, aml_encodings);
	tcase_add_test(tc, aml_errors);
	tcase_add_test(tc, aml_pkglength);
	tcase_add_test(tc, aml_buffer_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	tcase_add_loop_test(tc, dump, 0, n);
	suite_add_tcase(s, tc);
	return s;
}
