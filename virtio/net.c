// SPDX-License-Identifier: Apache-2.0
/* virtio-net: transport ops, control queue, link state, creation. The data
 * path is in net_rxtx.c; see net.h for the design. */
#include "virtio/net_impl.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/err.h"

const struct net_io_ops virtio_net_io_default = {
	.readv = tap_prep_readv, .writev = tap_prep_writev, .poll = tap_prep_poll,
	.cancel = tap_prep_cancel, .sq_space = tap_sq_space,
	.watch_eventfd = iothread_watch_eventfd, .add_batch_hook = iothread_add_batch_hook,
	.set_vnet_hdr = tap_set_vnet_hdr_size, .set_offload = tap_set_offload,
	.set_queue = tap_set_queue, .link_up = tap_link_up, .link_events = tap_link_events,
};

void net_warn(struct virtio_net *n, const char *fmt, ...)
{
	unsigned k = atomic_fetch_add(&n->warnings, 1);
	va_list ap;

	/* A guest can trigger these at will: log the first few only. */
	if (k >= 16)
		return;
	fprintf(stderr, "kite: virtio-net %s: ", n->tap->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(k == 15 ? " (further warnings suppressed)\n" : "\n", stderr);
}

unsigned net_tun_offloads(uint64_t f)
{
	unsigned o;

	/* The tap refuses any TSO flag without TUN_F_CSUM. */
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	o = TUN_F_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((f & BIT(VIRTIO_NET_F_GUEST_ECN)) && (o & (TUN_F_TSO4 | TUN_F_TSO6)))
		o |= TUN_F_TSO_ECN;
	return o;
}

/* Ask the queue's own thread to look at it (start, stop, cancel). */
static void self_kick(struct virtio_net *n, unsigned idx)
{
	uint64_t one = 1;

	if (write(virtio_pci_kick_fd(n->t, idx), &one, sizeof(one)) != sizeof(one))
		net_warn(n, "queue %u: cannot signal its thread", idx);
}

/* ---- control queue ---- */

/* Change the number of queue pairs served (5.1.6.5.5). Newly active
 * queues join the tap before they are served; retired ones stop being
 * served, then leave it, so the tap spreads traffic over served queues. */
static int set_pairs(struct virtio_net *n, unsigned want)
{
	unsigned old = atomic_load(&n->active_pairs);
	int r = 0;

	for (unsigned i = old; i < want && !r; i++)
		r = n->io->set_queue(n->tap, i, true);
	if (r) {
		net_warn(n, "%s", err_msg());
		return r;
	}
	atomic_store(&n->active_pairs, want);
	for (unsigned i = want < old ? want : old; i < (want < old ? old : want); i++) {
		self_kick(n, 2 * i);
		self_kick(n, 2 * i + 1);
	}
	for (unsigned i = want; i < old; i++)
		if (n->io->set_queue(n->tap, i, false))
			net_warn(n, "%s", err_msg());
	return 0;
}

static uint8_t ctrl_command(struct virtio_net *n, uint8_t cls, uint8_t cmd,
			    const struct iovec *iov, unsigned nout, uint32_t dlen)
{
	uint32_t e1, e2;
	uint16_t pairs;
	uint8_t on;

	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		if (!net_has(n, VIRTIO_NET_F_CTRL_RX) || cmd > VIRTIO_NET_CTRL_RX_ALLMULTI || dlen != 1)
			return VIRTIO_NET_ERR;
		virtq_iov_read(iov, nout, 2, &on, 1);
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			n->promisc = on;
		else
			n->allmulti = on;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC:
		/* Two tables, unicast then multicast: le32 count, 6 bytes each. */
		if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET || !net_has(n, VIRTIO_NET_F_CTRL_RX) ||
		    dlen < 8 || virtq_iov_read(iov, nout, 2, &e1, 4) != 4)
			return VIRTIO_NET_ERR;
		e1 = le32toh(e1);
		if (4 + 6ULL * e1 + 4 > dlen ||
		    virtq_iov_read(iov, nout, 2 + 4 + 6ULL * e1, &e2, 4) != 4)
			return VIRTIO_NET_ERR;
		e2 = le32toh(e2);
		if (4 + 6ULL * e1 + 4 + 6ULL * e2 != dlen)
			return VIRTIO_NET_ERR;
		n->uc_macs = e1;
		n->mc_macs = e2;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ:
		if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !net_has(n, VIRTIO_NET_F_MQ) || dlen != 2)
			return VIRTIO_NET_ERR;
		virtq_iov_read(iov, nout, 2, &pairs, 2);
		pairs = le16toh(pairs);
		if (pairs < 1 || pairs > n->max_pairs || set_pairs(n, pairs))
			return VIRTIO_NET_ERR;
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

static void ctrl_drain(struct net_vq *q, struct virtq *vq)
{
	struct iovec iov[NET_CHAIN_IOV];
	struct virtq_chain c;
	int r;

	if (q->broken)
		return;
	virtq_set_kick_notify(vq, false);
	do {
		while ((r = virtq_pop(vq, iov, NET_CHAIN_IOV, &c)) != 0) {
			uint8_t cmd[2], ack;

			if (r == -EIO) {
				net_ring_broken(q);
				return;
			}
			if (r < 0 || !c.nin || c.out_len < 2) {
				net_reject(q, vq, c.head, r < 0 ? err_msg() : "malformed control command");
				continue;
			}
			virtq_iov_read(iov, c.nout, 0, cmd, 2);
			ack = ctrl_command(q->n, cmd[0], cmd[1], iov, c.nout, c.out_len - 2);
			if (ack != VIRTIO_NET_OK)
				net_bump(&q->c.ctrl_errors, 1);
			virtq_iov_write(&iov[c.nout], c.nin, 0, &ack, 1);
			virtq_push(vq, c.head, 1);
			atomic_store(&q->dirty, true);
		}
	} while (virtq_kick_enable_and_check(vq));
}

/* ---- the queue loop (I/O thread) ---- */

static void net_kick(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct net_vq *q = (struct net_vq *)((char *)op - offsetof(struct net_vq, kick_op));
	struct virtq *vq;

	(void)res;
	(void)cqe_flags;
	atomic_store(&q->busy, true);
	vq = atomic_load(&q->vq);
	if (vq && (atomic_load(&q->stopping) || !net_served(q))) {
		net_cancel_waits(q);
	} else if (vq && q->role == ROLE_RX) {
		q->rx->stalled = false;		/* a kick retries a failed tap */
		net_rx_arm(q, vq);
	} else if (vq && q->role == ROLE_TX) {
		net_tx_drain(q, vq);
	} else if (vq && q->role == ROLE_CTRL) {
		ctrl_drain(q, vq);
	}
	atomic_store(&q->busy, false);
}

/* After each batch of completions: one flush and at most one interrupt
 * per queue of this thread. */
static bool net_batch(void *opaque)
{
	struct net_thread *nt = opaque;
	struct virtio_net *n = nt->n;
	bool work = false;

	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];
		struct virtq *vq;

		if (q->thread != nt->t)
			continue;
		atomic_store(&q->busy, true);
		vq = atomic_load(&q->vq);
		if (vq && !atomic_load(&q->stopping)) {
			if (q->role == ROLE_TX && q->tx->deferred) {
				net_tx_drain(q, vq);
				work |= !q->tx->deferred;
			}
			if (atomic_exchange(&q->dirty, false)) {
				virtq_flush(vq);
				if (virtq_need_interrupt(vq))
					virtio_pci_notify(n->t, i);
				work = true;
			}
		}
		atomic_store(&q->busy, false);
	}
	return work;
}

static void set_link(struct virtio_net *n, bool up)
{
	uint8_t old = __atomic_load_n(&n->config[6], __ATOMIC_RELAXED);

	if ((old & VIRTIO_NET_S_LINK_UP) == up)
		return;
	__atomic_store_n(&n->config[6], up ? VIRTIO_NET_S_LINK_UP : 0, __ATOMIC_RELAXED);
	virtio_pci_config_changed(n->t);
}

static void link_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct virtio_net *n = (struct virtio_net *)((char *)op - offsetof(struct virtio_net,
									   link_op));
	bool up;
	int r;

	(void)cqe_flags;
	if (res == -ECANCELED)
		return;		/* the thread is going away */
	r = res < 0 ? res : n->io->link_events(n->tap, &up);
	if (r < 0) {
		net_warn(n, "link events: %s; link state no longer followed",
			 res < 0 ? strerror(-res) : err_msg());
		return;
	}
	if (r > 0)
		set_link(n, up);
	if (n->io->poll(n->threads[0].t, n->tap->nl_fd, POLLIN, &n->link_op) < 0)
		net_warn(n, "link events: cannot re-arm the poll");
}

/* ---- transport ops (vCPU thread) ---- */

static void free_state(struct net_vq *q)
{
	if (q->rx)
		free(q->rx->over);
	free(q->rx);
	free(q->tx);
	q->rx = NULL;
	q->tx = NULL;
}

static int net_queue_enable(void *dev, unsigned idx, struct virtq *vq)
{
	struct virtio_net *n = dev;
	struct net_vq *q = &n->queues[idx];
	uint64_t f = virtio_pci_features(n->t);
	unsigned pairs = f & BIT(VIRTIO_NET_F_MQ) ? n->max_pairs : 1;
	unsigned ctrl = f & BIT(VIRTIO_NET_F_CTRL_VQ) ? 2 * pairs : ~0u;
	unsigned off = net_tun_offloads(f);

	free_state(q);
	/* The control queue moves with MQ (5.1.2): roles follow features. */
	q->role = idx == ctrl ? ROLE_CTRL : idx >= 2 * pairs ? ROLE_NONE
		  : idx & 1 ? ROLE_TX : ROLE_RX;
	q->pair = idx / 2;
	if (q->role == ROLE_RX) {
		q->rx = calloc(1, sizeof(*q->rx));
		if (!q->rx)
			return err_set(ENOMEM, "queue %u: receive slots", idx);
		q->rx->mrg = f & BIT(VIRTIO_NET_F_MRG_RXBUF);
		q->rx->want = HDR_LEN + 18 + ((f & (BIT(VIRTIO_NET_F_GUEST_TSO4) |
						    BIT(VIRTIO_NET_F_GUEST_TSO6)))
					      ? 65535 : n->tap->mtu);
		if (q->rx->mrg && !(q->rx->over = malloc(q->rx->want))) {
			free_state(q);
			return err_set(ENOMEM, "queue %u: receive overflow buffer", idx);
		}
		q->rx->poll_op.complete = net_rx_poll_done;
		for (unsigned i = 0; i < NET_RX_SLOTS; i++) {
			q->rx->slots[i].op.complete = net_rx_done;
			q->rx->slots[i].q = q;
		}
	} else if (q->role == ROLE_TX) {
		q->tx = calloc(1, sizeof(*q->tx));
		if (!q->tx)
			return err_set(ENOMEM, "queue %u: transmit slots", idx);
		q->tx->poll_op.complete = net_tx_poll_done;
		for (unsigned i = 0; i < NET_TX_BATCH; i++) {
			q->tx->slots[i].op.complete = net_tx_done;
			q->tx->slots[i].q = q;
			q->tx->free[i] = NET_TX_BATCH - 1 - i;
		}
		q->tx->nfree = NET_TX_BATCH;
	}
	/* What the guest can take decides what the tap may hand us. */
	if ((int)off != n->offloads) {
		if (n->io->set_offload(n->tap, off) < 0)
			net_warn(n, "%s; the guest gets no offloaded frames", err_msg());
		else
			n->offloads = off;
	}
	q->broken = false;
	atomic_store(&q->dirty, false);
	atomic_store(&q->inflight, 0);
	atomic_store(&q->stopping, false);
	/* Publish last: the I/O thread starts using the queue from here. */
	atomic_store(&q->vq, vq);
	return 0;
}

/* Wait until no I/O thread is inside a queue (see virtio-blk's reset for
 * the Dekker handshake on stopping/busy and vq/busy). */
static void wait_idle(struct virtio_net *n, bool inflight)
{
	struct timespec ts = { 0, 50 * 1000 };
	unsigned waited = 0;

	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];

		while (atomic_load(&q->busy) || (inflight && atomic_load(&q->inflight))) {
			/* A wedged thread must not hang the vCPU forever. */
			if (++waited == 200000) {
				net_warn(n, "reset: queue %u still has %u requests in flight", i,
					 atomic_load(&q->inflight));
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	for (unsigned i = 0; i < n->nq; i++)
		atomic_store(&n->queues[i].stopping, true);
	/* Reads wait for frames that may never come: the queues' threads
	 * cancel them, and every other wait on the tap. */
	for (unsigned i = 0; i < n->nq; i++)
		if (atomic_load(&n->queues[i].vq))
			self_kick(n, i);
	wait_idle(n, true);
	for (unsigned i = 0; i < n->nq; i++)
		atomic_store(&n->queues[i].vq, NULL);
	/* A kick that saw the old vq may still be looking at the slots. */
	wait_idle(n, false);
	for (unsigned i = 0; i < n->nq; i++)
		if (!atomic_load(&n->queues[i].inflight))
			free_state(&n->queues[i]);
	/* The next driver starts with one pair and no offloads. */
	atomic_store(&n->active_pairs, 1);
	for (unsigned i = 1; i < n->max_pairs; i++)
		if (n->io->set_queue(n->tap, i, false))
			net_warn(n, "%s", err_msg());
	if (n->offloads && n->io->set_offload(n->tap, 0) == 0)
		n->offloads = 0;
	n->promisc = n->allmulti = false;
	n->uc_macs = n->mc_macs = 0;
}

static const struct virtio_dev_ops net_vops = {
	.queue_enable = net_queue_enable,
	.reset = net_reset,
};

/* ---- creation ---- */

static void dev_reset(struct device *dev)
{
	virtio_pci_reset(((struct virtio_net *)dev->priv)->t);
}

static void dev_free(struct device *dev)
{
	virtio_net_destroy(dev->priv);
}

/*
 * For a snapshot of a running VM (vmm/device.h): as the reset, the
 * threads cancel every read and poll waiting on the tap and their
 * completions run; the chains the reads held stay in their slots (the
 * save records them). Then what the batch hook would have flushed.
 */
static int dev_quiesce(struct device *dev)
{
	struct virtio_net *n = dev->priv;
	struct timespec ts = { 0, 50 * 1000 };
	unsigned waited = 0;

	for (unsigned i = 0; i < n->nq; i++)
		atomic_store(&n->queues[i].stopping, true);
	for (unsigned i = 0; i < n->nq; i++)
		if (atomic_load(&n->queues[i].vq))
			self_kick(n, i);
	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];

		while (atomic_load(&q->busy) || atomic_load(&q->inflight)) {
			if (++waited == 200000)
				return err_set(EBUSY, "virtio-net %s: queue %u still has %u reads "
					       "or writes in flight", n->tap->what, i,
					       atomic_load(&q->inflight));
			nanosleep(&ts, NULL);
		}
	}
	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];
		struct virtq *vq = atomic_load(&q->vq);

		if (vq && atomic_exchange(&q->dirty, false)) {
			virtq_flush(vq);
			if (virtq_need_interrupt(vq))
				virtio_pci_notify(n->t, i);
		}
	}
	return 0;
}

/* Back on: each queue's kick re-arms its reads (and retries a tap that
 * had failed one) and drains what the guest queued meanwhile. */
static void dev_resume(struct device *dev)
{
	struct virtio_net *n = dev->priv;

	for (unsigned i = 0; i < n->nq; i++)
		atomic_store(&n->queues[i].stopping, false);
	for (unsigned i = 0; i < n->nq; i++)
		if (atomic_load(&n->queues[i].vq))
			self_kick(n, i);
}

static const struct device_ops net_device_ops = {
	.name = "virtio-net",
	.reset = dev_reset,
	.save = net_dev_save,
	.restore = net_dev_restore,
	.quiesce = dev_quiesce,
	.resume = dev_resume,
	.free = dev_free,
};

static int tap_setup(struct virtio_net *n)
{
	bool up;
	int r;

	r = n->io->set_vnet_hdr(n->tap, HDR_LEN);
	if (!r)
		r = n->io->set_offload(n->tap, 0);
	for (unsigned i = 1; !r && i < n->max_pairs; i++)
		r = n->io->set_queue(n->tap, i, false);
	if (!r)
		r = n->io->link_up(n->tap, &up);
	if (!r)
		n->config[6] = up ? VIRTIO_NET_S_LINK_UP : 0;
	return r;
}

int virtio_net_create(struct virtio_net **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_net_opts *o)
{
	unsigned qsize = o->queue_size ? o->queue_size : 256;
	uint16_t pairs, mtu;
	struct virtio_pci_opts po;
	struct virtio_net *n;
	int r;

	if (!o->nthreads || !o->tap->nfds || o->tap->nfds > NET_MAX_PAIRS || qsize < 4 ||
	    qsize > VIRTQ_MAX_SIZE || (qsize & (qsize - 1)))
		return err_set(EINVAL, "virtio-net: %u queue pairs of %u on %u I/O threads",
			       o->tap->nfds, qsize, o->nthreads);
	n = calloc(1, sizeof(*n));
	if (!n)
		return err_set(ENOMEM, "virtio-net");
	n->tap = o->tap;
	n->io = o->io ? o->io : &virtio_net_io_default;
	n->max_pairs = o->tap->nfds;
	n->nq = 2 * n->max_pairs + 1;
	n->nthreads = o->nthreads < n->max_pairs ? o->nthreads : n->max_pairs;
	atomic_store(&n->active_pairs, 1);
	n->queues = calloc(n->nq, sizeof(*n->queues));
	n->threads = calloc(n->nthreads, sizeof(*n->threads));
	if (!n->queues || !n->threads) {
		r = err_set(ENOMEM, "virtio-net");
		goto fail;
	}
	r = tap_setup(n);
	if (r) {
		virtio_net_destroy(n);
		return r;		/* the tap's errors name --net already */
	}
	/* Config space (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
	memcpy(n->config, o->mac, 6);
	pairs = htole16(n->max_pairs);
	memcpy(n->config + 8, &pairs, 2);
	mtu = htole16(n->tap->mtu > 65535 ? 65535 : n->tap->mtu);
	memcpy(n->config + 10, &mtu, 2);
	po = (struct virtio_pci_opts){
		.name = "virtio-net", .device_id = VIRTIO_ID_NET, .class_code = 0x020000,
		.features = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
			    BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) |
			    BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
			    BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_HOST_TSO4) |
			    BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
			    BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS) |
			    BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
			    BIT(VIRTIO_NET_F_MQ) | BIT(VIRTQ_F_INDIRECT_DESC) |
			    BIT(VIRTQ_F_EVENT_IDX),
		.num_queues = n->nq, .queue_size = qsize,
		.config = n->config, .config_len = sizeof(n->config),
		.ops = &net_vops, .dev = n,
	};
	r = virtio_pci_create(&n->t, vm, host, irq, mem, &po);
	if (r < 0)
		goto fail;
	for (unsigned i = 0; i < n->nthreads; i++) {
		n->threads[i] = (struct net_thread){ n, o->threads[i] };
		r = n->io->add_batch_hook(o->threads[i], net_batch, &n->threads[i]);
		if (r < 0)
			goto fail;
	}
	for (unsigned i = 0; i < n->nq; i++) {
		struct net_vq *q = &n->queues[i];

		q->n = n;
		q->idx = i;
		/* A pair's two queues share a thread (and a tap queue). */
		q->thread = o->threads[i < 2 * n->max_pairs ? (i / 2) % n->nthreads : 0];
		q->kick_op.complete = net_kick;
		r = n->io->watch_eventfd(q->thread, virtio_pci_kick_fd(n->t, i), &q->kick_op);
		if (r < 0)
			goto fail;
	}
	n->link_op.complete = link_done;
	if (n->tap->nl_fd >= 0 &&
	    n->io->poll(o->threads[0], n->tap->nl_fd, POLLIN, &n->link_op) < 0) {
		r = err_set(EBUSY, "cannot watch link events");
		goto fail;
	}
	n->dev.ops = &net_device_ops;
	n->dev.priv = n;
	*out = n;
	return 0;
fail:
	err_prefix(r, "virtio-net %s", o->tap->what);
	virtio_net_destroy(n);
	return r;
}

struct device *virtio_net_device(struct virtio_net *n)
{
	return &n->dev;
}

struct virtio_pci *virtio_net_transport(struct virtio_net *n)
{
	return n->t;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < n->nq; i++) {
		const struct net_counters *c = &n->queues[i].c;

#define ADD(f) (s->f += __atomic_load_n(&c->f, __ATOMIC_RELAXED))
		ADD(rx_packets); ADD(rx_bytes); ADD(rx_dropped); ADD(tx_packets);
		ADD(tx_bytes); ADD(tx_errors); ADD(malformed); ADD(ctrl_errors);
#undef ADD
	}
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	virtio_pci_destroy(n->t);
	for (unsigned i = 0; n->queues && i < n->nq; i++)
		free_state(&n->queues[i]);
	free(n->queues);
	free(n->threads);
	free(n);
}
