// SPDX-License-Identifier: Apache-2.0
/*
 * mode=bench: 4 KiB random reads and/or writes over the whole disk for a
 * fixed time, a fixed number of requests in flight on each queue, each
 * queue driven by its own CPU in ring 3. One result line:
 *
 *   BENCH iface=blk rw=read qd=32 queues=1 iops=123456 lat_us=12.3 ios=N secs=S
 *
 * Command line:
 *   bench_iface=blk|scsi       the driver (disk.h)
 *   bench_rw=read|write|mix    mix: each request a read with probability 70%
 *   bench_qd=N                 requests in flight per queue, 1-256 (default 1)
 *   bench_queues=N             queues, one CPU each (default 1)
 *   bench_secs=N               measured seconds (default 3)
 *   blk_wait=irq|poll, event_idx=, indirect=, layout=   as for the blk-* cases
 *
 * The ring stays full: every pass reaps all completions, resubmits a
 * request for each at once, and publishes them with one kick, which
 * vq_kick() skips when EVENT_IDX or NO_NOTIFY says the device is still
 * looking. Every queue starts at the same TSC and counts the requests that
 * complete before the same end; those still in flight then are drained and
 * not counted. lat_us is the mean time from a request's submission to the
 * pass that reaps it (at qd=1 the completion latency). Times come from the
 * TSC, calibrated against the PM timer (time.c).
 */
#include "modes.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "disk.h"
#include "smp.h"
#include "tests.h"
#include "time.h"
#include "virtio_pci.h"

#define BLOCK		4096
#define MIX_READ_PCT	70

enum rw { RW_READ, RW_WRITE, RW_MIX };
static const char *const rw_names[] = { "read", "write", "mix" };

struct bench_q {
	unsigned q, cpu;
	u64 rng;
	u64 ios, reads, writes;	/* completed inside the window */
	u64 lat;		/* TSC ticks, summed over those */
	bool ok;
	char why[WHY_LEN];
	struct disk_req req[DISK_MAX_DEPTH];
};

static struct disk disk;
static struct bench_q queues[DISK_MAX_QUEUES];
static enum rw rw;
static unsigned qd;
static u64 nblocks, t_start, t_end;

/* Next request of w: a random 4 KiB block, read or write as rw says. */
static void pick(struct bench_q *w, struct disk_req *r)
{
	u64 x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	r->offset = (x % nblocks) * BLOCK;
	if (rw == RW_MIX)
		r->op = (x >> 40) % 100 < MIX_READ_PCT ? DISK_READ : DISK_WRITE;
	else
		r->op = rw == RW_READ ? DISK_READ : DISK_WRITE;
}

static bool submit(struct bench_q *w, struct disk_req *r, u64 now)
{
	pick(w, r);
	r->t_submit = now;
	if (disk.ops->submit(&disk, w->q, r))
		return true;
	snprintf(w->why, WHY_LEN, "queue %u: the ring took fewer than %u requests", w->q, qd);
	return false;
}

/* One queue, on its own CPU, in ring 3. */
static long worker(void *arg)
{
	struct bench_q *w = arg;
	struct disk_req *r;
	unsigned inflight = 0;
	bool stop = false;
	u64 now;

	if (disk.irq)
		user_irqs(true);
	while ((now = rdtsc()) < t_start)
		cpu_relax();
	for (unsigned i = 0; i < qd && submit(w, &w->req[i], now); i++)
		inflight++;
	stop = inflight < qd;
	disk.ops->kick(&disk, w->q);
	while (inflight) {
		int st = disk.ops->wait(&disk, w->q, DISK_TIMEOUT_US);

		if (st < 0) {
			snprintf(w->why, WHY_LEN, "queue %u: %s, %u requests in flight", w->q,
				 st == -1 ? "no completion for 5 s" : "a completion came without its interrupt",
				 inflight);
			return 0;	/* w->ok stays false: the device may still own the buffers */
		}
		now = rdtsc();
		while ((r = disk.ops->complete(&disk, w->q))) {
			inflight--;
			if (!r->ok && !stop) {
				snprintf(w->why, WHY_LEN, "queue %u: %s at byte %lu: %s (%d)", w->q,
					 r->op == DISK_READ ? "read" : "write", r->offset,
					 disk.ops->status_name(r->status), r->status);
				stop = true;
			}
			if (now >= t_end || stop)
				continue;
			w->ios++;
			w->lat += now - r->t_submit;
			if (r->op == DISK_READ)
				w->reads++;
			else
				w->writes++;
			if (!submit(w, r, now))
				stop = true;
			else
				inflight++;
		}
		disk.ops->kick(&disk, w->q);
	}
	w->ok = !w->why[0];
	return 0;
}

/* x * num / den for the figures, without overflowing 64 bits as long as
 * x * num does not. */
static u64 scale(u64 x, u64 num, u64 den)
{
	return den ? x * num / den : 0;
}

bool bench_run(void)
{
	char iface[16] = "blk", rws[16] = "read", why[WHY_LEN];
	u64 nq = 1, depth = 1, secs = 3, ios = 0, lat = 0, ticks, lat_10th;
	int r;

	cmdline_get("bench_iface", iface, sizeof(iface));
	if (cmdline_get("bench_rw", rws, sizeof(rws))) {
		for (rw = RW_READ; rw <= RW_MIX && strcmp(rws, rw_names[rw]); rw++)
			;
		if (rw > RW_MIX) {
			printf("FAIL bench: bench_rw=%s: expected read, write or mix\n", rws);
			return false;
		}
	}
	if (!cmdline_num("bench", "bench_qd", 1, DISK_MAX_DEPTH, &depth) ||
	    !cmdline_num("bench", "bench_queues", 1, DISK_MAX_QUEUES, &nq) ||
	    !cmdline_num("bench", "bench_secs", 1, 3600, &secs))
		return false;
	qd = depth;
	r = disk_open(&disk, iface, qd, why, sizeof(why));
	if (r <= 0) {
		printf("FAIL bench: %s\n", r ? why : "no disk of that interface found");
		return false;
	}
	disk.ops->describe(&disk, "bench: ");
	nblocks = disk.size / BLOCK;
	if (!nblocks) {
		printf("FAIL bench: the disk is smaller than one 4 KiB block\n");
		return false;
	}
	if (rw != RW_READ && disk.ro) {
		printf("FAIL bench: bench_rw=%s on a read-only disk\n", rw_names[rw]);
		return false;
	}
	if (nq > disk.nqueues) {
		printf("FAIL bench: bench_queues=%lu, the device has %u\n", nq, disk.nqueues);
		return false;
	}
	for (unsigned i = 0; i < nq; i++) {
		for (unsigned k = 0; k < i; k++)
			if (disk.cpu[k] == disk.cpu[i]) {
				printf("FAIL bench: bench_queues=%lu needs as many CPUs, %u online\n",
				       nq, smp.online);
				return false;
			}
	}
	if (!tsc_calibrated)
		printf("bench: no PM timer: the TSC rate is a guess, so are the figures\n");
	for (unsigned i = 0; i < nq; i++) {
		struct bench_q *w = &queues[i];
		/* Page-aligned buffers, as a host O_DIRECT path wants them. */
		u64 stride = BLOCK + ALIGN_UP(disk.buf_guard, PAGE_SIZE);
		u8 *bufs = dma_alloc((qd + 1) * stride, PAGE_SIZE);

		w->q = i;
		w->cpu = disk.cpu[i];
		w->rng = disk_mix(rdtsc() ^ (0x62656e6368ULL + i)) | 1;
		for (unsigned k = 0; k < qd; k++) {
			struct disk_req *rq = &w->req[k];

			rq->len = BLOCK;
			/* the guard in front of the first one too */
			rq->buf = bufs + (stride - BLOCK) + k * stride;
			if (!bufs || !disk.ops->req_init(&disk, rq)) {
				printf("FAIL bench: out of DMA memory at queue %u request %u\n", i, k);
				return false;
			}
			for (unsigned j = 0; j < BLOCK / 8; j++)
				((u64 *)rq->buf)[j] = disk_mix(i << 24 ^ k << 12 ^ j);
		}
	}
	/* Everyone starts together, a moment after the APs are woken. */
	t_start = rdtsc() + tsc_hz / 10;
	t_end = t_start + secs * tsc_hz;
	for (unsigned i = 1; i < nq; i++)
		if (!smp_start(queues[i].cpu, worker, &queues[i])) {
			printf("FAIL bench: cpu %u cannot take queue %u\n", queues[i].cpu, i);
			return false;
		}
	worker(&queues[0]);
	for (unsigned i = 1; i < nq; i++) {
		long ret;

		if (!smp_wait(queues[i].cpu, (secs + 30) * 1000000, &ret)) {
			printf("FAIL bench: cpu %u never finished queue %u\n", queues[i].cpu, i);
			return false;
		}
	}
	for (unsigned i = 0; i < nq; i++) {
		struct bench_q *w = &queues[i];
		u64 kicks, skipped, irqs;

		if (!w->ok) {
			printf("FAIL bench: %s\n", w->why);
			return false;
		}
		disk.ops->counters(&disk, i, &kicks, &skipped, &irqs);
		printf("bench: queue %u on cpu %u: %lu reads, %lu writes; %lu notifications, "
		       "%lu suppressed, %lu interrupts\n", i, w->cpu, w->reads, w->writes, kicks,
		       skipped, irqs);
		ios += w->ios;
		lat += w->lat;
	}
	ticks = t_end - t_start;
	lat_10th = ios ? scale(lat / ios, 10000000, tsc_hz) : 0;
	printf("BENCH iface=%s rw=%s qd=%u queues=%lu iops=%lu lat_us=%lu.%lu ios=%lu secs=%lu.%02lu\n",
	       disk.ops->iface, rw_names[rw], qd, nq, scale(ios, tsc_hz, ticks), lat_10th / 10,
	       lat_10th % 10, ios, ticks / tsc_hz, scale(ticks % tsc_hz, 100, tsc_hz));
	return true;
}
