/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error context. A failing function records what went wrong, with the
 * context it knows (file name, option, value), and returns a negative errno.
 * Callers up the stack may prefix more context; one place (main) prints it:
 *   kite: --disk path=x.img: cannot open: No such file or directory
 */
#ifndef KITE_VMM_ERR_H
#define KITE_VMM_ERR_H

#include <errno.h>

/* Record a message (printf-style) and return -errnum (errnum > 0). */
int err_set(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As err_set, with ": strerror(errnum)" appended. */
int err_sys(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the recorded message with more context ("ctx: msg"); returns err. */
int err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The recorded message of this thread ("" if none). */
const char *err_msg(void);
void err_clear(void);

#endif
