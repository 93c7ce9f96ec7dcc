// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshots of a whole VM: the state tree built from the vCPUs, the fixed
 * devices and every registered device, and the file around it. The stream
 * format is snapshot.c's.
 *
 * Tree:  /  kite-state-version
 *           x86       vm, cpu@N              (arch/x86/state.h)
 *           platform  pci-host, uart@3f8, acpi-pm, reset (vmm/platform.h)
 *           devices   NAME@I, one per registered device in order, I its
 *                     index in the VM's list (virtio-blk@1 ...)
 */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/state.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/scsi.h"
#include "vmm/err.h"
#include "vmm/platform.h"
#include "vmm/state.h"
#include "vmm/vm.h"

static void device_name(char *buf, size_t len, const struct device *d, unsigned i)
{
	snprintf(buf, len, "%s@%u", d->ops->name, i);
}

/* The transport of a virtio device, for its one-line shape. */
static struct virtio_pci *transport_of(struct device *d)
{
	if (!strcmp(d->ops->name, "virtio-blk"))
		return virtio_blk_transport(d->priv);
	if (!strcmp(d->ops->name, "virtio-scsi"))
		return virtio_scsi_transport(d->priv);
	if (!strcmp(d->ops->name, "virtio-net"))
		return virtio_net_transport(d->priv);
	return NULL;
}

int snapshot_shape_of_vm(struct vm *vm, struct snap_shape *s)
{
	unsigned n = 0;

	memset(s, 0, sizeof(*s));
	snapshot_shape_mem(s, &vm->mem);
	s->ncpus = vm->ncpus;
	if (vm->cfg) {
		s->args = vm->cfg->shape_args;
		s->args_len = vm->cfg->shape_args_len;
	}
	for (struct device *d = vm->devices; d; d = d->next, n++) {
		struct virtio_pci *t = transport_of(d);

		if (n == SNAP_MAX_DEVICES)
			return err_set(E2BIG, "snapshot: more than %u devices", SNAP_MAX_DEVICES);
		snprintf(s->devices[n].kind, SNAP_KIND_MAX, "%s", d->ops->name);
		if (t)
			virtio_pci_describe(t, s->devices[n].opts, SNAP_OPTS_MAX);
	}
	s->ndevices = n;
	return 0;
}

static int build_tree(struct vm *vm, struct state_tree *st)
{
	unsigned i = 0;
	int r, devs;

	r = state_begin(st);
	if (!r)
		r = x86_state_save(&x86_kvm_ioctl_ops, vm, vm->ncpus, st,
				   state_add_node(st, 0, "x86"));
	if (!r)
		r = platform_save(vm, st, state_add_node(st, 0, "platform"));
	devs = state_add_node(st, 0, "devices");
	for (struct device *d = vm->devices; !r && d; d = d->next, i++) {
		char name[48];

		if (!d->ops->save)
			return err_set(ENOTSUP, "snapshot: %s cannot be saved", d->ops->name);
		device_name(name, sizeof(name), d, i);
		r = d->ops->save(d, st, state_add_node(st, devs, name));
		if (r)
			err_prefix(r, "snapshot: %s", name);
	}
	return r ? r : state_error(st);
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return err_set(ENOMEM, "snapshot: out of memory");
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = err_sys(errno, "snapshot %s: cannot sync its directory", path);
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

int snapshot_write(struct vm *vm, const char *path)
{
	struct state_tree st = { 0 };
	struct snap_shape *shape = malloc(sizeof(*shape));
	const void *blob;
	size_t len;
	char *tmp = NULL;
	int fd = -1, r;

	if (!shape)
		return err_set(ENOMEM, "snapshot: out of memory");
	/* The tree before any byte of RAM: a device that is not quiescent
	 * fails here, and nothing is written. */
	r = build_tree(vm, &st);
	if (!r)
		r = state_finish(&st, &blob, &len);
	if (!r)
		r = snapshot_shape_of_vm(vm, shape);
	if (!r && asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		r = err_set(ENOMEM, "snapshot: out of memory");
	}
	if (!r) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			r = err_sys(errno, "snapshot %s: cannot create", tmp);
	}
	if (!r)
		r = snapshot_write_fd(fd, shape, &vm->mem, blob, len);
	if (!r && fsync(fd) < 0)
		r = err_sys(errno, "snapshot %s: fsync", tmp);
	if (fd >= 0 && close(fd) < 0 && !r)
		r = err_sys(errno, "snapshot %s: close", tmp);
	if (!r && rename(tmp, path) < 0)
		r = err_sys(errno, "snapshot: cannot rename %s to %s", tmp, path);
	if (!r)
		r = sync_dir(path);
	else if (fd >= 0)
		unlink(tmp);
	free(tmp);
	free(shape);
	state_free(&st);
	return r;
}

int snapshot_tree(struct vm *vm, void **tree, size_t *len)
{
	struct state_tree st = { 0 };
	const void *blob;
	int r = build_tree(vm, &st);

	if (!r)
		r = state_finish(&st, &blob, len);
	if (!r) {
		*tree = malloc(*len);
		if (*tree)
			memcpy(*tree, blob, *len);
		else
			r = err_set(ENOMEM, "snapshot: out of memory");
	}
	state_free(&st);
	return r;
}

int snapshot_apply_tree(struct vm *vm, const void *fdt, const struct x86_restore_opts *o)
{
	int devs = state_node(fdt, 0, "devices");
	unsigned i = 0;
	int r;

	/* vCPUs and irqchip first: a device's restore may raise a level
	 * interrupt or deliver a pending MSI, which must land in the
	 * restored irqchip and LAPICs. */
	r = x86_state_restore(&x86_kvm_ioctl_ops, vm, vm->ncpus, fdt,
			      state_node(fdt, 0, "x86"), o);
	if (!r)
		r = platform_restore(vm, fdt, state_node(fdt, 0, "platform"));
	for (struct device *d = vm->devices; !r && d; d = d->next, i++) {
		char name[48];

		if (!d->ops->restore)
			return err_set(ENOTSUP, "snapshot: %s cannot be restored", d->ops->name);
		device_name(name, sizeof(name), d, i);
		r = d->ops->restore(d, fdt, state_node(fdt, devs, name));
		if (r)
			err_prefix(r, "snapshot: %s", name);
	}
	return r;
}

int snapshot_restore(struct vm *vm, const char *path, const struct x86_restore_opts *o)
{
	struct snap_shape *shape = malloc(sizeof(*shape));
	void *tree = NULL;
	size_t len;
	int fd = -1, r;

	if (!shape)
		return err_set(ENOMEM, "snapshot: out of memory");
	r = snapshot_shape_of_vm(vm, shape);
	if (!r) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = err_sys(errno, "snapshot %s: cannot open", path);
	}
	if (!r)
		r = snapshot_read_fd(fd, shape, &vm->mem, true, &tree, &len);
	if (r && fd >= 0)
		err_prefix(r, "%s", path);
	if (!r)
		r = snapshot_apply_tree(vm, tree, o);
	if (fd >= 0)
		close(fd);
	free(tree);
	free(shape);
	return r;
}
