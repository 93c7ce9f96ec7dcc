/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The disk image backend shared by virtio-blk and virtio-scsi: open and
 * lock an image (or a null backend), report its size, and prepare
 * io_uring requests for read, write, flush, discard and write-zeroes.
 * Completions arrive as CQEs on the caller's I/O thread; the backend keeps
 * no per-request state.
 */
#ifndef KITE_VIRTIO_DISK_H
#define KITE_VIRTIO_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/iothread.h"

enum disk_iface { DISK_IFACE_BLK, DISK_IFACE_SCSI };
enum disk_cache { DISK_CACHE_NONE, DISK_CACHE_WRITEBACK };

/* One --disk option, parsed. */
struct disk_opts {
	const char *path;	/* NULL for a null backend */
	uint64_t null_size;	/* null=SIZE */
	enum disk_iface iface;
	unsigned queues;	/* 0: default (one per vCPU) */
	unsigned queue_size;	/* 0: default 256 */
	bool readonly;
	enum disk_cache cache;
	const char *serial;	/* NULL: derived from the file */
	unsigned iothreads;	/* 0: default */
	unsigned poll_us;
};

/* Parse the value of one --disk (e.g. "path=x.img,iface=blk,queues=2").
 * Errors name --disk, the key, the value and what was expected. The
 * strings in `o` point into a copy owned by `o` (free with disk_opts_free). */
int disk_opts_parse(const char *arg, struct disk_opts *o);
void disk_opts_free(struct disk_opts *o);

struct disk {
	int fd;			/* -1 for null */
	bool null;
	bool readonly;
	bool direct;		/* O_DIRECT in effect */
	uint64_t size;		/* bytes, a multiple of 512 */
	uint32_t block_size;	/* logical block size reported to guests (512) */
	uint32_t phys_block_size; /* st_blksize-derived, for topology */
	bool can_discard;	/* the file system supports punch-hole */
	bool can_zero;		/* ... zero-range */
	char serial[21];	/* NUL-terminated, at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
	const char *path;
};

/* Open, check (size a multiple of 512, readable/writable as asked), take an
 * OFD lock (shared for read-only, exclusive otherwise; refuse if held), and
 * probe O_DIRECT for cache=none (warn and fall back if refused). */
int disk_open(struct disk *d, const struct disk_opts *o);
void disk_close(struct disk *d);
/* Release the lock without closing (migration hands the image over). */
int disk_unlock(struct disk *d);
int disk_lock(struct disk *d);

/*
 * Prepare one request on the I/O thread's ring; its CQE completes `op`
 * with res = bytes transferred or -errno. For the null backend nothing is
 * queued: the call returns 1 and the caller completes at once (reads
 * must be zero-filled by the caller: disk_null_fill does it). Otherwise 0,
 * or a negative errno if nothing could be queued. Offsets and lengths are
 * the caller's to check against d->size.
 */
int disk_prep_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t offset, struct io_op *op);
int disk_prep_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		     uint64_t offset, struct io_op *op);
/* fdatasync of everything completed before it. */
int disk_prep_flush(struct disk *d, struct iothread *t, struct io_op *op);
int disk_prep_discard(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
		      struct io_op *op);
int disk_prep_write_zeroes(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
			   struct io_op *op);
void disk_null_fill(const struct iovec *iov, unsigned n);

#endif
