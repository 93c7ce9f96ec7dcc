// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the seed corpora, fuzz/seeds/NAME/, one small valid (or
 * instructively broken) input per file: `make -f fuzz/fuzz.mk seeds`.
 * Ring inputs (virtqueue, blk, net) are laid out as fuzz.h describes, by
 * gen_seeds_ring.c; kernels come from the unit tests' fixtures
 * (tests/boot_fixtures.c), which assert with check and so run inside a
 * check test case here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/gen_seeds.h"
#include "tests/boot_fixtures.h"

/* ---- SCSI CDBs ---- */

#define SCSI_NO_LUN	0x01	/* fuzz_scsi.c's LUN flags */
#define SCSI_RO		0x02
#define SCSI_BS4K	0x04
#define SCSI_NO_UNMAP	0x08
#define SCSI_NO_ZERO	0x10
#define SCSI_FAIL	0x20
#define SCSI_BUSY_IO	0x40
#define SCSI_SHORT	0x80
#define CMD_IN		0x01	/* ... and command control bits */
#define CMD_LU_RESET	0x02
#define CMD_PIECE(n)	((n) << 4)

struct cdbs {
	uint8_t buf[8192];
	size_t len;
};

#define CDB(...) ((const uint8_t[16]){ __VA_ARGS__ })

/* One command record: control, data length, reserved, CDB, data-out. */
static void cmd(struct cdbs *c, uint8_t ctl, uint16_t len, const uint8_t *cdb,
		const uint8_t *data)
{
	uint8_t *r = c->buf + c->len;

	r[0] = ctl;
	r[1] = (uint8_t)len;
	r[2] = (uint8_t)(len >> 8);
	r[3] = 0;
	memcpy(r + 4, cdb, 16);
	c->len += 20;
	if (!(ctl & CMD_IN)) {
		if (data)
			memcpy(c->buf + c->len, data, len);
		else
			memset(c->buf + c->len, 0x5a, len);
		c->len += len;
	}
}

/* The input starts with the LUN flags; then come the records. */
static void cdbs_begin(struct cdbs *c, uint8_t lun_flags)
{
	memset(c, 0, sizeof(*c));
	c->buf[0] = lun_flags;
	c->len = 1;
}

static void cdbs_write(struct cdbs *c, const char *name)
{
	write_seed("scsi", name, c->buf, c->len, NULL, 0);
	cdbs_begin(c, 0);
}

static void scsi_seeds(void)
{
	static const uint8_t zero[512], caching_off[24] = {
		0, 0, 0, 0,			/* mode parameter header (6) */
		0x08, 0x12,			/* caching page, WCE 0 */
	};
	static const uint8_t unmap[40] = {
		0, 38, 0, 32, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0,		/* lba 8, 4 blocks */
		0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0, 0, 0,	/* lba 64, 16 */
	};
	static struct cdbs c;

	cdbs_begin(&c, 0);
	cmd(&c, CMD_IN, 0, CDB(0x00), NULL);					/* TEST UNIT READY */
	cmd(&c, CMD_IN, 96, CDB(0x12, 0, 0, 0, 96), NULL);			/* INQUIRY */
	cmd(&c, CMD_IN, 8, CDB(0x25), NULL);					/* READ CAPACITY (10) */
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x10, [13] = 32), NULL);		/* READ CAPACITY (16) */
	cdbs_write(&c, "inquiry-capacity");

	for (unsigned i = 0; i < 6; i++) {
		static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

		cmd(&c, CMD_IN | CMD_PIECE(i), 252, CDB(0x12, 1, pages[i], 0, 252), NULL);
	}
	cdbs_write(&c, "inquiry-vpd");

	cmd(&c, CMD_IN, 255, CDB(0x1a, 0, 0x3f, 0, 255), NULL);		/* MODE SENSE (6) */
	cmd(&c, CMD_IN, 255, CDB(0x5a, 0x10, 0x08, 0, [8] = 255), NULL);	/* (10), LLBAA */
	cmd(&c, CMD_IN, 64, CDB(0x1a, 0x08, 0x4a, 0, 64), NULL);		/* changeable */
	cdbs_write(&c, "mode-sense");

	cmd(&c, 0, 24, CDB(0x15, 0x10, 0, 0, 24), caching_off);		/* MODE SELECT (6) */
	cmd(&c, CMD_PIECE(3), 1024, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 2), NULL);	/* write-through */
	cdbs_write(&c, "mode-select-write-through");

	cmd(&c, CMD_PIECE(2), 1024, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 2), NULL);	/* WRITE (10) */
	cmd(&c, CMD_IN | CMD_PIECE(5), 1024, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 2), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x08, 0, 0, 2, 1), NULL);			/* READ (6) */
	cmd(&c, 0, 512, CDB(0x0a, 0, 0, 3, 1), NULL);				/* WRITE (6) */
	cdbs_write(&c, "read-write");

	cmd(&c, 0, 512, CDB(0xaa, 0, 0, 0, 0, 9, 0, 0, 0, 1), NULL);		/* WRITE (12) */
	cmd(&c, CMD_IN, 512, CDB(0xa8, 0, 0, 0, 0, 9, 0, 0, 0, 1), NULL);	/* READ (12) */
	cmd(&c, 0, 1024, CDB(0x8a, 0x08, [9] = 20, [13] = 2), NULL);		/* WRITE (16) FUA */
	cmd(&c, CMD_IN, 1024, CDB(0x88, 0, [9] = 20, [13] = 2), NULL);	/* READ (16) */
	cdbs_write(&c, "read-write-12-16-fua");

	cmd(&c, CMD_IN, 0, CDB(0x2f, 0, 0, 0, 0, 4, 0, 0, 8), NULL);		/* VERIFY (10) */
	cmd(&c, CMD_IN, 0, CDB(0x8f, 0x02, [9] = 4, [13] = 8), NULL);		/* BYTCHK: refused */
	cmd(&c, CMD_IN, 0, CDB(0x35), NULL);					/* SYNCHRONIZE CACHE */
	cmd(&c, CMD_IN, 0, CDB(0x91), NULL);
	cdbs_write(&c, "verify-sync");

	cmd(&c, 0, 512, CDB(0x93, 0x08, [9] = 10, [13] = 20), zero);		/* WRITE SAME unmap */
	cmd(&c, CMD_IN, 0, CDB(0x93, 0x09, [9] = 40, [13] = 8), NULL);	/* NDOB */
	cmd(&c, 0, 512, CDB(0x41, 0, 0, 0, 0, 50, 0, 0, 20), NULL);		/* a pattern */
	cdbs_write(&c, "write-same");

	c.buf[0] = SCSI_NO_UNMAP | SCSI_NO_ZERO;
	cmd(&c, CMD_PIECE(4), 512, CDB(0x93, 0x08, [9] = 10, [13] = 40), zero);
	cdbs_write(&c, "write-same-zero-loop");

	cmd(&c, 0, 40, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, 40), unmap);		/* UNMAP */
	cdbs_write(&c, "unmap");

	cmd(&c, CMD_IN, 64, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64), NULL);	/* REPORT LUNS */
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);			/* REQUEST SENSE */
	cmd(&c, CMD_IN, 0, CDB(0x1b, 0, 0, 0, 1), NULL);			/* START STOP UNIT */
	cmd(&c, CMD_IN, 0, CDB(0x1e, 0, 0, 0, 1), NULL);			/* PREVENT ALLOW */
	cmd(&c, CMD_IN, 1024, CDB(0xa3, 0x0c, 0x80, [8] = 4), NULL);		/* REPORT OPCODES */
	cmd(&c, CMD_IN, 64, CDB(0xa3, 0x0c, 0x01, 0x28, [9] = 64), NULL);
	cdbs_write(&c, "small-commands");

	cmd(&c, CMD_IN | CMD_LU_RESET, 0, CDB(0x00), NULL);			/* unit attention */
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);
	cmd(&c, CMD_IN, 0, CDB(0xff), NULL);					/* unknown opcode */
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x1f, [13] = 32), NULL);		/* unknown SA */
	cmd(&c, CMD_IN, 0, CDB(0x00, 0, 0, 0, 0, 0x04), NULL);		/* NACA */
	cdbs_write(&c, "reset-and-refusals");

	c.buf[0] = SCSI_NO_LUN;
	cmd(&c, CMD_IN, 96, CDB(0x12, 0, 0, 0, 96), NULL);
	cmd(&c, CMD_IN, 64, CDB(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64), NULL);
	cmd(&c, CMD_IN, 18, CDB(0x03, 0, 0, 0, 18), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cdbs_write(&c, "no-lun");

	c.buf[0] = SCSI_RO;
	cmd(&c, 0, 512, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 255, CDB(0x1a, 0, 0x3f, 0, 255), NULL);
	cdbs_write(&c, "read-only");

	c.buf[0] = SCSI_BS4K;
	cmd(&c, CMD_IN, 32, CDB(0x9e, 0x10, [13] = 32), NULL);
	cmd(&c, CMD_IN | CMD_PIECE(8), 4096, CDB(0x28, 0, 0, 0, 0, 3, 0, 0, 1), NULL);
	cdbs_write(&c, "4k-blocks");

	c.buf[0] = SCSI_FAIL;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, 0, 512, CDB(0x2a, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 0, CDB(0x35), NULL);
	cdbs_write(&c, "io-errors");

	c.buf[0] = SCSI_BUSY_IO;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cdbs_write(&c, "busy");

	c.buf[0] = SCSI_SHORT;
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 1), NULL);
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 4), NULL);	/* overrun */
	cmd(&c, CMD_IN, 512, CDB(0x28, 0, 0, 0, 1, 0, 0, 0, 1), NULL);	/* past the end */
	cdbs_write(&c, "short-overrun-range");
}

/* ---- kernels ---- */

static void boot_elf(const char *name, const struct elf_spec *e)
{
	size_t len;
	uint8_t *img = elf_make(e, &len);

	write_seed("boot", name, img, len, NULL, 0);
	free(img);
}

static void boot_bz(const char *name, const struct bz_spec *b)
{
	size_t len;
	uint8_t *img = bz_make(b, &len);

	write_seed("boot", name, img, len, NULL, 0);
	free(img);
}

/* Small images: one page of segment instead of the fixtures' two. */
static void small_elf(struct elf_spec *s, int is64)
{
	elf_spec_default(s, is64);
	s->load[0].filesz = 0x400;
	s->load[0].memsz = 0x1000;
	s->file_len = 0x1400;
}

/* And 0x800 bytes of kernel instead of 0x4000. */
static void small_bz(struct bz_spec *s)
{
	bz_spec_default(s);
	s->pm_size = 0x800;
}

START_TEST(boot_seeds)
{
	struct elf_spec e;
	struct bz_spec b;

	small_elf(&e, 1);
	boot_elf("pvh-elf64", &e);
	small_elf(&e, 0);
	boot_elf("pvh-elf32", &e);
	small_elf(&e, 0);
	e.note = NOTE_SECTION;
	e.note_after_other = 1;
	boot_elf("pvh-note-in-section", &e);
	small_elf(&e, 1);
	e.note = NOTE_NONE;
	boot_elf("linux64-elf64", &e);
	small_elf(&e, 0);
	e.note = NOTE_NONE;
	e.mb_offset = 0x400;
	e.mb_flags = 0x3;
	boot_elf("multiboot-elf32", &e);
	small_elf(&e, 1);
	e.mb_offset = 0x600;
	e.mb_flags = 0x2;
	boot_elf("multiboot-pvh-elf64", &e);
	small_elf(&e, 0);
	e.note = NOTE_NONE;
	e.mb_offset = 0x400;
	e.mb_flags = 0x10004;		/* a.out kludge and video: refused */
	boot_elf("multiboot-refused-flags", &e);
	small_elf(&e, 1);
	e.nload = 3;
	e.load[1] = (struct load_spec){ 0x1400, 0x200000, 0x200000, 0x100, 0x2000 };
	e.load[2] = (struct load_spec){ 0x1500, 0x400000, 0x400000, 0x100, 0x100 };
	e.file_len = 0x1600;
	boot_elf("pvh-three-segments", &e);

	small_bz(&b);
	boot_bz("bzimage", &b);
	small_bz(&b);
	b.version = 0x0206;
	b.relocatable = 0;
	b.xloadflags = 0;
	boot_bz("bzimage-2.06-fixed", &b);
	small_bz(&b);
	b.setup_sects = 0;
	b.cmdline_size = 16;
	b.initrd_addr_max = 0x100000;
	boot_bz("bzimage-tight-limits", &b);
	small_bz(&b);
	b.cut = 0x10;
	boot_bz("bzimage-truncated", &b);
}
END_TEST

static void kernel_seeds(void)
{
	Suite *s = suite_create("seeds");
	TCase *tc = tcase_create("boot");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, boot_seeds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed) {
		fprintf(stderr, "gen_seeds: the kernel fixtures failed\n");
		exit(1);
	}
	write_seed("boot", "not-a-kernel", "MZ\x90\0this is not a kernel", 24, NULL, 0);
}

/* ---- command lines ---- */

static void text(const char *harness, const char *name, const char *s)
{
	write_seed(harness, name, s, strlen(s), NULL, 0);
}

static void text_seeds(void)
{
	static const char *const disks[][2] = {
		{ "path", "path=disk.img" },
		{ "null", "null=1G" },
		{ "all-keys", "path=/var/lib/x.img,iface=blk,queues=4,queue_size=128,readonly=on,"
			      "cache=writeback,serial=KITE-0001,iothreads=2,poll_us=50" },
		{ "comma-in-path", "path=a,,b.img,readonly=off" },
		{ "null-fraction", "null=4.5G,cache=none,iface=scsi" },
		{ "bad-queue-size", "path=x.img,queue_size=100" },
		{ "path-and-null", "path=x.img,null=512" },
		{ "twice", "path=x.img,queues=1,queues=2" },
		{ "trailing-comma", "null=512K," },
		{ "serial-long", "null=1M,serial=ABCDEFGHIJKLMNOPQRSTU" },
		{ "unknown-key", "path=x.img,speed=fast" },
	};
	static const char *const runs[][2] = {
		{ "minimal", "--kernel\n/proc/self/exe" },
		{ "equals", "--kernel=/proc/self/exe\n--memory=512M\n--cpus=2" },
		{ "all-options", "--kernel\n/proc/self/exe\n--initrd\n/proc/self/exe\n--cmdline\n"
				 "console=ttyS0\n--cpus\n4\n--memory\n4.5G\n--hugepages\n2M\n"
				 "--numa-node\n0\n--console\nfile=/tmp/x\n--boot\nlinux64\n--verbose" },
		{ "disks", "--kernel\n/proc/self/exe\n--disk\nnull=1G,queues=2\n--disk\n"
			   "path=x.img,readonly=on" },
		{ "help", "--help" },
		{ "bad-memory", "--kernel\n/proc/self/exe\n--memory\nlots" },
		{ "hugepages-mismatch", "--kernel\n/proc/self/exe\n--memory\n17M\n--hugepages\n2M" },
		{ "missing-value", "--kernel\n/proc/self/exe\n--cpus" },
		{ "not-a-file", "--kernel\n/dev/null" },
		{ "no-kernel", "--memory\n1G" },
		{ "unknown", "--kernel\n/proc/self/exe\n--turbo" },
		{ "size-suffixes", "--kernel\n/proc/self/exe\n--memory\n1GiB\n--cpus\n254" },
	};

	static const char *const requests[][2] = {
		{ "info", "{\"cmd\": \"info\"}" },
		{ "pause-twice-resume", "{\"cmd\":\"pause\"}\n{\"cmd\":\"pause\"}\n"
					"{\"cmd\":\"resume\"}\n{\"cmd\":\"resume\"}\n" },
		{ "stop", "{\"cmd\": \"stop\"}\n" },
		{ "not-json", "cmd=info\n" },
		{ "not-an-object", "[\"info\"]\n\"info\"\n42\n" },
		{ "cmd-not-string", "{\"cmd\": 5}\n{\"cmd\": null}\n{}\n" },
		{ "unknown-cmd", "{\"cmd\": \"reboot\"}\n" },
		{ "extra-fields", "{\"cmd\":\"info\",\"x\":{\"a\":[1,2.5,{\"b\":null}],\"c\":true}}\n" },
		{ "escapes", "{\"cmd\": \"in\\u0066o\"}\n{\"cmd\": \"\\ud83d\\ude00\"}\n" },
		{ "empty-lines", "\n\n\n" },
		{ "nested", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{\"cmd\":\"info\"}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n" },
		{ "split-request", "{\"cmd\":" },
	};
	static char longline[4200];

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		text("control", requests[i][0], requests[i][1]);
	/* One line longer than the server takes: it answers and hangs up. */
	memset(longline, ' ', sizeof(longline) - 1);
	memcpy(longline, "{\"cmd\": \"info\"", 14);
	text("control", "too-long", longline);

	for (size_t i = 0; i < sizeof(disks) / sizeof(disks[0]); i++)
		text("disk_opts", disks[i][0], disks[i][1]);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		text("config", runs[i][0], runs[i][1]);
}

int main(int argc, char **argv)
{
	seeds_open(argc, argv);
	ring_seeds();
	scsi_seeds();
	kernel_seeds();
	text_seeds();
	seeds_done("gen_seeds");
	return 0;
}
