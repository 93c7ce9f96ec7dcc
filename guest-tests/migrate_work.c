// SPDX-License-Identifier: Apache-2.0
/*
 * mode=migrate-work: a guest to live-migrate. Every vCPU keeps rewriting
 * and re-verifying its slice of the free RAM, CPU 0 also keeps a
 * virtio-blk and a virtio-scsi disk busy (when present) and echoes UDP
 * datagrams off a host peer (when a NIC, ip= and peer= are given), and
 * the guest's clock is watched. Anything a migration got wrong shows up
 * as a FAIL line the next time the page, block or datagram is checked.
 *
 * Memory: the E820 RAM above the image, in 4 KiB pages, split into one
 * slice per online CPU. A slice starts with its generation table (a u32
 * per data page: the generation last written there, 0: not yet) and four
 * "hot" pages, then its data pages. Data page P with generation G holds:
 *     word 0  P (its physical address)    word 2  the run's nonce
 *     word 1  G                           word 3  checksum of the others
 *     words 4-511  seed + i * GOLDEN, seed a function of P, G and the nonce
 * The owner sweeps its slice over and over: it checks every page against
 * the table (a page older than the table is a write the migration lost,
 * a table older than the page likewise), then writes the next generation
 * as the dirty budget allows (dirty_mibs, MiB/s for the whole guest; the
 * first sweep fills without a budget). After every 64 pages it checks
 * that its four hot counters (one word in each hot page, rewritten every
 * time) agree with each other and with its own beat count: the pages a
 * migration must send last.
 *
 * Disks (virtio-blk, virtio-scsi) and the network (UDP echoes off a host
 * peer): migrate_io.c, driven from CPU 0's loop between its chunks.
 *
 * Clock: kvmclock when CPUID shows KVM's signature and a kvmclock MSR
 * (clock=tsc forces the TSC), else the TSC. Going backwards is an error;
 * a jump forward of more than 5 s is a note (migration downtime).
 *
 * Command line: work_secs=N (0, the default: forever), dirty_mibs=N|max
 * (default 64), ip=A.B.C.D/NN, peer=A.B.C.D:PORT, clock=tsc, and the disk
 * options (blk_wait, scsi_wait, ...). Every second CPU 0 prints
 *   MIGWORK t=S rounds=R pages_verified=V blk_ok=B scsi_ok=C net_ok=N errors=E
 *           written=W net_sent=X net_lost=L
 * (rounds: sweeps every CPU finished; the rest are totals), and at the
 * end "PASS migrate-work: ..." or "FAIL migrate-work: ..." (exit 0 or 1).
 */
#include "modes.h"
#include "migrate_work.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "disk.h"
#include "smp.h"
#include "tests.h"
#include "time.h"

#define WORDS		(PAGE_SIZE / 8)
#define GOLDEN		0x9e3779b97f4a7c15ULL
#define CHUNK		64		/* pages between hot-counter checks */
#define HOT		4
#define MAX_RANGES	64
#define SHOW_MAX	20		/* FAIL lines printed; the rest only counted */
#define JUMP_NOTE_NS	5000000000ULL
#define STALL_NS	30000000000ULL
#define MSR_KVMCLOCK_OLD 0x12
#define MSR_KVMCLOCK	0x4b564d01

struct range { u64 addr, pages, first; };

struct worker {
	unsigned cpu;
	u64 first, ntable, data_first, ndata;	/* page indices */
	u64 cursor, rate, tokens, refilled;	/* rate: pages/s, 0: no limit */
	u64 hot[HOT];				/* addresses of the hot words */
	u64 rounds, verified, written, beats;	/* read by CPU 0 */
	bool started;
};

static struct range ranges[MAX_RANGES];
static unsigned nranges;
static struct worker workers[MAX_CPUS];
static unsigned nworkers;
u64 mw_nonce;
static u32 stop_flag, errors, shown;

struct pvclock {
	u32 version, pad0;
	u64 tsc_timestamp, system_time;
	u32 mul;
	int8_t shift;
	u8 flags, pad[2];
};
static volatile struct pvclock pvclock __attribute__((aligned(64)));
static bool use_kvmclock;

/* ---- errors ---- */

void mw_bad(const char *fmt, ...)
{
	char line[200];
	va_list ap;

	__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&shown, 1, __ATOMIC_RELAXED) >= SHOW_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("FAIL migrate-work: %s\n", line);
}

u64 mw_ld(const u64 *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
void mw_st(u64 *p, u64 v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static bool stopping(void) { return __atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE); }

/* ---- the clock ---- */

static u64 tsc_ns(u64 t)
{
	return t / tsc_hz * 1000000000ULL + (t % tsc_hz) * 1000000000ULL / tsc_hz;
}

static u64 clock_ns(void)
{
	u32 v;
	u64 ns;

	if (!use_kvmclock)
		return tsc_ns(rdtsc());
	do {
		u64 delta;

		v = pvclock.version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		delta = rdtsc() - pvclock.tsc_timestamp;
		if (pvclock.shift >= 0)
			delta <<= pvclock.shift;
		else
			delta >>= -pvclock.shift;
		ns = pvclock.system_time + (u64)(((unsigned __int128)delta * pvclock.mul) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != pvclock.version);
	return ns;
}

/* kvmclock for CPU 0 (this CPU) if KVM offers it; what is used, in why. */
static void clock_init(char *why, size_t len)
{
	u32 a, b, c, d, base;

	snprintf(why, len, "tsc (%lu MHz%s): no KVM signature in CPUID", tsc_hz / 1000000,
		 tsc_calibrated ? "" : ", a guess");
	if (cmdline_is("clock", "tsc")) {
		snprintf(why, len, "tsc (%lu MHz): clock=tsc", tsc_hz / 1000000);
		return;
	}
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return;
	for (base = 0x40000000; base < 0x40010000; base += 0x100) {
		cpuid(base, 0, &a, &b, &c, &d);
		if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d)	/* "KVMKVMKVM\0\0\0" */
			break;
	}
	if (base >= 0x40010000)
		return;
	cpuid(base + 1, 0, &a, &b, &c, &d);
	u32 msr = a & (1u << 3) ? MSR_KVMCLOCK : a & 1 ? MSR_KVMCLOCK_OLD : 0;

	if (!msr) {
		snprintf(why, len, "tsc: KVM without kvmclock (features 0x%x)", a);
		return;
	}
	if (syscall3(SYS_WRMSR, msr, (u64)(uintptr_t)&pvclock | 1, 0) < 0) {
		snprintf(why, len, "tsc: the kvmclock MSR could not be written");
		return;
	}
	for (int i = 0; i < 1000000 && !pvclock.mul; i++)
		cpu_relax();
	if (!pvclock.mul) {
		snprintf(why, len, "tsc: kvmclock never filled in");
		return;
	}
	use_kvmclock = true;
	snprintf(why, len, "kvmclock (MSR 0x%x, flags 0x%x)", msr, pvclock.flags);
}

/* ---- page and block stamps ---- */

static u64 seed_of(u64 id, u64 gen)
{
	return disk_mix(id ^ mw_nonce) ^ disk_mix(gen + GOLDEN);
}

void mw_stamp(u64 *w, u64 id, u64 gen)
{
	u64 v = seed_of(id, gen), s1 = id + gen + mw_nonce, s2 = id ^ gen ^ mw_nonce;

	w[0] = id;
	w[1] = gen;
	w[2] = mw_nonce;
	for (unsigned i = 4; i < WORDS; i++) {
		v += GOLDEN;
		w[i] = v;
		s1 += v;
		s2 ^= v;
	}
	w[3] = s1 ^ (s2 << 32 | s2 >> 32);
}

/* Does w hold stamp (id, gen)? If not, why. */
bool mw_stamp_ok(const volatile u64 *w, u64 id, u64 gen, char *why, size_t len)
{
	u64 v = seed_of(id, gen), s1 = w[0] + w[1] + w[2], s2 = w[0] ^ w[1] ^ w[2];
	unsigned first = 0, nbad = 0;

	if (w[0] != id) {
		snprintf(why, len, "holds 0x%lx's stamp, generation %lu", w[0], w[1]);
		return false;
	}
	if (w[2] != mw_nonce) {
		snprintf(why, len, "mw_nonce %lx, not this run's %lx (never written by it)", w[2], mw_nonce);
		return false;
	}
	if (w[1] != gen) {
		snprintf(why, len, "generation %lu where %lu was written last (%s)", w[1], gen,
			 w[1] < gen ? "stale: a lost write" : "newer than the record: a lost record");
		return false;
	}
	for (unsigned i = 4; i < WORDS; i++) {
		u64 x = w[i];

		v += GOLDEN;
		s1 += x;
		s2 ^= x;
		if (x != v && !nbad++)
			first = i;
	}
	if (nbad) {
		snprintf(why, len, "generation %lu but %u words wrong, first word %u", gen, nbad, first);
		return false;
	}
	if (w[3] != (s1 ^ (s2 << 32 | s2 >> 32))) {
		snprintf(why, len, "generation %lu, checksum word wrong", gen);
		return false;
	}
	return true;
}

/* ---- memory ---- */

static u64 page_addr(u64 idx)
{
	for (unsigned i = 0; i < nranges; i++)
		if (idx < ranges[i].first + ranges[i].pages)
			return ranges[i].addr + (idx - ranges[i].first) * PAGE_SIZE;
	return 0;
}

static u32 *gen_slot(struct worker *w, u64 j)
{
	return phys(page_addr(w->first + j / 1024) + (j % 1024) * 4);
}

/* Free RAM: E820 RAM above our image and below MAPPED_LIMIT, no modules. */
static u64 find_ranges(void)
{
	u64 total = 0;

	for (unsigned i = 0; i < boot.nmap && nranges < MAX_RANGES; i++) {
		const struct mem_range *r = &boot.map[i];
		u64 s = ALIGN_UP(MAX(r->addr, (u64)(uintptr_t)_image_end), PAGE_SIZE);
		u64 e = MIN(r->addr + r->size, MAPPED_LIMIT) & ~(u64)(PAGE_SIZE - 1);

		if (r->type != E820_RAM)
			continue;
		for (unsigned m = 0; m < boot.nmods; m++) {
			u64 ms = boot.mods[m].addr, me = ms + boot.mods[m].size;

			if (ms < e && me > s) {
				if (ms > s)
					e = ms & ~(u64)(PAGE_SIZE - 1);
				else
					s = ALIGN_UP(me, PAGE_SIZE);
			}
		}
		if (e <= s)
			continue;
		ranges[nranges] = (struct range){ s, (e - s) / PAGE_SIZE, total };
		total += ranges[nranges++].pages;
	}
	return total;
}

static void check_hot(struct worker *w)
{
	u64 h[HOT], beats = mw_ld(&w->beats);

	for (unsigned k = 0; k < HOT; k++)
		h[k] = *(volatile u64 *)phys(w->hot[k]);
	if (h[0] != beats || h[1] != beats || h[2] != beats || h[3] != beats) {
		mw_bad("cpu %u: hot counters %lu %lu %lu %lu, beat count %lu: a stale page", w->cpu,
		    h[0], h[1], h[2], h[3], beats);
	}
	beats++;
	for (unsigned k = 0; k < HOT; k++)
		*(volatile u64 *)phys(w->hot[k]) = beats;
	mw_st(&w->beats, beats);
}

/* A write this sweep? The first sweep always; then as the budget allows. */
static bool take_token(struct worker *w)
{
	if (!w->rate)
		return true;
	if (w->tokens) {
		w->tokens--;
		return true;
	}
	return false;
}

static void refill(struct worker *w)
{
	u64 now = rdtsc(), dt = MIN(now - w->refilled, tsc_hz);

	if (!w->rate)
		return;
	w->tokens = MIN(w->tokens + dt * w->rate / tsc_hz, w->rate / 10 + 1);
	w->refilled = now;
}

/* Check (and maybe rewrite) the next CHUNK pages of w's slice. */
static void sweep_chunk(struct worker *w)
{
	char why[WHY_LEN];
	u64 verified = 0, written = 0;

	refill(w);
	for (unsigned n = 0; n < CHUNK; n++) {
		u64 j = w->cursor, pa = page_addr(w->data_first + j);
		u32 *slot = gen_slot(w, j), g = *(volatile u32 *)slot;
		bool write = !g;

		if (g) {
			verified++;
			if (!mw_stamp_ok(phys(pa), pa, g, why, sizeof(why))) {
				mw_bad("cpu %u: page 0x%lx: %s", w->cpu, pa, why);
				write = true;	/* report it once */
			}
		}
		if (write || take_token(w)) {
			g = g + 1 ? g + 1 : 1;
			mw_stamp(phys(pa), pa, g);
			*(volatile u32 *)slot = g;	/* after the page: a stop between is fine */
			written++;
		}
		if (++w->cursor == w->ndata) {
			w->cursor = 0;
			mw_st(&w->rounds, w->rounds + 1);
		}
	}
	mw_st(&w->verified, w->verified + verified);
	mw_st(&w->written, w->written + written);
	check_hot(w);
}

static long ap_work(void *arg)
{
	struct worker *w = arg;

	while (!stopping())
		sweep_chunk(w);
	return 0;
}

/* Slices, tables and hot pages; false if RAM is too small. */
static bool plan(u64 total, unsigned ncpu, u64 rate_mibs)
{
	u64 each = total / ncpu, next = 0;

	nworkers = 0;
	for (unsigned c = 0; c < smp.ncpus && nworkers < ncpu; c++) {
		struct worker *w = &workers[nworkers];

		if (!smp.cpus[c].online)
			continue;
		w->cpu = c;
		w->first = next;
		u64 n = nworkers == ncpu - 1 ? total - next : each;

		next += n;
		w->ntable = n / 1024 + 1;	/* u32 per data page */
		if (n < w->ntable + HOT + 16)
			return false;
		w->data_first = w->first + w->ntable + HOT;
		w->ndata = n - w->ntable - HOT;
		w->rate = rate_mibs * 256 / ncpu;
		if (rate_mibs && !w->rate)
			w->rate = 1;
		w->refilled = rdtsc();
		for (unsigned k = 0; k < HOT; k++) {
			w->hot[k] = page_addr(w->first + w->ntable + k) + k * 8;
			*(volatile u64 *)phys(w->hot[k]) = 0;
		}
		for (u64 p = 0; p < w->ntable; p++)
			memset(phys(page_addr(w->first + p)), 0, PAGE_SIZE);
		nworkers++;
	}
	return nworkers == ncpu;
}

/* ---- CPU 0: its slice, the devices, the clock and the reports ---- */

struct report {
	u64 start, last, next, filled_at;
	u64 beat[MAX_CPUS], beat_at[MAX_CPUS];
	bool stalled[MAX_CPUS];
};

static void print_line(u64 now, struct report *rp)
{
	u64 rounds = ~0ULL, verified = 0, written = 0, blk, scsi, sent, ok;

	for (unsigned i = 0; i < nworkers; i++) {
		rounds = MIN(rounds, mw_ld(&workers[i].rounds));
		verified += mw_ld(&workers[i].verified);
		written += mw_ld(&workers[i].written);
	}
	io_counts(&blk, &scsi, &sent, &ok);
	printf("MIGWORK t=%lu rounds=%lu pages_verified=%lu blk_ok=%lu scsi_ok=%lu net_ok=%lu "
	       "errors=%u written=%lu net_sent=%lu net_lost=%lu\n", (now - rp->start) / 1000000000,
	       rounds, verified, blk, scsi, ok,
	       __atomic_load_n(&errors, __ATOMIC_RELAXED), written, sent,
	       sent > ok + 20 ? sent - ok - 20 : 0);	/* the last second's may be in flight */
}

/* The clock and the other CPUs' progress; true when work_secs is up. */
static bool watch(struct report *rp, u64 now, u64 work_ns)
{
	bool jumped = false;

	if (now < rp->last) {
		mw_bad("guest time went backwards by %lu ns (%s)", rp->last - now,
		    use_kvmclock ? "kvmclock" : "tsc");
		jumped = true;
	} else if (now - rp->last > JUMP_NOTE_NS) {
		printf("migrate-work: note: guest time jumped forward by %lu.%03lu s\n",
		       (now - rp->last) / 1000000000, (now - rp->last) / 1000000 % 1000);
		jumped = true;
	}
	rp->last = now;
	if (now < rp->next && !jumped)
		return false;
	rp->next = now + 1000000000ULL;
	if (!rp->filled_at) {
		bool all = true;

		for (unsigned i = 0; i < nworkers; i++)
			all = all && mw_ld(&workers[i].rounds);
		if (all) {
			rp->filled_at = now;
			printf("migrate-work: filled: every page written once in %lu ms; verifying\n",
			       (now - rp->start) / 1000000);
		}
	}
	for (unsigned i = 1; i < nworkers; i++) {
		u64 b = mw_ld(&workers[i].beats);

		if (b != rp->beat[i] || jumped) {
			rp->beat[i] = b;
			rp->beat_at[i] = now;
			rp->stalled[i] = false;
		} else if (!rp->stalled[i] && now - rp->beat_at[i] > STALL_NS) {
			mw_bad("cpu %u made no progress for %llu s", workers[i].cpu,
			    STALL_NS / 1000000000);
			rp->stalled[i] = true;
		}
	}
	print_line(now, rp);
	return work_ns && now - rp->start >= work_ns;
}

static void cpu0_loop(u64 work_secs)
{
	static struct report rp;

	rp.start = rp.last = clock_ns();
	while (!stopping()) {
		u64 now;

		sweep_chunk(&workers[0]);
		now = clock_ns();
		io_step(now);
		if (watch(&rp, now, work_secs * 1000000000ULL))
			__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
	}
}

bool migrate_work_run(void)
{
	char v[24], clk[96], budget[32];
	u64 work_secs = 0, mibs = 64, total;
	unsigned ncpu = 0;

	if (cmdline_get("work_secs", v, sizeof(v)) && !parse_uint(v, 10, &work_secs)) {
		printf("FAIL migrate-work: work_secs=%s: expected seconds (0: forever)\n", v);
		return false;
	}
	if (cmdline_get("dirty_mibs", v, sizeof(v)) &&
	    (!strcmp(v, "max") ? (mibs = 0, false) : !parse_uint(v, 10, &mibs) || !mibs)) {
		printf("FAIL migrate-work: dirty_mibs=%s: expected MiB/s (1 or more) or max\n", v);
		return false;
	}
	mw_nonce = disk_mix(rdtsc()) | 1;
	for (unsigned c = 0; c < smp.ncpus; c++)
		ncpu += smp.cpus[c].online;
	total = find_ranges();
	if (!plan(total, ncpu, mibs)) {
		printf("FAIL migrate-work: %lu pages of free RAM are too few for %u CPUs\n", total,
		       ncpu);
		return false;
	}
	clock_init(clk, sizeof(clk));
	if (mibs)
		snprintf(budget, sizeof(budget), "%lu MiB/s", mibs);
	else
		snprintf(budget, sizeof(budget), "none (max)");
	printf("migrate-work: run %lx, %u CPUs, %lu MiB of free RAM in %u ranges from 0x%lx, "
	       "dirty budget %s, clock %s, work_secs %lu\n", mw_nonce, ncpu, total >> 8, nranges,
	       ranges[0].addr, budget, clk, work_secs);
	io_setup();
	for (unsigned i = 1; i < nworkers; i++) {
		workers[i].started = smp_start(workers[i].cpu, ap_work, &workers[i]);
		if (!workers[i].started)
			mw_bad("cpu %u would not take its slice", workers[i].cpu);
	}
	cpu0_loop(work_secs);
	for (unsigned i = 1; i < nworkers; i++) {
		long r;

		if (workers[i].started && !smp_wait(workers[i].cpu, 10000000, &r))
			mw_bad("cpu %u did not stop", workers[i].cpu);
	}
	if (errors) {
		printf("FAIL migrate-work: %u errors in %lu s (first %u shown above)\n", errors,
		       work_secs, MIN(errors, (u32)SHOW_MAX));
		return false;
	}
	printf("PASS migrate-work: %lu s, every page, block and echo checked intact\n", work_secs);
	return true;
}
