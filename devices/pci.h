/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI: a host bridge at 00:00.0 reached through configuration mechanism #1
 * (0xcf8/0xcfc) and ECAM, and the functions on bus 0. kite assigns every
 * BAR at start (32-bit window, layout.h) and turns decoding on, as firmware
 * would; when the guest moves a BAR or toggles decoding, the bus ranges
 * follow.
 */
#ifndef KITE_DEVICES_PCI_H
#define KITE_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define PCI_CFG_SIZE		256
#define PCI_MAX_SLOTS		32
#define PCI_NUM_BARS		6

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define  PCI_COMMAND_IO		0x1
#define  PCI_COMMAND_MEMORY	0x2
#define  PCI_COMMAND_MASTER	0x4
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS		0x06
#define  PCI_STATUS_INTERRUPT	0x08
#define  PCI_STATUS_CAP_LIST	0x10
#define PCI_REVISION_ID		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_CLASS_DEVICE	0x0a
#define PCI_HEADER_TYPE		0x0e
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_SUBSYSTEM_VENDOR_ID	0x2c
#define PCI_SUBSYSTEM_ID	0x2e
#define PCI_CAPABILITY_LIST	0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d

enum pci_bar_kind { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_kind kind;
	uint64_t size;		/* power of two */
	uint64_t addr;		/* where it is mapped now (0: nowhere) */
	bus_io_fn fn;
	void *opaque;
	bool mapped;
};

struct pci_func;

struct pci_func_ops {
	/* Called after the core applied a config write (BARs and command are
	 * the core's); lets a device react to its capabilities. */
	void (*config_write)(struct pci_func *f, unsigned off, unsigned len);
	/* Called before a config read so a device can refresh live fields. */
	void (*config_read)(struct pci_func *f, unsigned off, unsigned len);
};

struct pci_func {
	char name[24];
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	/* bits the guest may write */
	uint8_t w1c[PCI_CFG_SIZE];	/* bits a guest write of 1 clears */
	struct pci_bar bars[PCI_NUM_BARS];
	const struct pci_func_ops *ops;
	void *opaque;
	unsigned slot;
	struct pci_host *host;
	uint8_t next_cap;		/* where the next capability goes */
};

struct pci_host {
	struct bus *pio;
	struct bus *mmio;
	pthread_mutex_t lock;		/* config accesses and BAR moves */
	uint32_t cf8;			/* mechanism #1 address register */
	bus_io_fn cf9_fn;		/* byte accesses to 0xcf9 (reset control) */
	void *cf9_opaque;
	struct pci_func bridge;
	struct pci_func *slots[PCI_MAX_SLOTS];
	uint64_t mmio_next;		/* next free address for a BAR */
	uint64_t io_next;
};

int pci_host_init(struct pci_host *host, struct bus *pio, struct bus *mmio);

/* Fill identity fields of a function (the rest of cfg starts zeroed). */
void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);
/* Declare BAR `idx` (a 64-bit BAR takes idx and idx+1). */
void pci_func_set_bar(struct pci_func *f, unsigned idx, enum pci_bar_kind kind, uint64_t size,
		      bus_io_fn fn, void *opaque);
/* Append a capability (id, then `len` bytes of body starting at its byte 2);
 * returns its config offset or a negative errno. `wmask` (may be NULL) is
 * applied to the body. */
int pci_func_add_cap(struct pci_func *f, uint8_t id, const uint8_t *body, const uint8_t *wmask,
		     unsigned len);
/* Put a function in the first free slot (>= 1), assign its BARs and map
 * them, set its INTx line. */
int pci_add(struct pci_host *host, struct pci_func *f);

/* Config space access (used by both mechanisms; exposed for tests). */
void pci_config_access(struct pci_host *host, unsigned bus, unsigned devfn, unsigned off,
		       uint8_t *data, unsigned len, bool is_write);

struct state_tree;
/*
 * Snapshot of a function on the bus: its slot and the whole 256-byte config
 * space, as properties of `node` (vmm/state.h). Restore takes a function
 * built the same way (pci_add done): the slot and every read-only bit must
 * match (else the device differs and the error names the byte), the
 * writable and write-1-to-clear bits are taken from the tree, and the BARs
 * are mapped where the restored config space puts them, as after a guest
 * write. Device-specific follow-ups (capabilities) are the device's.
 */
int pci_func_save(struct pci_func *f, struct state_tree *st, int node);
int pci_func_restore(struct pci_func *f, const void *fdt, int node);

#endif
