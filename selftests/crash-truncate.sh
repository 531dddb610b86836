#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# LOG_TRUNCATE survives a power cut: the dropped records do not come back.
#
#   selftests/crash-truncate.sh [--timeout SEC]
#
# Boot 1 (VM lab, disks that persist across boots): a primary and a
# secondary made with georep-mkreplica; records 1..3 pumped and committed,
# 4..6 pumped uncommitted; a pause so the secondary's periodic superblock
# write persists head hint 6; LOG_TRUNCATE to 3; then the power cut marker,
# and the host kills qemu at once (no delete, no clean superblock write).
#
# Boot 2 (same disk files): attach the secondary without --format: its
# written_seq is 3 and its ledger verifies; records 4..6 can be appended
# again from the primary.
#
# The same script runs in the guest: --guest-cut and --guest-check.

set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/crash.sh"

GEOREP=${GEOREP:-/georep}
P=ctp
S=cts
KEYS_MNT=/mnt/georep-keys
MARKER=GEOREP-TRUNCATE-POWER-CUT-NOW

load_module() {
	local dep

	grep -q '^georep ' /proc/modules && return 0
	for dep in $(modinfo -F depends "$GEOREP/georep.ko" | tr ',' ' '); do
		modprobe "$dep"
	done
	insmod "$GEOREP/georep.ko"
}

num() {
	georepctl status "$1" --json | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

wr() {
	local i
	for i in $(seq 0 $(($2 - 1))); do
		dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=$(($1 + i)) count=1 \
			oflag=direct status=none
	done
}

guest_cut() {
	set -e
	load_module
	mkfs.ext4 -q -F /dev/disk/georep/keys
	mkdir -p "$KEYS_MNT"
	mount /dev/disk/georep/keys "$KEYS_MNT"
	georepctl volume create "$P" --data /dev/disk/georep/pdata \
		--log /dev/disk/georep/plog --format --role primary --term 1 \
		--site-id 1 --key-dir "$KEYS_MNT"
	georep-mkreplica "$P" "$S" --data /dev/disk/georep/sdata \
		--log /dev/disk/georep/slog --key-dir "$KEYS_MNT" --site-id 2
	cp -a "$KEYS_MNT/$P" "$KEYS_MNT/$S"
	sync -f "$KEYS_MNT"
	wr 10 3
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --commit-to "$S"
	wr 20 3
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log"
	# the periodic superblock write persists head hint 6
	sleep 3
	echo "secondary written_seq $(num "$S" written_seq) commit_seq $(num "$S" commit_seq)"
	georep-ledgerop truncate "$S" 3
	echo "secondary written_seq $(num "$S" written_seq) after the truncate"
	echo "$MARKER"
	sleep 60
}

guest_check() {
	local n=0 failed=0 w

	load_module
	mkdir -p "$KEYS_MNT"
	mount /dev/disk/georep/keys "$KEYS_MNT"
	echo "KTAP version 1"
	echo "1..4"
	check() {
		n=$((n + 1))
		if "$@"; then
			echo "ok $n $CHECK"
		else
			echo "not ok $n $CHECK"
			failed=$((failed + 1))
		fi
	}
	CHECK="secondary attaches without --format"
	check georepctl volume create "$S" --data /dev/disk/georep/sdata \
		--log /dev/disk/georep/slog --key-dir "$KEYS_MNT"
	georepctl status "$S"
	w=$(num "$S" written_seq)
	CHECK="dropped records 4..6 stay gone (written_seq ${w:-none})"
	check [ "$w" = 3 ]
	CHECK="secondary ledger verifies"
	check georepctl ledger verify "$S" --key-dir "$KEYS_MNT"
	CHECK="the primary attaches and its records 4..6 can be appended again"
	check eval 'georepctl volume create "$P" --data /dev/disk/georep/pdata \
		--log /dev/disk/georep/plog --key-dir "$KEYS_MNT" &&
		georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" &&
		[ "$(num "$S" written_seq)" = 6 ] &&
		georepctl ledger verify "$S" --key-dir "$KEYS_MNT"'
	georepctl volume delete "$S"
	georepctl volume delete "$P"
	umount "$KEYS_MNT"
	[ $failed = 0 ]
}

host() {
	local top dir timeout=300 rc log1 log2

	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) timeout=$2; shift 2 ;;
		*) echo "usage: crash-truncate.sh [--timeout SEC]" >&2; exit 2 ;;
		esac
	done
	dir=$top/build/crash-truncate
	mkdir -p "$top/build"
	exec 8>"$top/build/crash-truncate.lock"
	flock 8
	rm -rf "$dir"
	mkdir -p "$dir"
	log1=$dir/boot1.log
	log2=$dir/boot2.log
	local vm=("$top/selftests/vm/run" --vm --disk-dir "$dir/disks"
		  --disk pdata:32 --disk plog:16 --disk sdata:32 --disk slog:16
		  --disk keys:16 --timeout "$timeout")

	echo "KTAP version 1"
	echo "1..2"
	echo "# boot 1: records, truncate, power cut (log: $log1)"
	"${vm[@]}" --kill-on "^$MARKER" -- "selftests/crash-truncate.sh --guest-cut" \
		>"$log1" 2>&1
	rc=$?
	sed 's/^/# /' "$log1"
	if [ $rc = 0 ] && grep -q "^$MARKER" "$log1"; then
		echo "ok 1 boot1-truncate-power-cut"
	else
		echo "not ok 1 boot1-truncate-power-cut # runner status $rc"
		echo "not ok 2 boot2-recovery # SKIP no power cut happened"
		return 1
	fi
	echo "# boot 2: attach, written_seq, verify (log: $log2)"
	"${vm[@]}" -- "selftests/crash-truncate.sh --guest-check" >"$log2" 2>&1
	boot2_report "$log2" $? || return 1
}

case ${1:-} in
--guest-cut) guest_cut ;;
--guest-check) guest_check ;;
*) host "$@" ;;
esac
