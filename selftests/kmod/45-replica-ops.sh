#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The replication operations georepd runs consensus with (georep-ledgerop):
# LOG_TRUNCATE drops a secondary's uncommitted suffix so a record of a
# newer leader can take its seq, and the dropped records stay gone across
# a re-attach; it is refused below the commit point (EINVAL) and on a
# primary (EBUSY). A fresh secondary resynced with GEOREP_IOC_DATA_WRITE
# and restarted with LOG_RESET follows the primary to a sha256-identical
# end; a forged anchor is refused (EBADMSG). LOG_NOOP appends a no-op
# record on a primary only (EROFS on a secondary); DATA_WRITE is refused on
# a primary (EROFS), and without the primary's data seal over those very
# bytes (EBADMSG), sealed by a secondary (EPERM) or in an older term
# (ESTALE), and a seal is made on a writable file only (EBADF). DATA_READ
# returns the data device's bytes on any file of the stream.
# A deposed quorum primary's own suffix (applied to its data device) is
# dropped only with TRUNCATE_APPLIED (EINVAL without): its write still
# waiting for the commit fails with EIO, the volume is diverged (persisted
# across a re-attach) and refuses promotion (EUCLEAN) until DIVERGED=0.

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol45

P=vol45p-$$
S=vol45s-$$
N=vol45n-$$
R=vol45r-$$
Q=vol45q-$$
VT_VOLS="$Q $R $S $N $P"
echo "    1..18"

setup() {
	PD=$(vt_loop pdata 32) && PL=$(vt_loop plog 16) || return 1
	SD=$(vt_loop sdata 32) && SL=$(vt_loop slog 16) || return 1
	ND=$(vt_loop ndata 32) && NL=$(vt_loop nlog 16) || return 1
	RD=$(vt_loop rdata 32) && RL=$(vt_loop rlog 16) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" --site-id 2 &&
	georep-mkreplica "$P" "$N" --data "$ND" --log "$NL" --key-dir "$KEYS" --site-id 3 ||
		return 1
	cp -a "$KEYS/$P" "$KEYS/$S" && cp -a "$KEYS/$P" "$KEYS/$N"
}

# wr VOL BLOCK COUNT: random 4 KiB blocks on a primary, one record each
wr() {
	local i
	for i in $(seq 0 $(($3 - 1))); do
		dd if=/dev/urandom of="/dev/georep/$1" bs=4k seek=$(($2 + i)) count=1 \
			oflag=direct status=none || return 1
	done
}

chain() {
	georepctl status "$1" --json | grep chain_hash
}

# S holds P's 1..5 (committed to 3); N, promoted in term 2, wrote another 4
diverge() {
	wr "$P" 10 3 || return 1
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" --commit-to "$S" &&
	georep-pump "/dev/georep/$P.log" "/dev/georep/$N.log" --commit-to "$N" || return 1
	georepctl volume set "$N" --role primary --term 2 || return 1
	wr "$P" 20 2 && wr "$N" 30 1 || return 1
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" || return 1
	[ "$(vt_num "$S" written_seq)" = 5 ] && [ "$(vt_num "$S" commit_seq)" = 3 ] &&
	[ "$(vt_num "$N" written_seq)" = 4 ]
}

truncate_then_append() {
	georepctl volume set "$S" --role secondary --term 2 || return 1
	georep-ledgerop truncate "$S" 3 || return 1
	[ "$(vt_num "$S" written_seq)" = 3 ] || return 1
	georep-pump "/dev/georep/$N.log" "/dev/georep/$S.log" --commit-to "$S" || return 1
	[ "$(vt_num "$S" written_seq)" = 4 ] && [ "$(chain "$S")" = "$(chain "$N")" ] &&
	georepctl ledger verify "$S" --key-dir "$KEYS"
}

# expect_errno RC TEXT CMD...: CMD fails with exit status RC (the errno)
expect_errno() {
	local rc=$1 text=$2
	shift 2
	"$@" >"$T/e" 2>&1
	local got=$?
	cat "$T/e"
	[ "$got" = "$rc" ] || { echo "exit status $got, expected $rc"; return 1; }
	grep -q "$text" "$T/e" || { echo "no '$text' in the message"; return 1; }
}

truncate_refused() {
	expect_errno 22 "below commit" georep-ledgerop truncate "$S" 2 &&
	expect_errno 22 "past the last written" georep-ledgerop truncate "$S" 99 &&
	expect_errno 16 "primary" georep-ledgerop truncate "$P" 1 &&
	[ "$(vt_num "$S" written_seq)" = 4 ]
}

truncate_reattach() {
	local w
	wr "$N" 40 3 || return 1
	georep-pump "/dev/georep/$N.log" "/dev/georep/$S.log" || return 1
	[ "$(vt_num "$S" written_seq)" = 7 ] || return 1
	w=$(chain "$S")
	georep-ledgerop truncate "$S" 4 || return 1
	georepctl volume delete "$S" || return 1
	georepctl volume create "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" || return 1
	georepctl status "$S"
	[ "$(vt_num "$S" written_seq)" = 4 ] || { echo "dropped records came back"; return 1; }
	[ "$(chain "$S")" != "$w" ] && georepctl ledger verify "$S" --key-dir "$KEYS" || return 1
	# and the same records can come again
	georep-pump "/dev/georep/$N.log" "/dev/georep/$S.log" --commit-to "$S" &&
	[ "$(chain "$S")" = "$(chain "$N")" ]
}

reset_resync() {
	local head seq term ch a b
	georep-mkreplica "$N" "$R" --data "$RD" --log "$RL" --key-dir "$KEYS" --site-id 4 ||
		return 1
	cp -a "$KEYS/$N" "$KEYS/$R" || return 1
	head=$(georep-ledgerop head "$N") || return 1
	read -r seq term ch <<<"$head"
	echo "primary head: $head"
	georep-ledgerop resync "/dev/georep/$N" "/dev/georep/$R.log" "/dev/georep/$N.log" ||
		return 1
	# a forged anchor is refused and changes nothing
	expect_errno 74 "anchor record: the seal does not match" \
		georep-ledgerop reset "$R" "/dev/georep/$N.log" "$seq" --corrupt || return 1
	georep-ledgerop reset "$R" "/dev/georep/$N.log" "$seq" || return 1
	georepctl status "$R"
	[ "$(vt_num "$R" written_seq)" = "$seq" ] && [ "$(vt_num "$R" applied_seq)" = "$seq" ] &&
	[ "$(vt_num "$R" commit_seq)" = "$seq" ] &&
	[ "$(vt_num "$R" tail_seq)" = $((seq + 1)) ] || return 1
	wr "$N" 50 3 || return 1
	georep-pump "/dev/georep/$N.log" "/dev/georep/$R.log" --commit-to "$R" || return 1
	vt_wait_applied "$R" "$(vt_num "$N" written_seq)" || return 1
	a=$(sha256sum <"/dev/georep/$N") && b=$(sha256sum <"/dev/georep/$R") || return 1
	echo "primary $a"
	echo "resynced $b"
	[ "$a" = "$b" ] && georepctl ledger verify "$R" --key-dir "$KEYS"
}

reset_refused() {
	expect_errno 16 "primary" georep-ledgerop reset "$N" "/dev/georep/$N.log" \
		"$(vt_num "$N" written_seq)"
}

noop_primary() {
	local w seq
	w=$(vt_num "$N" written_seq)
	seq=$(georep-ledgerop noop "$N") || return 1
	echo "noop at $seq"
	[ "$seq" = $((w + 1)) ] && [ "$(vt_num "$N" written_seq)" = "$seq" ] || return 1
	georepctl ledger dump "$N" --from "$seq" >"$T/d" || return 1
	cat "$T/d"
	grep -q "^$seq 2 noop 0 0 0 " "$T/d" || return 1
	georepctl ledger verify "$N" --key-dir "$KEYS" || return 1
	# the secondary takes it like any record
	georep-pump "/dev/georep/$N.log" "/dev/georep/$R.log" --commit-to "$R" &&
	[ "$(chain "$R")" = "$(chain "$N")" ] && georepctl ledger verify "$R" --key-dir "$KEYS"
}

noop_secondary() {
	expect_errno 30 "not primary" georep-ledgerop noop "$R"
}

data_write_checks() {
	head -c 8192 /dev/urandom >"$T/blk" || return 1
	local sealer=/dev/georep/$N.log
	expect_errno 30 "Read-only" georep-ledgerop datawrite "/dev/georep/$N.log" 0 "$T/blk" \
		"$sealer" &&
	expect_errno 22 "Invalid" georep-ledgerop datawrite "/dev/georep/$R.log" 1 "$T/blk" \
		"$sealer" &&
	expect_errno 22 "Invalid" georep-ledgerop datawrite "/dev/georep/$R.log" \
		$((32 * 2048)) "$T/blk" "$sealer" || return 1
	georep-ledgerop datawrite "/dev/georep/$R.log" 64 "$T/blk" "$sealer" --fua || return 1
	cmp <(dd if="/dev/georep/$R" bs=4k skip=8 count=2 iflag=direct status=none) "$T/blk"
}

# what a primary's georepd reads for a resync or a heal: the kernel reads
# the data device, on a read-only file of the stream (GEOREP_IOC_DATA_READ)
data_read_checks() {
	georep-ledgerop dataread "/dev/georep/$R.log" 64 8192 "$T/rb" &&
	cmp "$T/rb" "$T/blk" &&
	georep-ledgerop dataread "/dev/georep/$N.log" 0 4096 "$T/rb" &&
	cmp "$T/rb" <(dd if="/dev/georep/$N" bs=4k count=1 iflag=direct status=none) &&
	expect_errno 22 "Invalid" georep-ledgerop dataread "/dev/georep/$R.log" 1 4096 \
		"$T/rb" &&
	expect_errno 22 "Invalid" georep-ledgerop dataread "/dev/georep/$R.log" 64 100 \
		"$T/rb" &&
	expect_errno 22 "Invalid" georep-ledgerop dataread "/dev/georep/$R.log" \
		$((32 * 2048)) 4096 "$T/rb" &&
	expect_errno 22 "Invalid" georep-ledgerop dataread "/dev/georep/$R.log" 64 \
		$((1024 * 1024 + 4096)) "$T/rb"
}

# resync blocks carry the primary's data seal: nothing else is written
data_seal_checks() {
	local before
	head -c 8192 /dev/urandom >"$T/blk2" || return 1
	before=$(dd if="/dev/georep/$R" bs=4k skip=8 count=2 iflag=direct status=none |
		 sha256sum)
	expect_errno 74 "Bad message" georep-ledgerop datawrite "/dev/georep/$R.log" 64 \
		"$T/blk2" "/dev/georep/$N.log" --corrupt &&
	expect_errno 1 "not permitted" georep-ledgerop datawrite "/dev/georep/$R.log" 64 \
		"$T/blk2" "/dev/georep/$R.log" &&
	# a seal is what makes a secondary write: readers get none
	expect_errno 9 "Bad file descriptor" georep-ledgerop datawrite \
		"/dev/georep/$R.log" 64 "$T/blk2" "/dev/georep/$N.log" --sealer-rdonly ||
		return 1
	# sealed in term 2, written once the replica is in term 9: stale
	georepctl volume set "$R" --role secondary --term 9 || return 1
	expect_errno 116 "Stale" georep-ledgerop datawrite "/dev/georep/$R.log" 64 \
		"$T/blk2" "/dev/georep/$N.log" || return 1
	dmesg | grep -E "resync write at [0-9]+ refused: (data seal does not match|sealed in term 2)" |
		tail -n 2
	[ "$(dd if="/dev/georep/$R" bs=4k skip=8 count=2 iflag=direct status=none |
	     sha256sum)" = "$before" ] || { echo "a refused write reached the device"; return 1; }
}

diverged() {
	georepctl status "$1" --json | sed -n 's/.*"diverged": \([a-z]*\).*/\1/p'
}

# Q: records 1..3 committed at 2, then a quorum write (seq 4) waits; demoted
deposed_setup() {
	QD=$(vt_loop qdata 32) && QL=$(vt_loop qlog 16) || return 1
	georepctl volume create "$Q" --data "$QD" --log "$QL" --format --role primary \
		--term 1 --site-id 5 --commit-rule local --key-dir "$KEYS" || return 1
	wr "$Q" 0 3 || return 1
	georepctl volume set "$Q" --commit-seq 2 --commit-rule quorum || return 1
	dd if=/dev/urandom of="/dev/georep/$Q" bs=4k seek=7 count=1 oflag=direct \
		status=none 2>"$T/qdd.err" &
	QDD=$!
	echo "$QDD" >"$T/qdd.pid"
	local i
	for i in $(seq 50); do
		[ "$(vt_num "$Q" written_seq)" = 4 ] && break
		sleep 0.1
	done
	[ "$(vt_num "$Q" written_seq)" = 4 ] || return 1
	georepctl volume set "$Q" --role secondary --term 2 || return 1
	sleep 0.3
	georepctl status "$Q"
	# demoted: the write still waits for a commit that covers seq 4
	kill -0 "$QDD" 2>/dev/null && [ "$(diverged "$Q")" = false ]
}

deposed_truncate_refused() {
	expect_errno 22 "below applied" georep-ledgerop truncate "$Q" 2 &&
	expect_errno 22 "below commit" georep-ledgerop truncate "$Q" 1 --applied &&
	kill -0 "$(cat "$T/qdd.pid")" && [ "$(vt_num "$Q" written_seq)" = 4 ]
}

deposed_truncate_applied() {
	local qdd rc
	qdd=$(cat "$T/qdd.pid")
	georep-ledgerop truncate "$Q" 2 --applied || return 1
	georepctl status "$Q"
	[ "$(vt_num "$Q" written_seq)" = 2 ] && [ "$(vt_num "$Q" applied_seq)" = 2 ] &&
	[ "$(diverged "$Q")" = true ] || return 1
	# a later commit of another record 4 must not complete it: it failed now
	for rc in $(seq 50); do
		kill -0 "$qdd" 2>/dev/null || break
		sleep 0.1
	done
	wait "$qdd"
	rc=$?
	cat "$T/qdd.err"
	echo "dd exit status $rc"
	[ "$rc" != 0 ] && grep -qi "error" "$T/qdd.err"
}

diverged_no_promotion() {
	expect_errno 1 "diverged" georepctl volume set "$Q" --role primary --term 3 &&
	[ "$(diverged "$Q")" = true ] && georepctl volume delete "$Q" &&
	georepctl volume create "$Q" --data "$QD" --log "$QL" --key-dir "$KEYS" &&
	georepctl status "$Q" &&
	[ "$(diverged "$Q")" = true ] && [ "$(vt_num "$Q" written_seq)" = 2 ] &&
	expect_errno 1 "diverged" georepctl volume set "$Q" --role primary --term 3
}

diverged_cleared() {
	local pid i
	georepctl volume set "$Q" --clear-diverged && [ "$(diverged "$Q")" = false ] &&
	georepctl volume set "$Q" --role primary --term 3 || return 1
	# the quorum rule outlived the re-attach: the write waits for its commit
	georepctl status "$Q" --json | grep -q '"commit_rule": "quorum"' ||
		{ echo "commit rule not kept"; return 1; }
	wr "$Q" 9 1 &
	pid=$!
	for i in $(seq 50); do
		[ "$(vt_num "$Q" written_seq)" = 3 ] && break
		sleep 0.1
	done
	georepctl volume set "$Q" --commit-seq 3 && wait $pid &&
	[ "$(vt_num "$Q" written_seq)" = 3 ] && georepctl ledger verify "$Q" --key-dir "$KEYS"
}

vt_check "a primary and two secondaries" setup
vt_check "a secondary with an uncommitted suffix, a newer leader" diverge
vt_check "truncate: another record takes the dropped seq" truncate_then_append
vt_check "truncate below commit, past the head, on a primary: refused" truncate_refused
vt_check "truncated records stay gone across a re-attach" truncate_reattach
vt_check "resync with DATA_WRITE, reset, follow: sha256-identical" reset_resync
vt_check "reset on a primary: refused" reset_refused
vt_check "noop on the primary: dumped, verified, replicated" noop_primary
vt_check "noop on a secondary: EROFS" noop_secondary
vt_check "DATA_WRITE: EROFS on a primary, range checks, FUA write" data_write_checks
vt_check "DATA_READ: the data device as written, on a read-only file; range checks" data_read_checks
vt_check "DATA_WRITE: tampered, unsealed by a primary, stale term: refused" data_seal_checks
vt_check "deposed quorum primary: its write waits after the demotion" deposed_setup
vt_check "truncate below applied without TRUNCATE_APPLIED, below commit: refused" \
	deposed_truncate_refused
vt_check "truncate with TRUNCATE_APPLIED: diverged, the waiting write fails (EIO)" \
	deposed_truncate_applied
vt_check "diverged refuses promotion (EUCLEAN), also after a re-attach" \
	diverged_no_promotion
vt_check "clear-diverged: promotion, writes, verify" diverged_cleared
vt_check "delete all" eval 'georepctl volume delete "$Q" && georepctl volume delete "$R" && georepctl volume delete "$S" &&
	georepctl volume delete "$N" && georepctl volume delete "$P"'
vt_done
