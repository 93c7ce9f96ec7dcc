// SPDX-License-Identifier: Apache-2.0
/*
 * mode=hostile, the valid requests (see hostile.h): a verified write and
 * read on a virtio-blk disk (the well-behaved one, or an attacked one's
 * second half, which no attack writes), INQUIRY and a verified WRITE (10)
 * / READ (10) on LUN 0 of target 0 of a virtio-scsi controller, a frame
 * transmitted by a virtio-net NIC. Each wait is bounded.
 */
#include "hostile.h"
#include "console.h"
#include "time.h"

#define SCSI_TRIES	4		/* unit attentions after resets */
#define RENOTIFY_US	1000000		/* a request unanswered this long is notified again */

static u8 status(struct hdev *h)
{
	return mmio_read8(h->v->common + HC_STATUS);
}

/* One blk request on queue 0, waited for at most us: status, -1 timeout. */
static int blk_req(struct hdev *h, u32 type, u64 sector, void *buf, u32 len, u64 us)
{
	struct virtq *q = &h->u.blk.v.vq[0];
	struct blk_io *io = h->bio;
	u64 end = time_us() + us;

	if (blk_submit(&h->u.blk, 0, io, type, sector, buf, len, 1, 0) < 0)
		return -3;
	vq_kick(q);
	while (!io->vq.done) {
		u64 now = time_us();

		if (now > end)
			return -1;
		if (vq_wait(q, MIN(end - now, (u64)RENOTIFY_US)) == -1) {
			/* Nothing for a second: notify again, unasked, and count
			 * it (a lost notification, or a device that stalled). */
			if (time_us() < end) {
				mmio_write16(q->notify, q->index);
				h->st.renotify++;
			}
			continue;
		}
		blk_reap(&h->u.blk, 0);
	}
	return *(volatile u8 *)io->status_at;
}

static void pattern(u8 *buf, u64 key, u32 len)
{
	for (u32 i = 0; i < len / 8; i++)
		((u64 *)buf)[i] = disk_mix(key + i);
}

/* Write then read back len bytes at sector (read twice if read-only). */
bool hblk_verify(struct hdev *h, u64 sector, u32 len, u64 key, u64 us, char *why)
{
	int st;

	if (!h->u.blk.ro) {
		pattern(h->buf, key, len);
		if ((st = blk_req(h, VIRTIO_BLK_T_OUT, sector, h->buf, len, us)) != VIRTIO_BLK_S_OK)
			fail("write of sector %lu: %s", sector, blk_status_name(st));
	}
	memset(h->buf2, 0xa5, len);
	if ((st = blk_req(h, VIRTIO_BLK_T_IN, sector, h->buf2, len, us)) != VIRTIO_BLK_S_OK)
		fail("read of sector %lu: %s", sector, blk_status_name(st));
	if (h->u.blk.ro) {
		memcpy(h->buf, h->buf2, len);
		if ((st = blk_req(h, VIRTIO_BLK_T_IN, sector, h->buf2, len, us)) != VIRTIO_BLK_S_OK)
			fail("second read of sector %lu: %s", sector, blk_status_name(st));
	}
	if (memcmp(h->buf, h->buf2, len))
		fail("sector %lu read back other data than %s", sector,
		     h->u.blk.ro ? "the read before" : "was written");
	return true;
}

/* One SCSI command to target 0 LUN 0, retried over unit attentions and
 * BUSY: 0 GOOD, else -1 (why says). */
static int scsi_cmd(struct hdev *h, const u8 *cdb, enum vscsi_dir dir, void *buf, u32 len, u64 us,
		    char *why)
{
	struct vscsi_cmd *c = h->cmd;
	struct virtq *q = vscsi_reqq(&h->u.scsi, 0);
	u8 lun[8];

	vscsi_lun(lun, 0, 0);
	for (unsigned t = 0; t < SCSI_TRIES; t++) {
		u64 end = time_us() + us;
		int st;

		if (vscsi_submit(&h->u.scsi, 0, c, lun, cdb, 10, dir, buf, len, len ? 1 : 0, 0) < 0) {
			snprintf(why, WHY_LEN, "could not be queued");
			return -1;
		}
		vq_kick(q);
		while (!c->vq.done) {
			u64 now = time_us();

			if (now > end || vq_wait(q, end - now) == -1) {
				snprintf(why, WHY_LEN, "opcode 0x%02x: no answer", cdb[0]);
				return -1;
			}
			vscsi_reap(&h->u.scsi, 0);
		}
		if (c->resp_at->response != VSCSI_S_OK) {
			snprintf(why, WHY_LEN, "opcode 0x%02x: response %s", cdb[0],
				 vscsi_response_name(c->resp_at->response));
			return -1;
		}
		st = c->resp_at->status;
		if (st == SCSI_GOOD)
			return 0;
		snprintf(why, WHY_LEN, "opcode 0x%02x: status 0x%02x sense key %x", cdb[0], st,
			 c->resp_at->sense_len > 2 ? c->resp_at->sense[2] & 0xf : 0xff);
		if (st != SCSI_CHECK_CONDITION && st != SCSI_BUSY)
			return -1;
	}
	return -1;
}

static bool scsi_check(struct hdev *h, u64 us, char *why)
{
	u8 inq[10] = { 0x12, 0, 0, 0, 96 }, cap[10] = { 0x25 }, rw[10] = { 0 };
	char w[WHY_LEN];
	u32 blocks, bs, lba;
	u64 key = hrand();

	if (scsi_cmd(h, inq, VSCSI_IN, h->buf2, 96, us, w))
		fail("INQUIRY: %s", w);
	if ((h->buf2[0] & 0x1f) != 0)
		return true;		/* not a disk: answering is all we ask */
	if (scsi_cmd(h, cap, VSCSI_IN, h->buf2, 8, us, w))
		fail("READ CAPACITY (10): %s", w);
	blocks = (u32)h->buf2[0] << 24 | h->buf2[1] << 16 | h->buf2[2] << 8 | h->buf2[3];
	bs = (u32)h->buf2[4] << 24 | h->buf2[5] << 16 | h->buf2[6] << 8 | h->buf2[7];
	if (bs < 512 || bs > 4096 || blocks < 32)
		return true;		/* nothing we can write safely */
	h->sectors = (u64)blocks + 1;
	h->block = bs;
	/* The second half: attacks write only the first. */
	lba = blocks / 2 + 1 + hrand_below(blocks / 2 - 2);
	rw[2] = lba >> 24, rw[3] = lba >> 16, rw[4] = lba >> 8, rw[5] = lba, rw[8] = 1;
	pattern(h->buf, key, bs);
	rw[0] = 0x2a;
	if (scsi_cmd(h, rw, VSCSI_OUT, h->buf, bs, us, w))
		fail("WRITE (10) of block %u: %s", lba, w);
	memset(h->buf2, 0xa5, bs);
	rw[0] = 0x28;
	if (scsi_cmd(h, rw, VSCSI_IN, h->buf2, bs, us, w))
		fail("READ (10) of block %u: %s", lba, w);
	if (memcmp(h->buf, h->buf2, bs))
		fail("block %u read back other data than was written", lba);
	return true;
}

static bool net_check(struct hdev *h, u64 us, char *why)
{
	struct net_pair *p = &h->u.net.pair[0];
	u8 *f = p->ntxfree ? net_tx_alloc(p) : NULL;

	if (!f)
		fail("no free transmit buffer");
	memset(f, 0xff, 6);
	memcpy(f + 6, h->u.net.mac, 6);
	f[12] = 0x88, f[13] = 0xb5;
	pattern(f + 14, hrand(), 48);
	net_tx_send(p, f, 62, 0, 0);
	if (!net_tx_drain(p, us))
		fail("a frame was not transmitted in %lu ms", us / 1000);
	return true;
}

/* A correct request; then the device must not want a reset. */
bool hdev_check(struct hdev *h, u64 us, char *why)
{
	bool ok = false;

	switch (h->kind) {
	case HK_BLK: {
		u64 half = h->sectors / 2;

		if (half < 2 * HOSTILE_SECTORS)
			fail("disk of %lu sectors is too small", h->sectors);
		ok = hblk_verify(h, h->good ? hrand_below(h->sectors - HOSTILE_SECTORS)
					   : half + hrand_below(half - HOSTILE_SECTORS),
				HOSTILE_SECTORS * SECTOR_SIZE, hrand(), us, why);
		break;
	}
	case HK_SCSI: ok = scsi_check(h, us, why); break;
	case HK_NET: ok = net_check(h, us, why); break;
	}
	if (ok && (status(h) & VIRTIO_S_NEEDS_RESET))
		fail("DEVICE_NEEDS_RESET after a valid request");
	return ok;
}
