/* SPDX-License-Identifier: Apache-2.0 */
/* The test cases of mode=test. */
#ifndef GUEST_TESTS_H
#define GUEST_TESTS_H

#include "guest.h"

/* Run every case (ring 3), print PASS/FAIL lines and the summary; returns failures. */
unsigned tests_run(void);

/* A case fills `why` (WHY_LEN bytes) and returns false to FAIL. */
#define WHY_LEN 160
#define fail(...) do { snprintf(why, WHY_LEN, __VA_ARGS__); return false; } while (0)

struct test_case {
	const char *name;
	bool (*fn)(char *why);
};

/* tests_blk.c: the blk-* cases, none when there is no virtio-blk device
 * and blk=1 does not ask for one; blk_cases_end() after running them. */
const struct test_case *blk_cases(unsigned *n);
void blk_cases_end(void);
/* tests_scsi.c: the scsi-* cases, likewise for virtio-scsi and scsi=1. */
const struct test_case *scsi_cases(unsigned *n);
void scsi_cases_end(void);

/* Shared with the demo. */
const char *mem_type_name(u32 type);
void print_memmap(const char *prefix);

#endif
