#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Backpressure: with a small log and nothing released, writers block once
# the log passes the high watermark (throttled in status, a WATERMARK
# event), resume after `georepctl ledger release`, and nothing is lost.
# max_uncommitted throttles the same way until commit_seq moves.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol40

V=vol40-$$
VT_VOLS=$V
echo "    1..6"

setup() {
	# 8 MiB log: 2047 blocks in the area; a 4 KiB write takes 2
	DATA=$(vt_loop data 64) && LOG=$(vt_loop log 8) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --high-wm 50 --low-wm 20 --key-dir "$KEYS" || return 1
	head -c $((4 << 20)) /dev/urandom >"$T/src"
}

blocks_at_high_wm() {
	local w1 w2 i
	# 1024 writes of 4 KiB need 2048 blocks: more than the high watermark
	dd if="$T/src" of="/dev/georep/$V" bs=4k count=1024 oflag=direct status=none &
	WPID=$!
	for i in $(seq 1 100); do
		vt_true "$V" throttled && break
		sleep 0.2
	done
	sleep 1
	w1=$(vt_num "$V" written_seq)
	sleep 2
	w2=$(vt_num "$V" written_seq)
	georepctl status "$V"
	echo "written_seq $w1 -> $w2, log_used $(vt_num "$V" log_used) of $(vt_num "$V" log_size)"
	vt_true "$V" throttled || { echo "not throttled"; return 1; }
	[ "$w1" = "$w2" ] || { echo "writes went on"; return 1; }
	kill -0 $WPID 2>/dev/null || { echo "the writer finished"; return 1; }
	# used is just past half the area
	[ $(( $(vt_num "$V" log_used) * 100 / $(vt_num "$V" log_size) )) -ge 50 ]
}

resumes_after_release() {
	local i
	for i in 1 2 3 4; do
		georepctl ledger release "$V" "$(vt_num "$V" written_seq)" || return 1
		for j in $(seq 1 50); do
			kill -0 $WPID 2>/dev/null || break 2
			vt_true "$V" throttled && break
			sleep 0.2
		done
	done
	wait $WPID || { echo "writer failed"; return 1; }
	echo "tail $(vt_num "$V" tail_seq) written $(vt_num "$V" written_seq)"
}

nothing_lost() {
	[ "$(vt_num "$V" written_seq)" = 1024 ] || { echo "written_seq not 1024"; return 1; }
	cmp <(dd if="/dev/georep/$V" bs=4k count=1024 iflag=direct status=none) "$T/src"
}

max_uncommitted() {
	georepctl ledger release "$V" "$(vt_num "$V" written_seq)" || return 1
	georepctl volume set "$V" --commit-seq "$(vt_num "$V" written_seq)" \
		--max-uncommitted 65536 || return 1
	# 64 KiB of log is 8 records of 4 KiB; the 9th passes the limit
	dd if="$T/src" of="/dev/georep/$V" bs=4k count=40 oflag=direct status=none &
	WPID=$!
	sleep 3
	georepctl status "$V"
	vt_true "$V" throttled && kill -0 $WPID 2>/dev/null ||
		{ echo "not throttled by max_uncommitted"; return 1; }
	local i
	for i in $(seq 1 20); do
		kill -0 $WPID 2>/dev/null || break
		georepctl volume set "$V" --commit-seq "$(vt_num "$V" written_seq)" || return 1
		sleep 0.3
	done
	wait $WPID
}

verify_ok() {
	georepctl ledger verify "$V" --key-dir "$KEYS"
}

vt_check "primary on a small log, watermarks 50/20" setup
vt_check "writers block past the high watermark" blocks_at_high_wm
vt_check "they resume after ledger release" resumes_after_release
vt_check "nothing lost" nothing_lost
vt_check "max_uncommitted throttles until commits" max_uncommitted
vt_check "ledger verifies" verify_ok
vt_done
