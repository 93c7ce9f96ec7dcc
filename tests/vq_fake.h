/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake guest for virtqueue tests: calloc'd RAM in two regions (low RAM at
 * 0, a small region at 4 GiB) and a tiny driver that writes descriptors and
 * the avail ring and reads the used ring. It lays the rings out by the
 * spec's byte offsets, independently of virtio/virtqueue.c, so the two check
 * each other. Device tests (blk, scsi, net) may use it as well.
 */
#ifndef KITE_TESTS_VQ_FAKE_H
#define KITE_TESTS_VQ_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "virtio/virtqueue.h"

#define VQF_LOW_SIZE	0x100000ULL		/* region 0: [0, 1 MiB) */
#define VQF_HIGH_GPA	MMIO_HOLE_END		/* region 1: 64 KiB at 4 GiB */
#define VQF_HIGH_SIZE	0x10000ULL
#define VQF_DESC	0x1000ULL		/* room for 1024 descriptors */
#define VQF_AVAIL	0x5000ULL
#define VQF_USED	0x6000ULL
#define VQF_IND		0x20000ULL		/* indirect tables */
#define VQF_DATA(k)	(0x40000ULL + (uint64_t)(k) * 0x1000)	/* data buffers */

struct vq_fake {
	struct guest_mem mem;
	uint8_t *ram;
	uint16_t size;
	uint16_t avail_idx;	/* the driver's next avail index */
};

void vq_fake_init(struct vq_fake *f, uint16_t size);
void vq_fake_free(struct vq_fake *f);
/* Enable q on the fake's rings with the given feature bits. */
int vq_fake_enable(struct vq_fake *f, struct virtq *q, uint64_t features);
/* Host address of gpa (which must be RAM). */
void *vq_fake_host(struct vq_fake *f, uint64_t gpa);

/* Write descriptor i of the table at table_gpa (VQF_DESC or an indirect one). */
void vq_fake_desc(struct vq_fake *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		  uint32_t len, uint16_t flags, uint16_t next);
/* Put head in the avail ring and publish it (release). */
void vq_fake_add(struct vq_fake *f, uint16_t head);
/* Set avail->idx (and the driver's shadow) without touching the ring. */
void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx);
void vq_fake_set_avail_flags(struct vq_fake *f, uint16_t flags);
void vq_fake_set_used_event(struct vq_fake *f, uint16_t v);

uint16_t vq_fake_used_flags(struct vq_fake *f);
uint16_t vq_fake_used_idx(struct vq_fake *f);
uint16_t vq_fake_avail_event(struct vq_fake *f);
/* Used element at ring position i (taken modulo the size). */
void vq_fake_used_elem(struct vq_fake *f, uint16_t i, uint32_t *id, uint32_t *len);

/* Device tests drive several queues, each with its rings where the test
 * puts them (of the fake's size): one of the driver's queues. */
struct dq {
	unsigned idx;
	uint64_t desc, avail, used;
	uint16_t aidx, next, last_used;
};

/* A buffer of a chain: gpa, length, device-writable. */
struct seg { uint64_t gpa; uint32_t len; int w; };

/* Put the buffers on q as one chain of consecutive descriptors and publish
 * it (release); its head. */
uint16_t vq_fake_dq_chain(struct vq_fake *f, struct dq *q, const struct seg *s, unsigned n);
bool vq_fake_dq_has_used(struct vq_fake *f, const struct dq *q);
/* Take q's next used element; fails the test if there is none. */
void vq_fake_dq_used(struct vq_fake *f, struct dq *q, uint32_t *id, uint32_t *len);

#endif
