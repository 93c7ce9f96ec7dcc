/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The disk image backend shared by virtio-blk and virtio-scsi: open and
 * lock an image (or a null backend), report its size, and prepare
 * io_uring requests for read, write, flush, discard and write-zeroes.
 * Completions arrive as CQEs on the caller's I/O thread; the backend keeps
 * no per-request state.
 *
 * Rules for the device layer:
 * - Flush: a FLUSH completes only after every write that *completed* before
 *   the flush was prepared is durable. disk_prep_flush issues an fdatasync
 *   at that point, which gives exactly this; writes still in flight when it
 *   is prepared are not covered (the guest may not rely on them either:
 *   virtio and SCSI only order a flush after writes the driver saw complete).
 * - iovecs: at most DISK_MAX_IOV per request. The iovec array (and the
 *   buffers) must stay valid and unchanged until the request completes;
 *   keep the array inside the request that embeds the io_op.
 * - O_DIRECT (d->direct): every iovec base must be a multiple of
 *   d->mem_align and every iovec length, offset and total a multiple of
 *   d->block_size, or the kernel fails the request with -EINVAL.
 *   disk_iov_aligned checks a vector; bounce the others.
 * - res: bytes transferred or -errno. A short read or write (res >= 0 but
 *   less than asked) means the image shrank under us or the medium failed
 *   part-way: report it as an I/O error; do not resubmit the rest.
 */
#ifndef KITE_VIRTIO_DISK_H
#define KITE_VIRTIO_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/iothread.h"

/* Largest iovec count per request (the kernel's UIO_MAXIOV). */
#define DISK_MAX_IOV 1024

enum disk_iface { DISK_IFACE_BLK, DISK_IFACE_SCSI };
enum disk_cache { DISK_CACHE_NONE, DISK_CACHE_WRITEBACK };

/* One --disk option, parsed. */
struct disk_opts {
	const char *path;	/* NULL for a null backend */
	uint64_t null_size;	/* null=SIZE */
	enum disk_iface iface;
	unsigned queues;	/* 0: default (one per vCPU) */
	unsigned queue_size;	/* 256 unless given (0 also means 256) */
	bool readonly;
	enum disk_cache cache;
	const char *serial;	/* NULL: derived from the file */
	unsigned iothreads;	/* 0: default */
	unsigned poll_us;
};

/* Parse the value of one --disk (e.g. "path=x.img,iface=blk,queues=2").
 * Errors name --disk, the key, the value and what was expected. In a
 * value, ",," stands for one comma (path=a,,b.img is the file "a,b.img").
 * The strings in `o` are copies owned by `o` (free with disk_opts_free). */
int disk_opts_parse(const char *arg, struct disk_opts *o);
void disk_opts_free(struct disk_opts *o);

struct disk {
	int fd;			/* -1 for null */
	int buffered_fd;	/* with O_DIRECT: the same file through the page
				 * cache, for requests O_DIRECT cannot take
				 * (misaligned guest buffers); else -1 */
	int lock_fd;		/* the same file, holding the OFD lock and used for
				 * nothing else: the I/O fds go into io_uring
				 * fixed-file tables, which the kernel releases
				 * after the process is gone, and the lock must
				 * go with the process */
	bool null;
	bool readonly;
	bool direct;		/* O_DIRECT in effect */
	uint64_t size;		/* bytes, a multiple of 512 */
	uint32_t block_size;	/* logical block size reported to guests (512,
				 * or the O_DIRECT offset alignment if larger) */
	uint32_t phys_block_size; /* st_blksize-derived, for topology */
	uint32_t mem_align;	/* O_DIRECT buffer address alignment (1 if none) */
	bool can_discard;	/* punch-hole (file) or unmapping zero-out (block
				 * device); discarded blocks read back as zeroes */
	bool can_zero;		/* zero-range: blocks stay allocated */
	char serial[21];	/* NUL-terminated, at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
	char *path;		/* a copy, NULL for null */
};

/* Open, check (size a multiple of 512, readable/writable as asked), take an
 * OFD lock (shared for read-only, exclusive otherwise; refuse if held), and
 * probe O_DIRECT for cache=none (warn and fall back if refused). */
int disk_open(struct disk *d, const struct disk_opts *o);
/* The same; lock=false leaves the image unlocked, for a migration's
 * destination, which takes the lock with disk_lock() at the hand-over. */
int disk_open_locking(struct disk *d, const struct disk_opts *o, bool lock);
void disk_close(struct disk *d);
/* Release the lock without closing (migration hands the image over). */
int disk_unlock(struct disk *d);
int disk_lock(struct disk *d);

/*
 * Prepare one request on the I/O thread's ring; its CQE completes `op`
 * with res = bytes transferred (0 for flush, discard, write-zeroes) or
 * -errno. Returns 0 when queued; 1 when nothing was queued because the
 * request is already done with success (the null backend; a flush of a
 * read-only disk): the caller completes it at once, and null reads must be
 * zero-filled by the caller (disk_null_fill). A negative errno if nothing
 * could be queued: -EROFS (a write to a read-only disk), -EOPNOTSUPP
 * (discard or zeroes the image cannot do), -EINVAL (no or too many iovecs),
 * -EBUSY (no SQE). Offsets and lengths are the caller's to check against
 * d->size. Call on the I/O thread (or before it starts).
 */
int disk_prep_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t offset, struct io_op *op);
int disk_prep_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		     uint64_t offset, struct io_op *op);
/* fdatasync of everything completed before it (see FLUSH above). */
int disk_prep_flush(struct disk *d, struct iothread *t, struct io_op *op);
int disk_prep_discard(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
		      struct io_op *op);
int disk_prep_write_zeroes(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
			   struct io_op *op);
void disk_null_fill(const struct iovec *iov, unsigned n);
/* True if O_DIRECT accepts this vector at this offset (always without it). */
bool disk_iov_aligned(const struct disk *d, const struct iovec *iov, unsigned n,
		      uint64_t offset);

#endif
