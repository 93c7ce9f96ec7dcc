/* SPDX-License-Identifier: Apache-2.0 */
/* What the two ends of a migration share (migrate.c, migrate_dst.c). */
#ifndef KITE_VMM_MIGRATE_INT_H
#define KITE_VMM_MIGRATE_INT_H

#include <stdint.h>

#include "vmm/migrate.h"

#define SEC_HDR		16
#define PAGE_META	16
#define BM_BYTES	(SNAP_CHUNK_PAGES / 8)
#define WHO		"migration"
/* How long one end waits for the other's answer. */
#define REPLY_TIMEOUT_MS	60000

/* A short message of `type`, with text for a FAIL. */
int migrate_send_msg(int fd, uint32_t type, const char *text);
/* Read one short message; `want` is the expected type. A FAIL carries the
 * peer's reason, which becomes ours. */
int migrate_read_msg(struct stream_in *in, uint32_t want, const char *what, int timeout_ms);
/* TCP_NODELAY: the hand-over is small messages each way. */
void migrate_no_delay(int fd);

#endif
