#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: boot the bundled test guest in demo mode under kite and show
# what it saw (boot protocol, CPUs, memory map, ACPI tables, PCI devices,
# a virtio-blk disk and a virtio-scsi disk: 16 MiB images,
# BUILD/guest-tests/demo-disk.img and demo-scsi.img, made if missing, on
# each of which it writes, reads back and compares a few blocks); it then
# powers off through ACPI. Run as root, the guest also
# gets a virtio-net NIC on a tap in a network namespace this script creates
# (and removes), with the host's side at 10.213.7.1, which it pings three
# times; otherwise the script says why not. Without a usable /dev/kvm,
# kite runs the guest on kvmfake's native CPU (lib.sh kite_cpu), and says
# so; where that is not built either, the same demo runs under QEMU (TCG),
# if installed, labelled as such.
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
sdisk=$OUT/demo-scsi.img
[ -f "$disk" ] || truncate -s 16M "$disk"
[ -f "$sdisk" ] || truncate -s 16M "$sdisk"

# The NIC (net-lib.sh): the VMM runs inside the namespace, on tap kt0.
# shellcheck source-path=SCRIPTDIR source=net-lib.sh
source "$here/net-lib.sh"
NS=kite-demo-$$
net_in=()
net_kite=()
net_qemu=()
net_args=
net_why=$(netns_unusable_reason)
if [ -z "$net_why" ]; then
	trap 'netns_remove "$NS"' EXIT
	netns_create "$NS"
	tap_create "$NS" kt0 2
	tap_up "$NS" kt0 10.213.7.1/24
	net_in=(ip netns exec "$NS")
	net_kite=(--net "tap=kt0,mac=52:54:00:6b:07:02,queues=2")
	net_qemu=(-netdev "tap,id=n0,ifname=kt0,script=no,downscript=no,vhost=off,queues=2"
		-device "virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:6b:07:02,mq=on,vectors=6")
	net_args=" ip=10.213.7.2/24 net_ping=10.213.7.1"
	echo "net: the guest's NIC is on tap kt0 (host side 10.213.7.1/24) in namespace $NS"
else
	echo "net: no NIC for the demo: $net_why"
fi

# check_demo VMM STATUS: the demo ran to its ACPI power-off.
check_demo() {
	local vmm=$1 st=$2
	if [ "$st" -ne 0 ]; then
		report "demo under $vmm" FAIL "exit status $st, expected 0 (ACPI power-off)"
	elif ! grep -q '^exit: ACPI power-off' "$log"; then
		report "demo under $vmm" FAIL "the guest did not reach its ACPI power-off"
	elif ! grep -q '^disk: wrote.*: OK$' "$log"; then
		report "demo under $vmm" FAIL "no 'disk: wrote ... OK' line: $(grep -m1 '^disk: ' "$log" || echo 'no disk lines')"
	elif ! grep -q '^scsi: wrote.*: OK$' "$log"; then
		report "demo under $vmm" FAIL "no 'scsi: wrote ... OK' line: $(grep -m1 '^scsi: ' "$log" || echo 'no scsi lines')"
	else
		report "demo under $vmm" OK "blk and scsi disks checked, powered off through ACPI"
	fi
	[ -n "$net_args" ] || return 0
	if grep -q '^net0: ping 10.213.7.1: 3 sent, 3 received' "$log"; then
		report "demo NIC under $vmm" OK "the guest pinged the host through virtio-net"
	else
		report "demo NIC under $vmm" FAIL "$(grep -m1 -E '^net0?: (ping|none|.*unusable|.*cannot)' "$log" || echo 'no net lines')"
	fi
}

reason=$(kvm_unusable_reason)
if kite_cpu "$BUILD"; then
	[ -z "$KITE_CPU_NOTE" ] || echo "$KITE_CPU_NOTE"
	echo "== kite: test guest, mode=demo, 2 vCPUs, 256M, blk disk $disk, scsi disk $sdisk =="
	set +e
	"${net_in[@]}" "${KITE_PRE[@]}" "$BUILD/kite" run --kernel "$BUILD/testguest.elf" --cpus 2 --memory 256M \
		--cmdline "mode=demo$net_args" --console "file=$log" --disk "path=$disk" \
		--disk "path=$sdisk,iface=scsi" "${net_kite[@]}"
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
echo "== QEMU (TCG), not kite: the same test guest, mode=demo, 2 vCPUs, 256M, blk disk $disk, scsi disk $sdisk =="
set +e
"${net_in[@]}" timeout 120 qemu-system-x86_64 -machine q35 -accel tcg -display none -no-reboot \
	-smp 2 -m 256M -kernel "$BUILD/testguest.elf" -append "mode=demo$net_args" "${net_qemu[@]}" \
	-serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive "file=$disk,if=none,id=d0,format=raw" \
	-device virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2,serial=kite-demo \
	-drive "file=$sdisk,if=none,id=d1,format=raw" \
	-device virtio-scsi-pci,id=scsi0,disable-legacy=on -device scsi-hd,drive=d1,bus=scsi0.0
st=$?
set -e
cat "$log" 2>/dev/null || true
echo "== QEMU exited with status $st =="
check_demo "QEMU (TCG)" "$st"
summary
