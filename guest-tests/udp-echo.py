#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A UDP echo peer for mode=migrate-work: sends every datagram back to
where it came from, until killed. Prints the port it bound to on stdout
(one line) so a script can start it on port 0 and read the choice.

    usage: udp-echo.py [HOST [PORT]]     (default 127.0.0.1, 0: any free)
"""
import socket
import sys


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    print(s.getsockname()[1], flush=True)
    while True:
        data, addr = s.recvfrom(65535)
        s.sendto(data, addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
