// SPDX-License-Identifier: Apache-2.0
/* virtio-scsi: see scsi.h. This file: creation, config space, reset, and
 * the request queues; scsi_ctrl.c has the control and event queues. */
#include "virtio/scsi.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "virtio/scsi_impl.h"
#include "vmm/dirty.h"
#include "vmm/err.h"

static const uint8_t zeros[256];

void scsi_warn(struct virtio_scsi *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vqr_vwarn(s->r, fmt, ap);
	va_end(ap);
}

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

int scsi_lookup(struct virtio_scsi *s, const uint8_t *lun, struct scsi_lun **lu)
{
	unsigned method = lun[2] >> 6, l;

	*lu = NULL;
	/* Byte 0 is 1, byte 1 the target (5.6.6). */
	if (lun[0] != 1 || lun[1] >= s->ntargets)
		return -1;
	if (method == 0 && !(lun[2] & 0x3f))
		l = lun[3];				/* peripheral, bus 0 */
	else if (method == 1)
		l = (lun[2] & 0x3f) << 8 | lun[3];	/* flat space */
	else
		return lun[1];				/* nothing else exists */
	if (!l && !lun[4] && !lun[5] && !lun[6] && !lun[7])
		*lu = &s->luns[lun[1]];
	return lun[1];
}

void scsi_kick_ctrl(struct virtio_scsi *s)
{
	uint64_t one = 1;

	if (write(virtio_pci_kick_fd(s->t, SCSI_CTRL_Q), &one, 8) != 8)
		scsi_warn(s, "cannot wake the control queue");
}

/* ---- completion ---- */

static void give_back(struct scsi_req *req, uint32_t used)
{
	/* Every writable buffer, for a migration in progress: data-in and
	 * the response (conservative: a page too many costs 4 KiB). */
	dirty_mark_iov(&req->iov[req->nout], req->nin);
	if (req->shared >= 0)
		dirty_mark_iov(&req->saved, 1);
	if (req->counted) {
		struct scsi_queue *sq = scsi_queue_of(req->r.q);

		sq->done_tgt[sq->ndone++] = req->target;
	}
	vqr_complete(&req->r, used);
}

/*
 * Write the response (5.6.6): sense_len, residual, status_qualifier,
 * status, response, sense. The used length covers what was written from
 * the start of the writable part: the header and sense, and when data-in
 * was moved the rest of the sense area (zeroed) and that data.
 */
static void respond(struct scsi_req *req, uint8_t response)
{
	struct scsi_cmd *c = &req->cmd;
	struct iovec *in = req->iov + req->nout;
	uint32_t sense_len = c->sense_len < req->sense_size ? c->sense_len : req->sense_size;
	uint32_t used = VIRTIO_SCSI_RESP_HDR + sense_len;
	uint8_t hdr[VIRTIO_SCSI_RESP_HDR];

	if (req->shared >= 0)
		in[req->shared] = req->saved;
	put32(hdr, sense_len);
	put32(hdr + 4, (uint32_t)(c->in_len + c->out_len - c->xferred));	/* residual */
	put16(hdr + 8, 0);				/* status_qualifier */
	hdr[10] = c->status;
	hdr[11] = response;
	virtq_iov_write(in, req->resp_n, 0, hdr, sizeof(hdr));
	virtq_iov_write(in, req->resp_n, VIRTIO_SCSI_RESP_HDR, c->sense, sense_len);
	if (response == VIRTIO_SCSI_S_OK && c->in_len && c->xferred) {
		for (uint32_t off = used; off < VIRTIO_SCSI_RESP_HDR + req->sense_size;) {
			uint32_t n = VIRTIO_SCSI_RESP_HDR + req->sense_size - off;

			n = n < sizeof(zeros) ? n : sizeof(zeros);
			virtq_iov_write(in, req->resp_n, off, zeros, n);
			off += n;
		}
		used = VIRTIO_SCSI_RESP_HDR + req->sense_size + c->xferred;
	}
	give_back(req, used);
}

/* A response without SCSI status: nothing moved, no sense. */
static void fail(struct scsi_req *req, uint8_t response)
{
	req->cmd.status = SCSI_GOOD;
	req->cmd.sense_len = 0;
	req->cmd.xferred = 0;
	respond(req, response);
}

/* Carry out the target's actions until one is queued or the command is done. */
static void run(struct scsi_req *req, enum scsi_action a)
{
	struct scsi_cmd *c = &req->cmd;
	struct scsi_lun *lu = req->lu;
	struct virtio_scsi *s = req->r.q->dev;
	const struct blk_io_ops *io = s->io;
	struct iothread *t = req->r.q->thread;
	int r;

	for (;;) {
		switch (a) {
		case SCSI_DONE:
			respond(req, VIRTIO_SCSI_S_OK);
			return;
		case SCSI_OVERRUN:
			fail(req, VIRTIO_SCSI_S_OVERRUN);
			return;
		case SCSI_READ:
			r = io->readv(lu->disk, t, c->iov, c->niov, c->offset, &req->r.op);
			break;
		case SCSI_WRITE:
			r = io->writev(lu->disk, t, c->iov, c->niov, c->offset, &req->r.op);
			break;
		case SCSI_FLUSH:
			r = io->flush(lu->disk, t, &req->r.op);
			break;
		case SCSI_DISCARD:
			r = io->discard(lu->disk, t, c->offset, c->len, &req->r.op);
			break;
		default:
			r = io->write_zeroes(lu->disk, t, c->offset, c->len, &req->r.op);
			break;
		}
		if (r == 0)
			return;		/* queued: req_done goes on */
		if (r == 1) {
			/* Done at once (null backend, flush of a read-only disk). */
			if (a == SCSI_READ)
				io->null_fill(c->iov, c->niov);
			r = a == SCSI_READ || a == SCSI_WRITE ? (int)c->len : 0;
		} else if (r != -EOPNOTSUPP) {
			scsi_warn(s, "cannot queue I/O for target %u: %s", req->target,
				  strerror(-r));
		}
		a = scsi_disk_io_done(lu, c, r);
	}
}

static void req_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct scsi_req *req = (struct scsi_req *)op;

	(void)cqe_flags;
	run(req, scsi_disk_io_done(req->lu, &req->cmd, res));
}

/* ---- requests ---- */

/* The iovecs of iov[0, n) past the first skip bytes: the index of the
 * first, which is cut in place; if the cut falls inside it, *shared gets
 * its index and *saved its uncut self. */
static unsigned cut(struct iovec *iov, unsigned n, uint64_t skip, int *shared,
		    struct iovec *saved)
{
	unsigned i = 0;

	while (i < n && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	if (i < n && skip) {
		if (shared) {
			*shared = (int)i;
			*saved = iov[i];
		}
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + skip;
		iov[i].iov_len -= skip;
	}
	return i;
}

static void start_request(struct vqr_queue *q, struct vqr_req *slot, const struct virtq_chain *ch)
{
	struct scsi_req *req = (struct scsi_req *)slot;
	struct virtio_scsi *s = q->dev;
	uint32_t cdb_size = atomic_load(&s->cdb_size), sense_size = atomic_load(&s->sense_size);
	uint64_t req_hdr = VIRTIO_SCSI_REQ_HDR + (uint64_t)cdb_size;
	uint64_t resp_hdr = VIRTIO_SCSI_RESP_HDR + (uint64_t)sense_size;
	struct scsi_cmd *c = &req->cmd;
	struct iovec *in = req->iov + ch->nout;
	uint8_t hdr[VIRTIO_SCSI_REQ_HDR];
	unsigned first;
	int tgt;

	req->nout = ch->nout;
	req->nin = ch->nin;
	req->lu = NULL;
	req->counted = false;
	req->shared = -1;
	req->sense_size = sense_size;
	memset(c, 0, offsetof(struct scsi_cmd, rep));
	if (ch->in_len < resp_hdr) {
		/* Nowhere to answer: give the chain back empty. */
		scsi_warn(s, "queue %u: %u writable bytes, the response needs %llu", q->idx,
			  ch->in_len, (unsigned long long)resp_hdr);
		give_back(req, 0);
		return;
	}
	first = cut(in, ch->nin, resp_hdr, &req->shared, &req->saved);
	req->resp_n = first + (req->shared >= 0);
	c->in = in + first;
	c->nin = ch->nin - first;
	c->in_len = ch->in_len - resp_hdr;
	if (ch->out_len < req_hdr) {
		scsi_warn(s, "queue %u: request header of %u bytes, expected %llu", q->idx,
			  ch->out_len, (unsigned long long)req_hdr);
		fail(req, VIRTIO_SCSI_S_FAILURE);
		return;
	}
	virtq_iov_read(req->iov, ch->nout, 0, hdr, sizeof(hdr));
	/* A cdb_size below the command's length reads as zero-padded. */
	virtq_iov_read(req->iov, ch->nout, VIRTIO_SCSI_REQ_HDR, c->cdb,
		       cdb_size < SCSI_CDB_MAX ? cdb_size : SCSI_CDB_MAX);
	first = cut(req->iov, ch->nout, req_hdr, NULL, NULL);
	c->out = req->iov + first;
	c->nout = ch->nout - first;
	c->out_len = ch->out_len - req_hdr;
	if (c->out_len && c->in_len) {
		/* Both directions need VIRTIO_SCSI_F_INOUT (5.6.6.1). */
		fail(req, VIRTIO_SCSI_S_FAILURE);
		return;
	}
	/* Task attributes all map to SIMPLE, which the spec allows. */
	tgt = scsi_lookup(s, hdr, &req->lu);
	if (tgt < 0) {
		fail(req, VIRTIO_SCSI_S_BAD_TARGET);
		return;
	}
	req->target = (uint8_t)tgt;
	req->counted = true;
	atomic_fetch_add(&scsi_queue_of(q)->tgt_busy[tgt], 1);
	run(req, scsi_disk_exec(req->lu, c));
}

/* A malformed chain: no response can be trusted to it, so it comes back
 * with length 0. */
static void reject(struct vqr_queue *q, struct vqr_req *slot)
{
	struct scsi_req *req = (struct scsi_req *)slot;

	(void)q;
	req->counted = false;
	give_back(req, 0);
}

static void side_kick(struct vqr_queue *q, struct virtq *vq)
{
	if (q->idx == SCSI_CTRL_Q)
		scsi_ctrl_kick(q, vq);
	else
		scsi_event_kick(q, vq);
}

/* After publishing, the requests pushed before count as done for the TMFs
 * waiting on their targets (which must not complete before them). */
static void publish_done(struct vqr_queue *rq)
{
	struct virtio_scsi *s = rq->dev;
	struct scsi_queue *q = scsi_queue_of(rq);

	if (!q->ndone)
		return;
	for (unsigned i = 0; i < q->ndone; i++)
		atomic_fetch_sub(&q->tgt_busy[q->done_tgt[i]], 1);
	q->ndone = 0;
	if (atomic_load(&s->tmf_waiting))
		scsi_kick_ctrl(s);
}

/* ---- transport ops (vCPU thread) ---- */

/* The control queue's TMFs, a request queue's list of completions. */
static int alloc_queue(struct vqr_queue *rq, uint16_t size)
{
	struct scsi_queue *q = scsi_queue_of(rq);

	if (rq->idx == SCSI_CTRL_Q) {
		q->tmfs = calloc(size, sizeof(*q->tmfs));
		return q->tmfs ? 0 : -ENOMEM;
	}
	if (rq->idx == SCSI_EVENT_Q)
		return 0;
	q->done_tgt = calloc(size, sizeof(*q->done_tgt));
	return q->done_tgt ? 0 : -ENOMEM;
}

static void release_queue(struct vqr_queue *rq)
{
	struct scsi_queue *q = scsi_queue_of(rq);

	free(q->done_tgt);
	free(q->tmfs);
	q->done_tgt = NULL;
	q->tmfs = NULL;
	q->ndone = q->ntmf = 0;
}

static const struct vqr_ops scsi_qops = {
	.name = "virtio-scsi",
	.what = "commands",
	.slot_size = sizeof(struct scsi_req),
	.iov_offset = offsetof(struct scsi_req, iov),
	.iov_max = VIRTIO_SCSI_IOV_MAX,
	.complete = req_done,
	.start = start_request,
	.reject = reject,
	.flushed = publish_done,
	.side_kick = side_kick,
	.alloc = alloc_queue,
	.release = release_queue,
};

static int scsi_queue_enable(void *dev, unsigned idx, struct virtq *vq)
{
	int r = vqr_enable(((struct virtio_scsi *)dev)->r, idx, vq);

	return r ? err_prefix(r, "virtio-scsi") : 0;
}

static void default_sizes(struct virtio_scsi *s)
{
	atomic_store(&s->sense_size, VIRTIO_SCSI_SENSE_DEFAULT);
	atomic_store(&s->cdb_size, VIRTIO_SCSI_CDB_DEFAULT);
	put32(s->config + 20, VIRTIO_SCSI_SENSE_DEFAULT);
	put32(s->config + 24, VIRTIO_SCSI_CDB_DEFAULT);
}

/* Device reset: the queues stop (vq_runner.h), then the device's state
 * goes back to its power-on values. */
static void scsi_reset(void *dev)
{
	struct virtio_scsi *s = dev;

	vqr_reset(s->r);
	for (unsigned i = 0; i < s->nq; i++)
		for (unsigned t = 0; t < s->ntargets; t++)
			atomic_store(&s->queues[i].tgt_busy[t], 0);
	atomic_store(&s->tmf_waiting, false);
	pthread_mutex_lock(&s->ev_lock);
	s->nev = 0;
	s->ev_overflow = false;
	pthread_mutex_unlock(&s->ev_lock);
	s->ev_missed = false;
	default_sizes(s);
	for (unsigned t = 0; t < s->ntargets; t++)
		scsi_lun_power_on(&s->luns[t]);
}

/* The driver may write sense_size and cdb_size (5.6.4), nothing else. */
static void scsi_config_write(void *dev, unsigned off, const uint8_t *data, unsigned len)
{
	struct virtio_scsi *s = dev;
	uint32_t v;

	for (unsigned i = 0; i < len; i++)
		if (off + i >= 20 && off + i < 28)
			s->config[off + i] = data[i];
	memcpy(&v, s->config + 20, 4);
	atomic_store(&s->sense_size, le32toh(v));
	memcpy(&v, s->config + 24, 4);
	atomic_store(&s->cdb_size, le32toh(v));
}

static const struct virtio_dev_ops scsi_vops = {
	.queue_enable = scsi_queue_enable,
	.reset = scsi_reset,
	.config_write = scsi_config_write,
};

/* ---- creation ---- */

/* Config space (5.6.4), truthful: each target has LUN 0 only. */
static void fill_config(struct virtio_scsi *s, unsigned nreq, uint16_t qsize)
{
	uint8_t *c = s->config;

	memset(c, 0, sizeof(s->config));
	put32(c + 0, nreq);					/* num_queues */
	put32(c + 4, VIRTIO_SCSI_SEG_MAX < qsize - 2 ? VIRTIO_SCSI_SEG_MAX : qsize - 2);
	put32(c + 8, VIRTIO_SCSI_MAX_SECTORS);			/* max_sectors */
	put32(c + 12, qsize);					/* cmd_per_lun */
	put32(c + 16, VIRTIO_SCSI_EVENT_LEN);			/* event_info_size */
	default_sizes(s);					/* sense_size, cdb_size */
	put16(c + 28, 0);					/* max_channel */
	put16(c + 30, s->ntargets - 1);				/* max_target */
	put32(c + 32, 0);					/* max_lun */
}

static void dev_reset(struct device *dev)
{
	virtio_pci_reset(((struct virtio_scsi *)dev->priv)->t);
}

static void dev_free(struct device *dev)
{
	virtio_scsi_destroy(dev->priv);
}

/*
 * For a snapshot of a running VM (vmm/device.h): the request and event
 * queues stop as in a reset; their completions are published, which lets
 * the task management functions waiting on them finish on the control
 * queue's thread; then the control queue stops too.
 */
static int dev_quiesce(struct device *dev)
{
	struct virtio_scsi *s = dev->priv;
	struct timespec ts = { 0, 50 * 1000 };
	struct scsi_queue *ctrl = &s->queues[SCSI_CTRL_Q];
	unsigned waited = 0;
	int r;

	r = vqr_quiesce(s->r, SCSI_EVENT_Q, s->nq, &waited);
	if (r)
		return err_prefix(r, "virtio-scsi");
	for (;;) {
		r = vqr_stop(s->r, SCSI_CTRL_Q, SCSI_CTRL_Q + 1, &waited);
		if (r)
			return err_prefix(r, "virtio-scsi");
		if (!ctrl->ntmf)
			break;
		/* A TMF still waits: let the control queue's thread run it. */
		vqr_unstop(s->r, SCSI_CTRL_Q);
		scsi_kick_ctrl(s);
		if (++waited >= VQR_WAIT_MAX)
			return err_set(EBUSY, "virtio-scsi: %u task management functions still "
				       "wait for their targets", ctrl->ntmf);
		nanosleep(&ts, NULL);
	}
	vqr_flush(s->r, SCSI_CTRL_Q);
	return 0;
}

static void dev_resume(struct device *dev)
{
	vqr_resume(((struct virtio_scsi *)dev->priv)->r);
}

static const struct device_ops scsi_device_ops = {
	.name = "virtio-scsi",
	.reset = dev_reset,
	.save = scsi_dev_save,
	.restore = scsi_dev_restore,
	.quiesce = dev_quiesce,
	.resume = dev_resume,
	.free = dev_free,
};

static int check_opts(const struct virtio_scsi_opts *o, unsigned qsize)
{
	if (!o->ndisks || o->ndisks > VIRTIO_SCSI_MAX_TARGETS || !o->nthreads ||
	    !o->num_queues || o->num_queues > VIRTIO_SCSI_MAX_REQ_QUEUES ||
	    qsize < 4 || qsize > VIRTQ_MAX_SIZE || (qsize & (qsize - 1)))
		return err_set(EINVAL, "virtio-scsi: %u disks, %u queues of %u on %u I/O threads",
			       o->ndisks, o->num_queues, qsize, o->nthreads);
	for (unsigned i = 0; i < o->ndisks; i++) {
		const struct disk *d = o->disks[i];
		uint32_t bs = d->block_size ? d->block_size : 512;

		if (d->size < bs)
			return err_set(EINVAL, "virtio-scsi: %s: smaller than one %u-byte block",
				       d->path ? d->path : "null", bs);
	}
	return 0;
}

int virtio_scsi_create(struct virtio_scsi **out, struct vm *vm, struct pci_host *host,
		       struct irq_router *irq, const struct guest_mem *mem,
		       const struct virtio_scsi_opts *o)
{
	unsigned qsize = o->queue_size ? o->queue_size : 256;
	struct virtio_pci_opts po;
	struct vqr_opts qo;
	struct virtio_scsi *s;
	int r;

	r = check_opts(o, qsize);
	if (r)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(ENOMEM, "virtio-scsi: out of memory");
	pthread_mutex_init(&s->ev_lock, NULL);
	s->io = o->io ? o->io : &virtio_blk_io_default;
	s->ntargets = o->ndisks;
	s->nq = SCSI_REQ_Q0 + o->num_queues;
	s->luns = calloc(s->ntargets, sizeof(*s->luns));
	s->queues = calloc(s->nq, sizeof(*s->queues));
	if (!s->luns || !s->queues) {
		r = err_set(ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < s->ntargets; i++)
		scsi_lun_init(&s->luns[i], o->disks[i]);
	for (unsigned i = 0; i < s->nq; i++) {
		s->queues[i].tgt_busy = calloc(s->ntargets, sizeof(*s->queues[i].tgt_busy));
		if (!s->queues[i].tgt_busy) {
			r = err_set(ENOMEM, "out of memory");
			goto fail;
		}
	}
	qo = (struct vqr_opts){
		.ops = &scsi_qops, .dev = s, .io = s->io, .threads = o->threads,
		.nthreads = o->nthreads, .nq = s->nq, .nside = SCSI_REQ_Q0,
	};
	r = vqr_create(&s->r, &qo);
	if (r < 0)
		goto fail;
	fill_config(s, o->num_queues, qsize);
	po = (struct virtio_pci_opts){
		.name = "virtio-scsi", .device_id = VIRTIO_ID_SCSI,
		.class_code = 0x010000,		/* mass storage, SCSI controller */
		.features = 1ULL << VIRTQ_F_INDIRECT_DESC | 1ULL << VIRTQ_F_EVENT_IDX,
		.num_queues = s->nq, .queue_size = qsize,
		.config = s->config, .config_len = sizeof(s->config),
		.ops = &scsi_vops, .dev = s,
	};
	r = virtio_pci_create(&s->t, vm, host, irq, mem, &po);
	if (r >= 0)
		r = vqr_attach(s->r, s->t);
	if (r < 0)
		goto fail;
	s->dev.ops = &scsi_device_ops;
	s->dev.priv = s;
	*out = s;
	return 0;
fail:
	err_prefix(r, "virtio-scsi");
	virtio_scsi_destroy(s);
	return r;
}

struct device *virtio_scsi_device(struct virtio_scsi *s)
{
	return &s->dev;
}

struct virtio_pci *virtio_scsi_transport(struct virtio_scsi *s)
{
	return s->t;
}

void virtio_scsi_destroy(struct virtio_scsi *s)
{
	if (!s)
		return;
	virtio_pci_destroy(s->t);
	vqr_destroy(s->r);		/* first: it releases the queues' own state */
	for (unsigned i = 0; s->queues && i < s->nq; i++)
		free(s->queues[i].tgt_busy);
	pthread_mutex_destroy(&s->ev_lock);
	free(s->queues);
	free(s->luns);
	free(s);
}
