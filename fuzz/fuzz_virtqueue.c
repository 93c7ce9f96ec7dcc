// SPDX-License-Identifier: Apache-2.0
/*
 * The split virtqueue against a hostile driver: the input is a ring input
 * (fuzz.h) whose descriptor table, available ring and buffers are whatever
 * the fuzzer makes them. Pop chains until the ring is empty, touch their
 * buffers as a device would, give them back, and check what virtqueue.h
 * promises: every iovec inside one RAM region, the counts and totals
 * consistent, each chain consumed exactly once, -EIO consuming nothing.
 *
 * Header use: flags bit 0 starts the indices at `start` (as after a
 * restore) instead of 0; extra is the iovec array size (0: 256).
 */
#include <errno.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "virtio/virtqueue.h"

#define COPY_MAX 4096	/* bytes each popped chain is read/written */

static uint16_t used_idx(void)
{
	uint16_t v;

	memcpy(&v, ram_ptr(USED_GPA + 2, 2), 2);
	return v;
}

static void check_chain(const struct virtq *q, const struct iovec *iov, unsigned max_iov,
			const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;
	static uint8_t buf[COPY_MAX];
	size_t n;

	FUZZ_CHECK(c->head < q->size, "head %u, size %u", c->head, q->size);
	FUZZ_CHECK(c->nout + c->nin <= max_iov, "%u + %u iovecs, max %u", c->nout, c->nin, max_iov);
	ram_check_iov(iov, c->nout + c->nin);
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		FUZZ_CHECK(iov[i].iov_len, "iovec %u is empty", i);
		if (i < c->nout)
			out += iov[i].iov_len;
		else
			in += iov[i].iov_len;
	}
	FUZZ_CHECK(out == c->out_len && in == c->in_len, "totals %llu/%llu, chain says %u/%u",
		   (unsigned long long)out, (unsigned long long)in, c->out_len, c->in_len);
	FUZZ_CHECK(out + in <= UINT32_MAX, "chain of %llu bytes", (unsigned long long)(out + in));

	/* A device reads the request from the "out" part and writes the reply
	 * into the "in" part (which may overlap the rings: the guest's choice). */
	n = c->out_len < COPY_MAX ? c->out_len : COPY_MAX;
	FUZZ_CHECK(virtq_iov_read(iov, c->nout, 0, buf, n) == n, "short read of %zu", n);
	n = c->in_len < COPY_MAX ? c->in_len : COPY_MAX;
	memset(buf, 0xa5, n);
	FUZZ_CHECK(virtq_iov_write(iov + c->nout, c->nin, 0, buf, n) == n, "short write of %zu", n);
	/* From an offset inside the chain, as devices skip a header. */
	if (c->out_len > 1)
		FUZZ_CHECK(virtq_iov_read(iov, c->nout, c->out_len - 1, buf, 2) == 1, "read at end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iovec iov[256];
	struct ring_input in;
	struct virtq_chain c;
	struct virtq q;
	uint64_t features = 0;
	unsigned max_iov, pops = 0, pushed = 0;
	uint16_t start;
	int r;

	if (!ring_input_load(data, size, 10, &in))
		return 0;
	if (in.features & RING_F_EVENT_IDX)
		features |= 1ULL << VIRTQ_F_EVENT_IDX;
	if (in.features & RING_F_INDIRECT)
		features |= 1ULL << VIRTQ_F_INDIRECT_DESC;
	max_iov = in.extra ? in.extra : 256;
	r = virtq_enable(&q, &fuzz_ram, in.size, RING_GPA, in.avail_gpa, USED_GPA, features);
	FUZZ_CHECK(r == 0, "virtq_enable: %d", r);
	/* As after a restore: the guest's used->idx says where we were. */
	start = in.flags & 1 ? in.start : 0;
	memcpy(ram_ptr(USED_GPA + 2, 2), &start, 2);
	virtq_set_indices(&q, start, start);
	virtq_set_kick_notify(&q, false);

	for (;;) {
		uint16_t before = virtq_get_last_avail_idx(&q);

		r = virtq_pop(&q, iov, max_iov, &c);
		if (r == 0)
			break;
		if (r == -EIO) {
			FUZZ_CHECK(virtq_get_last_avail_idx(&q) == before, "-EIO consumed a chain");
			break;
		}
		FUZZ_CHECK(virtq_get_last_avail_idx(&q) == (uint16_t)(before + 1),
			   "pop moved last_avail_idx from %u to %u", before,
			   virtq_get_last_avail_idx(&q));
		/* At most `size` entries are pending at a time. Our writes of
		 * 0xa5 into "in" buffers may rewrite avail->idx (a buffer may
		 * overlap the ring), but only towards 0xa5a5, one byte at a
		 * time: at most two refills more. Beyond that the queue loops. */
		FUZZ_CHECK(++pops <= 3u * in.size, "%u pops from a queue of %u", pops, in.size);
		if (r < 0) {
			FUZZ_CHECK(r == -EBADMSG || r == -ENOBUFS, "virtq_pop: %d", r);
			FUZZ_CHECK(c.head < in.size, "head %u, size %u", c.head, in.size);
			virtq_push(&q, c.head, 0);
		} else {
			FUZZ_CHECK(r == 1, "virtq_pop: %d", r);
			check_chain(&q, iov, max_iov, &c);
			virtq_push(&q, c.head, c.in_len);
		}
		/* Publish in small batches, as an I/O thread does. */
		if (++pushed % 4 == 0) {
			virtq_flush(&q);
			virtq_need_interrupt(&q);
		}
	}
	virtq_flush(&q);
	virtq_need_interrupt(&q);
	FUZZ_CHECK(used_idx() == (uint16_t)(start + pushed), "used->idx %u, expected %u",
		   used_idx(), (uint16_t)(start + pushed));
	FUZZ_CHECK(virtq_get_used_idx(&q) == (uint16_t)(start + pushed), "shadow used idx");
	virtq_kick_enable_and_check(&q);
	virtq_reset(&q);
	return 0;
}
