// SPDX-License-Identifier: Apache-2.0
/* Devices and helpers of the state-tree harnesses: see state_devs.h. */
#include "fuzz/state_devs.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz/fuzz.h"
#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "virtio/blk.h"
#include "virtio/disk.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/scsi.h"
#include "vmm/err.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"

/* ---- the tree of an input ---- */

void *state_input_tree(const uint8_t *data, size_t size, size_t *len)
{
	void *t;

	if (size <= STATE_HDR)
		return NULL;
	*len = size - STATE_HDR;
	/* malloc is 16-aligned, as libfdt wants (8), and exact for ASan. */
	t = malloc(*len);
	FUZZ_CHECK(t, "%zu bytes", *len);
	memcpy(t, data + STATE_HDR, *len);
	if (state_check(t, *len)) {
		free(t);
		return NULL;
	}
	state_walk(t);
	return t;
}

void *state_tree_copy(struct state_tree *st, size_t *len)
{
	const void *blob;
	void *t;

	FUZZ_CHECK(state_finish(st, &blob, len) == 0, "%s", err_msg());
	t = malloc(*len);
	FUZZ_CHECK(t, "%zu bytes", *len);
	memcpy(t, blob, *len);
	FUZZ_CHECK(state_check(t, *len) == 0, "a saved tree fails its check: %s", err_msg());
	return t;
}

struct walk_obj {
	uint32_t a;
	uint64_t b;
	uint8_t c;
	uint16_t d;
};
static const struct walk_obj walk_obj_init = { 7, 7, 1, 7 };
static const struct state_field walk_fields[] = {
	STATE_FIELD(struct walk_obj, a, "a", 100),
	STATE_BITS(struct walk_obj, b, "b", 0xff00ff),
	STATE_FIELD(struct walk_obj, c, "c", 1),
	STATE_BITS(struct walk_obj, d, "d", 0xffff),
};

/* One property name through every getter. */
static void walk_prop(const void *fdt, int node, const char *name)
{
	uint8_t buf[64];
	uint64_t arr[8];
	const void *p;
	size_t len, n;
	uint32_t u32;
	uint64_t u64;
	bool b;
	struct walk_obj obj = walk_obj_init;
	struct state_field f[4];

	FUZZ_CHECK(state_has(fdt, node, name), "property '%s' not seen", name);
	state_get_u32(fdt, node, name, &u32);
	state_get_u64(fdt, node, name, &u64);
	state_get_u32_range(fdt, node, name, 3, 70000, &u32);
	state_get_bool(fdt, node, name, &b);
	state_get_bytes(fdt, node, name, buf, 6);
	if (!state_get_bytes_max(fdt, node, name, buf, sizeof(buf), &len))
		FUZZ_CHECK(len <= sizeof(buf), "%zu bytes into %zu", len, sizeof(buf));
	if (!state_get_blob(fdt, node, name, 2, 300, &p, &len)) {
		FUZZ_CHECK(len >= 2 && len <= 300, "blob of %zu", len);
		/* Every byte of it is readable (ASan checks). */
		memcpy(buf, p, len < sizeof(buf) ? len : sizeof(buf));
		for (size_t i = 0; i < len; i++)
			u32 += ((const uint8_t *)p)[i];
	}
	if (!state_get_u64_array(fdt, node, name, arr, 8, &n))
		FUZZ_CHECK(n <= 8, "%zu u64s into 8", n);
	/* Field tables: every field named after this property in turn. */
	memcpy(f, walk_fields, sizeof(f));
	for (unsigned i = 0; i < 4; i++)
		f[i].name = name;
	if (state_get_fields(fdt, node, &obj, f, 4))
		FUZZ_CHECK(!memcmp(&obj, &walk_obj_init, sizeof(obj)),
			   "a refused field table changed the object");
	else
		FUZZ_CHECK(obj.a <= 100 && !(obj.b & ~0xff00ffULL) && obj.c <= 1,
			   "fields out of their limits");
	(void)u32;
}

void state_walk(const void *fdt)
{
	int depth = 0;

	for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
		int prop, child;

		/* Past the root's end. libfdt's check refuses another
		 * top-level node after it; were one there, walk it too.
		 * Anything else there is not a node: never hand its
		 * offset to the getters. */
		if (depth < 0) {
			if (!fdt_get_name(fdt, node, NULL))
				break;
			depth = 0;
		}

		fdt_for_each_property_offset(prop, fdt, node) {
			const char *name;

			if (fdt_getprop_by_offset(fdt, prop, &name, NULL))
				walk_prop(fdt, node, name);
		}
		fdt_for_each_subnode(child, fdt, node) {
			const char *name = fdt_get_name(fdt, child, NULL);

			if (!name)
				continue;
			/* A name with a unit address may match an earlier
			 * sibling of the same name: only check it is found. */
			FUZZ_CHECK(state_node(fdt, node, name) >= 0, "child '%s' not found", name);
			FUZZ_CHECK(state_has_node(fdt, node, name), "child '%s' not found", name);
		}
		state_node(fdt, node, "no-such-node@0");
		state_get_u32(fdt, node, "no-such-property", &(uint32_t){ 0 });
	}
	/* A failed lookup's offset is passed on, as restore code does. */
	state_get_u32(fdt, state_node(fdt, 0, "missing"), "x", &(uint32_t){ 0 });
}

void state_note(const char *what, int r)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("KITE_FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "%s: %d %s\n", what, r, r ? err_msg() : "ok");
}

bool state_restored(const char *what, int r)
{
	state_note(what, r);
	FUZZ_CHECK(r <= 0, "restore returned %d", r);
	if (r)
		FUZZ_CHECK(err_msg()[0], "restore failed (%d) without a message", r);
	return r == 0;
}

/* ---- fake disks and tap ---- */

#define DISK_BYTES	(64 * 1024)
#define NDISKS		2
#define NET_PAIRS	2
#define QUEUE_MAX	16

static uint8_t disk_data[NDISKS][DISK_BYTES];
static struct disk disks[NDISKS];
static struct disk *disk_list[NDISKS] = { &disks[0], &disks[1] };
static struct tap tap;
static char thread_token;
static struct iothread *threads[1] = { (struct iothread *)&thread_token };
static struct fake_kvm kvm;

static uint8_t *disk_bytes(struct disk *d, uint64_t off, uint64_t len)
{
	FUZZ_CHECK(off <= d->size && len <= d->size - off, "disk range 0x%llx + 0x%llx",
		   (unsigned long long)off, (unsigned long long)len);
	return disk_data[d - disks] + off;
}

static int d_readv(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		   uint64_t off, struct io_op *op)
{
	size_t total = 0;

	(void)t;
	FUZZ_CHECK(n >= 1 && n <= DISK_MAX_IOV, "%u iovecs", n);
	ram_check_iov(iov, n);
	for (unsigned i = 0; i < n; off += iov[i].iov_len, total += iov[i].iov_len, i++)
		memcpy(iov[i].iov_base, disk_bytes(d, off, iov[i].iov_len), iov[i].iov_len);
	return fio_later(op, (int)total);
}

static int d_writev(struct disk *d, struct iothread *t, const struct iovec *iov, unsigned n,
		    uint64_t off, struct io_op *op)
{
	size_t total = 0;

	(void)t;
	FUZZ_CHECK(n >= 1 && n <= DISK_MAX_IOV, "%u iovecs", n);
	ram_check_iov(iov, n);
	for (unsigned i = 0; i < n; off += iov[i].iov_len, total += iov[i].iov_len, i++)
		memcpy(disk_bytes(d, off, iov[i].iov_len), iov[i].iov_base, iov[i].iov_len);
	return fio_later(op, (int)total);
}

static int d_flush(struct disk *d, struct iothread *t, struct io_op *op)
{
	(void)d, (void)t;
	return fio_later(op, 0);
}

static int d_zero(struct disk *d, struct iothread *t, uint64_t off, uint64_t len,
		  struct io_op *op)
{
	(void)t;
	memset(disk_bytes(d, off, len), 0, len);
	return fio_later(op, 0);
}

static bool d_polling(void)
{
	return false;
}

static const struct blk_io_ops disk_io = {
	.readv = d_readv, .writev = d_writev, .flush = d_flush, .discard = d_zero,
	.write_zeroes = d_zero, .null_fill = disk_null_fill, .watch_eventfd = fio_watch,
	.add_batch_hook = fio_batch_hook, .add_idle_hook = fio_idle_hook, .polling = d_polling,
};

/* Reads would wait for frames that never come, and a reset would then wait
 * for them on this very thread: the tap refuses them at once (the queue
 * stalls until the next kick). Writes complete at once. */
static int t_readv(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		   struct io_op *op)
{
	(void)t, (void)fd, (void)op;
	FUZZ_CHECK(n >= 1, "a read into no buffer");
	ram_check_iov(iov, n);
	return err_set(EIO, "fake tap: no reads");
}

static int t_writev(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		    struct io_op *op, bool link)
{
	size_t total = 0;

	(void)t, (void)fd, (void)link;
	FUZZ_CHECK(n >= 1 && n <= NET_SLOT_IOV, "%u iovecs", n);
	ram_check_iov(iov, n);
	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	return fio_later(op, (int)total);
}

static int t_poll(struct iothread *t, int fd, unsigned events, struct io_op *op)
{
	(void)t, (void)fd, (void)events, (void)op;
	return err_set(EIO, "fake tap: no polls");
}

static unsigned t_sq_space(struct iothread *t)
{
	(void)t;
	return 256;
}

static int t_queue(struct tap *tp, unsigned idx, bool attach)
{
	(void)tp, (void)attach;
	FUZZ_CHECK(idx < NET_PAIRS, "tap queue %u of %u", idx, NET_PAIRS);
	return 0;
}

static const struct net_io_ops tap_io = {
	.readv = t_readv, .writev = t_writev, .poll = t_poll, .cancel = ftap_cancel,
	.sq_space = t_sq_space, .watch_eventfd = fio_watch, .add_batch_hook = fio_batch_hook,
	.set_vnet_hdr = ftap_set_vnet_hdr, .set_offload = ftap_set_offload,
	.set_queue = t_queue, .link_up = ftap_link_up, .link_events = ftap_link_up,
};

/* ---- the bare transport's stand-in device ---- */

static struct virtq *stand_in_q[3];
static uint8_t stand_in_config[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static int stand_in_enable(void *dev, unsigned idx, struct virtq *q)
{
	(void)dev;
	FUZZ_CHECK(idx < 3, "queue %u enabled of 3", idx);
	stand_in_q[idx] = q;
	return 0;
}

static void stand_in_reset(void *dev)
{
	(void)dev;
	memset(stand_in_q, 0, sizeof(stand_in_q));
}

static const struct virtio_dev_ops stand_in_ops = {
	.queue_enable = stand_in_enable, .reset = stand_in_reset,
};

/* Pop what the ring offers (it is in fuzz_ram, mostly zeros), complete it. */
static void stand_in_run(void)
{
	for (unsigned i = 0; i < 3; i++) {
		struct virtq_chain c;
		struct iovec iov[8];

		for (unsigned k = 0; stand_in_q[i] && k < 4; k++) {
			int n = virtq_pop(stand_in_q[i], iov, 8, &c);

			if (n <= 0)
				break;
			ram_check_iov(iov, (unsigned)n);
			virtq_push(stand_in_q[i], c.head, 0);
		}
		if (stand_in_q[i])
			virtq_flush(stand_in_q[i]);
	}
}

/* ---- devices ---- */

const char *const sd_names[SD_NKINDS] = { "transport", "blk", "scsi", "net" };

/* What sd_create keeps of the device it made. */
static void sd_got(struct sdev *s, void *obj, struct device *dev, struct virtio_pci *t)
{
	s->obj = obj;
	s->dev = dev;
	s->t = t;
}

void sd_create(struct sdev *s, enum sd_kind kind)
{
	int r = 0;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	fio_reset();
	fake_vm_reset();
	memset(stand_in_q, 0, sizeof(stand_in_q));
	bus_init(&s->pio, "pio");
	bus_init(&s->mmio, "mmio");
	FUZZ_CHECK(pci_host_init(&s->host, &s->pio, &s->mmio) == 0, "%s", err_msg());
	s->kvm = &kvm;
	FUZZ_CHECK(irq_router_init(&s->irq, &fake_kvm_ops, fake_kvm_reset(&kvm)) == 0, "%s",
		   err_msg());
	for (unsigned i = 0; i < NDISKS; i++) {
		memset(disk_data[i], 0, DISK_BYTES);
		disks[i] = (struct disk){
			.fd = -1, .buffered_fd = -1, .size = DISK_BYTES, .block_size = 512,
			.phys_block_size = 4096, .mem_align = 1, .can_discard = true,
			.can_zero = true, .serial = "KITE-STATE-0001", .path = "state.img",
		};
	}
	switch (kind) {
	case SD_TRANSPORT: {
		struct virtio_pci_opts o = {
			.name = "virtio-test", .device_id = 2, .class_code = 0x018000,
			.features = 1ULL << 3 | 1ULL << VIRTQ_F_EVENT_IDX |
				    1ULL << VIRTQ_F_INDIRECT_DESC,
			.num_queues = 3, .queue_size = QUEUE_MAX, .config = stand_in_config,
			.config_len = sizeof(stand_in_config), .ops = &stand_in_ops, .dev = s,
		};

		r = virtio_pci_create(&s->t, FAKE_VM, &s->host, &s->irq, &fuzz_ram, &o);
		s->nq = 3;
		break;
	}
	case SD_BLK: {
		struct virtio_blk_opts o = {
			.disk = &disks[0], .threads = threads, .nthreads = 1, .num_queues = 2,
			.queue_size = QUEUE_MAX, .io = &disk_io,
		};
		struct virtio_blk *b = NULL;

		r = virtio_blk_create(&b, FAKE_VM, &s->host, &s->irq, &fuzz_ram, &o);
		if (!r)
			sd_got(s, b, virtio_blk_device(b), virtio_blk_transport(b));
		s->nq = 2;
		break;
	}
	case SD_SCSI: {
		struct virtio_scsi_opts o = {
			.disks = disk_list, .ndisks = NDISKS, .threads = threads, .nthreads = 1,
			.num_queues = 1, .queue_size = QUEUE_MAX, .io = &disk_io,
		};
		struct virtio_scsi *sc = NULL;

		r = virtio_scsi_create(&sc, FAKE_VM, &s->host, &s->irq, &fuzz_ram, &o);
		if (!r)
			sd_got(s, sc, virtio_scsi_device(sc), virtio_scsi_transport(sc));
		s->nq = 3;
		break;
	}
	case SD_NET: {
		struct virtio_net_opts o = {
			.tap = &tap, .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 },
			.threads = threads, .nthreads = 1, .queue_size = QUEUE_MAX, .io = &tap_io,
		};
		struct virtio_net *n = NULL;

		tap = (struct tap){ .name = "fuzz0", .fds = { 100, 101 }, .nfds = NET_PAIRS,
				    .nl_fd = -1, .mtu = 1500, .what = "tap=fuzz0" };
		r = virtio_net_create(&n, FAKE_VM, &s->host, &s->irq, &fuzz_ram, &o);
		if (!r)
			sd_got(s, n, virtio_net_device(n), virtio_net_transport(n));
		s->nq = 2 * NET_PAIRS + 1;
		break;
	}
	default:
		FUZZ_CHECK(0, "device kind %d", kind);
	}
	FUZZ_CHECK(r == 0, "creating %s: %s", sd_names[kind], err_msg());
	s->slot = virtio_pci_func(s->t)->slot;
	s->bar0 = sd_cfg_read(s, PCI_BASE_ADDRESS_0, 4) |
		  (uint64_t)sd_cfg_read(s, PCI_BASE_ADDRESS_0 + 4, 4) << 32;
}

void sd_destroy(struct sdev *s)
{
	if (s->dev)
		s->dev->ops->free(s->dev);
	else
		virtio_pci_destroy(s->t);
	irq_router_destroy(&s->irq);
	bus_destroy(&s->pio);
	bus_destroy(&s->mmio);
	pthread_mutex_destroy(&s->host.lock);
}

int sd_save(struct sdev *s, struct state_tree *st, int node)
{
	return s->dev ? s->dev->ops->save(s->dev, st, node) : virtio_pci_save(s->t, st, node);
}

int sd_restore(struct sdev *s, const void *fdt, int node)
{
	return s->dev ? s->dev->ops->restore(s->dev, fdt, node)
		      : virtio_pci_restore(s->t, fdt, node);
}

/* ---- a guest ---- */

uint32_t sd_cfg_read(struct sdev *s, unsigned off, unsigned len)
{
	uint32_t v = 0;

	pci_config_access(&s->host, 0, s->slot << 3, off, (uint8_t *)&v, len, false);
	return v;
}

void sd_cfg_write(struct sdev *s, unsigned off, uint32_t v, unsigned len)
{
	pci_config_access(&s->host, 0, s->slot << 3, off, (uint8_t *)&v, len, true);
}

bool sd_bar_rw(struct sdev *s, uint64_t off, uint64_t *v, unsigned len, bool is_write)
{
	/* Where the function's BAR is mapped now: config space may name an
	 * address the host could not map it at (over the ECAM window, say),
	 * and what answers there is not the device. */
	const struct pci_bar *b = &virtio_pci_func(s->t)->bars[VIRTIO_PCI_BAR];

	if (!is_write)
		*v = 0;
	if (!b->mapped)
		return false;
	return bus_access(&s->mmio, b->addr + off, (uint8_t *)v, len, is_write);
}

static void cc_write(struct sdev *s, unsigned field, uint64_t v, unsigned len)
{
	sd_bar_rw(s, VIRTIO_PCI_COMMON_OFF + field, &v, len, true);
}

static uint64_t cc_read(struct sdev *s, unsigned field, unsigned len)
{
	uint64_t v = 0;

	sd_bar_rw(s, VIRTIO_PCI_COMMON_OFF + field, &v, len, false);
	return v;
}

static unsigned msix_cap(struct sdev *s)
{
	unsigned n = 0;

	for (unsigned cap = sd_cfg_read(s, PCI_CAPABILITY_LIST, 1); cap && n < 48;
	     cap = sd_cfg_read(s, cap + 1, 1), n++)
		if (sd_cfg_read(s, cap, 1) == 0x11)
			return cap;
	return 0;
}

void sd_driver_up(struct sdev *s, uint64_t drop, bool msix, unsigned nenable, uint16_t qsize)
{
	const unsigned ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK;
	uint64_t f;

	cc_write(s, VPD_STATUS, 0, 1);
	cc_write(s, VPD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	cc_write(s, VPD_DFSELECT, 0, 4);
	f = cc_read(s, VPD_DF, 4);
	cc_write(s, VPD_DFSELECT, 1, 4);
	f |= cc_read(s, VPD_DF, 4) << 32;
	f &= ~drop;
	cc_write(s, VPD_GFSELECT, 0, 4);
	cc_write(s, VPD_GF, (uint32_t)f, 4);
	cc_write(s, VPD_GFSELECT, 1, 4);
	cc_write(s, VPD_GF, f >> 32, 4);
	cc_write(s, VPD_STATUS, ok, 1);
	if (msix) {
		unsigned cap = msix_cap(s), nvec;

		FUZZ_CHECK(cap, "no MSI-X capability");
		nvec = (sd_cfg_read(s, cap + 2, 2) & 0x7ff) + 1;
		sd_cfg_write(s, cap + 2, 0x8000, 2);
		for (unsigned v = 0; v < nvec; v++) {
			uint64_t off = VIRTIO_PCI_MSIX_TABLE_OFF + 16ULL * v;
			uint64_t addr = 0xfee00000 + 0x1000ULL * (v % 2), data = 0x4030 + v;
			uint64_t ctrl = v == nvec - 1;		/* the last one masked */

			sd_bar_rw(s, off, &addr, 4, true);
			sd_bar_rw(s, off + 8, &data, 4, true);
			sd_bar_rw(s, off + 12, &ctrl, 4, true);
		}
		cc_write(s, VPD_MSIX, 0, 2);
	}
	for (unsigned i = 0; i < nenable && i < s->nq; i++) {
		cc_write(s, VPD_QSEL, i, 2);
		cc_write(s, VPD_QSIZE, qsize, 2);
		if (msix)
			cc_write(s, VPD_QMSIX, i + 1, 2);
		cc_write(s, VPD_QDESC, SD_RING(i), 8);
		cc_write(s, VPD_QDRIVER, SD_RING(i) + 0x400, 8);
		cc_write(s, VPD_QDEVICE, SD_RING(i) + 0x800, 8);
		cc_write(s, VPD_QENABLE, 1, 2);
	}
	cc_write(s, VPD_STATUS, ok | VIRTIO_STATUS_DRIVER_OK, 1);
	FUZZ_CHECK(cc_read(s, VPD_STATUS, 1) == (ok | VIRTIO_STATUS_DRIVER_OK),
		   "%s refused the driver: status 0x%llx", sd_names[s->kind],
		   (unsigned long long)cc_read(s, VPD_STATUS, 1));
	fio_run();
}

void sd_fill_rings(unsigned nq)
{
	for (unsigned q = 0; q < nq; q++) {
		uint8_t *desc = ram_ptr(SD_RING(q), 16 * 16);
		uint8_t *avail = ram_ptr(SD_RING(q) + 0x400, 6 + 2 * 16);
		uint64_t buf = 0x30000 + 0x1000ULL * (q % 8);

		for (unsigned c = 0; c < 5; c++) {
			static const struct { uint32_t len; uint16_t flags; } parts[3] = {
				{ 64, VIRTQ_DESC_F_NEXT },
				{ 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE },
				{ 16, VIRTQ_DESC_F_WRITE },
			};

			for (unsigned k = 0; k < 3; k++) {
				uint8_t *d = desc + 16 * (3 * c + k);
				/* Headers and statuses per queue; data shared. */
				uint64_t addr = k == 1 ? 0x20000 + 0x200ULL * (3 * c + q % 4)
						       : buf + 0x100ULL * c + 0x80 * k;
				uint16_t next = (uint16_t)(3 * c + k + 1);

				memcpy(d, &addr, 8);
				memcpy(d + 8, &parts[k].len, 4);
				memcpy(d + 12, &parts[k].flags, 2);
				memcpy(d + 14, &next, 2);
			}
			memcpy(avail + 4 + 2 * c, &(uint16_t){ (uint16_t)(3 * c) }, 2);
		}
		memcpy(avail + 2, &(uint16_t){ 5 }, 2);
	}
}

void sd_exercise(struct sdev *s)
{
	static const struct { unsigned off, len; } fields[] = {
		{ VPD_DFSELECT, 4 }, { VPD_DF, 4 }, { VPD_GFSELECT, 4 }, { VPD_GF, 4 },
		{ VPD_MSIX, 2 }, { VPD_NUMQ, 2 }, { VPD_STATUS, 1 }, { VPD_GEN, 1 },
		{ VPD_QSEL, 2 }, { VPD_QSIZE, 2 }, { VPD_QMSIX, 2 }, { VPD_QENABLE, 2 },
		{ VPD_QNOTIFY, 2 }, { VPD_QDESC, 8 }, { VPD_QDRIVER, 8 }, { VPD_QDEVICE, 8 },
	};
	uint64_t v;

	/* The restore's own kicks, then the guest's. */
	fio_run();
	stand_in_run();
	for (unsigned i = 0; i < s->nq + 1; i++) {
		v = i;
		sd_bar_rw(s, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * i, &v, 2, true);
	}
	fio_run();
	stand_in_run();
	/* Completions' interrupts, and a config change. */
	for (unsigned i = 0; i < s->nq + 1; i++)
		virtio_pci_notify(s->t, i);
	virtio_pci_config_changed(s->t);
	for (unsigned q = 0; q < s->nq + 2; q++) {
		cc_write(s, VPD_QSEL, q, 2);
		for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			cc_read(s, fields[i].off, fields[i].len);
	}
	sd_bar_rw(s, VIRTIO_PCI_ISR_OFF, &v, 1, false);
	for (unsigned off = 0; off < 16 * 8; off += 4)
		sd_bar_rw(s, VIRTIO_PCI_MSIX_TABLE_OFF + off, &v, 4, false);
	sd_bar_rw(s, VIRTIO_PCI_MSIX_PBA_OFF, &v, 8, false);
	for (unsigned off = 0; off < 64; off += 4)
		sd_bar_rw(s, VIRTIO_PCI_DEVICE_OFF + off, &v, 4, false);
	for (unsigned off = 0; off < PCI_CFG_SIZE; off += 4)
		sd_cfg_read(s, off, 4);
	/* The driver resets the device: it must end up reset, whatever it
	 * was restored to. The transport's reset goes through the device's,
	 * which waits for requests in flight: there must be none. */
	fio_run();
	virtio_pci_reset(s->t);
	fio_run();
	cc_write(s, VPD_STATUS, 0, 1);
	if (sd_bar_rw(s, VIRTIO_PCI_COMMON_OFF + VPD_STATUS, &v, 1, false))
		FUZZ_CHECK(v == 0, "status 0x%llx after a reset", (unsigned long long)v);
	for (unsigned q = 0; q < s->nq; q++) {
		cc_write(s, VPD_QSEL, q, 2);
		if (sd_bar_rw(s, VIRTIO_PCI_COMMON_OFF + VPD_QENABLE, &v, 2, false))
			FUZZ_CHECK(v == 0, "queue %u enabled after a reset", q);
	}
	/* And a new driver can bring it up again, once it has put the BAR
	 * back where it wants it (the restored config space may have moved
	 * it or turned decoding off; a reset leaves config space alone). */
	sd_cfg_write(s, PCI_COMMAND, 0, 2);
	sd_cfg_write(s, PCI_BASE_ADDRESS_0, (uint32_t)s->bar0, 4);
	sd_cfg_write(s, PCI_BASE_ADDRESS_0 + 4, s->bar0 >> 32, 4);
	sd_cfg_write(s, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	sd_driver_up(s, 0, false, s->nq, 8);
	virtio_pci_reset(s->t);
	fio_run();
}

/* ---- snapshot memory ---- */

static uint8_t *guarded(unsigned pages)
{
	uint8_t *p = mmap(NULL, (pages + 2) * 4096UL, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	FUZZ_CHECK(p != MAP_FAILED, "mmap of %u pages", pages + 2);
	FUZZ_CHECK(!mprotect(p + 4096, pages * 4096UL, PROT_READ | PROT_WRITE), "mprotect");
	return p + 4096;
}

void snapfuzz_mem(struct guest_mem *mem)
{
	static uint8_t *r0, *r1;

	if (!r0) {
		r0 = guarded(SNAPFUZZ_R0_PAGES);
		r1 = guarded(SNAPFUZZ_R1_PAGES);
	}
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	mem->base = r0;
	mem->size = (SNAPFUZZ_R0_PAGES + SNAPFUZZ_R1_PAGES) * 4096ULL;
	mem->page_size = 4096;
	mem->nregions = 2;
	mem->regions[0] = (struct guest_region){ 0, SNAPFUZZ_R0_PAGES * 4096ULL, r0, 0 };
	mem->regions[1] = (struct guest_region){ SNAPFUZZ_R1_GPA, SNAPFUZZ_R1_PAGES * 4096ULL,
						 r1, SNAPFUZZ_R0_PAGES * 4096ULL };
}

void snapfuzz_shape(struct snap_shape *s, const struct guest_mem *mem)
{
	memset(s, 0, sizeof(*s));
	snapshot_shape_mem(s, mem);
	s->ncpus = 2;
	s->ndevices = 2;
	strcpy(s->devices[0].kind, "virtio-blk");
	strcpy(s->devices[0].opts, "slot=1 type=2 queues=2");
	strcpy(s->devices[1].kind, "virtio-net");
	strcpy(s->devices[1].opts, "slot=2 type=1 queues=5");
}
