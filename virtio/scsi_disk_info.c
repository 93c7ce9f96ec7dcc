// SPDX-License-Identifier: Apache-2.0
/*
 * What the SCSI disk says about itself: INQUIRY (standard data and the VPD
 * pages), READ CAPACITY, and the mode pages (MODE SENSE, MODE SELECT).
 */
#include <string.h>

#include "virtio/scsi_disk.h"
#include "virtio/scsi_disk_impl.h"
#include "virtio/virtqueue.h"

#define STD_INQUIRY_LEN	36
#define PDT_DISK	0x00	/* PERIPHERAL QUALIFIER 000b, direct access block device */
#define PDT_NO_LUN	0x7f	/* PERIPHERAL QUALIFIER 011b, type 1Fh: no LU here */

/* ---- INQUIRY ---- */

static unsigned std_inquiry(uint8_t pdt, uint8_t *p)
{
	memset(p, 0, STD_INQUIRY_LEN);
	p[0] = pdt;
	p[1] = 0x00;			/* RMB 0: not removable */
	p[2] = 0x06;			/* VERSION: SPC-4 */
	p[3] = 0x12;			/* HISUP, RESPONSE DATA FORMAT 2 */
	p[4] = STD_INQUIRY_LEN - 5;	/* ADDITIONAL LENGTH */
	p[7] = 0x02;			/* CMDQUE */
	memcpy(p + 8, SCSI_DISK_VENDOR, 8);
	memcpy(p + 16, SCSI_DISK_PRODUCT, 16);
	memcpy(p + 32, SCSI_DISK_REVISION, 4);
	return STD_INQUIRY_LEN;
}

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

/* The serial as VPD data: ASCII spaces if there is none (SPC-4). */
static size_t serial_of(const struct scsi_lun *lu, const char **s)
{
	size_t n = strnlen(lu->disk->serial, sizeof(lu->disk->serial));

	*s = n ? lu->disk->serial : " ";
	return n ? n : 1;
}

/* Device Identification: one T10 vendor ID based designator, the vendor
 * then (as SPC-4 recommends) the product and the serial. */
static unsigned vpd_devid(const struct scsi_lun *lu, uint8_t *p)
{
	const char *s;
	size_t sl = serial_of(lu, &s);

	p[4] = 0x02;			/* PROTOCOL IDENTIFIER 0, CODE SET 2: ASCII */
	p[5] = 0x01;			/* PIV 0, ASSOCIATION 0: the LU, TYPE 1: T10 */
	p[7] = 24 + sl;			/* DESIGNATOR LENGTH */
	memcpy(p + 8, SCSI_DISK_VENDOR, 8);
	memcpy(p + 16, SCSI_DISK_PRODUCT, 16);
	memcpy(p + 32, s, sl);
	return 32 + sl;
}

/* Block Limits (SBC-3). The unmap fields are zero where UNMAP is not
 * supported, which is how SBC says so. */
static unsigned vpd_block_limits(const struct scsi_lun *lu, uint8_t *p)
{
	uint32_t bs = lu->block_size;

	p[4] = 0x01;					/* WSNZ: no 0-length WRITE SAME */
	put_be16(p + 6, 1u << lu->phys_exp);		/* OPTIMAL TRANSFER LENGTH GRANULARITY */
	put_be32(p + 8, scsi_max_xfer_blocks(lu));		/* MAXIMUM TRANSFER LENGTH */
	if (lu->can_unmap) {
		put_be32(p + 20, SCSI_UNMAP_MAX_BYTES / bs);	/* MAXIMUM UNMAP LBA COUNT */
		put_be32(p + 24, SCSI_UNMAP_MAX_DESC);	/* ... BLOCK DESCRIPTOR COUNT */
		put_be32(p + 28, 1u << lu->phys_exp);	/* OPTIMAL UNMAP GRANULARITY */
		p[32] = 0x80;				/* UGAVALID, alignment 0 */
	}
	put_be64(p + 36, SCSI_WS_MAX_BYTES / bs);	/* MAXIMUM WRITE SAME LENGTH */
	return 64;
}

/* Logical Block Provisioning (SBC-3): thin where the image can unmap. */
static unsigned vpd_provisioning(const struct scsi_lun *lu, uint8_t *p)
{
	if (lu->can_unmap) {
		p[5] = 0xe4;	/* LBPU, LBPWS, LBPWS10, LBPRZ; no ANC_SUP, no DP */
		p[6] = 0x02;	/* PROVISIONING TYPE: thin */
	}
	return 8;
}

static enum scsi_action vpd(struct scsi_lun *lu, struct scsi_cmd *c, uint16_t alloc)
{
	uint8_t buf[64];	/* the longest page: Block Limits */
	unsigned page = c->cdb[2], n;
	const char *s;

	memset(buf, 0, sizeof(buf));
	buf[0] = lu ? PDT_DISK : PDT_NO_LUN;
	buf[1] = page;
	if (!lu && page != 0x00)
		return scsi_bad_cdb(c, 2, -1);
	switch (page) {
	case 0x00:	/* Supported VPD Pages */
		n = lu ? sizeof(vpd_pages) : 1;
		memcpy(buf + 4, vpd_pages, n);
		n += 4;
		break;
	case 0x80:	/* Unit Serial Number */
		n = serial_of(lu, &s);
		memcpy(buf + 4, s, n);
		n += 4;
		break;
	case 0x83:
		n = vpd_devid(lu, buf);
		break;
	case 0xb0:
		n = vpd_block_limits(lu, buf);
		break;
	case 0xb1:	/* Block Device Characteristics */
		put_be16(buf + 4, 0x0001);	/* MEDIUM ROTATION RATE: non-rotating */
		n = 64;
		break;
	case 0xb2:
		n = vpd_provisioning(lu, buf);
		break;
	default:
		return scsi_bad_cdb(c, 2, -1);
	}
	put_be16(buf + 2, n - 4);		/* PAGE LENGTH */
	return scsi_reply(c, buf, n, alloc);
}

/* INQUIRY (SPC-4). lu NULL: a LUN the target does not have. */
enum scsi_action scsi_cmd_inquiry(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint16_t alloc = get_be16(c->cdb + 3);
	uint8_t buf[STD_INQUIRY_LEN];

	if (c->cdb[1] & 0x02)			/* CMDDT (obsolete): no command data */
		return scsi_bad_cdb(c, 1, 1);
	if (c->cdb[1] & 0x01)			/* EVPD */
		return vpd(lu, c, alloc);
	if (c->cdb[2])				/* a PAGE CODE needs EVPD */
		return scsi_bad_cdb(c, 2, -1);
	return scsi_reply(c, buf, std_inquiry(lu ? PDT_DISK : PDT_NO_LUN, buf), alloc);
}

/* ---- READ CAPACITY ---- */

/* The obsolete PMI bit set to zero requires the LBA field to be zero. */
static bool pmi_ok(const uint8_t *cdb, uint64_t lba, unsigned pmi_byte)
{
	return (cdb[pmi_byte] & 0x01) || lba == 0;
}

enum scsi_action scsi_cmd_read_capacity10(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint64_t last = lu->nblocks - 1;
	uint8_t buf[8];

	if (!pmi_ok(c->cdb, get_be32(c->cdb + 2), 8))
		return scsi_bad_cdb(c, 2, -1);
	/* RETURNED LOGICAL BLOCK ADDRESS: FFFF_FFFFh when it does not fit,
	 * telling the initiator to use READ CAPACITY (16). */
	put_be32(buf, last >= 0xffffffffULL ? 0xffffffffU : (uint32_t)last);
	put_be32(buf + 4, lu->block_size);
	return scsi_reply(c, buf, sizeof(buf), sizeof(buf));
}

enum scsi_action scsi_cmd_read_capacity16(struct scsi_lun *lu, struct scsi_cmd *c)
{
	uint8_t buf[32];

	if (!pmi_ok(c->cdb, get_be64(c->cdb + 2), 14))
		return scsi_bad_cdb(c, 2, -1);
	memset(buf, 0, sizeof(buf));
	put_be64(buf, lu->nblocks - 1);		/* RETURNED LOGICAL BLOCK ADDRESS */
	put_be32(buf + 8, lu->block_size);	/* LOGICAL BLOCK LENGTH IN BYTES */
	buf[13] = lu->phys_exp;			/* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT */
	if (lu->can_unmap)
		buf[14] = 0xc0;			/* LBPME, LBPRZ; LOWEST ALIGNED LBA 0 */
	return scsi_reply(c, buf, sizeof(buf), get_be32(c->cdb + 10));
}

/* ---- mode pages ---- */

enum { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

#define CACHING_LEN	20
#define CONTROL_LEN	12
#define MODE_PAGE_MAX	CACHING_LEN

/* Caching (SBC-3): only WCE means anything here, and only it changes. */
static unsigned caching_page(const struct scsi_lun *lu, unsigned pc, uint8_t *p)
{
	memset(p, 0, CACHING_LEN);
	p[0] = 0x08;			/* PS 0, SPF 0, PAGE CODE */
	p[1] = CACHING_LEN - 2;		/* PAGE LENGTH */
	if (pc != PC_CURRENT || atomic_load(&lu->wce))
		p[2] = 0x04;		/* WCE (changeable; default 1) */
	return CACHING_LEN;
}

/* Control (SPC-4): nothing changeable. One task set, commands reordered
 * freely (QUEUE ALGORITHM MODIFIER 1), fixed-format sense (D_SENSE 0), no
 * log parameters to save (GLTSD 1). */
static unsigned control_page(unsigned pc, uint8_t *p)
{
	memset(p, 0, CONTROL_LEN);
	p[0] = 0x0a;
	p[1] = CONTROL_LEN - 2;
	if (pc != PC_CHANGEABLE) {
		p[2] = 0x02;		/* GLTSD */
		p[3] = 0x10;		/* QUEUE ALGORITHM MODIFIER 1h */
	}
	return CONTROL_LEN;
}

static unsigned mode_page(const struct scsi_lun *lu, unsigned page, unsigned pc, uint8_t *p)
{
	return page == 0x08 ? caching_page(lu, pc, p) : control_page(pc, p);
}

/* MODE SENSE (6) and (10) (SPC-4). The header and block descriptor carry
 * current values whatever PC asks (SPC-4: PC applies to the pages). */
enum scsi_action scsi_cmd_mode_sense(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool ten = c->cdb[0] == 0x5a, dbd = c->cdb[1] & 0x08;
	bool llbaa = ten && (c->cdb[1] & 0x10);
	unsigned pc = c->cdb[2] >> 6, page = c->cdb[2] & 0x3f, sub = c->cdb[3];
	uint16_t alloc = ten ? get_be16(c->cdb + 7) : c->cdb[4];
	unsigned hdr = ten ? 8 : 4, n = hdr, bd = 0;
	uint8_t buf[8 + 16 + CACHING_LEN + CONTROL_LEN];
	uint8_t dev_spec = 0x10;		/* DPOFUA: DPO and FUA are honoured */

	if (pc == PC_SAVED)
		return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
	if (page != 0x08 && page != 0x0a && page != 0x3f)
		return scsi_bad_cdb(c, 2, 5);
	/* Subpage 00h, or FFh (every subpage: a page without any is itself). */
	if (sub != 0x00 && sub != 0xff)
		return scsi_bad_cdb(c, 3, -1);
	if (lu->readonly)
		dev_spec |= 0x80;		/* WP */
	memset(buf, 0, sizeof(buf));
	if (!dbd && llbaa) {
		bd = 16;			/* long LBA block descriptor */
		put_be64(buf + n, lu->nblocks);
		put_be32(buf + n + 12, lu->block_size);
	} else if (!dbd) {
		bd = 8;				/* short LBA block descriptor */
		put_be32(buf + n, lu->nblocks > 0xffffffffULL ? 0xffffffffU
							       : (uint32_t)lu->nblocks);
		put_be24(buf + n + 5, lu->block_size);
	}
	n += bd;
	if (page == 0x08 || page == 0x3f)
		n += mode_page(lu, 0x08, pc, buf + n);
	if (page == 0x0a || page == 0x3f)
		n += mode_page(lu, 0x0a, pc, buf + n);
	if (ten) {
		put_be16(buf, n - 2);		/* MODE DATA LENGTH */
		buf[3] = dev_spec;
		buf[4] = bd == 16 ? 0x01 : 0;	/* LONGLBA */
		put_be16(buf + 6, bd);		/* BLOCK DESCRIPTOR LENGTH */
	} else {
		buf[0] = n - 1;
		buf[2] = dev_spec;
		buf[3] = bd;
	}
	return scsi_reply(c, buf, n, alloc);
}

static enum scsi_action param_len_error(struct scsi_cmd *c)
{
	return scsi_check(c, SCSI_SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
}

/* Highest set bit of a non-zero byte. */
static int top_bit(uint8_t v)
{
	int b = 7;

	while (!(v & (1u << b)))
		b--;
	return b;
}

/*
 * Check one mode page of a MODE SELECT list at parameter offset off (which
 * holds its first two bytes, p[0] and p[1]): it must be a page MODE SENSE
 * reports, at its length, changing only what MODE SENSE reports as
 * changeable. On success *wce is what it asks for WCE (if a caching page)
 * and *len_out the page's length.
 */
static enum scsi_action check_page(struct scsi_lun *lu, struct scsi_cmd *c, unsigned off,
				   unsigned plen, bool *wce, unsigned *len_out)
{
	uint8_t p[MODE_PAGE_MAX], cur[MODE_PAGE_MAX], chg[MODE_PAGE_MAX];
	unsigned page, len;

	virtq_iov_read(c->out, c->nout, off, p, 2);
	page = p[0] & 0x3f;
	if (p[0] & 0x40)			/* SPF: no subpages here */
		return scsi_bad_param(c, off, 6);
	if (page != 0x08 && page != 0x0a)
		return scsi_bad_param(c, off, 5);
	len = mode_page(lu, page, PC_CURRENT, cur);
	mode_page(lu, page, PC_CHANGEABLE, chg);
	if (p[1] != len - 2)
		return scsi_bad_param(c, off + 1, -1);
	if (off + len > plen)
		return param_len_error(c);
	virtq_iov_read(c->out, c->nout, off, p, len);
	/* PS is reserved in MODE SELECT: compare from byte 2 on. */
	for (unsigned i = 2; i < len; i++) {
		uint8_t diff = (p[i] ^ cur[i]) & ~chg[i];

		if (diff)
			return scsi_bad_param(c, off + i, top_bit(diff));
	}
	if (page == 0x08)
		*wce = p[2] & 0x04;
	*len_out = len;
	return SCSI_DONE;
}

/*
 * MODE SELECT (6) and (10) (SPC-4). The whole list is checked before
 * anything changes. Clearing WCE makes the cache write-through from then
 * on, so what it holds is flushed before the command completes.
 */
enum scsi_action scsi_cmd_mode_select(struct scsi_lun *lu, struct scsi_cmd *c)
{
	bool ten = c->cdb[0] == 0x55, old = atomic_load(&lu->wce), wce = old;
	unsigned plen = ten ? get_be16(c->cdb + 7) : c->cdb[4];
	unsigned hdr = ten ? 8 : 4, bd, off, len = 0;
	uint8_t h[8], d[16];

	if (c->cdb[1] & 0x01)			/* SP: no saved pages */
		return scsi_bad_cdb(c, 1, 0);
	if (!plen)
		return SCSI_DONE;
	if (!(c->cdb[1] & 0x10))		/* PF: only the standard page format */
		return scsi_bad_cdb(c, 1, 4);
	if (plen > c->out_len)
		return SCSI_OVERRUN;
	if (plen < hdr)
		return param_len_error(c);
	virtq_iov_read(c->out, c->nout, 0, h, hdr);
	/* MODE DATA LENGTH is reserved here and the device-specific
	 * parameter (WP, DPOFUA) is ignored; MEDIUM TYPE must stay 0. */
	if (h[ten ? 2 : 1])
		return scsi_bad_param(c, ten ? 2 : 1, -1);
	bd = ten ? get_be16(h + 6) : h[3];
	if (bd != 0 && bd != (ten && (h[4] & 0x01) ? 16u : 8u))
		return scsi_bad_param(c, ten ? 6 : 3, -1);
	if (hdr + bd > plen)
		return param_len_error(c);
	if (bd) {
		/* The block size cannot change; the block count is ignored,
		 * as SBC-3 says where the capacity cannot change either. */
		unsigned at = bd == 16 ? 12 : 5;
		uint32_t bl;

		virtq_iov_read(c->out, c->nout, hdr, d, bd);
		bl = bd == 16 ? get_be32(d + 12) : get_be24(d + 5);
		if (bl != lu->block_size)
			return scsi_bad_param(c, hdr + at, -1);
	}
	for (off = hdr + bd; off < plen; off += len) {
		enum scsi_action a;

		if (plen - off < 2)
			return param_len_error(c);
		a = check_page(lu, c, off, plen, &wce, &len);
		if (c->status != SCSI_GOOD)
			return a;
	}
	c->xferred = plen;
	atomic_store(&lu->wce, wce);
	if (old && !wce)
		return scsi_flush_step(c);
	return SCSI_DONE;
}
