#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile disk: the log device is not trusted, neither before attach nor
# while a volume is attached (on 6.1 an exclusive open does not stop other
# writers). georep-corrupt damages one field at a time on the log device and
# every path that reads a record or the superblock back must end in a clear
# error naming the volume, the seq and the field, never an out-of-bounds
# access, a wrong write or a loop; run_tests.sh fails the script on any
# oops, WARN or hung task. The undamaged records stay readable.
#
#  1. online, primary: a header field of record 4 changed under the
#     attached volume; the log stream returns records 1-3, then EIO at 4
#     (also with a buffer of exactly one record: no copy past it), and
#     `ledger verify` names record 4. Restored, all reads work again.
#  2. online, secondary: records appended but not committed; record 1 is
#     damaged, then committed: with apply_cache=Y (the default), applied
#     from the copy append checked (kmod/apply.c), its data the primary's.
#     With the cache off (apply_cache=N), one record after another is
#     damaged, then committed: apply stops before it (applied_seq stays
#     below), the data device is untouched, the kernel names seq and field.
#     Restored and re-attached, apply goes on.
#  3. offline: superblock geometry and record fields damaged before attach:
#     attach refuses, naming the field or the record.
#  4. a seal key epoch missing at attach: records past the superblock's
#     head hint sealed with it are not a torn tail; attach refuses naming
#     the epoch and the seq (issue 8, item 3).
#
# Layout used below: 4 KiB writes at data blocks 10, 20, ... 70 make
# records 1..7 (lba 80*k sectors); the data device is 32 MiB (65536
# sectors).

set -u
. "$(dirname "$0")/lib/volume.bash"
VT_TMPFS_MB=200
vt_init grvol60

P=vol60p-$$
S=vol60s-$$
VT_VOLS="$P $S"
REC=4352		# one 4 KiB write record on the stream: 256 + 4096
echo "    1..40"

setup() {
	local i
	PD=$(vt_loop pdata 32) && PL=$(vt_loop plog 16) || return 1
	SD=$(vt_loop sdata 32) && SL=$(vt_loop slog 16) || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --format \
		--role primary --term 1 --site-id 1 --key-dir "$KEYS" || return 1
	for i in 1 2 3 4 5 6 7; do
		dd if=/dev/urandom of="/dev/georep/$P" bs=4k count=1 seek=$((i * 10)) \
		   oflag=direct status=none || return 1
	done
	georep-mkreplica "$P" "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" \
		--site-id 2 || return 1
	cp -a "$KEYS/$P" "$KEYS/$S" || return 1
	# appended, not committed: nothing applied on the secondary yet
	georep-pump "/dev/georep/$P.log" "/dev/georep/$S.log" || return 1
	[ "$(vt_num "$S" written_seq)" = 7 ] && [ "$(vt_num "$S" applied_seq)" = 0 ] ||
		{ echo "secondary not at written 7, applied 0"; return 1; }
	# the record area as it is now, to undo the damage of each case
	save_area "$PL" "$T/parea" && save_area "$SL" "$T/sarea"
}

# save_area DEV FILE / put_area DEV FILE: the first 64 blocks of the area
save_area() {
	dd if="$1" of="$2" bs=4096 skip=1 count=64 iflag=direct status=none
}

put_area() {
	dd if="$2" of="$1" bs=4096 seek=1 count=64 oflag=direct conv=notrunc status=none
}

# stream VOL SEQ BYTES: one read() of BYTES from the log stream at SEQ into
# $T/s; prints dd's messages and the size read
stream() {
	local rc
	dd if="/dev/georep/$1.log" of="$T/s" bs="$3" count=1 skip=$(($2 - 1)) \
	   iflag=skip_bytes status=none 2>"$T/dd"
	rc=$?
	cat "$T/dd"
	echo "read at seq $2, $3 bytes: rc $rc, got $(stat -c %s "$T/s")"
	return $rc
}

# kmsg_has REGEX: a kernel message since the case began matches
kmsg_has() {
	dmesg | tail -n +"$KMARK" | grep -E "$1" ||
		{ echo "no kernel message matching '$1'"; return 1; }
}

kmark() { KMARK=$(($(dmesg | wc -l) + 1)); }

# ---- 1. online, primary: stream read and ledger verify ----

# online_case FIELD VALUE: record 4 of the attached primary gets FIELD=VALUE
online_case() {
	# each case reads the damaged record four times; the kernel prints at
	# most 10 such messages per 5 s (pr_err_ratelimited): wait out the
	# window so that this case's own messages are there to check
	sleep 5
	kmark
	georep-corrupt "$PL" 4 --set "$1" "$2" || return 1
	# records 1-3 come, then the read stops before the damaged one
	stream "$P" 1 1M || return 1
	[ "$(stat -c %s "$T/s")" = $((3 * REC)) ] ||
		{ echo "expected records 1-3 only"; return 1; }
	# exactly one record's room at seq 4: an error, nothing copied
	if stream "$P" 4 $REC; then
		echo "damaged record 4 was returned"
		return 1
	fi
	grep -q "Input/output error" "$T/dd" && [ ! -s "$T/s" ] || return 1
	kmsg_has "$P: record 4 .*$1" || return 1
	# the stream stops with EIO at 4; georepctl prints what the kernel's
	# walk found, naming the field
	vt_expect_fail georepctl ledger verify "$P" --key-dir "$KEYS" >"$T/v" 2>&1
	cat "$T/v"
	grep -Eq "record 4: kernel: .*$1" "$T/v" ||
		{ echo "georepctl ledger verify does not name record 4's $1"; return 1; }
	kmsg_has "$P: record 4 failed its header check: .*$1"
}

online_restored() {
	put_area "$PL" "$T/parea" || return 1
	stream "$P" 1 1M && [ "$(stat -c %s "$T/s")" = $((7 * REC)) ] &&
	georepctl ledger verify "$P" --key-dir "$KEYS" >/dev/null
}

# online_verify_only corrupt-args...: damage to record 4 that only hashes
# or the seal reveal is not the stream's business (readers verify them),
# but ledger verify names the record
online_verify_only() {
	georep-corrupt "$PL" 4 "$@" || return 1
	vt_expect_fail georepctl ledger verify "$P" --key-dir "$KEYS" >"$T/v" 2>&1
	cat "$T/v"
	grep -q "record 4" "$T/v" && online_restored
}

# ---- 2. online, secondary: apply ----

# zero_blocks DEV BLOCK...: those 4 KiB blocks of DEV read as zeroes
zero_blocks() {
	local dev=$1 b
	shift
	for b in "$@"; do
		cmp -s <(dd if="$dev" bs=4096 skip="$b" count=1 iflag=direct status=none) \
		    <(head -c 4096 /dev/zero) || { echo "$dev block $b is not zero"; return 1; }
	done
}

# apply_case SEQ REGEX corrupt-args...: damage record SEQ on the
# secondary's log, commit it: apply must stop before it, the kernel message
# naming the record must match REGEX
apply_case() {
	local seq=$1 re=$2 i applied
	shift 2
	kmark
	georep-corrupt "$SL" "$seq" "$@" || return 1
	georepctl volume set "$S" --commit-seq "$seq" || return 1
	vt_wait_applied "$S" $((seq - 1)) || return 1
	for i in 1 2 3 4 5 6 7 8 9 10; do
		dmesg | tail -n +"$KMARK" | grep -q "$S: .*record $seq" && break
		sleep 0.2
	done
	applied=$(vt_num "$S" applied_seq)
	echo "applied_seq $applied"
	[ "$applied" = $((seq - 1)) ] || { echo "record $seq was applied"; return 1; }
	kmsg_has "$S: record $seq .*$re" || return 1
	# nothing written where the record points, nor where the damage points
	zero_blocks "$SD" $((seq * 10)) $((seq * 10 + 1)) 500
}

# apply_cached SEQ corrupt-args...: with the apply cache (apply_cache=Y), a
# record damaged on the log device after its append is applied from the
# copy append checked: its data is the primary's, the kernel logs nothing
# of it, and the damage stays for verify to find (undone here)
apply_cached() {
	local seq=$1 applied
	shift
	kmark
	georep-corrupt "$SL" "$seq" "$@" || return 1
	georepctl volume set "$S" --commit-seq "$seq" || return 1
	vt_wait_applied "$S" "$seq" || return 1
	applied=$(vt_num "$S" applied_seq)
	echo "applied_seq $applied"
	[ "$applied" = "$seq" ] || return 1
	if dmesg | tail -n +"$KMARK" | grep "$S: .*record $seq"; then
		echo "the kernel read record $seq back"
		return 1
	fi
	cmp <(dd if="$SD" bs=4096 skip=$((seq * 10)) count=1 iflag=direct status=none) \
	    <(dd if="$PD" bs=4096 skip=$((seq * 10)) count=1 iflag=direct status=none) || return 1
	put_area "$SL" "$T/sarea"
}

# apply_check SEQ REGEX corrupt-args...: apply_case, then undo the damage
# and re-attach (apply_error is kept until then): apply goes on
apply_check() {
	local rc
	apply_case "$@"
	rc=$?
	apply_restored "$1" && return $rc
}

# the damage undone and the secondary re-attached: apply goes on
apply_restored() {
	local seq=$1
	put_area "$SL" "$T/sarea" || return 1
	georepctl volume delete "$S" || return 1
	georepctl volume create "$S" --data "$SD" --log "$SL" --key-dir "$KEYS" || return 1
	georepctl volume set "$S" --commit-seq "$seq" || return 1
	vt_wait_applied "$S" "$seq" || return 1
	cmp <(dd if="$SD" bs=4096 skip=$((seq * 10)) count=1 iflag=direct status=none) \
	    <(dd if="$PD" bs=4096 skip=$((seq * 10)) count=1 iflag=direct status=none)
}

# ---- 3. offline: attach ----

clean_offline() {
	georepctl volume delete "$P" || return 1
	cp "$T/plog.img" "$T/plog-clean.img"
}

# offline_case REGEX corrupt-args...: the clean log, damaged, refused at
# attach with a message matching REGEX
offline_case() {
	local re=$1
	shift
	dd if="$T/plog-clean.img" of="$PL" bs=1M oflag=direct conv=notrunc status=none || return 1
	georep-corrupt "$PL" "$@" || return 1
	vt_expect_fail georepctl volume create "$P" --data "$PD" --log "$PL" \
		--key-dir "$KEYS" >"$T/c" 2>&1
	cat "$T/c"
	grep -Eq "$re" "$T/c" || { echo "attach error does not match '$re'"; return 1; }
}

# a head hint below the tail: two superblock fields, both in range alone
offline_head_below_tail() {
	dd if="$T/plog-clean.img" of="$PL" bs=1M oflag=direct conv=notrunc status=none &&
	georep-corrupt "$PL" --sb tail_seq 5 && georep-corrupt "$PL" --sb head_seq 2 ||
		return 1
	vt_expect_fail georepctl volume create "$P" --data "$PD" --log "$PL" \
		--key-dir "$KEYS" >"$T/c" 2>&1
	cat "$T/c"
	grep -q "head_seq 2 below tail_seq 5" "$T/c"
}

offline_clean_attaches() {
	dd if="$T/plog-clean.img" of="$PL" bs=1M oflag=direct conv=notrunc status=none || return 1
	georepctl volume create "$P" --data "$PD" --log "$PL" --key-dir "$KEYS" &&
	[ "$(vt_num "$P" written_seq)" = 7 ] &&
	georepctl ledger verify "$P" --key-dir "$KEYS"
}

# ---- 4. a seal key epoch missing at attach ----

# records 8-10 sealed with epoch 2; the superblock of before them (head
# hint 7) kept in $T/sb7, the one after them in $T/sb10
epoch2_records() {
	local i
	# attached again, the volume is fenced until made primary (47-fence)
	georepctl volume set "$P" --role primary \
		--term $(($(vt_num "$P" term) + 1)) || return 1
	georepctl key rotate "$P" --key-dir "$KEYS" || return 1
	for i in 8 9 10; do
		dd if=/dev/urandom of="/dev/georep/$P" bs=4k count=1 seek=$((i * 10)) \
		   oflag=direct status=none || return 1
	done
	georepctl ledger dump "$P" | tail -n 3
	georepctl volume delete "$P" || return 1
	dd if="$T/plog-clean.img" of="$T/sb7" bs=4096 count=1 status=none &&
	dd if="$PL" of="$T/sb10" bs=4096 count=1 iflag=direct status=none || return 1
	mkdir -p "$T/k1/$P" && cp -p "$KEYS/$P/1.key" "$T/k1/$P/" &&
	chmod 700 "$T/k1" "$T/k1/$P"
}

# missing_epoch SB: attach with only epoch 1 under superblock SB
missing_epoch() {
	dd if="$T/$1" of="$PL" bs=4096 count=1 oflag=direct conv=notrunc status=none || return 1
	if georepctl volume create "$P" --data "$PD" --log "$PL" \
		--key-dir "$T/k1" >"$T/c" 2>&1; then
		cat "$T/c"
		echo "attached with written_seq $(vt_num "$P" written_seq), expected a refusal"
		georepctl volume delete "$P"
		return 1
	fi
	cat "$T/c"
	grep -q "epoch 2" "$T/c" && grep -q "record 8" "$T/c" ||
		{ echo "attach did not name epoch 2 and record 8"; return 1; }
}

all_epochs_attach() {
	georepctl volume create "$P" --data "$PD" --log "$PL" --key-dir "$KEYS" &&
	[ "$(vt_num "$P" written_seq)" = 10 ] &&
	georepctl ledger verify "$P" --key-dir "$KEYS"
}

vt_check "apply cache on (apply_cache=Y, the default) while the secondary appends" \
	eval 'echo Y >/sys/module/georep/parameters/apply_cache'
vt_check "primary with 7 records, secondary with them uncommitted" setup
vt_check "online magic=0: stream stops at 4, verify names it" online_case magic 0
vt_check "online: restored" online_restored
vt_check "online payload_len not a block multiple: no copy past the buffer" \
	online_case payload_len 8191
vt_check "online: restored" online_restored
vt_check "online payload_len 1 GiB" online_case payload_len 1073741824
vt_check "online: restored" online_restored
vt_check "online len != payload_len" online_case len 8192
vt_check "online: restored" online_restored
vt_check "online seq changed" online_case seq 99
vt_check "online: restored" online_restored
vt_check "online lba past the data device" online_case lba 65536
vt_check "online: restored" online_restored
vt_check "online unknown op" online_case op 9
vt_check "online: restored" online_restored
vt_check "online payload byte: verify names it, then restored" \
	online_verify_only $((256 + 77))
vt_check "online payload_hash: verify names it, then restored" \
	online_verify_only --set payload_hash flip
vt_check "online seal_epoch: verify names it, then restored" \
	online_verify_only --set seal_epoch 7
vt_check "apply cache: record 1 damaged on the log after its append is applied from the checked copy" \
	apply_cached 1 $((256 + 55))
vt_check "apply cache off (apply_cache=N): every record read back and checked" \
	eval 'echo N >/sys/module/georep/parameters/apply_cache'
vt_check "apply: len beyond the payload refused" apply_check 2 len --set len 8192
vt_check "apply: changed lba (seal) refused" apply_check 3 seal --set lba 4000
vt_check "apply: changed payload refused" apply_check 4 "payload hash" $((256 + 99))
vt_check "apply: lba past the data device refused" apply_check 5 lba --set lba 65536
vt_check "apply: unknown op refused" apply_check 6 op --set op 9
vt_check "apply: seal_epoch not installed refused" apply_check 7 seal_epoch --set seal_epoch 7

vt_check "offline: clean log saved" clean_offline
vt_check "offline area_start overflow" offline_case "area_start" --sb area_start 18446744073709551608
vt_check "offline area_blocks past the device" offline_case "area_blocks" --sb area_blocks 5000
vt_check "offline tail_block past the area" offline_case "tail_block" --sb tail_block 5000
vt_check "offline data_sectors past the data device" \
	offline_case "data_sectors beyond" --sb data_sectors 999999992
vt_check "offline head hint past the log: records named missing" \
	offline_case "record 8" --sb head_seq 100
vt_check "offline head_seq below tail_seq" offline_head_below_tail
vt_check "offline record len, payload_len, payload hash, seal" \
	eval 'offline_case "record 3.*len" 3 --set len 8192 &&
	      offline_case "record 3.*payload_len" 3 --set payload_len 8191 &&
	      offline_case "record 3.*payload hash" 3 --set payload_hash flip &&
	      offline_case "record 3.*seal" 3 --set seal flip &&
	      offline_case "record 3.*chain" 3 --set seal_epoch 7'
vt_check "offline: the clean log attaches and verifies" offline_clean_attaches
vt_check "records 8-10 sealed with key epoch 2" epoch2_records
vt_check "epoch 2 missing, records past the head hint: refused, not dropped" \
	missing_epoch sb7
vt_check "epoch 2 missing, records within the head hint: refused" missing_epoch sb10
vt_check "every epoch: attach keeps records 8-10" all_epochs_attach
vt_done
