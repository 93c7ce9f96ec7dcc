// SPDX-License-Identifier: Apache-2.0
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/vq_fake.h"
#include "virtio/virtqueue.h"
#include "vmm/err.h"

#define N VIRTQ_DESC_F_NEXT
#define W VIRTQ_DESC_F_WRITE
#define I VIRTQ_DESC_F_INDIRECT
#define F_IND (1ULL << VIRTQ_F_INDIRECT_DESC)
#define F_EVT (1ULL << VIRTQ_F_EVENT_IDX)
#define D(k) VQF_DATA(k)
/* Expected outcomes: a chain with these counts, or an error and its reason. */
#define OK(nout, nin, out_len, in_len) 1, nout, nin, out_len, in_len, NULL
#define FAILS(e, why) e, 0, 0, 0, 0, why

struct dsc {
	uint16_t i;
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* A queue of `size` on the fake's rings, enabled with `features`. */
static void enable(struct vq_fake *f, struct virtq *q, uint16_t size, uint64_t features)
{
	vq_fake_init(f, size);
	ck_assert_int_eq(vq_fake_enable(f, q, features), 0);
}

/* One chain, head 0, in a queue of 8; `ind` goes to an indirect table at VQF_IND. */
static const struct chain_case {
	const char *name;
	uint64_t features;
	unsigned nd, ni;
	struct dsc d[10], ind[6];
	unsigned max_iov;	/* 0: 16 */
	int ret;
	unsigned nout, nin;
	uint32_t out_len, in_len;
	const char *why;	/* in the recorded reason */
} chains[] = {
	{ "single readable", 0, 1, 0, { { 0, D(0), 512, 0, 0 } }, {}, 0, OK(1, 0, 512, 0) },
	{ "single writable", 0, 1, 0, { { 0, D(0), 512, W, 0 } }, {}, 0, OK(0, 1, 0, 512) },
	{ "out then in, scattered indices", 0, 3, 0,
	  { { 0, D(0), 16, N, 5 }, { 5, D(1), 512, N, 3 }, { 3, D(2), 1, W, 0 } }, {},
	  0, OK(2, 1, 528, 1) },
	{ "one out, several in", 0, 3, 0,
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 4096, W | N, 2 }, { 2, D(2), 1, W, 0 } }, {},
	  0, OK(1, 2, 16, 4097) },
	{ "full-length chain (queue size)", 0, 8, 0,
	  { { 0, D(0), 1, N, 1 }, { 1, D(1), 1, N, 2 }, { 2, D(2), 1, N, 3 }, { 3, D(3), 1, N, 4 },
	    { 4, D(4), 1, N, 5 }, { 5, D(5), 1, N, 6 }, { 6, D(6), 1, N, 7 }, { 7, D(7), 1, W, 0 } },
	  {}, 0, OK(7, 1, 7, 1) },
	{ "buffer in high RAM", 0, 1, 0, { { 0, VQF_HIGH_GPA + 0x100, 64, W, 0 } }, {},
	  0, OK(0, 1, 0, 64) },
	{ "indirect", F_IND, 1, 3, { { 0, VQF_IND, 48, I, 0 } },
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 512, N, 2 }, { 2, D(2), 1, W, 0 } },
	  0, OK(2, 1, 528, 1) },
	{ "direct then indirect", F_IND, 2, 2,
	  { { 0, D(0), 16, N, 1 }, { 1, VQF_IND, 32, I, 0 } },
	  { { 0, D(1), 8, N, 1 }, { 1, D(2), 100, W, 0 } }, 0, OK(2, 1, 24, 100) },
	{ "indirect: WRITE on the table descriptor ignored", F_IND, 1, 2,
	  { { 0, VQF_IND, 32, I | W, 0 } },
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 8, W, 0 } }, 0, OK(1, 1, 16, 8) },
	{ "indirect: scattered next", F_IND, 1, 3, { { 0, VQF_IND, 64, I, 0 } },
	  { { 0, D(0), 16, N, 3 }, { 3, D(1), 16, N, 1 }, { 1, D(2), 16, W, 0 } },
	  0, OK(2, 1, 32, 16) },
	{ "indirect: not negotiated", 0, 1, 1, { { 0, VQF_IND, 16, I, 0 } },
	  { { 0, D(0), 16, 0, 0 } }, 0, FAILS(-EBADMSG, "INDIRECT without") },
	{ "indirect: nested (valid inner table)", F_IND, 1, 3, { { 0, VQF_IND, 32, I, 0 } },
	  { { 0, D(0), 16, N, 1 }, { 1, VQF_IND + 32, 16, I, 0 }, { 2, D(2), 16, W, 0 } },
	  0, FAILS(-EBADMSG, "INDIRECT inside") },
	{ "indirect: length not a multiple of 16", F_IND, 1, 2, { { 0, VQF_IND, 24, I, 0 } },
	  { { 0, D(0), 16, 0, 0 } }, 0, FAILS(-EBADMSG, "indirect table length") },
	{ "indirect: zero length", F_IND, 1, 0, { { 0, VQF_IND, 0, I, 0 } }, {},
	  0, FAILS(-EBADMSG, "indirect table length") },
	{ "indirect: table outside RAM", F_IND, 1, 0, { { 0, 0x200000, 32, I, 0 } }, {},
	  0, FAILS(-EBADMSG, "indirect table outside") },
	{ "indirect: table straddles end of low RAM", F_IND, 1, 0,
	  { { 0, VQF_LOW_SIZE - 16, 32, I, 0 } }, {}, 0, FAILS(-EBADMSG, "indirect table outside") },
	{ "indirect: chain loops", F_IND, 1, 2, { { 0, VQF_IND, 32, I, 0 } },
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 16, N, 0 } }, 0, FAILS(-EBADMSG, "indirect chain longer") },
	{ "indirect: next beyond the table", F_IND, 1, 1, { { 0, VQF_IND, 32, I, 0 } },
	  { { 0, D(0), 16, N, 2 } }, 0, FAILS(-EBADMSG, "next index out of range") },
	{ "indirect: INDIRECT with NEXT", F_IND, 2, 1,
	  { { 0, VQF_IND, 16, I | N, 1 }, { 1, D(1), 16, W, 0 } },
	  { { 0, D(0), 16, 0, 0 } }, 0, FAILS(-EBADMSG, "INDIRECT together with NEXT") },
	{ "indirect: readable after writable across tables", F_IND, 2, 1,
	  { { 0, D(0), 16, W | N, 1 }, { 1, VQF_IND, 16, I, 0 } },
	  { { 0, D(1), 16, 0, 0 } }, 0, FAILS(-EBADMSG, "readable buffer after") },
	{ "indirect: zero-length entry", F_IND, 1, 2, { { 0, VQF_IND, 32, I, 0 } },
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 0, W, 0 } }, 0, FAILS(-EBADMSG, "zero-length") },
	{ "indirect: more buffers than iovecs", F_IND, 1, 4, { { 0, VQF_IND, 64, I, 0 } },
	  { { 0, D(0), 1, N, 1 }, { 1, D(1), 1, N, 2 }, { 2, D(2), 1, N, 3 }, { 3, D(3), 1, 0, 0 } },
	  3, FAILS(-ENOBUFS, "more than 3 buffers") },
	{ "buffer outside RAM", 0, 1, 0, { { 0, 0x200000, 16, 0, 0 } }, {},
	  0, FAILS(-EBADMSG, "buffer outside guest RAM") },
	{ "buffer straddles end of low RAM", 0, 1, 0, { { 0, VQF_LOW_SIZE - 8, 16, 0, 0 } }, {},
	  0, FAILS(-EBADMSG, "buffer outside guest RAM") },
	{ "buffer straddles end of high RAM", 0, 1, 0,
	  { { 0, VQF_HIGH_GPA + VQF_HIGH_SIZE - 8, 16, W, 0 } }, {},
	  0, FAILS(-EBADMSG, "buffer outside guest RAM") },
	{ "buffer address wraps around", 0, 1, 0, { { 0, ~0ULL - 15, 32, 0, 0 } }, {},
	  0, FAILS(-EBADMSG, "buffer outside guest RAM") },
	{ "loop back to the head", 0, 2, 0, { { 0, D(0), 16, N, 1 }, { 1, D(1), 16, N, 0 } }, {},
	  0, FAILS(-EBADMSG, "chain longer than the queue") },
	{ "self loop", 0, 1, 0, { { 0, D(0), 16, N, 0 } }, {},
	  0, FAILS(-EBADMSG, "chain longer than the queue") },
	{ "over-long chain (cycle past the head)", 0, 8, 0,
	  { { 0, D(0), 1, N, 1 }, { 1, D(1), 1, N, 2 }, { 2, D(2), 1, N, 3 }, { 3, D(3), 1, N, 4 },
	    { 4, D(4), 1, N, 5 }, { 5, D(5), 1, N, 6 }, { 6, D(6), 1, N, 7 }, { 7, D(7), 1, N, 3 } },
	  {}, 64, FAILS(-EBADMSG, "chain longer than the queue") },
	{ "next out of range", 0, 1, 0, { { 0, D(0), 16, N, 8 } }, {},
	  0, FAILS(-EBADMSG, "next index out of range") },
	{ "zero-length first buffer", 0, 2, 0, { { 0, D(0), 0, N, 1 }, { 1, D(1), 16, W, 0 } },
	  {}, 0, FAILS(-EBADMSG, "zero-length") },
	{ "zero-length middle buffer", 0, 3, 0,
	  { { 0, D(0), 16, N, 1 }, { 1, D(1), 0, N, 2 }, { 2, D(2), 1, W, 0 } }, {},
	  0, FAILS(-EBADMSG, "zero-length") },
	{ "readable after writable", 0, 2, 0, { { 0, D(0), 16, W | N, 1 }, { 1, D(1), 16, 0, 0 } },
	  {}, 0, FAILS(-EBADMSG, "readable buffer after") },
	{ "more buffers than iovecs", 0, 3, 0,
	  { { 0, D(0), 1, N, 1 }, { 1, D(1), 1, N, 2 }, { 2, D(2), 1, W, 0 } }, {},
	  2, FAILS(-ENOBUFS, "more than 2 buffers") },
	{ "exactly as many buffers as iovecs", 0, 3, 0,
	  { { 0, D(0), 1, N, 1 }, { 1, D(1), 1, N, 2 }, { 2, D(2), 1, W, 0 } }, {}, 3, OK(2, 1, 2, 1) },
};

START_TEST(chain_table)
{
	const struct chain_case *t = &chains[_i];
	struct iovec iov[64];
	struct virtq_chain c = { .head = 0xffff };
	struct vq_fake f;
	struct virtq q;
	int r;

	enable(&f, &q, 8, t->features);
	for (unsigned k = 0; k < t->nd; k++)
		vq_fake_desc(&f, VQF_DESC, t->d[k].i, t->d[k].addr, t->d[k].len,
			     t->d[k].flags, t->d[k].next);
	for (unsigned k = 0; k < t->ni; k++)
		vq_fake_desc(&f, VQF_IND, t->ind[k].i, t->ind[k].addr, t->ind[k].len,
			     t->ind[k].flags, t->ind[k].next);
	vq_fake_add(&f, 0);
	err_clear();
	r = virtq_pop(&q, iov, t->max_iov ? t->max_iov : 16, &c);
	ck_assert_msg(r == t->ret, "%s: got %d, want %d (%s)", t->name, r, t->ret, err_msg());
	/* Whatever the outcome, the chain is consumed and its head known. */
	ck_assert_uint_eq(c.head, 0);
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), 1);
	if (r < 0) {
		ck_assert_msg(strstr(err_msg(), t->why), "%s: reason '%s'", t->name, err_msg());
	} else {
		ck_assert_uint_eq(c.nout, t->nout);
		ck_assert_uint_eq(c.nin, t->nin);
		ck_assert_uint_eq(c.out_len, t->out_len);
		ck_assert_uint_eq(c.in_len, t->in_len);
	}
	ck_assert_int_eq(virtq_pop(&q, iov, 16, &c), 0);
	vq_fake_free(&f);
}
END_TEST

/* The iovecs point at the right host bytes, in chain order. */
START_TEST(chain_iov_pointers)
{
	struct iovec iov[8];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, F_IND);
	vq_fake_desc(&f, VQF_DESC, 2, D(0) + 3, 10, N, 6);
	vq_fake_desc(&f, VQF_DESC, 6, VQF_IND, 32, I, 0);
	vq_fake_desc(&f, VQF_IND, 0, VQF_HIGH_GPA, 20, N, 1);
	vq_fake_desc(&f, VQF_IND, 1, D(1), 30, W, 0);
	vq_fake_add(&f, 2);
	ck_assert_int_eq(virtq_pop(&q, iov, 8, &c), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_ptr_eq(iov[0].iov_base, vq_fake_host(&f, D(0) + 3));
	ck_assert_uint_eq(iov[0].iov_len, 10);
	ck_assert_ptr_eq(iov[1].iov_base, vq_fake_host(&f, VQF_HIGH_GPA));
	ck_assert_uint_eq(iov[1].iov_len, 20);
	ck_assert_ptr_eq(iov[2].iov_base, vq_fake_host(&f, D(1)));
	ck_assert_uint_eq(iov[2].iov_len, 30);
	vq_fake_free(&f);
}
END_TEST

/* Any layout (2.7.4): the same 16-byte header and 512 bytes of data, merged
 * into one buffer or split over several, read back identically. */
START_TEST(any_layout)
{
	static const uint32_t cuts[][4] = {
		{ 528, 0 },		/* header shares the buffer with the data */
		{ 16, 512, 0 },		/* header in its own buffer */
		{ 3, 5, 8, 512 },	/* header split over three */
		{ 10, 100, 418, 0 },	/* header and data cut anywhere */
	};
	uint8_t src[528], hdr[16], data[512], status = 0x5a;
	struct iovec iov[8];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;

	for (unsigned k = 0; k < sizeof(src); k++)
		src[k] = (uint8_t)(k * 7 + 1);
	enable(&f, &q, 8, 0);
	for (unsigned l = 0; l < 4; l++) {
		uint32_t off = 0;
		unsigned n = 0;

		while (n < 4 && cuts[l][n]) {
			memcpy(vq_fake_host(&f, D(n)), src + off, cuts[l][n]);
			vq_fake_desc(&f, VQF_DESC, n, D(n), cuts[l][n], N, n + 1);
			off += cuts[l][n++];
		}
		vq_fake_desc(&f, VQF_DESC, n, D(7), 1, W, 0);
		vq_fake_add(&f, 0);
		ck_assert_int_eq(virtq_pop(&q, iov, 8, &c), 1);
		ck_assert_uint_eq(c.nout, n);
		ck_assert_uint_eq(c.out_len, 528);
		ck_assert_uint_eq(virtq_iov_read(iov, c.nout, 0, hdr, 16), 16);
		ck_assert_mem_eq(hdr, src, 16);
		ck_assert_uint_eq(virtq_iov_read(iov, c.nout, 16, data, 512), 512);
		ck_assert_mem_eq(data, src + 16, 512);
		/* Reading past the end stops at the end. */
		ck_assert_uint_eq(virtq_iov_read(iov, c.nout, 520, data, 100), 8);
		ck_assert_uint_eq(virtq_iov_write(iov + c.nout, c.nin, c.in_len - 1, &status, 1), 1);
		ck_assert_uint_eq(*(uint8_t *)vq_fake_host(&f, D(7)), 0x5a);
		virtq_push(&q, c.head, 1);
	}
	vq_fake_free(&f);
}
END_TEST

/* A chain of 4 GiB or more is refused (used.len is 32-bit). The data
 * region is reserved address space only: nothing touches it. */
START_TEST(chain_over_4g)
{
	const uint64_t big = 8ULL << 30;
	struct iovec iov[4];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;
	void *res = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_ptr_ne(res, MAP_FAILED);
	vq_fake_init(&f, 8);
	f.mem.regions[1].host = res;
	f.mem.regions[1].size = big;
	ck_assert_int_eq(vq_fake_enable(&f, &q, 0), 0);
	vq_fake_desc(&f, VQF_DESC, 0, VQF_HIGH_GPA, 0x80000000u, N, 1);
	vq_fake_desc(&f, VQF_DESC, 1, VQF_HIGH_GPA, 0x7fffffffu, W | N, 2);
	vq_fake_desc(&f, VQF_DESC, 2, VQF_HIGH_GPA, 1, W, 0);
	vq_fake_add(&f, 0);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), -EBADMSG);
	/* Exactly 4 GiB - 1 is fine. */
	vq_fake_desc(&f, VQF_DESC, 1, VQF_HIGH_GPA, 0x7fffffffu, W, 0);
	vq_fake_add(&f, 0);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), 1);
	ck_assert_uint_eq(c.out_len + (uint64_t)c.in_len, 0xffffffffULL);
	munmap(res, big);
	vq_fake_free(&f);
}
END_TEST

/* A malformed chain does not wedge the queue: the next chain pops. */
START_TEST(malformed_then_valid)
{
	struct iovec iov[4];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, 0);
	vq_fake_desc(&f, VQF_DESC, 0, 0x200000, 16, 0, 0);
	vq_fake_desc(&f, VQF_DESC, 1, D(1), 16, W, 0);
	vq_fake_add(&f, 0);
	vq_fake_add(&f, 1);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err_msg(), "outside guest RAM"));
	ck_assert_uint_eq(c.head, 0);
	virtq_push(&q, c.head, 0);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), 1);
	ck_assert_uint_eq(c.head, 1);
	vq_fake_free(&f);
}
END_TEST

START_TEST(corrupt_ring)
{
	struct iovec iov[4];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, 0);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), 0);
	for (unsigned k = 0; k < 8; k++)
		vq_fake_desc(&f, VQF_DESC, k, D(k), 16, 0, 0);

	/* avail->idx 9 ahead of us in a queue of 8: corrupt, nothing consumed. */
	vq_fake_set_avail_idx(&f, 9);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), -EIO);
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), 0);
	/* Going backwards is a jump of 65535. */
	vq_fake_set_avail_idx(&f, 0xffff);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), -EIO);
	/* Exactly the queue size is fine. */
	vq_fake_set_avail_idx(&f, 8);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), 1);
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), 1);

	/* A head index out of range. */
	virtq_reset(&q);
	memset(vq_fake_host(&f, VQF_AVAIL), 0, 0x100);
	f.avail_idx = 0;
	ck_assert_int_eq(vq_fake_enable(&f, &q, 0), 0);
	vq_fake_add(&f, 8);
	ck_assert_int_eq(virtq_pop(&q, iov, 4, &c), -EIO);
	ck_assert_ptr_nonnull(strstr(err_msg(), "out of range"));
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), 0);
	vq_fake_free(&f);
}
END_TEST

static const struct {
	uint16_t size;
	uint64_t desc, avail, used;
	int ret;
	const char *why;	/* in the recorded reason */
} enables[] = {
	{ 8, VQF_DESC, VQF_AVAIL, VQF_USED, 0, NULL },
	{ 1, VQF_DESC, VQF_AVAIL, VQF_USED, 0, NULL },
	{ 1024, VQF_DESC, VQF_AVAIL, VQF_USED, 0, NULL },
	{ 0, VQF_DESC, VQF_AVAIL, VQF_USED, -EINVAL, "not a power of two" },
	{ 3, VQF_DESC, VQF_AVAIL, VQF_USED, -EINVAL, "not a power of two" },
	{ 2048, VQF_DESC, VQF_AVAIL, VQF_USED, -EINVAL, "not a power of two" },
	{ 8, VQF_DESC + 8, VQF_AVAIL, VQF_USED, -EINVAL, "table at 0x1008 is not 16-byte aligned" },
	{ 8, VQF_DESC, VQF_AVAIL + 1, VQF_USED, -EINVAL, "ring at 0x5001 is not 2-byte aligned" },
	{ 8, VQF_DESC, VQF_AVAIL, VQF_USED + 2, -EINVAL, "used ring at 0x6002 is not 4-byte aligned" },
	{ 8, 0x200000, VQF_AVAIL, VQF_USED, -EFAULT, "descriptor table 0x" },
	{ 8, VQF_LOW_SIZE - 0x70, VQF_AVAIL, VQF_USED, -EFAULT, "descriptor table 0x" },
	{ 8, VQF_DESC, VQF_LOW_SIZE - 20, VQF_USED, -EFAULT, "available ring 0x" },
	{ 8, VQF_DESC, VQF_LOW_SIZE - 22, VQF_USED, 0, NULL },	/* 6 + 2 * 8 fits exactly */
	{ 8, VQF_DESC, VQF_AVAIL, VQF_LOW_SIZE - 68, -EFAULT, "used ring 0x" },
	{ 8, VQF_DESC, VQF_AVAIL, VQF_LOW_SIZE - 72, 0, NULL },
	{ 8, VQF_HIGH_GPA, VQF_HIGH_GPA + 0x800, VQF_HIGH_GPA + 0x1000, 0, NULL },
	{ 8, VQF_DESC, VQF_AVAIL, VQF_HIGH_GPA + VQF_HIGH_SIZE - 8, -EFAULT, "used ring 0x" },
	{ 8, MMIO_HOLE_START, VQF_AVAIL, VQF_USED, -EFAULT, "descriptor table 0x" },
};

START_TEST(enable_table)
{
	struct vq_fake f;
	struct virtq q;
	int r;

	vq_fake_init(&f, 8);
	r = virtq_enable(&q, &f.mem, enables[_i].size, enables[_i].desc, enables[_i].avail,
			 enables[_i].used, 0);
	ck_assert_msg(r == enables[_i].ret, "case %d: got %d (%s)", _i, r, err_msg());
	ck_assert_int_eq(virtq_enabled(&q), r == 0);
	if (r)
		ck_assert_msg(strstr(err_msg(), enables[_i].why), "case %d: '%s'", _i, err_msg());
	vq_fake_free(&f);
}
END_TEST

static const struct {
	uint16_t event, new_idx, old_idx;
	bool want;
} events[] = {
	{ 0, 1, 0, true },		/* first entry, event at 0 */
	{ 2, 1, 0, false },		/* not reached yet */
	{ 2, 3, 1, true },		/* passed inside the range */
	{ 2, 4, 3, false },		/* passed before the range */
	{ 3, 5, 3, true },		/* range start is included */
	{ 5, 5, 3, false },		/* range end is not */
	{ 4, 5, 3, true },
	{ 2, 5, 3, false },
	{ 5, 8, 0, true },		/* many pushes, one flush */
	{ 8, 8, 0, false },
	{ 3, 3, 3, false },		/* nothing new */
	{ 65535, 0, 65534, true },	/* wrap 65535 -> 0 */
	{ 65535, 0, 65535, true },
	{ 0, 0, 65535, false },
	{ 0, 1, 65535, true },
	{ 65534, 2, 65530, true },
	{ 10, 2, 65530, false },
	{ 65529, 2, 65530, false },
	{ 1, 65535, 0, true },		/* huge range */
};

START_TEST(need_event_table)
{
	ck_assert_msg(virtq_need_event(events[_i].event, events[_i].new_idx, events[_i].old_idx) ==
		      events[_i].want, "case %d", _i);
}
END_TEST

/* Pop `n` single-buffer chains the driver added, push them with len = id. */
static void serve(struct vq_fake *f, struct virtq *q, unsigned n)
{
	struct iovec iov[2];
	struct virtq_chain c;

	for (unsigned k = 0; k < n; k++) {
		vq_fake_desc(f, VQF_DESC, k, D(k), 64, W, 0);
		vq_fake_add(f, k);
	}
	for (unsigned k = 0; k < n; k++) {
		ck_assert_int_eq(virtq_pop(q, iov, 2, &c), 1);
		virtq_push(q, c.head, 100 + c.head);
	}
}

/* Serve n chains and publish them: whether the driver is to be interrupted. */
static bool serve_flush(struct vq_fake *f, struct virtq *q, unsigned n)
{
	serve(f, q, n);
	virtq_flush(q);
	return virtq_need_interrupt(q);
}

START_TEST(used_ring_contents)
{
	struct iovec iov[2];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;
	uint32_t id, len;

	enable(&f, &q, 8, 0);
	virtq_flush(&q);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 0);
	ck_assert(!virtq_need_interrupt(&q));
	for (unsigned k = 0; k < 3; k++) {
		vq_fake_desc(&f, VQF_DESC, k, D(k), 4096, W, 0);
		vq_fake_add(&f, k);
		ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 1);
	}
	/* Completion order is the device's: 2 then 0 then 1. */
	virtq_push(&q, 2, 7);
	virtq_push(&q, 0, 0);
	virtq_push(&q, 1, 4096);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 0);	/* not published yet */
	ck_assert(!virtq_need_interrupt(&q));
	virtq_flush(&q);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 3);
	ck_assert_uint_eq(virtq_get_used_idx(&q), 3);
	vq_fake_used_elem(&f, 0, &id, &len);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 7);
	vq_fake_used_elem(&f, 1, &id, &len);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 0);
	vq_fake_used_elem(&f, 2, &id, &len);
	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(len, 4096);
	ck_assert(virtq_need_interrupt(&q));
	ck_assert(!virtq_need_interrupt(&q));	/* nothing new since */
	vq_fake_free(&f);
}
END_TEST

START_TEST(interrupt_event_idx)
{
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, F_EVT);
	/* NO_INTERRUPT means nothing once EVENT_IDX is on. */
	vq_fake_set_avail_flags(&f, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq_fake_set_used_event(&f, 2);
	ck_assert(!serve_flush(&f, &q, 1));	/* used 0 -> 1, event at 2 */
	ck_assert(serve_flush(&f, &q, 2));	/* 1 -> 3 passes 2 */
	ck_assert(!serve_flush(&f, &q, 1));	/* 3 -> 4, event left behind */
	/* Many pushes, one flush, one decision. */
	vq_fake_set_used_event(&f, 9);
	serve(&f, &q, 8);
	virtq_flush(&q);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 12);
	ck_assert(virtq_need_interrupt(&q));
	vq_fake_free(&f);
}
END_TEST

/* Indices restored near the top of the uint16 range, then wrap. */
START_TEST(interrupt_event_idx_wrap)
{
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, F_EVT);
	virtq_set_indices(&q, 65534, 65534);
	vq_fake_set_avail_idx(&f, 65534);
	ck_assert(!virtq_need_interrupt(&q));	/* nothing published */
	vq_fake_set_used_event(&f, 0);
	serve(&f, &q, 1);
	virtq_flush(&q);
	/* First decision after a restore says yes, whatever used_event says. */
	ck_assert(virtq_need_interrupt(&q));
	serve(&f, &q, 1);
	virtq_flush(&q);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 0);
	ck_assert(!virtq_need_interrupt(&q));	/* 65535 -> 0: entry 0 not used yet */
	ck_assert(serve_flush(&f, &q, 1));	/* 0 -> 1 */
	vq_fake_set_used_event(&f, 65535);
	virtq_set_indices(&q, 1, 1);
	ck_assert(serve_flush(&f, &q, 1));	/* restored again: yes */
	ck_assert(!serve_flush(&f, &q, 3));	/* 2 -> 5, event 65535 far away */
	vq_fake_free(&f);
}
END_TEST

START_TEST(interrupt_no_event_idx)
{
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, 0);
	vq_fake_set_used_event(&f, 100);	/* ignored without EVENT_IDX */
	ck_assert(serve_flush(&f, &q, 2));
	vq_fake_set_avail_flags(&f, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ck_assert(!serve_flush(&f, &q, 2));
	vq_fake_set_avail_flags(&f, 0);
	ck_assert(!virtq_need_interrupt(&q));	/* nothing new */
	ck_assert(serve_flush(&f, &q, 1));
	vq_fake_free(&f);
}
END_TEST

START_TEST(kick_notify_flags)
{
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, 0);
	ck_assert(q.kick_notify);
	virtq_set_kick_notify(&q, false);
	ck_assert_uint_eq(vq_fake_used_flags(&f), VIRTQ_USED_F_NO_NOTIFY);
	serve(&f, &q, 3);
	ck_assert_uint_eq(vq_fake_avail_event(&f), 0);	/* not used in this mode */
	virtq_set_kick_notify(&q, true);
	ck_assert_uint_eq(vq_fake_used_flags(&f), 0);
	ck_assert_uint_eq(vq_fake_avail_event(&f), 0);
	vq_fake_free(&f);
}
END_TEST

START_TEST(kick_notify_event_idx)
{
	struct vq_fake f;
	struct virtq q;

	enable(&f, &q, 8, F_EVT);
	serve(&f, &q, 3);
	virtq_set_kick_notify(&q, true);
	ck_assert_uint_eq(vq_fake_avail_event(&f), 3);
	ck_assert_uint_eq(vq_fake_used_flags(&f), 0);
	serve(&f, &q, 2);
	virtq_set_kick_notify(&q, false);	/* lazy: nothing written */
	ck_assert(!q.kick_notify);
	ck_assert_uint_eq(vq_fake_avail_event(&f), 3);
	ck_assert_uint_eq(vq_fake_used_flags(&f), 0);
	ck_assert(!virtq_kick_enable_and_check(&q));
	ck_assert_uint_eq(vq_fake_avail_event(&f), 5);
	vq_fake_free(&f);
}
END_TEST

/* The race helper: a buffer added while kicks were off is found. */
START_TEST(kick_enable_recheck)
{
	for (int evt = 0; evt < 2; evt++) {
		struct iovec iov[2];
		struct virtq_chain c;
		struct vq_fake f;
		struct virtq q;

		enable(&f, &q, 8, evt ? F_EVT : 0);
		ck_assert(!virtq_kick_enable_and_check(&q));
		virtq_set_kick_notify(&q, false);
		vq_fake_desc(&f, VQF_DESC, 4, D(4), 64, W, 0);
		vq_fake_add(&f, 4);		/* the guest saw no need to kick */
		ck_assert(virtq_kick_enable_and_check(&q));
		ck_assert_uint_eq(vq_fake_used_flags(&f), 0);
		ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 1);
		ck_assert_uint_eq(c.head, 4);
		ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 0);
		ck_assert(!virtq_kick_enable_and_check(&q));
		if (evt)
			ck_assert_uint_eq(vq_fake_avail_event(&f), 1);
		vq_fake_free(&f);
	}
}
END_TEST

/* More than 65536 requests through a queue of 4, in batches of 1..4:
 * every index wraps, every used entry is right. */
START_TEST(wrap_many_requests)
{
	const unsigned total = 70001;
	struct iovec iov[2];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;
	unsigned done = 0, batches = 0, interrupts = 0;
	uint16_t seen = 0;

	enable(&f, &q, 4, F_EVT);
	for (unsigned k = 0; k < 4; k++)
		vq_fake_desc(&f, VQF_DESC, k, D(k), 512, W, 0);
	while (done < total) {
		unsigned batch = 1 + batches++ % 4, popped = 0;

		if (batch > total - done)
			batch = total - done;
		vq_fake_set_used_event(&f, seen);	/* interrupt me on the next one */
		for (unsigned k = 0; k < batch; k++)
			vq_fake_add(&f, (uint16_t)((done + k) % 4));
		do {
			while (virtq_pop(&q, iov, 2, &c) == 1) {
				ck_assert_uint_eq(c.head, (done + popped) % 4);
				virtq_push(&q, c.head, (done + popped) & 0xffff);
				popped++;
			}
		} while (virtq_kick_enable_and_check(&q));
		ck_assert_uint_eq(popped, batch);
		virtq_flush(&q);
		interrupts += virtq_need_interrupt(&q);
		for (; seen != vq_fake_used_idx(&f); seen++, done++) {
			uint32_t id, len;

			vq_fake_used_elem(&f, seen, &id, &len);
			ck_assert_uint_eq(id, done % 4);
			ck_assert_uint_eq(len, done & 0xffff);
		}
	}
	ck_assert_uint_eq(done, total);
	ck_assert_uint_eq(interrupts, batches);	/* used_event always crossed */
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), total & 0xffff);
	ck_assert_uint_eq(virtq_get_used_idx(&q), total & 0xffff);
	ck_assert_uint_eq(vq_fake_avail_event(&f), total & 0xffff);
	vq_fake_free(&f);
}
END_TEST

START_TEST(restore_and_reset)
{
	struct iovec iov[2];
	struct virtq_chain c;
	struct vq_fake f;
	struct virtq q;
	uint32_t id, len;

	enable(&f, &q, 8, 0);
	vq_fake_set_avail_idx(&f, 100);
	virtq_set_indices(&q, 100, 90);
	ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 0);	/* nothing new since the save */
	vq_fake_desc(&f, VQF_DESC, 3, D(3), 64, W, 0);
	vq_fake_add(&f, 3);			/* ring slot 100 % 8 */
	ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_uint_eq(virtq_get_last_avail_idx(&q), 101);
	virtq_push(&q, 3, 64);
	virtq_flush(&q);
	ck_assert_uint_eq(vq_fake_used_idx(&f), 91);
	vq_fake_used_elem(&f, 90, &id, &len);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 64);

	virtq_reset(&q);
	ck_assert(!virtq_enabled(&q));
	vq_fake_add(&f, 3);
	ck_assert_int_eq(virtq_pop(&q, iov, 2, &c), 0);
	virtq_push(&q, 3, 1);			/* ignored, no crash */
	virtq_flush(&q);
	ck_assert(!virtq_need_interrupt(&q));
	ck_assert(!virtq_kick_enable_and_check(&q));
	ck_assert_uint_eq(vq_fake_used_idx(&f), 91);
	vq_fake_free(&f);
}
END_TEST

Suite *virtqueue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc = tcase_create("core");

	/* wrap_many_requests makes ~10^6 assertions (each a write to check's
	 * pipe in fork mode): seconds on a loaded 2-core machine, not a hang. */
	tcase_set_timeout(tc, 60);

	tcase_add_loop_test(tc, chain_table, 0, sizeof(chains) / sizeof(chains[0]));
	tcase_add_test(tc, chain_iov_pointers);
	tcase_add_test(tc, any_layout);
	tcase_add_test(tc, chain_over_4g);
	tcase_add_test(tc, malformed_then_valid);
	tcase_add_test(tc, corrupt_ring);
	tcase_add_loop_test(tc, enable_table, 0, sizeof(enables) / sizeof(enables[0]));
	tcase_add_loop_test(tc, need_event_table, 0, sizeof(events) / sizeof(events[0]));
	tcase_add_test(tc, used_ring_contents);
	tcase_add_test(tc, interrupt_event_idx);
	tcase_add_test(tc, interrupt_event_idx_wrap);
	tcase_add_test(tc, interrupt_no_event_idx);
	tcase_add_test(tc, kick_notify_flags);
	tcase_add_test(tc, kick_notify_event_idx);
	tcase_add_test(tc, kick_enable_recheck);
	tcase_add_test(tc, wrap_many_requests);
	tcase_add_test(tc, restore_and_reset);
	suite_add_tcase(s, tc);
	return s;
}
