/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.2, 5.1) on the virtio-pci transport, backed by a
 * multiqueue tap (virtio/tap.h), served by I/O threads through io_uring.
 *
 * Queues: receiveq1, transmitq1, ..., receiveqN, transmitqN, controlq (at
 * 2N when MQ is negotiated, else at 2). Pair i belongs to I/O thread
 * i % nthreads and to tap queue fd i; the control queue to thread 0.
 *
 * TX: a kick pops chains and hands each (header + frame, as the guest laid
 * it out) to writev on the tap: no copy. One batch per queue is in flight
 * at a time, its writes linked so the tap sees them in ring order; a write
 * the tap cannot take (-EAGAIN on older kernels) is retried, in order,
 * after POLLOUT. Newer kernels wait for POLLOUT inside io_uring.
 *
 * RX: reads go from the tap straight into the guest's buffers (readv into
 * the popped chains). Each RX queue has NET_RX_SLOTS read slots; a slot
 * holds the chains it popped and stays armed (a readv waiting in io_uring)
 * until a frame arrives. Reads are armed only while the guest has posted
 * buffers: with none, kite stops reading that tap queue (frames wait in
 * the tap, which drops on overflow as a NIC would) and resumes on the
 * guest's next kick. Frames are pushed in completion order, which is the
 * order the tap handed them out, whichever slot got them.
 *
 * MRG_RXBUF: a frame's size is not known before the read, so a slot pops
 * chains until they hold the largest frame the guest negotiated (12 + 18
 * + 65535 bytes with TSO, + MTU without). After a read of n bytes the
 * first k chains that hold data are pushed (num_buffers = k in the first
 * header); the rest stay in the slot for its next read, since popped
 * chains cannot be given back. When the ring runs dry, slots may be short
 * of a full frame: such a slot is armed only when no other read is armed,
 * after taking over the chains of the other idle slots, so every chain
 * kite holds is always behind some armed read; its read ends in the
 * queue's overflow buffer (want bytes of kite's). A frame larger than the
 * slot's buffers is held, its first part in them, until the guest posts
 * enough buffers for the rest, which is then copied from the overflow
 * buffer (the one copy on this path, for a ring that ran dry); nothing
 * else is read meanwhile, so frames stay in order and none is dropped.
 * Without MRG_RXBUF a slot holds one chain, which must hold a whole frame
 * (5.1.6.3.1's buffer sizes); a frame cut to fit one is dropped and
 * counted (rx_dropped).
 *
 * Interrupts: as virtio-blk, one flush and at most one interrupt per queue
 * per I/O thread batch (EVENT_IDX honoured).
 *
 * Link state: the tap's carrier (tap_link_events on a netlink socket,
 * watched by I/O thread 0) sets VIRTIO_NET_S_LINK_UP and raises a config
 * interrupt on change.
 */
#ifndef KITE_VIRTIO_NET_H
#define KITE_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/pci.h"
#include "virtio/tap.h"
#include "vmm/device.h"
#include "vmm/iothread.h"

#define VIRTIO_ID_NET		1

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_GUEST_ECN		9
#define VIRTIO_NET_F_GUEST_UFO		10
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_HOST_ECN		13
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_CTRL_RX		18
#define VIRTIO_NET_F_CTRL_VLAN		19
#define VIRTIO_NET_F_GUEST_ANNOUNCE	21
#define VIRTIO_NET_F_MQ			22
#define VIRTIO_NET_F_CTRL_MAC_ADDR	23

#define VIRTIO_NET_S_LINK_UP		1

/* struct virtio_net_hdr (5.1.6): 12 bytes with VERSION_1. */
#define VIRTIO_NET_HDR_LEN		12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2
#define VIRTIO_NET_HDR_GSO_NONE		0
#define VIRTIO_NET_HDR_GSO_TCPV4	1
#define VIRTIO_NET_HDR_GSO_UDP		3
#define VIRTIO_NET_HDR_GSO_TCPV6	4
#define VIRTIO_NET_HDR_GSO_ECN		0x80

/* Control queue (5.1.6.5). */
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1
#define VIRTIO_NET_CTRL_RX		0
#define VIRTIO_NET_CTRL_RX_PROMISC	0
#define VIRTIO_NET_CTRL_RX_ALLMULTI	1
#define VIRTIO_NET_CTRL_MAC		1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET	0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET	1
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET	0

/* Config space (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define VIRTIO_NET_CONFIG_LEN		12

/* Limits kite uses. */
#define NET_MAX_PAIRS		TAP_MAX_QUEUES
#define NET_RX_SLOTS		4	/* reads armed per RX queue */
#define NET_SLOT_IOV		128	/* buffers one read or write may cover */
#define NET_CHAIN_IOV		64	/* buffers in one chain kite accepts */
#define NET_TX_BATCH		64	/* linked writes in flight per TX queue */
/* Largest header + frame: 64 KiB IP datagram behind an 802.1Q header. */
#define NET_FRAME_MAX		(VIRTIO_NET_HDR_LEN + 18 + 65535)

/* ---- --net ---- */

/* One --net option, parsed: exactly one of tap / fds. */
struct net_opts {
	char *tap;			/* tap=NAME, or NULL */
	int fds[NET_MAX_PAIRS];		/* fd=N, in the order given */
	unsigned nfds;
	uint8_t mac[6];
	bool has_mac;			/* mac= given; else net_default_mac() */
	unsigned queues;		/* queue pairs; 0: default (one per vCPU) */
	unsigned queue_size;		/* power of two; 256 unless given */
};

/* Parse "tap=NAME[,mac=..][,queues=N][,queue_size=N]" or "fd=N[,fd=M..]
 * [,mac=..]". Errors name --net, the key and the value. */
int net_opts_parse(const char *arg, struct net_opts *o);
void net_opts_free(struct net_opts *o);
/* "52:54:00:12:34:56" -> bytes; -EINVAL unless six hex pairs. */
int net_parse_mac(const char *s, uint8_t mac[6]);
/* A MAC stable for the tap's name: locally administered, unicast. */
void net_default_mac(const char *tap_name, uint8_t mac[6]);

/* ---- the device ---- */

/* Negotiated feature bits -> TUN_F_* offloads the tap may hand us. */
unsigned net_tun_offloads(uint64_t features);

/* The calls into the tap and the I/O threads, replaceable so unit tests
 * run the device without io_uring or a tap. Same contracts as tap.h and
 * iothread.h. */
struct net_io_ops {
	int (*readv)(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		     struct io_op *op);
	int (*writev)(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		      struct io_op *op, bool link);
	int (*poll)(struct iothread *t, int fd, unsigned events, struct io_op *op);
	int (*cancel)(struct iothread *t, struct io_op *op);
	unsigned (*sq_space)(struct iothread *t);
	int (*watch_eventfd)(struct iothread *t, int fd, struct io_op *op);
	int (*add_batch_hook)(struct iothread *t, iothread_hook_fn fn, void *opaque);
	int (*set_vnet_hdr)(struct tap *tap, int size);
	int (*set_offload)(struct tap *tap, unsigned tun_flags);
	int (*set_queue)(struct tap *tap, unsigned idx, bool attach);
	int (*link_up)(struct tap *tap, bool *up);
	int (*link_events)(struct tap *tap, bool *up);
};

/* tap_* and iothread_* themselves. */
extern const struct net_io_ops virtio_net_io_default;

struct virtio_net_opts {
	struct tap *tap;		/* opened, one fd per pair; outlives the device */
	uint8_t mac[6];
	struct iothread **threads;	/* created, not yet started */
	unsigned nthreads;		/* >= 1 */
	unsigned queue_size;		/* power of two, 4..VIRTQ_MAX_SIZE; 0: 256 */
	const struct net_io_ops *io;	/* NULL: virtio_net_io_default */
};

/* Counters, summed over queues (read while running: approximate). */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_dropped;		/* too big for the buffers, bad offload, inactive */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_errors;		/* the tap refused the frame */
	uint64_t malformed;		/* chains given back unused */
	uint64_t ctrl_errors;		/* control commands answered VIRTIO_NET_ERR */
};

struct virtio_net;

/*
 * Create the device (one queue pair per tap fd) and its PCI function, set
 * the tap's header size (12) and offloads (none until the guest
 * negotiates), detach all tap queues but the first, watch every queue's
 * kick eventfd and the link events, register the batch hooks. Call before
 * the threads start.
 */
int virtio_net_create(struct virtio_net **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_net_opts *o);
/* For vm_add_device(): reset (device reset as by the driver), free. */
struct device *virtio_net_device(struct virtio_net *n);
struct virtio_pci *virtio_net_transport(struct virtio_net *n);
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *s);
/* The I/O threads must be stopped first; the tap is the caller's. */
void virtio_net_destroy(struct virtio_net *n);

#endif
