// SPDX-License-Identifier: Apache-2.0
/* The virtio-scsi test harness: see scsi_harness.h. */
#include "tests/scsi_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fake_vm.h"
#include "tests/state_fake.h"

/* ---- the test driver ---- */

struct scsi_harness sh;

static struct side vm;		/* buses, PCI host, IRQ router; the driver is sh.d */
static struct vq_fake vf;
static struct disk *disk_list[NDISKS] = { &sh.disks[0], &sh.disks[1], &sh.disks[2] };
static char thread_a, thread_b;

void *sh_host_ptr(uint64_t gpa)
{
	return vq_fake_host(&vf, gpa);
}

uint16_t sh_chain(struct dq *q, const struct seg *s, unsigned n)
{
	return vq_fake_dq_chain(&vf, q, s, n);
}

bool sh_has_used(struct dq *q)
{
	return vq_fake_dq_has_used(&vf, q);
}

void sh_used(struct dq *q, uint32_t *id, uint32_t *len)
{
	vq_fake_dq_used(&vf, q, id, len);
}

void sh_kick(struct dq *q)
{
	vpd_notify(&sh.d, q->idx);
	sf_run();
}

void sh_send(struct dq *q, const struct seg *s, unsigned n, uint32_t *id, uint32_t *len)
{
	sh_chain(q, s, n);
	sh_kick(q);
	sh_used(q, id, len);
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
		.num_queues = 2, .queue_size = QSIZE, .io = &sf_io,
	};

	side_init(&vm);
	vq_fake_init(&vf, QSIZE);
	fake_vm_reset();
	sf_reset();
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
	ck_assert_int_eq(virtio_scsi_create(&sh.scsi, FAKE_VM, &vm.host, &vm.ir, &vf.mem, &o), 0);
	vpd_attach(&sh.d, &vm.host, &vm.mmio, virtio_pci_func(virtio_scsi_transport(sh.scsi))->slot);
	sh.features = vpd_device_features(&sh.d);
	sh_queues_up();
}

void sh_teardown(void)
{
	virtio_scsi_destroy(sh.scsi);
	for (unsigned i = 0; i < NDISKS; i++)
		close(sh.disks[i].fd);
	vq_fake_free(&vf);
	side_free(&vm);
}
