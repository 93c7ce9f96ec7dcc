// SPDX-License-Identifier: Apache-2.0
/*
 * Test cases. Each prints its findings as "  name: ..." lines, then the
 * runner prints "PASS name" or "FAIL name: reason". The names are an
 * interface: the host scripts look for them.
 */
#include "tests.h"
#include "acpi.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "pci.h"
#include "smp.h"
#include "time.h"
#include "virtio_pci.h"

/* --- boot --- */

static bool test_boot(char *why)
{
	char want[16];
	const char *got = boot_proto_name(boot.proto);

	printf("  boot: protocol %s, boot info at 0x%lx\n", got, boot.info_addr);
	if (boot.error)
		fail("%s", boot.error);
	if (cmdline_get("expect_boot", want, sizeof(want)) && strcmp(want, got))
		fail("came through %s, expected %s", got, want);
	return true;
}

/* --- cmdline --- */

static bool is_hex8(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[8] == 0;
}

static bool test_cmdline(char *why)
{
	const char *cl = boot.cmdline, *key = NULL;
	u64 want;
	u32 got;

	if (!boot.has_cmdline)
		fail("the loader passed no command line");
	printf("  cmdline: \"");
	console_write(cl, strlen(cl));
	printf("\" (%zu bytes)\n", strlen(cl));
	if (boot.cmdline_truncated)
		fail("command line longer than %d bytes", CMDLINE_MAX - 1);
	/* The checksum word is the last one, "cmdline_crc=" at a word start. */
	for (const char *p = cl; *p; p++)
		if ((p == cl || p[-1] == ' ') && !strncmp(p, "cmdline_crc=", 12))
			key = p;
	if (!key) {
		printf("  cmdline: no cmdline_crc= word, nothing to compare\n");
		return true;
	}
	if (!is_hex8(key + 12))
		fail("cmdline_crc= must be the last word, 8 hex digits");
	parse_uint(key + 12, 16, &want);
	got = crc32(cl, key > cl ? (size_t)(key - cl - 1) : 0);
	if (got != want)
		fail("CRC-32 of the text before \" cmdline_crc=\" is %08x, the host said %08lx",
		     got, want);
	printf("  cmdline: crc32 %08x matches\n", got);
	return true;
}

/* --- uart --- */

static bool test_uart(char *why)
{
	u8 mcr, lsr, rx = 0;
	bool got = false;

	for (unsigned v = 0x5a; v <= 0xa5; v += 0x4b) {
		outb(COM1 + UART_SCR, v);
		if (inb(COM1 + UART_SCR) != v)
			fail("scratch register does not hold 0x%x", v);
	}
	for (int i = 0; i < 100000 && !((lsr = inb(COM1 + UART_LSR)) & UART_LSR_THRE); i++)
		;
	if (!(lsr & UART_LSR_THRE))
		fail("LSR 0x%x never reports the transmitter empty", lsr);

	/* Loopback: nothing may be printed until MCR is restored. */
	for (int i = 0; i < 64 && (inb(COM1 + UART_LSR) & UART_LSR_DR); i++)
		inb(COM1 + UART_RBR);
	mcr = inb(COM1 + UART_MCR);
	outb(COM1 + UART_MCR, mcr | UART_MCR_LOOP);
	outb(COM1 + UART_RBR, 0xa7);
	for (int i = 0; i < 100000; i++) {
		lsr = inb(COM1 + UART_LSR);
		if (lsr & UART_LSR_DR) {
			rx = inb(COM1 + UART_RBR);
			got = true;
			break;
		}
	}
	outb(COM1 + UART_MCR, mcr);
	if (!got)
		fail("loopback: LSR never set DR (LSR 0x%x)", lsr);
	if (rx != 0xa7)
		fail("loopback: wrote 0xa7, read 0x%x", rx);
	printf("  uart: scratch, THR empty and loopback ok\n");
	return true;
}

/* --- acpi --- */

static bool test_acpi(char *why)
{
	char v[8];
	bool want_xsdt = !(cmdline_get("expect_xsdt", v, sizeof(v)) && !strcmp(v, "0"));

	if (!acpi.found)
		fail("%s", acpi.nerrors ? acpi.errors[0] : "no RSDP");
	printf("  acpi: RSDP rev %u at 0x%lx (found via %s), OEM '%s', %s at 0x%lx\n",
	       acpi.rsdp_rev, acpi.rsdp_addr, acpi.rsdp_source, acpi.oem,
	       acpi.xsdt ? "XSDT" : "RSDT", acpi.root_addr);
	for (unsigned i = 0; i < acpi.ntables; i++) {
		const struct acpi_table *t = &acpi.tables[i];

		printf("  acpi: %s at 0x%lx, %u bytes, rev %u, OEM '%s'\n",
		       t->sig, t->addr, t->len, t->rev, t->oem);
	}
	for (unsigned i = 0; i < MIN(acpi.nerrors, ACPI_MAX_ERRORS); i++)
		printf("  acpi: error: %s\n", acpi.errors[i]);
	if (acpi.nerrors)
		fail("%u malformed: %s", acpi.nerrors, acpi.errors[0]);
	if (want_xsdt && (acpi.rsdp_rev < 2 || !acpi.xsdt))
		fail("RSDP revision %u has no XSDT (expect_xsdt=0 accepts that)", acpi.rsdp_rev);
	if (!acpi_find("FACP") || !acpi_find("APIC") || !acpi_find("DSDT"))
		fail("missing %s", !acpi_find("FACP") ? "FACP" : !acpi_find("APIC") ? "APIC" : "DSDT");
	if (!acpi.pm1a_cnt)
		fail("FADT PM1a_CNT_BLK is 0");
	if (!acpi.s5)
		fail("DSDT has no \\_S5_ package");
	printf("  acpi: PM1a_CNT 0x%x, \\_S5_ SLP_TYPa %u, PM timer 0x%x, %u CPUs in the MADT\n",
	       acpi.pm1a_cnt, acpi.s5_typa, acpi.pm_tmr, acpi.ncpus);
	if (acpi.mcfg)
		printf("  acpi: MCFG: ECAM at 0x%lx, buses %u-%u\n",
		       acpi.ecam_base, acpi.ecam_bus_start, acpi.ecam_bus_end);
	return true;
}

/* --- pci --- */

static bool test_pci(char *why)
{
	const struct pci_dev *hb = NULL;
	unsigned ecam_checked = 0;

	for (unsigned i = 0; i < pci.ndevs; i++) {
		const struct pci_dev *d = &pci.devs[i];
		u32 id, cls;

		printf("  pci: %02x:%02x.%x %04x:%04x class %02x.%02x.%02x %s\n",
		       d->bus, d->dev, d->fn, d->vendor, d->device, d->class, d->subclass,
		       d->progif, pci_class_name(d->class, d->subclass));
		if (!d->bus && !d->dev && !d->fn)
			hb = d;
		if (!pci_ecam_read32(d->bus, d->dev, d->fn, 0, &id) ||
		    !pci_ecam_read32(d->bus, d->dev, d->fn, 8, &cls))
			continue;
		if (id != (u32)(d->device << 16 | d->vendor) ||
		    cls >> 8 != (u32)(d->class << 16 | d->subclass << 8 | d->progif))
			fail("%02x:%02x.%x reads %08x/%08x through ECAM but %04x:%04x through 0xcf8",
			     d->bus, d->dev, d->fn, id, cls, d->vendor, d->device);
		ecam_checked++;
	}
	if (!hb)
		fail("nothing at 00:00.0 (vendor reads 0xffff)");
	if (hb->class != 0x06 || hb->subclass != 0x00)
		fail("00:00.0 is class %02x.%02x, not a host bridge (06.00)", hb->class, hb->subclass);
	if (acpi.mcfg && ecam_checked != pci.ndevs)
		fail("ECAM at 0x%lx does not cover every function found", acpi.ecam_base);
	if (acpi.mcfg)
		printf("  pci: ECAM and 0xcf8 agree on all %u functions\n", ecam_checked);
	return true;
}

/* --- cpus --- */

struct cpu_work {
	u64 seed, value;
	u32 apic_id, ring;
};

/* Runs in ring 3 on every CPU: a fixed computation the BSP can redo. */
static long cpu_work(void *arg)
{
	struct cpu_work *w = arg;
	u32 a, b, c, d;
	u64 x = w->seed * 0x9e3779b97f4a7c15ULL | 1;

	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	cpuid(1, 0, &a, &b, &c, &d);
	w->apic_id = b >> 24;
	w->ring = cpl();
	w->value = x;
	return 0;
}

static bool test_cpus(char *why)
{
	static struct cpu_work work[MAX_CPUS];
	char v[16];
	u64 want = 0;
	bool have_want = cmdline_get("cpus", v, sizeof(v)) && parse_uint(v, 10, &want);

	printf("  cpus: MADT lists %u enabled CPUs (%u disabled), %u of %u online, BSP APIC id %u\n",
	       acpi.ncpus, acpi.ncpus_disabled, smp.online, smp.ncpus, smp.bsp_apic);
	if (!acpi.madt)
		fail("no MADT");
	if (acpi.cpus_truncated)
		fail("more than %d CPUs in the MADT", MAX_CPUS);
	if (have_want && acpi.ncpus != want)
		fail("MADT lists %u enabled CPUs, cpus=%lu", acpi.ncpus, want);
	if (smp.error[0])
		fail("%s", smp.error);
	for (unsigned i = 0; i < smp.ncpus; i++)
		work[i] = (struct cpu_work){ .seed = i + 1 };
	for (unsigned i = 1; i < smp.ncpus; i++)
		if (!smp_start(i, cpu_work, &work[i]))
			fail("cpu %u cannot take work", i);
	user_call(cpu_work, &work[0]);
	for (unsigned i = 1; i < smp.ncpus; i++) {
		long r;

		if (!smp_wait(i, 5000000, &r))
			fail("cpu %u (APIC id %u) did not finish its work", i, smp.cpus[i].apic_id);
	}
	for (unsigned i = 0; i < smp.ncpus; i++) {
		struct cpu_work check = { .seed = i + 1 };

		cpu_work(&check);
		printf("  cpus: cpu %u APIC id %u: ring %u result %016lx\n",
		       i, work[i].apic_id, work[i].ring, work[i].value);
		if (work[i].value != check.value)
			fail("cpu %u computed %016lx, expected %016lx", i, work[i].value, check.value);
		if (work[i].ring != 3)
			fail("cpu %u ran its work in ring %u", i, work[i].ring);
		/* cpuid=host: CPUID is the host CPU's (kvmfake's native CPU runs
		 * it unintercepted), so only the LAPIC's id is compared. */
		if ((work[i].apic_id != smp.cpus[i].apic_id && !cmdline_is("cpuid", "host")) ||
		    smp.cpus[i].reported_apic != smp.cpus[i].apic_id)
			fail("cpu %u reports APIC id %u (LAPIC %u), the MADT says %u", i,
			     work[i].apic_id, smp.cpus[i].reported_apic, smp.cpus[i].apic_id);
	}
	return true;
}

/* --- memmap --- */

const char *mem_type_name(u32 type)
{
	static const char *const n[] = { "?", "RAM", "reserved", "ACPI", "NVS", "unusable" };

	return type < ARRAY_SIZE(n) ? n[type] : "other";
}

void print_memmap(const char *prefix)
{
	for (unsigned i = 0; i < boot.nmap; i++) {
		const struct mem_range *r = &boot.map[i];

		printf("%s0x%016lx-0x%016lx %8lu KiB  %s\n", prefix, r->addr,
		       r->addr + r->size - 1, r->size >> 10, mem_type_name(r->type));
	}
}

struct walk {
	u64 seed;
	u64 lines, first_bad, bad, lowest, highest;
};

static bool in_module(u64 a, u64 len)
{
	for (unsigned i = 0; i < boot.nmods; i++)
		if (a < boot.mods[i].addr + boot.mods[i].size && boot.mods[i].addr < a + len)
			return true;
	return false;
}

/*
 * Ring 3: one 64-byte line per 2 MiB of every RAM range above our image.
 * All lines are written before any is checked, so memory that aliases
 * other memory (or is not there) shows up as a mismatch.
 */
static long memmap_walk(void *arg)
{
	struct walk *w = arg;
	u64 image_end = (u64)(uintptr_t)_image_end;

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < boot.nmap; i++) {
			const struct mem_range *r = &boot.map[i];
			u64 start = MAX(r->addr, image_end);
			u64 end = MIN(r->addr + r->size, MAPPED_LIMIT);

			if (r->type != E820_RAM || start >= end)
				continue;
			for (u64 c = start & ~(LARGE_PAGE - 1); c < end; c += LARGE_PAGE) {
				u64 line = ALIGN_UP(MAX(c, start), 64);
				volatile u64 *p = phys(line);

				if (line + 64 > end || in_module(line, 64))
					continue;
				for (int k = 0; k < 8; k++) {
					u64 v = (line + k * 8) ^ w->seed;

					if (pass == 0) {
						p[k] = v;
					} else if (p[k] != v) {
						if (!w->bad++)
							w->first_bad = line + k * 8;
					}
				}
				if (pass == 0) {
					w->lines++;
					w->lowest = w->lowest ? w->lowest : line;
					w->highest = line;
				}
			}
		}
	}
	return 0;
}

static bool test_memmap(char *why)
{
	struct walk w = { .seed = 0x6b69746567756573ULL ^ rdtsc() };
	u64 total = bootinfo_ram_total(), mem = 0;
	char v[32];

	print_memmap("  memmap: ");
	printf("  memmap: %u entries, %lu KiB of RAM\n", boot.nmap, total >> 10);
	if (boot.map_truncated)
		fail("more than %d memory map entries", MAX_MEMMAP);
	for (unsigned i = 0; i < boot.nmap; i++)
		for (unsigned j = i + 1; j < boot.nmap; j++) {
			const struct mem_range *a = &boot.map[i], *b = &boot.map[j];

			if (a->addr < b->addr + b->size && b->addr < a->addr + a->size)
				fail("entries 0x%lx+0x%lx and 0x%lx+0x%lx overlap",
				     a->addr, a->size, b->addr, b->size);
		}
	if (cmdline_get("mem", v, sizeof(v))) {
		if (!parse_size(v, &mem))
			fail("mem=%s is not a size", v);
		if (total > mem || total < mem - MIN(mem, 2 * MiB))
			fail("%lu KiB of RAM in the map, mem=%s wants %lu-%lu KiB",
			     total >> 10, v, (mem - MIN(mem, 2 * MiB)) >> 10, mem >> 10);
	}
	user_call(memmap_walk, &w);
	if (w.bad)
		fail("%lu words read back wrong, first at 0x%lx", w.bad, w.first_bad);
	if (!w.lines)
		fail("no RAM above the image (0x%lx) to test", (u64)(uintptr_t)_image_end);
	printf("  memmap: wrote and verified %lu lines from ring 3, 0x%lx..0x%lx\n",
	       w.lines, w.lowest, w.highest);
	return true;
}

/* --- runner --- */

static const struct test_case cases[] = {
	{ "boot", test_boot },
	{ "cmdline", test_cmdline },
	{ "uart", test_uart },
	{ "acpi", test_acpi },
	{ "pci", test_pci },
	{ "cpus", test_cpus },
	{ "memmap", test_memmap },	/* last: it scribbles on free RAM */
};

static void run_case(const struct test_case *c, unsigned *passed, unsigned *failed)
{
	char why[WHY_LEN] = "";

	if (c->fn(why)) {
		printf("PASS %s\n", c->name);
		(*passed)++;
	} else {
		printf("FAIL %s: %s\n", c->name, why);
		(*failed)++;
	}
}

static bool dev_present(const struct dev_cases *dc)
{
	for (unsigned i = 0; i < pci.ndevs; i++)
		if (pci.devs[i].vendor == VIRTIO_PCI_VENDOR &&
		    pci.devs[i].device == VIRTIO_PCI_MODERN_BASE + dc->type)
			return true;
	return cmdline_is(dc->key, "1");
}

unsigned tests_run(void)
{
	static const struct dev_cases *const devs[] = { &blk_cases, &scsi_cases };
	unsigned passed = 0, failed = 0;

	for (unsigned i = 0; i + 1 < ARRAY_SIZE(cases); i++)
		run_case(&cases[i], &passed, &failed);
	/* Device cases before memmap, which scribbles on free RAM. */
	for (unsigned k = 0; k < ARRAY_SIZE(devs); k++) {
		if (!dev_present(devs[k]))
			continue;
		for (unsigned i = 0; i < devs[k]->n; i++)
			run_case(&devs[k]->cases[i], &passed, &failed);
		devs[k]->end();
	}
	run_case(&cases[ARRAY_SIZE(cases) - 1], &passed, &failed);
	printf("%u passed, %u failed\n", passed, failed);
	return failed;
}
