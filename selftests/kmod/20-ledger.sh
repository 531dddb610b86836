#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ledger on the log device: one record per write with its LBA and
# length, verification, and a flipped byte on the log device (header or
# payload) that makes `ledger verify` and a re-attach fail naming the seq.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol20

V=vol20-$$
VT_VOLS=$V
KD=$KEYS
echo "    1..8"

setup() {
	DATA=$(vt_loop data 64) && LOG=$(vt_loop log 32) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --site-id 3 --key-dir "$KEYS"
}

# writes: "block count" pairs, each one O_DIRECT write of count 4 KiB blocks
WRITES="0 1
5 1
100 2
7 16
4000 1
9 1"

do_writes() {
	echo "$WRITES" | while read -r blk cnt; do
		dd if=/dev/urandom of="/dev/georep/$V" bs=$((cnt * 4096)) count=1 \
		   seek=$((blk * 4096)) oflag=direct,seek_bytes iflag=fullblock \
		   status=none || exit 1
	done || return 1
	blkdiscard -o $((1024 * 4096)) -l $((64 * 4096)) "/dev/georep/$V"
}

dump_matches() {
	local seq=0 blk cnt line
	georepctl ledger dump "$V" >"$T/dump" || return 1
	cat "$T/dump"
	while read -r blk cnt; do
		seq=$((seq + 1))
		# seq term op lba(sectors) len payload_len site epoch
		line=$(awk -v s=$seq '$1 == s' "$T/dump")
		echo "$line" | awk -v l=$((blk * 8)) -v n=$((cnt * 4096)) \
			'{ exit !($2 == 1 && $3 == "write" && $4 == l && $5 == n && $6 == n && $7 == 3) }' ||
			{ echo "record $seq is not write $blk x $cnt: $line"; return 1; }
	done <<<"$WRITES"
	seq=$((seq + 1))
	awk -v s=$seq '$1 == s' "$T/dump" | awk '{ exit !($3 == "discard" && $4 == 8192 && $5 == 262144 && $6 == 0) }' ||
		{ echo "record $seq is not the discard"; return 1; }
	[ "$(grep -vc '^#' "$T/dump")" = $seq ] || { echo "extra records"; return 1; }
}

verify_ok() {
	georepctl ledger verify "$V" --key-dir "$KD"
}

# corrupt SEQ OFFSET: flip a byte; verify and re-attach must name SEQ
corrupt_caught() {
	local seq=$1 off=$2
	georep-corrupt "$LOG" "$seq" "$off" || return 1
	vt_expect_fail georepctl ledger verify "$V" >"$T/v" 2>&1
	cat "$T/v"
	grep -q "record $seq" "$T/v" || { echo "verify did not name record $seq"; return 1; }
	dmesg | tail -n 5 | grep -q "record $seq failed" || { echo "no kernel message"; return 1; }
}

reattach_refused() {
	local seq=$1
	georepctl volume delete "$V" || return 1
	vt_expect_fail georepctl volume create "$V" --data "$DATA" --log "$LOG" \
		--key-dir "$KD" >"$T/c" 2>&1
	cat "$T/c"
	grep -q "Bad message" "$T/c" && grep -q "record $seq failed its .* check" "$T/c"
}

fresh_again() {
	KD=$T/keys2
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --site-id 3 --key-dir "$KD" || return 1
	do_writes && verify_ok
}

vt_check "create a primary" setup
vt_check "writes and a discard" do_writes
vt_check "dump: one record per write, LBA and length" dump_matches
vt_check "ledger verifies" verify_ok
vt_check "flipped header byte: verify names the seq" corrupt_caught 4 40
vt_check "flipped header byte: attach fails naming the seq" reattach_refused 4
vt_check "format again, writes verify" fresh_again
vt_check "flipped payload byte: verify and attach name the seq" \
	eval 'corrupt_caught 3 $((256 + 5000)) && reattach_refused 3'
vt_done
