// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X for the virtio-pci transport: the capability, the table and PBA in
 * the BAR, and delivery. Each vector that the guest unmasks gets a GSI with
 * an MSI route carrying its table entry's message and an irqfd, so an I/O
 * thread raises it with one eventfd write. A vector that is masked (by its
 * entry or the function mask) collects a pending bit instead, delivered
 * when it is unmasked.
 */
#include "virtio/pci_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/vm.h"

#define PCI_CAP_ID_MSIX		0x11
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_CTRL_FMASK		0x4000
#define MSIX_ENTRY_SIZE		16
#define MSIX_ENTRY_CTRL		12
#define MSIX_ENTRY_MASKED	1

static inline uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int vpci_msix_init(struct virtio_pci *t)
{
	t->msix_table = calloc(t->nvec, MSIX_ENTRY_SIZE);
	t->pba = calloc((t->nvec + 63) / 64, sizeof(*t->pba));
	t->vecs = calloc(t->nvec, sizeof(*t->vecs));
	if (!t->msix_table || !t->pba || !t->vecs)
		return err_set(ENOMEM, "%s: MSI-X", t->o.name);
	for (unsigned v = 0; v < t->nvec; v++) {
		/* Every vector starts masked (PCI 6.8.2.9). */
		t->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] = MSIX_ENTRY_MASKED;
		atomic_store(&t->vecs[v].masked, true);
		t->vecs[v].irqfd = -1;
	}
	for (unsigned v = 0; v < t->nvec; v++) {
		t->vecs[v].irqfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (t->vecs[v].irqfd < 0)
			return err_sys(errno, "%s: eventfd", t->o.name);
	}
	return 0;
}

void vpci_msix_free(struct virtio_pci *t)
{
	for (unsigned v = 0; t->vecs && v < t->nvec; v++) {
		struct vpci_vector *vec = &t->vecs[v];

		if (vec->has_gsi) {
			irq_irqfd_detach(t->irq, vec->irqfd, vec->gsi);
			irq_msi_free(t->irq, vec->gsi);
		}
		if (vec->irqfd >= 0)
			close(vec->irqfd);
	}
	if (t->vecs)
		irq_commit(t->irq);
	free(t->vecs);
	free((void *)t->pba);
	free(t->msix_table);
	t->vecs = NULL;
	t->pba = NULL;
	t->msix_table = NULL;
}

int vpci_msix_add_cap(struct virtio_pci *t)
{
	uint8_t body[10] = { 0 }, wm[10] = { 0 };
	int r;

	body[0] = (t->nvec - 1) & 0xff;
	body[1] = (t->nvec - 1) >> 8;
	/* Table and PBA in BAR 0 (BIR 0 in the low bits of each offset). */
	body[2] = VIRTIO_PCI_MSIX_TABLE_OFF & 0xff;
	body[3] = VIRTIO_PCI_MSIX_TABLE_OFF >> 8;
	body[6] = VIRTIO_PCI_MSIX_PBA_OFF & 0xff;
	body[7] = VIRTIO_PCI_MSIX_PBA_OFF >> 8;
	wm[1] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8;
	r = pci_func_add_cap(&t->func, PCI_CAP_ID_MSIX, body, wm, sizeof(body));
	if (r >= 0)
		t->msix_cap = r;
	return r;
}

static uint16_t msix_ctrl(struct virtio_pci *t)
{
	return t->func.cfg[t->msix_cap + 2] | t->func.cfg[t->msix_cap + 3] << 8;
}

static void deliver(struct virtio_pci *t, unsigned v)
{
	const uint8_t *e = &t->msix_table[v * MSIX_ENTRY_SIZE];
	uint64_t one = 1;

	if (atomic_load(&t->vecs[v].routed)) {
		if (write(t->vecs[v].irqfd, &one, 8) == 8)
			return;
	}
	/* No irqfd route (or it failed): inject the message directly. */
	irq_signal_msi(t->irq, get32(e) | (uint64_t)get32(e + 4) << 32, get32(e + 8));
}

/* Deliver v if it is pending and unmasked; the test-and-clear makes a
 * racing fire and unmask deliver once. */
static void drain(struct virtio_pci *t, unsigned v)
{
	uint64_t bit = 1ULL << (v % 64);

	if (atomic_load(&t->vecs[v].masked))
		return;
	if (atomic_fetch_and(&t->pba[v / 64], ~bit) & bit)
		deliver(t, v);
}

void vpci_msix_fire(struct virtio_pci *t, unsigned v)
{
	if (v >= t->nvec)
		return;
	atomic_fetch_or(&t->pba[v / 64], 1ULL << (v % 64));
	drain(t, v);
}

/* Point vector v's route at its table entry; false if it has none. */
static bool route_vector(struct virtio_pci *t, unsigned v)
{
	struct vpci_vector *vec = &t->vecs[v];
	const uint8_t *e = &t->msix_table[v * MSIX_ENTRY_SIZE];

	if (!vec->has_gsi) {
		if (irq_msi_alloc(t->irq, &vec->gsi) < 0) {
			vpci_warn(t, "vector %u: %s", v, err_msg());
			return false;
		}
		if (irq_irqfd_attach(t->irq, vec->irqfd, vec->gsi) < 0) {
			vpci_warn(t, "vector %u: %s", v, err_msg());
			irq_msi_free(t->irq, vec->gsi);
			return false;
		}
		vec->has_gsi = true;
	}
	return irq_msi_set(t->irq, vec->gsi, get32(e) | (uint64_t)get32(e + 4) << 32,
			   get32(e + 8)) == 0;
}

/*
 * Recompute the effective mask of vectors [first, last) and bring their
 * routes up to date: routes of every unmasked vector first, one
 * KVM_SET_GSI_ROUTING for all of them, then unmask and deliver what was
 * pending, so nothing is delivered through a stale route.
 */
static void sync_vectors(struct virtio_pci *t, unsigned first, unsigned last)
{
	uint16_t ctrl = msix_ctrl(t);
	bool off = !(ctrl & MSIX_CTRL_ENABLE) || (ctrl & MSIX_CTRL_FMASK);
	bool ok[last - first];
	bool committed;

	for (unsigned v = first; v < last; v++) {
		bool m = off || (t->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] &
				 MSIX_ENTRY_MASKED);

		ok[v - first] = false;
		if (m)
			atomic_store(&t->vecs[v].masked, true);
		else
			ok[v - first] = route_vector(t, v);
	}
	committed = irq_commit(t->irq) == 0;
	if (!committed)
		vpci_warn(t, "%s; MSI-X falls back to KVM_SIGNAL_MSI", err_msg());
	for (unsigned v = first; v < last; v++) {
		if (t->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] & MSIX_ENTRY_MASKED || off)
			continue;
		atomic_store(&t->vecs[v].routed, ok[v - first] && committed);
		atomic_store(&t->vecs[v].masked, false);
		drain(t, v);
	}
}

void vpci_msix_control(struct virtio_pci *t)
{
	bool en = msix_ctrl(t) & MSIX_CTRL_ENABLE;

	if (en && !atomic_load(&t->msix_enabled) && atomic_load(&t->isr))
		vm_irq_line(t->vm, t->intx_gsi, 0);	/* INTx is off under MSI-X */
	atomic_store(&t->msix_enabled, en);
	sync_vectors(t, 0, t->nvec);
}

void vpci_msix_access(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	uint64_t tsize = (uint64_t)t->nvec * MSIX_ENTRY_SIZE;
	uint64_t psize = 8ULL * ((t->nvec + 63) / 64);

	if (off >= VIRTIO_PCI_MSIX_TABLE_OFF && off + len <= VIRTIO_PCI_MSIX_TABLE_OFF + tsize) {
		unsigned o = off - VIRTIO_PCI_MSIX_TABLE_OFF;
		unsigned first = o / MSIX_ENTRY_SIZE, last = (o + len - 1) / MSIX_ENTRY_SIZE + 1;

		if (!is_write) {
			memcpy(data, t->msix_table + o, len);
			return;
		}
		memcpy(t->msix_table + o, data, len);
		for (unsigned v = first; v < last; v++) {
			uint8_t *c = &t->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL];

			/* Only the mask bit of vector control is writable. */
			c[0] &= MSIX_ENTRY_MASKED;
			c[1] = c[2] = c[3] = 0;
		}
		sync_vectors(t, first, last);
	} else if (off >= VIRTIO_PCI_MSIX_PBA_OFF && off + len <= VIRTIO_PCI_MSIX_PBA_OFF + psize) {
		unsigned o = off - VIRTIO_PCI_MSIX_PBA_OFF;

		/* Read-only; writes are ignored (PCI 6.8.2.10). */
		for (unsigned i = 0; !is_write && i < len; i++)
			data[i] = atomic_load(&t->pba[(o + i) / 8]) >> (8 * ((o + i) % 8));
	}
}
