# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the scripts that boot the test guest (sourced, not run).
# Callers set: OUT (directory for logs). Counters: PASSED, FAILED, SKIPPED.

# The cases every mode=test run must PASS (the guest may add more).
GUEST_CASES=(boot cmdline uart acpi pci cpus memmap)
# ... and those of a run with a virtio-blk disk (blk=1), for the scripts.
# shellcheck disable=SC2034
BLK_CASES=(blk-rw blk-flush blk-discard blk-write-zeroes blk-get-id blk-readonly blk-range
	blk-mq blk-indirect blk-event-idx blk-malformed)
# ... and those of a run with a virtio-scsi controller (scsi=1).
# shellcheck disable=SC2034
SCSI_CASES=(scsi-commands scsi-rw scsi-flush scsi-unmap scsi-write-same scsi-readonly
	scsi-range scsi-mq scsi-multi-lun scsi-tmf scsi-bad-target scsi-malformed)

PASSED=0
FAILED=0
SKIPPED=0

# CRC-32 (IEEE, as zlib computes it) of $1, as 8 hex digits.
crc32_hex() {
	python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(sys.argv[1].encode()))' "$1"
}

# Why /dev/kvm cannot be used, or nothing if it can.
kvm_unusable_reason() {
	if [ ! -e /dev/kvm ]; then
		echo "/dev/kvm does not exist"
	elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
		echo "/dev/kvm cannot be opened read-write by $(id -un)"
	fi
}

# kite_cpu BUILD: how kite runs guests on this host. Under a usable /dev/kvm:
# KITE_PRE=() and KITE_NATIVE empty. Without one, kvmfake's native CPU
# stands in (tests/kvmfake/ncpu.h: the guest image runs natively in ring 3
# of kite's process, its privileged instructions, port I/O and MMIO trapped
# and emulated; its 16/32-bit start-up code interpreted): KITE_PRE is the command
# prefix that preloads it, KITE_NATIVE=1, and KITE_CPU_NOTE says so.
# KITE_ASAN=1 when that kite is sanitized: the native CPU maps guest RAM at
# its guest-physical addresses, and above 2 GiB ASan keeps its shadow there.
# Returns 1 with KITE_CPU_WHY set when neither can run (KITE_NATIVE_OFF=1
# in the environment turns the stand-in off).
# kite_cpu BUILD emu: the stand-in is kvmfake's emulated CPU instead
# (tests/kvmfake/emu.h: an x86-64 interpreter, one thread a vCPU, with the
# guest's own page tables), which runs what the native CPU cannot: Linux.
kite_cpu() {
	local build=$1 cpu=${2:-native} reason
	KITE_PRE=()
	KITE_NATIVE=
	KITE_CPU_NOTE=
	reason=$(kvm_unusable_reason)
	[ -z "$reason" ] && return 0
	if [ "${KITE_NATIVE_OFF:-}" = 1 ]; then
		KITE_CPU_WHY="$reason (KITE_NATIVE_OFF=1: no native CPU either)"
		return 1
	fi
	if [ "$(uname -m)" != x86_64 ] || [ ! -f "$build/kvmfake.so" ]; then
		KITE_CPU_WHY="$reason, and kvmfake's native CPU ($build/kvmfake.so) is not built"
		return 1
	fi
	KITE_PRE=(env "KVMFAKE_GUEST=$cpu" "LD_PRELOAD=$(cd "$build" && pwd)/kvmfake.so")
	# A sanitized kite: ASan's runtime is not first in the library list.
	KITE_ASAN=
	if ldd "$build/kite" 2>/dev/null | grep -q libasan; then
		KITE_PRE+=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
			   "LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/lsan-suppressions.txt")
		KITE_ASAN=1
	fi
	KITE_NATIVE=1
	KITE_CPU_NOTE="no KVM here ($reason): kite runs the guest on kvmfake's native CPU (trap and emulate; CPUID is the host's)"
	if [ "$cpu" = emu ]; then
		KITE_CPU_NOTE="no KVM here ($reason): kite runs the guest on kvmfake's emulated CPU (an x86-64 interpreter; CPUID is kite's, less what it lacks)"
	fi
}

# check_test_log LOG [CASE...]: every required case (GUEST_CASES and the
# CASEs given) PASSed, nothing FAILed, summary says 0 failed.
# Prints the reason and returns 1 otherwise.
check_test_log() {
	local log=$1 c
	shift
	if ! grep -q '^kite test guest:' "$log"; then
		echo "the guest printed nothing (no banner)"
		return 1
	fi
	if grep -q '^FATAL' "$log"; then
		grep -m1 '^FATAL' "$log"
		return 1
	fi
	if grep -q '^FAIL' "$log"; then
		grep '^FAIL' "$log" | head -3
		return 1
	fi
	for c in "${GUEST_CASES[@]}" "$@"; do
		if ! grep -qx "PASS $c" "$log"; then
			echo "no 'PASS $c' line"
			return 1
		fi
	done
	if ! grep -Eqx '[0-9]+ passed, 0 failed' "$log"; then
		echo "no '<n> passed, 0 failed' summary"
		return 1
	fi
}

# check_hostile_log LOG: a mode=hostile run said PASS, with its line for
# the well-behaved disk and no FAIL or FATAL. Prints the reason and
# returns 1 otherwise.
check_hostile_log() {
	local log=$1
	if grep -q '^FATAL\|^FAIL' "$log"; then
		grep -m1 '^FATAL\|^FAIL' "$log"
		return 1
	fi
	if ! grep -q '^hostile: .*(well-behaved)' "$log"; then
		echo "no summary line for the well-behaved disk"
		return 1
	fi
	if ! grep -qx 'PASS hostile' "$log"; then
		echo "no 'PASS hostile' line"
		return 1
	fi
}

# report NAME OK|FAIL DETAIL [LOG]
report() {
	local name=$1 result=$2 detail=$3 log=${4:-}
	if [ "$result" = OK ]; then
		PASSED=$((PASSED + 1))
		printf 'ok    %-34s %s\n' "$name" "$detail"
	else
		FAILED=$((FAILED + 1))
		printf 'FAIL  %-34s %s\n' "$name" "$detail"
		if [ -n "$log" ] && [ -s "$log" ]; then
			echo "      --- last lines of $log ---"
			tail -n 15 "$log" | sed 's/^/      /'
		fi
	fi
}

skip() {
	SKIPPED=$((SKIPPED + 1))
	printf 'skip  %-34s %s\n' "$1" "$2"
}

# The final line every script ends with; returns non-zero on any failure.
summary() {
	if [ "$SKIPPED" -gt 0 ]; then
		echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	else
		echo "$PASSED passed, $FAILED failed"
	fi
	[ "$FAILED" -eq 0 ]
}
