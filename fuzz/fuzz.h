/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the libFuzzer harnesses share: an invariant check that crashes (so
 * libFuzzer keeps the input); a fake guest RAM that the ring harnesses
 * (virtqueue, blk, net) fill from the fuzzer's input; a fake I/O thread and
 * a minimal virtio-pci driver for the device harnesses.
 *
 * A ring input is an 8-byte header, then a body copied into guest RAM at
 * RING_GPA: the descriptor table (16 * size bytes), the available ring
 * (4 + 2 * size bytes, then used_event) right after it, then whatever the
 * descriptors point at (buffers, indirect tables, request headers). The
 * used ring sits at USED_GPA, zeroed, as a driver leaves it. Everything
 * else in RAM, including the high region, is zero.
 */
#ifndef KITE_FUZZ_FUZZ_H
#define KITE_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "vmm/irq.h"
#include "vmm/memory.h"

/* Crash with a message unless `cond` holds: a broken invariant is a bug. */
#define FUZZ_CHECK(cond, ...) \
	do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* For a snapshot or migration stream (vmm/snapshot.h framing): recompute
 * the header's CRC-32C and each section's, as far as the lengths in the
 * stream say they lie inside it, so mutations get past the checksums. */
void fuzz_fix_stream_crcs(uint8_t *s, size_t len);

/* Guest RAM: low region [0, RAM_LOW_SIZE), high region at 4 GiB. Both live
 * in one host block, adjacent there though far apart in the guest, so a
 * buffer spanning the two would look fine to a careless host-side check. */
#define RAM_LOW_SIZE	0x40000ULL
#define RAM_HIGH_GPA	0x100000000ULL
#define RAM_HIGH_SIZE	0x10000ULL
#define RING_GPA	0x1000ULL
#define USED_GPA	0x38000ULL	/* room for a used ring of 1024 */
#define RING_BODY_MAX	(USED_GPA - RING_GPA)

/* Bits of the header's `features` byte. */
#define RING_F_EVENT_IDX	0x01	/* offer/negotiate VIRTIO_F_EVENT_IDX */
#define RING_F_INDIRECT		0x02	/* offer/negotiate VIRTIO_F_INDIRECT_DESC */

struct ring_input {
	uint16_t size;		/* queue size, a power of two */
	uint8_t features;	/* RING_F_* */
	uint8_t flags;		/* harness-specific */
	uint8_t extra;		/* harness-specific (virtqueue: iovecs per pop, 0 = 256) */
	uint16_t start;		/* harness-specific (virtqueue: initial ring indices) */
	uint64_t avail_gpa;	/* RING_GPA + 16 * size */
};

/* The header as stored: what the seed generator writes. */
struct ring_hdr {
	uint8_t size_log2;	/* size = 1 << min(size_log2 % 16, max_log2) */
	uint8_t features;
	uint8_t flags;
	uint8_t extra;
	uint16_t start;		/* little-endian */
	uint16_t reserved;
};

extern struct guest_mem fuzz_ram;

/* Allocate the RAM once (first call), then zero it for each input. */
void ram_reset(void);
/* Host pointer for [gpa, gpa + len), which must be RAM. */
void *ram_ptr(uint64_t gpa, uint64_t len);
/* Crash unless each iovec lies wholly inside one RAM region, as
 * guest_mem_ptr() hands them out. */
void ram_check_iov(const struct iovec *iov, unsigned n);

/* Reset RAM and load a ring input; false (skip it) if it is too short.
 * The queue size is capped at 1 << max_log2. */
bool ring_input_load(const uint8_t *data, size_t len, unsigned max_log2, struct ring_input *in);
/* The device's offered features less the ring features (EVENT_IDX,
 * INDIRECT_DESC) the input's header does not ask for. */
uint64_t ring_input_features(const struct ring_input *in, uint64_t offered);
/* Crash unless every used entry (at USED_GPA) names a descriptor. */
void ring_check_used(const struct ring_input *in);

/*
 * A fake I/O thread for device harnesses. Fake backends queue their
 * completions with fio_later(); fio_run() does what an I/O thread does:
 * kicks (the watched eventfds), completions in the order queued, the batch
 * hooks, and when nothing is left the idle hooks; until quiet.
 */
struct io_op;
struct iothread;

void fio_reset(void);
int fio_later(struct io_op *op, int res);
int fio_watch(struct iothread *t, int fd, struct io_op *op);
int fio_batch_hook(struct iothread *t, bool (*fn)(void *), void *opaque);
int fio_idle_hook(struct iothread *t, bool (*fn)(void *), void *opaque);
void fio_run(void);

/* Stand-ins for the tap calls of struct net_io_ops (virtio/net.h) that the
 * fake taps have no use for: any header size and offloads are taken, the
 * link is up, and nothing is left to cancel (every completion runs at
 * once). */
struct tap;
int ftap_set_vnet_hdr(struct tap *tap, int size);
int ftap_set_offload(struct tap *tap, unsigned tun_flags);
int ftap_link_up(struct tap *tap, bool *up);
int ftap_cancel(struct iothread *t, struct io_op *op);

/*
 * Where the device harnesses put a device: fresh buses, a PCI host and an
 * IRQ router over a fake KVM, built anew for each input. fuzz_host_init
 * also resets the fake I/O thread and the fake VM.
 */
struct fuzz_host {
	struct bus pio, mmio;
	struct pci_host host;
	struct irq_router irq;
};

void fuzz_host_init(struct fuzz_host *h);
void fuzz_host_destroy(struct fuzz_host *h);

/*
 * A minimal virtio-pci driver for device harnesses: it reaches the function
 * through PCI config space and the MMIO bus, as a guest does, and relies on
 * the transport's fixed BAR layout (virtio/pci.h). The check-based
 * tests/vpci_driver.c cannot run outside a check test runner.
 */
struct vdrv {
	struct pci_host *host;
	struct bus *mmio;
	unsigned slot;
	uint64_t bar;
};

void vdrv_attach(struct vdrv *d, struct pci_host *host, struct bus *mmio, unsigned slot);
/* Common configuration fields (VPD_* of tests/vpci_driver.h). */
uint64_t vdrv_cc_read(struct vdrv *d, unsigned field, unsigned len);
void vdrv_cc_write(struct vdrv *d, unsigned field, uint64_t v, unsigned len);
uint64_t vdrv_device_features(struct vdrv *d);
/* Reset, negotiate `features`, enable queue `idx` on the ring input's
 * rings, DRIVER_OK. Crashes if the device refuses (the harness's fault). */
void vdrv_start(struct vdrv *d, uint64_t features, unsigned idx, const struct ring_input *in);
void vdrv_kick(struct vdrv *d, unsigned idx);
/* Device reset by the driver (status 0). */
void vdrv_reset(struct vdrv *d);

#endif
