// SPDX-License-Identifier: Apache-2.0
/* virtio-blk: see blk.h. */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/vq_runner.h"
#include "vmm/dirty.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define SECTOR		512ULL
#define HDR_LEN		16
#define SEG_LEN		16

/* One request slot; its vqr_req's io_op is what the backend completes. */
struct blk_req {
	struct vqr_req r;
	uint8_t *status;		/* the chain's last writable byte */
	uint32_t used_len;		/* reported in the used ring */
	uint64_t xfer;			/* bytes an IN/OUT must move */
	uint64_t sector;		/* for messages */
	uint32_t type;			/* as the guest wrote it */
	uint8_t sink;			/* status of a chain that has none */
	uint16_t seg, nseg;		/* discard / write-zeroes progress */
	unsigned nout;			/* readable iovecs (segments are read there) */
	struct iovec *data;		/* the data part of iov */
	unsigned ndata;
	struct iovec iov[VIRTIO_BLK_IOV_MAX];
};

struct virtio_blk {
	struct device dev;
	struct virtio_pci *t;
	struct disk *disk;
	const struct blk_io_ops *io;
	uint64_t features;
	uint8_t config[VIRTIO_BLK_CONFIG_LEN];
	unsigned nq;
	struct vq_runner *r;		/* the queues */
};

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

const struct blk_io_ops virtio_blk_io_default = {
	.readv = disk_prep_readv,
	.writev = disk_prep_writev,
	.flush = disk_prep_flush,
	.discard = disk_prep_discard,
	.write_zeroes = disk_prep_write_zeroes,
	.null_fill = disk_null_fill,
	.watch_eventfd = iothread_watch_eventfd,
	.add_batch_hook = iothread_add_batch_hook,
	.add_idle_hook = iothread_add_idle_hook,
	.polling = iothread_polling,
};

static void blk_warn(struct virtio_blk *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void blk_warn(struct virtio_blk *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vqr_vwarn(b->r, fmt, ap);
	va_end(ap);
}

static bool has(const struct virtio_blk *b, unsigned bit)
{
	return virtio_pci_features(b->t) & (1ULL << bit);
}

static struct virtio_blk *dev_of(const struct blk_req *req)
{
	return req->r.q->dev;
}

/* ---- completion ---- */

static void finish(struct blk_req *req, uint8_t status)
{
	*req->status = status;
	/* What the device wrote, for a migration in progress: data read
	 * from the disk and the status byte. */
	if (req->type == VIRTIO_BLK_T_IN)
		dirty_mark_iov(req->data, req->ndata);
	dirty_mark(req->status, 1);
	vqr_complete(&req->r, req->used_len);
}

static void start_segment(struct blk_req *req);

static void req_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct blk_req *req = (struct blk_req *)op;

	(void)cqe_flags;
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (res < 0 || (uint64_t)res != req->xfer) {
			blk_warn(dev_of(req), "%s at sector %llu: %s", req->type ? "write" : "read",
				 (unsigned long long)req->sector, res < 0 ? strerror(-res) : "short");
			finish(req, VIRTIO_BLK_S_IOERR);
		} else {
			finish(req, VIRTIO_BLK_S_OK);
		}
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (res < 0) {
			finish(req, VIRTIO_BLK_S_IOERR);
		} else if (++req->seg < req->nseg) {
			start_segment(req);
		} else {
			finish(req, VIRTIO_BLK_S_OK);
		}
		break;
	default:	/* FLUSH */
		finish(req, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		break;
	}
}

/* A prep call's result: queued (0), done at once by the null backend (1),
 * or refused (< 0). */
static void submitted(struct blk_req *req, int r, int done_res)
{
	if (r == 1) {
		if (req->type == VIRTIO_BLK_T_IN)
			dev_of(req)->io->null_fill(req->data, req->ndata);
		req_done(&req->r.op, done_res, 0);
	} else if (r == -EOPNOTSUPP) {
		finish(req, VIRTIO_BLK_S_UNSUPP);
	} else if (r < 0) {
		blk_warn(dev_of(req), "cannot queue request type %u: %s", req->type, strerror(-r));
		finish(req, VIRTIO_BLK_S_IOERR);
	}
}

/* ---- requests ---- */

/* [sector * 512, + len) inside the disk, without overflow. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t len)
{
	uint64_t size = b->disk->size;

	return sector <= size / SECTOR && len <= size - sector * SECTOR;
}

/* Read segment i of a discard / write-zeroes request and check it
 * (5.2.6.2): UNSUPP for flags we do not know and for unmap on discard,
 * IOERR for ranges outside the disk or above the advertised maximum. */
static uint8_t read_segment(struct blk_req *req, unsigned i, struct blk_seg *s)
{
	struct virtio_blk *b = dev_of(req);
	uint32_t allowed = req->type == VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_DWZ_F_UNMAP : 0;

	if (virtq_iov_read(req->iov, req->nout, HDR_LEN + SEG_LEN * i, s, SEG_LEN) != SEG_LEN)
		return VIRTIO_BLK_S_IOERR;
	s->sector = le64toh(s->sector);
	s->num_sectors = le32toh(s->num_sectors);
	s->flags = le32toh(s->flags);
	if (s->flags & ~allowed)
		return VIRTIO_BLK_S_UNSUPP;
	if (s->num_sectors > VIRTIO_BLK_DWZ_SECTORS_MAX ||
	    !in_range(b, s->sector, s->num_sectors * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static void start_segment(struct blk_req *req)
{
	struct vqr_queue *q = req->r.q;
	struct virtio_blk *b = q->dev;
	struct blk_seg s;
	uint8_t st;
	int r;

	/* Read again: the guest may have changed it since it was checked. */
	st = read_segment(req, req->seg, &s);
	if (st != VIRTIO_BLK_S_OK) {
		finish(req, st);
		return;
	}
	if (!s.num_sectors) {
		req_done(&req->r.op, 0, 0);
		return;
	}
	if (req->type == VIRTIO_BLK_T_DISCARD)
		r = b->io->discard(b->disk, q->thread, s.sector * SECTOR, s.num_sectors * SECTOR,
				   &req->r.op);
	else
		r = b->io->write_zeroes(b->disk, q->thread, s.sector * SECTOR,
					s.num_sectors * SECTOR, &req->r.op);
	submitted(req, r, 0);
}

static void do_dwz(struct blk_req *req, uint32_t out_len)
{
	struct virtio_blk *b = dev_of(req);
	unsigned feature = req->type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD
							     : VIRTIO_BLK_F_WRITE_ZEROES;
	uint32_t payload = out_len - HDR_LEN;
	struct blk_seg s;

	if (!has(b, feature)) {
		finish(req, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (b->disk->readonly || !payload || payload % SEG_LEN ||
	    payload / SEG_LEN > VIRTIO_BLK_DWZ_SEG_MAX) {
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	req->nseg = payload / SEG_LEN;
	/* Check every segment before touching the disk: a bad one fails the
	 * request without a partial effect. */
	for (unsigned i = 0; i < req->nseg; i++) {
		uint8_t st = read_segment(req, i, &s);

		if (st != VIRTIO_BLK_S_OK) {
			finish(req, st);
			return;
		}
	}
	req->seg = 0;
	start_segment(req);
}

/* Point req->data at the readable iovecs after the header. */
static void skip_header(struct blk_req *req)
{
	size_t skip = HDR_LEN;
	unsigned i = 0;

	while (i < req->nout && skip >= req->iov[i].iov_len)
		skip -= req->iov[i++].iov_len;
	if (i < req->nout) {
		req->iov[i].iov_base = (uint8_t *)req->iov[i].iov_base + skip;
		req->iov[i].iov_len -= skip;
	}
	req->data = &req->iov[i];
	req->ndata = req->nout - i;
}

static void start_request(struct vqr_queue *q, struct vqr_req *slot, const struct virtq_chain *c)
{
	struct blk_req *req = (struct blk_req *)slot;
	struct virtio_blk *b = q->dev;
	struct iovec *last;
	struct blk_hdr h;
	uint64_t sector;
	unsigned nin = c->nin;
	int r;

	req->nout = c->nout;
	if (!nin) {
		/* Nowhere to put a status: give the chain back empty. */
		blk_warn(b, "queue %u: request without a status byte", q->idx);
		req->status = &req->sink;
		req->used_len = 0;
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	/* The status byte is the chain's last byte; the data part loses it. */
	last = &req->iov[c->nout + nin - 1];
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	req->used_len = c->in_len;
	if (--last->iov_len == 0)
		nin--;
	if (c->out_len < HDR_LEN || virtq_iov_read(req->iov, c->nout, 0, &h, HDR_LEN) != HDR_LEN) {
		finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	req->type = le32toh(h.type);
	sector = le64toh(h.sector);
	req->sector = sector;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (req->type == VIRTIO_BLK_T_IN) {
			req->data = &req->iov[c->nout];
			req->ndata = nin;
			req->xfer = c->in_len - 1;
		} else {
			skip_header(req);
			req->xfer = c->out_len - HDR_LEN;
		}
		/* Data on the wrong side (a read into device-readable buffers,
		 * a write from device-writable ones) is a malformed request. */
		if ((req->type == VIRTIO_BLK_T_IN && c->out_len > HDR_LEN) ||
		    (req->type == VIRTIO_BLK_T_OUT && c->in_len > 1) ||
		    (req->type == VIRTIO_BLK_T_OUT && b->disk->readonly) ||
		    req->xfer % SECTOR || req->xfer > 0x7fffffff || !in_range(b, sector, req->xfer)) {
			finish(req, VIRTIO_BLK_S_IOERR);
		} else if (!req->xfer) {
			finish(req, VIRTIO_BLK_S_OK);
		} else if (req->type == VIRTIO_BLK_T_IN) {
			r = b->io->readv(b->disk, q->thread, req->data, req->ndata,
					 sector * SECTOR, &req->r.op);
			submitted(req, r, (int)req->xfer);
		} else {
			r = b->io->writev(b->disk, q->thread, req->data, req->ndata,
					  sector * SECTOR, &req->r.op);
			submitted(req, r, (int)req->xfer);
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!has(b, VIRTIO_BLK_F_FLUSH)) {
			finish(req, VIRTIO_BLK_S_UNSUPP);
			break;
		}
		r = b->io->flush(b->disk, q->thread, &req->r.op);
		submitted(req, r, 0);
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };

		/* 20 bytes, NUL-padded when the serial is shorter (5.2.6). */
		memcpy(id, b->disk->serial, strnlen(b->disk->serial, sizeof(id)));
		virtq_iov_write(&req->iov[c->nout], nin, 0, id, sizeof(id));
		finish(req, VIRTIO_BLK_S_OK);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		do_dwz(req, c->out_len);
		break;
	default:
		finish(req, VIRTIO_BLK_S_UNSUPP);
		break;
	}
}

/* A malformed chain: the status byte cannot be trusted, so it comes
 * back with length 0. */
static void reject(struct vqr_queue *q, struct vqr_req *slot)
{
	struct blk_req *req = (struct blk_req *)slot;

	(void)q;
	req->status = &req->sink;
	req->used_len = 0;
	finish(req, VIRTIO_BLK_S_IOERR);
}

static const struct vqr_ops blk_qops = {
	.name = "virtio-blk",
	.what = "requests",
	.slot_size = sizeof(struct blk_req),
	.iov_offset = offsetof(struct blk_req, iov),
	.iov_max = VIRTIO_BLK_IOV_MAX,
	.complete = req_done,
	.start = start_request,
	.reject = reject,
};

/* ---- transport ops (vCPU thread) ---- */

static int blk_queue_enable(void *dev, unsigned idx, struct virtq *vq)
{
	return vqr_enable(((struct virtio_blk *)dev)->r, idx, vq);
}

static void blk_reset(void *dev)
{
	vqr_reset(((struct virtio_blk *)dev)->r);
}

static const struct virtio_dev_ops blk_vops = {
	.queue_enable = blk_queue_enable,
	.reset = blk_reset,
};

/* ---- creation ---- */

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

/* Config space, 5.2.4. */
static void fill_config(struct virtio_blk *b, uint16_t qsize)
{
	uint8_t *c = b->config;
	uint32_t bs = b->disk->block_size ? b->disk->block_size : SECTOR;
	uint32_t pbs = b->disk->phys_block_size > bs ? b->disk->phys_block_size : bs;
	unsigned exp = 0;

	while ((bs << (exp + 1)) <= pbs && exp < 15)
		exp++;
	memset(c, 0, sizeof(b->config));
	put64(c + 0, b->disk->size / SECTOR);			/* capacity */
	put32(c + 8, VIRTIO_BLK_SIZE_MAX);			/* size_max */
	put32(c + 12, VIRTIO_BLK_SEG_MAX < qsize - 2 ? VIRTIO_BLK_SEG_MAX : qsize - 2);
	put32(c + 20, bs);					/* blk_size */
	c[24] = exp;						/* physical_block_exp */
	c[25] = 0;						/* alignment_offset */
	put16(c + 26, 1);					/* min_io_size */
	put32(c + 28, 0);					/* opt_io_size */
	put16(c + 34, b->nq);					/* num_queues */
	put32(c + 36, VIRTIO_BLK_DWZ_SECTORS_MAX);		/* max_discard_sectors */
	put32(c + 40, VIRTIO_BLK_DWZ_SEG_MAX);			/* max_discard_seg */
	put32(c + 44, pbs / SECTOR);				/* discard_sector_alignment */
	put32(c + 48, VIRTIO_BLK_DWZ_SECTORS_MAX);		/* max_write_zeroes_sectors */
	put32(c + 52, VIRTIO_BLK_DWZ_SEG_MAX);			/* max_write_zeroes_seg */
	c[56] = 0;	/* write_zeroes_may_unmap: zeroing keeps the allocation */
}

static void dev_reset(struct device *dev)
{
	virtio_pci_reset(((struct virtio_blk *)dev->priv)->t);
}

static void dev_free(struct device *dev)
{
	virtio_blk_destroy(dev->priv);
}

/* Snapshot: the transport, and the disk size the driver was told. Beyond
 * them virtio-blk keeps nothing a guest could see; requests in flight
 * would be, so a device that has any is refused (vmm/device.h). */
static int dev_save(struct device *dev, struct state_tree *st, int node)
{
	struct virtio_blk *b = dev->priv;

	for (unsigned i = 0; i < b->nq; i++)
		if (vqr_inflight(b->r, i))
			return err_set(EBUSY, "virtio-blk %s: queue %u has %u requests in flight",
				       b->disk->path ? b->disk->path : "null", i,
				       vqr_inflight(b->r, i));
	state_put_u64(st, node, "capacity", b->disk->size / SECTOR);
	return virtio_pci_save(b->t, st, state_add_node(st, node, "transport"));
}

static int dev_restore(struct device *dev, const void *fdt, int node)
{
	struct virtio_blk *b = dev->priv;
	uint64_t sectors;
	int r = state_get_u64(fdt, node, "capacity", &sectors);

	if (r)
		return r;
	if (sectors != b->disk->size / SECTOR)
		return err_set(EINVAL, "virtio-blk %s: the stream's disk has %llu sectors, this "
			       "one %llu", b->disk->path ? b->disk->path : "null",
			       (unsigned long long)sectors,
			       (unsigned long long)(b->disk->size / SECTOR));
	return virtio_pci_restore(b->t, fdt, state_node(fdt, node, "transport"));
}

/* For a snapshot of a running VM (vmm/device.h): the reset's handshake
 * without the reset, then what the batch hook would have flushed. */
static int dev_quiesce(struct device *dev)
{
	struct virtio_blk *b = dev->priv;
	unsigned waited = 0;
	int r = vqr_quiesce(b->r, 0, b->nq, &waited);

	if (r)
		return err_prefix(r, "virtio-blk %s", b->disk->path ? b->disk->path : "null");
	return 0;
}

static void dev_resume(struct device *dev)
{
	vqr_resume(((struct virtio_blk *)dev->priv)->r);
}

static const struct device_ops blk_device_ops = {
	.name = "virtio-blk",
	.reset = dev_reset,
	.save = dev_save,
	.restore = dev_restore,
	.quiesce = dev_quiesce,
	.resume = dev_resume,
	.free = dev_free,
};

int virtio_blk_create(struct virtio_blk **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_blk_opts *o)
{
	unsigned qsize = o->queue_size ? o->queue_size : 256;
	struct virtio_pci_opts po;
	struct vqr_opts qo;
	struct virtio_blk *b;
	int r;

	if (!o->nthreads || !o->num_queues || o->num_queues > VIRTIO_PCI_MAX_QUEUES ||
	    qsize < 4 || qsize > VIRTQ_MAX_SIZE || (qsize & (qsize - 1)))
		return err_set(EINVAL, "virtio-blk: %u queues of %u on %u I/O threads",
			       o->num_queues, qsize, o->nthreads);
	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(ENOMEM, "virtio-blk");
	b->disk = o->disk;
	b->io = o->io ? o->io : &virtio_blk_io_default;
	b->nq = o->num_queues;
	qo = (struct vqr_opts){
		.ops = &blk_qops, .dev = b, .io = b->io,
		.subject = b->disk->path ? b->disk->path : "(null)",
		.threads = o->threads, .nthreads = o->nthreads, .nq = b->nq, .poll = o->poll,
	};
	r = vqr_create(&b->r, &qo);
	if (r < 0)
		goto fail;
	b->features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		      1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_TOPOLOGY |
		      1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_MQ |
		      1ULL << VIRTQ_F_INDIRECT_DESC | 1ULL << VIRTQ_F_EVENT_IDX;
	if (b->disk->readonly)
		b->features |= 1ULL << VIRTIO_BLK_F_RO;
	if (b->disk->can_discard && !b->disk->readonly)
		b->features |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (b->disk->can_zero && !b->disk->readonly)
		b->features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	fill_config(b, qsize);

	po = (struct virtio_pci_opts){
		.name = "virtio-blk", .device_id = VIRTIO_ID_BLOCK, .class_code = 0x018000,
		.features = b->features, .num_queues = b->nq, .queue_size = qsize,
		.config = b->config, .config_len = sizeof(b->config),
		.ops = &blk_vops, .dev = b,
	};
	r = virtio_pci_create(&b->t, vm, host, irq, mem, &po);
	if (r >= 0)
		r = vqr_attach(b->r, b->t);
	if (r < 0)
		goto fail;
	b->dev.ops = &blk_device_ops;
	b->dev.priv = b;
	*out = b;
	return 0;
fail:
	err_prefix(r, "virtio-blk");
	virtio_blk_destroy(b);
	return r;
}

struct device *virtio_blk_device(struct virtio_blk *b)
{
	return &b->dev;
}

struct virtio_pci *virtio_blk_transport(struct virtio_blk *b)
{
	return b->t;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	virtio_pci_destroy(b->t);
	vqr_destroy(b->r);
	free(b);
}
