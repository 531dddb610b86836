#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Three sites in one VM: network namespaces gr-alpha, gr-bravo, gr-charlie
# joined by veth pairs, every link delayed 5 ms by netem each way, one `georepd --ledger kernel` per
# site, one 3-site quorum volume (kernel volumes <site>.vol0 on loop devices,
# one kernel serving the three sites). ext4 is made and filled at the
# primary the daemons elect; then the primary site is killed (daemon
# SIGKILL, link down), the file system is mounted at the new primary and the
# files' checksums compared.
#
#   selftests/vm/run -- /georep/selftests/sites/run.sh
#
# Needs the replication operations of the kernel (LOG_NOOP, LOG_TRUNCATE,
# LOG_RESET, GEOREP_IOC_DATA_WRITE): see Documentation/replication.rst.
# Prints KTAP; exit 0 pass, 4 skip, 1 fail.

set -u
KSFT_SKIP=4
SITES="alpha bravo charlie"
VOL=vol0
PORT=7400
FAILOVER_MAX_S=20	# qemu TCG, GEOREPD_ELECTION_MS=3000

KO=${GEOREP_KO:-/georep/georep.ko}
. "$(dirname "$0")/../kmod/lib/module.sh"
if ! grep -q '^georep ' /proc/modules; then
	out=$(georep_load "$KO" 2>&1) || { echo "# cannot load $KO: $out"; exit $KSFT_SKIP; }
fi
for m in loop veth sch_netem; do
	modprobe "$m" 2>/dev/null
done
command -v georepd >/dev/null || { echo "# georepd not on PATH"; exit $KSFT_SKIP; }
[ -x /sbin/tc ] || { echo "# /sbin/tc missing"; exit $KSFT_SKIP; }

. "$(dirname "$0")/../kmod/lib/volume.bash"
VT_TMPFS_MB=900
vt_init sites
n=0
failed=0
PIDS=""

check() {
	local name=$1 rc
	shift
	n=$((n + 1))
	"$@" >"$T/.out" 2>&1
	rc=$?
	sed 's/^/# /' "$T/.out"
	if [ $rc = 0 ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		failed=$((failed + 1))
	fi
	return $rc
}

NETNS=1
site_ip() {
	local n
	case $1 in alpha) n=1 ;; bravo) n=2 ;; charlie) n=3 ;; esac
	if [ $NETNS = 1 ]; then echo "10.44.0.$n"; else echo "127.0.0.$n"; fi
}

# in_site SITE CMD...: run CMD in the site's network namespace (if any)
in_site() {
	local s=$1
	shift
	if [ $NETNS = 1 ]; then ip netns exec "gr-$s" "$@"; else "$@"; fi
}

cleanup_sites() {
	local s
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	for s in $SITES; do
		# a killed site's volume is still primary in this shared kernel,
		# its quorum writes waiting for a commit that will never come:
		# let them complete locally so that the unmount can finish
		georepctl volume set "$s.$VOL" --commit-rule local >/dev/null 2>&1
		umount "$T/mnt-$s" 2>/dev/null
		ip netns del "gr-$s" 2>/dev/null
	done
	[ $NETNS = 1 ] || /sbin/tc qdisc del dev lo root 2>/dev/null
}
show_logs() {
	local s
	for s in $SITES; do
		[ -f "$T/$s.log" ] || continue
		echo "# ---- $s ----"
		tail -n 25 "$T/$s.log" | sed 's/^/# /'
	done
}
trap 'show_logs; cleanup_sites; vt_cleanup' EXIT

# A full mesh of veth pairs (the lab has no bridge module): each site owns
# 10.44.0.N/32 on lo and reaches each peer through its own veth, delayed
# 5 ms by netem on both ends.
network() {
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
			ip netns exec "gr-$a" /sbin/tc qdisc add dev "to-$b" root netem \
				delay 5ms || return 1
		done
	done
	ip netns exec gr-alpha ping -c 2 -W 2 "$(site_ip charlie)" &&
		ip netns exec gr-bravo ping -c 2 -W 2 "$(site_ip charlie)" || return 1
	# georepd talks to georep.ko over generic netlink, which the module
	# may serve in the initial namespace only (family without netnsok)
	if ! ip netns exec gr-alpha georepctl status >/dev/null 2>&1; then
		echo "georep generic netlink is not reachable from a network namespace:"
		echo "falling back to one namespace, sites on 127.0.0.1-3, netem 5 ms on lo"
		for a in $SITES; do
			ip netns del "gr-$a"
		done
		NETNS=0
		/sbin/tc qdisc add dev lo root netem delay 5ms || return 1
	fi
}

volumes() {
	local s first=""
	for s in $SITES; do
		eval "D_$s=\$(vt_loop data-$s 256)" || return 1
		eval "L_$s=\$(vt_loop log-$s 128)" || return 1
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

config() {
	cat >"$T/cluster.json" <<JSON
{
  "cluster": "sites",
  "sites": [
    {"name": "alpha", "region": "eu", "site_id": 1, "address": "$(site_ip alpha):$PORT"},
    {"name": "bravo", "region": "us", "site_id": 2, "address": "$(site_ip bravo):$PORT"},
    {"name": "charlie", "region": "ap", "site_id": 3, "address": "$(site_ip charlie):$PORT"}
  ],
  "volumes": [
    {"name": "$VOL", "commit_rule": "quorum", "quorum_loss": "suspend",
     "replicas": {
       "alpha": {"data": "$D_alpha", "log": "$L_alpha"},
       "bravo": {"data": "$D_bravo", "log": "$L_bravo"},
       "charlie": {"data": "$D_charlie", "log": "$L_charlie"}}}
  ]
}
JSON
	georepctl config check "$T/cluster.json"
}

start_site() {
	local env="GEOREPD_ELECTION_MS=${GEOREPD_ELECTION_MS:-3000}"
	mkdir -p "$T/state-$1"
	# $! must be georepd itself (ip netns exec and env exec it)
	if [ $NETNS = 1 ]; then
		ip netns exec "gr-$1" env "$env" georepd --config "$T/cluster.json" \
			--site "$1" --state-dir "$T/state-$1" --foreground --verbose \
			--ledger kernel 2>>"$T/$1.log" &
	else
		env "$env" georepd --config "$T/cluster.json" --site "$1" \
			--state-dir "$T/state-$1" --foreground --verbose --ledger kernel \
			2>>"$T/$1.log" &
	fi
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
}

# the site whose kernel volume the daemons made primary (one only), or nothing
primary_site() {
	local s found=""
	for s in $SITES; do
		[ -n "${DEAD:-}" ] && [ "$s" = "$DEAD" ] && continue
		if georepctl status "$s.$VOL" --json 2>/dev/null | grep -q '"role": "primary"'; then
			[ -n "$found" ] && return 1
			found=$s
		fi
	done
	[ -n "$found" ] && echo "$found"
}

# wait_primary SEC: the primary site once there is exactly one
wait_primary() {
	local end=$(($(date +%s) + $1)) p
	while [ "$(date +%s)" -le "$end" ]; do
		p=$(primary_site) && [ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

elect() {
	local s
	for s in $SITES; do
		start_site "$s"
	done
	P=$(wait_primary 30) || { tail -n 30 "$T"/*.log; return 1; }
	echo "primary: $P"
	georepctl status
}

fill() {
	local dev=/dev/georep/$P.$VOL i
	mkfs.ext4 -q -F "$dev" || return 1
	mkdir -p "$T/mnt-$P" && mount "$dev" "$T/mnt-$P" || return 1
	for i in 1 2 3 4 5 6; do
		head -c $((i * 1000000)) /dev/urandom >"$T/mnt-$P/f$i" || return 1
	done
	sync || return 1
	(cd "$T/mnt-$P" && sha256sum f*) >"$T/sums" || return 1
	cat "$T/sums"
}

kill_primary() {
	local t0 t1 s
	eval "kill -9 \$PID_$P"
	for s in $SITES; do
		[ $NETNS = 1 ] && [ "$s" != "$P" ] && ip -n "gr-$P" link set "to-$s" down
	done
	DEAD=$P
	t0=$(date +%s.%N)
	NEWP=$(wait_primary $FAILOVER_MAX_S) || { tail -n 30 "$T"/*.log; return 1; }
	t1=$(date +%s.%N)
	echo "failover $P -> $NEWP in $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s"
	georepctl status
}

mount_new() {
	mkdir -p "$T/mnt-$NEWP"
	mount "/dev/georep/$NEWP.$VOL" "$T/mnt-$NEWP" || return 1
	(cd "$T/mnt-$NEWP" && sha256sum -c "$T/sums")
}

echo "KTAP version 1"
echo "1..7"
check network network || exit 1
check volumes volumes || exit 1
check config config || exit 1
check leader_elected_volume_primary elect || exit 1
check mkfs_and_fill_at_primary fill || exit 1
check kill_primary_site_new_primary kill_primary || exit 1
check mount_at_new_primary_checksums mount_new
[ $failed = 0 ]
