/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of virtio-scsi shared by scsi.c (device, request queues) and
 * scsi_ctrl.c (control and event queues). Not for other modules.
 */
#ifndef KITE_VIRTIO_SCSI_IMPL_H
#define KITE_VIRTIO_SCSI_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "virtio/scsi.h"
#include "virtio/vq_runner.h"

#define SCSI_CTRL_Q	0
#define SCSI_EVENT_Q	1
#define SCSI_REQ_Q0	2
#define SCSI_EV_PENDING	16	/* events posted and not yet delivered */

/* One request slot; its vqr_req's io_op is what the backend completes. */
struct scsi_req {
	struct vqr_req r;
	struct scsi_lun *lu;		/* NULL: the target has no such LUN */
	uint8_t target;
	bool counted;			/* in q->tgt_busy[target] */
	unsigned nout, nin;		/* the chain's readable and writable iovecs */
	unsigned resp_n;		/* writable iovecs holding the response header */
	int shared;			/* the one of them data-in starts in, or -1 */
	struct iovec saved;		/* ... as it was before data-in was cut from it */
	uint32_t sense_size;		/* as when the request started */
	struct scsi_cmd cmd;
	struct iovec iov[VIRTIO_SCSI_IOV_MAX];
};

/* A task management function waiting for its target's commands. */
struct scsi_tmf {
	uint8_t *resp;			/* its response byte */
	struct scsi_lun *lu;
	uint16_t head;
	uint8_t target;
	uint8_t subtype;
};

/* What virtio-scsi keeps of a queue beside the runner's (vq_runner.h). */
struct scsi_queue {
	/* Request queues. */
	uint8_t *done_tgt;		/* targets of requests pushed, not yet flushed */
	unsigned ndone;
	/* Per target: requests started here and not yet published. Written
	 * by this queue's thread only, read by the control queue's. */
	_Atomic unsigned *tgt_busy;
	/* Control queue. */
	struct scsi_tmf *tmfs;
	unsigned ntmf;
};

struct scsi_event {
	uint32_t event;
	uint32_t reason;
	uint8_t target;
};

struct virtio_scsi {
	struct device dev;
	struct virtio_pci *t;
	const struct blk_io_ops *io;
	unsigned ntargets;
	struct scsi_lun *luns;		/* LUN 0 of each target */
	uint8_t config[VIRTIO_SCSI_CONFIG_LEN];
	_Atomic uint32_t sense_size, cdb_size;	/* the driver may change them */
	unsigned nq;			/* all virtqueues: control, event, requests */
	struct scsi_queue *queues;
	struct vq_runner *r;		/* the queues' machinery */
	_Atomic bool tmf_waiting;	/* a TMF waits: completions must wake it */
	/* Events: posted by any thread under ev_lock, delivered by the event
	 * queue's thread, which alone touches ev_missed. */
	pthread_mutex_t ev_lock;
	struct scsi_event ev[SCSI_EV_PENDING];
	unsigned nev;
	bool ev_overflow;
	bool ev_missed;
};

void scsi_warn(struct virtio_scsi *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The target and LUN a request's lun[8] addresses: the target index, or
 * -1 if there is no such target; *lu is NULL for a LUN it lacks. */
int scsi_lookup(struct virtio_scsi *s, const uint8_t *lun, struct scsi_lun **lu);

/* Wake the control queue's thread (a completion a TMF may wait for). */
void scsi_kick_ctrl(struct virtio_scsi *s);

/* The device's part of runner queue q. */
static inline struct scsi_queue *scsi_queue_of(const struct vqr_queue *q)
{
	return &((struct virtio_scsi *)q->dev)->queues[q->idx];
}

/* scsi_ctrl.c: kicks of the control and event queues (I/O thread). */
void scsi_ctrl_kick(struct vqr_queue *q, struct virtq *vq);
void scsi_event_kick(struct vqr_queue *q, struct virtq *vq);

/* scsi_state.c: the device_ops save and restore (vmm/device.h). */
struct state_tree;
int scsi_dev_save(struct device *dev, struct state_tree *st, int node);
int scsi_dev_restore(struct device *dev, const void *fdt, int node);

#endif
