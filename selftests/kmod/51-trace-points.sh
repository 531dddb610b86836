#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Trace points georep:georep_submit, georep_commit and georep_complete
# fire on the write path: with the "local" commit rule, every 4 KiB write
# to a primary gives one submit (op=write, len=4096), one commit and one
# complete (error=0, latency_ns > 0) for the same seq.
#
# Nested KTAP; exit 0 pass, 4 skip, 1 fail. Cleans up the volume, loop
# devices, tmpfs and the trace buffer.

set -u

. "$(dirname "$0")/lib/ktap.sh"

T=/sys/kernel/tracing
VOL=trace51-$$
NWRITES=6
tmp=
data=
log=

need_georep georepctl
[ -d $T/events/georep ] || mount -t tracefs tracefs $T 2>/dev/null
[ -d $T/events/georep ] || { echo "no $T/events/georep"; exit $KSFT_SKIP; }

cleanup() {
	echo 0 >$T/events/georep/enable 2>/dev/null
	echo >$T/trace 2>/dev/null
	georepctl volume delete "$VOL" >/dev/null 2>&1
	drop_loops "$data" "$log"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

echo "    KTAP version 1"
echo "    1..4"

tmp=$(ktap_tmpfs trace51 128) || exit 1
truncate -s 32M "$tmp/data.img" && truncate -s 32M "$tmp/log.img" || exit 1
data=$(losetup -f --show "$tmp/data.img") || exit 1
log=$(losetup -f --show "$tmp/log.img") || exit 1
georepctl volume create "$VOL" --data "$data" --log "$log" --format \
	--role primary --term 1 --commit-rule local --key-dir "$tmp/keys" 2>&1 |
	sed 's/^/    # /'
[ -b "/dev/georep/$VOL" ] || { echo "    # volume create failed"; exit 1; }

echo >$T/trace
echo 1 >$T/events/georep/enable
for i in $(seq 0 $((NWRITES - 1))); do
	dd if=/dev/urandom of="/dev/georep/$VOL" bs=4096 count=1 seek="$i" \
	   oflag=direct conv=notrunc status=none
done
sync
echo 0 >$T/events/georep/enable
grep -E 'georep_(submit|commit|complete):' $T/trace >"$tmp/trace"
grep -F " $VOL " "$tmp/trace" >"$tmp/mine"
head -n 6 "$tmp/mine" | sed 's/^/    # /'

# seqs of one event, sorted (LC_ALL=C for comm)
seqs() { grep "georep_$1:" "$tmp/mine" | grep -o 'seq=[0-9]*' | LC_ALL=C sort -u; }
seqs submit >"$tmp/s.all"
grep 'georep_submit:.*op=write' "$tmp/mine" | grep -o 'seq=[0-9]*' | LC_ALL=C sort -u >"$tmp/s.write"
seqs commit >"$tmp/s.commit"
seqs complete >"$tmp/s.complete"

submits=$(grep 'georep_submit:' "$tmp/mine" | grep -c 'op=write lba=[0-9]* len=4096')
[ "$submits" -ge $NWRITES ]
result $? "georep_submit fired for each write ($submits op=write len=4096)"

completes=$(grep 'georep_complete:' "$tmp/mine" | grep -c 'error=0 latency_ns=[1-9]')
[ "$completes" -ge $NWRITES ]
result $? "georep_complete fired with error=0 and a latency ($completes)"

[ "$(grep -c 'georep_commit:' "$tmp/mine")" -ge $NWRITES ]
result $? "georep_commit fired under the local rule ($(grep -c 'georep_commit:' "$tmp/mine"))"

[ -s "$tmp/s.write" ] &&
	[ -z "$(LC_ALL=C comm -23 "$tmp/s.write" "$tmp/s.complete")" ] &&
	[ -z "$(LC_ALL=C comm -23 "$tmp/s.write" "$tmp/s.commit")" ] &&
	[ -z "$(LC_ALL=C comm -13 "$tmp/s.all" "$tmp/s.complete")" ]
result $? "every write's seq is committed and completed; no completion without a submit"

[ $failed = 0 ]
