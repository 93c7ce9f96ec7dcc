// SPDX-License-Identifier: Apache-2.0
#include "vmm/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/err.h"
#include "vmm/snapshot.h"

const char config_run_usage[] =
"Usage: kite run --kernel PATH [options]\n"
"       kite run --restore FILE [--api-socket PATH] [--console ...] [...]\n"
"       kite run [options as on the source] --incoming tcp:HOST:PORT\n"
"\n"
"Boot a kernel in a new VM, resume a snapshot, or receive a VM migrated\n"
"from another kite. One kite process runs one VM.\n"
"\n"
"  --kernel PATH        kernel: bzImage, ELF with a PVH note, Multiboot ELF,\n"
"                       or 64-bit ELF (entered in long mode, like vmlinux)\n"
"  --initrd PATH        initial ramdisk (a Multiboot kernel gets it as module 0)\n"
"  --cmdline STR        kernel command line (default: empty)\n"
"  --boot auto|pvh|linux64|multiboot\n"
"                       entry protocol (default auto: bzImage -> Linux 64-bit\n"
"                       boot protocol, PVH note -> pvh, Multiboot header ->\n"
"                       multiboot, other ELF64 -> linux64)\n"
"  --cpus N             vCPUs, 1-254 (default 1)\n"
"  --memory SIZE        guest RAM, K/M/G suffixes, e.g. 512M, 4.5G (default 256M)\n"
"  --hugepages 2M|1G    back guest RAM with hugetlb pages of that size\n"
"  --numa-node N        bind guest RAM to NUMA node N and pin vCPUs to its CPUs\n"
"  --disk path=FILE|null=SIZE[,iface=blk][,queues=N][,queue_size=N][,readonly=on]\n"
"         [,cache=none|writeback][,serial=ID][,iothreads=N][,poll_us=N]\n"
"                       a virtio-blk disk (repeatable, up to 16): an image file or\n"
"                       block device locked against a second writer, or a null\n"
"                       backend of SIZE that completes at once (reads are zeros);\n"
"                       queues default to one per vCPU, queue_size to 256,\n"
"                       cache to none (O_DIRECT, page cache where refused)\n"
"  --net tap=NAME[,mac=MAC][,queues=N][,queue_size=N]\n"
"  --net fd=N[,fd=M...][,mac=MAC]\n"
"                       a virtio-net NIC (repeatable, up to 8) on a tap: NAME is\n"
"                       opened, or created and removed again at exit; or tap fds\n"
"                       an orchestrator opened, one per queue pair. Queue pairs\n"
"                       default to one per vCPU; the MAC to one derived from the\n"
"                       tap name (locally administered, stable across boots)\n"
"  --console stdio|file=PATH|none\n"
"                       where COM1 goes (default stdio; on a terminal, Ctrl-A x quits)\n"
"  --api-socket PATH    serve the control socket there (JSON, owner only;\n"
"                       see kite ctl)\n"
"  --restore FILE       resume the VM saved in FILE (kite ctl ... snapshot):\n"
"                       CPUs, memory, disks and NICs come from the snapshot,\n"
"                       so --kernel, --initrd, --cmdline, --boot, --cpus,\n"
"                       --memory, --disk and --net are refused with it\n"
"  --incoming tcp:HOST:PORT\n"
"                       listen there for one migration (kite ctl ... migrate),\n"
"                       then run the VM it brings; the other options must\n"
"                       give the source's shape (CPUs, memory, disks, NICs);\n"
"                       --kernel, --initrd and --cmdline are not needed and\n"
"                       are ignored. An incomplete or mismatched stream is\n"
"                       refused: kite exits 1 without running the guest\n"
"  --user USER[:GROUP]  after set-up, run as this user (kite always drops\n"
"                       every capability and sets no_new_privs once KVM,\n"
"                       memory, images and taps are open; the console file\n"
"                       and the API socket are opened after that)\n"
"  --seccomp kill|log|off\n"
"                       syscall filter of every thread (default kill: a call\n"
"                       outside the thread's list kills kite, naming the call;\n"
"                       log: allow such calls and have the kernel log them\n"
"                       (dmesg); off: no filter, for debugging only)\n"
"  --verbose            say what kite does and what placement it got\n"
"  --help               this text\n"
"\n"
"Exit status:\n"
"  0     the guest powered off (ACPI S5) or reset, or Ctrl-A x\n"
"  1     kite could not start or run the VM (the message says why)\n"
"  2     bad command line\n"
"  v     the guest wrote v to the debug-exit port 0xf4 (status v & 0xff)\n"
"  120   the guest triple-faulted (KVM_EXIT_SHUTDOWN); registers are printed\n"
"  121   KVM internal error (e.g. an instruction KVM could not emulate)\n"
"  122   KVM could not enter the vCPU (KVM_EXIT_FAIL_ENTRY)\n"
"  123   a vCPU exit kite does not handle\n"
"  130, 143  stopped by SIGINT or SIGTERM\n";

int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long whole = 0, frac = 0, frac_div = 1, mult = 1;
	const char *p = s;
	int digits = 0;

	if (!s)
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++, digits++) {
		if (whole > (ULLONG_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (unsigned)(*p - '0');
	}
	if (!digits)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (frac_div > 1000000000ULL)
				return -EINVAL;	/* absurd precision */
			frac = frac * 10 + (unsigned)(*p - '0');
			frac_div *= 10;
		}
	}
	switch (toupper((unsigned char)*p)) {
	case 'K': mult = 1ULL << 10; p++; break;
	case 'M': mult = 1ULL << 20; p++; break;
	case 'G': mult = 1ULL << 30; p++; break;
	case 'T': mult = 1ULL << 40; p++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (mult > 1) {
		if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'B' || p[1] == 'b'))
			p += 2;
		else if (p[0] == 'B' || p[0] == 'b')
			p++;
	}
	if (*p)
		return -EINVAL;
	if (frac && mult == 1)
		return -EINVAL;	/* fractional bytes */
	if (whole > ULLONG_MAX / mult)
		return -ERANGE;
	/* mult / frac_div is exact for every frac_div up to 10^9 only when it
	 * divides; compute frac * mult / frac_div and insist it is whole. */
	if (frac) {
		unsigned __int128 f = (unsigned __int128)frac * mult;

		if (f % frac_div)
			return -EINVAL;
		if ((unsigned long long)(f / frac_div) > ULLONG_MAX - whole * mult)
			return -ERANGE;
		*out = whole * mult + (unsigned long long)(f / frac_div);
		return 0;
	}
	*out = whole * mult;
	return 0;
}

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_HUGEPAGES,
	OPT_NUMA, OPT_CONSOLE, OPT_BOOT, OPT_DISK, OPT_NET, OPT_API_SOCKET, OPT_USER, OPT_VERBOSE, OPT_HELP,
	OPT_SECCOMP, OPT_RESTORE, OPT_INCOMING,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "hugepages", required_argument, NULL, OPT_HUGEPAGES },
	{ "numa-node", required_argument, NULL, OPT_NUMA },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "boot", required_argument, NULL, OPT_BOOT },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "user", required_argument, NULL, OPT_USER },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int check_readable(const char *opt, const char *path)
{
	struct stat st;

	if (!*path)
		return err_set(EINVAL, "%s: empty path (expected a file)", opt);
	if (access(path, R_OK) < 0)
		return err_sys(errno, "%s %s: cannot read", opt, path);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(EINVAL, "%s %s: not a regular file", opt, path);
	return 0;
}

static int parse_boot(const char *v, enum boot_proto *out)
{
	static const struct { const char *name; enum boot_proto p; } names[] = {
		{ "auto", BOOT_AUTO }, { "pvh", BOOT_PVH }, { "linux64", BOOT_LINUX64 },
		{ "multiboot", BOOT_MULTIBOOT },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(v, names[i].name)) {
			*out = names[i].p;
			return 0;
		}
	}
	return err_set(EINVAL, "--boot '%s': expected auto, pvh, linux64 or multiboot", v);
}

/* tcp:HOST:PORT, HOST a name, an IPv4 address or [an IPv6 address]. */
int parse_tcp_endpoint(const char *opt, const char *v, char *host, size_t hlen, unsigned *port)
{
	const char *colon = strrchr(v, ':');
	unsigned long long p;
	size_t n;

	if (strncmp(v, "tcp:", 4) || !colon || colon < v + 4)
		return err_set(EINVAL, "%s '%s': expected tcp:HOST:PORT", opt, v);
	n = (size_t)(colon - (v + 4));
	if (parse_uint(colon + 1, 1, 65535, &p))
		return err_set(EINVAL, "%s '%s': the port must be a number from 1 to 65535", opt, v);
	if (n >= 2 && v[4] == '[' && v[4 + n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (!n || n >= hlen)
		return err_set(EINVAL, "%s '%s': expected tcp:HOST:PORT with a host", opt, v);
	memcpy(host, v + 4, n);
	host[n] = '\0';
	*port = (unsigned)p;
	return 0;
}

static int parse_incoming(const char *v, const char **out)
{
	char host[256];
	unsigned port;
	int r = parse_tcp_endpoint("--incoming", v, host, sizeof(host), &port);

	if (!r)
		*out = v;
	return r;
}

/* Remember an option that shapes the VM, for a snapshot's ARGS. */
static int note_shape(struct vm_config *cfg, const char *opt, const char *v)
{
	size_t a = strlen(opt) + 1, b = strlen(v) + 1;
	char *n = realloc(cfg->shape_args, cfg->shape_args_len + a + b);

	if (!n)
		return err_set(ENOMEM, "out of memory");
	memcpy(n + cfg->shape_args_len, opt, a);
	memcpy(n + cfg->shape_args_len + a, v, b);
	cfg->shape_args = n;
	cfg->shape_args_len += a + b;
	return 0;
}

static int parse_one(struct vm_config *cfg, int opt, const char *v)
{
	unsigned long long n;
	uint64_t size;
	int r;

	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel = v;
		return 0;
	case OPT_INITRD:
		cfg->initrd = v;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = v;
		return 0;
	case OPT_CPUS:
		if (parse_uint(v, 1, KITE_MAX_CPUS, &n))
			return err_set(EINVAL, "--cpus '%s': expected a number from 1 to %d", v,
				       KITE_MAX_CPUS);
		cfg->cpus = (unsigned)n;
		return note_shape(cfg, "--cpus", v);
	case OPT_MEMORY:
		r = parse_size(v, &size);
		if (r || size < KITE_MIN_MEMORY || size > KITE_MAX_MEMORY || size % 4096)
			return err_set(EINVAL, "--memory '%s': expected a size from 16M to 1T in "
				       "whole 4 KiB pages, with a K, M, G or T suffix (e.g. 512M, 4.5G)", v);
		cfg->memory = size;
		return note_shape(cfg, "--memory", v);
	case OPT_HUGEPAGES:
		if (!strcmp(v, "2M") || !strcmp(v, "2m"))
			cfg->hugepage_size = 2ULL << 20;
		else if (!strcmp(v, "1G") || !strcmp(v, "1g"))
			cfg->hugepage_size = 1ULL << 30;
		else
			return err_set(EINVAL, "--hugepages '%s': expected 2M or 1G", v);
		return 0;
	case OPT_NUMA:
		if (parse_uint(v, 0, 1023, &n))
			return err_set(EINVAL, "--numa-node '%s': expected a node number", v);
		cfg->numa_node = (int)n;
		return 0;
	case OPT_CONSOLE:
		return console_parse(v, &cfg->console);
	case OPT_BOOT:
		return parse_boot(v, &cfg->boot);
	case OPT_DISK:
		if (cfg->ndisks == KITE_MAX_DISKS)
			return err_set(E2BIG, "--disk %s: at most %d disks", v, KITE_MAX_DISKS);
		r = disk_opts_parse(v, &cfg->disks[cfg->ndisks]);
		if (!r)
			cfg->ndisks++;
		return r ? r : note_shape(cfg, "--disk", v);
	case OPT_NET:
		if (cfg->nnets == KITE_MAX_NETS)
			return err_set(E2BIG, "--net %s: at most %d NICs", v, KITE_MAX_NETS);
		r = net_opts_parse(v, &cfg->nets[cfg->nnets]);
		if (!r)
			cfg->nnets++;
		return r ? r : note_shape(cfg, "--net", v);
	case OPT_API_SOCKET:
		if (!*v || strlen(v) >= 108)
			return err_set(EINVAL, "--api-socket '%s': expected a socket path of 1 to "
				       "107 bytes", v);
		cfg->api_socket = v;
		return 0;
	case OPT_USER:
		return sandbox_parse_user(v, &cfg->sandbox);
	case OPT_SECCOMP:
		return seccomp_parse_mode(v, &cfg->seccomp);
	case OPT_RESTORE:
		if (!*v)
			return err_set(EINVAL, "--restore: empty path (expected a snapshot file)");
		cfg->restore = v;
		return 0;
	case OPT_INCOMING:
		return parse_incoming(v, &cfg->incoming);
	case OPT_VERBOSE:
		cfg->verbose = true;
		return 0;
	case OPT_HELP:
		cfg->help = true;
		return 0;
	}
	return err_set(EINVAL, "internal: unknown option %d", opt);
}

void config_free(struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->ndisks; i++)
		disk_opts_free(&cfg->disks[i]);
	for (unsigned i = 0; i < cfg->nnets; i++)
		net_opts_free(&cfg->nets[i]);
	cfg->ndisks = cfg->nnets = 0;
	free(cfg->shape_args);
	free(cfg->restored_args);
	cfg->shape_args = cfg->restored_args = NULL;
	cfg->shape_args_len = 0;
}

/* The options a snapshot carries, and the only ones its ARGS may hold. */
static bool shape_option(int opt)
{
	return opt == OPT_CPUS || opt == OPT_MEMORY || opt == OPT_DISK || opt == OPT_NET;
}

/* Walk argv by hand rather than with getopt's global state: messages must
 * name the exact option, and tests call this many times. `from_snapshot`:
 * argv is a snapshot's ARGS, which may hold nothing but shape options. */
static int parse_argv(struct vm_config *cfg, int argc, char **argv, bool from_snapshot)
{
	int r;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		const struct option *o;
		size_t nlen;

		if (strncmp(arg, "--", 2) || !arg[2])
			return err_set(EINVAL, "unexpected argument '%s' (options start with --; "
				       "see kite run --help)", arg);
		eq = strchr(arg + 2, '=');
		nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		for (o = run_options; o->name; o++)
			if (strlen(o->name) == nlen && !strncmp(o->name, arg + 2, nlen))
				break;
		if (!o->name)
			return err_set(EINVAL, "unknown option '%.*s' (see kite run --help)",
				       (int)(nlen + 2), arg);
		if (o->has_arg == required_argument) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return err_set(EINVAL, "--%s: missing value", o->name);
		} else if (eq) {
			return err_set(EINVAL, "--%s takes no value", o->name);
		}
		if (from_snapshot && !shape_option(o->val))
			return err_set(EINVAL, "--restore %s: the snapshot's options hold --%s, "
				       "which no snapshot may set", cfg->restore, o->name);
		if (from_snapshot && o->val == OPT_NET && strstr(val, "fd="))
			return err_set(EINVAL, "--restore %s: the snapshot's NIC was on tap fds "
				       "(--net %s), which a new process cannot have; restore "
				       "needs NICs given as tap=NAME", cfg->restore, val);
		cfg->given |= 1ULL << (o->val - OPT_KERNEL);
		r = parse_one(cfg, o->val, val);
		if (r)
			return r;
	}
	return 0;
}

/* Build the VM the snapshot describes: its ARGS, parsed as shape options. */
static int parse_restore(struct vm_config *cfg)
{
	static const int refused[] = { OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_BOOT, OPT_CPUS,
				       OPT_MEMORY, OPT_DISK, OPT_NET, OPT_INCOMING };
	struct snap_shape *shape = malloc(sizeof(*shape));
	char **argv = NULL, *args = NULL;
	size_t len = 0;
	int argc = 1, r, fd;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (cfg->given & (1ULL << (refused[i] - OPT_KERNEL))) {
			const struct option *o = run_options;

			while (o->val != refused[i])
				o++;
			free(shape);
			return err_set(EINVAL, "--%s cannot be used with --restore: the snapshot "
				       "gives the VM's %s", o->name,
				       refused[i] == OPT_INCOMING ? "state" :
				       shape_option(refused[i]) ? "CPUs, memory and devices" :
				       "kernel (it is already running)");
		}
	if (!shape)
		return err_set(ENOMEM, "out of memory");
	/* Non-blocking: a FIFO or a terminal named here must not hang kite;
	 * only a regular file is read. */
	fd = open(cfg->restore, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		free(shape);
		return err_sys(errno, "--restore %s: cannot open", cfg->restore);
	}
	{
		struct stat st;

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			free(shape);
			return err_set(EINVAL, "--restore %s: not a regular file (expected a "
				       "snapshot written by kite ctl ... snapshot)", cfg->restore);
		}
	}
	r = snapshot_read_args_fd(fd, shape, &args, &len);
	close(fd);
	free(shape);
	if (r)
		return err_prefix(r, "--restore %s", cfg->restore);
	for (size_t i = 0; i < len; i++)
		argc += !args[i];
	argv = calloc(argc + 1, sizeof(*argv));
	if (!argv) {
		free(args);
		return err_set(ENOMEM, "out of memory");
	}
	argc = 1;
	argv[0] = "run";
	for (size_t i = 0; i < len; i += strlen(args + i) + 1)
		argv[argc++] = args + i;
	cfg->restored_args = args;	/* parse_one keeps pointers into it */
	r = parse_argv(cfg, argc, argv, true);
	free(argv);
	return r;
}

int config_parse(struct vm_config *cfg, int argc, char **argv)
{
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->cpus = 1;
	cfg->memory = KITE_DEFAULT_MEMORY;
	cfg->numa_node = -1;
	cfg->console = (struct console_opts){ .kind = CONSOLE_STDIO };
	cfg->boot = BOOT_AUTO;

	r = parse_argv(cfg, argc, argv, false);
	if (r || cfg->help)
		return r;
	if (cfg->restore) {
		r = parse_restore(cfg);
		if (r)
			return r;
	} else if (cfg->incoming) {
		/* The kernel comes with the VM's memory. */
	} else if (!cfg->kernel)
		return err_set(EINVAL, "--kernel PATH is required (see kite run --help)");
	if (!cfg->restore && !cfg->incoming) {
		r = check_readable("--kernel", cfg->kernel);
		if (!r && cfg->initrd)
			r = check_readable("--initrd", cfg->initrd);
		if (r)
			return r;
	}
	if (cfg->hugepage_size && cfg->memory % cfg->hugepage_size)
		return err_set(EINVAL, "--memory %llu MiB is not a multiple of --hugepages %s",
			       (unsigned long long)(cfg->memory >> 20),
			       cfg->hugepage_size == (1ULL << 30) ? "1G" : "2M");
	return 0;
}
