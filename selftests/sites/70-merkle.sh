#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Merkle tree over the kernel ledger (Documentation/proofs.rst): three
# sites, writes at the primary. Every site's tree root (georepd status)
# must equal a recomputation here, in bash with openssl, from that site's
# `georepctl ledger dump --json`; a follower killed and restarted loads its
# tree and keeps it equal; an inclusion proof made at one site and cosigned
# by the two others verifies offline with --quorum 3, and a tampered one
# does not; checkpoints become final (final_seq reaches the commit index at
# every site, issue 12 part 2) and an inclusion proof with the final
# checkpoint verifies with --quorum 2 and the keys of the sites'
# certificates; `georepctl verify --via` one follower's socket finds the
# three sites agreeing; a record altered on a follower's log device gets no
# proof and no cosignature from that site (its scrub finds it). The scrub
# starts a pass every 2 s ("scrub_pass_s"; 10 by default), so that finding
# the damage and clearing it do not wait for two 10 s passes.

set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mth.sh"

sites_init sites-merkle

config() {
	sites_config || return 1
	jq '.volumes[0].checkpoint.scrub_pass_s = 2' "$T/cluster.json" >"$T/cluster.json.new" &&
	mv "$T/cluster.json.new" "$T/cluster.json" &&
	georepctl config check "$T/cluster.json"
}

# write N 4 KiB blocks at the primary, O_DIRECT, each its own record
writes() {
	local i
	for i in $(seq 1 "$1"); do
		dd if=/dev/urandom of="/dev/georep/$P.$VOL" bs=4k count=1 seek=$((i * 3 + $2)) \
			oflag=direct,dsync status=none || return 1
	done
}

# append the little-endian hex of $1 in $2 bytes to $LEAF (no subshell:
# the recomputation forks as little as it can, which TCG makes slow)
le() {
	local h i
	printf -v h "%0$(($2 * 2))x" "$1"
	for ((i = ${#h} - 2; i >= 0; i -= 2)); do
		LEAF+=${h:i:2}
	done
}

# the leaf of one record (record header version 1) into $LEAF, from the
# fields of `ledger dump --json` as leaf_fields prints them; $2: its
# timestamp_ns, taken from the text (jq 1.6 reads numbers as doubles)
leaf_hex() {
	local op seq term lba len plen sid ep fl uuid ph ch
	read -r op seq term lba len plen sid ep fl uuid ph ch <<<"$1"
	case $op in
	noop) op=0 ;; write) op=1 ;; discard) op=2 ;; write-zeroes) op=3 ;;
	esac
	LEAF=47524c46
	le 1 2; le "$op" 2; le "$seq" 8; le "$term" 8; le "$lba" 8; le "$len" 4; le "$plen" 4
	le "$2" 8; le "$sid" 4; le "$ep" 4; le "$fl" 4; le 1 2
	LEAF+=0000$uuid$ph$ch
}

# the leaf fields of every record of dump $1, a line each (one jq)
leaf_fields() {
	jq -r '.[] | [.op, .seq, .term, .lba, .len, .payload_len, .site_id, .seal_epoch,
		      .flags, .volume_uuid, .payload_hash, .chain_hash] | @tsv' "$1"
}

# roots recomputed so far, by the SHA-256 of the dump they come from: a
# site whose dump is byte for byte one already recomputed has the same
# records, so the recomputation is not repeated
declare -A RECOMPUTED

# site $1's daemon root equals the recomputation from its own ledger dump
root_matches() {
	local s=$1 n size root want rec sum
	local -a leaves
	size=$(site_rep_get "$s" '.merkle.size')
	root=$(site_rep_get "$s" '.merkle.root')
	[ "$(kvol "$s" tail_seq)" = 1 ] || { echo "$s: log released, cannot recompute"; return 1; }
	georepctl ledger dump "$s.$VOL" --json --to "$size" >"$T/dump-$s" || return 1
	sum=$(sha256sum <"$T/dump-$s" | cut -c1-64)
	if [ -n "${RECOMPUTED[$sum]:-}" ]; then
		want=${RECOMPUTED[$sum]}
		echo "$s: tree size $size root ${root:0:16}, its dump the same as one recomputed: ${want:0:16}"
		[ "$root" = "$want" ]
		return
	fi
	leaf_fields "$T/dump-$s" >"$T/recs-$s" || return 1
	mapfile -t TS < <(sed -n 's/.*"timestamp_ns": \([0-9]*\).*/\1/p' "$T/dump-$s")
	leaves=()
	n=0
	while read -r rec; do
		leaf_hex "$rec" "${TS[n]}"
		leaves[n]=$LEAF
		n=$((n + 1))
	done <"$T/recs-$s"
	mth_leaves "$T/mth" "${leaves[@]}" || return 1
	want=$(mth_root "$T/mth") || return 1
	echo "$s: tree size $size root ${root:0:16}, recomputed over $n records ${want:0:16}"
	[ "$n" = "$size" ] || return 1
	RECOMPUTED[$sum]=$want
	[ "$root" = "$want" ]
}

all_roots() {
	local s
	for s in $SITES; do
		wait_for 20 caught_up "$s" "$P" || return 1
		wait_for 10 eval '[ "$(site_rep_get '"$s"' .merkle.size)" = "$(vol_num '"$s"' written_seq)" ]' ||
			{ site_rep_get "$s" .merkle; return 1; }
		root_matches "$s" || return 1
	done
}

restart_follower() {
	local n
	R=$(for s in $SITES; do [ "$s" != "$P" ] && echo "$s"; done | head -n1)
	n=$(site_rep_get "$R" '.merkle.size')
	kill_site "$R" || return 1
	writes 8 500 || return 1
	: >"$T/$R.log"
	start_site "$R"
	# loaded from the state dir at the size it had, then caught up
	wait_for 30 grep -q "Merkle tree of $n leaves" "$T/$R.log" ||
		{ cat "$T/$R.log"; return 1; }
	grep "Merkle tree" "$T/$R.log"
	all_roots
}

proofs() {
	local s seq
	for s in $SITES; do
		openssl genpkey -algorithm ed25519 -out "$T/$s.key" 2>/dev/null || return 1
		chmod 600 "$T/$s.key"
		georepctl proof vkey "$T/$s.key" "georep/sites/$s" >>"$T/trust" || return 1
	done
	seq=$(($(vol_num "$P" commit_seq) / 2))
	ctl "$P" proof inclusion "$VOL" "$seq" --key "$T/$P.key" >"$T/b0" || return 1
	cp "$T/b0" "$T/b"
	for s in $SITES; do
		[ "$s" = "$P" ] && continue
		ctl "$s" proof cosign "$T/b" --key "$T/$s.key" >"$T/b.new" || return 1
		mv "$T/b.new" "$T/b"
	done
	cat "$T/b"
	georepctl proof verify "$T/b" --trust "$T/trust" --quorum 3 || return 1
	# the leaf's lba changed (base64 characters 32-35: leaf bytes 24-26): refused
	sed -i '2s|^\(extra .\{32\}\)....|\1////|' "$T/b"
	! georepctl proof verify "$T/b" --trust "$T/trust"
}

# every site's final_seq reaches the primary's commit index
all_final() {
	local s c
	c=$(site_rep_get "$P" .commit_seq)
	for s in $SITES; do
		[ "$(site_rep_get "$s" .final_seq)" = "$c" ] || return 1
	done
}

finality() {
	local s
	writes 4 700 || return 1
	wait_for 20 all_final || { for s in $SITES; do site_rep_get "$s" .checkpoint; done; return 1; }
	for s in $SITES; do
		openssl x509 -in "$T/pki/$s.crt" -pubkey -noout >"$T/$s.pub" || return 1
		georepctl proof vkey "$T/$s.pub" "georep/sites/$s" >>"$T/trust-certs" || return 1
	done
	cat "$T/state-$P/$VOL.final"
	ctl "$R" proof inclusion "$VOL" 3 >"$T/f" || return 1
	georepctl proof verify "$T/f" --trust "$T/trust-certs" --quorum 2
}

# one site's control socket only: georepd asks the other two for their
# roots over the replication links (ROOT_REQ/ROOT), TLS, kernel ledgers
verify_via() {
	georepctl verify "$VOL" --via "$T/state-$R/$R.sock" >"$T/via" || { cat "$T/via"; return 1; }
	cat "$T/via"
	grep -q "^all 3 sites agree at size " "$T/via" &&
		grep -q "^(sites other than $R asked through its georepd" "$T/via"
}

# flip byte 100 of the 4 KiB block $2 (a hex pattern repeated) in site
# $1's log device, through its loop file; the same call undoes it
ALTER_OFF=
flip_log_byte() {
	local img=$T/log-$1.img off b
	if [ -z "$ALTER_OFF" ]; then
		# the VM's grep is busybox's (no -b): strings gives offsets
		off=$(strings -t d -n 2048 "$img" | grep -F "$2" | tail -n1 | awk '{ print $1 }')
		[ -n "$off" ] || { echo "pattern not found in $img"; return 1; }
		ALTER_OFF=$((off + 100))
	fi
	b=$(od -An -tu1 -j "$ALTER_OFF" -N1 "$img" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0x5a)))" |
		dd of="$img" bs=1 seek="$ALTER_OFF" conv=notrunc status=none
}

scrub_damage() { [ "$(site_rep_get "$1" '.scrub.damaged.seq // 0')" = "$2" ]; }

# a record altered on a follower's log device (issue 12 part 7): that site
# serves no inclusion proof of it, its scrub finds it and it cosigns no
# checkpoint covering it, while the two others still make them final;
# undone, the next scrub pass clears it
altered_record() {
	local pat seq mark
	pat=$(printf 'georep-scrub-%03d' 7)
	yes "$pat" | tr -d '\n' | head -c 4096 >"$T/pattern"
	dd if="$T/pattern" of="/dev/georep/$P.$VOL" bs=4k seek=900 oflag=direct,dsync \
		status=none || return 1
	seq=$(vol_num "$P" written_seq)
	wait_for 20 all_final || return 1
	flip_log_byte "$R" "$pat$pat$pat$pat" || return 1
	echo "record $seq altered at byte $ALTER_OFF of $R's log device"
	! ctl "$R" proof inclusion "$VOL" "$seq" 2>"$T/inc.err" || return 1
	cat "$T/inc.err"
	grep -q "payload does not hash to the payload_hash of its leaf" "$T/inc.err" || return 1
	ctl "$P" proof inclusion "$VOL" "$seq" >/dev/null || return 1
	wait_for 40 scrub_damage "$R" "$seq" || { site_rep_get "$R" .scrub; return 1; }
	site_rep_get "$R" .scrub.damaged.why
	[ "$(site_rep_get "$R" .scrub.pass_s)" = 2 ] || return 1
	mark=$(wc -l <"$T/$P.log")
	writes 4 800 || return 1
	wait_for 20 eval 'tail -n +'"$mark"' "$T/$P.log" | grep "site $R refuses to cosign.*record $seq"' ||
		return 1
	wait_for 20 eval '[ "$(site_rep_get "$P" .final_seq)" = "$(site_rep_get "$P" .commit_seq)" ]' ||
		return 1
	flip_log_byte "$R" || return 1
	wait_for 40 scrub_damage "$R" 0 || return 1
	ctl "$R" proof inclusion "$VOL" "$seq" >/dev/null
}

check network sites_network || exit 1
check volumes sites_volumes 64 64 || exit 1
check config config || exit 1
check leader_elected_volume_primary elect || exit 1
check writes_at_primary writes 24 0 || exit 1
check every_site_root_matches_its_ledger all_roots || exit 1
check follower_restart_loads_tree restart_follower || exit 1
check proof_cosigned_by_three_sites_verifies proofs
check checkpoints_final_proof_verifies_quorum_2 finality
check verify_via_one_site_all_agree verify_via
check altered_record_site_refuses_proof_and_cosign altered_record
[ "$failed" = 0 ]
