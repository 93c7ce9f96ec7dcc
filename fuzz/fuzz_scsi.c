// SPDX-License-Identifier: Apache-2.0
/*
 * The SCSI disk target's CDB handling (virtio/scsi_disk.h), as the
 * virtio-scsi transport drives it: scsi_disk_exec, then each I/O step it
 * asks for, performed on a fake 128 KiB disk, until SCSI_DONE.
 *
 * Input: one byte of LUN flags (SCSI_* below), then up to eight commands,
 * each a 20-byte record (control byte, le16 data length, a reserved byte,
 * 16-byte CDB) followed, for a data-out command, by its data. Data buffers are exact-size heap
 * copies cut into pieces, so ASan sees any access past them.
 *
 * Checked: every I/O step lies inside the disk and moves exactly c->len
 * bytes through iovecs inside the command's own buffers (or, for writes of
 * zeroes, through zeroes); a command ends with a status SAM knows, sense
 * data exactly with CHECK CONDITION, never more bytes moved than given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "virtio/scsi_disk.h"

/* LUN flags. */
#define SCSI_NO_LUN	0x01	/* the target has no LUN 0 here */
#define SCSI_RO		0x02
#define SCSI_BS4K	0x04	/* 4096-byte logical blocks */
#define SCSI_NO_UNMAP	0x08	/* the image cannot discard */
#define SCSI_NO_ZERO	0x10	/* ... or write zeroes */
#define SCSI_FAIL	0x20	/* every I/O step fails with -EIO */
#define SCSI_BUSY_IO	0x40	/* every I/O step finds no room: -EBUSY */
#define SCSI_SHORT	0x80	/* reads and writes move a byte less */

/* Command control byte. */
#define CMD_IN		0x01	/* data-in (else data-out) */
#define CMD_LU_RESET	0x02	/* LOGICAL UNIT RESET first */
#define CMD_NEXUS_RESET	0x04	/* I_T NEXUS RESET first */
#define CMD_PIECE(c)	((c) >> 4)	/* buffer cut every 2^(n+1) bytes; 0: whole */

#define DISK_BYTES	(128 * 1024)
#define MAX_CMDS	8
#define MAX_PIECES	64
#define RECORD		20

static uint8_t disk_data[DISK_BYTES];
static uint8_t lun_flags;

/* Cut buf into iovecs of `piece` bytes (the last takes the rest). */
static unsigned cut(uint8_t *buf, size_t len, size_t piece, struct iovec *iov)
{
	unsigned n = 0;

	while (len) {
		size_t l = piece && len > piece && n + 1 < MAX_PIECES ? piece : len;

		iov[n++] = (struct iovec){ buf, l };
		buf += l;
		len -= l;
	}
	return n;
}

static bool inside(const struct iovec *v, const uint8_t *buf, size_t len)
{
	const uint8_t *p = v->iov_base;

	return buf && p >= buf && (size_t)(p - buf) <= len && v->iov_len <= len - (size_t)(p - buf);
}

static bool all_zero(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	for (size_t i = 0; i < v->iov_len; i++)
		if (p[i])
			return false;
	return true;
}

/* Perform one I/O step on the fake disk; its result. */
static int do_step(const struct scsi_lun *lu, const struct scsi_cmd *c, enum scsi_action a,
		   const uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	uint64_t off = c->offset, total = 0;

	FUZZ_CHECK(off <= DISK_BYTES && c->len <= DISK_BYTES - off, "step %d at 0x%llx + 0x%llx",
		   a, (unsigned long long)off, (unsigned long long)c->len);
	if (a == SCSI_READ || a == SCSI_WRITE) {
		FUZZ_CHECK(c->niov >= 1 && c->niov <= DISK_MAX_IOV, "%u iovecs", c->niov);
		for (unsigned i = 0; i < c->niov; i++) {
			const struct iovec *v = &c->iov[i];

			if (a == SCSI_READ)
				FUZZ_CHECK(inside(v, in, in_len), "read iovec %u outside data-in", i);
			else
				FUZZ_CHECK(inside(v, out, out_len) || all_zero(v),
					   "write iovec %u neither data-out nor zeroes", i);
			total += v->iov_len;
		}
		FUZZ_CHECK(total == c->len, "iovecs hold %llu bytes, step says %llu",
			   (unsigned long long)total, (unsigned long long)c->len);
	}
	if (lun_flags & SCSI_BUSY_IO)
		return -EBUSY;
	if (lun_flags & SCSI_FAIL)
		return -EIO;
	switch (a) {
	case SCSI_READ:
		for (unsigned i = 0; i < c->niov; off += c->iov[i].iov_len, i++)
			memcpy(c->iov[i].iov_base, disk_data + off, c->iov[i].iov_len);
		return lun_flags & SCSI_SHORT ? (int)c->len - 1 : (int)c->len;
	case SCSI_WRITE:
		if (lu->readonly)
			return -EROFS;
		for (unsigned i = 0; i < c->niov; off += c->iov[i].iov_len, i++)
			memcpy(disk_data + off, c->iov[i].iov_base, c->iov[i].iov_len);
		return lun_flags & SCSI_SHORT ? (int)c->len - 1 : (int)c->len;
	case SCSI_DISCARD:
	case SCSI_WRITE_ZEROES:
		if (lun_flags & (a == SCSI_DISCARD ? SCSI_NO_UNMAP : SCSI_NO_ZERO))
			return -EOPNOTSUPP;
		memset(disk_data + off, 0, c->len);
		return 0;
	default:	/* SCSI_FLUSH */
		return 0;
	}
}

static void run_cmd(struct scsi_lun *lu, uint8_t ctl, const uint8_t *cdb, const uint8_t *data,
		    size_t len)
{
	struct iovec iov[MAX_PIECES];
	struct scsi_cmd c;
	uint8_t *buf = malloc(len ? len : 1);
	bool in = ctl & CMD_IN;
	enum scsi_action a;
	unsigned steps = 0, n;

	FUZZ_CHECK(buf, "malloc");
	memset(&c, 0, sizeof(c));
	memcpy(c.cdb, cdb, 16);
	if (in)
		memset(buf, 0xcc, len);
	else
		memcpy(buf, data, len);
	n = cut(buf, len, CMD_PIECE(ctl) ? 2u << CMD_PIECE(ctl) : 0, iov);
	if (in) {
		c.in = iov;
		c.nin = n;
		c.in_len = len;
	} else {
		c.out = iov;
		c.nout = n;
		c.out_len = len;
	}
	if (lu && (ctl & CMD_LU_RESET))
		scsi_lun_reset(lu);
	if (lu && (ctl & CMD_NEXUS_RESET))
		scsi_lun_nexus_reset(lu);

	for (a = scsi_disk_exec(lu, &c); a != SCSI_DONE && a != SCSI_OVERRUN;
	     a = scsi_disk_io_done(lu, &c, do_step(lu, &c, a, in ? NULL : buf, len, in ? buf : NULL,
						    len))) {
		/* WRITE SAME writes at least a block a step: 256 blocks fit. */
		FUZZ_CHECK(++steps <= 1000, "command %02x takes more than 1000 steps", cdb[0]);
		FUZZ_CHECK(lu, "I/O step %d without a LUN", a);
	}
	if (a == SCSI_OVERRUN) {
		FUZZ_CHECK(c.xferred == 0, "overrun after moving %llu bytes",
			   (unsigned long long)c.xferred);
	} else {
		FUZZ_CHECK(c.status == SCSI_GOOD || c.status == SCSI_CHECK_CONDITION ||
			   c.status == SCSI_BUSY, "status 0x%02x", c.status);
		FUZZ_CHECK((c.status == SCSI_CHECK_CONDITION) == (c.sense_len == SCSI_SENSE_LEN) &&
			   (c.sense_len == 0 || c.sense_len == SCSI_SENSE_LEN),
			   "status 0x%02x with %u bytes of sense", c.status, c.sense_len);
		FUZZ_CHECK(!c.sense_len || (c.sense[0] & 0x7f) == 0x70, "sense format 0x%02x",
			   c.sense[0]);
		FUZZ_CHECK(c.xferred <= len, "%llu bytes moved of %zu",
			   (unsigned long long)c.xferred, len);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk disk;
	struct scsi_lun lun;
	size_t pos = 1;

	if (size < 1 + RECORD)
		return 0;
	lun_flags = data[0];
	memset(disk_data, 0, sizeof(disk_data));
	disk = (struct disk){
		.fd = -1, .buffered_fd = -1, .readonly = lun_flags & SCSI_RO, .size = DISK_BYTES,
		.block_size = lun_flags & SCSI_BS4K ? 4096 : 512, .phys_block_size = 4096,
		.mem_align = 1, .can_discard = !(lun_flags & SCSI_NO_UNMAP),
		.can_zero = !(lun_flags & SCSI_NO_ZERO), .serial = "KITE-FUZZ-0001",
		.path = "fuzz.img",
	};
	scsi_lun_init(&lun, &disk);

	for (unsigned i = 0; i < MAX_CMDS && size - pos >= RECORD; i++) {
		const uint8_t *r = data + pos;
		size_t len = r[1] | (size_t)r[2] << 8, given;

		pos += RECORD;
		/* Data-out comes from the input (what is there of it). */
		given = r[0] & CMD_IN ? 0 : (len < size - pos ? len : size - pos);
		if (!(r[0] & CMD_IN))
			len = given;
		run_cmd(lun_flags & SCSI_NO_LUN ? NULL : &lun, r[0], r + 4, data + pos, len);
		pos += given;
	}
	return 0;
}
