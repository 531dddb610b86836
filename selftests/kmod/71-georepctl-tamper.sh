#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tampering with the ledger on the log device is caught:
#  1. a flipped payload byte under an attached volume: `georepctl ledger
#     verify` exits 1 with "record N: ..." for that record;
#  2. attaching that log again fails and georepctl names record N (the
#     kernel's BAD_SEQ); with the byte restored the attach succeeds;
#  3. a changed header field of an earlier record: attaching fails with
#     "Bad message" naming that record.
#
# Records are found on the log device by their magic at 4 KiB boundaries
# (the header fills one block, the payload follows), see
# include/uapi/linux/georep.h.
#
# Nested KTAP; exit 0 pass, 4 skip, 1 fail.

set -u

. "$(dirname "$0")/lib/ktap.sh"

VOL=grctl71-$$
total=6

need_georep georepctl

tmp=$(ktap_tmpfs grctl71 128) || exit 1
KEYS=$tmp/keys
outf=$tmp/out
data=
log=

cleanup() {
	georepctl volume delete "$VOL" >/dev/null 2>&1
	drop_loops "$data" "$log"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

# block_hex DEV BLOCK COUNT: COUNT bytes from the start of 4 KiB block BLOCK
block_hex() {
	dd if="$1" bs=4096 skip="$2" count=1 iflag=direct status=none |
		od -An -tx1 -N"$3" | tr -d ' \n'
}

# find_record SEQ: the log block holding the header of record SEQ
find_record() {
	local want b hex seq
	want=$(printf '%016x' "$1")
	for b in $(seq 1 512); do
		hex=$(block_hex "$log" "$b" 16)
		# magic "GREC" little-endian, then version, op, then seq (LE)
		[ "${hex:0:8}" = 43455247 ] || continue
		seq=
		for i in 30 28 26 24 22 20 18 16; do seq=$seq${hex:$i:2}; done
		[ "$seq" = "$want" ] && { echo "$b"; return 0; }
	done
	return 1
}

# flip_byte DEV OFFSET: xor one byte with 0x01, bypassing the page cache
flip_byte() {
	local blk=$(($2 / 4096)) off=$(($2 % 4096)) byte
	dd if="$1" bs=4096 skip=$blk count=1 iflag=direct status=none >"$tmp/blk" || return 1
	byte=$(od -An -tu1 -j"$off" -N1 "$tmp/blk" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte ^ 1)))" |
		dd of="$tmp/blk" bs=1 seek="$off" conv=notrunc status=none || return 1
	dd if="$tmp/blk" of="$1" bs=4096 seek=$blk count=1 oflag=direct conv=notrunc \
	   status=none
}

setup_volume() {
	local i
	truncate -s 32M "$tmp/data.img" && truncate -s 16M "$tmp/log.img" || return 1
	data=$(losetup -f --show "$tmp/data.img") || return 1
	log=$(losetup -f --show "$tmp/log.img") || return 1
	georepctl volume create "$VOL" --data "$data" --log "$log" --format \
		--role primary --term 1 --key-dir "$KEYS" || return 1
	for i in 0 1 2 3 4 5; do
		dd if=/dev/urandom of="/dev/georep/$VOL" bs=4096 count=1 seek=$i \
		   oflag=direct conv=notrunc status=none || return 1
	done
	georepctl ledger verify "$VOL" --key-dir "$KEYS" || return 1
	georepctl ledger dump "$VOL" | tee "$tmp/dump"
}

# flip a payload byte of the last write record under the attached volume:
# the kernel's LEDGER_VERIFY checks chain and seal, georepctl also re-hashes
# every payload from the stream
live_payload_tamper() {
	local seq blk rc
	seq=$(awk '$3 == "write" { s = $1 } END { print s }' "$tmp/dump")
	[ -n "$seq" ] || { echo "no write record"; return 1; }
	blk=$(find_record "$seq") || { echo "record $seq not found on $log"; return 1; }
	echo "record $seq at log block $blk: flipping payload byte 100"
	echo "$seq $blk" >"$tmp/pseq"
	flip_byte "$log" $(((blk + 1) * 4096 + 100)) || return 1
	georepctl ledger verify "$VOL" --key-dir "$KEYS" >"$tmp/v" 2>&1
	rc=$?
	cat "$tmp/v"
	[ $rc = 1 ] || { echo "verify exited $rc, expected 1"; return 1; }
	grep -Eq "^record $seq: (payload hash mismatch|kernel: )" "$tmp/v"
}

payload_refused_at_attach() {
	local seq blk rc
	read -r seq blk <"$tmp/pseq"
	georepctl volume delete "$VOL" || return 1
	georepctl volume create "$VOL" --data "$data" --log "$log" --key-dir "$KEYS" \
		>"$tmp/e" 2>&1
	rc=$?
	cat "$tmp/e"
	[ $rc = 1 ] || { echo "attach exited $rc, expected 1"; return 1; }
	# BAD_SEQ from the kernel's reply, printed by georepctl
	grep -q "^georepctl: record $seq: the ledger failed verification" "$tmp/e"
}

restored_attach_ok() {
	local seq blk
	read -r seq blk <"$tmp/pseq"
	flip_byte "$log" $(((blk + 1) * 4096 + 100)) || return 1
	georepctl volume create "$VOL" --data "$data" --log "$log" --key-dir "$KEYS" || return 1
	georepctl ledger verify "$VOL" --key-dir "$KEYS" || return 1
	georepctl volume delete "$VOL"
}

header_tamper() {
	local blk
	blk=$(find_record 2) || { echo "record 2 not found"; return 1; }
	echo "record 2 at log block $blk: flipping its lba"
	flip_byte "$log" $((blk * 4096 + 24))
}

header_caught() {
	local rc
	georepctl volume create "$VOL" --data "$data" --log "$log" --key-dir "$KEYS" \
		>"$tmp/e" 2>&1
	rc=$?
	cat "$tmp/e"
	[ $rc = 1 ] || { echo "attach exited $rc, expected 1"; return 1; }
	grep -q 'Bad message' "$tmp/e" || return 1
	grep -q '^georepctl: record 2: the ledger failed verification' "$tmp/e" ||
		{ echo "seq 2 not named"; return 1; }
}

echo "    KTAP version 1"
echo "    1..$total"
check setup-volume-with-records setup_volume
check live-payload-tamper-caught-by-verify live_payload_tamper
check payload-tamper-refused-at-attach payload_refused_at_attach
check restored-ledger-attaches restored_attach_ok
check tamper-header header_tamper
check header-tamper-refused-at-attach header_caught
[ $failed = 0 ]
