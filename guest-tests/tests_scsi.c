// SPDX-License-Identifier: Apache-2.0
/*
 * The scsi-* cases: a virtio-scsi controller through virtio_scsi.h, under
 * kite or QEMU (virtio-scsi-pci with scsi-hd). Everything runs in ring 3,
 * interrupts on (user_irqs) so the queues' MSI-X vectors are counted
 * whether we wait for them or poll.
 *
 * Each case checks the fields SPC-4, SBC-3 and virtio 1.2 fix and prints
 * the rest. Where a target may answer otherwise (an optional command or
 * page, a choice the standards leave open) the difference is printed as a
 * "note:" line, unless scsi_strict=1 asks for kite's own answers, which
 * then fail the case.
 *
 * Command line:
 *   scsi=1              a virtio-scsi controller must be there (else the
 *                       cases only run when one is found)
 *   scsi_wait=irq|poll  wait for MSI-X interrupts or poll (default: blk_wait,
 *                       else irq)
 *   event_idx=, indirect=, layout=split|merged   as for the blk-* cases
 *   scsi_targets=N      targets 0..N-1 each have a disk at LUN 0 (default 1)
 *   scsi_serial=P       target t's unit serial number is P followed by t
 *   scsi_ro=1           the disks are read-only
 *   scsi_strict=1       kite: every command of the table and kite's answers
 *   hostile=1           scsi-malformed: send malformed chains (kite only)
 */
#include "tests_scsi.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "time.h"

struct vscsi ts_sc;
struct vscsi_opts ts_opts;
static bool probed, usable;
bool ts_stale, ts_strict;
static char probe_why[WHY_LEN];
const char *ts_cur = "scsi";	/* the case running, for notes */
static u64 seed;
unsigned ts_ntargets = 1;
struct lu ts_lus[MAX_TARGETS];
struct vscsi_cmd *ts_c1;
u8 *ts_buf1, *ts_buf2, *ts_small;

struct slot ts_slots[VIRTIO_MAX_QUEUES][DEPTH];

/* ---- data patterns ---- */

static u64 mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Word i of byte offset `off` of target t: a function of the run's seed, so
 * what a previous run (or another target) left can never pass for it. */
static u64 word(u64 sd, unsigned t, u64 off, u64 i)
{
	return mix(sd ^ (u64)t << 56 ^ (off / 8 + i));
}

static void fill(void *buf, unsigned t, u64 off, u32 len, u64 sd)
{
	u64 *p = buf;

	for (u64 i = 0; i < len / 8; i++)
		p[i] = word(sd, t, off, i);
}

static long check(const void *buf, unsigned t, u64 off, u32 len, u64 sd)
{
	const u64 *p = buf;

	for (u64 i = 0; i < len / 8; i++)
		if (p[i] != word(sd, t, off, i))
			return i;
	return -1;
}

static bool all_zero(const void *buf, u32 len)
{
	const u64 *p = buf;

	for (u32 i = 0; i < len / 8; i++)
		if (p[i])
			return false;
	return true;
}

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
	r->used = c->used_len;
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

/* ---- set-up ---- */

static void parse_opts(void)
{
	char v[16];
	u64 n;

	ts_opts.irq = cmdline_get("scsi_wait", v, sizeof(v)) ? strcmp(v, "poll") != 0
							  : !cmdline_is("blk_wait", "poll");
	ts_opts.event_idx = cmdline_flag("event_idx", true);
	ts_opts.indirect = cmdline_flag("indirect", true);
	ts_opts.merged = cmdline_is("layout", "merged");
	ts_strict = cmdline_is("scsi_strict", "1");
	if (cmdline_get("scsi_targets", v, sizeof(v)) && parse_uint(v, 10, &n) && n >= 1)
		ts_ntargets = MIN(n, (u64)MAX_TARGETS);
}

const char *ts_mode_name(void)
{
	return ts_opts.irq ? "interrupts" : "polling";
}

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

/* What target t's LUN 0 says about itself, into lus[t]. */
static bool learn(unsigned t, char *why)
{
	struct lu *l = &ts_lus[t];
	struct res r;
	u8 *b = ts_small;

	memset(l, 0, sizeof(*l));
	if (!ts_settle(t, why))
		return false;
	memset(b, 0, 96);
	ts_inquiry(t, false, 0, 96, b, 96, &r);
	if (!ts_expect_good("INQUIRY", &r, why))
		return false;
	ts_copy_ascii(l->vendor, b + 8, 8);
	ts_copy_ascii(l->product, b + 16, 16);
	ts_copy_ascii(l->rev, b + 32, 4);
	{
		u8 c[16] = { 0x9e, 0x10 };

		put32(c + 10, 32);
		memset(b, 0, 32);
		ts_cmd(t, c, 16, VSCSI_IN, b, 32, &r);
	}
	if (ts_good(&r)) {
		l->nblocks = be64(b) + 1;
		l->bs = be32(b + 8);
		l->phys_exp = b[13] & 0x0f;
		l->lbpme = b[14] & 0x80;
		l->lbprz = b[14] & 0x40;
	} else {
		u8 c[10] = { 0x25 };

		ts_cmd(t, c, 10, VSCSI_IN, b, 8, &r);
		if (!ts_expect_good("READ CAPACITY (10)", &r, why))
			return false;
		l->nblocks = (u64)be32(b) + 1;
		l->bs = be32(b + 4);
	}
	if (l->bs < 512 || l->bs > CHUNK || (l->bs & (l->bs - 1)) || !l->nblocks)
		fail("target %u: %lu blocks of %u bytes: not a disk these cases can drive", t,
		     l->nblocks, l->bs);
	ts_inquiry(t, true, 0x00, 64, b, 64, &r);
	if (ts_good(&r)) {
		l->nvpd = MIN(be16(b + 2), (u16)sizeof(l->vpd));
		memcpy(l->vpd, b + 4, l->nvpd);
	}
	for (unsigned i = 0; i < l->nvpd; i++) {
		if (l->vpd[i] == 0x80) {
			memset(b, 0, 68);
			ts_inquiry(t, true, 0x80, 68, b, 68, &r);
			if (ts_good(&r))
				ts_copy_ascii(l->serial, b + 4, MIN(be16(b + 2), (u16)(sizeof(l->serial) - 1)));
		} else if (l->vpd[i] == 0xb0) {
			ts_inquiry(t, true, 0xb0, 64, b, 64, &r);
			if (ts_good(&r)) {
				l->wsnz = b[4] & 1;
				l->max_xfer = be32(b + 8);
				l->max_unmap_lba = be32(b + 20);
				l->max_unmap_desc = be32(b + 24);
				l->max_ws = be64(b + 36);
			}
		} else if (l->vpd[i] == 0xb2) {
			ts_inquiry(t, true, 0xb2, 8, b, 8, &r);
			if (ts_good(&r)) {
				l->lbpu = b[5] & 0x80;
				l->lbpws = b[5] & 0x40;
				l->lbpws10 = b[5] & 0x20;
			}
		}
	}
	ts_mode_sense(t, false, 0x08, true, 24, b, &r);
	if (ts_good(&r)) {
		l->ro = b[2] & 0x80;
		l->dpofua = b[2] & 0x10;
		if ((b[4 + b[3]] & 0x3f) == 0x08)
			l->wce = b[4 + b[3] + 2] & 0x04;
	}
	l->present = true;
	return true;
}

bool ts_reinit(const struct vscsi_opts *o, char *why)
{
	if (!vscsi_init(&ts_sc, o, why, WHY_LEN)) {
		usable = false;
		snprintf(probe_why, sizeof(probe_why), "%s", why);
		return false;
	}
	for (unsigned t = 0; t < ts_ntargets; t++)
		if (!ts_settle(t, why))
			return false;
	return true;
}

/* Every case starts here: the first call finds and starts the device. */
bool ts_ready(const char *name, char *why)
{
	ts_cur = name;
	if (!probed) {
		int r;

		probed = true;
		parse_opts();
		seed = mix(rdtsc() ^ 0x6b6974652d736373ULL);
		r = vscsi_probe(&ts_sc, probe_why, sizeof(probe_why));
		if (r == 0)
			snprintf(probe_why, sizeof(probe_why), "no virtio-scsi device (1af4:1048) found");
		ts_c1 = vscsi_cmd_alloc();
		ts_buf1 = ts_dbuf(CHUNK);
		ts_buf2 = ts_dbuf(CHUNK);
		ts_small = ts_dbuf(SMALL);
		if (r > 0 && (!ts_c1 || !ts_buf1 || !ts_buf2 || !ts_small)) {
			snprintf(probe_why, sizeof(probe_why), "out of DMA memory");
			r = -1;
		}
		if (r > 0) {
			char w[WHY_LEN];

			usable = true;
			user_irqs(true);
			if (!ts_reinit(&ts_opts, w)) {
				usable = false;
				snprintf(probe_why, sizeof(probe_why), "set-up: %s", w);
			}
			for (unsigned t = 0; usable && t < ts_ntargets; t++)
				if (!learn(t, w)) {
					usable = false;
					snprintf(probe_why, sizeof(probe_why), "set-up: %s", w);
				}
		}
	}
	if (!usable)
		fail("%s", probe_why);
	if (ts_stale) {
		/* Start clean: the reset takes back whatever was in flight. */
		ts_stale = false;
		for (unsigned qi = 0; qi < VIRTIO_MAX_QUEUES; qi++)
			for (unsigned s = 0; s < DEPTH; s++)
				ts_slots[qi][s].busy = false;
		if (!ts_reinit(&ts_opts, why))
			return false;
	}
	if (virtio_status(&ts_sc.v) & (VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED))
		fail("device status 0x%x", virtio_status(&ts_sc.v));
	return true;
}

bool ts_alloc_slots(unsigned qi)
{
	for (unsigned s = 0; s < DEPTH; s++) {
		if (ts_slots[qi][s].c)
			continue;
		ts_slots[qi][s].c = vscsi_cmd_alloc();
		ts_slots[qi][s].buf = ts_dbuf(CHUNK);
		if (!ts_slots[qi][s].c || !ts_slots[qi][s].buf)
			return false;
	}
	return true;
}

/* Data descriptors per command: up to 4, within seg_max. */
static unsigned segs_for(u32 len, u32 bs)
{
	unsigned n = 4;

	if (ts_sc.cfg.seg_max)
		n = MIN(n, ts_sc.cfg.seg_max);
	while (n > 1 && (len % n || (len / n) % bs))
		n--;
	return MAX(n, 1u);
}

/* ---- the bulk engine: many commands, DEPTH in flight on one queue ---- */

struct job {
	bool write;
	unsigned count;
	void (*at)(struct job *j, unsigned k, unsigned *t, u64 *lba, u32 *n);
	const u64 *points;		/* single blocks (at_point) */
	u64 first, last;		/* block range in CHUNK steps (at_range) */
	unsigned ntgt;			/* commands go round targets 0..ntgt-1 */
	u64 seed;
	bool cdb_mix;			/* READ/WRITE (10), (6), (12), (16) in turn */
	bool alt_indirect;		/* every other one through an indirect table */
	bool no_verify;			/* reads of a read-only disk: status only */
	u64 done;
	char *why;
};

static void at_point(struct job *j, unsigned k, unsigned *t, u64 *lba, u32 *n)
{
	*t = j->ntgt > 1 ? k % j->ntgt : 0;
	*lba = j->points[j->ntgt > 1 ? k / j->ntgt : k];
	*n = 1;
}

static void at_range(struct job *j, unsigned k, unsigned *t, u64 *lba, u32 *n)
{
	u32 per;

	*t = j->ntgt > 1 ? k % j->ntgt : 0;
	k = j->ntgt > 1 ? k / j->ntgt : k;
	per = CHUNK / ts_lus[*t].bs;
	*lba = j->first + (u64)k * per;
	*n = MIN((u64)per, j->last - *lba);
}

static bool finish_slot(struct job *j, struct slot *s)
{
	struct res r;
	char *why = j->why;
	u32 bs = ts_lus[s->target].bs;
	long bad;

	ts_take_result(s->c, *(volatile u8 *)&s->c->resp_at->response, &r);
	s->busy = false;
	j->done++;
	if (!ts_good(&r))
		fail("target %u: %s of %u blocks at %lu: %s", s->target, j->write ? "write" : "read",
		     s->nblk, s->lba, ts_res_str(&r));
	if (r.used > s->c->writable) {
		/* virtio 1.2 2.7.8: used len is what the device wrote. */
		static bool noted;

		if (ts_strict || !noted) {
			noted = true;
			if (!ts_differ(why, "%s at %lu: used len %u, but only %u bytes were writable",
				    j->write ? "write" : "read", s->lba, r.used, s->c->writable))
				return false;
		}
	}
	if (r.resid)
		fail("%s of %u bytes at %lu: residual %u, all of it was moved",
		     j->write ? "write" : "read", s->nblk * bs, s->lba, r.resid);
	if (!j->write && !j->no_verify &&
	    (bad = check(s->buf, s->target, s->lba * bs, s->nblk * bs, j->seed)) >= 0)
		fail("target %u: read at block %lu: word %ld is %016lx, wrote %016lx", s->target,
		     s->lba, bad, ((u64 *)s->buf)[bad], word(j->seed, s->target, s->lba * bs, bad));
	return true;
}

static bool run_job_once(unsigned qi, struct job *j)
{
	static const unsigned sizes[] = { 10, 6, 12, 16 };
	struct virtq *q = vscsi_reqq(&ts_sc, qi);
	unsigned next = 0, inflight = 0;
	char *why = j->why;

	if (!ts_alloc_slots(qi))
		fail("out of DMA memory for queue %u", qi);
	while (next < j->count || inflight) {
		for (unsigned s = 0; s < DEPTH && next < j->count; s++) {
			struct slot *sl = &ts_slots[qi][s];
			unsigned flags = j->alt_indirect && (next & 1) ? VSCSI_INDIRECT : 0;
			u8 lun[8], c[16];
			unsigned clen;
			u32 bs, len;

			if (sl->busy)
				continue;
			j->at(j, next, &sl->target, &sl->lba, &sl->nblk);
			bs = ts_lus[sl->target].bs;
			len = sl->nblk * bs;
			if (j->write)
				fill(sl->buf, sl->target, sl->lba * bs, len, j->seed);
			else
				memset(sl->buf, 0xa5, len);
			vscsi_lun(lun, sl->target, 0);
			clen = ts_rw_cdb(c, j->write, j->cdb_mix ? sizes[next % 4] : 10, sl->lba,
				      sl->nblk, false);
			if (vscsi_submit(&ts_sc, qi, sl->c, lun, c, clen, j->write ? VSCSI_OUT : VSCSI_IN,
					 sl->buf, len, segs_for(len, bs), flags) < 0) {
				if (!inflight)
					fail("queue %u: cannot queue command %u", qi, next);
				break;
			}
			sl->busy = true;
			inflight++;
			next++;
		}
		vq_kick(q);
		int r = vq_wait(q, VSCSI_TIMEOUT_US);

		if (r < 0)
			fail("queue %u: %s (%u in flight, used idx %u, last seen %u)", qi,
			     vscsi_response_name(r), inflight, q->used->idx, q->last_used);
		vscsi_reap(&ts_sc, qi);
		for (unsigned s = 0; s < DEPTH; s++) {
			struct slot *sl = &ts_slots[qi][s];

			if (sl->busy && sl->c->done) {
				inflight--;
				if (!finish_slot(j, sl))
					return false;
			}
		}
	}
	return true;
}

static bool run_job(unsigned qi, struct job *j)
{
	if (run_job_once(qi, j))
		return true;
	ts_stale = true;
	return false;
}

/* First and last block of every MiB, and 8 random ones, of target t. */
static u64 make_points(unsigned t, u64 *points, u64 max)
{
	u64 cap = ts_lus[t].nblocks, per = STRIPE / ts_lus[t].bs, n = 0, x = seed | 1;

	for (u64 s = 0; s < cap && n + 2 <= max - 8; s += per) {
		points[n++] = s;
		if (MIN(cap, s + per) - 1 != s)
			points[n++] = MIN(cap, s + per) - 1;
	}
	for (int i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		points[n++] = x % cap;
	}
	return n;
}

/* ---- scsi-rw ---- */

/*
 * Interrupts while polling mean the device ignored our suppression: none
 * with VIRTQ_AVAIL_F_NO_INTERRUPT, one per queue set-up with EVENT_IDX (as
 * the blk-* cases allow for QEMU).
 */
static bool quiet_when_polling(struct virtq *q, u64 before, char *why)
{
	u64 n = vq_irqs(q) - before;

	if (!ts_opts.irq && n > (q->event_idx ? 1u : 0u))
		fail("queue %u: %lu interrupts with used-buffer notifications suppressed", q->index, n);
	return true;
}

static bool test_scsi_rw(char *why)
{
	static u64 points[2 * 4096 + 8];
	struct lu *l = &ts_lus[0];
	struct virtq *q;
	u64 npoints, irq0;
	struct job j;

	if (!ts_ready("scsi-rw", why))
		return false;
	q = vscsi_reqq(&ts_sc, 0);
	irq0 = vq_irqs(q);
	npoints = make_points(0, points, ARRAY_SIZE(points));
	j = (struct job){ .write = true, .count = npoints, .at = at_point, .points = points,
			  .seed = seed, .cdb_mix = true, .no_verify = l->ro, .why = why };
	if (l->ro) {
		j.write = false;
		if (!run_job(0, &j))
			return false;
		printf("  %s: read-only disk: %lu single-block reads GOOD, nothing written\n", ts_cur,
		       npoints);
		return quiet_when_polling(q, irq0, why);
	}
	if (!run_job(0, &j))
		return false;
	j.write = false;
	j.done = 0;
	if (!run_job(0, &j))
		return false;
	printf("  %s: %lu single blocks (first and last of every MiB, 8 random) written and "
	       "verified, READ/WRITE (10), (6), (12), (16) in turn\n", ts_cur, npoints);
	if (l->nblocks * l->bs <= FULL_PASS_MAX) {
		u64 per = CHUNK / l->bs;
		unsigned n = (l->nblocks + per - 1) / per;

		j = (struct job){ .write = true, .count = n, .at = at_range, .first = 0,
				  .last = l->nblocks, .seed = seed ^ 1, .cdb_mix = true,
				  .alt_indirect = ts_sc.indirect, .why = why };
		if (!run_job(0, &j))
			return false;
		j.write = false;
		if (!run_job(0, &j))
			return false;
		printf("  %s: full pass: %u commands of up to %u KiB in %u segments each way%s\n",
		       ts_cur, n, CHUNK / 1024, segs_for(CHUNK, l->bs),
		       ts_sc.indirect ? ", every other one indirect" : "");
	}
	printf("  %s: queue 0: %lu notifications, %lu suppressed, %lu interrupts\n", ts_cur, q->kicks,
	       q->kicks_skipped, vq_irqs(q) - irq0);
	return quiet_when_polling(q, irq0, why);
}

/* ---- scsi-flush ---- */

static bool test_scsi_flush(char *why)
{
	struct lu *l = &ts_lus[0];
	u8 c[16];
	struct res r;

	if (!ts_ready("scsi-flush", why))
		return false;
	if (!l->ro) {
		fill(ts_buf1, 0, 7 * l->bs, l->bs, seed ^ 7);
		ts_rw(0, true, 10, 7, 1, ts_buf1, &r);
		if (!ts_expect_good("write before the flush", &r, why))
			return false;
	}
	memset(c, 0, 16);
	c[0] = 0x35;			/* SYNCHRONIZE CACHE (10), the whole disk */
	ts_cmd(0, c, 10, VSCSI_NONE, NULL, 0, &r);
	if (!ts_expect_good("SYNCHRONIZE CACHE (10)", &r, why))
		return false;
	memset(c, 0, 16);
	c[0] = 0x91;			/* (16), a range */
	put64(c + 2, 0);
	put32(c + 10, 16);
	ts_cmd(0, c, 16, VSCSI_NONE, NULL, 0, &r);
	if (!ts_good(&r) && !ts_differ(why, "SYNCHRONIZE CACHE (16): %s", ts_res_str(&r)))
		return false;
	if (!l->ro) {
		/* WRITE (10) with FUA: durable before GOOD. */
		u8 w[16];
		unsigned wl = ts_rw_cdb(w, true, 10, 8, 1, true);

		fill(ts_buf1, 0, 8 * l->bs, l->bs, seed ^ 8);
		ts_cmd(0, w, wl, VSCSI_OUT, ts_buf1, l->bs, &r);
		if (!ts_expect_good("WRITE (10) with FUA", &r, why))
			return false;
		memset(ts_buf2, 0, l->bs);
		ts_rw(0, false, 16, 8, 1, ts_buf2, &r);
		if (!ts_expect_good("read after the FUA write", &r, why))
			return false;
		if (check(ts_buf2, 0, 8 * l->bs, l->bs, seed ^ 8) >= 0)
			fail("block 8 does not read back what the FUA write wrote");
	}
	printf("  %s: SYNCHRONIZE CACHE (10) and (16) GOOD (WCE %u)%s\n", ts_cur, l->wce,
	       l->ro ? "" : "; WRITE (10) FUA GOOD and read back");
	return true;
}

/* ---- scsi-unmap, scsi-write-same ---- */

/* A region of n blocks in the middle of target t, aligned to 8 blocks. */
static u64 region(unsigned t, u64 n)
{
	u64 s = ts_lus[t].nblocks / 2;

	s -= s % 8;
	if (s + n > ts_lus[t].nblocks)
		s = 0;
	return s;
}

static bool write_region(u64 lba, u32 n, u64 sd, char *why)
{
	struct res r;

	fill(ts_buf1, 0, lba * ts_lus[0].bs, n * ts_lus[0].bs, sd);
	ts_rw(0, true, 10, lba, n, ts_buf1, &r);
	return ts_expect_good("writing the region first", &r, why);
}

static const char *what_is_there(const u8 *b, u64 lba, u32 len, u64 sd)
{
	return all_zero(b, len) ? "zeros" : check(b, 0, lba * ts_lus[0].bs, len, sd) < 0 ?
	       "the old data" : "other data";
}

static int unmap(u64 lba, u32 n, u64 lba2, u32 n2, u16 plen_override, struct res *r)
{
	u8 *p = ts_small + 2048, c[10] = { 0x42 };
	u16 plen = 8 + 32;

	memset(p, 0, 64);
	put16(p, plen - 2);		/* UNMAP DATA LENGTH */
	put16(p + 2, 32);		/* BLOCK DESCRIPTOR DATA LENGTH */
	put64(p + 8, lba);
	put32(p + 16, n);
	put64(p + 24, lba2);
	put32(p + 32, n2);
	if (plen_override != 0xffff)
		plen = plen_override;
	put16(c + 7, plen);
	return ts_cmd(0, c, 10, plen ? VSCSI_OUT : VSCSI_NONE, p, plen, r);
}

static bool test_scsi_unmap(char *why)
{
	struct lu *l = &ts_lus[0];
	u32 n = CHUNK / l->bs;
	struct res r;
	u64 s;

	if (!ts_ready("scsi-unmap", why))
		return false;
	if (l->ro) {
		printf("  %s: read-only disk: skipped (scsi-readonly tries it)\n", ts_cur);
		return true;
	}
	if (!l->lbpu && !l->max_unmap_lba) {
		printf("  %s: UNMAP not supported (no LBPU, no MAXIMUM UNMAP LBA COUNT): skipped\n", ts_cur);
		return true;
	}
	if (l->max_unmap_lba)
		n = MIN(n, l->max_unmap_lba);
	s = region(0, n);
	if (!write_region(s, n, seed ^ 3, why))
		return false;
	/* Two descriptors, the second of no blocks (not an error, SBC-3). */
	unmap(s, n, 0, 0, 0xffff, &r);
	if (!ts_expect_good("UNMAP", &r, why))
		return false;
	memset(ts_buf2, 0xa5, n * l->bs);
	ts_rw(0, false, 10, s, n, ts_buf2, &r);
	if (!ts_expect_good("reading back", &r, why))
		return false;
	if (l->lbprz && !all_zero(ts_buf2, n * l->bs))
		fail("LBPRZ set, but unmapped blocks %lu-%lu do not read back as zeros", s, s + n - 1);
	printf("  %s: %u blocks at %lu unmapped, read back %s (LBPME %u, LBPRZ %u)\n", ts_cur, n, s,
	       what_is_there(ts_buf2, s, n * l->bs, seed ^ 3), l->lbpme, l->lbprz);
	/* No parameter data: nothing to do, not an error (SBC-3). */
	unmap(0, 0, 0, 0, 0, &r);
	if (!ts_expect_good("UNMAP with parameter list length 0", &r, why))
		return false;
	/* A descriptor past the end. */
	unmap(l->nblocks - 1, 2, 0, 0, 0xffff, &r);
	if (!ts_expect_check("UNMAP across the end", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
		return false;
	printf("  %s: parameter list length 0 GOOD; a descriptor across the end -> 21h/00h\n", ts_cur);
	return true;
}

static int write_same(bool sixteen, u8 flags, u64 lba, u32 n, const void *block, struct res *r)
{
	u8 c[16];

	memset(c, 0, 16);
	c[0] = sixteen ? 0x93 : 0x41;
	c[1] = flags;
	if (sixteen) {
		put64(c + 2, lba);
		put32(c + 10, n);
	} else {
		put32(c + 2, lba);
		put16(c + 7, n);
	}
	return ts_cmd(0, c, sixteen ? 16 : 10, block ? VSCSI_OUT : VSCSI_NONE, (void *)block,
		   block ? ts_lus[0].bs : 0, r);
}

static bool test_scsi_write_same(char *why)
{
	struct lu *l = &ts_lus[0];
	u32 n = CHUNK / l->bs;
	struct res r;
	u64 s;

	if (!ts_ready("scsi-write-same", why))
		return false;
	if (l->ro) {
		printf("  %s: read-only disk: skipped (scsi-readonly tries it)\n", ts_cur);
		return true;
	}
	s = region(0, n) + n;
	/* A pattern block: every block of the range holds it. */
	fill(ts_buf1, 0, 0, l->bs, seed ^ 21);
	write_same(false, 0, s, n, ts_buf1, &r);
	if (!ts_expect_good("WRITE SAME (10) of a pattern", &r, why))
		return false;
	memset(ts_buf2, 0xa5, n * l->bs);
	ts_rw(0, false, 16, s, n, ts_buf2, &r);
	if (!ts_expect_good("reading back", &r, why))
		return false;
	for (u32 k = 0; k < n; k++)
		if (memcmp(ts_buf2 + k * l->bs, ts_buf1, l->bs))
			fail("WRITE SAME (10): block %lu is not the pattern block", s + k);
	/* Zeros with UNMAP: whether unmapped or written, they read as zeros. */
	memset(ts_buf1, 0, l->bs);
	write_same(true, 0x08, s, n, ts_buf1, &r);
	if (!ts_expect_good("WRITE SAME (16) of zeros with UNMAP", &r, why))
		return false;
	memset(ts_buf2, 0xa5, n * l->bs);
	ts_rw(0, false, 10, s, n, ts_buf2, &r);
	if (!ts_expect_good("reading back", &r, why))
		return false;
	if (!all_zero(ts_buf2, n * l->bs))
		fail("WRITE SAME (16) UNMAP of a zero block: blocks %lu-%lu do not read as zeros", s,
		     s + n - 1);
	/* Zeros without UNMAP, over a pattern: written zeros. */
	if (!write_region(s, n, seed ^ 22, why))
		return false;
	memset(ts_buf1, 0, l->bs);
	write_same(false, 0, s, n, ts_buf1, &r);
	if (!ts_expect_good("WRITE SAME (10) of zeros", &r, why))
		return false;
	memset(ts_buf2, 0xa5, n * l->bs);
	ts_rw(0, false, 12, s, n, ts_buf2, &r);
	if (!ts_expect_good("reading back", &r, why))
		return false;
	if (!all_zero(ts_buf2, n * l->bs))
		fail("WRITE SAME (10) of a zero block: blocks %lu-%lu do not read as zeros", s,
		     s + n - 1);
	/* NDOB: no data-out buffer, zeros (WRITE SAME (16)). */
	if (!write_region(s, n, seed ^ 23, why))
		return false;
	write_same(true, 0x01, s, n, NULL, &r);
	if (ts_good(&r)) {
		memset(ts_buf2, 0xa5, n * l->bs);
		ts_rw(0, false, 10, s, n, ts_buf2, &r);
		if (!ts_expect_good("reading back after NDOB", &r, why))
			return false;
		if (!all_zero(ts_buf2, n * l->bs) &&
		    !ts_differ(why, "WRITE SAME (16) with NDOB: GOOD, but blocks %lu-%lu read back %s, "
			    "SBC-3 says zeros", s, s + n - 1,
			    what_is_there(ts_buf2, s, n * l->bs, seed ^ 23)))
			return false;
	} else if (!ts_differ(why, "WRITE SAME (16) with NDOB: %s", ts_res_str(&r))) {
		return false;
	}
	/* WSNZ: a WRITE SAME of no blocks is refused. */
	if (l->wsnz) {
		memset(ts_buf1, 0, l->bs);
		write_same(false, 0, s, 0, ts_buf1, &r);
		if (!ts_expect_check("WRITE SAME (10) of 0 blocks with WSNZ", &r, SK_ILLEGAL_REQUEST,
				  0x24, 0, why))
			return false;
	}
	printf("  %s: WRITE SAME (10) pattern x %u, (16) zeros with UNMAP, (10) zeros, (16) "
	       "NDOB: read back right%s\n", ts_cur, n, l->wsnz ? "; 0 blocks with WSNZ -> 24h/00h" : "");
	return true;
}

/* ---- scsi-readonly ---- */

static bool test_scsi_readonly(char *why)
{
	bool want_ro = cmdline_is("scsi_ro", "1");
	struct lu *l = &ts_lus[0];
	struct res r;

	if (!ts_ready("scsi-readonly", why))
		return false;
	if (!want_ro) {
		if (l->ro)
			fail("MODE SENSE says write-protected but scsi_ro=1 was not given");
		printf("  %s: writable disk, WP 0 (scsi_ro=1 tests a read-only one)\n", ts_cur);
		return true;
	}
	if (!l->ro)
		fail("scsi_ro=1 but MODE SENSE's WP bit is 0");
	fill(ts_buf1, 0, 0, l->bs, seed ^ 5);
	ts_rw(0, true, 10, 0, 1, ts_buf1, &r);
	if (!ts_expect_check("WRITE (10) to a read-only disk", &r, SK_DATA_PROTECT, 0x27, 0, why))
		return false;
	ts_rw(0, true, 16, 1, 1, ts_buf1, &r);
	if (!ts_expect_check("WRITE (16) to a read-only disk", &r, SK_DATA_PROTECT, 0x27, 0, why))
		return false;
	write_same(false, 0, 0, 8, ts_buf1, &r);
	if (!ts_expect_check("WRITE SAME (10) to a read-only disk", &r, SK_DATA_PROTECT, 0x27, 0, why))
		return false;
	unmap(0, 8, 0, 0, 0xffff, &r);
	printf("  %s: UNMAP on the read-only disk: %s\n", ts_cur, ts_res_str(&r));
	if (r.resp != VSCSI_S_OK || r.status != SCSI_CHECK_CONDITION)
		fail("UNMAP on a read-only disk: %s", ts_res_str(&r));
	ts_rw(0, false, 10, 0, 1, ts_buf1, &r);
	if (!ts_expect_good("READ (10) from the read-only disk", &r, why))
		return false;
	printf("  %s: WP set; WRITE (10), (16), WRITE SAME -> DATA PROTECT 27h/00h; READ GOOD\n", ts_cur);
	return true;
}

/* ---- scsi-range ---- */

#define FAR_LBA	(1ULL << 62)

static bool test_scsi_range(char *why)
{
	static const struct { const char *what; u64 back; u32 n; bool write; bool ok; } t[] = {
		{ "read of the last block", 1, 1, false, true },
		{ "read at capacity", 0, 1, false, false },
		{ "read across the end", 1, 2, false, false },
		{ "write at capacity", 0, 1, true, false },
		{ "write across the end", 1, 2, true, false },
	};
	struct lu *l = &ts_lus[0];
	struct res r;
	u8 c[16];
	u64 cap;

	if (!ts_ready("scsi-range", why))
		return false;
	cap = l->nblocks;
	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		if (t[i].write && l->ro)
			continue;
		fill(ts_buf1, 0, (cap - t[i].back) * l->bs, t[i].n * l->bs, seed ^ 9);
		ts_rw(0, t[i].write, 10, cap - t[i].back, t[i].n, ts_buf1, &r);
		if (t[i].ok ? !ts_expect_good(t[i].what, &r, why)
			    : !ts_expect_check(t[i].what, &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
			return false;
	}
	/* virtio 1.2 5.6.6.1: residual = data length - bytes moved (nothing here) */
	ts_rw(0, false, 10, cap - 1, 2, ts_buf1, &r);
	printf("  %s: READ (10) across the end: residual %u of %u, sense_len %u\n", ts_cur, r.resid,
	       2 * l->bs, r.sense_len);
	if (r.resid != 2 * l->bs &&
	    !ts_differ(why, "CHECK CONDITION with nothing moved: residual %u, not the data length %u",
		    r.resid, 2 * l->bs))
		return false;
	ts_rw(0, false, 16, FAR_LBA, 1, ts_buf1, &r);
	if (!ts_expect_check("READ (16) at LBA 2^62", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
		return false;
	if (cap < 1u << 21) {
		ts_rw(0, false, 6, cap, 1, ts_buf1, &r);
		if (!ts_expect_check("READ (6) at capacity", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
			return false;
	}
	ts_rw(0, false, 12, cap - 1, 2, ts_buf1, &r);
	if (!ts_expect_check("READ (12) across the end", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
		return false;
	if (!l->ro) {
		write_same(true, 0, cap - 1, 2, ts_buf1, &r);
		if (!ts_expect_check("WRITE SAME (16) across the end", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
			return false;
	}
	memset(c, 0, 16);
	c[0] = 0x91;
	put64(c + 2, cap - 1);
	put32(c + 10, 2);
	ts_cmd(0, c, 16, VSCSI_NONE, NULL, 0, &r);
	if (!ts_is_check(&r, SK_ILLEGAL_REQUEST, 0x21, 0) &&
	    !ts_differ(why, "SYNCHRONIZE CACHE (16) across the end: %s, SBC-3 says 21h/00h",
		    ts_res_str(&r)))
		return false;
	/* Longer than the Block Limits page allows. */
	if (l->max_xfer && l->max_xfer < 0xffff) {
		/* (a buffer of CHUNK bytes: anything moved would be an overrun) */
		ts_rw_cdb(c, false, 10, 0, l->max_xfer + 1, false);
		ts_cmd(0, c, 10, VSCSI_IN, ts_buf1, CHUNK, &r);
		printf("  %s: READ (10) of max transfer + 1 blocks: %s\n", ts_cur, ts_res_str(&r));
	}
	printf("  %s: last block GOOD; at, across and far beyond capacity %lu (READ 6/10/12/16, "
	       "WRITE, WRITE SAME): 21h/00h\n", ts_cur, cap);
	return true;
}

/* ---- scsi-mq ---- */

struct mq_work {
	unsigned cpu;
	u64 commands;
	bool ok;
	char why[WHY_LEN];
};

static struct mq_work mq_work[MAX_CPUS];

static long mq_worker(void *arg)
{
	struct mq_work *w = arg;
	u64 slice = ts_lus[0].nblocks / ts_sc.nreq;

	user_irqs(true);
	w->ok = true;
	for (unsigned qi = 0; qi < ts_sc.nreq && w->ok; qi++) {
		u64 n = MIN(slice, 16ULL * CHUNK / ts_lus[0].bs), per = CHUNK / ts_lus[0].bs;
		struct job j = { .write = true, .at = at_range, .first = qi * slice,
				 .last = qi * slice + n, .seed = seed ^ (0x100 + qi),
				 .no_verify = ts_lus[0].ro, .why = w->why };

		if (vscsi_reqq(&ts_sc, qi)->cpu != w->cpu)
			continue;
		j.count = (n + per - 1) / per;
		w->ok = ts_lus[0].ro || run_job(qi, &j);
		if (w->ok) {
			j.write = false;
			w->ok = run_job(qi, &j);
		}
		w->commands += j.done;
	}
	user_irqs(false);
	return 0;
}

static bool test_scsi_mq(char *why)
{
	u64 before[VIRTIO_MAX_QUEUES][MAX_CPUS], sleeps0[VIRTIO_MAX_QUEUES];

	if (!ts_ready("scsi-mq", why))
		return false;
	if (ts_sc.nreq < 2) {
		printf("  %s: %u request queue (num_queues %u): nothing to spread\n", ts_cur, ts_sc.nreq,
		       ts_sc.cfg.num_queues);
		return true;
	}
	for (unsigned qi = 0; qi < ts_sc.nreq; qi++) {
		sleeps0[qi] = vscsi_reqq(&ts_sc, qi)->sleeps;
		for (unsigned c = 0; c < smp.ncpus; c++)
			before[qi][c] = irq_count(c, vscsi_reqq(&ts_sc, qi)->vec % NR_DEV_VECS);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		mq_work[c] = (struct mq_work){ .cpu = c };
	for (unsigned c = 1; c < smp.ncpus; c++)
		if (smp.cpus[c].online && !smp_start(c, mq_worker, &mq_work[c]))
			fail("cpu %u cannot take work", c);
	mq_worker(&mq_work[0]);
	user_irqs(true);
	for (unsigned c = 1; c < smp.ncpus; c++) {
		long r;

		if (smp.cpus[c].online && !smp_wait(c, 60000000, &r))
			fail("cpu %u did not finish", c);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (!mq_work[c].ok && smp.cpus[c].online)
			fail("cpu %u: %s", c, mq_work[c].why);
	for (unsigned qi = 0; qi < ts_sc.nreq; qi++) {
		struct virtq *q = vscsi_reqq(&ts_sc, qi);
		u64 mine = 0, others = 0, sleeps = q->sleeps - sleeps0[qi];

		for (unsigned c = 0; c < smp.ncpus; c++) {
			u64 n = irq_count(c, q->vec % NR_DEV_VECS) - before[qi][c];

			if (c == q->cpu)
				mine += n;
			else
				others += n;
		}
		printf("  %s: request queue %u on cpu %u: %lu interrupts there (%lu waited for), "
		       "%lu elsewhere\n", ts_cur, qi, q->cpu, mine, sleeps, others);
		if (q->vec >= NR_DEV_VECS)
			continue;
		if (others)
			fail("queue %u: %lu interrupts reached CPUs other than %u", qi, others, q->cpu);
		if (ts_opts.irq && (q->event_idx ? mine < sleeps : !mine))
			fail("queue %u: %lu interrupts on cpu %u for %lu waits", qi, mine, q->cpu, sleeps);
		if (!ts_opts.irq && mine > (q->event_idx && qi ? 1u : 0u))
			fail("queue %u: %lu interrupts while polling", qi, mine);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (mq_work[c].commands)
			printf("  %s: cpu %u: %lu commands %s\n", ts_cur, c, mq_work[c].commands,
			       ts_lus[0].ro ? "read (read-only disk)" : "verified");
	return true;
}

/* ---- scsi-multi-lun ---- */

static bool test_scsi_multi_lun(char *why)
{
	static u64 points[2 * 4096 + 8];
	u64 npoints, minblk = ~0ULL;
	bool ro = false;
	struct job j;
	char pfx[40];

	if (!ts_ready("scsi-multi-lun", why))
		return false;
	for (unsigned t = 0; t < ts_ntargets; t++) {
		u8 *b = ts_small;
		struct res r;

		memset(b, 0, 256);
		ts_inquiry(t, false, 0, 96, b, 96, &r);
		if (!ts_good(&r) || (b[0] & 0x1f) != 0 || b[0] >> 5)
			fail("target %u: INQUIRY %s, peripheral %02xh", t, ts_res_str(&r), b[0]);
		if (cmdline_get("scsi_serial", pfx, sizeof(pfx))) {
			char want[48];

			snprintf(want, sizeof(want), "%s%u", pfx, t);
			if (strcmp(ts_lus[t].serial, want))
				fail("target %u: serial '%s', expected '%s'", t, ts_lus[t].serial, want);
		}
		for (unsigned u = 0; u < t; u++)
			if (ts_lus[u].serial[0] && !strcmp(ts_lus[u].serial, ts_lus[t].serial))
				fail("targets %u and %u have the same serial '%s'", u, t, ts_lus[t].serial);
		minblk = MIN(minblk, ts_lus[t].nblocks);
		ro |= ts_lus[t].ro;
		printf("  %s: target %u: %lu blocks of %u, serial '%s'\n", ts_cur, t, ts_lus[t].nblocks,
		       ts_lus[t].bs, ts_lus[t].serial);
	}
	if (ts_ntargets < 2) {
		printf("  %s: one target (scsi_targets=N asks for more)\n", ts_cur);
		return true;
	}
	/* The same blocks of every target, in flight together, each with
	 * its own pattern: a target that answered for another shows. */
	npoints = make_points(0, points, ARRAY_SIZE(points));
	for (u64 k = 0; k < npoints; k++)
		points[k] %= minblk;
	j = (struct job){ .write = !ro, .count = npoints * ts_ntargets, .at = at_point,
			  .points = points, .ntgt = ts_ntargets, .seed = seed ^ 31, .no_verify = ro,
			  .why = why };
	if (!run_job(0, &j))
		return false;
	if (!ro) {
		j.write = false;
		if (!run_job(0, &j))
			return false;
	}
	j = (struct job){ .write = !ro, .count = 16 * ts_ntargets, .at = at_range, .first = 0,
			  .last = MIN(minblk, 16ULL * CHUNK / ts_lus[0].bs), .ntgt = ts_ntargets,
			  .seed = seed ^ 32, .cdb_mix = true, .no_verify = ro, .why = why };
	if (!run_job(0, &j))
		return false;
	if (!ro) {
		j.write = false;
		if (!run_job(0, &j))
			return false;
	}
	printf("  %s: %u targets on one controller: %lu single blocks and 16 chunks each, "
	       "interleaved, %s\n", ts_cur, ts_ntargets, npoints, ro ? "read (read-only)" :
	       "each read back with its own pattern");
	return true;
}

/* ---- the table ---- */

static const struct test_case cases[] = {
	{ "scsi-commands", test_scsi_commands },
	{ "scsi-rw", test_scsi_rw },
	{ "scsi-flush", test_scsi_flush },
	{ "scsi-unmap", test_scsi_unmap },
	{ "scsi-write-same", test_scsi_write_same },
	{ "scsi-readonly", test_scsi_readonly },
	{ "scsi-range", test_scsi_range },
	{ "scsi-mq", test_scsi_mq },
	{ "scsi-multi-lun", test_scsi_multi_lun },
	{ "scsi-tmf", test_scsi_tmf },
	{ "scsi-bad-target", test_scsi_bad_target },
	{ "scsi-malformed", test_scsi_malformed },
};

const struct test_case *scsi_cases(unsigned *n)
{
	for (unsigned i = 0; i < pci.ndevs; i++)
		if (pci.devs[i].vendor == VIRTIO_PCI_VENDOR &&
		    pci.devs[i].device == VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_SCSI) {
			*n = ARRAY_SIZE(cases);
			return cases;
		}
	*n = cmdline_is("scsi", "1") ? ARRAY_SIZE(cases) : 0;
	return cases;
}

void scsi_cases_end(void)
{
	if (usable)
		virtio_reset(&ts_sc.v);
	user_irqs(false);
}
