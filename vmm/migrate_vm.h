/* SPDX-License-Identifier: Apache-2.0 */
/* Migration of a struct vm: the glue between vmm/migrate.c, vmm/migrate_dst.c and the VM. */
#ifndef KITE_VMM_MIGRATE_VM_H
#define KITE_VMM_MIGRATE_VM_H

#include <json-c/json.h>

struct vm;

/* The source's worker thread (vm->migration); before any seccomp filter. */
int vm_migration_create(struct vm *vm);
/* control_ops.migrate. */
int vm_ctl_migrate(void *vm, const char *cmd, struct json_object *req,
		   struct json_object *out);
/* --incoming: wait for the stream, load it into the new VM, take over. */
int vm_receive_migration(struct vm *vm);

#endif
