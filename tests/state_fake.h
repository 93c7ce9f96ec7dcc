/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the snapshot tests of virtio devices (tests/test_*_state.c):
 * a "side" is one VM's worth of PCI host, IRQ router (fake KVM) and test
 * driver, so a device saved on side A can be restored into a fresh one on
 * side B over the same guest RAM; and a synchronous stand-in for the disk
 * backend and I/O threads (struct blk_io_ops) whose completions sf_run()
 * runs as an I/O thread's batch would.
 */
#ifndef KITE_TESTS_STATE_FAKE_H
#define KITE_TESTS_STATE_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "tests/fake_kvm.h"
#include "tests/vpci_driver.h"
#include "virtio/blk.h"

struct side {
	struct bus pio, mmio;
	struct pci_host host;
	struct fake_kvm *k;
	struct irq_router ir;
	struct vpci_drv d;
};

void side_init(struct side *s);
void side_free(struct side *s);

/* The backend: readv/writev/flush on the disk's fd, completions queued;
 * eventfd watches and batch hooks recorded. sf_reset() forgets them all
 * (before a device is created on a new side). */
extern const struct blk_io_ops sf_io;
extern bool sf_hold;			/* leave completions queued */
extern struct iothread *sf_thread;	/* a token to pass as the I/O thread */
void sf_reset(void);
/* Kicks, completions, batch hooks, until quiet. */
void sf_run(void);
unsigned sf_pending(void);

/* The value of an eventfd's counter (read, so reset), 0 if none. */
uint64_t sf_efd_read(int fd);

#endif
