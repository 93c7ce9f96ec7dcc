// SPDX-License-Identifier: Apache-2.0
/*
 * ELF kernels: header and program-header validation, the PVH entry note
 * (Xen's elfnote.h: owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, found in a
 * PT_NOTE segment or an SHT_NOTE section) and loading PT_LOAD segments at
 * their physical addresses. Every read of the image is bounds-checked first.
 */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* The ELF header fields kite uses, for either class. */
struct elf_hdr {
	int is64;
	uint16_t type, machine;
	uint64_t entry, phoff, shoff;
	uint16_t phentsize, phnum, shentsize, shnum;
};

/* [off, off + size) lies inside a buffer of `len` bytes. */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static int parse_ehdr(const char *path, const uint8_t *img, size_t len, struct elf_hdr *h)
{
	if (len < SELFMAG || memcmp(img, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (len < EI_NIDENT)
		return err_set(EINVAL, "%s: truncated ELF header (%zu bytes)", path, len);
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
		return err_set(EINVAL, "%s: ELF class %u is neither ELF32 nor ELF64", path,
			       img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB)
		return err_set(EINVAL, "%s: big-endian ELF; x86 kernels are little-endian", path);
	h->is64 = img[EI_CLASS] == ELFCLASS64;
	if (h->is64) {
		Elf64_Ehdr e;

		if (len < sizeof(e))
			return err_set(EINVAL, "%s: truncated ELF64 header (%zu of %zu bytes)",
				       path, len, sizeof(e));
		memcpy(&e, img, sizeof(e));
		*h = (struct elf_hdr){ 1, e.e_type, e.e_machine, e.e_entry, e.e_phoff, e.e_shoff,
				       e.e_phentsize, e.e_phnum, e.e_shentsize, e.e_shnum };
	} else {
		Elf32_Ehdr e;

		if (len < sizeof(e))
			return err_set(EINVAL, "%s: truncated ELF32 header (%zu of %zu bytes)",
				       path, len, sizeof(e));
		memcpy(&e, img, sizeof(e));
		*h = (struct elf_hdr){ 0, e.e_type, e.e_machine, e.e_entry, e.e_phoff, e.e_shoff,
				       e.e_phentsize, e.e_phnum, e.e_shentsize, e.e_shnum };
	}
	if (h->machine != (h->is64 ? EM_X86_64 : EM_386))
		return err_set(ENOEXEC, "%s: ELF%s for machine %u, not %s: kite boots x86 kernels",
			       path, h->is64 ? "64" : "32", h->machine,
			       h->is64 ? "x86-64 (62)" : "i386 (3)");
	if (h->type != ET_EXEC)
		return err_set(EINVAL, "%s: ELF type %u is not an executable (ET_EXEC)", path, h->type);
	if (h->phentsize != (h->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return err_set(EINVAL, "%s: ELF program header size %u, expected %zu", path,
			       h->phentsize, h->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
	if (!h->phnum || h->phnum == PN_XNUM)
		return err_set(EINVAL, "%s: ELF has %s program headers", path,
			       h->phnum ? "extended-numbered" : "no");
	if (!in_file(h->phoff, (uint64_t)h->phnum * h->phentsize, len))
		return err_set(EINVAL, "%s: ELF program headers [0x%" PRIx64 ", +%u x %u) run past "
			       "the end of the file (%zu bytes)", path, h->phoff, h->phnum,
			       h->phentsize, len);
	return 0;
}

static void read_phdr(const uint8_t *img, const struct elf_hdr *h, unsigned i, struct elf_phdr *ph)
{
	const uint8_t *p = img + h->phoff + (uint64_t)i * h->phentsize;

	if (h->is64) {
		Elf64_Phdr e;

		memcpy(&e, p, sizeof(e));
		*ph = (struct elf_phdr){ e.p_type, e.p_offset, e.p_vaddr, e.p_paddr,
					 e.p_filesz, e.p_memsz, e.p_align };
	} else {
		Elf32_Phdr e;

		memcpy(&e, p, sizeof(e));
		*ph = (struct elf_phdr){ e.p_type, e.p_offset, e.p_vaddr, e.p_paddr,
					 e.p_filesz, e.p_memsz, e.p_align };
	}
}

static int check_load(const char *path, const struct elf_hdr *h, unsigned i,
		      const struct elf_phdr *ph, size_t len)
{
	uint64_t space = h->is64 ? 0 : 1ULL << 32;	/* 0: the full 64-bit space */

	if (!in_file(ph->offset, ph->filesz, len))
		return err_set(EINVAL, "%s: ELF segment %u [file 0x%" PRIx64 ", +0x%" PRIx64 ") runs "
			       "past the end of the file (%zu bytes)", path, i, ph->offset,
			       ph->filesz, len);
	if (ph->filesz > ph->memsz)
		return err_set(EINVAL, "%s: ELF segment %u has %" PRIu64 " bytes in the file but only "
			       "%" PRIu64 " in memory", path, i, ph->filesz, ph->memsz);
	if (ph->paddr + ph->memsz < ph->paddr || ph->vaddr + ph->memsz < ph->vaddr ||
	    (space && (ph->paddr + ph->memsz > space || ph->vaddr + ph->memsz > space)))
		return err_set(EINVAL, "%s: ELF segment %u at 0x%" PRIx64 " (+0x%" PRIx64 ") wraps "
			       "around the address space", path, i, ph->paddr, ph->memsz);
	return 0;
}

/* Walk the notes in img[off, off + size); records a PVH entry in `ki`. */
static int scan_notes(const char *path, const uint8_t *img, uint64_t off, uint64_t size,
		      uint64_t align, struct kernel_info *ki)
{
	uint64_t a = align == 8 ? 8 : 4;
	uint64_t pos = 0;

	while (size - pos >= 12) {
		const uint8_t *n = img + off + pos;
		uint64_t namesz = ld32(n), descsz = ld32(n + 4);
		uint32_t type = ld32(n + 8);
		uint64_t name_room = ALIGN_UP(namesz, a), desc_room = ALIGN_UP(descsz, a);
		const uint8_t *desc = n + 12 + name_room;

		if (name_room > size - pos - 12 || descsz > size - pos - 12 - name_room)
			return err_set(EINVAL, "%s: ELF note at file offset 0x%" PRIx64 " (name %"
				       PRIu64 " bytes, descriptor %" PRIu64 " bytes) runs past the "
				       "end of its note area", path, off + pos, namesz, descsz);
		if (namesz == 4 && !memcmp(n + 12, "Xen", 4) && type == XEN_ELFNOTE_PHYS32_ENTRY) {
			uint64_t entry;

			if (descsz == 4)
				entry = ld32(desc);
			else if (descsz == 8)
				entry = ld64(desc);
			else
				return err_set(EINVAL, "%s: PVH note (Xen, XEN_ELFNOTE_PHYS32_ENTRY) "
					       "has a %" PRIu64 "-byte value, expected 4 or 8",
					       path, descsz);
			if (entry >= 1ULL << 32)
				return err_set(EINVAL, "%s: PVH entry 0x%" PRIx64 " is above 4 GiB; a "
					       "32-bit entry cannot reach it", path, entry);
			ki->has_pvh = 1;
			ki->pvh_entry = entry;
		}
		/* The last note's padding may be cut off by the area's end. */
		if (desc_room > size - pos - 12 - name_room)
			break;
		pos += 12 + name_room + desc_room;
	}
	return 0;
}

static int scan_sections(const char *path, const uint8_t *img, size_t len,
			 const struct elf_hdr *h, struct kernel_info *ki)
{
	size_t shsz = h->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);

	if (!h->shoff || !h->shnum)
		return 0;
	if (h->shentsize != shsz)
		return err_set(EINVAL, "%s: ELF section header size %u, expected %zu", path,
			       h->shentsize, shsz);
	if (!in_file(h->shoff, (uint64_t)h->shnum * shsz, len))
		return err_set(EINVAL, "%s: ELF section headers at 0x%" PRIx64 " run past the end "
			       "of the file (%zu bytes)", path, h->shoff, len);
	for (unsigned i = 0; i < h->shnum && !ki->has_pvh; i++) {
		const uint8_t *p = img + h->shoff + (uint64_t)i * shsz;
		uint64_t off, size, align;
		uint32_t type;
		int r;

		if (h->is64) {
			Elf64_Shdr s;

			memcpy(&s, p, sizeof(s));
			type = s.sh_type, off = s.sh_offset;
			size = s.sh_size, align = s.sh_addralign;
		} else {
			Elf32_Shdr s;

			memcpy(&s, p, sizeof(s));
			type = s.sh_type, off = s.sh_offset;
			size = s.sh_size, align = s.sh_addralign;
		}
		if (type != SHT_NOTE)
			continue;
		if (!in_file(off, size, len))
			return err_set(EINVAL, "%s: ELF note section %u [file 0x%" PRIx64 ", +0x%"
				       PRIx64 ") runs past the end of the file", path, i, off, size);
		r = scan_notes(path, img, off, size, align, ki);
		if (r)
			return r;
	}
	return 0;
}

int elf_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki)
{
	struct elf_hdr h;
	struct elf_phdr ph;
	unsigned nload = 0;
	int r = parse_ehdr(path, img, len, &h);

	if (r)
		return r;
	ki->is_elf = 1;
	ki->is_elf64 = h.is64;
	ki->elf_entry = h.entry;
	for (unsigned i = 0; i < h.phnum; i++) {
		read_phdr(img, &h, i, &ph);
		if (ph.type == PT_LOAD) {
			r = check_load(path, &h, i, &ph, len);
			if (r)
				return r;
			nload++;
		} else if (ph.type == PT_NOTE) {
			if (!in_file(ph.offset, ph.filesz, len))
				return err_set(EINVAL, "%s: ELF note segment %u [file 0x%" PRIx64
					       ", +0x%" PRIx64 ") runs past the end of the file",
					       path, i, ph.offset, ph.filesz);
			if (!ki->has_pvh) {
				r = scan_notes(path, img, ph.offset, ph.filesz, ph.align, ki);
				if (r)
					return r;
			}
		}
	}
	if (!nload)
		return err_set(EINVAL, "%s: ELF has no PT_LOAD segment", path);
	if (!ki->has_pvh) {
		r = scan_sections(path, img, len, &h, ki);
		if (r)
			return r;
	}
	/* Linux's vmlinux has a physical e_entry; other kernels may give a
	 * virtual one: translate it through the segment that contains it. */
	for (unsigned i = 0; i < h.phnum; i++) {
		read_phdr(img, &h, i, &ph);
		if (ph.type == PT_LOAD && h.entry - ph.paddr < ph.memsz)
			return 0;
	}
	for (unsigned i = 0; i < h.phnum; i++) {
		read_phdr(img, &h, i, &ph);
		if (ph.type == PT_LOAD && h.entry - ph.vaddr < ph.memsz) {
			ki->elf_entry = h.entry - ph.vaddr + ph.paddr;
			return 0;
		}
	}
	return 0;	/* entry outside the segments: elf_load refuses it if it matters */
}

int elf_load(const struct boot_ctx *c, unsigned flags, uint64_t entry, uint64_t *end)
{
	const uint8_t *img = c->in->kernel;
	struct elf_hdr h;
	struct elf_phdr ph;
	int entry_ok = 0;
	char what[32];
	int r = parse_ehdr(c->path, img, c->in->kernel_size, &h);

	if (r)
		return r;
	*end = 0;
	/* Check every segment before writing any. */
	for (unsigned i = 0; i < h.phnum; i++) {
		read_phdr(img, &h, i, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		snprintf(what, sizeof(what), "ELF segment %u", i);
		r = boot_check_range(c, ph.paddr, ph.memsz, what);
		if (r)
			return r;
		if ((flags & ELF_BELOW_4G) && ph.paddr + ph.memsz > 1ULL << 32)
			return err_set(EINVAL, "%s: %s ends at 0x%" PRIx64 ", above 4 GiB, out of "
				       "reach of a 32-bit entry", c->path, what, ph.paddr + ph.memsz);
		if (entry - ph.paddr < ph.memsz)
			entry_ok = 1;
		if (ph.paddr < MMIO_HOLE_START && ph.paddr + ph.memsz > *end)
			*end = ph.paddr + ph.memsz;
	}
	if (!entry_ok && (flags & ELF_ENTRY_IN_SEGMENT))
		return err_set(EINVAL, "%s: entry point 0x%" PRIx64 " lies in no loadable segment",
			       c->path, entry);
	for (unsigned i = 0; i < h.phnum; i++) {
		read_phdr(img, &h, i, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		r = boot_copy(c, ph.paddr, img + ph.offset, ph.filesz, ph.memsz - ph.filesz);
		if (r)
			return r;
	}
	return 0;
}

int elf_load_with_cmdline_initrd(const struct boot_ctx *c, unsigned flags, uint64_t entry,
				 uint64_t *initrd)
{
	uint64_t kend;
	int r = elf_load(c, flags, entry, &kend);

	if (!r)
		r = boot_put_cmdline(c, BOOT_CMDLINE_MAX - 1);
	if (!r)
		r = boot_put_initrd(c, kend, 1ULL << 32, initrd);
	return r;
}
