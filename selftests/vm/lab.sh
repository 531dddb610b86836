# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# A host-driven lab of several VMs (sourced by a host-side scenario, bash):
# one VM per site, each with its own persistent disks, a command channel
# from the host, and links that survive a VM's restart, so that a scenario
# can SIGKILL one VM's qemu (a power cut of that site) and boot it again on
# the same disks. See "Host-driven lab and whole-site power cuts" in
# Documentation/vm-lab.rst.
#
#   lab_init N DIR [DISK:MiB...]
#                      N VMs (2..9); DIR holds the consoles, the link
#                      sockets, the command FIFOs and the disk images
#                      DIR/disks/vm<i>-<DISK>.img (made fresh here, sparse;
#                      the guest sees /dev/disk/georep/<DISK>)
#   lab_boot I [AGENT-FILE...]
#                      start VM I's qemu (again), wait for its agent
#                      (selftests/vm/agent, which sources AGENT-FILEs, paths
#                      inside the guest); $LAB_BOOT_TIMEOUT s (default 300);
#                      lab_start and lab_wait are its two halves (boot
#                      several VMs in parallel)
#   lab_kill I         SIGKILL VM I's qemu: a power cut
#   lab_on I CMD [SEC] run CMD (bash text) in VM I, print its output, return
#                      its status; 124 when no answer came within SEC
#                      (default $LAB_CMD_TIMEOUT, 300)
#   lab_alive I        VM I's qemu runs
#   lab_kernel_problems
#                      print the console lines of every boot of every VM
#                      that report a WARN, BUG, Oops or hung task; status 1
#                      when there is one
#   lab_watchdog SEC   after SEC s, kill every qemu of the lab and mark
#                      the run timed out: lab_timed_out is true from then
#                      on and lab_on fails at once (124), so the scenario
#                      runs to its end quickly and reports it. No signal is
#                      sent to the calling shell (bash 5.2 can crash when a
#                      trap interrupts "read -t")
#   lab_cleanup        kill every qemu and the watchdog (the caller's EXIT
#                      trap), drop the run's link to the initramfs
#
# Consoles: DIR/vm<i>.console (every boot of VM I, appended; the kernel
# prints warnings, loglevel=5), qemu's errors in DIR/vm<i>.qemu.err.

LAB_SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TOP=$(cd "$LAB_SELF_DIR/../.." && pwd)
VM_BUILD=${VM_BUILD:-$LAB_TOP/build/vm}
# KVER, QEMU, QEMU_BIOS, vm_append, vm_qemu_args, vm_link_args
. "$LAB_SELF_DIR/lib.sh"

LAB_MEM=${LAB_MEM:-1024}
LAB_SMP=${LAB_SMP:-1}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-300}
LAB_CMD_TIMEOUT=${LAB_CMD_TIMEOUT:-300}
# what a console line must not say (as selftests/kmod/run_tests.sh's BAD_KMSG)
LAB_BAD_KMSG='BUG:|WARNING:|Oops|general protection fault|Kernel panic|kernel BUG|Call Trace:|UBSAN:|refcount_t:|INFO: task .* blocked|blocked for more than'
LAB_N=0
LAB_DIR=
LAB_DISKS=()
LAB_PIDS=()
LAB_T0=()
LAB_IN=()
LAB_PART=()
LAB_OUT=()
LAB_SEQ=0
LAB_MARKER=
LAB_WATCHDOG=

lab_die() {
	echo "vm/lab: $*" >&2
	return 1
}

lab_init() {
	local n=$1 d i addrs=""
	LAB_DIR=$2
	shift 2
	[[ $n =~ ^[2-9]$ ]] || { lab_die "lab_init: 2..9 VMs, got '$n'"; return 1; }
	LAB_N=$n
	LAB_DISKS=("$@")
	for d in "${LAB_DISKS[@]}"; do
		[[ $d =~ ^[A-Za-z0-9_-]{1,20}:[0-9]+$ ]] ||
			{ lab_die "lab_init: disk NAME:MiB, got '$d'"; return 1; }
	done
	command -v "$QEMU" >/dev/null || { lab_die "$QEMU not found (make deps)"; return 1; }
	mkdir -p "$LAB_DIR/disks" || return 1
	"$LAB_SELF_DIR/mkinitramfs.sh" --link "$LAB_DIR/initrd.cpio" ||
		{ lab_die "initramfs build failed"; return 1; }
	LAB_MARKER="GEOREP-VM-EXIT-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
	echo "$LAB_MARKER" >"$LAB_DIR/marker"
	for ((i = 0; i < n; i++)); do
		addrs+="${addrs:+ }10.55.0.$((i + 1))"
	done
	for ((i = 0; i < n; i++)); do
		printf 'GEOREP_VM_INDEX=%d\nGEOREP_VM_COUNT=%d\nGEOREP_VM_ADDRS="%s"\n' \
			"$i" "$n" "$addrs" >"$LAB_DIR/env$i"
		for d in "${LAB_DISKS[@]}"; do
			rm -f "$LAB_DIR/disks/vm$i-${d%%:*}.img"
			truncate -s "${d#*:}M" "$LAB_DIR/disks/vm$i-${d%%:*}.img" || return 1
		done
		: >"$LAB_DIR/vm$i.console"
		: >"$LAB_DIR/vm$i.qemu.err"
		LAB_PIDS[i]=
	done
}

# lab_fifos I: the command channel of VM I, qemu's "-chardev pipe"
# (DIR/ctl<i>.in, what the guest reads; DIR/ctl<i>.out, what it writes),
# held open read-write by this shell so that neither side ever blocks on
# open or sees EOF when the other restarts. Whatever a killed VM left in
# them is discarded.
lab_fifos() {
	local i=$1 f fd
	for f in in out; do
		[ -p "$LAB_DIR/ctl$i.$f" ] || mkfifo "$LAB_DIR/ctl$i.$f" || return 1
	done
	if [ -z "${LAB_IN[$i]:-}" ]; then
		exec {fd}<>"$LAB_DIR/ctl$i.in" || return 1
		LAB_IN[i]=$fd
		exec {fd}<>"$LAB_DIR/ctl$i.out" || return 1
		LAB_OUT[i]=$fd
	fi
	for fd in "${LAB_IN[$i]}" "${LAB_OUT[$i]}"; do
		while IFS= read -r -t 0.05 _ <&"$fd"; do :; done
	done
	LAB_PART[i]=
}

# lab_readln I: the next line from VM I's command channel into $LAB_LINE,
# waiting 1 s at most; status 1 when no whole line came. When "read -t"
# times out it returns what it read of a line: that start is kept here
# and joined to the rest. Dropping it cut lines that arrived across the
# timeout: a ready line without its "G" or with only "ady", and, in the
# CI of ddf988e, the power-cut lab's 20 KB seed line, whose superblock
# then arrived without its start.
lab_readln() {
	local part
	if IFS= read -r -t 1 part <&"${LAB_OUT[$1]}"; then
		LAB_LINE=${LAB_PART[$1]:-}$part
		LAB_PART[$1]=
		return 0
	fi
	LAB_PART[$1]+=$part
	return 1
}

lab_alive() {
	[ -n "${LAB_PIDS[$1]:-}" ] && kill -0 "${LAB_PIDS[$1]}" 2>/dev/null
}

# lab_start I [AGENT-FILE...]: start VM I's qemu; lab_wait I: wait for its
# agent (start several, then wait for each: they boot in parallel)
lab_start() {
	local i=$1 d disk_args=() slot=16 files=""
	shift
	lab_alive "$i" && { lab_die "lab_start: vm$i runs"; return 1; }
	lab_fifos "$i" || return 1
	[ $# = 0 ] || files=$(printf ' %q' "$@")
	echo "selftests/vm/agent$files" >"$LAB_DIR/cmd$i"
	for d in "${LAB_DISKS[@]}"; do
		d=${d%%:*}
		disk_args+=(-drive "file=$LAB_DIR/disks/vm$i-$d.img,format=raw,if=none,id=d$d,cache=none,aio=threads"
			    -device "virtio-blk-pci,drive=d$d,serial=$d,addr=$(printf '0x%x' "$slot")")
		slot=$((slot + 1))
	done
	vm_qemu_args "$LAB_SMP" "$LAB_MEM" "$LAB_DIR/initrd.cpio" "$(vm_append 0)" \
		"$LAB_DIR/cmd$i" "$LAB_DIR/marker"
	vm_link_args "$i" "$LAB_N" "$LAB_DIR"
	echo "==== vm/lab: boot of vm$i at $(date -u +%T) ====" >>"$LAB_DIR/vm$i.console"
	"$QEMU" "${VM_QEMU_ARGS[@]}" -fw_cfg "name=opt/georep/env,file=$LAB_DIR/env$i" \
		"${VM_LINK_ARGS[@]}" "${disk_args[@]}" \
		-chardev "pipe,id=ctl,path=$LAB_DIR/ctl$i" -device isa-serial,chardev=ctl \
		</dev/null >>"$LAB_DIR/vm$i.console" 2>>"$LAB_DIR/vm$i.qemu.err" &
	LAB_PIDS[i]=$!
	echo "$!" >"$LAB_DIR/vm$i.pid"
	LAB_T0[i]=$SECONDS
}

# The ready line once arrived without its first bytes in a CI run
# ("EOREP-VM-EXIT-<hex> ready") and the lab waited for good; a soak run
# once got only "ady". Both were the lab's read dropping what it had of a
# line at its 1 s timeout (lab_readln keeps it now). The lab still takes a
# damaged ready line: the marker's random part proves it is the agent's
# line, and it is logged as damaged. A line that ends like the ready line
# but without the marker makes the lab ask the agent (a command, "true"),
# and its answer, which carries the marker, stands for the ready line.
lab_wait() {
	local i=$1 line probe=
	while [ $((SECONDS - LAB_T0[i])) -lt "$LAB_BOOT_TIMEOUT" ]; do
		if lab_readln "$i"; then
			line=${LAB_LINE%$'\r'}
			[ "$line" = "$LAB_MARKER ready" ] && return 0
			if [[ $line == *"${LAB_MARKER##*-} ready" ]]; then
				printf 'vm%d: ready line arrived damaged: "%s"\n' "$i" "$line"
				return 0
			fi
			if [ -n "$probe" ] && [[ $line == "$LAB_MARKER $probe "* ]]; then
				printf 'vm%d: the agent answered\n' "$i"
				return 0
			fi
			if [ -z "$probe" ] && [[ $line == *ady ]]; then
				printf 'vm%d: "%s" may be the ready line, damaged: asking the agent\n' \
					"$i" "$line"
				LAB_SEQ=$((LAB_SEQ + 1))
				probe=$LAB_SEQ
				printf '%s %s\n' "$probe" "$(printf true | base64 -w0)" \
					>&"${LAB_IN[$i]}"
				continue
			fi
			[ -n "$line" ] && printf 'vm%d: %s\n' "$i" "$line"
		fi
		lab_alive "$i" || break
	done
	lab_alive "$i" || sed "s/^/vm\/lab: vm$i: qemu: /" "$LAB_DIR/vm$i.qemu.err" >&2
	tail -n 20 "$LAB_DIR/vm$i.console" | tr -d '\r' | sed "s/^/vm\/lab: vm$i: /" >&2
	lab_die "vm$i: no agent $((SECONDS - LAB_T0[i])) s after its start"
	lab_kill "$i"
	return 1
}

lab_boot() {
	lab_start "$@" && lab_wait "$1"
}

lab_kill() {
	local p=${LAB_PIDS[$1]:-}
	[ -n "$p" ] || return 0
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	LAB_PIDS[$1]=
	echo "==== vm/lab: vm$1 killed (SIGKILL) at $(date -u +%T) ====" >>"$LAB_DIR/vm$1.console"
}

lab_on() {
	local i=$1 cmd=$2 sec=${3:-$LAB_CMD_TIMEOUT} id line end
	lab_timed_out && return 124
	lab_alive "$i" || { lab_die "lab_on: vm$i is not running"; return 125; }
	LAB_SEQ=$((LAB_SEQ + 1))
	id=$LAB_SEQ
	printf '%s %s\n' "$id" "$(printf '%s' "$cmd" | base64 -w0)" >&"${LAB_IN[$i]}"
	end=$((SECONDS + sec))
	while [ $SECONDS -lt $end ]; do
		if ! lab_readln "$i"; then
			lab_alive "$i" || { lab_die "vm$i died during: $cmd"; return 125; }
			continue
		fi
		line=$LAB_LINE
		case $line in
		"$LAB_MARKER $id "*) return "${line##* }" ;;
		"$LAB_MARKER "*|"") ;;
		*) printf '%s\n' "$line" ;;
		esac
	done
	lab_die "vm$i: no answer in $sec s to: $cmd"
	return 124
}

lab_kernel_problems() {
	local i ret=0
	for ((i = 0; i < LAB_N; i++)); do
		if tr -d '\r' <"$LAB_DIR/vm$i.console" | grep -E "$LAB_BAD_KMSG" |
			sed "s/^/vm$i: /" | grep .; then
			ret=1
		fi
	done
	return $ret
}

lab_timed_out() { [ -n "$LAB_DIR" ] && [ -e "$LAB_DIR/timed-out" ]; }

lab_watchdog() {
	local sec=$1
	rm -f "$LAB_DIR/timed-out"
	(
		trap 'kill $sp 2>/dev/null; exit 0' TERM
		sleep "$sec" &
		sp=$!
		wait $sp || exit 0
		echo "watchdog: ${sec} s are over, every qemu killed" >"$LAB_DIR/timed-out"
		for f in "$LAB_DIR"/vm[0-9].pid; do
			p=$(cat "$f" 2>/dev/null) || continue
			# only a qemu of this lab (the pid may have been reused)
			grep -qF "$LAB_DIR/" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
		done
	) &
	LAB_WATCHDOG=$!
}

lab_cleanup() {
	local i
	if [ -n "$LAB_WATCHDOG" ]; then
		kill "$LAB_WATCHDOG" 2>/dev/null
		wait "$LAB_WATCHDOG" 2>/dev/null
		LAB_WATCHDOG=
	fi
	for ((i = 0; i < LAB_N; i++)); do
		lab_kill "$i"
	done
	# this run's link to the initramfs (it would keep a replaced one alive)
	[ -n "$LAB_DIR" ] && rm -f "$LAB_DIR/initrd.cpio"
}
