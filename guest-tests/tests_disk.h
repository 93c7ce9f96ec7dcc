/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the blk-* cases (tests_blk.c) and the scsi-* cases (tests_scsi*.c)
 * share: finding and starting the device, the data patterns, the blocks
 * they test, the bulk engine that keeps DEPTH requests in flight on one
 * queue, the multi-queue case and the waiting of the malformed-request
 * cases. Each side describes its device with a struct case_dev and, to the
 * engine, a struct bulk_dev.
 */
#ifndef GUEST_TESTS_DISK_H
#define GUEST_TESTS_DISK_H

#include "tests.h"
#include "virtio_pci.h"

#define CHUNK		(32 * 1024)	/* bytes per request in the bulk passes */
#define DEPTH		8		/* requests in flight per queue */
#define FULL_PASS_MAX	(16 * MiB)	/* disks up to this get every block checked */
#define STRIPE		(1 * MiB)
#define MAX_POINTS	(2 * 4096 + 8)	/* make_points(): 4 GiB of stripes, 8 random */

struct blk_io;
struct vscsi_cmd;

/* ---- finding and starting the device ---- */

struct bulk_dev;

/* A side's device across its cases. */
struct case_dev {
	const char *none;		/* the cases' failure when there is no such device */
	struct virtio_dev *v;
	const struct bulk_dev *bulk;
	/* The first case's: the command line, the seed, the device and the
	 * one-off buffers. 1 found, 0 no such device, -1 unusable (why). */
	int (*probe)(char *why, size_t whylen);
	/* Start it with the command line's options (again, after a reset). */
	bool (*restart)(char *why);
	/* After the first start, what the device says of itself; NULL: nothing. */
	bool (*learn)(char *why);
	bool probed, usable;
	char probe_why[WHY_LEN];	/* why it is not usable */
};

/*
 * Every case starts here: the first call finds and starts the device, the
 * others fail as that did, or after a case that failed with requests in
 * flight (*bulk->stale) start the device again to take them back.
 */
bool dev_ready(struct case_dev *cd, char *why);
/* A start that failed (why): every case fails so from now on. false. */
bool dev_down(struct case_dev *cd, const char *why);

/* "  iface: bus:dev.fn, how its BARs were found; features offered, accepted" */
void print_found(const char *iface, const struct virtio_dev *v);
/* How completions are waited for: "interrupts" or "polling". */
const char *wait_name(const struct virtio_opts *o);

/* ---- data patterns ---- */

/* This run's seed for the patterns: the TSC mixed with salt. */
u64 run_seed(u64 salt);

/* Word i from byte offset off of target t: a function of the run's seed,
 * so what a previous run (or another target) left can never pass for it. */
u64 pattern_word(u64 seed, unsigned t, u64 off, u64 i);
void pattern_fill(void *buf, unsigned t, u64 off, u32 len, u64 seed);
/* Index of the first word that is not the pattern, or -1. */
long pattern_check(const void *buf, unsigned t, u64 off, u32 len, u64 seed);
bool all_zero(const void *buf, u32 len);
/* What blocks read back after a discard: "zeros", "the old data" (that
 * pattern) or "other data". */
const char *what_is_there(const void *buf, unsigned t, u64 off, u32 len, u64 seed);

/* First and last block of every STRIPE of a disk of cap blocks of bs
 * bytes, then 8 random ones (at most max in all): how many. */
u64 make_points(u64 cap, u32 bs, u64 seed, u64 *points, u64 max);
/* Requests of up to CHUNK bytes that cover n blocks of bs bytes. */
unsigned chunks(u64 n, u32 bs);

/* ---- the bulk engine: many requests, DEPTH in flight on one queue ---- */

struct slot {
	union {			/* the driver's request; starts with a struct vq_req */
		void *req;
		struct blk_io *io;
		struct vscsi_cmd *c;
	};
	u8 *buf;		/* CHUNK bytes */
	unsigned target;
	u64 lba;		/* in the target's blocks */
	u32 nblk;
	bool busy;
};

struct job {
	bool write;			/* else read, and verify unless no_verify */
	unsigned count;			/* requests */
	const u64 *points;		/* single blocks; NULL: CHUNK steps from first to last */
	u64 first, last;
	unsigned ntgt;			/* requests go round targets 0..ntgt-1 (0: target 0) */
	u64 seed;
	bool alt_indirect;		/* every other request through an indirect table */
	bool kick_each;			/* kick after every request, not once per batch */
	bool cdb_mix;			/* scsi: READ/WRITE (10), (6), (12), (16) in turn */
	bool no_verify;			/* reads of a read-only disk: status only */
	u64 done;			/* requests completed */
	char *why;
};

struct bulk_dev {
	const char *what;		/* "request", "command": for messages */
	struct slot (*slots)[DEPTH];	/* a row of each of VIRTIO_MAX_QUEUES queues */
	bool *stale;			/* set when a job fails with requests maybe in flight */
	struct virtq *(*queue)(unsigned qi);
	u32 (*block_size)(unsigned t);
	/* A request and a CHUNK-byte buffer for s; false when out of DMA memory. */
	bool (*alloc)(struct slot *s);
	/* Queue request k of j, s's blocks and buffer ready: false if the queue is full. */
	bool (*submit)(unsigned qi, const struct job *j, unsigned k, struct slot *s, bool indirect);
	/* A completed request: its status, used length and, read, data (j->why). */
	bool (*check)(struct job *j, struct slot *s);
};

/* Give queue qi's slots their requests and buffers; false when out of DMA memory. */
bool alloc_slots(const struct bulk_dev *d, unsigned qi);
/* After a reset nothing is in flight. */
void forget_slots(const struct bulk_dev *d);
/* Run j on queue qi; false (j->why says) on the first failure, *d->stale set. */
bool run_job(const struct bulk_dev *d, unsigned qi, struct job *j);
/* Write j's blocks (unless read_only), then read them back. */
bool write_read_job(const struct bulk_dev *d, unsigned qi, struct job *j, bool read_only);

/*
 * Interrupts while polling mean the device ignored our suppression: none
 * with VIRTQ_AVAIL_F_NO_INTERRUPT. With EVENT_IDX one per queue set-up is
 * let through: QEMU always signals the first used buffer after a queue is
 * enabled (it has no previous decision to compare used_event against), and
 * 2.7.7.2 only says SHOULD NOT. `before` is the count at the set-up; `say`
 * names the suppression in the failure.
 */
bool quiet_when_polling(struct virtq *q, bool irq, u64 before, bool say, char *why);

/* ---- blk-mq, scsi-mq ---- */

/* Queue qi's counts since the start of the case. */
struct mq_queue {
	struct virtq *q;
	u64 kicks, skipped, sleeps;
	u64 mine, others;		/* interrupts on its CPU, on the others */
};

struct mq_case {
	const char *name;		/* of the case, for its lines */
	const struct bulk_dev *d;
	unsigned nq;
	u64 nblocks;			/* of target 0 */
	bool ro, irq;
	u64 seed;
	void (*print)(unsigned qi, const struct mq_queue *s);
	/* at the start */
	u64 kicks[VIRTIO_MAX_QUEUES], skipped[VIRTIO_MAX_QUEUES], sleeps[VIRTIO_MAX_QUEUES];
	u64 irqs[VIRTIO_MAX_QUEUES][MAX_CPUS];
};

/*
 * Every queue's slice of target 0 written and read back by the CPU its
 * interrupt goes to, all CPUs at once; then each queue's line (m->print)
 * and interrupts checked, and what each CPU did.
 */
bool mq_run(struct mq_case *m, char *why);

/* ---- blk-malformed, scsi-malformed ---- */

/*
 * After a malformed chain on q, either a used entry or DEVICE_NEEDS_RESET
 * within 2 s (*needs_reset says which), else fail: name is the kind's.
 */
bool malformed_wait(struct virtq *q, const char *name, bool *needs_reset, char *why);
/*
 * one() for every kind but skip (-1: none), each failure printed as a
 * "  case: ..." line; the first is the case's.
 */
bool malformed_all(const char *name, unsigned nkinds, int skip,
		   bool (*one)(int kind, u8 *data, char *why), u8 *data, char *why);

#endif
