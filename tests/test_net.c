// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net driven through its PCI transport by a test driver, on fake
 * guest RAM (vq_fake), with the tap and I/O thread calls replaced by a
 * test-local fake (fake_*): a tap whose reads wait until the test hands it
 * a frame (as io_uring does on a real tap), whose writes are recorded and
 * complete at once (honouring IOSQE_IO_LINK), and completions run by
 * run_io() like an I/O thread's batch.
 */
#include <check.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "tests/net_fake.h"
#include "tests/state_fake.h"

#define QSIZE		16
#define PAIRS		NET_FAKE_PAIRS
#define NQ		(2 * PAIRS + 1)
#define FD0		100		/* the fake tap's queue fds: FD0 + pair */
#define NL_FD		200
#define CMD_GPA(i)	(0x30000ULL + (i) * 0x100)
#define BIG(k)		(0x80000ULL + (uint64_t)(k) * 0x1000)	/* beyond VQF_DATA's use */
#define F(b)		(1ULL << (b))

/* A frame arrives at tap queue `pair`: header (flags, gso) + len bytes. */
static void tap_frame(unsigned pair, uint8_t flags, uint8_t gso, size_t len, uint8_t fill)
{
	net_fake_frame(FD0 + pair, flags, gso, len, fill);
}

/* ---- the test driver's rings ---- */

static struct side vm;		/* buses, PCI host, IRQ router, the driver */
static struct vq_fake vf;
static struct tap tap;
static struct virtio_net *net;
static struct dq q[NQ];
static uint64_t offered;
static const uint8_t mac[6] = { 0x02, 0x6b, 1, 2, 3, 4 };
static char thread_a, thread_b;

static void *host_ptr(uint64_t gpa)
{
	return vq_fake_host(&vf, gpa);
}

static uint16_t chain(struct dq *dq, const struct seg *s, unsigned n)
{
	return vq_fake_dq_chain(&vf, dq, s, n);
}

/* One writable buffer per chain: a receive buffer. */
static uint16_t rxbuf(struct dq *dq, uint64_t gpa, uint32_t len)
{
	struct seg s = { gpa, len, 1 };

	return chain(dq, &s, 1);
}

static bool has_used(struct dq *dq)
{
	return vq_fake_dq_has_used(&vf, dq);
}

static void used(struct dq *dq, uint32_t *id, uint32_t *len)
{
	vq_fake_dq_used(&vf, dq, id, len);
}

static void kick(struct dq *dq)
{
	vpd_notify(&vm.d, dq->idx);
	net_fake_run();
}

static void put_hdr(uint64_t gpa, uint8_t flags, uint8_t gso)
{
	uint8_t *p = host_ptr(gpa);

	memset(p, 0, 12);
	p[0] = flags;
	p[1] = gso;
}

static uint16_t hdr_u16(uint64_t gpa, unsigned off)
{
	uint16_t v;

	memcpy(&v, (uint8_t *)host_ptr(gpa) + off, 2);
	return v;
}

/* Negotiate `features`, set up every queue the driver would, DRIVER_OK. */
static void driver_up(uint64_t features)
{
	unsigned pairs = features & F(VIRTIO_NET_F_MQ) ? PAIRS : 1;

	ck_assert_uint_eq(vpd_negotiate(&vm.d, features) & 8, 8);
	for (unsigned i = 0; i < NQ; i++) {
		uint64_t base = 0x10000 + 0x1000ULL * i;

		q[i] = (struct dq){ i, base, base + 0x400, base + 0x800, 0, 0, 0 };
		memset(host_ptr(base), 0, 0x1000);
	}
	/* Without MQ the control queue is queue 2 (5.1.2). */
	for (unsigned i = 0; i < 2 * pairs + 1; i++)
		vpd_queue_setup(&vm.d, i, QSIZE, q[i].desc, q[i].avail, q[i].used);
	vpd_cc_write(&vm.d, VPD_STATUS, 0xf, 1);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1), 0xf);
}

static void setup(void)
{
	struct iothread *threads[2] = { (struct iothread *)&thread_a,
					(struct iothread *)&thread_b };
	struct virtio_net_opts o = {
		.tap = &tap, .threads = threads, .nthreads = 2, .queue_size = QSIZE,
		.io = &net_fake_io,
	};

	side_init(&vm);
	vq_fake_init(&vf, QSIZE);
	fake_vm_reset();
	nf.npend = nf.nwatch = nf.nhooks = nf.nreads = nf.npolls = nf.nframes = nf.nsent = nf.nwrites = 0;
	memset(nf.write_fail, 0, sizeof(nf.write_fail));
	nf.link_open = nf.link_failed = false;
	nf.sq_space = 256;
	nf.hdr_size = nf.queue_calls = 0;
	nf.offload = -1;
	nf.link_state = true;
	memset(nf.detached, 0, sizeof(nf.detached));
	memset(&tap, 0, sizeof(tap));
	strcpy(tap.name, "fake0");
	strcpy(tap.what, "tap=fake0");
	tap.nfds = PAIRS;
	for (unsigned i = 0; i < PAIRS; i++)
		tap.fds[i] = FD0 + i;
	tap.nl_fd = NL_FD;
	tap.mtu = 1500;
	memcpy(o.mac, mac, 6);
	ck_assert_int_eq(virtio_net_create(&net, FAKE_VM, &vm.host, &vm.ir, &vf.mem, &o), 0);
	vpd_attach(&vm.d, &vm.host, &vm.mmio, virtio_pci_func(virtio_net_transport(net))->slot);
	offered = vpd_device_features(&vm.d);
}

static void teardown(void)
{
	virtio_net_destroy(net);
	net_fake_reset();
	vq_fake_free(&vf);
	side_free(&vm);
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats s;

	virtio_net_get_stats(net, &s);
	return s;
}

static int irqs(void)
{
	return fake_vm_get().irq_edges[pci_intx_gsi(vm.d.slot, 0)];
}

#define BASIC	(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(32))
#define OFFLOADS (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | \
		  F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
		  F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) | \
		  F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))
#define CTRL	(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_MQ))

/* ---- feature bits, config space ---- */

START_TEST(offload_flags)
{
	static const struct { uint64_t f; unsigned tun; } t[] = {
		{ 0, 0 },
		{ F(VIRTIO_NET_F_GUEST_TSO4), 0 },	/* TSO needs GUEST_CSUM */
		{ F(VIRTIO_NET_F_GUEST_CSUM), TUN_F_CSUM },
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4), TUN_F_CSUM | TUN_F_TSO4 },
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6), TUN_F_CSUM | TUN_F_TSO6 },
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_ECN), TUN_F_CSUM },
		{ OFFLOADS, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN },
		/* Host-side (TX) offloads ask nothing of the tap. */
		{ F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4), 0 },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(net_tun_offloads(t[i].f) == t[i].tun, "case %u", i);
}
END_TEST

START_TEST(config_space)
{
	ck_assert_uint_eq(offered, BASIC | OFFLOADS | CTRL | F(VIRTIO_NET_F_MTU) |
				   F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTQ_F_INDIRECT_DESC) |
				   F(VIRTQ_F_EVENT_IDX));
	ck_assert_uint_eq(vpd_cfg_read(&vm.d, PCI_DEVICE_ID, 2), 0x1041);
	ck_assert_uint_eq(vpd_cfg_read(&vm.d, 8, 4) >> 8, 0x020000);
	ck_assert_uint_eq(vm.d.device_len, VIRTIO_NET_CONFIG_LEN);
	for (unsigned i = 0; i < 6; i++)
		ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + i, 1), mac[i]);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 6, 2), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 8, 2), PAIRS);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 10, 2), 1500);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_NUMQ, 2), NQ);
	/* The tap: 12-byte headers, no offloads yet, only pair 0 attached. */
	ck_assert_int_eq(nf.hdr_size, 12);
	ck_assert_int_eq(nf.offload, 0);
	ck_assert(!nf.detached[0] && nf.detached[1]);
	ck_assert_uint_eq(nf.nwatch, NQ);
	ck_assert_uint_eq(nf.nhooks, 2);
	ck_assert_uint_eq(nf.npolls, 1);
	ck_assert_int_eq(nf.polls[0].fd, NL_FD);
}
END_TEST

START_TEST(offloads_follow_features)
{
	driver_up(BASIC | OFFLOADS);
	ck_assert_int_eq(nf.offload, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	vpd_cc_write(&vm.d, VPD_STATUS, 0, 1);
	ck_assert_int_eq(nf.offload, 0);
	driver_up(BASIC | F(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert_int_eq(nf.offload, TUN_F_CSUM);
}
END_TEST

/* ---- TX ---- */

START_TEST(tx_any_layout)
{
	struct seg s[3];
	uint32_t id, len;

	driver_up(BASIC | OFFLOADS);
	/* Header alone, then the frame. */
	put_hdr(VQF_DATA(0), 0, 0);
	memset(host_ptr(VQF_DATA(1)), 1, 60);
	s[0] = (struct seg){ VQF_DATA(0), 12, 0 };
	s[1] = (struct seg){ VQF_DATA(1), 60, 0 };
	chain(&q[1], s, 2);
	/* Header and frame in one buffer, with a checksum to finish. */
	put_hdr(VQF_DATA(2), VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	memset((uint8_t *)host_ptr(VQF_DATA(2)) + 12, 2, 60);
	s[0] = (struct seg){ VQF_DATA(2), 72, 0 };
	chain(&q[1], s, 1);
	/* Header split in two; a TSO frame. */
	put_hdr(VQF_DATA(3), 0, VIRTIO_NET_HDR_GSO_TCPV4);
	memset(host_ptr(VQF_DATA(4)), 3, 60);
	s[0] = (struct seg){ VQF_DATA(3), 5, 0 };
	s[1] = (struct seg){ VQF_DATA(3) + 5, 7, 0 };
	s[2] = (struct seg){ VQF_DATA(4), 60, 0 };
	chain(&q[1], s, 3);
	kick(&q[1]);
	ck_assert_uint_eq(nf.nsent, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(nf.sent[i].fd, FD0);
		ck_assert_uint_eq(nf.sent[i].len, 72);
		ck_assert_uint_eq(nf.sent[i].data[71], i + 1);
		used(&q[1], &id, &len);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(nf.sent[1].data[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(nf.sent[2].data[1], VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_int_eq(irqs(), 1);			/* one batch, one interrupt */
	ck_assert_uint_eq(stats().tx_packets, 3);
	ck_assert_uint_eq(stats().tx_bytes, 180);
}
END_TEST

START_TEST(tx_malformed)
{
	struct seg s[2];
	uint32_t id, len;

	driver_up(BASIC);		/* no CSUM, no HOST_TSO */
	put_hdr(VQF_DATA(0), 0, 0);
	s[0] = (struct seg){ VQF_DATA(0), 72, 0 };
	s[1] = (struct seg){ VQF_DATA(1), 16, 1 };	/* writable in a TX chain */
	chain(&q[1], s, 2);
	s[0] = (struct seg){ VQF_DATA(0), 12 + 10, 0 };	/* shorter than an Ethernet header */
	chain(&q[1], s, 1);
	put_hdr(VQF_DATA(2), 0, VIRTIO_NET_HDR_GSO_TCPV4);
	s[0] = (struct seg){ VQF_DATA(2), 72, 0 };	/* TSO not negotiated */
	chain(&q[1], s, 1);
	put_hdr(VQF_DATA(3), VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	s[0] = (struct seg){ VQF_DATA(3), 72, 0 };	/* CSUM not negotiated */
	chain(&q[1], s, 1);
	s[0] = (struct seg){ 0x80000000ULL, 72, 0 };	/* outside RAM */
	chain(&q[1], s, 1);
	s[0] = (struct seg){ VQF_DATA(0), 72, 0 };	/* fine */
	chain(&q[1], s, 1);
	kick(&q[1]);
	for (unsigned i = 0; i < 6; i++) {
		used(&q[1], &id, &len);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(nf.nsent, 1);
	ck_assert_uint_eq(stats().malformed, 5);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);
}
END_TEST

static void tx_frames(unsigned n)
{
	struct seg s = { 0, 72, 0 };

	for (unsigned i = 0; i < n; i++) {
		s.gpa = VQF_DATA(i);
		put_hdr(s.gpa, 0, 0);
		memset((uint8_t *)host_ptr(s.gpa) + 12, i + 1, 60);
		chain(&q[1], &s, 1);
	}
}

START_TEST(tx_waits_and_keeps_order)
{
	uint32_t id, len;

	driver_up(BASIC);
	nf.write_fail[1] = -EAGAIN;	/* the tap is full at the second frame */
	tx_frames(3);
	kick(&q[1]);
	ck_assert_uint_eq(nf.nsent, 1);	/* the third was cancelled by the link */
	used(&q[1], &id, &len);
	ck_assert(!has_used(&q[1]));
	ck_assert_uint_eq(nf.npolls, 2);
	ck_assert_uint_eq(nf.polls[1].events, POLLOUT);
	net_fake_fire_poll(FD0, POLLOUT);
	ck_assert_uint_eq(nf.nsent, 3);
	ck_assert_uint_eq(nf.sent[1].data[20], 2);
	ck_assert_uint_eq(nf.sent[2].data[20], 3);
	used(&q[1], &id, &len);
	used(&q[1], &id, &len);
	/* A refused frame is dropped and counted; the rest go out. */
	nf.write_fail[nf.nwrites] = -EINVAL;
	tx_frames(3);
	kick(&q[1]);
	ck_assert_uint_eq(nf.nsent, 5);
	ck_assert_uint_eq(stats().tx_errors, 1);
	ck_assert_uint_eq(stats().tx_packets, 5);
}
END_TEST

START_TEST(tx_sq_full_defers)
{
	driver_up(BASIC);
	nf.sq_space = 0;
	tx_frames(2);
	kick(&q[1]);
	ck_assert_uint_eq(nf.nsent, 0);
	nf.sq_space = 1;			/* one write per batch now */
	net_fake_run();
	ck_assert_uint_eq(nf.nsent, 2);
	ck_assert_uint_eq(nf.nwrites, 2);
}
END_TEST

/* ---- RX ---- */

START_TEST(rx_one_chain_per_frame)
{
	uint16_t h0, h1;
	uint32_t id, len;

	driver_up(BASIC | OFFLOADS);
	h0 = rxbuf(&q[0], VQF_DATA(0), 2048);
	h1 = rxbuf(&q[0], VQF_DATA(1), 2048);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 2);
	ck_assert_uint_eq(vq_fake_used_flags(&vf) & 0, 0);
	tap_frame(0, VIRTIO_NET_HDR_F_DATA_VALID, 0, 100, 0xaa);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, h0);
	ck_assert_uint_eq(len, 112);
	ck_assert_uint_eq(hdr_u16(VQF_DATA(0), 10), 1);		/* num_buffers */
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(0)), VIRTIO_NET_HDR_F_DATA_VALID);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(0) + 111), 0xaa);
	ck_assert_int_eq(irqs(), 1);
	vpd_read(&vm.d, vm.d.isr, 1);			/* the driver takes the interrupt */
	tap_frame(0, 0, VIRTIO_NET_HDR_GSO_TCPV6, 1400, 0xbb);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, h1);
	ck_assert_uint_eq(len, 1412);
	ck_assert_int_eq(irqs(), 2);
	ck_assert_uint_eq(stats().rx_packets, 2);
	ck_assert_uint_eq(stats().rx_bytes, 1500);
	ck_assert_uint_eq(nf.nreads, 0);		/* no buffers left: nothing armed */
}
END_TEST

START_TEST(rx_mergeable)
{
	uint16_t heads[8];
	uint32_t id, len;

	driver_up(BASIC | F(VIRTIO_NET_F_MRG_RXBUF));
	/* A slot gathers 12 + 18 + 1500 bytes: two 1 KiB buffers. */
	for (unsigned i = 0; i < 8; i++)
		heads[i] = rxbuf(&q[0], VQF_DATA(i), 1024);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 4);
	ck_assert_uint_eq(nf.reads[0].n, 2);
	tap_frame(0, 0, 0, 1500, 0x5a);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, heads[0]);
	ck_assert_uint_eq(len, 1024);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, heads[1]);
	ck_assert_uint_eq(len, 1512 - 1024);
	ck_assert_uint_eq(hdr_u16(VQF_DATA(0), 10), 2);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(1) + 487), 0x5a);
	/* A small frame takes one buffer; its slot keeps the other. */
	tap_frame(0, 0, 0, 60, 0x11);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, heads[2]);
	ck_assert_uint_eq(len, 72);
	ck_assert_uint_eq(hdr_u16(VQF_DATA(2), 10), 1);
	ck_assert(!has_used(&q[0]));
	/* That slot's leftover buffer is read next, once the ring is dry. */
	tap_frame(0, 0, 0, 60, 0x22);
	tap_frame(0, 0, 0, 60, 0x33);
	tap_frame(0, 0, 0, 60, 0x44);
	for (unsigned i = 0; i < 3; i++)
		used(&q[0], &id, &len);
	ck_assert_uint_eq(stats().rx_packets, 5);
	ck_assert_uint_eq(stats().rx_dropped, 0);
}
END_TEST

START_TEST(rx_mergeable_tso_short_ring)
{
	uint16_t heads[16];
	uint32_t id, len;

	driver_up(BASIC | OFFLOADS | F(VIRTIO_NET_F_MRG_RXBUF));
	/* 64 KiB posted, short of the 64 KiB + headers a slot wants: all
	 * of it goes to one read rather than waiting, with kite's overflow
	 * buffer for the rest of a frame as its last iovec. */
	for (unsigned i = 0; i < 16; i++)
		heads[i] = rxbuf(&q[0], BIG(i), 4096);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 1);
	ck_assert_uint_eq(nf.reads[0].n, 17);
	tap_frame(0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 9000, 0x77);
	for (unsigned i = 0; i < 3; i++) {
		used(&q[0], &id, &len);
		ck_assert_uint_eq(id, heads[i]);
		ck_assert_uint_eq(len, i < 2 ? 4096 : 9012 - 8192);
	}
	ck_assert_uint_eq(hdr_u16(BIG(0), 10), 3);
	ck_assert(!has_used(&q[0]));
	/* 13 buffers left, and the read's rest in kite's overflow buffer: a
	 * 60 KiB frame does not fit in them, and waits for more buffers. */
	ck_assert_uint_eq(nf.nreads, 1);
	ck_assert_uint_eq(nf.reads[0].n, 14);
	tap_frame(0, 0, VIRTIO_NET_HDR_GSO_TCPV4, 60000, 0x78);
	ck_assert(!has_used(&q[0]));
	ck_assert_uint_eq(nf.nreads, 0);		/* nothing read meanwhile */
	kick(&q[0]);					/* nothing new: still held */
	ck_assert(!has_used(&q[0]));
	for (unsigned i = 0; i < 2; i++)
		rxbuf(&q[0], BIG(i), 4096);		/* the first frame's buffers again */
	kick(&q[0]);
	for (unsigned i = 0; i < 15; i++) {
		used(&q[0], &id, &len);
		ck_assert_uint_eq(len, i < 14 ? 4096 : 60012 - 14 * 4096);
	}
	ck_assert_uint_eq(hdr_u16(BIG(3), 10), 15);
	for (unsigned b = 0; b < 4096 + 60012 - 14 * 4096; b += 256)	/* the rest */
		ck_assert_uint_eq(*(uint8_t *)host_ptr(BIG(b / 4096) + b % 4096), 0x78);
	ck_assert_uint_eq(stats().rx_dropped, 0);
	tap_frame(0, 0, 0, 100, 0x79);
	ck_assert(!has_used(&q[0]));			/* no buffer left */
}
END_TEST

START_TEST(rx_stops_without_buffers)
{
	uint32_t id, len;

	driver_up(BASIC);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 0);
	tap_frame(0, 0, 0, 60, 0x42);		/* waits in the tap */
	ck_assert(!has_used(&q[0]));
	/* Kicks are wanted while kite holds no buffer. */
	ck_assert_uint_eq(*(uint16_t *)host_ptr(q[0].used) & VIRTQ_USED_F_NO_NOTIFY, 0);
	rxbuf(&q[0], VQF_DATA(0), 2048);
	kick(&q[0]);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(len, 72);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(0) + 12), 0x42);
	/* Holding a buffer, kite needs no kicks. */
	rxbuf(&q[0], VQF_DATA(1), 2048);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 1);
	ck_assert_uint_eq(*(uint16_t *)host_ptr(q[0].used) & VIRTQ_USED_F_NO_NOTIFY,
			  VIRTQ_USED_F_NO_NOTIFY);
}
END_TEST

START_TEST(rx_too_big_dropped)
{
	uint16_t h;
	uint32_t id, len;

	driver_up(BASIC);
	h = rxbuf(&q[0], VQF_DATA(0), 256);
	kick(&q[0]);
	tap_frame(0, 0, 0, 1000, 0x10);		/* cut by the tap: dropped */
	ck_assert(!has_used(&q[0]));
	ck_assert_uint_eq(stats().rx_dropped, 1);
	ck_assert_uint_eq(nf.nreads, 1);		/* the same chain, read again */
	tap_frame(0, 0, 0, 100, 0x20);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(len, 112);
}
END_TEST

START_TEST(rx_offloads_checked)
{
	uint32_t id, len;

	driver_up(BASIC);		/* no GUEST_CSUM, no GUEST_TSO */
	rxbuf(&q[0], VQF_DATA(0), 2048);
	kick(&q[0]);
	/* Queued in the tap before the offloads changed: not for this guest. */
	tap_frame(0, 0, VIRTIO_NET_HDR_GSO_TCPV4, 3000, 1);
	tap_frame(0, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 100, 2);
	tap_frame(0, 0, VIRTIO_NET_HDR_GSO_UDP, 100, 3);
	ck_assert_uint_eq(stats().rx_dropped, 3);
	ck_assert(!has_used(&q[0]));
	/* DATA_VALID is cleared: flags must be 0 without GUEST_CSUM. */
	tap_frame(0, VIRTIO_NET_HDR_F_DATA_VALID, 0, 100, 4);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(0)), 0);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(0) + 12), 4);
}
END_TEST

START_TEST(rx_malformed_chains)
{
	struct seg s[2];
	uint32_t id, len;
	uint16_t h;

	driver_up(BASIC);
	s[0] = (struct seg){ VQF_DATA(0), 64, 0 };	/* readable in an RX chain */
	s[1] = (struct seg){ VQF_DATA(1), 2048, 1 };
	chain(&q[0], s, 2);
	rxbuf(&q[0], VQF_DATA(2), 8);			/* smaller than the header */
	rxbuf(&q[0], 0x80000000ULL, 2048);		/* outside RAM */
	h = rxbuf(&q[0], VQF_DATA(3), 2048);
	kick(&q[0]);
	for (unsigned i = 0; i < 3; i++) {
		used(&q[0], &id, &len);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(stats().malformed, 3);
	tap_frame(0, 0, 0, 60, 9);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(id, h);
}
END_TEST

START_TEST(corrupt_ring_needs_reset)
{
	driver_up(BASIC);
	__atomic_store_n((uint16_t *)host_ptr(q[0].avail + 2), QSIZE + 5, __ATOMIC_RELEASE);
	kick(&q[0]);
	ck_assert(vpd_cc_read(&vm.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

/* ---- control queue ---- */

/* Send one command on the control queue; return the ack. */
static uint8_t ctrl(struct dq *cq, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t *p = host_ptr(CMD_GPA(0)), *ack = host_ptr(CMD_GPA(8));
	struct seg s[3] = {
		{ CMD_GPA(0), 2, 0 }, { CMD_GPA(1), len, 0 }, { CMD_GPA(8), 1, 1 },
	};
	uint32_t id, ulen;

	p[0] = cls;
	p[1] = cmd;
	if (len)
		memcpy(host_ptr(CMD_GPA(1)), data, len);
	*ack = 0xee;
	if (len)
		chain(cq, s, 3);
	else
		chain(cq, (struct seg[]){ s[0], s[2] }, 2);
	kick(cq);
	used(cq, &id, &ulen);
	ck_assert_uint_eq(ulen, 1);
	return *ack;
}

START_TEST(ctrl_rx_and_mac)
{
	uint8_t on = 1, two[2] = { 1, 1 }, table[4 + 6 + 4 + 12] = { 1, 0, 0, 0 };
	uint32_t huge = 0xffffffff;

	driver_up(BASIC | CTRL);
	ck_assert_uint_eq(ctrl(&q[4], 0, 0, &on, 1), VIRTIO_NET_OK);	/* promisc */
	ck_assert_uint_eq(ctrl(&q[4], 0, 1, &on, 1), VIRTIO_NET_OK);	/* allmulti */
	ck_assert_uint_eq(ctrl(&q[4], 0, 2, &on, 1), VIRTIO_NET_ERR);	/* alluni: needs RX_EXTRA */
	ck_assert_uint_eq(ctrl(&q[4], 0, 0, two, 2), VIRTIO_NET_ERR);	/* wrong length */
	ck_assert_uint_eq(ctrl(&q[4], 0, 0, NULL, 0), VIRTIO_NET_ERR);
	/* One unicast, two multicast addresses. */
	table[10] = 2;
	ck_assert_uint_eq(ctrl(&q[4], 1, 0, table, sizeof(table)), VIRTIO_NET_OK);
	ck_assert_uint_eq(ctrl(&q[4], 1, 0, table, sizeof(table) - 1), VIRTIO_NET_ERR);
	table[10] = 3;
	ck_assert_uint_eq(ctrl(&q[4], 1, 0, table, sizeof(table)), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(&q[4], 1, 0, &huge, 4), VIRTIO_NET_ERR);
	memcpy(table, &huge, 4);
	ck_assert_uint_eq(ctrl(&q[4], 1, 0, table, sizeof(table)), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(&q[4], 1, 1, mac, 6), VIRTIO_NET_ERR);	/* no CTRL_MAC_ADDR */
	ck_assert_uint_eq(ctrl(&q[4], 2, 0, two, 2), VIRTIO_NET_ERR);	/* VLAN: not offered */
	ck_assert_uint_eq(ctrl(&q[4], 9, 0, &on, 1), VIRTIO_NET_ERR);
	ck_assert_uint_eq(stats().ctrl_errors, 10);
}
END_TEST

START_TEST(ctrl_without_features)
{
	uint8_t on = 1;
	uint16_t two = 2;

	/* CTRL_VQ alone: the control queue is queue 2, RX and MQ refused. */
	driver_up(BASIC | F(VIRTIO_NET_F_CTRL_VQ));
	ck_assert_uint_eq(ctrl(&q[2], 0, 0, &on, 1), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(&q[2], 4, 0, &two, 2), VIRTIO_NET_ERR);
	ck_assert(!nf.detached[0] && nf.detached[1]);
}
END_TEST

static unsigned reads_on(int fd)
{
	unsigned c = 0;

	for (unsigned i = 0; i < nf.nreads; i++)
		c += nf.reads[i].fd == fd;
	return c;
}

START_TEST(mq_pairs)
{
	uint16_t p;
	uint32_t id, len;

	driver_up(BASIC | CTRL);
	/* Pair 1 is not served before VQ_PAIRS_SET. */
	rxbuf(&q[2], VQF_DATA(0), 2048);
	kick(&q[2]);
	ck_assert_uint_eq(reads_on(FD0 + 1), 0);
	put_hdr(VQF_DATA(1), 0, 0);
	chain(&q[3], &(struct seg){ VQF_DATA(1), 72, 0 }, 1);
	kick(&q[3]);
	ck_assert_uint_eq(nf.nsent, 0);
	for (p = 0; p <= PAIRS + 1; p += PAIRS + 1)	/* 0 and 3: out of range */
		ck_assert_uint_eq(ctrl(&q[4], 4, 0, &p, 2), VIRTIO_NET_ERR);
	ck_assert_uint_eq(ctrl(&q[4], 4, 0, &p, 1), VIRTIO_NET_ERR);	/* short */
	p = 2;
	ck_assert_uint_eq(ctrl(&q[4], 4, 0, &p, 2), VIRTIO_NET_OK);
	ck_assert(!nf.detached[1]);
	/* Attached and served: the waiting frame goes out, a read is armed. */
	ck_assert_uint_eq(nf.nsent, 1);
	ck_assert_int_eq(nf.sent[0].fd, FD0 + 1);
	ck_assert_uint_eq(reads_on(FD0 + 1), 1);
	tap_frame(1, 0, 0, 60, 0x61);
	used(&q[2], &id, &len);
	ck_assert_uint_eq(len, 72);
	rxbuf(&q[2], VQF_DATA(2), 2048);
	kick(&q[2]);
	ck_assert_uint_eq(reads_on(FD0 + 1), 1);
	/* Back to one pair: the read is cancelled, the tap queue nf.detached. */
	p = 1;
	ck_assert_uint_eq(ctrl(&q[4], 4, 0, &p, 2), VIRTIO_NET_OK);
	ck_assert_uint_eq(reads_on(FD0 + 1), 0);
	ck_assert(nf.detached[1]);
	tap_frame(1, 0, 0, 60, 0x62);
	ck_assert(!has_used(&q[2]));
}
END_TEST

/* ---- link state, reset ---- */

START_TEST(link_changes)
{
	unsigned gen;

	driver_up(BASIC);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 6, 2), VIRTIO_NET_S_LINK_UP);
	gen = vpd_cc_read(&vm.d, VPD_GEN, 1);
	vpd_read(&vm.d, vm.d.isr, 1);
	nf.link_state = false;
	net_fake_fire_poll(NL_FD, POLLIN);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 6, 2), 0);
	ck_assert_uint_ne(vpd_cc_read(&vm.d, VPD_GEN, 1), gen);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.isr, 1), 2);		/* a config change */
	ck_assert_uint_eq(nf.npolls, 1);				/* watched again */
	net_fake_fire_poll(NL_FD, POLLIN);				/* no change: no interrupt */
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.isr, 1), 0);
	nf.link_state = true;
	net_fake_fire_poll(NL_FD, POLLIN);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.device + 6, 2), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(vpd_read(&vm.d, vm.d.isr, 1), 2);
}
END_TEST

static volatile bool io_helper_stop;

/* The vCPU thread's reset waits for the I/O thread: play that thread. */
static void *io_helper(void *arg)
{
	(void)arg;
	while (!io_helper_stop) {
		net_fake_run();
		usleep(100);
	}
	return NULL;
}

START_TEST(reset_cancels_reads)
{
	pthread_t th;
	uint32_t id, len;

	driver_up(BASIC | OFFLOADS | CTRL);
	rxbuf(&q[0], VQF_DATA(0), 2048);
	rxbuf(&q[0], VQF_DATA(1), 2048);
	kick(&q[0]);
	ck_assert_uint_eq(nf.nreads, 2);
	io_helper_stop = false;
	ck_assert_int_eq(pthread_create(&th, NULL, io_helper, NULL), 0);
	vpd_cc_write(&vm.d, VPD_STATUS, 0, 1);
	io_helper_stop = true;
	pthread_join(th, NULL);
	ck_assert_uint_eq(vpd_cc_read(&vm.d, VPD_STATUS, 1), 0);
	ck_assert_uint_eq(nf.nreads, 0);
	ck_assert_int_eq(nf.offload, 0);
	/* A new driver: everything works again. */
	driver_up(BASIC);
	rxbuf(&q[0], VQF_DATA(2), 2048);
	kick(&q[0]);
	tap_frame(0, 0, 0, 60, 0x99);
	used(&q[0], &id, &len);
	ck_assert_uint_eq(len, 72);
	ck_assert_uint_eq(*(uint8_t *)host_ptr(VQF_DATA(2) + 12), 0x99);
}
END_TEST

Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("device");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, offload_flags);
	tcase_add_test(tc, config_space);
	tcase_add_test(tc, offloads_follow_features);
	tcase_add_test(tc, tx_any_layout);
	tcase_add_test(tc, tx_malformed);
	tcase_add_test(tc, tx_waits_and_keeps_order);
	tcase_add_test(tc, tx_sq_full_defers);
	tcase_add_test(tc, rx_one_chain_per_frame);
	tcase_add_test(tc, rx_mergeable);
	tcase_add_test(tc, rx_mergeable_tso_short_ring);
	tcase_add_test(tc, rx_stops_without_buffers);
	tcase_add_test(tc, rx_too_big_dropped);
	tcase_add_test(tc, rx_offloads_checked);
	tcase_add_test(tc, rx_malformed_chains);
	tcase_add_test(tc, corrupt_ring_needs_reset);
	tcase_add_test(tc, ctrl_rx_and_mac);
	tcase_add_test(tc, ctrl_without_features);
	tcase_add_test(tc, mq_pairs);
	tcase_add_test(tc, link_changes);
	tcase_add_test(tc, reset_cancels_reads);
	suite_add_tcase(s, tc);
	return s;
}
