/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every device registers with a small ops table; the VM keeps the list.
 * save/restore write and read the device's node of the state tree (libfdt).
 */
#ifndef KITE_VMM_DEVICE_H
#define KITE_VMM_DEVICE_H

struct device;

struct device_ops {
	const char *name;
	void (*reset)(struct device *dev);
	int (*save)(struct device *dev, void *fdt, int node);
	int (*restore)(struct device *dev, const void *fdt, int node);
	void (*free)(struct device *dev);
};

struct device {
	const struct device_ops *ops;
	void *priv;			/* the device's own state */
	struct device *next;		/* VM's list, in registration order */
};

#endif
