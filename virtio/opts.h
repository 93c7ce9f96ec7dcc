/* SPDX-License-Identifier: Apache-2.0 */
/* What the --disk and --net parsers share: the keys of their key=value lists. */
#ifndef KITE_VIRTIO_OPTS_H
#define KITE_VIRTIO_OPTS_H

#include <stddef.h>

/* The key of item ("key=value", or a bare "key") among names[0..n): its
 * index, or n if it is none of them. *klen is the key's length, *value
 * what follows the '=' (NULL if there is no '='). */
unsigned opts_find_key(const char *const *names, unsigned n, const char *item, size_t *klen,
		       const char **value);

#endif
