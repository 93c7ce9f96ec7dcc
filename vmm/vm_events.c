// SPDX-License-Identifier: Apache-2.0
/*
 * What devices call back into the VM (vmm/vm.h): interrupt lines and the
 * stop request. A file of their own so the unit tests can link fakes of
 * exactly these and still use the rest of the VM code.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "vmm/vcpu.h"
#include "vmm/vm.h"

int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int vm_irq_pulse(struct vm *vm, unsigned gsi)
{
	int r = vm_irq_line(vm, gsi, 1);

	return r ? r : vm_irq_line(vm, gsi, 0);
}

void vm_request_stop(struct vm *vm, int status, const char *why)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (!atomic_load(&vm->stopping)) {
		vm->exit_status = status;
		snprintf(vm->stop_reason, sizeof(vm->stop_reason), "%s", why);
		atomic_store(&vm->stopping, true);
		/* Parked vCPUs wake up to see it. */
		pthread_mutex_lock(&vm->pause_lock);
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->pause_lock);
		for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		pthread_kill(vm->main_thread, VM_STOP_SIGNAL);
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

