// SPDX-License-Identifier: Apache-2.0
/*
 * mode=blk-writer and mode=blk-verify: the guest's half of
 * guest-tests/blk-data-safety.sh, which SIGKILLs the VMM while blk-writer
 * runs, then checks with blk-verify under a fresh VMM (and from the host,
 * blk-safety-check.py) that every write the guest saw complete before its
 * last completed FLUSH is on the image.
 *
 * Block k of run R (4 KiB at byte 4096 * k), integers little-endian:
 *     0  8 bytes  "KITEBLK1"
 *     8  u64      R
 *    16  u64      k (the sequence number: blocks are written in order)
 *    24  ...      filler, a function of R, k and the offset
 *  4092  u32      CRC-32 (zlib's) of bytes 0-4091
 *
 * blk-writer blk_run=R [writer_qd=N]: writes blocks 0, 1, 2, ... with N
 * (default 16) in flight, never wrapping. After every 32 completed writes
 * it sends a FLUSH (one at a time); when a FLUSH completes it prints
 * "durable M": every block below M had completed before that FLUSH was
 * sent, so the device must have all of them on stable storage (virtio 1.2,
 * 5.2.6.4). Runs until killed; at the end of the disk it says so and halts.
 * Without VIRTIO_BLK_F_FLUSH a completed write is already stable, and
 * "durable M" follows every 32 completions.
 *
 * blk-verify blk_run=R durable=M: reads blocks 0 to M-1 and checks each;
 * "PASS blk-verify: ..." or "FAIL blk-verify: ...", exit status 0 or 1.
 */
#include "modes.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "disk.h"
#include "tests.h"
#include "virtio_pci.h"

#define BLOCK		4096
#define MAGIC		"KITEBLK1"
#define FLUSH_EVERY	32
#define WRITER_MAX_QD	64
#define VERIFY_QD	16
#define SHOW_BAD	5	/* bad blocks described one by one */

static struct disk disk;
static u64 run_id, nblocks;
static struct disk_req reqs[WRITER_MAX_QD + 1];

static void make_block(u8 *b, u64 seq)
{
	u64 *w = (u64 *)b;
	u32 crc;

	memcpy(b, MAGIC, 8);
	w[1] = run_id;
	w[2] = seq;
	for (unsigned i = 3; i < BLOCK / 8; i++)
		w[i] = disk_mix(run_id ^ (seq << 9 | i));
	crc = crc32(b, BLOCK - 4);
	memcpy(b + BLOCK - 4, &crc, 4);
}

/* Is b block `seq` of this run? If not, why (in why). */
static bool block_ok(const u8 *b, u64 seq, char *why)
{
	const u64 *w = (const u64 *)b;
	u32 crc;

	memcpy(&crc, b + BLOCK - 4, 4);
	if (memcmp(b, MAGIC, 8))
		fail("no magic (first word %016lx): never written", w[0]);
	if (w[1] != run_id)
		fail("holds run %lx, not %lx", w[1], run_id);
	if (w[2] != seq)
		fail("holds block %lu", w[2]);
	if (crc != crc32(b, BLOCK - 4))
		fail("CRC-32 %08x stored, %08x computed: torn or corrupt", crc, crc32(b, BLOCK - 4));
	return true;
}

/* The disk, blk_run=, and `depth` requests with a block buffer each. */
static bool setup(const char *mode, unsigned depth)
{
	char v[24], why[WHY_LEN];
	int r;

	if (!cmdline_get("blk_run", v, sizeof(v)) || !parse_uint(v, 16, &run_id)) {
		printf("FAIL %s: needs blk_run=HEX, the run's ID\n", mode);
		return false;
	}
	r = disk_open(&disk, "blk", depth, why, sizeof(why));
	if (r <= 0) {
		printf("FAIL %s: %s\n", mode, r ? why : "no virtio-blk device found");
		return false;
	}
	disk.ops->describe(&disk, "  disk: ");
	nblocks = disk.size / BLOCK;
	for (unsigned i = 0; i < depth; i++) {
		reqs[i].len = BLOCK;
		reqs[i].buf = dma_alloc(BLOCK + ALIGN_UP(disk.buf_guard, PAGE_SIZE), PAGE_SIZE);
		if (!reqs[i].buf || !disk.ops->req_init(&disk, &reqs[i])) {
			printf("FAIL %s: out of DMA memory\n", mode);
			return false;
		}
	}
	return true;
}

static bool wait_some(const char *mode, unsigned inflight)
{
	int st = disk.ops->wait(&disk, 0, DISK_TIMEOUT_US);

	if (st < 0)
		printf("FAIL %s: %s with %u requests in flight\n", mode,
		       st == -1 ? "no completion for 5 s" : "a completion without its interrupt",
		       inflight);
	return st >= 0;
}

void blk_writer(void)
{
	struct disk_req *flush, *r;
	struct disk_req *idle[WRITER_MAX_QD];
	u64 qd, next = 0, mark = 0, since_flush = 0;
	unsigned nidle, inflight = 0;
	bool flushing = false;
	char v[24];

	qd = 16;
	if (cmdline_get("writer_qd", v, sizeof(v)) &&
	    (!parse_uint(v, 10, &qd) || !qd || qd > WRITER_MAX_QD)) {
		printf("FAIL blk-writer: writer_qd=%s: expected 1-%u\n", v, WRITER_MAX_QD);
		return;
	}
	if (!setup("blk-writer", qd + 1))
		return;
	if (disk.ro) {
		printf("FAIL blk-writer: the disk is read-only\n");
		return;
	}
	flush = &reqs[qd];
	flush->op = DISK_FLUSH;
	for (nidle = 0; nidle < qd; nidle++)
		idle[nidle] = &reqs[nidle];
	printf("blk-writer: run %lx: blocks 0-%lu in order, %lu in flight, %s every %u completed\n",
	       run_id, nblocks - 1, qd, disk.flush ? "a FLUSH" : "no FLUSH offered: durable",
	       FLUSH_EVERY);
	for (;;) {
		while (nidle && next < nblocks) {
			r = idle[--nidle];
			r->op = DISK_WRITE;
			r->tag = next;
			r->offset = next * BLOCK;
			make_block(r->buf, next);
			if (!disk.ops->submit(&disk, 0, r)) {
				printf("FAIL blk-writer: the queue took fewer than %lu writes\n", qd);
				return;
			}
			next++;
			inflight++;
		}
		if (!flushing && (since_flush >= FLUSH_EVERY ||
				  (next == nblocks && !inflight && mark < nblocks))) {
			/* Everything below the oldest write in flight has completed. */
			mark = next;
			for (unsigned i = 0; i < qd; i++)
				if (reqs[i].op == DISK_WRITE && reqs[i].tag < mark)
					mark = reqs[i].tag;
			since_flush = 0;
			if (!disk.flush) {
				printf("durable %lu\n", mark);
			} else if (!disk.ops->submit(&disk, 0, flush)) {
				printf("FAIL blk-writer: no room in the queue for a FLUSH\n");
				return;
			} else {
				flushing = true;
			}
		}
		disk.ops->kick(&disk, 0);
		if (!inflight && !flushing) {
			printf("blk-writer: end of the disk: all %lu blocks durable; halting\n", nblocks);
			cpu_halt_forever();
		}
		if (!wait_some("blk-writer", inflight + flushing))
			return;
		while ((r = disk.ops->complete(&disk, 0))) {
			if (!r->ok) {
				printf("FAIL blk-writer: %s of block %lu: %s (%d)\n",
				       r == flush ? "FLUSH after" : "write", r == flush ? mark : r->tag,
				       disk.ops->status_name(r->status), r->status);
				return;
			}
			if (r == flush) {
				flushing = false;
				printf("durable %lu\n", mark);
				continue;
			}
			r->op = DISK_READ;	/* not in flight: ignored by the mark */
			idle[nidle++] = r;
			inflight--;
			since_flush++;
		}
	}
}

bool blk_verify(void)
{
	char v[24], why[WHY_LEN], first[WHY_LEN];
	struct disk_req *idle[VERIFY_QD], *r;
	u64 durable, next = 0, bad = 0;
	unsigned nidle, inflight = 0;

	if (!cmdline_get("durable", v, sizeof(v)) || !parse_uint(v, 10, &durable)) {
		printf("FAIL blk-verify: needs durable=N (blocks below N must be intact)\n");
		return false;
	}
	if (!setup("blk-verify", VERIFY_QD))
		return false;
	if (durable > nblocks) {
		printf("FAIL blk-verify: durable=%lu, the disk has %lu blocks\n", durable, nblocks);
		return false;
	}
	for (nidle = 0; nidle < VERIFY_QD; nidle++)
		idle[nidle] = &reqs[nidle];
	while (next < durable || inflight) {
		while (nidle && next < durable) {
			r = idle[--nidle];
			r->op = DISK_READ;
			r->tag = next;
			r->offset = next++ * BLOCK;
			if (!disk.ops->submit(&disk, 0, r)) {
				printf("FAIL blk-verify: the queue took fewer than %u reads\n", VERIFY_QD);
				return false;
			}
			inflight++;
		}
		disk.ops->kick(&disk, 0);
		if (!wait_some("blk-verify", inflight))
			return false;
		while ((r = disk.ops->complete(&disk, 0))) {
			inflight--;
			idle[nidle++] = r;
			if (!r->ok)
				snprintf(why, sizeof(why), "read: %s", disk.ops->status_name(r->status));
			else if (block_ok(r->buf, r->tag, why))
				continue;
			if (bad++ < SHOW_BAD)
				printf("blk-verify: block %lu: %s\n", r->tag, why);
			if (bad == 1)
				snprintf(first, sizeof(first), "block %lu: %s", r->tag, why);
		}
	}
	if (bad) {
		printf("FAIL blk-verify: %lu of the %lu blocks below durable=%lu are wrong; first: %s\n",
		       bad, durable, durable, first);
		return false;
	}
	printf("PASS blk-verify: all %lu blocks below durable=%lu hold run %lx intact\n", durable,
	       durable, run_id);
	return true;
}
