#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The log fills while a replica is down, commit rule local: the writers the
# kernel throttles must not wait for good.
#
# Regression test for eng_compact() (user/georepd/engine.c): throttled
# writers resume only below the kernel's low watermark (70%), and the
# daemon released past a lagging replica only above 3/4 of the log, so a
# release that left the log in between kept them waiting for as long as the
# replica was down (seen at 70.2%: fio blocked past the hung-task
# detector, depending on how far the third site lagged). To hit it every
# time, the primary's watermarks are set to 50/10%: its writers are
# throttled before the daemon's 3/4. A secondary R is down while the
# primary writes 1.25 times its log device in 1 MiB O_DIRECT writes (QD4,
# local rule): fio must finish within FILL_MAX_S, the records R lacks
# released (a watchdog unblocks the writers otherwise, before the hung-task
# detector's 120 s, and the check fails). R, restarted, gets a full resync
# and ends sha256-identical, ledgers verified and equal, its Merkle tree
# (the leaves it never held fetched from P) holding P's root.

set -u
. "$(dirname "$0")/lib.sh"
DATA_MB=32
LOG_MB=64
FILL_MB=$((LOG_MB * 5 / 4))
FILL_MAX_S=90		# under the hung-task detector's 120 s
RESYNC_MAX_S=240

sites_init sites-release

replica_down() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] || { R=$s; break; }
	done
	echo "primary $P, replica taken down: $R"
	kill_site "$R" && cut_links "$R" || return 1
	georepctl volume set "$P.$VOL" --high-wm 50 --low-wm 10
}

fill() {
	local t0 fp
	t0=$(now_s)
	fio --name=fill --filename="/dev/georep/$P.$VOL" --rw=write --bs=1M --direct=1 \
		--ioengine=libaio --iodepth=4 --size=${DATA_MB}M --io_size=${FILL_MB}M \
		--output-format=terse --terse-version=3 >"$T/fio-fill" 2>&1 &
	fp=$!
	if ! wait_for $FILL_MAX_S eval "! kill -0 $fp 2>/dev/null"; then
		echo "fio still blocked after $FILL_MAX_S s:"
		georepctl status
		site_rep "$P" | jq -c '{last_seq, commit_seq, written_seq, applied_seq, tail_seq}'
		# let the writers go before the hung-task detector fires
		georepctl volume set "$P.$VOL" --high-wm 100 --low-wm 99
		georepctl ledger release "$P.$VOL" "$(vol_num "$P" written_seq)"
		wait "$fp"
		return 1
	fi
	wait "$fp" || { cat "$T/fio-fill"; return 1; }
	echo "$FILL_MB MiB in $(elapsed "$t0" "$(now_s)") s (bound $FILL_MAX_S s)"
	georepctl status
	echo "primary tail_seq $(vol_num "$P" tail_seq), $R written_seq $(vol_num "$R" written_seq)"
	[ "$(vol_num "$P" tail_seq)" -gt $(($(vol_num "$R" written_seq) + 1)) ]
}

resync() {
	local t0
	mend_links "$R" || return 1
	t0=$(now_s)
	start_site "$R"
	wait_for $RESYNC_MAX_S caught_up "$R" "$P" || {
		echo "$R: applied $(vol_num "$R" applied_seq), $P written $(vol_num "$P" written_seq)"
		# where the copy stands: the follower's resync and error, the
		# leader's view of it
		site_rep "$R" | jq -c '{role, leader, error, resync, resyncs_done, in_sync}'
		site_rep "$P" | jq -c ".sites[] | select(.site == \"$R\")"
		return 1
	}
	echo "full resync of $R: $(elapsed "$t0" "$(now_s)") s (bound $RESYNC_MAX_S s)"
	[ "$(site_rep_get "$R" '.resyncs_done')" -ge 1 ]
}

# R's Merkle tree lacked the leaves of the records released before the
# resync point: fetched from P (MLEAF), it holds P's root again
tree_same_now() {
	local a b
	a=$(site_rep_get "$R" '.merkle | "\(.state) \(.size) \(.root)"')
	b=$(site_rep_get "$P" '.merkle | "\(.state) \(.size) \(.root)"')
	[ "${a%% *}" = ok ] && [ "$a" = "$b" ]
}

tree_same() {
	wait_for 60 tree_same_now || {
		echo "$R: $(site_rep_get "$R" '.merkle')"
		echo "$P: $(site_rep_get "$P" '.merkle')"
		return 1
	}
	echo "$R: $(site_rep_get "$R" '.merkle | "\(.state), \(.size) leaves, root \(.root[0:16])"'), as $P's"
}

check network sites_network || exit 1
check volumes sites_volumes $DATA_MB $LOG_MB || exit 1
check keys share_keys || exit 1
check config sites_config commit_rule=local || exit 1
check leader_elected_volume_primary elect || exit 1
check replica_down replica_down || exit 1
check "write_${FILL_MB}MiB_local_rule_not_stuck" fill
check replica_full_resync resync
check sha256_identical data_identical
check ledgers_same ledgers_same $SITES
check replica_tree_fetched_same_root tree_same
[ "$failed" = 0 ]
