// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's guest program: what it checks of each device, from the guest's
 * side, per the virtio 1.2 spec (5.1 net, 5.2 blk, 5.6 scsi) and SPC/SBC.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gprog.h"

/* ---- virtio-blk ---- */

#define BLK_F_RO	(1ULL << 5)
#define BLK_F_BLK_SIZE	(1ULL << 6)
#define BLK_F_FLUSH	(1ULL << 9)
#define BLK_F_MQ	(1ULL << 12)
#define BLK_T_IN	0
#define BLK_T_OUT	1
#define BLK_T_FLUSH	4
#define BLK_T_GET_ID	8

static bool blk_req(struct vdev *d, unsigned qi, uint32_t type, uint64_t lba, uint64_t data,
		    uint32_t len, uint8_t *status, char *why)
{
	uint64_t hdr = galloc(16, 16), st = galloc(1, 1);
	uint32_t h[4] = { type, 0, (uint32_t)lba, (uint32_t)(lba >> 32) };
	uint8_t poison = 0xee;
	struct buf b[3];
	unsigned n = 0;

	g_write(hdr, h, sizeof(h));
	g_write(st, &poison, 1);
	b[n++] = (struct buf){ hdr, 16, false };
	if (len)
		b[n++] = (struct buf){ data, len, type != BLK_T_OUT };
	b[n++] = (struct buf){ st, 1, true };
	if (!vq_request(&d->q[qi], b, n, NULL, why))
		return false;
	*status = *(uint8_t *)g_ram(st, 1);
	return true;
}

bool blk_rw(struct vdev *d, unsigned qi, bool write, uint64_t lba, uint64_t gpa, uint32_t len,
	    uint8_t *status, char *why)
{
	return blk_req(d, qi, write ? BLK_T_OUT : BLK_T_IN, lba, gpa, len, status, why);
}

void test_blk(struct vdev *d)
{
	char why[160], name[32];
	uint64_t sectors = cfg_read(d, 0, 4) | cfg_read(d, 4, 4) << 32;
	unsigned nq = 1;
	uint64_t wbuf = galloc(4096, 4096), rbuf = galloc(4096, 4096), id = galloc(20, 4);
	uint8_t st;
	bool ro;

	snprintf(name, sizeof(name), "%s-init", d->name);
	if (!vdev_init(d, BLK_F_RO | BLK_F_BLK_SIZE | BLK_F_FLUSH | BLK_F_MQ, VQ_MAX, why))
		return fail(name, "%s", why);
	if (d->features & BLK_F_MQ)
		nq = (unsigned)cfg_read(d, 34, 2);
	if (nq > d->nq)
		return fail(name, "config says %u queues, %u set up", nq, d->nq);
	ro = d->features & BLK_F_RO;
	pass(name, "%llu sectors, %u queue(s), features 0x%llx%s", (unsigned long long)sectors,
	     d->nq, (unsigned long long)d->features, ro ? ", read-only" : "");

	snprintf(name, sizeof(name), "%s-rw", d->name);
	for (unsigned qi = 0; qi < d->nq && !ro; qi++) {
		uint64_t lba = 16 + 8 * qi;

		gfill(wbuf, 4096, 100 + qi);
		if (!blk_rw(d, qi, true, lba, wbuf, 4096, &st, why))
			return fail(name, "write: %s", why);
		if (st)
			return fail(name, "queue %u: write at %llu: status %u", qi,
				    (unsigned long long)lba, st);
		gfill(rbuf, 4096, 7);
		if (!blk_rw(d, qi, false, lba, rbuf, 4096, &st, why))
			return fail(name, "read: %s", why);
		if (st || !gcheck(rbuf, 4096, 100 + qi))
			return fail(name, "queue %u: read back at %llu: status %u, %s", qi,
				    (unsigned long long)lba, st, st ? "" : "other data");
	}
	if (ro) {
		if (!blk_rw(d, 0, true, 16, wbuf, 512, &st, why))
			return fail(name, "write to a read-only disk: %s", why);
		if (st != 1)
			return fail(name, "write to a read-only disk: status %u, want IOERR", st);
		pass(name, "a write to the read-only disk: IOERR");
	} else {
		pass(name, "4 KiB written and read back on each of %u queue(s), with interrupts",
		     d->nq);
	}

	snprintf(name, sizeof(name), "%s-edges", d->name);
	if (!blk_rw(d, 0, false, sectors, rbuf, 512, &st, why))
		return fail(name, "read past the end: %s", why);
	if (st != 1)
		return fail(name, "read of sector %llu (the capacity): status %u, want IOERR",
			    (unsigned long long)sectors, st);
	if (!blk_rw(d, 0, false, sectors - 1, rbuf, 512, &st, why) || st)
		return fail(name, "read of the last sector: status %u %s", st, why);
	if ((d->features & BLK_F_FLUSH) && (!blk_req(d, 0, BLK_T_FLUSH, 0, 0, 0, &st, why) || st))
		return fail(name, "flush: status %u %s", st, why);
	if (!blk_req(d, 0, BLK_T_GET_ID, 0, id, 20, &st, why) || st)
		return fail(name, "GET_ID: status %u %s", st, why);
	pass(name, "past the end IOERR, last sector OK, flush OK, id \"%.20s\"",
	     (const char *)g_ram(id, 20));
}

/* ---- virtio-scsi ---- */

#define SCSI_S_OK		0
#define SCSI_S_BAD_TARGET	3
#define CDB_SIZE		32
#define SENSE_SIZE		96

struct scsi_result {
	uint8_t response, status, key, asc;
	uint32_t resid, sense_len;
};

static bool scsi_cmd(struct vdev *d, unsigned target, const uint8_t *cdb, unsigned cdb_len,
		     uint64_t data, uint32_t len, bool data_in, struct scsi_result *res, char *why)
{
	uint64_t req = galloc(19 + CDB_SIZE, 8), resp = galloc(12 + SENSE_SIZE, 8);
	uint8_t h[19 + CDB_SIZE] = { 1, (uint8_t)target, 0x40, 0 };
	const uint8_t *rp;
	struct buf b[3];
	unsigned n = 0;

	memcpy(h + 19, cdb, cdb_len);
	g_write(req, h, sizeof(h));
	b[n++] = (struct buf){ req, sizeof(h), false };
	if (len && !data_in)
		b[n++] = (struct buf){ data, len, false };
	b[n++] = (struct buf){ resp, 12 + SENSE_SIZE, true };
	if (len && data_in)
		b[n++] = (struct buf){ data, len, true };
	if (!vq_request(&d->q[2], b, n, NULL, why))
		return false;
	rp = g_ram(resp, 12 + SENSE_SIZE);
	memset(res, 0, sizeof(*res));
	memcpy(&res->sense_len, rp, 4);
	memcpy(&res->resid, rp + 4, 4);
	res->status = rp[10];
	res->response = rp[11];
	if (res->sense_len >= 14) {
		res->key = rp[12 + 2] & 0xf;
		res->asc = rp[12 + 12];
	}
	return true;
}

/* One target (LUN 0): the commands every SCSI disk answers, data through
 * both directions, and errors as SPC-4 says. Returns its block count. */
static bool scsi_target(struct vdev *d, unsigned t, uint32_t *blocks, char *why)
{
	uint64_t buf = galloc(4096, 4096), wbuf = galloc(4096, 4096);
	struct scsi_result res;
	uint8_t cdb[16] = { 0 };
	const uint8_t *p;
	uint32_t bsize;
	int tries = 0;

	do {		/* a fresh target may report a unit attention first */
		if (!scsi_cmd(d, t, cdb, 6, 0, 0, false, &res, why))
			return false;
	} while (res.status == 2 && res.key == 6 && ++tries < 4);
	if (res.response != SCSI_S_OK || res.status)
		return WHY("TEST UNIT READY: response %u, status 0x%x, sense %x/%02x", res.response,
			   res.status, res.key, res.asc);
	cdb[0] = 0x12;
	cdb[4] = 96;
	if (!scsi_cmd(d, t, cdb, 6, buf, 96, true, &res, why) || res.status)
		return WHY("INQUIRY: status 0x%x", res.status);
	p = g_ram(buf, 96);
	if ((p[0] & 0x1f) != 0 || p[4] < 31)
		return WHY("INQUIRY: peripheral type %u, additional length %u", p[0] & 0x1f, p[4]);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x25;
	if (!scsi_cmd(d, t, cdb, 10, buf, 8, true, &res, why) || res.status)
		return WHY("READ CAPACITY(10): status 0x%x", res.status);
	p = g_ram(buf, 8);
	*blocks = ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]) + 1;
	bsize = (uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
	if (bsize != 512)
		return WHY("READ CAPACITY(10): block size %u", bsize);
	gfill(wbuf, 4096, 55 + t);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2a;			/* WRITE(10) of 8 blocks at LBA 8 */
	cdb[5] = 8;
	cdb[8] = 8;
	if (!scsi_cmd(d, t, cdb, 10, wbuf, 4096, false, &res, why) || res.status)
		return WHY("WRITE(10): status 0x%x, sense %x/%02x", res.status, res.key, res.asc);
	cdb[0] = 0x28;			/* READ(10), the same blocks */
	gfill(buf, 4096, 1);
	if (!scsi_cmd(d, t, cdb, 10, buf, 4096, true, &res, why) || res.status)
		return WHY("READ(10): status 0x%x", res.status);
	if (!gcheck(buf, 4096, 55 + t))
		return WHY("READ(10) gave other data than WRITE(10) wrote");
	cdb[2] = 0xff;			/* READ(10) far past the end */
	if (!scsi_cmd(d, t, cdb, 10, buf, 4096, true, &res, why))
		return false;
	if (res.status != 2 || res.key != 5 || res.asc != 0x21)
		return WHY("READ(10) past the end: status 0x%x, sense %x/%02x; want CHECK "
			   "CONDITION, ILLEGAL REQUEST, LBA OUT OF RANGE", res.status, res.key,
			   res.asc);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xff;
	if (!scsi_cmd(d, t, cdb, 6, 0, 0, false, &res, why))
		return false;
	if (res.status != 2 || res.key != 5 || res.asc != 0x20)
		return WHY("opcode 0xff: status 0x%x, sense %x/%02x; want CHECK CONDITION, ILLEGAL "
			   "REQUEST, INVALID COMMAND OPERATION CODE", res.status, res.key, res.asc);
	return true;
}

void test_scsi(struct vdev *d)
{
	char why[160], name[32], list[96] = "";
	struct scsi_result res;
	uint8_t cdb[6] = { 0 };
	unsigned targets;

	snprintf(name, sizeof(name), "%s-init", d->name);
	if (cfg_read(d, 24, 4) != CDB_SIZE || cfg_read(d, 20, 4) != SENSE_SIZE)
		return fail(name, "cdb_size %llu, sense_size %llu: not the spec's defaults",
			    (unsigned long long)cfg_read(d, 24, 4),
			    (unsigned long long)cfg_read(d, 20, 4));
	if (!vdev_init(d, 0, 3, why))
		return fail(name, "%s", why);
	if (d->nq < 3)
		return fail(name, "%u queues: control, event and a request queue wanted", d->nq);
	targets = (unsigned)cfg_read(d, 30, 2) + 1;
	pass(name, "%llu request queue(s) offered, %u target(s)",
	     (unsigned long long)cfg_read(d, 0, 4), targets);

	snprintf(name, sizeof(name), "%s-cmds", d->name);
	for (unsigned t = 0; t < targets && t < 8; t++) {
		uint32_t blocks;
		size_t len = strlen(list);

		if (!scsi_target(d, t, &blocks, why))
			return fail(name, "target %u: %s", t, why);
		snprintf(list + len, sizeof(list) - len, "%s%u: %u blocks", t ? ", " : "", t, blocks);
	}
	if (!scsi_cmd(d, targets, cdb, 6, 0, 0, false, &res, why))
		return fail(name, "target %u: %s", targets, why);
	if (res.response != SCSI_S_BAD_TARGET)
		return fail(name, "TEST UNIT READY to target %u (past max_target): response %u, "
			    "want BAD_TARGET", targets, res.response);
	pass(name, "TUR, INQUIRY, READ CAPACITY, WRITE/READ(10) verified, LBA out of range and "
	     "a bad opcode answered per SPC, on each target (%s); target %u: BAD_TARGET", list,
	     targets);
}

/* ---- virtio-net over a tap, seen from the host through a packet socket ---- */

#define NET_F_MAC	(1ULL << 5)
#define NET_F_CTRL_VQ	(1ULL << 17)
#define NET_F_STATUS	(1ULL << 16)
#define NET_F_MQ	(1ULL << 22)
#define HDR		12		/* virtio_net_hdr with VERSION_1 */
#define RXBUF		2048
#define NRX		8		/* receive buffers a queue */
#define PAIRS_MAX	4
#define FLOWS		16
#define ETHERTYPE	0x88b5		/* local experimental */

struct net {
	struct vdev *d;
	unsigned pairs;
	uint8_t mac[6];
	uint64_t rx[PAIRS_MAX];		/* NRX buffers of RXBUF a receive queue */
	int sock;
};

static int tap_socket(const char *tap, char *why)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	a.sll_ifindex = (int)if_nametoindex(tap);
	if (fd < 0 || !a.sll_ifindex || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		snprintf(why, 160, "packet socket on %s: %s", tap, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* An Ethernet frame; with flow >= 0 an IPv4/UDP one (the tap spreads
 * flows over its queues by their hash), else of the local ethertype. */
static void frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, int flow, size_t len)
{
	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (flow < 0) {
		f[12] = ETHERTYPE >> 8;
		f[13] = ETHERTYPE & 0xff;
		snprintf((char *)f + 14, len - 14, "kvmfake frame");
		return;
	}
	f[12] = 0x08;
	f[14] = 0x45;				/* IPv4, 20-byte header */
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[22] = 64;				/* TTL */
	f[23] = 17;				/* UDP */
	memcpy(f + 26, (uint8_t[]){ 10, 213, 9, 1, 10, 213, 9, 2 }, 8);
	f[34] = 0x40;				/* source port 0x4000 + flow */
	f[35] = (uint8_t)flow;
	f[36] = 0x00;				/* destination port 9 */
	f[37] = 9;
	f[38] = (uint8_t)((len - 34) >> 8);
	f[39] = (uint8_t)(len - 34);
	snprintf((char *)f + 42, len - 42, "kvmfake flow %d", flow);
}

static bool ctrl(struct net *n, uint8_t cls, uint8_t cmd, const void *data, uint32_t len,
		 char *why)
{
	uint64_t h = galloc(2, 2), dat = galloc(len ? len : 1, 8), ack = galloc(1, 1);
	uint8_t hb[2] = { cls, cmd }, bad = 0xee;
	struct buf b[3] = { { h, 2, false }, { dat, len, false }, { ack, 1, true } };

	g_write(h, hb, 2);
	g_write(dat, data, len);
	g_write(ack, &bad, 1);
	if (!vq_request(&n->d->q[2 * n->pairs], b, 3, NULL, why))
		return false;
	if (*(uint8_t *)g_ram(ack, 1) != 0)
		return WHY("control class %u command %u: ack %u", cls, cmd, *(uint8_t *)g_ram(ack, 1));
	return true;
}

static bool net_tx(struct net *n, unsigned pair, char *why)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[HDR + 100] = { 0 }, got[2048];
	uint64_t tx = galloc(sizeof(f), 16);
	struct buf b = { tx, sizeof(f), false };

	frame(f + HDR, bcast, n->mac, -1, sizeof(f) - HDR);
	f[HDR + 30] = (uint8_t)pair;
	g_write(tx, f, sizeof(f));
	if (!vq_request(&n->d->q[2 * pair + 1], &b, 1, NULL, why))
		return false;
	for (int i = 0; i < 25; i++) {
		ssize_t len = recv(n->sock, got, sizeof(got), 0);

		if (len == (ssize_t)(sizeof(f) - HDR) && !memcmp(got, f + HDR, len))
			return true;
	}
	return WHY("pair %u: the frame never reached the tap (or arrived changed)", pair);
}

/* FLOWS UDP frames in from the host; each must arrive whole, on some
 * queue. Consumed buffers go back to their queue. */
static bool net_rx(struct net *n, unsigned *per_queue, char *why)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t f[FLOWS][120];
	unsigned seen = 0, waited = 0, others = 0;
	bool got[FLOWS] = { false };

	for (int i = 0; i < FLOWS; i++) {
		frame(f[i], n->mac, src, i, sizeof(f[i]));
		if (send(n->sock, f[i], sizeof(f[i]), 0) != (ssize_t)sizeof(f[i]))
			return WHY("cannot send on the tap: %s", strerror(errno));
	}
	while (seen < FLOWS) {
		bool any = false;

		for (unsigned p = 0; p < n->pairs; p++) {
			struct vq *q = &n->d->q[2 * p];
			uint32_t len;
			const uint8_t *b;
			struct buf back;

			if (!vq_wait(q, 0, &len, NULL))
				continue;
			any = true;
			b = g_ram(q->first_gpa[(q->last_id / 4) % 64], RXBUF);
			others++;
			for (int i = 0; b && i < FLOWS; i++)
				if (!got[i] && len == HDR + sizeof(f[i]) && !memcmp(b + HDR, f[i], sizeof(f[i]))) {
					got[i] = true;
					seen++;
					others--;
					per_queue[p]++;
				}
			back = (struct buf){ q->first_gpa[(q->last_id / 4) % 64], RXBUF, true };
			vq_post(q, &back, 1);
		}
		if (!any) {
			if (waited >= 5000) {
				int miss = 0;

				while (miss < FLOWS && got[miss])
					miss++;
				return WHY("%u of %d frames came in within 5 s (%u/%u by queue, "
					   "%u others; flow %d missing)", seen, FLOWS, per_queue[0],
					   per_queue[1], others, miss);
			}
			g_wait_vector(n->d->q[0].vec, 20);
			waited += 20;
		}
	}
	return true;
}

/* The tap down, then up, from the host: the guest must hear of each
 * through a configuration interrupt and see LINK_UP follow. */
static bool link_flip(struct net *n, const char *tap, char *why)
{
	unsigned cfg_vec = n->d->q[n->d->nq - 1].vec + 1;	/* vdev_init: the next one */
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return WHY("SIOCGIFFLAGS %s: %s", tap, strerror(errno));
	for (int up = 0; up < 2; up++) {
		bool seen = false;

		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			close(s);
			return WHY("SIOCSIFFLAGS %s: %s", tap, strerror(errno));
		}
		for (int i = 0; i < 50 && !seen; i++)
			seen = g_wait_vector(cfg_vec, 100) && (cfg_read(n->d, 6, 2) & 1) == (unsigned)up;
		if (!seen) {
			close(s);
			return WHY("link %s: no configuration interrupt with LINK_UP %s within 5 s",
				   up ? "up" : "down", up ? "set" : "clear");
		}
	}
	close(s);
	return true;
}

void test_net(struct vdev *d, const char *tap)
{
	char why[160], name[32], counts[64] = "";
	struct net n = { .d = d, .pairs = 1, .sock = -1 };
	unsigned per_queue[PAIRS_MAX] = { 0 }, max;

	snprintf(name, sizeof(name), "%s-init", d->name);
	max = (unsigned)cfg_read(d, 8, 2);
	if (!vdev_init(d, NET_F_MAC | NET_F_STATUS | NET_F_CTRL_VQ | NET_F_MQ, 2 * PAIRS_MAX + 1,
		       why))
		return fail(name, "%s", why);
	if (d->features & NET_F_MQ)
		n.pairs = max < PAIRS_MAX ? max : PAIRS_MAX;
	if (!(d->features & NET_F_CTRL_VQ) || d->nq < 2 * n.pairs + 1)
		return fail(name, "features 0x%llx, %u queues for %u pairs",
			    (unsigned long long)d->features, d->nq, n.pairs);
	if (max > PAIRS_MAX)
		return fail(name, "%u queue pairs offered; this program drives %d", max, PAIRS_MAX);
	for (int i = 0; i < 6; i++)
		n.mac[i] = (uint8_t)cfg_read(d, i, 1);
	if (!(n.mac[0] & 2) || (n.mac[0] & 1))
		return fail(name, "MAC %02x:...: not a locally administered unicast", n.mac[0]);
	if (n.pairs > 1) {
		uint16_t pairs = (uint16_t)n.pairs;

		if (!ctrl(&n, 4, 0, &pairs, 2, why))	/* MQ, VQ_PAIRS_SET */
			return fail(name, "VQ_PAIRS_SET %u: %s", n.pairs, why);
	}
	pass(name, "MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, %u queue pair(s) in use",
	     n.mac[0], n.mac[1], n.mac[2], n.mac[3], n.mac[4], n.mac[5],
	     cfg_read(d, 6, 2) & 1 ? "up" : "down", n.pairs);
	for (unsigned p = 0; p < n.pairs; p++) {
		n.rx[p] = galloc(NRX * RXBUF, 4096);
		for (unsigned i = 0; i < NRX; i++) {
			struct buf b = { n.rx[p] + i * RXBUF, RXBUF, true };

			vq_post(&d->q[2 * p], &b, 1);
		}
	}
	snprintf(name, sizeof(name), "%s-tap", d->name);
	if (!tap || !*tap)
		return fail(name, "no tap named (KVMFAKE_TAP)");
	n.sock = tap_socket(tap, why);
	if (n.sock < 0)
		return fail(name, "%s", why);
	for (unsigned p = 0; p < n.pairs; p++)
		if (!net_tx(&n, p, why)) {
			close(n.sock);
			return fail(name, "transmit: %s", why);
		}
	if (!net_rx(&n, per_queue, why)) {
		close(n.sock);
		return fail(name, "receive: %s", why);
	}
	close(n.sock);
	for (unsigned p = 0; p < n.pairs; p++)
		snprintf(counts + strlen(counts), sizeof(counts) - strlen(counts), "%s%u",
			 p ? "/" : "", per_queue[p]);
	pass(name, "a frame out of each of %u pair(s) to %s; %d UDP flows in, byte for byte, "
	     "over the receive queues as %s", n.pairs, tap, FLOWS, counts);

	snprintf(name, sizeof(name), "%s-link", d->name);
	if (!link_flip(&n, tap, why))
		return fail(name, "%s", why);
	pass(name, "%s down and up: a configuration interrupt and LINK_UP each time", tap);
}

/* After attacks: a reset, a set-up and one correct request. */
bool device_check(struct vdev *d, char *why)
{
	uint64_t buf = galloc(512, 512);
	uint8_t st = 0xee;

	if (!vdev_init(d, 0, d->type == 8 ? 3 : d->type == 1 ? 2 : 1, why))
		return false;
	if (d->type == 2) {
		gfill(buf, 512, 9);
		if (!blk_rw(d, 0, false, 0, buf, 512, &st, why) || st)
			return st ? WHY("a read: status %u", st) : false;
	} else if (d->type == 8) {
		struct scsi_result res;
		uint8_t cdb[6] = { 0 };

		for (int i = 0; i < 4; i++)
			if (!scsi_cmd(d, 0, cdb, 6, 0, 0, false, &res, why))
				return false;
		if (res.response || res.status)
			return WHY("TEST UNIT READY: response %u, status 0x%x", res.response,
				   res.status);
	} else if (d->type == 1) {
		uint8_t f[HDR + 60] = { 0 };
		struct buf b = { buf, sizeof(f), false };

		memset(f + HDR, 0xff, 6);
		f[HDR + 12] = 0x88, f[HDR + 13] = 0xb5;
		g_write(buf, f, sizeof(f));
		if (!vq_request(&d->q[1], &b, 1, NULL, why))
			return false;
	}
	return true;
}

