#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The io state (VOLUME_SET IO_STATE, `georepctl volume set --io-state`),
# Documentation/write-path.rst "Io state and demotion":
#
#  - suspend holds a new write before it gets a seq (no record), run
#    releases it and it is ordered as usual;
#  - fail on a quorum primary: a write waiting for its commit completes with
#    EIO at once (its record stays in the log), new writes fail with EIO;
#  - status (text and json) shows the state; a bad value is refused by the
#    policy with an extack message;
#  - a demoted primary's write waiting for a commit stays pending and
#    completes OK once commit_seq covers it; a write suspended across the
#    demotion fails with EIO when set back to run.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol46
# writers a failed check left suspended or waiting: fail them first
trap 'georepctl volume set "$V" --io-state fail >/dev/null 2>&1; vt_cleanup' EXIT

V=vol46-$$
VT_VOLS=$V
echo "    1..10"

# vt_str VOL KEY: a string of `georepctl status VOL --json`
vt_str() {
	georepctl status "$1" --json | sed -n "s/.*\"$2\": \"\([a-z]*\)\".*/\1/p"
}

setup() {
	DATA=$(vt_loop data 64) && LOG=$(vt_loop log 32) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --commit-rule quorum --key-dir "$KEYS" || return 1
	[ "$(vt_str "$V" io_state)" = run ] || { echo "io_state not run after create"; return 1; }
}

# bg_write BLOCK: a direct 4 KiB write in the background; pid in $WPID,
# exit status in $T/rc.BLOCK once it ends
bg_write() {
	rm -f "$T/rc.$1"
	( dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek="$1" \
	     oflag=direct status=none; echo $? >"$T/rc.$1" ) &
	WPID=$!
}

# wait_done BLOCK SEC: the background write of BLOCK ended within SEC
wait_done() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		[ -s "$T/rc.$1" ] && return 0
		sleep 0.1
	done
	echo "write of block $1 still running after $2 s"
	return 1
}

# wait_written SEQ: written_seq reaches SEQ within 10 s
wait_written() {
	local i
	for i in $(seq 1 100); do
		[ "$(vt_num "$V" written_seq)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "written_seq $(vt_num "$V" written_seq) < $1"
	return 1
}

suspend_holds() {
	georepctl volume set "$V" --io-state suspend || return 1
	bg_write 10
	sleep 2
	georepctl status "$V"
	[ ! -s "$T/rc.10" ] || { echo "the write ended while suspended"; return 1; }
	[ "$(vt_num "$V" written_seq)" = 0 ] || { echo "a record was made"; return 1; }
	[ "$(vt_str "$V" io_state)" = suspend ]
}

run_releases() {
	georepctl volume set "$V" --io-state run || return 1
	wait_written 1 || return 1
	# quorum: ordered, now waiting for its commit
	sleep 0.5
	[ ! -s "$T/rc.10" ] || { echo "completed without a commit"; return 1; }
	georepctl volume set "$V" --commit-seq 1 || return 1
	wait_done 10 5 || return 1
	[ "$(cat "$T/rc.10")" = 0 ] || { echo "dd failed"; return 1; }
}

fail_waiting() {
	local t0 t1
	bg_write 20
	wait_written 2 || return 1
	sleep 0.5
	[ ! -s "$T/rc.20" ] || { echo "completed without a commit"; return 1; }
	t0=$(date +%s%N)
	georepctl volume set "$V" --io-state fail || return 1
	wait_done 20 5 || return 1
	t1=$(date +%s%N)
	echo "dd ended $(( (t1 - t0) / 1000000 )) ms after fail, status $(cat "$T/rc.20")"
	[ "$(cat "$T/rc.20")" != 0 ] || { echo "the waiting write succeeded"; return 1; }
	# the record stays: EIO means unknown outcome
	[ "$(vt_num "$V" written_seq)" = 2 ] || { echo "written_seq moved"; return 1; }
	georepctl ledger dump "$V" --from 2 | grep -q '^2 '
}

fail_new_writes() {
	if dd if=/dev/zero of="/dev/georep/$V" bs=4k count=1 seek=30 oflag=direct \
	      status=none; then
		echo "a new write succeeded under fail"
		return 1
	fi
	[ "$(vt_num "$V" written_seq)" = 2 ] || { echo "a record was made"; return 1; }
}

status_shows() {
	georepctl status "$V" | tee "$T/st"
	[ "$(vt_str "$V" io_state)" = fail ] || return 1
	# the IO column (counted from the end: LOG USED/SIZE is two words in
	# the header, one in a row)
	awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "IO") c = NF - i }
	     NR == 2 { exit !(c != "" && $(NF - c) == "fail") }' "$T/st"
}

bad_value() {
	if georepctl volume set "$V" --io-state stop 2>"$T/err"; then
		echo "--io-state stop accepted"
		return 1
	fi
	cat "$T/err"
	grep -q "run, suspend or fail" "$T/err" || return 1
	# the kernel's policy (ERANGE, extack "integer out of range")
	command -v georep-nl-abi >/dev/null || { echo "no georep-nl-abi"; return 1; }
	georep-nl-abi >"$T/abi" 2>&1
	grep "io state" "$T/abi"
	grep -q "^ok [0-9]* set: io state 3" "$T/abi"
}

back_to_run() {
	georepctl volume set "$V" --io-state run --commit-seq 2 || return 1
	dd if=/dev/zero of="/dev/georep/$V" bs=4k count=1 seek=30 oflag=direct \
	   status=none &
	WPID=$!
	wait_written 3 || return 1
	georepctl volume set "$V" --commit-seq 3 || return 1
	wait $WPID
}

demoted_waits_for_commit() {
	bg_write 40
	wait_written 4 || return 1
	georepctl volume set "$V" --role secondary --term 2 || return 1
	sleep 1
	georepctl status "$V"
	[ ! -s "$T/rc.40" ] || { echo "completed at demotion (rc $(cat "$T/rc.40"))"; return 1; }
	# the new primary committed the same record
	georepctl volume set "$V" --commit-seq 4 || return 1
	wait_done 40 5 || return 1
	[ "$(cat "$T/rc.40")" = 0 ] || { echo "dd failed"; return 1; }
}

suspended_demoted_fails() {
	georepctl volume set "$V" --role primary --term 3 || return 1
	georepctl volume set "$V" --io-state suspend || return 1
	bg_write 50
	sleep 1
	georepctl volume set "$V" --role secondary --term 4 || return 1
	[ ! -s "$T/rc.50" ] || { echo "ended while suspended"; return 1; }
	georepctl volume set "$V" --io-state run || return 1
	wait_done 50 5 || return 1
	echo "dd status $(cat "$T/rc.50"), written_seq $(vt_num "$V" written_seq)"
	[ "$(cat "$T/rc.50")" != 0 ] && [ "$(vt_num "$V" written_seq)" = 4 ]
}

vt_check "quorum primary, io_state run" setup
vt_check "suspend holds a write, no record" suspend_holds
vt_check "run releases it, ordered, completes on commit" run_releases
vt_check "fail: the write waiting for a commit gets EIO, record kept" fail_waiting
vt_check "fail: new writes get EIO, no record" fail_new_writes
vt_check "status shows the io state (json and text)" status_shows
vt_check "bad io state refused (CLI, kernel policy)" bad_value
vt_check "back to run: writes work again" back_to_run
vt_check "demoted primary: a waiting write completes once committed" demoted_waits_for_commit
vt_check "suspended across a demotion: EIO on run" suspended_demoted_fails
vt_done
