// SPDX-License-Identifier: Apache-2.0
/*
 * The I/O thread under its syscall filter, in a child (seccomp_child.h):
 * it does disk I/O, eventfd kicks, NOPs and tap I/O through its ring, and
 * the calls devices make on it; a socket there kills. And io_uring's own
 * restrictions on the rings (uring_restrict.h).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/seccomp_child.h"
#include "virtio/disk.h"
#include "virtio/tap.h"
#include "vmm/iothread.h"
#include "vmm/seccomp.h"
#include "vmm/uring_restrict.h"

static bool root_with_tun(void)
{
	return geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0;
}

/* ---- the I/O thread's work ---- */

struct op {
	struct io_op io;
	atomic_int done;
	int res;
};

static void op_done(struct io_op *io, int res, uint32_t flags)
{
	struct op *o = (struct op *)io;

	(void)flags;
	o->res = res;
	atomic_fetch_add(&o->done, 1);
}

static void op_init(struct op *o)
{
	memset(o, 0, sizeof(*o));
	o->io.complete = op_done;
}

static struct iothread *io_thread;
static struct disk io_disk;
static char disk_path[64];
static uint8_t *wbuf, *rbuf;
static struct iovec wiov, riov, odd_iov;
static struct op w_op, r_op, odd_op, flush_op, zero_op, discard_op, nop_op, open_op;

static void prep_disk_write(void *arg)
{
	(void)arg;
	CHECK(disk_prep_writev(&io_disk, io_thread, &wiov, 1, 0, &w_op.io) == 0);
}

/* A flush, a read, a misaligned read (the page-cache fd), NOP, OPENAT. */
static void prep_disk_rest(void *arg)
{
	struct io_uring_sqe *sqe;

	(void)arg;
	CHECK(disk_prep_flush(&io_disk, io_thread, &flush_op.io) == 0);
	CHECK(disk_prep_readv(&io_disk, io_thread, &riov, 1, 0, &r_op.io) == 0);
	CHECK(disk_prep_readv(&io_disk, io_thread, &odd_iov, 1, 1, &odd_op.io) == 0);
	sqe = iothread_get_sqe(io_thread);
	CHECK(sqe);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, &nop_op.io);
	/* Last: a refused SQE ends the batch it is submitted in. */
	sqe = iothread_get_sqe(io_thread);
	CHECK(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	io_uring_sqe_set_data(sqe, &open_op.io);
}

static void prep_disk_holes(void *arg)
{
	(void)arg;
	if (io_disk.can_zero)
		CHECK(disk_prep_write_zeroes(&io_disk, io_thread, 0, 4096, &zero_op.io) == 0);
	if (io_disk.can_discard)
		CHECK(disk_prep_discard(&io_disk, io_thread, 4096, 4096, &discard_op.io) == 0);
}

/* The calls devices make on their I/O thread besides the ring. */
static void device_calls(void *arg)
{
	(void)arg;
	role_ioctls_pass(SECCOMP_IO);
	free(calloc(1, 1 << 20));	/* mmap, munmap */
}

static atomic_int kicks;
static struct io_op kick_op;

static void on_kick(struct io_op *op, int res, uint32_t flags)
{
	(void)op;
	(void)res;
	(void)flags;
	atomic_fetch_add(&kicks, 1);
}

static void io_disk_work(void)
{
	struct disk_opts o = { .path = disk_path, .cache = DISK_CACHE_NONE };
	int fd, kick_fd, late_fd;
	uint64_t one = 1;

	snprintf(disk_path, sizeof(disk_path), "/tmp/kite-test-seccomp-%d.img", (int)getpid());
	fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	CHECK(disk_open(&io_disk, &o) == 0);
	unlink(disk_path);
	wbuf = aligned_alloc(4096, 8192);
	rbuf = aligned_alloc(4096, 8192);
	CHECK(wbuf && rbuf);
	for (int i = 0; i < 4096; i++)
		wbuf[i] = (uint8_t)(i * 7 + 1);
	memset(rbuf, 0, 8192);
	wiov = (struct iovec){ wbuf, 4096 };
	riov = (struct iovec){ rbuf, 4096 };
	odd_iov = (struct iovec){ rbuf + 4096 + 1, 100 };
	op_init(&w_op);
	op_init(&r_op);
	op_init(&odd_op);
	op_init(&flush_op);
	op_init(&zero_op);
	op_init(&discard_op);
	op_init(&nop_op);
	op_init(&open_op);

	kick_fd = eventfd(0, EFD_CLOEXEC);
	late_fd = eventfd(0, EFD_CLOEXEC);
	CHECK(kick_fd >= 0 && late_fd >= 0);
	kick_op.complete = on_kick;
	CHECK(iothread_watch_eventfd(io_thread, kick_fd, &kick_op) == 0);
	CHECK(iothread_start(io_thread) == 0);
	sleep_ms(20);		/* the thread is filtered from here on */

	/* A watch added now runs on the thread itself (fcntl there). */
	CHECK(iothread_watch_eventfd(io_thread, late_fd, &kick_op) == 0);
	CHECK(write(kick_fd, &one, 8) == 8);
	CHECK(wait_for(&kicks, 1));
	CHECK(write(late_fd, &one, 8) == 8);
	CHECK(wait_for(&kicks, 2));

	CHECK(iothread_call(io_thread, prep_disk_write, NULL) == 0);
	CHECK(wait_for(&w_op.done, 1) && w_op.res == 4096);
	CHECK(iothread_call(io_thread, prep_disk_rest, NULL) == 0);
	CHECK(wait_for(&flush_op.done, 1) && flush_op.res == 0);
	CHECK(wait_for(&r_op.done, 1) && r_op.res == 4096);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	CHECK(wait_for(&odd_op.done, 1) && odd_op.res == 100);
	CHECK(!memcmp(rbuf + 4097, wbuf + 1, 100));
	CHECK(wait_for(&nop_op.done, 1) && nop_op.res == 0);
	CHECK(wait_for(&open_op.done, 1) && open_op.res == -EACCES);
	CHECK(iothread_call(io_thread, prep_disk_holes, NULL) == 0);
	if (io_disk.can_zero)
		CHECK(wait_for(&zero_op.done, 1) && zero_op.res == 0);
	if (io_disk.can_discard)
		CHECK(wait_for(&discard_op.done, 1) && discard_op.res == 0);
	CHECK(iothread_call(io_thread, device_calls, NULL) == 0);
	for (int i = 0; i < 50; i++)
		CHECK(write(kick_fd, &one, 8) == 8);
	CHECK(wait_for(&kicks, 3));
}

/* ---- the tap, in a network namespace of the child's own ---- */

static struct tap io_tap;
static uint8_t tx_frame[12 + 64], rx_buf[12 + 2048];
static struct iovec tx_iov, rx_iov;
static struct op tx_op, rx_op, poll_op, nl_op, cancel_seen;
static bool link_up_seen;
static int quiet_fd;
static atomic_int tap_calls;

/* The host's own frames (IPv6 neighbour discovery as the link comes up)
 * may arrive first: read on until ours did. */
static void rx_done(struct io_op *io, int res, uint32_t flags)
{
	(void)io;
	(void)flags;
	rx_op.res = res;
	if (res >= 12 + 14 + 12 && !memcmp(rx_buf + 12 + 14, "kite seccomp", 12))
		atomic_fetch_add(&rx_op.done, 1);
	else if (res >= 0)
		CHECK(tap_prep_readv(io_thread, io_tap.fds[0], &rx_iov, 1, &rx_op.io) == 0);
	else
		atomic_fetch_add(&rx_op.done, 1);
}

static void prep_tap_tx_rx(void *arg)
{
	(void)arg;
	CHECK(tap_prep_writev(io_thread, io_tap.fds[0], &tx_iov, 1, &tx_op.io, false) == 0);
	rx_op.io.complete = rx_done;
	CHECK(tap_prep_readv(io_thread, io_tap.fds[0], &rx_iov, 1, &rx_op.io) == 0);
	CHECK(tap_prep_poll(io_thread, io_tap.fds[0], POLLOUT, &poll_op.io) == 0);
	/* Nothing will come on this one: a wait to cancel. */
	CHECK(tap_prep_poll(io_thread, quiet_fd, POLLIN, &nl_op.io) == 0);
}

static void tap_thread_calls(void *arg)
{
	bool up;

	(void)arg;
	CHECK(tap_link_up(&io_tap, &up) == 0);
	link_up_seen = up;
	CHECK(tap_link_events(&io_tap, &up) >= 0);
	CHECK(tap_set_queue(&io_tap, 1, false) == 0);
	CHECK(tap_set_queue(&io_tap, 1, true) == 0);
	atomic_fetch_add(&tap_calls, 1);
}

static void cancel_nl(void *arg)
{
	(void)arg;
	CHECK(tap_prep_cancel(io_thread, &nl_op.io) == 0);
}

static void io_tap_work(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint8_t frame[64];
	int ps;

	/* The world side (this thread) stays unfiltered. */
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x6b\x00\x00\x00\x01", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	memcpy(frame + 14, "kite seccomp", 12);
	memset(tx_frame, 0, sizeof(tx_frame));
	memcpy(tx_frame + 12, frame, sizeof(frame));
	tx_iov = (struct iovec){ tx_frame, sizeof(tx_frame) };
	rx_iov = (struct iovec){ rx_buf, sizeof(rx_buf) };
	op_init(&tx_op);
	op_init(&rx_op);
	rx_op.io.complete = rx_done;
	op_init(&poll_op);
	op_init(&nl_op);
	op_init(&cancel_seen);

	CHECK(iothread_call(io_thread, prep_tap_tx_rx, NULL) == 0);
	CHECK(wait_for(&tx_op.done, 1) && tx_op.res == (int)sizeof(tx_frame));
	CHECK(wait_for(&poll_op.done, 1) && (poll_op.res & POLLOUT));
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	sll.sll_ifindex = io_tap.ifindex;
	CHECK(bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	/* Into the tap (queue 1 is detached: all to queue 0). */
	for (int i = 0; i < 50 && !atomic_load(&rx_op.done); i++) {
		CHECK(send(ps, frame, sizeof(frame), 0) == (ssize_t)sizeof(frame));
		sleep_ms(20);
	}
	CHECK(atomic_load(&rx_op.done) && rx_op.res >= 12 + 64);
	close(ps);
	CHECK(iothread_call(io_thread, tap_thread_calls, NULL) == 0);
	CHECK(atomic_load(&tap_calls) == 1 && link_up_seen);
	CHECK(iothread_call(io_thread, cancel_nl, NULL) == 0);
	CHECK(wait_for(&nl_op.done, 1) && nl_op.res == -ECANCELED);
}

static void io_role(void)
{
	struct iothread_opts io = { .name = "kite-sc-io", .numa_node = -1 };
	bool tap = root_with_tun();

	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	CHECK(iothread_create(&io_thread, &io) == 0);
	if (tap) {
		CHECK(unshare(CLONE_NEWNET) == 0);
		CHECK(tap_open(&io_tap, "ksc0", 2) == 0);
		CHECK(tap_set_vnet_hdr_size(&io_tap, 12) == 0);
		CHECK(system("ip link set ksc0 up") == 0);
		CHECK(tap_set_queue(&io_tap, 1, false) == 0);
		quiet_fd = eventfd(0, EFD_CLOEXEC);
		CHECK(quiet_fd >= 0);
	} else {
		fprintf(stderr, "seccomp: tap part skipped (needs root and /dev/net/tun)\n");
	}
	io_disk_work();
	if (tap)
		io_tap_work();
	iothread_stop(io_thread);
	iothread_destroy(io_thread);
	disk_close(&io_disk);
	if (tap)
		tap_close(&io_tap);
}

START_TEST(io_thread_does_its_work)
{
	struct child c;

	run_child(io_role, &c);
	expect_lived(&c);
}
END_TEST

static void io_socket(void *arg)
{
	(void)arg;
	socket(AF_INET, SOCK_STREAM, 0);
}

static void io_thread_then_socket(void)
{
	struct iothread_opts io = { .name = "kite-sc-io", .numa_node = -1 };

	CHECK(seccomp_configure(SECCOMP_KILL) == 0);
	CHECK(iothread_create(&io_thread, &io) == 0);
	CHECK(iothread_start(io_thread) == 0);
	iothread_call(io_thread, io_socket, NULL);
	sleep_ms(2000);
	fprintf(stderr, "still alive\n");
}

START_TEST(socket_on_an_io_thread_kills)
{
	struct child c;

	run_child(io_thread_then_socket, &c);
	expect_killed(&c, "kite-sc-io (io) made forbidden syscall socket (nr 41;");
}
END_TEST

/* ---- io_uring restrictions ---- */

START_TEST(restricted_ring_refuses_openat)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	static const struct { unsigned op, flags; int want; } sqes[] = {
		{ IORING_OP_OPENAT, 0, -EACCES },
		{ IORING_OP_NOP, 0, 0 },
		{ IORING_OP_NOP, IOSQE_ASYNC, -EACCES },	/* a flag not allowed */
		{ IORING_OP_NOP, IOSQE_IO_LINK, 0 },
		{ IORING_OP_NOP, 0, 0 },
	};
	struct io_uring ring;
	int files[1] = { 0 };

	ck_assert_int_eq(io_uring_queue_init_params(8, &ring, &p), 0);
	ck_assert_int_eq(uring_restrict(&ring), 0);
	ck_assert_int_eq(syscall(__NR_io_uring_register, ring.ring_fd,
				 IORING_REGISTER_ENABLE_RINGS, NULL, 0), 0);
	/* Nothing may be registered once it runs. */
	ck_assert_int_eq(syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_FILES,
				 files, 1), -1);
	ck_assert_int_eq(errno, EACCES);
	for (unsigned i = 0; i < sizeof(sqes) / sizeof(sqes[0]); i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		struct io_uring_cqe *cqe;

		if (sqes[i].op == IORING_OP_OPENAT)
			io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
		else
			io_uring_prep_nop(sqe);
		sqe->flags |= sqes[i].flags;
		io_uring_sqe_set_data64(sqe, i);
		/* One at a time: a refused SQE ends its batch. */
		ck_assert_int_eq(io_uring_submit(&ring), 1);
		ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		ck_assert_uint_eq(cqe->user_data, i);
		ck_assert_int_eq(cqe->res, sqes[i].want);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	/* An enabled ring takes no restrictions: the kernel refuses. */
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(io_uring_queue_init_params(8, &ring, &p), 0);
	ck_assert_int_lt(uring_restrict(&ring), 0);
	io_uring_queue_exit(&ring);
}
END_TEST

static struct op iot_open;
static atomic_int iot_done;

static void iot_open_done(struct io_op *io, int res, uint32_t flags)
{
	(void)io;
	(void)flags;
	iot_open.res = res;
	atomic_fetch_add(&iot_done, 1);
}

START_TEST(iothread_ring_is_restricted)
{
	struct iothread_opts io = { .name = "kite-test-io", .numa_node = -1 };
	struct io_uring_sqe *sqe;
	struct iothread *t;

	ck_assert_int_eq(iothread_create(&t, &io), 0);
	sqe = iothread_get_sqe(t);
	ck_assert_ptr_nonnull(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	iot_open.io.complete = iot_open_done;
	io_uring_sqe_set_data(sqe, &iot_open.io);
	ck_assert_int_eq(iothread_start(t), 0);
	ck_assert(wait_for(&iot_done, 1));
	ck_assert_int_eq(iot_open.res, -EACCES);
	iothread_destroy(t);
}
END_TEST

void seccomp_io_tests(TCase *tc)
{
	tcase_add_test(tc, io_thread_does_its_work);
	tcase_add_test(tc, socket_on_an_io_thread_kills);
	tcase_add_test(tc, restricted_ring_refuses_openat);
	tcase_add_test(tc, iothread_ring_is_restricted);
}
