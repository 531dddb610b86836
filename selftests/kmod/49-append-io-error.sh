#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A secondary's log device that fails writes while a group of records is
# appended (kmod/append.c): the secondary's log is a dm-flakey device,
# switched to error_writes for a while. The write(2) fails with EIO naming
# the record in the kernel log, nothing of the group is appended
# (written_seq, chain hash and the next seq unchanged), the volume is not
# left half-way: once the device works again the same records are
# appended, the ledger verifies and ends on the primary's chain hash.
#
# A group's records whose places in the log follow each other go to the
# log device as one write (append.c, "runs"): 8 records in one write(2) are
# at most 2 writes on the device under the log, not 8.
#
# Then a flush that fails after the group's log writes succeeded (append.c,
# append_publish()): the log becomes a dm-delay target that holds flushes
# 3 s, over a dm-flakey device that is switched to error_writes while a
# group's flush is held. The write(2) fails with EIO, nothing of the group
# is appended, and the volume stays broken (appends refused) with the device
# working again, until it is attached again: recovery then decides what of
# the group reached the disk, and the ledger catches up with the
# primary's and verifies.

set -u
. "$(dirname "$0")/lib/volume.bash"

for p in dmsetup georep-pump georep-mkreplica; do
	command -v $p >/dev/null || { echo "$p not on PATH"; exit $KSFT_SKIP; }
done
vt_init grae
modprobe dm-flakey 2>/dev/null
grep -qw flakey <(dmsetup targets) || { echo "no dm-flakey"; exit $KSFT_SKIP; }

P=vol49p-$$
S=vol49s-$$
VT_VOLS="$S $P"
LOG_MB=32
echo "    1..8"

ae_cleanup() {
	georepctl volume delete "$S" >/dev/null 2>&1
	dmsetup remove grae-log 2>/dev/null
	dmsetup remove grae-inner 2>/dev/null
	vt_cleanup
}
trap ae_cleanup EXIT

# flakey MODE [DEV]: the flakey device over the secondary's log loop
# (grae-log, or grae-inner under the delay target) up, or failing writes
flakey() {
	local t="0 $((LOG_MB * 2048)) flakey $SLB 0" dev=${2:-grae-log}
	case $1 in
	up)	t="$t 3600 0" ;;
	error)	t="$t 0 3600 1 error_writes" ;;
	esac
	dmsetup suspend "$dev" && dmsetup load "$dev" --table "$t" &&
		dmsetup resume "$dev"
}

setup() {
	PD=$(vt_loop pdata 64) && PL=$(vt_loop plog 64) && SD=$(vt_loop sdata 64) &&
		SLB=$(vt_loop slog $LOG_MB) || return 1
	dmsetup create grae-log --table "0 $((LOG_MB * 2048)) flakey $SLB 0 3600 0" &&
		dmsetup mknodes || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format --role primary \
		--term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log /dev/mapper/grae-log --key-dir "$KEYS" \
		--site-id 2 || return 1
	cp -a "$KEYS/$P" "$KEYS/$S" || return 1
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k count=8 oflag=direct status=none &&
		georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 8
}

chain() { georepctl status "$1" --json | grep chain_hash; }

# writes completed by the loop device under the secondary's log (its
# stat; the dm device over it keeps none)
log_writes() {
	awk '{ print $5 }' "/sys/block/$(basename "$SLB")/stat"
}

# 8 records in one write(2): one run, one write of the log (and a flush)
one_run() {
	local w0 w1 s0
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=50 count=8 oflag=direct \
		status=none || return 1
	s0=$(vt_num "$S" written_seq)
	w0=$(log_writes)
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 8 || return 1
	w1=$(log_writes)
	echo "records $((s0 + 1))..$(vt_num "$S" written_seq): $((w1 - w0)) writes on the log device"
	[ "$(vt_num "$S" written_seq)" = $((s0 + 8)) ] || return 1
	[ $((w1 - w0)) -ge 1 ] && [ $((w1 - w0)) -le 2 ]
}

write_error() {
	local w c
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=100 count=4 oflag=direct \
		status=none || return 1
	w=$(vt_num "$S" written_seq)
	c=$(chain "$S")
	flakey error || return 1
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 4 \
		>"$T/p" 2>&1
	cat "$T/p"
	grep -q "record $((w + 1)) refused: Input/output error" "$T/p" || return 1
	dmesg | grep "$S: log write of records $((w + 1))\.\." | tail -n 1
	dmesg | grep -q "$S: log write of records $((w + 1))\.\.$((w + 4)) failed" ||
		return 1
	[ "$(vt_num "$S" written_seq)" = "$w" ] || { echo "written_seq moved"; return 1; }
	[ "$(chain "$S")" = "$c" ] || { echo "chain hash moved"; return 1; }
}

# the secondary takes the primary's records on and ends on its chain hash
caught_up() {
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 4 --commit-to "$S" ||
		return 1
	[ "$(vt_num "$S" written_seq)" = "$(vt_num "$P" written_seq)" ] &&
		[ "$(chain "$S")" = "$(chain "$P")" ] &&
		georepctl ledger verify "$S" --key-dir "$KEYS"
}

# the same records, appended once the device works again
recovered() {
	flakey up && caught_up
}

# and after a detach and attach, the same log
reattached() {
	georepctl volume delete "$S" &&
		georepctl volume create "$S" --data "$SD" --log /dev/mapper/grae-log \
			--key-dir "$KEYS" || return 1
	[ "$(chain "$S")" = "$(chain "$P")" ] && georepctl ledger verify "$S" --key-dir "$KEYS"
}

# grae-log: flushes held 3 s, over grae-inner
delayed_flushes() {
	local sz=$((LOG_MB * 2048)) i=/dev/mapper/grae-inner
	dmsetup create grae-inner --table "0 $sz flakey $SLB 0 3600 0" &&
		dmsetup mknodes || return 1
	dmsetup suspend grae-log &&
		dmsetup load grae-log --table "0 $sz delay $i 0 0 $i 0 0 $i 0 3000" &&
		dmsetup resume grae-log
}

flush_error() {
	local w c pid
	delayed_flushes || return 1
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=200 count=4 oflag=direct \
		status=none || return 1
	w=$(vt_num "$S" written_seq)
	c=$(chain "$S")
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 4 >"$T/f" 2>&1 &
	pid=$!
	# the group's writes went through; its flush waits in dm-delay
	sleep 1
	kill -0 $pid 2>/dev/null || { cat "$T/f"; echo "the append did not wait"; return 1; }
	flakey error grae-inner || return 1
	wait $pid && { cat "$T/f"; echo "the append succeeded"; return 1; }
	cat "$T/f"
	grep -q "record $((w + 1)) refused: Input/output error" "$T/f" || return 1
	dmesg | grep "$S: log flush after records $((w + 1)).. failed" | tail -n 1
	dmesg | grep -q "$S: log flush after records $((w + 1)).. failed" || return 1
	[ "$(vt_num "$S" written_seq)" = "$w" ] || { echo "written_seq moved"; return 1; }
	[ "$(chain "$S")" = "$c" ] || { echo "chain hash moved"; return 1; }
	# the device works again, the volume does not take appends
	flakey up grae-inner || return 1
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 4 \
		>"$T/f2" 2>&1
	cat "$T/f2"
	[ "$(vt_num "$S" written_seq)" = "$w" ] || { echo "written_seq moved"; return 1; }
}

# attached again: recovery decides; then it catches up and verifies
flush_recovered() {
	georepctl volume delete "$S" &&
		georepctl volume create "$S" --data "$SD" --log /dev/mapper/grae-log \
			--key-dir "$KEYS" || return 1
	echo "recovered at written_seq $(vt_num "$S" written_seq)," \
		"the primary at $(vt_num "$P" written_seq)"
	caught_up
}

vt_check "primary, secondary on dm-flakey, 8 records appended" setup || { vt_done; exit 1; }
vt_check "8 records of one write(2): at most 2 writes of the log device" one_run
vt_check "log writes fail: EIO for the group, nothing appended" write_error
vt_check "the device back: the same records appended, ledger verifies" recovered
vt_check "detached and attached again: the same ledger" reattached
vt_check "a flush fails after the writes: EIO, nothing appended, broken" flush_error
vt_check "attached again: recovery decides, it catches up, ledger verifies" flush_recovered
vt_check "delete both" eval 'georepctl volume delete "$S" && georepctl volume delete "$P"'
vt_done
