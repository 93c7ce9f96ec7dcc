#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Network benchmark: UDP through the test guest's virtio-net, under kite and
# under QEMU's virtio-net-pci, each on a tap, with 1 and 2 queue pairs.
#
#   usage: tools/bench-net.sh [--build DIR] [--quick] [--secs N] [--wait irq|poll]
#                             [--vmm kite,qemu,qemu-vhost] [--tcg]
#
# Tests. The echo ones boot the guest with net=echo; tools/net-load.c keeps
# a window of datagrams in flight to its echo port (7) over 8 flows (source
# ports, which the tap spreads over the queue pairs) and counts the echoes:
#   pps-64      64-byte payloads, 256 in flight: echoes per second
#   bulk-1400   1400-byte payloads (one 1442-byte frame each way), 64 in
#               flight: MB/s of payload echoed (each byte crosses the NIC
#               twice, in and out)
#   bulk-8192   8 KiB payloads, 32 in flight: 6 IP fragments each way, which
#               the guest reassembles and fragments again: MB/s echoed
# The transmit ones boot it with mode=net-blast (guest-tests/net_blast.c):
# asked on its control port, every queue pair sends as fast as its queue
# takes them, for --secs, to a host socket that counts what arrives:
#   tx-1400     1400-byte datagrams, guest to host: MB/s received
#   tx-8192     8 KiB datagrams (6 fragments each): MB/s received
# Each runs --secs seconds (default 6; --quick: 2, and only pps-64,
# bulk-1400 and tx-1400). Echo tests start after a 0.3 s warm-up; loss is
# what never came back (sent - received, after up to 2 s of drain), and
# "host drop" how many frames the tap itself dropped on the way to the
# guest (its queue full: the VMM did not keep up). For tx, loss is what the
# guest sent and the host never received, and "host drop" how many of
# those the host's stack dropped with its socket buffer full (+N frag:
# reassemblies it gave up, counted in fragments; /proc/net/snmp; the
# namespace sets ipfrag_max_dist=0 so that interleaved pairs are not
# taken for disorder). The pair split is how the frames fell on the
# guest's queue pairs: for echo its per-pair receive counters (asked
# on control port 9 before and after; IP fragments carry no ports, so the
# tap puts all of bulk-8192 on one pair), for tx the source ports.
#
# VMMs, each with a 2-vCPU, 256 MiB guest (one queue pair per vCPU with 2):
#   QEMU        virtio-net-pci on a tap, vhost=off, and vhost=on where
#               /dev/vhost-net exists; under KVM if it can, else under TCG,
#               whose figures are software emulation, marked as such
#               (QEMU-TCG) and no guide to what KVM would do. --tcg forces TCG.
#   kite        kite run --net tap=NAME,queues=N; SKIPPED without /dev/kvm.
# --wait picks how the guest learns of received frames (net_wait=, default
# irq). --vmm runs only some of them.
#
# Everything happens in a network namespace the script creates; it is
# removed at the end, with its taps, the VMs and the temporary directory
# (also on Ctrl-C). Prints a table, then the same as CSV, which it also
# writes to BUILD/bench-net/results.csv. Exit status 1 if a run failed
# (the guest did not come up, or nothing came back). Options meant for
# tools/bench.sh (make bench passes BENCH_ARGS to both) are ignored.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build QUICK=0 SECS="" WAIT=irq TCG=0 VMMS=kite,qemu,qemu-vhost
usage() { sed -n '/^#   usage:/,/^#$/s/^#  *//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--build)	BUILD=${2:?}; shift ;;
	--quick)	QUICK=1 ;;
	--secs)		SECS=${2:?}; shift ;;
	--wait)		WAIT=${2:?}; shift ;;
	--vmm)		VMMS=${2:?}; shift ;;
	--tcg)		TCG=1 ;;
	-h|--help)	usage ;;
	# tools/bench.sh's own (make bench passes BENCH_ARGS to both)
	--image|--device) shift ;;
	--allow-writes)	;;
	*)		echo "bench-net: ignoring unknown option $1" >&2 ;;
	esac
	shift
done
if [ -z "$SECS" ]; then
	SECS=6
	[ "$QUICK" = 0 ] || SECS=2
fi
if ! [[ $SECS =~ ^[1-9][0-9]*$ ]] || [ "$SECS" -gt 60 ]; then
	echo "bench-net: --secs $SECS: expected a whole number of seconds (1-60)" >&2; exit 2
fi
if ! [[ $WAIT =~ ^(poll|irq)$ ]]; then
	echo "bench-net: --wait $WAIT: expected poll or irq" >&2; exit 2
fi
for v in ${VMMS//,/ }; do
	case $v in
	kite|qemu|qemu-vhost) ;;
	*) echo "bench-net: --vmm $VMMS: expected a list of kite, qemu, qemu-vhost" >&2; exit 2 ;;
	esac
done
cd "$here"
# shellcheck source-path=SCRIPTDIR/.. source=guest-tests/lib.sh
source guest-tests/lib.sh
# shellcheck source-path=SCRIPTDIR/.. source=guest-tests/net-lib.sh
source guest-tests/net-lib.sh

KITE=$BUILD/kite
ELF=$BUILD/testguest.elf
QEMU=${QEMU:-qemu-system-x86_64}
CSV_DIR=$BUILD/bench-net
CSV=$CSV_DIR/results.csv
QUEUES=(1 2)
# name payload window echo|tx: the tests, in order
TESTS=("pps-64 64 256 echo" "bulk-1400 1400 64 echo" "bulk-8192 8192 32 echo"
	"tx-1400 1400 - tx" "tx-8192 8192 - tx")
[ "$QUICK" = 0 ] || TESTS=("pps-64 64 256 echo" "bulk-1400 1400 64 echo" "tx-1400 1400 - tx")
FLOWS=8

# --- what can run ---
NET_WHY=$(netns_unusable_reason)
if [ -n "$NET_WHY" ]; then
	echo "bench-net: SKIPPED: $NET_WHY"
	exit 0
fi
if ! command -v "${CC:-cc}" >/dev/null 2>&1; then
	echo "bench-net: SKIPPED: ${CC:-cc} is not installed (to build tools/net-load.c)"
	exit 0
fi
[ -f "$ELF" ] || { echo "bench-net: $ELF is missing (run: make BUILD=$BUILD)" >&2; exit 1; }

KVM_WHY=$(kvm_unusable_reason)
[ -e /dev/kvm ] || KVM_WHY="no /dev/kvm: $KVM_WHY"
declare -A LABEL=([kite]=kite [qemu]="QEMU vhost=off" [qemu-vhost]="QEMU vhost=on")
declare -A WHY_SKIPPED=()
ACCEL=kvm
[ -x "$KITE" ] || { echo "bench-net: $KITE is missing (run: make BUILD=$BUILD)" >&2; exit 1; }
[ -z "$KVM_WHY" ] || ACCEL=tcg
# Without KVM, kite's rows run the guest on kvmfake's native CPU
# (guest-tests/lib.sh kite_cpu): every guest kick and interrupt a signal.
if ! kite_cpu "$BUILD"; then
	WHY_SKIPPED[kite]="SKIPPED ($KITE_CPU_WHY)"
elif [ -n "$KITE_NATIVE" ]; then
	LABEL[kite]=kite-ncpu
	echo "bench-net: $KITE_CPU_NOTE; its figures are kite's device path under that CPU, not under KVM"
fi
[ "$TCG" = 0 ] || ACCEL=tcg
if [ "$ACCEL" = tcg ]; then
	LABEL[qemu]="QEMU-TCG vhost=off"
	LABEL[qemu-vhost]="QEMU-TCG vhost=on"
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
	WHY_SKIPPED[qemu]="SKIPPED ($QEMU is not installed)"
	WHY_SKIPPED[qemu-vhost]=${WHY_SKIPPED[qemu]}
elif [ ! -c /dev/vhost-net ]; then
	WHY_SKIPPED[qemu-vhost]="unavailable: no /dev/vhost-net"
elif [ "$ACCEL" = tcg ]; then
	# Without KVM there are no ioeventfds: QEMU falls back to its own
	# virtio-net, and the row would not be vhost at all.
	WHY_SKIPPED[qemu-vhost]="unavailable: vhost=on needs KVM (under TCG QEMU falls back to userspace)"
fi

# --- the scratch: a namespace, a directory; gone at the end ---
NS=kite-bnet-$$
TMP=$(mktemp -d /tmp/kite-bench-net.XXXXXX)
VM_PID=
cleanup() {
	trap - EXIT INT TERM
	stop_vmm_process
	netns_remove "$NS"
	rm -rf "$TMP"
}
# Ctrl-C: the EXIT trap does the cleaning.
trap cleanup EXIT
trap 'echo "bench-net: interrupted" >&2; exit 130' INT TERM

# The VMM process, if one runs: TERM, then KILL after 5 s.
stop_vmm_process() {
	local i
	[ -n "$VM_PID" ] || return 0
	kill -TERM "$VM_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$VM_PID" 2>/dev/null || true
	wait "$VM_PID" 2>/dev/null || true
	VM_PID=
}

LOAD=$TMP/net-load
"${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -o "$LOAD" tools/net-load.c
netns_create "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
# Linux gives up a reassembly when 64 other fragments from the same source
# came in between (ipfrag_max_dist), which two queue pairs interleaving
# fragments on a busy host easily do: here the host should take all.
in_ns sysctl -qw net.ipv4.ipfrag_max_dist=0 >/dev/null 2>&1 || true

# --- one VM: VMM QUEUES INDEX echo|tx; sets GUEST, HOST_IP, VM_LOG, VM_TAP ---
start_vm() {
	local vmm=$1 q=$2 i=$3 kind=$4 mac args mqopt='' vhost=off k j
	VM_TAP=bn$i
	HOST_IP=10.215.$i.1
	GUEST=10.215.$i.2
	VM_LOG=$TMP/vm$i.log
	mac=$(printf '52:54:00:6b:20:%02x' "$i")
	args="net=echo ip=$GUEST/24 net_pairs=$q net_wait=$WAIT"
	[ "$kind" = echo ] || args="mode=net-blast ip=$GUEST/24 net_pairs=$q net_wait=$WAIT"
	: >"$VM_LOG"
	if [ "$vmm" = kite ]; then
		ip netns exec "$NS" timeout 600 "${KITE_PRE[@]}" "$KITE" run --kernel "$ELF" --cpus 2 --memory 256M \
			--cmdline "$args" --console "file=$VM_LOG" \
			--net "tap=$VM_TAP,mac=$mac,queues=$q" >"$VM_LOG.vmm-out" 2>&1 &
		VM_PID=$!
		# kite creates the tap; then the host's side of it.
		for ((k = 0; k < 300; k++)); do
			ip -n "$NS" link show dev "$VM_TAP" >/dev/null 2>&1 && break
			kill -0 "$VM_PID" 2>/dev/null || break
			sleep 0.1
		done
		if ! ip -n "$NS" link show dev "$VM_TAP" >/dev/null 2>&1; then
			VM_WHY="kite did not create tap $VM_TAP: $(tail -n1 "$VM_LOG.vmm-out" 2>/dev/null)"
			return 1
		fi
		tap_up "$NS" "$VM_TAP" "$HOST_IP/24"
	else
		tap_create "$NS" "$VM_TAP" "$q"
		tap_up "$NS" "$VM_TAP" "$HOST_IP/24"
		[ "$q" -gt 1 ] && mqopt=",mq=on,vectors=$((2 * q + 2))"
		[ "$vmm" = qemu ] || vhost=on
		ip netns exec "$NS" timeout 600 "$QEMU" -machine q35 -accel "$ACCEL" -nodefaults \
			-display none -no-reboot -smp 2 -m 256M -kernel "$ELF" -append "$args" \
			-serial "file:$VM_LOG" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-netdev "tap,id=n0,ifname=$VM_TAP,script=no,downscript=no,vhost=$vhost,queues=$q" \
			-device "virtio-net-pci,netdev=n0,disable-legacy=on,mac=$mac$mqopt" \
			>"$VM_LOG.vmm-out" 2>&1 &
		VM_PID=$!
	fi
	for ((k = 0; k < 600; k++)); do
		if grep -Eq '^net-(echo|blast): ready' "$VM_LOG"; then
			# Until the control port answers: ARP done, the guest live.
			for ((j = 0; j < 5; j++)); do
				in_ns "$LOAD" control "$GUEST" stats >/dev/null 2>&1 && return 0
			done
			VM_WHY="the guest said 'net-echo: ready' but its control port never answered"
			return 1
		fi
		if grep -Eq '^(FAIL|FATAL)' "$VM_LOG" || ! kill -0 "$VM_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	VM_WHY="the guest never said it was ready"
	if ! kill -0 "$VM_PID" 2>/dev/null; then
		k=0
		wait "$VM_PID" 2>/dev/null || k=$?
		VM_WHY="$VM_WHY: ${LABEL[$vmm]} ended with status $k"
	fi
	return 1
}

# "stop" on the control port, then make sure the VMM is gone, and its tap.
stop_vm() {
	local i
	in_ns "$LOAD" control "$GUEST" stop >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_vmm_process
	ip -n "$NS" link del "$VM_TAP" 2>/dev/null || true
}

# The guest's receive frames per pair, as "F0 F1 ...".
pair_frames() {
	in_ns "$LOAD" control "$GUEST" stats 2>/dev/null |
		sed -n 's/^net0 pair [0-9]* cpu [0-9]*: rx \([0-9]*\) frames.*/\1/p' | tr '\n' ' '
}

# Frames the tap dropped on the way to the guest (its queue was full).
tap_drops() {
	local d
	d=$(ip -n "$NS" -s link show dev "$VM_TAP" 2>/dev/null |
		awk '/TX:/ { getline; print $4; exit }')
	[[ $d =~ ^[0-9]+$ ]] || d=0
	echo "$d"
}

# pair_split BEFORE AFTER: each pair's share of the frames between, "55/45%".
pair_split() {
	# shellcheck disable=SC2206 # the counts are words
	local -a b=($1) a=($2)
	local i total=0 out=""
	if [ ${#a[@]} -lt 2 ] || [ ${#a[@]} -ne ${#b[@]} ]; then
		echo -
		return
	fi
	for i in "${!a[@]}"; do total=$((total + a[i] - b[i])); done
	[ "$total" -gt 0 ] || { echo -; return; }
	for i in "${!a[@]}"; do
		out+="${out:+/}$(( (100 * (a[i] - b[i]) + total / 2) / total ))"
	done
	echo "$out%"
}

# --- output ---
FMT='%-20s %6s  %-10s %15s  %-24s %-16s %s\n'
progress() {
	if [ -t 2 ]; then printf '\r\033[K%s' "$*" >&2; else printf '  ... %s\n' "$*" >&2; fi
}
progress_done() { [ ! -t 2 ] || printf '\r\033[K' >&2; }
CSV_ROWS=("vmm,accel,vhost,queues,test,payload_bytes,in_flight,secs,pkts_per_s,MB_per_s,sent,received,lost,loss_pct,host_dropped,host_reasm_fails,pair_split,status")
# row VMM Q TEST SIZE WINDOW RESULT-LINE|STATUS SPLIT
row() {
	local vmm=$1 q=$2 test=$3 size=$4 win=$5 res=$6 split=${7:--} accel=$ACCEL
	local pps mbps sent recv lost secs pct shown name vhost drop
	case $vmm in
	kite)	name=kite accel=${KITE_NATIVE:+ncpu}; accel=${accel:-kvm} vhost=- ;;
	qemu)	name=QEMU vhost=off ;;
	*)	name=QEMU vhost=on ;;
	esac
	if [[ $res == net-load* ]]; then
		pps=$(sed -n 's/.* pps=\([0-9]*\).*/\1/p' <<<"$res")
		mbps=$(sed -n 's/.* MBps=\([0-9.]*\).*/\1/p' <<<"$res")
		sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$res")
		recv=$(sed -n 's/.* received=\([0-9]*\).*/\1/p' <<<"$res")
		lost=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<<"$res")
		secs=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$res")
		pct=$(awk -v l="$lost" -v s="$sent" 'BEGIN { printf "%.2f", s ? 100 * l / s : 0 }')
		if [ "$test" = pps-64 ]; then
			shown="$pps pkt/s"
		else
			shown=$(printf '%.1f MB/s' "$mbps")
		fi
		drop=${HOST_DROPS:-0}
		[ "${REASM:-0}" = 0 ] || drop+=" +${REASM} frag"
		# shellcheck disable=SC2059
		printf "$FMT" "${LABEL[$vmm]}" "$q" "$test" "$shown" "$lost of $sent ($pct%)" \
			"$drop" "$split"
		CSV_ROWS+=("$name,$accel,$vhost,$q,$test,$size,$win,$secs,$pps,$mbps,$sent,$recv,$lost,$pct,${HOST_DROPS:-0},${REASM:-0},$split,ok")
	else
		CSV_ROWS+=("$name,$accel,$vhost,$q,$test,$size,$win,,,,,,,,,,,\"$res\"")
	fi
}

# no_figures VMM Q LABEL STATUS TEST...: one table line for tests that did
# not run (TEST as in TESTS), a CSV row each.
no_figures() {
	local vmm=$1 q=$2 label=$3 status=$4 t name size win
	shift 4
	# shellcheck disable=SC2059
	printf "$FMT" "${LABEL[$vmm]}" "$q" "$label" "" "$status" "" ""
	for t in "$@"; do
		read -r name size win _ <<<"$t"
		row "$vmm" "$q" "$name" "$size" "$win" "$status"
	done
}

# --- the run ---
echo "kite network benchmark: UDP through the test guest's virtio-net (echo with" \
	"$FLOWS flows; guest transmit), 2 vCPUs, guest receive by $WAIT, $SECS s per test;" \
	"namespace $NS"
if [ "$ACCEL" = tcg ]; then
	echo "  QEMU runs under TCG (software emulation): its figures measure QEMU's" \
		"emulator, not what virtio-net does under KVM"
fi
# shellcheck disable=SC2059
printf "$FMT" VMM queues test result "lost of sent" "host drop" "pair split"
failed=0 n=0
for vmm in ${VMMS//,/ }; do
	for q in "${QUEUES[@]}"; do
		if [ -n "${WHY_SKIPPED[$vmm]:-}" ]; then
			no_figures "$vmm" "$q" all "${WHY_SKIPPED[$vmm]}" "${TESTS[@]}"
			continue
		fi
		# One VM for the echo tests (net=echo), one for the transmit
		# tests (mode=net-blast).
		for kind in echo tx; do
			tests=()
			for t in "${TESTS[@]}"; do
				[ "${t##* }" != "$kind" ] || tests+=("$t")
			done
			[ ${#tests[@]} -gt 0 ] || continue
			n=$((n + 1))
			progress "${LABEL[$vmm]}, $q queue pairs: booting (${kind/tx/net-blast})"
			VM_WHY=
			if ! start_vm "$vmm" "$q" "$n" "$kind"; then
				progress_done
				# A QEMU that will not take vhost=on (under TCG, say)
				# is a row without figures, not a failed run.
				if [ "$vmm" = qemu-vhost ] && ! kill -0 "$VM_PID" 2>/dev/null; then
					VM_WHY="unavailable: QEMU: $(tail -n1 "$VM_LOG.vmm-out" 2>/dev/null)"
				else
					VM_WHY="FAILED: $VM_WHY"
					failed=$((failed + 1))
					echo "      --- the guest's log, then the VMM's output (last lines) ---"
					tail -n 8 "$VM_LOG" "$VM_LOG.vmm-out" 2>/dev/null | sed 's/^/      /'
				fi
				no_figures "$vmm" "$q" "$kind" "$VM_WHY" "${tests[@]}"
				stop_vm
				continue
			fi
			after=
			for t in "${tests[@]}"; do
				read -r name size win _ <<<"$t"
				progress "${LABEL[$vmm]}, $q queue pairs: $name"
				# The counters after one test are those before the next.
				[ "$kind" = tx ] || [ -n "$after" ] || after=$(pair_frames)
				before=$after
				drops=$(tap_drops)
				if [ "$kind" = echo ]; then
					res=$(in_ns "$LOAD" "$GUEST" "$size" "$SECS" --window "$win" \
						--flows "$FLOWS" 2>"$TMP/load.err") ||
						res=$(tail -n1 "$TMP/load.err")
				else
					res=$(in_ns "$LOAD" blast "$GUEST" "$size" "$SECS" \
						2>"$TMP/load.err") || res=$(tail -n1 "$TMP/load.err")
				fi
				[ "$kind" = tx ] || after=$(pair_frames)
				drops=$(($(tap_drops) - drops))
				progress_done
				if [[ $res != net-load* ]] || [[ $res == *" received=0 "* ]]; then
					res="FAILED: ${res:-net-load said nothing}"
					failed=$((failed + 1))
				fi
				if [ "$kind" = echo ]; then
					sp=$(pair_split "$before" "$after")
				else
					sp=$(sed -n 's/.* split=\([^ ]*\).*/\1/p' <<<"$res")
				fi
				if [ "$kind" = tx ]; then
					# The host's own drops: socket full, reassembly failed.
					rb=$(sed -n 's/.* host_rcvbuf_errors=\([0-9]*\).*/\1/p' <<<"$res")
					rf=$(sed -n 's/.* host_reasm_fails=\([0-9]*\).*/\1/p' <<<"$res")
					drops=${rb:-0}
					REASM=${rf:-0}
				else
					REASM=0
				fi
				HOST_DROPS=$drops row "$vmm" "$q" "$name" "$size" "$win" "$res" "$sp"
			done
			stop_vm
		done
	done
done
mkdir -p "$CSV_DIR"
printf '%s\n' "${CSV_ROWS[@]}" >"$CSV"
echo
cat "$CSV"
echo "results: $CSV"
if [ "$failed" -gt 0 ]; then
	echo "bench-net: $failed runs FAILED" >&2
	exit 1
fi
