/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio over PCI, driver side (virtio 1.2, 4.1), and the split virtqueue
 * (2.7), for the test guest's device drivers.
 *
 * Set-up (BARs, capabilities, status, features, queues, MSI-X) goes through
 * config space and MMIO once; the fast path is ring-3 only: descriptors and
 * rings are ordinary RAM, a notification is one MMIO store, and completions
 * are found by polling the used ring or by waiting for the queue's MSI-X
 * vector to be counted (cpu.c counts device vectors per CPU).
 *
 * Every queue belongs to one CPU at a time: no locks. Rings and indirect
 * tables come from a static arena and are kept across device resets.
 */
#ifndef GUEST_VIRTIO_PCI_H
#define GUEST_VIRTIO_PCI_H

#include "guest.h"
#include "pci.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_MODERN_BASE	0x1040	/* + virtio device id */

/* Device status (2.1). */
#define VIRTIO_S_ACKNOWLEDGE	1
#define VIRTIO_S_DRIVER		2
#define VIRTIO_S_DRIVER_OK	4
#define VIRTIO_S_FEATURES_OK	8
#define VIRTIO_S_NEEDS_RESET	64
#define VIRTIO_S_FAILED		128

/* Transport and ring feature bits. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32
#define BIT(n)			(1ULL << (n))

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	1
#define VIRTIO_NO_VECTOR	0xffff

#define VIRTQ_MAX_SIZE		256	/* we ask for no more than this */
#define VIRTIO_MAX_QUEUES	8	/* per device; more are left unused */
#define VQ_TIMEOUT_US		5000000	/* what the drivers wait for one request */

struct vring_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vring_avail {
	u16 flags;
	u16 idx;
	u16 ring[];		/* then used_event */
};

struct vring_used_elem {
	u32 id;
	u32 len;
};

struct vring_used {
	u16 flags;
	u16 idx;
	struct vring_used_elem ring[];	/* then avail_event */
};

/* How a block or SCSI driver runs its queues. */
struct virtio_opts {
	bool irq;		/* MSI-X interrupts, else polling */
	bool event_idx;		/* negotiate VIRTIO_F_EVENT_IDX if offered */
	bool indirect;		/* negotiate VIRTIO_F_INDIRECT_DESC if offered */
	bool merged;		/* layout=merged: headers share a data descriptor */
};

/*
 * The first member of a block or SCSI driver's request, whose address is
 * the token of the request's chain: vq_reap() fills it in.
 */
struct vq_req {
	u32 used_len;
	bool done;
	void *ctx;		/* the caller's; the driver never touches it */
};

/* A request of size bytes that starts with its struct vq_req, from
 * dma_alloc(); NULL when the arena runs out. */
struct vq_req *vq_req_alloc(size_t size);

/* One buffer of a request: guest-physical = virtual (identity map). */
struct vq_buf {
	const void *addr;
	u32 len;
	bool write;		/* device writes it */
};

struct virtio_dev;

struct virtq {
	struct virtio_dev *dev;
	u16 index, size;	/* size 0: not set up */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u64 notify;		/* the queue's notify address */
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated */
	bool irq;		/* wait for the MSI-X vector, else poll */
	unsigned cpu;		/* index in smp.cpus the vector is aimed at */
	unsigned vec;		/* IDT vector - VEC_DEV */
	u16 free_head, nfree;
	u16 avail_shadow;	/* next avail->idx */
	u16 kicked_at;		/* avail->idx at the last kick decision */
	u16 last_used;		/* next used entry to look at */
	u16 next[VIRTQ_MAX_SIZE];	/* our copy of each descriptor's next */
	u16 chain[VIRTQ_MAX_SIZE];	/* descriptors a head owns (0: raw) */
	void *token[VIRTQ_MAX_SIZE];
	bool busy[VIRTQ_MAX_SIZE];	/* head given to the device */
	/* statistics */
	u64 kicks;		/* notify stores */
	u64 kicks_skipped;	/* suppressed by NO_NOTIFY / avail_event */
	u64 bad_used;		/* used entries naming no outstanding head */
	u64 sleeps;		/* vq_wait had to wait for an interrupt */
};

struct virtio_dev {
	u8 bus, dev, fn;
	u16 type;		/* virtio device id (2: block) */
	u64 common, isr, device, notify;	/* MMIO addresses */
	u32 notify_mult, device_len;
	u8 msix_cap;		/* 0: none */
	u16 msix_entries;
	u64 msix_table;
	unsigned vec_base;	/* our first IDT vector - VEC_DEV */
	u64 offered, features;
	u16 max_queues;		/* num_queues of the common config */
	unsigned nvqs;		/* set up by us */
	bool irq;		/* MSI-X in use */
	struct virtq vq[VIRTIO_MAX_QUEUES];
	char note[96];		/* how the BARs were found (firmware / placed by us) */
	unsigned placed;
};

/* Bump allocator over a static arena, zeroed; NULL when it runs out. Every
 * allocation has 64 free bytes before and after it, so a driver may put a
 * header in front of a data buffer or a status byte behind it. */
void *dma_alloc(size_t size, size_t align);

/*
 * Find the nth function (0-based) of virtio device type `type` (modern
 * device id 0x1040 + type), read its capabilities, make sure its BARs are
 * assigned (assigning them if firmware did not) and turn on memory decoding
 * and bus mastering. 1 found, 0 not there, -1 unusable (why says so).
 */
int virtio_find(struct virtio_dev *d, u16 type, unsigned nth, char *why, size_t whylen);

/*
 * Reset, ACKNOWLEDGE, DRIVER, then negotiate: features = offered & want
 * (VERSION_1 is required and always wanted), FEATURES_OK, checked.
 */
bool virtio_start(struct virtio_dev *d, u64 want, char *why, size_t whylen);
/* The same, wanting INDIRECT_DESC and EVENT_IDX too where o says so. */
bool virtio_start_opts(struct virtio_dev *d, const struct virtio_opts *o, u64 want, char *why,
		       size_t whylen);
/* Was feature bit f negotiated? */
static inline bool virtio_has(const struct virtio_dev *d, unsigned f)
{
	return d->features & BIT(f);
}
/*
 * The queue settings of the command line: event_idx=0|1, indirect=0|1,
 * layout=split|merged, and wait_key=irq|poll, which falls back on
 * blk_wait= when absent (the bench harness passes only blk_wait).
 */
void virtio_opts_cmdline(struct virtio_opts *o, const char *wait_key);

/*
 * Set up queue idx (after virtio_start): size min(device max, VIRTQ_MAX_SIZE),
 * rings zeroed, enabled. irq: MSI-X vector 1 + idx aimed at CPU `cpu`
 * (index in smp.cpus), else polled with used-buffer notifications off.
 */
bool virtq_setup(struct virtio_dev *d, unsigned idx, bool irq, unsigned cpu, char *why,
		 size_t whylen);

/* DRIVER_OK: the device is live. */
void virtio_driver_ok(struct virtio_dev *d);
/* Write status 0 and wait until it reads 0 (4.1.4.3.2); false on timeout. */
bool virtio_reset(struct virtio_dev *d);
u8 virtio_status(struct virtio_dev *d);

/* Device config space, read with the field's width; 64-bit reads retry on a
 * config_generation change. */
u8 virtio_cfg8(struct virtio_dev *d, unsigned off);
u16 virtio_cfg16(struct virtio_dev *d, unsigned off);
u32 virtio_cfg32(struct virtio_dev *d, unsigned off);
u64 virtio_cfg64(struct virtio_dev *d, unsigned off);

/* Config-change interrupts taken so far (all CPUs). */
u64 virtio_config_irqs(struct virtio_dev *d);

/* ---- virtqueue, ring 3, one CPU per queue ---- */

/* Queue a chain of n direct descriptors; the head, or -1 if not enough
 * descriptors are free. Not visible to the device until vq_kick(). */
int vq_add(struct virtq *q, const struct vq_buf *b, unsigned n, void *token);
/* The same chain through an indirect table (n entries, from dma_alloc),
 * one ring descriptor. */
int vq_add_indirect(struct virtq *q, struct vring_desc *table, const struct vq_buf *b,
		    unsigned n, void *token);
/* A request's buffers: through table (n entries) if indirect, else direct;
 * 0, or -1 if the queue has no room. */
int vq_add_req(struct virtq *q, struct vring_desc *table, bool indirect, const struct vq_buf *b,
	       unsigned n, void *token);
/* The bytes of b[0..n-1] the device may write: the bound of the used length. */
u32 vq_writable(const struct vq_buf *b, unsigned n);
/* Take n free descriptors for a hand-made chain (malformed-request tests);
 * they are never given back, until the next virtq_setup(). */
bool vq_take(struct virtq *q, unsigned n, u16 *idx);
/* Put a hand-made head in the avail ring (not checked; may be anything). */
void vq_add_raw(struct virtq *q, u16 head);
/* Publish what was added; notify the device unless it said not to. */
void vq_kick(struct virtq *q);
/* Is a used entry waiting? */
bool vq_has_used(struct virtq *q);
/* Take one used entry: its token and length; false if none. */
bool vq_get_used(struct virtq *q, void **token, u32 *len, u16 *head);
/*
 * Wait for a used entry: spin on the used ring (polling) or on the queue's
 * interrupt count (irq; the caller runs with user_irqs(true)).
 * 0 an entry is there, -1 timeout, -2 (irq) an entry came but no interrupt.
 */
int vq_wait(struct virtq *q, u64 timeout_us);
/* Interrupts taken for this queue so far, on any CPU. */
u64 vq_irqs(struct virtq *q);
/* fn(token, used length, arg) for every used entry of q that names a chain
 * of ours (entries that do not are counted in q->bad_used); how many. */
unsigned vq_each_used(struct virtq *q, void (*fn)(void *token, u32 len, void *arg), void *arg);
/* Mark every used chain of q (its token a struct vq_req) done; how many. */
unsigned vq_reap(struct virtq *q);
/* Kick q, then wait for r, reaping: 0, or vq_wait()'s -1 / -2. */
int vq_kick_wait(struct virtq *q, struct vq_req *r, u64 timeout_us);
/* The text of the drivers' -1, -2 and -3 results (timeout, no interrupt,
 * not queued); NULL for any other value. */
const char *vq_error_name(int r);

#endif
