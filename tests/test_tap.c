// SPDX-License-Identifier: Apache-2.0
/*
 * The tap backend against real taps, inside a network namespace each test
 * makes (ip netns add kite-test-PID) and removes. Then the whole device
 * on a real I/O thread and tap, with fake guest RAM: a frame the guest
 * sends appears on the host side, one the host sends lands in the guest's
 * buffers, and the tap's carrier reaches the config space. Tests pass with
 * a note when not root or without /dev/net/tun.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/fake_kvm.h"
#include "tests/fake_vm.h"
#include "tests/vpci_driver.h"
#include "tests/vq_fake.h"
#include "virtio/net.h"
#include "vmm/err.h"

#define ETHERTYPE_TEST	0x88b5		/* IEEE local experimental */

static char ns_name[64];
static int home_ns = -1;
static bool skip;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A failed assertion ends a forked test without its teardown: the
 * namespace still goes. */
static void drop_ns(void)
{
	char cmd[96];

	if (!ns_name[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s", ns_name);
	if (system(cmd) != 0)
		fprintf(stderr, "tap: could not remove namespace %s\n", ns_name);
	ns_name[0] = '\0';
}

static void setup(void)
{
	static bool registered;
	char path[128];
	int fd;

	skip = geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0;
	if (skip) {
		fprintf(stderr, "tap: skipped: needs root and /dev/net/tun\n");
		return;
	}
	snprintf(ns_name, sizeof(ns_name), "kite-test-%d", (int)getpid());
	sh("ip netns add %s", ns_name);
	if (!registered)
		atexit(drop_ns);
	registered = true;
	home_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", ns_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(home_ns, 0);
	ck_assert_int_ge(fd, 0);
	/* This thread, and the threads and commands it starts, live there. */
	ck_assert_int_eq(setns(fd, CLONE_NEWNET), 0);
	close(fd);
}

static void teardown(void)
{
	if (skip)
		return;
	ck_assert_int_eq(setns(home_ns, CLONE_NEWNET), 0);
	close(home_ns);
	drop_ns();	/* takes every tap left in it */
}

#define SKIP_UNLESS_ROOT() do { if (skip) return; } while (0)

static unsigned tun_flags(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return 0;
	return (unsigned short)ifr.ifr_flags;
}

START_TEST(create_multiqueue_and_remove)
{
	struct tap t;
	unsigned want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;

	SKIP_UNLESS_ROOT();
	ck_assert_int_eq(tap_open(&t, "kt0", 3), 0);
	ck_assert(t.created);
	ck_assert_uint_eq(t.nfds, 3);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(tun_flags(t.fds[i]) & want, want);
	ck_assert_int_eq(t.ifindex, (int)if_nametoindex("kt0"));
	ck_assert_uint_eq(t.mtu, 1500);
	ck_assert_int_ge(t.nl_fd, 0);
	tap_close(&t);
	ck_assert_uint_eq(if_nametoindex("kt0"), 0);	/* kite made it: gone */
}
END_TEST

START_TEST(existing_tap_is_kept)
{
	struct tap t;

	SKIP_UNLESS_ROOT();
	sh("ip tuntap add dev kt1 mode tap multi_queue vnet_hdr");
	ck_assert_int_eq(tap_open(&t, "kt1", 2), 0);
	ck_assert(!t.created);
	tap_close(&t);
	ck_assert_uint_ne(if_nametoindex("kt1"), 0);
}
END_TEST

START_TEST(tap_with_other_flags)
{
	struct tap t;

	SKIP_UNLESS_ROOT();
	sh("ip tuntap add dev kt2 mode tap");			/* single queue */
	sh("ip tuntap add dev kt3 mode tun multi_queue");	/* not a tap */
	ck_assert_int_eq(tap_open(&t, "kt2", 1), -EINVAL);
	ck_assert_msg(strstr(err_msg(), "--net tap=kt2: the tap exists with other flags"), "%s",
		      err_msg());
	ck_assert_int_eq(tap_open(&t, "kt3", 1), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_msg(), "--net tap=kt3"));
	ck_assert_uint_ne(if_nametoindex("kt2"), 0);		/* untouched */
}
END_TEST

/* Does `ip -d link show dev` say `what`? */
static bool ip_shows(const char *dev, const char *what)
{
	char cmd[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -d link show %s", dev);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, what) != NULL;
	pclose(f);
	return found;
}

static unsigned tso_on(const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GTSO };
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_data = (void *)&ev;
	ck_assert_int_eq(ioctl(s, SIOCETHTOOL, &ifr), 0);
	close(s);
	return ev.data;
}

START_TEST(offloads_header_and_queues)
{
	struct tap t;
	int sz = 0;

	SKIP_UNLESS_ROOT();
	ck_assert_int_eq(tap_open(&t, "kt4", 2), 0);
	ck_assert_int_eq(tap_set_vnet_hdr_size(&t, 12), 0);
	ck_assert_int_eq(ioctl(t.fds[1], TUNGETVNETHDRSZ, &sz), 0);
	ck_assert_int_eq(sz, 12);
	ck_assert_int_eq(tap_set_offload(&t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), 0);
	ck_assert_uint_eq(tso_on("kt4"), 1);
	ck_assert_int_eq(tap_set_offload(&t, 0), 0);
	ck_assert_uint_eq(tso_on("kt4"), 0);
	ck_assert_int_eq(tap_set_offload(&t, TUN_F_TSO4), -EINVAL);	/* needs CSUM */
	/* A detached queue no longer belongs to the interface. */
	ck_assert_int_eq(tap_set_queue(&t, 1, false), 0);
	ck_assert_int_eq(tap_set_queue(&t, 1, false), 0);		/* idempotent */
	ck_assert(ip_shows("kt4", "numqueues 1 numdisabled 1"));
	ck_assert_int_eq(tap_set_queue(&t, 1, true), 0);
	ck_assert(ip_shows("kt4", "numqueues 2 numdisabled 0"));
	tap_close(&t);
}
END_TEST

/* Carrier changes reach netlink from the kernel's linkwatch work, up to a
 * second later: wait for the state wanted, as the I/O thread would. */
static bool link_becomes(struct tap *t, bool want)
{
	for (int i = 0; i < 30; i++) {
		struct pollfd pf = { t->nl_fd, POLLIN, 0 };
		bool up = !want;

		if (poll(&pf, 1, 100) == 1 && tap_link_events(t, &up) == 1 && up == want)
			return true;
	}
	return false;
}

START_TEST(carrier_events)
{
	struct tap t;
	bool up = true;
	int one = 1, zero = 0;

	SKIP_UNLESS_ROOT();
	ck_assert_int_eq(tap_open(&t, "kt5", 1), 0);
	ck_assert_int_eq(tap_link_up(&t, &up), 0);
	ck_assert(!up);					/* a new tap is down */
	ck_assert_int_eq(tap_link_events(&t, &up), 0);	/* nothing yet */
	sh("ip link set kt5 up");
	ck_assert(link_becomes(&t, true));
	ck_assert_int_eq(ioctl(t.fds[0], TUNSETCARRIER, &zero), 0);	/* carrier off */
	ck_assert(link_becomes(&t, false));
	ck_assert_int_eq(tap_link_up(&t, &up), 0);
	ck_assert(!up);
	ck_assert_int_eq(ioctl(t.fds[0], TUNSETCARRIER, &one), 0);
	ck_assert(link_becomes(&t, true));
	sh("ip link set kt5 down");
	ck_assert(link_becomes(&t, false));
	/* Another interface's events are not ours. */
	sh("ip tuntap add dev kt-other mode tap && ip link set kt-other up");
	up = true;
	ck_assert_int_eq(tap_link_events(&t, &up), 0);
	tap_close(&t);
}
END_TEST

static int raw_tap(const char *name, short flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = flags;
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	return fd;
}

START_TEST(adopt_fds)
{
	struct tap t;
	int p[2], good[2], plain, other;

	SKIP_UNLESS_ROOT();
	good[0] = raw_tap("kt6", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE);
	good[1] = raw_tap("kt6", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE);
	plain = raw_tap("kt7", IFF_TAP | IFF_NO_PI);
	other = raw_tap("kt8", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(tap_adopt(&t, &p[0], 1), -ENOTTY);
	ck_assert_msg(strstr(err_msg(), "not an attached tap queue"), "%s", err_msg());
	ck_assert_int_eq(tap_adopt(&t, &plain, 1), -EINVAL);
	ck_assert_msg(strstr(err_msg(), "IFF_VNET_HDR"), "%s", err_msg());
	ck_assert_int_eq(tap_adopt(&t, (int[]){ good[0], other }, 2), -EINVAL);
	ck_assert_msg(strstr(err_msg(), "queue of kt8"), "%s", err_msg());
	ck_assert_int_eq(tap_adopt(&t, (int[]){ 1000 }, 1), -EBADF);
	ck_assert_int_eq(tap_adopt(&t, good, 2), 0);
	ck_assert_str_eq(t.name, "kt6");
	ck_assert(!t.created);
	ck_assert(fcntl(good[1], F_GETFL) & O_NONBLOCK);
	tap_close(&t);				/* closes the adopted fds */
	ck_assert_int_lt(fcntl(good[0], F_GETFD), 0);
	close(plain);
	close(other);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ---- the device on a real tap ---- */

#define QS		16
#define RXQ		0x10000ULL
#define TXQ		0x11000ULL

static bool wait_for(bool (*cond)(void *), void *arg)
{
	struct timespec ts = { 0, 1000 * 1000 };

	for (int i = 0; i < 3000; i++) {
		if (cond(arg))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static struct vq_fake vf;
static struct vpci_drv d;

static uint16_t used_idx(uint64_t ring)
{
	return __atomic_load_n((uint16_t *)vq_fake_host(&vf, ring + 2), __ATOMIC_ACQUIRE);
}

static bool used_moved(void *last) { return used_idx(RXQ + 0x800) != *(uint16_t *)last; }
static bool tx_used(void *arg) { (void)arg; return used_idx(TXQ + 0x800) != 0; }
static bool link_down(void *arg) { (void)arg; return vpd_read(&d, d.device + 6, 2) == 0; }

static void avail(uint64_t ring, uint16_t i, uint16_t head)
{
	*(uint16_t *)vq_fake_host(&vf, ring + 0x400 + 4 + 2 * i) = head;
	__atomic_store_n((uint16_t *)vq_fake_host(&vf, ring + 0x400 + 2), i + 1, __ATOMIC_RELEASE);
}

START_TEST(device_on_a_real_tap)
{
	uint8_t frame[12 + 64], got[2048];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct iothread_opts io = { .name = "kite-test-io", .numa_node = -1 };
	struct bus pio, mmio;
	struct pci_host host;
	struct fake_kvm *k = calloc(1, sizeof(*k));
	struct irq_router ir;
	struct iothread *th;
	struct virtio_net *n;
	struct tap t;
	struct timespec t0, t1;
	uint16_t last = 0;
	bool found = false;
	int ps;

	SKIP_UNLESS_ROOT();
	ck_assert_int_eq(tap_open(&t, "kt9", 1), 0);
	sh("ip link set kt9 up");
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(ps, 0);
	sll.sll_ifindex = t.ifindex;
	ck_assert_int_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	ck_assert_int_eq(pci_host_init(&host, &pio, &mmio), 0);
	ck_assert_int_eq(irq_router_init(&ir, &fake_kvm_ops, fake_kvm_reset(k)), 0);
	vq_fake_init(&vf, QS);
	ck_assert_int_eq(iothread_create(&th, &io), 0);
	ck_assert_int_eq(virtio_net_create(&n, FAKE_VM, &host, &ir, &vf.mem,
					   &(struct virtio_net_opts){
						.tap = &t, .mac = { 2, 0x6b, 0, 0, 0, 9 },
						.threads = &th, .nthreads = 1, .queue_size = QS,
					   }), 0);
	ck_assert_int_eq(iothread_start(th), 0);
	vpd_attach(&d, &host, &mmio, virtio_pci_func(virtio_net_transport(n))->slot);
	ck_assert_uint_eq(vpd_read(&d, d.device + 6, 2), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(vpd_negotiate(&d, 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
					   1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << 32) & 8, 8);
	vpd_queue_setup(&d, 0, QS, RXQ, RXQ + 0x400, RXQ + 0x800);
	vpd_queue_setup(&d, 1, QS, TXQ, TXQ + 0x400, TXQ + 0x800);
	vpd_cc_write(&d, VPD_STATUS, 0xf, 1);

	/* Guest -> host: a broadcast frame of our own ethertype. */
	memset(frame, 0, sizeof(frame));
	memset(frame + 12, 0xff, 6);
	memcpy(frame + 18, "\x02\x6b\x00\x00\x00\x09", 6);
	frame[24] = ETHERTYPE_TEST >> 8;
	frame[25] = ETHERTYPE_TEST & 0xff;
	memcpy(frame + 26, "kite tx", 7);
	memcpy(vq_fake_host(&vf, VQF_DATA(0)), frame, sizeof(frame));
	vq_fake_desc(&vf, TXQ, 0, VQF_DATA(0), sizeof(frame), 0, 0);
	avail(TXQ, 0, 0);
	vpd_notify(&d, 1);
	ck_assert(wait_for(tx_used, NULL));
	for (int i = 0; i < 20 && !found; i++) {
		struct pollfd pf = { ps, POLLIN, 0 };
		ssize_t len;

		ck_assert_int_eq(poll(&pf, 1, 3000), 1);
		len = recv(ps, got, sizeof(got), 0);
		found = len >= 64 && !memcmp(got, frame + 12, 64);
	}
	ck_assert_msg(found, "the guest's frame did not reach the host side");

	/* Host -> guest: the same ethertype, into 8 posted buffers. */
	for (uint16_t i = 0; i < 8; i++) {
		vq_fake_desc(&vf, RXQ, i, VQF_DATA(8 + i), 2048, VIRTQ_DESC_F_WRITE, 0);
		avail(RXQ, i, i);
	}
	vpd_notify(&d, 0);
	memcpy(frame + 12, "\x02\x6b\x00\x00\x00\x09\x02\x00\x00\x00\x00\x01", 12);
	memcpy(frame + 26, "kite rx", 7);
	ck_assert_int_eq(send(ps, frame + 12, 64, 0), 64);
	for (found = false; !found && wait_for(used_moved, &last); last++) {
		uint32_t id, len;
		uint8_t *buf;

		memcpy(&id, vq_fake_host(&vf, RXQ + 0x800 + 4 + 8 * (last % QS)), 4);
		memcpy(&len, vq_fake_host(&vf, RXQ + 0x800 + 8 + 8 * (last % QS)), 4);
		buf = vq_fake_host(&vf, VQF_DATA(8 + id));
		if (len == 12 + 64 && !memcmp(buf + 12, frame + 12, 64)) {
			found = true;
			ck_assert_uint_eq(buf[0], 0);		/* flags */
			ck_assert_uint_eq(buf[1], 0);		/* gso_type */
			ck_assert_uint_eq(buf[10] | buf[11] << 8, 1);	/* num_buffers */
		}
	}
	ck_assert_msg(found, "the host's frame did not reach the guest");

	/* The tap goes down: the guest's link follows. */
	sh("ip link set kt9 down");
	ck_assert(wait_for(link_down, NULL));

	/* Reset with reads armed: io_uring cancels them, and quickly (a
	 * read left waiting would hold the reset for seconds). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vpd_cc_write(&d, VPD_STATUS, 0, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(vpd_cc_read(&d, VPD_STATUS, 1), 0);
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 1000);

	iothread_stop(th);
	virtio_net_destroy(n);
	iothread_destroy(th);
	tap_close(&t);
	close(ps);
	vq_fake_free(&vf);
	irq_router_destroy(&ir);
	free(k);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}
END_TEST

Suite *tap_suite(void)
{
	Suite *s = suite_create("tap");
	TCase *tc = tcase_create("real");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, create_multiqueue_and_remove);
	tcase_add_test(tc, existing_tap_is_kept);
	tcase_add_test(tc, tap_with_other_flags);
	tcase_add_test(tc, offloads_header_and_queues);
	tcase_add_test(tc, carrier_events);
	tcase_add_test(tc, adopt_fds);
	tcase_add_test(tc, device_on_a_real_tap);
	suite_add_tcase(s, tc);
	return s;
}
