# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the scenarios on shaped WAN links (sites_shape in lib.sh: each
# site's downlink an ifb with netem, fq on the way out) with the pace
# program (85-pace, 87-resync-pace), and roles for 75-heartbeat-lanes.
# Sourced after lib.sh; P is the primary.
#
#   roles                   "site role term", a line per site
#   same_roles NAME         roles now equal those saved in $T/roles-before-NAME
#   recvq                   the largest receive queue of a follower's
#                           connection from P (bytes TCP holds that georepd
#                           has not read: the receiver is behind)
#   bottleneck              "drops backlog_packets" of the followers' ifb
#                           netem: drops summed, backlog the largest
#   rtts [PEER [FIELD]]     P's heartbeat RTT to each connected peer (or to
#                           PEER), ms, one number per line; FIELD
#                           data_rtt_ms: the main connection's instead
#   pct P FILE              percentile P of the numbers in FILE
#   idle_rtt                sets IDLE, P's RTT p50 over 4 s of no writes
#   all_caught_up           every follower applied all P wrote
#   pace_peer S FILTER      jq FILTER over the pace program's entry of peer S
#                           at P (`georepctl bpf status --json`)

roles() {
	local s
	for s in $SITES; do
		echo "$s $(site_rep_get "$s" '.role + " " + (.term | tostring)')"
	done
}

same_roles() {
	roles >"$T/roles-after-$1"
	diff "$T/roles-before-$1" "$T/roles-after-$1"
}

recvq() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		in_site "$s" ss -tnH state established "( dport = :$PORT or sport = :$PORT )" \
			dst "$(site_ip "$P")"
	done | awk '{ if ($1 > m) m = $1 } END { print m + 0 }'
}

bottleneck() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		in_site "$s" /sbin/tc -s qdisc show dev ifb0
	done | awk '/dropped/ { sub(",", "", $7); d += $7 }
		/backlog/ { sub("p", "", $3); if ($3 + 0 > b) b = $3 + 0 }
		END { print d + 0, b + 0 }'
}

rtts() {
	ctl "$P" status --json | jq -r --arg s "${1:-}" --arg f "${2:-rtt_ms}" \
		'.cluster.peers[] | select(.connected and ($s == "" or .name == $s)) |
		 .[$f] // empty'
}

pct() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END {
		if (!NR) { print 0; exit }
		i = int(NR * p / 100); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.1f", v[i] }'
}

idle_rtt() {
	local i
	: >"$T/idle"
	for i in 1 2 3 4; do
		sleep 1.1
		rtts >>"$T/idle"
	done
	IDLE=$(pct 50 "$T/idle")
	echo "idle RTT p50 $IDLE ms"
}

all_caught_up() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		caught_up "$s" "$P" || return 1
	done
}

pace_peer() {
	ctl "$P" bpf status --json |
		jq -c --arg s "$1" ".programs[] | select(.name == \"pace\") | .peers[] |
			select(.site == \$s) | $2"
}
