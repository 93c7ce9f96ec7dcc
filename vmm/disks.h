/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The --disk devices of a VM: open the images (before any VM exists, so a
 * bad image is a clear error first), then give each its I/O threads and its
 * virtio device, start the threads before the vCPUs, stop them after.
 */
#ifndef KITE_VMM_DISKS_H
#define KITE_VMM_DISKS_H

struct vm;

/* Open and lock every image named by --disk. */
int disks_open(struct vm *vm);
/* Create the I/O threads and devices (after the PCI host and IRQ router). */
int disks_create(struct vm *vm);
int disks_start(struct vm *vm);
/* Stop the I/O threads (before the devices are freed); idempotent. */
void disks_stop(struct vm *vm);
/* Migration hand-over: the source flushes every image and releases its
 * locks; the destination (which opened them unlocked) takes them. */
int disks_release(struct vm *vm);
/* fdatasync every image (what disks_release starts with). */
int disks_flush(struct vm *vm);
int disks_lock(struct vm *vm);
/* Close images and free threads (after the devices are freed). */
void disks_close(struct vm *vm);

#endif
