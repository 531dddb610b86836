#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Write admission decided by ebpf/admit.bpf.c on the writable raw
# tracepoint georep:georep_admit, loaded by georepd --bpf on (libbpf, on
# this 6.1 kernel). One standalone volume, commit rule local, nothing
# committed while a step writes, so the uncommitted bytes (the consensus
# queue) grow with every write; max_uncommitted is 4 MiB, a 4 KiB write
# takes 8 KiB of log.
#
#   1. without the program: 200 O_DIRECT writes at 60-100% pressure, timed
#   2. georepd attaches the program (georepctl bpf status: attached)
#   3. below the start (25%) nothing is delayed
#   3b. the rate rule: with the commit point moved on at a set pace, the
#      queue grows to max_uncommitted with the program detached and stays
#      well below it attached (writes held to the measured commit rate)
#   3c. a burst into an idle volume is held to an assumed rate for its
#      first second, until the commit rate is known (here it never is:
#      after that second the rule stands aside)
#   3d. a volume georepd does not serve is not judged by its program
#   4. the same 200 writes as 1: every one delayed, the total delay shows
#      in the elapsed time; counters move
#   5. O_DIRECT|O_DSYNC (FUA) writes are never delayed
#   6. throttled at max_uncommitted: a FUA write passes while an O_DIRECT
#      writer waits (the fsync ahead of the background writes)
#   7. georepd gone (kill -9): the tracepoint is off, the same FUA write
#      waits like every other (today's rules), and all resume on commit
#   8. georepd again; its volume deleted and created again under another
#      minor: the program follows the new minor, and drops the old one,
#      now another volume's (before, it kept judging the old minor)

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol59

V=vol59-$$
VT_VOLS=$V
DPID=
echo "    1..12"

cleanup59() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	vt_cleanup
}
trap cleanup59 EXIT

commit_all() {
	georepctl volume set "$V" --commit-seq "$(vt_num "$V" written_seq)"
}

# dwrite COUNT [FLAGS]: COUNT 4 KiB writes at block offset $SEEK
SEEK=0
dwrite() {
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count="$1" seek=$SEEK \
		oflag=direct${2:+,$2} status=none
	SEEK=$(( (SEEK + $1) % 14000 ))
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# stat KEY: the admit counter KEY (of this test's only volume)
stat() {
	local n
	n=$(georepctl bpf status --json --socket "$T/a.sock" |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
	echo "${n:-0}"
}

setup() {
	DATA=$(vt_loop data 64) && LOG=$(vt_loop log 32) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --high-wm 90 --low-wm 80 \
		--max-uncommitted $((4 << 20)) --key-dir "$KEYS" || return 1
	cat >"$T/c.json" <<EOC
{"cluster": "t59", "sites": [{"name": "a", "region": "r", "address": "127.0.0.1:17459"}],
 "volumes": [{"name": "$V", "commit_rule": "local",
	      "replicas": {"a": {"data": "$DATA", "log": "$LOG"}}}]}
EOC
}

# prefill to 60% of max_uncommitted (307 writes of 8 KiB of log), then
# time 200 more (to ~99%); prints the elapsed ms
timed_run() {
	local t0
	commit_all || return 1
	dwrite 307 || return 1
	t0=$(now_ms)
	dwrite 200 || return 1
	echo $(( $(now_ms) - t0 ))
}

without_program() {
	OFF_MS=$(timed_run) || return 1
	echo "200 writes at 60-99% pressure without the program: $OFF_MS ms"
	commit_all
}

attach() {
	georepd -c "$T/c.json" -s a -d "$T/st" -S "$T/a.sock" -f -L none --insecure-plaintext \
		--bpf on 2>"$T/georepd.err" &
	DPID=$!
	for _ in $(seq 1 100); do
		[ -S "$T/a.sock" ] && break
		kill -0 $DPID 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/georepd.err"
	georepctl bpf status --socket "$T/a.sock" &&
	georepctl bpf status --json --socket "$T/a.sock" | grep -q '"attached": *true'
}

below_start() {
	sleep 1.5		# georepd's lag-map pass names the minor
	commit_all || return 1
	dwrite 100 || return 1	# 800 KiB: 20% of the budget
	georepctl bpf status --socket "$T/a.sock"
	echo "calls $(stat calls) delayed $(stat delayed)"
	[ "$(stat calls)" -ge 100 ] && [ "$(stat delayed)" = 0 ]
}

# the same prefill and 200 timed writes as timed_run, the program's
# counters taken over the 200 alone
with_program() {
	local d0 us0 on_ms d us t0
	commit_all && dwrite 307 || return 1
	d0=$(stat delayed)
	us0=$(stat delay_us_total)
	t0=$(now_ms)
	dwrite 200 || return 1
	on_ms=$(( $(now_ms) - t0 ))
	d=$(( $(stat delayed) - d0 ))
	us=$(( $(stat delay_us_total) - us0 ))
	echo "200 writes at 60-99% pressure with the program: $on_ms ms (without: $OFF_MS ms)"
	echo "delayed $d writes (sync $(stat delayed_sync)), total delay $((us / 1000)) ms," \
	     "pressure now $(stat pressure_permille)/1000"
	echo "uncommitted $(vt_num "$V" uncommitted_bytes) of $((4 << 20)), throttled: $(vt_true "$V" throttled && echo yes || echo no)"
	# all 200 timed ones
	[ "$d" -ge 200 ] && [ "$us" -gt 0 ] &&
	# the delays are real sleeps: at least half of them show in the time
	[ $(( on_ms - OFF_MS )) -ge $(( us / 2000 )) ]
}

# The rate rule, against a commit point that moves at a set pace: a
# committer moves commit_seq on by PACE_RECS records (8 KiB of log each)
# per turn of its loop (two georepctl calls and 0.1 s: some 300 KB/s in
# TCG) while a writer writes 4 KiB O_DIRECT as fast as it can, 12 s;
# QMAX_<name>: the largest queue after the first 3 s. Detached, the
# queue grows to max_uncommitted and the watermarks throttle; attached,
# the program measures the pace and holds the queue near target_queue_ms
# of it (O_DIRECT is REQ_SYNC: it waits a quarter, so about four times
# that)
PACE_RECS=12
committer() {
	local c w
	c=$(vt_num "$V" commit_seq)
	while :; do
		w=$(vt_num "$V" written_seq)
		c=$((c + PACE_RECS))
		[ "$c" -gt "$w" ] && c=$w
		georepctl volume set "$V" --commit-seq "$c" >/dev/null 2>&1
		sleep 0.1
	done
}

paced_round() {
	local cp wp i q max=0 c0 t0
	commit_all || return 1
	c0=$(vt_num "$V" commit_seq)
	t0=$(now_ms)
	committer &
	cp=$!
	rm -f "$T/stop"
	(while [ ! -e "$T/stop" ] && dwrite 50; do :; done) &
	wp=$!
	for i in $(seq 1 24); do
		sleep 0.5
		q=$(vt_num "$V" uncommitted_bytes)
		[ "$i" -gt 6 ] && [ "${q:-0}" -gt "$max" ] && max=$q
		echo "$((${q:-0} >> 10))" >>"$T/queue-$1"
	done
	# the writer ends its last dd while the commit point still moves (a
	# dd left running would write on into the steps after this one)
	touch "$T/stop"
	wait $wp
	kill $cp
	wait $cp 2>/dev/null
	echo "$1: commit paced at $(( ($(vt_num "$V" commit_seq) - c0) * 8192 * 1000 /
		($(now_ms) - t0) )) bytes/s; queue every 0.5 s (KiB):" \
	     "$(tr '\n' ' ' <"$T/queue-$1")"
	commit_all
	eval "QMAX_$1=$max"
}

rate_rule() {
	local h0
	georepctl bpf detach --socket "$T/a.sock" >/dev/null || return 1
	paced_round detached || return 1
	georepctl bpf attach --socket "$T/a.sock" >/dev/null || return 1
	h0=$(stat rate_delayed)
	paced_round attached || return 1
	georepctl bpf status --socket "$T/a.sock"
	echo "largest queue after 3 s: detached $((QMAX_detached >> 10)) KiB," \
	     "attached $((QMAX_attached >> 10)) KiB; held to the commit rate:" \
	     "$(( $(stat rate_delayed) - h0 )) writes"
	sleep 2.5	# the program's measurement goes stale: later steps start afresh
	[ $(( $(stat rate_delayed) - h0 )) -gt 0 ] &&
		[ "$QMAX_detached" -ge $((3 << 20)) ] &&
		[ $((QMAX_attached * 2)) -lt "$QMAX_detached" ]
}

# A burst into an idle volume (the measurement went stale after
# rate_rule): no commit rate is known yet, so for its first second the
# rate rule assumes the one at which start_pm of the budget (1 MiB) is
# target_queue_ms of queue (2 MB/s) and holds the writes past 1 MiB to it
# (learn_delayed); this volume's commit point does not move, so after that
# second the rule stands aside (no more learn_delayed) and the pressure
# rule alone delays. 256 writes of 8 KiB of log: 2 MiB, 50%, into an
# emptied log.
burst_learning() {
	local l0 l1 t0 ms
	# the log emptied too: its fill, not the queue, would make the pressure
	commit_all && georepctl ledger release "$V" "$(vt_num "$V" commit_seq)" || return 1
	l0=$(stat learn_delayed)
	t0=$(now_ms)
	dwrite 256 || return 1
	ms=$(( $(now_ms) - t0 ))
	l1=$(stat learn_delayed)
	echo "256 writes from idle in $ms ms, $((l1 - l0)) held while the rate was measured;" \
	     "uncommitted $(vt_num "$V" uncommitted_bytes)"
	georepctl bpf status --socket "$T/a.sock" | tail -n 1
	[ $((l1 - l0)) -gt 0 ] || return 1
	# the first second is over (the measurement goes stale after 2 s
	# without writes, and would start again)
	sleep 1.2
	dwrite 20 || return 1
	echo "20 more after the first second: $(( $(stat learn_delayed) - l1 )) held as learning," \
	     "delayed $(stat delayed) in all"
	[ "$(stat learn_delayed)" = "$l1" ] && commit_all
}

# a volume this georepd does not serve (another daemon's: another
# cluster's, or another site's where sites share a kernel) is left to its
# own daemon's program: 40 writes to it, none seen here (before, every
# program judged every volume of the kernel)
other_volume_untouched() {
	local w=vol59w-$$ d l m
	d=$(vt_loop wdata 16) && l=$(vt_loop wlog 16) || return 1
	georepctl volume create "$w" --data "$d" --log "$l" --format --role primary \
		--term 1 --key-dir "$KEYS" >/dev/null || return 1
	VT_VOLS="$VT_VOLS $w"
	m=$(vt_num "$w" minor)
	dd if=/dev/urandom of="/dev/georep/$w" bs=4k count=40 oflag=direct status=none ||
		return 1
	echo "volume $w, minor $m: the program lists minors" \
	     "$(georepctl bpf status --json --socket "$T/a.sock" |
		grep -o '"minor":[0-9]*' | cut -d: -f2 | tr '\n' ' ')"
	! georepctl bpf status --json --socket "$T/a.sock" | grep -q "\"minor\":$m,"
	local rc=$?
	georepctl volume delete "$w" >/dev/null
	VT_VOLS=$V
	return $rc
}

fua_not_delayed() {
	local d0 s0
	d0=$(stat delayed)
	s0=$(stat sync)
	dwrite 20 dsync || return 1
	echo "sync $(( $(stat sync) - s0 )) more, delayed $(( $(stat delayed) - d0 )) more"
	[ "$(stat delayed)" = "$d0" ] && [ $(( $(stat sync) - s0 )) -ge 20 ]
}

# after with_program, ~3.9 MiB uncommitted: 40 more writes pass the limit
fua_passes_throttle() {
	local p0 i
	dwrite 40 &
	WPID=$!
	for i in $(seq 1 50); do
		vt_true "$V" throttled && break
		sleep 0.2
	done
	vt_true "$V" throttled || { echo "not throttled"; return 1; }
	p0=$(stat passed)
	timeout 20 dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek=15000 \
		oflag=direct,dsync status=none || { echo "FUA write did not pass"; return 1; }
	echo "passed $(( $(stat passed) - p0 )) FUA write while throttled"
	kill -0 $WPID 2>/dev/null || { echo "the O_DIRECT writer was not held"; return 1; }
	[ $(( $(stat passed) - p0 )) -ge 1 ]
}

unchanged_without() {
	local fpid i
	kill -9 $DPID
	wait $DPID 2>/dev/null
	DPID=
	sleep 0.5
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek=15001 \
		oflag=direct,dsync status=none &
	fpid=$!
	sleep 3
	kill -0 $fpid 2>/dev/null || { echo "FUA write passed without the program"; return 1; }
	kill -0 $WPID 2>/dev/null || { echo "the O_DIRECT writer finished"; return 1; }
	commit_all || return 1
	for i in $(seq 1 100); do
		if ! kill -0 $fpid 2>/dev/null && ! kill -0 $WPID 2>/dev/null; then
			break
		fi
		commit_all
		sleep 0.2
	done
	wait $fpid && wait $WPID
}

# the minors the admit program judged writes of
admit_minors() {
	georepctl bpf status --json --socket "$T/a.sock" |
		grep -o '"minor": *[0-9]*' | grep -o '[0-9]*$' | tr '\n' ' '
}

# listed VOL...: one write to each VOL, until the program lists VOL's
# minor (georepd names it within a second); up to 6 s
listed() {
	local i
	for i in $(seq 1 30); do
		dd if=/dev/urandom of="/dev/georep/$1" bs=4k count=1 oflag=direct \
			status=none || return 1
		[ -n "${2:-}" ] && { dd if=/dev/urandom of="/dev/georep/$2" bs=4k count=1 \
			oflag=direct status=none || return 1; }
		[[ " $(admit_minors) " == *" $(vt_num "$1" minor) "* ]] && return 0
		sleep 0.2
	done
	return 1
}

recreated_volume_followed() {
	local w=vol59r-$$ d l m1 m2
	rm -f "$T/a.sock"
	attach >/dev/null || return 1
	listed "$V"
	m1=$(vt_num "$V" minor)
	echo "$V is minor $m1; the program lists minors $(admit_minors)"
	d=$(vt_loop rdata 16) && l=$(vt_loop rlog 16) || return 1
	georepctl volume delete "$V" >/dev/null || return 1
	# the lowest free minor, $m1, goes to another volume
	georepctl volume create "$w" --data "$d" --log "$l" --format --role primary \
		--term 1 --key-dir "$KEYS" >/dev/null || return 1
	VT_VOLS="$V $w"
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --key-dir "$KEYS" >/dev/null || return 1
	m2=$(vt_num "$V" minor)
	echo "$w is minor $(vt_num "$w" minor), $V is now minor $m2"
	[ "$(vt_num "$w" minor)" = "$m1" ] && [ "$m2" != "$m1" ] || return 1
	listed "$V" "$w"
	echo "after writes to both, the program lists minors $(admit_minors)"
	[[ " $(admit_minors) " == *" $m2 "* ]] && [[ " $(admit_minors) " != *" $m1 "* ]]
}

vt_check setup setup
vt_check without-program without_program
vt_check attached-on-6.1 attach
vt_check below-start-not-delayed below_start
vt_check rate-rule-holds-the-queue rate_rule
vt_check burst-held-until-rate-known burst_learning
vt_check other-daemons-volume-untouched other_volume_untouched
vt_check smooth-delay with_program
vt_check fua-not-delayed fua_not_delayed
vt_check fua-passes-throttle fua_passes_throttle
vt_check unchanged-without-program unchanged_without
vt_check recreated-volume-followed recreated_volume_followed
vt_done
