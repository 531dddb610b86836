#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VOLUME_GET dump across several netlink messages: with 24 volumes the dump
# needs more than one skb, so it must resume at the right volume. Checks
# that every volume comes exactly once, in minor order, that a deleted
# volume disappears from the dump while the others stay, and that no
# /dev/georepN-log node outlives its volume.
#
# Nested KTAP; exit 0 pass, 4 skip, 1 fail. Deletes its volumes and loop
# devices.

set -u

. "$(dirname "$0")/lib/ktap.sh"

NVOL=24		# about 400 bytes each: three 4 KiB dump messages
P=dump52-$$
tmp=
loops=()

need_georep georepctl georep-nl-abi

cleanup() {
	local i

	for i in $(seq 1 $NVOL); do
		georepctl volume delete "$P-$i" >/dev/null 2>&1
	done
	drop_loops "${loops[@]}"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

# mine: the dump's lines for this test's volumes
mine() {
	georep-nl-abi --list >"$tmp/all" || return 1
	grep " $P-[0-9]*\$" "$tmp/all"
}

echo "    KTAP version 1"
echo "    1..4"

tmp=$(ktap_tmpfs dump52 200) || exit 1
created=0
for i in $(seq 1 $NVOL); do
	truncate -s 1M "$tmp/d$i.img" && truncate -s 5M "$tmp/l$i.img" || break
	d=$(losetup -f --show "$tmp/d$i.img") || break
	loops+=("$d")
	l=$(losetup -f --show "$tmp/l$i.img") || break
	loops+=("$l")
	georepctl volume create "$P-$i" --data "$d" --log "$l" --format \
		--role primary --term 1 --key-dir "$tmp/keys" >/dev/null || break
	created=$i
done
[ $created = $NVOL ]
result $? "created $created of $NVOL volumes"

mine >"$tmp/dump" 2>&1
rc=$?
lines=$(wc -l <"$tmp/dump")
uniq=$(awk '{print $2}' "$tmp/dump" | sort -u | wc -l)
[ $rc = 0 ] && [ "$lines" = $NVOL ] && [ "$uniq" = $NVOL ]
result $? "dump lists each of the $NVOL volumes once, in minor order ($lines lines, $uniq names)"

# delete every third: the others stay, in order
for i in $(seq 3 3 $NVOL); do
	georepctl volume delete "$P-$i" >/dev/null 2>&1
done
mine >"$tmp/dump2" 2>&1
rc=$?
want=$((NVOL - NVOL / 3))
[ $rc = 0 ] && [ "$(wc -l <"$tmp/dump2")" = $want ] &&
	! grep -qE " $P-(3|6|9|12|15|18|21|24)\$" "$tmp/dump2"
result $? "after deleting every third volume the dump lists the other $want"

for i in $(seq 1 $NVOL); do
	georepctl volume delete "$P-$i" >/dev/null 2>&1
done
left=$(mine | wc -l)
nodes=0
for m in $(awk '{print $1}' "$tmp/dump"); do
	[ -e "/dev/georep$m-log" ] && nodes=$((nodes + 1))
done
[ "$left" = 0 ] && [ $nodes = 0 ]
result $? "all deleted: none in the dump ($left), no stream node left ($nodes)"

[ $failed = 0 ]
