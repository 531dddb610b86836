# SPDX-License-Identifier: GPL-2.0
#
# The per-write latency breakdown in make bench (selftests/bench.sh,
# selftests/bench/sites.sh): georep-lat watches a georep volume while a
# fio job runs, and its JSON goes to the console on a marker line that
# selftests/lib/bench_lat.py turns into a table.
#
#   lat_start VOLUME SECONDS   georep-lat in the background
#   lat_end SCENARIO JOB       wait for it; "BENCH-LAT SCENARIO JOB {json}"

LAT_PID=

lat_start() {
	LAT_PID=
	command -v georep-lat >/dev/null || return 0
	georep-lat --volume "$1" --duration "$2" --json >/tmp/bench-lat.json \
		2>/tmp/bench-lat.err &
	LAT_PID=$!
	sleep 0.5	# attached before the job starts
}

lat_end() {
	[ -n "$LAT_PID" ] || return 0
	if wait "$LAT_PID"; then
		echo "BENCH-LAT $1 $2 $(cat /tmp/bench-lat.json)"
	else
		echo "BENCH-LAT-FAILED $1 $2 $(cat /tmp/bench-lat.err)"
	fi
	LAT_PID=
}
