// SPDX-License-Identifier: Apache-2.0
/* virtio-net data path: receive into and transmit from the guest's
 * buffers through the tap. See net.h for the design. */
#include "virtio/net_impl.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>

#include "vmm/dirty.h"
#include "vmm/err.h"

void net_ring_broken(struct net_vq *q)
{
	net_warn(q->n, "queue %u: %s", q->idx, err_msg());
	q->broken = true;
	virtio_pci_set_needs_reset(q->n->t);
}

void net_reject(struct net_vq *q, struct virtq *vq, uint16_t head, const char *why)
{
	net_warn(q->n, "queue %u: %s", q->idx, why);
	virtq_push(vq, head, 0);
	atomic_store(&q->dirty, true);
	net_bump(&q->c.malformed, 1);
}

/* ---- RX ---- */

/* Drop the first k chains of a slot (pushed, or moved elsewhere). */
static void slot_drop(struct rx_slot *s, unsigned k)
{
	unsigned iov = 0;

	for (unsigned i = 0; i < k; i++) {
		iov += s->chains[i].niov;
		s->cap -= s->chains[i].cap;
	}
	memmove(s->chains, s->chains + k, (s->nchains - k) * sizeof(s->chains[0]));
	memmove(s->iov, s->iov + iov, (s->niov - iov) * sizeof(s->iov[0]));
	s->nchains -= k;
	s->niov -= iov;
}

/* Move as many of b's chains as fit to the end of a. */
static void slot_take(struct rx_slot *a, struct rx_slot *b)
{
	unsigned k = 0, iov = 0;

	while (k < b->nchains && a->niov + iov + b->chains[k].niov <= NET_SLOT_IOV)
		iov += b->chains[k++].niov;
	memcpy(&a->iov[a->niov], b->iov, iov * sizeof(b->iov[0]));
	for (unsigned i = 0; i < k; i++) {
		a->chains[a->nchains++] = b->chains[i];
		a->cap += b->chains[i].cap;
	}
	a->niov += iov;
	slot_drop(b, k);
}

/* Holds a whole frame's worth, or as many buffers as a read may cover. */
static bool slot_full(const struct net_rx *rx, const struct rx_slot *s)
{
	if (!rx->mrg)
		return s->nchains > 0;
	return s->cap >= rx->want || NET_SLOT_IOV - s->niov < NET_CHAIN_IOV;
}

/* Top a slot up from the ring, to target bytes with MRG_RXBUF. False: the
 * ring is corrupt. */
static bool rx_fill(struct net_vq *q, struct virtq *vq, struct rx_slot *s, uint64_t target)
{
	struct net_rx *rx = q->rx;
	struct virtq_chain c;

	while (rx->mrg ? s->cap < target && NET_SLOT_IOV - s->niov >= NET_CHAIN_IOV
		       : !s->nchains) {
		int r = virtq_pop(vq, &s->iov[s->niov], rx->mrg ? NET_CHAIN_IOV : NET_SLOT_IOV, &c);

		if (!r)
			break;
		if (r == -EIO) {
			net_ring_broken(q);
			return false;
		}
		if (r < 0 || c.nout || c.in_len < HDR_LEN) {
			net_reject(q, vq, c.head, r < 0 ? err_msg()
				: "receive buffer is device-readable or smaller than the header");
			continue;
		}
		s->chains[s->nchains++] = (struct rx_chain){ c.head, c.nin, c.in_len };
		s->niov += c.nin;
		s->cap += c.in_len;
	}
	return true;
}

/* Arm s's read; over: a slot short of a whole frame reads the rest of one
 * into the queue's overflow buffer (rx_deliver holds such a frame). */
static void rx_submit(struct net_vq *q, struct rx_slot *s, bool over)
{
	struct virtio_net *n = q->n;
	struct net_rx *rx = q->rx;

	s->over = over && rx->mrg && s->cap < rx->want;
	if (s->over)
		s->iov[s->niov] = (struct iovec){ rx->over, rx->want - s->cap };
	if (n->io->readv(q->thread, n->tap->fds[q->pair], s->iov, s->niov + s->over, &s->op) < 0) {
		net_warn(n, "queue %u: cannot queue a read", q->idx);
		q->rx->stalled = true;
		return;
	}
	s->armed = true;
	atomic_fetch_add(&q->inflight, 1);
}

static int rx_finish_held(struct net_vq *q, struct virtq *vq);

/* Arm a read for every slot holding a whole frame's worth of buffers;
 * see net.h for slots short of one. */
void net_rx_arm(struct net_vq *q, struct virtq *vq)
{
	struct net_rx *rx = q->rx;
	struct rx_slot *part;
	bool armed;

	if (q->broken || rx->polling || rx->stalled || !net_served(q))
		return;
	do {
		if (rx->held) {
			int r = rx_finish_held(q, vq);

			if (r < 0)
				return;
			if (!r)
				continue;	/* wait for buffers: kicks on */
		}
		/* A short slot's read goes alone, so its frame stays in order. */
		for (unsigned i = 0; i < NET_RX_SLOTS; i++)
			if (rx->slots[i].armed && rx->slots[i].over)
				return;
		armed = false;
		part = NULL;
		for (unsigned i = 0; i < NET_RX_SLOTS; i++) {
			struct rx_slot *s = &rx->slots[i];

			if (!s->armed) {
				if (!rx_fill(q, vq, s, rx->want))
					return;
				if (slot_full(rx, s))
					rx_submit(q, s, false);
			}
			armed |= s->armed;
		}
		for (unsigned i = 0; !armed && rx->mrg && i < NET_RX_SLOTS; i++) {
			if (!rx->slots[i].nchains)
				continue;
			if (part)
				slot_take(part, &rx->slots[i]);
			else
				part = &rx->slots[i];
		}
		if (part)
			rx_submit(q, part, true);
		if (armed || part) {
			/* Completions refill from the ring: kicks not needed. */
			virtq_set_kick_notify(vq, false);
			return;
		}
		/* Not a buffer left: stop reading until the guest kicks. */
	} while (virtq_kick_enable_and_check(vq));
}

/* The header the tap wrote, checked against what the guest accepts:
 * frames queued before the offloads last changed may carry others. */
static bool rx_header(struct virtio_net *n, uint8_t *h)
{
	unsigned gso = h[1] & ~VIRTIO_NET_HDR_GSO_ECN;

	if ((h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !net_has(n, VIRTIO_NET_F_GUEST_CSUM))
		return false;
	if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !net_has(n, VIRTIO_NET_F_GUEST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !net_has(n, VIRTIO_NET_F_GUEST_TSO6)) ||
	    (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
	     gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
	    ((h[1] & VIRTIO_NET_HDR_GSO_ECN) && !net_has(n, VIRTIO_NET_F_GUEST_ECN)))
		return false;
	/* 5.1.6.4: without GUEST_CSUM flags must be zero (no DATA_VALID). */
	if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM))
		h[0] = 0;
	return true;
}

/* Push a frame of len bytes (header included): s's chains first, then, for
 * a held frame, the chains of t its rest was copied into. */
static void rx_push(struct net_vq *q, struct virtq *vq, struct rx_slot *s, struct rx_slot *t,
		    uint32_t len)
{
	uint8_t h[HDR_LEN];
	uint64_t acc = 0;
	uint32_t left = len;
	uint16_t ks = 0, kt = 0, nb;

	while (acc < len && ks < s->nchains)
		acc += s->chains[ks++].cap;
	while (t && acc < len)
		acc += t->chains[kt++].cap;
	virtq_iov_read(s->iov, s->niov, 0, h, HDR_LEN);
	rx_header(q->n, h);		/* checked before: only clears what it must */
	nb = htole16(ks + kt);
	memcpy(h + 10, &nb, 2);		/* num_buffers: 1 without MRG_RXBUF */
	virtq_iov_write(s->iov, s->niov, 0, h, HDR_LEN);
	dirty_mark_iov(s->iov, s->niov);	/* the frame, for a migration */
	if (t)
		dirty_mark_iov(t->iov, t->niov);
	for (unsigned i = 0; i < ks + kt; i++) {
		const struct rx_chain *c = i < ks ? &s->chains[i] : &t->chains[i - ks];
		uint32_t part = left < c->cap ? left : c->cap;

		virtq_push(vq, c->head, part);
		left -= part;
	}
	slot_drop(s, ks);
	if (t)
		slot_drop(t, kt);
	atomic_store(&q->dirty, true);
	net_bump(&q->c.rx_packets, 1);
	net_bump(&q->c.rx_bytes, len - HDR_LEN);
}

/* A frame of len bytes (header included) landed in s. */
static void rx_deliver(struct net_vq *q, struct virtq *vq, struct rx_slot *s, uint32_t len)
{
	struct net_rx *rx = q->rx;
	uint8_t h[HDR_LEN];

	/* The tap reports a frame's full length even when it was cut to
	 * fit: more than the read's buffers hold means it was. */
	if (!net_served(q) || len < HDR_LEN + ETH_HDR_LEN ||
	    len > s->cap + (s->over ? rx->want - s->cap : 0) ||
	    virtq_iov_read(s->iov, s->niov, 0, h, HDR_LEN) != HDR_LEN || !rx_header(q->n, h)) {
		net_bump(&q->c.rx_dropped, 1);
		return;
	}
	if (len > s->cap) {		/* the rest is in rx->over */
		rx->held = s;
		rx->held_len = len;
		return;
	}
	rx_push(q, vq, s, NULL, len);
}

/* The held frame: its rest, from the overflow buffer into chains the
 * guest posted since; 1 when pushed, 0 while the ring holds too few, -1 if
 * the ring is corrupt. */
static int rx_finish_held(struct net_vq *q, struct virtq *vq)
{
	struct net_rx *rx = q->rx;
	struct rx_slot *s = rx->held, *t = NULL;
	uint32_t rest = rx->held_len - (uint32_t)s->cap;

	for (unsigned i = 0; i < NET_RX_SLOTS && !t; i++)
		if (&rx->slots[i] != s && !rx->slots[i].armed)
			t = &rx->slots[i];
	if (!rx_fill(q, vq, t, rest))
		return -1;
	if (t->cap < rest)
		return 0;
	virtq_iov_write(t->iov, t->niov, 0, rx->over, rest);
	rx->held = NULL;
	rx_push(q, vq, s, t, rx->held_len);
	return 1;
}

static void rx_poll(struct net_vq *q)
{
	struct net_rx *rx = q->rx;

	if (rx->polling)
		return;
	if (q->n->io->poll(q->thread, q->n->tap->fds[q->pair], POLLIN, &rx->poll_op) < 0) {
		rx->stalled = true;
		return;
	}
	rx->polling = true;
	atomic_fetch_add(&q->inflight, 1);
}

void net_rx_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct rx_slot *s = (struct rx_slot *)op;
	struct net_vq *q = s->q;
	struct virtq *vq = atomic_load(&q->vq);

	(void)cqe_flags;
	s->armed = false;
	if (vq && !atomic_load(&q->stopping)) {
		if (res >= 0) {
			rx_deliver(q, vq, s, (uint32_t)res);
		} else if (res == -EAGAIN) {
			rx_poll(q);	/* kernels that do not wait inside io_uring */
		} else if (res != -ECANCELED) {
			net_warn(q->n, "queue %u: tap read: %s; reading stops until the next kick",
				 q->idx, strerror(-res));
			q->rx->stalled = true;
		}
		net_rx_arm(q, vq);
	}
	/* Last: once inflight drops, a reset may free the slots. */
	atomic_fetch_sub(&q->inflight, 1);
}

void net_rx_poll_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct net_rx *rx = (struct net_rx *)((char *)op - offsetof(struct net_rx, poll_op));
	struct net_vq *q = rx->slots[0].q;
	struct virtq *vq = atomic_load(&q->vq);

	(void)cqe_flags;
	rx->polling = false;
	if (vq && !atomic_load(&q->stopping) && res != -ECANCELED)
		net_rx_arm(q, vq);
	atomic_fetch_sub(&q->inflight, 1);
}

/* ---- TX ---- */

/* The header as the guest wrote it must stay within what it negotiated.
 * (The guest may still change it before the tap reads it; the tap checks
 * again, and refuses with -EINVAL.) */
static bool tx_frame_ok(struct virtio_net *n, struct tx_slot *s, const struct virtq_chain *c)
{
	uint8_t h[HDR_LEN];
	unsigned gso;

	if (c->nin || c->out_len < HDR_LEN + ETH_HDR_LEN || c->out_len > NET_FRAME_MAX)
		return false;
	virtq_iov_read(s->iov, c->nout, 0, h, HDR_LEN);
	gso = h[1] & ~VIRTIO_NET_HDR_GSO_ECN;
	if ((h[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    ((h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !net_has(n, VIRTIO_NET_F_CSUM)))
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return !(h[1] & VIRTIO_NET_HDR_GSO_ECN);
	if ((h[1] & VIRTIO_NET_HDR_GSO_ECN) && !net_has(n, VIRTIO_NET_F_HOST_ECN))
		return false;
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 && net_has(n, VIRTIO_NET_F_HOST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && net_has(n, VIRTIO_NET_F_HOST_TSO6));
}

/* Write the batch as one linked chain, so the tap takes the frames in
 * ring order even when some wait or fail. It must fit the SQ whole. */
static void tx_submit(struct net_vq *q, unsigned limit)
{
	struct net_tx *tx = q->tx;
	unsigned n = tx->nbatch < limit ? tx->nbatch : limit;

	for (unsigned i = 0; i < n; i++) {
		struct tx_slot *s = &tx->slots[tx->batch[i]];

		if (q->n->io->writev(q->thread, q->n->tap->fds[q->pair], s->iov, s->niov, &s->op,
				     i + 1 < n) < 0) {
			net_warn(q->n, "queue %u: cannot queue a write", q->idx);
			n = i;
			break;
		}
		s->busy = true;
		tx->writes++;
		atomic_fetch_add(&q->inflight, 1);
	}
	memmove(tx->batch, tx->batch + n, tx->nbatch - n);
	tx->nbatch -= n;
	tx->nretry = 0;
}

void net_tx_drain(struct net_vq *q, struct virtq *vq)
{
	struct net_tx *tx = q->tx;
	struct virtq_chain c;
	unsigned limit;

	if (q->broken || tx->writes || tx->polling || !net_served(q))
		return;
	limit = q->n->io->sq_space(q->thread);
	if (limit > NET_TX_BATCH)
		limit = NET_TX_BATCH;
	tx->deferred = !limit;
	if (!limit)
		return;
	virtq_set_kick_notify(vq, false);
	do {
		while (tx->nbatch < limit) {
			struct tx_slot *s = &tx->slots[tx->free[tx->nfree - 1]];
			int r = virtq_pop(vq, s->iov, NET_CHAIN_IOV, &c);

			if (!r)
				break;
			if (r == -EIO) {
				net_ring_broken(q);
				return;
			}
			if (r < 0 || !tx_frame_ok(q->n, s, &c)) {
				net_reject(q, vq, c.head, r < 0 ? err_msg() : "malformed transmit frame");
				continue;
			}
			s->head = c.head;
			s->niov = c.nout;
			s->len = c.out_len;
			tx->batch[tx->nbatch++] = tx->free[--tx->nfree];
		}
		/* A full batch leaves kicks off: its completion drains on. */
	} while (tx->nbatch < limit && virtq_kick_enable_and_check(vq));
	tx_submit(q, limit);
}

static void tx_poll(struct net_vq *q)
{
	struct net_tx *tx = q->tx;

	if (q->n->io->poll(q->thread, q->n->tap->fds[q->pair], POLLOUT, &tx->poll_op) < 0) {
		tx->deferred = true;
		return;
	}
	tx->polling = true;
	atomic_fetch_add(&q->inflight, 1);
}

void net_tx_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct tx_slot *s = (struct tx_slot *)op;
	struct net_vq *q = s->q;
	struct net_tx *tx = q->tx;
	struct virtq *vq = atomic_load(&q->vq);
	uint8_t me = s - tx->slots;
	bool live = vq && !atomic_load(&q->stopping);

	(void)cqe_flags;
	s->busy = false;
	tx->writes--;
	if (live && (res == -EAGAIN || res == -ECANCELED)) {
		/* Not written: first in line for the next batch, in the
		 * chain's order (its CQEs arrive in that order). */
		tx->again |= res == -EAGAIN;
		memmove(tx->batch + tx->nretry + 1, tx->batch + tx->nretry,
			tx->nbatch - tx->nretry);
		tx->batch[tx->nretry++] = me;
		tx->nbatch++;
	} else {
		if (live) {
			virtq_push(vq, s->head, 0);
			atomic_store(&q->dirty, true);
			if (res < 0) {
				net_bump(&q->c.tx_errors, 1);
				/* -EIO: the tap is down, which the guest sees. */
				if (res != -EIO)
					net_warn(q->n, "queue %u: the tap refused a frame: %s",
						 q->idx, strerror(-res));
			} else {
				net_bump(&q->c.tx_packets, 1);
				net_bump(&q->c.tx_bytes, s->len - HDR_LEN);
			}
		}
		tx->free[tx->nfree++] = me;
	}
	if (live && !tx->writes) {
		if (tx->again) {
			tx->again = false;
			tx_poll(q);
		} else {
			net_tx_drain(q, vq);
		}
	}
	atomic_fetch_sub(&q->inflight, 1);
}

void net_tx_poll_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct net_tx *tx = (struct net_tx *)((char *)op - offsetof(struct net_tx, poll_op));
	struct net_vq *q = tx->slots[0].q;
	struct virtq *vq = atomic_load(&q->vq);

	(void)cqe_flags;
	tx->polling = false;
	if (vq && !atomic_load(&q->stopping) && res != -ECANCELED)
		net_tx_drain(q, vq);
	atomic_fetch_sub(&q->inflight, 1);
}

/* Cancel what waits on the tap: the queue is stopping or retired. */
void net_cancel_waits(struct net_vq *q)
{
	const struct net_io_ops *io = q->n->io;

	if (q->rx) {
		for (unsigned i = 0; i < NET_RX_SLOTS; i++)
			if (q->rx->slots[i].armed)
				io->cancel(q->thread, &q->rx->slots[i].op);
		if (q->rx->polling)
			io->cancel(q->thread, &q->rx->poll_op);
	}
	if (q->tx) {
		for (unsigned i = 0; i < NET_TX_BATCH; i++)
			if (q->tx->slots[i].busy)
				io->cancel(q->thread, &q->tx->slots[i].op);
		if (q->tx->polling)
			io->cancel(q->thread, &q->tx->poll_op);
	}
}
