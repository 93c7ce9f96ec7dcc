// SPDX-License-Identifier: Apache-2.0
#include "vmm/nets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/net.h"
#include "virtio/tap.h"
#include "vmm/err.h"
#include "vmm/iothread.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

struct vm_net {
	struct tap tap;
	bool opened;
	unsigned pairs;
	uint8_t mac[6];
	struct iothread_group io;
};

/* Queue pairs: one per fd given, else queues=, else one per vCPU. */
static unsigned pairs_of(const struct vm *vm, const struct net_opts *o)
{
	unsigned n = o->nfds ? o->nfds : o->queues ? o->queues : vm->ncpus;

	return n > NET_MAX_PAIRS ? NET_MAX_PAIRS : n;
}

int nets_open(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	if (!cfg->nnets)
		return 0;
	vm->nets = calloc(cfg->nnets, sizeof(*vm->nets));
	if (!vm->nets)
		return err_set(ENOMEM, "out of memory");
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const struct net_opts *o = &cfg->nets[i];
		struct vm_net *n = &vm->nets[i];
		int r;

		n->pairs = pairs_of(vm, o);
		r = o->tap ? tap_open(&n->tap, o->tap, n->pairs) : tap_adopt(&n->tap, o->fds, o->nfds);
		if (r)
			return r;
		n->opened = true;
		/* A migration's destination stays off the tap until it takes
		 * the VM over: a queue attached now would take a share of the
		 * source's traffic and hold it unread. (The device detaches
		 * queues 1 and up itself; a restored state attaches its
		 * active pairs, just before the hand-over.) */
		if (cfg->incoming && tap_set_queue(&n->tap, 0, false))
			fprintf(stderr, "kite: %s (traffic may be split during the migration)\n",
				err_msg());
		if (o->has_mac)
			memcpy(n->mac, o->mac, sizeof(n->mac));
		else
			net_default_mac(n->tap.name, n->mac);
	}
	return 0;
}

int nets_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (unsigned i = 0; i < cfg->nnets; i++) {
		struct vm_net *n = &vm->nets[i];
		struct virtio_net_opts no = {
			.tap = &n->tap, .queue_size = cfg->nets[i].queue_size,
		};
		struct virtio_net *dev;
		unsigned nthreads = cpus > 0 && (unsigned long)cpus < n->pairs ? (unsigned)cpus
									      : n->pairs;
		char prefix[24];
		int r;

		snprintf(prefix, sizeof(prefix), "kite-net%u", i);
		r = iothread_group_create(&n->io, nthreads, prefix, cfg->numa_node, 0);
		/* The tap's queue fds and its link-event socket in the rings'
		 * fixed-file tables (iothread.h). */
		for (unsigned q = 0; !r && q < n->tap.nfds; q++)
			r = iothread_group_register_file(&n->io, n->tap.fds[q]);
		if (!r && n->tap.nl_fd >= 0)
			r = iothread_group_register_file(&n->io, n->tap.nl_fd);
		if (!r) {
			no.threads = n->io.threads;
			no.nthreads = n->io.n;
			memcpy(no.mac, n->mac, sizeof(no.mac));
			r = virtio_net_create(&dev, vm, platform_pci(vm), &vm->irq, &vm->mem, &no);
		}
		if (r)
			return err_prefix(r, "--net %s", n->tap.what);
		vm_add_device(vm, virtio_net_device(dev));
		vm_log(vm, "net %u: %s (%s), mac %02x:%02x:%02x:%02x:%02x:%02x, %u queue pairs "
		       "on %u I/O threads", i, n->tap.name, n->tap.created ? "created" : "existing",
		       n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
		       n->pairs, n->io.n);
	}
	return 0;
}

int nets_start(struct vm *vm)
{
	for (unsigned i = 0; vm->nets && i < vm->cfg->nnets; i++) {
		int r = iothread_group_start(&vm->nets[i].io);

		if (r)
			return r;
	}
	return 0;
}

void nets_take_over(struct vm *vm)
{
	for (unsigned i = 0; vm->nets && i < vm->cfg->nnets; i++)
		if (vm->nets[i].opened && tap_set_queue(&vm->nets[i].tap, 0, true))
			fprintf(stderr, "kite: %s\n", err_msg());
}

void nets_stop(struct vm *vm)
{
	for (unsigned i = 0; vm->nets && i < vm->cfg->nnets; i++)
		iothread_group_stop(&vm->nets[i].io);
}

void nets_close(struct vm *vm)
{
	for (unsigned i = 0; vm->nets && i < vm->cfg->nnets; i++) {
		struct vm_net *n = &vm->nets[i];

		iothread_group_destroy(&n->io);
		if (n->opened)
			tap_close(&n->tap);
	}
	free(vm->nets);
	vm->nets = NULL;
}
