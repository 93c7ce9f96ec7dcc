// SPDX-License-Identifier: Apache-2.0
/*
 * The request-queue runner (virtio/vq_runner.h) on its own, under a toy
 * device: queue 0 is a side queue whose chains the device gives straight
 * back, queues 1 and 2 hold requests that complete when a test lets them.
 * The test driver (vpci_driver) drives it through the PCI transport on
 * fake guest RAM (vq_fake: queue 1 uses its rings); the I/O threads are a
 * synchronous stand-in that runs kicks, completions and hooks in turn.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/vq_runner.h"

#define QS		4
#define NQ		3
#define SIDE_DESC	0x8000ULL
#define SIDE_AVAIL	0x9000ULL
#define SIDE_USED	0xa000ULL
#define BUF(i)		(0x30000ULL + (i) * 0x100)

struct toy_req {
	struct vqr_req r;
	uint32_t len;
	struct iovec iov[4];
};

/* ---- the stand-in I/O threads ---- */

static char thread_a, thread_b, thread_c;
static struct { int fd; struct io_op *op; struct iothread *t; } watch[8];
static struct { iothread_hook_fn fn; void *opaque; } batch_hook[4], idle_hook[4];
static unsigned nwatch, nbatch, nidle;
static bool polling_now;

static int toy_watch(struct iothread *t, int fd, struct io_op *op)
{
	watch[nwatch].fd = fd;
	watch[nwatch].op = op;
	watch[nwatch++].t = t;
	return 0;
}

static int toy_batch_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	batch_hook[nbatch].fn = fn;
	batch_hook[nbatch++].opaque = opaque;
	return 0;
}

static int toy_idle_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	idle_hook[nidle].fn = fn;
	idle_hook[nidle++].opaque = opaque;
	return 0;
}

static bool toy_polling(void)
{
	return polling_now;
}

static const struct blk_io_ops toy_io = {
	.watch_eventfd = toy_watch, .add_batch_hook = toy_batch_hook,
	.add_idle_hook = toy_idle_hook, .polling = toy_polling,
};

/* ---- the toy device ---- */

static struct toy_req *held[QS * NQ];	/* started, not yet let go */
static struct io_op *ready[QS * NQ];	/* let go: completions to run */
static unsigned nheld, nready;
static unsigned nstart, nreject, nside, nalloc, nrelease, nflushed;
static struct vq_runner *run;
static struct virtio_pci *tp;

static void toy_done(struct io_op *op, int res, uint32_t cqe_flags)
{
	struct toy_req *req = (struct toy_req *)op;

	(void)res;
	(void)cqe_flags;
	vqr_complete(&req->r, req->len);
}

static void toy_start(struct vqr_queue *q, struct vqr_req *slot, const struct virtq_chain *c)
{
	(void)q;
	((struct toy_req *)slot)->len = c->in_len;
	held[nheld++] = (struct toy_req *)slot;
	nstart++;
}

static void toy_reject(struct vqr_queue *q, struct vqr_req *slot)
{
	(void)q;
	nreject++;
	vqr_complete(slot, 0);
}

static void toy_side(struct vqr_queue *q, struct virtq *vq)
{
	struct iovec iov[4];
	struct virtq_chain c;

	while (virtq_pop(vq, iov, 4, &c) > 0) {
		vqr_push(q, vq, c.head, 0);
		nside++;
	}
}

static void toy_flushed(struct vqr_queue *q)
{
	(void)q;
	nflushed++;
}

static int toy_alloc(struct vqr_queue *q, uint16_t size)
{
	(void)q;
	ck_assert_uint_eq(size, QS);
	nalloc++;
	return 0;
}

static void toy_release(struct vqr_queue *q)
{
	(void)q;
	nrelease++;
}

static const struct vqr_ops toy_ops = {
	.name = "toy", .what = "requests",
	.slot_size = sizeof(struct toy_req), .iov_offset = offsetof(struct toy_req, iov),
	.iov_max = 4, .complete = toy_done, .start = toy_start, .reject = toy_reject,
	.flushed = toy_flushed, .side_kick = toy_side, .alloc = toy_alloc,
	.release = toy_release,
};

static int toy_enable(void *dev, unsigned idx, struct virtq *vq)
{
	(void)dev;
	return vqr_enable(run, idx, vq);
}

static void toy_reset(void *dev)
{
	(void)dev;
	vqr_reset(run);
}

static const struct virtio_dev_ops toy_vops = { .queue_enable = toy_enable, .reset = toy_reset };

/* Let the first n started requests complete (their completions run next). */
static void let_go(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ready[nready++] = &held[i]->r.op;
	nheld -= n;
	memmove(held, held + n, nheld * sizeof(held[0]));
}

/* One round of every thread: kicks, completions, batch hooks. */
static bool io_round(void)
{
	bool busy = false;
	uint64_t v;

	for (unsigned i = 0; i < nwatch; i++)
		if (read(watch[i].fd, &v, sizeof(v)) == sizeof(v)) {
			watch[i].op->complete(watch[i].op, 1, 0);
			busy = true;
		}
	for (unsigned i = 0; i < nready; i++, busy = true)
		ready[i]->complete(ready[i], 0, 0);
	nready = 0;
	for (unsigned i = 0; i < nbatch; i++)
		busy |= batch_hook[i].fn(batch_hook[i].opaque);
	return busy;
}

static void settle(void)
{
	while (io_round())
		;
}

/* ---- the test driver ---- */

static struct bus pio, mmio;
static struct pci_host host;
static struct fake_kvm *k;
static struct irq_router ir;
static struct vq_fake vf;
static struct vpci_drv d;
static uint16_t side_avail;

static void make(bool poll)
{
	struct iothread *threads[3] = { (struct iothread *)&thread_a,
					(struct iothread *)&thread_b,
					(struct iothread *)&thread_c };
	struct vqr_opts o = {
		.ops = &toy_ops, .dev = NULL, .subject = "unit", .io = &toy_io,
		.threads = threads, .nthreads = 3, .nq = NQ, .nside = 1, .poll = poll,
	};
	struct virtio_pci_opts po = {
		.name = "toy", .device_id = 0x3f, .class_code = 0xff0000, .num_queues = NQ,
		.queue_size = QS, .ops = &toy_vops,
	};

	ck_assert_int_eq(vqr_create(&run, &o), 0);
	ck_assert_int_eq(virtio_pci_create(&tp, FAKE_VM, &host, &ir, &vf.mem, &po), 0);
	ck_assert_int_eq(vqr_attach(run, tp), 0);
	vpd_attach(&d, &host, &mmio, virtio_pci_func(tp)->slot);
	ck_assert_uint_eq(vpd_negotiate(&d, vpd_device_features(&d)) & 8, 8);
	vpd_queue_setup(&d, 0, QS, SIDE_DESC, SIDE_AVAIL, SIDE_USED);
	vpd_queue_setup(&d, 1, QS, VQF_DESC, VQF_AVAIL, VQF_USED);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);
}

static void setup_with(bool poll)
{
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio), 0);
	k = calloc(1, sizeof(*k));
	ck_assert_int_eq(irq_router_init(&ir, &fake_kvm_ops, fake_kvm_reset(k)), 0);
	vq_fake_init(&vf, QS);
	fake_vm_reset();
	nwatch = nbatch = nidle = nheld = nready = 0;
	nstart = nreject = nside = nalloc = nrelease = nflushed = 0;
	side_avail = 0;
	polling_now = false;
	make(poll);
}

static void setup(void) { setup_with(false); }
static void setup_poll(void) { setup_with(true); }

static void teardown(void)
{
	virtio_pci_destroy(tp);
	vqr_destroy(run);
	vq_fake_free(&vf);
	irq_router_destroy(&ir);
	free(k);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

/* A one-buffer chain on queue 1, device-writable, 16 bytes at BUF(i). */
static void post(uint16_t i)
{
	vq_fake_desc(&vf, VQF_DESC, i, BUF(i), 16, VIRTQ_DESC_F_WRITE, 0);
	vq_fake_add(&vf, i);
}

static void post_side(uint16_t i)
{
	vq_fake_desc(&vf, SIDE_DESC, i, BUF(8 + i), 8, VIRTQ_DESC_F_WRITE, 0);
	*(uint16_t *)vq_fake_host(&vf, SIDE_AVAIL + 4 + 2 * (side_avail % QS)) = i;
	side_avail++;
	__atomic_store_n((uint16_t *)vq_fake_host(&vf, SIDE_AVAIL + 2), side_avail,
			 __ATOMIC_RELEASE);
}

static int irqs(void)
{
	return fake_vm_get().irq_calls;
}

/* ---- tests ---- */

START_TEST(wiring)
{
	/* Three threads offered, two request queues: two threads used. */
	ck_assert_uint_eq(nbatch, 2);
	ck_assert_uint_eq(nidle, 0);
	ck_assert_uint_eq(nwatch, NQ);
	ck_assert_ptr_eq(watch[0].t, (struct iothread *)&thread_a);	/* side queue */
	ck_assert_ptr_eq(watch[1].t, (struct iothread *)&thread_a);
	ck_assert_ptr_eq(watch[2].t, (struct iothread *)&thread_b);
	for (unsigned i = 0; i < NQ; i++)
		ck_assert_int_eq(watch[i].fd, virtio_pci_kick_fd(tp, i));
	ck_assert_uint_eq(nalloc, 2);		/* queues 0 and 1 were enabled */
}
END_TEST

START_TEST(one_flush_per_batch)
{
	int before;
	uint32_t id, len;

	for (uint16_t i = 0; i < 3; i++)
		post(i);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 3);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 0);
	ck_assert_uint_eq(vqr_inflight(run, 1), 3);
	before = irqs();
	let_go(3);
	settle();
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 3);
	ck_assert_int_eq(irqs() - before, 1);
	ck_assert_uint_eq(vqr_inflight(run, 1), 0);
	for (uint16_t i = 0; i < 3; i++) {
		vq_fake_used_elem(&vf, i, &id, &len);
		ck_assert_uint_eq(id, i);
		ck_assert_uint_eq(len, 16);
	}
}
END_TEST

/* Every slot taken: kicks stay off until a completion frees one. */
START_TEST(starved_queue_resumes)
{
	for (uint16_t i = 0; i < QS; i++)
		post(i);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, QS);
	ck_assert_uint_eq(vq_fake_used_flags(&vf) & VIRTQ_USED_F_NO_NOTIFY,
			  VIRTQ_USED_F_NO_NOTIFY);
	let_go(1);
	settle();
	ck_assert_uint_eq(vq_fake_used_flags(&vf) & VIRTQ_USED_F_NO_NOTIFY, 0);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 1);
	post(0);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, QS + 1);
	let_go(nheld);
	settle();
	ck_assert_uint_eq(vq_fake_used_idx(&vf), QS + 1);
}
END_TEST

START_TEST(malformed_chain_comes_back_empty)
{
	uint32_t id, len;

	vq_fake_desc(&vf, VQF_DESC, 2, 0x7ff00000ULL, 16, VIRTQ_DESC_F_WRITE, 0);
	vq_fake_add(&vf, 2);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 0);
	ck_assert_uint_eq(nreject, 1);
	ck_assert_uint_eq(vqr_inflight(run, 1), 0);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 1);
	vq_fake_used_elem(&vf, 0, &id, &len);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 0);
	/* The queue goes on. */
	post(0);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 1);
}
END_TEST

START_TEST(corrupt_ring_needs_reset)
{
	vq_fake_set_avail_idx(&vf, 3 * QS);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET,
			  VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_uint_eq(nstart + nreject, 0);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart + nreject, 0);
}
END_TEST

START_TEST(side_queue)
{
	int before = irqs();
	unsigned flushed = nflushed;

	post_side(0);
	post_side(1);
	vpd_notify(&d, 0);
	settle();
	ck_assert_uint_eq(nside, 2);
	ck_assert_uint_eq(nstart, 0);
	ck_assert_uint_eq(*(uint16_t *)vq_fake_host(&vf, SIDE_USED + 2), 2);
	ck_assert_int_eq(irqs() - before, 1);
	ck_assert_uint_gt(nflushed, flushed);
}
END_TEST

/* Stopped queues ignore kicks; a quiesce publishes what was pushed; a
 * resume looks at every ring. */
START_TEST(quiesce_and_resume)
{
	unsigned waited = 0;
	struct io_op *op;

	post(0);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 1);
	/* Completed, not yet flushed (no batch hook ran). */
	let_go(1);
	op = ready[--nready];
	op->complete(op, 0, 0);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 0);
	ck_assert_int_eq(vqr_quiesce(run, 0, NQ, &waited), 0);
	ck_assert_uint_eq(vq_fake_used_idx(&vf), 1);
	post(1);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 1);
	vqr_resume(run);
	settle();
	ck_assert_uint_eq(nstart, 2);
	ck_assert_uint_eq(vqr_inflight(run, 1), 1);
}
END_TEST

START_TEST(reset_releases_every_queue)
{
	unsigned before = nrelease;

	vpd_cc_write(&d, VPD_STATUS, 0, 1);
	ck_assert_uint_eq(nrelease - before, NQ);
	post(0);
	vpd_notify(&d, 1);
	settle();
	ck_assert_uint_eq(nstart, 0);
}
END_TEST

/* While the thread polls, chains start without kicks and kicks stay off;
 * the idle hook turns them back on. */
START_TEST(poll_window)
{
	ck_assert_uint_eq(nidle, 2);
	polling_now = true;
	post(0);
	settle();
	ck_assert_uint_eq(nstart, 1);
	ck_assert_uint_eq(vq_fake_used_flags(&vf) & VIRTQ_USED_F_NO_NOTIFY,
			  VIRTQ_USED_F_NO_NOTIFY);
	polling_now = false;
	post(1);
	for (unsigned i = 0; i < nidle; i++)
		idle_hook[i].fn(idle_hook[i].opaque);
	ck_assert_uint_eq(nstart, 2);
	ck_assert_uint_eq(vq_fake_used_flags(&vf) & VIRTQ_USED_F_NO_NOTIFY, 0);
}
END_TEST

Suite *vq_runner_suite(void)
{
	Suite *s = suite_create("vq_runner");
	TCase *tc = tcase_create("core");
	TCase *tp_poll = tcase_create("poll");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, wiring);
	tcase_add_test(tc, one_flush_per_batch);
	tcase_add_test(tc, starved_queue_resumes);
	tcase_add_test(tc, malformed_chain_comes_back_empty);
	tcase_add_test(tc, corrupt_ring_needs_reset);
	tcase_add_test(tc, side_queue);
	tcase_add_test(tc, quiesce_and_resume);
	tcase_add_test(tc, reset_releases_every_queue);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp_poll, setup_poll, teardown);
	tcase_add_test(tp_poll, poll_window);
	suite_add_tcase(s, tp_poll);
	return s;
}
