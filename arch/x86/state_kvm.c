// SPDX-License-Identifier: Apache-2.0
/*
 * The KVM calls of the x86 state code (state.h), on the fds of a struct vm.
 * Apart from the logic in cpu_state.c and vm_state.c, which unit tests link
 * with a fake instead.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "arch/x86/state.h"
#include "vmm/vm.h"

static int ret(int r)
{
	return r < 0 ? -errno : r;
}

static int kvm_vcpu_ioctl(void *ctx, unsigned cpu, unsigned long req, void *arg)
{
	struct vm *vm = ctx;

	if (cpu >= vm->ncpus || !vm->vcpus || vm->vcpus[cpu].fd < 0)
		return -EBADF;
	return ret(ioctl(vm->vcpus[cpu].fd, req, arg));
}

static int kvm_sys_ioctl(void *ctx, unsigned long req, void *arg)
{
	return ret(ioctl(((struct vm *)ctx)->kvm_fd, req, arg));
}

static int kvm_vm_ioctl(void *ctx, unsigned long req, void *arg)
{
	return ret(ioctl(((struct vm *)ctx)->vm_fd, req, arg));
}

static int kvm_check_extension(void *ctx, long cap)
{
	/* On the VM fd (KVM_CAP_CHECK_EXTENSION_VM): KVM_CAP_XSAVE2's size
	 * is only meaningful there (api.rst 4.43). */
	int r = ioctl(((struct vm *)ctx)->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static void kvm_warn(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "kite: %s\n", msg);
}

const struct x86_kvm_ops x86_kvm_ioctl_ops = {
	.vcpu_ioctl = kvm_vcpu_ioctl,
	.sys_ioctl = kvm_sys_ioctl,
	.vm_ioctl = kvm_vm_ioctl,
	.check_extension = kvm_check_extension,
	.warn = kvm_warn,
};
