#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Whole-site power cut: three sites, one VM each (selftests/vm/lab.sh), each
# with its own data, log and state disks (image files on the host, kept
# across that VM's restarts), georepd at every site with the sites lab's
# configuration (commit rule quorum, quorum_loss suspend, election timeout
# 3000 ms). Each round:
#  1. georep-ackcheck writes numbered blocks at the primary P (O_DIRECT|
#     O_DSYNC, each acknowledgement logged, fsynced, on P's state disk);
#  2. a random time (seeded) after its first acknowledgement, P's qemu gets
#     SIGKILL: the whole site loses power, its writer mid-write;
#  3. another site must become primary within FAILOVER_MAX_S; a second
#     writer runs there while P is down (P has something to catch up on);
#  4. P boots again on the same disks; the acknowledgements its state disk
#     kept are read back; every acknowledged block must be on the new
#     primary;
#  5. P attaches its volume again (without --format, as
#     Documentation/recovery.rst says) and starts georepd; it must become a
#     caught-up secondary within REJOIN_MAX_S.
# After the rounds, one "held" round (issue 10 item 1, write-path.rst,
# "Shipping before the local write is durable"): P's log device (a
# dm-linear mapping) is suspended, so its writes wait in P's memory; one
# O_DSYNC block is written at P; its record must reach the followers
# (shipped once sealed) while P's own durable seq stays where it was, and
# the write must not complete. Then P loses power: its log never had the
# record. A follower becomes primary with it; P reboots, recovers without
# it, rejoins and receives it: every site ends with the same ledger head
# (written_seq and chain hash), the block was never acknowledged, and the
# final checks (acknowledged blocks everywhere, identical data devices)
# cover it. Before sealed mode no follower got the record (the round's
# second check failed). The scrub runs all the time (1 MiB/s, a pass every
# second), so that a read of the log device is in progress when it is
# suspended: until December 2026 that read held the reader thread and
# read_mutex, and the held record was never shipped (write-path.rst,
# "A stalled log device must not hold shipping").
# Every second round (the "early" rounds) P also writes one block with
# O_DSYNC after the attach and BEFORE its georepd starts: that write must
# be refused or held; if it is acknowledged, the block must still be at
# every site after the rejoin (an acknowledged write is never lost).
# At the end: every acknowledged block at every site, the three data
# devices sha256-identical, and no WARN, BUG, Oops or hung task in any
# console of any boot or in the kernel log of the VMs still up.
#
#   selftests/sites/powercut.sh          (make check: suite powercut)
#   SEED=N ROUNDS=N selftests/sites/powercut.sh
#
# SEED replays the random choices (cut delays; printed at the start),
# ROUNDS (default 2: one plain round, one early round) is the soak knob
# (make crash-soak), POWERCUT_TIMEOUT (default 300 + 150 * ROUNDS s)
# bounds the whole run. Consoles and logs: build/powercut/ (kept; the
# georepd logs are on each VM's state disk, DIR/disks/vm<i>-state.img).
# KTAP on stdout. The same file is sourced by each VM's agent
# (selftests/vm/agent) with --guest: the pc_* functions below run there.

# --- in the guest -----------------------------------------------------------

PC_DATA=/dev/disk/georep/data
# the log through dm-linear, so that the held round can hold its writes
PC_LOG_DISK=/dev/disk/georep/log
PC_LOG=/dev/mapper/pclog
PC_MNT=/mnt/pc-state
PC_KEYS=$PC_MNT/keys
PC_STATE=$PC_MNT/georepd
PC_CONFIG=/tmp/pc-cluster.json
PC_PORT=7400
PC_VOL=vol0

pc_load() {
	local dep
	if [ ! -e "$PC_LOG" ]; then
		modprobe dm-mod
		dmsetup create pclog --table \
			"0 $(blockdev --getsz $PC_LOG_DISK) linear $PC_LOG_DISK 0" &&
			dmsetup mknodes || return 1
	fi
	grep -q '^georep ' /proc/modules && return 0
	for dep in $(modinfo -F depends "$GEOREP/georep.ko" | tr ',' ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$GEOREP/georep.ko"
}

# pc_mount_state [new]: the state disk (ext4): seal keys, georepd's state
# directory, the acknowledgement logs; "new" formats it first
pc_mount_state() {
	if [ "${1:-}" = new ]; then
		mkfs.ext4 -q -F /dev/disk/georep/state || return 1
	fi
	mkdir -p "$PC_MNT" && mount /dev/disk/georep/state "$PC_MNT"
}

# pc_seed: format vol0 here and print what every site starts from: the log
# superblock (uuid, geometry, term 0) and the seal keys, base64
pc_seed() {
	mkdir -p "$PC_KEYS"
	georepctl volume create "$PC_VOL" --data "$PC_DATA" --log "$PC_LOG" --format \
		--site-id 1 --role secondary --term 0 --commit-rule quorum \
		--key-dir "$PC_KEYS" >/dev/null || return 1
	georepctl volume delete "$PC_VOL" || return 1
	echo "SEED $(dd if="$PC_LOG" bs=4096 count=1 iflag=direct status=none | base64 -w0)" \
	     "$(tar -C "$PC_KEYS" -cf - "$PC_VOL" | base64 -w0)"
}

# pc_first_attach SITE-ID SB KEYS: vol0 from the seed, as a secondary
pc_first_attach() {
	if [ "$1" != 1 ]; then
		mkdir -p "$PC_KEYS"
		echo "$2" | base64 -d | dd of="$PC_LOG" bs=4096 count=1 conv=notrunc \
			oflag=direct status=none || return 1
		echo "$3" | base64 -d | tar -C "$PC_KEYS" -xf - || return 1
		chmod 0600 "$PC_KEYS/$PC_VOL"/*
	fi
	# the keys must survive the power cuts to come (ext4 delays its writes)
	sync -f "$PC_KEYS" || return 1
	georepctl volume create "$PC_VOL" --data "$PC_DATA" --log "$PC_LOG" --site-id "$1" \
		--role secondary --term 0 --commit-rule quorum --key-dir "$PC_KEYS" >/dev/null
}

# pc_reattach: after a reboot (Documentation/recovery.rst, "Machine
# rebooted"): attach without --format
pc_reattach() {
	georepctl volume create "$PC_VOL" --data "$PC_DATA" --log "$PC_LOG" \
		--key-dir "$PC_KEYS" >/dev/null || return 1
	georepctl status "$PC_VOL"
}

# the sites lab's configuration (selftests/sites/lib.sh, sites_config)
pc_config() {
	local i sites='' reps='' addrs
	read -ra addrs <<<"$GEOREP_VM_ADDRS"
	for ((i = 0; i < GEOREP_VM_COUNT; i++)); do
		sites+="${sites:+,}
    {\"name\": \"vm$i\", \"region\": \"r$i\", \"site_id\": $((i + 1)), \"address\": \"${addrs[$i]}:$PC_PORT\"}"
		reps+="${reps:+,}
       \"vm$i\": {\"data\": \"$PC_DATA\", \"log\": \"$PC_LOG\"}"
	done
	cat >"$PC_CONFIG" <<JSON
{
  "cluster": "powercut",
  "sites": [$sites
  ],
  "volumes": [
    {"name": "$PC_VOL", "commit_rule": "quorum", "quorum_loss": "suspend",
     "checkpoint": {"scrub_mib_s": 1, "scrub_pass_s": 1},
     "replicas": {$reps
     }}
  ]
}
JSON
	georepctl config check "$PC_CONFIG" >/dev/null
}

pc_start_daemon() {
	pc_config || return 1
	mkdir -p "$PC_STATE"
	echo "---- georepd start $(date -u +%T)" >>"$PC_MNT/georepd.log"
	# plain TCP: the VMs share no CA yet (TODO: certificates on the state disks)
	GEOREPD_ELECTION_MS=3000 setsid georepd --config "$PC_CONFIG" \
		--site "vm$GEOREP_VM_INDEX" --state-dir "$PC_STATE" --foreground \
		--verbose --ledger kernel --insecure-plaintext </dev/null >>"$PC_MNT/georepd.log" 2>&1 &
}

# pc_vol: this kernel's vol0 as "role written_seq applied_seq diverged
# io_state" (one line; nothing when not attached)
pc_vol() {
	georepctl status "$PC_VOL" --json 2>/dev/null |
		jq -r '.volumes[0] | "\(.role) \(.written_seq) \(.applied_seq) \(.diverged // false) \(.io_state)"'
}

# pc_daemon: what this site's georepd says of vol0 (role, leader, a fork
# heal's progress, in sync; a leader's view of each site: match, probe or
# replicate, messages in flight), then its log's last lines: why a rejoin
# stalls
pc_daemon() {
	georepctl status --json --socket "$PC_STATE/vm$GEOREP_VM_INDEX.sock" 2>&1 |
		jq -c '.cluster.volumes[0] | {role: .replica.role, term: .replica.term,
			leader: .replica.leader, heal: .replica.heal,
			heals_done: .replica.heals_done,
			served: .replica.heal_blocks_served, requests: .replica.heal_requests,
			in_sync: .replica.in_sync,
			resync: .replica.resync,
			refused: .replica.records_refused,
			sites: [.replica.sites[]? | {site, connected, written_seq, match_seq,
				state, inflight_msgs, inflight_bytes, lag_records}]}' 2>&1
	tail -n 40 "$PC_MNT/georepd.log"
}

# pc_writer NAME FIRST COUNT [LOG]: georep-ackcheck in the background; its
# acknowledgements in $PC_MNT/LOG (default acks; appended, fsynced), its
# output and status in $PC_MNT/writer-NAME.{out,rc}
pc_writer() {
	rm -f "$PC_MNT/writer-$1.rc"
	setsid bash -c "georep-ackcheck write /dev/georep/$PC_VOL --log $PC_MNT/${4:-acks} \
		--first $2 --count $3 >$PC_MNT/writer-$1.out 2>&1; echo \$? >$PC_MNT/writer-$1.rc" \
		</dev/null >/dev/null 2>&1 &
}

pc_acked() { cat "$PC_MNT/acks" 2>/dev/null | wc -l; }

# pc_record SEQ: record SEQ of this site's vol0 as "op lba site_id"
pc_record() {
	georepctl ledger dump "$PC_VOL" --from "$1" --to "$1" --json |
		jq -r '.[0] | "\(.op) \(.lba) \(.site_id)"'
}

# pc_tail: this site's vol0's first record held (its log released those before)
pc_tail() {
	georepctl status "$PC_VOL" --json | jq -r '.volumes[0].tail_seq'
}

# pc_chain: this site's vol0 as "written_seq chain_hash"
pc_chain() {
	georepctl status "$PC_VOL" --json | jq -r '.volumes[0] | "\(.written_seq) \(.chain_hash)"'
}

# pc_verify ACKS-BASE64: every acknowledged block (the host's union of the
# acknowledgement logs) reads back from this site's vol0
pc_verify() {
	echo "$1" | base64 -d >/tmp/pc-acks || return 1
	georep-ackcheck verify "/dev/georep/$PC_VOL" --log /tmp/pc-acks
}

pc_kernel_problems() {
	dmesg | grep -E "$1" && return 1
	return 0
}

[ "${1:-}" = --guest ] && return 0

# --- on the host ------------------------------------------------------------

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$TOP/selftests/vm/lab.sh"

ROUNDS=${ROUNDS:-2}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
W=${POWERCUT_DIR:-$TOP/build/powercut}
GUEST_FILE=/georep/selftests/sites/powercut.sh
FAILOVER_MAX_S=60	# TCG, 3 VMs on 2 shared cores, election 3000 ms
REJOIN_MAX_S=180
REGION=1024		# blocks per writer (4 MiB), two writers a round
AFTER_COUNT=200		# blocks the new primary's writer writes
EARLY_HOLD_S=10		# how long a held early write is watched before georepd starts
EARLY_END_S=60		# ... and how long after the rejoin it may take to end
DATA_MB=$(((2 * ROUNDS + 1) * REGION * 4 / 1024 + 4))
# the whole run, then every qemu is killed and the run fails
TIMEOUT=${POWERCUT_TIMEOUT:-$((300 + 150 * ROUNDS))}
N=3

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS: a number >= 1"; exit 2; }
t=0
tfail=0
outf=$W/.out
ACKS=$W/acks
ACKS_ALL=$W/acks-all

ktap() {
	t=$((t + 1))
	if [ "$1" = 0 ]; then
		echo "ok $t $2"
	else
		echo "not ok $t $2"
		tfail=$((tfail + 1))
	fi
}

# check NAME CMD...: CMD in this shell, its output as "# " diagnostics
check() {
	local name=$1 rc
	shift
	"$@" >"$outf" 2>&1
	rc=$?
	tr -d '\r' <"$outf" | sed 's/^/# /'
	ktap $rc "$name"
	return $rc
}

on() { lab_on "$@"; }

# vol_of I: VM I's "role written applied diverged io_state"
vol_of() { lab_alive "$1" && on "$1" pc_vol 30; }

# primary_vm [EXCLUDED]: the one VM whose vol0 is primary
primary_vm() {
	local i v found=""
	for ((i = 0; i < N; i++)); do
		[ "$i" = "${1:-}" ] && continue
		lab_alive "$i" || continue
		v=$(vol_of "$i") || continue
		if [ "${v%% *}" = primary ]; then
			[ -n "$found" ] && return 1
			found=$i
		fi
	done
	[ -n "$found" ] && echo "$found"
}

wait_primary() {
	local end=$((SECONDS + $1)) p
	while [ $SECONDS -lt $end ] && ! lab_timed_out; do
		p=$(primary_vm "${2:-}") && { echo "$p"; return 0; }
		sleep 0.5
	done
	return 1
}

status_all() {
	local i
	for ((i = 0; i < N; i++)); do
		lab_alive "$i" && echo "vm$i: $(vol_of "$i")"
	done
}

daemons_all() {
	local i
	for ((i = 0; i < N; i++)); do
		lab_alive "$i" || continue
		echo "---- vm$i: georepd"
		on "$i" pc_daemon 60
	done
}

# all_in_sync: one primary, the others secondaries that wrote and applied
# all it wrote, nothing diverged
all_in_sync() {
	local i p v pw
	p=$(primary_vm) || return 1
	read -r _ pw _ <<<"$(vol_of "$p")"
	for ((i = 0; i < N; i++)); do
		[ "$i" = "$p" ] && continue
		v=$(vol_of "$i") || return 1
		[ "$v" = "secondary $pw $pw false run" ] || return 1
	done
	PRIMARY=$p
}

wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] && ! lab_timed_out || return 1
		sleep 1
	done
}

setup() {
	local i seed sb keys
	lab_init $N "$W" "data:$DATA_MB" "log:128" "state:32" || return 1
	lab_watchdog "$TIMEOUT"
	for ((i = 0; i < N; i++)); do
		lab_start "$i" "$GUEST_FILE" || return 1
	done
	for ((i = 0; i < N; i++)); do
		lab_wait "$i" || return 1
	done
	echo "3 VMs booted in $SECONDS s"
	seed=$(on 0 'pc_load && pc_mount_state new && pc_seed') || return 1
	seed=${seed##*SEED }
	sb=${seed%% *}
	keys=${seed#* }
	for ((i = 0; i < N; i++)); do
		if [ "$i" != 0 ]; then
			on "$i" "pc_load && pc_mount_state new" || return 1
		fi
		on "$i" "pc_first_attach $((i + 1)) $sb $keys" || return 1
	done
	for ((i = 0; i < N; i++)); do
		on "$i" pc_start_daemon || return 1
	done
	PRIMARY=$(wait_primary 120) || { status_all; return 1; }
	echo "primary: vm$PRIMARY ($SECONDS s)"
}

# collect I: VM I's acknowledgement logs into $W/acks-vm<I> (the writers
# of the rounds) and $W/early-vm<I> (the writes before georepd); $ACKS is
# the union of the former, $ACKS_ALL of both
collect() {
	local f
	for f in acks early; do
		on "$1" "cat $PC_MNT/$f 2>/dev/null" 60 | grep '^ack ' >"$W/$f-vm$1.new"
		# a VM's log only grows (a power cut keeps what was fsynced)
		[ "$(wc -l <"$W/$f-vm$1.new")" -ge "$(cat "$W/$f-vm$1" 2>/dev/null | wc -l)" ] ||
			{ echo "vm$1's acknowledgement log $f shrank"; return 1; }
		mv "$W/$f-vm$1.new" "$W/$f-vm$1"
	done
	cat "$W"/acks-vm[0-9] >"$ACKS"
	cat "$ACKS" "$W"/early-vm[0-9] >"$ACKS_ALL"
}

# verify_at I [LOG]: every block in LOG (default $ACKS) is on VM I's vol0
verify_at() {
	on "$1" "pc_verify $(base64 -w0 <"${2:-$ACKS}")" 300
}

# round R: region 2R-1 for the writer at P, 2R for the one at the new primary
start_writer() {
	local before n end
	P=$PRIMARY
	before=$(on "$P" pc_acked) || return 1
	on "$P" "pc_writer r$R-p $(((2 * R - 1) * REGION)) $REGION" || return 1
	echo "writer at vm$P, blocks $(((2 * R - 1) * REGION))..$((2 * R * REGION - 1))"
	end=$((SECONDS + 60))
	while :; do
		n=$(on "$P" pc_acked) || return 1
		[ "$n" -gt "$before" ] && break
		[ $SECONDS -lt $end ] || { echo "no write acknowledged in 60 s"; return 1; }
		sleep 0.5
	done
	echo "first acknowledgement; the cut comes $DELAY s later"
}

power_cut() {
	local t0
	sleep "$DELAY"
	lab_kill "$P"
	echo "vm$P: qemu SIGKILLed (power cut) at $(date -u +%T.%N | cut -c1-12)"
	t0=$SECONDS
	NEWP=$(wait_primary $FAILOVER_MAX_S "$P") || { status_all; return 1; }
	echo "new primary vm$NEWP within $((SECONDS - t0)) s (bound $FAILOVER_MAX_S s)"
	on "$NEWP" "pc_writer r$R-after $((2 * R * REGION)) $AFTER_COUNT"
}

reboot_old() {
	local t0=$SECONDS
	lab_boot "$P" "$GUEST_FILE" || return 1
	echo "vm$P booted again in $((SECONDS - t0)) s"
	on "$P" "pc_load && pc_mount_state" || return 1
	collect "$P" || return 1
	echo "$(wc -l <"$W/acks-vm$P") acknowledgements on vm$P's state disk, $(wc -l <"$ACKS") in all"
	on "$P" "cat $PC_MNT/writer-r$R-p.out 2>/dev/null | tail -n 3"
	[ -s "$ACKS" ]
}

after_writer_done() {
	on "$NEWP" "cat $PC_MNT/writer-r$R-after.rc 2>/dev/null" 30 | grep -q '^0$'
}

verify_new() {
	if ! wait_for 120 after_writer_done; then
		on "$NEWP" "cat $PC_MNT/writer-r$R-after.out"
		echo "the writer at vm$NEWP did not write its $AFTER_COUNT blocks"
		return 1
	fi
	collect "$NEWP" || return 1
	echo "$(wc -l <"$ACKS") acknowledgements in all"
	verify_at "$NEWP"
}

# the early round: one O_DSYNC block after the attach, before georepd
early_write() {
	local blk=$((R - 1)) end rc
	EARLY=unknown
	on "$P" "pc_writer r$R-early $blk 1 early" || return 1
	end=$((SECONDS + EARLY_HOLD_S))
	while [ $SECONDS -lt $end ]; do
		rc=$(on "$P" "cat $PC_MNT/writer-r$R-early.rc 2>/dev/null" 30)
		[ -n "$rc" ] && break
		sleep 1
	done
	on "$P" "cat $PC_MNT/writer-r$R-early.out"
	case $rc in
	0) EARLY=acknowledged ;;
	"") EARLY=held ;;
	*) EARLY="refused (status $rc)" ;;
	esac
	echo "write before georepd at vm$P, block $blk: $EARLY"
}

# the held round's block: in the last region, past the blocks its writer wrote
HELD_BLK=$(((2 * ROUNDS + 1) * REGION - 1))

# held_is_at I: VM I's record after HELD_S0 is P's write of the held block
held_is_at() {
	local r
	r=$(on "$1" "pc_record $((HELD_S0 + 1))" 30)
	[ "$r" = "write $((HELD_BLK * 8)) $((P + 1))" ] || return 1
	echo "vm$1: record $((HELD_S0 + 1)) is $r"
}

# suspend P's log and write one block there; its record must reach a
# follower while P's durable seq stays
held_write() {
	local i v s0 end got=""
	P=$PRIMARY
	read -r _ s0 _ <<<"$(vol_of "$P")" || return 1
	HELD_S0=$s0
	on "$P" "dmsetup suspend pclog && pc_writer held $HELD_BLK 1 held" || return 1
	echo "vm$P: log suspended at written_seq $s0; one O_DSYNC write to block $HELD_BLK"
	end=$((SECONDS + 30))
	while [ -z "$got" ] && [ $SECONDS -lt $end ]; do
		sleep 0.5
		for ((i = 0; i < N; i++)); do
			[ "$i" = "$P" ] && continue
			held_is_at "$i" && got=$i
		done
	done
	status_all
	[ -n "$got" ] ||
		{ echo "no follower got vm$P's held write as record $((s0 + 1)) in 30 s"; return 1; }
	read -r _ v _ <<<"$(vol_of "$P")"
	echo "vm$P (the primary) written_seq $v"
	[ "$v" = "$s0" ] || { echo "vm$P's log moved although suspended"; return 1; }
	on "$P" "cat $PC_MNT/writer-held.rc 2>/dev/null" 30 | grep -q . &&
		{ echo "the held write ended"; return 1; }
	return 0
}

held_cut() {
	local v
	lab_kill "$P"
	echo "vm$P: qemu SIGKILLed with its log suspended"
	NEWP=$(wait_primary $FAILOVER_MAX_S "$P") || { status_all; return 1; }
	echo "new primary vm$NEWP"
	lab_boot "$P" "$GUEST_FILE" && on "$P" "pc_load && pc_mount_state" || return 1
	on "$P" pc_reattach | head -n 4
	read -r _ v _ <<<"$(vol_of "$P")"
	echo "vm$P recovered written_seq $v (held record $((HELD_S0 + 1)) never reached its log)"
	[ "$v" = "$HELD_S0" ] || return 1
	if on "$P" "cat $PC_MNT/held 2>/dev/null" 30 | grep -q '^ack '; then
		echo "the held write was acknowledged"
		return 1
	fi
	on "$P" pc_start_daemon
}

# every site: the same written_seq and chain hash, past the held record
held_agree() {
	local i c c0="" ret=0 got=0 t
	wait_for $REJOIN_MAX_S all_in_sync || { status_all; daemons_all; return 1; }
	for ((i = 0; i < N; i++)); do
		c=$(on "$i" pc_chain 30) || return 1
		echo "vm$i: $c"
		[ -n "$c0" ] || c0=$c
		[ "$c" = "$c0" ] || ret=1
	done
	# the chain hashes agree: a site whose log released the record holds
	# the same history (its leader releases what every site has)
	for ((i = 0; i < N; i++)); do
		held_is_at "$i" && { got=$((got + 1)); continue; }
		t=$(on "$i" pc_tail 30)
		if [ -n "$t" ] && [ "$t" -gt $((HELD_S0 + 1)) ]; then
			echo "vm$i: record $((HELD_S0 + 1)) released (tail $t)"
			continue
		fi
		echo "vm$i: the held record is not in its ledger"
		ret=1
	done
	[ "$got" -gt 0 ] || { echo "no site shows the held record"; ret=1; }
	return $ret
}

rejoin() {
	local t0=$SECONDS
	on "$P" pc_reattach || return 1
	if [ $((R % 2)) = 0 ]; then
		early_write || return 1
	fi
	on "$P" pc_start_daemon || return 1
	if ! wait_for $REJOIN_MAX_S all_in_sync; then
		status_all
		echo "vm$P is not a caught-up secondary $REJOIN_MAX_S s after its attach"
		daemons_all
		return 1
	fi
	echo "all in sync $((SECONDS - t0)) s after vm$P's attach; primary vm$PRIMARY"
	status_all
}

early_done() {
	on "$P" "cat $PC_MNT/writer-r$R-early.rc 2>/dev/null" 30 | grep -q .
}

# the early write ended (after a hold: either way), and if it was
# acknowledged its block is at every site
early_kept() {
	local i ret=0
	if ! wait_for $EARLY_END_S early_done; then
		echo "the write before georepd is still held $EARLY_END_S s after the rejoin"
		on "$P" "georepctl volume set $PC_VOL --io-state fail"
		return 1
	fi
	on "$P" "echo status \$(cat $PC_MNT/writer-r$R-early.rc); cat $PC_MNT/writer-r$R-early.out"
	collect "$P" || return 1
	[ -s "$W/early-vm$P" ] || { echo "not acknowledged: nothing to keep"; return 0; }
	for ((i = 0; i < N; i++)); do
		echo "vm$i:"
		verify_at "$i" "$W/early-vm$P" || ret=1
	done
	return $ret
}

# the checker must be able to fail here: a logged block that was never
# written (region 0 holds only the early rounds' blocks, below 1000) is
# reported missing
negative_control() {
	local out
	out=$(on "$PRIMARY" "echo 'ack 0123456789abcdef 7 1000' >/tmp/pc-neg;
		georep-ackcheck verify /dev/georep/$PC_VOL --log /tmp/pc-neg; echo rc=\$?")
	echo "$out"
	grep -q '^missing: block 7 of run 0123456789abcdef at device block 1000 ' <<<"$out" &&
		grep -q '^rc=1$' <<<"$out"
}

verify_all() {
	local i ret=0
	for ((i = 0; i < N; i++)); do
		collect "$i" || return 1
	done
	echo "$(wc -l <"$ACKS_ALL") acknowledged blocks"
	for ((i = 0; i < N; i++)); do
		echo "vm$i:"
		verify_at "$i" "$ACKS_ALL" || ret=1
	done
	return $ret
}

data_identical() {
	local i h h0="" ret=0
	for ((i = 0; i < N; i++)); do
		h=$(on "$i" "dd if=$PC_DATA bs=1M iflag=direct status=none | sha256sum" 300) || return 1
		h=${h%% *}
		echo "vm$i: $h"
		[ ${#h} = 64 ] || ret=1
		[ -n "$h0" ] || h0=$h
		[ "$h" = "$h0" ] || ret=1
	done
	return $ret
}

kernel_clean() {
	local i ret=0 out
	lab_kernel_problems || ret=1
	for ((i = 0; i < N; i++)); do
		lab_alive "$i" || continue
		out=$(on "$i" "pc_kernel_problems '$LAB_BAD_KMSG'" 60) || ret=1
		[ -z "$out" ] || printf '%s\n' "$out" | sed "s/^/vm$i dmesg: /"
	done
	[ $ret = 0 ] && echo "no WARN/BUG/Oops/hung task on any console or in any dmesg"
	return $ret
}

finish() {
	local i
	if [ $tfail != 0 ] && ! lab_timed_out; then
		for ((i = 0; i < N; i++)); do
			lab_alive "$i" || continue
			echo "# ---- vm$i: georepd log (last lines) ----"
			on "$i" "tail -n 25 $PC_MNT/georepd.log" 30 | sed 's/^/# /'
		done
	fi
	lab_cleanup
	echo "1..$t"
	echo "# powercut: seed $SEED, $ROUNDS rounds, $tfail failed, ${SECONDS}s; logs in $W"
	[ $tfail = 0 ] || echo "# replay: SEED=$SEED ROUNDS=$ROUNDS $0"
}

rm -rf "$W"
mkdir -p "$W"
trap finish EXIT
trap 'exit 130' INT TERM
echo "KTAP version 1"
echo "# powercut: seed $SEED (replay: SEED=$SEED), $ROUNDS rounds"

check three_sites_elect_a_primary setup || exit 1
for R in $(seq 1 "$ROUNDS"); do
	lab_timed_out && break
	DELAY=$((RANDOM % 4)).$((RANDOM % 10))
	kind=plain
	[ $((R % 2)) = 0 ] && kind=early
	echo "# round $R ($kind): cut ${DELAY} s after the first acknowledgement"
	check "round${R}_writer_acknowledging_at_primary" start_writer || break
	check "round${R}_power_cut_primary_new_primary_within_${FAILOVER_MAX_S}s" power_cut || break
	check "round${R}_old_primary_reboots_on_its_disks" reboot_old || break
	check "round${R}_acknowledged_blocks_on_new_primary" verify_new
	check "round${R}_old_primary_rejoins_caught_up" rejoin || break
	if [ $kind = early ]; then
		check "round${R}_write_before_daemon_refused_or_kept" early_kept
	fi
done
if ! lab_timed_out && all_in_sync; then
	echo "# held round: the primary's log suspended, then a power cut"
	check held_record_at_a_follower_not_durable_at_primary held_write &&
		check held_power_cut_primary_recovers_without_it held_cut &&
		check held_every_ledger_agrees_after_rejoin held_agree
fi
check acknowledged_blocks_on_every_site verify_all
check negative_control_unwritten_block_reported_missing negative_control
check data_devices_identical data_identical
check no_warn_bug_or_hung_task kernel_clean
lab_timed_out
ktap $((1 - $?)) "finished_within_${TIMEOUT}s"
[ $tfail = 0 ]
