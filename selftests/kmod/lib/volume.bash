# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the volume-half selftests (selftests/kmod/1x-4x-*.sh), sourced
# by them. Nested KTAP: one "    ok N name" / "    not ok N name" per check.
#
#   vt_init TAG             tmpfs, trap, skip checks; sets $T (work dir), $KEYS
#   vt_need_dm TARGET       skip unless dmsetup and the dm target TARGET exist
#   vt_loop NAME MiB        a loop device on a file in $T; echoes its path
#   vt_delay NAME DEV MS    /dev/mapper/NAME: dm-delay over DEV holding its
#                           writes and flushes MS ms (reads not); removed on
#                           exit (call it in this shell, not in $(...))
#   vt_check NAME CMD...    run CMD, print its output as diagnostics, KTAP line
#   vt_num VOL KEY          a number from `georepctl status VOL --json`
#   vt_wait_applied VOL SEQ wait up to 20 s for VOL's applied_seq >= SEQ
#   vt_done                 exit status from the checks (0 or 1)
#
# Volumes named in $VT_VOLS are deleted, then the dm devices of vt_delay
# removed and loop devices detached on exit.

KSFT_SKIP=4
. "$(dirname "${BASH_SOURCE[0]}")/tmpfs.sh"
vt_n=0
vt_failed=0
VT_VOLS=""
VT_LOOPS=""
VT_DMS=""

vt_cleanup() {
	local v l w
	# let writers a failed check left blocked finish, then stop them
	for v in $VT_VOLS; do
		georepctl volume set "$v" --commit-rule local --max-uncommitted 0 \
			--high-wm 100 --low-wm 99 >/dev/null 2>&1
		w=$(vt_num "$v" written_seq 2>/dev/null)
		[ -n "$w" ] && [ "$w" != 0 ] && georepctl ledger release "$v" "$w" >/dev/null 2>&1
	done
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for v in $VT_VOLS; do
		umount "/dev/georep/$v" 2>/dev/null
		georepctl volume delete "$v" >/dev/null 2>&1
	done
	for l in $VT_DMS; do
		dmsetup remove "$l" 2>/dev/null
	done
	for l in $VT_LOOPS; do
		losetup -d "$l" 2>/dev/null
	done
	# and every other loop on a file in $T: vt_loop runs in $(...)
	# subshells, where VT_LOOPS does not reach this shell
	drop_tmpfs "$T"
}

vt_init() {
	command -v georepctl >/dev/null || { echo "georepctl not on PATH"; exit $KSFT_SKIP; }
	grep -q '^georep ' /proc/modules || { echo "georep.ko not loaded"; exit $KSFT_SKIP; }
	modprobe loop 2>/dev/null
	T=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	mount -t tmpfs -o size=${VT_TMPFS_MB:-400}m tmpfs "$T" || exit 1
	KEYS=$T/keys
	mkdir -p "$KEYS" && chmod 700 "$KEYS"
	trap vt_cleanup EXIT
}

# vt_need_dm TARGET: skip the test unless dmsetup and the device-mapper
# target TARGET are here (its module, dm-TARGET, is loaded first)
vt_need_dm() {
	command -v dmsetup >/dev/null || { echo "dmsetup not on PATH"; exit $KSFT_SKIP; }
	modprobe "dm-$1" 2>/dev/null
	grep -qw "$1" <(dmsetup targets) || { echo "no dm-$1"; exit $KSFT_SKIP; }
}

vt_loop() {
	local dev
	truncate -s "$2M" "$T/$1.img" || return 1
	dev=$(losetup -f --show "$T/$1.img") || return 1
	VT_LOOPS="$VT_LOOPS $dev"
	echo "$dev"
}

vt_delay() {
	local sz
	sz=$(blockdev --getsz "$2") || return 1
	dmsetup create "$1" --table "0 $sz delay $2 0 0 $2 0 $3 $2 0 $3" || return 1
	VT_DMS="$VT_DMS $1"
	dmsetup mknodes "$1"
}

vt_check() {
	local name=$1 rc
	shift
	vt_n=$((vt_n + 1))
	"$@" >"$T/.out" 2>&1
	rc=$?
	sed 's/^/    # /' "$T/.out"
	if [ $rc = 0 ]; then
		echo "    ok $vt_n $name"
	else
		echo "    not ok $vt_n $name"
		vt_failed=$((vt_failed + 1))
	fi
}

vt_num() {
	georepctl status "$1" --json | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

# vt_wait_applied VOL SEQ: up to 20 s for applied_seq to reach SEQ
vt_wait_applied() {
	local i
	for i in $(seq 1 100); do
		[ "$(vt_num "$1" applied_seq)" -ge "$2" ] && return 0
		sleep 0.2
	done
	echo "$1: applied_seq $(vt_num "$1" applied_seq) < $2"
	return 1
}

# vt_expect_fail CMD...: CMD must fail; its output is shown
vt_expect_fail() {
	if "$@"; then
		echo "'$*' succeeded, expected a failure"
		return 1
	fi
	return 0
}

vt_done() {
	echo "    # $vt_n checks, $vt_failed failed"
	[ $vt_failed = 0 ]
}

# vt_true VOL KEY: a boolean of `georepctl status VOL --json` is true
vt_true() {
	georepctl status "$1" --json | grep -q "\"$2\": true"
}
