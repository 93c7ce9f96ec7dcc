// SPDX-License-Identifier: Apache-2.0
/*
 * The SCSI disk target: the command table and dispatch, sense data, unit
 * attention, and the small commands (TEST UNIT READY, REQUEST SENSE,
 * START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, REPORT LUNS, REPORT
 * SUPPORTED OPERATION CODES). INQUIRY, READ CAPACITY and the mode pages
 * are in scsi_disk_info.c, the block I/O commands in scsi_disk_io.c.
 */
#include "virtio/scsi_disk.h"

#include <errno.h>
#include <string.h>

#include "virtio/scsi_disk_impl.h"
#include "virtio/virtqueue.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- sense data and replies ---- */

void scsi_fixed_sense(uint8_t *p, uint8_t key, uint16_t asc)
{
	memset(p, 0, SCSI_SENSE_LEN);
	p[0] = 0x70;			/* current error, fixed format; VALID 0 */
	p[2] = key;
	p[7] = SCSI_SENSE_LEN - 8;	/* ADDITIONAL SENSE LENGTH */
	p[12] = asc >> 8;
	p[13] = asc & 0xff;
}

enum scsi_action scsi_check(struct scsi_cmd *c, uint8_t key, uint16_t asc)
{
	scsi_fixed_sense(c->sense, key, asc);
	c->sense_len = SCSI_SENSE_LEN;
	c->status = SCSI_CHECK_CONDITION;
	c->xferred = 0;
	return SCSI_DONE;
}

static enum scsi_action bad_field(struct scsi_cmd *c, uint16_t asc, bool cdb, unsigned byte,
				  int bit)
{
	scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, asc);
	/* SKSV, C/D, BPV + BIT POINTER; then the FIELD POINTER (SPC-4, field
	 * pointer sense-key specific data). */
	c->sense[15] = 0x80 | (cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | bit : 0);
	put_be16(c->sense + 16, byte);
	return SCSI_DONE;
}

enum scsi_action scsi_bad_cdb(struct scsi_cmd *c, unsigned byte, int bit)
{
	return bad_field(c, ASC_INVALID_FIELD_IN_CDB, true, byte, bit);
}

enum scsi_action scsi_bad_param(struct scsi_cmd *c, unsigned byte, int bit)
{
	return bad_field(c, ASC_INVALID_FIELD_IN_PARAM, false, byte, bit);
}

enum scsi_action scsi_reply(struct scsi_cmd *c, const void *buf, uint64_t len, uint64_t alloc)
{
	if (alloc > c->in_len)
		return SCSI_OVERRUN;
	c->xferred = virtq_iov_write(c->in, c->nin, 0, buf, len < alloc ? len : alloc);
	return SCSI_DONE;
}

enum scsi_action scsi_flush_step(struct scsi_cmd *c)
{
	c->kind = KIND_FLUSH;
	c->offset = c->len = 0;
	return SCSI_FLUSH;
}

/* ---- logical unit state ---- */

void scsi_lun_init(struct scsi_lun *lu, struct disk *disk)
{
	uint32_t bs = disk->block_size ? disk->block_size : 512;
	uint8_t exp = 0;

	while (exp < 15 && ((uint64_t)bs << (exp + 1)) <= disk->phys_block_size)
		exp++;
	lu->disk = disk;
	lu->block_size = bs;
	lu->nblocks = disk->size / bs;
	lu->phys_exp = exp;
	lu->readonly = disk->readonly;
	lu->can_unmap = disk->can_discard && !disk->readonly;
	lu->can_zero = disk->can_zero && !disk->readonly;
	scsi_lun_power_on(lu);
}

void scsi_lun_power_on(struct scsi_lun *lu)
{
	atomic_store(&lu->wce, true);
	atomic_store(&lu->ua, 0);
}

void scsi_lun_reset(struct scsi_lun *lu)
{
	atomic_store(&lu->wce, true);
	atomic_store(&lu->ua, 0x100 | 0x03);	/* BUS DEVICE RESET FUNCTION OCCURRED */
}

void scsi_lun_nexus_reset(struct scsi_lun *lu)
{
	atomic_store(&lu->ua, 0x100 | 0x07);	/* I_T NEXUS LOSS OCCURRED */
}

/* ---- small commands ---- */

static enum scsi_action cmd_test_unit_ready(struct scsi_lun *lu, struct scsi_cmd *c)
{
	(void)lu;
	(void)c;
	return SCSI_DONE;
}

/* REQUEST SENSE (SPC-4): the pending unit attention, if any, which
 * this reports and clears; else NO SENSE. Autosense delivers every other
 * sense with its command, so nothing else is ever pending. */
static enum scsi_action cmd_request_sense(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool desc = c->cdb[1] & 0x01;
	uint8_t alloc = c->cdb[4], buf[SCSI_SENSE_LEN];
	uint16_t asc = ASC_NONE;
	uint8_t key = SCSI_SK_NO_SENSE;
	unsigned ua;

	if (alloc > c->in_len)
		return SCSI_OVERRUN;	/* before the UA is taken, so it is not lost */
	if (!lu) {
		key = SCSI_SK_ILLEGAL_REQUEST;
		asc = ASC_LUN_NOT_SUPPORTED;
	} else if ((ua = atomic_exchange(&lu->ua, 0)) != 0) {
		key = SCSI_SK_UNIT_ATTENTION;
		asc = ASC_RESET_OCCURRED | (ua & 0xff);
	}
	if (!desc) {
		scsi_fixed_sense(buf, key, asc);
		return scsi_reply(c, buf, SCSI_SENSE_LEN, alloc);
	}
	/* Descriptor format, without descriptors. */
	memset(buf, 0, 8);
	buf[0] = 0x72;
	buf[1] = key;
	buf[2] = asc >> 8;
	buf[3] = asc & 0xff;
	return scsi_reply(c, buf, 8, alloc);
}

/* START STOP UNIT (SBC-3). A virtual disk has no spindle and no power
 * states: every defined power condition is accepted and changes nothing,
 * but a stop (or standby) writes the cache out first unless NO_FLUSH. */
static enum scsi_action cmd_start_stop_unit(struct scsi_lun *lu, struct scsi_cmd *c)
{
	unsigned pc = c->cdb[4] >> 4, mod = c->cdb[3] & 0x0f, max_mod;
	bool no_flush = c->cdb[4] & 0x04, loej = c->cdb[4] & 0x02, start = c->cdb[4] & 0x01;

	(void)lu;
	switch (pc) {
	case 0x0:	/* START_VALID */
	case 0x1:	/* ACTIVE */
	case 0x7:	/* LU_CONTROL */
		max_mod = 0;
		break;
	case 0x2:	/* IDLE */
	case 0xa:	/* FORCE_IDLE_0 */
		max_mod = 2;
		break;
	case 0x3:	/* STANDBY */
	case 0xb:	/* FORCE_STANDBY_0 */
		max_mod = 1;
		break;
	default:
		return scsi_bad_cdb(c, 4, 7);
	}
	if (mod > max_mod)
		return scsi_bad_cdb(c, 3, 3);
	/* LOEJ counts only with START_VALID; there is no medium to eject. */
	if (pc == 0 && loej)
		return scsi_bad_cdb(c, 4, 1);
	if (!no_flush && ((pc == 0 && !start) || pc == 0x3 || pc == 0xb))
		return scsi_flush_step(c);
	return SCSI_DONE;
}

/* PREVENT ALLOW MEDIUM REMOVAL (SBC-3): nothing is removable, so
 * allow (00b) and prevent (01b) change nothing; 1xb is obsolete. */
static enum scsi_action cmd_prevent_allow(struct scsi_lun *lu, struct scsi_cmd *c)
{
	(void)lu;
	if ((c->cdb[4] & 0x03) > 1)
		return scsi_bad_cdb(c, 4, 1);
	return SCSI_DONE;
}

/* REPORT LUNS (SPC-4): each target has LUN 0 only. */
static enum scsi_action cmd_report_luns(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint8_t buf[16] = { 0 };	/* header, then LUN 0: eight zero bytes */
	uint32_t list;

	(void)lu;
	switch (c->cdb[2]) {
	case 0x00:	/* all except well-known LUNs */
	case 0x02:	/* all */
		list = 8;
		break;
	case 0x01:	/* well-known LUNs only: there are none */
		list = 0;
		break;
	default:
		return scsi_bad_cdb(c, 2, -1);
	}
	put_be32(buf, list);		/* LUN LIST LENGTH */
	return scsi_reply(c, buf, 8 + list, get_be32(c->cdb + 6));
}

/* ---- the command table ---- */

struct scsi_op {
	uint8_t opcode;
	uint8_t sa;		/* service action, if has_sa */
	bool has_sa;
	bool unmap;		/* exists only where the LU can unmap */
	uint8_t len;		/* CDB length */
	/* CDB USAGE DATA (SPC-4, REPORT SUPPORTED OPERATION CODES): the opcode (and service action),
	 * then a 1 for each bit this target evaluates; reserved, ignored and
	 * refused-if-set bits are 0. */
	uint8_t usage[16];
	enum scsi_action (*fn)(struct scsi_lun *lu, struct scsi_cmd *c);
};

static enum scsi_action cmd_report_opcodes(struct scsi_lun *lu, struct scsi_cmd *c);

#define FF4	0xff, 0xff, 0xff, 0xff
static const struct scsi_op ops[] = {
	{ 0x00, 0, false, false, 6, { 0x00, 0, 0, 0, 0, 0 }, cmd_test_unit_ready },
	{ 0x03, 0, false, false, 6, { 0x03, 0x01, 0, 0, 0xff, 0 }, cmd_request_sense },
	{ 0x08, 0, false, false, 6, { 0x08, 0x1f, 0xff, 0xff, 0xff, 0 }, scsi_cmd_rw },
	{ 0x0a, 0, false, false, 6, { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0 }, scsi_cmd_rw },
	{ 0x12, 0, false, false, 6, { 0x12, 0x01, 0xff, 0xff, 0xff, 0 }, scsi_cmd_inquiry },
	{ 0x15, 0, false, false, 6, { 0x15, 0x10, 0, 0, 0xff, 0 }, scsi_cmd_mode_select },
	{ 0x1a, 0, false, false, 6, { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 }, scsi_cmd_mode_sense },
	{ 0x1b, 0, false, false, 6, { 0x1b, 0, 0, 0x0f, 0xf5, 0 }, cmd_start_stop_unit },
	{ 0x1e, 0, false, false, 6, { 0x1e, 0, 0, 0, 0x03, 0 }, cmd_prevent_allow },
	{ 0x25, 0, false, false, 10, { 0x25, 0, FF4, 0, 0, 0x01, 0 }, scsi_cmd_read_capacity10 },
	{ 0x28, 0, false, false, 10, { 0x28, 0x18, FF4, 0, 0xff, 0xff, 0 }, scsi_cmd_rw },
	{ 0x2a, 0, false, false, 10, { 0x2a, 0x18, FF4, 0, 0xff, 0xff, 0 }, scsi_cmd_rw },
	{ 0x2f, 0, false, false, 10, { 0x2f, 0, FF4, 0, 0xff, 0xff, 0 }, scsi_cmd_verify },
	{ 0x35, 0, false, false, 10, { 0x35, 0, FF4, 0, 0xff, 0xff, 0 }, scsi_cmd_sync_cache },
	{ 0x41, 0, false, false, 10, { 0x41, 0x08, FF4, 0, 0xff, 0xff, 0 }, scsi_cmd_write_same },
	{ 0x42, 0, false, true, 10, { 0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 }, scsi_cmd_unmap },
	{ 0x55, 0, false, false, 10, { 0x55, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 0 },
	  scsi_cmd_mode_select },
	{ 0x5a, 0, false, false, 10, { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 },
	  scsi_cmd_mode_sense },
	{ 0x88, 0, false, false, 16, { 0x88, 0x18, FF4, FF4, FF4, 0, 0 }, scsi_cmd_rw },
	{ 0x8a, 0, false, false, 16, { 0x8a, 0x18, FF4, FF4, FF4, 0, 0 }, scsi_cmd_rw },
	{ 0x8f, 0, false, false, 16, { 0x8f, 0, FF4, FF4, FF4, 0, 0 }, scsi_cmd_verify },
	{ 0x91, 0, false, false, 16, { 0x91, 0, FF4, FF4, FF4, 0, 0 }, scsi_cmd_sync_cache },
	{ 0x93, 0, false, false, 16, { 0x93, 0x09, FF4, FF4, FF4, 0, 0 }, scsi_cmd_write_same },
	{ 0x9e, 0x10, true, false, 16, { 0x9e, 0x10, FF4, FF4, FF4, 0x01, 0 },
	  scsi_cmd_read_capacity16 },
	{ 0xa0, 0, false, false, 12, { 0xa0, 0, 0xff, 0, 0, 0, FF4, 0, 0 }, cmd_report_luns },
	{ 0xa3, 0x0c, true, false, 12, { 0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, FF4, 0, 0 },
	  cmd_report_opcodes },
	{ 0xa8, 0, false, false, 12, { 0xa8, 0x18, FF4, FF4, 0, 0 }, scsi_cmd_rw },
	{ 0xaa, 0, false, false, 12, { 0xaa, 0x18, FF4, FF4, 0, 0 }, scsi_cmd_rw },
};
#undef FF4

static bool has_sa(uint8_t opcode)
{
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++)
		if (ops[i].opcode == opcode)
			return ops[i].has_sa;
	return false;
}

/* The entry for opcode (and service action, for opcodes that have them),
 * as this LU supports it; NULL if none. */
static const struct scsi_op *find_op(const struct scsi_lun *lu, uint8_t opcode, uint16_t sa)
{
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		const struct scsi_op *o = &ops[i];

		if (o->opcode != opcode || (o->has_sa && o->sa != sa))
			continue;
		return o->unmap && !lu->can_unmap ? NULL : o;
	}
	return NULL;
}

static bool op_visible(const struct scsi_lun *lu, const struct scsi_op *o)
{
	return !o->unmap || lu->can_unmap;
}

/* Command timeouts descriptor: both timeouts 0, unknown. */
static unsigned put_timeouts(uint8_t *p)
{
	memset(p, 0, 12);
	put_be16(p, 0x0a);		/* DESCRIPTOR LENGTH */
	return 12;
}

/* REPORT SUPPORTED OPERATION CODES (SPC-4). */
static enum scsi_action cmd_report_opcodes(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint8_t buf[4 + ARRAY_SIZE(ops) * 20];
	bool rctd = c->cdb[2] & 0x80;
	unsigned opt = c->cdb[2] & 0x07, n = 4;
	uint8_t req_op = c->cdb[3];
	uint16_t req_sa = get_be16(c->cdb + 4);
	uint32_t alloc = get_be32(c->cdb + 6);
	const struct scsi_op *o = NULL;

	memset(buf, 0, sizeof(buf));
	if (opt == 0) {
		/* all_commands: one descriptor per opcode / service action. */
		for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
			uint8_t *d = buf + n;

			if (!op_visible(lu, &ops[i]))
				continue;
			d[0] = ops[i].opcode;
			put_be16(d + 2, ops[i].sa);
			d[5] = (rctd ? 0x02 : 0) | (ops[i].has_sa ? 0x01 : 0);	/* CTDP, SERVACTV */
			put_be16(d + 6, ops[i].len);
			n += 8;
			if (rctd)
				n += put_timeouts(buf + n);
		}
		put_be32(buf, n - 4);		/* COMMAND DATA LENGTH */
		return scsi_reply(c, buf, n, alloc);
	}
	switch (opt) {
	case 1:		/* the opcode, which must not have service actions */
		if (has_sa(req_op))
			return scsi_bad_cdb(c, 3, -1);
		o = find_op(lu, req_op, 0);
		break;
	case 2:		/* the opcode and service action */
		if (!has_sa(req_op) && find_op(lu, req_op, 0))
			return scsi_bad_cdb(c, 3, -1);
		o = has_sa(req_op) ? find_op(lu, req_op, req_sa) : NULL;
		break;
	case 3:		/* either: the service action counts where there are some */
		o = find_op(lu, req_op, has_sa(req_op) ? req_sa : 0);
		break;
	default:
		return scsi_bad_cdb(c, 2, 2);
	}
	/* one_command parameter data. */
	if (!o) {
		buf[1] = 0x01;			/* SUPPORT: not supported */
		return scsi_reply(c, buf, 4, alloc);
	}
	buf[1] = (rctd ? 0x80 : 0) | 0x03;	/* CTDP, SUPPORT: as the standard says */
	put_be16(buf + 2, o->len);		/* CDB SIZE */
	memcpy(buf + 4, o->usage, o->len);
	n = 4 + o->len;
	if (rctd)
		n += put_timeouts(buf + n);
	return scsi_reply(c, buf, n, alloc);
}

/* ---- dispatch ---- */

/* Commands a pending unit attention does not stop (SAM-5). */
static bool ua_exempt(uint8_t opcode)
{
	return opcode == 0x12 || opcode == 0xa0 || opcode == 0x03;
}

/* A LUN that does not exist on an existing target (SPC-4, incorrect
 * logical unit selection): only INQUIRY, REPORT LUNS and REQUEST SENSE
 * answer. */
static enum scsi_action exec_no_lun(struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x12:
		return scsi_cmd_inquiry(NULL, c);
	case 0xa0:
		return cmd_report_luns(NULL, c);
	case 0x03:
		return cmd_request_sense(NULL, c);
	default:
		return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	}
}

enum scsi_action scsi_disk_exec(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint8_t opcode = c->cdb[0];
	const struct scsi_op *o;
	unsigned ua;

	c->status = SCSI_GOOD;
	c->sense_len = 0;
	c->xferred = 0;
	c->kind = KIND_NONE;
	c->flush_after = false;
	c->iov = NULL;
	c->niov = 0;
	if (!lu)
		return exec_no_lun(c);
	if (!ua_exempt(opcode) && (ua = atomic_exchange(&lu->ua, 0)) != 0)
		return scsi_check(c, SCSI_SK_UNIT_ATTENTION, ASC_RESET_OCCURRED | (ua & 0xff));
	o = find_op(lu, opcode, c->cdb[1] & 0x1f);
	if (!o) {
		/* A known opcode with a service action it lacks is a bad
		 * field in the CDB (SPC-4), an unknown opcode a bad command. */
		if (has_sa(opcode))
			return scsi_bad_cdb(c, 1, 4);
		return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	}
	/* NACA in the CONTROL byte asks for ACA, which is not supported. */
	if (c->cdb[o->len - 1] & 0x04)
		return scsi_bad_cdb(c, o->len - 1, 2);
	return o->fn(lu, c);
}

enum scsi_action scsi_disk_io_done(struct scsi_lun *lu, struct scsi_cmd *c, int res)
{
	if (res == -EBUSY) {
		/* Nothing was queued; the initiator retries a BUSY command. */
		c->status = SCSI_BUSY;
		c->sense_len = 0;
		c->xferred = 0;
		return SCSI_DONE;
	}
	return scsi_io_continue(lu, c, res);
}
