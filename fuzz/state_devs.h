/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the state-tree harnesses (fuzz_state_*.c, fuzz_snapshot.c) and
 * their seed generator (gen_seeds_state.c): the devices whose restore is
 * fuzzed, built on fakes exactly the same way on both sides, so that a
 * tree saved by the generator restores cleanly in the harness before
 * libFuzzer starts mutating it.
 *
 * A state input is a STATE_HDR-byte header, then a state tree (an FDT
 * blob) whose root has the device's node, "dev":
 *
 *   byte 0   which device or restore function (the harness's list)
 *   byte 1   harness-specific flags
 *   2..7     reserved
 *
 * A snapshot input is one byte of SNAPIN_* flags, then a snapshot stream
 * (vmm/snapshot.h) for the VM of snapfuzz_shape() over snapfuzz memory.
 */
#ifndef KITE_FUZZ_STATE_DEVS_H
#define KITE_FUZZ_STATE_DEVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "vmm/irq.h"
#include "vmm/memory.h"

#define STATE_HDR	8
#define STATE_NODE	"dev"

/* ---- the state tree as the harnesses take it ---- */

/* The tree of an input, copied into an exact-size 8-aligned buffer (so
 * ASan sees any read past it); NULL if there is none or it fails
 * state_check() (as snapshot_read_fd makes sure a tree does). One that
 * passes has been walked (state_walk). Free with free(). */
void *state_input_tree(const uint8_t *data, size_t size, size_t *len);
/* Every getter of vmm/state.h on every property of every node, and
 * state_node/state_has on every child: the reader on its own. The tree
 * passed state_check(). */
void state_walk(const void *fdt);

/* With KITE_FUZZ_VERBOSE set, say how a restore (or read) ended: to see
 * what a seed or a regression input does. */
void state_note(const char *what, int r);
/* Note how a restore ended and check it ended as one must: 0, or an error
 * that says why. True if it restored. */
bool state_restored(const char *what, int r);
struct state_tree;
/* The tree st holds (saved after a restore), finished and copied like an
 * input's; it must pass state_check(). Free with free(); st stays st's. */
void *state_tree_copy(struct state_tree *st, size_t *len);

/* ---- virtio devices ---- */

enum sd_kind { SD_TRANSPORT, SD_BLK, SD_SCSI, SD_NET, SD_NKINDS };

struct fake_kvm;
struct virtio_pci;
struct device;

struct sdev {
	enum sd_kind kind;
	struct bus pio, mmio;
	struct pci_host host;
	struct irq_router irq;
	struct fake_kvm *kvm;
	struct virtio_pci *t;
	struct device *dev;	/* NULL for the bare transport */
	void *obj;		/* the struct virtio_blk/scsi/net */
	unsigned slot, nq;
	uint64_t bar0;		/* BAR 0 as pci_add placed it */
};

extern const char *const sd_names[SD_NKINDS];

/* A fresh device of `kind` over fuzz_ram (fuzz.h), its fakes reset. */
void sd_create(struct sdev *s, enum sd_kind kind);
void sd_destroy(struct sdev *s);
int sd_save(struct sdev *s, struct state_tree *st, int node);
int sd_restore(struct sdev *s, const void *fdt, int node);

/* As a guest: PCI config space and the BAR wherever config space puts it
 * now (false: nothing mapped there). */
uint32_t sd_cfg_read(struct sdev *s, unsigned off, unsigned len);
void sd_cfg_write(struct sdev *s, unsigned off, uint32_t v, unsigned len);
bool sd_bar_rw(struct sdev *s, uint64_t off, uint64_t *v, unsigned len, bool is_write);

/* A driver bringing the device up: features (all offered but `drop`),
 * with MSI-X or INTx, the first `nenable` queues enabled (size qsize, rings
 * at SD_RING(i) in fuzz_ram), DRIVER_OK. */
#define SD_RING(i)	(0x10000ULL + 0x1000ULL * (i))
#define SD_RING_COUNT	5	/* the most queues of any kind (net) */
void sd_driver_up(struct sdev *s, uint64_t drop, bool msix, unsigned nenable, uint16_t qsize);

/* Put work in the rings at SD_RING(i) (queue size 16) for nq queues, as a
 * guest leaves it when it is snapshotted: five chains of three buffers
 * (64 bytes readable, 512 and 16 writable) in the available ring. */
#define SD_FILL_RINGS	0x01	/* byte 1 of a virtio state input */
void sd_fill_rings(unsigned nq);

/* What a guest and the I/O threads do next: run the fake I/O thread, kick
 * every queue, interrupt on every queue and for config, read back every
 * common-config field for every queue select, the ISR and the MSI-X
 * table; then reset the device and check it is reset. */
void sd_exercise(struct sdev *s);

/* ---- snapshot ---- */

#define SNAPIN_FIX_CRC	0x01	/* recompute every checksum before reading */
#define SNAPIN_STALE	0x02	/* memory is not fresh (fresh = false) */

struct snap_shape;
/* Region 0: 4 pages at 0; region 1: 3 pages at 1 MiB. Each has a
 * PROT_NONE page either side. */
#define SNAPFUZZ_R0_PAGES	4
#define SNAPFUZZ_R1_GPA		0x100000ULL
#define SNAPFUZZ_R1_PAGES	3
void snapfuzz_mem(struct guest_mem *mem);
void snapfuzz_shape(struct snap_shape *s, const struct guest_mem *mem);

/* ---- x86: a fake KVM behind struct x86_kvm_ops (state_x86fake.c) ---- */

#define X86F_CPUS	2

/* Capabilities the fake lacks, and how it misbehaves (byte 1 of an x86
 * state input). */
#define X86F_NO_SREGS2	0x01
#define X86F_XSAVE_4K	0x02	/* no KVM_CAP_XSAVE2: the legacy 4096 bytes */
#define X86F_NO_XSAVE	0x04	/* no XSAVE at all: KVM_SET_FPU */
#define X86F_NO_SMM	0x08
#define X86F_NO_TSCCTL	0x10	/* no TSC scaling */
#define X86F_REALTIME	0x20	/* restore with clock_realtime */
#define X86F_MSR_REFUSE	0x40	/* KVM_SET_MSRS refuses every third MSR */
#define X86F_FAIL	0x80	/* KVM_SET_LAPIC fails on vCPU 1 */

struct x86_kvm_ops;
struct x86fake {
	uint8_t flags;
	unsigned sets;		/* set ioctls made */
	unsigned warnings;
};

extern const struct x86_kvm_ops x86fake_ops;
/* Checks every set against what KVM takes; GETs hand out fixed data. */
void x86fake_init(struct x86fake *f, uint8_t flags);

#endif
