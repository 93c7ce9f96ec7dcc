// SPDX-License-Identifier: Apache-2.0
/*
 * 16550A UART. Register behaviour follows the PC16550D datasheet; the
 * interrupt line follows "an enabled interrupt is pending" (the chip's
 * INTR pin). The ISA IRQ is edge-triggered in the PIC and IOAPIC, so each
 * idle -> pending transition is a new edge; a guest ISR reads IIR until no
 * interrupt is pending, which lowers the line and re-arms the edge.
 */
#include "devices/uart.h"

#include <string.h>

#include "devices/bus.h"
#include "vmm/err.h"
#include "vmm/state.h"
#include "vmm/vm.h"

/* Register offsets */
#define RBR_THR		0	/* DLL with DLAB */
#define IER		1	/* DLM with DLAB */
#define IIR_FCR		2
#define LCR		3
#define MCR		4
#define LSR		5
#define MSR		6
#define SCR		7

#define IER_RDA		0x01	/* received data available */
#define IER_THRE	0x02	/* transmitter holding register empty */
#define IER_RLS		0x04	/* receiver line status */
#define IER_MS		0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NONE	0x01
#define IIR_MS		0x00
#define IIR_THRE	0x02
#define IIR_RDA		0x04
#define IIR_RLS		0x06
#define IIR_TIMEOUT	0x0c
#define IIR_FIFO	0xc0	/* both bits set when FCR0 is */

#define FCR_ENABLE	0x01
#define FCR_RX_RESET	0x02
#define FCR_TX_RESET	0x04
#define FCR_KEEP	0xc9	/* enable, DMA mode, trigger level */

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

#define DIVISOR_9600	12	/* what a BIOS leaves: 115200 / 9600 */

static bool fifo_on(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

/* In 16450 mode the "FIFO" is the one-byte RBR. */
static unsigned rx_capacity(const struct uart *u)
{
	return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned levels[] = { 1, 4, 8, 14 };

	return levels[u->fcr >> 6];
}

/* The modem input lines: looped back from MCR, else a cable with the
 * other end ready (CTS, DSR, DCD asserted, no ring). */
static uint8_t msr_lines(const struct uart *u)
{
	uint8_t m = u->mcr;

	if (!(m & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

/* The highest-priority pending interrupt (datasheet table 4). */
static uint8_t iir_id(const struct uart *u)
{
	if ((u->ier & IER_RLS) && u->overrun)
		return IIR_RLS;
	if ((u->ier & IER_RDA) && u->rx_count) {
		/* Below the trigger level the chip signals a character
		 * timeout after four idle character times; here no time
		 * passes between characters, so it is pending at once. */
		if (fifo_on(u) && u->rx_count < rx_trigger(u))
			return IIR_TIMEOUT;
		return IIR_RDA;
	}
	if ((u->ier & IER_THRE) && u->thr_int)
		return IIR_THRE;
	if ((u->ier & IER_MS) && u->msr_delta)
		return IIR_MS;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	bool level = iir_id(u) != IIR_NONE;

	if (level != u->irq_level) {
		u->irq_level = level;
		vm_irq_line(u->vm, u->irq, level);
	}
}

static void rx_space_available(struct uart *u)
{
	if (u->rx_waiting && u->rx_count < rx_capacity(u) && !(u->mcr & MCR_LOOP)) {
		u->rx_waiting = false;
		if (u->rx_space)
			u->rx_space(u->rx_space_opaque);
	}
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	rx_space_available(u);
}

/* A character arrives at the receiver. When the FIFO is full it is an
 * overrun: in FIFO mode the new character is lost, in 16450 mode it
 * replaces the unread one in RBR. */
static void rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_count == rx_capacity(u)) {
		u->overrun = true;
		if (!fifo_on(u))
			u->rx[u->rx_head] = c;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
}

static uint8_t rx_pop(struct uart *u)
{
	if (u->rx_count) {
		u->rbr_last = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
		u->rx_count--;
		rx_space_available(u);
	}
	return u->rbr_last;
}

static void write_fcr(struct uart *u, uint8_t v)
{
	/* Changing FCR0 clears both FIFOs; the other bits are programmed
	 * only while FCR0 is (being) set. */
	if ((v ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (v & FCR_RX_RESET)
		rx_clear(u);
	/* FCR_TX_RESET: the transmitter holds nothing to drop. */
	u->fcr = v & FCR_KEEP;
	rx_space_available(u);	/* 16450 -> 16550 mode gives room */
}

static void write_mcr(struct uart *u, uint8_t v)
{
	uint8_t before = msr_lines(u), after, changed;

	u->mcr = v & MCR_MASK;
	after = msr_lines(u);
	changed = before ^ after;
	u->msr_delta |= (changed & MSR_CTS ? MSR_DCTS : 0) | (changed & MSR_DSR ? MSR_DDSR : 0) |
			(changed & MSR_DCD ? MSR_DDCD : 0) |
			(before & ~after & MSR_RI ? MSR_TERI : 0);	/* trailing edge */
	rx_space_available(u);	/* leaving loopback reconnects the input */
}

static void write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case RBR_THR:
		if (dlab) {
			u->dll = v;
			break;
		}
		if (u->mcr & MCR_LOOP)
			rx_push(u, v);
		else if (u->tx)
			u->tx(u->tx_opaque, v);
		/* Sent at once: THR is empty again, which is an interrupt. */
		u->thr_int = true;
		break;
	case IER:
		if (dlab) {
			u->dlm = v;
			break;
		}
		/* Enabling the THRE interrupt while THR is empty raises it. */
		if ((v ^ u->ier) & IER_THRE)
			u->thr_int = v & IER_THRE;
		u->ier = v & IER_MASK;
		break;
	case IIR_FCR:
		write_fcr(u, v);
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		write_mcr(u, v);
		break;
	case SCR:
		u->scr = v;
		break;
	default:
		break;	/* LSR and MSR: factory test writes, ignored */
	}
}

static uint8_t read_reg(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case RBR_THR:
		return dlab ? u->dll : rx_pop(u);
	case IER:
		return dlab ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir_id(u);
		if (v == IIR_THRE)
			u->thr_int = false;	/* reading IIR clears it */
		return v | (fifo_on(u) ? IIR_FIFO : 0);
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->overrun ? LSR_OE : 0);
		u->overrun = false;
		return v;
	case MSR:
		v = msr_lines(u) | u->msr_delta;
		u->msr_delta = 0;
		return v;
	default:
		return u->scr;
	}
}

/* Wider accesses reach consecutive registers, as on an 8-bit ISA bus. */
static void uart_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len; i++) {
		if (is_write)
			write_reg(u, off + i, data[i]);
		else
			data[i] = read_reg(u, off + i);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP))
		while (n < len && u->rx_count < rx_capacity(u))
			rx_push(u, buf[n++]);
	if (n < len)
		u->rx_waiting = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart_set_tx(struct uart *u, uart_tx_fn fn, void *opaque)
{
	pthread_mutex_lock(&u->lock);
	u->tx = fn;
	u->tx_opaque = opaque;
	pthread_mutex_unlock(&u->lock);
}

void uart_set_rx_notify(struct uart *u, uart_notify_fn fn, void *opaque)
{
	pthread_mutex_lock(&u->lock);
	u->rx_space = fn;
	u->rx_space_opaque = opaque;
	pthread_mutex_unlock(&u->lock);
}

void uart_reset(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	u->ier = 0;
	u->fcr = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->dll = DIVISOR_9600;
	u->dlm = 0;
	u->overrun = false;
	u->thr_int = false;
	u->msr_delta = 0;
	u->rbr_last = 0;
	rx_clear(u);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

int uart_init(struct uart *u, struct vm *vm, struct bus *pio, uint16_t base, unsigned irq)
{
	int r;

	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->pio = pio;
	u->base = base;
	u->irq = irq;
	pthread_mutex_init(&u->lock, NULL);
	uart_reset(u);
	r = bus_register(pio, base, UART_NREGS, uart_io, u, "uart");
	if (r)
		pthread_mutex_destroy(&u->lock);
	return r;
}

void uart_destroy(struct uart *u)
{
	bus_unregister(u->pio, u->base, u);
	pthread_mutex_destroy(&u->lock);
}

/* ---- snapshot ---- */

static const struct state_field uart_fields[] = {
	STATE_BITS(struct uart, ier, "ier", IER_MASK),
	STATE_BITS(struct uart, fcr, "fcr", FCR_KEEP),
	STATE_BITS(struct uart, lcr, "lcr", 0xff),
	STATE_BITS(struct uart, mcr, "mcr", MCR_MASK),
	STATE_BITS(struct uart, scr, "scr", 0xff),
	STATE_BITS(struct uart, dll, "dll", 0xff),
	STATE_BITS(struct uart, dlm, "dlm", 0xff),
	STATE_FIELD(struct uart, overrun, "overrun", 1),
	STATE_FIELD(struct uart, thr_int, "thr-int", 1),
	STATE_BITS(struct uart, msr_delta, "msr-delta", 0x0f),
	STATE_BITS(struct uart, rbr_last, "rbr-last", 0xff),
	STATE_FIELD(struct uart, irq_level, "irq-level", 1),
};
#define NFIELDS (sizeof(uart_fields) / sizeof(uart_fields[0]))

int uart_save(struct uart *u, struct state_tree *st, int node)
{
	uint8_t fifo[UART_FIFO_SIZE];

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < u->rx_count; i++)
		fifo[i] = u->rx[(u->rx_head + i) % UART_FIFO_SIZE];
	state_put_fields(st, node, u, uart_fields, NFIELDS);
	state_put_bytes(st, node, "rx-fifo", fifo, u->rx_count);
	pthread_mutex_unlock(&u->lock);
	return state_error(st);
}

int uart_restore(struct uart *u, const void *fdt, int node)
{
	struct uart v;
	uint8_t fifo[UART_FIFO_SIZE];
	size_t n;
	int r;

	/* Decode aside: nothing changes unless all of it checks out. */
	memset(&v, 0, sizeof(v));
	r = state_get_fields(fdt, node, &v, uart_fields, NFIELDS);
	if (!r)
		r = state_get_bytes_max(fdt, node, "rx-fifo", fifo, sizeof(fifo), &n);
	if (r)
		return r;
	if (!(v.fcr & FCR_ENABLE) && v.fcr)
		return err_set(EINVAL, "uart: fcr 0x%02x is not a value the UART keeps", v.fcr);
	if (n > rx_capacity(&v))
		return err_set(EINVAL, "uart: %zu bytes in a receive FIFO of %u", n,
			       rx_capacity(&v));
	pthread_mutex_lock(&u->lock);
	u->ier = v.ier;
	u->fcr = v.fcr;
	u->lcr = v.lcr;
	u->mcr = v.mcr;
	u->scr = v.scr;
	u->dll = v.dll;
	u->dlm = v.dlm;
	u->overrun = v.overrun;
	u->thr_int = v.thr_int;
	u->msr_delta = v.msr_delta;
	u->rbr_last = v.rbr_last;
	u->irq_level = v.irq_level;
	memcpy(u->rx, fifo, n);
	u->rx_head = 0;
	u->rx_count = n;
	pthread_mutex_unlock(&u->lock);
	return 0;
}
