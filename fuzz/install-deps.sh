#!/usr/bin/env bash
# Install what the fuzz harnesses need beyond tools/install-deps.sh, from
# Debian packages, when it is missing: clang and its runtime (libFuzzer,
# ASan, UBSan). Called by `make fuzz`; safe to run again. Needs root (or
# sudo) only when something is actually missing.
# Usage: fuzz/install-deps.sh [CLANG]
set -euo pipefail

cc=${1:-clang}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Can $cc link a libFuzzer target with the sanitizers the harnesses use?
links() {
	command -v "$cc" >/dev/null || return 1
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' \
		>"$tmp/t.c"
	"$cc" -fsanitize=fuzzer,address,undefined -o "$tmp/t" "$tmp/t.c" 2>/dev/null
}

SUDO=
updated=
install() {
	echo "kite: installing missing packages for fuzzing: $*"
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then SUDO=sudo; else
			echo "kite: need root to install: $* (apt-get install $*)" >&2
			exit 1
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	[ -n "$updated" ] || { $SUDO apt-get update -qq || true; updated=1; }
	$SUDO apt-get install -y -qq --no-install-recommends "$@"
}

links && exit 0
command -v "$cc" >/dev/null || install clang
links && exit 0
# The runtime package that matches the installed clang's major version.
major=$("$cc" --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
install "libclang-rt-${major}-dev"
links || { echo "kite: $cc still cannot link -fsanitize=fuzzer,address,undefined" >&2; exit 1; }
