// SPDX-License-Identifier: Apache-2.0
#include "vmm/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/err.h"

static int lookup_id(const char *s, bool group, unsigned *out)
{
	unsigned long long n;

	if (parse_uint(s, 0, 0xfffffffeULL, &n) == 0) {
		*out = (unsigned)n;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(s);

		if (!g)
			return -ENOENT;
		*out = g->gr_gid;
	} else {
		struct passwd *p = getpwnam(s);

		if (!p)
			return -ENOENT;
		*out = p->pw_uid;
	}
	return 0;
}

int sandbox_parse_user(const char *v, struct sandbox_opts *o)
{
	char user[64];
	const char *colon = strchr(v, ':');
	size_t len = colon ? (size_t)(colon - v) : strlen(v);
	unsigned uid, gid;

	if (!len || len >= sizeof(user) || (colon && !colon[1]))
		return err_set(EINVAL, "--user '%s': expected USER or USER:GROUP (names or numbers)", v);
	memcpy(user, v, len);
	user[len] = '\0';
	if (lookup_id(user, false, &uid))
		return err_set(ENOENT, "--user '%s': no user '%s' on this host", v, user);
	if (colon) {
		if (lookup_id(colon + 1, true, &gid))
			return err_set(ENOENT, "--user '%s': no group '%s' on this host", v, colon + 1);
	} else {
		struct passwd *p = getpwuid(uid);

		gid = p ? p->pw_gid : uid;
	}
	if (uid == 0)
		return err_set(EINVAL, "--user '%s': switching to root drops nothing; name an "
			       "unprivileged user", v);
	o->set_user = true;
	o->uid = uid;
	o->gid = gid;
	return 0;
}

int sandbox_enter(const struct sandbox_opts *o)
{
	/* Identity first: setuid needs CAP_SETUID, which goes next. */
	if (o->set_user) {
		gid_t g = o->gid;

		if (setgroups(1, &g) < 0)
			return err_sys(errno, "--user: cannot set supplementary groups");
		if (setresgid(o->gid, o->gid, o->gid) < 0)
			return err_sys(errno, "--user: cannot switch to group %u", (unsigned)o->gid);
		if (setresuid(o->uid, o->uid, o->uid) < 0)
			return err_sys(errno, "--user: cannot switch to user %u", (unsigned)o->uid);
	}
	/* The running VM needs no capability: /dev/kvm, guest RAM, images,
	 * taps and sockets are all open fds by now. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_ALL) < 0) {
		/* Without CAP_SETPCAP the bounding set cannot shrink; the
		 * effective, permitted and inheritable sets still can. */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_BOTH) < 0)
			return err_set(EPERM, "cannot drop capabilities");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_sys(errno, "cannot set no_new_privs");
	return 0;
}

void sandbox_describe(char *buf, size_t len)
{
	char *caps;

	capng_get_caps_process();
	caps = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	snprintf(buf, len, "uid %u gid %u; no_new_privs %s; capabilities kept: %s",
		 (unsigned)getuid(), (unsigned)getgid(),
		 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? "on" : "off",
		 caps && *caps ? caps : "none");
	free(caps);
}
