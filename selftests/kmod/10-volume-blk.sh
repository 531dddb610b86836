#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The block device of a primary volume: a writer that changes its
# O_DIRECT buffer mid-write, O_DIRECT round trip, fio with
# crc32c verification, ext4 round trip with checksums across umount and
# across a delete and re-attach, discard, empty flushes, delete refused
# while open, and a clean ledger after all of it.

set -u
. "$(dirname "$0")/lib/volume.bash"
VT_TMPFS_MB=700
vt_init grvol10

V=vol10-$$
VT_VOLS=$V
echo "    1..13"

setup() {
	DATA=$(vt_loop data 256) && LOG=$(vt_loop log 192) || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --format \
		--role primary --term 1 --key-dir "$KEYS" || return 1
	[ "$(blockdev --getss "/dev/georep/$V")" = 4096 ] || { echo "not 4 KiB blocks"; return 1; }
	[ "$(blockdev --getsize64 "/dev/georep/$V")" = $((256 << 20)) ] || { echo "size"; return 1; }
}

# the same device as data and log is refused, and not formatted
one_device_refused() {
	local one before out
	one=$(vt_loop one 16) || return 1
	head -c 16M /dev/urandom >"$one" || return 1
	before=$(sha256sum <"$one")
	if out=$(georepctl volume create "$V-one" --data "$one" --log "$one" --format \
		--role primary --term 1 --key-dir "$KEYS" 2>&1); then
		echo "created: $out"
		georepctl volume delete "$V-one"
		return 1
	fi
	echo "$out"
	[[ $out == *"data and log devices overlap"* ]] && [ "$(sha256sum <"$one")" = "$before" ]
}

# an O_DIRECT writer that changes its buffer while its writes run: the
# log holds what was hashed, the data device what the log holds (blk.c,
# io_copy(); before it, the payload hashed was not always the one logged)
scribbled_writes() {
	local w=$V-scr wd wl
	# a log that 2 s of 16 KiB writes leave below its release mark: no
	# daemon releases it, and georep-datacmp replays it from record 1
	wd=$(vt_loop scrdata 16) && wl=$(vt_loop scrlog 160) || return 1
	georepctl volume create "$w" --data "$wd" --log "$wl" --format \
		--role primary --term 1 --key-dir "$KEYS" || return 1
	georep-scribble "/dev/georep/$w" 2 4 || return 1
	georepctl status "$w" --json | grep -E '"(written_seq|log_used)"' | tr -d ' '
	georepctl ledger verify "$w" --key-dir "$KEYS" &&
		georep-datacmp "/dev/georep/$w.log" "/dev/georep/$w" --initial-zero &&
		georepctl volume delete "$w"
}

direct_round_trip() {
	head -c 1M /dev/urandom >"$T/rand" || return 1
	dd if="$T/rand" of="/dev/georep/$V" bs=64k seek=16 oflag=direct status=none || return 1
	dd if="/dev/georep/$V" of="$T/back" bs=64k skip=16 count=16 iflag=direct status=none || return 1
	cmp "$T/rand" "$T/back" && cmp <(dd if="$DATA" bs=64k skip=16 count=16 status=none) "$T/rand"
}

fio_verify() {
	command -v fio >/dev/null || { echo "no fio"; return 0; }
	fio --name=verify --filename="/dev/georep/$V" --direct=1 --ioengine=libaio \
	    --rw=randwrite --bs=4k --iodepth=8 --offset=8M --size=24M \
	    --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=1 \
	    --output-format=terse >"$T/fio" 2>&1 || { cat "$T/fio"; return 1; }
	fio --name=verify-big --filename="/dev/georep/$V" --direct=1 --ioengine=libaio \
	    --rw=write --bs=1M --iodepth=4 --offset=32M --size=32M \
	    --verify=crc32c --verify_fatal=1 --do_verify=1 \
	    --output-format=terse >"$T/fio" 2>&1 || { cat "$T/fio"; return 1; }
	# the log has room for the rest only once these records are released
	georepctl ledger release "$V" "$(vt_num "$V" written_seq)" || return 1
	[ "$(vt_num "$V" log_used)" = 0 ] || { echo "log_used not 0 after release"; return 1; }
}

ext4_round_trip() {
	mkfs.ext4 -q -F "/dev/georep/$V" || return 1
	mkdir -p "$T/mnt" && mount "/dev/georep/$V" "$T/mnt" || return 1
	mkdir "$T/mnt/d" && for i in 1 2 3 4 5 6 7 8; do
		head -c $((i * 100000)) /dev/urandom >"$T/mnt/d/f$i" || return 1
	done
	cp "$T/rand" "$T/mnt/rand" && sync || return 1
	(cd "$T/mnt" && sha256sum d/* rand) >"$T/sums"
	umount "$T/mnt" && mount "/dev/georep/$V" "$T/mnt" || return 1
	(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") || return 1
	umount "$T/mnt"
}

discard_ok() {
	local before
	before=$(vt_num "$V" written_seq)
	blkdiscard -o $((200 << 20)) -l $((4 << 20)) "/dev/georep/$V" || return 1
	georepctl ledger dump "$V" --from $((before + 1)) | grep -q ' discard ' ||
		{ echo "no discard record"; return 1; }
}

flush_ok() {
	blockdev --flushbufs "/dev/georep/$V" || return 1
	dd if="$T/rand" of="/dev/georep/$V" bs=4k count=4 seek=4000 oflag=direct,sync \
	   conv=fsync status=none
}

busy_refused() {
	exec 7<"/dev/georep/$V"
	vt_expect_fail georepctl volume delete "$V" >"$T/e" 2>&1
	local rc=$?
	exec 7<&-
	cat "$T/e"
	[ $rc = 0 ] && grep -q 'busy' "$T/e"
}

reattach_keeps_data() {
	sha256sum <"/dev/georep/$V" >"$T/dev.sum" || return 1
	georepctl volume delete "$V" || return 1
	georepctl volume create "$V" --data "$DATA" --log "$LOG" --key-dir "$KEYS" || return 1
	sha256sum <"/dev/georep/$V" | cmp - "$T/dev.sum" || return 1
	mount "/dev/georep/$V" "$T/mnt" && (cd "$T/mnt" && sha256sum -c --quiet "$T/sums")
	local rc=$?
	umount "$T/mnt"
	return $rc
}

verify_clean() {
	georepctl ledger verify "$V" --key-dir "$KEYS"
}

records_match_seq() {
	local written lines tail
	written=$(vt_num "$V" written_seq)
	tail=$(vt_num "$V" tail_seq)
	georepctl ledger dump "$V" | grep -v '^#' | awk '{ print $1 }' >"$T/seqs"
	lines=$(wc -l <"$T/seqs")
	echo "tail $tail, written_seq $written, $lines records"
	seq "$tail" "$written" | cmp - "$T/seqs" && [ "$(vt_num "$V" applied_seq)" = "$written" ]
}

vt_check "create a primary with 4 KiB blocks" setup
vt_check "one device as data and log refused, nothing written" one_device_refused
vt_check "a writer changing its O_DIRECT buffer mid-write: ledger verifies, data matches" \
	scribbled_writes
vt_check "O_DIRECT round trip, data device matches" direct_round_trip
vt_check "fio randwrite and 1 MiB writes verify (crc32c)" fio_verify
vt_check "ext4: files survive umount/mount" ext4_round_trip
vt_check "discard becomes a discard record" discard_ok
vt_check "empty flush and fsync" flush_ok
vt_check "delete refused while the device is open" busy_refused
vt_check "data and fs survive delete and re-attach" reattach_keeps_data
vt_check "ledger verifies after all of it" verify_clean
vt_check "one record per write, seq without gaps" records_match_seq
vt_check "delete" georepctl volume delete "$V"
vt_done
