#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check, from the host, the blocks the test guest's blk-writer left on an image.

    usage: blk-safety-check.py IMAGE RUN DURABLE

RUN is the writer's blk_run (hex), DURABLE the last "durable N" it printed:
blocks 0 to DURABLE-1 must each be intact. Block k (4 KiB at 4096 * k):
"KITEBLK1", u64 run, u64 k, filler, and at byte 4092 the CRC-32 (zlib) of
bytes 0-4091, integers little-endian (guest-tests/blk_safety.c writes them).
This reader shares no code with the guest's own check (mode=blk-verify).
Prints one line; exit status 0 if every block is intact, 1 if not.
"""
import struct
import sys
import zlib

BLOCK = 4096
MAGIC = b"KITEBLK1"


def problem(block, run, k):
    """None if block is block k of run, else what is wrong with it."""
    if block[:8] != MAGIC:
        return "no magic: never written"
    got_run, got_k = struct.unpack_from("<QQ", block, 8)
    if got_run != run:
        return "holds run %x, not %x" % (got_run, run)
    if got_k != k:
        return "holds block %d" % got_k
    stored, = struct.unpack_from("<I", block, BLOCK - 4)
    if stored != zlib.crc32(block[:BLOCK - 4]):
        return "CRC-32 mismatch: torn or corrupt"
    return None


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    path, run, durable = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3])
    bad, first, beyond = 0, None, 0
    with open(path, "rb") as f:
        for k in range(durable):
            block = f.read(BLOCK)
            why = "the image ends here" if len(block) < BLOCK else problem(block, run, k)
            if why:
                bad += 1
                first = first or "block %d: %s" % (k, why)
        # Not required, only told: writes that completed (or were still in
        # flight) after the last FLUSH and reached the image anyway.
        while True:
            block = f.read(BLOCK)
            if len(block) < BLOCK or problem(block, run, durable + beyond):
                break
            beyond += 1
    if bad:
        print("host check: FAIL: %d of the %d blocks below durable=%d are wrong; first: %s"
              % (bad, durable, durable, first))
        return 1
    print("host check: all %d blocks below durable=%d intact (run %x); %d more intact after them"
          % (durable, durable, run, beyond))
    return 0


if __name__ == "__main__":
    sys.exit(main())
