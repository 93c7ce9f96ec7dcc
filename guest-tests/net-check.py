#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Host side of guest-tests/net-test.sh: talks to the test guest's net-echo
mode over UDP, watches what the guest sends, drives QEMU's monitor. Run it
inside the test's network namespace (ip netns exec). Shares no code with
the guest. Each command prints one result line and exits 0 if it passed.

  echo ADDR [--sizes N,N..] [--flows F]   UDP echo (port 7), every payload
                                          compared byte for byte
  flows ADDR --pairs P [--flows F]        F distinct flows; the guest's own
                                          counters (port 9 "stats") must show
                                          every one of its P queue pairs
                                          receiving and sending
  flood ADDR [--count N] [--window W] [--flows F] [--size S]
                                          N datagrams, at most W unanswered at
                                          a time: every one must come back
  control ADDR stats|stop                 a command to port 9; prints the answer
  expect ADDR [--nic N] COUNTER=N|COUNTER>N...
                                          the guest's IP counters ("stats") say so
  sniff IFACE GUEST_ADDR                  until SIGTERM: check the IPv4, ICMP
                                          and UDP checksums of every datagram
                                          the guest sends (reassembling
                                          fragments), completing those the
                                          guest left to the device (NEEDS_CSUM
                                          in the virtio-net header that
                                          PACKET_VNET_HDR shows)
  qmp SOCKET COMMAND [JSON]               one QMP command to QEMU (e.g. set_link)
"""
import argparse
import json
import random
import re
import select
import signal
import socket
import struct
import sys
import time

ECHO_PORT = 7
CONTROL_PORT = 9
TIMEOUT = 5.0


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def udp_socket(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if rcvbuf:
        try:   # root may go past rmem_max
            s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)   # SO_RCVBUFFORCE
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("0.0.0.0", 0))
    return s


def control(addr, cmd, timeout=TIMEOUT):
    s = udp_socket()
    s.settimeout(timeout)
    s.sendto(cmd.encode(), (addr, CONTROL_PORT))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        return None
    finally:
        s.close()
    return data.decode(errors="replace")


def payload(flow, seq, size):
    head = struct.pack("!HI", flow, seq)
    body = random.Random(flow << 32 | seq).randbytes(max(0, size - len(head)))
    return (head + body)[:size]


def cmd_echo(a):
    sizes = [int(x) for x in a.sizes.split(",")]
    socks = [udp_socket(1 << 20) for _ in range(a.flows)]
    n = 0
    for f, s in enumerate(socks):
        s.settimeout(TIMEOUT)
        for seq, size in enumerate(sizes):
            data = payload(f, seq, size)
            s.sendto(data, (a.addr, ECHO_PORT))
            try:
                back, peer = s.recvfrom(70000)
            except socket.timeout:
                fail("flow %d: no echo of %d bytes within %.0f s" % (f, size, TIMEOUT))
            if peer != (a.addr, ECHO_PORT):
                fail("flow %d: answer from %s:%d, not port %d" % (f, peer[0], peer[1], ECHO_PORT))
            if back != data:
                diff = next((i for i in range(min(len(back), len(data))) if back[i] != data[i]),
                            min(len(back), len(data)))
                fail("flow %d: %d bytes sent, %d came back, first difference at byte %d"
                     % (f, len(data), len(back), diff))
            n += 1
    print("ok: %d datagrams echoed intact (sizes %s, %d flows)" % (n, a.sizes, a.flows))


PAIR_RE = re.compile(r"^net(\d+) pair (\d+) cpu (\d+): rx (\d+) frames .*tx (\d+) frames", re.M)


def pair_counts(addr):
    text = control(addr, "stats")
    if text is None:
        fail("no answer to 'stats' on port %d" % CONTROL_PORT)
    return {(int(m[1]), int(m[2])): (int(m[4]), int(m[5]), int(m[3]))
            for m in PAIR_RE.finditer(text)}


def cmd_flows(a):
    before = pair_counts(a.addr)
    socks = [udp_socket() for _ in range(a.flows)]
    for f, s in enumerate(socks):
        s.settimeout(TIMEOUT)
        for seq in range(a.per_flow):
            data = payload(f, seq, 64)
            s.sendto(data, (a.addr, ECHO_PORT))
            try:
                back, _ = s.recvfrom(2048)
            except socket.timeout:
                fail("flow %d: no echo within %.0f s" % (f, TIMEOUT))
            if back != data:
                fail("flow %d: the echo differs" % f)
    after = pair_counts(a.addr)
    pairs = sorted(k for k in after if k[0] == a.nic)
    if len(pairs) != a.pairs:
        fail("the guest reports %d queue pairs on net%d, expected %d" % (len(pairs), a.nic, a.pairs))
    parts = []
    for k in pairs:
        rx = after[k][0] - before.get(k, (0, 0, 0))[0]
        tx = after[k][1] - before.get(k, (0, 0, 0))[1]
        parts.append("pair %d (cpu %d): rx %d tx %d" % (k[1], after[k][2], rx, tx))
        if rx < 1 or tx < 1:
            fail("%d flows, but %s" % (a.flows, "; ".join(parts)))
    print("ok: %d flows over %d queue pairs: %s" % (a.flows, a.pairs, "; ".join(parts)))


def cmd_flood(a):
    socks = [udp_socket(8 << 20) for _ in range(a.flows)]
    for s in socks:
        s.setblocking(False)
    sent = got = 0
    outstanding = {}
    deadline = time.monotonic() + a.timeout
    start = time.monotonic()
    while got < a.count:
        while sent < a.count and len(outstanding) < a.window:
            f = sent % a.flows
            data = payload(f, sent, a.size)
            socks[f].sendto(data, (a.addr, ECHO_PORT))
            outstanding[sent] = data
            sent += 1
        ready, _, _ = select.select(socks, [], [], 0.5)
        for s in ready:
            while True:
                try:
                    back = s.recv(65535)
                except BlockingIOError:
                    break
                seq = struct.unpack("!HI", back[:6])[1] if len(back) >= 6 else -1
                want = outstanding.pop(seq, None)
                if want is None:
                    fail("an echo for datagram %d, which is not outstanding" % seq)
                if back != want:
                    fail("datagram %d came back different" % seq)
                got += 1
                deadline = time.monotonic() + a.timeout
        if time.monotonic() > deadline:
            fail("%d sent, %d came back; none for %.0f s (%d outstanding)"
                 % (sent, got, a.timeout, len(outstanding)))
    secs = time.monotonic() - start
    print("ok: %d of %d datagrams of %d bytes came back intact, at most %d in flight, "
          "%d flows, %.1f s" % (got, a.count, a.size, a.window, a.flows, secs))


def cmd_expect(a):
    text = control(a.addr, "stats")
    if text is None:
        fail("no answer to 'stats' on port %d" % CONTROL_PORT)
    m = re.search(r"^net%d ip: (.*)$" % a.nic, text, re.M)
    if not m:
        fail("no 'net%d ip:' counters in the answer" % a.nic)
    words = m.group(1).split()
    have = dict(zip(words[::2], (int(x) for x in words[1::2])))
    shown = []
    for cond in a.conditions:
        c = re.fullmatch(r"(\w+)(=|>)(\d+)", cond)
        if not c or c[1] not in have:
            fail("cannot check '%s' (counters: %s)" % (cond, " ".join(sorted(have))))
        v, want = have[c[1]], int(c[3])
        if (c[2] == "=" and v != want) or (c[2] == ">" and v <= want):
            fail("net%d: %s is %d, expected %s%d (%s)" % (a.nic, c[1], v, c[2], want, m.group(1)))
        shown.append("%s %d" % (c[1], v))
    print("ok: net%d: %s" % (a.nic, ", ".join(shown)))


def cmd_control(a):
    text = control(a.addr, a.command)
    if text is None:
        fail("no answer to '%s' within %.0f s" % (a.command, TIMEOUT))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# ---- checksums of what the guest sends ----

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_HOST = 0
VNET_HDR = struct.Struct("<BBHHHH")   # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


class Sniffer:
    def __init__(self, guest):
        self.guest = socket.inet_aton(guest)
        self.frames = self.offloaded = self.icmp = self.udp = self.frags = 0
        self.bad = []
        self.pending = {}

    def frame(self, vh, f):
        flags, _, _, _, start, off = VNET_HDR.unpack(vh)
        if len(f) < 34 or f[12:14] != b"\x08\x00" or f[26:30] != self.guest:
            return
        self.frames += 1
        if flags & 1:   # NEEDS_CSUM: do what the device would
            if start + off + 2 > len(f):
                self.bad.append("NEEDS_CSUM with csum_start %d + offset %d past the frame" % (start, off))
                return
            f = bytearray(f)
            f[start + off:start + off + 2] = struct.pack("!H", ~csum(bytes(f[start:])) & 0xffff)
            f = bytes(f)
            self.offloaded += 1
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        if csum(ip[:ihl]) != 0xffff:
            self.bad.append("IP header checksum wrong (id %d)" % struct.unpack("!H", ip[4:6])[0])
            return
        ip = ip[:tot]
        frag = struct.unpack("!H", ip[6:8])[0]
        proto, src, dst, ident = ip[9], ip[12:16], ip[16:20], ip[4:6]
        data = ip[ihl:]
        if frag & 0x3fff:
            self.frags += 1
            key = (src, dst, ident, proto)
            parts = self.pending.setdefault(key, {})
            parts[(frag & 0x1fff) * 8] = (data, not frag & 0x2000)
            data = self.whole(parts)
            if data is None:
                return
            del self.pending[key]
        self.transport(proto, src, dst, data)

    @staticmethod
    def whole(parts):
        at, out = 0, b""
        for off in sorted(parts):
            if off != at:
                return None
            out += parts[off][0]
            at += len(parts[off][0])
            if parts[off][1]:
                return out
        return None

    def transport(self, proto, src, dst, data):
        if proto == 1:
            self.icmp += 1
            if csum(data) != 0xffff:
                self.bad.append("ICMP checksum wrong (type %d, %d bytes)" % (data[0], len(data)))
        elif proto == 17:
            self.udp += 1
            if data[6:8] == b"\0\0":
                return   # no checksum: allowed in IPv4
            ph = src + dst + struct.pack("!BBH", 0, 17, len(data))
            if csum(ph + data) != 0xffff:
                self.bad.append("UDP checksum wrong (port %d, %d bytes)"
                                % (struct.unpack("!H", data[0:2])[0], len(data)))


def cmd_sniff(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((a.iface, 0))
    sn = Sniffer(a.guest)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    if a.ready:
        open(a.ready, "w").close()
    while True:
        try:
            r, _, _ = select.select([s], [], [], 0.2)
        except InterruptedError:
            r = []
        if r:
            try:
                data, addr = s.recvfrom(70000)
            except OSError:   # the tap went down: nothing to read then
                time.sleep(0.05)
                continue
            if addr[2] == PACKET_HOST and len(data) > VNET_HDR.size:
                sn.frame(data[:VNET_HDR.size], data[VNET_HDR.size:])
            continue
        if stop:
            break
    summary = ("%d datagrams from the guest (%d ICMP, %d UDP, %d fragment frames), %d frames "
               "with the checksum left to the device" % (sn.icmp + sn.udp, sn.icmp, sn.udp,
                                                        sn.frags, sn.offloaded))
    if sn.bad:
        fail("%d bad checksums: %s; %s" % (len(sn.bad), "; ".join(sn.bad[:3]), summary))
    if not sn.frames:
        fail("saw no IPv4 frame from the guest")
    if a.want_offload and not sn.offloaded:
        fail("the guest left no checksum to the device: " + summary)
    if a.want_offload is False and sn.offloaded:
        fail("checksums left to the device without CSUM: " + summary)
    print("ok: every checksum right: " + summary)


def cmd_qmp(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(a.socket)
    f = s.makefile("rw")

    def reply():
        while True:   # events may come in between
            line = f.readline()
            if not line:
                fail("qmp: the connection closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg or "QMP" in msg:
                return msg

    def execute(cmd, args=None):
        f.write(json.dumps({"execute": cmd, "arguments": args or {}}) + "\n")
        f.flush()
        msg = reply()
        if "error" in msg:
            fail("qmp: %s: %s" % (cmd, msg["error"].get("desc", msg["error"])))
        return msg["return"]

    reply()   # the greeting
    execute("qmp_capabilities")
    execute(a.command, json.loads(a.args) if a.args else None)
    s.close()
    print("ok: qmp: %s %s" % (a.command, a.args or ""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("addr")
    e.add_argument("--sizes", default="1,18,64,512,1472,1473,4000,30000,65507")
    e.add_argument("--flows", type=int, default=2)
    f = sub.add_parser("flows")
    f.add_argument("addr")
    f.add_argument("--pairs", type=int, required=True)
    f.add_argument("--nic", type=int, default=0)
    f.add_argument("--flows", type=int, default=32)
    f.add_argument("--per-flow", type=int, default=4)
    fl = sub.add_parser("flood")
    fl.add_argument("addr")
    fl.add_argument("--count", type=int, default=4000)
    fl.add_argument("--window", type=int, default=256)
    fl.add_argument("--flows", type=int, default=8)
    fl.add_argument("--size", type=int, default=256)
    fl.add_argument("--timeout", type=float, default=5.0)
    c = sub.add_parser("control")
    c.add_argument("addr")
    c.add_argument("command", choices=["stats", "stop"])
    x = sub.add_parser("expect")
    x.add_argument("addr")
    x.add_argument("conditions", nargs="+", metavar="COUNTER=N|COUNTER>N")
    x.add_argument("--nic", type=int, default=0)
    sn = sub.add_parser("sniff")
    sn.add_argument("iface")
    sn.add_argument("guest")
    sn.add_argument("--ready", help="file to create once listening")
    g = sn.add_mutually_exclusive_group()
    g.add_argument("--want-offload", dest="want_offload", action="store_true", default=None)
    g.add_argument("--no-offload", dest="want_offload", action="store_false")
    m = sub.add_parser("qmp")
    m.add_argument("socket")
    m.add_argument("command")
    m.add_argument("args", nargs="?", help="the arguments, as a JSON object")
    a = p.parse_args()
    {"echo": cmd_echo, "flows": cmd_flows, "flood": cmd_flood, "control": cmd_control, "expect": cmd_expect,
     "sniff": cmd_sniff, "qmp": cmd_qmp}[a.cmd](a)


if __name__ == "__main__":
    main()
