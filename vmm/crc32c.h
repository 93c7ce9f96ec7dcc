/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of
 * snapshot and migration stream sections. SSE4.2's crc32 instruction where
 * the CPU has it (several GB/s, so checksumming RAM costs little next to
 * writing it), a slicing-by-8 table otherwise; both give the same values.
 *
 * Incremental: crc = crc32c(0, a, n); crc = crc32c(crc, b, m) equals
 * crc32c(0, a||b, n + m). crc32c(0, "123456789", 9) == 0xe3069283.
 */
#ifndef KITE_VMM_CRC32C_H
#define KITE_VMM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable path alone (tests compare the two). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
