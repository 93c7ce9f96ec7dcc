#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-net, end to end: the test guest in net-echo mode, tested from the
# host with the host's own tools (ping, and Python sockets in net-check.py).
#   usage: guest-tests/net-test.sh [BUILD] [--vmm kite|qemu]   (as root)
#
# Everything happens in a network namespace the script creates (and
# deletes at the end, with every tap in it); the VMM runs inside it through
# ip netns exec. Under kite, kite itself creates each tap (--net tap=NAME)
# and must remove it when it exits; the script then gives the tap the
# host's address and brings it up, which the guest sees as its link coming
# up. Under QEMU the script creates the taps first (QEMU opens them) and,
# since QEMU's NIC does not follow the tap's state, also sets QEMU's link
# (QMP set_link) when it takes the tap down and up.
#
# VM 1: 2 vCPUs, one NIC with 2 queue pairs, interrupts, every offload the
# guest knows (CSUM, GUEST_CSUM, MRG_RXBUF, MQ, EVENT_IDX):
#   the guest pings the host; the host pings the guest (56 bytes, 1472 with
#   DF: 1500-byte packets; 8000 and 60000 bytes fragmented both ways); UDP
#   echo from 1 to 65507 bytes, every payload compared; every checksum the
#   guest sends checked on the tap (AF_PACKET with the virtio-net header,
#   completing those left to the device); 32 flows that must reach both
#   queue pairs (the guest's per-pair counters); a flood (ping -f, 2000,
#   and 4000 UDP datagrams with 256 in flight) with nothing lost, the tap
#   dropping nothing either; the tap down and up: the guest reports both
#   and traffic resumes; the guest's counters (no bad checksum, fragments
#   reassembled); "stop", and the VM ends with status 0.
# VM 2: 2 vCPUs, two NICs of one queue pair each, on two subnets, polling,
#   no offloads, no MRG_RXBUF, no MQ: pings both ways on both, fragmented
#   pings, UDP echo, software checksums checked, stop through the second.
#
# Without /dev/kvm the kite variant says SKIPPED; QEMU uses KVM if it can,
# else TCG. About 25 s under TCG on this 2-core machine (70 s with both cores busy).
set -euo pipefail

BUILD=build
VMM=kite
while [ $# -gt 0 ]; do
	case $1 in
	--vmm) VMM=${2:-}; shift 2 || shift ;;
	--vmm=*) VMM=${1#--vmm=}; shift ;;
	-*) echo "usage: net-test.sh [BUILD] [--vmm kite|qemu]" >&2; exit 2 ;;
	*) BUILD=$1; shift ;;
	esac
done
case $VMM in
kite | qemu) ;;
*) echo "net-test: --vmm '$VMM': expected kite or qemu" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR source=net-lib.sh
source "$here/net-lib.sh"

skip_all() {
	echo "SKIPPED: net tests under $VMM: $1"
	SKIPPED=1
	summary
	exit 0
}

ELF=$BUILD/testguest.elf
KITE=$BUILD/kite
QEMU=${QEMU:-qemu-system-x86_64}
ACCEL=
if [ "$VMM" = kite ]; then
	kite_cpu "$BUILD" || skip_all "$KITE_CPU_WHY"
	[ -x "$KITE" ] || { echo "net-test: $KITE is missing (run: make BUILD=$BUILD)" >&2; exit 1; }
else
	command -v "$QEMU" >/dev/null 2>&1 || skip_all "$QEMU is not installed"
	if [ -z "$(kvm_unusable_reason)" ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
reason=$(netns_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
command -v ping >/dev/null 2>&1 || skip_all "ping is not installed (apt-get install iputils-ping)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
[ -f "$ELF" ] || { echo "net-test: $ELF is missing (run: make guest BUILD=$BUILD)" >&2; exit 1; }

OUT=$BUILD/guest-tests/net-$VMM
mkdir -p "$OUT"
NS=kite-net-$$
VM_TIMEOUT=150
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	netns_remove "$NS"
	rm -f "$OUT"/*.qmp "$OUT"/*.ready
}
trap cleanup EXIT
netns_create "$NS"
echo "net tests under $VMM${ACCEL:+ (QEMU, -accel $ACCEL)}, namespace $NS, logs in $OUT"
[ -z "${KITE_CPU_NOTE:-}" ] || echo "net-test: $KITE_CPU_NOTE"

in_ns() { ip netns exec "$NS" "$@"; }
check() { in_ns python3 "$here/net-check.py" "$@"; }

# step NAME COMMAND...: one reported case; the command's last line says how
# it went. Never fails the script itself.
step() {
	local name=$1 out st=0
	shift
	out=$("$@" 2>&1) || st=$?
	if [ $st -eq 0 ]; then
		report "$name" OK "$(tail -n1 <<<"$out")"
	else
		report "$name" FAIL "$(tail -n1 <<<"$out")" "$VM_LOG"
	fi
	return 0
}

# --- the VM ---

VM_PID=
VM_LOG=
VM_QMP=
VM_TAPS=()

# start_vm NAME CPUS CMDLINE NIC...: NIC is TAP,QUEUES,MAC,HOST_ADDR/PREFIX.
start_vm() {
	local name=$1 cpus=$2 args=$3 nic tap queues mac host i=0 mq
	local -a vmm=() nics=()
	shift 3
	nics=("$@")
	VM_LOG=$OUT/$name.log
	VM_QMP=$OUT/$name.qmp
	VM_TAPS=()
	rm -f "$VM_LOG" "$VM_QMP"
	for nic in "${nics[@]}"; do
		IFS=, read -r tap queues mac host <<<"$nic"
		VM_TAPS+=("$tap")
		if [ "$VMM" = qemu ]; then
			tap_create "$NS" "$tap" "$queues"
			tap_up "$NS" "$tap" "$host"
			mq=
			[ "$queues" -gt 1 ] && mq=",mq=on,vectors=$((2 * queues + 2))"
			vmm+=(-netdev "tap,id=n$i,ifname=$tap,script=no,downscript=no,vhost=off,queues=$queues"
			      -device "virtio-net-pci,netdev=n$i,disable-legacy=on,mac=$mac$mq")
		else
			vmm+=(--net "tap=$tap,mac=$mac,queues=$queues")
		fi
		i=$((i + 1))
	done
	if [ "$VMM" = qemu ]; then
		in_ns timeout "$VM_TIMEOUT" "$QEMU" -machine q35 -accel "$ACCEL" -nodefaults \
			-display none -no-reboot -smp "$cpus" -m 256M -kernel "$ELF" -append "$args" \
			-serial "file:$VM_LOG" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-qmp "unix:$VM_QMP,server=on,wait=off" "${vmm[@]}" >"$OUT/$name.vmm-out" 2>&1 &
	else
		in_ns timeout "$VM_TIMEOUT" "${KITE_PRE[@]}" "$KITE" run --kernel "$ELF" --cpus "$cpus" \
			--memory 256M --cmdline "$args" --console "file=$VM_LOG" "${vmm[@]}" \
			>"$OUT/$name.vmm-out" 2>&1 &
	fi
	VM_PID=$!
	PIDS+=("$VM_PID")
	if [ "$VMM" = kite ]; then
		# kite made the taps in the namespace: now the host's side.
		for nic in "${nics[@]}"; do
			IFS=, read -r tap queues mac host <<<"$nic"
			if ! tap_wait "$NS" "$tap" 30; then
				report "$name-start" FAIL "kite did not create tap $tap" "$OUT/$name.vmm-out"
				return 1
			fi
			tap_up "$NS" "$tap" "$host"
		done
	fi
	if ! wait_for '^net-echo: ready' 60; then
		report "$name-start" FAIL "the guest never said 'net-echo: ready'" "$VM_LOG"
		return 1
	fi
}

# lines LINE_REGEX: how many lines of the guest's log match.
lines() {
	local n
	n=$(grep -Ec -- "$1" "$VM_LOG" 2>/dev/null) || true
	echo "${n:-0}"
}

# wait_for LINE_REGEX SECS [COUNT]: until COUNT (1) lines match; 1 if the
# VM ended or the time ran out first.
wait_for() {
	local re=$1 secs=$2 want=${3:-1} i
	for ((i = 0; i < secs * 10; i++)); do
		[ "$(lines "$re")" -ge "$want" ] && return 0
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(lines "$re")" -ge "$want" ]
}

# expect_line NAME LINE_REGEX SECS: a reported case.
expect_line() {
	if wait_for "$2" "$3"; then
		report "$1" OK "$(grep -Em1 -- "$2" "$VM_LOG")"
	else
		report "$1" FAIL "no line matching '$2' within $3 s" "$VM_LOG"
	fi
}

# stop_vm NAME ADDR: "stop" to the control port; the VM must end cleanly.
stop_vm() {
	local name=$1 addr=$2 st=0 want why='' answer
	answer=$(check control "$addr" stop 2>&1) || true
	timeout 30 tail --pid="$VM_PID" -f /dev/null 2>/dev/null || true
	wait "$VM_PID" 2>/dev/null || st=$?
	# QEMU's isa-debug-exit ends QEMU with (value << 1) | 1.
	want=0
	[ "$VMM" = qemu ] && want=1
	if [ "$answer" != stopping ]; then
		why="no 'stopping' answer ($answer)"
	elif [ $st -eq 124 ]; then
		why="still running after 'stop'"
	elif [ $st -ne $want ]; then
		why="$VMM exited with $st, expected $want (guest status 0)"
	elif grep -Eq '^(FAIL|FATAL)' "$VM_LOG"; then
		why=$(grep -Em1 '^(FAIL|FATAL)' "$VM_LOG")
	elif ! grep -q '^net-echo: done' "$VM_LOG"; then
		why="no 'net-echo: done' line"
	fi
	if [ -n "$why" ]; then
		report "$name-stop" FAIL "$why" "$VM_LOG"
	else
		report "$name-stop" OK "stopped by a datagram to port 9, status $st"
	fi
	if [ "$VMM" = kite ]; then
		local tap left=()
		for tap in "${VM_TAPS[@]}"; do
			ip -n "$NS" link show dev "$tap" >/dev/null 2>&1 && left+=("$tap")
		done
		if [ ${#left[@]} -gt 0 ]; then
			report "$name-taps-removed" FAIL "kite left ${left[*]} behind"
		else
			report "$name-taps-removed" OK "kite removed ${VM_TAPS[*]}"
		fi
	fi
}

# --- host-side probes ---

# ping_ok ADDR COUNT [PING OPTIONS...]: every reply back, none wrong.
ping_ok() {
	local addr=$1 n=$2 out
	shift 2
	out=$(in_ns ping -c "$n" -i 0.2 -W 5 "$@" "$addr" 2>&1) || true
	if grep -Eq 'wrong data|DUP!' <<<"$out"; then
		grep -Em1 'wrong data|DUP!' <<<"$out"
		return 1
	fi
	if ! grep -q " $n received, 0% packet loss" <<<"$out"; then
		echo "ping ${*:+$* }$addr: $(grep -E 'received|error|unreachable' <<<"$out" | tail -n1)"
		return 1
	fi
	echo "ping ${*:+$* }$addr: $n of $n back, $(grep -o 'rtt.*' <<<"$out")"
}

# flood_ok ADDR: ping -f, then a UDP flood; nothing lost, not even in the tap.
flood_ok() {
	local addr=$1 tap=$2 before after out frag
	before=$(tap_tx_dropped "$NS" "$tap")
	out=$(in_ns ping -f -c 2000 -W 5 "$addr" 2>&1) || true
	if ! grep -q " 2000 received, 0% packet loss" <<<"$out"; then
		echo "ping -f -c 2000: $(grep received <<<"$out")"
		return 1
	fi
	out=$(check flood "$addr" --count 4000 --window 256 --flows 8) || { echo "$out"; return 1; }
	# 8 KiB datagrams, 6 fragments each, 32 in flight: the receive ring
	# runs dry with frames larger than what is left in it, and a frame
	# lost costs the guest a reassembly slot until its timeout.
	frag=$(check flood "$addr" --count 600 --window 32 --flows 8 --size 8192) ||
		{ echo "fragmented: $frag"; return 1; }
	after=$(tap_tx_dropped "$NS" "$tap")
	if [ "$after" != "$before" ]; then
		echo "the tap dropped $((after - before)) frames on the way to the guest"
		return 1
	fi
	echo "ping -f 2000 of 2000, UDP ${out#ok: }; ${frag#ok: }; tap dropped none"
}

# link_cycle NAME TAP NIC ADDR: the tap down and up; the guest must see both
# (by configuration interrupt when it takes them), then traffic resumes.
link_cycle() {
	local name=$1 tap=$2 nic=$3 addr=$4 how downs ups out
	how='config interrupt'
	grep -q "^net$nic:.*, poll," "$VM_LOG" && how='polled'
	downs=$(lines "^net$nic: link down \\($how\\)")
	ups=$(lines "^net$nic: link up \\($how\\)")
	ip -n "$NS" link set "$tap" down
	[ "$VMM" = qemu ] && check qmp "$VM_QMP" set_link "{\"name\": \"n$nic\", \"up\": false}" >/dev/null
	if ! wait_for "^net$nic: link down \\($how\\)" 10 $((downs + 1)); then
		report "$name-link-down" FAIL "the guest did not report the link down ($how)" "$VM_LOG"
	else
		report "$name-link-down" OK "net$nic: link down ($how)"
	fi
	ip -n "$NS" link set "$tap" up
	[ "$VMM" = qemu ] && check qmp "$VM_QMP" set_link "{\"name\": \"n$nic\", \"up\": true}" >/dev/null
	if ! wait_for "^net$nic: link up \\($how\\)" 10 $((ups + 1)); then
		report "$name-link-up" FAIL "the guest did not report the link up ($how)" "$VM_LOG"
	else
		report "$name-link-up" OK "net$nic: link up ($how)"
	fi
	step "$name-link-traffic" ping_ok "$addr" 3
}

# --- VM 1: one NIC, two queue pairs, interrupts, offloads ---

H1=10.213.0.1
G1=10.213.0.2
if start_vm vm1 2 "net=echo ip=$G1/24 net_ping=$H1 net_ping_count=5" \
	"kt0,2,52:54:00:6b:00:01,$H1/24"; then
	expect_line vm1-nic '^net0: .* mac 52:54:00:6b:00:01 .*2 queue pairs .*irq.*features: csum guest_csum.* mrg_rxbuf status ctrl_vq mq' 1
	expect_line vm1-guest-pings-host "^net0: ping $H1: 5 sent, 5 received" 40
	sniff_ready=$OUT/vm1-sniff.ready
	rm -f "$sniff_ready"
	# Not through check(): $! must be the sniffer itself (ip netns exec execs).
	ip netns exec "$NS" python3 "$here/net-check.py" sniff kt0 "$G1" --want-offload \
		--ready "$sniff_ready" >"$OUT/vm1-sniff.out" 2>&1 &
	sniff_pid=$!
	PIDS+=("$sniff_pid")
	for _ in $(seq 50); do [ -e "$sniff_ready" ] && break; sleep 0.1; done
	step vm1-host-ping        ping_ok "$G1" 5
	step vm1-host-ping-1472-df ping_ok "$G1" 3 -M "do" -s 1472
	step vm1-host-ping-8000-frag ping_ok "$G1" 3 -M dont -s 8000
	step vm1-host-ping-60000-frag ping_ok "$G1" 2 -M dont -s 60000
	step vm1-udp-echo         check echo "$G1"
	kill -TERM "$sniff_pid" 2>/dev/null || true
	st=0
	wait "$sniff_pid" || st=$?
	if [ $st -eq 0 ]; then
		report vm1-checksums OK "$(tail -n1 "$OUT/vm1-sniff.out")"
	else
		report vm1-checksums FAIL "$(tail -n1 "$OUT/vm1-sniff.out")" "$VM_LOG"
	fi
	step vm1-queue-pairs      check flows "$G1" --pairs 2
	step vm1-flood            flood_ok "$G1" kt0
	link_cycle vm1 kt0 0 "$G1"
	step vm1-udp-echo-after-link check echo "$G1" --sizes 1,1472,30000 --flows 1
	step vm1-counters check expect "$G1" csum_bad=0 malformed=0 reasm_dropped=0 \
		fragments\>0 reassembled\>0 tx_fragments\>0 icmp_echo\>2000 udp_echo\>4000
	stop_vm vm1 "$G1"
fi

# --- VM 2: two NICs, polling, no offloads ---

H2A=10.213.1.1
G2A=10.213.1.2
H2B=10.213.2.1
G2B=10.213.2.2
if start_vm vm2 2 "net=echo ip=$G2A/24,$G2B/24 net_wait=poll net_csum=0 net_mrg=0 net_mq=0 net_ping=$H2A,$H2B net_ping_count=3" \
	"kt1,1,52:54:00:6b:01:01,$H2A/24" "kt2,1,52:54:00:6b:02:01,$H2B/24"; then
	expect_line vm2-nic0 '^net0: .* mac 52:54:00:6b:01:01 .*1 queue pairs .*poll' 1
	expect_line vm2-nic1 '^net1: .* mac 52:54:00:6b:02:01 .*1 queue pairs .*poll' 1
	if grep -Eq '^net[01]: .*features: .*(csum|mrg_rxbuf| mq)' "$VM_LOG"; then
		report vm2-features FAIL "an offload was taken though refused: $(grep -Em1 'features' "$VM_LOG")"
	else
		report vm2-features OK "no CSUM, MRG_RXBUF or MQ on either NIC"
	fi
	expect_line vm2-guest-pings-host-nic0 "^net0: ping $H2A: 3 sent, 3 received" 40
	expect_line vm2-guest-pings-host-nic1 "^net1: ping $H2B: 3 sent, 3 received" 40
	sniff_ready=$OUT/vm2-sniff.ready
	rm -f "$sniff_ready"
	# Not through check(): $! must be the sniffer itself (ip netns exec execs).
	ip netns exec "$NS" python3 "$here/net-check.py" sniff kt1 "$G2A" --no-offload \
		--ready "$sniff_ready" >"$OUT/vm2-sniff.out" 2>&1 &
	sniff_pid=$!
	PIDS+=("$sniff_pid")
	for _ in $(seq 50); do [ -e "$sniff_ready" ] && break; sleep 0.1; done
	step vm2-host-ping-nic0   ping_ok "$G2A" 3
	step vm2-host-ping-nic1   ping_ok "$G2B" 3
	step vm2-host-ping-nic0-8000-frag ping_ok "$G2A" 2 -M dont -s 8000
	step vm2-host-ping-nic1-60000-frag ping_ok "$G2B" 2 -M dont -s 60000
	step vm2-udp-echo-nic0    check echo "$G2A" --sizes 1,64,1472,1473,30000 --flows 2
	step vm2-udp-echo-nic1    check echo "$G2B" --sizes 1,64,1472,1473,30000 --flows 2
	kill -TERM "$sniff_pid" 2>/dev/null || true
	st=0
	wait "$sniff_pid" || st=$?
	if [ $st -eq 0 ]; then
		report vm2-checksums OK "$(tail -n1 "$OUT/vm2-sniff.out")"
	else
		report vm2-checksums FAIL "$(tail -n1 "$OUT/vm2-sniff.out")" "$VM_LOG"
	fi
	step vm2-counters-nic1 check expect "$G2B" --nic 1 csum_bad=0 malformed=0 reassembled\>0 \
		rx_csum_partial=0 rx_csum_valid=0
	stop_vm vm2 "$G2B"
fi

summary
