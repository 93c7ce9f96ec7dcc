/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The --net devices of a VM, in the same steps as the disks: open the taps
 * before any VM exists, then I/O threads and a virtio-net device each,
 * threads started before the vCPUs and stopped after.
 */
#ifndef KITE_VMM_NETS_H
#define KITE_VMM_NETS_H

struct vm;

int nets_open(struct vm *vm);
int nets_create(struct vm *vm);
int nets_start(struct vm *vm);
void nets_stop(struct vm *vm);
/* A migration's destination joins its taps' queue 0 at the hand-over. */
void nets_take_over(struct vm *vm);
/* Close the taps (removing the ones kite created) and free the threads. */
void nets_close(struct vm *vm);

#endif
