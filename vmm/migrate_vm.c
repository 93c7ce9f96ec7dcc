// SPDX-License-Identifier: Apache-2.0
/*
 * Migration of a whole VM: what vmm/migrate.c needs of struct vm (KVM's
 * dirty log, pause and drain, the state tree, the disks' locks), the
 * control socket's migrate commands, and the --incoming side.
 */
#include "vmm/migrate_vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/state.h"
#include "vmm/dirty.h"
#include "vmm/disks.h"
#include "vmm/err.h"
#include "vmm/migrate.h"
#include "vmm/nets.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

/* ---- KVM's dirty log ---- */

static bool manual_protect;	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled */

static int set_slot_logging(struct vm *vm, bool on)
{
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i, .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = g->gpa, .memory_size = g->size,
			.userspace_addr = (uintptr_t)g->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return err_sys(errno, "migration: cannot %s dirty logging on slot %u",
				       on ? "start" : "stop", i);
	}
	return 0;
}

static int src_log_start(void *opaque)
{
	struct vm *vm = opaque;
	int r;

	/* Manual protection, where offered: KVM_GET_DIRTY_LOG then only
	 * reads the log, and KVM_CLEAR_DIRTY_LOG re-protects just the pages
	 * we take, rather than every page of the slot at once. Once on, it
	 * stays on for the VM. */
	if (!manual_protect) {
		int caps = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				 KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		struct kvm_enable_cap ec = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
		    ioctl(vm->vm_fd, KVM_ENABLE_CAP, &ec) == 0)
			manual_protect = true;
	}
	r = dirty_log_start(&vm->mem);
	if (!r)
		r = set_slot_logging(vm, true);
	if (r)
		dirty_log_stop();
	else
		vm_log(vm, "migration: dirty logging on (%s)", manual_protect ?
		       "KVM_CLEAR_DIRTY_LOG" : "KVM_GET_DIRTY_LOG");
	return r;
}

static void src_log_stop(void *opaque)
{
	struct vm *vm = opaque;

	set_slot_logging(vm, false);
	dirty_log_stop();
}

static int src_log_take(void *opaque, unsigned region, uint64_t *bm)
{
	struct vm *vm = opaque;
	const struct guest_region *g = &vm->mem.regions[region];
	uint64_t pages = g->size / 4096, words = (pages + 63) / 64;
	uint64_t *kbm = calloc(words, 8);
	struct kvm_dirty_log dl = { .slot = region, .dirty_bitmap = kbm };
	int r = 0;

	if (!kbm)
		return err_set(ENOMEM, "migration: out of memory");
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &dl) < 0)
		r = err_sys(errno, "migration: KVM_GET_DIRTY_LOG (slot %u)", region);
	if (!r && manual_protect) {
		struct kvm_clear_dirty_log cl = {
			.slot = region, .first_page = 0, .num_pages = (uint32_t)pages,
			.dirty_bitmap = kbm,
		};

		/* num_pages must be a multiple of 64 unless it reaches the
		 * slot's end, which it does. */
		if (ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &cl) < 0)
			r = err_sys(errno, "migration: KVM_CLEAR_DIRTY_LOG (slot %u)", region);
	}
	for (uint64_t w = 0; !r && w < words; w++)
		bm[w] |= kbm[w];
	free(kbm);
	/* And kite's own writes (devices). */
	if (!r)
		dirty_log_take(g->offset / 4096, pages, bm);
	return r;
}

static bool was_paused;

static int src_pause(void *opaque)
{
	struct vm *vm = opaque;

	int r;

	was_paused = atomic_load(&vm->pause_req);
	r = vm_quiesce(vm);
	/* A device that cannot drain leaves the vCPUs parked: undo that. */
	if (r && !was_paused)
		vm_resume(vm);
	return r;
}

static void src_unpause(void *opaque)
{
	struct vm *vm = opaque;

	vm_unquiesce(vm);
	if (!was_paused)
		vm_resume(vm);
}

static int src_shape(void *opaque, struct snap_shape *s)
{
	return snapshot_shape_of_vm(opaque, s);
}

static int src_tree(void *opaque, void **blob, size_t *len)
{
	return snapshot_tree(opaque, blob, len);
}

static int src_flush(void *opaque)
{
	return disks_flush(opaque);
}

static int src_release(void *opaque)
{
	return disks_release(opaque);
}

static void src_reclaim(void *opaque)
{
	if (disks_lock(opaque))
		fprintf(stderr, "kite: migration failed, and %s\n", err_msg());
}

static void src_done(void *opaque)
{
	vm_request_stop(opaque, KITE_EXIT_OK, "migrated");
}

static const struct migrate_src_ops src_ops = {
	.log_start = src_log_start, .log_stop = src_log_stop, .log_take = src_log_take,
	.pause = src_pause, .unpause = src_unpause, .shape = src_shape, .tree = src_tree,
	.flush = src_flush, .release = src_release, .reclaim = src_reclaim, .done = src_done,
};

int vm_migration_create(struct vm *vm)
{
	return migration_create(&vm->migration, &src_ops, vm, &vm->mem);
}

/* ---- the control socket's commands ---- */

static int get_uint(struct json_object *req, const char *key, unsigned max, unsigned *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return err_set(EINVAL, "migrate: \"%s\" must be a whole number", key);
	n = json_object_get_int64(v);
	if (n < 0 || n > (int64_t)max)
		return err_set(EINVAL, "migrate: \"%s\" must be from 0 to %u", key, max);
	*out = (unsigned)n;
	return 0;
}

static int ctl_migrate_start(struct vm *vm, struct json_object *req)
{
	struct migrate_params p = { .max_downtime_ms = MIG_DEFAULT_DOWNTIME_MS };
	struct json_object *host;
	int r;

	if (!json_object_object_get_ex(req, "host", &host) ||
	    !json_object_is_type(host, json_type_string) ||
	    strlen(json_object_get_string(host)) >= sizeof(p.host))
		return err_set(EINVAL, "migrate needs a \"host\" (an IP address) and a \"port\"");
	snprintf(p.host, sizeof(p.host), "%s", json_object_get_string(host));
	if (!json_object_object_get_ex(req, "port", &host))
		return err_set(EINVAL, "migrate needs a \"port\" (1 to 65535)");
	r = get_uint(req, "port", 65535, &p.port);
	if (!r && !p.port)
		r = err_set(EINVAL, "migrate: \"port\" must be from 1 to 65535");
	if (!r)
		r = get_uint(req, "max_downtime_ms", 600000, &p.max_downtime_ms);
	if (!r)
		r = get_uint(req, "timeout_s", 86400, &p.timeout_s);
	if (!r)
		r = get_uint(req, "max_iterations", 1000, &p.max_iterations);
	if (!r)
		r = migration_start(vm->migration, &p);
	if (!r)
		vm_log(vm, "migration to %s port %u started", p.host, p.port);
	return r;
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

int vm_ctl_migrate(void *opaque, const char *cmd, struct json_object *req,
		   struct json_object *out)
{
	struct vm *vm = opaque;
	struct migrate_status st;

	if (!vm->migration)
		return err_set(ENOTSUP, "this VM cannot be migrated");
	if (!strcmp(cmd, "migrate"))
		return ctl_migrate_start(vm, req);
	if (!strcmp(cmd, "migrate-cancel"))
		return migration_cancel(vm->migration);
	migration_status(vm->migration, &st);
	json_object_object_add(out, "state", json_object_new_string(
		migrate_state_name(st.state)));
	add_u64(out, "iteration", st.iteration);
	add_u64(out, "bytes_sent", st.bytes_sent);
	add_u64(out, "ram_total", st.ram_total);
	add_u64(out, "ram_remaining", st.ram_remaining);
	add_u64(out, "dirty_rate", st.dirty_rate);
	add_u64(out, "bandwidth", st.bandwidth);
	add_u64(out, "expected_downtime_ms", st.expected_downtime_ms);
	add_u64(out, "total_ms", st.total_ms);
	add_u64(out, "downtime_ms", st.downtime_ms);
	if (st.error[0])
		json_object_object_add(out, "error", json_object_new_string(st.error));
	return 0;
}

/* ---- the destination ---- */

static int dst_shape(void *opaque, struct snap_shape *s)
{
	return snapshot_shape_of_vm(opaque, s);
}

static int dst_apply(void *opaque, const void *tree, size_t len)
{
	/* Hosts with synchronised clocks: kvmclock counts the time the move
	 * took, so guest time does not stand still. */
	(void)len;
	return snapshot_apply_tree(opaque, tree, &(struct x86_restore_opts){
		.clock_realtime = true });
}

static int dst_take_over(void *opaque)
{
	int r = disks_lock(opaque);

	if (!r)
		nets_take_over(opaque);
	return r;
}

static const struct migrate_dst_ops dst_ops = {
	.shape = dst_shape, .apply = dst_apply, .take_over = dst_take_over,
};

int vm_receive_migration(struct vm *vm)
{
	int r = migrate_incoming(vm->cfg->incoming, &dst_ops, vm, &vm->mem, true);

	if (!r)
		vm_log(vm, "migration received; the VM runs here now");
	return r;
}
