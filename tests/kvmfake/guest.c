// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's guest program: its output (on the serial port, so it comes out
 * of kite's console like any guest's) and its modes, chosen by the
 * environment:
 *   KVMFAKE_GUEST=devices  check the boot state, then every virtio device
 *                          (the default); exit through port 0xf4 with the
 *                          number of failures
 *   KVMFAKE_GUEST=idle     set the devices up, leave a marker in RAM and on
 *                          the first disk, then tick: a line and a disk
 *                          read every 100 ms, port reads in between, until
 *                          stopped
 *   KVMFAKE_GUEST=resume   after a restore or migration of an idle VM:
 *                          the marker, the devices as they were, new I/O
 *   KVMFAKE_GUEST=dirty    idle's set-up, then rewrite a 16 MiB region page
 *                          by page, a generation at a time, and stamp a
 *                          sector to disk and read it back into its own
 *                          page each pass; resume with KVMFAKE_DIRTY=1
 *                          checks that what arrived is one consistent
 *                          moment of that (no page, and no disk read kite
 *                          wrote into RAM, left behind)
 *   KVMFAKE_GUEST=hostile  attack every device but the last disk (hostile.c)
 *   KVMFAKE_GUEST=bench    4 KiB random I/O on each disk (bench.c)
 *   KVMFAKE_THEN=dirty     (resume) then go on dirtying where the pass was
 *   KVMFAKE_GUEST=shutdown a line, then a triple fault (KVM_EXIT_SHUTDOWN)
 *   KVMFAKE_GUEST=native   no guest program: the guest image kite loaded runs
 *                          natively, trapped and emulated (native.c, ncpu.h)
 *   KVMFAKE_GUEST=emu      no guest program: the guest image kite loaded is
 *                          interpreted, one thread a vCPU (emu.c, emu.h)
 *   KVMFAKE_FAIL_ENTRY=1   (kvm.c) vCPU 0's first entry fails
 *   KVMFAKE_BOOT=pvh|linux64|multiboot  the protocol kite should enter by
 *   KVMFAKE_CMDLINE=...    the command line kite should pass
 *   KVMFAKE_TAP=NAME       the tap behind the first NIC
 *   KVMFAKE_MARK=N         the marker's seed
 */
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "gprog.h"

#define COM1		0x3f8
#define DEBUG_EXIT	0xf4
#define MARK_GPA	0x700000ULL
#define MARK_LEN	4096
#define RESUME_GMEM	0x2800000ULL	/* a resumed program's allocations */

static unsigned passed, failed;

void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (const char *c = line; *c; c++)
		g_pio(COM1, 1, true, (uint8_t)*c);
}

static void result(bool ok, const char *name, const char *fmt, va_list ap)
{
	char detail[400];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	say("%s %s: %s\n", ok ? "PASS" : "FAIL", name, detail);
	if (ok)
		passed++;
	else
		failed++;
}

void pass(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(true, name, fmt, ap);
	va_end(ap);
}

void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(false, name, fmt, ap);
	va_end(ap);
}

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static const char *str_at(uint64_t gpa)
{
	const char *s = g_ram(gpa, 1);

	/* Bounded: the string and its NUL must be RAM. */
	for (size_t n = 0; s && n < 4096; n++)
		if (!g_ram(gpa + n, 1) || !s[n])
			return g_ram(gpa + n, 1) ? s : NULL;
	return NULL;
}

static bool flat32(const struct kvm_segment *s)
{
	return s->base == 0 && s->limit == 0xffffffff && s->g && s->present && s->s;
}

/* The state kite enters the guest with, against each boot protocol. */
static void check_boot(void)
{
	const char *proto = env("KVMFAKE_BOOT", "pvh"), *want = getenv("KVMFAKE_CMDLINE");
	struct kvm_regs r;
	struct kvm_sregs s;
	const char *cmd = NULL;
	char name[32];

	g_boot_state(&r, &s);
	snprintf(name, sizeof(name), "boot-%s", proto);
	if (!strcmp(proto, "pvh")) {
		/* PVH: 32-bit protected mode, paging off, flat CS/DS, %ebx the
		 * hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). */
		if (!(s.cr0 & 1) || (s.cr0 & (1u << 31)) || s.cs.l || !s.cs.db || !flat32(&s.cs) ||
		    !flat32(&s.ds) || (s.efer & (1u << 10)))
			return fail(name, "not flat 32-bit protected mode without paging");
		if (gread(r.rbx, 4) != 0x336ec578)
			return fail(name, "no hvm_start_info magic at %%ebx 0x%llx",
				    (unsigned long long)r.rbx);
		cmd = str_at(gread(r.rbx + 24, 8));
		if (!gread(r.rbx + 40, 8) || !gread(r.rbx + 48, 4))
			return fail(name, "start_info has no memory map");
		if (memcmp(g_ram(gread(r.rbx + 32, 8), 8) ?: "", "RSD PTR ", 8))
			return fail(name, "rsdp_paddr 0x%llx has no RSDP",
				    (unsigned long long)gread(r.rbx + 32, 8));
	} else if (!strcmp(proto, "linux64")) {
		/* 64-bit boot protocol: long mode, %rsi the boot_params. */
		if (!(s.efer & (1u << 10)) || !s.cs.l || s.cs.db || !(s.cr0 & (1u << 31)))
			return fail(name, "not 64-bit long mode");
		if (gread(r.rsi + 0x202, 4) != 0x53726448)
			return fail(name, "no \"HdrS\" in boot_params at %%rsi 0x%llx",
				    (unsigned long long)r.rsi);
		if (!gread(r.rsi + 0x1e8, 1))
			return fail(name, "boot_params has no e820 entries");
		cmd = str_at(gread(r.rsi + 0x228, 4));
	} else {
		/* Multiboot: %eax the magic, %ebx the info, cmdline flag set. */
		uint64_t mbi = r.rbx;

		if ((uint32_t)r.rax != 0x2badb002 || !(s.cr0 & 1) || (s.cr0 & (1u << 31)))
			return fail(name, "eax 0x%llx, cr0 0x%llx", (unsigned long long)r.rax,
				    (unsigned long long)s.cr0);
		if (!(gread(mbi, 4) & (1u << 2)) || !(gread(mbi, 4) & (1u << 6)))
			return fail(name, "Multiboot info flags 0x%llx lack cmdline or mmap",
				    (unsigned long long)gread(mbi, 4));
		cmd = str_at(gread(mbi + 16, 4));
	}
	if (!cmd)
		return fail(name, "no command line in RAM");
	if (want && !strstr(cmd, want))
		return fail(name, "command line \"%s\", want \"%s\" in it", cmd, want);
	pass(name, "entry 0x%llx, command line \"%s\"", (unsigned long long)r.rip, cmd);
}

/* What kite sets up of vCPU 0 beyond the entry registers: the CPUID a
 * guest will read and the MSRs it starts with. */
static void check_cpu(void)
{
	uint32_t l1[4], l0[4];
	uint64_t mtrr = g_msr(0x2ff);

	if (!g_cpuid(0, 0, l0) || !g_cpuid(1, 0, l1))
		return fail("boot-cpu", "no CPUID leaf 0 or 1 set");
	if ((l1[1] >> 24) != 0)
		return fail("boot-cpu", "vCPU 0's initial APIC id (leaf 1 EBX[31:24]) is %u",
			    l1[1] >> 24);
	if (!(l1[2] & (1u << 31)))
		return fail("boot-cpu", "leaf 1 ECX lacks the hypervisor bit");
	if (!(l1[2] & (1u << 24)))
		return fail("boot-cpu", "leaf 1 ECX lacks TSC-deadline, which KVM offers "
			    "(KVM_CAP_TSC_DEADLINE_TIMER)");
	if (mtrr != 0xc06 && mtrr != 0x806)
		return fail("boot-cpu", "MTRR_DEF_TYPE 0x%llx: MTRRs off (want enabled, "
			    "default write-back)", (unsigned long long)mtrr);
	pass("boot-cpu", "CPUID leaf 1 (APIC id 0, hypervisor, TSC-deadline), MTRR_DEF_TYPE "
	     "0x%llx", (unsigned long long)mtrr);
}

static void finish(void)
{
	say("%u passed, %u failed\n", passed, failed);
	g_pio(DEBUG_EXIT, 4, true, failed ? 1 : 0);
}

/* Busy, as a polling guest is: port reads (the UART's line status), one
 * exit after another, so a pause or a snapshot finds an exit in flight. */
static void spin_ms(unsigned ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		g_pio(COM1 + 5, 1, false, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static struct vdev devs[DEV_MAX];

static struct vdev *first(unsigned n, unsigned type)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i].type == type)
			return &devs[i];
	return NULL;
}

static void dirty_loop(struct vdev *blk, uint32_t gen, uint32_t page);

static void mode_idle(unsigned n)
{
	unsigned seed = (unsigned)strtoul(env("KVMFAKE_MARK", "1"), NULL, 0);
	struct vdev *blk = first(n, 2);
	uint64_t buf = galloc(4096, 4096);
	char why[160];
	uint8_t st;

	for (unsigned i = 0; i < n; i++)
		if (devs[i].type != 1 && !vdev_init(&devs[i], 0, devs[i].type == 8 ? 3 : 1, why))
			return fail("idle-init", "%s: %s", devs[i].name, why);
	gfill(MARK_GPA, MARK_LEN, seed);
	gfill(buf, 4096, seed);
	if (blk && (!blk_rw(blk, 0, true, 16, buf, 4096, &st, why) || st))
		return fail("idle-init", "marker write: status %u %s", st, why);
	say("idle: ready, marker %u\n", seed);
	if (!strcmp(env("KVMFAKE_GUEST", ""), "dirty")) {
		if (blk)
			dirty_loop(blk, 1, 0);
		return fail("dirty", "no disk");
	}
	for (unsigned tick = 1;; tick++) {
		spin_ms(100);
		if (blk && (!blk_rw(blk, 0, false, 16, buf, 4096, &st, why) || st ||
			    !gcheck(buf, 4096, seed)))
			fail("idle-tick", "tick %u: the marker sectors: status %u %s", tick, st, why);
		say("tick %u\n", tick);
	}
}

/* ---- dirtying RAM for a migration ---- */

#define DIRTY_GPA	0x1000000ULL	/* 16 MiB of pages, each stamped */
#define DIRTY_PAGES	4096
#define STAMP_MAGIC	0x6b766d66u
#define LOG_GPA		(MARK_GPA + MARK_LEN)		/* the last read recorded */
#define READ_GPA	(MARK_GPA + MARK_LEN + 4096)	/* kite's disk reads land here */

struct stamp {
	uint32_t magic, page, gen, pad;
};

/* From generation gen, page `page` on (a resumed guest goes on where the
 * pass in progress had got to). */
static void dirty_loop(struct vdev *blk, uint32_t gen, uint32_t page)
{
	uint64_t wbuf = galloc(512, 512);
	char why[160];
	uint8_t st;

	for (;; gen++, page = 0) {
		struct stamp s = { STAMP_MAGIC, 0, gen, 0 };
		uint8_t sector[512] = { 0 };

		for (uint32_t p = page; p < DIRTY_PAGES; p++) {
			s.page = p;
			g_write(DIRTY_GPA + 4096ULL * p, &s, sizeof(s));
			if (p % 64 == 63)
				g_pio(COM1 + 5, 1, false, 0);	/* let the CPU be stopped */
		}
		/* Disk: the generation out, and back into its own page. */
		memcpy(sector, &gen, 4);
		g_write(wbuf, sector, sizeof(sector));
		if (!blk_rw(blk, 0, true, 40, wbuf, 512, &st, why) || st ||
		    !blk_rw(blk, 0, false, 40, READ_GPA, 512, &st, why) || st)
			return fail("dirty", "pass %u: disk: status %u %s", gen, st, why);
		g_write(LOG_GPA, &gen, 4);
		if (gen % 16 == 0)
			say("pass %u\n", gen);
	}
}

/* Sets *gen and *page to where the dirtying goes on. */
static bool check_dirty(uint32_t *gen, uint32_t *page)
{
	uint32_t first = 0, k = 0, logged, read;
	const struct stamp *s;

	for (uint32_t p = 0; p < DIRTY_PAGES; p++) {
		s = g_ram(DIRTY_GPA + 4096ULL * p, sizeof(*s));
		if (!s || s->magic != STAMP_MAGIC || s->page != p)
			return fail("resume-dirty", "page %u: no stamp", p), false;
		if (p == 0)
			first = s->gen;
		else if (s->gen == first - 1 && !k)
			k = p;		/* where the pass in progress had got to */
		else if (s->gen != (k ? first - 1 : first))
			return fail("resume-dirty", "page %u holds generation %u, page 0 %u: a "
				    "page the migration left behind", p, s->gen, first), false;
	}
	memcpy(&logged, g_ram(LOG_GPA, 4), 4);
	memcpy(&read, g_ram(READ_GPA, 4), 4);
	if (read < logged || read > logged + 1)
		return fail("resume-dirty", "the disk read buffer holds generation %u, the log "
			    "%u: a page kite wrote (a disk read) was not sent again", read, logged),
		       false;
	pass("resume-dirty", "%u pages consistent (generation %u, %u pages into %u), the disk "
	     "read buffer at generation %u", DIRTY_PAGES, first - (k ? 1 : 0), k ? k : 0,
	     first, read);
	*gen = k ? first : first + 1;
	*page = k;
	return true;
}

static void mode_resume(unsigned n)
{
	unsigned seed = (unsigned)strtoul(env("KVMFAKE_MARK", "1"), NULL, 0);
	struct vdev *blk = first(n, 2);
	uint64_t buf;
	struct kvm_regs r;
	struct kvm_sregs s;
	char why[160];
	uint8_t st;
	uint32_t gen = 0, page = 0;
	bool dirty_ok = false;

	/* Past where an earlier guest program allocated (its rings live on). */
	galloc_from(RESUME_GMEM);
	buf = galloc(4096, 4096);
	g_boot_state(&r, &s);
	say("resume: rip 0x%llx rbx 0x%llx cr0 0x%llx\n", (unsigned long long)r.rip,
	    (unsigned long long)r.rbx, (unsigned long long)s.cr0);
	if (!gcheck(MARK_GPA, MARK_LEN, seed))
		fail("resume-ram", "the marker at 0x%llx is not there", (unsigned long long)MARK_GPA);
	else
		pass("resume-ram", "the marker (seed %u) came along", seed);
	if (env("KVMFAKE_DIRTY", NULL))
		dirty_ok = check_dirty(&gen, &page);
	for (unsigned i = 0; i < n; i++) {
		if (devs[i].type == 1)
			continue;
		if (!vdev_attach(&devs[i], why))
			fail("resume-devices", "%s: %s", devs[i].name, why);
	}
	if (!blk)
		return finish();
	if (!blk_rw(blk, 0, false, 16, buf, 4096, &st, why) || st || !gcheck(buf, 4096, seed))
		fail("resume-blk", "reading the marker sectors: status %u %s", st, why);
	else if (gfill(buf, 4096, seed + 1), !blk_rw(blk, 0, true, 24, buf, 4096, &st, why) || st)
		fail("resume-blk", "a new write: status %u %s", st, why);
	else
		pass("resume-blk", "the queue kept its place: marker read back, new write done, "
		     "with interrupts");
	/* KVMFAKE_THEN=dirty: go on dirtying, to be migrated again. */
	if (dirty_ok && !strcmp(env("KVMFAKE_THEN", ""), "dirty")) {
		say("dirtying on from generation %u page %u (%u passed, %u failed so far)\n",
		    gen, page, passed, failed);
		return dirty_loop(blk, gen, page);
	}
	finish();
}

void guest_main(void)
{
	const char *mode = env("KVMFAKE_GUEST", "devices");
	unsigned n;

	if (!strcmp(mode, "native"))
		return native_main();
	if (!strcmp(mode, "emu"))
		return emu_main();
	say("kvmfake guest program: mode %s\n", mode);
	if (!strcmp(mode, "shutdown")) {
		say("shutdown: a triple fault next\n");
		return g_special_exit(KVM_EXIT_SHUTDOWN);
	}
	if (strcmp(mode, "resume")) {
		check_boot();
		check_cpu();
	}
	n = pci_scan(devs, DEV_MAX);
	if (!strcmp(mode, "idle") || !strcmp(mode, "dirty"))
		return mode_idle(n);
	if (!strcmp(mode, "resume"))
		return mode_resume(n);
	if (!strcmp(mode, "hostile")) {
		mode_hostile(devs, n);
		return finish();
	}
	if (!strcmp(mode, "bench")) {
		mode_bench(devs, n);
		return finish();
	}
	for (unsigned i = 0; i < n; i++) {
		if (devs[i].type == 2)
			test_blk(&devs[i]);
		else if (devs[i].type == 8)
			test_scsi(&devs[i]);
		else if (devs[i].type == 1)
			test_net(&devs[i], i == (unsigned)(first(n, 1) - devs) ?
				 getenv("KVMFAKE_TAP") : NULL);
	}
	finish();
}
