// SPDX-License-Identifier: Apache-2.0
/* I/O threads: lifecycle, eventfd watches (multishot, re-arm, one-shot),
 * batch hooks, polling, cross-thread calls, and many ops in flight. */
#include <check.h>
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/iothread.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to 5 s for *v >= want. */
static bool wait_for(atomic_int *v, int want)
{
	int i;

	for (i = 0; i < 5000 && atomic_load(v) < want; i++)
		sleep_ms(1);
	return atomic_load(v) >= want;
}

static struct iothread *make(unsigned entries, unsigned poll_us, bool oneshot)
{
	struct iothread_opts o = { .name = "kite-iotest", .entries = entries, .numa_node = -1,
				   .poll_us = poll_us, .oneshot_polls = oneshot };
	struct iothread *t = NULL;

	ck_assert_msg(iothread_create(&t, &o) == 0, "create: %s", err_msg());
	return t;
}

static void noop(void *opaque)
{
	(void)opaque;
}

START_TEST(start_stop_repeat)
{
	int i;

	for (i = 0; i < 50; i++) {
		struct iothread *t = make(8, i & 1 ? 50 : 0, false);

		ck_assert_int_eq(iothread_start(t), 0);
		if (i % 5 == 0)
			ck_assert_int_eq(iothread_call(t, noop, NULL), 0);
		iothread_stop(t);
		iothread_destroy(t);
	}
	/* Never started: destroy alone cleans up. */
	iothread_destroy(make(8, 0, false));
}
END_TEST

struct on_thread_info {
	pthread_t self;
	char name[16];
	int ncpus;
};

static void who_am_i(void *opaque)
{
	struct on_thread_info *w = opaque;
	cpu_set_t set;

	w->self = pthread_self();
	pthread_getname_np(pthread_self(), w->name, sizeof(w->name));
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof(set), &set);
	w->ncpus = CPU_COUNT(&set);
}

START_TEST(call_runs_on_named_thread)
{
	struct iothread *t = make(8, 0, false);
	struct on_thread_info w = { 0 };

	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, who_am_i, &w), 0);
	ck_assert(!pthread_equal(w.self, pthread_self()));
	ck_assert_str_eq(w.name, "kite-iotest");
	iothread_stop(t);
	/* Stopped: the call runs on the caller, no thread to wait for. */
	ck_assert_int_eq(iothread_call(t, who_am_i, &w), 0);
	ck_assert(pthread_equal(w.self, pthread_self()));
	iothread_destroy(t);
}
END_TEST

START_TEST(numa_pinning)
{
	struct iothread_opts o = { .name = "kite-numa", .numa_node = 0 };
	struct on_thread_info w = { 0 };
	struct iothread *t = NULL;

	if (numa_available() < 0)
		return;	/* nothing to pin to on this host */
	ck_assert_msg(iothread_create(&t, &o) == 0, "%s", err_msg());
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, who_am_i, &w), 0);
	ck_assert_int_ge(w.ncpus, 1);
	iothread_destroy(t);

	o.numa_node = 4000;
	ck_assert_int_lt(iothread_create(&t, &o), 0);
	ck_assert_ptr_nonnull(strstr(err_msg(), "no such node"));
}
END_TEST

/* An op that counts its calls and remembers a final (no F_MORE) CQE. */
struct kick {
	struct io_op op;
	atomic_int fired;
	atomic_int finals;
	atomic_int slow;	/* first call sleeps this many ms */
	atomic_int in_slow;
	int last_res;
};

static void kick_complete(struct io_op *op, int res, uint32_t flags)
{
	struct kick *k = (struct kick *)op;
	int ms = atomic_exchange(&k->slow, 0);

	k->last_res = res;
	if (!(flags & IORING_CQE_F_MORE))
		atomic_fetch_add(&k->finals, 1);
	if (ms) {
		atomic_store(&k->in_slow, 1);
		sleep_ms((unsigned)ms);
	}
	atomic_fetch_add(&k->fired, 1);
}

static void kick_init(struct kick *k)
{
	memset(k, 0, sizeof(*k));
	k->op.complete = kick_complete;
}

static void kick_fd(int fd, uint64_t v)
{
	ck_assert_int_eq(write(fd, &v, sizeof(v)), sizeof(v));
}

static void fires_once_per_write(bool oneshot, bool watch_after_start)
{
	struct iothread *t = make(8, 0, oneshot);
	int fd = eventfd(0, EFD_CLOEXEC);	/* blocking: the watch makes it non-blocking */
	struct kick k;
	uint64_t v;
	int i;

	kick_init(&k);
	ck_assert_int_ge(fd, 0);
	if (!watch_after_start)
		ck_assert_int_eq(iothread_watch_eventfd(t, fd, &k.op), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	if (watch_after_start)
		ck_assert_int_eq(iothread_watch_eventfd(t, fd, &k.op), 0);
	for (i = 1; i <= 20; i++) {
		kick_fd(fd, (uint64_t)i);	/* any count is one kick */
		ck_assert_msg(wait_for(&k.fired, i), "kick %d not seen", i);
		sleep_ms(2);
		ck_assert_int_eq(atomic_load(&k.fired), i);	/* not twice */
		ck_assert_int_gt(k.last_res, 0);
		/* Drained by the thread before the op ran. */
		ck_assert_int_lt(read(fd, &v, sizeof(v)), 0);
		ck_assert_int_eq(errno, EAGAIN);
	}
	if (oneshot)
		ck_assert_int_eq(atomic_load(&k.finals), 20);
	else
		ck_assert_int_eq(atomic_load(&k.finals), 0);
	iothread_destroy(t);
	close(fd);
}

START_TEST(eventfd_multishot)
{
	fires_once_per_write(false, false);
}
END_TEST

START_TEST(eventfd_oneshot_rearm)
{
	fires_once_per_write(true, false);
}
END_TEST

START_TEST(eventfd_watch_after_start)
{
	fires_once_per_write(false, true);
}
END_TEST

/*
 * A CQ of two entries: while the op of fd 0 sleeps (its CQE still unreaped),
 * kicks of fds 1-3 find the CQ full, so the kernel ends their multishot
 * polls with a final CQE. The thread must re-arm them: later kicks fire.
 */
START_TEST(multishot_rearm_after_overflow)
{
	struct iothread *t = make(1, 0, false);
	struct kick k[4];
	int fd[4], i, finals = 0;

	ck_assert_int_eq(iothread_start(t), 0);
	for (i = 0; i < 4; i++) {
		kick_init(&k[i]);
		fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ck_assert_int_ge(fd[i], 0);
		ck_assert_msg(iothread_watch_eventfd(t, fd[i], &k[i].op) == 0, "%s", err_msg());
	}
	atomic_store(&k[0].slow, 200);
	kick_fd(fd[0], 1);
	ck_assert(wait_for(&k[0].in_slow, 1));
	for (i = 1; i < 4; i++)
		kick_fd(fd[i], 1);
	for (i = 0; i < 4; i++) {
		ck_assert_msg(wait_for(&k[i].fired, 1), "fd %d: first kick lost", i);
		finals += atomic_load(&k[i].finals);
	}
	/* Kernels 6.x end a multishot poll whose CQE does not fit; should a
	 * later one queue it instead, say so rather than fail (the one-shot
	 * test covers re-arming too). */
	if (!finals)
		fprintf(stderr, "note: no multishot poll was ended; re-arm not exercised\n");
	for (i = 0; i < 4; i++) {
		kick_fd(fd[i], 1);
		ck_assert_msg(wait_for(&k[i].fired, 2), "fd %d: not re-armed", i);
	}
	iothread_destroy(t);
	for (i = 0; i < 4; i++)
		close(fd[i]);
}
END_TEST

/* NOP ops that record how many hook calls preceded them. */
#define NOPS 32
static atomic_int hook_calls, nops_done, done_at_hook, nops_bad;
static int seen_hooks[NOPS];

struct nop {
	struct io_op op;
	int idx;
};
static struct nop nops[NOPS];

static void nop_complete(struct io_op *op, int res, uint32_t flags)
{
	struct nop *n = (struct nop *)op;

	(void)flags;
	if (res != 0)	/* checked by the test thread: no ck_assert here */
		atomic_fetch_add(&nops_bad, 1);
	seen_hooks[n->idx] = atomic_load(&hook_calls);
	atomic_fetch_add(&nops_done, 1);
}

static bool counting_hook(void *opaque)
{
	(void)opaque;
	atomic_store(&done_at_hook, atomic_load(&nops_done));
	atomic_fetch_add(&hook_calls, 1);
	return false;
}

static void prep_nops(void *opaque)
{
	struct iothread *t = opaque;
	int i;

	for (i = 0; i < NOPS; i++) {
		struct io_uring_sqe *sqe = iothread_get_sqe(t);

		if (!sqe) {
			atomic_fetch_add(&nops_bad, 1);
			return;
		}
		nops[i].op.complete = nop_complete;
		nops[i].idx = i;
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, &nops[i].op);
	}
}

START_TEST(hooks_once_per_batch)
{
	struct iothread *t = make(64, 0, false);
	int h0, i;

	atomic_store(&hook_calls, 0);
	atomic_store(&nops_done, 0);
	atomic_store(&nops_bad, 0);
	ck_assert_int_eq(iothread_add_batch_hook(t, counting_hook, NULL), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, prep_nops, t), 0);
	ck_assert(wait_for(&nops_done, NOPS));
	ck_assert_int_eq(atomic_load(&nops_bad), 0);
	h0 = seen_hooks[0];
	ck_assert(wait_for(&hook_calls, h0 + 1));
	sleep_ms(20);
	/* One batch: no hook ran between the NOPs, exactly one after them. */
	for (i = 0; i < NOPS; i++)
		ck_assert_int_eq(seen_hooks[i], h0);
	ck_assert_int_eq(atomic_load(&hook_calls), h0 + 1);
	ck_assert_int_eq(atomic_load(&done_at_hook), NOPS);
	iothread_destroy(t);
}
END_TEST

static atomic_int poll_calls, poll_budget;

static bool busy_hook(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&poll_calls, 1);
	return atomic_fetch_sub(&poll_budget, 1) > 0;
}

START_TEST(poll_keeps_calling_hooks)
{
	struct iothread *t = make(8, 100000, false);
	int n;

	atomic_store(&poll_calls, 0);
	atomic_store(&poll_budget, 1000);
	ck_assert_int_eq(iothread_add_batch_hook(t, busy_hook, NULL), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, noop, NULL), 0);	/* one wake-up */
	/* The hook finds work 1000 times, then the thread polls on for about
	 * 100 ms with nothing, then sleeps. */
	ck_assert(wait_for(&poll_calls, 1001));
	sleep_ms(400);
	n = atomic_load(&poll_calls);
	sleep_ms(200);
	ck_assert_int_eq(atomic_load(&poll_calls), n);
	iothread_destroy(t);
}
END_TEST

/* Idle hooks: run when the poll window ends, with iothread_polling()
 * false; one that reports work sends the thread back to polling. */
static atomic_int idle_calls, idle_budget, batch_calls_polling, batch_calls;

static bool idle_hook(void *opaque)
{
	(void)opaque;
	ck_assert(!iothread_polling());
	atomic_fetch_add(&idle_calls, 1);
	return atomic_fetch_sub(&idle_budget, 1) > 0;
}

static bool count_hook(void *opaque)
{
	(void)opaque;
	atomic_fetch_add(&batch_calls, 1);
	if (iothread_polling())
		atomic_fetch_add(&batch_calls_polling, 1);
	return false;
}

START_TEST(idle_hooks_end_the_poll_window)
{
	struct iothread *t = make(8, 2000, false);
	int n;

	atomic_store(&idle_calls, 0);
	atomic_store(&idle_budget, 3);
	atomic_store(&batch_calls, 0);
	atomic_store(&batch_calls_polling, 0);
	ck_assert_int_eq(iothread_add_batch_hook(t, count_hook, NULL), 0);
	ck_assert_int_eq(iothread_add_idle_hook(t, idle_hook, NULL), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, noop, NULL), 0);
	/* Three idle calls find work (three more windows), the fourth does
	 * not: the thread sleeps, and nothing runs any more. */
	ck_assert(wait_for(&idle_calls, 4));
	sleep_ms(100);
	n = atomic_load(&idle_calls);
	ck_assert_int_eq(n, 4);
	ck_assert_int_gt(atomic_load(&batch_calls_polling), 0);
	ck_assert_int_lt(atomic_load(&batch_calls_polling), atomic_load(&batch_calls));
	iothread_destroy(t);
}
END_TEST

START_TEST(no_idle_hooks_without_poll)
{
	struct iothread *t = make(8, 0, false);

	atomic_store(&idle_calls, 0);
	atomic_store(&idle_budget, 0);
	ck_assert_int_eq(iothread_add_idle_hook(t, idle_hook, NULL), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, noop, NULL), 0);
	sleep_ms(50);
	ck_assert_int_eq(atomic_load(&idle_calls), 0);
	iothread_destroy(t);
}
END_TEST

START_TEST(no_poll_one_call_per_batch)
{
	struct iothread *t = make(8, 0, false);

	atomic_store(&poll_calls, 0);
	atomic_store(&poll_budget, 1000);
	ck_assert_int_eq(iothread_add_batch_hook(t, busy_hook, NULL), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, noop, NULL), 0);
	sleep_ms(100);
	/* Work found, but poll_us is 0: the hook waits for the next batch. */
	ck_assert_int_eq(atomic_load(&poll_calls), 1);
	iothread_destroy(t);
}
END_TEST

/* Many ops through a small SQ: a hook keeps 100 NOPs going per batch. */
#define MANY 10000
struct many_op {
	struct io_op op;
	int done;
};
static struct many_op *many;
static int many_next;
static atomic_int many_done, many_bad;

static void many_complete(struct io_op *op, int res, uint32_t flags)
{
	struct many_op *m = (struct many_op *)op;

	(void)flags;
	if (res != 0 || m->done++)
		atomic_fetch_add(&many_bad, 1);
	atomic_fetch_add(&many_done, 1);
}

static bool many_hook(void *opaque)
{
	struct iothread *t = opaque;
	int i;

	for (i = 0; i < 100 && many_next < MANY; i++, many_next++) {
		struct io_uring_sqe *sqe = iothread_get_sqe(t);

		if (!sqe) {
			atomic_fetch_add(&many_bad, 1);
			return false;
		}
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, &many[many_next].op);
	}
	return false;
}

START_TEST(many_nops_own_ops)
{
	struct iothread *t = make(16, 0, false);
	int i;

	many_next = 0;
	atomic_store(&many_done, 0);
	atomic_store(&many_bad, 0);
	many = calloc(MANY, sizeof(*many));
	ck_assert_ptr_nonnull(many);
	for (i = 0; i < MANY; i++)
		many[i].op.complete = many_complete;
	ck_assert_int_eq(iothread_add_batch_hook(t, many_hook, t), 0);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert_int_eq(iothread_call(t, noop, NULL), 0);
	ck_assert(wait_for(&many_done, MANY));
	iothread_destroy(t);
	ck_assert_int_eq(atomic_load(&many_bad), 0);
	for (i = 0; i < MANY; i++)
		ck_assert_int_eq(many[i].done, 1);
	free(many);
}
END_TEST

Suite *iothread_suite(void)
{
	Suite *s = suite_create("iothread");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, start_stop_repeat);
	tcase_add_test(tc, call_runs_on_named_thread);
	tcase_add_test(tc, numa_pinning);
	tcase_add_test(tc, eventfd_multishot);
	tcase_add_test(tc, eventfd_oneshot_rearm);
	tcase_add_test(tc, eventfd_watch_after_start);
	tcase_add_test(tc, multishot_rearm_after_overflow);
	tcase_add_test(tc, hooks_once_per_batch);
	tcase_add_test(tc, poll_keeps_calling_hooks);
	tcase_add_test(tc, no_poll_one_call_per_batch);
	tcase_add_test(tc, idle_hooks_end_the_poll_window);
	tcase_add_test(tc, no_idle_hooks_without_poll);
	tcase_add_test(tc, many_nops_own_ops);
	suite_add_tcase(s, tc);
	return s;
}
