/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the scsi-* cases (tests_scsi.c: set-up and the data cases;
 * tests_scsi_io.c: sending commands and judging their results;
 * tests_scsi_cmds.c: scsi-commands; tests_scsi_tmf.c: scsi-tmf,
 * scsi-bad-target, scsi-malformed). Not for other files.
 */
#ifndef GUEST_TESTS_SCSI_H
#define GUEST_TESTS_SCSI_H

#include "tests_disk.h"
#include "virtio_scsi.h"

#define MAX_TARGETS	8
#define SMALL		4096		/* scratch buffers for parameter data */

/* Sense keys and additional sense codes (SPC-4). */
#define SK_NO_SENSE		0x0
#define SK_NOT_READY		0x2
#define SK_ILLEGAL_REQUEST	0x5
#define SK_UNIT_ATTENTION	0x6
#define SK_DATA_PROTECT		0x7

struct lu {
	bool present;
	u64 nblocks;
	u32 bs;
	u8 phys_exp;
	bool ro, wce, dpofua;
	bool lbpme, lbprz;		/* READ CAPACITY (16) */
	bool lbpu, lbpws, lbpws10;	/* Logical Block Provisioning VPD page */
	bool wsnz;
	u32 max_xfer, max_unmap_lba, max_unmap_desc;
	u64 max_ws;
	char vendor[9], product[17], rev[5], serial[64];
	u8 vpd[16];
	unsigned nvpd;
};

struct res {
	int resp;			/* virtio response, or < 0 */
	u8 status;
	u32 sense_len, resid, used;
	u8 key, asc, ascq;
	u8 sense[VSCSI_SENSE_SIZE];
};

/* tests_scsi.c: the state every case shares. */
extern struct vscsi ts_sc;
extern struct virtio_opts ts_opts;
extern bool ts_stale;		/* a case failed with commands maybe in flight */
extern bool ts_strict;		/* scsi_strict=1 */
extern const char *ts_cur;	/* the case running, for notes */
extern unsigned ts_ntargets;
extern struct lu ts_lus[MAX_TARGETS];
extern struct vscsi_cmd *ts_c1;	/* one-off commands, on request queue 0 */
extern u8 *ts_buf1, *ts_buf2;	/* CHUNK bytes each */
extern u8 *ts_small;		/* SMALL bytes of parameter data */
extern struct slot ts_slots[VIRTIO_MAX_QUEUES][DEPTH];
extern const struct bulk_dev ts_bulk;	/* the bulk engine on ts_sc, ts_slots */

/* Every case starts with ts_ready(name, why): the device found and set up. */
bool ts_ready(const char *name, char *why);
bool ts_reinit(const struct virtio_opts *o, char *why);

/* tests_scsi_io.c */

/* TEST UNIT READY until GOOD, clearing unit attentions. */
bool ts_settle(unsigned t, char *why);
/* A data buffer with a page free in front (merged layout). */
u8 *ts_dbuf(u32 len);
void ts_copy_ascii(char *dst, const u8 *src, unsigned n);

/* One command on request queue 0 through ts_c1, start to finish: the
 * virtio response (< 0: timeout, ts_stale set) and *r. */
void ts_take_result(struct vscsi_cmd *c, int resp, struct res *r);
int ts_cmd_lun(const u8 lun[8], const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf,
	       u32 len, struct res *r);
int ts_cmd(unsigned t, const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf, u32 len,
	   struct res *r);
unsigned ts_rw_cdb(u8 *c, bool write, unsigned size, u64 lba, u32 n, bool fua);
int ts_rw(unsigned t, bool write, unsigned size, u64 lba, u32 n, void *buf, struct res *r);
int ts_tur(unsigned t, struct res *r);
int ts_inquiry(unsigned t, bool evpd, u8 page, u16 alloc, void *buf, u32 len, struct res *r);
int ts_mode_sense(unsigned t, bool ten, u8 pc_page, bool dbd, u16 alloc, void *buf,
		  struct res *r);

bool ts_good(const struct res *r);
bool ts_is_check(const struct res *r, u8 key, u8 asc, u8 ascq);
const char *ts_res_str(const struct res *r);
/* Another target's answer where SPC/SBC allow it: a note, or a failure
 * under scsi_strict=1. Use: if (bad && !ts_differ(why, ...)) return false; */
bool ts_differ(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ts_expect_good(const char *what, const struct res *r, char *why);
/* CHECK CONDITION with that sense, in fixed format (18 bytes or more). */
bool ts_expect_check(const char *what, const struct res *r, u8 key, u8 asc, u8 ascq,
		     char *why);

/* The cases the other files provide. */
bool test_scsi_commands(char *why);
bool test_scsi_tmf(char *why);
bool test_scsi_bad_target(char *why);
bool test_scsi_malformed(char *why);

#endif
