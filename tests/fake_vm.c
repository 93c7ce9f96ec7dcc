// SPDX-License-Identifier: Apache-2.0
/* Recording fakes of vm_irq_line, vm_irq_pulse, vm_request_stop: see fake_vm.h. */
#include "tests/fake_vm.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vmm/vm.h"

char fake_vm_token;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_vm rec;

void fake_vm_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_unlock(&lock);
}

struct fake_vm fake_vm_get(void)
{
	struct fake_vm r;

	pthread_mutex_lock(&lock);
	r = rec;
	pthread_mutex_unlock(&lock);
	return r;
}

#ifndef KITE_NO_FAKE_VM
int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	(void)vm;
	pthread_mutex_lock(&lock);
	rec.irq_calls++;
	if (gsi < FAKE_GSIS) {
		if (level && !rec.irq_level[gsi])
			rec.irq_edges[gsi]++;
		rec.irq_level[gsi] = level;
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

int vm_irq_pulse(struct vm *vm, unsigned gsi)
{
	vm_irq_line(vm, gsi, 1);
	return vm_irq_line(vm, gsi, 0);
}

void vm_request_stop(struct vm *vm, int status, const char *why)
{
	(void)vm;
	pthread_mutex_lock(&lock);
	if (!rec.stops++) {
		rec.stop_status = status;
		snprintf(rec.stop_why, sizeof(rec.stop_why), "%s", why);
	}
	pthread_mutex_unlock(&lock);
}
#endif
