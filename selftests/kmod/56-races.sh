#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Races (issue 8): everything a daemon and an operator do to a volume, at
# once, for RACE_SECS seconds (default 60; RACE_SECS=600 for a soak):
#
#   - writes to the primary P and to a standalone volume V;
#   - apply: georep-pump ships P's records to the secondary S and commits
#     them (--commit-to S), so S's apply worker runs;
#   - heal writes on S with GEOREP_IOC_DATA_WRITE (georep-ledgerop
#     datawrite) and whole-device resyncs of S from P (georep-ledgerop
#     resync), racing the apply worker;
#   - stream reads of P's and V's logs (dd from /dev/georep/VOL.log);
#   - georepctl ledger verify of P and V;
#   - volume delete of P and S, whose block devices a holder keeps open:
#     each attempt must be refused with "busy";
#   - volume delete of V, whose log stream is being read and written and
#     whose block device a holder opens now and then: each
#     attempt is refused or succeeds, and a success must leave nothing of V
#     (no block device, no stream node, no status); V is then re-attached;
#   - rmmod georep: refused while volumes exist, the module stays loaded.
#
# Afterwards P, S and V must still take a write and pass ledger verify, and
# the kernel log must be clean (run_tests.sh checks it and the final
# unload). Each worker's runs and failures are printed. Worker errors (EBUSY, ENOENT from a deleted V, ...) are expected
# and only counted; what is asserted is that the kernel survives and stays
# consistent.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol56

P=vol56p-$$
S=vol56s-$$
V=vol56v-$$
VT_VOLS="$S $P $V"
RACE_SECS=${RACE_SECS:-60}
echo "    1..4"

setup() {
	PD=$(vt_loop pdata 16) && PL=$(vt_loop plog 64) || return 1
	SD=$(vt_loop sdata 16) && SL=$(vt_loop slog 64) || return 1
	VD=$(vt_loop vdata 16) && VL=$(vt_loop vlog 64) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" \
		--site-id 2 || return 1
	georepctl volume create "$V" --data "$VD" --log "$VL" --format \
		--standalone --key-dir "$KEYS" || return 1
	# the log must not fill during the race: release what S applied
	georepctl volume set "$P" --high-wm 100 --low-wm 99 >/dev/null
	georepctl volume set "$V" --high-wm 100 --low-wm 99 >/dev/null
	dd if=/dev/urandom of="$T/blk" bs=4k count=1 status=none
}

# worker NAME CMD...: run CMD until $T/stop exists; count runs and failures
worker() {
	local name=$1 runs=0 fails=0
	shift
	while [ ! -e "$T/stop" ]; do
		runs=$((runs + 1))
		"$@" >>"$T/$name.log" 2>&1 || fails=$((fails + 1))
	done
	echo "$name: $runs runs, $fails failed" >"$T/$name.count"
}

# VOL: 16 random 4 KiB blocks somewhere in the first 4 MiB; nocreat: V's
# device node may be gone, dd must not create a regular file in its place
w_write() {
	dd if=/dev/urandom of="/dev/georep/$1" bs=4k count=16 \
		seek=$((RANDOM % 1008)) oflag=direct conv=nocreat,notrunc status=none
}

w_release() {	# VOL: release everything written, as a daemon would
	local w
	w=$(vt_num "$1" written_seq) && [ -n "$w" ] && [ "$w" != 0 ] &&
		georepctl ledger release "$1" "$w" >/dev/null
	sleep 0.5
}

w_apply() {
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --max 256 \
		--commit-to "$S" && w_release "$S"
}

w_heal() {	# one 4 KiB heal write at a random block of S
	georep-ledgerop datawrite "/dev/georep/$S.log" $(((RANDOM % 4096) * 8)) \
		"$T/blk" "/dev/georep/$P.log"
}

w_resync() {
	georep-ledgerop resync "/dev/georep/$P" "/dev/georep/$S.log" "/dev/georep/$P.log"
	sleep 2
}

w_stream() {	# VOL: read the first records of its log stream
	dd if="/dev/georep/$1.log" of=/dev/null bs=64k count=8 status=none
}

w_verify() {
	georepctl ledger verify "$1" --key-dir "$KEYS" >/dev/null
}

# delete attempts on a volume whose block device is held open: "busy"
w_delete_busy() {
	if georepctl volume delete "$1" >"$T/del.$1" 2>&1; then
		echo "delete $1 succeeded while its device was open" >>"$T/violations"
	elif ! grep -qi busy "$T/del.$1"; then
		echo "delete $1 refused without 'busy': $(cat "$T/del.$1")" >>"$T/violations"
	fi
	sleep 0.3
}

# delete attempts on V: refused busy, or gone entirely and re-attached
w_delete_v() {
	if georepctl volume delete "$V" >"$T/del.v" 2>&1; then
		echo x >>"$T/v.deleted"
		udevadm settle 2>/dev/null
		[ -e "/dev/georep/$V" ] && echo "V deleted, /dev/georep/$V remains" >>"$T/violations"
		[ -e "/dev/georep/$V.log" ] && echo "V deleted, $V.log remains" >>"$T/violations"
		georepctl status "$V" >/dev/null 2>&1 &&
			echo "V deleted, status still answers" >>"$T/violations"
		sleep 0.5
		georepctl volume create "$V" --data "$VD" --log "$VL" --key-dir "$KEYS" \
			>>"$T/v.reattach" 2>&1 || echo "V re-attach failed: $(tail -1 "$T/v.reattach")" \
			>>"$T/violations"
		udevadm settle 2>/dev/null
	elif grep -qi busy "$T/del.v"; then
		echo x >>"$T/v.busy"
	else
		echo "delete V refused without 'busy': $(cat "$T/del.v")" >>"$T/violations"
	fi
	sleep 1
}

# keep V's block device open now and then, so that some deletes of V are
# refused; a missing node just fails the redirection
w_hold_v() {
	# shellcheck disable=SC2217
	[ -b "/dev/georep/$V" ] && sleep 0.7 <"/dev/georep/$V"
	sleep 0.3
}

w_rmmod() {
	if rmmod georep >"$T/rmmod.out" 2>&1; then
		echo "rmmod succeeded with volumes attached" >>"$T/violations"
	elif ! grep -q '^georep ' /proc/modules; then
		echo "rmmod failed but the module is gone" >>"$T/violations"
	elif ! grep -qi 'in use' "$T/rmmod.out"; then
		echo "rmmod refused without 'in use': $(cat "$T/rmmod.out")" >>"$T/violations"
	fi
	sleep 1
}

race() {
	local c
	: >"$T/violations"; : >"$T/v.deleted"; : >"$T/v.busy"
	rm -f "$T/stop"
	# holders keep P's and S's block devices open (S read-only: fenced)
	# shellcheck disable=SC2217
	sleep $((RACE_SECS + 30)) <"/dev/georep/$P" &
	HOLD_P=$!
	# shellcheck disable=SC2217
	sleep $((RACE_SECS + 30)) <"/dev/georep/$S" &
	HOLD_S=$!
	worker write-p w_write "$P" &
	worker write-v w_write "$V" &
	worker apply w_apply &
	worker heal w_heal &
	worker resync w_resync &
	worker stream-p w_stream "$P" &
	worker stream-v w_stream "$V" &
	worker verify-p w_verify "$P" &
	worker verify-v w_verify "$V" &
	worker delete-p w_delete_busy "$P" &
	worker delete-s w_delete_busy "$S" &
	worker delete-v w_delete_v &
	worker hold-v w_hold_v &
	worker rmmod w_rmmod &
	sleep "$RACE_SECS"
	touch "$T/stop"
	for c in $(jobs -p); do
		[ "$c" = "$HOLD_P" ] || [ "$c" = "$HOLD_S" ] || wait "$c"
	done
	kill "$HOLD_P" "$HOLD_S" 2>/dev/null
	wait "$HOLD_P" "$HOLD_S" 2>/dev/null
	cat "$T"/*.count
	echo "V: deleted $(wc -l <"$T/v.deleted") times," \
		"refused busy $(wc -l <"$T/v.busy") times"
	tail -n 3 "$T/heal.log" "$T/resync.log" "$T/apply.log" 2>/dev/null
	cat "$T/violations"
	[ ! -s "$T/violations" ]
}

# the volumes still work: the secondary catches up with the primary,
# each takes its writes and passes ledger verify
still_work() {
	local v w
	[ -e "/dev/georep/$V" ] || georepctl volume create "$V" --data "$VD" \
		--log "$VL" --key-dir "$KEYS" || return 1
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --commit-to "$S" || return 1
	w=$(vt_num "$S" written_seq)
	vt_wait_applied "$S" "$w" || return 1
	for v in "$P" "$V"; do
		dd if=/dev/urandom of="/dev/georep/$v" bs=4k count=4 oflag=direct,sync \
			status=none || return 1
	done
	for v in "$P" "$S" "$V"; do
		georepctl ledger verify "$v" --key-dir "$KEYS" || return 1
	done
}

delete_all() {
	local v left=
	georepctl volume delete "$S" && georepctl volume delete "$P" &&
		georepctl volume delete "$V" || return 1
	for v in "$S" "$P" "$V"; do
		[ -e "/dev/georep/$v" ] || [ -e "/dev/georep/$v.log" ] && left="$left $v"
	done
	[ -z "$left" ] || { echo "nodes left behind:$left"; ls -l /dev/georep; return 1; }
}

vt_check "a primary, its secondary and a standalone volume" setup
vt_check "${RACE_SECS}s of writes, apply, heal, resync, reads, verify, delete, rmmod" race
vt_check "the volumes still take writes and verify" still_work
vt_check "delete all three" delete_all
vt_done
