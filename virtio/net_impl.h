/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net internals shared by net.c (transport ops, control queue,
 * creation) and net_rxtx.c (the data path). Not for other modules: they
 * use net.h.
 */
#ifndef KITE_VIRTIO_NET_IMPL_H
#define KITE_VIRTIO_NET_IMPL_H

#include <stdatomic.h>

#include "virtio/net.h"

#define HDR_LEN		VIRTIO_NET_HDR_LEN
#define ETH_HDR_LEN	14
#define BIT(b)		(1ULL << (b))

enum vq_role { ROLE_NONE, ROLE_RX, ROLE_TX, ROLE_CTRL };

struct net_vq;

/* A popped receive chain: its iovecs sit in the slot's iov array. */
struct rx_chain {
	uint16_t head, niov;
	uint32_t cap;
};

/* One read: the chains it may fill, in pop order. */
struct rx_slot {
	struct io_op op;		/* first: the CQE's user_data */
	struct net_vq *q;
	bool armed;
	bool over;			/* the read ends in the queue's overflow buffer */
	unsigned nchains, niov;
	uint64_t cap;
	struct rx_chain chains[NET_SLOT_IOV];
	struct iovec iov[NET_SLOT_IOV + 1];	/* + the overflow buffer */
};

struct tx_slot {
	struct io_op op;
	struct net_vq *q;
	bool busy;			/* its write is in flight */
	uint16_t head;
	unsigned niov;
	uint32_t len;
	struct iovec iov[NET_CHAIN_IOV];
};

struct net_rx {
	bool mrg;			/* MRG_RXBUF negotiated */
	uint64_t want;			/* bytes a mergeable slot gathers */
	uint8_t *over;			/* MRG_RXBUF: want bytes for a short slot's overflow */
	struct rx_slot *held;		/* its frame overflowed: waits for buffers */
	uint32_t held_len;		/* that frame's length, header included */
	bool polling;			/* POLLIN armed after -EAGAIN */
	bool stalled;			/* the tap failed a read: wait for a kick */
	struct io_op poll_op;
	struct rx_slot slots[NET_RX_SLOTS];
};

struct net_tx {
	unsigned nfree, nbatch, nretry, writes;
	bool again;			/* a write met -EAGAIN: wait for POLLOUT */
	bool polling;
	bool deferred;			/* SQ was full: the batch hook retries */
	struct io_op poll_op;
	uint8_t free[NET_TX_BATCH];
	uint8_t batch[NET_TX_BATCH];	/* popped, to be written, in ring order */
	struct tx_slot slots[NET_TX_BATCH];
};

/* Written by the queue's thread only; read approximately by the getter. */
struct net_counters {
	uint64_t rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_errors;
	uint64_t malformed, ctrl_errors;
};

struct net_vq {
	struct virtio_net *n;
	unsigned idx, pair;
	enum vq_role role;		/* set at enable, from the features */
	struct iothread *thread;
	struct io_op kick_op;
	struct virtq *_Atomic vq;	/* NULL while disabled */
	struct net_rx *rx;
	struct net_tx *tx;
	/* Reset handshake as in virtio-blk. */
	_Atomic unsigned inflight;
	_Atomic bool stopping, busy, dirty;
	bool broken;
	struct net_counters c;
};

struct net_thread {
	struct virtio_net *n;
	struct iothread *t;
};

struct virtio_net {
	struct device dev;
	struct virtio_pci *t;
	struct tap *tap;
	const struct net_io_ops *io;
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	unsigned max_pairs, nq;
	struct net_vq *queues;
	unsigned nthreads;
	struct net_thread *threads;
	_Atomic unsigned active_pairs;
	int offloads;			/* TUN_F_* on the tap */
	/* Control-queue state: accepted, recorded; the tap passes all. */
	bool promisc, allmulti;
	uint32_t uc_macs, mc_macs;
	struct io_op link_op;
	_Atomic unsigned warnings;
};

void net_warn(struct virtio_net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void net_bump(uint64_t *c, uint64_t v)
{
	/* One writer: no locked add needed, but no torn reads either. */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline bool net_has(const struct virtio_net *n, unsigned bit)
{
	return virtio_pci_features(n->t) & BIT(bit);
}

/* Control queues always; a pair's queues while the pair is active. */
static inline bool net_served(const struct net_vq *q)
{
	return q->role == ROLE_CTRL || q->pair < atomic_load(&q->n->active_pairs);
}

/* The ring is corrupt: DEVICE_NEEDS_RESET, stop using the queue. */
void net_ring_broken(struct net_vq *q);
/* Give back a chain kite cannot use: the driver sees an empty buffer. */
void net_reject(struct net_vq *q, struct virtq *vq, uint16_t head, const char *why);

/* The data path (net_rxtx.c), on the queue's I/O thread. */
void net_rx_arm(struct net_vq *q, struct virtq *vq);
void net_tx_drain(struct net_vq *q, struct virtq *vq);
/* Cancel what waits on the tap: the queue is stopping or retired. */
void net_cancel_waits(struct net_vq *q);
void net_rx_done(struct io_op *op, int res, uint32_t cqe_flags);
void net_rx_poll_done(struct io_op *op, int res, uint32_t cqe_flags);
void net_tx_done(struct io_op *op, int res, uint32_t cqe_flags);
void net_tx_poll_done(struct io_op *op, int res, uint32_t cqe_flags);

/* net_state.c: the device_ops save and restore (vmm/device.h). */
struct state_tree;
int net_dev_save(struct device *dev, struct state_tree *st, int node);
int net_dev_restore(struct device *dev, const void *fdt, int node);

#endif
