// SPDX-License-Identifier: Apache-2.0
/*
 * Live migration, both ends for real over loopback TCP, with a fake VM on
 * each side: the source's memory changes between iterations as a guest's
 * would; a proxy in the middle cuts or corrupts the stream. After every
 * failure the source VM must be as before (running, its locks held) and
 * the destination must have refused with a reason.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/state_util.h"
#include "vmm/dirty.h"
#include "vmm/err.h"
#include "vmm/migrate.h"
#include "vmm/state.h"

#define R0_PAGES	256
#define R1_PAGES	16
#define R1_GPA		(4ULL << 30)

static struct split_ram src, dst;
static void *tree;
static size_t tree_len;

/* The source VM's fake. */
static int log_started, log_stopped, takes, paused, unpaused, released, reclaimed, done;
static bool always_dirty;	/* every take finds pages dirty: never converges */

/* The destination's. */
static int dst_take_over_err, dst_apply_err, applied;
static uint64_t dst_mem_size_delta;

static int s_log_start(void *vm) { (void)vm; log_started++; return 0; }
static void s_log_stop(void *vm) { (void)vm; log_stopped++; }

/* The "guest" writes between iterations: take 1 finds pages 5..9 of
 * region 0 and page 3 of region 1 changed; later takes find nothing new
 * (or page 7 again, with always_dirty). */
static int s_log_take(void *vm, unsigned region, uint64_t *bm)
{
	(void)vm;
	if (region == 0)
		takes++;
	if (takes == 1 || always_dirty) {
		if (region == 0)
			for (unsigned p = 5; p < 10; p++) {
				memset(src.ram + p * 4096, 0x40 + takes, 4096);
				bm[p / 64] |= 1ULL << (p % 64);
			}
		if (region == 1) {
			memset(src.ram + (R0_PAGES + 3) * 4096, 0x99, 4096);
			bm[0] |= 1ULL << 3;
		}
	}
	/* A page that became zero must arrive as zero. */
	if (takes == 1 && region == 0) {
		memset(src.ram + 20 * 4096, 0, 4096);
		bm[0] |= 1ULL << 20;
	}
	return 0;
}

static int s_pause(void *vm) { (void)vm; paused++; return 0; }
static void s_unpause(void *vm) { (void)vm; unpaused++; }

static void fill_shape(const struct guest_mem *m, struct snap_shape *s)
{
	memset(s, 0, sizeof(*s));
	snapshot_shape_mem(s, m);
	s->ncpus = 2;
	s->ndevices = 1;
	strcpy(s->devices[0].kind, "virtio-blk");
	strcpy(s->devices[0].opts, "slot=1 type=2 queues=2");
}

static int s_shape(void *vm, struct snap_shape *s) { (void)vm; fill_shape(&src.mem, s); return 0; }

static int s_tree(void *vm, void **blob, size_t *len)
{
	(void)vm;
	*blob = malloc(tree_len);
	memcpy(*blob, tree, tree_len);
	*len = tree_len;
	return 0;
}

static int s_release(void *vm) { (void)vm; released++; return 0; }
static void s_reclaim(void *vm) { (void)vm; reclaimed++; }
static void s_done(void *vm) { (void)vm; done++; }

static const struct migrate_src_ops sops = {
	.log_start = s_log_start, .log_stop = s_log_stop, .log_take = s_log_take,
	.pause = s_pause, .unpause = s_unpause, .shape = s_shape, .tree = s_tree,
	.release = s_release, .reclaim = s_reclaim, .done = s_done,	/* no flush */
};

static int d_shape(void *vm, struct snap_shape *s)
{
	(void)vm;
	fill_shape(&dst.mem, s);
	s->mem_size += dst_mem_size_delta;
	return 0;
}

static int d_apply(void *vm, const void *t, size_t len)
{
	(void)vm;
	if (dst_apply_err)
		return err_set(dst_apply_err, "cpu@1: KVM_SET_REGS: Invalid argument");
	ck_assert_uint_eq(len, tree_len);
	ck_assert_mem_eq(t, tree, len);
	applied++;
	return 0;
}

static int d_take_over(void *vm)
{
	(void)vm;
	return dst_take_over_err ? err_set(dst_take_over_err, "--disk path=x.img: image is in "
					   "use by another process (lock held)") : 0;
}

static const struct migrate_dst_ops dops = { d_shape, d_apply, d_take_over };

/* ---- the destination's thread, and a proxy that can break things ---- */

static int listen_any(unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int dst_lfd, dst_result;
static char dst_error[512];

static void *dst_thread(void *arg)
{
	int fd = accept(dst_lfd, NULL, NULL);

	(void)arg;
	dst_result = migrate_receive_fd(fd, &dops, NULL, &dst.mem);
	snprintf(dst_error, sizeof(dst_error), "%s", dst_result ? err_msg() : "");
	close(fd);
	return NULL;
}

static int proxy_lfd;
static long long cut_at = -1, flip_at = -1;	/* source -> destination byte offsets */
static unsigned dst_port;

static void *proxy_thread(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(dst_port) };
	int a = accept(proxy_lfd, NULL, NULL), b = socket(AF_INET, SOCK_STREAM, 0);
	long long fwd = 0;
	uint8_t buf[65536];

	(void)arg;
	ck_assert_int_eq(connect(b, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (;;) {
		struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 5000) <= 0)
			break;
		if (p[0].revents) {
			n = read(a, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (cut_at >= 0 && fwd + n > cut_at)
				n = cut_at - fwd;
			if (flip_at >= fwd && flip_at < fwd + n)
				buf[flip_at - fwd] ^= 0x10;
			if (n > 0 && write(b, buf, n) != n)
				break;
			fwd += n;
			if (cut_at >= 0 && fwd >= cut_at)
				break;
		}
		if (p[1].revents) {
			n = read(b, buf, sizeof(buf));
			if (n <= 0 || write(a, buf, n) != n)
				break;
		}
	}
	close(a);
	close(b);
	return NULL;
}

static void setup(void)
{
	struct state_tree st;

	signal(SIGPIPE, SIG_IGN);
	split_ram_init(&src, R0_PAGES * 4096ULL, R1_GPA, R1_PAGES * 4096ULL);
	split_ram_init(&dst, R0_PAGES * 4096ULL, R1_GPA, R1_PAGES * 4096ULL);
	for (unsigned p = 0; p < R0_PAGES; p++)
		if (p % 4 == 0 || p == 20)
			memset(src.ram + p * 4096, (int)p + 1, 4096);
	memset(src.ram + (R0_PAGES + 1) * 4096, 0x5a, 4096);
	/* The destination's memory is not always clean (a page sent, then
	 * found zero later): garbage where the source has zeros. */
	memset(dst.ram + 21 * 4096, 0xee, 4096);
	ck_assert_int_eq(state_begin(&st), 0);
	state_put_u32(&st, state_add_node(&st, 0, "dev@0"), "x", 77);
	tree = state_copy(&st, &tree_len);
	state_free(&st);
	log_started = log_stopped = takes = paused = unpaused = released = reclaimed = done = 0;
	dst_take_over_err = dst_apply_err = applied = 0;
	dst_mem_size_delta = 0;
	always_dirty = false;
	cut_at = flip_at = -1;
	dst_lfd = listen_any(&dst_port);
	dst_result = 1;
}

static void teardown(void)
{
	close(dst_lfd);
	free(src.ram);
	free(dst.ram);
	free(tree);
}

/* Poll until the migration has ended (neither active nor completing),
 * at most `tries` times 10 ms; *st is the last status seen. */
static void wait_end(struct migration *m, struct migrate_status *st, int tries)
{
	for (int i = 0; i < tries; i++) {
		migration_status(m, st);
		if (st->state != MIG_ACTIVE && st->state != MIG_COMPLETING)
			return;
		usleep(10000);
	}
}

/* Run one migration (through the proxy if `via_proxy`) to its end. */
static void migrate(bool via_proxy, const struct migrate_params *extra, struct migrate_status *st)
{
	struct migrate_params p = { .host = "127.0.0.1", .port = dst_port };
	struct migration *m;
	pthread_t d, px;

	if (extra)
		p = *extra;
	strcpy(p.host, "127.0.0.1");
	p.port = dst_port;
	ck_assert_int_eq(pthread_create(&d, NULL, dst_thread, NULL), 0);
	if (via_proxy) {
		proxy_lfd = listen_any(&p.port);
		ck_assert_int_eq(pthread_create(&px, NULL, proxy_thread, NULL), 0);
	}
	ck_assert_int_eq(migration_create(&m, &sops, NULL, &src.mem), 0);
	ck_assert_int_eq(migration_start(m, &p), 0);
	wait_end(m, st, 1000);
	migration_destroy(m);
	pthread_join(d, NULL);
	if (via_proxy) {
		pthread_join(px, NULL);
		close(proxy_lfd);
	}
}

START_TEST(whole_vm_arrives)
{
	struct migrate_status st;

	migrate(false, NULL, &st);
	ck_assert_msg(st.state == MIG_COMPLETED, "%s / %s", st.error, dst_error);
	ck_assert_int_eq(dst_result, 0);
	ck_assert_int_eq(memcmp(dst.ram, src.ram, dst.mem.size), 0);
	ck_assert_int_eq(applied, 1);
	ck_assert_int_eq(done, 1);
	ck_assert_int_eq(released, 1);
	ck_assert_int_eq(reclaimed, 0);
	ck_assert_int_eq(paused, 1);
	ck_assert_int_eq(unpaused, 0);	/* the source's VM ends, paused */
	ck_assert_int_eq(log_started, 1);
	ck_assert_int_eq(log_stopped, 1);
	ck_assert_uint_ge(st.iteration, 2);	/* pages changed during iteration 1 */
	ck_assert_uint_eq(st.ram_total, src.mem.size);
	ck_assert_uint_eq(st.ram_remaining, 0);
	/* Zero pages went as bits: far fewer bytes than the RAM. */
	ck_assert_uint_lt(st.bytes_sent, src.mem.size / 2);
	ck_assert_uint_gt(st.bandwidth, 0);
}
END_TEST

START_TEST(iteration_cap_forces_the_end)
{
	struct migrate_params p = { .max_iterations = 3, .max_downtime_ms = 0 };
	struct migrate_status st;

	always_dirty = true;
	migrate(false, &p, &st);
	ck_assert_msg(st.state == MIG_COMPLETED, "%s", st.error);
	ck_assert_int_eq(memcmp(dst.ram, src.ram, dst.mem.size), 0);
}
END_TEST

START_TEST(shape_mismatch_refused)
{
	struct migrate_status st;

	dst_mem_size_delta = 1 << 20;
	migrate(false, NULL, &st);
	ck_assert_int_eq(st.state, MIG_FAILED);
	ck_assert_msg(strstr(st.error, "the destination refused: the stream does not match this "
			     "VM: memory size differs"), "%s", st.error);
	ck_assert_int_lt(dst_result, 0);
	ck_assert_ptr_nonnull(strstr(dst_error, "memory size differs"));
	ck_assert_int_eq(paused, 0);
	ck_assert_int_eq(log_started, 0);
	ck_assert_int_eq(done, 0);
}
END_TEST

START_TEST(apply_failure_resumes_source)
{
	struct migrate_status st;

	dst_apply_err = EINVAL;
	migrate(false, NULL, &st);
	ck_assert_int_eq(st.state, MIG_FAILED);
	ck_assert_msg(strstr(st.error, "cannot apply the state: cpu@1"), "%s", st.error);
	ck_assert_int_eq(paused, 1);
	ck_assert_int_eq(unpaused, 1);
	ck_assert_int_eq(released, 0);
	ck_assert_int_eq(log_stopped, 1);
	ck_assert_int_eq(done, 0);
}
END_TEST

START_TEST(lock_refused_source_takes_it_back)
{
	struct migrate_status st;

	dst_take_over_err = EBUSY;
	migrate(false, NULL, &st);
	ck_assert_int_eq(st.state, MIG_FAILED);
	ck_assert_msg(strstr(st.error, "lock held"), "%s", st.error);
	ck_assert_int_eq(released, 1);
	ck_assert_int_eq(reclaimed, 1);
	ck_assert_int_eq(unpaused, 1);
	ck_assert_int_eq(done, 0);
	ck_assert_int_lt(dst_result, 0);
}
END_TEST

START_TEST(cut_anywhere_leaves_source_running)
{
	/* In the header, in the first PAGE, deep in RAM, near the end. */
	static const long long cuts[] = { 10, 200, 5000, 150000, 200000 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct migrate_status st;

		teardown();
		setup();
		cut_at = cuts[i];
		migrate(true, NULL, &st);
		ck_assert_msg(st.state == MIG_FAILED, "cut %lld: state %s", cuts[i],
			      migrate_state_name(st.state));
		ck_assert_msg(dst_result < 0, "cut %lld: the destination accepted", cuts[i]);
		ck_assert_int_eq(done, 0);
		ck_assert_int_eq(paused, unpaused);
		ck_assert_int_eq(applied, 0);
		ck_assert_int_eq(log_started, log_stopped);
	}
}
END_TEST

START_TEST(corrupt_byte_refused)
{
	/* The header's checksum, a PAGE section's meta, page data. */
	static const long long flips[] = { 20, 100 + 16 + 4, 100 + 16 + 16 + 128 + 100 };

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		struct migrate_status st;

		teardown();
		setup();
		flip_at = flips[i];
		migrate(true, NULL, &st);
		ck_assert_msg(st.state == MIG_FAILED, "flip %lld", flips[i]);
		ck_assert_msg(dst_result < 0, "flip %lld: the destination accepted", flips[i]);
		ck_assert_msg(strstr(dst_error, "corrupt") || strstr(dst_error, "malformed") ||
			      strstr(dst_error, "PAGE section"), "flip %lld: %s", flips[i],
			      dst_error);
		ck_assert_int_eq(done, 0);
		ck_assert_int_eq(paused, unpaused);
		ck_assert_int_eq(applied, 0);
	}
}
END_TEST

START_TEST(cancel_and_timeout)
{
	struct migrate_params p = { .max_iterations = 100000000, .max_downtime_ms = 0 };
	struct migration *m;
	struct migrate_status st;
	pthread_t d;

	always_dirty = true;	/* never converges: runs until cancelled */
	strcpy(p.host, "127.0.0.1");
	p.port = dst_port;
	ck_assert_int_eq(pthread_create(&d, NULL, dst_thread, NULL), 0);
	ck_assert_int_eq(migration_create(&m, &sops, NULL, &src.mem), 0);
	ck_assert_int_eq(migration_cancel(m), -EINVAL);	/* nothing running */
	ck_assert_int_eq(migration_start(m, &p), 0);
	ck_assert_int_eq(migration_start(m, &p), -EBUSY);
	usleep(50000);
	ck_assert_int_eq(migration_cancel(m), 0);
	wait_end(m, &st, 500);
	ck_assert_int_eq(st.state, MIG_CANCELLED);
	ck_assert_str_eq(st.error, "migration cancelled");
	pthread_join(d, NULL);
	ck_assert_int_lt(dst_result, 0);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(paused, unpaused);
	ck_assert_int_eq(log_started, log_stopped);
	/* Again, with a timeout instead. */
	p.timeout_s = 1;
	ck_assert_int_eq(pthread_create(&d, NULL, dst_thread, NULL), 0);
	ck_assert_int_eq(migration_start(m, &p), 0);
	wait_end(m, &st, 500);
	ck_assert_int_eq(st.state, MIG_FAILED);
	ck_assert_ptr_nonnull(strstr(st.error, "within --timeout 1 s"));
	pthread_join(d, NULL);
	migration_destroy(m);
}
END_TEST

START_TEST(nobody_listening)
{
	struct migrate_params p = { .port = 1 };
	struct migration *m;
	struct migrate_status st;

	strcpy(p.host, "127.0.0.1");
	ck_assert_int_eq(migration_create(&m, &sops, NULL, &src.mem), 0);
	ck_assert_int_eq(migration_start(m, &p), 0);
	wait_end(m, &st, 500);
	ck_assert_int_eq(st.state, MIG_FAILED);
	ck_assert_ptr_nonnull(strstr(st.error, "cannot connect to 127.0.0.1 port 1"));
	strcpy(p.host, "localhost");
	ck_assert_int_eq(migration_start(m, &p), 0);
	wait_end(m, &st, 500);
	ck_assert_ptr_nonnull(strstr(st.error, "localhost is not an IP address"));
	migration_destroy(m);
	ck_assert_int_eq(log_started, 0);
}
END_TEST

START_TEST(kites_own_writes_logged)
{
	uint64_t bm[R0_PAGES / 64] = { 0 }, bm1[1] = { 0 }, odd[1] = { 0 };
	struct iovec iov[2] = { { src.ram + 30 * 4096, 1 }, { src.ram + 40 * 4096 + 10, 0 } };
	uint8_t outside[16];

	dirty_mark(src.ram + 3 * 4096, 1);		/* no log yet: nothing */
	ck_assert_int_eq(dirty_log_start(&src.mem), 0);
	dirty_mark(src.ram + 10 * 4096 + 4000, 200);	/* spans pages 10 and 11 */
	dirty_mark(outside, sizeof(outside));		/* not guest RAM: ignored */
	dirty_mark(src.ram + (R0_PAGES + 2) * 4096, 4096);
	dirty_mark_iov(iov, 2);				/* page 30; an empty buffer */
	dirty_mark(src.ram + 70 * 4096, 1);
	ck_assert_uint_eq(dirty_log_take(65, 10, odd), 1);	/* page 70, unaligned */
	ck_assert_uint_eq(odd[0], 1ULL << 5);
	ck_assert_uint_eq(dirty_log_take(0, R0_PAGES, bm), 3);
	ck_assert_uint_eq(bm[0], (1ULL << 10) | (1ULL << 11) | (1ULL << 30));
	ck_assert_uint_eq(bm[1], 0);			/* page 70 was taken already */
	ck_assert_uint_eq(dirty_log_take(R0_PAGES, R1_PAGES, bm1), 1);
	ck_assert_uint_eq(bm1[0], 1ULL << 2);
	ck_assert_uint_eq(dirty_log_take(0, R0_PAGES, bm), 0);	/* taken means cleared */
	dirty_log_stop();
	dirty_mark(src.ram + 3 * 4096, 1);
	ck_assert_uint_eq(dirty_log_take(0, R0_PAGES, bm), 0);
	dirty_log_free();
}
END_TEST

static void *send_term(void *arg)
{
	usleep(100000);
	/* To the waiting thread: check's own threads do not block SIGTERM,
	 * as every kite thread does, so a process-wide one could land there. */
	pthread_kill(*(pthread_t *)arg, SIGTERM);
	return NULL;
}

START_TEST(incoming_wait_ends_on_a_stop_signal)
{
	sigset_t set, old;
	pthread_t th, self = pthread_self();
	char ep[48];
	unsigned port;
	int r;

	/* A port free a moment ago. */
	close(listen_any(&port));
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%u", port);
	/* As in kite: the stop signals are blocked in every thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ck_assert_int_eq(pthread_create(&th, NULL, send_term, &self), 0);
	r = migrate_incoming(ep, &dops, NULL, &dst.mem, false);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ck_assert_int_eq(r, -EINTR);
	ck_assert_int_eq(migrate_stop_signal, SIGTERM);
	ck_assert_ptr_nonnull(strstr(err_msg(), "stopped by Terminated while waiting"));
	/* A bad endpoint is refused before any wait. */
	ck_assert_int_eq(migrate_incoming("tcp:127.0.0.1", &dops, NULL, &dst.mem, false),
			 -EINVAL);
}
END_TEST

Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("loopback");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, whole_vm_arrives);
	tcase_add_test(tc, iteration_cap_forces_the_end);
	tcase_add_test(tc, shape_mismatch_refused);
	tcase_add_test(tc, apply_failure_resumes_source);
	tcase_add_test(tc, lock_refused_source_takes_it_back);
	tcase_add_test(tc, cut_anywhere_leaves_source_running);
	tcase_add_test(tc, corrupt_byte_refused);
	tcase_add_test(tc, cancel_and_timeout);
	tcase_add_test(tc, nobody_listening);
	tcase_add_test(tc, kites_own_writes_logged);
	tcase_add_test(tc, incoming_wait_ends_on_a_stop_signal);
	suite_add_tcase(s, tc);
	return s;
}
