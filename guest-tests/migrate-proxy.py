#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TCP proxy between a migration source and its destination that can
spoil the stream, for guest-tests/migrate.sh.

    usage: migrate-proxy.py LISTEN_PORT TARGET_PORT MODE [ARG]

Listens on 127.0.0.1:LISTEN_PORT for one connection (the source), then
connects to 127.0.0.1:TARGET_PORT (the destination) and forwards both ways.
MODE says what happens to the source-to-destination bytes:

    pass                  nothing: a plain relay
    cut K                 after K bytes, close both connections
    truncate K            after K bytes, end the stream to the destination
                          (shutdown for writing); the source's further
                          bytes are read and dropped
    corrupt OFF[,OFF...]  flip every bit of the byte at each offset
    slow BYTES_PER_SEC    forward no faster than that (for cancel tests)

Prints "listening" once the port is open, and at the end one line: the
bytes forwarded each way and what was done. Exits when either side closes.
"""
import socket
import sys
import threading
import time


def relay_down(dst, src, stats):
    """Destination to source (acknowledgements), untouched."""
    try:
        while True:
            b = dst.recv(65536)
            if not b:
                break
            src.sendall(b)
            stats["down"] += len(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    if len(sys.argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    listen_port, target_port, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    limit = int(arg) if mode in ("cut", "truncate", "slow") else 0
    flips = sorted(int(x) for x in arg.split(",")) if mode == "corrupt" else []
    if mode not in ("pass", "cut", "truncate", "corrupt", "slow"):
        print("migrate-proxy: unknown mode %r" % mode, file=sys.stderr)
        return 2

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(1)
    print("listening", flush=True)
    src, _ = ls.accept()
    ls.close()
    dst = socket.create_connection(("127.0.0.1", target_port))
    stats = {"up": 0, "down": 0}
    done = "relayed to the end"
    t = threading.Thread(target=relay_down, args=(dst, src, stats), daemon=True)
    t.start()
    start = time.monotonic()
    try:
        while True:
            b = src.recv(65536 if mode != "slow" else max(1, min(65536, limit // 20)))
            if not b:
                dst.shutdown(socket.SHUT_WR)
                break
            at = stats["up"]
            if mode in ("cut", "truncate") and at + len(b) >= limit:
                dst.sendall(b[:limit - at])
                stats["up"] = limit
                if mode == "cut":
                    done = "cut after %d bytes" % limit
                    break
                dst.shutdown(socket.SHUT_WR)
                done = "truncated after %d bytes" % limit
                while src.recv(65536):
                    pass
                break
            if flips:
                ba = bytearray(b)
                while flips and flips[0] < at + len(b):
                    off = flips.pop(0)
                    if off >= at:
                        ba[off - at] ^= 0xff
                b = bytes(ba)
                done = "corrupted"
            dst.sendall(b)
            stats["up"] += len(b)
            if mode == "slow":
                ahead = stats["up"] / limit - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError as e:
        done += " (then: %s)" % e.strerror
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
    print("migrate-proxy: %d bytes up, %d down: %s" % (stats["up"], stats["down"], done),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
