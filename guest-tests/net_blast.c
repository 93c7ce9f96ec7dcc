// SPDX-License-Identifier: Apache-2.0
/*
 * mode=net-blast: the guest's half of the transmit test of
 * tools/bench-net.sh. Every virtio-net NIC comes up with its address (ip=,
 * as in net-echo) and answers ARP, ping and UDP echo (port 7) through the
 * same IPv4 stack; on the control port (UDP 9) it takes:
 *
 *   "blast SECS SIZE"  every queue pair of the NIC the request came in on
 *                      sends SIZE-byte UDP datagrams (1-8192; above the MTU
 *                      as IP fragments) to the request's sender (address
 *                      and port), pair k from port 5000+k, as fast as its
 *                      transmit queue takes them, for SECS seconds (1-60).
 *                      Answered "blasting" (or "busy" while one runs).
 *   "count"            answered "sent N dropped D": datagrams of the last
 *                      blast handed to the NIC, and those given up on
 *                      (no transmit buffer came free in time)
 *   "stop"             answered "stopping"; the mode ends (status 0)
 *
 * Command line: ip=A.B.C.D/NN[,...] (one per NIC), net_wait=irq|poll,
 * net_pairs=N, net_csum=0, net_mrg=0, net_mq=0, event_idx=0: as net-echo.
 * Pair k is served by online CPU k mod n, in ring 3; a CPU with nothing
 * to send and nothing received waits (interrupt or poll) in short slices.
 */
#include "modes.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "ipv4.h"
#include "smp.h"
#include "tests.h"
#include "time.h"

#define BLAST_PORT_BASE		5000
#define BLAST_SIZE_MAX		8192
#define BLAST_SECS_MAX		60
#define BLAST_BURST		16	/* datagrams per pair between receive checks */
#define SLICE_US		10000
#define RX_BUDGET		64
#define TICK_US			100000	/* reassembly timeouts, on CPU 0 */

struct blast_cpu {
	unsigned n;
	struct net_pair *pairs[NET_MAX_NICS * NET_MAX_PAIRS];
	struct ip_if *ifs[NET_MAX_NICS * NET_MAX_PAIRS];
	bool started;
};

static struct net_nic nics[NET_MAX_NICS];
static struct ip_if ifs[NET_MAX_NICS];
static unsigned nnics;
static struct blast_cpu blasters[MAX_CPUS];
static bool irq_mode;
static u32 stop_flag;
static u8 payload[BLAST_SIZE_MAX];

/*
 * The blast: the control hook fills in where to and how much, then
 * publishes `until` (release); senders read `until` (acquire), then the
 * rest. A new one is refused while one runs, so the fields never change
 * under a sender.
 */
static struct {
	struct ip_if *ifc;
	u32 dst, size;
	u16 dport;
	u64 until;		/* time_us(); 0: none yet */
} blast;
static u64 blast_sent, blast_dropped;

static bool stopping(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE);
}

/* The next word of s (from *at) as a number; false if none or not one. */
static bool word_num(const char *s, unsigned *at, u64 *out)
{
	char w[16];
	unsigned k = 0;

	while (s[*at] == ' ')
		(*at)++;
	while (s[*at] && s[*at] != ' ' && k < sizeof(w) - 1)
		w[k++] = s[(*at)++];
	w[k] = 0;
	return k && parse_uint(w, 10, out);
}

static u32 start_blast(struct ip_if *ifc, u32 src, u16 sport, const char *args, char *out,
		       u32 max)
{
	u64 secs, size, now = time_us();
	unsigned at = 0;

	if (!word_num(args, &at, &secs) || !word_num(args, &at, &size) || !secs ||
	    secs > BLAST_SECS_MAX || !size || size > BLAST_SIZE_MAX)
		return snprintf(out, max, "usage: blast SECS(1-%u) SIZE(1-%u)\n", BLAST_SECS_MAX,
				BLAST_SIZE_MAX);
	if (now < __atomic_load_n(&blast.until, __ATOMIC_ACQUIRE))
		return snprintf(out, max, "busy\n");
	__atomic_store_n(&blast.until, 0, __ATOMIC_RELEASE);
	blast.ifc = ifc;
	blast.dst = src;
	blast.dport = sport;
	blast.size = size;
	__atomic_store_n(&blast_sent, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&blast_dropped, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&blast.until, now + secs * 1000000, __ATOMIC_RELEASE);
	printf("net-blast: %lu s of %lu-byte datagrams to " IP_FMT ":%u from net%u\n", secs, size,
	       IP_ARGS(src), sport, ifc->nic->index);
	return snprintf(out, max, "blasting\n");
}

static u32 control(struct ip_if *ifc, struct net_pair *p, u32 src, u16 sport, const u8 *data,
		   u32 len, char *out, u32 max)
{
	char cmd[64];

	(void)p;
	len = MIN(len, (u32)sizeof(cmd) - 1);
	memcpy(cmd, data, len);
	while (len && (cmd[len - 1] == '\n' || cmd[len - 1] == ' '))
		len--;
	cmd[len] = 0;
	if (!strcmp(cmd, "stop")) {
		printf("net-blast: stop requested by " IP_FMT ":%u\n", IP_ARGS(src), sport);
		__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
		return snprintf(out, max, "stopping\n");
	}
	if (!strcmp(cmd, "count"))
		return snprintf(out, max, "sent %lu dropped %lu\n",
				__atomic_load_n(&blast_sent, __ATOMIC_ACQUIRE),
				__atomic_load_n(&blast_dropped, __ATOMIC_ACQUIRE));
	if (!strncmp(cmd, "blast ", 6))
		return start_blast(ifc, src, sport, cmd + 6, out, max);
	return snprintf(out, max, "unknown command (blast SECS SIZE, count, stop)\n");
}

/* A burst from pair p, if a blast through its NIC is on; true if so. */
static bool send_burst(struct net_pair *p, struct ip_if *ifc)
{
	u64 until = __atomic_load_n(&blast.until, __ATOMIC_ACQUIRE), sent = 0, dropped = 0;

	if (!until || blast.ifc != ifc || time_us() >= until)
		return false;
	for (unsigned i = 0; i < BLAST_BURST; i++) {
		if (ip_send_udp(ifc, p, NULL, blast.dst, BLAST_PORT_BASE + p->index, blast.dport,
				payload, blast.size))
			sent++;
		else
			dropped++;
	}
	__atomic_fetch_add(&blast_sent, sent, __ATOMIC_RELEASE);
	if (dropped)
		__atomic_fetch_add(&blast_dropped, dropped, __ATOMIC_RELEASE);
	return true;
}

static long serve(void *arg)
{
	struct blast_cpu *c = arg;
	bool boot_cpu = c == &blasters[0];
	u64 ticked = time_us();

	if (irq_mode)
		user_irqs(true);
	while (!stopping()) {
		unsigned got = 0;
		bool busy = false;

		for (unsigned i = 0; i < c->n; i++)
			got += net_rx(c->pairs[i], ip_input, c->ifs[i], RX_BUDGET);
		for (unsigned i = 0; i < c->n; i++) {
			busy |= send_burst(c->pairs[i], c->ifs[i]);
			net_tx_flush(c->pairs[i]);
		}
		if (boot_cpu && time_us() - ticked > TICK_US) {
			ip_tick();
			ticked = time_us();
		}
		if (!got && !busy)
			net_wait(c->pairs, c->n, SLICE_US);
	}
	for (unsigned i = 0; i < c->n; i++)
		net_tx_drain(c->pairs[i], NET_TIMEOUT_US);
	if (irq_mode)
		user_irqs(false);
	return 0;
}

/* ip=: one address per NIC, in PCI order. */
static bool addresses(void)
{
	char v[200];
	const char *s = v;

	if (!cmdline_get("ip", v, sizeof(v)))
		v[0] = 0;
	for (unsigned i = 0; i < nnics; i++) {
		char w[24];
		unsigned k = 0, prefix = 0;
		u32 addr = 0;

		while (*s && *s != ',' && k < sizeof(w) - 1)
			w[k++] = *s++;
		w[k] = 0;
		if (*s == ',')
			s++;
		if (k && !ip_parse(w, &addr, &prefix)) {
			printf("FAIL net-blast: ip=%s: expected A.B.C.D/NN[,A.B.C.D/NN...]\n", v);
			return false;
		}
		ip_if_init(&ifs[i], &nics[i], addr, prefix);
		ifs[i].control = control;
		printf("net%u: ip " IP_FMT "/%u\n", i, IP_ARGS(addr), prefix);
	}
	return true;
}

static bool open_nics(void)
{
	struct net_opts o = {
		.irq = true, .csum = cmdline_flag("net_csum", true),
		.mrg = cmdline_flag("net_mrg", true), .mq = cmdline_flag("net_mq", true),
		.event_idx = cmdline_flag("event_idx", true),
	};
	char v[16], why[WHY_LEN];
	u64 pairs = 0;
	unsigned first = 0;

	if (cmdline_get("net_wait", v, sizeof(v))) {
		if (strcmp(v, "irq") && strcmp(v, "poll")) {
			printf("FAIL net-blast: net_wait=%s: expected irq or poll\n", v);
			return false;
		}
		o.irq = !strcmp(v, "irq");
	}
	if (cmdline_get("net_pairs", v, sizeof(v)) &&
	    (!parse_uint(v, 10, &pairs) || !pairs || pairs > NET_MAX_PAIRS)) {
		printf("FAIL net-blast: net_pairs=%s: expected 1 to %u\n", v, NET_MAX_PAIRS);
		return false;
	}
	o.pairs = pairs;
	irq_mode = o.irq;
	for (nnics = 0; nnics < NET_MAX_NICS; nnics++) {
		struct net_nic *n = &nics[nnics];
		char f[160];
		int r = net_probe(n, nnics, why, sizeof(why));

		if (r == 0)
			break;
		o.first_cpu = first;
		if (r < 0 || !net_init(n, &o, why, sizeof(why))) {
			printf("FAIL net-blast: net%u: %s\n", nnics, why);
			return false;
		}
		first += n->npairs;
		net_features(n, f, sizeof(f));
		printf("net%u: %u queue pairs, %s, features: %s\n", nnics, n->npairs,
		       o.irq ? "irq" : "poll", f);
	}
	if (!nnics)
		printf("FAIL net-blast: no virtio-net device\n");
	return nnics > 0;
}

bool net_blast_run(void)
{
	unsigned cpus_used = 0;

	stop_flag = 0;
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (u8)(i * 13 + 7);
	if (!open_nics() || !addresses())
		return false;
	memset(blasters, 0, sizeof(blasters));
	for (unsigned i = 0; i < nnics; i++)
		for (unsigned k = 0; k < nics[i].npairs; k++) {
			struct blast_cpu *c = &blasters[nics[i].pair[k].cpu];

			c->ifs[c->n] = &ifs[i];
			c->pairs[c->n++] = &nics[i].pair[k];
		}
	for (unsigned c = 0; c < smp.ncpus; c++)
		cpus_used += c == 0 || blasters[c].n;
	printf("net-blast: ready (%u NICs, %u CPUs, %s)\n", nnics, cpus_used,
	       irq_mode ? "interrupts" : "polling");
	for (unsigned c = 1; c < smp.ncpus; c++)
		if (blasters[c].n) {
			blasters[c].started = smp_start(c, serve, &blasters[c]);
			if (!blasters[c].started) {
				printf("FAIL net-blast: cpu %u cannot take its queue pairs\n", c);
				__atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
			}
		}
	user_call(serve, &blasters[0]);
	for (unsigned c = 1; c < smp.ncpus; c++) {
		long r;

		if (blasters[c].started && !smp_wait(c, 10 * NET_TIMEOUT_US, &r))
			printf("net-blast: cpu %u did not stop\n", c);
	}
	printf("net-blast: last blast: %lu sent, %lu dropped\n", blast_sent, blast_dropped);
	printf("net-blast: done\n");
	return true;
}
