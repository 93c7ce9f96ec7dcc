// SPDX-License-Identifier: Apache-2.0
/*
 * mode=hostile, register attacks (see hostile.h): feature negotiation in
 * the wrong order (DRIVER_OK before FEATURES_OK, features changed after
 * FEATURES_OK, features never offered, no VERSION_1), status garbage,
 * feature selectors and queue_select out of range, queue sizes a split
 * ring cannot have, queue registers changed while the queue runs, vectors
 * out of range, device and common config read and written out of range
 * and at odd widths, ISR reads and writes, notifications of queues that do
 * not exist, MSI-X entries with bad addresses and data, masked and
 * unmasked, the MSI-X function mask and enable toggled, bus mastering off
 * under a request, and a reset with requests in flight.
 *
 * An MSI a device sends must stay harmless: the message data always names
 * a device vector with fixed or lowest-priority delivery (cpu.c counts
 * those), and an address outside the APIC window is always one where
 * nothing is mapped.
 */
#include "hostile.h"
#include "console.h"
#include "cpu.h"
#include "smp.h"
#include "time.h"

#define PCI_COMMAND		0x04
#define PCI_CMD_MASTER		0x0004
#define MSIX_ENABLE		0x8000
#define MSIX_FMASK		0x4000
#define RESET_US		1000000
#define SETTLE_US		5000

enum reg_attack {
	R_DRIVER_OK_EARLY, R_FEATURES_AFTER, R_NOT_OFFERED, R_NO_VERSION_1, R_STATUS_GARBAGE,
	R_FSELECT_OOR, R_QSEL_OOR, R_QSIZE_ODD, R_QSIZE_LIVE, R_QENABLE_LIVE, R_QADDR_LIVE,
	R_VECTOR_OOR, R_CFG_READ,
	R_CFG_WRITE, R_COMMON_ODD, R_ISR, R_NOTIFY_OOR, R_MSIX, R_MSIX_CTRL, R_NO_MASTER,
	R_RESET_MID_IO, R_COUNT
};

const char *const hostile_reg_names[R_COUNT] = {
	"driver-ok-early", "features-after", "not-offered", "no-version-1", "status-garbage",
	"fselect-oor", "qsel-oor", "qsize-odd", "qsize-live", "qenable-live", "qaddr-live",
	"vector-oor", "cfg-read",
	"cfg-write", "common-odd", "isr", "notify-oor", "msix", "msix-ctrl", "no-master",
	"reset-mid-io",
};
const unsigned hostile_nreg = R_COUNT;
_Static_assert(R_COUNT <= 32, "hm.skip bits 32-63");

static u64 cc(struct hdev *h, unsigned off)
{
	return h->v->common + off;
}

static void set_status(struct hdev *h, u8 s)
{
	mmio_write8(cc(h, HC_STATUS), s);
}

static u8 status(struct hdev *h)
{
	return mmio_read8(cc(h, HC_STATUS));
}

/* Write 0 and wait; counted when the device takes longer than RESET_US. */
static void reset(struct hdev *h)
{
	if (!virtio_reset(h->v))
		h->st.reset_slow++;
	h->live = false;
}

static void write_features(struct hdev *h, u64 f)
{
	mmio_write32(cc(h, HC_GFSELECT), 0);
	mmio_write32(cc(h, HC_GF), (u32)f);
	mmio_write32(cc(h, HC_GFSELECT), 1);
	mmio_write32(cc(h, HC_GF), f >> 32);
}

/* Reset, ACKNOWLEDGE | DRIVER; what the device offers. */
static u64 begin(struct hdev *h)
{
	u64 f;

	reset(h);
	set_status(h, VIRTIO_S_ACKNOWLEDGE);
	set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	mmio_write32(cc(h, HC_DFSELECT), 0);
	f = mmio_read32(cc(h, HC_DF));
	mmio_write32(cc(h, HC_DFSELECT), 1);
	return f | (u64)mmio_read32(cc(h, HC_DF)) << 32;
}

/* Notify every queue the device has (and a few it has not). */
static void notify_all(struct hdev *h, unsigned extra)
{
	unsigned nq = mmio_read16(cc(h, HC_NUMQ));

	for (unsigned i = 0; i < MIN(nq + extra, (unsigned)VIRTIO_MAX_QUEUES + extra); i++)
		mmio_write16(h->v->notify + (u64)h->v->notify_mult * i, i);
}

/* An MSI address: mostly the APIC window (some CPU, one that does not
 * exist, everyone, logical mode with nobody), else nowhere. */
static u32 msi_addr(u32 *hi)
{
	*hi = 0;
	switch (hrand_below(6)) {
	case 0: return 0xfee00000u | smp.cpus[hrand_below(smp.ncpus)].apic_id << 12;
	case 1: return 0xfee00000u | 0x7e << 12;			/* no such CPU */
	case 2: return 0xfee00000u | 0xff << 12;			/* broadcast */
	case 3: return 0xfee00000u | 0x0c;				/* logical, RH, nobody */
	default:
		if (hm.nunmapped) {
			u64 a = hm.unmapped[hrand_below(hm.nunmapped)];

			*hi = a >> 32;
			return (u32)a;
		}
		return 0xfee00000u;
	}
}

/* MSI data: a device vector, fixed or lowest priority, reserved bits and
 * the trigger bits random. */
static u32 msi_data(void)
{
	return (hrand() & 0xffff0000u) | (hrand() & 0xc000) | (hrand() & 1) << 8 |
	       (VEC_DEV + hrand_below(NR_DEV_VECS));
}

static void msix_ctrl(struct hdev *h, u16 set, u16 clear)
{
	struct virtio_dev *v = h->v;
	u32 w = pci_cf8_read32(v->bus, v->dev, v->fn, v->msix_cap);
	u16 ctrl = w >> 16;

	ctrl = (ctrl | set) & ~clear;
	pci_cf8_write32(v->bus, v->dev, v->fn, v->msix_cap, (w & 0xffff) | (u32)ctrl << 16);
}

/* Valid requests on the first queue with buffers the device may write
 * into scratch; up to n. Interrupts asked for. */
static unsigned valid_requests(struct hdev *h, unsigned n)
{
	unsigned done = 0;

	for (unsigned i = 0; i < n; i++) {
		u8 *buf = hm.scratch + 4096 * (i % 8);
		int r = -1;

		if (h->kind == HK_BLK) {
			struct blk_io *io = h->bio + i % 8;

			r = blk_submit(&h->u.blk, 0, io, hchance(2) ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_FLUSH,
				       hrand_below(MAX(h->sectors / 2, 16u) - 8), buf, 4096, 1, 0);
			if (!r)
				h->u.blk.v.vq[0].avail->flags = 0;
		} else if (h->kind == HK_SCSI) {
			static const u8 tur[6] = { 0 };
			u8 lun[8];

			vscsi_lun(lun, 0, 0);
			r = vscsi_submit(&h->u.scsi, 0, h->cmd + i % 8, lun, tur, 6, VSCSI_NONE, NULL, 0,
					 0, 0);
		} else if (h->u.net.npairs && h->u.net.pair[0].ntxfree) {
			u8 *f = net_tx_alloc(&h->u.net.pair[0]);

			if (f) {
				memset(f, 0xff, 60);
				net_tx_send(&h->u.net.pair[0], f, 60, 0, 0);
				r = 0;
			}
		}
		done += r == 0;
	}
	if (h->kind == HK_BLK)
		vq_kick(&h->u.blk.v.vq[0]);
	else if (h->kind == HK_SCSI)
		vq_kick(vscsi_reqq(&h->u.scsi, 0));
	else if (h->u.net.npairs)
		net_tx_flush(&h->u.net.pair[0]);
	return done;
}

static void cfg_read(struct hdev *h, unsigned off, unsigned width)
{
	u64 a = h->v->device + off;

	switch (width) {
	case 1: (void)mmio_read8(a); break;
	case 2: (void)mmio_read16(a); break;
	case 4: (void)mmio_read32(a); break;
	default: (void)*(volatile u64 *)(uintptr_t)a; break;
	}
}

static void cfg_write(u64 a, unsigned width, u64 val)
{
	switch (width) {
	case 1: mmio_write8(a, val); break;
	case 2: mmio_write16(a, val); break;
	case 4: mmio_write32(a, val); break;
	default: *(volatile u64 *)(uintptr_t)a = val; break;
	}
}

static unsigned width(void)
{
	return 1u << hrand_below(4);
}

void hostile_regs(struct hdev *h)
{
	struct virtio_dev *v = h->v;
	unsigned a = hostile_pick(R_COUNT, 32), nq = MAX(v->nvqs, 1u);
	u64 f;
	u32 hi;

	if (hm.trace)
		printf("hostile: %s: %s\n", h->name, hostile_reg_names[a]);
	h->st.regs++;
	switch (a) {
	case R_DRIVER_OK_EARLY:
		begin(h);
		set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_DRIVER_OK);
		(void)status(h);
		notify_all(h, 2);
		break;
	case R_FEATURES_AFTER:
		/* A working device, then features rewritten under it. */
		if (!h->live)
			return;
		write_features(h, hchance(2) ? ~0ULL : v->features ^ (1ULL << hrand_below(64)));
		(void)status(h);
		valid_requests(h, 2);
		hdev_settle(h, &v->vq[0], 0, SETTLE_US);
		h->live = false;
		return;
	case R_NOT_OFFERED:
	case R_NO_VERSION_1:
		f = begin(h);
		write_features(h, a == R_NOT_OFFERED ? ~0ULL : f & ~BIT(VIRTIO_F_VERSION_1));
		set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
		if (status(h) & VIRTIO_S_FEATURES_OK)
			h->st.features_ok_taken += a == R_NOT_OFFERED;
		set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
			   VIRTIO_S_DRIVER_OK);
		notify_all(h, 1);
		break;
	case R_STATUS_GARBAGE: {
		static const u8 junk[] = { 0xff, VIRTIO_S_FAILED, VIRTIO_S_NEEDS_RESET, VIRTIO_S_DRIVER_OK,
					   VIRTIO_S_ACKNOWLEDGE, 0x7f, 0x30 };

		set_status(h, junk[hrand_below(ARRAY_SIZE(junk))]);
		(void)status(h);
		notify_all(h, 0);
		break;
	}
	case R_FSELECT_OOR:
		mmio_write32(cc(h, HC_DFSELECT), 2 + hrand_below(0xfffffffe));
		(void)mmio_read32(cc(h, HC_DF));
		mmio_write32(cc(h, HC_GFSELECT), 2 + hrand_below(0xfffffffe));
		mmio_write32(cc(h, HC_GF), hrand());
		(void)mmio_read32(cc(h, HC_GF));
		return;			/* harmless to a live device */
	case R_QSEL_OOR: {
		u16 sel = hchance(2) ? 0xffff - hrand_below(8) : mmio_read16(cc(h, HC_NUMQ)) + hrand_below(64);
		u64 bad = hm.nunmapped ? hm.unmapped[0] : 0xfffffffffffff000ULL;

		mmio_write16(cc(h, HC_QSEL), sel);
		(void)mmio_read16(cc(h, HC_QSIZE));
		(void)mmio_read16(cc(h, HC_QNOTIFY));
		(void)mmio_read16(cc(h, HC_QENABLE));
		mmio_write16(cc(h, HC_QSIZE), hrand());
		mmio_write16(cc(h, HC_QMSIX), hrand_below(4));
		/* Only addresses where nothing is: a device that kept the
		 * old selection must not be pointed into our RAM. */
		mmio_write32(cc(h, HC_QDESC), (u32)bad);
		mmio_write32(cc(h, HC_QDESC + 4), bad >> 32);
		mmio_write32(cc(h, HC_QDRIVER), (u32)bad);
		mmio_write32(cc(h, HC_QDRIVER + 4), bad >> 32);
		mmio_write32(cc(h, HC_QDEVICE), (u32)bad);
		mmio_write32(cc(h, HC_QDEVICE + 4), bad >> 32);
		mmio_write16(cc(h, HC_QENABLE), 1);
		mmio_write16(v->notify + (u64)v->notify_mult * (sel % 64), sel);
		break;
	}
	case R_QSIZE_ODD: {
		static const u16 sizes[] = { 0, 3, 100, 255, 0x8000, 0xffff };
		struct virtq *q = &v->vq[0];

		if (!q->desc)
			return;
		begin(h);
		write_features(h, v->features);
		set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
		mmio_write16(cc(h, HC_QSEL), 0);
		mmio_write16(cc(h, HC_QSIZE), sizes[hrand_below(ARRAY_SIZE(sizes))]);
		memset(q->avail, 0, 6);
		mmio_write32(cc(h, HC_QDESC), (u32)(uintptr_t)q->desc);
		mmio_write32(cc(h, HC_QDESC + 4), 0);
		mmio_write32(cc(h, HC_QDRIVER), (u32)(uintptr_t)q->avail);
		mmio_write32(cc(h, HC_QDRIVER + 4), 0);
		mmio_write32(cc(h, HC_QDEVICE), (u32)(uintptr_t)q->used);
		mmio_write32(cc(h, HC_QDEVICE + 4), 0);
		mmio_write16(cc(h, HC_QENABLE), 1);
		set_status(h, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK |
			   VIRTIO_S_DRIVER_OK);
		notify_all(h, 0);
		break;
	}
	case R_QSIZE_LIVE:
	case R_QENABLE_LIVE:
	case R_QADDR_LIVE: {
		/* Size, enable and ring addresses written while the queue runs. */
		unsigned qi = hrand_below(nq);
		u64 bad = hm.nunmapped ? hm.unmapped[hrand_below(hm.nunmapped)] : 0;

		if (!h->live || !bad)
			return;
		valid_requests(h, 1);
		mmio_write16(cc(h, HC_QSEL), qi);
		switch (a) {
		case R_QSIZE_LIVE: mmio_write16(cc(h, HC_QSIZE), 1 + hrand_below(1024)); break;
		case R_QENABLE_LIVE: mmio_write16(cc(h, HC_QENABLE), hrand_below(2)); break;
		default:
			mmio_write32(cc(h, HC_QDEVICE), (u32)bad);
			mmio_write32(cc(h, HC_QDEVICE + 4), bad >> 32);
			mmio_write16(cc(h, HC_QENABLE), 1);
		}
		mmio_write16(v->vq[qi].notify, qi);
		hdev_settle(h, &v->vq[qi], 0, SETTLE_US);
		h->live = false;
		return;
	}
	case R_VECTOR_OOR:
		mmio_write16(cc(h, HC_QSEL), hrand_below(nq));
		mmio_write16(cc(h, HC_QMSIX), v->msix_entries + hrand_below(0xfffe - v->msix_entries));
		(void)mmio_read16(cc(h, HC_QMSIX));
		mmio_write16(cc(h, HC_MSIX), v->msix_entries + hrand_below(100));
		(void)mmio_read16(cc(h, HC_MSIX));
		break;
	case R_CFG_READ:
		for (unsigned i = 0; i < 32; i++)
			cfg_read(h, hrand_below(v->device_len + 64), width());
		return;			/* reads change nothing */
	case R_CFG_WRITE:
		for (unsigned i = 0; i < 8; i++) {
			unsigned off = hrand_below(v->device_len + 64);

			/* past the config is our own notify area at most */
			if (off + 8 <= v->device_len + 64)
				cfg_write(v->device + off, width(), hrand());
		}
		break;
	case R_COMMON_ODD:
		for (unsigned i = 0; i < 16; i++) {
			unsigned off = hrand_below(0x40 + 16), w = width();

			/* Never random ring addresses: a queue enabled with
			 * them would have the device write anywhere. */
			if (hchance(2) && (off + w <= HC_QDESC || off >= HC_QDEVICE + 8))
				cfg_write(cc(h, off), w, hrand());
			else if (w == 8)
				(void)*(volatile u64 *)(uintptr_t)cc(h, off);
			else
				(void)mmio_read32(cc(h, off & ~3u));
		}
		break;
	case R_ISR:
		if (v->isr) {
			(void)mmio_read8(v->isr);
			(void)mmio_read16(v->isr);
			(void)mmio_read32(v->isr);
			mmio_write8(v->isr, hrand());
			mmio_write32(v->isr, hrand());
			(void)mmio_read8(v->isr);
		}
		return;
	case R_NOTIFY_OOR: {
		unsigned numq = mmio_read16(cc(h, HC_NUMQ));

		/* Stay inside the notify area: queues just past the last. */
		for (unsigned i = 0; i < 4; i++)
			mmio_write16(v->notify + (u64)v->notify_mult * (numq + i), hrand());
		/* A valid queue's address with another index, and odd widths. */
		mmio_write16(v->notify, hrand());
		mmio_write32(v->notify, hrand());
		mmio_write8(v->notify + 1, hrand());
		(void)mmio_read16(v->notify);
		if (h->live)
			return;		/* kicks of empty queues are harmless */
		break;
	}
	case R_MSIX:
		if (!v->msix_cap || !v->msix_table)
			return;
		for (unsigned i = 0; i < 4; i++) {
			unsigned e = hrand_below(v->msix_entries + 2);
			u64 ea = v->msix_table + 16 * e;
			u32 lo = msi_addr(&hi);

			mmio_write32(ea + 12, 1);
			mmio_write32(ea, lo);
			mmio_write32(ea + 4, hi);
			mmio_write32(ea + 8, msi_data());
			(void)mmio_read32(ea + 8);
			for (unsigned t = 0; t < 4; t++)
				mmio_write32(ea + 12, hrand() & 1);
			/* Odd widths on the control word only: a torn address
			 * or vector could point anywhere. */
			mmio_write16(ea + 12 + 2 * hrand_below(2), hrand() & 1);
			mmio_write8(ea + 12, hrand() & 1);
		}
		if (h->live) {
			valid_requests(h, 2);
			hdev_settle(h, &v->vq[0], 0, SETTLE_US);
		}
		break;
	case R_MSIX_CTRL:
		if (!v->msix_cap)
			return;
		for (unsigned i = 0; i < 3; i++) {
			msix_ctrl(h, hchance(2) ? MSIX_FMASK : 0, hchance(2) ? MSIX_ENABLE : 0);
			if (h->live)
				valid_requests(h, 1);
			msix_ctrl(h, MSIX_ENABLE, hchance(2) ? MSIX_FMASK : 0);
		}
		hdev_settle(h, h->live ? &v->vq[0] : NULL, 0, SETTLE_US);
		break;
	case R_NO_MASTER: {
		u32 cmd = pci_cf8_read32(v->bus, v->dev, v->fn, PCI_COMMAND);

		if (!h->live)
			return;
		pci_cf8_write32(v->bus, v->dev, v->fn, PCI_COMMAND, cmd & 0xffff & ~PCI_CMD_MASTER);
		valid_requests(h, 2);
		udelay(1000);
		reset(h);
		pci_cf8_write32(v->bus, v->dev, v->fn, PCI_COMMAND, (cmd & 0xffff) | PCI_CMD_MASTER);
		break;
	}
	case R_RESET_MID_IO:
		if (!h->live)
			return;
		valid_requests(h, 8);
		reset(h);
		break;
	}
	hdev_settle(h, NULL, 0, SETTLE_US);
	h->live = false;
}
