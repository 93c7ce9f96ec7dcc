// SPDX-License-Identifier: Apache-2.0
/*
 * The SCSI disk target's block commands (SBC-3): READ and WRITE (6, 10,
 * 12, 16), VERIFY, SYNCHRONIZE CACHE, WRITE SAME, UNMAP. A table for what
 * each CDB asks of the transport, then the multi-step sequences: FUA,
 * I/O errors, the WRITE SAME loops and fallbacks, UNMAP descriptors.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/scsi_disk_rows.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define GOOD		.action = SCSI_DONE, .status = SCSI_GOOD
#define CHECK(s)	.action = SCSI_DONE, .status = SCSI_CHECK_CONDITION, .sense = (s)
#define IO(a, off, n)	.action = (a), .offset = (off), .len = (n)
#define OOR		CHECK(SENSE(SK_ILLEGAL, 0x21, 0x00 /* LBA OUT OF RANGE */, NO_SKS))
#define WRITE_PROT	CHECK(SENSE(0x07 /* DATA PROTECT */, 0x27, 0x00 /* WRITE PROTECTED */, \
				    NO_SKS))

static const uint8_t zero_block[512];
static const uint8_t pattern[4096] = { [0 ... 4095] = 0xa5 };

/* UNMAP parameter lists (SBC-3): header, then 16-byte block descriptors. */
static const uint8_t unmap_one[] = {
	0x00, 0x16,			/* UNMAP DATA LENGTH: 22 */
	0x00, 0x10,			/* UNMAP BLOCK DESCRIPTOR DATA LENGTH: 16 */
	0, 0, 0, 0,			/* reserved */
	0, 0, 0, 0, 0, 0, 0x00, 0x10,	/* UNMAP LOGICAL BLOCK ADDRESS: 16 */
	0x00, 0x00, 0x00, 0x08,		/* NUMBER OF LOGICAL BLOCKS: 8 */
	0, 0, 0, 0,			/* reserved */
};
static const uint8_t unmap_oor[] = {
	0x00, 0x16, 0x00, 0x10, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0x07, 0xfc, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0, /* 2044 + 8 */
};
static const uint8_t unmap_17[8 + 17 * 16] = { 0x01, 0x16, 0x01, 0x10 };
static const uint8_t unmap_short_len[] = {
	0x00, 0x0f /* less than 6 + 16 */, 0x00, 0x10, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 0,
};
static const uint8_t unmap_none[] = { 0x00, 0x06, 0x00, 0x00, 0, 0, 0, 0 };
static const uint8_t unmap_partial[] = {
	0x00, 0x1a, 0x00, 0x14 /* 20: one whole descriptor and 4 bytes */, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0,
	0, 0, 0, 0,
};
static const uint8_t unmap_total[] = {
	0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x18, 0x00, 0x00, 0, 0, 0, 0,	/* 0x180000 blocks */
	0, 0, 0, 0, 0, 0x20, 0, 0, 0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0,	/* + 0x100000 */
};
static const uint8_t unmap_huge[] = {
	0x00, 0x16, 0x00, 0x10, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0x00, 0x01, 0, 0, 0, 0,	/* 1 GiB + 1 block */
};

static const struct row io_rows[] = {
	/* READ */
	{ "read 10", LU_RW, { 0x28, 0, 0, 0, 0, 2, 0, 0, 4, 0 }, 4096, 0, NULL,
	  IO(SCSI_READ, 2 * 512, 4 * 512) },
	{ "read 10, dpo fua", LU_RW, { 0x28, 0x18, 0, 0, 0, 2, 0, 0, 4, 0 }, 2048, 0, NULL,
	  IO(SCSI_READ, 2 * 512, 4 * 512) },
	{ "read 6", LU_RW, { 0x08, 0x00, 0x00, 0x10, 2, 0 }, 1024, 0, NULL,
	  IO(SCSI_READ, 16 * 512, 2 * 512) },
	{ "read 6, reserved bits", LU_RW, { 0x08, 0xe0, 0x00, 0x01, 1, 0 }, 512, 0, NULL,
	  IO(SCSI_READ, 512, 512) },
	{ "read 6, 0 is 256 blocks", LU_RW, { 0x08, 0, 0, 0, 0, 0 }, 8192, 0, NULL,
	  .action = SCSI_OVERRUN },
	{ "read 6, lba 21 bits", LU_RW, { 0x08, 0x1f, 0xff, 0xff, 1, 0 }, 512, 0, NULL, OOR },
	{ "read 12", LU_RW, { 0xa8, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0 }, 1024, 0, NULL,
	  IO(SCSI_READ, 512, 1024) },
	{ "read 16, last blocks", LU_RW,
	  { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xfe, 0, 0, 0, 2, 0, 0 }, 1024, 0, NULL,
	  IO(SCSI_READ, 2046 * 512, 1024) },
	{ "read 16, past the end", LU_RW,
	  { 0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0 }, 1024, 0, NULL, OOR },
	{ "read 16, lba wraps", LU_RW,
	  { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0 }, 1024, 0,
	  NULL, OOR },
	{ "read 10, 0 blocks at the end", LU_RW, { 0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0 }, 0, 0,
	  NULL, GOOD },
	{ "read 10, 0 blocks past it", LU_RW, { 0x28, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0 }, 0, 0,
	  NULL, OOR },
	{ "read 10, rdprotect", LU_RW, { 0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0 }, 512, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(7), 1)) },
	{ "read 12, too long", LU_RW, { 0xa8, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 }, 512, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 6)) },
	{ "read 16, too long", LU_RW,
	  { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 }, 512, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 10)) },
	{ "read 10, too long for 4k", LU_4K, { 0x28, 0, 0, 0, 0, 0, 0, 0x20, 0x00, 0 }, 512, 0,
	  NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 7)) },
	{ "read 10, overrun", LU_RW, { 0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0 }, 1024, 0, NULL,
	  .action = SCSI_OVERRUN },
	{ "read 10, data-out", LU_RW, { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512, zero_block,
	  .action = SCSI_OVERRUN },
	{ "read 10, naca", LU_RW, { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0x04 }, 512, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 9)) },
	{ "read 10, read-only", LU_RO, { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 512, 0, NULL,
	  IO(SCSI_READ, 0, 512) },

	/* WRITE */
	{ "write 10", LU_RW, { 0x2a, 0, 0, 0, 0, 3, 0, 0, 2, 0 }, 0, 1024, pattern,
	  IO(SCSI_WRITE, 3 * 512, 1024) },
	{ "write 6", LU_RW, { 0x0a, 0x00, 0x00, 0x03, 1, 0 }, 0, 512, pattern,
	  IO(SCSI_WRITE, 3 * 512, 512) },
	{ "write 12", LU_RW, { 0xaa, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0 }, 0, 512, pattern,
	  IO(SCSI_WRITE, 3 * 512, 512) },
	{ "write 16", LU_RW, { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0 }, 0, 4096,
	  pattern, IO(SCSI_WRITE, 3 * 512, 512) },
	{ "write 10, 4k blocks", LU_4K, { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 }, 0, 4096, NULL,
	  IO(SCSI_WRITE, 4096, 4096) },
	{ "write 16, past the end", LU_RW,
	  { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 1, 0, 0 }, 0, 512, pattern, OOR },
	{ "write 10, read-only", LU_RO, { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512, pattern,
	  WRITE_PROT },
	{ "write 10, read-only, 0 blocks", LU_RO, { 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL,
	  GOOD },
	{ "write 10, wrprotect", LU_RW, { 0x2a, 0xe0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512, pattern,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(7), 1)) },
	{ "write 10, overrun", LU_RW, { 0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0 }, 0, 512, pattern,
	  .action = SCSI_OVERRUN },
	{ "write 10, data-in", LU_RW, { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 512, 0, NULL,
	  .action = SCSI_OVERRUN },

	/* VERIFY */
	{ "verify 10", LU_RW, { 0x2f, 0, 0, 0, 0, 0, 0, 0, 8, 0 }, 0, 0, NULL, GOOD },
	{ "verify 10, dpo", LU_RW, { 0x2f, 0x10, 0, 0, 0x07, 0xf8, 0, 0, 8, 0 }, 0, 0, NULL, GOOD },
	{ "verify 10, bytchk 01b", LU_RW, { 0x2f, 0x02, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512, pattern,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 1)) },
	{ "verify 10, bytchk 11b", LU_RW, { 0x2f, 0x06, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512, pattern,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 1)) },
	{ "verify 10, vrprotect", LU_RW, { 0x2f, 0x40, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(7), 1)) },
	{ "verify 10, past the end", LU_RW, { 0x2f, 0, 0, 0, 0x07, 0xf9, 0, 0, 8, 0 }, 0, 0, NULL,
	  OOR },
	{ "verify 16", LU_RW, { 0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0 }, 0, 0,
	  NULL, GOOD },
	{ "verify 16, past the end", LU_RW,
	  { 0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00, 0, 0 }, 0, 0, NULL, OOR },

	/* SYNCHRONIZE CACHE */
	{ "sync 10", LU_RW, { 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL, IO(SCSI_FLUSH, 0, 0) },
	{ "sync 10, immed, range", LU_RW, { 0x35, 0x02, 0, 0, 0, 100, 0, 0, 10, 0 }, 0, 0, NULL,
	  IO(SCSI_FLUSH, 0, 0) },
	{ "sync 10, past the end", LU_RW, { 0x35, 0, 0, 0, 0x07, 0xf8, 0, 0, 9, 0 }, 0, 0, NULL,
	  OOR },
	{ "sync 16", LU_RW, { 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL,
	  IO(SCSI_FLUSH, 0, 0) },
	{ "sync 16, past the end", LU_RW,
	  { 0x91, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL, OOR },
	{ "sync 10, read-only", LU_RO, { 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL,
	  IO(SCSI_FLUSH, 0, 0) },

	/* WRITE SAME */
	{ "write same 10, unmap, zeroes", LU_RW, { 0x41, 0x08, 0, 0, 0, 0x10, 0, 0, 0x20, 0 }, 0,
	  512, zero_block, IO(SCSI_DISCARD, 16 * 512, 32 * 512) },
	{ "write same 16, ndob, unmap", LU_RW,
	  { 0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0 }, 0, 0, NULL,
	  IO(SCSI_DISCARD, 16 * 512, 32 * 512) },
	{ "write same 16, ndob", LU_RW,
	  { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0 }, 0, 0, NULL,
	  IO(SCSI_WRITE_ZEROES, 16 * 512, 32 * 512) },
	{ "write same 10, zeroes", LU_RW, { 0x41, 0x00, 0, 0, 0, 0x10, 0, 0, 0x20, 0 }, 0, 512,
	  zero_block, IO(SCSI_WRITE_ZEROES, 16 * 512, 32 * 512) },
	{ "write same 10, unmap, no discard", LU_ZERO, { 0x41, 0x08, 0, 0, 0, 0x10, 0, 0, 0x20, 0 },
	  0, 512, zero_block, IO(SCSI_WRITE_ZEROES, 16 * 512, 32 * 512) },
	{ "write same 10, zeroes written", LU_PLAIN, { 0x41, 0x08, 0, 0, 0, 0x10, 0, 0, 0x20, 0 },
	  0, 512, zero_block, IO(SCSI_WRITE, 16 * 512, 32 * 512) },
	{ "write same 10, pattern", LU_RW, { 0x41, 0x00, 0, 0, 0, 0x10, 0, 0, 0x20, 0 }, 0, 512,
	  pattern, IO(SCSI_WRITE, 16 * 512, 16 * 512) },
	{ "write same 10, pattern, unmap", LU_RW, { 0x41, 0x08, 0, 0, 0, 0x10, 0, 0, 0x20, 0 }, 0,
	  512, pattern, IO(SCSI_WRITE, 16 * 512, 16 * 512) },
	{ "write same 10, 0 blocks", LU_RW, { 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 512, pattern,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 7)) },
	{ "write same 16, 0 blocks", LU_RW,
	  { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 10)) },
	{ "write same 16, above the maximum", LU_BIG,
	  { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0x00, 0x01, 0, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 10)) },
	{ "write same 10, anchor", LU_RW, { 0x41, 0x18, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(4), 1)) },
	{ "write same 10, wrprotect", LU_RW, { 0x41, 0x40, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(7), 1)) },
	{ "write same 10, pbdata", LU_RW, { 0x41, 0x04, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 1)) },
	{ "write same 10, lbdata", LU_RW, { 0x41, 0x02, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(1), 1)) },
	{ "write same 10, bit 0", LU_RW, { 0x41, 0x01, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(0), 1)) },
	{ "write same 16, lbdata", LU_RW,
	  { 0x93, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, 0, 512, zero_block,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(1), 1)) },
	{ "write same 10, past the end", LU_RW, { 0x41, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0 }, 0, 512,
	  zero_block, OOR },
	{ "write same 10, read-only", LU_RO, { 0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 512,
	  zero_block, WRITE_PROT },
	{ "write same 10, overrun", LU_RW, { 0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 0, 256,
	  zero_block, .action = SCSI_OVERRUN },

	/* UNMAP */
	{ "unmap", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24, unmap_one,
	  IO(SCSI_DISCARD, 16 * 512, 8 * 512) },
	{ "unmap, nothing", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0, 0, NULL, GOOD },
	{ "unmap, no descriptors", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 8, 0 }, 0, 8, unmap_none,
	  GOOD, .xferred = 8 },
	{ "unmap, partial descriptor", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 28, 0 }, 0, 28,
	  unmap_partial, IO(SCSI_DISCARD, 32 * 512, 512) },
	{ "unmap, list cut", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 20, 0 }, 0, 24, unmap_one,
	  GOOD, .xferred = 20 },
	{ "unmap, short list", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0 }, 0, 24, unmap_one,
	  CHECK(SENSE(SK_ILLEGAL, 0x1a, 0x00 /* PARAMETER LIST LENGTH ERROR */, NO_SKS)) },
	{ "unmap, anchor", LU_RW, { 0x42, 0x01, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24, unmap_one,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(0), 1)) },
	{ "unmap, past the end", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24, unmap_oor,
	  OOR },
	{ "unmap, 17 descriptors", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0x01, 0x18, 0 }, 0,
	  sizeof(unmap_17), unmap_17, CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 2)) },
	{ "unmap, data length", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24,
	  unmap_short_len, CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 0)) },
	{ "unmap, too many blocks", LU_BIG, { 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0 }, 0, 40,
	  unmap_total, CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 32)) },
	{ "unmap, descriptor too big", LU_BIG, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24,
	  unmap_huge, CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 16)) },
	{ "unmap, overrun", LU_RW, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 16, unmap_one,
	  .action = SCSI_OVERRUN },
	{ "unmap, no discard", LU_PLAIN, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24, unmap_one,
	  CHECK(SENSE(SK_ILLEGAL, 0x20, 0x00 /* INVALID COMMAND OPERATION CODE */, NO_SKS)) },
	{ "unmap, read-only", LU_RO, { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24, unmap_one,
	  CHECK(SENSE(SK_ILLEGAL, 0x20, 0x00, NO_SKS)) },
};

START_TEST(io_table)
{
	row_run(&io_rows[_i]);
}
END_TEST

static uint64_t iov_total(const struct scsi_cmd *c)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < c->niov; i++)
		n += c->iov[i].iov_len;
	return n;
}

/* The buffers go to the backend as they are: cut to the transfer, no copy. */
START_TEST(rw_buffers)
{
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 2, 0, 0, 5, 0 };
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 2, 0, 0, 3, 0 };
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	/* 4096 bytes in 4 iovecs of 1024; 2560 wanted: 3 iovecs, the last cut. */
	row_cmd(&c, rd, 4096, NULL, 0, 4);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_READ);
	ck_assert_uint_eq(c.niov, 3);
	ck_assert_ptr_eq(c.iov[0].iov_base, row_in);
	ck_assert_uint_eq(c.iov[2].iov_len, 512);
	ck_assert_uint_eq(iov_total(&c), 2560);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 2560), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.xferred, 2560);

	row_cmd(&c, wr, 0, pattern, 512, 1);
	c.out_len = 2048;			/* 512 of pattern, then zeroes */
	c.out[0].iov_len = 2048;
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_uint_eq(c.niov, 1);
	ck_assert_ptr_eq(c.iov[0].iov_base, row_out);
	ck_assert_uint_eq(c.iov[0].iov_len, 1536);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 1536), SCSI_DONE);
	ck_assert_uint_eq(c.xferred, 1536);
}
END_TEST

/* FUA: the write, then a flush, then GOOD. */
START_TEST(write_fua)
{
	static const uint8_t fua10[16] = { 0x2a, 0x08, 0, 0, 0, 1, 0, 0, 1, 0 };
	static const uint8_t fua16[16] = { 0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0 };
	static const uint8_t wr6[16] = { 0x0a, 0x00, 0, 1, 1, 0 };	/* (6) has no FUA */
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	row_cmd(&c, fua10, 0, pattern, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 512), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.xferred, 512);
	row_cmd(&c, fua16, 0, pattern, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 512), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	row_cmd(&c, wr6, 0, pattern, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_uint_eq(c.offset, 512);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 512), SCSI_DONE);
}
END_TEST

/* I/O failures: MEDIUM ERROR, with the first bad block when known. */
START_TEST(io_errors)
{
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 2, 0, 0, 4, 0 };
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 2, 0, 0, 4, 0 };
	static const uint8_t short_read[18] = {
		0xf0,			/* VALID 1, RESPONSE CODE 70h */
		0x00, 0x03,		/* SENSE KEY: MEDIUM ERROR */
		0x00, 0x00, 0x00, 0x04,	/* INFORMATION: LBA 4, the first not read */
		0x0a, 0, 0, 0, 0,
		0x11, 0x00,		/* UNRECOVERED READ ERROR */
		0, 0, 0, 0,
	};
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	row_cmd(&c, rd, 2048, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_READ);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EIO), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_CHECK_CONDITION);
	ck_assert_mem_eq(c.sense, SENSE(0x03, 0x11, 0x00, NO_SKS), 18);
	ck_assert_uint_eq(c.xferred, 0);

	row_cmd(&c, rd, 2048, NULL, 0, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 1024), SCSI_DONE);
	ck_assert_mem_eq(c.sense, short_read, 18);

	row_cmd(&c, wr, 0, pattern, 2048, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -ENOSPC), SCSI_DONE);
	ck_assert_mem_eq(c.sense, SENSE(0x03, 0x0c /* WRITE ERROR */, 0x00, NO_SKS), 18);

	row_cmd(&c, wr, 0, pattern, 2048, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EROFS), SCSI_DONE);
	ck_assert_mem_eq(c.sense, SENSE(0x07, 0x27, 0x00, NO_SKS), 18);

	/* No room to queue it: BUSY, no sense, the initiator retries. */
	row_cmd(&c, wr, 0, pattern, 2048, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EBUSY), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_BUSY);
	ck_assert_uint_eq(c.sense_len, 0);
	ck_assert_uint_eq(c.xferred, 0);
}
END_TEST

/* A pattern is written by repeating the guest's block in the iovecs. */
START_TEST(write_same_pattern_loop)
{
	static const uint8_t ws[16] = { 0x41, 0, 0, 0, 0, 0x10, 0, 0, 40, 0 };
	struct scsi_lun *lu = row_lun(LU_RW);
	struct iovec many[20];
	struct scsi_cmd c;
	uint64_t lba = 16;

	/* One iovec per block: 16 blocks per write, 16 + 16 + 8. */
	row_cmd(&c, ws, 0, pattern, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	for (unsigned step = 0; step < 3; step++) {
		uint64_t n = step < 2 ? 16 : 8;

		ck_assert_uint_eq(c.offset, lba * 512);
		ck_assert_uint_eq(c.len, n * 512);
		ck_assert_uint_eq(c.niov, n);
		for (unsigned i = 0; i < c.niov; i++)
			ck_assert_ptr_eq(c.iov[i].iov_base, row_out);
		lba += n;
		ck_assert_int_eq(scsi_disk_io_done(lu, &c, (int)c.len),
				 step < 2 ? SCSI_WRITE : SCSI_DONE);
	}
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.xferred, 512);

	/* A block in two pieces: 8 blocks per write. */
	row_cmd(&c, ws, 0, pattern, 512, 2);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_uint_eq(c.niov, 16);
	ck_assert_uint_eq(c.len, 8 * 512);

	/* In 20 pieces: one block per write, the guest's iovecs as they are. */
	row_cmd(&c, ws, 0, pattern, 512, 1);
	for (unsigned i = 0; i < 20; i++) {
		many[i].iov_base = row_out + i * 25;
		many[i].iov_len = i < 19 ? 25 : 512 - 19 * 25;
	}
	c.out = many;
	c.nout = 20;
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_ptr_eq(c.iov, many);
	ck_assert_uint_eq(c.niov, 20);
	ck_assert_uint_eq(c.len, 512);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 512), SCSI_WRITE);
	ck_assert_uint_eq(c.offset, 17 * 512);

	/* A short write fails the command at the first block not written. */
	row_cmd(&c, ws, 0, pattern, 512, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 16 * 512), SCSI_WRITE);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 3 * 512), SCSI_DONE);
	ck_assert_uint_eq(c.sense[0], 0xf0);			/* VALID */
	ck_assert_uint_eq(c.sense[6], 16 + 16 + 3);		/* INFORMATION */
	ck_assert_uint_eq(c.sense[12], 0x0c);
}
END_TEST

/* Zeroes: discard, else zero-range, else writes from a zero buffer. */
START_TEST(write_same_zero_fallbacks)
{
	static const uint8_t ws[16] = { 0x41, 0x08, 0, 0, 0, 0x10, 0, 0, 0x20, 0 };
	static const uint8_t whole[16] = { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0 };
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	row_cmd(&c, ws, 0, zero_block, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DISCARD);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EOPNOTSUPP), SCSI_WRITE_ZEROES);
	ck_assert_uint_eq(c.offset, 16 * 512);
	ck_assert_uint_eq(c.len, 32 * 512);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EOPNOTSUPP), SCSI_WRITE);
	ck_assert_uint_eq(c.len, 32 * 512);
	ck_assert_ptr_ne(c.iov[0].iov_base, row_out);	/* kite's own zeroes */
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 32 * 512), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_GOOD);

	/* The whole disk in 64 KiB pieces: 16 of them per write. */
	row_cmd(&c, whole, 0, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_PLAIN), &c), SCSI_WRITE);
	ck_assert_uint_eq(c.niov, 16);
	ck_assert_uint_eq(c.len, 1 << 20);
	ck_assert_uint_eq(iov_total(&c), 1 << 20);
	ck_assert_int_eq(scsi_disk_io_done(row_lun(LU_PLAIN), &c, 1 << 20), SCSI_DONE);
	ck_assert_uint_eq(c.xferred, 0);				/* NDOB: no data-out */

	/* A failed discard is a write error; with WCE 0 success flushes. */
	row_cmd(&c, ws, 0, zero_block, 512, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EIO), SCSI_DONE);
	ck_assert_uint_eq(c.sense[12], 0x0c);
	atomic_store(&lu->wce, false);
	row_cmd(&c, ws, 0, zero_block, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DISCARD);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	ck_assert_uint_eq(c.xferred, 512);
}
END_TEST

/* UNMAP: every descriptor checked, then one discard per non-empty one,
 * each read again when its turn comes. */
START_TEST(unmap_sequence)
{
	static const uint8_t cdb[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 56, 0 };
	static const uint8_t list[56] = {
		0x00, 0x36, 0x00, 0x30, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0x00, 0x08, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, /* empty */
		0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0,
	};
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	row_cmd(&c, cdb, 0, list, sizeof(list), 2);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DISCARD);
	ck_assert_uint_eq(c.offset, 8 * 512);
	ck_assert_uint_eq(c.len, 4 * 512);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DISCARD);
	ck_assert_uint_eq(c.offset, 256 * 512);
	ck_assert_uint_eq(c.len, 16 * 512);
	/* Unmapping may leave blocks mapped: a refused discard is fine. */
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EOPNOTSUPP), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.xferred, 56);

	/* Other errors are write errors. */
	row_cmd(&c, cdb, 0, list, sizeof(list), 1);
	scsi_disk_exec(lu, &c);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EIO), SCSI_DONE);
	ck_assert_mem_eq(c.sense, SENSE(0x03, 0x0c, 0x00, NO_SKS), 18);

	/* The guest moves the third descriptor past the end meanwhile. */
	row_cmd(&c, cdb, 0, list, sizeof(list), 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DISCARD);
	row_out[8 + 32 + 6] = 0xff;
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	ck_assert_mem_eq(c.sense, SENSE(SK_ILLEGAL, 0x21, 0x00, NO_SKS), 18);

	/* Write-through: the last discard is followed by a flush. */
	atomic_store(&lu->wce, false);
	row_cmd(&c, (const uint8_t[16]){ 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, list, 24, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DISCARD);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
}
END_TEST

void scsi_disk_io_tcases(Suite *s)
{
	TCase *tc = tcase_create("io");

	tcase_add_checked_fixture(tc, rows_setup, NULL);
	tcase_add_loop_test(tc, io_table, 0, ARRAY_SIZE(io_rows));
	tcase_add_test(tc, rw_buffers);
	tcase_add_test(tc, write_fua);
	tcase_add_test(tc, io_errors);
	tcase_add_test(tc, write_same_pattern_loop);
	tcase_add_test(tc, write_same_zero_fallbacks);
	tcase_add_test(tc, unmap_sequence);
	suite_add_tcase(s, tc);
}
