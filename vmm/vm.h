/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct vm owns everything of one VM: KVM fds, guest memory, vCPUs, buses,
 * devices. Creation is one straight path (vm_create, vm_run); this header is
 * what devices may call back into.
 */
#ifndef KITE_VMM_VM_H
#define KITE_VMM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "vmm/config.h"
#include "vmm/device.h"
#include "vmm/irq.h"
#include "vmm/memory.h"

/* kite's exit statuses (also in `kite --help`). The debug-exit port gives
 * any status v & 0xff, so a test guest should use small values. */
enum kite_exit {
	KITE_EXIT_OK = 0,		/* guest powered off or reset, or Ctrl-A x */
	KITE_EXIT_ERROR = 1,		/* kite could not start or run the VM */
	KITE_EXIT_USAGE = 2,		/* bad command line */
	KITE_EXIT_TRIPLE_FAULT = 120,	/* KVM_EXIT_SHUTDOWN: the guest triple-faulted */
	KITE_EXIT_INTERNAL_ERROR = 121,	/* KVM_EXIT_INTERNAL_ERROR (e.g. emulation failure) */
	KITE_EXIT_FAIL_ENTRY = 122,	/* KVM_EXIT_FAIL_ENTRY: hardware refused the vCPU state */
	KITE_EXIT_UNHANDLED = 123,	/* an exit reason kite does not handle */
	KITE_EXIT_SIGNAL_BASE = 128,	/* SIGINT/SIGTERM: 128 + signal number */
};

/* Sent to the main thread when the VM must stop (it waits in sigwaitinfo). */
#define VM_STOP_SIGNAL SIGUSR2

struct kvm_run;
struct kvm_cpuid2;
struct platform;
struct vm_disks;
struct vm_net;
struct control;
struct migration;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	size_t run_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *cpuid;	/* the CPUID template, before per-vCPU ids */
	struct irq_router irq;		/* GSI routes: legacy pins, then MSIs */
	bool irq_ok;
	struct platform *platform;	/* the fixed devices (vmm/platform.c) */
	struct vm_disks *disks;		/* --disk (vmm/disks.c) */
	struct vm_net *nets;		/* --net, one per cfg->nets (vmm/nets.c) */
	struct device *devices;		/* registration order */
	struct device **devices_tail;
	pthread_t main_thread;
	/* Pause: vCPUs park outside KVM_RUN while pause_req is set. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	unsigned parked;		/* vCPUs parked now (under pause_lock) */
	struct control *control;	/* --api-socket */
	struct migration *migration;	/* its worker, with --api-socket */
	atomic_bool stopping;
	int exit_status;
	char stop_reason[160];
	pthread_mutex_t stop_lock;
};

/* Open KVM, create the VM, its memory, irqchip and devices, load the kernel.
 * Errors are recorded (err_msg) and returned as negative errno. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Start the vCPUs and wait until the VM stops; returns kite's exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
/* Add a device to the VM's list (it is reset, saved and freed with the VM). */
void vm_add_device(struct vm *vm, struct device *dev);
/* Park every vCPU outside KVM_RUN (returns when all are parked), and let
 * them run again. Both are idempotent; 0 or -errno. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* vm_pause, then every device drains what it started and stops taking
 * more (device_ops.quiesce); on failure everything is as before but the
 * vCPUs stay paused. vm_unquiesce lets the devices go again (the vCPUs
 * stay paused until vm_resume). */
int vm_quiesce(struct vm *vm);
void vm_unquiesce(struct vm *vm);
/* Log a message when --verbose is on. */
void vm_log(const struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Raise or lower a GSI (ISA IRQ or IOAPIC pin) through KVM_IRQ_LINE. */
int vm_irq_line(struct vm *vm, unsigned gsi, int level);
/* Edge-triggered pulse on a GSI (level 1 then 0). */
int vm_irq_pulse(struct vm *vm, unsigned gsi);
/* Ask the VM to stop: every vCPU leaves KVM_RUN and kite exits with `status`.
 * The first request wins; `why` is printed with --verbose. Thread-safe. */
void vm_request_stop(struct vm *vm, int status, const char *why);

#endif
