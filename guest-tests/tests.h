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

/* The cases of a virtio device: they run when there is one, or when key=1
 * says there must be; end() after them. */
struct dev_cases {
	const char *key;
	u16 type;			/* virtio device id */
	const struct test_case *cases;
	unsigned n;
	void (*end)(void);
};

/* tests_blk.c: the blk-* cases (blk=1); tests_scsi.c: the scsi-* cases (scsi=1). */
extern const struct dev_cases blk_cases, scsi_cases;

/* Shared with the demo. */
const char *mem_type_name(u32 type);
void print_memmap(const char *prefix);

#endif
