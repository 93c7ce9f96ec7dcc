/* SPDX-License-Identifier: Apache-2.0 */
/* The command line: space separated words, key=value ones carry settings. */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include "guest.h"

/* Copy the value of the last `key=` word into val (NUL-terminated); false if absent. */
bool cmdline_get(const char *key, char *val, size_t len);
/* Is `key=value` on the command line (last occurrence wins)? */
bool cmdline_is(const char *key, const char *value);
/* A switch: false for key=0|off|no, true for any other value, dflt if absent. */
bool cmdline_flag(const char *key, bool dflt);
/* key=N, a decimal from min to max, into *out (left alone when key= is
 * absent); false, with a "FAIL mode: ..." line, when it is not one. */
bool cmdline_num(const char *mode, const char *key, u64 min, u64 max, u64 *out);
/* Parse a byte count with an optional K/M/G suffix (powers of 1024). */
bool parse_size(const char *s, u64 *out);
/* Parse an unsigned decimal, or hexadecimal with base 16. */
bool parse_uint(const char *s, unsigned base, u64 *out);

#endif
