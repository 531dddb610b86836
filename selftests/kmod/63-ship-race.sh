#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sealed mode under load (Documentation/write-path.rst, "Shipping before
# the local write is durable"). A primary's record is copied from its write
# in flight, and the copy counts only if the write was still in flight
# after it (kmod/ship.c): a write that completed meanwhile hands its pages
# back to the writer, and its record is read from the log device instead.
# fio writes at QD16 (4-64 KiB, random, new random data in every buffer,
# commit rule local so that writes complete and fio refills their buffers
# as fast as the log allows; the log device delays its writes by 2 ms
# through dm-delay, so records stay in flight) while a sealed-mode reader
# copies the stream
# (georep-ledgerop streamcopy --sealed); afterwards the durable records
# are copied again, without sealed mode. The two copies must be the same
# byte for byte, and the ledger must verify: a copy that raced with a
# completed write would hold the writer's next data. The reader must have
# read some records before they were durable (it counts them), or the test
# did not exercise the in-flight copy.
#
# That load rarely completes a write during its copy, so the last step
# makes it happen (georep-shipfault): with the log's writes held 1 s, one
# block is written and its record read in sealed mode into a buffer whose
# payload page is registered with userfaultfd; the kernel's copy faults and
# waits there until the write has completed and the writer has refilled
# its buffer. The record read must still be the block written (the kernel
# reads it from the log device); without the recheck after the copy it is
# the refilled buffer.

set -u
. "$(dirname "$0")/lib/volume.bash"
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
vt_init grvol63
vt_need_dm delay

V=vol63-$$
VT_VOLS=$V
DM=grship-log-$$
echo "    1..5"

do_cleanup() {
	vt_cleanup
	dmsetup remove "$DM" 2>/dev/null
	# the delay target held the loop, so vt_cleanup could not unmount
	drop_tmpfs "$T"
}
trap do_cleanup EXIT

setup() {
	local sz
	D=$(vt_loop data 64) && L=$(vt_loop log 256) || return 1
	sz=$(blockdev --getsz "$L")
	# reads at once, writes (and flushes) 2 ms late
	dmsetup create "$DM" --table "0 $sz delay $L 0 0 $L 0 2" &&
		dmsetup mknodes || return 1
	georepctl volume create "$V" --data "$D" --log "/dev/mapper/$DM" --format \
		--role primary --term 1 --site-id 1 --commit-rule local \
		--key-dir "$KEYS"
}

race() {
	local pid t0=$SECONDS
	georep-ledgerop streamcopy "/dev/georep/$V.log" "$T/sealed" 300 --sealed \
		>"$T/sealed.out" 2>"$T/sealed.err" &
	pid=$!
	fio --name=ship --filename="/dev/georep/$V" --rw=randwrite \
		--bsrange=4k-64k --direct=1 --ioengine=libaio --iodepth=16 \
		--size=48M --io_size=48M --refill_buffers --randrepeat=0 \
		--output-format=terse >/dev/null || { kill $pid; return 1; }
	echo "fio: 48 MiB in $((SECONDS - t0)) s"
	# the reader stops: what it has not read yet it reads now, durable
	kill -TERM $pid
	wait $pid || { cat "$T/sealed.out" "$T/sealed.err"; return 1; }
	echo "sealed copy: $(cat "$T/sealed.out"); $(cat "$T/sealed.err")"
	# the in-flight path ran: some records were copied before durable
	grep -q '^read before durable: [1-9]' "$T/sealed.err"
}

compare() {
	local w out
	w=$(vt_num "$V" written_seq)
	out=$(georep-ledgerop streamcopy "/dev/georep/$V.log" "$T/durable" 0) || return 1
	echo "durable copy: $out; written_seq $w"
	[ "$out" = "$(cat "$T/sealed.out")" ] ||
		{ echo "the copies end at different records"; return 1; }
	[ "${out%% *}" = "next=$((w + 1))" ] ||
		{ echo "the copies do not reach written_seq $w"; return 1; }
	cmp "$T/sealed" "$T/durable"
}

vt_check "primary volume, commit rule local, log on dm-delay (writes 2 ms)" setup || { vt_done; exit 1; }
vt_check "48 MiB of QD16 writes while a sealed-mode reader copies" race
vt_check "the sealed copy equals the durable records, every seq" compare
# a write completing in the middle of its record's copy
fault_race() {
	local sz
	sz=$(blockdev --getsz "$L")
	dmsetup suspend "$DM" &&
		dmsetup load "$DM" --table "0 $sz delay $L 0 0 $L 0 1000" &&
		dmsetup resume "$DM" || return 1
	georep-shipfault "/dev/georep/$V" "/dev/georep/$V.log" 7
}

vt_check "a write that completes during its copy: the durable record is read" fault_race
vt_check "the ledger verifies" georepctl ledger verify "$V"
vt_done
