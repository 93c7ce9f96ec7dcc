// SPDX-License-Identifier: Apache-2.0
/* --net parsing and the default MAC: see net.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net.h"
#include "virtio/opts.h"
#include "vmm/config.h"
#include "vmm/err.h"

#define NET_MIN_QUEUE_SIZE	4

enum net_key { K_TAP, K_FD, K_MAC, K_QUEUES, K_QUEUE_SIZE, K_COUNT };

static const char *const key_names[K_COUNT] = {
	[K_TAP] = "tap", [K_FD] = "fd", [K_MAC] = "mac", [K_QUEUES] = "queues",
	[K_QUEUE_SIZE] = "queue_size",
};

static int bad(const char *item, const char *expected)
{
	return err_set(EINVAL, "--net %s: expected %s", item, expected);
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    p[2] != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[]){ p[0], p[1], 0 }, NULL, 16);
	}
	return 0;
}

void net_default_mac(const char *tap_name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;	/* FNV-1a: stable across runs and hosts */

	for (const char *p = tap_name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	/* 0x02: locally administered, unicast; 0x6b ('k') marks kite's. */
	mac[0] = 0x02;
	mac[1] = 0x6b;
	mac[2] = h >> 24;
	mac[3] = h >> 16;
	mac[4] = h >> 8;
	mac[5] = h;
}

/* What the kernel accepts as an interface name, minus '%' (a template
 * TUNSETIFF would fill in, naming some other tap). */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '%' || isspace((unsigned char)s[i]) ||
		    !isprint((unsigned char)s[i]))
			return false;
	return true;
}

static int parse_value(struct net_opts *o, enum net_key k, const char *item, const char *v)
{
	unsigned long long n;

	switch (k) {
	case K_TAP:
		if (!valid_ifname(v))
			return bad(item, "an interface name of 1 to 15 characters without '/', "
				   "':', '%' or spaces");
		o->tap = strdup(v);
		return o->tap ? 0 : err_set(ENOMEM, "--net: out of memory");
	case K_FD:
		if (parse_uint(v, 0, INT_MAX, &n))
			return bad(item, "a file descriptor number");
		for (unsigned i = 0; i < o->nfds; i++)
			if (o->fds[i] == (int)n)
				return err_set(EINVAL, "--net %s: fd %llu given twice", item, n);
		if (o->nfds == NET_MAX_PAIRS)
			return err_set(EINVAL, "--net %s: more than %u fd= (one per queue pair)",
				       item, NET_MAX_PAIRS);
		o->fds[o->nfds++] = (int)n;
		return 0;
	case K_MAC:
		if (net_parse_mac(v, o->mac))
			return bad(item, "a MAC address as six hex pairs, e.g. 02:6b:00:00:00:01");
		if (o->mac[0] & 1)
			return err_set(EINVAL, "--net %s: a multicast address cannot be a NIC's "
				       "(the first octet must be even)", item);
		if (!(o->mac[0] | o->mac[1] | o->mac[2] | o->mac[3] | o->mac[4] | o->mac[5]))
			return err_set(EINVAL, "--net %s: the all-zero address is not valid", item);
		o->has_mac = true;
		return 0;
	case K_QUEUES:
		if (parse_uint(v, 1, NET_MAX_PAIRS, &n))
			return err_set(EINVAL, "--net %s: expected a number of queue pairs from 1 "
				       "to %u", item, NET_MAX_PAIRS);
		o->queues = (unsigned)n;
		return 0;
	case K_QUEUE_SIZE:
		if (parse_uint(v, NET_MIN_QUEUE_SIZE, VIRTQ_MAX_SIZE, &n) || (n & (n - 1)))
			return err_set(EINVAL, "--net %s: expected a power of two from %u to %u",
				       item, NET_MIN_QUEUE_SIZE, VIRTQ_MAX_SIZE);
		o->queue_size = (unsigned)n;
		return 0;
	case K_COUNT:
		break;
	}
	return err_set(EINVAL, "internal: --net key %d", k);
}

static int parse_item(struct net_opts *o, const char *item, unsigned *seen)
{
	const char *v;
	size_t klen;
	unsigned k = opts_find_key(key_names, K_COUNT, item, &klen, &v);

	if (k == K_COUNT)
		return err_set(EINVAL, "--net %s: unknown key '%.*s' (expected tap, fd, mac, "
			       "queues or queue_size)", item, (int)klen, item);
	if (!v || !*v)
		return err_set(EINVAL, "--net %s: missing value (expected %s=VALUE)", item,
			       key_names[k]);
	/* fd= repeats, once per queue pair; every other key is given once. */
	if (k != K_FD && (*seen & (1u << k)))
		return err_set(EINVAL, "--net %s: %s given twice", item, key_names[k]);
	*seen |= 1u << k;
	return parse_value(o, (enum net_key)k, item, v);
}

int net_opts_parse(const char *arg, struct net_opts *o)
{
	unsigned seen = 0;
	char *copy, *item, *save = NULL;
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->queue_size = 256;
	if (!*arg)
		return err_set(EINVAL, "--net: empty value (expected tap=NAME or fd=N, then "
			       "key=value options)");
	if (arg[0] == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		return err_set(EINVAL, "--net '%s': empty option (stray comma)", arg);
	copy = strdup(arg);
	if (!copy)
		return err_set(ENOMEM, "--net: out of memory");
	for (item = strtok_r(copy, ",", &save); item && !r; item = strtok_r(NULL, ",", &save))
		r = parse_item(o, item, &seen);
	free(copy);
	if (!r && !(seen & (1u << K_TAP | 1u << K_FD)))
		r = err_set(EINVAL, "--net '%s': expected tap=NAME or fd=N", arg);
	if (!r && (seen & 1u << K_TAP) && (seen & 1u << K_FD))
		r = err_set(EINVAL, "--net '%s': tap= and fd= exclude each other (kite opens "
			    "the tap, or is handed its queues)", arg);
	if (!r && o->nfds && o->queues && o->queues != o->nfds)
		r = err_set(EINVAL, "--net '%s': queues=%u but %u fd= given (one fd per queue "
			    "pair)", arg, o->queues, o->nfds);
	if (!r && o->nfds)
		o->queues = o->nfds;
	if (r)
		net_opts_free(o);
	return r;
}

void net_opts_free(struct net_opts *o)
{
	free(o->tap);
	o->tap = NULL;
}
