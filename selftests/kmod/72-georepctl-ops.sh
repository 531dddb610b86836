#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# georepctl on every record op and on several volumes:
#  - discard and write-zeroes bios show up in `ledger dump` (text and JSON)
#    with the right op, lba and len, and verify in kernel and userspace;
#  - two volumes: `status` lists both, sorted by minor, text and JSON;
#  - $GEOREP_KEY_DIR is the default key directory;
#  - a group-readable key file makes `volume create` refuse to attach;
#  - a secondary refuses writes from the block device.
#
# Nested KTAP; exit 0 pass, 4 skip, 1 fail.

set -u

. "$(dirname "$0")/lib/ktap.sh"

VOL=grctl72a-$$
VOL2=grctl72b-$$
total=7

need_georep georepctl

tmp=$(ktap_tmpfs grctl72 160) || exit 1
export GEOREP_KEY_DIR=$tmp/keys
outf=$tmp/out
loops=()

cleanup() {
	georepctl volume delete "$VOL" >/dev/null 2>&1
	georepctl volume delete "$VOL2" >/dev/null 2>&1
	drop_loops "${loops[@]}"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

new_loop() {		# new_loop NAME MiB: prints the device
	local l
	truncate -s "$2M" "$tmp/$1.img" || return 1
	l=$(losetup -f --show "$tmp/$1.img") || return 1
	loops+=("$l")
	echo "$l"
}

setup() {
	local d1 l1 d2 l2
	d1=$(new_loop d1 32) && l1=$(new_loop l1 16) || return 1
	d2=$(new_loop d2 32) && l2=$(new_loop l2 16) || return 1
	# no --key-dir: $GEOREP_KEY_DIR
	georepctl volume create "$VOL" --data "$d1" --log "$l1" --format \
		--role primary --term 2 || return 1
	georepctl volume create "$VOL2" --data "$d2" --log "$l2" --format \
		--role secondary --term 1 || return 1
	[ -f "$GEOREP_KEY_DIR/$VOL/1.key" ] && [ -f "$GEOREP_KEY_DIR/$VOL2/1.key" ] ||
		{ echo "keys not in \$GEOREP_KEY_DIR"; return 1; }
	echo "$d1 $l1 $d2 $l2" >"$tmp/devs"
}

ops_logged() {
	local dev=/dev/georep/$VOL
	dd if=/dev/urandom of="$dev" bs=64K count=1 oflag=direct status=none || return 1
	blkdiscard -o 131072 -l 65536 "$dev" || return 1
	blkdiscard -z -o 262144 -l 32768 "$dev" || return 1
	georepctl ledger dump "$VOL" | tee "$tmp/dump"
	# seq term op lba len payload_len site epoch flags ...
	grep -q '^[0-9]* 2 write 0 65536 65536 ' "$tmp/dump" || { echo "no 64K write"; return 1; }
	grep -q '^[0-9]* 2 discard 256 65536 0 ' "$tmp/dump" || { echo "no discard"; return 1; }
	grep -q '^[0-9]* 2 write-zeroes 512 32768 0 ' "$tmp/dump" ||
		{ echo "no write-zeroes"; return 1; }
	georepctl ledger dump "$VOL" --json >"$tmp/dump.json" || return 1
	grep -q '"op": "discard"' "$tmp/dump.json" &&
		grep -q '"op": "write-zeroes"' "$tmp/dump.json" || { echo "json ops"; return 1; }
	georepctl ledger verify "$VOL"
}

status_two() {
	local a b
	georepctl status | tee "$tmp/st"
	a=$(grep -n "^$VOL " "$tmp/st" | cut -d: -f1)
	b=$(grep -n "^$VOL2 " "$tmp/st" | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || { echo "not both, in minor order"; return 1; }
	grep -q "^$VOL2 .*secondary/1" "$tmp/st" || return 1
	georepctl status --json >"$tmp/st.json" || return 1
	grep -q "\"name\": \"$VOL\"" "$tmp/st.json" &&
		grep -q "\"name\": \"$VOL2\"" "$tmp/st.json" || return 1
	grep -q '"role": "secondary"' "$tmp/st.json"
}

secondary_readonly() {
	if dd if=/dev/zero of="/dev/georep/$VOL2" bs=4096 count=1 oflag=direct \
	      status=none 2>"$tmp/e"; then
		echo "write to a secondary succeeded"
		return 1
	fi
	cat "$tmp/e"
	georepctl ledger dump "$VOL2" | grep -vc '^#' | grep -qx 0 ||
		{ echo "secondary logged a record"; return 1; }
}

empty_verify() {
	georepctl ledger verify "$VOL2" | tee "$tmp/v"
	grep -q '^verified 0 records' "$tmp/v"
}

key_mode_refused() {
	local d1 l1 rc
	read -r d1 l1 _ <"$tmp/devs"
	georepctl volume delete "$VOL" || return 1
	chmod 644 "$GEOREP_KEY_DIR/$VOL/1.key" || return 1
	georepctl volume create "$VOL" --data "$d1" --log "$l1" >"$tmp/e" 2>&1
	rc=$?
	cat "$tmp/e"
	[ $rc = 1 ] || { echo "create exited $rc"; return 1; }
	grep -q "1.key has mode 0644" "$tmp/e" || return 1
	chmod 600 "$GEOREP_KEY_DIR/$VOL/1.key" || return 1
	georepctl volume create "$VOL" --data "$d1" --log "$l1" || return 1
	georepctl ledger verify "$VOL"
}

delete_both() {
	georepctl volume delete "$VOL" && georepctl volume delete "$VOL2" || return 1
	georepctl status >"$tmp/st" || return 1
	grep -E "^($VOL|$VOL2) " "$tmp/st" && return 1
	return 0
}

echo "    KTAP version 1"
echo "    1..$total"
check two-volumes-env-key-dir setup
check discard-and-write-zeroes-logged ops_logged
check status-lists-both status_two
check secondary-refuses-writes secondary_readonly
check verify-empty-ledger empty_verify
check group-readable-key-refused key_mode_refused
check delete-both delete_both
[ $failed = 0 ]
