#!/usr/bin/env bash
# `make test`: every unit test and every guest test, with one summary line.
# Each part prints its own "N passed, N failed[, N skipped]" as its last
# summary; this script adds them up and fails if any part failed.
set -uo pipefail
BUILD=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 1

total_pass=0 total_fail=0 total_skip=0 broken=()

# run NAME CMD...: run one part, echo its output, and add up its summary.
run() {
	local name=$1; shift
	local log; log=$(mktemp)
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local p f s line
	# check prints "100%: Checks: N, Failures: F, Errors: E".
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n1)
	if [ -n "$line" ]; then
		local n e
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		p=$((n - f - e)); f=$((f + e)); s=0
	else
		line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
		p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line"); p=${p:-0}
		f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<<"$line"); f=${f:-0}
		s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+'); s=${s:-0}
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1	# a part that died without counting a failure still failed
	fi
	[ "$rc" != 0 ] && broken+=("$name (exit $rc)")
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
	rm -f "$log"
}

# Timeouts catch hangs only: 3x check's 4 s for sanitizer builds and busy hosts.
run "unit tests" env CK_FORK=yes CK_TIMEOUT_MULTIPLIER=3 "$BUILD/unit-tests"
run "kite command line" bash tests/cli.sh "$BUILD"
run "ACPI tables through iasl" bash tests/acpi-iasl.sh "$BUILD"
run "test guest under QEMU" bash guest-tests/qemu-guest.sh "$BUILD"
run "test guest under kite" bash guest-tests/kite-guest.sh "$BUILD"
# A part of the matrix (the whole takes 2 minutes more: run the script with
# KITE_GUEST_CPU=emu alone): each entry, 1 to 4 vCPUs, above 4 GiB, blk,
# scsi, faults.
run "test guest under kite, on kvmfake's emulated CPU (no KVM only)" \
	env KITE_GUEST_CPU=emu \
	KITE_GUEST_ONLY='^(pvh-[124]cpu-64M|pvh-2cpu-4608M|linux64-2cpu-512M|multiboot-2cpu-512M|exit-poweroff|fault|triple-fault|blk-4cpu-irq-4q|blk-2cpu-irq-hostile|scsi-4cpu-irq-4q|scsi-2cpu-irq-2tgt-merged|hostile-2cpu|signal-TERM)$' \
	bash guest-tests/kite-guest.sh "$BUILD"
run "virtio-blk data safety across SIGKILL" bash guest-tests/blk-data-safety.sh "$BUILD"
run "virtio-net under QEMU" bash guest-tests/net-test.sh "$BUILD" --vmm qemu
run "virtio-net under kite" bash guest-tests/net-test.sh "$BUILD" --vmm kite
run "live migration and snapshots under kite" bash guest-tests/migrate.sh "$BUILD"
run "kite on kvmfake, a stand-in for /dev/kvm" bash tests/kvmfake.sh "$BUILD"

echo "==="
for b in "${broken[@]}"; do echo "FAILED: $b"; done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ] && [ ${#broken[@]} = 0 ]
