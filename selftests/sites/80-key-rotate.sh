#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Seal-key rotation by the leader over the kernel ledgers: three sites set
# up on day one (each its own key directory, nothing copied by hand); fio
# writes and verifies at the primary while the key is rotated twice; no
# write fails, the primary seals with epoch 3 at the end, every site holds
# epochs 1..3 (same bytes, 0600), and `ledger verify` passes across the
# epoch boundaries at every site with its own keys. A rotation asked at a
# follower is refused naming the leader. Then nine more rotations under fio
# take every site's kernel past its 8-epoch key ring (kmod/keys.c,
# "Retiring epochs"), the first two with a follower's georepd down: it
# rejoins with both epochs and verifies. Last, the leader's georepd is killed (-9) in the
# middle of a rotation that no majority has acknowledged (both followers
# stopped): the new leader finishes it.

set -u
. "$(dirname "$0")/lib.sh"

sites_init sites-key-rotate
SITES_DAY_ONE=yes
VT_VOLS="alpha.$VOL bravo.$VOL charlie.$VOL"

devices() {
	local s
	for s in $SITES; do
		eval "D_$s=\$(vt_loop data-$s 128)" && eval "L_$s=\$(vt_loop log-$s 128)" ||
			return 1
	done
}

up() {
	local s
	for s in $SITES; do
		start_site "$s"
	done
	P=$(wait_primary 60) || return 1
	F=$(for s in $SITES; do [ "$s" != "$P" ] && echo "$s"; done | head -n1)
	echo "primary $P, a follower $F"
}

follower_refused() {
	ctl "$F" key rotate "$VOL" 2>"$T/e"
	local rc=$?
	cat "$T/e"
	[ $rc != 0 ] && grep -q "not the volume's writable leader ($P is)" "$T/e"
}

sealing() { ctl "$1" key status "$VOL" --json | jq -r .sealing; }

# verify_now: ledger verify at every site with its own keys, now (fio runs);
# the seal epochs of the records each retains go to $T/epochs
verify_now() {
	local s
	for s in $SITES; do
		georepctl ledger verify "$s.$VOL" --key-dir "$T/keys-$s" || return 1
		georepctl ledger dump "$s.$VOL" | grep -v '^#' | awk '{ print $8 }' >>"$T/epochs"
	done
}

rotate_under_fio() {
	local e w
	: >"$T/epochs"
	# fio rounds until both rotations are done (a 32 MiB job outlasted
	# them by half a minute)
	sites_writer rot &
	w=$!
	for e in 2 3; do
		sleep 2
		ctl "$P" key rotate "$VOL" &&
		wait_for 30 eval '[ "$(sealing "$P")" = '$e' ]' ||
			{ ctl "$P" key status "$VOL"; sites_writer_stop rot $w; return 1; }
		echo "sealing with epoch $e"
		# records of the old and the new epoch side by side in every log
		sleep 1
		verify_now || { sites_writer_stop rot $w; return 1; }
	done
	sites_writer_stop rot $w
}

keys_everywhere() {
	local s e
	ctl "$P" key status "$VOL"
	for s in $SITES; do
		for e in 1 2 3; do
			[ "$(stat -c %a "$T/keys-$s/$s.$VOL/$e.key")" = 600 ] &&
			cmp "$T/keys-$s/$s.$VOL/$e.key" "$T/keys-$P/$P.$VOL/$e.key" || return 1
		done
	done
}

verified_everywhere() {
	local s w
	w=$(vol_num "$P" written_seq)
	for s in $SITES; do
		wait_for 30 caught_up "$s" "$P" || return 1
	done
	verify_now || return 1
	sort -un "$T/epochs" >"$T/epochs.u"
	echo "seal epochs of the records verified during and after the rotations ($w written):" \
		"$(tr '\n' ' ' <"$T/epochs.u")"
	grep -qx 1 "$T/epochs.u" && grep -qx 2 "$T/epochs.u" && grep -qx 3 "$T/epochs.u" &&
	data_identical
}

# a follower's georepd down (-9) while the key is rotated twice under fio
# (epochs 4 and 5: the two others make the majority); restarted, it is
# sent both epochs before any record sealed with them, its kernel appends
# the records sealed with each (it refuses a record whose epoch it lacks),
# its key directory holds both with the leader's bytes, and its ledger
# verifies with its own keys; it caught up from the log (no resync). The
# logs are large enough that no site releases those records meanwhile: a
# follower releases everything applied once its log is half full, and
# with 64 MiB logs (4096 records of 8 KiB) alpha's log once held epoch 5
# alone when checked (CI, December 2026).
down_during_two_rotations() {
	local e w
	kill_site "$F"
	sites_writer rotd &
	w=$!
	for e in 4 5; do
		sleep 1
		ctl "$P" key rotate "$VOL" >/dev/null &&
		wait_for 30 eval '[ "$(sealing "$P")" = '$e' ]' ||
			{ ctl "$P" key status "$VOL"; sites_writer_stop rotd $w; return 1; }
		echo "sealing with epoch $e, $F down"
	done
	sleep 1
	sites_writer_stop rotd $w || return 1
	start_site "$F"
	wait_for 60 caught_up "$F" "$P" || { echo "$F did not catch up"; return 1; }
	for e in 4 5; do
		[ "$(stat -c %a "$T/keys-$F/$F.$VOL/$e.key")" = 600 ] &&
		cmp "$T/keys-$F/$F.$VOL/$e.key" "$T/keys-$P/$P.$VOL/$e.key" || return 1
	done
	georepctl ledger verify "$F.$VOL" --key-dir "$T/keys-$F" || return 1
	georepctl ledger dump "$F.$VOL" | grep -v '^#' | awk '{ print $8 }' | sort -un >"$T/epochs.f"
	echo "$F: seal epochs of its retained records: $(tr '\n' ' ' <"$T/epochs.f")"
	echo "$F resyncs_done: $(site_rep_get "$F" '.resyncs_done')"
	[ "$(site_rep_get "$F" '.resyncs_done')" = 0 ] &&
	grep -qx 4 "$T/epochs.f" && grep -qx 5 "$T/epochs.f"
}

# past the kernel's 8 epochs, under fio: each site's key ring retires the
# epochs its retained log no longer uses (a full one first releases what
# it safely can); sealing reaches 12, no write fails, every site verifies
# its log with its own keys and holds the same data
rotate_past_eight() {
	local e s w
	# fio rounds until the last rotation is done (one 8 MiB job could end
	# before it under a fast TCG host)
	sites_writer rot2 &
	w=$!
	for e in $(seq 6 12); do
		ctl "$P" key rotate "$VOL" >/dev/null &&
		wait_for 30 eval '[ "$(sealing "$P")" = '$e' ]' ||
			{ ctl "$P" key status "$VOL"; sites_writer_stop rot2 $w; return 1; }
	done
	sites_writer_stop rot2 $w || return 1
	# per site, as its last KEY_ACK said: 12 held, and the sealing epoch
	# among those held
	wait_for 20 eval 'ctl "$P" key status "$VOL" --json | jq -e "[.sites[] |
		(.installed // []) as \$i | (\$i | any(. == 12)) and
		(.sealing as \$s | \$i | any(. == \$s))] | all and length == 3" >/dev/null' ||
		{ ctl "$P" key status "$VOL" --json; return 1; }
	ctl "$P" key status "$VOL"
	for s in $SITES; do
		wait_for 30 caught_up "$s" "$P" || return 1
	done
	: >"$T/epochs"
	verify_now || return 1
	echo "seal epochs of the retained records: $(sort -un "$T/epochs" | tr '\n' ' ')"
	data_identical
}

check network sites_network || exit 1
# both followers stopped (SIGSTOP), so no majority can install the next
# epoch: the leader makes it and installs it verify-only, sealing stays;
# kill -9 of that leader's georepd, the followers resumed: the new leader
# finds the epoch in its key directory above the one it seals with and
# finishes the rotation; the old leader's georepd restarts and follows;
# records sealed with the new epoch verify at every site with its own
# keys, and the data is the same (issue 9: e2e_keys tests 6 and 7 over the
# kernel ledgers)
# SIGSTOP or SIGCONT ($1) the followers' georepd
followers_signal() {
	local s
	for s in $SITES; do
		[ "$s" = "$P" ] || eval "kill -$1 \$PID_$s"
	done
}

leader_dies_mid_rotation() {
	local s np e
	e=$(($(sealing "$P") + 1))
	followers_signal STOP
	ctl "$P" key rotate "$VOL" &&
	wait_for 10 eval 'ctl "$P" key status "$VOL" --json | jq -e ".sealing == $((e - 1)) and
		(.installed | any(. == $e))" >/dev/null' ||
		{ ctl "$P" key status "$VOL"; followers_signal CONT; return 1; }
	echo "epoch $e installed verify-only at $P, sealing stays $((e - 1))"
	kill_site "$P"
	followers_signal CONT
	np=$(wait_primary 30 "$P") || return 1
	wait_for 30 eval '[ "$(sealing "$np")" = '$e' ]' || { ctl "$np" key status "$VOL"; return 1; }
	echo "new primary $np seals with epoch $e"
	start_site "$P"
	for s in $SITES; do
		wait_for 60 caught_up "$s" "$np" || { echo "$s did not catch up"; return 1; }
	done
	dd if=/dev/urandom of="/dev/georep/$np.$VOL" bs=4k count=4 seek=4000 oflag=direct,dsync \
		status=none || return 1
	for s in $SITES; do
		wait_for 30 caught_up "$s" "$np" || return 1
	done
	: >"$T/epochs"
	verify_now || return 1
	grep -qx "$e" "$T/epochs" || { echo "no retained record sealed with $e"; return 1; }
	P=$np
	data_identical
}

check devices devices || exit 1
check config sites_config || exit 1
check day_one_primary up || exit 1
check rotation_at_a_follower_refused follower_refused
check two_rotations_under_fio_verify rotate_under_fio || exit 1
check every_site_has_epochs_1_to_3_same_bytes keys_everywhere
check ledger_verify_across_epochs_every_site verified_everywhere
check follower_down_during_two_rotations_rejoins down_during_two_rotations
check rotations_past_8_epochs_under_fio rotate_past_eight
check kill_9_leader_mid_rotation_new_leader_finishes leader_dies_mid_rotation
[ "$failed" = 0 ]
