// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake's KVM half: see fake.h. open("/dev/kvm") and ioctl() are
 * interposed; the fds kite gets are memfds (a vCPU's is sized like a
 * kvm_run area, so kite's mmap of it is a real shared mapping this file
 * also holds). All model state sits under one lock; KVM_RUN waits without
 * it, and returns EINTR when kite kicks the vCPU (immediate_exit, checked
 * every few ms, as kite's kick sets it before the signal).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"
#include "model.h"

struct fake fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_openat)(int, const char *, int, ...);

void fk_complain(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	memmove(line + 9, line, n);
	memcpy(line, "kvmfake: ", 9);
	n += 9;
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	line[n++] = '\n';
	/* write(2): async-signal-safe, and allowed by every kite filter. */
	if (write(2, line, n) < 0)
		return;
}

static void resolve(void)
{
	if (!real_ioctl)
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (!real_openat)
		real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
}

/* ---- fds ---- */

static int new_fd(enum fk_kind kind, unsigned id, size_t size, bool cloexec)
{
	int fd = memfd_create("kvmfake", cloexec ? MFD_CLOEXEC : 0);

	if (fd < 0)
		return -1;
	if (size && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	if (fd >= FK_MAX_FDS) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	fk.fds[fd].kind = kind;
	fk.fds[fd].id = id;
	return fd;
}

static enum fk_kind kind_of(int fd, unsigned *id)
{
	if (fd < 0 || fd >= FK_MAX_FDS)
		return FK_NONE;
	if (id)
		*id = fk.fds[fd].id;
	return fk.fds[fd].kind;
}

static int open_kvm(int flags)
{
	int fd;

	if ((flags & O_ACCMODE) != O_RDWR) {
		fk_complain("open /dev/kvm: KVM needs O_RDWR");
		errno = EACCES;
		return -1;
	}
	pthread_mutex_lock(&fk.lock);
	fd = new_fd(FK_SYS, 0, 0, flags & O_CLOEXEC);
	pthread_mutex_unlock(&fk.lock);
	return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	resolve();
	if (!strcmp(path, "/dev/kvm"))
		return open_kvm(flags);
	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return real_openat(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int close(int fd)
{
	static int (*real_close)(int);

	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd < FK_MAX_FDS && fk.fds[fd].kind != FK_NONE) {
		pthread_mutex_lock(&fk.lock);
		if (fk.fds[fd].kind == FK_VCPU && fk.fds[fd].id == 0)
			fk_vcpu0_gone();
		fk.fds[fd].kind = FK_NONE;
		pthread_mutex_unlock(&fk.lock);
	}
	return real_close(fd);
}

/* ---- /dev/kvm and the VM fd ---- */

static int vm_create(void)
{
	int fd;

	if (fk.vm_fd > 0) {
		/* One kite process runs one VM; a second is a bug worth seeing. */
		fk_complain("KVM_CREATE_VM: a second VM in one process");
		errno = EINVAL;
		return -1;
	}
	fd = new_fd(FK_VM, 0, 0, true);
	if (fd >= 0) {
		struct timespec ts;

		fk.vm_fd = fd;
		/* kvmclock starts near 0 when the VM is made, as KVM's does */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		fk.clock.clock = 0;
		fk.clock_set_at_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		/* Started here, on kite's main thread before any seccomp
		 * filter, so the fake's own threads carry none. */
		fk_irq_start();
		fk_guest_start();
	}
	return fd;
}

static int vcpu_create(unsigned long id)
{
	struct fk_vcpu *v;
	int fd;

	if (id >= FK_MAX_VCPUS) {
		fk_complain("KVM_CREATE_VCPU %lu: id above KVM_CAP_MAX_VCPU_ID", id);
		return -EINVAL;
	}
	if (fk.vcpus[id].fd) {
		fk_complain("KVM_CREATE_VCPU %lu: that vCPU exists", id);
		return -EEXIST;
	}
	fd = new_fd(FK_VCPU, id, FK_RUN_SIZE, true);
	if (fd < 0)
		return -errno;
	v = &fk.vcpus[id];
	v->run = mmap(NULL, FK_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v->run == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	v->fd = fd;
	v->id = id;
	fk_vcpu_reset(v);
	fk.nvcpus++;
	return fd;
}

static long sys_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		return fk_check_extension((long)arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		return FK_RUN_SIZE;
	case KVM_CREATE_VM:
		if (arg) {
			fk_complain("KVM_CREATE_VM: machine type %lu", (unsigned long)arg);
			return -EINVAL;
		}
		return vm_create() < 0 ? -errno : fk.vm_fd;
	case KVM_GET_SUPPORTED_CPUID:
		return fk_supported_cpuid(arg);
	case KVM_GET_MSR_INDEX_LIST:
		return fk_msr_list(arg, false);
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		return fk_msr_list(arg, true);
	case KVM_GET_MSRS:
		return fk_feature_msrs(arg);
	default:
		fk_complain("/dev/kvm: ioctl 0x%lx is not a system ioctl", req);
		return -ENOTTY;
	}
}

static long vm_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_CHECK_EXTENSION:
		return fk_check_extension((long)arg);
	case KVM_CREATE_VCPU:
		if (!fk.irqchip)
			fk_complain("KVM_CREATE_VCPU before KVM_CREATE_IRQCHIP: its LAPIC would be "
				    "emulated in user space");
		return vcpu_create((unsigned long)arg);
	case KVM_SET_TSS_ADDR:
		if ((unsigned long)arg > 0xffffffffUL - 3 * 4096 + 1) {
			fk_complain("KVM_SET_TSS_ADDR 0x%lx: its 3 pages must lie below 4 GiB",
				    (unsigned long)arg);
			return -EINVAL;
		}
		fk.tss_addr = (unsigned long)arg;
		return 0;
	case KVM_SET_IDENTITY_MAP_ADDR:
		if (fk.nvcpus) {
			fk_complain("KVM_SET_IDENTITY_MAP_ADDR after a vCPU exists");
			return -EEXIST;
		}
		fk.ident_addr = *(uint64_t *)arg;
		return 0;
	case KVM_CREATE_IRQCHIP:
		if (fk.irqchip || fk.nvcpus) {
			fk_complain("KVM_CREATE_IRQCHIP: %s", fk.irqchip ? "twice" : "after a vCPU");
			return fk.irqchip ? -EEXIST : -EINVAL;
		}
		fk.irqchip = true;
		return 0;
	case KVM_CREATE_PIT2: {
		const struct kvm_pit_config *c = arg;

		if (!fk.irqchip) {
			fk_complain("KVM_CREATE_PIT2 before KVM_CREATE_IRQCHIP");
			return -ENOENT;
		}
		if (fk.pit) {
			fk_complain("KVM_CREATE_PIT2 twice");
			return -EEXIST;
		}
		if (c->flags & ~KVM_PIT_SPEAKER_DUMMY) {
			fk_complain("KVM_CREATE_PIT2: flags 0x%x", c->flags);
			return -EINVAL;
		}
		fk.pit = true;
		return 0;
	}
	case KVM_SET_USER_MEMORY_REGION:
		return fk_set_memory(arg);
	case KVM_GET_DIRTY_LOG:
		return fk_get_dirty_log(arg);
	case KVM_CLEAR_DIRTY_LOG:
		return fk_clear_dirty_log(arg);
	case KVM_ENABLE_CAP:
		return fk_enable_cap(arg);
	case KVM_SET_GSI_ROUTING:
		return fk_set_routing(arg);
	case KVM_IRQFD:
		return fk_irqfd(arg);
	case KVM_IOEVENTFD:
		return fk_ioeventfd(arg);
	case KVM_SIGNAL_MSI:
		return fk_signal_msi(arg);
	case KVM_IRQ_LINE:
		return fk_irq_line(arg);
	case KVM_GET_CLOCK:
	case KVM_SET_CLOCK:
		return fk_clock(req, arg);
	case KVM_GET_IRQCHIP:
	case KVM_SET_IRQCHIP:
	case KVM_GET_PIT2:
	case KVM_SET_PIT2:
		return fk_chip_state(req, arg);
	default:
		fk_complain("VM fd: ioctl 0x%lx is not known here", req);
		return -ENOTTY;
	}
}

/* ---- the ioctl entry ---- */

int ioctl(int fd, unsigned long req, ...)
{
	void *arg;
	unsigned id = 0;
	enum fk_kind kind;
	va_list ap;
	long r;

	resolve();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	kind = kind_of(fd, &id);
	if (kind == FK_NONE)
		return real_ioctl(fd, req, arg);
	if (kind == FK_VCPU && req == KVM_RUN)
		r = fk_run(&fk.vcpus[id]);	/* takes the lock itself */
	else {
		pthread_mutex_lock(&fk.lock);
		if (kind == FK_SYS)
			r = sys_ioctl(req, arg);
		else if (kind == FK_VM)
			r = vm_ioctl(req, arg);
		else
			r = fk_vcpu_ioctl(&fk.vcpus[id], req, arg);
		pthread_mutex_unlock(&fk.lock);
	}
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}
