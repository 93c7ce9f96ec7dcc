#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kite binary's command line as a user meets it: help, version, and
# every refusal that must happen before any VM exists (so these run with or
# without /dev/kvm). Each check: exit status and the one-line message.
set -uo pipefail
BUILD=${1:-build}
KITE=$BUILD/kite
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'not a kernel\n' >"$tmp/text"
: >"$tmp/empty"
head -c 600 /dev/zero >"$tmp/zeros"

# expect NAME STATUS PATTERN -- ARGS...: run kite, check status and that
# stderr+stdout contains PATTERN (grep -E) and, for errors, is one line.
expect() {
	local name=$1 want=$2 pat=$3; shift 4
	local out st lines
	out=$("$KITE" "$@" 2>&1); st=$?
	lines=$(printf '%s\n' "$out" | wc -l)
	if [ "$st" != "$want" ]; then
		echo "FAIL $name: exit status $st, expected $want: $out"; fail=$((fail + 1)); return
	fi
	if ! grep -qE -- "$pat" <<<"$out"; then
		echo "FAIL $name: output lacks /$pat/: $out"; fail=$((fail + 1)); return
	fi
	if [ "$want" != 0 ] && [ "$lines" != 1 ]; then
		echo "FAIL $name: error is $lines lines, expected one: $out"; fail=$((fail + 1)); return
	fi
	echo "PASS $name"; pass=$((pass + 1))
}

expect help              0 'Usage: kite COMMAND'            -- --help
expect version           0 '^kite [0-9]+\.[0-9]+'           -- --version
expect run-help          0 'Exit status:'                   -- run --help
expect run-help-statuses 0 '120 +the guest triple-faulted'  -- run --help
expect no-command        2 'missing command \(expected run or ctl'  --
expect bad-command       2 "unknown command 'fly'"          -- fly
expect no-kernel         2 '--kernel PATH is required'      -- run
expect missing-kernel    2 '--kernel /nonexistent: cannot read: No such file' -- run --kernel /nonexistent
expect bad-cpus          2 "--cpus 'many': expected a number from 1 to 254" -- run --kernel "$tmp/text" --cpus many
expect bad-memory        2 "--memory '12Q'"                 -- run --kernel "$tmp/text" --memory 12Q
expect bad-hugepages     2 "--hugepages '3M': expected 2M or 1G" -- run --kernel "$tmp/text" --hugepages 3M
expect bad-numa          2 "--numa-node 'first'"            -- run --kernel "$tmp/text" --numa-node first
expect bad-console       2 "--console 'tty'"                -- run --kernel "$tmp/text" --console tty
expect bad-boot          2 "--boot 'uefi'"                  -- run --kernel "$tmp/text" --boot uefi
expect unknown-option    2 "unknown option '--disk-cache'"  -- run --kernel "$tmp/text" --disk-cache
# Kernel format refusals come before /dev/kvm is opened.
expect not-a-kernel      1 "$tmp/text: not a kernel kite can boot \(expected a bzImage, an ELF with a PVH note, a Multiboot ELF, or a 64-bit ELF\)" -- run --kernel "$tmp/text"
expect empty-kernel      1 "empty file"                     -- run --kernel "$tmp/empty"
expect zero-kernel       1 "not a kernel kite can boot"     -- run --kernel "$tmp/zeros"
expect kernel-is-dir     2 "--kernel /: not a regular file" -- run --kernel /
# --disk: option errors are usage errors; image errors come before /dev/kvm.
truncate -s 8M "$tmp/disk.img"
truncate -s 1000 "$tmp/odd.img"
expect disk-bad-key      2 "--disk colour=red: unknown key"  -- run --kernel "$tmp/text" --disk "path=$tmp/disk.img,colour=red"
expect disk-queue-size   2 "--disk queue_size=3: expected a power of two from 2 to 1024" -- run --kernel "$tmp/text" --disk "path=$tmp/disk.img,queue_size=3"
expect disk-no-path      2 "--disk"                          -- run --kernel "$tmp/text" --disk "queues=2"
if [ -f "$BUILD/testguest.elf" ]; then
	expect disk-missing  1 "--disk path=/nonexistent.img: cannot open: No such file or directory" -- run --kernel "$BUILD/testguest.elf" --disk path=/nonexistent.img
	expect disk-odd-size 1 "is not a multiple of 512"          -- run --kernel "$BUILD/testguest.elf" --disk "path=$tmp/odd.img"
fi
expect net-bad-mac       2 "--net mac=01:00:00:00:00:01: a multicast address" -- run --kernel "$tmp/text" --net tap=kt0,mac=01:00:00:00:00:01
expect net-bad-key       2 "--net"                            -- run --kernel "$tmp/text" --net tap=kt0,speed=10G
if [ -f "$BUILD/testguest.elf" ]; then
	expect net-bad-fd    1 "--net fd=99: not an open file descriptor" -- run --kernel "$BUILD/testguest.elf" --net fd=99
fi
expect ctl-help          0 'Usage: kite ctl SOCKET COMMAND'   -- ctl --help
expect ctl-no-args       2 'ctl: expected SOCKET COMMAND'     -- ctl
expect ctl-bad-command   2 "ctl: unknown command 'fly'"       -- ctl "$tmp/sock" fly
expect ctl-no-server     1 "cannot connect \(is kite running with --api-socket" -- ctl "$tmp/nosock" info
expect bad-api-socket    2 "--api-socket ''"                  -- run --kernel "$tmp/text" --api-socket ""
# Snapshots and migration: every refusal before a VM exists.
expect restore-missing   2 '--restore .*/nosnap: cannot open' -- run --restore "$tmp/nosnap"
expect restore-not-file  2 '--restore /dev/null: not a regular file' -- run --restore /dev/null
expect restore-not-snap  2 'not a kite snapshot \(bad magic\)' -- run --restore "$tmp/zeros"
expect restore-truncated 2 'the stream ends in the header'   -- run --restore "$tmp/text"
expect restore-and-disk  2 '--disk cannot be used with --restore' -- run --restore "$tmp/zeros" --disk null=1M
expect restore-and-kernel 2 '--kernel cannot be used with --restore' -- run --restore "$tmp/zeros" --kernel "$tmp/text"
expect restore-and-incoming 2 '--incoming cannot be used with --restore' -- run --restore "$tmp/zeros" --incoming tcp:127.0.0.1:4444
expect incoming-no-port  2 "--incoming 'tcp:127.0.0.1': expected tcp:HOST:PORT" -- run --incoming tcp:127.0.0.1
expect incoming-bad-port 2 'the port must be a number from 1 to 65535' -- run --incoming tcp:127.0.0.1:70000
expect incoming-not-tcp  2 "--incoming 'udp:1.2.3.4:5': expected tcp:HOST:PORT" -- run --incoming udp:1.2.3.4:5
expect ctl-migrate-no-to 2 'migrate needs tcp:HOST:PORT'      -- ctl "$tmp/sock" migrate
expect ctl-migrate-bad   2 'migrate needs tcp:HOST:PORT'      -- ctl "$tmp/sock" migrate 127.0.0.1:80
expect ctl-migrate-downtime 2 '--max-downtime: expected milliseconds' -- ctl "$tmp/sock" migrate tcp:127.0.0.1:80 --max-downtime soon
expect ctl-migrate-timeout 2 '--timeout: expected seconds'     -- ctl "$tmp/sock" migrate tcp:127.0.0.1:80 --timeout -1
expect ctl-migrate-unresolvable 1 'cannot resolve no-such-host.invalid' -- ctl "$tmp/sock" migrate tcp:no-such-host.invalid:80
expect ctl-migrate-no-server 1 'cannot connect'                 -- ctl "$tmp/nosock" migrate tcp:127.0.0.1:80
expect ctl-migrate-status-no-server 1 'cannot connect'          -- ctl "$tmp/nosock" migrate-status
if [ -f "$BUILD/testguest-mb.elf" ]; then
	expect pvh-on-multiboot 1 "cannot boot with pvh"        -- run --kernel "$BUILD/testguest-mb.elf" --boot pvh
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
