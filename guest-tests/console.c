// SPDX-License-Identifier: Apache-2.0
/*
 * COM1 console. Transmission is polled (no interrupts anywhere in this
 * guest). Formatting happens wherever printf is called, normally ring 3;
 * only the finished bytes cross into ring 0, in a single syscall.
 */
#include "console.h"

static volatile int console_lock;
static volatile bool console_panic;	/* a fatal report: ignore the lock */

void console_init(void)
{
	outb(COM1 + UART_IER, 0x00);	/* no interrupts */
	outb(COM1 + UART_LCR, 0x80);	/* DLAB: divisor follows */
	outb(COM1 + UART_RBR, 0x01);	/* 115200 baud */
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x03);	/* 8N1 */
	outb(COM1 + UART_FCR, 0xc7);	/* FIFOs on and cleared */
	outb(COM1 + UART_MCR, 0x03);	/* DTR, RTS */
}

static void uart_putc(char c)
{
	/* Bounded wait: a missing UART must not hang the guest. */
	for (int i = 0; i < 100000; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(COM1 + UART_RBR, c);
}

void console_write_kernel(const char *s, size_t len)
{
	/* A fatal report must get out even if its CPU faulted while holding
	 * the lock; otherwise give up on a stuck holder only after a long wait. */
	for (long spins = 0; !console_panic &&
	     __atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE); spins++)
		if (spins > 10000000)
			break;
	while (len--)
		uart_putc(*s++);
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

void console_set_panic(void)
{
	console_panic = true;
}

void console_write(const char *s, size_t len)
{
	if (cpl())
		syscall3(SYS_WRITE, (long)s, len, 0);
	else
		console_write_kernel(s, len);
}

/* --- formatting --- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, u64 v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

/* %s %c %d %i %u %x %p with l/ll/z, width, '0' and '-' flags. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		bool left = false, is_long = false;
		char pad = ' ';
		int width = 0;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (; *fmt == '0' || *fmt == '-'; fmt++) {
			if (*fmt == '0')
				pad = '0';
			else
				left = true;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + *fmt - '0';
		while (*fmt == 'l' || *fmt == 'z') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n;

			if (!s)
				s = "(null)";
			n = strlen(s);
			for (int i = n; !left && i < width; i++)
				put(&o, ' ');
			while (*s)
				put(&o, *s++);
			for (int i = n; left && i < width; i++)
				put(&o, ' ');
			break;
		}
		case 'c':
			put(&o, va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long v = is_long ? va_arg(ap, long) : va_arg(ap, int);

			put_num(&o, v < 0 ? -(u64)v : (u64)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			u64 v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);

			put_num(&o, v, *fmt == 'x' ? 16 : 10, false, width, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case '%':
			put(&o, '%');
			break;
		default:	/* unknown conversion: show it as written */
			put(&o, '%');
			if (*fmt)
				put(&o, *fmt);
			else
				fmt--;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, MIN((size_t)n, sizeof(buf) - 1));
}
