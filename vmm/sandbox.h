/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What kite keeps once the VM is set up: every fd it needs is open by then,
 * so it drops all capabilities (bounding set included), sets no_new_privs,
 * and with --user switches to an unprivileged user. Called on the main
 * thread before any other thread starts, so every thread inherits it.
 */
#ifndef KITE_VMM_SANDBOX_H
#define KITE_VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sandbox_opts {
	bool set_user;		/* --user given */
	uid_t uid;
	gid_t gid;
};

/* Parse --user's value: UID or UID:GID, numbers or names. Without a GID,
 * the user's primary group (from the password database), else GID = UID. */
int sandbox_parse_user(const char *v, struct sandbox_opts *o);

int sandbox_enter(const struct sandbox_opts *o);

/* One line describing the result, e.g. "uid 65534 gid 65534; no_new_privs
 * on; capabilities kept: none", for --verbose. */
void sandbox_describe(char *buf, size_t len);

#endif
