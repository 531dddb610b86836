#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# georepctl end to end on loop devices: volume create (with a generated
# key) / status (text and JSON) / writes / ledger dump / ledger verify /
# key rotate / volume set / ledger release / usage and kernel errors /
# volume delete / attach again from the same devices.
#
# Nested KTAP, one line per check; exit 0 when all pass, 4 to skip, 1 when
# a check failed. Cleans up volumes, loop devices and the tmpfs.

set -u

. "$(dirname "$0")/lib/ktap.sh"

VOL=grctl70-$$
total=19

need_georep georepctl

tmp=$(ktap_tmpfs grctl70 160) || exit 1
KEYS=$tmp/keys
outf=$tmp/out
data=
log=
holder=

cleanup() {
	[ -n "$holder" ] && exec 7<&-
	georepctl volume delete "$VOL" >/dev/null 2>&1
	drop_loops "$data" "$log"
	drop_tmpfs "$tmp"
}
trap cleanup EXIT

# json_num KEY: the number after "KEY": in georepctl status --json
json_num() {
	georepctl status "$VOL" --json | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"
}

# expect_exit CODE CMD...: CMD must exit with CODE; its output is shown
expect_exit() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	[ $rc = "$want" ] || { echo "'$*' exited $rc, expected $want"; return 1; }
}

write_blocks() {	# write_blocks FIRST COUNT: one 4 KiB O_DIRECT write each
	local i
	for i in $(seq "$1" $(($1 + $2 - 1))); do
		dd if=/dev/urandom of="/dev/georep/$VOL" bs=4096 count=1 seek="$i" \
		   oflag=direct conv=notrunc status=none || return 1
	done
}

setup_loops() {
	truncate -s 64M "$tmp/data.img" && truncate -s 32M "$tmp/log.img" || return 1
	data=$(losetup -f --show "$tmp/data.img") || return 1
	log=$(losetup -f --show "$tmp/log.img") || return 1
	echo "data $data log $log"
}

create_formats() {
	georepctl volume create "$VOL" --data "$data" --log "$log" --format \
		--site-id 7 --role primary --term 1 --commit-rule local \
		--key-dir "$KEYS" || return 1
	[ "$(stat -c %a "$KEYS/$VOL/1.key")" = 600 ] || { echo "1.key not 0600"; return 1; }
	[ "$(stat -c %s "$KEYS/$VOL/1.key")" = 32 ] || { echo "1.key not 32 bytes"; return 1; }
	readlink "/dev/georep/$VOL" | grep -qx '../georep[0-9]*' || { echo "bad data link"; return 1; }
	readlink "/dev/georep/$VOL.log" | grep -qx '../georep[0-9]*-log' || { echo "bad log link"; return 1; }
	[ -b "/dev/georep/$VOL" ] || { echo "/dev/georep/$VOL is not a block device"; return 1; }
	[ -c "/dev/georep/$VOL.log" ] || { echo "/dev/georep/$VOL.log is not a char device"; return 1; }
}

status_shows() {
	georepctl status || return 1
	georepctl status "$VOL" | grep -q "^$VOL .*primary/1 *local" || { echo "row missing"; return 1; }
	georepctl status --json | grep -q "\"name\": \"$VOL\"" || return 1
	local k
	for k in name minor role term commit_rule written_seq commit_seq applied_seq \
		 tail_seq log_used log_size uncommitted_bytes throttled seal_epoch open_count; do
		georepctl status "$VOL" --json | grep -q "\"$k\":" || { echo "no key $k"; return 1; }
	done
	[ "$(json_num seal_epoch)" = 1 ] || { echo "seal_epoch not 1"; return 1; }
}

writes_logged() {
	local before after
	before=$(json_num written_seq)
	write_blocks 0 8 || return 1
	after=$(json_num written_seq)
	echo "written_seq $before -> $after"
	[ "$after" -ge $((before + 8)) ]
}

dump_lists_all() {
	local written tail lines
	written=$(json_num written_seq)
	tail=$(json_num tail_seq)
	[ "$tail" = 0 ] && tail=1
	georepctl ledger dump "$VOL" >"$tmp/dump" || return 1
	head -n 4 "$tmp/dump"
	lines=$(grep -vc '^#' "$tmp/dump")
	echo "$lines records, tail $tail written $written"
	[ "$lines" = $((written - tail + 1)) ] || return 1
	# seq term op lba len payload_len site epoch ...
	grep -q '^[0-9]* 1 write [0-9]* 4096 4096 7 1 ' "$tmp/dump" || { echo "no write record"; return 1; }
	georepctl ledger dump "$VOL" --from 2 --to 3 | grep -vc '^#' | grep -qx 2 || { echo "--from/--to"; return 1; }
	georepctl ledger dump "$VOL" --json >"$tmp/dump.json" || return 1
	[ "$(grep -c '"payload_hash": "[0-9a-f]\{64\}"' "$tmp/dump.json")" = "$lines" ] ||
		{ echo "json hashes"; return 1; }
	# the last record's chain hash is the kernel's chain head
	local hx='s/.*"chain_hash": "\([0-9a-f]*\)".*/\1/p' dump_head kernel_head
	dump_head=$(sed -n "$hx" "$tmp/dump.json" | tail -n 1)
	kernel_head=$(georepctl status "$VOL" --json | sed -n "$hx")
	echo "chain head: dump $dump_head kernel $kernel_head"
	[ -n "$dump_head" ] && [ "$dump_head" = "$kernel_head" ] ||
		{ echo "chain head differs"; return 1; }
}

verify_ok() {
	georepctl ledger verify "$VOL" --key-dir "$KEYS" >"$tmp/verify" || { cat "$tmp/verify"; return 1; }
	cat "$tmp/verify"
	grep -q "^verified [0-9]* records, seq [0-9]*\.\.$(json_num written_seq), chain head [0-9a-f]\{64\}$" \
		"$tmp/verify"
}

key_rotates() {
	georepctl key rotate "$VOL" --key-dir "$KEYS" || return 1
	[ -f "$KEYS/$VOL/2.key" ] || { echo "no 2.key"; return 1; }
	[ "$(json_num seal_epoch)" = 2 ] || { echo "seal_epoch not 2"; return 1; }
	write_blocks 20 2 || return 1
	georepctl ledger dump "$VOL" | awk '$8 == 2' | grep -q write || { echo "no epoch 2 record"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS"
}

wrong_key_caught() {
	local bad=$tmp/badkeys
	mkdir -p "$bad/$VOL" && chmod 700 "$bad" "$bad/$VOL" || return 1
	cp -p "$KEYS/$VOL/2.key" "$bad/$VOL/2.key" || return 1
	head -c 32 /dev/urandom >"$bad/$VOL/1.key" && chmod 600 "$bad/$VOL/1.key" || return 1
	expect_exit 1 georepctl ledger verify "$VOL" --key-dir "$bad" >"$tmp/v" 2>&1
	cat "$tmp/v"
	grep -q '^record [0-9]*: seal mismatch' "$tmp/v" || return 1
	# and a group-readable key file is refused (seals then go unchecked)
	chmod 640 "$bad/$VOL/1.key"
	georepctl ledger verify "$VOL" --key-dir "$bad" 2>&1 | grep -q 'mode 0640' ||
		{ echo "group-readable key not refused"; return 1; }
}

usage_errors() {
	expect_exit 2 georepctl volume create "$VOL" --data "$data" || return 1
	expect_exit 2 georepctl ledger release "$VOL" 12x || return 1
	expect_exit 2 georepctl status 'bad/name' || return 1
	expect_exit 2 georepctl volume set "$VOL" --term 5 || return 1
	expect_exit 2 georepctl ledger dump "$VOL" --from -1 || return 1
	expect_exit 0 georepctl volume create --help >/dev/null || return 1
	expect_exit 2 georepctl frobnicate 2>/dev/null
}

kernel_errors() {
	expect_exit 1 georepctl volume delete "nosuch$$" 2>"$tmp/e" || return 1
	cat "$tmp/e"
	grep -q 'No such file or directory: ' "$tmp/e" || { echo "no errno+extack text"; return 1; }
	# terms only move forward
	expect_exit 1 georepctl volume set "$VOL" --role primary --term 0 2>&1 || return 1
	# a second volume on the same name
	expect_exit 1 georepctl volume create "$VOL" --data "$data" --log "$log" \
		--key-dir "$KEYS" 2>&1
}

set_changes() {
	georepctl volume set "$VOL" --role primary --term 3 --commit-rule local \
		--high-wm 90 --low-wm 50 --max-uncommitted 8M || return 1
	[ "$(json_num term)" = 3 ] || { echo "term not 3"; return 1; }
	georepctl status "$VOL" | grep -q "primary/3" || return 1
	write_blocks 30 1 || return 1
	georepctl volume set "$VOL" --commit-seq "$(json_num written_seq)" || return 1
	georepctl ledger dump "$VOL" | tail -n 1 | awk '{ exit !($2 == 3) }' ||
		{ echo "last record not in term 3"; return 1; }
}

release_ok() {
	local w
	w=$(json_num written_seq)
	georepctl ledger release "$VOL" $((w - 2)) || return 1
	[ "$(json_num tail_seq)" -gt 1 ] || { echo "tail did not move"; return 1; }
	expect_exit 1 georepctl ledger dump "$VOL" --from 1 >"$tmp/e" 2>&1 ||
		{ cat "$tmp/e"; return 1; }
	cat "$tmp/e"
	grep -q 'below the retained tail' "$tmp/e" || return 1
	georepctl ledger verify "$VOL" --key-dir "$KEYS"
}

# release every record but the last, once it is applied
release_but_last() {
	local w i
	w=$(json_num written_seq)
	for i in $(seq 50); do
		[ "$(json_num applied_seq)" = "$w" ] && break
		sleep 0.1
	done
	georepctl ledger release "$VOL" $((w - 1))
}

# a record sealed with each epoch: rotating to 9 retires epoch 1, which no
# retained record is sealed with; with 2..9 each sealing a retained record
# the next rotation is refused, naming the oldest, and 10.key is removed
key_rotate_ring_full() {
	local c e w
	c=$(json_num seal_epoch)
	[ "$c" = 2 ] || { echo "seal_epoch $c, not 2"; return 1; }
	write_blocks 30 1 && release_but_last || return 1
	w=$(json_num tail_seq)
	for e in $(seq 3 9); do
		georepctl key rotate "$VOL" --key-dir "$KEYS" || return 1
		write_blocks $((30 + e)) 1 || return 1
	done
	[ "$(json_num seal_epoch)" = 9 ] || { echo "seal_epoch not 9"; return 1; }
	expect_exit 1 georepctl key rotate "$VOL" --key-dir "$KEYS" >"$tmp/e" 2>&1 ||
		{ cat "$tmp/e"; return 1; }
	cat "$tmp/e"
	grep -q "key ring full: epoch 2 seals retained record $w; release the log past it" \
		"$tmp/e" || return 1
	[ "$(json_num seal_epoch)" = 9 ] || { echo "seal_epoch moved"; return 1; }
	[ ! -e "$KEYS/$VOL/10.key" ] || { echo "10.key left"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS"
}

# the log released past them, old epochs retire one per rotation: up to
# epoch 12 with a write after each; every key file stays
key_rotate_past_eight() {
	local e
	for e in 10 11 12; do
		release_but_last || return 1
		georepctl key rotate "$VOL" --key-dir "$KEYS" || return 1
		write_blocks $((30 + e)) 1 || return 1
	done
	[ "$(json_num seal_epoch)" = 12 ] || { echo "seal_epoch not 12"; return 1; }
	[ "$(ls "$KEYS/$VOL" | wc -l)" = 12 ] || { ls "$KEYS/$VOL"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS"
}

delete_busy() {
	exec 7<"/dev/georep/$VOL" && holder=1
	expect_exit 1 georepctl volume delete "$VOL" 2>&1
	local rc=$?
	exec 7<&- && holder=
	return $rc
}

delete_removes_links() {
	georepctl volume delete "$VOL" || return 1
	[ ! -e "/dev/georep/$VOL" ] && [ ! -L "/dev/georep/$VOL" ] || { echo "data link left"; return 1; }
	[ ! -L "/dev/georep/$VOL.log" ] || { echo "log link left"; return 1; }
	georepctl status >"$tmp/st" || return 1
	grep -q "^$VOL " "$tmp/st" && { echo "still listed"; return 1; }
	return 0
}

attach_needs_keys() {
	expect_exit 1 georepctl volume create "$VOL" --data "$data" --log "$log" \
		--key-dir "$tmp/empty" 2>"$tmp/e" || return 1
	cat "$tmp/e"
	grep -q 'no seal keys' "$tmp/e"
}

attach_again() {
	georepctl volume create "$VOL" --data "$data" --log "$log" --key-dir "$KEYS" || return 1
	georepctl status "$VOL" || return 1
	[ "$(json_num seal_epoch)" = 12 ] || { echo "seal_epoch not 12 after attach"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS" || return 1
	# recovery saw records 21 and 22 sealed with 11 and 12: eight more
	# rotations retire 5..10 and the unused new ones, never 11 or 12
	# (the kernel's LEDGER_VERIFY, first in ledger verify, needs them)
	local e
	for e in $(seq 13 20); do
		georepctl key rotate "$VOL" --key-dir "$KEYS" >/dev/null || return 1
	done
	[ "$(json_num seal_epoch)" = 20 ] || { echo "seal_epoch not 20"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS" || return 1
	georepctl volume delete "$VOL"
}

# the newest 8 key files are now 13..20, but records 21 and 22 need 11 and
# 12: the kernel names each missing epoch, and volume create attaches again
# with it in place of the oldest of the others
attach_older_epochs() {
	georepctl volume create "$VOL" --data "$data" --log "$log" --key-dir "$KEYS" || return 1
	georepctl status "$VOL" --json | jq -c .volumes[0].key_epochs
	georepctl status "$VOL" --json | jq -e '.volumes[0].key_epochs |
		index([11]) != null and index([12]) != null and index([20]) != null and
		length == 8' >/dev/null || return 1
	[ "$(json_num seal_epoch)" = 20 ] || { echo "seal_epoch not 20"; return 1; }
	georepctl ledger verify "$VOL" --key-dir "$KEYS" || return 1
	georepctl volume delete "$VOL"
}

echo "    KTAP version 1"
echo "    1..$total"
check setup-loop-devices setup_loops
check volume-create-format create_formats
check status-text-and-json status_shows
check writes-are-logged writes_logged
check ledger-dump dump_lists_all
check ledger-verify verify_ok
check key-rotate key_rotates
check verify-catches-wrong-key wrong_key_caught
check usage-errors-exit-2 usage_errors
check kernel-errors-exit-1 kernel_errors
check volume-set set_changes
check ledger-release release_ok
check key-ring-full-refused key_rotate_ring_full
check key-rotate-past-eight key_rotate_past_eight
check delete-while-open-is-busy delete_busy
check volume-delete delete_removes_links
check attach-refused-without-keys attach_needs_keys
check attach-again attach_again
check attach-needs-older-epochs attach_older_epochs
[ $failed = 0 ]
