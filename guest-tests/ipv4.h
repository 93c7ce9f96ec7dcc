/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny IPv4 host for the test guest, one per NIC (struct ip_if), on
 * virtio_net.h: just enough for host tools to test a NIC through it.
 *
 *   ARP (RFC 826)    answers requests for our address; learns senders.
 *   IPv4 (RFC 791)   our unicast address only; header checksum checked;
 *                    fragments reassembled (datagrams up to 65535 bytes,
 *                    a few at a time, 10 s to complete); replies larger
 *                    than the MTU are fragmented; no options sent, none
 *                    acted on; no routing: every peer is on the link.
 *   ICMP (RFC 792)   echo requests answered with the same identifier,
 *                    sequence number and data; our own echo requests
 *                    (ping) and their replies.
 *   UDP (RFC 768)    port 7 echoes every datagram back (RFC 862); port 9
 *                    is the control port: its datagrams go to the owner's
 *                    hook (ip_if.control), which may answer.
 *
 * Replies go back to the Ethernet source of the request, on the queue pair
 * the request came in on. Transport checksums are checked unless the
 * device vouched for them (DATA_VALID) or left them partial (NEEDS_CSUM);
 * outgoing ones are left to the device (NEEDS_CSUM) when the NIC has CSUM,
 * the interface allows it and the datagram fits one frame, else computed
 * here.
 *
 * Any CPU may run ip_input for its own pairs at the same time: the ARP
 * cache, the reassembly slots and the ping state are shared under small
 * spinlocks or atomics, counters are atomic.
 */
#ifndef GUEST_IPV4_H
#define GUEST_IPV4_H

#include "virtio_net.h"

#define IP_PROTO_ICMP		1
#define IP_PROTO_UDP		17
#define IP_PORT_ECHO		7
#define IP_PORT_CONTROL		9
#define IP_ARP_ENTRIES		8
#define IP_PING_MAX		1000	/* echo requests one ping run may send */
#define IP_PING_SIZE_MAX	8192	/* data bytes in each */

#define IP_FMT			"%u.%u.%u.%u"
#define IP_ARGS(a)		(unsigned)((a) >> 24), (unsigned)(((a) >> 16) & 255), \
				(unsigned)(((a) >> 8) & 255), (unsigned)((a) & 255)

struct ip_if;

/*
 * A datagram to the control port: the payload, who sent it. The hook may
 * write an answer of up to max bytes to out and return its length (0: no
 * answer); it runs on the CPU of pair p.
 */
typedef u32 (*ip_control_fn)(struct ip_if *ifc, struct net_pair *p, u32 src, u16 sport,
			     const u8 *data, u32 len, char *out, u32 max);

/* Counters; updated atomically by every CPU. */
struct ip_stats {
	u64 arp_requests;	/* for our address, answered */
	u64 arp_replies;	/* to our own requests */
	u64 icmp_echo;		/* echo requests answered */
	u64 udp_echo;		/* datagrams echoed on port 7 */
	u64 control;		/* datagrams to port 9 */
	u64 fragments;		/* received */
	u64 reassembled;	/* datagrams put together from them */
	u64 reasm_dropped;	/* fragments given up: no slot, too big, timed out */
	u64 tx_fragments;	/* sent: parts of replies larger than the MTU */
	u64 rx_csum_partial;	/* frames the device left partial (NEEDS_CSUM) */
	u64 rx_csum_valid;	/* frames the device vouched for (DATA_VALID) */
	u64 csum_bad;		/* IP, ICMP or UDP checksum wrong: dropped */
	u64 malformed;		/* too short, bad lengths or fields: dropped */
	u64 ignored;		/* not for us: other MAC or address, other protocol */
};

enum ip_ping_state { PING_IDLE, PING_ARP, PING_SEND, PING_WAIT, PING_DONE };

struct ip_ping {
	enum ip_ping_state state;
	u32 dst;
	unsigned count, size;	/* echo requests, data bytes each */
	u16 id;
	unsigned sent;
	u64 next_at, deadline;	/* time_us() */
	u32 received, wrong;	/* atomics: any CPU may see a reply */
	u64 sent_at[IP_PING_MAX];
	u32 rtt_us[IP_PING_MAX];
	u8 got[IP_PING_MAX];
	u8 mac[6];		/* of dst, once resolved */
};

struct ip_if {
	struct net_nic *nic;
	u32 addr, mask;		/* addr 0: no address, IP and ARP ignored */
	unsigned prefix;
	bool tx_offload;	/* may leave checksums to the device (if it has CSUM) */
	ip_control_fn control;
	void *owner;		/* the control hook's */
	u32 next_id;		/* IP identification of our datagrams */
	u32 arp_lock;
	struct {
		u32 ip;
		u8 mac[6];
		bool valid;
	} arp[IP_ARP_ENTRIES];
	struct ip_ping ping;	/* driven by the CPU of the NIC's pair 0 */
	struct ip_stats st;
};

/* "A.B.C.D/NN" (prefix 1-32 required if prefix is given, else none allowed). */
bool ip_parse(const char *s, u32 *addr, unsigned *prefix);

/* Ready an interface on NIC n; addr 0 leaves it without an address. */
void ip_if_init(struct ip_if *ifc, struct net_nic *n, u32 addr, unsigned prefix);

/* A received frame (net_rx_fn; ctx is the struct ip_if). */
void ip_input(struct net_pair *p, u8 *frame, u32 len, u8 flags, void *ctx);

/* Send a UDP datagram from port sport to dst:dport (on-link; needs dst's
 * MAC in the ARP cache, or dmac). false if it could not go out. */
bool ip_send_udp(struct ip_if *ifc, struct net_pair *p, const u8 *dmac, u32 dst, u16 sport,
		 u16 dport, const void *data, u32 len);

/*
 * Ping dst (on-link) `count` times with `size` data bytes, 200 ms apart,
 * after resolving it by ARP for up to wait_us. Driven by ip_ping_tick on
 * the CPU of the NIC's pair 0 (p), which prints one line when it is over:
 *   netN: ping A.B.C.D: S sent, R received[, W with wrong data], rtt min/avg/max X/Y/Z us
 * or why it could not start. false if dst is not on the link.
 */
bool ip_ping_start(struct ip_if *ifc, u32 dst, unsigned count, unsigned size, u64 wait_us);
/* true once the run is over (and reported), or none was started. */
bool ip_ping_tick(struct ip_if *ifc, struct net_pair *p);

/* Give up reassemblies that ran out of time (any CPU, now and then). */
void ip_tick(void);

/* The counters as "key value" words, e.g. for the control port. */
int ip_stats_text(struct ip_if *ifc, char *buf, size_t len);

#endif
