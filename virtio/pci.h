/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The modern virtio-pci transport (virtio 1.2, 4.1), shared by every virtio
 * device. One 64-bit memory BAR holds common config, ISR, device config,
 * the notify area (one 4-byte slot per queue, each an ioeventfd so kicks do
 * not exit to userspace) and the MSI-X table and PBA (one vector per queue
 * plus one for config changes; each vector routed through an irqfd).
 * Without MSI-X the transport raises INTx and the ISR register, read to
 * clear, says why.
 *
 * A device supplies its offered features, its config space and the ops
 * below; the transport does feature negotiation, the status machine, queue
 * set-up (virtq_enable) and interrupts. Threads: the BAR and config space
 * handlers run on vCPU threads under the transport's lock; the interrupt
 * functions (virtio_pci_notify, ...) are lock-free and meant for I/O
 * threads.
 */
#ifndef KITE_VIRTIO_PCI_H
#define KITE_VIRTIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci.h"
#include "virtio/virtqueue.h"
#include "vmm/irq.h"
#include "vmm/memory.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* + virtio device id */
#define VIRTIO_PCI_MAX_QUEUES	256
#define VIRTIO_MSI_NO_VECTOR	0xffff

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

/* Transport feature bits. */
#define VIRTIO_F_VERSION_1	32

/* Capability types (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4
#define VIRTIO_PCI_CAP_PCI_CFG		5

/* The BAR (BAR 0, 64-bit memory). Fixed offsets keep tests and guests simple. */
#define VIRTIO_PCI_BAR			0
#define VIRTIO_PCI_COMMON_OFF		0x0000
#define VIRTIO_PCI_COMMON_LEN		0x40
#define VIRTIO_PCI_ISR_OFF		0x0100
#define VIRTIO_PCI_ISR_LEN		0x4
#define VIRTIO_PCI_DEVICE_OFF		0x1000
#define VIRTIO_PCI_DEVICE_MAX		0x1000
#define VIRTIO_PCI_NOTIFY_OFF		0x2000
#define VIRTIO_PCI_NOTIFY_MULT		4
#define VIRTIO_PCI_MSIX_TABLE_OFF	0x3000
#define VIRTIO_PCI_MSIX_PBA_OFF		0x5000
#define VIRTIO_PCI_BAR_SIZE		0x8000

/* The queue's kick eventfd is written for a notify that reached the BAR
 * handler (ioeventfd not wired), so devices see one kind of kick. */

struct virtio_pci;
struct vm;

struct virtio_dev_ops {
	/*
	 * The driver enabled queue `idx`: q is checked and mapped (vCPU
	 * thread, transport lock held). The device may start using it from
	 * its I/O thread. Non-zero refuses (the device goes to NEEDS_RESET).
	 */
	int (*queue_enable)(void *dev, unsigned idx, struct virtq *q);
	/*
	 * Device reset (driver wrote status 0, or the VM resets): stop using
	 * every queue and return only once no request is in flight and no
	 * I/O thread touches a ring; the transport then resets the queues.
	 */
	void (*reset)(void *dev);
	/* Optional: the driver wrote device config (already bounds-checked). */
	void (*config_write)(void *dev, unsigned off, const uint8_t *data, unsigned len);
};

struct virtio_pci_opts {
	const char *name;		/* "virtio-blk" (PCI function name, logs) */
	uint16_t device_id;		/* virtio device type: 2 block, 8 scsi, 1 net */
	uint32_t class_code;		/* PCI class, e.g. 0x018000 (storage) */
	uint64_t features;		/* offered; VERSION_1 is added */
	unsigned num_queues;		/* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_size;		/* largest size (power of two) per queue */
	const void *config;		/* device config space, owned by the device */
	unsigned config_len;		/* <= VIRTIO_PCI_DEVICE_MAX */
	const struct virtio_dev_ops *ops;
	void *dev;
};

/*
 * Build the PCI function, put it on `host` (pci_add), create the kick
 * eventfds and register them as ioeventfds on the notify slots (they follow
 * BAR moves). `vm` is for INTx (vm_irq_line), `mem` for the rings.
 */
int virtio_pci_create(struct virtio_pci **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_pci_opts *o);
void virtio_pci_destroy(struct virtio_pci *t);

/* The eventfd a guest kick of queue idx signals (for the device's I/O thread). */
int virtio_pci_kick_fd(const struct virtio_pci *t, unsigned idx);
/* The features the driver acknowledged (valid once FEATURES_OK is set). */
uint64_t virtio_pci_features(const struct virtio_pci *t);
struct pci_func *virtio_pci_func(struct virtio_pci *t);

/* Used-buffer notification for queue idx (I/O thread, lock-free). */
void virtio_pci_notify(struct virtio_pci *t, unsigned idx);
/* The device changed its config space: bump config_generation, interrupt. */
void virtio_pci_config_changed(struct virtio_pci *t);
/* Something the guest did broke the device: DEVICE_NEEDS_RESET + config
 * interrupt. The driver must reset the device. */
void virtio_pci_set_needs_reset(struct virtio_pci *t);
/* Device reset from the VMM side (VM reset): as a status write of 0. */
void virtio_pci_reset(struct virtio_pci *t);

struct state_tree;
/*
 * Snapshot of the transport (virtio/pci_state.c), as properties and
 * "queue@N" children of `node` (vmm/state.h): PCI config space, status,
 * features, selectors, config generation, ISR, MSI-X table and PBA, and
 * per queue its size, vector, addresses, enable and ring indices.
 *
 * Save needs a quiescent device (no I/O thread running, every used entry
 * published): -EBUSY otherwise. Restore takes a transport fresh from
 * virtio_pci_create() with the same options, its device's threads not yet
 * started; it checks the whole node first, then maps the BAR, routes the
 * MSI-X vectors, and enables each queue through virtq_enable() and the
 * device's queue_enable(), as a driver's enable would, and sets the ring
 * indices. Each enabled queue's kick eventfd is signalled once, so the
 * device looks at its rings as soon as its threads start.
 */
int virtio_pci_save(struct virtio_pci *t, struct state_tree *st, int node);
int virtio_pci_restore(struct virtio_pci *t, const void *fdt, int node);
/* The guest-visible shape in one line (slot, type, queues, features), to
 * compare the device sets of a stream and a VM. */
void virtio_pci_describe(const struct virtio_pci *t, char *buf, size_t len);

#endif
