// SPDX-License-Identifier: Apache-2.0
/*
 * net-load: the host side of tools/bench-net.sh. Keeps up to WINDOW UDP
 * datagrams of SIZE bytes in flight to the test guest's echo port (7),
 * spread over FLOWS sockets (one source port each, so that the tap spreads
 * them over the NIC's queue pairs), and counts the echoes that come back.
 *
 *   usage: net-load ADDR SIZE SECS [--window N] [--flows N] [--port N]
 *                   [--warmup SECS] [--drain SECS]
 *          net-load control ADDR WORD
 *          net-load blast ADDR SIZE SECS
 *
 * First each flow sends one datagram until it comes back (for up to 5 s),
 * so that ARP is done and the guest answers before the clock starts: the
 * host's neighbour queue would otherwise drop most of a first window. The
 * first --warmup seconds (0.3) are not counted; then echoes are counted
 * for SECS; then nothing more is sent and stragglers are awaited for up to
 * --drain seconds (2: a guest under TCG on a busy host can pause that
 * long). If nothing comes back for STALL_MS while the window is full, what
 * is in flight is written off (lost), so that a drop does not stall the
 * run. One line on stdout:
 *
 *   net-load size=S window=W flows=F secs=T sent=N received=M pps=P MBps=B lost=L bad=X
 *
 * pps and MBps are echoes (and their payload bytes, 10^6 a MB) counted in
 * the SECS window over its measured length; lost = sent - received at the
 * end (datagrams sent that never came back), bad = echoes of the wrong size
 * or with a sequence number never sent. Exit status 1 if nothing came back.
 *
 * "control" sends WORD ("stats", "stop") to the guest's control port (9)
 * and prints the answer; exit status 1 if none came within 2 s. (The
 * script asks between runs; a Python start costs seconds on a busy host.)
 *
 * "blast" is the receiving end of the guest's mode=net-blast: it asks the
 * guest ("blast SECS SIZE" to port 9) to send SIZE-byte datagrams to this
 * socket for SECS seconds, counts what arrives until nothing has for
 * 0.5 s, then asks how many were sent ("count"). The same line as above:
 * sent is the guest's count, pps and MBps are over the time from the first
 * datagram to the last, lost = sent - received, and split how the
 * datagrams fell on the guest's queue pairs (pair k sends from port 5000+k);
 * host_rcvbuf_errors and host_reasm_fails say how many the host itself
 * dropped (socket buffer full, reassembly given up: /proc/net/snmp).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS	64
#define BATCH		32
#define STALL_MS	250
#define SOCK_BUF	(4 << 20)
#define MAGIC		0x6b697465u	/* "kite" */
#define PRIME_MAGIC	0x7072696du	/* "prim" */
#define PRIME_SECS	5.0

struct opts {
	struct sockaddr_in dst;
	unsigned size, window, flows;
	double secs, warmup, drain;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: net-load ADDR SIZE SECS [--window N] [--flows N] [--port N] "
		"[--warmup SECS] [--drain SECS]\n       net-load control ADDR WORD\n"
		"       net-load blast ADDR SIZE SECS\n");
	exit(2);
}

static unsigned long num(const char *what, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "net-load: %s %s: expected a number from %lu to %lu\n", what, s,
			min, max);
		exit(2);
	}
	return v;
}

static double secs(const char *what, const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= min) || v > 3600) {
		fprintf(stderr, "net-load: %s %s: expected seconds from %g to 3600\n", what, s, min);
		exit(2);
	}
	return v;
}

/* net-load control ADDR WORD */
static int control(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	char buf[65536];
	struct pollfd pfd;
	ssize_t n;

	if (argc != 4 || inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1)
		usage();
	pfd = (struct pollfd){ .fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
			       .events = POLLIN };
	if (pfd.fd < 0 || connect(pfd.fd, (const struct sockaddr *)&dst, sizeof(dst)) ||
	    send(pfd.fd, argv[3], strlen(argv[3]), 0) < 0) {
		perror("net-load: control");
		return 1;
	}
	if (poll(&pfd, 1, 2000) != 1 || (n = recv(pfd.fd, buf, sizeof(buf), 0)) < 0) {
		fprintf(stderr, "net-load: control %s: no answer within 2 s\n", argv[3]);
		return 1;
	}
	fwrite(buf, 1, n, stdout);
	return 0;
}

/* A counter of /proc/net/snmp (this namespace's): "Udp" "RcvbufErrors". */
static unsigned long long snmp(const char *group, const char *name)
{
	char head[1024], vals[1024];
	size_t glen = strlen(group);
	unsigned long long v = 0;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		return 0;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		char *hs, *vs, *h, *x;

		if (strncmp(head, group, glen) || head[glen] != ':')
			continue;
		h = strtok_r(head + glen + 1, " \n", &hs);
		x = strtok_r(vals + glen + 1, " \n", &vs);
		for (; h && x; h = strtok_r(NULL, " \n", &hs), x = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, name)) {
				v = strtoull(x, NULL, 10);
				break;
			}
		break;
	}
	fclose(f);
	return v;
}

#define RX_BATCH	64

/* net-load blast ADDR SIZE SECS */
static int blast(int argc, char **argv)
{
	static uint8_t rxb[RX_BATCH][8192 + 256];	/* + room for a control answer */
	struct mmsghdr mm[RX_BATCH];
	struct iovec iv[RX_BATCH];
	struct sockaddr_in fr[RX_BATCH];
	struct sockaddr_in ctl = { .sin_family = AF_INET, .sin_port = htons(9) }, from;
	socklen_t fromlen;
	char req[64], answer[256] = "";
	static uint8_t buf[65536];
	unsigned long size, secs;
	uint64_t received = 0, bad = 0, sent = 0, dropped = 0, per_port[8] = { 0 };
	char split[64] = "-";
	unsigned ports = 0;
	double t0, first = 0, last = 0, asked = 0, span;
	bool started = false;
	int fd, big = 64 << 20;
	unsigned long long rcvbuf_errs, reasm_fails;

	if (argc != 5 || inet_pton(AF_INET, argv[2], &ctl.sin_addr) != 1)
		usage();
	size = num("SIZE", argv[3], 1, 8192);
	secs = num("SECS", argv[4], 1, 60);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("net-load: blast");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	rcvbuf_errs = snmp("Udp", "RcvbufErrors");
	reasm_fails = snmp("Ip", "ReasmFails");
	snprintf(req, sizeof(req), "blast %lu %lu", secs, size);
	t0 = now_s();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double t = now_s();
		ssize_t n;

		if (!started && t - asked > 0.5) {
			if (t - t0 > 5) {
				fprintf(stderr, "net-load: blast: the guest never answered '%s'\n", req);
				return 1;
			}
			sendto(fd, req, strlen(req), 0, (const struct sockaddr *)&ctl, sizeof(ctl));
			asked = t;
		}
		/* Over: its time is up and nothing came for 0.5 s (a pause
		 * of a busy guest before then is not the end). */
		if (started && ((t - t0 > secs && t - (received ? last : t0) > 0.5) ||
				t - t0 > secs + 5.0))
			break;
		if (poll(&pfd, 1, 50) != 1)
			continue;
		do {
			for (int i = 0; i < RX_BATCH; i++) {
				iv[i] = (struct iovec){ rxb[i], sizeof(rxb[i]) };
				mm[i] = (struct mmsghdr){ .msg_hdr = {
					.msg_name = &fr[i], .msg_namelen = sizeof(fr[i]),
					.msg_iov = &iv[i], .msg_iovlen = 1 } };
			}
			n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
			t = now_s();
			for (int i = 0; i < n; i++) {
				unsigned len = mm[i].msg_len, k = ntohs(fr[i].sin_port) - 5000;

				if (fr[i].sin_addr.s_addr != ctl.sin_addr.s_addr)
					continue;
				if (fr[i].sin_port == ctl.sin_port) {
					snprintf(answer, sizeof(answer), "%.*s", (int)len, (char *)rxb[i]);
					if (!strncmp(answer, "blasting", 8))
						started = true;
					else if (strncmp(answer, "busy", 4)) {
						fprintf(stderr, "net-load: blast: the guest said: %s", answer);
						return 1;
					}
					continue;
				}
				if (len != size) {
					bad++;
					continue;
				}
				if (k < 8) {
					per_port[k]++;
					ports = k + 1 > ports ? k + 1 : ports;
				}
				last = t;
				if (!received++)
					first = t;
			}
		} while (n == RX_BATCH);
	}
	/* The guest's count (it answers "sent N dropped D"). */
	for (int tries = 0; tries < 5; tries++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		sendto(fd, "count", 5, 0, (const struct sockaddr *)&ctl, sizeof(ctl));
		while (poll(&pfd, 1, 1000) == 1) {
			fromlen = sizeof(from);
			n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fromlen);
			if (n <= 0 || from.sin_port != ctl.sin_port)
				continue;	/* a straggler of the blast */
			buf[n] = 0;
			if (sscanf((char *)buf, "sent %lu dropped %lu", &sent, &dropped) == 2)
				goto counted;
		}
	}
	fprintf(stderr, "net-load: blast: no answer to 'count'\n");
	return 1;
counted:
	span = last - first > 0 ? last - first : 1e-6;
	/* Each queue pair's share (pair k sends from port 5000+k). */
	for (unsigned k = 0, at = 0; ports > 1 && k < ports && received; k++)
		at += snprintf(split + at, sizeof(split) - at, "%s%lu", k ? "/" : "",
			       (per_port[k] * 100 + received / 2) / received);
	if (ports > 1)
		strncat(split, "%", sizeof(split) - strlen(split) - 1);
	printf("net-load size=%lu window=0 flows=1 secs=%.2f sent=%lu received=%lu pps=%.0f "
	       "MBps=%.3f lost=%lu bad=%lu dropped_in_guest=%lu split=%s host_rcvbuf_errors=%llu "
	       "host_reasm_fails=%llu\n", size, span, sent, received, received / span,
	       received * size / span / 1e6, sent > received ? sent - received : 0, bad, dropped,
	       split, snmp("Udp", "RcvbufErrors") - rcvbuf_errs,
	       snmp("Ip", "ReasmFails") - reasm_fails);
	return received ? 0 : 1;
}

static void parse(int argc, char **argv, struct opts *o)
{
	int pos = 0;

	*o = (struct opts){ .window = 256, .flows = 8, .warmup = 0.3, .drain = 2.0 };
	o->dst.sin_family = AF_INET;
	o->dst.sin_port = htons(7);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] == '-') {
			if (i + 1 >= argc)
				usage();
			const char *v = argv[++i];

			if (!strcmp(a, "--window"))
				o->window = num(a, v, 1, 1 << 16);
			else if (!strcmp(a, "--flows"))
				o->flows = num(a, v, 1, MAX_FLOWS);
			else if (!strcmp(a, "--port"))
				o->dst.sin_port = htons(num(a, v, 1, 65535));
			else if (!strcmp(a, "--warmup"))
				o->warmup = secs(a, v, 0);
			else if (!strcmp(a, "--drain"))
				o->drain = secs(a, v, 0);
			else
				usage();
			continue;
		}
		switch (pos++) {
		case 0:
			if (inet_pton(AF_INET, a, &o->dst.sin_addr) != 1) {
				fprintf(stderr, "net-load: %s: expected an IPv4 address\n", a);
				exit(2);
			}
			break;
		case 1:
			o->size = num("SIZE", a, 8, 65507);
			break;
		case 2:
			o->secs = secs("SECS", a, 0.1);
			break;
		default:
			usage();
		}
	}
	if (pos != 3)
		usage();
}

/* A nonblocking UDP socket connected to the guest, with room for a whole
 * window either way (root may go past the sysctl limits). */
static int flow_socket(const struct opts *o)
{
	int buf = SOCK_BUF;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct run {
	const struct opts *o;
	int fd[MAX_FLOWS];
	uint8_t *tx[BATCH];		/* one buffer per datagram of a batch */
	uint8_t *rx[BATCH];
	uint64_t sent, received, written_off, bad, counted, counted_bytes;
	uint64_t written_below;		/* sequence numbers below this may be written off */
	double last_rx;
};

/* Up to n datagrams on flow f; how many the kernel took. */
static unsigned send_batch(struct run *r, unsigned f, unsigned n)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int got;

	for (unsigned i = 0; i < n; i++) {
		uint32_t hdr[2] = { MAGIC, (uint32_t)(r->sent + i) };

		memcpy(r->tx[i], hdr, sizeof(hdr));
		iov[i] = (struct iovec){ r->tx[i], r->o->size };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	got = sendmmsg(r->fd[f], m, n, MSG_DONTWAIT);
	return got > 0 ? (unsigned)got : 0;
}

/* Everything waiting on flow f; counted if the clock is in the window. */
static void recv_all(struct run *r, unsigned f, bool count)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int got;

	do {
		for (unsigned i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ r->rx[i], r->o->size + 1 };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		got = recvmmsg(r->fd[f], m, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < got; i++) {
			uint32_t hdr[2];

			memcpy(hdr, r->rx[i], sizeof(hdr));
			if (m[i].msg_len >= sizeof(hdr) && hdr[0] == PRIME_MAGIC)
				continue;	/* a late one from prime() */
			if (m[i].msg_len != r->o->size || hdr[0] != MAGIC ||
			    hdr[1] >= (uint32_t)r->sent) {
				r->bad++;
				continue;
			}
			r->received++;
			/* Late, not lost: back from the written-off count. */
			if (hdr[1] < r->written_below && r->written_off)
				r->written_off--;
			if (count) {
				r->counted++;
				r->counted_bytes += r->o->size;
			}
		}
		if (got > 0)
			r->last_rx = now_s();
	} while (got == BATCH);
}

/* One datagram each way on every flow, resent every 0.2 s until it comes
 * back; false if some flow got nothing back within PRIME_SECS. */
static bool prime(struct run *r, int ep)
{
	bool done[MAX_FLOWS] = { false };
	unsigned left = r->o->flows;
	uint32_t hdr[2] = { PRIME_MAGIC, 0 };
	double give_up = now_s() + PRIME_SECS, resend = 0;

	memcpy(r->tx[0], hdr, sizeof(hdr));
	while (left && now_s() < give_up) {
		struct epoll_event ev[MAX_FLOWS];
		int n;

		if (now_s() >= resend) {
			for (unsigned f = 0; f < r->o->flows; f++)
				if (!done[f])
					send(r->fd[f], r->tx[0], r->o->size, MSG_DONTWAIT);
			resend = now_s() + 0.2;
		}
		n = epoll_wait(ep, ev, MAX_FLOWS, 20);
		for (int i = 0; i < n; i++) {
			unsigned f = ev[i].data.u32;

			while (recv(r->fd[f], r->rx[0], r->o->size + 1, MSG_DONTWAIT) >= 0) {
				if (!done[f]) {
					done[f] = true;
					left--;
				}
			}
		}
	}
	return !left;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = { .o = &o };
	struct epoll_event ev[MAX_FLOWS];
	unsigned next = 0;
	double t0, start, end, stop, measured;
	int ep;

	if (argc > 1 && !strcmp(argv[1], "control"))
		return control(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "blast"))
		return blast(argc, argv);
	parse(argc, argv, &o);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("net-load: epoll_create1");
		return 1;
	}
	for (unsigned i = 0; i < BATCH; i++) {
		r.tx[i] = malloc(o.size);
		r.rx[i] = malloc(o.size + 1);
		if (!r.tx[i] || !r.rx[i]) {
			fprintf(stderr, "net-load: out of memory\n");
			return 1;
		}
		for (unsigned k = 0; k < o.size; k++)
			r.tx[i][k] = (uint8_t)(k * 7 + 1);
	}
	for (unsigned f = 0; f < o.flows; f++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = f };

		r.fd[f] = flow_socket(&o);
		if (r.fd[f] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, r.fd[f], &e)) {
			perror("net-load: socket");
			return 1;
		}
	}
	if (!prime(&r, ep))
		fprintf(stderr, "net-load: some flows got no echo within %.0f s; going on\n",
			PRIME_SECS);
	t0 = now_s();
	start = t0 + o.warmup;
	end = start + o.secs;
	stop = end + o.drain;
	r.last_rx = t0;
	for (;;) {
		double t = now_s();
		bool sending = t < end;
		uint64_t inflight = r.sent - r.received - r.written_off;
		int n;

		if (r.received + r.written_off > r.sent)	/* a straggler after a write-off */
			inflight = 0;
		if (!sending && (inflight == 0 || t >= stop))
			break;
		if (sending && inflight >= o.window && (t - r.last_rx) * 1000 > STALL_MS) {
			r.written_off = r.sent - r.received;	/* presumed lost */
			r.last_rx = t;
			inflight = 0;
		}
		/* Fill the window a batch per flow at a time, flows in turn. */
		while (sending && inflight < o.window) {
			unsigned want = o.window - inflight, got;

			if (want > BATCH)
				want = BATCH;
			if (o.flows > 1 && want > o.window / o.flows && o.window >= o.flows)
				want = o.window / o.flows;
			got = send_batch(&r, next, want);
			next = (next + 1) % o.flows;
			if (!got)
				break;
			r.sent += got;
			inflight += got;
		}
		n = epoll_wait(ep, ev, MAX_FLOWS, 1);
		t = now_s();
		for (int i = 0; i < n; i++)
			recv_all(&r, ev[i].data.u32, t >= start && t < end);
	}
	measured = (end < now_s() ? end : now_s()) - start;
	if (measured <= 0)
		measured = o.secs;
	printf("net-load size=%u window=%u flows=%u secs=%.2f sent=%llu received=%llu pps=%.0f "
	       "MBps=%.3f lost=%llu bad=%llu\n", o.size, o.window, o.flows, measured,
	       (unsigned long long)r.sent, (unsigned long long)r.received, r.counted / measured,
	       r.counted_bytes / measured / 1e6,
	       (unsigned long long)(r.sent > r.received ? r.sent - r.received : 0),
	       (unsigned long long)r.bad);
	return r.received ? 0 : 1;
}
