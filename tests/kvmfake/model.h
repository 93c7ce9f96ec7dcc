/* SPDX-License-Identifier: Apache-2.0 */
/* kvmfake's model of one VM (see fake.h); everything under fk.lock. */
#ifndef KITE_TESTS_KVMFAKE_MODEL_H
#define KITE_TESTS_KVMFAKE_MODEL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define FK_MAX_FDS	1024
#define FK_MAX_VCPUS	64
#define FK_MAX_SLOTS	32
#define FK_MAX_ROUTES	1024	/* gsi numbers below this */
#define FK_MAX_IRQFDS	256
#define FK_MAX_IOEVS	256
#define FK_MAX_MSRS	64
#define FK_RUN_SIZE	(3 * 4096)	/* kvm_run, the PIO page, the MMIO ring page */
#define FK_PIO_OFFSET	4096

enum fk_kind { FK_NONE, FK_SYS, FK_VM, FK_VCPU };

struct fk_msr {
	uint32_t index;
	uint64_t value;
};

/* An access of a vCPU's CPU, out (or about to go out) as its next exit. */
struct fk_req {
	uint64_t seq, done;	/* posted / completed */
	uint32_t reason;	/* KVM_EXIT_IO, KVM_EXIT_MMIO, or a special exit */
	uint64_t addr;
	unsigned len;
	bool write;
	uint64_t val;
};

struct fk_vcpu {
	int fd;
	unsigned id;
	struct kvm_run *run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_xsave xsave;
	struct fk_msr msrs[FK_MAX_MSRS];
	unsigned nmsrs;
	struct kvm_cpuid_entry2 cpuid[256];
	unsigned ncpuid;
	uint32_t tsc_khz;
	bool ran;		/* entered KVM_RUN at least once */
	bool checked;		/* its entry state passed the checks */
	uint64_t taken;		/* the guest request now out as an exit */
	struct fk_req req;	/* its CPU's current access */
	bool in_run;		/* inside KVM_RUN: "the CPU runs" */
	uint32_t vec_pending[256];	/* MSIs (and IPIs) for it not yet taken */
};

struct fk_slot {
	bool used;
	uint32_t flags;
	uint64_t gpa, size;
	uint8_t *host;
	uint64_t *dirty;	/* one bit a page, when logging */
};

struct fk_route {
	uint32_t type;		/* 0: none */
	uint32_t a, b;		/* irqchip: chip, pin; MSI: unused */
	uint64_t msi_addr;
	uint32_t msi_data;
};

struct fk_irqfd {
	int fd;			/* -1: free */
	uint32_t gsi;
	bool checked;		/* the irq thread looked at what fd is */
};

struct fk_ioev {
	bool used;
	uint64_t addr, datamatch;
	uint32_t len, flags;
	int fd;
	bool checked;
};

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any change the guest or KVM_RUN waits for */
	struct { enum fk_kind kind; unsigned id; } fds[FK_MAX_FDS];
	int vm_fd;
	bool irqchip, pit;
	uint64_t tss_addr, ident_addr;
	struct fk_vcpu vcpus[FK_MAX_VCPUS];
	unsigned nvcpus;
	struct fk_slot slots[FK_MAX_SLOTS];
	uint64_t manual_protect;	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags */
	struct fk_route routes[FK_MAX_ROUTES][2];	/* irqchip GSIs may have two */
	struct fk_irqfd irqfds[FK_MAX_IRQFDS];
	struct fk_ioev ioevs[FK_MAX_IOEVS];
	unsigned irqfd_gen;	/* bumped when the irqfd table changes */
	unsigned line_edges[24];
	bool line_level[24];
	struct kvm_clock_data clock;
	uint64_t clock_set_at_ns;	/* host CLOCK_MONOTONIC when clock was set */
	bool guest_started;
	bool dead;			/* kite closed vCPU 0 */
	bool guest_parked;		/* ... and the guest program stopped */
};

extern struct fake fk;

void fk_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* caps.c */
long fk_check_extension(long cap);
long fk_supported_cpuid(void *arg);
long fk_msr_list(void *arg, bool features);
long fk_feature_msrs(void *arg);
bool fk_msr_known(uint32_t index);
uint64_t fk_host_xcr0(void);

/* mem.c */
long fk_set_memory(void *arg);
long fk_get_dirty_log(void *arg);
long fk_clear_dirty_log(void *arg);
long fk_enable_cap(void *arg);
void fk_mark_dirty(uint64_t gpa, uint64_t len);
void fk_dirty_page(uint64_t gpa);	/* without fk.lock (emu.c) */
extern unsigned fk_logging;		/* slots logging: a hint, read without fk.lock */

/* irq.c */
void fk_irq_start(void);
long fk_set_routing(void *arg);
long fk_irqfd(void *arg);
long fk_ioeventfd(void *arg);
long fk_signal_msi(void *arg);
long fk_irq_line(void *arg);
void fk_deliver(unsigned dest, bool logical, unsigned vec);
bool fk_ioev_kick(uint64_t addr, unsigned len, uint64_t val, bool pio);
long fk_clock(unsigned long req, void *arg);
long fk_chip_state(unsigned long req, void *arg);

/* run.c */
void fk_guest_start(void);
/* An access by vCPU cpu's CPU: an exit of that vCPU, or an ioeventfd kick. */
uint64_t fk_access(unsigned cpu, uint32_t reason, uint64_t addr, unsigned len, bool write,
		   uint64_t val);
void fk_vcpu0_gone(void);
/* vCPU cpu's CPUID entry (as g_cpuid), and its registers as kite set them */
bool fk_cpuid(unsigned cpu, uint32_t leaf, uint32_t sub, uint32_t out[4]);
void fk_vcpu_state(unsigned cpu, struct kvm_regs *regs, struct kvm_sregs *sregs);
void fk_block_signals(void);

/* vcpu.c */
void fk_vcpu_reset(struct fk_vcpu *v);
/* Set MSR index of v as KVM_SET_MSRS does; false if KVM would refuse it. */
bool fk_msr_put(struct fk_vcpu *v, uint32_t index, uint64_t value);
long fk_vcpu_ioctl(struct fk_vcpu *v, unsigned long req, void *arg);
long fk_run(struct fk_vcpu *v);

/* native.c: the native CPU (ncpu.h), when KVMFAKE_GUEST=native */
void fk_native_poke(unsigned cpu);	/* an interrupt may be pending: look (lock held) */
void fk_native_stop(unsigned cpu);	/* it left KVM_RUN: wait until its CPU stopped */
bool fk_native_active(void);

/* entry.c: the VM-entry checks; NULL if the state may be entered */
const char *fk_entry_problem(const struct fk_vcpu *v);

#endif
