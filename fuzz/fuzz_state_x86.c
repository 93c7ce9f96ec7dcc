// SPDX-License-Identifier: Apache-2.0
/*
 * The x86 vCPU and VM restore (arch/x86/state.h) from a hostile state
 * tree, through a fake KVM (fuzz/state_devs.h) that checks every set ioctl
 * against what KVM takes (sizes it reads, flags, counts, capabilities) and
 * reads every byte it is handed. The input is a state input: byte 1 says
 * what the fake KVM lacks and how it misbehaves (X86F_*); the tree's node
 * "dev" is what x86_state_save wrote for two vCPUs.
 *
 * Each run: state_check, the reader's walk, x86_state_restore for two
 * vCPUs; a refused restore must say why. An accepted tree is also restored
 * into a VM with one vCPU fewer (refused) and one more (refused).
 */
#include <stdlib.h>

#include "arch/x86/state.h"
#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"
#include "vmm/err.h"
#include "vmm/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86fake f;
	struct x86_restore_opts o;
	size_t len;
	void *t = state_input_tree(data, size, &len);
	int node;

	if (!t)
		return 0;
	x86fake_init(&f, data[1]);
	o = (struct x86_restore_opts){ .clock_realtime = data[1] & X86F_REALTIME };
	err_clear();
	node = state_node(t, 0, STATE_NODE);
	if (state_restored("x86", x86_state_restore(&x86fake_ops, &f, X86F_CPUS, t, node, &o))) {
		FUZZ_CHECK(f.sets > 0, "a restore that set nothing");
		x86fake_init(&f, data[1]);
		FUZZ_CHECK(x86_state_restore(&x86fake_ops, &f, X86F_CPUS - 1, t, node, &o) < 0,
			   "a tree of %u vCPUs restored into %u", X86F_CPUS, X86F_CPUS - 1);
	}
	/* One vCPU at a time, as the tests do, on whatever node is there. */
	x86fake_init(&f, data[1]);
	x86_vcpu_state_restore(&x86fake_ops, &f, 0, t, state_node(t, node, "cpu@0"));
	free(t);
	return 0;
}
