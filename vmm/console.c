// SPDX-License-Identifier: Apache-2.0
/*
 * Serial console: buffered output from the UART, stdin into it. See
 * console.h. Locks: the UART's lock is held when console_putc runs, so
 * the console never calls into the UART while holding its own lock.
 */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/uart.h"
#include "vmm/err.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define CTRL_A			0x01
#define OUT_BUF_SIZE		4096
#define IN_READ_SIZE		512
#define IN_BUF_SIZE		4096	/* input waiting for room in the FIFO */
#define FLUSH_DELAY_NS		20000000L	/* partial lines: 20 ms */

struct console {
	struct vm *vm;
	enum console_kind kind;
	struct uart *uart;

	int out_fd;			/* -1: discard */
	bool own_out_fd;
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond;	/* buffer became non-empty, or stop */
	uint8_t out_buf[OUT_BUF_SIZE];
	size_t out_len;
	bool out_failed;		/* a write failed: discard from now on */
	bool stopping;
	pthread_t flusher;
	bool flusher_started;

	int in_fd;			/* -1: no input */
	int wake_fd;			/* eventfd: FIFO has room, or stop */
	atomic_bool in_stop;
	pthread_t reader;
	bool reader_started;
	struct console_escape esc;
	uint8_t in_buf[IN_BUF_SIZE];
	size_t in_len;
};

/* One terminal per process: what to restore, readable from a signal
 * handler. */
static struct termios saved_tty;
static int saved_tty_fd = -1;
static volatile sig_atomic_t tty_raw;
static struct console *exit_console;	/* flushed by the atexit handler */
static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;

int console_parse(const char *arg, struct console_opts *opts)
{
	if (!strcmp(arg, "stdio")) {
		opts->kind = CONSOLE_STDIO;
		opts->path = NULL;
	} else if (!strcmp(arg, "none")) {
		opts->kind = CONSOLE_NONE;
		opts->path = NULL;
	} else if (!strncmp(arg, "file=", 5) && arg[5]) {
		opts->kind = CONSOLE_FILE;
		opts->path = arg + 5;
	} else {
		return err_set(EINVAL, "--console '%s': expected stdio, file=PATH or none", arg);
	}
	return 0;
}

void console_restore_tty(void)
{
	if (tty_raw) {
		tcsetattr(saved_tty_fd, TCSANOW, &saved_tty);
		tty_raw = 0;
	}
}

static void fatal_signal(int sig)
{
	console_restore_tty();
	/* SA_RESETHAND put the default action back: die as we would have. */
	raise(sig);
}

static void at_exit(void)
{
	/* Held while flushing, so console_close cannot free it meanwhile. */
	pthread_mutex_lock(&exit_lock);
	if (exit_console)
		console_flush(exit_console);
	pthread_mutex_unlock(&exit_lock);
	console_restore_tty();
}

static void register_at_exit(void)
{
	atexit(at_exit);
}

/* Raw input, so every key reaches the guest; output processing stays on
 * so a guest that sends bare "\n" still starts its lines at column 0. */
static int tty_make_raw(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	struct sigaction sa = { .sa_handler = fatal_signal, .sa_flags = SA_RESETHAND };
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return err_sys(errno, "--console stdio: cannot read the terminal settings");
	saved_tty = t;
	saved_tty_fd = fd;
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return err_sys(errno, "--console stdio: cannot set the terminal to raw mode");
	tty_raw = 1;
	for (unsigned i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	return 0;
}

/* --- output --- */

static void write_all(struct console *c, const uint8_t *p, size_t n)
{
	while (n && !c->out_failed) {
		ssize_t w = write(c->out_fd, p, n);

		if (w > 0) {
			p += w;
			n -= w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = c->out_fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else {
			/* EPIPE, EIO, ENOSPC...: the reader is gone; the guest
			 * must not notice, so drop output from now on. */
			c->out_failed = true;
		}
	}
}

static void flush_locked(struct console *c)
{
	write_all(c, c->out_buf, c->out_len);
	c->out_len = 0;
}

void console_flush(struct console *c)
{
	if (c->out_fd < 0)
		return;
	pthread_mutex_lock(&c->out_lock);
	flush_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

void console_write(struct console *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	bool was_empty, newline = false;

	if (c->out_fd < 0 || !len)
		return;
	pthread_mutex_lock(&c->out_lock);
	was_empty = c->out_len == 0;
	while (len) {
		size_t n = OUT_BUF_SIZE - c->out_len;

		if (n > len)
			n = len;
		memcpy(c->out_buf + c->out_len, p, n);
		newline |= memchr(p, '\n', n) != NULL;
		c->out_len += n;
		p += n;
		len -= n;
		if (c->out_len == OUT_BUF_SIZE)
			flush_locked(c);
	}
	if (newline)
		flush_locked(c);
	else if (was_empty && c->out_len)
		pthread_cond_signal(&c->out_cond);	/* start the partial-line timer */
	pthread_mutex_unlock(&c->out_lock);
}

void console_putc(void *console, uint8_t byte)
{
	console_write(console, &byte, 1);
}

/* Writes out a partial line once the guest has had FLUSH_DELAY_NS to
 * finish it; complete lines were written by console_write already. */
static void *flusher_main(void *arg)
{
	struct console *c = arg;
	struct timespec deadline;

	seccomp_enter(SECCOMP_MAIN);
	pthread_mutex_lock(&c->out_lock);
	while (!c->stopping) {
		if (!c->out_len) {
			pthread_cond_wait(&c->out_cond, &c->out_lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += FLUSH_DELAY_NS;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!c->stopping && c->out_len &&
		       pthread_cond_timedwait(&c->out_cond, &c->out_lock, &deadline) != ETIMEDOUT)
			;
		flush_locked(c);
	}
	pthread_mutex_unlock(&c->out_lock);
	return NULL;
}

/* --- input --- */

size_t console_escape_filter(struct console_escape *e, const uint8_t *in, size_t len,
			     uint8_t *out, bool *quit)
{
	size_t o = 0;

	*quit = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = in[i];

		if (e->after_ctrl_a) {
			e->after_ctrl_a = false;
			if (ch == 'x' || ch == 'X') {
				*quit = true;
				return o;
			}
			out[o++] = CTRL_A;
			if (ch != CTRL_A)
				out[o++] = ch;	/* not an escape: both go through */
		} else if (ch == CTRL_A) {
			e->after_ctrl_a = true;
		} else {
			out[o++] = ch;
		}
	}
	return o;
}

static void wake(struct console *c)
{
	uint64_t one = 1;

	/* Only fails if the counter would overflow: it is awake then. */
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void rx_space(void *opaque)
{
	wake(opaque);
}

/*
 * Reads input while there is room to keep it, and hands it to the UART as
 * the FIFO drains: input waits, it is never dropped. The escape filter
 * runs as bytes are read, so Ctrl-A x works while the guest reads nothing
 * (until IN_BUF_SIZE bytes are waiting).
 */
static void *reader_main(void *arg)
{
	struct console *c = arg;
	uint8_t raw[IN_READ_SIZE];
	bool eof = false, quit = false;

	seccomp_enter(SECCOMP_MAIN);
	while (!atomic_load(&c->in_stop)) {
		struct pollfd pfd[2] = {
			{ .fd = c->wake_fd, .events = POLLIN },
			{ .fd = c->in_fd, .events = POLLIN },
		};
		nfds_t nfds;

		if (c->in_len) {
			size_t n = uart_receive(c->uart, c->in_buf, c->in_len);

			memmove(c->in_buf, c->in_buf + n, c->in_len - n);
			c->in_len -= n;
		}
		if (eof && !c->in_len)
			break;
		nfds = !eof && IN_BUF_SIZE - c->in_len > IN_READ_SIZE ? 2 : 1;
		if (poll(pfd, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents) {
			uint64_t v;

			if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
		}
		if (nfds == 2 && pfd[1].revents) {
			ssize_t n = read(c->in_fd, raw, sizeof(raw));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				eof = true;	/* EOF or error: input just stops */
				continue;
			}
			c->in_len += console_escape_filter(&c->esc, raw, n, c->in_buf + c->in_len,
							   &quit);
			if (quit) {
				vm_request_stop(c->vm, KITE_EXIT_OK, "Ctrl-A x");
				break;
			}
		}
	}
	return NULL;
}

/* --- life cycle --- */

int console_open_fds(struct console **out, const struct console_opts *opts, struct vm *vm,
		     int in_fd, int out_fd)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_condattr_t ca;
	struct console *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(ENOMEM, "--console: out of memory");
	c->vm = vm;
	c->kind = opts->kind;
	c->out_fd = -1;
	c->in_fd = -1;
	c->wake_fd = -1;
	switch (opts->kind) {
	case CONSOLE_FILE:
		c->out_fd = open(opts->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			r = err_sys(errno, "--console file=%s: cannot open", opts->path);
			free(c);
			return r;
		}
		c->own_out_fd = true;
		break;
	case CONSOLE_STDIO:
		c->out_fd = out_fd;
		c->in_fd = in_fd;
		c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->wake_fd < 0) {
			r = err_sys(errno, "--console stdio: eventfd");
			free(c);
			return r;
		}
		/* Not a terminal (a pipe, a file): forwarded as it is. */
		if (isatty(in_fd) && !tty_raw && (r = tty_make_raw(in_fd)) < 0) {
			close(c->wake_fd);
			free(c);
			return r;
		}
		break;
	case CONSOLE_NONE:
		break;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->out_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->out_lock, NULL);
	if (c->out_fd >= 0) {
		r = pthread_create(&c->flusher, NULL, flusher_main, c);
		if (r) {
			console_close(c);
			return err_sys(r, "--console: cannot start the output thread");
		}
		c->flusher_started = true;
	}
	pthread_once(&once, register_at_exit);
	pthread_mutex_lock(&exit_lock);
	exit_console = c;
	pthread_mutex_unlock(&exit_lock);
	*out = c;
	return 0;
}

int console_open(struct console **out, const struct console_opts *opts, struct vm *vm)
{
	return console_open_fds(out, opts, vm, STDIN_FILENO, STDOUT_FILENO);
}

int console_attach(struct console *c, struct uart *u)
{
	int r;

	c->uart = u;
	uart_set_tx(u, console_putc, c);
	if (c->in_fd < 0)
		return 0;
	uart_set_rx_notify(u, rx_space, c);
	r = pthread_create(&c->reader, NULL, reader_main, c);
	if (r)
		return err_sys(r, "--console stdio: cannot start the input thread");
	c->reader_started = true;
	return 0;
}

void console_close(struct console *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&exit_lock);
	if (exit_console == c)
		exit_console = NULL;
	pthread_mutex_unlock(&exit_lock);
	if (c->uart) {
		uart_set_tx(c->uart, NULL, NULL);
		uart_set_rx_notify(c->uart, NULL, NULL);
	}
	if (c->reader_started) {
		atomic_store(&c->in_stop, true);
		wake(c);
		pthread_join(c->reader, NULL);
	}
	if (c->flusher_started) {
		pthread_mutex_lock(&c->out_lock);
		c->stopping = true;
		pthread_cond_signal(&c->out_cond);
		pthread_mutex_unlock(&c->out_lock);
		pthread_join(c->flusher, NULL);
	}
	console_flush(c);
	if (c->kind == CONSOLE_STDIO)
		console_restore_tty();
	if (c->own_out_fd)
		close(c->out_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_cond_destroy(&c->out_cond);
	pthread_mutex_destroy(&c->out_lock);
	free(c);
}
