// SPDX-License-Identifier: Apache-2.0
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "arch/x86/state.h"
#include "vmm/control.h"
#include "vmm/disks.h"
#include "vmm/migrate.h"
#include "vmm/migrate_vm.h"
#include "vmm/nets.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/err.h"
#include "vmm/platform.h"
#include "vmm/vcpu.h"


void vm_log(const struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	if (!vm->cfg || !vm->cfg->verbose)
		return;
	va_start(ap, fmt);
	fputs("kite: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct file_map {
	uint8_t *data;
	size_t size;
};

static int map_file(const char *opt, const char *path, struct file_map *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	m->data = NULL;
	m->size = 0;
	if (fd < 0)
		return err_sys(errno, "%s %s: cannot open", opt, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(EINVAL, "%s %s: not a regular file", opt, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_set(EINVAL, "%s %s: empty file", opt, path);
	}
	m->data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m->data == MAP_FAILED) {
		m->data = NULL;
		return err_sys(errno, "%s %s: cannot map", opt, path);
	}
	m->size = st.st_size;
	return 0;
}

static void unmap_file(struct file_map *m)
{
	if (m->data)
		munmap(m->data, m->size);
	m->data = NULL;
}

static int check_cap(struct vm *vm, int cap, const char *name)
{
	int r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap);

	if (r <= 0)
		return err_set(ENOTSUP, "KVM on this host lacks %s, which kite needs", name);
	return r;
}

static int open_kvm(struct vm *vm)
{
	int r, max;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return err_sys(errno, "cannot open /dev/kvm (is KVM enabled and accessible?)");
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		return err_set(ENOTSUP, "/dev/kvm speaks API version %d, kite needs %d", r,
			       KVM_API_VERSION);
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		r = check_cap(vm, caps[i].cap, caps[i].name);
		if (r < 0)
			return r;
	}
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->ncpus > (unsigned)max)
		return err_set(EINVAL, "--cpus %u: this host's KVM allows at most %d vCPUs",
			       vm->ncpus, max);
	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r <= 0)
		return err_sys(errno, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = r;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err_sys(errno, "KVM_CREATE_VM");
	vm->cpuid = x86_supported_cpuid(vm->kvm_fd);
	return vm->cpuid ? 0 : -EIO;
}

static int map_memory(struct vm *vm, const struct vm_config *cfg)
{
	struct guest_mem_opts o = {
		.size = cfg->memory, .hugepage_size = cfg->hugepage_size,
		.numa_node = cfg->numa_node,
	};
	int r = guest_mem_create(&vm->mem, &o);

	if (r)
		return r;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		struct guest_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i, .guest_phys_addr = g->gpa, .memory_size = g->size,
			.userspace_addr = (uintptr_t)g->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return err_sys(errno, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at 0x%llx)",
				       i, (unsigned long long)(g->size >> 20),
				       (unsigned long long)g->gpa);
		vm_log(vm, "RAM: %llu MiB at guest 0x%llx", (unsigned long long)(g->size >> 20),
		       (unsigned long long)g->gpa);
	}
	return 0;
}

static int load_kernel(struct vm *vm, const struct vm_config *cfg, const struct file_map *kernel,
		       const struct file_map *initrd, enum boot_proto proto,
		       struct boot_entry *entry)
{
	struct e820_entry e820[E820_MAX_ENTRIES];
	struct acpi_config acfg = { .ncpus = vm->ncpus, .ram_size = cfg->memory };
	uint8_t *acpi = guest_mem_ptr(&vm->mem, ACPI_RSDP_ADDR, ACPI_TABLES_END - ACPI_RSDP_ADDR);
	struct boot_input in = {
		.kernel_path = cfg->kernel, .kernel = kernel->data, .kernel_size = kernel->size,
		.initrd = initrd->data, .initrd_size = initrd->size, .cmdline = cfg->cmdline,
		.proto = proto, .rsdp_addr = ACPI_RSDP_ADDR, .e820 = e820,
	};
	int r;

	if (!acpi)
		return err_set(EINVAL, "guest RAM too small for the ACPI tables");
	r = acpi_build(acpi, ACPI_RSDP_ADDR, ACPI_TABLES_END - ACPI_RSDP_ADDR, &acfg);
	if (r < 0)
		return err_prefix(r, "ACPI tables");
	in.e820_count = e820_build(cfg->memory, e820, E820_MAX_ENTRIES);
	r = boot_load(&vm->mem, &in, entry);
	if (r)
		return r;
	vm_log(vm, "kernel %s: %s entry at 0x%llx (%s mode)", cfg->kernel,
	       boot_proto_name(entry->proto), (unsigned long long)entry->rip,
	       entry->long_mode ? "64-bit" : "32-bit protected");
	return 0;
}

void vm_add_device(struct vm *vm, struct device *dev)
{
	dev->next = NULL;
	*vm->devices_tail = dev;
	vm->devices_tail = &dev->next;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	struct file_map kernel = { 0 }, initrd = { 0 };
	struct kernel_info ki;
	struct boot_entry entry;
	enum boot_proto proto = BOOT_AUTO;
	bool boots;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->ncpus = cfg->cpus;
	vm->devices_tail = &vm->devices;
	vm->mem.fd = -1;
	vm->main_thread = pthread_self();
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	/* Everything about the files is checked before any VM exists. A VM
	 * restored or received brings its kernel in its memory. */
	boots = !cfg->restore && !cfg->incoming;
	r = 0;
	if (boots)
		r = map_file("--kernel", cfg->kernel, &kernel);
	if (!r && boots)
		r = kernel_probe(cfg->kernel, kernel.data, kernel.size, &ki);
	if (!r && boots)
		r = boot_choose(cfg->kernel, &ki, cfg->boot, &proto);
	if (!r && boots && cfg->initrd)
		r = map_file("--initrd", cfg->initrd, &initrd);
	if (!r)
		r = disks_open(vm);
	if (!r)
		r = nets_open(vm);
	if (!r)
		r = open_kvm(vm);
	if (!r)
		r = x86_vm_init(vm);
	/* Our own routing table from the start, so the PIT's IRQ 0 reaches
	 * IOAPIC pin 2 as the MADT's override says (KVM's default is pin 0). */
	if (!r) {
		r = irq_router_init(&vm->irq, &irq_kvm_ioctl_ops, &vm->vm_fd);
		vm->irq_ok = true;
	}
	if (!r)
		r = map_memory(vm, cfg);
	/* Everything that needs privilege is open: give it up, before any
	 * thread exists (capabilities are per thread). */
	if (!r)
		r = sandbox_enter(&cfg->sandbox);
	if (!r && cfg->verbose) {
		char what[256];

		sandbox_describe(what, sizeof(what));
		vm_log(vm, "%s", what);
	}
	/* Before the first thread (the console's, in platform_create): each
	 * thread installs its own role's filter as it starts (seccomp.h). */
	if (!r)
		r = seccomp_configure(cfg->seccomp);
	if (!r)
		r = platform_create(vm);
	if (!r)
		r = disks_create(vm);
	if (!r)
		r = nets_create(vm);
	if (!r && boots)
		r = load_kernel(vm, cfg, &kernel, &initrd, proto, &entry);
	unmap_file(&kernel);
	unmap_file(&initrd);
	if (r)
		return r;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return err_set(ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i);
		if (r)
			return r;
	}
	/* vCPU 0 is the BSP; the others wait in KVM for INIT/SIPI. A snapshot
	 * or a migration sets every register instead. */
	r = boots ? x86_vcpu_set_boot_regs(&vm->vcpus[0], &entry) : 0;
	if (!r && cfg->restore) {
		r = snapshot_restore(vm, cfg->restore, &(struct x86_restore_opts){ 0 });
		if (!r)
			vm_log(vm, "restored from %s", cfg->restore);
	}
	if (r)
		return r;
	if (cfg->verbose) {
		char where[256];

		guest_mem_placement(&vm->mem, where, sizeof(where));
		vm_log(vm, "guest RAM placement: %s", where);
	}
	return 0;
}

int vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, true);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < vm->ncpus && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	if (atomic_load(&vm->stopping))
		return err_set(ESHUTDOWN, "the VM is stopping");
	vm_log(vm, "paused");
	return 0;
}

int vm_resume(struct vm *vm)
{
	if (atomic_load(&vm->stopping))
		return err_set(ESHUTDOWN, "the VM is stopping");
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	vm_log(vm, "resumed");
	return 0;
}

/* --- what the control socket may ask of the VM --- */

static int ctl_info(void *opaque, struct json_object *out)
{
	struct vm *vm = opaque;
	struct json_object *devs = json_object_new_array();

	json_object_object_add(out, "state", json_object_new_string(
		atomic_load(&vm->stopping) ? "stopping" :
		atomic_load(&vm->pause_req) ? "paused" : "running"));
	json_object_object_add(out, "pid", json_object_new_int(getpid()));
	json_object_object_add(out, "cpus", json_object_new_int((int)vm->ncpus));
	json_object_object_add(out, "memory", json_object_new_int64((int64_t)vm->mem.size));
	json_object_object_add(out, "kernel", json_object_new_string(
		vm->cfg->kernel ? vm->cfg->kernel : vm->cfg->restore ? "(from the snapshot)"
		: "(from the migration)"));
	for (struct device *d = vm->devices; d; d = d->next)
		json_object_array_add(devs, json_object_new_string(d->ops->name));
	json_object_object_add(out, "devices", devs);
	return 0;
}

static int ctl_pause(void *opaque) { return vm_pause(opaque); }
static int ctl_resume(void *opaque) { return vm_resume(opaque); }

static int ctl_stop(void *opaque)
{
	vm_request_stop(opaque, KITE_EXIT_OK, "stop requested on the control socket");
	return 0;
}

/* Every device that was asked to quiesce, up to `last`, resumes. */
static void resume_devices(struct vm *vm, struct device *last)
{
	for (struct device *d = last ? vm->devices : NULL; d; d = d->next) {
		if (d->ops->resume)
			d->ops->resume(d);
		if (d == last)
			break;
	}
}

int vm_quiesce(struct vm *vm)
{
	struct device *d, *stopped = NULL;
	int r = vm_pause(vm);

	for (d = vm->devices; !r && d; d = d->next) {
		stopped = d;
		if (d->ops->quiesce)
			r = d->ops->quiesce(d);
	}
	if (r)
		resume_devices(vm, stopped);
	return r;
}

void vm_unquiesce(struct vm *vm)
{
	struct device *last = vm->devices;

	while (last && last->next)
		last = last->next;
	resume_devices(vm, last);
}

/* Pause (unless paused already), quiesce every device, write the file,
 * then let everything run again as it was. */
static int ctl_snapshot(void *opaque, const char *path)
{
	struct vm *vm = opaque;
	bool was_paused = atomic_load(&vm->pause_req);
	int r = vm_quiesce(vm);

	if (!r) {
		r = snapshot_write(vm, path);
		vm_unquiesce(vm);
	}
	if (!was_paused && !atomic_load(&vm->stopping))
		vm_resume(vm);
	if (!r)
		vm_log(vm, "snapshot written to %s", path);
	return r;
}

static const struct control_ops vm_control_ops = {
	.info = ctl_info, .pause = ctl_pause, .resume = ctl_resume, .stop = ctl_stop,
	.snapshot = ctl_snapshot, .migrate = vm_ctl_migrate,
};

static void on_kick(int sig)
{
	(void)sig;	/* only there to interrupt KVM_RUN */
}

int vm_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = on_kick };
	sigset_t wait, old;
	int sig, r;

	/* vCPU threads inherit this mask: the main thread alone takes the
	 * stop signals; each vCPU unblocks only its kick signal. */
	sigemptyset(&wait);
	sigaddset(&wait, SIGINT);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, SIGHUP);
	sigaddset(&wait, VM_STOP_SIGNAL);
	sigaddset(&wait, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &wait, &old);
	sigdelset(&wait, VCPU_KICK_SIGNAL);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);

	/* A migration's destination gets the VM's memory and state first;
	 * nothing of the guest runs before the stream is whole. */
	r = vm->cfg->incoming ? vm_receive_migration(vm) : 0;
	if (!r)
		r = disks_start(vm);
	if (!r)
		r = nets_start(vm);
	if (!r && vm->cfg->api_socket)
		r = vm_migration_create(vm);
	if (!r && vm->cfg->api_socket)
		r = control_start(&vm->control, vm->cfg->api_socket, &vm_control_ops, vm);
	if (r) {
		fprintf(stderr, "kite: %s\n", err_msg());
		disks_stop(vm);
		nets_stop(vm);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return r == -EINTR && migrate_stop_signal ?
		       KITE_EXIT_SIGNAL_BASE + migrate_stop_signal : KITE_EXIT_ERROR;
	}
	pthread_mutex_lock(&vm->stop_lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r) {
			fprintf(stderr, "kite: %s\n", err_msg());
			vm->exit_status = KITE_EXIT_ERROR;
			atomic_store(&vm->stopping, true);
			break;
		}
	}
	pthread_mutex_unlock(&vm->stop_lock);
	/* Last: every thread exists now and filtered itself; a filter on
	 * this thread earlier would have stacked onto theirs. */
	seccomp_enter(SECCOMP_MAIN);

	while (!atomic_load(&vm->stopping)) {
		sig = sigwaitinfo(&wait, NULL);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			char why[32];

			snprintf(why, sizeof(why), "signal %s", strsignal(sig));
			vm_request_stop(vm, KITE_EXIT_SIGNAL_BASE + sig, why);
		}
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
	vm_log(vm, "VM stopped: %s (exit status %d)", vm->stop_reason, vm->exit_status);
	/* After a migration, give a `kite ctl migrate` that follows it up to
	 * 2 s to read "completed" before the socket goes. */
	for (int i = 0; i < 200 && vm->migration && !strcmp(vm->stop_reason, "migrated") &&
			!migration_final_seen(vm->migration); i++)
		usleep(10000);
	control_stop(vm->control);
	vm->control = NULL;
	disks_stop(vm);
	nets_stop(vm);
	platform_stop(vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	struct device *d, *next;

	/* I/O threads stop before the devices they serve are freed, and
	 * the images close after. */
	migration_destroy(vm->migration);
	vm->migration = NULL;
	disks_stop(vm);
	nets_stop(vm);
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	for (d = vm->devices; d; d = next) {
		next = d->next;
		if (d->ops->free)
			d->ops->free(d);
	}
	vm->devices = NULL;
	disks_close(vm);
	nets_close(vm);
	platform_destroy(vm);
	if (vm->irq_ok)
		irq_router_destroy(&vm->irq);
	vm->irq_ok = false;
	guest_mem_destroy(&vm->mem);
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
}
