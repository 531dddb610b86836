#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A replica that was down comes back: (a) from the log, (b) by a full resync.
#
# (a) A secondary R is down (daemon SIGKILL, links cut) while the primary
#     takes 3,000 4 KiB O_DIRECT writes (quorum with the third site). R is
#     restarted: it must catch up from the primary's retained log (no
#     resync), apply everything, and end sha256-identical to the primary
#     with a ledger that verifies and equals the primary's.
# (b) R is down again while the primary writes 1.25 times the log device in
#     1 MiB writes: past 3/4 of the log the primary releases records R still
#     needs (user/georepd/engine.c, eng_compact). Restarted, R must get a
#     full resync (data copy, then LOG_RESET) and end identical again.
#
# Prints the write, catch-up and resync times; bounds are for qemu TCG.
# The runner allows 600 s per scenario: on a loaded 2-core host the 10,000
# quorum writes alone took up to 240 s (load average 13); 5,000 since
# December 2026, and 3,000 on a 64 MiB log (a 4 KiB write takes 8 KiB of
# log: 24 MiB, below the 3/4 where records are released), to keep make
# check under 40 minutes.

set -u
. "$(dirname "$0")/lib.sh"
DATA_MB=32
LOG_MB=64
CATCHUP_WRITES=3000
CATCHUP_MAX_S=240
RESYNC_MAX_S=240
FILL_MB=$((LOG_MB * 5 / 4))

sites_init sites-catchup

pick_replica() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] || { R=$s; break; }
	done
	echo "primary $P, replica taken down: $R"
}

down_replica() {
	kill_site "$R" && cut_links "$R" || return 1
	# the primary keeps its quorum with the third site
	sleep 1
	[ "$(primary_site)" = "$P" ] || { echo "primary moved"; georepctl status; return 1; }
}

# random 4 KiB O_DIRECT writes at the primary, QD32 (more than the device
# holds: io_size, norandommap), exactly CATCHUP_WRITES of them
catchup_writes() {
	local w0 w1 t0
	w0=$(vol_num "$P" written_seq)
	t0=$(now_s)
	fio --name=catchup --filename="/dev/georep/$P.$VOL" --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=32 --size=${DATA_MB}M \
		--io_size=$((CATCHUP_WRITES * 8))k --norandommap \
		--number_ios=$CATCHUP_WRITES --randrepeat=0 --output-format=terse \
		--terse-version=3 >"$T/fio-catchup" || { cat "$T/fio-catchup"; return 1; }
	w1=$(vol_num "$P" written_seq)
	echo "$CATCHUP_WRITES writes in $(elapsed "$t0" "$(now_s)") s"
	echo "primary written_seq $w0 -> $w1 ($((w1 - w0)) records)," \
		"$R applied $(vol_num "$R" applied_seq)"
	[ $((w1 - w0)) -ge $CATCHUP_WRITES ]
}

# restart R, wait until it applied everything; resyncs_done must not move
restart_replica() {
	local t0 t1 max=$1
	mend_links "$R" || return 1
	t0=$(now_s)
	start_site "$R"
	wait_for "$max" caught_up "$R" "$P" || {
		echo "$R: applied $(vol_num "$R" applied_seq), $P written $(vol_num "$P" written_seq)"
		return 1
	}
	t1=$(now_s)
	UP_S=$(elapsed "$t0" "$t1")
	georepctl status
}

catchup() {
	restart_replica $CATCHUP_MAX_S || return 1
	echo "catch-up of $R: $UP_S s (bound $CATCHUP_MAX_S s)"
	echo "$R resyncs_done: $(site_rep_get "$R" '.resyncs_done')"
	[ "$(site_rep_get "$R" '.resyncs_done')" = 0 ] || { echo "a resync, not a catch-up"; return 1; }
	! grep -q "full resync" "$T/$R.log"
}

# sequential 1 MiB O_DIRECT writes, FILL_MB in all (the region wraps)
fill_past_log() {
	local w0 w1 t0
	w0=$(vol_num "$P" written_seq)
	t0=$(now_s)
	fio --name=fill --filename="/dev/georep/$P.$VOL" --rw=write --bs=1M --direct=1 \
		--ioengine=libaio --iodepth=4 --size=${DATA_MB}M --io_size=${FILL_MB}M \
		--output-format=terse --terse-version=3 >"$T/fio-fill" ||
		{ cat "$T/fio-fill"; return 1; }
	w1=$(vol_num "$P" written_seq)
	echo "$FILL_MB MiB in $(elapsed "$t0" "$(now_s)") s"
	echo "primary written_seq $w0 -> $w1, tail_seq $(vol_num "$P" tail_seq)," \
		"$R written_seq $(vol_num "$R" written_seq)"
	# the records R lacks are gone from the primary's log, and its log says why
	[ "$(vol_num "$P" tail_seq)" -gt $(($(vol_num "$R" written_seq) + 1)) ] || return 1
	grep "releasing records up to" "$T/$P.log" | head -n 3
	grep -q "log full: releasing records up to [0-9]*, $R holds up to" "$T/$P.log"
}

resync() {
	restart_replica $RESYNC_MAX_S || return 1
	echo "full resync of $R: $UP_S s (bound $RESYNC_MAX_S s)"
	grep "full resync\|resync installed" "$T/$R.log"
	echo "$R resyncs_done: $(site_rep_get "$R" '.resyncs_done')"
	[ "$(site_rep_get "$R" '.resyncs_done')" -ge 1 ] &&
		grep -q "resync installed" "$T/$R.log"
}

# The primary's georepd read its data for the resync through the kernel
# (GEOREP_IOC_DATA_READ) and holds no file of the block device: its open
# count is 0, and a buffered writer's close is the last one, which writes
# the writer's pages back before it returns. Until December 2026 georepd
# opened the device for its first resync read and kept it open: a writer's
# dirty pages then stayed in the page cache after its close, for up to
# 30 s, and a switchover (which waits for the device to be closed, not
# counting georepd) could demote the primary under them.
closed_after_resync() {
	local w0 w1 n
	n=$(kvol "$P" open_count)
	echo "$P's block device open count after the resync: $n"
	[ "$n" = 0 ] || return 1
	w0=$(vol_num "$P" written_seq)
	dd if=/dev/urandom of="/dev/georep/$P.$VOL" bs=4k count=64 seek=100 status=none ||
		return 1
	w1=$(vol_num "$P" written_seq)
	echo "written_seq $w0 before a buffered 256 KiB dd, $w1 once it closed the device"
	[ "$w1" -gt "$w0" ]
}

check network sites_network || exit 1
check volumes sites_volumes $DATA_MB $LOG_MB || exit 1
check keys share_keys || exit 1
check config sites_config || exit 1
check leader_elected_volume_primary elect || exit 1
check pick_replica pick_replica || exit 1
check replica_down down_replica || exit 1
check "${CATCHUP_WRITES}_4k_writes_replica_down" catchup_writes || exit 1
check replica_catches_up_from_log catchup
check catchup_sha256_identical data_identical
check catchup_ledgers_same ledgers_same $SITES
check replica_down_again down_replica || exit 1
check "write_${FILL_MB}MiB_past_the_log" fill_past_log
check replica_full_resync resync
check resync_sha256_identical data_identical
check resync_ledgers_same ledgers_same $SITES
check primary_device_closed_after_resync closed_after_resync
[ "$failed" = 0 ]
