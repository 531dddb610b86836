#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Replication through the log streams, with georep-pump in the role of the
# daemon: a secondary made from a primary's records ends sha256-identical;
# it refuses block writes; it refuses records with a seq gap, a stale term,
# a wrong chain hash, a bad seal or a damaged payload and stays unchanged;
# terms only move forward. Appends in groups (many records per write(2),
# kmod/append.c): a group is appended whole, and a record refused inside a
# group leaves the records before it appended (a short write) and nothing
# after it.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol30

P=vol30p-$$
S=vol30s-$$
VT_VOLS="$P $S"
echo "    1..14"

setup() {
	PD=$(vt_loop pdata 128) && PL=$(vt_loop plog 64) || return 1
	SD=$(vt_loop sdata 128) && SL=$(vt_loop slog 64) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" --site-id 2 ||
		return 1
	# the same seal keys, for georepctl's own seal checks
	cp -a "$KEYS/$P" "$KEYS/$S" || return 1
	georepctl status
}

same_data() {
	local a b
	a=$(sha256sum <"/dev/georep/$P") && b=$(sha256sum <"/dev/georep/$S") || return 1
	echo "primary $a"
	echo "secondary $b"
	[ "$a" = "$b" ]
}

fill_primary() {
	mkfs.ext4 -q -F "/dev/georep/$P" || return 1
	mkdir -p "$T/mnt" && mount "/dev/georep/$P" "$T/mnt" || return 1
	for i in 1 2 3 4 5; do
		head -c $((i * 300000)) /dev/urandom >"$T/mnt/f$i" || return 1
	done
	umount "$T/mnt" || return 1
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=30000 count=20 oflag=direct status=none
}

pump_all() {
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --commit-to "$S" || return 1
	[ "$(vt_num "$S" written_seq)" = "$(vt_num "$P" written_seq)" ] || return 1
	vt_wait_applied "$S" "$(vt_num "$P" written_seq)" && same_data
}

secondary_read_only() {
	vt_expect_fail dd if=/dev/zero of="/dev/georep/$S" bs=4k count=1 oflag=direct status=none
}

# refused KIND ERRTEXT: a tampered record is refused, nothing changes
refused() {
	local w s
	w=$(vt_num "$S" written_seq)
	s=$(georepctl status "$S" --json | grep chain_hash)
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --max 1 \
		--tamper "$1" >"$T/p" 2>&1
	cat "$T/p"
	grep -q "refused: $2" "$T/p" || { echo "not refused with '$2'"; return 1; }
	[ "$(vt_num "$S" written_seq)" = "$w" ] || { echo "written_seq moved"; return 1; }
	[ "$(georepctl status "$S" --json | grep chain_hash)" = "$s" ] || { echo "chain moved"; return 1; }
}

tampered_refused() {
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=100 count=4 oflag=direct status=none || return 1
	refused seq "Invalid or incomplete multibyte or wide character" &&
	refused term "Stale file handle" &&
	refused chain "Bad message" &&
	refused seal "Bad message" &&
	refused payload "Bad message" &&
	pump_all
}

new_term() {
	# the primary moves to term 2; the secondary, still at 1, refuses
	georepctl volume set "$P" --role primary --term 2 || return 1
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=200 count=2 oflag=direct status=none || return 1
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" >"$T/p" 2>&1
	cat "$T/p"
	grep -q "refused: Stale file handle" "$T/p" || return 1
	georepctl volume set "$S" --role secondary --term 2 || return 1
	pump_all
}

# 64 single-block records, copied 16 per write(2)
pump_groups() {
	local out
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=400 count=64 oflag=direct \
		status=none || return 1
	out=$(georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 16 \
		--commit-to "$S") || return 1
	echo "$out"
	# 64 records or more (ext4 may add none here: raw writes), 16 per write
	echo "$out" | awk '{ r = $2; w = $(NF - 1) } END { exit !(r >= 64 && w <= (r + 15) / 16) }' ||
		{ echo "not appended in groups of 16"; return 1; }
	[ "$(vt_num "$S" written_seq)" = "$(vt_num "$P" written_seq)" ] || return 1
	vt_wait_applied "$S" "$(vt_num "$P" written_seq)" && same_data
}

# a group of 8 whose 4th record is damaged: 3 appended, then the refusal
group_refused() {
	local w
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=500 count=8 oflag=direct \
		status=none || return 1
	w=$(vt_num "$S" written_seq)
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --batch 8 --max 8 \
		--tamper payload --tamper-nth 4 >"$T/p" 2>&1
	cat "$T/p"
	grep -q "record $((w + 4)) refused: Bad message" "$T/p" || return 1
	grep -q "copied 3 records, last seq $((w + 3)), 2 writes" "$T/p" || return 1
	[ "$(vt_num "$S" written_seq)" = $((w + 3)) ] || { echo "written_seq not $((w + 3))"; return 1; }
	pump_all
}

# a record sealed with an epoch the secondary lacks: ENOKEY, not EBADMSG
# (georepd installs the epoch again from its key directory on ENOKEY); with
# the epoch's key the same record is appended
key_not_installed() {
	local e
	georepctl key rotate "$P" --key-dir "$KEYS" || return 1
	e=$(ls "$KEYS/$P" | sed -n 's/^\([0-9]*\)\.key$/\1/p' | sort -n | tail -n1)
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=600 count=1 oflag=direct \
		status=none || return 1
	vt_expect_fail georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" >"$T/p" 2>&1
	cat "$T/p"
	grep -q "refused: Required key not available" "$T/p" || return 1
	# the secondary attached again with epoch $e in its key directory
	cp -a "$KEYS/$P/$e.key" "$KEYS/$S/" && georepctl volume delete "$S" &&
		georepctl volume create "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" || return 1
	georepctl status "$S"
	pump_all
}

term_backwards() {
	vt_expect_fail georepctl volume set "$S" --role secondary --term 1 >"$T/e" 2>&1
	cat "$T/e"
	grep -q "below the current term" "$T/e"
}

ledgers_equal() {
	georepctl ledger verify "$S" --key-dir "$KEYS" >/dev/null || return 1
	[ "$(georepctl status "$P" --json | grep chain_hash)" = \
	  "$(georepctl status "$S" --json | grep chain_hash)" ]
}

promote() {
	# the secondary takes over in term 3, writes, and stays consistent
	georepctl volume set "$P" --role secondary --term 3 || return 1
	georepctl volume set "$S" --role primary --term 3 || return 1
	dd if=/dev/urandom of="/dev/georep/$S" bs=4k seek=300 count=3 oflag=direct status=none || return 1
	georep-pump "/dev/georep/$S.log" "/dev/georep/$P.log" --commit-to "$P" || return 1
	vt_wait_applied "$P" "$(vt_num "$S" written_seq)" && same_data
}

# A power cut inside a group of appends at P (now the secondary) loses
# record n and keeps n+1..n+3 (history A); P then writes another record n
# as primary of a new term (history B) over the first only. At the next
# attach, n+1 (of A: its chain fails, its seal verifies) ends the log,
# though n+2 chains from it: before recover.c knew this, the attach was
# refused with "record n+1 failed its chain check".
stale_history() {
	local w n
	w=$(vt_num "$P" written_seq)
	n=$((w + 1))
	dd if=/dev/urandom of="/dev/georep/$S" bs=4k seek=800 count=4 oflag=direct \
		status=none || return 1
	georep-pump "/dev/georep/$S.log" "/dev/georep/$P.log" || return 1
	georepctl volume delete "$P" &&
		georep-corrupt "$PL" $n --set seq 999999 &&
		georep-corrupt "$PL" --sb head_seq $w &&
		georepctl volume create "$P" --data "$PD" --log "$PL" --key-dir "$KEYS" || return 1
	[ "$(vt_num "$P" written_seq)" = $w ] || { echo "torn tail not at $w"; return 1; }
	georepctl volume set "$S" --role secondary --term 4 &&
		georepctl volume set "$P" --role primary --term 4 || return 1
	dd if=/dev/urandom of="/dev/georep/$P" bs=4k seek=900 count=1 oflag=direct \
		status=none || return 1
	[ "$(vt_num "$P" written_seq)" = $n ] || { echo "record $n not written"; return 1; }
	georepctl volume delete "$P" || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --key-dir "$KEYS" ||
		{ echo "attach refused"; return 1; }
	[ "$(vt_num "$P" written_seq)" = $n ] || { echo "log not ending at $n"; return 1; }
	georepctl ledger verify "$P" --key-dir "$KEYS"
}

vt_check "primary and secondary" setup
vt_check "ext4 and raw writes on the primary" fill_primary
vt_check "pump: secondary is sha256-identical" pump_all
vt_check "secondary refuses block writes" secondary_read_only
vt_check "seq gap, stale term, chain, seal, payload refused" tampered_refused
vt_check "records appended in groups of 16, one write(2) each" pump_groups
vt_check "a record refused inside a group: those before it appended" group_refused
vt_check "a record sealed with an epoch not installed: ENOKEY" key_not_installed
vt_check "record of a newer term refused until the term moves" new_term
vt_check "terms only move forward" term_backwards
vt_check "both ledgers verify and end on the same chain hash" ledgers_equal
vt_check "switchover: the old secondary writes, the old primary follows" promote
vt_check "records of another history past a torn tail: attach, not corruption" stale_history
vt_check "delete both" eval 'georepctl volume delete "$S" && georepctl volume delete "$P"'
vt_done
