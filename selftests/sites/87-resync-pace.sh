#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A full resync paced below live shipping (ebpf/pace.bpf.c, "pace_resync_
# percent", Documentation/ebpf.rst, "Pacing"). The lab of 85-pace: each
# site's downlink an ifb with netem "delay 5ms rate LINK_MBIT limit
# QUEUE_PKTS", fq on the way out, "pace_mbit": PACE_MBIT at every site,
# commit rule quorum, a small volume (DATA_MB data, LOG_MB log).
#
#   baseline  a JOB_MB job of 256 KiB O_DIRECT writes at the primary P,
#             every site up: its bandwidth is what quorum shipping gives;
#   fill      follower R's georepd killed, P writes FILL_MB (past 3/4 of
#             the log) with the third site F: P releases records R needs;
#   resync    R restarted: P copies it the whole device at the resync share
#             while the same job runs again at P, committed through F.
#
# Asserted: R gets a full resync and catches up; while it is copied, P
# paces R's connection to the resync share (enforced) and the copy takes no
# less than the share allows; the job during the resync keeps at least
# SHARE_KEPT_PCT % of the baseline's bandwidth (shipping to F is not held
# behind the resync); P's heartbeat RTT to R, on its control connection
# (protocol 6, unpaced), stays near idle: p50 within HB_NEAR_MS, p90 within
# TCG_MS (TCG's slowness), and below the RTT of R's paced main connection,
# which the heartbeats shared before protocol 6 (p50); no I/O error, no role
# change; the devices end identical.
# Needs sch_fq, ifb, act_mirred, cls_matchall, fio and jq.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/shaped.sh"
LINK_MBIT=${LINK_MBIT:-4}
PACE_MBIT=${PACE_MBIT:-3}
RESYNC_PCT=${RESYNC_PCT:-25}
QUEUE_PKTS=${QUEUE_PKTS:-100}
DATA_MB=${DATA_MB:-1}
LOG_MB=${LOG_MB:-8}
FILL_MB=${FILL_MB:-7}			# past 3/4 of the log: 1542 of 2047 blocks at 6
JOB_MB=${JOB_MB:-3}			# 38% of the log: the resync point stays in it
SHARE_KEPT_PCT=${SHARE_KEPT_PCT:-60}
RESYNC_MAX_S=${RESYNC_MAX_S:-150}
COPY_BPS=0

sites_init sites-resync-pace
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
command -v jq >/dev/null || { echo "jq not on PATH"; exit $KSFT_SKIP; }
SHARE_BYTES_S=$((PACE_MBIT * 125000 * RESYNC_PCT / 100))
HB_NEAR_MS=${HB_NEAR_MS:-10}
TCG_MS=${TCG_MS:-55}

pick_sites() {
	local s
	R= F=
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		if [ -z "$R" ]; then R=$s; else F=$s; fi
	done
	echo "primary $P, resynced $R, shipping kept to $F"
}

# job NAME: JOB_MB of 256 KiB O_DIRECT writes at P; JOB_BW_NAME (KiB/s)
job() {
	fio --name="$1" --filename="/dev/georep/$P.$VOL" --rw=write --bs=256k \
		--size="${DATA_MB}m" --io_size="${JOB_MB}m" --ioengine=psync --direct=1 \
		--output-format=json >"$T/fio-$1.json" 2>&1 || { cat "$T/fio-$1.json"; return 1; }
	declare -g "JOB_BW_$1=$(jq '.jobs[0].write.bw' "$T/fio-$1.json")"
	echo "job $1: $(jq '.jobs[0].write.bw' "$T/fio-$1.json") KiB/s," \
	     "$(jq '.jobs[0].write.io_kbytes' "$T/fio-$1.json") KiB, error" \
	     "$(jq '.jobs[0].error' "$T/fio-$1.json")"
	[ "$(jq '.jobs[0].error' "$T/fio-$1.json")" = 0 ] &&
		[ "$(jq '.jobs[0].write.io_kbytes' "$T/fio-$1.json")" -ge $((JOB_MB << 10)) ]
}

baseline() {
	roles >"$T/roles-before-all"
	job baseline && wait_for 60 all_caught_up
}

fill_past_log() {
	kill_site "$R" || return 1
	fio --name=fill --filename="/dev/georep/$P.$VOL" --rw=write --bs=1M --direct=1 \
		--ioengine=psync --size="${DATA_MB}M" --io_size="${FILL_MB}M" \
		--output-format=terse --terse-version=3 >"$T/fio-fill" ||
		{ cat "$T/fio-fill"; return 1; }
	echo "primary written_seq $(vol_num "$P" written_seq), tail_seq" \
	     "$(vol_num "$P" tail_seq); $R written_seq $(vol_num "$R" written_seq)"
	grep "releasing records up to" "$T/$P.log" | head -n 3
	[ "$(vol_num "$P" tail_seq)" -gt $(($(vol_num "$R" written_seq) + 1)) ] &&
		grep -q "releasing records up to [0-9]*, $R holds up to" "$T/$P.log"
}

# one sample of the resync: P's RTT to R, P's pace entry for R
sample() {
	rtts "$R" >>"$T/rtt-resync"
	rtts "$R" data_rtt_ms >>"$T/rtt-data"
	ctl "$P" status --json | jq -r --arg s "$R" \
		'.cluster.peers[] | select(.name == $s) | .control.state' >>"$T/ctl-state"
	pace_peer "$R" '[.resync, .rate_bytes_s, .enforced, .observed_bytes_s] |
		map(tostring) | join(" ")' | tr -d '"' >>"$T/pace-resync"
}

resync_done() { [ "$(site_rep_get "$R" '.resyncs_done')" -ge 1 ] 2>/dev/null; }

# R restarted; the job at P runs while R is copied; samples every 0.5 s.
# COPY_BPS: the bytes R had still to get when the copy was first seen,
# over the time until its resync was done
resync_under_load() {
	local jp t0 t1 tb td= c0 end
	: >"$T/rtt-resync"
	: >"$T/rtt-data"
	: >"$T/ctl-state"
	: >"$T/pace-resync"
	t0=$(now_s)
	start_site "$R"
	end=$(($(date +%s) + 30))
	until [ "$(site_rep_get "$R" '.resync.size_bytes // 0' 2>/dev/null)" -gt 0 ] 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || { echo "$R: no resync began in 30 s"; return 1; }
		sleep 0.2
	done
	tb=$(now_s)
	c0=$(site_rep_get "$R" '.resync.copied_bytes // 0')
	job resync >"$T/job-resync.out" 2>&1 &
	jp=$!
	end=$(($(date +%s) + RESYNC_MAX_S))
	while kill -0 $jp 2>/dev/null || [ -z "$td" ]; do
		sample
		[ -n "$td" ] || ! resync_done || td=$(now_s)
		[ "$(date +%s)" -lt "$end" ] || { echo "no resync within $RESYNC_MAX_S s"; break; }
		sleep 0.5
	done
	t1=$(now_s)
	wait $jp
	JOB_RC=$?
	cat "$T/job-resync.out"
	# job ran in a subshell: its bandwidth from fio's report
	JOB_BW_resync=$(jq '.jobs[0].write.bw // 0' "$T/fio-resync.json")
	grep "full resync\|resync installed" "$T/$R.log"
	[ -n "$td" ] || return 1
	COPY_BPS=$(echo "($DATA_MB * 1048576 - $c0) / ($td - $tb)" | bc)
	echo "the copy began $(elapsed "$t0" "$tb") s after $R's restart, $c0 bytes" \
	     "copied then; done $(elapsed "$tb" "$td") s later ($COPY_BPS bytes/s);" \
	     "job and resync ended after $(elapsed "$t0" "$t1") s"
	[ "$JOB_RC" = 0 ] && wait_for 60 caught_up "$R" "$P"
}

# the pace program gave R the resync share, enforced, while it was copied;
# the copy ran no faster than that share (with the 150% a flow may run over
# its rate before georepd counts it unenforced)
resync_paced() {
	local n
	n=$(awk -v r="$SHARE_BYTES_S" '$1 == "true" && $2 == r && $3 == "true"' \
		"$T/pace-resync" | wc -l)
	echo "$n of $(wc -l <"$T/pace-resync") samples at the resync share" \
	     "($SHARE_BYTES_S bytes/s, enforced); observed rates (bytes/s):" \
	     "$(awk '$1 == "true" { printf "%s ", $4 }' "$T/pace-resync" | head -c 400)"
	echo "copied at $COPY_BPS bytes/s, share $SHARE_BYTES_S bytes/s"
	[ "$n" -gt 0 ] && [ "$((COPY_BPS * 2))" -le "$((SHARE_BYTES_S * 3))" ]
}

share_kept() {
	echo "job bandwidth: baseline $JOB_BW_baseline KiB/s, during the resync" \
	     "${JOB_BW_resync:-0} KiB/s (at least $SHARE_KEPT_PCT % asserted)"
	[ "$((${JOB_BW_resync:-0} * 100))" -ge "$((JOB_BW_baseline * SHARE_KEPT_PCT))" ]
}

rtt_near_idle() {
	local p50 p90 max d50 d90
	p50=$(pct 50 "$T/rtt-resync")
	p90=$(pct 90 "$T/rtt-resync")
	max=$(pct 100 "$T/rtt-resync")
	d50=$(pct 50 "$T/rtt-data")
	d90=$(pct 90 "$T/rtt-data")
	echo "heartbeat RTT to $R during its resync: p50 $p50, p90 $p90, max $max ms" \
	     "($(wc -l <"$T/rtt-resync") samples); idle $IDLE ms; allowed p50 idle +" \
	     "$HB_NEAR_MS, p90 idle + $TCG_MS ms"
	echo "main (paced) connection's RTT: p50 $d50, p90 $d90 ms;" \
	     "control connection: $(sort "$T/ctl-state" | uniq -c | xargs)"
	[ "$(wc -l <"$T/rtt-resync")" -gt 0 ] &&
		! grep -qv '^up$' "$T/ctl-state" &&
		awk -v a="$p50" -v b="$p90" -v d="$d50" -v i="$IDLE" -v n="$HB_NEAR_MS" \
		    -v t="$TCG_MS" 'BEGIN { exit !(a <= i + n && b <= i + t && a < d) }'
}

check cgroup2 sites_cgroup2 || exit 1
check network sites_network || exit 1
check shaped-links sites_shape "$LINK_MBIT" "$QUEUE_PKTS" || exit 1
check volumes sites_volumes "$DATA_MB" "$LOG_MB" || exit 1
check config sites_config commit_rule=quorum tls=no \
	site_extra="\"pace_mbit\": $PACE_MBIT, \"pace_resync_percent\": $RESYNC_PCT" || exit 1
SITES_GEOREPD_ARGS="--bpf auto"
check elect elect || exit 1
check pick-sites pick_sites || exit 1
check idle-rtt idle_rtt
check baseline-job baseline || exit 1
check fill-past-log-with-R-down fill_past_log || exit 1
check resync-while-writing resync_under_load
check resync-paced-to-its-share resync_paced
check shipping-keeps-its-share share_kept
check heartbeat-rtt-near-idle-during-resync rtt_near_idle
check no-role-change same_roles all
check data-identical data_identical
[ "$failed" = 0 ]
