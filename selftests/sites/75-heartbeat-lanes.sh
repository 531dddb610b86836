#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Heartbeats never wait behind replicated data (Documentation/replication.rst,
# "Send lanes"). Three sites, commit rule local, 5 ms links (the lab's
# netem), a log of LOG_MB and a 1 MiB sequential O_DIRECT job of three times
# that at the primary: the followers fall behind (the log wraps, they may
# need a resync), the leader must not. Asserted: fio completes without an
# I/O error; no peer timeout ("nothing received") and no peer down in any
# daemon's log; no term or role change during the job; the data devices
# agree afterwards. The heartbeat RTT the primary saw and the bytes queued
# per peer are printed. The followers catch up within CATCHUP_S (they
# may need a full resync: the log wraps under them) and the data devices
# agree afterwards. Until the resync fixes of December 2026
# (Documentation/replication.rst, "Full resync") the second full resync of
# a follower did not install within 300 s in four runs, and the catch-up
# was a TODO here; after them it passed in 4 of 4 runs (34-46 s a run).

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/shaped.sh"
LOG_MB=${LOG_MB:-16}
JOB_MB=$((3 * LOG_MB))
JOB_MAX_S=${JOB_MAX_S:-300}
# how long the followers have to catch up after the job
CATCHUP_S=${CATCHUP_S:-60}

sites_init sites-lanes
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
command -v jq >/dev/null || { echo "jq not on PATH"; exit $KSFT_SKIP; }
trap sites_cleanup EXIT

# RTT (ms, largest) and bytes queued (largest) the primary reports per peer
sample() {
	ctl "$P" status --json |
		jq -r '[.cluster.peers[] | select(.connected) | (.rtt_ms // 0), .queued] | @tsv'
}

# fio did not end: what every site and kernel volume says
stuck() {
	local s
	echo "fio did not end within $JOB_MAX_S s"
	georepctl status
	ctl "$P" status
	for s in $SITES; do
		site_rep "$s" | jq -c '{role, term, writable, policy, last_seq, commit_seq,
			written_seq, applied_seq, tail_seq, io_state, sites}'
	done
	show_logs 40
}

job() {
	local fp rtt=0 q=0 line r1 q1 r2 q2 end
	roles >"$T/roles-before-all"
	cat "$T/roles-before-all"
	fio --name=seq --filename="/dev/georep/$P.$VOL" --rw=write --bs=1m \
		--size=${JOB_MB}m --ioengine=psync --direct=1 \
		--output-format=json >"$T/fio.json" 2>&1 &
	fp=$!
	end=$(($(date +%s) + JOB_MAX_S))
	while kill -0 $fp 2>/dev/null; do
		line=$(sample) || line=""
		read -r r1 q1 r2 q2 <<<"$line"
		for r in ${r1:-0} ${r2:-0}; do
			[ "${r%.*}" -gt "$rtt" ] && rtt=${r%.*}
		done
		for r in ${q1:-0} ${q2:-0}; do
			[ "$r" -gt "$q" ] && q=$r
		done
		[ "$(date +%s)" -lt "$end" ] || { stuck; return 1; }
		sleep 0.5
	done
	wait $fp || { echo "fio failed"; cat "$T/fio.json"; return 1; }
	echo "fio: $(jq '.jobs[0].write.bw' "$T/fio.json") KiB/s," \
	     "error $(jq '.jobs[0].error' "$T/fio.json"); largest heartbeat RTT" \
	     "seen $rtt ms, largest queue to a peer $((q >> 10)) KiB"
	[ "$(jq '.jobs[0].error' "$T/fio.json")" = 0 ] &&
		[ "$(jq '.jobs[0].write.io_kbytes' "$T/fio.json")" -ge $((JOB_MB << 10)) ]
}

no_timeouts() {
	local s bad=0
	for s in $SITES; do
		if grep -E "nothing received|peer [a-z]+ down" "$T/$s.log"; then
			bad=1
		fi
	done
	[ $bad = 0 ]
}

catch_up() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		wait_for "$CATCHUP_S" caught_up "$s" "$P" || return 1
	done
}

check network sites_network || exit 1
check volumes sites_volumes 64 $LOG_MB || exit 1
check keys share_keys || exit 1
check config sites_config commit_rule=local || exit 1
check elect elect || exit 1
check job-no-io-error job
check no-peer-timeout no_timeouts
check no-role-change same_roles all
check caught-up catch_up
check data-identical data_identical
[ "$failed" = 0 ]
