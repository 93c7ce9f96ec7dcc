// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel loaders: the input is a kernel image (bzImage, ELF with a PVH
 * note, Multiboot ELF, plain ELF64, or anything else). kernel_probe and
 * boot_choose look at it, then boot_load puts it into a 64 MiB guest RAM
 * once per protocol (auto, pvh, linux64, bzimage, multiboot), with a small
 * initrd and command line. The RAM has inaccessible pages on both sides, so
 * a write outside it faults even where ASan cannot see (it is an mmap).
 * Checked: errors come with a message; a load that succeeds used the
 * protocol boot_choose picks and enters inside RAM.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "fuzz/fuzz.h"
#include "vmm/err.h"

#define RAM_SIZE	MiB(64)
#define GUARD		0x1000ULL

static struct guest_mem mem;
static uint8_t initrd[4096];

static void ram_init(void)
{
	uint8_t *p = mmap(NULL, RAM_SIZE + 2 * GUARD, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	FUZZ_CHECK(p != MAP_FAILED, "mmap");
	FUZZ_CHECK(mprotect(p + GUARD, RAM_SIZE, PROT_READ | PROT_WRITE) == 0, "mprotect");
	mem = (struct guest_mem){
		.fd = -1, .base = p + GUARD, .size = RAM_SIZE, .page_size = 4096, .nregions = 1,
	};
	mem.regions[0] = (struct guest_region){ 0, RAM_SIZE, p + GUARD, 0 };
	memset(initrd, 0x42, sizeof(initrd));
}

static void check_error(int r, const char *what)
{
	FUZZ_CHECK(r < 0 && r > -4096, "%s returned %d", what, r);
	FUZZ_CHECK(err_msg()[0], "%s failed (%d) without a message", what, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum boot_proto protos[] = {
		BOOT_AUTO, BOOT_PVH, BOOT_LINUX64, BOOT_BZIMAGE, BOOT_MULTIBOOT,
	};
	struct kernel_info ki;
	bool probed;
	int r;

	if (!mem.base)
		ram_init();
	err_clear();
	r = kernel_probe("fuzz", data, size, &ki);
	if (r)
		check_error(r, "kernel_probe");
	probed = r == 0;

	for (unsigned i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		struct boot_input in = {
			.kernel_path = "fuzz", .kernel = data, .kernel_size = size,
			.initrd = initrd, .initrd_size = sizeof(initrd),
			.cmdline = "console=ttyS0 root=/dev/vda", .proto = protos[i],
			.rsdp_addr = ACPI_RSDP_ADDR,
		};
		enum boot_proto chosen = BOOT_AUTO;
		struct boot_entry e;

		err_clear();
		if (probed) {
			r = boot_choose("fuzz", &ki, protos[i], &chosen);
			if (r)
				check_error(r, "boot_choose");
			else
				FUZZ_CHECK(chosen != BOOT_AUTO &&
					   (protos[i] == BOOT_AUTO || chosen == protos[i]),
					   "asked for %s, chose %s", boot_proto_name(protos[i]),
					   boot_proto_name(chosen));
		}
		err_clear();
		r = boot_load(&mem, &in, &e);
		if (r) {
			check_error(r, "boot_load");
			continue;
		}
		FUZZ_CHECK(probed && chosen == e.proto, "boot_load used %s, boot_choose said %s",
			   boot_proto_name(e.proto), boot_proto_name(chosen));
		FUZZ_CHECK(guest_mem_ptr(&mem, e.rip, 1), "%s: entry 0x%llx outside RAM",
			   boot_proto_name(e.proto), (unsigned long long)e.rip);
	}
	return 0;
}
