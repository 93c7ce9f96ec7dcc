// SPDX-License-Identifier: Apache-2.0
/*
 * disk.h on virtio-scsi (virtio_scsi.h): LUN 0 of target 0 of the first
 * controller. Each request is one command: READ (10) / WRITE (10) (16 where
 * the LBA or length needs it) or SYNCHRONIZE CACHE (10), header, data and
 * response in three descriptors (two with layout=merged) when `depth` such
 * chains fit in the ring, else through an indirect table each.
 *
 * Completions wait as scsi_wait says, else as blk_wait does (what the bench
 * harness passes), else by interrupt.
 */
#include "disk_virtio.h"
#include "console.h"
#include "virtio_scsi.h"

static struct vscsi sc;
static struct disk_virtio dv;
static u8 lun0[8];
static u32 bs;			/* logical block size */
static char product[40];

/* READ / WRITE (10), or (16) beyond what (10) can address. */
static unsigned rw_cdb(u8 *c, bool write, u64 lba, u32 n)
{
	memset(c, 0, 16);
	if (lba <= 0xffffffffULL && n <= 0xffff) {
		c[0] = write ? 0x2a : 0x28;
		put32(c + 2, lba);
		put16(c + 7, n);
		return 10;
	}
	c[0] = write ? 0x8a : 0x88;
	put64(c + 2, lba);
	put32(c + 10, n);
	return 16;
}

static bool submit(struct disk *d, unsigned q, struct disk_req *r)
{
	u8 cdb[16] = { 0x35 };		/* SYNCHRONIZE CACHE (10), the whole disk */
	unsigned len = 10, flags = dv.indirect ? VSCSI_INDIRECT : 0;

	(void)d;
	if (r->op == DISK_FLUSH)
		return !vscsi_submit(&sc, q, r->drv, lun0, cdb, len, VSCSI_NONE, NULL, 0, 0, flags);
	len = rw_cdb(cdb, r->op == DISK_WRITE, r->offset / bs, r->len / bs);
	return !vscsi_submit(&sc, q, r->drv, lun0, cdb, len,
			     r->op == DISK_WRITE ? VSCSI_OUT : VSCSI_IN, r->buf, r->len, 1, flags);
}

/* The status code of disk.h: the SCSI status, or 0x100 + the virtio
 * response when that is not OK. */
static struct disk_req *complete(struct disk *d, unsigned q)
{
	struct disk_req *r = disk_virtio_used(d, q);
	volatile struct vscsi_resp *resp;

	if (!r)
		return NULL;
	resp = ((struct vscsi_cmd *)r->drv)->resp_at;
	r->status = resp->response != VSCSI_S_OK ? 0x100 | resp->response : resp->status;
	/* QEMU counts data-out in the used length: not a failure here. */
	r->ok = r->status == SCSI_GOOD && !resp->residual;
	return r;
}

static void describe(struct disk *d, const char *prefix)
{
	struct virtq *q = vscsi_reqq(&sc, 0);

	printf("%svirtio-scsi at %02x:%02x.%x: target 0 LUN 0 '%s', %lu MiB (%lu blocks of %u), "
	       "serial '%s', %s%s\n", prefix, sc.v.bus, sc.v.dev, sc.v.fn, product, d->size >> 20,
	       d->size / bs, bs, d->serial, d->ro ? "read-only" : "read-write",
	       d->flush ? ", write cache on" : "");
	printf("%s%u request queue%s of %u (device has %u), features 0x%lx: EVENT_IDX %s, "
	       "INDIRECT_DESC %s\n", prefix, sc.nreq, sc.nreq == 1 ? "" : "s", q->size,
	       sc.cfg.num_queues, sc.v.features, sc.event_idx ? "on" : "off",
	       sc.indirect ? "on" : "off");
	disk_virtio_describe(d, prefix);
}

static const char *status_name(int st)
{
	static char s[48];

	if (st & 0x100)
		return vscsi_response_name(st & 0xff);
	snprintf(s, sizeof(s), st == SCSI_CHECK_CONDITION ? "CHECK CONDITION" :
		 st == SCSI_BUSY ? "BUSY" : st ? "SCSI status %02xh" : "GOOD", st);
	return s;
}

/* One command on queue 0, waited for; the SCSI status or -1. */
static int one(const u8 *cdb, unsigned len, void *buf, u32 n)
{
	static struct vscsi_cmd *c;

	if (!c && !(c = vscsi_cmd_alloc()))
		return -1;
	if (vscsi_do(&sc, 0, c, lun0, cdb, len, n ? VSCSI_IN : VSCSI_NONE, buf, n, 1, 0) !=
	    VSCSI_S_OK)
		return -1;
	return c->resp_at->status;
}

/* Ready the LUN (a reset may leave a unit attention) and learn its size,
 * serial, write cache and write protection. */
static bool learn(struct disk *d, char *why, size_t whylen)
{
	static const u8 tur[6], inq[6] = { 0x12, 0, 0, 0, 96 }, serial[6] = { 0x12, 1, 0x80, 0, 64 };
	static const u8 cap16[16] = { 0x9e, 0x10, [13] = 32 }, sense[6] = { 0x1a, 0x08, 0x08, 0, 64 };
	u8 *b = dma_alloc(PAGE_SIZE + VSCSI_FRONT, PAGE_SIZE);
	int st = -1;

	if (!b) {
		snprintf(why, whylen, "out of DMA memory");
		return false;
	}
	b += VSCSI_FRONT;	/* room for a merged response */
	vscsi_lun(lun0, 0, 0);
	/* merged: the header in front of write data, the response in front
	 * of read data. */
	d->buf_guard = dv.o.merged ? VSCSI_FRONT : 0;
	for (int i = 0; i < 8 && (st = one(tur, 6, NULL, 0)) == SCSI_CHECK_CONDITION; i++)
		;
	if (st != SCSI_GOOD) {
		snprintf(why, whylen, "target 0 LUN 0: TEST UNIT READY: %s", st < 0 ? "no answer" :
			 status_name(st));
		return false;
	}
	if (one(inq, 6, b, 96) == SCSI_GOOD) {
		memcpy(product, b + 8, 24);
		product[24] = 0;
	}
	if (one(cap16, 16, b, 32) != SCSI_GOOD) {
		snprintf(why, whylen, "target 0 LUN 0: READ CAPACITY (16) failed");
		return false;
	}
	bs = be32(b + 8);
	d->size = (be64(b) + 1) * bs;
	if (bs < 512 || bs > 4096 || (bs & (bs - 1))) {
		snprintf(why, whylen, "target 0 LUN 0: %u-byte blocks", bs);
		return false;
	}
	if (one(serial, 6, b, 64) == SCSI_GOOD)
		memcpy(d->serial, b + 4, MIN((unsigned)b[3], (unsigned)sizeof(d->serial) - 1));
	if (one(sense, 6, b, 64) == SCSI_GOOD) {
		d->ro = b[2] & 0x80;
		d->flush = (b[4 + b[3]] & 0x3f) == 0x08 && (b[4 + b[3] + 2] & 0x04);
	}
	return true;
}

static int probe(char *why, size_t whylen)
{
	return vscsi_probe(&sc, why, whylen);
}

static bool start(const struct virtio_opts *o, char *why, size_t whylen)
{
	return vscsi_init(&sc, o, why, whylen);
}

static const struct disk_virtio_drv scsi_drv = {
	.ops = { .iface = "scsi", .submit = submit, .complete = complete, .describe = describe,
		 .status_name = status_name },
	.wait_key = "scsi_wait",
	.dev = &sc.v,
	.q0 = VSCSI_REQ_Q0,
	.nq = &sc.nreq,
	.probe = probe,
	.start = start,
	.req_size = sizeof(struct vscsi_cmd),
	.learn = learn,
};

int disk_scsi_open(struct disk *d, unsigned depth, char *why, size_t whylen)
{
	return disk_virtio_open(d, &dv, &scsi_drv, depth, why, whylen);
}
