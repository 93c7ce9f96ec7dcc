// SPDX-License-Identifier: Apache-2.0
/*
 * mode=hostile (see hostile.h): every virtio-blk, virtio-scsi and
 * virtio-net function is attacked for hostile_secs seconds (default 5),
 * except the last virtio-blk disk, which keeps doing verified writes and
 * reads through the normal driver (on CPU 1 when there is one, else
 * between the attacks). Then the well-behaved disk must still verify, and
 * every attacked device must reset, set up and serve a correct request.
 *
 * Command line: hostile_secs=N, seed=N (the attacks' random numbers;
 * default 1), hostile_skip=NAME[,NAME...] and hostile_only=NAME[,...]
 * (leave attacks out, or make only those; the names are in
 * hostile_chains.c and hostile_regs.c), hostile_trace=1 (print each
 * attack before making it: finds the one a VMM died of).
 *
 * Output: a line per device, then "PASS hostile" or "FAIL hostile: why".
 */
#include "hostile.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "modes.h"
#include "acpi.h"
#include "smp.h"
#include "time.h"

#define DEFAULT_SECS	5
#define CHECK_US	200000		/* a valid request between attacks */
/* Any other valid request: long, as a host busy elsewhere can stall a VM
 * (TCG) for seconds; a device that really hangs fails all the same. */
#define VALID_US	30000000

struct hmem hm;

static struct hdev devs[HOSTILE_MAX_DEVS];
static unsigned ndevs;

/* The well-behaved disk's loop, on an AP or between attacks. */
static struct {
	struct hdev *h;
	unsigned cpu;		/* 0: the BSP, between attacks */
	u64 rng;
	volatile bool stop;
	u64 pairs;		/* verified write/read pairs (reads if read-only) */
	bool failed;
	char why[WHY_LEN];
} good;

u64 hrand(void)
{
	return disk_mix(hm.rng++);
}

unsigned hostile_pick(unsigned n, unsigned skip_base)
{
	unsigned a = hrand_below(n);

	for (unsigned t = 0; t < 4 * n && (hm.skip >> (skip_base + a) & 1); t++)
		a = hrand_below(n);
	return a;
}

/* NAME[,NAME...]: their bits in hm.skip, or false if one is unknown. */
static bool parse_names(const char *list, u64 *bits)
{
	while (*list) {
		size_t len = 0;
		bool found = false;

		while (list[len] && list[len] != ',')
			len++;
		for (unsigned i = 0; i < hostile_nchain + hostile_nreg; i++) {
			const char *name = i < hostile_nchain ? hostile_chain_names[i]
							      : hostile_reg_names[i - hostile_nchain];

			if (strlen(name) == len && !strncmp(name, list, len)) {
				*bits |= 1ULL << (i < hostile_nchain ? i : 32 + i - hostile_nchain);
				found = true;
			}
		}
		if (!found)
			return false;
		list += len + (list[len] == ',');
	}
	return true;
}

/* ---- memory nobody may touch ---- */

static bool near_bar(u64 a, u64 margin)
{
	for (unsigned i = 0; i < pci.ndevs; i++) {
		const struct pci_dev *p = &pci.devs[i];
		unsigned nbars = (p->hdr_type & 0x7f) == 0 ? 6 : (p->hdr_type & 0x7f) == 1 ? 2 : 0;

		for (unsigned b = 0; b < nbars; b++) {
			u32 lo = pci_cf8_read32(p->bus, p->dev, p->fn, 0x10 + 4 * b);
			u64 base = lo & ~0xfULL;

			if (lo & 1)
				continue;
			if ((lo & 6) == 4 && b + 1 < nbars)
				base |= (u64)pci_cf8_read32(p->bus, p->dev, p->fn, 0x14 + 4 * b++) << 32;
			if (base && a + margin > base && base + margin > a)
				return true;
		}
	}
	return false;
}

/* Neither RAM nor anything the map, the ECAM or a BAR has near it. */
static bool unmapped(u64 a, u64 margin)
{
	for (unsigned i = 0; i < boot.nmap; i++)
		if (a + margin > boot.map[i].addr && boot.map[i].addr + boot.map[i].size + margin > a)
			return false;
	if (acpi.mcfg && a + margin > acpi.ecam_base &&
	    acpi.ecam_base + ((u64)(acpi.ecam_bus_end + 1) << 20) + margin > a)
		return false;
	if (a >= 0xfe000000ULL && a < (1ULL << 32))	/* IOAPIC, HPET, LAPIC, firmware */
		return false;
	return !near_bar(a, margin);
}

static void add_unmapped(u64 a, u64 margin)
{
	if (hm.nunmapped < HOSTILE_NADDR && unmapped(a, margin))
		hm.unmapped[hm.nunmapped++] = a;
}

static bool mem_setup(void)
{
	u64 hole_found = 0;

	for (unsigned i = 0; i < boot.nmap; i++)
		if (boot.map[i].type == E820_RAM)
			hm.ram_end = MAX(hm.ram_end, boot.map[i].addr + boot.map[i].size);
	hm.scratch = dma_alloc(HOSTILE_SCRATCH, PAGE_SIZE);
	if (!hm.scratch)
		return false;
	/* Just past RAM, in the 32-bit hole, above 4 GiB, past any RAM. */
	if (hm.ram_end < (1ULL << 32))
		add_unmapped(ALIGN_UP(hm.ram_end, MiB) + 16 * MiB, 16 * MiB);
	for (u64 a = 0xd0000000ULL; a < 0xfe000000ULL && hole_found < 2; a += 16 * MiB)
		if (unmapped(a, 16 * MiB)) {
			add_unmapped(a, 16 * MiB);
			hole_found++;
		}
	add_unmapped(ALIGN_UP(MAX(hm.ram_end, 1ULL << 32), 1ULL << 30) + (4ULL << 30), 1ULL << 30);
	add_unmapped(1ULL << 40, 1ULL << 30);
	add_unmapped(1ULL << 45, 1ULL << 30);
	return true;
}

/* ---- set-up and watching ---- */

static u8 status(struct hdev *h)
{
	return mmio_read8(h->v->common + HC_STATUS);
}

bool hdev_init(struct hdev *h)
{
	char why[WHY_LEN];
	bool ok = false;
	/* The well-behaved disk and the final set-up take the defaults. */
	bool plain = h->good || !h->st.rounds, evidx = plain || hchance(2), ind = plain || hchance(2);

	h->st.resets++;
	h->live = false;
	h->posted = 0;
	switch (h->kind) {
	case HK_BLK: {
		struct virtio_opts o = { .irq = false, .event_idx = evidx, .indirect = ind };

		ok = blk_init(&h->u.blk, &o, why, sizeof(why));
		h->sectors = h->u.blk.cfg.capacity;
		break;
	}
	case HK_SCSI: {
		struct virtio_opts o = { .irq = false, .event_idx = evidx, .indirect = ind };

		ok = vscsi_init(&h->u.scsi, &o, why, sizeof(why));
		break;
	}
	case HK_NET: {
		/* MRG_RXBUF stays as it was: another buffer size would take
		 * more of the driver's pool at every set-up. */
		struct net_opts o = { .irq = false, .csum = plain || hchance(2), .mrg = true,
				      .event_idx = evidx, .pairs = 1, .one_cpu = true };

		ok = net_init(&h->u.net, &o, why, sizeof(why));
		break;
	}
	}
	if (!ok) {
		if (!h->st.init_fail++)
			printf("hostile: %s: a set-up failed (counted, retried): %s\n", h->name, why);
		if (!h->why[0])
			snprintf(h->why, sizeof(h->why), "set-up: %s", why);
		return false;
	}
	h->live = true;
	return true;
}

void hq_publish(struct virtq *q)
{
	__atomic_store_n(&q->avail->idx, q->avail_shadow, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mmio_write16(q->notify, q->index);
	q->kicked_at = q->avail_shadow;
	q->kicks++;
}

void hdev_settle(struct hdev *h, struct virtq *q, unsigned expect, u64 us)
{
	u64 now = time_us(), end = now + (expect ? us : us / 4), next = now;
	unsigned got = 0;
	void *tok;
	u32 len;
	u16 head;

	h->posted += expect;
	for (;;) {
		u16 idx = q && q->size ? __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) : 0;

		if (q && q->size && (u16)(idx - q->last_used) > q->size) {
			/* More than the ring holds: the device was told to write
			 * over its used ring, or lost count. */
			h->st.bogus_used++;
			q->last_used = idx;
			h->live = false;
		}
		while (q && q->size && got < 0x10000 && vq_get_used(q, &tok, &len, &head)) {
			got++;
			h->st.used++;
		}
		now = time_us();
		if (now >= next) {
			if (status(h) & VIRTIO_S_NEEDS_RESET) {
				h->st.needs_reset++;
				h->live = false;
				return;
			}
			next = now + 1000;
		}
		if ((expect && got >= expect) || now > end)
			break;
		cpu_relax();
	}
	if (got < expect) {
		h->st.unanswered++;
		h->live = false;
	}
}

/* ---- the well-behaved disk ---- */

static long good_loop(void *unused)
{
	struct hdev *h = good.h;

	(void)unused;
	while (!good.stop && !good.failed) {
		u64 sector = disk_mix(good.rng++) % (h->sectors - HOSTILE_SECTORS);

		if (!hblk_verify(h, sector, HOSTILE_SECTORS * SECTOR_SIZE, disk_mix(good.rng++),
				VALID_US, good.why))
			good.failed = true;
		else
			good.pairs++;
		if (!good.cpu)
			break;		/* one pair between attacks */
	}
	return 0;
}

/* ---- the mode ---- */

static void find(enum hkind kind, u16 type, const char *prefix)
{
	for (unsigned nth = 0; ndevs < HOSTILE_MAX_DEVS; nth++) {
		struct hdev *h = &devs[ndevs];
		char why[WHY_LEN];
		int r;

		memset(h, 0, sizeof(*h));
		if (kind == HK_NET)
			h->u.net.index = nth;
		r = virtio_find(&h->u.blk.v, type, nth, why, sizeof(why));
		if (!r)
			return;
		if (r < 0) {
			printf("hostile: %s%u unusable, left alone: %s\n", prefix, nth, why);
			continue;
		}
		h->kind = kind;
		h->nth = nth;
		h->v = &h->u.blk.v;	/* every driver struct starts with it */
		snprintf(h->name, sizeof(h->name), "%s%u", prefix, nth);
		h->bio = dma_alloc(8 * sizeof(struct blk_io), 64);
		h->cmd = dma_alloc(8 * sizeof(struct vscsi_cmd), 64);
		h->buf = dma_alloc(4096, PAGE_SIZE);
		h->buf2 = dma_alloc(4096, PAGE_SIZE);
		if (h->bio && h->cmd && h->buf && h->buf2)
			ndevs++;
	}
}

static void report(struct hdev *h, const char *after)
{
	struct virtio_dev *v = h->v;
	struct hstats *s = &h->st;

	if (h->good) {
		printf("hostile: %s %02x:%02x.%x (well-behaved): %lu verified %s on cpu %u, %lu "
		       "requests notified again after 1 s; after: %s\n", h->name, v->bus, v->dev,
		       v->fn, good.pairs, h->u.blk.ro ? "read pairs" : "write/read pairs", good.cpu,
		       s->renotify, after);
		return;
	}
	printf("hostile: %s %02x:%02x.%x: %lu attacks (%lu chains, %lu register), %lu used "
	       "entries (%lu bogus used indexes), %lu DEVICE_NEEDS_RESET, %lu unanswered, %lu set-ups (%lu refused, %lu "
	       "slow resets), FEATURES_OK for unoffered features %lu times, %lu/%lu valid requests "
	       "between attacks; after: %s\n", h->name, v->bus, v->dev, v->fn, s->rounds, s->chains,
	       s->regs, s->used, s->bogus_used, s->needs_reset, s->unanswered, s->resets, s->init_fail,
	       s->reset_slow, s->features_ok_taken, s->checks_ok, s->checks, after);
}

bool hostile_run(void)
{
	char v[24], why[WHY_LEN], first[WHY_LEN] = "", skip[1024];
	u64 secs = DEFAULT_SECS, seed = 1, end;
	struct hdev *g = NULL;
	unsigned nbad = 0, nhostile = 0;
	bool chains, regs;

	if (cmdline_get("hostile_secs", v, sizeof(v)) && (!parse_uint(v, 10, &secs) || secs > 3600)) {
		printf("FAIL hostile: hostile_secs=%s: expected seconds, at most 3600\n", v);
		return false;
	}
	if (cmdline_get("seed", v, sizeof(v)) && !parse_uint(v, 10, &seed)) {
		printf("FAIL hostile: seed=%s: expected a number\n", v);
		return false;
	}
	if (cmdline_get("hostile_only", skip, sizeof(skip))) {
		u64 only = 0;

		if (!parse_names(skip, &only)) {
			printf("FAIL hostile: hostile_only=%s: an attack of that name is not known\n", skip);
			return false;
		}
		hm.skip = ~only;
	}
	if (cmdline_get("hostile_skip", skip, sizeof(skip)) && !parse_names(skip, &hm.skip)) {
		printf("FAIL hostile: hostile_skip=%s: an attack of that name is not known\n", skip);
		return false;
	}
	chains = ~hm.skip & ((1ULL << hostile_nchain) - 1);
	regs = ~hm.skip >> 32 & ((1ULL << hostile_nreg) - 1);
	if (!chains && !regs) {
		printf("FAIL hostile: every attack left out\n");
		return false;
	}
	hm.trace = cmdline_flag("hostile_trace", false);
	hm.rng = disk_mix(seed);
	good.rng = disk_mix(~seed);
	find(HK_BLK, VIRTIO_ID_BLOCK, "blk");
	find(HK_SCSI, VIRTIO_ID_SCSI, "scsi");
	find(HK_NET, VIRTIO_ID_NET, "net");
	for (unsigned i = 0; i < ndevs; i++)
		if (devs[i].kind == HK_BLK)
			g = &devs[i];
	if (!g) {
		printf("FAIL hostile: no virtio-blk disk to keep well-behaved\n");
		return false;
	}
	if (!mem_setup()) {
		printf("FAIL hostile: out of DMA memory\n");
		return false;
	}
	g->good = true;
	good.h = g;
	printf("hostile: %u devices, %s well-behaved, %lu s, seed %lu, RAM ends at 0x%lx, "
	       "%u unmapped addresses (first 0x%lx)\n", ndevs, g->name, secs, seed, hm.ram_end,
	       hm.nunmapped, hm.unmapped[0]);
	/* Everyone works before anything hostile happens. */
	for (unsigned i = 0; i < ndevs; i++) {
		struct hdev *h = &devs[i];

		if (!hdev_init(h) || !hdev_check(h, VALID_US, why)) {
			printf("FAIL hostile: %s does not work to begin with: %s\n", h->name,
			       h->live ? why : h->why);
			return false;
		}
		nhostile += !h->good;
	}
	if (!nhostile)
		printf("hostile: nothing to attack: one virtio-blk disk only\n");
	/* good.cpu first: the loop reads it to know it has a CPU of its own. */
	for (unsigned c = 1; c < smp.ncpus && !good.cpu; c++) {
		good.cpu = c;
		if (!smp.cpus[c].online || !smp_start(c, good_loop, NULL))
			good.cpu = 0;
	}

	end = time_us() + secs * 1000000;
	while (time_us() < end && !good.failed) {
		for (unsigned i = 0; i < ndevs; i++) {
			struct hdev *h = &devs[i];

			if (h->good)
				continue;
			if ((!h->live || (status(h) & VIRTIO_S_NEEDS_RESET)) && !hdev_init(h))
				continue;
			h->st.rounds++;
			if (regs && (!chains || hchance(3)))
				hostile_regs(h);
			else
				hostile_chain(h);
			if (h->live && hchance(4)) {
				h->st.checks++;
				if (hdev_check(h, CHECK_US, why))
					h->st.checks_ok++;
				else
					h->live = false;
			}
		}
		if (!good.cpu)
			good_loop(NULL);
	}
	good.stop = true;
	if (good.cpu) {
		long r;

		if (!smp_wait(good.cpu, 3 * VALID_US, &r) && !good.failed) {
			good.failed = true;
			snprintf(good.why, sizeof(good.why), "cpu %u never finished", good.cpu);
		}
	}

	/* The well-behaved disk still verifies; everyone else comes back. */
	for (unsigned i = 0; i < ndevs; i++) {
		struct hdev *h = &devs[i];
		bool ok;

		why[0] = 0;
		if (h->good) {
			ok = !good.failed && hdev_check(h, VALID_US, why);
			if (good.failed)
				snprintf(why, sizeof(why), "%s", good.why);
		} else {
			h->st.rounds = 0;	/* the plain set-up */
			ok = false;
			for (unsigned t = 0; t < 3 && !ok; t++)
				ok = hdev_init(h) && hdev_check(h, VALID_US, why);
			if (!ok && !why[0])
				snprintf(why, sizeof(why), "%s", h->why);
			h->st.rounds = h->st.chains + h->st.regs;
		}
		report(h, ok ? (h->kind == HK_NET ? "reset, set up, a frame sent"
				: h->good || h->kind == HK_BLK ? "write/read verified"
				: "reset, set up, a request verified") : why);
		if (!ok && !nbad++)
			snprintf(first, sizeof(first), "%s: %s", h->name, why);
		if (!h->good)
			virtio_reset(h->v);
	}
	virtio_reset(g->v);
	if (nbad) {
		printf("FAIL hostile: %u of %u devices failed; first: %s\n", nbad, ndevs, first);
		return false;
	}
	printf("PASS hostile\n");
	return true;
}
