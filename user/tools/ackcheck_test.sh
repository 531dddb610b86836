#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of georep-ackcheck on a plain file: writes are logged and read
# back, runs in separate regions do not overlap, and the negative controls
# (a flipped byte, a zeroed block, a block moved elsewhere, a writer stopped
# by a write error, a malformed log) are reported. Prints KTAP.
#
#   user/tools/ackcheck_test.sh [BINDIR]   (default: build/user/bin of this tree)

BIN=${1:-${GEOREP_BIN:-$(cd "$(dirname "$0")/../../build/user/bin" 2>/dev/null && pwd)}}
ACK=$BIN/georep-ackcheck
n=0
failed=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

# t NAME CMD...: CMD's output as diagnostics, its status as the result
t() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	ok $rc "$name"
}

echo "KTAP version 1"
echo "1..11"
if [ ! -x "$ACK" ]; then
	for i in $(seq 1 11); do
		echo "ok $i ackcheck # SKIP $ACK not built"
	done
	exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/ackcheck.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
DEV=$W/dev
LOG=$W/acks
truncate -s $((256 * 4096)) "$DEV"
if ! dd if=/dev/zero of="$DEV" bs=4096 count=1 oflag=direct conv=notrunc 2>/dev/null; then
	for i in $(seq 1 11); do
		echo "ok $i ackcheck # SKIP no O_DIRECT on $W"
	done
	exit 0
fi

# expect STATUS CMD...: CMD exits with STATUS
expect() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	[ "$rc" = "$want" ] || { echo "exit status $rc, expected $want"; return 1; }
}

# the device block of the Nth logged acknowledgment
pos_of() { sed -n "${1}p" "$LOG" | cut -d' ' -f4; }

write_and_log() {
	expect 0 "$ACK" write "$DEV" --log "$LOG" --first 0 --count 40 --region-blocks 64 &&
		[ "$(wc -l <"$LOG")" = 40 ] || { echo "log: $(wc -l <"$LOG") lines"; return 1; }
}

scattered_in_region() {
	local p
	p=$(cut -d' ' -f4 "$LOG" | sort -un | wc -l)
	[ "$p" = 40 ] || { echo "$p distinct device blocks for 40 writes"; return 1; }
	cut -d' ' -f4 "$LOG" | awk '$1 >= 64 { bad = 1 } END { exit bad }' ||
		{ echo "a block outside the region 0..63"; return 1; }
	# not simply sequential: the second write is not at block 1
	[ "$(pos_of 2)" != 1 ] || { echo "writes are sequential"; return 1; }
}

second_region() {
	expect 0 "$ACK" write "$DEV" --log "$LOG" --first 64 --count 64 --region-blocks 64 &&
		expect 0 "$ACK" verify "$DEV" --log "$LOG" | tee "$W/out" &&
		grep -q "104 acknowledged blocks checked: 104 ok" "$W/out"
}

# flip BYTE of device block POS (as a corrupted replica would hold it)
# flip OFFSET BLOCK: invert the byte at OFFSET of device block BLOCK (a
# constant written there left the block as it was when it held that byte)
flip() {
	local off=$(($2 * 4096 + $1)) b
	b=$(dd if="$DEV" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0xff)))" |
		dd of="$DEV" bs=1 seek="$off" conv=notrunc 2>/dev/null
}

neg_flipped() {
	local p
	p=$(pos_of 7)
	flip 2000 "$p"
	expect 1 "$ACK" verify "$DEV" --log "$LOG" | tee "$W/out"
	grep -q "^wrong: block 6 .* at device block $p " "$W/out" &&
		grep -q "1 wrong" "$W/out"
}

neg_zeroed() {
	local p
	p=$(pos_of 9)
	dd if=/dev/zero of="$DEV" bs=4096 seek="$p" count=1 conv=notrunc 2>/dev/null
	expect 1 "$ACK" verify "$DEV" --log "$LOG" | tee "$W/out"
	grep -q "^missing: block 8 .* at device block $p .*: zeroes" "$W/out"
}

neg_moved() {
	local a b
	a=$(pos_of 20)
	b=$(pos_of 21)
	dd if="$DEV" of="$W/blk" bs=4096 skip="$a" count=1 2>/dev/null &&
		dd if="$W/blk" of="$DEV" bs=4096 seek="$b" count=1 conv=notrunc 2>/dev/null
	expect 1 "$ACK" verify "$DEV" --log "$LOG" | tee "$W/out"
	grep -q "^missing: block 20 .* at device block $b .*: holds block 19 of run" "$W/out"
}

# a write error stops the writer: files limited to 10 blocks (EFBIG)
stopped_by_error() {
	local rc
	rm -f "$W/acks2"
	: >"$W/small"
	(trap '' XFSZ; ulimit -f 40; exec "$ACK" write "$W/small" --log "$W/acks2" \
		--first 0 --count 20) >"$W/out" 2>&1
	rc=$?
	cat "$W/out"
	[ $rc = 1 ] || { echo "exit status $rc, expected 1"; return 1; }
	grep -q "write File too large" "$W/out" &&
		grep -q "stopped by the error above" "$W/out" &&
		[ "$(wc -l <"$W/acks2")" -lt 20 ] &&
		expect 0 "$ACK" verify "$W/small" --log "$W/acks2"
}

malformed_log() {
	echo "ack 12 zz" >"$W/bad"
	expect 1 "$ACK" verify "$DEV" --log "$W/bad"
}

usage_errors() {
	expect 2 "$ACK" write "$DEV" --log "$LOG" --first 0 &&
		expect 2 "$ACK" write "$DEV" --log "$LOG" --first 0 --count 9 --region-blocks 8 &&
		expect 2 "$ACK" verify "$DEV" --log "$LOG" --count 3 &&
		expect 2 "$ACK" frobnicate &&
		expect 0 "$ACK" --help >/dev/null &&
		expect 1 "$ACK" write "$DEV" --log "$LOG" --first 250 --count 10
}

# a later run over the same region supersedes the earlier acknowledgments
# (the damaged blocks are written again)
rewritten() {
	expect 0 "$ACK" write "$DEV" --log "$LOG" --first 0 --count 64 --region-blocks 64 &&
		expect 0 "$ACK" verify "$DEV" --log "$LOG" | tee "$W/out" &&
		grep -q "128 acknowledged blocks checked: 128 ok" "$W/out"
}

t write_logs_every_acknowledged_block write_and_log
t verify_all_present expect 0 "$ACK" verify "$DEV" --log "$LOG"
t writes_scattered_inside_region scattered_in_region
t second_region_leaves_first_intact second_region
t negative_flipped_byte_reported_wrong neg_flipped
t negative_zeroed_block_reported_missing neg_zeroed
t negative_moved_block_reported_missing neg_moved
t write_error_stops_writer_acks_still_verify stopped_by_error
t malformed_log_line_fails malformed_log
t usage_errors_exit_2_region_beyond_device_1 usage_errors
t rewritten_region_supersedes rewritten
[ $failed = 0 ] || exit 1
