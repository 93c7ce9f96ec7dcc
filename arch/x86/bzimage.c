// SPDX-License-Identifier: Apache-2.0
/*
 * bzImage through Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst):
 * copy the setup header into a zeroed boot_params, fill the loader's fields,
 * load the protected-mode kernel and enter it at its start + 0x200 in long
 * mode with %rsi pointing at boot_params. The real-mode setup code is never
 * run, so it is not loaded.
 *
 * Where the kernel goes: at 1 MiB, where boot.rst puts the protected-mode
 * kernel of every bzImage, as QEMU, kvmtool and Firecracker do. A relocatable
 * kernel decompresses itself to max(1 MiB rounded up to kernel_alignment,
 * pref_address), a fixed one to pref_address (= LOAD_PHYSICAL_ADDR), and
 * needs init_size bytes there: the initrd goes above the end of that area.
 */
#include <inttypes.h>

#include "arch/x86/boot_impl.h"
#include "arch/x86/bootparams.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

#define BZ_MIN_VERSION		0x0206	/* cmdline_size; the 64-bit entry came later */
#define BZ_XLOADFLAGS_VERSION	0x020c	/* 2.12: xloadflags, where XLF_KERNEL_64 lives */
#define BZ_ENTRY64_OFFSET	0x200
#define BZ_OLD_INITRD_MAX	0x37ffffffULL	/* boot.rst: if initrd_addr_max is unset */

#define VMAJ(v)	((unsigned)(v) >> 8)
#define VMIN(v)	((unsigned)(v) & 0xff)

static uint64_t setup_bytes(const uint8_t *img)
{
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;

	return (sects + 1ULL) * 512;	/* the boot sector, then the setup sectors */
}

/* Bytes of protected-mode kernel: syssize when given (a signed image has a
 * signature appended after it), else the rest of the file. */
static uint64_t pm_bytes(const uint8_t *img, size_t len)
{
	uint64_t sys = (uint64_t)ld32(img + HDR_SYSSIZE) * 16;

	return sys ? sys : len - setup_bytes(img);
}

int bz_probe(const char *path, const uint8_t *img, size_t len, struct kernel_info *ki)
{
	uint16_t version;
	uint64_t hdr_end, setup, sys;

	if (len < HDR_HEADER + 4 || ld16(img + HDR_BOOT_FLAG) != BOOT_FLAG_MAGIC ||
	    ld32(img + HDR_HEADER) != HDR_MAGIC)
		return -ENOEXEC;
	if (len < HDR_VERSION + 2)
		return err_set(EINVAL, "%s: bzImage truncated in its setup header (%zu bytes)",
			       path, len);
	version = ld16(img + HDR_VERSION);
	ki->bz_version = version;
	if (version < BZ_MIN_VERSION)
		return err_set(EINVAL, "%s: Linux boot protocol %u.%02u is too old: kite needs "
			       "%u.%02u or later", path, VMAJ(version), VMIN(version),
			       VMAJ(BZ_MIN_VERSION), VMIN(BZ_MIN_VERSION));
	hdr_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];
	if (hdr_end > len)
		return err_set(EINVAL, "%s: bzImage setup header ends at 0x%" PRIx64 ", past the "
			       "end of the file (%zu bytes)", path, hdr_end, len);
	if (version < BZ_XLOADFLAGS_VERSION)
		return err_set(EINVAL, "%s: Linux boot protocol %u.%02u has no xloadflags to "
			       "declare a 64-bit entry point: kite needs %u.%02u or later",
			       path, VMAJ(version), VMIN(version),
			       VMAJ(BZ_XLOADFLAGS_VERSION), VMIN(BZ_XLOADFLAGS_VERSION));
	if (hdr_end < HDR_INIT_SIZE + 4)
		return err_set(EINVAL, "%s: bzImage setup header ends at 0x%" PRIx64 ", too short "
			       "for protocol %u.%02u (needs up to 0x%x)", path, hdr_end,
			       VMAJ(version), VMIN(version), HDR_INIT_SIZE + 4);
	if (!(ld16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set(EINVAL, "%s: bzImage has no 64-bit entry point (XLF_KERNEL_64 not "
			       "set in xloadflags 0x%x)", path, ld16(img + HDR_XLOADFLAGS));
	setup = setup_bytes(img);
	if (len <= setup)
		return err_set(EINVAL, "%s: bzImage is %zu bytes, no room for a kernel after its "
			       "%" PRIu64 " bytes of setup code", path, len, setup);
	sys = pm_bytes(img, len);
	if (sys > len - setup)
		return err_set(EINVAL, "%s: bzImage truncated: %" PRIu64 " bytes of kernel expected "
			       "after %" PRIu64 " bytes of setup, the file has %" PRIu64, path,
			       sys, setup, (uint64_t)len - setup);
	ki->is_bzimage = 1;
	return 0;
}

int bz_load(const struct boot_ctx *c, struct boot_entry *e)
{
	const uint8_t *img = c->in->kernel;
	size_t len = c->in->kernel_size;
	uint64_t load = HIGH_RAM_START;
	uint64_t pm = pm_bytes(img, len);
	uint64_t align = ld32(img + HDR_KERNEL_ALIGNMENT);
	uint64_t pref = ld64(img + HDR_PREF_ADDRESS);
	uint64_t init_size = ld32(img + HDR_INIT_SIZE);
	uint64_t initrd_max = ld32(img + HDR_INITRD_ADDR_MAX) ? : BZ_OLD_INITRD_MAX;
	uint64_t hdr_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];
	uint64_t run, end, initrd = 0;
	uint8_t *zp;
	int r;

	if (img[HDR_RELOCATABLE]) {
		if (!align || (align & (align - 1)))
			return err_set(EINVAL, "%s: bzImage kernel_alignment 0x%" PRIx64 " is not a "
				       "power of two", c->path, align);
		run = ALIGN_UP(load, align);
	} else {
		run = load;
	}
	if (run < pref)
		run = pref;
	end = run + init_size > load + pm ? run + init_size : load + pm;

	r = boot_check_range(c, load, pm, "kernel");
	if (!r)
		r = boot_check_range(c, run, init_size, "kernel's decompression area (init_size)");
	if (!r)
		r = boot_put_cmdline(c, ld32(img + HDR_CMDLINE_SIZE));
	if (!r)
		r = boot_put_initrd(c, end, initrd_max + 1, &initrd);
	if (r)
		return r;

	zp = boot_zeroed(c, BOOT_ZERO_PAGE_ADDR, BP_SIZE, "zero page");
	if (!zp)
		return -ENOSPC;
	if (hdr_end > HDR_END_MAX)
		hdr_end = HDR_END_MAX;
	memcpy(zp + HDR_START, img + HDR_START, hdr_end - HDR_START);
	bp_set_loader_fields(zp, c, initrd);
	st32(zp + HDR_CODE32_START, (uint32_t)load);

	r = boot_copy(c, load, img + setup_bytes(img), pm, 0);
	if (r)
		return r;
	e->long_mode = 1;
	e->rip = load + BZ_ENTRY64_OFFSET;
	e->rsi = BOOT_ZERO_PAGE_ADDR;
	return 0;
}
