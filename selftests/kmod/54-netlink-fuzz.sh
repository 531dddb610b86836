#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# georep-nl-fuzz against live volumes, then the module still works:
#
#  1. two volumes on loop devices (fz0 primary with records, fz1 secondary);
#  2. FUZZ_ITERS (default 20000) seeded random requests (FUZZ_SEED, default
#     1; a failure names the seed, and `georep-nl-fuzz --seed S --iters N
#     --verbose` replays the same requests), each answered within 30 s;
#     the kernel log must stay clean (run_tests.sh fails the script on any
#     BUG, WARNING or Oops);
#  3. whatever volumes the fuzzer left are deleted, a new one is created,
#     written, read back, verified and deleted.
#
# Reproduce by hand in the VM:
#   selftests/vm/run --timeout 600 -- 'FUZZ_SEED=7 FUZZ_ITERS=20000 \
#       /georep/selftests/kmod/run_tests.sh 54-netlink-fuzz'

set -u
. "$(dirname "$0")/lib/volume.bash"
VT_TMPFS_MB=200
vt_init grnl54
command -v georep-nl-fuzz >/dev/null || { echo "georep-nl-fuzz not on PATH"; exit $KSFT_SKIP; }

SEED=${FUZZ_SEED:-1}
ITERS=${FUZZ_ITERS:-20000}
echo "    1..3"

setup() {
	D0=$(vt_loop d0 32) && L0=$(vt_loop l0 16) &&
	D1=$(vt_loop d1 32) && L1=$(vt_loop l1 16) || return 1
	georepctl volume create fz0 --data "$D0" --log "$L0" --format --role primary \
		--term 1 --key-dir "$KEYS" || return 1
	georepctl volume create fz1 --data "$D1" --log "$L1" --format --role secondary \
		--term 1 --key-dir "$KEYS" || return 1
	VT_VOLS="fz0 fz1"
	dd if=/dev/urandom of=/dev/georep/fz0 bs=64k count=16 oflag=direct status=none
}

fuzz() {
	local t0 rc
	t0=$(date +%s)
	timeout 170 georep-nl-fuzz --seed "$SEED" --iters "$ITERS" \
		--dev "$D0" --dev "$L0" --dev "$D1" --dev "$L1" fz0 fz1
	rc=$?
	echo "seed $SEED, $ITERS requests, $(( $(date +%s) - t0 )) s, status $rc"
	[ $rc = 124 ] && echo "georep-nl-fuzz did not finish: a hang"
	return $rc
}

still_works() {
	local v
	# the fuzzer may have made or removed volumes, and opened none
	for v in $(georep-nl-abi --list | awk '{ print $2 }'); do
		georepctl volume delete "$v" || return 1
	done
	[ -z "$(georep-nl-abi --list)" ] || { echo "volumes left"; return 1; }
	# a volume the fuzzer deleted over netlink left its links: delete
	# fails (no such volume) and removes them
	for v in fz0 fz1; do
		[ -L /dev/georep/$v ] || continue
		vt_expect_fail georepctl volume delete $v 2>"$T/del" || return 1
		cat "$T/del"
		grep -q 'removed the stale links' "$T/del" || return 1
		[ ! -e /dev/georep/$v ] && [ ! -L /dev/georep/$v.log ] ||
			{ echo "links of $v still there"; return 1; }
	done
	georepctl volume create fzok --data "$D0" --log "$L0" --format --role primary \
		--term 1 --key-dir "$KEYS" || return 1
	VT_VOLS=fzok
	dd if=/dev/urandom of="$T/blk" bs=64k count=4 status=none
	dd if="$T/blk" of=/dev/georep/fzok bs=64k oflag=direct status=none || return 1
	cmp <(dd if=/dev/georep/fzok bs=64k count=4 iflag=direct status=none) "$T/blk" ||
		{ echo "read back differs"; return 1; }
	georepctl ledger verify fzok || return 1
	georepctl volume delete fzok && VT_VOLS=
}

vt_check "setup: fz0 and fz1 on loop devices" setup
vt_check "georep-nl-fuzz: $ITERS requests from seed $SEED, each answered" fuzz
vt_check "afterwards: delete what is left, create, write, read, verify, delete" still_works
vt_done
