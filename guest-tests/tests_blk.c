// SPDX-License-Identifier: Apache-2.0
/*
 * The blk-* cases: a virtio-blk device through virtio_blk.h, under kite or
 * QEMU. Everything here runs in ring 3, interrupts on (user_irqs) so the
 * queues' MSI-X vectors are counted whether we wait for them or poll.
 *
 * Command line:
 *   blk=1              a virtio-blk device must be there (else the cases
 *                      only run when one is found)
 *   blk_wait=irq|poll  wait for MSI-X interrupts (default) or poll the used
 *                      ring with interrupts suppressed
 *   event_idx=0|1      negotiate VIRTIO_F_EVENT_IDX if offered (default 1)
 *   indirect=0|1       negotiate VIRTIO_F_INDIRECT_DESC if offered (default 1)
 *   layout=split|merged  header/status in descriptors of their own (default),
 *                      or sharing one with the data
 *   blk_serial=S       blk-get-id: the ID the device must report
 *   blk_ro=1           blk-readonly: the disk is read-only
 *   hostile=1          blk-malformed: send malformed requests (kite only)
 */
#include "tests_disk.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "virtio_blk.h"

static struct blk blk;
static struct virtio_opts opts;
static bool stale;		/* a case failed with requests maybe in flight */
static u64 seed;

/* Per queue: request slots with a CHUNK buffer each, allocated on first use. */
static struct slot slots[VIRTIO_MAX_QUEUES][DEPTH];
/* A few buffers for the one-off requests of the smaller cases. */
static struct blk_io *io1;
static u8 *buf1, *buf2;

/* The data pattern (tests_disk.h) of sectors sector.. */
static void fill(void *buf, u64 sector, u32 nsec, u64 sd)
{
	pattern_fill(buf, 0, sector * SECTOR_SIZE, nsec * SECTOR_SIZE, sd);
}

static long check(const void *buf, u64 sector, u32 nsec, u64 sd)
{
	return pattern_check(buf, 0, sector * SECTOR_SIZE, nsec * SECTOR_SIZE, sd);
}

/* ---- set-up ---- */

static struct case_dev dev;

/* (Re)initialise with `o`; on failure the cases fail with the reason. */
static bool reinit(const struct virtio_opts *o, char *why)
{
	if (!blk_init(&blk, o, why, WHY_LEN))
		return dev_down(&dev, why);
	return true;
}

static bool restart(char *why)
{
	return reinit(&opts, why);
}

static int probe(char *why, size_t whylen)
{
	int r;

	virtio_opts_cmdline(&opts, "blk_wait");
	seed = run_seed(0x6b6974652d626c6bULL);
	r = blk_probe(&blk, why, whylen);
	io1 = blk_io_alloc();
	buf1 = dma_alloc(CHUNK, PAGE_SIZE);
	buf2 = dma_alloc(CHUNK, PAGE_SIZE);
	if (r > 0 && (!io1 || !buf1 || !buf2)) {
		snprintf(why, whylen, "out of DMA memory");
		r = -1;
	}
	return r;
}

static const struct bulk_dev bulk;
static struct case_dev dev = {
	.none = "no virtio-blk device (1af4:1042) found",
	.v = &blk.v,
	.bulk = &bulk,
	.probe = probe,
	.restart = restart,
};

static bool ready(char *why)
{
	return dev_ready(&dev, why);
}

/* One request on queue 0 through io1, start to finish (blk_do). */
static int do1(u32 type, u64 sector, void *buf, u32 len, unsigned nseg, unsigned flags)
{
	int st = blk_do(&blk, 0, io1, type, sector, buf, len, nseg, flags);

	if (st < 0)
		stale = true;
	return st;
}

/* Data descriptors per request: up to 4, within seg_max and size_max. */
static unsigned segs_for(u32 len)
{
	unsigned n = 4;

	if (blk.cfg.seg_max)
		n = MIN(n, blk.cfg.seg_max);
	while (n > 1 && (len % n || (len / n) % SECTOR_SIZE))
		n--;
	if (blk.cfg.size_max)
		while (n < BLK_IO_MAX_SEGS && len / n > blk.cfg.size_max)
			n *= 2;
	return MAX(n, 1u);
}

/* ---- the bulk engine's device (tests_disk.h) ---- */

static struct virtq *bulk_queue(unsigned qi)
{
	return &blk.v.vq[qi];
}

static u32 bulk_block_size(unsigned t)
{
	(void)t;
	return SECTOR_SIZE;
}

static bool bulk_alloc(struct slot *s)
{
	s->io = blk_io_alloc();
	s->buf = dma_alloc(CHUNK, PAGE_SIZE);
	return s->io && s->buf;
}

static bool bulk_submit(unsigned qi, const struct job *j, unsigned k, struct slot *s,
			bool indirect)
{
	u32 len = s->nblk * SECTOR_SIZE;

	(void)k;
	return blk_submit(&blk, qi, s->io, j->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, s->lba,
			  s->buf, len, segs_for(len), indirect ? BLK_IO_INDIRECT : 0) == 0;
}

static bool bulk_check(struct job *j, struct slot *s)
{
	int st = *(volatile u8 *)s->io->status_at;
	char *why = j->why;
	long bad;

	if (st != VIRTIO_BLK_S_OK)
		fail("%s of %u sectors at %lu: %s (%d)", j->write ? "write" : "read", s->nblk,
		     s->lba, blk_status_name(st), st);
	if (s->io->vq.used_len > s->io->writable)
		fail("%s at %lu: used len %u, but only %u bytes were writable",
		     j->write ? "write" : "read", s->lba, s->io->vq.used_len, s->io->writable);
	if (!j->write && !j->no_verify && (bad = check(s->buf, s->lba, s->nblk, j->seed)) >= 0)
		fail("read at sector %lu: sector %lu word %ld is %016lx, wrote %016lx",
		     s->lba, s->lba + bad / 64, bad % 64, ((u64 *)s->buf)[bad],
		     pattern_word(j->seed, 0, s->lba * SECTOR_SIZE, bad));
	return true;
}

static const struct bulk_dev bulk = {
	.what = "request",
	.slots = slots,
	.stale = &stale,
	.queue = bulk_queue,
	.block_size = bulk_block_size,
	.alloc = bulk_alloc,
	.submit = bulk_submit,
	.check = bulk_check,
};

/* ---- blk-rw ---- */

static void print_device(void)
{
	struct blk_config *c = &blk.cfg;

	print_found("blk", &blk.v);
	printf("  blk: %lu sectors (%lu KiB), blk_size %u, seg_max %u, size_max %u, "
	       "%u queues of %u (device has %u)\n",
	       c->capacity, c->capacity / 2, c->blk_size, c->seg_max, c->size_max, blk.nq,
	       blk.v.vq[0].size, c->num_queues);
	printf("  blk: %s, %s layout, EVENT_IDX %s, INDIRECT_DESC %s, MSI-X %u entries%s%s%s%s\n",
	       wait_name(&opts), opts.merged ? "merged" : "split", blk.event_idx ? "on" : "off",
	       blk.indirect ? "on" : "off", blk.v.msix_entries, blk.ro ? ", read-only" : "",
	       blk.flush ? ", flush" : "", blk.discard ? ", discard" : "",
	       blk.write_zeroes ? ", write-zeroes" : "");
}

static bool test_blk_rw(char *why)
{
	static u64 points[MAX_POINTS];
	u64 cap, npoints, irq0;
	struct virtq *q;
	struct job j;

	if (!ready(why))
		return false;
	print_device();
	cap = blk.cfg.capacity;
	q = &blk.v.vq[0];
	irq0 = vq_irqs(q);
	if (!cap)
		fail("capacity is 0");
	npoints = make_points(cap, SECTOR_SIZE, seed, points, ARRAY_SIZE(points));
	if (blk.ro) {
		/* Nothing may be written: read what is there, statuses only. */
		for (u64 k = 0; k < npoints; k++) {
			int st = do1(VIRTIO_BLK_T_IN, points[k], buf1, SECTOR_SIZE, 1, 0);

			if (st != VIRTIO_BLK_S_OK)
				fail("read-only disk: read of sector %lu: %s", points[k], blk_status_name(st));
		}
		printf("  blk-rw: read-only disk: %lu single-sector reads OK, nothing written\n", npoints);
		return quiet_when_polling(q, opts.irq, irq0, true, why);
	}
	j = (struct job){ .count = npoints, .points = points, .seed = seed, .why = why };
	if (!write_read_job(&bulk, 0, &j, false))
		return false;
	printf("  blk-rw: %lu single sectors (first and last of every MiB, 8 random) "
	       "written and verified\n", npoints);
	if (cap * SECTOR_SIZE <= FULL_PASS_MAX) {
		unsigned n = chunks(cap, SECTOR_SIZE);

		j = (struct job){ .count = n, .first = 0, .last = cap, .seed = seed ^ 1,
				  .alt_indirect = blk.indirect, .why = why };
		if (!write_read_job(&bulk, 0, &j, false))
			return false;
		printf("  blk-rw: full pass: %u requests of up to %u KiB in %u segments each way%s\n",
		       n, CHUNK / 1024, segs_for(CHUNK),
		       blk.indirect ? ", every other one indirect" : "");
	}
	printf("  blk-rw: queue 0: %lu notifications, %lu suppressed, %lu interrupts\n",
	       q->kicks, q->kicks_skipped, vq_irqs(q) - irq0);
	return quiet_when_polling(q, opts.irq, irq0, true, why);
}

/* ---- blk-flush ---- */

static bool test_blk_flush(char *why)
{
	int st;

	if (!ready(why))
		return false;
	if (!blk.flush) {
		printf("  blk-flush: VIRTIO_BLK_F_FLUSH not offered: skipped\n");
		return true;
	}
	if (!blk.ro) {
		fill(buf1, 7, 1, seed ^ 7);
		st = do1(VIRTIO_BLK_T_OUT, 7, buf1, SECTOR_SIZE, 1, 0);
		if (st != VIRTIO_BLK_S_OK)
			fail("write before the flush: %s", blk_status_name(st));
	}
	st = do1(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("flush: %s (%d)", blk_status_name(st), st);
	printf("  blk-flush: flush OK (used len %u)\n", io1->vq.used_len);
	return true;
}

/* ---- blk-discard, blk-write-zeroes ---- */

/* A region of `n` sectors in the middle of the disk, aligned to `align`. */
static u64 region(u64 n, u32 align)
{
	u64 s = blk.cfg.capacity / 2;

	align = MAX(align, 1u);
	s -= s % align;
	if (s + n > blk.cfg.capacity)
		s = 0;
	return s;
}

static bool dwz_case(bool zeroes, char *why)
{
	const char *name = zeroes ? "blk-write-zeroes" : "blk-discard";
	bool offered = zeroes ? blk.write_zeroes : blk.discard;
	u32 max = zeroes ? blk.cfg.max_write_zeroes_sectors : blk.cfg.max_discard_sectors;
	u32 nsec = CHUNK / SECTOR_SIZE;
	u64 s;
	int st;

	if (!ready(why))
		return false;
	if (!offered) {
		printf("  %s: VIRTIO_BLK_F_%s not offered: skipped\n", name,
		       zeroes ? "WRITE_ZEROES" : "DISCARD");
		return true;
	}
	if (blk.ro) {
		printf("  %s: read-only disk: skipped\n", name);
		return true;
	}
	if (max)
		nsec = MIN(nsec, max);
	s = region(nsec, zeroes ? 1 : blk.cfg.discard_sector_alignment);
	fill(buf1, s, nsec, seed ^ 3);
	st = do1(VIRTIO_BLK_T_OUT, s, buf1, nsec * SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("writing the region first: %s", blk_status_name(st));
	st = do1(zeroes ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD, s,
		    NULL, nsec * SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("%s of %u sectors at %lu: %s (%d)", zeroes ? "write-zeroes" : "discard",
		     nsec, s, blk_status_name(st), st);
	memset(buf2, 0xa5, nsec * SECTOR_SIZE);
	st = do1(VIRTIO_BLK_T_IN, s, buf2, nsec * SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("reading back: %s", blk_status_name(st));
	if (zeroes && !all_zero(buf2, nsec * SECTOR_SIZE))
		fail("sectors %lu-%lu do not read back as zeros", s, s + nsec - 1);
	/* After a discard the contents are unspecified (5.2.6): report only. */
	printf("  %s: %u sectors at %lu: OK, read back %s (max %u sectors, %u segments%s)\n",
	       name, nsec, s, what_is_there(buf2, 0, s * SECTOR_SIZE, nsec * SECTOR_SIZE, seed ^ 3),
	       max,
	       zeroes ? blk.cfg.max_write_zeroes_seg : blk.cfg.max_discard_seg,
	       zeroes && blk.cfg.write_zeroes_may_unmap ? ", may unmap" : "");
	return true;
}

static bool test_blk_discard(char *why)
{
	return dwz_case(false, why);
}

static bool test_blk_write_zeroes(char *why)
{
	return dwz_case(true, why);
}

/* ---- blk-get-id ---- */

static bool test_blk_get_id(char *why)
{
	char want[VIRTIO_BLK_ID_BYTES + 1] = "", id[VIRTIO_BLK_ID_BYTES + 1];
	bool have_want = cmdline_get("blk_serial", want, sizeof(want));
	int st;

	if (!ready(why))
		return false;
	memset(buf1, 0xa5, 64);
	st = do1(VIRTIO_BLK_T_GET_ID, 0, buf1, VIRTIO_BLK_ID_BYTES, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("GET_ID: %s (%d)", blk_status_name(st), st);
	memcpy(id, buf1, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = 0;
	for (size_t i = 0; i < strlen(id); i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			fail("ID byte %zu is 0x%02x", i, (u8)id[i]);
	printf("  blk-get-id: \"%s\"%s\n", id, have_want ? "" : " (no blk_serial= to compare)");
	if (have_want && strcmp(id, want))
		fail("device ID \"%s\", blk_serial=%s", id, want);
	/* Shorter than 20 bytes: NUL-terminated (5.2.6.1). */
	if (strlen(id) < VIRTIO_BLK_ID_BYTES && buf1[strlen(id)] != 0)
		fail("ID of %zu bytes not NUL-terminated", strlen(id));
	return true;
}

/* ---- blk-readonly ---- */

static bool test_blk_readonly(char *why)
{
	bool want_ro = cmdline_is("blk_ro", "1");
	int st;

	if (!ready(why))
		return false;
	if (!want_ro) {
		if (blk.ro)
			fail("the device offers VIRTIO_BLK_F_RO but blk_ro=1 was not given");
		printf("  blk-readonly: writable disk, RO not offered (blk_ro=1 tests a read-only one)\n");
		return true;
	}
	if (!blk.ro)
		fail("blk_ro=1 but VIRTIO_BLK_F_RO is not offered");
	fill(buf1, 0, 1, seed ^ 5);
	st = do1(VIRTIO_BLK_T_OUT, 0, buf1, SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_IOERR)
		fail("a write to the read-only disk got %s (%d), not IOERR", blk_status_name(st), st);
	st = do1(VIRTIO_BLK_T_IN, 0, buf1, SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("a read from the read-only disk got %s", blk_status_name(st));
	printf("  blk-readonly: RO offered; write -> IOERR, read -> OK\n");
	return true;
}

/* ---- blk-range ---- */

#define FAR_SECTOR	(~0UL / 256)	/* its byte offset overflows 64 bits */

static bool test_blk_range(char *why)
{
	static const struct { const char *what; u64 back; u32 nsec; bool write; bool ok; } t[] = {
		{ "read of the last sector", 1, 1, false, true },
		{ "read at capacity", 0, 1, false, false },
		{ "read across the end", 1, 2, false, false },
		{ "write at capacity", 0, 1, true, false },
		{ "write across the end", 1, 2, true, false },
	};
	u64 cap;
	int st;

	if (!ready(why))
		return false;
	cap = blk.cfg.capacity;
	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		if (t[i].write && blk.ro)
			continue;
		fill(buf1, cap - t[i].back, t[i].nsec, seed ^ 9);
		st = do1(t[i].write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			    cap - t[i].back, buf1, t[i].nsec * SECTOR_SIZE, 1, 0);
		if (t[i].ok ? st != VIRTIO_BLK_S_OK : st != VIRTIO_BLK_S_IOERR)
			fail("%s (sector %lu, %u sectors): %s, expected %s", t[i].what,
			     cap - t[i].back, t[i].nsec, blk_status_name(st), t[i].ok ? "OK" : "IOERR");
	}
	st = do1(VIRTIO_BLK_T_IN, FAR_SECTOR, buf1, SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_IOERR)
		fail("read at sector 0x%lx: %s, expected IOERR", FAR_SECTOR, blk_status_name(st));
	printf("  blk-range: last sector OK; at, across and far beyond capacity %lu: IOERR\n", cap);
	return true;
}

/* ---- blk-mq ---- */

static void mq_print(unsigned qi, const struct mq_queue *s)
{
	printf("  blk-mq: queue %u on cpu %u (APIC id %u): %lu notifications, %lu suppressed, "
	       "%lu interrupts there (%lu waited for), %lu elsewhere\n", qi, s->q->cpu,
	       smp.cpus[s->q->cpu].apic_id, s->kicks, s->skipped, s->mine, s->sleeps, s->others);
}

static bool test_blk_mq(char *why)
{
	static struct mq_case m;

	if (!ready(why))
		return false;
	if (blk.nq < 2) {
		printf("  blk-mq: %u queue%s (num_queues %u): nothing to spread\n", blk.nq,
		       blk.nq == 1 ? "" : "s", blk.cfg.num_queues);
		return true;
	}
	m = (struct mq_case){ .name = "blk-mq", .d = &bulk, .nq = blk.nq,
			      .nblocks = blk.cfg.capacity, .ro = blk.ro, .irq = opts.irq,
			      .seed = seed, .print = mq_print };
	return mq_run(&m, why);
}

/* ---- blk-indirect ---- */

static bool test_blk_indirect(char *why)
{
	const u32 len = 4096, nseg = 8;
	u64 s;
	int st;
	long bad;

	if (!ready(why))
		return false;
	if (!blk.indirect) {
		printf("  blk-indirect: VIRTIO_F_INDIRECT_DESC %s: skipped\n",
		       blk.v.offered & BIT(VIRTIO_F_INDIRECT_DESC) ? "not negotiated (indirect=0)"
								   : "not offered");
		return true;
	}
	s = region(len / SECTOR_SIZE, 8) + 64;
	if (!blk.ro) {
		fill(buf1, s, len / SECTOR_SIZE, seed ^ 11);
		st = do1(VIRTIO_BLK_T_OUT, s, buf1, len, nseg, BLK_IO_INDIRECT);
		if (st != VIRTIO_BLK_S_OK)
			fail("indirect write (%u segments): %s", nseg, blk_status_name(st));
	}
	memset(buf2, 0xa5, len);
	st = do1(VIRTIO_BLK_T_IN, s, buf2, len, nseg, BLK_IO_INDIRECT);
	if (st != VIRTIO_BLK_S_OK)
		fail("indirect read (%u segments): %s", nseg, blk_status_name(st));
	if (!blk.ro && (bad = check(buf2, s, len / SECTOR_SIZE, seed ^ 11)) >= 0)
		fail("indirect read: word %ld differs from what was written", bad);
	/* The same sectors through direct descriptors must agree. */
	memset(buf1, 0x5a, len);
	st = do1(VIRTIO_BLK_T_IN, s, buf1, len, 1, 0);
	if (st != VIRTIO_BLK_S_OK || memcmp(buf1, buf2, len))
		fail("direct read of the same sectors: %s", st ? blk_status_name(st) : "different data");
	printf("  blk-indirect: %u bytes at sector %lu through a %u-entry indirect table%s\n",
	       len, s, nseg + 2, blk.ro ? " (read only)" : ", written and read back");
	return true;
}

/* ---- blk-event-idx ---- */

static bool event_idx_pass(bool on, char *why)
{
	struct virtio_opts o = opts;
	struct virtq *q;
	u64 span = MIN(4ULL * DEPTH * CHUNK / SECTOR_SIZE, blk.cfg.capacity);
	u64 irq0, s, kicks, skipped, irqs, n = 0;
	int st;

	o.event_idx = on;
	if (!reinit(&o, why))
		return false;
	q = &blk.v.vq[0];
	irq0 = vq_irqs(q);
	s = region(span, 8);
	/* One request at a time, each kicked: the device's avail_event (or
	 * NO_NOTIFY) and our used_event (or NO_INTERRUPT) do their work. */
	for (unsigned k = 0; k < 32; k++, n++) {
		u32 type = blk.ro || (k & 1) ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		u64 sec = s + k / 2;

		if (type == VIRTIO_BLK_T_OUT)
			fill(buf1, sec, 1, seed ^ 13);
		st = do1(type, sec, buf1, SECTOR_SIZE, 1, 0);
		if (st != VIRTIO_BLK_S_OK)
			fail("EVENT_IDX %s: request %u: %s", on ? "on" : "off", k, blk_status_name(st));
		if (type == VIRTIO_BLK_T_IN && !blk.ro && check(buf1, sec, 1, seed ^ 13) >= 0)
			fail("EVENT_IDX %s: sector %lu read back wrong", on ? "on" : "off", sec);
	}
	/* Then DEPTH in flight, each kicked as it is added: kicks that find
	 * the device still busy are the ones suppression can save. */
	for (unsigned b = 0; b < 4 && !blk.ro; b++) {
		struct job j = { .count = chunks(span, SECTOR_SIZE), .first = s, .last = s + span,
				 .seed = seed ^ 17, .kick_each = true, .why = why };

		if (!write_read_job(&bulk, 0, &j, false))
			return false;
		n += j.done;
	}
	kicks = q->kicks;
	skipped = q->kicks_skipped;
	irqs = vq_irqs(q) - irq0;
	printf("  blk-event-idx: EVENT_IDX %-3s %s: %lu requests, %lu notifications "
	       "(%lu suppressed), %lu interrupts (%lu waited for)\n", on ? "on," : "off,",
	       wait_name(&opts), n, kicks, skipped, irqs, q->sleeps);
	if (!kicks)
		fail("EVENT_IDX %s: not a single notification was needed?", on ? "on" : "off");
	if (opts.irq && (irqs < q->sleeps || irqs > n))
		fail("EVENT_IDX %s: %lu interrupts for %lu requests and %lu waits", on ? "on" : "off",
		     irqs, n, q->sleeps);
	return quiet_when_polling(q, opts.irq, irq0, true, why);
}

static bool test_blk_event_idx(char *why)
{
	bool ok = true;

	if (!ready(why))
		return false;
	if (blk.v.offered & BIT(VIRTIO_F_EVENT_IDX))
		ok = event_idx_pass(true, why);
	else
		printf("  blk-event-idx: EVENT_IDX not offered: only the pass without it\n");
	if (ok)
		ok = event_idx_pass(false, why);
	/* Back to what the command line asked for, whatever happened. */
	if (!reinit(&opts, why) || !ok)
		return false;
	return true;
}

/* ---- blk-malformed (hostile=1, kite only) ---- */

enum { BAD_OUTSIDE_RAM, BAD_LOOP, BAD_LONG, BAD_ZERO_LEN, BAD_READABLE_DATA, BAD_INDIRECT_OUTSIDE,
       BAD_HEAD, BAD_COUNT };

static const char *const bad_names[BAD_COUNT] = {
	"buffer outside RAM", "descriptor loop", "over-long chain", "zero-length buffer",
	"read into a device-readable buffer", "indirect table outside RAM", "head index out of range",
};

#define FAR_AWAY	(1ULL << 45)	/* 32 TiB: no guest here has RAM there */
#define LONG_CHAIN	(VIRTQ_MAX_SIZE - 3)	/* data descriptors at most */

/* One data descriptor more than seg_max allows, as far as the queue holds. */
static unsigned long_chain(const struct virtq *q)
{
	unsigned n = blk.cfg.seg_max ? blk.cfg.seg_max + 1 : LONG_CHAIN;

	return MIN(n, MIN((unsigned)LONG_CHAIN, q->size - 3u));
}

/* Build malformed request `kind` on queue 0 and publish it; the head used. */
static int build_bad(int kind, u8 *data)
{
	struct virtq *q = &blk.v.vq[0];
	struct blk_io *io = io1;
	u16 d[LONG_CHAIN + 2];
	unsigned n;

	io->hdr = (struct blk_hdr){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
	io->status = 0xff;
	if (kind == BAD_HEAD) {
		vq_add_raw(q, q->size + 5);
		return q->size + 5;
	}
	n = kind == BAD_LONG ? long_chain(q) + 2 : kind == BAD_INDIRECT_OUTSIDE ? 1 : 3;
	if (!vq_take(q, n, d))
		return -1;
	if (kind == BAD_INDIRECT_OUTSIDE) {
		q->desc[d[0]] = (struct vring_desc){ FAR_AWAY, 48, VIRTQ_DESC_F_INDIRECT, 0 };
		vq_add_raw(q, d[0]);
		return d[0];
	}
	q->desc[d[0]] = (struct vring_desc){ (uintptr_t)&io->hdr, 16, VIRTQ_DESC_F_NEXT, d[1] };
	for (unsigned k = 1; k + 1 < n; k++)
		q->desc[d[k]] = (struct vring_desc){ (uintptr_t)(data + (k - 1) * SECTOR_SIZE),
						     SECTOR_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
						     d[k + 1] };
	q->desc[d[n - 1]] = (struct vring_desc){ (uintptr_t)&io->status, 1, VIRTQ_DESC_F_WRITE, 0 };
	switch (kind) {
	case BAD_OUTSIDE_RAM:
		q->desc[d[1]].addr = FAR_AWAY;
		break;
	case BAD_LOOP:
		q->desc[d[1]].next = d[0];
		break;
	case BAD_ZERO_LEN:
		q->desc[d[1]].len = 0;
		break;
	case BAD_READABLE_DATA:
		q->desc[d[1]].flags = VIRTQ_DESC_F_NEXT;
		break;
	}
	vq_add_raw(q, d[0]);
	return d[0];
}

static bool malformed_one(int kind, u8 *data, char *why)
{
	struct virtq *q;
	u64 cfg0;
	bool needs_reset;
	void *token;
	u32 len = 0;
	u16 head;
	int st;

	if (!reinit(&opts, why))
		return false;
	q = &blk.v.vq[0];
	cfg0 = virtio_config_irqs(&blk.v);
	memset(data, 0x5a, LONG_CHAIN * SECTOR_SIZE);
	if (build_bad(kind, data) < 0)
		fail("%s: queue too small to build it", bad_names[kind]);
	if (kind == BAD_LONG)
		printf("  blk-malformed: %s: %u data descriptors, seg_max %u, queue size %u\n",
		       bad_names[kind], long_chain(q), blk.cfg.seg_max, q->size);
	vq_kick(q);
	if (!malformed_wait(q, bad_names[kind], &needs_reset, why))
		return false;
	if (!needs_reset) {
		vq_get_used(q, &token, &len, &head);
		st = *(volatile u8 *)&io1->status;
		if (len && (st == VIRTIO_BLK_S_OK || st == 0xff))
			fail("%s: completed with used len %u and status %s", bad_names[kind], len,
			     blk_status_name(st));
		if (kind == BAD_READABLE_DATA && data[0] != 0x5a)
			fail("%s: the device wrote into a buffer it may only read", bad_names[kind]);
		printf("  blk-malformed: %s: used len %u, status %s\n", bad_names[kind], len,
		       blk_status_name(st));

		/* The device carries on: a good request on the same queue. */
		st = do1(VIRTIO_BLK_T_IN, 0, buf1, SECTOR_SIZE, 1, 0);
		if (st != VIRTIO_BLK_S_OK)
			fail("%s: the next good request got %s", bad_names[kind], blk_status_name(st));
	} else {
		printf("  blk-malformed: %s: DEVICE_NEEDS_RESET (%lu config interrupts)\n",
		       bad_names[kind], virtio_config_irqs(&blk.v) - cfg0);
	}
	return true;
}

static bool test_blk_malformed(char *why)
{
	static u8 *data;
	u64 s;
	int st;

	if (!cmdline_is("hostile", "1")) {
		printf("  blk-malformed: needs hostile=1 (kite only): skipped\n");
		return true;
	}
	if (!ready(why))
		return false;
	if (!data && !(data = dma_alloc(LONG_CHAIN * SECTOR_SIZE, PAGE_SIZE)))
		fail("out of DMA memory");
	if (!malformed_all("blk-malformed", BAD_COUNT, blk.indirect ? -1 : BAD_INDIRECT_OUTSIDE,
			   malformed_one, data, why))
		return false;
	/* After a reset everything works again. */
	if (!reinit(&opts, why))
		return false;
	s = region(8, 8);
	if (!blk.ro) {
		fill(buf1, s, 8, seed ^ 19);
		st = do1(VIRTIO_BLK_T_OUT, s, buf1, 8 * SECTOR_SIZE, 1, 0);
		if (st != VIRTIO_BLK_S_OK)
			fail("write after the reset: %s", blk_status_name(st));
	}
	st = do1(VIRTIO_BLK_T_IN, s, buf2, 8 * SECTOR_SIZE, 1, 0);
	if (st != VIRTIO_BLK_S_OK)
		fail("read after the reset: %s", blk_status_name(st));
	if (!blk.ro && check(buf2, s, 8, seed ^ 19) >= 0)
		fail("read after the reset returned other data");
	printf("  blk-malformed: after a reset a valid write and read work\n");
	return true;
}

/* ---- the table ---- */

static const struct test_case cases[] = {
	{ "blk-rw", test_blk_rw },
	{ "blk-flush", test_blk_flush },
	{ "blk-discard", test_blk_discard },
	{ "blk-write-zeroes", test_blk_write_zeroes },
	{ "blk-get-id", test_blk_get_id },
	{ "blk-readonly", test_blk_readonly },
	{ "blk-range", test_blk_range },
	{ "blk-mq", test_blk_mq },
	{ "blk-indirect", test_blk_indirect },
	{ "blk-event-idx", test_blk_event_idx },
	{ "blk-malformed", test_blk_malformed },
};

/* Leave the device quiet and interrupts off for the cases after us. */
static void blk_end(void)
{
	if (dev.usable)
		virtio_reset(&blk.v);
	user_irqs(false);
}

const struct dev_cases blk_cases = { "blk", VIRTIO_ID_BLOCK, cases, ARRAY_SIZE(cases), blk_end };
