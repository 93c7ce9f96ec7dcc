// SPDX-License-Identifier: Apache-2.0
/*
 * The SCSI disk target without virtio: CDB tables for the commands that
 * describe the logical unit (INQUIRY and its VPD pages, READ CAPACITY,
 * MODE SENSE / SELECT, REQUEST SENSE, REPORT LUNS, REPORT SUPPORTED
 * OPERATION CODES, TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL). The block commands are in test_scsi_disk_io.c.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/scsi_disk_rows.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- the harness ---- */

uint8_t row_in[ROW_BUF], row_out[ROW_BUF];
static struct iovec in_iov[4], out_iov[4];
static struct disk disks[LU_KINDS];
static struct scsi_lun luns[LU_KINDS];

void rows_setup(void)
{
	for (unsigned k = 0; k < LU_KINDS; k++) {
		struct disk *d = &disks[k];

		memset(d, 0, sizeof(*d));
		d->fd = d->buffered_fd = d->lock_fd = -1;
		d->size = 1 << 20;
		d->block_size = 512;
		d->phys_block_size = 4096;
		d->can_discard = d->can_zero = true;
		strcpy(d->serial, ROW_SERIAL);
		switch (k) {
		case LU_RO:
			d->readonly = true;
			d->can_discard = d->can_zero = false;
			break;
		case LU_ZERO:
			d->can_discard = false;
			break;
		case LU_PLAIN:
			d->can_discard = d->can_zero = false;
			break;
		case LU_BIG:
			d->size = 3ULL << 40;
			break;
		case LU_4K:
			d->block_size = 4096;
			break;
		}
		scsi_lun_init(&luns[k], d);
	}
}

struct scsi_lun *row_lun(enum lun_kind k)
{
	return k == LU_NONE ? NULL : &luns[k];
}

static unsigned split(struct iovec *iov, uint8_t *buf, uint32_t len, unsigned pieces)
{
	uint32_t each = len / pieces, off = 0;

	if (!len)
		return 0;
	for (unsigned i = 0; i < pieces; i++) {
		iov[i].iov_base = buf + off;
		iov[i].iov_len = i + 1 < pieces ? each : len - off;
		off += iov[i].iov_len;
	}
	return pieces;
}

void row_cmd(struct scsi_cmd *c, const uint8_t *cdb, uint32_t in_len, const uint8_t *out,
	     uint32_t out_len, unsigned pieces)
{
	ck_assert_uint_le(in_len, ROW_BUF);
	ck_assert_uint_le(out_len, ROW_BUF);
	memset(c, 0, sizeof(*c));
	memcpy(c->cdb, cdb, 16);
	memset(row_in, 0xee, sizeof(row_in));
	memset(row_out, 0, sizeof(row_out));
	if (out)
		memcpy(row_out, out, out_len);
	c->in = in_iov;
	c->nin = split(in_iov, row_in, in_len, pieces);
	c->in_len = in_len;
	c->out = out_iov;
	c->nout = split(out_iov, row_out, out_len, pieces);
	c->out_len = out_len;
}

void row_run(const struct row *r)
{
	struct scsi_cmd c;
	enum scsi_action a;

	row_cmd(&c, r->cdb, r->in_len, r->out, r->out_len, 1);
	a = scsi_disk_exec(row_lun(r->lun), &c);
	ck_assert_msg(a == r->action, "%s: action %d, expected %d", r->name, a, r->action);
	if (a == SCSI_OVERRUN)
		return;
	if (a != SCSI_DONE) {
		uint64_t total = 0;

		ck_assert_msg(c.offset == r->offset, "%s: offset %llu, expected %llu", r->name,
			      (unsigned long long)c.offset, (unsigned long long)r->offset);
		ck_assert_msg(c.len == r->len, "%s: length %llu, expected %llu", r->name,
			      (unsigned long long)c.len, (unsigned long long)r->len);
		if (a == SCSI_READ || a == SCSI_WRITE) {
			for (unsigned i = 0; i < c.niov; i++)
				total += c.iov[i].iov_len;
			ck_assert_msg(total == c.len, "%s: iovecs hold %llu bytes", r->name,
				      (unsigned long long)total);
		}
		return;
	}
	ck_assert_msg(c.status == r->status, "%s: status %02x, expected %02x", r->name,
		      c.status, r->status);
	if (r->status == SCSI_CHECK_CONDITION) {
		ck_assert_msg(c.sense_len == SCSI_SENSE_LEN, "%s: sense_len %u", r->name,
			      c.sense_len);
		for (unsigned i = 0; i < SCSI_SENSE_LEN; i++)
			ck_assert_msg(c.sense[i] == r->sense[i],
				      "%s: sense byte %u is %02x, expected %02x", r->name, i,
				      c.sense[i], r->sense[i]);
	} else {
		ck_assert_msg(c.sense_len == 0, "%s: sense without CHECK CONDITION", r->name);
	}
	ck_assert_msg(c.xferred == r->xferred, "%s: %llu bytes moved, expected %u", r->name,
		      (unsigned long long)c.xferred, r->xferred);
	ck_assert_msg(!r->data || r->dlen == r->xferred, "%s: the table has %u data bytes",
		      r->name, r->dlen);
	for (unsigned i = 0; r->data && i < r->xferred; i++)
		ck_assert_msg(row_in[i] == r->data[i], "%s: data byte %u is %02x, expected %02x",
			      r->name, i, row_in[i], r->data[i]);
	for (unsigned i = r->data ? r->xferred : 0; i < r->in_len; i++)
		ck_assert_msg(row_in[i] == 0xee, "%s: data-in byte %u written", r->name, i);
}

/* ---- expected data ---- */

/* Standard INQUIRY data (SPC-4). */
#define STD_INQUIRY(pdt)							\
	(pdt),		/* PERIPHERAL QUALIFIER, PERIPHERAL DEVICE TYPE */	\
	0x00,		/* RMB 0, LU_CONG 0 */					\
	0x06,		/* VERSION: SPC-4 */					\
	0x12,		/* NORMACA 0, HISUP 1, RESPONSE DATA FORMAT 2 */	\
	0x1f,		/* ADDITIONAL LENGTH: 36 - 5 */				\
	0x00,		/* SCCS ACC TPGS 3PC PROTECT */				\
	0x00,		/* ENCSERV MULTIP */					\
	0x02,		/* CMDQUE */						\
	VENDOR,		/* T10 VENDOR IDENTIFICATION */				\
	PRODUCT,	/* PRODUCT IDENTIFICATION */				\
	'0', '0', '0', '1'	/* PRODUCT REVISION LEVEL */

/* The caching mode page with WCE as given, 20 bytes (SBC-3). */
#define CACHING(wce)								\
	0x08,		/* PS 0, SPF 0, PAGE CODE 08h */			\
	0x12,		/* PAGE LENGTH 18 */					\
	(wce) ? 0x04 : 0x00,	/* IC ABPF CAP DISC SIZE WCE MF RCD */		\
	0x00,		/* DEMAND READ / WRITE RETENTION PRIORITY */		\
	0, 0,		/* DISABLE PRE-FETCH TRANSFER LENGTH */			\
	0, 0,		/* MINIMUM PRE-FETCH */					\
	0, 0,		/* MAXIMUM PRE-FETCH */					\
	0, 0,		/* MAXIMUM PRE-FETCH CEILING */				\
	0x00,		/* FSW LBCSS DRA NV_DIS */				\
	0x00,		/* NUMBER OF CACHE SEGMENTS */				\
	0, 0,		/* CACHE SEGMENT SIZE */				\
	0,		/* reserved */						\
	0, 0, 0		/* obsolete */

/* The control mode page, 12 bytes (SPC-4). */
#define CONTROL_CURRENT								\
	0x0a, 0x0a,	/* PAGE CODE 0Ah, PAGE LENGTH 10 */			\
	0x02,		/* TST 0, TMF_ONLY 0, D_SENSE 0, GLTSD 1, RLEC 0 */	\
	0x10,		/* QUEUE ALGORITHM MODIFIER 1, QERR 0 */		\
	0x00,		/* RAC, UA_INTLCK_CTRL, SWP */				\
	0x00,		/* ATO, TAS, AUTOLOAD MODE */				\
	0, 0,		/* obsolete */						\
	0, 0,		/* BUSY TIMEOUT PERIOD */				\
	0, 0		/* EXTENDED SELF-TEST COMPLETION TIME */
#define CONTROL_CHANGEABLE	0x0a, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0

/* Short LBA block descriptor: 2048 blocks of 512 bytes. */
#define SHORT_BD	0x00, 0x00, 0x08, 0x00,	/* NUMBER OF LOGICAL BLOCKS */	\
			0x00,			/* reserved */			\
			0x00, 0x02, 0x00	/* LOGICAL BLOCK LENGTH */

/* MODE SELECT parameter lists. */
static const uint8_t sel6_wce0[] = {
	0x00, 0x00, 0x00, 0x00,	/* MODE DATA LENGTH, MEDIUM TYPE, DEVICE-SPECIFIC, BD LENGTH 0 */
	CACHING(0),
};
static const uint8_t sel6_wce1_ps[] = {
	0x00, 0x00, 0x80, 0x00,	/* device-specific WP set: ignored by MODE SELECT */
	0x88, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* PS set: reserved */
};
static const uint8_t sel6_medium[] = { 0x00, 0x01, 0x00, 0x00 };
static const uint8_t sel6_bd4[] = { 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0 };
static const uint8_t sel6_bd_1k[] = {
	0x00, 0x00, 0x00, 0x08,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,	/* block length 1024 */
};
static const uint8_t sel6_bd_ok[] = {
	0x00, 0x00, 0x00, 0x08,
	0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x02, 0x00,	/* any count, block length 512 */
	CACHING(1),
};
static const uint8_t sel6_rcd[] = {
	0x00, 0x00, 0x00, 0x00,
	0x08, 0x12, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* WCE + RCD */
};
static const uint8_t sel6_qam[] = {
	0x00, 0x00, 0x00, 0x00,
	0x0a, 0x0a, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,	/* QUEUE ALGORITHM MODIFIER 0 */
};
static const uint8_t sel6_page1[] = { 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0, 0, 0, 0, 0, 0 };
static const uint8_t sel6_spf[] = { 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x12 };
static const uint8_t sel6_len[] = { 0x00, 0x00, 0x00, 0x00, 0x08, 0x0a, 0, 0, 0, 0, 0, 0 };
static const uint8_t sel10_wce0[] = {
	0x00, 0x00, 0x00, 0x00,	/* MODE DATA LENGTH, MEDIUM TYPE, DEVICE-SPECIFIC */
	0x00, 0x00,		/* LONGLBA 0, reserved */
	0x00, 0x00,		/* BLOCK DESCRIPTOR LENGTH */
	CACHING(0),
};
static const uint8_t sel10_long[] = {
	0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10,	/* LONGLBA, BD LENGTH 16 */
	0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00,
};
static const uint8_t sel10_long8[] = {
	0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08,	/* LONGLBA with an 8-byte BD */
	0, 0, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00,
};

#define GOOD		.action = SCSI_DONE, .status = SCSI_GOOD
#define CHECK(s)	.action = SCSI_DONE, .status = SCSI_CHECK_CONDITION, .sense = (s)
#define DATA(n, ...)	GOOD, .xferred = (n), .data = BYTES(__VA_ARGS__),	\
			.dlen = sizeof(BYTES(__VA_ARGS__))

static const struct row info_rows[] = {
	/* TEST UNIT READY */
	{ "tur", LU_RW, { 0x00, 0, 0, 0, 0, 0 }, 0, 0, NULL, GOOD },
	{ "tur naca", LU_RW, { 0x00, 0, 0, 0, 0, 0x04 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 5)) },
	{ "tur no lun", LU_NONE, { 0x00 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x25, 0x00, NO_SKS)) },
	{ "unknown opcode", LU_RW, { 0x04, 0, 0, 0, 0, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x20, 0x00, NO_SKS)) },
	{ "service action in, unknown action", LU_RW, { 0x9e, 0x11 }, 32, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(4), 1)) },

	/* REQUEST SENSE */
	{ "request sense", LU_RW, { 0x03, 0, 0, 0, 18, 0 }, 18, 0, NULL,
	  DATA(18, 0x70, 0, 0x00 /* NO SENSE */, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
	       0x00, 0x00 /* no ASC */, 0, 0, 0, 0) },
	{ "request sense, short", LU_RW, { 0x03, 0, 0, 0, 8, 0 }, 8, 0, NULL,
	  DATA(8, 0x70, 0, 0, 0, 0, 0, 0, 0x0a) },
	{ "request sense, descriptor", LU_RW, { 0x03, 0x01, 0, 0, 32, 0 }, 32, 0, NULL,
	  DATA(8, 0x72 /* RESPONSE CODE */, 0x00 /* SENSE KEY */, 0x00, 0x00 /* ASC, ASCQ */,
	       0, 0, 0, 0x00 /* ADDITIONAL SENSE LENGTH */) },
	{ "request sense, overrun", LU_RW, { 0x03, 0, 0, 0, 252, 0 }, 96, 0, NULL,
	  .action = SCSI_OVERRUN },
	{ "request sense, no lun", LU_NONE, { 0x03, 0, 0, 0, 18, 0 }, 18, 0, NULL,
	  DATA(18, 0x70, 0, 0x05 /* ILLEGAL REQUEST */, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
	       0x25, 0x00 /* LOGICAL UNIT NOT SUPPORTED */, 0, 0, 0, 0) },

	/* INQUIRY: standard data */
	{ "inquiry", LU_RW, { 0x12, 0, 0, 0, 36, 0 }, 36, 0, NULL,
	  DATA(36, STD_INQUIRY(0x00)) },
	{ "inquiry, long buffer", LU_RW, { 0x12, 0, 0, 0, 96, 0 }, 96, 0, NULL,
	  DATA(36, STD_INQUIRY(0x00)) },
	{ "inquiry, allocation 5", LU_RW, { 0x12, 0, 0, 0, 5, 0 }, 5, 0, NULL,
	  DATA(5, 0x00, 0x00, 0x06, 0x12, 0x1f) },
	{ "inquiry, allocation 0", LU_RW, { 0x12, 0, 0, 0, 0, 0 }, 0, 0, NULL, GOOD },
	{ "inquiry, 16-bit allocation", LU_RW, { 0x12, 0, 0, 0x01, 0x00, 0 }, 256, 0, NULL,
	  DATA(36, STD_INQUIRY(0x00)) },
	{ "inquiry, overrun", LU_RW, { 0x12, 0, 0, 0, 96, 0 }, 36, 0, NULL,
	  .action = SCSI_OVERRUN },
	{ "inquiry, page without evpd", LU_RW, { 0x12, 0, 0x80, 0, 36, 0 }, 36, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },
	{ "inquiry, cmddt", LU_RW, { 0x12, 0x02, 0, 0, 36, 0 }, 36, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(1), 1)) },
	{ "inquiry, no lun", LU_NONE, { 0x12, 0, 0, 0, 36, 0 }, 36, 0, NULL,
	  DATA(36, STD_INQUIRY(0x7f /* QUALIFIER 011b, TYPE 1Fh */)) },

	/* INQUIRY: VPD pages */
	{ "vpd 00", LU_RW, { 0x12, 0x01, 0x00, 0, 255, 0 }, 255, 0, NULL,
	  DATA(10, 0x00, 0x00 /* PAGE CODE */, 0x00, 0x06 /* PAGE LENGTH */,
	       0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2) },
	{ "vpd 00, no lun", LU_NONE, { 0x12, 0x01, 0x00, 0, 255, 0 }, 255, 0, NULL,
	  DATA(5, 0x7f, 0x00, 0x00, 0x01, 0x00) },
	{ "vpd 80, no lun", LU_NONE, { 0x12, 0x01, 0x80, 0, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },
	{ "vpd 80", LU_RW, { 0x12, 0x01, 0x80, 0, 255, 0 }, 255, 0, NULL,
	  DATA(20, 0x00, 0x80, 0x00, 0x10 /* PAGE LENGTH */, SERIAL) },
	{ "vpd 83", LU_RW, { 0x12, 0x01, 0x83, 0, 255, 0 }, 255, 0, NULL,
	  DATA(48, 0x00, 0x83, 0x00, 0x2c /* PAGE LENGTH 44 */,
	       0x02,	/* PROTOCOL IDENTIFIER 0, CODE SET 2: ASCII */
	       0x01,	/* PIV 0, ASSOCIATION 0: LU, DESIGNATOR TYPE 1: T10 vendor ID */
	       0x00,	/* reserved */
	       0x28,	/* DESIGNATOR LENGTH 40 */
	       VENDOR, PRODUCT, SERIAL) },
	{ "vpd b0", LU_RW, { 0x12, 0x01, 0xb0, 0, 255, 0 }, 255, 0, NULL,
	  DATA(64, 0x00, 0xb0, 0x00, 0x3c /* PAGE LENGTH 60 */,
	       0x01,			/* WSNZ */
	       0x00,			/* MAXIMUM COMPARE AND WRITE LENGTH */
	       0x00, 0x08,		/* OPTIMAL TRANSFER LENGTH GRANULARITY: 4 KiB */
	       0x00, 0x00, 0xff, 0xff,	/* MAXIMUM TRANSFER LENGTH */
	       0, 0, 0, 0,		/* OPTIMAL TRANSFER LENGTH */
	       0, 0, 0, 0,		/* MAXIMUM PREFETCH LENGTH */
	       0x00, 0x20, 0x00, 0x00,	/* MAXIMUM UNMAP LBA COUNT: 1 GiB */
	       0x00, 0x00, 0x00, 0x10,	/* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
	       0x00, 0x00, 0x00, 0x08,	/* OPTIMAL UNMAP GRANULARITY */
	       0x80, 0x00, 0x00, 0x00,	/* UGAVALID, UNMAP GRANULARITY ALIGNMENT */
	       0, 0, 0, 0, 0x00, 0x20, 0x00, 0x00,	/* MAXIMUM WRITE SAME LENGTH */
	       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "vpd b0, no unmap, 4k", LU_4K, { 0x12, 0x01, 0xb0, 0, 255, 0 }, 255, 0, NULL,
	  DATA(64, 0x00, 0xb0, 0x00, 0x3c, 0x01, 0x00,
	       0x00, 0x01,		/* OPTIMAL TRANSFER LENGTH GRANULARITY */
	       0x00, 0x00, 0x1f, 0xff,	/* MAXIMUM TRANSFER LENGTH: 8191 blocks */
	       0, 0, 0, 0, 0, 0, 0, 0,
	       0x00, 0x04, 0x00, 0x00,	/* MAXIMUM UNMAP LBA COUNT: 1 GiB */
	       0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00,
	       0, 0, 0, 0, 0x00, 0x04, 0x00, 0x00,	/* MAXIMUM WRITE SAME LENGTH */
	       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "vpd b0, plain", LU_PLAIN, { 0x12, 0x01, 0xb0, 0, 36, 0 }, 36, 0, NULL,
	  DATA(36, 0x00, 0xb0, 0x00, 0x3c, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff,
	       0, 0, 0, 0, 0, 0, 0, 0,
	       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 /* no UNMAP: all 0 */) },
	{ "vpd b1", LU_RW, { 0x12, 0x01, 0xb1, 0, 8, 0 }, 8, 0, NULL,
	  DATA(8, 0x00, 0xb1, 0x00, 0x3c /* PAGE LENGTH 60 */,
	       0x00, 0x01,	/* MEDIUM ROTATION RATE: non-rotating */
	       0x00,		/* PRODUCT TYPE */
	       0x00) },		/* WABEREQ WACEREQ NOMINAL FORM FACTOR */
	{ "vpd b2", LU_RW, { 0x12, 0x01, 0xb2, 0, 255, 0 }, 255, 0, NULL,
	  DATA(8, 0x00, 0xb2, 0x00, 0x04 /* PAGE LENGTH */,
	       0x00,	/* THRESHOLD EXPONENT */
	       0xe4,	/* LBPU, LBPWS, LBPWS10, LBPRZ; ANC_SUP 0, DP 0 */
	       0x02,	/* PROVISIONING TYPE: thin */
	       0x00) },
	{ "vpd b2, read-only", LU_RO, { 0x12, 0x01, 0xb2, 0, 255, 0 }, 255, 0, NULL,
	  DATA(8, 0x00, 0xb2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00) },
	{ "vpd unsupported", LU_RW, { 0x12, 0x01, 0x81, 0, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },

	/* READ CAPACITY (10) */
	{ "read capacity 10", LU_RW, { 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 8, 0, NULL,
	  DATA(8, 0x00, 0x00, 0x07, 0xff,	/* RETURNED LOGICAL BLOCK ADDRESS 2047 */
	       0x00, 0x00, 0x02, 0x00) },	/* LOGICAL BLOCK LENGTH 512 */
	{ "read capacity 10, big", LU_BIG, { 0x25 }, 8, 0, NULL,
	  DATA(8, 0xff, 0xff, 0xff, 0xff /* too many: use (16) */, 0x00, 0x00, 0x02, 0x00) },
	{ "read capacity 10, 4k", LU_4K, { 0x25 }, 16, 0, NULL,
	  DATA(8, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x10, 0x00) },
	{ "read capacity 10, lba without pmi", LU_RW, { 0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0 }, 8, 0,
	  NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },
	{ "read capacity 10, lba with pmi", LU_RW, { 0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0 }, 8, 0, NULL,
	  DATA(8, 0x00, 0x00, 0x07, 0xff, 0x00, 0x00, 0x02, 0x00) },
	{ "read capacity 10, overrun", LU_RW, { 0x25 }, 4, 0, NULL, .action = SCSI_OVERRUN },

	/* READ CAPACITY (16) */
	{ "read capacity 16", LU_RW, { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 },
	  32, 0, NULL,
	  DATA(32, 0, 0, 0, 0, 0x00, 0x00, 0x07, 0xff,	/* RETURNED LOGICAL BLOCK ADDRESS */
	       0x00, 0x00, 0x02, 0x00,		/* LOGICAL BLOCK LENGTH IN BYTES */
	       0x00,				/* RC BASIS, P_TYPE, PROT_EN */
	       0x03,		/* P_I_EXPONENT 0, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT 3 */
	       0xc0, 0x00,	/* LBPME, LBPRZ, LOWEST ALIGNED LOGICAL BLOCK ADDRESS 0 */
	       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "read capacity 16, big, short", LU_BIG,
	  { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0 }, 12, 0, NULL,
	  DATA(12, 0x00, 0x00, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00) },
	{ "read capacity 16, plain", LU_PLAIN,
	  { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0 }, 16, 0, NULL,
	  DATA(16, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0x02, 0, 0x00, 0x03,
	       0x00 /* no LBPME, no LBPRZ */, 0x00) },
	{ "read capacity 16, lba without pmi", LU_RW,
	  { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 32, 0, 0 }, 32, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },
	{ "read capacity 16, overrun", LU_RW,
	  { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 }, 16, 0, NULL,
	  .action = SCSI_OVERRUN },

	/* MODE SENSE (6) */
	{ "mode sense 6, caching", LU_RW, { 0x1a, 0x00, 0x08, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(32, 0x1f,	/* MODE DATA LENGTH 31 */
	       0x00,		/* MEDIUM TYPE */
	       0x10,		/* DEVICE-SPECIFIC PARAMETER: WP 0, DPOFUA 1 */
	       0x08,		/* BLOCK DESCRIPTOR LENGTH */
	       SHORT_BD, CACHING(1)) },
	{ "mode sense 6, control, dbd", LU_RW, { 0x1a, 0x08, 0x0a, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(16, 0x0f, 0x00, 0x10, 0x00, CONTROL_CURRENT) },
	{ "mode sense 6, all, dbd", LU_RW, { 0x1a, 0x08, 0x3f, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(36, 0x23, 0x00, 0x10, 0x00, CACHING(1), CONTROL_CURRENT) },
	{ "mode sense 6, all subpages", LU_RW, { 0x1a, 0x08, 0x3f, 0xff, 255, 0 }, 255, 0, NULL,
	  DATA(36, 0x23, 0x00, 0x10, 0x00, CACHING(1), CONTROL_CURRENT) },
	{ "mode sense 6, changeable", LU_RW, { 0x1a, 0x08, 0x7f, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(36, 0x23, 0x00, 0x10, 0x00, CACHING(1) /* only WCE */, CONTROL_CHANGEABLE) },
	{ "mode sense 6, default", LU_RW, { 0x1a, 0x08, 0x88, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(24, 0x17, 0x00, 0x10, 0x00, CACHING(1)) },
	{ "mode sense 6, saved", LU_RW, { 0x1a, 0x08, 0xc8, 0x00, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x39, 0x00 /* SAVING PARAMETERS NOT SUPPORTED */, NO_SKS)) },
	{ "mode sense 6, page 01", LU_RW, { 0x1a, 0x08, 0x01, 0x00, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(5), 2)) },
	{ "mode sense 6, subpage 01", LU_RW, { 0x1a, 0x08, 0x08, 0x01, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 3)) },
	{ "mode sense 6, read-only", LU_RO, { 0x1a, 0x08, 0x08, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(24, 0x17, 0x00, 0x90 /* WP, DPOFUA */, 0x00, CACHING(1)) },
	{ "mode sense 6, big", LU_BIG, { 0x1a, 0x00, 0x0a, 0x00, 255, 0 }, 255, 0, NULL,
	  DATA(24, 0x17, 0x00, 0x10, 0x08,
	       0xff, 0xff, 0xff, 0xff /* more blocks than fit */, 0x00, 0x00, 0x02, 0x00,
	       CONTROL_CURRENT) },
	{ "mode sense 6, allocation 4", LU_RW, { 0x1a, 0x00, 0x08, 0x00, 4, 0 }, 4, 0, NULL,
	  DATA(4, 0x1f, 0x00, 0x10, 0x08) },
	{ "mode sense 6, overrun", LU_RW, { 0x1a, 0x00, 0x08, 0x00, 255, 0 }, 32, 0, NULL,
	  .action = SCSI_OVERRUN },

	/* MODE SENSE (10) */
	{ "mode sense 10", LU_RW, { 0x5a, 0x00, 0x08, 0x00, 0, 0, 0, 0x01, 0x00, 0 }, 256, 0,
	  NULL,
	  DATA(36, 0x00, 0x22,	/* MODE DATA LENGTH 34 */
	       0x00, 0x10,	/* MEDIUM TYPE, DEVICE-SPECIFIC PARAMETER */
	       0x00, 0x00,	/* LONGLBA 0, reserved */
	       0x00, 0x08,	/* BLOCK DESCRIPTOR LENGTH */
	       SHORT_BD, CACHING(1)) },
	{ "mode sense 10, llbaa", LU_RW, { 0x5a, 0x10, 0x08, 0x00, 0, 0, 0, 0, 255, 0 }, 255, 0,
	  NULL,
	  DATA(44, 0x00, 0x2a, 0x00, 0x10, 0x01 /* LONGLBA */, 0x00, 0x00, 0x10,
	       0, 0, 0, 0, 0, 0, 0x08, 0x00,	/* NUMBER OF LOGICAL BLOCKS */
	       0, 0, 0, 0,			/* reserved */
	       0x00, 0x00, 0x02, 0x00,		/* LOGICAL BLOCK LENGTH */
	       CACHING(1)) },
	{ "mode sense 10, saved", LU_RW, { 0x5a, 0x08, 0xca, 0, 0, 0, 0, 0, 255, 0 }, 255, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x39, 0x00, NO_SKS)) },
	{ "mode sense 10, naca", LU_RW, { 0x5a, 0x08, 0x0a, 0, 0, 0, 0, 0, 255, 0x04 }, 255, 0,
	  NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 9)) },

	/* MODE SELECT (6) and (10) */
	{ "mode select 6, wce off", LU_RW, { 0x15, 0x10, 0, 0, 24, 0 }, 0, 24, sel6_wce0,
	  .action = SCSI_FLUSH },
	{ "mode select 6, wce on, ps", LU_RW, { 0x15, 0x10, 0, 0, 24, 0 }, 0, 24, sel6_wce1_ps,
	  GOOD, .xferred = 24 },
	{ "mode select 6, medium type", LU_RW, { 0x15, 0x10, 0, 0, 4, 0 }, 0, 4, sel6_medium,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 1)) },
	{ "mode select 6, empty", LU_RW, { 0x15, 0x00, 0, 0, 0, 0 }, 0, 0, NULL, GOOD },
	{ "mode select 6, sp", LU_RW, { 0x15, 0x11, 0, 0, 24, 0 }, 0, 24, sel6_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(0), 1)) },
	{ "mode select 6, no pf", LU_RW, { 0x15, 0x00, 0, 0, 24, 0 }, 0, 24, sel6_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(4), 1)) },
	{ "mode select 6, short header", LU_RW, { 0x15, 0x10, 0, 0, 3, 0 }, 0, 3, sel6_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x1a, 0x00 /* PARAMETER LIST LENGTH ERROR */, NO_SKS)) },
	{ "mode select 6, overrun", LU_RW, { 0x15, 0x10, 0, 0, 24, 0 }, 0, 20, sel6_wce0,
	  .action = SCSI_OVERRUN },
	{ "mode select 6, bd length 4", LU_RW, { 0x15, 0x10, 0, 0, 8, 0 }, 0, 8, sel6_bd4,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 3)) },
	{ "mode select 6, bd cut", LU_RW, { 0x15, 0x10, 0, 0, 8, 0 }, 0, 8, sel6_bd_1k,
	  CHECK(SENSE(SK_ILLEGAL, 0x1a, 0x00, NO_SKS)) },
	{ "mode select 6, block length", LU_RW, { 0x15, 0x10, 0, 0, 12, 0 }, 0, 12, sel6_bd_1k,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 9)) },
	{ "mode select 6, bd ok", LU_RW, { 0x15, 0x10, 0, 0, 32, 0 }, 0, 32, sel6_bd_ok,
	  GOOD, .xferred = 32 },
	{ "mode select 6, rcd", LU_RW, { 0x15, 0x10, 0, 0, 24, 0 }, 0, 24, sel6_rcd,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BIT(0), 6)) },
	{ "mode select 6, control page", LU_RW, { 0x15, 0x10, 0, 0, 16, 0 }, 0, 16, sel6_qam,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BIT(4), 7)) },
	{ "mode select 6, page 01", LU_RW, { 0x15, 0x10, 0, 0, 12, 0 }, 0, 12, sel6_page1,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BIT(5), 4)) },
	{ "mode select 6, spf", LU_RW, { 0x15, 0x10, 0, 0, 8, 0 }, 0, 8, sel6_spf,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BIT(6), 4)) },
	{ "mode select 6, page length", LU_RW, { 0x15, 0x10, 0, 0, 12, 0 }, 0, 12, sel6_len,
	  CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 5)) },
	{ "mode select 6, page cut", LU_RW, { 0x15, 0x10, 0, 0, 20, 0 }, 0, 24, sel6_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x1a, 0x00, NO_SKS)) },
	{ "mode select 6, page header cut", LU_RW, { 0x15, 0x10, 0, 0, 5, 0 }, 0, 24, sel6_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x1a, 0x00, NO_SKS)) },
	{ "mode select 10, wce off", LU_RW, { 0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0 }, 0, 28,
	  sel10_wce0, .action = SCSI_FLUSH },
	{ "mode select 10, long bd", LU_RW, { 0x55, 0x10, 0, 0, 0, 0, 0, 0, 24, 0 }, 0, 24,
	  sel10_long, GOOD, .xferred = 24 },
	{ "mode select 10, longlba with 8", LU_RW, { 0x55, 0x10, 0, 0, 0, 0, 0, 0, 16, 0 }, 0, 16,
	  sel10_long8, CHECK(SENSE(SK_ILLEGAL, 0x26, 0x00, PARAM_BYTE, 6)) },
	{ "mode select 10, sp", LU_RW, { 0x55, 0x11, 0, 0, 0, 0, 0, 0, 28, 0 }, 0, 28, sel10_wce0,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(0), 1)) },

	/* START STOP UNIT */
	{ "start", LU_RW, { 0x1b, 0, 0, 0, 0x01, 0 }, 0, 0, NULL, GOOD },
	{ "start, immed", LU_RW, { 0x1b, 0x01, 0, 0, 0x01, 0 }, 0, 0, NULL, GOOD },
	{ "stop", LU_RW, { 0x1b, 0, 0, 0, 0x00, 0 }, 0, 0, NULL, .action = SCSI_FLUSH },
	{ "stop, no flush", LU_RW, { 0x1b, 0, 0, 0, 0x04, 0 }, 0, 0, NULL, GOOD },
	{ "stop, loej", LU_RW, { 0x1b, 0, 0, 0, 0x02, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(1), 4)) },
	{ "active, loej ignored", LU_RW, { 0x1b, 0, 0, 0, 0x12, 0 }, 0, 0, NULL, GOOD },
	{ "idle_c", LU_RW, { 0x1b, 0, 0, 0x02, 0x20, 0 }, 0, 0, NULL, GOOD },
	{ "idle, modifier 3", LU_RW, { 0x1b, 0, 0, 0x03, 0x20, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(3), 3)) },
	{ "start_valid, modifier 1", LU_RW, { 0x1b, 0, 0, 0x01, 0x01, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(3), 3)) },
	{ "standby", LU_RW, { 0x1b, 0, 0, 0x01, 0x30, 0 }, 0, 0, NULL, .action = SCSI_FLUSH },
	{ "standby, no flush", LU_RW, { 0x1b, 0, 0, 0, 0x34, 0 }, 0, 0, NULL, GOOD },
	{ "force standby_0", LU_RW, { 0x1b, 0, 0, 0, 0xb0, 0 }, 0, 0, NULL, .action = SCSI_FLUSH },
	{ "power condition 5", LU_RW, { 0x1b, 0, 0, 0, 0x50, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(7), 4)) },

	/* PREVENT ALLOW MEDIUM REMOVAL */
	{ "prevent", LU_RW, { 0x1e, 0, 0, 0, 0x01, 0 }, 0, 0, NULL, GOOD },
	{ "allow", LU_RW, { 0x1e, 0, 0, 0, 0x00, 0 }, 0, 0, NULL, GOOD },
	{ "prevent 10b", LU_RW, { 0x1e, 0, 0, 0, 0x02, 0 }, 0, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(1), 4)) },

	/* REPORT LUNS */
	{ "report luns", LU_RW, { 0xa0, 0, 0x00, 0, 0, 0, 0, 0, 0, 16, 0, 0 }, 16, 0, NULL,
	  DATA(16, 0x00, 0x00, 0x00, 0x08,	/* LUN LIST LENGTH */
	       0, 0, 0, 0,			/* reserved */
	       0, 0, 0, 0, 0, 0, 0, 0) },	/* LUN 0 */
	{ "report luns, all", LU_RW, { 0xa0, 0, 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 256, 0, NULL,
	  DATA(16, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "report luns, well known", LU_RW, { 0xa0, 0, 0x01, 0, 0, 0, 0, 0, 0, 16, 0, 0 }, 16, 0,
	  NULL, DATA(8, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "report luns, select 10h", LU_RW, { 0xa0, 0, 0x10, 0, 0, 0, 0, 0, 0, 16, 0, 0 }, 16, 0,
	  NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 2)) },
	{ "report luns, allocation 8", LU_RW, { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 }, 8, 0,
	  NULL, DATA(8, 0, 0, 0, 8 /* not cut */, 0, 0, 0, 0) },
	{ "report luns, no lun", LU_NONE, { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0 }, 16, 0, NULL,
	  DATA(16, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },

	/* REPORT SUPPORTED OPERATION CODES, one command */
	{ "opcodes, read 10", LU_RW, { 0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 0, 64, 0, 0 }, 64, 0,
	  NULL,
	  DATA(14, 0x00,	/* reserved */
	       0x03,		/* CTDP 0, SUPPORT 011b: as the standard */
	       0x00, 0x0a,	/* CDB SIZE */
	       0x28, 0x18 /* DPO FUA */, 0xff, 0xff, 0xff, 0xff /* LBA */,
	       0x00 /* GROUP NUMBER ignored */, 0xff, 0xff /* TRANSFER LENGTH */,
	       0x00 /* CONTROL: no NACA */) },
	{ "opcodes, read capacity 16", LU_RW,
	  { 0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x10, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  DATA(20, 0x00, 0x03, 0x00, 0x10, 0x9e, 0x10 /* service action */,
	       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x01 /* PMI */, 0x00) },
	{ "opcodes, either, write same 16", LU_RW,
	  { 0xa3, 0x0c, 0x03, 0x93, 0x12, 0x34, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  DATA(20, 0x00, 0x03, 0x00, 0x10, 0x93, 0x09 /* UNMAP NDOB */,
	       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x00, 0x00) },
	{ "opcodes, tur with timeouts", LU_RW, { 0xa3, 0x0c, 0x81, 0x00, 0, 0, 0, 0, 0, 64, 0, 0 },
	  64, 0, NULL,
	  DATA(22, 0x00, 0x83 /* CTDP */, 0x00, 0x06, 0x00, 0, 0, 0, 0, 0,
	       0x00, 0x0a,	/* DESCRIPTOR LENGTH */
	       0x00, 0x00,	/* reserved, COMMAND SPECIFIC */
	       0, 0, 0, 0,	/* NOMINAL COMMAND PROCESSING TIMEOUT: not given */
	       0, 0, 0, 0) },	/* RECOMMENDED COMMAND TIMEOUT */
	{ "opcodes, unsupported", LU_RW, { 0xa3, 0x0c, 0x01, 0x04, 0, 0, 0, 0, 0, 64, 0, 0 }, 64,
	  0, NULL, DATA(4, 0x00, 0x01 /* SUPPORT 001b: not supported */, 0x00, 0x00) },
	{ "opcodes, unsupported action", LU_RW,
	  { 0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x11, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  DATA(4, 0x00, 0x01, 0x00, 0x00) },
	{ "opcodes, unmap without discard", LU_PLAIN,
	  { 0xa3, 0x0c, 0x01, 0x42, 0, 0, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  DATA(4, 0x00, 0x01, 0x00, 0x00) },
	{ "opcodes, option 1 with actions", LU_RW,
	  { 0xa3, 0x0c, 0x01, 0x9e, 0, 0, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 3)) },
	{ "opcodes, option 2 without actions", LU_RW,
	  { 0xa3, 0x0c, 0x02, 0x28, 0, 0, 0, 0, 0, 64, 0, 0 }, 64, 0, NULL,
	  CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BYTE, 3)) },
	{ "opcodes, option 5", LU_RW, { 0xa3, 0x0c, 0x05, 0x28, 0, 0, 0, 0, 0, 64, 0, 0 }, 64, 0,
	  NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(2), 2)) },
	{ "maintenance in, other action", LU_RW, { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 },
	  64, 0, NULL, CHECK(SENSE(SK_ILLEGAL, 0x24, 0x00, CDB_BIT(4), 1)) },
};

START_TEST(info_table)
{
	row_run(&info_rows[_i]);
}
END_TEST

/* Every field of one fixed-format sense, spelled out. */
START_TEST(sense_layout)
{
	static const uint8_t cdb[16] = { 0x12, 0x00, 0x80, 0x00, 0x24, 0x00 };
	static const uint8_t want[18] = {
		0x70,			/* VALID 0, RESPONSE CODE 70h: current, fixed */
		0x00,			/* obsolete */
		0x05,			/* FILEMARK EOM ILI 0, SENSE KEY: ILLEGAL REQUEST */
		0x00, 0x00, 0x00, 0x00,	/* INFORMATION */
		0x0a,			/* ADDITIONAL SENSE LENGTH: 18 - 8 */
		0x00, 0x00, 0x00, 0x00,	/* COMMAND-SPECIFIC INFORMATION */
		0x24,			/* ASC: INVALID FIELD IN CDB */
		0x00,			/* ASCQ */
		0x00,			/* FIELD REPLACEABLE UNIT CODE */
		0xc0,			/* SKSV 1, C/D 1: in the CDB, BPV 0 */
		0x00, 0x02,		/* FIELD POINTER: byte 2, PAGE CODE */
	};
	struct scsi_cmd c;

	row_cmd(&c, cdb, 36, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_RW), &c), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(c.sense_len, 18);
	ck_assert_mem_eq(c.sense, want, 18);
	ck_assert_uint_eq(c.xferred, 0);
}
END_TEST

/* all_commands: one 8-byte descriptor per command (20 with RCTD). */
START_TEST(all_opcodes)
{
	static const uint8_t cdb[16] = { 0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	static const uint8_t cdb_t[16] = { 0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	struct scsi_cmd c;
	bool seen_unmap = false, seen_rc16 = false;
	uint32_t len;

	row_cmd(&c, cdb, 4096, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_RW), &c), SCSI_DONE);
	len = (uint32_t)row_in[0] << 24 | row_in[1] << 16 | row_in[2] << 8 | row_in[3];
	ck_assert_uint_eq(len, 28 * 8);			/* COMMAND DATA LENGTH */
	ck_assert_uint_eq(c.xferred, 4 + len);
	for (uint8_t *d = row_in + 4; d < row_in + 4 + len; d += 8) {
		ck_assert_uint_eq(d[1], 0);			/* reserved */
		ck_assert_uint_eq(d[4], 0);
		if (d[0] == 0x42) {
			seen_unmap = true;
			ck_assert_uint_eq(d[5], 0x00);		/* no service action */
			ck_assert_uint_eq(d[7], 10);		/* CDB LENGTH */
		}
		if (d[0] == 0x9e) {
			seen_rc16 = true;
			ck_assert_uint_eq(d[3], 0x10);		/* SERVICE ACTION */
			ck_assert_uint_eq(d[5], 0x01);		/* SERVACTV */
			ck_assert_uint_eq(d[7], 16);
		}
	}
	ck_assert(seen_unmap && seen_rc16);

	/* Without discard there is no UNMAP. */
	row_cmd(&c, cdb, 4096, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_PLAIN), &c), SCSI_DONE);
	ck_assert_uint_eq(row_in[3], 27 * 8);

	/* With timeouts: CTDP in each descriptor, then its 12 bytes. */
	row_cmd(&c, cdb_t, 4096, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_RW), &c), SCSI_DONE);
	ck_assert_uint_eq(row_in[2] << 8 | row_in[3], 28 * 20);
	ck_assert_uint_eq(row_in[4 + 5], 0x02);			/* CTDP */
	ck_assert_uint_eq(row_in[4 + 8] << 8 | row_in[4 + 9], 0x0a);

	/* Cut by the allocation length, the length field is not. */
	row_cmd(&c, (const uint8_t[16]){ 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0 }, 10, NULL, 0,
		1);
	ck_assert_int_eq(scsi_disk_exec(row_lun(LU_RW), &c), SCSI_DONE);
	ck_assert_uint_eq(c.xferred, 10);
	ck_assert_uint_eq(row_in[3], 28 * 8);
}
END_TEST

/* Run cdb (no data out) on lu to its end: its status. */
static uint8_t run_status(struct scsi_lun *lu, struct scsi_cmd *c, const uint8_t *cdb,
			  uint32_t in_len)
{
	row_cmd(c, cdb, in_len, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, c), SCSI_DONE);
	return c->status;
}

/* The unit attention of a reset: once, to the first command that is not
 * INQUIRY, REPORT LUNS or REQUEST SENSE, or to REQUEST SENSE. */
START_TEST(unit_attention)
{
	static const uint8_t tur[16] = { 0 };
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t rs[16] = { 0x03, 0, 0, 0, 18, 0 };
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	scsi_lun_reset(lu);
	ck_assert_uint_eq(run_status(lu, &c, inq, 36), SCSI_GOOD);
	ck_assert_uint_eq(run_status(lu, &c, tur, 0), SCSI_CHECK_CONDITION);
	ck_assert_mem_eq(c.sense, SENSE(0x06 /* UNIT ATTENTION */, 0x29,
					0x03 /* BUS DEVICE RESET FUNCTION OCCURRED */, NO_SKS), 18);
	ck_assert_uint_eq(run_status(lu, &c, tur, 0), SCSI_GOOD);

	/* I_T NEXUS RESET, reported by REQUEST SENSE, which clears it. */
	scsi_lun_nexus_reset(lu);
	ck_assert_uint_eq(run_status(lu, &c, rs, 18), SCSI_GOOD);
	ck_assert_mem_eq(row_in, SENSE(0x06, 0x29, 0x07 /* I_T NEXUS LOSS OCCURRED */, NO_SKS), 18);
	ck_assert_uint_eq(run_status(lu, &c, tur, 0), SCSI_GOOD);

	/* A REQUEST SENSE that overruns leaves the attention pending. */
	scsi_lun_nexus_reset(lu);
	row_cmd(&c, rs, 8, NULL, 0, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_OVERRUN);
	row_cmd(&c, tur, 0, NULL, 0, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_uint_eq(c.sense[2], 0x06);
}
END_TEST

/* MODE SELECT clearing WCE flushes, then writes are write-through; a
 * LOGICAL UNIT RESET brings the default back. */
START_TEST(write_cache_enable)
{
	static const uint8_t sel[16] = { 0x15, 0x10, 0, 0, 24, 0 };
	static const uint8_t sense[16] = { 0x1a, 0x08, 0x08, 0x00, 255, 0 };
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	struct scsi_lun *lu = row_lun(LU_RW);
	struct scsi_cmd c;

	row_cmd(&c, sel, 0, sel6_wce0, sizeof(sel6_wce0), 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	ck_assert_uint_eq(c.status, SCSI_GOOD);
	ck_assert_uint_eq(c.xferred, 24);
	row_cmd(&c, sense, 255, NULL, 0, 1);
	scsi_disk_exec(lu, &c);
	ck_assert_uint_eq(row_in[6], 0x00);		/* WCE 0 now */
	row_cmd(&c, wr, 0, NULL, 512, 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_WRITE);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 512), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, 0), SCSI_DONE);
	ck_assert_uint_eq(c.xferred, 512);
	/* A second MODE SELECT to WCE 0 changes nothing, so no flush. */
	row_cmd(&c, sel, 0, sel6_wce0, sizeof(sel6_wce0), 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_DONE);
	/* A failed flush is a write error. */
	atomic_store(&lu->wce, true);
	row_cmd(&c, sel, 0, sel6_wce0, sizeof(sel6_wce0), 1);
	ck_assert_int_eq(scsi_disk_exec(lu, &c), SCSI_FLUSH);
	ck_assert_int_eq(scsi_disk_io_done(lu, &c, -EIO), SCSI_DONE);
	ck_assert_mem_eq(c.sense, SENSE(0x03 /* MEDIUM ERROR */, 0x0c /* WRITE ERROR */, 0x00,
					NO_SKS), 18);
	scsi_lun_reset(lu);
	ck_assert(atomic_load(&lu->wce));
}
END_TEST

Suite *scsi_disk_suite(void)
{
	Suite *s = suite_create("scsi_disk");
	TCase *tc = tcase_create("info");

	tcase_add_checked_fixture(tc, rows_setup, NULL);
	tcase_add_loop_test(tc, info_table, 0, ARRAY_SIZE(info_rows));
	tcase_add_test(tc, sense_layout);
	tcase_add_test(tc, all_opcodes);
	tcase_add_test(tc, unit_attention);
	tcase_add_test(tc, write_cache_enable);
	suite_add_tcase(s, tc);
	scsi_disk_io_tcases(s);
	return s;
}
