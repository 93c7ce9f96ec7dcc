// SPDX-License-Identifier: Apache-2.0
/* Recording fake of the KVM interrupt/eventfd calls: see fake_kvm.h. */
#include "tests/fake_kvm.h"

#include <errno.h>
#include <string.h>

static int f_set_routing(void *ctx, const struct irq_route *routes, unsigned n)
{
	struct fake_kvm *k = ctx;

	if (n > sizeof(k->routes) / sizeof(k->routes[0]))
		return -E2BIG;
	k->set_routing_calls++;
	k->nroutes = n;
	memcpy(k->routes, routes, n * sizeof(*routes));
	return 0;
}

static int f_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct fake_kvm *k = ctx;

	if (assign) {
		if (k->nirqfd == FAKE_KVM_MAX)
			return -ENOSPC;
		k->irqfd[k->nirqfd].fd = fd;
		k->irqfd[k->nirqfd++].gsi = gsi;
		return 0;
	}
	for (unsigned i = 0; i < k->nirqfd; i++)
		if (k->irqfd[i].fd == fd && k->irqfd[i].gsi == gsi) {
			k->irqfd[i] = k->irqfd[--k->nirqfd];
			return 0;
		}
	return -ENOENT;
}

static int f_ioeventfd(void *ctx, uint64_t addr, unsigned len, int fd, bool assign)
{
	struct fake_kvm *k = ctx;

	if (assign) {
		if (k->fail_ioeventfd)
			return -k->fail_ioeventfd;
		for (unsigned i = 0; i < k->nioev; i++)
			if (k->ioev[i].addr == addr)
				return -EEXIST;	/* as KVM refuses a duplicate */
		if (k->nioev == FAKE_KVM_MAX)
			return -ENOSPC;
		k->ioev[k->nioev].addr = addr;
		k->ioev[k->nioev].len = len;
		k->ioev[k->nioev++].fd = fd;
		return 0;
	}
	for (unsigned i = 0; i < k->nioev; i++)
		if (k->ioev[i].addr == addr && k->ioev[i].fd == fd && k->ioev[i].len == len) {
			k->ioev[i] = k->ioev[--k->nioev];
			return 0;
		}
	return -ENOENT;
}

static int f_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_kvm *k = ctx;

	k->nmsi++;
	k->msi_addr = addr;
	k->msi_data = data;
	return 0;
}

const struct irq_kvm_ops fake_kvm_ops = {
	.set_routing = f_set_routing,
	.irqfd = f_irqfd,
	.ioeventfd = f_ioeventfd,
	.signal_msi = f_signal_msi,
};

void *fake_kvm_reset(struct fake_kvm *k)
{
	memset(k, 0, sizeof(*k));
	return k;
}

const struct irq_route *fake_kvm_route(const struct fake_kvm *k, uint32_t gsi, unsigned nth)
{
	for (unsigned i = 0; i < k->nroutes; i++)
		if (k->routes[i].gsi == gsi && nth-- == 0)
			return &k->routes[i];
	return NULL;
}

int fake_kvm_irqfd_gsi(const struct fake_kvm *k, int fd)
{
	for (unsigned i = 0; i < k->nirqfd; i++)
		if (k->irqfd[i].fd == fd)
			return (int)k->irqfd[i].gsi;
	return -1;
}

int fake_kvm_ioev_fd(const struct fake_kvm *k, uint64_t addr)
{
	for (unsigned i = 0; i < k->nioev; i++)
		if (k->ioev[i].addr == addr)
			return k->ioev[i].fd;
	return -1;
}
