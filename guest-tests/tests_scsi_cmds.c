// SPDX-License-Identifier: Apache-2.0
/*
 * scsi-commands: the SCSI command table through LUN 0 of target 0. Each
 * response's fields that SPC-4 and SBC-3 fix are checked, the rest printed
 * (see tests_scsi.c for notes and scsi_strict=1).
 */
#include "tests_scsi.h"
#include "cmdline.h"
#include "console.h"

/* ---- scsi-commands: the command table ---- */

static void print_device(void)
{
	struct vscsi_config *c = &ts_sc.cfg;

	print_found("scsi", &ts_sc.v);
	printf("  scsi: num_queues %u (%u used, %u entries each), seg_max %u, max_sectors %u, "
	       "cmd_per_lun %u, event_info_size %u, sense %u, cdb %u, max_target %u, max_lun %u\n",
	       c->num_queues, ts_sc.nreq, vscsi_reqq(&ts_sc, 0)->size, c->seg_max, c->max_sectors,
	       c->cmd_per_lun, c->event_info_size, c->sense_size, c->cdb_size, c->max_target,
	       c->max_lun);
	printf("  scsi: %s, %s layout, EVENT_IDX %s, INDIRECT_DESC %s, MSI-X %u entries%s\n",
	       wait_name(&ts_opts), ts_opts.merged ? "merged" : "split", ts_sc.event_idx ? "on" : "off",
	       ts_sc.indirect ? "on" : "off", ts_sc.v.msix_entries, ts_strict ? ", strict" : "");
	for (unsigned t = 0; t < ts_ntargets; t++) {
		struct lu *l = &ts_lus[t];

		printf("  scsi: target %u: '%s' '%s' '%s' serial '%s', %lu blocks of %u "
		       "(phys exp %u)%s%s%s%s%s\n", t, l->vendor, l->product, l->rev, l->serial,
		       l->nblocks, l->bs, l->phys_exp, l->ro ? ", write-protected" : "",
		       l->wce ? ", WCE" : "", l->lbpme ? ", LBPME" : "", l->lbprz ? ", LBPRZ" : "",
		       l->lbpu ? ", UNMAP" : "");
	}
}

static bool has_byte(const u8 *p, unsigned n, u8 v)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] == v)
			return true;
	return false;
}

static bool all_zero_u8(const u8 *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * A data-in reply of `avail` bytes into a buffer of `alloc` (the
 * allocation length): the residual says alloc - avail, or the target
 * padded the reply with zeros to the allocation length (QEMU does, and
 * says so in the residual), which is noted once.
 */
static bool reply_len(const char *what, const struct res *r, const u8 *b, u32 alloc, u32 avail,
		      char *why)
{
	static bool noted;
	u32 moved = alloc - MIN(r->resid, alloc);

	avail = MIN(avail, alloc);
	if (r->resid > alloc || moved == avail)
		return r->resid <= alloc ? true : (snprintf(why, WHY_LEN, "%s: residual %u > %u",
							    what, r->resid, alloc), false);
	if (moved < avail || !all_zero_u8(b + avail, moved - avail))
		fail("%s: %u bytes of data, %u moved (residual %u)", what, avail, moved, r->resid);
	if (ts_strict || !noted) {
		noted = true;
		return ts_differ(why, "%s: %u bytes of data padded with zeros to %u (residual %u)%s",
			      what, avail, moved, r->resid, ts_strict ? "" : "; not noted again");
	}
	return true;
}

static bool printable(const u8 *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static bool cmds_inquiry(char *why)
{
	u8 *b = ts_small;
	struct res r;
	unsigned alen;

	memset(b, 0xa5, 96);
	ts_inquiry(0, false, 0, 96, b, 96, &r);
	if (!ts_expect_good("INQUIRY", &r, why))
		return false;
	alen = b[4] + 5u;
	printf("  %s: INQUIRY: PQ %u type %02xh RMB %u version %02xh format %u HISUP %u "
	       "additional length %u, byte 7 %02xh, residual %u\n", ts_cur, b[0] >> 5, b[0] & 0x1f,
	       b[1] >> 7, b[2], b[3] & 0x0f, b[3] >> 4 & 1, b[4], b[7], r.resid);
	if (b[0] != 0x00)
		fail("INQUIRY: peripheral %02xh, expected 00h (a connected direct-access device)", b[0]);
	if ((b[3] & 0x0f) != 2)
		fail("INQUIRY: response data format %u, SPC-4 says 2", b[3] & 0x0f);
	if (alen < 36)
		fail("INQUIRY: additional length %u, standard data is at least 36 bytes", b[4]);
	if (!printable(b + 8, 28))
		fail("INQUIRY: vendor, product or revision is not printable ASCII");
	if (!reply_len("INQUIRY", &r, b, 96, alen, why))
		return false;
	/* A short allocation length: the residual says how much was not moved. */
	memset(b, 0xa5, 96);
	ts_inquiry(0, false, 0, 5, b, 96, &r);
	if (!ts_expect_good("INQUIRY, allocation length 5", &r, why))
		return false;
	if (r.resid != 91 || b[5] != 0xa5)
		fail("INQUIRY, allocation length 5 into 96 bytes: residual %u (byte 5 %02xh), "
		     "expected 91 and nothing past byte 4", r.resid, b[5]);
	/* More than the buffer holds: virtio's overrun, nothing moved. */
	ts_inquiry(0, false, 0, 200, b, 96, &r);
	if (r.resp != VSCSI_S_OVERRUN)
		fail("INQUIRY, allocation length 200 into 96 bytes: %s, expected OVERRUN",
		     ts_res_str(&r));
	/* PAGE CODE without EVPD (SPC-4: INVALID FIELD IN CDB). */
	ts_inquiry(0, false, 0x80, 96, b, 96, &r);
	if (!ts_expect_check("INQUIRY, EVPD 0 with page 80h", &r, SK_ILLEGAL_REQUEST, 0x24, 0, why))
		return false;
	printf("  %s: INQUIRY: allocation 5 -> residual 91; 200 -> OVERRUN; page without EVPD "
	       "-> 24h/00h, field pointer %s %u\n", ts_cur, r.sense[15] & 0x80 ? "byte" : "(none)",
	       be16(r.sense + 16));
	return true;
}

static bool cmds_vpd(char *why)
{
	static const u8 want[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	struct lu *l = &ts_lus[0];
	u8 *b = ts_small;
	struct res r;
	char list[64] = "";

	ts_inquiry(0, true, 0x00, 64, b, 64, &r);
	if (!ts_expect_good("VPD 00h", &r, why))
		return false;
	if (b[1] != 0x00 || !l->nvpd || l->vpd[0] != 0x00)
		fail("VPD 00h: page code %02xh, first page %02xh", b[1], l->vpd[0]);
	for (unsigned i = 0; i < l->nvpd; i++) {
		snprintf(list + strlen(list), sizeof(list) - strlen(list), " %02xh", l->vpd[i]);
		if (i && l->vpd[i] <= l->vpd[i - 1])
			fail("VPD 00h: pages not in ascending order:%s", list);
	}
	printf("  %s: VPD pages:%s\n", ts_cur, list);
	for (unsigned k = 1; k < ARRAY_SIZE(want); k++) {
		bool have = has_byte(l->vpd, l->nvpd, want[k]);
		unsigned len;

		if (!have) {
			if (!ts_differ(why, "VPD page %02xh not supported", want[k]))
				return false;
			continue;
		}
		memset(b, 0xa5, 256);
		ts_inquiry(0, true, want[k], 255, b, 255, &r);
		if (!ts_good(&r))
			fail("VPD %02xh: %s", want[k], ts_res_str(&r));
		len = be16(b + 2);
		if (b[1] != want[k] || (b[0] & 0x1f) != 0)
			fail("VPD %02xh: page code %02xh, peripheral %02xh", want[k], b[1], b[0]);
		if (!reply_len("VPD page", &r, b, 255, len + 4, why))
			return false;
		switch (want[k]) {
		case 0x80: {
			char want_s[48] = "", pfx[40];

			if (!printable(b + 4, len))
				fail("VPD 80h: serial number is not printable ASCII");
			printf("  %s: VPD 80h: serial '%s' (%u bytes)\n", ts_cur, l->serial, len);
			if (cmdline_get("scsi_serial", pfx, sizeof(pfx))) {
				snprintf(want_s, sizeof(want_s), "%s0", pfx);
				if (strcmp(l->serial, want_s))
					fail("VPD 80h: serial '%s', scsi_serial= says '%s'", l->serial,
					     want_s);
			}
			break;
		}
		case 0x83: {
			unsigned off = 4, nlu = 0;

			while (off + 4 <= len + 4) {
				const u8 *d = b + off;
				unsigned dl = d[3], type = d[1] & 0x0f, assoc = d[1] >> 4 & 3;
				char v[40];

				if (off + 4 + dl > len + 4)
					fail("VPD 83h: designator at %u overruns the page", off);
				if ((d[0] & 0x0f) == 2 || (d[0] & 0x0f) == 3)
					ts_copy_ascii(v, d + 4, MIN(dl, 39u));
				else
					snprintf(v, sizeof(v), "%u binary bytes", dl);
				printf("  %s: VPD 83h: designator type %u, association %u, code set %u: '%s'\n",
				       ts_cur, type, assoc, d[0] & 0x0f, v);
				nlu += assoc == 0;
				off += 4 + dl;
			}
			if (off != len + 4)
				fail("VPD 83h: designators end at %u, the page at %u", off, len + 4);
			if (!nlu)
				fail("VPD 83h: no designator of the logical unit (association 0)");
			break;
		}
		case 0xb0:
			if (len != 0x3c)
				fail("VPD B0h: page length %u, SBC-3 says 3Ch", len);
			printf("  %s: VPD B0h: WSNZ %u, granularity %u, max transfer %u, optimal %u, "
			       "max unmap %u LBAs / %u descriptors, unmap granularity %u%s, "
			       "max write same %lu\n", ts_cur, b[4] & 1, be16(b + 6), be32(b + 8),
			       be32(b + 12), be32(b + 20), be32(b + 24), be32(b + 28),
			       b[32] & 0x80 ? " (valid)" : "", be64(b + 36));
			break;
		case 0xb1:
			if (len != 0x3c)
				fail("VPD B1h: page length %u, SBC-3 says 3Ch", len);
			printf("  %s: VPD B1h: rotation rate %u, form factor %u\n", ts_cur, be16(b + 4),
			       b[7] & 0x0f);
			break;
		case 0xb2:
			if (len < 4)
				fail("VPD B2h: page length %u, at least 4", len);
			printf("  %s: VPD B2h: threshold exp %u, LBPU %u LBPWS %u LBPWS10 %u LBPRZ %u "
			       "ANC_SUP %u DP %u, provisioning type %u\n", ts_cur, b[4], b[5] >> 7,
			       b[5] >> 6 & 1, b[5] >> 5 & 1, b[5] >> 2 & 7, b[5] >> 1 & 1, b[5] & 1,
			       b[6] & 7);
			break;
		}
	}
	/* A page nobody has. */
	ts_inquiry(0, true, 0xc7, 64, b, 64, &r);
	return ts_expect_check("VPD C7h", &r, SK_ILLEGAL_REQUEST, 0x24, 0, why);
}

static bool cmds_capacity(char *why)
{
	struct lu *l = &ts_lus[0];
	u8 *b = ts_small, c[16] = { 0x25 };
	struct res r;
	u64 last;

	memset(b, 0, 64);
	ts_cmd(0, c, 10, VSCSI_IN, b, 8, &r);
	if (!ts_expect_good("READ CAPACITY (10)", &r, why))
		return false;
	last = be32(b);
	if (be32(b + 4) != l->bs || (last != 0xffffffff && last + 1 != l->nblocks))
		fail("READ CAPACITY (10): last LBA %lu, %u bytes; (16) said %lu blocks of %u",
		     last, be32(b + 4), l->nblocks, l->bs);
	memset(c, 0, 16);
	c[0] = 0x9e;
	c[1] = 0x10;
	put32(c + 10, 32);
	ts_cmd(0, c, 16, VSCSI_IN, b, 32, &r);
	if (!ts_good(&r)) {
		if (!ts_differ(why, "READ CAPACITY (16): %s", ts_res_str(&r)))
			return false;
	} else {
		printf("  %s: READ CAPACITY (16): last LBA %lu, %u bytes, P_TYPE/PROT_EN %02xh, "
		       "phys exp %u, LBPME %u LBPRZ %u, lowest aligned %u\n", ts_cur, be64(b), be32(b + 8),
		       b[12], b[13] & 0x0f, b[14] >> 7, b[14] >> 6 & 1, be16(b + 14) & 0x3fff);
		if (b[12] & 0x01)
			fail("READ CAPACITY (16): PROT_EN set on a disk without protection information");
	}
	/* A service action of SERVICE ACTION IN (16) that does not exist. */
	c[1] = 0x1f;
	ts_cmd(0, c, 16, VSCSI_IN, b, 32, &r);
	return ts_expect_check("SERVICE ACTION IN (16), action 1Fh", &r, SK_ILLEGAL_REQUEST, 0x24, 0,
			    why);
}

/* Walk the mode pages of a MODE SENSE answer; false if they do not tile. */
static bool walk_pages(const u8 *b, unsigned n, unsigned off, char *list, size_t ll)
{
	while (off + 2 <= n) {
		unsigned plen = (b[off] & 0x40) ? 4u + be16(b + off + 2) : 2u + b[off + 1];

		snprintf(list + strlen(list), ll - strlen(list), " %02xh(%u)", b[off] & 0x3f, plen);
		off += plen;
	}
	return off == n;
}

static bool cmds_mode(char *why)
{
	struct lu *l = &ts_lus[0];
	u8 *b = ts_small, *b2 = ts_small + 512, *p;
	struct res r;
	char list[128] = "";
	unsigned n, bd;

	/* (6), caching page, with the block descriptor. */
	memset(b, 0xa5, 256);
	ts_mode_sense(0, false, 0x08, false, 255, b, &r);
	if (!ts_expect_good("MODE SENSE (6) page 08h", &r, why))
		return false;
	n = b[0] + 1u;
	bd = b[3];
	if (!reply_len("MODE SENSE (6)", &r, b, 255, n, why))
		return false;
	if ((bd != 0 && bd != 8) || (bd == 8 && (u32)(b[4 + 5] << 16 | be16(b + 4 + 6)) != l->bs))
		fail("MODE SENSE (6): block descriptor of %u bytes, block length %u (disk: %u)", bd,
		     bd ? (u32)(b[4 + 5] << 16 | be16(b + 4 + 6)) : 0, l->bs);
	p = b + 4 + bd;
	if ((p[0] & 0x3f) != 0x08 || p[1] != 0x12)
		fail("MODE SENSE (6): page %02xh length %u, expected caching page 08h of 12h", p[0] & 0x3f,
		     p[1]);
	if (!!(b[2] & 0x80) != cmdline_is("scsi_ro", "1"))
		fail("MODE SENSE (6): WP %u, but scsi_ro=%s", b[2] >> 7,
		     cmdline_is("scsi_ro", "1") ? "1" : "0");
	printf("  %s: MODE SENSE (6) 08h: medium type %u, WP %u DPOFUA %u, block descriptor %u "
	       "(%u blocks), caching: WCE %u RCD %u\n", ts_cur, b[1], b[2] >> 7, b[2] >> 4 & 1, bd,
	       bd ? be32(b + 4) : 0, p[2] >> 2 & 1, p[2] & 1);
	/* (10) says the same. */
	memset(b2, 0xa5, 256);
	ts_mode_sense(0, true, 0x08, false, 255, b2, &r);
	if (!ts_expect_good("MODE SENSE (10) page 08h", &r, why))
		return false;
	if (!reply_len("MODE SENSE (10)", &r, b2, 255, be16(b2) + 2u, why))
		return false;
	if (be16(b2 + 6) != bd || b2[3] != b[2] ||
	    memcmp(b2 + 8 + bd, p, 20))
		fail("MODE SENSE (10): length %u, descriptor %u, parameter %02xh, or the caching page "
		     "differs from (6)", be16(b2), be16(b2 + 6), b2[3]);
	/* Changeable values, and saved ones. */
	ts_mode_sense(0, false, 0x48, true, 255, b2, &r);
	if (ts_good(&r))
		printf("  %s: MODE SENSE 08h changeable: byte 2 mask %02xh\n", ts_cur, b2[4 + b2[3] + 2]);
	else if (!ts_differ(why, "MODE SENSE 08h changeable values: %s", ts_res_str(&r)))
		return false;
	ts_mode_sense(0, false, 0xc8, true, 255, b2, &r);
	printf("  %s: MODE SENSE 08h saved values: %s\n", ts_cur, ts_res_str(&r));
	/* Control page. */
	ts_mode_sense(0, false, 0x0a, true, 255, b2, &r);
	if (ts_good(&r)) {
		p = b2 + 4 + b2[3];
		if ((p[0] & 0x3f) != 0x0a || p[1] != 0x0a)
			fail("MODE SENSE 0Ah: page %02xh of length %u, expected 0Ah of 0Ah", p[0] & 0x3f,
			     p[1]);
		printf("  %s: MODE SENSE 0Ah: TST %u, QAM %u, D_SENSE %u, GLTSD %u, SWP %u\n", ts_cur,
		       p[2] >> 5, p[3] >> 4, p[2] >> 2 & 1, p[2] >> 1 & 1, p[4] >> 3 & 1);
	} else if (!ts_differ(why, "MODE SENSE control page 0Ah: %s", ts_res_str(&r))) {
		return false;
	}
	/* Every page. */
	memset(b2, 0xa5, 1024);
	ts_mode_sense(0, true, 0x3f, true, 1024, b2, &r);
	if (!ts_expect_good("MODE SENSE (10) page 3Fh", &r, why))
		return false;
	n = be16(b2) + 2u;
	if (!reply_len("MODE SENSE (10) 3Fh", &r, b2, 1024, n, why))
		return false;
	if (!walk_pages(b2, n, 8 + be16(b2 + 6), list, sizeof(list)))
		fail("MODE SENSE 3Fh: pages do not tile the %u bytes:%s", n, list);
	printf("  %s: MODE SENSE 3Fh: pages%s\n", ts_cur, list);
	/* A page nobody has. */
	ts_mode_sense(0, false, 0x3e, true, 255, b2, &r);
	return ts_expect_check("MODE SENSE page 3Eh", &r, SK_ILLEGAL_REQUEST, 0x24, 0, why);
}

/* MODE SELECT of the caching page with WCE set to wce; (10) or (6). */
static int select_wce(bool ten, const u8 *page, bool wce, u8 extra, struct res *r)
{
	u8 *b = ts_small + 1024, c[10] = { ten ? 0x55 : 0x15, 0x10 };
	unsigned h = ten ? 8 : 4, n = h + 20;

	memset(b, 0, h);
	memcpy(b + h, page, 20);
	b[h] &= 0x3f;			/* PS is reserved in MODE SELECT */
	b[h + 2] = (b[h + 2] & ~0x04) | (wce ? 0x04 : 0) | extra;
	if (ten)
		put16(c + 7, n);
	else
		c[4] = n;
	return ts_cmd(0, c, ten ? 10 : 6, VSCSI_OUT, b, n, r);
}

static bool cmds_mode_select(char *why)
{
	u8 *b = ts_small, page[20], mask;
	struct res r;
	bool wce, now;

	ts_mode_sense(0, false, 0x08, true, 255, b, &r);
	if (!ts_good(&r))
		fail("MODE SENSE 08h: %s", ts_res_str(&r));
	memcpy(page, b + 4 + b[3], 20);
	wce = page[2] & 0x04;
	ts_mode_sense(0, false, 0x48, true, 255, b, &r);
	mask = ts_good(&r) ? b[4 + b[3] + 2] : 0;
	if (!(mask & 0x04)) {
		printf("  %s: MODE SELECT: WCE is not changeable: skipped\n", ts_cur);
		return true;
	}
	select_wce(true, page, !wce, 0, &r);
	if (!ts_expect_good("MODE SELECT (10), WCE flipped", &r, why))
		return false;
	ts_mode_sense(0, true, 0x08, true, 255, b, &r);
	now = ts_good(&r) && (b[8 + be16(b + 6) + 2] & 0x04);
	if (!ts_good(&r) || now == wce)
		fail("after MODE SELECT (10) WCE=%u, MODE SENSE (10) says %s WCE=%u", !wce,
		     ts_res_str(&r), now);
	select_wce(false, page, wce, 0, &r);
	if (!ts_expect_good("MODE SELECT (6), WCE back", &r, why))
		return false;
	ts_mode_sense(0, false, 0x08, true, 255, b, &r);
	now = ts_good(&r) && (b[4 + b[3] + 2] & 0x04);
	if (now != wce)
		fail("after MODE SELECT (6) WCE=%u, MODE SENSE (6) says WCE=%u", wce, now);
	/* A bit MODE SENSE does not call changeable: INVALID FIELD IN PARAMETER LIST. */
	if (!(mask & 0x01)) {
		select_wce(false, page, wce, (page[2] & 0x01) ? 0 : 0x01, &r);
		if (!ts_good(&r) && !(page[2] & 0x01)) {
			if (!ts_expect_check("MODE SELECT changing RCD", &r, SK_ILLEGAL_REQUEST, 0x26, 0, why))
				return false;
		} else if (ts_good(&r)) {
			fail("MODE SELECT changing RCD, which is not changeable: GOOD");
		}
	}
	printf("  %s: MODE SELECT (10)/(6): WCE %u -> %u -> %u; a change to RCD refused\n", ts_cur,
	       wce, !wce, wce);
	return true;
}

static bool cmds_small(char *why)
{
	u8 *b = ts_small, c[16];
	struct res r;

	/* REQUEST SENSE after a GOOD command: nothing pending. */
	if (!ts_settle(0, why))
		return false;
	memset(c, 0, 16);
	c[0] = 0x03;
	c[4] = 18;
	memset(b, 0xa5, 32);
	ts_cmd(0, c, 6, VSCSI_IN, b, 18, &r);
	if (!ts_expect_good("REQUEST SENSE", &r, why))
		return false;
	if ((b[0] & 0x7f) != 0x70 || (b[2] & 0x0f) != SK_NO_SENSE || b[12] || b[13])
		fail("REQUEST SENSE with nothing pending: code %02xh key %xh %02xh/%02xh, expected "
		     "70h NO SENSE 00h/00h", b[0], b[2] & 0x0f, b[12], b[13]);
	c[1] = 0x01;			/* DESC */
	c[4] = 32;
	memset(b, 0xa5, 32);
	ts_cmd(0, c, 6, VSCSI_IN, b, 32, &r);
	printf("  %s: REQUEST SENSE: fixed 70h NO SENSE; with DESC=1: %s, code %02xh\n", ts_cur,
	       ts_res_str(&r), ts_good(&r) ? b[0] : 0);
	if (ts_good(&r) && (b[0] & 0x7f) != 0x72 && (b[0] & 0x7f) != 0x70)
		fail("REQUEST SENSE DESC=1: response code %02xh", b[0]);
	/* REQUEST SENSE right after an error: what autosense already gave. */
	memset(c, 0, 16);
	c[0] = 0xd5;
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_expect_check("opcode D5h", &r, SK_ILLEGAL_REQUEST, 0x20, 0, why))
		return false;
	memset(c, 0, 16);
	c[0] = 0x03;
	c[4] = 18;
	ts_cmd(0, c, 6, VSCSI_IN, b, 18, &r);
	printf("  %s: unknown opcode D5h -> 20h/00h; REQUEST SENSE after it: key %xh %02xh/%02xh\n",
	       ts_cur, b[2] & 0x0f, b[12], b[13]);

	/* REPORT LUNS. */
	memset(c, 0, 16);
	c[0] = 0xa0;
	put32(c + 6, 256);
	memset(b, 0xa5, 256);
	ts_cmd(0, c, 12, VSCSI_IN, b, 256, &r);
	if (!ts_expect_good("REPORT LUNS", &r, why))
		return false;
	{
		u32 ll = be32(b);
		bool lun0 = false;

		for (u32 i = 0; i < ll / 8 && 8 + 8 * i + 8 <= 256; i++)
			lun0 |= !be64(b + 8 + 8 * i);
		if (ll % 8 || !ll || !lun0)
			fail("REPORT LUNS: list length %u%s", ll, lun0 ? "" : ", LUN 0 not listed");
		if (!reply_len("REPORT LUNS", &r, b, 256, 8 + ll, why))
			return false;
		if (ll != 8 && !ts_differ(why, "REPORT LUNS lists %u LUNs, kite has LUN 0 only", ll / 8))
			return false;
		printf("  %s: REPORT LUNS: %u LUN%s, LUN 0 among them\n", ts_cur, ll / 8,
		       ll == 8 ? "" : "s");
	}

	/* TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL. */
	ts_tur(0, &r);
	if (!ts_expect_good("TEST UNIT READY", &r, why))
		return false;
	memset(c, 0, 16);
	c[0] = 0x1b;
	c[4] = 0x00;		/* stop */
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_good(&r) && !ts_differ(why, "START STOP UNIT (stop): %s", ts_res_str(&r)))
		return false;
	c[4] = 0x01;		/* start */
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_expect_good("START STOP UNIT (start)", &r, why))
		return false;
	c[4] = 0x20;		/* power condition IDLE */
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	printf("  %s: START STOP UNIT: stop, start GOOD; power condition IDLE: %s\n", ts_cur,
	       ts_res_str(&r));
	if (!ts_settle(0, why))
		return false;
	memset(c, 0, 16);
	c[0] = 0x1e;
	c[4] = 1;
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_good(&r) && !ts_differ(why, "PREVENT ALLOW MEDIUM REMOVAL (prevent): %s", ts_res_str(&r)))
		return false;
	c[4] = 0;
	ts_cmd(0, c, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_good(&r) && !ts_differ(why, "PREVENT ALLOW MEDIUM REMOVAL (allow): %s", ts_res_str(&r)))
		return false;

	/* VERIFY (10) and (16), BYTCHK 0: the range only. */
	memset(c, 0, 16);
	c[0] = 0x2f;
	put32(c + 2, ts_lus[0].nblocks - 8);
	put16(c + 7, 8);
	ts_cmd(0, c, 10, VSCSI_NONE, NULL, 0, &r);
	if (!ts_good(&r))
		return ts_differ(why, "VERIFY (10): %s", ts_res_str(&r));
	memset(c, 0, 16);
	c[0] = 0x8f;
	put64(c + 2, ts_lus[0].nblocks - 1);
	put32(c + 10, 2);
	ts_cmd(0, c, 16, VSCSI_NONE, NULL, 0, &r);
	if (r.status == SCSI_CHECK_CONDITION || !ts_good(&r)) {
		if (!ts_expect_check("VERIFY (16) across the end", &r, SK_ILLEGAL_REQUEST, 0x21, 0, why))
			return false;
	} else if (!ts_differ(why, "VERIFY (16) across the end: GOOD, SBC-3 says 21h/00h")) {
		return false;
	}
	printf("  %s: TEST UNIT READY, PREVENT/ALLOW, VERIFY (10) GOOD; VERIFY (16) across the "
	       "end -> %s\n", ts_cur, ts_res_str(&r));
	return true;
}

/* The commands of the table, for REPORT SUPPORTED OPERATION CODES. */
static const struct { u8 op; u8 sa; bool has_sa; u8 len; const char *name; } table[] = {
	{ 0x00, 0, false, 6, "TEST UNIT READY" }, { 0x03, 0, false, 6, "REQUEST SENSE" },
	{ 0x08, 0, false, 6, "READ (6)" }, { 0x0a, 0, false, 6, "WRITE (6)" },
	{ 0x12, 0, false, 6, "INQUIRY" }, { 0x15, 0, false, 6, "MODE SELECT (6)" },
	{ 0x1a, 0, false, 6, "MODE SENSE (6)" }, { 0x1b, 0, false, 6, "START STOP UNIT" },
	{ 0x1e, 0, false, 6, "PREVENT ALLOW MEDIUM REMOVAL" },
	{ 0x25, 0, false, 10, "READ CAPACITY (10)" }, { 0x28, 0, false, 10, "READ (10)" },
	{ 0x2a, 0, false, 10, "WRITE (10)" }, { 0x2f, 0, false, 10, "VERIFY (10)" },
	{ 0x35, 0, false, 10, "SYNCHRONIZE CACHE (10)" }, { 0x41, 0, false, 10, "WRITE SAME (10)" },
	{ 0x42, 0, false, 10, "UNMAP" }, { 0x55, 0, false, 10, "MODE SELECT (10)" },
	{ 0x5a, 0, false, 10, "MODE SENSE (10)" }, { 0x88, 0, false, 16, "READ (16)" },
	{ 0x8a, 0, false, 16, "WRITE (16)" }, { 0x8f, 0, false, 16, "VERIFY (16)" },
	{ 0x91, 0, false, 16, "SYNCHRONIZE CACHE (16)" }, { 0x93, 0, false, 16, "WRITE SAME (16)" },
	{ 0x9e, 0x10, true, 16, "READ CAPACITY (16)" }, { 0xa0, 0, false, 12, "REPORT LUNS" },
	{ 0xa3, 0x0c, true, 12, "REPORT SUPPORTED OPERATION CODES" },
	{ 0xa8, 0, false, 12, "READ (12)" }, { 0xaa, 0, false, 12, "WRITE (12)" },
};

/* The CDB length SAM-5 gives an operation code's group. */
static unsigned group_len(u8 op)
{
	static const u8 len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };

	return len[op >> 5];
}

static bool cmds_opcodes(char *why)
{
	u8 *b = ts_small, c[12] = { 0xa3, 0x0c };
	struct res r;
	u32 n;
	unsigned missing = 0, listed = 0;
	char first_missing[40] = "";

	put32(c + 6, SMALL);
	memset(b, 0xa5, SMALL);
	ts_cmd(0, c, 12, VSCSI_IN, b, SMALL, &r);
	if (!ts_good(&r))
		return ts_differ(why, "REPORT SUPPORTED OPERATION CODES: %s", ts_res_str(&r));
	n = be32(b);
	if (n % 8 || n + 4 > SMALL)
		fail("REPORT SUPPORTED OPERATION CODES: command data length %u", n);
	if (!reply_len("REPORT SUPPORTED OPERATION CODES", &r, b, SMALL, n + 4, why))
		return false;
	for (u32 off = 4; off < n + 4; off += 8) {
		const u8 *d = b + off;

		listed++;
		if (group_len(d[0]) && be16(d + 6) != group_len(d[0]))
			fail("REPORT SUPPORTED OPERATION CODES: %02xh listed with a %u-byte CDB, its "
			     "group has %u", d[0], be16(d + 6), group_len(d[0]));
	}
	for (unsigned i = 0; i < ARRAY_SIZE(table); i++) {
		bool found = false;

		for (u32 off = 4; off < n + 4 && !found; off += 8)
			found = b[off] == table[i].op &&
				(!table[i].has_sa || ((b[off + 5] & 1) && be16(b + off + 2) == table[i].sa));
		if (!found && (table[i].op != 0x42 || ts_lus[0].lbpu)) {
			if (!missing++)
				snprintf(first_missing, sizeof(first_missing), "%s", table[i].name);
		}
	}
	printf("  %s: REPORT SUPPORTED OPERATION CODES: %u commands listed, %u of the table's "
	       "%zu missing%s%s\n", ts_cur, listed, missing, ARRAY_SIZE(table),
	       missing ? ", first: " : "", first_missing);
	if (missing && !ts_differ(why, "%u commands of the table not supported, first %s", missing,
			       first_missing))
		return false;
	/* One command: READ (10), then READ CAPACITY (16) by its service action. */
	memset(c, 0, 12);
	c[0] = 0xa3;
	c[1] = 0x0c;
	c[2] = 1;
	c[3] = 0x28;
	put32(c + 6, 64);
	ts_cmd(0, c, 12, VSCSI_IN, b, 64, &r);
	if (!ts_expect_good("REPORT SUPPORTED OPERATION CODES for 28h", &r, why))
		return false;
	if ((b[1] & 7) != 3 || be16(b + 2) != 10 || b[4] != 0x28)
		fail("one command 28h: SUPPORT %u, CDB SIZE %u, usage byte 0 %02xh", b[1] & 7,
		     be16(b + 2), b[4]);
	c[2] = 2;
	c[3] = 0x9e;
	put16(c + 4, 0x10);
	ts_cmd(0, c, 12, VSCSI_IN, b, 64, &r);
	if (!ts_expect_good("REPORT SUPPORTED OPERATION CODES for 9Eh/10h", &r, why))
		return false;
	if ((b[1] & 7) != 3 || be16(b + 2) != 16 || b[4] != 0x9e || (b[5] & 0x1f) != 0x10)
		fail("one command 9Eh/10h: SUPPORT %u, CDB SIZE %u, usage %02xh %02xh", b[1] & 7,
		     be16(b + 2), b[4], b[5]);
	c[2] = 1;
	c[3] = 0xd5;
	put16(c + 4, 0);
	ts_cmd(0, c, 12, VSCSI_IN, b, 64, &r);
	if (!ts_expect_good("REPORT SUPPORTED OPERATION CODES for D5h", &r, why))
		return false;
	if ((b[1] & 7) != 1)
		fail("one command D5h (none): SUPPORT %u, expected 1 (not supported)", b[1] & 7);
	return true;
}

bool test_scsi_commands(char *why)
{
	if (!ts_ready("scsi-commands", why))
		return false;
	print_device();
	return cmds_inquiry(why) && cmds_vpd(why) && cmds_capacity(why) && cmds_mode(why) &&
	       cmds_mode_select(why) && cmds_small(why) && cmds_opcodes(why);
}

