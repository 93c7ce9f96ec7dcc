#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: boot the bundled test guest in demo mode under kite and show
# what it saw (boot protocol, CPUs, memory map, ACPI tables, PCI devices,
# and the virtio-blk disk: a 16 MiB image, BUILD/guest-tests/demo-disk.img,
# made if missing, on which it writes, reads back and compares a few
# blocks); it then powers off through ACPI. Without a usable /dev/kvm, the
# same demo runs under QEMU (TCG) instead, if installed, and is labelled as
# such.
#   usage: guest-tests/run-demo.sh [BUILD]
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

OUT=$BUILD/guest-tests
mkdir -p "$OUT"
log=$OUT/demo.log
rm -f "$log"
disk=$OUT/demo-disk.img
[ -f "$disk" ] || truncate -s 16M "$disk"

# check_demo VMM STATUS: the demo ran to its ACPI power-off.
check_demo() {
	local vmm=$1 st=$2
	if [ "$st" -ne 0 ]; then
		report "demo under $vmm" FAIL "exit status $st, expected 0 (ACPI power-off)"
	elif ! grep -q '^exit: ACPI power-off' "$log"; then
		report "demo under $vmm" FAIL "the guest did not reach its ACPI power-off"
	elif ! grep -q '^disk: wrote.*: OK$' "$log"; then
		report "demo under $vmm" FAIL "no 'disk: wrote ... OK' line: $(grep -m1 '^disk: ' "$log" || echo 'no disk lines')"
	else
		report "demo under $vmm" OK "disk checked, powered off through ACPI"
	fi
}

reason=$(kvm_unusable_reason)
if [ -z "$reason" ]; then
	echo "== kite: test guest, mode=demo, 2 vCPUs, 256M, disk $disk =="
	set +e
	"$BUILD/kite" run --kernel "$BUILD/testguest.elf" --cpus 2 --memory 256M \
		--cmdline mode=demo --console "file=$log" --disk "path=$disk"
	st=$?
	set -e
	cat "$log" 2>/dev/null || true
	echo "== kite exited with status $st =="
	check_demo kite "$st"
	summary
	exit
fi

echo "kite cannot run a guest here: $reason."
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	echo "SKIPPED: demo: no /dev/kvm for kite and no qemu-system-x86_64 to fall back on"
	SKIPPED=1
	summary
	exit 0
fi
echo "== QEMU (TCG), not kite: the same test guest, mode=demo, 2 vCPUs, 256M, disk $disk =="
set +e
timeout 120 qemu-system-x86_64 -machine q35 -accel tcg -display none -no-reboot \
	-smp 2 -m 256M -kernel "$BUILD/testguest.elf" -append mode=demo \
	-serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive "file=$disk,if=none,id=d0,format=raw" \
	-device virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2,serial=kite-demo
st=$?
set -e
cat "$log" 2>/dev/null || true
echo "== QEMU exited with status $st =="
check_demo "QEMU (TCG)" "$st"
summary
