#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: 4 KiB random I/O through kite's virtio-blk and virtio-scsi,
# beside QEMU's virtio-blk and virtio-scsi (virtio-scsi-pci + scsi-hd) and
# beside fio on the host, on the same file at the same depth.
#
#   usage: tools/bench.sh [--build DIR] [--quick] [--secs N] [--wait poll|irq]
#                         [--image PATH | --device PATH] [--allow-writes] [--tcg]
#
# Backends: disk (a 1 GiB image in BUILD/bench/ on the disk that holds the
# checkout, cache=none / O_DIRECT), shm (the same on /dev/shm,
# cache=writeback) and null (kite's null backend, QEMU's null-co; no fio).
# --image or --device benchmarks that file or block device instead
# (cache=none), read-only unless --allow-writes: writes overwrite it.
# Points: read, write and mix (70% reads) x queue depth 1, 32 and 128 x 1
# and 2 queues (one vCPU and one I/O thread per queue; QEMU 7.2 serves all
# queues from its one iothread). --quick: read and write, depth 1 and 32,
# one queue. Each run lasts --secs (default 3) as timed inside the guest
# (mode=bench, guest-tests/bench.c), whose hot loop is ring 3 only;
# --wait picks how the guest learns of completions (default poll).
#
# Figures need KVM. Without /dev/kvm the kite columns (kite-ncpu) run the
# guest on kvmfake's native CPU (tests/kvmfake/ncpu.h), which makes every
# guest kick and interrupt a signal: kite's device path at work, blk beside
# scsi on one footing, but not KVM figures. The QEMU columns say SKIPPED;
# --tcg runs QEMU under TCG instead, only to check this harness end to end;
# its figures mean nothing. fio always runs for real (installed if missing).
#
# Prints a table (with kite/QEMU for each interface, kite scsi/blk and
# kite/fio ratios) row by row, a progress line while it runs, and writes
# BUILD/bench/results.csv, one row per point and tool, and
# BUILD/bench/chart.svg (gnuplot, installed if missing): the IOPS of kite
# blk, kite scsi, QEMU blk and QEMU scsi at each point. Exit status 1 if
# any run failed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build QUICK=0 SECS=3 WAIT=poll TCG=0 USER_PATH="" ALLOW_WRITES=0
usage() { sed -n '/^#   usage:/,/^#$/s/^#  *//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--build)	BUILD=${2:?}; shift ;;
	--quick)	QUICK=1 ;;
	--secs)		SECS=${2:?}; shift ;;
	--wait)		WAIT=${2:?}; shift ;;
	--image|--device)
			USER_PATH=${2:?}
			if [ "$1" = --image ] && [ ! -f "$USER_PATH" ]; then
				echo "bench: --image $USER_PATH: not a regular file" >&2; exit 2
			fi
			if [ "$1" = --device ] && [ ! -b "$USER_PATH" ]; then
				echo "bench: --device $USER_PATH: not a block device" >&2; exit 2
			fi
			shift ;;
	--allow-writes)	ALLOW_WRITES=1 ;;
	--tcg)		TCG=1 ;;
	*)		usage ;;
	esac
	shift
done
if ! [[ $SECS =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: --secs $SECS: expected a whole number of seconds" >&2; exit 2
fi
if ! [[ $WAIT =~ ^(poll|irq)$ ]]; then
	echo "bench: --wait $WAIT: expected poll or irq" >&2; exit 2
fi
cd "$here"
KITE=$BUILD/kite
ELF=$BUILD/testguest.elf
QEMU=${QEMU:-qemu-system-x86_64}
OUT=$BUILD/bench
CSV=$OUT/results.csv
SHM_IMG=/dev/shm/kite-bench-$$.img
for f in "$KITE" "$ELF"; do
	[ -f "$f" ] || { echo "bench: $f is missing (run: make BUILD=$BUILD)" >&2; exit 1; }
done
mkdir -p "$OUT"
trap 'rm -f "$SHM_IMG"' EXIT

# --- the matrix ---
if [ -n "$USER_PATH" ]; then
	BACKENDS=(user)
else
	BACKENDS=(disk shm null)
fi
if [ "$QUICK" = 1 ]; then
	RWS=(read write) QDS=(1 32) QUEUES=(1)
else
	RWS=(read write mix) QDS=(1 32 128) QUEUES=(1 2)
fi
if [ -n "$USER_PATH" ] && [ "$ALLOW_WRITES" = 0 ]; then
	RWS=(read)
	echo "bench: reads only on $USER_PATH (--allow-writes lets the benchmark overwrite it)"
fi
if [ -f "$USER_PATH" ] && [ $(($(stat -c '%b * %B' "$USER_PATH"))) -lt "$(stat -c %s "$USER_PATH")" ]; then
	echo "bench: $USER_PATH is sparse: reading its holes costs nothing, which flatters every column"
fi

# --- the columns: a tool is a label and a run_<tool> function ---
# kite and qemu are virtio-blk; kite_scsi and qemu_scsi boot the guest with
# bench_iface=scsi (QEMU with virtio-scsi-pci + scsi-hd on the same iothread).
TOOLS=(kite kite_scsi qemu qemu_scsi fio)
declare -A LABEL=([kite]=kite [kite_scsi]=kite-scsi [qemu]=QEMU [qemu_scsi]=QEMU-scsi [fio]=fio)
RATIOS=("kite qemu" "kite_scsi qemu_scsi" "kite_scsi kite" "kite fio")
declare -A WHY_SKIPPED=()

# shellcheck source-path=SCRIPTDIR/.. source=guest-tests/lib.sh
source guest-tests/lib.sh
KVM_WHY=$(kvm_unusable_reason)
[ -e /dev/kvm ] || KVM_WHY="no /dev/kvm"
# Without KVM, kite's columns run the guest on kvmfake's native CPU
# (guest-tests/lib.sh kite_cpu): kite's whole device path for real, the
# guest's code natively, but every kick and interrupt through a signal.
if ! kite_cpu "$BUILD"; then
	WHY_SKIPPED[kite]=$KITE_CPU_WHY
elif [ -n "$KITE_NATIVE" ]; then
	LABEL[kite]=kite-ncpu
	LABEL[kite_scsi]=kite-ncpu-scsi
	echo "bench: $KITE_CPU_NOTE; its figures are kite's device path under that CPU, not under KVM"
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
	WHY_SKIPPED[qemu]="$QEMU is not installed"
	[ "$TCG" = 0 ] || { echo "bench: --tcg needs $QEMU" >&2; exit 1; }
elif [ "$TCG" = 1 ]; then
	LABEL[qemu]="QEMU-TCG"
	LABEL[qemu_scsi]="QEMU-TCG-scsi"
	QEMU_ACCEL=(-machine "q35,accel=tcg" -cpu max)
elif [ -n "$KVM_WHY" ]; then
	WHY_SKIPPED[qemu]="$KVM_WHY; --tcg checks the harness under TCG, with meaningless figures"
else
	QEMU_ACCEL=(-machine "q35,accel=kvm" -cpu host)
fi
if ! command -v fio >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: installing fio"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq fio >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq fio >/dev/null; } || true
	fi
	command -v fio >/dev/null 2>&1 || WHY_SKIPPED[fio]="fio is not installed (apt-get install fio)"
fi
# The scsi columns run where the blk ones do.
[ -z "${WHY_SKIPPED[kite]:-}" ] || WHY_SKIPPED[kite_scsi]=${WHY_SKIPPED[kite]}
[ -z "${WHY_SKIPPED[qemu]:-}" ] || WHY_SKIPPED[qemu_scsi]=${WHY_SKIPPED[qemu]}
if ! command -v gnuplot >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	echo "bench: installing gnuplot-nox (for $OUT/chart.svg)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq gnuplot-nox >/dev/null; } || true
fi

# --- backends: BK_IMG (the file; empty for null), BK_CACHE, BK_DIRECT ---
# A benchmark image must have every block allocated: reading a hole costs
# nothing and would flatter everyone.
make_image() {
	local img=$1 size=$((1 << 30))
	if [ -f "$img" ] && [ "$(stat -c %s "$img")" = $size ] &&
	   [ $(($(stat -c '%b * %B' "$img"))) -ge $size ]; then
		return
	fi
	echo "bench: writing the 1 GiB image $img"
	dd if=/dev/zero of="$img" bs=1M count=1024 conv=fsync status=none
}

backend() {
	case $1 in
	disk) BK_IMG=$OUT/disk.img BK_CACHE=none BK_DIRECT=1 ;;
	shm)  BK_IMG=$SHM_IMG BK_CACHE=writeback BK_DIRECT=0 ;;
	null) BK_IMG="" BK_CACHE=none BK_DIRECT=0 ;;
	user) BK_IMG=$USER_PATH BK_CACHE=none BK_DIRECT=1 ;;
	esac
}

# --- runners: run_<tool> RW QD Q LOG sets RES to "IOPS LAT_US", or to
# SKIPPED, FAILED or n/a ---
guest_args() {	# RW QD Q [IFACE]
	echo "mode=bench bench_rw=$1 bench_qd=$2 bench_queues=$3 bench_secs=$SECS blk_wait=$WAIT" \
		"bench_iface=${4:-blk}"
}

# The BENCH line of a guest log as "IOPS LAT_US", or FAILED.
bench_result() {
	local r
	r=$(sed -n 's/^BENCH .* iops=\([0-9]*\) lat_us=\([0-9.]*\) .*/\1 \2/p' "$1" 2>/dev/null)
	echo "${r:-FAILED}"
}

# run_kite RW QD Q LOG [IFACE]
run_kite() {
	local rw=$1 qd=$2 q=$3 log=$4 iface=${5:-blk} disk
	if [ -n "$BK_IMG" ]; then
		disk="path=$BK_IMG,iface=$iface,queues=$q,iothreads=$q,cache=$BK_CACHE"
	else
		disk="null=1G,iface=$iface,queues=$q,iothreads=$q"
	fi
	timeout $((SECS + 60)) "${KITE_PRE[@]}" "$KITE" run --kernel "$ELF" --cpus "$q" --memory 256M \
		--disk "$disk" --cmdline "$(guest_args "$rw" "$qd" "$q" "$iface")" \
		--console "file=$log" >"$log.vmm-out" 2>&1 || true
	RES=$(bench_result "$log")
}

run_kite_scsi() {
	run_kite "$@" scsi
}

# run_qemu RW QD Q LOG [IFACE]
run_qemu() {
	local rw=$1 qd=$2 q=$3 log=$4 iface=${5:-blk} drive cpus=$3
	local -a dev=(-device "virtio-blk-pci,drive=d0,iothread=io0,num-queues=$q,disable-legacy=on")
	if [ "$iface" = scsi ]; then
		dev=(-device "virtio-scsi-pci,id=scsi0,iothread=io0,num_queues=$q,disable-legacy=on"
		     -device "scsi-hd,drive=d0,bus=scsi0.0,scsi-id=0,lun=0")
	fi
	if [ -n "$BK_IMG" ]; then
		drive="file=$BK_IMG,if=none,id=d0,format=raw,cache=$BK_CACHE,aio=io_uring"
	else
		drive="driver=null-co,size=1G,read-zeroes=on,if=none,id=d0"
	fi
	# TCG with a single vCPU drops the guest's memory barriers (no other
	# vCPU to order against), which loses the race with QEMU's I/O thread
	# over EVENT_IDX: a second, idle vCPU keeps them.
	[ "$TCG" = 0 ] || [ "$q" -gt 1 ] || cpus=2
	timeout $((SECS + 120)) "$QEMU" "${QEMU_ACCEL[@]}" -smp "$cpus" -m 256M -nodefaults \
		-display none -no-reboot -kernel "$ELF" \
		-append "$(guest_args "$rw" "$qd" "$q" "$iface")" \
		-serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-object iothread,id=io0 -drive "$drive" "${dev[@]}" >"$log.vmm-out" 2>&1 || true
	RES=$(bench_result "$log")
}

run_qemu_scsi() {
	run_qemu "$@" scsi
}

# fio on the same file, one job per guest queue, each at the guest's depth.
run_fio() {
	local rw=$1 qd=$2 q=$3 log=$4
	local -A mode=([read]=randread [write]=randwrite [mix]="randrw --rwmixread=70")
	if [ -z "$BK_IMG" ]; then
		RES=n/a
		return
	fi
	# shellcheck disable=SC2086 # mode[mix] is two words on purpose
	fio --name=bench --filename="$BK_IMG" --direct="$BK_DIRECT" --ioengine=io_uring \
		--rw=${mode[$rw]} --bs=4k --iodepth="$qd" --numjobs="$q" --group_reporting \
		--time_based --runtime="$SECS" --output-format=json >"$log" 2>&1 || true
	RES=$(python3 - "$log" <<-'EOF'
		import json, sys
		text = open(sys.argv[1]).read()
		try:
		    job = json.loads(text[text.index("{"):])["jobs"][0]
		except (ValueError, KeyError, IndexError):
		    print("FAILED")
		    sys.exit()
		dirs = [job[d] for d in ("read", "write") if job[d]["total_ios"]]
		ios = sum(d["total_ios"] for d in dirs)
		lat = sum(d["lat_ns"]["mean"] * d["total_ios"] for d in dirs) / max(ios, 1)
		print("%d %.1f" % (sum(d["iops"] for d in dirs), lat / 1000))
	EOF
	)
}

# --- output ---
ratio() {	# ratio A B: A's IOPS over B's, or "-"
	local a=${RES_OF[$1]} b=${RES_OF[$2]}
	if [[ $a =~ ^[0-9] && $b =~ ^[0-9] ]]; then
		awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN { printf "%.2f", b ? a / b : 0 }'
	else
		echo -
	fi
}

header() {
	local t r
	printf '%-7s %-5s %4s %2s' backend rw qd q
	for t in "${TOOLS[@]}"; do printf ' | %11s %8s' "${LABEL[$t]} IOPS" lat_us; done
	printf ' |'
	for r in "${RATIOS[@]}"; do
		printf " %${RATIO_W[$r]}s" "${LABEL[${r% *}]}/${LABEL[${r#* }]}"
	done
	printf '\n'
}

row() {
	local t r v
	printf '%-7s %-5s %4s %2s' "$1" "$2" "$3" "$4"
	for t in "${TOOLS[@]}"; do
		v=${RES_OF[$t]}
		if [[ $v =~ ^[0-9] ]]; then
			# shellcheck disable=SC2086 # "IOPS LAT" is two fields
			printf ' | %11s %8s' $v
		else
			printf ' | %20s' "$v"
		fi
	done
	printf ' |'
	for r in "${RATIOS[@]}"; do
		# shellcheck disable=SC2086
		printf " %${RATIO_W[$r]}s" "$(ratio $r)"
	done
	printf '\n'
}

# --- the chart: IOPS of the four virtio columns at each point ---
# A run without a figure is drawn as 0 (gnuplot would drop a column with
# none at all, and shift the others); its key entry says so.
CHART_TOOLS=(kite kite_scsi qemu qemu_scsi)
declare -A CHART_HAS=()
chart_row() {	# chart_row POINT: one line of $CHART_DAT from RES_OF
	local t v line=$1
	for t in "${CHART_TOOLS[@]}"; do
		v=${RES_OF[$t]}
		if [[ $v =~ ^[0-9] ]]; then
			line+=" ${v%% *}"
			CHART_HAS[$t]=1
		else
			line+=" 0"
		fi
	done
	echo "$line" >>"$CHART_DAT"
}

chart() {
	local svg=$OUT/chart.svg title="4 KiB random I/O, $SECS s per point, completions by $WAIT"
	local -A key=([kite]="${LABEL[kite]} blk" [kite_scsi]="${LABEL[kite_scsi]}"
		      [qemu]="${LABEL[qemu]} blk" [qemu_scsi]="${LABEL[qemu_scsi]}")
	local t
	if ! command -v gnuplot >/dev/null 2>&1; then
		echo "bench: gnuplot is not installed (apt-get install gnuplot-nox): no $svg" >&2
		return
	fi
	[ "$TCG" = 0 ] || title+="; QEMU under TCG: not a figure"
	for t in "${CHART_TOOLS[@]}"; do
		[ -n "${CHART_HAS[$t]:-}" ] || key[$t]+=" (no figures: ${WHY_SKIPPED[$t]:-FAILED})"
	done
	gnuplot <<-EOF 2>"$OUT/chart.err" || echo "bench: gnuplot failed, see $OUT/chart.err" >&2
		set terminal svg size 1200,640 dynamic enhanced font "sans,11" background "white"
		set output "$svg"
		set title "$title" noenhanced
		set ylabel "IOPS"
		set yrange [0:*]
		set key top left noenhanced
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.85 border -1
		set boxwidth 0.9
		set xtics rotate by 40 right scale 0 noenhanced
		set bmargin 9
		set grid ytics
		plot "$CHART_DAT" using 2:xtic(1) title "${key[kite]}", \
		     "" using 3 title "${key[kite_scsi]}", \
		     "" using 4 title "${key[qemu]}", \
		     "" using 5 title "${key[qemu_scsi]}"
	EOF
}

# On stderr, so that the table alone goes where stdout is sent.
progress() {
	if [ -t 2 ]; then printf '\r\033[K%s' "$*" >&2; else printf '  ... %s\n' "$*" >&2; fi
}
progress_done() { [ ! -t 2 ] || printf '\r\033[K' >&2; }

# --- the run ---
total=$((${#BACKENDS[@]} * ${#RWS[@]} * ${#QDS[@]} * ${#QUEUES[@]}))
echo "kite benchmark: 4 KiB random I/O, $SECS s per run, guest completions by $WAIT," \
	"$total points; logs and $CSV in $OUT"
for t in "${TOOLS[@]}"; do
	[ -z "${WHY_SKIPPED[$t]:-}" ] || echo "  ${LABEL[$t]}: SKIPPED (${WHY_SKIPPED[$t]})"
done
[ "$TCG" = 0 ] || echo "  ${LABEL[qemu]}: QEMU under TCG, to check the harness: not a figure"
for bk in "${BACKENDS[@]}"; do
	backend "$bk"
	[ "$bk" = user ] || [ -z "$BK_IMG" ] || make_image "$BK_IMG"
done
declare -A RATIO_W
for r in "${RATIOS[@]}"; do
	RATIO_W[$r]=$(( ${#LABEL[${r% *}]} + ${#LABEL[${r#* }]} + 1 ))
done
echo "backend,rw,qd,queues,wait,tool,iops,lat_us,status" >"$CSV"
CHART_DAT=$OUT/chart.dat
echo "# point ${LABEL[kite]} ${LABEL[kite_scsi]} ${LABEL[qemu]} ${LABEL[qemu_scsi]} (IOPS, 0 = none)" \
	>"$CHART_DAT"
header
n=0 failed=0
declare -A RES_OF
for bk in "${BACKENDS[@]}"; do
	backend "$bk"
	for rw in "${RWS[@]}"; do
		for qd in "${QDS[@]}"; do
			for q in "${QUEUES[@]}"; do
				n=$((n + 1))
				for t in "${TOOLS[@]}"; do
					if [ -n "${WHY_SKIPPED[$t]:-}" ]; then
						RES=SKIPPED
					else
						progress "[$n/$total] $bk $rw qd=$qd queues=$q: ${LABEL[$t]}"
						"run_$t" "$rw" "$qd" "$q" "$OUT/$bk-$rw-qd$qd-q$q.$t.log"
					fi
					RES_OF[$t]=$RES
					[ "$RES" != FAILED ] || failed=$((failed + 1))
					case $RES in
					[0-9]*) echo "$bk,$rw,$qd,$q,$WAIT,${LABEL[$t],,},${RES/ /,},ok" ;;
					*)      echo "$bk,$rw,$qd,$q,$WAIT,${LABEL[$t],,},,,${RES,,}" ;;
					esac >>"$CSV"
				done
				progress_done
				row "$bk" "$rw" "$qd" "$q"
				chart_row "$bk/$rw/qd$qd/q$q"
			done
		done
	done
done
chart
echo "results: $CSV, $OUT/chart.svg"
if [ "$failed" -gt 0 ]; then
	echo "bench: $failed runs FAILED; their logs are in $OUT" >&2
	exit 1
fi
