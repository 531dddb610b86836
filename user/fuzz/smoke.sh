#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fuzzers in make check (issue 12 part 7: the note, checkpoint and proof
# parsers; the configuration and wire codecs too): each libFuzzer target
# (user/fuzz/build.mk) runs FUZZ_TIME seconds (default 15) from a scratch
# copy of its seed corpus, under ASan and UBSan. One KTAP line per fuzzer:
# ok when it ran out its time without a crash, a leak or a sanitizer report.
#
#   fuzz/smoke.sh FUZZDIR        (FUZZDIR: $(O)/fuzz, the built fuzzers)

dir=$1
time=${FUZZ_TIME:-15}
here=$(cd "$(dirname "$0")" && pwd)
fuzzers=(fuzz_config fuzz_wire fuzz_proof)
n=0
failed=0

echo "KTAP version 1"
echo "1..${#fuzzers[@]}"
for f in "${fuzzers[@]}"; do
	n=$((n + 1))
	corpus=$dir/smoke-${f#fuzz_}
	rm -rf "$corpus"
	mkdir -p "$corpus"
	cp "$here/corpus/${f#fuzz_}"/* "$corpus/"
	if [ ! -x "$dir/$f" ]; then
		echo "not ok $n ${f}_${time}s # $dir/$f not built (make -C user fuzz)"
		failed=$((failed + 1))
		continue
	fi
	if "$dir/$f" -max_total_time="$time" -artifact_prefix="$dir/$f-" \
		-print_final_stats=1 "$corpus" >"$dir/$f.smoke.log" 2>&1; then
		echo "# $f: $(grep -m1 '^stat::number_of_executed_units' "$dir/$f.smoke.log" |
			awk '{ print $2 }') inputs in $time s, no crash"
		echo "ok $n ${f}_${time}s"
	else
		grep -E '^==|^SUMMARY|ERROR' "$dir/$f.smoke.log" | head -n 20 | sed 's/^/# /'
		echo "# the input that failed: $(ls "$dir/$f-"* 2>/dev/null | tail -n1)"
		echo "not ok $n ${f}_${time}s"
		failed=$((failed + 1))
	fi
	rm -rf "$corpus"
done
exit $((failed != 0))
