#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The "georep" generic netlink ABI (Documentation/netlink.rst), then a
# clean unload:
#
#  1. georep-nl-abi: malformed and missing attributes (errno, extack text,
#     missing-attribute report), EPERM without CAP_NET_ADMIN, and on four
#     loop devices two live volumes: replies, dump, ROLE event on the
#     "events" group, EBUSY while /dev/georepN is open, the log stream node
#     and ENODEV on a stream file whose volume was deleted;
#  2. rmmod georep leaves nothing behind: no /dev/georep* node, no
#     /sys/class/georep, no "georep-log" char major, no genetlink family,
#     no kmemleak report (when the kernel has kmemleak); then the module is
#     loaded again for the scripts that follow.
#
# Nested KTAP; exit 0 pass, 4 skip, 1 fail. Cleans up loop devices.

set -u

. "$(dirname "$0")/lib/ktap.sh"

GEOREP=${GEOREP:-/georep}
KO=${GEOREP_KO:-$GEOREP/georep.ko}
tmp=
loops=()

command -v georep-nl-abi >/dev/null || { echo "georep-nl-abi not on PATH (make user)"; exit $KSFT_SKIP; }
need_georep
[ "$(id -u)" = 0 ] || { echo "needs root"; exit $KSFT_SKIP; }

cleanup() {
	drop_loops "${loops[@]}"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

echo "    KTAP version 1"
echo "    1..3"

# --- 1. the ABI test program ----------------------------------------------

refcnt0=$(cat /sys/module/georep/refcnt 2>/dev/null || echo 0)

tmp=$(ktap_tmpfs grnl50 160) || exit 1
for f in data0 log0 data1 log1; do
	truncate -s 32M "$tmp/$f.img"
	l=$(losetup -f --show "$tmp/$f.img") || { echo "losetup $f failed"; exit 1; }
	loops+=("$l")
done

# its KTAP goes one level deeper, as diagnostics of this test point
out=$(georep-nl-abi --live "${loops[@]}" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/    # /'
if [ $rc = 0 ]; then
	result ok "georep-nl-abi --live ($(printf '%s\n' "$out" | grep -c '^ok ') checks)"
else
	result fail "georep-nl-abi --live ($(printf '%s\n' "$out" | grep -c '^not ok ') failed)"
fi

for l in "${loops[@]}"; do
	losetup -d "$l" 2>/dev/null
done
loops=()

# --- 2. unload leaves nothing behind --------------------------------------

# held before this test began (by a process an earlier script left): the
# unload cannot be judged here; held only since then: this test leaked it
refcnt=$(cat /sys/module/georep/refcnt 2>/dev/null || echo 0)
if [ "$refcnt" != 0 ] && [ "$refcnt0" != 0 ]; then
	echo "    # georep refcnt $refcnt0 before the test, $refcnt after: held by others"
	fuser -v /dev/georep[0-9]* 2>&1 | sed 's/^/    # /'
	echo "    ok 2 rmmod leaves nothing behind # SKIP module in use by others"
	echo "    ok 3 insmod again # SKIP not unloaded"
	[ $failed = 0 ]
	exit
fi

problems=()
if ! msg=$(rmmod georep 2>&1); then
	problems+=("rmmod georep: $msg")
else
	for p in /dev/georep[0-9]* /dev/georep/*; do
		[ -e "$p" ] && [ ! -L "$p" ] && problems+=("$p still exists")
	done
	[ -e /sys/class/georep ] && problems+=("/sys/class/georep still exists")
	[ -e /sys/module/georep ] && problems+=("/sys/module/georep still exists")
	grep -qw 'georep-log' /proc/devices && problems+=("char major georep-log still registered")
	georep-nl-abi >/dev/null 2>&1
	[ $? = $KSFT_SKIP ] || problems+=("genetlink family georep still registered")
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		leaks=$(grep -c 'unreferenced object' /sys/kernel/debug/kmemleak)
		[ "$leaks" = 0 ] || problems+=("kmemleak: $leaks unreferenced objects")
	else
		echo "    # kmemleak not available in this kernel"
	fi
fi
for p in "${problems[@]}"; do
	echo "    # $p"
done
[ ${#problems[@]} = 0 ] && result ok "rmmod leaves nothing behind" ||
	result fail "rmmod leaves nothing behind"

# --- 3. load again for the scripts that follow ----------------------------

if msg=$(insmod "$KO" 2>&1) &&
   [ -d /sys/kernel/tracing/events/georep/georep_submit ] &&
   [ -d /sys/kernel/tracing/events/georep/georep_commit ] &&
   [ -d /sys/kernel/tracing/events/georep/georep_complete ]; then
	result ok "insmod again, trace events georep:georep_{submit,commit,complete} exist"
else
	echo "    # insmod: $msg; $(ls /sys/kernel/tracing/events/georep 2>&1 | tr '\n' ' ')"
	result fail "insmod again, trace events georep:georep_{submit,commit,complete} exist"
fi

[ $failed = 0 ]
