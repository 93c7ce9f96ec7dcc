// SPDX-License-Identifier: Apache-2.0
/* The disk backend: --disk parsing, open errors, locks, O_DIRECT fallback,
 * and real I/O through an I/O thread against temp files. */
#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "virtio/disk.h"
#include "vmm/err.h"

#define OPTS(...) { .queue_size = 256, __VA_ARGS__ }

static const struct {
	const char *in;
	struct disk_opts want;
} good[] = {
	{ "path=x.img", OPTS(.path = "x.img") },
	{ "null=1G", OPTS(.null_size = 1ULL << 30) },
	{ "null=512", OPTS(.null_size = 512) },
	{ "path=a,,b.img,iface=scsi", OPTS(.path = "a,b.img", .iface = DISK_IFACE_SCSI) },
	{ "path=x,,", OPTS(.path = "x,") },
	{ "path=x,,,iface=scsi", OPTS(.path = "x,", .iface = DISK_IFACE_SCSI) },
	/* The price of the escape: this is one path, not two options. */
	{ "path=x,,iface=scsi", OPTS(.path = "x,iface=scsi") },
	{ "path=a=b", OPTS(.path = "a=b") },
	{ "iface=blk,path=y", OPTS(.path = "y") },
	{ "path=x,queues=4,queue_size=128,readonly=on,cache=writeback,serial=ABC-123 x,"
	  "iothreads=2,poll_us=50,iface=blk",
	  { .path = "x", .queues = 4, .queue_size = 128, .readonly = true,
	    .cache = DISK_CACHE_WRITEBACK, .serial = "ABC-123 x", .iothreads = 2, .poll_us = 50 } },
	{ "path=x,queues=1,queue_size=2,readonly=off,cache=none,iothreads=64,poll_us=0",
	  { .path = "x", .queues = 1, .queue_size = 2, .iothreads = 64 } },
	{ "path=x,queues=64,queue_size=1024,poll_us=1000000,serial=12345678901234567890",
	  { .path = "x", .queues = 64, .queue_size = 1024, .poll_us = 1000000,
	    .serial = "12345678901234567890" } },
};

static void str_eq(const char *what, const char *got, const char *want)
{
	if (!want)
		ck_assert_msg(!got, "%s: got '%s', want none", what, got);
	else
		ck_assert_msg(got && !strcmp(got, want), "%s: got '%s', want '%s'", what,
			      got ? got : "(none)", want);
}

START_TEST(parse_good)
{
	const struct disk_opts *w = &good[_i].want;
	struct disk_opts o;

	ck_assert_msg(disk_opts_parse(good[_i].in, &o) == 0, "'%s': %s", good[_i].in, err_msg());
	str_eq("path", o.path, w->path);
	str_eq("serial", o.serial, w->serial);
	ck_assert_uint_eq(o.null_size, w->null_size);
	ck_assert_int_eq(o.iface, w->iface);
	ck_assert_uint_eq(o.queues, w->queues);
	ck_assert_uint_eq(o.queue_size, w->queue_size);
	ck_assert_int_eq(o.readonly, w->readonly);
	ck_assert_int_eq(o.cache, w->cache);
	ck_assert_uint_eq(o.iothreads, w->iothreads);
	ck_assert_uint_eq(o.poll_us, w->poll_us);
	disk_opts_free(&o);
}
END_TEST

static const struct { const char *in, *msg; } bad_opts[] = {
	{ "", "--disk: empty value" },
	{ "iface=blk", "--disk 'iface=blk': expected path=FILE or null=SIZE" },
	{ "path=x,null=1G", "path= and null= exclude each other" },
	{ "path=x,path=y", "--disk path=y: path given twice" },
	{ "path=x,queue_size=256,queue_size=256", "--disk queue_size=256: queue_size given twice" },
	{ "path=x,foo=1", "--disk foo=1: unknown key 'foo'" },
	{ "path=x,Path=y", "unknown key 'Path'" },
	{ "path=x,queues", "--disk queues: missing value (expected queues=VALUE)" },
	{ "path=x,queues=", "--disk queues=: missing value" },
	{ "path=", "--disk path=: missing value" },
	{ "path=x,", "empty option" },
	{ ",path=x", "empty option" },
	{ "path=x,iface=virtio", "--disk iface=virtio: expected blk or scsi" },
	{ "path=x,queues=0", "--disk queues=0: expected a number from 1 to 64" },
	{ "path=x,queues=65", "--disk queues=65: expected a number from 1 to 64" },
	{ "path=x,queues=-1", "--disk queues=-1: expected a number from 1 to 64" },
	{ "path=x,queues=2x", "--disk queues=2x: expected a number from 1 to 64" },
	{ "path=x,queue_size=3", "--disk queue_size=3: expected a power of two from 2 to 1024" },
	{ "path=x,queue_size=1", "--disk queue_size=1: expected a power of two from 2 to 1024" },
	{ "path=x,queue_size=0", "--disk queue_size=0: expected a power of two" },
	{ "path=x,queue_size=2048", "--disk queue_size=2048: expected a power of two" },
	{ "path=x,readonly=yes", "--disk readonly=yes: expected on or off" },
	{ "path=x,readonly=ON", "--disk readonly=ON: expected on or off" },
	{ "path=x,cache=directsync", "--disk cache=directsync: expected none or writeback" },
	{ "path=x,serial=123456789012345678901", "--disk serial=123456789012345678901: expected "
	  "at most 20 printable ASCII characters" },
	{ "path=x,serial=a\tb", "expected at most 20 printable ASCII characters" },
	{ "path=x,serial=caf\xc3\xa9", "expected at most 20 printable ASCII characters" },
	{ "path=x,iothreads=0", "--disk iothreads=0: expected a number from 1 to 64" },
	{ "path=x,iothreads=65", "--disk iothreads=65: expected a number from 1 to 64" },
	{ "path=x,poll_us=1000001", "--disk poll_us=1000001: expected a number of microseconds "
	  "from 0 to 1000000" },
	{ "path=x,poll_us=fast", "--disk poll_us=fast: expected a number of microseconds" },
	{ "null=1000", "--disk null=1000: expected a non-zero size in bytes, a multiple of 512" },
	{ "null=0", "--disk null=0: expected a non-zero size" },
	{ "null=big", "--disk null=big: expected a non-zero size" },
};

START_TEST(parse_bad)
{
	struct disk_opts o;

	err_clear();
	ck_assert_msg(disk_opts_parse(bad_opts[_i].in, &o) < 0, "'%s' should be refused",
		      bad_opts[_i].in);
	ck_assert_msg(strstr(err_msg(), bad_opts[_i].msg), "'%s': message '%s' lacks '%s'",
		      bad_opts[_i].in, err_msg(), bad_opts[_i].msg);
	ck_assert_msg(!strchr(err_msg(), '\n'), "message must be one line");
	ck_assert_ptr_null(o.path);
	ck_assert_ptr_null(o.serial);
}
END_TEST

/* Temp images: one under /tmp (a real disk: O_DIRECT) per test. */
static char img[64];

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

static void setup(void)
{
	snprintf(img, sizeof(img), "/tmp/kite-test-disk-%d.img", (int)getpid());
	make_file(img, 4 << 20);
}

static void teardown(void)
{
	unlink(img);
}

static int open_disk(struct disk *d, const char *arg)
{
	struct disk_opts o;
	char buf[256];
	int r;

	snprintf(buf, sizeof(buf), "%s", arg);
	ck_assert_msg(disk_opts_parse(buf, &o) == 0, "%s", err_msg());
	err_clear();
	r = disk_open(d, &o);
	disk_opts_free(&o);
	return r;
}

static int open_path(struct disk *d, const char *path, const char *extra)
{
	char arg[256];

	snprintf(arg, sizeof(arg), "path=%s%s", path, extra);
	return open_disk(d, arg);
}

START_TEST(open_errors)
{
	char want[160], odd[80];
	struct disk d;

	ck_assert_int_lt(open_path(&d, "/tmp/kite-no-such-image.img", ""), 0);
	ck_assert_str_eq(err_msg(), "--disk path=/tmp/kite-no-such-image.img: cannot open: "
			 "No such file or directory");

	snprintf(odd, sizeof(odd), "%s.odd", img);
	make_file(odd, 1000);
	ck_assert_int_lt(open_path(&d, odd, ""), 0);
	snprintf(want, sizeof(want), "--disk path=%s: size 1000 bytes is not a multiple of 512", odd);
	ck_assert_str_eq(err_msg(), want);
	unlink(odd);

	ck_assert_int_lt(open_path(&d, "/tmp", ",readonly=on"), 0);
	ck_assert_str_eq(err_msg(), "--disk path=/tmp: is a directory; expected a regular file "
			 "or a block device");
	ck_assert_int_lt(open_path(&d, "/tmp", ""), 0);
	ck_assert_str_eq(err_msg(), "--disk path=/tmp: cannot open: Is a directory");
	ck_assert_int_lt(open_path(&d, "/dev/null", ",readonly=on"), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "is a special file"));
}
END_TEST

START_TEST(locks)
{
	struct disk a, b, c;
	char want[160];

	snprintf(want, sizeof(want), "--disk path=%s: image is in use by another process "
		 "(lock held)", img);
	ck_assert_int_eq(open_path(&a, img, ""), 0);
	ck_assert_int_lt(open_path(&b, img, ""), 0);
	ck_assert_str_eq(err_msg(), want);
	ck_assert_int_lt(open_path(&b, img, ",readonly=on"), 0);
	ck_assert_str_eq(err_msg(), want);

	/* Handing over (migration): unlock, the other side locks. */
	ck_assert_int_eq(disk_unlock(&a), 0);
	ck_assert_int_eq(open_path(&b, img, ""), 0);
	ck_assert_int_lt(disk_lock(&a), 0);
	ck_assert_str_eq(err_msg(), want);
	disk_close(&b);
	ck_assert_int_eq(disk_lock(&a), 0);
	disk_close(&a);

	/* Readers share; a writer waits for all of them. */
	ck_assert_int_eq(open_path(&a, img, ",readonly=on"), 0);
	ck_assert_int_eq(open_path(&b, img, ",readonly=on"), 0);
	ck_assert_int_lt(open_path(&c, img, ""), 0);
	ck_assert_str_eq(err_msg(), want);
	ck_assert_str_eq(a.serial, b.serial);	/* derived stably from the file */
	ck_assert_uint_eq(strlen(a.serial), 20);
	disk_close(&a);
	disk_close(&b);
	ck_assert_int_eq(open_path(&c, img, ",serial=MY-DISK"), 0);
	ck_assert_str_eq(c.serial, "MY-DISK");
	ck_assert_uint_eq(c.size, 4 << 20);
	disk_close(&c);
}
END_TEST

/* Run disk_open with stderr captured into out. */
static int open_capturing(struct disk *d, const char *path, char *out, size_t len)
{
	char cap[64];
	int saved, fd, r;
	ssize_t n;

	snprintf(cap, sizeof(cap), "/tmp/kite-test-stderr-%d", (int)getpid());
	fd = open(cap, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	r = open_path(d, path, "");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(cap);
	return r;
}

START_TEST(direct_fallback)
{
	char path[64], out[256], want[200];
	struct disk d;
	int m;

	/* hugetlbfs has no O_DIRECT (tmpfs has it since Linux 6.6). */
	m = memfd_create("kite-test", MFD_HUGETLB | MFD_CLOEXEC);
	if (m < 0)
		return;	/* no hugetlbfs here */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
	ck_assert_msg(open_capturing(&d, path, out, sizeof(out)) == 0, "%s", err_msg());
	snprintf(want, sizeof(want), "kite: --disk path=%s: O_DIRECT not supported here; using "
		 "the page cache (cache=writeback)\n", path);
	ck_assert_str_eq(out, want);
	ck_assert(!d.direct);
	ck_assert_uint_eq(d.mem_align, 1);
	disk_close(&d);
	close(m);

	/* cache=writeback never tries O_DIRECT. */
	ck_assert_int_eq(open_path(&d, img, ",cache=writeback"), 0);
	ck_assert(!d.direct);
	disk_close(&d);
}
END_TEST

/* Requests run on the I/O thread through iothread_call. */
enum kind { RD, WR, FLUSH, DISCARD, ZEROES };

struct req {
	struct io_op op;
	enum kind kind;
	struct iovec iov[2];
	unsigned niov;
	uint64_t off, len;
	int prep;
	int res;
	atomic_int done;
};

struct batch {
	struct disk *d;
	struct iothread *t;
	struct req *r;
	unsigned n;
};

static void req_complete(struct io_op *op, int res, uint32_t flags)
{
	struct req *r = (struct req *)op;

	(void)flags;
	r->res = res;
	atomic_store(&r->done, 1);
}

static void prep_batch(void *opaque)
{
	struct batch *b = opaque;
	unsigned i;

	for (i = 0; i < b->n; i++) {
		struct req *r = &b->r[i];

		r->op.complete = req_complete;
		switch (r->kind) {
		case RD: r->prep = disk_prep_readv(b->d, b->t, r->iov, r->niov, r->off, &r->op); break;
		case WR: r->prep = disk_prep_writev(b->d, b->t, r->iov, r->niov, r->off, &r->op); break;
		case FLUSH: r->prep = disk_prep_flush(b->d, b->t, &r->op); break;
		case DISCARD: r->prep = disk_prep_discard(b->d, b->t, r->off, r->len, &r->op); break;
		case ZEROES: r->prep = disk_prep_write_zeroes(b->d, b->t, r->off, r->len, &r->op); break;
		}
		if (r->prep)	/* not queued: no CQE will come */
			atomic_store(&r->done, 1);
	}
}

/* Queue n requests in one batch and wait for all of them. */
static void run(struct disk *d, struct iothread *t, struct req *r, unsigned n)
{
	struct batch b = { d, t, r, n };
	unsigned i, ms;

	ck_assert_int_eq(iothread_call(t, prep_batch, &b), 0);
	for (i = 0; i < n; i++) {
		for (ms = 0; ms < 10000 && !atomic_load(&r[i].done); ms++) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
		ck_assert_msg(atomic_load(&r[i].done), "request %u never completed", i);
	}
}

static struct iothread *new_thread(void)
{
	struct iothread_opts o = { .name = "kite-disktest", .entries = 32, .numa_node = -1 };
	struct iothread *t;

	ck_assert_msg(iothread_create(&t, &o) == 0, "%s", err_msg());
	return t;
}

static struct iothread *start_thread(void)
{
	struct iothread *t = new_thread();

	ck_assert_int_eq(iothread_start(t), 0);
	return t;
}

#define NREQ	64
#define STRIDE	61440	/* 15 blocks of 4 KiB: offsets spread over the image */

static unsigned char pattern(unsigned req, size_t byte)
{
	return (unsigned char)(req * 7 + byte * 13 + 1);
}

/* fixed: the image's fds go into the ring's fixed-file table, then their
 * numbers are pointed at /dev/null: only requests that name the table
 * still reach the image (reads of /dev/null return 0 bytes). */
static void read_write_verify_how(const char *path, const char *extra, bool fixed)
{
	struct iothread *t = fixed ? new_thread() : start_thread();
	unsigned char *wbuf, *rbuf;
	struct req *r = calloc(NREQ, sizeof(*r));
	struct disk d;
	unsigned i;
	size_t j;

	ck_assert_msg(open_path(&d, path, extra) == 0, "%s", err_msg());
	if (fixed) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		ck_assert_int_eq(iothread_register_file(t, d.fd), 0);
		if (d.buffered_fd >= 0)
			ck_assert_int_eq(iothread_register_file(t, d.buffered_fd), 0);
		ck_assert_int_eq(iothread_start(t), 0);
		ck_assert_int_ge(dup2(nul, d.fd), 0);
		if (d.buffered_fd >= 0)
			ck_assert_int_ge(dup2(nul, d.buffered_fd), 0);
		close(nul);
		/* After the start, the table is closed to newcomers. */
		ck_assert_int_eq(iothread_register_file(t, 0), 0);
	}
	ck_assert(posix_memalign((void **)&wbuf, 4096, NREQ * 4096) == 0);
	ck_assert(posix_memalign((void **)&rbuf, 4096, NREQ * 4096) == 0);
	memset(rbuf, 0xaa, NREQ * 4096);
	/* Writes: two iovecs each, uneven split (512 + 3584), one batch. */
	for (i = 0; i < NREQ; i++) {
		for (j = 0; j < 4096; j++)
			wbuf[i * 4096 + j] = pattern(i, j);
		r[i] = (struct req){ .kind = WR, .niov = 2, .off = (uint64_t)i * STRIDE };
		r[i].iov[0] = (struct iovec){ wbuf + i * 4096, 512 };
		r[i].iov[1] = (struct iovec){ wbuf + i * 4096 + 512, 3584 };
		ck_assert(disk_iov_aligned(&d, r[i].iov, 2, r[i].off));
	}
	run(&d, t, r, NREQ);
	for (i = 0; i < NREQ; i++) {
		ck_assert_int_eq(r[i].prep, 0);
		ck_assert_int_eq(r[i].res, 4096);
	}
	r[0] = (struct req){ .kind = FLUSH };
	run(&d, t, r, 1);
	ck_assert_int_eq(r[0].prep, 0);
	ck_assert_int_eq(r[0].res, 0);
	/* Reads: the other split (2048 + 2048). */
	for (i = 0; i < NREQ; i++) {
		r[i] = (struct req){ .kind = RD, .niov = 2, .off = (uint64_t)i * STRIDE };
		r[i].iov[0] = (struct iovec){ rbuf + i * 4096, 2048 };
		r[i].iov[1] = (struct iovec){ rbuf + i * 4096 + 2048, 2048 };
	}
	run(&d, t, r, NREQ);
	for (i = 0; i < NREQ; i++)
		ck_assert_int_eq(r[i].res, 4096);
	ck_assert_msg(!memcmp(wbuf, rbuf, NREQ * 4096), "read back differs");

	/* Discard and write-zeroes where the file system has them. */
	r[0] = (struct req){ .kind = DISCARD, .off = 0, .len = 4096 };
	r[1] = (struct req){ .kind = ZEROES, .off = STRIDE, .len = 4096 };
	run(&d, t, r, 2);
	ck_assert_int_eq(r[0].prep, d.can_discard ? 0 : -EOPNOTSUPP);
	ck_assert_int_eq(r[1].prep, d.can_zero ? 0 : -EOPNOTSUPP);
	ck_assert_int_eq(r[0].res, 0);
	ck_assert_int_eq(r[1].res, 0);
	memset(rbuf, 0xaa, 3 * 4096);
	for (i = 0; i < 3; i++) {
		r[i] = (struct req){ .kind = RD, .niov = 1, .off = (uint64_t)i * STRIDE };
		r[i].iov[0] = (struct iovec){ rbuf + i * 4096, 4096 };
	}
	run(&d, t, r, 3);
	for (j = 0; j < 4096; j++) {
		ck_assert_uint_eq(rbuf[j], d.can_discard ? 0 : pattern(0, j));
		ck_assert_uint_eq(rbuf[4096 + j], d.can_zero ? 0 : pattern(1, j));
		ck_assert_uint_eq(rbuf[8192 + j], pattern(2, j));	/* untouched */
	}
	iothread_destroy(t);
	disk_close(&d);
	free(wbuf);
	free(rbuf);
	free(r);
}

static void read_write_verify(const char *path, const char *extra)
{
	read_write_verify_how(path, extra, false);
}

START_TEST(io_fixed_files)
{
	read_write_verify_how(img, "", true);
	read_write_verify_how(img, ",cache=writeback", true);
}
END_TEST

START_TEST(io_tmp_direct)
{
	struct disk d;

	read_write_verify(img, "");
	ck_assert_int_eq(open_path(&d, img, ""), 0);
	ck_assert(d.direct);	/* /tmp is a real file system here */
	ck_assert_uint_eq(d.block_size % 512, 0);
	ck_assert_uint_ge(d.phys_block_size, d.block_size);
	disk_close(&d);
}
END_TEST

START_TEST(io_tmp_writeback)
{
	read_write_verify(img, ",cache=writeback");
}
END_TEST

START_TEST(io_shm)
{
	char shm[64];

	snprintf(shm, sizeof(shm), "/dev/shm/kite-test-disk-%d.img", (int)getpid());
	make_file(shm, 4 << 20);
	read_write_verify(shm, "");
	unlink(shm);
}
END_TEST

START_TEST(alignment_check)
{
	struct disk d;
	char *buf;
	struct iovec iov;

	ck_assert_int_eq(open_path(&d, img, ""), 0);
	ck_assert(d.direct);
	ck_assert(posix_memalign((void **)&buf, 4096, 8192) == 0);
	iov = (struct iovec){ buf, 4096 };
	ck_assert(disk_iov_aligned(&d, &iov, 1, 0));
	ck_assert(!disk_iov_aligned(&d, &iov, 1, 100));
	iov.iov_len = 100;
	ck_assert(!disk_iov_aligned(&d, &iov, 1, 0));
	iov = (struct iovec){ buf + 1, 4096 };
	if (d.mem_align > 1)
		ck_assert(!disk_iov_aligned(&d, &iov, 1, 0));
	disk_close(&d);
	ck_assert_int_eq(open_path(&d, img, ",cache=writeback"), 0);
	ck_assert(disk_iov_aligned(&d, &iov, 1, 3));
	disk_close(&d);
	free(buf);
}
END_TEST

/* A misaligned buffer on an O_DIRECT disk still reads and writes the
 * right bytes (through the page-cache fd), coherent with direct I/O. */
START_TEST(misaligned_on_direct)
{
	struct iothread *t = start_thread();
	struct req r[2];
	struct disk d;
	unsigned char *buf, *odd;
	size_t j;

	ck_assert_int_eq(open_path(&d, img, ""), 0);
	ck_assert(d.direct);
	ck_assert_int_ge(d.buffered_fd, 0);
	ck_assert(posix_memalign((void **)&buf, 4096, 3 * 4096) == 0);
	odd = buf + 4096 + 8;	/* not aligned for O_DIRECT memory */
	for (j = 0; j < 4096; j++)
		odd[j] = pattern(5, j);
	r[0] = (struct req){ .kind = WR, .niov = 1, .off = 8192 };
	r[0].iov[0] = (struct iovec){ odd, 4096 };
	if (d.mem_align > 1)
		ck_assert(!disk_iov_aligned(&d, r[0].iov, 1, r[0].off));
	run(&d, t, r, 1);
	ck_assert_int_eq(r[0].prep, 0);
	ck_assert_int_eq(r[0].res, 4096);
	/* Read it back aligned (O_DIRECT) and misaligned (page cache). */
	memset(buf, 0, 4096);
	memset(odd, 0, 4096);
	r[0] = (struct req){ .kind = RD, .niov = 1, .off = 8192 };
	r[0].iov[0] = (struct iovec){ buf, 4096 };
	r[1] = (struct req){ .kind = RD, .niov = 1, .off = 8192 };
	r[1].iov[0] = (struct iovec){ odd, 4096 };
	run(&d, t, r, 2);
	ck_assert_int_eq(r[0].res, 4096);
	ck_assert_int_eq(r[1].res, 4096);
	for (j = 0; j < 4096; j++) {
		ck_assert_uint_eq(buf[j], pattern(5, j));
		ck_assert_uint_eq(odd[j], pattern(5, j));
	}
	iothread_destroy(t);
	disk_close(&d);
	ck_assert_int_eq(d.buffered_fd, -1);
	free(buf);
}
END_TEST

START_TEST(readonly_refuses_writes)
{
	struct iothread *t = start_thread();
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct req r[5] = {
		{ .kind = WR, .niov = 1 }, { .kind = DISCARD, .len = 512 },
		{ .kind = ZEROES, .len = 512 }, { .kind = FLUSH }, { .kind = RD, .niov = 1 },
	};
	struct disk d;

	r[0].iov[0] = iov;
	r[4].iov[0] = iov;
	ck_assert_int_eq(open_path(&d, img, ",readonly=on,cache=writeback"), 0);
	ck_assert(!d.can_discard && !d.can_zero);
	run(&d, t, r, 5);
	ck_assert_int_eq(r[0].prep, -EROFS);
	ck_assert_int_eq(r[1].prep, -EROFS);
	ck_assert_int_eq(r[2].prep, -EROFS);
	ck_assert_int_eq(r[3].prep, 1);		/* nothing written, nothing to flush */
	ck_assert_int_eq(r[4].prep, 0);
	ck_assert_int_eq(r[4].res, 512);
	iothread_destroy(t);
	disk_close(&d);
}
END_TEST

START_TEST(null_backend)
{
	unsigned char a[1000], b[24];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct io_op op = { 0 };
	struct disk d;
	size_t i;

	ck_assert_int_eq(open_disk(&d, "null=1G"), 0);
	ck_assert(d.null);
	ck_assert_int_eq(d.fd, -1);
	ck_assert_uint_eq(d.size, 1ULL << 30);
	ck_assert_str_eq(d.serial, "kite-null");
	/* Nothing touches a ring: no thread needed. */
	ck_assert_int_eq(disk_prep_readv(&d, NULL, iov, 2, 0, &op), 1);
	ck_assert_int_eq(disk_prep_writev(&d, NULL, iov, 2, 512, &op), 1);
	ck_assert_int_eq(disk_prep_flush(&d, NULL, &op), 1);
	ck_assert_int_eq(disk_prep_discard(&d, NULL, 0, 4096, &op), 1);
	ck_assert_int_eq(disk_prep_write_zeroes(&d, NULL, 0, 4096, &op), 1);
	ck_assert_int_eq(disk_prep_readv(&d, NULL, iov, 0, 0, &op), -EINVAL);
	ck_assert_int_eq(disk_prep_readv(&d, NULL, iov, DISK_MAX_IOV + 1, 0, &op), -EINVAL);
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	disk_null_fill(iov, 2);
	for (i = 0; i < sizeof(a); i++)
		ck_assert_uint_eq(a[i], 0);
	for (i = 0; i < sizeof(b); i++)
		ck_assert_uint_eq(b[i], 0);
	ck_assert_int_eq(disk_unlock(&d), 0);
	ck_assert_int_eq(disk_lock(&d), 0);
	disk_close(&d);

	ck_assert_int_eq(open_disk(&d, "null=4K,readonly=on,serial=N1"), 0);
	ck_assert_str_eq(d.serial, "N1");
	ck_assert_int_eq(disk_prep_writev(&d, NULL, iov, 2, 0, &op), -EROFS);
	ck_assert_int_eq(disk_prep_discard(&d, NULL, 0, 512, &op), -EROFS);
	ck_assert_int_eq(disk_prep_readv(&d, NULL, iov, 2, 0, &op), 1);
	disk_close(&d);
}
END_TEST

Suite *disk_suite(void)
{
	Suite *s = suite_create("disk");
	TCase *parse = tcase_create("parse");
	TCase *tc = tcase_create("image");

	tcase_add_loop_test(parse, parse_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(parse, parse_bad, 0, sizeof(bad_opts) / sizeof(bad_opts[0]));
	suite_add_tcase(s, parse);

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, open_errors);
	tcase_add_test(tc, locks);
	tcase_add_test(tc, direct_fallback);
	tcase_add_test(tc, io_tmp_direct);
	tcase_add_test(tc, io_tmp_writeback);
	tcase_add_test(tc, io_fixed_files);
	tcase_add_test(tc, io_shm);
	tcase_add_test(tc, alignment_check);
	tcase_add_test(tc, misaligned_on_direct);
	tcase_add_test(tc, readonly_refuses_writes);
	tcase_add_test(tc, null_backend);
	suite_add_tcase(s, tc);
	return s;
}
