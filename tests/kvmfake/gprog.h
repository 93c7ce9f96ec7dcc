/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmfake's guest program (see fake.h): a virtio 1.2 driver for the modern
 * PCI transport, split virtqueues and MSI-X, written from the spec, plus
 * the checks it makes of kite's devices. Not kite code: nothing here may
 * lean on how kite is built inside.
 */
#ifndef KITE_TESTS_KVMFAKE_GPROG_H
#define KITE_TESTS_KVMFAKE_GPROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fake.h"

/* ---- output and results (guest.c) ---- */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pass(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- guest memory: a bump allocator above 8 MiB (gpci.c) ---- */
uint64_t galloc(size_t size, size_t align);
/* A little-endian value of len bytes (1-8) at gpa; 0 if not RAM. */
uint64_t gread(uint64_t gpa, unsigned len);
/* A split-queue descriptor: entry i of the table at gpa `table`. */
void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next);
/* xorshift64: the random numbers of the hostile and bench modes. */
uint64_t xorshift(uint64_t *state);

/* A failure with its reason in `why` (160 bytes), as an expression. */
#define WHY(...) (snprintf(why, 160, __VA_ARGS__), false)
void galloc_from(uint64_t gpa);		/* allocate from gpa on */
void gfill(uint64_t gpa, size_t len, uint32_t seed);
bool gcheck(uint64_t gpa, size_t len, uint32_t seed);

/* ---- virtio over PCI (gpci.c) ---- */
#define VQ_MAX		16
#define DEV_MAX		8

struct vq {
	unsigned index, size, vec;
	uint64_t desc, avail, used;
	uint64_t notify;		/* where a kick is written */
	uint16_t next_avail, used_seen;
	uint32_t last_id;		/* the head of the last used entry */
	uint64_t first_gpa[64];		/* each chain's first buffer, by head / 4 */
};

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;			/* device writes it */
};

struct vdev {
	unsigned slot;			/* PCI device number on bus 0 */
	unsigned type;			/* virtio device ID: 1 net, 2 blk, 8 scsi */
	char name[16];
	uint64_t common, notify, isr, cfg, msix;
	uint32_t notify_mult;
	unsigned msix_cap, msix_n;
	unsigned cfg_vec;		/* the configuration-change vector */
	uint64_t features;
	unsigned nq;
	struct vq q[VQ_MAX];
};

unsigned pci_scan(struct vdev *devs, unsigned max);
/* Reset, negotiate (VERSION_1 | want, as far as offered), set up
 * min(nq, offered) queues with their own MSI-X vectors, DRIVER_OK. */
bool vdev_init(struct vdev *d, uint64_t want, unsigned nq, char *why);
/* Pick up a device a snapshot or migration left set up: queues and
 * vectors read back from the device, ring positions from guest RAM. */
bool vdev_attach(struct vdev *d, char *why);
uint8_t vdev_status(struct vdev *d);
uint64_t cfg_read(struct vdev *d, unsigned off, unsigned len);

/* Post one chain and kick; then wait for its completion (its interrupt
 * first). Returns false on timeout; *written is the used length. */
void vq_post(struct vq *q, const struct buf *b, unsigned n);
bool vq_wait(struct vq *q, unsigned timeout_ms, uint32_t *written, bool *irq);
bool vq_request(struct vq *q, const struct buf *b, unsigned n, uint32_t *written, char *why);

/* ---- the device checks (gdev.c) ---- */
void test_blk(struct vdev *d);
void test_scsi(struct vdev *d);
void test_net(struct vdev *d, const char *tap);
bool blk_rw(struct vdev *d, unsigned qi, bool write, uint64_t lba, uint64_t gpa, uint32_t len,
	    uint8_t *status, char *why);
bool device_check(struct vdev *d, char *why);	/* one valid request */

/* ---- hostile.c, bench.c ---- */
void mode_hostile(struct vdev *devs, unsigned n);
void mode_bench(struct vdev *devs, unsigned n);

/* ---- gpci.c, for hostile.c ---- */
void common_write(struct vdev *d, unsigned off, unsigned len, uint64_t v);
uint64_t common_read(struct vdev *d, unsigned off, unsigned len);

#endif
