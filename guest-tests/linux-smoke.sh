#!/usr/bin/env bash
# Linux early-boot smoke test: usage: linux-smoke.sh BUILD
#
# 1. Fetch the Debian cloud kernel package into BUILD/linux/ (cached there,
#    never committed) and take its bzImage; extract the uncompressed vmlinux
#    from the bzImage's payload.
# 2. Check both images with kite's own kernel_probe/boot_load (a small helper
#    built against BUILD/libkite.a): the bzImage header, the vmlinux PVH note,
#    and a load of each into a fake 512 MiB guest.
# 3. Boot the vmlinux (through PVH, then through the 64-bit entry) and the
#    bzImage under kite far enough to print the command line, the e820 map,
#    the ACPI tables and the CPU count, and check those lines. Without a
#    usable /dev/kvm, kite runs them on kvmfake's emulated CPU (an x86-64
#    interpreter preloaded into the real kite: tests/kvmfake/emu.h), and
#    the script says so; if that is not built either, this step prints
#    SKIPPED.
#
# Every check prints PASS/FAIL; the last line is "N passed, N failed[, N skipped]".
# Environment: LINUX_SMOKE_TIMEOUT (seconds per boot, default 90),
# LINUX_SMOKE_PACKAGE (default linux-image-cloud-amd64).
set -uo pipefail

BUILD=${1:-build}
mkdir -p "$BUILD/linux" || exit 1
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=guest-tests/lib.sh
. "$ROOT/guest-tests/lib.sh"
# shellcheck source=guest-tests/net-lib.sh
. "$ROOT/guest-tests/net-lib.sh"
DIR=$BUILD/linux
META=${LINUX_SMOKE_PACKAGE:-linux-image-cloud-amd64}
BOOT_TIMEOUT=${LINUX_SMOKE_TIMEOUT:-90}
MEMORY=512M
CPUS=2
CMDLINE="console=ttyS0 earlyprintk=ttyS0 panic=-1 kite.smoke=1"

passed=0 failed=0 skipped=0

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check NAME CMD...: PASS if CMD succeeds.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
summary() {
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" = 0 ]
	exit $?
}
skip_all() {
	echo "SKIPPED: linux smoke: $*"
	skipped=$((skipped + 1))
	summary
}

# Run apt/dpkg quietly; root needs no sudo, others need passwordless sudo.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# need_tool TOOL PACKAGE: install PACKAGE if TOOL is missing.
need_tool() {
	command -v "$1" >/dev/null && return 0
	echo "installing $2 for $1"
	as_root apt-get install -y -qq "$2" >/dev/null 2>&1 || true
	command -v "$1" >/dev/null
}

# --- 1. fetch -----------------------------------------------------------

fetch_kernel() {
	local meta_deb real deb tmp
	[ -s "$DIR/vmlinuz" ] && [ -s "$DIR/modules/order" ] && return 0
	command -v apt-get >/dev/null || { echo "no apt-get"; return 1; }
	tmp=$(mktemp -d "$DIR/fetch.XXXXXX") || return 1
	# The metapackage only depends on the real, versioned image package.
	if ! (cd "$tmp" && timeout 120 apt-get download -q "$META" >/dev/null 2>"$tmp/err"); then
		# Package lists may be missing (fresh container): refresh once.
		as_root timeout 120 apt-get update -qq >/dev/null 2>&1
		(cd "$tmp" && timeout 120 apt-get download -q "$META" >/dev/null 2>"$tmp/err") ||
			{ sed -n 's/^E: /  /p' "$tmp/err"; rm -rf "$tmp"; return 1; }
	fi
	meta_deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
	real=$(dpkg-deb -f "$meta_deb" Depends 2>/dev/null | tr ',' '\n' |
	       grep -oE 'linux-image-[0-9][^ (]*-cloud-amd64' | head -n1)
	[ -n "$real" ] || real=$(apt-cache depends "$META" 2>/dev/null |
				 grep -oE 'linux-image-[0-9][^ ]*-cloud-amd64' | head -n1)
	[ -n "$real" ] || { echo "  cannot resolve $META to a linux-image package"; rm -rf "$tmp"; return 1; }
	echo "fetching $real"
	(cd "$tmp" && timeout 180 apt-get download -q "$real" >/dev/null 2>"$tmp/err") ||
		{ sed -n 's/^E: /  /p' "$tmp/err"; rm -rf "$tmp"; return 1; }
	deb=$(ls "$tmp/$real"_*.deb 2>/dev/null | head -n1)
	mkdir -p "$tmp/x"
	# Only ./boot is needed; the modules would be most of the unpacking time.
	# Only ./boot and the virtio modules the initramfs boot loads: the
	# rest of the modules would be most of the unpacking time.
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards ./boot \
		'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko' \
		'./lib/modules/*/kernel/drivers/scsi/*' './lib/modules/*/kernel/drivers/net/*failover.ko' \
		'./lib/modules/*/kernel/drivers/net/virtio_net.ko' './lib/modules/*/kernel/net/core/failover.ko' \
		2>/dev/null
	rm -rf "$DIR/modules" && mkdir -p "$DIR/modules"
	find "$tmp/x/lib/modules" -name '*.ko' -exec cp {} "$DIR/modules/" \; 2>/dev/null
	module_order >"$DIR/modules/order.tmp" && mv "$DIR/modules/order.tmp" "$DIR/modules/order"
	[ -s "$DIR/modules/order" ] || echo "  $deb: the virtio modules are missing (the initramfs boot will fail)"
	local img; img=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n1)
	[ -s "$img" ] || { echo "  $deb has no boot/vmlinuz-*"; rm -rf "$tmp"; return 1; }
	mv "$img" "$DIR/vmlinuz.tmp" && mv "$DIR/vmlinuz.tmp" "$DIR/vmlinuz"
	echo "$real" >"$DIR/package"
	rm -rf "$tmp"
}

# The modules the initramfs boot loads, dependencies first (each module's
# depends= in its .modinfo), as file names in $DIR/modules.
INIT_MODULES="virtio_pci virtio_blk virtio_scsi sd_mod virtio_net"
module_order() {
	local -A done=()
	local out=()
	add_module() {
		local m=$1 f=$DIR/modules/$1.ko d
		[ -n "${done[$m]:-}" ] && return 0
		done[$m]=1
		[ -f "$f" ] || { echo "  no $m.ko in the package" >&2; return 1; }
		for d in $(strings -a "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do
			add_module "$d" || return 1
		done
		out+=("$m.ko")
	}
	for m in $INIT_MODULES; do add_module "$m" || return 1; done
	printf '%s\n' "${out[@]}"
}

# le32 FILE OFFSET: the little-endian u32 at OFFSET.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

# The compressed payload: boot.rst's payload_offset/payload_length (2.08+)
# say where it is; its first bytes say how it is compressed. If the header
# does not give a known magic, search the image for one, as
# scripts/extract-vmlinux does.
COMPRESSORS="gzip:1f8b08 xz:fd377a585a00 zstd:28b52ffd lz4:02214c18 bzip2:425a68 lzma:5d000000 lzo:894c5a4f"

magic_of() {	# FILE OFFSET -> compressor name or ""
	local hex c
	hex=$(od -An -tx1 -j "$2" -N6 "$1" | tr -d ' \n')
	for c in $COMPRESSORS; do
		case $hex in "${c#*:}"*) echo "${c%%:*}"; return;; esac
	done
}

decompress() {	# NAME < payload > vmlinux
	case $1 in
	gzip)	need_tool gzip gzip && gzip -dc ;;
	xz)	need_tool xz xz-utils && xz -dc --single-stream ;;
	zstd)	need_tool zstd zstd && zstd -dcq ;;
	lz4)	need_tool lz4 lz4 && lz4 -dc ;;
	bzip2)	need_tool bzip2 bzip2 && bzip2 -dc ;;
	lzma)	need_tool xz xz-utils && xz -dc --format=lzma ;;
	lzo)	need_tool lzop lzop && lzop -dc ;;
	*)	return 1 ;;
	esac
}

extract_vmlinux() {
	local k=$DIR/vmlinuz out=$DIR/vmlinux
	local sects off len c
	[ -s "$out" ] && [ "$out" -nt "$k" ] && return 0
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$k" | tr -d ' ')
	[ "$sects" = 0 ] && sects=4
	off=$(( (sects + 1) * 512 + $(le32 "$k" $((0x248))) ))
	len=$(le32 "$k" $((0x24c)))
	c=$(magic_of "$k" "$off")
	if [ -z "$c" ]; then
		# Fall back to the first known magic anywhere in the image.
		local m hit best=""
		for m in $COMPRESSORS; do
			hit=$(LC_ALL=C grep -obUaP "$(echo "${m#*:}" | sed 's/../\\x&/g')" "$k" 2>/dev/null |
			      head -n1 | cut -d: -f1)
			if [ -n "$hit" ] && { [ -z "$best" ] || [ "$hit" -lt "${best%%:*}" ]; }; then
				best="$hit:${m%%:*}"
			fi
		done
		[ -n "$best" ] || { echo "  no known compression magic in $k"; return 1; }
		off=${best%%:*}; c=${best#*:}; len=$(( $(stat -c %s "$k") - off ))
	fi
	echo "payload: $c, $len bytes at offset $off"
	# Decompressors stop at the end of the stream; the 4-byte size the
	# kernel build appends after it may make them complain, so the result
	# is judged by what comes out, not by their exit status.
	tail -c +$((off + 1)) "$k" | head -c "$len" | decompress "$c" >"$out.tmp" 2>/dev/null
	if [ "$(head -c4 "$out.tmp" | od -An -c | tr -d ' ')" != '177ELF' ]; then
		echo "  decompressed payload is not an ELF image"
		rm -f "$out.tmp"
		return 1
	fi
	mv "$out.tmp" "$out"
}

# A helper built from kite's own loader: probe an image, then load it into a
# fake guest of $MEMORY with a small initrd, and print what it decided.
build_probe() {
	local src=$DIR/kite-probe.c
	[ -f "$BUILD/libkite.a" ] || { echo "  $BUILD/libkite.a missing (run make first)"; return 1; }
	cat >"$src" <<'EOF'
/* Generated by guest-tests/linux-smoke.sh: kite's kernel_probe and boot_load
 * on a real image, in a fake guest memory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "vmm/err.h"

int main(int argc, char **argv)
{
	static const struct { const char *n; enum boot_proto p; } protos[] = {
		{ "auto", BOOT_AUTO }, { "pvh", BOOT_PVH }, { "linux64", BOOT_LINUX64 },
		{ "bzimage", BOOT_BZIMAGE }, { "multiboot", BOOT_MULTIBOOT } };
	enum boot_proto want = BOOT_AUTO;
	static uint8_t initrd[1 << 20];
	struct e820_entry e820[E820_MAX_ENTRIES];
	struct guest_mem mem = { .fd = -1, .nregions = 1 };
	uint64_t ram;
	struct kernel_info ki;
	struct boot_entry e;
	struct stat st;
	int fd;

	if (argc != 5)
		return fprintf(stderr, "usage: kite-probe KERNEL PROTO MEMORY_MIB CMDLINE\n"), 2;
	fd = open(argv[1], O_RDONLY);
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(argv[2], protos[i].n))
			want = protos[i].p;
	if (fd < 0 || fstat(fd, &st))
		return perror(argv[1]), 1;
	ram = strtoull(argv[3], NULL, 0) << 20;
	mem.size = ram;
	const uint8_t *img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (kernel_probe(argv[1], img, st.st_size, &ki))
		return printf("error: %s\n", err_msg()), 1;
	if (ki.is_bzimage)
		printf("format: bzImage protocol %u.%02u\n", ki.bz_version >> 8, ki.bz_version & 0xff);
	else
		printf("format: ELF%s%s%s entry=0x%llx\n", ki.is_elf64 ? "64" : "32",
		       ki.has_pvh ? " pvh-note" : "", ki.has_multiboot ? " multiboot" : "",
		       (unsigned long long)ki.elf_entry);
	if (ki.has_pvh)
		printf("pvh_entry: 0x%llx\n", (unsigned long long)ki.pvh_entry);
	mem.base = mmap(NULL, ram, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	mem.regions[0] = (struct guest_region){ .gpa = 0, .size = ram, .host = mem.base };
	struct boot_input in = {
		.kernel_path = argv[1], .kernel = img, .kernel_size = st.st_size,
		.initrd = initrd, .initrd_size = sizeof(initrd), .cmdline = argv[4],
		.proto = want, .rsdp_addr = ACPI_RSDP_ADDR, .e820 = e820,
		.e820_count = e820_build(ram, e820, E820_MAX_ENTRIES),
	};
	if (boot_load(&mem, &in, &e))
		return printf("error: %s\n", err_msg()), 1;
	printf("load: %s rip=0x%llx %s\n", boot_proto_name(e.proto), (unsigned long long)e.rip,
	       e.long_mode ? "64-bit" : "32-bit");
	return 0;
}
EOF
	cc -std=gnu11 -D_GNU_SOURCE -I"$ROOT" -o "$DIR/kite-probe" "$src" "$BUILD/libkite.a"
}

# probe KERNEL PROTO: run the helper once, show and keep its output.
probe_out=""
probe() {
	probe_out=$("$DIR/kite-probe" "$1" "$2" "${MEMORY%M}" "$CMDLINE" 2>&1)
	echo "$probe_out" | sed "s|^|  $(basename "$1") $2: |"
}
# expect NAME PATTERN: the last probe printed PATTERN.
expect() {
	if grep -qE "$2" <<<"$probe_out"; then pass "$1"; else fail "$1"; fi
}

echo "--- Debian cloud kernel ($META) into $DIR"
if ! fetch_kernel; then
	skip_all "cannot fetch the Debian kernel package $META (no network or apt sources?)"
fi
echo "package: $(cat "$DIR/package" 2>/dev/null || echo cached)"
check "extract vmlinux from the bzImage payload" extract_vmlinux

if build_probe; then
	probe "$DIR/vmlinuz" auto
	expect "bzImage: kernel_probe sees a bzImage with a 64-bit entry" '^format: bzImage protocol 2\.'
	expect "bzImage: boot_load places it (64-bit entry at 1 MiB + 0x200)" \
		'^load: bzimage rip=0x100200 64-bit'
	probe "$DIR/vmlinux" auto
	expect "vmlinux: ELF64 with a PVH note" '^format: ELF64 pvh-note'
	expect "vmlinux: boot_load as PVH (32-bit entry at the note's address)" \
		'^load: pvh rip=0x[0-9a-f]+ 32-bit'
	probe "$DIR/vmlinux" linux64
	expect "vmlinux: boot_load as linux64 (64-bit entry at e_entry)" \
		'^load: linux64 rip=0x[0-9a-f]+ 64-bit'
else
	fail "build the kite-probe helper against $BUILD/libkite.a"
fi

# --- 3. boot under kite -------------------------------------------------

if ! kite_cpu "$BUILD" emu; then
	skip_all "$KITE_CPU_WHY; only the image checks ran"
fi
[ -n "$KITE_CPU_NOTE" ] && echo "$KITE_CPU_NOTE"
if [ ! -x "$BUILD/kite" ]; then
	fail "$BUILD/kite exists (run make first)"
	summary
fi

# The map kite gives a 512 MiB guest (arch/x86/e820.c), as Linux prints it.
E820_WANT=(
	'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable'
	'BIOS-e820: \[mem 0x000000000009fc00-0x00000000000fffff\] reserved'
	'BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable'
	'BIOS-e820: \[mem 0x00000000e0000000-0x00000000efffffff\] reserved'
	'BIOS-e820: \[mem 0x00000000feffc000-0x00000000feffffff\] reserved'
)
ACPI_WANT=(
	'ACPI: RSDP 0x0*E0000 '
	'ACPI: XSDT 0x'
	'ACPI: FACP 0x'
	'ACPI: DSDT 0x'
	'ACPI: APIC 0x'
	'ACPI: MCFG 0x'
)
# What the kernel made of kite's MADT and FADT.
MADT_WANT=(
	'IOAPIC\[0\]: apic_id 0, version 17, address 0xfec00000, GSI 0-23'
	'ACPI: INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2 dfl dfl\)'
	'ACPI: PM-Timer IO Port: 0x608'
)
LAST_LINE="smpboot: Allowing $CPUS CPUs"

# boot NAME KERNEL: run kite until the last checked line shows up, kite
# exits, or the time is up; then check the log.
# ms since the epoch
now_ms() { date +%s%3N; }

# boot NAME KERNEL [KITE OPTION...]: run kite until the last checked line
# shows up, kite exits, or the time is up; then check the log.
boot() {
	local name=$1 kernel=$2 log=$DIR/$1.log pid start t first="" last=""
	shift 2
	rm -f "$log"
	start=$(now_ms)
	"${KITE_PRE[@]}" "$BUILD/kite" run --kernel "$kernel" --memory "$MEMORY" --cpus "$CPUS" \
		--cmdline "$CMDLINE" --console "file=$log" "$@" >"$DIR/$name.kite.out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		t=$(( $(now_ms) - start ))
		[ -z "$first" ] && [ -s "$log" ] && first=$t
		grep -q "$LAST_LINE" "$log" 2>/dev/null && { last=$t; break; }
		[ "$t" -ge $((BOOT_TIMEOUT * 1000)) ] && { echo "  $name: no '$LAST_LINE' after $((t / 1000))s"; break; }
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# Times from starting kite, polled every 50 ms.
	echo "  $name: first serial line after ${first:-?} ms, '$LAST_LINE' after ${last:-?} ms;" \
	     "log $log ($(wc -l <"$log" 2>/dev/null || echo 0) lines)"
	sed 's/^/  kite: /' "$DIR/$name.kite.out" | tail -n 5
	check "$name: Linux version line" grep -qs '^\[ *[0-9.]*\] Linux version ' "$log"

	local w n label
	if grep -qsF "Command line: $CMDLINE" "$log"; then
		pass "$name: command line echoed"
	else
		fail "$name: command line echoed (Command line: $CMDLINE)"
	fi
	for w in "${E820_WANT[@]}"; do
		label=${w//\\/}
		check "$name: e820 ${label#BIOS-e820: }" grep -qsE "$w" "$log"
	done
	n=$(grep -c 'BIOS-e820: ' "$log" 2>/dev/null)
	check "$name: e820 has exactly ${#E820_WANT[@]} entries (got ${n:-0})" [ "${n:-0}" = "${#E820_WANT[@]}" ]
	for w in "${ACPI_WANT[@]}"; do
		check "$name: ${w%% 0x*} table" grep -qsE "$w" "$log"
	done
	for w in "${MADT_WANT[@]}"; do
		label=${w//\\/}
		check "$name: $label" grep -qsE "$w" "$log"
	done
	check "$name: $LAST_LINE" grep -qs "$LAST_LINE" "$log"
}

echo "--- booting under kite ($MEMORY, $CPUS vCPUs, ${BOOT_TIMEOUT}s per boot at most)"
boot vmlinux-pvh "$DIR/vmlinux"
boot vmlinux-linux64 "$DIR/vmlinux" --boot linux64
boot bzImage "$DIR/vmlinuz"

# --- 4. a whole boot, to an init that checks kite's devices --------------
#
# An initramfs holding a static /init (guest-tests/linux/init.c) and the
# package's virtio modules: Linux's own virtio-pci, virtio-blk, virtio-scsi
# (with sd) and virtio-net drivers against kite's devices. /init prints a
# PASS/FAIL line per check and powers off, which ends kite with status 0.

# make_initramfs OUT: a newc cpio of /init, /modules and /dev/console.
make_initramfs() {
	cc -static -nostdlib -ffreestanding -fno-builtin -mgeneral-regs-only -fno-stack-protector \
		-fno-pie -no-pie -O2 -Wall -Wextra -o "$DIR/init" "$ROOT/guest-tests/linux/init.c" || return 1
	python3 - "$1" "$DIR/init" "$DIR/modules" <<'PY'
import os, sys
out, init, mods = sys.argv[1:4]
entries = [("dev", 0o040755, b"", 0), ("proc", 0o040755, b"", 0), ("sys", 0o040755, b"", 0),
           ("modules", 0o040755, b"", 0), ("dev/console", 0o020600, b"", (5 << 8) | 1),
           ("init", 0o100755, open(init, "rb").read(), 0)]
order = open(os.path.join(mods, "order")).read().split()
for f in ["order"] + order:
    entries.append(("modules/" + f, 0o100644, open(os.path.join(mods, f), "rb").read(), 0))
def pad(b):
    return b + b"\0" * (-len(b) % 4)
data = b""
for ino, (name, mode, body, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", 0)], 1):
    nm = name.encode() + b"\0"
    hdr = "070701" + "".join("%08x" % v for v in (
        ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev >> 8, rdev & 0xff, len(nm), 0))
    data += pad(hdr.encode() + nm) + pad(body)
open(out, "wb").write(data)
PY
}

BOOT_WAIT=${LINUX_BOOT_TIMEOUT:-240}
MAC=52:54:00:6b:69:74
echo "--- booting to an init in an initramfs: Linux's virtio drivers against kite's devices"
if [ ! -s "$DIR/modules/order" ]; then
	fail "the package's virtio modules are in $DIR/modules"
	summary
fi
if ! make_initramfs "$DIR/initramfs.cpio"; then
	fail "build the initramfs ($ROOT/guest-tests/linux/init.c, static)"
	summary
fi
IMG=$DIR/disks
mkdir -p "$IMG"
ICPUS=$CPUS
NET_WHY=$(netns_unusable_reason)
[ -n "$NET_WHY" ] && echo "  no NIC for these boots: $NET_WHY"

# initramfs_boot VMM: boot the initramfs under VMM (kite or qemu) with a
# virtio-blk disk (serial, ICPUS queues), a read-only one, a virtio-scsi
# disk and (as root) a NIC on a tap in a namespace of its own with a UDP
# echo peer; check /init's lines and that its power-off ended the VMM
# with status 0.
initramfs_boot() {
	local vmm=$1 log=$DIR/initramfs-$1.log out=$DIR/initramfs-$1.out ns="" tap=kitelx0
	local args want c st="" start t pid echo_pid="" vendor=KITE
	local -a cmd net=()
	[ "$vmm" = qemu ] && vendor=QEMU
	rm -f "$IMG"/*.img "$log"
	truncate -s 64M "$IMG/blk.img" "$IMG/scsi.img"
	truncate -s 8M "$IMG/ro.img"
	# cryptomgr.notests: the kernel's crypto self-tests (jitter entropy and
	# DRBG among them) take 12 of the 25 s to /init on the emulated CPU,
	# and test nothing of the VMM's.
	args="console=ttyS0 panic=-1 cryptomgr.notests kinit.blk=vda kinit.blk_sectors=131072 kinit.blk_serial=kite-lx-1"
	args="$args kinit.blk_queues=$ICPUS kinit.blk_ro=vdb kinit.scsi=sda kinit.scsi_sectors=131072"
	args="$args kinit.scsi_vendor=$vendor"
	want=(modules blk-probe blk-serial blk-queues blk-rw blk-zero-discard blk-readonly
	      scsi-probe scsi-inquiry scsi-rw scsi-zero-discard)
	if [ -z "$NET_WHY" ]; then
		ns=kite-lx-$$
		netns_create "$ns"
		# The VMM creates the tap in the namespace it runs in; the echo
		# peer listens on every address there.
		ip netns exec "$ns" python3 "$ROOT/guest-tests/udp-echo.py" 0.0.0.0 7777 >/dev/null &
		echo_pid=$!
		args="$args kinit.net_mac=$MAC kinit.net_ip=10.0.77.2 kinit.net_peer=10.0.77.1 kinit.net_port=7777"
		want+=(net-probe net-udp)
	fi
	if [ "$vmm" = kite ]; then
		[ -n "$ns" ] && net=(--net "tap=$tap,mac=$MAC")
		cmd=("${KITE_PRE[@]}" "$BUILD/kite" run --kernel "$DIR/vmlinux"
		     --initrd "$DIR/initramfs.cpio" --memory "$MEMORY" --cpus "$ICPUS" --cmdline "$args"
		     --console "file=$log"
		     --disk "path=$IMG/blk.img,serial=kite-lx-1,queues=$ICPUS"
		     --disk "path=$IMG/ro.img,readonly=on" --disk "path=$IMG/scsi.img,iface=scsi" "${net[@]}")
	else
		[ -n "$ns" ] && net=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
				     -device "virtio-net-pci,netdev=n0,mac=$MAC")
		cmd=(qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m "$MEMORY" -smp "$ICPUS"
		     -kernel "$DIR/vmlinuz" -initrd "$DIR/initramfs.cpio" -append "$args"
		     -display none -serial "file:$log" -no-reboot
		     -drive "if=none,id=d0,file=$IMG/blk.img,format=raw"
		     -device "virtio-blk-pci,drive=d0,serial=kite-lx-1,num-queues=$ICPUS"
		     -drive "if=none,id=d1,file=$IMG/ro.img,format=raw,readonly=on"
		     -device virtio-blk-pci,drive=d1
		     -drive "if=none,id=d2,file=$IMG/scsi.img,format=raw"
		     -device virtio-scsi-pci,id=s0 -device scsi-hd,drive=d2,bus=s0.0 "${net[@]}")
	fi
	start=$(now_ms)
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "${cmd[@]}" >"$out" 2>&1 &
	else
		"${cmd[@]}" >"$out" 2>&1 &
	fi
	pid=$!
	if [ -n "$ns" ]; then
		if tap_wait "$ns" "$tap" 20; then
			tap_up "$ns" "$tap" 10.0.77.1/24
		else
			echo "  $vmm made no tap $tap in $ns"
		fi
	fi
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"; st=$?
			break
		fi
		if [ $(( $(now_ms) - start )) -ge $((BOOT_WAIT * 1000)) ]; then
			echo "  $vmm: no power-off after ${BOOT_WAIT}s"
			kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	t=$(( $(now_ms) - start ))
	if [ -n "$ns" ]; then
		kill "$echo_pid" 2>/dev/null; wait "$echo_pid" 2>/dev/null
		netns_remove "$ns"
	fi
	# The tty turned init's newlines into CRLF.
	sed -i 's/\r$//' "$log" 2>/dev/null
	echo "  $vmm ran ${t} ms (status ${st:-killed}); /init started after" \
	     "$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process/\1 s (guest clock)/p' "$log" | head -n1)"
	sed 's/^/  '"$vmm"': /' "$out" | tail -n 5
	grep -E '^(PASS|FAIL|  |kite-linux)' "$log" | sed 's/^/  guest: /'
	check "$vmm initramfs: smp: Brought up 1 node, $ICPUS CPU(s)" \
		grep -qE "smp: Brought up 1 node, $ICPUS CPUs?\$" "$log"
	check "$vmm initramfs: Linux ran /init" grep -q '^kite-linux: init started' "$log"
	for c in "${want[@]}"; do
		if grep -qx "PASS $c" "$log"; then
			pass "$vmm initramfs: $c"
		else
			fail "$vmm initramfs: $c ($(grep -m1 "^FAIL $c" "$log" || echo "no PASS line"))"
		fi
	done
	check "$vmm initramfs: /init's summary says 0 failed" grep -qE '^kite-linux: [0-9]+ passed, 0 failed' "$log"
	check "$vmm initramfs: the guest's power-off ends $vmm with status 0 (got ${st:-none})" [ "${st:-x}" = 0 ]
}

initramfs_boot kite
# The same initramfs against QEMU's devices: the checks hold there too.
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
	initramfs_boot qemu
else
	echo "SKIPPED: the initramfs under QEMU: qemu-system-x86_64 is not installed"
	skipped=$((skipped + 1))
fi
summary
