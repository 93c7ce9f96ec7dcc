// SPDX-License-Identifier: Apache-2.0
/* virtio-scsi driver: see virtio_scsi.h. */
#include "virtio_scsi.h"
#include "console.h"
#include "smp.h"

/* Device config layout (5.6.4), byte offsets. */
#define CFG_NUM_QUEUES		0
#define CFG_SEG_MAX		4
#define CFG_MAX_SECTORS		8
#define CFG_CMD_PER_LUN		12
#define CFG_EVENT_INFO_SIZE	16
#define CFG_SENSE_SIZE		20
#define CFG_CDB_SIZE		24
#define CFG_MAX_CHANNEL		28
#define CFG_MAX_TARGET		30
#define CFG_MAX_LUN		32

#define REQ_LEN		sizeof(struct vscsi_req)
#define RESP_LEN	sizeof(struct vscsi_resp)

_Static_assert(sizeof(struct vscsi_req) == 19 + VSCSI_CDB_SIZE, "virtio_scsi_req_cmd");
_Static_assert(sizeof(struct vscsi_resp) == 12 + VSCSI_SENSE_SIZE, "virtio_scsi_resp_cmd");
_Static_assert(sizeof(struct vscsi_event) == 16, "virtio_scsi_event");
_Static_assert(offsetof(struct vscsi_cmd, vq) == 0, "the token of a chain is its struct vq_req");

/* The control queue's one request at a time: TMF or AN, then responses. */
struct ctrl {
	union {
		struct {
			u32 type, subtype;
			u8 lun[8];
			u64 id;
		} __attribute__((packed)) tmf;
		struct {
			u32 type;
			u8 lun[8];
			u32 event_requested;
		} __attribute__((packed)) an;
	} req;
	struct {
		u32 event_actual;
		u8 response;
	} __attribute__((packed)) an_resp;
	u8 tmf_resp;
};

int vscsi_probe(struct vscsi *s, char *why, size_t whylen)
{
	memset(s, 0, sizeof(*s));
	return virtio_find(&s->v, VIRTIO_ID_SCSI, 0, why, whylen);
}

static void read_config(struct vscsi *s)
{
	struct virtio_dev *v = &s->v;
	struct vscsi_config *c = &s->cfg;

	c->num_queues = virtio_cfg32(v, CFG_NUM_QUEUES);
	c->seg_max = virtio_cfg32(v, CFG_SEG_MAX);
	c->max_sectors = virtio_cfg32(v, CFG_MAX_SECTORS);
	c->cmd_per_lun = virtio_cfg32(v, CFG_CMD_PER_LUN);
	c->event_info_size = virtio_cfg32(v, CFG_EVENT_INFO_SIZE);
	c->sense_size = virtio_cfg32(v, CFG_SENSE_SIZE);
	c->cdb_size = virtio_cfg32(v, CFG_CDB_SIZE);
	c->max_channel = virtio_cfg16(v, CFG_MAX_CHANNEL);
	c->max_target = virtio_cfg16(v, CFG_MAX_TARGET);
	c->max_lun = virtio_cfg32(v, CFG_MAX_LUN);
}

/* Keep the event queue full: every buffer posted, device-writable. */
static bool post_event(struct vscsi *s, struct vscsi_event *e)
{
	struct vq_buf b = { e, sizeof(*e), true };

	memset(e, 0, sizeof(*e));
	return vq_add(&s->v.vq[VSCSI_EVENT_Q], &b, 1, e) >= 0;
}

bool vscsi_init(struct vscsi *s, const struct virtio_opts *o, char *why, size_t whylen)
{
	unsigned nq;

	s->o = *o;
	if (!virtio_start_opts(&s->v, o, 0, why, whylen))
		return false;
	s->indirect = virtio_has(&s->v, VIRTIO_F_INDIRECT_DESC);
	s->event_idx = virtio_has(&s->v, VIRTIO_F_EVENT_IDX);
	read_config(s);
	/* The sizes our structs have; the driver may set them (5.6.4). */
	if (s->cfg.sense_size != VSCSI_SENSE_SIZE || s->cfg.cdb_size != VSCSI_CDB_SIZE) {
		mmio_write32(s->v.device + CFG_SENSE_SIZE, VSCSI_SENSE_SIZE);
		mmio_write32(s->v.device + CFG_CDB_SIZE, VSCSI_CDB_SIZE);
		read_config(s);
		if (s->cfg.sense_size != VSCSI_SENSE_SIZE || s->cfg.cdb_size != VSCSI_CDB_SIZE) {
			snprintf(why, whylen, "sense_size %u / cdb_size %u, and 96 / 32 not accepted",
				 s->cfg.sense_size, s->cfg.cdb_size);
			return false;
		}
	}
	if (s->cfg.event_info_size > sizeof(struct vscsi_event)) {
		snprintf(why, whylen, "event_info_size %u, more than the %zu bytes of an event",
			 s->cfg.event_info_size, sizeof(struct vscsi_event));
		return false;
	}
	nq = MIN((unsigned)s->v.max_queues, (unsigned)VIRTIO_MAX_QUEUES);
	if (nq <= VSCSI_REQ_Q0 || !s->cfg.num_queues) {
		snprintf(why, whylen, "%u virtqueues, num_queues %u: no request queue",
			 s->v.max_queues, s->cfg.num_queues);
		return false;
	}
	s->nreq = MIN(s->cfg.num_queues, nq - VSCSI_REQ_Q0);
	if (!s->ev) {
		s->ev = dma_alloc(VSCSI_NEVENTS * sizeof(*s->ev), 64);
		s->ctrl = dma_alloc(sizeof(struct ctrl), 64);
		if (!s->ev || !s->ctrl) {
			snprintf(why, whylen, "out of DMA memory");
			return false;
		}
	}
	if (!virtq_setup(&s->v, VSCSI_CTRL_Q, o->irq, 0, why, whylen) ||
	    !virtq_setup(&s->v, VSCSI_EVENT_Q, false, 0, why, whylen))
		return false;
	for (unsigned i = 0; i < s->nreq; i++) {
		if (!virtq_setup(&s->v, VSCSI_REQ_Q0 + i, o->irq, smp_online_cpu(i), why, whylen))
			return false;
		s->tags[i] = (u64)(i + 1) << 48;
	}
	virtio_driver_ok(&s->v);
	/* 5.6.6.3: the driver should keep the event queue supplied. */
	for (unsigned i = 0; i < VSCSI_NEVENTS; i++)
		if (!post_event(s, &s->ev[i])) {
			snprintf(why, whylen, "the event queue takes fewer than %u buffers",
				 VSCSI_NEVENTS);
			return false;
		}
	vq_kick(&s->v.vq[VSCSI_EVENT_Q]);
	s->events = 0;
	return true;
}

struct vscsi_cmd *vscsi_cmd_alloc(void)
{
	return (struct vscsi_cmd *)vq_req_alloc(sizeof(struct vscsi_cmd));
}

void vscsi_lun(u8 out[8], unsigned target, unsigned lun)
{
	memset(out, 0, 8);
	out[0] = 1;
	out[1] = target;
	out[2] = 0x40 | (lun >> 8 & 0x3f);
	out[3] = lun;
}

struct virtq *vscsi_reqq(struct vscsi *s, unsigned qi)
{
	return &s->v.vq[VSCSI_REQ_Q0 + qi];
}

int vscsi_submit(struct vscsi *s, unsigned qi, struct vscsi_cmd *c, const u8 lun[8],
		 const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf, u32 len,
		 unsigned nseg, unsigned flags)
{
	struct virtq *q;
	struct vq_buf v[VSCSI_MAX_SEGS + 2];
	u8 *data = buf;
	unsigned n = 0, first = 0;
	u32 seglen;

	if (qi >= s->nreq || cdb_len > VSCSI_CDB_SIZE)
		return -1;
	q = vscsi_reqq(s, qi);
	if (dir == VSCSI_NONE || !len) {
		dir = VSCSI_NONE;
		len = 0;
		nseg = 0;
	}
	if (nseg > VSCSI_MAX_SEGS || (dir != VSCSI_NONE && (!nseg || len % nseg)))
		return -1;
	seglen = nseg ? len / nseg : 0;
	memset(&c->req, 0, sizeof(c->req));
	memcpy(c->req.lun, lun, 8);
	c->req.id = s->tags[qi]++;
	memcpy(c->req.cdb, cdb, cdb_len);
	c->resp_at = &c->resp;
	c->data_len = len;
	c->vq.done = false;
	c->vq.used_len = 0;

	if (dir == VSCSI_OUT && s->o.merged) {
		/* The header in front of the first data segment. */
		memcpy(data - REQ_LEN, &c->req, REQ_LEN);
		v[n++] = (struct vq_buf){ data - REQ_LEN, REQ_LEN + seglen, false };
		first = 1;
	} else {
		v[n++] = (struct vq_buf){ &c->req, REQ_LEN, false };
	}
	if (dir == VSCSI_OUT)
		for (unsigned k = first; k < nseg; k++)
			v[n++] = (struct vq_buf){ data + k * seglen, seglen, false };
	if (dir == VSCSI_IN && s->o.merged) {
		/* The response in front of the first data-in segment. */
		c->resp_at = (struct vscsi_resp *)(data - RESP_LEN);
		v[n++] = (struct vq_buf){ data - RESP_LEN, RESP_LEN + seglen, true };
		first = 1;
	} else {
		v[n++] = (struct vq_buf){ &c->resp, RESP_LEN, true };
		first = 0;
	}
	if (dir == VSCSI_IN)
		for (unsigned k = first; k < nseg; k++)
			v[n++] = (struct vq_buf){ data + k * seglen, seglen, true };
	/* Untouched until the device answers. */
	memset(c->resp_at, 0, 12);
	c->resp_at->response = 0xff;
	c->resp_at->status = 0xff;
	c->writable = vq_writable(v, n);
	return vq_add_req(q, c->table, flags & VSCSI_INDIRECT, v, n, c);
}

unsigned vscsi_reap(struct vscsi *s, unsigned qi)
{
	return vq_reap(vscsi_reqq(s, qi));
}

int vscsi_do(struct vscsi *s, unsigned qi, struct vscsi_cmd *c, const u8 lun[8],
	     const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf, u32 len,
	     unsigned nseg, unsigned flags)
{
	int r;

	if (vscsi_submit(s, qi, c, lun, cdb, cdb_len, dir, buf, len, nseg, flags) < 0)
		return -3;
	r = vq_kick_wait(vscsi_reqq(s, qi), &c->vq, VSCSI_TIMEOUT_US);
	return r < 0 ? r : *(volatile u8 *)&c->resp_at->response;
}

/* One control request: out bytes of the request, in bytes of response. */
static int ctrl_do(struct vscsi *s, const void *resp, u32 out, u32 in, u32 *used)
{
	struct ctrl *c = s->ctrl;
	struct virtq *q = &s->v.vq[VSCSI_CTRL_Q];
	struct vq_buf b[2] = { { &c->req, out, false }, { resp, in, true } };
	void *token;
	u32 len;
	u16 head;

	if (vq_add(q, b, 2, c) < 0)
		return -3;
	vq_kick(q);
	for (;;) {
		int r = vq_wait(q, VSCSI_TIMEOUT_US);

		if (r < 0)
			return r;
		while (vq_get_used(q, &token, &len, &head))
			if (token == c) {
				*used = len;
				return 0;
			}
	}
}

int vscsi_tmf(struct vscsi *s, u32 subtype, const u8 lun[8], u64 tag, u32 *used)
{
	struct ctrl *c = s->ctrl;
	int r;

	memset(c, 0, sizeof(*c));
	c->req.tmf.type = VSCSI_T_TMF;
	c->req.tmf.subtype = subtype;
	memcpy(c->req.tmf.lun, lun, 8);
	c->req.tmf.id = tag;
	c->tmf_resp = 0xff;
	r = ctrl_do(s, &c->tmf_resp, sizeof(c->req.tmf), 1, used);
	return r < 0 ? r : *(volatile u8 *)&c->tmf_resp;
}

int vscsi_an_query(struct vscsi *s, const u8 lun[8], u32 requested, u32 *actual)
{
	struct ctrl *c = s->ctrl;
	u32 used;
	int r;

	memset(c, 0, sizeof(*c));
	c->req.an.type = VSCSI_T_AN_QUERY;
	memcpy(c->req.an.lun, lun, 8);
	c->req.an.event_requested = requested;
	c->an_resp.response = 0xff;
	r = ctrl_do(s, &c->an_resp, sizeof(c->req.an), sizeof(c->an_resp), &used);
	*actual = c->an_resp.event_actual;
	return r < 0 ? r : *(volatile u8 *)&c->an_resp.response;
}

static void take_event(void *token, u32 len, void *arg)
{
	struct vscsi *s = arg;
	struct vscsi_event *e = token;

	s->last_event = *e;
	s->last_event_len = len;
	s->events++;
	post_event(s, e);
}

unsigned vscsi_events_poll(struct vscsi *s)
{
	unsigned n = vq_each_used(&s->v.vq[VSCSI_EVENT_Q], take_event, s);

	if (n)
		vq_kick(&s->v.vq[VSCSI_EVENT_Q]);
	return n;
}

const char *vscsi_response_name(int r)
{
	static const char *const names[] = {
		"OK", "OVERRUN", "ABORTED", "BAD_TARGET", "RESET", "BUSY", "TRANSPORT_FAILURE",
		"TARGET_FAILURE", "NEXUS_FAILURE", "FAILURE", "FUNCTION_SUCCEEDED",
		"FUNCTION_REJECTED", "INCORRECT_LUN",
	};

	if (r >= 0 && r < (int)ARRAY_SIZE(names))
		return names[r];
	if (r == 0xff)
		return "response byte untouched";
	return vq_error_name(r) ? vq_error_name(r) : "unknown response";
}
