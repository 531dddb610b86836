#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Routing to healthy sites (ebpf/route.bpf.c) on Debian's 6.1 kernel: the
# host test (selftests/ebpf/route.py) runs on this machine's newer kernel,
# this one shows that the program loads, attaches and acts on the target
# kernel. Three georepd --ledger mem on 127.0.0.1 (no device needed), one
# quorum volume with a service address 127.0.0.100:PS; busybox nc listeners
# on 127.0.0.1 answer their site's name (the backends) and "direct" on PS.
# Site b's georepd --bpf auto attaches the program to a cgroup made here;
# clients are bash /dev/tcp connects from a subshell moved into it.
#
#   1. route attached on 6.1 (georepctl bpf status)
#   2. a client in the cgroup reaches primary a's backend (switched over
#      to a when another site won); outside the cgroup it reaches "direct"
#   3. kill -9 a: after the election the next connect reaches the new
#      primary's backend
#   4. c killed too (b alone, no quorum): "Connection refused"
#   5. kill -9 b: nothing steers the cgroup's connects any more
#   6. --bpf on with a route_cgroup that is no cgroup: georepd exits 1 with
#      libbpf's reason (admit attaches here, so route is what fails)

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol61
echo "    1..6"

P0=17610	# replication ports P0+1..3, service P0+4, backends P0+5..7
CG=
PIDS=
declare -A DP

cleanup61() {
	local p
	for p in $PIDS "${DP[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$CG" ] && rmdir "$CG" 2>/dev/null
	vt_cleanup
}
trap cleanup61 EXIT

# client [cg]: connect to the service address, print the answer or the error
client() {
	(
		[ "${1:-}" = cg ] && echo $BASHPID >"$CG/cgroup.procs"
		exec 3<>/dev/tcp/127.0.0.100/$((P0 + 4)) && timeout 3 cat <&3
	) 2>&1 | tail -n 1
}

# what b's status says a connect gets now: a site name, or "refused"
target() {
	georepctl bpf status --socket "$T/b/b.sock" 2>/dev/null |
		sed -n 's/^  vol0 service [^ ]* -> \([^ ]*\) .*/\1/p'
}

start() {	# start SITE [ARGS]
	local s=$1
	shift
	mkdir -p "$T/$s"
	georepd -c "$T/c.json" -s "$s" -d "$T/$s" -f -L mem --insecure-plaintext "$@" \
		2>>"$T/$s.log" &
	DP[$s]=$!
}

kill9() {
	kill -9 "${DP[$1]}" && wait "${DP[$1]}" 2>/dev/null
	DP[$1]=
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (every 0.2 s)
wait_for() {
	local end=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge $end ] && return 1
		sleep 0.2
	done
}

setup() {
	local root rc
	root=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
	if [ -z "$root" ]; then
		root=$T/cg2
		mkdir -p "$root" && mount -t cgroup2 none "$root" || return 1
	fi
	CG=$root/georep-route-$$
	mkdir "$CG" || return 1
	cat >"$T/c.json" <<EOC
{"cluster": "t61",
 "sites": [{"name": "a", "region": "r", "address": "127.0.0.1:$((P0 + 1))"},
	   {"name": "b", "region": "r", "address": "127.0.0.1:$((P0 + 2))",
	    "route_cgroup": "$CG"},
	   {"name": "c", "region": "r", "address": "127.0.0.1:$((P0 + 3))"}],
 "volumes": [{"name": "vol0", "service": "127.0.0.100:$((P0 + 4))",
	      "replicas": {
		"a": {"data": "/dev/m-a", "log": "/dev/m-al", "backend": "127.0.0.1:$((P0 + 5))"},
		"b": {"data": "/dev/m-b", "log": "/dev/m-bl", "backend": "127.0.0.1:$((P0 + 6))"},
		"c": {"data": "/dev/m-c", "log": "/dev/m-cl", "backend": "127.0.0.1:$((P0 + 7))"}}}]}
EOC
	busybox nc -ll -p $((P0 + 4)) -e echo direct &
	PIDS="$PIDS $!"
	busybox nc -ll -p $((P0 + 5)) -e echo a &
	PIDS="$PIDS $!"
	busybox nc -ll -p $((P0 + 6)) -e echo b &
	PIDS="$PIDS $!"
	busybox nc -ll -p $((P0 + 7)) -e echo c &
	PIDS="$PIDS $!"
	start a
	start b --bpf auto
	start c
	wait_for 20 test -S "$T/b/b.sock" || return 1
	wait_for 10 sh -c "georepctl bpf status --socket '$T/b/b.sock' | grep -q '^route .*: attached'"
	rc=$?
	georepctl bpf status --socket "$T/b/b.sock"
	return $rc
}

is_target() { [ "$(target)" = "$1" ]; }
answers() { [ "$(client cg)" = "$1" ]; }

primary_a() {
	local t
	wait_for 30 sh -c "georepctl bpf status --socket '$T/b/b.sock' |
		grep -q '^  vol0 service [^ ]* -> [abc] '" || { target; return 1; }
	t=$(target)
	echo "first primary: $t"
	if [ "$t" != a ]; then
		georepctl switchover vol0 a --socket "$T/$t/$t.sock" || return 1
		wait_for 20 is_target a || { georepctl bpf status --socket "$T/b/b.sock"; return 1; }
	fi
	wait_for 5 answers a || { client cg; return 1; }
	echo "in the cgroup: $(client cg); outside: $(client)"
	[ "$(client)" = direct ]
}

after_kill() {
	local t0 t
	kill9 a
	t0=$(date +%s%N)
	wait_for 30 sh -c "georepctl bpf status --socket '$T/b/b.sock' |
		grep -q '^  vol0 service [^ ]* -> [bc] '" || { georepctl bpf status --socket "$T/b/b.sock"; return 1; }
	t=$(target)
	wait_for 5 answers "$t" || { client cg; return 1; }
	echo "kill -9 a -> $t's backend answers after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	georepctl bpf status --socket "$T/b/b.sock"
}

no_quorum() {
	kill9 c
	wait_for 10 sh -c "[ \"\$(georepctl bpf status --socket '$T/b/b.sock' |
		sed -n 's/^  vol0 service [^ ]* -> \([^ ]*\) .*/\1/p')\" = refused ]" || return 1
	georepctl bpf status --socket "$T/b/b.sock"
	client cg
	client cg | grep -q 'Connection refused'
}

gone_after_kill() {
	[ "$(client cg)" != direct ] || return 1
	kill9 b
	sleep 0.5
	echo "after kill -9 of b, in the cgroup: $(client cg)"
	[ "$(client cg)" = direct ]
}

bpf_on_fails() {
	local rc
	sed "s#\"route_cgroup\": \"$CG\"#\"route_cgroup\": \"$T\"#" "$T/c.json" >"$T/bad.json"
	grep -q "\"route_cgroup\": \"$T\"" "$T/bad.json" || return 1
	timeout 20 georepd -c "$T/bad.json" -s b -d "$T/b" -f -L mem --insecure-plaintext \
		--bpf on 2>"$T/on.err"
	rc=$?
	grep 'bpf' "$T/on.err"
	[ $rc = 1 ] && grep -q "route not attached (attach to cgroup $T: .*libbpf: " "$T/on.err" &&
		grep -q 'bpf on and the route program failed' "$T/on.err"
}

vt_check route-attached-on-6.1 setup
vt_check reaches-primary-a primary_a
vt_check after-kill-reaches-new-primary after_kill
vt_check no-quorum-connection-refused no_quorum
vt_check kill9-nothing-left gone_after_kill
vt_check bpf-on-route-failure-exits bpf_on_fails
vt_done
