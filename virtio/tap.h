/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tap backend of virtio-net: open (or create) a multiqueue tap with a
 * virtio-net header, or adopt tap fds an orchestrator opened; set its
 * offloads, header size and active queues; watch its carrier; prepare
 * io_uring reads, writes and polls on its fds.
 *
 * Every fd is O_NONBLOCK. io_uring then never parks a worker thread on a
 * tap: a read on an empty queue (or a write the tap cannot take) waits on
 * an internal poll and completes when the tap is ready. Older kernels
 * complete such requests with -EAGAIN instead; the device handles both.
 *
 * Carrier: a NETLINK_ROUTE socket subscribed to link events, opened in the
 * tap's own network namespace (TUNGETDEVNETNS), so a tap an orchestrator
 * moved to another namespace is still seen; no polling. The link is up
 * when the interface is IFF_UP and IFF_RUNNING (carrier on).
 *
 * Lifetime: kite never sets IFF_PERSIST. A tap kite created disappears when
 * its last fd closes; one that existed before (persistent, or held by
 * another process) is only detached from, and stays.
 */
#ifndef KITE_VIRTIO_TAP_H
#define KITE_VIRTIO_TAP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/iothread.h"

#define TAP_MAX_QUEUES	64

struct tap {
	char name[IFNAMSIZ];
	int fds[TAP_MAX_QUEUES];	/* one per queue pair */
	unsigned nfds;
	bool created;			/* kite made the interface */
	bool detached[TAP_MAX_QUEUES];	/* TUNSETQUEUE IFF_DETACH_QUEUE in force */
	int nl_fd;			/* link events socket, -1 if none */
	int ifindex;			/* in the tap's namespace */
	unsigned mtu;
	/* For messages: how the user named it ("tap=x" or "fd=7"). */
	char what[32];
};

/*
 * Open `nqueues` queues of tap `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
 * IFF_MULTI_QUEUE), creating the interface if it does not exist. Errors
 * name --net tap=NAME and say what to do.
 */
int tap_open(struct tap *tap, const char *name, unsigned nqueues);
/* Take over tap fds opened by someone else (--net fd=N,fd=M): each must be
 * a tap queue with IFF_VNET_HDR and no packet info, all of one interface. */
int tap_adopt(struct tap *tap, const int *fds, unsigned nfds);
/* Close every fd (the caller's adopted fds too) and the event socket. */
void tap_close(struct tap *tap);

/* TUNSETVNETHDRSZ: bytes of virtio-net header before each frame. */
int tap_set_vnet_hdr_size(struct tap *tap, int size);
/* TUNSETOFFLOAD with TUN_F_* flags: what the tap may hand us. */
int tap_set_offload(struct tap *tap, unsigned tun_flags);
/* TUNSETQUEUE: attach or detach queue idx; the tap spreads traffic over
 * attached queues only. Idempotent. */
int tap_set_queue(struct tap *tap, unsigned idx, bool attach);
/* Whether the link is up now (IFF_UP and IFF_RUNNING). */
int tap_link_up(struct tap *tap, bool *up);
/*
 * Read every pending link event. Returns 1 and sets *up when one concerned
 * this tap (or events were lost and the state was read again), 0 when none
 * did, or a negative errno.
 */
int tap_link_events(struct tap *tap, bool *up);

/* io_uring preparation on I/O thread t; op->complete gets the result
 * (bytes or -errno). 0, or -EBUSY if no SQE could be had. */
int tap_prep_readv(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		   struct io_op *op);
/* link: the next SQE prepared runs only after this one, and is cancelled
 * (-ECANCELED) if this one fails. */
int tap_prep_writev(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		    struct io_op *op, bool link);
/* One-shot poll; res is the ready mask. */
int tap_prep_poll(struct iothread *t, int fd, unsigned events, struct io_op *op);
/* Cancel the request whose op this is; it completes with -ECANCELED (or
 * its result, if it finished first). The cancel itself reports nothing. */
int tap_prep_cancel(struct iothread *t, struct io_op *op);
/* Free SQ slots: a linked batch must fit, or the kernel would run the
 * part left open at submit time out of order. */
unsigned tap_sq_space(struct iothread *t);

#endif
