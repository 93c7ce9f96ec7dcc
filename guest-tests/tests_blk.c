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
#include "tests.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "time.h"
#include "virtio_blk.h"

#define CHUNK		(32 * 1024)	/* bytes per request in the bulk passes */
#define DEPTH		8		/* requests in flight per queue */
#define FULL_PASS_MAX	(16 * MiB)	/* disks up to this get every sector checked */
#define STRIPE		(1 * MiB)

static struct blk blk;
static struct blk_opts opts;
static bool probed, usable;
static bool stale;		/* a case failed with requests maybe in flight */
static char probe_why[WHY_LEN];
static u64 seed;

struct slot {
	struct blk_io *io;
	u8 *buf;
	u64 sector;
	u32 nsec;
	bool busy;
};

/* Per queue: request slots with a CHUNK buffer each, allocated on first use. */
static struct slot slots[VIRTIO_MAX_QUEUES][DEPTH];
/* A few buffers for the one-off requests of the smaller cases. */
static struct blk_io *io1;
static u8 *buf1, *buf2;

/* ---- data patterns ---- */

static u64 mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Word w of sector s: a function of the run's seed, so data a previous run
 * left on the image can never pass for this run's. */
static void fill(void *buf, u64 sector, u32 nsec, u64 sd)
{
	u64 *p = buf;

	for (u64 i = 0; i < (u64)nsec * (SECTOR_SIZE / 8); i++)
		p[i] = mix(sd ^ (sector * (SECTOR_SIZE / 8) + i));
}

/* Index of the first wrong word, or -1. */
static long check(const void *buf, u64 sector, u32 nsec, u64 sd)
{
	const u64 *p = buf;

	for (u64 i = 0; i < (u64)nsec * (SECTOR_SIZE / 8); i++)
		if (p[i] != mix(sd ^ (sector * (SECTOR_SIZE / 8) + i)))
			return i;
	return -1;
}

static bool all_zero(const void *buf, u32 len)
{
	const u64 *p = buf;

	for (u32 i = 0; i < len / 8; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- set-up ---- */

static void parse_opts(void)
{
	opts.irq = !cmdline_is("blk_wait", "poll");
	opts.event_idx = cmdline_flag("event_idx", true);
	opts.indirect = cmdline_flag("indirect", true);
	opts.merged = cmdline_is("layout", "merged");
}

static const char *mode_name(void)
{
	return opts.irq ? "interrupts" : "polling";
}

/* (Re)initialise with `o`; on failure the cases fail with the reason. */
static bool reinit(const struct blk_opts *o, char *why)
{
	if (!blk_init(&blk, o, why, WHY_LEN)) {
		usable = false;
		snprintf(probe_why, sizeof(probe_why), "%s", why);
		return false;
	}
	return true;
}

/* Every case starts here: the first call finds and starts the device. */
static bool ready(char *why)
{
	if (!probed) {
		int r;

		probed = true;
		parse_opts();
		seed = mix(rdtsc() ^ 0x6b6974652d626c6bULL);
		r = blk_probe(&blk, probe_why, sizeof(probe_why));
		if (r == 0)
			snprintf(probe_why, sizeof(probe_why), "no virtio-blk device (1af4:1042) found");
		io1 = blk_io_alloc();
		buf1 = dma_alloc(CHUNK, PAGE_SIZE);
		buf2 = dma_alloc(CHUNK, PAGE_SIZE);
		if (r > 0 && (!io1 || !buf1 || !buf2)) {
			snprintf(probe_why, sizeof(probe_why), "out of DMA memory");
			r = -1;
		}
		if (r > 0) {
			char w[WHY_LEN];

			usable = true;
			user_irqs(true);
			if (!reinit(&opts, w))
				snprintf(probe_why, sizeof(probe_why), "set-up: %s", w);
		}
	}
	if (!usable)
		fail("%s", probe_why);
	if (stale) {
		/* Start clean: the reset takes back whatever was in flight. */
		stale = false;
		for (unsigned qi = 0; qi < VIRTIO_MAX_QUEUES; qi++)
			for (unsigned s = 0; s < DEPTH; s++)
				slots[qi][s].busy = false;
		if (!reinit(&opts, why))
			return false;
	}
	if (virtio_status(&blk.v) & (VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED))
		fail("device status 0x%x", virtio_status(&blk.v));
	return true;
}

/* One request on queue 0 through io1, start to finish (blk_do). */
static int do1(u32 type, u64 sector, void *buf, u32 len, unsigned nseg, unsigned flags)
{
	int st = blk_do(&blk, 0, io1, type, sector, buf, len, nseg, flags);

	if (st < 0)
		stale = true;
	return st;
}

static bool alloc_slots(unsigned qi)
{
	for (unsigned s = 0; s < DEPTH; s++) {
		if (slots[qi][s].io)
			continue;
		slots[qi][s].io = blk_io_alloc();
		slots[qi][s].buf = dma_alloc(CHUNK, PAGE_SIZE);
		if (!slots[qi][s].io || !slots[qi][s].buf)
			return false;
	}
	return true;
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

/* ---- the bulk engine: many requests, DEPTH in flight on one queue ---- */

struct job {
	u32 type;			/* IN or OUT */
	unsigned count;
	void (*at)(struct job *j, unsigned k, u64 *sector, u32 *nsec);
	const u64 *points;		/* single sectors (at_point) */
	u64 first, last;		/* sector range in CHUNK steps (at_range) */
	u64 seed;
	bool alt_indirect;		/* every other request through an indirect table */
	bool kick_each;			/* kick after every request, not once per batch */
	bool no_verify;			/* reads of a read-only disk: status only */
	u64 done;			/* requests completed */
	char *why;
};

static void at_point(struct job *j, unsigned k, u64 *sector, u32 *nsec)
{
	*sector = j->points[k];
	*nsec = 1;
}

static void at_range(struct job *j, unsigned k, u64 *sector, u32 *nsec)
{
	*sector = j->first + (u64)k * (CHUNK / SECTOR_SIZE);
	*nsec = MIN((u64)CHUNK / SECTOR_SIZE, j->last - *sector);
}

static bool finish_slot(struct job *j, struct slot *s)
{
	int st = *(volatile u8 *)s->io->status_at;
	char *why = j->why;
	long bad;

	s->busy = false;
	j->done++;
	if (st != VIRTIO_BLK_S_OK)
		fail("%s of %u sectors at %lu: %s (%d)", j->type ? "write" : "read", s->nsec,
		     s->sector, blk_status_name(st), st);
	if (s->io->used_len > s->io->writable)
		fail("%s at %lu: used len %u, but only %u bytes were writable",
		     j->type ? "write" : "read", s->sector, s->io->used_len, s->io->writable);
	if (j->type == VIRTIO_BLK_T_IN && !j->no_verify &&
	    (bad = check(s->buf, s->sector, s->nsec, j->seed)) >= 0)
		fail("read at sector %lu: sector %lu word %ld is %016lx, wrote %016lx",
		     s->sector, s->sector + bad / 64, bad % 64, ((u64 *)s->buf)[bad],
		     mix(j->seed ^ (s->sector * 64 + bad)));
	return true;
}

static bool run_job_once(unsigned qi, struct job *j);

static bool run_job(unsigned qi, struct job *j)
{
	if (run_job_once(qi, j))
		return true;
	stale = true;
	return false;
}

static bool run_job_once(unsigned qi, struct job *j)
{
	struct virtq *q = &blk.v.vq[qi];
	unsigned next = 0, inflight = 0;
	char *why = j->why;

	if (!alloc_slots(qi))
		fail("out of DMA memory for queue %u", qi);
	while (next < j->count || inflight) {
		for (unsigned s = 0; s < DEPTH && next < j->count; s++) {
			struct slot *sl = &slots[qi][s];
			unsigned flags = j->alt_indirect && (next & 1) ? BLK_IO_INDIRECT : 0;

			if (sl->busy)
				continue;
			j->at(j, next, &sl->sector, &sl->nsec);
			if (j->type == VIRTIO_BLK_T_OUT)
				fill(sl->buf, sl->sector, sl->nsec, j->seed);
			else
				memset(sl->buf, 0xa5, sl->nsec * SECTOR_SIZE);
			if (blk_submit(&blk, qi, sl->io, j->type, sl->sector, sl->buf,
				       sl->nsec * SECTOR_SIZE, segs_for(sl->nsec * SECTOR_SIZE),
				       flags) < 0) {
				/* Out of descriptors (a small queue): wait for some. */
				if (!inflight)
					fail("queue %u: cannot queue request %u", qi, next);
				break;
			}
			sl->busy = true;
			inflight++;
			next++;
			if (j->kick_each)
				vq_kick(q);
		}
		vq_kick(q);
		int r = vq_wait(q, BLK_TIMEOUT_US);

		if (r < 0)
			fail("queue %u: %s (%u in flight, used idx %u, last seen %u)", qi,
			     blk_status_name(r), inflight, q->used->idx, q->last_used);
		blk_reap(&blk, qi);
		for (unsigned s = 0; s < DEPTH; s++) {
			struct slot *sl = &slots[qi][s];

			if (sl->busy && sl->io->done) {
				inflight--;
				if (!finish_slot(j, sl))
					return false;
			}
		}
	}
	return true;
}

/* ---- blk-rw ---- */

static void print_device(void)
{
	struct blk_config *c = &blk.cfg;

	printf("  blk: %02x:%02x.%x, %s; features offered 0x%lx, accepted 0x%lx\n",
	       blk.v.bus, blk.v.dev, blk.v.fn, blk.v.note, blk.v.offered, blk.v.features);
	printf("  blk: %lu sectors (%lu KiB), blk_size %u, seg_max %u, size_max %u, "
	       "%u queues of %u (device has %u)\n",
	       c->capacity, c->capacity / 2, c->blk_size, c->seg_max, c->size_max, blk.nq,
	       blk.v.vq[0].size, c->num_queues);
	printf("  blk: %s, %s layout, EVENT_IDX %s, INDIRECT_DESC %s, MSI-X %u entries%s%s%s%s\n",
	       mode_name(), opts.merged ? "merged" : "split", blk.event_idx ? "on" : "off",
	       blk.indirect ? "on" : "off", blk.v.msix_entries, blk.ro ? ", read-only" : "",
	       blk.flush ? ", flush" : "", blk.discard ? ", discard" : "",
	       blk.write_zeroes ? ", write-zeroes" : "");
}

/*
 * Interrupts while polling mean the device ignored our suppression: none
 * with VIRTQ_AVAIL_F_NO_INTERRUPT. With EVENT_IDX one per queue set-up is
 * let through: QEMU always signals the first used buffer after a queue is
 * enabled (it has no previous decision to compare used_event against), and
 * 2.7.7.2 only says SHOULD NOT. `before` is the count at the set-up.
 */
static bool quiet_when_polling(unsigned qi, u64 before, char *why)
{
	u64 n = vq_irqs(&blk.v.vq[qi]) - before;

	if (!opts.irq && n > (blk.v.vq[qi].event_idx ? 1u : 0u))
		fail("queue %u: %lu interrupts with used-buffer notifications suppressed%s", qi, n,
		     blk.v.vq[qi].event_idx ? " (used_event far ahead)" : " (NO_INTERRUPT)");
	return true;
}

static bool test_blk_rw(char *why)
{
	static u64 points[2 * 4096 + 8];
	u64 cap, npoints = 0, x, irq0;
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
	for (u64 s = 0; s < cap && npoints + 2 <= ARRAY_SIZE(points) - 8; s += STRIPE / SECTOR_SIZE) {
		points[npoints++] = s;
		if (MIN(cap, s + STRIPE / SECTOR_SIZE) - 1 != s)
			points[npoints++] = MIN(cap, s + STRIPE / SECTOR_SIZE) - 1;
	}
	x = seed | 1;
	for (int i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		points[npoints++] = x % cap;
	}
	j = (struct job){ .type = VIRTIO_BLK_T_OUT, .count = npoints, .at = at_point,
			  .points = points, .seed = seed, .why = why };
	if (blk.ro) {
		/* Nothing may be written: read what is there, statuses only. */
		for (u64 k = 0; k < npoints; k++) {
			int st = do1(VIRTIO_BLK_T_IN, points[k], buf1, SECTOR_SIZE, 1, 0);

			if (st != VIRTIO_BLK_S_OK)
				fail("read-only disk: read of sector %lu: %s", points[k], blk_status_name(st));
		}
		printf("  blk-rw: read-only disk: %lu single-sector reads OK, nothing written\n", npoints);
		return quiet_when_polling(0, irq0, why);
	}
	if (!run_job(0, &j))
		return false;
	j.type = VIRTIO_BLK_T_IN;
	j.done = 0;
	if (!run_job(0, &j))
		return false;
	printf("  blk-rw: %lu single sectors (first and last of every MiB, 8 random) "
	       "written and verified\n", npoints);
	if (cap * SECTOR_SIZE <= FULL_PASS_MAX) {
		unsigned n = (cap + CHUNK / SECTOR_SIZE - 1) / (CHUNK / SECTOR_SIZE);

		j = (struct job){ .type = VIRTIO_BLK_T_OUT, .count = n, .at = at_range, .first = 0,
				  .last = cap, .seed = seed ^ 1, .alt_indirect = blk.indirect,
				  .why = why };
		if (!run_job(0, &j))
			return false;
		j.type = VIRTIO_BLK_T_IN;
		if (!run_job(0, &j))
			return false;
		printf("  blk-rw: full pass: %u requests of up to %u KiB in %u segments each way%s\n",
		       n, CHUNK / 1024, segs_for(CHUNK),
		       blk.indirect ? ", every other one indirect" : "");
	}
	printf("  blk-rw: queue 0: %lu notifications, %lu suppressed, %lu interrupts\n",
	       q->kicks, q->kicks_skipped, vq_irqs(q) - irq0);
	return quiet_when_polling(0, irq0, why);
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
	printf("  blk-flush: flush OK (used len %u)\n", io1->used_len);
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
	       name, nsec, s, all_zero(buf2, nsec * SECTOR_SIZE) ? "zeros" :
	       check(buf2, s, nsec, seed ^ 3) < 0 ? "the old data" : "other data", max,
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

struct mq_work {
	unsigned cpu;
	u64 requests;
	bool ok;
	char why[WHY_LEN];
};

static struct mq_work mq_work[MAX_CPUS];

/* Every queue aimed at this CPU: write its slice, read it back. */
static long mq_worker(void *arg)
{
	struct mq_work *w = arg;
	u64 slice = blk.cfg.capacity / blk.nq;

	user_irqs(true);
	w->ok = true;
	for (unsigned qi = 0; qi < blk.nq && w->ok; qi++) {
		u64 nsec = MIN(slice, 16ULL * CHUNK / SECTOR_SIZE);
		struct job j = { .type = VIRTIO_BLK_T_OUT, .at = at_range, .first = qi * slice,
				 .last = qi * slice + nsec, .seed = seed ^ (0x100 + qi),
				 .no_verify = blk.ro, .why = w->why };

		if (blk.v.vq[qi].cpu != w->cpu)
			continue;
		j.count = (nsec + CHUNK / SECTOR_SIZE - 1) / (CHUNK / SECTOR_SIZE);
		w->ok = blk.ro || run_job(qi, &j);
		if (w->ok) {
			j.type = VIRTIO_BLK_T_IN;
			w->ok = run_job(qi, &j);
		}
		w->requests += j.done;
	}
	user_irqs(false);
	return 0;
}

static bool test_blk_mq(char *why)
{
	u64 before[VIRTIO_MAX_QUEUES][MAX_CPUS], kicks[VIRTIO_MAX_QUEUES][3];

	if (!ready(why))
		return false;
	if (blk.nq < 2) {
		printf("  blk-mq: %u queue%s (num_queues %u): nothing to spread\n", blk.nq,
		       blk.nq == 1 ? "" : "s", blk.cfg.num_queues);
		return true;
	}
	for (unsigned qi = 0; qi < blk.nq; qi++) {
		kicks[qi][0] = blk.v.vq[qi].kicks;
		kicks[qi][1] = blk.v.vq[qi].kicks_skipped;
		kicks[qi][2] = blk.v.vq[qi].sleeps;
		for (unsigned c = 0; c < smp.ncpus; c++)
			before[qi][c] = irq_count(c, blk.v.vq[qi].vec % NR_DEV_VECS);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		mq_work[c] = (struct mq_work){ .cpu = c };
	for (unsigned c = 1; c < smp.ncpus; c++)
		if (smp.cpus[c].online && !smp_start(c, mq_worker, &mq_work[c]))
			fail("cpu %u cannot take work", c);
	mq_worker(&mq_work[0]);
	user_irqs(true);	/* mq_worker turned them off on the way out */
	for (unsigned c = 1; c < smp.ncpus; c++) {
		long r;

		if (smp.cpus[c].online && !smp_wait(c, 60000000, &r))
			fail("cpu %u did not finish", c);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (!mq_work[c].ok && smp.cpus[c].online)
			fail("cpu %u: %s", c, mq_work[c].why);
	for (unsigned qi = 0; qi < blk.nq; qi++) {
		struct virtq *q = &blk.v.vq[qi];
		u64 mine = 0, others = 0;

		for (unsigned c = 0; c < smp.ncpus; c++) {
			u64 n = irq_count(c, q->vec % NR_DEV_VECS) - before[qi][c];

			if (c == q->cpu)
				mine += n;
			else
				others += n;
		}
		u64 sleeps = q->sleeps - kicks[qi][2];

		printf("  blk-mq: queue %u on cpu %u (APIC id %u): %lu notifications, %lu suppressed, "
		       "%lu interrupts there (%lu waited for), %lu elsewhere\n", qi, q->cpu,
		       smp.cpus[q->cpu].apic_id, q->kicks - kicks[qi][0],
		       q->kicks_skipped - kicks[qi][1], mine, sleeps, others);
		if (q->vec >= NR_DEV_VECS)
			continue;
		if (others)
			fail("queue %u: %lu interrupts reached CPUs other than %u", qi, others, q->cpu);
		/* Without EVENT_IDX every batch interrupts; with it only the
		 * waits ask for one (used_event), and each wait got its own. */
		if (opts.irq && (q->event_idx ? mine < sleeps : !mine))
			fail("queue %u: %lu interrupts on cpu %u for %lu waits", qi, mine, q->cpu, sleeps);
		if (!opts.irq && mine > (q->event_idx && qi ? 1u : 0u))
			fail("queue %u: %lu interrupts while polling", qi, mine);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (mq_work[c].requests)
			printf("  blk-mq: cpu %u: %lu requests %s\n", c, mq_work[c].requests,
			       blk.ro ? "read (read-only disk)" : "verified");
	return true;
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
	struct blk_opts o = opts;
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
		struct job j = { .type = VIRTIO_BLK_T_OUT, .at = at_range,
				 .count = (span + CHUNK / SECTOR_SIZE - 1) / (CHUNK / SECTOR_SIZE),
				 .first = s, .last = s + span,
				 .seed = seed ^ 17, .kick_each = true, .why = why };

		if (!run_job(0, &j))
			return false;
		j.type = VIRTIO_BLK_T_IN;
		if (!run_job(0, &j))
			return false;
		n += j.done;
	}
	kicks = q->kicks;
	skipped = q->kicks_skipped;
	irqs = vq_irqs(q) - irq0;
	printf("  blk-event-idx: EVENT_IDX %-3s %s: %lu requests, %lu notifications "
	       "(%lu suppressed), %lu interrupts (%lu waited for)\n", on ? "on," : "off,",
	       mode_name(), n, kicks, skipped, irqs, q->sleeps);
	if (!kicks)
		fail("EVENT_IDX %s: not a single notification was needed?", on ? "on" : "off");
	if (opts.irq && (irqs < q->sleeps || irqs > n))
		fail("EVENT_IDX %s: %lu interrupts for %lu requests and %lu waits", on ? "on" : "off",
		     irqs, n, q->sleeps);
	return quiet_when_polling(0, irq0, why);
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
	u64 end, cfg0;
	bool needs_reset = false;
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
	end = time_us() + 2000000;
	for (unsigned i = 0; !vq_has_used(q); i++) {
		/* A status read is an exit: look only now and then. */
		if (!(i % 4096) && (virtio_status(&blk.v) & VIRTIO_S_NEEDS_RESET)) {
			needs_reset = true;
			break;
		}
		if (time_us() > end)
			fail("%s: no used entry and no DEVICE_NEEDS_RESET after 2 s (status 0x%x)",
			     bad_names[kind], virtio_status(&blk.v));
		cpu_relax();
	}
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
	char first_bad[WHY_LEN];
	unsigned nbad = 0;
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
	/* Every kind, so one run shows each outcome; the first failure is
	 * the case's. */
	for (int k = 0; k < BAD_COUNT; k++) {
		char w[WHY_LEN];

		if (k == BAD_INDIRECT_OUTSIDE && !blk.indirect)
			continue;
		if (!malformed_one(k, data, w)) {
			printf("  blk-malformed: %s\n", w);
			if (!nbad++)
				memcpy(first_bad, w, WHY_LEN);
		}
	}
	if (nbad)
		fail("%u of the malformed requests mishandled; first: %s", nbad, first_bad);
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

const struct test_case *blk_cases(unsigned *n)
{
	for (unsigned i = 0; i < pci.ndevs; i++)
		if (pci.devs[i].vendor == VIRTIO_PCI_VENDOR &&
		    pci.devs[i].device == VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_BLOCK) {
			*n = ARRAY_SIZE(cases);
			return cases;
		}
	*n = cmdline_is("blk", "1") ? ARRAY_SIZE(cases) : 0;
	return cases;
}

void blk_cases_end(void)
{
	/* Leave the device quiet and interrupts off for the cases after us. */
	if (usable)
		virtio_reset(&blk.v);
	user_irqs(false);
}
