/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-scsi device under test (tests/test_scsi*.c): created on its
 * PCI transport and driven by a test driver on fake guest RAM (vq_fake),
 * three targets backed by memfds (target 2 read-only), and the disk and
 * I/O thread calls replaced by the synchronous backend of state_fake.h
 * (sf), whose completions sf_run() runs as an I/O thread's batch would.
 */
#ifndef KITE_TESTS_SCSI_HARNESS_H
#define KITE_TESTS_SCSI_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/state_fake.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/scsi.h"

#define DISK_SIZE	(1024 * 1024)
#define NDISKS		3
#define QSIZE		16
#define REQ_LEN		(19 + 32)	/* request header with the default cdb_size */
#define RESP_LEN	(12 + 96)	/* response header with the default sense_size */
#define REQ_GPA(i)	(0x30000ULL + (i) * 0x200)
#define RESP_GPA(i)	(REQ_GPA(i) + 0x100)

/* A response as the driver reads it. */
struct resp {
	uint32_t sense_len, resid;
	uint16_t qualifier;
	uint8_t status, response;
	uint8_t sense[96];
};

enum { NODATA, OUT, IN };

struct scsi_harness {
	struct vpci_drv d;
	struct dq ctrlq, eventq, rq0, rq1;
	struct disk disks[NDISKS];
	struct virtio_scsi *scsi;
	uint64_t features;
};

extern struct scsi_harness sh;

/* A checked fixture: the device with every queue up (DRIVER_OK). */
void sh_setup(void);
void sh_teardown(void);

void *sh_host_ptr(uint64_t gpa);
/* Put a chain on q and publish it; returns its head. */
uint16_t sh_chain(struct dq *q, const struct seg *s, unsigned n);
bool sh_has_used(struct dq *q);
/* The next used element; fails the test if there is none. */
void sh_used(struct dq *q, uint32_t *id, uint32_t *len);
void sh_kick(struct dq *q);
/* sh_chain, sh_kick, then sh_used: the one completion of a chain. */
void sh_send(struct dq *q, const struct seg *s, unsigned n, uint32_t *id, uint32_t *len);
/* lun[8] for LUN 0 of target t, flat space addressing (as Linux sends). */
const uint8_t *sh_lun0(unsigned t);
/* A request header at gpa: lun, id, task_attr / prio / crn 0, the CDB. */
void sh_put_req(uint64_t gpa, const uint8_t *lun, uint64_t id, const uint8_t *cdb);
/* A command in the usual layout: request header, data-out, response
 * header, data-in, each in a descriptor of its own (slot i's headers). */
uint16_t sh_submit(struct dq *q, unsigned i, const uint8_t *lun, const uint8_t *cdb, int dir,
		   uint64_t data, uint32_t len);
void sh_read_resp(uint64_t gpa, struct resp *r);
/* Submit to LUN 0 of target, kick, take the one completion: its length. */
uint32_t sh_run_cmd(struct dq *q, unsigned i, unsigned target, const uint8_t *cdb, int dir,
		    uint64_t data, uint32_t len, struct resp *r);
/* Negotiate and set the four queues up again (after a reset). */
void sh_queues_up(void);
void sh_rings_clear(void);

/* The control and event queue tests (tests/test_scsi_ctrl.c). */
void scsi_ctrl_tests(TCase *tc);

#endif
