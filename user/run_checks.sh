#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The end-to-end checks of `make check` (CHECK_CMDS), at most JOBS at once:
#
#   run_checks.sh JOBS CMD...
#
# Each check starts its own daemons on ports of its own and in a directory
# of its own, and mostly waits on timers and sockets, so two at a time on
# two cores take about half the time. Each one's output is printed whole,
# after a "# CMD" line and in the order given, so that its KTAP stays in
# one piece; a failed one is followed by "# failed: CMD". Checks that
# measure timing under load (CHECK_CMDS_ALONE) are not given here.
# Exit status: 1 when any check failed, else 0.

jobs=$1
shift
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "usage: run_checks.sh JOBS CMD..." >&2; exit 2; }
cmds=("$@")
n=${#cmds[@]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=0
printed=0
rc=0

finished() {
	local i c=0

	for ((i = 0; i < started; i++)); do
		[ -e "$tmp/$i.rc" ] && c=$((c + 1))
	done
	echo "$c"
}

while [ $printed -lt "$n" ]; do
	while [ $started -lt "$n" ] && [ $((started - $(finished))) -lt "$jobs" ]; do
		( "${cmds[started]}" >"$tmp/$started.out" 2>&1; echo $? >"$tmp/$started.rc" ) &
		started=$((started + 1))
	done
	wait -n 2>/dev/null
	while [ $printed -lt "$n" ] && [ -e "$tmp/$printed.rc" ]; do
		echo "# ${cmds[printed]}"
		cat "$tmp/$printed.out"
		if [ "$(cat "$tmp/$printed.rc")" != 0 ]; then
			echo "# failed: ${cmds[printed]}"
			rc=1
		fi
		printed=$((printed + 1))
	done
done
exit $rc
