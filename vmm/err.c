// SPDX-License-Identifier: Apache-2.0
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

static void vrecord(const char *fmt, va_list ap)
{
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
}

int err_set(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vrecord(fmt, ap);
	va_end(ap);
	return -(errnum > 0 ? errnum : EINVAL);
}

int err_sys(int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vrecord(fmt, ap);
	va_end(ap);
	n = strlen(err_buf);
	snprintf(err_buf + n, sizeof(err_buf) - n, ": %s", strerror(errnum));
	return -(errnum > 0 ? errnum : EINVAL);
}

int err_prefix(int err, const char *fmt, ...)
{
	char old[sizeof(err_buf)];
	va_list ap;
	size_t n;

	memcpy(old, err_buf, sizeof(old));
	va_start(ap, fmt);
	vrecord(fmt, ap);
	va_end(ap);
	n = strlen(err_buf);
	if (old[0]) {
		/* Append ": old", cut to fit (vrecord leaves n < sizeof). */
		size_t room = sizeof(err_buf) - 1 - n;
		size_t k = room > 2 ? strnlen(old, room - 2) : 0;

		if (room > 2) {
			memcpy(err_buf + n, ": ", 2);
			memcpy(err_buf + n + 2, old, k);
			err_buf[n + 2 + k] = '\0';
		}
	} else if (err < 0) {
		snprintf(err_buf + n, sizeof(err_buf) - n, ": %s", strerror(-err));
	}
	return err;
}

const char *err_msg(void)
{
	return err_buf;
}

void err_clear(void)
{
	err_buf[0] = '\0';
}
