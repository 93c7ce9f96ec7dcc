// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: interrupts and eventfds. GSI routing (api.rst 4.52), irqfds
 * (4.75), ioeventfds (4.59), KVM_SIGNAL_MSI (4.71), KVM_IRQ_LINE (4.25);
 * the clock and irqchip state calls of a migration ride along here.
 *
 * A thread of this file's own (started with the VM, so no seccomp filter
 * of kite's applies to it) polls the irqfds and turns each signal into the
 * MSI vector or IOAPIC pin its GSI is routed to. It works on dups of kite's
 * eventfds, made while the assignment holds, so an fd number kite closes
 * and reuses is never read from here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "model.h"
#include "ncpu.h"

#define MAX_ROUTES_API	4096	/* KVM_MAX_IRQ_ROUTES */
#define DUP_BASE	900	/* dups live above kite's usual fds */

static int own_dup(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, DUP_BASE);
}

/* Is fd an eventfd? Asked only from the fake's own threads. */
static bool is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[eventfd]");
}

/* A fixed interrupt to APIC id dest (a vCPU's id; 0xff: all of them), or in
 * logical mode to the vCPUs whose bit is set (flat model, LDR 1 << id). */
void fk_deliver(unsigned dest, bool logical, unsigned vec)
{
	for (unsigned i = 0; i < fk.nvcpus; i++) {
		struct fk_vcpu *v = &fk.vcpus[i];

		if (logical ? (i < 8 && (dest >> i) & 1) : (dest == 0xff || dest == v->id)) {
			v->vec_pending[vec]++;
			fk_native_poke(i);
		}
	}
	pthread_cond_broadcast(&fk.cond);
}

static void raise_msi(uint64_t addr, uint32_t data)
{
	/* Outside the LAPIC's window: a guest that programmed it so (the
	 * hostile mode does) gets nothing here; KVM would decode it anyway. */
	if ((addr & 0xfff00000) != 0xfee00000)
		return;
	fk_deliver((unsigned)(addr >> 12) & 0xff, (addr >> 2) & 1, data & 0xff);
}

static void raise_gsi(uint32_t gsi)
{
	bool any = false;

	if (gsi >= FK_MAX_ROUTES)
		return;
	for (unsigned k = 0; k < 2; k++) {
		const struct fk_route *r = &fk.routes[gsi][k];

		if (r->type == KVM_IRQ_ROUTING_MSI) {
			raise_msi(r->msi_addr, r->msi_data);
			any = true;
		} else if (r->type == KVM_IRQ_ROUTING_IRQCHIP && r->a == KVM_IRQCHIP_IOAPIC &&
			   r->b < 24) {
			fk.line_edges[r->b]++;
			if (fk_native_active())
				nc_ioapic_line(r->b, true);
			any = true;
		}
	}
	if (!any)
		fk_complain("irqfd on GSI %u, which has no route: the interrupt is lost", gsi);
	pthread_cond_broadcast(&fk.cond);
}

/* ---- the irq thread ---- */

static int dups[FK_MAX_IRQFDS];

static void *irq_thread(void *arg)
{
	struct pollfd p[FK_MAX_IRQFDS];
	uint32_t gsi[FK_MAX_IRQFDS];

	(void)arg;
	fk_block_signals();
	pthread_setname_np(pthread_self(), "kvmfake-irq");
	for (;;) {
		unsigned n = 0;

		pthread_mutex_lock(&fk.lock);
		for (unsigned i = 0; i < FK_MAX_IRQFDS; i++) {
			struct fk_irqfd *f = &fk.irqfds[i];

			if (f->fd < 0) {
				if (dups[i] >= 0)
					close(dups[i]);
				dups[i] = -1;
				continue;
			}
			if (!f->checked) {
				/* A new assignment, maybe in a freed slot. */
				f->checked = true;
				if (dups[i] >= 0)
					close(dups[i]);
				if (!is_eventfd(f->fd))
					fk_complain("KVM_IRQFD: fd %d is not an eventfd", f->fd);
				dups[i] = own_dup(f->fd);
			}
			if (dups[i] >= 0) {
				p[n] = (struct pollfd){ .fd = dups[i], .events = POLLIN };
				gsi[n++] = f->gsi;
			}
		}
		for (unsigned i = 0; i < FK_MAX_IOEVS; i++) {
			struct fk_ioev *e = &fk.ioevs[i];

			if (e->used && !e->checked) {
				e->checked = true;
				if (!is_eventfd(e->fd))
					fk_complain("KVM_IOEVENTFD: fd %d is not an eventfd", e->fd);
			}
		}
		pthread_mutex_unlock(&fk.lock);
		if (poll(p, n, 5) <= 0)
			continue;
		pthread_mutex_lock(&fk.lock);
		for (unsigned i = 0; i < n; i++) {
			uint64_t v;

			if ((p[i].revents & POLLIN) && read(p[i].fd, &v, 8) == 8)
				raise_gsi(gsi[i]);
		}
		pthread_mutex_unlock(&fk.lock);
	}
	return NULL;
}

void fk_irq_start(void)
{
	pthread_t t;

	for (unsigned i = 0; i < FK_MAX_IRQFDS; i++) {
		fk.irqfds[i].fd = -1;
		dups[i] = -1;
	}
	if (pthread_create(&t, NULL, irq_thread, NULL) == 0)
		pthread_detach(t);
	else
		fk_complain("cannot start the irq thread");
}

/* ---- routing ---- */

long fk_set_routing(void *arg)
{
	const struct kvm_irq_routing *t = arg;
	static struct fk_route next[FK_MAX_ROUTES][2];

	if (t->flags || t->nr > MAX_ROUTES_API) {
		fk_complain("KVM_SET_GSI_ROUTING: flags 0x%x, %u routes", t->flags, t->nr);
		return -EINVAL;
	}
	memset(next, 0, sizeof(next));
	for (unsigned i = 0; i < t->nr; i++) {
		const struct kvm_irq_routing_entry *e = &t->entries[i];
		struct fk_route *r;

		if (e->gsi >= FK_MAX_ROUTES || e->flags) {
			fk_complain("KVM_SET_GSI_ROUTING: entry %u: gsi %u, flags 0x%x", i, e->gsi,
				    e->flags);
			return -EINVAL;
		}
		r = next[e->gsi];
		if (r[0].type == KVM_IRQ_ROUTING_MSI || (r[0].type && e->type == KVM_IRQ_ROUTING_MSI) ||
		    r[1].type || (r[0].type && r[0].a == e->u.irqchip.irqchip)) {
			fk_complain("KVM_SET_GSI_ROUTING: gsi %u routed twice (an MSI route must "
				    "be a GSI's only one; an irqchip at most once a GSI)", e->gsi);
			return -EINVAL;
		}
		if (r[0].type)
			r++;
		if (e->type == KVM_IRQ_ROUTING_IRQCHIP) {
			unsigned chip = e->u.irqchip.irqchip, pin = e->u.irqchip.pin;

			if (chip > KVM_IRQCHIP_IOAPIC || pin >= (chip == KVM_IRQCHIP_IOAPIC ? 24u : 8u)) {
				fk_complain("KVM_SET_GSI_ROUTING: gsi %u: irqchip %u pin %u", e->gsi,
					    chip, pin);
				return -EINVAL;
			}
			*r = (struct fk_route){ .type = e->type, .a = chip, .b = pin };
		} else if (e->type == KVM_IRQ_ROUTING_MSI) {
			*r = (struct fk_route){ .type = e->type,
				.msi_addr = (uint64_t)e->u.msi.address_hi << 32 | e->u.msi.address_lo,
				.msi_data = e->u.msi.data };
		} else {
			fk_complain("KVM_SET_GSI_ROUTING: gsi %u: route type %u", e->gsi, e->type);
			return -EINVAL;
		}
	}
	memcpy(fk.routes, next, sizeof(next));
	return 0;
}

long fk_irqfd(void *arg)
{
	const struct kvm_irqfd *a = arg;
	struct fk_irqfd *free_slot = NULL;

	if (a->flags & ~(uint32_t)(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE)) {
		fk_complain("KVM_IRQFD: flags 0x%x", a->flags);
		return -EINVAL;
	}
	if (a->flags & KVM_IRQFD_FLAG_RESAMPLE) {
		fk_complain("KVM_IRQFD: resample is not modelled here");
		return -EINVAL;
	}
	for (unsigned i = 0; i < FK_MAX_IRQFDS; i++) {
		struct fk_irqfd *f = &fk.irqfds[i];

		if (f->fd < 0) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->fd != (int)a->fd)
			continue;
		if (a->flags & KVM_IRQFD_FLAG_DEASSIGN) {
			if (f->gsi == a->gsi)
				f->fd = -1;
			return 0;
		}
		fk_complain("KVM_IRQFD: fd %u is already an irqfd (gsi %u)", a->fd, f->gsi);
		return -EBUSY;
	}
	if (a->flags & KVM_IRQFD_FLAG_DEASSIGN)
		return 0;	/* KVM does not mind */
	if (!free_slot || a->gsi >= FK_MAX_ROUTES)
		return -ENOSPC;
	*free_slot = (struct fk_irqfd){ .fd = (int)a->fd, .gsi = a->gsi };
	return 0;
}

long fk_ioeventfd(void *arg)
{
	const struct kvm_ioeventfd *a = arg;
	uint32_t known = KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_PIO |
			 KVM_IOEVENTFD_FLAG_DEASSIGN;
	bool dm = a->flags & KVM_IOEVENTFD_FLAG_DATAMATCH;
	uint32_t kind = a->flags & (KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH);
	struct fk_ioev *free_slot = NULL;

	if ((a->flags & ~known) || (a->len != 0 && a->len != 1 && a->len != 2 && a->len != 4 &&
				    a->len != 8) || (!a->len && dm) || a->addr + a->len < a->addr) {
		fk_complain("KVM_IOEVENTFD: addr 0x%llx, len %u, flags 0x%x",
			    (unsigned long long)a->addr, a->len, a->flags);
		return -EINVAL;
	}
	for (unsigned i = 0; i < FK_MAX_IOEVS; i++) {
		struct fk_ioev *e = &fk.ioevs[i];
		bool same;

		if (!e->used) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		same = e->addr == a->addr && e->len == a->len &&
		       (e->flags & (KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH)) == kind &&
		       (!dm || e->datamatch == a->datamatch);
		if (!same)
			continue;
		if (a->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
			if (e->fd != a->fd)
				continue;
			e->used = false;
			return 0;
		}
		fk_complain("KVM_IOEVENTFD: 0x%llx/%u is taken", (unsigned long long)a->addr, a->len);
		return -EEXIST;
	}
	if (a->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
		fk_complain("KVM_IOEVENTFD: deassigning 0x%llx/%u, which is not assigned",
			    (unsigned long long)a->addr, a->len);
		return -ENOENT;
	}
	if (!free_slot)
		return -ENOSPC;
	*free_slot = (struct fk_ioev){ .used = true, .addr = a->addr, .len = a->len,
				       .flags = a->flags, .datamatch = a->datamatch, .fd = a->fd };
	return 0;
}

/* A guest write: an ioeventfd's kick instead of an exit, if one matches.
 * Called from the guest program's thread, under the lock. */
bool fk_ioev_kick(uint64_t addr, unsigned len, uint64_t val, bool pio)
{
	static int kick_dups[FK_MAX_IOEVS] = { [0 ... FK_MAX_IOEVS - 1] = -1 };
	static int dup_of[FK_MAX_IOEVS];

	for (unsigned i = 0; i < FK_MAX_IOEVS; i++) {
		const struct fk_ioev *e = &fk.ioevs[i];
		uint64_t one = 1;

		if (!e->used || e->addr != addr || !!(e->flags & KVM_IOEVENTFD_FLAG_PIO) != pio ||
		    (e->len && e->len != len))
			continue;
		if ((e->flags & KVM_IOEVENTFD_FLAG_DATAMATCH) &&
		    (val & (len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1)) != e->datamatch)
			continue;
		if (kick_dups[i] < 0 || dup_of[i] != e->fd) {
			if (kick_dups[i] >= 0)
				close(kick_dups[i]);
			kick_dups[i] = own_dup(e->fd);
			dup_of[i] = e->fd;
		}
		if (kick_dups[i] < 0 || write(kick_dups[i], &one, 8) != 8)
			fk_complain("ioeventfd at 0x%llx: cannot signal fd %d",
				    (unsigned long long)addr, e->fd);
		return true;
	}
	return false;
}

long fk_signal_msi(void *arg)
{
	const struct kvm_msi *m = arg;

	if (m->flags) {
		fk_complain("KVM_SIGNAL_MSI: flags 0x%x", m->flags);
		return -EINVAL;
	}
	raise_msi((uint64_t)m->address_hi << 32 | m->address_lo, m->data);
	return 1;
}

long fk_irq_line(void *arg)
{
	const struct kvm_irq_level *l = arg;
	bool rising;

	if (!fk.irqchip || l->irq >= 24) {
		fk_complain("KVM_IRQ_LINE: irq %u%s", l->irq, fk.irqchip ? "" : " without an irqchip");
		return fk.irqchip ? -EINVAL : -ENXIO;
	}
	rising = l->level && !fk.line_level[l->irq];

	if (rising)
		fk.line_edges[l->irq]++;
	fk.line_level[l->irq] = l->level;
	if (fk_native_active())
		nc_ioapic_line(l->irq, rising);
	pthread_cond_broadcast(&fk.cond);
	return 0;
}

/* ---- clock and chip state ---- */

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

long fk_clock(unsigned long req, void *arg)
{
	struct kvm_clock_data *c = arg;
	uint32_t valid = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;

	if (req == KVM_GET_CLOCK) {
		memset(c, 0, sizeof(*c));
		c->clock = fk.clock.clock + (now_ns(CLOCK_MONOTONIC) - fk.clock_set_at_ns);
		c->flags = valid;
		c->realtime = now_ns(CLOCK_REALTIME);
		c->host_tsc = __rdtsc();
		return 0;
	}
	if (c->flags & ~valid) {
		fk_complain("KVM_SET_CLOCK: flags 0x%x", c->flags);
		return -EINVAL;
	}
	fk.clock.clock = c->clock;
	if (c->flags & KVM_CLOCK_REALTIME) {
		uint64_t rt = now_ns(CLOCK_REALTIME);

		/* KVM adds the real time that passed since `realtime`. */
		if (rt > c->realtime)
			fk.clock.clock += rt - c->realtime;
	}
	fk.clock_set_at_ns = now_ns(CLOCK_MONOTONIC);
	return 0;
}

long fk_chip_state(unsigned long req, void *arg)
{
	static struct kvm_irqchip chips[3];
	static struct kvm_pit_state2 pit;

	if (req == KVM_GET_PIT2 || req == KVM_SET_PIT2) {
		if (!fk.pit)
			return -ENXIO;
		if (req == KVM_GET_PIT2)
			memcpy(arg, &pit, sizeof(pit));
		else
			memcpy(&pit, arg, sizeof(pit));
		return 0;
	}
	struct kvm_irqchip *c = arg;

	if (!fk.irqchip)
		return -ENXIO;
	if (c->chip_id > KVM_IRQCHIP_IOAPIC) {
		fk_complain("%s: chip %u", req == KVM_GET_IRQCHIP ? "KVM_GET_IRQCHIP" :
			    "KVM_SET_IRQCHIP", c->chip_id);
		return -EINVAL;
	}
	if (req == KVM_GET_IRQCHIP) {
		uint32_t id = c->chip_id;

		memcpy(c, &chips[id], sizeof(*c));
		c->chip_id = id;
	} else {
		memcpy(&chips[c->chip_id], c, sizeof(*c));
	}
	return 0;
}
