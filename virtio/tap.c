// SPDX-License-Identifier: Apache-2.0
/* The tap backend of virtio-net: see tap.h. */
#include "virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/err.h"

#define TAP_FLAGS	(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

static void tap_init(struct tap *tap)
{
	memset(tap, 0, sizeof(*tap));
	for (unsigned i = 0; i < TAP_MAX_QUEUES; i++)
		tap->fds[i] = -1;
	tap->nl_fd = -1;
	tap->ifindex = -1;
	tap->mtu = 1500;
}

/* The error of a failed TUNSETIFF, with what the user can do about it. */
static int setiff_error(struct tap *tap, int e, bool existed)
{
	const char *n = tap->name;

	if (e == EPERM && !existed)
		return err_sys(e, "--net tap=%s: cannot create the tap (kite needs CAP_NET_ADMIN, "
			       "or create it first: ip tuntap add dev %s mode tap multi_queue "
			       "vnet_hdr user USER)", n, n);
	if (e == EPERM)
		return err_sys(e, "--net tap=%s: not allowed to attach to the tap (it belongs to "
			       "another user or group)", n);
	if (e == EINVAL && existed)
		return err_set(e, "--net tap=%s: the tap exists with other flags (kite needs a "
			       "multi_queue tap: ip tuntap add dev %s mode tap multi_queue vnet_hdr)",
			       n, n);
	if (e == EBUSY)
		return err_set(e, "--net tap=%s: the tap is in use (single-queue and held by "
			       "another process, or out of queues)", n);
	return err_sys(e, "--net tap=%s: cannot open the tap", n);
}

/* Same network namespace as this thread? */
static bool same_netns(int nsfd)
{
	struct stat a, b;

	return stat("/proc/thread-self/ns/net", &a) == 0 && fstat(nsfd, &b) == 0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/*
 * The link-event socket, created in the tap's namespace: a tap can live in
 * another one than kite (an orchestrator moves it and hands kite the fd).
 * Its ioctls (index, flags, MTU) then also look in the right namespace.
 */
static int event_socket(struct tap *tap)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int nsfd = ioctl(tap->fds[0], TUNGETDEVNETNS);
	int self = -1, fd, e = 0;

	if (nsfd >= 0 && same_netns(nsfd)) {
		close(nsfd);
		nsfd = -1;
	}
	if (nsfd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
			e = errno;
			close(nsfd);
			if (self >= 0)
				close(self);
			fprintf(stderr, "kite: --net %s: the tap is in another network namespace "
				"kite cannot enter (%s); its link state is not watched\n",
				tap->what, strerror(e));
			return 0;
		}
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		e = errno;
	if (nsfd >= 0) {
		/* Back home before anything else: this thread goes on to make
		 * the VM's other devices and threads. */
		if (setns(self, CLONE_NEWNET) < 0)
			e = errno ? errno : EINVAL;
		close(self);
		close(nsfd);
	}
	if (e) {
		if (fd >= 0)
			close(fd);
		return err_sys(e, "--net %s: cannot open a netlink socket for link events",
			       tap->what);
	}
	tap->nl_fd = fd;
	return 0;
}

/* Index and MTU of the interface, and the event socket. */
static int tap_finish(struct tap *tap)
{
	struct ifreq ifr;
	int r = event_socket(tap);

	if (r || tap->nl_fd < 0)
		return r;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, tap->name, IFNAMSIZ);
	if (ioctl(tap->nl_fd, SIOCGIFINDEX, &ifr) < 0)
		return err_sys(errno, "--net %s: cannot find interface %s", tap->what, tap->name);
	tap->ifindex = ifr.ifr_ifindex;
	if (ioctl(tap->nl_fd, SIOCGIFMTU, &ifr) < 0)
		return err_sys(errno, "--net %s: cannot read the MTU of %s", tap->what, tap->name);
	tap->mtu = ifr.ifr_mtu;
	return 0;
}

int tap_open(struct tap *tap, const char *name, unsigned nqueues)
{
	bool existed;
	int r;

	tap_init(tap);
	snprintf(tap->what, sizeof(tap->what), "tap=%s", name);
	if (!nqueues || nqueues > TAP_MAX_QUEUES)
		return err_set(EINVAL, "--net tap=%s: %u queues (expected 1 to %u)", name, nqueues,
			       TAP_MAX_QUEUES);
	if (strlen(name) >= IFNAMSIZ)
		return err_set(EINVAL, "--net tap=%s: name longer than %d characters", name,
			       IFNAMSIZ - 1);
	snprintf(tap->name, sizeof(tap->name), "%s", name);
	/* Looked up first: only a tap kite made is one it may make vanish. */
	existed = if_nametoindex(name) != 0;
	for (unsigned i = 0; i < nqueues; i++) {
		struct ifreq ifr;
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0) {
			r = errno == ENOENT || errno == ENODEV
				? err_sys(errno, "--net tap=%s: cannot open /dev/net/tun (is the tun "
					  "module loaded?)", name)
				: err_sys(errno, "--net tap=%s: cannot open /dev/net/tun", name);
			goto fail;
		}
		tap->fds[tap->nfds++] = fd;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, tap->name, IFNAMSIZ);
		ifr.ifr_flags = TAP_FLAGS | IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			r = setiff_error(tap, errno, existed || i > 0);
			goto fail;
		}
	}
	tap->created = !existed;
	r = tap_finish(tap);
	if (r)
		goto fail;
	return 0;
fail:
	tap_close(tap);
	return r;
}

int tap_adopt(struct tap *tap, const int *fds, unsigned nfds)
{
	int r;

	tap_init(tap);
	snprintf(tap->what, sizeof(tap->what), "fd=%d", nfds ? fds[0] : -1);
	if (!nfds || nfds > TAP_MAX_QUEUES)
		return err_set(EINVAL, "--net: %u tap fds (expected 1 to %u)", nfds, TAP_MAX_QUEUES);
	for (unsigned i = 0; i < nfds; i++) {
		struct ifreq ifr;
		int fd = fds[i], fl;

		memset(&ifr, 0, sizeof(ifr));
		if (fcntl(fd, F_GETFD) < 0)
			return err_set(EBADF, "--net fd=%d: not an open file descriptor", fd);
		if (ioctl(fd, TUNGETIFF, &ifr) < 0)
			return err_sys(errno, "--net fd=%d: not an attached tap queue (TUNGETIFF)", fd);
		if ((ifr.ifr_flags & (TAP_FLAGS | IFF_TUN)) != TAP_FLAGS)
			return err_set(EINVAL, "--net fd=%d: %s is not a tap opened with "
				       "IFF_TAP | IFF_NO_PI | IFF_VNET_HDR", fd, ifr.ifr_name);
		if (nfds > 1 && !(ifr.ifr_flags & IFF_MULTI_QUEUE))
			return err_set(EINVAL, "--net fd=%d: %s is not a multi_queue tap, so it "
				       "cannot serve %u queues", fd, ifr.ifr_name, nfds);
		if (i && strncmp(ifr.ifr_name, tap->name, IFNAMSIZ))
			return err_set(EINVAL, "--net fd=%d: queue of %s, but fd=%d is one of %s",
				       fd, ifr.ifr_name, fds[0], tap->name);
		memcpy(tap->name, ifr.ifr_name, IFNAMSIZ);
		tap->name[IFNAMSIZ - 1] = '\0';
		/* The open file is shared with whoever passed it: io_uring
		 * needs it non-blocking (see tap.h), which they will see. */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return err_sys(errno, "--net fd=%d: fcntl", fd);
	}
	for (unsigned i = 0; i < nfds; i++)
		tap->fds[i] = fds[i];
	tap->nfds = nfds;
	r = tap_finish(tap);
	if (r) {
		/* Not ours to close on failure: the caller still owns them. */
		tap->nfds = 0;
		tap_close(tap);
	}
	return r;
}

void tap_close(struct tap *tap)
{
	for (unsigned i = 0; i < tap->nfds; i++)
		if (tap->fds[i] >= 0)
			close(tap->fds[i]);
	if (tap->nl_fd >= 0)
		close(tap->nl_fd);
	tap_init(tap);
}

int tap_set_vnet_hdr_size(struct tap *tap, int size)
{
	/* One setting for the whole interface, but say it on every queue
	 * fd: cheap, and independent of which queue is attached. */
	for (unsigned i = 0; i < tap->nfds; i++)
		if (ioctl(tap->fds[i], TUNSETVNETHDRSZ, &size) < 0)
			return err_sys(errno, "--net %s: TUNSETVNETHDRSZ %d", tap->what, size);
	return 0;
}

int tap_set_offload(struct tap *tap, unsigned tun_flags)
{
	if (ioctl(tap->fds[0], TUNSETOFFLOAD, (unsigned long)tun_flags) < 0)
		return err_sys(errno, "--net %s: TUNSETOFFLOAD 0x%x", tap->what, tun_flags);
	return 0;
}

int tap_set_queue(struct tap *tap, unsigned idx, bool attach)
{
	struct ifreq ifr;

	if (idx >= tap->nfds)
		return err_set(EINVAL, "--net %s: no queue %u", tap->what, idx);
	if (tap->detached[idx] == !attach)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(tap->fds[idx], TUNSETQUEUE, &ifr) < 0)
		return err_sys(errno, "--net %s: cannot %s queue %u", tap->what,
			       attach ? "attach" : "detach", idx);
	tap->detached[idx] = !attach;
	return 0;
}

int tap_link_up(struct tap *tap, bool *up)
{
	struct ifreq ifr;

	if (tap->nl_fd < 0) {
		*up = true;	/* not watched: never claim it is down */
		return 0;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, tap->name, IFNAMSIZ);
	if (ioctl(tap->nl_fd, SIOCGIFFLAGS, &ifr) < 0) {
		if (errno != ENODEV)
			return err_sys(errno, "--net %s: SIOCGIFFLAGS", tap->what);
		*up = false;	/* the interface is gone */
		return 0;
	}
	*up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	return 0;
}

int tap_link_events(struct tap *tap, bool *up)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool resync = false;
	int seen = 0;

	if (tap->nl_fd < 0)
		return 0;
	for (;;) {
		ssize_t n = recv(tap->nl_fd, buf, sizeof(buf), MSG_DONTWAIT);
		int len = (int)n;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno != ENOBUFS)
				return err_sys(errno, "--net %s: link events", tap->what);
			/* The kernel dropped events: read the state instead. */
			resync = true;
			continue;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)len);
		     h = NLMSG_NEXT(h, len)) {
			const struct ifinfomsg *ifi = NLMSG_DATA(h);

			if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index != tap->ifindex)
				continue;
			seen = 1;
			*up = h->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
			      (ifi->ifi_flags & IFF_RUNNING);
		}
	}
	if (resync) {
		int r = tap_link_up(tap, up);

		return r < 0 ? r : 1;
	}
	return seen;
}

/* ---- io_uring ---- */

int tap_prep_readv(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		   struct io_op *op)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_readv(sqe, fd, iov, n, 0);
	iothread_fixed_file(t, sqe);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int tap_prep_writev(struct iothread *t, int fd, const struct iovec *iov, unsigned n,
		    struct io_op *op, bool link)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_writev(sqe, fd, iov, n, 0);
	iothread_fixed_file(t, sqe);
	if (link)
		sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int tap_prep_poll(struct iothread *t, int fd, unsigned events, struct io_op *op)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	iothread_fixed_file(t, sqe);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

int tap_prep_cancel(struct iothread *t, struct io_op *op)
{
	struct io_uring_sqe *sqe = iothread_get_sqe(t);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

unsigned tap_sq_space(struct iothread *t)
{
	return io_uring_sq_space_left(iothread_ring(t));
}
