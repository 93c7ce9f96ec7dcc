// SPDX-License-Identifier: Apache-2.0
/*
 * The receiving end of a live migration, migrate_receive_fd(), against a
 * hostile source. The input is one byte of flags, then what the "source"
 * sends (header, PAGE sections, TREE, END!, GO!!), written into a
 * socketpair by a thread that reads and drops the receiver's answers.
 * Guest memory is two regions (8 pages at 0, 4 at 4 GiB), each between
 * PROT_NONE guard pages, so a write outside the memory given crashes.
 *
 * MIGIN_FIX_CRC: recompute the header's and every section's CRC-32C where
 * the stream's lengths say they are, so the fuzzer gets past them.
 *
 * Checked: 0 or a negative errno with a message; on success the state
 * handed to apply passed state_check (apply walks it). No leak, no access
 * outside the buffers.
 *
 * KITE_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (streams built with
 * kite's own section writers) into DIR and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"
#include "vmm/err.h"
#include "vmm/migrate.h"
#include "vmm/state.h"

#define MIGIN_FIX_CRC	0x01
#define R0_PAGES	8
#define R1_PAGES	4
#define R1_GPA		(4ULL << 30)

static struct guest_mem mem;
static struct snap_shape shape;

/* A region's pages between two inaccessible ones. */
static uint8_t *guarded(size_t pages)
{
	uint8_t *p = mmap(NULL, (pages + 2) * 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	FUZZ_CHECK(p != MAP_FAILED, "mmap");
	FUZZ_CHECK(mprotect(p, 4096, PROT_NONE) == 0, "mprotect");
	FUZZ_CHECK(mprotect(p + (pages + 1) * 4096, 4096, PROT_NONE) == 0, "mprotect");
	return p + 4096;
}

static void init(void)
{
	mem.fd = -1;
	mem.nregions = 2;
	mem.page_size = 4096;
	mem.size = (R0_PAGES + R1_PAGES) * 4096;
	mem.regions[0] = (struct guest_region){ 0, R0_PAGES * 4096, guarded(R0_PAGES), 0 };
	mem.regions[1] = (struct guest_region){ R1_GPA, R1_PAGES * 4096, guarded(R1_PAGES),
						R0_PAGES * 4096 };
	mem.base = mem.regions[0].host;
	memset(&shape, 0, sizeof(shape));
	snapshot_shape_mem(&shape, &mem);
	shape.ncpus = 1;
	shape.ndevices = 1;
	strcpy(shape.devices[0].kind, "virtio-blk");
	strcpy(shape.devices[0].opts, "slot=1 type=2 queues=1");
	signal(SIGPIPE, SIG_IGN);
}

static int d_shape(void *vm, struct snap_shape *s)
{
	(void)vm;
	*s = shape;
	return 0;
}

static int d_apply(void *vm, const void *tree, size_t len)
{
	(void)vm;
	FUZZ_CHECK(len >= 64 && len <= STATE_MAX_SIZE && state_check(tree, len) == 0,
		   "apply got a tree of %zu bytes that fails its check", len);
	state_walk(tree);
	return 0;
}

static int d_take_over(void *vm)
{
	(void)vm;
	return 0;
}

static const struct migrate_dst_ops ops = { d_shape, d_apply, d_take_over };

struct feed {
	int fd;
	const uint8_t *p;
	size_t len;
};

/* The source: send everything, then read (and drop) answers to EOF. */
static void *feeder(void *arg)
{
	struct feed *f = arg;
	uint8_t buf[4096];

	for (size_t done = 0; done < f->len;) {
		ssize_t n = send(f->fd, f->p + done, f->len - done, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		done += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	while (read(f->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

/* ---- seeds ---- */

/* A PAGE section: pages [first, first + n) of region r; `data` and `zero`
 * bitmaps (bit i: page first + i), contents a pattern per page. */
static void page_section(int fd, unsigned r, unsigned first, unsigned n, uint32_t data,
			 uint32_t zero)
{
	uint8_t buf[16 + 16 + 8 + 32 * 4096];
	unsigned bmlen = (n + 7) / 8, nd = 0;
	size_t off = 16 + 16;

	memset(buf, 0, sizeof(buf));
	stream_put64(buf + 16, mem.regions[r].gpa + (uint64_t)first * 4096);
	stream_put32(buf + 24, n);
	stream_put32(buf + 28, 4096);
	for (unsigned i = 0; i < n; i++) {
		if (data >> i & 1)
			buf[off + i / 8] |= 1 << (i % 8);
		if (zero >> i & 1)
			buf[off + bmlen + i / 8] |= 1 << (i % 8);
	}
	off += 2 * bmlen;
	for (unsigned i = 0; i < n; i++)
		if (data >> i & 1) {
			memset(buf + off + (size_t)nd * 4096, 0x11 * (int)(i + 1), 4096);
			nd++;
		}
	/* stream_write_section takes the payload after the 16-byte header. */
	FUZZ_CHECK(stream_write_section(fd, MIG_SEC_PAGE, buf + 16,
					16 + 2 * bmlen + (size_t)nd * 4096, "seed") == 0, "write");
}

static void write_tree(int fd)
{
	struct state_tree st;
	const void *blob;
	size_t len;
	int n;

	FUZZ_CHECK(state_begin(&st) == 0, "state_begin");
	n = state_add_node(&st, 0, "devices");
	state_put_u32(&st, state_add_node(&st, n, "virtio-blk@0"), "status", 15);
	FUZZ_CHECK(state_finish(&st, &blob, &len) == 0, "state_finish");
	FUZZ_CHECK(stream_write_section(fd, SNAP_SEC_TREE, blob, len, "seed") == 0, "write");
	state_free(&st);
}

static void seed(const char *dir, const char *name, uint8_t flags, int kind)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0, "%s", path);
	FUZZ_CHECK(write(fd, &flags, 1) == 1, "write");
	FUZZ_CHECK(stream_write_header(fd, MIG_MAGIC, MIG_VERSION, &shape, "seed") == 0, "hdr");
	if (kind >= 1) {
		/* Iteration 1: everything, some zero; then a dirty page again. */
		page_section(fd, 0, 0, R0_PAGES, 0x5b, 0xa4);
		page_section(fd, 1, 0, R1_PAGES, 0x1, 0xe);
		page_section(fd, 0, 3, 1, 0x1, 0);
	}
	if (kind >= 2) {
		write_tree(fd);
		FUZZ_CHECK(stream_write_section(fd, SNAP_SEC_END, NULL, 0, "seed") == 0, "end");
	}
	if (kind >= 3)
		FUZZ_CHECK(stream_write_section(fd, MIG_SEC_GO, NULL, 0, "seed") == 0, "go");
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("KITE_FUZZ_WRITE_SEEDS");

	(void)argc;
	(void)argv;
	init();
	if (dir) {
		seed(dir, "header-only", 0, 0);
		seed(dir, "pages", 0, 1);
		seed(dir, "no-go", 0, 2);
		seed(dir, "whole", 0, 3);
		seed(dir, "whole-fix-crc", MIGIN_FIX_CRC, 3);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed f;
	pthread_t th;
	uint8_t *stream;
	int sv[2], r;

	if (!size)
		return 0;
	f.len = size - 1;
	stream = malloc(f.len ? f.len : 1);
	FUZZ_CHECK(stream, "%zu bytes", f.len);
	memcpy(stream, data + 1, f.len);
	if (data[0] & MIGIN_FIX_CRC)
		fuzz_fix_stream_crcs(stream, f.len);
	f.p = stream;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	f.fd = sv[0];
	FUZZ_CHECK(pthread_create(&th, NULL, feeder, &f) == 0, "pthread_create");
	for (unsigned i = 0; i < mem.nregions; i++)
		memset(mem.regions[i].host, 0, mem.regions[i].size);
	err_clear();
	r = migrate_receive_fd(sv[1], &ops, NULL, &mem);
	FUZZ_CHECK(r <= 0, "migrate_receive_fd returned %d", r);
	if (r)
		FUZZ_CHECK(err_msg()[0], "refused (%d) without a message", r);
	close(sv[1]);
	pthread_join(th, NULL);
	close(sv[0]);
	free(stream);
	return 0;
}
