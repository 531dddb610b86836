#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fencing on attach (issue 8, item 6): a volume with a control plane comes
# back from a re-attach as a secondary, whatever role it had, and refuses a
# write (O_DIRECT + dsync) until VOLUME_SET makes it primary; ROLE primary
# on the attach itself is refused (EPERM); the commit rule is stored, so a
# quorum volume still waits for a commit index after the re-attach. A
# volume created --standalone (stored) re-attaches writable and releases
# its own log: it takes writes of twice its log size with no `ledger
# release`. A version 1 superblock attaches fenced with the quorum rule,
# or standalone once when asked, and is rewritten as version 2.
# georepd (one site) makes the fenced volume primary once it leads, so it
# is writable again after a re-attach and a daemon restart.
# Item 8: `ledger verify` passes on a volume whose every record has been
# released.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol47

Q=vol47q-$$
S=vol47s-$$
F=vol47f-$$
R=vol47r-$$
G=vol47g-$$
VT_VOLS="$Q $S $F $R $G"
GPID=""
echo "    1..11"

# a write of one 4 KiB block that must be durable; exit status of dd, 124
# when it did not complete within $2 seconds
dsync_write() {
	timeout "$2" dd if=/dev/urandom of="/dev/georep/$1" bs=4k count=1 seek=7 \
		oflag=direct,dsync status=none
}

json_str() {
	georepctl status "$1" --json | sed -n "s/.*\"$2\": \"\([a-z]*\)\".*/\1/p"
}

# the volume's role, term, rule, standalone, as one word
state() {
	echo "$(json_str "$1" role)/$(vt_num "$1" term)/$(json_str "$1" commit_rule)/$(
		vt_true "$1" standalone && echo standalone || echo managed)"
}

# quorum primary, three records committed, then detached
quorum_primary() {
	QD=$(vt_loop qdata 32) && QL=$(vt_loop qlog 16) || return 1
	georepctl volume create "$Q" --data "$QD" --log "$QL" --format --role primary \
		--term 3 --commit-rule local --key-dir "$KEYS" || return 1
	dsync_write "$Q" 10 && dsync_write "$Q" 10 && dsync_write "$Q" 10 || return 1
	# the rule a daemon would set; it must outlive the detach
	georepctl volume set "$Q" --commit-rule quorum --commit-seq 3 || return 1
	echo "before detach: $(state "$Q"), written_seq $(vt_num "$Q" written_seq)"
	georepctl volume delete "$Q"
}

reattach_fenced() {
	local rc s
	georepctl volume create "$Q" --data "$QD" --log "$QL" --key-dir "$KEYS" || return 1
	s=$(state "$Q")
	echo "after attach: $s, written_seq $(vt_num "$Q" written_seq)," \
	     "applied_seq $(vt_num "$Q" applied_seq)"
	dsync_write "$Q" 10
	rc=$?
	echo "dd oflag=direct,dsync before any control plane: exit status $rc"
	[ $rc != 0 ] || { echo "the write was acknowledged"; return 1; }
	[ "$(vt_num "$Q" written_seq)" = 3 ] || { echo "a record was written"; return 1; }
	[ "$s" = secondary/3/quorum/managed ] || { echo "not fenced with the stored rule"; return 1; }
	[ "$(vt_num "$Q" applied_seq)" = 3 ]
}

# its daemon may drop a suffix it never committed (a deposed primary's)
suffix_droppable() {
	local c
	c=$(vt_num "$Q" commit_seq)
	echo "commit_seq $c after the attach"
	[ "$c" = 0 ] || { echo "the old primary's records taken for committed"; return 1; }
	georep-ledgerop truncate "$Q" 2 --applied || return 1
	[ "$(vt_num "$Q" written_seq)" = 2 ] && vt_true "$Q" diverged &&
	georepctl volume set "$Q" --clear-diverged
}

attach_primary_refused() {
	georepctl volume delete "$Q" || return 1
	georepctl volume create "$Q" --data "$QD" --log "$QL" --role primary --term 3 \
		--key-dir "$KEYS" >"$T/e" 2>&1
	local rc=$?
	cat "$T/e"
	[ $rc = 1 ] && grep -q "attach is fenced" "$T/e" || return 1
	georepctl volume create "$Q" --data "$QD" --log "$QL" --key-dir "$KEYS"
}

# the control plane makes it primary: the stored quorum rule holds the write
control_plane_unfences() {
	local pid i rc w0 w
	georepctl volume set "$Q" --role primary --term 4 || return 1
	w0=$(vt_num "$Q" written_seq)
	dsync_write "$Q" 30 &
	pid=$!
	for i in $(seq 1 50); do
		[ "$(vt_num "$Q" written_seq)" -gt "$w0" ] && break
		sleep 0.1
	done
	sleep 1
	kill -0 $pid 2>/dev/null || { echo "completed without a commit index"; return 1; }
	w=$(vt_num "$Q" written_seq)
	georepctl volume set "$Q" --commit-seq "$w" || return 1
	wait $pid
	rc=$?
	echo "completed after commit-seq $w: exit status $rc"
	[ $rc = 0 ]
}

format_default_fenced() {
	local d l s
	d=$(vt_loop fdata 16) && l=$(vt_loop flog 8) || return 1
	georepctl volume create "$F" --data "$d" --log "$l" --format --key-dir "$KEYS" || return 1
	s=$(state "$F")
	echo "--format without --role: $s"
	[ "$s" = secondary/0/local/managed ] || return 1
	vt_expect_fail dsync_write "$F" 10
}

standalone_create() {
	local s
	SD=$(vt_loop sdata 64) && SL=$(vt_loop slog 8) || return 1
	georepctl volume create "$S" --data "$SD" --log "$SL" --format --standalone \
		--commit-rule quorum --key-dir "$KEYS" >"$T/e" 2>&1 && return 1
	cat "$T/e"
	grep -q "commit rule local only" "$T/e" || return 1
	georepctl volume create "$S" --data "$SD" --log "$SL" --format --standalone \
		--key-dir "$KEYS" || return 1
	s=$(state "$S")
	echo "standalone: $s"
	[ "$s" = primary/1/local/standalone ] || return 1
	vt_expect_fail georepctl volume set "$S" --commit-rule quorum || return 1
	dsync_write "$S" 10 && georepctl volume delete "$S" || return 1
	georepctl volume create "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" || return 1
	s=$(state "$S")
	echo "re-attached: $s"
	[ "$s" = primary/1/local/standalone ]
}

# twice the log through a standalone volume, nobody releasing its log
standalone_releases() {
	local size n rc
	size=$(vt_num "$S" log_size)
	n=$(((2 * size + 262143) / 262144))
	timeout 120 dd if=/dev/urandom of="/dev/georep/$S" bs=256k count=$n \
		oflag=direct status=none
	rc=$?
	georepctl status "$S"
	echo "dd of $((n * 256)) KiB through a log of $((size >> 10)) KiB: exit status $rc"
	[ $rc = 0 ] && [ "$(vt_num "$S" tail_seq)" -gt 1 ] || return 1
	georepctl ledger verify "$S" --key-dir "$KEYS"
}

# item 8: every record released; verify must pass, not "stream ended"
verify_all_released() {
	local d l w
	d=$(vt_loop rdata 16) && l=$(vt_loop rlog 8) || return 1
	georepctl volume create "$R" --data "$d" --log "$l" --format --role primary \
		--term 1 --key-dir "$KEYS" || return 1
	dsync_write "$R" 10 && dsync_write "$R" 10 && dsync_write "$R" 10 || return 1
	w=$(vt_num "$R" written_seq)
	georepctl ledger release "$R" "$w" || return 1
	echo "written_seq $w, tail_seq $(vt_num "$R" tail_seq)"
	georepctl ledger verify "$R" --key-dir "$KEYS"
}

# crc32c (seed ~0, no final inversion, as the kernel's) of decimal bytes
crc32c() {
	local crc=$((0xffffffff)) b i
	for b in "$@"; do
		crc=$((crc ^ b))
		for i in 1 2 3 4 5 6 7 8; do
			if ((crc & 1)); then
				crc=$(((crc >> 1) ^ 0x82f63b78))
			else
				crc=$((crc >> 1))
			fi
		done
	done
	echo $crc
}

# the 4 bytes of a little-endian u32
le32() {
	local esc
	esc=$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))
	printf "$esc"
}

# rewrite the superblock of log device $1 as version 1: version 1,
# commit_rule 0, no STANDALONE flag, crc (offsets: on-disk-format.rst)
make_v1() {
	local b flags
	dd if="$1" of="$T/sb" bs=4k count=1 status=none || return 1
	printf '\x01\x00\x00\x00' | dd of="$T/sb" bs=1 seek=8 conv=notrunc status=none
	printf '\x00\x00\x00\x00' | dd of="$T/sb" bs=1 seek=144 conv=notrunc status=none
	printf '\x00\x00\x00\x00' | dd of="$T/sb" bs=1 seek=148 conv=notrunc status=none
	flags=$(od -An -tu4 -j140 -N4 "$T/sb" | tr -d ' ')
	le32 $((flags & ~4)) | dd of="$T/sb" bs=1 seek=140 conv=notrunc status=none
	b=$(crc32c $(od -An -tu1 -v -N152 "$T/sb"))
	le32 "$b" | dd of="$T/sb" bs=1 seek=148 conv=notrunc status=none
	dd if="$T/sb" of="$1" bs=4k count=1 conv=notrunc oflag=direct status=none
}

sb_version() {
	od -An -tu4 -j8 -N4 "$1" | tr -d ' '
}

v1_upgrade() {
	local s
	# Q: quorum, primary in term 4; as if a v1 module had written it
	georepctl volume delete "$Q" && make_v1 "$QL" || return 1
	echo "superblock version $(sb_version "$QL")"
	georepctl volume create "$Q" --data "$QD" --log "$QL" --key-dir "$KEYS" || return 1
	s=$(state "$Q")
	echo "v1 attached: $s, superblock version now $(sb_version "$QL")"
	[ "$s" = secondary/4/quorum/managed ] && [ "$(sb_version "$QL")" = 2 ] || return 1
	vt_expect_fail dsync_write "$Q" 10 || return 1
	# a v2 superblock cannot become standalone; a v1 one can, once
	georepctl volume delete "$Q" || return 1
	vt_expect_fail georepctl volume create "$Q" --data "$QD" --log "$QL" --standalone \
		--key-dir "$KEYS" || return 1
	# (it was stored as a secondary: a standalone volume may be told its role)
	make_v1 "$QL" &&
	georepctl volume create "$Q" --data "$QD" --log "$QL" --standalone \
		--role primary --term 4 --key-dir "$KEYS" || return 1
	s=$(state "$Q")
	echo "v1 attached --standalone: $s"
	[ "$s" = primary/4/local/standalone ] && dsync_write "$Q" 10 || return 1
	georepctl volume delete "$Q" &&
	georepctl volume create "$Q" --data "$QD" --log "$QL" --key-dir "$KEYS" &&
	[ "$(state "$Q")" = primary/4/local/standalone ]
}

start_georepd() {
	# one site, no peers: nothing to protect with TLS
	GEOREPD_ELECTION_MS=1000 georepd --config "$T/one.json" --site one \
		--state-dir "$T/state-one" --foreground --verbose --ledger kernel \
		--insecure-plaintext 2>>"$T/georepd.log" &
	GPID=$!
}

stop_georepd() {
	[ -n "$GPID" ] && kill -9 "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null
	GPID=""
}

# up to 30 s for the volume to be primary
wait_primary() {
	local i
	for i in $(seq 1 150); do
		[ "$(json_str "$1" role)" = primary ] && return 0
		sleep 0.2
	done
	echo "$1 still $(state "$1") after 30 s"
	tail -n 20 "$T/georepd.log"
	return 1
}

# a one-site quorum volume under georepd: primary once it leads; after a
# daemon kill and a re-attach fenced, until the restarted daemon leads
georepd_unfences() {
	local d l rc
	d=$(vt_loop gdata 16) && l=$(vt_loop glog 16) || return 1
	georepctl volume create "$G" --data "$d" --log "$l" --format --site-id 1 \
		--commit-rule quorum --key-dir "$KEYS" || return 1
	cat >"$T/one.json" <<JSON
{
  "cluster": "one",
  "sites": [{"name": "one", "region": "eu", "site_id": 1, "address": "127.0.0.1:7470"}],
  "volumes": [{"name": "$G", "commit_rule": "quorum",
               "replicas": {"one": {"data": "$d", "log": "$l"}}}]
}
JSON
	ip link set lo up
	mkdir -p "$T/state-one"
	start_georepd
	wait_primary "$G" && dsync_write "$G" 20 || return 1
	echo "under georepd: $(state "$G"), written_seq $(vt_num "$G" written_seq)"
	stop_georepd
	georepctl volume delete "$G" &&
	georepctl volume create "$G" --data "$d" --log "$l" --key-dir "$KEYS" || return 1
	dsync_write "$G" 10
	rc=$?
	echo "re-attached, no daemon: $(state "$G"), dd exit status $rc"
	[ $rc != 0 ] || return 1
	start_georepd
	wait_primary "$G" && dsync_write "$G" 20 || return 1
	echo "daemon restarted: $(state "$G"), written_seq $(vt_num "$G" written_seq)"
	stop_georepd
}

vt_check "quorum primary: writes, commit rule quorum, detach" quorum_primary
vt_check "re-attach: fenced, dd oflag=direct,dsync refused, rule kept" reattach_fenced
vt_check "fenced former primary: commit_seq 0, its suffix can be truncated" suffix_droppable
vt_check "re-attach with --role primary: refused (EPERM)" attach_primary_refused
vt_check "volume set --role primary: writable, the stored quorum rule holds" \
	control_plane_unfences
vt_check "--format without --role: a fenced secondary in term 0" format_default_fenced
vt_check "--standalone: primary, local only, writable after a re-attach" standalone_create
vt_check "standalone: writes of twice the log size, no ledger release" standalone_releases
vt_check "georepd un-fences the volume it leads, also after a re-attach" georepd_unfences
vt_check "ledger verify with every record released" verify_all_released
vt_check "version 1 superblock: fenced, upgraded; --standalone once" v1_upgrade
vt_done
