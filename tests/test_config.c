// SPDX-License-Identifier: Apache-2.0
/* `kite run` command line: sizes, numbers, and every error path. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/err.h"
#include "vmm/snapshot.h"

static const struct { const char *in; int ok; uint64_t want; } sizes[] = {
	{ "0", 1, 0 }, { "4096", 1, 4096 }, { "1K", 1, 1024 }, { "1k", 1, 1024 },
	{ "512M", 1, 512ULL << 20 }, { "512MiB", 1, 512ULL << 20 }, { "512MB", 1, 512ULL << 20 },
	{ "2G", 1, 2ULL << 30 }, { "3.5G", 1, 3584ULL << 20 }, { "4.5G", 1, 4608ULL << 20 },
	{ "1T", 1, 1ULL << 40 }, { "0.5K", 1, 512 },
	{ "", 0, 0 }, { "M", 0, 0 }, { "12X", 0, 0 }, { "-1M", 0, 0 }, { "1.5", 0, 0 },
	{ "1.M", 0, 0 }, { "0.3K", 0, 0 } /* 307.2 bytes */, { "1M2", 0, 0 }, { "1 M", 0, 0 },
	{ "99999999999999999999", 0, 0 }, { "16777216T", 0, 0 }, { "1MiBB", 0, 0 },
};

START_TEST(size_table)
{
	uint64_t v = 12345;
	int r = parse_size(sizes[_i].in, &v);

	if (sizes[_i].ok) {
		ck_assert_msg(r == 0, "'%s' should parse", sizes[_i].in);
		ck_assert_uint_eq(v, sizes[_i].want);
	} else {
		ck_assert_msg(r < 0, "'%s' should be refused", sizes[_i].in);
	}
}
END_TEST

static char kernel_path[64];

static void make_kernel(void)
{
	FILE *f;

	snprintf(kernel_path, sizeof(kernel_path), "/tmp/kite-test-kernel-%d", (int)getpid());
	f = fopen(kernel_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("x", f);
	fclose(f);
}

static void drop_kernel(void)
{
	unlink(kernel_path);
}

/* argv as one string, words split on spaces; KERNEL stands for the temp file. */
static int parse(struct vm_config *cfg, const char *line)
{
	static char buf[1024];
	char *argv[64], *tok, *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "run %s", line);
	for (tok = strtok_r(buf, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(tok, "KERNEL") ? tok : kernel_path;
	argv[argc] = NULL;
	err_clear();
	return config_parse(cfg, argc, argv);
}

START_TEST(defaults)
{
	struct vm_config c;

	ck_assert_int_eq(parse(&c, "--kernel KERNEL"), 0);
	ck_assert_uint_eq(c.cpus, 1);
	ck_assert_uint_eq(c.memory, 256ULL << 20);
	ck_assert_int_eq(c.numa_node, -1);
	ck_assert_uint_eq(c.hugepage_size, 0);
	ck_assert_int_eq(c.console.kind, CONSOLE_STDIO);
	ck_assert_str_eq(c.cmdline, "");
	ck_assert_int_eq(c.boot, BOOT_AUTO);
	ck_assert(!c.verbose);
}
END_TEST

START_TEST(all_options)
{
	struct vm_config c;

	ck_assert_int_eq(parse(&c, "--kernel KERNEL --cpus=4 --memory=4.5G --hugepages 2M "
			       "--numa-node 0 --console file=/tmp/x.log --boot linux64 --verbose "
			       "--cmdline console=ttyS0"), 0);
	ck_assert_str_eq(c.kernel, kernel_path);
	ck_assert_uint_eq(c.cpus, 4);
	ck_assert_uint_eq(c.memory, 4608ULL << 20);
	ck_assert_uint_eq(c.hugepage_size, 2ULL << 20);
	ck_assert_int_eq(c.numa_node, 0);
	ck_assert_int_eq(c.console.kind, CONSOLE_FILE);
	ck_assert_str_eq(c.console.path, "/tmp/x.log");
	ck_assert_int_eq(c.boot, BOOT_LINUX64);
	ck_assert(c.verbose);
	ck_assert_str_eq(c.cmdline, "console=ttyS0");
	config_free(&c);
	ck_assert_int_eq(parse(&c, "--help"), 0);
	ck_assert(c.help);
	config_free(&c);
}
END_TEST

/* Each bad command line: refused, and the message names what it must. */
static const struct { const char *line; const char *msg; } bad[] = {
	{ "", "--kernel PATH is required" },
	{ "--kernel /nonexistent/kite-kernel", "--kernel /nonexistent/kite-kernel: cannot read: No such file or directory" },
	{ "--kernel KERNEL --initrd /nonexistent/rd", "--initrd /nonexistent/rd: cannot read" },
	{ "--kernel", "--kernel: missing value" },
	{ "--kernel /", "--kernel /: not a regular file" },
	{ "--kernel KERNEL --cpus 0", "--cpus '0': expected a number from 1 to 254" },
	{ "--kernel KERNEL --cpus 255", "--cpus '255': expected a number from 1 to 254" },
	{ "--kernel KERNEL --cpus two", "--cpus 'two': expected a number" },
	{ "--kernel KERNEL --cpus -1", "--cpus '-1'" },
	{ "--kernel KERNEL --memory lots", "--memory 'lots': expected a size" },
	{ "--kernel KERNEL --memory 1M", "--memory '1M': expected a size from 16M to 1T" },
	{ "--kernel KERNEL --memory 2T", "--memory '2T'" },
	{ "--kernel KERNEL --memory 100000001", "--memory '100000001'" },
	{ "--kernel KERNEL --hugepages 4K", "--hugepages '4K': expected 2M or 1G" },
	{ "--kernel KERNEL --memory 1G --hugepages 1G --memory 1536M", "is not a multiple of --hugepages 1G" },
	{ "--kernel KERNEL --numa-node x", "--numa-node 'x': expected a node number" },
	{ "--kernel KERNEL --console tty", "--console 'tty': expected stdio, file=PATH or none" },
	{ "--kernel KERNEL --console file=", "--console 'file='" },
	{ "--kernel KERNEL --boot efi", "--boot 'efi': expected auto, pvh, linux64 or multiboot" },
	{ "--kernel KERNEL --frobnicate", "unknown option '--frobnicate'" },
	{ "--kernel KERNEL --verbose=yes", "--verbose takes no value" },
	{ "--kernel KERNEL extra", "unexpected argument 'extra'" },
	{ "--kernel KERNEL -v", "unexpected argument '-v'" },
};

START_TEST(bad_table)
{
	struct vm_config c;
	int r = parse(&c, bad[_i].line);

	ck_assert_msg(r < 0, "'%s' should be refused", bad[_i].line);
	ck_assert_msg(strstr(err_msg(), bad[_i].msg), "'%s': message '%s' lacks '%s'",
		      bad[_i].line, err_msg(), bad[_i].msg);
	ck_assert_msg(!strchr(err_msg(), '\n'), "message must be one line");
	config_free(&c);	/* as kite does after a refusal */
}
END_TEST

START_TEST(usage_tells_exit_statuses)
{
	ck_assert_ptr_nonnull(strstr(config_run_usage, "--kernel PATH"));
	ck_assert_ptr_nonnull(strstr(config_run_usage, "120"));
	ck_assert_ptr_nonnull(strstr(config_run_usage, "debug-exit"));
}
END_TEST

/* A file with a snapshot's header and ARGS section only: what --restore
 * reads at parse time. */
static void write_snapshot_args(const char *path, const char *args, size_t len)
{
	struct snap_shape shape = { .mem_size = 64 << 20, .nregions = 1, .ncpus = 3 };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	shape.regions[0].size = 64 << 20;
	ck_assert_int_eq(stream_write_header(fd, SNAP_MAGIC, SNAP_VERSION, &shape, "snapshot"), 0);
	ck_assert_int_eq(stream_write_section(fd, SNAP_SEC_ARGS, args, len, "snapshot"), 0);
	close(fd);
}

START_TEST(restore_takes_the_snapshots_shape)
{
	struct vm_config c, r;
	char snap[64], *args;
	size_t len;

	snprintf(snap, sizeof(snap), "/tmp/kite-test-restore-%d", (int)getpid());
	ck_assert_int_eq(parse(&c, "--kernel KERNEL --cpus 3 --memory 64M --cmdline x "
			       "--disk null=1M,iface=scsi --net tap=kt0,queues=2"), 0);
	ck_assert_uint_gt(c.shape_args_len, 0);
	args = malloc(c.shape_args_len);
	memcpy(args, c.shape_args, c.shape_args_len);
	len = c.shape_args_len;
	/* Only what shapes the VM, in order. */
	ck_assert_str_eq(args, "--cpus");
	ck_assert_str_eq(args + 7, "3");
	ck_assert_ptr_null(memmem(args, len, "--cmdline", 9));
	config_free(&c);
	write_snapshot_args(snap, args, len);

	{
		char line[160];

		snprintf(line, sizeof(line), "--restore %s --api-socket /tmp/k.sock", snap);
		ck_assert_msg(parse(&r, line) == 0, "%s", err_msg());
	}
	ck_assert_uint_eq(r.cpus, 3);
	ck_assert_uint_eq(r.memory, 64 << 20);
	ck_assert_uint_eq(r.ndisks, 1);
	ck_assert_uint_eq(r.nnets, 1);
	ck_assert_ptr_null(r.kernel);
	ck_assert_uint_eq(r.shape_args_len, len);
	ck_assert_mem_eq(r.shape_args, args, len);
	config_free(&r);

	/* What the snapshot gives may not be given again. */
	{
		char line[160];

		snprintf(line, sizeof(line), "--restore %s --disk null=1M", snap);
		ck_assert_int_eq(parse(&r, line), -EINVAL);
		ck_assert_str_eq(err_msg(), "--disk cannot be used with --restore: the snapshot "
				 "gives the VM's CPUs, memory and devices");
		config_free(&r);
		snprintf(line, sizeof(line), "--restore %s --kernel KERNEL", snap);
		ck_assert_int_eq(parse(&r, line), -EINVAL);
		config_free(&r);
	}
	/* A snapshot whose ARGS hold anything else is refused. */
	{
		static const char evil[] = "--cpus\0" "2\0" "--kernel\0" "/bin/sh";
		char line[160];

		write_snapshot_args(snap, evil, sizeof(evil));
		snprintf(line, sizeof(line), "--restore %s", snap);
		ck_assert_int_eq(parse(&r, line), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err_msg(), "--kernel, which no snapshot may set"));
		config_free(&r);
	}
	unlink(snap);
	free(args);
}
END_TEST

START_TEST(incoming_endpoint)
{
	struct vm_config c;

	/* No kernel needed: it comes with the VM. */
	ck_assert_int_eq(parse(&c, "--incoming tcp:127.0.0.1:4444 --cpus 2"), 0);
	ck_assert_str_eq(c.incoming, "tcp:127.0.0.1:4444");
	config_free(&c);
	ck_assert_int_eq(parse(&c, "--incoming tcp:[::1]:4444"), 0);
	config_free(&c);
	ck_assert_int_eq(parse(&c, "--incoming 127.0.0.1:4444"), -EINVAL);
	ck_assert_str_eq(err_msg(), "--incoming '127.0.0.1:4444': expected tcp:HOST:PORT");
	config_free(&c);
	ck_assert_int_eq(parse(&c, "--incoming tcp:h:0"), -EINVAL);
	config_free(&c);
	ck_assert_int_eq(parse(&c, "--incoming tcp::80"), -EINVAL);
	config_free(&c);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, make_kernel, drop_kernel);
	tcase_add_loop_test(tc, size_table, 0, sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, all_options);
	tcase_add_loop_test(tc, bad_table, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, usage_tells_exit_statuses);
	tcase_add_test(tc, restore_takes_the_snapshots_shape);
	tcase_add_test(tc, incoming_endpoint);
	suite_add_tcase(s, tc);
	return s;
}
