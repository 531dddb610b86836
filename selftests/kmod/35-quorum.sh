#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The quorum commit rule: a write is durable in the log (written_seq moves)
# but does not complete until commit_seq covers its record, and completes
# right after `georepctl volume set --commit-seq`, or after the daemon's
# GEOREP_IOC_COMMIT_SEQ on the log stream (the same rules: never past the
# last record, never backwards, only on a file open for writing). Back to
# local, writes complete at once.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol35

V=vol35-$$
VT_VOLS=$V
echo "    1..8"

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

# wait_written N: up to 5 s for written_seq to reach N
wait_written() {
	local i
	for i in $(seq 1 50); do
		[ "$(vt_num "$V" written_seq)" -ge "$1" ] && return 0
		sleep 0.1
	done
}

waits_for_commit() {
	local w c i
	bg_write 10
	wait_written 1
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
	wait_written 2
	bg_write 21
	local p2=$WPID
	wait_written 3
	georepctl volume set "$V" --commit-seq 2 || return 1
	wait $p1 || return 1
	sleep 1
	kill -0 $p2 2>/dev/null || { echo "record 3 completed without a commit"; return 1; }
	georepctl volume set "$V" --commit-seq 3 || return 1
	wait $p2
}

# the ioctl completes a waiting write as VOLUME_SET does
ioctl_commit() {
	local i
	bg_write 22
	wait_written 4
	sleep 1
	kill -0 $WPID 2>/dev/null || { echo "record 4 completed without a commit"; return 1; }
	georep-ledgerop commit "/dev/georep/$V.log" 4 || return 1
	for i in $(seq 1 100); do
		kill -0 $WPID 2>/dev/null || break
		sleep 0.05
	done
	kill -0 $WPID 2>/dev/null && { echo "still waiting after the ioctl"; return 1; }
	wait $WPID && [ "$(vt_num "$V" commit_seq)" = 4 ]
}

# past the last record, read-only: refused with nothing moved; lower: ignored
ioctl_refused() {
	local out
	out=$(georep-ledgerop commit "/dev/georep/$V.log" 5 2>&1)
	echo "past the last record: $out"
	case $out in *"Invalid argument"*) ;; *) return 1 ;; esac
	out=$(georep-ledgerop commit "/dev/georep/$V.log" 4 --rdonly 2>&1)
	echo "read-only file: $out"
	case $out in *"Bad file descriptor"*) ;; *) return 1 ;; esac
	georep-ledgerop commit "/dev/georep/$V.log" 2 || return 1
	[ "$(vt_num "$V" commit_seq)" = 4 ] || { echo "commit_seq moved"; return 1; }
}

# what one update costs in this VM (shown, not judged: TCG)
ioctl_cost() {
	georep-ledgerop commitcost "$V" "/dev/georep/$V.log" 2000
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
vt_check "GEOREP_IOC_COMMIT_SEQ completes a waiting write" ioctl_commit
vt_check "the ioctl refuses past the last record and read-only files" ioctl_refused
vt_check "a commit update by netlink and by the ioctl" ioctl_cost
vt_check "back to local: waiting writes complete, new ones at once" local_again
vt_done
