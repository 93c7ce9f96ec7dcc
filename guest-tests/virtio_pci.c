// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci transport and split virtqueue, driver side: see virtio_pci.h.
 *
 * Config space goes through 0xcf8/0xcfc (syscalls from ring 3), everything
 * in the BAR is MMIO straight from ring 3.
 */
#include "virtio_pci.h"
#include "acpi.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "time.h"

/* Common configuration (4.1.4.3), byte offsets. */
#define CC_DFSELECT	0
#define CC_DF		4
#define CC_GFSELECT	8
#define CC_GF		12
#define CC_MSIX		16
#define CC_NUMQ		18
#define CC_STATUS	20
#define CC_GEN		21
#define CC_QSEL		22
#define CC_QSIZE	24
#define CC_QMSIX	26
#define CC_QENABLE	28
#define CC_QNOTIFY	30
#define CC_QDESC	32
#define CC_QDRIVER	40
#define CC_QDEVICE	48

#define CAP_COMMON	1
#define CAP_NOTIFY	2
#define CAP_ISR		3
#define CAP_DEVICE	4

#define PCI_COMMAND		0x04
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_CMD_INTX_OFF	0x0400
#define PCI_STATUS_CAPS		0x0010
#define PCI_CAP_VENDOR		0x09
#define PCI_CAP_MSIX		0x11
#define MSIX_ENABLE		0x8000
#define MSIX_FMASK		0x4000

#define RESET_TIMEOUT_US	1000000

/* ---- DMA arena ---- */

#define ARENA_SIZE	(4 * MiB)	/* 8 queues x DEPTH x 32 KiB slots fit */
#define ARENA_GUARD	64

static u8 arena[ARENA_SIZE] __attribute__((aligned(PAGE_SIZE)));
static size_t arena_used;

void *dma_alloc(size_t size, size_t align)
{
	size_t start;

	size_t used;

	if (align < ARENA_GUARD)
		align = ARENA_GUARD;
	/* Lock-free: CPUs allocate concurrently (blk-mq sets up each queue on
	 * its own CPU), and two must never get overlapping memory. */
	used = __atomic_load_n(&arena_used, __ATOMIC_RELAXED);
	do {
		start = ALIGN_UP(used + ARENA_GUARD, align);
		if (start + size + ARENA_GUARD > ARENA_SIZE)
			return NULL;
	} while (!__atomic_compare_exchange_n(&arena_used, &used, start + size, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	return arena + start;
}

/* ---- PCI config space ---- */

static u32 cfg_rd32(struct virtio_dev *d, u16 off)
{
	return pci_cf8_read32(d->bus, d->dev, d->fn, off & ~3);
}

static u8 cfg_rd8(struct virtio_dev *d, u16 off)
{
	return cfg_rd32(d, off) >> 8 * (off & 3);
}

static u16 cfg_rd16(struct virtio_dev *d, u16 off)
{
	return cfg_rd32(d, off) >> 8 * (off & 2);
}

static void cfg_wr32(struct virtio_dev *d, u16 off, u32 v)
{
	pci_cf8_write32(d->bus, d->dev, d->fn, off & ~3, v);
}

/* 16-bit write as a dword read-modify-write (mechanism #1 is dword-wide
 * here). The other half is written back as read: for the command register
 * that rewrites PCI status, whose error bits are write-1-to-clear; fine. */
static void cfg_wr16(struct virtio_dev *d, u16 off, u16 v)
{
	unsigned sh = 8 * (off & 2);
	u32 w = cfg_rd32(d, off);

	cfg_wr32(d, off, (w & ~(0xffffu << sh)) | (u32)v << sh);
}

/* ---- BARs ---- */

/* Size of a memory BAR by the usual all-ones probe; decoding must be off. */
static u64 bar_size(u8 bus, u8 dev, u8 fn, u16 off, bool is64)
{
	u32 lo = pci_cf8_read32(bus, dev, fn, off), hi = 0, slo, shi = 0xffffffff;

	pci_cf8_write32(bus, dev, fn, off, 0xffffffff);
	slo = pci_cf8_read32(bus, dev, fn, off);
	pci_cf8_write32(bus, dev, fn, off, lo);
	if (is64) {
		hi = pci_cf8_read32(bus, dev, fn, off + 4);
		pci_cf8_write32(bus, dev, fn, off + 4, 0xffffffff);
		shi = pci_cf8_read32(bus, dev, fn, off + 4);
		pci_cf8_write32(bus, dev, fn, off + 4, hi);
	}
	return ~(((u64)shi << 32) | (slo & ~0xfu)) + 1;
}

/*
 * Where an unassigned BAR may go: the 32-bit window every PC has below the
 * IOAPIC, from 0xc0000000 (kite's window; inside QEMU q35's), first fit
 * between the memory BARs already there and clear of the ECAM. Firmware
 * (kite itself, SeaBIOS under QEMU) normally assigns BARs; this is the
 * fallback.
 */
#define WINDOW_START	0xc0000000ULL
#define WINDOW_END	0xfec00000ULL
#define MAX_RANGES	64

static struct { u64 start, end; } taken[MAX_RANGES];
static unsigned ntaken;
static bool taken_known;

static void take(u64 start, u64 end)
{
	if (ntaken < MAX_RANGES && end > start)
		taken[ntaken++] = (typeof(taken[0])){ start, end };
}

/* Every memory BAR assigned in the window (sized with decoding off), and
 * the ECAM. */
static void find_taken(void)
{
	taken_known = true;
	if (acpi.mcfg)
		take(acpi.ecam_base, acpi.ecam_base + ((u64)(acpi.ecam_bus_end + 1) << 20));
	for (unsigned i = 0; i < pci.ndevs; i++) {
		const struct pci_dev *p = &pci.devs[i];
		unsigned nbars = (p->hdr_type & 0x7f) == 0 ? 6 : (p->hdr_type & 0x7f) == 1 ? 2 : 0;
		u32 cmd = pci_cf8_read32(p->bus, p->dev, p->fn, PCI_COMMAND);

		for (unsigned b = 0; b < nbars; b++) {
			u16 off = 0x10 + 4 * b;
			u32 lo = pci_cf8_read32(p->bus, p->dev, p->fn, off);
			bool is64 = (lo & 7) == 4;
			u64 base = lo & ~0xfu;

			if (lo & 1)
				continue;
			if (is64)
				base |= (u64)pci_cf8_read32(p->bus, p->dev, p->fn, off + 4) << 32;
			if (base && base < WINDOW_END) {
				pci_cf8_write32(p->bus, p->dev, p->fn, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
				take(base, base + bar_size(p->bus, p->dev, p->fn, off, is64));
				pci_cf8_write32(p->bus, p->dev, p->fn, PCI_COMMAND, cmd);
			}
			if (is64)
				b++;
		}
	}
}

static u64 mmio_place(u64 size)
{
	u64 a = WINDOW_START;
	bool moved = true;

	if (!taken_known)
		find_taken();
	/* Bump past every range we overlap until none is left. */
	while (moved) {
		moved = false;
		a = ALIGN_UP(a, size);
		for (unsigned i = 0; i < ntaken; i++)
			if (a < taken[i].end && taken[i].start < a + size) {
				a = taken[i].end;
				moved = true;
			}
		if (a + size > WINDOW_END)
			return 0;
	}
	take(a, a + size);
	return a;
}

/* The BAR's address, assigning one if it has none; 0 if impossible. */
static u64 bar_addr(struct virtio_dev *d, unsigned bar, char *why, size_t whylen)
{
	u16 off = 0x10 + 4 * bar;
	u32 lo = cfg_rd32(d, off);
	bool is64 = (lo & 7) == 4;
	u64 base = lo & ~0xfu, size, a;
	u16 cmd;

	if (bar > 5 || (lo & 1) || (is64 && bar == 5)) {
		snprintf(why, whylen, "capability points at BAR %u, not a memory BAR", bar);
		return 0;
	}
	if (is64)
		base |= (u64)cfg_rd32(d, off + 4) << 32;
	if (base)
		return base;
	cmd = cfg_rd16(d, PCI_COMMAND);
	cfg_wr16(d, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	size = bar_size(d->bus, d->dev, d->fn, off, is64);
	a = size && !(size & (size - 1)) ? mmio_place(size) : 0;
	if (a) {
		cfg_wr32(d, off, (u32)a | (lo & 0xf));
		if (is64)
			cfg_wr32(d, off + 4, 0);
	}
	cfg_wr16(d, PCI_COMMAND, cmd);
	if (!a) {
		snprintf(why, whylen, "BAR %u (0x%lx bytes) unassigned and no room to place it", bar, size);
		return 0;
	}
	if (!d->placed++)
		snprintf(d->note, sizeof(d->note), "unassigned BARs placed by us:");
	snprintf(d->note + strlen(d->note), sizeof(d->note) - strlen(d->note), " %u at 0x%lx",
		 bar, a);
	return a;
}

/* ---- finding the device ---- */

int virtio_find(struct virtio_dev *d, u16 type, unsigned nth, char *why, size_t whylen)
{
	const struct pci_dev *p = NULL;
	u64 bars[6] = { 0 };
	u8 ptr;
	bool have[5] = { false };

	for (unsigned i = 0; i < pci.ndevs; i++) {
		if (pci.devs[i].vendor == VIRTIO_PCI_VENDOR &&
		    pci.devs[i].device == VIRTIO_PCI_MODERN_BASE + type && !nth--) {
			p = &pci.devs[i];
			break;
		}
	}
	if (!p)
		return 0;
	memset(d, 0, sizeof(*d));
	d->bus = p->bus;
	d->dev = p->dev;
	d->fn = p->fn;
	d->type = type;
	snprintf(d->note, sizeof(d->note), "BARs assigned by firmware");
	if (!(cfg_rd16(d, 0x06) & PCI_STATUS_CAPS)) {
		snprintf(why, whylen, "%02x:%02x.%x has no capability list", d->bus, d->dev, d->fn);
		return -1;
	}
	ptr = cfg_rd8(d, 0x34) & 0xfc;
	for (unsigned guard = 0; ptr >= 0x40 && guard < 48; guard++) {
		u8 id = cfg_rd8(d, ptr), next = cfg_rd8(d, ptr + 1) & 0xfc;

		if (id == PCI_CAP_VENDOR) {
			u8 ctype = cfg_rd8(d, ptr + 3), bar = cfg_rd8(d, ptr + 4);
			u32 off = cfg_rd32(d, ptr + 8), len = cfg_rd32(d, ptr + 12);
			u64 base;

			/* 4.1.4: use the first capability of each type we can. */
			if (ctype >= CAP_COMMON && ctype <= CAP_DEVICE && !have[ctype] && bar <= 5) {
				if (!bars[bar] && !(bars[bar] = bar_addr(d, bar, why, whylen)))
					return -1;
				base = bars[bar] + off;
				have[ctype] = true;
				if (ctype == CAP_COMMON)
					d->common = base;
				else if (ctype == CAP_ISR)
					d->isr = base;
				else if (ctype == CAP_DEVICE)
					d->device = base, d->device_len = len;
				else
					d->notify = base, d->notify_mult = cfg_rd32(d, ptr + 16);
			}
		} else if (id == PCI_CAP_MSIX) {
			u32 t = cfg_rd32(d, ptr + 4);
			unsigned bir = t & 7;

			d->msix_cap = ptr;
			d->msix_entries = (cfg_rd16(d, ptr + 2) & 0x7ff) + 1;
			if (bir <= 5 && !bars[bir] && !(bars[bir] = bar_addr(d, bir, why, whylen)))
				return -1;
			d->msix_table = bir <= 5 ? bars[bir] + (t & ~7u) : 0;
			if (!d->msix_table)
				d->msix_cap = 0;
		}
		ptr = next;
	}
	if (!have[CAP_COMMON] || !have[CAP_NOTIFY] || !have[CAP_DEVICE]) {
		snprintf(why, whylen, "%02x:%02x.%x lacks the %s capability", d->bus, d->dev, d->fn,
			 !have[CAP_COMMON] ? "common config" : !have[CAP_NOTIFY] ? "notify" : "device config");
		return -1;
	}
	for (unsigned b = 0; b < 6; b++)
		if (bars[b] && !phys_ok(bars[b], PAGE_SIZE)) {
			snprintf(why, whylen, "BAR %u at 0x%lx is beyond our identity map", b, bars[b]);
			return -1;
		}
	/* Memory decoding and bus mastering on (the device reads our rings),
	 * INTx off: we use MSI-X or poll. */
	cfg_wr16(d, PCI_COMMAND, cfg_rd16(d, PCI_COMMAND) | PCI_CMD_MEM | PCI_CMD_MASTER |
		 PCI_CMD_INTX_OFF);
	return 1;
}

/* ---- status and features ---- */

u8 virtio_status(struct virtio_dev *d)
{
	return mmio_read8(d->common + CC_STATUS);
}

static void set_status(struct virtio_dev *d, u8 s)
{
	mmio_write8(d->common + CC_STATUS, s);
}

bool virtio_reset(struct virtio_dev *d)
{
	u64 end = time_us() + RESET_TIMEOUT_US;

	set_status(d, 0);
	while (virtio_status(d)) {
		if (time_us() > end)
			return false;
		cpu_relax();
	}
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->vq[i].size = 0;
	d->nvqs = 0;
	return true;
}

bool virtio_start(struct virtio_dev *d, u64 want, char *why, size_t whylen)
{
	u8 s;

	if (!virtio_reset(d)) {
		snprintf(why, whylen, "status still 0x%x a second after writing 0", virtio_status(d));
		return false;
	}
	set_status(d, VIRTIO_S_ACKNOWLEDGE);
	set_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mmio_write32(d->common + CC_DFSELECT, 0);
	d->offered = mmio_read32(d->common + CC_DF);
	mmio_write32(d->common + CC_DFSELECT, 1);
	d->offered |= (u64)mmio_read32(d->common + CC_DF) << 32;
	if (!(d->offered & BIT(VIRTIO_F_VERSION_1))) {
		set_status(d, VIRTIO_S_FAILED);
		snprintf(why, whylen, "device does not offer VERSION_1 (features 0x%lx)", d->offered);
		return false;
	}
	d->features = d->offered & (want | BIT(VIRTIO_F_VERSION_1));
	mmio_write32(d->common + CC_GFSELECT, 0);
	mmio_write32(d->common + CC_GF, (u32)d->features);
	mmio_write32(d->common + CC_GFSELECT, 1);
	mmio_write32(d->common + CC_GF, d->features >> 32);
	set_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	s = virtio_status(d);
	if (!(s & VIRTIO_S_FEATURES_OK)) {
		set_status(d, VIRTIO_S_FAILED);
		snprintf(why, whylen, "device refused features 0x%lx (status 0x%x)", d->features, s);
		return false;
	}
	d->max_queues = mmio_read16(d->common + CC_NUMQ);
	return true;
}

bool virtio_start_opts(struct virtio_dev *d, const struct virtio_opts *o, u64 want, char *why,
		       size_t whylen)
{
	if (o->indirect)
		want |= BIT(VIRTIO_F_INDIRECT_DESC);
	if (o->event_idx)
		want |= BIT(VIRTIO_F_EVENT_IDX);
	return virtio_start(d, want, why, whylen);
}

void virtio_opts_cmdline(struct virtio_opts *o, const char *wait_key)
{
	char v[8];

	if (!cmdline_get(wait_key, v, sizeof(v)))
		wait_key = "blk_wait";
	o->irq = !cmdline_is(wait_key, "poll");
	o->event_idx = cmdline_flag("event_idx", true);
	o->indirect = cmdline_flag("indirect", true);
	o->merged = cmdline_is("layout", "merged");
}

void virtio_driver_ok(struct virtio_dev *d)
{
	set_status(d, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
		   VIRTIO_S_DRIVER_OK);
}

/* ---- device config ---- */

u8 virtio_cfg8(struct virtio_dev *d, unsigned off)
{
	return off + 1 <= d->device_len ? mmio_read8(d->device + off) : 0;
}

u16 virtio_cfg16(struct virtio_dev *d, unsigned off)
{
	return off + 2 <= d->device_len ? mmio_read16(d->device + off) : 0;
}

u32 virtio_cfg32(struct virtio_dev *d, unsigned off)
{
	return off + 4 <= d->device_len ? mmio_read32(d->device + off) : 0;
}

u64 virtio_cfg64(struct virtio_dev *d, unsigned off)
{
	u8 gen;
	u64 v;

	if (off + 8 > d->device_len)
		return 0;
	do {
		gen = mmio_read8(d->common + CC_GEN);
		v = mmio_read32(d->device + off);
		v |= (u64)mmio_read32(d->device + off + 4) << 32;
	} while (gen != mmio_read8(d->common + CC_GEN));
	return v;
}

/* ---- MSI-X ---- */

static unsigned vecs_used;	/* of the NR_DEV_VECS device vectors */

static void msix_entry(struct virtio_dev *d, unsigned e, unsigned cpu)
{
	u64 a = d->msix_table + 16 * e;

	/* Physical destination mode, fixed delivery, edge. */
	mmio_write32(a + 12, 1);				/* masked while written */
	mmio_write32(a + 0, 0xfee00000u | smp.cpus[cpu].apic_id << 12);
	mmio_write32(a + 4, 0);
	mmio_write32(a + 8, VEC_DEV + d->vec_base + e);
	mmio_write32(a + 12, 0);
}

/* MSI-X on, config vector (entry 0, to the BSP) in place. Idempotent. */
static bool msix_on(struct virtio_dev *d, char *why, size_t whylen)
{
	unsigned need = 1 + MIN(d->max_queues, VIRTIO_MAX_QUEUES);
	u16 ctrl;

	if (!d->msix_cap) {
		snprintf(why, whylen, "no MSI-X capability");
		return false;
	}
	if (!d->vec_base) {
		/* vec_base 0 means "none yet", so vector 0 stays unused. */
		unsigned base = MAX(vecs_used, 1u);

		if (base + need > NR_DEV_VECS) {
			snprintf(why, whylen, "out of IDT vectors for device interrupts");
			return false;
		}
		d->vec_base = base;
		vecs_used = base + need;
	}
	ctrl = cfg_rd16(d, d->msix_cap + 2);
	if ((ctrl & (MSIX_ENABLE | MSIX_FMASK)) != MSIX_ENABLE)
		cfg_wr16(d, d->msix_cap + 2, (ctrl | MSIX_ENABLE) & ~MSIX_FMASK);
	msix_entry(d, 0, 0);
	mmio_write16(d->common + CC_MSIX, 0);
	if (mmio_read16(d->common + CC_MSIX) != 0) {
		snprintf(why, whylen, "config_msix_vector 0 not accepted");
		return false;
	}
	d->irq = true;
	return true;
}

u64 virtio_config_irqs(struct virtio_dev *d)
{
	u64 n = 0;

	if (!d->vec_base)
		return 0;
	for (unsigned c = 0; c < smp.ncpus; c++)
		n += irq_count(c, d->vec_base);
	return n;
}

/* ---- queues ---- */

static void wr64(u64 addr, u64 v)
{
	mmio_write32(addr, (u32)v);
	mmio_write32(addr + 4, v >> 32);
}

static volatile u16 *used_event(struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static volatile u16 *avail_event(struct virtq *q)
{
	return (volatile u16 *)&q->used->ring[q->size];
}

bool virtq_setup(struct virtio_dev *d, unsigned idx, bool irq, unsigned cpu, char *why,
		 size_t whylen)
{
	struct virtq *q = &d->vq[idx];
	u16 size, vec = VIRTIO_NO_VECTOR;

	if (idx >= VIRTIO_MAX_QUEUES || idx >= d->max_queues) {
		snprintf(why, whylen, "queue %u does not exist (%u)", idx, d->max_queues);
		return false;
	}
	mmio_write16(d->common + CC_QSEL, idx);
	size = mmio_read16(d->common + CC_QSIZE);
	if (!size) {
		snprintf(why, whylen, "queue %u: size 0 (not available)", idx);
		return false;
	}
	size = MIN(size, VIRTQ_MAX_SIZE);
	while (size & (size - 1))	/* a split ring's size is a power of two */
		size &= size - 1;
	mmio_write16(d->common + CC_QSIZE, size);

	if (!q->desc) {
		q->desc = dma_alloc(16 * VIRTQ_MAX_SIZE, PAGE_SIZE);
		q->avail = dma_alloc(6 + 2 * VIRTQ_MAX_SIZE, PAGE_SIZE);
		q->used = dma_alloc(6 + 8 * VIRTQ_MAX_SIZE, PAGE_SIZE);
		if (!q->desc || !q->avail || !q->used) {
			snprintf(why, whylen, "out of DMA memory for queue %u", idx);
			return false;
		}
	}
	memset(q->desc, 0, 16 * VIRTQ_MAX_SIZE);
	memset(q->avail, 0, 6 + 2 * VIRTQ_MAX_SIZE);
	memset(q->used, 0, 6 + 8 * VIRTQ_MAX_SIZE);
	q->dev = d;
	q->index = idx;
	q->size = size;
	q->event_idx = d->features & BIT(VIRTIO_F_EVENT_IDX);
	q->cpu = cpu;
	q->free_head = 0;
	q->nfree = size;
	q->avail_shadow = q->kicked_at = q->last_used = 0;
	q->kicks = q->kicks_skipped = q->bad_used = q->sleeps = 0;
	for (unsigned i = 0; i < size; i++) {
		q->next[i] = i + 1;
		q->chain[i] = 0;
		q->token[i] = NULL;
		q->busy[i] = false;
	}
	q->notify = d->notify + (u64)mmio_read16(d->common + CC_QNOTIFY) * d->notify_mult;

	/* A vector whenever MSI-X is there, so a polled queue can show that
	 * the device kept quiet; irq decides how we wait. */
	if (d->msix_cap || irq) {
		if (!msix_on(d, why, whylen))
			return false;
		if (1 + idx >= d->msix_entries) {
			snprintf(why, whylen, "MSI-X table has %u entries, queue %u needs entry %u",
				 d->msix_entries, idx, 1 + idx);
			return false;
		}
		msix_entry(d, 1 + idx, cpu);
		vec = 1 + idx;
	}
	q->vec = d->msix_cap ? d->vec_base + 1 + idx : NR_DEV_VECS;
	q->irq = irq;
	mmio_write16(d->common + CC_QMSIX, vec);
	if (mmio_read16(d->common + CC_QMSIX) != vec) {
		snprintf(why, whylen, "queue %u: MSI-X vector %u not accepted", idx, vec);
		return false;
	}
	/* Interrupt suppression: polled queues ask for none. With EVENT_IDX
	 * the flags must stay 0 (2.7.7.1) and used_event does it instead. */
	if (!irq && !q->event_idx)
		q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	if (!irq && q->event_idx)
		*used_event(q) = 0x8000;
	wr64(d->common + CC_QDESC, (u64)(uintptr_t)q->desc);
	wr64(d->common + CC_QDRIVER, (u64)(uintptr_t)q->avail);
	wr64(d->common + CC_QDEVICE, (u64)(uintptr_t)q->used);
	mmio_write16(d->common + CC_QENABLE, 1);
	if (idx + 1 > d->nvqs)
		d->nvqs = idx + 1;
	return true;
}

/* ---- the ring, ring 3 ---- */

static void publish(struct virtq *q, u16 head, u16 ndesc, void *token)
{
	q->chain[head] = ndesc;
	q->token[head] = token;
	q->busy[head] = true;
	q->avail->ring[q->avail_shadow & (q->size - 1)] = head;
	q->avail_shadow++;
}

int vq_add(struct virtq *q, const struct vq_buf *b, unsigned n, void *token)
{
	u16 head = q->free_head, i = head;

	if (!n || n > q->nfree)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		struct vring_desc *d = &q->desc[i];

		d->addr = (u64)(uintptr_t)b[k].addr;
		d->len = b[k].len;
		d->flags = (b[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		d->next = q->next[i];
		if (k + 1 < n)
			i = q->next[i];
	}
	q->free_head = q->next[i];
	q->nfree -= n;
	publish(q, head, n, token);
	return head;
}

int vq_add_indirect(struct virtq *q, struct vring_desc *table, const struct vq_buf *b,
		    unsigned n, void *token)
{
	u16 head = q->free_head;

	if (!n || !q->nfree)
		return -1;
	for (unsigned k = 0; k < n; k++)
		table[k] = (struct vring_desc){
			.addr = (u64)(uintptr_t)b[k].addr, .len = b[k].len,
			.flags = (b[k].write ? VIRTQ_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
			.next = k + 1 < n ? k + 1 : 0,
		};
	q->desc[head] = (struct vring_desc){
		.addr = (u64)(uintptr_t)table, .len = 16 * n, .flags = VIRTQ_DESC_F_INDIRECT,
	};
	q->free_head = q->next[head];
	q->nfree--;
	publish(q, head, 1, token);
	return head;
}

int vq_add_req(struct virtq *q, struct vring_desc *table, bool indirect, const struct vq_buf *b,
	       unsigned n, void *token)
{
	int r = indirect ? vq_add_indirect(q, table, b, n, token) : vq_add(q, b, n, token);

	return r < 0 ? -1 : 0;
}

u32 vq_writable(const struct vq_buf *b, unsigned n)
{
	u32 w = 0;

	for (unsigned k = 0; k < n; k++)
		w += b[k].write ? b[k].len : 0;
	return w;
}

bool vq_take(struct virtq *q, unsigned n, u16 *idx)
{
	if (n > q->nfree)
		return false;
	for (unsigned k = 0; k < n; k++) {
		idx[k] = q->free_head;
		q->free_head = q->next[q->free_head];
	}
	q->nfree -= n;
	return true;
}

void vq_add_raw(struct virtq *q, u16 head)
{
	if (head < q->size) {
		q->chain[head] = 0;
		q->token[head] = NULL;
		q->busy[head] = true;
	}
	q->avail->ring[q->avail_shadow & (q->size - 1)] = head;
	q->avail_shadow++;
}

void vq_kick(struct virtq *q)
{
	u16 new = q->avail_shadow, old = q->kicked_at;
	bool need;

	if (new == old)
		return;
	/* Ring entries before the index that shows them. */
	__atomic_store_n(&q->avail->idx, new, __ATOMIC_RELEASE);
	/* Our idx store before our load of the device's suppression word;
	 * pairs with the device's fence after it re-enables kicks. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		u16 ev = *avail_event(q);

		need = (u16)(new - ev - 1) < (u16)(new - old);
	} else {
		need = !(__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
	}
	q->kicked_at = new;
	if (need) {
		mmio_write16(q->notify, q->index);
		q->kicks++;
	} else {
		q->kicks_skipped++;
	}
}

bool vq_has_used(struct virtq *q)
{
	return __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) != q->last_used;
}

bool vq_get_used(struct virtq *q, void **token, u32 *len, u16 *head)
{
	struct vring_used_elem e;
	u16 id, i;

	if (!vq_has_used(q))
		return false;
	e = q->used->ring[q->last_used & (q->size - 1)];
	q->last_used++;
	/* Polling with EVENT_IDX: keep used_event out of the device's reach. */
	if (!q->irq && q->event_idx)
		*used_event(q) = q->last_used + 0x8000;
	*len = e.len;
	*head = e.id;
	*token = NULL;
	if (e.id >= q->size || !q->busy[e.id]) {
		q->bad_used++;
		return true;
	}
	id = e.id;
	*token = q->token[id];
	q->busy[id] = false;
	if (q->chain[id]) {
		i = id;
		for (unsigned k = 1; k < q->chain[id]; k++)
			i = q->next[i];
		q->next[i] = q->free_head;
		q->free_head = id;
		q->nfree += q->chain[id];
	}
	return true;
}

u64 vq_irqs(struct virtq *q)
{
	u64 n = 0;

	for (unsigned c = 0; q->vec < NR_DEV_VECS && c < smp.ncpus; c++)
		n += irq_count(c, q->vec);
	return n;
}

int vq_wait(struct virtq *q, u64 timeout_us)
{
	u64 end = time_us() + timeout_us;
	u32 seen;

	for (;;) {
		if (vq_has_used(q))
			return 0;
		if (!q->irq) {
			if (time_us() > end)
				return -1;
			cpu_relax();
			continue;
		}
		/* Count first, then ask for an interrupt and look again: an
		 * entry published after the look raises the count. */
		seen = irq_count(q->cpu, q->vec);
		if (q->event_idx) {
			*used_event(q) = q->last_used;
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		}
		if (vq_has_used(q))
			return 0;
		q->sleeps++;
		while (irq_count(q->cpu, q->vec) == seen) {
			if (time_us() > end)
				return vq_has_used(q) ? -2 : -1;
			cpu_relax();
		}
	}
}

struct vq_req *vq_req_alloc(size_t size)
{
	return dma_alloc(size, 64);
}

unsigned vq_each_used(struct virtq *q, void (*fn)(void *token, u32 len, void *arg), void *arg)
{
	unsigned n = 0;
	void *token;
	u32 len;
	u16 head;

	while (vq_get_used(q, &token, &len, &head)) {
		if (!token)
			continue;	/* counted in q->bad_used */
		fn(token, len, arg);
		n++;
	}
	return n;
}

static void mark_done(void *token, u32 len, void *arg)
{
	struct vq_req *r = token;

	(void)arg;
	r->used_len = len;
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
}

unsigned vq_reap(struct virtq *q)
{
	return vq_each_used(q, mark_done, NULL);
}

int vq_kick_wait(struct virtq *q, struct vq_req *r, u64 timeout_us)
{
	vq_kick(q);
	while (!r->done) {
		int w = vq_wait(q, timeout_us);

		if (w < 0)
			return w;
		vq_reap(q);
	}
	return 0;
}

const char *vq_error_name(int r)
{
	switch (r) {
	case -1: return "timeout";
	case -2: return "completed without its interrupt";
	case -3: return "could not be queued";
	}
	return NULL;
}
