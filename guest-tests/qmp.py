#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny QMP client for the migration scripts: one command, its answer.

    usage: qmp.py SOCKET COMMAND [ARGUMENTS-AS-JSON]

Connects to QEMU's QMP Unix socket, leaves capabilities negotiation,
sends COMMAND and prints the "return" value as JSON on stdout (exit 0),
or the error on stderr (exit 1). Events that arrive first are skipped.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sys.argv[1])
    f = s.makefile("rw")

    def ask(cmd, args=None):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                raise ConnectionError("QMP connection closed")
            r = json.loads(line)
            if "return" in r or "error" in r:
                return r

    greeting = json.loads(f.readline())
    if "QMP" not in greeting:
        print("qmp.py: no QMP greeting", file=sys.stderr)
        return 1
    ask("qmp_capabilities")
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    r = ask(sys.argv[2], args)
    if "error" in r:
        print("qmp.py: %s: %s" % (sys.argv[2], r["error"].get("desc", r["error"])),
              file=sys.stderr)
        return 1
    print(json.dumps(r["return"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
