// SPDX-License-Identifier: Apache-2.0
/*
 * scsi-tmf (task management on the control queue), scsi-bad-target (targets
 * and LUNs that do not exist) and scsi-malformed (hostile=1, kite only:
 * chains no driver should send).
 */
#include "tests_scsi.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "time.h"

/* ---- scsi-tmf ---- */

/* A TMF's response: 0 is FUNCTION COMPLETE there. */
static const char *tmf_name(int r)
{
	return r == VSCSI_S_FUNCTION_COMPLETE ? "FUNCTION COMPLETE" : vscsi_response_name(r);
}

static bool tmf_expect(const char *what, u32 subtype, unsigned t, unsigned lun, u64 tag,
		       int want, char *why)
{
	u8 l[8];
	u32 used = 0;
	int resp;

	vscsi_lun(l, t, lun);
	resp = vscsi_tmf(&ts_sc, subtype, l, tag, &used);
	if (resp < 0)
		ts_stale = true;
	if (resp != want)
		fail("%s: %s, expected %s", what, tmf_name(resp), tmf_name(want));
	return true;
}

/* After a reset TMF: the next command sees UNIT ATTENTION 29h (SAM-5). */
static bool expect_reset_ua(const char *what, unsigned t, char *why)
{
	struct res r;

	ts_tur(t, &r);
	if (r.resp != VSCSI_S_OK || r.status != SCSI_CHECK_CONDITION ||
	    r.key != SK_UNIT_ATTENTION || r.asc != 0x29)
		fail("TEST UNIT READY after %s: %s, expected UNIT ATTENTION 29h/xxh", what,
		     ts_res_str(&r));
	printf("  %s: %s: FUNCTION COMPLETE, then UNIT ATTENTION %02xh/%02xh\n", ts_cur, what, r.asc,
	       r.ascq);
	return ts_settle(t, why);
}

/* Submit n reads on queue 0 (not waited for); their slots are busy. */
static bool start_reads(unsigned n, char *why)
{
	u8 lun[8], c[16];

	if (!alloc_slots(&ts_bulk, 0))
		fail("out of DMA memory");
	vscsi_lun(lun, 0, 0);
	for (unsigned s = 0; s < n; s++) {
		struct slot *sl = &ts_slots[0][s];
		u32 nb = CHUNK / ts_lus[0].bs;
		unsigned cl = ts_rw_cdb(c, false, 10, s * nb, nb, false);

		sl->target = 0;
		sl->lba = s * nb;
		sl->nblk = nb;
		if (vscsi_submit(&ts_sc, 0, sl->c, lun, c, cl, VSCSI_IN, sl->buf, CHUNK, 1, 0) < 0)
			fail("cannot queue read %u", s);
		sl->busy = true;
	}
	vq_kick(vscsi_reqq(&ts_sc, 0));
	return true;
}

/* Wait for those reads: each GOOD or ABORTED; how many were done already. */
static bool end_reads(unsigned n, unsigned done_before, unsigned *aborted, char *why)
{
	struct virtq *q = vscsi_reqq(&ts_sc, 0);
	u64 end = time_us() + VSCSI_TIMEOUT_US;

	*aborted = 0;
	for (;;) {
		unsigned left = 0;

		vscsi_reap(&ts_sc, 0);
		for (unsigned s = 0; s < n; s++)
			left += !ts_slots[0][s].c->vq.done;
		if (!left)
			break;
		if (time_us() > end) {
			ts_stale = true;
			fail("%u of %u commands never completed (%u done when the TMF did)", left, n,
			     done_before);
		}
		cpu_relax();
	}
	(void)q;
	for (unsigned s = 0; s < n; s++) {
		struct res r;

		ts_slots[0][s].busy = false;
		ts_take_result(ts_slots[0][s].c, ts_slots[0][s].c->resp_at->response, &r);
		if (r.resp == VSCSI_S_ABORTED)
			(*aborted)++;
		else if (!ts_good(&r))
			fail("command %u: %s, expected GOOD or ABORTED", s, ts_res_str(&r));
	}
	return true;
}

static unsigned done_now(unsigned n)
{
	unsigned d = 0;

	vscsi_reap(&ts_sc, 0);
	for (unsigned s = 0; s < n; s++)
		d += ts_slots[0][s].c->vq.done;
	return d;
}

bool test_scsi_tmf(char *why)
{
	unsigned aborted, done;
	u8 l[8];
	u32 used, actual = 0;
	int resp;

	if (!ts_ready("scsi-tmf", why))
		return false;
	/* ABORT TASK of a command just sent. */
	if (!start_reads(1, why))
		return false;
	if (!tmf_expect("ABORT TASK", VSCSI_TMF_ABORT_TASK, 0, 0, ts_slots[0][0].c->req.id,
			VSCSI_S_FUNCTION_COMPLETE, why))
		return false;
	done = done_now(1);
	if (!end_reads(1, done, &aborted, why))
		return false;
	printf("  %s: ABORT TASK: FUNCTION COMPLETE; the command %s, %s when the TMF completed\n",
	       ts_cur, aborted ? "ABORTED" : "GOOD", done ? "done" : "NOT done");
	if (!done)
		fail("ABORT TASK completed before the command it names");
	if (!tmf_expect("ABORT TASK of a tag not in flight", VSCSI_TMF_ABORT_TASK, 0, 0,
			0x7777777777ULL, VSCSI_S_FUNCTION_COMPLETE, why))
		return false;
	/* ABORT TASK SET with DEPTH commands in flight. */
	if (!start_reads(DEPTH, why))
		return false;
	if (!tmf_expect("ABORT TASK SET", VSCSI_TMF_ABORT_TASK_SET, 0, 0, 0,
			VSCSI_S_FUNCTION_COMPLETE, why))
		return false;
	done = done_now(DEPTH);
	if (!end_reads(DEPTH, done, &aborted, why))
		return false;
	printf("  %s: ABORT TASK SET: FUNCTION COMPLETE; %u of %u commands aborted, %u done when "
	       "the TMF completed\n", ts_cur, aborted, DEPTH, done);
	if (done != DEPTH)
		fail("ABORT TASK SET completed with %u of its %u commands still running", DEPTH - done,
		     DEPTH);
	/* The resets. */
	if (!tmf_expect("LOGICAL UNIT RESET", VSCSI_TMF_LOGICAL_UNIT_RESET, 0, 0, 0,
			VSCSI_S_FUNCTION_COMPLETE, why) ||
	    !expect_reset_ua("LOGICAL UNIT RESET", 0, why))
		return false;
	if (!tmf_expect("I_T NEXUS RESET", VSCSI_TMF_I_T_NEXUS_RESET, 0, 0, 0,
			VSCSI_S_FUNCTION_COMPLETE, why) ||
	    !expect_reset_ua("I_T NEXUS RESET", 0, why))
		return false;
	/* The rest: printed, and checked where SAM-5 leaves one answer. */
	vscsi_lun(l, 0, 0);
	resp = vscsi_tmf(&ts_sc, VSCSI_TMF_CLEAR_TASK_SET, l, 0, &used);
	printf("  %s: CLEAR TASK SET: %s\n", ts_cur, tmf_name(resp));
	if (resp != VSCSI_S_FUNCTION_COMPLETE && resp != VSCSI_S_FUNCTION_REJECTED)
		fail("CLEAR TASK SET: %s", tmf_name(resp));
	resp = vscsi_tmf(&ts_sc, VSCSI_TMF_QUERY_TASK, l, 0x7777777777ULL, &used);
	printf("  %s: QUERY TASK (no such task): %s\n", ts_cur, tmf_name(resp));
	if (resp != VSCSI_S_FUNCTION_COMPLETE && resp != VSCSI_S_FUNCTION_REJECTED)
		fail("QUERY TASK of a task not there: %s", tmf_name(resp));
	resp = vscsi_tmf(&ts_sc, VSCSI_TMF_QUERY_TASK_SET, l, 0, &used);
	printf("  %s: QUERY TASK SET (nothing in flight): %s\n", ts_cur, tmf_name(resp));
	if (resp != VSCSI_S_FUNCTION_COMPLETE && resp != VSCSI_S_FUNCTION_REJECTED)
		fail("QUERY TASK SET with nothing in flight: %s", tmf_name(resp));
	if (!tmf_expect("CLEAR ACA (no ACA)", VSCSI_TMF_CLEAR_ACA, 0, 0, 0,
			VSCSI_S_FUNCTION_REJECTED, why) ||
	    !tmf_expect("LOGICAL UNIT RESET of LUN 1", VSCSI_TMF_LOGICAL_UNIT_RESET, 0, 1, 0,
			VSCSI_S_INCORRECT_LUN, why))
		return false;
	resp = vscsi_an_query(&ts_sc, l, 0xffffffff, &actual);
	printf("  %s: AN query (all events): %s, event_actual 0x%x\n", ts_cur,
	       vscsi_response_name(resp), actual);
	if (resp != VSCSI_S_OK && resp != VSCSI_S_FAILURE)
		fail("AN query: %s", vscsi_response_name(resp));
	if (!ts_settle(0, why))
		return false;
	vscsi_events_poll(&ts_sc);
	printf("  %s: event queue: %lu events returned%s\n", ts_cur, ts_sc.events,
	       ts_sc.events ? " (last shown below)" : "");
	if (ts_sc.events)
		printf("  %s: last event %08xh, LUN %02x %02x %02x %02x, reason %u, used len %u\n",
		       ts_cur, ts_sc.last_event.event, ts_sc.last_event.lun[0], ts_sc.last_event.lun[1],
		       ts_sc.last_event.lun[2], ts_sc.last_event.lun[3], ts_sc.last_event.reason,
		       ts_sc.last_event_len);
	return true;
}

/* ---- scsi-bad-target ---- */

bool test_scsi_bad_target(char *why)
{
	char rl[80];
	u8 l[8], *b = ts_small;
	struct res r;
	u32 used;
	int resp;

	if (!ts_ready("scsi-bad-target", why))
		return false;
	/* The first target after ours (beyond max_target too, for kite). */
	if (ts_ntargets < 256) {
		vscsi_lun(l, ts_ntargets, 0);
		ts_cmd_lun(l, (const u8[6]){ 0x12, 0, 0, 0, 96, 0 }, 6, VSCSI_IN, b, 96, &r);
		if (r.resp != VSCSI_S_BAD_TARGET)
			fail("INQUIRY to target %u (none there): %s, expected BAD_TARGET", ts_ntargets,
			     ts_res_str(&r));
		resp = vscsi_tmf(&ts_sc, VSCSI_TMF_LOGICAL_UNIT_RESET, l, 0, &used);
		if (resp != VSCSI_S_BAD_TARGET)
			fail("LOGICAL UNIT RESET to target %u: %s, expected BAD_TARGET", ts_ntargets,
			     vscsi_response_name(resp));
		resp = vscsi_tmf(&ts_sc, VSCSI_TMF_I_T_NEXUS_RESET, l, 0, &used);
		if (resp != VSCSI_S_BAD_TARGET &&
		    !ts_differ(why, "I_T NEXUS RESET to target %u (none there): %s", ts_ntargets,
			    tmf_name(resp)))
			return false;
		printf("  %s: target %u: INQUIRY and LOGICAL UNIT RESET -> BAD_TARGET, I_T NEXUS "
		       "RESET -> %s\n", ts_cur, ts_ntargets, tmf_name(resp));
	}
	/* lun[0] must be 1 (5.6.6). */
	vscsi_lun(l, 0, 0);
	l[0] = 0;
	ts_cmd_lun(l, (const u8[6]){ 0x00 }, 6, VSCSI_NONE, NULL, 0, &r);
	if (r.resp != VSCSI_S_BAD_TARGET)
		fail("TEST UNIT READY with lun[0] = 0: %s, expected BAD_TARGET", ts_res_str(&r));
	/* A LUN the target lacks: INQUIRY answers with a qualifier, others fail. */
	vscsi_lun(l, 0, 1);
	memset(b, 0xa5, 96);
	ts_cmd_lun(l, (const u8[6]){ 0x12, 0, 0, 0, 96, 0 }, 6, VSCSI_IN, b, 96, &r);
	if (!ts_good(&r))
		fail("INQUIRY to LUN 1 of target 0: %s, expected GOOD", ts_res_str(&r));
	printf("  %s: INQUIRY to LUN 1: peripheral qualifier %u, type %02xh\n", ts_cur, b[0] >> 5,
	       b[0] & 0x1f);
	if (!(b[0] >> 5))
		fail("INQUIRY to LUN 1 (none there): peripheral qualifier 0, a device is connected?");
	if (b[0] != 0x7f && !ts_differ(why, "INQUIRY to LUN 1: peripheral %02xh, SPC-4 gives 7Fh "
				    "(qualifier 011b) for a LUN that cannot have a device", b[0]))
		return false;
	ts_cmd_lun(l, (const u8[6]){ 0x00 }, 6, VSCSI_NONE, NULL, 0, &r);
	if (!ts_expect_check("TEST UNIT READY to LUN 1", &r, SK_ILLEGAL_REQUEST, 0x25, 0, why))
		return false;
	{
		u8 c[12] = { 0xa0 };

		put32(c + 6, 64);
		memset(b, 0, 64);
		ts_cmd_lun(l, c, 12, VSCSI_IN, b, 64, &r);
		snprintf(rl, sizeof(rl), "%s", ts_res_str(&r));
		if (!ts_good(&r)) {
			if (!ts_differ(why, "REPORT LUNS to LUN 1: %s", ts_res_str(&r)))
				return false;
		} else if (be32(b) < 8 || be64(b + 8)) {
			fail("REPORT LUNS to LUN 1: list length %u, first LUN %016lx", be32(b),
			     be64(b + 8));
		}
	}
	/* Another addressing method kite has no LUNs in. */
	vscsi_lun(l, 0, 0);
	l[2] = 0x80;
	ts_cmd_lun(l, (const u8[6]){ 0x00 }, 6, VSCSI_NONE, NULL, 0, &r);
	printf("  %s: LUN 1: TEST UNIT READY -> 25h/00h, REPORT LUNS %s; extended LUN address "
	       "80h: %s\n", ts_cur, rl, ts_res_str(&r));
	return true;
}

/* ---- scsi-malformed (hostile=1, kite only) ---- */

enum { BAD_OUTSIDE_RAM, BAD_LOOP, BAD_LONG, BAD_ZERO_LEN, BAD_READABLE_DATA, BAD_SHORT_RESP,
       BAD_SHORT_REQ, BAD_BOTH_DIRS, BAD_INDIRECT_OUTSIDE, BAD_HEAD, BAD_CTRL_SHORT, BAD_COUNT };

static const char *const bad_names[BAD_COUNT] = {
	"buffer outside RAM", "descriptor loop", "over-long chain", "zero-length buffer",
	"read into a device-readable buffer", "response area too short", "request header too short",
	"data-out and data-in without INOUT", "indirect table outside RAM",
	"head index out of range", "control request too short",
};

#define FAR_AWAY	(1ULL << 45)
#define LONG_CHAIN	(VIRTQ_MAX_SIZE - 3)

static unsigned long_chain(const struct virtq *q)
{
	unsigned n = ts_sc.cfg.seg_max ? ts_sc.cfg.seg_max + 1 : LONG_CHAIN;

	return MIN(n, MIN((unsigned)LONG_CHAIN, q->size - 3u));
}

/* Build malformed request `kind` (a READ of one block each) and publish it. */
static bool build_bad(int kind, u8 *data, struct virtq **qp)
{
	struct virtq *q = vscsi_reqq(&ts_sc, 0);
	struct vscsi_cmd *c = ts_c1;
	u16 d[LONG_CHAIN + 3];
	u32 bs = ts_lus[0].bs;
	unsigned n;

	memset(&c->req, 0, sizeof(c->req));
	vscsi_lun(c->req.lun, 0, 0);
	c->req.id = 0xbad;
	ts_rw_cdb(c->req.cdb, false, 10, 0, 1, false);
	memset(&c->resp, 0, sizeof(c->resp));
	c->resp.response = 0xff;
	c->resp_at = &c->resp;
	*qp = q;
	if (kind == BAD_CTRL_SHORT) {
		struct virtq *cq = &ts_sc.v.vq[VSCSI_CTRL_Q];
		u32 *type = (u32 *)data;

		*qp = cq;
		*type = VSCSI_T_TMF;
		if (!vq_take(cq, 2, d))
			return false;
		cq->desc[d[0]] = (struct vring_desc){ (uintptr_t)data, 10, VIRTQ_DESC_F_NEXT, d[1] };
		cq->desc[d[1]] = (struct vring_desc){ (uintptr_t)&c->resp.response, 1,
						      VIRTQ_DESC_F_WRITE, 0 };
		vq_add_raw(cq, d[0]);
		return true;
	}
	if (kind == BAD_HEAD) {
		vq_add_raw(q, q->size + 5);
		return true;
	}
	n = kind == BAD_LONG ? long_chain(q) + 2 : kind == BAD_INDIRECT_OUTSIDE ? 1 :
	    kind == BAD_BOTH_DIRS ? 4 : kind == BAD_SHORT_RESP ? 2 : 3;
	if (!vq_take(q, n, d))
		return false;
	if (kind == BAD_INDIRECT_OUTSIDE) {
		q->desc[d[0]] = (struct vring_desc){ FAR_AWAY, 48, VIRTQ_DESC_F_INDIRECT, 0 };
		vq_add_raw(q, d[0]);
		return true;
	}
	/* header, response, data... */
	q->desc[d[0]] = (struct vring_desc){ (uintptr_t)&c->req, sizeof(c->req), VIRTQ_DESC_F_NEXT,
					     d[1] };
	q->desc[d[1]] = (struct vring_desc){ (uintptr_t)&c->resp, sizeof(c->resp),
					     VIRTQ_DESC_F_WRITE | (n > 2 ? VIRTQ_DESC_F_NEXT : 0),
					     n > 2 ? d[2] : 0 };
	/* (the long chain's data descriptors all share one buffer) */
	for (unsigned k = 2; k < n; k++)
		q->desc[d[k]] = (struct vring_desc){ (uintptr_t)(data + (k == 3) * bs), bs,
						     VIRTQ_DESC_F_WRITE |
						     (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
						     k + 1 < n ? d[k + 1] : 0 };
	switch (kind) {
	case BAD_OUTSIDE_RAM:
		q->desc[d[2]].addr = FAR_AWAY;
		break;
	case BAD_LOOP:
		q->desc[d[2]].flags |= VIRTQ_DESC_F_NEXT;
		q->desc[d[2]].next = d[0];
		break;
	case BAD_ZERO_LEN:
		q->desc[d[2]].len = 0;
		break;
	case BAD_READABLE_DATA:
		/* header, data (readable), response: the READ's data-in is
		 * where the device may only read. */
		q->desc[d[1]] = (struct vring_desc){ (uintptr_t)data, bs, VIRTQ_DESC_F_NEXT, d[2] };
		q->desc[d[2]] = (struct vring_desc){ (uintptr_t)&c->resp, sizeof(c->resp),
						     VIRTQ_DESC_F_WRITE, 0 };
		break;
	case BAD_SHORT_RESP:
		/* header and 8 writable bytes, nothing else writable */
		q->desc[d[1]].len = 8;
		break;
	case BAD_SHORT_REQ:
		q->desc[d[0]].len = 16;
		break;
	case BAD_BOTH_DIRS:
		/* header, data-out, response, data-in */
		q->desc[d[1]] = (struct vring_desc){ (uintptr_t)(data + bs), bs, VIRTQ_DESC_F_NEXT, d[2] };
		q->desc[d[2]] = (struct vring_desc){ (uintptr_t)&c->resp, sizeof(c->resp),
						     VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, d[3] };
		q->desc[d[3]] = (struct vring_desc){ (uintptr_t)data, bs, VIRTQ_DESC_F_WRITE, 0 };
		break;
	}
	vq_add_raw(q, d[0]);
	return true;
}

static bool malformed_one(int kind, u8 *data, char *why)
{
	struct virtq *q;
	bool needs_reset;
	void *token;
	u32 len = 0;
	u16 head;
	struct res r;

	if (!ts_reinit(&ts_opts, why))
		return false;
	memset(data, 0x5a, 2 * ts_lus[0].bs);
	if (!build_bad(kind, data, &q))
		fail("%s: queue too small to build it", bad_names[kind]);
	vq_kick(q);
	if (!malformed_wait(q, bad_names[kind], &needs_reset, why))
		return false;
	if (needs_reset) {
		printf("  %s: %s: DEVICE_NEEDS_RESET\n", ts_cur, bad_names[kind]);
		return true;
	}
	vq_get_used(q, &token, &len, &head);
	r.resp = *(volatile u8 *)&ts_c1->resp.response;
	r.status = *(volatile u8 *)&ts_c1->resp.status;
	if (kind == BAD_CTRL_SHORT) {
		if (len && r.resp != VSCSI_S_FAILURE)
			fail("%s: used len %u, response %s", bad_names[kind], len,
			     vscsi_response_name(r.resp));
	} else if (len && r.resp == VSCSI_S_OK && r.status == SCSI_GOOD) {
		fail("%s: completed GOOD with used len %u", bad_names[kind], len);
	}
	if (kind == BAD_READABLE_DATA && data[0] != 0x5a)
		fail("%s: the device wrote into a buffer it may only read", bad_names[kind]);
	printf("  %s: %s: used len %u, response %s\n", ts_cur, bad_names[kind], len,
	       len ? vscsi_response_name(r.resp) : "(none)");
	/* The device carries on: a good command on the request queue. */
	ts_rw(0, false, 10, 0, 1, ts_buf1, &r);
	if (!ts_good(&r))
		fail("%s: the next good command got %s", bad_names[kind], ts_res_str(&r));
	return true;
}

bool test_scsi_malformed(char *why)
{
	static u8 *data;
	struct res r;

	if (!cmdline_is("hostile", "1")) {
		ts_cur = "scsi-malformed";
		printf("  %s: needs hostile=1 (kite only): skipped\n", ts_cur);
		return true;
	}
	if (!ts_ready("scsi-malformed", why))
		return false;
	if (!data && !(data = ts_dbuf(2 * CHUNK)))
		fail("out of DMA memory");
	if (!malformed_all(ts_cur, BAD_COUNT, ts_sc.indirect ? -1 : BAD_INDIRECT_OUTSIDE,
			   malformed_one, data, why))
		return false;
	if (!ts_reinit(&ts_opts, why))
		return false;
	ts_rw(0, false, 10, 0, 1, ts_buf1, &r);
	if (!ts_expect_good("a read after the reset", &r, why))
		return false;
	printf("  %s: after a reset a valid command works\n", ts_cur);
	return true;
}

