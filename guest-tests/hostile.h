/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mode=hostile: a driver that breaks every rule it can against all but one
 * virtio device, for a bounded time, while the one left alone keeps doing
 * verified I/O (hostile.c). The attacks: malformed rings and descriptor
 * chains (hostile_chains.c) and illegal register use, from feature
 * negotiation to the MSI-X table (hostile_regs.c); the valid requests that
 * check a device in between and at the end (hostile_check.c).
 *
 * Whatever a device does about an attack is accepted except a crash of the
 * VMM, a hang of the guest or wrong data from a request that was valid: a
 * device may answer with an error, go to DEVICE_NEEDS_RESET or never answer.
 * Every wait is bounded; a device in doubt is reset and set up again.
 *
 * Memory the devices may be told to write is confined to one scratch area
 * and to addresses where nothing is mapped: the guest attacks the device
 * model, not itself.
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "virtio_blk.h"
#include "virtio_net.h"
#include "virtio_scsi.h"
#include "disk.h"
#include "tests.h"

#define HOSTILE_MAX_DEVS	8
#define HOSTILE_SCRATCH		(256 * 1024)
#define HOSTILE_NADDR		8	/* unmapped addresses known */
#define HOSTILE_SECTORS		8	/* per verified disk request */

/* Common configuration (4.1.4.3), byte offsets. */
#define HC_DFSELECT	0
#define HC_DF		4
#define HC_GFSELECT	8
#define HC_GF		12
#define HC_MSIX		16
#define HC_NUMQ		18
#define HC_STATUS	20
#define HC_GEN		21
#define HC_QSEL		22
#define HC_QSIZE	24
#define HC_QMSIX	26
#define HC_QENABLE	28
#define HC_QNOTIFY	30
#define HC_QDESC	32
#define HC_QDRIVER	40
#define HC_QDEVICE	48

enum hkind { HK_BLK, HK_SCSI, HK_NET };

struct hstats {
	u64 rounds;		/* attacks made */
	u64 chains;		/* malformed or random chains published */
	u64 regs;		/* register-level attacks */
	u64 used;		/* used entries the device returned to them */
	u64 bogus_used;		/* used index moved by more than the ring holds */
	u64 needs_reset;	/* times it went to DEVICE_NEEDS_RESET */
	u64 unanswered;		/* attacks left with no answer at all */
	u64 resets;		/* resets and fresh set-ups */
	u64 reset_slow;		/* resets not done within the timeout */
	u64 init_fail;		/* set-ups the device refused */
	u64 checks, checks_ok;	/* valid requests in between */
	u64 features_ok_taken;	/* FEATURES_OK kept for features not offered */
	u64 renotify;		/* blk requests notified again after a silent second */
};

struct hdev {
	enum hkind kind;
	unsigned nth;		/* of its kind */
	char name[12];		/* blk0, scsi0, net0 */
	union {
		struct blk blk;
		struct vscsi scsi;
		struct net_nic net;
	} u;
	struct virtio_dev *v;	/* &u.<kind>.v */
	bool live;		/* set up by the driver and DRIVER_OK, as far as we know */
	bool good;		/* the well-behaved one */
	u64 posted;		/* hostile avail entries since the set-up */
	struct hstats st;
	/* what the valid requests use */
	u64 sectors;		/* blk: capacity; scsi: LUN 0's blocks (0: none) */
	u32 block;		/* scsi block size */
	struct blk_io *bio;
	struct vscsi_cmd *cmd;
	u8 *buf, *buf2;		/* 4 KiB each */
	u64 pattern;
	char why[WHY_LEN];	/* the first hard failure, if any */
};

/* What every attack may point at. */
struct hmem {
	u64 rng;
	u8 *scratch;		/* HOSTILE_SCRATCH bytes nobody else uses */
	u64 ram_end;		/* highest RAM address + 1 */
	u64 unmapped[HOSTILE_NADDR];	/* neither RAM nor MMIO, page aligned */
	unsigned nunmapped;
	bool trace;		/* hostile_trace=1: name each attack first */
	u64 skip;		/* attacks left out (hostile_skip=) */
};
extern struct hmem hm;

u64 hrand(void);
static inline u64 hrand_below(u64 n) { return n ? hrand() % n : 0; }
static inline bool hchance(unsigned one_in) { return hrand_below(one_in) == 0; }

/* hostile.c: reset and set the device up again with its driver (random
 * EVENT_IDX / INDIRECT choices); false if it refused (counted). */
bool hdev_init(struct hdev *h);
/* Watch queue q (NULL: none) for up to us microseconds, taking used
 * entries, until `expect` of them came (expect 0: a quarter of the time); a
 * device in DEVICE_NEEDS_RESET, or one that left some unanswered, is
 * counted and marked for a reset. */
void hdev_settle(struct hdev *h, struct virtq *q, unsigned expect, u64 us);
/* Publish the avail index and notify, whatever the device asked for. */
void hq_publish(struct virtq *q);

/* Pick an attack below n not left out; skip_base is its bit in hm.skip. */
unsigned hostile_pick(unsigned n, unsigned skip_base);

/* hostile_check.c: one valid request, waited for at most us; false
 * (why says) if it failed or the device then wants a reset. A disk
 * writes and reads back HOSTILE_SECTORS sectors: anywhere on the
 * well-behaved one, in the second half of an attacked one. */
bool hdev_check(struct hdev *h, u64 us, char *why);
/* Write then read back len bytes at sector of a virtio-blk disk (read
 * twice if it is read-only), with the pattern of key. */
bool hblk_verify(struct hdev *h, u64 sector, u32 len, u64 key, u64 us, char *why);

/* hostile_chains.c: one attack on a ring of h (h->live). Attack i is
 * named hostile_chain_names[i] (hm.skip bit i). */
void hostile_chain(struct hdev *h);
extern const char *const hostile_chain_names[];
extern const unsigned hostile_nchain;
/* hostile_regs.c: one attack through registers; may leave h not live.
 * Named hostile_reg_names[i], hm.skip bit 32 + i. */
void hostile_regs(struct hdev *h);
extern const char *const hostile_reg_names[];
extern const unsigned hostile_nreg;

#endif
