// SPDX-License-Identifier: Apache-2.0
#include "vmm/disks.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "virtio/disk.h"
#include "vmm/err.h"
#include "vmm/iothread.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

struct vm_disk {
	struct disk disk;
	bool opened;
	struct iothread_group io;
};

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

int disks_open(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	if (!cfg->ndisks)
		return 0;
	vm->disks = calloc(cfg->ndisks, sizeof(*vm->disks));
	if (!vm->disks)
		return err_set(ENOMEM, "out of memory");
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct disk_opts *o = &cfg->disks[i];
		int r;

		if (o->iface != DISK_IFACE_BLK)
			return err_set(ENOTSUP, "--disk %s: iface=scsi is not available yet "
				       "(use iface=blk)", o->path ? o->path : "null");
		r = disk_open(&vm->disks[i].disk, o);
		if (r)
			return r;
		vm->disks[i].opened = true;
	}
	return 0;
}

int disks_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct disk_opts *o = &cfg->disks[i];
		struct vm_disk *d = &vm->disks[i];
		struct virtio_blk *blk;
		char prefix[16];
		int r;

		snprintf(prefix, sizeof(prefix), "kite-blk%u", i);
		r = iothread_group_create(&d->io, threads_of(vm, o), prefix, cfg->numa_node,
					  o->poll_us);
		if (r)
			return err_prefix(r, "--disk %s", d->disk.path ? d->disk.path : "null");
		r = virtio_blk_create(&blk, vm, platform_pci(vm), &vm->irq, &vm->mem,
				      &(struct virtio_blk_opts){
					.disk = &d->disk, .threads = d->io.threads,
					.nthreads = d->io.n, .num_queues = queues_of(vm, o),
					.queue_size = o->queue_size, .poll = o->poll_us > 0,
				      });
		if (r)
			return err_prefix(r, "--disk %s", d->disk.path ? d->disk.path : "null");
		vm_add_device(vm, virtio_blk_device(blk));
		vm_log(vm, "disk %u: %s, %llu MiB, %s%s, %u queues on %u I/O threads", i,
		       d->disk.path ? d->disk.path : "null",
		       (unsigned long long)(d->disk.size >> 20),
		       d->disk.direct ? "O_DIRECT" : "page cache",
		       d->disk.readonly ? ", read-only" : "", queues_of(vm, o), d->io.n);
	}
	return 0;
}

int disks_start(struct vm *vm)
{
	for (unsigned i = 0; vm->disks && i < vm->cfg->ndisks; i++) {
		int r = iothread_group_start(&vm->disks[i].io);

		if (r)
			return r;
	}
	return 0;
}

void disks_stop(struct vm *vm)
{
	for (unsigned i = 0; vm->disks && i < vm->cfg->ndisks; i++)
		iothread_group_stop(&vm->disks[i].io);
}

void disks_close(struct vm *vm)
{
	for (unsigned i = 0; vm->disks && i < vm->cfg->ndisks; i++) {
		struct vm_disk *d = &vm->disks[i];

		iothread_group_destroy(&d->io);
		if (d->opened)
			disk_close(&d->disk);
	}
	free(vm->disks);
	vm->disks = NULL;
}
