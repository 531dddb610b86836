#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# georep-lat: the per-write latency breakdown from the module's tracepoints
# (ebpf/lat.bpf.c, loaded with libbpf on this 6.1 kernel).
#
#   1. 100 O_DIRECT writes to V while georep-lat watches V: exactly 100
#      writes reported, none lost, each with its durable time; the stages
#      add up to the total (means within 10%); 30 writes to another volume
#      meanwhile are not counted
#   2. commit rule quorum, one write whose commit comes 600 ms later, its
#      record read from the log stream (shipped) half way: the shipped and
#      commit stages hold about 300 ms each, the local stages do not
#   3. an unknown volume: exit 1 naming it

set -u
. "$(dirname "$0")/lib/volume.bash"
vt_init grvol62

V=vol62-$$
W=vol62w-$$
VT_VOLS="$V $W"
echo "    1..5"

setup() {
	local d l
	d=$(vt_loop data 64) && l=$(vt_loop log 32) || return 1
	georepctl volume create "$V" --data "$d" --log "$l" --format \
		--role primary --term 1 --key-dir "$KEYS" || return 1
	d=$(vt_loop wdata 64) && l=$(vt_loop wlog 32) || return 1
	georepctl volume create "$W" --data "$d" --log "$l" --format \
		--role primary --term 1 --key-dir "$KEYS"
}

# field JSON PATH: a number of the report
field() {
	jq -r "$2" <"$1"
}

breakdown() {
	georep-lat --volume "$V" --duration 8 --json >"$T/lat1" &
	local lat=$! sum total
	sleep 2
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=100 oflag=direct status=none &&
	dd if=/dev/urandom of="/dev/georep/$W" bs=4k count=30 oflag=direct status=none ||
		return 1
	wait $lat || return 1
	jq . "$T/lat1"
	[ "$(field "$T/lat1" .writes)" = 100 ] && [ "$(field "$T/lat1" .lost)" = 0 ] &&
	[ "$(field "$T/lat1" .no_durable)" = 0 ] && [ "$(field "$T/lat1" .errors)" = 0 ] ||
		return 1
	sum=$(jq '[.stages.admission, .stages.seal, .stages.durable, .stages.shipped,
		   .stages.commit, .stages.complete] | map(.mean_us) | add' "$T/lat1")
	total=$(field "$T/lat1" .stages.total.mean_us)
	echo "stages add up to $sum us, total $total us (means)"
	awk -v s="$sum" -v t="$total" 'BEGIN { exit !(t > 0 && s > 0.9 * t && s < 1.1 * t) }'
}

commit_stage() {
	georepctl volume set "$V" --commit-seq "$(vt_num "$V" written_seq)" \
		--commit-rule quorum || return 1
	georep-lat --volume "$V" --duration 6 --json >"$T/lat2" &
	local lat=$! dd commit durable shipped
	sleep 2
	dd if=/dev/urandom of="/dev/georep/$V" bs=4k count=1 seek=7 oflag=direct status=none &
	dd=$!
	sleep 0.3
	# a reader of the log stream takes the record (as georepd does to ship it)
	georepctl ledger dump "$V" >/dev/null || return 1
	sleep 0.3
	georepctl volume set "$V" --commit-seq "$(vt_num "$V" written_seq)" || return 1
	wait $dd && wait $lat || return 1
	jq -c .stages "$T/lat2"
	commit=$(field "$T/lat2" .stages.commit.max_us)
	shipped=$(field "$T/lat2" .stages.shipped.max_us)
	durable=$(field "$T/lat2" .stages.durable.max_us)
	echo "durable $durable us, shipped $shipped us, commit $commit us"
	[ "$(field "$T/lat2" .writes)" = 1 ] &&
	[ "$(field "$T/lat2" .not_shipped_before_commit)" = 0 ] &&
	awk -v c="$commit" -v s="$shipped" -v d="$durable" \
		'BEGIN { exit !(s >= 200000 && c >= 200000 && s + c >= 500000 && d < 200000) }'
}

vt_check "a primary and another volume" setup
vt_check "100 writes: all reported, stages add up, the other volume not counted" breakdown
vt_check "quorum: a stream read and a commit 300 ms apart are the shipped and commit stages" commit_stage
vt_check "an unknown volume: exit 1 naming it" \
	eval 'georep-lat --volume nope-$$ --duration 1 2>"$T/e"; [ $? = 1 ] && grep -q "volume nope-$$" "$T/e"'
vt_check "delete" eval 'georepctl volume delete "$V" && georepctl volume delete "$W"'
vt_done
