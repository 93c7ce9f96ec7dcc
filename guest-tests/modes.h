/* SPDX-License-Identifier: Apache-2.0 */
/* The modes beyond test and demo (main.c dispatches), one file each. */
#ifndef GUEST_MODES_H
#define GUEST_MODES_H

#include "guest.h"

/* bench.c, mode=bench: prints the BENCH line; false (after a FAIL line) if
 * the run could not be done. */
bool bench_run(void);

/* blk_safety.c, mode=blk-writer: returns only on failure (after a FAIL
 * line); otherwise writes until the VMM is killed. */
void blk_writer(void);
/* blk_safety.c, mode=blk-verify: false (after a FAIL line) if any block is
 * not what blk-writer left. */
bool blk_verify(void);

/* demo_disk.c: the disk part of mode=demo (the first blk and scsi disks). */
void demo_disk(void);

/* net_echo.c, mode=net-echo (net=echo): answers ARP, ping and UDP echo on
 * every virtio-net NIC until told to stop; false (after a FAIL line) if
 * the NICs could not be brought up. demo_net: the net part of mode=demo. */
bool net_echo_run(void);
void demo_net(void);

/* net_blast.c, mode=net-blast: net-echo's answers plus "blast SECS SIZE"
 * on the control port (tools/bench-net.sh's transmit test), until "stop";
 * false (after a FAIL line) if the NICs could not be brought up. */
bool net_blast_run(void);

/* hostile.c, mode=hostile: attacks every virtio device but one for
 * hostile_secs, then checks them all; false (after a FAIL line) if any
 * failed. */
bool hostile_run(void);

/* migrate_work.c, mode=migrate-work: memory, disk, network and clock
 * checks until work_secs pass (forever with 0); false (after FAIL lines)
 * if anything was found wrong. */
bool migrate_work_run(void);

#endif
