// SPDX-License-Identifier: Apache-2.0
/*
 * The commands of the scsi-* cases: one at a time on request queue 0
 * through ts_c1, their results in words, the checks of those results
 * (see tests_scsi.h), and the CDBs several cases send.
 */
#include "tests_scsi.h"
#include "console.h"

/* ---- commands ---- */

static void parse_sense(struct res *r)
{
	const u8 *s = r->sense;
	u8 code = s[0] & 0x7f;

	r->key = r->asc = r->ascq = 0xff;
	if ((code == 0x70 || code == 0x71) && r->sense_len >= 14) {
		r->key = s[2] & 0x0f;
		r->asc = s[12];
		r->ascq = s[13];
	} else if ((code == 0x72 || code == 0x73) && r->sense_len >= 4) {
		r->key = s[1] & 0x0f;
		r->asc = s[2];
		r->ascq = s[3];
	}
}

/* What a completed command of c says, into r. */
void ts_take_result(struct vscsi_cmd *c, int resp, struct res *r)
{
	volatile struct vscsi_resp *v = c->resp_at;

	memset(r, 0, sizeof(*r));
	r->resp = resp;
	if (resp < 0)
		return;
	r->status = v->status;
	r->sense_len = v->sense_len;
	r->resid = v->residual;
	r->used = c->vq.used_len;
	memcpy(r->sense, (const void *)v->sense, MIN(r->sense_len, (u32)VSCSI_SENSE_SIZE));
	parse_sense(r);
}

/* One command on request queue 0 through ts_c1, start to finish. */
int ts_cmd_lun(const u8 lun[8], const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir,
		   void *buf, u32 len, struct res *r)
{
	int resp = vscsi_do(&ts_sc, 0, ts_c1, lun, cdb, cdb_len, dir, buf, len, len ? 1 : 0, 0);

	if (resp < 0)
		ts_stale = true;
	ts_take_result(ts_c1, resp, r);
	return resp;
}

int ts_cmd(unsigned t, const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf,
	       u32 len, struct res *r)
{
	u8 lun[8];

	vscsi_lun(lun, t, 0);
	return ts_cmd_lun(lun, cdb, cdb_len, dir, buf, len, r);
}

bool ts_good(const struct res *r)
{
	return r->resp == VSCSI_S_OK && r->status == SCSI_GOOD;
}

bool ts_is_check(const struct res *r, u8 key, u8 asc, u8 ascq)
{
	return r->resp == VSCSI_S_OK && r->status == SCSI_CHECK_CONDITION && r->key == key &&
	       r->asc == asc && r->ascq == ascq;
}

/* A result in words; two buffers so one printf can show two. */
const char *ts_res_str(const struct res *r)
{
	static char b[2][80];
	static unsigned n;
	char *s = b[n++ & 1];

	if (r->resp != VSCSI_S_OK)
		snprintf(s, 80, "virtio response %s (%d)", vscsi_response_name(r->resp), r->resp);
	else if (r->status == SCSI_GOOD)
		snprintf(s, 80, "GOOD");
	else if (r->status == SCSI_CHECK_CONDITION)
		snprintf(s, 80, "CHECK CONDITION key %xh ASC/ASCQ %02xh/%02xh", r->key, r->asc,
			 r->ascq);
	else
		snprintf(s, 80, "status %02xh", r->status);
	return s;
}

/*
 * A difference from kite's answers where another target may differ (an
 * optional feature, a choice left open): fails under scsi_strict=1,
 * otherwise printed as a note. Use: if (bad && !ts_differ(why, ...)) return false;
 */
bool ts_differ(char *why, const char *fmt, ...)
{
	char msg[WHY_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ts_strict)
		fail("%s", msg);
	printf("  %s: note: %s\n", ts_cur, msg);
	return true;
}

bool ts_expect_good(const char *what, const struct res *r, char *why)
{
	if (!ts_good(r))
		fail("%s: %s, expected GOOD", what, ts_res_str(r));
	return true;
}

/* CHECK CONDITION with that sense, in fixed format (18 bytes or more). */
bool ts_expect_check(const char *what, const struct res *r, u8 key, u8 asc, u8 ascq,
			 char *why)
{
	if (!ts_is_check(r, key, asc, ascq))
		fail("%s: %s, expected CHECK CONDITION key %xh %02xh/%02xh", what, ts_res_str(r), key,
		     asc, ascq);
	if (r->sense_len < 18 || (r->sense[0] & 0x7f) != 0x70 || r->sense[7] < 10)
		fail("%s: sense of %u bytes, code %02xh, additional length %u: not fixed format",
		     what, r->sense_len, r->sense[0], r->sense[7]);
	return true;
}

/* READ / WRITE with a CDB of `size` bytes (6, 10, 12, 16); 16 where the
 * smaller one cannot say it. Returns the CDB length. */
unsigned ts_rw_cdb(u8 *c, bool write, unsigned size, u64 lba, u32 n, bool fua)
{
	memset(c, 0, 16);
	if (size == 6 && (lba >= 1u << 21 || n > 256 || !n || fua))
		size = 10;
	if (size == 10 && (lba > 0xffffffffULL || n > 0xffff))
		size = 16;
	if (size == 12 && lba > 0xffffffffULL)
		size = 16;
	switch (size) {
	case 6:
		c[0] = write ? 0x0a : 0x08;
		c[1] = lba >> 16 & 0x1f;
		c[2] = lba >> 8;
		c[3] = lba;
		c[4] = n == 256 ? 0 : n;
		return 6;
	case 10:
		c[0] = write ? 0x2a : 0x28;
		put32(c + 2, lba);
		put16(c + 7, n);
		break;
	case 12:
		c[0] = write ? 0xaa : 0xa8;
		put32(c + 2, lba);
		put32(c + 6, n);
		break;
	default:
		c[0] = write ? 0x8a : 0x88;
		put64(c + 2, lba);
		put32(c + 10, n);
		size = 16;
		break;
	}
	if (fua)
		c[1] |= 0x08;
	return size;
}

int ts_rw(unsigned t, bool write, unsigned size, u64 lba, u32 n, void *buf, struct res *r)
{
	u8 c[16];
	unsigned len = ts_rw_cdb(c, write, size, lba, n, false);

	return ts_cmd(t, c, len, write ? VSCSI_OUT : VSCSI_IN, buf, n * ts_lus[t].bs, r);
}

int ts_tur(unsigned t, struct res *r)
{
	static const u8 c[6] = { 0x00 };

	return ts_cmd(t, c, 6, VSCSI_NONE, NULL, 0, r);
}

int ts_inquiry(unsigned t, bool evpd, u8 page, u16 alloc, void *buf, u32 len, struct res *r)
{
	u8 c[6] = { 0x12, evpd, page };

	put16(c + 3, alloc);
	return ts_cmd(t, c, 6, VSCSI_IN, buf, len, r);
}

int ts_mode_sense(unsigned t, bool ten, u8 pc_page, bool dbd, u16 alloc, void *buf,
		      struct res *r)
{
	u8 c[10] = { ten ? 0x5a : 0x1a, dbd ? 0x08 : 0, pc_page };

	if (ten)
		put16(c + 7, alloc);
	else
		c[4] = alloc;
	return ts_cmd(t, c, ten ? 10 : 6, VSCSI_IN, buf, alloc, r);
}

/* ---- for the set-up ---- */

/* A data buffer with a page free in front (merged layout's response). */
u8 *ts_dbuf(u32 len)
{
	u8 *p = dma_alloc(len + PAGE_SIZE, PAGE_SIZE);

	return p ? p + PAGE_SIZE : NULL;
}

/* Clear the unit attentions a reset leaves (QEMU raises one at every
 * device reset) with TEST UNIT READY until it is GOOD. */
bool ts_settle(unsigned t, char *why)
{
	struct res r;

	for (int i = 0; i < 8; i++) {
		if (ts_tur(t, &r) < 0)
			fail("target %u: TEST UNIT READY: %s", t, ts_res_str(&r));
		if (ts_good(&r))
			return true;
		if (r.resp != VSCSI_S_OK || r.status != SCSI_CHECK_CONDITION ||
		    r.key != SK_UNIT_ATTENTION)
			fail("target %u: TEST UNIT READY: %s", t, ts_res_str(&r));
		printf("  %s: target %u: unit attention %02xh/%02xh cleared\n", ts_cur, t, r.asc,
		       r.ascq);
	}
	fail("target %u: still a unit attention after 8 TEST UNIT READYs", t);
}

void ts_copy_ascii(char *dst, const u8 *src, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[n] = 0;
}
