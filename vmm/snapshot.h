/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot stream: a VM's RAM and its state tree (vmm/state.h) on a file
 * or a socket, every part checksummed, every read checked.
 *
 * Byte layout (integers little-endian):
 *
 *   Header
 *     0   8   magic "KITESNAP"
 *     8   4   format version (SNAP_VERSION)
 *     12  4   header length H, from offset 0 through the header checksum
 *     16  8   guest RAM size, bytes
 *     24  4   vCPU count
 *     28  4   region count R (1..SNAP_MAX_REGIONS)
 *     32  16R regions: guest-physical address u64, size u64
 *     ..  4   device count D (0..SNAP_MAX_DEVICES)
 *     ..      D devices: u16 length + kind, u16 length + options summary
 *     H-4 4   CRC-32C of bytes [0, H-4)
 *
 *   Sections, each: type u32, reserved u32 (0), payload length u64, the
 *   payload, then CRC-32C u32 of the 16-byte section header and payload.
 *     "ARGS"  right after the header: the options that shape the VM
 *             (--cpus, --memory, --disk, --net), each option and its value
 *             a NUL-terminated string, so `kite run --restore FILE` can
 *             build the same VM without being told again.
 *     "RAM "  gpa u64, page count n u32 (1..SNAP_CHUNK_PAGES), page size
 *             u32 (4096), a bitmap of n bits (bit i set: page i follows;
 *             clear: page i is all zeros and is not sent), then the pages.
 *             RAM sections cover every region in order, chunk after chunk,
 *             with no gap and no overlap.
 *     "TREE"  the state tree (a flattened device tree), after all RAM.
 *     "END!"  empty; the stream's last bytes.
 *
 * The reader checks the header against the destination VM's shape and
 * refuses with a message naming the first difference, then checks each
 * section's type, order, length and checksum; a stream that ends early says
 * where. RAM is read straight into guest memory, so a refused stream may
 * have written some of it: the VM must then be discarded.
 */
#ifndef KITE_VMM_SNAPSHOT_H
#define KITE_VMM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

#define SNAP_MAGIC		"KITESNAP"
#define SNAP_VERSION		2	/* 2: the ARGS section */
#define SNAP_MAX_REGIONS	8
#define SNAP_MAX_DEVICES	64
#define SNAP_KIND_MAX		32	/* bytes of a device kind, with its NUL */
#define SNAP_OPTS_MAX		192	/* bytes of an options summary, with its NUL */
#define SNAP_PAGE		4096u
#define SNAP_CHUNK_PAGES	512u	/* 2 MiB of RAM per section */

#define SNAP_ARGS_MAX		(64u << 10)
#define SNAP_SEC_ARGS		0x53475241u	/* "ARGS" */
#define SNAP_SEC_RAM		0x204d4152u	/* "RAM " */
#define SNAP_SEC_TREE		0x45455254u	/* "TREE" */
#define SNAP_SEC_END		0x21444e45u	/* "END!" */

/* What a stream must agree with: the VM's shape. */
struct snap_shape {
	uint64_t mem_size;
	unsigned nregions;
	struct {
		uint64_t gpa, size;
	} regions[SNAP_MAX_REGIONS];
	unsigned ncpus;
	unsigned ndevices;
	struct {
		char kind[SNAP_KIND_MAX];
		char opts[SNAP_OPTS_MAX];
	} devices[SNAP_MAX_DEVICES];
	/* Written as the ARGS section; not part of the comparison. */
	const char *args;
	size_t args_len;
};

/* The shape of guest memory `mem` (regions and size); devices and vCPUs
 * are the caller's to fill. */
void snapshot_shape_mem(struct snap_shape *s, const struct guest_mem *mem);

/*
 * Write a whole stream to fd: header, RAM of `mem` (whose regions must be
 * those of `shape`), the tree, the end marker. Short writes and EINTR are
 * retried. 0 or -errno with the reason recorded.
 */
int snapshot_write_fd(int fd, const struct snap_shape *shape, const struct guest_mem *mem,
		      const void *tree, size_t tree_len);

/*
 * Read and check a whole stream from fd into `mem` (the destination VM's,
 * shape `expect`). `fresh`: mem is all zeros already (a new VM), so zero
 * pages need not be written. On success *tree (malloc'd, the caller frees)
 * holds a tree that passed state_check().
 */
int snapshot_read_fd(int fd, const struct snap_shape *expect, const struct guest_mem *mem,
		     bool fresh, void **tree, size_t *tree_len);

/*
 * Read only the header and the ARGS section of a snapshot: the shape it
 * was taken with and the options to build that VM again (*args malloc'd,
 * NUL-separated strings, *args_len bytes; the caller frees).
 */
int snapshot_read_args_fd(int fd, struct snap_shape *shape, char **args, size_t *args_len);

/* ---- building blocks shared with the migration stream (vmm/migrate.c, vmm/migrate_dst.c);
 * `who` ("snapshot", "migration") starts every message. ---- */

struct stream_in {
	int fd;
	uint64_t pos;		/* bytes read so far, for messages */
	const char *who;
};

int stream_write_full(int fd, const void *buf, size_t len, const char *who);
/* Exactly len bytes, or an error saying where the stream ended. */
int stream_read_full(struct stream_in *in, void *buf, size_t len, const char *what);
int stream_write_header(int fd, const char *magic, uint32_t version,
			const struct snap_shape *s, const char *who);
int stream_read_header(struct stream_in *in, const char *magic, uint32_t version,
		       struct snap_shape *s);
/* The stream's shape `s` against this VM's `e`; the first difference is
 * named in the message. */
int stream_check_shape(const struct snap_shape *s, const struct snap_shape *e);
int stream_write_section(int fd, uint32_t type, const void *payload, size_t len,
			 const char *who);
/* After a 16-byte section header `sh` was read: its payload (len bytes)
 * into buf, and the checksum over both. */
int stream_read_payload(struct stream_in *in, const uint8_t *sh, void *buf, size_t len,
			const char *what);
/* A 4 KiB page of zeros? (p 8-byte aligned) */
bool stream_page_is_zero(const uint8_t *p);
/* Around page i of the n pages at offset `base` of a memfd: pages before
 * *from are a hole (they read as zero); [*from, *to) is data to look at. */
void stream_hole_or_data(int memfd, uint64_t base, unsigned i, unsigned n, uint64_t *from,
			 uint64_t *to);

static inline uint32_t stream_get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t stream_get64(const uint8_t *p)
{
	return stream_get32(p) | (uint64_t)stream_get32(p + 4) << 32;
}

static inline void stream_put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline void stream_put64(uint8_t *p, uint64_t v)
{
	stream_put32(p, v);
	stream_put32(p + 4, v >> 32);
}

struct vm;
struct x86_restore_opts;
/*
 * Save the VM to `path`: written to PATH.tmp, fsync'd, renamed over PATH,
 * and the directory fsync'd, so PATH is either the old file or a whole new
 * snapshot. The vCPUs must be paused and every device quiescent (its I/O
 * threads stopped after draining): a device that is not makes this fail
 * with -EBUSY and leaves PATH alone.
 */
int snapshot_write(struct vm *vm, const char *path);
/*
 * Load `path` into a VM that vm_create() built from the same command line
 * (devices created, vCPUs created, no kernel loaded, nothing started):
 * RAM, then vCPUs and irqchip, the fixed devices, then each device in
 * registration order.
 */
int snapshot_restore(struct vm *vm, const char *path, const struct x86_restore_opts *o);
/* The state tree of a paused, quiescent VM (malloc'd; for migration). */
int snapshot_tree(struct vm *vm, void **tree, size_t *len);
/* Apply a checked tree (state_check) to a VM as snapshot_restore does. */
int snapshot_apply_tree(struct vm *vm, const void *fdt, const struct x86_restore_opts *o);
/* The shape of a VM built by vm_create(): memory, vCPUs, devices. */
int snapshot_shape_of_vm(struct vm *vm, struct snap_shape *s);

#endif
