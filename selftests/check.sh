#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every test suite of georep and ends with the failed results, one
# "# failed: SUITE: not ok ..." line each, then one summary line:
#   N passed, N failed, N skipped
#
# Each suite prints KTAP; its top-level result lines ("ok N ..." and
# "not ok N ...", no indentation) are what is counted. A suite that exits
# non-zero without reporting a failure counts as one failure of its own, so
# a crash can never pass silently. Logs are kept in build/check/.
#
# Usage: selftests/check.sh [suite...]    (default: every suite)

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=$top/build/check
mkdir -p "$logdir"

pass=0
fail=0
skip=0
failed=()
timing=()

# suite NAME COMMAND...: run one suite, tee its output, count its results
suite()
{
	local name=$1 log=$logdir/$1.log rc p f s t0=$SECONDS
	shift
	echo "# suite $name: $*"
	"$@" 2>&1 | tr -d '\r' | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -cE '^ok [0-9]+' "$log" | head -n1)
	s=$(grep -E '^ok [0-9]+' "$log" | grep -c '# SKIP')
	f=$(grep -cE '^not ok [0-9]+' "$log")
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - suite $name exited with status $rc"
		failed+=("$name: exited with status $rc")
		f=1
	fi
	while IFS= read -r line; do
		failed+=("$name: $line")
	done < <(grep -E '^not ok [0-9]+' "$log")
	echo "# suite $name: $p passed, $f failed, $s skipped ($((SECONDS - t0)) s)"
	timing+=("$name $((SECONDS - t0))s")
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
}

want()
{
	[ $# -eq 0 ] && return 0
	local s
	for s in "${selected[@]}"; do
		[ "$s" = "$1" ] && return 0
	done
	return 1
}

selected=("$@")
want_suite()
{
	[ ${#selected[@]} -eq 0 ] && return 0
	want "$1"
}

want_suite user && suite user make -s -C "$top/user" O="$top/build/user" check
want_suite fuzz && suite fuzz make -s -C "$top/user" O="$top/build/user" fuzz-smoke
want_suite lint && suite lint "$top/selftests/lint/run.sh"
want_suite ebpf && suite ebpf "$top/selftests/ebpf/host.sh"
want_suite ebpf && suite ebpf-route "$top/selftests/ebpf/route.py"
want_suite vm && suite vm "$top/selftests/vm/run"
want_suite crash && suite crash "$top/selftests/crash.sh"
want_suite crash-truncate && suite crash-truncate "$top/selftests/crash-truncate.sh"
want_suite sites && suite sites "$top/selftests/vm/run" --timeout 3000 -- \
	/georep/selftests/sites/run.sh
want_suite powercut && suite powercut "$top/selftests/sites/powercut.sh"

# the failures again, next to the summary, so that a log cut to its tail
# still names them, after each suite's time
echo "# time: ${timing[*]}"
for line in "${failed[@]}"; do
	echo "# failed: $line"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
