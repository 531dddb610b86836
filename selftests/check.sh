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

# run_suite NAME COMMAND...: run one suite into its log (and to stdout unless
# QUIET is set), leaving "STATUS SECONDS" in NAME.rc
run_suite()
{
	local name=$1 log=$logdir/$1.log t0=$SECONDS rc
	shift
	rm -f "$logdir/$name.rc"
	if [ -n "${QUIET:-}" ]; then
		"$@" 2>&1 | tr -d '\r' >"$log"
	else
		echo "# suite $name: $*"
		"$@" 2>&1 | tr -d '\r' | tee "$log"
	fi
	rc=${PIPESTATUS[0]}
	echo "$rc $((SECONDS - t0))" >"$logdir/$name.rc"
}

# count NAME: count a finished suite's results
count()
{
	local name=$1 log=$logdir/$1.log rc t p f s line
	# no status: the suite never finished (its runner was killed)
	read -r rc t 2>/dev/null <"$logdir/$name.rc" || { rc=1; t=-; touch "$log"; }
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
	echo "# suite $name: $p passed, $f failed, $s skipped ($t s)"
	timing+=("$name ${t}s")
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
}

# suite NAME COMMAND...: run one suite in the foreground, tee its output and
# count its results
suite()
{
	run_suite "$@"
	count "$1"
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

# the userspace checks that mostly wait on their own daemons, the fuzzers
# and the static checks; the timing checks of userspace are user-alone
host_suites()
{
	want_suite user && run_suite user make -s -C "$top/user" O="$top/build/user" check-shared
	want_suite fuzz && run_suite fuzz make -s -C "$top/user" O="$top/build/user" fuzz-smoke
	want_suite lint && run_suite lint "$top/selftests/lint/run.sh"
}

# The host suites run in the background while the kernel VM suite runs (on
# two cores the VM takes about one and a half; measured 146 %), their output
# printed whole after it. The timing checks of userspace (user-alone) and
# every other VM suite run on an otherwise idle machine.
if want_suite vm; then
	echo "# suite user, fuzz, lint: in the background during suite vm"
	QUIET=1 host_suites &
	host_pid=$!
	suite vm "$top/selftests/vm/run"
	wait "$host_pid"
else
	host_suites
fi
for name in user fuzz lint; do
	want_suite "$name" || continue
	if want_suite vm; then
		echo "# suite $name (ran during suite vm):"
		cat "$logdir/$name.log"
	fi
	count "$name"
done
want_suite user && suite user-alone make -s -C "$top/user" O="$top/build/user" check-alone
want_suite ebpf && suite ebpf "$top/selftests/ebpf/host.sh"
want_suite ebpf && suite ebpf-route "$top/selftests/ebpf/route.py"
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
