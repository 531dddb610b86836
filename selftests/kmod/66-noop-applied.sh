#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A no-op record does not vouch for the data writes before it
# (kmod/replica.c, noop_write()). A primary's data device sits on dm-delay
# (writes held 3 s); a write goes to the volume, its record reaches the
# log, its data write is held. LOG_NOOP then appends a no-op record: the
# volume's applied_seq must stay below the held write's record until its
# data write is done, or a release, or the superblock after a power cut,
# would pass a record whose block the data device lacks (replay starts
# past applied_seq). Before the fix, applied_seq took the no-op's seq at
# once. Once the write completed, applied_seq reaches the no-op.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol66
vt_need_dm delay

V=vol66
VT_VOLS=$V
DM=grna-data
DELAY_MS=3000

do_cleanup() {
	vt_cleanup
	dmsetup remove $DM 2>/dev/null
	drop_tmpfs "$T"
}
trap do_cleanup EXIT
echo "    1..3"

setup() {
	local sz
	D=$(vt_loop data 16) && L=$(vt_loop log 16) || return 1
	sz=$(blockdev --getsz "$D")
	dmsetup create $DM --table "0 $sz delay $D 0 0 $D 0 0" && dmsetup mknodes || return 1
	georepctl volume create $V --data /dev/mapper/$DM --log "$L" --format --standalone \
		--key-dir "$KEYS" || return 1
	dmsetup suspend $DM && dmsetup load $DM --table "0 $sz delay $D 0 0 $D 0 $DELAY_MS" &&
		dmsetup resume $DM
}

noop_behind_held_data() {
	local seq applied
	dd if=/dev/urandom of=/dev/georep/$V bs=4k seek=5 count=1 oflag=direct status=none &
	WRITE=$!
	sleep 0.5
	[ "$(vt_num $V written_seq)" = 1 ] && [ "$(vt_num $V applied_seq)" = 0 ] ||
		{ echo "written $(vt_num $V written_seq), applied $(vt_num $V applied_seq)"; return 1; }
	seq=$(georep-ledgerop noop $V) || return 1
	applied=$(vt_num $V applied_seq)
	echo "no-op record $seq; applied_seq $applied while record 1's data write is held"
	[ "$seq" = 2 ] && [ "$applied" = 0 ]
}

applied_once_done() {
	local i
	wait $WRITE || { echo "the write failed"; return 1; }
	for i in $(seq 50); do
		[ "$(vt_num $V applied_seq)" = 2 ] && break
		sleep 0.1
	done
	echo "applied_seq $(vt_num $V applied_seq)"
	[ "$(vt_num $V applied_seq)" = 2 ] && georepctl ledger verify $V --key-dir "$KEYS"
}

vt_check "standalone primary, its data device on dm-delay (writes held 3 s)" setup ||
	{ vt_done; exit 1; }
vt_check "a no-op behind a held data write: applied_seq stays below it" noop_behind_held_data
vt_check "the write done: applied_seq reaches the no-op, the ledger verifies" applied_once_done
vt_done
