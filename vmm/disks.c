// SPDX-License-Identifier: Apache-2.0
#include "vmm/disks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "virtio/disk.h"
#include "virtio/scsi.h"
#include "vmm/err.h"
#include "vmm/iothread.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

struct vm_disk {
	struct disk disk;
	bool opened;
	struct iothread_group io;	/* virtio-blk: its own threads */
};

/* Every --disk of the VM; the iface=scsi ones are the targets of one
 * virtio-scsi controller with threads of its own. */
struct vm_disks {
	struct vm_disk *d;
	struct iothread_group scsi_io;
};

static const char *name_of(const struct disk_opts *o)
{
	return o->path ? o->path : "null";
}

/* What --disk left to defaults, resolved against the VM. */
static unsigned queues_of(const struct vm *vm, const struct disk_opts *o)
{
	return o->queues ? o->queues : vm->ncpus;
}

static unsigned threads_of(const struct vm *vm, const struct disk_opts *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned q = queues_of(vm, o), n = o->iothreads;

	/* Default: a thread per queue, no more threads than host CPUs. */
	if (!n)
		n = cpus > 0 && (unsigned long)cpus < q ? (unsigned)cpus : q;
	return n > q ? q : n;
}

static const struct disk_opts *first_scsi(const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].iface == DISK_IFACE_SCSI)
			return &cfg->disks[i];
	return NULL;
}

/* The scsi disks share one controller: its queues, threads and polling
 * come from the first; a later disk may repeat them, not contradict them. */
static int check_scsi_shared(const struct vm_config *cfg)
{
	const struct disk_opts *f = first_scsi(cfg);

	for (unsigned i = 0; f && i < cfg->ndisks; i++) {
		const struct disk_opts *o = &cfg->disks[i];
		static const char *const keys[] = { "queues", "queue_size", "iothreads", "poll_us" };
		unsigned mine[] = { o->queues, o->queue_size, o->iothreads, o->poll_us };
		unsigned first[] = { f->queues, f->queue_size, f->iothreads, f->poll_us };

		if (o == f || o->iface != DISK_IFACE_SCSI)
			continue;
		for (unsigned k = 0; k < 4; k++)
			if (mine[k] && mine[k] != first[k])
				return err_set(EINVAL, "--disk %s: %s=%u, but iface=scsi disks share "
					       "one controller and the first has %s=%u", name_of(o),
					       keys[k], mine[k], keys[k], first[k]);
	}
	return 0;
}

int disks_open(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	unsigned nscsi = 0;
	int r;

	if (!cfg->ndisks)
		return 0;
	for (unsigned i = 0; i < cfg->ndisks; i++)
		nscsi += cfg->disks[i].iface == DISK_IFACE_SCSI;
	if (nscsi > VIRTIO_SCSI_MAX_TARGETS)
		return err_set(E2BIG, "--disk: at most %d iface=scsi disks", VIRTIO_SCSI_MAX_TARGETS);
	r = check_scsi_shared(cfg);
	if (r)
		return r;
	vm->disks = calloc(1, sizeof(*vm->disks));
	if (vm->disks)
		vm->disks->d = calloc(cfg->ndisks, sizeof(*vm->disks->d));
	if (!vm->disks || !vm->disks->d)
		return err_set(ENOMEM, "out of memory");
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		r = disk_open_locking(&vm->disks->d[i].disk, &cfg->disks[i], !cfg->incoming);
		if (r)
			return r;
		vm->disks->d[i].opened = true;
	}
	return 0;
}

static void log_disk(struct vm *vm, unsigned i, const struct vm_disk *d, const char *how)
{
	vm_log(vm, "disk %u: %s, %llu MiB, %s%s, %s", i, d->disk.path ? d->disk.path : "null",
	       (unsigned long long)(d->disk.size >> 20),
	       d->disk.direct ? "O_DIRECT" : "page cache",
	       d->disk.readonly ? ", read-only" : "", how);
}

/* The image's fds in the rings' fixed-file tables (iothread.h). */
static int register_image(struct iothread_group *g, const struct disk *d)
{
	int r = d->null ? 0 : iothread_group_register_file(g, d->fd);

	if (!r && !d->null && d->buffered_fd >= 0)
		r = iothread_group_register_file(g, d->buffered_fd);
	return r;
}

static int create_blk(struct vm *vm, unsigned i)
{
	const struct disk_opts *o = &vm->cfg->disks[i];
	struct vm_disk *d = &vm->disks->d[i];
	struct virtio_blk *blk;
	char prefix[24], how[64];
	int r;

	snprintf(prefix, sizeof(prefix), "kite-blk%u", i);
	r = iothread_group_create(&d->io, threads_of(vm, o), prefix, vm->cfg->numa_node,
				  o->poll_us);
	if (!r)
		r = register_image(&d->io, &d->disk);
	if (!r)
		r = virtio_blk_create(&blk, vm, platform_pci(vm), &vm->irq, &vm->mem,
				      &(struct virtio_blk_opts){
					.disk = &d->disk, .threads = d->io.threads,
					.nthreads = d->io.n, .num_queues = queues_of(vm, o),
					.queue_size = o->queue_size, .poll = o->poll_us > 0,
				      });
	if (r)
		return err_prefix(r, "--disk %s", name_of(o));
	vm_add_device(vm, virtio_blk_device(blk));
	snprintf(how, sizeof(how), "virtio-blk, %u queues on %u I/O threads", queues_of(vm, o),
		 d->io.n);
	log_disk(vm, i, d, how);
	return 0;
}

static int create_scsi(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	const struct disk_opts *f = first_scsi(cfg);
	struct disk *targets[VIRTIO_SCSI_MAX_TARGETS];
	struct virtio_scsi *scsi;
	unsigned n = 0;
	int r;

	if (!f)
		return 0;
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		if (cfg->disks[i].iface != DISK_IFACE_SCSI)
			continue;
		log_disk(vm, i, &vm->disks->d[i], "virtio-scsi target");
		targets[n++] = &vm->disks->d[i].disk;
	}
	r = iothread_group_create(&vm->disks->scsi_io, threads_of(vm, f), "kite-scsi",
				  cfg->numa_node, f->poll_us);
	for (unsigned i = 0; !r && i < n; i++)
		r = register_image(&vm->disks->scsi_io, targets[i]);
	if (!r)
		r = virtio_scsi_create(&scsi, vm, platform_pci(vm), &vm->irq, &vm->mem,
				       &(struct virtio_scsi_opts){
					.disks = targets, .ndisks = n,
					.threads = vm->disks->scsi_io.threads,
					.nthreads = vm->disks->scsi_io.n,
					.num_queues = queues_of(vm, f), .queue_size = f->queue_size,
				       });
	if (r)
		return err_prefix(r, "--disk %s (virtio-scsi)", name_of(f));
	vm_add_device(vm, virtio_scsi_device(scsi));
	vm_log(vm, "virtio-scsi: %u targets, %u request queues on %u I/O threads", n,
	       queues_of(vm, f), vm->disks->scsi_io.n);
	return 0;
}

int disks_create(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cfg->ndisks; i++) {
		if (vm->cfg->disks[i].iface == DISK_IFACE_BLK) {
			int r = create_blk(vm, i);

			if (r)
				return r;
		}
	}
	return vm->cfg->ndisks ? create_scsi(vm) : 0;
}

int disks_start(struct vm *vm)
{
	int r = 0;

	for (unsigned i = 0; vm->disks && i < vm->cfg->ndisks && !r; i++)
		r = iothread_group_start(&vm->disks->d[i].io);
	if (!r && vm->disks)
		r = iothread_group_start(&vm->disks->scsi_io);
	return r;
}

void disks_stop(struct vm *vm)
{
	if (!vm->disks)
		return;
	for (unsigned i = 0; i < vm->cfg->ndisks; i++)
		iothread_group_stop(&vm->disks->d[i].io);
	iothread_group_stop(&vm->disks->scsi_io);
}

void disks_close(struct vm *vm)
{
	if (!vm->disks)
		return;
	for (unsigned i = 0; vm->disks->d && i < vm->cfg->ndisks; i++) {
		struct vm_disk *d = &vm->disks->d[i];

		iothread_group_destroy(&d->io);
		if (d->opened)
			disk_close(&d->disk);
	}
	iothread_group_destroy(&vm->disks->scsi_io);
	free(vm->disks->d);
	free(vm->disks);
	vm->disks = NULL;
}

int disks_flush(struct vm *vm)
{
	unsigned n = vm->disks ? vm->cfg->ndisks : 0;

	for (unsigned i = 0; i < n; i++) {
		struct disk *d = &vm->disks->d[i].disk;

		if (d->null || !vm->disks->d[i].opened)
			continue;
		if (fdatasync(d->fd) < 0 ||
		    (d->buffered_fd >= 0 && fdatasync(d->buffered_fd) < 0))
			return err_sys(errno, "--disk path=%s: cannot flush", d->path);
	}
	return 0;
}

int disks_release(struct vm *vm)
{
	unsigned n = vm->disks ? vm->cfg->ndisks : 0;
	/* Everything written reaches the image before the other kite may
	 * open it for itself. */
	int r = disks_flush(vm);

	if (r)
		return r;
	for (unsigned i = 0; i < n; i++)
		if (vm->disks->d[i].opened)
			disk_unlock(&vm->disks->d[i].disk);
	return 0;
}

int disks_lock(struct vm *vm)
{
	unsigned n = vm->disks ? vm->cfg->ndisks : 0;

	for (unsigned i = 0; i < n; i++) {
		int r = vm->disks->d[i].opened ? disk_lock(&vm->disks->d[i].disk) : 0;

		if (r)
			return r;
	}
	return 0;
}
