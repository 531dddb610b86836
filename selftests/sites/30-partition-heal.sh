#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A partition isolates the primary, then heals (quorum_loss: suspend).
#
# The elected primary A takes some committed writes, then its links to
# both peers are cut. A write at A issued right after the cut (W1: it gets
# a seq, its record is never replicated) must stay pending while B and C
# elect a new primary within ELECT_MAX_S; A steps down (fenced: its kernel
# volume secondary), its daemon shows the policy state ("suspended: no
# quorum") and its kernel volume the io state "suspend"; a new write at A
# (W2) is refused. The new primary writes more, also over W1's block.
# The links are mended: within HEAL_MAX_S A is a secondary following the
# new primary, its uncommitted suffix (W1's record) is kept as a fork file
# listed in its status, W1 and W2 end with an error (never success), the
# fork's blocks are healed from the new primary (DIVERGED clear, the daemon
# "in_sync"), and the three data devices are sha256-identical
# with ledgers that verify, at the same written seq and chain hash, and
# dump identically.
#
# No writer may stay blocked near the hung-task detector's 120 s: a
# watchdog fails A's waiting writes (io state fail) after PENDING_MAX_S,
# and the checks that need them to end otherwise fail.

set -u
. "$(dirname "$0")/lib.sh"
DATA_MB=64
LOG_MB=64
ELECT_MAX_S=20		# qemu TCG, GEOREPD_ELECTION_MS=3000
HEAL_MAX_S=40
PENDING_MAX_S=90
W1_BLOCK=1000		# 4 KiB block W1 writes at A and the new primary overwrites

sites_init sites-partition

# 4 MiB at MiB offset $2 of site $1's volume, O_DIRECT; kept in $T/$3
put() {
	head -c $((4 << 20)) /dev/urandom >"$T/$3" &&
		dd if="$T/$3" of="/dev/georep/$1.$VOL" bs=1M seek="$2" oflag=direct status=none
}

committed_writes() {
	local s
	A=$P
	put "$A" 0 base || return 1
	echo "A=$A: written $(vol_num "$A" written_seq) commit $(vol_num "$A" commit_seq)"
	[ "$(vol_num "$A" commit_seq)" -ge "$(vol_num "$A" written_seq)" ] || return 1
	for s in $SITES; do
		wait_for 20 caught_up "$s" "$A" || return 1
	done
	georepctl status
}

# start_writer N: one 4 KiB O_DIRECT write at A in the background; its exit
# status goes to $T/wN.rc
start_writer() {
	head -c 4096 /dev/urandom >"$T/w$1.blk"
	(
		dd if="$T/w$1.blk" of="/dev/georep/$A.$VOL" bs=4k count=1 seek=$2 \
			oflag=direct status=none 2>"$T/w$1.err"
		echo $? >"$T/w$1.rc"
	) &
}

pending() { [ ! -e "$T/w$1.rc" ]; }

# fails A's writes that still wait after PENDING_MAX_S (hung-task guard)
watchdog() {
	(
		sleep $PENDING_MAX_S
		pending 1 || pending 2 || exit 0
		echo "watchdog: writes still pending after $PENDING_MAX_S s" >"$T/watchdog"
		georepctl volume set "$A.$VOL" --io-state fail
	) >/dev/null 2>&1 &
}

partition() {
	local t0 t1
	W1_SEQ=$(($(vol_num "$A" written_seq) + 1))
	cut_links "$A" || return 1
	t0=$(now_s)
	T_CUT=$t0
	start_writer 1 $W1_BLOCK
	watchdog
	# W1 gets its seq while A is still primary
	wait_for 10 eval '[ "$(vol_num "$A" written_seq)" -ge $W1_SEQ ]' || {
		echo "W1 got no seq at $A"; return 1; }
	NEWP=$(wait_primary $ELECT_MAX_S "$A") || { georepctl status; return 1; }
	t1=$(now_s)
	ELECT_S=$(elapsed "$t0" "$t1")
	echo "cut $A: $NEWP primary after $ELECT_S s (bound $ELECT_MAX_S s); W1 is seq $W1_SEQ"
	georepctl status
	pending 1 || { echo "W1 ended: rc $(cat "$T/w1.rc")"; return 1; }
}

# A steps down (its lease cannot be renewed): its kernel volume is fenced
deposed_fenced() {
	wait_for $ELECT_MAX_S eval '[ "$(kvol "$A" role)" = secondary ]' || {
		echo "$A: kernel role $(kvol "$A" role)"; return 1; }
	echo "$A fenced after $(elapsed "$T_CUT" "$(now_s)") s"
}

policy_suspend() {
	local pol io
	wait_for 10 eval '[ "$(site_rep_get "$A" .policy)" = "suspended: no quorum" ]'
	pol=$(site_rep_get "$A" .policy)
	io=$(kvol "$A" io_state)
	ctl "$A" status
	echo "$A: policy \"$pol\", kernel io_state $io"
	[ "$pol" = "suspended: no quorum" ] && [ "$io" = suspend ]
}

# W2, a new write at A once it is fenced, must not succeed either: the
# secondary's disk is read-only, so write(2) fails (EPERM) before any bio;
# the suspend policy holds the bios that still reach the driver (W1's kind,
# or a mounted file system's). W1 must still be pending.
fenced_write_refused() {
	start_writer 2 $((W1_BLOCK + 1))
	wait_for 10 eval '! pending 2' || { echo "W2 still pending"; return 1; }
	echo "W2: exit status $(cat "$T/w2.rc") $(cat "$T/w2.err")"
	pending 1 || { echo "W1 ended: rc $(cat "$T/w1.rc")"; return 1; }
	echo "W1 pending at $A ($(elapsed "$T_CUT" "$(now_s)") s after the cut)"
	[ "$(cat "$T/w2.rc")" != 0 ]
}

new_primary_writes() {
	put "$NEWP" 8 more || return 1
	head -c 4096 /dev/urandom >"$T/newp.blk"
	dd if="$T/newp.blk" of="/dev/georep/$NEWP.$VOL" bs=4k count=1 seek=$W1_BLOCK \
		oflag=direct status=none || return 1
	echo "$NEWP: written $(vol_num "$NEWP" written_seq) commit $(vol_num "$NEWP" commit_seq)"
	[ "$(vol_num "$NEWP" commit_seq)" -ge "$(vol_num "$NEWP" written_seq)" ]
}

rejoined() {
	[ "$(site_rep_get "$A" '.role + " " + (.leader // "-")')" = "follower $NEWP" ] &&
		[ "$(kvol "$A" role)" = secondary ]
}

# the fork's blocks healed: DIVERGED clear, the daemon in sync, caught up
in_sync() {
	[ "$(kvol "$A" diverged)" = false ] &&
		[ "$(site_rep_get "$A" .in_sync)" = true ] &&
		[ "$(kvol "$A" chain_hash)" = "$(kvol "$NEWP" chain_hash)" ] &&
		caught_up "$A" "$NEWP"
}

heal() {
	mend_links "$A" || return 1
	T_MEND=$(now_s)
	wait_for $HEAL_MAX_S rejoined || {
		ctl "$A" status
		echo "$A: $(site_rep "$A")"
		return 1
	}
	echo "mend: $A secondary of $NEWP after $(elapsed "$T_MEND" "$(now_s)") s" \
		"(bound $HEAL_MAX_S s)"
}

healed() {
	wait_for $HEAL_MAX_S in_sync || {
		ctl "$A" status
		georepctl status
		echo "$A: $(site_rep "$A")"
		grep -i "heal\|fork\|diverg\|stopped" "$T/$A.log"
		return 1
	}
	echo "$A healed and caught up $(elapsed "$T_MEND" "$(now_s)") s after the mend" \
		"(heals_done $(site_rep_get "$A" .heals_done))"
	grep -i "heal" "$T/$A.log"
	ctl "$A" status
	georepctl status
}

fork_kept() {
	local f
	site_rep_get "$A" '.forks[] | "\(.from) \(.to) \(.records) \(.path)"' >"$T/forks"
	cat "$T/forks"
	while read -r from to _ path; do
		if [ "$from" -le "$W1_SEQ" ] && [ "$W1_SEQ" -le "$to" ]; then
			f=$path
		fi
	done <"$T/forks"
	[ -n "${f:-}" ] || { echo "no fork holds seq $W1_SEQ"; return 1; }
	ls -l "$f" && [ -s "$f" ]
}

writes_failed() {
	local i rc
	wait_for 20 eval '! pending 1 && ! pending 2'
	for i in 1 2; do
		rc=$(cat "$T/w$i.rc" 2>/dev/null)
		echo "W$i: exit status ${rc:-pending} $(cat "$T/w$i.err" 2>/dev/null)"
		[ -n "$rc" ] && [ "$rc" != 0 ] || return 1
	done
	[ ! -e "$T/watchdog" ] || { cat "$T/watchdog"; return 1; }
}

check network sites_network || exit 1
check volumes sites_volumes $DATA_MB $LOG_MB || exit 1
check keys share_keys || exit 1
check config sites_config quorum_loss=suspend || exit 1
check leader_elected_volume_primary elect || exit 1
check committed_writes_at_primary committed_writes || exit 1
check cut_primary_others_elect_write_pending partition || exit 1
check deposed_primary_fenced deposed_fenced
check deposed_primary_policy_suspend policy_suspend
check write_at_fenced_primary_refused fenced_write_refused
check new_primary_writes new_primary_writes
check mend_rejoins_as_secondary heal
check fork_blocks_healed_in_sync healed
check suffix_kept_as_fork fork_kept
check pending_writes_fail_never_succeed writes_failed
check three_data_devices_sha256_identical data_identical
check ledgers_verify_and_equal ledgers_same $SITES
[ "$failed" = 0 ]
