#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Data safety of virtio-blk: SIGKILL the VMM in the middle of a write
# workload; a fresh VMM then verifies that every write the guest saw
# complete before its last completed FLUSH is on the image.
#   usage: guest-tests/blk-data-safety.sh [BUILD]
# The test guest's mode=blk-writer (blk_safety.c) writes numbered,
# checksummed 4 KiB blocks in order over a 64 MiB image, sends a FLUSH after
# every 32 completed writes and prints "durable N" when one completes. At
# each kill point (durable >= 2000, 5000, 9000 blocks) the VMM gets SIGKILL,
# and blocks 0..N-1 (N: the highest durable line in the log) are checked
# twice: by mode=blk-verify under a fresh VMM, and from the host by
# blk-safety-check.py, which shares no code with the guest. Every round has
# a new run ID, so blocks an earlier round left cannot pass; rounds
# alternate cache=none and cache=writeback. Under kite (needs /dev/kvm) and
# under QEMU, which proves the script and the guest's side (KVM if usable,
# else TCG: this is a correctness check, not a figure).
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

KITE=$BUILD/kite
ELF=$BUILD/testguest.elf
QEMU=${QEMU:-qemu-system-x86_64}
OUT=$BUILD/guest-tests/safety
KILL_POINTS=(2000 5000 9000)
CACHES=(none writeback none)
WAIT_SECS=30		# for a kill point to be reached

for f in "$KITE" "$ELF"; do
	if [ ! -f "$f" ]; then
		echo "blk-data-safety: $f is missing (run: make BUILD=$BUILD)" >&2
		exit 1
	fi
done
mkdir -p "$OUT"
IMG=$OUT/disk.img
if [ -z "$(kvm_unusable_reason)" ]; then ACCEL=kvm QEMU_CPUS=1; else ACCEL=tcg QEMU_CPUS=2; fi
echo "virtio-blk data safety across SIGKILL, logs in $OUT"

# vmm_cmd VMM CACHE CMDLINE LOG: the command line that boots the test guest
# on IMG (1 vCPU, 64M, one queue) under kite or QEMU, into array CMD.
vmm_cmd() {
	local vmm=$1 cache=$2 args=$3 log=$4
	if [ "$vmm" = kite ]; then
		CMD=("${KITE_PRE[@]}" "$KITE" run --kernel "$ELF" --cpus 1 --memory 64M --cmdline "$args"
			--console "file=$log" --disk "path=$IMG,queues=1,cache=$cache")
	else
		# -smp 2 under TCG: with one vCPU TCG drops the guest's memory
		# barriers, and the guest's EVENT_IDX wait loses its race with
		# QEMU's I/O thread (the second vCPU just idles).
		CMD=("$QEMU" -machine q35 -accel "$ACCEL" -nodefaults -display none -no-reboot
			-smp "$QEMU_CPUS" -m 64M -kernel "$ELF" -append "$args" -serial "file:$log"
			-device "isa-debug-exit,iobase=0xf4,iosize=0x04"
			-drive "file=$IMG,if=none,id=d0,format=raw,cache=$cache"
			-device "virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1")
	fi
}

# The highest "durable N" in a log; 0 if none. A line cut short by the kill
# can only read lower than what the guest printed, which claims less.
durable_in() {
	grep -aoE '^durable [0-9]+' "$1" 2>/dev/null | awk '$2 > m { m = $2 } END { print m + 0 }'
}

# round VMM N KILL_AT CACHE: one writer, killed at KILL_AT, then both checks.
round() {
	local vmm=$1 n=$2 kill_at=$3 cache=$4
	local name="$vmm-kill$n-cache=$cache" run wlog vlog pid t0 t1 durable st want why host
	run=$(printf '%04x%04x%02x' $RANDOM $RANDOM "$n")
	wlog=$OUT/$vmm-$n-writer.log
	vlog=$OUT/$vmm-$n-verify.log
	rm -f "$wlog" "$vlog"

	vmm_cmd "$vmm" "$cache" "mode=blk-writer blk_run=$run" "$wlog"
	t0=$(date +%s%N)
	"${CMD[@]}" >"$wlog.vmm-out" 2>&1 &
	pid=$!
	while [ "$(durable_in "$wlog")" -lt "$kill_at" ]; do
		if ! kill -0 "$pid" 2>/dev/null || grep -q '^FAIL' "$wlog" 2>/dev/null ||
		   [ $(($(date +%s%N) - t0)) -gt $((WAIT_SECS * 1000000000)) ]; then
			break
		fi
		sleep 0.02
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	t1=$(date +%s%N)
	durable=$(durable_in "$wlog")
	if [ "$durable" -lt "$kill_at" ]; then
		why=$(grep -m1 '^FAIL' "$wlog" 2>/dev/null || true)
		report "$name" FAIL "durable never reached $kill_at (got $durable)${why:+: $why}" "$wlog"
		return
	fi

	vmm_cmd "$vmm" "$cache" "mode=blk-verify blk_run=$run durable=$durable" "$vlog"
	set +e
	timeout 120 "${CMD[@]}" >"$vlog.vmm-out" 2>&1
	st=$?
	set -e
	# kite exits with the guest's status; QEMU with (status << 1) | 1.
	if [ "$vmm" = kite ]; then want=0; else want=1; fi
	if [ "$st" != "$want" ] || ! grep -q '^PASS blk-verify' "$vlog"; then
		why=$(grep -m1 '^FAIL' "$vlog" 2>/dev/null || echo "exit status $st, expected $want")
		report "$name" FAIL "guest check after the kill at durable $durable: $why" "$vlog"
		return
	fi
	if ! host=$(python3 "$here/blk-safety-check.py" "$IMG" "$run" "$durable"); then
		report "$name" FAIL "$host"
		return
	fi
	why="SIGKILL at durable $durable, $(((t1 - t0) / 1000000)) ms in"
	if grep -q '^blk-writer: end of the disk' "$wlog"; then
		why="$why (the writer had already finished: nothing was in flight)"
	fi
	report "$name" OK "$why; guest and host checks pass (${host##*; })"
}

# vmm_rounds VMM: a fresh image, then one round per kill point.
vmm_rounds() {
	local i
	rm -f "$IMG"
	truncate -s 64M "$IMG"
	for i in "${!KILL_POINTS[@]}"; do
		round "$1" $((i + 1)) "${KILL_POINTS[$i]}" "${CACHES[$i]}"
	done
}

if ! kite_cpu "$BUILD"; then
	skip kite "SKIPPED: $KITE_CPU_WHY"
else
	[ -z "$KITE_CPU_NOTE" ] || echo "blk-data-safety: $KITE_CPU_NOTE"
	vmm_rounds kite
fi
if command -v "$QEMU" >/dev/null 2>&1; then
	echo "QEMU: $("$QEMU" --version | head -n1), -accel $ACCEL"
	vmm_rounds qemu
else
	skip qemu "SKIPPED: $QEMU is not installed"
fi
summary
