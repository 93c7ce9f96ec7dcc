/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-scsi driver (virtio 1.2, 5.6) on virtio_pci.h, for the scsi-*
 * cases and the bench mode.
 *
 * Queues: 0 control (task management, waited for on CPU 0), 1 event
 * (VSCSI_NEVENTS buffers kept posted, polled), 2.. requests (request queue
 * i interrupts CPU i % online CPUs, or is polled). A command is a struct
 * vscsi_cmd the caller owns (vscsi_cmd_alloc): its request header,
 * response and indirect table are read and written by the device.
 *
 * Layout: by default the request header, the response and every data
 * segment sit in descriptors of their own, which every device takes (QEMU
 * 7.2 reads the first descriptor of each direction as the header unless
 * the legacy ANY_LAYOUT bit is negotiated). With layout=merged the header
 * shares the first data-out descriptor (writes) and the response shares the
 * first data-in descriptor (reads), which a VERSION_1 device must accept:
 * a data buffer then needs VSCSI_FRONT free bytes in front of it.
 *
 * Addressing (5.6.6): lun[0] = 1, lun[1] = target, lun[2..3] = LUN in the
 * flat space (0x40 | LUN >> 8, LUN & 0xff), as Linux does.
 */
#ifndef GUEST_VIRTIO_SCSI_H
#define GUEST_VIRTIO_SCSI_H

#include "virtio_pci.h"

#define VIRTIO_ID_SCSI			8

#define VIRTIO_SCSI_F_INOUT		0
#define VIRTIO_SCSI_F_HOTPLUG		1
#define VIRTIO_SCSI_F_CHANGE		2
#define VIRTIO_SCSI_F_T10_PI		3

/* Response values (5.6.6.1, 5.6.6.2). */
#define VSCSI_S_OK			0
#define VSCSI_S_FUNCTION_COMPLETE	0
#define VSCSI_S_OVERRUN			1
#define VSCSI_S_ABORTED			2
#define VSCSI_S_BAD_TARGET		3
#define VSCSI_S_RESET			4
#define VSCSI_S_BUSY			5
#define VSCSI_S_TRANSPORT_FAILURE	6
#define VSCSI_S_TARGET_FAILURE		7
#define VSCSI_S_NEXUS_FAILURE		8
#define VSCSI_S_FAILURE			9
#define VSCSI_S_FUNCTION_SUCCEEDED	10
#define VSCSI_S_FUNCTION_REJECTED	11
#define VSCSI_S_INCORRECT_LUN		12

/* Control queue. */
#define VSCSI_T_TMF			0
#define VSCSI_T_AN_QUERY		1
#define VSCSI_TMF_ABORT_TASK		0
#define VSCSI_TMF_ABORT_TASK_SET	1
#define VSCSI_TMF_CLEAR_ACA		2
#define VSCSI_TMF_CLEAR_TASK_SET	3
#define VSCSI_TMF_I_T_NEXUS_RESET	4
#define VSCSI_TMF_LOGICAL_UNIT_RESET	5
#define VSCSI_TMF_QUERY_TASK		6
#define VSCSI_TMF_QUERY_TASK_SET	7

/* SCSI status (SAM-5). */
#define SCSI_GOOD			0x00
#define SCSI_CHECK_CONDITION		0x02
#define SCSI_BUSY			0x08

#define VSCSI_CDB_SIZE			32	/* the device's default cdb_size */
#define VSCSI_SENSE_SIZE		96	/* ... and sense_size */
#define VSCSI_MAX_SEGS			16	/* data descriptors per command */
#define VSCSI_NEVENTS			4	/* event buffers kept posted */
#define VSCSI_TIMEOUT_US		VQ_TIMEOUT_US
#define VSCSI_CTRL_Q			0
#define VSCSI_EVENT_Q			1
#define VSCSI_REQ_Q0			2

struct vscsi_config {
	u32 num_queues, seg_max, max_sectors, cmd_per_lun;
	u32 event_info_size, sense_size, cdb_size;
	u16 max_channel, max_target;
	u32 max_lun;
};

/* virtio_scsi_req_cmd, device-readable part, for cdb_size 32. */
struct vscsi_req {
	u8 lun[8];
	u64 id;
	u8 task_attr;
	u8 prio;
	u8 crn;
	u8 cdb[VSCSI_CDB_SIZE];
} __attribute__((packed));

/* ... and its device-writable part, for sense_size 96. */
struct vscsi_resp {
	u32 sense_len;
	u32 residual;
	u16 status_qualifier;
	u8 status;
	u8 response;
	u8 sense[VSCSI_SENSE_SIZE];
} __attribute__((packed));

#define VSCSI_FRONT	sizeof(struct vscsi_resp)	/* merged: room before data */

enum vscsi_dir { VSCSI_NONE, VSCSI_IN, VSCSI_OUT };

struct vscsi_cmd {
	struct vq_req vq;	/* first: done, used_len, the caller's ctx */
	/* read or written by the device */
	struct vscsi_req req;
	struct vscsi_resp resp;
	struct vring_desc table[VSCSI_MAX_SEGS + 2];
	/* ours */
	struct vscsi_resp *resp_at;	/* where the response is for this command */
	u32 data_len;		/* data-in or data-out bytes */
	u32 writable;		/* bytes the device may write (used len bound) */
};

#define VSCSI_INDIRECT	1	/* submit through an indirect table */

/* virtio_scsi_event (5.6.6.3). */
struct vscsi_event {
	u32 event;
	u8 lun[8];
	u32 reason;
} __attribute__((packed));

struct vscsi {
	struct virtio_dev v;
	struct virtio_opts o;
	struct vscsi_config cfg;
	unsigned nreq;		/* request queues set up */
	bool indirect, event_idx;
	u64 tags[VIRTIO_MAX_QUEUES];	/* next command tag, per request queue */
	struct vscsi_event *ev;	/* VSCSI_NEVENTS buffers */
	u64 events;		/* event buffers the device has returned */
	struct vscsi_event last_event;
	u32 last_event_len;
	void *ctrl;		/* the control request and its response */
};

/* The first virtio-scsi function: 1 found, 0 none, -1 unusable (why). */
int vscsi_probe(struct vscsi *s, char *why, size_t whylen);
/* (Re)initialise: reset, negotiate (no feature bits of 5.6.3), read the
 * config, set up every queue, post the event buffers, DRIVER_OK. */
bool vscsi_init(struct vscsi *s, const struct virtio_opts *o, char *why, size_t whylen);

struct vscsi_cmd *vscsi_cmd_alloc(void);
/* The 8-byte LUN field for LUN `lun` of `target`. */
void vscsi_lun(u8 out[8], unsigned target, unsigned lun);
/* Request queue qi (0-based, control and event queues not counted). */
struct virtq *vscsi_reqq(struct vscsi *s, unsigned qi);

/*
 * Queue one command on request queue qi (not yet kicked): lun, the CDB
 * (cdb_len bytes, the rest zero), data buf/len in direction dir split into
 * nseg descriptors of equal size (len % nseg == 0), flags VSCSI_INDIRECT.
 * Its tag is fresh (c->req.id). 0, or -1 when the queue is full or the
 * command does not fit.
 */
int vscsi_submit(struct vscsi *s, unsigned qi, struct vscsi_cmd *c, const u8 lun[8],
		 const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf, u32 len,
		 unsigned nseg, unsigned flags);
/* Reap every completed command of request queue qi (vq.done, used_len);
 * the number reaped. */
unsigned vscsi_reap(struct vscsi *s, unsigned qi);
/*
 * One command, start to finish. The virtio response byte (c->resp_at has
 * the rest), 0xff if the device never wrote it, or -1 timeout, -2
 * completed without its interrupt, -3 not submitted.
 */
int vscsi_do(struct vscsi *s, unsigned qi, struct vscsi_cmd *c, const u8 lun[8],
	     const u8 *cdb, unsigned cdb_len, enum vscsi_dir dir, void *buf, u32 len,
	     unsigned nseg, unsigned flags);

/* A task management function, waited for (from CPU 0): its response, or
 * -1 timeout, -2 completed without its interrupt, -3 not submitted.
 * *used gets the used length. */
int vscsi_tmf(struct vscsi *s, u32 subtype, const u8 lun[8], u64 tag, u32 *used);
/* An asynchronous notification query: its response (*actual gets
 * event_actual), or as vscsi_tmf. */
int vscsi_an_query(struct vscsi *s, const u8 lun[8], u32 requested, u32 *actual);

/* Take the event buffers the device returned, put them back; the number
 * taken (s->last_event has the latest). */
unsigned vscsi_events_poll(struct vscsi *s);

const char *vscsi_response_name(int r);

#endif
