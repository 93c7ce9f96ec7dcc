// SPDX-License-Identifier: Apache-2.0
/* The transport-neutral disk: see disk.h. */
#include "disk.h"
#include "console.h"

/* disk_blk.c, disk_scsi.c */
int disk_blk_open(struct disk *d, unsigned depth, char *why, size_t whylen);
int disk_scsi_open(struct disk *d, unsigned depth, char *why, size_t whylen);

int disk_open(struct disk *d, const char *iface, unsigned depth, char *why, size_t whylen)
{
	memset(d, 0, sizeof(*d));
	if (depth < 1 || depth > DISK_MAX_DEPTH) {
		snprintf(why, whylen, "%u requests in flight asked for, 1-%u possible", depth,
			 DISK_MAX_DEPTH);
		return -1;
	}
	if (!strcmp(iface, "blk"))
		return disk_blk_open(d, depth, why, whylen);
	if (!strcmp(iface, "scsi"))
		return disk_scsi_open(d, depth, why, whylen);
	snprintf(why, whylen, "no driver for interface '%s' (blk, scsi)", iface);
	return -1;
}

int disk_do(struct disk *d, unsigned q, struct disk_req *r)
{
	struct disk_req *done;

	if (!d->ops->submit(d, q, r))
		return -1;
	d->ops->kick(d, q);
	for (;;) {
		if (d->ops->wait(d, q, DISK_TIMEOUT_US) < 0)
			return -1;
		while ((done = d->ops->complete(d, q)))
			if (done == r)
				return 0;
	}
}
