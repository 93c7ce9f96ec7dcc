#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Live-migration figures: the test guest moved between two VMM processes
# on this host over loopback TCP, idle (mode=idle) and busy
# (mode=migrate-work: every vCPU rewriting and re-checking its slice of
# RAM, virtio-blk and virtio-scsi writes read back and checked, UDP echoes
# off a host peer), for a 256 MiB and a 2 GiB guest with 2 vCPUs.
#
#   usage: tools/bench-migrate.sh [--build DIR] [--sizes "256M 2G"] [--dirty MIBS]
#                                 [--moves N] [--control N] [--timeout S]
#
# QEMU: two qemu-system-x86_64 processes (q35; KVM when /dev/kvm works,
# else TCG, and the table says which), the destination started with
# -incoming tcp:127.0.0.1:PORT, `migrate` sent over QMP with max-bandwidth
# raised to 10 GiB/s (QEMU's default is 32 MiB/s) and downtime-limit left
# at its default (300 ms); total time, downtime, RAM transferred and dirty
# syncs come from query-migrate. Both sides open the same raw images
# (cache=none): QEMU hands the image locks over itself (the incoming side
# holds its images inactive until the migration completes), so no
# file.locking=off is needed.
#
# kite: with a usable /dev/kvm the same guest under `kite run --incoming`
# and `kite ctl SRC.sock migrate tcp:...`, figures from `kite ctl SOCK
# migrate-status --json` (total_ms, downtime_ms, bytes_sent); without one
# its rows say "kite: SKIPPED (no /dev/kvm: ...)".
#
# After each busy migration the guest's own MIGWORK lines on the new side
# must keep saying errors=0 (the "guest" column). Then one busy 256 MiB
# QEMU guest is moved back and forth between two ports, first --control N
# times (default 2) with the source paused before each `migrate` (the
# control: nothing changes while RAM is sent, so the copy must be exact),
# then --moves N times (default 5; 0: none) live, stopping early if the
# guest dies. The new side starts paused (-S) so that its
# RAM can be compared with the stopped source's page by page (pmemsave)
# before it runs on, and its MIGWORK lines must say errors=0.
#
# --dirty: the busy guest's write budget, MiB/s (default 32); --timeout:
# seconds a migration may take before it is cancelled (default 90). Writes
# BUILD/bench-migrate/results.csv and the logs beside it. Exit status 1 if
# a migration failed or a guest found an error.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build SIZES="256M 2G" DIRTY=32 MOVES=5 CONTROL=2 TIMEOUT=90
usage() { sed -n '/^#   usage:/,/^#$/s/^#  *//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--build)	BUILD=${2:?}; shift ;;
	--sizes)	SIZES=${2:?}; shift ;;
	--dirty)	DIRTY=${2:?}; shift ;;
	--moves)	MOVES=${2:?}; shift ;;
	--control)	CONTROL=${2:?}; shift ;;
	--timeout)	TIMEOUT=${2:?}; shift ;;
	*)		usage ;;
	esac
	shift
done
for v in "$DIRTY" "$MOVES" "$CONTROL" "$TIMEOUT"; do
	[[ $v =~ ^[0-9]+$ ]] || { echo "bench-migrate: '$v': expected a whole number" >&2; exit 2; }
done
cd "$here"
# shellcheck source-path=SCRIPTDIR source=../guest-tests/lib.sh
source guest-tests/lib.sh
KITE=$BUILD/kite
ELF=$BUILD/testguest.elf
QEMU=${QEMU:-qemu-system-x86_64}
OUT=$BUILD/bench-migrate
CSV=$OUT/results.csv
[ -f "$ELF" ] || { echo "bench-migrate: $ELF is missing (run: make BUILD=$BUILD)" >&2; exit 1; }
mkdir -p "$OUT"
T_START=$(date +%s)

KVM_WHY=$(kvm_unusable_reason)
ACCEL=kvm
[ -z "$KVM_WHY" ] || ACCEL=tcg
HAVE_QEMU=1
command -v "$QEMU" >/dev/null 2>&1 || HAVE_QEMU=0

# --- helpers ---
PIDS=()
declare -A QPID=()
ECHO_PID=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local p
	for p in "${PIDS[@]}" $ECHO_PID; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

qmp() { python3 guest-tests/qmp.py "$@"; }
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# jget JSON KEY.PATH: one field (empty if absent or not JSON).
jget() {
	python3 -c 'import json, sys
try:
    v = json.loads(sys.argv[1])
except ValueError:
    v = None
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1" "$2"
}
# wait_line FILE REGEX SECS: until FILE has a line matching REGEX.
wait_line() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
mib_of() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# The shared disks and the UDP echo peer (slirp maps 10.0.2.2 to 127.0.0.1).
IMG1=$OUT/blk.img
IMG2=$OUT/scsi.img
rm -f "$IMG1" "$IMG2"
truncate -s 64M "$IMG1" "$IMG2"
python3 guest-tests/udp-echo.py 127.0.0.1 0 >"$OUT/echo.port" &
ECHO_PID=$!
wait_line "$OUT/echo.port" '^[0-9]+$' 10 || { echo "bench-migrate: the UDP echo peer did not start" >&2; exit 1; }
ECHO_PORT=$(cat "$OUT/echo.port")

cmdline_for() {	# LOAD [net]
	if [ "$1" = idle ]; then
		echo "mode=idle"
	elif [ "${2:-}" = net ]; then
		echo "mode=migrate-work work_secs=0 dirty_mibs=$DIRTY ip=10.0.2.15/24 peer=10.0.2.2:$ECHO_PORT"
	else
		echo "mode=migrate-work work_secs=0 dirty_mibs=$DIRTY"
	fi
}
ready_re() { [ "$1" = idle ] && echo '^idle: halting' || echo '^migrate-work: filled'; }

# qemu_start NAME MEM LOAD [QEMU ARGS...]: one QEMU in the background.
qemu_start() {
	local name=$1 mem=$2 load=$3
	shift 3
	rm -f "$OUT/$name.log" "$OUT/$name.qmp"
	"$QEMU" -machine q35 -accel "$ACCEL" -nodefaults -display none -no-reboot -smp 2 \
		-m "$mem" -kernel "$ELF" -append "$(cmdline_for "$load" net)" \
		-serial "file:$OUT/$name.log" -qmp "unix:$OUT/$name.qmp,server=on,wait=off" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-drive "file=$IMG1,if=none,id=d0,format=raw,cache=none" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		-device virtio-scsi-pci,id=scsi0,disable-legacy=on \
		-drive "file=$IMG2,if=none,id=s0,format=raw,cache=none" \
		-device scsi-hd,drive=s0,bus=scsi0.0 \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,disable-legacy=on \
		"$@" 2>"$OUT/$name.err" &
	PIDS+=($!)
	QPID[$name]=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[ -S "$OUT/$name.qmp" ] && return 0
		sleep 0.1
	done
	echo "bench-migrate: QEMU $name did not start: $(head -c 300 "$OUT/$name.err")" >&2
	return 1
}
qemu_stop() {	# NAME
	local pid=${QPID[$1]:-}
	qmp "$OUT/$1.qmp" quit >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
}

# qemu_migrate SRC PORT: migrate, wait; sets MIG (query-migrate's JSON).
# Returns 1 on failure or after TIMEOUT (then cancelled).
qemu_migrate() {
	local src=$OUT/$1.qmp t0 st
	qmp "$src" migrate-set-parameters '{"max-bandwidth": 10737418240}' >/dev/null
	qmp "$src" migrate "{\"uri\": \"tcp:127.0.0.1:$2\"}" >/dev/null
	t0=$(date +%s)
	while :; do
		MIG=$(qmp "$src" query-migrate)
		st=$(jget "$MIG" status)
		case $st in
		completed) return 0 ;;
		failed|cancelled) return 1 ;;
		esac
		if [ $(($(date +%s) - t0)) -ge "$TIMEOUT" ]; then
			qmp "$src" migrate_cancel >/dev/null || true
			MIG="{\"status\": \"timeout after $TIMEOUT s (cancelled)\"}"
			return 1
		fi
		sleep 0.2
	done
}

# guest_verdict LOG: the new side's MIGWORK lines (errors=0, no FAIL) or
# how the guest died there.
guest_verdict() {
	local log=$1 last i
	for ((i = 0; i < 150; i++)); do
		[ "$(grep -c '^MIGWORK ' "$log" 2>/dev/null)" -ge 3 ] && break
		grep -q '^FATAL' "$log" 2>/dev/null && break
		sleep 0.2
	done
	if grep -q '^FATAL' "$log"; then
		echo "guest died: $(grep -m1 '^FATAL' "$log" | cut -c1-120)"
		return 1
	fi
	if grep -q '^FAIL' "$log"; then
		echo "$(grep -c '^FAIL' "$log") FAIL lines, first: $(grep -m1 '^FAIL' "$log" | cut -c1-150)"
		return 1
	fi
	last=$(grep '^MIGWORK ' "$log" | tail -n1)
	case $last in
	*" errors=0 "*) echo "intact ($(grep -c '^MIGWORK ' "$log") lines with errors=0)" ;;
	"") echo "no MIGWORK lines on the new side in 30 s"; return 1 ;;
	*) echo "last line: $last"; return 1 ;;
	esac
}

ROWS=()
FAILED_ANY=0
echo "vmm,accel,memory,load,total_ms,downtime_ms,ram_transferred_bytes,ram_total_bytes,dirty_syncs,guest" >"$CSV"
add_row() {	# VMM ACCEL MEM LOAD TOTAL DOWN XFER RAMTOTAL SYNCS GUEST
	ROWS+=("$(printf '%-6s %-4s %-5s %-5s %9s %9s %10s %6s  %s' "$1" "$2" "$3" "$4" "$5" "$6" \
		"$([ -n "$7" ] && mib_of "$7" || echo -)" "$9" "${10}")")
	echo "$1,$2,$3,$4,$5,$6,$7,$8,$9,\"${10//\"/\'}\"" >>"$CSV"
	echo "  ${ROWS[-1]}"
}

bench_qemu() {	# MEM LOAD
	local mem=$1 load=$2 port verdict rc=0
	port=$(free_port)
	qemu_start src "$mem" "$load" || { add_row qemu "$ACCEL" "$mem" "$load" - - "" "" - "QEMU would not start"; FAILED_ANY=1; return; }
	if ! wait_line "$OUT/src.log" "$(ready_re "$load")" 120; then
		add_row qemu "$ACCEL" "$mem" "$load" - - "" "" - "guest not ready in 120 s"
		FAILED_ANY=1; qemu_stop src; return
	fi
	sleep 2
	qemu_start dst "$mem" "$load" -incoming "tcp:127.0.0.1:$port"
	if ! qemu_migrate src "$port"; then
		add_row qemu "$ACCEL" "$mem" "$load" - - "" "" - "migration $(jget "$MIG" status) $(jget "$MIG" error-desc)"
		FAILED_ANY=1; qemu_stop src; qemu_stop dst; return
	fi
	qemu_stop src
	if [ "$load" = idle ]; then
		sleep 1
		verdict="destination $(jget "$(qmp "$OUT/dst.qmp" query-status)" status)"
	else
		verdict=$(guest_verdict "$OUT/dst.log") || rc=1
	fi
	[ $rc = 0 ] || FAILED_ANY=1
	add_row qemu "$ACCEL" "$mem" "$load" "$(jget "$MIG" total-time)" "$(jget "$MIG" downtime)" \
		"$(jget "$MIG" ram.transferred)" "$(jget "$MIG" ram.total)" \
		"$(jget "$MIG" ram.dirty-sync-count)" "$verdict"
	cp "$OUT/dst.log" "$OUT/qemu-$mem-$load.dst.log"
	cp "$OUT/src.log" "$OUT/qemu-$mem-$load.src.log"
	qemu_stop dst
}

kite_stop() {	# SOCK PID
	"$KITE" ctl "$1" stop >/dev/null 2>&1 || kill "$2" 2>/dev/null || true
	wait "$2" 2>/dev/null || true
}

bench_kite() {	# MEM LOAD
	local mem=$1 load=$2 port s d st out verdict rc=0 sp dp i
	if [ -n "$KVM_WHY" ]; then
		add_row kite kvm "$mem" "$load" - - "" "" - "kite: SKIPPED (no /dev/kvm: $KVM_WHY)"
		return
	fi
	port=$(free_port)
	s=$OUT/kite-src.sock d=$OUT/kite-dst.sock
	rm -f "$s" "$d" "$OUT/kite-src.log" "$OUT/kite-dst.log"
	local -a opts=(--kernel "$ELF" --cmdline "$(cmdline_for "$load")" --cpus 2 --memory "$mem"
		--disk "path=$IMG1" --disk "path=$IMG2,iface=scsi")
	"$KITE" run "${opts[@]}" --api-socket "$s" --console "file=$OUT/kite-src.log" \
		>"$OUT/kite-src.out" 2>&1 &
	sp=$!; PIDS+=("$sp")
	if ! wait_line "$OUT/kite-src.log" "$(ready_re "$load")" 60; then
		add_row kite kvm "$mem" "$load" - - "" "" - "guest not ready in 60 s"
		FAILED_ANY=1; kite_stop "$s" "$sp"; return
	fi
	sleep 2
	"$KITE" run "${opts[@]}" --api-socket "$d" --console "file=$OUT/kite-dst.log" \
		--incoming "tcp:127.0.0.1:$port" >"$OUT/kite-dst.out" 2>&1 &
	dp=$!; PIDS+=("$dp")
	for ((i = 0; i < 200; i++)); do
		[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && break
		sleep 0.1
	done
	if ! out=$(timeout "$TIMEOUT" "$KITE" ctl "$s" migrate "tcp:127.0.0.1:$port" --json 2>&1); then
		add_row kite kvm "$mem" "$load" - - "" "" - "migration failed: $(tail -n1 <<<"$out")"
		FAILED_ANY=1; kite_stop "$s" "$sp"; kite_stop "$d" "$dp"; return
	fi
	# The source ends by itself: the figures from the first of these with a
	# total_ms above 0: the summary `migrate --json` printed last, the
	# destination's migrate-status, the source's (if it still answers).
	local c
	st=
	for c in "$(tail -n1 <<<"$out")" \
		"$("$KITE" ctl "$d" migrate-status --json 2>/dev/null || true)" \
		"$("$KITE" ctl "$s" migrate-status --json 2>/dev/null || true)"; do
		if [ "$(jget "$c" total_ms)" -gt 0 ] 2>/dev/null; then
			st=$c
			break
		fi
	done
	wait "$sp" 2>/dev/null || true
	if [ "$load" = idle ]; then
		verdict="destination $("$KITE" ctl "$d" info 2>/dev/null | awk '/^state:/ { print $2 }')"
	else
		verdict=$(guest_verdict "$OUT/kite-dst.log") || rc=1
	fi
	[ $rc = 0 ] || FAILED_ANY=1
	add_row kite kvm "$mem" "$load" "$(jget "$st" total_ms)" "$(jget "$st" downtime_ms)" \
		"$(jget "$st" bytes_sent)" "$(jget "$st" ram_total)" "$(jget "$st" iteration)" "$verdict"
	kite_stop "$d" "$dp"
}

echo "live migration over loopback TCP, 2 vCPUs; busy = mode=migrate-work dirty_mibs=$DIRTY"
[ "$ACCEL" = tcg ] && echo "NOTE: QEMU runs under TCG (no usable /dev/kvm: $KVM_WHY): its figures are TCG's, not KVM's"
echo "  vmm    acc  mem   load   total_ms  down_ms   MiB_sent  syncs  guest on the new side"
for mem in $SIZES; do
	for load in idle busy; do
		if [ "$HAVE_QEMU" = 1 ]; then
			bench_qemu "$mem" "$load"
		else
			add_row qemu - "$mem" "$load" - - "" "" - "SKIPPED ($QEMU is not installed)"
		fi
		bench_kite "$mem" "$load"
	done
done

# --- N moves back and forth, each checked by the guest and by a RAM compare ---
# moves_qemu N live|paused: live is the real test; paused (the source
# stopped before `migrate`, so no page can change while RAM is sent) is
# the control: it shows what the guest says when the copy is exact.
moves_qemu() {
	local n=$1 how=$2 mem=256M ports i cur=a new port diff verdict fails=0 done=0
	ports=("$(free_port)" "$(free_port)")
	echo
	echo "QEMU ($ACCEL), $how: one busy $mem guest moved $n times between ports ${ports[0]} and ${ports[1]}"
	qemu_start a "$mem" busy
	if ! wait_line "$OUT/a.log" '^migrate-work: filled' 120; then
		echo "  FAIL: the guest did not get ready"; FAILED_ANY=1; qemu_stop a; return
	fi
	sleep 2
	for ((i = 1; i <= n; i++)); do
		[ $cur = a ] && new=b || new=a
		port=${ports[$(((i - 1) % 2))]}
		qemu_start "$new" "$mem" busy -S -incoming "tcp:127.0.0.1:$port"
		[ "$how" = live ] || qmp "$OUT/$cur.qmp" stop >/dev/null
		if ! qemu_migrate "$cur" "$port"; then
			echo "  move $i: migration $(jget "$MIG" status) $(jget "$MIG" error-desc)"
			fails=$((fails + 1)); qemu_stop "$new"; continue
		fi
		rm -f "$OUT/ram-$cur.bin" "$OUT/ram-$new.bin"
		qmp "$OUT/$cur.qmp" pmemsave "{\"val\": 0, \"size\": 268435456, \"filename\": \"$here/$OUT/ram-$cur.bin\"}" >/dev/null
		qmp "$OUT/$new.qmp" pmemsave "{\"val\": 0, \"size\": 268435456, \"filename\": \"$here/$OUT/ram-$new.bin\"}" >/dev/null
		diff=$(python3 -c 'import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
d = [i for i in range(0, min(len(a), len(b)), 4096) if a[i:i + 4096] != b[i:i + 4096]]
print("%d pages differ%s" % (len(d), (": " + " ".join(hex(x) for x in d[:6])) if d else ""))' \
			"$OUT/ram-$cur.bin" "$OUT/ram-$new.bin")
		rm -f "$OUT/ram-$cur.bin" "$OUT/ram-$new.bin"
		qmp "$OUT/$new.qmp" cont >/dev/null
		qemu_stop "$cur"
		verdict=$(guest_verdict "$OUT/$new.log") || fails=$((fails + 1))
		done=$((done + 1))
		cp "$OUT/$new.log" "$OUT/move-$how-$i.log"
		printf '  move %d (%s -> %s): total %s ms, downtime %s ms, %s MiB sent; RAM: %s; guest: %s\n' \
			"$i" "$cur" "$new" "$(jget "$MIG" total-time)" "$(jget "$MIG" downtime)" \
			"$(mib_of "$(jget "$MIG" ram.transferred)")" "$diff" "$verdict"
		echo "qemu-move-$how-$i,$ACCEL,$mem,busy,$(jget "$MIG" total-time),$(jget "$MIG" downtime),$(jget "$MIG" ram.transferred),$(jget "$MIG" ram.total),$(jget "$MIG" ram.dirty-sync-count),\"$diff; $verdict\"" >>"$CSV"
		cur=$new
		if grep -q '^FATAL' "$OUT/$cur.log"; then
			echo "  the guest died on the new side (FATAL above): no further moves"
			break
		fi
	done
	qemu_stop "$cur"
	echo "  $how: $done of $n moves done, $((done - fails < 0 ? 0 : done - fails)) with the guest intact"
	[ $fails = 0 ] && [ $done = "$n" ] || FAILED_ANY=1
}
if [ "$HAVE_QEMU" = 1 ]; then
	[ "$CONTROL" = 0 ] || moves_qemu "$CONTROL" paused
	[ "$MOVES" = 0 ] || moves_qemu "$MOVES" live
fi
if [ "$MOVES" -gt 0 ] && [ -n "$KVM_WHY" ]; then
	echo "kite moves: SKIPPED (no /dev/kvm: $KVM_WHY); guest-tests/migrate.sh does them under kite"
fi

echo
echo "results: $CSV ($(($(date +%s) - T_START)) s in all)"
exit $FAILED_ANY
