#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kite's live migration and snapshots, with the test guest in
# mode=migrate-work (every vCPU rewriting and re-checking its slice of RAM,
# a virtio-blk and a virtio-scsi disk written and read back, the clock
# watched; see guest-tests/migrate_work.c) as the judge of every move.
#   usage: guest-tests/migrate.sh [BUILD]
#
# Cases, each a 2-vCPU 256 MiB guest with two shared 32 MiB images:
#   moves-5            migrate 5 times back and forth between two ports
#                      (--max-downtime 300); after each move the old kite
#                      exits 0, the new one runs, and the guest's MIGWORK
#                      lines on the new side keep saying errors=0
#   status-json        migrate-status --json during a migration slowed by a
#                      proxy: every documented field, state active, then
#                      completed
#   snapshot-restore   pause, snapshot, stop; kite run --restore; the guest
#                      goes on intact
#   kill-dst           kill -9 the destination mid-stream
#   cut-16, cut-64k, cut-8m
#                      a proxy closes the connection after that many bytes
#   truncate-1m        a proxy ends the stream (EOF) after 1 MiB
#   corrupt-head, corrupt-ram
#                      a proxy flips a byte at offset 24, or at 4 MiB
#   wrong-memory       the destination was started with --memory 512M: it
#                      must refuse, naming both sizes
#   cancel             migrate-cancel while a slow proxy holds the stream
#   after-faults       the source that went through all of the above
#                      migrates once more, and the guest is intact there
# After each fault: `kite ctl migrate` exited 1 with a reason on stderr,
# the source still says running and its guest's MIGWORK lines keep coming
# with errors=0; the destination exited non-zero with a "kite: " line on
# stderr (kill -9 aside) and never ran the guest (no MIGWORK line in its
# console).
# Without a usable /dev/kvm the guests run on kvmfake's emulated CPU
# (guest-tests/lib.sh kite_cpu); if that is not built either, every case
# says SKIPPED and the script exits 0.
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

CASES=(moves-5 status-json snapshot-restore kill-dst cut-16 cut-64k cut-8m truncate-1m
	corrupt-head corrupt-ram wrong-memory cancel after-faults)
# Without KVM: kvmfake's emulated CPU, which hands its vCPUs' live state
# to kite's KVM_GET_* and marks every page it writes in the dirty log.
reason=""
if ! kite_cpu "$BUILD" emu; then
	reason=$KITE_CPU_WHY
fi
if [ -n "$reason" ]; then
	for c in "${CASES[@]}"; do
		echo "SKIPPED: migrate $c: $reason"
		SKIPPED=$((SKIPPED + 1))
	done
	summary
	exit 0
fi
KITE=$BUILD/kite
ELF=$BUILD/testguest.elf
for f in "$KITE" "$ELF"; do
	[ -f "$f" ] || { echo "migrate: $f is missing (run: make BUILD=$BUILD)" >&2; exit 1; }
done
OUT=$BUILD/guest-tests/migrate
mkdir -p "$OUT"
echo "kite migration tests, logs in $OUT"
[ -n "$KITE_CPU_NOTE" ] && echo "migrate: $KITE_CPU_NOTE"

MEM=256M
IMG1=$OUT/blk.img
IMG2=$OUT/scsi.img
rm -f "$IMG1" "$IMG2"
truncate -s 32M "$IMG1" "$IMG2"
GUEST="mode=migrate-work work_secs=0 dirty_mibs=64"
PROXY=$here/migrate-proxy.py

declare -A PID=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local p
	for p in "${PID[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
wait_listen() {	# PORT SECS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		listening "$1" && return 0
		sleep 0.1
	done
	return 1
}
count() {	# FILE REGEX: matching lines (0 if no file)
	local n
	n=$(grep -c "$2" "$1" 2>/dev/null) || true
	echo "${n:-0}"
}
# wait_count FILE REGEX N SECS
wait_count() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_gone NAME SECS: its exit status in RC, 124 if it still runs.
wait_gone() {
	local p=${PID[$1]} i
	RC=124
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$p" 2>/dev/null; then
			RC=0
			wait "$p" 2>/dev/null || RC=$?
			unset "PID[$1]"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
jfield() {	# JSON KEY
	python3 -c 'import json, sys
try:
    v = json.loads(sys.argv[1]).get(sys.argv[2])
except (ValueError, AttributeError):
    v = None
print("" if v is None else v)' "$1" "$2"
}

# start_vm NAME [kite run options...]: the guest under kite with the
# shared disks, console NAME.log, API socket NAME.sock, stderr NAME.err.
start_vm() {
	local name=$1
	shift
	rm -f "$OUT/$name.log" "$OUT/$name.sock" "$OUT/$name.err"
	"${KITE_PRE[@]}" "$KITE" run --kernel "$ELF" --cmdline "$GUEST" --cpus 2 --memory "${VM_MEM:-$MEM}" \
		--disk "path=$IMG1" --disk "path=$IMG2,iface=scsi" \
		--api-socket "$OUT/$name.sock" --console "file=$OUT/$name.log" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" &
	PID[$name]=$!
}
# source_vm NAME: start_vm, then wait until the guest has filled its RAM.
WHY=
source_vm() {
	start_vm "$1"
	if ! wait_count "$OUT/$1.log" '^migrate-work: filled' 1 60; then
		WHY="the source guest never said 'filled' ($(tail -n1 "$OUT/$1.err" 2>/dev/null))"
		return 1
	fi
}
# dest_vm NAME PORT [options]: a destination waiting on PORT.
dest_vm() {
	local name=$1 port=$2
	shift 2
	start_vm "$name" --incoming "tcp:127.0.0.1:$port" "$@"
	if ! wait_listen "$port" 20; then
		WHY="the destination $name never listened on $port ($(tail -n1 "$OUT/$name.err" 2>/dev/null))"
		return 1
	fi
}
# migrate SRC PORT [options]: kite ctl migrate; its status in RC (and in
# SRC.mig-rc, for a migrate run in the background), stdout and stderr in
# SRC.mig-out / SRC.mig-err.
migrate() {
	local src=$1 port=$2
	shift 2
	RC=0
	timeout 180 "$KITE" ctl "$OUT/$src.sock" migrate "tcp:127.0.0.1:$port" --timeout 150 "$@" \
		>"$OUT/$src.mig-out" 2>"$OUT/$src.mig-err" || RC=$?
	echo "$RC" >"$OUT/$src.mig-rc"
}
# bg_done JOB SRC: wait for a migrate run in the background; RC its status.
bg_done() {
	wait "$1" || true
	RC=$(cat "$OUT/$2.mig-rc" 2>/dev/null || echo 255)
}
# intact NAME [SECS]: the VM says running (within SECS) and its guest
# prints two more MIGWORK lines, the last with errors=0, and no FAIL line.
intact() {
	local name=$1 secs=${2:-20} n last i
	# A restored or just-moved VM may take a moment to say so.
	for ((i = 0; i < secs * 10; i++)); do
		"$KITE" ctl "$OUT/$name.sock" info 2>/dev/null | grep -Eq '^state: *running' && break
		sleep 0.1
	done
	if ((i == secs * 10)); then
		WHY="$name: kite ctl info does not say running ($(tail -n1 "$OUT/$name.err" 2>/dev/null))"
		return 1
	fi
	n=$(count "$OUT/$name.log" '^MIGWORK ')
	if ! wait_count "$OUT/$name.log" '^MIGWORK ' $((n + 2)) "$secs"; then
		WHY="$name: the guest printed no new MIGWORK line in $secs s"
		return 1
	fi
	if grep -q -e '^FAIL' -e '^FATAL' "$OUT/$name.log"; then
		WHY="$name: $(grep -m1 -e '^FAIL' -e '^FATAL' "$OUT/$name.log" | cut -c1-160)"
		return 1
	fi
	last=$(grep '^MIGWORK ' "$OUT/$name.log" | tail -n1)
	if [[ $last != *" errors=0 "* ]]; then
		WHY="$name: $last"
		return 1
	fi
}
stop_vm() {	# NAME
	[ -n "${PID[$1]:-}" ] || return 0
	"$KITE" ctl "$OUT/$1.sock" stop >/dev/null 2>&1 || kill "${PID[$1]}" 2>/dev/null || true
	wait_gone "$1" 10 || { kill -9 "${PID[$1]}" 2>/dev/null || true; wait_gone "$1" 5 || true; }
}
start_proxy() {	# LISTEN TARGET MODE [ARG]
	rm -f "$OUT/proxy.out"
	python3 "$PROXY" "$@" >"$OUT/proxy.out" 2>&1 &
	PID[proxy]=$!
	wait_count "$OUT/proxy.out" '^listening' 1 10
}
stop_proxy() {
	[ -n "${PID[proxy]:-}" ] || return 0
	wait_gone proxy 5 || { kill "${PID[proxy]}" 2>/dev/null || true; wait_gone proxy 5 || true; }
}
# refused NAME: a destination that must have failed: exited non-zero with a
# "kite: " line (unless killed), never ran the guest.
refused() {
	local name=$1 killed=${2:-}
	if ! wait_gone "$name" 30; then
		WHY="the destination still runs 30 s after the fault"
		kill -9 "${PID[$name]}" 2>/dev/null || true
		wait_gone "$name" 5 || true
		return 1
	fi
	if [ "$RC" = 0 ]; then
		WHY="the destination exited 0"
		return 1
	fi
	if [ -z "$killed" ] && ! grep -q '^kite: ' "$OUT/$name.err"; then
		WHY="the destination exited $RC without a 'kite: ' line ($(tail -n1 "$OUT/$name.err"))"
		return 1
	fi
	if grep -q '^MIGWORK ' "$OUT/$name.log" 2>/dev/null; then
		WHY="the destination ran the guest"
		return 1
	fi
}
# migrate_failed SRC: kite ctl migrate must have exited 1 with a reason.
migrate_failed() {
	local rc
	rc=$(cat "$OUT/$1.mig-rc" 2>/dev/null || echo none)
	if [ "$rc" != 1 ]; then
		WHY="kite ctl migrate exited $rc, not 1 ($(tail -n1 "$OUT/$1.mig-err"))"
		return 1
	fi
	if [ ! -s "$OUT/$1.mig-err" ]; then
		WHY="kite ctl migrate failed without a reason on stderr"
		return 1
	fi
}
# src_survived SRC: the failed migration left the source running, intact.
src_survived() {
	intact "$1" 30
}

# --- moves-5 ---
case_moves() {
	local ports cur=m0 new i port
	ports=("$(free_port)" "$(free_port)")
	source_vm m0 || { report moves-5 FAIL "$WHY"; stop_vm m0; return; }
	for ((i = 1; i <= 5; i++)); do
		new=m$i
		port=${ports[$(((i - 1) % 2))]}
		if ! dest_vm "$new" "$port"; then
			report moves-5 FAIL "move $i: $WHY" "$OUT/$new.err"
			stop_vm "$cur"; stop_vm "$new"; return
		fi
		migrate "$cur" "$port" --max-downtime 300
		if [ "$RC" != 0 ]; then
			report moves-5 FAIL "move $i: kite ctl migrate exited $RC: $(tail -n1 "$OUT/$cur.mig-err")" "$OUT/$cur.log"
			stop_vm "$cur"; stop_vm "$new"; return
		fi
		if ! wait_gone "$cur" 30 || [ "$RC" != 0 ]; then
			report moves-5 FAIL "move $i: the old side ($cur) did not exit 0 (status $RC)" "$OUT/$cur.err"
			stop_vm "$cur"; stop_vm "$new"; return
		fi
		if ! intact "$new"; then
			report moves-5 FAIL "move $i: $WHY" "$OUT/$new.log"
			stop_vm "$new"; return
		fi
		echo "      move $i ($cur -> $new, port $port): $(tail -n1 "$OUT/$cur.mig-out" | cut -c1-120)"
		cur=$new
	done
	report moves-5 OK "5 moves, guest intact after each: $(grep '^MIGWORK ' "$OUT/$cur.log" | tail -n1 | cut -c1-100)"
	stop_vm "$cur"
}

# --- status-json: the documented fields, mid-migration ---
case_status() {
	local port pport st k missing="" seen="" mig
	port=$(free_port) pport=$(free_port)
	source_vm s0 || { report status-json FAIL "$WHY"; stop_vm s0; return; }
	dest_vm s1 "$port" || { report status-json FAIL "$WHY"; stop_vm s0; stop_vm s1; return; }
	start_proxy "$pport" "$port" slow 50000000
	rm -f "$OUT/s0.mig-rc"
	migrate s0 "$pport" --json &
	mig=$!
	for ((k = 0; k < 300; k++)); do
		st=$("$KITE" ctl "$OUT/s0.sock" migrate-status --json 2>/dev/null || true)
		case $(jfield "$st" state) in
		active|completing) seen=$st; break ;;
		completed|failed|cancelled) break ;;
		esac
		sleep 0.1
	done
	bg_done "$mig" s0
	stop_proxy
	if [ "$RC" != 0 ]; then
		report status-json FAIL "kite ctl migrate exited $RC: $(tail -n1 "$OUT/s0.mig-err")"
	elif [ -z "$seen" ]; then
		report status-json FAIL "migrate-status never said active (last: ${st:0:160})"
	else
		for k in ok state iteration bytes_sent ram_total ram_remaining dirty_rate bandwidth \
			expected_downtime_ms total_ms downtime_ms; do
			python3 -c 'import json, sys; sys.exit(sys.argv[2] not in json.loads(sys.argv[1]))' \
				"$seen" "$k" || missing+=" $k"
		done
		if [ -n "$missing" ]; then
			report status-json FAIL "fields missing:$missing (${seen:0:160})"
		elif ! wait_gone s0 30 || ! intact s1; then
			report status-json FAIL "after the migration: ${WHY:-the source did not exit}" "$OUT/s1.log"
		else
			report status-json OK "mid-stream: ${seen:0:110}"
		fi
	fi
	stop_vm s0; stop_vm s1
}

# --- snapshot-restore ---
case_snapshot() {
	local snap=$OUT/vm.snap
	rm -f "$snap"
	source_vm p0 || { report snapshot-restore FAIL "$WHY"; stop_vm p0; return; }
	# Paused first: the disks must not run ahead of the snapshot.
	if ! "$KITE" ctl "$OUT/p0.sock" pause >/dev/null 2>"$OUT/p0.ctl-err" ||
	   ! "$KITE" ctl "$OUT/p0.sock" snapshot "$snap" >/dev/null 2>>"$OUT/p0.ctl-err"; then
		report snapshot-restore FAIL "pause/snapshot: $(tail -n1 "$OUT/p0.ctl-err")"
		stop_vm p0; return
	fi
	stop_vm p0
	rm -f "$OUT/p1.log" "$OUT/p1.sock"
	"${KITE_PRE[@]}" "$KITE" run --restore "$snap" --api-socket "$OUT/p1.sock" --console "file=$OUT/p1.log" \
		>"$OUT/p1.out" 2>"$OUT/p1.err" &
	PID[p1]=$!
	if intact p1 30; then
		report snapshot-restore OK "$(stat -c %s "$snap") bytes; restored guest: $(grep '^MIGWORK ' "$OUT/p1.log" | tail -n1 | cut -c1-90)"
	else
		report snapshot-restore FAIL "$WHY" "$OUT/p1.log"
	fi
	stop_vm p1
	rm -f "$snap"
}

# --- faults, all against one source F (restarted if one kills it) ---
ensure_source() {
	if [ -n "${PID[F]:-}" ] && kill -0 "${PID[F]}" 2>/dev/null; then
		return 0
	fi
	source_vm F
}
# fault NAME MODE [ARG]: migrate F through a proxy that spoils the stream.
fault() {
	local name=$1 mode=$2 arg=${3:-} port pport
	ensure_source || { report "$name" FAIL "$WHY"; return; }
	port=$(free_port) pport=$(free_port)
	dest_vm D "$port" || { report "$name" FAIL "$WHY"; stop_vm D; return; }
	start_proxy "$pport" "$port" "$mode" "$arg"
	migrate F "$pport"
	stop_proxy
	if ! migrate_failed F || ! refused D || ! src_survived F; then
		report "$name" FAIL "$WHY ($(tail -n1 "$OUT/proxy.out"))" "$OUT/D.err"
		stop_vm D
		return
	fi
	report "$name" OK "$(tail -n1 "$OUT/proxy.out" | sed 's/^migrate-proxy: //'); dst: $(grep -m1 '^kite: ' "$OUT/D.err" | cut -c1-90)"
}

case_kill_dst() {
	local port pport i mig
	ensure_source || { report kill-dst FAIL "$WHY"; return; }
	port=$(free_port) pport=$(free_port)
	dest_vm D "$port" || { report kill-dst FAIL "$WHY"; stop_vm D; return; }
	# Through a 50 MB/s relay, so that the stream is still flowing.
	start_proxy "$pport" "$port" slow 50000000
	rm -f "$OUT/F.mig-rc"
	migrate F "$pport" &
	mig=$!
	# Mid-stream: a second after the source reports bytes sent.
	for ((i = 0; i < 200; i++)); do
		[ "$(jfield "$("$KITE" ctl "$OUT/F.sock" migrate-status --json 2>/dev/null || true)" bytes_sent)" \
			-gt 0 ] 2>/dev/null && break
		sleep 0.05
	done
	sleep 1
	kill -9 "${PID[D]}" 2>/dev/null || true
	bg_done "$mig" F
	stop_proxy
	if ! migrate_failed F || ! refused D killed || ! src_survived F; then
		report kill-dst FAIL "$WHY" "$OUT/F.log"
	else
		report kill-dst OK "source: $(tail -n1 "$OUT/F.mig-err" | cut -c1-100)"
	fi
	stop_vm D
}

case_wrong_memory() {
	local port
	ensure_source || { report wrong-memory FAIL "$WHY"; return; }
	port=$(free_port)
	VM_MEM=512M dest_vm D "$port" || { report wrong-memory FAIL "$WHY"; stop_vm D; return; }
	migrate F "$port"
	if ! migrate_failed F || ! refused D || ! src_survived F; then
		report wrong-memory FAIL "$WHY" "$OUT/D.err"
	elif ! grep '^kite: ' "$OUT/D.err" | grep -Eq '256 ?M|268435456|256 MiB' ||
	     ! grep '^kite: ' "$OUT/D.err" | grep -Eq '512 ?M|536870912|512 MiB'; then
		report wrong-memory FAIL "the refusal does not name both sizes: $(grep -m1 '^kite: ' "$OUT/D.err")"
	else
		report wrong-memory OK "$(grep -m1 '^kite: ' "$OUT/D.err" | cut -c1-110)"
	fi
	stop_vm D
}

case_cancel() {
	local port pport i st mig state
	ensure_source || { report cancel FAIL "$WHY"; return; }
	port=$(free_port) pport=$(free_port)
	dest_vm D "$port" || { report cancel FAIL "$WHY"; stop_vm D; return; }
	start_proxy "$pport" "$port" slow 20000000
	rm -f "$OUT/F.mig-rc"
	migrate F "$pport" &
	mig=$!
	for ((i = 0; i < 300; i++)); do
		st=$("$KITE" ctl "$OUT/F.sock" migrate-status --json 2>/dev/null || true)
		case $(jfield "$st" state) in
		active|completed|failed|cancelled) break ;;
		esac
		sleep 0.1
	done
	sleep 1
	"$KITE" ctl "$OUT/F.sock" migrate-cancel >/dev/null 2>"$OUT/F.cancel-err" || true
	bg_done "$mig" F
	stop_proxy
	state=$(jfield "$("$KITE" ctl "$OUT/F.sock" migrate-status --json 2>/dev/null || true)" state)
	if [ "$state" != cancelled ]; then
		report cancel FAIL "migrate-status says '$state' after migrate-cancel ($(cat "$OUT/F.cancel-err"))"
	elif ! migrate_failed F || ! refused D || ! src_survived F; then
		report cancel FAIL "$WHY" "$OUT/F.log"
	else
		report cancel OK "source: $(tail -n1 "$OUT/F.mig-err" | cut -c1-60); dst: $(grep -m1 '^kite: ' "$OUT/D.err" | cut -c1-50)"
	fi
	stop_vm D
}

case_after_faults() {
	local port
	ensure_source || { report after-faults FAIL "$WHY"; return; }
	port=$(free_port)
	dest_vm A "$port" || { report after-faults FAIL "$WHY"; stop_vm A; return; }
	migrate F "$port"
	if [ "$RC" != 0 ]; then
		report after-faults FAIL "kite ctl migrate exited $RC: $(tail -n1 "$OUT/F.mig-err")"
	elif ! wait_gone F 30 || [ "$RC" != 0 ]; then
		report after-faults FAIL "the source did not exit 0 after the migration (status $RC)"
	elif ! intact A; then
		report after-faults FAIL "$WHY" "$OUT/A.log"
	else
		report after-faults OK "guest intact on the new side: $(grep '^MIGWORK ' "$OUT/A.log" | tail -n1 | cut -c1-90)"
	fi
	stop_vm A; stop_vm F
}

case_moves
case_status
case_snapshot
case_kill_dst
fault cut-16 cut 16
fault cut-64k cut 65536
fault cut-8m cut 8388608
fault truncate-1m truncate 1048576
fault corrupt-head corrupt 24
fault corrupt-ram corrupt 4194304
case_wrong_memory
case_cancel
case_after_faults
summary
