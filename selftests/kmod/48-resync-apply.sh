#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Resync writes against the apply worker (issue 8, item 2). A secondary
# holds a long backlog of records that rewrite the same 16 blocks; the
# commit index is set, so the apply worker starts on them, and right away
# the secondary is resynced from the primary's newer data device with
# GEOREP_IOC_DATA_WRITE and reset to the primary's head, as georepd does
# for a follower behind the retained log. The secondary must end
# sha256-identical to the primary: no committed record older than the
# resync may reach the data device after the resync wrote the block (the
# reset then counts it as applied). The backlog is long enough that the
# worker is still running when the first resync write comes.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol48

P=vol48p-$$
S=vol48s-$$
VT_VOLS="$S $P"
ROUNDS=${ROUNDS:-100}
echo "    1..4"

setup() {
	PD=$(vt_loop pdata 16) && PL=$(vt_loop plog 32) || return 1
	SD=$(vt_loop sdata 16) && SL=$(vt_loop slog 32) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" --site-id 2
}

# ROUNDS rounds of 16 records over blocks 0..15, shipped, not committed;
# then one more round on the primary only: the content the resync copies
backlog() {
	local i w
	for i in $(seq 1 "$ROUNDS"); do
		dd if=/dev/urandom of="/dev/georep/$P" bs=4k count=16 oflag=direct \
			status=none || return 1
	done
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" || return 1
	w=$(vt_num "$S" written_seq)
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k count=16 oflag=direct status=none ||
		return 1
	echo "secondary: written_seq $w, applied_seq $(vt_num "$S" applied_seq)"
	[ "$w" = $((ROUNDS * 16)) ] && [ "$(vt_num "$S" applied_seq)" = 0 ]
}

resync_during_apply() {
	local head seq term ch w a
	head=$(georep-ledgerop head "$P") || return 1
	read -r seq term ch <<<"$head"
	w=$(vt_num "$S" written_seq)
	# the worker starts on the backlog ...
	georepctl volume set "$S" --commit-seq "$w" || return 1
	# ... and the resync writes the same blocks meanwhile
	georep-ledgerop resync "/dev/georep/$P" "/dev/georep/$S.log" "/dev/georep/$P.log" ||
		return 1
	a=$(vt_num "$S" applied_seq)
	echo "applied_seq $a of $w when the resync ended"
	georep-ledgerop reset "$S" "/dev/georep/$P.log" "$seq" || return 1
	echo "reset to the primary's head $seq"
	[ "$(vt_num "$S" applied_seq)" = "$seq" ]
}

identical() {
	local p s
	p=$(sha256sum <"/dev/georep/$P") && s=$(sha256sum <"/dev/georep/$S") || return 1
	echo "primary   $p"
	echo "secondary $s"
	cmp <(dd if="/dev/georep/$P" bs=4k count=16 status=none | od -An -tx1 | md5sum) \
	    <(dd if="/dev/georep/$S" bs=4k count=16 status=none | od -An -tx1 | md5sum) ||
		echo "blocks 0..15 differ"
	[ "$p" = "$s" ]
}

vt_check "a primary and a secondary" setup
vt_check "a backlog of $((ROUNDS * 16)) uncommitted records on the secondary" backlog
vt_check "commit, resync while the worker applies, reset" resync_during_apply
vt_check "the secondary is sha256-identical to the primary" identical
vt_done
