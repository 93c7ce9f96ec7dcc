/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A disk as mode=bench, the data-safety modes and the demo drive it, apart
 * from the transport: requests on numbered queues, each queue used by one
 * CPU only, everything in ring 3. A driver supplies struct disk_ops
 * (disk_blk.c for virtio-blk, disk_scsi.c for virtio-scsi); another driver
 * plugs in by filling the same table and adding its name to disk_open().
 */
#ifndef GUEST_DISK_H
#define GUEST_DISK_H

#include "guest.h"

#define DISK_MAX_QUEUES		8
#define DISK_MAX_DEPTH		256	/* requests in flight per queue */
#define DISK_TIMEOUT_US		5000000

enum disk_op { DISK_READ, DISK_WRITE, DISK_FLUSH };

struct disk_req {
	/* the caller's */
	enum disk_op op;
	u64 offset;		/* bytes, a multiple of 512 */
	u32 len;		/* bytes, a multiple of 512; ignored for a flush */
	void *buf;		/* from dma_alloc() */
	u64 t_submit;		/* free for the caller (TSC at submission) */
	u64 tag;		/* free for the caller */
	/* set when the request completes */
	bool ok;
	int status;		/* the driver's own status code, for messages */
	/* the driver's */
	void *drv;
};

struct disk;

struct disk_ops {
	const char *iface;	/* "blk", "scsi" */
	/* The driver's per-request state; false when DMA memory ran out. */
	bool (*req_init)(struct disk *d, struct disk_req *r);
	/* Queue r on queue q, not yet visible to the device; false if full. */
	bool (*submit)(struct disk *d, unsigned q, struct disk_req *r);
	/* Publish what was queued; notify the device unless it said not to. */
	void (*kick)(struct disk *d, unsigned q);
	/* A completed request of queue q (ok and status set), or NULL. */
	struct disk_req *(*complete)(struct disk *d, unsigned q);
	/* Until a completion is there: 0, -1 timeout, -2 one came without its
	 * interrupt (blk_wait=irq). Polls or sleeps as the disk was opened. */
	int (*wait)(struct disk *d, unsigned q, u64 timeout_us);
	/* What was found, as lines starting with prefix. */
	void (*describe)(struct disk *d, const char *prefix);
	/* Queue q so far: notifications sent and suppressed, interrupts. */
	void (*counters)(struct disk *d, unsigned q, u64 *kicks, u64 *skipped, u64 *irqs);
	/* The text of a status code. */
	const char *(*status_name)(int status);
};

struct disk {
	const struct disk_ops *ops;
	u64 size;		/* bytes */
	unsigned nqueues;
	unsigned cpu[DISK_MAX_QUEUES];	/* CPU (index in smp.cpus) serving queue i */
	bool irq;		/* completions wait for interrupts, else polled */
	bool flush;		/* writes are volatile until a FLUSH completes */
	bool ro;
	unsigned buf_guard;	/* bytes a data buffer needs free before and after it */
	char serial[24];	/* "" if the device has none */
	void *priv;
};

/*
 * Find and start the first disk of interface `iface` ("blk", "scsi") with the queue
 * settings of the command line (blk_wait, event_idx, indirect, layout),
 * ready for `depth` requests in flight on each queue. Turns interrupts on
 * for the calling CPU (other CPUs waiting by interrupt call user_irqs).
 * 1 ready, 0 no such device, -1 unusable (why says so).
 */
int disk_open(struct disk *d, const char *iface, unsigned depth, char *why, size_t whylen);

/* One request on queue q, which has nothing else in flight, start to
 * finish: 0 done (see r->ok), -1 timeout or not queued. */
int disk_do(struct disk *d, unsigned q, struct disk_req *r);

/* 64-bit mixing (splitmix64's finaliser), for patterns and random numbers. */
static inline u64 disk_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
