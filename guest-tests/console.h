/* SPDX-License-Identifier: Apache-2.0 */
/* Polled 16550 console on COM1 and a small printf. Usable from ring 0 and 3. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include "guest.h"

#define COM1		0x3f8
#define UART_RBR	0	/* receive buffer (read) / transmit holding (write) */
#define UART_IER	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_SCR	7
#define UART_LSR_DR	0x01
#define UART_LSR_THRE	0x20
#define UART_MCR_LOOP	0x10

void console_init(void);
/* Write raw bytes; from ring 3 this is one syscall per call. */
void console_write(const char *s, size_t len);
/* Ring-0 side of SYS_WRITE (and of every ring-0 write). */
void console_write_kernel(const char *s, size_t len);
/* From now on write without taking the lock (fatal exception reports). */
void console_set_panic(void);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Output of one call goes out in one piece, so CPUs never interleave mid-line. */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
