// SPDX-License-Identifier: Apache-2.0
/*
 * The SCSI disk's block commands (SBC-3): READ and WRITE (6, 10, 12, 16),
 * VERIFY, SYNCHRONIZE CACHE, WRITE SAME, UNMAP, and the steps that carry
 * them through the transport's I/O.
 */
#include <errno.h>
#include <string.h>

#include "virtio/scsi_disk.h"
#include "virtio/scsi_disk_impl.h"
#include "virtio/virtqueue.h"

/* The pattern of a zero WRITE SAME that can neither unmap nor zero-range;
 * writes only read it. */
static uint8_t zeros[64 * 1024] __attribute__((aligned(4096)));

static enum scsi_action lba_out_of_range(struct scsi_cmd *c)
{
	return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static enum scsi_action write_protected(struct scsi_cmd *c)
{
	return scsi_check(c, SCSI_SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
}

/*
 * An I/O step failed: MEDIUM ERROR with UNRECOVERED READ ERROR or WRITE
 * ERROR. A short transfer tells which block failed first: it goes in
 * INFORMATION (VALID set) when it fits 32 bits.
 */
static enum scsi_action io_error(const struct scsi_lun *lu, struct scsi_cmd *c, bool read,
				 int res, uint64_t lba)
{
	uint64_t bad;

	if (res == -EROFS)
		return write_protected(c);
	scsi_check(c, SCSI_SK_MEDIUM_ERROR, read ? ASC_UNRECOVERED_READ_ERROR : ASC_WRITE_ERROR);
	if (res >= 0) {
		bad = lba + (uint64_t)res / lu->block_size;
		if (bad <= 0xffffffffULL) {
			c->sense[0] |= 0x80;		/* VALID */
			put_be32(c->sense + 3, (uint32_t)bad);
		}
	}
	return SCSI_DONE;
}

/* Cut iov[0, n) to its first len bytes (it holds at least that many);
 * returns the iovecs left. */
static unsigned trim(struct iovec *iov, unsigned n, uint64_t len)
{
	unsigned i;

	for (i = 0; i < n && len; i++) {
		if (iov[i].iov_len >= len) {
			iov[i].iov_len = len;
			return i + 1;
		}
		len -= iov[i].iov_len;
	}
	return i;
}

/* A write step is done: flush if the write must be durable now. */
static enum scsi_action write_done(struct scsi_cmd *c)
{
	return c->flush_after ? scsi_flush_step(c) : SCSI_DONE;
}

/* ---- READ, WRITE ---- */

static bool is_write(uint8_t opcode)
{
	return opcode == 0x0a || opcode == 0x2a || opcode == 0xaa || opcode == 0x8a;
}

enum scsi_action scsi_cmd_rw(struct scsi_lun *lu, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	bool write = is_write(cdb[0]), fua = false;
	unsigned len_at;
	uint64_t lba, bytes;
	uint32_t n;

	switch (cdb[0]) {
	case 0x08:
	case 0x0a:
		lba = get_be24(cdb + 1) & 0x1fffff;
		n = cdb[4] ? cdb[4] : 256;		/* 0 means 256 in the 6-byte form */
		len_at = 4;
		break;
	case 0x28:
	case 0x2a:
		lba = get_be32(cdb + 2);
		n = get_be16(cdb + 7);
		len_at = 7;
		break;
	case 0xa8:
	case 0xaa:
		lba = get_be32(cdb + 2);
		n = get_be32(cdb + 6);
		len_at = 6;
		break;
	default:
		lba = get_be64(cdb + 2);
		n = get_be32(cdb + 10);
		len_at = 10;
		break;
	}
	if (len_at != 4) {
		/* RDPROTECT / WRPROTECT: the medium has no protection info. */
		if (cdb[1] & 0xe0)
			return scsi_bad_cdb(c, 1, 7);
		fua = cdb[1] & 0x08;
	}
	if (n > scsi_max_xfer_blocks(lu))
		return scsi_bad_cdb(c, len_at, -1);
	if (!lba_in_range(lu, lba, n))
		return lba_out_of_range(c);
	if (!n)
		return SCSI_DONE;
	if (write && lu->readonly)
		return write_protected(c);
	bytes = (uint64_t)n * lu->block_size;
	if (bytes > (write ? c->out_len : c->in_len))
		return SCSI_OVERRUN;
	c->kind = write ? KIND_WRITE : KIND_READ;
	c->lba = lba;
	c->offset = lba * lu->block_size;
	c->len = bytes;
	if (write) {
		c->iov = c->out;
		c->niov = trim(c->out, c->nout, bytes);
		/* FUA, or a write-through cache: durable before GOOD. */
		c->flush_after = fua || !atomic_load(&lu->wce);
		return SCSI_WRITE;
	}
	c->iov = c->in;
	c->niov = trim(c->in, c->nin, bytes);
	return SCSI_READ;
}

/* ---- VERIFY, SYNCHRONIZE CACHE ---- */

/* VERIFY (10) and (16). BYTCHK 00b: the blocks of an image are always
 * readable, so checking the range is the whole verification. A byte
 * compare (01b, 11b) would need a bounce buffer: refused. */
enum scsi_action scsi_cmd_verify(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool ten = c->cdb[0] == 0x2f;
	uint64_t lba = ten ? get_be32(c->cdb + 2) : get_be64(c->cdb + 2);
	uint32_t n = ten ? get_be16(c->cdb + 7) : get_be32(c->cdb + 10);

	if (c->cdb[1] & 0xe0)			/* VRPROTECT */
		return scsi_bad_cdb(c, 1, 7);
	if (c->cdb[1] & 0x06)			/* BYTCHK */
		return scsi_bad_cdb(c, 1, 2);
	if (!lba_in_range(lu, lba, n))
		return lba_out_of_range(c);
	return SCSI_DONE;
}

/* SYNCHRONIZE CACHE (10) and (16): the range is checked, then the whole
 * image is flushed (fdatasync has no range). IMMED is ignored: status
 * comes after the flush, which the initiator may always wait for. */
enum scsi_action scsi_cmd_sync_cache(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool ten = c->cdb[0] == 0x35;
	uint64_t lba = ten ? get_be32(c->cdb + 2) : get_be64(c->cdb + 2);
	uint32_t n = ten ? get_be16(c->cdb + 7) : get_be32(c->cdb + 10);

	if (!lba_in_range(lu, lba, n))
		return lba_out_of_range(c);
	return scsi_flush_step(c);
}

/* ---- WRITE SAME ---- */

static bool block_is_zero(const struct iovec *iov, unsigned n, uint64_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

		for (size_t j = 0; j < l; j++)
			if (p[j])
				return false;
		len -= l;
	}
	return true;
}

/*
 * The next write of a pattern WRITE SAME: as many blocks as SCSI_REP_IOV
 * iovecs describe. Zeroes come from a static buffer, a guest pattern is
 * the guest's own block repeated (c->out, cut to one block); a block in
 * more pieces than that is written once per step.
 */
static enum scsi_action ws_next(const struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint32_t bs = lu->block_size;
	uint64_t blocks = 0;
	unsigned k = 0;

	if (c->step) {
		uint64_t left = c->left * bs, bytes = 0;

		while (k < SCSI_REP_IOV && left) {
			size_t l = left < sizeof(zeros) ? left : sizeof(zeros);

			c->rep[k].iov_base = zeros;
			c->rep[k++].iov_len = l;
			left -= l;
			bytes += l;
		}
		blocks = bytes / bs;
		c->iov = c->rep;
	} else if (c->nout <= SCSI_REP_IOV) {
		while (blocks < c->left && k + c->nout <= SCSI_REP_IOV) {
			memcpy(c->rep + k, c->out, c->nout * sizeof(*c->out));
			k += c->nout;
			blocks++;
		}
		c->iov = c->rep;
	} else {
		c->iov = c->out;
		k = c->nout;
		blocks = 1;
	}
	c->niov = k;
	c->offset = c->lba * bs;
	c->len = blocks * bs;
	return SCSI_WRITE;
}

/* A zero WRITE SAME by discard (UNMAP asked and possible), else
 * zero-range, else by writes of zeroes. */
static enum scsi_action ws_zero(const struct scsi_lun *lu, struct scsi_cmd *c, bool unmap)
{
	c->offset = c->lba * lu->block_size;
	c->len = c->left * lu->block_size;
	if (unmap && lu->can_unmap) {
		c->kind = KIND_WS_FREE;
		c->step = 0;
		return SCSI_DISCARD;
	}
	if (lu->can_zero) {
		c->kind = KIND_WS_FREE;
		c->step = 1;
		return SCSI_WRITE_ZEROES;
	}
	c->kind = KIND_WS_LOOP;
	c->step = 1;
	return ws_next(lu, c);
}

/* WRITE SAME (10) and (16). */
enum scsi_action scsi_cmd_write_same(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool sixteen = c->cdb[0] == 0x93;
	uint8_t f = c->cdb[1];
	bool unmap = f & 0x08, ndob = sixteen && (f & 0x01);
	uint64_t lba = sixteen ? get_be64(c->cdb + 2) : get_be32(c->cdb + 2);
	uint32_t n = sixteen ? get_be32(c->cdb + 10) : get_be16(c->cdb + 7);
	unsigned n_at = sixteen ? 10 : 7;
	uint32_t bs = lu->block_size;

	if (f & 0xe0)				/* WRPROTECT */
		return scsi_bad_cdb(c, 1, 7);
	if (f & 0x10)				/* ANCHOR: ANC_SUP is 0 */
		return scsi_bad_cdb(c, 1, 4);
	if (f & 0x04)				/* PBDATA (obsolete) */
		return scsi_bad_cdb(c, 1, 2);
	if (f & 0x02)				/* LBDATA (obsolete) */
		return scsi_bad_cdb(c, 1, 1);
	if (!sixteen && (f & 0x01))		/* obsolete in the 10-byte form */
		return scsi_bad_cdb(c, 1, 0);
	/* WSNZ: 0 (the rest of the medium) is not supported. */
	if (!n || n > SCSI_WS_MAX_BYTES / bs)
		return scsi_bad_cdb(c, n_at, -1);
	if (!lba_in_range(lu, lba, n))
		return lba_out_of_range(c);
	if (lu->readonly)
		return write_protected(c);
	if (!ndob && c->out_len < bs)
		return SCSI_OVERRUN;
	c->xferred = ndob ? 0 : bs;
	c->lba = lba;
	c->left = n;
	c->flush_after = !atomic_load(&lu->wce);
	/* Unmapped blocks read back as zeroes (LBPRZ), so only a zero
	 * pattern may become an unmap (SBC-3). */
	if (ndob || block_is_zero(c->out, c->nout, bs))
		return ws_zero(lu, c, unmap);
	c->nout = trim(c->out, c->nout, bs);
	c->kind = KIND_WS_LOOP;
	c->step = 0;
	return ws_next(lu, c);
}

static enum scsi_action ws_continue(const struct scsi_lun *lu, struct scsi_cmd *c, int res)
{
	uint32_t bs = lu->block_size;

	if (c->kind == KIND_WS_FREE) {
		if (res == -EOPNOTSUPP) {
			/* The image refused after all: the next way down. */
			if (c->step == 0 && lu->can_zero) {
				c->step = 1;
				return SCSI_WRITE_ZEROES;
			}
			c->kind = KIND_WS_LOOP;
			c->step = 1;
			return ws_next(lu, c);
		}
		if (res < 0)
			return io_error(lu, c, false, res, c->lba);
		return write_done(c);
	}
	if (res < 0 || (uint64_t)res != c->len)
		return io_error(lu, c, false, res, c->lba);
	c->lba += c->len / bs;
	c->left -= c->len / bs;
	return c->left ? ws_next(lu, c) : write_done(c);
}

/* ---- UNMAP ---- */

#define UNMAP_HDR	8
#define UNMAP_DESC	16

static enum scsi_action read_desc(const struct scsi_lun *lu, struct scsi_cmd *c, unsigned i,
				  uint64_t *lba, uint32_t *n)
{
	uint8_t d[UNMAP_DESC];

	virtq_iov_read(c->out, c->nout, UNMAP_HDR + UNMAP_DESC * i, d, sizeof(d));
	*lba = get_be64(d);
	*n = get_be32(d + 8);
	if (!lba_in_range(lu, *lba, *n))
		return lba_out_of_range(c);
	if (*n > SCSI_UNMAP_MAX_BYTES / lu->block_size)
		return scsi_bad_param(c, UNMAP_HDR + UNMAP_DESC * i + 8, -1);
	return SCSI_DONE;
}

/* Discard the next non-empty descriptor, reading it again: the guest may
 * have changed it since it was checked. */
static enum scsi_action unmap_next(const struct scsi_lun *lu, struct scsi_cmd *c)
{
	while (c->step < c->nsteps) {
		enum scsi_action a;
		uint64_t lba;
		uint32_t n;

		a = read_desc(lu, c, c->step++, &lba, &n);
		if (c->status != SCSI_GOOD)
			return a;
		if (!n)
			continue;
		c->lba = lba;
		c->offset = lba * lu->block_size;
		c->len = (uint64_t)n * lu->block_size;
		return SCSI_DISCARD;
	}
	return write_done(c);
}

/* UNMAP (SBC-3). Every descriptor is checked before the first discard. */
enum scsi_action scsi_cmd_unmap(struct scsi_lun *lu, struct scsi_cmd *c)
{
	unsigned plen = get_be16(c->cdb + 7), bdlen, nd;
	uint64_t total = 0;
	uint8_t h[UNMAP_HDR];

	if (c->cdb[1] & 0x01)			/* ANCHOR: ANC_SUP is 0 */
		return scsi_bad_cdb(c, 1, 0);
	if (!plen)
		return SCSI_DONE;
	if (plen < UNMAP_HDR)
		return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	if (plen > c->out_len)
		return SCSI_OVERRUN;
	virtq_iov_read(c->out, c->nout, 0, h, sizeof(h));
	bdlen = get_be16(h + 2);
	/* UNMAP DATA LENGTH counts what follows it: it must cover the
	 * descriptors it announces. */
	if (get_be16(h) < bdlen + 6)
		return scsi_bad_param(c, 0, -1);
	/* Descriptors the parameter list length cuts off, and a last
	 * incomplete one, are ignored (SBC-3). */
	nd = (bdlen < plen - UNMAP_HDR ? bdlen : plen - UNMAP_HDR) / UNMAP_DESC;
	if (nd > SCSI_UNMAP_MAX_DESC)
		return scsi_bad_param(c, 2, -1);
	for (unsigned i = 0; i < nd; i++) {
		enum scsi_action a;
		uint64_t lba;
		uint32_t n;

		a = read_desc(lu, c, i, &lba, &n);
		if (c->status != SCSI_GOOD)
			return a;
		total += n;
		if (total > SCSI_UNMAP_MAX_BYTES / lu->block_size)
			return scsi_bad_param(c, UNMAP_HDR + UNMAP_DESC * i + 8, -1);
	}
	c->xferred = plen;
	c->kind = KIND_UNMAP;
	c->step = 0;
	c->nsteps = nd;
	c->flush_after = !atomic_load(&lu->wce);
	return unmap_next(lu, c);
}

/* ---- the next step ---- */

enum scsi_action scsi_io_continue(struct scsi_lun *lu, struct scsi_cmd *c, int res)
{
	bool whole = res >= 0 && (uint64_t)res == c->len;

	switch (c->kind) {
	case KIND_READ:
		if (!whole)
			return io_error(lu, c, true, res, c->lba);
		c->xferred = c->len;
		return SCSI_DONE;
	case KIND_WRITE:
		if (!whole)
			return io_error(lu, c, false, res, c->lba);
		c->xferred = c->len;
		return write_done(c);
	case KIND_FLUSH:
		return res < 0 ? io_error(lu, c, false, res, 0) : SCSI_DONE;
	case KIND_UNMAP:
		/* Blocks may stay mapped (SBC-3): a refused discard is no error. */
		if (res < 0 && res != -EOPNOTSUPP)
			return io_error(lu, c, false, res, c->lba);
		return unmap_next(lu, c);
	case KIND_WS_FREE:
	case KIND_WS_LOOP:
		return ws_continue(lu, c, res);
	default:
		return SCSI_DONE;
	}
}
