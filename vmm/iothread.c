// SPDX-License-Identifier: Apache-2.0
/*
 * I/O threads: one io_uring each, one wait point (io_uring_submit_and_wait),
 * completions dispatched through the struct io_op in user_data.
 */
#include "vmm/iothread.h"

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/seccomp.h"
#include "vmm/uring_restrict.h"

#define IOTHREAD_DEFAULT_ENTRIES 256

/* A watched eventfd; its op is the poll's user_data. */
struct iowatch {
	struct io_op op;
	struct iothread *t;
	struct io_op *user;
	int fd;
	bool multishot;
	struct iowatch *next;
};

struct iohook {
	iothread_hook_fn fn;
	void *opaque;
	bool idle;		/* an idle hook, not a batch hook */
};

struct iothread {
	struct io_uring ring;
	char name[16];
	unsigned poll_us;
	bool oneshot_polls;
	bool disabled;		/* ring made with R_DISABLED: the thread enables it */
	bool pin;
	cpu_set_t cpus;

	pthread_t thread;
	bool started;		/* pthread exists (until joined) */
	bool stopping;		/* thread's own: leave the loop */
	atomic_bool stop;	/* set by iothread_stop */

	/* The ring's fixed-file table: fds registered before the thread
	 * starts, named by index in the SQEs that use them. */
	int files[IOTHREAD_MAX_FILES];
	unsigned nfiles;
	bool files_ok;		/* the sparse table exists */

	int ctl_fd;		/* eventfd: stop and calls wake the thread */
	struct io_op ctl_op;
	struct iowatch *watches;
	struct iohook *hooks;
	unsigned nhooks;

	/* iothread_call: one call at a time, handed over under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*call_fn)(void *);
	void *call_arg;
	bool call_done;
	bool dead;		/* thread gone or ring broken: calls fail */
};

/* The I/O thread running on this OS thread, if any. Set by the thread
 * itself, so there is no window where pthread_create has not yet stored
 * the id the thread would compare against. */
static _Thread_local struct iothread *current_iothread;
/* True on an I/O thread while it is inside its poll window. */
static _Thread_local bool polling_now;

static bool on_thread(struct iothread *t)
{
	return current_iothread == t;
}

/* Before start, or on the thread: the ring may be touched directly. */
static bool may_touch_ring(struct iothread *t)
{
	return !t->started || on_thread(t);
}

struct io_uring *iothread_ring(struct iothread *t)
{
	return &t->ring;
}

struct io_uring_sqe *iothread_get_sqe(struct iothread *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	/* A full SQ is flushed early; only the I/O thread may submit. */
	if (!sqe && on_thread(t)) {
		io_uring_submit(&t->ring);
		sqe = io_uring_get_sqe(&t->ring);
	}
	return sqe;
}

int iothread_register_file(struct iothread *t, int fd)
{
	int r;

	/* Once the thread runs, its ring is enabled and restricted: no
	 * io_uring_register call passes. Such an fd is used as it is. */
	if (fd < 0 || !t->files_ok || t->started)
		return 0;
	for (unsigned i = 0; i < t->nfiles; i++)
		if (t->files[i] == fd)
			return 0;
	if (t->nfiles == IOTHREAD_MAX_FILES)
		return 0;
	r = io_uring_register_files_update(&t->ring, t->nfiles, &fd, 1);
	if (r < 0)
		return err_sys(-r, "%s: cannot register fd %d with io_uring", t->name, fd);
	t->files[t->nfiles++] = fd;
	return 0;
}

void iothread_fixed_file(struct iothread *t, struct io_uring_sqe *sqe)
{
	for (unsigned i = 0; i < t->nfiles; i++)
		if (t->files[i] == sqe->fd) {
			sqe->fd = (int)i;
			sqe->flags |= IOSQE_FIXED_FILE;
			return;
		}
}

static int watch_arm(struct iowatch *w)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(w->t);

	if (!sqe)
		return -EBUSY;
	if (w->multishot)
		io_uring_prep_poll_multishot(sqe, w->fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, w->fd, POLLIN);
	iothread_fixed_file(w->t, sqe);
	io_uring_sqe_set_data(sqe, &w->op);
	return 0;
}

static void watch_complete(struct io_op *op, int res, uint32_t flags)
{
	struct iowatch *w = (struct iowatch *)((char *)op - offsetof(struct iowatch, op));
	uint64_t count;

	if (res == -EINVAL && w->multishot) {
		/* Kernels before 5.13 refuse IORING_POLL_ADD_MULTI. */
		w->multishot = false;
		if (watch_arm(w))
			fprintf(stderr, "kite: %s: cannot arm the poll of fd %d\n", w->t->name,
				w->fd);
		return;
	}
	if (res < 0) {
		/* -ECANCELED: the ring or task is going away. Anything else
		 * (a closed fd) would fail again at once: do not spin on it. */
		if (res != -ECANCELED)
			fprintf(stderr, "kite: %s: poll of fd %d failed: %s\n", w->t->name, w->fd,
				strerror(-res));
		return;
	}
	/* No F_MORE: a one-shot poll, or the kernel ended the multishot one
	 * (e.g. the CQ overflowed). Re-arm before draining so no kick is lost. */
	if (!(flags & IORING_CQE_F_MORE) && watch_arm(w))
		fprintf(stderr, "kite: %s: cannot re-arm the poll of fd %d\n", w->t->name, w->fd);
	/* Drain first: a kick after this read makes the fd readable again and
	 * fires the poll once more, so none is lost and none accumulates. */
	if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		fprintf(stderr, "kite: %s: read of eventfd %d: %s\n", w->t->name, w->fd,
			strerror(errno));
	w->user->complete(w->user, res, flags);
}

static int watch_add(struct iothread *t, int fd, struct io_op *op)
{
	struct iowatch *w;
	int fl, r;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return err_sys(errno, "%s: eventfd %d", t->name, fd);
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(ENOMEM, "%s: out of memory", t->name);
	w->op.complete = watch_complete;
	w->t = t;
	w->user = op;
	w->fd = fd;
	w->multishot = !t->oneshot_polls;
	r = watch_arm(w);
	if (r) {
		free(w);
		return err_set(-r, "%s: submission queue full (%u entries)", t->name,
			       t->ring.sq.ring_entries);
	}
	w->next = t->watches;
	t->watches = w;
	return 0;
}

struct call_watch {
	struct iothread *t;
	int fd;
	struct io_op *op;
	int ret;
};

static void call_watch_fn(void *opaque)
{
	struct call_watch *c = opaque;

	c->ret = watch_add(c->t, c->fd, c->op);
}

int iothread_watch_eventfd(struct iothread *t, int fd, struct io_op *op)
{
	struct call_watch c = { t, fd, op, 0 };
	int r;

	if (may_touch_ring(t)) {
		r = iothread_register_file(t, fd);
		return r ? r : watch_add(t, fd, op);
	}
	r = iothread_call(t, call_watch_fn, &c);
	return r ? err_set(-r, "%s: thread is not running", t->name) : c.ret;
}

static int hook_add(struct iothread *t, iothread_hook_fn fn, void *opaque, bool idle)
{
	struct iohook *h = realloc(t->hooks, (t->nhooks + 1) * sizeof(*h));

	if (!h)
		return err_set(ENOMEM, "%s: out of memory", t->name);
	h[t->nhooks].fn = fn;
	h[t->nhooks].opaque = opaque;
	h[t->nhooks].idle = idle;
	t->hooks = h;
	t->nhooks++;
	return 0;
}

struct call_hook {
	struct iothread *t;
	iothread_hook_fn fn;
	void *opaque;
	bool idle;
	int ret;
};

static void call_hook_fn(void *opaque)
{
	struct call_hook *c = opaque;

	c->ret = hook_add(c->t, c->fn, c->opaque, c->idle);
}

static int add_hook(struct iothread *t, iothread_hook_fn fn, void *opaque, bool idle)
{
	struct call_hook c = { t, fn, opaque, idle, 0 };
	int r;

	if (may_touch_ring(t))
		return hook_add(t, fn, opaque, idle);
	r = iothread_call(t, call_hook_fn, &c);
	return r ? err_set(-r, "%s: thread is not running", t->name) : c.ret;
}

int iothread_add_batch_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	return add_hook(t, fn, opaque, false);
}

int iothread_add_idle_hook(struct iothread *t, iothread_hook_fn fn, void *opaque)
{
	return add_hook(t, fn, opaque, true);
}

bool iothread_polling(void)
{
	return polling_now;
}

int iothread_call(struct iothread *t, void (*fn)(void *opaque), void *opaque)
{
	uint64_t one = 1;

	if (may_touch_ring(t)) {
		fn(opaque);
		return 0;
	}
	pthread_mutex_lock(&t->lock);
	while (t->call_fn && !t->dead)	/* another caller's turn */
		pthread_cond_wait(&t->cond, &t->lock);
	if (t->dead) {
		pthread_mutex_unlock(&t->lock);
		return -EIO;
	}
	t->call_fn = fn;
	t->call_arg = opaque;
	t->call_done = false;
	if (write(t->ctl_fd, &one, sizeof(one)) != sizeof(one))
		t->dead = true;	/* cannot happen with a valid eventfd */
	while (!t->call_done && !t->dead)
		pthread_cond_wait(&t->cond, &t->lock);
	t->call_fn = NULL;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return t->call_done ? 0 : -EIO;
}

/* The control eventfd fired: a stop, a call, or both. */
static void ctl_complete(struct io_op *op, int res, uint32_t flags)
{
	struct iothread *t = (struct iothread *)((char *)op - offsetof(struct iothread, ctl_op));
	void (*fn)(void *) = NULL;
	void *arg = NULL;

	(void)res;
	(void)flags;
	pthread_mutex_lock(&t->lock);
	if (t->call_fn && !t->call_done) {
		fn = t->call_fn;
		arg = t->call_arg;
	}
	pthread_mutex_unlock(&t->lock);
	if (fn) {
		fn(arg);
		pthread_mutex_lock(&t->lock);
		t->call_done = true;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
	}
	if (atomic_load(&t->stop))
		t->stopping = true;
}

/* Dispatch every CQE in the ring, then release them all at once. */
static unsigned reap(struct iothread *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&t->ring, head, cqe) {
		struct io_op *op = io_uring_cqe_get_data(cqe);

		n++;
		if (op)
			op->complete(op, cqe->res, cqe->flags);
	}
	if (n)
		io_uring_cq_advance(&t->ring, n);
	return n;
}

static bool run_hooks(struct iothread *t, bool idle)
{
	bool work = false;
	unsigned i;

	for (i = 0; i < t->nhooks; i++)
		if (t->hooks[i].idle == idle)
			work |= t->hooks[i].fn(t->hooks[i].opaque);
	return work;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Before sleeping, spin on hooks and the CQ while they keep finding work:
 * a device that polls its rings then needs no guest kick (no VM exit). */
static void poll_for_work(struct iothread *t)
{
	uint64_t budget = (uint64_t)t->poll_us * 1000, deadline = now_ns() + budget;
	struct io_uring_cqe *cqe;

	polling_now = true;
	while (!t->stopping) {
		bool work = false;
		uint64_t now;

		if (io_uring_sq_ready(&t->ring))
			io_uring_submit(&t->ring);
		/* peek enters the kernel only when task work is pending
		 * (IORING_SQ_TASKRUN), so an idle round costs no syscall. */
		if (io_uring_peek_cqe(&t->ring, &cqe) == 0 && reap(t))
			work = true;
		work |= run_hooks(t, false);
		now = now_ns();
		if (work) {
			deadline = now + budget;
			continue;
		}
		if (now < deadline)
			continue;
		/* The window is over: devices turn guest kicks back on. One
		 * that finds work arrived meanwhile keeps us polling. */
		polling_now = false;
		if (!run_hooks(t, true))
			break;
		polling_now = true;
		deadline = now_ns() + budget;
	}
	polling_now = false;
}

static void mark_dead(struct iothread *t)
{
	pthread_mutex_lock(&t->lock);
	t->dead = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	int r;

	current_iothread = t;
	if (t->disabled) {
		/* Enabling here makes this thread the ring's single issuer.
		 * Raw syscall: liburing 2.3 declares io_uring_enable_rings but
		 * does not export it. */
		r = (int)syscall(__NR_io_uring_register, t->ring.ring_fd,
				 IORING_REGISTER_ENABLE_RINGS, NULL, 0);
		if (r < 0)
			r = -errno;
		if (r < 0) {
			fprintf(stderr, "kite: %s: cannot enable io_uring: %s\n", t->name,
				strerror(-r));
			mark_dead(t);
			return NULL;
		}
	}
	/* After the enable: the filter need not allow io_uring_register.
	 * The name first: iothread_start sets it too, maybe only later, and
	 * the filter's kill message names the thread. */
	pthread_setname_np(pthread_self(), t->name);
	seccomp_enter(SECCOMP_IO);
	while (!t->stopping) {
		r = io_uring_submit_and_wait(&t->ring, 1);
		/* EINTR: a signal; EAGAIN/EBUSY: the CQ is backed up, which the
		 * reap below relieves. Anything else means the ring is unusable. */
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
			fprintf(stderr, "kite: %s: io_uring_enter: %s; I/O thread stops\n",
				t->name, strerror(-r));
			break;
		}
		reap(t);
		run_hooks(t, false);
		if (t->poll_us)
			poll_for_work(t);
	}
	mark_dead(t);
	return NULL;
}

static int ring_init(struct iothread *t, unsigned entries)
{
	/* Best first; each older kernel refuses the newer flags with EINVAL. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED |
			IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	unsigned i;
	int r = -EINVAL;

	for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 2;
		r = io_uring_queue_init_params(entries, &t->ring, &p);
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return err_sys(-r, "%s: cannot create io_uring", t->name);
	t->disabled = flag_sets[i] & IORING_SETUP_R_DISABLED;
	/* A table for the fds the devices will name (iothread_register_file);
	 * without one (kernels before 5.19) SQEs use plain fds. */
	t->files_ok = io_uring_register_files_sparse(&t->ring, IOTHREAD_MAX_FILES) == 0;
	/* Only the opcodes devices use; a ring must still be disabled to
	 * take restrictions (older kernels: none). */
	if (t->disabled && (r = uring_restrict(&t->ring)) < 0) {
		io_uring_queue_exit(&t->ring);
		return err_sys(-r, "%s: cannot restrict io_uring", t->name);
	}
	return 0;
}

static int numa_cpus(struct iothread *t, int node)
{
	struct bitmask *bm;
	int cpu, r = 0;

	if (numa_available() < 0)
		return err_set(ENODEV, "%s: NUMA node %d: NUMA is not available on this host",
			       t->name, node);
	if (node > numa_max_node())
		return err_set(EINVAL, "%s: NUMA node %d: no such node (the host has 0 to %d)",
			       t->name, node, numa_max_node());
	bm = numa_allocate_cpumask();
	if (!bm)
		return err_set(ENOMEM, "%s: out of memory", t->name);
	CPU_ZERO(&t->cpus);
	if (numa_node_to_cpus(node, bm) < 0) {
		r = err_sys(errno, "%s: NUMA node %d: cannot read its CPUs", t->name, node);
	} else {
		for (cpu = 0; cpu < CPU_SETSIZE && (unsigned)cpu < bm->size; cpu++)
			if (numa_bitmask_isbitset(bm, cpu))
				CPU_SET(cpu, &t->cpus);
		if (!CPU_COUNT(&t->cpus))
			r = err_set(EINVAL, "%s: NUMA node %d has no CPUs", t->name, node);
	}
	numa_free_cpumask(bm);
	t->pin = !r;
	return r;
}

static void iothread_free(struct iothread *t)
{
	struct iowatch *w;

	while ((w = t->watches)) {
		t->watches = w->next;
		free(w);
	}
	free(t->hooks);
	if (t->ctl_fd >= 0)
		close(t->ctl_fd);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int iothread_create(struct iothread **out, const struct iothread_opts *o)
{
	unsigned entries = o->entries ? o->entries : IOTHREAD_DEFAULT_ENTRIES;
	struct iothread *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return err_set(ENOMEM, "I/O thread: out of memory");
	snprintf(t->name, sizeof(t->name), "%s", o->name ? o->name : "kite-io");
	t->poll_us = o->poll_us;
	t->oneshot_polls = o->oneshot_polls;
	t->ctl_op.complete = ctl_complete;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->ctl_fd < 0) {
		r = err_sys(errno, "%s: eventfd", t->name);
		goto fail;
	}
	if (o->numa_node >= 0) {
		r = numa_cpus(t, o->numa_node);
		if (r)
			goto fail;
	}
	r = ring_init(t, entries);
	if (r)
		goto fail;
	r = watch_add(t, t->ctl_fd, &t->ctl_op);
	if (r) {
		io_uring_queue_exit(&t->ring);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	iothread_free(t);
	return r;
}

int iothread_start(struct iothread *t)
{
	pthread_attr_t attr;
	int r;

	if (t->started || t->dead)
		return err_set(EINVAL, "%s: already started", t->name);
	pthread_attr_init(&attr);
	/* Pin from birth so the thread never runs (or allocates) off-node. */
	if (t->pin && (r = pthread_attr_setaffinity_np(&attr, sizeof(t->cpus), &t->cpus))) {
		pthread_attr_destroy(&attr);
		return err_sys(r, "%s: cannot pin to its NUMA node", t->name);
	}
	t->started = true;
	r = pthread_create(&t->thread, &attr, iothread_main, t);
	pthread_attr_destroy(&attr);
	if (r) {
		t->started = false;
		return err_sys(r, "%s: cannot create thread", t->name);
	}
	pthread_setname_np(t->thread, t->name);
	return 0;
}

void iothread_stop(struct iothread *t)
{
	uint64_t one = 1;

	if (!t->started)
		return;
	atomic_store(&t->stop, true);
	if (write(t->ctl_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "kite: %s: cannot signal stop: %s\n", t->name, strerror(errno));
	pthread_join(t->thread, NULL);
	t->started = false;
	t->dead = true;
}

void iothread_destroy(struct iothread *t)
{
	if (!t)
		return;
	iothread_stop(t);
	io_uring_queue_exit(&t->ring);
	iothread_free(t);
}

int iothread_group_create(struct iothread_group *g, unsigned n, const char *prefix,
			  int numa_node, unsigned poll_us)
{
	g->n = 0;
	g->threads = calloc(n, sizeof(*g->threads));
	if (!g->threads)
		return err_set(ENOMEM, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		char name[40];
		struct iothread_opts o = {
			.name = name, .numa_node = numa_node, .poll_us = poll_us,
		};
		int r;

		snprintf(name, sizeof(name), "%s.%u", prefix, i);
		r = iothread_create(&g->threads[i], &o);
		if (r)
			return r;
		g->n++;
	}
	return 0;
}

int iothread_group_register_file(struct iothread_group *g, int fd)
{
	for (unsigned i = 0; i < g->n; i++) {
		int r = iothread_register_file(g->threads[i], fd);

		if (r)
			return r;
	}
	return 0;
}

int iothread_group_start(struct iothread_group *g)
{
	for (unsigned i = 0; i < g->n; i++) {
		int r = iothread_start(g->threads[i]);

		if (r)
			return r;
	}
	return 0;
}

void iothread_group_stop(struct iothread_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		iothread_stop(g->threads[i]);
}

void iothread_group_destroy(struct iothread_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		iothread_destroy(g->threads[i]);
	free(g->threads);
	g->threads = NULL;
	g->n = 0;
}
