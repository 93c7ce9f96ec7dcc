/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interrupt routing and the KVM eventfd plumbing of devices.
 *
 * The router keeps the VM's whole GSI routing table: the legacy irqchip
 * routes of GSIs 0-23 and one MSI route per allocated GSI (24 upward). KVM
 * takes the table only as a whole (KVM_SET_GSI_ROUTING replaces it), so
 * changes are collected and sent by irq_commit(), once per batch of changes.
 *
 * Every KVM call devices need for interrupts and kicks goes through
 * struct irq_kvm_ops (irqfd, ioeventfd, routing, direct MSI): the real one
 * issues ioctls on the VM fd, unit tests plug in a recording fake.
 * All functions are thread-safe (vCPU threads write MSI-X tables).
 */
#ifndef KITE_VMM_IRQ_H
#define KITE_VMM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* GSIs below this are the IOAPIC's pins; MSI routes are allocated above. */
#define IRQ_IOAPIC_PINS		24
#define IRQ_MSI_GSI_BASE	24
/* KVM's default limit (KVM_MAX_IRQ_ROUTES is 4096 on current kernels). */
#define IRQ_MAX_GSI		4096

/* Route kinds, as KVM_IRQ_ROUTING_* (kept separate so tests need no kvm.h). */
enum irq_route_kind { IRQ_ROUTE_IRQCHIP = 1, IRQ_ROUTE_MSI = 2 };
/* irqchip numbers, as KVM_IRQCHIP_*. */
enum irq_chip { IRQ_CHIP_PIC_MASTER = 0, IRQ_CHIP_PIC_SLAVE = 1, IRQ_CHIP_IOAPIC = 2 };

struct irq_route {
	uint32_t gsi;
	enum irq_route_kind kind;
	union {
		struct { uint32_t chip, pin; } irqchip;
		struct { uint64_t addr; uint32_t data; } msi;
	};
};

/* The KVM calls, replaceable for tests. `ctx` is irq_router.ctx. Each
 * returns 0 or a negative errno. */
struct irq_kvm_ops {
	/* KVM_SET_GSI_ROUTING with these n routes (the whole table). */
	int (*set_routing)(void *ctx, const struct irq_route *routes, unsigned n);
	/* KVM_IRQFD: assign (or deassign) eventfd fd to gsi. */
	int (*irqfd)(void *ctx, int fd, uint32_t gsi, bool assign);
	/* KVM_IOEVENTFD on an MMIO address; len 0 matches writes of any size. */
	int (*ioeventfd)(void *ctx, uint64_t addr, unsigned len, int fd, bool assign);
	/* KVM_SIGNAL_MSI: inject one message without a route. */
	int (*signal_msi)(void *ctx, uint64_t addr, uint32_t data);
};

/* The real ops; ctx is a pointer to the VM fd (int *). */
extern const struct irq_kvm_ops irq_kvm_ioctl_ops;

struct irq_router {
	const struct irq_kvm_ops *ops;
	void *ctx;
	pthread_mutex_t lock;
	struct irq_route *routes;	/* legacy routes, then MSI routes (set ones) */
	unsigned nroutes, cap;
	uint8_t *msi_used;		/* per GSI >= IRQ_MSI_GSI_BASE: allocated */
	unsigned msi_cap;		/* entries in msi_used */
	bool dirty;			/* table changed since the last commit */
	unsigned commits;		/* KVM_SET_GSI_ROUTING calls made (stats, tests) */
};

/*
 * Build the legacy table and send it, so the VM runs with the same routes
 * before and after the first MSI route. It is KVM's default
 * (kvm_setup_default_irq_routing: GSIs 0-15 to PIC pin gsi % 8 and IOAPIC
 * pin gsi, GSIs 16-23 to the IOAPIC), except that GSI 0 goes to IOAPIC pin 2:
 * kite's MADT has the ISA override IRQ0 -> GSI 2, so a guest programs the
 * PIT's vector on pin 2, as on QEMU and kvmtool.
 */
int irq_router_init(struct irq_router *r, const struct irq_kvm_ops *ops, void *ctx);
void irq_router_destroy(struct irq_router *r);

/* Reserve a GSI for an MSI route (the lowest free one >= 24). The route is
 * left out of the table until irq_msi_set(). -ENOSPC when none is left. */
int irq_msi_alloc(struct irq_router *r, uint32_t *gsi);
/* Drop a GSI's route and free it (takes effect at the next commit). */
void irq_msi_free(struct irq_router *r, uint32_t gsi);
/* Point the GSI at an MSI message (no-op if unchanged). */
int irq_msi_set(struct irq_router *r, uint32_t gsi, uint64_t addr, uint32_t data);
/* Send the table to KVM if anything changed since the last commit. */
int irq_commit(struct irq_router *r);

/* Copy of the current table, for tests: returns the count, fills up to max. */
unsigned irq_routes_get(struct irq_router *r, struct irq_route *out, unsigned max);

/* Thin wrappers over the ops, so callers need only the router. */
int irq_irqfd_attach(struct irq_router *r, int fd, uint32_t gsi);
int irq_irqfd_detach(struct irq_router *r, int fd, uint32_t gsi);
int irq_ioeventfd_add(struct irq_router *r, uint64_t addr, unsigned len, int fd);
int irq_ioeventfd_del(struct irq_router *r, uint64_t addr, unsigned len, int fd);
int irq_signal_msi(struct irq_router *r, uint64_t addr, uint32_t data);

#endif
