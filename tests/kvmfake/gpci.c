// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's guest program: PCI configuration mechanism #1, the virtio
 * modern PCI transport (virtio 1.2, 4.1), MSI-X, split virtqueues (2.7).
 */
#include <stdio.h>
#include <string.h>

#include "gprog.h"

#define GMEM_START	0x800000ULL	/* 8 MiB: kite's boot data sits far below */
#define MSI_ADDR	0xfee00000ULL

/* common configuration (4.1.4.3) */
#define C_DFSEL		0x00
#define C_DF		0x04
#define C_GFSEL		0x08
#define C_GF		0x0c
#define C_MSIX		0x10
#define C_NUMQ		0x12
#define C_STATUS	0x14
#define C_QSEL		0x16
#define C_QSIZE		0x18
#define C_QMSIX		0x1a
#define C_QENABLE	0x1c
#define C_QNOFF		0x1e
#define C_QDESC		0x20
#define C_QDRIVER	0x28
#define C_QDEVICE	0x30

#define S_ACK		1
#define S_DRIVER	2
#define S_DRIVER_OK	4
#define S_FEATURES_OK	8
#define S_NEEDS_RESET	64

#define F_VERSION_1	(1ULL << 32)

#define D_NEXT		1
#define D_WRITE		2

static uint64_t brk_gpa = GMEM_START;
static unsigned next_vec = 0x30;

void galloc_from(uint64_t gpa)
{
	brk_gpa = gpa;
}

uint64_t galloc(size_t size, size_t align)
{
	uint64_t at = (brk_gpa + align - 1) & ~(uint64_t)(align - 1);
	static const uint8_t zero[4096];

	brk_gpa = at + size;
	for (size_t off = 0; off < size; off += sizeof(zero))
		g_write(at + off, zero, size - off < sizeof(zero) ? size - off : sizeof(zero));
	return at;
}

static uint8_t pat(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;

	return (uint8_t)(x ^ x >> 13 ^ x >> 24);
}

void gfill(uint64_t gpa, size_t len, uint32_t seed)
{
	uint8_t b[512];

	for (size_t off = 0; off < len; off += sizeof(b)) {
		size_t n = len - off < sizeof(b) ? len - off : sizeof(b);

		for (size_t i = 0; i < n; i++)
			b[i] = pat(seed, off + i);
		g_write(gpa + off, b, n);
	}
}

bool gcheck(uint64_t gpa, size_t len, uint32_t seed)
{
	const uint8_t *p = g_ram(gpa, len);

	if (!p)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(seed, i))
			return false;
	return true;
}

static void w(uint64_t gpa, uint64_t v, unsigned len)
{
	g_write(gpa, &v, len);	/* little-endian host, little-endian guest */
}

uint64_t gread(uint64_t gpa, unsigned len)
{
	uint64_t v = 0;
	const void *p = g_ram(gpa, len);

	if (p) {
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		memcpy(&v, p, len);
	}
	return v;
}

void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	g_write(table + 16ULL * i, d, 16);
}

uint64_t xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* ---- PCI configuration space through 0xcf8/0xcfc ---- */

static uint32_t pci_read(unsigned slot, unsigned off, unsigned len)
{
	g_pio(0xcf8, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	return (uint32_t)g_pio(0xcfc + (off & 3), len, false, 0);
}

static void pci_write(unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	g_pio(0xcf8, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	g_pio(0xcfc + (off & 3), len, true, v);
}

static uint64_t bar_addr(unsigned slot, unsigned bar)
{
	uint32_t lo = pci_read(slot, 0x10 + 4 * bar, 4);
	uint64_t a = lo & ~0xfULL;

	if (lo & 1)
		return 0;			/* an I/O BAR: virtio's are memory */
	if (((lo >> 1) & 3) == 2 && bar < 5)
		a |= (uint64_t)pci_read(slot, 0x14 + 4 * bar, 4) << 32;
	return a;
}

static const char *type_name(unsigned t)
{
	return t == 1 ? "net" : t == 2 ? "blk" : t == 8 ? "scsi" : "other";
}

unsigned pci_scan(struct vdev *devs, unsigned max)
{
	unsigned n = 0, count[10] = { 0 };

	for (unsigned slot = 0; slot < 32 && n < max; slot++) {
		uint32_t id = pci_read(slot, 0, 4);
		struct vdev *d = &devs[n];

		if ((id & 0xffff) != 0x1af4 || (id >> 16) < 0x1040 || (id >> 16) > 0x107f)
			continue;
		memset(d, 0, sizeof(*d));
		d->slot = slot;
		d->type = (id >> 16) - 0x1040;
		snprintf(d->name, sizeof(d->name), "%s%u", type_name(d->type),
			 count[d->type < 10 ? d->type : 0]++);
		/* Memory decoding and bus mastering on, as firmware would. */
		pci_write(slot, 4, 2, pci_read(slot, 4, 2) | 0x6);
		for (unsigned cap = pci_read(slot, 0x34, 1) & 0xfc, hops = 0; cap && hops < 48;
		     cap = pci_read(slot, cap + 1, 1) & 0xfc, hops++) {
			unsigned vndr = pci_read(slot, cap, 1);

			if (vndr == 0x11) {		/* MSI-X */
				uint32_t t = pci_read(slot, cap + 4, 4);

				d->msix_cap = cap;
				d->msix_n = (pci_read(slot, cap + 2, 2) & 0x7ff) + 1;
				d->msix = bar_addr(slot, t & 7) + (t & ~7u);
			} else if (vndr == 0x09) {	/* virtio */
				unsigned type = pci_read(slot, cap + 3, 1);
				uint64_t at = bar_addr(slot, pci_read(slot, cap + 4, 1)) +
					      pci_read(slot, cap + 8, 4);

				if (type == 1)
					d->common = at;
				else if (type == 2) {
					d->notify = at;
					d->notify_mult = pci_read(slot, cap + 16, 4);
				} else if (type == 3)
					d->isr = at;
				else if (type == 4)
					d->cfg = at;
			}
		}
		say("pci 00:%02x.0 1af4:%04x virtio-%s, common at 0x%llx, %u MSI-X vectors\n", slot,
		    id >> 16, type_name(d->type), (unsigned long long)d->common, d->msix_n);
		n++;
	}
	return n;
}

/* ---- the transport ---- */

static uint64_t cc(struct vdev *d, unsigned off, unsigned len)
{
	return g_mmio(d->common + off, len, false, 0);
}

static void cw(struct vdev *d, unsigned off, unsigned len, uint64_t v)
{
	if (len == 8) {			/* as two 32-bit halves (4.1.3.1) */
		g_mmio(d->common + off, 4, true, (uint32_t)v);
		g_mmio(d->common + off + 4, 4, true, v >> 32);
	} else {
		g_mmio(d->common + off, len, true, v);
	}
}

static uint64_t cc64(struct vdev *d, unsigned off)
{
	return cc(d, off, 4) | cc(d, off + 4, 4) << 32;
}

void common_write(struct vdev *d, unsigned off, unsigned len, uint64_t v)
{
	cw(d, off, len, v);
}

uint64_t common_read(struct vdev *d, unsigned off, unsigned len)
{
	return cc(d, off, len);
}

uint64_t cfg_read(struct vdev *d, unsigned off, unsigned len)
{
	return g_mmio(d->cfg + off, len, false, 0);
}

uint8_t vdev_status(struct vdev *d)
{
	return (uint8_t)cc(d, C_STATUS, 1);
}

static void msix_entry(struct vdev *d, unsigned entry, unsigned vec)
{
	uint64_t e = d->msix + 16 * entry;

	g_mmio(e, 4, true, (uint32_t)MSI_ADDR);
	g_mmio(e + 4, 4, true, 0);
	g_mmio(e + 8, 4, true, vec);
	g_mmio(e + 12, 4, true, 0);		/* unmasked */
}

bool vdev_init(struct vdev *d, uint64_t want, unsigned nq, char *why)
{
	uint64_t offered;
	unsigned max;

	if (!d->common || !d->notify || !d->isr || !d->msix)
		return WHY("a virtio or MSI-X capability is missing");
	cw(d, C_STATUS, 1, 0);
	for (int i = 0; vdev_status(d) && i < 1000; i++)
		;
	if (vdev_status(d))
		return WHY("status not 0 after reset");
	cw(d, C_STATUS, 1, S_ACK);
	cw(d, C_STATUS, 1, S_ACK | S_DRIVER);
	cw(d, C_DFSEL, 4, 0);
	offered = cc(d, C_DF, 4);
	cw(d, C_DFSEL, 4, 1);
	offered |= cc(d, C_DF, 4) << 32;
	if (!(offered & F_VERSION_1))
		return WHY("VERSION_1 not offered (features 0x%llx)", (unsigned long long)offered);
	d->features = offered & (want | F_VERSION_1);
	cw(d, C_GFSEL, 4, 0);
	cw(d, C_GF, 4, (uint32_t)d->features);
	cw(d, C_GFSEL, 4, 1);
	cw(d, C_GF, 4, d->features >> 32);
	cw(d, C_STATUS, 1, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(vdev_status(d) & S_FEATURES_OK))
		return WHY("FEATURES_OK not kept for 0x%llx", (unsigned long long)d->features);

	/* MSI-X on, every vector of ours, the function unmasked. */
	pci_write(d->slot, d->msix_cap + 2, 2, 0x8000);
	max = (unsigned)cc(d, C_NUMQ, 2);
	d->nq = nq < max ? nq : max;
	if (d->nq > VQ_MAX || d->nq + 1 > d->msix_n)
		return WHY("%u queues, %u vectors", d->nq, d->msix_n);
	for (unsigned i = 0; i < d->nq; i++) {
		struct vq *q = &d->q[i];
		unsigned size;

		cw(d, C_QSEL, 2, i);
		size = (unsigned)cc(d, C_QSIZE, 2);
		if (!size || size & (size - 1))
			return WHY("queue %u: size %u", i, size);
		if (size > 256)
			size = 256;
		cw(d, C_QSIZE, 2, size);
		if (q->desc && q->size == size) {
			/* Set up again (after a reset): the same rings, emptied,
			 * and the same vector. */
			static const uint8_t zero[16 * 256];

			g_write(q->desc, zero, 16 * size);
			g_write(q->avail, zero, 6 + 2 * size);
			g_write(q->used, zero, 6 + 8 * size);
			q->next_avail = q->used_seen = 0;
		} else {
			memset(q, 0, sizeof(*q));
			q->size = size;
			q->vec = next_vec++;
			q->desc = galloc(16 * size, 16);
			q->avail = galloc(6 + 2 * size, 2);
			q->used = galloc(6 + 8 * size, 4);
		}
		q->index = i;
		while (g_wait_vector(q->vec, 0))
			;	/* interrupts of the device's last life */
		q->notify = d->notify + cc(d, C_QNOFF, 2) * d->notify_mult;
		msix_entry(d, i, q->vec);
		cw(d, C_QMSIX, 2, i);
		if (cc(d, C_QMSIX, 2) != i)
			return WHY("queue %u: MSI-X vector %u refused", i, i);
		cw(d, C_QDESC, 8, q->desc);
		cw(d, C_QDRIVER, 8, q->avail);
		cw(d, C_QDEVICE, 8, q->used);
		cw(d, C_QENABLE, 2, 1);
	}
	if (!d->cfg_vec)
		d->cfg_vec = next_vec++;
	msix_entry(d, d->nq, d->cfg_vec);
	cw(d, C_MSIX, 2, d->nq);
	cw(d, C_STATUS, 1, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if (vdev_status(d) & S_NEEDS_RESET)
		return WHY("DEVICE_NEEDS_RESET after DRIVER_OK");
	return true;
}

bool vdev_attach(struct vdev *d, char *why)
{
	uint8_t st = vdev_status(d);

	if (!(st & S_DRIVER_OK))
		return WHY("status 0x%x: not DRIVER_OK", st);
	cw(d, C_GFSEL, 4, 0);
	d->features = cc(d, C_GF, 4);
	cw(d, C_GFSEL, 4, 1);
	d->features |= cc(d, C_GF, 4) << 32;
	d->nq = 0;
	for (unsigned i = 0; i < VQ_MAX && i < (unsigned)cc(d, C_NUMQ, 2); i++) {
		struct vq *q = &d->q[i];
		unsigned entry;

		cw(d, C_QSEL, 2, i);
		if (!cc(d, C_QENABLE, 2))
			break;
		memset(q, 0, sizeof(*q));
		q->index = i;
		q->size = (unsigned)cc(d, C_QSIZE, 2);
		q->desc = cc64(d, C_QDESC);
		q->avail = cc64(d, C_QDRIVER);
		q->used = cc64(d, C_QDEVICE);
		q->notify = d->notify + cc(d, C_QNOFF, 2) * d->notify_mult;
		entry = (unsigned)cc(d, C_QMSIX, 2);
		q->vec = entry < d->msix_n ? g_mmio(d->msix + 16 * entry + 8, 4, false, 0) & 0xff : 0;
		q->next_avail = (uint16_t)gread(q->avail + 2, 2);
		q->used_seen = (uint16_t)gread(q->used + 2, 2);
		if (q->used_seen != q->next_avail)
			return WHY("queue %u: avail %u, used %u: requests in flight after a "
				   "hand-over", i, q->next_avail, q->used_seen);
		d->nq++;
	}
	if (!d->nq)
		return WHY("no queue enabled");
	return true;
}

/* ---- split virtqueues ---- */

void vq_post(struct vq *q, const struct buf *b, unsigned n)
{
	unsigned head = (q->next_avail * 4u) % q->size;	/* 4 descriptors a request */

	for (unsigned i = 0; i < n; i++)
		put_desc(q->desc, (head + i) % q->size, b[i].gpa, b[i].len,
			 (i + 1 < n ? D_NEXT : 0) | (b[i].writable ? D_WRITE : 0),
			 (uint16_t)((head + i + 1) % q->size));
	q->first_gpa[(head / 4) % 64] = b[0].gpa;
	w(q->avail + 4 + 2 * (q->next_avail % q->size), head, 2);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->next_avail++;
	w(q->avail + 2, q->next_avail, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	g_mmio(q->notify, 2, true, q->index);
}

bool vq_wait(struct vq *q, unsigned timeout_ms, uint32_t *written, bool *irq)
{
	unsigned waited = 0;

	while ((uint16_t)gread(q->used + 2, 2) == q->used_seen) {
		if (waited >= timeout_ms)
			return false;
		if (g_wait_vector(q->vec, 20)) {
			if (irq)
				*irq = true;
		} else {
			waited += 20;
		}
	}
	q->last_id = (uint32_t)gread(q->used + 4 + 8 * (q->used_seen % q->size), 4);
	if (written)
		*written = (uint32_t)gread(q->used + 4 + 8 * (q->used_seen % q->size) + 4, 4);
	q->used_seen++;
	/* An interrupt that raced the poll above is still ours to take. */
	if (irq && !*irq)
		*irq = g_wait_vector(q->vec, 200);
	return true;
}

bool vq_request(struct vq *q, const struct buf *b, unsigned n, uint32_t *written, char *why)
{
	bool irq = false;

	vq_post(q, b, n);
	if (!vq_wait(q, 10000, written, &irq))
		return WHY("queue %u: no completion in 10 s", q->index);
	if (!irq)
		return WHY("queue %u: completed without its interrupt (vector 0x%x)", q->index,
			   q->vec);
	return true;
}
