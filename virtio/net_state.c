// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot and restore of virtio-net: the transport, the queue pairs in
 * use, the receive mode the driver set (promiscuous, all-multicast, MAC
 * table sizes), the MAC and the link state.
 *
 * A quiescent net device still holds chains it popped: receive buffers
 * waiting in a slot for a frame, and frames popped for a transmit batch
 * not yet written. They are saved per queue ("held") and given back on
 * restore. When they are exactly the last entries popped from the
 * available ring (the usual case), the restored queue's last_avail_idx is
 * moved back over them ("rewind"), so the device simply pops them again:
 * nothing is lost. Otherwise each is returned to the guest unused (length
 * 0): an empty receive buffer, which a driver recycles, or a transmitted
 * frame dropped, as a network may.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net_impl.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define HELD_MAX	(NET_RX_SLOTS * NET_SLOT_IOV > NET_TX_BATCH ? \
			 NET_RX_SLOTS * NET_SLOT_IOV : NET_TX_BATCH)

static void queue_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "queue@%u", i);
}

/* The heads of the chains q holds, in the order they were popped as far
 * as kite knows it (receive slots in turn, then the transmit batch). */
static unsigned held_heads(const struct net_vq *q, uint64_t *heads)
{
	unsigned n = 0;

	for (unsigned i = 0; q->rx && i < NET_RX_SLOTS; i++)
		for (unsigned c = 0; c < q->rx->slots[i].nchains; c++)
			heads[n++] = q->rx->slots[i].chains[c].head;
	for (unsigned i = 0; q->tx && i < q->tx->nbatch; i++)
		heads[n++] = q->tx->slots[q->tx->batch[i]].head;
	return n;
}

/* Whether the n held heads are the last n entries popped from the
 * available ring: then moving last_avail_idx back by n re-offers them. */
static bool can_rewind(const struct virtq *vq, const uint64_t *heads, unsigned n)
{
	uint16_t last = virtq_get_last_avail_idx(vq);

	if (!n || n > vq->size || (uint16_t)(last - virtq_get_used_idx(vq)) < n)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint16_t pos = (uint16_t)(last - n + i) & (vq->size - 1);
		const uint16_t *e = guest_mem_ptr(vq->mem, vq->avail_gpa + 4 + 2ULL * pos, 2);
		bool found = false;

		if (!e)
			return false;
		for (unsigned k = 0; k < n && !found; k++)
			found = heads[k] == __atomic_load_n(e, __ATOMIC_RELAXED);
		if (!found)
			return false;
	}
	return true;
}

int net_dev_save(struct device *dev, struct state_tree *st, int node)
{
	struct virtio_net *n = dev->priv;
	uint64_t *heads;

	for (unsigned i = 0; i < n->nq; i++)
		if (atomic_load(&n->queues[i].inflight))
			return err_set(EBUSY, "virtio-net %s: queue %u has %u reads or writes in "
				       "flight (cancel them first)", n->tap->what, i,
				       atomic_load(&n->queues[i].inflight));
	heads = malloc(HELD_MAX * sizeof(*heads));
	if (!heads)
		return err_set(ENOMEM, "virtio-net: out of memory");
	state_put_bytes(st, node, "mac", n->config, 6);
	state_put_u32(st, node, "link-up", n->config[6] & VIRTIO_NET_S_LINK_UP);
	state_put_u32(st, node, "max-pairs", n->max_pairs);
	state_put_u32(st, node, "active-pairs", atomic_load(&n->active_pairs));
	state_put_u32(st, node, "promisc", n->promisc);
	state_put_u32(st, node, "allmulti", n->allmulti);
	state_put_u32(st, node, "uc-macs", n->uc_macs);
	state_put_u32(st, node, "mc-macs", n->mc_macs);
	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];
		struct virtq *vq = atomic_load(&q->vq);
		unsigned k = vq ? held_heads(q, heads) : 0;
		char name[24];
		int qn;

		if (!k)
			continue;
		queue_name(name, sizeof(name), i);
		qn = state_add_node(st, node, name);
		state_put_u64_array(st, qn, "held", heads, k);
		state_put_u32(st, qn, "rewind", can_rewind(vq, heads, k));
	}
	free(heads);
	return virtio_pci_save(n->t, st, state_add_node(st, node, "transport"));
}

/* Give back what queue i held at the snapshot (after the transport
 * restored and enabled it). */
static int give_back(struct virtio_net *n, const void *fdt, int qn, unsigned i, uint64_t *heads)
{
	struct net_vq *q = &n->queues[i];
	struct virtq *vq = atomic_load(&q->vq);
	uint16_t last, used;
	size_t k;
	bool rewind;
	int r;

	r = state_get_u64_array(fdt, qn, "held", heads, HELD_MAX, &k);
	if (!r)
		r = state_get_bool(fdt, qn, "rewind", &rewind);
	if (r)
		return r;
	if (!k)
		return 0;
	if (!vq)
		return err_set(EINVAL, "virtio-net: queue %u holds chains but is not enabled", i);
	last = virtq_get_last_avail_idx(vq);
	used = virtq_get_used_idx(vq);
	if (k > (uint16_t)(last - used))
		return err_set(EINVAL, "virtio-net: queue %u holds %zu chains, %u are in flight", i,
			       k, (uint16_t)(last - used));
	for (size_t j = 0; j < k; j++)
		if (heads[j] >= vq->size)
			return err_set(EINVAL, "virtio-net: queue %u: held chain %llu of a ring "
				       "of %u", i, (unsigned long long)heads[j], vq->size);
	if (rewind) {
		virtq_set_indices(vq, (uint16_t)(last - k), used);
		return 0;
	}
	for (size_t j = 0; j < k; j++)
		virtq_push(vq, (uint16_t)heads[j], 0);
	/* The queue's first batch publishes them and interrupts. */
	atomic_store(&q->dirty, true);
	return 0;
}

int net_dev_restore(struct device *dev, const void *fdt, int node)
{
	struct virtio_net *n = dev->priv;
	uint32_t pairs, max_pairs, uc, mc;
	bool up, promisc, allmulti;
	uint8_t mac[6];
	uint64_t *heads;
	int r;

	r = state_get_bytes(fdt, node, "mac", mac, sizeof(mac));
	if (!r)
		r = state_get_bool(fdt, node, "link-up", &up);
	if (!r)
		r = state_get_u32(fdt, node, "max-pairs", &max_pairs);
	if (!r)
		r = state_get_u32_range(fdt, node, "active-pairs", 1, n->max_pairs, &pairs);
	if (!r)
		r = state_get_bool(fdt, node, "promisc", &promisc);
	if (!r)
		r = state_get_bool(fdt, node, "allmulti", &allmulti);
	if (!r)
		r = state_get_u32(fdt, node, "uc-macs", &uc);
	if (!r)
		r = state_get_u32(fdt, node, "mc-macs", &mc);
	if (r)
		return r;
	if (max_pairs != n->max_pairs)
		return err_set(EINVAL, "virtio-net %s: %u queue pairs in the stream, %u here",
			       n->tap->what, max_pairs, n->max_pairs);
	if (memcmp(mac, n->config, 6))
		return err_set(EINVAL, "virtio-net %s: MAC %02x:%02x:%02x:%02x:%02x:%02x in the "
			       "stream, %02x:%02x:%02x:%02x:%02x:%02x here", n->tap->what,
			       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], n->config[0],
			       n->config[1], n->config[2], n->config[3], n->config[4],
			       n->config[5]);
	/* Pairs join the tap before they are served, as on the control queue. */
	for (unsigned i = 1; i < pairs; i++) {
		r = n->io->set_queue(n->tap, i, true);
		if (r)
			return err_prefix(r, "virtio-net %s", n->tap->what);
	}
	atomic_store(&n->active_pairs, pairs);
	n->promisc = promisc;
	n->allmulti = allmulti;
	n->uc_macs = uc;
	n->mc_macs = mc;
	r = virtio_pci_restore(n->t, fdt, state_node(fdt, node, "transport"));
	if (r)
		return r;
	heads = malloc(HELD_MAX * sizeof(*heads));
	if (!heads)
		return err_set(ENOMEM, "virtio-net: out of memory");
	for (unsigned i = 0; i < n->nq && !r; i++) {
		char name[24];

		queue_name(name, sizeof(name), i);
		if (state_has_node(fdt, node, name))
			r = give_back(n, fdt, state_node(fdt, node, name), i, heads);
	}
	free(heads);
	/* The link is this host's tap's: a change since the snapshot is a
	 * config change the driver must hear about. */
	if (!r && up != !!(n->config[6] & VIRTIO_NET_S_LINK_UP))
		virtio_pci_config_changed(n->t);
	return r;
}
