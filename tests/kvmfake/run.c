// SPDX-License-Identifier: Apache-2.0
/*
 * kvmfake: KVM_RUN, and the guest program's side of it. A CPU (the guest
 * program is vCPU 0's) posts one access at a time (its vCPU's req); that
 * vCPU's KVM_RUN hands it to kite
 * as an exit, and the next KVM_RUN completes it (a read takes its value
 * from kvm_run then), as api.rst says: "the kernel side will first finish
 * incomplete operations and then check for pending signals".
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"
#include "model.h"

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void complete(struct fk_vcpu *v)
{
	struct fk_req *q = &v->req;
	unsigned len = q->len;

	if (!v->taken || q->done >= v->taken)
		return;
	if (!q->write && len <= 8) {
		uint64_t val = 0;

		if (q->reason == KVM_EXIT_IO)
			memcpy(&val, (uint8_t *)v->run + v->run->io.data_offset, len);
		else if (q->reason == KVM_EXIT_MMIO)
			memcpy(&val, v->run->mmio.data, len);
		q->val = val;
	}
	q->done = v->taken;
	pthread_cond_broadcast(&fk.cond);
}

static void give_exit(struct fk_vcpu *v)
{
	struct kvm_run *run = v->run;
	const struct fk_req *q = &v->req;

	run->exit_reason = q->reason;
	if (q->reason == KVM_EXIT_IO) {
		run->io.direction = q->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = q->len;
		run->io.port = (uint16_t)q->addr;
		run->io.count = 1;
		run->io.data_offset = FK_PIO_OFFSET;
		memset((uint8_t *)run + FK_PIO_OFFSET, 0, 8);
		if (q->write)
			memcpy((uint8_t *)run + FK_PIO_OFFSET, &q->val, q->len);
	} else if (q->reason == KVM_EXIT_MMIO) {
		run->mmio.phys_addr = q->addr;
		run->mmio.len = q->len;
		run->mmio.is_write = q->write;
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (q->write)
			memcpy(run->mmio.data, &q->val, q->len);
	}
	v->taken = q->seq;
}

long fk_run(struct fk_vcpu *v)
{
	struct timespec ts;

	pthread_mutex_lock(&fk.lock);
	complete(v);
	v->ran = true;
	if (v->mp.mp_state == KVM_MP_STATE_RUNNABLE && !v->checked) {
		const char *p = fk_entry_problem(v);

		/* KVMFAKE_FAIL_ENTRY=1: as if the hardware refused the entry. */
		if (!p && v->id == 0 && getenv("KVMFAKE_FAIL_ENTRY"))
			p = "KVMFAKE_FAIL_ENTRY is set";

		v->checked = true;
		if (p) {
			fk_complain("vCPU %u: VM entry would fail: %s", v->id, p);
			v->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
			v->run->fail_entry.hardware_entry_failure_reason = 0x80000021;
			v->run->fail_entry.cpu = v->id;
			pthread_mutex_unlock(&fk.lock);
			return 0;
		}
	}
	if (v->id == 0 && !fk.guest_started) {
		fk.guest_started = true;
		pthread_cond_broadcast(&fk.cond);
	}
	v->in_run = true;
	pthread_cond_broadcast(&fk.cond);
	for (;;) {
		if (__atomic_load_n(&v->run->immediate_exit, __ATOMIC_SEQ_CST)) {
			v->in_run = false;
			fk_native_stop(v->id);
			pthread_mutex_unlock(&fk.lock);
			return -EINTR;
		}
		if (v->req.seq > v->taken) {
			give_exit(v);
			v->in_run = false;
			pthread_mutex_unlock(&fk.lock);
			return 0;
		}
		/* Kicks set immediate_exit before their signal: polled. */
		deadline_in(&ts, 5);
		pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
	}
}

/* ---- the guest program's side ---- */

/* Called with the lock held. Once kite has let go of vCPU 0, the guest
 * program stops for good, before kite unmaps the RAM it works in. */
static void stop_if_dead(void)
{
	if (!fk.dead)
		return;
	fk.guest_parked = true;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
	for (;;)
		pause();
}

/* kite closes vCPU 0 (close() in kvm.c, lock held): wait until the guest
 * program is parked; it sleeps 100 ms at most between accesses. */
void fk_vcpu0_gone(void)
{
	struct timespec ts;

	fk.dead = true;
	pthread_cond_broadcast(&fk.cond);
	for (unsigned i = 0; i < fk.nvcpus; i++)
		fk_native_poke(i);
	deadline_in(&ts, 3000);
	while (fk.guest_started && !fk.guest_parked)
		if (pthread_cond_timedwait(&fk.cond, &fk.lock, &ts) == ETIMEDOUT) {
			fk_complain("the guest program did not stop; RAM may go under it");
			break;
		}
}

uint64_t fk_access(unsigned cpu, uint32_t reason, uint64_t addr, unsigned len, bool write,
		   uint64_t val)
{
	struct fk_req *q = &fk.vcpus[cpu].req;
	uint64_t seq;

	if (len > 8)
		len = 8;
	if (len < 8)
		val &= (1ULL << (8 * len)) - 1;
	pthread_mutex_lock(&fk.lock);
	stop_if_dead();
	if (write && reason != KVM_EXIT_SHUTDOWN &&
	    fk_ioev_kick(addr, len, val, reason == KVM_EXIT_IO)) {
		pthread_mutex_unlock(&fk.lock);
		return 0;
	}
	seq = q->seq + 1;
	q->reason = reason;
	q->addr = addr;
	q->len = len;
	q->write = write;
	q->val = val;
	q->seq = seq;
	pthread_cond_broadcast(&fk.cond);
	while (q->done < seq) {
		pthread_cond_wait(&fk.cond, &fk.lock);
		stop_if_dead();
	}
	val = q->val;
	pthread_mutex_unlock(&fk.lock);
	return write ? 0 : val;
}

uint64_t g_pio(uint16_t port, unsigned len, bool write, uint64_t val)
{
	return fk_access(0, KVM_EXIT_IO, port, len, write, val);
}

uint64_t g_mmio(uint64_t gpa, unsigned len, bool write, uint64_t val)
{
	return fk_access(0, KVM_EXIT_MMIO, gpa, len, write, val);
}

void g_special_exit(uint32_t reason)
{
	fk_access(0, reason, 0, 0, true, 0);
}

void *g_ram(uint64_t gpa, size_t len)
{
	void *p = NULL;

	pthread_mutex_lock(&fk.lock);
	stop_if_dead();
	for (unsigned i = 0; i < FK_MAX_SLOTS; i++) {
		const struct fk_slot *s = &fk.slots[i];

		if (s->used && gpa >= s->gpa && len <= s->size && gpa - s->gpa <= s->size - len) {
			p = s->host + (gpa - s->gpa);
			break;
		}
	}
	pthread_mutex_unlock(&fk.lock);
	return p;
}

bool g_write(uint64_t gpa, const void *src, size_t len)
{
	void *p = g_ram(gpa, len);

	if (!p)
		return false;
	pthread_mutex_lock(&fk.lock);
	stop_if_dead();
	/* The guest writes its RAM only while its CPU runs: not while kite
	 * has vCPU 0 paused (a migration's last pass counts on that). */
	while (!fk.vcpus[0].in_run) {
		pthread_cond_wait(&fk.cond, &fk.lock);
		stop_if_dead();
	}
	memcpy(p, src, len);
	fk_mark_dirty(gpa, len);
	pthread_mutex_unlock(&fk.lock);
	return true;
}

uint64_t g_ram_size(void)
{
	uint64_t n;

	pthread_mutex_lock(&fk.lock);
	n = fk.slots[0].used && !fk.slots[0].gpa ? fk.slots[0].size : 0;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

bool g_wait_vector(unsigned vec, unsigned timeout_ms)
{
	struct timespec ts;
	bool got = false;

	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&fk.lock);
	stop_if_dead();
	while (vec < 256 && !fk.vcpus[0].vec_pending[vec]) {
		if (pthread_cond_timedwait(&fk.cond, &fk.lock, &ts) == ETIMEDOUT)
			break;
		stop_if_dead();
	}
	if (vec < 256 && fk.vcpus[0].vec_pending[vec]) {
		fk.vcpus[0].vec_pending[vec]--;
		got = true;
	}
	pthread_mutex_unlock(&fk.lock);
	return got;
}

unsigned g_irq_line_raised(unsigned irq)
{
	unsigned n;

	pthread_mutex_lock(&fk.lock);
	n = irq < 24 ? fk.line_edges[irq] : 0;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

uint64_t g_msr(uint32_t index)
{
	uint64_t v = 0;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < fk.vcpus[0].nmsrs; i++)
		if (fk.vcpus[0].msrs[i].index == index)
			v = fk.vcpus[0].msrs[i].value;
	pthread_mutex_unlock(&fk.lock);
	return v;
}

bool g_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	return fk_cpuid(0, leaf, sub, out);
}

bool fk_cpuid(unsigned cpu, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	bool found = false;

	pthread_mutex_lock(&fk.lock);
	for (unsigned i = 0; i < fk.vcpus[cpu].ncpuid && !found; i++) {
		const struct kvm_cpuid_entry2 *e = &fk.vcpus[cpu].cpuid[i];

		if (e->function == leaf &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == sub)) {
			out[0] = e->eax, out[1] = e->ebx, out[2] = e->ecx, out[3] = e->edx;
			found = true;
		}
	}
	pthread_mutex_unlock(&fk.lock);
	return found;
}

void g_boot_state(struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	fk_vcpu_state(0, regs, sregs);
}

void fk_vcpu_state(unsigned cpu, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	pthread_mutex_lock(&fk.lock);
	*regs = fk.vcpus[cpu].regs;
	*sregs = fk.vcpus[cpu].sregs;
	pthread_mutex_unlock(&fk.lock);
}

/* Kite's own threads take its signals: ours block them all. */
void fk_block_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

static void *guest_thread(void *arg)
{
	(void)arg;
	fk_block_signals();
	pthread_setname_np(pthread_self(), "kvmfake-guest");
	pthread_mutex_lock(&fk.lock);
	while (!fk.guest_started)
		pthread_cond_wait(&fk.cond, &fk.lock);
	pthread_mutex_unlock(&fk.lock);
	guest_main();
	for (;;)
		pause();
	return NULL;
}

void fk_guest_start(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, guest_thread, NULL) == 0)
		pthread_detach(t);
	else
		fk_complain("cannot start the guest program's thread");
}
