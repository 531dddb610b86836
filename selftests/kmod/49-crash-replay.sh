#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crash replay with volatile caches (Documentation/write-path.rst,
# "Durability"): every write georep sends to its log and data devices is
# recorded by dm-log-writes while ext4 runs a journaled workload with fsync
# beside FUA block writes (georep-ackcheck --aio: asynchronous O_DSYNC, no
# flush after it), each after a plain O_DIRECT write, and buffered noise;
# then the recorded writes are replayed, with georep-logreplay, to points of
# the log, each one a state the disks could hold after a power cut:
#
#  - just after a flush or FUA entry (everything not yet flushed lost);
#  - at a random entry, plus a random subset of the writes logged after it
#    up to the next flush, in random order (what a volatile cache may have
#    written back before the cut).
#
# At each point the volume must attach, `georepctl ledger verify` must pass,
# the data device must equal a replay of the ledger onto the zeroed device
# it started as (georep-datacmp: no block without its record),
# every block and file acknowledged as durable before that point (a mark
# logged after its O_DSYNC write or fsync returned) must be there with its
# content, each acknowledged block must have its record in the ledger with
# the payload hash of what the data device holds, ext4 must mount (journal
# replay) and `fsck.ext4 -fn` be clean.
#
# Both georep devices are dm-linear parts of one dm-log-writes device, so
# the log is one total order of the writes; a flush of either part counts
# for both, as on one disk with one cache (Documentation/vm-lab.rst).
#
# Environment: CRASH_POINTS (default 9; `make crash-soak POINTS=N`),
# CRASH_SEED (default random, printed: replays a run), CRASH_FILES (24),
# CRASH_BLOCKS (40).

set -u
. "$(dirname "$0")/lib/volume.bash"
. "$(dirname "$0")/lib/crashreplay.bash"

POINTS=${CRASH_POINTS:-9}
SEED=${CRASH_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) ))}
NFILES=${CRASH_FILES:-24}
NBLOCKS=${CRASH_BLOCKS:-40}
DATA_MB=64
LOG_MB=96
BACK_MB=$((DATA_MB + LOG_MB))
FS_BLOCKS=8192		# ext4 on the first 32 MiB of the volume
ACK_FIRST=9000		# raw O_DSYNC blocks after it
NOISE_FIRST=12000	# raw buffered noise after it
V=crv
R=$V		# the replayed volume: same name, same key directory

for p in dmsetup georep-logreplay georep-ackcheck mkfs.ext4 fsck.ext4; do
	command -v $p >/dev/null || { echo "$p not on PATH"; exit $KSFT_SKIP; }
done
VT_TMPFS_MB=1500 vt_init grcr
modprobe dm-log-writes 2>/dev/null
grep -qw log-writes <(dmsetup targets) || { echo "no dm-log-writes"; exit $KSFT_SKIP; }

cr_cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	umount "$T/m" "$T/r" 2>/dev/null
	georepctl volume delete $V >/dev/null 2>&1
	dmsetup remove grcr-data 2>/dev/null
	dmsetup remove grcr-log 2>/dev/null
	dmsetup remove grcr-lw 2>/dev/null
	for l in $CUT_LOOPS; do losetup -d "$l" 2>/dev/null; done
	vt_cleanup
}
CUT_LOOPS=
trap cr_cleanup EXIT

echo "    KTAP version 1"
echo "    # seed $SEED (CRASH_SEED=$SEED replays it), $POINTS points"
RANDOM=$SEED

# --- record ----------------------------------------------------------------

back=$(vt_loop back $BACK_MB) || exit 1
lwlog=$(vt_loop lwlog 700) || exit 1
mkdir -p "$T/m" "$T/r"

mark() { dmsetup message grcr-lw 0 mark "$1"; }

# file_content I: the content of file I, deterministic
file_content() { yes "georep crash replay file $1" | head -c $((1000 + ($1 * 3739) % 15000)); }

write_files() {
	local i
	for i in $(seq 1 "$NFILES"); do
		file_content "$i" >"$T/m/d/f.$i" &&
			sync "$T/m/d/f.$i" "$T/m/d" && mark "f.$i" || return 1
	done
}

write_blocks() {
	local i
	for i in $(seq 1 "$NBLOCKS"); do
		# a plain write just before it: completed, not yet flushed
		georep-ackcheck write /dev/georep/$V --log "$T/acks" \
			--first $((ACK_FIRST + i)) --count 1 --aio \
			--plain-first $((NOISE_FIRST + 4000 + i)) >/dev/null &&
			mark "b.$i" || return 1
	done
}

# buffered writes nobody syncs: in the file system and on the raw volume
noise() {
	local i=0
	while [ ! -e "$T/stop" ]; do
		dd if=/dev/urandom of="$T/m/noise.$((i % 4))" bs=64k count=4 2>/dev/null
		dd if=/dev/urandom of=/dev/georep/$V bs=4k count=4 oflag=direct \
			seek=$((NOISE_FIRST + (i * 4) % 4000)) 2>/dev/null
		i=$((i + 1))
	done
}

record() {
	local lw
	# no udev in the lab: tables name devices by number, mknodes makes nodes
	dmsetup create grcr-lw --table "0 $((BACK_MB * 2048)) log-writes $back $lwlog" &&
		lw=$(dmsetup info -c --noheadings -o major,minor grcr-lw | tr -d ' ') &&
		dmsetup create grcr-data --table "0 $((DATA_MB * 2048)) linear $lw 0" &&
		dmsetup create grcr-log --table "0 $((LOG_MB * 2048)) linear $lw $((DATA_MB * 2048))" &&
		dmsetup mknodes || return 1
	# standalone (no control plane: writable when attached again); it
	# releases its own log past low_wm / 2, which the workload stays below
	# so that every acknowledged record is still in the ledger
	georepctl volume create $V --data /dev/mapper/grcr-data \
		--log /dev/mapper/grcr-log --format --standalone \
		--high-wm 95 --low-wm 90 --key-dir "$KEYS" || return 1
	mkfs.ext4 -q -F -b 4096 /dev/georep/$V $FS_BLOCKS &&
		mount /dev/georep/$V "$T/m" && mkdir "$T/m/d" && sync -f "$T/m" ||
		return 1
	mark mkfs
	noise &
	write_files &
	local fpid=$!
	write_blocks
	local brc=$?
	wait $fpid
	local frc=$?
	touch "$T/stop"
	wait
	umount "$T/m" && georepctl volume delete $V || return 1
	mark end
	dmsetup remove grcr-data && dmsetup remove grcr-log &&
		dmsetup remove grcr-lw || return 1
	echo "files writer status $frc, blocks writer status $brc"
	[ $frc = 0 ] && [ $brc = 0 ]
}

vt_check "record ext4 fsyncs and O_DSYNC writes through dm-log-writes" record ||
	{ vt_done; exit 1; }
cr_list "$lwlog" mkfs || exit 1

# --- check one point ---------------------------------------------------------

# marks NAME-PREFIX INDEX: how many marks "PREFIX.n" lie before INDEX
marks_before() {
	awk -v p="$1" -v to="$2" '$1 < to && $2 == "mark" && index($5, p ".") == 1 { n++ } END { print n + 0 }' "$T/entries"
}

check_files() {
	local nf=$1 i
	mount /dev/georep/$R "$T/r" || { echo "ext4 does not mount"; return 1; }
	for i in $(seq 1 "$nf"); do
		if ! cmp -s "$T/r/d/f.$i" <(file_content "$i"); then
			echo "file f.$i (fsync returned before this point) is missing or wrong"
			umount "$T/r"
			return 1
		fi
	done
	umount "$T/r" || return 1
	fsck.ext4 -fn /dev/georep/$R >"$T/fsck.out" 2>&1 ||
		{ cat "$T/fsck.out"; echo "fsck.ext4 -fn is not clean"; return 1; }
}

# check_ledger NB: the acknowledged blocks 1..NB each have their record in
# the ledger, and the data device holds that record's payload (its hash);
# a block back on the data device whose record recovery dropped is a lost
# acknowledged write too: the ledger and every replica lack it
check_ledger() {
	local nb=$1 k blk h d rc=0
	georepctl ledger dump $R >"$T/dump" || return 1
	for k in $(seq 1 "$nb"); do
		blk=$((ACK_FIRST + k))
		h=$(awk -v l=$((blk * 8)) '$3 == "write" && $4 == l { h = $11 } END { print h }' "$T/dump")
		if [ -z "$h" ]; then
			echo "block $blk (acknowledged) has no record in the ledger"
			rc=1
			continue
		fi
		d=$(dd if=/dev/georep/$R bs=4k skip=$blk count=1 iflag=direct 2>/dev/null |
			sha256sum | cut -c1-12)
		[ "$d" = "$h" ] || { echo "block $blk: data $d, its record's payload hash $h"; rc=1; }
	done
	return $rc
}

# check_point INDEX SUBSET: replay to it in $T/cut.img and check
check_point() {
	local idx=$1 sub=$2 dl ll nb nf rc=0
	cr_cut "$T/base.img" "$lwlog" "$idx" "$sub" || return 1
	dl=$(losetup -f --show --sizelimit $((DATA_MB << 20)) "$T/cut.img") || return 1
	ll=$(losetup -f --show -o $((DATA_MB << 20)) --sizelimit $((LOG_MB << 20)) "$T/cut.img") ||
		{ losetup -d "$dl"; return 1; }
	CUT_LOOPS="$dl $ll"
	nb=$(marks_before b "$idx")
	nf=$(marks_before f "$idx")
	echo "acknowledged before it: $nb blocks, $nf files"
	if ! georepctl volume create $R --data "$dl" --log "$ll" --key-dir "$KEYS"; then
		echo "attach failed"
		rc=1
	else
		georepctl status $R --json | grep -E '"(written|tail)_seq"' | tr -d ' \n'; echo
		georepctl ledger verify $R --key-dir "$KEYS" || rc=1
		# the data device is what the ledger says, block for block
		georep-datacmp /dev/georep/$R.log /dev/georep/$R --initial-zero || rc=1
		if [ "$nb" -gt 0 ]; then
			head -n "$nb" "$T/acks" >"$T/acks.cut"
			georep-ackcheck verify /dev/georep/$R --log "$T/acks.cut" || rc=1
			check_ledger "$nb" || rc=1
		fi
		check_files "$nf" || rc=1
		georepctl volume delete $R || rc=1
	fi
	losetup -d "$dl" "$ll"
	CUT_LOOPS=
	return $rc
}

cr_run "$lwlog" "$T/base.img" ${BACK_MB}M "attach, verify, acknowledged writes, fsck" check_point

vt_done
