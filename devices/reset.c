// SPDX-License-Identifier: Apache-2.0
/*
 * Reset control (0xcf9), a minimal i8042 and the debug-exit port.
 * See reset.h for what each does and why.
 */
#include "devices/reset.h"

#include <string.h>

#include "arch/x86/layout.h"
#include "devices/bus.h"
#include "vmm/err.h"
#include "vmm/state.h"
#include "vmm/vm.h"

#define CF9_RST_CPU		0x04
#define DEBUG_EXIT_LEN		4

/* i8042 status register */
#define STS_OBF			0x01
#define STS_SYS			0x04
#define STS_CMD			0x08	/* last write was a command */
#define STS_UNLOCKED		0x10	/* keyboard not inhibited */
/* controller configuration byte */
#define CTR_SYS			0x04
#define CTR_KBD_DISABLE		0x10
#define CTR_AUX_DISABLE		0x20
#define CTR_XLATE		0x40
/* output port */
#define OUTPORT_RESET		0x01	/* 0 holds the CPU in reset */
#define OUTPORT_A20		0x02

/* Controller commands (written to 0x64) */
#define CMD_READ_CTR		0x20
#define CMD_WRITE_CTR		0x60
#define CMD_AUX_DISABLE		0xa7
#define CMD_AUX_ENABLE		0xa8
#define CMD_AUX_TEST		0xa9
#define CMD_SELF_TEST		0xaa
#define CMD_KBD_TEST		0xab
#define CMD_KBD_DISABLE		0xad
#define CMD_KBD_ENABLE		0xae
#define CMD_READ_OUTPORT	0xd0
#define CMD_WRITE_OUTPORT	0xd1
#define CMD_WRITE_KBD_OUT	0xd2
#define CMD_WRITE_AUX_OUT	0xd3
#define CMD_WRITE_AUX		0xd4
#define CMD_PULSE_BASE		0xf0	/* 0xf0-0xff: pulse output lines low */

#define SELF_TEST_OK		0x55
#define PORT_TEST_OK		0x00
#define PORT_TEST_CLOCK_LOW	0x01

static void stop(struct reset_dev *r, int status, const char *why)
{
	vm_request_stop(r->vm, status, why);
}

void reset_cf9_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct reset_dev *r = opaque;
	bool reset = false;

	if (off != 0 || len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&r->lock);
	if (is_write) {
		r->cf9 = data[0];
		reset = data[0] & CF9_RST_CPU;
	} else {
		data[0] = r->cf9;
	}
	pthread_mutex_unlock(&r->lock);
	if (reset)
		stop(r, KITE_EXIT_OK, "guest reset (port 0xcf9)");
}

static void kbc_output(struct reset_dev *r, uint8_t v)
{
	r->out = v;
	r->obf = true;
}

/* A controller command; returns true if it resets the machine. */
static bool kbc_command(struct reset_dev *r, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		kbc_output(r, r->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		r->pending = cmd;
		break;
	case CMD_AUX_DISABLE:
		r->ctr |= CTR_AUX_DISABLE;
		break;
	case CMD_AUX_ENABLE:
		r->ctr &= ~CTR_AUX_DISABLE;
		break;
	case CMD_AUX_TEST:
		/* Nothing behind the AUX port: report its clock line stuck,
		 * which Linux takes as "no AUX port" without waiting. */
		kbc_output(r, PORT_TEST_CLOCK_LOW);
		break;
	case CMD_SELF_TEST:
		r->ctr |= CTR_SYS;
		kbc_output(r, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		kbc_output(r, PORT_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		r->ctr |= CTR_KBD_DISABLE;
		break;
	case CMD_KBD_ENABLE:
		r->ctr &= ~CTR_KBD_DISABLE;
		break;
	case CMD_READ_OUTPORT:
		kbc_output(r, r->outport);
		break;
	default:
		/* 0xf0-0xff pulse the output lines whose bit is 0 in the low
		 * nibble; line 0 is the CPU reset (0xfe). */
		if (cmd >= CMD_PULSE_BASE && !(cmd & OUTPORT_RESET))
			return true;
		break;	/* unknown commands do nothing */
	}
	return false;
}

/* A byte written to 0x60: a command's data, or for the (absent) keyboard. */
static bool kbc_data(struct reset_dev *r, uint8_t v)
{
	uint8_t cmd = r->pending;

	r->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		r->ctr = v;
		break;
	case CMD_WRITE_OUTPORT:
		r->outport = v;
		return !(v & OUTPORT_RESET);
	case CMD_WRITE_KBD_OUT:
		kbc_output(r, v);
		break;
	case CMD_WRITE_AUX_OUT:
		/* A controller with an AUX port would mark this byte as AUX
		 * data; without that mark Linux's loopback test fails at once
		 * and it stops looking for a mouse. */
		kbc_output(r, v);
		break;
	default:
		break;	/* to a device that is not there: no answer */
	}
	return false;
}

static void kbc_io(void *opaque, uint64_t port, uint8_t *data, bool is_write)
{
	struct reset_dev *r = opaque;
	bool reset = false;

	pthread_mutex_lock(&r->lock);
	if (port == PORT_I8042_CMD) {
		if (is_write) {
			r->last_was_cmd = true;
			r->pending = 0;
			reset = kbc_command(r, data[0]);
		} else {
			data[0] = (r->obf ? STS_OBF : 0) | (r->ctr & CTR_SYS ? STS_SYS : 0) |
				  (r->last_was_cmd ? STS_CMD : 0) | STS_UNLOCKED;
		}
	} else if (is_write) {
		r->last_was_cmd = false;
		reset = kbc_data(r, data[0]);
	} else {
		data[0] = r->out;	/* an empty buffer reads its last byte */
		r->obf = false;
	}
	pthread_mutex_unlock(&r->lock);
	if (reset)
		stop(r, KITE_EXIT_OK, "guest reset (i8042)");
}

static void i8042_data_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
			  bool is_write)
{
	(void)off;
	(void)len;	/* one-byte range: len is 1 */
	kbc_io(opaque, PORT_I8042_DATA, data, is_write);
}

static void i8042_cmd_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
			 bool is_write)
{
	(void)off;
	(void)len;
	kbc_io(opaque, PORT_I8042_CMD, data, is_write);
}

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
			  bool is_write)
{
	struct reset_dev *r = opaque;
	uint32_t v;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off != 0 || len != 4)
		return;
	v = data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24;
	stop(r, v & 0xff, "debug-exit");
}

void reset_dev_reset(struct reset_dev *r)
{
	pthread_mutex_lock(&r->lock);
	r->cf9 = 0;
	/* What firmware leaves behind: self-test passed, translation on,
	 * interrupts off (this controller never raises them), A20 on. */
	r->ctr = CTR_SYS | CTR_XLATE;
	r->outport = OUTPORT_RESET | OUTPORT_A20;
	r->out = 0;
	r->obf = false;
	r->last_was_cmd = false;
	r->pending = 0;
	pthread_mutex_unlock(&r->lock);
}

static const struct {
	uint16_t port;
	uint16_t len;
	bus_io_fn fn;
	const char *name;
} ports[] = {
	{ PORT_I8042_DATA, 1, i8042_data_io, "i8042-data" },
	{ PORT_I8042_CMD, 1, i8042_cmd_io, "i8042-cmd" },
	{ PORT_DEBUG_EXIT, DEBUG_EXIT_LEN, debug_exit_io, "debug-exit" },
};

int reset_dev_init(struct reset_dev *r, struct vm *vm, struct bus *pio)
{
	unsigned i;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->vm = vm;
	r->pio = pio;
	pthread_mutex_init(&r->lock, NULL);
	reset_dev_reset(r);
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		ret = bus_register(pio, ports[i].port, ports[i].len, ports[i].fn, r,
				   ports[i].name);
		if (ret)
			break;
	}
	if (ret) {
		while (i--)
			bus_unregister(pio, ports[i].port, r);
		pthread_mutex_destroy(&r->lock);
	}
	return ret;
}

void reset_dev_destroy(struct reset_dev *r)
{
	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		bus_unregister(r->pio, ports[i].port, r);
	pthread_mutex_destroy(&r->lock);
}

/* ---- snapshot ---- */

static const struct state_field reset_fields[] = {
	STATE_BITS(struct reset_dev, cf9, "cf9", 0xff),
	STATE_BITS(struct reset_dev, ctr, "i8042-ctr", 0xff),
	STATE_BITS(struct reset_dev, outport, "i8042-outport", 0xff),
	STATE_BITS(struct reset_dev, out, "i8042-out", 0xff),
	STATE_FIELD(struct reset_dev, obf, "i8042-obf", 1),
	STATE_FIELD(struct reset_dev, last_was_cmd, "i8042-last-was-cmd", 1),
	STATE_BITS(struct reset_dev, pending, "i8042-pending", 0xff),
};
#define NFIELDS (sizeof(reset_fields) / sizeof(reset_fields[0]))

int reset_dev_save(struct reset_dev *r, struct state_tree *st, int node)
{
	pthread_mutex_lock(&r->lock);
	state_put_fields(st, node, r, reset_fields, NFIELDS);
	pthread_mutex_unlock(&r->lock);
	return state_error(st);
}

int reset_dev_restore(struct reset_dev *r, const void *fdt, int node)
{
	struct reset_dev v;
	int ret;

	memset(&v, 0, sizeof(v));
	ret = state_get_fields(fdt, node, &v, reset_fields, NFIELDS);
	if (ret)
		return ret;
	pthread_mutex_lock(&r->lock);
	r->cf9 = v.cf9;
	r->ctr = v.ctr;
	r->outport = v.outport;
	r->out = v.out;
	r->obf = v.obf;
	r->last_was_cmd = v.last_was_cmd;
	r->pending = v.pending;
	pthread_mutex_unlock(&r->lock);
	return 0;
}
