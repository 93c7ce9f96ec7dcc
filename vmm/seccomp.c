// SPDX-License-Identifier: Apache-2.0
/*
 * Per-role syscall filters: see seccomp.h. Each list below says why every
 * entry is there; an entry nobody can name a caller for does not belong.
 */
#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "vmm/err.h"

/* ---- the lists ---- */

/* A syscall allowed with up to two conditions on its arguments (all must
 * hold). SELF_PID in a condition's datum stands for kite's own pid. */
struct sc_rule {
	int nr;
	unsigned ncmp;
	struct scmp_arg_cmp cmp[2];
};

#define SELF_PID	(~(scmp_datum_t)0)
#define ANY(name)	{ SCMP_SYS(name), 0, { { 0 } } }
#define IF1(name, a)	{ SCMP_SYS(name), 1, { a } }
#define IF2(name, a, b)	{ SCMP_SYS(name), 2, { a, b } }
#define ARG(n, op, x, y) { (n), (op), (scmp_datum_t)(x), (scmp_datum_t)(y) }
#define NO_EXEC(n)	ARG(n, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)
#define EQ(n, v)	ARG(n, SCMP_CMP_EQ, v, 0)
/* openat's flags exactly, but for O_LARGEFILE (which the kernel adds on
 * 64-bit anyway); the kernel reads only their low 32 bits. */
#define OPEN_FLAGS(f)	ARG(2, SCMP_CMP_MASKED_EQ, 0xffffffffULL & ~(scmp_datum_t)0100000, f)

/* What every kite thread does once it runs. */
static const struct sc_rule base_rules[] = {
	ANY(read),		/* eventfd drains, stdin, pipes */
	ANY(write),		/* stderr, eventfd kicks and irqfds, console output */
	ANY(writev),		/* glibc's fatal messages (malloc corruption, assert) */
	ANY(futex),		/* mutexes, condition variables, pthread_join */
	ANY(clock_gettime),	/* vDSO fallback (clock sources without vDSO) */
	ANY(gettimeofday),	/* same */
	ANY(clock_nanosleep),	/* nanosleep: devices wait for in-flight requests at reset */
	ANY(nanosleep),
	ANY(sched_yield),	/* glibc spin-waits */
	ANY(restart_syscall),	/* a sleep, poll or futex wait resumed after a signal */
	ANY(rt_sigreturn),	/* return from the vCPU kick handler (and any handler) */
	ANY(rt_sigprocmask),	/* pthread_sigmask; glibc masks signals inside raise() */
	ANY(getpid),		/* pthread_kill, raise */
	ANY(gettid),
	/* vCPU kicks (SIGUSR1), stop requests to the main thread (SIGUSR2),
	 * raise() in fatal-signal handlers, the SIGSYS handler's own death:
	 * signals to this process's threads only. */
	IF1(tgkill, EQ(0, SELF_PID)),
	ANY(exit),		/* a thread returns */
	ANY(exit_group),
	/* malloc arenas, free, thread stacks released at thread exit; never
	 * executable memory. */
	IF1(mmap, NO_EXEC(2)),
	IF1(mprotect, NO_EXEC(2)),
	ANY(munmap),
	ANY(mremap),
	ANY(madvise),
	ANY(brk),
	/* glibc's malloc sizes its arena limit from the CPU count when a
	 * thread first needs an arena; sched_getaffinity is its last resort
	 * once the files below are refused. */
	ANY(sched_getaffinity),
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer frees each thread's alternate signal stack as the
	 * thread exits. */
	ANY(sigaltstack),
#endif
};

/*
 * Refused with EACCES instead of killing, in kill mode: glibc opens files
 * read-only on its own, once per process, from whichever thread gets
 * there first -- /sys/devices/system/cpu/online when malloc makes a new
 * arena, /proc/sys/vm/overcommit_memory when it first shrinks one -- and
 * copes with the failure (it counts CPUs with sched_getaffinity, and
 * returns memory with madvise). A filter cannot tell those paths from
 * others, so no thread can open anything for reading; the refusal is
 * still in the audit log.
 */
static const struct sc_rule refused_rules[] = {
	IF1(openat, OPEN_FLAGS(O_RDONLY | O_CLOEXEC)),
};

/* vCPU threads, besides ioctls. */
static const struct sc_rule vcpu_rules[] = {
	/* The UART's output goes through console_write, which waits for a
	 * full terminal or pipe to drain. */
	ANY(poll),
	ANY(ppoll),
};

/* I/O threads, besides ioctls. */
static const struct sc_rule io_rules[] = {
	ANY(io_uring_enter),	/* submit and wait: the thread's one wait point */
	/* tap_link_events reads the netlink link-event socket (recv). */
	ANY(recvfrom),
	/* iothread_watch_eventfd after start runs on the thread and makes
	 * the eventfd non-blocking. */
	IF1(fcntl, EQ(1, F_GETFL)),
	IF1(fcntl, EQ(1, F_SETFL)),
	/* Not here: io_uring_register. The thread enables its ring before it
	 * installs its filter, and registers nothing afterwards. */
};

/* The main thread (after start), the control thread, the console threads. */
static const struct sc_rule main_rules[] = {
	ANY(rt_sigtimedwait),	/* sigwaitinfo: the main thread waits for stop signals */
	ANY(poll),		/* the control and console loops */
	ANY(ppoll),
	ANY(accept4),		/* control socket: clients */
	ANY(recvfrom),		/* control socket: requests (recv) */
	ANY(sendto),		/* control socket: responses (send) */
	/* control socket: the peer's uid (SO_PEERCRED), nothing else */
	IF2(getsockopt, EQ(1, SOL_SOCKET), EQ(2, SO_PEERCRED)),
	ANY(geteuid),		/* compared with the peer's uid */
	ANY(getrandom),		/* json-c seeds its hash tables on first use */
	ANY(close),		/* control clients; teardown of devices, rings, images */
	ANY(unlink),		/* the control socket's file at stop; a failed snapshot's .tmp */
	/* The control socket's snapshot command (vmm/snapshot_vm.c) creates
	 * PATH.tmp and opens its directory to sync the rename; those two
	 * kinds of open only (no file opened for reading). */
	IF1(openat, OPEN_FLAGS(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC)),
	IF1(openat, OPEN_FLAGS(O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
	ANY(fsync),
	ANY(rename),
	/* The migration worker (vmm/migrate.c): one TCP connection to the
	 * destination; a cancel shuts it down from the control thread. */
	IF1(socket, EQ(0, AF_INET)),
	IF1(socket, EQ(0, AF_INET6)),
	ANY(connect),
	ANY(shutdown),
	IF2(setsockopt, EQ(1, IPPROTO_TCP), EQ(2, TCP_NODELAY)),	/* no_delay() */
	/* Its RAM pass skips the memfd's holes (zero, never read). */
	IF1(lseek, EQ(2, SEEK_DATA)),
	IF1(lseek, EQ(2, SEEK_HOLE)),
	/* The hand-over: flush the images, release their locks, or take
	 * them back when the destination refuses (F_OFD_SETLK only). */
	ANY(fdatasync),
	IF1(fcntl, EQ(1, F_OFD_SETLK)),
};

/* An ioctl request, for the lists and for tests. */
struct sc_ioctl {
	unsigned long req;
	const char *name;
};

#define IOC(x) { (unsigned long)(x), #x }

/* Every role: the console's fatal-signal handler (on whichever thread
 * crashed) and its exit handler give the terminal back (tcsetattr). */
static const struct sc_ioctl base_ioctls[] = {
	IOC(TCSETS),
};

static const struct sc_ioctl vcpu_ioctls[] = {
	IOC(KVM_RUN),
	/* x86_vcpu_dump on a fatal exit (triple fault, internal error) */
	IOC(KVM_GET_REGS),
	IOC(KVM_GET_SREGS),
	/* on the VM fd, from device handlers run by MMIO/PIO exits: */
	IOC(KVM_IRQ_LINE),		/* UART, ACPI PM, virtio INTx */
	IOC(KVM_SET_GSI_ROUTING),	/* MSI-X table and control writes */
	IOC(KVM_IRQFD),			/* a vector gets its GSI when unmasked */
	IOC(KVM_IOEVENTFD),		/* the guest moves a virtio BAR */
	IOC(KVM_SIGNAL_MSI),		/* delivery of a vector with no route */
	/* on tap fds, from virtio-net feature negotiation and reset: */
	IOC(TUNSETOFFLOAD),
	IOC(TUNSETQUEUE),
};

static const struct sc_ioctl io_ioctls[] = {
	IOC(KVM_IRQ_LINE),		/* virtio INTx while MSI-X is off */
	IOC(KVM_SIGNAL_MSI),		/* MSI-X delivery without an irqfd route */
	IOC(TUNSETQUEUE),		/* virtio-net control queue: queue pairs change */
	IOC(SIOCGIFFLAGS),		/* tap link state, after lost link events */
};

static const struct sc_ioctl main_ioctls[] = {
	/* The console reader feeds the UART, which raises its IRQ; a
	 * snapshot's quiesce publishes completions and raises interrupts
	 * (virtio_pci_notify: INTx, or MSI-X without an irqfd route). */
	IOC(KVM_IRQ_LINE),
	IOC(KVM_SIGNAL_MSI),
	/* Teardown: devices deassign their irqfds and ioeventfds and drop
	 * their routes (virtio_pci_destroy). */
	IOC(KVM_IRQFD),
	IOC(KVM_IOEVENTFD),
	IOC(KVM_SET_GSI_ROUTING),
	/*
	 * The snapshot command runs the state code (arch/x86/cpu_state.c,
	 * vm_state.c) on the control thread, for every vCPU and the VM. The
	 * SET half is for a restore on a running kite (not there yet); all of
	 * these touch only the guest's own state.
	 */
	IOC(KVM_CHECK_EXTENSION),
	IOC(KVM_GET_MSR_INDEX_LIST),
	IOC(KVM_GET_REGS),
	IOC(KVM_SET_REGS),
	IOC(KVM_GET_SREGS),
	IOC(KVM_SET_SREGS),
#ifdef KVM_GET_SREGS2
	IOC(KVM_GET_SREGS2),
	IOC(KVM_SET_SREGS2),
#endif
	IOC(KVM_GET_FPU),
	IOC(KVM_SET_FPU),
	IOC(KVM_GET_XSAVE),
#ifdef KVM_GET_XSAVE2
	IOC(KVM_GET_XSAVE2),
#endif
	IOC(KVM_SET_XSAVE),
	IOC(KVM_GET_XCRS),
	IOC(KVM_SET_XCRS),
	IOC(KVM_GET_DEBUGREGS),
	IOC(KVM_SET_DEBUGREGS),
	IOC(KVM_GET_LAPIC),
	IOC(KVM_SET_LAPIC),
	IOC(KVM_GET_MSRS),
	IOC(KVM_SET_MSRS),
	IOC(KVM_GET_MP_STATE),
	IOC(KVM_SET_MP_STATE),
	IOC(KVM_GET_VCPU_EVENTS),
	IOC(KVM_SET_VCPU_EVENTS),
	IOC(KVM_GET_CPUID2),
	IOC(KVM_SET_CPUID2),
	IOC(KVM_GET_TSC_KHZ),
	IOC(KVM_SET_TSC_KHZ),
	IOC(KVM_GET_CLOCK),
	/* The migration worker: KVM's dirty log on every memory slot. */
	IOC(KVM_SET_USER_MEMORY_REGION),
	IOC(KVM_ENABLE_CAP),
	IOC(KVM_GET_DIRTY_LOG),
	IOC(KVM_CLEAR_DIRTY_LOG),
	IOC(KVM_SET_CLOCK),
	IOC(KVM_GET_IRQCHIP),
	IOC(KVM_SET_IRQCHIP),
	IOC(KVM_GET_PIT2),
	IOC(KVM_SET_PIT2),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct role_lists {
	const char *name;
	const struct sc_rule *rules;
	size_t nrules;
	const struct sc_ioctl *ioctls;
	size_t nioctls;
	int hot[2];		/* syscalls on the fast path, checked first */
};

static const struct role_lists roles[SECCOMP_NROLES] = {
	[SECCOMP_VCPU] = { "vcpu", vcpu_rules, N(vcpu_rules), vcpu_ioctls, N(vcpu_ioctls),
			   { SCMP_SYS(ioctl), SCMP_SYS(write) } },
	[SECCOMP_IO] = { "io", io_rules, N(io_rules), io_ioctls, N(io_ioctls),
			 { SCMP_SYS(io_uring_enter), SCMP_SYS(read) } },
	[SECCOMP_MAIN] = { "main", main_rules, N(main_rules), main_ioctls, N(main_ioctls),
			   { SCMP_SYS(poll), SCMP_SYS(futex) } },
};

const char *seccomp_role_name(enum seccomp_role role)
{
	return role < SECCOMP_NROLES ? roles[role].name : "?";
}

const char *seccomp_mode_name(enum seccomp_mode mode)
{
	return mode == SECCOMP_KILL ? "kill" : mode == SECCOMP_LOG ? "log" : "off";
}

int seccomp_parse_mode(const char *s, enum seccomp_mode *mode)
{
	if (!strcmp(s, "kill"))
		*mode = SECCOMP_KILL;
	else if (!strcmp(s, "log"))
		*mode = SECCOMP_LOG;
	else if (!strcmp(s, "off"))
		*mode = SECCOMP_OFF;
	else
		return err_set(EINVAL, "--seccomp '%s': expected kill, log or off", s);
	return 0;
}

/* The role's ioctls, base ones included, flattened for tests. */
const unsigned long *seccomp_role_ioctls(enum seccomp_role role, size_t *n)
{
	static _Thread_local unsigned long flat[N(base_ioctls) + N(main_ioctls) +
						N(vcpu_ioctls) + N(io_ioctls)];
	size_t k = 0;

	if (role >= SECCOMP_NROLES) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < N(base_ioctls); i++)
		flat[k++] = base_ioctls[i].req;
	for (size_t i = 0; i < roles[role].nioctls; i++)
		flat[k++] = roles[role].ioctls[i].req;
	*n = k;
	return flat;
}

/* ---- building a filter ---- */

static int add_rule(scmp_filter_ctx ctx, const struct sc_rule *r, uint32_t action)
{
	struct scmp_arg_cmp cmp[2];

	for (unsigned i = 0; i < r->ncmp; i++) {
		cmp[i] = r->cmp[i];
		if (cmp[i].datum_a == SELF_PID)
			cmp[i].datum_a = (scmp_datum_t)getpid();
	}
	return seccomp_rule_add_exact_array(ctx, action, r->nr, r->ncmp, cmp);
}

/* The request is compared on its low 32 bits: the kernel reads it as an
 * unsigned int, and a request whose bit 31 is set may reach the syscall
 * sign-extended from an int. */
static int add_ioctl(scmp_filter_ctx ctx, unsigned long req)
{
	return seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
					      (scmp_datum_t)(uint32_t)req));
}

static int build(enum seccomp_role role, enum seccomp_mode mode, scmp_filter_ctx *out)
{
	const struct role_lists *l = &roles[role];
	uint32_t deny = mode == SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int r = 0;

	if (!ctx)
		return err_set(ENOMEM, "seccomp: cannot create the %s filter", l->name);
	/* A syscall of another ABI (int 0x80, x32) is refused the same way. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	for (size_t i = 0; !r && i < N(base_rules); i++)
		r = add_rule(ctx, &base_rules[i], SCMP_ACT_ALLOW);
	for (size_t i = 0; !r && i < l->nrules; i++)
		r = add_rule(ctx, &l->rules[i], SCMP_ACT_ALLOW);
	/* Log mode refuses nothing: there glibc's opens succeed (logged). */
	for (size_t i = 0; !r && mode == SECCOMP_KILL && i < N(refused_rules); i++)
		r = add_rule(ctx, &refused_rules[i], SCMP_ACT_ERRNO(EACCES));
	for (size_t i = 0; !r && i < N(base_ioctls); i++)
		r = add_ioctl(ctx, base_ioctls[i].req);
	for (size_t i = 0; !r && i < l->nioctls; i++)
		r = add_ioctl(ctx, l->ioctls[i].req);
	/* KVM_RUN's ioctl, io_uring_enter: tested first. */
	for (size_t i = 0; !r && i < N(l->hot); i++)
		r = seccomp_syscall_priority(ctx, l->hot[i], 255 - i);
	if (r) {
		seccomp_release(ctx);
		return err_set(-r, "seccomp: cannot build the %s filter: %s", l->name,
			       strerror(-r));
	}
	*out = ctx;
	return 0;
}

/*
 * A role's filter as the kernel takes it. libseccomp builds it once per
 * role (milliseconds: the ioctl lists are long); each thread then loads
 * the finished program with one syscall, allocating nothing.
 */
struct prog {
	struct sock_filter *insns;
	unsigned short len;
};

static int compile(enum seccomp_role role, enum seccomp_mode mode, struct prog *p)
{
	scmp_filter_ctx ctx = NULL;
	off_t size;
	int fd, r = build(role, mode, &ctx);

	if (r)
		return r;
	fd = memfd_create("kite-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = err_sys(errno, "seccomp: memfd_create");
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r) {
		r = err_set(-r, "seccomp: cannot export the %s filter: %s", roles[role].name,
			    strerror(-r));
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % sizeof(struct sock_filter) ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = err_set(E2BIG, "seccomp: the %s filter has %lld bytes of BPF",
			    roles[role].name, (long long)size);
		goto out;
	}
	p->insns = malloc(size);
	if (!p->insns) {
		r = err_set(ENOMEM, "seccomp: out of memory");
		goto out;
	}
	if (pread(fd, p->insns, size, 0) != size) {
		r = err_sys(errno ? errno : EIO, "seccomp: cannot read back the %s filter",
			    roles[role].name);
		free(p->insns);
		p->insns = NULL;
		goto out;
	}
	p->len = (unsigned short)(size / sizeof(struct sock_filter));
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return r;
}

/* On the calling thread only (no TSYNC): each thread has its own role. */
static int load(const struct prog *p, enum seccomp_mode mode)
{
	struct sock_fprog fp = { .len = p->len, .filter = p->insns };
	/* Kill mode: the kernel also logs the trap (audit), for the record. */
	unsigned flags = mode == SECCOMP_KILL ? SECCOMP_FILTER_FLAG_LOG : 0;

	/* Required to filter without CAP_SYS_ADMIN; kite has it set already. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp) == 0)
		return 0;
	/* Kernels before 4.14 know no FLAG_LOG: the filter matters more. */
	if (errno == EINVAL && flags &&
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) == 0)
		return 0;
	return -errno;
}

/* ---- the SIGSYS handler: one line, then death ---- */

#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of a seccomp trap (asm-generic/siginfo.h) */
#endif

#define NAME_SLOTS	512	/* x86-64 syscall numbers run to ~470 */
#define NAME_LEN	24

static char sys_names[NAME_SLOTS][NAME_LEN];
static _Thread_local const char *thread_role;
static _Thread_local char thread_name[16];

struct line {
	char buf[320];
	size_t len;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void put_num(struct line *l, unsigned long long v, unsigned base)
{
	char tmp[24];
	int i = 0;

	if (base == 16)
		put_str(l, "0x");
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i < (int)sizeof(tmp));
	while (i && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--i];
}

/* An ioctl that some role allows, by name: a request made on the wrong
 * thread shows as such ("= KVM_RUN"). Reads only static tables. */
static void put_ioctl_name(struct line *l, unsigned long req)
{
	static const struct sc_ioctl *const tables[] = { base_ioctls, vcpu_ioctls, io_ioctls,
							 main_ioctls };
	static const size_t sizes[] = { N(base_ioctls), N(vcpu_ioctls), N(io_ioctls),
					N(main_ioctls) };

	for (size_t t = 0; t < N(tables); t++)
		for (size_t i = 0; i < sizes[t]; i++)
			if ((uint32_t)tables[t][i].req == (uint32_t)req) {
				put_str(l, " = ");
				put_str(l, tables[t][i].name);
				return;
			}
}

/*
 * Async-signal-safe only: formats with the helpers above, looks the name
 * up in a table filled before the filter was loaded, and writes once.
 * SA_RESETHAND put SIGSYS back to its default action on entry, so the
 * SIGSYS raised at the end kills the process (with a core, as the
 * kernel's KILL_PROCESS does) as soon as it is unblocked.
 */
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	struct line l = { .len = 0 };
	sigset_t set;

	(void)sig;
	if (si->si_code == SYS_SECCOMP) {
		int nr = si->si_syscall;

		put_str(&l, "kite: seccomp: thread ");
		put_str(&l, thread_name[0] ? thread_name : "?");
		put_str(&l, " (");
		put_str(&l, thread_role ? thread_role : "?");
		put_str(&l, ") made forbidden syscall ");
		if (si->si_arch != AUDIT_ARCH_X86_64) {
			put_str(&l, "of another ABI, arch ");
			put_num(&l, (unsigned)si->si_arch, 16);
			put_str(&l, " nr ");
			put_num(&l, (unsigned)nr, 10);
		} else {
			put_str(&l, nr >= 0 && nr < NAME_SLOTS && sys_names[nr][0] ?
				sys_names[nr] : "?");
			put_str(&l, " (nr ");
			put_num(&l, (unsigned)nr, 10);
#ifdef __x86_64__
			{
				const greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;

				put_str(&l, "; args ");
				put_num(&l, (unsigned long long)g[REG_RDI], 16);
				put_str(&l, ", ");
				put_num(&l, (unsigned long long)g[REG_RSI], 16);
				if (nr == __NR_ioctl)
					put_ioctl_name(&l, (unsigned long)g[REG_RSI]);
				put_str(&l, ", ");
				put_num(&l, (unsigned long long)g[REG_RDX], 16);
			}
#else
			(void)ucv;
#endif
			put_str(&l, ")");
		}
		put_str(&l, "; kite is killed\n");
		if (write(STDERR_FILENO, l.buf, l.len) < 0)
			l.len = 0;	/* nothing better to do */
	}
	syscall(SYS_tgkill, getpid(), gettid(), SIGSYS);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, sizeof(long));
	/* Not reached; if it were, still never return into the caller. */
	syscall(SYS_exit_group, 128 + SIGSYS);
}

static int prepare_err;

/* The names table and the handler, once per process, before any filter. */
static void prepare(void)
{
	struct sigaction sa;

	for (int nr = 0; nr < NAME_SLOTS; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s)
			snprintf(sys_names[nr], NAME_LEN, "%s", s);
		free(s);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		prepare_err = errno;
}

static int prepare_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, prepare);
	return prepare_err ? err_sys(prepare_err, "seccomp: cannot install the SIGSYS handler")
			   : 0;
}

/* ---- installing ---- */

/* For the handler's line: known before the filter can fire. */
static void name_thread(enum seccomp_role role)
{
	thread_role = roles[role].name;
	if (prctl(PR_GET_NAME, thread_name, 0, 0, 0) < 0)
		thread_name[0] = '\0';
}

static int load_role(const struct prog *p, enum seccomp_role role, enum seccomp_mode mode)
{
	int r;

	name_thread(role);
	r = load(p, mode);
	return r ? err_sys(-r, "seccomp: cannot load the %s filter", roles[role].name) : 0;
}

int seccomp_install(enum seccomp_role role, enum seccomp_mode mode)
{
	struct prog p;
	int r;

	if (role >= SECCOMP_NROLES)
		return err_set(EINVAL, "seccomp: no role %d", (int)role);
	if (mode == SECCOMP_OFF)
		return 0;
	r = prepare_once();
	if (!r)
		r = compile(role, mode, &p);
	if (r)
		return r;
	r = load_role(&p, role, mode);
	free(p.insns);
	return r;
}

/* What seccomp_configure recorded, for seccomp_enter. */
static bool configured;
static enum seccomp_mode configured_mode;
static struct prog programs[SECCOMP_NROLES];
static int test_role = -1;	/* KITE_SECCOMP_TEST */

static int parse_test_hook(void)
{
	const char *v = getenv("KITE_SECCOMP_TEST");

	test_role = -1;
	if (!v || !*v)
		return 0;
	if (!strcmp(v, "1")) {
		test_role = SECCOMP_MAIN;
		return 0;
	}
	for (int i = 0; i < SECCOMP_NROLES; i++)
		if (!strcmp(v, roles[i].name))
			test_role = i;
	if (test_role < 0)
		return err_set(EINVAL, "KITE_SECCOMP_TEST='%s': expected vcpu, io, main or 1", v);
	return 0;
}

int seccomp_configure(enum seccomp_mode mode)
{
	int r = parse_test_hook();

	if (r)
		return r;
	configured_mode = mode;
	configured = true;
	if (mode == SECCOMP_OFF) {
		fprintf(stderr, "kite: WARNING: --seccomp=off: no thread has a syscall filter; a "
			"bug a guest can reach may make any system call. For debugging only.\n");
		return 0;
	}
	if (seccomp_api_get() < 3)
		return err_set(ENOSYS, "seccomp: this kernel or libseccomp lacks what kite's "
			       "filters need (API level %u, want 3: kernel 4.14, libseccomp 2.4); "
			       "--seccomp=off runs without them",
			       seccomp_api_get());
	r = prepare_once();
	/* Every filter now: a failure is a start-up error, not a dead thread
	 * later, and threads only load what is ready. */
	for (int i = 0; !r && i < SECCOMP_NROLES; i++) {
		free(programs[i].insns);
		programs[i].insns = NULL;
		r = compile(i, mode, &programs[i]);
	}
	if (r) {
		configured = false;
		return r;
	}
	if (mode == SECCOMP_LOG)
		fprintf(stderr, "kite: --seccomp=log: syscalls outside a thread's allow-list are "
			"allowed and logged by the kernel as audit records of type 1326 "
			"(SECCOMP); read them with `dmesg | grep type=1326` or, where auditd "
			"runs, `ausearch -m SECCOMP -i`; syscall=N names the call (scmp_sys_resolver "
			"N). /proc/sys/kernel/seccomp/actions_logged must include \"log\".\n");
	return 0;
}

/* The hook's forbidden call: a new socket, harmless if it is allowed.
 * Made by the first thread of the role only: several threads take the
 * main role, and the first SIGSYS resets the handler (SA_RESETHAND), so a
 * second thread's call could kill kite before the first's line is out. */
static void test_hook(enum seccomp_role role)
{
	static atomic_bool done;
	int fd;

	if (atomic_exchange(&done, true))
		return;

	fprintf(stderr, "kite: KITE_SECCOMP_TEST: thread %s (%s) makes a forbidden syscall "
		"(socket)\n", thread_name, roles[role].name);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		fprintf(stderr, "kite: KITE_SECCOMP_TEST: socket() was allowed (--seccomp=%s)\n",
			seccomp_mode_name(configured_mode));
		close(fd);
	}
}

void seccomp_enter(enum seccomp_role role)
{
	if (!configured)
		return;
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer's check at exit clones a ptrace thread from the
	 * exiting main thread: under the sanitizers the main thread stays
	 * unfiltered. Every other thread is filtered as usual. */
	if (gettid() == getpid())
		return;
#endif
	if (role >= SECCOMP_NROLES) {
		fprintf(stderr, "kite: seccomp: no role %d\n", (int)role);
		exit(1);
	}
	if (configured_mode == SECCOMP_OFF) {
		name_thread(role);
	} else if (load_role(&programs[role], role, configured_mode) < 0) {
		fprintf(stderr, "kite: %s; this thread must not run without it\n", err_msg());
		exit(1);
	}
	if (test_role == (int)role)
		test_hook(role);
}
