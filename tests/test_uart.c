// SPDX-License-Identifier: Apache-2.0
/* The 16550A UART (registers, FIFO, loopback, interrupts) and the console. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/bus.h"
#include "devices/uart.h"
#include "tests/fake_vm.h"
#include "vmm/console.h"
#include "vmm/err.h"

#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static struct bus pio;
static struct uart uart;
static char txbuf[256];
static size_t txlen;
static int notified;

static void capture(void *opaque, uint8_t byte)
{
	(void)opaque;
	if (txlen < sizeof(txbuf))
		txbuf[txlen++] = byte;
}

static void on_space(void *opaque)
{
	(void)opaque;
	notified++;
}

static void setup(void)
{
	fake_vm_reset();
	bus_init(&pio, "pio");
	ck_assert_int_eq(uart_init(&uart, FAKE_VM, &pio, PORT_COM1, COM1_IRQ), 0);
	uart_set_tx(&uart, capture, NULL);
	uart_set_rx_notify(&uart, on_space, NULL);
	txlen = 0;
	notified = 0;
}

static void teardown(void)
{
	uart_destroy(&uart);
	bus_destroy(&pio);
}

static uint8_t in(unsigned reg)
{
	uint8_t v;

	ck_assert(bus_access(&pio, PORT_COM1 + reg, &v, 1, false));
	return v;
}

static void out(unsigned reg, uint8_t v)
{
	ck_assert(bus_access(&pio, PORT_COM1 + reg, &v, 1, true));
}

static int irq4(void)
{
	return fake_vm_get().irq_level[COM1_IRQ];
}

START_TEST(reset_values)
{
	ck_assert_uint_eq(in(IER), 0);
	ck_assert_uint_eq(in(IIR), 0x01);
	ck_assert_uint_eq(in(LCR), 0);
	ck_assert_uint_eq(in(MCR), 0);
	ck_assert_uint_eq(in(LSR), 0x60);
	ck_assert_uint_eq(in(MSR), 0xb0);	/* CTS, DSR, DCD: the other end is there */
	ck_assert_uint_eq(in(SCR), 0);
	ck_assert_int_eq(irq4(), 0);
	ck_assert(bus_find(&pio, PORT_COM1 + 7, &(struct bus_range){ 0 }));
	ck_assert(!bus_find(&pio, PORT_COM1 + 8, &(struct bus_range){ 0 }));
}
END_TEST

START_TEST(dlab_and_scratch)
{
	uint8_t w[2];

	out(LCR, 0x83);
	out(DLL, 0x01);
	out(DLM, 0x02);
	ck_assert_uint_eq(in(DLL), 0x01);
	ck_assert_uint_eq(in(DLM), 0x02);
	ck_assert(bus_access(&pio, PORT_COM1, w, 2, false));	/* DLL, DLM in one */
	ck_assert_uint_eq(w[0] | w[1] << 8, 0x0201);
	ck_assert_uint_eq(txlen, 0);		/* DLL writes are not data */
	out(LCR, 0x03);
	ck_assert_uint_eq(in(LCR), 0x03);
	ck_assert_uint_eq(in(IER), 0);		/* IER untouched by DLM */
	out(IER, 0xff);
	ck_assert_uint_eq(in(IER), 0x0f);	/* upper nibble reads 0 */
	out(IER, 0);
	out(SCR, 0x5a);
	ck_assert_uint_eq(in(SCR), 0x5a);
	out(SCR, 0xa5);
	ck_assert_uint_eq(in(SCR), 0xa5);
	out(LCR, 0x80);
	ck_assert_uint_eq(in(DLL), 0x01);	/* divisor kept */
}
END_TEST

START_TEST(transmit)
{
	out(THR, 'h');
	ck_assert_uint_eq(in(LSR), 0x60);	/* THRE and TEMT at once */
	out(THR, 'i');
	ck_assert_uint_eq(txlen, 2);
	ck_assert_mem_eq(txbuf, "hi", 2);
	ck_assert_uint_eq(in(LSR) & 0x01, 0);	/* no loop back outside loopback */
}
END_TEST

START_TEST(loopback)
{
	out(MCR, 0x10 | 0x0a);		/* loop, RTS, OUT2 */
	/* CTS <- RTS, DCD <- OUT2; DSR fell (DTR clear): DDSR. */
	ck_assert_uint_eq(in(MSR), 0x90 | 0x02);
	ck_assert_uint_eq(in(MSR), 0x90);	/* deltas clear on read */
	out(THR, 'A');
	ck_assert_uint_eq(txlen, 0);		/* not transmitted */
	ck_assert_uint_eq(in(LSR), 0x61);
	ck_assert_uint_eq(in(THR), 'A');
	ck_assert_uint_eq(in(LSR), 0x60);
	out(MCR, 0x1f);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0xf0);
	out(MCR, 0x10);
	/* Every line fell; RI's trailing edge gives TERI. */
	ck_assert_uint_eq(in(MSR), 0x0f);
	ck_assert_uint_eq(uart_receive(&uart, (const uint8_t *)"x", 1), 0);	/* input cut */
	out(MCR, 0);
	ck_assert_uint_eq(notified, 1);		/* reconnected: room for input */
	ck_assert_uint_eq(in(MSR), 0xb0 | 0x0b);
}
END_TEST

START_TEST(fifo_fill_and_overrun)
{
	out(FCR, 0x01);
	ck_assert_uint_eq(in(IIR), 0xc1);
	out(MCR, 0x10);
	for (int i = 0; i < 16; i++)
		out(THR, 'a' + i);
	ck_assert_uint_eq(in(LSR), 0x61);	/* full, no overrun yet */
	out(THR, 'z');
	ck_assert_uint_eq(in(LSR), 0x63);	/* OE */
	ck_assert_uint_eq(in(LSR), 0x61);	/* cleared by the read */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(in(THR), 'a' + i);	/* the 17th was lost */
	ck_assert_uint_eq(in(LSR), 0x60);

	/* FIFO reset empties it. */
	out(THR, '1');
	out(THR, '2');
	out(FCR, 0x03);
	ck_assert_uint_eq(in(LSR), 0x60);

	/* 16450 mode: one byte; an overrun replaces it. */
	out(FCR, 0x00);
	ck_assert_uint_eq(in(IIR), 0x01);
	out(THR, 'p');
	out(THR, 'q');
	ck_assert_uint_eq(in(LSR), 0x63);
	ck_assert_uint_eq(in(THR), 'q');
	ck_assert_uint_eq(in(LSR), 0x60);
}
END_TEST

START_TEST(iir_priorities)
{
	out(FCR, 0x01);			/* FIFO on, trigger 1 */
	out(MCR, 0x10);
	(void)in(MSR);			/* drop the deltas of entering loopback */
	out(IER, 0x0f);
	ck_assert_uint_eq(in(IIR), 0xc2);	/* THRE, raised by enabling it */
	ck_assert_uint_eq(in(IIR), 0xc1);	/* ...and cleared by reading IIR */
	for (int i = 0; i < 17; i++)
		out(THR, 'a');
	ck_assert_uint_eq(in(IIR), 0xc6);	/* line status first */
	(void)in(LSR);
	ck_assert_uint_eq(in(IIR), 0xc4);	/* then received data */
	for (int i = 0; i < 16; i++)
		(void)in(THR);
	ck_assert_uint_eq(in(IIR), 0xc2);	/* then THR empty */
	out(MCR, 0x11);				/* DTR -> DSR changes */
	ck_assert_uint_eq(in(IIR), 0xc0);	/* then modem status */
	(void)in(MSR);
	ck_assert_uint_eq(in(IIR), 0xc1);

	/* Below the trigger level: character timeout. */
	out(FCR, 0xc1);				/* trigger 14 */
	out(IER, 0x01);
	out(THR, 'x');
	out(THR, 'y');
	ck_assert_uint_eq(in(IIR), 0xcc);
	for (int i = 0; i < 12; i++)
		out(THR, 'z');
	ck_assert_uint_eq(in(IIR), 0xc4);	/* 14 bytes: data available */
}
END_TEST

START_TEST(irq_line)
{
	struct fake_vm f;

	out(IER, 0x02);
	ck_assert_int_eq(irq4(), 1);
	(void)in(IIR);				/* THRE cleared: line drops */
	ck_assert_int_eq(irq4(), 0);
	out(THR, '.');
	ck_assert_int_eq(irq4(), 1);		/* empty again: a new edge */
	out(IER, 0);
	ck_assert_int_eq(irq4(), 0);
	f = fake_vm_get();
	ck_assert_int_eq(f.irq_edges[COM1_IRQ], 2);
	ck_assert_int_eq(f.irq_calls, 4);	/* only on changes */

	out(IER, 0x01);
	ck_assert_int_eq(irq4(), 0);
	ck_assert_uint_eq(uart_receive(&uart, (const uint8_t *)"k", 1), 1);
	ck_assert_int_eq(irq4(), 1);
	ck_assert_uint_eq(in(THR), 'k');
	ck_assert_int_eq(irq4(), 0);
}
END_TEST

START_TEST(receive_waits_for_room)
{
	uint8_t data[20];

	for (int i = 0; i < 20; i++)
		data[i] = i;
	ck_assert_uint_eq(uart_receive(&uart, data, 20), 1);	/* 16450 mode */
	out(FCR, 0x07);
	/* Enabling the FIFO cleared it (and the byte in it). */
	ck_assert_uint_eq(notified, 1);
	ck_assert_uint_eq(uart_receive(&uart, data, 20), 16);
	ck_assert_uint_eq(in(LSR), 0x61);	/* never an overrun */
	ck_assert_uint_eq(in(THR), 0);
	ck_assert_uint_eq(notified, 2);		/* room again */
	ck_assert_uint_eq(uart_receive(&uart, data + 16, 4), 1);
	for (int i = 1; i < 17; i++)
		ck_assert_uint_eq(in(THR), i);
	ck_assert_uint_eq(in(LSR), 0x60);
}
END_TEST

START_TEST(reset_clears)
{
	out(IER, 0x02);
	out(LCR, 0x1b);
	out(SCR, 9);
	ck_assert_int_eq(irq4(), 1);
	uart_reset(&uart);
	ck_assert_int_eq(irq4(), 0);
	ck_assert_uint_eq(in(IER), 0);
	ck_assert_uint_eq(in(LCR), 0);
	ck_assert_uint_eq(in(SCR), 0);
}
END_TEST

START_TEST(port_clash)
{
	struct uart other;

	ck_assert_int_eq(uart_init(&other, FAKE_VM, &pio, PORT_COM1 + 4, COM1_IRQ), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err_msg(), "overlaps"));
}
END_TEST

Suite *uart_suite(void)
{
	Suite *s = suite_create("uart");
	TCase *tc = tcase_create("16550a");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reset_values);
	tcase_add_test(tc, dlab_and_scratch);
	tcase_add_test(tc, transmit);
	tcase_add_test(tc, loopback);
	tcase_add_test(tc, fifo_fill_and_overrun);
	tcase_add_test(tc, iir_priorities);
	tcase_add_test(tc, irq_line);
	tcase_add_test(tc, receive_waits_for_room);
	tcase_add_test(tc, reset_clears);
	tcase_add_test(tc, port_clash);
	suite_add_tcase(s, tc);
	return s;
}

/* --- console --- */

START_TEST(parse)
{
	struct console_opts o;

	ck_assert_int_eq(console_parse("stdio", &o), 0);
	ck_assert_int_eq(o.kind, CONSOLE_STDIO);
	ck_assert_int_eq(console_parse("none", &o), 0);
	ck_assert_int_eq(o.kind, CONSOLE_NONE);
	ck_assert_int_eq(console_parse("file=/tmp/g.log", &o), 0);
	ck_assert_int_eq(o.kind, CONSOLE_FILE);
	ck_assert_str_eq(o.path, "/tmp/g.log");
	ck_assert_int_eq(console_parse("tty", &o), -EINVAL);
	ck_assert_str_eq(err_msg(), "--console 'tty': expected stdio, file=PATH or none");
	ck_assert_int_eq(console_parse("file=", &o), -EINVAL);
	ck_assert_int_eq(console_parse("", &o), -EINVAL);
	ck_assert_int_eq(console_parse("stdio,x", &o), -EINVAL);
}
END_TEST

START_TEST(escapes)
{
	static const struct {
		const char *in;
		const char *out;
		bool quit;
	} cases[] = {
		{ "abc", "abc", false },
		{ "a\x01\x01" "b", "a\x01" "b", false },
		{ "a\x01x" "zzz", "a", true },
		{ "\x01X", "", true },
		{ "\x01q", "\x01q", false },	/* not an escape: both pass */
		{ "\x01", "", false },		/* waits for the next byte */
	};
	struct console_escape e;
	uint8_t out[16];
	bool quit;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;

		memset(&e, 0, sizeof(e));
		n = console_escape_filter(&e, (const uint8_t *)cases[i].in, strlen(cases[i].in),
					  out, &quit);
		ck_assert_uint_eq(n, strlen(cases[i].out));
		ck_assert_mem_eq(out, cases[i].out, n);
		ck_assert_int_eq(quit, cases[i].quit);
	}
	/* Split across reads. */
	memset(&e, 0, sizeof(e));
	ck_assert_uint_eq(console_escape_filter(&e, (const uint8_t *)"\x01", 1, out, &quit), 0);
	ck_assert_uint_eq(console_escape_filter(&e, (const uint8_t *)"\x01", 1, out, &quit), 1);
	ck_assert_uint_eq(out[0], 1);
	ck_assert_uint_eq(console_escape_filter(&e, (const uint8_t *)"\x01", 1, out, &quit), 0);
	ck_assert_uint_eq(console_escape_filter(&e, (const uint8_t *)"x", 1, out, &quit), 0);
	ck_assert(quit);
}
END_TEST

static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

START_TEST(file_output)
{
	char path[] = "/tmp/kite-console-XXXXXX", arg[64], got[64];
	struct console_opts o;
	struct console *c;
	size_t n = 0;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "old contents", 12), 12);
	close(fd);
	snprintf(arg, sizeof(arg), "file=%s", path);
	ck_assert_int_eq(console_parse(arg, &o), 0);
	ck_assert_int_eq(console_open(&c, &o, FAKE_VM), 0);
	ck_assert_uint_eq(slurp(path, got, sizeof(got)), 0);	/* truncated */
	console_write(c, "abc", 3);
	console_write(c, "def\n", 4);
	/* A complete line is written at once. */
	ck_assert_uint_eq(slurp(path, got, sizeof(got)), 7);
	ck_assert_mem_eq(got, "abcdef\n", 7);
	/* A partial line follows shortly. */
	console_putc(c, 'g');
	for (int i = 0; i < 200 && n < 8; i++) {
		sleep_ms(5);
		n = slurp(path, got, sizeof(got));
	}
	ck_assert_uint_eq(n, 8);
	/* And the rest at close, however recent. */
	console_write(c, "hi", 2);
	console_close(c);
	ck_assert_uint_eq(slurp(path, got, sizeof(got)), 10);
	ck_assert_mem_eq(got, "abcdef\nghi", 10);
	unlink(path);
}
END_TEST

START_TEST(file_cannot_open)
{
	struct console_opts o = { .kind = CONSOLE_FILE, .path = "/nonexistent-dir/x.log" };
	struct console *c = NULL;

	ck_assert_int_eq(console_open(&c, &o, FAKE_VM), -ENOENT);
	ck_assert_str_eq(err_msg(),
			 "--console file=/nonexistent-dir/x.log: cannot open: No such file or directory");
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(none_discards)
{
	struct console_opts o = { .kind = CONSOLE_NONE };
	struct console *c;

	ck_assert_int_eq(console_open(&c, &o, FAKE_VM), 0);
	console_write(c, "gone\n", 5);
	console_flush(c);
	console_close(c);
	console_close(NULL);
}
END_TEST

/* Read RBR until `want` bytes came (the input thread feeds the FIFO). */
static size_t guest_read(uint8_t *buf, size_t want)
{
	size_t n = 0;

	for (int spins = 0; n < want && spins < 2000; spins++) {
		if (in(LSR) & 0x01)
			buf[n++] = in(THR);
		else
			sleep_ms(1);
	}
	return n;
}

START_TEST(stdio_pipes)
{
	struct console_opts o = { .kind = CONSOLE_STDIO };
	int inp[2], outp[2];
	struct console *c;
	uint8_t msg[40], got[40];
	char text[8];

	ck_assert_int_eq(pipe(inp), 0);
	ck_assert_int_eq(pipe(outp), 0);
	ck_assert_int_eq(console_open_fds(&c, &o, FAKE_VM, inp[0], outp[1]), 0);
	ck_assert_int_eq(console_attach(c, &uart), 0);
	out(FCR, 0x01);		/* before any input: enabling it empties it */

	/* More than the FIFO holds: the rest waits, nothing is lost. */
	for (int i = 0; i < 40; i++)
		msg[i] = 'A' + i % 26;
	ck_assert_int_eq(write(inp[1], msg, 40), 40);
	ck_assert_uint_eq(guest_read(got, 40), 40);
	ck_assert_mem_eq(got, msg, 40);
	ck_assert_uint_eq(in(LSR) & 0x02, 0);	/* no overrun */

	ck_assert_int_eq(write(inp[1], "\x01\x01" "z", 3), 3);
	ck_assert_uint_eq(guest_read(got, 2), 2);
	ck_assert_mem_eq(got, "\x01z", 2);

	/* Guest output reaches the output descriptor. */
	out(THR, 'o');
	out(THR, 'k');
	out(THR, '\n');
	ck_assert_int_eq(read(outp[0], text, sizeof(text)), 3);
	ck_assert_mem_eq(text, "ok\n", 3);

	ck_assert_int_eq(write(inp[1], "\x01x", 2), 2);
	for (int i = 0; i < 400 && !fake_vm_get().stops; i++)
		sleep_ms(5);
	ck_assert_int_eq(fake_vm_get().stops, 1);
	ck_assert_int_eq(fake_vm_get().stop_status, 0);
	ck_assert_str_eq(fake_vm_get().stop_why, "Ctrl-A x");

	console_close(c);
	out(THR, '!');				/* detached: goes nowhere */
	close(inp[0]);
	close(inp[1]);
	close(outp[0]);
	close(outp[1]);
}
END_TEST

START_TEST(stdio_eof)
{
	struct console_opts o = { .kind = CONSOLE_STDIO };
	int inp[2], outp[2];
	struct console *c;
	uint8_t got[4];

	ck_assert_int_eq(pipe(inp), 0);
	ck_assert_int_eq(pipe(outp), 0);
	ck_assert_int_eq(console_open_fds(&c, &o, FAKE_VM, inp[0], outp[1]), 0);
	ck_assert_int_eq(console_attach(c, &uart), 0);
	out(FCR, 0x01);
	ck_assert_int_eq(write(inp[1], "ab", 2), 2);
	close(inp[1]);			/* EOF: input stops, the rest still arrives */
	ck_assert_uint_eq(guest_read(got, 2), 2);
	ck_assert_mem_eq(got, "ab", 2);
	console_close(c);
	ck_assert_int_eq(fake_vm_get().stops, 0);
	close(inp[0]);
	close(outp[0]);
	close(outp[1]);
}
END_TEST

Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("console");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, file_output);
	tcase_add_test(tc, file_cannot_open);
	tcase_add_test(tc, none_discards);
	tcase_add_test(tc, stdio_pipes);
	tcase_add_test(tc, stdio_eof);
	suite_add_tcase(s, tc);
	return s;
}
