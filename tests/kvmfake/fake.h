/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmfake: a stand-in for /dev/kvm, preloaded into a real kite process
 * (LD_PRELOAD=build/kvmfake.so) on hosts without KVM. Everything of kite
 * runs for real (its threads, io_uring, seccomp filters, control socket,
 * devices, taps, disks) except the CPU: no guest code executes. Instead a
 * guest program written in C (guest.c) runs on a thread of its own and
 * reaches kite the way a CPU would: port and MMIO accesses become
 * KVM_EXIT_IO / KVM_EXIT_MMIO exits of vCPU 0 (or eventfd kicks, where kite
 * registered an ioeventfd), guest RAM is kite's own mapping, and
 * interrupts arrive through the irqfds and MSI routes kite set up.
 *
 * The KVM half (kvm.c) checks every ioctl's arguments as the KVM API
 * document (Documentation/virt/kvm/api.rst) and the VM-entry checks of the
 * Intel SDM (vol. 3, 27.3.1) say a real KVM would, and fails them the same
 * way, naming the reason on stderr ("kvmfake: ..."): a state real hardware
 * would refuse is a KVM_EXIT_FAIL_ENTRY here too.
 *
 * What it cannot show: anything that needs the guest's instructions to run
 * (a kernel booting). guest-tests/ and the QEMU runs cover that side; where
 * there is no KVM, KVMFAKE_GUEST=native runs the test guest's own code in
 * place of the guest program (ncpu.h).
 */
#ifndef KITE_TESTS_KVMFAKE_FAKE_H
#define KITE_TESTS_KVMFAKE_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- what kvm.c offers the guest program ---- */

/* A port or MMIO access by "the CPU": an exit of vCPU 0, or an ioeventfd
 * kick when one matches a write. Reads return the value kite supplied.
 * When the VM is going away these return all-ones and never come back if
 * kite has exited. */
uint64_t g_pio(uint16_t port, unsigned len, bool write, uint64_t val);
uint64_t g_mmio(uint64_t gpa, unsigned len, bool write, uint64_t val);

/* Guest RAM: a pointer to gpa..gpa+len, or NULL if that is not all RAM.
 * Writes through g_write mark KVM's dirty log as the CPU's would. */
void *g_ram(uint64_t gpa, size_t len);
bool g_write(uint64_t gpa, const void *src, size_t len);
uint64_t g_ram_size(void);		/* bytes of RAM in slot 0 from gpa 0 */

/* Interrupts: wait until MSI vector `vec` (0x20..0xff) was raised (through
 * an irqfd and its route, or KVM_SIGNAL_MSI) and consume one; false after
 * timeout_ms. */
bool g_wait_vector(unsigned vec, unsigned timeout_ms);
unsigned g_irq_line_raised(unsigned irq);	/* KVM_IRQ_LINE 0->1 edges seen */

/* A special exit of vCPU 0 instead of an access (KVM_EXIT_SHUTDOWN, ...). */
void g_special_exit(uint32_t reason);

/* The initial state KVM would enter vCPU 0 with (for checks of the boot
 * protocol): copies of the last KVM_SET_REGS / KVM_SET_SREGS. */
struct kvm_regs;
struct kvm_sregs;
void g_boot_state(struct kvm_regs *regs, struct kvm_sregs *sregs);

/* vCPU 0's MSR (0 if never set) and CPUID entry, as kite set them. */
uint64_t g_msr(uint32_t index);
bool g_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]);

/* The guest program: runs once vCPU 0 first enters KVM_RUN. */
void guest_main(void);
/* KVMFAKE_GUEST=native: run the guest image kite loaded instead (native.c). */
void native_main(void);

#endif
