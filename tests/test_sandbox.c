// SPDX-License-Identifier: Apache-2.0
/* Privilege drop: read back from /proc/self/status in a child process. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/sandbox.h"

/* The value of a /proc/self/status field, e.g. "CapEff". */
static void status_field(const char *name, char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = strlen(name);

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, n) && line[n] == ':') {
			snprintf(out, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	}
	if (f)
		fclose(f);
}

/* Run the drop in a child (it cannot be undone) and report as exit codes. */
static int child_drop(const struct sandbox_opts *o)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		char v[64];

		if (sandbox_enter(o))
			_exit(10);
		status_field("CapEff", v, sizeof(v));
		if (strcmp(v, "0000000000000000"))
			_exit(11);
		status_field("CapPrm", v, sizeof(v));
		if (strcmp(v, "0000000000000000"))
			_exit(12);
		status_field("NoNewPrivs", v, sizeof(v));
		if (strcmp(v, "1"))
			_exit(13);
		status_field("CapBnd", v, sizeof(v));
		if (geteuid() == 0 && !o->set_user && strcmp(v, "0000000000000000"))
			_exit(14);
		if (o->set_user && (getuid() != o->uid || getgid() != o->gid ||
				    geteuid() != o->uid))
			_exit(15);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(drops_everything)
{
	struct sandbox_opts o = { 0 };

	ck_assert_int_eq(child_drop(&o), 0);
}
END_TEST

START_TEST(switches_user)
{
	struct sandbox_opts o = { 0 };

	if (geteuid() != 0) {
		fprintf(stderr, "note: not root, cannot test --user\n");
		return;
	}
	ck_assert_int_eq(sandbox_parse_user("65534:65534", &o), 0);
	ck_assert_int_eq(child_drop(&o), 0);
}
END_TEST

static const struct { const char *v; int ok; unsigned uid, gid; const char *msg; } users[] = {
	{ "65534", 1, 65534, 65534, NULL },
	{ "1234:5678", 1, 1234, 5678, NULL },
	{ "nobody", 1, 65534, 65534, NULL },
	{ "", 0, 0, 0, "expected USER or USER:GROUP" },
	{ "1000:", 0, 0, 0, "expected USER or USER:GROUP" },
	{ ":100", 0, 0, 0, "expected USER or USER:GROUP" },
	{ "0", 0, 0, 0, "switching to root drops nothing" },
	{ "kite-no-such-user", 0, 0, 0, "no user 'kite-no-such-user'" },
	{ "1000:kite-no-such-group", 0, 0, 0, "no group 'kite-no-such-group'" },
};

START_TEST(parse_table)
{
	struct sandbox_opts o = { 0 };
	int r = sandbox_parse_user(users[_i].v, &o);

	if (users[_i].ok) {
		ck_assert_msg(r == 0, "'%s': %s", users[_i].v, err_msg());
		ck_assert(o.set_user);
		ck_assert_uint_eq(o.uid, users[_i].uid);
		if (strchr(users[_i].v, ':') || users[_i].uid == 65534)
			ck_assert_uint_eq(o.gid, users[_i].gid);
	} else {
		ck_assert_int_lt(r, 0);
		ck_assert_msg(strstr(err_msg(), users[_i].msg), "'%s': %s", users[_i].v, err_msg());
	}
}
END_TEST

START_TEST(describe)
{
	char buf[256];

	sandbox_describe(buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "capabilities kept: "));
	ck_assert_ptr_nonnull(strstr(buf, "no_new_privs"));
}
END_TEST

Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, drops_everything);
	tcase_add_test(tc, switches_user);
	tcase_add_loop_test(tc, parse_table, 0, sizeof(users) / sizeof(users[0]));
	tcase_add_test(tc, describe);
	suite_add_tcase(s, tc);
	return s;
}
