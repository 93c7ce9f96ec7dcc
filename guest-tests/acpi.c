// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI table discovery (ACPI 6.x, chapter 5). Nothing is trusted: every
 * address is range checked before it is read, every table's length and
 * checksum are verified, and a malformed table is reported, not used.
 */
#include "acpi.h"
#include "console.h"

struct acpi_info acpi;

struct sdt_header {
	char sig[4];
	u32 len;
	u8 rev, checksum;
	char oem[6], oem_table[8];
	u32 oem_rev, creator, creator_rev;
} __attribute__((packed));

#define SDT_LEN_MAX	(16 * MiB)	/* anything larger is corrupt */

static void acpi_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void acpi_error(const char *fmt, ...)
{
	va_list ap;

	if (acpi.nerrors < ACPI_MAX_ERRORS) {
		va_start(ap, fmt);
		vsnprintf(acpi.errors[acpi.nerrors], sizeof(acpi.errors[0]), fmt, ap);
		va_end(ap);
	}
	acpi.nerrors++;
}

static u8 sum8(const void *p, size_t len)
{
	const u8 *b = p;
	u8 s = 0;

	while (len--)
		s += *b++;
	return s;
}

static u16 rd16(const u8 *p, unsigned off) { return *(const u16 *)(p + off); }
static u32 rd32(const u8 *p, unsigned off) { return *(const u32 *)(p + off); }
static u64 rd64(const u8 *p, unsigned off) { return *(const u64 *)(p + off); }

static bool rsdp_valid(u64 addr)
{
	return phys_ok(addr, 36) && !memcmp(phys(addr), "RSD PTR ", 8) && !sum8(phys(addr), 20);
}

static bool scan_rsdp(u64 start, u64 end)
{
	for (u64 a = start; a + 20 <= end; a += 16) {
		if (rsdp_valid(a)) {
			acpi.rsdp_addr = a;
			return true;
		}
	}
	return false;
}

static bool find_rsdp(u64 hint)
{
	u64 ebda = (u64)*(volatile u16 *)phys(0x40e) << 4;

	acpi.rsdp_source = "boot info";
	if (hint) {
		if (rsdp_valid(hint)) {
			acpi.rsdp_addr = hint;
			return true;
		}
		acpi_error("RSDP address 0x%lx from the boot info is not a valid RSDP", hint);
	}
	acpi.rsdp_source = "EBDA";
	if (ebda >= 0x80000 && ebda < 0xa0000 && scan_rsdp(ebda, ebda + 1024))
		return true;
	acpi.rsdp_source = "BIOS area";
	return scan_rsdp(0xe0000, 0x100000);
}

static void add_table(const char *sig, u64 addr, u32 len, u8 rev, const char *oem)
{
	struct acpi_table *t;

	if (acpi.ntables == ACPI_MAX_TABLES) {
		acpi_error("more than %d ACPI tables", ACPI_MAX_TABLES);
		return;
	}
	t = &acpi.tables[acpi.ntables++];
	memcpy(t->sig, sig, 4);
	memcpy(t->oem, oem, 6);
	t->addr = addr;
	t->len = len;
	t->rev = rev;
}

/* Check a system description table; NULL if it is not usable. */
static const struct sdt_header *check_sdt(u64 addr, const char *want)
{
	const struct sdt_header *h = phys(addr);
	char sig[5] = { 0 };

	if (!addr || !phys_ok(addr, sizeof(*h))) {
		acpi_error("%s table address 0x%lx out of range", want ? want : "a", addr);
		return NULL;
	}
	memcpy(sig, h->sig, 4);
	for (int i = 0; i < 4; i++)
		if (sig[i] < ' ' || sig[i] > '~')
			sig[i] = '?';
	if (want && memcmp(h->sig, want, 4)) {
		acpi_error("expected %s at 0x%lx, found '%s'", want, addr, sig);
		return NULL;
	}
	if (h->len < sizeof(*h) || h->len > SDT_LEN_MAX || !phys_ok(addr, h->len)) {
		acpi_error("%s at 0x%lx: bad length %u", sig, addr, h->len);
		return NULL;
	}
	if (sum8(h, h->len)) {
		acpi_error("%s at 0x%lx: checksum does not sum to 0", sig, addr);
		return NULL;
	}
	add_table(h->sig, addr, h->len, h->rev, h->oem);
	return h;
}

/* Find Name(_S5_, Package(){ SLP_TYPa, SLP_TYPb, ... }) in AML. */
static bool aml_int(const u8 *p, const u8 *end, u8 *val, unsigned *used)
{
	if (p >= end)
		return false;
	switch (p[0]) {
	case 0x00: *val = 0; *used = 1; return true;	/* ZeroOp */
	case 0x01: *val = 1; *used = 1; return true;	/* OneOp */
	case 0x0a:					/* BytePrefix */
		if (p + 1 >= end)
			return false;
		*val = p[1];
		*used = 2;
		return true;
	case 0x0b:					/* WordPrefix */
		if (p + 2 >= end)
			return false;
		*val = p[1];
		*used = 3;
		return true;
	}
	return false;
}

static void parse_s5(const u8 *aml, u32 len)
{
	const u8 *end = aml + len;

	for (const u8 *p = aml; p + 7 <= end; p++) {
		unsigned used;

		if (memcmp(p, "_S5_", 4) || p[4] != 0x12)	/* PackageOp */
			continue;
		p += 5;
		p += 1 + (p[0] >> 6);	/* PkgLength: lead byte + 0..3 more */
		p += 1;			/* NumElements */
		if (!aml_int(p, end, &acpi.s5_typa, &used))
			break;
		acpi.s5 = true;
		if (!aml_int(p + used, end, &acpi.s5_typb, &used))
			acpi.s5_typb = acpi.s5_typa;
		return;
	}
}

/* A Generic Address Structure in system I/O space, as a port (0 if not). */
static u16 gas_port(const u8 *gas)
{
	return gas[0] == 1 ? (u16)rd64(gas, 4) : 0;
}

static void parse_fadt(const struct sdt_header *h)
{
	const u8 *f = (const u8 *)h;
	u32 len = h->len;
	u64 dsdt = 0, facs = 0;

	acpi.fadt = true;
	if (len < 116) {
		acpi_error("FACP is %u bytes, too short for ACPI 1.0", len);
		return;
	}
	acpi.pm1a_cnt = rd32(f, 64);
	acpi.pm1b_cnt = rd32(f, 68);
	acpi.pm_tmr = rd32(f, 76);
	acpi.pm_tmr_32bit = rd32(f, 112) & (1 << 8);	/* TMR_VAL_EXT */
	if (len >= 129 && (rd32(f, 112) & (1 << 10)) && gas_port(f + 116)) {	/* RESET_REG_SUP */
		acpi.reset_reg = true;
		acpi.reset_port = gas_port(f + 116);
		acpi.reset_value = f[128];
	}
	if (!acpi.pm1a_cnt && len >= 184)
		acpi.pm1a_cnt = gas_port(f + 172);
	if (!acpi.pm_tmr && len >= 220)
		acpi.pm_tmr = gas_port(f + 208);

	dsdt = len >= 148 && rd64(f, 140) ? rd64(f, 140) : rd32(f, 40);
	facs = len >= 140 && rd64(f, 132) ? rd64(f, 132) : rd32(f, 36);
	const struct sdt_header *d = check_sdt(dsdt, "DSDT");

	if (d) {
		acpi.dsdt = true;
		parse_s5((const u8 *)d + sizeof(*d), d->len - sizeof(*d));
	}
	/* The FACS has a signature and length but no checksum. */
	if (facs) {
		const u8 *fc = phys(facs);

		if (!phys_ok(facs, 64) || memcmp(fc, "FACS", 4) || rd32(fc, 4) < 64)
			acpi_error("FACS at 0x%lx is malformed", facs);
		else
			add_table("FACS", facs, rd32(fc, 4), fc[32], "      ");
	}
}

static void add_cpu(u32 apic_id, u32 flags)
{
	if (!(flags & 1)) {	/* not enabled (maybe online-capable): not ours to start */
		acpi.ncpus_disabled++;
		return;
	}
	if (acpi.ncpus == MAX_CPUS) {
		acpi.cpus_truncated = true;
		return;
	}
	acpi.apic_ids[acpi.ncpus++] = apic_id;
}

static void parse_madt(const struct sdt_header *h)
{
	const u8 *m = (const u8 *)h, *end = m + h->len;

	acpi.madt = true;
	if (h->len < 44) {
		acpi_error("APIC table too short (%u bytes)", h->len);
		return;
	}
	acpi.lapic_addr = rd32(m, 36);
	for (const u8 *e = m + 44; e < end; e += e[1]) {
		if (e + 2 > end || e[1] < 2 || e + e[1] > end) {
			acpi_error("APIC entry at offset %ld overruns the table", (long)(e - m));
			return;
		}
		switch (e[0]) {
		case 0:		/* processor local APIC */
			if (e[1] >= 8)
				add_cpu(e[3], rd32(e, 4));
			break;
		case 1:		/* I/O APIC */
			if (e[1] >= 12 && !acpi.ioapic_addr)
				acpi.ioapic_addr = rd32(e, 4);
			break;
		case 5:		/* local APIC address override */
			if (e[1] >= 12)
				acpi.lapic_addr = rd64(e, 4);
			break;
		case 9:		/* processor local x2APIC */
			if (e[1] >= 16)
				add_cpu(rd32(e, 4), rd32(e, 8));
			break;
		}
	}
}

static void parse_mcfg(const struct sdt_header *h)
{
	const u8 *m = (const u8 *)h;

	acpi.mcfg = true;
	if (h->len < 44 + 16 || (h->len - 44) % 16)
		acpi_error("MCFG length %u is not 44 + 16*n", h->len);
	for (u32 off = 44; off + 16 <= h->len; off += 16) {
		if (rd16(m, off + 8) != 0)	/* PCI segment group */
			continue;
		acpi.ecam_base = rd64(m, off);
		acpi.ecam_bus_start = m[off + 10];
		acpi.ecam_bus_end = m[off + 11];
		if (!acpi.ecam_base || (acpi.ecam_base & (MiB - 1)) ||
		    acpi.ecam_bus_end < acpi.ecam_bus_start)
			acpi_error("MCFG entry base 0x%lx buses %u-%u is invalid",
				   acpi.ecam_base, acpi.ecam_bus_start, acpi.ecam_bus_end);
		break;
	}
}

void acpi_init(u64 rsdp_hint)
{
	const u8 *rsdp;
	const struct sdt_header *root;
	unsigned esize;

	if (!find_rsdp(rsdp_hint)) {
		acpi_error("no RSDP found (boot info, EBDA, 0xe0000-0xfffff)");
		return;
	}
	acpi.found = true;
	rsdp = phys(acpi.rsdp_addr);
	acpi.rsdp_rev = rsdp[15];
	memcpy(acpi.oem, rsdp + 9, 6);
	if (acpi.rsdp_rev >= 2) {
		u32 len = rd32(rsdp, 20);

		if (len < 36 || len > 4096 || !phys_ok(acpi.rsdp_addr, len))
			acpi_error("RSDP length %u is invalid", len);
		else if (sum8(rsdp, len))
			acpi_error("RSDP extended checksum does not sum to 0");
		acpi.xsdt = rd64(rsdp, 24) != 0;
		if (!acpi.xsdt)
			acpi_error("RSDP revision %u without an XSDT address", acpi.rsdp_rev);
		/* The RSDT, if also given, must be well-formed too. */
		if (rd32(rsdp, 16))
			check_sdt(rd32(rsdp, 16), "RSDT");
	}
	acpi.root_addr = acpi.xsdt ? rd64(rsdp, 24) : rd32(rsdp, 16);
	esize = acpi.xsdt ? 8 : 4;
	root = check_sdt(acpi.root_addr, acpi.xsdt ? "XSDT" : "RSDT");
	if (!root)
		return;
	if ((root->len - sizeof(*root)) % esize)
		acpi_error("%s length %u is not a whole number of entries",
			   acpi.xsdt ? "XSDT" : "RSDT", root->len);
	for (u32 off = sizeof(*root); off + esize <= root->len; off += esize) {
		const u8 *r = (const u8 *)root;
		u64 addr = esize == 8 ? rd64(r, off) : rd32(r, off);
		const struct sdt_header *h = check_sdt(addr, NULL);

		if (!h)
			continue;
		if (!memcmp(h->sig, "FACP", 4))
			parse_fadt(h);
		else if (!memcmp(h->sig, "APIC", 4))
			parse_madt(h);
		else if (!memcmp(h->sig, "MCFG", 4))
			parse_mcfg(h);
	}
	if (!acpi.lapic_addr)
		acpi.lapic_addr = 0xfee00000;	/* architectural default */
}

const struct acpi_table *acpi_find(const char *sig)
{
	for (unsigned i = 0; i < acpi.ntables; i++)
		if (!memcmp(acpi.tables[i].sig, sig, 4))
			return &acpi.tables[i];
	return NULL;
}
