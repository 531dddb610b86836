#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash recovery on attach, on images of a primary's devices: the log as it
# was after the writes but with the superblock of before them (a power cut
# before any superblock update), and the data device as it was before the
# writes. Attach replays every durable record (the device ends identical);
# a torn last record is dropped (its block keeps the old data); a record
# whose header was damaged inside the durable range fails the attach with
# the seq named.

set -u
. "$(dirname "$0")/lib/volume.bash"
VT_TMPFS_MB=500
vt_init grvol45

V=vol45-$$
VT_VOLS=$V
echo "    1..6"

setup() {
	truncate -s 64M "$T/data.img" && truncate -s 16M "$T/log.img" || return 1
	DATA=$(losetup -f --show "$T/data.img") && LOG=$(losetup -f --show "$T/log.img") ||
		return 1
	VT_LOOPS="$VT_LOOPS $DATA $LOG"
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--standalone --role primary --term 1 --key-dir "$KEYS" || return 1
	# the state a power cut right after create would leave
	dd if="$T/log.img" of="$T/sb0" bs=4k count=1 status=none &&
	cp "$T/data.img" "$T/data0.img"
}

writes() {
	local i
	for i in $(seq 0 19); do
		dd if=/dev/urandom of="/dev/georep/$V" bs=$(( (i % 3 + 1) * 4096 )) \
		   count=1 seek=$((i * 50 * 4096)) oflag=direct,seek_bytes \
		   iflag=fullblock status=none || return 1
	done
	sha256sum <"/dev/georep/$V" >"$T/final.sum"
	# record 20 (4 KiB at block 950) as it was before: zeroes
	georepctl volume delete "$V"
}

# crash_images: log = final area + old superblock, data = before the writes
crash_images() {
	# whatever a failed check before left behind
	georepctl volume delete "$V" >/dev/null 2>&1
	[ -n "${CDATA:-}" ] && drop_crash_images
	cp "$T/log.img" "$T/clog.img" && cp "$T/data0.img" "$T/cdata.img" || return 1
	dd if="$T/sb0" of="$T/clog.img" bs=4k count=1 conv=notrunc status=none || return 1
	CDATA=$(losetup -f --show "$T/cdata.img") && CLOG=$(losetup -f --show "$T/clog.img") ||
		return 1
	VT_LOOPS="$VT_LOOPS $CDATA $CLOG"
}

drop_crash_images() {
	losetup -d "$CDATA" "$CLOG"
	VT_LOOPS=${VT_LOOPS% $CDATA $CLOG}
	CDATA=
}

replays_all() {
	crash_images || return 1
	georepctl volume create "$V" --data "$CDATA" --log "$CLOG" --key-dir "$KEYS" || return 1
	dmesg | grep "$V: log recovered" | tail -n 1
	[ "$(vt_num "$V" written_seq)" = 20 ] || { echo "written_seq not 20"; return 1; }
	sha256sum <"/dev/georep/$V" | cmp - "$T/final.sum" || { echo "data differs"; return 1; }
	georepctl ledger verify "$V" --key-dir "$KEYS" || return 1
	georepctl volume delete "$V" && drop_crash_images
}

torn_tail_dropped() {
	crash_images || return 1
	# record 20's payload never made it: its block on the log is stale
	georep-corrupt "$CLOG" 20 300 || return 1
	georepctl volume create "$V" --data "$CDATA" --log "$CLOG" --key-dir "$KEYS" || return 1
	dmesg | grep "$V: log recovered" | tail -n 1
	[ "$(vt_num "$V" written_seq)" = 19 ] || { echo "written_seq not 19"; return 1; }
	cmp <(dd if="/dev/georep/$V" bs=4k skip=950 count=2 status=none) \
	    <(head -c 8192 /dev/zero) || { echo "torn record applied"; return 1; }
	# the next write takes seq 20 again and the ledger verifies
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek=3000 oflag=direct status=none &&
	[ "$(vt_num "$V" written_seq)" = 20 ] &&
	georepctl ledger verify "$V" --key-dir "$KEYS" || return 1
	georepctl volume delete "$V" && drop_crash_images
}

damage_in_durable_range() {
	crash_images || return 1
	georep-corrupt "$CLOG" 10 40 || return 1
	vt_expect_fail georepctl volume create "$V" --data "$CDATA" --log "$CLOG" \
		--key-dir "$KEYS" >"$T/c" 2>&1
	cat "$T/c"
	grep -q "record 10 failed its chain check" "$T/c" || return 1
	drop_crash_images
}

clean_attach() {
	georepctl volume delete "$V" >/dev/null 2>&1
	[ -n "${CDATA:-}" ] && drop_crash_images
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --key-dir "$KEYS" &&
	[ "$(vt_num "$V" written_seq)" = 20 ] &&
	sha256sum <"/dev/georep/$V" | cmp - "$T/final.sum"
}

vt_check "primary, state after create saved" setup
vt_check "20 writes, clean delete" writes
vt_check "power cut before any superblock update: all records replayed" replays_all
vt_check "torn last record dropped, seq reused" torn_tail_dropped
vt_check "damaged header followed by valid records: attach names it" damage_in_durable_range
vt_check "the real devices attach cleanly" clean_attach
vt_done
