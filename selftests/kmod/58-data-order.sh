#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Data without its record (Documentation/write-path.rst, "Write-ahead
# order"): a primary's data device must never hold a block whose record
# may be lost in a power cut. The log device sits on dm-delay (writes and
# flushes held 3 s); a write goes to the volume, and while its record is
# still held the disks are copied, which is what a power cut at that
# moment leaves. The copy must attach and its data must match a replay of
# its own ledger (georep-datacmp): before the fix the data write ran beside
# the log write, so the copy held the new block with no record for it.
# A second copy, taken once the write completed, must hold the block and
# its record: the write was acknowledged.
#
# Then only the log's flushes are held: a record whose log writes completed
# but that no flush covered yet may still be lost, so neither the log
# stream (what georepd ships and counts as the leader's own durable copy
# toward a quorum) nor WRITTEN_SEQ ("the last record durable in the log")
# may offer it before the flush completes. Before, both did at once.
#
# Sealed mode (write-path.rst, "Shipping before the local write is
# durable"): while the first write's record is held, a stream file in
# sealed mode (georep-ledgerop shipread) must already read it, header and
# block, with GEOREP_IOC_DURABLE_SEQ still 0; once the write completed,
# EPOLLPRI and a durable seq of 1.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol58
vt_need_dm delay

V=vol58
VT_VOLS=$V
DELAY_MS=3000
BLK=100

V2=vol58b
VT_VOLS="$V $V2"

do_cleanup() {
	vt_cleanup
	dmsetup remove grdo-log 2>/dev/null
	dmsetup remove grdo-flog 2>/dev/null
	# the delay targets held the loops, so vt_cleanup could not unmount
	drop_tmpfs "$T"
}
trap do_cleanup EXIT
echo "    1..7"

setup() {
	local sz
	D=$(vt_loop data 16) && L=$(vt_loop log 32) || return 1
	sz=$(blockdev --getsz "$L")
	dmsetup create grdo-log --table "0 $sz delay $L 0 0 $L 0 0" &&
		dmsetup mknodes || return 1
	georepctl volume create $V --data "$D" --log /dev/mapper/grdo-log \
		--format --standalone --key-dir "$KEYS" || return 1
	# from now on the log's writes and flushes wait DELAY_MS
	dmsetup suspend grdo-log &&
		dmsetup load grdo-log --table "0 $sz delay $L 0 0 $L 0 $DELAY_MS" &&
		dmsetup resume grdo-log
}

# snap NAME: copy both disks as they are now (a power cut)
snap() {
	cp --sparse=always "$T/data.img" "$T/$1-data.img" &&
		cp --sparse=always "$T/log.img" "$T/$1-log.img"
}

write_held() {
	yes georep58 | head -c 4096 >"$T/block" || return 1
	dd if="$T/block" of=/dev/georep/$V bs=4k seek=$BLK count=1 \
		oflag=direct conv=notrunc 2>/dev/null &
	local pid=$!
	sleep 1
	# the record is still in dm-delay; the write has not completed
	kill -0 $pid 2>/dev/null || { echo "the write completed within 1 s"; return 1; }
	snap cut || return 1
	georep-ledgerop shipread /dev/georep/$V.log "$T/shipped" >"$T/ship-held" ||
		return 1
	wait $pid || { echo "the write failed"; return 1; }
	georep-ledgerop shipread /dev/georep/$V.log "$T/shipped-after" 1 \
		>"$T/ship-after" || return 1
	snap acked
}

# what the sealed-mode reader got while the record was held, and after
ship_sealed() {
	local held after
	held=$(cat "$T/ship-held") && after=$(cat "$T/ship-after") || return 1
	echo "held: $held; after the write: $after"
	[ "$held" = "bytes=4352 pri=0 durable=0" ] ||
		{ echo "the held record was not read in sealed mode"; return 1; }
	tail -c 4096 "$T/shipped" | cmp - "$T/block" ||
		{ echo "the block read in sealed mode is not the one written"; return 1; }
	[ "$after" = "bytes=4352 pri=1 durable=1" ] ||
		{ echo "no EPOLLPRI or durable seq once the write completed"; return 1; }
	cmp "$T/shipped" "$T/shipped-after" ||
		{ echo "the record read in flight differs from the durable one"; return 1; }
}

# attach NAME: attach the copy NAME as $V, compare data with the ledger
attach() {
	local dl ll rc=0
	georepctl volume delete $V 2>/dev/null
	dl=$(losetup -f --show "$T/$1-data.img") &&
		ll=$(losetup -f --show "$T/$1-log.img") || return 1
	VT_LOOPS="$VT_LOOPS $dl $ll"
	georepctl volume create $V --data "$dl" --log "$ll" --key-dir "$KEYS" ||
		{ echo "attach of the $1 copy failed"; return 1; }
	georepctl status $V --json | grep -E '"written_seq"' | tr -d ' '
	georep-datacmp /dev/georep/$V.log /dev/georep/$V --initial-zero || rc=1
	if [ "$1" = acked ]; then
		dd if=/dev/georep/$V bs=4k skip=$BLK count=1 iflag=direct 2>/dev/null |
			cmp -s - "$T/block" ||
			{ echo "the acknowledged block is not there"; rc=1; }
	fi
	return $rc
}

# stream_bytes VOL: what a non-blocking read of VOL's log stream gets now
stream_bytes() {
	dd if=/dev/georep/$1.log iflag=nonblock bs=1M count=1 2>/dev/null | wc -c
}

flush_held() {
	local D2 L2 sz pid w b
	D2=$(vt_loop data2 16) && L2=$(vt_loop log2 32) || return 1
	sz=$(blockdev --getsz "$L2")
	# reads and writes at once, flushes after DELAY_MS
	dmsetup create grdo-flog --table "0 $sz delay $L2 0 0 $L2 0 0 $L2 0 0" &&
		dmsetup mknodes || return 1
	georepctl volume create $V2 --data "$D2" --log /dev/mapper/grdo-flog \
		--format --standalone --key-dir "$KEYS" || return 1
	dmsetup suspend grdo-flog &&
		dmsetup load grdo-flog --table "0 $sz delay $L2 0 0 $L2 0 0 $L2 0 $DELAY_MS" &&
		dmsetup resume grdo-flog || return 1
	dd if="$T/block" of=/dev/georep/$V2 bs=4k seek=$BLK count=1 \
		oflag=direct conv=notrunc 2>/dev/null &
	pid=$!
	sleep 1
	w=$(vt_num $V2 written_seq)
	b=$(stream_bytes $V2)
	echo "flush held: written_seq $w, stream offers $b bytes"
	wait $pid || { echo "the write failed"; return 1; }
	[ "$w" = 0 ] && [ "$b" = 0 ] ||
		{ echo "a record no flush covered was offered as durable"; return 1; }
	w=$(vt_num $V2 written_seq)
	b=$(stream_bytes $V2)
	echo "after the flush: written_seq $w, stream offers $b bytes"
	[ "$w" = 1 ] && [ "$b" = 4352 ]	# the 256-byte header and the block
}

vt_check "standalone volume, log on dm-delay" setup || { vt_done; exit 1; }
vt_check "a write held in the log's delay; disks copied meanwhile" write_held
vt_check "sealed mode: the held record read at once, durable 0" ship_sealed
vt_check "cut while the record was held: data matches the ledger" attach cut
vt_check "cut after the write completed: block and record there" attach acked
vt_check "log flushes held: the record is neither readable nor written_seq" flush_held
vt_check "the block reads back" sh -c "dd if=/dev/georep/$V2 bs=4k skip=$BLK count=1 iflag=direct 2>/dev/null | cmp - '$T/block'"
vt_done
