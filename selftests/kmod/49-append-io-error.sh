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
echo "    1..5"

ae_cleanup() {
	georepctl volume delete "$S" >/dev/null 2>&1
	dmsetup remove grae-log 2>/dev/null
	vt_cleanup
}
trap ae_cleanup EXIT

# flakey MODE: the secondary's log device up for good, or failing writes
flakey() {
	local t="0 $((LOG_MB * 2048)) flakey $SLB 0"
	case $1 in
	up)	t="$t 3600 0" ;;
	error)	t="$t 0 3600 1 error_writes" ;;
	esac
	dmsetup suspend grae-log && dmsetup load grae-log --table "$t" &&
		dmsetup resume grae-log
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
	dmesg | grep "$S: log write of record $((w + 1)) failed" | tail -n 1
	dmesg | grep -q "$S: log write of record $((w + 1)) failed" || return 1
	[ "$(vt_num "$S" written_seq)" = "$w" ] || { echo "written_seq moved"; return 1; }
	[ "$(chain "$S")" = "$c" ] || { echo "chain hash moved"; return 1; }
}

# the same records, appended once the device works again
recovered() {
	flakey up || return 1
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 4 --commit-to "$S" ||
		return 1
	[ "$(vt_num "$S" written_seq)" = "$(vt_num "$P" written_seq)" ] &&
		[ "$(chain "$S")" = "$(chain "$P")" ] &&
		georepctl ledger verify "$S" --key-dir "$KEYS"
}

# and after a detach and attach, the same log
reattached() {
	georepctl volume delete "$S" &&
		georepctl volume create "$S" --data "$SD" --log /dev/mapper/grae-log \
			--key-dir "$KEYS" || return 1
	[ "$(chain "$S")" = "$(chain "$P")" ] && georepctl ledger verify "$S" --key-dir "$KEYS"
}

vt_check "primary, secondary on dm-flakey, 8 records appended" setup || { vt_done; exit 1; }
vt_check "log writes fail: EIO for the group, nothing appended" write_error
vt_check "the device back: the same records appended, ledger verifies" recovered
vt_check "detached and attached again: the same ledger" reattached
vt_check "delete both" eval 'georepctl volume delete "$S" && georepctl volume delete "$P"'
vt_done
