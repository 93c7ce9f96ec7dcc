/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration over TCP: pre-copy of dirty RAM, then the state tree.
 *
 * The stream reuses the snapshot's framing (vmm/snapshot.h): a header with
 * magic "KITEMIGR" and the VM's shape, then sections (type, length,
 * payload, CRC-32C). Both ways:
 *
 *   source                               destination
 *   header (shape)              ->
 *                               <-       "OKAY", or "FAIL" + why (shape)
 *   "PAGE" ... (iteration 1: all RAM;
 *    then what was dirtied meanwhile)
 *   -- vCPUs stop, devices drain --
 *   "PAGE" ... (the rest), "TREE", "END!" ->
 *                               <-       "HAVE" (applied), or "FAIL" + why
 *   flush disks, release image locks
 *   "GO!!"                      ->
 *                               <-       "RUN!" (locks taken; vCPUs start)
 *                                        or "FAIL" + why (the source takes
 *                                        its locks back and runs on)
 *
 * "PAGE" payload: gpa u64, page count n u32 (1..SNAP_CHUNK_PAGES), page
 * size u32 (4096), a bitmap of n bits of pages that follow, a bitmap of n
 * bits of pages that are all zeros (sent as that bit alone), then the
 * pages. The two bitmaps are disjoint; pages in neither are unchanged.
 * The whole range lies in one RAM region.
 *
 * Until "GO!!" has gone, any failure (the connection drops, the
 * destination refuses or dies, migrate-cancel, --timeout) leaves the
 * source's VM running as before. After it, the destination owns the VM:
 * the source stays paused unless told "FAIL".
 */
#ifndef KITE_VMM_MIGRATE_H
#define KITE_VMM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"
#include "vmm/snapshot.h"

#define MIG_MAGIC		"KITEMIGR"
#define MIG_VERSION		1
#define MIG_SEC_PAGE		0x45474150u	/* "PAGE" */
#define MIG_SEC_OKAY		0x59414b4fu	/* "OKAY" */
#define MIG_SEC_FAIL		0x4c494146u	/* "FAIL" */
#define MIG_SEC_HAVE		0x45564148u	/* "HAVE" */
#define MIG_SEC_GO		0x21214f47u	/* "GO!!" */
#define MIG_SEC_RUN		0x214e5552u	/* "RUN!" */
#define MIG_FAIL_MAX		512		/* bytes of a FAIL message */

#define MIG_DEFAULT_DOWNTIME_MS	300
#define MIG_DEFAULT_ITERATIONS	30

struct migrate_params {
	char host[64];			/* numeric IPv4 or IPv6 address */
	unsigned port;
	/* Stop pre-copy once the rest should go in this long at the link's
	 * observed speed; 0: only once nothing is dirty (or at the cap). */
	unsigned max_downtime_ms;
	unsigned timeout_s;		/* 0: none; else cancelled after it */
	unsigned max_iterations;	/* 0: MIG_DEFAULT_ITERATIONS */
};

enum migrate_state {
	MIG_NONE, MIG_ACTIVE, MIG_COMPLETING, MIG_COMPLETED, MIG_FAILED, MIG_CANCELLED,
};

const char *migrate_state_name(enum migrate_state s);

struct migrate_status {
	enum migrate_state state;
	unsigned iteration;
	uint64_t bytes_sent;
	uint64_t ram_total;		/* bytes of guest RAM */
	uint64_t ram_remaining;		/* dirty bytes at the last count */
	uint64_t dirty_rate;		/* pages dirtied per second, last iteration */
	uint64_t bandwidth;		/* bytes per second, observed */
	uint64_t expected_downtime_ms;
	uint64_t total_ms;		/* start to now, or to the end */
	uint64_t downtime_ms;		/* pause to the destination's "RUN!" */
	char error[256];
};

/* What the source needs of its VM. `vm` is the opaque argument. */
struct migrate_src_ops {
	int (*log_start)(void *vm);
	void (*log_stop)(void *vm);
	/* OR the pages dirtied since the last call (or log_start) in region
	 * `region` into bm (bit i: page i of the region) and clear them. */
	int (*log_take)(void *vm, unsigned region, uint64_t *bm);
	/* Stop the vCPUs and drain every device; unpause undoes it. */
	int (*pause)(void *vm);
	void (*unpause)(void *vm);
	int (*shape)(void *vm, struct snap_shape *s);
	/* The state tree, while paused (malloc'd). */
	int (*tree)(void *vm, void **blob, size_t *len);
	/* Flush the disks and release their locks; reclaim takes them back.
	 * flush (optional) is release's flush alone, done just before the
	 * pause, so the one inside the downtime has little left to write. */
	int (*flush)(void *vm);
	int (*release)(void *vm);
	void (*reclaim)(void *vm);
	/* The destination runs the VM: this one must end. */
	void (*done)(void *vm);
};

struct migration;

/* Create the worker (a thread, started now so it exists before any
 * seccomp filter: it installs SECCOMP_MAIN itself). */
int migration_create(struct migration **out, const struct migrate_src_ops *ops, void *vm,
		     const struct guest_mem *mem);
void migration_destroy(struct migration *m);
/* Begin a migration; -EBUSY while one runs. */
int migration_start(struct migration *m, const struct migrate_params *p);
void migration_status(struct migration *m, struct migrate_status *st);
/* Cancel the running migration; -EINVAL if none, -EALREADY after the
 * hand-over began. */
int migration_cancel(struct migration *m);
/* The last status has been reported as final to someone (migrate-status
 * saw "completed"): kite may exit now. */
bool migration_final_seen(struct migration *m);

/* What the destination needs of its VM. */
struct migrate_dst_ops {
	int (*shape)(void *vm, struct snap_shape *s);
	/* Apply the (checked) state tree to the VM. */
	int (*apply)(void *vm, const void *tree, size_t len);
	/* Take the disks' locks, the source having released them. */
	int (*take_over)(void *vm);
};

/* Receive one migration on a connected socket into `mem` (all zeros: a
 * new VM). 0 when the VM may run; else -errno with the reason recorded
 * (and, where the peer is still there, sent to it). */
int migrate_receive_fd(int fd, const struct migrate_dst_ops *ops, void *vm,
		       const struct guest_mem *mem);
/* Listen on tcp:HOST:PORT for one connection (log says where), then
 * migrate_receive_fd. */
int migrate_incoming(const char *endpoint, const struct migrate_dst_ops *ops, void *vm,
		     const struct guest_mem *mem, bool verbose);
/* After migrate_incoming returned -EINTR: the stop signal that ended the
 * wait (SIGINT, SIGTERM, SIGHUP). */
extern int migrate_stop_signal;

#endif
