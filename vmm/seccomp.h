/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syscall filters (libseccomp), one allow-list per thread role, built from
 * what kite's code calls once the VM runs (the lists, with the reason for
 * each entry, are in seccomp.c). Set-up (opening KVM, images, taps,
 * creating threads) happens before any filter exists.
 *
 *   SECCOMP_VCPU  each vCPU thread: KVM_RUN and the device work a vCPU
 *                 exit does (MMIO/PIO handlers, MSI-X routing, resets)
 *   SECCOMP_IO    each I/O thread: io_uring_enter, eventfds, the few
 *                 ioctls the virtio devices make from their queues
 *   SECCOMP_MAIN  the main thread once every thread runs, the control
 *                 socket thread (snapshots included) and the console
 *                 threads: they serve the user, not the guest, and share
 *                 one list
 *
 * Modes (--seccomp):
 *   kill  (default) a syscall outside the list traps (SCMP_ACT_TRAP); the
 *         SIGSYS handler writes one line to stderr
 *           kite: seccomp: thread kite-blk0.0 (io) made forbidden syscall
 *           socket (nr 41; args 0x1, 0x80002, 0x0); kite is killed
 *         and then kite dies of SIGSYS (core dump, as the kernel's own
 *         SECCOMP_RET_KILL_PROCESS would). A trap cannot be turned into
 *         anything else from inside: rt_sigaction is on no list, and a
 *         SIGSYS that is blocked or ignored is delivered with the default
 *         action (kill) by the kernel anyway. That case (glibc blocks every
 *         signal around clone in pthread_create) dies without the line;
 *         the kernel's audit record names the call then, since kill mode
 *         loads the filter with SECCOMP_FILTER_FLAG_LOG: dmesg shows
 *         "audit: type=1326 ... syscall=N ... code=0x30000".
 *         One exception: an open for reading (openat O_RDONLY|O_CLOEXEC)
 *         fails with EACCES instead, because glibc makes such opens on its
 *         own at run time and copes with the refusal (seccomp.c says which).
 *   log   nothing is refused: calls outside the list are allowed and
 *         logged by the kernel (SCMP_ACT_LOG; audit record type 1326),
 *         for building the lists. kite prints where to read them.
 *   off   no filter; kite says so loudly at start. For debugging.
 *
 * Order matters, because a filter is inherited by the threads its thread
 * creates and stacks with theirs (the kernel runs both; the stricter
 * action wins):
 *   - seccomp_configure() once, on the main thread, before any thread
 *     starts (vm_create: after the privilege drop);
 *   - every other thread calls seccomp_enter(ROLE) first thing in its own
 *     start routine, so it starts from an empty filter stack;
 *   - the main thread calls seccomp_enter(SECCOMP_MAIN) last, after it
 *     created every thread (vm_run, after the vCPUs start).
 * No role may create threads: clone/clone3 are on no list. A thread
 * started later (migration, snapshots) must be created before its creator
 * installed its filter, or the lists must grow.
 *
 * io_uring requests are not syscalls and pass no filter; the rings are
 * limited to the opcodes the devices use instead (vmm/uring_restrict.h).
 */
#ifndef KITE_VMM_SECCOMP_H
#define KITE_VMM_SECCOMP_H

#include <stddef.h>

enum seccomp_role { SECCOMP_VCPU, SECCOMP_IO, SECCOMP_MAIN, SECCOMP_NROLES };

/* SECCOMP_KILL is 0: a zeroed config means the default. */
enum seccomp_mode { SECCOMP_KILL, SECCOMP_LOG, SECCOMP_OFF };

/* "kill", "log", "off" -> mode; -EINVAL with err_set naming --seccomp. */
int seccomp_parse_mode(const char *s, enum seccomp_mode *mode);
const char *seccomp_mode_name(enum seccomp_mode mode);
const char *seccomp_role_name(enum seccomp_role role);

/*
 * Once, on the main thread, before any thread starts: remember the mode
 * for seccomp_enter, install the SIGSYS handler, build every role's filter
 * once so a problem shows now as an ordinary start-up error, read the
 * KITE_SECCOMP_TEST hook, and print the notice of log and off modes.
 * 0 or -errno with err_set.
 */
int seccomp_configure(enum seccomp_mode mode);

/*
 * Install role's filter on the calling thread, in `mode` (off: nothing).
 * Sets no_new_privs first (the kernel requires it without CAP_SYS_ADMIN).
 * 0 or -errno with err_set. Does not need seccomp_configure (tests).
 */
int seccomp_install(enum seccomp_role role, enum seccomp_mode mode);

/*
 * The call at the start of a thread: installs role's filter in the mode
 * seccomp_configure recorded; does nothing if it was never called (unit
 * tests of the threads' modules, `kite ctl`). Cannot fail: a thread that
 * cannot have its filter must not run, so kite exits with status 1 and a
 * message. Then the test hook: with KITE_SECCOMP_TEST=ROLE in the
 * environment (vcpu, io, main, or 1 for main) each thread of that role
 * makes a forbidden syscall (socket) right after installing, so a test
 * can watch kite die as designed.
 *
 * Once per thread: a second filter would need prctl, which no list has.
 * In sanitizer builds the main thread itself stays unfiltered: the leak
 * check at exit clones a ptrace thread from it.
 */
void seccomp_enter(enum seccomp_role role);

/* The ioctl requests role allows (for tests and the fake vCPU): the
 * array's length in *n. */
const unsigned long *seccomp_role_ioctls(enum seccomp_role role, size_t *n);

#endif
