#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kite on kvmfake (tests/kvmfake/fake.h): the whole kite process — vCPU and
# I/O threads, seccomp filters, dropped capabilities, io_uring, devices,
# disks, a tap, the control socket, snapshots, restore and live migration
# — with a stand-in for /dev/kvm preloaded and a guest program written in
# C in place of guest code. For hosts without KVM (this project's CI); it
# checks everything of kite but the CPU, which guest-tests/ covers with
# real guests where KVM exists. kvmfake also checks each KVM call's
# arguments as api.rst and the VMX entry checks say, and any complaint of
# its ("kvmfake: ...") fails the case.
#   usage: tests/kvmfake.sh [BUILD]
set -uo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../guest-tests/lib.sh
source "$here/guest-tests/lib.sh"
KITE=$BUILD/kite
FAKE=$(cd "$BUILD" && pwd)/kvmfake.so
OUT=$BUILD/kvmfake
rm -rf "$OUT"
mkdir -p "$OUT"
for f in "$KITE" "$FAKE" "$BUILD/testguest.elf" "$BUILD/testguest-mb.elf"; do
	if [ ! -f "$f" ]; then
		echo "kvmfake.sh: $f is missing (run make)" >&2
		exit 1
	fi
done
# A sanitized kite: the fake comes second, and ASan must not mind.
ASAN=0
# (grep -c reads all: with pipefail, grep -q's early exit would fail nm.)
if [ "$(nm "$KITE" 2>/dev/null | grep -c __asan_init)" -gt 0 ]; then
	ASAN=1
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
fi
echo "kite on kvmfake (no guest code runs: a C guest program drives the devices), logs in $OUT"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${TAP:-}" ] && ip link del "$TAP" 2>/dev/null
}
trap cleanup EXIT

# fake ENV... -- KITE ARGS: run kite on the fake in the foreground.
fake() {
	local -a envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" LD_PRELOAD="$FAKE" timeout 60 "$KITE" run "$@"
}

# complaints LOG: the fake's complaints, if any.
complaints() {
	grep -m3 '^kvmfake: ' "$1"
}

# verdict NAME LOG STATUS WANT_STATUS: the guest program's summary says
# 0 failed, kite exited as wanted, the fake did not complain.
verdict() {
	local name=$1 log=$2 st=$3 want=$4 why=""
	if [ "$st" != "$want" ]; then
		why="kite exited $st, want $want"
	elif grep -q '^FAIL' "$log"; then
		why=$(grep -m1 '^FAIL' "$log")
	elif ! grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$log"; then
		why="no '<n> passed, 0 failed' from the guest program"
	elif complaints "$log" >/dev/null; then
		why=$(complaints "$log" | head -1)
	fi
	if [ -n "$why" ]; then
		report "$name" FAIL "$why" "$log"
	else
		report "$name" OK "$(grep -Eo '^[0-9]+ passed' "$log") by the guest program, exit $st"
	fi
}

img() {
	rm -f "$OUT/$1"
	truncate -s "$2" "$OUT/$1"
}

# --- every device kind, each boot protocol ---------------------------------
img blk0.img 8M; img blk1.img 4M; img scsi0.img 8M; img scsi1.img 2M
DEVS=(--disk "path=$OUT/blk0.img,queues=2" --disk "path=$OUT/blk1.img,readonly=on,serial=ro-disk"
      --disk "path=$OUT/scsi0.img,iface=scsi,queues=2" --disk "path=$OUT/scsi1.img,iface=scsi")
TAP=""
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null; then
	TAP=kfk$$
	ip tuntap add dev "$TAP" mode tap multi_queue vnet_hdr && ip link set "$TAP" up || TAP=""
fi
NET=()
[ -n "$TAP" ] && NET=(--net "tap=$TAP,queues=2")

log=$OUT/devices-pvh.log
fake KVMFAKE_TAP="$TAP" KVMFAKE_CMDLINE="console=ttyS0 kvmfake=1" -- --kernel "$BUILD/testguest.elf" \
	--cmdline "console=ttyS0 kvmfake=1" --cpus 2 --memory 64M "${DEVS[@]}" "${NET[@]}" >"$log" 2>&1
st=$?
verdict devices-pvh "$log" "$st" 0
if [ -z "$TAP" ]; then
	skip devices-net "SKIPPED: no tap (needs root, /dev/net/tun and ip)"
elif ! grep -q '^PASS net0-tap' "$log" || ! grep -q '^PASS net0-link' "$log"; then
	report devices-net FAIL "no PASS net0-tap and net0-link" "$log"
else
	report devices-net OK "$(grep '^PASS net0-tap' "$log" | cut -c6-); link down/up seen"
fi
for n in blk0-rw blk1-rw "scsi0-cmds.*0: 16384 blocks, 1: 4096 blocks"; do
	grep -q "^PASS $n" "$log" || report "devices-${n%%-cmds*}" FAIL "no PASS $n" "$log"
done

log=$OUT/boot-linux64.log
fake KVMFAKE_BOOT=linux64 KVMFAKE_CMDLINE="root=none" -- --kernel "$BUILD/testguest.elf" \
	--boot linux64 --cmdline "root=none" --memory 64M >"$log" 2>&1
verdict boot-linux64 "$log" $? 0

log=$OUT/boot-multiboot.log
fake KVMFAKE_BOOT=multiboot KVMFAKE_CMDLINE="mb=1" -- --kernel "$BUILD/testguest-mb.elf" \
	--cmdline "mb=1" --memory 64M --cpus 3 >"$log" 2>&1
verdict boot-multiboot "$log" $? 0

log=$OUT/boot-pvh-5g.log
fake KVMFAKE_CMDLINE="big" -- --kernel "$BUILD/testguest.elf" --cmdline big --memory 5G \
	"${DEVS[@]:0:2}" >"$log" 2>&1
verdict boot-pvh-5g "$log" $? 0

# --- kite's ends: a triple fault, a refused entry --------------------------
log=$OUT/triple-fault.log
fake KVMFAKE_GUEST=shutdown -- --kernel "$BUILD/testguest.elf" --memory 64M >"$log" 2>&1
st=$?
if [ "$st" = 120 ] && grep -q 'triple fault' "$log" && ! complaints "$log" >/dev/null; then
	report triple-fault OK "exit 120, $(grep -m1 -o 'triple fault[^)]*)' "$log")"
else
	report triple-fault FAIL "exit $st, want 120 and a triple fault message" "$log"
fi
log=$OUT/fail-entry.log
fake KVMFAKE_FAIL_ENTRY=1 -- --kernel "$BUILD/testguest.elf" --memory 64M >"$log" 2>&1
st=$?
if [ "$st" = 122 ] && grep -q 'could not enter the guest (hardware reason 0x80000021)' "$log"; then
	report fail-entry OK "exit 122, the hardware reason named"
else
	report fail-entry FAIL "exit $st, want 122 naming reason 0x80000021" "$log"
fi

# --- a running kite: privileges, filters, the control socket --------------
# start_idle NAME ENV... -- ARGS: kite in the background, its guest program
# ticking; sets PID and LOG.
start_idle() {
	local name=$1; shift
	local -a envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	LOG=$OUT/$name.log
	env KVMFAKE_GUEST=idle "${envs[@]}" LD_PRELOAD="$FAKE" "$KITE" run "$@" >"$LOG" 2>&1 &
	PID=$!
	pids+=("$PID")
	for _ in $(seq 100); do
		grep -q '^\(tick 2\|pass 16\)$' "$LOG" && return 0	# idle or dirty
		sleep 0.1
	done
	return 1
}

# wait_exit PID: sets ST to its exit status (kite must end within 20 s).
wait_exit() {
	local i
	for i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1"
	ST=$?
}

ticks() {
	grep -c '^tick ' "$1"
}

# Every kite thread: no capabilities, no_new_privs, a seccomp filter
# (the fake's own threads, made before any filter, aside). Under the
# sanitizers kite's main thread stays unfiltered (seccomp.c says why).
check_sandbox() {
	local name=$1 pid=$2 want_uid=$3 t comm bad="" n=0
	for t in /proc/"$pid"/task/*; do
		comm=$(cat "$t/comm")
		case $comm in kvmfake-*) continue ;; esac
		n=$((n + 1))
		grep -q '^CapEff:[[:space:]]*0000000000000000$' "$t/status" || bad="$bad $comm:CapEff"
		grep -q '^NoNewPrivs:[[:space:]]*1$' "$t/status" || bad="$bad $comm:NoNewPrivs"
		if ! grep -q '^Seccomp:[[:space:]]*2$' "$t/status"; then
			[ "$ASAN" = 1 ] && [ "$(basename "$t")" = "$pid" ] || bad="$bad $comm:Seccomp"
		fi
		grep -Eq "^Uid:[[:space:]]+$want_uid[[:space:]]+$want_uid[[:space:]]+$want_uid" \
			"$t/status" || bad="$bad $comm:Uid"
	done
	if [ -n "$bad" ] || [ "$n" -lt 3 ]; then
		report "$name" FAIL "${bad:- only $n threads}" "$LOG"
	else
		report "$name" OK "$n threads: CapEff 0, NoNewPrivs 1, Seccomp 2 (filter), uid $want_uid"
	fi
}

SOCK=$OUT/api.sock
img idle.img 8M; img idle-scsi.img 4M
IDLE=(--kernel "$BUILD/testguest.elf" --memory 64M --cpus 2 --disk "path=$OUT/idle.img"
      --disk "path=$OUT/idle-scsi.img,iface=scsi" --api-socket "$SOCK")
if start_idle sandbox KVMFAKE_MARK=41 -- "${IDLE[@]}" "${NET[@]}"; then
	check_sandbox sandbox "$PID" 0
	CTL=$OUT/ctl.out
	"$KITE" ctl "$SOCK" info >"$CTL" 2>&1
	if grep -q 'running' "$CTL"; then
		report ctl-info OK "$(grep -m1 devices "$CTL" | tr -s ' ')"
	else
		report ctl-info FAIL "$(head -c 200 "$CTL")"
	fi
	"$KITE" ctl "$SOCK" pause >"$CTL" 2>&1
	sleep 0.3; a=$(ticks "$LOG"); sleep 1; b=$(ticks "$LOG")
	"$KITE" ctl "$SOCK" snapshot "$OUT/idle.snap" >>"$CTL" 2>&1
	snap=$?
	"$KITE" ctl "$SOCK" resume >>"$CTL" 2>&1
	sleep 1; c=$(ticks "$LOG")
	if [ "$a" = "$b" ] && [ "$c" -gt "$b" ]; then
		report ctl-pause-resume OK "no tick while paused ($a), $((c - b)) in 1 s after resume"
	else
		report ctl-pause-resume FAIL "ticks $a, then $b paused, then $c resumed" "$LOG"
	fi
	"$KITE" ctl "$SOCK" stop >>"$CTL" 2>&1
	wait_exit "$PID"
	st=$ST
	if [ "$snap" = 0 ] && [ "$st" = 0 ] && ! complaints "$LOG" >/dev/null &&
	   ! grep -q '^FAIL' "$LOG"; then
		report ctl-snapshot-stop OK "snapshot of $(($(stat -c %s "$OUT/idle.snap") / 1024)) KiB, exit 0"
	else
		report ctl-snapshot-stop FAIL "snapshot $snap, exit $st; $(complaints "$LOG")" "$LOG"
	fi
	log=$OUT/restore.log
	fake KVMFAKE_GUEST=resume KVMFAKE_MARK=41 -- --restore "$OUT/idle.snap" >"$log" 2>&1
	verdict restore "$log" $? 0
else
	report sandbox FAIL "the idle VM did not start ticking" "$LOG"
fi

# --user: a switch of every thread to an unprivileged uid.
if [ "$(id -u)" = 0 ]; then
	rm -f "$SOCK"
	if start_idle user -- --kernel "$BUILD/testguest.elf" --memory 64M \
		--disk "path=$OUT/idle.img" --user 65534:65534; then
		check_sandbox user-65534 "$PID" 65534
		kill -TERM "$PID"
		wait_exit "$PID"
		st=$ST
		[ "$st" = 143 ] && report user-sigterm OK "SIGTERM: exit 143" ||
			report user-sigterm FAIL "SIGTERM: exit $st, want 143" "$LOG"
	else
		report user-65534 FAIL "the idle VM did not start ticking" "$LOG"
	fi
fi

# --- live migration between two kites --------------------------------------
# migrate_case NAME MODE READY DROP: a source guest program in MODE (idle or
# dirty), migrated once READY shows in its log, to a destination that checks
# what arrived. DROP=1: the fake loses dirty pages, and the destination must
# notice (a control for the check itself).
migrate_case() {
	local name=$1 mode=$2 ready=$3 drop=$4 port=$((40000 + ($$ + RANDOM) % 20000))
	local src dst srclog dstlog m sst dst_st
	local -a extra=()
	[ "$drop" = 1 ] && extra=(KVMFAKE_DROP_DIRTY=1)
	rm -f "$SOCK"
	if ! start_idle "$name-src" KVMFAKE_GUEST="$mode" KVMFAKE_MARK=42 "${extra[@]}" -- "${IDLE[@]}"; then
		grep -q "^$ready" "$LOG" || { report "$name" FAIL "the source did not start" "$LOG"; return; }
	fi
	src=$PID srclog=$LOG
	for _ in $(seq 100); do grep -q "^$ready" "$srclog" && break; sleep 0.1; done
	dstlog=$OUT/$name-dst.log
	env KVMFAKE_GUEST=resume KVMFAKE_MARK=42 KVMFAKE_DIRTY="${mode#idle}" LD_PRELOAD="$FAKE" \
		"$KITE" run "${IDLE[@]:0:10}" --incoming "tcp:127.0.0.1:$port" >"$dstlog" 2>&1 &
	dst=$!
	pids+=("$dst")
	for _ in $(seq 50); do grep -q 'waiting for a migration' "$dstlog" && break; sleep 0.1; done
	"$KITE" ctl "$SOCK" migrate "tcp:127.0.0.1:$port" >"$OUT/$name.out" 2>&1
	m=$?
	wait_exit "$src"
	sst=$ST
	wait_exit "$dst"
	dst_st=$ST
	if [ "$m" != 0 ] || [ "$sst" != 0 ] || complaints "$srclog" >/dev/null; then
		report "$name-source" FAIL "ctl $m, source exit $sst: $(head -c 200 "$OUT/$name.out")" \
			"$srclog"
	elif [ "$drop" = 1 ]; then
		if [ "$dst_st" != 0 ] && grep -q '^FAIL resume-dirty: .*left behind' "$dstlog"; then
			report "$name" OK "pages KVM did not report were caught: $(grep -m1 -o \
				'page [0-9]* holds generation [0-9]*, page 0 [0-9]*' "$dstlog")"
		else
			report "$name" FAIL "lost dirty pages went unnoticed (exit $dst_st)" "$dstlog"
		fi
	else
		report "$name-source" OK "$(grep -m1 '^migrated' "$OUT/$name.out"); source exit 0"
		verdict "$name-destination" "$dstlog" "$dst_st" 0
	fi
}
migrate_case migrate idle "tick 2" 0
migrate_case migrate-dirty dirty "pass 16" 0
migrate_case migrate-dirty-control dirty "pass 16" 1

# --- five moves back and forth, the guest dirtying all along ---------------
moves_case() {
	local i prev cur port log src dst why="" detail=""
	rm -f "$OUT"/move-*.sock
	env KVMFAKE_GUEST=dirty KVMFAKE_MARK=44 LD_PRELOAD="$FAKE" "$KITE" run "${IDLE[@]:0:10}" \
		--api-socket "$OUT/move-0.sock" >"$OUT/move-0.log" 2>&1 &
	src=$!
	pids+=("$src")
	for _ in $(seq 100); do grep -q '^pass 16$' "$OUT/move-0.log" && break; sleep 0.1; done
	for i in 1 2 3 4 5; do
		prev=$OUT/move-$((i - 1)).sock cur=$OUT/move-$i.sock log=$OUT/move-$i.log
		port=$((40000 + (RANDOM + $$ + i) % 20000))
		env KVMFAKE_GUEST=resume KVMFAKE_MARK=44 KVMFAKE_DIRTY=1 KVMFAKE_THEN=dirty \
			LD_PRELOAD="$FAKE" "$KITE" run "${IDLE[@]:0:10}" --api-socket "$cur" \
			--incoming "tcp:127.0.0.1:$port" >"$log" 2>&1 &
		dst=$!
		pids+=("$dst")
		for _ in $(seq 50); do grep -q 'waiting for a migration' "$log" && break; sleep 0.1; done
		if ! "$KITE" ctl "$prev" migrate "tcp:127.0.0.1:$port" >"$OUT/move-$i.out" 2>&1; then
			why="move $i: $(tail -n1 "$OUT/move-$i.out")"
			break
		fi
		wait_exit "$src"
		[ "$ST" = 0 ] || { why="move $i: the source exited $ST"; break; }
		for _ in $(seq 100); do grep -q '^dirtying on' "$log" && break; sleep 0.1; done
		if grep -q '^FAIL' "$log" || ! grep -q '^PASS resume-dirty' "$log" ||
		   ! grep -q '^dirtying on' "$log"; then
			why="move $i: $(grep -m1 '^FAIL' "$log" || echo "no consistent guest")"
			break
		fi
		detail="$detail$(grep -m1 '^migrated' "$OUT/move-$i.out" | sed 's/.*downtime \([0-9]* ms\).*/\1/'), "
		sleep 0.5
		src=$dst
	done
	if [ -z "$why" ]; then
		"$KITE" ctl "$OUT/move-5.sock" stop >/dev/null 2>&1
		wait_exit "$src"
		[ "$ST" = 0 ] || why="the last kite exited $ST"
	fi
	if [ -n "$why" ]; then
		report moves-5 FAIL "$why" "$OUT/move-$i.log"
	else
		report moves-5 OK "5 moves back and forth while dirtying, each consistent; downtimes ${detail%, }"
	fi
	rm -f "$OUT"/move-*.sock
}
moves_case

# --- migration faults: the source's guest must run on, untouched ------------
# One source (dirtying, so the stream has data), faults through
# guest-tests/migrate-proxy.py or at the destination; after each, the
# source's guest still makes progress, the destination failed with a
# message, and a last clean migration must bring over a consistent guest.
PROXY=$here/guest-tests/migrate-proxy.py
rm -f "$SOCK"
FSRC_PID=""
if start_idle fault-src KVMFAKE_GUEST=dirty KVMFAKE_MARK=43 -- "${IDLE[@]}"; then
	FSRC_PID=$PID
	FSRC_LOG=$LOG
	for _ in $(seq 100); do grep -q '^pass 16$' "$FSRC_LOG" && break; sleep 0.1; done
fi
passes() {
	grep -c '^pass ' "$FSRC_LOG"
}
# fault_case NAME DST_EXTRA PROXY_MODE [ARG] -- the proxy (or none: "-")
# between source and destination; ACTION in $FAULT_ACTION: none, kill, cancel.
fault_case() {
	local name=$1 mem=$2 mode=$3 arg=${4:-} port=$((40000 + (RANDOM + $$) % 20000)) pport
	local dst dstlog=$OUT/$name-dst.log mig before after st ppid="" target
	pport=$((port + 1))
	if [ -z "$FSRC_PID" ] || ! kill -0 "$FSRC_PID" 2>/dev/null; then
		report "$name" FAIL "the faults' source is not running" "${FSRC_LOG:-/dev/null}"
		return
	fi
	env KVMFAKE_GUEST=resume LD_PRELOAD="$FAKE" "$KITE" run --kernel "$BUILD/testguest.elf" \
		--memory "$mem" --cpus 2 --disk "path=$OUT/idle.img" \
		--disk "path=$OUT/idle-scsi.img,iface=scsi" --incoming "tcp:127.0.0.1:$port" \
		>"$dstlog" 2>&1 &
	dst=$!
	pids+=("$dst")
	for _ in $(seq 50); do grep -q 'waiting for a migration' "$dstlog" && break; sleep 0.1; done
	target=$port
	if [ "$mode" != - ]; then
		python3 "$PROXY" "$pport" "$port" "$mode" $arg >"$OUT/$name-proxy.out" 2>&1 &
		ppid=$!
		pids+=("$ppid")
		for _ in $(seq 50); do grep -q listening "$OUT/$name-proxy.out" && break; sleep 0.1; done
		target=$pport
	fi
	before=$(passes)
	"$KITE" ctl "$SOCK" migrate "tcp:127.0.0.1:$target" >"$OUT/$name.out" 2>&1 &
	mig=$!
	case ${FAULT_ACTION:-none} in
	kill)   sleep 1; kill -9 "$dst" 2>/dev/null ;;
	cancel)
		sleep 1
		"$KITE" ctl "$SOCK" migrate-status --json >"$OUT/$name.status" 2>&1
		"$KITE" ctl "$SOCK" migrate-cancel >>"$OUT/$name.out" 2>&1
		"$KITE" ctl "$SOCK" migrate-status --json >>"$OUT/$name.status" 2>&1 ;;
	esac
	wait "$mig"
	st=$?
	wait_exit "$dst"
	[ -n "$ppid" ] && kill "$ppid" 2>/dev/null
	sleep 0.5
	after=$(passes)
	if [ "$st" = 0 ]; then
		report "$name" FAIL "the migration succeeded: $(tail -n1 "$OUT/$name.out")" "$dstlog"
	elif ! kill -0 "$FSRC_PID" 2>/dev/null || [ "$after" -le "$before" ]; then
		report "$name" FAIL "the source's guest stopped (passes $before -> $after)" "$FSRC_LOG"
	elif [ "$ST" = 0 ] || ! grep -q '^kite: ' "$dstlog" && [ "${FAULT_ACTION:-}" != kill ]; then
		report "$name" FAIL "the destination exited $ST without a message" "$dstlog"
	elif grep -q '^kvmfake guest program' "$dstlog"; then
		report "$name" FAIL "the destination ran the guest" "$dstlog"
	else
		local said
		said=$(grep '^kite: ' "$dstlog" | grep -v -m1 'waiting for' | cut -c7-90)
		report "$name" OK "source runs on ($before -> $after passes); destination exit $ST${said:+: $said}"
	fi
}
FAULT_ACTION=kill fault_case fault-kill-dst 64M slow 4000000
fault_case fault-cut-16 64M cut 16
fault_case fault-cut-64k 64M cut 65536
fault_case fault-cut-8m 64M cut 8388608
fault_case fault-truncate-1m 64M truncate 1048576
fault_case fault-corrupt-head 64M corrupt 20
fault_case fault-corrupt-ram 64M corrupt 4194404
fault_case fault-wrong-memory 128M -
if grep -q '^kite: .*64 MiB.*128 MiB\|^kite: .*128 MiB.*64 MiB' "$OUT/fault-wrong-memory-dst.log"; then
	report fault-wrong-memory-message OK "$(grep -m1 '^kite: .*MiB' "$OUT/fault-wrong-memory-dst.log" | cut -c1-100)"
else
	report fault-wrong-memory-message FAIL "the refusal does not name both sizes" \
		"$OUT/fault-wrong-memory-dst.log"
fi
FAULT_ACTION=cancel fault_case fault-cancel 64M slow 2000000
# migrate-status --json while it ran, then after the cancel.
st_json=$OUT/fault-cancel.status
if python3 - "$st_json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a, b = lines[0], lines[-1]
keys = ("iteration", "bytes_sent", "ram_total", "ram_remaining", "dirty_rate", "bandwidth",
        "expected_downtime_ms", "total_ms")
assert a["state"] == "active", a
assert all(isinstance(a[k], int) for k in keys), a
assert a["bytes_sent"] > 0 and a["ram_total"] == 64 << 20, a
assert b["state"] == "cancelled", b
PY
then
	report migrate-status-json OK "$(head -c 150 "$st_json")"
else
	report migrate-status-json FAIL "migrate-status --json: $(head -c 300 "$st_json")"
fi
# After all that, a clean move must bring a consistent guest over.
if [ -n "$FSRC_PID" ] && kill -0 "$FSRC_PID" 2>/dev/null; then
	port=$((40000 + (RANDOM + $$) % 20000))
	env KVMFAKE_GUEST=resume KVMFAKE_MARK=43 KVMFAKE_DIRTY=1 LD_PRELOAD="$FAKE" "$KITE" run \
		"${IDLE[@]:0:10}" --incoming "tcp:127.0.0.1:$port" >"$OUT/fault-after-dst.log" 2>&1 &
	dst=$!
	pids+=("$dst")
	for _ in $(seq 50); do grep -q 'waiting for a migration' "$OUT/fault-after-dst.log" && break; sleep 0.1; done
	"$KITE" ctl "$SOCK" migrate "tcp:127.0.0.1:$port" >"$OUT/fault-after.out" 2>&1
	wait_exit "$FSRC_PID"
	sst=$ST
	wait_exit "$dst"
	if [ "$sst" = 0 ]; then
		verdict fault-after-faults "$OUT/fault-after-dst.log" "$ST" 0
	else
		report fault-after-faults FAIL "the source exited $sst" "$FSRC_LOG"
	fi
fi

# --- a hostile guest -------------------------------------------------------
img h0.img 8M; img hs.img 8M; img good.img 8M
log=$OUT/hostile.log
fake KVMFAKE_GUEST=hostile KVMFAKE_SECS=5 KVMFAKE_SEED="${HOSTILE_SEED:-1}" -- \
	--kernel "$BUILD/testguest.elf" --memory 64M --cpus 2 --disk "path=$OUT/h0.img" \
	--disk "path=$OUT/hs.img,iface=scsi" "${NET[@]}" --disk "path=$OUT/good.img" >"$log" 2>&1
verdict hostile "$log" $? 0

# --- the seccomp hook: a forbidden call kills kite, named ------------------
for role in vcpu io main; do
	log=$OUT/seccomp-$role.log
	# (In a subshell whose stderr is dropped: bash's "Bad system call".)
	(env KVMFAKE_GUEST=idle KITE_SECCOMP_TEST=$role LD_PRELOAD="$FAKE" timeout 30 "$KITE" run \
		--kernel "$BUILD/testguest.elf" --memory 64M --disk "path=$OUT/idle.img" >"$log" 2>&1
	exit $?) 2>/dev/null
	st=$?
	if [ "$st" = 159 ] && grep -q "seccomp: .*socket" "$log"; then
		report "seccomp-kill-$role" OK "SIGSYS (exit 159): $(grep -m1 -o 'seccomp: .*' "$log" | cut -c1-70)"
	else
		report "seccomp-kill-$role" FAIL "exit $st, want 159 and a line naming socket" "$log"
	fi
done

summary
