/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the tests of virtio devices: a "side" is one VM's worth of PCI
 * host, IRQ router (fake KVM) and test driver, so a device saved on side A
 * can be restored into a fresh one on side B over the same guest RAM (the
 * snapshot tests, tests/test_*_state.c); and a synchronous stand-in for the
 * disk backend and I/O threads (struct blk_io_ops) whose completions
 * sf_run() runs as an I/O thread's batch would (those and the blk and scsi
 * tests).
 */
#ifndef KITE_TESTS_STATE_FAKE_H
#define KITE_TESTS_STATE_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "tests/fake_kvm.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/blk.h"
#include "vmm/state.h"

struct side {
	struct bus pio, mmio;
	struct pci_host host;
	struct fake_kvm *k;
	struct irq_router ir;
	struct vpci_drv d;
};

void side_init(struct side *s);
void side_free(struct side *s);
/* Both sides of a snapshot test, over the guest RAM of ram (a vq_fake of
 * queue size qsize), and st, the tree that side a saves into; the fake VM
 * and the backend below reset. */
void sides_init(struct side *a, struct side *b, struct vq_fake *ram, uint16_t qsize,
		struct state_tree *st);
void sides_free(struct side *a, struct side *b, struct vq_fake *ram, struct state_tree *st);

/* The backend: reads, writes and flushes on the disk's fd, discard and
 * write-zeroes as writes of zeroes, completions queued; eventfd watches,
 * batch and idle hooks recorded. What the tests set and read of it is in
 * sf; sf_reset() forgets it all (before a device is created on a new
 * side). */
struct sf_state {
	bool hold;			/* leave completions queued */
	bool null_mode;			/* reads and writes answer 1, as the null backend */
	bool polling;			/* what the polling() call answers */
	unsigned npend;			/* completions queued */
	unsigned nwatch, nhooks, nidle;
	unsigned ndiscard, nzero;	/* backend calls */
	struct iothread *hook_thread[8];	/* each batch hook's thread */
};

extern struct sf_state sf;
extern const struct blk_io_ops sf_io;
extern struct iothread *sf_thread;	/* a token to pass as the I/O thread */
void sf_reset(void);
/* Kicks, completions, batch hooks, until quiet. */
void sf_run(void);
/* The idle hooks, once each: whether any found work. */
bool sf_run_idle(void);

/* The value of an eventfd's counter (read, so reset), 0 if none. */
uint64_t sf_efd_read(int fd);

#endif
