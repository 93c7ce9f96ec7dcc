// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel loading, the public side: recognise the image, choose the boot
 * protocol, and run that protocol's loader (pvh.c, linux64.c, bzimage.c,
 * multiboot.c) after the parts they share (GDT, page tables).
 */
#include "arch/x86/boot.h"

#include "arch/x86/boot_impl.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

const char *boot_proto_name(enum boot_proto p)
{
	switch (p) {
	case BOOT_AUTO:		return "auto";
	case BOOT_PVH:		return "pvh";
	case BOOT_LINUX64:	return "linux64";
	case BOOT_BZIMAGE:	return "bzimage";
	case BOOT_MULTIBOOT:	return "multiboot";
	}
	return "unknown";
}

int kernel_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki)
{
	long mb;
	int r;

	memset(ki, 0, sizeof(*ki));
	if (!path)
		path = "kernel";
	if (len >= 4 && !memcmp(img, "\177ELF", 4)) {
		r = elf_probe(path, img, len, ki);
		if (r)
			return r;
	} else {
		r = bz_probe(path, img, len, ki);
		if (r != -ENOEXEC)
			return r;
	}
	mb = mb_find_header(img, len);
	if (mb >= 0) {
		ki->has_multiboot = 1;
		ki->mb_flags = ld32(img + mb + 4);
	}
	if (ki->is_elf || ki->is_bzimage)
		return 0;
	if (ki->has_multiboot) {
		/* Without an ELF container only the a.out kludge could say where
		 * the kernel goes, and kite refuses that. */
		r = mb_check_flags(path, ki->mb_flags);
		return r ? r : err_set(EINVAL, "%s: Multiboot header without the a.out kludge, "
				       "but the file is not an ELF image", path);
	}
	return err_set(ENOEXEC, "%s: not a kernel kite can boot (expected a bzImage, an ELF with "
		       "a PVH note, a Multiboot ELF, or a 64-bit ELF)", path);
}

static const char *describe(const struct kernel_info *ki)
{
	if (ki->is_bzimage)
		return "a bzImage";
	if (!ki->is_elf)
		return "not a kernel image";
	if (ki->has_pvh)
		return ki->is_elf64 ? "an ELF64 with a PVH note" : "an ELF32 with a PVH note";
	if (ki->has_multiboot)
		return ki->is_elf64 ? "an ELF64 with a Multiboot header"
				    : "an ELF32 with a Multiboot header";
	return ki->is_elf64 ? "an ELF64 without a PVH note or Multiboot header"
			    : "an ELF32 without a PVH note or Multiboot header";
}

int boot_choose(const char *path, const struct kernel_info *ki, enum boot_proto requested,
		enum boot_proto *chosen)
{
	enum boot_proto p = requested;
	int ok;

	if (!path)
		path = "kernel";
	if (p == BOOT_AUTO) {
		if (ki->is_bzimage)
			p = BOOT_BZIMAGE;
		else if (ki->has_pvh)
			p = BOOT_PVH;
		else if (ki->is_elf && ki->has_multiboot)
			p = BOOT_MULTIBOOT;
		else if (ki->is_elf64)
			p = BOOT_LINUX64;
		else
			return err_set(ENOEXEC, "%s: no boot protocol fits %s (an ELF32 needs a PVH "
				       "note or a Multiboot header)", path, describe(ki));
	}
	switch (p) {
	case BOOT_BZIMAGE:	ok = ki->is_bzimage; break;
	case BOOT_PVH:		ok = ki->has_pvh; break;
	case BOOT_LINUX64:	ok = ki->is_elf64; break;
	case BOOT_MULTIBOOT:	ok = ki->is_elf && ki->has_multiboot; break;
	default:
		return err_set(EINVAL, "%s: unknown boot protocol %d", path, (int)p);
	}
	if (!ok)
		return err_set(EINVAL, "%s: cannot boot with %s: the image is %s", path,
			       boot_proto_name(p), describe(ki));
	if (p == BOOT_MULTIBOOT) {
		int r = mb_check_flags(path, ki->mb_flags);

		if (r)
			return r;
	}
	*chosen = p;
	return 0;
}

int boot_load(struct guest_mem *mem, const struct boot_input *in, struct boot_entry *entry)
{
	struct e820_entry own[E820_MAX_ENTRIES];
	struct boot_ctx c = {
		.mem = mem,
		.in = in,
		.path = in->kernel_path ? in->kernel_path : "kernel",
		.e820 = in->e820,
		.e820_count = in->e820_count,
		.low_end = boot_low_end(mem),
	};
	enum boot_proto p;
	int r;

	memset(entry, 0, sizeof(*entry));
	if (!c.e820_count) {
		c.e820_count = e820_build(mem->size, own, E820_MAX_ENTRIES);
		c.e820 = own;
	}
	r = kernel_probe(c.path, in->kernel, in->kernel_size, &c.ki);
	if (!r)
		r = boot_choose(c.path, &c.ki, in->proto, &p);
	if (!r)
		r = boot_setup_gdt(&c, entry);
	if (r)
		return r;
	switch (p) {
	case BOOT_PVH:		r = pvh_load(&c, entry); break;
	case BOOT_LINUX64:	r = linux64_load(&c, entry); break;
	case BOOT_BZIMAGE:	r = bz_load(&c, entry); break;
	case BOOT_MULTIBOOT:	r = mb_load(&c, entry); break;
	default:
		r = err_set(EINVAL, "%s: no loader for %s", c.path, boot_proto_name(p));
	}
	if (r)
		return r;
	if (entry->long_mode) {
		r = boot_setup_page_tables(&c, entry);
		if (r)
			return r;
	}
	entry->proto = p;
	entry->rsp = BOOT_STACK_TOP;
	return 0;
}
