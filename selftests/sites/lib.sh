# SPDX-License-Identifier: GPL-2.0
#
# The three-site lab, sourced by the selftests/sites/NN-*.sh scenarios
# (bash). Three sites in one VM: network namespaces gr-alpha, gr-bravo and
# gr-charlie joined by a full mesh of veth pairs, every link delayed by netem
# on both ends ($SITES_DELAY, default 5ms one way), one `georepd --ledger
# kernel` per site, kernel volumes <site>.<vol> on loop devices (one kernel
# serves the three sites, each site only touches its own volumes).
#
#   sites_init TAG            skip checks, tmpfs work dir $T, exit trap
#   sites_network             namespaces, veth mesh, routes, netem
#   sites_cgroup2             a cgroup2 mount georepd finds ($SITES_CG)
#   sites_shape MBIT PKTS     fq on every link out (pacing), each site's
#                             links in through one ifb: netem delay 5 ms,
#                             rate MBIT, queue PKTS
#   sites_volumes [DATA_MB [LOG_MB]]
#                             loop devices D_<site>, L_<site>; alpha.vol0
#                             formatted, bravo/charlie made as its replicas;
#                             SITES_LOG_MB_<site> gives one site's log
#                             another size; SITES_DATA_DELAY_MS_<site> puts
#                             its data device behind dm-delay (writes and
#                             flushes held that long; vt_need_dm delay first)
#   sites_config [KEY=VALUE...]
#                             $T/cluster.json for them (quorum_loss=,
#                             commit_rule=, site_extra=) and `config check`;
#                             site_extra='"pace_mbit": 32' adds members to
#                             every site's entry, SITES_EXTRA_<site> to one
#                             site's; SITES_SERVICE=IP:PORT gives the volume
#                             that service address and each replica the
#                             backend <site ip>:PORT (routing);
#                             the sites use mutual TLS 1.3 with a CA and
#                             site certificates made by `openssl` in $T/pki
#                             (selftests/lib/tls-certs.sh); tls=no: plain
#                             TCP (georepd --insecure-plaintext)
#   start_site S / kill_site S
#                             start georepd at S / SIGKILL it; with
#                             SITES_DAY_ONE=yes each site has its own key
#                             dir $T/keys-S and georepd creates the volume
#                             (selftests/sites/05-day-one.sh)
#   cut_links S [PEER...] / mend_links S [PEER...]
#                             links of S to PEERs (default: all) down / up
#   primary_site [EXCLUDED...] the one site whose volume is primary, if one
#   wait_primary SEC [EXCLUDED...]
#                             ... once there is exactly one, within SEC
#   elect                     start every site, wait for a primary ($P)
#   links_tls                 every site's daemon runs mutual TLS 1.3 and
#                             each up peer proved the name it is configured as
#   tls_rekeyed S             S's up links did TLS KeyUpdates (rekey_bytes is
#                             4 MiB in the lab)
#   vol_json S                `georepctl status S.$VOL --json`
#   vol_num S KEY             a number from it
#   sha_dev S                 sha256 of S's data device (whole)
#   data_identical            every site's data device has the same sha256
#                             (else which blocks differ, and the seqs)
#   share_keys                the replicas' key dirs get the first site's keys
#
# Results are printed as nested KTAP by check/result (selftests/kmod/lib/
# ktap.sh); selftests/sites/run.sh runs each scenario as one top-level test.

SITES="alpha bravo charlie"
VOL=vol0
PORT=7400
SITES_DELAY=${SITES_DELAY:-5ms}
ELECTION_MS=${GEOREPD_ELECTION_MS:-3000}	# qemu TCG is slow: generous timeouts
SITES_GEOREPD_ARGS=${SITES_GEOREPD_ARGS:-}	# more georepd options (e.g. --bpf on)
SITES_CG=/run/georep-cgroup2		# outside /sys: `ip netns exec` remounts it

SITES_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SITES_LIB/../kmod/lib/ktap.sh"
. "$SITES_LIB/../kmod/lib/volume.bash"
. "$SITES_LIB/../lib/tls-certs.sh"
PIDS=""

sites_init() {
	local m
	for m in veth sch_netem; do
		modprobe "$m" 2>/dev/null
	done
	command -v georepd >/dev/null || { echo "georepd not on PATH"; exit $KSFT_SKIP; }
	[ -x /sbin/tc ] || { echo "/sbin/tc missing"; exit $KSFT_SKIP; }
	VT_TMPFS_MB=${VT_TMPFS_MB:-900}
	vt_init "$1"
	outf=$T/.out
	trap 'sites_cleanup' EXIT
}

site_ip() {
	case $1 in
	alpha) echo 10.44.0.1 ;;
	bravo) echo 10.44.0.2 ;;
	charlie) echo 10.44.0.3 ;;
	esac
}

# in_site SITE CMD...: run CMD in the site's network namespace
in_site() {
	local s=$1
	shift
	ip netns exec "gr-$s" "$@"
}

show_logs() {
	local s
	for s in $SITES; do
		[ -f "$T/$s.log" ] || continue
		echo "# ---- georepd $s (last lines) ----"
		tail -n "${1:-25}" "$T/$s.log" | sed 's/^/# /'
	done
}

sites_cleanup() {
	local s p
	[ "$failed" = 0 ] || show_logs
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for s in $SITES; do
		# a killed or cut-off primary's quorum writes wait for a commit
		# that will never come, and suspended ones for a resume: let
		# them finish so that the unmount and the delete can
		georepctl volume set "$s.$VOL" --io-state run >/dev/null 2>&1
		georepctl volume set "$s.$VOL" --commit-rule local >/dev/null 2>&1
	done
	kill $(jobs -p) 2>/dev/null
	for s in $SITES; do
		umount "$T/mnt-$s" 2>/dev/null
		ip netns del "gr-$s" 2>/dev/null
		rmdir "$SITES_CG/app-$s" 2>/dev/null
	done
	if [ -n "${SITES_CG_OURS:-}" ]; then
		umount "$SITES_CG" 2>/dev/null && rmdir "$SITES_CG" 2>/dev/null
	fi
	vt_cleanup
}

# A full mesh of veth pairs (the lab has no bridge module): each site owns
# 10.44.0.N/32 on lo and reaches each peer through its own veth.
sites_network() {
	local a b
	for a in $SITES; do
		ip netns add "gr-$a" || return 1
		ip -n "gr-$a" link set lo up || return 1
		ip -n "gr-$a" addr add "$(site_ip "$a")/32" dev lo || return 1
	done
	for a in $SITES; do
		for b in $SITES; do
			[[ "$a" < "$b" ]] || continue
			ip link add "to-$b" netns "gr-$a" type veth peer name "to-$a" \
				netns "gr-$b" || return 1
		done
	done
	for a in $SITES; do
		for b in $SITES; do
			[ "$a" = "$b" ] && continue
			ip -n "gr-$a" link set "to-$b" up || return 1
			ip -n "gr-$a" route add "$(site_ip "$b")/32" dev "to-$b" \
				src "$(site_ip "$a")" || return 1
			in_site "$a" /sbin/tc qdisc add dev "to-$b" root netem \
				delay "$SITES_DELAY" || return 1
		done
	done
	in_site alpha /sbin/tc qdisc show dev to-bravo | grep -q netem || return 1
	in_site alpha ping -c 2 -i 0.2 -W 2 "$(site_ip charlie)" &&
		in_site bravo ping -c 2 -i 0.2 -W 2 "$(site_ip charlie)"
}

# georepd attaches the pace and route programs to cgroups, which it finds
# through a cgroup2 mount visible in its mount namespace
sites_cgroup2() {
	grep -q " $SITES_CG cgroup2 " /proc/mounts && return 0
	mkdir -p "$SITES_CG" && mount -t cgroup2 none "$SITES_CG" && SITES_CG_OURS=1
}

# sites_shape MBIT PKTS: each site sends through fq on its links out (the
# pace program's departure times hold there) and receives through one ifb
# with the delay, the rate and the queue of its bottleneck
sites_shape() {
	local mbit=$1 pkts=$2 s p m
	for m in sch_fq sch_netem ifb act_mirred cls_matchall sch_ingress; do
		modprobe "$m" 2>/dev/null
	done
	for s in $SITES; do
		ip -n "gr-$s" link add ifb0 type ifb || return 1
		ip -n "gr-$s" link set ifb0 up || return 1
		in_site "$s" /sbin/tc qdisc add dev ifb0 root netem delay 5ms \
			rate "${mbit}mbit" limit "$pkts" || return 1
		for p in $SITES; do
			[ "$p" = "$s" ] && continue
			ip -n "gr-$s" link set "to-$p" gso_max_size 1500 || return 1
			in_site "$s" /sbin/tc qdisc replace dev "to-$p" root fq || return 1
			in_site "$s" /sbin/tc qdisc add dev "to-$p" handle ffff: ingress ||
				return 1
			in_site "$s" /sbin/tc filter add dev "to-$p" parent ffff: matchall \
				action mirred egress redirect dev ifb0 || return 1
		done
	done
	in_site alpha /sbin/tc qdisc show
	in_site alpha ping -c 2 -i 0.2 -W 2 "$(site_ip bravo)"
}

# cut_links S [PEER...]: the links between S and PEERs (default: every other
# site) go down at both ends, as a cable cut; mend_links brings them back
# (not "cut": that would hide coreutils cut(1) in every scenario)
links() {
	local state=$1 s=$2 p
	shift 2
	[ $# -gt 0 ] || set -- $SITES
	for p in "$@"; do
		[ "$p" = "$s" ] && continue
		ip -n "gr-$s" link set "to-$p" "$state" || return 1
		ip -n "gr-$p" link set "to-$s" "$state" || return 1
		if [ "$state" = up ]; then
			ip -n "gr-$s" route replace "$(site_ip "$p")/32" dev "to-$p" \
				src "$(site_ip "$s")" || return 1
			ip -n "gr-$p" route replace "$(site_ip "$s")/32" dev "to-$s" \
				src "$(site_ip "$p")" || return 1
		fi
	done
}
cut_links() { links down "$@"; }
mend_links() { links up "$@"; }

sites_volumes() {
	local s data=${1:-256} log=${2:-128} l ms
	for s in $SITES; do
		eval "l=\${SITES_LOG_MB_$s:-$log} ms=\${SITES_DATA_DELAY_MS_$s:-}"
		eval "D_$s=\$(vt_loop data-$s $data)" || return 1
		eval "L_$s=\$(vt_loop log-$s $l)" || return 1
		[ -n "$ms" ] || continue
		eval "vt_delay sites-data-$s \$D_$s $ms" || return 1
		eval "D_$s=/dev/mapper/sites-data-$s"
	done
	georepctl volume create "alpha.$VOL" --data "$D_alpha" --log "$L_alpha" --format \
		--role secondary --term 0 --site-id 1 --commit-rule quorum --key-dir "$KEYS" ||
		return 1
	VT_VOLS="alpha.$VOL"
	georep-mkreplica "alpha.$VOL" "bravo.$VOL" --data "$D_bravo" --log "$L_bravo" \
		--key-dir "$KEYS" --site-id 2 || return 1
	georep-mkreplica "alpha.$VOL" "charlie.$VOL" --data "$D_charlie" --log "$L_charlie" \
		--key-dir "$KEYS" --site-id 3 || return 1
	VT_VOLS="$VT_VOLS bravo.$VOL charlie.$VOL"
	georepctl status
}

# sites_config [quorum_loss=suspend|fail] [commit_rule=quorum|local]
# site_tls S: the cert and key members of S's entry ("" without TLS)
site_tls() {
	[ "$SITES_TLS" = yes ] || return 0
	printf ', "cert": "%s", "key": "%s"' "$T/pki/$1.crt" "$T/pki/$1.key"
}

# site_more S: the site_extra= members of every site's entry and S's own
# SITES_EXTRA_<S> ("" without)
site_more() {
	local own
	eval "own=\${SITES_EXTRA_$1:-}"
	[ -z "$SITES_SITE_EXTRA" ] || printf ', %s' "$SITES_SITE_EXTRA"
	[ -z "$own" ] || printf ', %s' "$own"
}

# replica S: S's entry in the volume's replicas, with its backend when the
# volume has a service address
replica() {
	local d l
	eval "d=\$D_$1 l=\$L_$1"
	printf '"%s": {"data": "%s", "log": "%s"' "$1" "$d" "$l"
	[ -z "${SITES_SERVICE:-}" ] || printf ', "backend": "%s:%s"' "$(site_ip "$1")" \
		"${SITES_SERVICE##*:}"
	printf '}'
}

# sites_pki DIR: the lab's CA and site certificates, copied into DIR. They
# are made once per boot (about 1.5 s of openssl under TCG) and each
# scenario gets a copy of its own, which it may change (62-tls-trust does).
sites_pki() {
	local cache=/tmp/sites-pki-$(cat /proc/sys/kernel/random/boot_id) s
	if [ ! -e "$cache/made" ]; then
		rm -rf "$cache"
		tls_make_ca "$cache" || return 1
		for s in $SITES; do
			tls_make_site "$cache" "$s" || return 1
		done
		: >"$cache/made"
	fi
	mkdir -p "$1" && cp -p "$cache"/* "$1"/ && rm -f "$1/made"
}

sites_config() {
	local quorum_loss=suspend commit_rule=quorum kv s tls_section= svc=
	SITES_TLS=yes
	SITES_SITE_EXTRA=
	for kv in "$@"; do
		case $kv in
		quorum_loss=*) quorum_loss=${kv#*=} ;;
		commit_rule=*) commit_rule=${kv#*=} ;;
		tls=*) SITES_TLS=${kv#*=} ;;
		site_extra=*) SITES_SITE_EXTRA=${kv#*=} ;;
		esac
	done
	if [ "$SITES_TLS" = yes ]; then
		if [ ! -e "$T/pki/ca.crt" ]; then
			sites_pki "$T/pki" || return 1
		fi
		# a KeyUpdate every 4 MiB: scenarios that write see several
		tls_section="\"tls\": {\"ca\": \"$T/pki/ca.crt\", \"rekey_bytes\": 4194304},"
	fi
	[ -z "${SITES_SERVICE:-}" ] || svc=" \"service\": \"$SITES_SERVICE\","
	cat >"$T/cluster.json" <<JSON
{
  "cluster": "sites", $tls_section
  "sites": [
    {"name": "alpha", "region": "eu", "site_id": 1, "address": "$(site_ip alpha):$PORT"$(site_tls alpha)$(site_more alpha)},
    {"name": "bravo", "region": "us", "site_id": 2, "address": "$(site_ip bravo):$PORT"$(site_tls bravo)$(site_more bravo)},
    {"name": "charlie", "region": "ap", "site_id": 3, "address": "$(site_ip charlie):$PORT"$(site_tls charlie)$(site_more charlie)}
  ],
  "volumes": [
    {"name": "$VOL", "commit_rule": "$commit_rule", "quorum_loss": "$quorum_loss",$svc
     "replicas": {
       $(replica alpha),
       $(replica bravo),
       $(replica charlie)}}
  ]
}
JSON
	georepctl config check "$T/cluster.json"
}

start_site() {
	mkdir -p "$T/state-$1"
	# $! must be georepd itself: ip netns exec and env exec it (not
	# in_site, a function, which would put a subshell in between)
	# SITES_CONFIG_<S>: a config file of S's own (default cluster.json)
	local plain= cfg
	eval "cfg=\${SITES_CONFIG_$1:-\$T/cluster.json}"
	[ "${SITES_TLS:-yes}" = yes ] || plain=--insecure-plaintext
	ip netns exec "gr-$1" env "GEOREPD_ELECTION_MS=$ELECTION_MS" georepd \
		--config "$cfg" --site "$1" --state-dir "$T/state-$1" \
		--foreground --verbose --ledger kernel $plain ${SITES_GEOREPD_ARGS:-} \
		${SITES_DAY_ONE:+--site-prefixed-names --key-dir "$T/keys-$1"} 2>>"$T/$1.log" &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
}

kill_site() {
	local pid
	eval "pid=\${PID_$1:-}"
	[ -n "$pid" ] || return 1
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "PID_$1="
	return 0
}

# georepctl against one site's daemon (its control socket)
ctl() {
	local s=$1
	shift
	georepctl "$@" --socket "$T/state-$s/$s.sock"
}

vol_json() { georepctl status "$1.$VOL" --json; }
vol_num() { vol_json "$1" | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" | head -n1; }

# the site whose kernel volume is primary (exactly one), or nothing
primary_site() {
	local s x found=""
	for s in $SITES; do
		for x in "$@"; do
			[ "$s" = "$x" ] && continue 2
		done
		if vol_json "$s" 2>/dev/null | grep -q '"role": "primary"'; then
			[ -n "$found" ] && return 1
			found=$s
		fi
	done
	[ -n "$found" ] && echo "$found"
}

wait_primary() {
	local end=$(($(date +%s) + $1)) p
	shift
	while [ "$(date +%s)" -le "$end" ]; do
		p=$(primary_site "$@") && [ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

elect() {
	local s
	for s in $SITES; do
		start_site "$s"
	done
	P=$(wait_primary 30) || { show_logs 30; return 1; }
	echo "primary: $P"
	ctl "$P" status		# the cluster view, then this kernel's volumes
}

links_tls() {
	local s i j bad=0
	for s in $SITES; do
		for i in $(seq 30); do
			j=$(ctl "$s" status --json)
			jq -e '.cluster.peers_up == .cluster.peers_total' <<<"$j" >/dev/null && break
			sleep 0.5
		done
		jq -e '.cluster.transport == "tls" and
			.cluster.peers_up == .cluster.peers_total and
			all(.cluster.peers[]; .tls.version == "TLSv1.3" and
			    .tls.peer_certificate == .name)' <<<"$j" >/dev/null || bad=1
		jq -c '.cluster.peers[] |
			{site: .name, tls: .tls.version, cert: .tls.peer_certificate,
			 key_updates: .tls.key_updates_sent}' <<<"$j" | sed "s/^/$s: /"
	done
	return $bad
}

# tls_rekeyed S: S's links changed keys (TLS KeyUpdate) and stayed up
tls_rekeyed() {
	ctl "$1" status --json | jq -c '.cluster.peers[] | {site: .name, ups: .ups,
		sent: .tls.key_updates_sent, received: .tls.key_updates_received}'
	grep -m3 "TLS key update" "$T/$1.log"
	ctl "$1" status --json | jq -e '[.cluster.peers[] | select(.state == "up") |
		.tls.key_updates_sent] | add > 0' >/dev/null
}

# O_DIRECT: georep writes the data device with bios that bypass the loop
# device's page cache, so a buffered read may return blocks cached earlier
sha_dev() {
	local d
	eval "d=\$D_$1"
	# (awk: the lab used to define a cut() of its own)
	dd if="$d" bs=1M iflag=direct status=none | sha256sum | awk '{ print $1 }'
}

# now_s: seconds since the epoch, with fractions
now_s() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

# ---- helpers of the partition and catch-up scenarios (30-, 50-) ----
#
#   site_rep S                the daemon's view of $VOL at S (the "replica"
#                             object of `georepctl status --json` through its
#                             socket), compact JSON; site_rep_get S FILTER: jq
#   kvol S KEY                a field of S's kernel volume, as jq -r prints it
#   wait_for SEC CMD...       poll CMD every 0.2 s until it succeeds, up to SEC
#   caught_up S P             S's kernel volume applied all P has written
#   ledgers_same S...         `ledger verify` passes at each; equal
#                             written_seq and chain hash; `ledger dump`
#                             identical over the range every site retains

site_rep() {
	ctl "$1" status --json | jq -c ".cluster.volumes[] | select(.name == \"$VOL\") | .replica"
}
site_rep_get() { site_rep "$1" | jq -r "$2"; }
kvol() { vol_json "$1" | jq -r ".volumes[0].$2"; }

wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

caught_up() {
	local a w
	a=$(vol_num "$1" applied_seq)
	w=$(vol_num "$2" written_seq)
	[ -n "$a" ] && [ -n "$w" ] && [ "$a" -ge "$w" ]
}

ledgers_same() {
	local s w t c w0="" c0="" from=1 ret=0
	for s in "$@"; do
		georepctl ledger verify "$s.$VOL" --key-dir "$KEYS" || ret=1
		w=$(kvol "$s" written_seq)
		t=$(kvol "$s" tail_seq)
		c=$(kvol "$s" chain_hash)
		echo "$s: written_seq $w tail_seq $t chain_hash ${c:0:16}"
		if [ -z "$w0" ]; then
			w0=$w
			c0=$c
		elif [ "$w" != "$w0" ] || [ "$c" != "$c0" ]; then
			echo "$s: written_seq/chain hash differ from $1's"
			ret=1
		fi
		# an empty retained log (after a reset) has tail 0: nothing to dump
		[ "$t" = 0 ] && from=$((w + 1))
		[ "$t" -gt "$from" ] && from=$t
	done
	[ $ret = 0 ] || return 1
	[ "$from" -le "$w0" ] || { echo "no record retained at every site"; return 0; }
	for s in "$@"; do
		georepctl ledger dump "$s.$VOL" --from "$from" >"$T/dump-$s" || return 1
		cmp "$T/dump-$1" "$T/dump-$s" || return 1
	done
	echo "ledger dumps identical over seq $from..$w0 ($(wc -l <"$T/dump-$1") lines)"
}

# share_keys: the replicas seal with the first site's keys (georep-mkreplica);
# `ledger verify --key-dir` at every site needs them under each site's name
share_keys() {
	local s
	for s in $SITES; do
		[ -d "$KEYS/$s.$VOL" ] || cp -a "$KEYS/alpha.$VOL" "$KEYS/$s.$VOL" || return 1
	done
}

# sites_writer NAME (in the background): fio rounds of 2 MiB with verify at
# the primary $P until $T/NAME.stop exists; the number of rounds goes to
# $T/NAME.rounds, each failed round to $T/NAME.failed
sites_writer() {
	local n=$1 k=0
	while [ ! -e "$T/$n.stop" ]; do
		fio --name="$n" --filename="/dev/georep/$P.$VOL" --direct=1 --ioengine=libaio \
			--rw=randwrite --bs=4k --iodepth=4 --size=2m --offset=$(((k % 16) * 2))m \
			--verify=crc32c --verify_fatal=1 --output="$T/$n.$k" >/dev/null 2>&1 ||
			echo "round $k: $(grep -m1 'err=' "$T/$n.$k")" >>"$T/$n.failed"
		k=$((k + 1))
	done
	echo "$k" >"$T/$n.rounds"
}

# sites_writer_stop NAME PID: stop it; fails when a round failed
sites_writer_stop() {
	touch "$T/$1.stop"
	wait "$2"
	echo "$(cat "$T/$1.rounds") fio rounds of 2 MiB with verify"
	[ ! -e "$T/$1.failed" ] || { cat "$T/$1.failed"; return 1; }
}

# data_identical: every site's data device has the same sha256 (printed);
# when they differ, which 4 KiB blocks differ and what each kernel says
data_identical() {
	local s h h0="" ret=0
	for s in $SITES; do
		h=$(sha_dev "$s")
		echo "$s: $h"
		[ ${#h} = 64 ] || return 1
		[ -n "$h0" ] || h0=$h
		[ "$h" = "$h0" ] || ret=1
	done
	[ $ret = 0 ] || data_differences
	return $ret
}

# data_differences: the 4 KiB blocks where each site's data device differs
# from the first site's (at most 20 listed), and every kernel's seqs
data_differences() {
	local s d d0 first
	first=${SITES%% *}
	eval "d0=\$D_$first"
	for s in $SITES; do
		[ "$s" = "$first" ] && continue
		eval "d=\$D_$s"
		echo "blocks where $s differs from $first:" \
		     "$(cmp -l <(dd if="$d0" bs=1M iflag=direct status=none) \
			<(dd if="$d" bs=1M iflag=direct status=none) 2>/dev/null |
			awk '{ print int(($1 - 1) / 4096) }' |
			uniq | awk '{ n++; if (n <= 20) l = l " " $1 } END { print n + 0 ":" l }')"
	done
	for s in $SITES; do
		vol_json "$s" | jq -c '.volumes[] | {name, role, term, written_seq, commit_seq,
			applied_seq, tail_seq, diverged}'
	done
}
