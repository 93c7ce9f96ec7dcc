// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-scsi's control and event queues through the transport and a test
 * driver (tests/scsi_harness.h): task management (answers, and waiting for
 * the target's commands), asynchronous notification queries, unknown
 * requests, events and EVENTS_MISSED, and device reset.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "tests/scsi_harness.h"

static uint16_t tmf(unsigned i, uint32_t subtype, const uint8_t *lun)
{
	uint8_t *p = sh_host_ptr(REQ_GPA(i));
	uint32_t type = VIRTIO_SCSI_T_TMF;
	uint64_t id = 77;
	struct seg s[2] = { { REQ_GPA(i), 24, 0 }, { RESP_GPA(i), 1, 1 } };

	memcpy(p, &type, 4);
	memcpy(p + 4, &subtype, 4);
	memcpy(p + 8, lun, 8);
	memcpy(p + 16, &id, 8);
	*(uint8_t *)sh_host_ptr(RESP_GPA(i)) = 0xee;
	return sh_chain(&sh.ctrlq, s, 2);
}

static uint8_t tmf_resp(unsigned i)
{
	return *(uint8_t *)sh_host_ptr(RESP_GPA(i));
}

START_TEST(task_management)
{
	static const uint8_t tur[16] = { 0 };
	uint8_t lun5[8] = { 1, 0, 0x40, 0x05, 0, 0, 0, 0 };
	struct resp r;
	uint32_t id, len;

	tmf(0, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, sh_lun0(0));
	tmf(1, VIRTIO_SCSI_T_TMF_ABORT_TASK, sh_lun0(1));
	tmf(2, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, sh_lun0(1));
	tmf(3, VIRTIO_SCSI_T_TMF_CLEAR_ACA, sh_lun0(1));
	tmf(4, 99, sh_lun0(1));
	tmf(5, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, sh_lun0(7));
	tmf(6, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, lun5);
	tmf(7, VIRTIO_SCSI_T_TMF_QUERY_TASK, sh_lun0(1));
	sh_kick(&sh.ctrlq);
	for (unsigned i = 0; i < 8; i++) {
		sh_used(&sh.ctrlq, &id, &len);
		ck_assert_uint_eq(len, 1);
	}
	ck_assert_uint_eq(tmf_resp(0), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
	ck_assert_uint_eq(tmf_resp(1), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
	ck_assert_uint_eq(tmf_resp(2), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
	ck_assert_uint_eq(tmf_resp(3), VIRTIO_SCSI_S_FUNCTION_REJECTED);	/* no ACA */
	ck_assert_uint_eq(tmf_resp(4), VIRTIO_SCSI_S_FUNCTION_REJECTED);
	ck_assert_uint_eq(tmf_resp(5), VIRTIO_SCSI_S_BAD_TARGET);
	ck_assert_uint_eq(tmf_resp(6), VIRTIO_SCSI_S_INCORRECT_LUN);
	ck_assert_uint_eq(tmf_resp(7), VIRTIO_SCSI_S_FUNCTION_COMPLETE);

	/* The LU reset left a unit attention on target 0, once. */
	sh_run_cmd(&sh.rq0, 0, 0, tur, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.status, SCSI_CHECK_CONDITION);
	ck_assert_mem_eq(r.sense, ((uint8_t[14]){ 0x70, 0, 0x06 /* UNIT ATTENTION */, 0, 0, 0, 0,
						   0x0a, 0, 0, 0, 0, 0x29, 0x03 }), 14);
	sh_run_cmd(&sh.rq0, 1, 0, tur, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	sh_run_cmd(&sh.rq0, 2, 1, tur, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);			/* not on target 1 */

	/* I_T NEXUS RESET addresses the nexus: the LUN does not matter. */
	tmf(8, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, lun5);
	sh_kick(&sh.ctrlq);
	sh_used(&sh.ctrlq, &id, &len);
	ck_assert_uint_eq(tmf_resp(8), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
	sh_run_cmd(&sh.rq0, 3, 0, tur, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.sense[12], 0x29);
	ck_assert_uint_eq(r.sense[13], 0x07);			/* I_T NEXUS LOSS OCCURRED */
}
END_TEST

/* A TMF completes only once the target's commands in flight have, and
 * after their completions are published. */
START_TEST(tmf_waits_for_commands)
{
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	struct resp r;
	uint32_t id, len;

	sf.hold = true;
	sh_submit(&sh.rq1, 0, sh_lun0(1), rd, IN, VQF_DATA(0), 512);
	sh_kick(&sh.rq1);
	ck_assert_uint_eq(sf.npend, 1);
	tmf(1, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, sh_lun0(1));
	tmf(2, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, sh_lun0(0));	/* target 0 is idle */
	sh_kick(&sh.ctrlq);
	sh_used(&sh.ctrlq, &id, &len);
	ck_assert_uint_eq(tmf_resp(2), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
	ck_assert(!sh_has_used(&sh.ctrlq));
	ck_assert(!sh_has_used(&sh.rq1));
	ck_assert_uint_eq(tmf_resp(1), 0xee);

	sf.hold = false;
	sf_run();
	sh_used(&sh.rq1, &id, &len);
	sh_read_resp(RESP_GPA(0), &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	sh_used(&sh.ctrlq, &id, &len);
	ck_assert_uint_eq(tmf_resp(1), VIRTIO_SCSI_S_FUNCTION_COMPLETE);
}
END_TEST

START_TEST(an_and_unknown_control)
{
	uint8_t *p = sh_host_ptr(REQ_GPA(0));
	uint8_t *resp = sh_host_ptr(RESP_GPA(0));
	uint32_t type = VIRTIO_SCSI_T_AN_QUERY, ev = 0x7e, id, len, v;
	struct seg s[2] = { { REQ_GPA(0), 16, 0 }, { RESP_GPA(0), 5, 1 } };
	static const uint8_t lun[3][8] = {
		{ 1, 0, 0x40, 0, 0, 0, 0, 0 }, { 1, 9, 0x40, 0, 0, 0, 0, 0 },
		{ 1, 0, 0x40, 3, 0, 0, 0, 0 },
	};
	static const uint8_t want[3] = {
		VIRTIO_SCSI_S_OK, VIRTIO_SCSI_S_BAD_TARGET, VIRTIO_SCSI_S_INCORRECT_LUN,
	};

	for (unsigned i = 0; i < 3; i++) {
		type = i == 1 ? VIRTIO_SCSI_T_AN_SUBSCRIBE : VIRTIO_SCSI_T_AN_QUERY;
		memcpy(p, &type, 4);
		memcpy(p + 4, lun[i], 8);
		memcpy(p + 12, &ev, 4);		/* event_requested */
		memset(resp, 0xee, 8);
		sh_send(&sh.ctrlq, s, 2, &id, &len);
		ck_assert_uint_eq(len, 5);
		memcpy(&v, resp, 4);
		ck_assert_uint_eq(v, 0);			/* event_actual: none */
		ck_assert_uint_eq(resp[4], want[i]);
	}

	/* An unknown type: FAILURE in the last byte. */
	type = 42;
	memcpy(p, &type, 4);
	memset(resp, 0xee, 8);
	s[1].len = 8;
	sh_send(&sh.ctrlq, s, 2, &id, &len);
	ck_assert_uint_eq(len, 8);
	ck_assert_uint_eq(resp[7], VIRTIO_SCSI_S_FAILURE);
	ck_assert_uint_eq(resp[0], 0);

	/* A TMF too short: FAILURE in its response byte. */
	type = VIRTIO_SCSI_T_TMF;
	memcpy(p, &type, 4);
	s[0].len = 12;
	s[1].len = 1;
	sh_send(&sh.ctrlq, s, 2, &id, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(resp[0], VIRTIO_SCSI_S_FAILURE);
}
END_TEST

/* Event buffers: held until an event comes; lost events are reported. */
static void event_buf(unsigned i, uint32_t len)
{
	struct seg s = { VQF_DATA(32 + i), len, 1 };

	memset(sh_host_ptr(VQF_DATA(32 + i)), 0xee, 16);
	sh_chain(&sh.eventq, &s, 1);
}

static void event_at(unsigned i, uint32_t *event, uint8_t lun[8], uint32_t *reason)
{
	uint8_t *p = sh_host_ptr(VQF_DATA(32 + i));

	memcpy(event, p, 4);
	memcpy(lun, p + 4, 8);
	memcpy(reason, p + 12, 4);
}

START_TEST(events)
{
	uint32_t id, len, event, reason;
	uint8_t lun[8];

	/* An event with no buffer is lost... */
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 1,
						VIRTIO_SCSI_EVT_RESET_HARD), 0);
	sf_run();
	ck_assert(!sh_has_used(&sh.eventq));
	/* ... and reported as soon as the driver gives one. */
	event_buf(0, 16);
	sh_kick(&sh.eventq);
	sh_used(&sh.eventq, &id, &len);
	ck_assert_uint_eq(len, 16);
	event_at(0, &event, lun, &reason);
	ck_assert_uint_eq(event, VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED);
	ck_assert_uint_eq(reason, 0);

	/* Buffers wait for events. */
	event_buf(1, 16);
	event_buf(2, 4);		/* too short for an event: given back empty */
	event_buf(3, 64);
	sh_kick(&sh.eventq);
	ck_assert(!sh_has_used(&sh.eventq));
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 2,
						VIRTIO_SCSI_EVT_RESET_HARD), 0);
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 0,
						VIRTIO_SCSI_EVT_RESET_HARD), 0);
	sf_run();
	sh_used(&sh.eventq, &id, &len);
	ck_assert_uint_eq(len, 16);
	event_at(1, &event, lun, &reason);
	ck_assert_uint_eq(event, VIRTIO_SCSI_T_TRANSPORT_RESET);
	ck_assert_mem_eq(lun, ((uint8_t[8]){ 1, 2, 0x40, 0, 0, 0, 0, 0 }), 8);
	ck_assert_uint_eq(reason, VIRTIO_SCSI_EVT_RESET_HARD);
	sh_used(&sh.eventq, &id, &len);
	ck_assert_uint_eq(len, 0);
	sh_used(&sh.eventq, &id, &len);
	ck_assert_uint_eq(len, 16);
	event_at(3, &event, lun, &reason);
	ck_assert_uint_eq(lun[1], 0);

	/* More events than can wait: the next one delivered says so. */
	for (unsigned i = 0; i < 20; i++)
		virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0);
	sf_run();
	event_buf(4, 16);
	sh_kick(&sh.eventq);
	sh_used(&sh.eventq, &id, &len);
	event_at(4, &event, lun, &reason);
	ck_assert(event & VIRTIO_SCSI_T_EVENTS_MISSED);

	/* What the driver did not negotiate, or a target there is not. */
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 0,
						VIRTIO_SCSI_EVT_RESET_RESCAN), -EOPNOTSUPP);
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_PARAM_CHANGE, 0, 0x092a),
			 -EOPNOTSUPP);
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_ASYNC_NOTIFY, 0, 0),
			 -EOPNOTSUPP);
	ck_assert_int_eq(virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, NDISKS, 0),
			 -EINVAL);
}
END_TEST

START_TEST(reset_and_reuse)
{
	static const uint8_t sel[16] = { 0x15, 0x10, 0, 0, 24, 0 };
	static const uint8_t sense[16] = { 0x1a, 0x08, 0x08, 0, 24, 0 };
	struct resp r;

	/* WCE off, an event waiting, then a device reset: all forgotten. */
	memset(sh_host_ptr(VQF_DATA(0)), 0, 24);
	memcpy(sh_host_ptr(VQF_DATA(0) + 4), (uint8_t[2]){ 0x08, 0x12 }, 2);
	sh_run_cmd(&sh.rq0, 0, 0, sel, OUT, VQF_DATA(0), 24, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	virtio_scsi_post_event(sh.scsi, VIRTIO_SCSI_T_TRANSPORT_RESET, 0, 0);
	sf_run();
	vpd_cc_write(&sh.d, VPD_STATUS, 0, 1);
	ck_assert_uint_eq(vpd_cc_read(&sh.d, VPD_STATUS, 1), 0);
	sh_kick(&sh.rq0);			/* a kick while reset does nothing */
	sh_rings_clear();
	sh_queues_up();
	sh_run_cmd(&sh.rq0, 2, 0, sense, IN, VQF_DATA(1), 24, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(((uint8_t *)sh_host_ptr(VQF_DATA(1)))[6], 0x04);	/* WCE */
	event_buf(0, 16);
	sh_kick(&sh.eventq);
	ck_assert(!sh_has_used(&sh.eventq));
}
END_TEST

void scsi_ctrl_tests(TCase *tc)
{
	tcase_add_test(tc, task_management);
	tcase_add_test(tc, tmf_waits_for_commands);
	tcase_add_test(tc, an_and_unknown_control);
	tcase_add_test(tc, events);
	tcase_add_test(tc, reset_and_reuse);
}
