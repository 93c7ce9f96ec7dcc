// SPDX-License-Identifier: Apache-2.0
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "vmm/err.h"
#include "vmm/seccomp.h"

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		vcpu->fd = -1;
		return err_sys(errno, "vCPU %u: KVM_CREATE_VCPU", id);
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return err_sys(errno, "vCPU %u: cannot map kvm_run", id);
	}
	return x86_vcpu_init(vcpu);
}

/* Unhandled port or MMIO accesses are normal (Linux probes for hardware);
 * note them under --verbose, at most a few per second. */
static void note_unhandled(struct vcpu *vcpu, const char *what, uint64_t addr, unsigned len,
			   bool write)
{
	static _Atomic long last_sec;
	static _Atomic int in_sec;
	struct timespec ts;

	if (!vcpu->vm->cfg->verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != last_sec) {
		last_sec = ts.tv_sec;
		in_sec = 0;
	}
	if (in_sec++ < 5)
		vm_log(vcpu->vm, "vCPU %u: unhandled %s %s at 0x%llx, %u bytes", vcpu->id, what,
		       write ? "write" : "read", (unsigned long long)addr, len);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outs/ins) arrives as `count` accesses back to back. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		if (!bus_access(&vcpu->vm->pio, run->io.port, data, run->io.size, write))
			note_unhandled(vcpu, "port", run->io.port, run->io.size, write);
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write))
		note_unhandled(vcpu, "MMIO", run->mmio.phys_addr, len, run->mmio.is_write);
}

static void die(struct vcpu *vcpu, int status, const char *what)
{
	char why[160];

	snprintf(why, sizeof(why), "vCPU %u: %s", vcpu->id, what);
	fprintf(stderr, "kite: %s\n", why);
	x86_vcpu_dump(vcpu, stderr);
	vm_request_stop(vcpu->vm, status, why);
}

/* One KVM exit; returns false when this vCPU must stop. */
static bool handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		die(vcpu, KITE_EXIT_TRIPLE_FAULT, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(what, sizeof(what), "system event %u (%s)", run->system_event.type,
			 run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset" : "shutdown");
		vm_request_stop(vcpu->vm, KITE_EXIT_OK, what);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			 " (instruction emulation failed)" : "");
		die(vcpu, KITE_EXIT_INTERNAL_ERROR, what);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM could not enter the guest (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		die(vcpu, KITE_EXIT_FAIL_ENTRY, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unhandled KVM exit reason %u", run->exit_reason);
		die(vcpu, KITE_EXIT_UNHANDLED, what);
		return false;
	}
}

static void pin_to_node(struct vcpu *vcpu)
{
	int node = vcpu->vm->cfg->numa_node;
	struct bitmask *cpus;
	cpu_set_t set;
	char list[256];
	size_t off = 0;

	if (node < 0)
		return;
	cpus = numa_allocate_cpumask();
	if (!cpus)
		return;
	CPU_ZERO(&set);
	if (numa_node_to_cpus(node, cpus) == 0)
		for (unsigned c = 0; c < cpus->size && c < CPU_SETSIZE; c++)
			if (numa_bitmask_isbitset(cpus, c))
				CPU_SET(c, &set);
	numa_free_cpumask(cpus);
	if (CPU_COUNT(&set) && pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		vm_log(vcpu->vm, "vCPU %u: cannot pin to node %d's CPUs", vcpu->id, node);
	/* Report what the kernel actually applied, not what was asked. */
	if (vcpu->vm->cfg->verbose && !pthread_getaffinity_np(pthread_self(), sizeof(set), &set)) {
		list[0] = '\0';
		for (int c = 0; c < CPU_SETSIZE && off < sizeof(list) - 8; c++)
			if (CPU_ISSET(c, &set))
				off += snprintf(list + off, sizeof(list) - off, "%s%d", off ? "," : "", c);
		vm_log(vcpu->vm, "vCPU %u: thread %d runs on CPUs %s (node %d)", vcpu->id,
		       (int)gettid(), list, node);
	}
}

/* Wait outside KVM_RUN while the VM is paused (or until it stops). */
static void park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t kick;
	char name[16];

	snprintf(name, sizeof(name), "kite-vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	pin_to_node(vcpu);
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	/* After pinning (which reads sysfs), before anything the guest drives. */
	seccomp_enter(SECCOMP_VCPU);

	/* After an I/O or MMIO exit the access is complete (a read's value in
	 * the guest's register, RIP past the instruction) only once KVM_RUN
	 * is entered again (api.rst, KVM_RUN). A pause must not catch the
	 * vCPU in between, or a snapshot holds the instruction half done and
	 * the destination executes it a second time: re-enter once with
	 * immediate_exit set, which completes it and returns EINTR. */
	bool exit_open = false;

	while (!atomic_load(&vcpu->vm->stopping)) {
		if (atomic_load(&vcpu->vm->pause_req)) {
			if (!exit_open) {
				park(vcpu);
				continue;
			}
			__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: clear it, then the loop re-reads the
				 * flags the kicker set before kicking. */
				__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				exit_open = false;
				continue;
			}
			err_sys(errno, "vCPU %u: KVM_RUN", vcpu->id);
			fprintf(stderr, "kite: %s\n", err_msg());
			vm_request_stop(vcpu->vm, KITE_EXIT_ERROR, "KVM_RUN failed");
			break;
		}
		exit_open = true;
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (r)
		return err_sys(r, "vCPU %u: cannot start thread", vcpu->id);
	vcpu->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	if (vcpu->run)
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started)
		pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
