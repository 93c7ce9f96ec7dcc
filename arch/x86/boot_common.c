// SPDX-License-Identifier: Apache-2.0
/*
 * What every boot protocol shares: range checks for what goes into guest RAM,
 * the flat GDT, the identity page tables, the command line and the initrd.
 */
#include <inttypes.h>

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

/* Boot data lives in [BOOT_DATA_START, BOOT_DATA_END) (layout.h). */
#define BOOT_DATA_START		BOOT_GDT_ADDR
#define BOOT_DATA_END		(BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX)

uint64_t boot_low_end(const struct guest_mem *mem)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (r->gpa < MMIO_HOLE_START && r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	return end < MMIO_HOLE_START ? end : MMIO_HOLE_START;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t bend)
{
	return a < bend && b < a + alen;
}

int boot_check_range(const struct boot_ctx *c, uint64_t gpa, uint64_t size, const char *what)
{
	if (!size)
		return 0;
	if (gpa + size < gpa)
		return err_set(EINVAL, "%s: %s at 0x%" PRIx64 " (%" PRIu64 " bytes) wraps around",
			       c->path, what, gpa, size);
	if (!guest_mem_ptr(c->mem, gpa, size))
		return err_set(ENOSPC, "%s: %s [0x%" PRIx64 "-0x%" PRIx64 ") does not fit in "
			       "guest RAM (%" PRIu64 " MiB, low RAM ends at 0x%" PRIx64 ")",
			       c->path, what, gpa, gpa + size, c->mem->size >> 20, c->low_end);
	if (overlaps(gpa, size, BOOT_DATA_START, BOOT_DATA_END))
		return err_set(EINVAL, "%s: %s [0x%" PRIx64 "-0x%" PRIx64 ") overlaps kite's boot "
			       "data [0x%llx-0x%llx)", c->path, what, gpa, gpa + size,
			       BOOT_DATA_START, BOOT_DATA_END);
	if (overlaps(gpa, size, EBDA_START, HIGH_RAM_START))
		return err_set(EINVAL, "%s: %s [0x%" PRIx64 "-0x%" PRIx64 ") overlaps the EBDA and "
			       "BIOS area [0x%llx-0x%llx) that holds the ACPI tables",
			       c->path, what, gpa, gpa + size, EBDA_START, HIGH_RAM_START);
	return 0;
}

uint8_t *boot_zeroed(const struct boot_ctx *c, uint64_t gpa, uint64_t len, const char *what)
{
	uint8_t *p = guest_mem_ptr(c->mem, gpa, len);

	if (!p) {
		err_set(ENOSPC, "%s: no guest RAM for the %s at [0x%" PRIx64 "-0x%" PRIx64 ")",
			c->path, what, gpa, gpa + len);
		return NULL;
	}
	memset(p, 0, len);
	return p;
}

int boot_copy(const struct boot_ctx *c, uint64_t gpa, const void *src, uint64_t len, uint64_t fill)
{
	uint8_t *p = guest_mem_ptr(c->mem, gpa, len + fill);

	if (!p)
		return err_set(ENOSPC, "%s: cannot write [0x%" PRIx64 "-0x%" PRIx64 "): not guest RAM",
			       c->path, gpa, gpa + len + fill);
	memcpy(p, src, len);
	memset(p + len, 0, fill);
	return 0;
}

/* A flat 4 GiB descriptor: base 0, limit 0xfffff in 4 KiB units (G=1),
 * present, DPL 0, code/data (S=1). The accessed bit is preset in `type` so
 * the CPU never writes back into the table. */
static uint64_t flat_desc(unsigned type, int l, int db)
{
	return 0xffffULL |			/* limit 15:0 */
	       (uint64_t)(type | 0x10 | 0x80) << 40 |	/* type, S, P (DPL 0) */
	       0xfULL << 48 |			/* limit 19:16 */
	       (uint64_t)(l ? 1 : 0) << 53 |
	       (uint64_t)(db ? 1 : 0) << 54 |
	       1ULL << 55;			/* G */
}

int boot_setup_gdt(const struct boot_ctx *c, struct boot_entry *e)
{
	uint64_t gdt[4] = {
		0,
		flat_desc(0xb, 0, 1),	/* 0x08: 32-bit code, execute/read */
		flat_desc(0xb, 1, 0),	/* 0x10: 64-bit code (__BOOT_CS) */
		flat_desc(0x3, 0, 1),	/* 0x18: data, read/write (__BOOT_DS) */
	};
	int r = boot_copy(c, BOOT_GDT_ADDR, gdt, sizeof(gdt), 0);

	if (r)
		return r;
	e->gdt_addr = BOOT_GDT_ADDR;
	e->gdt_limit = sizeof(gdt) - 1;
	return 0;
}

#define PTE_P	0x1ULL
#define PTE_RW	0x2ULL
#define PTE_PS	0x80ULL

/* Identity map of the low 4 GiB with 2 MiB pages: PML4[0] -> PDPT,
 * PDPT[0..3] -> four PDs. The guest replaces them early; they only need to
 * cover the kernel, the zero page and the command line. */
int boot_setup_page_tables(const struct boot_ctx *c, struct boot_entry *e)
{
	uint8_t *pml4 = boot_zeroed(c, BOOT_PML4_ADDR, BOOT_PAGE, "page tables");
	uint8_t *pdpt = boot_zeroed(c, BOOT_PDPT_ADDR, BOOT_PAGE, "page tables");
	uint8_t *pd = boot_zeroed(c, BOOT_PD_ADDR, BOOT_PD_COUNT * BOOT_PAGE, "page tables");

	if (!pml4 || !pdpt || !pd)
		return -ENOSPC;
	st64(pml4, BOOT_PDPT_ADDR | PTE_RW | PTE_P);
	for (unsigned i = 0; i < BOOT_PD_COUNT; i++)
		st64(pdpt + 8 * i, (BOOT_PD_ADDR + i * BOOT_PAGE) | PTE_RW | PTE_P);
	for (uint64_t j = 0; j < BOOT_PD_COUNT * 512ULL; j++)
		st64(pd + 8 * j, (j << 21) | PTE_PS | PTE_RW | PTE_P);
	e->cr3 = BOOT_PML4_ADDR;
	return 0;
}

int boot_put_cmdline(const struct boot_ctx *c, uint64_t max_len)
{
	const char *s = c->in->cmdline ? c->in->cmdline : "";
	size_t len = strlen(s);

	if (max_len > BOOT_CMDLINE_MAX - 1)
		max_len = BOOT_CMDLINE_MAX - 1;
	if (len > max_len)
		return err_set(E2BIG, "%s: command line is %zu bytes; this kernel accepts at most %" PRIu64,
			       c->path, len, max_len);
	return boot_copy(c, BOOT_CMDLINE_ADDR, s, len, 1);
}

int boot_put_initrd(const struct boot_ctx *c, uint64_t kernel_end, uint64_t limit, uint64_t *addr)
{
	uint64_t size = c->in->initrd ? c->in->initrd_size : 0;
	uint64_t top = c->low_end < limit ? c->low_end : limit;
	uint64_t floor = ALIGN_UP(kernel_end, BOOT_PAGE);
	uint64_t at;

	*addr = 0;
	if (!size)
		return 0;
	if (floor < HIGH_RAM_START)
		floor = HIGH_RAM_START;
	if (size > top || (at = ALIGN_DOWN(top - size, BOOT_PAGE)) < floor)
		return err_set(ENOSPC, "initrd: %" PRIu64 " bytes do not fit in guest RAM between "
			       "the kernel's end at 0x%" PRIx64 " and 0x%" PRIx64 "; give the VM "
			       "more memory", size, floor, top);
	*addr = at;
	return boot_copy(c, at, c->in->initrd, size, 0);
}
