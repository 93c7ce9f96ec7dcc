// SPDX-License-Identifier: Apache-2.0
/*
 * mode=net-echo (or net=echo): every virtio-net NIC up, with an IPv4
 * address each, answering ARP, ping and UDP echo (port 7) until a "stop"
 * datagram comes to UDP port 9 (or net_secs pass, or the VMM is killed),
 * so that host tools can test the NICs. Also the net part of mode=demo.
 *
 * Command line:
 *   ip=A.B.C.D/NN[,A.B.C.D/NN...]  one per NIC in PCI order (a NIC without
 *                                  one answers nothing)
 *   net_wait=irq|poll              receive by interrupt (default) or polling
 *   net_csum=0, net_mrg=0, net_mq=0, event_idx=0
 *                                  refuse CSUM+GUEST_CSUM, MRG_RXBUF, MQ
 *                                  (+CTRL_VQ), EVENT_IDX
 *   net_pairs=N                    queue pairs per NIC (default one per CPU)
 *   net_rxbuf=N                    receive buffer bytes with MRG_RXBUF (1024)
 *   net_ping=A.B.C.D[,...]         ping these (each from the NIC on its
 *                                  subnet) once the link is up:
 *   net_ping_count=N (5), net_ping_size=N (56), net_ping_wait=SECS (30)
 *   net_secs=N                     stop by itself after N seconds
 *
 * Queue pair k (counting over all NICs) is served by online CPU k mod n, in
 * ring 3, each CPU running one loop over its pairs. The CPU of a NIC's pair
 * 0 also drives that NIC's pings; the boot CPU watches the links (the
 * configuration interrupt goes to it) and the clock.
 *
 * Port 9 takes "stop" (answered "stopping") and "stats" (answered with the
 * counters below, also printed). What it prints, for the scripts:
 *   netN: <pci> mac M mtu U, link up|down, P queue pairs (max X), irq|poll,
 *         rx buffers R x B, features: ...
 *   netN: ip A.B.C.D/NN
 *   net-echo: ready (...)
 *   netN: link down|up (config interrupt|polled)
 *   netN: ping A.B.C.D: S sent, R received, ...
 *   netN pair I cpu C: rx F frames B bytes (M merged, X bad), tx F frames
 *         B bytes (O offloaded, D dropped), irqs Q, wakeups by irq W of V
 *   netN ip: arp_requests ... (ip_stats_text)
 *   net-echo: done
 */
#include "modes.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "ipv4.h"
#include "smp.h"
#include "tests.h"
#include "time.h"

#define MAX_TARGETS		8
#define LINK_POLL_US		100000	/* polled mode */
#define LINK_RECHECK_US		1000000	/* irq mode: in case an interrupt went missing */
#define WAIT_SLICE_US		10000
#define RX_BUDGET		64
#define DEMO_PING_COUNT		3

struct worker {
	unsigned cpu;
	unsigned n;
	struct net_pair *pairs[NET_MAX_NICS * NET_MAX_PAIRS];
	struct ip_if *ifs[NET_MAX_NICS * NET_MAX_PAIRS];
	bool started;
};

struct target {
	u32 addr;
	unsigned nic;
};

static struct net_nic nics[NET_MAX_NICS];
static struct ip_if ifs[NET_MAX_NICS];
static unsigned nnics;
static struct worker workers[MAX_CPUS];
static bool irq_mode, demo_mode;
static u32 stop_flag;
static bool link[NET_MAX_NICS];
static u64 link_checked;
static u64 end_at;			/* net_secs, 0: none */

static struct target targets[MAX_TARGETS];
static unsigned ntargets;
static unsigned next_target[NET_MAX_NICS];	/* index into targets, per NIC */
static u32 pings_left;				/* targets not yet reported */
static u64 ping_count = 5, ping_size = 56, ping_wait_s = 30;

static bool stopping(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE);
}

static void request_stop(void)
{
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
}

/* ---- counters ---- */

static int pair_text(struct net_pair *p, char *buf, size_t len)
{
	const struct net_pair_stats *s = &p->st;

	return snprintf(buf, len, "net%u pair %u cpu %u: rx %lu frames %lu bytes (%lu merged, "
			"%lu bad), tx %lu frames %lu bytes (%lu offloaded, %lu dropped), irqs %lu, "
			"wakeups by irq %lu of %lu\n", p->nic->index, p->index, p->cpu, s->rx_frames,
			s->rx_bytes, s->rx_merged, s->rx_bad, s->tx_frames, s->tx_bytes,
			s->tx_offload, s->tx_dropped, net_rx_irqs(p), s->wakeups_irq, s->waits);
}

static u32 stats_text(char *buf, u32 len)
{
	u32 at = 0;

	for (unsigned i = 0; i < nnics && at < len; i++) {
		at += snprintf(buf + at, len - at, "net%u link %s pairs %u\n", i,
			       link[i] ? "up" : "down", nics[i].npairs);
		for (unsigned k = 0; k < nics[i].npairs && at < len; k++)
			at += pair_text(&nics[i].pair[k], buf + at, len - at);
		if (at < len)
			at += snprintf(buf + at, len - at, "net%u ip: ", i);
		if (at < len)
			at += ip_stats_text(&ifs[i], buf + at, len - at);
		if (at < len)
			at += snprintf(buf + at, len - at, "\n");
	}
	return MIN(at, len);
}

static void print_stats(void)
{
	char line[512];

	for (unsigned i = 0; i < nnics; i++) {
		for (unsigned k = 0; k < nics[i].npairs; k++) {
			pair_text(&nics[i].pair[k], line, sizeof(line));
			printf("%s", line);
		}
		ip_stats_text(&ifs[i], line, sizeof(line));
		printf("net%u ip: %s\n", i, line);
	}
}

/* ---- the control port ---- */

static u32 control(struct ip_if *ifc, struct net_pair *p, u32 src, u16 sport, const u8 *data,
		   u32 len, char *out, u32 max)
{
	(void)p;
	if (len >= 4 && !memcmp(data, "stop", 4)) {
		printf("net-echo: stop requested by " IP_FMT ":%u on net%u\n", IP_ARGS(src), sport,
		       ifc->nic->index);
		request_stop();
		return snprintf(out, max, "stopping\n");
	}
	if (len >= 5 && !memcmp(data, "stats", 5)) {
		u32 n = stats_text(out, max);

		console_write(out, n);
		return n;
	}
	return snprintf(out, max, "unknown command (stop, stats)\n");
}

/* ---- periodic work ---- */

/* The boot CPU: links, the clock. */
static void watch(void)
{
	u64 now = time_us();
	bool poll_due = now - link_checked >= (irq_mode ? LINK_RECHECK_US : LINK_POLL_US);

	for (unsigned i = 0; i < nnics; i++) {
		bool irq = irq_mode && net_config_irqs_new(&nics[i]);
		bool up;

		if (!irq && !poll_due)
			continue;
		up = net_link_up(&nics[i]);
		if (up != link[i])
			printf("net%u: link %s (%s)\n", i, up ? "up" : "down",
			       irq ? "config interrupt" : "polled");
		__atomic_store_n(&link[i], up, __ATOMIC_RELEASE);
	}
	if (poll_due)
		link_checked = now;
	ip_tick();
	if (end_at && now > end_at) {
		printf("net-echo: net_secs is up\n");
		request_stop();
	}
	if (demo_mode && !__atomic_load_n(&pings_left, __ATOMIC_ACQUIRE))
		request_stop();
}

/* The CPU of a NIC's pair 0: its pings, one target after the other. */
static void ping_work(unsigned nic)
{
	struct ip_if *ifc = &ifs[nic];

	if (!ip_ping_tick(ifc, &nics[nic].pair[0]))
		return;
	if (ifc->ping.state == PING_DONE) {
		ifc->ping.state = PING_IDLE;
		__atomic_fetch_sub(&pings_left, 1, __ATOMIC_RELEASE);
	}
	if (!__atomic_load_n(&link[nic], __ATOMIC_ACQUIRE))
		return;
	while (next_target[nic] < ntargets && targets[next_target[nic]].nic != nic)
		next_target[nic]++;
	if (next_target[nic] < ntargets) {
		u32 dst = targets[next_target[nic]++].addr;

		if (!ip_ping_start(ifc, dst, ping_count, ping_size, ping_wait_s * 1000000)) {
			printf("net%u: ping " IP_FMT ": not a peer on the link\n", nic, IP_ARGS(dst));
			__atomic_fetch_sub(&pings_left, 1, __ATOMIC_RELEASE);
		}
	}
}

static long serve(void *arg)
{
	struct worker *w = arg;

	if (irq_mode)
		user_irqs(true);
	while (!stopping()) {
		unsigned got = 0;

		for (unsigned i = 0; i < w->n; i++)
			got += net_rx(w->pairs[i], ip_input, w->ifs[i], RX_BUDGET);
		for (unsigned i = 0; i < w->n; i++)
			net_tx_flush(w->pairs[i]);
		if (w->cpu == 0)
			watch();
		for (unsigned i = 0; i < nnics; i++)
			if (nics[i].pair[0].cpu == w->cpu)
				ping_work(i);
		if (!got)
			net_wait(w->pairs, w->n, WAIT_SLICE_US);
	}
	/* What was answered last (the "stopping") must leave before we end. */
	for (unsigned i = 0; i < w->n; i++)
		net_tx_drain(w->pairs[i], NET_TIMEOUT_US);
	if (irq_mode)
		user_irqs(false);
	return 0;
}

/* ---- set-up ---- */

/* Split a comma list into words of up to 23 characters; the count. */
static unsigned split(const char *s, char words[][24], unsigned max)
{
	unsigned n = 0, k = 0;

	for (; *s && n < max; s++) {
		if (*s == ',') {
			words[n++][k] = 0;
			k = 0;
		} else if (k < 23) {
			words[n][k++] = *s;
		}
	}
	if (n < max && (k || n))
		words[n++][k] = 0;
	return n;
}

static bool read_opts(struct net_opts *o)
{
	char v[200], words[MAX_TARGETS][24];
	u64 pairs = 0, rxbuf = 0, secs = 0;

	*o = (struct net_opts){
		.irq = !demo_mode, .csum = cmdline_flag("net_csum", true),
		.mrg = cmdline_flag("net_mrg", true), .mq = cmdline_flag("net_mq", true),
		.event_idx = cmdline_flag("event_idx", true), .one_cpu = demo_mode,
	};
	if (cmdline_get("net_wait", v, sizeof(v))) {
		if (strcmp(v, "irq") && strcmp(v, "poll")) {
			printf("FAIL net-echo: net_wait=%s: expected irq or poll\n", v);
			return false;
		}
		o->irq = !strcmp(v, "irq");
	}
	if (!cmdline_num("net-echo", "net_pairs", 1, NET_MAX_PAIRS, &pairs) ||
	    !cmdline_num("net-echo", "net_rxbuf", 64, 16384, &rxbuf) ||
	    !cmdline_num("net-echo", "net_secs", 1, 86400, &secs) ||
	    !cmdline_num("net-echo", "net_ping_count", 1, IP_PING_MAX, &ping_count) ||
	    !cmdline_num("net-echo", "net_ping_size", 0, IP_PING_SIZE_MAX, &ping_size) ||
	    !cmdline_num("net-echo", "net_ping_wait", 1, 3600, &ping_wait_s))
		return false;
	if (demo_mode && !cmdline_get("net_ping_count", v, sizeof(v)))
		ping_count = DEMO_PING_COUNT;
	o->pairs = pairs;
	o->rxbuf = rxbuf;
	end_at = secs ? time_us() + secs * 1000000 : 0;
	ntargets = 0;
	if (cmdline_get("net_ping", v, sizeof(v))) {
		unsigned n = split(v, words, MAX_TARGETS);

		for (unsigned i = 0; i < n; i++) {
			if (!ip_parse(words[i], &targets[ntargets].addr, NULL)) {
				printf("FAIL net-echo: net_ping=%s: expected A.B.C.D[,A.B.C.D...]\n", v);
				return false;
			}
			ntargets++;
		}
	}
	return true;
}

/* Addresses from ip=, one per NIC in order. */
static bool assign_addresses(void)
{
	char v[200], words[NET_MAX_NICS][24];
	unsigned n = 0;

	if (cmdline_get("ip", v, sizeof(v)))
		n = split(v, words, NET_MAX_NICS);
	for (unsigned i = 0; i < nnics; i++) {
		u32 addr = 0;
		unsigned prefix = 0;

		if (i < n && words[i][0] && !ip_parse(words[i], &addr, &prefix)) {
			printf("FAIL net-echo: ip=%s: expected A.B.C.D/NN[,A.B.C.D/NN...]\n", v);
			return false;
		}
		ip_if_init(&ifs[i], &nics[i], addr, prefix);
		ifs[i].control = demo_mode ? NULL : control;
		if (addr)
			printf("net%u: ip " IP_FMT "/%u\n", i, IP_ARGS(addr), prefix);
		else
			printf("net%u: no address (ip= gives none): answers nothing\n", i);
	}
	return true;
}

/* Each ping target goes to the NIC whose subnet holds it. */
static bool route_targets(void)
{
	for (unsigned t = 0; t < ntargets; t++) {
		unsigned i = 0;

		for (; i < nnics; i++)
			if (ifs[i].addr && (targets[t].addr & ifs[i].mask) == (ifs[i].addr & ifs[i].mask))
				break;
		if (i == nnics) {
			printf("FAIL net-echo: net_ping " IP_FMT ": on no NIC's subnet\n",
			       IP_ARGS(targets[t].addr));
			return false;
		}
		targets[t].nic = i;
	}
	pings_left = ntargets;
	return true;
}

static void describe(struct net_nic *n)
{
	char f[160];
	struct net_pair *p0 = &n->pair[0];

	net_features(n, f, sizeof(f));
	printf("net%u: %02x:%02x.%x mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u, link %s, %u queue "
	       "pairs (max %u), %s, rx buffers %u x %u, features: %s\n", n->index, n->v.bus,
	       n->v.dev, n->v.fn, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
	       n->mtu, link[n->index] ? "up" : "down", n->npairs, n->max_pairs,
	       n->o.irq ? "irq" : "poll", p0->nrx, p0->rxbuf, f);
	for (unsigned k = 0; k < n->npairs; k++)
		printf("net%u: pair %u on cpu %u\n", n->index, k, n->pair[k].cpu);
	if (n->note[0])
		printf("net%u: note: %s\n", n->index, n->note);
}

/* Find and start every NIC; false after a FAIL line (or, in the demo,
 * after saying why there is nothing to show). */
static bool open_nics(const struct net_opts *o)
{
	char why[WHY_LEN];
	unsigned pairs = 0;

	nnics = 0;
	for (unsigned i = 0; i < NET_MAX_NICS; i++) {
		struct net_nic *n = &nics[i];
		struct net_opts oi = *o;
		int r = net_probe(n, i, why, sizeof(why));

		if (r == 0)
			break;
		if (r < 0) {
			printf("%snet%u: unusable: %s\n", demo_mode ? "" : "FAIL net-echo: ", i, why);
			return false;
		}
		oi.first_cpu = pairs;
		if (!net_init(n, &oi, why, sizeof(why))) {
			printf("%snet%u: cannot start: %s\n", demo_mode ? "" : "FAIL net-echo: ", i, why);
			return false;
		}
		pairs += n->npairs;
		link[i] = net_link_up(n);
		describe(n);
		nnics++;
	}
	if (!nnics)
		printf("%s\n", demo_mode ? "net: none (no virtio-net device)"
					 : "FAIL net-echo: no virtio-net device");
	return nnics > 0;
}

/* The loops, until stopped; the counters. */
static bool run(void)
{
	unsigned ncpu = 0;

	memset(workers, 0, sizeof(workers));
	for (unsigned c = 0; c < MAX_CPUS; c++)
		workers[c].cpu = c;
	for (unsigned i = 0; i < nnics; i++)
		for (unsigned k = 0; k < nics[i].npairs; k++) {
			struct worker *w = &workers[nics[i].pair[k].cpu];

			w->ifs[w->n] = &ifs[i];
			w->pairs[w->n++] = &nics[i].pair[k];
		}
	for (unsigned c = 0; c < smp.ncpus; c++)
		ncpu += c == 0 || workers[c].n;
	link_checked = time_us();
	stop_flag = 0;
	if (!demo_mode)
		printf("net-echo: ready (%u NICs, %u CPUs, %s)\n", nnics, ncpu,
		       irq_mode ? "interrupts" : "polling");
	for (unsigned c = 1; c < smp.ncpus; c++)
		if (workers[c].n) {
			workers[c].started = smp_start(c, serve, &workers[c]);
			if (!workers[c].started) {
				printf("FAIL net-echo: cpu %u cannot take its queue pairs\n", c);
				request_stop();
			}
		}
	user_call(serve, &workers[0]);
	for (unsigned c = 1; c < smp.ncpus; c++) {
		long r;

		if (workers[c].started && !smp_wait(c, 10 * NET_TIMEOUT_US, &r))
			printf("net-echo: cpu %u did not stop\n", c);
	}
	print_stats();
	return true;
}

bool net_echo_run(void)
{
	struct net_opts o;

	demo_mode = false;
	if (!read_opts(&o))
		return false;
	irq_mode = o.irq;
	if (!open_nics(&o) || !assign_addresses() || !route_targets())
		return false;
	run();
	printf("net-echo: done\n");
	return true;
}

void demo_net(void)
{
	struct net_opts o;

	demo_mode = true;
	if (!read_opts(&o))
		return;
	irq_mode = o.irq;
	if (!open_nics(&o) || !assign_addresses() || !route_targets())
		return;
	if (!ntargets) {
		printf("net: nothing to ping (net_ping= gives the host's address)\n");
		return;
	}
	if (!end_at)
		end_at = time_us() + (ping_wait_s + 5 + ping_count) * 1000000;
	run();
}
