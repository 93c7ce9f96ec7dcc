/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the SCSI disk target (virtio/scsi_disk*.c): byte helpers,
 * sense helpers, and the command functions each file provides to the
 * dispatch table in scsi_disk.c. Not for other modules.
 */
#ifndef KITE_VIRTIO_SCSI_DISK_IMPL_H
#define KITE_VIRTIO_SCSI_DISK_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "virtio/scsi_disk.h"

/* Additional sense codes (ASC << 8 | ASCQ), SPC-4 Annex D. */
#define ASC_NONE			0x0000
#define ASC_WRITE_ERROR			0x0c00
#define ASC_UNRECOVERED_READ_ERROR	0x1100
#define ASC_PARAM_LIST_LENGTH_ERROR	0x1a00
#define ASC_INVALID_OPCODE		0x2000
#define ASC_LBA_OUT_OF_RANGE		0x2100
#define ASC_INVALID_FIELD_IN_CDB	0x2400
#define ASC_LUN_NOT_SUPPORTED		0x2500
#define ASC_INVALID_FIELD_IN_PARAM	0x2600
#define ASC_WRITE_PROTECTED		0x2700
#define ASC_RESET_OCCURRED		0x2900	/* | ASCQ of the pending UA */
#define ASC_SAVING_NOT_SUPPORTED	0x3900

/* Which multi-step command c->kind is in (scsi_disk_io.c continues it). */
enum {
	KIND_NONE,
	KIND_READ,
	KIND_WRITE,
	KIND_FLUSH,		/* a lone flush, or the last step of another */
	KIND_UNMAP,
	KIND_WS_FREE,		/* WRITE SAME by discard or zero-range */
	KIND_WS_LOOP,		/* WRITE SAME by writes */
};

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put_be24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

/* [lba, lba + n) inside the LU, without overflow. A zero-length range
 * may start just past the last block. */
static inline bool lba_in_range(const struct scsi_lun *lu, uint64_t lba, uint64_t n)
{
	return lba <= lu->nblocks && n <= lu->nblocks - lba;
}

static inline uint32_t scsi_max_xfer_blocks(const struct scsi_lun *lu)
{
	return SCSI_MAX_XFER_BYTES / lu->block_size;
}

/* Fixed-format sense data (SPC-4) into p[SCSI_SENSE_LEN]. */
void scsi_fixed_sense(uint8_t *p, uint8_t key, uint16_t asc);
/* End c with CHECK CONDITION and that sense. */
enum scsi_action scsi_check(struct scsi_cmd *c, uint8_t key, uint16_t asc);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB (C/D = 1) or IN PARAMETER LIST
 * (C/D = 0), with the sense-key specific field pointer: the field's first
 * byte and, for a field that does not fill its byte, its highest bit
 * (bit < 0: no bit pointer). */
enum scsi_action scsi_bad_cdb(struct scsi_cmd *c, unsigned byte, int bit);
enum scsi_action scsi_bad_param(struct scsi_cmd *c, unsigned byte, int bit);
/* Data-in answer: buf[0, len) cut to the allocation length. An allocation
 * length beyond the data-in buffer is an overrun (virtio 1.2, 5.6.6.1). */
enum scsi_action scsi_reply(struct scsi_cmd *c, const void *buf, uint64_t len, uint64_t alloc);
/* Ask for a flush as the command's last step. */
enum scsi_action scsi_flush_step(struct scsi_cmd *c);

/* The command functions, by file. */
enum scsi_action scsi_cmd_inquiry(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_read_capacity10(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_read_capacity16(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_mode_sense(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_mode_select(struct scsi_lun *lu, struct scsi_cmd *c);

enum scsi_action scsi_cmd_rw(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_verify(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_sync_cache(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_write_same(struct scsi_lun *lu, struct scsi_cmd *c);
enum scsi_action scsi_cmd_unmap(struct scsi_lun *lu, struct scsi_cmd *c);
/* The next step of a KIND_* command after an I/O result. */
enum scsi_action scsi_io_continue(struct scsi_lun *lu, struct scsi_cmd *c, int res);

#endif
