/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A 16550A UART (PC16550D datasheet): 16-byte receive FIFO, divisor latch,
 * loopback, modem status, the four interrupt sources by priority, on an
 * ISA IRQ. Transmission is instantaneous: THR and the transmitter are
 * always empty again by the time the guest looks, and each byte goes to a
 * `tx` callback (the console). Received bytes come from uart_receive(),
 * which never overruns the FIFO: it takes what fits, and the caller waits
 * for the `rx_space` notification to send the rest.
 *
 * Thread-safe: vCPU threads access the registers while the console's
 * input thread pushes bytes.
 */
#ifndef KITE_DEVICES_UART_H
#define KITE_DEVICES_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct vm;

#define UART_FIFO_SIZE	16
#define UART_NREGS	8

/* Called with each transmitted byte, under the UART's lock. */
typedef void (*uart_tx_fn)(void *opaque, uint8_t byte);
/* Called (under the UART's lock, so it must not call back into the UART)
 * when the receive FIFO has room again after uart_receive() fell short. */
typedef void (*uart_notify_fn)(void *opaque);

struct uart {
	pthread_mutex_t lock;
	struct vm *vm;
	struct bus *pio;
	uint16_t base;
	unsigned irq;
	bool irq_level;		/* what the ISA line was last set to */

	uart_tx_fn tx;
	void *tx_opaque;
	uart_notify_fn rx_space;
	void *rx_space_opaque;
	bool rx_waiting;	/* uart_receive() fell short since the last notify */

	uint8_t ier;
	uint8_t fcr;		/* the bits that persist: enable, DMA mode, trigger */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t scr;
	uint8_t dll, dlm;
	bool overrun;		/* LSR OE, until LSR is read */
	bool thr_int;		/* THR-empty interrupt pending */
	uint8_t msr_delta;	/* MSR bits 0-3, until MSR is read */
	uint8_t rbr_last;	/* what RBR reads when the FIFO is empty */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head;
	unsigned rx_count;
};

/* Initialise `u` at I/O port `base` (8 ports) on `pio`, interrupting on
 * ISA IRQ `irq`. Errors (a port clash) are recorded with err_set. */
int uart_init(struct uart *u, struct vm *vm, struct bus *pio, uint16_t base, unsigned irq);
void uart_destroy(struct uart *u);
/* Power-on register state; empties the FIFO and lowers the IRQ line. */
void uart_reset(struct uart *u);

/* Where transmitted bytes go (NULL: discarded). */
void uart_set_tx(struct uart *u, uart_tx_fn fn, void *opaque);
void uart_set_rx_notify(struct uart *u, uart_notify_fn fn, void *opaque);

/* Offer `len` received bytes; returns how many the FIFO took (none while
 * in loopback, where the serial input is disconnected). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

struct state_tree;
/* Snapshot: registers and receive FIFO as properties of `node` (vmm/state.h).
 * Restore into a UART fresh from uart_init(); values are checked first, so
 * a bad tree leaves it untouched. The IRQ level is taken as saved without
 * touching the line: the ISA IRQ is edge-triggered and the restored
 * irqchip already holds any edge the guest has yet to see. */
int uart_save(struct uart *u, struct state_tree *st, int node);
int uart_restore(struct uart *u, const void *fdt, int node);

#endif
