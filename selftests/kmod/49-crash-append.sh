#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash replay of a secondary's group appends (kmod/append.c): records
# written without FUA, one flush per write(2), written_seq moved after it.
# A primary's records are copied into a secondary whose log device is
# recorded by dm-log-writes, in groups of 1 to 12 records per write(2)
# (georep-pump --batch), and a mark is logged after each write(2) returned:
# the records it acknowledged. The recorded writes are then replayed to
# points of the log, each a state the log device could hold after a power
# cut (as 49-crash-replay does for a primary):
#
#  - just after an acknowledgement's mark, or a flush;
#  - at a random entry, plus a random subset of the writes logged after it
#    up to the next flush, in random order (what a volatile cache may have
#    written back before the cut: any part of a group, in any order).
#
# At each point the secondary must attach, `georepctl ledger verify` pass,
# its written_seq be at least the last acknowledged record, and its ledger
# be a prefix of the primary's, record for record (nothing half-appended,
# nothing out of order).
#
# Environment: CRASH_POINTS (default 9), CRASH_SEED (default random,
# printed: replays a run), CRASH_RECORDS (200).

set -u
. "$(dirname "$0")/lib/volume.bash"
. "$(dirname "$0")/lib/crashreplay.bash"

POINTS=${CRASH_POINTS:-9}
SEED=${CRASH_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) ))}
NREC=${CRASH_RECORDS:-200}
LOG_MB=48
P=cap
S=cas		# the recorded secondary; replayed under the same name (keys)

for p in dmsetup georep-logreplay georep-pump georep-mkreplica; do
	command -v $p >/dev/null || { echo "$p not on PATH"; exit $KSFT_SKIP; }
done
VT_TMPFS_MB=900 vt_init grca
modprobe dm-log-writes 2>/dev/null
grep -qw log-writes <(dmsetup targets) || { echo "no dm-log-writes"; exit $KSFT_SKIP; }

ca_cleanup() {
	georepctl volume delete $S >/dev/null 2>&1
	georepctl volume delete $P >/dev/null 2>&1
	dmsetup remove grca-lw 2>/dev/null
	for l in $CUT_LOOPS; do losetup -d "$l" 2>/dev/null; done
	vt_cleanup
}
CUT_LOOPS=
trap ca_cleanup EXIT

echo "    KTAP version 1"
echo "    # seed $SEED (CRASH_SEED=$SEED replays it), $POINTS points, $NREC records"
RANDOM=$SEED

# --- record ----------------------------------------------------------------

mark() { dmsetup message grca-lw 0 mark "$1"; }

primary() {
	local i
	PD=$(vt_loop pdata 64) && PL=$(vt_loop plog 64) && SD=$(vt_loop sdata 64) || return 1
	back=$(vt_loop back $LOG_MB) && lwlog=$(vt_loop lwlog 400) || return 1
	georepctl volume create $P --data "$PD" --log "$PL" --format --role primary \
		--term 1 --site-id 1 --key-dir "$KEYS" || return 1
	# one record of 1 to 16 blocks per write
	for i in $(seq 1 "$NREC"); do
		dd if=/dev/urandom of=/dev/georep/$P bs=$((4 * (1 + i % 16)))k count=1 \
			seek=$((((i * 37) % 14000) * 4096)) oflag=direct,seek_bytes \
			status=none || return 1
	done
	georepctl ledger dump $P | grep -v '^#' >"$T/p.dump" || return 1
	echo "primary: $(wc -l <"$T/p.dump") records"
}

record() {
	local out last n groups=0
	dmsetup create grca-lw --table "0 $((LOG_MB * 2048)) log-writes $back $lwlog" &&
		dmsetup mknodes || return 1
	georep-mkreplica $P $S --data "$SD" --log /dev/mapper/grca-lw --key-dir "$KEYS" \
		--site-id 2 || return 1
	cp -a "$KEYS/$P" "$KEYS/$S" || return 1
	mark start
	while [ "$(vt_num $S written_seq)" -lt "$(vt_num $P written_seq)" ]; do
		n=$((1 + RANDOM % 12))
		out=$(georep-pump /dev/georep/$P.log /dev/georep/$S.log --batch $n --max $n) ||
			{ echo "$out"; return 1; }
		last=$(echo "$out" | sed -n 's/.*last seq \([0-9]*\),.*/\1/p')
		mark "a.$last" || return 1
		groups=$((groups + 1))
	done
	echo "secondary: $(vt_num $S written_seq) records in $groups groups"
	georepctl volume delete $S && dmsetup remove grca-lw
}

vt_check "a primary's records" primary || { vt_done; exit 1; }
vt_check "copy them into a recorded secondary, 1 to 12 per write(2)" record ||
	{ vt_done; exit 1; }
cr_list "$lwlog" start || exit 1

# --- check one point -------------------------------------------------------

# the last record acknowledged before entry INDEX (0: none)
acked_before() {
	awk -v to="$1" '$1 < to && $2 == "mark" && index($5, "a.") == 1 { n = substr($5, 3) } END { print n + 0 }' "$T/entries"
}

check_point() {
	local idx=$1 sub=$2 ll acked w rc=0
	cr_cut "$T/base.img" "$lwlog" "$idx" "$sub" || return 1
	ll=$(losetup -f --show "$T/cut.img") || return 1
	CUT_LOOPS=$ll
	acked=$(acked_before "$idx")
	if ! georepctl volume create $S --data "$SD" --log "$ll" --key-dir "$KEYS"; then
		echo "attach failed"
		rc=1
	else
		w=$(vt_num $S written_seq)
		echo "acknowledged before it: up to record $acked; recovered: up to $w"
		[ "$w" -ge "$acked" ] || { echo "acknowledged records lost"; rc=1; }
		georepctl ledger verify $S --key-dir "$KEYS" || rc=1
		georepctl ledger dump $S | grep -v '^#' >"$T/s.dump" || rc=1
		head -n "$w" "$T/p.dump" | diff - "$T/s.dump" >/dev/null ||
			{ echo "the secondary's ledger is not the primary's first $w records"; rc=1; }
		georepctl volume delete $S || rc=1
	fi
	losetup -d "$ll"
	CUT_LOOPS=
	return $rc
}

cr_run "$lwlog" "$T/base.img" ${LOG_MB}M "attach, verify, acknowledged records, a prefix" check_point

vt_done
