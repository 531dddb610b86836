#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Pacing replication below a bottleneck keeps the heartbeats out of its
# queue (ebpf/pace.bpf.c, Documentation/ebpf.rst, "Pacing"). Each site's
# downlink is a WAN access link: everything arriving from its peers goes
# through one ifb with netem "delay 5ms rate LINK_MBIT limit QUEUE_PKTS" (a
# router with a deep buffer, QUEUE_PKTS packets of 1500 bytes: the senders'
# GSO is off), and every site sends through fq. Two rounds of the same job,
# a JOB_MB 1 MiB sequential O_DIRECT write at the primary under commit rule
# local, with the followers catching up over their links:
#
#   without  `georepctl bpf detach pace` at the primary: TCP fills the
#            buffer;
#   with     `georepctl bpf attach pace`: "pace_mbit": PACE_MBIT (below
#            LINK_MBIT), the pace program gives each packet its departure
#            time, fq keeps it.
#
# Asserted: both jobs without an I/O error, no role change; with pacing
# the program is attached and enforced at the primary, and the bottleneck's
# queue stays short and drops nothing, where unpaced TCP fills it and loses
# packets, and the heartbeat RTT stays near idle (p50 within HB_NEAR_MS,
# p90 within TCG_MS).
# Printed: heartbeat RTT p50/p90/max, the followers' receive queues, the
# bottlenecks' drops and backlog, fio and catch-up times of both rounds.
# Needs sch_fq, ifb, act_mirred, cls_matchall, fio and jq.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/shaped.sh"
# The link must be the bottleneck: under TCG a follower applies about 2 MB/s
# (16-20 Mbit/s); paced or not above that, the backlog waits in the
# follower's socket buffer and a ping behind it (measured: 32 Mbit/s paced
# under a 40 Mbit/s link, heartbeat RTT p50 318 ms, as unpaced).
LINK_MBIT=${LINK_MBIT:-4}
PACE_MBIT=${PACE_MBIT:-3}
QUEUE_PKTS=${QUEUE_PKTS:-100}		# 300 ms at 4 Mbit/s
JOB_MB=${JOB_MB:-8}
LOG_MB=${LOG_MB:-128}			# the backlog fits: no full resync
# Heartbeats go on the control connection (protocol 6), which is not
# paced: paced below the bottleneck, they wait in no queue. Allowed: a few
# ms (p50) and TCG's slowness (p90)
HB_NEAR_MS=${HB_NEAR_MS:-10}
TCG_MS=${TCG_MS:-55}
CATCHUP_S=${CATCHUP_S:-120}

sites_init sites-pace
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
command -v jq >/dev/null || { echo "jq not on PATH"; exit $KSFT_SKIP; }

# round NAME: the job at the primary, RTT sampled until the followers caught up
round() {
	local name=$1 fp t0 end took p50 p90 max d0 d b
	roles >"$T/roles-before-$name"
	: >"$T/rtt-$name"
	t0=$(date +%s)
	fio --name=seq --filename="/dev/georep/$P.$VOL" --rw=write --bs=1m \
		--size="${JOB_MB}m" --ioengine=psync --direct=1 \
		--output-format=json >"$T/fio-$name.json" 2>&1 &
	fp=$!
	end=$((t0 + CATCHUP_S))
	: >"$T/recvq-$name"
	: >"$T/backlog-$name"
	read -r d0 _ <<<"$(bottleneck)"
	while kill -0 $fp 2>/dev/null || ! all_caught_up; do
		rtts >>"$T/rtt-$name"
		recvq >>"$T/recvq-$name"
		read -r d b <<<"$(bottleneck)"
		echo "$b" >>"$T/backlog-$name"
		[ "$(date +%s)" -lt "$end" ] || { echo "not caught up within $CATCHUP_S s"; break; }
		sleep 0.5
	done
	wait $fp
	took=$(($(date +%s) - t0))
	p50=$(pct 50 "$T/rtt-$name")
	p90=$(pct 90 "$T/rtt-$name")
	max=$(pct 100 "$T/rtt-$name")
	declare -g "P50_$name=$p50" "P90_$name=$p90"
	read -r d b <<<"$(bottleneck)"
	declare -g "DROPS_$name=$((d - d0))"
	declare -g "BACKLOG_$name=$(pct 100 "$T/backlog-$name")"
	echo "$name: fio $(jq '.jobs[0].write.bw' "$T/fio-$name.json") KiB/s, caught up" \
	     "after $took s; heartbeat RTT p50 $p50, p90 $p90, max $max ms" \
	     "($(wc -l <"$T/rtt-$name") samples); largest follower receive queue" \
	     "$(pct 100 "$T/recvq-$name") bytes; at the bottlenecks $((d - d0)) packets" \
	     "dropped, up to $(pct 100 "$T/backlog-$name") queued (of $QUEUE_PKTS)"
	[ "$(jq '.jobs[0].error' "$T/fio-$name.json")" = 0 ] &&
		[ "$(jq '.jobs[0].write.io_kbytes' "$T/fio-$name.json")" -ge $((JOB_MB << 10)) ] &&
		all_caught_up
}

pace_enforced() {
	local j
	j=$(ctl "$P" bpf status --json) || return 1
	ctl "$P" bpf status
	echo "$j" | jq -e --argjson r $((PACE_MBIT * 125000)) '.programs[] |
		select(.name == "pace") | .attached and
		([.peers[] | select(.connected and .paced and .enforced and
				   .rate_bytes_s == $r and .notsent_lowat < 32768 and
				   .part_size < 65536)] |
		 length == 2)' >/dev/null
}

# paced below the link, the bottleneck's queue stays short and drops nothing;
# unpaced, TCP fills it until it drops
bottleneck_kept_short() {
	echo "with pacing: $DROPS_with drops, backlog up to $BACKLOG_with packets;" \
	     "without: $DROPS_without drops, up to $BACKLOG_without (of $QUEUE_PKTS)"
	awk -v d="$DROPS_with" -v a="$BACKLOG_with" -v b="$BACKLOG_without" -v q="$QUEUE_PKTS" \
		'BEGIN { exit !(d == 0 && a <= q / 10 && b > q / 2) }'
}

# Paced, a heartbeat waits in no queue: not at the bottleneck (pacing keeps
# it empty), not behind bulk bytes (its own connection). Before bulk frames
# were split (protocol version 2), it waited behind a whole record of up to
# 1 MiB, 2.8 s at 3 Mbit/s: p90 895 ms paced, and a leader that lost its
# lease and then its term (CI, December 2026); with pieces, behind one
# piece and the socket's unsent bytes: p90 71-87 ms; on its own connection
# (protocol 6) p90 15 ms.
rtt_near_idle() {
	echo "heartbeat RTT with pacing: p50 $P50_with, p90 $P90_with ms; without:" \
	     "p50 $P50_without, p90 $P90_without ms; idle $IDLE ms, allowed p50 idle +" \
	     "$HB_NEAR_MS, p90 idle + $TCG_MS ms"
	awk -v a="$P50_with" -v b="$P90_with" -v i="$IDLE" -v n="$HB_NEAR_MS" -v t="$TCG_MS" \
		'BEGIN { exit !(a <= i + n && b <= i + t) }'
}

check cgroup2 sites_cgroup2 || exit 1
check network sites_network || exit 1
check shaped-links sites_shape "$LINK_MBIT" "$QUEUE_PKTS" || exit 1
check volumes sites_volumes 64 "$LOG_MB" || exit 1
check config sites_config commit_rule=local tls=no \
	site_extra="\"pace_mbit\": $PACE_MBIT" || exit 1
SITES_GEOREPD_ARGS="--bpf auto"
check elect elect || exit 1
check idle-rtt idle_rtt
check detach-pace ctl "$P" bpf detach pace
check without-pacing-job round without
check without-pacing-no-role-change same_roles without
check attach-pace ctl "$P" bpf attach pace
check pace-attached-enforced wait_for 10 pace_enforced
check with-pacing-job round with
check with-pacing-no-role-change same_roles with
check pace-still-enforced pace_enforced
check bottleneck-queue-kept-short bottleneck_kept_short
check heartbeat-rtt-near-idle-with-pacing rtt_near_idle
check data-identical data_identical
[ "$failed" = 0 ]
