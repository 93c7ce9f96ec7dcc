/* SPDX-License-Identifier: Apache-2.0 */
/* The test cases of mode=test. */
#ifndef GUEST_TESTS_H
#define GUEST_TESTS_H

#include "guest.h"

/* Run every case (ring 3), print PASS/FAIL lines and the summary; returns failures. */
unsigned tests_run(void);

/* Shared with the demo. */
const char *mem_type_name(u32 type);
void print_memmap(const char *prefix);

#endif
