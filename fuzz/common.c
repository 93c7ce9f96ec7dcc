// SPDX-License-Identifier: Apache-2.0
/* Shared by the harnesses: see fuzz.h. */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/bus.h"
#include "vmm/crc32c.h"
#include "vmm/snapshot.h"
#include "devices/pci.h"
#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "virtio/pci.h"
#include "vmm/err.h"
#include "vmm/iothread.h"

struct guest_mem fuzz_ram;
static uint8_t *ram_block;

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "fuzz: invariant broken at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	/* Not to stderr: run.sh closes it (-close_fd_mask=2) to keep the
	 * devices' guest warnings out of the logs; this goes where the
	 * sanitizers' reports go, which libFuzzer keeps open. */
	__sanitizer_report_error_summary(msg);
	abort();
}

void ram_reset(void)
{
	const uint64_t total = RAM_LOW_SIZE + RAM_HIGH_SIZE;

	if (!ram_block) {
		ram_block = malloc(total);
		FUZZ_CHECK(ram_block, "%llu bytes", (unsigned long long)total);
		fuzz_ram = (struct guest_mem){
			.fd = -1, .base = ram_block, .size = total, .page_size = 4096, .nregions = 2,
		};
		fuzz_ram.regions[0] = (struct guest_region){ 0, RAM_LOW_SIZE, ram_block, 0 };
		fuzz_ram.regions[1] = (struct guest_region){
			RAM_HIGH_GPA, RAM_HIGH_SIZE, ram_block + RAM_LOW_SIZE, RAM_LOW_SIZE,
		};
	}
	memset(ram_block, 0, total);
}

void *ram_ptr(uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&fuzz_ram, gpa, len);

	FUZZ_CHECK(p, "gpa 0x%llx + 0x%llx", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

void ram_check_iov(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		bool inside = false;

		for (unsigned k = 0; k < fuzz_ram.nregions; k++) {
			const struct guest_region *r = &fuzz_ram.regions[k];

			if (p >= r->host && (uint64_t)(p - r->host) <= r->size &&
			    len <= r->size - (uint64_t)(p - r->host))
				inside = true;
		}
		FUZZ_CHECK(inside, "iovec %u (host %p + %zu) is not inside one RAM region", i,
			   (const void *)p, len);
	}
}

bool ring_input_load(const uint8_t *data, size_t len, unsigned max_log2, struct ring_input *in)
{
	struct ring_hdr h;
	unsigned log2;
	size_t body;

	if (len < sizeof(h))
		return false;
	memcpy(&h, data, sizeof(h));
	log2 = h.size_log2 % 16;
	if (log2 > max_log2)
		log2 = max_log2;
	*in = (struct ring_input){
		.size = 1u << log2, .features = h.features, .flags = h.flags,
		.extra = h.extra, .start = h.start,
	};
	in->avail_gpa = RING_GPA + 16ULL * in->size;
	ram_reset();
	body = len - sizeof(h) < RING_BODY_MAX ? len - sizeof(h) : RING_BODY_MAX;
	if (body)
		memcpy(ram_ptr(RING_GPA, body), data + sizeof(h), body);
	return true;
}

uint64_t ring_input_features(const struct ring_input *in, uint64_t offered)
{
	if (!(in->features & RING_F_EVENT_IDX))
		offered &= ~(1ULL << VIRTQ_F_EVENT_IDX);
	if (!(in->features & RING_F_INDIRECT))
		offered &= ~(1ULL << VIRTQ_F_INDIRECT_DESC);
	return offered;
}

void ring_check_used(const struct ring_input *in)
{
	uint16_t used;

	memcpy(&used, ram_ptr(USED_GPA + 2, 2), 2);
	for (unsigned i = 0; i < used && i < in->size; i++) {
		uint32_t id;

		memcpy(&id, ram_ptr(USED_GPA + 4 + 8ULL * i, 4), 4);
		FUZZ_CHECK(id < in->size, "used entry %u: id %u, queue size %u", i, id, in->size);
	}
}

/* ---- the device harnesses' host ---- */

static struct fake_kvm host_kvm;

void fuzz_host_init(struct fuzz_host *h)
{
	fio_reset();
	bus_init(&h->pio, "pio");
	bus_init(&h->mmio, "mmio");
	FUZZ_CHECK(pci_host_init(&h->host, &h->pio, &h->mmio) == 0, "%s", err_msg());
	FUZZ_CHECK(irq_router_init(&h->irq, &fake_kvm_ops, fake_kvm_reset(&host_kvm)) == 0, "%s",
		   err_msg());
	fake_vm_reset();
}

void fuzz_host_destroy(struct fuzz_host *h)
{
	irq_router_destroy(&h->irq);
	bus_destroy(&h->pio);
	bus_destroy(&h->mmio);
}

/* ---- the fake I/O thread ---- */

#define FIO_PENDING	1024
#define FIO_WATCHES	16
#define FIO_HOOKS	4

static struct { struct io_op *op; int res; } pend[FIO_PENDING];
static unsigned npend;
static struct { int fd; struct io_op *op; } watches[FIO_WATCHES];
static unsigned nwatch;
struct fio_hook {
	iothread_hook_fn fn;
	void *opaque;
};
static struct fio_hook batch[FIO_HOOKS], idle[FIO_HOOKS];
static unsigned nbatch, nidle;

void fio_reset(void)
{
	npend = nwatch = nbatch = nidle = 0;
}

int fio_later(struct io_op *op, int res)
{
	FUZZ_CHECK(npend < FIO_PENDING, "%u completions pending", npend);
	pend[npend].op = op;
	pend[npend++].res = res;
	return 0;
}

int fio_watch(struct iothread *t, int fd, struct io_op *op)
{
	(void)t;
	FUZZ_CHECK(nwatch < FIO_WATCHES, "%u eventfds watched", nwatch);
	watches[nwatch].fd = fd;
	watches[nwatch++].op = op;
	return 0;
}

static int add_hook(struct fio_hook *list, unsigned *n, const char *what, iothread_hook_fn fn,
		    void *opaque)
{
	FUZZ_CHECK(*n < FIO_HOOKS, "%u %s hooks", *n, what);
	list[*n].fn = fn;
	list[(*n)++].opaque = opaque;
	return 0;
}

int fio_batch_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	return add_hook(batch, &nbatch, "batch", fn, opaque);
}

int fio_idle_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	(void)t;
	return add_hook(idle, &nidle, "idle", fn, opaque);
}

void fio_run(void)
{
	for (unsigned round = 0;; round++) {
		bool work = false;

		FUZZ_CHECK(round < 10000, "the I/O thread never goes idle");
		for (unsigned i = 0; i < nwatch; i++) {
			uint64_t v;

			if (read(watches[i].fd, &v, sizeof(v)) == sizeof(v)) {
				watches[i].op->complete(watches[i].op, 1, 0);
				work = true;
			}
		}
		/* In order: completions may queue more, which run here too. */
		for (unsigned i = 0; i < npend; i++) {
			pend[i].op->complete(pend[i].op, pend[i].res, 0);
			work = true;
		}
		npend = 0;
		for (unsigned i = 0; i < nbatch; i++)
			work |= batch[i].fn(batch[i].opaque);
		for (unsigned i = 0; !work && i < nidle; i++)
			work |= idle[i].fn(idle[i].opaque);
		if (!work)
			return;
	}
}

int ftap_set_vnet_hdr(struct tap *tap, int size)
{
	(void)tap, (void)size;
	return 0;
}

int ftap_set_offload(struct tap *tap, unsigned tun_flags)
{
	(void)tap, (void)tun_flags;
	return 0;
}

int ftap_link_up(struct tap *tap, bool *up)
{
	(void)tap;
	*up = true;
	return 0;
}

int ftap_cancel(struct iothread *t, struct io_op *op)
{
	(void)t, (void)op;
	return -ENOENT;
}

/* ---- the driver ---- */

static uint32_t cfg_read(struct vdrv *d, unsigned off, unsigned len)
{
	uint32_t v = 0;

	pci_config_access(d->host, 0, d->slot << 3, off, (uint8_t *)&v, len, false);
	return v;
}

static void bar_access(struct vdrv *d, uint64_t off, uint64_t *v, unsigned len, bool is_write)
{
	FUZZ_CHECK(bus_access(d->mmio, d->bar + off, (uint8_t *)v, len, is_write),
		   "BAR offset 0x%llx unmapped", (unsigned long long)off);
}

void vdrv_attach(struct vdrv *d, struct pci_host *host, struct bus *mmio, unsigned slot)
{
	*d = (struct vdrv){ .host = host, .mmio = mmio, .slot = slot };
	FUZZ_CHECK(cfg_read(d, PCI_VENDOR_ID, 2) == VIRTIO_PCI_VENDOR, "no virtio function");
	d->bar = (cfg_read(d, PCI_BASE_ADDRESS_0, 4) & ~0xfULL) |
		 (uint64_t)cfg_read(d, PCI_BASE_ADDRESS_0 + 4, 4) << 32;
}

uint64_t vdrv_cc_read(struct vdrv *d, unsigned field, unsigned len)
{
	uint64_t v = 0;

	bar_access(d, VIRTIO_PCI_COMMON_OFF + field, &v, len, false);
	return v;
}

void vdrv_cc_write(struct vdrv *d, unsigned field, uint64_t v, unsigned len)
{
	bar_access(d, VIRTIO_PCI_COMMON_OFF + field, &v, len, true);
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t f;

	vdrv_cc_write(d, VPD_DFSELECT, 0, 4);
	f = vdrv_cc_read(d, VPD_DF, 4);
	vdrv_cc_write(d, VPD_DFSELECT, 1, 4);
	return f | vdrv_cc_read(d, VPD_DF, 4) << 32;
}

void vdrv_start(struct vdrv *d, uint64_t features, unsigned idx, const struct ring_input *in)
{
	const unsigned ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK;

	vdrv_cc_write(d, VPD_STATUS, 0, 1);
	vdrv_cc_write(d, VPD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	vdrv_cc_write(d, VPD_GFSELECT, 0, 4);
	vdrv_cc_write(d, VPD_GF, (uint32_t)features, 4);
	vdrv_cc_write(d, VPD_GFSELECT, 1, 4);
	vdrv_cc_write(d, VPD_GF, features >> 32, 4);
	vdrv_cc_write(d, VPD_STATUS, ok, 1);
	FUZZ_CHECK(vdrv_cc_read(d, VPD_STATUS, 1) == ok, "features 0x%llx refused",
		   (unsigned long long)features);
	vdrv_cc_write(d, VPD_QSEL, idx, 2);
	vdrv_cc_write(d, VPD_QSIZE, in->size, 2);
	/* 64-bit fields as two 32-bit halves, as drivers must (4.1.3.1). */
	vdrv_cc_write(d, VPD_QDESC, (uint32_t)RING_GPA, 4);
	vdrv_cc_write(d, VPD_QDESC + 4, RING_GPA >> 32, 4);
	vdrv_cc_write(d, VPD_QDRIVER, (uint32_t)in->avail_gpa, 4);
	vdrv_cc_write(d, VPD_QDRIVER + 4, in->avail_gpa >> 32, 4);
	vdrv_cc_write(d, VPD_QDEVICE, (uint32_t)USED_GPA, 4);
	vdrv_cc_write(d, VPD_QDEVICE + 4, USED_GPA >> 32, 4);
	vdrv_cc_write(d, VPD_QENABLE, 1, 2);
	vdrv_cc_write(d, VPD_STATUS, ok | VIRTIO_STATUS_DRIVER_OK, 1);
	FUZZ_CHECK(vdrv_cc_read(d, VPD_STATUS, 1) == (ok | VIRTIO_STATUS_DRIVER_OK),
		   "queue %u of size %u refused", idx, in->size);
}

void vdrv_kick(struct vdrv *d, unsigned idx)
{
	uint64_t v = idx;

	vdrv_cc_write(d, VPD_QSEL, idx, 2);
	bar_access(d, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT *
		   vdrv_cc_read(d, VPD_QNOTIFY, 2), &v, 2, true);
}

void vdrv_reset(struct vdrv *d)
{
	vdrv_cc_write(d, VPD_STATUS, 0, 1);
}

void fuzz_fix_stream_crcs(uint8_t *s, size_t len)
{
	uint32_t h;

	if (len < 16)
		return;
	h = stream_get32(s + 12);
	if (h < 8 || h > len)
		return;
	stream_put32(s + h - 4, crc32c(0, s, h - 4));
	for (size_t off = h; len - off >= 16;) {
		uint64_t plen = stream_get64(s + off + 8);

		if (plen > len - off - 16 || len - off - 16 - plen < 4)
			return;
		stream_put32(s + off + 16 + plen, crc32c(0, s + off, 16 + plen));
		off += 16 + plen + 4;
	}
}
