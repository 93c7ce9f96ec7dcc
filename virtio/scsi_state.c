// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot and restore of virtio-scsi: the transport, the sizes the driver
 * wrote into config space, each target's write-cache enable and pending
 * unit attention, and the events posted but not yet delivered. Commands
 * and task management functions in flight are not carried: a device that
 * has any is refused (vmm/device.h).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "virtio/scsi_impl.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define UA_MAX		0x1ff	/* 0x100 | ASCQ of ASC 29h, or 0 */

static void target_name(char *buf, size_t len, unsigned t)
{
	snprintf(buf, len, "target@%u", t);
}

static int busy(struct virtio_scsi *s)
{
	for (unsigned i = 0; i < s->nq; i++) {
		struct scsi_queue *q = &s->queues[i];

		if (vqr_inflight(s->r, i))
			return err_set(EBUSY, "virtio-scsi: queue %u has %u commands in flight", i,
				       vqr_inflight(s->r, i));
		if (q->ntmf)
			return err_set(EBUSY, "virtio-scsi: %u task management functions wait "
				       "for their targets", q->ntmf);
	}
	return 0;
}

int scsi_dev_save(struct device *dev, struct state_tree *st, int node)
{
	struct virtio_scsi *s = dev->priv;
	uint64_t ev[3 * SCSI_EV_PENDING];
	unsigned nev;
	bool overflow;
	int r = busy(s);

	if (r)
		return r;
	pthread_mutex_lock(&s->ev_lock);
	nev = s->nev;
	for (unsigned i = 0; i < nev; i++) {
		ev[3 * i] = s->ev[i].event;
		ev[3 * i + 1] = s->ev[i].reason;
		ev[3 * i + 2] = s->ev[i].target;
	}
	overflow = s->ev_overflow;
	pthread_mutex_unlock(&s->ev_lock);

	state_put_u32(st, node, "sense-size", atomic_load(&s->sense_size));
	state_put_u32(st, node, "cdb-size", atomic_load(&s->cdb_size));
	state_put_u32(st, node, "targets", s->ntargets);
	for (unsigned t = 0; t < s->ntargets; t++) {
		const struct scsi_lun *lu = &s->luns[t];
		char name[24];
		int n;

		target_name(name, sizeof(name), t);
		n = state_add_node(st, node, name);
		state_put_u64(st, n, "blocks", lu->nblocks);
		state_put_u32(st, n, "block-size", lu->block_size);
		state_put_u32(st, n, "wce", atomic_load(&lu->wce));
		state_put_u32(st, n, "unit-attention", atomic_load(&lu->ua));
	}
	state_put_u64_array(st, node, "events", ev, 3 * nev);
	state_put_u32(st, node, "events-overflow", overflow);
	state_put_u32(st, node, "events-missed", s->ev_missed);
	return virtio_pci_save(s->t, st, state_add_node(st, node, "transport"));
}

static int load_target(struct virtio_scsi *s, const void *fdt, int node, unsigned t,
		       bool *wce, uint32_t *ua)
{
	const struct scsi_lun *lu = &s->luns[t];
	char name[24];
	uint64_t blocks;
	uint32_t bs;
	int n, r;

	target_name(name, sizeof(name), t);
	n = state_node(fdt, node, name);
	r = state_get_u64(fdt, n, "blocks", &blocks);
	if (!r)
		r = state_get_u32(fdt, n, "block-size", &bs);
	if (!r)
		r = state_get_bool(fdt, n, "wce", wce);
	if (!r)
		r = state_get_u32_range(fdt, n, "unit-attention", 0, UA_MAX, ua);
	if (r)
		return r;
	if (blocks != lu->nblocks || bs != lu->block_size)
		return err_set(EINVAL, "virtio-scsi: target %u: the stream's disk has %llu blocks "
			       "of %u bytes, this one %llu of %u", t, (unsigned long long)blocks,
			       bs, (unsigned long long)lu->nblocks, lu->block_size);
	if (*ua && !(*ua & 0x100))
		return err_set(EINVAL, "virtio-scsi: target %u: unit attention 0x%x", t, *ua);
	return 0;
}

int scsi_dev_restore(struct device *dev, const void *fdt, int node)
{
	struct virtio_scsi *s = dev->priv;
	uint64_t ev[3 * SCSI_EV_PENDING];
	bool wce[VIRTIO_SCSI_MAX_TARGETS], overflow, missed;
	uint32_t ua[VIRTIO_SCSI_MAX_TARGETS], sense, cdb, ntargets;
	size_t n;
	int r;

	r = state_get_u32(fdt, node, "sense-size", &sense);
	if (!r)
		r = state_get_u32(fdt, node, "cdb-size", &cdb);
	if (!r)
		r = state_get_u32(fdt, node, "targets", &ntargets);
	if (r)
		return r;
	if (ntargets != s->ntargets)
		return err_set(EINVAL, "virtio-scsi: %u targets in the stream, %u here", ntargets,
			       s->ntargets);
	for (unsigned t = 0; t < s->ntargets; t++) {
		r = load_target(s, fdt, node, t, &wce[t], &ua[t]);
		if (r)
			return r;
	}
	r = state_get_u64_array(fdt, node, "events", ev, 3 * SCSI_EV_PENDING, &n);
	if (!r)
		r = state_get_bool(fdt, node, "events-overflow", &overflow);
	if (!r)
		r = state_get_bool(fdt, node, "events-missed", &missed);
	if (r)
		return r;
	if (n % 3)
		return err_set(EINVAL, "virtio-scsi: events: %zu values, not triples", n);
	for (size_t i = 0; i < n; i += 3)
		if (ev[i] > UINT32_MAX || ev[i + 1] > UINT32_MAX || ev[i + 2] >= s->ntargets)
			return err_set(EINVAL, "virtio-scsi: event %zu: type 0x%llx for target "
				       "%llu", i / 3, (unsigned long long)ev[i],
				       (unsigned long long)ev[i + 2]);
	/* The transport last: its queue enables hand the queues to the
	 * device, which must by then hold the rest of its state. */
	for (unsigned t = 0; t < s->ntargets; t++) {
		atomic_store(&s->luns[t].wce, wce[t]);
		atomic_store(&s->luns[t].ua, ua[t]);
	}
	sense = htole32(sense);
	cdb = htole32(cdb);
	memcpy(s->config + 20, &sense, 4);
	memcpy(s->config + 24, &cdb, 4);
	atomic_store(&s->sense_size, le32toh(sense));
	atomic_store(&s->cdb_size, le32toh(cdb));
	pthread_mutex_lock(&s->ev_lock);
	s->nev = n / 3;
	for (unsigned i = 0; i < s->nev; i++)
		s->ev[i] = (struct scsi_event){ ev[3 * i], ev[3 * i + 1], ev[3 * i + 2] };
	s->ev_overflow = overflow;
	pthread_mutex_unlock(&s->ev_lock);
	s->ev_missed = missed;
	return virtio_pci_restore(s->t, fdt, state_node(fdt, node, "transport"));
}
