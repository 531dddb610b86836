#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmarks (make bench): fio on the raw device and on a georep volume, in
# the VM lab, in one run, so that the ratios mean something. Numbers are
# printed, never judged: the exit status only says whether every scenario
# could run.
#
#   selftests/bench.sh [--runtime SEC] [--only SCENARIO...]
#
# Setup in the guest: two 512 MiB files on tmpfs behind loop devices, one for
# data and one for the log. Jobs per scenario (fio, libaio, O_DIRECT, on the
# scenario's block device):
#   qd1    4 KiB random writes, iodepth 1:  IOPS, total latency p50/p99
#   qd16   4 KiB random writes, iodepth 16: IOPS, total latency p50/p99
#   seq    1 MiB sequential writes, iodepth 4: MB/s
# Latency is total (submission + completion, --lat_percentiles=1).
# First, the guest kernel's SHA-256 rate (tcrypt, one vCPU) of the built-in
# C driver and of the one "sha256" resolves to once sha256-ssse3 is loaded;
# georep.ko is loaded with the faster (sha256_driver): georep-local hashes
# every byte it writes once, so that rate bounds its 1 MiB sequential row.
#
# Scenarios are functions scenario_<name> that set up a device, call
# run_jobs <name> <device> [prepare-function] and tear down; add DRBD or multi-site rows by
# adding a function and its name to SCENARIOS.
#
# The host side boots the VM, collects the fio JSON printed between markers
# on the console and prints the table with python3 (build/bench/ has the
# raw output).

set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench-lat.sh"

SCENARIOS="raw georep-local"
RUNTIME=12
RAMP=2
BENCH_MNT=/mnt/georep-bench
MIB=512

# --- guest ----------------------------------------------------------------

data_loop=
log_loop=

bench_setup() {
	mkdir -p "$BENCH_MNT"
	mount -t tmpfs -o size=$((2 * MIB + 64))m tmpfs "$BENCH_MNT" || return 1
	truncate -s ${MIB}M "$BENCH_MNT/data.img" "$BENCH_MNT/log.img" || return 1
	# fill them, so that tmpfs page allocation is not part of the numbers
	dd if=/dev/zero of="$BENCH_MNT/data.img" bs=1M count=$MIB conv=notrunc status=none
	dd if=/dev/zero of="$BENCH_MNT/log.img" bs=1M count=$MIB conv=notrunc status=none
	data_loop=$(losetup -f --show "$BENCH_MNT/data.img") || return 1
	log_loop=$(losetup -f --show "$BENCH_MNT/log.img") || return 1
	echo "data $data_loop, log $log_loop: ${MIB} MiB each on tmpfs"
}

bench_teardown() {
	[ -n "$data_loop" ] && losetup -d "$data_loop"
	[ -n "$log_loop" ] && losetup -d "$log_loop"
	umount "$BENCH_MNT" 2>/dev/null
}

# fio_job SCENARIO JOB DEVICE FIO-ARGS...: one job, its JSON between markers
fio_job() {
	local scen=$1 job=$2 dev=$3 rc
	shift 3
	echo "BENCH-JSON-BEGIN $scen $job"
	fio --name="$scen-$job" --filename="$dev" --direct=1 --ioengine=libaio \
	    --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
	    --lat_percentiles=1 --percentile_list=50:99 \
	    --output-format=json "$@"
	rc=$?
	echo "BENCH-JSON-END $scen $job $rc"
	return $rc
}

# run_jobs SCENARIO DEVICE [PREPARE]: the three jobs; PREPARE (a function)
# runs before each of them, e.g. to start from a fresh volume
run_jobs() {
	local scen=$1 dev=$2 prep=${3:-true} rc=0

	# a georep volume's QD1 job: where each write's time goes (georep-lat),
	# watching the volume PREPARE made
	if $prep; then
		[[ $dev == /dev/georep/* ]] && lat_start "${dev#/dev/georep/}" $((RUNTIME + RAMP))
		fio_job "$scen" qd1 "$dev" --rw=randwrite --bs=4k --iodepth=1 --randrepeat=0 ||
			rc=1
		lat_end "$scen" qd1
	else
		rc=1
	fi
	$prep && fio_job "$scen" qd16 "$dev" --rw=randwrite --bs=4k --iodepth=16 --randrepeat=0 || rc=1
	$prep && fio_job "$scen" seq "$dev" --rw=write --bs=1M --iodepth=4 || rc=1
	return $rc
}

scenario_raw() {
	run_jobs raw "$data_loop"
}

load_georep() {
	local dep
	grep -q '^georep ' /proc/modules && return 0
	for dep in $(modinfo -F depends "$GEOREP/georep.ko" | tr ',' ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$GEOREP/georep.ko" ${SHA256_DRV:+sha256_driver=$SHA256_DRV}
}

# a fresh volume per job, and a releaser playing georepd's part: every
# 0.5 s it releases the log up to what is written (georepd releases once
# every replica has a record). Without it a job that writes more than the
# log holds blocks at the high watermark, as backpressure must.
releaser=
stop_releaser() {
	[ -n "$releaser" ] && kill "$releaser" 2>/dev/null && wait "$releaser" 2>/dev/null
	releaser=
}
georep_local_volume() {
	local w
	stop_releaser
	if [ -e /dev/georep/bench ]; then
		georepctl status bench
		georepctl volume delete bench || return 1
	fi
	georepctl volume create bench --data "$data_loop" --log "$log_loop" \
		--format --role primary --term 1 --commit-rule local \
		--key-dir /tmp/georep-bench-keys || return 1
	while sleep 0.5; do
		w=$(georepctl status bench --json | sed -n 's/.*"written_seq": \([0-9]*\).*/\1/p')
		[ -n "$w" ] && [ "$w" -gt 0 ] && georepctl ledger release bench "$w" >/dev/null 2>&1
	done &
	releaser=$!
}

scenario_georep-local() {
	local rc

	load_georep || return 1
	run_jobs georep-local /dev/georep/bench georep_local_volume
	rc=$?
	stop_releaser
	georepctl status bench
	georepctl volume delete bench || rc=1
	return $rc
}

# hash_rate: the kernel's SHA-256 speed on 8 KiB blocks, from tcrypt's
# speed test (mode 304; the module never stays loaded, by design), on a
# BENCH-SHA256 line: bytes per second and the driver measured; the faster
# driver so far in SHA256_DRV
SHA256_DRV=
SHA256_RATE=0
hash_rate() {
	local rate drv

	dmesg -C
	modprobe tcrypt mode=304 sec=1 2>/dev/null
	drv=$(dmesg | sed -n 's/.*testing speed of .*sha256 (\(.*\)).*/\1/p' | tail -n1)
	# the result may be printed on the line after the test's
	rate=$(dmesg | grep -A1 -E 'test +[0-9]+ \( *8192 byte blocks, *8192 bytes per update' |
		tr '\n' ' ' | sed -n 's/.*[^0-9]\([0-9][0-9]*\) bytes\/sec.*/\1/p')
	[ -n "$rate" ] || { echo "BENCH-SHA256-FAILED no tcrypt speed line"; dmesg | tail; return 0; }
	echo "BENCH-SHA256 $rate ${drv:-?}"
	[ -n "$drv" ] && [ "$rate" -gt "$SHA256_RATE" ] && SHA256_DRV=$drv SHA256_RATE=$rate
	return 0
}

# the C driver built into the kernel, then the x86 one "sha256" resolves to
# once sha256-ssse3 is loaded (its highest priority: SHA-NI, else AVX2...;
# the others are not measured): under TCG the emulated vector code can be
# the slower, so georep.ko is loaded with the faster (its sha256_driver)
hash_rates() {
	hash_rate
	modprobe sha256-ssse3 && hash_rate
	echo "BENCH-SHA256-USE ${SHA256_DRV:-sha256} $(nproc)"
}

guest() {
	local s rc=0

	hash_rates
	bench_setup || { echo "bench setup failed"; bench_teardown; return 1; }
	for s in $SCENARIOS; do
		echo "BENCH-SCENARIO $s"
		if ! "scenario_$s"; then
			echo "BENCH-FAILED $s"
			rc=1
		fi
	done
	bench_teardown
	return $rc
}

# --- host -----------------------------------------------------------------

report() {		# report LOG: the table, from the fio JSON in LOG
	python3 - "$1" <<'EOF'
import json, sys

runs = {}
order = []
failed = []
cur = None
buf = []
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\r\n")
    if line.startswith("BENCH-SCENARIO "):
        order.append(line.split()[1])
    elif line.startswith("BENCH-FAILED "):
        failed.append(line.split()[1])
    elif line.startswith("BENCH-JSON-BEGIN "):
        cur = tuple(line.split()[1:3])
        buf = []
    elif line.startswith("BENCH-JSON-END ") and cur:
        try:
            j = json.loads("\n".join(buf))
            w = j["jobs"][0]["write"]
            pct = w["lat_ns"].get("percentile", {})
            runs[cur] = {
                "iops": w["iops"],
                "mbs": w["bw_bytes"] / 1e6,
                "p50": pct.get("50.000000", 0) / 1e3,
                "p99": pct.get("99.000000", 0) / 1e3,
            }
        except (ValueError, KeyError, IndexError) as e:
            print(f"# {cur[0]} {cur[1]}: no usable fio output ({e})")
        cur = None
    elif cur:
        buf.append(line)

cols = [("qd1", "iops", "4k QD1 IOPS", "{:.0f}"),
        ("qd1", "p50", "QD1 p50 us", "{:.1f}"),
        ("qd1", "p99", "QD1 p99 us", "{:.1f}"),
        ("qd16", "iops", "4k QD16 IOPS", "{:.0f}"),
        ("qd16", "p50", "QD16 p50 us", "{:.1f}"),
        ("qd16", "p99", "QD16 p99 us", "{:.1f}"),
        ("seq", "mbs", "1M seq MB/s", "{:.1f}")]

def cell(scen, c):
    r = runs.get((scen, c[0]))
    return c[3].format(r[c[1]]) if r else "-"

rows = [["scenario"] + [c[2] for c in cols]]
for s in order:
    rows.append([s + (" (failed)" if s in failed else "")] + [cell(s, c) for c in cols])
# ratios against the raw device of the same run
for s in order:
    if s == "raw":
        continue
    row = [s + " / raw"]
    for c in cols:
        a, b = runs.get((s, c[0])), runs.get(("raw", c[0]))
        row.append("{:.3f}".format(a[c[1]] / b[c[1]]) if a and b and b[c[1]] else "-")
    rows.append(row)
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for k, r in enumerate(rows):
    print("| " + " | ".join(x.rjust(w[i]) if i else x.ljust(w[i]) for i, x in enumerate(r)) + " |")
    if k == 0:
        print("|" + "|".join("-" * (n + 2) for n in w) + "|")
# the hash ceiling of georep-local's 1 MiB row (Documentation/bench.rst):
# every byte it writes is hashed once, on any of the guest's vCPUs
lines = [line.split() for line in open(sys.argv[1], errors="replace")]
rates = {f[2]: int(f[1]) / 1e6 for f in lines
         if len(f) == 3 and f[0] == "BENCH-SHA256" and f[1].isdigit()}
use = [f[1:] for f in lines if len(f) == 3 and f[0] == "BENCH-SHA256-USE"]
seq = runs.get(("georep-local", "seq"))
for drv, rate in rates.items():
    print("# guest kernel SHA-256 (tcrypt, 8 KiB blocks, one vCPU), %s: %.1f MB/s" % (drv, rate))
if use and use[-1][0] in rates and use[-1][1].isdigit():
    drv, ncpu = use[-1][0], int(use[-1][1])
    cap = rates[drv] * ncpu
    print("# georep.ko hashed with %s: on %d vCPUs at most %.1f MB/s, the ceiling of"
          " georep-local's 1 MiB row%s" % (drv, ncpu, cap, ", which reached %.2f of it" %
                                           (seq["mbs"] / cap) if seq and cap else ""))
EOF
}

host() {
	local top dir log rc only=

	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	while [ $# -gt 0 ]; do
		case $1 in
		--runtime) RUNTIME=$2; shift 2 ;;
		--only) shift; only="$*"; break ;;
		*) echo "usage: bench.sh [--runtime SEC] [--only SCENARIO...]" >&2; exit 2 ;;
		esac
	done
	dir=$top/build/bench
	mkdir -p "$dir"
	log=$dir/bench-$(date -u +%Y%m%dT%H%M%SZ).log
	echo "# bench: runtime ${RUNTIME}s per job, log in $log"
	"$top/selftests/vm/run" --mem 3072 --timeout 1800 -- \
		"selftests/bench.sh --guest $RUNTIME $only" >"$log" 2>&1
	rc=$?
	grep -v -e '^BENCH-JSON' -e '^[[:space:]]*[{}"]' -e '^[[:space:]]*[]]' "$log" |
		grep -v '^\s*$' | sed 's/^/# /' | tail -n 40
	report "$log"
	python3 "$top/selftests/lib/bench_lat.py" "$log"
	echo "# numbers from one run; ratios are georep / raw of that run (see Documentation/vm-lab.rst)"
	return $rc
}

case ${1:-} in
--guest)
	RUNTIME=$2
	shift 2
	[ $# -gt 0 ] && SCENARIOS="$*"
	GEOREP=${GEOREP:-/georep}
	guest
	;;
*) host "$@" ;;
esac
