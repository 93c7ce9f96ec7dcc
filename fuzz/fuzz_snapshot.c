// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot and migration stream reader, snapshot_read_fd(), against a
 * hostile stream. The input is one byte of SNAPIN_* flags, then the stream
 * (fuzz/state_devs.h), read from a memfd into a small guest memory of two
 * regions (4 pages at 0, 3 pages at 1 MiB), each between PROT_NONE guard
 * pages, so a write outside the memory given crashes.
 *
 * With SNAPIN_FIX_CRC the harness first recomputes the header's and every
 * section's CRC-32C where the lengths in the stream say they are, so the
 * fuzzer gets past the checksums to what follows them; SNAPIN_STALE reads
 * into memory that is not fresh (filled with a pattern).
 *
 * snapshot_read_args_fd() (header and command line only) reads the same
 * stream first.
 *
 * Checked: the readers return 0 or a negative errno with a message; the
 * command line comes back NUL-terminated, the header's shape within its
 * limits; on
 * success the tree it hands back passes state_check() and the reader's
 * walk (state_walk). No leak (LeakSanitizer), no access outside the buffers (ASan, guard pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"
#include "vmm/err.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct snap_shape shape;
	static int fd = -1;
	uint8_t *stream;
	void *tree = NULL;
	size_t tree_len = 0, len;
	bool fresh;
	int r;

	if (fd < 0) {
		snapfuzz_mem(&mem);
		snapfuzz_shape(&shape, &mem);
		fd = memfd_create("kite-fuzz-snapshot", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0, "memfd_create");
	}
	if (!size)
		return 0;
	fresh = !(data[0] & SNAPIN_STALE);
	len = size - 1;
	stream = malloc(len ? len : 1);
	FUZZ_CHECK(stream, "%zu bytes", len);
	memcpy(stream, data + 1, len);
	if (data[0] & SNAPIN_FIX_CRC)
		fuzz_fix_stream_crcs(stream, len);
	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
	FUZZ_CHECK(pwrite(fd, stream, len, 0) == (ssize_t)len, "pwrite");
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	free(stream);
	for (unsigned i = 0; i < mem.nregions; i++)
		memset(mem.regions[i].host, fresh ? 0 : 0x5a, mem.regions[i].size);

	/* The header and the command line alone, as `kite run --restore`
	 * reads them first. */
	{
		struct snap_shape got;
		char *args = NULL;
		size_t args_len = 0;

		err_clear();
		r = snapshot_read_args_fd(fd, &got, &args, &args_len);
		state_note("args", r);
		FUZZ_CHECK(r <= 0, "snapshot_read_args_fd returned %d", r);
		if (r) {
			FUZZ_CHECK(err_msg()[0], "refused (%d) without a message", r);
		} else {
			FUZZ_CHECK(args && args_len <= SNAP_ARGS_MAX && !args[args_len] &&
				   (!args_len || !args[args_len - 1]),
				   "command line of %zu bytes, not NUL-terminated", args_len);
			FUZZ_CHECK(got.nregions >= 1 && got.nregions <= SNAP_MAX_REGIONS &&
				   got.ndevices <= SNAP_MAX_DEVICES, "%u regions, %u devices",
				   got.nregions, got.ndevices);
			for (unsigned i = 0; i < got.ndevices; i++)
				FUZZ_CHECK(memchr(got.devices[i].kind, 0, SNAP_KIND_MAX) &&
					   memchr(got.devices[i].opts, 0, SNAP_OPTS_MAX),
					   "device %u's strings are not terminated", i);
		}
		free(args);
		FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	}

	err_clear();
	r = snapshot_read_fd(fd, &shape, &mem, fresh, &tree, &tree_len);
	state_note("snapshot", r);
	FUZZ_CHECK(r <= 0, "snapshot_read_fd returned %d", r);
	if (r) {
		FUZZ_CHECK(err_msg()[0], "refused (%d) without a message", r);
		return 0;
	}
	FUZZ_CHECK(tree && tree_len >= 64 && tree_len <= STATE_MAX_SIZE, "tree %p of %zu bytes",
		   tree, tree_len);
	FUZZ_CHECK(state_check(tree, tree_len) == 0, "the tree handed back fails its check: %s",
		   err_msg());
	state_walk(tree);
	free(tree);
	return 0;
}
