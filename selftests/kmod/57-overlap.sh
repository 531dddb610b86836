#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Overlapping writes in flight at once on a primary: the data device must
# end with what the ledger says was written last, as every replica that
# applies the ledger in seq order does. fio writes 4 KiB blocks at QD32,
# two jobs, over a region of only 64 blocks (norandommap: the same block
# is in flight several times at once); the records go to a secondary with
# georep-pump, are committed and applied; the two data devices must be
# identical. ROUNDS (default 6) repeats it: before the fix about one round in five diverged.

set -u
. "$(dirname "$0")/lib/volume.bash"
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
vt_init grvol57

P=vol57p-$$
S=vol57s-$$
VT_VOLS="$S $P"
ROUNDS=${ROUNDS:-6}
echo "    1..$((ROUNDS + 1))"

setup() {
	PD=$(vt_loop pdata 16) && PL=$(vt_loop plog 128) || return 1
	SD=$(vt_loop sdata 16) && SL=$(vt_loop slog 128) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" --site-id 2
}

round() {
	local w
	fio --name=overlap --filename="/dev/georep/$P" --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=32 --numjobs=2 --size=256k \
		--io_size=4M --norandommap --randrepeat=0 --group_reporting \
		--output-format=terse >/dev/null || return 1
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" >/dev/null || return 1
	w=$(vt_num "$S" written_seq)
	georepctl volume set "$S" --commit-seq "$w" || return 1
	vt_wait_applied "$S" "$w" || return 1
	georepctl ledger release "$P" "$w" >/dev/null
	georepctl ledger release "$S" "$w" >/dev/null
	local a b
	a=$(dd if="$PD" bs=4k count=64 iflag=direct status=none | sha256sum)
	b=$(dd if="$SD" bs=4k count=64 iflag=direct status=none | sha256sum)
	echo "records to seq $w; primary ${a:0:16}, secondary ${b:0:16}"
	[ "$a" = "$b" ]
}

vt_check "primary and secondary" setup
for r in $(seq 1 "$ROUNDS"); do
	vt_check "round $r: 2 x 512 overlapping 4 KiB writes at QD32, data devices identical" round
done
vt_done
