// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-scsi through its PCI transport and a test driver
 * (tests/scsi_harness.h): config space, the request queues (commands to
 * several targets, headers in any layout, BAD_TARGET, sense, overrun,
 * malformed chains, multiqueue, the disk's data path). The control and
 * event queues are in test_scsi_ctrl.c; the SCSI answers themselves in
 * test_scsi_disk*.c.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/fake_vm.h"
#include "tests/scsi_harness.h"

START_TEST(config_and_features)
{
	ck_assert_uint_eq(sh.features, 1ULL << 28 | 1ULL << 29 | 1ULL << 32);
	ck_assert_uint_eq(vpd_cfg_read(&sh.d, PCI_DEVICE_ID, 2), 0x1048);
	ck_assert_uint_eq(vpd_cfg_read(&sh.d, PCI_REVISION_ID, 4) >> 8, 0x010000);	/* SCSI */
	ck_assert_uint_eq(vpd_cc_read(&sh.d, VPD_NUMQ, 2), 4);
	ck_assert_uint_eq(sh.d.device_len, VIRTIO_SCSI_CONFIG_LEN);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 0, 4), 2);		/* num_queues */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 4, 4), QSIZE - 2);	/* seg_max */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 8, 4), 0xffff);	/* max_sectors */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 12, 4), QSIZE);	/* cmd_per_lun */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 16, 4), 16);		/* event_info_size */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 20, 4), 96);		/* sense_size */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 24, 4), 32);		/* cdb_size */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 28, 2), 0);		/* max_channel */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 30, 2), NDISKS - 1);	/* max_target */
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 32, 4), 0);		/* max_lun */
	ck_assert_uint_eq(sf.nwatch, 4);
	ck_assert_uint_eq(sf.nhooks, 2);
	ck_assert(sf.hook_thread[0] != sf.hook_thread[1]);

	/* The driver may set sense_size and cdb_size, and nothing else. */
	vpd_write(&sh.d, sh.d.device + 20, 32, 4);
	vpd_write(&sh.d, sh.d.device + 24, 16, 4);
	vpd_write(&sh.d, sh.d.device + 0, 7, 4);
	vpd_write(&sh.d, sh.d.device + 30, 9, 2);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 20, 4), 32);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 24, 4), 16);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 0, 4), 2);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 30, 2), NDISKS - 1);
	/* A device reset restores the defaults (5.6.4). */
	vpd_cc_write(&sh.d, VPD_STATUS, 0, 1);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 20, 4), 96);
	ck_assert_uint_eq(vpd_read(&sh.d, sh.d.device + 24, 4), 32);
}
END_TEST

START_TEST(inquiry_and_capacity)
{
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 96, 0 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
	uint8_t *data = sh_host_ptr(VQF_DATA(0));
	struct resp r;
	uint32_t len;

	len = sh_run_cmd(&sh.rq0, 0, 0, inq, IN, VQF_DATA(0), 96, &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(r.sense_len, 0);
	ck_assert_uint_eq(r.resid, 96 - 36);
	ck_assert_uint_eq(len, RESP_LEN + 36);	/* header, the zeroed sense area, data */
	ck_assert_uint_eq(r.sense[0], 0);
	ck_assert_uint_eq(data[0], 0x00);
	ck_assert_mem_eq(data + 8, "KITE    VIRTUAL DISK    0001", 28);
	ck_assert_int_eq(fake_vm_get().irq_edges[pci_intx_gsi(sh.d.slot, 0)], 1);

	len = sh_run_cmd(&sh.rq0, 1, 1, rc16, IN, VQF_DATA(1), 32, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(r.resid, 0);
	data = sh_host_ptr(VQF_DATA(1));
	ck_assert_uint_eq(data[6] << 8 | data[7], DISK_SIZE / 512 - 1);
	ck_assert_uint_eq(data[10] << 8 | data[11], 512);
	ck_assert_uint_eq(data[14], 0xc0);		/* LBPME, LBPRZ */
}
END_TEST

START_TEST(write_then_read)
{
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 3, 0, 0, 2, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0 };
	uint8_t *w = sh_host_ptr(VQF_DATA(0)), *rb = sh_host_ptr(VQF_DATA(2)), file[1024];
	struct resp r;
	uint32_t len;

	for (int i = 0; i < 1024; i++)
		w[i] = i * 7;
	len = sh_run_cmd(&sh.rq0, 0, 1, wr, OUT, VQF_DATA(0), 1024, &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(r.resid, 0);
	ck_assert_uint_eq(len, 12);			/* header; no sense, no data-in */
	ck_assert_int_eq(pread(sh.disks[1].fd, file, 1024, 3 * 512), 1024);
	ck_assert_mem_eq(file, w, 1024);
	ck_assert_int_eq(pread(sh.disks[0].fd, file, 1024, 3 * 512), 1024);
	ck_assert_uint_eq(file[0] | file[1023], 0);	/* the other target untouched */

	len = sh_run_cmd(&sh.rq0, 1, 1, rd, IN, VQF_DATA(2), 1024, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(len, RESP_LEN + 1024);
	ck_assert_mem_eq(rb, w, 1024);

	/* A bigger data-in buffer: the rest is the residual. */
	len = sh_run_cmd(&sh.rq0, 2, 1, rd, IN, VQF_DATA(4), 4096, &r);
	ck_assert_uint_eq(r.resid, 3072);
	ck_assert_uint_eq(len, RESP_LEN + 1024);
}
END_TEST

START_TEST(several_targets)
{
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t vpd80[16] = { 0x12, 0x01, 0x80, 0, 64, 0 };
	struct resp r;
	uint8_t file[512];

	for (unsigned t = 0; t < 2; t++) {
		memset(sh_host_ptr(VQF_DATA(t)), 0x10 + t, 512);
		sh_run_cmd(&sh.rq0, t, t, wr, OUT, VQF_DATA(t), 512, &r);
		ck_assert_uint_eq(r.status, SCSI_GOOD);
	}
	for (unsigned t = 0; t < 2; t++) {
		ck_assert_int_eq(pread(sh.disks[t].fd, file, 512, 0), 512);
		ck_assert_uint_eq(file[0], 0x10 + t);
		ck_assert_uint_eq(file[511], 0x10 + t);
	}
	/* Each target has its own serial. */
	for (unsigned t = 0; t < NDISKS; t++) {
		char want[16];

		sh_run_cmd(&sh.rq0, 2 + t, t, vpd80, IN, VQF_DATA(8 + t), 64, &r);
		snprintf(want, sizeof(want), "KITE-SCSI-%u", t);
		ck_assert_mem_eq((uint8_t *)sh_host_ptr(VQF_DATA(8 + t)) + 4, want, strlen(want));
	}
	/* Target 2 is read-only: DATA PROTECT, WRITE PROTECTED. */
	sh_run_cmd(&sh.rq0, 6, 2, wr, OUT, VQF_DATA(0), 512, &r);
	ck_assert_uint_eq(r.status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(r.sense_len, 18);
	ck_assert_uint_eq(r.sense[2], 0x07);
	ck_assert_uint_eq(r.sense[12], 0x27);
	ck_assert_uint_eq(r.resid, 512);
}
END_TEST

START_TEST(bad_target_and_lun)
{
	static const uint8_t tur[16] = { 0 };
	static const uint8_t inq[16] = { 0x12, 0, 0, 0, 36, 0 };
	uint8_t lun[8] = { 1, NDISKS, 0x40, 0, 0, 0, 0, 0 };
	struct resp r;
	uint32_t id, len;

	/* A target that does not exist: never processed. */
	sh_submit(&sh.rq0, 0, lun, tur, NODATA, 0, 0);
	lun[0] = 2;
	lun[1] = 0;
	sh_submit(&sh.rq0, 1, lun, inq, IN, VQF_DATA(0), 36);
	sh_kick(&sh.rq0);
	sh_used(&sh.rq0, &id, &len);
	sh_read_resp(RESP_GPA(0), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.sense_len, 0);
	ck_assert_uint_eq(len, 12);
	sh_used(&sh.rq0, &id, &len);
	sh_read_resp(RESP_GPA(1), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	ck_assert_uint_eq(r.resid, 36);

	/* LUN 1 of an existing target: the target answers, the LU does not. */
	memcpy(lun, (uint8_t[8]){ 1, 0, 0x40, 0x01, 0, 0, 0, 0 }, 8);
	sh_submit(&sh.rq0, 2, lun, inq, IN, VQF_DATA(0), 36);
	sh_kick(&sh.rq0);
	sh_used(&sh.rq0, &id, &len);
	sh_read_resp(RESP_GPA(2), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(*(uint8_t *)sh_host_ptr(VQF_DATA(0)), 0x7f);
	sh_submit(&sh.rq0, 3, lun, tur, NODATA, 0, 0);
	sh_kick(&sh.rq0);
	sh_used(&sh.rq0, &id, &len);
	sh_read_resp(RESP_GPA(3), &r);
	ck_assert_uint_eq(r.status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(r.sense[12], 0x25);		/* LOGICAL UNIT NOT SUPPORTED */

	/* Peripheral device addressing of LUN 0 works as flat does. */
	memcpy(lun, (uint8_t[8]){ 1, 1, 0x00, 0x00, 0, 0, 0, 0 }, 8);
	sh_submit(&sh.rq0, 4, lun, tur, NODATA, 0, 0);
	sh_kick(&sh.rq0);
	sh_used(&sh.rq0, &id, &len);
	sh_read_resp(RESP_GPA(4), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
}
END_TEST

START_TEST(sense_and_overrun)
{
	static const uint8_t bad[16] = { 0x04, 0, 0, 0, 0, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0 };
	struct resp r;
	uint32_t len;

	len = sh_run_cmd(&sh.rq0, 0, 0, bad, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(r.sense_len, 18);
	ck_assert_uint_eq(len, 12 + 18);
	ck_assert_mem_eq(r.sense, ((uint8_t[18]){ 0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0,
						   0x20, 0x00, 0, 0, 0, 0 }), 18);
	ck_assert_uint_eq(r.sense[18], 0xee);		/* nothing past sense_len */

	/* More blocks than data-in: OVERRUN, no status, all of it residual. */
	len = sh_run_cmd(&sh.rq0, 1, 0, rd, IN, VQF_DATA(0), 1024, &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OVERRUN);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.resid, 1024);

	/* A smaller sense_size cuts the sense data, and data-in moves up. */
	vpd_write(&sh.d, sh.d.device + 20, 8, 4);
	{
		struct seg s[3] = {
			{ REQ_GPA(2), REQ_LEN, 0 }, { RESP_GPA(2), 12 + 8, 1 }, { VQF_DATA(0), 64, 1 },
		};
		uint32_t id;

		sh_put_req(REQ_GPA(2), sh_lun0(0), 2, bad);
		sh_send(&sh.rq0, s, 3, &id, &len);
		sh_read_resp(RESP_GPA(2), &r);
		ck_assert_uint_eq(r.sense_len, 8);
		ck_assert_uint_eq(r.sense[2], 0x05);
		ck_assert_uint_eq(r.resid, 64);
	}
}
END_TEST

/* Headers split over descriptors, or sharing one with data (2.7.4). */
START_TEST(any_layout)
{
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0 };
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0 };
	uint8_t *buf = sh_host_ptr(VQF_DATA(0)), *in = sh_host_ptr(VQF_DATA(4)), file[512];
	struct seg s[4];
	struct resp r;
	uint32_t id, len;

	/* WRITE: request header and data in one descriptor; response alone. */
	sh_put_req(VQF_DATA(0), sh_lun0(0), 1, wr);
	memset(buf + REQ_LEN, 0x5a, 512);
	s[0] = (struct seg){ VQF_DATA(0), REQ_LEN + 512, 0 };
	s[1] = (struct seg){ RESP_GPA(0), RESP_LEN, 1 };
	sh_chain(&sh.rq0, s, 2);
	/* READ: request header split inside the CDB; response and data share
	 * one descriptor, which is also split off the end. */
	sh_put_req(REQ_GPA(1), sh_lun0(0), 2, rd);
	memset(in, 0xee, RESP_LEN + 512);
	s[0] = (struct seg){ REQ_GPA(1), 21, 0 };
	s[1] = (struct seg){ REQ_GPA(1) + 21, REQ_LEN - 21, 0 };
	s[2] = (struct seg){ VQF_DATA(4), RESP_LEN + 100, 1 };
	s[3] = (struct seg){ VQF_DATA(4) + RESP_LEN + 100, 412, 1 };
	sh_send(&sh.rq0, s, 4, &id, &len);
	sh_read_resp(RESP_GPA(0), &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_int_eq(pread(sh.disks[0].fd, file, 512, 5 * 512), 512);
	ck_assert_mem_eq(file, buf + REQ_LEN, 512);
	sh_used(&sh.rq0, &id, &len);
	ck_assert_uint_eq(len, RESP_LEN + 512);
	sh_read_resp(VQF_DATA(4), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_OK);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(r.sense_len, 0);
	ck_assert_uint_eq(r.resid, 0);
	ck_assert_mem_eq(in + RESP_LEN, buf + REQ_LEN, 512);
	/* Both completions came in one batch: one interrupt. */
	ck_assert_int_eq(fake_vm_get().irq_edges[pci_intx_gsi(sh.d.slot, 0)], 1);
}
END_TEST

/* Control queue helpers: a TMF and an AN request. */
START_TEST(malformed_chains)
{
	static const uint8_t tur[16] = { 0 };
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	struct seg s[4];
	struct resp r;
	uint32_t id, len;
	uint16_t h;

	/* A buffer outside RAM: back with length 0. */
	sh_put_req(REQ_GPA(0), sh_lun0(0), 0, tur);
	s[0] = (struct seg){ REQ_GPA(0), REQ_LEN, 0 };
	s[1] = (struct seg){ 0x80000000ULL, RESP_LEN, 1 };
	h = sh_chain(&sh.rq0, s, 2);
	sh_kick(&sh.rq0);
	sh_used(&sh.rq0, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(len, 0);
	/* No writable part, and a response area too small for the sense. */
	h = sh_chain(&sh.rq0, s, 1);
	s[1] = (struct seg){ RESP_GPA(0), 40, 1 };
	sh_send(&sh.rq0, s, 2, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(len, 0);
	sh_used(&sh.rq0, &id, &len);
	ck_assert_uint_eq(len, 0);
	/* A request header too short: FAILURE. */
	s[0].len = 10;
	s[1] = (struct seg){ RESP_GPA(0), RESP_LEN, 1 };
	sh_send(&sh.rq0, s, 2, &id, &len);
	sh_read_resp(RESP_GPA(0), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_FAILURE);
	/* Data both ways without VIRTIO_SCSI_F_INOUT: FAILURE. */
	sh_put_req(REQ_GPA(1), sh_lun0(0), 1, wr);
	s[0] = (struct seg){ REQ_GPA(1), REQ_LEN, 0 };
	s[1] = (struct seg){ VQF_DATA(0), 512, 0 };
	s[2] = (struct seg){ RESP_GPA(1), RESP_LEN, 1 };
	s[3] = (struct seg){ VQF_DATA(1), 512, 1 };
	sh_send(&sh.rq0, s, 4, &id, &len);
	sh_read_resp(RESP_GPA(1), &r);
	ck_assert_uint_eq(r.response, VIRTIO_SCSI_S_FAILURE);
	ck_assert_uint_eq(r.resid, 1024);
	/* The queue still works, and nothing asked for a reset. */
	sh_run_cmd(&sh.rq0, 2, 0, tur, NODATA, 0, 0, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(vpd_cc_read(&sh.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* A control request with nothing writable. */
	s[0] = (struct seg){ REQ_GPA(3), 24, 0 };
	h = sh_chain(&sh.ctrlq, s, 1);
	sh_kick(&sh.ctrlq);
	sh_used(&sh.ctrlq, &id, &len);
	ck_assert_uint_eq(id, h);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(corrupt_ring_needs_reset)
{
	__atomic_store_n((uint16_t *)sh_host_ptr(sh.rq1.avail + 2), QSIZE + 5, __ATOMIC_RELEASE);
	sh_kick(&sh.rq1);
	ck_assert(vpd_cc_read(&sh.d, VPD_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

START_TEST(multiqueue)
{
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t wr[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	struct resp r;
	uint32_t id, len;

	memset(sh_host_ptr(VQF_DATA(0)), 0x33, 512);
	sh_submit(&sh.rq0, 0, sh_lun0(0), wr, OUT, VQF_DATA(0), 512);
	sh_submit(&sh.rq1, 1, sh_lun0(1), wr, OUT, VQF_DATA(0), 512);
	vpd_notify(&sh.d, sh.rq0.idx);
	vpd_notify(&sh.d, sh.rq1.idx);
	sf_run();
	sh_used(&sh.rq0, &id, &len);
	sh_used(&sh.rq1, &id, &len);
	ck_assert(!sh_has_used(&sh.rq0) && !sh_has_used(&sh.rq1));
	/* The second queue reads what the first wrote. */
	sh_run_cmd(&sh.rq1, 2, 0, rd, IN, VQF_DATA(1), 512, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_mem_eq(sh_host_ptr(VQF_DATA(1)), sh_host_ptr(VQF_DATA(0)), 512);
	ck_assert(!sh_has_used(&sh.rq0));
}
END_TEST

START_TEST(unmap_and_write_same)
{
	static const uint8_t unmap[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	static const uint8_t ws[16] = { 0x41, 0, 0, 0, 0, 8, 0, 0, 4, 0 };
	static const uint8_t list[24] = {
		0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0,
	};
	uint8_t ones[8 * 512], file[8 * 512];
	struct resp r;

	memset(ones, 0xff, sizeof(ones));
	ck_assert_int_eq(pwrite(sh.disks[0].fd, ones, sizeof(ones), 0), (ssize_t)sizeof(ones));
	memcpy(sh_host_ptr(VQF_DATA(0)), list, sizeof(list));
	sh_run_cmd(&sh.rq0, 0, 0, unmap, OUT, VQF_DATA(0), sizeof(list), &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(sf.ndiscard, 1);
	ck_assert_int_eq(pread(sh.disks[0].fd, file, sizeof(file), 0), (ssize_t)sizeof(file));
	for (unsigned b = 0; b < 8; b++)
		ck_assert_uint_eq(file[b * 512], b == 2 || b == 3 ? 0 : 0xff);

	/* A pattern, written from the guest's one block. */
	memset(sh_host_ptr(VQF_DATA(1)), 0x42, 512);
	sh_run_cmd(&sh.rq0, 1, 0, ws, OUT, VQF_DATA(1), 512, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(r.resid, 0);
	ck_assert_int_eq(pread(sh.disks[0].fd, file, 4 * 512, 8 * 512), 4 * 512);
	for (unsigned i = 0; i < 4 * 512; i++)
		ck_assert_uint_eq(file[i], 0x42);
}
END_TEST

START_TEST(null_backend)
{
	static const uint8_t rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0 };
	static const uint8_t wr[16] = { 0x2a, 0x08, 0, 0, 0, 0, 0, 0, 2, 0 };	/* FUA */
	struct resp r;

	sf.null_mode = true;
	memset(sh_host_ptr(VQF_DATA(0)), 0x77, 1024);
	sh_run_cmd(&sh.rq0, 0, 0, rd, IN, VQF_DATA(0), 1024, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
	ck_assert_uint_eq(*(uint8_t *)sh_host_ptr(VQF_DATA(0) + 1023), 0);	/* zero-filled */
	sh_run_cmd(&sh.rq0, 1, 0, wr, OUT, VQF_DATA(0), 1024, &r);
	ck_assert_uint_eq(r.status, SCSI_GOOD);
}
END_TEST

Suite *scsi_suite(void)
{
	Suite *s = suite_create("scsi");
	TCase *tc = tcase_create("device");

	tcase_add_checked_fixture(tc, sh_setup, sh_teardown);
	tcase_add_test(tc, config_and_features);
	tcase_add_test(tc, inquiry_and_capacity);
	tcase_add_test(tc, write_then_read);
	tcase_add_test(tc, several_targets);
	tcase_add_test(tc, bad_target_and_lun);
	tcase_add_test(tc, sense_and_overrun);
	tcase_add_test(tc, any_layout);
	tcase_add_test(tc, malformed_chains);
	tcase_add_test(tc, corrupt_ring_needs_reset);
	tcase_add_test(tc, multiqueue);
	tcase_add_test(tc, unmap_and_write_same);
	tcase_add_test(tc, null_backend);
	scsi_ctrl_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}
