// SPDX-License-Identifier: Apache-2.0
/*
 * mode=migrate-work, the devices (CPU 0 only, nothing here waits): see
 * migrate_work.c for the whole.
 *
 * Disks: the first virtio-blk disk and target 0 of the first virtio-scsi
 * controller, if present and writable. Blocks 0..N-1 (4 KiB, N = min(size,
 * 1024 blocks)), one request at a time: write block b with its next
 * generation (mw_stamp(), id = interface tag | b), then read back b or, every
 * other time, an older block, and check it against the generation recorded
 * in guest RAM once the write completed; a FLUSH every 32 writes. A read
 * that checks counts in blk_ok / scsi_ok. A request unanswered for 60 s is
 * an error (once).
 *
 * Network: the first virtio-net NIC, polled, one queue pair, when ip= and
 * peer=A.B.C.D:PORT are given: every 50 ms a 256-byte datagram from UDP
 * port 9 (magic, mw_nonce, sequence number, filler) to the peer, which sends
 * it back. An echo with our magic and mw_nonce but other bytes, or of a
 * datagram never sent, is an error; a lost one is only counted. The peer's
 * MAC comes from a one-shot ping (its ARP).
 */
#include "migrate_work.h"
#include "cmdline.h"
#include "console.h"
#include "disk.h"
#include "ipv4.h"
#include "tests.h"
#include "virtio_pci.h"

#define IO_STUCK_NS	60000000000ULL
#define DISK_BLOCKS	1024
#define FLUSH_EVERY	32
#define NET_EVERY_NS	50000000ULL
#define NET_LEN		256
#define NET_WINDOW	1024

struct dwork {
	const char *name;
	struct disk d;
	struct disk_req r;
	u32 *gen;
	u64 nblocks, next, block, ok, writes, rng, since;
	u32 wgen;
	enum { D_OFF, D_IDLE, D_WRITE, D_READ, D_FLUSH } st;
	bool stuck;
};

static u32 blk_gen[DISK_BLOCKS], scsi_gen[DISK_BLOCKS];
static struct dwork blkw = { .name = "blk", .gen = blk_gen };
static struct dwork scsiw = { .name = "scsi", .gen = scsi_gen };

static struct net_nic nic;
static struct ip_if ifc;
static bool net_on;
static u32 peer;
static u16 peer_port;
static u64 net_sent, net_ok, net_next;
static u8 net_got[NET_WINDOW];

/* ---- disks ---- */

static void disk_setup(struct dwork *dw)
{
	char why[WHY_LEN], pfx[32];
	u64 guard;
	u8 *b;
	int r = disk_open(&dw->d, dw->name, 1, why, sizeof(why));

	if (r <= 0) {
		printf("migrate-work: %s: %s\n", dw->name, r ? why : "none");
		if (r)
			mw_bad("%s: %s", dw->name, why);
		return;
	}
	snprintf(pfx, sizeof(pfx), "migrate-work: %s: ", dw->name);
	dw->d.ops->describe(&dw->d, pfx);
	dw->nblocks = MIN(dw->d.size / PAGE_SIZE, (u64)DISK_BLOCKS);
	if (dw->d.ro || dw->nblocks < 16) {
		printf("%snot used: %s\n", pfx, dw->d.ro ? "read-only" : "under 16 blocks");
		return;
	}
	guard = ALIGN_UP(dw->d.buf_guard, PAGE_SIZE);
	b = dma_alloc(PAGE_SIZE + 2 * guard, PAGE_SIZE);
	dw->r.buf = b ? b + guard : NULL;
	dw->r.len = PAGE_SIZE;
	if (!b || !dw->d.ops->req_init(&dw->d, &dw->r)) {
		mw_bad("%s: out of DMA memory", dw->name);
		return;
	}
	dw->rng = mw_nonce ^ (u64)(uintptr_t)dw;
	printf("%sblocks 0-%lu (4 KiB), one request at a time, a FLUSH every %u writes%s\n", pfx,
	       dw->nblocks - 1, FLUSH_EVERY, dw->d.flush ? "" : " (none offered)");
	dw->st = D_IDLE;
}

static u64 block_id(struct dwork *dw, u64 b)
{
	return (dw == &blkw ? 0xb1c0ULL : 0x5c51ULL) << 48 | b;
}

static void disk_submit(struct dwork *dw, enum disk_op op, u64 now)
{
	dw->r.op = op;
	dw->r.offset = dw->block * PAGE_SIZE;
	dw->since = now;
	dw->stuck = false;
	if (!dw->d.ops->submit(&dw->d, 0, &dw->r)) {
		mw_bad("%s: the queue took no request", dw->name);
		dw->st = D_OFF;
		return;
	}
	dw->d.ops->kick(&dw->d, 0);
}

static void disk_step(struct dwork *dw, u64 now)
{
	char why[WHY_LEN];
	struct disk_req *r;

	if (dw->st == D_OFF)
		return;
	if (dw->st != D_IDLE) {
		r = dw->d.ops->complete(&dw->d, 0);
		if (!r) {
			if (!dw->stuck && now - dw->since > IO_STUCK_NS) {
				mw_bad("%s: a request on block %lu had no answer for %llu s", dw->name,
				    dw->block, IO_STUCK_NS / 1000000000);
				dw->stuck = true;
			}
			return;
		}
		if (!r->ok) {
			mw_bad("%s: %s of block %lu: %s (%d)", dw->name, dw->st == D_WRITE ? "write" :
			    dw->st == D_READ ? "read" : "flush", dw->block,
			    dw->d.ops->status_name(r->status), r->status);
		} else if (dw->st == D_WRITE) {
			dw->gen[dw->block] = dw->wgen;
			/* Read back this block, or every other time an older one. */
			if (dw->writes++ & 1) {
				dw->rng = disk_mix(dw->rng);
				u64 b = dw->rng % dw->nblocks;

				if (dw->gen[b])
					dw->block = b;
			}
			dw->st = D_READ;
			disk_submit(dw, DISK_READ, now);
			return;
		} else if (dw->st == D_READ) {
			if (mw_stamp_ok(dw->r.buf, block_id(dw, dw->block), dw->gen[dw->block], why,
				     sizeof(why)))
				mw_st(&dw->ok, dw->ok + 1);
			else
				mw_bad("%s: block %lu read back: %s", dw->name, dw->block, why);
			if (dw->d.flush && dw->writes % FLUSH_EVERY == 0) {
				dw->st = D_FLUSH;
				disk_submit(dw, DISK_FLUSH, now);
				return;
			}
		}
		dw->st = D_IDLE;
	}
	dw->block = dw->next;
	dw->next = (dw->next + 1) % dw->nblocks;
	dw->wgen = dw->gen[dw->block] + 1;
	mw_stamp(dw->r.buf, block_id(dw, dw->block), dw->wgen);
	dw->st = D_WRITE;
	disk_submit(dw, DISK_WRITE, now);
}

/* ---- network ---- */

static void net_payload(u8 *b, u64 seq)
{
	u64 *w = (u64 *)b;

	w[0] = 0x4d49475745434830ULL;	/* "MIGWECH0" */
	w[1] = mw_nonce;
	w[2] = seq;
	for (unsigned i = 3; i < NET_LEN / 8; i++)
		w[i] = disk_mix(mw_nonce ^ seq << 8 ^ i);
}

static u32 net_echo_in(struct ip_if *i, struct net_pair *p, u32 src, u16 sport, const u8 *data,
		       u32 len, char *out, u32 max)
{
	static u8 want[NET_LEN];
	u64 seq;

	(void)i, (void)p, (void)out, (void)max;
	if (src != peer || sport != peer_port)
		return 0;
	if (len < 24)
		return 0;
	memcpy(&seq, data + 16, 8);
	net_payload(want, seq);
	if (memcmp(data, want, 16))
		return 0;	/* not this run's: no magic and mw_nonce */
	if (seq >= net_sent || seq + NET_WINDOW < net_sent) {
		mw_bad("net: an echo of datagram %lu, %lu sent so far", seq, net_sent);
		return 0;
	}
	if (len != NET_LEN || memcmp(data, want, NET_LEN)) {
		mw_bad("net: the echo of datagram %lu is wrong (%u bytes)", seq, len);
		return 0;
	}
	if (!net_got[seq % NET_WINDOW]) {
		net_got[seq % NET_WINDOW] = 1;
		mw_st(&net_ok, net_ok + 1);
	}
	return 0;
}

static void net_setup(void)
{
	char why[WHY_LEN], v[64], *colon;
	struct net_opts o = {
		.irq = false, .csum = cmdline_flag("net_csum", true),
		.mrg = cmdline_flag("net_mrg", true), .mq = false,
		.event_idx = cmdline_flag("event_idx", true), .pairs = 1, .one_cpu = true,
	};
	u32 addr = 0;
	unsigned prefix = 0;
	u64 port;
	int r = net_probe(&nic, 0, why, sizeof(why));

	if (r <= 0) {
		printf("migrate-work: net: %s\n", r ? why : "none");
		return;
	}
	colon = NULL;
	if (cmdline_get("peer", v, sizeof(v)))
		for (char *c = v; *c && !colon; c++)
			if (*c == ':')
				colon = c;
	if (!colon) {
		printf("migrate-work: net: no peer=A.B.C.D:PORT given: no echoes\n");
		return;
	}
	*colon = 0;
	if (!ip_parse(v, &peer, NULL) || !parse_uint(colon + 1, 10, &port) || !port || port > 65535) {
		mw_bad("net: peer=%s:%s: expected A.B.C.D:PORT", v, colon + 1);
		return;
	}
	peer_port = port;
	if (!cmdline_get("ip", v, sizeof(v)) || !ip_parse(v, &addr, &prefix)) {
		mw_bad("net: peer= needs ip=A.B.C.D/NN");
		return;
	}
	if (!net_init(&nic, &o, why, sizeof(why))) {
		mw_bad("net: cannot start: %s", why);
		return;
	}
	ip_if_init(&ifc, &nic, addr, prefix);
	ifc.control = net_echo_in;
	net_on = true;
	printf("migrate-work: net: mac %02x:%02x:%02x:%02x:%02x:%02x, ip " IP_FMT "/%u, echoes off "
	       IP_FMT ":%u every %llu ms\n", nic.mac[0], nic.mac[1], nic.mac[2], nic.mac[3],
	       nic.mac[4], nic.mac[5], IP_ARGS(addr), prefix, IP_ARGS(peer), peer_port,
	       NET_EVERY_NS / 1000000);
}

static void net_step(u64 now)
{
	static u8 buf[NET_LEN];
	static bool pinging;
	struct net_pair *p = &nic.pair[0];

	if (!net_on)
		return;
	net_rx(p, ip_input, &ifc, 64);
	if (pinging && !ip_ping_tick(&ifc, p))
		return;
	pinging = false;
	if (now < net_next)
		return;
	net_next = now + NET_EVERY_NS;
	net_got[net_sent % NET_WINDOW] = 0;
	net_payload(buf, net_sent);
	if (ip_send_udp(&ifc, p, NULL, peer, IP_PORT_CONTROL, peer_port, buf, NET_LEN)) {
		mw_st(&net_sent, net_sent + 1);
	} else {
		/* No MAC for the peer yet: a one-shot ping resolves it (ARP). */
		ip_ping_start(&ifc, peer, 1, 8, 3000000);
		pinging = true;
	}
	net_tx_flush(p);
}

void io_setup(void)
{
	disk_setup(&blkw);
	disk_setup(&scsiw);
	net_setup();
}

void io_step(u64 now)
{
	static u64 ticked;

	disk_step(&blkw, now);
	disk_step(&scsiw, now);
	net_step(now);
	if (net_on && now - ticked > 1000000000ULL) {
		ip_tick();
		ticked = now;
	}
}

void io_counts(u64 *blk_ok, u64 *scsi_ok, u64 *sent, u64 *ok)
{
	*blk_ok = mw_ld(&blkw.ok);
	*scsi_ok = mw_ld(&scsiw.ok);
	*sent = mw_ld(&net_sent);
	*ok = mw_ld(&net_ok);
}
