#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kite's virtio-blk beside its virtio-scsi on kvmfake (tests/kvmfake/): the
# device path alone, on hosts with or without KVM. A guest program (not
# guest code: no vCPU runs, no VM exits) keeps 4 KiB random reads or
# writes in flight on every queue of a virtio-blk disk and of a virtio-scsi
# target on the same backend and polls the used rings. What is measured is
# kite's side: ioeventfd kicks, chain parsing, io_uring, used rings and
# irqfd interrupts, so the figures are an upper bound for a real guest's,
# and blk and scsi are compared on equal terms.
#
#   usage: tools/bench-kvmfake.sh [--build DIR] [--quick] [--secs N]
#          (--tcg and --wait are accepted and ignored, as make bench passes them)
#
# Backends: null (kite's null backend: the device path only), disk (a 1 GiB
# image in BUILD/bench on the checkout's disk, cache=none) and shm (the
# same on /dev/shm, cache=writeback). Points: read and write x queue depth
# 1 and 32 x 1 and 2 queues (one I/O thread a queue). --quick: null and
# disk, depth 32, 1 queue. Then live migration kite to kite over loopback:
# 256 MiB and 2 GiB, the guest idle or dirtying RAM, 3 runs each (--quick:
# 256 MiB, 1 run). Prints tables and writes BUILD/bench/kvmfake.csv and
# kvmfake-migrate.csv.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build QUICK=0 SECS=3
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=${2:?}; shift ;;
	--quick) QUICK=1 ;;
	--secs)  SECS=${2:?}; shift ;;
	--tcg)   ;;
	--wait)  shift ;;
	*) sed -n '/^#   usage:/,/^#$/s/^#  *//p' "$0" >&2; exit 2 ;;
	esac
	shift
done
cd "$here" || exit 1
KITE=$BUILD/kite
FAKE=$(cd "$BUILD" && pwd)/kvmfake.so
for f in "$KITE" "$FAKE" "$BUILD/testguest.elf"; do
	[ -f "$f" ] || { echo "bench-kvmfake: $f is missing (make all $BUILD/kvmfake.so)" >&2; exit 1; }
done
OUT=$BUILD/bench
mkdir -p "$OUT"
CSV=$OUT/kvmfake.csv
echo "backend,rw,queues,depth,iface,iops" >"$CSV"

if [ "$QUICK" = 1 ]; then
	BACKENDS=(null disk); DEPTHS=(32); QUEUES=(1)
else
	BACKENDS=(null disk shm); DEPTHS=(1 32); QUEUES=(1 2)
fi
IMG_DISK=$OUT/kvmfake-disk.img
IMG_SHM=/dev/shm/kite-bench-kvmfake-$$.img
trap 'rm -f "$IMG_SHM"' EXIT

# A 1 GiB image, written through once so reads hit allocated blocks.
make_image() {
	[ -f "$1" ] && [ "$(stat -c %s "$1")" = 1073741824 ] && return 0
	dd if=/dev/zero of="$1" bs=1M count=1024 status=none conv=fsync
}

disks() {
	local backend=$1 q=$2
	case $backend in
	null) echo "--disk null=1G,queues=$q --disk null=1G,iface=scsi,queues=$q" ;;
	disk) echo "--disk path=$IMG_DISK,queues=$q --disk path=$IMG_DISK.scsi,iface=scsi,queues=$q" ;;
	shm)  echo "--disk path=$IMG_SHM,queues=$q,cache=writeback --disk path=$IMG_SHM.scsi,iface=scsi,queues=$q,cache=writeback" ;;
	esac
}

echo "kite's device path on kvmfake: a polling guest program, no VM exits (an upper"
echo "bound for a real guest); $SECS s a point; 4 KiB random I/O"
printf '%-8s %-6s %6s %6s %12s %12s %9s\n' backend rw queues depth "blk IOPS" "scsi IOPS" scsi/blk
failed=0
for backend in "${BACKENDS[@]}"; do
	case $backend in
	disk) make_image "$IMG_DISK"; make_image "$IMG_DISK.scsi" ;;
	shm)  make_image "$IMG_SHM"; make_image "$IMG_SHM.scsi" ;;
	esac
	for rw in randread randwrite; do
		for q in "${QUEUES[@]}"; do
			for depth in "${DEPTHS[@]}"; do
				log=$OUT/kvmfake-$backend-$rw-q$q-d$depth.log
				# shellcheck disable=SC2046
				env KVMFAKE_GUEST=bench KVMFAKE_SECS="$SECS" KVMFAKE_DEPTH="$depth" \
					KVMFAKE_RW="$rw" LD_PRELOAD="$FAKE" timeout $((SECS * 2 + 60)) \
					"$KITE" run --kernel "$BUILD/testguest.elf" --memory 128M \
					--cpus "$q" $(disks "$backend" "$q") >"$log" 2>&1
				st=$?
				blk=$(sed -n 's/^bench blk0: .*: \([0-9]*\) IOPS$/\1/p' "$log")
				scsi=$(sed -n 's/^bench scsi0: .*: \([0-9]*\) IOPS$/\1/p' "$log")
				if [ "$st" != 0 ] || [ -z "$blk" ] || [ -z "$scsi" ]; then
					printf '%-8s %-6s %6s %6s  FAILED (exit %s; %s)\n' "$backend" \
						"${rw#rand}" "$q" "$depth" "$st" "$log"
					failed=1
					continue
				fi
				printf '%-8s %-6s %6s %6s %12s %12s %9s\n' "$backend" "${rw#rand}" "$q" \
					"$depth" "$blk" "$scsi" "$(awk -v a="$scsi" -v b="$blk" \
					'BEGIN { printf "%.2f", a / b }')"
				echo "$backend,${rw#rand},$q,$depth,blk,$blk" >>"$CSV"
				echo "$backend,${rw#rand},$q,$depth,scsi,$scsi" >>"$CSV"
			done
		done
	done
	rm -f "$IMG_SHM" "$IMG_SHM.scsi"
done
echo "results: $CSV"

# --- live migration between two kites on kvmfake ---------------------------
# The guest program idles (a tick and a disk read every 100 ms), or dirties
# 16 MiB page by page and reads a disk sector into RAM each pass; the
# destination checks what arrived. kite's own figures, as `kite ctl
# migrate` reports them: total time, and downtime from the source's pause
# to the destination's start.
MCSV=$OUT/kvmfake-migrate.csv
echo "memory,load,run,total_ms,downtime_ms,iterations,mib_sent" >"$MCSV"
if [ "$QUICK" = 1 ]; then SIZES=(256M); RUNS=1; else SIZES=(256M 2G); RUNS=3; fi
MIMG=$OUT/kvmfake-migrate.img
rm -f "$MIMG"; truncate -s 64M "$MIMG"
SOCK=$OUT/kvmfake-migrate.sock
echo
echo "live migration over loopback, kite to kite on kvmfake ($RUNS run(s) a point, median)"
printf '%-8s %-6s %10s %12s %11s %9s\n' memory load "total ms" "downtime ms" iterations "MiB sent"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for size in "${SIZES[@]}"; do
	for load in idle dirty; do
		tot=() down=() its="" mib=""
		for run in $(seq "$RUNS"); do
			port=$((40000 + (RANDOM + $$) % 20000))
			rm -f "$SOCK"
			env KVMFAKE_GUEST="$load" LD_PRELOAD="$FAKE" "$KITE" run --kernel "$BUILD/testguest.elf" \
				--memory "$size" --disk "path=$MIMG" --api-socket "$SOCK" \
				>"$OUT/kvmfake-migrate-src.log" 2>&1 &
			src=$!
			env KVMFAKE_GUEST=resume KVMFAKE_DIRTY="${load#idle}" LD_PRELOAD="$FAKE" "$KITE" run \
				--kernel "$BUILD/testguest.elf" --memory "$size" --disk "path=$MIMG" \
				--incoming "tcp:127.0.0.1:$port" >"$OUT/kvmfake-migrate-dst.log" 2>&1 &
			dst=$!
			for _ in $(seq 100); do
				grep -q '^\(tick 3\|pass 16\)$' "$OUT/kvmfake-migrate-src.log" && break
				sleep 0.1
			done
			line=$("$KITE" ctl "$SOCK" migrate "tcp:127.0.0.1:$port" 2>&1 | grep '^migrated')
			wait "$src"; wait "$dst"; dst_st=$?
			if [ -z "$line" ] || [ "$dst_st" != 0 ]; then
				printf '%-8s %-6s  FAILED (run %s; %s)\n' "$size" "$load" "$run" \
					"$OUT/kvmfake-migrate-dst.log"
				failed=1
				continue 2
			fi
			t=$(sed -n 's/.*total \([0-9]*\) ms.*/\1/p' <<<"$line")
			d=$(sed -n 's/.*downtime \([0-9]*\) ms.*/\1/p' <<<"$line")
			its=$(sed -n 's/.* \([0-9]*\) iterations.*/\1/p' <<<"$line")
			mib=$(sed -n 's/.* \([0-9]*\) MiB sent.*/\1/p' <<<"$line")
			tot+=("$t"); down+=("$d")
			echo "$size,$load,$run,$t,$d,$its,$mib" >>"$MCSV"
		done
		printf '%-8s %-6s %10s %12s %11s %9s\n' "$size" "$load" \
			"$(printf '%s\n' "${tot[@]}" | median)" "$(printf '%s\n' "${down[@]}" | median)" \
			"$its" "$mib"
	done
done
rm -f "$MIMG" "$SOCK"
echo "results: $MCSV"
exit $failed
