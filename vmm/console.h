/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's serial console: COM1's output to stdout, a file or nowhere;
 * for stdio, stdin (raw mode on a terminal) into COM1's receive FIFO.
 *
 *   --console stdio       output to stdout; stdin forwarded. Ctrl-A x stops
 *                         the VM, Ctrl-A Ctrl-A sends one Ctrl-A.
 *   --console file=PATH   output to PATH (created or truncated); no input
 *   --console none        output discarded; no input
 *
 * Output is buffered and written a line at a time (or when the buffer
 * fills, or 20 ms after a partial line, so prompts appear), and always
 * flushed by console_close() and at exit().
 */
#ifndef KITE_VMM_CONSOLE_H
#define KITE_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uart;
struct vm;

enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_FILE,
	CONSOLE_NONE,
};

struct console_opts {
	enum console_kind kind;
	const char *path;	/* CONSOLE_FILE: points into the parsed string */
};

/* Parse the value of --console. -EINVAL with err_set naming --console and
 * the accepted forms. */
int console_parse(const char *arg, struct console_opts *opts);

struct console;

/*
 * Open the output (and for stdio, put a terminal stdin into raw mode, to be
 * restored by console_close, at exit() and on fatal signals). `vm` is what
 * Ctrl-A x stops. Errors (file=PATH cannot be opened) are recorded with
 * err_set.
 */
int console_open(struct console **out, const struct console_opts *opts, struct vm *vm);
/* The same with explicit descriptors (tests, embedding): input from
 * `in_fd` for stdio, output to `out_fd` (stdio) instead of 0 and 1. */
int console_open_fds(struct console **out, const struct console_opts *opts, struct vm *vm,
		     int in_fd, int out_fd);

/* Connect to a UART: its transmitted bytes become console output, and for
 * stdio an input thread starts feeding it. Call once. Returns 0 or -errno. */
int console_attach(struct console *c, struct uart *u);

/* Disconnect from the UART, stop the threads, flush, restore the terminal,
 * free. NULL is allowed. */
void console_close(struct console *c);

/* Queue output bytes (the UART's tx callback is console_putc). */
void console_write(struct console *c, const void *buf, size_t len);
void console_putc(void *console, uint8_t byte);
/* Write out whatever is buffered now. */
void console_flush(struct console *c);

/* Restore the terminal if the console changed it; async-signal-safe, so a
 * signal handler elsewhere may call it. */
void console_restore_tty(void);

/*
 * The escape filter for input (exposed for tests): copies `in` to `out`
 * (which needs room for len + 1 bytes), consuming Ctrl-A sequences.
 * Ctrl-A x sets *quit and drops the rest; Ctrl-A Ctrl-A gives one Ctrl-A;
 * Ctrl-A followed by anything else passes both bytes. State carries over
 * between calls. Returns the bytes written to `out`.
 */
struct console_escape {
	bool after_ctrl_a;
};
size_t console_escape_filter(struct console_escape *e, const uint8_t *in, size_t len,
			     uint8_t *out, bool *quit);

#endif
