#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# eBPF on this host (no VM): the programs of ebpf/ are built as BPF objects
# and skeletons, georepd loads them through libbpf (the verifier of this
# kernel accepts them), reports what it could not attach with libbpf's
# reason, and leaves nothing behind after kill -9. georep.ko is not loaded
# here, so the admit program loads but its tracepoint is missing; where the
# module is loaded it must attach. KTAP; exit 4 (skip) without root or BPF.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/user/bin
obj=$top/build/user/ebpf
work=$(mktemp -d /tmp/georep-ebpf.XXXXXX)
pid=
n=0
failed=0

cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=1
	fi
}

echo "KTAP version 1"
if [ "$(id -u)" != 0 ] || ! command -v bpftool >/dev/null ||
   ! bpftool prog show >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root and bpftool with a working bpf()"
	exit 4
fi
echo "1..8"

nprogs() { bpftool prog show 2>/dev/null | grep -c 'name georep_admit'; }
have_tp=0
grep -qw georep_admit /proc/kallsyms 2>/dev/null && have_tp=1

# 1. objects: a BPF ELF per program and its skeleton, no raw bpf() calls
readelf -h "$obj/admit.bpf.o" 2>/dev/null | grep -q 'Machine:.*BPF' &&
	grep -q 'georep_admit__open' "$obj/admit.skel.h" &&
	! grep -rn 'syscall(__NR_bpf\|SYS_bpf' "$top/user" >/dev/null
ok $? "ebpf objects and skeletons built, loaded only through libbpf"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/c.json" <<EOC
{"cluster": "ebpf", "sites": [{"name": "a", "region": "r", "address": "127.0.0.1:$port"}],
 "volumes": [{"name": "v0", "commit_rule": "local",
	      "replicas": {"a": {"data": "/dev/georep-none-d", "log": "/dev/georep-none-l"}}}]}
EOC
start() {
	"$bin/georepd" -c "$work/c.json" -s a -d "$work/st" -S "$work/a.sock" -f \
		-L none --insecure-plaintext "$@" 2>"$work/err" &
	pid=$!
	for _ in $(seq 50); do
		[ -S "$work/a.sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop() {
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	rm -f "$work/a.sock"
}

# 2. --bpf auto: loaded; attached exactly when the tracepoint exists
base=$(nprogs)
start --bpf auto
js=$("$bin/georepctl" bpf status --json --socket "$work/a.sock")
echo "# $js"
python3 - "$have_tp" "$js" <<'EOP'
import json, sys
have_tp, st = sys.argv[1] == "1", json.loads(sys.argv[2])
p = st["programs"][0]
ok = st["mode"] == "auto" and p["name"] == "admit" and p["loaded"] is True
if have_tp:
    ok = ok and p["attached"] is True and p["prog_id"] > 0
else:
    ok = ok and p["attached"] is False and "georep_admit" in p["error"] \
        and "No such file" in p["error"]
sys.exit(0 if ok else 1)
EOP
ok $? "--bpf auto: admit loaded by this kernel's verifier, attach state and reason reported"

# 3. the text form says the same
txt=$("$bin/georepctl" bpf status --socket "$work/a.sock")
echo "$txt" | sed 's/^/# | /'
echo "$txt" | grep -q '^mode: auto' &&
	echo "$txt" | grep -q '^admit (raw_tp.w/georep_admit): '
ok $? "georepctl bpf status (text)"

# 4. attach on request: refused here without the tracepoint, with the reason
if [ $have_tp = 1 ]; then
	"$bin/georepctl" bpf detach --socket "$work/a.sock" >"$work/out" &&
		grep -q '"attached": *false' "$work/out" &&
		"$bin/georepctl" bpf attach --socket "$work/a.sock" >"$work/out" &&
		grep -q '"attached": *true' "$work/out"
else
	! "$bin/georepctl" bpf attach --socket "$work/a.sock" 2>"$work/out" &&
		grep -q 'georep_admit.*No such file' "$work/out"
fi
rc=$?
sed 's/^/# /' "$work/out"
ok $rc "georepctl bpf attach/detach"

# 5. kill -9 leaves no program behind (the links and fds were the process's)
[ "$(nprogs)" -gt "$base" ]
loaded=$?
stop
sleep 0.5
[ $loaded = 0 ] && [ "$(nprogs)" = "$base" ]
ok $? "kill -9: the program was loaded ($base before) and is gone after"

# 6. --bpf on: refuses to start when the program cannot attach
if [ $have_tp = 1 ]; then
	n=$((n + 1))
	echo "ok $n --bpf on refuses to start without the tracepoint # SKIP georep.ko is loaded"
else
	"$bin/georepd" -c "$work/c.json" -s a -d "$work/st" -S "$work/a.sock" -f \
		-L none --insecure-plaintext --bpf on 2>"$work/err"
	rc=$?
	sed 's/^/# /' "$work/err"
	[ $rc = 1 ] && grep -q "failed to attach to raw tracepoint 'georep_admit'" "$work/err"
	ok $? "--bpf on refuses to start without the tracepoint, with libbpf's reason"
fi

# 7. --bpf off (the default): nothing loaded
start
js=$("$bin/georepctl" bpf status --json --socket "$work/a.sock")
echo "# $js"
[ "$js" = '{"mode":"off","programs":[]}' ] && [ "$(nprogs)" = "$base" ]
ok $? "default --bpf off: no program loaded"
stop

# 8. a bad mode is a usage error
"$bin/georepd" -c "$work/c.json" -s a --bpf yes 2>"$work/err"
rc=$?
[ $rc = 2 ] && grep -q 'off, auto or on' "$work/err"
ok $? "--bpf yes: usage error"

exit $failed
