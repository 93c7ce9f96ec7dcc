// SPDX-License-Identifier: Apache-2.0
/* The virtio-scsi test harness: see scsi_harness.h. */
#include "tests/scsi_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"

/* ---- the fake backend and I/O thread ---- */

static struct { struct io_op *op; int res; } pend[64];
static struct { int fd; struct io_op *op; } watches[8];
static struct { iothread_hook_fn fn; void *opaque; } hooks[8];
static char thread_a, thread_b;

static void queue_done(struct io_op *op, int res)
{
	ck_assert_uint_lt(sh.npend, 64);
	pend[sh.npend].op = op;
	pend[sh.npend++].res = res;
}

static int fake_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		      uint64_t off, struct io_op *op)
{
	(void)t;
	if (sh.null_mode)
		return 1;
	queue_done(op, (int)preadv(d->fd, iov, n, off));
	return 0;
}

static int fake_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		       uint64_t off, struct io_op *op)
{
	(void)t;
	if (sh.null_mode)
		return 1;
	queue_done(op, (int)pwritev(d->fd, iov, n, off));
	return 0;
}

static int fake_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	(void)t;
	queue_done(op, fdatasync(d->fd));
	return 0;
}

static int zero_range(struct disk *d, uint64_t off, uint64_t len, struct io_op *op)
{
	static const char z[512];

	for (uint64_t o = 0; o < len; o += 512)
		ck_assert_int_eq(pwrite(d->fd, z, 512, off + o), 512);
	queue_done(op, 0);
	return 0;
}

static int fake_discard(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
			struct io_op *op)
{
	(void)t;
	sh.ndiscard++;
	return zero_range(d, off, len, op);
}

static int fake_zero(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
		     struct io_op *op)
{
	(void)t;
	sh.nzero++;
	return zero_range(d, off, len, op);
}

static void fake_null_fill(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static int fake_watch(struct iothread *t, int fd, struct io_op *op)
{
	(void)t;
	watches[sh.nwatch].fd = fd;
	watches[sh.nwatch++].op = op;
	return 0;
}

static int fake_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	sh.hook_thread[sh.nhooks] = t;
	hooks[sh.nhooks].fn = fn;
	hooks[sh.nhooks++].opaque = opaque;
	return 0;
}

static const struct blk_io_ops fake_io = {
	.readv = fake_readv, .writev = fake_writev, .flush = fake_flush,
	.discard = fake_discard, .write_zeroes = fake_zero, .null_fill = fake_null_fill,
	.watch_eventfd = fake_watch, .add_batch_hook = fake_hook,
};

/* What an I/O thread does: kicks, then completions, then the batch hooks;
 * until quiet. */
void sh_run_io(void)
{
	bool again = true;

	while (again) {
		again = false;
		for (unsigned i = 0; i < sh.nwatch; i++) {
			uint64_t v;

			if (read(watches[i].fd, &v, 8) == 8) {
				watches[i].op->complete(watches[i].op, 1, 0);
				again = true;
			}
		}
		while (!sh.hold && sh.npend) {
			struct io_op *op = pend[0].op;
			int res = pend[0].res;

			memmove(pend, pend + 1, --sh.npend * sizeof(pend[0]));
			op->complete(op, res, 0);
			again = true;
		}
		for (unsigned i = 0; i < sh.nhooks; i++)
			if (hooks[i].fn(hooks[i].opaque))
				again = true;
	}
}

/* ---- the test driver ---- */

struct scsi_harness sh;

static struct bus pio, mmio;
static struct pci_host host;
static struct fake_kvm *k;
static struct irq_router ir;
static struct vq_fake vf;
static struct disk *disk_list[NDISKS] = { &sh.disks[0], &sh.disks[1], &sh.disks[2] };

void *sh_host_ptr(uint64_t gpa)
{
	return vq_fake_host(&vf, gpa);
}

uint16_t sh_chain(struct dq *q, const struct seg *s, unsigned n)
{
	uint16_t head = q->next;

	for (unsigned i = 0; i < n; i++) {
		uint16_t me = (head + i) % QSIZE;

		vq_fake_desc(&vf, q->desc, me, s[i].gpa, s[i].len,
			     (s[i].w ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
			     (me + 1) % QSIZE);
	}
	q->next = (head + n) % QSIZE;
	*(uint16_t *)sh_host_ptr(q->avail + 4 + 2 * (q->aidx % QSIZE)) = head;
	q->aidx++;
	__atomic_store_n((uint16_t *)sh_host_ptr(q->avail + 2), q->aidx, __ATOMIC_RELEASE);
	return head;
}

bool sh_has_used(struct dq *q)
{
	return __atomic_load_n((uint16_t *)sh_host_ptr(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used;
}

/* Next used element; fails the test if there is none. */
void sh_used(struct dq *q, uint32_t *id, uint32_t *len)
{
	uint8_t *e;

	ck_assert_msg(sh_has_used(q), "no used buffer on queue %u", q->idx);
	e = sh_host_ptr(q->used + 4 + 8 * (q->last_used % QSIZE));
	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
	q->last_used++;
}

void sh_kick(struct dq *q)
{
	vpd_notify(&sh.d, q->idx);
	sh_run_io();
}

/* lun[8] for LUN 0 of target t, flat space addressing (as Linux sends). */
const uint8_t *sh_lun0(unsigned t)
{
	static uint8_t l[8];

	memset(l, 0, 8);
	l[0] = 1;
	l[1] = t;
	l[2] = 0x40;
	return l;
}

void sh_put_req(uint64_t gpa, const uint8_t *lun, uint64_t id, const uint8_t *cdb)
{
	uint8_t *p = sh_host_ptr(gpa);

	memcpy(p, lun, 8);			/* lun */
	memcpy(p + 8, &id, 8);			/* id */
	p[16] = p[17] = p[18] = 0;		/* task_attr, prio, crn */
	memcpy(p + 19, cdb, 16);		/* cdb[32] */
	memset(p + 35, 0, 16);
}

/* A command in the usual layout: request header, data-out, response
 * header, data-in, each in a descriptor of its own. */
uint16_t sh_submit(struct dq *q, unsigned i, const uint8_t *lun, const uint8_t *cdb, int dir,
		       uint64_t data, uint32_t len)
{
	struct seg s[4];
	unsigned n = 0;

	sh_put_req(REQ_GPA(i), lun, i, cdb);
	memset(sh_host_ptr(RESP_GPA(i)), 0xee, RESP_LEN);
	s[n++] = (struct seg){ REQ_GPA(i), REQ_LEN, 0 };
	if (dir == OUT)
		s[n++] = (struct seg){ data, len, 0 };
	s[n++] = (struct seg){ RESP_GPA(i), RESP_LEN, 1 };
	if (dir == IN)
		s[n++] = (struct seg){ data, len, 1 };
	return sh_chain(q, s, n);
}

void sh_read_resp(uint64_t gpa, struct resp *r)
{
	const uint8_t *p = sh_host_ptr(gpa);

	memcpy(&r->sense_len, p, 4);
	memcpy(&r->resid, p + 4, 4);
	memcpy(&r->qualifier, p + 8, 2);
	r->status = p[10];
	r->response = p[11];
	memcpy(r->sense, p + 12, 96);
}

/* Submit, kick, and take the one completion. */
uint32_t sh_run_cmd(struct dq *q, unsigned i, unsigned target, const uint8_t *cdb, int dir,
			uint64_t data, uint32_t len, struct resp *r)
{
	uint32_t id, ulen;
	uint16_t h = sh_submit(q, i, sh_lun0(target), cdb, dir, data, len);

	sh_kick(q);
	sh_used(q, &id, &ulen);
	ck_assert_uint_eq(id, h);
	sh_read_resp(RESP_GPA(i), r);
	return ulen;
}

void sh_queues_up(void)
{
	ck_assert_uint_eq(vpd_negotiate(&sh.d, sh.features) & 8, 8);
	vpd_queue_setup(&sh.d, 0, QSIZE, sh.ctrlq.desc, sh.ctrlq.avail, sh.ctrlq.used);
	vpd_queue_setup(&sh.d, 1, QSIZE, sh.eventq.desc, sh.eventq.avail, sh.eventq.used);
	vpd_queue_setup(&sh.d, 2, QSIZE, sh.rq0.desc, sh.rq0.avail, sh.rq0.used);
	vpd_queue_setup(&sh.d, 3, QSIZE, sh.rq1.desc, sh.rq1.avail, sh.rq1.used);
	vpd_cc_write(&sh.d, VPD_STATUS, 0xf, 1);
	ck_assert_uint_eq(vpd_cc_read(&sh.d, VPD_STATUS, 1), 0xf);
}

void sh_rings_clear(void)
{
	struct dq *qs[] = { &sh.ctrlq, &sh.eventq, &sh.rq0, &sh.rq1 };

	for (unsigned i = 0; i < 4; i++) {
		memset(sh_host_ptr(qs[i]->avail), 0, 4);
		memset(sh_host_ptr(qs[i]->used), 0, 4);
		qs[i]->aidx = qs[i]->next = qs[i]->last_used = 0;
	}
}

void sh_setup(void)
{
	struct iothread *threads[2] = { (struct iothread *)&thread_a,
					(struct iothread *)&thread_b };
	struct virtio_scsi_opts o = {
		.disks = disk_list, .ndisks = NDISKS, .threads = threads, .nthreads = 2,
		.num_queues = 2, .queue_size = QSIZE, .io = &fake_io,
	};

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio), 0);
	k = calloc(1, sizeof(*k));
	ck_assert_int_eq(irq_router_init(&ir, &fake_kvm_ops, fake_kvm_reset(k)), 0);
	vq_fake_init(&vf, QSIZE);
	fake_vm_reset();
	sh.npend = sh.nwatch = sh.nhooks = sh.ndiscard = sh.nzero = 0;
	sh.hold = sh.null_mode = false;
	for (unsigned i = 0; i < NDISKS; i++) {
		struct disk *dk = &sh.disks[i];

		memset(dk, 0, sizeof(*dk));
		dk->fd = memfd_create("kite-test-sh.scsi", MFD_CLOEXEC);
		dk->buffered_fd = dk->lock_fd = -1;
		ck_assert_int_ge(dk->fd, 0);
		ck_assert_int_eq(ftruncate(dk->fd, DISK_SIZE), 0);
		dk->size = DISK_SIZE;
		dk->block_size = 512;
		dk->phys_block_size = 4096;
		dk->can_discard = dk->can_zero = i != 2;
		dk->readonly = i == 2;		/* target 2 is read-only */
		snprintf(dk->serial, sizeof(dk->serial), "KITE-SCSI-%u", i);
		dk->path = "test.img";
	}
	sh.ctrlq = (struct dq){ 0, 0x8000, 0x9000, 0xa000, 0, 0, 0 };
	sh.eventq = (struct dq){ 1, 0xb000, 0xc000, 0xd000, 0, 0, 0 };
	sh.rq0 = (struct dq){ 2, VQF_DESC, VQF_AVAIL, VQF_USED, 0, 0, 0 };
	sh.rq1 = (struct dq){ 3, 0xe000, 0xf000, 0x10000, 0, 0, 0 };
	ck_assert_int_eq(virtio_scsi_create(&sh.scsi, FAKE_VM, &host, &ir, &vf.mem, &o), 0);
	vpd_attach(&sh.d, &host, &mmio, virtio_pci_func(virtio_scsi_transport(sh.scsi))->slot);
	sh.features = vpd_device_features(&sh.d);
	sh_queues_up();
}

void sh_teardown(void)
{
	virtio_scsi_destroy(sh.scsi);
	for (unsigned i = 0; i < NDISKS; i++)
		close(sh.disks[i].fd);
	vq_fake_free(&vf);
	irq_router_destroy(&ir);
	free(k);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}
