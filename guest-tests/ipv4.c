// SPDX-License-Identifier: Apache-2.0
/* ARP, IPv4, ICMP echo and UDP echo for the test guest: see ipv4.h. */
#include "ipv4.h"
#include "console.h"
#include "time.h"

#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define ETH_MIN_FRAME		60	/* without the FCS */
#define IP_HLEN			20	/* ours: no options */
#define IP_MF			0x2000
#define IP_OFFSET		0x1fff
#define IP_TTL			64
#define ICMP_ECHO_REPLY		0
#define ICMP_ECHO		8
#define ARP_REQUEST		1
#define ARP_REPLY		2
#define ARP_LEN			28

#define REASM_SLOTS		4
#define REASM_MAX		(65535 - IP_HLEN)	/* payload of the largest datagram */
#define REASM_TIMEOUT_US	10000000
#define PING_INTERVAL_US	200000
#define PING_LINGER_US		2000000	/* for replies after the last request */
#define ARP_RETRY_US		500000

#define CNT(ifc, field)		__atomic_fetch_add(&(ifc)->st.field, 1, __ATOMIC_RELAXED)

static const u8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- the Internet checksum (RFC 1071) ---- */

/* Adds big-endian 16-bit words; an odd last byte is padded with zero, so
 * only the last piece of a chain may have an odd length. */
static u64 sum16(u64 sum, const u8 *d, u32 len)
{
	u32 i = 0;

	for (; i + 1 < len; i += 2)
		sum += be16(d + i);
	if (len & 1)
		sum += (u32)d[len - 1] << 8;
	return sum;
}

static u16 fold(u64 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The sum of the UDP pseudo header. */
static u64 pseudo(u32 src, u32 dst, u8 proto, u32 len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

/* ---- locks ---- */

static void lock(u32 *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			cpu_relax();
}

static void unlock(u32 *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- set-up ---- */

bool ip_parse(const char *s, u32 *addr, unsigned *prefix)
{
	u32 a = 0;

	for (int part = 0; part < 4; part++) {
		u32 v = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			v = v * 10 + (*s - '0');
		if (!digits || digits > 3 || v > 255)
			return false;
		a = a << 8 | v;
		if (part < 3 && *s++ != '.')
			return false;
	}
	*addr = a;
	if (!prefix)
		return !*s;
	if (*s++ != '/')
		return false;
	*prefix = 0;
	for (int digits = 0; *s; s++, digits++) {
		if (*s < '0' || *s > '9' || digits > 1)
			return false;
		*prefix = *prefix * 10 + (*s - '0');
	}
	return *prefix >= 1 && *prefix <= 32;
}

void ip_if_init(struct ip_if *ifc, struct net_nic *n, u32 addr, unsigned prefix)
{
	memset(ifc, 0, sizeof(*ifc));
	ifc->nic = n;
	ifc->addr = addr;
	ifc->prefix = prefix;
	ifc->mask = prefix ? ~0u << (32 - prefix) : 0;
	ifc->tx_offload = true;
	ifc->next_id = (u32)rdtsc();
}

/* ---- ARP cache ---- */

static void arp_learn(struct ip_if *ifc, u32 ip, const u8 *mac, bool add)
{
	unsigned slot = IP_ARP_ENTRIES;

	lock(&ifc->arp_lock);
	for (unsigned i = 0; i < IP_ARP_ENTRIES; i++) {
		if (ifc->arp[i].valid && ifc->arp[i].ip == ip) {
			slot = i;
			break;
		}
		if (!ifc->arp[i].valid && slot == IP_ARP_ENTRIES)
			slot = i;
	}
	if (slot == IP_ARP_ENTRIES && add)
		slot = ip % IP_ARP_ENTRIES;	/* full: someone makes room */
	if (slot < IP_ARP_ENTRIES && (add || (ifc->arp[slot].valid && ifc->arp[slot].ip == ip))) {
		ifc->arp[slot].ip = ip;
		memcpy(ifc->arp[slot].mac, mac, 6);
		ifc->arp[slot].valid = true;
	}
	unlock(&ifc->arp_lock);
}

static bool arp_lookup(struct ip_if *ifc, u32 ip, u8 *mac)
{
	bool found = false;

	lock(&ifc->arp_lock);
	for (unsigned i = 0; i < IP_ARP_ENTRIES && !found; i++)
		if (ifc->arp[i].valid && ifc->arp[i].ip == ip) {
			memcpy(mac, ifc->arp[i].mac, 6);
			found = true;
		}
	unlock(&ifc->arp_lock);
	return found;
}

/* ---- output ---- */

/* Ethernet header, the rest zero up to the minimum frame. */
static void eth_header(u8 *f, const u8 *dst, const u8 *src, u16 type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

static void send_frame(struct net_pair *p, u8 *f, u32 len, u16 csum_start, u16 csum_offset)
{
	if (len < ETH_MIN_FRAME) {
		memset(f + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	net_tx_send(p, f, len, csum_start, csum_offset);
}

static bool arp_send(struct ip_if *ifc, struct net_pair *p, u16 op, const u8 *dmac, u32 tip,
		     const u8 *tmac)
{
	u8 *f = net_tx_alloc(p), *a;

	if (!f)
		return false;
	eth_header(f, dmac, ifc->nic->mac, ETH_P_ARP);
	a = f + NET_ETH_HLEN;
	put16(a, 1);			/* hardware: Ethernet */
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, ifc->nic->mac, 6);
	put32(a + 14, ifc->addr);
	memcpy(a + 18, tmac, 6);
	put32(a + 24, tip);
	send_frame(p, f, NET_ETH_HLEN + ARP_LEN, 0, 0);
	return true;
}

/* A transport message: its 8-byte header (checksum field zero) and data. */
struct l4 {
	u8 proto;
	u8 hdr[8];
	unsigned csum_at;	/* offset of the checksum field in hdr */
	const u8 *data;
	u32 len;
};

/* Byte `off` onwards of hdr || data, n bytes, to out. */
static void l4_copy(const struct l4 *m, u8 *out, u32 off, u32 n)
{
	if (off < sizeof(m->hdr)) {
		u32 k = MIN(n, (u32)sizeof(m->hdr) - off);

		memcpy(out, m->hdr + off, k);
		out += k;
		off += k;
		n -= k;
	}
	if (n)
		memcpy(out, m->data + (off - sizeof(m->hdr)), n);
}

/* One datagram to dst (Ethernet dmac), fragmented to the MTU if need be. */
static bool ip_send(struct ip_if *ifc, struct net_pair *p, const u8 *dmac, u32 dst, struct l4 *m)
{
	struct net_nic *n = ifc->nic;
	u32 total = sizeof(m->hdr) + m->len, frag_max = (n->tx_mtu - IP_HLEN) & ~7u;
	bool frag = IP_HLEN + total > n->tx_mtu;
	bool offload = !frag && n->tx_csum && ifc->tx_offload;
	u64 ph = m->proto == IP_PROTO_UDP ? pseudo(ifc->addr, dst, m->proto, total) : 0;
	u16 id = __atomic_fetch_add(&ifc->next_id, 1, __ATOMIC_RELAXED);

	if (total > REASM_MAX)
		return false;
	if (offload) {
		/* The device sums from csum_start and adds what the field holds:
		 * the pseudo header for UDP (5.1.6.2), nothing for ICMP. */
		put16(m->hdr + m->csum_at, m->proto == IP_PROTO_UDP ? fold(ph) : 0);
	} else {
		u16 c = ~fold(sum16(sum16(ph, m->hdr, sizeof(m->hdr)), m->data, m->len));

		if (m->proto == IP_PROTO_UDP && !c)
			c = 0xffff;	/* 0 would mean "no checksum" (RFC 768) */
		put16(m->hdr + m->csum_at, c);
	}
	for (u32 off = 0; off < total;) {
		u32 chunk = frag ? MIN(frag_max, total - off) : total;
		u8 *f = net_tx_alloc(p), *ip;

		if (!f)
			return false;
		eth_header(f, dmac, n->mac, ETH_P_IP);
		ip = f + NET_ETH_HLEN;
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, IP_HLEN + chunk);
		put16(ip + 4, id);
		put16(ip + 6, (off + chunk < total ? IP_MF : 0) | off / 8);
		ip[8] = IP_TTL;
		ip[9] = m->proto;
		put16(ip + 10, 0);
		put32(ip + 12, ifc->addr);
		put32(ip + 16, dst);
		put16(ip + 10, ~fold(sum16(0, ip, IP_HLEN)));
		l4_copy(m, ip + IP_HLEN, off, chunk);
		if (offload)
			send_frame(p, f, NET_ETH_HLEN + IP_HLEN + chunk, NET_ETH_HLEN + IP_HLEN,
				   m->csum_at);
		else
			send_frame(p, f, NET_ETH_HLEN + IP_HLEN + chunk, 0, 0);
		if (frag)
			CNT(ifc, tx_fragments);
		off += chunk;
	}
	return true;
}

bool ip_send_udp(struct ip_if *ifc, struct net_pair *p, const u8 *dmac, u32 dst, u16 sport,
		 u16 dport, const void *data, u32 len)
{
	struct l4 m = { .proto = IP_PROTO_UDP, .csum_at = 6, .data = data, .len = len };
	u8 mac[6];

	if (!dmac) {
		if (!arp_lookup(ifc, dst, mac))
			return false;
		dmac = mac;
	}
	put16(m.hdr, sport);
	put16(m.hdr + 2, dport);
	put16(m.hdr + 4, 8 + len);
	return ip_send(ifc, p, dmac, dst, &m);
}

/* ---- ICMP ---- */

static void ping_reply(struct ip_if *ifc, u16 id, u16 seq, const u8 *data, u32 len)
{
	struct ip_ping *g = &ifc->ping;
	enum ip_ping_state st = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
	bool right = len == g->size;

	if ((st != PING_SEND && st != PING_WAIT) || id != g->id || !seq || seq > g->count)
		return;
	for (u32 i = 0; right && i < len; i++)
		right = data[i] == (u8)(i + seq);
	if (__atomic_exchange_n(&g->got[seq - 1], 1, __ATOMIC_ACQ_REL))
		return;		/* a duplicate */
	g->rtt_us[seq - 1] = time_us() - g->sent_at[seq - 1];
	if (!right)
		__atomic_fetch_add(&g->wrong, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g->received, 1, __ATOMIC_RELEASE);
}

static void icmp_input(struct ip_if *ifc, struct net_pair *p, const u8 *smac, u32 src,
		       const u8 *icmp, u32 len, u8 flags)
{
	struct l4 m = { .proto = IP_PROTO_ICMP, .csum_at = 2 };

	if (len < 8) {
		CNT(ifc, malformed);
		return;
	}
	if (!(flags & (NET_HDR_F_NEEDS_CSUM | NET_HDR_F_DATA_VALID)) &&
	    fold(sum16(0, icmp, len)) != 0xffff) {
		CNT(ifc, csum_bad);
		return;
	}
	if (icmp[0] == ICMP_ECHO && icmp[1] == 0) {
		m.hdr[0] = ICMP_ECHO_REPLY;
		memcpy(m.hdr + 4, icmp + 4, 4);		/* identifier, sequence */
		m.data = icmp + 8;
		m.len = len - 8;
		if (ip_send(ifc, p, smac, src, &m))
			CNT(ifc, icmp_echo);
	} else if (icmp[0] == ICMP_ECHO_REPLY && icmp[1] == 0 && src == ifc->ping.dst) {
		ping_reply(ifc, be16(icmp + 4), be16(icmp + 6), icmp + 8, len - 8);
	} else {
		CNT(ifc, ignored);
	}
}

/* ---- UDP ---- */

static void udp_input(struct ip_if *ifc, struct net_pair *p, const u8 *smac, u32 src,
		      const u8 *u, u32 len, u8 flags)
{
	/* One answer buffer per pair: a pair has one CPU. */
	static char out[NET_MAX_NICS * NET_MAX_PAIRS][4096];
	u16 sport, dport, ulen;

	if (len < 8 || (ulen = be16(u + 4)) < 8 || ulen > len) {
		CNT(ifc, malformed);
		return;
	}
	sport = be16(u);
	dport = be16(u + 2);
	if (be16(u + 6) && !(flags & (NET_HDR_F_NEEDS_CSUM | NET_HDR_F_DATA_VALID)) &&
	    fold(sum16(pseudo(src, ifc->addr, IP_PROTO_UDP, ulen), u, ulen)) != 0xffff) {
		CNT(ifc, csum_bad);
		return;
	}
	if (dport == IP_PORT_ECHO) {
		if (ip_send_udp(ifc, p, smac, src, IP_PORT_ECHO, sport, u + 8, ulen - 8))
			CNT(ifc, udp_echo);
	} else if (dport == IP_PORT_CONTROL && ifc->control) {
		char *o = out[(ifc->nic->index * NET_MAX_PAIRS + p->index) % ARRAY_SIZE(out)];
		u32 n;

		CNT(ifc, control);
		n = ifc->control(ifc, p, src, sport, u + 8, ulen - 8, o, sizeof(out[0]));
		if (n)
			ip_send_udp(ifc, p, smac, src, IP_PORT_CONTROL, sport, o, n);
	} else {
		CNT(ifc, ignored);
	}
}

/* ---- reassembly ---- */

enum { SLOT_FREE, SLOT_FILL, SLOT_BUSY };

struct reasm {
	u32 state;
	struct ip_if *ifc;
	u32 src, dst;
	u16 id;
	u8 proto;
	u32 total;		/* payload bytes, known once the last fragment came */
	u64 expires;
	u8 blocks[(REASM_MAX + 7) / 8 / 8 + 1];	/* one bit per 8 bytes received */
	u8 data[REASM_MAX + 8];
};

static struct reasm slots[REASM_SLOTS];
static u32 reasm_lock;

static bool have_all(const struct reasm *r)
{
	u32 nblocks = (r->total + 7) / 8;

	for (u32 b = 0; b < nblocks; b++)
		if (!(r->blocks[b / 8] & (1 << (b % 8))))
			return false;
	return true;
}

/*
 * File one fragment (payload data, len bytes at byte offset off). Returns
 * the slot, now SLOT_BUSY, when the datagram is whole: the caller
 * processes it and frees the slot. NULL otherwise.
 */
static struct reasm *reassemble(struct ip_if *ifc, u32 src, u32 dst, u16 id, u8 proto, u32 off,
				const u8 *data, u32 len, bool last)
{
	struct reasm *r = NULL, *free = NULL;
	u64 now = time_us();

	if (off + len > REASM_MAX || (!last && len % 8) || (!last && !len)) {
		CNT(ifc, reasm_dropped);
		return NULL;
	}
	lock(&reasm_lock);
	for (unsigned i = 0; i < REASM_SLOTS; i++) {
		struct reasm *s = &slots[i];

		if (s->state == SLOT_FILL && now > s->expires) {
			__atomic_fetch_add(&s->ifc->st.reasm_dropped, 1, __ATOMIC_RELAXED);
			s->state = SLOT_FREE;
		}
		if (s->state == SLOT_FILL && s->ifc == ifc && s->src == src && s->dst == dst &&
		    s->id == id && s->proto == proto)
			r = s;
		if (s->state == SLOT_FREE && !free)
			free = s;
	}
	if (!r && free) {
		r = free;
		r->state = SLOT_FILL;
		r->ifc = ifc;
		r->src = src;
		r->dst = dst;
		r->id = id;
		r->proto = proto;
		r->total = 0;
		r->expires = now + REASM_TIMEOUT_US;
		memset(r->blocks, 0, sizeof(r->blocks));
	}
	if (!r) {
		unlock(&reasm_lock);
		CNT(ifc, reasm_dropped);
		return NULL;
	}
	memcpy(r->data + off, data, len);
	for (u32 b = off / 8; b < (off + len + 7) / 8; b++)
		r->blocks[b / 8] |= 1 << (b % 8);
	if (last)
		r->total = off + len;
	if (r->total && have_all(r))
		r->state = SLOT_BUSY;
	else
		r = NULL;
	unlock(&reasm_lock);
	return r;
}

void ip_tick(void)
{
	u64 now = time_us();

	lock(&reasm_lock);
	for (unsigned i = 0; i < REASM_SLOTS; i++)
		if (slots[i].state == SLOT_FILL && now > slots[i].expires) {
			__atomic_fetch_add(&slots[i].ifc->st.reasm_dropped, 1, __ATOMIC_RELAXED);
			slots[i].state = SLOT_FREE;
		}
	unlock(&reasm_lock);
}

/* ---- input ---- */

static void transport_input(struct ip_if *ifc, struct net_pair *p, const u8 *smac, u32 src,
			    u8 proto, const u8 *data, u32 len, u8 flags)
{
	if (proto == IP_PROTO_ICMP)
		icmp_input(ifc, p, smac, src, data, len, flags);
	else if (proto == IP_PROTO_UDP)
		udp_input(ifc, p, smac, src, data, len, flags);
	else
		CNT(ifc, ignored);
}

static void ipv4_input(struct ip_if *ifc, struct net_pair *p, const u8 *smac, const u8 *ip,
		       u32 len, u8 flags)
{
	u32 hlen, tot, src, dst, off;
	u16 frag;
	struct reasm *r;

	if (len < IP_HLEN || ip[0] >> 4 != 4 || (hlen = (ip[0] & 15) * 4) < IP_HLEN || hlen > len ||
	    (tot = be16(ip + 2)) < hlen || tot > len) {
		CNT(ifc, malformed);
		return;
	}
	if (fold(sum16(0, ip, hlen)) != 0xffff) {
		CNT(ifc, csum_bad);
		return;
	}
	src = be32(ip + 12);
	dst = be32(ip + 16);
	if (!ifc->addr || dst != ifc->addr) {
		CNT(ifc, ignored);
		return;
	}
	frag = be16(ip + 6);
	if (!(frag & (IP_MF | IP_OFFSET))) {
		transport_input(ifc, p, smac, src, ip[9], ip + hlen, tot - hlen, flags);
		return;
	}
	CNT(ifc, fragments);
	off = (frag & IP_OFFSET) * 8;
	r = reassemble(ifc, src, dst, be16(ip + 4), ip[9], off, ip + hlen, tot - hlen,
		       !(frag & IP_MF));
	if (!r)
		return;
	CNT(ifc, reassembled);
	/* A whole datagram: no per-frame checksum flag speaks for it. */
	transport_input(ifc, p, smac, src, r->proto, r->data, r->total, 0);
	__atomic_store_n(&r->state, SLOT_FREE, __ATOMIC_RELEASE);
}

static void arp_input(struct ip_if *ifc, struct net_pair *p, const u8 *a, u32 len)
{
	u32 spa, tpa;
	u16 op;

	if (len < ARP_LEN) {
		CNT(ifc, malformed);
		return;
	}
	if (be16(a) != 1 || be16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 || !ifc->addr) {
		CNT(ifc, ignored);
		return;
	}
	op = be16(a + 6);
	spa = be32(a + 14);
	tpa = be32(a + 24);
	/* RFC 826: update the sender if known; add it if the packet is for us. */
	arp_learn(ifc, spa, a + 8, tpa == ifc->addr);
	if (tpa != ifc->addr) {
		CNT(ifc, ignored);
		return;
	}
	if (op == ARP_REQUEST) {
		if (arp_send(ifc, p, ARP_REPLY, a + 8, spa, a + 8))
			CNT(ifc, arp_requests);
	} else if (op == ARP_REPLY) {
		CNT(ifc, arp_replies);
	}
}

void ip_input(struct net_pair *p, u8 *frame, u32 len, u8 flags, void *ctx)
{
	struct ip_if *ifc = ctx;

	if (flags & NET_HDR_F_NEEDS_CSUM)
		CNT(ifc, rx_csum_partial);
	else if (flags & NET_HDR_F_DATA_VALID)
		CNT(ifc, rx_csum_valid);
	if (len < NET_ETH_HLEN) {
		CNT(ifc, malformed);
		return;
	}
	if (memcmp(frame, ifc->nic->mac, 6) && memcmp(frame, broadcast, 6)) {
		CNT(ifc, ignored);
		return;
	}
	switch (be16(frame + 12)) {
	case ETH_P_ARP:
		arp_input(ifc, p, frame + NET_ETH_HLEN, len - NET_ETH_HLEN);
		break;
	case ETH_P_IP:
		ipv4_input(ifc, p, frame + 6, frame + NET_ETH_HLEN, len - NET_ETH_HLEN, flags);
		break;
	default:
		CNT(ifc, ignored);
	}
}

/* ---- ping ---- */

bool ip_ping_start(struct ip_if *ifc, u32 dst, unsigned count, unsigned size, u64 wait_us)
{
	struct ip_ping *g = &ifc->ping;

	if (!ifc->addr || (dst & ifc->mask) != (ifc->addr & ifc->mask) || dst == ifc->addr)
		return false;
	memset(g, 0, sizeof(*g));
	g->dst = dst;
	g->count = MIN(MAX(count, 1u), (unsigned)IP_PING_MAX);
	g->size = MIN(size, (unsigned)IP_PING_SIZE_MAX);
	g->id = 0x6b74 + ifc->nic->index;	/* "kt" */
	g->deadline = time_us() + wait_us;
	__atomic_store_n(&g->state, PING_ARP, __ATOMIC_RELEASE);
	return true;
}

static void ping_report(struct ip_if *ifc)
{
	struct ip_ping *g = &ifc->ping;
	u32 got = __atomic_load_n(&g->received, __ATOMIC_ACQUIRE);
	u64 min = ~0ULL, max = 0, sum = 0;

	for (unsigned i = 0; i < g->sent; i++)
		if (__atomic_load_n(&g->got[i], __ATOMIC_ACQUIRE)) {
			min = MIN(min, (u64)g->rtt_us[i]);
			max = MAX(max, (u64)g->rtt_us[i]);
			sum += g->rtt_us[i];
		}
	char line[160], *at = line, *end = line + sizeof(line);

	/* One printf: other CPUs print too. */
	at += snprintf(at, end - at, "net%u: ping " IP_FMT ": %u sent, %u received",
		       ifc->nic->index, IP_ARGS(g->dst), g->sent, got);
	if (g->wrong && at < end)
		at += snprintf(at, end - at, ", %u with wrong data", g->wrong);
	if (got && at < end)
		snprintf(at, end - at, ", rtt min/avg/max %lu/%lu/%lu us", min, sum / got, max);
	printf("%s\n", line);
}

static bool ping_send(struct ip_if *ifc, struct net_pair *p, unsigned seq)
{
	static u8 data[NET_MAX_NICS][IP_PING_SIZE_MAX];
	struct ip_ping *g = &ifc->ping;
	struct l4 m = { .proto = IP_PROTO_ICMP, .csum_at = 2, .len = g->size };
	u8 *d = data[ifc->nic->index % NET_MAX_NICS];

	for (u32 i = 0; i < g->size; i++)
		d[i] = i + seq;
	m.data = d;
	m.hdr[0] = ICMP_ECHO;
	put16(m.hdr + 4, g->id);
	put16(m.hdr + 6, seq);
	g->sent_at[seq - 1] = time_us();
	return ip_send(ifc, p, g->mac, g->dst, &m);
}

bool ip_ping_tick(struct ip_if *ifc, struct net_pair *p)
{
	struct ip_ping *g = &ifc->ping;
	u64 now = time_us();

	switch (g->state) {
	case PING_IDLE:
	case PING_DONE:
		return true;
	case PING_ARP:
		if (arp_lookup(ifc, g->dst, g->mac)) {
			g->next_at = now;
			__atomic_store_n(&g->state, PING_SEND, __ATOMIC_RELEASE);
		} else if (now > g->deadline) {
			printf("net%u: ping " IP_FMT ": no ARP reply\n", ifc->nic->index,
			       IP_ARGS(g->dst));
			g->state = PING_DONE;
			return true;
		} else if (now >= g->next_at) {
			arp_send(ifc, p, ARP_REQUEST, broadcast, g->dst, (const u8[6]){ 0 });
			net_tx_flush(p);
			g->next_at = now + ARP_RETRY_US;
		}
		return false;
	case PING_SEND:
		if (now >= g->next_at) {
			g->sent++;
			ping_send(ifc, p, g->sent);
			net_tx_flush(p);
			g->next_at = now + PING_INTERVAL_US;
			if (g->sent == g->count) {
				g->deadline = now + PING_LINGER_US;
				__atomic_store_n(&g->state, PING_WAIT, __ATOMIC_RELEASE);
			}
		}
		return false;
	case PING_WAIT:
		if (__atomic_load_n(&g->received, __ATOMIC_ACQUIRE) < g->count && now <= g->deadline)
			return false;
		ping_report(ifc);
		g->state = PING_DONE;
		return true;
	}
	return true;
}

/* ---- counters ---- */

int ip_stats_text(struct ip_if *ifc, char *buf, size_t len)
{
	const struct ip_stats *s = &ifc->st;

	return snprintf(buf, len,
			"arp_requests %lu arp_replies %lu icmp_echo %lu udp_echo %lu control %lu "
			"fragments %lu reassembled %lu reasm_dropped %lu tx_fragments %lu "
			"rx_csum_partial %lu rx_csum_valid %lu csum_bad %lu malformed %lu ignored %lu",
			s->arp_requests, s->arp_replies, s->icmp_echo, s->udp_echo, s->control,
			s->fragments, s->reassembled, s->reasm_dropped, s->tx_fragments,
			s->rx_csum_partial, s->rx_csum_valid, s->csum_bad, s->malformed, s->ignored);
}
