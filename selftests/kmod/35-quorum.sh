#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The quorum commit rule: a write is durable in the log (written_seq moves)
# but does not complete until commit_seq covers its record, and completes
# right after `georepctl volume set --commit-seq`. Back to local, writes
# complete at once.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol35

V=vol35-$$
VT_VOLS=$V
echo "    1..5"

setup() {
	DATA=$(vt_loop data 64) && LOG=$(vt_loop log 32) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --commit-rule quorum --key-dir "$KEYS"
}

# a direct write in the background; its pid in $WPID
bg_write() {
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek="$1" oflag=direct \
	   status=none &
	WPID=$!
}

waits_for_commit() {
	local w c i
	bg_write 10
	for i in $(seq 1 50); do
		[ "$(vt_num "$V" written_seq)" -ge 1 ] && break
		sleep 0.1
	done
	sleep 2
	w=$(vt_num "$V" written_seq)
	c=$(vt_num "$V" commit_seq)
	echo "written_seq $w commit_seq $c uncommitted $(vt_num "$V" uncommitted_bytes)"
	[ "$w" = 1 ] || { echo "record not written"; return 1; }
	kill -0 $WPID 2>/dev/null || { echo "the write completed without a commit"; return 1; }
}

completes_on_commit() {
	local i t0 t1
	t0=$(date +%s%N)
	georepctl volume set "$V" --commit-seq 1 || return 1
	for i in $(seq 1 100); do
		kill -0 $WPID 2>/dev/null || break
		sleep 0.05
	done
	t1=$(date +%s%N)
	echo "completed $(( (t1 - t0) / 1000000 )) ms after the commit"
	kill -0 $WPID 2>/dev/null && { echo "still waiting"; return 1; }
	wait $WPID && [ "$(vt_num "$V" uncommitted_bytes)" = 0 ]
}

partial_commit() {
	# two writers; commit only the first record
	bg_write 20
	local p1=$WPID i
	for i in $(seq 1 50); do
		[ "$(vt_num "$V" written_seq)" -ge 2 ] && break
		sleep 0.1
	done
	bg_write 21
	local p2=$WPID
	for i in $(seq 1 50); do
		[ "$(vt_num "$V" written_seq)" -ge 3 ] && break
		sleep 0.1
	done
	georepctl volume set "$V" --commit-seq 2 || return 1
	wait $p1 || return 1
	sleep 1
	kill -0 $p2 2>/dev/null || { echo "record 3 completed without a commit"; return 1; }
	georepctl volume set "$V" --commit-seq 3 || return 1
	wait $p2
}

local_again() {
	bg_write 30
	sleep 1
	georepctl volume set "$V" --commit-rule local || return 1
	wait $WPID || return 1
	timeout 10 dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=4 seek=40 \
		oflag=direct status=none
}

vt_check "primary with the quorum rule" setup
vt_check "a write waits for the commit index" waits_for_commit
vt_check "it completes right after commit_seq covers it" completes_on_commit
vt_check "only covered records complete" partial_commit
vt_check "back to local: waiting writes complete, new ones at once" local_again
vt_done
