/* SPDX-License-Identifier: Apache-2.0 */
/* vCPU threads: create, run the exit loop, kick out of KVM_RUN. */
#ifndef KITE_VMM_VCPU_H
#define KITE_VMM_VCPU_H

#include "vmm/vm.h"

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id);
int vcpu_start(struct vcpu *vcpu);
/* Make the vCPU leave KVM_RUN soon (from any thread). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* The signal used to kick vCPU threads; its handler must be installed. */
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
