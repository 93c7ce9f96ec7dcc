/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SCSI disk target behind virtio-scsi: one logical unit (LUN 0 of a
 * target) backed by a struct disk. It parses CDBs (SPC-4, SBC-3) and
 * answers them, independently of virtio, so tests can drive it with a
 * table of CDBs.
 *
 * Contract with the transport (virtio/scsi.c):
 * - It fills a struct scsi_cmd: the CDB (zero-padded to SCSI_CDB_MAX) and
 *   the data-out and data-in buffers as iovec views (at most one of them
 *   non-empty; the target may cut or shorten these iovecs in place, so they
 *   must be the transport's own copies), then calls scsi_disk_exec().
 * - The answer is an action. SCSI_DONE: status, sense and xferred are
 *   final. SCSI_OVERRUN: the CDB asks for more data than the buffers hold
 *   (virtio-scsi's VIRTIO_SCSI_S_OVERRUN; nothing was moved). Otherwise an
 *   I/O step on the LUN's disk: c->offset and c->len in bytes, and for
 *   SCSI_READ / SCSI_WRITE the iovecs c->iov[0, c->niov) holding exactly
 *   c->len bytes. The transport performs it and calls scsi_disk_io_done()
 *   with the result (bytes moved, 0 for the others, or -errno), which
 *   returns the next action; a command may take several steps (a write
 *   with FUA is a write then a flush; UNMAP is one discard per
 *   descriptor; WRITE SAME with a pattern is a loop of writes).
 * - Residual: data-in or data-out length minus xferred.
 *
 * Nothing here allocates or locks. One scsi_lun is shared by every queue:
 * its mutable state (write cache enable, pending unit attention) is atomic.
 *
 * Decisions (see the functions for the details):
 * - WCE: 1 by default for cache=writeback and cache=none alike, as QEMU
 *   answers (its cache=none is writeback=on): O_DIRECT bypasses the host
 *   page cache but not the volatile cache of the disk below, which only a
 *   flush (SYNCHRONIZE CACHE -> fdatasync) empties. MODE SELECT may clear
 *   it: then every write is followed by a flush (write-through), and the
 *   MODE SELECT that clears it flushes before it completes.
 * - WRITE SAME: an all-zero block (or NDOB) becomes a discard when UNMAP is
 *   set and the disk can unmap (unmapped blocks read back as zeroes:
 *   LBPRZ), else a zero-range; any other pattern is written for real, by a
 *   loop of writes whose iovecs repeat the guest's own block (no bounce
 *   buffer).
 * - VERIFY: BYTCHK=0 checks the range only (the image has no medium to
 *   scan); BYTCHK != 0 is refused with INVALID FIELD IN CDB, as a byte
 *   compare would need a bounce buffer per request.
 * - No saved mode pages (PC=11b: SAVING PARAMETERS NOT SUPPORTED), no
 *   protection information, no ACA (NACA=1 refused), no power states
 *   (START STOP UNIT is accepted, and flushes before a stop).
 * - A CDB is checked before its buffers: a command the target refuses
 *   (CHECK CONDITION) moves nothing, so it is never an overrun.
 * - Unit attention 29h is established only by the task management resets
 *   (LOGICAL UNIT RESET: 29h/03h, I_T NEXUS RESET: 29h/07h), not at power
 *   on, so a fresh guest sees no UA.
 */
#ifndef KITE_VIRTIO_SCSI_DISK_H
#define KITE_VIRTIO_SCSI_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/disk.h"

#define SCSI_CDB_MAX		32	/* longest CDB looked at (virtio default cdb_size) */
#define SCSI_SENSE_LEN		18	/* fixed format sense data */
#define SCSI_REP_IOV		16	/* iovecs per WRITE SAME pattern write */

/* Status codes (SAM-5). */
#define SCSI_GOOD		0x00
#define SCSI_CHECK_CONDITION	0x02
#define SCSI_BUSY		0x08

/* Sense keys (SPC-4). */
#define SCSI_SK_NO_SENSE	0x0
#define SCSI_SK_MEDIUM_ERROR	0x3
#define SCSI_SK_ILLEGAL_REQUEST	0x5
#define SCSI_SK_UNIT_ATTENTION	0x6
#define SCSI_SK_DATA_PROTECT	0x7

/* What the disk reports about itself in INQUIRY. */
#define SCSI_DISK_VENDOR	"KITE    "		/* 8 bytes */
#define SCSI_DISK_PRODUCT	"VIRTUAL DISK    "	/* 16 bytes */
#define SCSI_DISK_REVISION	"0001"			/* 4 bytes */

/* Limits, in bytes; the VPD pages give them in blocks. */
#define SCSI_MAX_XFER_BYTES	(0xffffULL * 512)	/* = virtio-scsi max_sectors */
#define SCSI_UNMAP_MAX_BYTES	(1ULL << 30)		/* per UNMAP command */
#define SCSI_UNMAP_MAX_DESC	16
#define SCSI_WS_MAX_BYTES	(1ULL << 30)		/* per WRITE SAME */

/* One logical unit. */
struct scsi_lun {
	struct disk *disk;
	uint64_t nblocks;
	uint32_t block_size;
	uint8_t phys_exp;	/* log2(physical block / logical block) */
	bool readonly;
	bool can_unmap;		/* discard reads back zeroes: LBPME, LBPRZ */
	bool can_zero;
	_Atomic bool wce;	/* write cache enabled (caching mode page) */
	_Atomic unsigned ua;	/* pending unit attention: 0x100 | ASCQ of ASC 29h; 0 none */
};

/* Steps a command can ask of the transport. */
enum scsi_action {
	SCSI_DONE,
	SCSI_OVERRUN,
	SCSI_READ,
	SCSI_WRITE,
	SCSI_FLUSH,
	SCSI_DISCARD,
	SCSI_WRITE_ZEROES,
};

struct scsi_cmd {
	/* Set by the transport. */
	uint8_t cdb[SCSI_CDB_MAX];
	struct iovec *out;		/* data-out */
	unsigned nout;
	uint64_t out_len;
	struct iovec *in;		/* data-in */
	unsigned nin;
	uint64_t in_len;

	/* The answer. */
	uint8_t status;
	uint8_t sense_len;		/* 0 or SCSI_SENSE_LEN */
	uint8_t sense[SCSI_SENSE_LEN];
	uint64_t xferred;		/* bytes moved through in or out */

	/* The I/O step asked for. */
	uint64_t offset, len;
	struct iovec *iov;
	unsigned niov;

	/* Progress of a multi-step command (private). */
	uint8_t kind;
	bool flush_after;
	uint64_t lba, left;		/* current block, blocks still to do */
	unsigned step, nsteps;
	struct iovec rep[SCSI_REP_IOV];
};

/* Describe `disk` as a logical unit (WCE on, no unit attention). The disk
 * must hold at least one block. */
void scsi_lun_init(struct scsi_lun *lu, struct disk *disk);

/* LOGICAL UNIT RESET: mode pages back to their defaults, unit attention
 * 29h/03h. I_T NEXUS RESET: unit attention 29h/07h only (mode pages are
 * shared by all nexuses). Device reset: defaults, no unit attention. */
void scsi_lun_reset(struct scsi_lun *lu);
void scsi_lun_nexus_reset(struct scsi_lun *lu);
void scsi_lun_power_on(struct scsi_lun *lu);

/*
 * Run the CDB in c->cdb against lu. lu NULL means the target exists but
 * the addressed LUN does not: INQUIRY reports peripheral qualifier 011b,
 * REPORT LUNS lists the target's LUN 0, REQUEST SENSE returns LOGICAL
 * UNIT NOT SUPPORTED, anything else fails with it (25h/00h).
 */
enum scsi_action scsi_disk_exec(struct scsi_lun *lu, struct scsi_cmd *c);

/* The I/O step asked for finished with res (bytes, 0, or -errno; -EBUSY
 * from a prep call that found no room ends the command with BUSY status). */
enum scsi_action scsi_disk_io_done(struct scsi_lun *lu, struct scsi_cmd *c, int res);

#endif
