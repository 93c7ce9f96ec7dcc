// SPDX-License-Identifier: Apache-2.0
/* The control socket: JSON requests and errors, ownership, stale sockets. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/err.h"

static char path[64];
static int pauses, resumes, stops;
static int fail_pause;

static int f_info(void *vm, struct json_object *out)
{
	json_object_object_add(out, "state", json_object_new_string("running"));
	json_object_object_add(out, "cpus", json_object_new_int(*(int *)vm));
	return 0;
}

static int f_pause(void *vm)
{
	(void)vm;
	if (fail_pause)
		return err_set(EBUSY, "a migration is in progress; cancel it first");
	pauses++;
	return 0;
}

static int f_resume(void *vm) { (void)vm; resumes++; return 0; }
static int f_stop(void *vm) { (void)vm; stops++; return 0; }

static char snap_path[256];
static int snaps;

static int f_snapshot(void *vm, const char *path)
{
	(void)vm;
	if (!strcmp(path, "/nonexistent/x"))
		return err_sys(ENOENT, "snapshot %s.tmp: cannot create", path);
	snprintf(snap_path, sizeof(snap_path), "%s", path);
	snaps++;
	return 0;
}

static char mig_cmd[32];

static int f_migrate(void *vm, const char *cmd, struct json_object *req, struct json_object *out)
{
	struct json_object *v;

	(void)vm;
	snprintf(mig_cmd, sizeof(mig_cmd), "%s", cmd);
	if (!strcmp(cmd, "migrate-status"))
		json_object_object_add(out, "state", json_object_new_string("active"));
	if (!strcmp(cmd, "migrate") && !json_object_object_get_ex(req, "host", &v))
		return err_set(EINVAL, "migrate needs a \"host\"");
	return 0;
}

static const struct control_ops ops = { f_info, f_pause, f_resume, f_stop, f_snapshot,
					f_migrate };
static int ncpus = 3;
static struct control *ctl;

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/kite-test-ctl-%d.sock", (int)getpid());
	unlink(path);
	pauses = resumes = stops = fail_pause = snaps = 0;
	ck_assert_msg(control_start(&ctl, path, &ops, &ncpus) == 0, "%s", err_msg());
}

static void teardown(void)
{
	control_stop(ctl);
	ck_assert_int_eq(access(path, F_OK), -1);	/* removed */
}

static struct json_object *ask(const char *cmd)
{
	struct json_object *req = json_object_new_object(), *resp;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	resp = control_request(path, req);
	json_object_put(req);
	ck_assert_msg(resp != NULL, "%s", err_msg());
	return resp;
}

static bool ok(struct json_object *r)
{
	struct json_object *v;

	return json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v);
}

static const char *field(struct json_object *r, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(r, k, &v) ? json_object_get_string(v) : "";
}

/* Raw exchange: send `text`, return everything the server answered. */
static size_t raw(const char *text, size_t len, char *out, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
	shutdown(fd, SHUT_WR);
	while (got < cap - 1 && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return got;
}

START_TEST(commands)
{
	struct json_object *r = ask("info");
	struct stat st;

	ck_assert(ok(r));
	ck_assert_str_eq(field(r, "state"), "running");
	ck_assert_str_eq(field(r, "cpus"), "3");
	json_object_put(r);
	r = ask("pause");
	ck_assert(ok(r));
	json_object_put(r);
	r = ask("resume");
	ck_assert(ok(r));
	json_object_put(r);
	r = ask("stop");
	ck_assert(ok(r));
	json_object_put(r);
	ck_assert_int_eq(pauses, 1);
	ck_assert_int_eq(resumes, 1);
	ck_assert_int_eq(stops, 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

/* snapshot takes a path; a missing or empty one is refused before the VM
 * hears of it, and the VM's own failure comes back as its message. */
START_TEST(snapshot_cmd)
{
	static const char *const refused[] = {
		"{\"cmd\":\"snapshot\"}\n", "{\"cmd\":\"snapshot\",\"path\":\"\"}\n",
		"{\"cmd\":\"snapshot\",\"path\":7}\n",
	};
	struct json_object *req, *r;
	char out[1024];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		raw(refused[i], strlen(refused[i]), out, sizeof(out));
		ck_assert_msg(strstr(out, "\"ok\":false") && strstr(out, "snapshot needs a"),
			      "%s", out);
	}
	ck_assert_int_eq(snaps, 0);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("snapshot"));
	json_object_object_add(req, "path", json_object_new_string("/tmp/vm.snap"));
	r = control_request(path, req);
	ck_assert(r && ok(r));
	json_object_put(r);
	ck_assert_int_eq(snaps, 1);
	ck_assert_str_eq(snap_path, "/tmp/vm.snap");
	json_object_object_add(req, "path", json_object_new_string("/nonexistent/x"));
	r = control_request(path, req);
	ck_assert(r && !ok(r));
	ck_assert_str_eq(field(r, "error"), "snapshot /nonexistent/x.tmp: cannot create: "
			 "No such file or directory");
	json_object_put(r);
	json_object_put(req);
	ck_assert_int_eq(snaps, 1);
}
END_TEST

START_TEST(migrate_cmds)
{
	struct json_object *r = ask("migrate-status");

	ck_assert(ok(r));
	ck_assert_str_eq(field(r, "state"), "active");
	ck_assert_str_eq(mig_cmd, "migrate-status");
	json_object_put(r);
	r = ask("migrate-cancel");
	ck_assert(ok(r));
	ck_assert_str_eq(mig_cmd, "migrate-cancel");
	json_object_put(r);
	/* The handler's refusal comes back as the error. */
	r = ask("migrate");
	ck_assert(!ok(r));
	ck_assert_str_eq(field(r, "error"), "migrate needs a \"host\"");
	json_object_put(r);
}
END_TEST

static const struct { const char *send; const char *error; } bad[] = {
	{ "not json\n", "not a JSON object" },
	{ "[1, 2]\n", "not a JSON object" },
	{ "{}\n", "no \"cmd\" string" },
	{ "{\"cmd\": 7}\n", "no \"cmd\" string" },
	{ "{\"cmd\": \"reboot\"}\n", "unknown cmd \"reboot\" (one of: info, pause, resume, stop, snapshot, migrate, "
	  "migrate-status, migrate-cancel)" },
};

START_TEST(errors_are_json)
{
	char out[1024];
	struct json_object *r;

	raw(bad[_i].send, strlen(bad[_i].send), out, sizeof(out));
	r = json_tokener_parse(out);
	ck_assert_msg(r != NULL, "reply is not JSON: %s", out);
	ck_assert(!ok(r));
	ck_assert_msg(strstr(field(r, "error"), bad[_i].error), "'%s' lacks '%s'",
		      field(r, "error"), bad[_i].error);
	json_object_put(r);
	ck_assert_int_eq(pauses + resumes + stops, 0);
}
END_TEST

START_TEST(failure_carries_the_reason)
{
	struct json_object *r;

	fail_pause = 1;
	r = ask("pause");
	ck_assert(!ok(r));
	ck_assert_str_eq(field(r, "error"), "a migration is in progress; cancel it first");
	json_object_put(r);
}
END_TEST

START_TEST(pipelined_and_oversized)
{
	static char big[CONTROL_MAX_LINE + 100];
	const char two[] = "{\"cmd\":\"pause\"}\n{\"cmd\":\"resume\"}\n";
	char out[1024];

	raw(two, strlen(two), out, sizeof(out));
	ck_assert_int_eq(pauses, 1);
	ck_assert_int_eq(resumes, 1);
	ck_assert_ptr_nonnull(strchr(strchr(out, '\n') + 1, '\n'));	/* two replies */
	memset(big, 'x', sizeof(big));
	raw(big, sizeof(big), out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "longer than 4096 bytes"));
	/* The server is still there for the next client. */
	json_object_put(ask("info"));
}
END_TEST

/* A client that sends many requests before reading gets every answer,
 * whole and in order, however full its socket gets. */
START_TEST(burst_answered_in_full)
{
	/* Enough answers (~80 bytes each) to fill any socket buffer. */
	enum { N = 6000 };
	static char req[N * 17 + 2 * N], out[N * 200];
	size_t len = 0, got;
	unsigned lines = 0, errors = 0;
	char *p;

	for (unsigned i = 0; i < N; i++)
		len += (size_t)sprintf(req + len, i % 2 ? "x\n" : "{\"cmd\":\"pause\"}\n");
	got = raw(req, len, out, sizeof(out));
	for (size_t i = 0; i < got; i++)
		lines += out[i] == '\n';
	for (p = out; (p = strstr(p, "not a JSON object")); p++)
		errors++;
	ck_assert_uint_eq(lines, N);
	ck_assert_uint_eq(errors, N / 2);
	ck_assert_int_eq(pauses, N / 2);
	ck_assert_ptr_null(strstr(out, "}{"));	/* no answer cut into another */
}
END_TEST

START_TEST(other_users_refused)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		fprintf(stderr, "note: not root, cannot test another uid\n");
		return;
	}
	/* The file mode keeps others out; connect as another user anyway
	 * (chmod'ed open) to check the SO_PEERCRED test behind it. */
	ck_assert_int_eq(chmod(path, 0666), 0);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char out[512] = "";
		int fd;

		if (setuid(65534) < 0)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sa.sun_path, path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(3);
		/* The server may already have answered and closed. */
		(void)!send(fd, "{\"cmd\":\"stop\"}\n", 15, MSG_NOSIGNAL);
		(void)!recv(fd, out, sizeof(out) - 1, MSG_WAITALL);
		_exit(strstr(out, "permission denied") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(stops, 0);
}
END_TEST

START_TEST(socket_path_rules)
{
	struct control *c2;
	char file[80];
	FILE *f;

	/* Someone serves it already. */
	ck_assert_int_eq(control_start(&c2, path, &ops, &ncpus), -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err_msg(), "another process is serving it"));
	/* A regular file is never removed. */
	snprintf(file, sizeof(file), "%s.file", path);
	f = fopen(file, "w");
	fclose(f);
	ck_assert_int_eq(control_start(&c2, file, &ops, &ncpus), -EEXIST);
	ck_assert_int_eq(access(file, F_OK), 0);
	unlink(file);
}
END_TEST

START_TEST(stale_socket_replaced)
{
	struct control *c2;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char stale[80];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(stale, sizeof(stale), "%s.stale", path);
	unlink(stale);
	strcpy(sa.sun_path, stale);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);	/* a socket file nobody listens on */
	ck_assert_msg(control_start(&c2, stale, &ops, &ncpus) == 0, "%s", err_msg());
	control_stop(c2);
}
END_TEST

Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, commands);
	tcase_add_test(tc, snapshot_cmd);
	tcase_add_test(tc, migrate_cmds);
	tcase_add_loop_test(tc, errors_are_json, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, failure_carries_the_reason);
	tcase_add_test(tc, pipelined_and_oversized);
	tcase_add_test(tc, burst_answered_in_full);
	tcase_add_test(tc, other_users_refused);
	tcase_add_test(tc, socket_path_rules);
	tcase_add_test(tc, stale_socket_replaced);
	suite_add_tcase(s, tc);
	return s;
}
