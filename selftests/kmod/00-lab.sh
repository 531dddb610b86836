#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the VM lab itself: georep.ko is loaded, loop devices work on
# tmpfs, netem really delays packets inside a private network namespace, a
# veth pair links two namespaces, and the modules other tests rely on load.
#
# Nested KTAP, one line per check; exit 0 when all pass, 1 otherwise.

set -u

. "$(dirname "$0")/lib/ktap.sh"

NS=georep-lab-$$
NS2=georep-lab2-$$
TC=/sbin/tc		# iproute2's; busybox's tc has no netem
MODS="loop veth sch_netem dm-mod dm-flakey dm-log-writes dm-delay drbd ext4 xfs tls libcrc32c"

mnt=
loopdev=
outf=$(mktemp /tmp/georep-lab-out.XXXXXX) || exit 1
total=7

cleanup() {
	rm -f "$outf"
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null
		rmdir "$mnt" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
}
trap cleanup EXIT

module_loaded() {
	grep '^georep ' /proc/modules || { echo "georep not in /proc/modules"; return 1; }
	[ -d /sys/module/georep ] || { echo "no /sys/module/georep"; return 1; }
}

loop_on_tmpfs() {
	local sum1 sum2

	mnt=$(mktemp -d /tmp/georep-lab.XXXXXX) || return 1
	mount -t tmpfs -o size=64m tmpfs "$mnt" || return 1
	[ -c /dev/loop-control ] || { echo "no /dev/loop-control"; return 1; }
	truncate -s 32M "$mnt/disk.img" || return 1
	loopdev=$(losetup -f --show "$mnt/disk.img") || return 1
	echo "$loopdev on tmpfs"
	[ "$(blockdev --getsize64 "$loopdev")" = $((32 << 20)) ] ||
		{ echo "$loopdev has the wrong size"; return 1; }
	# a block written through the device is in the file
	head -c 1M /dev/urandom >"$mnt/pattern" || return 1
	dd if="$mnt/pattern" of="$loopdev" bs=1M seek=3 oflag=direct status=none || return 1
	sum1=$(sha256sum <"$mnt/pattern")
	sum2=$(dd if="$mnt/disk.img" bs=1M skip=3 count=1 status=none | sha256sum)
	[ "$sum1" = "$sum2" ] || { echo "data read back differs"; return 1; }
	losetup -d "$loopdev" || return 1
	loopdev=
}

netem_in_netns() {
	local rtt

	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up || return 1
	$TC -n "$NS" qdisc add dev lo root netem delay 20ms || return 1
	$TC -n "$NS" qdisc show dev lo
	$TC -n "$NS" qdisc show dev lo | grep -q 'qdisc netem .*delay 20ms' ||
		{ echo "netem qdisc not installed"; return 1; }
	# 20 ms each way on lo: the round trip must take at least 40 ms
	rtt=$(ip netns exec "$NS" ping -c 3 -i 0.2 127.0.0.1 |
		sed -n 's|.*min/avg/max[^=]*= \([0-9.]*\)/.*|\1|p')
	echo "ping min rtt ${rtt:-none} ms with netem delay 20ms"
	[ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 39) }' ||
		{ echo "netem did not delay the packets"; return 1; }
	# and the rest of the system is not delayed
	ip netns exec "$NS" $TC qdisc del dev lo root || return 1
}

veth_between_netns() {
	ip netns add "$NS2" || return 1
	ip link add lab0 netns "$NS" type veth peer name lab1 netns "$NS2" || return 1
	ip -n "$NS" addr add 10.99.0.1/24 dev lab0 || return 1
	ip -n "$NS2" addr add 10.99.0.2/24 dev lab1 || return 1
	ip -n "$NS" link set lab0 up || return 1
	ip -n "$NS2" link set lab1 up || return 1
	ip netns exec "$NS" ping -c 1 -W 5 10.99.0.2 >/dev/null ||
		{ echo "no ping over veth"; return 1; }
}

lab_modules() {
	local m bad=0

	for m in $MODS; do
		modprobe "$m" || { echo "modprobe $m failed"; bad=1; }
	done
	return $bad
}

lab_tools() {
	local t bad=0

	for t in mkfs.ext4 fsck.ext4 e2fsck debugfs mkfs.xfs fio sha256sum \
		 modprobe insmod losetup dmsetup georepctl; do
		command -v "$t" >/dev/null || { echo "$t not on PATH"; bad=1; }
	done
	$TC -V | grep -q iproute2 || { echo "$TC is not iproute2's"; bad=1; }
	fio --version || bad=1
	return $bad
}

ext4_on_loop() {
	local img=$mnt/fs.img dir=$mnt/fs

	truncate -s 48M "$img" && loopdev=$(losetup -f --show "$img") || return 1
	# lazy init: loop on tmpfs has no WRITE_ZEROES, and mke2fs zeroing
	# would only fill the kernel log with "operation not supported"
	mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1,nodiscard "$loopdev" || return 1
	mkdir -p "$dir" && mount "$loopdev" "$dir" || return 1
	echo hello >"$dir/f" && sync
	umount "$dir" || return 1
	fsck.ext4 -n "$loopdev" >/dev/null || { echo "fsck.ext4 found errors"; return 1; }
	losetup -d "$loopdev" && loopdev=
}

echo "    KTAP version 1"
echo "    1..$total"
check georep-module-loaded module_loaded
check lab-tools-present lab_tools
check lab-modules-load lab_modules
check loop-device-on-tmpfs loop_on_tmpfs
check ext4-on-loop ext4_on_loop
check netem-delay-in-netns netem_in_netns
check veth-between-netns veth_between_netns
[ $failed = 0 ]
