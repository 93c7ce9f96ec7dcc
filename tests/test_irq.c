// SPDX-License-Identifier: Apache-2.0
/* The GSI routing table (vmm/irq.c) against a recording fake of KVM. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "tests/fake_kvm.h"
#include "vmm/irq.h"

static struct fake_kvm *k;
static struct irq_router r;

static void setup(void)
{
	k = calloc(1, sizeof(*k));
	ck_assert_int_eq(irq_router_init(&r, &fake_kvm_ops, fake_kvm_reset(k)), 0);
}

static void teardown(void)
{
	irq_router_destroy(&r);
	free(k);
}

static void check_chip(uint32_t gsi, unsigned nth, uint32_t chip, uint32_t pin)
{
	const struct irq_route *e = fake_kvm_route(k, gsi, nth);

	ck_assert_msg(e, "GSI %u route %u missing", gsi, nth);
	ck_assert_int_eq(e->kind, IRQ_ROUTE_IRQCHIP);
	ck_assert_uint_eq(e->irqchip.chip, chip);
	ck_assert_uint_eq(e->irqchip.pin, pin);
}

START_TEST(legacy_table_sent_at_init)
{
	/* Sent once so the routes are the same before and after MSI use. */
	ck_assert_uint_eq(k->set_routing_calls, 1);
	ck_assert_uint_eq(k->nroutes, 24 + 16 - 2);
	/* KVM's default, except GSI 0 -> IOAPIC pin 2 (the MADT override)
	 * and no GSI 2, so pin 2 maps back to GSI 0 (the PIT's acks). */
	check_chip(0, 0, IRQ_CHIP_IOAPIC, 2);
	check_chip(0, 1, IRQ_CHIP_PIC_MASTER, 0);
	ck_assert_ptr_null(fake_kvm_route(k, 2, 0));
	check_chip(4, 0, IRQ_CHIP_IOAPIC, 4);
	check_chip(4, 1, IRQ_CHIP_PIC_MASTER, 4);
	check_chip(9, 0, IRQ_CHIP_IOAPIC, 9);
	check_chip(9, 1, IRQ_CHIP_PIC_SLAVE, 1);
	check_chip(15, 1, IRQ_CHIP_PIC_SLAVE, 7);
	for (uint32_t g = 16; g < 24; g++) {
		check_chip(g, 0, IRQ_CHIP_IOAPIC, g);
		ck_assert_ptr_null(fake_kvm_route(k, g, 1));
	}
	ck_assert_ptr_null(fake_kvm_route(k, 24, 0));
}
END_TEST

START_TEST(msi_routes_batched)
{
	uint32_t a, b;
	const struct irq_route *e;

	ck_assert_int_eq(irq_msi_alloc(&r, &a), 0);
	ck_assert_int_eq(irq_msi_alloc(&r, &b), 0);
	ck_assert_uint_eq(a, 24);
	ck_assert_uint_eq(b, 25);
	/* Allocated but unset: not in the table, nothing to send. */
	ck_assert_int_eq(irq_commit(&r), 0);
	ck_assert_uint_eq(k->set_routing_calls, 1);

	ck_assert_int_eq(irq_msi_set(&r, a, 0xfee00000, 0x4021), 0);
	ck_assert_int_eq(irq_msi_set(&r, b, 0xfee01000, 0x4022), 0);
	ck_assert_int_eq(irq_commit(&r), 0);
	ck_assert_uint_eq(k->set_routing_calls, 2);	/* one call for both */
	ck_assert_uint_eq(k->nroutes, 40);
	e = fake_kvm_route(k, b, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->kind, IRQ_ROUTE_MSI);
	ck_assert_uint_eq(e->msi.addr, 0xfee01000);
	ck_assert_uint_eq(e->msi.data, 0x4022);
	/* Legacy routes are still there. */
	check_chip(0, 0, IRQ_CHIP_IOAPIC, 2);

	/* The same message again changes nothing. */
	ck_assert_int_eq(irq_msi_set(&r, a, 0xfee00000, 0x4021), 0);
	ck_assert_int_eq(irq_commit(&r), 0);
	ck_assert_uint_eq(k->set_routing_calls, 2);

	/* Free: the route leaves the table and the GSI is reused. */
	irq_msi_free(&r, a);
	ck_assert_int_eq(irq_commit(&r), 0);
	ck_assert_uint_eq(k->nroutes, 39);
	ck_assert_ptr_null(fake_kvm_route(k, a, 0));
	ck_assert_ptr_nonnull(fake_kvm_route(k, b, 0));
	ck_assert_int_eq(irq_msi_alloc(&r, &a), 0);
	ck_assert_uint_eq(a, 24);
}
END_TEST

START_TEST(msi_set_refuses_unallocated)
{
	ck_assert_int_eq(irq_msi_set(&r, 5, 0xfee00000, 1), -EINVAL);
	ck_assert_int_eq(irq_msi_set(&r, 30, 0xfee00000, 1), -EINVAL);
}
END_TEST

START_TEST(table_grows)
{
	uint32_t g;

	for (unsigned i = 0; i < 300; i++) {
		ck_assert_int_eq(irq_msi_alloc(&r, &g), 0);
		ck_assert_uint_eq(g, 24 + i);
		ck_assert_int_eq(irq_msi_set(&r, g, 0xfee00000, i), 0);
	}
	ck_assert_int_eq(irq_commit(&r), 0);
	ck_assert_uint_eq(k->nroutes, 338);
	ck_assert_uint_eq(fake_kvm_route(k, 24 + 299, 0)->msi.data, 299);
	ck_assert_uint_eq(fake_kvm_route(k, 24 + 7, 0)->msi.data, 7);
}
END_TEST

START_TEST(gsi_space_runs_out)
{
	uint32_t g;
	unsigned n = 0;

	while (irq_msi_alloc(&r, &g) == 0)
		n++;
	ck_assert_uint_eq(n, IRQ_MAX_GSI - IRQ_MSI_GSI_BASE);
	ck_assert_int_eq(irq_msi_alloc(&r, &g), -ENOSPC);
}
END_TEST

START_TEST(eventfd_wrappers)
{
	ck_assert_int_eq(irq_irqfd_attach(&r, 7, 30), 0);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(k, 7), 30);
	ck_assert_int_eq(irq_irqfd_detach(&r, 7, 30), 0);
	ck_assert_int_eq(fake_kvm_irqfd_gsi(k, 7), -1);
	ck_assert_int_eq(irq_ioeventfd_add(&r, 0xc0002000, 0, 9), 0);
	ck_assert_int_eq(fake_kvm_ioev_fd(k, 0xc0002000), 9);
	ck_assert_int_eq(irq_ioeventfd_del(&r, 0xc0002000, 0, 9), 0);
	ck_assert_int_eq(fake_kvm_ioev_fd(k, 0xc0002000), -1);
	ck_assert_int_eq(irq_signal_msi(&r, 0xfee00000, 0x31), 0);
	ck_assert_uint_eq(k->nmsi, 1);
	ck_assert_uint_eq(k->msi_data, 0x31);
}
END_TEST

Suite *irq_suite(void)
{
	Suite *s = suite_create("irq");
	TCase *tc = tcase_create("routing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, legacy_table_sent_at_init);
	tcase_add_test(tc, msi_routes_batched);
	tcase_add_test(tc, msi_set_refuses_unallocated);
	tcase_add_test(tc, table_grows);
	tcase_add_test(tc, gsi_space_runs_out);
	tcase_add_test(tc, eventfd_wrappers);
	suite_add_tcase(s, tc);
	return s;
}
