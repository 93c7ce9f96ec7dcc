/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net driver (virtio 1.2, 5.1) on virtio_pci.h, for mode net-echo
 * and the demo.
 *
 * Features taken when offered (and not turned off): MAC, MTU, STATUS,
 * MRG_RXBUF, CSUM and GUEST_CSUM, CTRL_VQ and MQ, EVENT_IDX. Nothing of
 * segmentation offload: frames are never bigger than the MTU.
 *
 * Queue pair i (receiveq i, transmitq i) belongs to one CPU, which alone
 * touches its rings and buffers: no locks. With MQ the pairs are enabled
 * with VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET once the device is live.
 *
 * RX: every receive buffer is one device-writable descriptor, posted up
 * front from a static pool. With MRG_RXBUF the buffers are small (1 KiB by
 * default), so a full-size frame spreads over several of them; it is then
 * gathered into the pair's scratch frame. Without it each buffer holds a
 * whole frame (header + Ethernet header + MTU). A frame handed to the
 * caller is valid until the callback returns; its buffers are posted again
 * right after.
 *
 * TX: header and frame in one device-readable descriptor (5.1.6.2). With
 * CSUM negotiated the caller may leave the transport checksum to the
 * device (csum_start/csum_offset); otherwise frames go out complete.
 * Transmit interrupts stay off: finished buffers are taken back when new
 * ones are wanted.
 *
 * Receive completions are found by interrupt (the queue's MSI-X vector,
 * aimed at the pair's CPU) or by polling the used ring. The link state
 * comes from the status field, re-read on a configuration interrupt (or
 * polled).
 */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include "virtio_pci.h"

#define VIRTIO_ID_NET			1

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_MQ			22

#define VIRTIO_NET_S_LINK_UP		1

/* struct virtio_net_hdr (5.1.6): 12 bytes with VERSION_1. */
#define NET_HDR_LEN			12
#define NET_HDR_F_NEEDS_CSUM		1
#define NET_HDR_F_DATA_VALID		2

#define NET_ETH_HLEN			14
#define NET_MAX_NICS			4
/* Queues 0..2N-1 and the control queue at 2N must fit VIRTIO_MAX_QUEUES. */
#define NET_MAX_PAIRS			((VIRTIO_MAX_QUEUES - 1) / 2)
#define NET_TX_MTU			1500	/* the largest IP packet we send */
#define NET_RX_MTU_MAX			9000	/* the largest we take */
#define NET_FRAME_MAX			(NET_ETH_HLEN + 4 + NET_RX_MTU_MAX)
#define NET_TX_BUFS			64	/* per transmit queue */
#define NET_TIMEOUT_US			1000000

struct net_hdr {
	u8 flags;
	u8 gso_type;
	u16 hdr_len;
	u16 gso_size;
	u16 csum_start;
	u16 csum_offset;
	u16 num_buffers;
} __attribute__((packed));

struct net_opts {
	bool irq;		/* receive by interrupt, else by polling */
	bool csum;		/* take CSUM and GUEST_CSUM */
	bool mrg;		/* take MRG_RXBUF */
	bool mq;		/* take MQ (and CTRL_VQ) */
	bool event_idx;		/* take VIRTIO_F_EVENT_IDX */
	unsigned pairs;		/* queue pairs wanted (MQ), 0: one per online CPU */
	unsigned rxbuf;		/* receive buffer size with MRG_RXBUF, 0: 1024 */
	unsigned first_cpu;	/* pair i is served by online CPU (first_cpu + i) mod n */
	bool one_cpu;		/* ... or every pair by CPU 0 */
};

/* Per pair; written by the pair's CPU only, read by anyone. */
struct net_pair_stats {
	u64 rx_frames, rx_bytes;
	u64 rx_bufs;		/* receive buffers used (> rx_frames: merged frames) */
	u64 rx_merged;		/* frames spread over more than one buffer */
	u64 rx_bad;		/* malformed used entries or frames dropped as too big */
	u64 tx_frames, tx_bytes;
	u64 tx_offload;		/* frames sent with NEEDS_CSUM */
	u64 tx_waits;		/* had to wait for a free transmit buffer */
	u64 tx_dropped;		/* none came free in time */
	u64 wakeups_irq;	/* waits ended by the queue's interrupt */
	u64 waits;		/* waits for a frame (irq or poll) */
};

struct net_nic;

struct net_pair {
	struct net_nic *nic;
	unsigned index, cpu;	/* cpu: index in smp.cpus */
	struct virtq *rxq, *txq;
	u8 *rxmem;		/* nrx buffers of rxbuf bytes */
	u32 rxbuf;
	unsigned nrx;
	u8 *txmem;		/* NET_TX_BUFS buffers of NET_TX_STRIDE bytes */
	u16 txfree[NET_TX_BUFS];
	unsigned ntxfree;
	bool tx_pending;	/* queued, not yet published */
	bool rx_pending;	/* buffers posted, not yet published */
	u8 *frame;		/* scratch for a frame over several buffers */
	struct net_pair_stats st;
};

struct net_nic {
	struct virtio_dev v;
	unsigned index;		/* netN */
	struct net_opts o;
	u8 mac[6];
	u16 mtu;		/* of the device (VIRTIO_NET_F_MTU), else 1500 */
	u16 tx_mtu;		/* min(mtu, NET_TX_MTU): the largest IP packet we send */
	u16 max_pairs;		/* max_virtqueue_pairs, 1 without MQ */
	unsigned npairs;	/* in use */
	bool has_mac, has_status, tx_csum, rx_csum, mrg, ctrl, mq, event_idx;
	u64 config_irqs_seen;	/* virtio_config_irqs() at the last link check */
	struct net_pair pair[NET_MAX_PAIRS];
	u8 *ctrl_buf;
	char note[96];		/* what negotiation had to give up, if anything */
};

/* The nth virtio-net function: 1 found, 0 none, -1 unusable (why). */
int net_probe(struct net_nic *n, unsigned nth, char *why, size_t whylen);
/*
 * Negotiate, read the config, set up the queue pairs (and the control
 * queue), post every receive buffer, DRIVER_OK, then enable the pairs
 * (MQ). Buffers come from a static pool shared by all NICs; when it runs
 * short a NIC gets fewer pairs (still at least one) or fails (why).
 */
bool net_init(struct net_nic *n, const struct net_opts *o, char *why, size_t whylen);
/* Negotiated features, as words ("csum guest_csum mac ..."). */
void net_features(struct net_nic *n, char *buf, size_t len);

/* Link state now (always up without VIRTIO_NET_F_STATUS). */
bool net_link_up(struct net_nic *n);
/* Configuration interrupts since the last call (0 if polled). */
u64 net_config_irqs_new(struct net_nic *n);

/*
 * Receive: hand up to `budget` waiting frames (starting at the Ethernet
 * header, without the virtio-net header) to fn, post their buffers again
 * and tell the device. flags: the header's NET_HDR_F_* flags. Returns the
 * number of frames handed over.
 */
typedef void (*net_rx_fn)(struct net_pair *p, u8 *frame, u32 len, u8 flags, void *ctx);
unsigned net_rx(struct net_pair *p, net_rx_fn fn, void *ctx, unsigned budget);
/* Is a receive completion waiting on pair p? */
bool net_rx_ready(struct net_pair *p);
/*
 * Wait until one of the n pairs (all of this CPU) has a frame waiting, or
 * timeout_us passed. With interrupts (o.irq) the CPU must take them
 * (user_irqs(true)): this arms each receive queue, then waits for one of
 * their vectors to be counted. true if a frame is waiting.
 */
bool net_wait(struct net_pair *const *ps, unsigned n, u64 timeout_us);

/*
 * Transmit: a free buffer's frame area (NET_ETH_HLEN + NET_TX_MTU bytes),
 * waiting for the device to finish one if none is free; NULL after
 * NET_TIMEOUT_US (counted in tx_dropped). The caller fills it and hands it
 * to net_tx_send, which queues it: csum_start 0 means the frame is
 * complete, else the device fills in the checksum (only with tx_csum).
 * net_tx_flush publishes what was queued (one notification at most).
 */
u8 *net_tx_alloc(struct net_pair *p);
void net_tx_send(struct net_pair *p, u8 *frame, u32 len, u16 csum_start, u16 csum_offset);
void net_tx_flush(struct net_pair *p);
/* Flush, then wait until the device has finished every transmit buffer. */
bool net_tx_drain(struct net_pair *p, u64 timeout_us);

/* Interrupts taken for pair p's receive queue so far (all CPUs). */
u64 net_rx_irqs(struct net_pair *p);

#endif
