// SPDX-License-Identifier: Apache-2.0
/* GSI routing table and KVM eventfd plumbing: see irq.h. */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/err.h"

/* ---- the real KVM calls (Documentation/virt/kvm/api.rst) ---- */

static int kvm_set_routing(void *ctx, const struct irq_route *routes, unsigned n)
{
	struct kvm_irq_routing *t;
	int r = 0;

	t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	t->nr = n;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e = &t->entries[i];

		e->gsi = routes[i].gsi;
		if (routes[i].kind == IRQ_ROUTE_IRQCHIP) {
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = routes[i].irqchip.chip;
			e->u.irqchip.pin = routes[i].irqchip.pin;
		} else {
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = (uint32_t)routes[i].msi.addr;
			e->u.msi.address_hi = (uint32_t)(routes[i].msi.addr >> 32);
			e->u.msi.data = routes[i].msi.data;
		}
	}
	if (ioctl(*(int *)ctx, KVM_SET_GSI_ROUTING, t) < 0)
		r = err_sys(errno, "KVM_SET_GSI_ROUTING (%u routes)", n);
	free(t);
	return r;
}

static int kvm_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct kvm_irqfd a = { .fd = (uint32_t)fd, .gsi = gsi,
			       .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	if (ioctl(*(int *)ctx, KVM_IRQFD, &a) < 0)
		return err_sys(errno, "KVM_IRQFD gsi %u", gsi);
	return 0;
}

static int kvm_ioeventfd(void *ctx, uint64_t addr, unsigned len, int fd, bool assign)
{
	struct kvm_ioeventfd a = { .addr = addr, .len = len, .fd = fd,
				   .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };

	if (ioctl(*(int *)ctx, KVM_IOEVENTFD, &a) < 0)
		return err_sys(errno, "KVM_IOEVENTFD 0x%llx", (unsigned long long)addr);
	return 0;
}

static int kvm_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			     .data = data };

	/* > 0 delivered, 0 blocked by the guest (e.g. APIC off): not an error. */
	if (ioctl(*(int *)ctx, KVM_SIGNAL_MSI, &m) < 0)
		return err_sys(errno, "KVM_SIGNAL_MSI");
	return 0;
}

const struct irq_kvm_ops irq_kvm_ioctl_ops = {
	.set_routing = kvm_set_routing,
	.irqfd = kvm_irqfd,
	.ioeventfd = kvm_ioeventfd,
	.signal_msi = kvm_signal_msi,
};

/* ---- the table ---- */

static int reserve(struct irq_router *r, unsigned n)
{
	struct irq_route *p;
	unsigned cap;

	if (n <= r->cap)
		return 0;
	cap = r->cap ? r->cap : 64;
	while (cap < n)
		cap *= 2;
	p = realloc(r->routes, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	r->routes = p;
	r->cap = cap;
	return 0;
}

static void add_chip(struct irq_router *r, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	r->routes[r->nroutes++] = (struct irq_route){
		.gsi = gsi, .kind = IRQ_ROUTE_IRQCHIP, .irqchip = { chip, pin },
	};
}

int irq_router_init(struct irq_router *r, const struct irq_kvm_ops *ops, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->ctx = ctx;
	pthread_mutex_init(&r->lock, NULL);
	if (reserve(r, 64) < 0)
		return err_set(ENOMEM, "irq routing table");
	/* GSI 0 (the PIT) is IOAPIC pin 2, as the MADT's override says, and
	 * so no GSI 2 at all: KVM maps a pin back to the last GSI routed to
	 * it (for EOI acks and mask notifiers), and the PIT's notifiers are
	 * on GSI 0; a GSI 2 route to pin 2 would make them never fire, and
	 * the PIT, reinjecting, stop after its first tick through the IOAPIC. */
	for (uint32_t gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		add_chip(r, gsi, IRQ_CHIP_IOAPIC, gsi == 0 ? 2 : gsi);
		if (gsi < 16)
			add_chip(r, gsi, gsi < 8 ? IRQ_CHIP_PIC_MASTER : IRQ_CHIP_PIC_SLAVE, gsi % 8);
	}
	r->dirty = true;
	return irq_commit(r);
}

void irq_router_destroy(struct irq_router *r)
{
	free(r->routes);
	free(r->msi_used);
	r->routes = NULL;
	r->msi_used = NULL;
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_alloc(struct irq_router *r, uint32_t *gsi)
{
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->msi_cap && r->msi_used[i]; i++)
		;
	if (i == r->msi_cap) {
		unsigned cap = r->msi_cap ? r->msi_cap * 2 : 64;
		uint8_t *p;

		if (cap > IRQ_MAX_GSI - IRQ_MSI_GSI_BASE)
			cap = IRQ_MAX_GSI - IRQ_MSI_GSI_BASE;
		if (i >= cap) {
			ret = err_set(ENOSPC, "no free GSI for an MSI route (%u in use)", i);
			goto out;
		}
		p = realloc(r->msi_used, cap);
		if (!p) {
			ret = err_set(ENOMEM, "irq routing table");
			goto out;
		}
		memset(p + r->msi_cap, 0, cap - r->msi_cap);
		r->msi_used = p;
		r->msi_cap = cap;
	}
	r->msi_used[i] = 1;
	*gsi = IRQ_MSI_GSI_BASE + i;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static struct irq_route *find_msi(struct irq_router *r, uint32_t gsi)
{
	for (unsigned i = 0; i < r->nroutes; i++)
		if (r->routes[i].gsi == gsi && r->routes[i].kind == IRQ_ROUTE_MSI)
			return &r->routes[i];
	return NULL;
}

void irq_msi_free(struct irq_router *r, uint32_t gsi)
{
	struct irq_route *e;

	if (gsi < IRQ_MSI_GSI_BASE)
		return;
	pthread_mutex_lock(&r->lock);
	e = find_msi(r, gsi);
	if (e) {
		/* Order does not matter to KVM: move the last entry here. */
		*e = r->routes[--r->nroutes];
		r->dirty = true;
	}
	if (gsi - IRQ_MSI_GSI_BASE < r->msi_cap)
		r->msi_used[gsi - IRQ_MSI_GSI_BASE] = 0;
	pthread_mutex_unlock(&r->lock);
}

int irq_msi_set(struct irq_router *r, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct irq_route *e;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (gsi < IRQ_MSI_GSI_BASE || gsi - IRQ_MSI_GSI_BASE >= r->msi_cap ||
	    !r->msi_used[gsi - IRQ_MSI_GSI_BASE]) {
		ret = err_set(EINVAL, "GSI %u is not an allocated MSI route", gsi);
		goto out;
	}
	e = find_msi(r, gsi);
	if (!e) {
		if (reserve(r, r->nroutes + 1) < 0) {
			ret = err_set(ENOMEM, "irq routing table");
			goto out;
		}
		e = &r->routes[r->nroutes++];
		*e = (struct irq_route){ .gsi = gsi, .kind = IRQ_ROUTE_MSI };
	} else if (e->msi.addr == addr && e->msi.data == data) {
		goto out;
	}
	e->msi.addr = addr;
	e->msi.data = data;
	r->dirty = true;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_commit(struct irq_router *r)
{
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->dirty) {
		ret = r->ops->set_routing(r->ctx, r->routes, r->nroutes);
		if (!ret) {
			r->dirty = false;
			r->commits++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

unsigned irq_routes_get(struct irq_router *r, struct irq_route *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->nroutes;
	memcpy(out, r->routes, (n < max ? n : max) * sizeof(*out));
	pthread_mutex_unlock(&r->lock);
	return n;
}

int irq_irqfd_attach(struct irq_router *r, int fd, uint32_t gsi)
{
	return r->ops->irqfd(r->ctx, fd, gsi, true);
}

int irq_irqfd_detach(struct irq_router *r, int fd, uint32_t gsi)
{
	return r->ops->irqfd(r->ctx, fd, gsi, false);
}

int irq_ioeventfd_add(struct irq_router *r, uint64_t addr, unsigned len, int fd)
{
	return r->ops->ioeventfd(r->ctx, addr, len, fd, true);
}

int irq_ioeventfd_del(struct irq_router *r, uint64_t addr, unsigned len, int fd)
{
	return r->ops->ioeventfd(r->ctx, addr, len, fd, false);
}

int irq_signal_msi(struct irq_router *r, uint64_t addr, uint32_t data)
{
	return r->ops->signal_msi(r->ctx, addr, data);
}
