// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net's transmit header and control queue parsing against a
 * hostile driver. The input is a ring input (fuzz.h) for one queue: the
 * first transmit queue, or with NET_CTRL the control queue. Each run
 * builds a two-pair device on a fake tap, negotiates and enables that
 * queue through the transport, kicks once, runs the fake I/O thread until
 * quiet, then resets the device and frees everything.
 *
 * The fake tap checks each frame handed to it: 1 to NET_SLOT_IOV iovecs,
 * all in guest RAM, a virtio-net header and an Ethernet header at least,
 * at most NET_FRAME_MAX bytes in all.
 *
 * Header use: `flags` (NET_* below); `extra` lists features the driver
 * refuses (bit 0 MQ, 1 CTRL_RX, 2 CSUM, 3 HOST_TSO4/6, 4 HOST_ECN, 5 CTRL_VQ).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "tests/fake_vm.h"
#include "virtio/net.h"
#include "vmm/err.h"

#define NET_CTRL	0x01	/* the ring is the control queue's */
#define NET_AGAIN	0x02	/* the tap's first write says -EAGAIN (then POLLOUT) */
#define NET_FAIL	0x04	/* writes fail with -EIO */
#define NET_SQ_SMALL	0x08	/* room for 3 SQEs only */
#define NET_NO_QUEUE	0x10	/* attaching a tap queue fails */

#define PAIRS		2

static uint8_t flags;
static unsigned writes;
static bool cancel_rest;	/* a linked write failed: the rest of its chain is cancelled */

static int f_readv(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		   struct io_op *op)
{
	(void)t, (void)fd, (void)iov, (void)n, (void)op;
	FUZZ_CHECK(0, "a read on a device whose receive queues are off");
}

static int f_writev(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		    struct io_op *op, bool link)
{
	size_t total = 0;
	int res;

	(void)t, (void)fd;
	FUZZ_CHECK(n >= 1 && n <= NET_SLOT_IOV, "%u iovecs", n);
	ram_check_iov(iov, n);
	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	FUZZ_CHECK(total >= VIRTIO_NET_HDR_LEN + 14 && total <= NET_FRAME_MAX, "frame of %zu",
		   total);
	res = flags & NET_FAIL ? -EIO : (int)total;
	if ((flags & NET_AGAIN) && writes++ == 0)
		res = -EAGAIN;
	/* As io_uring does with IOSQE_IO_LINK. */
	if (cancel_rest)
		res = -ECANCELED;
	else if (res < 0 && link)
		cancel_rest = true;
	if (!link)
		cancel_rest = false;
	return fio_later(op, res);
}

static int f_poll(struct iothread *t, int fd, unsigned events, struct io_op *op)
{
	(void)t, (void)fd;
	return fio_later(op, (int)events);
}

static unsigned f_sq_space(struct iothread *t)
{
	(void)t;
	return flags & NET_SQ_SMALL ? 3 : 256;
}

static int f_set_queue(struct tap *tap, unsigned idx, bool attach)
{
	(void)tap;
	FUZZ_CHECK(idx < PAIRS, "tap queue %u", idx);
	return attach && (flags & NET_NO_QUEUE) ? err_set(EINVAL, "no queue %u", idx) : 0;
}

static const struct net_io_ops fuzz_io = {
	.readv = f_readv, .writev = f_writev, .poll = f_poll, .cancel = ftap_cancel,
	.sq_space = f_sq_space, .watch_eventfd = fio_watch, .add_batch_hook = fio_batch_hook,
	.set_vnet_hdr = ftap_set_vnet_hdr, .set_offload = ftap_set_offload,
	.set_queue = f_set_queue, .link_up = ftap_link_up, .link_events = ftap_link_up,
};

static struct fuzz_host h;
static struct vdrv drv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct { unsigned bit; uint64_t features; } refuse[] = {
		{ 0x01, 1ULL << VIRTIO_NET_F_MQ },
		{ 0x02, 1ULL << VIRTIO_NET_F_CTRL_RX },
		{ 0x04, 1ULL << VIRTIO_NET_F_CSUM },
		{ 0x08, 1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 },
		{ 0x10, 1ULL << VIRTIO_NET_F_HOST_ECN },
		{ 0x20, 1ULL << VIRTIO_NET_F_CTRL_VQ },
	};
	static char thread;
	struct iothread *threads[1] = { (struct iothread *)&thread };
	struct tap tap = { .name = "fuzz0", .fds = { 100, 101 }, .nfds = PAIRS, .nl_fd = -1,
			   .mtu = 1500, .what = "tap=fuzz0" };
	struct virtio_net_opts o = {
		.tap = &tap, .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, .threads = threads,
		.nthreads = 1, .queue_size = 64, .io = &fuzz_io,
	};
	struct ring_input in;
	struct virtio_net *net;
	uint64_t features;
	unsigned queue;

	if (!ring_input_load(data, size, 6, &in))
		return 0;
	flags = in.flags;
	writes = 0;
	cancel_rest = false;
	fuzz_host_init(&h);
	FUZZ_CHECK(virtio_net_create(&net, FAKE_VM, &h.host, &h.irq, &fuzz_ram, &o) == 0, "%s",
		   err_msg());
	vdrv_attach(&drv, &h.host, &h.mmio, virtio_pci_func(virtio_net_transport(net))->slot);

	features = ring_input_features(&in, vdrv_device_features(&drv));
	for (unsigned i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++)
		if (in.extra & refuse[i].bit)
			features &= ~refuse[i].features;
	/* The control queue follows the data queues: 2 * pairs (5.1.2). */
	queue = !(flags & NET_CTRL) ? 1 : features & (1ULL << VIRTIO_NET_F_MQ) ? 2 * PAIRS : 2;
	vdrv_start(&drv, features, queue, &in);
	vdrv_kick(&drv, queue);
	fio_run();
	ring_check_used(&in);

	vdrv_reset(&drv);
	virtio_net_destroy(net);
	fuzz_host_destroy(&h);
	return 0;
}
