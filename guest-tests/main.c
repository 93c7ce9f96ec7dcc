// SPDX-License-Identifier: Apache-2.0
/*
 * kite test guest: ring-0 start, then the program in ring 3.
 *
 * Command line (space separated key=value words, unknown keys ignored):
 *   mode=test|demo|fault|triple|idle
 *                         run the test cases (default), show what was found,
 *                         triple-fault on purpose (the VMM must report it), halt
 *                         until stopped from outside (idle), or
 *                         fault on purpose from ring 3 (checks the exception
 *                         report and exit status 3)
 *   mode=bench|blk-writer|blk-verify
 *                         disk benchmark (bench.c: bench_rw, bench_qd,
 *                         bench_queues, bench_secs, bench_iface); the two
 *                         halves of the data-safety test (blk_safety.c:
 *                         blk_run, writer_qd, durable)
 *   mode=net-echo, or net=echo
 *                         answer ARP, ping and UDP echo on every virtio-net
 *                         NIC until a "stop" datagram (net_echo.c: ip=,
 *                         net_wait, net_ping, ...); mode=demo shows the
 *                         NICs and pings net_ping from them
 *   mode=net-blast        net-echo, plus guest transmit on command from
 *                         UDP port 9 ("blast SECS SIZE"; net_blast.c)
 *   mode=hostile          attack every virtio device but the last virtio-blk
 *                         disk for hostile_secs (seed=N), then check them all
 *                         (hostile.c)
 *   mode=migrate-work     a workload to live-migrate: RAM, disks, UDP echoes
 *                         and the clock checked until work_secs pass
 *                         (migrate_work.c, migrate_io.c)
 *   exit=debug|poweroff|reset|reset-kbd
 *                         how to end (test default: debug, demo default: poweroff)
 *   mem=SIZE              memmap: expected RAM (bytes, K/M/G suffix)
 *   cpus=N                cpus: expected enabled processors in the MADT
 *   expect_boot=pvh|linux64|multiboot
 *   expect_xsdt=0         acpi: accept an RSDP revision 0 with only an RSDT
 *   cpuid=host            cpus: CPUID answers for the host, not the VMM (a
 *                         trap-and-emulate CPU): its APIC id is not compared
 *   cmdline_crc=XXXXXXXX  last word: CRC-32 of the text before " cmdline_crc="
 *   blk=1, blk_wait=irq|poll, event_idx=0|1, indirect=0|1, layout=split|merged,
 *   blk_serial=S, blk_ro=1, hostile=1
 *                         the virtio-blk cases (tests_blk.c), run when a
 *                         virtio-blk device is found or blk=1 asks for one
 *   scsi=1, scsi_wait=irq|poll, scsi_targets=N, scsi_serial=P, scsi_ro=1,
 *   scsi_strict=1         the virtio-scsi cases (tests_scsi*.c), likewise;
 *                         event_idx, indirect, layout and hostile apply too
 */
#include "acpi.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "modes.h"
#include "pci.h"
#include "power.h"
#include "smp.h"
#include "tests.h"
#include "time.h"

static void demo(void)
{
	u64 ram = bootinfo_ram_total();

	printf("== kite test guest: what this machine looks like ==\n");
	printf("boot protocol: %s (boot info at 0x%lx)\n", boot_proto_name(boot.proto), boot.info_addr);
	if (boot.error)
		printf("  boot info problem: %s\n", boot.error);
	printf("command line: \"");
	console_write(boot.cmdline, strlen(boot.cmdline));
	printf("\"\n");

	printf("cpus: %u enabled in the MADT, %u online\n", acpi.ncpus, smp.online);
	for (unsigned i = 0; i < smp.ncpus; i++)
		printf("  cpu %u: APIC id %u%s%s\n", i, smp.cpus[i].apic_id, i ? "" : " (BSP)",
		       smp.cpus[i].online ? ", online" : ", did not start");
	if (smp.error[0])
		printf("  problem: %s\n", smp.error);

	printf("memory map: %u entries\n", boot.nmap);
	print_memmap("  ");
	printf("total RAM: %lu MiB + %lu KiB (%lu bytes)\n", ram >> 20, (ram >> 10) & 1023, ram);
	for (unsigned i = 0; i < boot.nmods; i++)
		printf("  module %u: 0x%lx, %lu bytes\n", i, boot.mods[i].addr, boot.mods[i].size);

	if (acpi.found) {
		printf("acpi: RSDP rev %u at 0x%lx, OEM '%s', %s at 0x%lx\n", acpi.rsdp_rev,
		       acpi.rsdp_addr, acpi.oem, acpi.xsdt ? "XSDT" : "RSDT", acpi.root_addr);
		for (unsigned i = 0; i < acpi.ntables; i++)
			printf("  %s at 0x%08lx %6u bytes rev %u OEM '%s'\n", acpi.tables[i].sig,
			       acpi.tables[i].addr, acpi.tables[i].len, acpi.tables[i].rev,
			       acpi.tables[i].oem);
		printf("  LAPIC 0x%lx, IOAPIC 0x%lx, PM1a_CNT 0x%x, PM timer 0x%x, \\_S5_ %s %u\n",
		       acpi.lapic_addr, acpi.ioapic_addr, acpi.pm1a_cnt, acpi.pm_tmr,
		       acpi.s5 ? "SLP_TYP" : "missing", acpi.s5_typa);
		if (acpi.mcfg)
			printf("  ECAM 0x%lx, buses %u-%u\n", acpi.ecam_base, acpi.ecam_bus_start,
			       acpi.ecam_bus_end);
	}
	for (unsigned i = 0; i < MIN(acpi.nerrors, ACPI_MAX_ERRORS); i++)
		printf("  acpi problem: %s\n", acpi.errors[i]);

	printf("pci: %u functions\n", pci.ndevs);
	for (unsigned i = 0; i < pci.ndevs; i++) {
		const struct pci_dev *d = &pci.devs[i];

		printf("  %02x:%02x.%x %04x:%04x class %02x.%02x.%02x %s\n", d->bus, d->dev, d->fn,
		       d->vendor, d->device, d->class, d->subclass, d->progif,
		       pci_class_name(d->class, d->subclass));
	}
	printf("tsc: %lu MHz (%s)\n", tsc_hz / 1000000,
	       tsc_calibrated ? "measured against the ACPI PM timer" : "guessed: no PM timer");
	demo_disk();
	demo_net();
}

/* Ring 3 from here on; ring 0 only serves syscalls and traps. */
static long guest_main(void *unused)
{
	char mode[16] = "test", how[16];
	enum exit_method exit;
	bool bad_exit = false;

	(void)unused;
	bootinfo_parse();
	cmdline_get("mode", mode, sizeof(mode));
	if (cmdline_is("net", "echo"))	/* the spelling of mode=net-echo */
		snprintf(mode, sizeof(mode), "net-echo");
	exit = strcmp(mode, "demo") ? EXIT_DEBUG : EXIT_POWEROFF;
	if (cmdline_get("exit", how, sizeof(how)) && !exit_method_parse(how, &exit))
		bad_exit = true;
	printf("kite test guest: mode %s, booted via %s, exit by %s\n", mode,
	       boot_proto_name(boot.proto), exit_method_name(exit));

	acpi_init(boot.rsdp);
	time_init();
	pci_scan();
	smp_init();

	if (bad_exit) {
		printf("FAIL exit: unknown exit=%s (debug, poweroff, reset, reset-kbd)\n", how);
		guest_finish(EXIT_DEBUG, 1);
	}
	if (!strcmp(mode, "demo")) {
		demo();
		guest_finish(exit, 0);
	}
	if (!strcmp(mode, "test"))
		guest_finish(exit, tests_run() ? 1 : 0);
	if (!strcmp(mode, "bench"))
		guest_finish(exit, bench_run() ? 0 : 1);
	if (!strcmp(mode, "blk-writer")) {
		blk_writer();		/* returns only on failure */
		guest_finish(exit, 1);
	}
	if (!strcmp(mode, "blk-verify"))
		guest_finish(exit, blk_verify() ? 0 : 1);
	if (!strcmp(mode, "net-echo"))
		guest_finish(exit, net_echo_run() ? 0 : 1);
	if (!strcmp(mode, "net-blast"))		/* net_blast.c */
		guest_finish(exit, net_blast_run() ? 0 : 1);
	if (!strcmp(mode, "hostile"))
		guest_finish(exit, hostile_run() ? 0 : 1);
	if (!strcmp(mode, "migrate-work"))	/* migrate_work.c */
		guest_finish(exit, migrate_work_run() ? 0 : 1);
	if (!strcmp(mode, "fault")) {
		printf("fault: reading 0x%lx (not mapped) from ring 3\n", MAPPED_LIMIT);
		(void)*(volatile u64 *)phys(MAPPED_LIMIT);
	}
	if (!strcmp(mode, "idle")) {
		/* For the VMM's signal handling: wait here until stopped. */
		printf("idle: halting; stop the VMM from outside\n");
		cpu_halt_forever();
	}
	if (!strcmp(mode, "triple")) {
		printf("triple: empty IDT, then #UD in ring 0\n");
		syscall3(SYS_TRIPLE_FAULT, 0, 0, 0);
	}
	printf("FAIL mode: unknown mode=%s (test, demo, fault, triple, idle, bench, blk-writer, "
	       "blk-verify, net-echo, net-blast, hostile, migrate-work)\n", mode);
	guest_finish(EXIT_DEBUG, 1);
}

/* Ring 0, boot CPU, from head.S: our GDT and page tables, interrupts off. */
void kmain(void)
{
	console_init();
	cpu_init(0);
	/* Mask both 8259s: nothing may interrupt us (a BIOS may have left
	 * them unmasked). Interrupts stay off anyway; this is belt and braces. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	guest_exit(run_user(guest_main, NULL));
}
