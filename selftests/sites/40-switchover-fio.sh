#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Planned switchover under a running fio: a 3-site quorum volume, fio
# (randwrite 4 KiB and sequential 64 KiB writes, O_DIRECT, verify=crc32c)
# on the primary P's /dev/georep/P.vol0, and `georepctl switchover vol0 Q`
# asked at P's daemon while fio runs. The rule (georepctl switchover
# --help): while the device is open the switchover is refused (EBUSY,
# naming the open count), or, with --wait SEC, held until the device is
# closed. Asserted:
#  - the plain request is refused while fio runs, and P stays primary;
#  - the --wait request is held while fio runs (P still primary, the
#    command still waiting);
#  - fio ends with no I/O or verify error;
#  - once fio closed the device Q is primary within SWITCH_MAX_S, the
#    --wait command returns success, P and the third site are caught-up
#    secondaries;
#  - fio --verify_only of the same jobs passes on Q's device, and fails
#    after a block of it was overwritten through Q (negative control:
#    verify_only passes for any seed, it must be able to fail);
#  - the three data devices are sha256-identical.

set -u
. "$(dirname "$0")/lib.sh"
SWITCH_MAX_S=20		# qemu TCG, GEOREPD_ELECTION_MS=3000
WAIT_S=600		# the held switchover's bound (fio takes well under it)

sites_init sites-switchover
command -v fio >/dev/null || { echo "fio not on PATH"; exit $KSFT_SKIP; }

# job DEV: the fio jobs on DEV; two regions, each verified by its job.
# thinktime (50 ms after every write, at least 14 s in all) keeps fio
# running through the checks that need it running, however fast the host
job() {
	cat <<EOF
[global]
filename=$1
direct=1
ioengine=psync
verify=crc32c
verify_fatal=1
randrepeat=1
thinktime=50000

[rand4k]
rw=randwrite
bs=4k
offset=0
size=1m

[seq64k]
rw=write
bs=64k
offset=4m
size=2m
EOF
}

vol_role() { vol_json "$1" | sed -n 's/.*"role": "\([a-z]*\)".*/\1/p' | head -n1; }

# in_sync S P: S is a secondary that has written and applied all P wrote
in_sync() {
	local w
	w=$(vol_num "$2" written_seq)
	[ "$(vol_role "$1")" = secondary ] && [ -n "$w" ] &&
		[ "$(vol_num "$1" written_seq)" = "$w" ] &&
		[ "$(vol_num "$1" applied_seq)" = "$w" ]
}

fio_running() { kill -0 "$FIO_PID" 2>/dev/null; }
fio_writing() {
	fio_running && [ "$(vol_num "$P" open_count)" -gt 0 ] &&
		[ "$(vol_num "$P" written_seq)" -gt "$W0" ]
}

pick_target() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] || { Q=$s; break; }
	done
	OTHER=$(for s in $SITES; do [ "$s" = "$P" ] || [ "$s" = "$Q" ] || echo "$s"; done)
	echo "primary $P, switchover target $Q, third site $OTHER"
}

start_fio() {
	job "/dev/georep/$P.$VOL" >"$T/job-$P.fio"
	W0=$(vol_num "$P" written_seq)
	fio "$T/job-$P.fio" --output="$T/fio.out" >/dev/null 2>&1 &
	FIO_PID=$!
	wait_for 30 fio_writing || { cat "$T/fio.out"; return 1; }
	echo "fio $FIO_PID writing at $P: open_count $(vol_num "$P" open_count), written_seq $(vol_num "$P" written_seq)"
}

refused_while_open() {
	local rc
	ctl "$P" switchover "$VOL" "$Q" >"$T/sw.out" 2>&1
	rc=$?
	cat "$T/sw.out"
	fio_running || { echo "fio ended before the request: nothing shown"; return 1; }
	[ $rc != 0 ] || { echo "switchover accepted while the device is open"; return 1; }
	grep -q "in use" "$T/sw.out" || { echo "the refusal does not say the device is in use"; return 1; }
	sleep 1
	[ "$(vol_role "$P")" = primary ] || { echo "$P is no longer primary"; return 1; }
}

# the --wait request returns once the switchover started (or was
# abandoned): it must still be waiting while fio runs
held_while_open() {
	ctl "$P" switchover "$VOL" "$Q" --wait $WAIT_S >"$T/held.out" 2>&1 &
	SW_PID=$!
	sleep 3
	fio_running || { echo "fio ended before the check: nothing shown"; return 1; }
	kill -0 "$SW_PID" 2>/dev/null ||
		{ cat "$T/held.out"; echo "switchover --wait returned while fio runs"; return 1; }
	[ "$(vol_role "$P")" = primary ] && [ "$(vol_role "$Q")" = secondary ] ||
		{ georepctl status; echo "the held switchover did not wait for the close"; return 1; }
	ctl "$P" status --json | grep -o '"switchover": {[^}]*}'
	echo "held: $P still primary while fio runs, switchover --wait $SW_PID waiting"
}

fio_clean() {
	local rc
	wait "$FIO_PID"
	rc=$?
	T_CLOSE=$(now_s)
	cat "$T/fio.out"
	[ $rc = 0 ] || { echo "fio exited with status $rc"; return 1; }
	! grep -E "err= *[1-9]|verify: bad|crc32c: verify failed" "$T/fio.out"
}

q_primary() { [ "$(vol_role "$Q")" = primary ]; }

switched() {
	local t1 rc
	wait_for $SWITCH_MAX_S q_primary ||
		{ georepctl status; echo "$Q is not primary $SWITCH_MAX_S s after fio closed the device"; return 1; }
	t1=$(now_s)
	echo "switchover $P -> $Q $(elapsed "$T_CLOSE" "$t1") s after fio closed the device"
	wait "$SW_PID"
	rc=$?
	cat "$T/held.out"
	[ $rc = 0 ] || { echo "switchover --wait exited with status $rc"; return 1; }
	wait_for 30 in_sync "$P" "$Q" && wait_for 30 in_sync "$OTHER" "$Q" ||
		{ georepctl status; echo "the secondaries did not catch up with $Q"; return 1; }
	georepctl status
}

verify_at_new() {
	job "/dev/georep/$Q.$VOL" >"$T/job-$Q.fio"
	fio "$T/job-$Q.fio" --verify_only --output="$T/verify.out" >/dev/null 2>&1
	local rc=$?
	grep -E "verify|err=" "$T/verify.out"
	[ $rc = 0 ] || { cat "$T/verify.out"; echo "verify_only exited with status $rc"; }
	[ $rc = 0 ]
}

# one 4 KiB block of the randwrite region overwritten through the primary:
# verify_only must now fail, naming that offset
negative_control() {
	local blk=$((RANDOM % 256)) rc
	head -c 4096 /dev/urandom >"$T/junk"
	dd if="$T/junk" of="/dev/georep/$Q.$VOL" bs=4096 seek=$blk count=1 oflag=direct \
		conv=notrunc status=none || return 1
	echo "overwrote block $blk (offset $((blk * 4096))) at $Q"
	fio "$T/job-$Q.fio" --verify_only --output="$T/neg.out" >"$T/neg.err" 2>&1
	rc=$?
	grep -iE "verify|bad|offset" "$T/neg.err" "$T/neg.out" | head -n 8
	[ $rc != 0 ] || { echo "verify_only passed over a corrupted block"; return 1; }
	grep -q "offset $((blk * 4096))" "$T/neg.err" "$T/neg.out" ||
		{ echo "fio did not name offset $((blk * 4096))"; return 1; }
}

check network sites_network || exit 1
check volumes sites_volumes 64 128 || exit 1
check config sites_config || exit 1
check leader_elected_volume_primary elect || exit 1
pick_target
check fio_writing_at_primary start_fio || exit 1
check switchover_refused_while_device_open refused_while_open
check switchover_wait_held_while_device_open held_while_open
check fio_no_io_or_verify_error fio_clean
check switched_to_target_once_closed_secondaries_in_sync switched || exit 1
check fio_verify_only_passes_at_new_primary verify_at_new
check data_devices_identical data_identical
check negative_control_corrupted_block_fails_verify negative_control
[ "$failed" = 0 ]
