#!/usr/bin/env bash
# Check kite's ACPI tables with ACPICA's own tools, for several vCPU counts:
#  - iasl -d disassembles every table; any complaint (checksum, length,
#    invalid field, AML it cannot parse) fails;
#  - the disassembled DSDT must compile back without errors or warnings;
#  - acpiexec (if installed) loads the tables as an OS would and evaluates
#    \_S5, the _CRS objects and _PRT.
# The RSDP is checked here (iasl does not take a bare RSDP file).
# Usage: tests/acpi-iasl.sh BUILD_DIR. Prints PASS/FAIL lines and a summary.
set -uo pipefail
BUILD=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if ! command -v iasl >/dev/null 2>&1; then
	echo "SKIPPED: iasl not installed (Debian package acpica-tools)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$BUILD/unit-tests" ]; then
	make -s "$BUILD/unit-tests" >"$work/make.log" 2>&1 || { cat "$work/make.log"; bad "build $BUILD/unit-tests"; finish; }
fi
# The acpi suite's "dump" case writes DIR/cpuN/SIG.dat.
if ! KITE_ACPI_DUMP="$work" CK_RUN_CASE=dump CK_FORK=no "$BUILD/unit-tests" acpi \
	>"$work/dump.log" 2>&1; then
	cat "$work/dump.log"
	bad "dump the tables"
	finish
fi

# byte N of FILE as a number
byte() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
# sum of the first N bytes of FILE, mod 256
sum() { od -An -tu1 -v -N "$2" "$1" | tr -s ' ' '\n' | awk 'NF { s += $1 } END { print s % 256 }'; }

check_rsdp() {
	local f=$1 cfg=$2
	if [ "$(head -c 8 "$f")" != "RSD PTR " ]; then
		bad "$cfg RSDP signature"
	elif [ "$(sum "$f" 20)" != 0 ] || [ "$(sum "$f" 36)" != 0 ]; then
		bad "$cfg RSDP checksums"
	elif [ "$(byte "$f" 15)" != 2 ]; then
		bad "$cfg RSDP revision $(byte "$f" 15), want 2"
	else
		ok "$cfg RSDP signature, revision 2, both checksums"
	fi
}

# Words iasl uses when something is wrong in a table it dumps.
complaint='incorrect|invalid|error|warning|mismatch|terminates early|not a valid|does not contain|unknown'

check_table() {
	local f=$1 cfg=$2 sig log dsl len size
	sig=$(basename "$f" .dat)
	log="${f%.dat}.log"
	dsl="${f%.dat}.dsl"
	if ! (cd "$(dirname "$f")" && iasl -d "$(basename "$f")") >"$log" 2>&1 || [ ! -s "$dsl" ]; then
		cat "$log"
		bad "$cfg $sig: iasl -d failed"
		return
	fi
	if grep -iqE "$complaint" "$log" "$dsl"; then
		grep -iE "$complaint" "$log" "$dsl"
		bad "$cfg $sig: iasl -d complained"
		return
	fi
	# The header's length must be the table's size (FACS included).
	len=$(od -An -tu4 -j4 -N4 "$f" | tr -d ' ')
	size=$(stat -c %s "$f")
	if [ "$len" != "$size" ]; then
		bad "$cfg $sig: length field $len, table is $size bytes"
		return
	fi
	ok "$cfg $sig: iasl -d clean, length $len"
}

check_dsdt_recompiles() {
	local dir=$1 cfg=$2 log="$1/recompile.log"
	if (cd "$dir" && iasl -p recompiled DSDT.dsl) >"$log" 2>&1 &&
	   grep -q "0 Errors, 0 Warnings" "$log"; then
		ok "$cfg DSDT: disassembly compiles back without errors or warnings"
	else
		cat "$log"
		bad "$cfg DSDT: disassembly does not compile back cleanly"
	fi
}

check_acpiexec() {
	local dir=$1 cfg=$2 log="$1/acpiexec.log" cmds
	cmds='evaluate \_S5; evaluate \_SB.PCI0._CRS; evaluate \_SB.PCI0._PRT;'
	cmds+=' evaluate \_SB.COM1._CRS; evaluate \_SB.MRES._CRS'
	(cd "$dir" && timeout 60 acpiexec -b "$cmds" FACP.dat DSDT.dat APIC.dat MCFG.dat FACS.dat) \
		>"$log" 2>&1
	# acpiexec's own hardware self-tests print "Unexpected AE_..." lines
	# that say nothing about the tables; real complaints are ACPI/Firmware
	# Error/Warning/Exception lines.
	if grep -qE '(ACPI|Firmware) (Error|Warning|Exception)' "$log"; then
		grep -E '(ACPI|Firmware) (Error|Warning|Exception)' "$log"
		bad "$cfg acpiexec: complaints while loading or evaluating"
	elif ! grep -q 'Evaluation of \\_S5 returned' "$log" ||
	     [ "$(grep -A3 'Evaluation of \\_S5 returned' "$log" |
		  grep -c '\[Integer\] = 0000000000000005')" != 2 ]; then
		bad "$cfg acpiexec: \\_S5 is not {5, 5, ...}"
	elif ! grep -q 'Contains 128 Elements' "$log"; then
		bad "$cfg acpiexec: _PRT does not have 128 entries"
	elif [ "$(grep -c 'Evaluation of .*_CRS returned' "$log")" != 3 ]; then
		bad "$cfg acpiexec: a _CRS did not evaluate"
	else
		ok "$cfg acpiexec: tables load; \\_S5, _PRT and every _CRS evaluate"
	fi
}

found=0
for dir in "$work"/cpu*; do
	[ -d "$dir" ] || continue
	found=1
	cfg=$(basename "$dir")
	check_rsdp "$dir/RSDP.dat" "$cfg"
	for f in "$dir"/*.dat; do
		[ "$(basename "$f")" = RSDP.dat ] || check_table "$f" "$cfg"
	done
	check_dsdt_recompiles "$dir" "$cfg"
	if command -v acpiexec >/dev/null 2>&1; then
		check_acpiexec "$dir" "$cfg"
	fi
done
[ "$found" = 1 ] || bad "the acpi suite wrote no tables"
finish
