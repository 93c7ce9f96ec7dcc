// SPDX-License-Identifier: Apache-2.0
#include "cmdline.h"
#include "bootinfo.h"
#include "console.h"

bool cmdline_get(const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);
	const char *p = boot.cmdline, *found = NULL;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			found = p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	if (!found || !len)
		return false;
	size_t n = 0;

	while (found[n] && found[n] != ' ' && n + 1 < len) {
		val[n] = found[n];
		n++;
	}
	val[n] = 0;
	return true;
}

bool cmdline_is(const char *key, const char *value)
{
	char v[64];

	return cmdline_get(key, v, sizeof(v)) && !strcmp(v, value);
}

bool cmdline_flag(const char *key, bool dflt)
{
	char v[8];

	if (!cmdline_get(key, v, sizeof(v)))
		return dflt;
	return strcmp(v, "0") && strcmp(v, "off") && strcmp(v, "no");
}

bool cmdline_num(const char *mode, const char *key, u64 min, u64 max, u64 *out)
{
	char v[24];

	if (!cmdline_get(key, v, sizeof(v)))
		return true;
	if (parse_uint(v, 10, out) && *out >= min && *out <= max)
		return true;
	printf("FAIL %s: %s=%s: expected a number from %lu to %lu\n", mode, key, v, min, max);
	return false;
}

bool parse_uint(const char *s, unsigned base, u64 *out)
{
	u64 v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (v > (~0ULL - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

bool parse_size(const char *s, u64 *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned shift = 0;

	if (!n || n >= sizeof(num))
		return false;
	switch (s[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	}
	if (shift)
		n--;
	memcpy(num, s, n);
	num[n] = 0;
	if (!parse_uint(num, 10, out) || *out > (~0ULL >> shift))
		return false;
	*out <<= shift;
	return true;
}
