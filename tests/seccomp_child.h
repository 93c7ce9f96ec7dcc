/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the seccomp tests (test_seccomp.c, test_seccomp_io.c). A filter
 * cannot be taken off, so each case runs in a forked child with its stderr
 * captured, and the parent judges its end: exit 0 (lived), or SIGSYS plus
 * the one line that names the forbidden call.
 */
#ifndef KITE_TESTS_SECCOMP_CHILD_H
#define KITE_TESTS_SECCOMP_CHILD_H

#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/seccomp.h"

struct child {
	pid_t pid;
	int err_fd;		/* the read end of its stderr, while it runs */
	int status;
	char err[16384];
};

/* An eventfd each child makes before any filter, for ioctls. */
extern int probe_fd;

/* In the child: report a failed check and leave with a status the
 * parent shows along with the child's stderr. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s (errno %d, %s)\n", __FILE__, __LINE__, \
			#cond, errno, err_msg()); \
		_exit(90); \
	} \
} while (0)

/* Run fn in a child (which exits 0 if fn returns); child_wait collects its
 * stderr and how it ended. run_child does both. */
void child_start(void (*fn)(void), struct child *c);
void child_wait(struct child *c);
void run_child(void (*fn)(void), struct child *c);
void expect_lived(const struct child *c);
void expect_killed(const struct child *c, const char *needle);

void sleep_ms(unsigned ms);
/* Wait up to 5 s for *v >= want. */
bool wait_for(atomic_int *v, int want);
/* Every ioctl the role allows, on probe_fd: each must come back (with
 * ENOTTY), not kill. */
void role_ioctls_pass(enum seccomp_role role);

/* test_seccomp_io.c: the I/O thread's cases and the io_uring restrictions. */
void seccomp_io_tests(TCase *tc);

#endif
