// SPDX-License-Identifier: Apache-2.0
/* Option list keys: see opts.h. */
#include "virtio/opts.h"

#include <string.h>

unsigned opts_find_key(const char *const *names, unsigned n, const char *item, size_t *klen,
		       const char **value)
{
	const char *eq = strchr(item, '=');
	unsigned k;

	*klen = eq ? (size_t)(eq - item) : strlen(item);
	*value = eq ? eq + 1 : NULL;
	for (k = 0; k < n; k++)
		if (strlen(names[k]) == *klen && !strncmp(item, names[k], *klen))
			break;
	return k;
}
