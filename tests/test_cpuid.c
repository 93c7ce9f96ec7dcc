// SPDX-License-Identifier: Apache-2.0
/* The CPUID topology kite gives each vCPU: one package, ncpus cores. */
#include <check.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpu.h"

static struct kvm_cpuid2 *template(bool amd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (16 + X86_CPUID_EXTRA) * sizeof(c->entries[0]));
	struct kvm_cpuid_entry2 *e = c->entries;

	e[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f,
		.ebx = amd ? 0x68747541 : 0x756e6547 };
	e[1] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x00000800, .ecx = 0x1,
		.edx = 0x1 };
	/* Leaf 4: L1d (level 1, type 1), L3 (level 3, type 3), end. */
	e[2] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = (1 << 5) | 1 };
	e[3] = (struct kvm_cpuid_entry2){ .function = 4, .index = 1, .eax = (3 << 5) | 3 };
	e[4] = (struct kvm_cpuid_entry2){ .function = 4, .index = 2, .eax = 0 };
	/* What KVM reports for 0xB/0x1F: one empty subleaf. */
	e[5] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0 };
	e[6] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 0 };
	e[7] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0x0000f00f };
	e[8] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 7, .ebx = 0x100 };
	c->nent = 9;
	return c;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static const struct { unsigned id, ncpus; bool amd; } cases[] = {
	{ 0, 1, false }, { 1, 2, false }, { 3, 4, true }, { 2, 3, true }, { 200, 254, false },
};

START_TEST(topology_table)
{
	unsigned id = cases[_i].id, n = cases[_i].ncpus, order = 0;
	struct kvm_cpuid2 *c = template(cases[_i].amd);
	struct kvm_cpuid_entry2 *e;

	while ((1U << order) < n)
		order++;
	x86_cpuid_for_vcpu(c, id, n);
	e = find(c, 1, 0);
	ck_assert_uint_eq(e->ebx >> 24, id);
	ck_assert_uint_eq((e->ebx >> 16) & 0xff, (1U << order) > 255 ? 255 : (1U << order));
	ck_assert_uint_eq(e->ebx & 0xffff, 0x0800);	/* CLFLUSH size kept */
	ck_assert(e->ecx & (1U << 31));			/* hypervisor */
	ck_assert_uint_eq(!!(e->edx & (1U << 28)), n > 1);
	/* 0xB rebuilt: SMT level 1 thread, core level n, x2APIC id everywhere. */
	e = find(c, 0xb, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->ebx, 1);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 1);
	ck_assert_uint_eq(e->edx, id);
	e = find(c, 0xb, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->eax, order);
	ck_assert_uint_eq(e->ebx, n);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 2);
	ck_assert_uint_eq(e->edx, id);
	e = find(c, 0xb, 2);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq((e->ecx >> 8) & 0xff, 0);
	ck_assert_ptr_null(find(c, 0x1f, 0));
	/* Leaf 4: cores per package, L3 shared by all. */
	e = find(c, 4, 0);
	ck_assert_uint_eq(e->eax >> 26, ((1U << order) > 64 ? 64 : (1U << order)) - 1);
	ck_assert_uint_eq((e->eax >> 14) & 0xfff, 0);
	e = find(c, 4, 1);
	ck_assert_uint_eq((e->eax >> 14) & 0xfff, (1U << order) - 1);
	e = find(c, 4, 2);
	ck_assert_uint_eq(e->eax, 0);
	e = find(c, 0x80000008, 0);
	if (cases[_i].amd) {
		ck_assert_uint_eq(e->ecx & 0xff, n - 1);
		ck_assert_uint_eq((e->ecx >> 12) & 0xf, order);
		ck_assert_uint_eq(find(c, 0x8000001e, 0)->eax, id);
	} else {
		ck_assert_uint_eq(e->ecx, 0x0000f00f);	/* untouched on Intel */
	}
	free(c);
}
END_TEST

Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, topology_table, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
