// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot and restore of the virtio-pci transport: see pci.h. Restore
 * decodes and checks the whole node into a staging copy first, so a bad
 * tree is refused before anything is mapped, routed or enabled.
 */
#include "virtio/pci_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/state.h"
#include "vmm/vm.h"

#define MSIX_ENTRY_SIZE		16
#define MSIX_ENTRY_CTRL		12
#define MSIX_ENTRY_MASKED	1
#define ISR_MASK		3	/* queue | config */

struct queue_stage {
	uint16_t size, vector, last_avail, used;
	bool enabled;
	uint64_t desc, driver, device;
};

struct stage {
	uint64_t guest_features;
	uint32_t dfselect, gfselect, status, config_gen, queue_select, config_vector, isr;
	uint8_t *table;
	uint64_t *pba;
	struct queue_stage *q;
};

static unsigned pba_words(const struct virtio_pci *t)
{
	return (t->nvec + 63) / 64;
}

static void queue_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "queue@%u", i);
}

/* ---- save ---- */

static int save_queue(struct virtio_pci *t, struct state_tree *st, int node, unsigned i)
{
	const struct vpci_queue *q = &t->queues[i];
	char name[24];
	int n;

	queue_name(name, sizeof(name), i);
	n = state_add_node(st, node, name);
	state_put_u32(st, n, "size", q->size);
	state_put_u32(st, n, "msix-vector", atomic_load(&q->msix_vector));
	state_put_u32(st, n, "enabled", q->enabled);
	state_put_u64(st, n, "desc", q->desc);
	state_put_u64(st, n, "driver", q->driver);
	state_put_u64(st, n, "device", q->device);
	if (q->enabled) {
		state_put_u32(st, n, "last-avail-idx", virtq_get_last_avail_idx(&q->vq));
		state_put_u32(st, n, "used-idx", virtq_get_used_idx(&q->vq));
	}
	return state_error(st);
}

int virtio_pci_save(struct virtio_pci *t, struct state_tree *st, int node)
{
	uint64_t pba[pba_words(t)];
	int r;

	/* Config space first: its lock (the host's) is taken before ours on
	 * the guest's config path, never after. */
	r = pci_func_save(&t->func, st, node);
	if (r)
		return r;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->o.num_queues; i++) {
		const struct virtq *vq = &t->queues[i].vq;

		/* A used entry written but not published would be lost:
		 * the device must flush before a snapshot. */
		if (t->queues[i].enabled && vq->used_idx != vq->used_published) {
			pthread_mutex_unlock(&t->lock);
			return err_set(EBUSY, "%s: queue %u has %u used entries not yet published "
				       "(the device is not quiescent)", t->func.name, i,
				       (uint16_t)(vq->used_idx - vq->used_published));
		}
	}
	for (unsigned w = 0; w < pba_words(t); w++)
		pba[w] = atomic_load(&t->pba[w]);
	state_put_u32(st, node, "device-id", t->o.device_id);
	state_put_u32(st, node, "num-queues", t->o.num_queues);
	state_put_u32(st, node, "queue-max", t->o.queue_size);
	state_put_u64(st, node, "host-features", t->host_features);
	state_put_u64(st, node, "guest-features", t->guest_features);
	state_put_u32(st, node, "dfselect", t->dfselect);
	state_put_u32(st, node, "gfselect", t->gfselect);
	state_put_u32(st, node, "status", atomic_load(&t->status));
	state_put_u32(st, node, "config-generation", atomic_load(&t->config_gen));
	state_put_u32(st, node, "queue-select", t->queue_select);
	state_put_u32(st, node, "config-vector", atomic_load(&t->config_vector));
	state_put_u32(st, node, "isr", atomic_load(&t->isr));
	state_put_bytes(st, node, "msix-table", t->msix_table, (size_t)t->nvec * MSIX_ENTRY_SIZE);
	state_put_u64_array(st, node, "msix-pba", pba, pba_words(t));
	for (unsigned i = 0; i < t->o.num_queues && !state_error(st); i++)
		save_queue(t, st, node, i);
	pthread_mutex_unlock(&t->lock);
	return state_error(st);
}

/* ---- restore: decode and check ---- */

static bool vector_ok(const struct virtio_pci *t, uint32_t v)
{
	return v < t->nvec || v == VIRTIO_MSI_NO_VECTOR;
}

static int load_queue(struct virtio_pci *t, const void *fdt, int node, unsigned i,
		      const struct stage *s, struct queue_stage *q)
{
	const char *name = t->func.name;
	uint32_t size, vec, last, used;
	char qname[24];
	int n, r;

	queue_name(qname, sizeof(qname), i);
	n = state_node(fdt, node, qname);
	if (n < 0)
		return n;
	r = state_get_u32_range(fdt, n, "size", 0, t->o.queue_size, &size);
	if (!r)
		r = state_get_u32_range(fdt, n, "msix-vector", 0, 0xffff, &vec);
	if (!r)
		r = state_get_bool(fdt, n, "enabled", &q->enabled);
	if (!r)
		r = state_get_u64(fdt, n, "desc", &q->desc);
	if (!r)
		r = state_get_u64(fdt, n, "driver", &q->driver);
	if (!r)
		r = state_get_u64(fdt, n, "device", &q->device);
	if (r)
		return r;
	if (!vector_ok(t, vec))
		return err_set(EINVAL, "%s: queue %u: MSI-X vector %u of %u", name, i, vec,
			       t->nvec);
	q->size = size;
	q->vector = vec;
	if (!q->enabled)
		return 0;
	if (!(s->status & VIRTIO_STATUS_FEATURES_OK))
		return err_set(EINVAL, "%s: queue %u is enabled but status 0x%x lacks FEATURES_OK",
			       name, i, s->status);
	r = state_get_u32_range(fdt, n, "last-avail-idx", 0, 0xffff, &last);
	if (!r)
		r = state_get_u32_range(fdt, n, "used-idx", 0, 0xffff, &used);
	if (r)
		return r;
	/* The device consumes before it completes, by at most a ring. */
	if ((uint16_t)(last - used) > size)
		return err_set(EINVAL, "%s: queue %u: %u chains consumed but not completed in a "
			       "ring of %u", name, i, (uint16_t)(last - used), size);
	q->last_avail = last;
	q->used = used;
	return 0;
}

static int load(struct virtio_pci *t, const void *fdt, int node, struct stage *s)
{
	const char *name = t->func.name;
	uint32_t id, nq, qmax;
	size_t nw;
	int r;

	r = state_get_u32(fdt, node, "device-id", &id);
	if (!r)
		r = state_get_u32(fdt, node, "num-queues", &nq);
	if (!r)
		r = state_get_u32(fdt, node, "queue-max", &qmax);
	if (r)
		return r;
	if (id != t->o.device_id || nq != t->o.num_queues || qmax != t->o.queue_size)
		return err_set(EINVAL, "%s: the stream has device type %u with %u queues of %u, "
			       "this VM type %u with %u queues of %u", name, id, nq, qmax,
			       t->o.device_id, t->o.num_queues, t->o.queue_size);
	r = state_get_u64(fdt, node, "guest-features", &s->guest_features);
	if (!r)
		r = state_get_u32(fdt, node, "dfselect", &s->dfselect);
	if (!r)
		r = state_get_u32(fdt, node, "gfselect", &s->gfselect);
	if (!r)
		r = state_get_u32_range(fdt, node, "status", 0, 0xff, &s->status);
	if (!r)
		r = state_get_u32_range(fdt, node, "config-generation", 0, 0xff, &s->config_gen);
	if (!r)
		r = state_get_u32_range(fdt, node, "queue-select", 0, 0xffff, &s->queue_select);
	if (!r)
		r = state_get_u32_range(fdt, node, "config-vector", 0, 0xffff, &s->config_vector);
	if (!r)
		r = state_get_u32_range(fdt, node, "isr", 0, ISR_MASK, &s->isr);
	if (!r)
		r = state_get_bytes(fdt, node, "msix-table", s->table,
				    (size_t)t->nvec * MSIX_ENTRY_SIZE);
	if (!r)
		r = state_get_u64_array(fdt, node, "msix-pba", s->pba, pba_words(t), &nw);
	if (r)
		return r;
	if (nw != pba_words(t))
		return err_set(EINVAL, "%s: MSI-X PBA of %zu words, expected %u", name, nw,
			       pba_words(t));
	if (s->guest_features & ~t->host_features)
		return err_set(EINVAL, "%s: the driver accepted features 0x%llx this VM does not "
			       "offer", name,
			       (unsigned long long)(s->guest_features & ~t->host_features));
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(s->guest_features & (1ULL << VIRTIO_F_VERSION_1)))
		return err_set(EINVAL, "%s: FEATURES_OK without VERSION_1", name);
	if (!vector_ok(t, s->config_vector))
		return err_set(EINVAL, "%s: config MSI-X vector %u of %u", name, s->config_vector,
			       t->nvec);
	for (unsigned i = 0; i < t->o.num_queues; i++) {
		r = load_queue(t, fdt, node, i, s, &s->q[i]);
		if (r)
			return r;
	}
	return 0;
}

/* ---- restore: apply ---- */

/* As a driver's queue enable (pci.c's enable_queue), but an error is
 * returned rather than turned into NEEDS_RESET. t->lock held. */
static int enable_queue(struct virtio_pci *t, unsigned i, const struct queue_stage *s)
{
	struct vpci_queue *q = &t->queues[i];
	uint64_t one = 1;
	int r;

	r = virtq_enable(&q->vq, t->mem, s->size, s->desc, s->driver, s->device,
			 t->guest_features);
	if (r < 0)
		return err_prefix(r, "%s: queue %u", t->func.name, i);
	virtq_set_indices(&q->vq, s->last_avail, s->used);
	r = t->o.ops->queue_enable(t->o.dev, i, &q->vq);
	if (r < 0) {
		virtq_reset(&q->vq);
		return err_prefix(r, "%s: queue %u: the device refused it", t->func.name, i);
	}
	q->enabled = true;
	/* Buffers the guest added (and kicked for) before the snapshot are
	 * in the ring; a kick makes the device look once its thread runs. */
	if (write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
		return err_sys(errno, "%s: queue %u: kick eventfd", t->func.name, i);
	return 0;
}

static int apply(struct virtio_pci *t, const struct stage *s)
{
	uint8_t cmd_hi = t->func.cfg[PCI_COMMAND + 1];
	int r = 0;

	t->guest_features = s->guest_features;
	t->dfselect = s->dfselect;
	t->gfselect = s->gfselect;
	atomic_store(&t->status, s->status);
	atomic_store(&t->config_gen, s->config_gen);
	t->queue_select = s->queue_select;
	atomic_store(&t->config_vector, s->config_vector);
	atomic_store(&t->isr, s->isr);
	memcpy(t->msix_table, s->table, (size_t)t->nvec * MSIX_ENTRY_SIZE);
	for (unsigned v = 0; v < t->nvec; v++) {
		uint8_t *c = &t->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL];

		/* Only the mask bit of vector control exists (pci_msix.c). */
		c[0] &= MSIX_ENTRY_MASKED;
		c[1] = c[2] = c[3] = 0;
	}
	for (unsigned w = 0; w < pba_words(t); w++) {
		unsigned bits = t->nvec - 64 * w;

		/* Bits past the last vector do not exist. */
		atomic_store(&t->pba[w], s->pba[w] & (bits >= 64 ? ~0ULL : (1ULL << bits) - 1));
	}
	/* Routes and irqfds for the unmasked vectors, from the restored
	 * table and the control word in the restored config space. */
	vpci_msix_control(t);
	vpci_sync_ioeventfds(t);
	for (unsigned i = 0; i < t->o.num_queues; i++) {
		struct vpci_queue *q = &t->queues[i];

		q->size = s->q[i].size;
		atomic_store(&q->msix_vector, s->q[i].vector);
		q->desc = s->q[i].desc;
		q->driver = s->q[i].driver;
		q->device = s->q[i].device;
		if (s->q[i].enabled && !r)
			r = enable_queue(t, i, &s->q[i]);
	}
	/* INTx is level-triggered: a new VM's line is low. */
	if (s->isr && !atomic_load(&t->msix_enabled) && !(cmd_hi & (PCI_COMMAND_INTX_DISABLE >> 8)))
		vm_irq_line(t->vm, t->intx_gsi, 1);
	return r;
}

int virtio_pci_restore(struct virtio_pci *t, const void *fdt, int node)
{
	struct stage s = { 0 };
	int r;

	s.table = calloc(t->nvec, MSIX_ENTRY_SIZE);
	s.pba = calloc(pba_words(t), sizeof(*s.pba));
	s.q = calloc(t->o.num_queues, sizeof(*s.q));
	if (!s.table || !s.pba || !s.q) {
		r = err_set(ENOMEM, "%s: out of memory", t->func.name);
		goto out;
	}
	if (atomic_load(&t->status)) {
		r = err_set(EBUSY, "%s: restore needs a device fresh from its creation",
			    t->func.name);
		goto out;
	}
	r = load(t, fdt, node, &s);
	/* Config space (and with it the BAR mapping) before our lock: the
	 * host's lock comes first, as on the guest's config path. */
	if (!r)
		r = pci_func_restore(&t->func, fdt, node);
	if (!r) {
		pthread_mutex_lock(&t->lock);
		r = apply(t, &s);
		pthread_mutex_unlock(&t->lock);
	}
out:
	free(s.table);
	free(s.pba);
	free(s.q);
	return r;
}

void virtio_pci_describe(const struct virtio_pci *t, char *buf, size_t len)
{
	snprintf(buf, len, "slot=%u type=%u queues=%u queue_size=%u features=0x%llx config=%u",
		 t->func.slot, t->o.device_id, t->o.num_queues, t->o.queue_size,
		 (unsigned long long)t->host_features, t->o.config_len);
}
