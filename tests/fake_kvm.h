/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A recording stand-in for the KVM calls of vmm/irq.h (struct irq_kvm_ops):
 * the last routing table sent, irqfd and ioeventfd registrations, direct
 * MSIs. For tests of the irq router, the virtio-pci transport and devices.
 */
#ifndef KITE_TESTS_FAKE_KVM_H
#define KITE_TESTS_FAKE_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/irq.h"

#define FAKE_KVM_MAX 512

struct fake_kvm {
	unsigned set_routing_calls;
	unsigned nroutes;			/* of the last table sent */
	struct irq_route routes[4096];
	unsigned nirqfd;			/* assigned now */
	struct { int fd; uint32_t gsi; } irqfd[FAKE_KVM_MAX];
	unsigned nioev;				/* assigned now */
	struct { uint64_t addr; unsigned len; int fd; } ioev[FAKE_KVM_MAX];
	unsigned nmsi;				/* KVM_SIGNAL_MSI calls */
	uint64_t msi_addr;			/* of the last one */
	uint32_t msi_data;
	int fail_ioeventfd;			/* nonzero: ioeventfd fails with it */
};

extern const struct irq_kvm_ops fake_kvm_ops;

/* Clear the record; returns the ctx to give irq_router_init. */
void *fake_kvm_reset(struct fake_kvm *k);
/* The route of gsi in the last table sent (NULL if none); `nth` picks
 * among several (GSIs 0-15 have two). */
const struct irq_route *fake_kvm_route(const struct fake_kvm *k, uint32_t gsi, unsigned nth);
/* The GSI eventfd fd is attached to, or -1. */
int fake_kvm_irqfd_gsi(const struct fake_kvm *k, int fd);
/* The eventfd registered at addr, or -1. */
int fake_kvm_ioev_fd(const struct fake_kvm *k, uint64_t addr);

#endif
