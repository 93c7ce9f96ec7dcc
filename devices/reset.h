/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ways a guest ends itself besides ACPI S5, each stopping the VM:
 *  - 0xcf9, the reset control register (the FADT's RESET_REG): a write
 *    with bit 2 (RST_CPU) set -> exit status 0. It shares a dword with the
 *    PCI address register, so the PCI host forwards byte accesses there
 *    to reset_cf9_io() (pci_host.cf9_fn / cf9_opaque).
 *  - the i8042 keyboard controller at 0x60/0x64: command 0xfe (pulse the
 *    reset line) or an output-port write with bit 0 clear -> exit status 0.
 *    It has no keyboard or mouse behind it and raises no interrupts; its
 *    answers let Linux decide quickly that there is no AUX port and no
 *    keyboard, without probe timeouts.
 *  - the debug-exit port 0xf4: a 32-bit write of v -> exit status v & 0xff,
 *    for test guests. Other widths are ignored.
 */
#ifndef KITE_DEVICES_RESET_H
#define KITE_DEVICES_RESET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus;
struct vm;

struct reset_dev {
	pthread_mutex_t lock;
	struct vm *vm;
	struct bus *pio;
	uint8_t cf9;		/* last value written to 0xcf9 */
	/* i8042 */
	uint8_t ctr;		/* controller configuration byte */
	uint8_t outport;	/* output port: bit 0 reset line, bit 1 A20 */
	uint8_t out;		/* output buffer */
	bool obf;		/* output buffer full */
	bool last_was_cmd;	/* status bit 3: last write went to 0x64 */
	uint8_t pending;	/* command waiting for its data byte, or 0 */
};

/* Register 0x60, 0x64 and 0xf4 on `pio` (not 0xcf9: see above). Errors
 * are recorded with err_set; nothing stays registered then. */
int reset_dev_init(struct reset_dev *r, struct vm *vm, struct bus *pio);
void reset_dev_destroy(struct reset_dev *r);
/* Power-on state of the registers. */
void reset_dev_reset(struct reset_dev *r);

/* The bus handler of the 0xcf9 byte (offset 0), `opaque` the reset_dev. */
void reset_cf9_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write);

struct state_tree;
/* Snapshot: the 0xcf9 byte and the i8042's registers as properties of
 * `node` (vmm/state.h); restore into a device fresh from reset_dev_init(). */
int reset_dev_save(struct reset_dev *r, struct state_tree *st, int node);
int reset_dev_restore(struct reset_dev *r, const void *fdt, int node);

#endif
