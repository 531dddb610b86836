#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio on a raw loop device against a georep volume (local rule) on loop
# devices of the same kind, in the VM lab:
#
#   selftests/vm/run --mem 3072 -- selftests/kmod/bench/volume-fio.sh [SECONDS]
#
# Jobs: 4 KiB randwrite QD1, 4 KiB randwrite QD16, 1 MiB sequential write
# QD1 and QD4 (O_DIRECT, libaio). Prints one line per job with both results
# and the ratio; a benchmark, never a pass/fail test. The log is released
# every half second so that it never throttles.

set -u
RUNTIME=${1:-10}
command -v fio >/dev/null || { echo "no fio"; exit 4; }
# GEOREP_BENCH_SHA256: a sha256 driver to pin (module parameter)
grep -q "^georep " /proc/modules || { modprobe crc32c_generic; modprobe libcrc32c
	insmod "${GEOREP:-/georep}/georep.ko" ${GEOREP_BENCH_SHA256:+sha256_driver=$GEOREP_BENCH_SHA256}; } ||
	exit 4
grep -B1 -A4 '^driver *: sha256' /proc/crypto | grep -E '^(driver|priority)'
echo "georep uses: $(cat /sys/module/georep/parameters/sha256_driver)"

T=$(mktemp -d /tmp/bench.XXXXXX)
mount -t tmpfs -o size=1700m tmpfs "$T" || exit 1
truncate -s 512M "$T/raw.img" "$T/data.img"
truncate -s 512M "$T/log.img"
RAW=$(losetup -f --show "$T/raw.img")
DATA=$(losetup -f --show "$T/data.img")
LOG=$(losetup -f --show "$T/log.img")
V=bench-$$
mkdir -p "$T/keys"
cleanup() {
	kill "$REL" 2>/dev/null
	georepctl volume delete "$V" >/dev/null 2>&1
	losetup -d "$RAW" "$DATA" "$LOG" 2>/dev/null
	umount "$T"; rmdir "$T"
}
trap cleanup EXIT
georepctl volume create "$V" --data "$DATA" --log "$LOG" --format --role primary \
	--term 1 --key-dir "$T/keys" >/dev/null || exit 1
( while sleep 0.5; do
	w=$(georepctl status "$V" --json | sed -n 's/.*"written_seq": \([0-9]*\).*/\1/p')
	[ -n "$w" ] && [ "$w" -gt 0 ] && georepctl ledger release "$V" "$w" >/dev/null 2>&1
done ) &
REL=$!
# prefill both, so neither side pays for first-touch tmpfs pages
dd if=/dev/zero of="$RAW" bs=1M count=512 oflag=direct status=none
dd if=/dev/zero of="/dev/georep/$V" bs=1M count=512 oflag=direct status=none


# job DEV fio-args...: prints "iops bw_KiB/s clat_p50_us"
job() {
	local dev=$1
	shift
	fio --name=b --filename="$dev" --direct=1 --ioengine=libaio --runtime="$RUNTIME" \
	    --time_based --size=448M --randrepeat=0 --norandommap --group_reporting \
	    --output-format=json "$@" >"$T/out.json" 2>/dev/null || { echo "0 0 0"; return; }
	awk '/"write" : \{/ { w = 1 }
	     w && $1 == "\"bw\"" && bw == "" { bw = $3 + 0 }
	     w && $1 == "\"iops\"" && iops == "" { iops = $3 + 0 }
	     w && $1 == "\"50.000000\"" && p == "" { p = $3 / 1000 }
	     END { printf "%.0f %.0f %.0f\n", iops, bw, p }' "$T/out.json"
}

printf '%-20s %12s %12s %6s   %s\n' job raw georep ratio "p50 clat us raw/georep"
run() {
	local name=$1 r g
	shift
	r=$(job "$RAW" "$@")
	g=$(job "/dev/georep/$V" "$@")
	# fields: 3 words of name, then iops bw p50 for raw and for georep
	echo "$name $r $g" | awk '{
		n = $1 " " $2 " " $3
		if ($1 ~ /^1M/)
			printf "%-20s %9.1fMB/s %9.1fMB/s %6.2f   %d/%d\n", n, $5 / 1024, $8 / 1024, ($5 ? $8 / $5 : 0), $6, $9
		else
			printf "%-20s %8d IOPS %8d IOPS %6.2f   %d/%d\n", n, $4, $7, ($4 ? $7 / $4 : 0), $6, $9
	}'
}
run "4k randwrite QD1" --rw=randwrite --bs=4k --iodepth=1
run "4k randwrite QD16" --rw=randwrite --bs=4k --iodepth=16
run "1M write QD1" --rw=write --bs=1M --iodepth=1
run "1M write QD4" --rw=write --bs=1M --iodepth=4
georepctl status "$V"
