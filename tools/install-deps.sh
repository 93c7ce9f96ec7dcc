#!/usr/bin/env bash
# Install what kite needs to build and test, from Debian packages, when it is
# missing. Called by `make`; safe to run again. Needs root (or sudo) only when
# something is actually missing.
set -euo pipefail

need=()
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v ld >/dev/null || need+=(binutils)
have_pc liburing   || need+=(liburing-dev)
have_pc libfdt     || [ -f /usr/include/libfdt.h ] || need+=(libfdt-dev)
have_pc libcap-ng  || need+=(libcap-ng-dev)
have_pc libseccomp || need+=(libseccomp-dev)
have_pc check      || need+=(check)
have_pc json-c     || need+=(libjson-c-dev)
[ -f /usr/include/numa.h ] || need+=(libnuma-dev)
# Tools the tests use: iasl checks kite's ACPI tables; cpio/zstd/xz unpack kernels.
command -v iasl >/dev/null || need+=(acpica-tools)
command -v python3 >/dev/null || need+=(python3)
# ping: the virtio-net test pings the guest with the host's own ping.
command -v ping >/dev/null || need+=(iputils-ping)

[ ${#need[@]} -eq 0 ] && exit 0

echo "kite: installing missing packages: ${need[*]}"
SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "kite: need root to install: ${need[*]} (apt-get install ${need[*]})" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
