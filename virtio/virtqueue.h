/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue, device side (virtio 1.2, 2.7). Shared by virtio-blk,
 * virtio-scsi and virtio-net.
 *
 * One queue is driven by one I/O thread: no lock, no allocation per request.
 * The caller supplies the iovec array a chain is walked into. Every value the
 * guest wrote is read once into a local and checked before use; guest memory
 * is reached only through guest_mem_ptr().
 *
 * Device loop (kick received, or polling):
 *
 *	do {
 *		while ((r = virtq_pop(q, iov, n, &c)) != 0) {
 *			if (r == -EIO)		-> set DEVICE_NEEDS_RESET, stop
 *			if (r < 0)		-> virtq_push(q, c.head, 0) (or an
 *						   error status), log rate-limited
 *			else			-> submit c
 *		}
 *	} while (virtq_kick_enable_and_check(q));
 *
 * and on completions: virtq_push() each, virtq_flush() once per batch, then
 * virtq_need_interrupt() decides whether to raise the queue's interrupt.
 * A device may call virtq_set_kick_notify(q, false) while it drains, to ask
 * the guest not to kick; the loop above must still end with
 * virtq_kick_enable_and_check(), which closes the race with a guest that adds
 * a buffer just as notifications come back on.
 */
#ifndef KITE_VIRTIO_VIRTQUEUE_H
#define KITE_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

/* Largest queue we offer; a split ring's size must be a power of two. */
#define VIRTQ_MAX_SIZE		1024

/* Descriptor flags (2.7.5). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
/* avail->flags: the driver asks for no used-buffer notifications. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
/* used->flags: the device asks for no available-buffer notifications. */
#define VIRTQ_USED_F_NO_NOTIFY	1

/* Feature bit numbers the ring itself depends on. */
#define VIRTQ_F_INDIRECT_DESC	28
#define VIRTQ_F_EVENT_IDX	29

struct virtq_desc;
struct virtq_avail;
struct virtq_used;

/*
 * All state of one queue. Plain data: the device saves size, the three ring
 * addresses, the features and the two indices for snapshot/migration.
 */
struct virtq {
	const struct guest_mem *mem;
	struct virtq_desc *desc;	/* host pointers, resolved at enable */
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;			/* 0 while disabled */
	bool event_idx;			/* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;			/* VIRTIO_F_INDIRECT_DESC negotiated */
	bool kick_notify;		/* guest kicks currently wanted */
	uint16_t last_avail_idx;	/* next avail entry to consume */
	uint16_t avail_idx;		/* avail->idx as last read */
	uint16_t used_idx;		/* next used entry to fill (shadow) */
	uint16_t used_published;	/* used->idx as last written */
	uint16_t used_checked;		/* used_published at the last interrupt decision */
	bool used_checked_valid;	/* false after a restore: next decision says yes */
};

/* One popped chain. Readable buffers come first in the iovec array:
 * iov[0, nout) are "out" (device reads), iov[nout, nout + nin) are "in"
 * (device writes). */
struct virtq_chain {
	uint16_t head;			/* descriptor index to give back in virtq_push */
	unsigned nout, nin;
	uint32_t out_len, in_len;	/* total bytes each way */
};

/*
 * Check and map the rings: size a power of two in 1..VIRTQ_MAX_SIZE; the
 * descriptor table (16 * size bytes, 16-aligned), the available ring
 * (6 + 2 * size, 2-aligned) and the used ring (6 + 8 * size, 4-aligned) each
 * wholly inside one RAM region. The sizes are the spec's, which include the
 * event-index words whether or not EVENT_IDX is negotiated. `features` are
 * the negotiated feature bits. Indices start at 0 and kicks are wanted.
 * Returns 0, -EINVAL (size, alignment) or -EFAULT (outside RAM), with the
 * reason recorded by err_set(); the queue stays disabled on error.
 */
int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t size,
		 uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
		 uint64_t features);

/* Back to the disabled, all-zero state (device reset or queue reset). */
void virtq_reset(struct virtq *q);

static inline bool virtq_enabled(const struct virtq *q)
{
	return q->size != 0;
}

/*
 * Take the next available chain.
 *   0        nothing available (or the queue is disabled); *c untouched.
 *   1        a chain: c->head, iov[0, c->nout + c->nin) filled as above.
 *   -EBADMSG the chain is malformed (buffer outside RAM or spanning two
 *            regions, zero-length buffer, next out of range, a loop or a
 *            chain longer than allowed, bad indirect table, readable after
 *            writable, 4 GiB or more in total).
 *   -ENOBUFS the chain has more buffers than max_iov. A chain holds at most
 *            `size` direct buffers plus len / 16 from an indirect table, so
 *            size iov for what the device advertises (e.g. seg_max + 2).
 *            For both: c->head is valid and the chain is consumed; the device
 *            must complete it (virtq_push(q, c->head, 0) or an error status)
 *            so the guest is not left waiting. iov/nout/nin are garbage.
 *   -EIO     the ring is corrupt (avail->idx moved by more than the queue
 *            size, or a head index out of range): nothing was consumed; the
 *            device must set DEVICE_NEEDS_RESET.
 * Every error records its reason with err_set() for a rate-limited log.
 *
 * A buffer must lie in one RAM region: kite's regions are not adjacent in
 * guest-physical space (the MMIO hole lies between them), so a buffer that
 * spans two always covers non-RAM and is refused, never split.
 * A chain may be direct descriptors followed by one INDIRECT descriptor
 * (without NEXT; its WRITE flag is ignored, 2.7.5.3.2); indirect tables hold
 * no further INDIRECT entries and at most len / 16 descriptors.
 */
int virtq_pop(struct virtq *q, struct iovec *iov, unsigned max_iov,
	      struct virtq_chain *c);

/* Give a chain back: `len` bytes were written into its "in" buffers.
 * Not visible to the guest until virtq_flush(). */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* Publish every pushed entry with one release store of used->idx. */
void virtq_flush(struct virtq *q);

/*
 * After virtq_flush(): does the guest want an interrupt for what was
 * published since the last call? With EVENT_IDX: whether used_event lies in
 * the range published since the last call (2.7.10); without: unless the
 * guest set VIRTQ_AVAIL_F_NO_INTERRUPT. False when nothing new was published.
 */
bool virtq_need_interrupt(struct virtq *q);

/*
 * Ask the guest to kick (enable) or not (disable) when it adds buffers.
 * Without EVENT_IDX this is VIRTQ_USED_F_NO_NOTIFY in used->flags. With it,
 * enabling writes avail_event = last_avail_idx; disabling writes nothing, so
 * the guest may still kick once (harmless; it saves a store per drain).
 */
void virtq_set_kick_notify(struct virtq *q, bool enable);

/* Enable kicks, then report whether buffers arrived meanwhile (a full
 * barrier between the two): if true the device must pop again, as the guest
 * may have skipped its kick. */
bool virtq_kick_enable_and_check(struct virtq *q);

/* Index save/restore for snapshot and migration: call after virtq_enable().
 * Restoring makes the next virtq_need_interrupt() with news say yes, so an
 * interrupt lost in transit cannot hang the guest. */
static inline uint16_t virtq_get_last_avail_idx(const struct virtq *q)
{
	return q->last_avail_idx;
}

static inline uint16_t virtq_get_used_idx(const struct virtq *q)
{
	return q->used_idx;
}

void virtq_set_indices(struct virtq *q, uint16_t last_avail_idx, uint16_t used_idx);

/* The event-index test of 2.7.10: true when `event` lies in [old, new)
 * modulo 2^16, i.e. index `event` was passed while going from old to new. */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/*
 * Copy between a flat buffer and an iovec array, starting `off` bytes into
 * the iovecs, so devices accept any layout (2.7.4): a header may share a
 * buffer with data or be split over several. Return the bytes copied
 * (less than len when the iovecs end first).
 */
size_t virtq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t virtq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *buf,
		       size_t len);

#endif
