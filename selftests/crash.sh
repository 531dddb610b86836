#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash consistency of a georep volume: a power cut in the middle of
# acknowledged writes loses none of them.
#
#   selftests/crash.sh [--acks N] [--timeout SEC]
#
# Boot 1 (VM lab, disks data + log + keys that persist across boots): create
# the volume (--format), ext4 on the first part of it, then a loop that for
# each n writes file f.n (fsync of the file and of its directory) and 4 KiB
# block n in the raw area after the filesystem (O_DIRECT|O_DSYNC), and prints
# "ACK file n" / "ACK block n" once the sync returned. Buffered writes without
# fsync run beside it. After N acks (default 300) the guest prints the power
# cut marker and keeps writing; the host kills qemu the moment it reads it.
#
# Boot 2 (same disk files): attach the volume without --format, replay the
# ext4 journal by mounting, fsck.ext4 -n, georepctl ledger verify, and check
# that every item the host saw acknowledged is there with its content. Boot 2
# prints KTAP; the host nests it under its own two lines.
#
# The same script runs in the guest: crash.sh --guest-write N and
# crash.sh --guest-check FILES BLOCKS.

set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/crash.sh"

GEOREP=${GEOREP:-/georep}
VOL=c
KEYS_MNT=/mnt/georep-keys
FS_MNT=/mnt/georep-c
RAW_MIB=32		# raw O_DSYNC area at the end of the volume
MARKER=GEOREP-CRASH-POWER-CUT-NOW
NOISE_MIB=32		# unsynced writes beside the acknowledged ones

# --- shared by both boots --------------------------------------------------

# item_data KIND N LEN: set $data to the deterministic content of item N.
# Bash builtins only: under TCG every fork costs milliseconds.
item_data() {
	local line="georep crash test: $1 $2 ......................................"$'\n'
	local pad=$line
	while [ ${#pad} -lt "$3" ]; do
		pad=$pad$pad
	done
	data=${pad:0:$3}
}

# put_item KIND N LEN FILE: write the content of item N to FILE
put_item() {
	item_data "$1" "$2" "$3"
	printf '%s' "$data" >"$4"
}

# file_len N: set $len to the size of file item N (no fork)
file_len() { len=$(( 1000 + ($1 * 3739) % 15000 )); }

# raw area: the last RAW_MIB of the volume, in 4 KiB blocks
raw_base() {
	local size
	size=$(blockdev --getsize64 "/dev/georep/$VOL") || return 1
	echo $(( (size - (RAW_MIB << 20)) / 4096 ))
}

load_module() {
	local dep

	grep -q '^georep ' /proc/modules && return 0
	for dep in $(modinfo -F depends "$GEOREP/georep.ko" | tr ',' ' '); do
		modprobe "$dep"
	done
	insmod "$GEOREP/georep.ko"
}

mount_keys() {
	mkdir -p "$KEYS_MNT"
	mount /dev/disk/georep/keys "$KEYS_MNT"
}

# --- boot 1 ---------------------------------------------------------------

guest_write() {
	local acks=$1 n base len noise_pid status_pid data

	set -e
	load_module
	mkfs.ext4 -q -F /dev/disk/georep/keys
	mount_keys
	georepctl volume create "$VOL" --data /dev/disk/georep/data \
		--log /dev/disk/georep/log --format --standalone --role primary --term 1 \
		--key-dir "$KEYS_MNT"
	# the seal keys must survive the power cut
	sync "$KEYS_MNT"
	sync -f "$KEYS_MNT"
	base=$(raw_base)
	# ext4 on everything but the raw area (4 KiB blocks)
	# inode tables and journal written now, not by ext4lazyinit during
	# the workload
	mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 \
		"/dev/georep/$VOL" "$base"
	mkdir -p "$FS_MNT"
	mount "/dev/georep/$VOL" "$FS_MNT"
	mkdir "$FS_MNT/acked" "$FS_MNT/noise"
	sync "$FS_MNT" "$FS_MNT/acked"
	set +e

	# unsynced buffered writes beside the acknowledged ones (NOISE_MIB in
	# all, rewriting 8 files): the cut must not corrupt anything because
	# of them. Bounded, so that the log (no daemon releases records here)
	# cannot fill up.
	(
		k=0
		while [ $k -lt $((NOISE_MIB * 4)) ]; do
			put_item noise $k 262144 "$FS_MNT/noise/n.$((k % 8))"
			k=$((k + 1))
		done
	) &
	noise_pid=$!
	# volume status on the console every 20 s, for the post-mortem
	(
		while sleep 20; do
			georepctl status "$VOL" 2>&1 | sed 's/^/status: /'
		done
	) &
	status_pid=$!

	n=1
	while :; do
		file_len $n
		put_item file $n "$len" "$FS_MNT/acked/f.$n" || break
		# fsync the file, then its directory (coreutils sync, in order)
		sync "$FS_MNT/acked/f.$n" "$FS_MNT/acked" || break
		echo "ACK file $n"
		put_item block $n 4096 /tmp/block || break
		dd if=/tmp/block of="/dev/georep/$VOL" bs=4096 count=1 \
		   seek=$((base + n)) oflag=direct,dsync status=none || break
		echo "ACK block $n"
		[ $n = "$acks" ] && echo "$MARKER"
		n=$((n + 1))
	done
	# only reached when a write failed: the host sees no power cut marker
	echo "write of item $n failed"
	kill "$noise_pid" "$status_pid"
	return 1
}

# --- boot 2 ---------------------------------------------------------------

t=0
tfail=0
ktap() {		# ktap STATUS NAME [DIRECTIVE]
	t=$((t + 1))
	if [ "$1" = 0 ]; then
		echo "ok $t $2${3:+ # $3}"
	else
		echo "not ok $t $2${3:+ # $3}"
		tfail=$((tfail + 1))
	fi
}

# diag CMD...: run CMD, its output as KTAP diagnostics, keep its status
diag() {
	local rc out
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	return $rc
}

# check_items KIND MAX: items 1..MAX of KIND (file or block) have their
# content. Few forks: the expected data is made with builtins, then one
# sha256sum over all files, or one read of the raw area and one cmp.
check_items() {
	local kind=$1 max=$2 i bad=0 base data len want got names=()

	rm -rf /tmp/want
	mkdir -p /tmp/want
	if [ "$kind" = file ]; then
		for ((i = 1; i <= max; i++)); do
			file_len $i
			put_item file $i "$len" /tmp/want/f.$i
			names+=(f.$i)
		done
		want=$(cd /tmp/want && sha256sum "${names[@]}")
		got=$(cd "$FS_MNT/acked" && sha256sum "${names[@]}" 2>&1)
		if [ "$want" != "$got" ]; then
			# which ones: compare line by line
			diff <(echo "$want") <(echo "$got") | grep '^+' | grep -v '^+++' |
				head -n 10 | sed 's/^+/acknowledged file missing or wrong: /'
			bad=$(diff <(echo "$want") <(echo "$got") | grep -c '^+[^+]')
			[ "$bad" -gt 0 ] || bad=1
		fi
		i=$(ls "$FS_MNT/acked" | grep -c '^f\.[0-9]*$')
		echo "$i files in acked/ (items written after the last ACK may be there too)"
	else
		base=$(raw_base) || return 1
		: >/tmp/want/raw
		for ((i = 1; i <= max; i++)); do
			item_data block $i 4096
			printf '%s' "$data" >>/tmp/want/raw
		done
		dd if="/dev/georep/$VOL" of=/tmp/want/got bs=4096 count="$max" \
		   skip=$((base + 1)) iflag=direct status=none || return 1
		if ! cmp -s /tmp/want/raw /tmp/want/got; then
			bad=0
			for ((i = 1; i <= max; i++)); do
				# slow path, only on a mismatch: block by block
				dd if=/tmp/want/raw bs=4096 skip=$((i - 1)) count=1 status=none >/tmp/want/a
				dd if=/tmp/want/got bs=4096 skip=$((i - 1)) count=1 status=none >/tmp/want/b
				if ! cmp -s /tmp/want/a /tmp/want/b; then
					echo "acknowledged block $i missing or wrong"
					bad=$((bad + 1))
					[ $bad -ge 10 ] && { echo "(stopping after 10)"; break; }
				fi
			done
			[ $bad -gt 0 ] || bad=1
		fi
	fi
	rm -rf /tmp/want
	echo "$kind 1..$max checked, $bad bad"
	[ $bad = 0 ]
}

guest_check() {
	local files=$1 blocks=$2 mark taint0 taint1 bad rc

	echo "KTAP version 1"
	echo "1..9"
	mark=$(dmesg | wc -l)
	taint0=$(cat /proc/sys/kernel/tainted)
	diag load_module && diag mount_keys
	ktap $? module-and-keys
	diag georepctl volume create "$VOL" --data /dev/disk/georep/data \
		--log /dev/disk/georep/log --role primary --term 1 \
		--key-dir "$KEYS_MNT"
	rc=$?
	ktap $rc attach-without-format
	if [ $rc != 0 ]; then
		for n in fsck-clean ledger-verify acked-files acked-blocks \
			 checks-detect-missing-items volume-delete; do
			ktap 1 "$n" "volume did not attach"
		done
	else
		diag georepctl status "$VOL"
		# mounting replays the ext4 journal, as any recovery would
		mkdir -p "$FS_MNT"
		diag mount "/dev/georep/$VOL" "$FS_MNT" && diag umount "$FS_MNT" &&
			diag fsck.ext4 -n -f "/dev/georep/$VOL"
		ktap $? fsck-clean
		diag georepctl ledger verify "$VOL" --key-dir "$KEYS_MNT"
		ktap $? ledger-verify
		if diag mount -o ro "/dev/georep/$VOL" "$FS_MNT"; then
			diag check_items file "$files"
			ktap $? acked-files "$files acknowledged"
			umount "$FS_MNT"
		else
			ktap 1 acked-files "mount failed"
		fi
		diag check_items block "$blocks"
		ktap $? acked-blocks "$blocks acknowledged"
		# negative control: the same checks must fail for items that
		# were never written (1000 past the last ACK)
		rc=1
		if diag mount -o ro "/dev/georep/$VOL" "$FS_MNT"; then
			! check_items file $((files + 1000)) >/dev/null &&
				! check_items block $((blocks + 1000)) >/dev/null
			rc=$?
			umount "$FS_MNT"
		fi
		ktap $rc checks-detect-missing-items
		diag georepctl volume delete "$VOL"
		ktap $? volume-delete
	fi
	umount "$KEYS_MNT" 2>/dev/null
	rc=0
	diag rmmod georep || rc=1
	bad=$(dmesg | tail -n "+$((mark + 1))" |
		grep -E 'BUG:|WARNING:|Oops|Call Trace:|still has objects')
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | sed 's/^/# kmsg: /'
		rc=1
	fi
	taint1=$(cat /proc/sys/kernel/tainted)
	if [ $(( (taint1 & ~taint0) & ((1 << 7) | (1 << 9)) )) != 0 ]; then
		echo "# kernel tainted: $taint0 -> $taint1"
		rc=1
	fi
	ktap $rc module-unload-clean
	[ $tfail = 0 ]
}

# --- host -----------------------------------------------------------------

host() {
	local top acks=300 timeout=480 dir log1 log2 rc files blocks
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

	while [ $# -gt 0 ]; do
		case $1 in
		--acks) acks=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		*) echo "usage: crash.sh [--acks N] [--timeout SEC]" >&2; exit 2 ;;
		esac
	done
	dir=$top/build/crash
	mkdir -p "$top/build"
	# one crash test at a time: the disk images are fixed files
	exec 8>"$top/build/crash.lock"
	flock 8
	rm -rf "$dir"
	mkdir -p "$dir"
	log1=$dir/boot1.log
	log2=$dir/boot2.log
	local vm=("$top/selftests/vm/run" --vm --disk-dir "$dir/disks"
		  --disk data:256 --disk log:256 --disk keys:16 --timeout "$timeout")

	echo "KTAP version 1"
	echo "1..2"
	echo "# boot 1: $acks acknowledged writes, then a power cut (log: $log1)"
	"${vm[@]}" --kill-on "^$MARKER" -- "selftests/crash.sh --guest-write $acks" \
		>"$log1" 2>&1
	rc=$?
	sed 's/^/# /' "$log1"
	files=$(sed -n 's/^ACK file \([0-9]*\)\r*$/\1/p' "$log1" | tail -n1)
	blocks=$(sed -n 's/^ACK block \([0-9]*\)\r*$/\1/p' "$log1" | tail -n1)
	files=${files:-0}
	blocks=${blocks:-0}
	echo "# boot 1: $files files and $blocks blocks acknowledged before the cut"
	if [ $rc = 0 ] && grep -q "^$MARKER" "$log1" && [ "$files" -ge "$acks" ]; then
		echo "ok 1 boot1-acked-writes-power-cut"
	else
		echo "not ok 1 boot1-acked-writes-power-cut # runner status $rc"
		echo "not ok 2 boot2-recovery # SKIP no power cut happened"
		return 1
	fi

	echo "# boot 2: attach, fsck, ledger verify, acknowledged items (log: $log2)"
	"${vm[@]}" -- "selftests/crash.sh --guest-check $files $blocks" >"$log2" 2>&1
	boot2_report "$log2" $? || return 1
}

case ${1:-} in
--guest-write) guest_write "$2" ;;
--guest-check) guest_check "$2" "$3" ;;
*) host "$@" ;;
esac
