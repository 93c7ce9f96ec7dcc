// SPDX-License-Identifier: Apache-2.0
#include "devices/pci.h"

#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "vmm/err.h"
#include "vmm/state.h"

#define PCI_IO_WINDOW_START	0xc000
#define PCI_IO_WINDOW_END	0x10000

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static inline uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	put16(&f->cfg[PCI_VENDOR_ID], vendor);
	put16(&f->cfg[PCI_DEVICE_ID], device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = class_code & 0xff;
	put16(&f->cfg[PCI_CLASS_DEVICE], class_code >> 8);
	put16(&f->cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	put16(&f->cfg[PCI_SUBSYSTEM_ID], subsys_id);
	/* Command: I/O, memory, bus master, SERR, parity, INTx disable. */
	put16(&f->wmask[PCI_COMMAND], 0x0547);
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->next_cap = 0x40;
}

void pci_func_set_bar(struct pci_func *f, unsigned idx, enum pci_bar_kind kind, uint64_t size,
		      bus_io_fn fn, void *opaque)
{
	struct pci_bar *b = &f->bars[idx];
	uint8_t *reg = &f->cfg[PCI_BASE_ADDRESS_0 + 4 * idx];
	uint8_t *wm = &f->wmask[PCI_BASE_ADDRESS_0 + 4 * idx];
	uint64_t mask = ~(size - 1);

	*b = (struct pci_bar){ .kind = kind, .size = size, .fn = fn, .opaque = opaque };
	switch (kind) {
	case PCI_BAR_IO:
		put32(reg, 0x1);
		put32(wm, (uint32_t)mask & ~0x3U);
		break;
	case PCI_BAR_MEM32:
		put32(reg, 0x0);
		put32(wm, (uint32_t)mask & ~0xfU);
		break;
	case PCI_BAR_MEM64:
		put32(reg, 0x4);
		put32(wm, (uint32_t)mask & ~0xfU);
		put32(wm + 4, (uint32_t)(mask >> 32));
		break;
	case PCI_BAR_NONE:
		break;
	}
}

int pci_func_add_cap(struct pci_func *f, uint8_t id, const uint8_t *body, const uint8_t *wmask,
		     unsigned len)
{
	unsigned off = f->next_cap, size = (2 + len + 3) & ~3U;
	uint8_t *link;

	if (off + size > PCI_CFG_SIZE)
		return err_set(ENOSPC, "PCI %s: no room for capability 0x%x", f->name, id);
	/* Chain: the list head, or the last capability's next pointer. */
	link = &f->cfg[PCI_CAPABILITY_LIST];
	while (*link)
		link = &f->cfg[*link + 1];
	*link = off;
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	f->cfg[off] = id;
	f->cfg[off + 1] = 0;
	memcpy(&f->cfg[off + 2], body, len);
	if (wmask)
		memcpy(&f->wmask[off + 2], wmask, len);
	f->next_cap = off + size;
	return off;
}

static uint64_t bar_addr(const struct pci_func *f, unsigned idx)
{
	const struct pci_bar *b = &f->bars[idx];
	uint32_t lo = get32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * idx]);

	switch (b->kind) {
	case PCI_BAR_IO:
		return lo & ~0x3U;
	case PCI_BAR_MEM32:
		return lo & ~0xfU;
	case PCI_BAR_MEM64:
		return (lo & ~0xfU) | (uint64_t)get32(&f->cfg[PCI_BASE_ADDRESS_0 + 4 * idx + 4]) << 32;
	default:
		return 0;
	}
}

/* Make the bus ranges of every BAR match the config space. */
static void update_bars(struct pci_func *f)
{
	uint16_t cmd = f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bars[i];
		bool io = b->kind == PCI_BAR_IO;
		struct bus *bus = io ? f->host->pio : f->host->mmio;
		uint64_t addr = bar_addr(f, i), limit = io ? 0x10000 : ~0ULL;
		bool want = b->kind != PCI_BAR_NONE &&
			    (cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) &&
			    addr && addr <= limit - b->size;

		if (b->mapped && (!want || b->addr != addr)) {
			bus_unregister(bus, b->addr, b->opaque);
			b->mapped = false;
		}
		/* A BAR the guest placed over something else stays unmapped
		 * (as with a conflict on real hardware), kite carries on. */
		if (want && !b->mapped &&
		    bus_register(bus, addr, b->size, b->fn, b->opaque, f->name) == 0) {
			b->addr = addr;
			b->mapped = true;
		}
	}
}

static struct pci_func *lookup(struct pci_host *host, unsigned bus, unsigned devfn)
{
	if (bus != 0 || (devfn & 7))
		return NULL;
	return host->slots[devfn >> 3];
}

void pci_config_access(struct pci_host *host, unsigned bus, unsigned devfn, unsigned off,
		       uint8_t *data, unsigned len, bool is_write)
{
	struct pci_func *f;
	bool bars = false;

	pthread_mutex_lock(&host->lock);
	f = lookup(host, bus, devfn);
	if (!f || off >= PCI_CFG_SIZE || off + len > PCI_CFG_SIZE) {
		/* No function: all ones; extended space of a function: zeros
		 * (no extended capabilities). */
		if (!is_write)
			memset(data, f ? 0 : 0xff, len);
		goto out;
	}
	if (!is_write) {
		if (f->ops && f->ops->config_read)
			f->ops->config_read(f, off, len);
		memcpy(data, &f->cfg[off], len);
		goto out;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		uint8_t v = data[i];

		f->cfg[o] = (f->cfg[o] & ~f->wmask[o]) | (v & f->wmask[o]);
		f->cfg[o] &= ~(v & f->w1c[o]);
		if ((o >= PCI_COMMAND && o < PCI_COMMAND + 2) ||
		    (o >= PCI_BASE_ADDRESS_0 && o < PCI_BASE_ADDRESS_0 + 4 * PCI_NUM_BARS))
			bars = true;
	}
	if (bars)
		update_bars(f);
	if (f->ops && f->ops->config_write)
		f->ops->config_write(f, off, len);
out:
	pthread_mutex_unlock(&host->lock);
}

/* Mechanism #1: the address register at 0xcf8 (32-bit accesses only). */
static void cf8_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *host = opaque;

	/* A byte at 0xcf9 is the reset control register, not ours. */
	if (off == 1 && len == 1 && host->cf9_fn) {
		host->cf9_fn(host->cf9_opaque, 0, data, len, is_write);
		return;
	}
	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		host->cf8 = get32(data) & 0x80fffffcU;
	else
		put32(data, host->cf8);
}

static void cfc_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *host = opaque;
	uint32_t a = host->cf8;

	if (!(a & 0x80000000U) || off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(host, (a >> 16) & 0xff, (a >> 8) & 0xff, (a & 0xfc) + (unsigned)off,
			  data, len, is_write);
}

static void ecam_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *host = opaque;
	unsigned reg = off & 0xfff;

	/* An access must not straddle two functions' spaces. */
	if (reg + len > 0x1000) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_config_access(host, (unsigned)(off >> 20), (off >> 12) & 0xff, reg, data, len, is_write);
}

int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio)
{
	int r;

	memset(host, 0, sizeof(*host));
	host->pio = pio;
	host->mmio = mmio;
	pthread_mutex_init(&host->lock, NULL);
	host->mmio_next = PCI_MMIO32_START;
	host->io_next = PCI_IO_WINDOW_START;
	/* 1b36:0008 is the PCIe host bridge ID used by virtual machines. */
	pci_func_init(&host->bridge, "pci-host", 0x1b36, 0x0008, 0x060000, 0, 0x1b36, 0x0008);
	host->bridge.host = host;
	host->slots[0] = &host->bridge;
	/* 0xcf9 (reset control) sits inside the address register's dword;
	 * cf8_io hands byte accesses there to the reset device. */
	r = bus_register(pio, PORT_PCI_CONFIG_ADDR, 4, cf8_io, host, "pci-cf8");
	if (!r)
		r = bus_register(pio, PORT_PCI_CONFIG_DATA, 4, cfc_io, host, "pci-cfc");
	if (!r)
		r = bus_register(mmio, PCI_ECAM_START, PCI_ECAM_SIZE, ecam_io, host, "pci-ecam");
	return r;
}

int pci_add(struct pci_host *host, struct pci_func *f)
{
	unsigned slot;

	for (slot = 1; slot < PCI_MAX_SLOTS && host->slots[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS)
		return err_set(ENOSPC, "PCI: no free slot for %s (bus 0 is full)", f->name);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bars[i];
		uint8_t *reg = &f->cfg[PCI_BASE_ADDRESS_0 + 4 * i];
		uint64_t *next = b->kind == PCI_BAR_IO ? &host->io_next : &host->mmio_next;
		uint64_t end = b->kind == PCI_BAR_IO ? PCI_IO_WINDOW_END
						     : PCI_MMIO32_START + PCI_MMIO32_SIZE;
		uint64_t addr;

		if (b->kind == PCI_BAR_NONE)
			continue;
		addr = (*next + b->size - 1) & ~(b->size - 1);
		if (addr + b->size > end)
			return err_set(ENOSPC, "PCI: no room in the %s window for %s BAR %u",
				       b->kind == PCI_BAR_IO ? "I/O" : "memory", f->name, i);
		*next = addr + b->size;
		put32(reg, (get32(reg) & (b->kind == PCI_BAR_IO ? 0x3 : 0xf)) | (uint32_t)addr);
		if (b->kind == PCI_BAR_MEM64)
			put32(reg + 4, (uint32_t)(addr >> 32));
	}
	f->host = host;
	f->slot = slot;
	if (f->cfg[PCI_INTERRUPT_PIN])
		f->cfg[PCI_INTERRUPT_LINE] = pci_intx_gsi(slot, f->cfg[PCI_INTERRUPT_PIN] - 1);
	/* Decode on, as firmware leaves devices it has assigned. */
	f->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
	pthread_mutex_lock(&host->lock);
	host->slots[slot] = f;
	update_bars(f);
	pthread_mutex_unlock(&host->lock);
	return 0;
}

/* ---- snapshot ---- */

int pci_func_save(struct pci_func *f, struct state_tree *st, int node)
{
	pthread_mutex_lock(&f->host->lock);
	state_put_u32(st, node, "slot", f->slot);
	state_put_bytes(st, node, "pci-config", f->cfg, PCI_CFG_SIZE);
	pthread_mutex_unlock(&f->host->lock);
	return state_error(st);
}

int pci_func_restore(struct pci_func *f, const void *fdt, int node)
{
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t slot;
	int r = state_get_u32(fdt, node, "slot", &slot);

	if (!r)
		r = state_get_bytes(fdt, node, "pci-config", cfg, sizeof(cfg));
	if (r)
		return r;
	if (slot != f->slot)
		return err_set(EINVAL, "PCI %s: in slot %u in the stream, slot %u here", f->name,
			       slot, f->slot);
	pthread_mutex_lock(&f->host->lock);
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++) {
		uint8_t ro = ~(f->wmask[o] | f->w1c[o]);

		/* The interrupt status bit follows the device, not the guest. */
		if (o == PCI_STATUS)
			ro &= ~PCI_STATUS_INTERRUPT;
		if ((cfg[o] ^ f->cfg[o]) & ro) {
			pthread_mutex_unlock(&f->host->lock);
			return err_set(EINVAL, "PCI %s: read-only config byte 0x%02x is 0x%02x in "
				       "the stream, 0x%02x here (the device is built differently)",
				       f->name, o, cfg[o], f->cfg[o]);
		}
	}
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++) {
		uint8_t rw = f->wmask[o] | f->w1c[o];

		f->cfg[o] = (f->cfg[o] & ~rw) | (cfg[o] & rw);
	}
	update_bars(f);
	pthread_mutex_unlock(&f->host->lock);
	return 0;
}
