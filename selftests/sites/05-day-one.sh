#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Day one: the three sites have blank devices, a configuration, their
# certificates and nothing else (no `volume create`, no key copied by
# hand). georepd creates the volume: alpha (the first replica) formats it
# once bravo says it has nothing, bravo gets the uuid and the seal key from
# alpha over mutual TLS and formats its own; charlie's log device holds
# something else, so charlie refuses to format it and says why. Once
# charlie's device is wiped it joins too; every site's data and ledger then
# agree, each verifying with its own copy of the key; a restarted site
# attaches its replica instead of formatting it. Every georepd thread runs
# as an I/O flusher (PR_SET_IO_FLUSHER): the three sites share this kernel,
# and a primary's writeback waits for the followers' georepd.

set -u
. "$(dirname "$0")/lib.sh"

sites_init sites-day-one
SITES_DAY_ONE=yes
VT_VOLS="alpha.$VOL bravo.$VOL charlie.$VOL"

blank_devices() {
	local s
	for s in $SITES; do
		eval "D_$s=\$(vt_loop data-$s 128)" || return 1
		eval "L_$s=\$(vt_loop log-$s 64)" || return 1
	done
	# charlie's log device holds something else
	printf 'not a georep log: somebody else uses this disk\n' |
		dd of="$L_charlie" conv=notrunc oflag=direct,sync bs=4096 status=none
}

# the volume: alpha created it, bravo took its uuid; charlie refused
created() {
	local ua ub
	P=$(wait_primary 60) || { show_logs 40; return 1; }
	echo "primary: $P"
	grep -h "formatted on\|from site" "$T/alpha.log" "$T/bravo.log"
	ua=$(kvol alpha uuid) && ub=$(kvol bravo uuid) || return 1
	echo "uuid at alpha $ua, at bravo $ub"
	[ -n "$ua" ] && [ "$ua" != null ] && [ "$ua" = "$ub" ] || return 1
	cmp "$T/keys-alpha/alpha.$VOL/1.key" "$T/keys-bravo/bravo.$VOL/1.key" &&
	[ "$(stat -c %a "$T/keys-bravo/bravo.$VOL/1.key")" = 600 ]
}

# PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE (include/linux/sched.h) in the flags
# (field 9 of stat, the 7th after the command's closing paren) of every
# thread of every georepd
io_flushers() {
	local s pid t f want=$((0x80000 | 0x100000))
	for s in $SITES; do
		eval "pid=\$PID_$s"
		for t in /proc/"$pid"/task/*; do
			f=$(sed 's/.*) //' "$t/stat" | awk '{ print $7 }')
			echo "$s thread ${t##*/}: flags $(printf '%#x' "$f")"
			[ $((f & want)) = "$want" ] || return 1
		done
	done
}

charlie_refused() {
	local why
	why=$(site_rep_get charlie '.engine + " " + .state + ": " + .why')
	echo "charlie: $why"
	grep "not creating its replica" "$T/charlie.log" | head -n 2
	[[ $why == "genesis failed: log device $L_charlie holds data that is not a georep log"* ]] &&
	! georepctl status "charlie.$VOL" >/dev/null 2>&1
}

writes() {
	dd if=/dev/urandom of="/dev/georep/$P.$VOL" bs=1M count=4 oflag=direct status=none
}

charlie_joins() {
	local i
	dd if=/dev/zero of="$L_charlie" bs=4096 count=1 conv=notrunc oflag=direct status=none ||
		return 1
	for i in $(seq 120); do
		[ "$(vol_num charlie applied_seq 2>/dev/null)" = "$(vol_num "$P" written_seq)" ] &&
			break
		sleep 0.5
	done
	grep -h "formatted on\|from site" "$T/charlie.log"
	[ "$(kvol charlie uuid)" = "$(kvol alpha uuid)" ] &&
	[ "$(vol_num charlie applied_seq)" = "$(vol_num "$P" written_seq)" ]
}

verified_everywhere() {
	local s
	data_identical || return 1
	for s in $SITES; do
		georepctl ledger verify "$s.$VOL" --key-dir "$T/keys-$s" || return 1
	done
}

restart_attaches() {
	local s=bravo i
	[ "$P" = bravo ] && s=charlie
	kill_site "$s" || return 1
	georepctl volume delete "$s.$VOL" || return 1
	start_site "$s"
	for i in $(seq 60); do
		grep -q "attached the replica on" "$T/$s.log" && break
		sleep 0.5
	done
	grep "attached the replica on" "$T/$s.log" &&
	[ "$(grep -c 'formatted on' "$T/$s.log")" = 1 ]
}

check network sites_network || exit 1
check blank_devices_junk_at_charlie blank_devices || exit 1
check config sites_config || exit 1
for s in $SITES; do
	start_site "$s"
done
check alpha_creates_bravo_joins_same_uuid_and_key created || exit 1
check every_georepd_thread_is_an_io_flusher io_flushers
check charlie_refuses_a_device_holding_something_else charlie_refused
check writes_at_primary writes || exit 1
check charlie_wiped_joins_and_catches_up charlie_joins
check data_identical_ledgers_verify_with_own_keys verified_everywhere
check restarted_site_attaches_not_formats restart_attaches
[ "$failed" = 0 ]
