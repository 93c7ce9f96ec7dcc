/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the two seed generators (gen_seeds.c, gen_seeds_state.c) share: the
 * output directory from the command line, and one file a seed in it,
 * DIR/HARNESS/NAME. A seed that cannot be written ends the generator.
 */
#ifndef KITE_FUZZ_GEN_SEEDS_H
#define KITE_FUZZ_GEN_SEEDS_H

#include <stddef.h>

/* Take DIR from `PROG DIR` and create it; exits on a usage or mkdir error. */
void seeds_open(int argc, char **argv);
/* Write a then b (blen may be 0) as the seed NAME of HARNESS. */
void write_seed(const char *harness, const char *name, const void *a, size_t alen,
		const void *b, size_t blen);
/* Say how many seeds went where, as "PROG: N seeds in DIR". */
void seeds_done(const char *prog);

/* gen_seeds_ring.c: the ring inputs (virtqueue, blk, net). */
void ring_seeds(void);

#endif
