// SPDX-License-Identifier: Apache-2.0
/*
 * The --disk option parser: the input is one option value
 * ("path=x.img,queues=2,..."). Checked: an error comes with a message
 * naming --disk and leaves no strings behind; a success is one of path= or
 * null=, with values inside the ranges disk.h and the README give.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "virtio/disk.h"
#include "vmm/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *arg = malloc(size + 1);
	struct disk_opts o;
	int r;

	FUZZ_CHECK(arg, "malloc");
	memcpy(arg, data, size);
	arg[size] = '\0';
	err_clear();
	r = disk_opts_parse(arg, &o);
	if (r) {
		FUZZ_CHECK(r < 0, "disk_opts_parse returned %d", r);
		FUZZ_CHECK(strstr(err_msg(), "--disk"), "message '%s' does not name --disk",
			   err_msg());
		FUZZ_CHECK(!o.path && !o.serial, "strings left after an error");
	} else {
		FUZZ_CHECK(!o.path != !o.null_size, "path '%s', null=%llu", o.path ? o.path : "",
			   (unsigned long long)o.null_size);
		FUZZ_CHECK(o.null_size % 512 == 0, "null=%llu", (unsigned long long)o.null_size);
		FUZZ_CHECK(o.queue_size >= 2 && o.queue_size <= 1024 &&
			   !(o.queue_size & (o.queue_size - 1)), "queue_size %u", o.queue_size);
		FUZZ_CHECK(!o.serial || strlen(o.serial) <= 20, "serial '%s'", o.serial);
		FUZZ_CHECK(o.iface == DISK_IFACE_BLK || o.iface == DISK_IFACE_SCSI, "iface %d",
			   o.iface);
		FUZZ_CHECK(o.cache == DISK_CACHE_NONE || o.cache == DISK_CACHE_WRITEBACK, "cache %d",
			   o.cache);
		disk_opts_free(&o);
	}
	free(arg);
	return 0;
}
