// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot of virtio-scsi and virtio-net beyond their transport: saved on
 * one side, restored into a fresh device on another over the same guest
 * RAM, then driven: virtio-scsi still owes its unit attention and its
 * event, with the sizes the driver set; virtio-net gives back the receive
 * buffers it held (popped again, or returned empty) and keeps its queue
 * pairs, receive mode and a link change.
 */
#include <check.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fake_vm.h"
#include "tests/net_fake.h"
#include "tests/state_fake.h"
#include "tests/state_util.h"
#include "tests/vq_fake.h"
#include "virtio/net_impl.h"
#include "virtio/scsi_impl.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define QS		16
#define V1		(1ULL << 32)
#define F(b)		(1ULL << (b))

static struct side A, B;
static struct vq_fake vf;
static struct state_tree st;
static void *tree;

/* A ring of the driver's, somewhere in fake RAM. */
struct ring {
	uint64_t desc, avail, used;
	uint16_t aidx, next;
};

static void setup(void)
{
	net_fake_reset();
	sides_init(&A, &B, &vf, QS, &st);
	tree = NULL;
}

static void teardown(void)
{
	free(tree);
	sides_free(&A, &B, &vf, &st);
	net_fake_reset();
}

static void save(struct device *dev, const char *name, int expect)
{
	size_t len;

	ck_assert_int_eq(dev->ops->save(dev, &st, state_add_node(&st, 0, name)), expect);
	if (expect) {
		/* A refused save leaves a partial node: start again. */
		state_free(&st);
		ck_assert_int_eq(state_begin(&st), 0);
		return;
	}
	tree = state_copy(&st, &len);
}

static void *host(uint64_t gpa)
{
	return vq_fake_host(&vf, gpa);
}

/* A chain of n buffers on r; returns its head. */
static uint16_t add(struct ring *r, const uint64_t *gpa, const uint32_t *len, const int *w,
		    unsigned n)
{
	uint16_t head = r->next;

	for (unsigned i = 0; i < n; i++) {
		uint16_t me = (head + i) % QS;

		vq_fake_desc(&vf, r->desc, me, gpa[i], len[i],
			     (w[i] ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
			     (me + 1) % QS);
	}
	r->next = (head + n) % QS;
	*(uint16_t *)host(r->avail + 4 + 2 * (r->aidx % QS)) = head;
	r->aidx++;
	__atomic_store_n((uint16_t *)host(r->avail + 2), r->aidx, __ATOMIC_RELEASE);
	return head;
}

static uint16_t used_idx(const struct ring *r)
{
	return __atomic_load_n((uint16_t *)host(r->used + 2), __ATOMIC_ACQUIRE);
}

static void used_elem(const struct ring *r, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = host(r->used + 4 + 8 * (i % QS));

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

static struct ring ring_at(uint64_t base)
{
	memset(host(base), 0, 0x1000);
	return (struct ring){ base, base + 0x400, base + 0x800, 0, 0 };
}

/* ---- virtio-scsi ---- */

#define NTARGETS	2
#define REQ_GPA		0x30000ULL
#define RESP_GPA	0x30100ULL
#define EVT_GPA		0x30400ULL

static struct disk disks[NTARGETS];
static struct disk *disk_list[NTARGETS] = { &disks[0], &disks[1] };
static struct ring sq[3];		/* control, event, request */

static struct virtio_scsi *make_scsi(struct side *s)
{
	struct virtio_scsi_opts o = {
		.disks = disk_list, .ndisks = NTARGETS, .threads = &sf_thread, .nthreads = 1,
		.num_queues = 1, .queue_size = QS, .io = &sf_io,
	};
	struct virtio_scsi *dev;

	sf_reset();
	ck_assert_int_eq(virtio_scsi_create(&dev, FAKE_VM, &s->host, &s->ir, &vf.mem, &o), 0);
	vpd_attach(&s->d, &s->host, &s->mmio, virtio_pci_func(virtio_scsi_transport(dev))->slot);
	return dev;
}

/* A command to LUN 0 of target t: request header and CDB, response with
 * `resp` bytes; optionally data-in. Returns the response byte offset. */
static void scsi_cmd(struct side *s, unsigned t, const uint8_t *cdb, uint32_t resp,
		     uint32_t datain)
{
	uint8_t *req = host(REQ_GPA);
	uint64_t gpa[3] = { REQ_GPA, RESP_GPA, VQF_DATA(0) };
	uint32_t len[3] = { 19 + 32, resp, datain };
	int w[3] = { 0, 1, 1 };

	memset(req, 0, 19 + 32);
	req[0] = 1;
	req[1] = t;
	req[2] = 0x40;
	memcpy(req + 19, cdb, 10);
	memset(host(RESP_GPA), 0xee, resp);
	add(&sq[2], gpa, len, w, datain ? 3 : 2);
	vpd_notify(&s->d, 2);
	sf_run();
}

/* The device's own quiesce, with a stand-in I/O thread running the
 * fake's kicks and completions meanwhile (quiesce waits for them). */
static void (*runner_fn)(void);
static atomic_bool runner_stop;

static void *runner(void *arg)
{
	(void)arg;
	while (!atomic_load(&runner_stop)) {
		runner_fn();
		usleep(100);
	}
	return NULL;
}

static int quiesce(struct device *dev, void (*run)(void))
{
	pthread_t t;
	int r;

	runner_fn = run;
	atomic_store(&runner_stop, false);
	ck_assert_int_eq(pthread_create(&t, NULL, runner, NULL), 0);
	r = dev->ops->quiesce(dev);
	atomic_store(&runner_stop, true);
	pthread_join(t, NULL);
	return r;
}

START_TEST(scsi_round_trip)
{
	static const uint8_t tur[10] = { 0x00 }, read10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct virtio_scsi *a, *b;
	const uint8_t *resp = host(RESP_GPA);
	uint32_t id, len;

	for (unsigned i = 0; i < NTARGETS; i++) {
		memset(&disks[i], 0, sizeof(disks[i]));
		disks[i].fd = memfd_create("kite-test-scsi-state", MFD_CLOEXEC);
		ck_assert_int_eq(ftruncate(disks[i].fd, 1 << 20), 0);
		disks[i].size = 1 << 20;
		disks[i].block_size = 512;
		disks[i].buffered_fd = disks[i].lock_fd = -1;
		disks[i].path = "scsi-state.img";
	}
	sq[0] = ring_at(0x10000);
	sq[1] = ring_at(0x11000);
	sq[2] = ring_at(0x12000);
	a = make_scsi(&A);
	ck_assert_uint_eq(vpd_negotiate(&A.d, V1) & 8, 8);
	for (unsigned i = 0; i < 3; i++)
		vpd_queue_setup(&A.d, i, QS, sq[i].desc, sq[i].avail, sq[i].used);
	vpd_cc_write(&A.d, VPD_STATUS, 0xf, 1);
	vpd_write(&A.d, A.d.device + 20, 64, 4);	/* sense_size */
	/* An event buffer, waiting in the event queue. */
	add(&sq[1], (uint64_t[]){ EVT_GPA }, (uint32_t[]){ 16 }, (int[]){ 1 }, 1);
	vpd_notify(&A.d, 1);
	sf_run();
	ck_assert_uint_eq(used_idx(&sq[1]), 0);

	/* A read in flight: not quiescent. */
	sf.hold = true;
	scsi_cmd(&A, 0, read10, 12 + 64, 512);
	save(virtio_scsi_device(a), "virtio-scsi@0", -EBUSY);
	ck_assert_str_eq(err_msg(), "virtio-scsi: queue 2 has 1 commands in flight");
	/* Quiesce waits for it and publishes what the stopped batch hook
	 * would have; resume lets the queues run again. */
	sf.hold = false;
	ck_assert_int_eq(quiesce(virtio_scsi_device(a), sf_run), 0);
	ck_assert_uint_eq(used_idx(&sq[2]), 1);
	virtio_scsi_device(a)->ops->resume(virtio_scsi_device(a));
	scsi_cmd(&A, 0, tur, 12 + 64, 0);
	ck_assert_uint_eq(used_idx(&sq[2]), 2);

	/* State beyond the transport: WCE off on target 0, a unit attention
	 * pending on target 1, an event posted and not yet delivered. */
	atomic_store(&a->luns[0].wce, false);
	atomic_store(&a->luns[1].ua, 0x103);
	ck_assert_int_eq(virtio_scsi_post_event(a, VIRTIO_SCSI_T_TRANSPORT_RESET, 1,
						VIRTIO_SCSI_EVT_RESET_HARD), 0);
	save(virtio_scsi_device(a), "virtio-scsi@0", 0);
	virtio_scsi_destroy(a);

	b = make_scsi(&B);
	ck_assert_int_eq(virtio_scsi_device(b)->ops->restore(virtio_scsi_device(b), tree,
				state_node(tree, 0, "virtio-scsi@0")), 0);
	ck_assert_uint_eq(vpd_read(&B.d, B.d.device + 20, 4), 64);
	ck_assert(!atomic_load(&b->luns[0].wce));
	ck_assert(atomic_load(&b->luns[1].wce));
	ck_assert_uint_eq(atomic_load(&b->luns[1].ua), 0x103);
	/* The restore kicked every queue: the event goes out now. */
	sf_run();
	ck_assert_uint_eq(used_idx(&sq[1]), 1);
	ck_assert_uint_eq(*(uint32_t *)host(EVT_GPA), VIRTIO_SCSI_T_TRANSPORT_RESET);
	ck_assert_uint_eq(((uint8_t *)host(EVT_GPA))[5], 1);	/* target 1 */
	/* Target 1 owes its unit attention, once, with the sense size set
	 * before the snapshot; the request ring goes on at used index 3. */
	scsi_cmd(&B, 1, tur, 12 + 64, 0);
	ck_assert_uint_eq(used_idx(&sq[2]), 3);
	used_elem(&sq[2], 2, &id, &len);
	ck_assert_uint_eq(len, 12 + 18);
	ck_assert_uint_eq(resp[10], 2);				/* CHECK CONDITION */
	ck_assert_uint_eq(resp[12 + 2] & 0xf, 6);		/* UNIT ATTENTION */
	ck_assert_uint_eq(resp[12 + 12], 0x29);
	ck_assert_uint_eq(resp[12 + 13], 0x03);
	scsi_cmd(&B, 1, tur, 12 + 64, 0);
	ck_assert_uint_eq(resp[10], 0);
	virtio_scsi_destroy(b);

	/* Another target count is another controller. */
	side_free(&B);
	side_init(&B);
	{
		struct virtio_scsi_opts o = {
			.disks = disk_list, .ndisks = 1, .threads = &sf_thread, .nthreads = 1,
			.num_queues = 1, .queue_size = QS, .io = &sf_io,
		};

		sf_reset();
		ck_assert_int_eq(virtio_scsi_create(&b, FAKE_VM, &B.host, &B.ir, &vf.mem, &o), 0);
		ck_assert_int_eq(virtio_scsi_device(b)->ops->restore(virtio_scsi_device(b), tree,
					state_node(tree, 0, "virtio-scsi@0")), -EINVAL);
		ck_assert_str_eq(err_msg(), "virtio-scsi: 2 targets in the stream, 1 here");
		virtio_scsi_destroy(b);
	}
	for (unsigned i = 0; i < NTARGETS; i++)
		close(disks[i].fd);
}
END_TEST

/* ---- virtio-net ---- */

#define FD0		100
#define RXBUF(i)	(0x40000ULL + (i) * 0x1000)
static const uint8_t mac[6] = { 0x02, 0x6b, 1, 2, 3, 4 };
static struct tap tap;
static struct ring nq[2 * NET_FAKE_PAIRS + 1];
static struct iothread *nthreads[1] = { (struct iothread *)&tap };

static struct virtio_net *make_net(struct side *s, const uint8_t *m)
{
	struct virtio_net_opts o = {
		.tap = &tap, .threads = nthreads, .nthreads = 1, .queue_size = QS,
		.io = &net_fake_io,
	};
	struct virtio_net *n;

	memset(&tap, 0, sizeof(tap));
	strcpy(tap.what, "tap=fake0");
	tap.nfds = NET_FAKE_PAIRS;
	for (unsigned i = 0; i < NET_FAKE_PAIRS; i++)
		tap.fds[i] = FD0 + i;
	tap.nl_fd = -1;
	tap.mtu = 1500;
	memcpy(o.mac, m, 6);
	ck_assert_int_eq(virtio_net_create(&n, FAKE_VM, &s->host, &s->ir, &vf.mem, &o), 0);
	vpd_attach(&s->d, &s->host, &s->mmio, virtio_pci_func(virtio_net_transport(n))->slot);
	return n;
}

/* Driver up with MQ and a control queue; three receive buffers posted on
 * pair 0 and popped into the device's read slots. */
static struct virtio_net *net_with_held_buffers(void)
{
	struct virtio_net *a = make_net(&A, mac);

	ck_assert_uint_eq(vpd_negotiate(&A.d, V1 | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
					F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) |
					F(VIRTIO_NET_F_MQ)) & 8, 8);
	for (unsigned i = 0; i < 2 * NET_FAKE_PAIRS + 1; i++) {
		nq[i] = ring_at(0x10000 + 0x1000ULL * i);
		vpd_queue_setup(&A.d, i, QS, nq[i].desc, nq[i].avail, nq[i].used);
	}
	vpd_cc_write(&A.d, VPD_STATUS, 0xf, 1);
	for (unsigned i = 0; i < 3; i++)
		add(&nq[0], (uint64_t[]){ RXBUF(i) }, (uint32_t[]){ 2048 }, (int[]){ 1 }, 1);
	vpd_notify(&A.d, 0);
	net_fake_run();
	ck_assert_uint_eq(nf.nreads, 3);
	return a;
}

START_TEST(net_round_trip)
{
	struct virtio_net *a = net_with_held_buffers(), *b;
	unsigned gen;
	uint32_t id, len;
	int q;

	/* What the control queue would have set. */
	atomic_store(&a->active_pairs, 2);
	a->promisc = true;
	a->uc_macs = 3;
	save(virtio_net_device(a), "virtio-net@0", -EBUSY);
	ck_assert_ptr_nonnull(strstr(err_msg(), "queue 0 has 3 reads or writes in flight"));
	ck_assert_int_eq(quiesce(virtio_net_device(a), net_fake_run), 0);
	gen = vpd_cc_read(&A.d, VPD_GEN, 1);
	save(virtio_net_device(a), "virtio-net@0", 0);
	q = state_node(tree, state_node(tree, 0, "virtio-net@0"), "queue@0");
	ck_assert_int_ge(q, 0);
	{
		uint32_t rw;

		ck_assert_int_eq(state_get_u32(tree, q, "rewind", &rw), 0);
		ck_assert_uint_eq(rw, 1);	/* the three were the last popped */
	}
	virtio_net_destroy(a);

	/* The new host's tap has no carrier. */
	net_fake_reset();
	nf.link_state = false;
	b = make_net(&B, mac);
	ck_assert(nf.detached[1]);
	ck_assert_int_eq(virtio_net_device(b)->ops->restore(virtio_net_device(b), tree,
				state_node(tree, 0, "virtio-net@0")), 0);
	ck_assert_uint_eq(atomic_load(&b->active_pairs), 2);
	ck_assert(!nf.detached[1]);		/* pair 1 joined the tap again */
	ck_assert(b->promisc);
	ck_assert_uint_eq(b->uc_macs, 3);
	/* The link change is a config change the driver hears of. */
	ck_assert_uint_eq(vpd_cc_read(&B.d, VPD_GEN, 1), (gen + 1) & 0xff);
	ck_assert_uint_eq(vpd_read(&B.d, B.d.device + 6, 2) & VIRTIO_NET_S_LINK_UP, 0);
	/* The held buffers are offered again: popped, read into, used. */
	net_fake_run();
	ck_assert_uint_eq(nf.nreads, 3);
	ck_assert_uint_eq(used_idx(&nq[0]), 0);
	net_fake_frame(FD0, 0, 0, 60, 0xaa);
	ck_assert_uint_eq(used_idx(&nq[0]), 1);
	used_elem(&nq[0], 0, &id, &len);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 12 + 60);
	ck_assert_uint_eq(((uint8_t *)host(RXBUF(0)))[12 + 59], 0xaa);
	virtio_net_destroy(b);
}
END_TEST

/* quiesce, save, resume on one device: reads armed again, frames flow. */
START_TEST(net_quiesce_resume)
{
	struct virtio_net *a = net_with_held_buffers();
	uint32_t id, len;

	ck_assert_int_eq(quiesce(virtio_net_device(a), net_fake_run), 0);
	save(virtio_net_device(a), "virtio-net@0", 0);
	virtio_net_device(a)->ops->resume(virtio_net_device(a));
	net_fake_run();
	ck_assert_uint_eq(nf.nreads, 3);
	net_fake_frame(FD0, 0, 0, 60, 0xbb);
	ck_assert_uint_eq(used_idx(&nq[0]), 1);
	used_elem(&nq[0], 0, &id, &len);
	ck_assert_uint_eq(len, 12 + 60);
	virtio_net_destroy(a);
}
END_TEST

START_TEST(net_held_buffers_returned_empty)
{
	struct virtio_net *a = net_with_held_buffers(), *b;
	fdt32_t no = cpu_to_fdt32(0);
	uint32_t id, len;
	int q;

	ck_assert_int_eq(quiesce(virtio_net_device(a), net_fake_run), 0);
	save(virtio_net_device(a), "virtio-net@0", 0);
	virtio_net_destroy(a);
	/* As if they had not been the last popped. */
	q = state_node(tree, state_node(tree, 0, "virtio-net@0"), "queue@0");
	ck_assert_int_eq(fdt_setprop_inplace(tree, q, "rewind", &no, sizeof(no)), 0);

	net_fake_reset();
	b = make_net(&B, mac);
	ck_assert_int_eq(virtio_net_device(b)->ops->restore(virtio_net_device(b), tree,
				state_node(tree, 0, "virtio-net@0")), 0);
	net_fake_run();
	ck_assert_uint_eq(used_idx(&nq[0]), 3);
	for (uint16_t i = 0; i < 3; i++) {
		used_elem(&nq[0], i, &id, &len);
		ck_assert_uint_eq(id, i);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_uint_eq(nf.nreads, 0);	/* nothing left to read into */
	virtio_net_destroy(b);
}
END_TEST

START_TEST(net_refuses_another_mac)
{
	static const uint8_t other[6] = { 0x02, 0x6b, 9, 9, 9, 9 };
	struct virtio_net *a = make_net(&A, mac), *b;

	save(virtio_net_device(a), "virtio-net@0", 0);
	virtio_net_destroy(a);
	net_fake_reset();
	b = make_net(&B, other);
	ck_assert_int_eq(virtio_net_device(b)->ops->restore(virtio_net_device(b), tree,
				state_node(tree, 0, "virtio-net@0")), -EINVAL);
	ck_assert_str_eq(err_msg(), "virtio-net tap=fake0: MAC 02:6b:01:02:03:04 in the stream, "
			 "02:6b:09:09:09:09 here");
	virtio_net_destroy(b);
}
END_TEST

Suite *vdev_state_suite(void)
{
	Suite *s = suite_create("vdev_state");
	TCase *tc = tcase_create("devices");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scsi_round_trip);
	tcase_add_test(tc, net_round_trip);
	tcase_add_test(tc, net_quiesce_resume);
	tcase_add_test(tc, net_held_buffers_returned_empty);
	tcase_add_test(tc, net_refuses_another_mac);
	suite_add_tcase(s, tc);
	return s;
}
