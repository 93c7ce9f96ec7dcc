// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot stream (vmm/snapshot.h) on a small fake VM: two RAM regions
 * with zero and non-zero pages, a state tree. A round trip through a file
 * and through a pipe, and every refusal: bad magic, another version, a
 * stream cut at every section boundary and inside sections, flipped bytes
 * in each part, a VM of another shape.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/state_util.h"
#include "vmm/crc32c.h"
#include "vmm/err.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"

/* Region 0: 3 MiB + 3 pages (two whole chunks and a short one);
 * region 1: 64 KiB at 4 GiB. */
#define R0_SIZE	((3ULL << 20) + 3 * 4096)
#define R1_GPA	(4ULL << 30)
#define R1_SIZE	(64ULL << 10)

static struct split_ram src, dst;
static struct snap_shape shape;
static const char test_args[] = "--cpus\0" "2\0" "--disk\0" "path=/tmp/a.img,iface=scsi";
static void *tree;
static size_t tree_len;
static int fd;

static void setup(void)
{
	struct state_tree st;

	split_ram_init(&src, R0_SIZE, R1_GPA, R1_SIZE);
	split_ram_init(&dst, R0_SIZE, R1_GPA, R1_SIZE);
	/* Non-zero pages here and there, runs and singles, in both regions;
	 * one page with a single non-zero byte at its very end. */
	for (uint64_t p = 0; p < R0_SIZE / 4096; p++)
		if (p % 3 == 0 || (p > 100 && p < 140))
			memset(src.ram + p * 4096, (int)(p * 13 + 1), 4096);
	src.ram[50 * 4096 + 4095] = 0x77;
	memset(src.ram + R0_SIZE + 4096, 0xab, 4096);

	memset(&shape, 0, sizeof(shape));
	snapshot_shape_mem(&shape, &src.mem);
	shape.ncpus = 2;
	shape.ndevices = 2;
	strcpy(shape.devices[0].kind, "virtio-blk");
	strcpy(shape.devices[0].opts, "slot=1 type=2 queues=2");
	strcpy(shape.devices[1].kind, "virtio-net");
	strcpy(shape.devices[1].opts, "slot=2 type=1 queues=3");
	shape.args = test_args;
	shape.args_len = sizeof(test_args);

	ck_assert_int_eq(state_begin(&st), 0);
	state_put_u32(&st, state_add_node(&st, 0, "dev@0"), "x", 1234);
	tree = state_copy(&st, &tree_len);
	state_free(&st);

	fd = memfd_create("kite-test-snapshot", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(snapshot_write_fd(fd, &shape, &src.mem, tree, tree_len), 0);
}

static void teardown(void)
{
	close(fd);
	free(tree);
	free(src.ram);
	free(dst.ram);
}

static off_t stream_len(void)
{
	return lseek(fd, 0, SEEK_END);
}

/* Read the stream (as it is in fd now) into dst against `expect`. */
static int load(const struct snap_shape *expect, bool fresh, void **t, size_t *len)
{
	lseek(fd, 0, SEEK_SET);
	return snapshot_read_fd(fd, expect, &dst.mem, fresh, t, len);
}

static int load_simple(void)
{
	void *t = NULL;
	size_t len;
	int r = load(&shape, true, &t, &len);

	free(t);
	return r;
}

static uint8_t byte_at(off_t off)
{
	uint8_t b;

	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	return b;
}

static void flip(off_t off)
{
	uint8_t b = byte_at(off) ^ 0x20;

	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
}

/* Offsets where each part of the stream starts, and the end. */
static unsigned boundaries(off_t *at, unsigned max)
{
	uint8_t h[16];
	off_t off, end = stream_len();
	unsigned n = 0;

	ck_assert_int_eq(pread(fd, h, 16, 0), 16);
	at[n++] = 0;
	off = h[12] | h[13] << 8 | h[14] << 16 | (off_t)h[15] << 24;
	while (off < end && n < max) {
		uint64_t len;

		at[n++] = off;
		ck_assert_int_eq(pread(fd, h, 16, off), 16);
		memcpy(&len, h + 8, 8);
		off += 16 + len + 4;
	}
	ck_assert_int_eq(off, end);
	at[n++] = end;
	return n;
}

START_TEST(round_trip)
{
	void *t = NULL;
	size_t len;

	ck_assert_int_eq(load(&shape, true, &t, &len), 0);
	ck_assert_uint_eq(len, tree_len);
	ck_assert_mem_eq(t, tree, len);
	ck_assert_int_eq(memcmp(dst.ram, src.ram, R0_SIZE + R1_SIZE), 0);
	free(t);
	/* Into memory that is not fresh: zero pages are cleared. */
	memset(dst.ram, 0x5a, R0_SIZE + R1_SIZE);
	ck_assert_int_eq(load(&shape, false, &t, &len), 0);
	ck_assert_int_eq(memcmp(dst.ram, src.ram, R0_SIZE + R1_SIZE), 0);
	free(t);
}
END_TEST

START_TEST(zero_pages_are_markers)
{
	uint64_t nonzero = 0;

	for (uint64_t p = 0; p < (R0_SIZE + R1_SIZE) / 4096; p++) {
		const uint8_t *pg = src.ram + p * 4096;

		for (unsigned i = 0; i < 4096; i++)
			if (pg[i]) {
				nonzero++;
				break;
			}
	}
	/* Only non-zero pages travel: the stream is their bytes plus
	 * headers, bitmaps and checksums, a few KiB. */
	ck_assert_uint_lt(nonzero * 4096, R0_SIZE / 2);
	ck_assert_int_ge(stream_len(), (off_t)(nonzero * 4096 + tree_len));
	ck_assert_int_lt(stream_len(), (off_t)(nonzero * 4096 + tree_len + 8192));
}
END_TEST

START_TEST(header_layout)
{
	uint8_t h[64];

	ck_assert_int_eq(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	ck_assert_mem_eq(h, "KITESNAP", 8);
	ck_assert_uint_eq(h[8], SNAP_VERSION);
	ck_assert_uint_eq(h[24], 2);			/* vCPUs */
	ck_assert_uint_eq(h[28], 2);			/* regions */
	ck_assert_uint_eq(h[32 + 16 + 4], 1);		/* region 1 gpa, byte 4: 4 GiB */
	/* After the header, the command-line section, then RAM at gpa 0. */
	{
		uint8_t s[32];
		off_t off = h[12] | h[13] << 8;

		ck_assert_int_eq(pread(fd, s, sizeof(s), off), (ssize_t)sizeof(s));
		ck_assert_mem_eq(s, "ARGS", 4);
		ck_assert_uint_eq(s[8], sizeof(test_args));
		off += 16 + sizeof(test_args) + 4;
		ck_assert_int_eq(pread(fd, s, sizeof(s), off), (ssize_t)sizeof(s));
		ck_assert_mem_eq(s, "RAM ", 4);
		ck_assert_uint_eq(s[16], 0);
		ck_assert_uint_eq(s[24] | s[25] << 8, 512);	/* pages in the chunk */
	}
}
END_TEST

static void *pipe_writer(void *arg)
{
	int wfd = *(int *)arg;

	snapshot_write_fd(wfd, &shape, &src.mem, tree, tree_len);
	close(wfd);
	return NULL;
}

START_TEST(through_a_pipe)
{
	int p[2];
	pthread_t th;
	void *t = NULL;
	size_t len;

	/* Short reads and writes, as on a socket. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, pipe_writer, &p[1]), 0);
	ck_assert_int_eq(snapshot_read_fd(p[0], &shape, &dst.mem, true, &t, &len), 0);
	pthread_join(th, NULL);
	close(p[0]);
	ck_assert_int_eq(memcmp(dst.ram, src.ram, R0_SIZE + R1_SIZE), 0);
	ck_assert_mem_eq(t, tree, tree_len);
	free(t);
}
END_TEST

START_TEST(bad_magic_and_version)
{
	flip(3);
	ck_assert_int_eq(load_simple(), -EINVAL);
	ck_assert_str_eq(err_msg(), "snapshot: not a kite snapshot (bad magic)");
	flip(3);
	flip(8);
	ck_assert_int_eq(load_simple(), -EINVAL);
	ck_assert_str_eq(err_msg(), "snapshot: format version 34, this kite reads version 2");
	flip(8);
	ck_assert_int_eq(load_simple(), 0);
	/* Not a snapshot at all. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, "hello", 5, 0), 5);
	ck_assert_int_eq(load_simple(), -ENODATA);
}
END_TEST

START_TEST(truncated_everywhere)
{
	off_t at[64], full = stream_len();
	unsigned n = boundaries(at, 64);
	uint8_t *copy = malloc(full);

	ck_assert_int_eq(pread(fd, copy, full, 0), full);
	/* header, command line, three RAM sections (512 + 259 pages, 16
	 * pages), tree, end marker, end of stream */
	ck_assert_uint_eq(n, 8);
	for (unsigned i = 0; i + 1 < n; i++) {
		off_t cuts[] = { at[i], at[i] + 1, at[i] + 15, at[i] + 17,
				 (at[i] + at[i + 1]) / 2, at[i + 1] - 1 };

		for (unsigned c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			if (cuts[c] >= at[i + 1])
				continue;
			ck_assert_int_eq(ftruncate(fd, cuts[c]), 0);
			ck_assert_msg(load_simple() == -ENODATA, "cut at %lld: %s",
				      (long long)cuts[c], err_msg());
			ck_assert_ptr_nonnull(strstr(err_msg(), "truncated"));
			ck_assert_int_eq(pwrite(fd, copy, full, 0), full);
		}
	}
	/* Where it says it ended. */
	ck_assert_int_eq(ftruncate(fd, at[n - 2]), 0);
	ck_assert_int_eq(load_simple(), -ENODATA);
	ck_assert_ptr_nonnull(strstr(err_msg(), "ends in the end marker"));
	ck_assert_int_eq(ftruncate(fd, at[n - 3]), 0);
	ck_assert_int_eq(load_simple(), -ENODATA);
	ck_assert_ptr_nonnull(strstr(err_msg(), "ends in the state tree"));
	ck_assert_int_eq(ftruncate(fd, at[2]), 0);
	ck_assert_int_eq(load_simple(), -ENODATA);
	ck_assert_ptr_nonnull(strstr(err_msg(), "ends in RAM"));
	ck_assert_int_eq(ftruncate(fd, at[1] + 3), 0);
	ck_assert_int_eq(load_simple(), -ENODATA);
	ck_assert_ptr_nonnull(strstr(err_msg(), "ends in the command-line section"));
	free(copy);
}
END_TEST

START_TEST(flipped_bytes)
{
	off_t at[64];
	unsigned n = boundaries(at, 64);
	off_t ram_data = at[2] + 16 + 16 + 64 + 10;	/* inside the first page sent */
	off_t tree_data = at[n - 3] + 16 + 40;
	off_t checks[] = { 40, at[1] + 18, ram_data, at[4] - 2, tree_data, at[n - 2] - 1,
			   at[n - 1] - 1 };

	for (unsigned i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		flip(checks[i]);
		ck_assert_msg(load_simple() == -EBADMSG, "flip at %lld: %s",
			      (long long)checks[i], err_msg());
		flip(checks[i]);
	}
	flip(40);
	load_simple();
	ck_assert_str_eq(err_msg(), "snapshot: header checksum mismatch (corrupt)");
	flip(40);
	flip(ram_data);
	load_simple();
	ck_assert_str_eq(err_msg(), "snapshot: checksum mismatch in the RAM section at gpa 0x0 "
			 "(corrupt)");
	flip(ram_data);
	flip(tree_data);
	load_simple();
	ck_assert_str_eq(err_msg(), "snapshot: checksum mismatch in the state tree (corrupt)");
	flip(tree_data);
	/* A flipped bitmap bit no longer matches the section's length. */
	flip(at[2] + 16 + 16);
	ck_assert_int_eq(load_simple(), -EINVAL);
	flip(at[2] + 16 + 16);
	/* A section type nobody knows. */
	flip(at[3]);
	ck_assert_int_eq(load_simple(), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_msg(), "the stream's RAM is incomplete"));
	flip(at[3]);
	ck_assert_int_eq(load_simple(), 0);
}
END_TEST

static const char *refusal(const struct snap_shape *e)
{
	void *t = NULL;
	size_t len;

	ck_assert_int_eq(load(e, true, &t, &len), -EINVAL);
	ck_assert_ptr_null(t);
	return err_msg();
}

START_TEST(other_shapes)
{
	struct snap_shape e = shape;

	e.mem_size = 256ULL << 20;
	ck_assert_str_eq(refusal(&e), "memory size differs: stream 3223552 bytes, this VM 256 MiB");
	e = shape;
	e.regions[1].gpa = 5ULL << 30;
	ck_assert_str_eq(refusal(&e), "memory layout differs: region 1 is 65536 bytes at "
			 "0x100000000 in the stream, 65536 bytes at 0x140000000 in this VM");
	e = shape;
	e.ncpus = 4;
	ck_assert_str_eq(refusal(&e), "vCPU count differs: stream 2, this VM 4");
	e = shape;
	e.ndevices = 1;
	ck_assert_str_eq(refusal(&e), "device list differs: the stream has 2 devices "
			 "(virtio-blk, virtio-net), this VM 1 (virtio-blk)");
	e = shape;
	strcpy(e.devices[1].kind, "virtio-scsi");
	ck_assert_str_eq(refusal(&e), "device list differs: device 1 is virtio-net (slot=2 "
			 "type=1 queues=3) in the stream, virtio-scsi (slot=2 type=1 queues=3) "
			 "in this VM");
	e = shape;
	strcpy(e.devices[0].opts, "slot=1 type=2 queues=4");
	ck_assert_ptr_nonnull(strstr(refusal(&e), "device 0 is virtio-blk (slot=1 type=2 "
				     "queues=2) in the stream, virtio-blk (slot=1 type=2 "
				     "queues=4)"));
	/* Nothing of RAM was read: the header is refused first. */
	{
		uint8_t acc = 0;

		for (size_t i = 0; i < R0_SIZE + R1_SIZE; i++)
			acc |= dst.ram[i];
		ck_assert_uint_eq(acc, 0);
	}
}
END_TEST

START_TEST(writer_refuses_odd_memory)
{
	struct guest_mem m = src.mem;

	m.regions[1].size = 1000;
	ck_assert_int_eq(snapshot_write_fd(fd, &shape, &m, tree, tree_len), -EINVAL);
	m = src.mem;
	m.nregions = 1;
	ck_assert_int_eq(snapshot_write_fd(fd, &shape, &m, tree, tree_len), -EINVAL);
}
END_TEST

START_TEST(args_read_back)
{
	struct snap_shape got;
	char *a = NULL;
	size_t len = 0;

	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(snapshot_read_args_fd(fd, &got, &a, &len), 0);
	ck_assert_uint_eq(len, sizeof(test_args));
	ck_assert_mem_eq(a, test_args, sizeof(test_args));
	ck_assert_uint_eq(got.ncpus, 2);
	ck_assert_str_eq(got.devices[1].kind, "virtio-net");
	free(a);
	/* A section that does not end in NUL is refused. */
	lseek(fd, 0, SEEK_SET);
	{
		off_t at[64];

		boundaries(at, 64);
		flip(at[2] - 5);	/* the last byte of the payload */
		lseek(fd, 0, SEEK_SET);
		ck_assert_int_lt(snapshot_read_args_fd(fd, &got, &a, &len), 0);
	}
}
END_TEST

/* The memfd's holes: pages never written are skipped without a read. */
START_TEST(holes_found_in_a_memfd)
{
	enum { PAGES = 256 };
	int fd = memfd_create("kite-test", MFD_CLOEXEC);
	uint8_t *p;
	uint64_t from, to;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, PAGES * SNAP_PAGE), 0);
	p = mmap(NULL, PAGES * SNAP_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	p[10 * SNAP_PAGE] = 1;		/* data: pages 10-11 and 200 */
	p[11 * SNAP_PAGE + 5] = 2;
	p[200 * SNAP_PAGE] = 3;
	/* Chunk [0, 128): a hole up to 10, data [10, 12). */
	stream_hole_or_data(fd, 0, 0, 128, &from, &to);
	ck_assert_uint_eq(from, 10);
	ck_assert_uint_eq(to, 12);
	/* Past it: no data left in this chunk. */
	stream_hole_or_data(fd, 0, 12, 128, &from, &to);
	ck_assert_uint_eq(from, 128);
	/* Chunk [128, 256) from its page 0: data at page 72 (200) only. */
	stream_hole_or_data(fd, 128 * SNAP_PAGE, 0, 128, &from, &to);
	ck_assert_uint_eq(from, 72);
	ck_assert_uint_eq(to, 73);
	/* Past the last data: all hole to the end of the file. */
	stream_hole_or_data(fd, 128 * SNAP_PAGE, 73, 128, &from, &to);
	ck_assert_uint_eq(from, 128);
	/* Not a memfd at all: everything is data to look at. */
	stream_hole_or_data(-1, 0, 3, 128, &from, &to);
	ck_assert_uint_eq(from, 3);
	ck_assert_uint_eq(to, 128);
	munmap(p, PAGES * SNAP_PAGE);
	close(fd);
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, zero_pages_are_markers);
	tcase_add_test(tc, header_layout);
	tcase_add_test(tc, through_a_pipe);
	tcase_add_test(tc, bad_magic_and_version);
	tcase_add_test(tc, truncated_everywhere);
	tcase_add_test(tc, flipped_bytes);
	tcase_add_test(tc, other_shapes);
	tcase_add_test(tc, writer_refuses_odd_memory);
	tcase_add_test(tc, args_read_back);
	tcase_add_test(tc, holes_found_in_a_memfd);
	suite_add_tcase(s, tc);
	return s;
}
