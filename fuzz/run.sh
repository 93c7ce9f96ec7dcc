#!/usr/bin/env bash
# Run each fuzz harness: first its regression inputs (fuzz/regressions/NAME/,
# every crash found so far, each must pass), then libFuzzer for SECONDS on a
# scratch copy of its seed corpus (fuzz/seeds/NAME/, never written to).
# Prints one line per harness and `N passed, N failed`; exits 1 on a failure.
# A crashing input is kept in OUT/crashes/NAME/, its log in OUT/logs/NAME.log.
# Usage: fuzz/run.sh OUT SECONDS MIN_SECONDS NAME...
set -uo pipefail

out=$1 secs=$2 min=$3
shift 3
[ "$secs" -ge "$min" ] || secs=$min
passed=0 failed=0

# Options for every run: a hang of 25 s is a failure (blk's reset gives up
# after 10 s); stderr closed, as a guest makes devices log at will (the
# sanitizers' and the harnesses' reports still come through).
opts=(-timeout=25 -close_fd_mask=2 -print_final_stats=1)
# What a harness leaves in a temporary directory stays here, even after a crash.
export TMPDIR=$out/tmp
mkdir -p "$TMPDIR"

# The first lines that say what went wrong.
why() {
	grep -m2 -E '^(fuzz: invariant|==[0-9]+==ERROR|SUMMARY)|runtime error:' "$1" | sed 's/^/     /'
}

for name in "$@"; do
	bin=$out/fuzz_$name corpus=$out/corpus/$name crashes=$out/crashes/$name
	log=$out/logs/$name.log
	rm -rf "$corpus"
	mkdir -p "$corpus" "$crashes" "$out/logs"
	: >"$log"

	regs=(fuzz/regressions/"$name"/*)
	[ -e "${regs[0]}" ] || regs=()
	# Each regression input once; if they pass, the fuzzing starts from
	# them too (one that fails would stop it at once).
	regress=ok
	for f in "${regs[@]}"; do
		"$bin" "${opts[@]}" "$f" >>"$log" 2>&1 || regress=$f
		[ "$regress" = ok ] || break
	done
	cp fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null
	[ "$regress" = ok ] && [ ${#regs[@]} -gt 0 ] && cp "${regs[@]}" "$corpus"/

	t0=$SECONDS
	"$bin" "${opts[@]}" -max_total_time="$secs" -artifact_prefix="$crashes/" \
		"$corpus" >>"$log" 2>&1
	rc=$?
	# Figures from libFuzzer's last status line and its final stats.
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	figures="${runs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, $((SECONDS - t0)) s"
	[ ${#regs[@]} -gt 0 ] && figures="$figures, ${#regs[@]} regression inputs"
	if [ $rc -eq 0 ] && [ "$regress" = ok ]; then
		echo "PASS $name: $figures"
		passed=$((passed + 1))
		continue
	fi
	echo "FAIL $name: $figures (log: $log)"
	why "$log"
	[ "$regress" = ok ] || echo "     regression input fails again: $bin $regress"
	grep -o 'Test unit written to .*' "$log" | while read -r _ _ _ _ f; do
		echo "     reproduce: $bin $f"
	done
	failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
