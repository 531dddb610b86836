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
#
# Between the two, the same race with a GEOREP_IOC_SHIP_NODISK reader
# (georepd's pump on its event loop): it never reads the log device, the
# records it refuses come from a second file, and the copy is the same.

set -u
. "$(dirname "$0")/lib/volume.bash"
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }
command -v dmsetup >/dev/null || { echo "dmsetup not on PATH"; exit $KSFT_SKIP; }
vt_init grvol63
modprobe dm-delay 2>/dev/null
grep -qw delay <(dmsetup targets) || { echo "no dm-delay"; exit $KSFT_SKIP; }

V=vol63-$$
VT_VOLS=$V
DM=grship-log-$$
echo "    1..7"

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

# qd16_load SIZE: random writes of new data, 4-64 KiB, at QD16
qd16_load() {
	fio --name=ship --filename="/dev/georep/$V" --rw=randwrite \
		--bsrange=4k-64k --direct=1 --ioengine=libaio --iodepth=16 \
		--size="$1" --io_size="$1" --refill_buffers --randrepeat=0 \
		--output-format=terse >/dev/null
}

race() {
	local pid t0=$SECONDS
	georep-ledgerop streamcopy "/dev/georep/$V.log" "$T/sealed" 300 --sealed \
		>"$T/sealed.out" 2>"$T/sealed.err" &
	pid=$!
	qd16_load 48M || { kill $pid; return 1; }
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

# georepd's pump reads a GEOREP_IOC_SHIP_NODISK file on its event loop: it
# hands over what it copies from the writes in flight and refuses
# (ENODATA) a record on the log device only, which a second file reads
# (streamcopy --nodisk). From the tail, the first race's records are all
# refused; under the next fio job some records come from their writes.
race_nodisk() {
	local pid
	georep-ledgerop streamcopy "/dev/georep/$V.log" "$T/nodisk" 300 --nodisk \
		>"$T/nodisk.out" 2>"$T/nodisk.err" &
	pid=$!
	qd16_load 24M || { kill $pid; return 1; }
	kill -TERM $pid
	wait $pid || { cat "$T/nodisk.out" "$T/nodisk.err"; return 1; }
	echo "no-disk copy: $(cat "$T/nodisk.out"); $(tr '\n' ' ' <"$T/nodisk.err")"
	grep -q '^read before durable: [1-9]' "$T/nodisk.err" &&
		grep -q 'read from the durable ones: [1-9]' "$T/nodisk.err"
}

compare_nodisk() {
	local out
	out=$(georep-ledgerop streamcopy "/dev/georep/$V.log" "$T/durable2" 0) || return 1
	[ "$out" = "$(cat "$T/nodisk.out")" ] ||
		{ echo "the copies end at different records: $out"; return 1; }
	cmp "$T/nodisk" "$T/durable2"
}

vt_check "24 MiB of QD16 writes while a no-disk reader copies, the rest read apart" race_nodisk
vt_check "the no-disk copy equals the durable records, every seq" compare_nodisk
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
