#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Followers whose logs are much smaller than the leader's: a burst the
# leader's log absorbs overruns theirs. A follower's kernel then refuses
# the append (ENOSPC), and georepd must apply and release what it holds
# and take the records again (Documentation/replication.rst, "Log
# release"), not stop replicating: until December 2026 the follower logged
# "replication stopped: ledger refused record N: No space left on device"
# and never replicated again.
#
# alpha's log is 64 MiB, bravo's and charlie's 6 MiB (five 1 MiB
# records), and their data devices hold each write and flush 300 ms
# (dm-delay), so that they apply (and may release) a few records a second
# while the leader sends more: without the delay they kept up in some runs
# and the case was not made. Commit rule local, so that the writes do not
# wait for the followers. alpha is made the primary (switchover), then writes WRITE_MB
# in 1 MiB O_DIRECT writes (QD16). Both followers must catch up with no
# engine error, end sha256-identical with ledgers that verify, and at least
# one of them must have found its log full (appends_log_full), else the case was
# not made.

set -u
. "$(dirname "$0")/lib.sh"
DATA_MB=32
LOG_MB=64
WRITE_MB=32
CATCHUP_MAX_S=180
# shellcheck disable=SC2034	# read by sites_volumes (lib.sh)
SITES_LOG_MB_bravo=6 SITES_LOG_MB_charlie=6
# shellcheck disable=SC2034
SITES_DATA_DELAY_MS_bravo=300 SITES_DATA_DELAY_MS_charlie=300

sites_init sites-flog
vt_need_dm delay

alpha_primary() {
	if [ "$P" != alpha ]; then
		ctl "$P" switchover "$VOL" alpha --wait 60 || return 1
		P=$(wait_primary 60) || { georepctl status; return 1; }
	fi
	echo "primary: $P"
	[ "$P" = alpha ]
}

burst() {
	local t0
	t0=$(now_s)
	fio --name=burst --filename="/dev/georep/$P.$VOL" --rw=write --bs=1M --direct=1 \
		--ioengine=libaio --iodepth=16 --size=${DATA_MB}M --io_size=${WRITE_MB}M \
		--output-format=terse --terse-version=3 >"$T/fio-burst" 2>&1 ||
		{ cat "$T/fio-burst"; return 1; }
	echo "$WRITE_MB MiB in $(elapsed "$t0" "$(now_s)") s at $P, written_seq $(vol_num "$P" written_seq)"
}

both_caught_up() { caught_up bravo "$P" && caught_up charlie "$P"; }

followers() {
	local s t0 ret=0
	t0=$(now_s)
	wait_for $CATCHUP_MAX_S both_caught_up || ret=1
	echo "followers caught up: $([ $ret = 0 ] && echo yes || echo no) in $(elapsed "$t0" "$(now_s)") s (bound $CATCHUP_MAX_S s)"
	for s in bravo charlie; do
		site_rep "$s" | jq -c '{role, error, written_seq, applied_seq, tail_seq, appends_log_full}'
		[ "$(site_rep_get "$s" '.error')" = null ] || ret=1
	done
	[ $ret = 0 ] || site_rep "$P" | jq -c '.sites[] | {site, match_seq, state, inflight_msgs}'
	return $ret
}

log_full_made() {
	local s n total=0
	for s in bravo charlie; do
		n=$(site_rep_get "$s" '.appends_log_full')
		total=$((total + n))
		grep -m1 "log full at record" "$T/$s.log"
	done
	echo "appends that found a follower's log full: $total"
	[ "$total" -ge 1 ]
}

check network sites_network || exit 1
check volumes sites_volumes $DATA_MB $LOG_MB || exit 1
check keys share_keys || exit 1
check config sites_config commit_rule=local || exit 1
check leader_elected_volume_primary elect || exit 1
check alpha_primary alpha_primary || exit 1
check "write_${WRITE_MB}MiB_in_1MiB_writes" burst
check followers_caught_up_no_error followers
check a_follower_found_its_log_full log_full_made
check sha256_identical data_identical
check ledgers_same ledgers_same $SITES
[ "$failed" = 0 ]
