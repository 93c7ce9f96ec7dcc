// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-scsi's control queue (task management, asynchronous notification
 * queries) and event queue. Both run on I/O thread 0; see scsi.h.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "virtio/scsi.h"
#include "virtio/scsi_impl.h"
#include "vmm/dirty.h"
#include "vmm/err.h"

#define CTRL_IOV	16	/* control requests are two small structs */
#define TMF_REQ_LEN	24	/* type, subtype, lun, id */
#define AN_REQ_LEN	16	/* type, lun, event_requested */
#define AN_RESP_LEN	5	/* event_actual, response */
#define FAILURE_MAX	64	/* longest writable part answered for an unknown type */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* ---- task management ---- */

/* Commands of the target started and not yet published, on any queue. */
static bool target_busy(struct virtio_scsi *s, unsigned target)
{
	for (unsigned i = SCSI_REQ_Q0; i < s->nq; i++)
		if (atomic_load(&s->queues[i].tgt_busy[target]))
			return true;
	return false;
}

/*
 * Complete the TMFs whose targets have nothing in flight any more. The
 * flag goes up before the counts are read; a request queue drops its
 * count before it reads the flag (both sequentially consistent), so a
 * completion either is seen here or kicks the control queue again.
 */
static void tmf_progress(struct virtio_scsi *s, struct vqr_queue *q, struct virtq *vq)
{
	struct scsi_queue *sq = scsi_queue_of(q);
	unsigned keep = 0;

	if (!sq->ntmf)
		return;
	atomic_store(&s->tmf_waiting, true);
	for (unsigned i = 0; i < sq->ntmf; i++) {
		struct scsi_tmf *t = &sq->tmfs[i];

		if (target_busy(s, t->target)) {
			sq->tmfs[keep++] = *t;
			continue;
		}
		if (t->subtype == VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET)
			scsi_lun_reset(t->lu);
		else if (t->subtype == VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET)
			scsi_lun_nexus_reset(&s->luns[t->target]);
		/* Aborts and queries: every command of the target is done,
		 * so none is left to abort or to find. */
		*t->resp = VIRTIO_SCSI_S_FUNCTION_COMPLETE;
		dirty_mark(t->resp, 1);
		vqr_push(q, vq, t->head, 1);
	}
	sq->ntmf = keep;
	if (!keep)
		atomic_store(&s->tmf_waiting, false);
}

static void tmf(struct virtio_scsi *s, struct vqr_queue *q, struct virtq *vq,
		const struct virtq_chain *ch, const uint8_t *req, uint8_t *resp)
{
	uint32_t subtype = get32(req + 4);
	struct scsi_queue *sq = scsi_queue_of(q);
	struct scsi_lun *lu;
	int tgt = scsi_lookup(s, req + 8, &lu);
	uint8_t r;

	if (tgt < 0) {
		r = VIRTIO_SCSI_S_BAD_TARGET;
	} else {
		switch (subtype) {
		case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
			/* Addresses the whole I_T nexus: the LUN is ignored. */
			break;
		case VIRTIO_SCSI_T_TMF_ABORT_TASK:
		case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
		case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
		case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		case VIRTIO_SCSI_T_TMF_QUERY_TASK:
		case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
			if (!lu) {
				r = VIRTIO_SCSI_S_INCORRECT_LUN;
				goto answer;
			}
			break;
		default:
			/* CLEAR ACA (there is no ACA) and unknown functions. */
			r = VIRTIO_SCSI_S_FUNCTION_REJECTED;
			goto answer;
		}
		/* It completes once the target's commands have (5.6.6.2). */
		sq->tmfs[sq->ntmf++] = (struct scsi_tmf){
			.resp = resp, .lu = lu, .head = ch->head, .target = (uint8_t)tgt,
			.subtype = (uint8_t)subtype,
		};
		return;
	}
answer:
	*resp = r;
	dirty_mark(resp, 1);
	vqr_push(q, vq, ch->head, 1);
}

/* ---- requests ---- */

/* Asynchronous notification query or subscription: no event is
 * supported, so event_actual is 0 for every LUN there is. */
static void an(struct virtio_scsi *s, struct vqr_queue *q, struct virtq *vq,
	       const struct virtq_chain *ch, const struct iovec *in, const uint8_t *req)
{
	uint8_t resp[AN_RESP_LEN] = { 0 };
	struct scsi_lun *lu;
	int tgt = scsi_lookup(s, req + 4, &lu);

	resp[4] = tgt < 0 ? VIRTIO_SCSI_S_BAD_TARGET
			  : lu ? VIRTIO_SCSI_S_OK : VIRTIO_SCSI_S_INCORRECT_LUN;
	virtq_iov_write(in, ch->nin, 0, resp, sizeof(resp));
	vqr_push(q, vq, ch->head, sizeof(resp));
}

/* A request too short for its type, or of a type there is none of:
 * VIRTIO_SCSI_S_FAILURE where its response byte would be (the last byte
 * of struct virtio_scsi_ctrl when the type says nothing). */
static void ctrl_failure(struct vqr_queue *q, struct virtq *vq, const struct virtq_chain *ch,
			 const struct iovec *in, uint32_t type)
{
	uint8_t buf[FAILURE_MAX] = { 0 };
	uint32_t len;

	if (type == VIRTIO_SCSI_T_TMF)
		len = 1;
	else if ((type == VIRTIO_SCSI_T_AN_QUERY || type == VIRTIO_SCSI_T_AN_SUBSCRIBE) &&
		 ch->in_len >= AN_RESP_LEN)
		len = AN_RESP_LEN;
	else
		len = ch->in_len;
	if (len > FAILURE_MAX) {
		scsi_warn(q->dev, "control queue: request of unknown type %u", type);
		vqr_push(q, vq, ch->head, 0);
		return;
	}
	buf[len - 1] = VIRTIO_SCSI_S_FAILURE;
	virtq_iov_write(in, ch->nin, 0, buf, len);
	vqr_push(q, vq, ch->head, len);
}

static void ctrl_request(struct vqr_queue *q, struct virtq *vq, struct iovec *iov,
			 const struct virtq_chain *ch)
{
	struct virtio_scsi *s = q->dev;
	const struct iovec *in = iov + ch->nout;
	uint8_t req[TMF_REQ_LEN];
	uint32_t type = ~0U;

	if (!ch->nin) {
		scsi_warn(s, "control queue: request without a writable part");
		vqr_push(q, vq, ch->head, 0);
		return;
	}
	if (virtq_iov_read(iov, ch->nout, 0, req, 4) == 4)
		type = get32(req);
	switch (type) {
	case VIRTIO_SCSI_T_TMF:
		if (ch->out_len < TMF_REQ_LEN)
			break;
		virtq_iov_read(iov, ch->nout, 0, req, TMF_REQ_LEN);
		tmf(s, q, vq, ch, req, in[0].iov_base);
		return;
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE:
		if (ch->out_len < AN_REQ_LEN || ch->in_len < AN_RESP_LEN)
			break;
		virtq_iov_read(iov, ch->nout, 0, req, AN_REQ_LEN);
		an(s, q, vq, ch, in, req);
		return;
	}
	ctrl_failure(q, vq, ch, in, type);
}

void scsi_ctrl_kick(struct vqr_queue *q, struct virtq *vq)
{
	struct virtio_scsi *s = q->dev;
	struct iovec iov[CTRL_IOV];
	struct virtq_chain ch;
	int r;

	do {
		while ((r = virtq_pop(vq, iov, CTRL_IOV, &ch)) != 0) {
			if (r == -EIO) {
				scsi_warn(s, "control queue: %s", err_msg());
				vqr_set_broken(q);
				return;
			}
			if (r < 0) {
				scsi_warn(s, "control queue: %s", err_msg());
				vqr_push(q, vq, ch.head, 0);
				continue;
			}
			ctrl_request(q, vq, iov, &ch);
		}
	} while (virtq_kick_enable_and_check(vq));
	tmf_progress(s, q, vq);
}

/* ---- events ---- */

/*
 * Put one event in the next usable event buffer. A buffer that cannot hold
 * one (too short, or readable) goes back empty, as the spec allows. False
 * if there is no buffer: the event is lost and will be reported missed.
 */
static bool post_one(struct vqr_queue *q, struct virtq *vq, const struct scsi_event *e)
{
	struct virtio_scsi *s = q->dev;
	uint8_t ev[VIRTIO_SCSI_EVENT_LEN] = { 0 };
	struct iovec iov[4];
	struct virtq_chain ch;
	int r;

	for (;;) {
		r = virtq_pop(vq, iov, 4, &ch);
		if (r == 0)
			return false;
		if (r == -EIO) {
			scsi_warn(s, "event queue: %s", err_msg());
			vqr_set_broken(q);
			return false;
		}
		if (r < 0 || ch.nout || ch.in_len < VIRTIO_SCSI_EVENT_LEN) {
			vqr_push(q, vq, ch.head, 0);
			continue;
		}
		break;
	}
	put32(ev, e->event | (s->ev_missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0));
	if (e->event != VIRTIO_SCSI_T_NO_EVENT) {
		ev[4] = 1;			/* lun: target e->target, LUN 0 */
		ev[5] = e->target;
		ev[6] = 0x40;			/* flat space addressing */
	}
	put32(ev + 12, e->reason);
	virtq_iov_write(iov, ch.nin, 0, ev, sizeof(ev));
	vqr_push(q, vq, ch.head, sizeof(ev));
	s->ev_missed = false;
	return true;
}

void scsi_event_kick(struct vqr_queue *q, struct virtq *vq)
{
	static const struct scsi_event missed = { VIRTIO_SCSI_T_NO_EVENT, 0, 0 };
	struct virtio_scsi *s = q->dev;
	struct scsi_event ev[SCSI_EV_PENDING];
	unsigned n;

	pthread_mutex_lock(&s->ev_lock);
	n = s->nev;
	memcpy(ev, s->ev, n * sizeof(ev[0]));
	s->nev = 0;
	if (s->ev_overflow)
		s->ev_missed = true;
	s->ev_overflow = false;
	pthread_mutex_unlock(&s->ev_lock);
	for (unsigned i = 0; i < n && !q->broken; i++)
		if (!post_one(q, vq, &ev[i]))
			s->ev_missed = true;
	/* Losses are reported as soon as the driver gives a buffer. The
	 * buffers otherwise stay: kicks stay on so new ones are seen. */
	do {
		if (s->ev_missed && !q->broken)
			post_one(q, vq, &missed);
	} while (virtq_kick_enable_and_check(vq) && s->ev_missed && !q->broken);
}

int virtio_scsi_post_event(struct virtio_scsi *s, uint32_t event, unsigned target,
			   uint32_t reason)
{
	uint64_t features = virtio_pci_features(s->t), one = 1;

	if (target >= s->ntargets)
		return -EINVAL;
	switch (event) {
	case VIRTIO_SCSI_T_TRANSPORT_RESET:
		if (reason != VIRTIO_SCSI_EVT_RESET_HARD &&
		    !(features & 1ULL << VIRTIO_SCSI_F_HOTPLUG))
			return -EOPNOTSUPP;
		break;
	case VIRTIO_SCSI_T_PARAM_CHANGE:
		if (!(features & 1ULL << VIRTIO_SCSI_F_CHANGE))
			return -EOPNOTSUPP;
		break;
	default:
		/* ASYNC_NOTIFY needs a subscription, and none is supported. */
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&s->ev_lock);
	if (s->nev < SCSI_EV_PENDING)
		s->ev[s->nev++] = (struct scsi_event){ event, reason, (uint8_t)target };
	else
		s->ev_overflow = true;
	pthread_mutex_unlock(&s->ev_lock);
	/* The event queue's thread delivers it. */
	if (write(virtio_pci_kick_fd(s->t, SCSI_EVENT_Q), &one, 8) != 8)
		scsi_warn(s, "cannot wake the event queue");
	return 0;
}
