// SPDX-License-Identifier: Apache-2.0
/* What the blk-* and scsi-* cases share: see tests_disk.h. */
#include "tests_disk.h"
#include "console.h"
#include "cpu.h"
#include "disk.h"		/* disk_mix() */
#include "smp.h"
#include "time.h"

/* ---- finding and starting the device ---- */

bool dev_ready(struct case_dev *cd, char *why)
{
	if (!cd->probed) {
		char w[WHY_LEN];
		int r;

		cd->probed = true;
		r = cd->probe(cd->probe_why, sizeof(cd->probe_why));
		if (r == 0)
			snprintf(cd->probe_why, sizeof(cd->probe_why), "%s", cd->none);
		if (r > 0) {
			cd->usable = true;
			user_irqs(true);
			if (!cd->restart(w) || (cd->learn && !cd->learn(w))) {
				cd->usable = false;
				snprintf(cd->probe_why, sizeof(cd->probe_why), "set-up: %s", w);
			}
		}
	}
	if (!cd->usable)
		fail("%s", cd->probe_why);
	if (*cd->bulk->stale) {
		/* Start clean: the reset takes back whatever was in flight. */
		*cd->bulk->stale = false;
		forget_slots(cd->bulk);
		if (!cd->restart(why))
			return false;
	}
	if (virtio_status(cd->v) & (VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED))
		fail("device status 0x%x", virtio_status(cd->v));
	return true;
}

bool dev_down(struct case_dev *cd, const char *why)
{
	cd->usable = false;
	snprintf(cd->probe_why, sizeof(cd->probe_why), "%s", why);
	return false;
}

void print_found(const char *iface, const struct virtio_dev *v)
{
	printf("  %s: %02x:%02x.%x, %s; features offered 0x%lx, accepted 0x%lx\n", iface, v->bus,
	       v->dev, v->fn, v->note, v->offered, v->features);
}

const char *wait_name(const struct virtio_opts *o)
{
	return o->irq ? "interrupts" : "polling";
}

/* ---- data patterns ---- */

u64 run_seed(u64 salt)
{
	return disk_mix(rdtsc() ^ salt);
}

u64 pattern_word(u64 seed, unsigned t, u64 off, u64 i)
{
	return disk_mix(seed ^ (u64)t << 56 ^ (off / 8 + i));
}

void pattern_fill(void *buf, unsigned t, u64 off, u32 len, u64 seed)
{
	u64 *p = buf;

	for (u64 i = 0; i < len / 8; i++)
		p[i] = pattern_word(seed, t, off, i);
}

long pattern_check(const void *buf, unsigned t, u64 off, u32 len, u64 seed)
{
	const u64 *p = buf;

	for (u64 i = 0; i < len / 8; i++)
		if (p[i] != pattern_word(seed, t, off, i))
			return i;
	return -1;
}

bool all_zero(const void *buf, u32 len)
{
	const u64 *p = buf;

	for (u32 i = 0; i < len / 8; i++)
		if (p[i])
			return false;
	return true;
}

const char *what_is_there(const void *buf, unsigned t, u64 off, u32 len, u64 seed)
{
	if (all_zero(buf, len))
		return "zeros";
	return pattern_check(buf, t, off, len, seed) < 0 ? "the old data" : "other data";
}

u64 make_points(u64 cap, u32 bs, u64 seed, u64 *points, u64 max)
{
	u64 per = STRIPE / bs, n = 0, x = seed | 1;

	for (u64 s = 0; s < cap && n + 2 <= max - 8; s += per) {
		points[n++] = s;
		if (MIN(cap, s + per) - 1 != s)
			points[n++] = MIN(cap, s + per) - 1;
	}
	for (int i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		points[n++] = x % cap;
	}
	return n;
}

unsigned chunks(u64 n, u32 bs)
{
	u32 per = CHUNK / bs;

	return (n + per - 1) / per;
}

/* ---- the bulk engine ---- */

bool alloc_slots(const struct bulk_dev *d, unsigned qi)
{
	for (unsigned s = 0; s < DEPTH; s++)
		if (!d->slots[qi][s].req && !d->alloc(&d->slots[qi][s]))
			return false;
	return true;
}

void forget_slots(const struct bulk_dev *d)
{
	for (unsigned qi = 0; qi < VIRTIO_MAX_QUEUES; qi++)
		for (unsigned s = 0; s < DEPTH; s++)
			d->slots[qi][s].busy = false;
}

/* Where request k of j goes: round the targets, then the next point or
 * the next CHUNK of the range. */
static void place(const struct bulk_dev *d, const struct job *j, unsigned k, struct slot *s)
{
	u32 per;

	s->target = j->ntgt > 1 ? k % j->ntgt : 0;
	k = j->ntgt > 1 ? k / j->ntgt : k;
	if (j->points) {
		s->lba = j->points[k];
		s->nblk = 1;
		return;
	}
	per = CHUNK / d->block_size(s->target);
	s->lba = j->first + (u64)k * per;
	s->nblk = MIN((u64)per, j->last - s->lba);
}

static bool slot_done(const struct slot *s)
{
	const struct vq_req *r = s->req;

	return r->done;
}

static bool run_job_once(const struct bulk_dev *d, unsigned qi, struct job *j)
{
	struct virtq *q = d->queue(qi);
	unsigned next = 0, inflight = 0;
	char *why = j->why;

	if (!alloc_slots(d, qi))
		fail("out of DMA memory for queue %u", qi);
	while (next < j->count || inflight) {
		for (unsigned s = 0; s < DEPTH && next < j->count; s++) {
			struct slot *sl = &d->slots[qi][s];
			u32 bs;

			if (sl->busy)
				continue;
			place(d, j, next, sl);
			bs = d->block_size(sl->target);
			if (j->write)
				pattern_fill(sl->buf, sl->target, sl->lba * bs, sl->nblk * bs, j->seed);
			else
				memset(sl->buf, 0xa5, sl->nblk * bs);
			if (!d->submit(qi, j, next, sl, j->alt_indirect && (next & 1))) {
				/* Out of descriptors (a small queue): wait for some. */
				if (!inflight)
					fail("queue %u: cannot queue %s %u", qi, d->what, next);
				break;
			}
			sl->busy = true;
			inflight++;
			next++;
			if (j->kick_each)
				vq_kick(q);
		}
		vq_kick(q);
		int r = vq_wait(q, VQ_TIMEOUT_US);

		if (r < 0)
			fail("queue %u: %s (%u in flight, used idx %u, last seen %u)", qi,
			     vq_error_name(r), inflight, q->used->idx, q->last_used);
		vq_reap(q);
		for (unsigned s = 0; s < DEPTH; s++) {
			struct slot *sl = &d->slots[qi][s];

			if (sl->busy && slot_done(sl)) {
				sl->busy = false;
				inflight--;
				j->done++;
				if (!d->check(j, sl))
					return false;
			}
		}
	}
	return true;
}

bool run_job(const struct bulk_dev *d, unsigned qi, struct job *j)
{
	if (run_job_once(d, qi, j))
		return true;
	*d->stale = true;
	return false;
}

bool write_read_job(const struct bulk_dev *d, unsigned qi, struct job *j, bool read_only)
{
	if (!read_only) {
		j->write = true;
		if (!run_job(d, qi, j))
			return false;
	}
	j->write = false;
	return run_job(d, qi, j);
}

bool quiet_when_polling(struct virtq *q, bool irq, u64 before, bool say, char *why)
{
	u64 n = vq_irqs(q) - before;

	if (!irq && n > (q->event_idx ? 1u : 0u))
		fail("queue %u: %lu interrupts with used-buffer notifications suppressed%s", q->index,
		     n, !say ? "" : q->event_idx ? " (used_event far ahead)" : " (NO_INTERRUPT)");
	return true;
}

/* ---- blk-mq, scsi-mq ---- */

struct mq_work {
	const struct mq_case *m;
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
	const struct mq_case *m = w->m;
	u32 bs = m->d->block_size(0);
	u64 slice = m->nblocks / m->nq;

	user_irqs(true);
	w->ok = true;
	for (unsigned qi = 0; qi < m->nq && w->ok; qi++) {
		u64 n = MIN(slice, 16ULL * CHUNK / bs);
		struct job j = { .count = chunks(n, bs), .first = qi * slice, .last = qi * slice + n,
				 .seed = m->seed ^ (0x100 + qi), .no_verify = m->ro, .why = w->why };

		if (m->d->queue(qi)->cpu != w->cpu)
			continue;
		w->ok = write_read_job(m->d, qi, &j, m->ro);
		w->requests += j.done;
	}
	user_irqs(false);
	return 0;
}

/* Queue qi since mq_run() began. */
static void mq_counts(const struct mq_case *m, unsigned qi, struct mq_queue *s)
{
	struct virtq *q = m->d->queue(qi);

	*s = (struct mq_queue){ .q = q, .kicks = q->kicks - m->kicks[qi],
				.skipped = q->kicks_skipped - m->skipped[qi],
				.sleeps = q->sleeps - m->sleeps[qi] };
	for (unsigned c = 0; c < smp.ncpus; c++) {
		u64 n = irq_count(c, q->vec % NR_DEV_VECS) - m->irqs[qi][c];

		if (c == q->cpu)
			s->mine += n;
		else
			s->others += n;
	}
}

bool mq_run(struct mq_case *m, char *why)
{
	for (unsigned qi = 0; qi < m->nq; qi++) {
		struct virtq *q = m->d->queue(qi);

		m->kicks[qi] = q->kicks;
		m->skipped[qi] = q->kicks_skipped;
		m->sleeps[qi] = q->sleeps;
		for (unsigned c = 0; c < smp.ncpus; c++)
			m->irqs[qi][c] = irq_count(c, q->vec % NR_DEV_VECS);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		mq_work[c] = (struct mq_work){ .m = m, .cpu = c };
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
	for (unsigned qi = 0; qi < m->nq; qi++) {
		struct mq_queue s;

		mq_counts(m, qi, &s);
		m->print(qi, &s);
		if (s.q->vec >= NR_DEV_VECS)
			continue;
		if (s.others)
			fail("queue %u: %lu interrupts reached CPUs other than %u", qi, s.others,
			     s.q->cpu);
		/* Without EVENT_IDX every batch interrupts; with it only the
		 * waits ask for one (used_event), and each wait got its own. */
		if (m->irq && (s.q->event_idx ? s.mine < s.sleeps : !s.mine))
			fail("queue %u: %lu interrupts on cpu %u for %lu waits", qi, s.mine, s.q->cpu,
			     s.sleeps);
		if (!m->irq && s.mine > (s.q->event_idx && qi ? 1u : 0u))
			fail("queue %u: %lu interrupts while polling", qi, s.mine);
	}
	for (unsigned c = 0; c < smp.ncpus; c++)
		if (mq_work[c].requests)
			printf("  %s: cpu %u: %lu %ss %s\n", m->name, c, mq_work[c].requests,
			       m->d->what, m->ro ? "read (read-only disk)" : "verified");
	return true;
}

/* ---- blk-malformed, scsi-malformed ---- */

bool malformed_wait(struct virtq *q, const char *name, bool *needs_reset, char *why)
{
	u64 end = time_us() + 2000000;

	*needs_reset = false;
	for (unsigned i = 0; !vq_has_used(q); i++) {
		/* A status read is an exit: look only now and then. */
		if (!(i % 4096) && (virtio_status(q->dev) & VIRTIO_S_NEEDS_RESET)) {
			*needs_reset = true;
			break;
		}
		if (time_us() > end)
			fail("%s: no used entry and no DEVICE_NEEDS_RESET after 2 s (status 0x%x)", name,
			     virtio_status(q->dev));
		cpu_relax();
	}
	return true;
}

bool malformed_all(const char *name, unsigned nkinds, int skip,
		   bool (*one)(int kind, u8 *data, char *why), u8 *data, char *why)
{
	char first_bad[WHY_LEN];
	unsigned nbad = 0;

	/* Every kind, so one run shows each outcome; the first failure is
	 * the case's. */
	for (int k = 0; k < (int)nkinds; k++) {
		char w[WHY_LEN];

		if (k == skip)
			continue;
		if (!one(k, data, w)) {
			printf("  %s: %s\n", name, w);
			if (!nbad++)
				memcpy(first_bad, w, WHY_LEN);
		}
	}
	if (nbad)
		fail("%u of the malformed requests mishandled; first: %s", nbad, first_bad);
	return true;
}
