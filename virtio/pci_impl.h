/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the virtio-pci transport, shared by pci.c and pci_msix.c only. */
#ifndef KITE_VIRTIO_PCI_IMPL_H
#define KITE_VIRTIO_PCI_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "virtio/pci.h"

struct vpci_queue {
	struct virtq vq;
	uint16_t size;			/* the driver's choice, <= the maximum */
	bool enabled;
	uint64_t desc, driver, device;
	_Atomic uint16_t msix_vector;	/* read by I/O threads */
	int kick_fd;
};

/* Per MSI-X vector: its KVM route and irqfd. */
struct vpci_vector {
	_Atomic bool masked;		/* effective: entry, function mask or MSI-X off */
	_Atomic bool routed;		/* the irqfd route carries the entry's message */
	bool has_gsi;
	uint32_t gsi;
	int irqfd;			/* eventfd attached to gsi */
};

struct virtio_pci {
	struct pci_func func;		/* first: pci.c's opaque points here */
	struct vm *vm;
	struct irq_router *irq;
	const struct guest_mem *mem;
	struct virtio_pci_opts o;
	uint64_t host_features;		/* offered, with VERSION_1 */
	pthread_mutex_t lock;		/* vCPU-side state below */
	unsigned warnings;

	uint32_t dfselect, gfselect;
	uint64_t guest_features;
	_Atomic unsigned status;
	_Atomic unsigned config_gen;
	uint16_t queue_select;
	_Atomic uint16_t config_vector;
	struct vpci_queue *queues;

	_Atomic unsigned isr;
	unsigned intx_gsi;
	uint64_t ioev_base;		/* BAR address the ioeventfds sit on; 0 none */

	unsigned nvec;
	unsigned msix_cap;		/* config space offsets of two capabilities */
	unsigned pcicfg_cap;
	_Atomic bool msix_enabled;
	uint8_t *msix_table;		/* nvec * 16 bytes, as the guest wrote it */
	_Atomic uint64_t *pba;		/* pending bits, (nvec + 63) / 64 words */
	struct vpci_vector *vecs;
};

void vpci_warn(struct virtio_pci *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vpci_bar_locked(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
		     bool is_write);

int vpci_msix_init(struct virtio_pci *t);
void vpci_msix_free(struct virtio_pci *t);
int vpci_msix_add_cap(struct virtio_pci *t);
/* The guest wrote the message control word (t->lock held). */
void vpci_msix_control(struct virtio_pci *t);
/* Table and PBA accesses (t->lock held); other offsets read as 0. */
void vpci_msix_access(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write);
/* Raise vector v, or leave it pending while masked (lock-free). */
void vpci_msix_fire(struct virtio_pci *t, unsigned v);

/* Put the notify ioeventfds where BAR 0 is mapped now (t->lock held);
 * for restore, after the config space moved the BAR. */
void vpci_sync_ioeventfds(struct virtio_pci *t);

#endif
