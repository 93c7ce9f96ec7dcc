// SPDX-License-Identifier: Apache-2.0
/* The modern virtio-pci transport: see pci.h. MSI-X lives in pci_msix.c. */
#include "virtio/pci_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "vmm/err.h"
#include "vmm/vm.h"

/* Common configuration layout (4.1.4.3), byte offsets. */
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
#define CC_QNDATA	56
#define CC_QRESET	58

#define ISR_QUEUE	1
#define ISR_CONFIG	2

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static inline void put64(uint8_t *p, uint64_t v) { put32(p, v); put32(p + 4, v >> 32); }
static inline uint16_t get16(const uint8_t *p) { return p[0] | p[1] << 8; }
static inline uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

void vpci_warn(struct virtio_pci *t, const char *fmt, ...)
{
	va_list ap;

	/* A guest can make these happen at will: cap the log. */
	if (t->warnings >= 16)
		return;
	if (++t->warnings == 16)
		fprintf(stderr, "kite: %s: further warnings suppressed\n", t->func.name);
	fprintf(stderr, "kite: %s: ", t->func.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- interrupts ---- */

static bool intx_disabled(struct virtio_pci *t)
{
	return t->func.cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8);
}

static void intx_raise(struct virtio_pci *t, unsigned why)
{
	atomic_fetch_or(&t->isr, why);
	if (!intx_disabled(t))
		vm_irq_line(t->vm, t->intx_gsi, 1);
}

void virtio_pci_notify(struct virtio_pci *t, unsigned idx)
{
	if (idx >= t->o.num_queues)
		return;
	if (atomic_load(&t->msix_enabled)) {
		uint16_t v = atomic_load(&t->queues[idx].msix_vector);

		if (v != VIRTIO_MSI_NO_VECTOR)
			vpci_msix_fire(t, v);
	} else {
		intx_raise(t, ISR_QUEUE);
	}
}

static void config_interrupt(struct virtio_pci *t)
{
	if (!(atomic_load(&t->status) & VIRTIO_STATUS_DRIVER_OK))
		return;
	if (atomic_load(&t->msix_enabled)) {
		uint16_t v = atomic_load(&t->config_vector);

		if (v != VIRTIO_MSI_NO_VECTOR)
			vpci_msix_fire(t, v);
	} else {
		intx_raise(t, ISR_CONFIG);
	}
}

void virtio_pci_config_changed(struct virtio_pci *t)
{
	atomic_fetch_add(&t->config_gen, 1);
	config_interrupt(t);
}

void virtio_pci_set_needs_reset(struct virtio_pci *t)
{
	if (atomic_fetch_or(&t->status, VIRTIO_STATUS_NEEDS_RESET) & VIRTIO_STATUS_NEEDS_RESET)
		return;
	config_interrupt(t);
}

/* ---- status, features, queues ---- */

static void do_reset(struct virtio_pci *t)
{
	/* The device drains first: its I/O threads may still write the rings. */
	t->o.ops->reset(t->o.dev);
	for (unsigned i = 0; i < t->o.num_queues; i++) {
		struct vpci_queue *q = &t->queues[i];

		virtq_reset(&q->vq);
		q->enabled = false;
		q->size = t->o.queue_size;
		q->desc = q->driver = q->device = 0;
		atomic_store(&q->msix_vector, VIRTIO_MSI_NO_VECTOR);
	}
	t->dfselect = t->gfselect = 0;
	t->guest_features = 0;
	t->queue_select = 0;
	atomic_store(&t->config_vector, VIRTIO_MSI_NO_VECTOR);
	atomic_store(&t->status, 0);
	if (atomic_exchange(&t->isr, 0))
		vm_irq_line(t->vm, t->intx_gsi, 0);
}

void virtio_pci_reset(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	do_reset(t);
	pthread_mutex_unlock(&t->lock);
}

static void write_status(struct virtio_pci *t, uint8_t v)
{
	unsigned old = atomic_load(&t->status);

	if (v == 0) {
		do_reset(t);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t g = t->guest_features;

		/* 3.1.1: the driver re-reads status to learn we refused. */
		if (g & ~t->host_features) {
			vpci_warn(t, "driver accepted features 0x%llx that were not offered",
				  (unsigned long long)(g & ~t->host_features));
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		} else if (!(g & (1ULL << VIRTIO_F_VERSION_1))) {
			vpci_warn(t, "driver did not accept VERSION_1 (legacy drivers are not supported)");
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	/* NEEDS_RESET is the device's; only a reset clears it. */
	atomic_store(&t->status, v | (old & VIRTIO_STATUS_NEEDS_RESET));
}

static void enable_queue(struct virtio_pci *t, unsigned idx)
{
	struct vpci_queue *q = &t->queues[idx];
	int r;

	if (q->enabled)
		return;
	if (!(atomic_load(&t->status) & VIRTIO_STATUS_FEATURES_OK)) {
		vpci_warn(t, "queue %u enabled before FEATURES_OK", idx);
		virtio_pci_set_needs_reset(t);
		return;
	}
	r = virtq_enable(&q->vq, t->mem, q->size, q->desc, q->driver, q->device,
			 t->guest_features);
	if (r < 0) {
		vpci_warn(t, "queue %u: %s", idx, err_msg());
		virtio_pci_set_needs_reset(t);
		return;
	}
	r = t->o.ops->queue_enable(t->o.dev, idx, &q->vq);
	if (r < 0) {
		vpci_warn(t, "queue %u: device refused: %s", idx, err_msg());
		virtq_reset(&q->vq);
		virtio_pci_set_needs_reset(t);
		return;
	}
	q->enabled = true;
}

static uint16_t check_vector(struct virtio_pci *t, uint16_t v)
{
	/* 4.1.5.1.2: an unusable vector reads back as NO_VECTOR. */
	return v < t->nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

/* The common config as the guest sees it now. */
static void common_image(struct virtio_pci *t, uint8_t *img)
{
	struct vpci_queue *q = t->queue_select < t->o.num_queues ? &t->queues[t->queue_select]
								  : NULL;

	memset(img, 0, VIRTIO_PCI_COMMON_LEN);
	put32(img + CC_DFSELECT, t->dfselect);
	if (t->dfselect < 2)
		put32(img + CC_DF, (uint32_t)(t->host_features >> (32 * t->dfselect)));
	put32(img + CC_GFSELECT, t->gfselect);
	if (t->gfselect < 2)
		put32(img + CC_GF, (uint32_t)(t->guest_features >> (32 * t->gfselect)));
	put16(img + CC_MSIX, atomic_load(&t->config_vector));
	put16(img + CC_NUMQ, t->o.num_queues);
	img[CC_STATUS] = atomic_load(&t->status);
	img[CC_GEN] = atomic_load(&t->config_gen);
	put16(img + CC_QSEL, t->queue_select);
	if (q) {
		put16(img + CC_QSIZE, q->size);
		put16(img + CC_QMSIX, atomic_load(&q->msix_vector));
		put16(img + CC_QENABLE, q->enabled);
		put16(img + CC_QNOTIFY, t->queue_select);
		put64(img + CC_QDESC, q->desc);
		put64(img + CC_QDRIVER, q->driver);
		put64(img + CC_QDEVICE, q->device);
	}
}

static const struct { uint8_t off, size; } cc_fields[] = {
	{ CC_DFSELECT, 4 }, { CC_GFSELECT, 4 }, { CC_GF, 4 }, { CC_MSIX, 2 },
	{ CC_STATUS, 1 }, { CC_QSEL, 2 }, { CC_QSIZE, 2 }, { CC_QMSIX, 2 },
	{ CC_QENABLE, 2 }, { CC_QDESC, 8 }, { CC_QDRIVER, 8 }, { CC_QDEVICE, 8 },
};

static void common_set(struct virtio_pci *t, unsigned off, const uint8_t *img)
{
	struct vpci_queue *q = t->queue_select < t->o.num_queues ? &t->queues[t->queue_select]
								  : NULL;
	unsigned half;

	switch (off) {
	case CC_DFSELECT:
		t->dfselect = get32(img + off);
		break;
	case CC_GFSELECT:
		t->gfselect = get32(img + off);
		break;
	case CC_GF:
		/* Fixed once FEATURES_OK is set (3.1.1). */
		if (t->gfselect >= 2 || (atomic_load(&t->status) & VIRTIO_STATUS_FEATURES_OK))
			break;
		half = 32 * t->gfselect;
		t->guest_features = (t->guest_features & ~(0xffffffffULL << half)) |
				    (uint64_t)get32(img + off) << half;
		break;
	case CC_MSIX:
		atomic_store(&t->config_vector, check_vector(t, get16(img + off)));
		break;
	case CC_STATUS:
		write_status(t, img[off]);
		break;
	case CC_QSEL:
		t->queue_select = get16(img + off);
		break;
	case CC_QSIZE:
		/* Sizes and addresses are only taken while the queue is off. */
		if (q && !q->enabled && get16(img + off) <= t->o.queue_size)
			q->size = get16(img + off);
		break;
	case CC_QMSIX:
		if (q)
			atomic_store(&q->msix_vector, check_vector(t, get16(img + off)));
		break;
	case CC_QENABLE:
		/* Writing 0 is not allowed (4.1.4.3.2); only reset disables. */
		if (q && get16(img + off) == 1)
			enable_queue(t, t->queue_select);
		break;
	case CC_QDESC:
	case CC_QDRIVER:
	case CC_QDEVICE:
		if (q && !q->enabled) {
			uint64_t *a = off == CC_QDESC ? &q->desc
				    : off == CC_QDRIVER ? &q->driver : &q->device;
			*a = get64(img + off);
		}
		break;
	}
}

static void common_access(struct virtio_pci *t, unsigned off, uint8_t *data, unsigned len,
			  bool is_write)
{
	uint8_t img[VIRTIO_PCI_COMMON_LEN];

	common_image(t, img);
	if (!is_write) {
		memcpy(data, img + off, len);
		return;
	}
	memcpy(img + off, data, len);
	/* Apply each field the write touched; a 32-bit half of an address
	 * merges with the other half already there. */
	for (unsigned i = 0; i < sizeof(cc_fields) / sizeof(cc_fields[0]); i++) {
		unsigned fo = cc_fields[i].off, fs = cc_fields[i].size;

		if (off < fo + fs && fo < off + len)
			common_set(t, fo, img);
	}
}

/* ---- the BAR ---- */

static void notify_write(struct virtio_pci *t, unsigned off)
{
	unsigned idx = off / VIRTIO_PCI_NOTIFY_MULT;
	uint64_t one = 1;

	/* Reached only when the ioeventfd is not wired: hand the kick to the
	 * same eventfd so the device sees one kind of kick. */
	if (idx < t->o.num_queues && write(t->queues[idx].kick_fd, &one, 8) != 8)
		vpci_warn(t, "queue %u: kick eventfd write failed", idx);
}

/* Every BAR access, with t->lock held. */
void vpci_bar_locked(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
		     bool is_write)
{
	if (!is_write)
		memset(data, 0, len);
	if (off + len <= VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_LEN) {	/* COMMON_OFF is 0 */
		common_access(t, off - VIRTIO_PCI_COMMON_OFF, data, len, is_write);
	} else if (off == VIRTIO_PCI_ISR_OFF && !is_write) {
		/* Read-to-clear (4.1.4.5), which also deasserts INTx. */
		data[0] = atomic_exchange(&t->isr, 0);
		if (data[0])
			vm_irq_line(t->vm, t->intx_gsi, 0);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off + len <= VIRTIO_PCI_DEVICE_OFF + t->o.config_len) {
		unsigned o = off - VIRTIO_PCI_DEVICE_OFF;

		if (!is_write)
			memcpy(data, (const uint8_t *)t->o.config + o, len);
		else if (t->o.ops->config_write)
			t->o.ops->config_write(t->o.dev, o, data, len);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF &&
		   off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * t->o.num_queues) {
		if (is_write)
			notify_write(t, off - VIRTIO_PCI_NOTIFY_OFF);
	} else {
		vpci_msix_access(t, off, data, len, is_write);
	}
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct virtio_pci *t = opaque;

	pthread_mutex_lock(&t->lock);
	vpci_bar_locked(t, off, data, len, is_write);
	pthread_mutex_unlock(&t->lock);
}

/* Keep the notify ioeventfds on the BAR wherever the guest put it. */
static void sync_ioeventfds(struct virtio_pci *t)
{
	const struct pci_bar *b = &t->func.bars[VIRTIO_PCI_BAR];
	uint64_t want = b->mapped ? b->addr : 0;

	if (want == t->ioev_base)
		return;
	for (unsigned i = 0; t->ioev_base && i < t->o.num_queues; i++)
		irq_ioeventfd_del(t->irq, t->ioev_base + VIRTIO_PCI_NOTIFY_OFF +
				  VIRTIO_PCI_NOTIFY_MULT * i, 0, t->queues[i].kick_fd);
	t->ioev_base = 0;
	for (unsigned i = 0; want && i < t->o.num_queues; i++) {
		if (irq_ioeventfd_add(t->irq, want + VIRTIO_PCI_NOTIFY_OFF +
				      VIRTIO_PCI_NOTIFY_MULT * i, 0, t->queues[i].kick_fd) < 0) {
			/* Kicks then exit to userspace and take notify_write(). */
			vpci_warn(t, "%s; kicks take the slow path", err_msg());
			while (i--)
				irq_ioeventfd_del(t->irq, want + VIRTIO_PCI_NOTIFY_OFF +
						  VIRTIO_PCI_NOTIFY_MULT * i, 0, t->queues[i].kick_fd);
			return;
		}
	}
	t->ioev_base = want;
}

void vpci_sync_ioeventfds(struct virtio_pci *t)
{
	sync_ioeventfds(t);
}

/* ---- PCI config space ---- */

static bool overlaps(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
	return a < b + blen && b < a + alen;
}

/* VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): a window onto the BAR through config
 * space, for firmware that cannot reach the BAR. */
static void pcicfg_access(struct virtio_pci *t, bool is_write)
{
	uint8_t *c = &t->func.cfg[t->pcicfg_cap];
	uint32_t off = get32(c + 8), len = get32(c + 12);

	if (c[4] != VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) ||
	    off > VIRTIO_PCI_BAR_SIZE - len)
		return;
	vpci_bar_locked(t, off, c + 16, len, is_write);
}

static void cfg_write(struct pci_func *f, unsigned off, unsigned len)
{
	struct virtio_pci *t = f->opaque;

	pthread_mutex_lock(&t->lock);
	if (overlaps(off, len, PCI_COMMAND, 2) ||
	    overlaps(off, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
		sync_ioeventfds(t);
	if (overlaps(off, len, t->msix_cap + 2, 2))
		vpci_msix_control(t);
	if (overlaps(off, len, t->pcicfg_cap + 16, 4))
		pcicfg_access(t, true);
	pthread_mutex_unlock(&t->lock);
}

static void cfg_read(struct pci_func *f, unsigned off, unsigned len)
{
	struct virtio_pci *t = f->opaque;

	pthread_mutex_lock(&t->lock);
	if (overlaps(off, len, PCI_STATUS, 1)) {
		if (atomic_load(&t->isr))
			f->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
		else
			f->cfg[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	}
	if (overlaps(off, len, t->pcicfg_cap + 16, 4))
		pcicfg_access(t, false);
	pthread_mutex_unlock(&t->lock);
}

static const struct pci_func_ops vpci_cfg_ops = {
	.config_write = cfg_write,
	.config_read = cfg_read,
};

static int add_vcap(struct pci_func *f, uint8_t type, uint32_t off, uint32_t len,
		    const uint8_t *extra, unsigned extra_len, const uint8_t *wmask)
{
	uint8_t body[18] = { 0 };

	body[0] = 16 + extra_len;		/* cap_len */
	body[1] = type;
	body[2] = VIRTIO_PCI_BAR;
	put32(body + 6, off);
	put32(body + 10, len);
	if (extra_len)
		memcpy(body + 14, extra, extra_len);
	return pci_func_add_cap(f, 0x09, body, wmask, 14 + extra_len);
}

static int add_caps(struct virtio_pci *t)
{
	struct pci_func *f = &t->func;
	uint8_t mult[4], zero[4] = { 0 }, wm[18];
	int r;

	put32(mult, VIRTIO_PCI_NOTIFY_MULT);
	r = add_vcap(f, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN,
		     NULL, 0, NULL);
	if (r >= 0)
		r = add_vcap(f, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
			     VIRTIO_PCI_NOTIFY_MULT * t->o.num_queues, mult, 4, NULL);
	if (r >= 0)
		r = add_vcap(f, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_ISR_LEN,
			     NULL, 0, NULL);
	if (r >= 0 && t->o.config_len)
		r = add_vcap(f, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, t->o.config_len,
			     NULL, 0, NULL);
	if (r >= 0) {
		/* bar, offset, length and the data window are the driver's. */
		memset(wm, 0, sizeof(wm));
		wm[2] = 0xff;
		memset(wm + 6, 0xff, 12);
		r = add_vcap(f, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, zero, 4, wm);
		t->pcicfg_cap = r;
	}
	if (r >= 0)
		r = vpci_msix_add_cap(t);
	return r < 0 ? r : 0;
}

int virtio_pci_create(struct virtio_pci **out, struct vm *vm, struct pci_host *host,
		      struct irq_router *irq, const struct guest_mem *mem,
		      const struct virtio_pci_opts *o)
{
	struct virtio_pci *t;
	int r;

	if (!o->num_queues || o->num_queues > VIRTIO_PCI_MAX_QUEUES ||
	    o->config_len > VIRTIO_PCI_DEVICE_MAX || !o->queue_size ||
	    o->queue_size > VIRTQ_MAX_SIZE || (o->queue_size & (o->queue_size - 1)))
		return err_set(EINVAL, "%s: bad virtio-pci parameters", o->name);
	t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(ENOMEM, "%s", o->name);
	t->vm = vm;
	t->irq = irq;
	t->mem = mem;
	t->o = *o;
	t->host_features = o->features | 1ULL << VIRTIO_F_VERSION_1;
	t->nvec = o->num_queues + 1;
	pthread_mutex_init(&t->lock, NULL);
	atomic_store(&t->config_vector, VIRTIO_MSI_NO_VECTOR);
	t->queues = calloc(o->num_queues, sizeof(*t->queues));
	if (!t->queues) {
		free(t);
		return err_set(ENOMEM, "%s", o->name);
	}
	for (unsigned i = 0; i < o->num_queues; i++) {
		t->queues[i].size = o->queue_size;
		t->queues[i].kick_fd = -1;
		atomic_store(&t->queues[i].msix_vector, VIRTIO_MSI_NO_VECTOR);
	}
	for (unsigned i = 0; i < o->num_queues; i++) {
		t->queues[i].kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (t->queues[i].kick_fd < 0) {
			r = err_sys(errno, "%s: eventfd", o->name);
			goto fail;
		}
	}
	r = vpci_msix_init(t);
	if (r < 0)
		goto fail;

	pci_func_init(&t->func, o->name, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + o->device_id,
		      o->class_code, 1, VIRTIO_PCI_VENDOR, o->device_id);
	t->func.cfg[PCI_INTERRUPT_PIN] = 1;	/* INTA */
	t->func.ops = &vpci_cfg_ops;
	t->func.opaque = t;
	pci_func_set_bar(&t->func, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, bar_io, t);
	r = add_caps(t);
	if (r < 0)
		goto fail;
	r = pci_add(host, &t->func);
	if (r < 0)
		goto fail;
	t->intx_gsi = pci_intx_gsi(t->func.slot, 0);
	pthread_mutex_lock(&t->lock);
	sync_ioeventfds(t);
	pthread_mutex_unlock(&t->lock);
	*out = t;
	return 0;
fail:
	virtio_pci_destroy(t);
	return r;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (!t)
		return;
	/* The function stays on the PCI host (there is no pci_remove): this
	 * runs when the whole VM goes away. */
	if (t->ioev_base)
		for (unsigned i = 0; i < t->o.num_queues; i++)
			irq_ioeventfd_del(t->irq, t->ioev_base + VIRTIO_PCI_NOTIFY_OFF +
					  VIRTIO_PCI_NOTIFY_MULT * i, 0, t->queues[i].kick_fd);
	vpci_msix_free(t);
	for (unsigned i = 0; t->queues && i < t->o.num_queues; i++)
		if (t->queues[i].kick_fd >= 0)
			close(t->queues[i].kick_fd);
	free(t->queues);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int virtio_pci_kick_fd(const struct virtio_pci *t, unsigned idx)
{
	return idx < t->o.num_queues ? t->queues[idx].kick_fd : -1;
}

uint64_t virtio_pci_features(const struct virtio_pci *t)
{
	return t->guest_features;
}

struct pci_func *virtio_pci_func(struct virtio_pci *t)
{
	return &t->func;
}
