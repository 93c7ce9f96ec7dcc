// SPDX-License-Identifier: Apache-2.0
/* virtio-net driver: see virtio_net.h. */
#include "virtio_net.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "time.h"

/* Device config layout (5.1.4), byte offsets. */
#define CFG_MAC			0
#define CFG_STATUS		6
#define CFG_MAX_PAIRS		8
#define CFG_MTU			10

/* Control queue (5.1.6.5). */
#define CTRL_MQ			4
#define CTRL_MQ_VQ_PAIRS_SET	0
#define CTRL_OK			0

#define TX_STRIDE	ALIGN_UP(NET_HDR_LEN + NET_ETH_HLEN + NET_TX_MTU, 64)
#define RX_POOL		(128 * 1024)	/* receive buffer bytes per queue */
#define MRG_BUF_DEFAULT	1024
#define POOL_SIZE	(2 * MiB)	/* all NICs: about 8 queue pairs */

_Static_assert(sizeof(struct net_hdr) == NET_HDR_LEN, "virtio_net_hdr with VERSION_1");

/* ---- buffer pool ---- */

static u8 pool[POOL_SIZE] __attribute__((aligned(PAGE_SIZE)));
static size_t pool_used;

static void *pool_alloc(size_t size, size_t align)
{
	size_t start = ALIGN_UP(pool_used, align);

	if (start + size > POOL_SIZE)
		return NULL;
	pool_used = start + size;
	return pool + start;
}

/* ---- finding and starting ---- */

int net_probe(struct net_nic *n, unsigned nth, char *why, size_t whylen)
{
	memset(n, 0, sizeof(*n));
	n->index = nth;
	return virtio_find(&n->v, VIRTIO_ID_NET, nth, why, whylen);
}

static u64 wanted(const struct net_opts *o, bool mq)
{
	u64 want = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_STATUS);

	if (o->csum)
		want |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (o->mrg)
		want |= BIT(VIRTIO_NET_F_MRG_RXBUF);
	/* The control queue only to switch multiqueue on. */
	if (mq)
		want |= BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ);
	if (o->event_idx)
		want |= BIT(VIRTIO_F_EVENT_IDX);
	return want;
}

/* One command on the control queue, polled: true if the device said OK. */
static bool ctrl_cmd(struct net_nic *n, u8 class, u8 cmd, const void *data, u32 len)
{
	struct virtq *q = &n->v.vq[2 * n->max_pairs];
	u8 *b = n->ctrl_buf;
	struct vq_buf v[3] = {
		{ b, 2, false }, { b + 8, len, false }, { b + 32, 1, true },
	};
	u64 end = time_us() + NET_TIMEOUT_US;
	void *tok;
	u32 used;
	u16 head;

	if (len > 24)
		return false;
	b[0] = class;
	b[1] = cmd;
	memcpy(b + 8, data, len);
	b[32] = 0xff;
	if (vq_add(q, v, 3, b) < 0)
		return false;
	vq_kick(q);
	while (!vq_get_used(q, &tok, &used, &head)) {
		if (time_us() > end)
			return false;
		cpu_relax();
	}
	return tok == b && *(volatile u8 *)(b + 32) == CTRL_OK;
}

static void rx_post(struct net_pair *p, u8 *buf)
{
	struct vq_buf v = { buf, p->rxbuf, true };

	if (vq_add(p->rxq, &v, 1, buf) >= 0)
		p->rx_pending = true;
}

/* Buffers and rings of pair i; false if the pool ran out (why). */
static bool pair_setup(struct net_nic *n, unsigned i, unsigned cpu, char *why, size_t whylen)
{
	struct net_pair *p = &n->pair[i];
	u32 rxbuf = n->mrg ? (n->o.rxbuf ? n->o.rxbuf : MRG_BUF_DEFAULT)
			   : ALIGN_UP(NET_HDR_LEN + NET_ETH_HLEN + 4 + n->mtu, 64);

	p->nic = n;
	p->index = i;
	p->cpu = cpu;
	if (!virtq_setup(&n->v, 2 * i, n->o.irq, cpu, why, whylen) ||
	    !virtq_setup(&n->v, 2 * i + 1, false, cpu, why, whylen))
		return false;
	p->rxq = &n->v.vq[2 * i];
	p->txq = &n->v.vq[2 * i + 1];
	/* Keep what an earlier start of this NIC got, if it fits. */
	if (!p->rxmem || p->rxbuf != rxbuf) {
		p->rxbuf = rxbuf;
		p->rxmem = pool_alloc(RX_POOL, PAGE_SIZE);
		p->txmem = pool_alloc(NET_TX_BUFS * TX_STRIDE, PAGE_SIZE);
		p->frame = pool_alloc(ALIGN_UP(NET_FRAME_MAX, 64), 64);
		if (!p->rxmem || !p->txmem || !p->frame) {
			p->rxmem = NULL;
			snprintf(why, whylen, "out of buffer memory for queue pair %u", i);
			return false;
		}
	}
	p->nrx = MIN((unsigned)p->rxq->size, RX_POOL / rxbuf);
	p->ntxfree = MIN((unsigned)NET_TX_BUFS, (unsigned)p->txq->size);
	for (unsigned k = 0; k < p->ntxfree; k++)
		p->txfree[k] = k;
	p->tx_pending = p->rx_pending = false;
	memset(&p->st, 0, sizeof(p->st));
	for (unsigned k = 0; k < p->nrx; k++)
		rx_post(p, p->rxmem + (u64)k * rxbuf);
	return true;
}

bool net_init(struct net_nic *n, const struct net_opts *o, char *why, size_t whylen)
{
	struct virtio_dev *v = &n->v;
	unsigned want_pairs, ncpu;
	u64 f;

	n->o = *o;
	n->note[0] = 0;
	if (!virtio_start(v, wanted(o, o->mq), why, whylen))
		return false;
	f = v->features;
	n->max_pairs = f & BIT(VIRTIO_NET_F_MQ) ? virtio_cfg16(v, CFG_MAX_PAIRS) : 1;
	/* The control queue sits at 2 * max_virtqueue_pairs (5.1.2): if we
	 * cannot set that far up, do without multiqueue. */
	if ((f & BIT(VIRTIO_NET_F_MQ)) &&
	    (!n->max_pairs || 2u * n->max_pairs >= MIN((unsigned)v->max_queues, VIRTIO_MAX_QUEUES))) {
		snprintf(n->note, sizeof(n->note), "MQ with %u pairs refused: this driver sets up "
			 "%u queues at most", n->max_pairs, VIRTIO_MAX_QUEUES);
		if (!virtio_start(v, wanted(o, false), why, whylen))
			return false;
		f = v->features;
		n->max_pairs = 1;
	}
	n->has_mac = f & BIT(VIRTIO_NET_F_MAC);
	n->has_status = f & BIT(VIRTIO_NET_F_STATUS);
	n->tx_csum = f & BIT(VIRTIO_NET_F_CSUM);
	n->rx_csum = f & BIT(VIRTIO_NET_F_GUEST_CSUM);
	n->mrg = f & BIT(VIRTIO_NET_F_MRG_RXBUF);
	n->ctrl = f & BIT(VIRTIO_NET_F_CTRL_VQ);
	n->mq = f & BIT(VIRTIO_NET_F_MQ);
	n->event_idx = f & BIT(VIRTIO_F_EVENT_IDX);
	n->mtu = f & BIT(VIRTIO_NET_F_MTU) ? virtio_cfg16(v, CFG_MTU) : 1500;
	if (n->mtu < 68 || n->mtu > NET_RX_MTU_MAX) {
		snprintf(why, whylen, "device MTU %u outside 68-%u", n->mtu, NET_RX_MTU_MAX);
		return false;
	}
	n->tx_mtu = MIN(n->mtu, NET_TX_MTU);
	if (o->rxbuf && (o->rxbuf < 64 || o->rxbuf > 16384)) {
		snprintf(why, whylen, "receive buffer size %u outside 64-16384", o->rxbuf);
		return false;
	}
	for (unsigned i = 0; i < 6; i++)
		n->mac[i] = n->has_mac ? virtio_cfg8(v, CFG_MAC + i) : 0;
	if (!n->has_mac) {
		/* Locally administered, unicast (5.1.4.2). */
		static const u8 local[6] = { 0x02, 0x6b, 0x74, 0x00, 0x00, 0x00 };

		memcpy(n->mac, local, 6);
		n->mac[5] = n->index;
	}
	ncpu = o->one_cpu ? 1 : smp_online_count();
	want_pairs = o->pairs ? o->pairs : ncpu;
	n->npairs = n->mq ? MIN(MIN(want_pairs, (unsigned)n->max_pairs), (unsigned)NET_MAX_PAIRS) : 1;
	n->npairs = MAX(n->npairs, 1u);
	for (unsigned i = 0; i < n->npairs; i++) {
		unsigned cpu = o->one_cpu ? 0 : smp_online_cpu(o->first_cpu + i);

		if (!pair_setup(n, i, cpu, why, whylen)) {
			if (!i)
				return false;
			snprintf(n->note, sizeof(n->note), "%s: %u pairs only", why, i);
			n->npairs = i;
			break;
		}
	}
	if (n->ctrl) {
		if (!n->ctrl_buf)
			n->ctrl_buf = pool_alloc(64, 64);
		if (!n->ctrl_buf) {
			snprintf(why, whylen, "out of buffer memory for the control queue");
			return false;
		}
		if (!virtq_setup(v, 2 * n->max_pairs, false, 0, why, whylen))
			return false;
	}
	virtio_driver_ok(v);
	for (unsigned i = 0; i < n->npairs; i++) {
		vq_kick(n->pair[i].rxq);
		n->pair[i].rx_pending = false;
	}
	if (n->mq && n->npairs > 1) {
		u16 pairs = n->npairs;

		if (!ctrl_cmd(n, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, &pairs, sizeof(pairs))) {
			snprintf(why, whylen, "VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET %u not acknowledged", pairs);
			return false;
		}
	}
	n->config_irqs_seen = virtio_config_irqs(v);
	return true;
}

void net_features(struct net_nic *n, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ VIRTIO_NET_F_CSUM, "csum" }, { VIRTIO_NET_F_GUEST_CSUM, "guest_csum" },
		{ VIRTIO_NET_F_MTU, "mtu" }, { VIRTIO_NET_F_MAC, "mac" },
		{ VIRTIO_NET_F_MRG_RXBUF, "mrg_rxbuf" }, { VIRTIO_NET_F_STATUS, "status" },
		{ VIRTIO_NET_F_CTRL_VQ, "ctrl_vq" }, { VIRTIO_NET_F_MQ, "mq" },
		{ VIRTIO_F_EVENT_IDX, "event_idx" },
	};
	size_t at = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		if ((n->v.features & BIT(names[i].bit)) && at < len)
			at += snprintf(buf + at, len - at, "%s%s", at ? " " : "", names[i].name);
}

/* ---- link ---- */

bool net_link_up(struct net_nic *n)
{
	return !n->has_status || (virtio_cfg16(&n->v, CFG_STATUS) & VIRTIO_NET_S_LINK_UP);
}

u64 net_config_irqs_new(struct net_nic *n)
{
	u64 now = virtio_config_irqs(&n->v), d = now - n->config_irqs_seen;

	n->config_irqs_seen = now;
	return d;
}

/* ---- receive ---- */

bool net_rx_ready(struct net_pair *p)
{
	return vq_has_used(p->rxq);
}

/* The next used receive buffer; waits a little for one the device owes us
 * (the rest of a merged frame). NULL if none came or it was not ours. */
static u8 *rx_next(struct net_pair *p, u32 *len, bool wait)
{
	u64 end = wait ? time_us() + NET_TIMEOUT_US : 0;
	void *tok;
	u16 head;

	while (!vq_get_used(p->rxq, &tok, len, &head)) {
		if (!wait || time_us() > end)
			return NULL;
		cpu_relax();
	}
	p->st.rx_bufs++;
	if (!tok || *len > p->rxbuf) {
		p->st.rx_bad++;
		if (tok)
			rx_post(p, tok);
		return NULL;
	}
	return tok;
}

unsigned net_rx(struct net_pair *p, net_rx_fn fn, void *ctx, unsigned budget)
{
	unsigned done = 0;

	while (done < budget && vq_has_used(p->rxq)) {
		struct net_hdr h;
		u8 *buf;
		u32 len, total;
		unsigned nbufs;
		bool ok = true;

		buf = rx_next(p, &len, false);
		if (!buf)
			continue;
		if (len < NET_HDR_LEN) {
			p->st.rx_bad++;
			rx_post(p, buf);
			continue;
		}
		memcpy(&h, buf, sizeof(h));
		nbufs = p->nic->mrg ? h.num_buffers : 1;
		total = len - NET_HDR_LEN;
		if (nbufs <= 1) {
			fn(p, buf + NET_HDR_LEN, total, h.flags, ctx);
		} else {
			/* The device used every buffer but the last in full (5.1.6.4). */
			memcpy(p->frame, buf + NET_HDR_LEN, total);
			for (unsigned k = 1; k < nbufs; k++) {
				u32 more;
				u8 *b = rx_next(p, &more, true);

				if (!b) {
					ok = false;
					break;
				}
				if (ok && total + more <= NET_FRAME_MAX)
					memcpy(p->frame + total, b, more);
				else
					ok = false;
				total += more;
				rx_post(p, b);
			}
			if (ok) {
				p->st.rx_merged++;
				fn(p, p->frame, total, h.flags, ctx);
			} else {
				p->st.rx_bad++;
			}
		}
		rx_post(p, buf);
		if (ok) {
			p->st.rx_frames++;
			p->st.rx_bytes += total;
		}
		done++;
	}
	if (p->rx_pending) {
		vq_kick(p->rxq);
		p->rx_pending = false;
	}
	return done;
}

/* used_event sits right after the avail ring (2.7.10). */
static void arm_irq(struct virtq *q)
{
	if (q->event_idx) {
		*(volatile u16 *)&q->avail->ring[q->size] = q->last_used;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
}

bool net_wait(struct net_pair *const *ps, unsigned n, u64 timeout_us)
{
	u64 end = time_us() + timeout_us;
	u32 seen[NET_MAX_NICS * NET_MAX_PAIRS];

	n = MIN(n, (unsigned)ARRAY_SIZE(seen));
	for (unsigned i = 0; i < n; i++)
		ps[i]->st.waits++;
	for (;;) {
		for (unsigned i = 0; i < n; i++)
			if (net_rx_ready(ps[i]))
				return true;
		if (!n || !ps[0]->nic->o.irq) {
			if (time_us() > end)
				return false;
			cpu_relax();
			continue;
		}
		/* Count first, then ask for an interrupt and look again: a
		 * frame that comes after the look raises the count. */
		for (unsigned i = 0; i < n; i++) {
			seen[i] = irq_count(ps[i]->rxq->cpu, ps[i]->rxq->vec);
			arm_irq(ps[i]->rxq);
		}
		for (unsigned i = 0; i < n; i++)
			if (net_rx_ready(ps[i]))
				return true;
		for (;;) {
			for (unsigned i = 0; i < n; i++)
				if (irq_count(ps[i]->rxq->cpu, ps[i]->rxq->vec) != seen[i]) {
					ps[i]->st.wakeups_irq++;
					return true;
				}
			if (time_us() > end) {
				for (unsigned i = 0; i < n; i++)
					if (net_rx_ready(ps[i]))
						return true;
				return false;
			}
			cpu_relax();
		}
	}
}

u64 net_rx_irqs(struct net_pair *p)
{
	return vq_irqs(p->rxq);
}

/* ---- transmit ---- */

static void tx_reap(struct net_pair *p)
{
	void *tok;
	u32 len;
	u16 head;

	while (vq_get_used(p->txq, &tok, &len, &head)) {
		u64 off = (u8 *)tok - p->txmem;

		if (tok && off % TX_STRIDE == 0 && off / TX_STRIDE < NET_TX_BUFS &&
		    p->ntxfree < NET_TX_BUFS)
			p->txfree[p->ntxfree++] = off / TX_STRIDE;
	}
}

u8 *net_tx_alloc(struct net_pair *p)
{
	u8 *buf;

	if (!p->ntxfree)
		tx_reap(p);
	if (!p->ntxfree) {
		u64 end = time_us() + NET_TIMEOUT_US;

		p->st.tx_waits++;
		net_tx_flush(p);
		while (!p->ntxfree && time_us() < end) {
			if (vq_has_used(p->txq))
				tx_reap(p);
			else
				cpu_relax();
		}
		if (!p->ntxfree) {
			p->st.tx_dropped++;
			return NULL;
		}
	}
	buf = p->txmem + (u64)p->txfree[--p->ntxfree] * TX_STRIDE;
	return buf + NET_HDR_LEN;
}

void net_tx_send(struct net_pair *p, u8 *frame, u32 len, u16 csum_start, u16 csum_offset)
{
	u8 *buf = frame - NET_HDR_LEN;
	struct net_hdr h = { 0 };
	struct vq_buf v = { buf, NET_HDR_LEN + len, false };

	if (csum_start && p->nic->tx_csum) {
		h.flags = NET_HDR_F_NEEDS_CSUM;
		h.csum_start = csum_start;
		h.csum_offset = csum_offset;
		p->st.tx_offload++;
	}
	memcpy(buf, &h, sizeof(h));
	/* Never full: there are no more buffers than descriptors. */
	if (vq_add(p->txq, &v, 1, buf) < 0) {
		p->txfree[p->ntxfree++] = (buf - p->txmem) / TX_STRIDE;
		p->st.tx_dropped++;
		return;
	}
	p->tx_pending = true;
	p->st.tx_frames++;
	p->st.tx_bytes += len;
}

void net_tx_flush(struct net_pair *p)
{
	if (p->tx_pending) {
		vq_kick(p->txq);
		p->tx_pending = false;
	}
}

bool net_tx_drain(struct net_pair *p, u64 timeout_us)
{
	u64 end = time_us() + timeout_us;
	unsigned all = MIN((unsigned)NET_TX_BUFS, (unsigned)p->txq->size);

	net_tx_flush(p);
	for (;;) {
		tx_reap(p);
		if (p->ntxfree >= all)
			return true;
		if (time_us() > end)
			return false;
		cpu_relax();
	}
}
