// SPDX-License-Identifier: Apache-2.0
/*
 * /init of the initramfs guest-tests/linux-smoke.sh gives the Debian kernel:
 * loads the virtio modules packed beside it (in /modules/order's order),
 * then checks kite's devices through Linux's own drivers and prints one
 * line per check ("PASS name" or "FAIL name: why"), a summary
 * "kite-linux: N passed, N failed", and powers off.
 *
 * What it expects comes on the kernel command line (kinit.KEY=VALUE):
 *   blk=DEV blk_sectors=N blk_serial=S blk_queues=N blk_ro=DEV
 *   scsi=DEV scsi_sectors=N scsi_vendor=S
 *   net_mac=MAC net_ip=A.B.C.D net_peer=A.B.C.D net_port=N
 * A device whose key is absent is not checked.
 *
 * Freestanding: no libc, raw system calls, general registers only (built
 * -nostdlib -mgeneral-regs-only), so it runs on any x86-64 CPU model,
 * kvmfake's emulated one (which has no SSE) among them. Only the libc
 * headers' types and constants are used.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <scsi/sg.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef O_DIRECT
#define O_DIRECT 040000
#endif

/* ---- a tiny runtime ---- */

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}
#define SYS(n, ...) sys_n(n, __VA_ARGS__)
#define sys_n(n, ...) sys6_((n), __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define sys6_(n, a, b, c, d, e, f, ...) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;

	while (n--)
		*dp++ = (uint8_t)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int scmp(const char *a, const char *b, bool fold)
{
	for (;; a++, b++) {
		int x = (uint8_t)*a, y = (uint8_t)*b;

		if (fold && x >= 'A' && x <= 'Z')
			x += 32;
		if (fold && y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y || !x)
			return x - y;
	}
}

static long long num(const char *s)
{
	long long v = 0;
	bool neg = *s == '-';

	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

/* printf's subset: %s %.Ns %c %d %u %x with l, ll, z and a 0-padded width */
static void out(const char *fmt, ...)
{
	char buf[512], tmp[24];
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt && n < sizeof(buf) - 1; fmt++) {
		unsigned width = 0, prec = ~0u, lng = 0, base = 10;
		bool zero = false, sgn = false;
		unsigned long long v;
		const char *str;
		size_t k = 0;

		if (*fmt != '%') {
			buf[n++] = *fmt;
			continue;
		}
		fmt++;
		if (*fmt == '0')
			zero = true, fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		if (*fmt == '.') {
			prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + (unsigned)(*fmt - '0');
		}
		while (*fmt == 'l' || *fmt == 'z')
			lng++, fmt++;
		switch (*fmt) {
		case 's':
			str = va_arg(ap, const char *);
			for (unsigned i = 0; str[i] && i < prec && n < sizeof(buf) - 1; i++)
				buf[n++] = str[i];
			continue;
		case 'c':
			buf[n++] = (char)va_arg(ap, int);
			continue;
		case '%':
			buf[n++] = '%';
			continue;
		case 'x':
			base = 16;
			/* fall through */
		case 'u':
			v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			break;
		default: {	/* d */
			long long sv = lng ? va_arg(ap, long long) : va_arg(ap, int);

			sgn = sv < 0;
			v = sgn ? 0 - (unsigned long long)sv : (unsigned long long)sv;
			break;
		}
		}
		do {
			tmp[k++] = "0123456789abcdef"[v % base];
			v /= base;
		} while (v);
		if (sgn)
			tmp[k++] = '-';
		while (k < width && k < sizeof(tmp))
			tmp[k++] = zero ? '0' : ' ';
		while (k && n < sizeof(buf) - 1)
			buf[n++] = tmp[--k];
	}
	va_end(ap);
	SYS(SYS_write, 1, buf, n);
}

static int sopen(const char *path, int flags)
{
	return (int)SYS(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

static long long now_ms(void)
{
	struct timespec ts;

	SYS(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	SYS(SYS_nanosleep, &ts, NULL);
}

static bool exists(const char *path)
{
	return SYS(SYS_access, path, 0) == 0;
}

static uint16_t be16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/* A.B.C.D in network order, or 0 */
static uint32_t ipv4(const char *s)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		long long p = num(s);

		if (p < 0 || p > 255)
			return 0;
		a |= (uint32_t)p << (8 * i);
		while (*s >= '0' && *s <= '9')
			s++;
		if (i < 3 && *s++ != '.')
			return 0;
	}
	return a;
}

static unsigned passed, failed;
static char cmdline[4096];
static uint8_t wbuf[1 << 20] __attribute__((aligned(4096)));
static uint8_t rbuf[1 << 20] __attribute__((aligned(4096)));

#define CHUNK (1 << 20)

static void pass(const char *name)
{
	out("PASS %s\n", name);
	passed++;
}

/* FAIL lines: the name, then the reason (out()'s format). */
#define fail(name, ...) do { out("FAIL %s: ", name); out(__VA_ARGS__); out("\n"); failed++; } while (0)

/* The value of kinit.KEY on the command line, or NULL. */
static const char *arg(const char *key)
{
	static char val[256];
	size_t kl = slen(key);

	for (const char *p = cmdline; *p; p++) {
		size_t n = 0;

		if ((p != cmdline && p[-1] != ' ') || memcmp(p, "kinit.", 6) ||
		    memcmp(p + 6, key, kl) || p[6 + kl] != '=')
			continue;
		p += 7 + kl;
		while (p[n] && p[n] != ' ' && p[n] != '\n' && n < sizeof(val) - 1)
			n++;
		memcpy(val, p, n);
		val[n] = 0;
		return val;
	}
	return NULL;
}

static bool read_file(const char *path, char *buf, size_t len)
{
	int fd = sopen(path, O_RDONLY);
	long n;

	if (fd < 0)
		return false;
	n = SYS(SYS_read, fd, buf, len - 1);
	SYS(SYS_close, fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	for (long i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = 0;
	return true;
}

/* A number in /sys/block/DEV/WHAT, or -1 */
static long long sys_num(const char *dev, const char *what)
{
	char path[160], buf[64];
	size_t n = 0;

	for (const char *p = "/sys/block/"; *p; p++)
		path[n++] = *p;
	for (const char *p = dev; *p && n < 80; p++)
		path[n++] = *p;
	path[n++] = '/';
	for (const char *p = what; *p && n < sizeof(path) - 1; p++)
		path[n++] = *p;
	path[n] = 0;
	return read_file(path, buf, sizeof(buf)) ? num(buf) : -1;
}

static void join(char *out_, size_t len, const char *a, const char *b)
{
	size_t n = 0;

	for (; *a && n < len - 1; a++)
		out_[n++] = *a;
	for (; b && *b && n < len - 1; b++)
		out_[n++] = *b;
	out_[n] = 0;
}

/* Wait up to ms for path to exist. */
static bool wait_for(const char *path, long long ms)
{
	long long end = now_ms() + ms;

	while (!exists(path)) {
		if (now_ms() > end)
			return false;
		sleep_ms(20);
	}
	return true;
}

/* ---- modules ---- */

static void load_modules(void)
{
	static char list[4096];
	char path[300];
	unsigned n = 0, bad = 0;
	char *p = list;

	if (!read_file("/modules/order", list, sizeof(list))) {
		fail("modules", "no /modules/order");
		return;
	}
	/* read_file turned the newlines into NULs: one name after another */
	for (;;) {
		int fd;
		long r;

		while (!*p && p < list + sizeof(list) - 1 && p[1])
			p++;
		if (!*p)
			break;
		join(path, sizeof(path), "/modules/", p);
		fd = sopen(path, O_RDONLY);
		r = fd < 0 ? fd : SYS(SYS_finit_module, fd, "", 0);
		if (r < 0) {
			out("  modules: %s: error %d\n", p, (int)-r);
			bad++;
		}
		if (fd >= 0)
			SYS(SYS_close, fd);
		n++;
		p += slen(p);
	}
	if (bad)
		fail("modules", "%u of %u did not load", bad, n);
	else
		pass("modules");
	out("  modules: %u loaded\n", n - bad);
}

/* ---- block devices (virtio-blk and scsi disks alike) ---- */

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = (seed + i) * 0x9e3779b97f4a7c15ULL;

		memcpy(p + i, &v, 8);
	}
}

/* Write, flush and read back a pattern: 1 MiB at 1 MiB and the last 4 KiB,
 * with O_DIRECT so the requests reach the device. */
static void disk_rw(const char *name, const char *dev, long long sectors)
{
	char path[64];
	long long size = sectors * 512;
	struct { long long off; long len; } at[2] = { { CHUNK, CHUNK }, { 0, 4096 } };
	long r;
	int fd;

	join(path, sizeof(path), "/dev/", dev);
	at[1].off = size - 4096;
	if (size < 3 * CHUNK) {
		fail(name, "%s is only %lld bytes", dev, size);
		return;
	}
	fd = sopen(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fail(name, "open %s: error %d", path, -fd);
		return;
	}
	for (unsigned i = 0; i < 2; i++) {
		fill(wbuf, (size_t)at[i].len, (uint64_t)at[i].off ^ (uint64_t)now_ms());
		if ((r = SYS(SYS_pwrite64, fd, wbuf, at[i].len, at[i].off)) != at[i].len) {
			fail(name, "write %ld at %lld: %ld", at[i].len, at[i].off, r);
			goto out;
		}
		if ((r = SYS(SYS_fsync, fd))) {
			fail(name, "fsync (flush): error %ld", -r);
			goto out;
		}
		memset(rbuf, 0, (size_t)at[i].len);
		if ((r = SYS(SYS_pread64, fd, rbuf, at[i].len, at[i].off)) != at[i].len) {
			fail(name, "read %ld at %lld: %ld", at[i].len, at[i].off, r);
			goto out;
		}
		if (memcmp(wbuf, rbuf, (size_t)at[i].len)) {
			fail(name, "data read back at %lld differs", at[i].off);
			goto out;
		}
	}
	/* At the end: nothing to read (the kernel stops short of the device). */
	if ((r = SYS(SYS_pread64, fd, rbuf, 4096, size)) != 0) {
		fail(name, "a read at the end returned %ld", r);
		goto out;
	}
	pass(name);
out:
	SYS(SYS_close, fd);
}

/* BLKZEROOUT (write zeroes, or writes of zeroes) and, if the device
 * discards, BLKDISCARD; the zeroed range must read back as zeroes. */
static void disk_zero_discard(const char *name, const char *dev)
{
	char path[64];
	uint64_t range[2] = { 2 * CHUNK, CHUNK };
	long long dmax;
	long r;
	int fd;

	join(path, sizeof(path), "/dev/", dev);
	fd = sopen(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fail(name, "open %s: error %d", path, -fd);
		return;
	}
	memset(rbuf, 0xa5, CHUNK);
	if (SYS(SYS_pwrite64, fd, rbuf, CHUNK, range[0]) != CHUNK ||
	    (r = SYS(SYS_ioctl, fd, BLKZEROOUT, range))) {
		fail(name, "BLKZEROOUT failed");
		goto out;
	}
	if (SYS(SYS_pread64, fd, rbuf, CHUNK, range[0]) != CHUNK) {
		fail(name, "read failed");
		goto out;
	}
	for (size_t i = 0; i < CHUNK; i++)
		if (rbuf[i]) {
			fail(name, "byte %zu of the zeroed range is 0x%02x", i, rbuf[i]);
			goto out;
		}
	dmax = sys_num(dev, "queue/discard_max_bytes");
	out("  %s: discard_max_bytes %lld, write_zeroes_max_bytes %lld\n", dev, dmax,
	    sys_num(dev, "queue/write_zeroes_max_bytes"));
	if (dmax > 0 && (r = SYS(SYS_ioctl, fd, BLKDISCARD, range))) {
		fail(name, "BLKDISCARD: error %ld", -r);
		goto out;
	}
	pass(name);
out:
	SYS(SYS_close, fd);
}

/* The disk kinit.KIND names (KIND blk or scsi): wait for it to appear,
 * check its size against kinit.KIND_sectors (the KIND-probe check). Its
 * name goes to dev; false if there is none to test. */
static bool probe_disk(const char *kind, char *dev, size_t len, long long *sectors)
{
	char key[32], test[32], path[128];
	const char *v = arg(kind);

	if (!v)
		return false;
	join(dev, len, v, NULL);
	join(key, sizeof(key), kind, "_sectors");
	join(test, sizeof(test), kind, "-probe");
	join(path, sizeof(path), "/sys/block/", dev);
	if (!wait_for(path, 10000)) {
		fail(test, "no %s after 10 s", path);
		return false;
	}
	*sectors = sys_num(dev, "size");
	v = arg(key);
	if (v && *sectors != num(v))
		fail(test, "%s has %lld sectors, expected %s", dev, *sectors, v);
	else
		pass(test);
	out("  %s: %lld sectors\n", dev, *sectors);
	return true;
}

static void check_blk(void)
{
	const char *v;
	char dev[32], path[128], buf[128];
	long long sectors;

	if (!probe_disk("blk", dev, sizeof(dev), &sectors))
		return;
	if ((v = arg("blk_serial"))) {
		join(path, sizeof(path), "/sys/block/", dev);
		join(path, sizeof(path), path, "/serial");
		if (!read_file(path, buf, sizeof(buf)))
			fail("blk-serial", "cannot read %s", path);
		else if (scmp(buf, v, false))
			fail("blk-serial", "serial '%s', expected '%s'", buf, v);
		else
			pass("blk-serial");
	}
	if ((v = arg("blk_queues"))) {
		static uint8_t dents[4096];
		int fd, n = 0;
		long got;

		join(path, sizeof(path), "/sys/block/", dev);
		join(path, sizeof(path), path, "/mq");
		fd = sopen(path, O_RDONLY | O_DIRECTORY);
		while (fd >= 0 && (got = SYS(SYS_getdents64, fd, dents, sizeof(dents))) > 0)
			for (long off = 0; off < got;) {
				uint16_t reclen;

				memcpy(&reclen, dents + off + 16, 2);
				n += dents[off + 19] != '.';
				off += reclen;
			}
		if (fd >= 0)
			SYS(SYS_close, fd);
		if (n != num(v))
			fail("blk-queues", "%d hardware queues in %s, expected %s", n, path, v);
		else
			pass("blk-queues");
	}
	disk_rw("blk-rw", dev, sectors);
	disk_zero_discard("blk-zero-discard", dev);
	if ((v = arg("blk_ro"))) {
		char dpath[64];
		int fd;

		join(path, sizeof(path), "/sys/block/", v);
		join(dpath, sizeof(dpath), "/dev/", v);
		if (!wait_for(path, 5000)) {
			fail("blk-readonly", "no %s", path);
		} else if (sys_num(v, "ro") != 1) {
			fail("blk-readonly", "%s/ro is not 1", path);
		} else if ((fd = sopen(dpath, O_RDWR | O_DIRECT)) < 0) {
			pass("blk-readonly");	/* refused at open */
		} else {
			/* Linux 6.1 opens it; the write must fail (EPERM) */
			long r = SYS(SYS_pwrite64, fd, wbuf, 4096, 0);

			SYS(SYS_close, fd);
			if (r >= 0)
				fail("blk-readonly", "a write to %s returned %ld", dpath, r);
			else
				pass("blk-readonly");
			out("  %s: read-only, a write fails with error %ld\n", v, -r);
		}
	}
}

/* ---- SCSI ---- */

/* INQUIRY through SG_IO: a disk (peripheral type 0) with the vendor given. */
static void scsi_inquiry(const char *dev, const char *vendor)
{
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 }, data[96], sense[32];
	struct sg_io_hdr h;
	char path[64], got[9];
	long r;
	int fd;

	memset(data, 0, sizeof(data));
	memset(&h, 0, sizeof(h));
	h.interface_id = 'S';
	h.dxfer_direction = SG_DXFER_FROM_DEV;
	h.cmd_len = sizeof(cdb);
	h.mx_sb_len = sizeof(sense);
	h.dxfer_len = sizeof(data);
	h.dxferp = data;
	h.cmdp = cdb;
	h.sbp = sense;
	h.timeout = 10000;
	join(path, sizeof(path), "/dev/", dev);
	fd = sopen(path, O_RDONLY);
	r = fd < 0 ? fd : SYS(SYS_ioctl, fd, SG_IO, &h);
	if (fd >= 0)
		SYS(SYS_close, fd);
	if (r) {
		fail("scsi-inquiry", "SG_IO on %s: error %ld", path, -r);
		return;
	}
	memcpy(got, data + 8, 8);
	got[8] = 0;
	for (int i = 7; i >= 0 && got[i] == ' '; i--)
		got[i] = 0;
	out("  %s: INQUIRY type %u, vendor '%s', product '%.16s', status %u\n", dev,
	    data[0] & 0x1f, got, (const char *)data + 16, h.status);
	if (h.status || h.host_status || h.driver_status)
		fail("scsi-inquiry", "status %u host %u driver %u", h.status, h.host_status,
		     h.driver_status);
	else if ((data[0] & 0x1f) != 0)
		fail("scsi-inquiry", "peripheral type %u, not a disk", data[0] & 0x1f);
	else if (vendor && scmp(got, vendor, false))
		fail("scsi-inquiry", "vendor '%s', expected '%s'", got, vendor);
	else
		pass("scsi-inquiry");
}

static void check_scsi(void)
{
	char dev[32];
	long long sectors;

	if (!probe_disk("scsi", dev, sizeof(dev), &sectors))
		return;
	scsi_inquiry(dev, arg("scsi_vendor"));
	disk_rw("scsi-rw", dev, sectors);
	disk_zero_discard("scsi-zero-discard", dev);
}

/* ---- network ---- */

static bool if_addr(int s, unsigned long req, uint32_t ip)
{
	struct ifreq ifr;
	struct sockaddr_in a;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "eth0", 5);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = ip;
	memcpy(&ifr.ifr_addr, &a, sizeof(a));
	return SYS(SYS_ioctl, s, req, &ifr) == 0;
}

static void check_net(void)
{
	static const unsigned sizes[] = { 64, 1400, 1472, 4000, 8000, 16000 };
	const unsigned rounds = 3 * sizeof(sizes) / sizeof(sizes[0]);
	const char *v;
	char mac[32], buf[128];
	uint32_t ip, peer;
	struct sockaddr_in to;
	struct ifreq ifr;
	unsigned got = 0, sent = 0;
	long port;
	int s, u;

	if (!(v = arg("net_mac")))
		return;
	join(mac, sizeof(mac), v, NULL);
	ip = arg("net_ip") ? ipv4(arg("net_ip")) : 0;
	peer = arg("net_peer") ? ipv4(arg("net_peer")) : 0;
	port = arg("net_port") ? num(arg("net_port")) : 0;
	if (!wait_for("/sys/class/net/eth0", 10000)) {
		fail("net-probe", "no eth0 after 10 s");
		return;
	}
	if (!read_file("/sys/class/net/eth0/address", buf, sizeof(buf)) || scmp(buf, mac, true))
		fail("net-probe", "eth0's address is '%s', expected '%s'", buf, mac);
	else
		pass("net-probe");
	s = (int)SYS(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "eth0", 5);
	if (!ip || !peer || !port || s < 0 || !if_addr(s, SIOCSIFADDR, ip) ||
	    !if_addr(s, SIOCSIFNETMASK, 0x00ffffff) || SYS(SYS_ioctl, s, SIOCGIFFLAGS, &ifr)) {
		fail("net-udp", "cannot configure eth0");
		return;
	}
	ifr.ifr_flags |= IFF_UP;
	if (SYS(SYS_ioctl, s, SIOCSIFFLAGS, &ifr)) {
		fail("net-udp", "cannot bring eth0 up");
		return;
	}
	SYS(SYS_close, s);
	u = (int)SYS(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = be16((uint16_t)port);
	to.sin_addr.s_addr = peer;
	/* Echoes of every size, fragmented ones among them; the first may go
	 * while ARP resolves, so each is tried up to 3 times. */
	for (unsigned i = 0; i < rounds && u >= 0; i++) {
		unsigned n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		bool ok = false;

		for (unsigned t = 0; t < 3 && !ok; t++) {
			struct pollfd p = { .fd = u, .events = POLLIN };
			struct timespec ts = { 2, 0 };

			fill(wbuf, n, i * 7919 + t);
			sent++;
			if (SYS(SYS_sendto, u, wbuf, n, 0, &to, sizeof(to)) != (long)n)
				continue;
			while (SYS(SYS_ppoll, &p, 1, &ts, NULL, 0) == 1) {
				long r = SYS(SYS_recvfrom, u, rbuf, 65536, 0, NULL, NULL);

				if (r == (long)n && !memcmp(rbuf, wbuf, n)) {
					ok = true;
					break;
				}
			}
		}
		got += ok;
	}
	out("  eth0: %u of %u echoes back (%u datagrams sent) to %s:%ld\n", got, rounds, sent,
	    arg("net_peer"), port);
	if (got == rounds)
		pass("net-udp");
	else
		fail("net-udp", "%u of %u echoes came back", got, rounds);
	if (u >= 0)
		SYS(SYS_close, u);
}

static void init(void)
{
	long long t0;

	SYS(SYS_mkdir, "/dev", 0755);
	SYS(SYS_mkdir, "/proc", 0755);
	SYS(SYS_mkdir, "/sys", 0755);
	SYS(SYS_mount, "devtmpfs", "/dev", "devtmpfs", 0, NULL);
	SYS(SYS_mount, "proc", "/proc", "proc", 0, NULL);
	SYS(SYS_mount, "sysfs", "/sys", "sysfs", 0, NULL);
	/* The kernel opened /dev/console only if the archive had one. */
	if (SYS(SYS_fcntl, 1, F_GETFD) < 0) {
		int c = sopen("/dev/console", O_RDWR);

		if (c >= 0)
			for (int fd = 0; fd < 3; fd++)
				SYS(SYS_dup3, c, fd, 0);
	}
	if (!read_file("/proc/cmdline", cmdline, sizeof(cmdline)))
		cmdline[0] = 0;
	t0 = now_ms();
	out("kite-linux: init started\n");
	load_modules();
	check_blk();
	check_scsi();
	check_net();
	out("kite-linux: checks took %lld ms\n", now_ms() - t0);
	out("kite-linux: %u passed, %u failed\n", passed, failed);
	SYS(SYS_ioctl, 1, 0x5409, 1);	/* TCSBRK 1 (tcdrain): the UART sends it all first */
	SYS(SYS_sync, 0);
	SYS(SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, NULL);	/* RB_POWER_OFF */
	for (;;)
		sleep_ms(1000);
}

/* The entry: the stack as the kernel left it, 16-byte aligned for C. */
__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall init_entry\n\tud2\n");
void init_entry(void);
void init_entry(void)
{
	init();
}
