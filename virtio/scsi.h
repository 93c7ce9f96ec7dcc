/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-scsi (virtio 1.2, 5.6) on the virtio-pci transport: one SCSI host
 * whose targets 0..n-1 each have one logical unit, LUN 0, a disk served by
 * the SCSI disk target (virtio/scsi_disk.h).
 *
 * Queues: 0 control, 1 event, 2.. requests. Request queue i belongs to I/O
 * thread i % nthreads, control and event to thread 0. The data path is
 * virtio-blk's, through the same queue runner (virtio/vq_runner.h):
 * request slots per queue allocated when the driver enables it, the
 * guest's data buffers handed straight to the disk backend, one used-ring
 * flush and at most one interrupt per queue per batch.
 *
 * A lun[8] naming a target that does not exist gets VIRTIO_SCSI_S_BAD_TARGET
 * (the request was never processed); another LUN of an existing target is
 * answered by that target as SPC-4 says for an incorrect logical unit
 * (INQUIRY: peripheral qualifier 011b; other commands: LOGICAL UNIT NOT
 * SUPPORTED), and a TMF naming it gets VIRTIO_SCSI_S_INCORRECT_LUN.
 *
 * Task management functions complete once every command the target had
 * in flight has completed and been published, so the driver never sees a
 * TMF done while the device may still write a command's buffers; there is
 * no queue of unstarted commands (each one starts when it is popped), so
 * nothing is ever aborted. Asynchronous notification: no events are
 * supported (event_actual 0). Event buffers stay in the event queue until
 * an event is posted (virtio_scsi_post_event); one that finds no buffer is
 * lost, and the next event (or a NO_EVENT, as soon as a buffer comes)
 * carries VIRTIO_SCSI_T_EVENTS_MISSED.
 */
#ifndef KITE_VIRTIO_SCSI_H
#define KITE_VIRTIO_SCSI_H

#include <stdint.h>

#include "virtio/blk.h"
#include "virtio/disk.h"
#include "virtio/pci.h"
#include "virtio/scsi_disk.h"
#include "vmm/device.h"
#include "vmm/iothread.h"

#define VIRTIO_ID_SCSI			8

/* Feature bits (5.6.3); kite offers none of them. */
#define VIRTIO_SCSI_F_INOUT		0
#define VIRTIO_SCSI_F_HOTPLUG		1
#define VIRTIO_SCSI_F_CHANGE		2
#define VIRTIO_SCSI_F_T10_PI		3

/* Response values (5.6.6.1, 5.6.6.2). */
#define VIRTIO_SCSI_S_OK		0
#define VIRTIO_SCSI_S_FUNCTION_COMPLETE	0
#define VIRTIO_SCSI_S_OVERRUN		1
#define VIRTIO_SCSI_S_ABORTED		2
#define VIRTIO_SCSI_S_BAD_TARGET	3
#define VIRTIO_SCSI_S_RESET		4
#define VIRTIO_SCSI_S_BUSY		5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE	6
#define VIRTIO_SCSI_S_TARGET_FAILURE	7
#define VIRTIO_SCSI_S_NEXUS_FAILURE	8
#define VIRTIO_SCSI_S_FAILURE		9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED	11
#define VIRTIO_SCSI_S_INCORRECT_LUN	12

/* Control queue requests. */
#define VIRTIO_SCSI_T_TMF		0
#define VIRTIO_SCSI_T_AN_QUERY		1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE	2
#define VIRTIO_SCSI_T_TMF_ABORT_TASK		0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK_SET	1
#define VIRTIO_SCSI_T_TMF_CLEAR_ACA		2
#define VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET	3
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET	4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET	5
#define VIRTIO_SCSI_T_TMF_QUERY_TASK		6
#define VIRTIO_SCSI_T_TMF_QUERY_TASK_SET	7

/* Events. */
#define VIRTIO_SCSI_T_NO_EVENT		0
#define VIRTIO_SCSI_T_TRANSPORT_RESET	1
#define VIRTIO_SCSI_T_ASYNC_NOTIFY	2
#define VIRTIO_SCSI_T_PARAM_CHANGE	3
#define VIRTIO_SCSI_T_EVENTS_MISSED	0x80000000U
#define VIRTIO_SCSI_EVT_RESET_HARD	0
#define VIRTIO_SCSI_EVT_RESET_RESCAN	1
#define VIRTIO_SCSI_EVT_RESET_REMOVED	2

/* Sizes. */
#define VIRTIO_SCSI_CDB_DEFAULT		32
#define VIRTIO_SCSI_SENSE_DEFAULT	96
#define VIRTIO_SCSI_REQ_HDR		19	/* lun, id, task_attr, prio, crn */
#define VIRTIO_SCSI_RESP_HDR		12	/* sense_len .. response */
#define VIRTIO_SCSI_EVENT_LEN		16
#define VIRTIO_SCSI_CONFIG_LEN		36

/* Limits kite advertises. */
#define VIRTIO_SCSI_IOV_MAX		128	/* per request: seg_max + the two headers */
#define VIRTIO_SCSI_SEG_MAX		(VIRTIO_SCSI_IOV_MAX - 2)
#define VIRTIO_SCSI_MAX_SECTORS		0xffff
#define VIRTIO_SCSI_MAX_TARGETS		256
#define VIRTIO_SCSI_MAX_REQ_QUEUES	(VIRTIO_PCI_MAX_QUEUES - 2)

struct virtio_scsi_opts {
	struct disk **disks;		/* target i is *disks[i], opened; the disks (not
					 * this array) must outlive the device */
	unsigned ndisks;		/* 1..VIRTIO_SCSI_MAX_TARGETS */
	struct iothread **threads;	/* created, not yet started */
	unsigned nthreads;		/* >= 1 */
	unsigned num_queues;		/* request queues, 1..VIRTIO_SCSI_MAX_REQ_QUEUES */
	unsigned queue_size;		/* power of two, <= VIRTQ_MAX_SIZE; 0: 256 */
	const struct blk_io_ops *io;	/* NULL: virtio_blk_io_default; virtio-blk's
					 * table, as both make the same calls */
};

struct virtio_scsi;

/* Create the controller and its PCI function, watch every queue's kick
 * eventfd and register the batch hooks. Call before the threads start. */
int virtio_scsi_create(struct virtio_scsi **out, struct vm *vm, struct pci_host *host,
		       struct irq_router *irq, const struct guest_mem *mem,
		       const struct virtio_scsi_opts *o);
/* For vm_add_device(): reset (device reset as by the driver), free. */
struct device *virtio_scsi_device(struct virtio_scsi *s);
struct virtio_pci *virtio_scsi_transport(struct virtio_scsi *s);

/*
 * Post an event for LUN 0 of `target` (any thread): it is queued and the
 * event queue's I/O thread delivers it into the next event buffer, or
 * counts it as missed if there is none. Returns 0, -EINVAL for a target
 * that does not exist, -EOPNOTSUPP for an event the driver did not
 * negotiate (RESCAN/REMOVED resets need HOTPLUG, PARAM_CHANGE needs
 * CHANGE, ASYNC_NOTIFY a subscription, none of which kite offers).
 */
int virtio_scsi_post_event(struct virtio_scsi *s, uint32_t event, unsigned target,
			   uint32_t reason);

/* The I/O threads must be stopped first. */
void virtio_scsi_destroy(struct virtio_scsi *s);

#endif
