#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot the test guest under kite across the matrix and check that every case
# PASSes and that each run ends with the exit status it asked for.
#   usage: guest-tests/kite-guest.sh [BUILD]
# Matrix: 1, 2 and 4 vCPUs x 64M, 512M, 3584M and 4608M (PVH); linux64 and
# Multiboot entries (--boot given, and auto-detected where it is not); --hugepages 2M (pages reserved for the run, the old
# count restored after); --numa-node 0; exit=poweroff, reset and reset-kbd
# (kite status 0); a deliberate guest fault (kite status 3). With a virtio-blk
# disk (--disk, an 8 MiB raw image made in BUILD/guest-tests/kite) the blk-*
# cases: 1, 2 and 4 vCPUs, interrupts and polling, split and merged layouts,
# EVENT_IDX and INDIRECT_DESC refused by the driver, cache=writeback, a
# read-only disk, and malformed requests (hostile=1). With iface=scsi disks
# (one, two or a 4-queue controller) the scsi-* cases in the same variations,
# two targets on one controller among them.
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

# KITE_GUEST_CPU=emu: without KVM, kvmfake's emulated CPU (an interpreter)
# instead of its native one.
if [ "${KITE_GUEST_CPU:-native}" = emu ] && [ -z "$(kvm_unusable_reason)" ]; then
	echo "SKIPPED: kite guest tests on the emulated CPU: /dev/kvm is usable, and the stand-in is for hosts without it"
	SKIPPED=1
	summary
	exit 0
fi
if ! kite_cpu "$BUILD" "${KITE_GUEST_CPU:-native}"; then
	echo "SKIPPED: kite guest tests: $KITE_CPU_WHY"
	SKIPPED=1
	summary
	exit 0
fi
KITE=$BUILD/kite
KITE_RUN=("${KITE_PRE[@]}" "$KITE")	# the native CPU's preload, where there is no KVM
for f in "$KITE" "$BUILD/testguest.elf" "$BUILD/testguest-mb.elf"; do
	if [ ! -f "$f" ]; then
		echo "kite-guest: $f is missing (run: make BUILD=$BUILD)" >&2
		exit 1
	fi
done
OUT=$BUILD/guest-tests/kite
mkdir -p "$OUT"
echo "kite guest tests, logs in $OUT"
[ -z "$KITE_CPU_NOTE" ] || echo "kite-guest: $KITE_CPU_NOTE"

# --- hugepages: reserve what a run needs, give back what we added ---
HP_FILE=/proc/sys/vm/nr_hugepages
HP_OLD=
hp_restore() {
	if [ -n "$HP_OLD" ]; then
		echo "$HP_OLD" >"$HP_FILE" 2>/dev/null ||
			echo "kite-guest: could not restore $HP_FILE to $HP_OLD" >&2
	fi
}
trap hp_restore EXIT

hp_free() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }

# hp_reserve PAGES: make PAGES free 2 MiB pages available, else set HP_WHY.
# (Not called in a subshell: HP_OLD must survive for the EXIT trap.)
HP_WHY=
hp_reserve() {
	local need=$1 free
	if ! grep -q '^Hugepagesize: *2048 kB' /proc/meminfo; then
		HP_WHY="the default hugepage size is not 2 MiB"
		return 1
	fi
	free=$(hp_free)
	[ "$free" -ge "$need" ] && return 0
	if [ ! -w "$HP_FILE" ]; then
		HP_WHY="$free free 2 MiB hugepages, $need needed, and $HP_FILE is not writable"
		return 1
	fi
	[ -n "$HP_OLD" ] || HP_OLD=$(cat "$HP_FILE")
	echo $(($(cat "$HP_FILE") + need - free)) >"$HP_FILE" || true
	free=$(hp_free)
	if [ "$free" -lt "$need" ]; then
		HP_WHY="could reserve only $free of $need 2 MiB hugepages"
		return 1
	fi
}

mib() {	# 4608M -> 4608
	case $1 in
	*G) echo $((${1%G} * 1024)) ;;
	*M) echo "${1%M}" ;;
	esac
}

# KITE_GUEST_ONLY=REGEX: run only the cases whose names match (make test
# runs a part of the matrix on the emulated CPU); the others are not run
# and not counted.
wanted() {
	[ -z "${KITE_GUEST_ONLY:-}" ] || [[ $1 =~ $KITE_GUEST_ONLY ]]
}

# run_case NAME KERNEL CPUS MEM EXPECT ARGS [KITE OPTIONS...]
#   EXPECT  status:N (the guest's debug-exit value) or shutdown (power-off or
#           reset, which kite ends with status 0)
run_case() {
	local name=$1 kernel=$2 cpus=$3 mem=$4 expect=$5 args=$6
	shift 6
	local log=$OUT/$name.log err=$OUT/$name.kite-out st got why opt
	local -a extra=()
	wanted "$name" || return 0
	if [ -n "$KITE_NATIVE" ] && [ "${KITE_GUEST_CPU:-native}" = native ] && [ -n "$KITE_ASAN" ] &&
	   [ "$(mib "$mem")" -gt 2048 ]; then
		skip "$name" "a sanitized kite on the native CPU: guest RAM above 2 GiB would sit on ASan's shadow"
		return
	fi
	for opt in "$@"; do
		if [ "$opt" = --hugepages ]; then
			if ! hp_reserve $(($(mib "$mem") / 2 + 8)); then
				skip "$name" "$HP_WHY"
				return
			fi
		fi
	done
	[ -z "$KITE_NATIVE" ] || [ "${KITE_GUEST_CPU:-native}" = emu ] || args="$args cpuid=host"
	args="$args cmdline_crc=$(crc32_hex "$args")"
	rm -f "$log"
	set +e
	timeout 300 "${KITE_RUN[@]}" run --kernel "$kernel" --cpus "$cpus" --memory "$mem" \
		--cmdline "$args" --console "file=$log" "$@" >"$err" 2>&1
	st=$?
	set -e
	case $st in
	124) got=timeout ;;
	*)   got=status:$st ;;
	esac
	# A power-off or reset ends kite with status 0, like a debug-exit of 0:
	# the guest's own "exit: ..." line tells them apart.
	if [ "$expect" = shutdown ] && [ "$got" = status:0 ]; then
		got=shutdown
	fi
	if [ "$got" != "$expect" ]; then
		report "$name" FAIL "expected $expect, got $got ($(tail -n1 "$err" 2>/dev/null))" "$log"
		return
	fi
	case $args in
	*mode=fault*)
		why=$(grep -q '^FATAL: exception 14 (#PF)' "$log" || echo "no #PF report") ;;
	*mode=triple*)
		why=$(grep -q 'triple fault' "$err" && grep -q 'rip=' "$err" ||
			echo "kite did not report the triple fault with registers") ;;
	*mode=hostile*)
		why=$(check_hostile_log "$log") || true
		if [ -z "$why" ] && grep -q 'AddressSanitizer\|runtime error:' "$err"; then
			why="kite: $(grep -m1 'AddressSanitizer\|runtime error:' "$err")"
		fi ;;
	*)
		case " $args " in *" blk=1 "*) extra=("${BLK_CASES[@]}") ;; esac
		case " $args " in *" scsi=1 "*) extra+=("${SCSI_CASES[@]}") ;; esac
		why=$(check_test_log "$log" "${extra[@]}") || true
		if [ -z "$why" ] && [ "$expect" = shutdown ] && ! grep -q '^exit: ' "$log"; then
			why="status 0 but the guest did not say it powered off or reset"
		fi ;;
	esac
	if [ -n "$why" ]; then
		report "$name" FAIL "$why" "$log"
	else
		report "$name" OK "$cpus vCPU, $mem, $expect${*:+, $*}"
	fi
}

ELF=$BUILD/testguest.elf
MB=$BUILD/testguest-mb.elf

for cpus in 1 2 4; do
	for mem in 64M 512M 3584M 4608M; do
		run_case "pvh-${cpus}cpu-$mem" "$ELF" "$cpus" "$mem" status:0 \
			"mem=$mem cpus=$cpus expect_boot=pvh" --boot pvh
	done
done
run_case linux64-1cpu-64M     "$ELF" 1 64M   status:0 "mem=64M cpus=1 expect_boot=linux64" --boot linux64
run_case linux64-2cpu-512M    "$ELF" 2 512M  status:0 "mem=512M cpus=2 expect_boot=linux64" --boot linux64
run_case linux64-4cpu-4608M   "$ELF" 4 4608M status:0 "mem=4608M cpus=4 expect_boot=linux64" --boot linux64
run_case multiboot-1cpu-64M   "$MB"  1 64M   status:0 "mem=64M cpus=1 expect_boot=multiboot"
run_case multiboot-2cpu-512M  "$MB"  2 512M  status:0 "mem=512M cpus=2 expect_boot=multiboot" --boot multiboot
run_case multiboot-4cpu-4608M "$MB"  4 4608M status:0 "mem=4608M cpus=4 expect_boot=multiboot"
run_case hugepages-pvh-2cpu-512M       "$ELF" 2 512M  status:0 "mem=512M cpus=2" --hugepages 2M
run_case hugepages-linux64-4cpu-4608M  "$ELF" 4 4608M status:0 "mem=4608M cpus=4" --boot linux64 --hugepages 2M
run_case hugepages-multiboot-2cpu-3584M "$MB" 2 3584M status:0 "mem=3584M cpus=2" --hugepages 2M
run_case numa0-pvh-2cpu-512M  "$ELF" 2 512M  status:0 "mem=512M cpus=2" --numa-node 0
run_case numa0-hugepages-2cpu-512M "$ELF" 2 512M status:0 "mem=512M cpus=2" --numa-node 0 --hugepages 2M
run_case exit-poweroff        "$ELF" 2 64M   shutdown "mem=64M cpus=2 exit=poweroff"
run_case exit-reset           "$ELF" 1 64M   shutdown "mem=64M cpus=1 exit=reset"
run_case exit-reset-kbd       "$ELF" 1 64M   shutdown "mem=64M cpus=1 exit=reset-kbd"
run_case exit-poweroff-linux64 "$ELF" 1 64M  shutdown "mem=64M cpus=1 exit=poweroff" --boot linux64
run_case fault                "$ELF" 1 64M   status:3 "mode=fault"
run_case triple-fault         "$ELF" 1 64M   status:120 "mode=triple"

# The test disk: a fresh 8 MiB raw image, so a full pass covers every sector.
IMG=$OUT/blk.img
rm -f "$IMG"
truncate -s 8M "$IMG"

# run_blk NAME CPUS ARGS [DISK OPTS [QUEUES]]: PVH, 64M, the disk as
# QEMU's run of the same cases has it (two queues, a serial).
run_blk() {
	local name=$1 cpus=$2 args=$3 opts=${4:-} queues=${5:-2}
	run_case "$name" "$ELF" "$cpus" 64M status:0 "cpus=$cpus blk=1 $args" \
		--disk "path=$IMG,iface=blk,queues=$queues,serial=kite-test$opts"
}
run_blk blk-1cpu-irq             1 "blk_serial=kite-test"
run_blk blk-2cpu-poll            2 "blk_serial=kite-test blk_wait=poll"
run_blk blk-4cpu-irq-4q          4 "blk_serial=kite-test" "" 4
run_blk blk-2cpu-irq-merged      2 "layout=merged"
run_blk blk-1cpu-poll-merged     1 "layout=merged blk_wait=poll"
run_blk blk-2cpu-irq-no-features 2 "event_idx=0 indirect=0"
run_blk blk-2cpu-irq-writeback   2 "" ",cache=writeback"
run_blk blk-2cpu-irq-readonly    2 "blk_ro=1 blk_serial=kite-test" ",readonly=on"
run_blk blk-2cpu-irq-hostile     2 "hostile=1"
run_blk blk-1cpu-poll-hostile-merged 1 "hostile=1 layout=merged blk_wait=poll"

# run_scsi NAME CPUS TARGETS ARGS [DISK OPTS [QUEUES]]: PVH, 64M, TARGETS
# iface=scsi disks (targets 0..TARGETS-1 of one controller, LUN 0), each a
# fresh 8 MiB image with serial kite-scsiN, as QEMU's run of the same cases
# has them; scsi_strict=1: kite's own answers are checked too.
run_scsi() {
	local name=$1 cpus=$2 ntgt=$3 args=$4 opts=${5:-} queues=${6:-2} t
	local -a disks=()
	for ((t = 0; t < ntgt; t++)); do
		rm -f "$OUT/scsi$t.img"
		truncate -s 8M "$OUT/scsi$t.img"
		disks+=(--disk "path=$OUT/scsi$t.img,iface=scsi,queues=$queues,serial=kite-scsi$t$opts")
	done
	run_case "$name" "$ELF" "$cpus" 64M status:0 \
		"cpus=$cpus scsi=1 scsi_targets=$ntgt scsi_serial=kite-scsi scsi_strict=1 $args" \
		"${disks[@]}"
}
run_scsi scsi-1cpu-irq                 1 1 ""
run_scsi scsi-2cpu-poll-2tgt           2 2 "scsi_wait=poll"
run_scsi scsi-4cpu-irq-4q              4 1 "" "" 4
run_scsi scsi-2cpu-irq-2tgt-merged     2 2 "layout=merged"
run_scsi scsi-1cpu-poll-merged         1 1 "layout=merged scsi_wait=poll"
run_scsi scsi-2cpu-irq-no-features     2 1 "event_idx=0 indirect=0"
run_scsi scsi-2cpu-irq-2tgt-writeback  2 2 "" ",cache=writeback"
run_scsi scsi-2cpu-irq-2tgt-readonly   2 2 "scsi_ro=1" ",readonly=on"
run_scsi scsi-2cpu-irq-hostile         2 1 "hostile=1"
run_scsi scsi-1cpu-poll-hostile-merged 1 1 "hostile=1 layout=merged scsi_wait=poll"

# mode=hostile: every virtio device but the last virtio-blk disk attacked
# for 5 s (malformed chains and rings, illegal negotiation and register
# use), then each must reset and serve a valid request, the last disk
# verifying all along. kite must end with the guest's status (0), not a
# crash. Every attack, the ones QEMU 7.2 aborts on too (qemu-guest.sh).
# The NIC needs a tap (root, /dev/net/tun): kite creates kh-PID and removes
# it at exit; without one the run has no NIC. HOSTILE_SEED picks another
# attack sequence.
run_hostile() {
	local name=$1 cpus=$2 args=$3 d
	local -a devs=()
	for d in hostile0 hostile1 hostile-scsi; do
		rm -f "$OUT/$d.img"
		truncate -s 8M "$OUT/$d.img"
	done
	devs=(--disk "path=$OUT/hostile0.img,iface=blk,queues=1"
	      --disk "path=$OUT/hostile1.img,iface=blk,queues=1"
	      --disk "path=$OUT/hostile-scsi.img,iface=scsi,queues=1")
	if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
		devs+=(--net "tap=kh-$$")
	fi
	run_case "$name" "$ELF" "$cpus" 64M status:0 "mode=hostile $args" "${devs[@]}"
}
run_hostile hostile-2cpu 2 "hostile_secs=5 seed=${HOSTILE_SEED:-1}"
run_hostile hostile-1cpu 1 "hostile_secs=5 seed=$((${HOSTILE_SEED:-1} + 1))"

# SIGINT and SIGTERM stop a running VM cleanly with status 128 + signal.
signal_case() {
	local sig=$1 want=$2 log=$OUT/signal-$1.log pid st
	wanted "signal-$sig" || return 0
	rm -f "$log"
	"${KITE_RUN[@]}" run --kernel "$ELF" --memory 64M --cmdline "mode=idle" \
		--console "file=$log" >"$OUT/signal-$sig.kite-out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q '^idle:' "$log" 2>/dev/null && break
		sleep 0.1
	done
	kill -s "$sig" "$pid" 2>/dev/null
	set +e
	timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid"
	st=$?
	set -e
	if ! grep -q '^idle:' "$log" 2>/dev/null; then
		report "signal-$sig" FAIL "the guest never reached idle" "$log"
	elif [ "$st" != "$want" ]; then
		report "signal-$sig" FAIL "expected status $want after SIG$sig, got $st" "$log"
	else
		report "signal-$sig" OK "stopped with status $st"
	fi
}
signal_case TERM 143
signal_case INT 130

# The control socket: info, pause, resume, stop through kite ctl.
control_case() {
	local log=$OUT/control.log sock=$OUT/control.sock pid st why=
	wanted control || return 0
	rm -f "$log" "$sock"
	"${KITE_RUN[@]}" run --kernel "$ELF" --cpus 2 --memory 64M --cmdline "mode=idle" \
		--api-socket "$sock" --console "file=$log" >"$OUT/control.kite-out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q '^idle:' "$log" 2>/dev/null && break
		sleep 0.1
	done
	"$KITE" ctl "$sock" info | grep -q '^state: *running' || why="info: not running"
	[ -z "$why" ] && { "$KITE" ctl "$sock" info --json | grep -q '"cpus":2' || why="info: cpus"; }
	[ -z "$why" ] && { "$KITE" ctl "$sock" pause >/dev/null || why="pause failed"; }
	[ -z "$why" ] && { "$KITE" ctl "$sock" info | grep -q '^state: *paused' || why="not paused"; }
	[ -z "$why" ] && { "$KITE" ctl "$sock" resume >/dev/null || why="resume failed"; }
	[ -z "$why" ] && { "$KITE" ctl "$sock" info | grep -q '^state: *running' || why="not resumed"; }
	[ -z "$why" ] && { "$KITE" ctl "$sock" stop >/dev/null || why="stop failed"; }
	set +e
	timeout 10 tail --pid="$pid" -f /dev/null
	kill "$pid" 2>/dev/null
	wait "$pid"
	st=$?
	set -e
	[ -z "$why" ] && [ "$st" != 0 ] && why="kite exited $st after stop"
	[ -z "$why" ] && [ -e "$sock" ] && why="socket file left behind"
	if [ -n "$why" ]; then
		report control-socket FAIL "$why" "$log"
	else
		report control-socket OK "info, pause, resume, stop"
	fi
}
control_case

# A running kite holds no capability and has no_new_privs; with --user it
# runs as that user. (Its console file is opened after the drop.)
privileges_case() {
	local name=$1 want_uid=$2; shift 2
	local log=$OUT/$name.log pid why= caps nnp uid
	wanted "$name" || return 0
	rm -f "$log"
	: >"$log"
	chmod 666 "$log"
	"${KITE_RUN[@]}" run --kernel "$ELF" --memory 64M --cmdline "mode=idle" \
		--console "file=$log" "$@" >"$OUT/$name.kite-out" 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		grep -q '^idle:' "$log" 2>/dev/null && break
		sleep 0.1
	done
	caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true	# 143: stopped by the TERM above
	grep -q '^idle:' "$log" || why="the guest never reached idle"
	[ -z "$why" ] && [ "$caps" != 0000000000000000 ] && why="CapEff is $caps"
	[ -z "$why" ] && [ "$nnp" != 1 ] && why="NoNewPrivs is $nnp"
	[ -z "$why" ] && [ "$uid" != "$want_uid" ] && why="uid is $uid, expected $want_uid"
	if [ -n "$why" ]; then
		report "$name" FAIL "$why" "$log"
	else
		report "$name" OK "CapEff 0, NoNewPrivs 1, uid $uid"
	fi
}
privileges_case privileges-root "$(id -u)"
privileges_case privileges-user 65534 --user 65534:65534

summary
