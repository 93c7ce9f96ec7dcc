// SPDX-License-Identifier: Apache-2.0
/*
 * Syscall filters, each case in a child (seccomp_child.h).
 *
 * Each role does its real work under its filter: the control socket serves
 * requests (a snapshot's file and KVM calls included) and the console reads
 * and writes while the main thread waits as kite's does; a vCPU thread runs
 * vcpu.c's loop (KVM_RUN fails: there is no KVM here) and a fake makes the
 * calls a vCPU's exits make; the I/O thread's are in test_seccomp_io.c.
 * KVM ioctls on a non-KVM fd fail with ENOTTY: the point is that the filter
 * lets them through.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "devices/bus.h"
#include "devices/uart.h"
#include "tests/fake_vm.h"
#include "tests/seccomp_child.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/err.h"
#include "vmm/iothread.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"

static struct iothread *io_thread;

/* ---- the main thread, the control socket, the console ---- */

static char ctl_path[64], snap_path[80];
static pthread_t main_tid;
static atomic_int pauses, resumes;

static int m_info(void *vm, struct json_object *out)
{
	(void)vm;
	json_object_object_add(out, "state", json_object_new_string("running"));
	json_object_object_add(out, "pid", json_object_new_int(getpid()));
	return 0;
}

static int m_pause(void *vm) { (void)vm; atomic_fetch_add(&pauses, 1); return 0; }
static int m_resume(void *vm) { (void)vm; atomic_fetch_add(&resumes, 1); return 0; }

static int m_stop(void *vm)
{
	(void)vm;
	pthread_kill(main_tid, SIGUSR2);	/* as vm_request_stop does */
	return 0;
}

static struct guest_mem snap_mem;

/* What ctl_snapshot does on the control thread: the state code's KVM
 * calls (on a non-KVM fd here), then snapshot_write's file dance around
 * the real stream writer. */
static int m_snapshot(void *vm, const char *path)
{
	static const char tree[] = "not a tree";
	struct snap_shape *shape = calloc(1, sizeof(*shape));
	char tmp[96];
	int fd;

	(void)vm;
	role_ioctls_pass(SECCOMP_MAIN);
	if (!shape)
		return -ENOMEM;
	snapshot_shape_mem(shape, &snap_mem);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(snapshot_write_fd(fd, shape, &snap_mem, tree, sizeof(tree)) == 0);
	CHECK(fsync(fd) == 0 && close(fd) == 0);
	CHECK(rename(tmp, path) == 0);
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0 && fsync(fd) == 0 && close(fd) == 0);
	free(shape);
	return 0;
}

static const struct control_ops m_ops = {
	.info = m_info, .pause = m_pause, .resume = m_resume, .stop = m_stop,
	.snapshot = m_snapshot,
};

static int con_in[2], con_out[2];

static void main_role(void)
{
	struct iothread_opts io = { .name = "kite-sc-io", .numa_node = -1 };
	struct guest_mem_opts mo = { .size = 16 << 20, .numa_node = -1 };
	struct console_opts co = { .kind = CONSOLE_STDIO };
	struct console *con;
	struct control *ctl;
	struct uart com1;
	struct bus pio;
	sigset_t wait;
	int sig;

	main_tid = pthread_self();
	sigemptyset(&wait);
	sigaddset(&wait, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &wait, NULL);
	CHECK(guest_mem_create(&snap_mem, &mo) == 0);
	CHECK(seccomp_configure(SECCOMP_KILL) == 0);

	/* Every thread first, as vm_create and vm_run make them... */
	bus_init(&pio, "pio");
	CHECK(uart_init(&com1, FAKE_VM, &pio, 0x3f8, 4) == 0);
	CHECK(console_open_fds(&con, &co, FAKE_VM, con_in[0], con_out[1]) == 0);
	CHECK(console_attach(con, &com1) == 0);
	CHECK(iothread_create(&io_thread, &io) == 0);
	CHECK(iothread_start(io_thread) == 0);
	CHECK(control_start(&ctl, ctl_path, &m_ops, NULL) == 0);
	/* ...then this thread, last. */
	seccomp_enter(SECCOMP_MAIN);

	console_write(con, "hello from the guest\n", 21);
	sig = sigwaitinfo(&wait, NULL);
	CHECK(sig == SIGUSR2);
	CHECK(atomic_load(&pauses) == 1 && atomic_load(&resumes) == 1);

	/* Teardown as vm_run and vm_destroy do it. */
	control_stop(ctl);
	iothread_destroy(io_thread);
	console_close(con);
	uart_destroy(&com1);
	bus_destroy(&pio);
	guest_mem_destroy(&snap_mem);
	role_ioctls_pass(SECCOMP_MAIN);
	close(con_in[0]);
	close(con_out[1]);
}

/* The parent's side: what went wrong, judged once the child's stderr is in. */
static char talk_err[512];

static bool talk(bool cond, const char *what)
{
	if (!cond && !talk_err[0])
		snprintf(talk_err, sizeof(talk_err), "%s (%s)", what, err_msg());
	return cond;
}

static bool request(const char *cmd, const char *path, pid_t want_pid)
{
	struct json_object *req = json_object_new_object(), *resp = NULL, *v;
	bool ok;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (path)
		json_object_object_add(req, "path", json_object_new_string(path));
	for (int i = 0; i < 300 && !resp; i++) {
		resp = control_request(ctl_path, req);
		if (!resp)
			sleep_ms(10);
	}
	json_object_put(req);
	ok = talk(resp && json_object_object_get_ex(resp, "ok", &v) && json_object_get_boolean(v),
		  resp ? json_object_to_json_string(resp) : cmd);
	if (ok && want_pid)
		ok = talk(json_object_object_get_ex(resp, "pid", &v) &&
			  json_object_get_int(v) == want_pid, "info: pid");
	json_object_put(resp);
	return ok;
}

/* Console input goes to the UART; output comes back out. */
static bool console_round_trip(void)
{
	char out[256] = "";
	size_t got = 0;

	if (!talk(write(con_in[1], "ls\r", 3) == 3, "console input"))
		return false;
	fcntl(con_out[0], F_SETFL, fcntl(con_out[0], F_GETFL) | O_NONBLOCK);
	for (int i = 0; i < 300 && !strstr(out, "hello from the guest\n"); i++) {
		ssize_t n = read(con_out[0], out + got, sizeof(out) - 1 - got);

		if (n > 0)
			got += (size_t)n;
		out[got] = '\0';
		sleep_ms(10);
	}
	return talk(!strcmp(out, "hello from the guest\n"), "console output");
}

/* The child keeps the console's far ends only. */
static void main_role_child(void)
{
	close(con_in[1]);
	close(con_out[0]);
	main_role();
}

START_TEST(main_control_and_console_do_their_work)
{
	bool sock_left;
	struct child c;
	struct stat st;

	snprintf(ctl_path, sizeof(ctl_path), "/tmp/kite-test-sc-%d.sock", (int)getpid());
	snprintf(snap_path, sizeof(snap_path), "/tmp/kite-test-sc-%d.snap", (int)getpid());
	unlink(ctl_path);
	unlink(snap_path);
	ck_assert_int_eq(pipe2(con_in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(con_out, O_CLOEXEC), 0);
	child_start(main_role_child, &c);
	close(con_in[0]);
	close(con_out[1]);

	talk_err[0] = '\0';
	if (request("info", NULL, c.pid) && request("pause", NULL, 0) &&
	    request("resume", NULL, 0) && request("snapshot", snap_path, 0) &&
	    talk(stat(snap_path, &st) == 0 && st.st_size > 64, "snapshot file") &&
	    console_round_trip())
		request("stop", NULL, 0);
	if (talk_err[0])
		kill(c.pid, SIGKILL);
	unlink(snap_path);
	close(con_in[1]);
	child_wait(&c);
	close(con_out[0]);
	sock_left = access(ctl_path, F_OK) == 0;
	unlink(ctl_path);
	ck_assert_msg(!talk_err[0], "%s; the child's stderr:\n%s", talk_err, c.err);
	expect_lived(&c);
	ck_assert(!sock_left);	/* control_stop unlinked it */
}
END_TEST

static pid_t parent_pid;

static void *idle(void *arg)
{
	return arg;
}

static void main_then(void (*bad)(void))
{
	pthread_t t;

	/* glibc sets up its thread signals at the first pthread_create:
	 * kite has made threads long before any filter. */
	CHECK(pthread_create(&t, NULL, idle, NULL) == 0 && pthread_join(t, NULL) == 0);
	parent_pid = getppid();
	CHECK(seccomp_install(SECCOMP_MAIN, SECCOMP_KILL) == 0);
	bad();
	fprintf(stderr, "still alive\n");
}

static void new_thread(void)
{
	pthread_t t;

	pthread_create(&t, NULL, idle, NULL);
}

static void open_files(void)
{
	/* glibc's own kind of open: refused, quietly (see seccomp.c). */
	CHECK(open("/etc/hostname", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	fprintf(stderr, "read-only open refused\n");
	open("/tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
}

static void signal_another_process(void)
{
	syscall(SYS_tgkill, parent_pid, parent_pid, 0);
}

static void main_new_thread(void) { main_then(new_thread); }
static void main_open_files(void) { main_then(open_files); }
static void main_signal_other(void) { main_then(signal_another_process); }

START_TEST(main_thread_may_not_create_threads)
{
	struct child c;

	/* Why the main thread installs its filter last. pthread_create
	 * blocks every signal around clone3: the kernel then kills with
	 * SIGSYS without running the handler, so there is no line (the
	 * audit record has the call). */
	run_child(main_new_thread, &c);
	ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSYS,
		      "expected death by SIGSYS, got status 0x%x; stderr:\n%s", c.status, c.err);
	ck_assert_msg(!strstr(c.err, "still alive"), "%s", c.err);
}
END_TEST

START_TEST(main_may_not_open_files)
{
	struct child c;

	run_child(main_open_files, &c);
	expect_killed(&c, "(main) made forbidden syscall openat");
	ck_assert_msg(strstr(c.err, "read-only open refused"), "%s", c.err);
}
END_TEST

START_TEST(signals_only_to_kite_itself)
{
	struct child c;

	run_child(main_signal_other, &c);
	expect_killed(&c, "(main) made forbidden syscall tgkill");
}
END_TEST

/* ---- the vCPU ---- */

static struct vm_config fake_cfg;
static struct vm fake_vm;
static struct vcpu vcpu;
static volatile sig_atomic_t kicked;

static void on_usr1(int sig)
{
	(void)sig;
	kicked = 1;
}

static char uart_out[64];
static size_t uart_len;

static void uart_tx(void *opaque, uint8_t b)
{
	(void)opaque;
	if (uart_len < sizeof(uart_out) - 1)
		uart_out[uart_len++] = (char)b;
}

static void io_noop(void *arg)
{
	(void)arg;
}

/* What a vCPU's exits make it do, without KVM. */
static void *fake_vcpu(void *arg)
{
	struct timespec ts = { 0, 1000 };
	struct iothread *t = arg;
	struct bus pio;
	struct uart com1;
	uint64_t one = 1;
	uint8_t ch = 'k';
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd pfd = { efd, POLLOUT, 0 };
	struct timespec now;
	void *big;

	bus_init(&pio, "pio");
	CHECK(uart_init(&com1, FAKE_VM, &pio, 0x3f8, 4) == 0);
	uart_set_tx(&com1, uart_tx, NULL);
	CHECK(efd >= 0);
	CHECK(seccomp_install(SECCOMP_VCPU, SECCOMP_KILL) == 0);

	role_ioctls_pass(SECCOMP_VCPU);
	vcpu.fd = efd;
	x86_vcpu_dump(&vcpu, stderr);			/* KVM_GET_REGS, KVM_GET_SREGS */
	CHECK(bus_access(&pio, 0x3f8, &ch, 1, true));	/* the UART, on a PIO exit */
	CHECK(write(efd, &one, 8) == 8);		/* an irqfd, a kick eventfd */
	CHECK(poll(&pfd, 1, 0) == 1);
	CHECK(nanosleep(&ts, NULL) == 0);		/* a device reset waiting */
	CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now) == 0);	/* ACPI PM timer */
	CHECK(iothread_call(t, io_noop, NULL) == 0);	/* queue enable, reset */
	big = malloc(8 << 20);
	CHECK(big);
	memset(big, 1, 8 << 20);
	free(big);
	CHECK(pthread_kill(pthread_self(), SIGUSR1) == 0);	/* a kick */
	CHECK(kicked);
	CHECK(uart_len == 1 && uart_out[0] == 'k');
	return NULL;
}

static void vcpu_role(void)
{
	struct iothread_opts io = { .name = "kite-sc-io", .numa_node = -1 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t th;

	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	CHECK(iothread_create(&io_thread, &io) == 0);
	CHECK(iothread_start(io_thread) == 0);

	/* vcpu.c's own thread: filter, loop, KVM_RUN (ENOTTY: it stops). */
	fake_cfg.numa_node = -1;
	fake_vm.cfg = &fake_cfg;
	vcpu.vm = &fake_vm;
	vcpu.fd = eventfd(0, EFD_CLOEXEC);
	CHECK(vcpu.fd >= 0);
	fake_vm_reset();
	CHECK(vcpu_start(&vcpu) == 0);
	vcpu_join(&vcpu);
	CHECK(fake_vm_get().stops == 1);

	CHECK(pthread_create(&th, NULL, fake_vcpu, io_thread) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	iothread_destroy(io_thread);
}

START_TEST(vcpu_does_its_work)
{
	struct child c;

	run_child(vcpu_role, &c);
	expect_lived(&c);
	ck_assert_msg(strstr(c.err, "KVM_RUN: Inappropriate ioctl"), "%s", c.err);
}
END_TEST

static void vcpu_then_create_vm(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	CHECK(seccomp_install(SECCOMP_VCPU, SECCOMP_KILL) == 0);
	ioctl(fd, KVM_CREATE_VM, 0);
	fprintf(stderr, "still alive\n");
}

static void io_then_kvm_run(void)
{
	CHECK(seccomp_install(SECCOMP_IO, SECCOMP_KILL) == 0);
	ioctl(0, KVM_RUN, 0);
	fprintf(stderr, "still alive\n");
}

START_TEST(unlisted_ioctl_kills)
{
	struct child c;

	run_child(vcpu_then_create_vm, &c);
	expect_killed(&c, "(vcpu) made forbidden syscall ioctl (nr 16; args 0x");
	ck_assert_msg(strstr(c.err, ", 0xae01, "), "%s", c.err);
	/* Allowed for another role: the line says which request it was. */
	run_child(io_then_kvm_run, &c);
	expect_killed(&c, "0xae80 = KVM_RUN");
}
END_TEST

/* ---- forbidden everywhere ---- */

static enum seccomp_role bad_role;

static void role_then_execve(void)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	CHECK(seccomp_install(bad_role, SECCOMP_KILL) == 0);
	execve("/bin/true", argv, envp);
	fprintf(stderr, "still alive\n");
}

static void role_then_exec_mapping(void)
{
	void *p;

	CHECK(seccomp_install(bad_role, SECCOMP_KILL) == 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p, 4096, PROT_READ) == 0);
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	fprintf(stderr, "still alive\n");
}

static void role_then_sigaction(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	CHECK(seccomp_install(bad_role, SECCOMP_KILL) == 0);
	/* The one way around the trap would be a new SIGSYS handler. */
	sigaction(SIGSYS, &sa, NULL);
	fprintf(stderr, "still alive\n");
}

/* fn, run as each role in turn, must be killed with the line naming the
 * role and `call` (and holding `also`, if given). */
static void kills_every_role(void (*fn)(void), const char *call, const char *also)
{
	struct child c;

	for (bad_role = 0; bad_role < SECCOMP_NROLES; bad_role++) {
		char want[96];

		run_child(fn, &c);
		snprintf(want, sizeof(want), "(%s) made forbidden syscall %s",
			 seccomp_role_name(bad_role), call);
		expect_killed(&c, want);
		if (also)
			ck_assert_msg(strstr(c.err, also), "%s", c.err);
	}
}

START_TEST(execve_kills_every_role)
{
	kills_every_role(role_then_execve, "execve", NULL);
}
END_TEST

START_TEST(executable_memory_kills_every_role)
{
	kills_every_role(role_then_exec_mapping, "mprotect", ", 0x5)");	/* READ | EXEC */
}
END_TEST

START_TEST(no_new_signal_handlers)
{
	kills_every_role(role_then_sigaction, "rt_sigaction", NULL);
}
END_TEST

/* ---- what glibc does behind kite's back ---- */

static pthread_barrier_t arena_barrier;

/* First malloc after the filter: with more threads than arenas allowed,
 * glibc counts CPUs (it opens /sys/devices/system/cpu/online). Then a
 * heap that shrinks: glibc reads /proc/sys/vm/overcommit_memory. */
static void *arena_thread(void *arg)
{
	void *p[24];

	seccomp_enter(SECCOMP_IO);
	pthread_barrier_wait(&arena_barrier);
	for (int i = 0; i < 24; i++) {
		p[i] = malloc(100000);
		CHECK(p[i]);
		memset(p[i], 1, 100000);
	}
	for (int i = 23; i >= 0; i--)
		free(p[i]);
	return arg;
}

static void glibc_probes(void)
{
	pthread_t t[16];

	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	pthread_barrier_init(&arena_barrier, NULL, 16);
	for (int i = 0; i < 16; i++)
		CHECK(pthread_create(&t[i], NULL, arena_thread, NULL) == 0);
	for (int i = 0; i < 16; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

START_TEST(glibc_probes_are_refused_not_fatal)
{
	struct child c;

	run_child(glibc_probes, &c);
	expect_lived(&c);
}
END_TEST

/* ---- modes and the test hook ---- */

static void log_mode(void)
{
	int fd;

	CHECK(seccomp_configure(SECCOMP_LOG) == 0);
	seccomp_enter(SECCOMP_IO);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	fprintf(stderr, "socket allowed\n");
}

static void off_mode(void)
{
	int fd;

	CHECK(seccomp_configure(SECCOMP_OFF) == 0);
	seccomp_enter(SECCOMP_IO);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
}

static void not_configured(void)
{
	seccomp_enter(SECCOMP_VCPU);	/* unit tests, kite ctl: nothing */
	CHECK(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0);
}

START_TEST(log_and_off_modes_let_it_live)
{
	struct child c;

	run_child(log_mode, &c);
	expect_lived(&c);
	ck_assert_msg(strstr(c.err, "--seccomp=log:") && strstr(c.err, "dmesg") &&
		      strstr(c.err, "socket allowed"), "%s", c.err);
	run_child(off_mode, &c);
	expect_lived(&c);
	ck_assert_msg(strstr(c.err, "WARNING: --seccomp=off"), "%s", c.err);
	run_child(not_configured, &c);
	expect_lived(&c);
	ck_assert_str_eq(c.err, "");
}
END_TEST

static void hook_io(void)
{
	struct iothread_opts io = { .name = "kite-sc-io", .numa_node = -1 };

	setenv("KITE_SECCOMP_TEST", "io", 1);
	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	CHECK(iothread_create(&io_thread, &io) == 0);
	CHECK(iothread_start(io_thread) == 0);
	sleep_ms(2000);
	fprintf(stderr, "still alive\n");
}

static void *enter_role(void *arg)
{
	enum seccomp_role role = *(enum seccomp_role *)arg;

	seccomp_enter(role);
	fprintf(stderr, "%s lived\n", seccomp_role_name(role));
	return NULL;
}

/* On threads of their own: under the sanitizers the main thread itself
 * stays unfiltered (seccomp_enter). The control and console threads are
 * main-role threads too. */
static void hook_main(void)
{
	static const enum seccomp_role vcpu = SECCOMP_VCPU, main_role = SECCOMP_MAIN;
	pthread_t t;

	setenv("KITE_SECCOMP_TEST", "1", 1);
	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	/* Not the hook's role: lives. */
	CHECK(pthread_create(&t, NULL, enter_role, (void *)&vcpu) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_create(&t, NULL, enter_role, (void *)&main_role) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	fprintf(stderr, "still alive\n");
}

static void hook_bad_value(void)
{
	setenv("KITE_SECCOMP_TEST", "everything", 1);
	CHECK(seccomp_configure(SECCOMP_KILL) == -EINVAL);
	fprintf(stderr, "%s\n", err_msg());
}

START_TEST(test_hook_kills_kite_as_designed)
{
	struct child c;

	run_child(hook_io, &c);
	expect_killed(&c, "thread kite-sc-io (io) made forbidden syscall socket");
	ck_assert_msg(strstr(c.err, "KITE_SECCOMP_TEST: thread kite-sc-io (io)"), "%s", c.err);
	ck_assert_msg(!strstr(c.err, "still alive"), "%s", c.err);
	run_child(hook_main, &c);
	expect_killed(&c, "(main) made forbidden syscall socket");
	ck_assert_msg(strstr(c.err, "vcpu lived"), "%s", c.err);
	run_child(hook_bad_value, &c);
	expect_lived(&c);
	ck_assert_msg(strstr(c.err, "KITE_SECCOMP_TEST='everything'"), "%s", c.err);
}
END_TEST

START_TEST(parse_modes)
{
	enum seccomp_mode m = SECCOMP_OFF;

	ck_assert_int_eq(seccomp_parse_mode("kill", &m), 0);
	ck_assert_int_eq(m, SECCOMP_KILL);
	ck_assert_int_eq(seccomp_parse_mode("log", &m), 0);
	ck_assert_int_eq(m, SECCOMP_LOG);
	ck_assert_int_eq(seccomp_parse_mode("off", &m), 0);
	ck_assert_int_eq(m, SECCOMP_OFF);
	ck_assert_int_eq(seccomp_parse_mode("trap", &m), -EINVAL);
	ck_assert_str_eq(err_msg(), "--seccomp 'trap': expected kill, log or off");
	ck_assert_str_eq(seccomp_role_name(SECCOMP_VCPU), "vcpu");
	ck_assert_str_eq(seccomp_mode_name(SECCOMP_KILL), "kill");
}
END_TEST

Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("seccomp");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_modes);
	seccomp_io_tests(tc);
	tcase_add_test(tc, main_control_and_console_do_their_work);
	tcase_add_test(tc, main_thread_may_not_create_threads);
	tcase_add_test(tc, main_may_not_open_files);
	tcase_add_test(tc, signals_only_to_kite_itself);
	tcase_add_test(tc, vcpu_does_its_work);
	tcase_add_test(tc, unlisted_ioctl_kills);
	tcase_add_test(tc, execve_kills_every_role);
	tcase_add_test(tc, executable_memory_kills_every_role);
	tcase_add_test(tc, no_new_signal_handlers);
	tcase_add_test(tc, glibc_probes_are_refused_not_fatal);
	tcase_add_test(tc, log_and_off_modes_let_it_live);
	tcase_add_test(tc, test_hook_kills_kite_as_designed);
	suite_add_tcase(s, tc);
	return s;
}
