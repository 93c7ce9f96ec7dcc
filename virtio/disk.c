// SPDX-License-Identifier: Apache-2.0
/*
 * The disk backend: --disk parsing, opening and locking an image, and
 * io_uring request preparation for virtio-blk and virtio-scsi.
 */
#include "virtio/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "virtio/opts.h"
#include "vmm/config.h"
#include "vmm/err.h"

#define DISK_MAX_QUEUES		64
#define DISK_MAX_QUEUE_SIZE	1024
#define DISK_MAX_IOTHREADS	64
#define DISK_MAX_POLL_US	1000000
#define DISK_SERIAL_MAX		20

enum disk_key {
	K_PATH, K_NULL, K_IFACE, K_QUEUES, K_QUEUE_SIZE, K_READONLY, K_CACHE,
	K_SERIAL, K_IOTHREADS, K_POLL_US, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	[K_PATH] = "path", [K_NULL] = "null", [K_IFACE] = "iface", [K_QUEUES] = "queues",
	[K_QUEUE_SIZE] = "queue_size", [K_READONLY] = "readonly", [K_CACHE] = "cache",
	[K_SERIAL] = "serial", [K_IOTHREADS] = "iothreads", [K_POLL_US] = "poll_us",
};

static int bad(const char *item, const char *expected)
{
	return err_set(EINVAL, "--disk %s: expected %s", item, expected);
}

static int parse_num(const char *item, const char *v, unsigned min, unsigned max,
		     unsigned *out)
{
	unsigned long long n;

	if (parse_uint(v, min, max, &n))
		return err_set(EINVAL, "--disk %s: expected a number from %u to %u", item, min, max);
	*out = (unsigned)n;
	return 0;
}

/* A value that is one of two words: *second says which. */
static int parse_pair(const char *item, const char *v, const char *first, const char *other,
		      bool *second)
{
	if (!strcmp(v, first))
		*second = false;
	else if (!strcmp(v, other))
		*second = true;
	else
		return err_set(EINVAL, "--disk %s: expected %s or %s", item, first, other);
	return 0;
}

static int parse_value(struct disk_opts *o, enum disk_key k, const char *item, const char *v)
{
	unsigned long long n;
	size_t i, len;
	bool second = false;
	int r = 0;

	switch (k) {
	case K_PATH:
		o->path = strdup(v);
		return o->path ? 0 : err_set(ENOMEM, "--disk: out of memory");
	case K_NULL:
		if (parse_size(v, &o->null_size) || !o->null_size || o->null_size % 512)
			return bad(item, "a non-zero size in bytes, a multiple of 512, with an "
				   "optional K, M, G or T suffix (e.g. 1G)");
		return 0;
	case K_IFACE:
		r = parse_pair(item, v, "blk", "scsi", &second);
		if (!r)
			o->iface = second ? DISK_IFACE_SCSI : DISK_IFACE_BLK;
		return r;
	case K_QUEUES:
		return parse_num(item, v, 1, DISK_MAX_QUEUES, &o->queues);
	case K_QUEUE_SIZE:
		if (parse_uint(v, 2, DISK_MAX_QUEUE_SIZE, &n) || (n & (n - 1)))
			return bad(item, "a power of two from 2 to 1024");
		o->queue_size = (unsigned)n;
		return 0;
	case K_READONLY:
		r = parse_pair(item, v, "on", "off", &second);
		if (!r)
			o->readonly = !second;
		return r;
	case K_CACHE:
		r = parse_pair(item, v, "none", "writeback", &second);
		if (!r)
			o->cache = second ? DISK_CACHE_WRITEBACK : DISK_CACHE_NONE;
		return r;
	case K_SERIAL:
		/* Guests see it in VIRTIO_BLK_T_GET_ID and SCSI VPD page 0x80. */
		len = strlen(v);
		for (i = 0; i < len; i++)
			if (v[i] < 0x20 || v[i] > 0x7e)
				r = -EINVAL;
		if (r || len > DISK_SERIAL_MAX)
			return bad(item, "at most 20 printable ASCII characters");
		o->serial = strdup(v);
		return o->serial ? 0 : err_set(ENOMEM, "--disk: out of memory");
	case K_IOTHREADS:
		return parse_num(item, v, 1, DISK_MAX_IOTHREADS, &o->iothreads);
	case K_POLL_US:
		if (parse_uint(v, 0, DISK_MAX_POLL_US, &n))
			return bad(item, "a number of microseconds from 0 to 1000000");
		o->poll_us = (unsigned)n;
		return 0;
	case K_COUNT:
		break;
	}
	return err_set(EINVAL, "internal: --disk key %d", k);
}

static int parse_item(struct disk_opts *o, const char *item, unsigned *seen)
{
	const char *v;
	size_t klen;
	unsigned k = opts_find_key(key_names, K_COUNT, item, &klen, &v);

	if (k == K_COUNT)
		return err_set(EINVAL, "--disk %s: unknown key '%.*s' (expected path, null, iface, "
			       "queues, queue_size, readonly, cache, serial, iothreads or poll_us)",
			       item, (int)klen, item);
	if (!v || !*v)
		return err_set(EINVAL, "--disk %s: missing value (expected %s=VALUE)", item,
			       key_names[k]);
	if (*seen & (1u << k))
		return err_set(EINVAL, "--disk %s: %s given twice", item, key_names[k]);
	*seen |= 1u << k;
	return parse_value(o, (enum disk_key)k, item, v);
}

int disk_opts_parse(const char *arg, struct disk_opts *o)
{
	const char *p = arg;
	unsigned seen = 0;
	char *item;
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->queue_size = 256;
	if (!*arg)
		return err_set(EINVAL, "--disk: empty value (expected path=FILE or null=SIZE, "
			       "then key=value options)");
	item = malloc(strlen(arg) + 1);
	if (!item)
		return err_set(ENOMEM, "--disk: out of memory");
	while (!r) {
		size_t n = 0;

		/* One item up to a lone comma; ",," is an escaped comma, so
		 * paths with commas can be given (as QEMU does it). */
		while (*p && !(p[0] == ',' && p[1] != ',')) {
			item[n++] = *p;
			p += p[0] == ',' ? 2 : 1;
		}
		item[n] = '\0';
		if (!n)
			r = err_set(EINVAL, "--disk '%s': empty option (two commas in a row are "
				    "a comma inside a value; a trailing comma is not allowed)", arg);
		else
			r = parse_item(o, item, &seen);
		if (!*p)
			break;
		p++;
	}
	if (!r && !(seen & (1u << K_PATH | 1u << K_NULL)))
		r = err_set(EINVAL, "--disk '%s': expected path=FILE or null=SIZE", arg);
	if (!r && (seen & 1u << K_PATH) && (seen & 1u << K_NULL))
		r = err_set(EINVAL, "--disk '%s': path= and null= exclude each other "
			    "(give exactly one)", arg);
	free(item);
	if (r)
		disk_opts_free(o);
	return r;
}

void disk_opts_free(struct disk_opts *o)
{
	free((char *)o->path);
	free((char *)o->serial);
	o->path = NULL;
	o->serial = NULL;
}

static int set_lock(struct disk *d, short type)
{
	/* OFD locks belong to the open file, not the process: a second open
	 * in this same process conflicts too, and they survive fork. The
	 * whole-file range also conflicts with QEMU's byte-range locks. */
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (d->null)
		return 0;
	if (fcntl(d->lock_fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return err_set(EBUSY, "--disk path=%s: image is in use by another process "
			       "(lock held)", d->path);
	return err_sys(errno, "--disk path=%s: cannot lock", d->path);
}

int disk_lock(struct disk *d)
{
	return set_lock(d, d->readonly ? F_RDLCK : F_WRLCK);
}

int disk_unlock(struct disk *d)
{
	return set_lock(d, F_UNLCK);
}

static int open_image(struct disk *d, const struct disk_opts *o, bool *fell_back)
{
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	*fell_back = false;
	if (o->cache == DISK_CACHE_NONE) {
		d->fd = open(d->path, flags | O_DIRECT);
		if (d->fd >= 0) {
			d->direct = true;
			/* Misaligned requests go through the page cache on a
			 * second fd; the kernel keeps the two coherent (direct
			 * I/O writes back and invalidates the cached range). */
			d->buffered_fd = open(d->path, flags);
			if (d->buffered_fd >= 0)
				return 0;
			goto fail;
		}
		/* EINVAL from open means the file has no O_DIRECT (hugetlbfs,
		 * some FUSE and network file systems, but also directories and
		 * character devices: the caller warns once it knows). */
		if (errno != EINVAL)
			goto fail;
		*fell_back = true;
	}
	d->fd = open(d->path, flags);
	if (d->fd >= 0)
		return 0;
fail:
	if (!o->readonly && (errno == EACCES || errno == EROFS))
		return err_sys(errno, "--disk path=%s: cannot open for writing (readonly=on "
			       "opens it read-only)", d->path);
	return err_sys(errno, "--disk path=%s: cannot open", d->path);
}

static uint32_t pow2_at_least(uint32_t v, uint32_t min)
{
	if (v < min || (v & (v - 1)))
		return min;
	return v;
}

/* Block sizes, and what O_DIRECT demands of offsets and buffers. */
static void probe_geometry(struct disk *d, const struct stat *st)
{
	unsigned int lbs = 512, pbs = 0;
	struct statx sx;

	if (S_ISBLK(st->st_mode)) {
		if (ioctl(d->fd, BLKSSZGET, &lbs) < 0)
			lbs = 512;
		if (ioctl(d->fd, BLKPBSZGET, &pbs) < 0)
			pbs = 0;
	} else {
		pbs = (uint32_t)st->st_blksize;
	}
	d->block_size = pow2_at_least(lbs, 512);
	d->mem_align = 1;
	if (d->direct) {
		/* Classic rule without statx: align everything to the block. */
		d->mem_align = d->block_size;
		if (!statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) &&
		    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
			d->block_size = pow2_at_least(sx.stx_dio_offset_align, d->block_size);
			d->mem_align = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
		}
	}
	d->phys_block_size = pow2_at_least(pbs, d->block_size);
}

/* A regular file: ask the file system whether it implements a fallocate
 * mode, on a range just past EOF with KEEP_SIZE so no byte of the image
 * changes. (A length-0 call proves nothing: the VFS refuses it before the
 * file system sees it.) Zero-range may preallocate a block past EOF there;
 * the punch-hole probe, run after it, frees it again. */
static bool fs_has_mode(struct disk *d, int mode)
{
	off_t past = (off_t)((d->size + 4095) & ~4095ULL);

	return fallocate(d->fd, mode, past, 4096) == 0;
}

/* A block device: fallocate(ZERO_RANGE|KEEP_SIZE) is blkdev_issue_zeroout,
 * which always works (the kernel writes zeroes if the device cannot).
 * PUNCH_HOLE|KEEP_SIZE is a zero-out that must unmap and never falls back
 * to writing (NVMe Write Zeroes with deallocate, SCSI WRITE SAME with
 * UNMAP): the device's write-zeroes support, which sysfs states
 * (partitions keep queue/ in the parent's directory). A plain discard
 * (BLKDISCARD) is an ioctl io_uring cannot issue; this gives discard with
 * the stronger "reads back zeroes" guarantee, where the device has it. */
static bool bdev_can_unmap(const struct stat *st)
{
	static const char *const fmt[] = {
		"/sys/dev/block/%u:%u/queue/write_zeroes_max_bytes",
		"/sys/dev/block/%u:%u/../queue/write_zeroes_max_bytes",
	};
	unsigned long long max = 0;
	char path[96];
	unsigned i;

	for (i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), fmt[i], major(st->st_rdev), minor(st->st_rdev));
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &max) != 1)
			max = 0;
		fclose(f);
		return max > 0;
	}
	return false;
}

/* A stable serial for the same file on the same host: FNV-1a of the
 * device and inode numbers, printed as hex after a "kite" prefix. */
static void derive_serial(struct disk *d, const struct stat *st)
{
	uint64_t words[2] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino };
	const unsigned char *b = (const unsigned char *)words;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(words); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	snprintf(d->serial, sizeof(d->serial), "kite%016llx", (unsigned long long)h);
}

int disk_open(struct disk *d, const struct disk_opts *o)
{
	return disk_open_locking(d, o, true);
}

int disk_open_locking(struct disk *d, const struct disk_opts *o, bool lock)
{
	bool fell_back;
	struct stat st;
	int r;

	memset(d, 0, sizeof(*d));
	d->fd = d->buffered_fd = d->lock_fd = -1;
	d->readonly = o->readonly;
	d->block_size = d->phys_block_size = 512;
	d->mem_align = 1;
	if (o->serial)
		snprintf(d->serial, sizeof(d->serial), "%s", o->serial);
	if (!o->path) {
		if (!o->null_size || o->null_size % 512)
			return err_set(EINVAL, "--disk null=%llu: expected a non-zero size, "
				       "a multiple of 512", (unsigned long long)o->null_size);
		d->null = true;
		d->size = o->null_size;
		d->can_discard = d->can_zero = !o->readonly;
		if (!o->serial)
			strcpy(d->serial, "kite-null");
		return 0;
	}
	d->path = strdup(o->path);
	if (!d->path)
		return err_set(ENOMEM, "--disk: out of memory");
	r = open_image(d, o, &fell_back);
	if (r)
		goto fail;
	d->lock_fd = open(d->path, (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->lock_fd < 0) {
		r = err_sys(errno, "--disk path=%s: cannot open", d->path);
		goto fail;
	}
	if (fstat(d->fd, &st) < 0) {
		r = err_sys(errno, "--disk path=%s: cannot stat", d->path);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		d->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(d->fd, BLKGETSIZE64, &d->size) < 0) {
			r = err_sys(errno, "--disk path=%s: cannot read the device size", d->path);
			goto fail;
		}
	} else {
		r = err_set(EINVAL, "--disk path=%s: %s; expected a regular file or a block device",
			    d->path, S_ISDIR(st.st_mode) ? "is a directory" : "is a special file");
		goto fail;
	}
	if (d->size % 512) {
		r = err_set(EINVAL, "--disk path=%s: size %llu bytes is not a multiple of 512",
			    d->path, (unsigned long long)d->size);
		goto fail;
	}
	/* Lock before probing: the probes must not touch an image in use.
	 * (Without the lock, for a migration's destination, they touch only
	 * a block past the end, with KEEP_SIZE: no byte of the image.) */
	r = lock ? disk_lock(d) : 0;
	if (r)
		goto fail;
	probe_geometry(d, &st);
	if (!d->readonly && S_ISREG(st.st_mode)) {
		d->can_zero = fs_has_mode(d, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
		d->can_discard = fs_has_mode(d, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	} else if (!d->readonly) {
		d->can_zero = true;
		d->can_discard = bdev_can_unmap(&st);
	}
	if (!o->serial)
		derive_serial(d, &st);
	if (fell_back)
		fprintf(stderr, "kite: --disk path=%s: O_DIRECT not supported here; using the "
			"page cache (cache=writeback)\n", d->path);
	return 0;
fail:
	disk_close(d);
	return r;
}

void disk_close(struct disk *d)
{
	if (d->buffered_fd >= 0)
		close(d->buffered_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);	/* drops the OFD lock */
	if (d->fd >= 0)
		close(d->fd);
	d->fd = d->buffered_fd = d->lock_fd = -1;
	free(d->path);
	d->path = NULL;
}

static struct io_uring_sqe *get_sqe(struct iothread *t, struct io_op *op)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(t);

	if (sqe)
		io_uring_sqe_set_data(sqe, op);
	return sqe;
}

/* O_DIRECT where the request allows it, the page cache where not. A FLUSH
 * (fdatasync of the inode) covers writes through either fd. */
static int rw_fd(const struct disk *d, const struct iovec *iov, unsigned n, uint64_t offset)
{
	return disk_iov_aligned(d, iov, n, offset) ? d->fd : d->buffered_fd;
}

static int prep_rw(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		   uint64_t offset, struct io_op *op, bool write)
{
	struct io_uring_sqe *sqe;

	if (!n || n > DISK_MAX_IOV)
		return -EINVAL;
	if (d->null)
		return 1;
	sqe = get_sqe(t, op);
	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, rw_fd(d, iov, n, offset), iov, n, offset);
	else
		io_uring_prep_readv(sqe, rw_fd(d, iov, n, offset), iov, n, offset);
	iothread_fixed_file(t, sqe);
	return 0;
}

int disk_prep_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t offset, struct io_op *op)
{
	return prep_rw(d, t, iov, n, offset, op, false);
}

int disk_prep_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		     uint64_t offset, struct io_op *op)
{
	if (d->readonly)
		return -EROFS;
	return prep_rw(d, t, iov, n, offset, op, true);
}

int disk_prep_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	struct io_uring_sqe *sqe;

	/* Nothing to make durable: this process never wrote to it. */
	if (d->null || d->readonly)
		return 1;
	sqe = get_sqe(t, op);
	if (!sqe)
		return -EBUSY;
	/* fdatasync, issued now: it covers every write already completed,
	 * and (even with O_DIRECT) flushes the device's volatile cache and
	 * the metadata of newly allocated blocks. */
	io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
	iothread_fixed_file(t, sqe);
	return 0;
}

static int prep_fallocate(struct disk *d, struct iothread *t, int mode, uint64_t offset,
			  uint64_t len, struct io_op *op)
{
	struct io_uring_sqe *sqe;

	if (d->readonly)
		return -EROFS;
	if (d->null)
		return 1;
	if (!len)
		return 1;	/* the kernel refuses length 0; there is nothing to do */
	sqe = get_sqe(t, op);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, d->fd, mode, (off_t)offset, (off_t)len);
	iothread_fixed_file(t, sqe);
	return 0;
}

int disk_prep_discard(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
		      struct io_op *op)
{
	/* A file: frees the blocks. A block device: an unmapping zero-out
	 * (see bdev_can_unmap). Either way the range then reads as zeroes. */
	if (!d->can_discard && !d->null)
		return d->readonly ? -EROFS : -EOPNOTSUPP;
	return prep_fallocate(d, t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len, op);
}

int disk_prep_write_zeroes(struct disk *d, struct iothread *t, uint64_t offset, uint64_t len,
			   struct io_op *op)
{
	if (!d->can_zero && !d->null)
		return d->readonly ? -EROFS : -EOPNOTSUPP;
	return prep_fallocate(d, t, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len, op);
}

void disk_null_fill(const struct iovec *iov, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

bool disk_iov_aligned(const struct disk *d, const struct iovec *iov, unsigned n,
		      uint64_t offset)
{
	uint64_t lmask = d->block_size - 1, mmask = d->mem_align - 1;
	unsigned i;

	if (!d->direct)
		return true;
	if (offset & lmask)
		return false;
	for (i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base & mmask) || (iov[i].iov_len & lmask))
			return false;
	return true;
}
