/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Table-driven tests of the SCSI disk target (virtio/scsi_disk.h), shared
 * by tests/test_scsi_disk.c and tests/test_scsi_disk_io.c: a row is a CDB
 * against one of a few logical units, with the buffers the transport
 * would give, and everything expected back. Expected bytes are written
 * out in the tables, field by field, from SPC-4 and SBC-3.
 */
#ifndef KITE_TESTS_SCSI_DISK_ROWS_H
#define KITE_TESTS_SCSI_DISK_ROWS_H

#include <check.h>
#include <stdint.h>

#include "virtio/scsi_disk.h"

/* The logical units rows run against (see rows_setup). */
enum lun_kind {
	LU_RW,		/* 1 MiB, 512-byte blocks, 4 KiB physical, discard and zero-range */
	LU_RO,		/* the same, read-only */
	LU_ZERO,	/* zero-range but no discard */
	LU_PLAIN,	/* neither */
	LU_BIG,		/* 3 TiB of 512-byte blocks: more than 2^32 blocks */
	LU_4K,		/* 1 MiB of 4096-byte blocks */
	LU_NONE,	/* a LUN the target does not have */
	LU_KINDS
};

#define ROW_BUF		8192
#define ROW_SERIAL	"KITE-SERIAL-0001"

struct row {
	const char *name;
	enum lun_kind lun;
	uint8_t cdb[16];
	uint32_t in_len;		/* data-in buffer */
	uint32_t out_len;		/* data-out buffer, holding `out` */
	const uint8_t *out;
	enum scsi_action action;	/* what scsi_disk_exec answers */
	/* For SCSI_DONE: */
	uint8_t status;
	const uint8_t *sense;		/* the 18 bytes, for CHECK CONDITION */
	const uint8_t *data;		/* data-in, xferred bytes of it */
	uint32_t dlen;			/* sizeof the data array, to catch miscounts */
	uint32_t xferred;
	/* For an I/O step: */
	uint64_t offset, len;
};

/* Fixed-format sense (SPC-4): RESPONSE CODE 70h (current, VALID 0),
 * SENSE KEY, ADDITIONAL SENSE LENGTH 0Ah, ASC, ASCQ, and bytes 15-17:
 * SKSV | C/D | BPV | BIT POINTER, FIELD POINTER. */
#define SENSE(...)	SENSE_(__VA_ARGS__)
#define SENSE_(key, asc, ascq, sks, fp)						\
	((const uint8_t[18]){ 0x70, 0x00, (key), 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,	\
			      (asc), (ascq), 0x00, (sks), (fp) >> 8, (fp) & 0xff })
#define SK_ILLEGAL	0x05
#define NO_SKS		0x00, 0
/* Byte 15 for INVALID FIELD IN CDB: SKSV 1, C/D 1 (the CDB), BPV 0... */
#define CDB_BYTE	0xc0
/* ... or BPV 1 with the BIT POINTER in bits 2-0. */
#define CDB_BIT(b)	(0xc8 | (b))
/* INVALID FIELD IN PARAMETER LIST: SKSV 1, C/D 0. */
#define PARAM_BYTE	0x80
#define PARAM_BIT(b)	(0x88 | (b))

#define BYTES(...)	((const uint8_t[]){ __VA_ARGS__ })
#define VENDOR		'K', 'I', 'T', 'E', ' ', ' ', ' ', ' '
#define PRODUCT		'V', 'I', 'R', 'T', 'U', 'A', 'L', ' ', 'D', 'I', 'S', 'K', ' ', ' ', ' ', ' '
#define SERIAL		'K', 'I', 'T', 'E', '-', 'S', 'E', 'R', 'I', 'A', 'L', '-', '0', '0', '0', '1'

extern uint8_t row_in[ROW_BUF], row_out[ROW_BUF];

/* Fresh logical units of every kind (a checked fixture). */
void rows_setup(void);
struct scsi_lun *row_lun(enum lun_kind k);
/* A command with cdb, a data-in buffer of in_len bytes (row_in, filled
 * with EEh) and out_len bytes of out as data-out (row_out); each buffer
 * is split into `pieces` iovecs of equal size. */
void row_cmd(struct scsi_cmd *c, const uint8_t *cdb, uint32_t in_len, const uint8_t *out,
	     uint32_t out_len, unsigned pieces);
/* Run one row and check everything it states. */
void row_run(const struct row *r);

/* The I/O rows and sequences (tests/test_scsi_disk_io.c). */
void scsi_disk_io_tcases(Suite *s);

#endif
