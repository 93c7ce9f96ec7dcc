/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mode=migrate-work, shared by its two files: migrate_work.c (memory,
 * clock, reports) and migrate_io.c (disks and network).
 */
#ifndef GUEST_MIGRATE_WORK_H
#define GUEST_MIGRATE_WORK_H

#include "guest.h"

/* The run's random mw_nonce: in every stamp, so nothing of an earlier run passes. */
extern u64 mw_nonce;

/* Count an error and print it as "FAIL migrate-work: ..." (the first few). */
void mw_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A 4 KiB stamp of (id, gen): see migrate_work.c. stamp_ok says why not in why. */
void mw_stamp(u64 *w, u64 id, u64 gen);
bool mw_stamp_ok(const volatile u64 *w, u64 id, u64 gen, char *why, size_t len);

/* Counters one CPU writes and another reads. */
u64 mw_ld(const u64 *p);
void mw_st(u64 *p, u64 v);

/* migrate_io.c, all on CPU 0: find and start the disks and the NIC (the
 * lines say what was found); one step of each (never waits); totals. */
void io_setup(void);
void io_step(u64 now_ns);
void io_counts(u64 *blk_ok, u64 *scsi_ok, u64 *net_sent, u64 *net_ok);

#endif
