// SPDX-License-Identifier: Apache-2.0
/*
 * The `kite run` command line: the input is its arguments, one per line
 * (argv[0] is "run"). Checked: an error comes with a message; a success
 * (other than --help) has a kernel and values in the ranges config.h and
 * the README promise. --kernel and --initrd name files that must be
 * readable, so seeds use /proc/self/exe.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "fuzz/fuzz.h"
#include "vmm/config.h"
#include "vmm/err.h"

#define MAX_ARGS 64

static void check_config(const struct vm_config *c)
{
	/* A migration's destination and a restored snapshot need none. */
	FUZZ_CHECK(c->kernel || c->incoming || c->restore, "no kernel");
	FUZZ_CHECK(!c->restore || !c->incoming, "--restore with --incoming accepted");
	FUZZ_CHECK(c->cmdline, "no command line");
	FUZZ_CHECK(c->cpus >= 1 && c->cpus <= KITE_MAX_CPUS, "cpus %u", c->cpus);
	FUZZ_CHECK(c->memory >= KITE_MIN_MEMORY && c->memory <= KITE_MAX_MEMORY &&
		   c->memory % 4096 == 0, "memory %llu", (unsigned long long)c->memory);
	FUZZ_CHECK(c->hugepage_size == 0 || c->hugepage_size == MiB(2) ||
		   c->hugepage_size == GiB(1), "hugepages %llu",
		   (unsigned long long)c->hugepage_size);
	FUZZ_CHECK(!c->hugepage_size || c->memory % c->hugepage_size == 0,
		   "memory %llu, hugepages %llu", (unsigned long long)c->memory,
		   (unsigned long long)c->hugepage_size);
	FUZZ_CHECK(c->numa_node >= -1 && c->numa_node <= 1023, "numa node %d", c->numa_node);
	FUZZ_CHECK(c->boot >= BOOT_AUTO && c->boot <= BOOT_MULTIBOOT, "boot %d", c->boot);
	FUZZ_CHECK(c->ndisks <= KITE_MAX_DISKS, "%u disks", c->ndisks);
	for (unsigned i = 0; i < c->ndisks; i++)
		FUZZ_CHECK(!c->disks[i].path != !c->disks[i].null_size, "disk %u", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 1], *p;
	struct vm_config cfg;
	int argc = 0, r;

	FUZZ_CHECK(buf, "malloc");
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "run";
	if (size) {
		argv[argc++] = p = buf;
		while (argc < MAX_ARGS && (p = strchr(p, '\n'))) {
			*p++ = '\0';
			argv[argc++] = p;
		}
	}
	argv[argc] = NULL;
	err_clear();
	r = config_parse(&cfg, argc, argv);
	if (r) {
		FUZZ_CHECK(r < 0, "config_parse returned %d", r);
		FUZZ_CHECK(err_msg()[0], "error %d without a message", r);
	} else if (!cfg.help) {
		check_config(&cfg);
	}
	config_free(&cfg);
	free(buf);
	return 0;
}
