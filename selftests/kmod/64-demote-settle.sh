#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A deposed primary's writes still in flight, then records of the new
# leader (Documentation/write-path.rst, "Appends after a demotion"). A
# quorum primary P ships its record 1 while its log write is held (the log
# blocks of record 1 sit on dm-delay, 6 s; the superblock, the rest of the
# log, and every flush, go straight through). Its secondary S takes record 1, is promoted
# in term 2 and writes record 2. P is demoted and appends S's record 2
# through its log stream. The append must not return before P's own
# record 1 is on its log and its block on its data device: before the fix
# it returned at once, written_seq then named record 1 while its log write
# was still held (a power cut would leave a hole under a record reported
# durable), and P's data device did not hold the block yet.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol64
vt_need_dm delay

P=vol64p
S=vol64s
VT_VOLS="$P $S"
DM=grds-log
DELAY_MS=6000
BLK=7
# the superblock is block 0 (a demotion writes it); the log's area starts
# at block 1: record 1 (a header block and one payload block) takes blocks
# 1 and 2, record 2 starts at block 3
HELD=8
SPLIT=$((3 * 8))

do_cleanup() {
	# writes still waiting for a commit fail, so that the volumes close
	georepctl volume set $P --io-state fail 2>/dev/null
	georepctl volume set $S --io-state fail 2>/dev/null
	wait 2>/dev/null
	vt_cleanup
	dmsetup remove $DM 2>/dev/null
	drop_tmpfs "$T"
}
trap do_cleanup EXIT
echo "    1..4"

# table MS: the log with the writes to record 1's blocks held MS ms
table() {
	printf '0 %s linear %s 0\n' "$HELD" "$PL"
	printf '%s %s delay %s %s 0 %s %s %s %s %s 0\n' "$HELD" "$((SPLIT - HELD))" \
		"$PL" "$HELD" "$PL" "$HELD" "$1" "$PL" "$HELD"
	printf '%s %s linear %s %s\n' \
		"$SPLIT" "$(($(blockdev --getsz "$PL") - SPLIT))" "$PL" "$SPLIT"
}

setup() {
	PD=$(vt_loop pdata 16) && PL=$(vt_loop plog 16) || return 1
	SD=$(vt_loop sdata 16) && SL=$(vt_loop slog 16) || return 1
	table 0 | dmsetup create $DM && dmsetup mknodes || return 1
	georepctl volume create $P --data "$PD" --log /dev/mapper/$DM --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica $P $S --data "$SD" --log "$SL" --key-dir "$KEYS" --site-id 2 ||
		return 1
	cp -a "$KEYS/$P" "$KEYS/$S" || return 1
	dmsetup suspend $DM && table $DELAY_MS | dmsetup load $DM && dmsetup resume $DM
}

# P writes record 1 (held), S takes it, leads in term 2 and writes record 2
new_leader() {
	yes georep64 | head -c 4096 >"$T/block" || return 1
	dd if="$T/block" of=/dev/georep/$P bs=4k seek=$BLK count=1 oflag=direct \
		status=none &
	PWRITE=$!
	sleep 0.5
	georep-ledgerop shipread /dev/georep/$P.log "$T/rec1" 1 || return 1
	dd if="$T/rec1" of=/dev/georep/$S.log bs=1M status=none || return 1
	georepctl volume set $S --role primary --term 2 || return 1
	dd if=/dev/urandom of=/dev/georep/$S bs=4k seek=9 count=1 oflag=direct status=none &
	SWRITE=$!
	sleep 0.5
	georep-ledgerop shipread /dev/georep/$S.log "$T/rec2" 2 || return 1
	[ "$(vt_num $S written_seq)" = 2 ] && [ "$(vt_num $P written_seq)" = 0 ] ||
		{ echo "S at $(vt_num $S written_seq), P at $(vt_num $P written_seq)"; return 1; }
}

# P, demoted, appends record 2: the append waits for P's record 1
append_waits() {
	local t0 t1
	georepctl volume set $P --role secondary --term 2 || return 1
	[ "$(vt_num $P written_seq)" = 0 ] ||
		{ echo "record 1's log write was not held"; return 1; }
	t0=$(date +%s%N)
	dd if="$T/rec2" of=/dev/georep/$P.log bs=1M status=none || return 1
	t1=$(date +%s%N)
	echo "the append took $(((t1 - t0) / 1000000)) ms; P written_seq $(vt_num $P written_seq)"
	# record 1's payload block on the log device itself (block 2)
	dd if="$PL" bs=4k skip=2 count=1 iflag=direct status=none | cmp -s - "$T/block" ||
		{ echo "record 1 is not on P's log after the append"; return 1; }
	dd if="$PD" bs=4k skip=$BLK count=1 iflag=direct status=none | cmp -s - "$T/block" ||
		{ echo "P's data device lacks record 1's block after the append"; return 1; }
	[ "$(vt_num $P written_seq)" = 2 ]
}

# the new history commits: P's own write completes, both ledgers agree
agree() {
	georepctl volume set $P --commit-seq 2 && georepctl volume set $S --commit-seq 2 ||
		return 1
	wait $PWRITE || { echo "P's write of record 1 failed"; return 1; }
	wait $SWRITE || { echo "S's write of record 2 failed"; return 1; }
	georepctl ledger verify $P --key-dir "$KEYS" && georepctl ledger verify $S --key-dir "$KEYS" &&
	[ "$(georepctl status $P --json | grep chain_hash)" = \
	  "$(georepctl status $S --json | grep chain_hash)" ]
}

vt_check "quorum primary P on a log that holds record 1's writes, secondary S" setup ||
	{ vt_done; exit 1; }
vt_check "P's record 1 held; S takes it, leads in term 2, writes record 2" new_leader
vt_check "P demoted appends record 2 only once its record 1 is on log and data" append_waits
vt_check "commit: P's write completes, both ledgers verify and agree" agree
vt_done
