/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every device registers with a small ops table; the VM keeps the list.
 * save/restore write and read the device's node of the state tree
 * (vmm/state.h: save goes through struct state_tree, which grows the
 * libfdt buffer; restore reads a tree that passed state_check()).
 *
 * Both require a quiescent device: its I/O threads stopped (save: after
 * the device drained, nothing in flight, used rings flushed) or not yet
 * started (restore, into a device fresh from its create function, before
 * the vCPUs run). A save that finds work in flight fails with -EBUSY
 * rather than write a state that would lose it.
 *
 * quiesce/resume (optional) bring a running device to that state and back
 * while its I/O threads keep running: quiesce keeps the threads off every
 * queue, waits until nothing is in flight (giving up with -EBUSY after
 * about 10 s), flushes the used entries the threads had not published and
 * raises their interrupts; resume lets the threads back on and kicks
 * every queue. Call resume after a quiesce whether it failed or not.
 * Only while the vCPUs are paused.
 */
#ifndef KITE_VMM_DEVICE_H
#define KITE_VMM_DEVICE_H

struct device;
struct state_tree;

struct device_ops {
	const char *name;
	void (*reset)(struct device *dev);
	int (*save)(struct device *dev, struct state_tree *st, int node);
	int (*restore)(struct device *dev, const void *fdt, int node);
	int (*quiesce)(struct device *dev);
	void (*resume)(struct device *dev);
	void (*free)(struct device *dev);
};

struct device {
	const struct device_ops *ops;
	void *priv;			/* the device's own state */
	struct device *next;		/* VM's list, in registration order */
};

#endif
