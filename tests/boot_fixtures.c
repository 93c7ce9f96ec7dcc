// SPDX-License-Identifier: Apache-2.0
#include "tests/boot_fixtures.h"

#include <check.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/layout.h"

#define NOTE_AREA	0x200
#define SHDR_AREA	0x800

void elf_spec_default(struct elf_spec *s, int is64)
{
	*s = (struct elf_spec){
		.is64 = is64,
		.entry = 0x100010,
		.nload = 1,
		.load = { { .offset = 0x1000, .paddr = 0x100000, .vaddr = 0x100000,
			    .filesz = 0x2000, .memsz = 0x3000 } },
		.note = NOTE_SEGMENT,
		.note_name = "Xen",
		.note_type = 18,
		.note_descsz = is64 ? 8 : 4,
		.note_entry = 0x100020,
		.mb_offset = -1,
		.file_len = 0x3000,
	};
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* One note: name padded to 4, then the descriptor padded to 4. */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, uint64_t val, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t n = 12;

	put32(p, namesz);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memcpy(p + n, name, namesz);
	n += (namesz + 3) & ~3u;
	memcpy(p + n, &val, descsz < 8 ? descsz : 8);
	return n + ((descsz + 3) & ~3u);
}

uint8_t *elf_make(const struct elf_spec *s, size_t *len)
{
	uint8_t *b = calloc(1, s->file_len);
	uint16_t machine = s->machine ? s->machine : (s->is64 ? EM_X86_64 : EM_386);
	uint16_t type = s->type ? s->type : ET_EXEC;
	size_t note_len = 0;
	unsigned nph = 0;

	ck_assert_ptr_nonnull(b);
	if (s->note != NOTE_NONE) {
		if (s->note_after_other)
			note_len += put_note(b + NOTE_AREA, "GNU", 3, 0x1122334455667788ULL, 8);
		note_len += put_note(b + NOTE_AREA + note_len, s->note_name, s->note_type,
				     s->note_entry, s->note_descsz);
		note_len -= s->note_area_cut;
	}
	for (unsigned i = 0; i < s->nload; i++)
		for (uint64_t j = 0; j < s->load[i].filesz; j++)
			if (s->load[i].offset + j < s->file_len)
				b[s->load[i].offset + j] = ELF_BYTE(s->load[i].offset + j);

	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = s->is64 ? ELFCLASS64 : ELFCLASS32;
	b[EI_DATA] = ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	if (s->is64) {
		Elf64_Ehdr e = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT,
				 .e_entry = s->entry, .e_phoff = sizeof(Elf64_Ehdr),
				 .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr) };
		Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(e));

		for (unsigned i = 0; i < s->nload; i++, nph++)
			ph[nph] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = s->load[i].offset,
				.p_vaddr = s->load[i].vaddr, .p_paddr = s->load[i].paddr,
				.p_filesz = s->load[i].filesz, .p_memsz = s->load[i].memsz,
				.p_align = 0x1000 };
		if (s->note == NOTE_SEGMENT)
			ph[nph++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = NOTE_AREA,
				.p_filesz = note_len, .p_memsz = note_len, .p_align = 4 };
		if (s->note == NOTE_SECTION) {
			Elf64_Shdr *sh = (Elf64_Shdr *)(b + SHDR_AREA);

			sh[1] = (Elf64_Shdr){ .sh_type = SHT_NOTE, .sh_offset = NOTE_AREA,
					      .sh_size = note_len, .sh_addralign = 4 };
			e.e_shoff = SHDR_AREA;
			e.e_shnum = 2;
			e.e_shentsize = sizeof(Elf64_Shdr);
		}
		e.e_phnum = nph;
		memcpy(e.e_ident, b, EI_NIDENT);
		memcpy(b, &e, sizeof(e));
	} else {
		Elf32_Ehdr e = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT,
				 .e_entry = (uint32_t)s->entry, .e_phoff = sizeof(Elf32_Ehdr),
				 .e_ehsize = sizeof(Elf32_Ehdr), .e_phentsize = sizeof(Elf32_Phdr) };
		Elf32_Phdr *ph = (Elf32_Phdr *)(b + sizeof(e));

		for (unsigned i = 0; i < s->nload; i++, nph++)
			ph[nph] = (Elf32_Phdr){ .p_type = PT_LOAD,
				.p_offset = (uint32_t)s->load[i].offset,
				.p_vaddr = (uint32_t)s->load[i].vaddr,
				.p_paddr = (uint32_t)s->load[i].paddr,
				.p_filesz = (uint32_t)s->load[i].filesz,
				.p_memsz = (uint32_t)s->load[i].memsz, .p_align = 0x1000 };
		if (s->note == NOTE_SEGMENT)
			ph[nph++] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = NOTE_AREA,
				.p_filesz = (uint32_t)note_len, .p_memsz = (uint32_t)note_len,
				.p_align = 4 };
		if (s->note == NOTE_SECTION) {
			Elf32_Shdr *sh = (Elf32_Shdr *)(b + SHDR_AREA);

			sh[1] = (Elf32_Shdr){ .sh_type = SHT_NOTE, .sh_offset = NOTE_AREA,
					      .sh_size = (uint32_t)note_len, .sh_addralign = 4 };
			e.e_shoff = SHDR_AREA;
			e.e_shnum = 2;
			e.e_shentsize = sizeof(Elf32_Shdr);
		}
		e.e_phnum = nph;
		memcpy(e.e_ident, b, EI_NIDENT);
		memcpy(b, &e, sizeof(e));
	}
	if (s->mb_offset >= 0) {
		uint32_t magic = 0x1BADB002u;

		put32(b + s->mb_offset, magic);
		put32(b + s->mb_offset + 4, s->mb_flags);
		put32(b + s->mb_offset + 8, -(magic + s->mb_flags) + (s->mb_bad_checksum ? 1 : 0));
	}
	*len = s->file_len;
	return b;
}

void bz_spec_default(struct bz_spec *s)
{
	*s = (struct bz_spec){
		.setup_sects = 4,
		.version = 0x020f,
		.xloadflags = 0x1 | 0x2,	/* XLF_KERNEL_64, above 4G */
		.boot_flag = 0xAA55,
		.header = 0x53726448,
		.jump_len = 0x6a,		/* header ends at 0x26c, as in Linux 6.x */
		.pm_size = 0x4000,
		.relocatable = 1,
		.kernel_alignment = 0x200000,
		.pref_address = 0x1000000,
		.init_size = 0x2000000,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047,
	};
}

uint8_t *bz_make(const struct bz_spec *s, size_t *len)
{
	unsigned sects = s->setup_sects ? s->setup_sects : 4;
	size_t setup = (sects + 1) * 512, total = setup + s->pm_size;
	uint8_t *b = calloc(1, total);
	uint16_t v16;

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ge(total, 0x290);
	memset(b + 0x1f1 + 0x80, 0xcc, setup - 0x1f1 - 0x80);	/* setup code stand-in */
	for (size_t i = 0; i < s->pm_size; i++)
		b[setup + i] = BZ_BYTE(i);
	b[0x1f1] = s->setup_sects;
	if (!s->no_syssize)
		put32(b + 0x1f4, (uint32_t)(s->pm_size / 16));
	memcpy(b + 0x1fe, &s->boot_flag, 2);
	b[0x200] = 0xeb;
	b[0x201] = s->jump_len;
	put32(b + 0x202, s->header);
	memcpy(b + 0x206, &s->version, 2);
	b[0x211] = 0x01;	/* LOADED_HIGH */
	put32(b + 0x214, 0x100000);
	put32(b + 0x22c, s->initrd_addr_max);
	put32(b + 0x230, s->kernel_alignment);
	b[0x234] = s->relocatable;
	b[0x235] = 21;		/* min_alignment */
	v16 = s->xloadflags;
	memcpy(b + 0x236, &v16, 2);
	put32(b + 0x238, s->cmdline_size);
	memcpy(b + 0x258, &s->pref_address, 8);
	put32(b + 0x260, s->init_size);
	*len = total - s->cut;
	return b;
}

void fake_mem_init(struct guest_mem *m, uint64_t size)
{
	uint64_t low = size < MMIO_HOLE_START ? size : MMIO_HOLE_START;
	uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_ptr_ne(base, MAP_FAILED);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->base = base;
	m->size = size;
	m->page_size = 4096;
	m->regions[0] = (struct guest_region){ .gpa = 0, .size = low, .host = base };
	m->nregions = 1;
	if (size > low) {
		m->regions[1] = (struct guest_region){ .gpa = RAM_ABOVE_4G_START, .size = size - low,
						       .host = base + low, .offset = low };
		m->nregions = 2;
	}
	memset(base, 0xee, size < MiB(1) ? size : MiB(1));
}

void fake_mem_free(struct guest_mem *m)
{
	munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

uint8_t *gpa(const struct guest_mem *m, uint64_t addr, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(m, addr, len);

	ck_assert_msg(p != NULL, "gpa 0x%llx+0x%llx outside fake RAM",
		      (unsigned long long)addr, (unsigned long long)len);
	return p;
}
