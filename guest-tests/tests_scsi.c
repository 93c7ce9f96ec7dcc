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

struct vscsi ts_sc;
struct virtio_opts ts_opts;
bool ts_stale, ts_strict;
const char *ts_cur = "scsi";	/* the case running, for notes */
static u64 seed;
unsigned ts_ntargets = 1;
struct lu ts_lus[MAX_TARGETS];
struct vscsi_cmd *ts_c1;
u8 *ts_buf1, *ts_buf2, *ts_small;

struct slot ts_slots[VIRTIO_MAX_QUEUES][DEPTH];

/* ---- set-up ---- */

static void parse_opts(void)
{
	char v[16];
	u64 n;

	virtio_opts_cmdline(&ts_opts, "scsi_wait");
	ts_strict = cmdline_is("scsi_strict", "1");
	if (cmdline_get("scsi_targets", v, sizeof(v)) && parse_uint(v, 10, &n) && n >= 1)
		ts_ntargets = MIN(n, (u64)MAX_TARGETS);
}

/* What target t's LUN 0 says about itself, into lus[t]. */
static bool learn_target(unsigned t, char *why)
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

static struct case_dev dev;

bool ts_reinit(const struct virtio_opts *o, char *why)
{
	if (!vscsi_init(&ts_sc, o, why, WHY_LEN))
		return dev_down(&dev, why);
	for (unsigned t = 0; t < ts_ntargets; t++)
		if (!ts_settle(t, why))
			return false;
	return true;
}

static bool restart(char *why)
{
	return ts_reinit(&ts_opts, why);
}

static bool learn(char *why)
{
	for (unsigned t = 0; t < ts_ntargets; t++)
		if (!learn_target(t, why))
			return false;
	return true;
}

static int probe(char *why, size_t whylen)
{
	int r;

	parse_opts();
	seed = run_seed(0x6b6974652d736373ULL);
	r = vscsi_probe(&ts_sc, why, whylen);
	ts_c1 = vscsi_cmd_alloc();
	ts_buf1 = ts_dbuf(CHUNK);
	ts_buf2 = ts_dbuf(CHUNK);
	ts_small = ts_dbuf(SMALL);
	if (r > 0 && (!ts_c1 || !ts_buf1 || !ts_buf2 || !ts_small)) {
		snprintf(why, whylen, "out of DMA memory");
		r = -1;
	}
	return r;
}

static struct case_dev dev = {
	.none = "no virtio-scsi device (1af4:1048) found",
	.v = &ts_sc.v,
	.bulk = &ts_bulk,
	.probe = probe,
	.restart = restart,
	.learn = learn,
};

bool ts_ready(const char *name, char *why)
{
	ts_cur = name;
	return dev_ready(&dev, why);
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

/* ---- the bulk engine's device (tests_disk.h) ---- */

static struct virtq *bulk_queue(unsigned qi)
{
	return vscsi_reqq(&ts_sc, qi);
}

static u32 bulk_block_size(unsigned t)
{
	return ts_lus[t].bs;
}

static bool bulk_alloc(struct slot *s)
{
	s->c = vscsi_cmd_alloc();
	s->buf = ts_dbuf(CHUNK);
	return s->c && s->buf;
}

static bool bulk_submit(unsigned qi, const struct job *j, unsigned k, struct slot *s,
			bool indirect)
{
	static const unsigned sizes[] = { 10, 6, 12, 16 };
	u32 bs = ts_lus[s->target].bs, len = s->nblk * bs;
	unsigned clen;
	u8 lun[8], c[16];

	vscsi_lun(lun, s->target, 0);
	clen = ts_rw_cdb(c, j->write, j->cdb_mix ? sizes[k % 4] : 10, s->lba, s->nblk, false);
	return vscsi_submit(&ts_sc, qi, s->c, lun, c, clen, j->write ? VSCSI_OUT : VSCSI_IN, s->buf,
			    len, segs_for(len, bs), indirect ? VSCSI_INDIRECT : 0) == 0;
}

static bool bulk_check(struct job *j, struct slot *s)
{
	struct res r;
	char *why = j->why;
	u32 bs = ts_lus[s->target].bs;
	long bad;

	ts_take_result(s->c, *(volatile u8 *)&s->c->resp_at->response, &r);
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
	    (bad = pattern_check(s->buf, s->target, s->lba * bs, s->nblk * bs, j->seed)) >= 0)
		fail("target %u: read at block %lu: word %ld is %016lx, wrote %016lx", s->target,
		     s->lba, bad, ((u64 *)s->buf)[bad],
		     pattern_word(j->seed, s->target, s->lba * bs, bad));
	return true;
}

const struct bulk_dev ts_bulk = {
	.what = "command",
	.slots = ts_slots,
	.stale = &ts_stale,
	.queue = bulk_queue,
	.block_size = bulk_block_size,
	.alloc = bulk_alloc,
	.submit = bulk_submit,
	.check = bulk_check,
};

/* ---- scsi-rw ---- */

static bool test_scsi_rw(char *why)
{
	static u64 points[MAX_POINTS];
	struct lu *l = &ts_lus[0];
	struct virtq *q;
	u64 npoints, irq0;
	struct job j;

	if (!ts_ready("scsi-rw", why))
		return false;
	q = vscsi_reqq(&ts_sc, 0);
	irq0 = vq_irqs(q);
	npoints = make_points(l->nblocks, l->bs, seed, points, ARRAY_SIZE(points));
	j = (struct job){ .count = npoints, .points = points, .seed = seed, .cdb_mix = true,
			  .no_verify = l->ro, .why = why };
	if (!write_read_job(&ts_bulk, 0, &j, l->ro))
		return false;
	if (l->ro) {
		printf("  %s: read-only disk: %lu single-block reads GOOD, nothing written\n", ts_cur,
		       npoints);
		return quiet_when_polling(q, ts_opts.irq, irq0, false, why);
	}
	printf("  %s: %lu single blocks (first and last of every MiB, 8 random) written and "
	       "verified, READ/WRITE (10), (6), (12), (16) in turn\n", ts_cur, npoints);
	if (l->nblocks * l->bs <= FULL_PASS_MAX) {
		unsigned n = chunks(l->nblocks, l->bs);

		j = (struct job){ .count = n, .first = 0, .last = l->nblocks, .seed = seed ^ 1,
				  .cdb_mix = true, .alt_indirect = ts_sc.indirect, .why = why };
		if (!write_read_job(&ts_bulk, 0, &j, false))
			return false;
		printf("  %s: full pass: %u commands of up to %u KiB in %u segments each way%s\n",
		       ts_cur, n, CHUNK / 1024, segs_for(CHUNK, l->bs),
		       ts_sc.indirect ? ", every other one indirect" : "");
	}
	printf("  %s: queue 0: %lu notifications, %lu suppressed, %lu interrupts\n", ts_cur, q->kicks,
	       q->kicks_skipped, vq_irqs(q) - irq0);
	return quiet_when_polling(q, ts_opts.irq, irq0, false, why);
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
		pattern_fill(ts_buf1, 0, 7 * l->bs, l->bs, seed ^ 7);
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

		pattern_fill(ts_buf1, 0, 8 * l->bs, l->bs, seed ^ 8);
		ts_cmd(0, w, wl, VSCSI_OUT, ts_buf1, l->bs, &r);
		if (!ts_expect_good("WRITE (10) with FUA", &r, why))
			return false;
		memset(ts_buf2, 0, l->bs);
		ts_rw(0, false, 16, 8, 1, ts_buf2, &r);
		if (!ts_expect_good("read after the FUA write", &r, why))
			return false;
		if (pattern_check(ts_buf2, 0, 8 * l->bs, l->bs, seed ^ 8) >= 0)
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

	pattern_fill(ts_buf1, 0, lba * ts_lus[0].bs, n * ts_lus[0].bs, sd);
	ts_rw(0, true, 10, lba, n, ts_buf1, &r);
	return ts_expect_good("writing the region first", &r, why);
}

/* A READ (size) of n blocks at lba into ts_buf2, poisoned first: GOOD. */
static bool read_back(unsigned size, u64 lba, u32 n, const char *what, char *why)
{
	struct res r;

	memset(ts_buf2, 0xa5, n * ts_lus[0].bs);
	ts_rw(0, false, size, lba, n, ts_buf2, &r);
	return ts_expect_good(what, &r, why);
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

/* scsi-unmap and scsi-write-same write: a read-only disk skips them. */
static bool skip_read_only(void)
{
	if (ts_lus[0].ro)
		printf("  %s: read-only disk: skipped (scsi-readonly tries it)\n", ts_cur);
	return ts_lus[0].ro;
}

static bool test_scsi_unmap(char *why)
{
	struct lu *l = &ts_lus[0];
	u32 n = CHUNK / l->bs;
	struct res r;
	u64 s;

	if (!ts_ready("scsi-unmap", why))
		return false;
	if (skip_read_only())
		return true;
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
	if (!read_back(10, s, n, "reading back", why))
		return false;
	if (l->lbprz && !all_zero(ts_buf2, n * l->bs))
		fail("LBPRZ set, but unmapped blocks %lu-%lu do not read back as zeros", s, s + n - 1);
	printf("  %s: %u blocks at %lu unmapped, read back %s (LBPME %u, LBPRZ %u)\n", ts_cur, n, s,
	       what_is_there(ts_buf2, 0, s * l->bs, n * l->bs, seed ^ 3), l->lbpme, l->lbprz);
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
	/* Zeros with UNMAP: whether unmapped or written, they read as zeros.
	 * Then zeros without UNMAP, over a pattern: written zeros. */
	static const struct {
		bool sixteen;
		u8 flags;
		unsigned read;		/* READ (n) for reading back */
		u64 over;		/* seed ^ over: the pattern written first, 0 none */
		const char *what, *bad;
	} zeros[] = {
		{ true, 0x08, 10, 0, "WRITE SAME (16) of zeros with UNMAP",
		  "WRITE SAME (16) UNMAP of a zero block" },
		{ false, 0, 12, 22, "WRITE SAME (10) of zeros", "WRITE SAME (10) of a zero block" },
	};
	struct lu *l = &ts_lus[0];
	u32 n = CHUNK / l->bs;
	struct res r;
	u64 s;

	if (!ts_ready("scsi-write-same", why))
		return false;
	if (skip_read_only())
		return true;
	s = region(0, n) + n;
	/* A pattern block: every block of the range holds it. */
	pattern_fill(ts_buf1, 0, 0, l->bs, seed ^ 21);
	write_same(false, 0, s, n, ts_buf1, &r);
	if (!ts_expect_good("WRITE SAME (10) of a pattern", &r, why) ||
	    !read_back(16, s, n, "reading back", why))
		return false;
	for (u32 k = 0; k < n; k++)
		if (memcmp(ts_buf2 + k * l->bs, ts_buf1, l->bs))
			fail("WRITE SAME (10): block %lu is not the pattern block", s + k);
	for (unsigned i = 0; i < ARRAY_SIZE(zeros); i++) {
		if (zeros[i].over && !write_region(s, n, seed ^ zeros[i].over, why))
			return false;
		memset(ts_buf1, 0, l->bs);
		write_same(zeros[i].sixteen, zeros[i].flags, s, n, ts_buf1, &r);
		if (!ts_expect_good(zeros[i].what, &r, why) ||
		    !read_back(zeros[i].read, s, n, "reading back", why))
			return false;
		if (!all_zero(ts_buf2, n * l->bs))
			fail("%s: blocks %lu-%lu do not read as zeros", zeros[i].bad, s, s + n - 1);
	}
	/* NDOB: no data-out buffer, zeros (WRITE SAME (16)). */
	if (!write_region(s, n, seed ^ 23, why))
		return false;
	write_same(true, 0x01, s, n, NULL, &r);
	if (ts_good(&r)) {
		if (!read_back(10, s, n, "reading back after NDOB", why))
			return false;
		if (!all_zero(ts_buf2, n * l->bs) &&
		    !ts_differ(why, "WRITE SAME (16) with NDOB: GOOD, but blocks %lu-%lu read back %s, "
			    "SBC-3 says zeros", s, s + n - 1,
			    what_is_there(ts_buf2, 0, s * l->bs, n * l->bs, seed ^ 23)))
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
	pattern_fill(ts_buf1, 0, 0, l->bs, seed ^ 5);
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
		pattern_fill(ts_buf1, 0, (cap - t[i].back) * l->bs, t[i].n * l->bs, seed ^ 9);
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

static void mq_print(unsigned qi, const struct mq_queue *s)
{
	printf("  %s: request queue %u on cpu %u: %lu interrupts there (%lu waited for), "
	       "%lu elsewhere\n", ts_cur, qi, s->q->cpu, s->mine, s->sleeps, s->others);
}

static bool test_scsi_mq(char *why)
{
	static struct mq_case m;

	if (!ts_ready("scsi-mq", why))
		return false;
	if (ts_sc.nreq < 2) {
		printf("  %s: %u request queue (num_queues %u): nothing to spread\n", ts_cur, ts_sc.nreq,
		       ts_sc.cfg.num_queues);
		return true;
	}
	m = (struct mq_case){ .name = ts_cur, .d = &ts_bulk, .nq = ts_sc.nreq,
			      .nblocks = ts_lus[0].nblocks, .ro = ts_lus[0].ro, .irq = ts_opts.irq,
			      .seed = seed, .print = mq_print };
	return mq_run(&m, why);
}

/* ---- scsi-multi-lun ---- */

static bool test_scsi_multi_lun(char *why)
{
	static u64 points[MAX_POINTS];
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
	npoints = make_points(ts_lus[0].nblocks, ts_lus[0].bs, seed, points, ARRAY_SIZE(points));
	for (u64 k = 0; k < npoints; k++)
		points[k] %= minblk;
	j = (struct job){ .count = npoints * ts_ntargets, .points = points, .ntgt = ts_ntargets,
			  .seed = seed ^ 31, .no_verify = ro, .why = why };
	if (!write_read_job(&ts_bulk, 0, &j, ro))
		return false;
	j = (struct job){ .count = 16 * ts_ntargets, .first = 0,
			  .last = MIN(minblk, 16ULL * CHUNK / ts_lus[0].bs), .ntgt = ts_ntargets,
			  .seed = seed ^ 32, .cdb_mix = true, .no_verify = ro, .why = why };
	if (!write_read_job(&ts_bulk, 0, &j, ro))
		return false;
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

/* Leave the device quiet and interrupts off for the cases after us. */
static void scsi_end(void)
{
	if (dev.usable)
		virtio_reset(&ts_sc.v);
	user_irqs(false);
}

const struct dev_cases scsi_cases = { "scsi", VIRTIO_ID_SCSI, cases, ARRAY_SIZE(cases), scsi_end };
