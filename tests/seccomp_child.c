// SPDX-License-Identifier: Apache-2.0
/* Running a seccomp test case in a child: see seccomp_child.h. */
#include "tests/seccomp_child.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

int probe_fd = -1;

void child_start(void (*fn)(void), struct child *c)
{
	struct rlimit no_core = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		dup2(p[1], STDERR_FILENO);
		setvbuf(stderr, NULL, _IONBF, 0);
		/* Deaths by SIGSYS are expected: no core files. */
		setrlimit(RLIMIT_CORE, &no_core);
		probe_fd = eventfd(0, EFD_CLOEXEC);
		fn();
		_exit(0);
	}
	close(p[1]);
	c->err_fd = p[0];
}

void child_wait(struct child *c)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(c->err_fd, c->err + len, sizeof(c->err) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(c->err) - 1)
			break;
	}
	c->err[len] = '\0';
	close(c->err_fd);
	ck_assert_int_eq(waitpid(c->pid, &c->status, 0), c->pid);
}

void run_child(void (*fn)(void), struct child *c)
{
	child_start(fn, c);
	child_wait(c);
}

void expect_lived(const struct child *c)
{
	ck_assert_msg(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
		      "the child ended with status 0x%x; its stderr:\n%s", c->status, c->err);
}

void expect_killed(const struct child *c, const char *needle)
{
	ck_assert_msg(WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGSYS,
		      "expected death by SIGSYS, got status 0x%x; stderr:\n%s", c->status, c->err);
	ck_assert_msg(strstr(c->err, "kite: seccomp: thread ") && strstr(c->err, needle),
		      "no line naming \"%s\" in the child's stderr:\n%s", needle, c->err);
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
		sleep_ms(1);
	return atomic_load(v) >= want;
}

void role_ioctls_pass(enum seccomp_role role)
{
	const unsigned long *req;
	size_t n;

	CHECK(probe_fd >= 0);
	req = seccomp_role_ioctls(role, &n);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK(ioctl(probe_fd, req[i], NULL) < 0 && (errno == ENOTTY || errno == EINVAL));
}
