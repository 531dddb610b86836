#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# georep against DRBD 8.4, one VM per site (make bench): the same fio jobs
# on the raw loop device, DRBD protocol C and A (two sites), georep under
# the quorum and the local commit rule (two and three sites; two sites also
# over mutual TLS 1.3, the -tls rows, to show what TLS costs; the
# -tls-nockpt rows turn checkpoints and the scrub off, to show what they
# cost; the -shipdurable rows, not run unless named with --only, ship each
# record only once durable at the primary, as before December 2026, to
# compare with shipping while the local write runs; the -commitnl rows, also
# only with --only, hand the commit index to the kernel by netlink instead of
# GEOREP_IOC_COMMIT_SEQ, as before December 2026), at 0 ms and at
# DELAY ms one-way netem delay on every link between the VMs, all in one
# boot of three VMs (selftests/vm/multi). Numbers are printed with their
# ratios, never judged: the exit status only says whether every scenario
# could run.
#
#   selftests/bench/sites.sh [--runtime SEC] [--delays "0 5"] [--smp N]
#                            [--profile] [--only SCENARIO...]
#   selftests/bench/sites.sh --report LOG    (the tables of an earlier run)
#
# Every VM has the same two 512 MiB files on tmpfs behind /dev/loop0 (data)
# and /dev/loop1 (georep's log; DRBD's external meta data). VM 0 drives:
# the others run an agent (busybox nc on port 7070) that executes the shell
# text VM 0 sends with this file's functions loaded, and returns its output
# and status. DRBD is primary on VM 0; georepd elects the georep primary
# and fio runs there. Jobs (fio, libaio, O_DIRECT, identical for every row):
#   qd1    4 KiB random writes, iodepth 1:  IOPS, total latency p50/p99
#   qd16   4 KiB random writes, iodepth 16: IOPS
#   seq    1 MiB sequential writes, iodepth 4: MB/s (a burst: RUNTIME s)
#   sust   the same, sustained: SUST_MIB written, 1.5 times the log
#          (DRBD A and georep local only; issue 10's "burst and sustained")
# --profile records a CPU profile of every VM of a scenario during each job
# (perf, which linux-perf must provide on the host; the VMs' initramfs then
# carries it) and prints the top symbols after the tables.
# See Documentation/bench.rst. Raw output: build/bench/sites-*.log.

. "$(dirname "${BASH_SOURCE[0]}")/../lib/bench-lat.sh"

BENCH_PORT=7070
MIB=512
RUNTIME=8
SUST_MIB=$((512 * 3 / 2))	# the sust job: 1.5 times georep's 512 MiB log
RAMP=2
DELAYS="0 5"
SMP=1
PROFILE=0
SCENARIOS="raw drbd-C drbd-A georep-quorum-2 georep-local-2 georep-quorum-2-tls georep-local-2-tls georep-quorum-3 georep-local-3 georep-quorum-2-tls-nockpt georep-quorum-3-tls georep-quorum-3-tls-nockpt"
BENCH_MNT=/mnt/georep-bench
DATA=/dev/loop0
LOG=/dev/loop1
KEYS=/etc/georep/keys
GR_STATE=/tmp/georep-bench-state
GR_CONFIG=/tmp/georep-bench-cluster.json
GR_PORT=7400
GR_PKI=/etc/georep/pki
SELF=${GEOREP:-/georep}/selftests/bench/sites.sh

# --- every VM -------------------------------------------------------------

devices_up() {
	mkdir -p "$BENCH_MNT"
	mount -t tmpfs -o size=$((2 * MIB + 64))m tmpfs "$BENCH_MNT" || return 1
	# filled, so that tmpfs page allocation is not part of the numbers
	dd if=/dev/zero of="$BENCH_MNT/data.img" bs=1M count=$MIB status=none || return 1
	dd if=/dev/zero of="$BENCH_MNT/log.img" bs=1M count=$MIB status=none || return 1
	losetup "$DATA" "$BENCH_MNT/data.img" && losetup "$LOG" "$BENCH_MNT/log.img"
}

devices_down() {
	losetup -d "$DATA" "$LOG" 2>/dev/null
	umount "$BENCH_MNT" 2>/dev/null
}

# netem MS: MS ms on every NIC towards another VM (0: no qdisc)
netem() {
	local n
	for n in $GEOREP_VM_NICS; do
		/sbin/tc qdisc del dev "$n" root 2>/dev/null
		[ "$1" = 0 ] && continue
		/sbin/tc qdisc add dev "$n" root netem delay "${1}ms" limit 10000 || return 1
		# busybox tc would fail quietly: check that the qdisc is there
		/sbin/tc qdisc show dev "$n" | grep -q "netem .*delay ${1}ms" || {
			echo "netem missing on $n"
			return 1
		}
	done
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

# sust_sample SCENARIO: every 2 s, the kernel volume's line (written,
# committed, applied, tail, log used, throttled) and georepd's CPU time in
# clock ticks (utime + stime), as BENCH-SUST lines, until killed
sust_sample() {
	local pid t0=$SECONDS
	pid=$(cat /tmp/georepd.pid 2>/dev/null)
	while :; do
		echo "BENCH-SUST $1 $((SECONDS - t0))s" \
		     "$(georepctl status vol0 2>/dev/null | tail -n 1 | tr -s ' ')" \
		     "georepd_ticks $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)"
		sleep 2
	done
}

# run_jobs SCENARIO DEVICE [JOB...]: the jobs named (qd1 qd16 seq sust),
# qd1 qd16 seq by default
run_jobs() {
	local scen=$1 dev=$2 rc=0 job
	shift 2

	for job in ${@:-qd1 qd16 seq}; do
		case $job in
		qd1)
			# a georep volume's QD1 job: where each write's time goes
			# (georep-lat)
			[[ $dev == /dev/georep/* ]] &&
				lat_start "${dev#/dev/georep/}" $((RUNTIME + RAMP))
			fio_job "$scen" qd1 "$dev" --rw=randwrite --bs=4k --iodepth=1 \
				--randrepeat=0 || rc=1
			lat_end "$scen" qd1 ;;
		qd16)
			fio_job "$scen" qd16 "$dev" --rw=randwrite --bs=4k --iodepth=16 \
				--randrepeat=0 || rc=1 ;;
		seq)
			fio_job "$scen" seq "$dev" --rw=write --bs=1M --iodepth=4 || rc=1 ;;
		sust)
			# not time based: SUST_MIB in all, wrapping on the device;
			# a georep volume's log and georepd's CPU every 2 s
			local spid=
			if [[ $dev == /dev/georep/* ]]; then
				sust_sample "$scen" &
				spid=$!
			fi
			fio_job "$scen" sust "$dev" --rw=write --bs=1M --iodepth=4 \
				--time_based=0 --runtime=0 --ramp_time=0 \
				--size=${MIB}M --io_size=${SUST_MIB}M || rc=1
			[ -n "$spid" ] && kill "$spid" 2>/dev/null ;;
		*)
			echo "run_jobs: unknown job $job"
			rc=1 ;;
		esac
	done
	return $rc
}

# -- DRBD 8.4 with its own userland (drbd-utils 9 keeps it in /lib/drbd)

DRBDSETUP=/usr/lib/drbd/drbdsetup-84

# drbd_up PROTOCOL ME PEER: resource r0, minor 0 on $DATA, meta data on
# $LOG, connecting to PEER
drbd_up() {
	local i
	modprobe drbd || return 1
	mkdir -p /var/lock /var/run/drbd /var/lib/drbd
	drbdmeta --force 0 v08 "$LOG" flex-external create-md </dev/null >/dev/null || return 1
	$DRBDSETUP new-resource r0 &&
		$DRBDSETUP new-minor r0 0 0 &&
		$DRBDSETUP attach 0 "$DATA" "$LOG" flexible &&
		$DRBDSETUP connect r0 "ipv4:$2:7789" "ipv4:$3:7789" --protocol="$1" ||
		return 1
	for ((i = 0; i < 300; i++)); do
		[ "$($DRBDSETUP cstate 0)" = Connected ] && return 0
		sleep 0.1
	done
	echo "drbd: not connected: $($DRBDSETUP cstate 0)"
	return 1
}

# drbd_primary: skip the initial sync of the fresh, identical devices
drbd_primary() {
	local i
	$DRBDSETUP new-current-uuid 0 --clear-bitmap=yes || return 1
	for ((i = 0; i < 300; i++)); do
		[ "$($DRBDSETUP dstate 0)" = UpToDate/UpToDate ] && break
		sleep 0.1
	done
	$DRBDSETUP primary 0 || return 1
	$DRBDSETUP status r0 2>/dev/null || $DRBDSETUP sh-status 0
}

drbd_down() {
	$DRBDSETUP down r0
}

# -- georep: one georepd per site, the kernel volume vol0 on every site

georep_load() {
	local dep
	grep -q '^georep ' /proc/modules && return 0
	for dep in $(modinfo -F depends "$GEOREP/georep.ko" | tr ',' ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$GEOREP/georep.ko"
}

# gr_seed RULE: format vol0 here (site id 1) and print the seed every site
# starts from: the log superblock (uuid, geometry, term 0), the seal keys,
# and the cluster CA with every site's certificate and key (for -tls rows;
# the lab's stand-in for copying them over a secure channel)
gr_seed() {
	local i
	georep_load || return 1
	rm -rf "$KEYS/vol0" "$GR_PKI"
	mkdir -p "$KEYS"
	georepctl volume create vol0 --data "$DATA" --log "$LOG" --format \
		--site-id 1 --role secondary --term 0 --commit-rule "$1" \
		--key-dir "$KEYS" >/dev/null || return 1
	georepctl volume delete vol0 || return 1
	. "$GEOREP/selftests/lib/tls-certs.sh"
	tls_make_ca "$GR_PKI" >/dev/null 2>&1 || return 1
	for ((i = 0; i < GEOREP_VM_COUNT; i++)); do
		tls_make_site "$GR_PKI" "vm$i" >/dev/null 2>&1 || return 1
	done
	echo "SEED $(dd if="$LOG" bs=4096 count=1 status=none | base64 -w0)" \
	     "$(tar -C "$KEYS" -cf - vol0 | base64 -w0)" \
	     "$(tar -C "$GR_PKI" -cf - . | base64 -w0)"
}

# gr_attach SITE-ID RULE SB KEYS PKI: vol0 from the seed, as a secondary
gr_attach() {
	georep_load || return 1
	if [ "$1" != 1 ]; then
		rm -rf "$KEYS/vol0" "$GR_PKI"
		mkdir -p "$KEYS" "$GR_PKI"
		echo "$3" | base64 -d | dd of="$LOG" bs=4096 count=1 conv=notrunc \
			oflag=direct status=none || return 1
		echo "$4" | base64 -d | tar -C "$KEYS" -xf - || return 1
		chmod 0600 "$KEYS"/vol0/*
		echo "$5" | base64 -d | tar -C "$GR_PKI" -xf - || return 1
		chmod 0600 "$GR_PKI"/*.key
	fi
	georepctl volume create vol0 --data "$DATA" --log "$LOG" --site-id "$1" \
		--role secondary --term 0 --commit-rule "$2" --key-dir "$KEYS" >/dev/null
}

# gr_config SITES RULE TLS [NOCKPT]: the cluster configuration, the same at
# every site; TLS yes: mutual TLS 1.3 with the seed's certificates (and so
# checkpoints, signed with the sites' keys); NOCKPT yes: no checkpoints and
# no scrub, to measure what they cost
gr_config() {
	local n=$1 i sites='' reps='' addrs=($GEOREP_VM_ADDRS) tls='' cert='' ck=''
	[ "$3" = yes ] && tls="\"tls\": {\"ca\": \"$GR_PKI/ca.crt\"},"
	[ "${4:-no}" = yes ] &&
		ck='"checkpoint": {"records": 4294967296, "ms": 3600000, "scrub_mib_s": 0},'
	for ((i = 0; i < n; i++)); do
		[ "$3" = yes ] && cert=", \"cert\": \"$GR_PKI/vm$i.crt\", \"key\": \"$GR_PKI/vm$i.key\""
		sites+="${sites:+,}
    {\"name\": \"vm$i\", \"region\": \"r$i\", \"site_id\": $((i + 1)), \"address\": \"${addrs[$i]}:$GR_PORT\"$cert}"
		reps+="${reps:+,}
       \"vm$i\": {\"data\": \"$DATA\", \"log\": \"$LOG\"}"
	done
	cat >"$GR_CONFIG" <<JSON
{
  "cluster": "bench", $tls
  "sites": [$sites
  ],
  "volumes": [
    {"name": "vol0", "commit_rule": "$2", "quorum_loss": "suspend", $ck
     "replicas": {$reps
     }}
  ]
}
JSON
	georepctl config check "$GR_CONFIG" >/dev/null
}

# gr_start SITES RULE TLS [NOCKPT]: this site's georepd (TLS no: plain TCP)
gr_start() {
	local plain=--insecure-plaintext
	gr_config "$1" "$2" "$3" "${4:-no}" || return 1
	[ "$3" = yes ] && plain=
	rm -rf "$GR_STATE"
	mkdir -p "$GR_STATE"
	GEOREPD_SHIP_DURABLE=$([ "${GR_VARIANT:-}" = shipdurable ] && echo 1) \
	GEOREPD_COMMIT_NETLINK=$([ "${GR_VARIANT:-}" = commitnl ] && echo 1) \
	GEOREPD_ELECTION_MS=${GEOREPD_ELECTION_MS:-3000} setsid georepd \
		--config "$GR_CONFIG" --site "vm$GEOREP_VM_INDEX" --state-dir "$GR_STATE" \
		--foreground --ledger kernel $plain </dev/null >/tmp/georepd.log 2>&1 &
	echo $! >/tmp/georepd.pid
}

# a follower's appends since georepd started: records, write(2) calls (one
# flush each: group commit), the time in them
gr_appends() {
	gr_is_primary && return 0
	georepctl status --json --socket "$GR_STATE/vm$GEOREP_VM_INDEX.sock" 2>/dev/null |
		jq -r '.cluster.volumes[0].replica // empty |
			"appends: \(.appended) records in \(.append_calls) write(2) calls," +
			" \(.append_us) us in them"'
}

# gr_stages SCENARIO JOB: georepd's own stages of the writes it replicated
# (the last 512 of each: stage.h), for selftests/lib/bench_lat.py
gr_stages() {
	local st
	st=$(georepctl status --json --socket "$GR_STATE/vm$GEOREP_VM_INDEX.sock" 2>/dev/null |
		jq -c '.cluster.volumes[0].replica | {role, stages}' 2>/dev/null)
	[ -n "$st" ] || return 0
	echo "BENCH-STAGE $1 $2 vm$GEOREP_VM_INDEX $st"
}

# prof_start PROFILE SECONDS: with PROFILE 1 (--profile), a CPU profile of
# this VM for SECONDS (perf record -a, cpu-clock: TCG has no PMU);
# prof_end SCENARIO JOB: its top symbols by command and library, and its
# split by command (BENCH-PROF and BENCH-PROF-COMM lines)
prof_start() {
	rm -f /tmp/bench-prof.pid
	[ "$1" = 1 ] || return 0
	command -v perf >/dev/null || { echo "no perf in this VM"; return 1; }
	setsid perf record -a -g -F 497 -o /tmp/bench-prof.data -- sleep "$2" \
		>/tmp/bench-prof.err 2>&1 </dev/null &
	echo $! >/tmp/bench-prof.pid
}

prof_end() {
	local pid
	pid=$(cat /tmp/bench-prof.pid 2>/dev/null) || return 0
	while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	rm -f /tmp/bench-prof.pid
	perf report -i /tmp/bench-prof.data --stdio --no-children --sort comm,dso,sym \
		-g none --percent-limit 0.5 2>/dev/null | grep '%' | head -50 |
		sed "s/^ */BENCH-PROF $1 $2 vm$GEOREP_VM_INDEX /"
	perf report -i /tmp/bench-prof.data --stdio --no-children --sort comm \
		-g none 2>/dev/null | grep '%' | head -10 |
		sed "s/^ */BENCH-PROF-COMM $1 $2 vm$GEOREP_VM_INDEX /"
}

# profiled JOB... : the jobs, each inside a profile of every VM of the scenario
profiled() {
	local n=$1 scen=$2 dev=$3 vm=$4 job rc=0
	shift 4
	for job in "$@"; do
		on_all "$n" "prof_start $PROFILE $((RUNTIME + RAMP + 1))" || rc=1
		on "$vm" "run_jobs $scen $dev $job" || rc=1
		on_all "$n" "prof_end $scen $job"
	done
	return $rc
}

gr_failed() {
	tail -n 20 /tmp/georepd.log
	dmesg | tail -n 20 | sed 's/^/dmesg: /'
	free -m | sed 's/^/free: /'
}

gr_is_primary() {
	georepctl status vol0 --json 2>/dev/null | grep -q '"role": "primary"'
}

gr_stop() {
	local pid i
	pid=$(cat /tmp/georepd.pid 2>/dev/null)
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -f /tmp/georepd.pid
	if [ -e /dev/georep/vol0 ]; then
		georepctl status vol0 | sed 's/^/status: /'
		georepctl volume delete vol0 || return 1
	fi
	rm -rf "$GR_STATE" "$KEYS/vol0"
}

# -- the agent (VM 1..): runs what VM 0 sends

# one connection: shell text up to a line __END__, run with this file's
# functions; its output, then "__RC__ <status>"; __QUIT__ stops the agent
agent_conn() {
	local line script
	script=$(mktemp /tmp/bench-cmd.XXXXXX)
	while IFS= read -r line; do
		[ "$line" = __END__ ] && break
		printf '%s\n' "$line" >>"$script"
	done
	if [ "$(cat "$script")" = __QUIT__ ]; then
		echo "__RC__ 0"
		rm -f "$script"
		kill "$PPID"
		return 0
	fi
	# shellcheck disable=SC1090
	. "$script" </dev/null 2>&1
	echo "__RC__ $?"
	rm -f "$script"
}

agent() {
	devices_up || { echo "bench devices failed"; return 1; }
	# busybox nc starts it with SIGCHLD ignored, which makes waitpid()
	# fail in fio and drbdmeta: env puts the default back
	printf '#!/bin/sh\nexec env --default-signal=CHLD bash -c ". %s --lib; agent_conn"\n' \
		"$SELF" >/tmp/bench-conn
	chmod +x /tmp/bench-conn
	echo "agent vm$GEOREP_VM_INDEX on $GEOREP_VM_ADDR:$BENCH_PORT"
	busybox nc -ll -p "$BENCH_PORT" -e /tmp/bench-conn
	devices_down
	return 0
}

# --- VM 0: the driver -------------------------------------------------------

# on I SHELL-TEXT: run it at VM I (here for 0); its output and status
on() {
	local i=$1 fd line rc=125 addrs=($GEOREP_VM_ADDRS)
	shift
	if [ "$i" = 0 ]; then
		eval "$*"
		return
	fi
	exec {fd}<>"/dev/tcp/${addrs[$i]}/$BENCH_PORT" || return 125
	printf '%s\n__END__\n' "$*" >&$fd
	while IFS= read -r line <&$fd; do
		if [[ $line == "__RC__ "* ]]; then
			rc=${line#__RC__ }
			break
		fi
		printf '%s\n' "$line"
	done
	exec {fd}<&-
	return "$rc"
}

# on_all N SHELL-TEXT: at VMs 0..N-1, in parallel; fails if one fails
on_all() {
	local n=$1 i pids=() rc=0
	shift
	for ((i = 0; i < n; i++)); do
		(set -o pipefail; on "$i" "$@" 2>&1 | sed "s/^/vm$i: /") &
		pids+=($!)
	done
	for ((i = 0; i < n; i++)); do
		wait "${pids[$i]}" || rc=1
	done
	return $rc
}

wait_agents() {
	local i t
	for ((i = 1; i < GEOREP_VM_COUNT; i++)); do
		for ((t = 0; t < 600; t++)); do
			on "$i" true >/dev/null 2>&1 && break
			sleep 0.2
		done
		on "$i" true || { echo "agent vm$i not reachable"; return 1; }
	done
}

scenario_raw() {
	run_jobs raw "$DATA"
}

# drbd PROTOCOL
scenario_drbd() {
	local addrs=($GEOREP_VM_ADDRS) rc=0
	on 1 "drbd_up $1 ${addrs[1]} ${addrs[0]}" &
	drbd_up "$1" "${addrs[0]}" "${addrs[1]}" || rc=1
	wait $! || rc=1
	[ $rc = 0 ] && { drbd_primary || rc=1; }
	[ $rc = 0 ] && { profiled 2 "drbd-$1" /dev/drbd0 0 qd1 qd16 seq \
		$([ "$1" = A ] && echo sust) || rc=1; }
	drbd_down
	on 1 drbd_down || rc=1
	return $rc
}

# georep SITES RULE TLS NAME [NOCKPT [VARIANT]]: VARIANT shipdurable or commitnl
scenario_georep() {
	local n=$1 rule=$2 seed sb keys pki i p='' t rc=0
	seed=$(gr_seed "$rule") || return 1
	read -r sb keys pki <<<"${seed##*SEED }"
	for ((i = 0; i < n; i++)); do
		on "$i" "gr_attach $((i + 1)) $rule $sb $keys $pki" || rc=1
	done
	[ $rc = 0 ] && { on_all "$n" "GR_VARIANT=${6:-} gr_start $n $rule $3 ${5:-no}" || rc=1; }
	if [ $rc = 0 ]; then
		t=$SECONDS
		while [ -z "$p" ] && [ $((SECONDS - t)) -lt 120 ]; do
			for ((i = 0; i < n; i++)); do
				on "$i" gr_is_primary && { p=$i; break; }
			done
			[ -z "$p" ] && sleep 0.2
		done
		if [ -n "$p" ]; then
			echo "georep: primary vm$p after $((SECONDS - t)) s"
			profiled "$n" "$4" /dev/georep/vol0 "$p" qd1 || rc=1
			# inside the QD1 job's commit stage, from every site
			on_all "$n" "gr_stages $4 qd1"
			profiled "$n" "$4" /dev/georep/vol0 "$p" qd16 seq \
				$([ "$rule" = local ] && echo sust) || rc=1
		else
			echo "georep: no primary elected"
			rc=1
		fi
	fi
	# a failed scenario: what the daemons said, and the kernel and memory
	[ $rc = 0 ] || on_all "$n" gr_failed
	on_all "$n" gr_appends
	on_all "$n" gr_stop || rc=1
	return $rc
}

run_scenario() {
	case $1 in
	raw) scenario_raw ;;
	drbd-C|drbd-A) scenario_drbd "${1#drbd-}" ;;
	georep-quorum-[23]|georep-local-[23]|georep-quorum-[23]-tls|georep-local-[23]-tls|\
	georep-quorum-[23]-tls-nockpt|georep-quorum-[23]-shipdurable|\
	georep-quorum-[23]-tls-shipdurable|georep-quorum-[23]-commitnl)
		local name=$1 tls=no nockpt=no variant=
		[[ $name == *-tls* ]] && tls=yes
		[[ $name == *-nockpt ]] && nockpt=yes
		[[ $name == *-shipdurable ]] && variant=shipdurable
		[[ $name == *-commitnl ]] && variant=commitnl
		set -- ${name//-/ }
		[ "$3" -le "$GEOREP_VM_COUNT" ] || { echo "needs $3 VMs"; return 1; }
		scenario_georep "$3" "$2" "$tls" "$name" "$nockpt" "$variant" ;;
	*) echo "unknown scenario $1"; return 1 ;;
	esac
}

driver() {
	local d s i rc=0 addrs=($GEOREP_VM_ADDRS)

	devices_up || { echo "bench devices failed"; return 1; }
	wait_agents || return 1
	if [[ " $SCENARIOS " == *" raw "* ]]; then
		echo "BENCH-SCENARIO raw"
		scenario_raw || { echo "BENCH-FAILED raw"; rc=1; }
	fi
	for d in $DELAYS; do
		on_all "$GEOREP_VM_COUNT" "netem $d" || { rc=1; continue; }
		echo "BENCH-DELAY $d"
		for ((i = 1; i < GEOREP_VM_COUNT; i++)); do
			echo "BENCH-PING $d vm$i $(ping -c 5 "${addrs[$i]}" | tail -n1)"
		done
		for s in $SCENARIOS; do
			[ "$s" = raw ] && continue
			echo "BENCH-SCENARIO $s $(date +%T)"
			run_scenario "$s" || { echo "BENCH-FAILED $s"; rc=1; }
		done
	done
	for ((i = 1; i < GEOREP_VM_COUNT; i++)); do
		on "$i" __QUIT__ >/dev/null
	done
	devices_down
	return $rc
}

# --- host -----------------------------------------------------------------

report() {		# report LOG: one table per delay, from the fio JSON in LOG
	python3 - "$1" <<'EOF'
import json, sys

runs = {}
order = {}
failed = set()
errors = set()
pings = {}
delay = None
cur = None
buf = []
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\r\n")
    if line.startswith("BENCH-DELAY "):
        delay = line.split()[1]
        order.setdefault(delay, [])
    elif line.startswith("BENCH-PING "):
        f = line.split(None, 3)
        pings.setdefault(f[1], []).append(f"{f[2]}: {f[3] if len(f) > 3 else '?'}")
    elif line.startswith("BENCH-SCENARIO "):
        s = line.split()[1]
        if s == "raw":
            raw_delay = delay
        order.setdefault(delay, []).append(s)
    elif line.startswith("BENCH-FAILED "):
        failed.add((delay, line.split()[1]))
    elif line.startswith("BENCH-JSON-BEGIN "):
        cur = (delay,) + tuple(line.split()[1:3])
        buf = []
    elif line.startswith("BENCH-JSON-END ") and cur:
        if line.split()[3:4] != ["0"]:
            errors.add(cur)
        try:
            j = json.loads("\n".join(buf))
            w = j["jobs"][0]["write"]
            pct = w["lat_ns"].get("percentile", {})
            runs[cur] = {
                "iops": w["iops"],
                "mbs": w["bw_bytes"] / 1e6,
                "p50": pct.get("50.000000", 0) / 1e6,
                "p99": pct.get("99.000000", 0) / 1e6,
            }
        except (ValueError, KeyError, IndexError) as e:
            print(f"# {cur}: no usable fio output ({e})")
        cur = None
    elif cur and (buf or line.startswith("{")) and not line.startswith("BENCH-"):
        # fio's JSON, from its first "{" (messages on stderr come first;
        # the sust job's sampler may print between its lines)
        buf.append(line)

cols = [("qd1", "iops", "4k QD1 IOPS", "{:.0f}", 1),
        ("qd1", "p50", "QD1 p50 ms", "{:.2f}", -1),
        ("qd1", "p99", "QD1 p99 ms", "{:.2f}", -1),
        ("qd16", "iops", "4k QD16 IOPS", "{:.0f}", 1),
        ("seq", "mbs", "1M seq MB/s", "{:.1f}", 1),
        ("sust", "mbs", "1M sust MB/s", "{:.1f}", 1)]
pairs = [("georep-quorum-2", "drbd-C"), ("georep-quorum-3", "drbd-C"),
         ("georep-local-2", "drbd-A"), ("georep-local-3", "drbd-A"),
         ("georep-quorum-2-tls", "georep-quorum-2"), ("georep-local-2-tls", "georep-local-2"),
         ("georep-quorum-2-tls", "georep-quorum-2-tls-nockpt"),
         ("georep-quorum-3-tls", "georep-quorum-3-tls-nockpt")]

def key(d, s, c):
    return (d, s, c[0]) if (d, s, c[0]) in runs or s != "raw" else (None, s, c[0])

def get(d, s, c):
    r = runs.get(key(d, s, c))
    return r[c[1]] if r else None

def mark(d, s, c):
    return " !" if key(d, s, c) in errors else ""

def table(rows):
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("| " + " | ".join(x.rjust(w[i]) if i else x.ljust(w[i]) for i, x in enumerate(r)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (n + 2) for n in w) + "|")

for d in [d for d in order if d is not None]:
    print()
    print(f"## one-way delay {d} ms on every link between the VMs")
    for p in pings.get(d, []):
        print(f"# ping vm0 -> {p}")
    names = ["raw"] + order[d]
    rows = [["scenario"] + [c[2] for c in cols]]
    for s in names:
        cells = []
        for c in cols:
            v = get(d, s, c)
            cells.append(c[3].format(v) + mark(d, s, c) if v is not None else "-")
        rows.append([s + (" (failed)" if (d, s) in failed else "")] + cells)
    table(rows)
    print()
    # IOPS and MB/s: georep / DRBD (above 1: georep faster);
    # latency: how many times DRBD's (below 1: georep faster)
    rows = [["ratio"] + [c[2].replace("IOPS", "IOPS ratio").replace(" ms", " x") for c in cols]]
    for g, b in pairs:
        if g not in order[d] or b not in order[d]:
            continue
        cells = []
        for c in cols:
            a, r = get(d, g, c), get(d, b, c)
            cells.append("{:.2f}".format(a / r) + (mark(d, g, c) or mark(d, b, c))
                         if a is not None and r else "-")
        rows.append([f"{g} / {b}"] + cells)
    if len(rows) > 1:
        table(rows)
if errors:
    print()
    print("# !: fio reported an error in that job (the number covers the job until it stopped)")
EOF
}

host() {
	local top dir log rc only='' guest_args

	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	while [ $# -gt 0 ]; do
		case $1 in
		--runtime) RUNTIME=$2; shift 2 ;;
		--delays) DELAYS=$2; shift 2 ;;
		--smp) SMP=$2; shift 2 ;;
		--profile) PROFILE=1; shift ;;
		--report) report "$2"; return ;;
		--only) shift; only="$*"; break ;;
		*) echo "usage: sites.sh [--runtime SEC] [--delays \"0 5\"] [--smp N] [--profile] [--only SCENARIO...] | --report LOG" >&2
		   exit 2 ;;
		esac
	done
	dir=$top/build/bench
	mkdir -p "$dir"
	log=$dir/sites-$(date -u +%Y%m%dT%H%M%SZ).log
	echo "# bench/sites: 3 VMs (-smp $SMP), runtime ${RUNTIME}s per job, delays ${DELAYS// /,} ms, log in $log"
	guest_args="--guest $RUNTIME ${DELAYS// /,} $PROFILE $only"
	# --profile: perf in the VMs' initramfs (selftests/vm/mkinitramfs.sh)
	[ "$PROFILE" = 1 ] && export GEOREP_VM_PERF=1
	"$top/selftests/vm/multi" --vms 3 --mem 2048 --smp "$SMP" --timeout 2400 \
		--log-dir "$dir/sites-consoles" -- \
		"selftests/bench/sites.sh $guest_args" >"$log" 2>&1
	rc=$?
	grep -E '^(BENCH-FAILED|BENCH-PING|georep:|vm/multi:)' "$log" | sed 's/^/# /'
	report "$log"
	python3 "$top/selftests/lib/bench_lat.py" "$log"
	if [ "$PROFILE" = 1 ]; then
		echo
		echo "# CPU profiles (perf, cpu-clock at 497 Hz, every VM of the scenario, per job):"
		grep -aE '^(vm[0-9]: )?BENCH-PROF' "$log" | sed -E 's/^(vm[0-9]: )?BENCH-/# /'
	fi
	echo
	echo "# numbers from one run; ratios georep / DRBD of that run (Documentation/bench.rst)"
	return $rc
}

case ${1:-} in
--lib)
	;;
--guest)
	RUNTIME=$2
	DELAYS=${3//,/ }
	PROFILE=$4
	shift 4
	[ $# -gt 0 ] && SCENARIOS="$*"
	GEOREP=${GEOREP:-/georep}
	if [ "${GEOREP_VM_INDEX:-0}" = 0 ]; then
		driver
	else
		agent
	fi
	;;
*)
	set -u
	host "$@"
	;;
esac
