#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The acknowledged-write checker: no write the primary acknowledged is lost
# by a failover. A 3-site quorum volume; each round georep-ackcheck writes
# numbered blocks (O_DIRECT|O_DSYNC, each logged once acknowledged, a
# region of its own per round) at the primary P, and after a random delay
# P's site is killed (daemon SIGKILL, links cut) or partitioned (links cut,
# daemon alive). Asserted each round:
#  - another site is primary within FAILOVER_MAX_S;
#  - every block acknowledged so far (all rounds) reads back from the new
#    primary's device;
#  - the old primary's writer ends (its write waiting for a commit fails
#    with EIO when its daemon rejoins and truncates the uncommitted suffix,
#    or succeeds when the new primary committed that record);
#  - the old site, mended (and restarted if killed), is a caught-up
#    secondary again within REJOIN_MAX_S, and the acknowledged blocks are
#    still all on the primary.
# At the end every site holds every acknowledged block, the three data
# devices are identical and no task is blocked (D state); a logged block
# that was never written is reported missing (negative control).
#
# Random choices (fault order, delays) come from the seed printed at the
# start; ACK_SEED=N replays them, ACK_ROUNDS=N changes the round count.

set -u
. "$(dirname "$0")/lib.sh"
FAILOVER_MAX_S=20	# qemu TCG, GEOREPD_ELECTION_MS=3000
REJOIN_MAX_S=60
WRITER_END_S=30		# well below the 120 s hung-task detector
REGION=2048		# blocks per round (8 MiB): more than a round writes
ROUNDS=${ACK_ROUNDS:-3}
SEED=${ACK_SEED:-$RANDOM}
RANDOM=$SEED
echo "# ack-writes: seed $SEED (replay: ACK_SEED=$SEED), $ROUNDS rounds"

sites_init sites-ack
ACKS=$T/acks
: >"$ACKS"
WPID=""

acked() { wc -l <"$ACKS"; }

# in_sync S P: S is a secondary that has written and applied all P wrote,
# with no diverged blocks left to heal
in_sync() {
	local j w
	j=$(vol_json "$1") || return 1
	w=$(vol_num "$2" written_seq)
	echo "$j" | grep -q '"role": "secondary"' &&
		! echo "$j" | grep -q '"diverged": true' &&
		[ -n "$w" ] &&
		[ "$(vol_num "$1" written_seq)" = "$w" ] &&
		[ "$(vol_num "$1" applied_seq)" = "$w" ]
}

# applied_all S: S's data device holds every record of its log
applied_all() {
	[ "$(vol_num "$1" applied_seq)" = "$(vol_num "$1" written_seq)" ]
}

writer_gone() { ! kill -0 "$WPID" 2>/dev/null; }

# D-state tasks, by pid and name
blocked_tasks() {
	local f
	for f in /proc/[0-9]*/stat; do
		grep -q ') D ' "$f" 2>/dev/null &&
			echo "${f%/stat}: $(awk '{ print $2 }' "$f" 2>/dev/null)"
	done
}

start_writer() {
	local before n
	before=$(acked)
	georep-ackcheck write "/dev/georep/$P.$VOL" --log "$ACKS" --first $((R * REGION)) \
		--count $REGION --region-blocks $REGION >"$T/writer-$R.out" 2>&1 &
	WPID=$!
	echo "writer $WPID at $P, blocks $((R * REGION))..$(((R + 1) * REGION - 1))"
	# the fault comes $DELAY s after the first acknowledgement
	if ! wait_for 30 eval '[ "$(acked)" -gt "$before" ] || writer_gone'; then
		echo "no write acknowledged in 30 s"
		return 1
	fi
	sleep "$DELAY"
	n=$(acked)
	echo "acknowledged before the fault ($MODE, $DELAY s after the first): $((n - before)) (total $n)"
	writer_gone && { cat "$T/writer-$R.out"; echo "the writer ended before the fault"; return 1; }
	[ "$(acked)" -gt "$before" ]
}

fault() {
	local t0 t1
	if [ "$MODE" = kill ]; then
		kill_site "$P" && cut_links "$P" || return 1
	else
		cut_links "$P" || return 1
	fi
	t0=$(now_s)
	NEWP=$(wait_primary $FAILOVER_MAX_S "$P") || { georepctl status; return 1; }
	t1=$(now_s)
	FO_S=$(elapsed "$t0" "$t1")
	echo "round $R: $MODE $P -> $NEWP in $FO_S s (bound $FAILOVER_MAX_S s)"
	georepctl status
}

verify_new() {
	cp "$ACKS" "$T/acks-$R"
	wait_for 20 applied_all "$NEWP" || { echo "$NEWP has not applied its log"; return 1; }
	georep-ackcheck verify "/dev/georep/$NEWP.$VOL" --log "$T/acks-$R"
}

# the old primary's writer: its write in flight waits for a commit; the
# rejoin decides it (EIO for a truncated record, success for a committed
# one, then EIO at the secondary). If it does not end in time it is told
# to fail (--io-state fail) so that it does not hang the test, and the
# check fails.
writer_ended() {
	local rc t0 t1
	t0=$(now_s)
	if ! wait_for $WRITER_END_S writer_gone; then
		echo "writer $WPID still running $WRITER_END_S s after the rejoin began:"
		cat "/proc/$WPID/stat" "/proc/$WPID/wchan" 2>/dev/null; echo
		cat "$T/writer-$R.out"
		georepctl volume set "$P.$VOL" --io-state fail
		wait_for 10 writer_gone || kill -9 "$WPID"
		wait "$WPID" 2>/dev/null
		georepctl volume set "$P.$VOL" --io-state run
		WPID=""
		return 1
	fi
	wait "$WPID"
	rc=$?
	t1=$(now_s)
	WPID=""
	cat "$T/writer-$R.out"
	echo "writer ended with status $rc $(elapsed "$t0" "$t1") s after the rejoin began"
	# an error stopped it (1): a demoted primary cannot take every write
	[ $rc = 1 ] && grep -q "stopped by the error above" "$T/writer-$R.out"
}

rejoin() {
	mend_links "$P" || return 1
	if [ "$MODE" = kill ]; then
		start_site "$P"
	fi
	REJOIN_T0=$(now_s)
}

# all_in_sync: exactly one primary (NEWP, which may have changed since the
# failover) and every other site a caught-up secondary of it
all_in_sync() {
	local s
	NEWP=$(primary_site) && [ -n "$NEWP" ] || return 1
	for s in $SITES; do
		[ "$s" = "$NEWP" ] || in_sync "$s" "$NEWP" || return 1
	done
}

rejoined() {
	local t1 was=$NEWP
	if ! wait_for $REJOIN_MAX_S all_in_sync; then
		georepctl status
		echo "$P is not a caught-up secondary after $REJOIN_MAX_S s"
		return 1
	fi
	t1=$(now_s)
	echo "$P in sync with $NEWP $(elapsed "$REJOIN_T0" "$t1") s after the mend"
	[ "$NEWP" = "$was" ] || echo "(the primary moved meanwhile: $was -> $NEWP)"
	georepctl status
}

verify_all() {
	local s ret=0
	for s in $SITES; do
		georep-ackcheck verify "/dev/georep/$s.$VOL" --log "$ACKS" || ret=1
	done
	return $ret
}

# the checker must be able to fail on these devices: a logged block that
# was never written (region 0 is no round's) is reported missing
negative_control() {
	local p=$((RANDOM % REGION)) rc
	cp "$ACKS" "$T/acks-neg"
	echo "ack 0123456789abcdef 7 $p" >>"$T/acks-neg"
	georep-ackcheck verify "/dev/georep/$NEWP.$VOL" --log "$T/acks-neg" >"$T/neg.out" 2>&1
	rc=$?
	cat "$T/neg.out"
	[ $rc = 1 ] && grep -q "^missing: block 7 of run 0123456789abcdef at device block $p " "$T/neg.out"
}

# tasks in D state in three samples a second apart (I/O in progress passes)
no_blocked() {
	local a b c
	a=$(blocked_tasks)
	sleep 1
	b=$(blocked_tasks)
	sleep 1
	c=$(blocked_tasks)
	a=$(printf '%s\n' "$a" | grep -Fxf <(printf '%s\n' "$b") | grep -Fxf <(printf '%s\n' "$c"))
	[ -z "$a" ] || { echo "tasks in D state:"; echo "$a"; return 1; }
}

# must NAME CMD...: check, and fail (status 1) when the check failed
must() {
	local f=$failed
	check "$@"
	[ "$failed" = "$f" ]
}

must network sites_network || exit 1
# round R writes blocks R*REGION..(R+1)*REGION-1
must volumes sites_volumes $(((ROUNDS + 1) * REGION / 256 + 1)) || exit 1
must config sites_config || exit 1
must leader_elected_volume_primary elect || exit 1

FIRST_MODE=$((RANDOM % 2))
TIMES=""
for R in $(seq 1 "$ROUNDS"); do
	# alternate, so that both faults occur from the second round on
	MODE=$([ $(((FIRST_MODE + R) % 2)) = 0 ] && echo kill || echo partition)
	P=$(wait_primary 20) || { result 1 "round${R}_one_primary"; break; }
	DELAY=$((1 + RANDOM % 3)).$((RANDOM % 10))
	must "round${R}_writer_acknowledging_at_primary" start_writer || break
	must "round${R}_${MODE}_primary_new_primary_within_${FAILOVER_MAX_S}s" fault || break
	TIMES="$TIMES $MODE:${FO_S}s"
	check "round${R}_acknowledged_blocks_on_new_primary" verify_new
	check "round${R}_mend_old_primary" rejoin
	check "round${R}_old_primary_writer_ended_by_error" writer_ended
	must "round${R}_old_primary_caught_up_secondary" rejoined || break
	check "round${R}_acknowledged_blocks_on_primary_after_rejoin" \
		georep-ackcheck verify "/dev/georep/$NEWP.$VOL" --log "$ACKS"
done
# a round cut short may leave its writer waiting for a commit: fail it
if [ -n "$WPID" ] && ! writer_gone; then
	echo "    # stopping writer $WPID at $P (round cut short)"
	georepctl volume set "$P.$VOL" --io-state fail >/dev/null 2>&1
	wait_for 10 writer_gone || kill -9 "$WPID"
	georepctl volume set "$P.$VOL" --io-state run >/dev/null 2>&1
fi
echo "    # failover per round:$TIMES; $(acked) acknowledged writes; seed $SEED"

check acknowledged_blocks_on_every_site verify_all
check data_devices_identical data_identical
check negative_control_unwritten_block_reported_missing negative_control
check no_task_in_d_state no_blocked
[ "$failed" = 0 ] || echo "    # replay: ACK_SEED=$SEED"
[ "$failed" = 0 ]
